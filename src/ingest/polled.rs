//! Modbus polling feeds ingest: the ledger's modbus devices are polled (crate::modbus),
//! and their readings are forwarded to the writer in small batches.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Ingest;
use crate::config::ModbusConfig;
use crate::modbus::{spawn_pollers, targets_from_store};
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
    shutdown: CancellationToken,
) -> anyhow::Result<Option<JoinHandle<()>>> {
    let (mut targets, problems) = targets_from_store(store, &config.profiles_dir).await?;
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
    spawn_pollers(targets, tx, shutdown);
    Ok(Some(tokio::spawn(forward(rx, ingest))))
}

async fn forward(mut rx: mpsc::Receiver<DeviceReading>, ingest: Ingest) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(r)) => batch.push(r),
                _ => break,
            }
        }
        if ingest.submit_polled(batch).await.is_err() {
            return;
        }
    }
}
