//! Rollups deferred under a backlog (issue 7): while more is queued behind a batch, the
//! writer commits its readings with a mark in `rollup_pending` and recomputes the hours and
//! days later, together. Once the queue is empty the rollups must be exactly what writing
//! the same payloads one at a time (every batch rolled up at once) gives.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::metrics::sample;
use common::{TestApp, TestDb, example_dir, example_secret};
use pvledger::ledger::import_dir;
use pvledger::store::telemetry::DeviceSpan;
use pvledger::store::{Store, Ts};
use serde_json::{Value, json};

const GW: &str = "GW-149901101201";
const INVERTERS: [&str; 3] = [
    "INV-PV149901101201-01-1",
    "INV-PV149901101201-01-2",
    "INV-PV149901101201-01-3",
];
const MINUTES: i64 = 180;

/// 22:00 in Shanghai: three hours that cross local midnight, so two days are rolled up.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 14, 0, 0).unwrap()
}

/// One payload per minute with the three inverters' readings. Inverter 2's counter is reset
/// once (a bad interval); inverter 3 is silent for half an hour, and that half hour arrives
/// last, as a late payload of its own.
fn payloads() -> Vec<String> {
    let gap = 100..130;
    let reading = |i: usize, m: i64| {
        let mut counter = 5_000.0 + i as f64 * 1_000.0 + m as f64 * (0.25 + i as f64 * 0.125);
        if i == 1 && m >= 150 {
            counter -= 4_000.0;
        }
        json!({
            "device": INVERTERS[i],
            "ts": (t0() + Duration::minutes(m)).to_rfc3339(),
            "ac_power_w": 15_000.0 + (m % 17) as f64 * 100.0 + i as f64,
            "energy_total_kwh": counter,
        })
    };
    let body = |readings: Vec<Value>| json!({"gateway": GW, "readings": readings}).to_string();
    let mut out: Vec<String> = (0..MINUTES)
        .map(|m| {
            body(
                (0..3)
                    .filter(|&i| !(i == 2 && gap.contains(&m)))
                    .map(|i| reading(i, m))
                    .collect(),
            )
        })
        .collect();
    out.push(body(gap.map(|m| reading(2, m)).collect()));
    out
}

type HourRow = (String, Ts, f64, Option<f64>, i32, Option<f64>, i32, String);
type DayRow = (String, String, f64, Option<f64>, i32, i32, i32, i32);

/// Every rollup and quality flag, by device code (ids may differ between databases).
async fn rollups(store: &Store) -> (Vec<HourRow>, Vec<DayRow>, Vec<(String, Ts, i16)>) {
    let hours = "SELECT d.code, h.hour, h.energy_kwh, h.peak_power_w, h.samples, h.irradiation_kwh_m2, \
                 h.bad_intervals, h.source FROM energy_hourly h JOIN devices d ON d.id = h.device_id ORDER BY 1, 2";
    let days = "SELECT d.code, CAST(e.day AS TEXT), e.energy_kwh, e.peak_power_w, e.samples, e.bad_intervals, \
                e.data_hours, e.producing_hours FROM energy_daily e JOIN devices d ON d.id = e.device_id ORDER BY 1, 2";
    let flags = "SELECT d.code, r.ts, r.quality FROM readings r JOIN devices d ON d.id = r.device_id ORDER BY 1, 2";
    match store {
        Store::Sqlite(p) => (
            sqlx::query_as(hours).fetch_all(p).await.unwrap(),
            sqlx::query_as(days).fetch_all(p).await.unwrap(),
            sqlx::query_as(flags).fetch_all(p).await.unwrap(),
        ),
        Store::Postgres(p) => (
            sqlx::query_as(hours).fetch_all(p).await.unwrap(),
            sqlx::query_as(days).fetch_all(p).await.unwrap(),
            sqlx::query_as(flags).fetch_all(p).await.unwrap(),
        ),
    }
}

/// Batches logged and devices marked whose rollups trail their readings.
const LEFT_TO_ROLL_UP: &str =
    "SELECT (SELECT COUNT(*) FROM rollup_pending) + (SELECT COUNT(*) FROM rollup_dirty)";

async fn scalar(store: &Store, sql: &str) -> i64 {
    match store {
        Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    }
}

/// Batches whose rollups were deferred, from the service's /metrics.
async fn deferred_batches(base: &str) -> f64 {
    sample(base, "pvledger_ingest_rollups_deferred_total").await
}

async fn a_backlog_rolled_up_later_equals_one_batch_at_a_time(db: TestDb) {
    let reference = match &db.store {
        Store::Sqlite(_) => TestDb::sqlite().await,
        Store::Postgres(_) => TestDb::postgres().await,
    };
    for d in [&db, &reference] {
        import_dir(&d.store, &example_dir(), "test", false)
            .await
            .unwrap();
    }
    let secret = example_secret(GW);
    let payloads = payloads();

    // One payload at a time, each rolled up in its own transaction.
    let one_by_one = TestApp::spawn_with(&reference, |c| c.ingest.rollup_max_lag_ms = 0).await;
    for p in &payloads {
        let (status, body) = one_by_one.ingest(GW, &secret, p).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(deferred_batches(&one_by_one.base).await, 0.0);

    // Every reading in one payload: each device's hours recomputed whole, from no rollups.
    // One payload at a time rolled each device forward from where its rollups ended: the
    // two must agree to the last bit.
    let whole = match &db.store {
        Store::Sqlite(_) => TestDb::sqlite().await,
        Store::Postgres(_) => TestDb::postgres().await,
    };
    import_dir(&whole.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let all: Vec<Value> = payloads
        .iter()
        .flat_map(|p| {
            let p: Value = serde_json::from_str(p).unwrap();
            p["readings"].as_array().unwrap().clone()
        })
        .collect();
    let at_once = TestApp::spawn_with(&whole, |c| c.ingest.rollup_max_lag_ms = 0).await;
    let body = json!({"gateway": GW, "readings": all}).to_string();
    let (status, body) = at_once.ingest(GW, &secret, &body).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(rollups(&whole.store).await, rollups(&reference.store).await);

    // All at once, in small batches, so that a queue forms behind each batch.
    let backlog = TestApp::spawn_with(&db, |c| {
        c.ingest.batch_max_rows = 9;
        c.ingest.rollup_max_lag_ms = 60_000;
    })
    .await;
    let posts: Vec<_> = payloads
        .iter()
        .map(|p| {
            let (client, url, secret, p) = (
                backlog.client.clone(),
                format!("{}/api/v1/ingest", backlog.base),
                secret.clone(),
                p.clone(),
            );
            tokio::spawn(async move {
                client
                    .post(url)
                    .basic_auth(GW, Some(secret))
                    .header("content-type", "application/json")
                    .body(p)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    for post in posts {
        assert_eq!(post.await.unwrap(), 200);
    }
    assert!(
        deferred_batches(&backlog.base).await > 0.0,
        "no batch was written behind a backlog: the test did not exercise deferral"
    );

    // Every payload is confirmed. The last batch either had nothing queued behind it and
    // rolled up everything marked before it, or closed full and left its marks for the
    // writer to roll up once idle (after batch_linger_ms).
    common::eventually(10, "the deferred rollups done", || async {
        (scalar(&db.store, LEFT_TO_ROLL_UP).await == 0).then_some(())
    })
    .await;
    let expected = MINUTES * 3;
    assert_eq!(
        scalar(&db.store, "SELECT COUNT(*) FROM readings").await,
        expected
    );
    let (hours, days, flags) = rollups(&db.store).await;
    let (ref_hours, ref_days, ref_flags) = rollups(&reference.store).await;
    assert_eq!(hours.len(), 3 * 3, "three inverters, three hours");
    assert_eq!(days.len(), 3 * 2, "three inverters, two local days");
    assert!(
        hours.iter().any(|h| h.6 > 0),
        "the counter reset shows as a bad interval"
    );
    assert_eq!(hours, ref_hours);
    assert_eq!(days, ref_days);
    assert_eq!(flags, ref_flags);
}

/// Marks left by a writer that stopped before rolling them up (a crash) are rolled up when
/// the next writer starts.
async fn marks_left_behind_are_rolled_up_at_start(db: TestDb) {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let secret = example_secret(GW);
    let first = TestApp::spawn(&db).await;
    for p in payloads().iter().take(90) {
        assert_eq!(first.ingest(GW, &secret, p).await.0, 200);
    }
    let (hours, days, _) = rollups(&db.store).await;
    // As a writer that died after committing readings would leave them: rollups missing,
    // marks in place. (The first service stays up, idle: stopping it would close the pool
    // this test shares with it.)
    let wipe = [
        "DELETE FROM energy_hourly",
        "DELETE FROM energy_daily",
        "INSERT INTO rollup_dirty (device_id, first_ts, last_ts) \
         SELECT device_id, MIN(ts), MAX(ts) FROM readings GROUP BY device_id",
    ];
    for sql in wipe {
        match &db.store {
            Store::Sqlite(p) => sqlx::query(sql).execute(p).await.map(drop).unwrap(),
            Store::Postgres(p) => sqlx::query(sql).execute(p).await.map(drop).unwrap(),
        }
    }
    assert_eq!(
        scalar(&db.store, "SELECT COUNT(*) FROM energy_hourly").await,
        0
    );

    let _second = TestApp::spawn(&db).await;
    common::eventually(20, "the marks rolled up", || async {
        (scalar(&db.store, LEFT_TO_ROLL_UP).await == 0).then_some(())
    })
    .await;
    let (after_hours, after_days, _) = rollups(&db.store).await;
    assert_eq!(
        after_hours.len(),
        3 * 2,
        "90 minutes: two hours per inverter"
    );
    assert_eq!(
        after_days.len(),
        3,
        "90 minutes before local midnight: one day"
    );
    assert_eq!(after_hours, hours);
    assert_eq!(after_days, days);
}

/// Marks a device over [0, 10] minutes, reads the marks as a roll-up does, marks it again
/// with a late reading inside that span (widening nothing), then clears what was read;
/// returns the marks left, then the marks left after clearing those.
macro_rules! mark_again_during_a_roll_up {
    ($pool:expr, $($m:ident)::+) => {{
        let at = |m: i64| Ts(t0() + Duration::minutes(m));
        let span = |from, to| DeviceSpan { device_id: 1, from: at(from), to: at(to) };
        let mut c = $pool.acquire().await.unwrap();
        $($m)::+::mark_dirty_many(&mut c, &[span(0, 10)]).await.unwrap();
        let read = $($m)::+::dirty(&mut *c).await.unwrap();
        $($m)::+::mark_dirty_many(&mut c, &[span(5, 5)]).await.unwrap();
        $($m)::+::clear_dirty_many(&mut c, &read).await.unwrap();
        let left = $($m)::+::dirty(&mut *c).await.unwrap();
        $($m)::+::clear_dirty_many(&mut c, &left).await.unwrap();
        let spans: Vec<DeviceSpan> = left.iter().map(|m| m.span).collect();
        (spans, $($m)::+::dirty(&mut *c).await.unwrap().len(), span(0, 10))
    }};
}

/// The roller clears marks while the writer goes on marking: a reading marked after the
/// roller read the readings must keep its device's mark, even when it lies inside the
/// marked span, or it would never be rolled up.
async fn a_device_marked_again_during_a_roll_up_keeps_its_mark(db: TestDb) {
    let (left, after, whole) = match &db.store {
        Store::Sqlite(p) => mark_again_during_a_roll_up!(p, pvledger::store::lite::telemetry),
        Store::Postgres(p) => mark_again_during_a_roll_up!(p, pvledger::store::pg::telemetry),
    };
    assert_eq!(left, vec![whole], "the mark stays, its span unchanged");
    assert_eq!(after, 0, "a mark not renewed meanwhile is cleared");
}

/// A roll-up removes exactly the logged batches it read: one logged while it ran stays.
async fn a_batch_logged_during_a_roll_up_keeps_its_row(db: TestDb) {
    let span = |m: i64| DeviceSpan {
        device_id: 1,
        from: Ts(t0() + Duration::minutes(m)),
        to: Ts(t0() + Duration::minutes(m)),
    };
    macro_rules! log_during_a_roll_up {
        ($pool:expr, $($m:ident)::+) => {{
            let mut c = $pool.acquire().await.unwrap();
            $($m)::+::log_pending(&mut c, &[span(0)]).await.unwrap();
            let read: Vec<i64> = $($m)::+::pending(&mut *c).await.unwrap().iter().map(|(id, _)| *id).collect();
            $($m)::+::log_pending(&mut c, &[span(5)]).await.unwrap();
            $($m)::+::clear_pending(&mut c, &read).await.unwrap();
            $($m)::+::pending(&mut *c).await.unwrap().into_iter().flat_map(|(_, spans)| spans).collect::<Vec<_>>()
        }};
    }
    let left = match &db.store {
        Store::Sqlite(p) => log_during_a_roll_up!(p, pvledger::store::lite::telemetry),
        Store::Postgres(p) => log_during_a_roll_up!(p, pvledger::store::pg::telemetry),
    };
    assert_eq!(left, vec![span(5)]);
}

both_backends!(
    a_batch_logged_during_a_roll_up_keeps_its_row,
    a_backlog_rolled_up_later_equals_one_batch_at_a_time,
    marks_left_behind_are_rolled_up_at_start,
    a_device_marked_again_during_a_roll_up_keeps_its_mark,
);
