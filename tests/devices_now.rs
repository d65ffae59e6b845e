//! A page of the station list reads each device's newest reading and energy today in one
//! statement (`telemetry::devices_now`); on SQLite the page comes as one JSON text
//! (store/devices_now_packed.rs). Whatever the packing, what health reads of a reading
//! (instant, AC power, status) must come back bit for bit as the device's newest reading
//! reads alone (`telemetry::latest_of`), text escaped or not.

mod common;

use chrono::{Duration, Utc};
use chrono_tz::Asia::Shanghai;
use common::{TestApp, TestDb, example_dir, example_secret};
use pvledger::ledger::import_dir;
use pvledger::store::telemetry::{DeviceNowRow, LastReading, ReadingRow};
use pvledger::store::{Store, Ts};
use serde_json::json;

const GW: &str = "GW-149901101201";
/// Three inverters with readings, the meter without.
const DEVICES: [&str; 4] = [
    "INV-PV149901101201-01-1",
    "INV-PV149901101201-01-2",
    "INV-PV149901101201-01-3",
    "MTR-PV149901101201-01",
];

async fn now_and_alone(
    store: &Store,
    ids: &[i64],
    today: chrono::NaiveDate,
) -> (Vec<DeviceNowRow>, Vec<Option<ReadingRow>>) {
    let since = Ts(Utc::now() - Duration::days(2));
    macro_rules! read {
        ($pool:expr, $m:path) => {{
            use $m as t;
            let now = t::devices_now($pool, ids, since, today).await.unwrap();
            let mut alone = Vec::new();
            for id in ids {
                alone.push(t::latest_of($pool, *id).await.unwrap());
            }
            (now, alone)
        }};
    }
    match store {
        Store::Sqlite(p) => read!(p, pvledger::store::lite::telemetry),
        Store::Postgres(p) => read!(p, pvledger::store::pg::telemetry),
    }
}

async fn a_page_of_devices_reads_each_newest_reading_bit_for_bit(db: TestDb) {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let app = TestApp::spawn(&db).await;
    // Both readings of the first inverter on one local day, whatever the hour.
    let mut at = Utc::now() - Duration::minutes(3);
    if at.with_timezone(&Shanghai).time() < chrono::NaiveTime::from_hms_opt(0, 2, 0).unwrap() {
        at -= Duration::minutes(5);
    }
    let day = at.with_timezone(&Shanghai).date_naive();
    // Doubles whose shortest decimal needs 17 digits, and text that JSON must escape.
    let body = json!({"gateway": GW, "readings": [
        {"device": DEVICES[0], "ts": (at - Duration::minutes(1)).to_rfc3339(), "ac_power_w": 1.0},
        {"device": DEVICES[0], "ts": at.to_rfc3339(), "ac_power_w": 12_345.678_901_234_567,
         "dc_power_w": 0.1 + 0.2, "grid_voltage_v": 230.000_000_000_000_03,
         "status": "fault", "fault_code": "E-12"},
        {"device": DEVICES[1], "ts": at.to_rfc3339(), "ac_power_w": 0.0, "temperature_c": -12.5},
        {"device": DEVICES[2], "ts": at.to_rfc3339(), "energy_total_kwh": 98_765.432_101_234_56, "fault_code": 3},
    ]})
    .to_string();
    let (status, answer) = app.ingest(GW, &example_secret(GW), &body).await;
    assert_eq!(status, 200, "{answer}");

    let mut ids = Vec::new();
    for code in DEVICES {
        let sql = format!("SELECT id FROM devices WHERE code = '{code}'");
        ids.push(match &db.store {
            Store::Sqlite(p) => sqlx::query_scalar::<_, i64>(&sql)
                .fetch_one(p)
                .await
                .unwrap(),
            Store::Postgres(p) => sqlx::query_scalar::<_, i64>(&sql)
                .fetch_one(p)
                .await
                .unwrap(),
        });
    }
    // Ingest accepts only known statuses; a status written by hand must still come back
    // whole through SQLite's JSON text, quotes, backslash, newline and all.
    let odd = "fault \"逆变器\";\\,\n";
    let sql = format!(
        "UPDATE readings SET status = '{}' WHERE device_id = {} AND ts = (SELECT max(ts) FROM readings WHERE device_id = {})",
        odd.replace('\'', "''"),
        ids[1],
        ids[1]
    );
    match &db.store {
        Store::Sqlite(p) => assert_eq!(
            sqlx::query(&sql).execute(p).await.unwrap().rows_affected(),
            1
        ),
        Store::Postgres(p) => assert_eq!(
            sqlx::query(&sql).execute(p).await.unwrap().rows_affected(),
            1
        ),
    }
    let (now, alone) = now_and_alone(&db.store, &ids, day).await;
    assert_eq!(now.len(), DEVICES.len());
    for ((row, alone), id) in now.iter().zip(&alone).zip(&ids) {
        assert_eq!(row.device_id, *id);
        assert_eq!(
            row.last,
            alone.as_ref().map(LastReading::from),
            "device {id}"
        );
    }
    let first = now[0].last.as_ref().unwrap();
    assert_eq!(first.ac_power_w, Some(12_345.678_901_234_567));
    assert_eq!(first.status.as_deref(), Some("fault"));
    let second = now[1].last.as_ref().unwrap();
    assert_eq!(second.ac_power_w, Some(0.0));
    assert_eq!(second.status.as_deref(), Some(odd));
    assert_eq!(now[2].last.as_ref().unwrap().ac_power_w, None);
    assert!(now[3].last.is_none(), "the meter has sent nothing");
    // Energy that day, rolled up from the first inverter's two readings.
    let sql = format!(
        "SELECT energy_kwh FROM energy_daily WHERE device_id = {} AND day = '{day}'",
        ids[0]
    );
    let stored: f64 = match &db.store {
        Store::Sqlite(p) => sqlx::query_scalar(&sql).fetch_one(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_scalar(&sql).fetch_one(p).await.unwrap(),
    };
    assert!(stored > 0.0);
    assert_eq!(now[0].today_kwh, Some(stored));
}

both_backends!(a_page_of_devices_reads_each_newest_reading_bit_for_bit,);
