//! Turning 16-bit Modbus registers into numbers and text.
//!
//! Modbus only defines 16-bit big-endian registers; how wider values are spread over several
//! registers is the vendor's choice. SunSpec and Huawei put the high word first (ABCD),
//! Sungrow puts the low word first (CDAB). Getting this wrong gives plausible-looking garbage,
//! so the order is always an explicit argument, never a default.
//!
//! Two layers: `raw_*` functions only assemble bits (they return `None` only when too few
//! registers were given), and `sunspec_*` functions additionally map the SunSpec
//! "not implemented" sentinels (`reference/sunspec/unimplemented_values.json`) to `None`,
//! because a sentinel is "unknown", never zero. Vendor profiles bring their own sentinel
//! lists and use the raw layer.

use serde::{Deserialize, Serialize};

mod word_type;

pub use word_type::WordType;

/// How a value wider than one register is laid out over consecutive registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WordOrder {
    /// Most significant word at the lowest address ("ABCD", big-endian; SunSpec, Huawei).
    HighFirst,
    /// Least significant word at the lowest address ("CDAB", word-swapped; Sungrow).
    LowFirst,
}

impl WordOrder {
    /// Parses `high_first`/`abcd` or `low_first`/`cdab` (case-insensitive).
    pub fn parse(text: &str) -> Option<WordOrder> {
        match text.to_ascii_lowercase().as_str() {
            "high_first" | "abcd" => Some(WordOrder::HighFirst),
            "low_first" | "cdab" => Some(WordOrder::LowFirst),
            _ => None,
        }
    }
}

/// Joins `words.len()` registers (1 to 4) into one unsigned integer, honouring `order`.
/// Returns `None` when `words` is empty or longer than 4.
pub fn join(words: &[u16], order: WordOrder) -> Option<u64> {
    if words.is_empty() || words.len() > 4 {
        return None;
    }
    let fold = |acc: u64, word: &u16| (acc << 16) | u64::from(*word);
    Some(match order {
        WordOrder::HighFirst => words.iter().fold(0, fold),
        WordOrder::LowFirst => words.iter().rev().fold(0, fold),
    })
}

/// Splits `value` into `count` registers (1 to 4) in `order`; the inverse of [`join`].
pub fn split(value: u64, count: usize, order: WordOrder) -> Vec<u16> {
    let mut words: Vec<u16> = (0..count)
        .rev()
        .map(|i| (value >> (16 * i)) as u16)
        .collect();
    if order == WordOrder::LowFirst {
        words.reverse();
    }
    words
}

pub(crate) fn take(regs: &[u16], count: usize) -> Option<&[u16]> {
    regs.get(..count)
}

/// First register as `u16`.
pub fn raw_u16(regs: &[u16]) -> Option<u16> {
    regs.first().copied()
}

/// First register as two's-complement `i16`.
pub fn raw_i16(regs: &[u16]) -> Option<i16> {
    raw_u16(regs).map(|word| word as i16)
}

/// First two registers as `u32`.
pub fn raw_u32(regs: &[u16], order: WordOrder) -> Option<u32> {
    join(take(regs, 2)?, order).map(|v| v as u32)
}

/// First two registers as two's-complement `i32`.
pub fn raw_i32(regs: &[u16], order: WordOrder) -> Option<i32> {
    raw_u32(regs, order).map(|v| v as i32)
}

/// First four registers as `u64`.
pub fn raw_u64(regs: &[u16], order: WordOrder) -> Option<u64> {
    join(take(regs, 4)?, order)
}

/// First two registers as an IEEE-754 single, widened to `f64`.
pub fn raw_f32(regs: &[u16], order: WordOrder) -> Option<f64> {
    raw_u32(regs, order).map(|bits| f64::from(f32::from_bits(bits)))
}

/// Registers as text, two bytes per register, high byte first; trailing NULs and spaces
/// are trimmed. Invalid UTF-8 is replaced rather than rejected (nameplates are not trusted).
pub fn raw_string(regs: &[u16]) -> String {
    let bytes: Vec<u8> = regs.iter().flat_map(|word| word.to_be_bytes()).collect();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).trim().to_owned()
}

/// `text` as `count` registers, high byte first, NUL padded and truncated to fit.
pub fn string_registers(text: &str, count: usize) -> Vec<u16> {
    let mut bytes = text.as_bytes().to_vec();
    bytes.resize(count * 2, 0);
    bytes
        .chunks(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
        .collect()
}

/// SunSpec `uint16` (also `enum16`, `bitfield16`): `0xFFFF` means not implemented.
pub fn sunspec_u16(regs: &[u16]) -> Option<u16> {
    raw_u16(regs).filter(|&v| v != 0xFFFF)
}

/// SunSpec `int16`: `0x8000` means not implemented.
pub fn sunspec_i16(regs: &[u16]) -> Option<i16> {
    raw_i16(regs).filter(|&v| v != i16::MIN)
}

/// SunSpec `uint32` (also `enum32`, `bitfield32`): `0xFFFFFFFF` means not implemented.
pub fn sunspec_u32(regs: &[u16], order: WordOrder) -> Option<u32> {
    raw_u32(regs, order).filter(|&v| v != u32::MAX)
}

/// SunSpec `int32`: `0x80000000` means not implemented.
pub fn sunspec_i32(regs: &[u16], order: WordOrder) -> Option<i32> {
    raw_i32(regs, order).filter(|&v| v != i32::MIN)
}

/// SunSpec `uint64`: all ones means not implemented.
pub fn sunspec_u64(regs: &[u16], order: WordOrder) -> Option<u64> {
    raw_u64(regs, order).filter(|&v| v != u64::MAX)
}

/// SunSpec `acc32` counter: `0` means not implemented (a real zero cannot be told apart).
pub fn sunspec_acc32(regs: &[u16], order: WordOrder) -> Option<u32> {
    raw_u32(regs, order).filter(|&v| v != 0)
}

/// SunSpec `acc64` counter: `0` means not implemented.
pub fn sunspec_acc64(regs: &[u16], order: WordOrder) -> Option<u64> {
    raw_u64(regs, order).filter(|&v| v != 0)
}

/// SunSpec `float32`: NaN (canonically `0x7FC00000`) means not implemented. Infinity is
/// no measurement either (a device in a bad state, or garbage read as float): it is
/// unknown too, so that a decoded value is always finite or absent.
pub fn sunspec_f32(regs: &[u16], order: WordOrder) -> Option<f64> {
    raw_f32(regs, order).filter(|v| v.is_finite())
}

/// SunSpec `sunssf` scale factor: `0x8000` means not implemented. The specification limits
/// scale factors to -10..=10; anything outside is treated as not implemented too, since
/// applying it would produce absurd values rather than an honest "unknown".
pub fn sunspec_sf(regs: &[u16]) -> Option<i16> {
    sunspec_i16(regs).filter(|sf| (-10..=10).contains(sf))
}

/// SunSpec `string`: all-NUL (after trimming) means not implemented.
pub fn sunspec_string(regs: &[u16]) -> Option<String> {
    Some(raw_string(regs)).filter(|text| !text.is_empty())
}

/// `value × 10^sf`, dividing for negative `sf` so that e.g. `12345, -1` gives exactly the
/// nearest double to 1234.5 rather than `12345 × 0.1`'s rounding noise.
pub fn apply_sf(value: f64, sf: i16) -> f64 {
    let factor = 10f64.powi(i32::from(sf.unsigned_abs()));
    if sf < 0 {
        value / factor
    } else {
        value * factor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_first_puts_the_first_register_in_the_top_bits() {
        assert_eq!(
            raw_u32(&[0x1234, 0x5678], WordOrder::HighFirst),
            Some(0x1234_5678)
        );
    }

    #[test]
    fn low_first_puts_the_first_register_in_the_bottom_bits() {
        assert_eq!(
            raw_u32(&[0x5678, 0x1234], WordOrder::LowFirst),
            Some(0x1234_5678)
        );
    }

    #[test]
    fn sixty_four_bit_values_follow_the_word_order_over_four_registers() {
        let regs = [0x0001, 0x0002, 0x0003, 0x0004];
        assert_eq!(
            raw_u64(&regs, WordOrder::HighFirst),
            Some(0x0001_0002_0003_0004)
        );
        assert_eq!(
            raw_u64(&regs, WordOrder::LowFirst),
            Some(0x0004_0003_0002_0001)
        );
    }

    #[test]
    fn split_is_the_inverse_of_join_in_both_orders() {
        for order in [WordOrder::HighFirst, WordOrder::LowFirst] {
            let words = split(0xDEAD_BEEF_0BAD_F00D, 4, order);
            assert_eq!(join(&words, order), Some(0xDEAD_BEEF_0BAD_F00D));
        }
    }

    #[test]
    fn signed_values_use_twos_complement() {
        assert_eq!(raw_i16(&[0xFFFE]), Some(-2));
        assert_eq!(raw_i32(&[0xFFFF, 0xFF38], WordOrder::HighFirst), Some(-200));
    }

    #[test]
    fn too_few_registers_give_none_instead_of_panicking() {
        assert_eq!(raw_u32(&[1], WordOrder::HighFirst), None);
        assert_eq!(raw_u64(&[1, 2, 3], WordOrder::HighFirst), None);
        assert_eq!(raw_u16(&[]), None);
    }

    #[test]
    fn sunspec_sentinels_are_unknown_not_zero() {
        assert_eq!(sunspec_u16(&[0xFFFF]), None);
        assert_eq!(sunspec_i16(&[0x8000]), None);
        assert_eq!(sunspec_u32(&[0xFFFF, 0xFFFF], WordOrder::HighFirst), None);
        assert_eq!(sunspec_i32(&[0x8000, 0x0000], WordOrder::HighFirst), None);
        assert_eq!(sunspec_acc32(&[0, 0], WordOrder::HighFirst), None);
        assert_eq!(sunspec_acc64(&[0, 0, 0, 0], WordOrder::HighFirst), None);
        assert_eq!(sunspec_u64(&[0xFFFF; 4], WordOrder::HighFirst), None);
        assert_eq!(sunspec_f32(&[0x7FC0, 0x0000], WordOrder::HighFirst), None);
        assert_eq!(sunspec_sf(&[0x8000]), None);
        assert_eq!(sunspec_string(&[0, 0, 0]), None);
    }

    #[test]
    fn float32_infinity_is_unknown_like_nan() {
        // Fault drills (issue 7): 0x7F800000 decoded to +inf and was stored.
        assert_eq!(sunspec_f32(&[0x7F80, 0x0000], WordOrder::HighFirst), None);
        assert_eq!(sunspec_f32(&[0xFF80, 0x0000], WordOrder::HighFirst), None);
        assert_eq!(
            sunspec_f32(&[0x7F7F, 0xFFFF], WordOrder::HighFirst),
            Some(f64::from(f32::MAX))
        );
    }

    #[test]
    fn values_next_to_the_sentinels_are_still_real() {
        assert_eq!(sunspec_u16(&[0xFFFE]), Some(0xFFFE));
        assert_eq!(sunspec_i16(&[0x8001]), Some(-32767));
        assert_eq!(sunspec_acc32(&[0, 1], WordOrder::HighFirst), Some(1));
        assert_eq!(sunspec_i16(&[0]), Some(0));
    }

    #[test]
    fn scale_factors_outside_the_specified_range_are_unknown() {
        assert_eq!(sunspec_sf(&[(-2i16) as u16]), Some(-2));
        assert_eq!(sunspec_sf(&[11]), None);
    }

    #[test]
    fn float32_decodes_ieee_bits_in_the_given_word_order() {
        let bits = 1234.5f32.to_bits();
        let high = (bits >> 16) as u16;
        let low = bits as u16;
        assert_eq!(
            sunspec_f32(&[high, low], WordOrder::HighFirst),
            Some(1234.5)
        );
        assert_eq!(sunspec_f32(&[low, high], WordOrder::LowFirst), Some(1234.5));
    }

    #[test]
    fn strings_are_high_byte_first_and_trimmed_at_the_first_nul() {
        let regs = string_registers("SunS", 4);
        assert_eq!(regs, vec![0x5375, 0x6E53, 0, 0]);
        assert_eq!(raw_string(&regs), "SunS");
        assert_eq!(raw_string(&string_registers("ab  ", 2)), "ab");
    }

    #[test]
    fn apply_sf_scales_by_powers_of_ten() {
        assert_eq!(apply_sf(12345.0, -1), 1234.5);
        assert_eq!(apply_sf(5001.0, -2), 50.01);
        assert_eq!(apply_sf(12.0, 3), 12000.0);
        assert_eq!(apply_sf(7.0, 0), 7.0);
    }

    #[test]
    fn word_order_accepts_both_spellings() {
        assert_eq!(WordOrder::parse("CDAB"), Some(WordOrder::LowFirst));
        assert_eq!(WordOrder::parse("high_first"), Some(WordOrder::HighFirst));
        assert_eq!(WordOrder::parse("BADC"), None);
    }
}
