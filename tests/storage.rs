//! Storage behaviour shared by both backends: migrations, the audit trail's append-only
//! guarantee, and the time-series mode.

mod common;

use common::TestDb;
use pvledger::audit::AuditEntry;
use pvledger::store::{Store, TimeSeriesMode};

async fn execute(store: &Store, sql: &str) -> Result<u64, sqlx::Error> {
    match store {
        Store::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|r| r.rows_affected()),
        Store::Postgres(p) => sqlx::query(sql).execute(p).await.map(|r| r.rows_affected()),
    }
}

async fn migrations_are_idempotent(db: TestDb) {
    let again = db.store.migrate(&db.config.storage).await.unwrap();
    assert_eq!(again, db.mode);
}

async fn the_audit_log_refuses_updates_and_deletes(db: TestDb) {
    let entry = AuditEntry {
        actor: "tester".into(),
        action: "test.action".into(),
        subject: "x".into(),
        detail: serde_json::json!({"n": 1}),
    };
    db.store.audit_append(&entry).await.unwrap();

    let update = execute(&db.store, "UPDATE audit_log SET actor = 'someone else'").await;
    let delete = execute(&db.store, "DELETE FROM audit_log").await;

    assert!(update.unwrap_err().to_string().contains("append-only"));
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    let kept = db.store.audit_recent(5).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].actor, "tester");
    assert_eq!(kept[0].detail["n"], 1);
}

async fn telemetry_tables_exist_in_the_expected_mode(db: TestDb) {
    // No TimescaleDB can be installed on this machine: PostgreSQL runs in plain mode.
    let expected = match db.store {
        Store::Sqlite(_) => TimeSeriesMode::Embedded,
        Store::Postgres(_) => TimeSeriesMode::Plain,
    };
    assert_eq!(db.mode, expected);
    assert_eq!(
        execute(&db.store, "SELECT device_id, ts, quality FROM readings")
            .await
            .unwrap(),
        0
    );
}

both_backends!(
    migrations_are_idempotent,
    the_audit_log_refuses_updates_and_deletes,
    telemetry_tables_exist_in_the_expected_mode
);
