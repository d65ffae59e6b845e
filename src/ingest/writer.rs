//! The one writer: readings from every source are batched (bounded by rows and by time),
//! written in one transaction with their rollups, and only then confirmed to their
//! senders, so that a source acknowledges nothing that is not committed.
//!
//! A database failure pauses ingest: the batch is retried with backoff until it commits
//! (or the service stops, in which case nothing is confirmed and senders redeliver).

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use chrono_tz::Tz;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::admit::Accepted;
use super::directory::Directory;
use super::recompute::{self, Touched};
use crate::store::telemetry::{ReadingRow, RejectionRow};
use crate::store::{Store, Ts, dispatch_tx};

/// Work for the writer: readings and refusals, and whom to tell once committed.
pub struct Submission {
    pub readings: Vec<Accepted>,
    pub rejections: Vec<RejectionRow>,
    pub done: oneshot::Sender<WriteOutcome>,
}

/// What a committed submission did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Readings stored now (the rest were already stored: resends).
    pub inserted: u64,
}

/// Limits of one batch.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub max_rows: usize,
    pub linger: Duration,
}

/// Runs the writer until every sender is gone (drains what is queued) or `shutdown`
/// interrupts a retry.
pub async fn run(
    store: Store,
    directory: Directory,
    zone: Tz,
    limits: BatchLimits,
    mut rx: mpsc::Receiver<Submission>,
    stats: std::sync::Arc<super::Stats>,
    shutdown: CancellationToken,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let mut rows = batch[0].readings.len();
        let deadline = tokio::time::Instant::now() + limits.linger;
        while rows < limits.max_rows {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(s)) => {
                    rows += s.readings.len();
                    batch.push(s);
                }
                _ => break,
            }
        }
        let started = std::time::Instant::now();
        let written = write_with_retry(&store, &directory, zone, &batch, &shutdown).await;
        let Some(per_submission) = written else {
            tracing::warn!(
                rows,
                "stopping with an unwritten batch; its senders will redeliver"
            );
            return;
        };
        stats.batch(rows, started.elapsed().as_secs_f64());
        for (s, inserted) in batch.into_iter().zip(per_submission) {
            // None: this submission alone cannot be stored; its sender is not confirmed.
            if let Some(inserted) = inserted {
                let _ = s.done.send(WriteOutcome { inserted });
            }
        }
    }
}

/// Retries while the database is unreachable (ingest pauses, nothing is lost). When the
/// database answers but the batch still fails, the batch is written submission by
/// submission, so that one bad submission cannot hold back the others. Returns None when
/// shutdown interrupted the retries.
async fn write_with_retry(
    store: &Store,
    directory: &Directory,
    zone: Tz,
    batch: &[Submission],
    shutdown: &CancellationToken,
) -> Option<Vec<Option<u64>>> {
    let mut backoff = Duration::from_millis(200);
    loop {
        let snap = directory.snapshot();
        let rated = |id: i64| snap.by_id.get(&id).and_then(|d| d.rated_kw);
        match write(store, batch, rated, zone).await {
            Ok(n) => return Some(n.into_iter().map(Some).collect()),
            Err(e) if store.ping().await => {
                tracing::error!(error = %e, "a batch failed with the database up; writing its payloads one by one");
                let mut out = Vec::with_capacity(batch.len());
                for s in batch {
                    let one = std::slice::from_ref(s);
                    match write(store, one, rated, zone).await {
                        Ok(n) => out.push(Some(n[0])),
                        Err(e) => {
                            tracing::error!(error = %e, readings = s.readings.len(), "a payload cannot be stored; it is left unconfirmed");
                            out.push(None);
                        }
                    }
                }
                return Some(out);
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "database unreachable; ingest paused");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.cancelled() => return None,
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Writes one batch in one transaction; returns the rows inserted per submission.
async fn write(
    store: &Store,
    batch: &[Submission],
    rated: impl Fn(i64) -> Option<f64>,
    zone: Tz,
) -> Result<Vec<u64>, sqlx::Error> {
    let now = Ts(Utc::now());
    let started = std::time::Instant::now();
    let mut tx = store.begin().await?;
    let mut touched: HashMap<i64, Touched> = HashMap::new();
    let mut inserted = Vec::with_capacity(batch.len());
    for s in batch {
        let rows: Vec<ReadingRow> = s.readings.iter().map(|a| row(a, now)).collect();
        inserted.push(dispatch_tx!(&mut tx, telemetry::insert_readings(&rows))?);
        dispatch_tx!(&mut tx, telemetry::insert_rejections(&s.rejections))?;
        for a in &s.readings {
            touched
                .entry(a.device_id)
                .and_modify(|t| {
                    t.first = t.first.min(a.ts);
                    t.last = t.last.max(a.ts);
                })
                .or_insert(Touched {
                    first: a.ts,
                    last: a.ts,
                });
        }
    }
    let inserted_at = started.elapsed();
    recompute::recompute(&mut tx, &touched, rated, zone).await?;
    let recomputed_at = started.elapsed();
    tx.commit().await?;
    // Where a batch's time goes, for tuning (RUST_LOG=pvledger::ingest::writer=debug).
    tracing::debug!(
        submissions = batch.len(),
        devices = touched.len(),
        insert_ms = inserted_at.as_millis() as u64,
        recompute_ms = (recomputed_at - inserted_at).as_millis() as u64,
        commit_ms = (started.elapsed() - recomputed_at).as_millis() as u64,
        "batch written"
    );
    Ok(inserted)
}

fn row(a: &Accepted, now: Ts) -> ReadingRow {
    let r = &a.reading;
    ReadingRow {
        device_id: a.device_id,
        ts: Ts(a.ts),
        received_at: now,
        ac_power_w: r.ac_power_w,
        dc_power_w: r.dc_power_w,
        energy_total_kwh: r.energy_total_kwh,
        export_energy_kwh: r.export_energy_kwh,
        grid_voltage_v: r.grid_voltage_v,
        frequency_hz: r.frequency_hz,
        temperature_c: r.temperature_c,
        irradiance_poa_wm2: r.irradiance_poa_wm2,
        module_temp_c: r.module_temp_c,
        ambient_temp_c: r.ambient_temp_c,
        status: r.status.map(|s| s.as_str().to_owned()),
        fault_code: r.fault_code.clone(),
        quality: 0,
    }
}
