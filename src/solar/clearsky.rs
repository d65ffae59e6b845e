//! How much sunlight a cloudless sky delivers, on the ground and on a tilted array.
//!
//! Village stations have no pyranometer, so "expected" production is built from a
//! clear-sky model and then compared with peers (see DOMAIN.md §3). The model must be
//! robust and need few inputs; an exact atmosphere is not the goal.
//!
//! # Clear sky: Ineichen-Perez
//!
//! P. Ineichen and R. Perez, "A new airmass independent formulation for the Linke turbidity
//! coefficient", *Solar Energy* 73 (2002) 151-157, with the altitude terms and the beam
//! correction of Perez et al., *Solar Energy* 73 (2002) 307-317 (the form pvlib implements,
//! without the optional "Perez enhancement" factor, as pvlib defaults). Inputs: apparent
//! zenith, the site's elevation (Shanxi stations sit at 500-2,000 m, which matters: thinner
//! air, more beam), and one number for the haze, the Linke turbidity `TL`.
//!
//! `TL` ≈ 2 is a very clean, dry sky; 3-4 typical rural mid-latitude; 5-7 hazy or dusty.
//! The default 3.5 is our assumption \[U\] for the Loess Plateau: drier and higher than the
//! North China Plain, but with spring dust and summer haze. Tune it per county from a few
//! known-clear days of measured output.
//!
//! Air mass is Kasten & Young (1989), *Applied Optics* 28:4735, scaled by the site pressure.
//! Extraterrestrial irradiance is the solar constant 1361 W/m² (Kopp & Lean 2011) over the
//! squared Earth-sun distance from the position algorithm.
//!
//! # Plane of array: Hay-Davies
//!
//! J.E. Hay and J.A. Davies (1980), "Calculation of the solar radiation incident on an
//! inclined surface": beam by the angle of incidence; sky diffuse split into a circumsolar
//! part (weighted by the anisotropy index `DNI / I0`, treated as beam) and an isotropic part
//! (view factor `(1 + cos β) / 2`); ground-reflected `GHI · ρ · (1 − cos β) / 2` with albedo
//! ρ = 0.2 (grass, bare loess). Hay-Davies is the simplest model that does not
//! underestimate south-facing tilted arrays as the isotropic model does (a few percent).

use super::position::{Site, SunPosition};

/// Solar constant, W/m² (Kopp & Lean 2011, TSI at 1 au).
pub const SOLAR_CONSTANT_W_M2: f64 = 1361.0;

/// Default ground albedo: grass, fields and bare loess.
pub const DEFAULT_ALBEDO: f64 = 0.2;

/// Default Linke turbidity for Shanxi (assumption, see the module docs).
pub const DEFAULT_LINKE_TURBIDITY: f64 = 3.5;

/// Irradiance on a horizontal plane and normal to the beam, W/m².
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Irradiance {
    /// Global horizontal irradiance.
    pub ghi: f64,
    /// Direct normal irradiance (beam, measured facing the sun).
    pub dni: f64,
    /// Diffuse horizontal irradiance (sky, excluding the beam).
    pub dhi: f64,
}

impl Irradiance {
    /// No light: night.
    pub const ZERO: Self = Self {
        ghi: 0.0,
        dni: 0.0,
        dhi: 0.0,
    };
}

/// The clear-sky model's one parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClearSky {
    /// Linke turbidity at air mass 2 (dimensionless, typically 2-7; default 3.5).
    pub linke_turbidity: f64,
}

impl Default for ClearSky {
    fn default() -> Self {
        Self {
            linke_turbidity: DEFAULT_LINKE_TURBIDITY,
        }
    }
}

impl ClearSky {
    /// Cloudless-sky GHI, DNI and DHI at `site` for the sun at `sun` (Ineichen-Perez);
    /// zero when the sun is below the horizon.
    pub fn irradiance(&self, site: &Site, sun: &SunPosition) -> Irradiance {
        let Some(air_mass) = relative_air_mass(sun.zenith_deg()) else {
            return Irradiance::ZERO;
        };
        let cos_zenith = sun.zenith_deg().to_radians().cos();
        if cos_zenith <= 0.0 {
            return Irradiance::ZERO;
        }
        let am = air_mass * site.pressure_pa() / super::position::SEA_LEVEL_PRESSURE_PA;
        let tl = self.linke_turbidity;
        let h = site.elevation_m();
        let i0 = extraterrestrial_normal_w_m2(sun);

        let fh1 = (-h / 8000.0).exp();
        let fh2 = (-h / 1250.0).exp();
        let cg1 = 5.09e-5 * h + 0.868;
        let cg2 = 3.92e-5 * h + 0.0387;
        let ghi = (cg1 * i0 * cos_zenith * (-cg2 * am * (fh1 + fh2 * (tl - 1.0))).exp()).max(0.0);

        let b = 0.664 + 0.163 / fh1;
        let beam = (b * i0 * (-0.09 * am * (tl - 1.0)).exp()).max(0.0);
        // Perez et al. 2002's empirical cap keeps the beam consistent with the global.
        let beam_cap = ghi * (1.0 - (0.1 - 0.2 * (-tl).exp()) / (0.1 + 0.882 / fh1)) / cos_zenith;
        let dni = beam.min(beam_cap.max(0.0));
        let dhi = (ghi - dni * cos_zenith).max(0.0);
        Irradiance { ghi, dni, dhi }
    }
}

/// Irradiance reaching the top of the atmosphere, normal to the beam, W/m²
/// (1361 / r², about 1,407 in January and 1,317 in July).
pub fn extraterrestrial_normal_w_m2(sun: &SunPosition) -> f64 {
    SOLAR_CONSTANT_W_M2 / sun.earth_sun_distance_au.powi(2)
}

/// Relative optical air mass at sea level for an apparent zenith angle in degrees
/// (Kasten & Young 1989); `None` with the sun at or below the horizon.
pub fn relative_air_mass(zenith_deg: f64) -> Option<f64> {
    if !(0.0..90.0).contains(&zenith_deg) {
        return None;
    }
    Some(1.0 / (zenith_deg.to_radians().cos() + 0.50572 * (96.07995 - zenith_deg).powf(-1.6364)))
}

/// Orientation of a flat array.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plane {
    /// Tilt from horizontal, degrees (0 flat, 90 vertical). Shanxi fixed arrays: ~30-40°.
    pub tilt_deg: f64,
    /// Compass bearing the array faces, degrees (180 = south, 90 = east, 270 = west).
    pub azimuth_deg: f64,
}

/// Cosine of the angle between the sun's rays and the array's normal (negative when the
/// sun is behind the array).
pub fn cos_angle_of_incidence(sun: &SunPosition, plane: &Plane) -> f64 {
    let zenith = sun.zenith_deg().to_radians();
    let tilt = plane.tilt_deg.to_radians();
    let relative_azimuth = (sun.azimuth_deg - plane.azimuth_deg).to_radians();
    zenith.cos() * tilt.cos() + zenith.sin() * tilt.sin() * relative_azimuth.cos()
}

/// Irradiance on the array plane, by origin, W/m².
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PoaIrradiance {
    /// Direct beam on the plane.
    pub beam: f64,
    /// Sky diffuse on the plane (circumsolar and isotropic parts).
    pub sky_diffuse: f64,
    /// Reflected from the ground in front of the array.
    pub ground: f64,
}

impl PoaIrradiance {
    /// Total plane-of-array irradiance, the `G` of IEC 61724-1.
    pub fn total(&self) -> f64 {
        self.beam + self.sky_diffuse + self.ground
    }
}

/// Transpose horizontal irradiance onto `plane` (Hay-Davies 1980; ground reflection with
/// `albedo`, normally [`DEFAULT_ALBEDO`]). Zero with the sun below the horizon.
pub fn plane_of_array(
    sun: &SunPosition,
    irradiance: &Irradiance,
    plane: &Plane,
    albedo: f64,
) -> PoaIrradiance {
    plane_of_array_on(
        &SunTrig::new(sun),
        irradiance,
        &PlaneTrig::new(plane),
        albedo,
    )
}

/// The sun's side of [`plane_of_array`], worked out once per position for many planes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SunTrig {
    elevation_deg: f64,
    azimuth_deg: f64,
    cos_zenith: f64,
    sin_zenith: f64,
    /// Extraterrestrial normal irradiance, W/m².
    i0: f64,
}

impl SunTrig {
    /// The sines, cosines and extraterrestrial irradiance of `sun`.
    pub fn new(sun: &SunPosition) -> Self {
        let zenith = sun.zenith_deg().to_radians();
        Self {
            elevation_deg: sun.elevation_deg,
            azimuth_deg: sun.azimuth_deg,
            cos_zenith: zenith.cos(),
            sin_zenith: zenith.sin(),
            i0: extraterrestrial_normal_w_m2(sun),
        }
    }
}

/// The plane's side of [`plane_of_array`], worked out once for many sun positions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlaneTrig {
    azimuth_deg: f64,
    cos_tilt: f64,
    sin_tilt: f64,
}

impl PlaneTrig {
    /// The sine and cosine of `plane`'s tilt.
    pub fn new(plane: &Plane) -> Self {
        let tilt = plane.tilt_deg.to_radians();
        Self {
            azimuth_deg: plane.azimuth_deg,
            cos_tilt: tilt.cos(),
            sin_tilt: tilt.sin(),
        }
    }
}

/// [`plane_of_array`] from the sun's and the plane's trigonometry done in advance: the
/// clear-sky expectation of a province meets each sun position with many planes, and the
/// sines and cosines were most of the work. `plane_of_array` is this function, so the
/// figures are the same to the bit.
pub fn plane_of_array_on(
    sun: &SunTrig,
    irradiance: &Irradiance,
    plane: &PlaneTrig,
    albedo: f64,
) -> PoaIrradiance {
    if sun.elevation_deg <= 0.0 || irradiance.ghi <= 0.0 {
        return PoaIrradiance::default();
    }
    // cos_angle_of_incidence, term for term.
    let relative_azimuth = (sun.azimuth_deg - plane.azimuth_deg).to_radians();
    let cos_aoi = (sun.cos_zenith * plane.cos_tilt
        + sun.sin_zenith * plane.sin_tilt * relative_azimuth.cos())
    .max(0.0);
    let cos_zenith = sun.cos_zenith;
    let cos_tilt = plane.cos_tilt;

    // Floor cos(zenith) at cos(89°) so the beam ratio stays finite at sunrise (as pvlib).
    let beam_ratio = cos_aoi / cos_zenith.max(0.01745);
    let anisotropy = (irradiance.dni / sun.i0).clamp(0.0, 1.0);
    let sky_diffuse =
        irradiance.dhi * (anisotropy * beam_ratio + (1.0 - anisotropy) * (1.0 + cos_tilt) / 2.0);

    PoaIrradiance {
        beam: irradiance.dni * cos_aoi,
        sky_diffuse: sky_diffuse.max(0.0),
        ground: irradiance.ghi * albedo * (1.0 - cos_tilt) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::super::position::{china_standard_time, sun_position};
    use super::super::suntimes::sun_times;
    use super::*;
    use chrono::{DateTime, NaiveDate, TimeZone, Utc};

    fn site() -> Site {
        Site::new(37.6, 111.3)
            .unwrap()
            .with_elevation_m(1200.0)
            .unwrap()
    }

    fn south_35() -> Plane {
        Plane {
            tilt_deg: 35.0,
            azimuth_deg: 180.0,
        }
    }

    fn solar_noon(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
        sun_times(&site(), date, china_standard_time()).solar_noon
    }

    #[test]
    fn clear_sky_poa_at_june_noon_on_a_35_degree_south_array_is_950_to_1100_w_per_m2() {
        let sun = sun_position(&site(), solar_noon(2024, 6, 21));
        let irr = ClearSky::default().irradiance(&site(), &sun);
        let poa = plane_of_array(&sun, &irr, &south_35(), DEFAULT_ALBEDO).total();
        assert!((950.0..=1100.0).contains(&poa), "poa {poa}, {irr:?}");
    }

    #[test]
    fn irradiance_and_transposition_agree_with_pvlib_within_half_a_percent() {
        // pvlib-python 0.16.1: SPA position, ineichen(TL 3.5, altitude 1200, dni_extra
        // 1361/r², Kasten-Young air mass) and get_total_irradiance(model="haydavies",
        // albedo 0.2) for this site and a 35° south plane.
        let cases = [
            ("2024-06-21T04:36:00Z", [1033.06, 920.07, 140.95, 1012.09]),
            ("2024-09-01T09:30:00Z", [243.61, 604.98, 59.45, 229.79]),
        ];
        for (instant, expected) in cases {
            let sun = sun_position(&site(), instant.parse().unwrap());
            let irr = ClearSky::default().irradiance(&site(), &sun);
            let poa = plane_of_array(&sun, &irr, &south_35(), DEFAULT_ALBEDO).total();
            for (ours, pvlib) in [irr.ghi, irr.dni, irr.dhi, poa].into_iter().zip(expected) {
                assert!(
                    (ours / pvlib - 1.0).abs() < 0.005,
                    "{instant}: {ours} vs {pvlib}"
                );
            }
        }
    }

    #[test]
    fn clear_sky_components_are_consistent_and_plausible_at_high_sun() {
        let sun = sun_position(&site(), solar_noon(2024, 6, 21));
        let irr = ClearSky::default().irradiance(&site(), &sun);
        let cos_z = sun.zenith_deg().to_radians().cos();
        assert!((irr.ghi - irr.dni * cos_z - irr.dhi).abs() < 1e-6);
        assert!((900.0..1100.0).contains(&irr.ghi), "{irr:?}");
        assert!((800.0..1000.0).contains(&irr.dni), "{irr:?}");
        assert!((60.0..180.0).contains(&irr.dhi), "{irr:?}");
    }

    #[test]
    fn hazier_sky_gives_less_beam_and_more_diffuse() {
        let sun = sun_position(&site(), solar_noon(2024, 4, 15));
        let clean = ClearSky {
            linke_turbidity: 2.5,
        }
        .irradiance(&site(), &sun);
        let hazy = ClearSky {
            linke_turbidity: 5.5,
        }
        .irradiance(&site(), &sun);
        assert!(hazy.ghi < clean.ghi);
        assert!(hazy.dni < clean.dni - 100.0);
        assert!(hazy.dhi > clean.dhi);
    }

    #[test]
    fn higher_site_receives_more_clear_sky_beam() {
        let low = Site::new(37.6, 111.3).unwrap();
        let high = low.with_elevation_m(1500.0).unwrap();
        let t = solar_noon(2024, 9, 1);
        let model = ClearSky::default();
        let at_low = model.irradiance(&low, &sun_position(&low, t));
        let at_high = model.irradiance(&high, &sun_position(&high, t));
        assert!(at_high.dni > at_low.dni + 30.0, "{at_low:?} {at_high:?}");
    }

    #[test]
    fn night_has_no_irradiance_on_any_plane() {
        let midnight = china_standard_time()
            .with_ymd_and_hms(2024, 6, 21, 0, 0, 0)
            .unwrap();
        let sun = sun_position(&site(), midnight.with_timezone(&Utc));
        let irr = ClearSky::default().irradiance(&site(), &sun);
        assert_eq!(irr, Irradiance::ZERO);
        assert_eq!(
            plane_of_array(&sun, &irr, &south_35(), DEFAULT_ALBEDO).total(),
            0.0
        );
    }

    #[test]
    fn air_mass_is_one_overhead_about_two_at_sixty_degrees_and_undefined_below_the_horizon() {
        assert!((relative_air_mass(0.0).unwrap() - 1.0).abs() < 0.001);
        assert!((relative_air_mass(60.0).unwrap() - 2.0).abs() < 0.01);
        assert!(relative_air_mass(89.9).unwrap() > 25.0);
        assert_eq!(relative_air_mass(90.5), None);
    }

    #[test]
    fn flat_plane_receives_exactly_the_horizontal_global() {
        let sun = sun_position(&site(), solar_noon(2024, 3, 20));
        let irr = ClearSky::default().irradiance(&site(), &sun);
        let flat = Plane {
            tilt_deg: 0.0,
            azimuth_deg: 180.0,
        };
        let poa = plane_of_array(&sun, &irr, &flat, DEFAULT_ALBEDO);
        assert!((poa.total() - irr.ghi).abs() < 1e-6, "{poa:?} vs {irr:?}");
        assert_eq!(poa.ground, 0.0);
    }

    #[test]
    fn south_tilt_gains_most_in_winter_and_a_north_facing_array_gets_no_beam_at_noon() {
        let sun = sun_position(&site(), solar_noon(2024, 12, 21));
        let irr = ClearSky::default().irradiance(&site(), &sun);
        let south = plane_of_array(&sun, &irr, &south_35(), DEFAULT_ALBEDO).total();
        assert!(south > 1.5 * irr.ghi, "south {south} ghi {}", irr.ghi);
        let north = Plane {
            tilt_deg: 70.0,
            azimuth_deg: 0.0,
        };
        let poa = plane_of_array(&sun, &irr, &north, DEFAULT_ALBEDO);
        assert_eq!(poa.beam, 0.0);
        assert!(poa.sky_diffuse > 0.0 && poa.ground > 0.0);
    }

    #[test]
    fn angle_of_incidence_is_zero_when_the_array_faces_the_sun() {
        let sun = sun_position(&site(), solar_noon(2024, 6, 21));
        let facing = Plane {
            tilt_deg: sun.zenith_deg(),
            azimuth_deg: sun.azimuth_deg,
        };
        assert!((cos_angle_of_incidence(&sun, &facing) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn transposition_from_prepared_trigonometry_matches_the_direct_formula_to_the_bit() {
        // The pre-split formula, kept here as the reference.
        let direct = |sun: &SunPosition, irr: &Irradiance, plane: &Plane| {
            let cos_aoi = cos_angle_of_incidence(sun, plane).max(0.0);
            let cos_zenith = sun.zenith_deg().to_radians().cos();
            let cos_tilt = plane.tilt_deg.to_radians().cos();
            let beam_ratio = cos_aoi / cos_zenith.max(0.01745);
            let anisotropy = (irr.dni / extraterrestrial_normal_w_m2(sun)).clamp(0.0, 1.0);
            let sky =
                irr.dhi * (anisotropy * beam_ratio + (1.0 - anisotropy) * (1.0 + cos_tilt) / 2.0);
            [
                irr.dni * cos_aoi,
                sky.max(0.0),
                irr.ghi * DEFAULT_ALBEDO * (1.0 - cos_tilt) / 2.0,
            ]
        };
        let noon = solar_noon(2024, 3, 20);
        for minutes in (-420..=420).step_by(35) {
            let sun = sun_position(&site(), noon + chrono::Duration::minutes(minutes));
            let irr = ClearSky::default().irradiance(&site(), &sun);
            let prepared = SunTrig::new(&sun);
            for tilt in [0.0, 17.5, 30.0, 35.0, 90.0] {
                for azimuth in [90.0, 175.0, 180.0, 190.0, 270.0] {
                    let plane = Plane {
                        tilt_deg: tilt,
                        azimuth_deg: azimuth,
                    };
                    let poa =
                        plane_of_array_on(&prepared, &irr, &PlaneTrig::new(&plane), DEFAULT_ALBEDO);
                    let want = if sun.elevation_deg <= 0.0 || irr.ghi <= 0.0 {
                        [0.0; 3]
                    } else {
                        direct(&sun, &irr, &plane)
                    };
                    assert_eq!(
                        [poa.beam, poa.sky_diffuse, poa.ground].map(f64::to_bits),
                        want.map(f64::to_bits),
                        "{minutes} min, tilt {tilt}, azimuth {azimuth}"
                    );
                    assert_eq!(poa, plane_of_array(&sun, &irr, &plane, DEFAULT_ALBEDO));
                }
            }
        }
    }
}
