//! TimescaleDB, switched on only where the extension exists.
//!
//! On PostgreSQL, after the migrations, pvledger tries `CREATE EXTENSION IF NOT EXISTS
//! timescaledb`. When that succeeds the telemetry tables become hypertables with
//! compression and retention policies; when it fails (plain PostgreSQL, or no right to
//! create extensions) the same tables stay plain tables with their time-ordered indexes,
//! and everything works the same, only with less compression. The active mode is logged.

use sqlx::PgPool;

use crate::config::StorageConfig;

/// How time series are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeSeriesMode {
    /// SQLite tables keyed by (device, time).
    Embedded,
    /// Plain PostgreSQL tables with time-ordered indexes.
    Plain,
    /// TimescaleDB hypertables with compression and retention.
    Timescaledb,
}

/// Telemetry tables, their time column, and whether the raw-data retention policy applies
/// (rollups are kept for good: settlement and assessment need years of them).
const HYPERTABLES: &[(&str, &str, bool)] =
    &[("readings", "ts", true), ("energy_hourly", "hour", false)];

/// Tries to enable TimescaleDB and converts the telemetry tables. Returns the active mode.
pub async fn enable(pool: &PgPool, storage: &StorageConfig) -> Result<TimeSeriesMode, sqlx::Error> {
    // Run outside any transaction: a failure here must not abort other work.
    if let Err(e) = sqlx::query("CREATE EXTENSION IF NOT EXISTS timescaledb")
        .execute(pool)
        .await
    {
        tracing::info!(
            reason = %e,
            "time series on plain PostgreSQL tables (TimescaleDB extension not available)"
        );
        return Ok(TimeSeriesMode::Plain);
    }
    for (table, column, retention) in HYPERTABLES {
        convert(pool, table, column, *retention, storage).await?;
    }
    tracing::info!(
        compress_after_days = storage.compress_after_days,
        raw_retention_days = storage.raw_retention_days,
        "time series on TimescaleDB hypertables"
    );
    Ok(TimeSeriesMode::Timescaledb)
}

async fn convert(
    pool: &PgPool,
    table: &str,
    column: &str,
    retention: bool,
    storage: &StorageConfig,
) -> Result<(), sqlx::Error> {
    // Table and column names come from the constant list above, never from input.
    sqlx::query(&format!(
        "SELECT create_hypertable('{table}', '{column}', chunk_time_interval => INTERVAL '7 days', \
         if_not_exists => TRUE, migrate_data => TRUE)"
    ))
    .execute(pool)
    .await?;
    sqlx::query(&format!(
        "ALTER TABLE {table} SET (timescaledb.compress, \
         timescaledb.compress_segmentby = 'device_id', timescaledb.compress_orderby = '{column} DESC')"
    ))
    .execute(pool)
    .await?;
    // Policies are re-created at each start so that a changed configuration takes effect.
    sqlx::query(&format!(
        "SELECT remove_compression_policy('{table}', if_exists => TRUE)"
    ))
    .execute(pool)
    .await?;
    sqlx::query(&format!(
        "SELECT add_compression_policy('{table}', INTERVAL '{} days')",
        storage.compress_after_days
    ))
    .execute(pool)
    .await?;
    sqlx::query(&format!(
        "SELECT remove_retention_policy('{table}', if_exists => TRUE)"
    ))
    .execute(pool)
    .await?;
    if retention && storage.raw_retention_days > 0 {
        sqlx::query(&format!(
            "SELECT add_retention_policy('{table}', INTERVAL '{} days')",
            storage.raw_retention_days
        ))
        .execute(pool)
        .await?;
    }
    Ok(())
}
