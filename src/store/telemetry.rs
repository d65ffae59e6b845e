//! Row types of the telemetry tables, shared by both backends' copies of telemetry_sql.rs.

use chrono::NaiveDate;
use serde::Serialize;

use super::Ts;

/// One stored raw reading.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ReadingRow {
    #[serde(skip)]
    pub device_id: i64,
    pub ts: Ts,
    pub received_at: Ts,
    pub ac_power_w: Option<f64>,
    pub dc_power_w: Option<f64>,
    pub energy_total_kwh: Option<f64>,
    pub export_energy_kwh: Option<f64>,
    pub grid_voltage_v: Option<f64>,
    pub frequency_hz: Option<f64>,
    pub temperature_c: Option<f64>,
    pub irradiance_poa_wm2: Option<f64>,
    pub module_temp_c: Option<f64>,
    pub ambient_temp_c: Option<f64>,
    pub status: Option<String>,
    pub fault_code: Option<String>,
    /// Bit flags, see `ingest::energy::quality`.
    pub quality: i16,
}

/// The columns energy is computed from.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SampleRow {
    pub ts: Ts,
    pub counter: Option<f64>,
    pub ac_power_w: Option<f64>,
    pub irradiance_poa_wm2: Option<f64>,
    pub quality: i16,
}

/// Refused input to store.
#[derive(Debug, Clone)]
pub struct RejectionRow {
    pub received_at: Ts,
    pub source: String,
    pub gateway: Option<String>,
    pub device: Option<String>,
    pub reason: &'static str,
    pub detail: String,
    pub payload: String,
}

/// Refused input as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct StoredRejection {
    pub id: i64,
    pub received_at: Ts,
    pub source: String,
    pub gateway: Option<String>,
    pub device: Option<String>,
    pub reason: String,
    pub detail: String,
    pub payload: String,
}

/// One device-hour of energy.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct HourlyRow {
    #[serde(skip)]
    pub device_id: i64,
    pub hour: Ts,
    pub energy_kwh: f64,
    pub peak_power_w: Option<f64>,
    pub samples: i32,
    pub irradiation_kwh_m2: Option<f64>,
    pub bad_intervals: i32,
    pub source: String,
}

/// One device-day of energy (local day).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct DailyRow {
    #[serde(skip)]
    pub device_id: i64,
    pub day: NaiveDate,
    pub energy_kwh: f64,
    pub peak_power_w: Option<f64>,
    pub samples: i32,
    pub irradiation_kwh_m2: Option<f64>,
    pub bad_intervals: i32,
}
