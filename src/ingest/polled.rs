//! Modbus polling feeds ingest: the ledger's modbus devices are polled (crate::modbus),
//! and their readings are forwarded to the writer in small batches. Which endpoints this
//! process polls is decided by leases shared with the other processes on the database
//! (`modbus::lease_keeper`); a process on its own holds them all.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Ingest, PolledNotStored};
use crate::config::ModbusConfig;
use crate::modbus::feed::{Batching, ReadingSink, SinkClosed, forward_batches};
use crate::modbus::lease_keeper::{self, LeaseSettings};
use crate::modbus::stats::PollStats;
use crate::modbus::targets_from_devices;
use crate::reading::DeviceReading;
use crate::store::Store;

/// Readings forwarded in one submission, at most.
const BATCH: usize = 500;
/// How long the forwarder waits to fill a batch.
const LINGER: Duration = Duration::from_millis(200);

/// Starts the lease keeper (which polls the ledger's modbus devices this process holds a
/// lease on) and the forwarder into ingest; `held` counts the held endpoints. The returned
/// task ends after `shutdown`, once the keeper has stopped its pollers and released its
/// leases and the forwarder has handed over what it holds.
pub async fn start(
    store: &Store,
    config: &ModbusConfig,
    ingest: Ingest,
    stats: Arc<PollStats>,
    held: Arc<AtomicUsize>,
    shutdown: CancellationToken,
) -> anyhow::Result<Option<JoinHandle<()>>> {
    let mut devices = store.load_ledger().await?.devices;
    // Devices read by an edge gateway in the village (`pvledger gateway`) arrive over MQTT.
    devices.retain(|d| {
        d.gateway_code
            .as_ref()
            .is_none_or(|g| !config.skip_gateways.contains(g))
    });
    let (mut targets, problems) = targets_from_devices(&devices, &config.profiles_dir);
    for p in &problems {
        tracing::warn!(device = %p.device_code, problem = %p.problem, "modbus device not polled");
    }
    if targets.is_empty() {
        return Ok(None);
    }
    for t in &mut targets {
        t.interval = Duration::from_secs(config.interval_s);
    }
    tracing::info!(
        devices = targets.len(),
        interval_s = config.interval_s,
        "polling modbus devices"
    );
    let node_id = if config.node_id.is_empty() {
        lease_keeper::default_node_id()
    } else {
        config.node_id.clone()
    };
    let settings = LeaseSettings {
        node_id,
        ttl: Duration::from_secs(config.lease_ttl_s),
        renew: Duration::from_secs(config.lease_renew_s),
    };
    let (tx, rx) = mpsc::channel(1024);
    let keeper = lease_keeper::spawn(store.clone(), settings, targets, tx, stats, held, shutdown);
    let batching = Batching {
        max: BATCH,
        linger: LINGER,
    };
    // The keeper and its pollers hold the only senders: the forwarder ends after them.
    let forwarder = tokio::spawn(forward_batches(rx, ingest, batching));
    Ok(Some(tokio::spawn(async move {
        let _ = keeper.await;
        let _ = forwarder.await;
    })))
}

/// Polled readings go to the writer; a batch is accepted once committed.
impl ReadingSink for Ingest {
    async fn accept(&mut self, batch: Vec<DeviceReading>) -> Result<(), SinkClosed> {
        let readings = batch.len();
        match self.submit_polled(batch).await {
            Ok(_) => Ok(()),
            // One batch the database refuses must not stop every device's polling (it
            // did: the batching loop ends on an error). Nobody waits to resend it.
            Err(PolledNotStored::Refused(e)) => {
                tracing::error!(error = %e, readings, "polled readings not stored; polling goes on");
                Ok(())
            }
            Err(PolledNotStored::Stopped(_)) => Err(SinkClosed),
        }
    }
}
