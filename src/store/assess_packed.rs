//! The assessment's bulk read of daily rollups, one row per device with the period's
//! values packed, because decoding millions of rows one at a time through the driver was
//! most of a province assessment's time (about 4 µs a row on SQLite, 2-3 µs on
//! PostgreSQL). PostgreSQL streams the rows as a binary `COPY`, parsed here; SQLite has no
//! binary output of a REAL, so each device's days come as one text, parsed here. Shares of
//! the devices are read over several connections at once.
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

/// One query's devices on PostgreSQL: the plain rows as a binary `COPY`, parsed here. The
/// server only scans and writes each column's binary form (every bit of a float); packing
/// per device on the server (`array_agg`, or `string_agg` of `float8send` records) cost
/// it two to three times as much per row, and typed arrays cost the client a decode call
/// per element, 26 million for a province year.
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
    let mut ids = String::with_capacity(device_ids.len() * 8);
    for (i, id) in device_ids.iter().enumerate() {
        if i > 0 {
            ids.push(',');
        }
        ids.push_str(&id.to_string());
    }
    let statement = format!(
        "COPY (SELECT device_id, day - DATE '{from}', energy_kwh, samples, irradiation_kwh_m2,
                      data_hours, producing_hours
               FROM energy_daily
               WHERE device_id = ANY('{{{ids}}}'::bigint[])
                 AND day >= DATE '{from}' AND day <= DATE '{to}')
         TO STDOUT WITH (FORMAT binary)"
    );
    let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
    let mut parser = CopyParser::default();
    let mut devices = Devices::default();
    let mut stream = pool.copy_out_raw(&statement).await?;
    while let Some(chunk) =
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(stream.as_mut(), cx)).await
    {
        parser.feed(&chunk?, &days, |row| devices.push(row))?;
    }
    if !parser.finished {
        return Err(sqlx::Error::Decode(
            "COPY of energy_daily ended early".into(),
        ));
    }
    out.extend(devices.finish());
    Ok(())
}

/// Rows gathered per device (a device's rows come together, in key order, as a rule).
#[derive(Default)]
struct Devices {
    current: Option<DeviceRows>,
    done: std::collections::HashMap<i64, Vec<AssessDayRow>>,
}

impl Devices {
    fn push(&mut self, row: AssessDayRow) {
        match &mut self.current {
            Some((id, rows)) if *id == row.device_id => rows.push(row),
            _ => {
                if let Some((id, rows)) = self.current.take() {
                    self.done.entry(id).or_default().extend(rows);
                }
                self.current = Some((row.device_id, vec![row]));
            }
        }
    }

    fn finish(mut self) -> impl Iterator<Item = DeviceRows> {
        if let Some((id, rows)) = self.current.take() {
            self.done.entry(id).or_default().extend(rows);
        }
        self.done.into_iter()
    }
}

/// PostgreSQL's binary COPY format: a signature, flags and a header extension, then per
/// row a field count and per field a length (−1 for NULL) and the value, big-endian; a
/// field count of −1 ends the data.
#[derive(Default)]
struct CopyParser {
    buf: Vec<u8>,
    header_done: bool,
    finished: bool,
}

const COPY_SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

impl CopyParser {
    /// Takes the next piece of the stream (pieces may split anywhere) and hands every
    /// complete row to `row`; `days[i]` is the period's i-th day.
    fn feed(
        &mut self,
        piece: &[u8],
        days: &[NaiveDate],
        mut row: impl FnMut(AssessDayRow),
    ) -> Result<(), sqlx::Error> {
        let bad =
            |what: &str| sqlx::Error::Decode(format!("COPY of energy_daily: bad {what}").into());
        self.buf.extend_from_slice(piece);
        let b = &self.buf;
        let mut at = 0;
        if !self.header_done {
            if b.len() < 19 {
                return Ok(());
            }
            if &b[..11] != COPY_SIGNATURE {
                return Err(bad("signature"));
            }
            let ext = i32::from_be_bytes(b[15..19].try_into().expect("four bytes"));
            let ext = usize::try_from(ext).map_err(|_| bad("header"))?;
            if b.len() < 19 + ext {
                return Ok(());
            }
            at = 19 + ext;
            self.header_done = true;
        }
        while !self.finished {
            let Some((next, fields)) = tuple(b, at) else {
                break;
            };
            match fields {
                None => self.finished = true,
                Some(f) => {
                    let int = |i: usize| -> Result<i32, sqlx::Error> {
                        let v: [u8; 4] = f[i]
                            .ok_or_else(|| bad("NULL"))?
                            .try_into()
                            .map_err(|_| bad("int4"))?;
                        Ok(i32::from_be_bytes(v))
                    };
                    let float = |v: &[u8]| -> Result<f64, sqlx::Error> {
                        Ok(f64::from_be_bytes(v.try_into().map_err(|_| bad("float8"))?))
                    };
                    let id: [u8; 8] = f[0]
                        .ok_or_else(|| bad("NULL"))?
                        .try_into()
                        .map_err(|_| bad("int8"))?;
                    let day = usize::try_from(int(1)?)
                        .ok()
                        .and_then(|i| days.get(i))
                        .ok_or_else(|| bad("day"))?;
                    row(AssessDayRow {
                        device_id: i64::from_be_bytes(id),
                        day: *day,
                        energy_kwh: float(f[2].ok_or_else(|| bad("NULL"))?)?,
                        samples: int(3)?,
                        irradiation_kwh_m2: f[4].map(float).transpose()?,
                        data_hours: int(5)?,
                        producing_hours: int(6)?,
                    });
                }
            }
            at = next;
        }
        self.buf.drain(..at);
        Ok(())
    }
}

/// One binary COPY row's seven fields, `None` for NULL.
type Fields<'a> = [Option<&'a [u8]>; 7];

/// The row starting at `at` if it is complete: where the next starts and its fields
/// (`None` for the end marker). A row of another width is reported as seven NULLs, which
/// the caller rejects.
fn tuple(b: &[u8], at: usize) -> Option<(usize, Option<Fields<'_>>)> {
    let count = i16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?);
    let mut at = at + 2;
    if count == -1 {
        return Some((at, None));
    }
    let mut fields: Fields<'_> = [None; 7];
    let mut slots = fields.iter_mut();
    for _ in 0..usize::try_from(count).unwrap_or(0) {
        let len = i32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?);
        at += 4;
        let value = match usize::try_from(len) {
            Ok(len) => {
                let v = b.get(at..at + len)?;
                at += len;
                Some(v)
            }
            Err(_) => None,
        };
        if let Some(slot) = slots.next() {
            *slot = value;
        }
    }
    if count != 7 {
        fields = [None; 7];
    }
    Some((at, Some(fields)))
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
    fn a_binary_copy_parses_into_its_rows_whatever_the_pieces() {
        let first = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
        let days: Vec<NaiveDate> = first.iter_days().take(3).collect();
        let mut copy = COPY_SIGNATURE.to_vec();
        copy.extend(0i32.to_be_bytes()); // flags
        copy.extend(2i32.to_be_bytes()); // a header extension, skipped
        copy.extend([9, 9]);
        let field = |copy: &mut Vec<u8>, v: Option<&[u8]>| match v {
            None => copy.extend((-1i32).to_be_bytes()),
            Some(v) => {
                copy.extend((v.len() as i32).to_be_bytes());
                copy.extend(v);
            }
        };
        let e = 0.1f64 + 0.2;
        type Row = (i64, i32, f64, i32, Option<f64>, i32, i32);
        let rows: [Row; 2] = [
            (7, 2, e, 288, None, 16_777_215, -1),
            (8, 0, 12.5, 3, Some(0.25), 1, 0),
        ];
        for (id, day, kwh, samples, irr, data, producing) in rows {
            copy.extend(7i16.to_be_bytes());
            field(&mut copy, Some(&id.to_be_bytes()));
            field(&mut copy, Some(&day.to_be_bytes()));
            field(&mut copy, Some(&kwh.to_be_bytes()));
            field(&mut copy, Some(&samples.to_be_bytes()));
            field(
                &mut copy,
                irr.map(f64::to_be_bytes).as_ref().map(|v| &v[..]),
            );
            field(&mut copy, Some(&data.to_be_bytes()));
            field(&mut copy, Some(&producing.to_be_bytes()));
        }
        copy.extend((-1i16).to_be_bytes());
        for piece in [1, 5, 64, copy.len()] {
            let mut parser = CopyParser::default();
            let mut out = Vec::new();
            for part in copy.chunks(piece) {
                parser.feed(part, &days, |r| out.push(r)).unwrap();
            }
            assert!(parser.finished);
            assert_eq!(out.len(), 2, "pieces of {piece}");
            assert_eq!((out[0].device_id, out[0].day), (7, days[2]));
            assert_eq!(out[0].energy_kwh.to_bits(), e.to_bits());
            assert_eq!(out[0].irradiation_kwh_m2, None);
            assert_eq!((out[0].samples, out[0].data_hours), (288, 16_777_215));
            assert_eq!(out[0].producing_hours, -1);
            assert_eq!((out[1].device_id, out[1].day), (8, days[0]));
            assert_eq!(out[1].irradiation_kwh_m2, Some(0.25));
        }
        // A day outside the period, a NULL energy: errors, not wrong rows.
        let mut parser = CopyParser::default();
        let bad_day = [&copy[..19 + 2], &7i16.to_be_bytes()[..]].concat();
        parser.feed(&bad_day, &days, |_| ()).unwrap();
        let mut row = Vec::new();
        field(&mut row, Some(&1i64.to_be_bytes()));
        field(&mut row, Some(&9i32.to_be_bytes()));
        for _ in 0..5 {
            field(&mut row, None);
        }
        assert!(parser.feed(&row, &days, |_| ()).is_err());
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
