//! The lease keeper: polls only the Modbus endpoints this process holds a lease on.
//!
//! Every `renew` interval one cycle runs against the database: write this process's
//! presence, renew its leases (a unit missing from the answer was taken over: its poller
//! stops), read every lease, let [`lease::plan`] decide, release (poller stopped first, so
//! two processes never talk to one endpoint at once) and claim (poller started after the
//! claim won). A process that dies stops renewing; its leases run out after `ttl` and the
//! others take them at their next cycle, so the handover takes at most `ttl + renew`. On
//! shutdown every lease is released at once and the others take them within `renew`.
//!
//! Clocks: lease expiry is always computed and compared by the database (see
//! `store/leases_sql.rs`). Locally the keeper also stops its pollers when it has not
//! renewed within `ttl` of its last successful renewal (tokio's monotonic clock, measured
//! from before the statement was sent, so it runs out no later than the database lease):
//! a process cut off from the database stops polling before anyone may take over.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, sleep_until};
use tokio_util::sync::CancellationToken;

use super::lease::{self, View};
use super::poller::{group_by_endpoint, spawn_connection};
use super::stats::PollStats;
use super::target::PollTarget;
use crate::reading::DeviceReading;
use crate::store::Store;

/// How long a graceful shutdown waits for the database to take the releases.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);

/// Lease timing and identity.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    /// This process's id in `modbus_leases.owner`; unique among the processes.
    pub node_id: String,
    /// How long a lease lasts without renewal.
    pub ttl: Duration,
    /// Time between two lease cycles; well below `ttl`.
    pub renew: Duration,
}

/// The default node id: host name and process id, unique among running processes.
pub fn default_node_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "pvledger".into());
    format!("{host}-{}", std::process::id())
}

/// Starts the keeper; it polls the held endpoints of `targets` into `sink` and runs until
/// `shutdown`, then stops its pollers and releases its leases. `stats` counts the polls and
/// `held` the endpoints this process holds (for /metrics).
pub fn spawn(
    store: Store,
    settings: LeaseSettings,
    targets: Vec<PollTarget>,
    sink: mpsc::Sender<DeviceReading>,
    stats: Arc<PollStats>,
    held: Arc<AtomicUsize>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let keeper = Keeper {
        store,
        settings,
        groups: group_by_endpoint(targets),
        running: BTreeMap::new(),
        sink,
        stats,
        held,
        valid_until: None,
        last_error: None,
        shutdown: shutdown.clone(),
    };
    tokio::spawn(keeper.run())
}

/// The poller of one held endpoint.
struct Running {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

struct Keeper {
    store: Store,
    settings: LeaseSettings,
    /// Every endpoint this process could poll, with its targets.
    groups: BTreeMap<String, Vec<PollTarget>>,
    /// The endpoints polled now.
    running: BTreeMap<String, Running>,
    sink: mpsc::Sender<DeviceReading>,
    stats: Arc<PollStats>,
    held: Arc<AtomicUsize>,
    /// When the leases renewed last run out, on the local monotonic clock.
    valid_until: Option<Instant>,
    /// The last cycle error, logged at warn once and then at debug.
    last_error: Option<String>,
    shutdown: CancellationToken,
}

impl Keeper {
    async fn run(mut self) {
        tracing::info!(
            node_id = %self.settings.node_id,
            endpoints = self.groups.len(),
            ttl_s = self.settings.ttl.as_secs_f64(),
            renew_s = self.settings.renew.as_secs_f64(),
            "modbus leases: taking part"
        );
        let mut tick = tokio::time::interval(self.settings.renew);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let expiry = self.valid_until;
            tokio::select! {
                () = self.shutdown.cancelled() => break,
                _ = tick.tick() => self.bounded_cycle().await,
                // Not renewed in time: stop at the expiry itself, not at the next tick.
                () = sleep_until(expiry.unwrap_or_else(Instant::now)), if expiry.is_some() => {}
            }
            if self.valid_until.is_some_and(|t| Instant::now() >= t) {
                tracing::warn!(
                    endpoints = self.running.len(),
                    "modbus leases not renewed in time; polling stops until they are"
                );
                self.valid_until = None;
                self.stop_all().await;
            }
            self.held.store(self.running.len(), Ordering::Relaxed);
        }
        self.stop_all().await;
        self.held.store(0, Ordering::Relaxed);
        let node = &self.settings.node_id;
        match tokio::time::timeout(RELEASE_TIMEOUT, self.store.lease_release_all(node)).await {
            Ok(Ok(n)) => tracing::info!(released = n, "modbus leases released"),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "modbus leases not released; they run out after the ttl")
            }
            Err(_) => {
                tracing::warn!("modbus leases not released in time; they run out after the ttl")
            }
        }
    }

    /// One cycle, cut short at `renew` (a hanging database must not stall the keeper) and
    /// at the expiry of the leases held, so the check after it is never late.
    async fn bounded_cycle(&mut self) {
        let mut deadline = Instant::now() + self.settings.renew;
        if let Some(expiry) = self.valid_until {
            deadline = deadline.min(expiry);
        }
        match tokio::time::timeout_at(deadline, self.cycle()).await {
            Ok(Ok(())) => {
                if self.last_error.take().is_some() {
                    tracing::info!("modbus leases: database reachable again");
                }
            }
            Ok(Err(e)) => self.cycle_failed(e.to_string()),
            Err(_) => self.cycle_failed("lease cycle timed out".into()),
        }
    }

    fn cycle_failed(&mut self, message: String) {
        if self.last_error.as_ref() != Some(&message) {
            tracing::warn!(error = %message, "modbus lease cycle failed");
            self.last_error = Some(message);
        } else {
            tracing::debug!(error = %message, "modbus lease cycle failed again");
        }
    }

    async fn cycle(&mut self) -> Result<(), sqlx::Error> {
        let (node, ttl) = (self.settings.node_id.clone(), self.settings.ttl);
        let sent = Instant::now();
        self.store.lease_heartbeat(&node, ttl).await?;
        let renewed: BTreeSet<String> = self
            .store
            .lease_renew(&node, ttl)
            .await?
            .into_iter()
            .collect();
        self.valid_until = Some(sent + ttl);
        let lost: Vec<String> = self
            .running
            .keys()
            .filter(|u| !renewed.contains(*u))
            .cloned()
            .collect();
        for unit in lost {
            tracing::warn!(endpoint = %unit, "modbus lease lost to another process");
            self.stop(&unit).await;
        }
        // Held in the database but not polled: claimed by a cycle that timed out, or
        // stopped after a missed renewal.
        for unit in &renewed {
            if !self.running.contains_key(unit) && self.groups.contains_key(unit) {
                self.start(unit);
            }
        }

        let (leases, nodes) = self.store.lease_view().await?;
        let units: BTreeSet<String> = self.groups.keys().cloned().collect();
        let plan = lease::plan(View {
            me: &node,
            units: &units,
            leases: &leases,
            nodes: &nodes,
        });
        for unit in &plan.release {
            // Stop first: the next holder may connect as soon as the row is gone.
            self.stop(unit).await;
            self.store.lease_release(&node, unit).await?;
            tracing::info!(endpoint = %unit, share = ?plan.share, "modbus lease released for another process");
        }
        for unit in &plan.claim {
            if self.store.lease_claim(&node, unit, ttl).await? {
                self.start(unit);
            }
        }
        self.held.store(self.running.len(), Ordering::Relaxed);
        Ok(())
    }

    fn start(&mut self, unit: &str) {
        let Some(group) = self.groups.get(unit) else {
            return;
        };
        let codes: Vec<&str> = group.iter().map(|t| t.device_code.as_str()).collect();
        tracing::info!(endpoint = %unit, devices = ?codes, "modbus lease taken; polling");
        let stop = self.shutdown.child_token();
        let task = spawn_connection(
            group.clone(),
            self.sink.clone(),
            self.stats.clone(),
            stop.clone(),
        );
        self.running.insert(unit.to_owned(), Running { stop, task });
    }

    /// Stops polling `unit` and waits until its connection is closed.
    async fn stop(&mut self, unit: &str) {
        if let Some(running) = self.running.remove(unit) {
            running.stop.cancel();
            let _ = running.task.await;
            // Its devices are another process's now: /metrics counts what this one polls.
            for t in self.groups.get(unit).into_iter().flatten() {
                self.stats.forget(&t.device_code);
            }
        }
    }

    async fn stop_all(&mut self) {
        let units: Vec<String> = self.running.keys().cloned().collect();
        for unit in units {
            self.stop(&unit).await;
        }
    }
}
