// Modbus lease queries shared by both backends; compiled twice like ledger_sql.rs. Every
// instant is the database's clock: `NOW` and `later(..)` are defined per backend in
// store/mod.rs (PostgreSQL now(), SQLite julianday('now') in Unix ms), so processes on
// different hosts never compare their own clocks with each other.

use crate::modbus::lease::Lease;

/// Writes this process's presence, valid for `ttl_ms`, and forgets processes whose presence
/// ran out (they died without releasing; their leases run out with it).
pub async fn heartbeat(pool: &sqlx::Pool<Db>, node: &str, ttl_ms: i64) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO modbus_nodes (node_id, expires_at) VALUES ($1, {later})
         ON CONFLICT (node_id) DO UPDATE SET expires_at = excluded.expires_at",
        later = later("$2")
    ))
    .bind(node)
    .bind(ttl_ms)
    .execute(pool)
    .await?;
    sqlx::query(&format!("DELETE FROM modbus_nodes WHERE expires_at < {NOW}"))
        .execute(pool)
        .await?;
    Ok(())
}

/// Extends every lease `node` still holds by `ttl_ms` and returns their units. A unit
/// missing from the answer was taken over by another process (only possible once the
/// lease had run out) and must no longer be polled here.
pub async fn renew(pool: &sqlx::Pool<Db>, node: &str, ttl_ms: i64) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "UPDATE modbus_leases SET expires_at = {later} WHERE owner = $1 RETURNING unit",
        later = later("$2")
    ))
    .bind(node)
    .bind(ttl_ms)
    .fetch_all(pool)
    .await
}

/// Every lease row with whether it is still running, and the processes present now.
pub async fn view(pool: &sqlx::Pool<Db>) -> Result<(Vec<Lease>, Vec<String>), sqlx::Error> {
    let leases = sqlx::query_as(&format!(
        "SELECT unit, owner, expires_at > {NOW} AS live FROM modbus_leases ORDER BY unit"
    ))
    .fetch_all(pool)
    .await?;
    let nodes = sqlx::query_scalar(&format!(
        "SELECT node_id FROM modbus_nodes WHERE expires_at > {NOW} ORDER BY node_id"
    ))
    .fetch_all(pool)
    .await?;
    Ok((leases, nodes))
}

/// Takes `unit` for `node` for `ttl_ms` if nobody holds it, its lease ran out, or `node`
/// already holds it (a restart with the same node_id). One statement, so two processes
/// claiming the same unit cannot both win: the loser's upsert matches no row (false).
pub async fn claim(pool: &sqlx::Pool<Db>, node: &str, unit: &str, ttl_ms: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(&format!(
        "INSERT INTO modbus_leases (unit, owner, expires_at) VALUES ($1, $2, {later})
         ON CONFLICT (unit) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
         WHERE modbus_leases.expires_at <= {NOW} OR modbus_leases.owner = excluded.owner",
        later = later("$3")
    ))
    .bind(unit)
    .bind(node)
    .bind(ttl_ms)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives `unit` up (deletes the row) if `node` holds it; true when it did.
pub async fn release(pool: &sqlx::Pool<Db>, node: &str, unit: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM modbus_leases WHERE unit = $1 AND owner = $2")
        .bind(unit)
        .bind(node)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives up every lease of `node` and its presence (graceful shutdown); returns the number
/// of leases released.
pub async fn release_all(pool: &sqlx::Pool<Db>, node: &str) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM modbus_leases WHERE owner = $1")
        .bind(node)
        .execute(pool)
        .await?;
    sqlx::query("DELETE FROM modbus_nodes WHERE node_id = $1")
        .bind(node)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}
