// Telemetry queries shared by both backends; compiled twice like ledger_sql.rs. Instants
// are `Ts` (TIMESTAMPTZ on PostgreSQL, epoch milliseconds on SQLite), days `NaiveDate`.

use chrono::NaiveDate;
use sqlx::QueryBuilder;

use crate::store::Ts;
use crate::store::telemetry::{DailyRow, HourlyRow, ReadingRow, RejectionRow, SampleRow, StoredRejection};

/// A connection (or transaction) of this backend.
pub type Conn = <Db as sqlx::Database>::Connection;

/// Rows per INSERT statement: well under both engines' bound-parameter limits.
const CHUNK: usize = 500;

/// Inserts readings, skipping any (device, ts) already stored (a resend); returns how
/// many were new.
pub async fn insert_readings(conn: &mut Conn, rows: &[ReadingRow]) -> Result<u64, sqlx::Error> {
    let mut inserted = 0;
    for chunk in rows.chunks(CHUNK) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "INSERT INTO readings (device_id, ts, received_at, ac_power_w, dc_power_w, energy_total_kwh, \
             export_energy_kwh, grid_voltage_v, frequency_hz, temperature_c, irradiance_poa_wm2, \
             module_temp_c, ambient_temp_c, status, fault_code, quality) ",
        );
        q.push_values(chunk, |mut b, r| {
            b.push_bind(r.device_id)
                .push_bind(r.ts)
                .push_bind(r.received_at)
                .push_bind(r.ac_power_w)
                .push_bind(r.dc_power_w)
                .push_bind(r.energy_total_kwh)
                .push_bind(r.export_energy_kwh)
                .push_bind(r.grid_voltage_v)
                .push_bind(r.frequency_hz)
                .push_bind(r.temperature_c)
                .push_bind(r.irradiance_poa_wm2)
                .push_bind(r.module_temp_c)
                .push_bind(r.ambient_temp_c)
                .push_bind(r.status.clone())
                .push_bind(r.fault_code.clone())
                .push_bind(r.quality);
        });
        q.push(" ON CONFLICT (device_id, ts) DO NOTHING");
        inserted += q.build().execute(&mut *conn).await?.rows_affected();
    }
    Ok(inserted)
}

pub async fn insert_rejections(conn: &mut Conn, rows: &[RejectionRow]) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(CHUNK) {
        let mut q: QueryBuilder<Db> =
            QueryBuilder::new("INSERT INTO rejections (received_at, source, gateway, device, reason, detail, payload) ");
        q.push_values(chunk, |mut b, r| {
            b.push_bind(r.received_at)
                .push_bind(r.source.clone())
                .push_bind(r.gateway.clone())
                .push_bind(r.device.clone())
                .push_bind(r.reason)
                .push_bind(r.detail.clone())
                .push_bind(r.payload.clone());
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The counter is whichever lifetime counter the device reports (inverter or meter).
const SAMPLE_COLUMNS: &str =
    "ts, COALESCE(energy_total_kwh, export_energy_kwh) AS counter, ac_power_w, irradiance_poa_wm2, quality";

/// Readings of one device in [from, to), oldest first.
pub async fn window_samples(conn: &mut Conn, device_id: i64, from: Ts, to: Ts) -> Result<Vec<SampleRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SAMPLE_COLUMNS} FROM readings WHERE device_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts"
    ))
    .bind(device_id)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await
}

/// The last reading before `before` (with a usable counter when `with_counter`).
pub async fn last_before(conn: &mut Conn, device_id: i64, before: Ts, with_counter: bool) -> Result<Option<SampleRow>, sqlx::Error> {
    let filter = if with_counter { "AND COALESCE(energy_total_kwh, export_energy_kwh) > 0" } else { "" };
    sqlx::query_as(&format!(
        "SELECT {SAMPLE_COLUMNS} FROM readings WHERE device_id = $1 AND ts < $2 {filter} ORDER BY ts DESC LIMIT 1"
    ))
    .bind(device_id)
    .bind(before)
    .fetch_optional(conn)
    .await
}

/// The first reading at or after `from`, if any.
pub async fn first_from(conn: &mut Conn, device_id: i64, from: Ts) -> Result<Option<Ts>, sqlx::Error> {
    sqlx::query_scalar("SELECT ts FROM readings WHERE device_id = $1 AND ts >= $2 ORDER BY ts LIMIT 1")
        .bind(device_id)
        .bind(from)
        .fetch_optional(conn)
        .await
}

pub async fn set_quality(conn: &mut Conn, device_id: i64, ts: Ts, quality: i16) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE readings SET quality = $3 WHERE device_id = $1 AND ts = $2 AND quality <> $3")
        .bind(device_id)
        .bind(ts)
        .bind(quality)
        .execute(conn)
        .await
        .map(drop)
}

/// Replaces one device's hourly rows in [from, to) with `rows`.
pub async fn replace_hourly(conn: &mut Conn, device_id: i64, from: Ts, to: Ts, rows: &[HourlyRow]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM energy_hourly WHERE device_id = $1 AND hour >= $2 AND hour < $3")
        .bind(device_id)
        .bind(from)
        .bind(to)
        .execute(&mut *conn)
        .await?;
    for chunk in rows.chunks(CHUNK) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "INSERT INTO energy_hourly (device_id, hour, energy_kwh, peak_power_w, samples, irradiation_kwh_m2, bad_intervals, source) ",
        );
        q.push_values(chunk, |mut b, r| {
            b.push_bind(device_id)
                .push_bind(r.hour)
                .push_bind(r.energy_kwh)
                .push_bind(r.peak_power_w)
                .push_bind(r.samples)
                .push_bind(r.irradiation_kwh_m2)
                .push_bind(r.bad_intervals)
                .push_bind(r.source.clone());
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Recomputes one device's row for local `day`, whose hours are [start, end).
pub async fn recompute_daily(conn: &mut Conn, device_id: i64, day: NaiveDate, start: Ts, end: Ts) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM energy_daily WHERE device_id = $1 AND day = $2")
        .bind(device_id)
        .bind(day)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO energy_daily (device_id, day, energy_kwh, peak_power_w, samples, irradiation_kwh_m2, bad_intervals)
         SELECT device_id, $2, SUM(energy_kwh), MAX(peak_power_w), SUM(samples), SUM(irradiation_kwh_m2), SUM(bad_intervals)
         FROM energy_hourly WHERE device_id = $1 AND hour >= $3 AND hour < $4 GROUP BY device_id",
    )
    .bind(device_id)
    .bind(day)
    .bind(start)
    .bind(end)
    .execute(&mut *conn)
    .await?;
    let hours: Vec<(Ts, f64, i32)> =
        sqlx::query_as("SELECT hour, energy_kwh, samples FROM energy_hourly WHERE device_id = $1 AND hour >= $2 AND hour < $3")
            .bind(device_id)
            .bind(start)
            .bind(end)
            .fetch_all(&mut *conn)
            .await?;
    let (data, producing) = crate::store::telemetry::hour_masks(start, &hours);
    sqlx::query("UPDATE energy_daily SET data_hours = $3, producing_hours = $4 WHERE device_id = $1 AND day = $2")
        .bind(device_id)
        .bind(day)
        .bind(data)
        .bind(producing)
        .execute(conn)
        .await
        .map(drop)
}

/// Hourly rows of some devices in [from, to).
pub async fn hourly<'c, E: sqlx::Executor<'c, Database = Db>>(ex: E, device_ids: &[i64], from: Ts, to: Ts) -> Result<Vec<HourlyRow>, sqlx::Error> {
    if device_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q: QueryBuilder<Db> = QueryBuilder::new(
        "SELECT device_id, hour, energy_kwh, peak_power_w, samples, irradiation_kwh_m2, bad_intervals, source FROM energy_hourly WHERE hour >= ",
    );
    q.push_bind(from).push(" AND hour < ").push_bind(to).push(" AND device_id IN (");
    let mut list = q.separated(", ");
    for id in device_ids {
        list.push_bind(*id);
    }
    q.push(") ORDER BY hour, device_id");
    q.build_query_as().fetch_all(ex).await
}

/// Daily rows of some devices for days in [from, to].
pub async fn daily<'c, E: sqlx::Executor<'c, Database = Db>>(ex: E, device_ids: &[i64], from: NaiveDate, to: NaiveDate) -> Result<Vec<DailyRow>, sqlx::Error> {
    if device_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q: QueryBuilder<Db> = QueryBuilder::new(
        "SELECT device_id, day, energy_kwh, peak_power_w, samples, irradiation_kwh_m2, bad_intervals FROM energy_daily WHERE day >= ",
    );
    q.push_bind(from).push(" AND day <= ").push_bind(to).push(" AND device_id IN (");
    let mut list = q.separated(", ");
    for id in device_ids {
        list.push_bind(*id);
    }
    q.push(") ORDER BY day, device_id");
    q.build_query_as().fetch_all(ex).await
}

const READING_COLUMNS: &str = "device_id, ts, received_at, ac_power_w, dc_power_w, energy_total_kwh, export_energy_kwh, \
    grid_voltage_v, frequency_hz, temperature_c, irradiance_poa_wm2, module_temp_c, ambient_temp_c, status, fault_code, quality";

/// Raw readings of some devices in [from, to), oldest first.
pub async fn readings<'c, E: sqlx::Executor<'c, Database = Db>>(ex: E, device_ids: &[i64], from: Ts, to: Ts) -> Result<Vec<ReadingRow>, sqlx::Error> {
    if device_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q: QueryBuilder<Db> = QueryBuilder::new(format!("SELECT {READING_COLUMNS} FROM readings WHERE ts >= "));
    q.push_bind(from).push(" AND ts < ").push_bind(to).push(" AND device_id IN (");
    let mut list = q.separated(", ");
    for id in device_ids {
        list.push_bind(*id);
    }
    q.push(") ORDER BY ts");
    q.build_query_as().fetch_all(ex).await
}

/// The newest reading of each device seen since `since`.
pub async fn latest_since<'c, E: sqlx::Executor<'c, Database = Db>>(ex: E, since: Ts) -> Result<Vec<ReadingRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {} FROM readings r JOIN (SELECT device_id AS d, MAX(ts) AS m FROM readings WHERE ts >= $1 GROUP BY device_id) l
         ON r.device_id = l.d AND r.ts = l.m",
        READING_COLUMNS.split(", ").map(|c| format!("r.{c}")).collect::<Vec<_>>().join(", ")
    ))
    .bind(since)
    .fetch_all(ex)
    .await
}

/// The newest reading of one device.
pub async fn latest_of<'c, E: sqlx::Executor<'c, Database = Db>>(ex: E, device_id: i64) -> Result<Option<ReadingRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {READING_COLUMNS} FROM readings WHERE device_id = $1 ORDER BY ts DESC LIMIT 1"))
        .bind(device_id)
        .fetch_optional(ex)
        .await
}

/// Refused input, newest first, optionally of one gateway or reason.
pub async fn rejections<'c, E: sqlx::Executor<'c, Database = Db>>(
    ex: E,
    gateway: Option<&str>,
    reason: Option<&str>,
    limit: i64,
) -> Result<Vec<StoredRejection>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, received_at, source, gateway, device, reason, detail, payload FROM rejections
         WHERE ($1 IS NULL OR gateway = $1) AND ($2 IS NULL OR reason = $2) ORDER BY id DESC LIMIT $3",
    )
    .bind(gateway)
    .bind(reason)
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// Every device's daily row for one local day.
pub async fn daily_on<'c, E: sqlx::Executor<'c, Database = Db>>(ex: E, day: NaiveDate) -> Result<Vec<DailyRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT device_id, day, energy_kwh, peak_power_w, samples, irradiation_kwh_m2, bad_intervals FROM energy_daily WHERE day = $1",
    )
    .bind(day)
    .fetch_all(ex)
    .await
}
