//! Station series from device rows, pure: a station's power curve (the sum of its
//! inverters, downsampled for long ranges) and its energy by hour, day or month.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::solar::position::{Ephemeris, Site, elevation_from};
use crate::{daylight_memo, ephemeris_grid};

/// Points a power curve is reduced to, at most (a phone screen shows no more).
pub const MAX_POINTS: i64 = 720;

/// One point of a station's power curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PowerPoint {
    pub ts: DateTime<Utc>,
    pub power_w: f64,
    /// Inverters that reported in this step.
    pub devices: usize,
}

/// The step for a range: one minute, or wider so that at most [`MAX_POINTS`] remain.
pub fn step_for(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    let minutes = ((to - from).num_minutes() + MAX_POINTS - 1) / MAX_POINTS;
    Duration::minutes(minutes.max(1))
}

/// Sums inverters' power per step: each device's mean within the step, added up.
pub fn station_power(
    rows: &[(i64, DateTime<Utc>, f64)],
    from: DateTime<Utc>,
    step: Duration,
) -> Vec<PowerPoint> {
    let step_ms = step.num_milliseconds().max(1);
    let mut buckets: BTreeMap<i64, HashMap<i64, (f64, u32)>> = BTreeMap::new();
    for (device, ts, w) in rows {
        let k = (*ts - from).num_milliseconds().div_euclid(step_ms);
        let e = buckets.entry(k).or_default().entry(*device).or_default();
        e.0 += w;
        e.1 += 1;
    }
    buckets
        .into_iter()
        .map(|(k, devices)| PowerPoint {
            ts: from + Duration::milliseconds(k * step_ms),
            power_w: devices.values().map(|(sum, n)| sum / f64::from(*n)).sum(),
            devices: devices.len(),
        })
        .collect()
}

/// Energy grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    Hour,
    Day,
    Month,
}

/// One period of a station's energy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnergyPoint {
    /// Hour: RFC 3339 instant; day: YYYY-MM-DD; month: YYYY-MM (local calendar).
    pub period: PeriodLabel,
    /// Produced by the inverters (validated counters), kWh.
    pub energy_kwh: f64,
    /// Exported through the station's meter, kWh (None without a meter reading).
    pub export_kwh: Option<f64>,
    /// Inverter readings received / expected while the sun was up (0-1); None when no
    /// reading was expected (night, no inverters).
    pub completeness: Option<f64>,
}

/// The period of an [`EnergyPoint`], written as text only when the answer is serialized
/// (a year of days made 365 strings per request, only to be copied into the JSON).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PeriodLabel {
    /// `2026-06-01T00:00:00+00:00`.
    Hour(DateTime<Utc>),
    /// `2026-06-01`.
    Day(NaiveDate),
    /// `2026-06`, from any day of the month.
    Month(NaiveDate),
}

impl std::fmt::Display for PeriodLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeriodLabel::Hour(h) => f.write_str(&h.to_rfc3339()),
            PeriodLabel::Day(d) => match iso_date(*d) {
                Some(text) => f.write_str(std::str::from_utf8(&text).expect("ASCII digits")),
                None => write!(f, "{d}"),
            },
            PeriodLabel::Month(d) => match iso_date(*d) {
                Some(text) => f.write_str(std::str::from_utf8(&text[..7]).expect("ASCII digits")),
                None => write!(f, "{:04}-{:02}", d.year(), d.month()),
            },
        }
    }
}

impl Serialize for PeriodLabel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One device-period of energy: (period, is it a meter, kWh, readings).
pub type EnergyRow<K> = (K, bool, f64, i32);

/// Readings an inverter is expected to send between `start` and `end` at `site`: one per
/// `interval_s` while the sun is above the horizon (night is never missing data).
///
/// Counts the 5-minute steps whose midpoint has the sun up. A year of days is 105,120
/// steps, too many sun positions for one request (issue 7: a station's year of daily energy
/// took tens of milliseconds of CPU), so only a few midpoints are evaluated: the middle one
/// of a run of steps, then every midpoint closer to it than [`minutes_to_horizon`] (before
/// or after) is on the same side of the horizon and settled, and the runs left on either side
/// are treated the same way. Far from sunrise and sunset one position settles hours; near
/// them, the steps are evaluated one by one. The count is the same as evaluating every step
/// (tested against that, site by site).
pub fn expected_daylight_samples(
    site: &Site,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    interval_s: u64,
) -> f64 {
    Daylight::new(site, interval_s).expected_samples(start, end)
}

/// [`expected_daylight_samples`] for many periods of one site (a year of days): the sun's
/// shared tables are looked up once per UTC day for all of them, not once per period (each
/// lookup takes a lock that every request shares).
pub struct Daylight<'a> {
    site: &'a Site,
    pressure: f64,
    /// [`true_elevation_rate`] at the site.
    rate: f64,
    interval_s: u64,
    grid: ephemeris_grid::Cursor,
    memo: daylight_memo::Reader,
}

impl<'a> Daylight<'a> {
    pub fn new(site: &'a Site, interval_s: u64) -> Self {
        Self {
            site,
            pressure: site.pressure_pa(),
            rate: true_elevation_rate(site.latitude_deg()),
            interval_s,
            grid: ephemeris_grid::Cursor::default(),
            memo: daylight_memo::Reader::default(),
        }
    }

    /// See [`expected_daylight_samples`].
    pub fn expected_samples(&mut self, start: DateTime<Utc>, end: DateTime<Utc>) -> f64 {
        if end <= start {
            return 0.0;
        }
        let step = Duration::minutes(STEP_MIN);
        let whole = (end - start).num_milliseconds() / step.num_milliseconds();
        // Steps from a whole 5 minutes (every whole-hour zone's midnight and hour) have their
        // midpoints on the grid whose ephemerides every station shares (crate::ephemeris_grid).
        let first = ephemeris_grid::step_starting(start);
        let up_steps = match first {
            // A whole day from the grid: counted once per process (crate::daylight_memo).
            Some(first) if whole == daylight_memo::STEPS_PER_DAY => {
                // Out of self while counting, which borrows the rest of it.
                let mut memo = std::mem::take(&mut self.memo);
                let n = memo.up_steps(self.site, first, || {
                    self.count_up_steps(start, Some(first), whole)
                });
                self.memo = memo;
                n
            }
            _ => self.count_up_steps(start, first, whole),
        };
        let mut daylight_s = (up_steps * STEP_MIN * 60) as f64;
        let tail = start + step * whole as i32;
        if tail < end && self.apparent(&Ephemeris::at(tail + (end - tail) / 2)) > 0.0 {
            daylight_s += (end - tail).num_seconds() as f64;
        }
        daylight_s / self.interval_s.max(1) as f64
    }

    fn apparent(&self, eph: &Ephemeris) -> f64 {
        elevation_from(self.site, self.pressure, eph)
    }

    /// The `whole` 5-minute steps from `start` (grid point `first`, when it is on the grid)
    /// whose midpoint has the sun up, found with few sun positions (see
    /// [`expected_daylight_samples`]).
    fn count_up_steps(&mut self, start: DateTime<Utc>, first: Option<i64>, whole: i64) -> i64 {
        let step = Duration::minutes(STEP_MIN);
        let mut step_elevation = |k: i64| {
            let eph = match first {
                Some(first) => self.grid.at(first + k),
                None => Ephemeris::at(start + step * k as i32 + step / 2),
            };
            elevation_from(self.site, self.pressure, &eph)
        };
        let mut up_steps = 0;
        let mut runs = vec![(0, whole - 1)];
        while let Some((lo, hi)) = runs.pop() {
            if lo > hi {
                continue;
            }
            let k = lo + (hi - lo) / 2;
            let e = step_elevation(k);
            let settled = minutes_to_horizon(e, self.rate);
            // Midpoints 5, 10, ... minutes away are settled while within `settled` minutes.
            let reach = if settled >= STEP_MIN as f64 {
                (settled / STEP_MIN as f64) as i64
            } else {
                0
            };
            let (first, last) = ((k - reach).max(lo), (k + reach).min(hi));
            if e > 0.0 {
                up_steps += last - first + 1;
            }
            runs.push((lo, first - 1));
            runs.push((last + 1, hi));
        }
        up_steps
    }
}

/// Step of [`expected_daylight_samples`], minutes.
const STEP_MIN: i64 = 5;

/// A bound on how fast the sun's true (geometric) elevation changes at `latitude_deg`,
/// degrees per minute: the earth's turn moves it by the hour angle's rate (0.25°/min, at
/// most 0.2501 with the equation of time; 0.2507 here) × cos(latitude) × |sin(azimuth)|,
/// and the declination adds at most 0.0003°/min (0.4° a day at the equinoxes).
pub fn true_elevation_rate(latitude_deg: f64) -> f64 {
    0.2507 * latitude_deg.to_radians().cos().abs() + 0.0003
}

/// How many minutes the sun needs at least, from an apparent `elevation_deg`, before its
/// apparent elevation can be on the other side of 0°, given [`true_elevation_rate`]
/// (negative or small: no guarantee).
///
/// Refraction changes how fast the apparent elevation moves relative to the true one.
/// Above 0.1° apparent (true above -0.575°, the seam of NOAA's piecewise fit) refraction
/// shrinks as the sun climbs, so the apparent elevation moves no faster than the true one.
/// Below -2° apparent (true below -1.9°), NOAA's fit (-20.772″ / tan e) adds at most 10 %
/// (1.0607 atm at -500 m, the lowest site allowed). Between them it adds up to 106 %
/// (×[`NEAR_HORIZON_FACTOR`], at the seam). The jumps at the fit's seams are taken off
/// the distance ([`REFRACTION_SEAMS_DEG`]).
pub fn minutes_to_horizon(elevation_deg: f64, true_rate: f64) -> f64 {
    let distance = elevation_deg.abs();
    let edge = if elevation_deg > 0.0 {
        UPPER_BAND_EDGE_DEG
    } else {
        LOWER_BAND_EDGE_DEG
    };
    let far = (distance - edge).max(0.0);
    let near = distance.min(edge) - REFRACTION_SEAMS_DEG;
    far / (FAR_FACTOR * true_rate) + near / (NEAR_HORIZON_FACTOR * true_rate)
}

/// Apparent elevations between -[`LOWER_BAND_EDGE_DEG`] and [`UPPER_BAND_EDGE_DEG`] are
/// where refraction can nearly double the rate; outside, at most [`FAR_FACTOR`].
const UPPER_BAND_EDGE_DEG: f64 = 0.1;
const LOWER_BAND_EDGE_DEG: f64 = 2.0;
/// 1 + 1.0607 × 1.0071e-4 / sin²(1.9°) = 1.096, rounded up.
const FAR_FACTOR: f64 = 1.1;
/// 1 + 1.0607 × 1.0071e-4 / sin²(0.575°) = 2.061, rounded up.
pub const NEAR_HORIZON_FACTOR: f64 = 2.1;

/// The jumps of NOAA's piecewise refraction fit at its seams (-0.575°, 5°, 85°: 0.0002°,
/// 0.0005°, 0.0014°), rounded far up.
pub const REFRACTION_SEAMS_DEG: f64 = 0.01;

fn completeness(samples: f64, expected: f64) -> Option<f64> {
    (expected >= 1.0).then(|| ((samples / expected).min(1.0) * 1000.0).round() / 1000.0)
}

/// Groups daily rows into days or months; `expected(day)` is the inverter readings
/// expected that day for the whole station. Rows come by day (`telemetry::daily`), so
/// periods are built in one pass, in order; rows in another order are sorted first.
pub fn by_day_or_month(
    rows: &[EnergyRow<NaiveDate>],
    monthly: bool,
    mut expected: impl FnMut(NaiveDate) -> f64,
) -> Vec<EnergyPoint> {
    let sorted;
    let rows = if rows.is_sorted_by_key(|r| r.0) {
        rows
    } else {
        sorted = {
            let mut copy = rows.to_vec();
            copy.sort_by_key(|r| r.0);
            copy
        };
        &sorted
    };
    // (period's first day, inverter kWh, meter kWh, readings, expected), named at the end.
    let mut out: Vec<(NaiveDate, f64, Option<f64>, f64, f64)> = Vec::new();
    let mut last_day = None;
    for (day, meter, kwh, samples) in rows {
        let key = if monthly {
            day.with_day(1).unwrap_or(*day)
        } else {
            *day
        };
        if out.last().is_none_or(|p| p.0 != key) {
            out.push((key, 0.0, None, 0.0, 0.0));
        }
        let e = out.last_mut().expect("just pushed");
        if *meter {
            *e.2.get_or_insert(0.0) += kwh;
        } else {
            e.1 += kwh;
            e.3 += f64::from(*samples);
        }
        if last_day != Some(*day) {
            last_day = Some(*day);
            e.4 += expected(*day);
        }
    }
    out.into_iter()
        .map(|(first, e, x, n, exp)| EnergyPoint {
            period: if monthly {
                PeriodLabel::Month(first)
            } else {
                PeriodLabel::Day(first)
            },
            energy_kwh: round_wh(e),
            export_kwh: x.map(round_wh),
            completeness: completeness(n, exp),
        })
        .collect()
}

/// `YYYY-MM-DD` as `NaiveDate`'s Display writes it, for years 0 to 9999 (None for the
/// others), without the formatting machinery: a year of days names 365 of them.
fn iso_date(day: NaiveDate) -> Option<[u8; 10]> {
    let y = u32::try_from(day.year()).ok().filter(|y| *y <= 9999)?;
    let (m, d) = (day.month(), day.day());
    let digit = |n: u32| b'0' + n as u8;
    Some([
        digit(y / 1000),
        digit(y / 100 % 10),
        digit(y / 10 % 10),
        digit(y % 10),
        b'-',
        digit(m / 10),
        digit(m % 10),
        b'-',
        digit(d / 10),
        digit(d % 10),
    ])
}

/// Groups hourly rows by hour; `expected(hour)` as for [`by_day_or_month`].
pub fn by_hour(
    rows: &[EnergyRow<DateTime<Utc>>],
    mut expected: impl FnMut(DateTime<Utc>) -> f64,
) -> Vec<EnergyPoint> {
    let mut out: BTreeMap<DateTime<Utc>, (f64, Option<f64>, f64)> = BTreeMap::new();
    for (hour, meter, kwh, samples) in rows {
        let e = out.entry(*hour).or_default();
        if *meter {
            *e.1.get_or_insert(0.0) += kwh;
        } else {
            e.0 += kwh;
            e.2 += f64::from(*samples);
        }
    }
    out.into_iter()
        .map(|(h, (e, x, n))| EnergyPoint {
            period: PeriodLabel::Hour(h),
            energy_kwh: round_wh(e),
            export_kwh: x.map(round_wh),
            completeness: completeness(n, expected(h)),
        })
        .collect()
}

/// Sums of float counter deltas carry noise in the last digits; kWh to the Wh is plenty.
fn round_wh(kwh: f64) -> f64 {
    (kwh * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The step-by-step count that [`expected_daylight_samples`] must equal.
    fn every_step(
        site: &crate::solar::position::Site,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        interval_s: u64,
    ) -> f64 {
        let mut t = start;
        let mut daylight_s = 0.0;
        while t < end {
            let next = (t + Duration::minutes(STEP_MIN)).min(end);
            let mid = t + (next - t) / 2;
            if crate::solar::position::sun_position(site, mid).elevation_deg > 0.0 {
                daylight_s += (next - t).num_seconds() as f64;
            }
            t = next;
        }
        daylight_s / interval_s.max(1) as f64
    }

    #[test]
    fn skipping_settled_steps_counts_the_same_daylight_as_evaluating_every_step() {
        use crate::solar::position::Site;
        // Polar days and nights, the tropics, both hemispheres, far from the zone's meridian,
        // below sea level and high up; local days, odd windows with a partial last step.
        let mut sites = Vec::new();
        for lat in [
            -70.0, -66.4, -45.0, -23.4, 0.0, 23.4, 36.0, 37.6, 45.0, 60.0, 66.4, 70.0,
        ] {
            for lon in [-170.0, -75.0, 0.0, 75.0, 111.3, 179.9] {
                for elevation in [-430.0, 0.0, 4500.0] {
                    sites.push(
                        Site::new(lat, lon)
                            .unwrap()
                            .with_elevation_m(elevation)
                            .unwrap(),
                    );
                }
            }
        }
        let first = DateTime::parse_from_rfc3339("2025-12-31T16:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut checked = 0;
        for (i, site) in sites.iter().enumerate() {
            for day in (i % 29..366).step_by(29) {
                let start = first + Duration::days(day as i64);
                let end = start + Duration::days(1);
                assert_eq!(
                    expected_daylight_samples(site, start, end, 60),
                    every_step(site, start, end, 60),
                    "{site:?} from {start}"
                );
                let odd = start + Duration::seconds(37 * day as i64 + 13);
                let odd_end = odd + Duration::minutes(1_000 + day as i64) + Duration::seconds(7);
                assert_eq!(
                    expected_daylight_samples(site, odd, odd_end, 300),
                    every_step(site, odd, odd_end, 300),
                    "{site:?} from {odd}"
                );
                checked += 1;
            }
        }
        assert!(checked > 2_500, "{checked}");
    }

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::minutes(min)
    }

    #[test]
    fn inverters_are_averaged_within_a_step_then_summed() {
        let rows = [
            (1, t(0), 1000.0),
            (1, t(1), 3000.0),
            (2, t(0), 500.0),
            (2, t(5), 700.0),
        ];
        let pts = station_power(&rows, t(0), Duration::minutes(5));
        assert_eq!(pts.len(), 2);
        assert_eq!(pts[0].power_w, 2000.0 + 500.0);
        assert_eq!(pts[0].devices, 2);
        assert_eq!(
            pts[1],
            PowerPoint {
                ts: t(5),
                power_w: 700.0,
                devices: 1
            }
        );
    }

    #[test]
    fn a_year_is_reduced_to_at_most_720_points() {
        let step = step_for(t(0), t(365 * 24 * 60));
        assert!((365 * 24 * 60) / step.num_minutes() <= MAX_POINTS);
        assert_eq!(step_for(t(0), t(60)), Duration::minutes(1));
    }

    #[test]
    fn dates_are_named_as_display_names_them() {
        for day in [
            NaiveDate::from_ymd_opt(2026, 1, 9).unwrap(),
            NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
            NaiveDate::from_ymd_opt(999, 10, 1).unwrap(),
            NaiveDate::from_ymd_opt(-3, 2, 1).unwrap(),
            NaiveDate::from_ymd_opt(12_345, 6, 7).unwrap(),
        ] {
            assert_eq!(PeriodLabel::Day(day).to_string(), day.to_string());
            assert_eq!(
                PeriodLabel::Month(day).to_string(),
                format!("{:04}-{:02}", day.year(), day.month())
            );
            assert_eq!(
                serde_json::to_string(&PeriodLabel::Day(day)).unwrap(),
                format!("\"{day}\"")
            );
        }
    }

    #[test]
    fn days_in_any_order_group_as_sorted_ones() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let sorted = [
            (d("2026-05-31"), false, 100.0, 500),
            (d("2026-05-31"), true, 90.0, 1440),
            (d("2026-06-01"), false, 200.0, 600),
            (d("2026-06-02"), false, 50.0, 300),
        ];
        let shuffled = [sorted[3], sorted[1], sorted[2], sorted[0]];
        for monthly in [false, true] {
            let expected_days = std::cell::RefCell::new(Vec::new());
            let mut count = |day| {
                expected_days.borrow_mut().push(day);
                600.0
            };
            let a = by_day_or_month(&sorted, monthly, &mut count);
            let b = by_day_or_month(&shuffled, monthly, &mut count);
            assert_eq!(a, b);
            // Each day's expected readings are counted once per call.
            assert_eq!(expected_days.borrow().len(), 6);
        }
        let days = by_day_or_month(&shuffled, false, |_| 600.0);
        assert_eq!(days.len(), 3);
        assert_eq!(days[0].period.to_string(), "2026-05-31");
        assert_eq!(days[0].energy_kwh, 100.0);
        assert_eq!(days[0].export_kwh, Some(90.0));
        assert_eq!(days[0].completeness, Some(0.833));
    }

    #[test]
    fn days_group_into_months_with_meter_export_apart() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let rows = [
            (d("2026-05-31"), false, 100.0, 500),
            (d("2026-06-01"), false, 200.0, 600),
            (d("2026-06-02"), false, 50.0, 300),
            (d("2026-06-02"), true, 240.0, 1440),
        ];
        let months = by_day_or_month(&rows, true, |_| 600.0);
        let may = EnergyPoint {
            period: PeriodLabel::Month(d("2026-05-01")),
            energy_kwh: 100.0,
            export_kwh: None,
            completeness: Some(0.833),
        };
        assert_eq!(months[0], may);
        // June: 900 inverter readings of 2 x 600 expected; the meter's readings do not count.
        let june = EnergyPoint {
            period: PeriodLabel::Month(d("2026-06-01")),
            energy_kwh: 250.0,
            export_kwh: Some(240.0),
            completeness: Some(0.75),
        };
        assert_eq!(months[1], june);
    }

    #[test]
    fn a_shanxi_june_day_expects_about_fourteen_and_a_half_hours_of_readings() {
        let site = crate::solar::position::Site::new(37.6, 111.3).unwrap();
        let start = DateTime::parse_from_rfc3339("2026-06-20T16:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let n = expected_daylight_samples(&site, start, start + Duration::days(1), 60);
        assert!((14.0 * 60.0..15.2 * 60.0).contains(&n), "{n}");
    }
}
