//! Reading one CSV record field by field, recording every problem with its file, line and
//! column instead of stopping at the first one.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::columns::{self, Column};
use crate::store::Dec;

/// One problem in an import file, shown as `file:line: column: reason`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineError {
    pub file: String,
    pub line: u64,
    pub column: String,
    pub reason: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.column, self.reason
        )
    }
}

/// Where each known column sits in a file, and the header text it was given as.
#[derive(Debug)]
pub struct Header {
    index: HashMap<&'static str, (usize, String)>,
}

impl Header {
    /// Maps a header row onto `spec`. Unknown and missing required columns are errors on
    /// line 1, since a misspelt header would otherwise drop a column silently.
    pub fn new(
        file: &str,
        spec: &[Column],
        headers: &csv::StringRecord,
        errors: &mut Vec<LineError>,
    ) -> Self {
        let mut index = HashMap::new();
        for (i, h) in headers.iter().enumerate() {
            let err = |reason: String| LineError {
                file: file.into(),
                line: 1,
                column: h.trim().into(),
                reason,
            };
            if h.trim().is_empty() {
                continue;
            }
            match columns::lookup(spec, h) {
                Some(c) if index.contains_key(c.name) => {
                    errors.push(err(format!("column {} appears twice", c.name)))
                }
                Some(c) => {
                    index.insert(c.name, (i, h.trim().to_owned()));
                }
                None => errors.push(err(format!(
                    "unknown column; expected one of: {}",
                    spec.iter()
                        .map(|c| format!("{} ({})", c.name, c.zh))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            }
        }
        for c in spec
            .iter()
            .filter(|c| c.required && !index.contains_key(c.name))
        {
            errors.push(LineError {
                file: file.into(),
                line: 1,
                column: c.name.into(),
                reason: format!("required column missing (header {} or {})", c.name, c.zh),
            });
        }
        Header { index }
    }

    pub fn has(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }
}

impl Fields<'_> {
    /// True when the file has this column.
    pub fn has_column(&self, name: &str) -> bool {
        self.header.has(name)
    }
}

/// A record being read, with the error list it reports into.
pub struct Fields<'a> {
    pub file: &'a str,
    pub line: u64,
    record: &'a csv::StringRecord,
    header: &'a Header,
    errors: &'a mut Vec<LineError>,
    errors_before: usize,
}

impl<'a> Fields<'a> {
    pub fn new(
        file: &'a str,
        record: &'a csv::StringRecord,
        header: &'a Header,
        errors: &'a mut Vec<LineError>,
    ) -> Self {
        let line = record.position().map_or(0, |p| p.line());
        let errors_before = errors.len();
        Fields {
            file,
            line,
            record,
            header,
            errors,
            errors_before,
        }
    }

    /// True when no field of this record had a problem so far.
    pub fn ok(&self) -> bool {
        self.errors.len() == self.errors_before
    }

    /// Records a problem with `column` of this record.
    pub fn error(&mut self, column: &str, reason: impl Into<String>) {
        let column = self
            .header
            .index
            .get(column)
            .map_or(column.to_owned(), |(_, h)| h.clone());
        self.errors.push(LineError {
            file: self.file.into(),
            line: self.line,
            column,
            reason: reason.into(),
        });
    }

    fn raw(&self, column: &str) -> Option<&'a str> {
        let (i, _) = self.header.index.get(column)?;
        self.record.get(*i).map(str::trim).filter(|s| !s.is_empty())
    }

    /// An optional text value (empty cells are None).
    pub fn text(&mut self, column: &str) -> Option<String> {
        self.raw(column).map(str::to_owned)
    }

    /// A text value that must be present. A column missing from the header was already
    /// reported once on line 1, so it is not reported again on every row.
    pub fn required(&mut self, column: &str) -> Option<String> {
        let v = self.text(column);
        if v.is_none() && self.header.has(column) {
            self.error(column, "required value is empty");
        }
        v
    }

    /// A code: 1-64 letters, digits, '-', '_' or '.', so it is safe in URLs and file names.
    pub fn code(&mut self, column: &str, required: bool) -> Option<String> {
        let v = if required {
            self.required(column)
        } else {
            self.text(column)
        }?;
        let valid = v.len() <= 64
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !valid {
            self.error(
                column,
                format!("{v:?} is not a valid code (1-64 letters, digits, '-', '_' or '.')"),
            );
            return None;
        }
        Some(v)
    }

    /// One of a closed set of values, in English or Chinese.
    pub fn choice<T>(
        &mut self,
        column: &str,
        required: bool,
        parse: fn(&str) -> Option<T>,
        expected: fn() -> String,
    ) -> Option<T> {
        let v = if required {
            self.required(column)
        } else {
            self.text(column)
        }?;
        let parsed = parse(&v);
        if parsed.is_none() {
            self.error(column, format!("{v:?} is not one of: {}", expected()));
        }
        parsed
    }

    /// An exact decimal with at most `max_dp` decimals, checked by `check`.
    pub fn decimal(
        &mut self,
        column: &str,
        required: bool,
        max_dp: u32,
        check: fn(Decimal) -> Result<(), String>,
    ) -> Option<Dec> {
        let v = if required {
            self.required(column)
        } else {
            self.text(column)
        }?;
        match Decimal::from_str_exact(&v) {
            Err(_) => {
                self.error(
                    column,
                    format!("{v:?} is not a decimal number (use '.' and no thousands separators)"),
                );
                None
            }
            Ok(d) if d.normalize().scale() > max_dp => {
                self.error(column, format!("{v} has more than {max_dp} decimals"));
                None
            }
            Ok(d) => match check(d) {
                Ok(()) => Some(Dec(d)),
                Err(reason) => {
                    self.error(column, format!("{v}: {reason}"));
                    None
                }
            },
        }
    }

    /// An optional number within `min..=max` (`max_exclusive` makes the upper bound open).
    pub fn float(
        &mut self,
        column: &str,
        min: f64,
        max: f64,
        max_exclusive: bool,
        what: &str,
    ) -> Option<f64> {
        let v = self.text(column)?;
        match f64::from_str(&v) {
            Ok(x) if x.is_finite() && x >= min && (x < max || (!max_exclusive && x == max)) => {
                Some(x)
            }
            Ok(_) => {
                let upper = if max_exclusive { ")" } else { "]" };
                self.error(
                    column,
                    format!("{v} is outside [{min}, {max}{upper} ({what})"),
                );
                None
            }
            Err(_) => {
                self.error(column, format!("{v:?} is not a number"));
                None
            }
        }
    }

    /// An optional integer within `min..=max`.
    pub fn int(&mut self, column: &str, min: i32, max: i32) -> Option<i32> {
        let v = self.text(column)?;
        match i32::from_str(&v) {
            Ok(x) if (min..=max).contains(&x) => Some(x),
            _ => {
                self.error(
                    column,
                    format!("{v:?} is not a whole number from {min} to {max}"),
                );
                None
            }
        }
    }

    /// A date written YYYY-MM-DD or YYYY/M/D (as Chinese Excel writes it).
    pub fn date(&mut self, column: &str, required: bool) -> Option<NaiveDate> {
        let v = if required {
            self.required(column)
        } else {
            self.text(column)
        }?;
        let parsed = NaiveDate::parse_from_str(&v, "%Y-%m-%d")
            .or_else(|_| NaiveDate::parse_from_str(&v, "%Y/%m/%d"));
        match parsed {
            Ok(d) => Some(d),
            Err(_) => {
                self.error(column, format!("{v:?} is not a date (YYYY-MM-DD)"));
                None
            }
        }
    }
}

/// Reads every data row of a CSV text against `spec`: maps the header (reporting unknown
/// and missing columns on line 1), skips blank lines, reports an unreadable row and stops
/// there, and hands each row to `each`. The shared loop of every CSV import.
pub fn for_each_row(
    file: &str,
    text: &str,
    spec: &[Column],
    errors: &mut Vec<LineError>,
    mut each: impl FnMut(&mut Fields),
) {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = match reader.headers() {
        Ok(h) => Header::new(file, spec, h, errors),
        Err(e) => {
            errors.push(LineError {
                file: file.into(),
                line: 1,
                column: "-".into(),
                reason: format!("unreadable header: {e}"),
            });
            return;
        }
    };
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) if record.iter().all(|f| f.trim().is_empty()) => continue,
            Ok(true) => each(&mut Fields::new(file, &record, &header, errors)),
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(LineError {
                    file: file.into(),
                    line,
                    column: "-".into(),
                    reason: format!("unreadable CSV: {e}"),
                });
                break;
            }
        }
    }
}

/// Reads an import file: its name for messages and its text in whichever encoding Chinese
/// Excel or an editor saved it (an undecodable file is one error on line 1).
pub fn read_text(path: &std::path::Path) -> std::io::Result<(String, Result<String, LineError>)> {
    let bytes = std::fs::read(path)?;
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let text = super::encoding::decode(&bytes)
        .map(|(t, _)| t)
        .map_err(|reason| LineError {
            file: file.clone(),
            line: 1,
            column: "-".into(),
            reason,
        });
    Ok((file, text))
}

/// Checks for [`Fields::decimal`].
pub mod checks {
    use rust_decimal::Decimal;

    pub fn positive(d: Decimal) -> Result<(), String> {
        if d > Decimal::ZERO {
            Ok(())
        } else {
            Err("must be greater than 0".into())
        }
    }

    pub fn non_negative(d: Decimal) -> Result<(), String> {
        if d >= Decimal::ZERO {
            Ok(())
        } else {
            Err("must not be negative".into())
        }
    }

    /// A tariff in 元/kWh: above 0 and at most 2 (no Chinese PV tariff ever came near).
    pub fn price(d: Decimal) -> Result<(), String> {
        if d > Decimal::ZERO && d <= Decimal::TWO {
            Ok(())
        } else {
            Err("a price must be above 0 and at most 2 元/kWh".into())
        }
    }

    /// A share of a station's income: above 0, at most 1.
    pub fn share(d: Decimal) -> Result<(), String> {
        if d > Decimal::ZERO && d <= Decimal::ONE {
            Ok(())
        } else {
            Err("a share must be above 0 and at most 1".into())
        }
    }
}
