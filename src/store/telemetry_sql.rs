// Telemetry queries shared by both backends; compiled twice like ledger_sql.rs. Instants
// are `Ts` (TIMESTAMPTZ on PostgreSQL, epoch milliseconds on SQLite), days `NaiveDate`.

use chrono::NaiveDate;
use sqlx::QueryBuilder;

use crate::store::Ts;
use crate::store::telemetry::{
    DailyRow, DailyWrite, DeviceNowRow, DeviceDays, DeviceSampleRow, DeviceSpan, HourCells, HourlyRow, LastBefore, Mark, ReadingRow,
    RejectionRow, StoredRejection, TailRow,
};

/// A connection (or transaction) of this backend.
pub type Conn = <Db as sqlx::Database>::Connection;

/// Rows per INSERT statement: well under both engines' bound-parameter limits.
const CHUNK: usize = 500;

/// Inserts readings as a multi-row VALUES list, skipping any (device, ts) already stored
/// (a resend); returns the keys of the rows that were new. SQLite's `insert_readings`;
/// PostgreSQL has a faster one of its own (store/mod.rs).
pub async fn insert_readings_values(conn: &mut Conn, rows: &[ReadingRow]) -> Result<Vec<(i64, Ts)>, sqlx::Error> {
    let mut inserted = Vec::with_capacity(rows.len());
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
        q.push(" ON CONFLICT (device_id, ts) DO NOTHING RETURNING device_id, ts");
        inserted.extend(q.build_query_as::<(i64, Ts)>().fetch_all(&mut *conn).await?);
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
    "r.device_id, r.ts, COALESCE(r.energy_total_kwh, r.export_energy_kwh) AS counter, r.ac_power_w, r.irradiance_poa_wm2, r.quality";

/// The columns of `rollup_tails`, in [`TailRow`]'s order.
const TAIL_COLUMNS: &str =
    "device_id, last_ts, counter_ts, counter, power_ts, power_w, irradiance_ts, irradiance_wm2";

/// Replaces a device's stored tail with the one inserted.
const TAIL_UPSERT: &str = "ON CONFLICT (device_id) DO UPDATE SET last_ts = excluded.last_ts, \
    counter_ts = excluded.counter_ts, counter = excluded.counter, power_ts = excluded.power_ts, \
    power_w = excluded.power_w, irradiance_ts = excluded.irradiance_ts, irradiance_wm2 = excluded.irradiance_wm2";

// Set-wise rollup queries: one statement per chunk of devices instead of one
// per device: the writer's batch touches thousands of devices and a round trip per device
// and query was what bounded ingest (issue 7). The device spans travel as a relation whose
// columns are named column1, column2, ... (what both engines call a VALUES list's columns).
// `SPAN_CHUNK` (devices per statement) and `push_spans`, `push_days` and `push_quality`,
// which write that relation, are each backend's own, in store/mod.rs: a VALUES list on
// SQLite, arrays through UNNEST on PostgreSQL.

/// For each span, the first reading of its device at or after `from` (`to` is unused).
pub async fn first_from_many(conn: &mut Conn, spans: &[DeviceSpan]) -> Result<Vec<(i64, Option<Ts>)>, sqlx::Error> {
    let mut out = Vec::with_capacity(spans.len());
    for chunk in spans.chunks(SPAN_CHUNK) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "SELECT w.column1, (SELECT r.ts FROM readings r WHERE r.device_id = w.column1 AND r.ts >= w.column2 ORDER BY r.ts LIMIT 1) FROM (",
        );
        push_spans(&mut q, chunk);
        q.push(") AS w");
        out.extend(q.build_query_as::<(i64, Option<Ts>)>().fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// The readings of every span, by device, oldest first.
pub async fn window_samples_many(conn: &mut Conn, spans: &[DeviceSpan]) -> Result<Vec<DeviceSampleRow>, sqlx::Error> {
    let mut out = Vec::new();
    for chunk in spans.chunks(SPAN_CHUNK) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(format!("SELECT {SAMPLE_COLUMNS} FROM readings r JOIN ("));
        push_spans(&mut q, chunk);
        q.push(") AS w ON r.device_id = w.column1 AND r.ts >= w.column2 AND r.ts < w.column3 ORDER BY r.device_id, r.ts");
        out.extend(q.build_query_as::<DeviceSampleRow>().fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// For each span, its device's last reading before `from` with a usable counter, and its
/// last with power and with irradiance at or after `to` (spans here run backwards: `to`
/// bounds how far back to look, as these pair only across a short gap, and a device that
/// never has the quantity would otherwise be read to its first reading).
pub async fn last_before_many(conn: &mut Conn, spans: &[DeviceSpan]) -> Result<Vec<(i64, LastBefore)>, sqlx::Error> {
    /// A device and the instants of its last counter, power and irradiance readings.
    type Found = (i64, Option<Ts>, Option<Ts>, Option<Ts>);
    let mut found: Vec<Found> = Vec::with_capacity(spans.len());
    for chunk in spans.chunks(SPAN_CHUNK) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "SELECT w.column1, \
             (SELECT r.ts FROM readings r WHERE r.device_id = w.column1 AND r.ts < w.column2 \
              AND COALESCE(r.energy_total_kwh, r.export_energy_kwh) > 0 ORDER BY r.ts DESC LIMIT 1), \
             (SELECT r.ts FROM readings r WHERE r.device_id = w.column1 AND r.ts < w.column2 AND r.ts >= w.column3 \
              AND r.ac_power_w IS NOT NULL ORDER BY r.ts DESC LIMIT 1), \
             (SELECT r.ts FROM readings r WHERE r.device_id = w.column1 AND r.ts < w.column2 AND r.ts >= w.column3 \
              AND r.irradiance_poa_wm2 IS NOT NULL ORDER BY r.ts DESC LIMIT 1) FROM (",
        );
        push_spans(&mut q, chunk);
        q.push(") AS w");
        found.extend(q.build_query_as::<Found>().fetch_all(&mut *conn).await?);
    }
    let mut keys: Vec<DeviceSpan> = Vec::new();
    for (device_id, counter, power, irradiance) in &found {
        for ts in [counter, power, irradiance].into_iter().flatten() {
            keys.push(DeviceSpan { device_id: *device_id, from: *ts, to: *ts });
        }
    }
    keys.sort_unstable_by_key(|k| (k.device_id, k.from.0));
    keys.dedup();
    let mut rows = std::collections::HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(SPAN_CHUNK) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(format!("SELECT {SAMPLE_COLUMNS} FROM readings r JOIN ("));
        push_spans(&mut q, chunk);
        q.push(") AS w ON r.device_id = w.column1 AND r.ts = w.column2");
        for row in q.build_query_as::<DeviceSampleRow>().fetch_all(&mut *conn).await? {
            rows.insert((row.device_id, row.sample.ts.0), row.sample);
        }
    }
    let at = |device_id: i64, ts: Option<Ts>| ts.and_then(|t| rows.get(&(device_id, t.0)).cloned());
    Ok(found
        .into_iter()
        .map(|(d, counter, power, irradiance)| {
            (d, LastBefore { counter: at(d, counter), power: at(d, power), irradiance: at(d, irradiance) })
        })
        .collect())
}

/// Sets the quality flags of readings given as (device, ts, quality).
pub async fn set_quality_many(conn: &mut Conn, rows: &[(i64, Ts, i16)]) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(SPAN_CHUNK) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new("UPDATE readings SET quality = w.column3 FROM (");
        push_quality(&mut q, chunk);
        q.push(") AS w WHERE readings.device_id = w.column1 AND readings.ts = w.column2");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Replaces the hourly rows of every span with `rows` (which must lie inside the spans).
pub async fn replace_hourly_many(conn: &mut Conn, spans: &[DeviceSpan], rows: &[HourlyRow]) -> Result<(), sqlx::Error> {
    for chunk in spans.chunks(SPAN_CHUNK) {
        // `IN (subquery)` rather than a correlated EXISTS: SQLite scans the whole table for
        // the latter, both engines look up the primary key for the former.
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "DELETE FROM energy_hourly WHERE (device_id, hour) IN (SELECT h.device_id, h.hour FROM (",
        );
        push_spans(&mut q, chunk);
        q.push(") AS w JOIN energy_hourly h ON h.device_id = w.column1 AND h.hour >= w.column2 AND h.hour < w.column3)");
        q.build().execute(&mut *conn).await?;
    }
    insert_hourly(conn, rows).await
}

/// The hourly rows of every span, by device and hour.
pub async fn hour_cells_many(conn: &mut Conn, spans: &[DeviceSpan]) -> Result<Vec<HourCells>, sqlx::Error> {
    let mut out = Vec::new();
    for chunk in spans.chunks(SPAN_CHUNK) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "SELECT h.device_id, h.hour, h.energy_kwh, h.peak_power_w, h.samples, h.irradiation_kwh_m2, h.bad_intervals \
             FROM energy_hourly h JOIN (",
        );
        push_spans(&mut q, chunk);
        q.push(") AS w ON h.device_id = w.column1 AND h.hour >= w.column2 AND h.hour < w.column3 ORDER BY h.device_id, h.hour");
        out.extend(q.build_query_as::<HourCells>().fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// Replaces the daily rows of every device's days with `rows` (a day without hours has no row),
/// and drops the year packs that held any of those days (store/daily_packs.rs).
pub async fn replace_daily_many(conn: &mut Conn, days: &[DeviceDays], rows: &[DailyWrite]) -> Result<(), sqlx::Error> {
    for chunk in days.chunks(SPAN_CHUNK) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "DELETE FROM energy_daily WHERE (device_id, day) IN (SELECT d.device_id, d.day FROM (",
        );
        push_days(&mut q, chunk);
        q.push(") AS w JOIN energy_daily d ON d.device_id = w.column1 AND d.day >= w.column2 AND d.day <= w.column3)");
        q.build().execute(&mut *conn).await?;
    }
    drop_packs_from(conn, days).await?;
    insert_daily(conn, rows).await
}

/// Marks devices whose rollups trail their readings: `spans` hold each device's first and
/// last new reading (`from`, `to`), one per device in device order (the order rows are
/// locked in). An existing mark is widened to cover both, and its `seq` counts one more.
///
/// The mark is rewritten even when its span does not widen (a late reading inside it): a
/// concurrent roll-up that read the readings before this transaction committed must see
/// that the mark changed, or it would remove it and the reading would never be rolled up.
pub async fn mark_dirty_many(conn: &mut Conn, spans: &[DeviceSpan]) -> Result<(), sqlx::Error> {
    for chunk in spans.chunks(SPAN_CHUNK) {
        // `WHERE true`: SQLite's grammar needs it between a SELECT and ON CONFLICT.
        let mut q: QueryBuilder<Db> =
            QueryBuilder::new("INSERT INTO rollup_dirty (device_id, first_ts, last_ts) SELECT w.column1, w.column2, w.column3 FROM (");
        push_spans(&mut q, chunk);
        q.push(
            ") AS w WHERE true ON CONFLICT (device_id) DO UPDATE SET \
             first_ts = CASE WHEN excluded.first_ts < rollup_dirty.first_ts THEN excluded.first_ts ELSE rollup_dirty.first_ts END, \
             last_ts = CASE WHEN excluded.last_ts > rollup_dirty.last_ts THEN excluded.last_ts ELSE rollup_dirty.last_ts END, \
             seq = rollup_dirty.seq + 1",
        );
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Logs that the rollups of one batch's devices trail their readings (`spans`: each
/// device's first and last new reading). One row per batch, appended and never updated: a
/// roll-up removes exactly the rows it read, so a batch committed while it ran keeps its
/// row without any locking, and a batch costs one row instead of an upsert per device in
/// `rollup_dirty` (a third of a deferred batch's time, issue 7).
/// Returns the row's id.
pub async fn log_pending(conn: &mut Conn, spans: &[DeviceSpan]) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO rollup_pending (spans) VALUES ($1) RETURNING id")
        .bind(crate::store::telemetry::encode_spans(spans))
        .fetch_one(conn)
        .await
}

/// The logged batches whose rollups trail their readings: their ids, and their spans.
pub async fn pending<'c, E: sqlx::Executor<'c, Database = Db>>(ex: E) -> Result<Vec<(i64, Vec<DeviceSpan>)>, sqlx::Error> {
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as("SELECT id, spans FROM rollup_pending ORDER BY id").fetch_all(ex).await?;
    Ok(rows.into_iter().map(|(id, b)| (id, crate::store::telemetry::decode_spans(&b))).collect())
}

/// Removes the logged batches that were rolled up.
pub async fn clear_pending(conn: &mut Conn, ids: &[i64]) -> Result<(), sqlx::Error> {
    for chunk in ids.chunks(CHUNK) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new("DELETE FROM rollup_pending WHERE id IN (");
        let mut list = q.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        q.push(")");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Every device whose rollups trail its readings, in device order.
pub async fn dirty<'c, E: sqlx::Executor<'c, Database = Db>>(ex: E) -> Result<Vec<Mark>, sqlx::Error> {
    let rows: Vec<(i64, Ts, Ts, i64)> =
        sqlx::query_as("SELECT device_id, first_ts, last_ts, seq FROM rollup_dirty ORDER BY device_id").fetch_all(ex).await?;
    Ok(rows
        .into_iter()
        .map(|(device_id, from, to, seq)| Mark { span: DeviceSpan { device_id, from, to }, seq })
        .collect())
}

/// Removes the marks that were rolled up, unless a concurrent writer marked the device again
/// meanwhile (then it stays, for the next pass). The marks are locked first, in device
/// order like `mark_dirty_many`'s, so that this waits for a writer still marking them (and
/// then sees its `seq`) without the two ever waiting for each other.
pub async fn clear_dirty_many(conn: &mut Conn, marks: &[Mark]) -> Result<(), sqlx::Error> {
    lock_marks(&mut *conn, marks).await?;
    for chunk in marks.chunks(SPAN_CHUNK) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "DELETE FROM rollup_dirty WHERE (device_id, seq) IN (SELECT w.column1, w.column2 FROM (",
        );
        push_marks(&mut q, chunk);
        q.push(") AS w)");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Inserts hourly rows as VALUES lists (SQLite's `insert_hourly`).
pub async fn insert_hourly_values(conn: &mut Conn, rows: &[HourlyRow]) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(CHUNK) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "INSERT INTO energy_hourly (device_id, hour, energy_kwh, peak_power_w, samples, irradiation_kwh_m2, bad_intervals, source) ",
        );
        q.push_values(chunk, |mut b, r| {
            b.push_bind(r.device_id)
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

/// Inserts daily rows as VALUES lists (SQLite's `insert_daily`).
pub async fn insert_daily_values(conn: &mut Conn, rows: &[DailyWrite]) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(CHUNK) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "INSERT INTO energy_daily (device_id, day, energy_kwh, peak_power_w, samples, irradiation_kwh_m2, bad_intervals, \
             data_hours, producing_hours) ",
        );
        q.push_values(chunk, |mut b, r| {
            b.push_bind(r.device_id)
                .push_bind(r.day)
                .push_bind(r.energy_kwh)
                .push_bind(r.peak_power_w)
                .push_bind(r.samples)
                .push_bind(r.irradiation_kwh_m2)
                .push_bind(r.bad_intervals)
                .push_bind(r.data_hours)
                .push_bind(r.producing_hours);
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
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

// `devices_now`, the health view's per-device lookups, is written per backend in
// store/mod.rs: PostgreSQL takes the devices as an array and LATERAL joins; SQLite packs the
// page into one JSON text (store/devices_now_packed.rs).

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
        "SELECT device_id, day, energy_kwh, samples FROM energy_daily WHERE day = $1",
    )
    .bind(day)
    .fetch_all(ex)
    .await
}
