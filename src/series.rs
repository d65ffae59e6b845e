//! Station series from device rows, pure: a station's power curve (the sum of its
//! inverters, downsampled for long ranges) and its energy by hour, day or month.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;

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
    pub period: String,
    /// Produced by the inverters (validated counters), kWh.
    pub energy_kwh: f64,
    /// Exported through the station's meter, kWh (None without a meter reading).
    pub export_kwh: Option<f64>,
}

/// Groups daily rows (day, is_meter, kWh) into days or months.
pub fn by_day_or_month(rows: &[(NaiveDate, bool, f64)], monthly: bool) -> Vec<EnergyPoint> {
    let mut out: BTreeMap<String, (f64, Option<f64>)> = BTreeMap::new();
    for (day, meter, kwh) in rows {
        let key = if monthly {
            format!("{:04}-{:02}", day.year(), day.month())
        } else {
            day.to_string()
        };
        let e = out.entry(key).or_default();
        if *meter {
            *e.1.get_or_insert(0.0) += kwh;
        } else {
            e.0 += kwh;
        }
    }
    out.into_iter()
        .map(|(period, (energy_kwh, export_kwh))| EnergyPoint {
            period,
            energy_kwh,
            export_kwh,
        })
        .collect()
}

/// Groups hourly rows (hour, is_meter, kWh) by hour.
pub fn by_hour(rows: &[(DateTime<Utc>, bool, f64)]) -> Vec<EnergyPoint> {
    let mut out: BTreeMap<DateTime<Utc>, (f64, Option<f64>)> = BTreeMap::new();
    for (hour, meter, kwh) in rows {
        let e = out.entry(*hour).or_default();
        if *meter {
            *e.1.get_or_insert(0.0) += kwh;
        } else {
            e.0 += kwh;
        }
    }
    out.into_iter()
        .map(|(h, (energy_kwh, export_kwh))| EnergyPoint {
            period: h.to_rfc3339(),
            energy_kwh,
            export_kwh,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn days_group_into_months_with_meter_export_apart() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let rows = [
            (d("2026-05-31"), false, 100.0),
            (d("2026-06-01"), false, 200.0),
            (d("2026-06-02"), false, 50.0),
            (d("2026-06-02"), true, 240.0),
        ];
        let months = by_day_or_month(&rows, true);
        assert_eq!(
            months[0],
            EnergyPoint {
                period: "2026-05".into(),
                energy_kwh: 100.0,
                export_kwh: None
            }
        );
        assert_eq!(
            months[1],
            EnergyPoint {
                period: "2026-06".into(),
                energy_kwh: 250.0,
                export_kwh: Some(240.0)
            }
        );
    }
}
