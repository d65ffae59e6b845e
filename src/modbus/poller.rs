//! The Modbus pollers: one task per connection, feeding readings into a bounded channel.
//!
//! Why one task per `host:port`: many devices accept one Modbus TCP client only (Huawei,
//! SolarEdge), and several RS-485 inverters behind one DTU share its single TCP port, so
//! the units behind one endpoint are read one request at a time over one owned
//! connection. Separate endpoints never share anything, so a dead or slow device delays
//! only the units behind its own endpoint (telegraf#11782 lost every device to one).
//!
//! Each connection task loops: connect (with timeout), wait the pause the logger needs,
//! poll whichever device is due, send its [`DeviceReading`] with `send().await` (a full
//! channel slows polling instead of growing memory), sleep until the next due time. A
//! timeout, transport error or mismatched answer drops the connection and reconnects with
//! exponential backoff and jitter; SunSpec devices are discovered again afterwards.
//! Polls start on a fixed grid (`interval` apart, skipping missed slots), so a slow poll
//! does not shift every later one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use super::device::DevicePoller;
use super::link::Link;
use super::stats::PollStats;
use super::target::PollTarget;
use crate::reading::DeviceReading;

/// Starts one task per distinct `host:port` of `targets`; they run until `shutdown`.
///
/// Targets with the same endpoint (units behind one gateway) share a task and a
/// connection. Must be called inside a tokio runtime.
pub fn spawn_pollers(
    targets: Vec<PollTarget>,
    sink: mpsc::Sender<DeviceReading>,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
    spawn_pollers_with_stats(targets, sink, Arc::default(), shutdown)
}

/// [`spawn_pollers`] that also counts each device's good and failed polls in `stats`.
pub fn spawn_pollers_with_stats(
    targets: Vec<PollTarget>,
    sink: mpsc::Sender<DeviceReading>,
    stats: Arc<PollStats>,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
    group_by_endpoint(targets)
        .into_values()
        .map(|group| spawn_connection(group, sink.clone(), stats.clone(), shutdown.clone()))
        .collect()
}

/// Starts the task of one endpoint: `group` are the targets behind one `host:port` (one
/// value of [`group_by_endpoint`]). It runs until `shutdown`; cancelling that token stops
/// this endpoint alone (how the lease keeper hands an endpoint to another process).
pub fn spawn_connection(
    group: Vec<PollTarget>,
    sink: mpsc::Sender<DeviceReading>,
    stats: Arc<PollStats>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    for t in &group {
        stats.register(&t.device_code, t.profile.name());
    }
    let connection = Connection::new(group, stats);
    tokio::spawn(connection.run(sink, shutdown))
}

/// Targets grouped by `host:port`, in a stable order.
pub fn group_by_endpoint(targets: Vec<PollTarget>) -> BTreeMap<String, Vec<PollTarget>> {
    let mut groups: BTreeMap<String, Vec<PollTarget>> = BTreeMap::new();
    for target in targets {
        groups.entry(target.endpoint()).or_default().push(target);
    }
    groups
}

/// The next start on a fixed grid: `due + k·interval`, the first one after `now`.
pub fn next_slot(due: Instant, interval: Duration, now: Instant) -> Instant {
    let interval = interval.max(Duration::from_millis(1));
    if now < due + interval {
        return due + interval;
    }
    let behind = now.duration_since(due).as_nanos() / interval.as_nanos();
    let slots = u32::try_from(behind + 1).unwrap_or(u32::MAX);
    due + interval * slots
}

struct Scheduled {
    poller: DevicePoller,
    due: Instant,
    /// The last poll error logged at warn, so a repeating one is not logged every poll.
    last_error: Option<String>,
}

/// One endpoint's devices and its connection state.
struct Connection {
    host: String,
    port: u16,
    endpoint: String,
    devices: Vec<Scheduled>,
    connect_timeout: Duration,
    pause_after_connect: Duration,
    backoff: Backoff,
    down_since: Option<Instant>,
    stats: Arc<PollStats>,
}

impl Connection {
    fn new(group: Vec<PollTarget>, stats: Arc<PollStats>) -> Self {
        let first = &group[0];
        let (host, port, endpoint) = (first.host.clone(), first.port, first.endpoint());
        let backoff = Backoff::new(first.reconnect);
        let connect_timeout = group.iter().map(|t| t.timeout).max().unwrap_or_default();
        let pause_after_connect = group
            .iter()
            .map(PollTarget::effective_pause_after_connect)
            .max()
            .unwrap_or_default();
        let now = Instant::now();
        let devices = group
            .into_iter()
            .map(|t| Scheduled {
                poller: DevicePoller::new(t),
                due: now,
                last_error: None,
            })
            .collect();
        Connection {
            host,
            port,
            endpoint,
            devices,
            connect_timeout,
            pause_after_connect,
            backoff,
            down_since: None,
            stats,
        }
    }

    async fn run(mut self, sink: mpsc::Sender<DeviceReading>, shutdown: CancellationToken) {
        let codes: Vec<&str> = self
            .devices
            .iter()
            .map(|d| d.poller.target().device_code.as_str())
            .collect();
        tracing::info!(endpoint = %self.endpoint, devices = ?codes, "modbus poller started");
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = self.poll_forever(&sink) => {}
        }
        tracing::debug!(endpoint = %self.endpoint, "modbus poller stopped");
    }

    async fn poll_forever(&mut self, sink: &mpsc::Sender<DeviceReading>) {
        let mut link: Option<Link> = None;
        loop {
            let Some(active) = link.as_mut() else {
                link = self.connect().await;
                continue;
            };
            let Some(index) = self.next_due() else {
                return;
            };
            sleep_until(self.devices[index].due).await;
            let device = &mut self.devices[index];
            let code = device.poller.target().device_code.clone();
            let started = Instant::now();
            match device.poller.poll(active).await {
                Ok(polled) => {
                    if device.last_error.take().is_some() {
                        tracing::info!(device = %code, "device answers again");
                    }
                    device.due =
                        next_slot(device.due, device.poller.target().interval, Instant::now());
                    self.mark_up();
                    self.stats.ok(&code, polled.ts, started.elapsed());
                    let reading = DeviceReading {
                        device_code: code,
                        ts: polled.ts,
                        reading: polled.reading,
                    };
                    if sink.send(reading).await.is_err() {
                        tracing::info!(endpoint = %self.endpoint, "reading channel closed; poller stops");
                        return;
                    }
                }
                Err(e) if e.needs_reconnect() => {
                    // The device stays due: it is polled again right after reconnecting.
                    link = None;
                    self.stats.failed(&code, &e.to_string());
                    self.mark_down(&e.to_string());
                    sleep(self.backoff.next_delay()).await;
                }
                Err(e) => {
                    device.due =
                        next_slot(device.due, device.poller.target().interval, Instant::now());
                    let message = e.to_string();
                    self.stats.failed(&code, &message);
                    if device.last_error.as_ref() != Some(&message) {
                        tracing::warn!(device = %code, error = %message, "poll failed");
                        device.last_error = Some(message);
                    } else {
                        tracing::debug!(device = %code, error = %message, "poll failed again");
                    }
                }
            }
        }
    }

    /// One connection attempt; on failure waits the backoff delay and returns `None`.
    async fn connect(&mut self) -> Option<Link> {
        match Link::connect(&self.host, self.port, self.connect_timeout).await {
            Ok(mut link) => {
                link.hold_off(self.pause_after_connect);
                for device in &mut self.devices {
                    device.poller.on_reconnect();
                }
                tracing::debug!(endpoint = %self.endpoint, "connected");
                Some(link)
            }
            Err(e) => {
                // Every device behind this endpoint missed its poll.
                let message = e.to_string();
                for device in &self.devices {
                    self.stats
                        .failed(&device.poller.target().device_code, &message);
                }
                self.mark_down(&message);
                sleep(self.backoff.next_delay()).await;
                None
            }
        }
    }

    fn next_due(&self) -> Option<usize> {
        (0..self.devices.len()).min_by_key(|&i| self.devices[i].due)
    }

    /// Logs the first failure at warn and repeats at debug, so a device that is off for a
    /// week (or asleep every night) does not flood the log.
    fn mark_down(&mut self, error: &str) {
        if self.down_since.is_none() {
            self.down_since = Some(Instant::now());
            tracing::warn!(endpoint = %self.endpoint, error, "modbus connection lost; reconnecting with backoff");
        } else {
            tracing::debug!(endpoint = %self.endpoint, error, failures = self.backoff.failures(), "modbus connection still down");
        }
    }

    fn mark_up(&mut self) {
        self.backoff.reset();
        if let Some(since) = self.down_since.take() {
            tracing::info!(endpoint = %self.endpoint, down_for = ?since.elapsed(), "modbus connection restored");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modbus::target::ProfileRef;

    #[test]
    fn the_next_slot_is_one_interval_after_the_last_due_time() {
        let t0 = Instant::now();
        let minute = Duration::from_secs(60);
        assert_eq!(
            next_slot(t0, minute, t0 + Duration::from_secs(3)),
            t0 + minute
        );
    }

    #[test]
    fn missed_slots_are_skipped_and_the_grid_is_kept() {
        let t0 = Instant::now();
        let minute = Duration::from_secs(60);
        let late = t0 + Duration::from_secs(150);
        assert_eq!(next_slot(t0, minute, late), t0 + Duration::from_secs(180));
        let exactly = t0 + Duration::from_secs(120);
        assert_eq!(
            next_slot(t0, minute, exactly),
            t0 + Duration::from_secs(180)
        );
    }

    #[test]
    fn targets_behind_one_gateway_share_a_group() {
        let target = |code: &str, host: &str, unit: u8| {
            PollTarget::new(code, host, 502, unit, ProfileRef::SunSpec)
        };
        let groups = group_by_endpoint(vec![
            target("A", "10.0.0.1", 1),
            target("B", "10.0.0.2", 1),
            target("C", "10.0.0.1", 2),
        ]);
        let codes: Vec<Vec<&str>> = groups
            .values()
            .map(|g| g.iter().map(|t| t.device_code.as_str()).collect())
            .collect();
        assert_eq!(codes, vec![vec!["A", "C"], vec!["B"]]);
    }
}
