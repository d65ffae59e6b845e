//! A station's energy read through the year packs of daily energy (issue 7,
//! store/daily_packs.rs): whatever the packs hold, the answer must be what `energy_daily`
//! alone gives. Two databases get the same readings: one never packs (its service has
//! `ingest.pack_every_s = 0`), the other is packed by its service at start. Their answers
//! are compared after packing, after a late reading (which must drop the packs it makes
//! untrue, at once) and after packing again.

mod common;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use common::{TestApp, TestDb, example_dir, example_secret};
use pvledger::ledger::import_dir;
use pvledger::store::Store;
use serde_json::{Value, json};

const GW: &str = "GW-149901101201";
const STATION: &str = "PV149901101201-01";
const INVERTERS: [&str; 3] = [
    "INV-PV149901101201-01-1",
    "INV-PV149901101201-01-2",
    "INV-PV149901101201-01-3",
];
/// The station's devices that packs are kept for: three inverters and the meter.
const DEVICES: i64 = 4;

fn today() -> NaiveDate {
    Utc::now().with_timezone(&Shanghai).date_naive()
}

/// A local time on `day`, in UTC.
fn local(day: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    Shanghai
        .from_local_datetime(&day.and_hms_opt(h, m, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// A payload of the three inverters at `at`, their counters at `k` kWh and more.
fn payload(at: DateTime<Utc>, k: f64) -> String {
    let readings: Vec<Value> = INVERTERS
        .iter()
        .enumerate()
        .map(|(i, device)| {
            json!({
                "device": device,
                "ts": at.to_rfc3339(),
                "ac_power_w": 20_000.0 + i as f64 * 1_000.0,
                "energy_total_kwh": 10_000.0 * (i + 1) as f64 + k * (1.0 + i as f64 * 0.25),
            })
        })
        .collect();
    json!({"gateway": GW, "readings": readings}).to_string()
}

/// Noon and one o'clock on every seventh day of the last 430 (so two years and more are
/// packed, with days between them that have no rows), and yesterday; the first minutes of
/// today as far as they have passed.
fn payloads() -> Vec<String> {
    let today = today();
    let mut days: Vec<NaiveDate> = (1..62).map(|w| today - Duration::days(7 * w)).collect();
    days.push(today - Duration::days(1));
    days.sort();
    let mut out = Vec::new();
    for (n, day) in days.iter().enumerate() {
        let k = n as f64 * 300.0;
        out.push(payload(local(*day, 12, 0), k));
        out.push(payload(local(*day, 13, 0), k + 95.5 + n as f64 * 0.37));
    }
    let now = Utc::now() - Duration::seconds(5);
    let k = days.len() as f64 * 300.0;
    for m in [1, 2] {
        if local(today, 0, m) <= now {
            out.push(payload(local(today, 0, m), k + m as f64 * 0.5));
        }
    }
    out
}

async fn scalar(store: &Store, sql: &str) -> i64 {
    match store {
        Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    }
}

/// Packs of the station's devices that reach `through`, and the station's packs in all.
async fn packs(store: &Store, through: NaiveDate) -> (i64, i64) {
    let of_station = format!(
        "SELECT COUNT(*) FROM energy_daily_packs p JOIN devices d ON d.id = p.device_id \
         WHERE d.station_code = '{STATION}'"
    );
    let reaching = format!("{of_station} AND CAST(p.through_day AS TEXT) = '{through}'");
    (
        scalar(store, &reaching).await,
        scalar(store, &of_station).await,
    )
}

/// The station's energy as each service answers it, for the ranges a user asks for: a
/// year by day and by month ending today, fourteen months by month, and a year ending
/// yesterday (all packed, nothing read after the packs).
async fn answers(app: &TestApp) -> Vec<Value> {
    let today = today();
    let ranges = [
        ("day", today - Duration::days(364), today),
        ("month", today - Duration::days(364), today),
        ("month", today - Duration::days(430), today),
        (
            "day",
            today - Duration::days(366),
            today - Duration::days(1),
        ),
    ];
    let mut out = Vec::new();
    for (interval, from, to) in ranges {
        let (status, body) = app
            .get(&format!(
                "/api/v1/stations/{STATION}/energy?interval={interval}&from={from}&to={to}"
            ))
            .await;
        assert_eq!(status, 200, "{body}");
        out.push(body);
    }
    out
}

async fn a_station_read_through_packs_answers_what_its_rows_answer(db: TestDb) {
    let rows_only = match &db.store {
        Store::Sqlite(_) => TestDb::sqlite().await,
        Store::Postgres(_) => TestDb::postgres().await,
    };
    for d in [&db, &rows_only] {
        import_dir(&d.store, &example_dir(), "test", false)
            .await
            .unwrap();
    }
    let secret = example_secret(GW);
    let never_packs = |c: &mut pvledger::config::Config| c.ingest.pack_every_s = 0;
    let reference = TestApp::spawn_with(&rows_only, never_packs).await;
    let loader = TestApp::spawn_with(&db, never_packs).await;
    for p in payloads() {
        for app in [&reference, &loader] {
            let (status, body) = app.ingest(GW, &secret, &p).await;
            assert_eq!(status, 200, "{body}");
        }
    }
    assert_eq!(packs(&db.store, today()).await.1, 0, "packing is off");
    let expected = answers(&reference).await;
    let days_with_energy = expected[0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["energy_kwh"].as_f64().unwrap() > 0.0)
        .count();
    assert!(
        days_with_energy >= 50,
        "{days_with_energy} days with energy"
    );

    // A service packs at start: every device through yesterday, for each year from its
    // first day (the meter, without days, this year only).
    let yesterday = today() - Duration::days(1);
    let packer = TestApp::spawn_with(&db, |c| c.ingest.pack_every_s = 3_600).await;
    common::eventually(20, "the station packed through yesterday", || async {
        (packs(&db.store, yesterday).await.0 == DEVICES).then_some(())
    })
    .await;
    let first = today() - Duration::days(7 * 61);
    let years = i64::from(yesterday.year() - first.year() + 1);
    assert_eq!(
        packs(&db.store, yesterday).await.1,
        3 * years + 1,
        "three inverters a pack a year from {first}, and the meter this year"
    );
    assert_eq!(answers(&packer).await, expected);
    assert_eq!(answers(&loader).await, expected);

    // A late reading 140 days ago raises that day's energy: the packs of its device from
    // that day on are dropped in the transaction that rewrote it.
    let late_day = today() - Duration::days(140);
    let late = json!({"gateway": GW, "readings": [{
        "device": INVERTERS[1],
        "ts": local(late_day, 15, 0).to_rfc3339(),
        "ac_power_w": 8_000.0,
        "energy_total_kwh": 500_000.0,
    }]})
    .to_string();
    for app in [&reference, &packer] {
        let (status, body) = app.ingest(GW, &secret, &late).await;
        assert_eq!(status, 200, "{body}");
    }
    let kept = format!(
        "SELECT COUNT(*) FROM energy_daily_packs p JOIN devices d ON d.id = p.device_id \
         WHERE d.code = '{}' AND p.through_day >= '{late_day}'",
        INVERTERS[1]
    );
    assert_eq!(
        scalar(&db.store, &kept).await,
        0,
        "packs holding the late day"
    );
    let expected_late = answers(&reference).await;
    assert_ne!(
        expected_late, expected,
        "the late reading changed the station's energy"
    );
    assert_eq!(answers(&packer).await, expected_late);

    // Packed again (by the next service to start), the answers stay the same.
    let next = TestApp::spawn_with(&db, |c| c.ingest.pack_every_s = 3_600).await;
    common::eventually(20, "the station packed again", || async {
        (packs(&db.store, yesterday).await.0 == DEVICES).then_some(())
    })
    .await;
    assert!(scalar(&db.store, &kept).await > 0);
    assert_eq!(answers(&next).await, expected_late);
    assert_eq!(packs(&rows_only.store, yesterday).await.1, 0);
}

both_backends!(a_station_read_through_packs_answers_what_its_rows_answer,);
