//! The assessment's bulk read of daily rollups, one row per device with the period's
//! values packed, because decoding millions of rows one at a time through the driver was
//! most of a province assessment's time (about 4 µs a row on SQLite, 2-3 µs on
//! PostgreSQL). PostgreSQL packs each device's days into one `bytea` of fixed-width binary
//! records; SQLite has no binary output of a REAL, so each device's days come as one text,
//! parsed here. Shares of the devices are read over several connections at once.
//! The row-at-a-time read (`assess_sql.rs::daily_rows`) stays as the reference the tests
//! compare this with.

use chrono::NaiveDate;
use sqlx::{PgPool, SqlitePool};
use tokio::task::JoinSet;

use super::Store;
use super::telemetry::AssessDayRow;

/// Device ids per query: well under both engines' bound-parameter limits.
const IDS_PER_QUERY: usize = 2000;

/// Queries in flight at once, each on its own pool connection. The database engine's side
/// (SQLite stepping and formatting on the connection's worker thread, a PostgreSQL backend
/// process) is single-threaded per query, so a province read on one connection left the
/// other cores idle; four keep two cores and the database server busy without taking every
/// connection from the rest of the service.
const READERS: usize = 4;

/// Below this many devices one query does it all.
const MIN_IDS_TO_SPLIT: usize = 256;

/// One device's days, in no particular order.
pub type DeviceRows = (i64, Vec<AssessDayRow>);

impl Store {
    /// Daily rollups of `device_ids` for days in [from, to], the same rows as
    /// `assess::daily_rows` (in no particular order) read one row per device.
    #[tracing::instrument(skip(self, device_ids), fields(devices = device_ids.len()))]
    pub async fn assess_daily_packed(
        &self,
        device_ids: &[i64],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<AssessDayRow>, sqlx::Error> {
        let devices = self.assess_daily_by_device(device_ids, from, to).await?;
        Ok(devices.into_iter().flat_map(|(_, rows)| rows).collect())
    }

    /// The rows of [`Self::assess_daily_packed`] grouped by device (one entry per device
    /// with data; devices and days in no particular order), read by up to [`READERS`]
    /// queries at once, each over its own share of the ids.
    #[tracing::instrument(skip(self, device_ids), fields(devices = device_ids.len()))]
    pub async fn assess_daily_by_device(
        &self,
        device_ids: &[i64],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DeviceRows>, sqlx::Error> {
        let connections = match self {
            Store::Sqlite(pool) => pool.options().get_max_connections(),
            Store::Postgres(pool) => pool.options().get_max_connections(),
        };
        let readers = if device_ids.len() < MIN_IDS_TO_SPLIT {
            1
        } else {
            READERS.min(connections as usize).max(1)
        };
        // Contiguous shares keep each query on one stretch of the (device_id, day) key.
        let share = device_ids.len().div_ceil(readers).max(1);
        let mut tasks = JoinSet::new();
        for part in device_ids.chunks(share) {
            let part = part.to_vec();
            let store = self.clone();
            tasks.spawn(async move {
                let mut out = Vec::new();
                let queries = part.len().div_ceil(IDS_PER_QUERY);
                for chunk in part.chunks(part.len().div_ceil(queries.max(1)).max(1)) {
                    match &store {
                        Store::Postgres(pool) => read_pg(pool, chunk, from, to, &mut out).await?,
                        Store::Sqlite(pool) => read_sqlite(pool, chunk, from, to, &mut out).await?,
                    }
                }
                Ok::<_, sqlx::Error>(out)
            });
        }
        let mut out = Vec::with_capacity(device_ids.len());
        while let Some(part) = tasks.join_next().await {
            out.extend(part.expect("a rollup read task panicked")?);
        }
        Ok(out)
    }
}

/// Bytes of one day in PostgreSQL's packed record, see [`read_pg`].
const PG_RECORD: usize = 33;

/// One query's devices on PostgreSQL: one `bytea` per device, a fixed-width binary record
/// per day built by the server's own binary output functions (`int4send`, `float8send`:
/// big-endian, every bit of a float). Typed arrays (`array_agg`) cost the client a decode
/// call per element, 26 million for a province year, which was most of the read.
async fn read_pg(
    pool: &PgPool,
    device_ids: &[i64],
    from: NaiveDate,
    to: NaiveDate,
    out: &mut Vec<DeviceRows>,
) -> Result<(), sqlx::Error> {
    // Record: day − from (int4), energy_kwh (float8), samples (int4), irradiation known
    // (one byte, 0 or 1) and its value (float8, zero when unknown), data_hours (int4),
    // producing_hours (int4). One index range scan per device: with `device_id = ANY($1)
    // ... GROUP BY` and no planner statistics yet (a freshly loaded table) PostgreSQL chose a
    // lossy bitmap scan rechecking every row against the whole id list, then hashed.
    let rows: Vec<(i64, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT d.id, (
             SELECT string_agg(
                        int4send(day - $2) || float8send(energy_kwh) || int4send(samples)
                        || CASE WHEN irradiation_kwh_m2 IS NULL
                                THEN '\\x000000000000000000'::bytea
                                ELSE '\\x01'::bytea || float8send(irradiation_kwh_m2) END
                        || int4send(data_hours) || int4send(producing_hours), ''::bytea)
             FROM energy_daily
             WHERE device_id = d.id AND day >= $2 AND day <= $3)
         FROM unnest($1::bigint[]) AS d(id)",
    )
    .bind(device_ids)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
    // A device without rows in the period reads NULL (and is left out, as SQLite leaves it).
    for (device_id, packed) in rows.into_iter().filter_map(|(id, p)| Some((id, p?))) {
        let mut rows = Vec::with_capacity(packed.len() / PG_RECORD);
        unpack_pg(device_id, &packed, &days, &mut rows)?;
        out.push((device_id, rows));
    }
    Ok(())
}

/// Parses one device's PostgreSQL records (see [`read_pg`]); `days[i]` is the period's
/// i-th day.
fn unpack_pg(
    device_id: i64,
    packed: &[u8],
    days: &[NaiveDate],
    out: &mut Vec<AssessDayRow>,
) -> Result<(), sqlx::Error> {
    let bad = |what: &str| {
        sqlx::Error::Decode(format!("energy_daily of device {device_id}: bad {what}").into())
    };
    if packed.len() % PG_RECORD != 0 {
        return Err(bad("record length"));
    }
    let i32_at =
        |r: &[u8], at: usize| i32::from_be_bytes(r[at..at + 4].try_into().expect("four bytes"));
    let f64_at =
        |r: &[u8], at: usize| f64::from_be_bytes(r[at..at + 8].try_into().expect("eight bytes"));
    for r in packed.chunks_exact(PG_RECORD) {
        let day = usize::try_from(i32_at(r, 0))
            .ok()
            .and_then(|i| days.get(i))
            .ok_or_else(|| bad("day"))?;
        out.push(AssessDayRow {
            device_id,
            day: *day,
            energy_kwh: f64_at(r, 4),
            samples: i32_at(r, 12),
            irradiation_kwh_m2: match r[16] {
                0 => None,
                1 => Some(f64_at(r, 17)),
                _ => return Err(bad("irradiation flag")),
            },
            data_hours: i32_at(r, 25),
            producing_hours: i32_at(r, 29),
        });
    }
    Ok(())
}

/// One query's devices on SQLite, which has no arrays: one text per device, parsed here.
async fn read_sqlite(
    pool: &SqlitePool,
    device_ids: &[i64],
    from: NaiveDate,
    to: NaiveDate,
    out: &mut Vec<DeviceRows>,
) -> Result<(), sqlx::Error> {
    // printf('%!.17g') keeps every bit of a REAL (the default cast to text may round to 15
    // digits); an unknown irradiation is an empty field (printf turns NULL into 0.0, hence
    // the CASE). One printf per row rather than eleven `||` (each a new string) makes
    // the same text at about two thirds of SQLite's cost.
    let mut q = sqlx::QueryBuilder::new(
        "SELECT device_id, group_concat(printf('%s %!.17g %d %s %d %d', day, energy_kwh,
                samples,
                CASE WHEN irradiation_kwh_m2 IS NULL THEN ''
                     ELSE printf('%!.17g', irradiation_kwh_m2) END,
                data_hours, producing_hours), ';')
         FROM energy_daily WHERE day >= ",
    );
    q.push_bind(from)
        .push(" AND day <= ")
        .push_bind(to)
        .push(" AND device_id IN (");
    let mut list = q.separated(", ");
    for id in device_ids {
        list.push_bind(*id);
    }
    q.push(") GROUP BY device_id");
    let rows: Vec<(i64, String)> = q.build_query_as().fetch_all(pool).await?;
    for (device_id, packed) in rows {
        let mut days = Vec::with_capacity(packed.len() / 40 + 1);
        unpack_sqlite(device_id, &packed, &mut days)?;
        out.push((device_id, days));
    }
    Ok(())
}

/// Parses one device's `day energy samples irradiation data producing;...` text.
fn unpack_sqlite(
    device_id: i64,
    packed: &str,
    out: &mut Vec<AssessDayRow>,
) -> Result<(), sqlx::Error> {
    let bad = |what: &str, field: &str| {
        sqlx::Error::Decode(
            format!("energy_daily of device {device_id}: bad {what} {field:?}").into(),
        )
    };
    for item in packed.split(';') {
        let mut f = item.split(' ');
        let mut next = |what: &str| f.next().ok_or_else(|| bad(what, item));
        let day_text = next("day")?;
        let day = parse_day(day_text).ok_or_else(|| bad("day", day_text))?;
        let energy = next("energy_kwh")?;
        let samples = next("samples")?;
        let irr = next("irradiation_kwh_m2")?;
        let data = next("data_hours")?;
        let producing = next("producing_hours")?;
        out.push(AssessDayRow {
            device_id,
            day,
            energy_kwh: energy.parse().map_err(|_| bad("energy_kwh", energy))?,
            samples: samples.parse().map_err(|_| bad("samples", samples))?,
            irradiation_kwh_m2: if irr.is_empty() {
                None
            } else {
                Some(irr.parse().map_err(|_| bad("irradiation_kwh_m2", irr))?)
            },
            data_hours: data.parse().map_err(|_| bad("data_hours", data))?,
            producing_hours: producing
                .parse()
                .map_err(|_| bad("producing_hours", producing))?,
        });
    }
    Ok(())
}

/// `YYYY-MM-DD` without chrono's general parser, which is the slow part at millions of days.
fn parse_day(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_postgres_records_unpack_into_their_rows_bit_for_bit() {
        let first = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
        let days: Vec<NaiveDate> = first.iter_days().take(3).collect();
        let record = |day: i32, e: f64, samples: i32, irr: Option<f64>, data: i32, prod: i32| {
            let mut r = Vec::new();
            r.extend(day.to_be_bytes());
            r.extend(e.to_be_bytes());
            r.extend(samples.to_be_bytes());
            r.push(u8::from(irr.is_some()));
            r.extend(irr.unwrap_or(0.0).to_be_bytes());
            r.extend(data.to_be_bytes());
            r.extend(prod.to_be_bytes());
            assert_eq!(r.len(), PG_RECORD);
            r
        };
        let mut packed = record(2, 0.1 + 0.2, 288, None, 16_777_215, -1);
        packed.extend(record(0, 12.5, 3, Some(0.25), 1, 0));
        let mut out = Vec::new();
        unpack_pg(7, &packed, &days, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].day, days[2]);
        assert_eq!(out[0].energy_kwh.to_bits(), (0.1f64 + 0.2).to_bits());
        assert_eq!(out[0].irradiation_kwh_m2, None);
        assert_eq!((out[0].samples, out[0].data_hours), (288, 16_777_215));
        assert_eq!(out[0].producing_hours, -1);
        assert_eq!(out[1].day, days[0]);
        assert_eq!(out[1].irradiation_kwh_m2, Some(0.25));
        assert_eq!(out[1].device_id, 7);

        let err = unpack_pg(7, &record(3, 1.0, 1, None, 0, 0), &days, &mut out).unwrap_err();
        assert!(err.to_string().contains("device 7"), "{err}");
        assert!(unpack_pg(7, &packed[1..], &days, &mut out).is_err());
    }

    #[test]
    fn a_packed_sqlite_text_unpacks_into_its_rows() {
        let mut out = Vec::new();
        unpack_sqlite(
            7,
            "2026-05-01 12.5 288  16777215 4095;2026-05-02 0.10000000000000001 3 0.25 1 0",
            &mut out,
        )
        .unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].day, NaiveDate::from_ymd_opt(2026, 5, 1).unwrap());
        assert_eq!(out[0].energy_kwh, 12.5);
        assert_eq!(out[0].irradiation_kwh_m2, None);
        assert_eq!(out[0].data_hours, 16_777_215);
        assert_eq!(out[1].energy_kwh, 0.1);
        assert_eq!(out[1].irradiation_kwh_m2, Some(0.25));
        assert_eq!(out[1].producing_hours, 0);
    }

    #[test]
    fn a_malformed_packed_text_names_the_device_and_field() {
        let err = unpack_sqlite(7, "2026-13-01 1 2 3 4 5", &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("device 7"), "{err}");
        assert!(err.to_string().contains("day"), "{err}");
    }
}
