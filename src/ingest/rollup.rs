//! Rolls up the devices logged in `rollup_pending` (and marked in `rollup_dirty`, as
//! earlier versions did) on a transaction of its own, beside the writer, so that
//! recomputing a backlog's hours and days (over a second for a province's 20,000 devices)
//! overlaps the next batches' inserts instead of stalling them (issue 7).
//!
//! The writer tells a [`Pending`] when it commits marks and when it is idle; the roller runs
//! a pass when the writer is idle, or when the oldest mark is `rollup_max_lag` old. A pass
//! that fails is retried with backoff, so marks are always rolled up eventually.
//!
//! The writer also hands the [`Pending`] the readings it logged, so that a pass rolls them
//! forward without reading them back: reading them was most of a pass even once only new
//! readings were read (issue 7). What was not handed over (another process's batches, or
//! more than [`REMEMBER_AT_MOST`]) is read from the database, with the same result.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono_tz::Tz;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::directory::Directory;
use super::recompute::{self, Touched};
use crate::store::telemetry::SampleRow;
use crate::store::{Store, Tx, dispatch_tx};

/// What the writer has left to the roller, shared between the two.
#[derive(Default)]
pub struct Pending {
    state: Mutex<State>,
    wake: Notify,
    remembered: Mutex<Remembered>,
}

/// The readings of logged batches (by `rollup_pending` id), as committed.
#[derive(Default)]
struct Remembered {
    batches: BTreeMap<i64, Vec<(i64, SampleRow)>>,
    readings: usize,
}

/// Readings kept for the roller: a flood of 600,000 fits (72 bytes each, so at most about
/// 70 MB); beyond, the oldest batches are forgotten and read back instead.
pub const REMEMBER_AT_MOST: usize = 1_000_000;

#[derive(Default)]
struct State {
    /// When the oldest mark not yet taken up by a pass was committed.
    oldest: Option<Instant>,
    /// The writer is idle (or starting, or stopping): roll up without waiting for the lag.
    now: bool,
    /// A pass is running.
    busy: bool,
    /// The writer has stopped: finish what is pending, then return.
    closing: bool,
}

impl Pending {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self
            .state
            .lock()
            .expect("the roller's state is never poisoned"))
    }

    /// The writer committed marks.
    pub fn marked(&self) {
        self.with(|s| {
            s.oldest.get_or_insert_with(Instant::now);
        });
        self.wake.notify_one();
    }

    /// Roll up whatever is marked as soon as possible.
    pub fn roll_up_now(&self) {
        self.with(|s| s.now = true);
        self.wake.notify_one();
    }

    /// Marks of this process may be waiting, or being rolled up.
    pub fn outstanding(&self) -> bool {
        self.with(|s| s.oldest.is_some() || s.now || s.busy)
    }

    /// The writer committed `readings` (device, reading) with their batch logged as `id`.
    pub fn remember(&self, id: i64, readings: Vec<(i64, SampleRow)>) {
        let mut r = self.memory();
        r.readings += readings.len();
        r.batches.insert(id, readings);
        while r.readings > REMEMBER_AT_MOST {
            let Some((_, oldest)) = r.batches.pop_first() else {
                break;
            };
            r.readings -= oldest.len();
        }
    }

    /// Takes the readings of the logged batches `ids` that were handed over. Batches of
    /// this writer older than the newest of these and not among them were rolled up by
    /// another process: they are forgotten. (This writer commits in id order, and a batch
    /// is handed over only once committed.)
    fn recall(&self, ids: &[i64]) -> HashMap<i64, Vec<(i64, SampleRow)>> {
        let mut r = self.memory();
        let mut out = HashMap::new();
        for id in ids {
            if let Some(readings) = r.batches.remove(id) {
                r.readings -= readings.len();
                out.insert(*id, readings);
            }
        }
        if let Some(newest) = out.keys().max().copied() {
            let gone: Vec<i64> = r.batches.range(..newest).map(|(id, _)| *id).collect();
            for id in gone {
                let readings = r.batches.remove(&id).expect("listed above");
                r.readings -= readings.len();
            }
        }
        out
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Remembered> {
        self.remembered
            .lock()
            .expect("the remembered readings are never poisoned")
    }

    /// The writer has stopped: the roller finishes what is pending and returns.
    pub fn close(&self) {
        self.with(|s| {
            s.closing = true;
            s.now = true;
        });
        self.wake.notify_one();
    }
}

enum Step {
    /// Roll up now; the instant of the oldest mark taken up, if the writer noted one.
    Pass(Option<Instant>),
    /// Nothing due before this instant (None: until woken).
    Wait(Option<Instant>),
    Stop,
}

/// Runs passes until the writer closes `pending` (after a last pass) or `shutdown`.
pub async fn run(
    store: Store,
    directory: Directory,
    zone: Tz,
    max_lag: Duration,
    pending: Arc<Pending>,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(200);
    // How long marks may wait while the writer is busy: `max_lag`, or longer after a slow pass.
    let mut lag = max_lag;
    loop {
        // The marks are taken off `pending` before the pass reads them: a batch that commits
        // after this has its marks rolled up by this pass or by the next, never by neither.
        let step = pending.with(|s| {
            if s.now || s.oldest.is_some_and(|t| t.elapsed() >= lag) {
                s.now = false;
                s.busy = true;
                Step::Pass(s.oldest.take())
            } else if s.closing {
                Step::Stop
            } else {
                Step::Wait(s.oldest.map(|t| t + lag))
            }
        });
        let taken = match step {
            Step::Pass(taken) => taken,
            Step::Stop => return,
            Step::Wait(deadline) => {
                let until = deadline.map_or_else(far_future, tokio::time::Instant::from_std);
                tokio::select! {
                    _ = pending.wake.notified() => {}
                    _ = tokio::time::sleep_until(until) => {}
                    _ = shutdown.cancelled() => return,
                }
                continue;
            }
        };
        let started = Instant::now();
        let result = pass(&store, &directory, zone, &pending).await;
        pending.with(|s| s.busy = false);
        match result {
            Ok(marks) => {
                backoff = Duration::from_millis(200);
                lag = paced_lag(max_lag, started.elapsed());
                tracing::debug!(
                    marks,
                    ms = started.elapsed().as_millis() as u64,
                    "marked rollups recomputed"
                );
            }
            Err(e) => {
                tracing::error!(error = %e, retry_in_ms = backoff.as_millis() as u64, "rolling up marked devices failed; retrying");
                // Put the marks back in the queue, as old as they were.
                pending.with(|s| {
                    s.oldest = match (s.oldest, taken) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b).or(Some(started)),
                    };
                    s.now = true;
                });
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Under a sustained backlog, passes every `max_lag` once took a quarter of ingest's
/// throughput in the ingest benchmark (a province's 20,000 devices: about 2 s a pass, when
/// a pass reread every marked device's hours; rolling forward, it is under 1 s). After a pass of
/// `took`, the next one waits for the writer's marks at least [`REST_PER_PASS`] times as
/// long: the roller then takes at most a fifth of the time, and fewer passes reread less.
/// A writer that goes idle still has its marks rolled up at once.
fn paced_lag(max_lag: Duration, took: Duration) -> Duration {
    if max_lag.is_zero() {
        return max_lag;
    }
    max_lag.max(took * REST_PER_PASS)
}

/// See [`paced_lag`].
const REST_PER_PASS: u32 = 4;

fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(86_400)
}

/// One pass: every marked device, in one transaction.
async fn pass(
    store: &Store,
    directory: &Directory,
    zone: Tz,
    pending: &Pending,
) -> Result<usize, sqlx::Error> {
    let snap = directory.snapshot();
    let rated = |id: i64| snap.by_id.get(&id).and_then(|d| d.rated_kw);
    let mut tx = store.begin_write().await?;
    let marks = roll_up_marked(&mut tx, HashMap::new(), rated, zone, pending).await?;
    tx.commit().await?;
    Ok(marks)
}

/// Recomputes the rollups of `touched` and of every logged or marked device in `tx`, and
/// removes the rows rolled up; returns how many there were.
pub async fn roll_up_marked(
    tx: &mut Tx,
    mut touched: HashMap<i64, Touched>,
    rated: impl Fn(i64) -> Option<f64>,
    zone: Tz,
    pending: &Pending,
) -> Result<usize, sqlx::Error> {
    // Read before the readings are: what a batch logged, its readings committed with.
    let batches = dispatch_tx!(&mut *tx, telemetry::pending())?;
    let marked = dispatch_tx!(&mut *tx, telemetry::dirty())?;
    let logged: Vec<i64> = batches.iter().map(|(id, _)| *id).collect();
    let mut recalled = pending.recall(&logged);
    // A device's new readings are known when every batch that logged it was handed over.
    let mut known: HashMap<i64, Vec<SampleRow>> = HashMap::new();
    let mut unknown: HashSet<i64> = touched.keys().copied().collect();
    for (id, spans) in &batches {
        match recalled.remove(id) {
            Some(readings) => {
                for (device, r) in readings {
                    known.entry(device).or_default().push(r);
                }
            }
            None => unknown.extend(spans.iter().map(|s| s.device_id)),
        }
    }
    unknown.extend(marked.iter().map(|m| m.span.device_id));
    known.retain(|device, _| !unknown.contains(device));
    for s in batches
        .iter()
        .flat_map(|(_, spans)| spans)
        .chain(marked.iter().map(|m| &m.span))
    {
        widen(&mut touched, s.device_id, s.from.0, s.to.0);
    }
    recompute::recompute(tx, &touched, known, rated, zone).await?;
    if !logged.is_empty() {
        dispatch_tx!(&mut *tx, telemetry::clear_pending(&logged))?;
    }
    if !marked.is_empty() {
        dispatch_tx!(&mut *tx, telemetry::clear_dirty_many(&marked))?;
    }
    Ok(logged.len() + marked.len())
}

/// Widens `device`'s span in `touched` to cover [first, last].
pub fn widen(
    touched: &mut HashMap<i64, Touched>,
    device: i64,
    first: chrono::DateTime<chrono::Utc>,
    last: chrono::DateTime<chrono::Utc>,
) {
    touched
        .entry(device)
        .and_modify(|t| {
            t.first = t.first.min(first);
            t.last = t.last.max(last);
        })
        .or_insert(Touched { first, last });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Ts;

    fn row(ms: i64) -> SampleRow {
        SampleRow {
            ts: Ts::from_millis(ms).unwrap(),
            counter: None,
            ac_power_w: Some(1.0),
            irradiance_poa_wm2: None,
            quality: 0,
        }
    }

    #[test]
    fn the_roller_recalls_what_was_handed_over_and_forgets_what_others_rolled_up() {
        let p = Pending::default();
        p.remember(3, vec![(1, row(0))]);
        p.remember(5, vec![(1, row(1)), (2, row(1))]);
        p.remember(8, vec![(2, row(2))]);
        // The pass read batches 4 (another process's) and 5. Batch 3 is gone from the log:
        // another process rolled it up. Batch 8 was committed after the pass read the log.
        let got = p.recall(&[4, 5]);
        assert_eq!(got.keys().copied().collect::<Vec<_>>(), vec![5]);
        assert_eq!(got[&5].len(), 2);
        assert!(p.recall(&[3]).is_empty(), "forgotten");
        assert_eq!(p.recall(&[8])[&8].len(), 1);
        assert_eq!(p.memory().readings, 0);
    }

    #[test]
    fn beyond_its_bound_the_oldest_batches_are_forgotten() {
        let p = Pending::default();
        p.remember(1, vec![(1, row(0)); REMEMBER_AT_MOST / 2 + 1]);
        p.remember(2, vec![(1, row(1)); REMEMBER_AT_MOST / 2]);
        assert_eq!(p.memory().readings, REMEMBER_AT_MOST / 2);
        assert!(p.recall(&[1]).is_empty());
        assert_eq!(p.recall(&[2])[&2].len(), REMEMBER_AT_MOST / 2);
    }

    #[test]
    fn a_slow_pass_spaces_the_next_one_out_and_a_quick_one_does_not() {
        let lag = Duration::from_secs(5);
        assert_eq!(paced_lag(lag, Duration::from_millis(300)), lag);
        assert_eq!(
            paced_lag(lag, Duration::from_secs(2)),
            Duration::from_secs(8)
        );
        // Zero: rollups are never deferred, and nothing is paced.
        assert_eq!(
            paced_lag(Duration::ZERO, Duration::from_secs(2)),
            Duration::ZERO
        );
    }
}
