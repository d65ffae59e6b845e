//! The decoded values of one inverter, meter or weather station at one instant.
//!
//! `Reading` mirrors the fields of the MQTT payload v1 so that a value read over Modbus and a
//! value published by a data logger land in the same shape. Every field is an `Option`:
//! `None` means "the device did not tell us" (not implemented, sentinel, block missing), which
//! must never be confused with a real zero. Decoders fill what they can and leave the rest.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Decoded telemetry, one field per MQTT payload v1 value; `None` = unknown.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Reading {
    /// AC output power, W.
    pub ac_power_w: Option<f64>,
    /// DC input power, W.
    pub dc_power_w: Option<f64>,
    /// Lifetime AC energy produced, kWh.
    pub energy_total_kwh: Option<f64>,
    /// Lifetime energy exported to the grid (meter), kWh.
    pub export_energy_kwh: Option<f64>,
    /// Grid voltage (phase A or the single phase), V.
    pub grid_voltage_v: Option<f64>,
    /// Grid frequency, Hz.
    pub frequency_hz: Option<f64>,
    /// Device internal temperature (cabinet, else heat sink), °C.
    pub temperature_c: Option<f64>,
    /// Plane-of-array irradiance, W/m².
    pub irradiance_poa_wm2: Option<f64>,
    /// PV module (back-of-module) temperature, °C.
    pub module_temp_c: Option<f64>,
    /// Ambient air temperature, °C.
    pub ambient_temp_c: Option<f64>,
    /// Operating state, normalised across vendors.
    pub status: Option<DeviceStatus>,
    /// Active fault or alarm code as the device reports it; `None` when no fault is reported.
    pub fault_code: Option<String>,
}

impl Reading {
    /// Fills every `None` field of `self` from `other`, keeping values `self` already has.
    ///
    /// Used when a device exposes the same quantity in two models (e.g. SunSpec 113 and 103):
    /// the preferred source goes first, the other only fills its gaps.
    pub fn fill_missing_from(&mut self, other: &Reading) {
        fn fill<T: Clone>(mine: &mut Option<T>, theirs: &Option<T>) {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
        fill(&mut self.ac_power_w, &other.ac_power_w);
        fill(&mut self.dc_power_w, &other.dc_power_w);
        fill(&mut self.energy_total_kwh, &other.energy_total_kwh);
        fill(&mut self.export_energy_kwh, &other.export_energy_kwh);
        fill(&mut self.grid_voltage_v, &other.grid_voltage_v);
        fill(&mut self.frequency_hz, &other.frequency_hz);
        fill(&mut self.temperature_c, &other.temperature_c);
        fill(&mut self.irradiance_poa_wm2, &other.irradiance_poa_wm2);
        fill(&mut self.module_temp_c, &other.module_temp_c);
        fill(&mut self.ambient_temp_c, &other.ambient_temp_c);
        fill(&mut self.status, &other.status);
        fill(&mut self.fault_code, &other.fault_code);
    }

    /// Stores a numeric value into the field `field`; ignored for `Status` and `FaultCode`,
    /// which are not numbers.
    pub fn set_number(&mut self, field: Field, value: f64) {
        let slot = match field {
            Field::AcPowerW => &mut self.ac_power_w,
            Field::DcPowerW => &mut self.dc_power_w,
            Field::EnergyTotalKwh => &mut self.energy_total_kwh,
            Field::ExportEnergyKwh => &mut self.export_energy_kwh,
            Field::GridVoltageV => &mut self.grid_voltage_v,
            Field::FrequencyHz => &mut self.frequency_hz,
            Field::TemperatureC => &mut self.temperature_c,
            Field::IrradiancePoaWm2 => &mut self.irradiance_poa_wm2,
            Field::ModuleTempC => &mut self.module_temp_c,
            Field::AmbientTempC => &mut self.ambient_temp_c,
            Field::Status | Field::FaultCode => return,
        };
        *slot = Some(value);
    }
}

/// Operating state normalised across SunSpec and vendor state codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceStatus {
    /// Producing normally (SunSpec MPPT, Huawei on-grid, Sungrow run).
    Running,
    /// Powered but not producing: waiting for irradiance, night sleep.
    Standby,
    /// Self-check or grid-connection sequence in progress.
    Starting,
    /// Producing with output limited (derating, dispatch, export limit).
    Throttled,
    /// Stopped because of a fault.
    Fault,
    /// Switched off or stopped by command.
    Off,
    /// The device reported a state code that no mapping knows.
    Unknown,
}

impl DeviceStatus {
    /// Every status, in declaration order.
    pub const ALL: [DeviceStatus; 7] = [
        DeviceStatus::Running,
        DeviceStatus::Standby,
        DeviceStatus::Starting,
        DeviceStatus::Throttled,
        DeviceStatus::Fault,
        DeviceStatus::Off,
        DeviceStatus::Unknown,
    ];

    /// The wire name used in payloads and profile files, e.g. `"running"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Running => "running",
            DeviceStatus::Standby => "standby",
            DeviceStatus::Starting => "starting",
            DeviceStatus::Throttled => "throttled",
            DeviceStatus::Fault => "fault",
            DeviceStatus::Off => "off",
            DeviceStatus::Unknown => "unknown",
        }
    }
}

impl fmt::Display for DeviceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text given to `DeviceStatus::from_str` is not a known status name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown device status {0:?} (expected running, standby, starting, throttled, fault, off or unknown)"
)]
pub struct UnknownStatus(pub String);

impl FromStr for DeviceStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeviceStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// Names one field of [`Reading`]; profile points say which field they feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `ac_power_w`
    AcPowerW,
    /// `dc_power_w`
    DcPowerW,
    /// `energy_total_kwh`
    EnergyTotalKwh,
    /// `export_energy_kwh`
    ExportEnergyKwh,
    /// `grid_voltage_v`
    GridVoltageV,
    /// `frequency_hz`
    FrequencyHz,
    /// `temperature_c`
    TemperatureC,
    /// `irradiance_poa_wm2`
    IrradiancePoaWm2,
    /// `module_temp_c`
    ModuleTempC,
    /// `ambient_temp_c`
    AmbientTempC,
    /// `status`
    Status,
    /// `fault_code`
    FaultCode,
}

impl Field {
    /// Every field, in payload order.
    pub const ALL: [Field; 12] = [
        Field::AcPowerW,
        Field::DcPowerW,
        Field::EnergyTotalKwh,
        Field::ExportEnergyKwh,
        Field::GridVoltageV,
        Field::FrequencyHz,
        Field::TemperatureC,
        Field::IrradiancePoaWm2,
        Field::ModuleTempC,
        Field::AmbientTempC,
        Field::Status,
        Field::FaultCode,
    ];

    /// The payload field name, e.g. `"ac_power_w"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::AcPowerW => "ac_power_w",
            Field::DcPowerW => "dc_power_w",
            Field::EnergyTotalKwh => "energy_total_kwh",
            Field::ExportEnergyKwh => "export_energy_kwh",
            Field::GridVoltageV => "grid_voltage_v",
            Field::FrequencyHz => "frequency_hz",
            Field::TemperatureC => "temperature_c",
            Field::IrradiancePoaWm2 => "irradiance_poa_wm2",
            Field::ModuleTempC => "module_temp_c",
            Field::AmbientTempC => "ambient_temp_c",
            Field::Status => "status",
            Field::FaultCode => "fault_code",
        }
    }

    /// The unit the field is stored in, or `None` for the non-numeric fields.
    pub fn unit(self) -> Option<&'static str> {
        match self {
            Field::AcPowerW | Field::DcPowerW => Some("W"),
            Field::EnergyTotalKwh | Field::ExportEnergyKwh => Some("kWh"),
            Field::GridVoltageV => Some("V"),
            Field::FrequencyHz => Some("Hz"),
            Field::TemperatureC | Field::ModuleTempC | Field::AmbientTempC => Some("degC"),
            Field::IrradiancePoaWm2 => Some("W/m2"),
            Field::Status | Field::FaultCode => None,
        }
    }

    /// True for the fields that hold a number (all but `status` and `fault_code`).
    pub fn is_numeric(self) -> bool {
        self.unit().is_some()
    }

    /// Parses a payload field name; `None` when the name is not a `Reading` field.
    pub fn parse(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|field| field.as_str() == name)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_name_parses_back_to_the_same_status() {
        for status in DeviceStatus::ALL {
            assert_eq!(status.as_str().parse::<DeviceStatus>(), Ok(status));
        }
    }

    #[test]
    fn an_unknown_status_name_is_rejected_with_the_name_in_the_message() {
        let err = "ok".parse::<DeviceStatus>().unwrap_err();
        assert!(err.to_string().contains("\"ok\""));
    }

    #[test]
    fn status_serialises_as_its_lowercase_name() {
        let text = toml::to_string(&Reading {
            status: Some(DeviceStatus::Throttled),
            ..Reading::default()
        })
        .unwrap();
        assert!(text.contains("status = \"throttled\""), "{text}");
    }

    #[test]
    fn a_reading_survives_a_serialise_and_parse_round_trip() {
        let reading = Reading {
            ac_power_w: Some(1234.5),
            energy_total_kwh: Some(98765.4),
            status: Some(DeviceStatus::Running),
            fault_code: Some("2001".into()),
            ..Reading::default()
        };
        let text = toml::to_string(&reading).unwrap();
        let back: Reading = toml::from_str(&text).unwrap();
        assert_eq!(back, reading);
    }

    #[test]
    fn fill_missing_keeps_present_values_and_takes_absent_ones() {
        let mut preferred = Reading {
            ac_power_w: Some(10.0),
            ..Reading::default()
        };
        let fallback = Reading {
            ac_power_w: Some(99.0),
            frequency_hz: Some(50.0),
            ..Reading::default()
        };
        preferred.fill_missing_from(&fallback);
        assert_eq!(preferred.ac_power_w, Some(10.0));
        assert_eq!(preferred.frequency_hz, Some(50.0));
    }

    #[test]
    fn every_field_name_parses_back_and_numeric_fields_have_units() {
        for field in Field::ALL {
            assert_eq!(Field::parse(field.as_str()), Some(field));
        }
        assert!(Field::GridVoltageV.is_numeric());
        assert!(!Field::Status.is_numeric());
        assert_eq!(Field::parse("ac_power"), None);
    }

    #[test]
    fn set_number_writes_the_named_field_only() {
        let mut reading = Reading::default();
        reading.set_number(Field::FrequencyHz, 50.01);
        reading.set_number(Field::Status, 1.0);
        assert_eq!(
            reading,
            Reading {
                frequency_hz: Some(50.01),
                ..Reading::default()
            }
        );
    }
}

/// One device's values at one instant, as a poller or a payload delivers them to ingest.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceReading {
    /// The device's ledger code.
    pub device_code: String,
    /// When the values were read, by the reader's clock (never the inverter's).
    pub ts: chrono::DateTime<chrono::Utc>,
    pub reading: Reading,
}
