//! Where the sun is, seen from a station.
//!
//! Most village stations have no pyranometer, so every "expected" figure (clear-sky
//! irradiance, time availability, night-is-not-downtime) starts from the sun's position.
//!
//! # Algorithm
//!
//! The NOAA Global Monitoring Laboratory solar calculator ("General Solar Position
//! Calculations" and the NOAA_Solar_Calculations spreadsheet), which is the low-precision
//! solar theory of J. Meeus, *Astronomical Algorithms* (2nd ed., 1998), chapters 22 and 25:
//! geometric mean longitude and anomaly, equation of centre, nutation and aberration in
//! longitude, corrected obliquity, and the equation of time. NOAA states about 1 arcminute
//! (0.017°) for 1800-2100; the tests check 0.01° against the NREL SPA paper's worked example
//! (it lands within 0.003°). UTC stands in for dynamical time: ΔT ≈ 69 s moves the sun by
//! less than 0.001°.
//!
//! Atmospheric refraction is the NOAA spreadsheet's piecewise formula (after Sæmundsson and
//! Meeus ch. 16), scaled by the site's standard-atmosphere pressure: at 1,200 m it bends the
//! sun about 13% less than at sea level. That scaling is the only use of the site's
//! elevation here; parallax (< 0.003°) is ignored.

use std::fmt;

use chrono::{DateTime, FixedOffset, Timelike, Utc};

/// Standard sea-level air pressure, pascals.
pub const SEA_LEVEL_PRESSURE_PA: f64 = 101_325.0;

/// China Standard Time (UTC+8), the clock every Chinese station and inverter is set to.
pub fn china_standard_time() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// A place on the ground: where a station stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Site {
    latitude_deg: f64,
    longitude_deg: f64,
    elevation_m: f64,
}

/// Why a [`Site`] was refused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SiteError {
    /// Latitude not a number in −90..=90 degrees.
    Latitude(f64),
    /// Longitude not a number in −180..=180 degrees.
    Longitude(f64),
    /// Elevation not a number in −500..=9,000 metres.
    Elevation(f64),
}

impl fmt::Display for SiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Latitude(v) => write!(
                f,
                "latitude {v} is outside -90..=90 degrees (are latitude and longitude swapped?)"
            ),
            Self::Longitude(v) => write!(f, "longitude {v} is outside -180..=180 degrees"),
            Self::Elevation(v) => write!(f, "elevation {v} m is outside -500..=9000 m"),
        }
    }
}

impl std::error::Error for SiteError {}

impl Site {
    /// A site at sea level. Latitude is positive north, longitude positive east, in degrees.
    pub fn new(latitude_deg: f64, longitude_deg: f64) -> Result<Self, SiteError> {
        if !(-90.0..=90.0).contains(&latitude_deg) {
            return Err(SiteError::Latitude(latitude_deg));
        }
        if !(-180.0..=180.0).contains(&longitude_deg) {
            return Err(SiteError::Longitude(longitude_deg));
        }
        Ok(Self {
            latitude_deg,
            longitude_deg,
            elevation_m: 0.0,
        })
    }

    /// The same site at `elevation_m` metres above sea level (Shanxi stations: 500-2,000 m).
    pub fn with_elevation_m(self, elevation_m: f64) -> Result<Self, SiteError> {
        if !(-500.0..=9000.0).contains(&elevation_m) {
            return Err(SiteError::Elevation(elevation_m));
        }
        Ok(Self {
            elevation_m,
            ..self
        })
    }

    /// Latitude, degrees north.
    pub fn latitude_deg(&self) -> f64 {
        self.latitude_deg
    }

    /// Longitude, degrees east.
    pub fn longitude_deg(&self) -> f64 {
        self.longitude_deg
    }

    /// Elevation above sea level, metres.
    pub fn elevation_m(&self) -> f64 {
        self.elevation_m
    }

    /// Standard-atmosphere air pressure at the site's elevation, pascals
    /// (ISO 2533 / ICAO barometric formula; about 88 kPa at 1,200 m).
    pub fn pressure_pa(&self) -> f64 {
        SEA_LEVEL_PRESSURE_PA * (1.0 - 2.25577e-5 * self.elevation_m).powf(5.25588)
    }
}

/// The sun seen from a site at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SunPosition {
    /// Apparent elevation above the horizon (refraction included), degrees; negative at night.
    pub elevation_deg: f64,
    /// Geometric elevation (no refraction), degrees.
    pub true_elevation_deg: f64,
    /// Compass bearing of the sun, degrees clockwise from north: 90 east, 180 south, 270 west.
    pub azimuth_deg: f64,
    /// Solar declination, degrees.
    pub declination_deg: f64,
    /// Hour angle, degrees in −180..180: negative before solar noon, 15° per hour.
    pub hour_angle_deg: f64,
    /// Equation of time (apparent minus mean solar time), minutes.
    pub equation_of_time_min: f64,
    /// Earth-sun distance, astronomical units (0.983 in January, 1.017 in July).
    pub earth_sun_distance_au: f64,
}

impl SunPosition {
    /// Apparent zenith angle, degrees.
    pub fn zenith_deg(&self) -> f64 {
        90.0 - self.elevation_deg
    }

    /// Local apparent solar time, hours in 0..24 (12 = solar noon).
    pub fn solar_hour(&self) -> f64 {
        12.0 + self.hour_angle_deg / 15.0
    }
}

/// Julian day number (fractional) of a UTC instant.
fn julian_day(instant: DateTime<Utc>) -> f64 {
    instant.timestamp() as f64 / 86_400.0
        + f64::from(instant.timestamp_subsec_nanos()) / 86_400e9
        + 2_440_587.5
}

/// Atmospheric refraction at standard pressure (1 atm, 10 °C), degrees, for a geometric
/// elevation in degrees: the NOAA spreadsheet's piecewise fit.
fn standard_refraction_deg(elevation_deg: f64) -> f64 {
    let e = elevation_deg;
    let arcsec = if e > 85.0 {
        0.0
    } else if e > 5.0 {
        let t = e.to_radians().tan();
        58.1 / t - 0.07 / t.powi(3) + 0.000086 / t.powi(5)
    } else if e > -0.575 {
        1735.0 + e * (-518.2 + e * (103.4 + e * (-12.79 + e * 0.711)))
    } else {
        -20.772 / e.to_radians().tan()
    };
    arcsec / 3600.0
}

/// Where the sun is, seen from `site` at `instant` (NOAA / Meeus; see the module docs).
pub fn sun_position(site: &Site, instant: DateTime<Utc>) -> SunPosition {
    sun_position_from(site, &Ephemeris::at(instant))
}

/// The sun's place at one instant, the same for every site: the part of [`sun_position`]
/// that does not depend on where it is seen from. Worked out once per instant where many
/// sites need the sun at the same instants (the assessment's sky: hundreds of cells).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ephemeris {
    /// Declination, radians.
    decl: f64,
    eot_min: f64,
    distance_au: f64,
    /// Minutes since UTC midnight.
    utc_minutes: f64,
}

impl Ephemeris {
    pub fn at(instant: DateTime<Utc>) -> Self {
        // Julian centuries since J2000.0.
        let t = (julian_day(instant) - 2_451_545.0) / 36_525.0;

        let mean_long = (280.46646 + t * (36000.76983 + t * 0.0003032)).rem_euclid(360.0);
        let mean_anom = 357.52911 + t * (35999.05029 - 0.0001537 * t);
        let ecc = 0.016708634 - t * (0.000042037 + 0.0000001267 * t);
        let m = mean_anom.to_radians();
        let centre = m.sin() * (1.914602 - t * (0.004817 + 0.000014 * t))
            + (2.0 * m).sin() * (0.019993 - 0.000101 * t)
            + (3.0 * m).sin() * 0.000289;
        let true_long = mean_long + centre;
        let true_anom = mean_anom + centre;
        let distance_au =
            1.000001018 * (1.0 - ecc * ecc) / (1.0 + ecc * true_anom.to_radians().cos());

        // Nutation and aberration, then the obliquity of the ecliptic.
        let omega = (125.04 - 1934.136 * t).to_radians();
        let app_long = (true_long - 0.00569 - 0.00478 * omega.sin()).to_radians();
        let mean_obliq =
            23.0 + (26.0 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60.0) / 60.0;
        let obliq = (mean_obliq + 0.00256 * omega.cos()).to_radians();
        let decl = (obliq.sin() * app_long.sin()).asin();

        let y = (obliq / 2.0).tan().powi(2);
        let l0 = mean_long.to_radians();
        let eot_min = 4.0
            * (y * (2.0 * l0).sin() - 2.0 * ecc * m.sin()
                + 4.0 * ecc * y * m.sin() * (2.0 * l0).cos()
                - 0.5 * y * y * (4.0 * l0).sin()
                - 1.25 * ecc * ecc * (2.0 * m).sin())
            .to_degrees();

        let utc_minutes = f64::from(instant.num_seconds_from_midnight()) / 60.0
            + f64::from(instant.nanosecond() % 1_000_000_000) / 60e9;
        Self {
            decl,
            eot_min,
            distance_au,
            utc_minutes,
        }
    }
}

/// [`sun_position`] at the instant of `eph`.
pub fn sun_position_from(site: &Site, eph: &Ephemeris) -> SunPosition {
    let Ephemeris {
        decl,
        eot_min,
        distance_au: distance,
        ..
    } = *eph;
    let (hour_angle_deg, true_elevation_deg) = hour_angle_and_true_elevation(site, eph);
    let lat = site.latitude_deg.to_radians();
    let ha = hour_angle_deg.to_radians();
    // atan2 gives the bearing from south, positive westward; +180° makes it a compass bearing.
    let westward = ha.sin();
    let northward = ha.cos() * lat.sin() - decl.tan() * lat.cos();
    let azimuth_deg = (westward.atan2(northward).to_degrees() + 180.0).rem_euclid(360.0);

    SunPosition {
        elevation_deg: apparent_elevation(site.pressure_pa(), true_elevation_deg),
        true_elevation_deg,
        azimuth_deg,
        declination_deg: decl.to_degrees(),
        hour_angle_deg,
        equation_of_time_min: eot_min,
        earth_sun_distance_au: distance,
    }
}

/// The apparent elevation of [`sun_position_from`], degrees, to the bit, without the
/// azimuth: what counting daylight needs, at a third less work. `pressure_pa` is
/// [`Site::pressure_pa`], passed in so that a caller with many instants works it out once.
pub fn elevation_from(site: &Site, pressure_pa: f64, eph: &Ephemeris) -> f64 {
    apparent_elevation(pressure_pa, hour_angle_and_true_elevation(site, eph).1)
}

/// Hour angle and geometric elevation, degrees.
fn hour_angle_and_true_elevation(site: &Site, eph: &Ephemeris) -> (f64, f64) {
    let true_solar_min =
        (eph.utc_minutes + eph.eot_min + 4.0 * site.longitude_deg).rem_euclid(1440.0);
    let hour_angle_deg = true_solar_min / 4.0 - 180.0;
    let lat = site.latitude_deg.to_radians();
    let ha = hour_angle_deg.to_radians();
    let decl = eph.decl;
    let cos_zenith = (lat.sin() * decl.sin() + lat.cos() * decl.cos() * ha.cos()).clamp(-1.0, 1.0);
    (hour_angle_deg, 90.0 - cos_zenith.acos().to_degrees())
}

/// Geometric elevation plus refraction at the site's pressure, degrees.
fn apparent_elevation(pressure_pa: f64, true_elevation_deg: f64) -> f64 {
    let pressure_ratio = pressure_pa / SEA_LEVEL_PRESSURE_PA;
    true_elevation_deg + pressure_ratio * standard_refraction_deg(true_elevation_deg)
}

/// Whether the sun's apparent elevation at `site` is above `min_elevation_deg` at `instant`.
///
/// Availability metrics use this where no irradiance sensor exists; a threshold of a few
/// degrees (not 0) keeps dawn and dusk, when inverters have not yet woken, out of "daylight".
pub fn is_daylight(instant: DateTime<Utc>, site: &Site, min_elevation_deg: f64) -> bool {
    sun_position(site, instant).elevation_deg > min_elevation_deg
}

#[cfg(test)]
mod tests {
    use super::super::suntimes::sun_times;
    use super::*;
    use chrono::{Duration, NaiveDate, TimeZone};

    fn cst(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        china_standard_time()
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn lvliang() -> Site {
        Site::new(37.6, 111.3)
            .unwrap()
            .with_elevation_m(1200.0)
            .unwrap()
    }

    #[test]
    fn sun_is_well_below_the_horizon_at_local_midnight_all_year() {
        for month in 1..=12 {
            let p = sun_position(&lvliang(), cst(2024, month, 15, 0, 0));
            assert!(
                p.elevation_deg < -20.0,
                "month {month}: {}",
                p.elevation_deg
            );
        }
    }

    #[test]
    fn position_matches_the_nrel_spa_worked_example_within_a_hundredth_of_a_degree() {
        // Reda & Andreas (2004), NREL/TP-560-34302, Table A5.1: Golden, Colorado,
        // 2003-10-17 12:30:30 at UTC−7; topocentric zenith 50.11162°, azimuth 194.34024°.
        let site = Site::new(39.742476, -105.1786)
            .unwrap()
            .with_elevation_m(1830.14)
            .unwrap();
        let t = Utc.with_ymd_and_hms(2003, 10, 17, 19, 30, 30).unwrap();
        let p = sun_position(&site, t);
        assert!(
            (p.zenith_deg() - 50.11162).abs() < 0.01,
            "zenith {}",
            p.zenith_deg()
        );
        assert!(
            (p.azimuth_deg - 194.34024).abs() < 0.01,
            "azimuth {}",
            p.azimuth_deg
        );
    }

    #[test]
    fn declination_and_distance_follow_the_seasons() {
        let site = lvliang();
        let june = sun_position(&site, cst(2024, 6, 21, 12, 0));
        let december = sun_position(&site, cst(2024, 12, 21, 12, 0));
        assert!((june.declination_deg - 23.44).abs() < 0.02);
        assert!((december.declination_deg + 23.44).abs() < 0.02);
        let january = sun_position(&site, cst(2024, 1, 3, 12, 0));
        let july = sun_position(&site, cst(2024, 7, 5, 12, 0));
        assert!((january.earth_sun_distance_au - 0.9833).abs() < 0.0005);
        assert!((july.earth_sun_distance_au - 1.0167).abs() < 0.0005);
    }

    #[test]
    fn is_daylight_is_true_at_noon_false_at_night_and_honours_the_threshold() {
        let site = lvliang();
        assert!(is_daylight(cst(2024, 12, 21, 12, 30), &site, 5.0));
        assert!(!is_daylight(cst(2024, 12, 21, 22, 0), &site, 0.0));
        // About 25 minutes after sunrise in December the sun is near 3-4°.
        let times = sun_times(
            &site,
            NaiveDate::from_ymd_opt(2024, 12, 21).unwrap(),
            china_standard_time(),
        );
        let early = times.sunrise.unwrap() + Duration::minutes(10);
        assert!(is_daylight(early, &site, 0.0));
        assert!(!is_daylight(early, &site, 5.0));
    }

    #[test]
    fn site_refuses_swapped_or_impossible_coordinates_with_a_clear_message() {
        let err = Site::new(111.3, 37.6).unwrap_err();
        assert_eq!(err, SiteError::Latitude(111.3));
        assert!(err.to_string().contains("swapped"));
        assert!(matches!(
            Site::new(37.6, 200.0),
            Err(SiteError::Longitude(_))
        ));
        assert!(matches!(
            Site::new(f64::NAN, 111.0),
            Err(SiteError::Latitude(_))
        ));
        let site = Site::new(37.6, 111.3).unwrap();
        assert!(matches!(
            site.with_elevation_m(12_000.0),
            Err(SiteError::Elevation(_))
        ));
    }

    #[test]
    fn pressure_falls_with_elevation_as_in_the_standard_atmosphere() {
        let sea = Site::new(37.6, 111.3).unwrap();
        let high = sea.with_elevation_m(1500.0).unwrap();
        assert!((sea.pressure_pa() - 101_325.0).abs() < 1.0);
        // ICAO standard atmosphere: 84.56 kPa at 1,500 m.
        assert!(
            (high.pressure_pa() - 84_560.0).abs() < 100.0,
            "{}",
            high.pressure_pa()
        );
    }
}
