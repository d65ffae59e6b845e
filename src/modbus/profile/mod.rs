//! Vendor register profiles: non-SunSpec register maps as data, loaded from TOML.
//!
//! Most inverters in village stations (Huawei SUN2000, Sungrow SG, Growatt, GoodWe) speak
//! their own Modbus maps, and the maps differ in exactly the places that break
//! integrations: register table (holding vs input), 0- vs 1-based document addresses,
//! word order, sentinels, gain. A profile states each of these explicitly, once, so the
//! decoder is one generic loop and supporting a new model is a data change reviewed
//! against the vendor document, not new code.
//!
//! ```toml
//! name = "huawei_sun2000"
//! vendor = "Huawei"
//! register_kind = "holding"      # or "input"
//! address_base = 0               # 1 when the document numbers registers from 1
//! word_order = "high_first"      # or "low_first" (CDAB)
//! max_registers_per_read = 64
//! max_gap = 16                   # unused registers a read may span to save a request
//! pause_after_connect_ms = 1500
//! pause_between_requests_ms = 50
//!
//! [invalid]                      # raw patterns meaning "unavailable", per type
//! u16 = [0xFFFF]
//!
//! [[points]]
//! field = "ac_power_w"           # a Reading field
//! address = 32080                # as printed in the vendor document
//! type = "i32"                   # u16 i16 u32 i32 u64 acc32 acc64 float32
//! gain = 1                       # value = raw / gain   (or scale: value = raw × scale)
//! unit = "W"
//! ```
//!
//! Status points carry a `[points.status_map]` (vendor code → `running`, `standby`...);
//! fault points may carry `[points.fault_text]` (code, or bit number with
//! `fault_bits = true`, → Chinese text). Points may override `word_order` and `invalid`,
//! and set `abs = true` for meters that report export energy with a sign.

mod decode;
mod encode;
mod error;
pub mod library;
mod load;
#[cfg(test)]
mod load_tests;
mod plan;
pub mod shipped;

use std::collections::BTreeMap;

pub use decode::ProfileReading;
pub use encode::EncodeError;
pub use error::{PointProblem, ProfileError, ProfileProblem};
pub use library::{LibraryError, ProfileLibrary, ProfileSource};

use crate::modbus::block::RegisterKind;
use crate::modbus::words::{WordOrder, WordType};
use crate::reading::{DeviceStatus, Field};

/// A validated vendor register profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Short identifier, e.g. `"huawei_sun2000"`.
    pub name: String,
    /// Vendor name for people.
    pub vendor: String,
    /// Register table all points live in.
    pub register_kind: RegisterKind,
    /// 0 if the vendor document gives protocol addresses, 1 if it numbers from 1.
    pub address_base: u16,
    /// Default word order for multi-register points.
    pub word_order: WordOrder,
    /// Largest read the device accepts (≤ 125).
    pub max_registers_per_read: u16,
    /// Unused registers a read may span to join two points (0 = contiguous only).
    pub max_gap: u16,
    /// Wait after connecting before the first request, ms.
    pub pause_after_connect_ms: u64,
    /// Wait between requests, ms.
    pub pause_between_requests_ms: u64,
    /// The points, in file order.
    pub points: Vec<Point>,
}

/// One register point feeding one [`Field`] of the reading.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Field filled.
    pub field: Field,
    /// Address as printed in the vendor document (before subtracting the base).
    pub document_address: u32,
    /// Protocol (PDU) address: `document_address - address_base`.
    pub address: u16,
    /// Register type.
    pub word_type: WordType,
    /// Word order (the profile default unless overridden).
    pub word_order: WordOrder,
    /// How to turn the raw number into the field's unit.
    pub factor: Factor,
    /// Unit as written in the file (checked against the field's unit).
    pub unit: Option<String>,
    /// Raw patterns meaning "unavailable".
    pub invalid: Vec<u64>,
    /// Take the absolute value (meters that sign export energy).
    pub abs: bool,
    /// Vendor state code → status (status points only).
    pub status_map: BTreeMap<u64, DeviceStatus>,
    /// Fault code (or bit number with `fault_bits`) → text (fault points only).
    pub fault_text: BTreeMap<u64, String>,
    /// The fault value is a bitmap: report it in hex, look texts up per set bit.
    pub fault_bits: bool,
}

impl Point {
    /// Registers occupied.
    pub fn register_count(&self) -> u16 {
        self.word_type.register_count()
    }

    /// One past the last register, as `u32`.
    pub fn end(&self) -> u32 {
        u32::from(self.address) + u32::from(self.register_count())
    }
}

/// Conversion from the raw register number to the field's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Factor {
    /// `raw / n` (a vendor "gain"; also used for scales like 0.1, as `/ 10`, to avoid
    /// binary rounding noise).
    Divide(f64),
    /// `raw × n`.
    Multiply(f64),
}

impl Factor {
    /// Applies the conversion.
    pub fn apply(self, raw: f64) -> f64 {
        match self {
            Factor::Divide(n) => raw / n,
            Factor::Multiply(n) => raw * n,
        }
    }
}

impl Profile {
    /// Parses and validates a profile; errors name the point and the problem.
    pub fn from_toml_str(text: &str) -> Result<Profile, ProfileError> {
        load::from_toml_str(text)
    }

    /// The point feeding `field`, if the profile has one.
    pub fn point(&self, field: Field) -> Option<&Point> {
        self.points.iter().find(|p| p.field == field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_given_as_fractions_divide_to_avoid_rounding_noise() {
        assert_eq!(Factor::Divide(10.0).apply(2314.0), 231.4);
        assert_eq!(Factor::Multiply(1000.0).apply(1.5), 1500.0);
    }
}
