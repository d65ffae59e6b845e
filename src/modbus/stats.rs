//! Poll outcomes per device, shared between the pollers and whoever reports on them (the
//! gateway's status message). Counting lives here, next to the poller, so that the
//! service and the gateway count the same way.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::metrics::Histogram;

/// What happened to one device's polls since the process started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceCounters {
    /// The device class: `sunspec` or the vendor profile's name.
    #[serde(default)]
    pub class: String,
    pub polls_ok: u64,
    /// Failed polls, including connection attempts that failed while the device was due.
    pub poll_failures: u64,
    /// Failures since the last good poll (0 = the device answers).
    pub consecutive_failures: u64,
    pub last_ok: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// Counters of every polled device, by device code.
#[derive(Debug, Default)]
pub struct PollStats {
    devices: Mutex<BTreeMap<String, DeviceCounters>>,
    /// Durations of good polls, by device class.
    latency: Mutex<BTreeMap<String, Histogram>>,
}

impl PollStats {
    /// Registers `device` of `class` with zero counts, so a device that never answered
    /// still shows.
    pub fn register(&self, device: &str, class: &str) {
        self.lock().entry(device.to_owned()).or_default().class = class.to_owned();
    }

    /// Drops `device` (another process polls it now).
    pub fn forget(&self, device: &str) {
        self.lock().remove(device);
    }

    /// A good poll of `device` at `at` that took `took`.
    pub fn ok(&self, device: &str, at: DateTime<Utc>, took: std::time::Duration) {
        let class = {
            let mut all = self.lock();
            let c = all.entry(device.to_owned()).or_default();
            c.polls_ok += 1;
            c.consecutive_failures = 0;
            c.last_ok = Some(at);
            c.class.clone()
        };
        self.latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(class)
            .or_default()
            .observe(took.as_secs_f64());
    }

    /// Poll durations by device class.
    pub fn latency(&self) -> BTreeMap<String, Histogram> {
        self.latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A failed poll of `device`.
    pub fn failed(&self, device: &str, error: &str) {
        let mut all = self.lock();
        let c = all.entry(device.to_owned()).or_default();
        c.poll_failures += 1;
        c.consecutive_failures += 1;
        if c.last_error.as_deref() != Some(error) {
            c.last_error = Some(error.to_owned());
        }
    }

    /// A copy of every device's counters.
    pub fn snapshot(&self) -> BTreeMap<String, DeviceCounters> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, DeviceCounters>> {
        // A panic while holding the lock leaves plain counters behind: still usable.
        self.devices.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_poll_clears_the_consecutive_failures_but_keeps_the_total() {
        let stats = PollStats::default();
        stats.failed("INV-1", "timeout");
        stats.failed("INV-1", "timeout");
        stats.ok("INV-1", Utc::now(), std::time::Duration::from_millis(40));
        let c = &stats.snapshot()["INV-1"];
        assert_eq!(
            (c.polls_ok, c.poll_failures, c.consecutive_failures),
            (1, 2, 0)
        );
        assert_eq!(c.last_error.as_deref(), Some("timeout"));
    }
}
