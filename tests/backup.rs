//! `pvledger backup FILE` while the service runs and ingests: the restored copy holds the
//! same ledger, readings and settlements (SQLite: VACUUM INTO; PostgreSQL: pg_dump, restored
//! with pg_restore into a new database).

mod common;

use std::process::Command;

use chrono::{Duration, Utc};
use common::{TestApp, TestDb, example_dir, example_secret, write_dir};
use pvledger::ledger::import_dir;
use pvledger::settlement::period::Period;
use pvledger::settlement::{export, grid, run};
use pvledger::store::Store;
use serde_json::json;

const GW: &str = "GW-149901101201";
const INV: &str = "INV-PV149901101201-01-1";

async fn count(store: &Store, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    match store {
        Store::Sqlite(p) => sqlx::query_scalar(&sql).fetch_one(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_scalar(&sql).fetch_one(p).await.unwrap(),
    }
}

/// A county with a settled month and an hour of readings, and a writer still busy.
async fn busy_service(db: &TestDb) -> TestApp {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let ledger = db.store.load_ledger().await.unwrap();
    let mut csv = String::from("station_code,period,export_kwh\n");
    for s in &ledger.stations {
        csv.push_str(&format!("{},2026-10,12345.6\n", s.code));
    }
    let dir = write_dir(db.dir(), "in", &[("grid.csv", csv.as_bytes())]);
    grid::import_file(&db.store, &dir.join("grid.csv"), "finance")
        .await
        .unwrap();
    pvledger::settlement::plans::import_file(
        &db.store,
        &example_dir().join("plans.csv"),
        &pvledger::settlement::run::rules(&db.config.settlement).1,
        "finance",
    )
    .await
    .unwrap();
    run::settle(
        &db.store,
        &db.config.settlement,
        None,
        Period::new(2026, 10).unwrap(),
        "finance",
    )
    .await
    .unwrap();
    let app = TestApp::spawn(db).await;
    let start = Utc::now() - Duration::hours(2);
    let readings: Vec<_> = (0..60)
        .map(|m| {
            json!({"device": INV, "ts": (start + Duration::minutes(m)).to_rfc3339(),
                   "ac_power_w": 50_000.0, "energy_total_kwh": 1000.0 + m as f64})
        })
        .collect();
    let (status, _) = app
        .ingest(
            GW,
            &example_secret(GW),
            &json!({"gateway": GW, "readings": readings}).to_string(),
        )
        .await;
    assert_eq!(status, 200);
    app
}

fn backup(url: &str, file: &std::path::Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pvledger"))
        .args(["backup", file.to_str().unwrap()])
        .env("PVLEDGER__DATABASE__URL", url)
        .env("PVLEDGER__MQTT__EMBEDDED_LISTEN", "")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Everything that matters compares equal between the live database and the copy.
async fn assert_same(live: &Store, copy: &Store) {
    let (a, b) = (
        live.load_ledger().await.unwrap(),
        copy.load_ledger().await.unwrap(),
    );
    assert_eq!(a.stations, b.stations);
    assert_eq!(a.shares, b.shares);
    assert_eq!(a.devices, b.devices);
    assert_eq!(a.gateways, b.gateways);
    for table in [
        "readings",
        "energy_hourly",
        "energy_daily",
        "settlements",
        "settlement_villages",
        "settlement_uses",
        "audit_log",
        "users",
    ] {
        assert_eq!(
            count(live, table).await,
            count(copy, table).await,
            "{table}"
        );
    }
    assert_eq!(count(copy, "readings").await, 60);
    let id = 1;
    let (l, c) = (
        export::load(live, id).await.unwrap(),
        export::load(copy, id).await.unwrap(),
    );
    assert_eq!(l.villages, c.villages);
    assert_eq!(l.uses, c.uses);
}

#[tokio::test]
async fn a_sqlite_backup_taken_while_the_service_runs_restores_the_same_data() {
    let db = TestDb::sqlite().await;
    let _app = busy_service(&db).await;
    let file = db.dir().join("copy.sqlite");
    let (code, stderr) = backup(&db.url, &file);
    assert_eq!(code, 0, "{stderr}");
    // Restoring is opening (or putting in place) the copied file.
    let copy_url = format!("sqlite://{}", file.display());
    let config = common::test_config(&copy_url);
    let (copy, _) = Store::open(&config.database, &config.storage)
        .await
        .unwrap();
    assert_same(&db.store, &copy).await;

    // A second backup to the same file is refused rather than overwriting it.
    let (code, stderr) = backup(&db.url, &file);
    assert_eq!(code, 2);
    assert!(stderr.contains("already exists"), "{stderr}");
}

#[tokio::test]
async fn a_postgres_backup_restores_into_a_new_database_with_the_same_data() {
    use sqlx::Connection;
    let db = TestDb::postgres().await;
    let _app = busy_service(&db).await;
    let file = db.dir().join("copy.dump");
    let (code, stderr) = backup(&db.url, &file);
    assert_eq!(code, 0, "{stderr}");

    let admin = common::pg_admin_url();
    let name = common::unique("pvledger_restore").replace('-', "_");
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let restored = Command::new("pg_restore")
        .args(["--no-owner", "--dbname", &url, file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let config = common::test_config(&url);
    let (copy, _) = Store::open(&config.database, &config.storage)
        .await
        .unwrap();
    assert_same(&db.store, &copy).await;
    copy.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
}
