//! Errors from loading a profile, worded for the person who edits the TOML file.
//!
//! A county IT person fixing a profile needs to know which point and what is wrong, so
//! every point error carries the point's position, field and address as written.

/// A profile that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Not TOML, a missing or misspelt key, or a value of the wrong kind.
    #[error("profile file is not a valid profile: {0}")]
    Toml(#[from] toml::de::Error),
    /// A profile-wide setting is wrong.
    #[error("profile {profile:?}: {problem}")]
    Profile {
        /// Profile name.
        profile: String,
        /// What is wrong.
        problem: ProfileProblem,
    },
    /// One point is wrong.
    #[error("profile {profile:?}, point #{index} ({field} at {address}): {problem}")]
    Point {
        /// Profile name.
        profile: String,
        /// 1-based position of the point in the file.
        index: usize,
        /// The point's `field` as written.
        field: String,
        /// The point's `address` as written.
        address: u32,
        /// What is wrong.
        problem: PointProblem,
    },
}

/// What is wrong with a profile-wide setting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProfileProblem {
    /// `register_kind` is not holding or input.
    #[error("register_kind {0:?} is not \"holding\" or \"input\"")]
    UnknownRegisterKind(String),
    /// `address_base` is not 0 or 1.
    #[error("address_base {0} must be 0 (protocol addresses) or 1 (1-based documents)")]
    BadAddressBase(u32),
    /// `word_order` is not recognised.
    #[error("word_order {0:?} is not \"high_first\" (ABCD) or \"low_first\" (CDAB)")]
    UnknownWordOrder(String),
    /// `max_registers_per_read` outside 1..=125.
    #[error("max_registers_per_read {0} must be between 1 and 125")]
    BadMaxRegisters(u32),
    /// `max_gap` larger than a read.
    #[error("max_gap {0} must be smaller than max_registers_per_read")]
    BadMaxGap(u32),
    /// An `[invalid]` key is not a type name.
    #[error("[invalid] key {0:?} is not a type (u16, i16, u32, i32, u64, acc32, acc64, float32)")]
    UnknownInvalidType(String),
    /// The profile has no points.
    #[error("the profile has no [[points]]")]
    NoPoints,
}

/// What is wrong with one point.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PointProblem {
    /// `field` is not a [`Field`](crate::reading::Field) name.
    #[error(
        "unknown field {0:?}; expected a Reading field such as ac_power_w, energy_total_kwh, status"
    )]
    UnknownField(String),
    /// `type` is not a [`WordType`](crate::modbus::words::WordType) name.
    #[error("unknown type {0:?}; expected u16, i16, u32, i32, u64, acc32, acc64 or float32")]
    UnknownType(String),
    /// `word_order` override is not recognised.
    #[error("word_order {0:?} is not \"high_first\" (ABCD) or \"low_first\" (CDAB)")]
    UnknownWordOrder(String),
    /// Both `gain` and `scale` are given.
    #[error("both gain (divide) and scale (multiply) given; keep one")]
    GainAndScale,
    /// `gain`/`scale` is zero, negative zero, NaN or infinite.
    #[error("gain/scale {0} must be a finite, non-zero number")]
    BadFactor(f64),
    /// `gain`, `scale` or `abs` on a status or fault point.
    #[error("gain, scale and abs only apply to numeric fields")]
    FactorOnCode,
    /// `unit` differs from the field's unit.
    #[error(
        "unit {unit:?} but the field is in {expected:?}; fold the conversion into gain or scale"
    )]
    UnitMismatch {
        /// Unit written.
        unit: String,
        /// The field's unit (`""` for status/fault fields).
        expected: String,
    },
    /// The address is below the profile's base.
    #[error("address is below the profile's address_base {0}")]
    BelowBase(u16),
    /// The point runs past register 65535.
    #[error("the point runs past register 65535")]
    PastAddressSpace,
    /// The point is wider than one read.
    #[error("{len} registers do not fit in max_registers_per_read = {max}")]
    TooLong {
        /// Registers of the point.
        len: u16,
        /// The profile's limit.
        max: u16,
    },
    /// The point shares registers with another.
    #[error("overlaps point #{other} ({other_field})")]
    Overlap {
        /// 1-based index of the other point.
        other: usize,
        /// Its field.
        other_field: String,
    },
    /// Two points feed the same field.
    #[error("field already filled by point #{0}")]
    DuplicateField(usize),
    /// A status point has no `status_map`.
    #[error("a status point needs a [points.status_map] (vendor code = \"running\", ...)")]
    MissingStatusMap,
    /// `status_map` on a non-status point.
    #[error("status_map is only allowed on the status field")]
    StatusMapNotAllowed,
    /// `fault_text`/`fault_bits` on a non-fault point.
    #[error("fault_text and fault_bits are only allowed on the fault_code field")]
    FaultOptionNotAllowed,
    /// Status and fault codes must be integers.
    #[error("status and fault codes need an integer type, not {0}")]
    FloatCode(&'static str),
    /// A map key is not an integer.
    #[error("code {0:?} is not an integer (decimal or 0x hex)")]
    BadCode(String),
    /// A `status_map` value is not a status name.
    #[error("{0}")]
    BadStatus(#[from] crate::reading::UnknownStatus),
}
