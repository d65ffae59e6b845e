//! Storage: one behaviour on two backends, embedded SQLite (the default) and PostgreSQL
//! (optionally with TimescaleDB).
//!
//! Queries that read the same on both backends live in `*_sql.rs` files that are compiled
//! twice, once per backend, through `include!` in [`pg`] and [`lite`]: sqlx's generic
//! executor bounds would otherwise have to be repeated on every function. [`Store`] picks
//! the right copy at run time. SQL that differs between the engines stays in the backend's
//! own module.

mod assess_copy;
mod assess_packed;
pub mod daily_packs;
mod dec;
mod devices_now_packed;
mod gateway;
mod leases;
mod readings_copy;
pub mod telemetry;
pub use gateway::GatewayStatusRow;
pub mod timescale;
mod ts;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use dec::Dec;
pub use timescale::TimeSeriesMode;
pub use ts::Ts;

use crate::config::{DatabaseConfig, StorageConfig};

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// Which engine a `database.url` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Recognises `sqlite:`, `postgres:` and `postgresql:` URLs.
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A connection pool on one of the two backends. Cheap to clone.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Calls the same-named function in the backend module that matches the store, e.g.
/// `dispatch!(store, ledger::list_stations(filter))` becomes
/// `pg::ledger::list_stations(pool, filter)` or `lite::ledger::list_stations(pool, filter)`.
macro_rules! dispatch {
    ($store:expr, $module:ident :: $func:ident ( $($arg:expr),* $(,)? )) => {
        match $store {
            $crate::store::Store::Sqlite(pool) => $crate::store::lite::$module::$func(pool, $($arg),*).await,
            $crate::store::Store::Postgres(pool) => $crate::store::pg::$module::$func(pool, $($arg),*).await,
        }
    };
}
pub(crate) use dispatch;

/// Like [`dispatch!`] inside a transaction: `dispatch_tx!(tx, ledger::upsert_area(&a))`.
macro_rules! dispatch_tx {
    ($tx:expr, $module:ident :: $func:ident ( $($arg:expr),* $(,)? )) => {
        match $tx {
            $crate::store::Tx::Sqlite(tx) => $crate::store::lite::$module::$func(&mut **tx, $($arg),*).await,
            $crate::store::Tx::Postgres(tx) => $crate::store::pg::$module::$func(&mut **tx, $($arg),*).await,
        }
    };
}
pub(crate) use dispatch_tx;

/// What API processes keep in memory, as of a moment: the versions of the ledger (areas,
/// stations, devices) and of accounts (users, API tokens), moved on by triggers in every
/// change's transaction (migration 0018).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    pub ledger: i64,
    pub accounts: i64,
}

/// An open transaction on either backend. Dropped without [`Tx::commit`], it rolls back.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }
}

/// Stores a closed set of values as TEXT on both backends (never as a PostgreSQL enum
/// type, so adding a value is a CHECK change, not a type migration). The type needs
/// `as_str()` and `parse(&str) -> Option<Self>`.
macro_rules! text_codec {
    ($t:ty) => {
        impl sqlx::Type<sqlx::Postgres> for $t {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::Type<sqlx::Postgres>>::type_info()
            }
        }
        impl sqlx::Encode<'_, sqlx::Postgres> for $t {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.as_str(), buf)
            }
        }
        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $t {
            fn decode(
                value: sqlx::postgres::PgValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
                <$t>::parse(text)
                    .ok_or_else(|| format!("unexpected {} {text:?}", stringify!($t)).into())
            }
        }
        impl sqlx::Type<sqlx::Sqlite> for $t {
            fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
                <&str as sqlx::Type<sqlx::Sqlite>>::type_info()
            }
        }
        impl<'q> sqlx::Encode<'q, sqlx::Sqlite> for $t {
            fn encode_by_ref(
                &self,
                buf: &mut Vec<sqlx::sqlite::SqliteArgumentValue<'q>>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Sqlite>>::encode(self.as_str(), buf)
            }
        }
        impl<'r> sqlx::Decode<'r, sqlx::Sqlite> for $t {
            fn decode(
                value: sqlx::sqlite::SqliteValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<sqlx::Sqlite>>::decode(value)?;
                <$t>::parse(text)
                    .ok_or_else(|| format!("unexpected {} {text:?}", stringify!($t)).into())
            }
        }
    };
}
pub(crate) use text_codec;

/// The PostgreSQL copy of the shared queries.
pub mod pg {
    /// The database these functions run on.
    pub type Db = sqlx::Postgres;
    pub mod versions {
        use super::Db;
        include!("versions_sql.rs");
    }
    pub mod ledger {
        use super::Db;
        include!("ledger_sql.rs");

        /// The devices of some stations, ordered by station then code: an index lookup per
        /// station (`devices_station`). The codes go as one array, so a page of the station
        /// list is one statement planned once, not an IN list of a hundred binds.
        pub async fn devices_of_stations(
            pool: &sqlx::Pool<Db>,
            station_codes: &[&str],
        ) -> Result<Vec<Device>, sqlx::Error> {
            sqlx::query_as(&format!(
                "SELECT {DEVICE_COLUMNS} FROM devices WHERE station_code = ANY($1::text[]) \
                 ORDER BY station_code, code"
            ))
            .bind(station_codes)
            .fetch_all(pool)
            .await
        }
    }
    pub mod audit {
        use super::Db;
        include!("audit_sql.rs");
    }
    pub mod telemetry {
        use super::Db;
        include!("telemetry_sql.rs");
        include!("daily_packs_sql.rs");

        /// The rollup tails of `device_ids` that have one.
        pub async fn tails(
            conn: &mut Conn,
            device_ids: &[i64],
        ) -> Result<Vec<TailRow>, sqlx::Error> {
            sqlx::query_as(&format!(
                "SELECT {TAIL_COLUMNS} FROM rollup_tails WHERE device_id = ANY($1::int8[])"
            ))
            .bind(device_ids)
            .fetch_all(conn)
            .await
        }

        /// Stores `tails`, replacing each device's earlier one: one statement, the rows as
        /// arrays.
        pub async fn save_tails(conn: &mut Conn, tails: &[TailRow]) -> Result<(), sqlx::Error> {
            if tails.is_empty() {
                return Ok(());
            }
            let ts = |f: fn(&TailRow) -> Option<Ts>| {
                tails.iter().map(|t| f(t).map(|t| t.0)).collect::<Vec<_>>()
            };
            let val = |f: fn(&TailRow) -> Option<f64>| tails.iter().map(f).collect::<Vec<_>>();
            sqlx::query(&format!(
                "INSERT INTO rollup_tails ({TAIL_COLUMNS}) SELECT * FROM UNNEST($1::int8[], \
                 $2::timestamptz[], $3::timestamptz[], $4::float8[], $5::timestamptz[], \
                 $6::float8[], $7::timestamptz[], $8::float8[]) {TAIL_UPSERT}"
            ))
            .bind(tails.iter().map(|t| t.device_id).collect::<Vec<_>>())
            .bind(tails.iter().map(|t| t.last_ts.0).collect::<Vec<_>>())
            .bind(ts(|t| t.counter_ts))
            .bind(val(|t| t.counter))
            .bind(ts(|t| t.power_ts))
            .bind(val(|t| t.power_w))
            .bind(ts(|t| t.irradiance_ts))
            .bind(val(|t| t.irradiance_wm2))
            .execute(conn)
            .await
            .map(drop)
        }

        /// Daily rows of some devices for days in [from, to], by day, then device. Read as
        /// one row of arrays per device: a station's year as 365 rows spent more on each
        /// row's messages and decoding, on both sides, than on reading them (issue 7: a
        /// year of daily energy, 2,346 requests/s before).
        pub async fn daily<'c, E: sqlx::Executor<'c, Database = Db>>(
            ex: E,
            device_ids: &[i64],
            from: NaiveDate,
            to: NaiveDate,
        ) -> Result<Vec<DailyRow>, sqlx::Error> {
            if device_ids.is_empty() {
                return Ok(Vec::new());
            }
            /// A device's days, kWh and samples.
            type Columns = (i64, Vec<NaiveDate>, Vec<f64>, Vec<i32>);
            // The aggregates of one group see its rows in one order: the arrays align.
            let columns: Vec<Columns> = sqlx::query_as(
                "SELECT device_id, array_agg(day), array_agg(energy_kwh), array_agg(samples) \
                 FROM energy_daily WHERE device_id = ANY($1::int8[]) AND day >= $2 AND day <= $3 \
                 GROUP BY device_id",
            )
            .bind(device_ids)
            .bind(from)
            .bind(to)
            .fetch_all(ex)
            .await?;
            let mut rows: Vec<DailyRow> = columns
                .into_iter()
                .flat_map(|(device_id, days, kwh, samples)| {
                    days.into_iter().zip(kwh).zip(samples).map(
                        move |((day, energy_kwh), samples)| DailyRow {
                            device_id,
                            day,
                            energy_kwh,
                            samples,
                        },
                    )
                })
                .collect();
            rows.sort_unstable_by_key(|r| (r.day, r.device_id));
            Ok(rows)
        }

        /// The days of `device_ids` in [from, to], by day then device, as [`daily`] gives
        /// them: from the year packs (store/daily_packs.rs), then `energy_daily` for the
        /// days after them (today, mostly). A station's year was 365 rows per device.
        pub async fn daily_packed(
            pool: &sqlx::Pool<Db>,
            device_ids: &[i64],
            from: NaiveDate,
            to: NaiveDate,
        ) -> Result<Vec<DailyRow>, sqlx::Error> {
            if device_ids.is_empty() {
                return Ok(Vec::new());
            }
            use crate::store::daily_packs::{self, Pack};
            // One statement: the packs, and per device the days after its last pack. A round
            // trip more per request cost what the packs saved (issue 7). The ids go as
            // ARRAY[$1, $2, ...], one statement text per count of devices: PostgreSQL then
            // estimates as many rows in the generic plan as in a custom one and keeps the
            // generic plan. With one array parameter it guessed 100 ids, found the generic
            // plan dearer, and planned the statement anew on every request: 2,983
            // requests/s against 4,327 with the plan kept.
            type Row = (
                i64,
                Option<i32>,
                NaiveDate,
                Option<Vec<u8>>,
                Option<f64>,
                Option<i32>,
            );
            let n = device_ids.len();
            let ids = (1..=n)
                .map(|i| format!("${i}::int8"))
                .collect::<Vec<_>>()
                .join(", ");
            let (from_p, to_p, first_year_p, last_year_p) = (n + 1, n + 2, n + 3, n + 4);
            let sql = format!(
                "SELECT device_id, year, through_day, days, NULL::float8, NULL::int4 \
                 FROM energy_daily_packs WHERE device_id = ANY(ARRAY[{ids}]) \
                   AND year >= ${first_year_p} AND year <= ${last_year_p} \
                 UNION ALL \
                 SELECT e.device_id, NULL, e.day, NULL, e.energy_kwh, e.samples \
                 FROM unnest(ARRAY[{ids}]) AS u(id) \
                 CROSS JOIN LATERAL (SELECT GREATEST(${from_p}::date, max(p.through_day) + 1) AS first \
                   FROM energy_daily_packs p WHERE p.device_id = u.id \
                     AND p.year >= ${first_year_p} AND p.year <= ${last_year_p}) AS b \
                 JOIN energy_daily e ON e.device_id = u.id AND e.day >= b.first AND e.day <= ${to_p}::date"
            );
            let mut query = sqlx::query_as::<_, Row>(&sql);
            for id in device_ids {
                query = query.bind(*id);
            }
            let got: Vec<Row> = query
                .bind(from)
                .bind(to)
                .bind(chrono::Datelike::year(&from))
                .bind(chrono::Datelike::year(&to))
                .fetch_all(pool)
                .await?;
            let mut packs: Vec<Pack> = Vec::new();
            let mut after: Vec<DailyRow> = Vec::new();
            for (device_id, year, day, blob, kwh, samples) in got {
                match (year, blob, kwh, samples) {
                    (Some(year), Some(blob), _, _) => {
                        packs.push(Pack::from_row(device_id, year, day, &blob)?)
                    }
                    (None, None, Some(energy_kwh), Some(samples)) => after.push(DailyRow {
                        device_id,
                        day,
                        energy_kwh,
                        samples,
                    }),
                    _ => {
                        return Err(sqlx::Error::Decode(
                            format!("daily energy of device {device_id} on {day}: a row neither packed nor daily").into(),
                        ));
                    }
                }
            }
            daily_packs::merge_after(device_ids, packs, after, from, to, |first| {
                daily(pool, device_ids, first, to)
            })
            .await
        }

        /// Each of `device_ids` with its newest reading since `since` and its energy on
        /// `day` (both may be missing): one descending primary-key lookup per device for
        /// each, so the cost follows the devices asked for, not the rows stored (unlike
        /// [`latest_since`]). The ids go as one array: one statement whatever their number,
        /// planned once, and the LATERAL joins force the lookups. (As VALUES lists, a page
        /// of 100 devices was planned anew on every call, about 1 ms, PostgreSQL hashed the
        /// whole readings table where it was small, 3.3 ms, and scanned a whole day of
        /// `energy_daily` rather than look each device up.)
        pub async fn devices_now(
            pool: &sqlx::Pool<Db>,
            device_ids: &[i64],
            since: Ts,
            day: NaiveDate,
        ) -> Result<Vec<DeviceNowRow>, sqlx::Error> {
            // Decoded by position: by name, sqlx looked each of 100 rows' columns up in a
            // hash map (issue 7, perf).
            type Row = (i64, Option<Ts>, Option<f64>, Option<String>, Option<f64>);
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT w.d, r.ts, r.ac_power_w, r.status, e.energy_kwh \
                 FROM UNNEST($1::int8[]) AS w(d) \
                 LEFT JOIN LATERAL (SELECT x.ts, x.ac_power_w, x.status FROM readings x \
                     WHERE x.device_id = w.d AND x.ts >= $2 ORDER BY x.ts DESC LIMIT 1) AS r ON true \
                 LEFT JOIN LATERAL (SELECT x.energy_kwh FROM energy_daily x \
                     WHERE x.device_id = w.d AND x.day = $3) AS e ON true",
            )
            .bind(device_ids)
            .bind(since)
            .bind(day)
            .fetch_all(pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(|(id, ts, power, status, today)| {
                    DeviceNowRow::from_columns(id, ts, power, status, today)
                })
                .collect())
        }

        // The set-wise relations of telemetry_sql.rs as arrays: one bind per column whatever
        // the number of devices, so one statement per batch, parsed and planned once.
        const SPAN_CHUNK: usize = usize::MAX;

        fn push_spans<'a>(q: &mut QueryBuilder<'a, Db>, spans: &'a [DeviceSpan]) {
            q.push("SELECT * FROM UNNEST(")
                .push_bind(spans.iter().map(|s| s.device_id).collect::<Vec<_>>())
                .push("::int8[], ")
                .push_bind(spans.iter().map(|s| s.from.0).collect::<Vec<_>>())
                .push("::timestamptz[], ")
                .push_bind(spans.iter().map(|s| s.to.0).collect::<Vec<_>>())
                .push("::timestamptz[]) AS u(column1, column2, column3)");
        }

        fn push_days<'a>(q: &mut QueryBuilder<'a, Db>, days: &'a [DeviceDays]) {
            q.push("SELECT * FROM UNNEST(")
                .push_bind(days.iter().map(|d| d.device_id).collect::<Vec<_>>())
                .push("::int8[], ")
                .push_bind(days.iter().map(|d| d.first).collect::<Vec<_>>())
                .push("::date[], ")
                .push_bind(days.iter().map(|d| d.last).collect::<Vec<_>>())
                .push("::date[]) AS u(column1, column2, column3)");
        }

        fn push_marks<'a>(q: &mut QueryBuilder<'a, Db>, marks: &'a [Mark]) {
            q.push("SELECT * FROM UNNEST(")
                .push_bind(marks.iter().map(|m| m.span.device_id).collect::<Vec<_>>())
                .push("::int8[], ")
                .push_bind(marks.iter().map(|m| m.seq).collect::<Vec<_>>())
                .push("::int8[]) AS u(column1, column2)");
        }

        /// Row locks on the marks, in device order (see `clear_dirty_many`).
        async fn lock_marks(conn: &mut Conn, marks: &[Mark]) -> Result<(), sqlx::Error> {
            sqlx::query(
                "SELECT 1 FROM rollup_dirty WHERE device_id = ANY($1) ORDER BY device_id FOR UPDATE",
            )
            .bind(marks.iter().map(|m| m.span.device_id).collect::<Vec<_>>())
            .execute(conn)
            .await
            .map(drop)
        }

        fn push_quality<'a>(q: &mut QueryBuilder<'a, Db>, rows: &'a [(i64, Ts, i16)]) {
            q.push("SELECT * FROM UNNEST(")
                .push_bind(rows.iter().map(|r| r.0).collect::<Vec<_>>())
                .push("::int8[], ")
                .push_bind(rows.iter().map(|r| r.1.0).collect::<Vec<_>>())
                .push("::timestamptz[], ")
                .push_bind(rows.iter().map(|r| r.2).collect::<Vec<_>>())
                .push("::int2[]) AS u(column1, column2, column3)");
        }

        async fn insert_hourly(conn: &mut Conn, rows: &[HourlyRow]) -> Result<(), sqlx::Error> {
            if rows.is_empty() {
                return Ok(());
            }
            sqlx::query(
                "INSERT INTO energy_hourly (device_id, hour, energy_kwh, peak_power_w, samples, irradiation_kwh_m2, \
                 bad_intervals, source) SELECT * FROM UNNEST($1::int8[], $2::timestamptz[], $3::float8[], $4::float8[], \
                 $5::int4[], $6::float8[], $7::int4[], $8::text[])",
            )
            .bind(rows.iter().map(|r| r.device_id).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.hour.0).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.energy_kwh).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.peak_power_w).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.samples).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.irradiation_kwh_m2).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.bad_intervals).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.source.clone()).collect::<Vec<_>>())
            .execute(conn)
            .await
            .map(drop)
        }

        async fn insert_daily(conn: &mut Conn, rows: &[DailyWrite]) -> Result<(), sqlx::Error> {
            if rows.is_empty() {
                return Ok(());
            }
            sqlx::query(
                "INSERT INTO energy_daily (device_id, day, energy_kwh, peak_power_w, samples, irradiation_kwh_m2, \
                 bad_intervals, data_hours, producing_hours) SELECT * FROM UNNEST($1::int8[], $2::date[], $3::float8[], \
                 $4::float8[], $5::int4[], $6::float8[], $7::int4[], $8::int4[], $9::int4[])",
            )
            .bind(rows.iter().map(|r| r.device_id).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.day).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.energy_kwh).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.peak_power_w).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.samples).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.irradiation_kwh_m2).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.bad_intervals).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.data_hours).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.producing_hours).collect::<Vec<_>>())
            .execute(conn)
            .await
            .map(drop)
        }

        /// The readings insert: one statement for any number of rows, each column one array,
        /// which PostgreSQL parses and plans once, where a VALUES list costs a bound parameter
        /// per cell and a statement per 500 rows.
        const INSERT_READINGS: &str = "INSERT INTO readings (device_id, ts, received_at, ac_power_w, dc_power_w, \
             energy_total_kwh, export_energy_kwh, grid_voltage_v, frequency_hz, temperature_c, irradiance_poa_wm2, \
             module_temp_c, ambient_temp_c, status, fault_code, quality) \
             SELECT * FROM UNNEST($1::int8[], $2::timestamptz[], $3::timestamptz[], $4::float8[], $5::float8[], \
             $6::float8[], $7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::float8[], \
             $13::float8[], $14::text[], $15::text[], $16::int2[])";

        /// Binds `rows` to [`INSERT_READINGS`] (a plain query or one returning keys).
        macro_rules! bind_readings {
            ($q:expr, $rows:expr) => {{
                let rows = $rows;
                let col =
                    |f: fn(&ReadingRow) -> Option<f64>| rows.iter().map(f).collect::<Vec<_>>();
                $q.bind(rows.iter().map(|r| r.device_id).collect::<Vec<_>>())
                    .bind(rows.iter().map(|r| r.ts.0).collect::<Vec<_>>())
                    .bind(rows.iter().map(|r| r.received_at.0).collect::<Vec<_>>())
                    .bind(col(|r| r.ac_power_w))
                    .bind(col(|r| r.dc_power_w))
                    .bind(col(|r| r.energy_total_kwh))
                    .bind(col(|r| r.export_energy_kwh))
                    .bind(col(|r| r.grid_voltage_v))
                    .bind(col(|r| r.frequency_hz))
                    .bind(col(|r| r.temperature_c))
                    .bind(col(|r| r.irradiance_poa_wm2))
                    .bind(col(|r| r.module_temp_c))
                    .bind(col(|r| r.ambient_temp_c))
                    .bind(rows.iter().map(|r| r.status.clone()).collect::<Vec<_>>())
                    .bind(
                        rows.iter()
                            .map(|r| r.fault_code.clone())
                            .collect::<Vec<_>>(),
                    )
                    .bind(rows.iter().map(|r| r.quality).collect::<Vec<_>>())
            }};
        }

        /// Inserts readings, skipping any (device, ts) already stored (a resend); returns the
        /// keys of the rows that were new. Must run inside a transaction.
        ///
        /// Nearly every batch holds new readings only: loaded with COPY, which spares ON
        /// CONFLICT's speculative insertion (a quarter to a third of an INSERT's time,
        /// measured on PostgreSQL 15) and takes the rows in about half the time of an INSERT
        /// from arrays; when it succeeds every row was new. A resend (stored before, or twice
        /// in the batch) fails it on the primary key; the savepoint undoes that and the
        /// batch goes through ON CONFLICT DO NOTHING instead.
        pub async fn insert_readings(
            conn: &mut Conn,
            rows: &[ReadingRow],
        ) -> Result<Vec<(i64, Ts)>, sqlx::Error> {
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            sqlx::query("SAVEPOINT new_readings")
                .execute(&mut *conn)
                .await?;
            let copied = async {
                let mut copy = conn
                    .copy_in_raw(super::super::readings_copy::COPY_READINGS)
                    .await?;
                copy.send(super::super::readings_copy::encode(rows)).await?;
                copy.finish().await
            };
            match copied.await {
                Ok(_) => {
                    sqlx::query("RELEASE SAVEPOINT new_readings")
                        .execute(&mut *conn)
                        .await?;
                    return Ok(rows.iter().map(|r| (r.device_id, r.ts)).collect());
                }
                Err(e) if is_unique_violation(&e) => {
                    sqlx::query("ROLLBACK TO SAVEPOINT new_readings")
                        .execute(&mut *conn)
                        .await?;
                }
                Err(e) => return Err(e),
            }
            let sql = format!(
                "{INSERT_READINGS} ON CONFLICT (device_id, ts) DO NOTHING RETURNING device_id, ts"
            );
            bind_readings!(sqlx::query_as(&sql), rows)
                .fetch_all(conn)
                .await
        }

        fn is_unique_violation(e: &sqlx::Error) -> bool {
            e.as_database_error()
                .is_some_and(|d| d.kind() == sqlx::error::ErrorKind::UniqueViolation)
        }

        /// Buckets of [`lock_devices`]: few enough for the lock table, enough that two
        /// processes' batches of a few hundred devices rarely wait for each other.
        pub const LOCK_BUCKETS: i64 = 256;

        /// Serialises rollup recomputation per device across processes sharing one database
        /// (shared MQTT ingest): transaction-scoped advisory locks, taken in order (no
        /// deadlock between two batches), held until commit. Without them two processes could
        /// recompute one device's hour concurrently, each blind to the other's uncommitted
        /// readings: a duplicate-key failure, or a rollup missing readings.
        ///
        /// The locks are per bucket of devices (device id modulo [`LOCK_BUCKETS`]), not per
        /// device: PostgreSQL's lock table holds max_locks_per_transaction (64) × max
        /// connections entries for the whole server, and a batch that rolls up a province's
        /// backlog touches 20,000 devices. One lock per device made such a batch fail with
        /// "out of shared memory", again on every retry.
        pub async fn lock_devices(conn: &mut Conn, device_ids: &[i64]) -> Result<(), sqlx::Error> {
            // The two-key form keeps pvledger's locks apart from other users of the
            // advisory-lock space (sqlx's migration lock among them).
            sqlx::query(
                "SELECT pg_advisory_xact_lock(7301, b) \
                 FROM (SELECT DISTINCT (d % $2)::int4 AS b FROM unnest($1::bigint[]) AS d ORDER BY b) AS s",
            )
            .bind(device_ids)
            .bind(LOCK_BUCKETS)
            .execute(conn)
            .await
            .map(drop)
        }
    }
    pub mod grid {
        use super::Db;
        include!("grid_sql.rs");
    }
    pub mod settle {
        use super::Db;
        include!("settle_sql.rs");
    }
    pub mod accounts {
        use super::Db;
        include!("accounts_sql.rs");
    }
    pub mod sessions {
        use super::Db;
        include!("sessions_sql.rs");
    }
    pub mod gateway {
        use super::Db;
        include!("gateway_sql.rs");
    }
    pub mod assess {
        use super::Db;
        include!("assess_sql.rs");
    }
    pub mod alerts {
        use super::Db;
        include!("alerts_sql.rs");
    }
    pub mod leases {
        use super::Db;
        /// The database's clock: the statement's transaction start.
        const NOW: &str = "now()";
        /// `NOW` plus the milliseconds bound to `param`.
        fn later(param: &str) -> String {
            format!("(now() + {param}::bigint * interval '1 millisecond')")
        }
        include!("leases_sql.rs");
    }
}

/// The SQLite copy of the shared queries.
pub mod lite {
    /// The database these functions run on.
    pub type Db = sqlx::Sqlite;
    pub mod versions {
        use super::Db;
        include!("versions_sql.rs");
    }
    pub mod ledger {
        use super::Db;
        include!("ledger_sql.rs");

        /// Station codes per IN list: far below both engines' bound-parameter limits.
        const CODE_CHUNK: usize = 1_000;

        /// The devices of some stations, ordered by station then code: an index lookup per station
        /// (`devices_station`), not the whole table.
        pub async fn devices_of_stations(
            pool: &sqlx::Pool<Db>,
            station_codes: &[&str],
        ) -> Result<Vec<Device>, sqlx::Error> {
            let mut out = Vec::new();
            for chunk in station_codes.chunks(CODE_CHUNK) {
                let mut q: sqlx::QueryBuilder<Db> = sqlx::QueryBuilder::new(format!(
                    "SELECT {DEVICE_COLUMNS} FROM devices WHERE station_code IN ("
                ));
                let mut list = q.separated(", ");
                for code in chunk {
                    list.push_bind(*code);
                }
                q.push(") ORDER BY station_code, code");
                out.extend(q.build_query_as::<Device>().fetch_all(pool).await?);
            }
            Ok(out)
        }
    }
    pub mod audit {
        use super::Db;
        include!("audit_sql.rs");
    }
    pub mod telemetry {
        use super::Db;
        include!("telemetry_sql.rs");
        include!("daily_packs_sql.rs");

        /// The rollup tails of `device_ids` that have one.
        pub async fn tails(
            conn: &mut Conn,
            device_ids: &[i64],
        ) -> Result<Vec<TailRow>, sqlx::Error> {
            let mut out = Vec::with_capacity(device_ids.len());
            for chunk in device_ids.chunks(SPAN_CHUNK) {
                let mut q: QueryBuilder<Db> = QueryBuilder::new(format!(
                    "SELECT {TAIL_COLUMNS} FROM rollup_tails WHERE device_id IN ("
                ));
                let mut ids = q.separated(", ");
                for id in chunk {
                    ids.push_bind(*id);
                }
                q.push(")");
                out.extend(q.build_query_as::<TailRow>().fetch_all(&mut *conn).await?);
            }
            Ok(out)
        }

        /// Stores `tails`, replacing each device's earlier one.
        pub async fn save_tails(conn: &mut Conn, tails: &[TailRow]) -> Result<(), sqlx::Error> {
            for chunk in tails.chunks(CHUNK) {
                let mut q: QueryBuilder<Db> =
                    QueryBuilder::new(format!("INSERT INTO rollup_tails ({TAIL_COLUMNS}) "));
                q.push_values(chunk, |mut b, t| {
                    b.push_bind(t.device_id)
                        .push_bind(t.last_ts)
                        .push_bind(t.counter_ts)
                        .push_bind(t.counter)
                        .push_bind(t.power_ts)
                        .push_bind(t.power_w)
                        .push_bind(t.irradiance_ts)
                        .push_bind(t.irradiance_wm2);
                });
                q.push(format!(" {TAIL_UPSERT}"));
                q.build().execute(&mut *conn).await?;
            }
            Ok(())
        }

        /// Daily rows of some devices for days in [from, to], by day, then device.
        pub async fn daily<'c, E: sqlx::Executor<'c, Database = Db>>(
            ex: E,
            device_ids: &[i64],
            from: NaiveDate,
            to: NaiveDate,
        ) -> Result<Vec<DailyRow>, sqlx::Error> {
            if device_ids.is_empty() {
                return Ok(Vec::new());
            }
            // One text per device, `day kwh samples;...`, as the assessment reads SQLite
            // (assess_packed.rs): a row per day cost sqlx a message between threads each,
            // which was most of a year's request. printf('%!.17g') keeps every bit of a REAL.
            let mut q: QueryBuilder<Db> = QueryBuilder::new(
                "SELECT device_id, group_concat(printf('%s %!.17g %d', day, energy_kwh, samples), ';') \
                 FROM energy_daily",
            );
            super::super::assess_packed::push_days_of(&mut q, device_ids, from, to);
            q.push(" GROUP BY device_id");
            let packed: Vec<(i64, String)> = q.build_query_as().fetch_all(ex).await?;
            let mut rows = Vec::with_capacity(packed.iter().map(|(_, p)| p.len() / 20 + 1).sum());
            for (device_id, text) in &packed {
                unpack_days(*device_id, text, &mut rows)?;
            }
            rows.sort_unstable_by_key(|r| (r.day, r.device_id));
            Ok(rows)
        }

        /// The days of `device_ids` in [from, to], by day then device, as [`daily`] gives
        /// them: from the year packs (store/daily_packs.rs), then `energy_daily` for the
        /// days after them (today, mostly).
        pub async fn daily_packed(
            pool: &sqlx::Pool<Db>,
            device_ids: &[i64],
            from: NaiveDate,
            to: NaiveDate,
        ) -> Result<Vec<DailyRow>, sqlx::Error> {
            if device_ids.is_empty() {
                return Ok(Vec::new());
            }
            use crate::store::daily_packs::{self, Pack};
            // One statement, as on PostgreSQL: the packs, and per device the days after its
            // last pack as one text. Each statement is a round trip to sqlx's worker thread.
            let (first_year, last_year) =
                (chrono::Datelike::year(&from), chrono::Datelike::year(&to));
            let mut q: QueryBuilder<Db> = QueryBuilder::new(
                "SELECT device_id, year, through_day, days, NULL FROM energy_daily_packs WHERE year >= ",
            );
            q.push_bind(first_year)
                .push(" AND year <= ")
                .push_bind(last_year)
                .push(" AND device_id IN (");
            let mut list = q.separated(", ");
            for id in device_ids {
                list.push_bind(*id);
            }
            q.push(
                ") UNION ALL SELECT w.column1, NULL, NULL, NULL, \
                 (SELECT group_concat(printf('%s %!.17g %d', e.day, e.energy_kwh, e.samples), ';') \
                 FROM energy_daily e WHERE e.device_id = w.column1 AND e.day <= ",
            );
            q.push_bind(to).push(
                " AND e.day >= coalesce((SELECT date(max(p.through_day), '+1 day') \
                 FROM energy_daily_packs p WHERE p.device_id = w.column1 AND p.year >= ",
            );
            q.push_bind(first_year)
                .push(" AND p.year <= ")
                .push_bind(last_year)
                .push("), ")
                .push_bind(from)
                .push(") AND e.day >= ")
                .push_bind(from)
                .push(") FROM (");
            q.push_values(device_ids, |mut b, id| {
                b.push_bind(*id);
            });
            q.push(") AS w");
            type Row = (
                i64,
                Option<i32>,
                Option<NaiveDate>,
                Option<Vec<u8>>,
                Option<String>,
            );
            let got: Vec<Row> = q.build_query_as().fetch_all(pool).await?;
            let mut packs: Vec<Pack> = Vec::new();
            let mut after: Vec<DailyRow> = Vec::new();
            for (device_id, year, through, blob, days) in got {
                match (year, through, blob) {
                    (Some(year), Some(through), Some(blob)) => {
                        packs.push(Pack::from_row(device_id, year, through, &blob)?)
                    }
                    _ => {
                        if let Some(days) = days {
                            unpack_days(device_id, &days, &mut after)?;
                        }
                    }
                }
            }
            daily_packs::merge_after(device_ids, packs, after, from, to, |first| {
                daily(pool, device_ids, first, to)
            })
            .await
        }

        /// Parses one device's `day kwh samples;...` text.
        fn unpack_days(
            device_id: i64,
            packed: &str,
            out: &mut Vec<DailyRow>,
        ) -> Result<(), sqlx::Error> {
            let bad = |item: &str| {
                sqlx::Error::Decode(
                    format!("energy_daily of device {device_id}: bad day {item:?}").into(),
                )
            };
            for item in packed.split(';') {
                let mut f = item.split(' ');
                let (Some(day), Some(kwh), Some(samples), None) =
                    (f.next(), f.next(), f.next(), f.next())
                else {
                    return Err(bad(item));
                };
                out.push(DailyRow {
                    device_id,
                    day: super::super::assess_packed::parse_day(day).ok_or_else(|| bad(item))?,
                    energy_kwh: kwh.parse().map_err(|_| bad(item))?,
                    samples: samples.parse().map_err(|_| bad(item))?,
                });
            }
            Ok(())
        }

        /// Device ids per set-wise read of the health view.
        const DEVICE_CHUNK: usize = 1_000;

        /// Each of `device_ids` with its newest reading since `since` and its energy on
        /// `day` (both may be missing): a descending primary-key lookup per device for
        /// each, so the cost follows the devices asked for, not the rows stored (unlike
        /// [`latest_since`]).
        pub async fn devices_now(
            pool: &sqlx::Pool<Db>,
            device_ids: &[i64],
            since: Ts,
            day: NaiveDate,
        ) -> Result<Vec<DeviceNowRow>, sqlx::Error> {
            // One JSON text per chunk: a row per device cost a message each
            // (store/devices_now_packed.rs).
            let select = super::super::devices_now_packed::select_list();
            let mut out = Vec::with_capacity(device_ids.len());
            for chunk in device_ids.chunks(DEVICE_CHUNK) {
                let mut q: QueryBuilder<Db> = QueryBuilder::new(format!("SELECT {select} FROM ("));
                q.push_values(chunk, |mut b, id| {
                    b.push_bind(*id);
                });
                q.push(
                    ") AS w LEFT JOIN readings r ON r.device_id = w.column1 AND r.ts = \
                     (SELECT x.ts FROM readings x WHERE x.device_id = w.column1 AND x.ts >= ",
                );
                q.push_bind(since);
                q.push(
                    " ORDER BY x.ts DESC LIMIT 1) \
                     LEFT JOIN energy_daily e ON e.device_id = w.column1 AND e.day = ",
                );
                q.push_bind(day);
                let json: String = q.build_query_scalar().fetch_one(pool).await?;
                out.extend(super::super::devices_now_packed::unpack(&json)?);
            }
            Ok(out)
        }

        // The set-wise relations of telemetry_sql.rs as VALUES lists, in chunks: three binds
        // per device, well under SQLite's 32,766.
        const SPAN_CHUNK: usize = 2_000;

        fn push_spans<'a>(q: &mut QueryBuilder<'a, Db>, spans: &'a [DeviceSpan]) {
            q.push_values(spans, |mut b, s| {
                b.push_bind(s.device_id).push_bind(s.from).push_bind(s.to);
            });
        }

        fn push_days<'a>(q: &mut QueryBuilder<'a, Db>, days: &'a [DeviceDays]) {
            q.push_values(days, |mut b, d| {
                b.push_bind(d.device_id)
                    .push_bind(d.first)
                    .push_bind(d.last);
            });
        }

        fn push_marks<'a>(q: &mut QueryBuilder<'a, Db>, marks: &'a [Mark]) {
            q.push_values(marks, |mut b, m| {
                b.push_bind(m.span.device_id).push_bind(m.seq);
            });
        }

        /// SQLite has one writer at a time: nobody marks while a roll-up clears.
        async fn lock_marks(_conn: &mut Conn, _marks: &[Mark]) -> Result<(), sqlx::Error> {
            Ok(())
        }

        fn push_quality<'a>(q: &mut QueryBuilder<'a, Db>, rows: &'a [(i64, Ts, i16)]) {
            q.push_values(rows, |mut b, (device_id, ts, quality)| {
                b.push_bind(*device_id).push_bind(*ts).push_bind(*quality);
            });
        }

        async fn insert_hourly(conn: &mut Conn, rows: &[HourlyRow]) -> Result<(), sqlx::Error> {
            insert_hourly_values(conn, rows).await
        }

        async fn insert_daily(conn: &mut Conn, rows: &[DailyWrite]) -> Result<(), sqlx::Error> {
            insert_daily_values(conn, rows).await
        }

        /// Inserts readings, skipping any (device, ts) already stored (a resend); returns the
        /// keys of the rows that were new. SQLite is in-process: a statement per 500 rows
        /// costs no round trip.
        pub async fn insert_readings(
            conn: &mut Conn,
            rows: &[ReadingRow],
        ) -> Result<Vec<(i64, Ts)>, sqlx::Error> {
            insert_readings_values(conn, rows).await
        }

        /// SQLite lets one writer at a time into the database: a batch's transaction holds
        /// the write lock from its first insert, so recomputations never overlap.
        pub async fn lock_devices(
            _conn: &mut Conn,
            _device_ids: &[i64],
        ) -> Result<(), sqlx::Error> {
            Ok(())
        }
    }
    pub mod grid {
        use super::Db;
        include!("grid_sql.rs");
    }
    pub mod settle {
        use super::Db;
        include!("settle_sql.rs");
    }
    pub mod accounts {
        use super::Db;
        include!("accounts_sql.rs");
    }
    pub mod sessions {
        use super::Db;
        include!("sessions_sql.rs");
    }
    pub mod gateway {
        use super::Db;
        include!("gateway_sql.rs");
    }
    pub mod assess {
        use super::Db;
        include!("assess_sql.rs");
    }
    pub mod alerts {
        use super::Db;
        include!("alerts_sql.rs");
    }
    pub mod leases {
        use super::Db;
        /// The database's clock in Unix ms (julianday works on every SQLite version; 'now'
        /// is the same throughout one statement).
        const NOW: &str = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";
        /// `NOW` plus the milliseconds bound to `param`.
        fn later(param: &str) -> String {
            format!("({NOW} + {param})")
        }
        include!("leases_sql.rs");
    }
}

/// How long a pooled connection may sit idle and still be used without a ping first.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Checks a pooled connection before use only when it has been idle for a while: sqlx's
/// default pings on every acquire, a round trip to PostgreSQL (or to SQLite's worker
/// thread) that doubled the round trips of a request (issue 7: a year of daily energy makes
/// two queries). A connection in steady use has just answered; one idle for longer may have
/// outlived a database restart, and a failed ping replaces it before any query is lost.
async fn ping_if_idle<C: sqlx::Connection>(
    conn: &mut C,
    meta: sqlx::pool::PoolConnectionMetadata,
) -> Result<bool, sqlx::Error> {
    if meta.idle_for >= PING_AFTER_IDLE {
        conn.ping().await?;
    }
    Ok(true)
}

/// Warns when the SQLite linked in was built without the query planner stability
/// guarantee (`.cargo/config.toml` asks for it): once the database has been analysed, every
/// cached statement is then compiled again whenever its values change, about a fifth more
/// CPU per request. A build from outside the repository's directory misses the setting.
async fn warn_without_qpsg(pool: &sqlx::SqlitePool) -> Result<(), sqlx::Error> {
    let options: Vec<String> = sqlx::query_scalar("PRAGMA compile_options")
        .fetch_all(pool)
        .await?;
    if !options.iter().any(|o| o == "ENABLE_QPSG") {
        tracing::warn!(
            "SQLite 未以 SQLITE_ENABLE_QPSG 编译，查询会被反复重新编译 (SQLite was built without \
             SQLITE_ENABLE_QPSG: statements are compiled again as their values change; build \
             from the repository's directory, or set LIBSQLITE3_FLAGS=-DSQLITE_ENABLE_QPSG)"
        );
    }
    Ok(())
}

impl Store {
    /// Opens a pool on the configured database. A SQLite file and its directory are created
    /// when missing, so the embedded default needs no set-up at all.
    pub async fn connect(config: &DatabaseConfig) -> Result<Self, StoreError> {
        let url = config.url.as_str();
        let connect_err = |source| StoreError::Connect {
            url: redact(url),
            source,
        };
        match Backend::from_url(url) {
            Some(Backend::Sqlite) => {
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(connect_err)?
                    .create_if_missing(true)
                    // WAL lets the API read while ingest writes; FULL sync makes a commit
                    // durable across power loss, which acknowledged readings require.
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(10))
                    // Reads through a memory map of up to 1 GiB of the file instead of a
                    // read() per page: a page of the station list made about 200 random
                    // index lookups, and the kernel's copying was two fifths of the
                    // process's CPU (issue 7, perf). Virtual address space, not memory.
                    .pragma("mmap_size", "1073741824")
                    .foreign_keys(true);
                let path = options.get_filename();
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    create_dir(dir)?;
                }
                let pool = SqlitePoolOptions::new()
                    .max_connections(config.pool_size())
                    .test_before_acquire(false)
                    .before_acquire(|conn, meta| Box::pin(ping_if_idle(conn, meta)))
                    .connect_with(options)
                    .await
                    .map_err(connect_err)?;
                warn_without_qpsg(&pool).await.map_err(connect_err)?;
                Ok(Store::Sqlite(pool))
            }
            Some(Backend::Postgres) => {
                let options = PgConnectOptions::from_str(url).map_err(connect_err)?;
                let pool = PgPoolOptions::new()
                    .max_connections(config.pool_size())
                    .acquire_timeout(Duration::from_secs(10))
                    .test_before_acquire(false)
                    .before_acquire(|conn, meta| Box::pin(ping_if_idle(conn, meta)))
                    .connect_with(options)
                    .await
                    .map_err(connect_err)?;
                Ok(Store::Postgres(pool))
            }
            None => Err(connect_err(sqlx::Error::Configuration(
                "expected sqlite:// or postgres://".into(),
            ))),
        }
    }

    /// Opens the database and brings its schema up to date.
    pub async fn open(
        db: &DatabaseConfig,
        storage: &StorageConfig,
    ) -> Result<(Self, TimeSeriesMode), StoreError> {
        let store = Self::connect(db).await?;
        let mode = store.migrate(storage).await?;
        Ok((store, mode))
    }

    /// Starts a transaction.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Store::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
            Store::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Starts a transaction that reads before it writes, beside other writers. On SQLite it
    /// takes the write lock at once (`BEGIN IMMEDIATE`): a deferred transaction that read
    /// first fails with "database is locked" once another connection has committed, which
    /// the busy timeout does not wait out.
    pub async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Store::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Store::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// The whole ledger, each table ordered by its key.
    pub async fn load_ledger(&self) -> Result<crate::ledger::model::Ledger, sqlx::Error> {
        let mut tx = self.begin().await?;
        dispatch_tx!(&mut tx, ledger::load_all())
    }

    /// Appends one audit entry on its own (for actions without a transaction of their own).
    pub async fn audit_append(&self, entry: &crate::audit::AuditEntry) -> Result<(), sqlx::Error> {
        let mut tx = self.begin().await?;
        dispatch_tx!(&mut tx, audit::append(entry))?;
        tx.commit().await
    }

    /// Every grid statement, ordered by station and period.
    pub async fn grid_statements(
        &self,
    ) -> Result<Vec<crate::settlement::grid::GridStatement>, sqlx::Error> {
        let mut tx = self.begin().await?;
        dispatch_tx!(&mut tx, grid::all())
    }

    /// The newest audit entries first.
    pub async fn audit_recent(
        &self,
        limit: i64,
    ) -> Result<Vec<crate::audit::AuditRecord>, sqlx::Error> {
        dispatch!(self, audit::recent(limit))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Store::Sqlite(_) => Backend::Sqlite,
            Store::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies pending migrations, then (PostgreSQL only) switches on TimescaleDB features
    /// when the extension can be created. Safe to run at every start.
    pub async fn migrate(&self, storage: &StorageConfig) -> Result<TimeSeriesMode, StoreError> {
        match self {
            Store::Sqlite(pool) => {
                sqlx::migrate!("./migrations/sqlite").run(pool).await?;
                Ok(TimeSeriesMode::Embedded)
            }
            Store::Postgres(pool) => {
                sqlx::migrate!("./migrations/postgres").run(pool).await?;
                Ok(timescale::enable(pool, storage).await?)
            }
        }
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        let result = match self {
            Store::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
            Store::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
        };
        result.is_ok()
    }

    /// Closes every connection (SQLite checkpoints its WAL on the last close).
    pub async fn close(&self) {
        match self {
            Store::Sqlite(pool) => pool.close().await,
            Store::Postgres(pool) => pool.close().await,
        }
    }
}

fn create_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
        path: dir.display().to_string(),
        source,
    })
}

/// A database URL with any password replaced, for logs and error messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_in_database_urls() {
        assert_eq!(
            redact("postgres://pv:secret@db:5432/pvledger"),
            "postgres://pv:***@db:5432/pvledger"
        );
        assert_eq!(
            redact("postgres://pv@db/pvledger"),
            "postgres://pv@db/pvledger"
        );
        assert_eq!(redact("sqlite://data/x.sqlite"), "sqlite://data/x.sqlite");
    }

    #[test]
    fn backends_are_recognised_by_scheme() {
        assert_eq!(Backend::from_url("sqlite://x"), Some(Backend::Sqlite));
        assert_eq!(Backend::from_url("sqlite::memory:"), Some(Backend::Sqlite));
        assert_eq!(
            Backend::from_url("postgresql://h/d"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::from_url("mysql://h/d"), None);
    }
}
