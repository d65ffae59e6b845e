//! Numeric register types as named in profile files, decoded through their raw bits.
//!
//! Profiles and SunSpec points both need "how many registers, how to read the sign, which
//! pattern means not implemented". Keeping the raw bit pattern as the intermediate step
//! lets vendor sentinel lists be compared with exactly what the device sent.

use super::{WordOrder, join, take};

/// A numeric register type, as named in profile files (`"i32"`, `"float32"`...).
///
/// Decoding goes through the raw bit pattern first so that sentinel lists (SunSpec's or a
/// vendor's) can be checked on exactly what the device sent, before any sign or scaling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WordType {
    /// Unsigned 16-bit.
    U16,
    /// Signed 16-bit.
    I16,
    /// Unsigned 32-bit.
    U32,
    /// Signed 32-bit.
    I32,
    /// Unsigned 64-bit.
    U64,
    /// 32-bit accumulator (SunSpec `acc32`): zero means not implemented.
    Acc32,
    /// 64-bit accumulator (SunSpec `acc64`): zero means not implemented.
    Acc64,
    /// IEEE-754 single precision: NaN means not implemented.
    Float32,
}

impl WordType {
    /// Every type, for error messages listing what is accepted.
    pub const ALL: [WordType; 8] = [
        WordType::U16,
        WordType::I16,
        WordType::U32,
        WordType::I32,
        WordType::U64,
        WordType::Acc32,
        WordType::Acc64,
        WordType::Float32,
    ];

    /// The profile-file name, e.g. `"u32"`.
    pub fn as_str(self) -> &'static str {
        match self {
            WordType::U16 => "u16",
            WordType::I16 => "i16",
            WordType::U32 => "u32",
            WordType::I32 => "i32",
            WordType::U64 => "u64",
            WordType::Acc32 => "acc32",
            WordType::Acc64 => "acc64",
            WordType::Float32 => "float32",
        }
    }

    /// Parses a profile-file name; `"f32"` is accepted for `float32`.
    pub fn parse(text: &str) -> Option<WordType> {
        if text == "f32" {
            return Some(WordType::Float32);
        }
        WordType::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// Number of registers the type occupies.
    pub fn register_count(self) -> u16 {
        match self {
            WordType::U16 | WordType::I16 => 1,
            WordType::U32 | WordType::I32 | WordType::Acc32 | WordType::Float32 => 2,
            WordType::U64 | WordType::Acc64 => 4,
        }
    }

    /// The raw bit pattern the device sent, assembled in `order`; `None` if too short.
    pub fn raw_bits(self, regs: &[u16], order: WordOrder) -> Option<u64> {
        join(take(regs, usize::from(self.register_count()))?, order)
    }

    /// Interprets a raw bit pattern (from [`WordType::raw_bits`]) as a number.
    pub fn value(self, bits: u64) -> f64 {
        match self {
            WordType::U16 | WordType::U32 | WordType::Acc32 | WordType::U64 | WordType::Acc64 => {
                bits as f64
            }
            WordType::I16 => f64::from(bits as u16 as i16),
            WordType::I32 => f64::from(bits as u32 as i32),
            WordType::Float32 => f64::from(f32::from_bits(bits as u32)),
        }
    }

    /// True when `bits` is this type's SunSpec "not implemented" value.
    pub fn is_sunspec_sentinel(self, bits: u64) -> bool {
        match self {
            WordType::U16 => bits == 0xFFFF,
            WordType::I16 => bits == 0x8000,
            WordType::U32 => bits == 0xFFFF_FFFF,
            WordType::I32 => bits == 0x8000_0000,
            WordType::U64 => bits == u64::MAX,
            WordType::Acc32 | WordType::Acc64 => bits == 0,
            WordType::Float32 => f32::from_bits(bits as u32).is_nan(),
        }
    }

    /// True for types that can carry a fractional part.
    pub fn is_float(self) -> bool {
        self == WordType::Float32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_types_decode_through_their_raw_bits() {
        let order = WordOrder::HighFirst;
        let bits = WordType::I32.raw_bits(&[0xFFFF, 0xFF38], order).unwrap();
        assert_eq!(WordType::I32.value(bits), -200.0);
        let bits = WordType::I16.raw_bits(&[0xFFFE], order).unwrap();
        assert_eq!(WordType::I16.value(bits), -2.0);
        assert_eq!(WordType::U64.raw_bits(&[1, 2, 3], order), None);
        assert_eq!(WordType::parse("f32"), Some(WordType::Float32));
        assert_eq!(WordType::parse("int32"), None);
    }

    #[test]
    fn word_type_sentinels_match_the_sunspec_table() {
        assert!(WordType::I16.is_sunspec_sentinel(0x8000));
        assert!(WordType::Acc32.is_sunspec_sentinel(0));
        assert!(WordType::Float32.is_sunspec_sentinel(0x7FC0_0000));
        assert!(!WordType::U32.is_sunspec_sentinel(0));
    }
}
