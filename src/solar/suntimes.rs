//! When the sun rises, culminates and sets on a local date.
//!
//! Night is never downtime (DOMAIN.md §3), and daily counters, reports and alert windows
//! follow local days, so sunrise and sunset must be right to a minute or two.
//!
//! Found numerically from [`sun_position`] rather than with a closed formula: the solar noon
//! nearest local clock noon by iterating on the hour angle, then bisection on the geometric
//! elevation reaching −0.833° (34′ of standard refraction plus the 16′ solar semi-diameter),
//! the almanac convention that published tables use. The result inherits the position
//! algorithm's accuracy (well under a minute; the tests compare published Beijing times).
//! No horizon dip is added for the site's elevation: in Shanxi's valleys and loess hills the
//! real horizon is terrain, which a dip would not describe.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, Utc};

use super::position::{Site, sun_position};

/// Geometric elevation of the sun's centre at (almanac) sunrise and sunset, degrees.
pub const SUNRISE_ELEVATION_DEG: f64 = -0.833;

/// Sunrise, solar noon and sunset for one local date.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SunTimes {
    /// Sun crossing −0.833° rising; `None` if it does not cross on the morning side of noon
    /// (polar day or polar night, which never happens in China).
    pub sunrise: Option<DateTime<Utc>>,
    /// The sun's transit (highest point) nearest local clock noon of the date.
    pub solar_noon: DateTime<Utc>,
    /// Sun crossing −0.833° setting; `None` as for `sunrise`.
    pub sunset: Option<DateTime<Utc>>,
}

impl SunTimes {
    /// Time between sunrise and sunset; zero when the sun never rises, 24 h when it never sets.
    pub fn day_length(&self, site: &Site) -> Duration {
        match (self.sunrise, self.sunset) {
            (Some(rise), Some(set)) => set - rise,
            _ if sun_position(site, self.solar_noon).true_elevation_deg > SUNRISE_ELEVATION_DEG => {
                Duration::hours(24)
            }
            _ => Duration::zero(),
        }
    }
}

/// Sunrise, solar noon and sunset at `site` on the local `date` of a clock running at
/// `utc_offset`, for China [`china_standard_time`](super::position::china_standard_time)
/// (`FixedOffset::east_opt(8 * 3600)`). Times are returned in UTC; show them with
/// `.with_timezone(&utc_offset)`. A fixed offset, not a zone: China has no daylight saving.
pub fn sun_times(site: &Site, date: NaiveDate, utc_offset: FixedOffset) -> SunTimes {
    let clock_noon = date.and_time(NaiveTime::MIN).and_utc() + Duration::hours(12)
        - Duration::seconds(i64::from(utc_offset.local_minus_utc()));
    let solar_noon = transit_near(site, clock_noon);
    let above = |t: DateTime<Utc>| sun_position(site, t).true_elevation_deg > SUNRISE_ELEVATION_DEG;
    let half_day = Duration::hours(12);
    SunTimes {
        sunrise: crossing(&above, solar_noon - half_day, solar_noon),
        solar_noon,
        sunset: crossing(&above, solar_noon, solar_noon + half_day),
    }
}

/// The transit nearest `start`: step back by the hour angle until it is ~0.
fn transit_near(site: &Site, start: DateTime<Utc>) -> DateTime<Utc> {
    let mut t = start;
    for _ in 0..4 {
        let ha = sun_position(site, t).hour_angle_deg;
        // 15 degrees of hour angle per hour = 240 seconds per degree.
        t -= Duration::milliseconds((ha * 240_000.0).round() as i64);
    }
    t
}

/// The instant in `[from, to]` where `above` changes, to within a second, by bisection;
/// `None` when it has the same value at both ends. Between lower and upper transit the
/// sun's elevation is monotonic, so there is at most one crossing.
fn crossing(
    above: &impl Fn(DateTime<Utc>) -> bool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let start_value = above(from);
    if start_value == above(to) {
        return None;
    }
    let (mut lo, mut hi) = (from, to);
    while hi - lo > Duration::milliseconds(500) {
        let mid = lo + (hi - lo) / 2;
        if above(mid) == start_value {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(lo + (hi - lo) / 2)
}

#[cfg(test)]
mod tests {
    use super::super::position::china_standard_time;
    use super::*;

    fn lvliang() -> Site {
        Site::new(37.6, 111.3)
            .unwrap()
            .with_elevation_m(1200.0)
            .unwrap()
    }

    fn noon_elevation(site: &Site, date: NaiveDate) -> f64 {
        let times = sun_times(site, date, china_standard_time());
        sun_position(site, times.solar_noon).elevation_deg
    }

    fn clock(t: DateTime<Utc>) -> NaiveTime {
        t.with_timezone(&china_standard_time()).time()
    }

    fn minutes_apart(a: NaiveTime, b: NaiveTime) -> i64 {
        (a - b).num_minutes().abs()
    }

    #[test]
    fn noon_sun_at_37_6_north_stands_75_8_degrees_high_at_the_june_solstice() {
        let e = noon_elevation(&lvliang(), NaiveDate::from_ymd_opt(2024, 6, 21).unwrap());
        assert!((e - 75.8).abs() < 0.1, "elevation {e}");
    }

    #[test]
    fn noon_sun_at_37_6_north_stands_29_degrees_high_at_the_december_solstice() {
        let e = noon_elevation(&lvliang(), NaiveDate::from_ymd_opt(2024, 12, 21).unwrap());
        // 90 − 37.6 − 23.44 = 28.96 geometric, plus ~0.03° refraction at 1,200 m.
        assert!((e - 29.0).abs() < 0.1, "elevation {e}");
    }

    #[test]
    fn sun_bears_south_at_solar_noon_east_in_the_morning_and_west_in_the_evening() {
        let site = lvliang();
        let times = sun_times(
            &site,
            NaiveDate::from_ymd_opt(2024, 3, 20).unwrap(),
            china_standard_time(),
        );
        let noon = sun_position(&site, times.solar_noon);
        assert!(
            (noon.azimuth_deg - 180.0).abs() < 0.05,
            "noon {}",
            noon.azimuth_deg
        );
        assert!(noon.hour_angle_deg.abs() < 0.01);
        let morning = sun_position(&site, times.solar_noon - Duration::hours(5));
        let evening = sun_position(&site, times.solar_noon + Duration::hours(5));
        assert!(
            (90.0..135.0).contains(&morning.azimuth_deg),
            "{}",
            morning.azimuth_deg
        );
        assert!(
            (225.0..270.0).contains(&evening.azimuth_deg),
            "{}",
            evening.azimuth_deg
        );
    }

    #[test]
    fn beijing_sunrise_and_sunset_match_published_tables_within_a_minute() {
        // Published CST times: 2021-12-21 07:32:25 / 16:52:46; 2026-07-01 04:49:23 / 19:46:55.
        let beijing = Site::new(39.9042, 116.4074).unwrap();
        let cases = [
            ((2021, 12, 21), (7, 32), (16, 53)),
            ((2026, 7, 1), (4, 49), (19, 47)),
        ];
        for ((y, m, d), (rh, rm), (sh, sm)) in cases {
            let times = sun_times(
                &beijing,
                NaiveDate::from_ymd_opt(y, m, d).unwrap(),
                china_standard_time(),
            );
            let rise = clock(times.sunrise.unwrap());
            let set = clock(times.sunset.unwrap());
            assert!(
                minutes_apart(rise, NaiveTime::from_hms_opt(rh, rm, 0).unwrap()) <= 1,
                "{rise}"
            );
            assert!(
                minutes_apart(set, NaiveTime::from_hms_opt(sh, sm, 0).unwrap()) <= 1,
                "{set}"
            );
        }
    }

    #[test]
    fn taiyuan_sunrise_and_sunset_fall_where_the_sunrise_equation_puts_them() {
        // Taiyuan 37.87°N 112.55°E. Hand calculation with cos H0 = (sin −0.833° − sin φ sin δ)
        // / (cos φ cos δ), δ = ±23.44°, noon = 12:00 + 4 min × (120 − 112.55) − EoT:
        // June 21 05:08 / 19:55 CST (EoT −1.7 min), December 21 07:42 / 17:14 (EoT +1.9 min).
        let taiyuan = Site::new(37.87, 112.55)
            .unwrap()
            .with_elevation_m(780.0)
            .unwrap();
        let cases = [
            ((2024, 6, 21), (5, 8), (19, 55)),
            ((2024, 12, 21), (7, 42), (17, 14)),
        ];
        for ((y, m, d), (rh, rm), (sh, sm)) in cases {
            let times = sun_times(
                &taiyuan,
                NaiveDate::from_ymd_opt(y, m, d).unwrap(),
                china_standard_time(),
            );
            let rise = clock(times.sunrise.unwrap());
            let set = clock(times.sunset.unwrap());
            assert!(
                minutes_apart(rise, NaiveTime::from_hms_opt(rh, rm, 0).unwrap()) <= 3,
                "{rise}"
            );
            assert!(
                minutes_apart(set, NaiveTime::from_hms_opt(sh, sm, 0).unwrap()) <= 3,
                "{set}"
            );
        }
    }

    #[test]
    fn day_length_in_shanxi_runs_from_under_ten_hours_in_winter_to_about_fifteen_in_summer() {
        let site = lvliang();
        let summer = sun_times(
            &site,
            NaiveDate::from_ymd_opt(2024, 6, 21).unwrap(),
            china_standard_time(),
        );
        let winter = sun_times(
            &site,
            NaiveDate::from_ymd_opt(2024, 12, 21).unwrap(),
            china_standard_time(),
        );
        let s = summer.day_length(&site).num_minutes();
        let w = winter.day_length(&site).num_minutes();
        assert!((14 * 60 + 40..15 * 60).contains(&s), "summer {s} min");
        assert!((9 * 60 + 20..9 * 60 + 50).contains(&w), "winter {w} min");
    }

    #[test]
    fn polar_night_and_polar_day_have_no_sunrise_or_sunset() {
        let svalbard = Site::new(78.2, 15.6).unwrap();
        let utc1 = FixedOffset::east_opt(3600).unwrap();
        let night = sun_times(
            &svalbard,
            NaiveDate::from_ymd_opt(2024, 12, 21).unwrap(),
            utc1,
        );
        let day = sun_times(
            &svalbard,
            NaiveDate::from_ymd_opt(2024, 6, 21).unwrap(),
            utc1,
        );
        assert_eq!((night.sunrise, night.sunset), (None, None));
        assert_eq!((day.sunrise, day.sunset), (None, None));
        assert_eq!(night.day_length(&svalbard), Duration::zero());
        assert_eq!(day.day_length(&svalbard), Duration::hours(24));
    }
}
