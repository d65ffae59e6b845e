//! The inverse of [`Profile::decode`]: the registers a device would hold for a reading.
//!
//! Simulators and tests need a vendor device that says exactly what a test wants, encoded
//! by the same profile the poller decodes with, so a test compares engineering values, not
//! hand-computed register words. Unknown (`None`) values are written as the point's
//! "unavailable" pattern; a value the register cannot carry is an error rather than a
//! silently different number.

use std::collections::BTreeMap;

use super::{Factor, Point, Profile};
use crate::modbus::words::{WordType, split};
use crate::reading::{DeviceStatus, Field, Reading};

/// A reading value the profile's registers cannot represent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("profile {profile:?}, field {field}: {problem}")]
pub struct EncodeError {
    /// Profile name.
    pub profile: String,
    /// Field that failed.
    pub field: Field,
    /// What is wrong.
    pub problem: String,
}

impl Profile {
    /// Registers (protocol address → value) that decode to `reading`: every register the
    /// plan reads is present (unused ones 0), points hold the encoded values.
    pub fn encode(&self, reading: &Reading) -> Result<BTreeMap<u16, u16>, EncodeError> {
        let mut registers = BTreeMap::new();
        for request in self.plan() {
            for offset in 0..request.count {
                registers.insert(request.address + offset, 0);
            }
        }
        for point in &self.points {
            let error = |problem: String| EncodeError {
                profile: self.name.clone(),
                field: point.field,
                problem,
            };
            let bits = point_bits(point, reading).map_err(error)?;
            let words = split(bits, usize::from(point.register_count()), point.word_order);
            for (address, word) in (point.address..).zip(words) {
                registers.insert(address, word);
            }
        }
        Ok(registers)
    }
}

fn point_bits(point: &Point, reading: &Reading) -> Result<u64, String> {
    match point.field {
        Field::Status => match reading.status {
            None => unavailable(point),
            Some(status) => status_code(point, status),
        },
        Field::FaultCode => match reading.fault_code.as_deref() {
            None => Ok(0),
            Some(text) => fault_bits(point, text),
        },
        field => match number(reading, field) {
            None => unavailable(point),
            Some(value) => number_bits(point, value),
        },
    }
}

fn number(reading: &Reading, field: Field) -> Option<f64> {
    match field {
        Field::AcPowerW => reading.ac_power_w,
        Field::DcPowerW => reading.dc_power_w,
        Field::EnergyTotalKwh => reading.energy_total_kwh,
        Field::ExportEnergyKwh => reading.export_energy_kwh,
        Field::GridVoltageV => reading.grid_voltage_v,
        Field::FrequencyHz => reading.frequency_hz,
        Field::TemperatureC => reading.temperature_c,
        Field::IrradiancePoaWm2 => reading.irradiance_poa_wm2,
        Field::ModuleTempC => reading.module_temp_c,
        Field::AmbientTempC => reading.ambient_temp_c,
        Field::Status | Field::FaultCode => None,
    }
}

fn unavailable(point: &Point) -> Result<u64, String> {
    if let Some(bits) = point.invalid.first() {
        return Ok(*bits);
    }
    match point.word_type {
        WordType::Acc32 | WordType::Acc64 => Ok(0),
        WordType::Float32 => Ok(u64::from(f32::NAN.to_bits())),
        _ => Err("unknown (None) but the point has no \"invalid\" pattern to say so".into()),
    }
}

fn status_code(point: &Point, status: DeviceStatus) -> Result<u64, String> {
    point
        .status_map
        .iter()
        .find(|(_, s)| **s == status)
        .map(|(code, _)| *code)
        .ok_or_else(|| format!("no vendor code maps to status {status}"))
}

fn fault_bits(point: &Point, text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) if point.fault_bits => u64::from_str_radix(hex, 16),
        _ if point.fault_bits => return Err(format!("fault code {text:?} is not 0x-hex bits")),
        _ => text.parse(),
    };
    parsed.map_err(|_| format!("fault code {text:?} is not a number"))
}

fn number_bits(point: &Point, value: f64) -> Result<u64, String> {
    if point.abs && value < 0.0 {
        return Err(format!(
            "{value} is negative but the point reads an absolute value"
        ));
    }
    let raw = match point.factor {
        Factor::Divide(n) => value * n,
        Factor::Multiply(n) => value / n,
    };
    let ty = point.word_type;
    let bits = if ty == WordType::Float32 {
        u64::from((raw as f32).to_bits())
    } else {
        let raw = raw.round();
        let (min, max) = match ty {
            WordType::U16 => (0.0, f64::from(u16::MAX)),
            WordType::I16 => (f64::from(i16::MIN), f64::from(i16::MAX)),
            WordType::U32 | WordType::Acc32 => (0.0, f64::from(u32::MAX)),
            WordType::I32 => (f64::from(i32::MIN), f64::from(i32::MAX)),
            _ => (0.0, u64::MAX as f64),
        };
        if !(min..=max).contains(&raw) {
            return Err(format!("{value} is out of range for {}", ty.as_str()));
        }
        let width = u32::from(ty.register_count()) * 16;
        let mask = if width == 64 {
            u64::MAX
        } else {
            (1u64 << width) - 1
        };
        (raw as i64 as u64) & mask
    };
    if point.invalid.contains(&bits) || ty.is_sunspec_sentinel(bits) && !point.invalid.is_empty() {
        return Err(format!(
            "{value} encodes to the \"unavailable\" pattern {bits:#x}"
        ));
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modbus::block::RegisterBlock;
    use crate::modbus::profile::shipped;

    fn reading() -> Reading {
        Reading {
            ac_power_w: Some(48_765.0),
            dc_power_w: Some(24_100.0), // GoodWe DT: i16
            energy_total_kwh: Some(123_456.7),
            grid_voltage_v: Some(231.4),
            frequency_hz: Some(50.1),
            temperature_c: Some(-12.3),
            status: Some(DeviceStatus::Running),
            ..Reading::default()
        }
    }

    fn decode(profile: &Profile, registers: &BTreeMap<u16, u16>) -> Reading {
        let blocks: Vec<RegisterBlock> = profile
            .plan()
            .iter()
            .map(|r| {
                let regs = (r.address..r.address + r.count)
                    .map(|a| registers[&a])
                    .collect();
                RegisterBlock::new(r.address, regs)
            })
            .collect();
        profile.decode(&blocks).reading
    }

    #[test]
    fn every_shipped_profile_decodes_what_it_encoded() {
        for profile in shipped::load_all().unwrap() {
            let mut expected = reading();
            if profile.point(Field::ExportEnergyKwh).is_some() {
                expected.export_energy_kwh = Some(7_654.32);
            }
            let registers = profile.encode(&expected).unwrap();
            assert_eq!(decode(&profile, &registers), expected, "{}", profile.name);
        }
    }

    #[test]
    fn unknown_values_are_written_as_the_unavailable_pattern() {
        let profile = Profile::from_toml_str(shipped::HUAWEI_SUN2000).unwrap();
        let registers = profile.encode(&Reading::default()).unwrap();
        assert_eq!(registers[&32080], 0x7FFF);
        assert_eq!(registers[&32081], 0xFFFF);
        assert_eq!(decode(&profile, &registers), Reading::default());
    }

    #[test]
    fn a_fault_bitmap_round_trips_in_hex() {
        let profile = Profile::from_toml_str(shipped::HUAWEI_SUN2000).unwrap();
        let faulty = Reading {
            fault_code: Some("0x8001".into()),
            ..reading()
        };
        let registers = profile.encode(&faulty).unwrap();
        assert_eq!(registers[&32008], 0x8001);
        assert_eq!(decode(&profile, &registers).fault_code, faulty.fault_code);
    }

    #[test]
    fn a_value_too_large_for_its_register_is_refused() {
        let profile = Profile::from_toml_str(shipped::HUAWEI_SUN2000).unwrap();
        let absurd = Reading {
            grid_voltage_v: Some(1.0e6),
            ..reading()
        };
        let err = profile.encode(&absurd).unwrap_err();
        assert_eq!(err.field, Field::GridVoltageV);
    }
}
