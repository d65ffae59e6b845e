//! What a station's array and inverters turn irradiance into: the AC power formula.
//!
//! The model is deliberately the one a county engineer can redo on paper (see the crate
//! docs, "The expected-output model"): rated power × irradiance ratio × temperature factor
//! × one lumped system efficiency, capped at the inverter rating. Anything finer (IAM,
//! spectral, mismatch, inverter curves) would need data village stations do not have.
//!
//! Cell temperature: the NOCT model (Ross 1976; the form in IEC 61215 / Duffie & Beckman,
//! *Solar Engineering of Thermal Processes*, §23.3) `T_cell = T_amb + (NOCT − 20) / 800 · G`,
//! or Faiman's (2008, *Prog. Photovolt.* 16:307) `T = T_amb + G / (U0 + U1 · wind)` where a
//! wind speed is known. Without a measured air temperature,
//! [`Climate`](super::energy::Climate) gives a smooth seasonal-plus-daily curve.

use std::fmt;

use super::clearsky::{DEFAULT_ALBEDO, Irradiance, Plane, plane_of_array};
use super::position::SunPosition;

/// Default temperature coefficient of power, per °C (typical mono/poly c-Si).
pub const DEFAULT_GAMMA_PER_C: f64 = -0.0035;

/// Default lumped system efficiency: soiling, wiring, mismatch, inverter, transformer.
pub const DEFAULT_SYSTEM_EFFICIENCY: f64 = 0.85;

/// How cell temperature follows the weather.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellTemperatureModel {
    /// Nominal operating cell temperature (°C at 800 W/m², 20 °C air, 1 m/s wind).
    Noct {
        /// NOCT from the module datasheet, °C (typically 42-48).
        noct_c: f64,
    },
    /// Faiman's two-coefficient heat-loss model.
    Faiman {
        /// Constant heat-loss coefficient, W/(m²·K) (open rack c-Si: 25).
        u0: f64,
        /// Wind heat-loss coefficient, W·s/(m³·K) (open rack c-Si: 6.84).
        u1: f64,
        /// Wind speed at the array, m/s.
        wind_m_s: f64,
    },
}

impl Default for CellTemperatureModel {
    fn default() -> Self {
        Self::Noct { noct_c: 45.0 }
    }
}

impl CellTemperatureModel {
    /// Cell temperature, °C, for air at `ambient_c` and `poa_w_m2` on the array.
    pub fn cell_temperature_c(&self, ambient_c: f64, poa_w_m2: f64) -> f64 {
        let g = poa_w_m2.max(0.0);
        match *self {
            Self::Noct { noct_c } => ambient_c + (noct_c - 20.0) / 800.0 * g,
            Self::Faiman { u0, u1, wind_m_s } => ambient_c + g / (u0 + u1 * wind_m_s.max(0.0)),
        }
    }
}

/// A station's array and inverters, as far as expected output is concerned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PvArray {
    /// DC (nameplate module) rating, kWp: the P0 of IEC 61724-1.
    pub dc_kwp: f64,
    /// Total inverter AC rating, kW: output is capped here.
    pub ac_kw: f64,
    /// Tilt and compass orientation of the modules.
    pub plane: Plane,
    /// Temperature coefficient of power, per °C (negative).
    pub gamma_per_c: f64,
    /// Everything else lumped into one factor, 0-1.
    pub system_efficiency: f64,
    /// Ground reflectance in front of the array.
    pub albedo: f64,
    /// Cell temperature model.
    pub cell_temperature: CellTemperatureModel,
}

/// A [`PvArray`] setting outside its physical range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArrayError {
    /// Name of the setting.
    pub field: &'static str,
    /// The value given.
    pub value: f64,
    /// What is accepted.
    pub expected: &'static str,
}

impl fmt::Display for ArrayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pv array {} = {}: expected {}",
            self.field, self.value, self.expected
        )
    }
}

impl std::error::Error for ArrayError {}

impl PvArray {
    /// An array of `dc_kwp` facing `plane`, AC rating equal to the DC rating (change
    /// `ac_kw` for the real inverter capacity) and the documented defaults otherwise.
    pub fn new(dc_kwp: f64, plane: Plane) -> Self {
        Self {
            dc_kwp,
            ac_kw: dc_kwp,
            plane,
            gamma_per_c: DEFAULT_GAMMA_PER_C,
            system_efficiency: DEFAULT_SYSTEM_EFFICIENCY,
            albedo: DEFAULT_ALBEDO,
            cell_temperature: CellTemperatureModel::default(),
        }
    }

    /// Check every setting is a number in its physical range (call once, at configuration).
    pub fn validate(&self) -> Result<(), ArrayError> {
        let check = |field, value: f64, ok: bool, expected| {
            if ok && value.is_finite() {
                Ok(())
            } else {
                Err(ArrayError {
                    field,
                    value,
                    expected,
                })
            }
        };
        check("dc_kwp", self.dc_kwp, self.dc_kwp > 0.0, "> 0 kWp")?;
        check("ac_kw", self.ac_kw, self.ac_kw > 0.0, "> 0 kW")?;
        let tilt = self.plane.tilt_deg;
        check(
            "tilt_deg",
            tilt,
            (0.0..=90.0).contains(&tilt),
            "0..=90 degrees",
        )?;
        let azimuth = self.plane.azimuth_deg;
        let compass = (0.0..=360.0).contains(&azimuth);
        check(
            "azimuth_deg",
            azimuth,
            compass,
            "a compass bearing 0..=360 (180 = south)",
        )?;
        let gamma = self.gamma_per_c;
        check(
            "gamma_per_c",
            gamma,
            (-0.01..=0.0).contains(&gamma),
            "-0.01..=0 per degree C",
        )?;
        let eta = self.system_efficiency;
        check(
            "system_efficiency",
            eta,
            eta > 0.0 && eta <= 1.0,
            "0 < efficiency <= 1",
        )?;
        check(
            "albedo",
            self.albedo,
            (0.0..=1.0).contains(&self.albedo),
            "0..=1",
        )?;
        match self.cell_temperature {
            CellTemperatureModel::Noct { noct_c } => check(
                "noct_c",
                noct_c,
                (30.0..=70.0).contains(&noct_c),
                "30..=70 degrees C",
            ),
            CellTemperatureModel::Faiman { u0, u1, wind_m_s } => {
                check("u0", u0, u0 > 0.0, "> 0 W/(m2 K)")?;
                check("u1", u1, u1 >= 0.0, ">= 0 W s/(m3 K)")?;
                check("wind_m_s", wind_m_s, wind_m_s >= 0.0, ">= 0 m/s")
            }
        }
    }

    /// The temperature factor `C = 1 + γ · (T_cell − 25 °C)` (also the divisor of the
    /// temperature-corrected PR in DOMAIN.md §3).
    pub fn temperature_factor(&self, cell_temperature_c: f64) -> f64 {
        1.0 + self.gamma_per_c * (cell_temperature_c - 25.0)
    }

    /// AC power, kW, for `poa_w_m2` on the array with cells at `cell_temperature_c`:
    /// `P = P_dc · G/1000 · C · η`, never negative, capped at `ac_kw`.
    pub fn ac_power_kw(&self, poa_w_m2: f64, cell_temperature_c: f64) -> f64 {
        let dc =
            self.dc_kwp * poa_w_m2.max(0.0) / 1000.0 * self.temperature_factor(cell_temperature_c);
        (dc * self.system_efficiency).clamp(0.0, self.ac_kw)
    }

    /// AC power, kW, under the given horizontal irradiance (transposed onto the array with
    /// Hay-Davies) and air temperature.
    pub fn ac_power_from_irradiance_kw(
        &self,
        sun: &SunPosition,
        irradiance: &Irradiance,
        ambient_c: f64,
    ) -> f64 {
        let poa = plane_of_array(sun, irradiance, &self.plane, self.albedo).total();
        self.ac_power_from_poa_kw(poa, ambient_c)
    }

    /// AC power, kW, for `poa_w_m2` on the array (e.g. from a plane-of-array sensor) with
    /// air at `ambient_c`: the cell temperature model, then [`Self::ac_power_kw`].
    pub fn ac_power_from_poa_kw(&self, poa_w_m2: f64, ambient_c: f64) -> f64 {
        if poa_w_m2 <= 0.0 {
            return 0.0;
        }
        let cell = self
            .cell_temperature
            .cell_temperature_c(ambient_c, poa_w_m2);
        self.ac_power_kw(poa_w_m2, cell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_kwp_south_35() -> PvArray {
        PvArray::new(
            1.0,
            Plane {
                tilt_deg: 35.0,
                azimuth_deg: 180.0,
            },
        )
    }

    #[test]
    fn one_kwp_at_standard_conditions_delivers_the_system_efficiency() {
        let p = one_kwp_south_35().ac_power_kw(1000.0, 25.0);
        assert!((p - 0.85).abs() < 1e-12);
    }

    #[test]
    fn hot_cells_lose_a_third_of_a_percent_per_degree() {
        let p = one_kwp_south_35().ac_power_kw(1000.0, 45.0);
        assert!((p - 0.85 * (1.0 - 0.0035 * 20.0)).abs() < 1e-12);
    }

    #[test]
    fn output_is_capped_at_the_inverter_rating_and_never_negative() {
        let mut array = one_kwp_south_35();
        array.dc_kwp = 300.0;
        array.ac_kw = 250.0;
        assert_eq!(array.ac_power_kw(1100.0, 0.0), 250.0);
        assert_eq!(array.ac_power_kw(-5.0, -20.0), 0.0);
    }

    #[test]
    fn noct_cells_reach_noct_at_800_w_and_20_degrees_and_faiman_runs_about_31_degrees_over_air() {
        let noct = CellTemperatureModel::default();
        assert!((noct.cell_temperature_c(20.0, 800.0) - 45.0).abs() < 1e-12);
        let faiman = CellTemperatureModel::Faiman {
            u0: 25.0,
            u1: 6.84,
            wind_m_s: 1.0,
        };
        let rise = faiman.cell_temperature_c(10.0, 1000.0) - 10.0;
        assert!((rise - 31.4).abs() < 0.1, "{rise}");
        assert_eq!(noct.cell_temperature_c(-8.0, 0.0), -8.0);
    }

    #[test]
    fn a_plane_of_array_reading_and_the_air_temperature_give_the_power_directly() {
        let array = one_kwp_south_35();
        // 800 W/m² and 20 °C air: NOCT cells at 45 °C, factor 1 − 0.0035 × 20 = 0.93.
        let p = array.ac_power_from_poa_kw(800.0, 20.0);
        assert!((p - 0.8 * 0.93 * 0.85).abs() < 1e-12, "{p}");
        assert_eq!(array.ac_power_from_poa_kw(0.0, 20.0), 0.0);
    }

    #[test]
    fn validation_names_the_setting_that_is_out_of_range() {
        assert_eq!(one_kwp_south_35().validate(), Ok(()));
        let mut array = one_kwp_south_35();
        array.gamma_per_c = 0.0035;
        let err = array.validate().unwrap_err();
        assert_eq!(err.field, "gamma_per_c");
        assert!(err.to_string().contains("gamma_per_c = 0.0035"));
        array = one_kwp_south_35();
        array.plane.azimuth_deg = f64::NAN;
        assert_eq!(array.validate().unwrap_err().field, "azimuth_deg");
        array = one_kwp_south_35();
        array.system_efficiency = 85.0;
        assert_eq!(array.validate().unwrap_err().field, "system_efficiency");
    }
}
