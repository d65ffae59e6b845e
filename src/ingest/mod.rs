//! Ingest: payloads from MQTT and HTTP, and readings from the Modbus pollers, into the
//! time-series store.
//!
//! `payload` (parse, pure) -> `admit` (ledger checks, pure) -> [`Ingest::submit`] ->
//! `writer` (batched transaction + `recompute` of rollups via `energy`, pure; behind a
//! backlog, `rollup` recomputes them beside the writer) -> the sender is told "committed",
//! and only then acknowledges (MQTT PUBACK, HTTP 200).
//! Every refusal is stored with its reason and raw input (`rejections`), counted in
//! `stats`, and logged at most once per gateway per minute.

pub mod admit;
pub mod broker;
pub mod directory;
pub mod energy;
pub mod gateway_status;
pub mod mqtt;
pub mod packer;
pub mod payload;
pub mod polled;
pub mod recompute;
pub mod rollup;
pub mod stats;
pub mod writer;

use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::config::IngestConfig;
use crate::reading::DeviceReading;
use crate::store::telemetry::RejectionRow;
use crate::store::{Store, Ts};
pub use directory::Directory;
use payload::{Refusal, RejectReason};
pub use stats::Stats;
pub use writer::NotStored;
use writer::{BatchLimits, Submission, WriteOutcome};

/// The ingest pipeline's entry point, shared by every source. Cheap to clone.
#[derive(Clone)]
pub struct Ingest {
    tx: mpsc::Sender<Submission>,
    pub directory: Directory,
    pub stats: Arc<Stats>,
    store: Store,
}

/// Ingest has stopped (the service is shutting down): nothing was committed.
#[derive(Debug, thiserror::Error)]
#[error("ingest is shutting down; nothing was committed")]
pub struct Stopped;

/// Why polled readings were not committed.
#[derive(Debug, thiserror::Error)]
pub enum PolledNotStored {
    #[error(transparent)]
    Stopped(#[from] Stopped),
    #[error(transparent)]
    Refused(#[from] NotStored),
}

/// What happened to one payload, once committed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PayloadOutcome {
    pub accepted: usize,
    /// Accepted readings that were already stored (a resend).
    pub duplicates: usize,
    pub refused: Vec<RefusalSummary>,
}

/// A refusal as told to the sender.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RefusalSummary {
    pub reason: RejectReason,
    pub device: Option<String>,
    pub detail: String,
}

impl Ingest {
    /// Starts the writer. It runs until every clone of the returned `Ingest` is dropped.
    pub async fn start(
        store: Store,
        zone: chrono_tz::Tz,
        config: &IngestConfig,
        shutdown: CancellationToken,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), sqlx::Error> {
        let directory = Directory::load(store.clone()).await?;
        let (tx, rx) = mpsc::channel(config.queue);
        let stats: Arc<Stats> = Arc::default();
        let limits = BatchLimits {
            max_rows: config.batch_max_rows,
            linger: std::time::Duration::from_millis(config.batch_linger_ms),
            rollup_max_lag: std::time::Duration::from_millis(config.rollup_max_lag_ms),
        };
        // Ends with the service; it holds no data of its own to drain.
        if config.pack_every_s > 0 {
            tokio::spawn(packer::run(
                store.clone(),
                zone,
                std::time::Duration::from_secs(config.pack_every_s),
                shutdown.clone(),
            ));
        }
        let task = tokio::spawn(writer::run(
            store.clone(),
            directory.clone(),
            zone,
            limits,
            rx,
            stats.clone(),
            shutdown,
        ));
        Ok((
            Ingest {
                tx,
                directory,
                stats,
                store,
            },
            task,
        ))
    }

    /// Submissions waiting for the writer.
    pub fn queue_depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Handles one payload v1 from `gateway` received via `source` (e.g. "mqtt:<topic>").
    /// Resolves once everything in it is committed; returns a receiver so that a caller can
    /// pipeline payloads and still confirm them in order.
    pub async fn submit_payload(
        &self,
        source: &str,
        gateway: &str,
        bytes: &[u8],
    ) -> Result<oneshot::Receiver<Result<PayloadOutcome, NotStored>>, Stopped> {
        let parsed = payload::parse(bytes, gateway, Utc::now());
        let mut snap = self.directory.snapshot();
        if admit::names_unknown(&parsed, gateway, &snap) && self.directory.reload_if_stale().await {
            snap = self.directory.snapshot();
        }
        let (accepted, refusals) = admit::admit(parsed, gateway, &snap);
        self.submit(source, Some(gateway), accepted, refusals).await
    }

    /// Stores an edge gateway's status message (the latest per gateway is kept).
    pub async fn record_status(
        &self,
        gateway: &str,
        bytes: &[u8],
    ) -> Result<(), gateway_status::StatusError> {
        let row = gateway_status::parse(bytes, gateway, Utc::now())?;
        if !self.directory.snapshot().gateways.contains_key(gateway) {
            self.directory.reload_if_stale().await;
            if !self.directory.snapshot().gateways.contains_key(gateway) {
                return Err(
                    gateway_status::StatusRefused::UnknownGateway(gateway.to_owned()).into(),
                );
            }
        }
        crate::store::dispatch!(&self.store, gateway::upsert_status(&row))?;
        Ok(())
    }

    /// Hands readings from a poller to the writer; resolves when they are committed.
    pub async fn submit_polled(
        &self,
        readings: Vec<DeviceReading>,
    ) -> Result<PayloadOutcome, PolledNotStored> {
        let snap = self.directory.snapshot();
        let mut accepted = Vec::new();
        let mut refusals = Vec::new();
        for r in readings {
            match snap.devices.get(&r.device_code) {
                Some(d) => accepted.push(admit::Accepted {
                    device_id: d.id,
                    ts: r.ts,
                    reading: r.reading,
                }),
                None => refusals.push(Refusal {
                    reason: RejectReason::UnknownDevice,
                    detail: format!("device {} is not in the ledger", r.device_code),
                    device: Some(r.device_code),
                    raw: format!("{:?}", r.reading),
                }),
            }
        }
        let outcome = self
            .submit("modbus", None, accepted, refusals)
            .await?
            .await
            .map_err(|_| Stopped)?;
        Ok(outcome?)
    }

    async fn submit(
        &self,
        source: &str,
        gateway: Option<&str>,
        accepted: Vec<admit::Accepted>,
        refusals: Vec<Refusal>,
    ) -> Result<oneshot::Receiver<Result<PayloadOutcome, NotStored>>, Stopped> {
        let now = Ts(Utc::now());
        for r in &refusals {
            self.stats.refused(r.reason);
        }
        if let Some(first) = refusals.first()
            && self.stats.may_log(gateway.unwrap_or(source))
        {
            tracing::warn!(gateway, source, refused = refusals.len(), reason = first.reason.as_str(), detail = %first.detail, "refused input (further refusals from this gateway are not logged for a minute)");
        }
        let rows: Vec<RejectionRow> = refusals
            .iter()
            .map(|r| RejectionRow {
                received_at: now,
                source: source.to_owned(),
                gateway: gateway.map(str::to_owned),
                // Text from the input may hold NUL, which PostgreSQL refuses: a refusal
                // must always be storable, or the payload would stay unconfirmed.
                device: r.device.as_deref().map(payload::storable_text),
                reason: r.reason.as_str(),
                detail: payload::storable_text(&r.detail),
                payload: payload::storable_text(&r.raw),
            })
            .collect();
        let summary: Vec<RefusalSummary> = refusals
            .into_iter()
            .map(|r| RefusalSummary {
                reason: r.reason,
                device: r.device,
                detail: r.detail,
            })
            .collect();
        let count = accepted.len();
        let (done, committed) = oneshot::channel::<Result<WriteOutcome, NotStored>>();
        self.tx
            .send(Submission {
                readings: accepted,
                rejections: rows,
                done,
            })
            .await
            .map_err(|_| Stopped)?;
        let (out_tx, out_rx) = oneshot::channel();
        let stats = self.stats.clone();
        tokio::spawn(async move {
            // Unanswered (the writer stopped first): the receiver sees the channel closed.
            let Ok(written) = committed.await else {
                return;
            };
            let _ = out_tx.send(written.map(|w| {
                stats.accepted(count);
                PayloadOutcome {
                    accepted: count,
                    duplicates: count - w.inserted as usize,
                    refused: summary,
                }
            }));
        });
        Ok(out_rx)
    }
}
