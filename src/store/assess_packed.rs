//! The assessment's bulk read of daily rollups, one row per device with the period's
//! values packed, because decoding millions of rows one at a time through the driver was
//! most of a province assessment's time (about 4 µs a row on SQLite, 2-3 µs on
//! PostgreSQL). PostgreSQL packs into typed arrays (`array_agg`, binary on the wire);
//! SQLite has no arrays, so each device's days come as one text, parsed here.
//! The row-at-a-time read (`assess_sql.rs::daily_rows`) stays as the reference the tests
//! compare this with.

use chrono::NaiveDate;

use super::Store;
use super::telemetry::AssessDayRow;

/// Device ids per query: well under both engines' bound-parameter limits.
const IDS_PER_QUERY: usize = 2000;

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
        let mut out = Vec::new();
        match self {
            Store::Postgres(pool) => {
                // The aggregates of one group see its rows in the same order, so the
                // arrays line up without an ORDER BY (which PostgreSQL 15 would sort once
                // per aggregate).
                type Packed = (
                    i64,
                    Vec<NaiveDate>,
                    Vec<f64>,
                    Vec<i32>,
                    Vec<Option<f64>>,
                    Vec<i32>,
                    Vec<i32>,
                );
                let rows: Vec<Packed> = sqlx::query_as(
                    "SELECT device_id, array_agg(day), array_agg(energy_kwh), array_agg(samples),
                            array_agg(irradiation_kwh_m2), array_agg(data_hours),
                            array_agg(producing_hours)
                     FROM energy_daily
                     WHERE device_id = ANY($1) AND day >= $2 AND day <= $3
                     GROUP BY device_id",
                )
                .bind(device_ids)
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?;
                for (device_id, days, energy, samples, irr, data, producing) in rows {
                    for i in 0..days.len() {
                        out.push(AssessDayRow {
                            device_id,
                            day: days[i],
                            energy_kwh: energy[i],
                            samples: samples[i],
                            irradiation_kwh_m2: irr[i],
                            data_hours: data[i],
                            producing_hours: producing[i],
                        });
                    }
                }
            }
            Store::Sqlite(pool) => {
                for chunk in device_ids.chunks(IDS_PER_QUERY) {
                    // printf('%!.17g') keeps every bit of a REAL (the default cast to text
                    // may round to 15 digits); an unknown irradiation is an empty field (printf
                    // turns NULL into 0.0, hence the CASE).
                    let mut q = sqlx::QueryBuilder::new(
                        "SELECT device_id, group_concat(day || ' ' || printf('%!.17g', energy_kwh)
                                || ' ' || samples || ' '
                                || CASE WHEN irradiation_kwh_m2 IS NULL THEN ''
                                   ELSE printf('%!.17g', irradiation_kwh_m2) END
                                || ' ' || data_hours || ' ' || producing_hours, ';')
                         FROM energy_daily WHERE day >= ",
                    );
                    q.push_bind(from)
                        .push(" AND day <= ")
                        .push_bind(to)
                        .push(" AND device_id IN (");
                    let mut list = q.separated(", ");
                    for id in chunk {
                        list.push_bind(*id);
                    }
                    q.push(") GROUP BY device_id");
                    let rows: Vec<(i64, String)> = q.build_query_as().fetch_all(pool).await?;
                    for (device_id, packed) in rows {
                        unpack_sqlite(device_id, &packed, &mut out)?;
                    }
                }
            }
        }
        Ok(out)
    }
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
