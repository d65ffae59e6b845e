//! The assessment's bulk read of daily rollups, because decoding millions of rows one at a
//! time through the driver was most of a province assessment's time (about 4 µs a row on
//! SQLite, 2-3 µs on PostgreSQL). PostgreSQL streams the rows as a binary `COPY` of five
//! fields (format in `assess_copy.rs`), parsed here; SQLite has no binary output of a REAL,
//! so each device's days come as one text, parsed here. Shares of the devices are read
//! over several connections at once.
//! The row-at-a-time read (`assess_sql.rs::daily_rows`) stays as the reference the tests
//! compare this with.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use sqlx::{PgPool, SqlitePool};
use tokio::task::JoinSet;

use super::Store;
use super::assess_copy::{CopyParser, bad, fixed};
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

/// One query's devices on PostgreSQL: the rows as a binary `COPY`, parsed here. The server
/// only scans and writes each field's binary form (every bit of a float), five fields a
/// row: the day's offset and the samples share one `int8`, as do the two hour masks.
/// Packing per device on the server (`array_agg`, `string_agg` of `float8send`) cost it
/// about twice the CPU per row, more than it saved the client.
async fn read_pg(
    pool: &PgPool,
    device_ids: &[i64],
    from: NaiveDate,
    to: NaiveDate,
    out: &mut Vec<DeviceRows>,
) -> Result<(), sqlx::Error> {
    use sqlx::postgres::PgPoolCopyExt;
    // COPY takes no bind parameters: the ids are integers and the dates ISO dates, written
    // here by Rust's formatting, never text from outside.
    let which = ids_condition(device_ids);
    let statement = format!(
        "COPY (SELECT device_id,
                      ((day - DATE '{from}')::int8 << 32) | (samples::int8 & 4294967295),
                      energy_kwh, irradiation_kwh_m2,
                      (data_hours::int8 << 32) | (producing_hours::int8 & 4294967295)
               FROM energy_daily
               WHERE {which} AND day >= DATE '{from}' AND day <= DATE '{to}')
         TO STDOUT WITH (FORMAT binary)"
    );
    let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
    let mut parser = CopyParser::default();
    let mut devices = Devices::new(device_ids);
    let mut stream = pool.copy_out_raw(&statement).await?;
    while let Some(chunk) =
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(stream.as_mut(), cx)).await
    {
        parser.feed::<5>(&chunk?, |f| {
            let irradiation = match f[3] {
                Some(_) => Some(fixed(f[3], "irradiation_kwh_m2")?),
                None => None,
            };
            devices.push(day_row(
                i64::from_be_bytes(fixed(f[0], "device_id")?),
                fixed(f[1], "day")?,
                fixed(f[2], "energy_kwh")?,
                irradiation,
                fixed(f[4], "hours")?,
                &days,
            )?)
        })?;
    }
    if !parser.finished {
        return Err(sqlx::Error::Decode(
            "COPY of energy_daily ended early".into(),
        ));
    }
    out.extend(devices.finish());
    Ok(())
}

/// Which devices a query reads. A run of consecutive ids (a whole province, or a county
/// whose devices were imported together) is a range the primary key answers exactly;
/// other ids are the list, bounded by its range so that the plan stays on the primary key
/// even before the table has planner statistics (without them PostgreSQL 15 scanned the
/// whole table through the day index, filtering it against the list, once per query).
fn ids_condition(device_ids: &[i64]) -> String {
    let (Some(lo), Some(hi)) = (device_ids.iter().min(), device_ids.iter().max()) else {
        return "FALSE".into();
    };
    let mut which = format!("device_id >= {lo} AND device_id <= {hi}");
    let distinct: HashSet<&i64> = device_ids.iter().collect();
    let span = i128::from(*hi) - i128::from(*lo) + 1;
    if i128::try_from(distinct.len()) != Ok(span) {
        which.push_str(" AND device_id = ANY('{");
        for (i, id) in device_ids.iter().enumerate() {
            if i > 0 {
                which.push(',');
            }
            which.push_str(&id.to_string());
        }
        which.push_str("}'::bigint[])");
    }
    which
}

/// One device-day from its COPY fields: `key` holds the day's offset in the period (high
/// 32 bits) and the samples (low 32), `hours` the data and the producing hour masks.
fn day_row(
    device_id: i64,
    key: [u8; 8],
    energy: [u8; 8],
    irradiation: Option<[u8; 8]>,
    hours: [u8; 8],
    days: &[NaiveDate],
) -> Result<AssessDayRow, sqlx::Error> {
    let (key, hours) = (i64::from_be_bytes(key), i64::from_be_bytes(hours));
    let day = usize::try_from(key >> 32)
        .ok()
        .and_then(|i| days.get(i))
        .ok_or_else(|| bad("day"))?;
    Ok(AssessDayRow {
        device_id,
        day: *day,
        energy_kwh: f64::from_be_bytes(energy),
        samples: key as u32 as i32,
        irradiation_kwh_m2: irradiation.map(f64::from_be_bytes),
        data_hours: (hours >> 32) as i32,
        producing_hours: hours as u32 as i32,
    })
}

/// Rows gathered per device. They arrive in the heap's order, and rollups are written a
/// day at a time, so consecutive rows are mostly different devices: each row goes straight
/// to its device's list, by offset from the lowest id when the ids are dense, else through
/// a map.
struct Devices {
    lo: i64,
    /// Ids by slot when the ids are sparse (dense slots are `lo + slot`).
    sparse: Option<(HashMap<i64, usize>, Vec<i64>)>,
    rows: Vec<Vec<AssessDayRow>>,
}

impl Devices {
    fn new(device_ids: &[i64]) -> Self {
        let lo = device_ids.iter().copied().min().unwrap_or(0);
        let hi = device_ids.iter().copied().max().unwrap_or(-1);
        let span = usize::try_from(i128::from(hi) - i128::from(lo) + 1).unwrap_or(usize::MAX);
        if span <= 2 * device_ids.len() + 64 {
            return Devices {
                lo,
                sparse: None,
                rows: (0..span).map(|_| Vec::new()).collect(),
            };
        }
        let mut ids: Vec<i64> = device_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let index = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        Devices {
            lo,
            rows: (0..ids.len()).map(|_| Vec::new()).collect(),
            sparse: Some((index, ids)),
        }
    }

    fn push(&mut self, row: AssessDayRow) -> Result<(), sqlx::Error> {
        let slot = match &self.sparse {
            None => usize::try_from(row.device_id.wrapping_sub(self.lo)).ok(),
            Some((index, _)) => index.get(&row.device_id).copied(),
        };
        match slot.and_then(|s| self.rows.get_mut(s)) {
            Some(rows) => {
                rows.push(row);
                Ok(())
            }
            None => Err(bad("device_id")),
        }
    }

    /// The devices with rows.
    fn finish(self) -> impl Iterator<Item = DeviceRows> {
        let (lo, sparse) = (self.lo, self.sparse);
        self.rows
            .into_iter()
            .enumerate()
            .filter(|(_, rows)| !rows.is_empty())
            .map(move |(slot, rows)| match &sparse {
                None => (lo + slot as i64, rows),
                Some((_, ids)) => (ids[slot], rows),
            })
    }
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
         FROM energy_daily",
    );
    push_days_of(&mut q, device_ids, from, to);
    q.push(" GROUP BY device_id");
    let rows: Vec<(i64, String)> = q.build_query_as().fetch_all(pool).await?;
    for (device_id, packed) in rows {
        let mut days = Vec::with_capacity(packed.len() / 40 + 1);
        unpack_sqlite(device_id, &packed, &mut days)?;
        out.push((device_id, days));
    }
    Ok(())
}

/// ` WHERE` the day is in [from, to] and the device one of `device_ids`: SQLite's packed
/// reads of `energy_daily` (here, and a station's energy in `lite::telemetry::daily`).
pub(super) fn push_days_of(
    q: &mut sqlx::QueryBuilder<'_, sqlx::Sqlite>,
    device_ids: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) {
    q.push(" WHERE day >= ")
        .push_bind(from)
        .push(" AND day <= ")
        .push_bind(to)
        .push(" AND device_id IN (");
    let mut list = q.separated(", ");
    for id in device_ids {
        list.push_bind(*id);
    }
    q.push(")");
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
pub(super) fn parse_day(s: &str) -> Option<NaiveDate> {
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
    fn consecutive_ids_are_a_range_and_others_a_bounded_list() {
        assert_eq!(
            ids_condition(&[3, 1, 2]),
            "device_id >= 1 AND device_id <= 3"
        );
        assert_eq!(
            ids_condition(&[5, 1, 2]),
            "device_id >= 1 AND device_id <= 5 AND device_id = ANY('{5,1,2}'::bigint[])"
        );
        // A repeated id does not make a gap look filled.
        assert!(ids_condition(&[1, 1, 3]).contains("ANY"));
        assert_eq!(ids_condition(&[]), "FALSE");
    }

    #[test]
    fn a_copy_row_unpacks_its_shared_fields_whatever_their_sign() {
        let days: Vec<NaiveDate> = NaiveDate::from_ymd_opt(2026, 5, 1)
            .unwrap()
            .iter_days()
            .take(3)
            .collect();
        // As the server packs them: (offset << 32) | (samples & 0xffffffff).
        let pack = |hi: i32, lo: i32| {
            ((i64::from(hi) << 32) | (i64::from(lo) & 0xffff_ffff)).to_be_bytes()
        };
        let e = 0.1f64 + 0.2;
        let row = day_row(
            7,
            pack(2, -5),
            e.to_be_bytes(),
            None,
            pack(-1, 16_777_215),
            &days,
        )
        .unwrap();
        assert_eq!((row.device_id, row.day, row.samples), (7, days[2], -5));
        assert_eq!(row.energy_kwh.to_bits(), e.to_bits());
        assert_eq!((row.data_hours, row.producing_hours), (-1, 16_777_215));
        assert_eq!(row.irradiation_kwh_m2, None);
        let row = day_row(
            8,
            pack(0, 288),
            [0; 8],
            Some(0.25f64.to_be_bytes()),
            pack(i32::MAX, i32::MIN),
            &days,
        )
        .unwrap();
        assert_eq!(
            (row.day, row.samples, row.irradiation_kwh_m2),
            (days[0], 288, Some(0.25))
        );
        assert_eq!((row.data_hours, row.producing_hours), (i32::MAX, i32::MIN));
        // A day outside the period is an error, not a wrong row.
        assert!(day_row(8, pack(3, 0), [0; 8], None, [0; 8], &days).is_err());
        assert!(day_row(8, pack(-1, 0), [0; 8], None, [0; 8], &days).is_err());
    }

    #[test]
    fn interleaved_rows_are_grouped_by_device_for_dense_and_sparse_ids() {
        let day = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
        let row = |device_id, energy_kwh| AssessDayRow {
            device_id,
            day,
            energy_kwh,
            samples: 1,
            irradiation_kwh_m2: None,
            data_hours: 0,
            producing_hours: 0,
        };
        // Dense ids (slots by offset) and sparse ones (slots through a map).
        for ids in [vec![10, 11, 12, 14], vec![10, 11, 12, 1_000_000]] {
            let mut devices = Devices::new(&ids);
            for (i, id) in [ids[0], ids[3], ids[0], ids[1], ids[3]]
                .into_iter()
                .enumerate()
            {
                devices.push(row(id, i as f64)).unwrap();
            }
            // A device that was not asked for is an error.
            assert!(devices.push(row(9, 0.0)).is_err());
            let mut got: Vec<(i64, Vec<f64>)> = devices
                .finish()
                .map(|(id, rows)| (id, rows.iter().map(|r| r.energy_kwh).collect()))
                .collect();
            got.sort_by_key(|(id, _)| *id);
            let want = vec![
                (ids[0], vec![0.0, 2.0]),
                (ids[1], vec![3.0]),
                (ids[3], vec![1.0, 4.0]),
            ];
            assert_eq!(got, want, "{ids:?}");
        }
        assert!(Devices::new(&[10, 1_000_000]).push(row(11, 0.0)).is_err());
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
