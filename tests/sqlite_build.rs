//! The bundled SQLite is built the way `.cargo/config.toml` asks.

use pvledger::config::DatabaseConfig;
use pvledger::store::Store;

/// Without the query planner stability guarantee, a cached statement is compiled again
/// whenever its bound values change once `ANALYZE` has run (see `.cargo/config.toml`):
/// a fifth of the CPU of a station's year of energy under load.
#[tokio::test]
async fn sqlite_keeps_each_statement_s_plan_whatever_its_values() {
    let dir = tempfile::tempdir().unwrap();
    let config = DatabaseConfig {
        url: format!("sqlite://{}", dir.path().join("build.db").display()),
        max_connections: 0,
    };
    let Store::Sqlite(pool) = Store::connect(&config).await.unwrap() else {
        panic!("a sqlite:// URL opened another backend");
    };
    let options: Vec<String> = sqlx::query_scalar("PRAGMA compile_options")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(
        options.iter().any(|o| o == "ENABLE_QPSG"),
        "SQLite was built without ENABLE_QPSG; its options: {options:?}"
    );
}
