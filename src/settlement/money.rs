//! Money: amounts in 元 as exact decimals, or as whole fen (分) in an `i64`.
//!
//! Settlement must give the same fen on every screen, statement and export, so there is one
//! rounding rule (to 0.01 元, half away from zero: 四舍五入) and it lives here. Arithmetic
//! that has already been rounded is done in integer fen, where overflow is checked rather than
//! wrapping. Amounts typed by people are parsed strictly: "12.345" is an error, never a
//! silent rounding, because a third decimal on a money field is a typing mistake.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use thiserror::Error;

/// What was wrong with a money string, for [`MoneyError::Malformed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseProblem {
    /// Nothing to parse.
    Empty,
    /// A character other than an ASCII digit, one leading `-` and one `.`.
    BadCharacter,
    /// No digit before the decimal point, as in ".5" or "-".
    MissingInteger,
    /// A decimal point with no digit after it, as in "5.".
    MissingFraction,
    /// More than two digits after the decimal point.
    TooManyDecimals,
}

impl ParseProblem {
    /// The problem in Chinese, for messages shown to finance staff.
    pub fn zh(self) -> &'static str {
        match self {
            Self::Empty => "为空",
            Self::BadCharacter => "只能包含数字、一个负号和一个小数点",
            Self::MissingInteger => "小数点前缺少数字",
            Self::MissingFraction => "小数点后缺少数字",
            Self::TooManyDecimals => "最多两位小数（到分）",
        }
    }

    /// The problem in English.
    pub fn en(self) -> &'static str {
        match self {
            Self::Empty => "it is empty",
            Self::BadCharacter => "only digits, one leading minus sign and one decimal point",
            Self::MissingInteger => "no digit before the decimal point",
            Self::MissingFraction => "no digit after the decimal point",
            Self::TooManyDecimals => "at most 2 decimals (to the fen)",
        }
    }
}

/// Errors of money conversion and parsing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MoneyError {
    /// The amount does not fit in `i64` fen (or in a `Decimal` on the way there).
    #[error("金额 {amount} 超出可表示范围 (amount {amount} is out of range)")]
    OutOfRange {
        /// The amount as given.
        amount: String,
    },
    /// The amount has digits below the fen where whole fen were required.
    #[error("金额 {amount} 元含有不足一分的部分 (amount {amount} yuan has a fraction of a fen)")]
    SubFen {
        /// The amount as given.
        amount: Decimal,
    },
    /// The string is not a plain amount with at most two decimals.
    #[error("金额“{input}”格式错误：{} (malformed amount {input:?}: {})", .problem.zh(), .problem.en())]
    Malformed {
        /// The string as given.
        input: String,
        /// What was wrong with it.
        problem: ParseProblem,
    },
}

/// Rounds an amount in 元 to the fen, half away from zero (四舍五入), with scale 2.
///
/// `Decimal::round_dp` rounds half to even (banker's rounding), which differs from what
/// Chinese accounting expects (0.125 → 0.13, -0.125 → -0.13), hence the explicit strategy.
/// A result of zero is returned as plain `0.00`, never as negative zero.
pub fn round_fen(amount: Decimal) -> Decimal {
    let mut rounded = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    if rounded.is_zero() {
        return Decimal::new(0, 2);
    }
    rounded.rescale(2);
    rounded
}

/// Converts an amount in 元 that is already whole fen to integer fen.
///
/// Fails with [`MoneyError::SubFen`] if a digit below the fen is non-zero, and with
/// [`MoneyError::OutOfRange`] if the result does not fit in `i64`.
pub fn to_fen(amount: Decimal) -> Result<i64, MoneyError> {
    let out_of_range = || MoneyError::OutOfRange {
        amount: amount.to_string(),
    };
    let fen = amount
        .checked_mul(Decimal::ONE_HUNDRED)
        .ok_or_else(out_of_range)?;
    if !fen.fract().is_zero() {
        return Err(MoneyError::SubFen { amount });
    }
    fen.to_i64().ok_or_else(out_of_range)
}

/// Rounds an amount in 元 with [`round_fen`] and returns it as integer fen.
pub fn round_to_fen(amount: Decimal) -> Result<i64, MoneyError> {
    to_fen(round_fen(amount))
}

/// Converts integer fen to 元 with scale 2 (so 150 fen displays as "1.50"). Never fails:
/// every `i64` fits in a `Decimal`.
pub fn from_fen(fen: i64) -> Decimal {
    Decimal::new(fen, 2)
}

/// Formats integer fen as 元 with exactly two decimals, e.g. `-5` → "-0.05".
pub fn format_fen(fen: i64) -> String {
    from_fen(fen).to_string()
}

/// Parses a money string in 元 strictly into integer fen.
///
/// Accepted: an optional leading `-`, at least one digit, then optionally `.` and one or two
/// digits ("12", "12.5", "-0.05"). Rejected: whitespace, `+`, exponents, thousands
/// separators, a bare or trailing point, and a third decimal. Trim input before calling.
pub fn parse_fen(input: &str) -> Result<i64, MoneyError> {
    let malformed = |problem| MoneyError::Malformed {
        input: input.to_owned(),
        problem,
    };
    if input.is_empty() {
        return Err(malformed(ParseProblem::Empty));
    }
    let (negative, body) = match input.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, input),
    };
    let (integer, fraction) = match body.split_once('.') {
        Some((integer, fraction)) => (integer, Some(fraction)),
        None => (body, None),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(integer) || !fraction.is_none_or(all_digits) {
        return Err(malformed(ParseProblem::BadCharacter));
    }
    if integer.is_empty() {
        return Err(malformed(ParseProblem::MissingInteger));
    }
    let fraction = fraction.unwrap_or("00");
    if fraction.is_empty() {
        return Err(malformed(ParseProblem::MissingFraction));
    }
    if fraction.len() > 2 {
        return Err(malformed(ParseProblem::TooManyDecimals));
    }

    let out_of_range = || MoneyError::OutOfRange {
        amount: input.to_owned(),
    };
    // Digits of the integer part, then the fraction padded to two digits: "3.5" is 350 fen.
    let digits = integer
        .bytes()
        .chain(fraction.bytes())
        .chain(std::iter::repeat_n(b'0', 2 - fraction.len()));
    let mut magnitude: i128 = 0;
    for digit in digits {
        magnitude = magnitude
            .checked_mul(10)
            .and_then(|m| m.checked_add(i128::from(digit - b'0')))
            .ok_or_else(out_of_range)?;
    }
    let signed = if negative { -magnitude } else { magnitude };
    i64::try_from(signed).map_err(|_| out_of_range())
}

/// Parses a money string in 元 strictly (see [`parse_fen`]) into a `Decimal` with scale 2.
pub fn parse_yuan(input: &str) -> Result<Decimal, MoneyError> {
    parse_fen(input).map(from_fen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn round_fen_rounds_half_away_from_zero_not_to_even() {
        assert_eq!(round_fen(d("0.125")), d("0.13"));
        assert_eq!(round_fen(d("0.135")), d("0.14"));
        assert_eq!(round_fen(d("-0.125")), d("-0.13"));
        assert_eq!(round_fen(d("2.5")).to_string(), "2.50");
    }

    #[test]
    fn round_fen_rounds_below_half_down_and_above_half_up() {
        assert_eq!(round_fen(d("1.0049999")), d("1.00"));
        assert_eq!(round_fen(d("1.0050001")), d("1.01"));
        assert_eq!(round_fen(d("-1.0049")), d("-1.00"));
    }

    #[test]
    fn round_fen_always_gives_two_decimals_and_no_negative_zero() {
        assert_eq!(round_fen(d("7")).to_string(), "7.00");
        assert_eq!(round_fen(d("-0.004")).to_string(), "0.00");
        assert!(!round_fen(d("-0.004")).is_sign_negative());
    }

    #[test]
    fn to_fen_accepts_whole_fen_and_rejects_fractions_of_a_fen() {
        assert_eq!(to_fen(d("1234.56")), Ok(123_456));
        assert_eq!(to_fen(d("-0.05")), Ok(-5));
        assert_eq!(to_fen(d("3.1000")), Ok(310));
        assert_eq!(
            to_fen(d("0.001")),
            Err(MoneyError::SubFen { amount: d("0.001") })
        );
    }

    #[test]
    fn to_fen_reports_amounts_too_large_for_i64() {
        let too_big = d("92233720368547758.08");
        assert!(matches!(
            to_fen(too_big),
            Err(MoneyError::OutOfRange { .. })
        ));
        assert_eq!(to_fen(d("92233720368547758.07")), Ok(i64::MAX));
        assert_eq!(to_fen(d("-92233720368547758.08")), Ok(i64::MIN));
    }

    #[test]
    fn round_to_fen_rounds_then_converts() {
        assert_eq!(round_to_fen(d("171.995")), Ok(17_200));
        assert_eq!(round_to_fen(d("-171.994")), Ok(-17_199));
    }

    #[test]
    fn from_fen_and_format_fen_show_two_decimals() {
        assert_eq!(from_fen(150), d("1.5"));
        assert_eq!(format_fen(150), "1.50");
        assert_eq!(format_fen(-5), "-0.05");
        assert_eq!(format_fen(0), "0.00");
    }

    #[test]
    fn parse_fen_accepts_plain_amounts_with_up_to_two_decimals() {
        assert_eq!(parse_fen("12"), Ok(1200));
        assert_eq!(parse_fen("12.5"), Ok(1250));
        assert_eq!(parse_fen("12.05"), Ok(1205));
        assert_eq!(parse_fen("-0.05"), Ok(-5));
        assert_eq!(parse_fen("0"), Ok(0));
        assert_eq!(parse_yuan("1000.50"), Ok(d("1000.50")));
    }

    #[test]
    fn parse_fen_rejects_each_malformed_shape_with_the_reason() {
        let cases = [
            ("", ParseProblem::Empty),
            ("12.345", ParseProblem::TooManyDecimals),
            ("1,000", ParseProblem::BadCharacter),
            (" 12", ParseProblem::BadCharacter),
            ("+12", ParseProblem::BadCharacter),
            ("1e3", ParseProblem::BadCharacter),
            ("1.2.3", ParseProblem::BadCharacter),
            ("--1", ParseProblem::BadCharacter),
            (".5", ParseProblem::MissingInteger),
            ("-", ParseProblem::MissingInteger),
            ("5.", ParseProblem::MissingFraction),
        ];
        for (input, problem) in cases {
            let expected = MoneyError::Malformed {
                input: input.to_owned(),
                problem,
            };
            assert_eq!(parse_fen(input), Err(expected), "input {input:?}");
        }
    }

    #[test]
    fn parse_fen_reports_overflow_instead_of_wrapping() {
        assert_eq!(parse_fen("92233720368547758.07"), Ok(i64::MAX));
        assert_eq!(parse_fen("-92233720368547758.08"), Ok(i64::MIN));
        let err = parse_fen("92233720368547758.08").unwrap_err();
        assert!(matches!(err, MoneyError::OutOfRange { .. }));
        let err = parse_fen(&"9".repeat(60)).unwrap_err();
        assert!(matches!(err, MoneyError::OutOfRange { .. }));
    }

    #[test]
    fn error_messages_are_chinese_first_then_english() {
        let message = parse_fen("1.234").unwrap_err().to_string();
        assert_eq!(
            message,
            "金额“1.234”格式错误：最多两位小数（到分） \
             (malformed amount \"1.234\": at most 2 decimals (to the fen))"
        );
    }
}
