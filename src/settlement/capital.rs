//! Chinese capital numerals for amounts (大写金额), as written on vouchers and statements.
//!
//! Printed statements that villages stamp and post carry the amount in capitals, which
//! cannot be altered by adding a stroke. The rules followed are those of the People's Bank
//! of China, 《正确填写票据和结算凭证的基本规定》 (annex to 《支付结算办法》, 1997):
//!
//! - Digits 零壹贰叁肆伍陆柒捌玖, units 拾佰仟万亿, then 元角分. A leading ten is written
//!   "壹拾" (10 → 壹拾元整), as on all financial documents.
//! - An amount ending at 元 gets "整"; after 角 "整" may be omitted and is omitted here;
//!   after 分 it is never written.
//! - Zeros between non-zero digits are written as one "零", however many there are
//!   (1005.07 → 壹仟零伍元零柒分; 1010000 → 壹佰零壹万元整).
//! - Where the 万 or 元 digit is zero but the next lower digit is not, the rules allow either
//!   one "零" or none. We write none at a section boundary whose lower section still has its
//!   thousands digit (107000 → 壹拾万柒仟元), and none between 元 and 角 (1000.50 →
//!   壹仟元伍角); a lower section without its thousands digit does get "零" (10010 →
//!   壹万零壹拾元整), since that zero is internal to the number.
//! - When 角 is zero and 分 is not, "零" is required after 元 (325.04 → 叁佰贰拾伍元零肆分).
//! - Below one 元 the amount starts at its first non-zero unit (0.05 → 伍分); zero is
//!   "零元整"; a negative amount is prefixed with "负".

use rust_decimal::Decimal;

use crate::settlement::money::{MoneyError, to_fen};

const DIGITS: [char; 10] = ['零', '壹', '贰', '叁', '肆', '伍', '陆', '柒', '捌', '玖'];

/// Writes an amount in integer fen in Chinese capitals, e.g. 123456789 fen →
/// "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分". Every `i64` is accepted.
pub fn capital_from_fen(fen: i64) -> String {
    let magnitude = fen.unsigned_abs();
    let yuan = magnitude / 100;
    let jiao = (magnitude / 10 % 10) as usize;
    let fen_digit = (magnitude % 10) as usize;

    let mut out = String::new();
    if fen < 0 {
        out.push('负');
    }
    if yuan > 0 {
        write_integer(&mut out, yuan);
        out.push('元');
    }
    match (jiao, fen_digit) {
        (0, 0) if yuan == 0 => out.push_str("零元整"),
        (0, 0) => out.push('整'),
        (0, f) => {
            if yuan > 0 {
                out.push('零');
            }
            out.push(DIGITS[f]);
            out.push('分');
        }
        (j, f) => {
            out.push(DIGITS[j]);
            out.push('角');
            if f > 0 {
                out.push(DIGITS[f]);
                out.push('分');
            }
        }
    }
    out
}

/// Writes an amount in 元 in Chinese capitals. The amount must be whole fen: a capital
/// amount is a legal statement of a sum, so rounding is the caller's explicit choice.
pub fn capital(amount: Decimal) -> Result<String, MoneyError> {
    to_fen(amount).map(capital_from_fen)
}

/// Writes `n > 0` in capitals without the 元. Sections of 亿 (10^8) then 万 (10^4) are split
/// off recursively, so 10^12 comes out as "壹万亿".
fn write_integer(out: &mut String, n: u64) {
    const SECTIONS: [(u64, char); 2] = [(100_000_000, '亿'), (10_000, '万')];
    for (size, name) in SECTIONS {
        if n >= size {
            write_integer(out, n / size);
            out.push(name);
            let low = n % size;
            if low > 0 {
                // The low section lacks its leading digit: the gap is an internal zero.
                if low < size / 10 {
                    out.push('零');
                }
                write_integer(out, low);
            }
            return;
        }
    }
    write_group(out, n);
}

/// Writes `1 <= n <= 9999` with 仟佰拾, one "零" for each run of internal zeros.
fn write_group(out: &mut String, n: u64) {
    const UNITS: [(u64, &str); 4] = [(1000, "仟"), (100, "佰"), (10, "拾"), (1, "")];
    let mut started = false;
    let mut pending_zero = false;
    for (place, unit) in UNITS {
        let digit = (n / place % 10) as usize;
        if digit == 0 {
            pending_zero = started;
            continue;
        }
        if pending_zero {
            out.push('零');
            pending_zero = false;
        }
        out.push(DIGITS[digit]);
        out.push_str(unit);
        started = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settlement::money::parse_fen;

    fn cap(amount: &str) -> String {
        capital_from_fen(parse_fen(amount).unwrap())
    }

    #[test]
    fn whole_amounts_end_with_zheng() {
        assert_eq!(cap("100"), "壹佰元整");
        assert_eq!(cap("1"), "壹元整");
        assert_eq!(cap("10"), "壹拾元整");
        assert_eq!(cap("15"), "壹拾伍元整");
        assert_eq!(cap("10000"), "壹万元整");
        assert_eq!(cap("100000"), "壹拾万元整");
        assert_eq!(cap("100000000"), "壹亿元整");
    }

    #[test]
    fn the_full_example_has_every_unit() {
        assert_eq!(cap("1234567.89"), "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分");
    }

    #[test]
    fn amounts_ending_in_jiao_have_no_zheng_and_no_zero_after_yuan() {
        assert_eq!(cap("1000.50"), "壹仟元伍角");
        assert_eq!(cap("20.3"), "贰拾元叁角");
        assert_eq!(cap("1409.50"), "壹仟肆佰零玖元伍角");
    }

    #[test]
    fn zero_jiao_before_non_zero_fen_writes_ling() {
        assert_eq!(cap("1005.07"), "壹仟零伍元零柒分");
        assert_eq!(cap("16409.02"), "壹万陆仟肆佰零玖元零贰分");
        assert_eq!(cap("325.04"), "叁佰贰拾伍元零肆分");
    }

    #[test]
    fn runs_of_internal_zeros_collapse_to_one_ling() {
        assert_eq!(cap("6007.14"), "陆仟零柒元壹角肆分");
        assert_eq!(cap("1001"), "壹仟零壹元整");
        assert_eq!(cap("1010"), "壹仟零壹拾元整");
        assert_eq!(cap("1100"), "壹仟壹佰元整");
        assert_eq!(cap("10010"), "壹万零壹拾元整");
        assert_eq!(cap("1010000"), "壹佰零壹万元整");
        assert_eq!(cap("100000001"), "壹亿零壹元整");
        assert_eq!(cap("100010000"), "壹亿零壹万元整");
        assert_eq!(cap("101000000"), "壹亿零壹佰万元整");
    }

    #[test]
    fn a_section_boundary_before_a_thousands_digit_writes_no_ling() {
        assert_eq!(cap("107000.53"), "壹拾万柒仟元伍角叁分");
        assert_eq!(cap("1680.32"), "壹仟陆佰捌拾元叁角贰分");
        assert_eq!(cap("110000000"), "壹亿壹仟万元整");
        assert_eq!(cap("12345678"), "壹仟贰佰叁拾肆万伍仟陆佰柒拾捌元整");
    }

    #[test]
    fn amounts_below_one_yuan_start_at_the_first_non_zero_unit() {
        assert_eq!(cap("0.05"), "伍分");
        assert_eq!(cap("0.5"), "伍角");
        assert_eq!(cap("0.58"), "伍角捌分");
        assert_eq!(cap("0"), "零元整");
    }

    #[test]
    fn negative_amounts_are_prefixed_with_fu() {
        assert_eq!(cap("-1000.50"), "负壹仟元伍角");
        assert_eq!(cap("-0.05"), "负伍分");
    }

    #[test]
    fn amounts_of_ten_thousand_yi_and_the_i64_extremes_are_written() {
        assert_eq!(cap("1000000000000"), "壹万亿元整");
        assert_eq!(cap("1000100000000"), "壹万零壹亿元整");
        assert_eq!(cap("1000000010000"), "壹万亿零壹万元整");
        assert_eq!(
            capital_from_fen(i64::MAX),
            "玖亿贰仟贰佰叁拾叁万柒仟贰佰零叁亿陆仟捌佰伍拾肆万柒仟柒佰伍拾捌元零柒分"
        );
        assert_eq!(
            capital_from_fen(i64::MIN),
            "负玖亿贰仟贰佰叁拾叁万柒仟贰佰零叁亿陆仟捌佰伍拾肆万柒仟柒佰伍拾捌元零捌分"
        );
    }

    #[test]
    fn capital_takes_a_decimal_and_refuses_fractions_of_a_fen() {
        use std::str::FromStr;
        assert_eq!(
            capital(Decimal::from_str("20.30").unwrap()).unwrap(),
            "贰拾元叁角"
        );
        let err = capital(Decimal::from_str("20.305").unwrap()).unwrap_err();
        assert!(matches!(err, MoneyError::SubFen { .. }));
    }

    /// Reads capitals back into fen, independently of the writer, for the round-trip test.
    fn read_capital(text: &str) -> i64 {
        let (mut above_yi, mut wan, mut section, mut digit) = (0i128, 0i128, 0i128, 0i128);
        let (mut yuan, mut jiao_fen, mut sign) = (0i128, 0i128, 1i128);
        for c in text.chars() {
            if let Some(value) = DIGITS.iter().position(|&d| d == c) {
                digit = value as i128;
                continue;
            }
            match c {
                '负' => sign = -1,
                '拾' => section += digit * 10,
                '佰' => section += digit * 100,
                '仟' => section += digit * 1000,
                '万' => (wan, section) = (wan + (section + digit) * 10_000, 0),
                '亿' => {
                    above_yi = (above_yi + wan + section + digit) * 100_000_000;
                    (wan, section) = (0, 0);
                }
                '元' => yuan = above_yi + wan + section + digit,
                '角' => jiao_fen += digit * 10,
                '分' => jiao_fen += digit,
                '整' => {}
                other => panic!("unexpected character {other} in {text}"),
            }
            digit = 0;
        }
        i64::try_from(sign * (yuan * 100 + jiao_fen)).unwrap()
    }

    proptest::proptest! {
        #[test]
        fn capitals_read_back_to_the_same_amount(fen in proptest::prelude::any::<i64>()) {
            let text = capital_from_fen(fen);
            proptest::prop_assert_eq!(read_capital(&text), fen, "{}", text);
        }

        #[test]
        fn capitals_never_double_or_dangle_a_ling(fen in -10_000_000_000_000i64..10_000_000_000_000) {
            let text = capital_from_fen(fen);
            proptest::prop_assert!(!text.contains("零零"), "{}", text);
            for unit in ["零万", "零亿", "零角", "零分", "零整"] {
                proptest::prop_assert!(!text.contains(unit), "{}", text);
            }
            if fen != 0 {
                proptest::prop_assert!(!text.contains("零元"), "{}", text);
            }
        }
    }
}
