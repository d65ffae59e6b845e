//! Brings the rollups of the devices touched by a batch up to date, inside the batch's
//! transaction: late and back-filled readings land in place and their hours and days are
//! recomputed from the raw readings, never patched incrementally.
//!
//! The work is set-wise: a handful of statements per batch, each covering every touched
//! device, with the rollup arithmetic in between done in memory (`energy::rollup` per device,
//! [`daily_rows`] per device-day). A statement per device and step made ingest run at a few
//! hundred readings per second (issue 7).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use super::energy::{self, Before, HourRollup, Sample, hour_of};
use crate::store::telemetry::{
    DailyWrite, DeviceDays, DeviceSpan, HourCells, HourlyRow, SampleRow, TailRow, hour_masks,
};
use crate::store::{Ts, Tx, dispatch_tx};

/// The span of new readings of one device in a batch.
#[derive(Debug, Clone, Copy)]
pub struct Touched {
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
}

/// Brings the hourly and daily rollups of every touched device up to date.
///
/// A device whose new readings all follow the newest reading its rollups hold (its tail in
/// `rollup_tails`) rolls forward: only the readings after the tail are read, and rolled
/// onto the stored hour they continue, bit for bit what recomputing the hours whole gives
/// ([`energy::rollup_onto`]). Under a backlog the roller meets each device again and again
/// while its hour fills, and rereading the whole hour each time was most of its pass
/// (issue 7). Any other device (a late or resent reading, or no tail yet) has the hours of
/// its new readings recomputed whole.
///
/// `known` holds, for some devices, every reading of theirs in `touched` (as the writer
/// committed them): rolling forward, these are not read back.
pub async fn recompute(
    tx: &mut Tx,
    touched: &HashMap<i64, Touched>,
    mut known: HashMap<i64, Vec<SampleRow>>,
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
    // Read under the locks: a concurrent roll-up of the same device has committed its tail.
    let tails: HashMap<i64, TailRow> = dispatch_tx!(&mut *tx, telemetry::tails(&ids))?
        .into_iter()
        .map(|t| (t.device_id, t))
        .collect();
    laps.mark("lock");
    let (forward, whole): (Vec<i64>, Vec<i64>) = ids.iter().partition(|id| {
        tails
            .get(id)
            .is_some_and(|t| touched[id].first > t.last_ts.0)
    });

    let mut spans: Vec<DeviceSpan> = whole
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

    // Rolling forward reads the readings after the tail, up to the newest touched (stored
    // instants are whole milliseconds), and the stored hour of the tail they may continue.
    let mut windows: HashMap<i64, Vec<SampleRow>> = HashMap::with_capacity(ids.len());
    for id in &forward {
        if let Some(mut rows) = known.remove(id) {
            rows.sort_unstable_by_key(|r| r.ts);
            windows.insert(*id, rows);
        }
    }
    let reads: Vec<DeviceSpan> = forward
        .iter()
        .filter(|id| !windows.contains_key(id))
        .map(|id| DeviceSpan {
            device_id: *id,
            from: Ts(tails[id].last_ts.0 + Duration::milliseconds(1)),
            to: Ts(touched[id].last + Duration::milliseconds(1)),
        })
        .collect();
    let tail_hours: Vec<DeviceSpan> = forward
        .iter()
        .map(|id| {
            let hour = hour_of(tails[id].last_ts.0);
            DeviceSpan {
                device_id: *id,
                from: Ts(hour),
                to: Ts(hour + Duration::hours(1)),
            }
        })
        .collect();
    let mut continued: HashMap<i64, HourCells> =
        dispatch_tx!(&mut *tx, telemetry::hour_cells_many(&tail_hours))?
            .into_iter()
            .map(|c| (c.device_id, c))
            .collect();
    for batch in [&spans, &reads] {
        for row in dispatch_tx!(&mut *tx, telemetry::window_samples_many(batch))? {
            windows.entry(row.device_id).or_default().push(row.sample);
        }
    }
    laps.mark("window");
    // Quantities pair across at most this gap (counters across any): look no further back.
    let lookback: Vec<DeviceSpan> = spans
        .iter()
        .map(|s| DeviceSpan {
            to: Ts(s.from.0 - energy::MAX_INTEGRATION_GAP),
            ..*s
        })
        .collect();
    let mut befores: HashMap<i64, Before> =
        dispatch_tx!(&mut *tx, telemetry::last_before_many(&lookback))?
            .into_iter()
            .map(|(device, last)| {
                let before = Before {
                    counter: last.counter.as_ref().map(sample),
                    power: last.power.as_ref().map(sample),
                    irradiance: last.irradiance.as_ref().map(sample),
                };
                (device, before)
            })
            .collect();
    laps.mark("before");

    let mut hourly = Vec::new();
    let mut quality = Vec::new();
    let mut new_tails = Vec::new();
    // Rolled forward, a device's hours to replace run from its first new reading's.
    let mut written: Vec<DeviceSpan> = spans.clone();
    for &device_id in &ids {
        let rows = windows.remove(&device_id).unwrap_or_default();
        let samples: Vec<Sample> = rows.iter().map(sample).collect();
        let tail = tails.get(&device_id);
        let (before, hours) = if let Some(before) = befores.remove(&device_id) {
            (before, BTreeMap::new())
        } else {
            let Some(first) = samples.first() else {
                // Nothing after the tail: an earlier pass read these readings already.
                continue;
            };
            let tail = tail.expect("a device rolled forward has a tail");
            written.push(DeviceSpan {
                device_id,
                from: Ts(hour_of(first.ts)),
                to: Ts(hour_of(samples[samples.len() - 1].ts) + Duration::hours(1)),
            });
            let hours = continued
                .remove(&device_id)
                .filter(|c| c.hour.0 == hour_of(first.ts))
                .map(|c| (c.hour.0, hour_rollup(&c)))
                .into_iter()
                .collect();
            (before_of(tail), hours)
        };
        let result = energy::rollup_onto(hours, &before, &samples, rated_kw(device_id));
        if let Some(t) = moved_tail(
            device_id,
            tail,
            before,
            &samples,
            next.contains_key(&device_id),
        ) {
            new_tails.push(t);
        }
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
    dispatch_tx!(&mut *tx, telemetry::replace_hourly_many(&written, &hourly))?;
    laps.mark("hourly");
    if !quality.is_empty() {
        dispatch_tx!(&mut *tx, telemetry::set_quality_many(&quality))?;
    }
    dispatch_tx!(&mut *tx, telemetry::save_tails(&new_tails))?;
    laps.mark("tails");

    // Every local day a window overlaps is summed again from all of its hours.
    written.sort_unstable_by_key(|s| s.device_id);
    let days: Vec<DeviceDays> = written
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
    tracing::debug!(
        devices = ids.len(),
        forward = forward.len(),
        read_back = reads.len(),
        steps = %laps,
        "rollups recomputed"
    );
    Ok(())
}

/// Where `device`'s rollups end once `samples` (read after `before`) are rolled up: None
/// when they cannot say. A device without a tail gets one only when its window reaches its
/// newest reading (`more_after` false): rollups of readings after the window exist already
/// and the tail would be behind them. A tail never moves back, so a window of late readings
/// only brings in what it has later than the tail of each quantity.
fn moved_tail(
    device_id: i64,
    tail: Option<&TailRow>,
    before: Before,
    samples: &[Sample],
    more_after: bool,
) -> Option<TailRow> {
    let last = samples.last().map(|s| s.ts);
    let (last_ts, before) = match tail {
        Some(t) => (
            last.map_or(t.last_ts.0, |l| l.max(t.last_ts.0)),
            before_of(t).latest(before.advance(samples)),
        ),
        None if !more_after => (last?, before.advance(samples)),
        None => return None,
    };
    let point = |s: Option<Sample>, f: fn(&Sample) -> Option<f64>| {
        s.map_or((None, None), |s| (Some(Ts(s.ts)), f(&s)))
    };
    let (counter_ts, counter) = point(before.counter, |s| s.counter);
    let (power_ts, power_w) = point(before.power, |s| s.power_w);
    let (irradiance_ts, irradiance_wm2) = point(before.irradiance, |s| s.irradiance_wm2);
    Some(TailRow {
        device_id,
        last_ts: Ts(last_ts),
        counter_ts,
        counter,
        power_ts,
        power_w,
        irradiance_ts,
        irradiance_wm2,
    })
}

/// What readings after `tail` pair with.
fn before_of(tail: &TailRow) -> Before {
    let point = |ts: Option<Ts>, value: Option<f64>, set: fn(&mut Sample, f64)| {
        let (ts, value) = (ts?, value?);
        let mut s = Sample {
            ts: ts.0,
            counter: None,
            power_w: None,
            irradiance_wm2: None,
        };
        set(&mut s, value);
        Some(s)
    };
    Before {
        counter: point(tail.counter_ts, tail.counter, |s, v| s.counter = Some(v)),
        power: point(tail.power_ts, tail.power_w, |s, v| s.power_w = Some(v)),
        irradiance: point(tail.irradiance_ts, tail.irradiance_wm2, |s, v| {
            s.irradiance_wm2 = Some(v)
        }),
    }
}

/// A stored hour, to roll more readings onto.
fn hour_rollup(c: &HourCells) -> HourRollup {
    HourRollup {
        energy_kwh: c.energy_kwh,
        peak_power_w: c.peak_power_w,
        samples: c.samples,
        irradiation_kwh_m2: c.irradiation_kwh_m2,
        bad_intervals: c.bad_intervals,
    }
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
