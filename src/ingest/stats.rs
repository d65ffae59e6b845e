//! Counters of accepted and refused readings, and a log throttle so that a misbehaving
//! gateway cannot flood the log (at most one line per gateway per minute).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::payload::RejectReason;
use crate::metrics::Histogram;

const LOG_EVERY: Duration = Duration::from_secs(60);

/// Shared ingest counters.
#[derive(Default)]
pub struct Stats {
    accepted: AtomicU64,
    /// Committed writer batches: their durations, and the readings they held.
    batches: Mutex<Histogram>,
    batch_rows: AtomicU64,
    /// Batches committed with their rollups left for a later batch (a backlog).
    deferred_batches: AtomicU64,
    refused: Mutex<HashMap<RejectReason, u64>>,
    last_logged: Mutex<HashMap<String, Instant>>,
}

/// A copy of the counters, for /metrics and tests.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub accepted: u64,
    pub refused: Vec<(RejectReason, u64)>,
}

impl Stats {
    pub fn accepted(&self, n: usize) {
        self.accepted.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// A committed batch of `rows` readings that took `seconds` (retries included).
    pub fn batch(&self, rows: usize, seconds: f64) {
        self.batch_rows.fetch_add(rows as u64, Ordering::Relaxed);
        self.batches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .observe(seconds);
    }

    /// A committed batch left its rollups for a later batch.
    pub fn deferred(&self) {
        self.deferred_batches.fetch_add(1, Ordering::Relaxed);
    }

    /// Batches committed with their rollups deferred.
    pub fn deferred_batches(&self) -> u64 {
        self.deferred_batches.load(Ordering::Relaxed)
    }

    /// Durations of committed batches.
    pub fn batch_latency(&self) -> Histogram {
        self.batches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Readings in committed batches (resends included).
    pub fn batch_rows(&self) -> u64 {
        self.batch_rows.load(Ordering::Relaxed)
    }

    pub fn refused(&self, reason: RejectReason) {
        *self
            .refused
            .lock()
            .expect("stats lock")
            .entry(reason)
            .or_default() += 1;
    }

    /// True when a refusal from `gateway` may be logged now (and starts its quiet minute).
    pub fn may_log(&self, gateway: &str) -> bool {
        let mut last = self.last_logged.lock().expect("stats lock");
        let now = Instant::now();
        match last.get(gateway) {
            Some(t) if now.duration_since(*t) < LOG_EVERY => false,
            _ => {
                last.insert(gateway.to_owned(), now);
                true
            }
        }
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let refused = self.refused.lock().expect("stats lock");
        StatsSnapshot {
            accepted: self.accepted.load(Ordering::Relaxed),
            refused: RejectReason::ALL
                .iter()
                .map(|r| (*r, refused.get(r).copied().unwrap_or(0)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gateway_is_logged_once_a_minute() {
        let s = Stats::default();
        assert!(s.may_log("GW-1"));
        assert!(!s.may_log("GW-1"));
        assert!(s.may_log("GW-2"));
    }

    #[test]
    fn refusals_are_counted_per_reason() {
        let s = Stats::default();
        s.refused(RejectReason::UnknownDevice);
        s.refused(RejectReason::UnknownDevice);
        let snap = s.snapshot();
        assert!(snap.refused.contains(&(RejectReason::UnknownDevice, 2)));
        assert!(snap.refused.contains(&(RejectReason::Unparseable, 0)));
    }
}
