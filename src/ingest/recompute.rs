//! Brings the rollups of the devices touched by a batch up to date, inside the batch's
//! transaction: late and back-filled readings land in place and their hours and days are
//! recomputed from the raw readings, never patched incrementally.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use super::energy::{self, Sample, hour_of};
use crate::store::telemetry::{HourlyRow, SampleRow};
use crate::store::{Ts, Tx, dispatch_tx};

/// The span of new readings of one device in a batch.
#[derive(Debug, Clone, Copy)]
pub struct Touched {
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
}

/// Recomputes hourly and daily rollups for every touched device.
pub async fn recompute(
    tx: &mut Tx,
    touched: &HashMap<i64, Touched>,
    rated_kw: impl Fn(i64) -> Option<f64>,
    zone: Tz,
) -> Result<(), sqlx::Error> {
    for (&device_id, span) in touched {
        let from = hour_of(span.first);
        let mut to = hour_of(span.last) + Duration::hours(1);
        // The reading after the batch now pairs with a new predecessor: its hour changes too.
        if let Some(next) = dispatch_tx!(&mut *tx, telemetry::first_from(device_id, Ts(to)))? {
            to = hour_of(next.0) + Duration::hours(1);
        }
        let rows = dispatch_tx!(
            &mut *tx,
            telemetry::window_samples(device_id, Ts(from), Ts(to))
        )?;
        let before_counter =
            dispatch_tx!(&mut *tx, telemetry::last_before(device_id, Ts(from), true))?;
        let before = dispatch_tx!(&mut *tx, telemetry::last_before(device_id, Ts(from), false))?;
        let samples: Vec<Sample> = rows.iter().map(sample).collect();
        let result = energy::rollup(
            before_counter.as_ref().map(sample),
            before.as_ref().map(sample),
            &samples,
            rated_kw(device_id),
        );

        let hourly: Vec<HourlyRow> = result
            .hours
            .iter()
            .map(|(hour, h)| HourlyRow {
                device_id,
                hour: Ts(*hour),
                energy_kwh: h.energy_kwh,
                peak_power_w: h.peak_power_w,
                samples: h.samples,
                irradiation_kwh_m2: h.irradiation_kwh_m2,
                bad_intervals: h.bad_intervals,
                source: result.source.to_owned(),
            })
            .collect();
        dispatch_tx!(
            &mut *tx,
            telemetry::replace_hourly(device_id, Ts(from), Ts(to), &hourly)
        )?;

        // Quality flags follow the recomputation, including flags that no longer apply.
        let flags: HashMap<DateTime<Utc>, i16> = result.flags.iter().copied().collect();
        for row in &rows {
            let q = flags.get(&row.ts.0).copied().unwrap_or(0);
            if q != row.quality {
                dispatch_tx!(&mut *tx, telemetry::set_quality(device_id, row.ts, q))?;
            }
        }

        for day in local_days(from, to, zone) {
            let (start, end) = day_bounds(day, zone);
            dispatch_tx!(
                &mut *tx,
                telemetry::recompute_daily(device_id, day, Ts(start), Ts(end))
            )?;
        }
    }
    Ok(())
}

fn sample(r: &SampleRow) -> Sample {
    Sample {
        ts: r.ts.0,
        counter: r.counter,
        power_w: r.ac_power_w,
        irradiance_wm2: r.irradiance_poa_wm2,
    }
}

/// The local days that overlap [from, to).
pub fn local_days(from: DateTime<Utc>, to: DateTime<Utc>, zone: Tz) -> BTreeSet<NaiveDate> {
    let first = from.with_timezone(&zone).date_naive();
    let last = (to - Duration::milliseconds(1))
        .with_timezone(&zone)
        .date_naive();
    first.iter_days().take_while(|d| *d <= last).collect()
}

/// The UTC instants where local `day` starts and ends.
pub fn day_bounds(day: NaiveDate, zone: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = |d: NaiveDate| {
        let midnight = d.and_hms_opt(0, 0, 0).expect("midnight exists");
        // A zone whose midnight falls into a DST gap starts the day at the first valid instant.
        zone.from_local_datetime(&midnight)
            .earliest()
            .unwrap_or_else(|| zone.from_utc_datetime(&midnight))
            .with_timezone(&Utc)
    };
    (
        start(day),
        start(day.succ_opt().expect("a next day exists")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shanghai_day_runs_from_16_00_utc_to_16_00_utc() {
        let day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let (s, e) = day_bounds(day, chrono_tz::Asia::Shanghai);
        assert_eq!(s.to_rfc3339(), "2026-05-31T16:00:00+00:00");
        assert_eq!(e.to_rfc3339(), "2026-06-01T16:00:00+00:00");
    }

    #[test]
    fn hours_either_side_of_local_midnight_touch_two_days() {
        let from = DateTime::parse_from_rfc3339("2026-06-01T15:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let days = local_days(from, from + Duration::hours(2), chrono_tz::Asia::Shanghai);
        assert_eq!(days.len(), 2);
    }
}
