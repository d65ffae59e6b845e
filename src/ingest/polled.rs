//! Modbus polling feeds ingest: the ledger's modbus devices are polled (crate::modbus),
//! and their readings are forwarded to the writer in small batches.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Ingest;
use crate::config::ModbusConfig;
use crate::modbus::feed::{Batching, ReadingSink, SinkClosed, forward_batches};
use crate::modbus::stats::PollStats;
use crate::modbus::{spawn_pollers_with_stats, targets_from_devices};
use crate::reading::DeviceReading;
use crate::store::Store;

/// Readings forwarded in one submission, at most.
const BATCH: usize = 500;
/// How long the forwarder waits to fill a batch.
const LINGER: Duration = Duration::from_millis(200);

/// Starts pollers for the ledger's modbus devices and the forwarder into ingest. The
/// forwarder ends once every poller has stopped (on `shutdown`), after handing over what
/// it holds.
pub async fn start(
    store: &Store,
    config: &ModbusConfig,
    ingest: Ingest,
    stats: std::sync::Arc<PollStats>,
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
    let (tx, rx) = mpsc::channel(1024);
    spawn_pollers_with_stats(targets, tx, stats, shutdown);
    let batching = Batching {
        max: BATCH,
        linger: LINGER,
    };
    Ok(Some(tokio::spawn(forward_batches(rx, ingest, batching))))
}

/// Polled readings go to the writer; a batch is accepted once committed.
impl ReadingSink for Ingest {
    async fn accept(&mut self, batch: Vec<DeviceReading>) -> Result<(), SinkClosed> {
        self.submit_polled(batch)
            .await
            .map(drop)
            .map_err(|_| SinkClosed)
    }
}
