//! Expected output over time: clear-sky power at an instant and energy over an interval.
//!
//! This is the "modelled" side of the performance index (measured ÷ modelled energy,
//! DOMAIN.md §3) for stations without a pyranometer: sun position, clear sky, transposition,
//! then the array formula of [`pv`](super::pv), with a default air temperature where none is
//! measured. Energy is integrated numerically so that every step of the chain stays simple.

use chrono::{DateTime, Datelike, Duration, Utc};

use super::clearsky::ClearSky;
use super::position::{Site, SunPosition, sun_position};
use super::pv::PvArray;

/// A smooth default air temperature: an annual cosine plus a daily cosine in solar time.
///
/// Defaults are for central Shanxi (~37-38°N, ~800-1,200 m; Taiyuan normals about −5 °C in
/// January and 24 °C in July, daily range about 12 °C). This is an assumption \[U\] for
/// when no measured temperature is available; cell temperature moves output by only
/// 0.35 %/°C, so a few degrees of error here matter little.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Climate {
    /// Annual mean air temperature, °C.
    pub annual_mean_c: f64,
    /// Half the difference between the warmest and coldest monthly means, °C.
    pub annual_amplitude_c: f64,
    /// Day of year (1-366) of the coldest daily mean.
    pub coldest_day_of_year: f64,
    /// Half the typical daily range (max − min), °C.
    pub diurnal_amplitude_c: f64,
    /// Solar hour of the daily maximum.
    pub warmest_solar_hour: f64,
}

impl Default for Climate {
    fn default() -> Self {
        Self {
            annual_mean_c: 10.0,
            annual_amplitude_c: 14.5,
            coldest_day_of_year: 17.0,
            diurnal_amplitude_c: 6.0,
            warmest_solar_hour: 15.0,
        }
    }
}

impl Climate {
    /// Modelled air temperature, °C, at `instant` with the sun at `sun` (for its solar hour).
    pub fn ambient_c(&self, instant: DateTime<Utc>, sun: &SunPosition) -> f64 {
        use std::f64::consts::TAU;
        let day = f64::from(instant.ordinal());
        let seasonal = -(TAU * (day - self.coldest_day_of_year) / 365.25).cos();
        let daily = (TAU * (sun.solar_hour() - self.warmest_solar_hour) / 24.0).cos();
        self.annual_mean_c + self.annual_amplitude_c * seasonal + self.diurnal_amplitude_c * daily
    }
}

/// What the expected-output model assumes about the sky and the air.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Assumptions {
    /// Clear-sky model parameter (Linke turbidity).
    pub clear_sky: ClearSky,
    /// Default air temperature curve.
    pub climate: Climate,
}

/// Clear-sky AC power, kW, of `array` at `site` at `instant`; zero at night.
pub fn expected_ac_power_kw(
    site: &Site,
    array: &PvArray,
    assumptions: &Assumptions,
    instant: DateTime<Utc>,
) -> f64 {
    let sun = sun_position(site, instant);
    if sun.elevation_deg <= 0.0 {
        return 0.0;
    }
    let irradiance = assumptions.clear_sky.irradiance(site, &sun);
    let ambient = assumptions.climate.ambient_c(instant, &sun);
    array.ac_power_from_irradiance_kw(&sun, &irradiance, ambient)
}

/// Clear-sky AC energy, kWh, of `array` at `site` over `[from, to)`, sampled every `step`.
pub fn expected_energy_kwh(
    site: &Site,
    array: &PvArray,
    assumptions: &Assumptions,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    step: Duration,
) -> f64 {
    integrate_energy_kwh(from, to, step, |t| {
        expected_ac_power_kw(site, array, assumptions, t)
    })
}

/// Energy, kWh, of a power curve in kW over `[from, to)`: the midpoint rule with steps of
/// `step` (the last one shortened to end at `to`). Midpoints keep sunrise and sunset from
/// biasing the sum. A step under one second is taken as one second; an empty or reversed
/// interval gives 0. Five to fifteen minutes is ample for daily and monthly totals.
pub fn integrate_energy_kwh(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    step: Duration,
    mut power_kw: impl FnMut(DateTime<Utc>) -> f64,
) -> f64 {
    let step = step.max(Duration::seconds(1));
    let mut kwh = 0.0;
    let mut start = from;
    while start < to {
        let end = (start + step).min(to);
        let width = end - start;
        kwh += power_kw(start + width / 2) * width.num_milliseconds() as f64 / 3_600_000.0;
        start = end;
    }
    kwh
}

#[cfg(test)]
mod tests {
    use super::super::clearsky::Plane;
    use super::super::position::china_standard_time;
    use super::*;
    use chrono::TimeZone;

    fn site() -> Site {
        Site::new(37.6, 111.3)
            .unwrap()
            .with_elevation_m(1200.0)
            .unwrap()
    }

    fn one_kwp_south_35() -> PvArray {
        PvArray::new(
            1.0,
            Plane {
                tilt_deg: 35.0,
                azimuth_deg: 180.0,
            },
        )
    }

    fn cst(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        china_standard_time()
            .with_ymd_and_hms(y, m, d, h, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_worked_example_in_the_crate_docs_gives_about_227_kw() {
        let mut array = one_kwp_south_35();
        array.dc_kwp = 300.0;
        array.ac_kw = 250.0;
        let date = chrono::NaiveDate::from_ymd_opt(2024, 6, 21).unwrap();
        let noon = super::super::suntimes::sun_times(&site(), date, china_standard_time());
        let p = expected_ac_power_kw(&site(), &array, &Assumptions::default(), noon.solar_noon);
        assert!((p - 227.0).abs() < 2.0, "{p} kW");
        // The same station with only 200 kW of inverters clips at noon.
        array.ac_kw = 200.0;
        let clipped =
            expected_ac_power_kw(&site(), &array, &Assumptions::default(), noon.solar_noon);
        assert_eq!(clipped, 200.0);
    }

    #[test]
    fn night_gives_zero_power() {
        let array = one_kwp_south_35();
        let assumptions = Assumptions::default();
        for hour in [0, 2, 4, 21, 23] {
            let p = expected_ac_power_kw(&site(), &array, &assumptions, cst(2024, 6, 21, hour));
            assert_eq!(p, 0.0, "hour {hour}");
        }
    }

    #[test]
    fn clear_june_day_yields_five_and_a_half_to_seven_and_a_half_kwh_per_kwp() {
        let (from, to) = (cst(2024, 6, 21, 0), cst(2024, 6, 22, 0));
        let kwh = expected_energy_kwh(
            &site(),
            &one_kwp_south_35(),
            &Assumptions::default(),
            from,
            to,
            Duration::minutes(5),
        );
        assert!((5.5..=7.5).contains(&kwh), "{kwh} kWh");
    }

    #[test]
    fn clear_december_day_on_a_south_tilt_still_yields_several_kwh_per_kwp() {
        let (from, to) = (cst(2024, 12, 21, 0), cst(2024, 12, 22, 0));
        let kwh = expected_energy_kwh(
            &site(),
            &one_kwp_south_35(),
            &Assumptions::default(),
            from,
            to,
            Duration::minutes(5),
        );
        assert!((4.0..=6.0).contains(&kwh), "{kwh} kWh");
    }

    #[test]
    fn energy_does_not_depend_much_on_the_step() {
        let (from, to) = (cst(2024, 4, 10, 0), cst(2024, 4, 11, 0));
        let run = |minutes| {
            let step = Duration::minutes(minutes);
            let (s, a) = (site(), one_kwp_south_35());
            expected_energy_kwh(&s, &a, &Assumptions::default(), from, to, step)
        };
        let fine = run(1);
        assert!(
            (run(15) - fine).abs() / fine < 0.005,
            "{} vs {fine}",
            run(15)
        );
    }

    #[test]
    fn integration_of_a_constant_power_is_exact_even_with_a_ragged_last_step() {
        let from = cst(2024, 1, 1, 9);
        let kwh = integrate_energy_kwh(
            from,
            from + Duration::hours(3),
            Duration::minutes(7),
            |_| 2.0,
        );
        assert!((kwh - 6.0).abs() < 1e-9);
        assert_eq!(
            integrate_energy_kwh(from, from, Duration::minutes(7), |_| 2.0),
            0.0
        );
        assert_eq!(
            integrate_energy_kwh(from, from - Duration::hours(1), Duration::zero(), |_| 2.0),
            0.0
        );
    }

    #[test]
    fn default_climate_is_freezing_in_january_mornings_and_hot_on_july_afternoons() {
        let climate = Climate::default();
        let at = |t: DateTime<Utc>| climate.ambient_c(t, &sun_position(&site(), t));
        let january_dawn = at(cst(2024, 1, 17, 7));
        let july_afternoon = at(cst(2024, 7, 17, 16));
        assert!((-16.0..-6.0).contains(&january_dawn), "{january_dawn}");
        assert!((27.0..33.0).contains(&july_afternoon), "{july_afternoon}");
    }
}
