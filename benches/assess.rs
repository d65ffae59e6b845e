//! Province-size assessment benchmark (issue 5): 6,000 stations with two inverters each,
//! a year of daily rollups (4.38 million device-days), assessed in one run. Run with
//! `cargo bench --bench assess`; prints a table per backend (SQLite always, PostgreSQL when
//! PVLEDGER_TEST_PG_URL or the default local server answers).
//!
//! Synthetic: one county of 100 townships of 60 stations spread over 3° × 3° of Shanxi
//! (so the sky is worked out for a few hundred cells), shared day-to-day weather, and one
//! station in twenty with a fault (a weak inverter, a silent month, or a low yield).
//! `ASSESS_BENCH_DUMP=DIR` also writes the reports as JSON (see `bench`).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use chrono::{Datelike, NaiveDate};
use pvledger::config::Config;
use pvledger::store::Store;

const COUNTY: &str = "149900";
/// Stations (ASSESS_BENCH_STATIONS overrides, for quick profiling).
fn station_count() -> usize {
    std::env::var("ASSESS_BENCH_STATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6_000)
}
const YEAR: i32 = 2025;

fn write_ledger(dir: &Path) {
    let mut villages = String::from("code,name,level,parent_code\n");
    writeln!(villages, "{COUNTY},基准县,county,").unwrap();
    for t in 0..100 {
        writeln!(villages, "{COUNTY}{:03},乡镇{t},township,{COUNTY}", 100 + t).unwrap();
    }
    let mut stations = String::from(
        "code,name,kind,area_code,dc_capacity_kwp,ac_capacity_kw,latitude,longitude,tilt_deg,azimuth_deg\n",
    );
    let mut devices =
        String::from("code,station_code,kind,dc_kwp,protocol,host,port,unit_id,profile\n");
    for s in 0..station_count() {
        let code = format!("PV-{s:05}");
        let township = s / 60;
        // Townships on a 10 × 10 grid over 36-39°N, 110.5-113.5°E; stations around them.
        let lat = 36.0 + 0.3 * (township / 10) as f64 + 0.004 * (s % 60) as f64;
        let lon = 110.5 + 0.3 * (township % 10) as f64 + 0.003 * (s % 37) as f64;
        writeln!(
            stations,
            "{code},站{s},village,{COUNTY}{:03},284,250,{lat:.4},{lon:.4},{},{}",
            100 + township,
            30 + s % 7,
            175 + s % 11
        )
        .unwrap();
        for i in 1..=2 {
            writeln!(
                devices,
                "INV-{code}-{i},{code},inverter,142,modbus,10.{}.{}.1,502,{i},sunspec",
                township,
                s % 60
            )
            .unwrap();
        }
    }
    for (name, text) in [
        ("villages.csv", villages),
        ("stations.csv", stations),
        ("devices.csv", devices),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

/// One device-day: (device id, day, kWh, samples, data mask, producing mask).
type Row = (i64, NaiveDate, f64, i32, i32, i32);

fn rows(ids: &[(i64, usize, usize)]) -> Vec<Row> {
    let mut out = Vec::with_capacity(ids.len() * 365);
    let first = NaiveDate::from_ymd_opt(YEAR, 1, 1).unwrap();
    for day in first.iter_days().take_while(|d| d.year() == YEAR) {
        let doy = f64::from(day.ordinal());
        // Season and a repeatable cloud factor shared by the county.
        let season = 4.2 + 1.2 * (std::f64::consts::TAU * (doy - 80.0) / 365.0).sin();
        let cloud = 0.35 + 0.65 * ((doy * 12.9898).sin() * 43_758.545).fract().abs();
        for &(id, station, inverter) in ids {
            let fault = station % 20 == 7;
            let mut kwh = 142.0 * season * cloud;
            let mut samples = 900;
            let (mut data, mut producing) = (0x00FF_FFE0, 0x001F_FFE0);
            if fault && inverter == 1 {
                kwh *= 0.6; // a weak inverter
            }
            if station % 20 == 13 && (100..130).contains(&day.ordinal()) {
                (kwh, samples, data, producing) = (0.0, 0, 0, 0); // a silent month
            }
            if station % 20 == 17 {
                kwh *= 0.75; // a low-yield station
            }
            out.push((id, day, kwh, samples, data, producing));
        }
    }
    out
}

async fn insert(store: &Store, rows: &[Row]) {
    match store {
        Store::Sqlite(pool) => {
            let mut tx = pool.begin().await.unwrap();
            for chunk in rows.chunks(3_000) {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO energy_daily (device_id, day, energy_kwh, samples, bad_intervals, data_hours, producing_hours) ",
                );
                q.push_values(chunk, |mut b, r| {
                    b.push_bind(r.0)
                        .push_bind(r.1)
                        .push_bind(r.2)
                        .push_bind(r.3)
                        .push_bind(0)
                        .push_bind(r.4)
                        .push_bind(r.5);
                });
                q.build().execute(&mut *tx).await.unwrap();
            }
            tx.commit().await.unwrap();
        }
        Store::Postgres(pool) => {
            for chunk in rows.chunks(50_000) {
                sqlx::query(
                    "INSERT INTO energy_daily (device_id, day, energy_kwh, samples, bad_intervals, data_hours, producing_hours)
                     SELECT d, y, e, s, 0, m, p FROM UNNEST($1::bigint[], $2::date[], $3::float8[], $4::int[], $5::int[], $6::int[]) AS t(d, y, e, s, m, p)",
                )
                .bind(chunk.iter().map(|r| r.0).collect::<Vec<_>>())
                .bind(chunk.iter().map(|r| r.1).collect::<Vec<_>>())
                .bind(chunk.iter().map(|r| r.2).collect::<Vec<_>>())
                .bind(chunk.iter().map(|r| r.3).collect::<Vec<_>>())
                .bind(chunk.iter().map(|r| r.4).collect::<Vec<_>>())
                .bind(chunk.iter().map(|r| r.5).collect::<Vec<_>>())
                .execute(pool)
                .await
                .unwrap();
            }
        }
    }
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
    let t = Instant::now();
    pvledger::ledger::import_dir(&store, dir, "bench", false)
        .await
        .unwrap();
    out.push((
        format!("{backend}: ledger import (6,000 stations, 12,000 inverters)"),
        t.elapsed().as_secs_f64(),
    ));
    let ledger = store.load_ledger().await.unwrap();
    let ids: Vec<(i64, usize, usize)> = ledger
        .devices
        .iter()
        .map(|d| {
            let station: usize = d.station_code[3..].parse().unwrap();
            (d.id, station, usize::from(d.code.ends_with("-1")))
        })
        .collect();
    let data = rows(&ids);
    let t = Instant::now();
    insert(&store, &data).await;
    eprintln!(
        "{backend}: {} device-days written in {:.1} s",
        data.len(),
        t.elapsed().as_secs_f64()
    );
    out.push((
        format!("{backend}: write {} device-days (set-up)", data.len()),
        t.elapsed().as_secs_f64(),
    ));
    let from = NaiveDate::from_ymd_opt(YEAR, 1, 1).unwrap();
    let to = NaiveDate::from_ymd_opt(YEAR, 12, 31).unwrap();
    for attempt in ["first", "second"] {
        let (own, server) = (cpu_self(), cpu_postgres());
        let t = Instant::now();
        let report = pvledger::assess::run(&store, &config, from, to, Some(COUNTY))
            .await
            .unwrap();
        let secs = t.elapsed().as_secs_f64();
        // CPU time beside wall time: the machine is shared, so wall time alone says little.
        let own = cpu_self().zip(own).map(|(b, a)| b - a);
        let server = cpu_postgres().zip(server).map(|(b, a)| b - a);
        eprintln!(
            "{backend}: {attempt} run: {secs:.3} s wall, CPU {} s here, {} s in PostgreSQL \
             server processes (all of them, other users' included); load {}",
            own.map_or("?".into(), |c| format!("{c:.2}")),
            server.map_or("-".into(), |c| format!("{c:.2}")),
            std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .trim(),
        );
        assert_eq!(report.stations.len(), station_count());
        let flagged = report
            .stations
            .iter()
            .filter(|s| !s.flags.is_empty())
            .count();
        // Every injected station is flagged (1 in 20 of each of three kinds).
        assert!(flagged >= 3 * station_count() / 20, "{flagged}");
        let step = format!("{backend}: assess a year, {attempt} run ({flagged} stations flagged)");
        eprintln!("{step}: {secs:.3} s");
        out.push((step, secs));
    }
    // ASSESS_BENCH_DUMP=DIR writes the year's report and a half year's (whose degradation
    // reaches back into the data) as JSON, so a change can be checked for identical results.
    if let Some(dir) = std::env::var_os("ASSESS_BENCH_DUMP") {
        let half = NaiveDate::from_ymd_opt(YEAR, 7, 1).unwrap();
        for (name, from) in [("year", from), ("half", half)] {
            let report = pvledger::assess::run(&store, &config, from, to, Some(COUNTY))
                .await
                .unwrap();
            let path = Path::new(&dir).join(format!("{backend}-{name}.json"));
            std::fs::write(&path, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
        }
    }
    store.close().await;
    out
}

/// CPU seconds (user + system) of the process `stat` describes, from `/proc` (Linux).
fn cpu_of(stat: &str) -> Option<f64> {
    // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ is 100 on Linux
}

/// This process's CPU seconds (all threads).
fn cpu_self() -> Option<f64> {
    cpu_of(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// CPU seconds of every running `postgres` process (the local server's backends; a
/// backend that exits between two readings drops out, so compare like with like).
fn cpu_postgres() -> Option<f64> {
    let mut total = None;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        if stat.contains("(postgres)") {
            *total.get_or_insert(0.0) += cpu_of(&stat).unwrap_or(0.0);
        }
    }
    total
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "pvledger=debug".into()))
        .with_writer(std::io::stderr)
        .init();
    // ASSESS_BENCH_BACKEND=sqlite or postgres runs one backend only.
    let only = std::env::var("ASSESS_BENCH_BACKEND").unwrap_or_default();
    let tmp = tempfile::tempdir().unwrap();
    let ledger = tmp.path().join("ledger");
    std::fs::create_dir_all(&ledger).unwrap();
    write_ledger(&ledger);
    let mut rows = Vec::new();
    if only != "postgres" {
        rows = bench(
            "sqlite",
            &format!("sqlite://{}", tmp.path().join("bench.sqlite").display()),
            &ledger,
        )
        .await;
    }

    let admin = std::env::var("PVLEDGER_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    use sqlx::Connection;
    if only == "sqlite" {
        // PostgreSQL not asked for.
    } else if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
        let name = format!("pvledger_bench_assess_{}", std::process::id());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
        rows.extend(bench("postgres", &url, &ledger).await);
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    println!("\n{:<72} {:>9}", "step", "seconds");
    for (step, secs) in rows {
        println!("{step:<72} {secs:>9.3}");
    }
}
