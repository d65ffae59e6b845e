//! The disk outbox: every polled reading is written here first, and leaves only when the
//! central broker has acknowledged the message that carried it.
//!
//! SQLite in WAL mode with `synchronous=FULL`: a committed append survives kill -9 and
//! power loss. Ids are AUTOINCREMENT, so they never go back and never repeat: "oldest
//! first" is "lowest id first", and a sent batch is exactly the id range it covered.
//!
//! The outbox is bounded (`max_readings`). An append that would take it over the bound
//! thins it in the same transaction, down to 90 % of the bound ([`thin_target`]): first the oldest readings that
//! are not the first of their device in their UTC hour, then (only if those alone still
//! overflow) the oldest hourly ones; readings sent and awaiting their PUBACK are never
//! thinned (they may already be at the centre). The hourly readings carry the lifetime energy
//! counters from which the centre computes hourly energy, so a long outage costs
//! resolution, not energy. Every thinning is counted on disk and reported.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool as Pool, SqliteSynchronous,
};

use crate::reading::{DeviceReading, Reading};

/// Errors of the outbox; the path tells the operator which file.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox {path}: {source}")]
    Db {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
    #[error("outbox {path}: a stored reading cannot be read back (id {id}): {detail}")]
    Corrupt {
        path: PathBuf,
        id: i64,
        detail: String,
    },
}

/// One reading waiting in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: i64,
    pub reading: DeviceReading,
}

/// What one thinning removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Thinned {
    /// Readings removed that were not the first of their device's hour.
    pub raw: u64,
    /// Hourly readings removed because even those did not fit (a very long outage).
    pub hourly: u64,
}

/// The outbox as reported in the gateway's status.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Readings waiting.
    pub depth: u64,
    /// The bound.
    pub max_readings: u64,
    /// Timestamp of the oldest reading waiting.
    pub oldest_unsent: Option<DateTime<Utc>>,
    /// Every reading ever appended (survives restarts).
    pub appended_total: u64,
    /// Readings removed by thinning, ever (raw, then hourly).
    pub thinned_raw_total: u64,
    pub thinned_hourly_total: u64,
    pub last_thinned_at: Option<DateTime<Utc>>,
}

/// How many readings a thinning leaves: 90 % of the bound, so that a full outbox is not
/// thinned again at every single append.
pub fn thin_target(max_readings: u64) -> u64 {
    max_readings - max_readings / 10
}

/// The UTC hour of a timestamp in milliseconds.
fn hour_of(ts_ms: i64) -> i64 {
    ts_ms.div_euclid(3_600_000)
}

/// Held across each write (an async lock): the depth changes only together with the rows.
struct State {
    /// The last hour appended per device, to mark the first reading of each hour.
    last_hour: HashMap<String, i64>,
    /// Id ranges sent and not yet acknowledged: never thinned (they may already be at the
    /// centre, and a reading must not be both delivered and reported as thinned).
    claimed: std::collections::BTreeMap<i64, i64>,
}

/// The outbox file. One connection: the gateway writes little, and serialised access keeps
/// appends, sends and deletes simple to reason about.
pub struct Outbox {
    pool: Pool,
    path: PathBuf,
    max_readings: u64,
    state: tokio::sync::Mutex<State>,
    /// Readings stored, exact: changed only under `state`.
    depth: AtomicU64,
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS outbox (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        device  TEXT NOT NULL,
        -- Gateway clock, Unix milliseconds.
        ts_ms   INTEGER NOT NULL,
        -- The decoded values as JSON (crate::reading::Reading).
        reading TEXT NOT NULL,
        -- 1 = the first reading of its device in its UTC hour: thinned last.
        hourly  INTEGER NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS outbox_thin ON outbox (hourly, id)",
    // Counters that must survive restarts, by name.
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
];

impl Outbox {
    /// Opens (creating when missing) the outbox file at `path`.
    pub async fn open(path: &Path, max_readings: u64) -> Result<Outbox, OutboxError> {
        let err = |source| OutboxError::Db {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(sqlx::Error::Io(e)))?;
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = sqlx::pool::PoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(err)?;
        for statement in SCHEMA {
            sqlx::query(statement).execute(&pool).await.map_err(err)?;
        }
        let depth: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(&pool)
            .await
            .map_err(err)?;
        let rows = sqlx::query("SELECT device, MAX(ts_ms) FROM outbox GROUP BY device")
            .fetch_all(&pool)
            .await
            .map_err(err)?;
        let last_hour = rows
            .iter()
            .map(|r: &sqlx::sqlite::SqliteRow| (r.get::<String, _>(0), hour_of(r.get::<i64, _>(1))))
            .collect();
        Ok(Outbox {
            pool,
            path: path.to_owned(),
            max_readings: max_readings.max(10),
            state: tokio::sync::Mutex::new(State {
                last_hour,
                claimed: Default::default(),
            }),
            depth: AtomicU64::new(depth as u64),
        })
    }

    fn db(&self, source: sqlx::Error) -> OutboxError {
        OutboxError::Db {
            path: self.path.clone(),
            source,
        }
    }

    /// The bound, in readings.
    pub fn max_readings(&self) -> u64 {
        self.max_readings
    }

    /// Readings waiting (kept in memory, exact).
    pub fn depth(&self) -> u64 {
        self.depth.load(Ordering::SeqCst)
    }

    /// Appends `batch` and, when that passes the bound, thins in the same transaction:
    /// the file never holds more than `max_readings`. Returns what a thinning removed.
    pub async fn append(&self, batch: &[DeviceReading]) -> Result<Option<Thinned>, OutboxError> {
        if batch.is_empty() {
            return Ok(None);
        }
        let mut state = self.state.lock().await;
        let hourly: Vec<bool> = batch
            .iter()
            .map(|r| {
                let hour = hour_of(r.ts.timestamp_millis());
                let last = state.last_hour.insert(r.device_code.clone(), hour);
                last.is_none_or(|h| h != hour)
            })
            .collect();
        let mut tx = self.pool.begin().await.map_err(|e| self.db(e))?;
        for (r, hourly) in batch.iter().zip(hourly) {
            let json = serde_json::to_string(&r.reading).expect("a reading serialises");
            sqlx::query(
                "INSERT INTO outbox (device, ts_ms, reading, hourly) VALUES ($1, $2, $3, $4)",
            )
            .bind(&r.device_code)
            .bind(r.ts.timestamp_millis())
            .bind(json)
            .bind(i64::from(hourly))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        }
        add_counter(&mut tx, "appended", batch.len() as i64)
            .await
            .map_err(|e| self.db(e))?;
        let depth = self.depth() + batch.len() as u64;
        let thinned = if depth > self.max_readings {
            let excess = depth - thin_target(self.max_readings);
            let claimed: Vec<(i64, i64)> = state.claimed.iter().map(|(a, b)| (*a, *b)).collect();
            Some(
                thin(&mut tx, excess, &claimed)
                    .await
                    .map_err(|e| self.db(e))?,
            )
        } else {
            None
        };
        tx.commit().await.map_err(|e| self.db(e))?;
        let removed = thinned.map_or(0, |t| t.raw + t.hourly);
        self.depth.store(depth - removed, Ordering::SeqCst);
        drop(state);
        Ok(thinned)
    }

    /// Up to `limit` readings with `after < id <= up_to`, oldest first.
    pub async fn batch(
        &self,
        after: i64,
        up_to: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Entry>, OutboxError> {
        let rows = sqlx::query(
            "SELECT id, device, ts_ms, reading FROM outbox WHERE id > $1 AND id <= $2
             ORDER BY id LIMIT $3",
        )
        .bind(after)
        .bind(up_to.unwrap_or(i64::MAX))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.get(0);
                let corrupt = |detail: String| OutboxError::Corrupt {
                    path: self.path.clone(),
                    id,
                    detail,
                };
                let reading: Reading = serde_json::from_str(row.get::<&str, _>(3))
                    .map_err(|e| corrupt(e.to_string()))?;
                let ts = Utc
                    .timestamp_millis_opt(row.get(2))
                    .single()
                    .ok_or_else(|| corrupt("timestamp out of range".into()))?;
                Ok(Entry {
                    id,
                    reading: DeviceReading {
                        device_code: row.get(1),
                        ts,
                        reading,
                    },
                })
            })
            .collect()
    }

    /// The highest id stored (0 when empty).
    pub async fn max_id(&self) -> Result<i64, OutboxError> {
        sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM outbox")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.db(e))
    }

    /// Marks `first..=last` as sent and waiting for its acknowledgement.
    pub async fn claim(&self, first: i64, last: i64) {
        self.state.lock().await.claimed.insert(first, last);
    }

    /// Forgets every claim (the MQTT session ended: unacknowledged readings go again).
    pub async fn release_all(&self) {
        self.state.lock().await.claimed.clear();
    }

    /// Removes the readings of an acknowledged message: every id in `first..=last`. Ids
    /// are never reused and a batch is a contiguous run of what was stored, so the range
    /// holds exactly that message's readings (some may have been thinned meanwhile).
    pub async fn remove(&self, first: i64, last: i64) -> Result<u64, OutboxError> {
        let mut state = self.state.lock().await;
        state.claimed.remove(&first);
        let removed = sqlx::query("DELETE FROM outbox WHERE id BETWEEN $1 AND $2")
            .bind(first)
            .bind(last)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db(e))?
            .rows_affected();
        self.depth
            .store(self.depth().saturating_sub(removed), Ordering::SeqCst);
        drop(state);
        Ok(removed)
    }

    /// Depth, age and counters, for the status message.
    pub async fn summary(&self) -> Result<Summary, OutboxError> {
        let oldest: Option<i64> =
            sqlx::query_scalar("SELECT ts_ms FROM outbox ORDER BY id LIMIT 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.db(e))?;
        let counters: HashMap<String, i64> =
            sqlx::query_as::<_, (String, i64)>("SELECT name, value FROM counters")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.db(e))?
                .into_iter()
                .collect();
        let counter = |name: &str| counters.get(name).copied().unwrap_or(0) as u64;
        Ok(Summary {
            depth: self.depth(),
            max_readings: self.max_readings,
            oldest_unsent: oldest.and_then(|ms| Utc.timestamp_millis_opt(ms).single()),
            appended_total: counter("appended"),
            thinned_raw_total: counter("thinned_raw"),
            thinned_hourly_total: counter("thinned_hourly"),
            last_thinned_at: counters
                .get("last_thinned_ms")
                .and_then(|ms| Utc.timestamp_millis_opt(*ms).single()),
        })
    }

    /// Closes the file (checkpointing the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Deletes `excess` readings: oldest non-hourly first, then oldest hourly; counts them.
async fn thin(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    excess: u64,
    claimed: &[(i64, i64)],
) -> Result<Thinned, sqlx::Error> {
    // Ranges in flight are left alone (a handful at most: `inflight_messages`).
    let unclaimed: String = claimed
        .iter()
        .map(|(a, b)| format!(" AND id NOT BETWEEN {a} AND {b}"))
        .collect();
    let raw = sqlx::query(&format!(
        "DELETE FROM outbox WHERE id IN
           (SELECT id FROM outbox WHERE hourly = 0{unclaimed} ORDER BY id LIMIT $1)"
    ))
    .bind(excess as i64)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let hourly = if excess > raw {
        sqlx::query(&format!(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE 1 = 1{unclaimed} ORDER BY id LIMIT $1)"
        ))
        .bind((excess - raw) as i64)
        .execute(&mut **tx)
        .await?
        .rows_affected()
    } else {
        0
    };
    add_counter(tx, "thinned_raw", raw as i64).await?;
    add_counter(tx, "thinned_hourly", hourly as i64).await?;
    sqlx::query(
        "INSERT INTO counters (name, value) VALUES ('last_thinned_ms', $1)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .bind(Utc::now().timestamp_millis())
    .execute(&mut **tx)
    .await?;
    Ok(Thinned { raw, hourly })
}

async fn add_counter(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    name: &str,
    by: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO counters (name, value) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value",
    )
    .bind(name)
    .bind(by)
    .execute(&mut **tx)
    .await
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(device: &str, ts: DateTime<Utc>, kwh: f64) -> DeviceReading {
        DeviceReading {
            device_code: device.into(),
            ts,
            reading: Reading {
                energy_total_kwh: Some(kwh),
                ..Default::default()
            },
        }
    }

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, h, m, 0).unwrap()
    }

    #[tokio::test]
    async fn appended_readings_come_back_oldest_first_and_leave_when_removed() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(&dir.path().join("o.sqlite"), 100)
            .await
            .unwrap();
        let batch: Vec<_> = (0..5).map(|m| reading("A", at(1, m), m as f64)).collect();
        outbox.append(&batch).await.unwrap();
        let got = outbox.batch(0, None, 3).await.unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].reading, batch[0]);
        outbox.remove(got[0].id, got[2].id).await.unwrap();
        let rest = outbox.batch(0, None, 10).await.unwrap();
        assert_eq!(
            rest.iter().map(|e| e.reading.ts).collect::<Vec<_>>(),
            [at(1, 3), at(1, 4)]
        );
        assert_eq!(outbox.depth(), 2);
        let s = outbox.summary().await.unwrap();
        assert_eq!((s.appended_total, s.oldest_unsent), (5, Some(at(1, 3))));
    }

    #[tokio::test]
    async fn a_full_outbox_drops_the_oldest_readings_but_keeps_each_hours_first() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(&dir.path().join("o.sqlite"), 100)
            .await
            .unwrap();
        // Three hours of one reading a minute for two devices: 360 readings, bound 100.
        for h in 0..3 {
            for m in 0..60 {
                let batch = [reading("A", at(h, m), 1.0), reading("B", at(h, m), 2.0)];
                outbox.append(&batch).await.unwrap();
                assert!(outbox.depth() <= 100, "the bound holds after every append");
            }
        }
        let left = outbox.batch(0, None, 1000).await.unwrap();
        for h in 0..3 {
            for d in ["A", "B"] {
                assert!(
                    left.iter()
                        .any(|e| e.reading.device_code == d && e.reading.ts == at(h, 0)),
                    "the first reading of {d} in hour {h} is kept"
                );
            }
        }
        // The newest readings are all there.
        assert!(left.iter().any(|e| e.reading.ts == at(2, 59)));
        let s = outbox.summary().await.unwrap();
        assert_eq!(s.appended_total, 360);
        assert_eq!(
            s.thinned_raw_total + s.depth,
            360,
            "every reading is sent or counted as thinned"
        );
        assert_eq!(s.thinned_hourly_total, 0);
        assert!(s.last_thinned_at.is_some());
    }

    #[tokio::test]
    async fn readings_in_flight_are_never_thinned() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(&dir.path().join("o.sqlite"), 10)
            .await
            .unwrap();
        let first: Vec<_> = (0..5).map(|m| reading("A", at(1, m), 1.0)).collect();
        outbox.append(&first).await.unwrap();
        let sent = outbox.batch(0, None, 5).await.unwrap();
        outbox.claim(sent[0].id, sent[4].id).await;
        let more: Vec<_> = (5..30).map(|m| reading("A", at(1, m), 1.0)).collect();
        outbox.append(&more).await.unwrap();
        let left = outbox.batch(0, None, 100).await.unwrap();
        assert_eq!(
            &left[..5],
            &sent[..],
            "the claimed readings are all still there"
        );
        // Acknowledged: they leave, and the claim with them.
        outbox.remove(sent[0].id, sent[4].id).await.unwrap();
        assert!(outbox.depth() <= 10);
    }

    #[tokio::test]
    async fn when_hourly_readings_alone_overflow_the_oldest_hours_go_and_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(&dir.path().join("o.sqlite"), 10)
            .await
            .unwrap();
        for h in 0..24 {
            outbox
                .append(&[reading("A", at(h, 0), h as f64)])
                .await
                .unwrap();
        }
        let s = outbox.summary().await.unwrap();
        assert!(s.depth <= 10);
        assert_eq!(s.thinned_hourly_total + s.depth, 24);
        let left = outbox.batch(0, None, 100).await.unwrap();
        assert_eq!(left.last().unwrap().reading.ts, at(23, 0));
    }

    #[tokio::test]
    async fn what_was_committed_is_there_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.sqlite");
        {
            let outbox = Outbox::open(&path, 100).await.unwrap();
            outbox.append(&[reading("A", at(1, 0), 1.0)]).await.unwrap();
            // No close: as after kill -9, the WAL is not checkpointed.
        }
        let outbox = Outbox::open(&path, 100).await.unwrap();
        assert_eq!(outbox.depth(), 1);
        assert_eq!(outbox.summary().await.unwrap().appended_total, 1);
        // Ids go on after the highest ever used.
        let before = outbox.max_id().await.unwrap();
        outbox.append(&[reading("A", at(1, 1), 1.0)]).await.unwrap();
        assert!(outbox.max_id().await.unwrap() > before);
    }
}
