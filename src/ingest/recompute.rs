//! Brings the rollups of the devices touched by a batch up to date, inside the batch's
//! transaction: late and back-filled readings land in place and their hours and days are
//! recomputed from the raw readings, never patched incrementally.
//!
//! The work is set-wise: a handful of statements per batch, each covering every touched
//! device, with the rollup arithmetic in between done in memory (`energy::rollup` per device,
//! [`daily_rows`] per device-day). A statement per device and step made ingest run at a few
//! hundred readings per second (issue 7).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use super::energy::{self, Sample, hour_of};
use crate::store::telemetry::{
    DailyWrite, DeviceDays, DeviceSpan, HourCells, HourlyRow, SampleRow, hour_masks,
};
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
    if touched.is_empty() {
        return Ok(());
    }
    let mut laps = Laps::new();
    let mut ids: Vec<i64> = touched.keys().copied().collect();
    ids.sort_unstable();
    dispatch_tx!(&mut *tx, telemetry::lock_devices(&ids))?;
    laps.mark("lock");
    let mut spans: Vec<DeviceSpan> = ids
        .iter()
        .map(|id| DeviceSpan {
            device_id: *id,
            from: Ts(hour_of(touched[id].first)),
            to: Ts(hour_of(touched[id].last) + Duration::hours(1)),
        })
        .collect();
    // The reading after the batch now pairs with a new predecessor: its hour changes too.
    let probes: Vec<DeviceSpan> = spans
        .iter()
        .map(|s| DeviceSpan { from: s.to, ..*s })
        .collect();
    let next: HashMap<i64, Ts> = dispatch_tx!(&mut *tx, telemetry::first_from_many(&probes))?
        .into_iter()
        .filter_map(|(device, ts)| Some((device, ts?)))
        .collect();
    for s in &mut spans {
        if let Some(n) = next.get(&s.device_id) {
            s.to = Ts(hour_of(n.0) + Duration::hours(1));
        }
    }
    laps.mark("next");

    let mut windows: HashMap<i64, Vec<SampleRow>> = HashMap::with_capacity(spans.len());
    for row in dispatch_tx!(&mut *tx, telemetry::window_samples_many(&spans))? {
        windows.entry(row.device_id).or_default().push(row.sample);
    }
    let mut befores: HashMap<i64, (Option<SampleRow>, Option<SampleRow>)> =
        dispatch_tx!(&mut *tx, telemetry::last_before_many(&spans))?
            .into_iter()
            .map(|(device, any, counter)| (device, (any, counter)))
            .collect();
    laps.mark("read");

    let mut hourly = Vec::new();
    let mut quality = Vec::new();
    for span in &spans {
        let device_id = span.device_id;
        let rows = windows.remove(&device_id).unwrap_or_default();
        let (before, before_counter) = befores.remove(&device_id).unwrap_or_default();
        let samples: Vec<Sample> = rows.iter().map(sample).collect();
        let result = energy::rollup(
            before_counter.as_ref().map(sample),
            before.as_ref().map(sample),
            &samples,
            rated_kw(device_id),
        );
        hourly.extend(result.hours.iter().map(|(hour, h)| HourlyRow {
            device_id,
            hour: Ts(*hour),
            energy_kwh: h.energy_kwh,
            peak_power_w: h.peak_power_w,
            samples: h.samples,
            irradiation_kwh_m2: h.irradiation_kwh_m2,
            bad_intervals: h.bad_intervals,
            source: result.source.to_owned(),
        }));
        // Quality flags follow the recomputation, including flags that no longer apply.
        let flags: HashMap<DateTime<Utc>, i16> = result.flags.iter().copied().collect();
        for row in &rows {
            let q = flags.get(&row.ts.0).copied().unwrap_or(0);
            if q != row.quality {
                quality.push((device_id, row.ts, q));
            }
        }
    }
    laps.mark("rollup");
    dispatch_tx!(&mut *tx, telemetry::replace_hourly_many(&spans, &hourly))?;
    laps.mark("hourly");
    if !quality.is_empty() {
        dispatch_tx!(&mut *tx, telemetry::set_quality_many(&quality))?;
    }
    laps.mark("quality");

    // Every local day a window overlaps is summed again from all of its hours.
    let days: Vec<DeviceDays> = spans
        .iter()
        .filter_map(|s| {
            let days = local_days(s.from.0, s.to.0, zone);
            Some(DeviceDays {
                device_id: s.device_id,
                first: *days.first()?,
                last: *days.last()?,
            })
        })
        .collect();
    let day_spans: Vec<DeviceSpan> = days
        .iter()
        .map(|d| DeviceSpan {
            device_id: d.device_id,
            from: Ts(day_bounds(d.first, zone).0),
            to: Ts(day_bounds(d.last, zone).1),
        })
        .collect();
    let cells = dispatch_tx!(&mut *tx, telemetry::hour_cells_many(&day_spans))?;
    laps.mark("cells");
    let daily = daily_rows(&cells, zone);
    dispatch_tx!(&mut *tx, telemetry::replace_daily_many(&days, &daily))?;
    laps.mark("daily");
    // Where a recomputation's time goes (RUST_LOG=pvledger::ingest::recompute=debug).
    tracing::debug!(devices = ids.len(), steps = %laps, "rollups recomputed");
    Ok(())
}

/// Elapsed time per named step, for the debug log.
struct Laps {
    last: std::time::Instant,
    steps: Vec<(&'static str, std::time::Duration)>,
}

impl Laps {
    fn new() -> Self {
        Laps {
            last: std::time::Instant::now(),
            steps: Vec::new(),
        }
    }

    fn mark(&mut self, step: &'static str) {
        let now = std::time::Instant::now();
        self.steps.push((step, now - self.last));
        self.last = now;
    }
}

impl std::fmt::Display for Laps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (step, d)) in self.steps.iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            write!(f, "{sep}{step}={}ms", d.as_millis())?;
        }
        Ok(())
    }
}

/// The daily rows from hourly rows ordered by device and hour: per device and local day,
/// the sums of its hours (a peak is the greatest; irradiation is absent when no hour has
/// any) and the masks of hours with data and with production. A day without hours has no row.
pub fn daily_rows(cells: &[HourCells], zone: Tz) -> Vec<DailyWrite> {
    let mut out: Vec<DailyWrite> = Vec::new();
    let mut hours: Vec<(Ts, f64, i32)> = Vec::new();
    let finish = |row: &mut DailyWrite, hours: &mut Vec<(Ts, f64, i32)>| {
        let (data, producing) = hour_masks(Ts(day_bounds(row.day, zone).0), hours);
        row.data_hours = data;
        row.producing_hours = producing;
        hours.clear();
    };
    for c in cells {
        let day = c.hour.0.with_timezone(&zone).date_naive();
        match out.last_mut() {
            Some(row) if row.device_id == c.device_id && row.day == day => {
                row.energy_kwh += c.energy_kwh;
                row.peak_power_w = match (row.peak_power_w, c.peak_power_w) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                row.samples += c.samples;
                row.irradiation_kwh_m2 = match (row.irradiation_kwh_m2, c.irradiation_kwh_m2) {
                    (Some(a), Some(b)) => Some(a + b),
                    (a, b) => a.or(b),
                };
                row.bad_intervals += c.bad_intervals;
            }
            _ => {
                if let Some(row) = out.last_mut() {
                    finish(row, &mut hours);
                }
                out.push(DailyWrite {
                    device_id: c.device_id,
                    day,
                    energy_kwh: c.energy_kwh,
                    peak_power_w: c.peak_power_w,
                    samples: c.samples,
                    irradiation_kwh_m2: c.irradiation_kwh_m2,
                    bad_intervals: c.bad_intervals,
                    data_hours: 0,
                    producing_hours: 0,
                });
            }
        }
        hours.push((c.hour, c.energy_kwh, c.samples));
    }
    if let Some(row) = out.last_mut() {
        finish(row, &mut hours);
    }
    out
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
    (
        day_start(day, zone),
        day_start(day.succ_opt().expect("a next day exists"), zone),
    )
}

/// The UTC instant where local `day` starts.
pub fn day_start(day: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    // A zone whose midnight falls into a DST gap starts the day at the first valid instant.
    zone.from_local_datetime(&midnight)
        .earliest()
        .unwrap_or_else(|| zone.from_utc_datetime(&midnight))
        .with_timezone(&Utc)
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
    fn daily_rows_sum_each_device_day_and_mark_its_hours() {
        let zone = chrono_tz::Asia::Shanghai;
        let day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let (start, _) = day_bounds(day, zone);
        let cell =
            |device_id: i64, h: i64, kwh: f64, peak: Option<f64>, irr: Option<f64>| HourCells {
                device_id,
                hour: Ts(start + Duration::hours(h)),
                energy_kwh: kwh,
                peak_power_w: peak,
                samples: 12,
                irradiation_kwh_m2: irr,
                bad_intervals: i32::from(kwh == 0.0),
            };
        let cells = [
            cell(1, 8, 1.5, Some(900.0), None),
            cell(1, 9, 2.25, None, Some(0.5)),
            cell(1, 10, 0.0, Some(1200.0), Some(0.25)),
            // The next local day of the same device starts a new row.
            cell(1, 24, 0.5, None, None),
            cell(2, 8, 3.0, None, None),
        ];
        let rows = daily_rows(&cells, zone);
        assert_eq!(rows.len(), 3);
        let first = &rows[0];
        assert_eq!((first.device_id, first.day), (1, day));
        assert_eq!(first.energy_kwh, 3.75);
        assert_eq!(first.peak_power_w, Some(1200.0));
        assert_eq!(first.samples, 36);
        assert_eq!(first.irradiation_kwh_m2, Some(0.75));
        assert_eq!(first.bad_intervals, 1);
        assert_eq!(first.data_hours, 0b111 << 8);
        assert_eq!(first.producing_hours, 0b11 << 8);
        assert_eq!(
            (rows[1].day, rows[1].data_hours),
            (day.succ_opt().unwrap(), 1)
        );
        assert_eq!(rows[1].peak_power_w, None);
        assert_eq!(rows[1].irradiation_kwh_m2, None);
        assert_eq!((rows[2].device_id, rows[2].energy_kwh), (2, 3.0));
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
