// Alert queries shared by both backends; compiled twice like ledger_sql.rs. Also the few
// county-wide aggregate reads the evaluator makes once per cycle (not one per device).

use chrono::NaiveDate;

use crate::alerts::model::{AlertFilter, AlertRow, EventRow, NewAlert};
use crate::store::Ts;

/// A connection (or transaction) of this backend.
pub type Conn = <Db as sqlx::Database>::Connection;

const ALERT_COLUMNS: &str = "id, rule, subject, station_code, device_code, gateway_code, area_code, om_body, severity, \
    status, title, detail, evidence, opened_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by, resolution_note";

/// Alerts not yet resolved.
pub async fn unresolved<'c, E: sqlx::Executor<'c, Database = Db>>(ex: E) -> Result<Vec<AlertRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE status <> 'resolved' ORDER BY id"))
        .fetch_all(ex)
        .await
}

/// Alerts, newest first, optionally of one status and station.
pub async fn list<'c, E: sqlx::Executor<'c, Database = Db>>(ex: E, f: &AlertFilter) -> Result<Vec<AlertRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ALERT_COLUMNS} FROM alerts WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR station_code = $2)
         ORDER BY id DESC LIMIT $3"
    ))
    .bind(f.status.as_deref())
    .bind(f.station.as_deref())
    .bind(f.limit)
    .fetch_all(ex)
    .await
}

pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<AlertRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Opens an alert; None when one is already open for its (rule, subject).
pub async fn insert(conn: &mut Conn, a: &NewAlert, at: Ts) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO alerts (rule, subject, station_code, device_code, gateway_code, area_code, om_body, severity,
             status, title, detail, evidence, opened_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $10, $11, $12)
         ON CONFLICT (rule, subject) WHERE status <> 'resolved' DO NOTHING RETURNING id",
    )
    .bind(&a.rule)
    .bind(&a.subject)
    .bind(&a.station_code)
    .bind(&a.device_code)
    .bind(&a.gateway_code)
    .bind(&a.area_code)
    .bind(&a.om_body)
    .bind(&a.severity)
    .bind(&a.title)
    .bind(&a.detail)
    .bind(a.evidence.to_string())
    .bind(at)
    .fetch_optional(conn)
    .await
}

/// open -> acknowledged; false when the alert was not open.
pub async fn acknowledge(conn: &mut Conn, id: i64, at: Ts, actor: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE alerts SET status = 'acknowledged', acknowledged_at = $2, acknowledged_by = $3 WHERE id = $1 AND status = 'open'",
    )
    .bind(id)
    .bind(at)
    .bind(actor)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// open or acknowledged -> resolved; false when it was resolved already.
pub async fn resolve(conn: &mut Conn, id: i64, at: Ts, actor: &str, note: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE alerts SET status = 'resolved', resolved_at = $2, resolved_by = $3, resolution_note = $4
         WHERE id = $1 AND status <> 'resolved'",
    )
    .bind(id)
    .bind(at)
    .bind(actor)
    .bind(note)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn add_event(conn: &mut Conn, alert_id: i64, at: Ts, actor: &str, action: &str, note: Option<&str>) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO alert_events (alert_id, at, actor, action, note) VALUES ($1, $2, $3, $4, $5)")
        .bind(alert_id)
        .bind(at)
        .bind(actor)
        .bind(action)
        .bind(note)
        .execute(conn)
        .await
        .map(drop)
}

/// Every event of alerts with id in [from_id, to_id], in order.
pub async fn events<'c, E: sqlx::Executor<'c, Database = Db>>(ex: E, from_id: i64, to_id: i64) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, alert_id, at, actor, action, note FROM alert_events WHERE alert_id >= $1 AND alert_id <= $2 ORDER BY alert_id, id",
    )
    .bind(from_id)
    .bind(to_id)
    .fetch_all(ex)
    .await
}

/// Each device's energy per local day for days in [from, to] (inverters and meters alike).
pub async fn daily_range<'c, E: sqlx::Executor<'c, Database = Db>>(ex: E, from: NaiveDate, to: NaiveDate) -> Result<Vec<(i64, NaiveDate, f64)>, sqlx::Error> {
    sqlx::query_as("SELECT device_id, day, energy_kwh FROM energy_daily WHERE day >= $1 AND day <= $2")
        .bind(from)
        .bind(to)
        .fetch_all(ex)
        .await
}

/// Devices with counter intervals refused as production since `since`, and how many.
pub async fn bad_intervals_since<'c, E: sqlx::Executor<'c, Database = Db>>(ex: E, since: Ts) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT device_id, CAST(SUM(bad_intervals) AS BIGINT) FROM energy_hourly WHERE hour >= $1
         GROUP BY device_id HAVING SUM(bad_intervals) > 0",
    )
    .bind(since)
    .fetch_all(ex)
    .await
}

/// Readings flagged by counter validation (zero, decrease, jump) per device since `since`.
pub async fn flagged_since<'c, E: sqlx::Executor<'c, Database = Db>>(ex: E, since: Ts) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT device_id, COUNT(*) FROM readings WHERE quality <> 0 AND ts >= $1 GROUP BY device_id")
        .bind(since)
        .fetch_all(ex)
        .await
}

/// Refused input per gateway since `since`.
pub async fn rejections_by_gateway<'c, E: sqlx::Executor<'c, Database = Db>>(ex: E, since: Ts) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT gateway, COUNT(*) FROM rejections WHERE received_at >= $1 AND gateway IS NOT NULL GROUP BY gateway",
    )
    .bind(since)
    .fetch_all(ex)
    .await
}

/// Unresolved alerts counted by (severity, status), for /metrics.
pub async fn unresolved_counts<'c, E: sqlx::Executor<'c, Database = Db>>(ex: E) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT severity, status, COUNT(*) FROM alerts WHERE status <> 'resolved' GROUP BY severity, status ORDER BY severity, status")
        .fetch_all(ex)
        .await
}
