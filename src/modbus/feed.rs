//! Where polled readings go: one batching loop, two destinations.
//!
//! The service hands readings to its ingest writer; the edge gateway appends them to its
//! disk outbox. Both take them from the pollers' bounded channel in small batches (a
//! batch is one transaction downstream), through [`forward_batches`] and a [`ReadingSink`].

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::reading::DeviceReading;

/// The destination has stopped; the readings of the failed batch were not taken.
#[derive(Debug, thiserror::Error)]
#[error("the reading sink has stopped")]
pub struct SinkClosed;

/// Takes batches of polled readings; `accept` resolves when the batch is durable there.
pub trait ReadingSink {
    fn accept(
        &mut self,
        batch: Vec<DeviceReading>,
    ) -> impl Future<Output = Result<(), SinkClosed>> + Send;
}

/// How batches are formed.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    /// Readings in one batch, at most.
    pub max: usize,
    /// How long to wait to fill a batch once its first reading is there.
    pub linger: Duration,
}

/// Forwards readings from `rx` to `sink` until every sender is gone or the sink stops.
pub async fn forward_batches<S: ReadingSink>(
    mut rx: mpsc::Receiver<DeviceReading>,
    mut sink: S,
    batching: Batching,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + batching.linger;
        while batch.len() < batching.max.max(1) {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(r)) => batch.push(r),
                _ => break,
            }
        }
        if sink.accept(batch).await.is_err() {
            return;
        }
    }
}
