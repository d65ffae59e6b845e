//! The one writer: readings from every source are batched (bounded by rows and by time),
//! written in one transaction with their rollups, and only then confirmed to their
//! senders, so that a source acknowledges nothing that is not committed.
//!
//! A database failure pauses ingest: the batch is retried with backoff until it commits
//! (or the service stops, in which case nothing is confirmed and senders redeliver).
//!
//! Rollups are recomputed in the batch's transaction, except under a backlog: while more is
//! queued behind a batch, or marks of earlier batches are still waiting, its devices are
//! logged in `rollup_pending` (in the same transaction) and recomputed later, together, by
//! the roller ([`super::rollup`]) on a transaction of its own: once the writer has nothing
//! queued or has idled for the batch linger, or once the oldest mark is `rollup_max_lag`
//! old. Recomputing an hour costs the same for one new reading as for ten, so a backlog is
//! rolled up once per device instead of once per batch, and beside the inserts rather than
//! between them (issue 7).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{SubsecRound, Utc};
use chrono_tz::Tz;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::admit::Accepted;
use super::directory::Directory;
use super::recompute::Touched;
use super::rollup::{self, Pending, widen};
use crate::store::telemetry::{DeviceSpan, ReadingRow, RejectionRow, SampleRow};
use crate::store::{Store, Ts, dispatch_tx};

/// Work for the writer: readings and refusals, and whom to tell once committed.
pub struct Submission {
    pub readings: Vec<Accepted>,
    pub rejections: Vec<RejectionRow>,
    /// Told the outcome once committed, or why this submission alone could not be
    /// stored; dropped unanswered when the writer stops first.
    pub done: oneshot::Sender<Result<WriteOutcome, NotStored>>,
}

/// The database is up but refused this submission (the others of its batch were stored):
/// nothing of it is stored, and its sender must not count it as committed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the database refused the payload: {0}")]
pub struct NotStored(pub String);

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
    /// Under a backlog, how long rollups may trail committed readings (zero: never).
    pub rollup_max_lag: Duration,
}

/// When a batch's rollups are brought up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rollups {
    /// In the batch's transaction, together with every device marked earlier.
    Now,
    /// Later, by the roller: the batch's devices are logged in `rollup_pending`.
    Later,
}

/// Rollups may wait behind a backlog, or behind marks of this writer that the roller has
/// yet to roll up (recomputing in the batch would wait for the roller's locks on the same
/// devices); never with a zero `max_lag`. How long they wait is the roller's to decide.
fn rollups_for(queued: bool, max_lag: Duration, outstanding: bool) -> Rollups {
    if !max_lag.is_zero() && (queued || outstanding) {
        Rollups::Later
    } else {
        Rollups::Now
    }
}

/// Runs the writer and its roller until every sender is gone (drains what is queued, rolls
/// up what is marked) or `shutdown` interrupts a retry.
pub async fn run(
    store: Store,
    directory: Directory,
    zone: Tz,
    limits: BatchLimits,
    rx: mpsc::Receiver<Submission>,
    stats: Arc<super::Stats>,
    shutdown: CancellationToken,
) {
    let pending = Arc::new(Pending::default());
    // Marks left by a process that stopped (or died) before rolling them up.
    pending.roll_up_now();
    let roller = tokio::spawn(rollup::run(
        store.clone(),
        directory.clone(),
        zone,
        limits.rollup_max_lag,
        pending.clone(),
        shutdown.clone(),
    ));
    write_all(
        &store, &directory, zone, limits, rx, &stats, &pending, &shutdown,
    )
    .await;
    pending.close();
    if let Err(e) = roller.await {
        tracing::error!(error = %e, "the roller failed");
    }
}

/// Batches, writes and confirms until every sender is gone or `shutdown` interrupts a retry.
#[allow(clippy::too_many_arguments)]
async fn write_all(
    store: &Store,
    directory: &Directory,
    zone: Tz,
    limits: BatchLimits,
    mut rx: mpsc::Receiver<Submission>,
    stats: &super::Stats,
    pending: &Pending,
    shutdown: &CancellationToken,
) {
    // Whether the roller was told that this writer is idle since it last marked.
    let mut told_idle = false;
    loop {
        // With marks waiting, an idle writer lets the roller roll them up.
        let next = if told_idle || !pending.outstanding() {
            rx.recv().await
        } else {
            match tokio::time::timeout(limits.linger, rx.recv()).await {
                Ok(next) => next,
                Err(_idle) => {
                    pending.roll_up_now();
                    told_idle = true;
                    continue;
                }
            }
        };
        let Some(first) = next else {
            return;
        };
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
        // A backlog: more is queued, or the batch closed full rather than by its linger.
        let queued = !rx.is_empty() || rows >= limits.max_rows;
        let rollups = rollups_for(queued, limits.rollup_max_lag, pending.outstanding());
        let written =
            write_with_retry(store, directory, zone, &batch, rollups, pending, shutdown).await;
        let Some((per_submission, rollups)) = written else {
            tracing::warn!(
                rows,
                "stopping with an unwritten batch; its senders will redeliver"
            );
            return;
        };
        stats.batch(rows, started.elapsed().as_secs_f64());
        if rollups == Rollups::Later {
            stats.deferred();
            pending.marked();
            told_idle = false;
            // Nothing queued behind: the backlog is over, roll up what it left.
            if !queued {
                pending.roll_up_now();
                told_idle = true;
            }
        }
        for (s, inserted) in batch.into_iter().zip(per_submission) {
            let _ = s
                .done
                .send(inserted.map(|inserted| WriteOutcome { inserted }));
        }
    }
}

/// Retries while the database is unreachable (ingest pauses, nothing is lost). When the
/// database answers but the batch still fails, the batch is written submission by
/// submission, so that one bad submission cannot hold back the others (their rollups are
/// then deferred). Returns the rows inserted per submission and when the rollups were done,
/// or None when shutdown interrupted the retries.
async fn write_with_retry(
    store: &Store,
    directory: &Directory,
    zone: Tz,
    batch: &[Submission],
    rollups: Rollups,
    pending: &Pending,
    shutdown: &CancellationToken,
) -> Option<(Vec<Result<u64, NotStored>>, Rollups)> {
    let mut backoff = Duration::from_millis(200);
    loop {
        let snap = directory.snapshot();
        let rated = |id: i64| snap.by_id.get(&id).and_then(|d| d.rated_kw);
        match write(store, batch, rated, zone, rollups, pending).await {
            Ok(n) => return Some((n.into_iter().map(Ok).collect(), rollups)),
            Err(e) if store.ping().await => {
                tracing::error!(error = %e, "a batch failed with the database up; writing its payloads one by one");
                let mut out = Vec::with_capacity(batch.len());
                for s in batch {
                    let one = std::slice::from_ref(s);
                    // Rollups later: if rolling up is what fails (marks of earlier batches
                    // included), readings are still stored and confirmed.
                    match write(store, one, rated, zone, Rollups::Later, pending).await {
                        Ok(n) => out.push(Ok(n[0])),
                        Err(e) => {
                            tracing::error!(error = %e, readings = s.readings.len(), "a payload cannot be stored; it is left unconfirmed");
                            out.push(Err(NotStored(e.to_string())));
                        }
                    }
                }
                return Some((out, Rollups::Later));
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

/// Writes one batch in one transaction; returns the rows inserted per submission. With
/// rollups later, the new readings go to `pending` once committed, for the roller.
async fn write(
    store: &Store,
    batch: &[Submission],
    rated: impl Fn(i64) -> Option<f64>,
    zone: Tz,
    rollups: Rollups,
    pending: &Pending,
) -> Result<Vec<u64>, sqlx::Error> {
    let now = Ts(Utc::now());
    let started = std::time::Instant::now();
    let mut tx = store.begin().await?;
    // One insert for the whole batch: a statement per submission (often 10 readings) made
    // round trips, not rows, the cost of ingest.
    let rows: Vec<ReadingRow> = batch
        .iter()
        .flat_map(|s| s.readings.iter().map(|a| row(a, now)))
        .collect();
    let stored = dispatch_tx!(&mut tx, telemetry::insert_readings(&rows))?;
    let rejections: Vec<RejectionRow> = batch
        .iter()
        .flat_map(|s| s.rejections.iter().cloned())
        .collect();
    dispatch_tx!(&mut tx, telemetry::insert_rejections(&rejections))?;
    let mut touched: HashMap<i64, Touched> = HashMap::new();
    for a in batch.iter().flat_map(|s| &s.readings) {
        widen(&mut touched, a.device_id, a.ts, a.ts);
    }
    // For the roller, which rolls them up later.
    let new_rows = (rollups == Rollups::Later).then(|| new_samples(&rows, &stored));
    let inserted = inserted_per_submission(batch.iter().map(|s| &s.readings[..]), stored);
    let inserted_at = started.elapsed();
    let devices = touched.len();
    let mut logged = None;
    let earlier_marks = match rollups {
        Rollups::Later => {
            let spans: Vec<DeviceSpan> = touched
                .iter()
                .map(|(id, t)| DeviceSpan {
                    device_id: *id,
                    from: Ts(t.first),
                    to: Ts(t.last),
                })
                .collect();
            logged = Some(dispatch_tx!(&mut tx, telemetry::log_pending(&spans))?);
            0
        }
        // Marks of other processes (or left by one that stopped) included.
        Rollups::Now => rollup::roll_up_marked(&mut tx, touched, rated, zone, pending).await?,
    };
    let recomputed_at = started.elapsed();
    tx.commit().await?;
    if let (Some(id), Some(new_rows)) = (logged, new_rows) {
        pending.remember(id, new_rows);
    }
    // Where a batch's time goes, for tuning (RUST_LOG=pvledger::ingest::writer=debug).
    tracing::debug!(
        submissions = batch.len(),
        devices,
        rollups = ?rollups,
        earlier_marks,
        insert_ms = inserted_at.as_millis() as u64,
        recompute_ms = (recomputed_at - inserted_at).as_millis() as u64,
        commit_ms = (started.elapsed() - recomputed_at).as_millis() as u64,
        "batch written"
    );
    Ok(inserted)
}

/// How many of each submission's readings were new, given the keys the insert stored. A
/// reading sent twice in one batch counts for the first submission that carried it, as if
/// the submissions had been written one after another.
fn inserted_per_submission<'a>(
    submissions: impl Iterator<Item = &'a [Accepted]>,
    stored: Vec<(i64, Ts)>,
) -> Vec<u64> {
    let mut stored: HashSet<(i64, Ts)> = stored.into_iter().collect();
    submissions
        .map(|readings| {
            readings
                .iter()
                .filter(|a| stored.remove(&(a.device_id, stored_ts(a))))
                .count() as u64
        })
        .collect()
}

/// The rows of `rows` the insert stored (`stored`: their keys), as the roller reads them.
fn new_samples(rows: &[ReadingRow], stored: &[(i64, Ts)]) -> Vec<(i64, SampleRow)> {
    let sample = |r: &ReadingRow| {
        let s = SampleRow {
            ts: r.ts,
            counter: r.energy_total_kwh.or(r.export_energy_kwh),
            ac_power_w: r.ac_power_w,
            irradiance_poa_wm2: r.irradiance_poa_wm2,
            quality: r.quality,
        };
        (r.device_id, s)
    };
    // Nearly always every row is new; otherwise (resends) only the stored ones.
    if stored.len() == rows.len() {
        return rows.iter().map(sample).collect();
    }
    let stored: HashSet<(i64, Ts)> = stored.iter().copied().collect();
    rows.iter()
        .filter(|r| stored.contains(&(r.device_id, r.ts)))
        .map(sample)
        .collect()
}

/// The instant as stored: milliseconds, on both backends (RFC 3339 allows finer; PostgreSQL
/// would keep microseconds and SQLite not, and a resend must match what was stored).
fn stored_ts(a: &Accepted) -> Ts {
    Ts(a.ts.trunc_subsecs(3))
}

fn row(a: &Accepted, now: Ts) -> ReadingRow {
    let r = &a.reading;
    ReadingRow {
        device_id: a.device_id,
        ts: stored_ts(a),
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn reading(device_id: i64, second: u32) -> Accepted {
        Accepted {
            device_id,
            ts: Utc.with_ymd_and_hms(2026, 6, 1, 2, 0, second).unwrap(),
            reading: Default::default(),
        }
    }

    #[test]
    fn rollups_wait_behind_a_backlog_or_marks_not_yet_rolled_up() {
        let lag = Duration::from_secs(5);
        assert_eq!(rollups_for(true, lag, false), Rollups::Later);
        assert_eq!(rollups_for(true, lag, true), Rollups::Later);
        // Nothing queued behind, but the roller has marks of this writer to roll up.
        assert_eq!(rollups_for(false, lag, true), Rollups::Later);
        // Nothing queued and nothing waiting: now.
        assert_eq!(rollups_for(false, lag, false), Rollups::Now);
        // Zero: never deferred.
        assert_eq!(rollups_for(true, Duration::ZERO, true), Rollups::Now);
    }

    #[test]
    fn each_new_row_counts_once_for_the_first_submission_that_carried_it() {
        let first = [reading(1, 0), reading(2, 0)];
        // Carries device 1's reading again (a resend inside the batch) and one of its own.
        let second = [reading(1, 0), reading(3, 0)];
        // Entirely stored before this batch: nothing new.
        let third = [reading(4, 0)];
        let stored = vec![
            (1, stored_ts(&first[0])),
            (2, stored_ts(&first[1])),
            (3, stored_ts(&second[1])),
        ];
        let counts =
            inserted_per_submission([&first[..], &second[..], &third[..]].into_iter(), stored);
        assert_eq!(counts, vec![2, 1, 0]);
    }

    #[test]
    fn readings_are_keyed_and_stored_to_the_millisecond() {
        let mut a = reading(1, 0);
        a.ts += chrono::Duration::nanoseconds(1_234_567);
        assert_eq!(stored_ts(&a).0.timestamp_subsec_nanos(), 1_000_000);
        let stored = vec![(1, stored_ts(&a))];
        assert_eq!(
            inserted_per_submission([&[a][..]].into_iter(), stored),
            vec![1]
        );
    }
}
