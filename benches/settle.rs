//! Province-size settlement benchmark (issue 4): 6,000 stations, 10,000 villages, one month.
//! Run with `cargo bench --bench settle`; prints a table per backend (SQLite always,
//! PostgreSQL when PVLEDGER_TEST_PG_URL or the default local server answers).
//!
//! The county is synthetic: 100 townships of 100 villages; 5,900 village stations (one
//! village each) and 100 joint stations shared by 40 villages (0.025 each).

#[path = "support/pg.rs"]
mod pg;

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use pvledger::config::Config;
use pvledger::settlement::period::Period;
use pvledger::settlement::plan::PlanRules;
use pvledger::settlement::{grid, plans, run};
use pvledger::store::Store;
use rust_decimal::Decimal;

const COUNTY: &str = "149900";

fn village(i: usize) -> String {
    format!("{COUNTY}{:03}{:03}", 100 + i / 100, 200 + i % 100)
}

fn write_inputs(dir: &Path) {
    let mut villages = String::from("code,name,level,parent_code,poor_village_code,status\n");
    writeln!(villages, "{COUNTY},基准县,county,,,").unwrap();
    for t in 0..100 {
        writeln!(
            villages,
            "{COUNTY}{:03},乡镇{t},township,{COUNTY},,",
            100 + t
        )
        .unwrap();
    }
    for i in 0..10_000 {
        writeln!(
            villages,
            "{},村{i},village,{COUNTY}{:03},PV{},poor",
            village(i),
            100 + i / 100,
            village(i)
        )
        .unwrap();
    }
    let mut stations = String::from("code,name,kind,area_code,dc_capacity_kwp\n");
    let mut tariffs = String::from("station_code,valid_from,total_price,benchmark_price\n");
    let mut shares = String::from("station_code,village_code,share,basis,valid_from\n");
    let mut statements = String::from("station_code,period,export_kwh\n");
    for s in 0..6_000 {
        let code = format!("PV-{s:05}");
        let joint = s >= 5_900;
        let area = if joint {
            format!("{COUNTY}{:03}", 100 + (s - 5_900))
        } else {
            village(s)
        };
        writeln!(
            stations,
            "{code},站{s},{},{area},{}",
            if joint { "joint" } else { "village" },
            if joint { "3000" } else { "284" }
        )
        .unwrap();
        writeln!(tariffs, "{code},2018-06-30,0.8500,0.3320").unwrap();
        if joint {
            for k in 0..40 {
                writeln!(
                    shares,
                    "{code},{},0.025,investment,2018-06-30",
                    village(5_900 + (s - 5_900) * 40 + k)
                )
                .unwrap();
            }
        } else {
            writeln!(shares, "{code},{},1,capacity,2018-06-30", village(s)).unwrap();
        }
        // Exact decimals written from integers (a float would print 33456.799999999996).
        let base = if joint { 350_123 } else { 33_456 };
        writeln!(statements, "{code},2026-10,{}.{}", base + s / 10, s % 10).unwrap();
    }
    let mut plan_rows = String::from("village_code,year,jobs,works,rewards\n");
    for i in 0..10_000 {
        writeln!(
            plan_rows,
            "{},2026,{},{},5",
            village(i),
            80 + i % 11,
            15 - i % 11
        )
        .unwrap();
    }
    for (name, text) in [
        ("villages.csv", villages),
        ("stations.csv", stations),
        ("tariffs.csv", tariffs),
        ("shares.csv", shares),
    ] {
        std::fs::write(dir.join("ledger").join(name), text).unwrap();
    }
    std::fs::write(dir.join("grid.csv"), statements).unwrap();
    std::fs::write(dir.join("plans.csv"), plan_rows).unwrap();
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
    pvledger::ledger::import_dir(&store, &dir.join("ledger"), "bench", false)
        .await
        .unwrap();
    out.push((
        format!("{backend}: ledger import (10,101 areas, 6,000 stations, 9,900 shares)"),
        t.elapsed().as_secs_f64(),
    ));
    let t = Instant::now();
    grid::import_file(&store, &dir.join("grid.csv"), "bench")
        .await
        .unwrap();
    out.push((
        format!("{backend}: grid import (6,000 statements)"),
        t.elapsed().as_secs_f64(),
    ));
    let rules = PlanRules {
        jobs_floor_percent: Decimal::from(80),
        other_allowed: false,
    };
    let t = Instant::now();
    plans::import_file(&store, &dir.join("plans.csv"), &rules, "bench")
        .await
        .unwrap();
    out.push((
        format!("{backend}: use plan import (10,000 plans)"),
        t.elapsed().as_secs_f64(),
    ));
    for attempt in ["first", "recomputed draft"] {
        let t = Instant::now();
        let (_, c) = run::settle(
            &store,
            &config.settlement,
            Some(COUNTY),
            Period::new(2026, 10).unwrap(),
            "bench",
        )
        .await
        .unwrap();
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(c.stations.len(), 6_000);
        assert_eq!(
            c.uses.iter().map(|u| u.amount_fen).sum::<i64>(),
            c.distributable_fen
        );
        out.push((
            format!(
                "{backend}: settle 2026-10, {attempt} ({} village lines, {} use lines)",
                c.villages.len(),
                c.uses.len()
            ),
            secs,
        ));
    }
    store.close().await;
    out
}

#[tokio::main]
async fn main() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("ledger")).unwrap();
    write_inputs(tmp.path());
    let mut rows = bench(
        "sqlite",
        &format!("sqlite://{}", tmp.path().join("bench.sqlite").display()),
        tmp.path(),
    )
    .await;

    if let Some(db) = pg::scratch("settle").await {
        rows.extend(bench("postgres", &db.url, tmp.path()).await);
        db.drop_database().await;
    }
    println!("\n{:<88} {:>9}", "step", "seconds");
    for (step, secs) in rows {
        println!("{step:<88} {secs:>9.3}");
    }
}
