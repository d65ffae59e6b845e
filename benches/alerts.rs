//! Province-size alert evaluation: one evaluator cycle over 6,000 stations and 20,000
//! inverters (plus 6,000 meters), on SQLite and PostgreSQL. Run with
//! `cargo bench --bench alerts`.
//!
//! The store holds what a live province has at noon: two hours of one-minute readings per
//! device (the evaluator's look-back), three days of daily rollups, six hours of hourly
//! rollups and some refused payloads. One township (100 stations) is dark (a grid outage),
//! 1 % of the inverters report a fault, so the first cycle opens alerts and the second is
//! the steady state.

#[path = "support/pg.rs"]
mod pg;

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use pvledger::alerts::evaluator::Evaluator;
use pvledger::config::Config;
use pvledger::store::telemetry::ReadingRow;
use pvledger::store::{Store, Ts, Tx};

const COUNTY: &str = "149900";
const STATIONS: usize = 6_000;
/// Minutes of readings per device (the evaluator looks back two hours).
const WINDOW_MIN: i64 = 120;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-10T04:30:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// Stations 0..4000 have 3 inverters, the rest 4: 20,000 in all.
fn inverters(s: usize) -> usize {
    if s < 4_000 { 3 } else { 4 }
}

fn write_ledger(dir: &Path) {
    let mut villages = String::from("code,name,level,parent_code,poor_village_code,status\n");
    writeln!(villages, "{COUNTY},基准县,county,,,").unwrap();
    for t in 0..60 {
        writeln!(
            villages,
            "{COUNTY}{:03},乡镇{t},township,{COUNTY},,",
            100 + t
        )
        .unwrap();
    }
    let village = |s: usize| format!("{COUNTY}{:03}{:03}", 100 + s / 100, 200 + s % 100);
    let mut stations = String::from(
        "code,name,kind,area_code,dc_capacity_kwp,latitude,longitude,tilt_deg,azimuth_deg,om_body\n",
    );
    let mut gateways = String::from("code,name,area_code,credential\n");
    let mut devices =
        String::from("code,station_code,kind,rated_ac_kw,dc_kwp,protocol,gateway_code\n");
    for t in 0..60 {
        writeln!(
            gateways,
            "GW-{t:02},网关{t},{COUNTY}{:03},secret-{t:02}-0123456789",
            100 + t
        )
        .unwrap();
    }
    for s in 0..STATIONS {
        writeln!(
            villages,
            "{},村{s},village,{COUNTY}{:03},PV{},poor",
            village(s),
            100 + s / 100,
            village(s)
        )
        .unwrap();
        let n = inverters(s);
        writeln!(
            stations,
            "PV-{s:05},站{s},village,{},{},37.{:04},111.{:04},35,180,运维公司{}",
            village(s),
            n * 80,
            s % 10_000,
            (s * 7) % 10_000,
            s % 5
        )
        .unwrap();
        for k in 0..n {
            writeln!(
                devices,
                "INV-{s:05}-{k},PV-{s:05},inverter,70,80,mqtt,GW-{:02}",
                s / 100
            )
            .unwrap();
        }
        writeln!(
            devices,
            "MTR-{s:05},PV-{s:05},meter,,,mqtt,GW-{:02}",
            s / 100
        )
        .unwrap();
    }
    for (name, text) in [
        ("villages.csv", villages),
        ("stations.csv", stations),
        ("gateways.csv", gateways),
        ("devices.csv", devices),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

fn reading(device_id: i64, ts: DateTime<Utc>, power: f64, counter: f64, fault: bool) -> ReadingRow {
    ReadingRow {
        device_id,
        ts: Ts(ts),
        received_at: Ts(ts),
        ac_power_w: Some(power),
        dc_power_w: None,
        energy_total_kwh: Some(counter),
        export_energy_kwh: None,
        grid_voltage_v: None,
        frequency_hz: None,
        temperature_c: None,
        irradiance_poa_wm2: None,
        module_temp_c: None,
        ambient_temp_c: None,
        status: Some(if fault { "fault" } else { "running" }.into()),
        fault_code: fault.then(|| "0x0001".into()),
        quality: 0,
    }
}

async fn insert(store: &Store, rows: &[ReadingRow]) {
    let mut tx = store.begin().await.unwrap();
    match &mut tx {
        Tx::Sqlite(tx) => pvledger::store::lite::telemetry::insert_readings(tx, rows)
            .await
            .unwrap(),
        Tx::Postgres(tx) => pvledger::store::pg::telemetry::insert_readings(tx, rows)
            .await
            .unwrap(),
    };
    tx.commit().await.unwrap();
}

async fn exec(store: &Store, sql: &str) {
    match store {
        Store::Sqlite(p) => sqlx::query(sql).execute(p).await.map(drop).unwrap(),
        Store::Postgres(p) => sqlx::query(sql).execute(p).await.map(drop).unwrap(),
    }
}

/// Fills the store; returns the number of raw readings.
async fn fill(store: &Store) -> usize {
    let ledger = store.load_ledger().await.unwrap();
    let pg = matches!(store, Store::Postgres(_));
    let ts = |t: DateTime<Utc>| {
        if pg {
            format!("'{}'", t.to_rfc3339())
        } else {
            t.timestamp_millis().to_string()
        }
    };
    let mut rows = Vec::new();
    let mut count = 0;
    let mut daily = Vec::new();
    let mut hourly = Vec::new();
    for d in &ledger.devices {
        let s: usize = d.station_code[3..].parse().unwrap();
        let inverter = d.code.starts_with("INV");
        // Township 0 is dark for the last hour; every 100th inverter is in fault.
        let until = if s < 100 {
            now() - Duration::minutes(60)
        } else {
            now()
        };
        let fault = inverter && d.id % 100 == 0;
        for m in (0..WINDOW_MIN).rev() {
            let t = now() - Duration::minutes(m);
            if t > until {
                break;
            }
            let power = if fault || !inverter { 0.0 } else { 45_000.0 };
            rows.push(reading(
                d.id,
                t,
                power,
                10_000.0 + (WINDOW_MIN - m) as f64,
                fault,
            ));
        }
        for day in 1..=3 {
            let date = (now() - Duration::days(day)).date_naive();
            daily.push(format!(
                "({}, '{date}', {}, 0, 0)",
                d.id,
                if s % 37 == 0 { 150.0 } else { 300.0 }
            ));
        }
        for h in 0..6 {
            let hour = now() - Duration::hours(h + 1);
            hourly.push(format!(
                "({}, {}, 40.0, 0, {}, 'counter')",
                d.id,
                ts(hour),
                i32::from(d.id % 500 == 0)
            ));
        }
        if rows.len() >= 50_000 {
            count += rows.len();
            insert(store, &rows).await;
            rows.clear();
        }
    }
    count += rows.len();
    insert(store, &rows).await;
    for chunk in daily.chunks(1000) {
        exec(store, &format!("INSERT INTO energy_daily (device_id, day, energy_kwh, samples, bad_intervals) VALUES {}", chunk.join(","))).await;
    }
    for chunk in hourly.chunks(1000) {
        exec(store, &format!("INSERT INTO energy_hourly (device_id, hour, energy_kwh, samples, bad_intervals, source) VALUES {}", chunk.join(","))).await;
    }
    let refused: Vec<String> = (0..200)
        .map(|i| {
            format!(
                "({}, 'http', 'GW-{:02}', 'X', 'unknown_device', 'd', '{{}}')",
                ts(now() - Duration::minutes(i % 10)),
                i % 3
            )
        })
        .collect();
    exec(store, &format!("INSERT INTO rejections (received_at, source, gateway, device, reason, detail, payload) VALUES {}", refused.join(","))).await;
    exec(store, "ANALYZE").await;
    count
}

async fn bench(backend: &str, url: &str, dir: &Path) -> Vec<(String, f64)> {
    let config = Config::load_from(
        None,
        vec![("PVLEDGER__DATABASE__URL".to_owned(), url.to_owned())],
    )
    .unwrap();
    let (store, _) = Store::open(&config.database, &config.storage)
        .await
        .unwrap();
    let mut out = Vec::new();
    pvledger::ledger::import_dir(&store, dir, "bench", false)
        .await
        .unwrap();
    let t = Instant::now();
    let n = fill(&store).await;
    out.push((
        format!("{backend}: fill {n} readings + rollups"),
        t.elapsed().as_secs_f64(),
    ));
    let mut evaluator = Evaluator::new(&config);
    for (label, at) in [
        ("first cycle (opens alerts)", now()),
        ("second cycle (steady)", now() + Duration::minutes(1)),
    ] {
        let t = Instant::now();
        let applied = evaluator.cycle(&store, at).await.unwrap();
        out.push((
            format!(
                "{backend}: {label}: {} opened, {} resolved",
                applied.opened.len(),
                applied.resolved.len()
            ),
            t.elapsed().as_secs_f64(),
        ));
    }
    let t = Instant::now();
    let snap = pvledger::alerts::store::snapshot(&store, &config.alerts, now(), now().date_naive())
        .await
        .unwrap();
    out.push((
        format!(
            "{backend}:   of which the snapshot reads ({} latest readings)",
            snap.latest.len()
        ),
        t.elapsed().as_secs_f64(),
    ));
    store.close().await;
    out
}

#[tokio::main]
async fn main() {
    let tmp = tempfile::tempdir().unwrap();
    write_ledger(tmp.path());
    let mut rows = bench(
        "sqlite",
        &format!("sqlite://{}", tmp.path().join("bench.sqlite").display()),
        tmp.path(),
    )
    .await;
    if let Some(db) = pg::scratch("alerts").await {
        rows.extend(bench("postgres", &db.url, tmp.path()).await);
        db.drop_database().await;
    }
    println!("\n{:<88} {:>9}", "step", "seconds");
    for (step, secs) in rows {
        println!("{step:<88} {secs:>9.3}");
    }
}
