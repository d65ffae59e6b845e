//! Simulated station output: clear sky, dimmed by generated cloud, through the array model.
//!
//! Simulators and demos need production that looks real (cloudy days, clipping on cold
//! clear noons, nothing at night) and replays from a seed. The weather comes from
//! [`weather`](super::weather); this module turns a clear-sky index into irradiance
//! components, since cloud removes the beam much faster than the diffuse light, and tilted
//! arrays depend on the beam.

use chrono::{DateTime, Utc};

use super::clearsky::Irradiance;
use super::energy::Assumptions;
use super::position::{Site, SunPosition, sun_position};
use super::pv::PvArray;
use super::weather::WeatherGenerator;

/// Clear-sky irradiance dimmed by cloud to a clear-sky index `kc` (0-1).
///
/// GHI scales with `kc`. The beam keeps the share `((kc − 0.35) / 0.65)^1.5` of its clear-sky
/// value (none at or below 0.35); the diffuse is the rest of the global. The ramp is ours,
/// chosen so that `kc = 1` returns the clear sky unchanged and that, at high sun, the
/// diffuse fraction stays within about 0.05 of the Erbs, Klein & Duffie (1982) correlation
/// (*Solar Energy* 28:293) for `kc` 0.3-0.95.
pub fn cloudy_irradiance(clear: &Irradiance, sun: &SunPosition, kc: f64) -> Irradiance {
    let kc = kc.clamp(0.0, 1.0);
    let ghi = kc * clear.ghi;
    let beam_share = ((kc - 0.35) / 0.65).clamp(0.0, 1.0).powf(1.5);
    let dni = beam_share * clear.dni;
    let cos_zenith = sun.zenith_deg().to_radians().cos().max(0.0);
    Irradiance {
        ghi,
        dni,
        dhi: (ghi - dni * cos_zenith).max(0.0),
    }
}

/// Simulated AC power, kW, of `array` at `site` at `instant` under the generator's weather.
pub fn simulated_ac_power_kw(
    site: &Site,
    array: &PvArray,
    assumptions: &Assumptions,
    weather: &WeatherGenerator,
    instant: DateTime<Utc>,
) -> f64 {
    let sun = sun_position(site, instant);
    if sun.elevation_deg <= 0.0 {
        return 0.0;
    }
    let clear = assumptions.clear_sky.irradiance(site, &sun);
    let irradiance = cloudy_irradiance(&clear, &sun, weather.clear_sky_index(instant));
    let ambient = assumptions.climate.ambient_c(instant, &sun);
    array.ac_power_from_irradiance_kw(&sun, &irradiance, ambient)
}

#[cfg(test)]
mod tests {
    use super::super::clearsky::{Plane, extraterrestrial_normal_w_m2};
    use super::super::energy::{expected_ac_power_kw, integrate_energy_kwh};
    use super::super::position::china_standard_time;
    use super::super::suntimes::sun_times;
    use super::*;
    use chrono::{Duration, NaiveDate, TimeZone};

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

    fn june_noon() -> (SunPosition, Irradiance) {
        let date = NaiveDate::from_ymd_opt(2024, 6, 21).unwrap();
        let noon = sun_times(&site(), date, china_standard_time()).solar_noon;
        let sun = sun_position(&site(), noon);
        (
            sun,
            Assumptions::default().clear_sky.irradiance(&site(), &sun),
        )
    }

    /// Erbs, Klein & Duffie (1982) diffuse fraction for a clearness index `kt`.
    fn erbs_diffuse_fraction(kt: f64) -> f64 {
        if kt <= 0.22 {
            1.0 - 0.09 * kt
        } else if kt <= 0.8 {
            0.9511 - 0.1604 * kt + 4.388 * kt.powi(2) - 16.638 * kt.powi(3) + 12.336 * kt.powi(4)
        } else {
            0.165
        }
    }

    #[test]
    fn a_clear_sky_index_of_one_leaves_the_clear_sky_unchanged() {
        let (sun, clear) = june_noon();
        let same = cloudy_irradiance(&clear, &sun, 1.0);
        assert!((same.ghi - clear.ghi).abs() < 1e-9);
        assert!((same.dni - clear.dni).abs() < 1e-9);
        assert!((same.dhi - clear.dhi).abs() < 1e-9);
    }

    #[test]
    fn heavy_cloud_removes_the_beam_and_leaves_only_diffuse_light() {
        let (sun, clear) = june_noon();
        let overcast = cloudy_irradiance(&clear, &sun, 0.3);
        assert_eq!(overcast.dni, 0.0);
        assert!((overcast.ghi - 0.3 * clear.ghi).abs() < 1e-9);
        assert!((overcast.dhi - overcast.ghi).abs() < 1e-9);
    }

    #[test]
    fn diffuse_fraction_under_cloud_stays_near_the_erbs_correlation() {
        let (sun, clear) = june_noon();
        let horizontal_extra =
            extraterrestrial_normal_w_m2(&sun) * sun.zenith_deg().to_radians().cos();
        for kc in [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95] {
            let cloudy = cloudy_irradiance(&clear, &sun, kc);
            let ours = cloudy.dhi / cloudy.ghi;
            let erbs = erbs_diffuse_fraction(cloudy.ghi / horizontal_extra);
            assert!(
                (ours - erbs).abs() < 0.1,
                "kc {kc}: ours {ours:.3}, Erbs {erbs:.3}"
            );
        }
    }

    #[test]
    fn simulated_days_are_dark_at_night_and_never_beat_the_clear_sky_day() {
        // Instant by instant, cloud can lift a dawn array with the sun behind it (more
        // diffuse light); over a whole day it must not.
        let (site, array, assumptions) = (site(), one_kwp_south_35(), Assumptions::default());
        let weather = WeatherGenerator::new(5, china_standard_time());
        for day in 1..=14 {
            let midnight = china_standard_time()
                .with_ymd_and_hms(2024, 8, day, 0, 0, 0)
                .unwrap();
            let from = midnight.with_timezone(&Utc);
            let to = from + Duration::days(1);
            let step = Duration::minutes(10);
            let simulated = integrate_energy_kwh(from, to, step, |t| {
                simulated_ac_power_kw(&site, &array, &assumptions, &weather, t)
            });
            let clear = integrate_energy_kwh(from, to, step, |t| {
                expected_ac_power_kw(&site, &array, &assumptions, t)
            });
            assert!(simulated <= clear, "August {day}: {simulated} > {clear}");
            for hour in [0, 3, 21, 23] {
                let night = from + Duration::hours(hour);
                let p = simulated_ac_power_kw(&site, &array, &assumptions, &weather, night);
                assert_eq!(p, 0.0);
            }
        }
    }

    #[test]
    fn simulated_years_yield_the_typical_shanxi_1300_to_1600_kwh_per_kwp_whatever_the_seed() {
        let (site, array, assumptions) = (site(), one_kwp_south_35(), Assumptions::default());
        let from = china_standard_time()
            .with_ymd_and_hms(2023, 1, 1, 0, 0, 0)
            .unwrap();
        let to = china_standard_time()
            .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
            .unwrap();
        let mut total = 0.0;
        let seeds = [0, 1, 7, 42, 2024, 31_337, 0xDEAD_BEEF, u64::MAX];
        for seed in seeds {
            let weather = WeatherGenerator::new(seed, china_standard_time());
            let kwh = integrate_energy_kwh(
                from.with_timezone(&Utc),
                to.with_timezone(&Utc),
                Duration::minutes(20),
                |t| simulated_ac_power_kw(&site, &array, &assumptions, &weather, t),
            );
            assert!(
                (1300.0..=1600.0).contains(&kwh),
                "seed {seed}: {kwh} kWh/kWp"
            );
            total += kwh;
        }
        let mean = total / seeds.len() as f64;
        assert!((1350.0..=1500.0).contains(&mean), "mean {mean} kWh/kWp");
    }
}
