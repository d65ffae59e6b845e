//! Settlement periods: one calendar month, written "YYYY-MM".
//!
//! The grid company settles on-grid energy monthly, subsidies are receivable per month, and
//! receipts pay the oldest month first, so the month is the unit every settlement figure is
//! keyed by. Ordering is chronological (year, then month), which is what "oldest first" needs.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// Errors building or parsing a [`Period`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PeriodError {
    /// The string is not exactly four digits, `-`, two digits.
    #[error("月份“{input}”格式错误，应为 YYYY-MM (malformed period {input:?}, expected YYYY-MM)")]
    Malformed {
        /// The string as given.
        input: String,
    },
    /// The month is not 1 to 12.
    #[error("月份 {month} 不在 1–12 之间 (month {month} is not between 1 and 12)")]
    MonthOutOfRange {
        /// The month as given.
        month: u32,
    },
    /// The year cannot be written with four digits.
    #[error("年份 {year} 不在 1–9999 之间 (year {year} is not between 1 and 9999)")]
    YearOutOfRange {
        /// The year as given.
        year: i32,
    },
}

/// A calendar month, the unit of settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    // Field order matters: the derived ordering is by year, then month.
    year: i32,
    month: u32,
}

impl Period {
    /// Builds a period; the year must be 1..=9999 (so it always prints as four digits) and
    /// the month 1..=12.
    pub fn new(year: i32, month: u32) -> Result<Self, PeriodError> {
        if !(1..=9999).contains(&year) {
            return Err(PeriodError::YearOutOfRange { year });
        }
        if !(1..=12).contains(&month) {
            return Err(PeriodError::MonthOutOfRange { month });
        }
        Ok(Self { year, month })
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// The month, 1..=12.
    pub fn month(self) -> u32 {
        self.month
    }

    /// The following month, or `None` after 9999-12.
    pub fn next(self) -> Option<Self> {
        if self.month == 12 {
            Self::new(self.year + 1, 1).ok()
        } else {
            Some(Self {
                month: self.month + 1,
                ..self
            })
        }
    }

    /// The preceding month, or `None` before 0001-01.
    pub fn prev(self) -> Option<Self> {
        if self.month == 1 {
            Self::new(self.year - 1, 12).ok()
        } else {
            Some(Self {
                month: self.month - 1,
                ..self
            })
        }
    }

    /// The first day of the month as `(year, month, 1)`, for building a calendar date.
    pub fn first_day(self) -> (i32, u32, u32) {
        (self.year, self.month, 1)
    }

    /// The number of days in the month (Gregorian leap years).
    pub fn days_in_month(self) -> u32 {
        match self.month {
            4 | 6 | 9 | 11 => 30,
            2 if is_leap_year(self.year) => 29,
            2 => 28,
            _ => 31,
        }
    }
}

fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Period {
    type Err = PeriodError;

    /// Parses exactly "YYYY-MM": "2024-3" and "2024-003" are rejected so that a period has
    /// one spelling and string keys compare like periods.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let malformed = || PeriodError::Malformed {
            input: input.to_owned(),
        };
        let bytes = input.as_bytes();
        let shape_ok = bytes.len() == 7
            && bytes[4] == b'-'
            && bytes[..4].iter().all(u8::is_ascii_digit)
            && bytes[5..].iter().all(u8::is_ascii_digit);
        if !shape_ok {
            return Err(malformed());
        }
        let year = input[..4].parse().map_err(|_| malformed())?;
        let month = input[5..].parse().map_err(|_| malformed())?;
        Self::new(year, month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(year: i32, month: u32) -> Period {
        Period::new(year, month).unwrap()
    }

    #[test]
    fn a_period_parses_and_prints_as_yyyy_mm() {
        let period: Period = "2024-03".parse().unwrap();
        assert_eq!(period, p(2024, 3));
        assert_eq!(period.to_string(), "2024-03");
        assert_eq!(p(987, 1).to_string(), "0987-01");
    }

    #[test]
    fn parsing_rejects_other_spellings_and_impossible_months() {
        for input in [
            "2024-3", "2024-003", "24-03", "2024/03", "2024-03 ", "", "abcd-ef",
        ] {
            assert_eq!(
                input.parse::<Period>(),
                Err(PeriodError::Malformed {
                    input: input.to_owned()
                }),
                "input {input:?}"
            );
        }
        assert_eq!(
            "2024-13".parse::<Period>(),
            Err(PeriodError::MonthOutOfRange { month: 13 })
        );
        assert_eq!(
            "2024-00".parse::<Period>(),
            Err(PeriodError::MonthOutOfRange { month: 0 })
        );
        assert_eq!(
            "0000-01".parse::<Period>(),
            Err(PeriodError::YearOutOfRange { year: 0 })
        );
    }

    #[test]
    fn periods_order_by_year_then_month() {
        assert!(p(2023, 12) < p(2024, 1));
        assert!(p(2024, 2) < p(2024, 11));
        let mut periods = vec![p(2024, 11), p(2023, 12), p(2024, 2)];
        periods.sort();
        assert_eq!(periods, vec![p(2023, 12), p(2024, 2), p(2024, 11)]);
    }

    #[test]
    fn next_and_prev_cross_year_boundaries() {
        assert_eq!(p(2024, 12).next(), Some(p(2025, 1)));
        assert_eq!(p(2024, 5).next(), Some(p(2024, 6)));
        assert_eq!(p(2025, 1).prev(), Some(p(2024, 12)));
        assert_eq!(p(2025, 7).prev(), Some(p(2025, 6)));
    }

    #[test]
    fn next_and_prev_stop_at_the_ends_of_the_four_digit_range() {
        assert_eq!(p(9999, 12).next(), None);
        assert_eq!(p(1, 1).prev(), None);
    }

    #[test]
    fn first_day_and_days_in_month_follow_the_gregorian_calendar() {
        assert_eq!(p(2024, 2).first_day(), (2024, 2, 1));
        assert_eq!(p(2024, 2).days_in_month(), 29);
        assert_eq!(p(2023, 2).days_in_month(), 28);
        assert_eq!(p(1900, 2).days_in_month(), 28);
        assert_eq!(p(2000, 2).days_in_month(), 29);
        assert_eq!(p(2024, 4).days_in_month(), 30);
        assert_eq!(p(2024, 12).days_in_month(), 31);
    }
}
