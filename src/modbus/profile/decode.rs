//! Decoding the blocks a profile's plan returned into a [`Reading`].
//!
//! One loop for every vendor: find the point's registers, assemble the raw bits in the
//! point's word order, drop vendor sentinels (checked on the raw bits, before sign and
//! gain), then convert. Status codes go through the profile's map, with unmapped codes
//! kept visible as `Unknown` (the raw code is returned too); fault code 0 means "no fault".

use super::{Point, Profile};
use crate::modbus::block::{RegisterBlock, find};
use crate::reading::{DeviceStatus, Field, Reading};

/// A decoded profile poll.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileReading {
    /// The payload-shaped values.
    pub reading: Reading,
    /// Text for the active fault(s) from the profile's `fault_text`, if any is known.
    pub fault_text: Option<String>,
    /// The raw vendor state code behind `reading.status`.
    pub status_code: Option<u64>,
    /// Fields whose registers were in no block (read failed or not planned), as opposed to
    /// fields the device reported as unavailable.
    pub unread: Vec<Field>,
}

impl Profile {
    /// Decodes `blocks` (protocol addresses, as read per [`Profile::plan`]).
    pub fn decode(&self, blocks: &[RegisterBlock]) -> ProfileReading {
        let mut out = ProfileReading::default();
        for point in &self.points {
            let Some(regs) = find(
                blocks,
                u32::from(point.address),
                u32::from(point.register_count()),
            ) else {
                out.unread.push(point.field);
                continue;
            };
            let Some(bits) = valid_bits(point, regs) else {
                continue;
            };
            match point.field {
                Field::Status => {
                    out.status_code = Some(bits);
                    let status = point
                        .status_map
                        .get(&bits)
                        .copied()
                        .unwrap_or(DeviceStatus::Unknown);
                    out.reading.status = Some(status);
                }
                Field::FaultCode => {
                    if bits != 0 {
                        let (code, text) = fault(point, bits);
                        out.reading.fault_code = Some(code);
                        out.fault_text = text;
                    }
                }
                field => {
                    let value = point.factor.apply(point.word_type.value(bits));
                    // A float32 infinity, or a huge raw value times a huge `scale`, is no
                    // measurement: unknown, so that a stored value is always finite.
                    if value.is_finite() {
                        out.reading
                            .set_number(field, if point.abs { value.abs() } else { value });
                    }
                }
            }
        }
        out
    }
}

/// The raw bits of `point`, or `None` when they are a sentinel.
fn valid_bits(point: &Point, regs: &[u16]) -> Option<u64> {
    let bits = point.word_type.raw_bits(regs, point.word_order)?;
    let sentinel = point.invalid.contains(&bits)
        || (matches!(
            point.word_type,
            crate::modbus::words::WordType::Acc32
                | crate::modbus::words::WordType::Acc64
                | crate::modbus::words::WordType::Float32
        ) && point.word_type.is_sunspec_sentinel(bits));
    (!sentinel).then_some(bits)
}

/// The fault code string and its text. Bitmaps are shown in hex (the bits are the code)
/// with one text per set bit; plain codes in decimal, as vendor manuals list them.
fn fault(point: &Point, bits: u64) -> (String, Option<String>) {
    if point.fault_bits {
        let width = usize::from(point.register_count()) * 4;
        let texts: Vec<&str> = (0..64)
            .filter(|bit| bits & (1u64 << bit) != 0)
            .filter_map(|bit| point.fault_text.get(&bit).map(String::as_str))
            .collect();
        let text = (!texts.is_empty()).then(|| texts.join("；"));
        (format!("0x{bits:0width$X}"), text)
    } else {
        (bits.to_string(), point.fault_text.get(&bits).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
name = "test"
vendor = "test"
register_kind = "holding"
address_base = 1
word_order = "low_first"

[invalid]
u16 = [0xFFFF]
i16 = [0x7FFF]

[[points]]
field = "ac_power_w"
address = 101
type = "i32"
unit = "W"

[[points]]
field = "grid_voltage_v"
address = 103
type = "u16"
scale = 0.1

[[points]]
field = "temperature_c"
address = 104
type = "i16"
gain = 10

[[points]]
field = "export_energy_kwh"
address = 105
type = "i32"
word_order = "high_first"
gain = 100
abs = true

[[points]]
field = "status"
address = 107
type = "u16"
[points.status_map]
"0x0200" = "running"
"0x0300" = "fault"

[[points]]
field = "fault_code"
address = 108
type = "u16"
fault_bits = true
[points.fault_text]
"0" = "组串输入电压高"
"15" = "输出直流分量过高"
"#;

    fn decode(regs: Vec<u16>) -> ProfileReading {
        let profile = Profile::from_toml_str(BASE).unwrap();
        // Document address 101 is protocol address 100.
        profile.decode(&[RegisterBlock::new(100, regs)])
    }

    #[test]
    fn a_block_decodes_with_base_word_order_gain_and_scale_applied() {
        let export = (-123_456i32) as u32;
        let out = decode(vec![
            0xFF38,
            0xFFFF,          // ac_power_w = -200, low word first
            2314,            // 231.4 V
            (-55i16) as u16, // -5.5 °C
            (export >> 16) as u16,
            export as u16, // high word first override
            0x0200,
            0b1000_0000_0000_0001,
        ]);
        assert_eq!(out.reading.ac_power_w, Some(-200.0));
        assert_eq!(out.reading.grid_voltage_v, Some(231.4));
        assert_eq!(out.reading.temperature_c, Some(-5.5));
        assert_eq!(out.reading.export_energy_kwh, Some(1234.56));
        assert_eq!(out.reading.status, Some(DeviceStatus::Running));
        assert_eq!(out.status_code, Some(0x0200));
        assert_eq!(out.reading.fault_code.as_deref(), Some("0x8001"));
        assert_eq!(
            out.fault_text.as_deref(),
            Some("组串输入电压高；输出直流分量过高")
        );
        assert!(out.unread.is_empty());
    }

    #[test]
    fn vendor_sentinels_are_unknown_not_zero() {
        let out = decode(vec![0, 0, 0xFFFF, 0x7FFF, 0, 0, 0xFFFF, 0]);
        assert_eq!(out.reading.grid_voltage_v, None);
        assert_eq!(out.reading.temperature_c, None);
        assert_eq!(out.reading.ac_power_w, Some(0.0), "a real zero stays zero");
        assert_eq!(out.reading.status, None);
    }

    #[test]
    fn an_unmapped_state_code_is_unknown_and_keeps_the_raw_code() {
        let out = decode(vec![0, 0, 0, 0, 0, 0, 0x0A01, 0]);
        assert_eq!(out.reading.status, Some(DeviceStatus::Unknown));
        assert_eq!(out.status_code, Some(0x0A01));
    }

    #[test]
    fn fault_code_zero_means_no_fault() {
        let out = decode(vec![0, 0, 0, 0, 0, 0, 0x0200, 0]);
        assert_eq!(out.reading.fault_code, None);
        assert_eq!(out.fault_text, None);
    }

    #[test]
    fn fields_whose_block_is_missing_are_listed_as_unread() {
        let profile = Profile::from_toml_str(BASE).unwrap();
        let out = profile.decode(&[RegisterBlock::new(100, vec![1, 0, 2314])]);
        assert_eq!(out.reading.ac_power_w, Some(1.0));
        assert_eq!(out.reading.grid_voltage_v, Some(231.4));
        assert_eq!(
            out.unread,
            vec![
                Field::TemperatureC,
                Field::ExportEnergyKwh,
                Field::Status,
                Field::FaultCode
            ]
        );
    }

    #[test]
    fn a_float_infinity_or_an_overflowing_scale_is_unknown_not_stored() {
        // Fault drills (issue 7): float32 0x7F800000 (and u64 x scale 1e300)
        // decoded to +inf and went into the reading.
        let profile = Profile::from_toml_str(
            r#"
name = "inf"
vendor = "test"
register_kind = "holding"
address_base = 0
word_order = "high_first"

[[points]]
field = "ac_power_w"
address = 0
type = "float32"

[[points]]
field = "energy_total_kwh"
address = 2
type = "u64"
scale = 1e300
"#,
        )
        .unwrap();
        let out = profile.decode(&[RegisterBlock::new(0, vec![0x7F80, 0, 0xFFFF, 0, 0, 0])]);
        assert_eq!(out.reading.ac_power_w, None);
        assert_eq!(out.reading.energy_total_kwh, None);
        assert!(out.unread.is_empty(), "read, but unknown");
        let out = profile.decode(&[RegisterBlock::new(0, vec![0x4000, 0, 0, 0, 0, 0])]);
        assert_eq!(out.reading.ac_power_w, Some(2.0));
        assert_eq!(
            out.reading.energy_total_kwh,
            Some(0.0),
            "a u64 zero is a real zero"
        );
    }
}
