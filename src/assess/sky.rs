//! The sun's side of a station-day: how long the sun was up (expected readings), which
//! hours count as daylight for availability, and the clear-sky energy per kWp (the
//! performance index's expectation, see docs/ASSESSMENT.md).
//!
//! A year of a province is millions of station-days, so profiles are memoized per 0.2°
//! cell (about 20 km; the sun's timing differs by under 48 s across it), tilt and azimuth
//! to the degree, and DC/AC ratio to 0.05.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::ingest::recompute::day_bounds;
use crate::solar::clearsky::Plane;
use crate::solar::energy::{Assumptions, expected_ac_power_kw};
use crate::solar::position::{Site, sun_position};
use crate::solar::pv::PvArray;

/// What the sun did at a station on one local day.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DayProfile {
    /// Seconds with the sun above the horizon.
    pub sun_up_s: f64,
    /// Bit i: the sun at the middle of the i-th hour stood above the daylight elevation.
    pub daylight_mask: i32,
    /// Clear-sky AC energy per kWp of DC, kWh.
    pub clear_kwh_per_kwp: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    lat: i32,
    lon: i32,
    tilt: i32,
    azimuth: i32,
    ac_per_dc: i32,
}

/// Where a station stands and how its array faces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Orientation {
    pub latitude: f64,
    pub longitude: f64,
    pub tilt_deg: f64,
    pub azimuth_deg: f64,
    /// AC rating / DC rating (clipping on clear days).
    pub ac_per_dc: f64,
}

impl Orientation {
    fn key(&self) -> Key {
        Key {
            lat: (self.latitude * 5.0).round() as i32,
            lon: (self.longitude * 5.0).round() as i32,
            tilt: self.tilt_deg.round() as i32,
            azimuth: self.azimuth_deg.round() as i32,
            ac_per_dc: (self.ac_per_dc.clamp(0.5, 1.5) * 20.0).round() as i32,
        }
    }
}

/// Memoized day profiles.
pub struct Sky {
    zone: Tz,
    daylight_elevation_deg: f64,
    assumptions: Assumptions,
    memo: HashMap<(Key, NaiveDate), DayProfile>,
}

impl Sky {
    pub fn new(zone: Tz, daylight_elevation_deg: f64) -> Self {
        Sky {
            zone,
            daylight_elevation_deg,
            assumptions: Assumptions::default(),
            memo: HashMap::new(),
        }
    }

    /// The profile of `day` for a station facing `o`.
    pub fn day(&mut self, o: &Orientation, day: NaiveDate) -> DayProfile {
        let key = o.key();
        if let Some(p) = self.memo.get(&(key, day)) {
            return *p;
        }
        let p = profile(
            &key,
            day,
            self.zone,
            self.daylight_elevation_deg,
            &self.assumptions,
        );
        self.memo.insert((key, day), p);
        p
    }
}

/// Computes one day from the cell's centre: the sun at every hour's start, middle and end;
/// sun-up time by linear interpolation of the elevation across the hour; clear-sky energy
/// by Simpson's rule per hour (exact for smooth curves to well under 1 %).
fn profile(k: &Key, day: NaiveDate, zone: Tz, min_elev: f64, a: &Assumptions) -> DayProfile {
    let Ok(site) = Site::new(f64::from(k.lat) / 5.0, f64::from(k.lon) / 5.0) else {
        return DayProfile::default();
    };
    let mut array = PvArray::new(
        1.0,
        Plane {
            tilt_deg: f64::from(k.tilt),
            azimuth_deg: f64::from(k.azimuth),
        },
    );
    array.ac_kw = f64::from(k.ac_per_dc) / 20.0;
    let (start, end) = day_bounds(day, zone);
    let hours = (end - start).num_hours();
    let elev = |t: DateTime<Utc>| sun_position(&site, t).elevation_deg;
    let power = |t: DateTime<Utc>, e: f64| {
        if e > 0.0 {
            expected_ac_power_kw(&site, &array, a, t)
        } else {
            0.0
        }
    };
    let mut out = DayProfile::default();
    let mut t0 = start;
    let mut e0 = elev(t0);
    let mut p0 = power(t0, e0);
    for i in 0..hours.min(30) {
        let t1 = t0 + Duration::hours(1);
        let tm = t0 + Duration::minutes(30);
        let (e1, em) = (elev(t1), elev(tm));
        out.sun_up_s += match (e0 > 0.0, e1 > 0.0) {
            (true, true) => 3600.0,
            (false, false) => 0.0,
            (false, true) => 3600.0 * e1 / (e1 - e0),
            (true, false) => 3600.0 * e0 / (e0 - e1),
        };
        if em > min_elev {
            out.daylight_mask |= 1 << i;
        }
        let p1 = power(t1, e1);
        if e0 > 0.0 || e1 > 0.0 || em > 0.0 {
            out.clear_kwh_per_kwp += (p0 + 4.0 * power(tm, em) + p1) / 6.0;
        }
        (t0, e0, p0) = (t1, e1, p1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shanxi() -> Orientation {
        Orientation {
            latitude: 37.6,
            longitude: 111.3,
            tilt_deg: 35.0,
            azimuth_deg: 180.0,
            ac_per_dc: 1.0,
        }
    }

    #[test]
    fn a_june_day_in_shanxi_has_about_fourteen_and_a_half_hours_of_sun() {
        let mut sky = Sky::new(chrono_tz::Asia::Shanghai, 10.0);
        let p = sky.day(&shanxi(), NaiveDate::from_ymd_opt(2026, 6, 21).unwrap());
        assert!(
            (14.3 * 3600.0..14.9 * 3600.0).contains(&p.sun_up_s),
            "{}",
            p.sun_up_s
        );
        // Solar noon at 111.3°E is about 12:36 local, sunrise about 05:18 and sunset 19:54:
        // 06:30 and 18:30 are 72 minutes from them (sun about 12° high), 05:30 and 19:30
        // under 25 minutes (under 5°). So the hours 06:00-18:59 are daylight.
        let hours: Vec<u32> = (0..24)
            .filter(|i| p.daylight_mask & (1 << i) != 0)
            .collect();
        assert_eq!(hours, (6..=18).collect::<Vec<_>>());
        // The solar module's worked figure for a clear June day at sea level-ish sites:
        // about 5.9 kWh/kWp at 1,200 m; a little less at the cell's default elevation.
        assert!(
            (5.0..6.2).contains(&p.clear_kwh_per_kwp),
            "{}",
            p.clear_kwh_per_kwp
        );
    }

    #[test]
    fn the_clear_sky_energy_matches_fine_numerical_integration() {
        let o = shanxi();
        let day = NaiveDate::from_ymd_opt(2026, 3, 20).unwrap();
        let p = Sky::new(chrono_tz::Asia::Shanghai, 10.0).day(&o, day);
        let site = Site::new(o.latitude, o.longitude).unwrap();
        let array = PvArray::new(
            1.0,
            Plane {
                tilt_deg: 35.0,
                azimuth_deg: 180.0,
            },
        );
        let (s, e) = day_bounds(day, chrono_tz::Asia::Shanghai);
        let fine = crate::solar::energy::expected_energy_kwh(
            &site,
            &array,
            &Assumptions::default(),
            s,
            e,
            Duration::minutes(1),
        );
        assert!(
            (p.clear_kwh_per_kwp / fine - 1.0).abs() < 0.01,
            "{} vs {fine}",
            p.clear_kwh_per_kwp
        );
    }
}
