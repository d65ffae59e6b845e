//! The assessment page's period picker: a month, a quarter, a year or a range of days,
//! turned into the inclusive dates the assessment takes. Pure, so it is tested here; a
//! period that reaches past today ends today (the future has no readings to assess).

use chrono::{Datelike, NaiveDate};

/// What the picker asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Month,
    Quarter,
    Year,
    Range,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "month" => Some(Kind::Month),
            "quarter" => Some(Kind::Quarter),
            "year" => Some(Kind::Year),
            "range" => Some(Kind::Range),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Month => "month",
            Kind::Quarter => "quarter",
            Kind::Year => "year",
            Kind::Range => "range",
        }
    }
}

/// The picker's fields as the form sends them (all optional: the page opens on this month).
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct Pick {
    pub kind: Option<String>,
    /// `2026-10` (month), `2026-Q3` (quarter) or `2026` (year).
    pub at: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub county: Option<String>,
}

/// A resolved period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub kind: Kind,
    /// The picker's value as it is shown again (`2026-10`, `2026-Q3`, `2026`, or empty).
    pub at: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

fn month_end(year: i32, month: u32) -> Option<NaiveDate> {
    let (y, m) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)?.pred_opt()
}

fn date(field: &str, v: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").map_err(|_| {
        format!("{field} 日期 {v:?} 无效，应为 YYYY-MM-DD ({field}: not a date, YYYY-MM-DD)")
    })
}

/// Resolves the picker against `today`; the error names the field and the expected form.
pub fn resolve(p: &Pick, today: NaiveDate) -> Result<Resolved, String> {
    let kind = match p.kind.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        None => Kind::Month,
        Some(k) => Kind::parse(k).ok_or_else(|| {
            format!("期间类型 {k:?} 无效，应为 month/quarter/year/range (unknown period kind)")
        })?,
    };
    let at = p.at.as_deref().map(str::trim).unwrap_or_default();
    let bad =
        |expected: &str| format!("期间 {at:?} 无效，应为 {expected} (period: expected {expected})");
    let (at, from, to) = match kind {
        Kind::Month => {
            let at = if at.is_empty() {
                format!("{:04}-{:02}", today.year(), today.month())
            } else {
                at.to_owned()
            };
            let first = NaiveDate::parse_from_str(&format!("{at}-01"), "%Y-%m-%d")
                .map_err(|_| bad("YYYY-MM"))?;
            let last = month_end(first.year(), first.month()).ok_or_else(|| bad("YYYY-MM"))?;
            (at, first, last)
        }
        Kind::Quarter => {
            let at = if at.is_empty() {
                format!("{}-Q{}", today.year(), today.month0() / 3 + 1)
            } else {
                at.to_uppercase()
            };
            let (y, q) = at.split_once("-Q").ok_or_else(|| bad("YYYY-Qn"))?;
            let y: i32 = y.parse().map_err(|_| bad("YYYY-Qn"))?;
            let q: u32 = q
                .parse()
                .ok()
                .filter(|q| (1..=4).contains(q))
                .ok_or_else(|| bad("YYYY-Qn"))?;
            let first = NaiveDate::from_ymd_opt(y, 3 * q - 2, 1).ok_or_else(|| bad("YYYY-Qn"))?;
            let last = month_end(y, 3 * q).ok_or_else(|| bad("YYYY-Qn"))?;
            (at, first, last)
        }
        Kind::Year => {
            let at = if at.is_empty() {
                today.year().to_string()
            } else {
                at.to_owned()
            };
            let y: i32 = at.parse().map_err(|_| bad("YYYY"))?;
            let first = NaiveDate::from_ymd_opt(y, 1, 1).ok_or_else(|| bad("YYYY"))?;
            let last = NaiveDate::from_ymd_opt(y, 12, 31).ok_or_else(|| bad("YYYY"))?;
            (at, first, last)
        }
        Kind::Range => {
            let from = match p.from.as_deref().filter(|v| !v.trim().is_empty()) {
                Some(v) => date("from", v)?,
                None => today - chrono::Duration::days(29),
            };
            let to = match p.to.as_deref().filter(|v| !v.trim().is_empty()) {
                Some(v) => date("to", v)?,
                None => today,
            };
            (String::new(), from, to)
        }
    };
    if from > today {
        return Err(format!(
            "期间从 {from} 开始，尚未到来 (the period starts after today, {today})"
        ));
    }
    Ok(Resolved {
        kind,
        at,
        from,
        to: to.min(today),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn pick(kind: &str, at: &str) -> Pick {
        Pick {
            kind: Some(kind.into()),
            at: Some(at.into()),
            ..Pick::default()
        }
    }

    #[test]
    fn a_month_quarter_and_year_cover_their_days_and_stop_at_today() {
        let today = d("2026-11-15");
        let m = resolve(&pick("month", "2026-02"), today).unwrap();
        assert_eq!((m.from, m.to), (d("2026-02-01"), d("2026-02-28")));
        let q = resolve(&pick("quarter", "2026-q4"), today).unwrap();
        assert_eq!(
            (q.from, q.to, q.at.as_str()),
            (d("2026-10-01"), today, "2026-Q4")
        );
        let y = resolve(&pick("year", "2025"), today).unwrap();
        assert_eq!((y.from, y.to), (d("2025-01-01"), d("2025-12-31")));
    }

    #[test]
    fn the_page_opens_on_this_month_and_a_range_defaults_to_thirty_days() {
        let today = d("2026-12-31");
        let m = resolve(&Pick::default(), today).unwrap();
        assert_eq!(
            (m.kind, m.at.as_str(), m.from),
            (Kind::Month, "2026-12", d("2026-12-01"))
        );
        let r = resolve(&pick("range", ""), today).unwrap();
        assert_eq!((r.from, r.to), (d("2026-12-02"), today));
    }

    #[test]
    fn bad_values_name_the_field_and_the_expected_form() {
        let today = d("2026-11-15");
        assert!(
            resolve(&pick("quarter", "2026-Q5"), today)
                .unwrap_err()
                .contains("YYYY-Qn")
        );
        assert!(
            resolve(&pick("month", "10/2026"), today)
                .unwrap_err()
                .contains("YYYY-MM")
        );
        assert!(
            resolve(&pick("week", ""), today)
                .unwrap_err()
                .contains("week")
        );
        let r = Pick {
            kind: Some("range".into()),
            from: Some("2026-13-01".into()),
            ..Pick::default()
        };
        assert!(resolve(&r, today).unwrap_err().contains("from"));
        assert!(
            resolve(&pick("year", "2027"), today)
                .unwrap_err()
                .contains("尚未到来")
        );
    }
}
