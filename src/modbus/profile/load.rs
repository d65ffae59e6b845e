//! Loading and validating profile files.
//!
//! The TOML is first read into loose "file" structs (strings for every enumerated value)
//! and then validated by hand, so that a mistake is reported as "point #3 (ac_power_w at
//! 32080): unknown type "int32"" rather than a bare serde message. Unknown keys are
//! rejected by serde with a line number: a misspelt `gian = 10` must not silently become
//! gain 1.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::error::{PointProblem, ProfileError, ProfileProblem};
use super::{Factor, Point, Profile};
use crate::modbus::block::{MAX_REGISTERS_PER_READ, RegisterKind};
use crate::modbus::words::{WordOrder, WordType};
use crate::reading::{DeviceStatus, Field};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    vendor: String,
    register_kind: String,
    address_base: u32,
    word_order: String,
    #[serde(default = "default_max_registers")]
    max_registers_per_read: u32,
    #[serde(default)]
    max_gap: u32,
    #[serde(default)]
    pause_after_connect_ms: u64,
    #[serde(default)]
    pause_between_requests_ms: u64,
    #[serde(default)]
    invalid: BTreeMap<String, Vec<u64>>,
    #[serde(default)]
    points: Vec<PointFile>,
}

fn default_max_registers() -> u32 {
    u32::from(MAX_REGISTERS_PER_READ)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PointFile {
    field: String,
    address: u32,
    #[serde(rename = "type")]
    word_type: String,
    word_order: Option<String>,
    gain: Option<f64>,
    scale: Option<f64>,
    unit: Option<String>,
    invalid: Option<Vec<u64>>,
    #[serde(default)]
    abs: bool,
    status_map: Option<BTreeMap<String, String>>,
    fault_text: Option<BTreeMap<String, String>>,
    #[serde(default)]
    fault_bits: bool,
}

fn parse_code(key: &str) -> Result<u64, PointProblem> {
    let key = key.trim();
    let parsed = match key.strip_prefix("0x").or_else(|| key.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => key.replace('_', "").parse(),
    };
    parsed.map_err(|_| PointProblem::BadCode(key.to_owned()))
}

fn same_unit(written: &str, expected: &str) -> bool {
    let normalise = |u: &str| match u {
        "°C" | "℃" | "C" | "degC" => "degC".to_owned(),
        "W/m²" | "W/m2" => "W/m2".to_owned(),
        other => other.to_owned(),
    };
    normalise(written.trim()) == normalise(expected)
}

pub(super) fn from_toml_str(text: &str) -> Result<Profile, ProfileError> {
    let file: ProfileFile = toml::from_str(text)?;
    let profile_error = |problem| ProfileError::Profile {
        profile: file.name.clone(),
        problem,
    };
    let register_kind = RegisterKind::parse(&file.register_kind).ok_or_else(|| {
        profile_error(ProfileProblem::UnknownRegisterKind(
            file.register_kind.clone(),
        ))
    })?;
    let address_base = match file.address_base {
        0 => 0,
        1 => 1,
        other => return Err(profile_error(ProfileProblem::BadAddressBase(other))),
    };
    let word_order = WordOrder::parse(&file.word_order)
        .ok_or_else(|| profile_error(ProfileProblem::UnknownWordOrder(file.word_order.clone())))?;
    let max = u16::try_from(file.max_registers_per_read)
        .ok()
        .filter(|m| (1..=MAX_REGISTERS_PER_READ).contains(m))
        .ok_or_else(|| {
            profile_error(ProfileProblem::BadMaxRegisters(file.max_registers_per_read))
        })?;
    let max_gap = u16::try_from(file.max_gap)
        .ok()
        .filter(|g| *g < max)
        .ok_or_else(|| profile_error(ProfileProblem::BadMaxGap(file.max_gap)))?;
    let mut invalid: BTreeMap<WordType, Vec<u64>> = BTreeMap::new();
    for (name, values) in &file.invalid {
        let ty = WordType::parse(name)
            .ok_or_else(|| profile_error(ProfileProblem::UnknownInvalidType(name.clone())))?;
        invalid.insert(ty, values.clone());
    }
    if file.points.is_empty() {
        return Err(profile_error(ProfileProblem::NoPoints));
    }

    let mut points: Vec<Point> = Vec::with_capacity(file.points.len());
    for (i, raw) in file.points.iter().enumerate() {
        let point_error = |problem| ProfileError::Point {
            profile: file.name.clone(),
            index: i + 1,
            field: raw.field.clone(),
            address: raw.address,
            problem,
        };
        let point =
            validate_point(raw, address_base, word_order, max, &invalid).map_err(point_error)?;
        for (j, other) in points.iter().enumerate() {
            let problem = if other.field == point.field {
                Some(PointProblem::DuplicateField(j + 1))
            } else if u32::from(point.address) < other.end()
                && u32::from(other.address) < point.end()
            {
                Some(PointProblem::Overlap {
                    other: j + 1,
                    other_field: other.field.to_string(),
                })
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(point_error(problem));
            }
        }
        points.push(point);
    }

    Ok(Profile {
        name: file.name,
        vendor: file.vendor,
        register_kind,
        address_base,
        word_order,
        max_registers_per_read: max,
        max_gap,
        pause_after_connect_ms: file.pause_after_connect_ms,
        pause_between_requests_ms: file.pause_between_requests_ms,
        points,
    })
}

fn validate_point(
    raw: &PointFile,
    base: u16,
    default_order: WordOrder,
    max: u16,
    invalid: &BTreeMap<WordType, Vec<u64>>,
) -> Result<Point, PointProblem> {
    let field =
        Field::parse(&raw.field).ok_or_else(|| PointProblem::UnknownField(raw.field.clone()))?;
    let word_type = WordType::parse(&raw.word_type)
        .ok_or_else(|| PointProblem::UnknownType(raw.word_type.clone()))?;
    let word_order = match &raw.word_order {
        Some(text) => {
            WordOrder::parse(text).ok_or_else(|| PointProblem::UnknownWordOrder(text.clone()))?
        }
        None => default_order,
    };
    let address = raw
        .address
        .checked_sub(u32::from(base))
        .ok_or(PointProblem::BelowBase(base))?;
    let len = word_type.register_count();
    if address + u32::from(len) > 65536 {
        return Err(PointProblem::PastAddressSpace);
    }
    if len > max {
        return Err(PointProblem::TooLong { len, max });
    }

    let factor = match (raw.gain, raw.scale) {
        (Some(_), Some(_)) => return Err(PointProblem::GainAndScale),
        (Some(g), None) => Factor::Divide(checked_factor(g)?),
        (None, Some(s)) => {
            let s = checked_factor(s)?;
            let inverse = 1.0 / s;
            if s.abs() < 1.0 && (inverse - inverse.round()).abs() < 1e-9 {
                Factor::Divide(inverse.round())
            } else {
                Factor::Multiply(s)
            }
        }
        (None, None) => Factor::Multiply(1.0),
    };

    let is_code = !field.is_numeric();
    if is_code && (raw.gain.is_some() || raw.scale.is_some() || raw.abs) {
        return Err(PointProblem::FactorOnCode);
    }
    if is_code && word_type.is_float() {
        return Err(PointProblem::FloatCode(word_type.as_str()));
    }
    if let Some(unit) = &raw.unit {
        let expected = field.unit().unwrap_or("");
        let matches = if expected.is_empty() {
            unit.trim().is_empty()
        } else {
            same_unit(unit, expected)
        };
        if !matches {
            return Err(PointProblem::UnitMismatch {
                unit: unit.clone(),
                expected: expected.to_owned(),
            });
        }
    }

    let mut status_map = BTreeMap::new();
    match (&raw.status_map, field) {
        (Some(map), Field::Status) => {
            for (code, status) in map {
                status_map.insert(parse_code(code)?, status.parse::<DeviceStatus>()?);
            }
        }
        (Some(_), _) => return Err(PointProblem::StatusMapNotAllowed),
        (None, Field::Status) => return Err(PointProblem::MissingStatusMap),
        (None, _) => {}
    }
    let mut fault_text = BTreeMap::new();
    if field != Field::FaultCode && (raw.fault_text.is_some() || raw.fault_bits) {
        return Err(PointProblem::FaultOptionNotAllowed);
    }
    for (code, text) in raw.fault_text.iter().flatten() {
        fault_text.insert(parse_code(code)?, text.clone());
    }

    Ok(Point {
        field,
        document_address: raw.address,
        address: address as u16,
        word_type,
        word_order,
        factor,
        unit: raw.unit.clone(),
        invalid: raw
            .invalid
            .clone()
            .unwrap_or_else(|| invalid.get(&word_type).cloned().unwrap_or_default()),
        abs: raw.abs,
        status_map,
        fault_text,
        fault_bits: raw.fault_bits,
    })
}

fn checked_factor(value: f64) -> Result<f64, PointProblem> {
    if value.is_finite() && value != 0.0 {
        Ok(value)
    } else {
        Err(PointProblem::BadFactor(value))
    }
}
