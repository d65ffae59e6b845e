//! The gateway's status message on `{prefix}/{gateway}/status` (JSON, QoS 1, retained),
//! and the reporting task that publishes it.
//!
//! The message is one type, [`GatewayStatus`], serialised by the gateway and parsed by the
//! service, so both ends agree on the fields. The service keeps the latest per gateway
//! (table `gateway_status`) with the figures an alert needs as columns: when it was
//! received (silence), outbox depth and oldest unsent reading (backlog), clock skew.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use super::clock::Clock;
use super::forwarder::LinkStats;
use super::outbox::Outbox;
use crate::modbus::stats::{DeviceCounters, PollStats};

/// One status message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayStatus {
    pub gateway: String,
    /// pvledger version of the gateway.
    pub version: String,
    pub sent_at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub outbox: OutboxStatus,
    /// Gateway clock minus service clock (None: not checked, or never succeeded).
    pub clock_skew_ms: Option<i64>,
    pub clock_checked_at: Option<DateTime<Utc>>,
    /// Per device: good polls, failed polls, failures in a row, last good poll, last error.
    pub devices: BTreeMap<String, DeviceCounters>,
    /// Readings acknowledged by the broker since start, and reconnections.
    pub acked_readings: u64,
    pub reconnects: u64,
}

/// The outbox part of the status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutboxStatus {
    pub depth: u64,
    pub max_readings: u64,
    pub oldest_unsent: Option<DateTime<Utc>>,
    pub appended_total: u64,
    /// Readings removed by thinning because the outbox was full (never silently).
    pub thinned_raw_total: u64,
    pub thinned_hourly_total: u64,
    pub last_thinned_at: Option<DateTime<Utc>>,
}

impl GatewayStatus {
    /// Poll failures summed over devices.
    pub fn poll_failures(&self) -> u64 {
        // Saturating: a status message is input from the network, and `sum` panics on
        // overflow in debug builds.
        self.devices
            .values()
            .fold(0, |sum: u64, d| sum.saturating_add(d.poll_failures))
    }
}

/// What the reporter reads to build a message.
pub struct Sources {
    pub gateway: String,
    pub started_at: DateTime<Utc>,
    pub outbox: Arc<Outbox>,
    pub polls: Arc<PollStats>,
    pub clock: Arc<Clock>,
    pub link: Arc<LinkStats>,
}

impl Sources {
    /// The status now.
    pub async fn build(&self) -> Result<GatewayStatus, super::outbox::OutboxError> {
        let s = self.outbox.summary().await?;
        let clock = self.clock.report();
        let (acked_readings, reconnects) = self.link.totals();
        Ok(GatewayStatus {
            gateway: self.gateway.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            sent_at: Utc::now(),
            started_at: self.started_at,
            outbox: OutboxStatus {
                depth: s.depth,
                max_readings: s.max_readings,
                oldest_unsent: s.oldest_unsent,
                appended_total: s.appended_total,
                thinned_raw_total: s.thinned_raw_total,
                thinned_hourly_total: s.thinned_hourly_total,
                last_thinned_at: s.last_thinned_at,
            },
            clock_skew_ms: clock.skew_ms,
            clock_checked_at: clock.checked_at,
            devices: self.polls.snapshot(),
            acked_readings,
            reconnects,
        })
    }
}

/// Builds a status every `interval`, and at once when `urgent` is notified (a thinning),
/// and hands it to the forwarder. Only the newest matters: a message that finds the
/// channel full is dropped (the next one carries the same counters, updated).
pub async fn run(
    sources: Sources,
    interval: Duration,
    urgent: Arc<Notify>,
    out: mpsc::Sender<GatewayStatus>,
    shutdown: CancellationToken,
) {
    loop {
        match sources.build().await {
            Ok(status) => {
                let _ = out.try_send(status);
            }
            Err(e) => tracing::error!(error = %e, "cannot read the outbox for the status"),
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = urgent.notified() => {}
            () = shutdown.cancelled() => return,
        }
    }
}
