//! Per-station deduction terms (运维费、租金、保险、税费), effective-dated: a station's O&M
//! contract, land rent and insurance differ from station to station and change over time.
//! A row holds only what differs from the county's defaults (configuration); an empty
//! cell means "the county default". The row in force on the first day of a month applies
//! to the whole month, like tariffs and shares.
//!
//! `pvledger deductions import FILE.csv` reads them with the ledger's encodings and error
//! rules (every problem as `file:line: column: reason`, all or nothing, audited).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use super::grid::FileImportError;
use crate::audit::AuditEntry;
use crate::ledger::columns::Column;
use crate::ledger::fields::{LineError, checks, for_each_row, read_text};
use crate::ledger::model::in_force;
use crate::store::{Dec, Store, Ts, dispatch_tx};

/// How O&M is charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OmCharge {
    /// 元 per kWp (DC) per year, charged monthly: round(rate × kWp / 12).
    PerKwpYear(Decimal),
    /// A percentage of the month's income.
    PercentOfIncome(Decimal),
}

/// The deduction terms that apply to one station in one month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Terms {
    pub om: OmCharge,
    pub land_rent_yuan_per_year: Decimal,
    pub insurance_yuan_per_year: Decimal,
    /// VAT rate on tax-inclusive income, e.g. 0.13.
    pub vat_rate: Decimal,
    /// Share of the VAT refunded (即征即退), e.g. 0.5.
    pub vat_refund_share: Decimal,
}

/// One stored row: a station's terms from `valid_from` on; `None` = county default.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct StationTermsRow {
    pub station_code: String,
    pub valid_from: NaiveDate,
    pub om_yuan_per_kwp_year: Option<Dec>,
    pub om_percent: Option<Dec>,
    pub land_rent_yuan_per_year: Option<Dec>,
    pub insurance_yuan_per_year: Option<Dec>,
    pub vat_rate: Option<Dec>,
    pub vat_refund_share: Option<Dec>,
    pub note: Option<String>,
}

/// The terms of a station on `day`: its row in force that day over the county defaults.
pub fn effective(rows: &[&StationTermsRow], day: NaiveDate, defaults: &Terms) -> Terms {
    let Some(row) = in_force(rows, day, |r| r.valid_from).first().copied() else {
        return *defaults;
    };
    let or = |v: Option<Dec>, d: Decimal| v.map_or(d, |x| x.0);
    let om = match (row.om_yuan_per_kwp_year, row.om_percent) {
        (Some(rate), _) => OmCharge::PerKwpYear(rate.0),
        (None, Some(p)) => OmCharge::PercentOfIncome(p.0),
        (None, None) => defaults.om,
    };
    Terms {
        om,
        land_rent_yuan_per_year: or(
            row.land_rent_yuan_per_year,
            defaults.land_rent_yuan_per_year,
        ),
        insurance_yuan_per_year: or(
            row.insurance_yuan_per_year,
            defaults.insurance_yuan_per_year,
        ),
        vat_rate: or(row.vat_rate, defaults.vat_rate),
        vat_refund_share: or(row.vat_refund_share, defaults.vat_refund_share),
    }
}

/// The columns of a deduction terms file.
pub const COLUMNS: &[Column] = &[
    Column {
        name: "station_code",
        zh: "电站编码",
        required: true,
    },
    Column {
        name: "valid_from",
        zh: "生效日期",
        required: true,
    },
    Column {
        name: "om_yuan_per_kwp_year",
        zh: "运维费单价",
        required: false,
    },
    Column {
        name: "om_percent",
        zh: "运维费比例",
        required: false,
    },
    Column {
        name: "land_rent_yuan_per_year",
        zh: "土地租金",
        required: false,
    },
    Column {
        name: "insurance_yuan_per_year",
        zh: "保险费",
        required: false,
    },
    Column {
        name: "vat_rate",
        zh: "增值税率",
        required: false,
    },
    Column {
        name: "vat_refund_share",
        zh: "即征即退比例",
        required: false,
    },
    Column {
        name: "note",
        zh: "备注",
        required: false,
    },
];

/// A share or rate between 0 and 1.
fn fraction(d: Decimal) -> Result<(), String> {
    if d >= Decimal::ZERO && d <= Decimal::ONE {
        Ok(())
    } else {
        Err("must be between 0 and 1 (e.g. 0.13 for 13 %)".into())
    }
}

fn percent(d: Decimal) -> Result<(), String> {
    if d >= Decimal::ZERO && d <= Decimal::ONE_HUNDRED {
        Ok(())
    } else {
        Err("must be a percentage between 0 and 100".into())
    }
}

/// Parses a terms file's text, pure. `stations` are the ledger's station codes.
pub fn parse(
    file: &str,
    text: &str,
    stations: &HashSet<String>,
) -> Result<Vec<StationTermsRow>, Vec<LineError>> {
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    let mut first: HashMap<(String, NaiveDate), u64> = HashMap::new();
    for_each_row(file, text, COLUMNS, &mut errors, |f| {
        let station = f.code("station_code", true);
        if let Some(code) = &station
            && !stations.contains(code)
        {
            f.error("station_code", format!("{code} is not a known station"));
        }
        let valid_from = f.date("valid_from", true);
        let om_rate = f.decimal("om_yuan_per_kwp_year", false, 4, checks::non_negative);
        let om_percent = f.decimal("om_percent", false, 4, percent);
        if om_rate.is_some() && om_percent.is_some() {
            f.error(
                "om_percent",
                "give O&M either per kWp (om_yuan_per_kwp_year) or as a percentage, not both",
            );
        }
        let land = f.decimal("land_rent_yuan_per_year", false, 2, checks::non_negative);
        let insurance = f.decimal("insurance_yuan_per_year", false, 2, checks::non_negative);
        let vat_rate = f.decimal("vat_rate", false, 4, fraction);
        let vat_refund_share = f.decimal("vat_refund_share", false, 4, fraction);
        let note = f.text("note");
        if let (Some(s), Some(d)) = (&station, valid_from) {
            let line = f.line;
            if let Some(at) = first.insert((s.clone(), d), line) {
                f.error(
                    "valid_from",
                    format!("{s} {d} appears twice (first on line {at})"),
                );
            }
        }
        if let (Some(station_code), Some(valid_from), true) = (station, valid_from, f.ok()) {
            rows.push(StationTermsRow {
                station_code,
                valid_from,
                om_yuan_per_kwp_year: om_rate,
                om_percent,
                land_rent_yuan_per_year: land,
                insurance_yuan_per_year: insurance,
                vat_rate,
                vat_refund_share,
                note,
            });
        }
    });
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TermsImportReport {
    pub new: usize,
    pub changed: usize,
    pub unchanged: usize,
}

/// Imports a terms file in one transaction with its audit entry (before and after).
pub async fn import_file(
    store: &Store,
    path: &Path,
    actor: &str,
) -> Result<TermsImportReport, FileImportError> {
    let (file, text) =
        read_text(path).map_err(|e| FileImportError::Read(path.display().to_string(), e))?;
    let text = text.map_err(|e| FileImportError::Invalid(vec![e]))?;
    let mut tx = store.begin().await?;
    let stations: HashSet<String> = dispatch_tx!(&mut tx, ledger::load_all())?
        .stations
        .into_iter()
        .map(|s| s.code)
        .collect();
    let rows = parse(&file, &text, &stations).map_err(FileImportError::Invalid)?;
    let stored: HashMap<(String, NaiveDate), StationTermsRow> =
        dispatch_tx!(&mut tx, settle::all_terms())?
            .into_iter()
            .map(|r| ((r.station_code.clone(), r.valid_from), r))
            .collect();
    let mut report = TermsImportReport::default();
    let mut changes = Vec::new();
    for row in rows {
        let before = stored.get(&(row.station_code.clone(), row.valid_from));
        match before {
            Some(b) if *b == row => {
                report.unchanged += 1;
                continue;
            }
            Some(_) => report.changed += 1,
            None => report.new += 1,
        }
        dispatch_tx!(&mut tx, settle::upsert_terms(&row, Ts(Utc::now())))?;
        changes.push(serde_json::json!({ "before": before, "after": row }));
    }
    if !changes.is_empty() {
        let entry = AuditEntry {
            actor: actor.to_owned(),
            action: "deductions.import".into(),
            subject: path.display().to_string(),
            detail: serde_json::json!({ "report": report, "changes": changes }),
        };
        dispatch_tx!(&mut tx, audit::append(&entry))?;
        tx.commit().await?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn defaults() -> Terms {
        Terms {
            om: OmCharge::PerKwpYear(d("30")),
            land_rent_yuan_per_year: d("0"),
            insurance_yuan_per_year: d("0"),
            vat_rate: d("0"),
            vat_refund_share: d("0"),
        }
    }

    fn row(from: &str, om_percent: Option<&str>, land: Option<&str>) -> StationTermsRow {
        StationTermsRow {
            station_code: "S-1".into(),
            valid_from: from.parse().unwrap(),
            om_yuan_per_kwp_year: None,
            om_percent: om_percent.map(|p| Dec(d(p))),
            land_rent_yuan_per_year: land.map(|l| Dec(d(l))),
            insurance_yuan_per_year: None,
            vat_rate: None,
            vat_refund_share: None,
            note: None,
        }
    }

    #[test]
    fn the_row_in_force_on_the_day_overrides_only_what_it_states() {
        let a = row("2026-01-01", None, Some("12000"));
        let b = row("2026-07-01", Some("8"), None);
        let rows = [&a, &b];
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            effective(&rows, day("2025-12-01"), &defaults()),
            defaults(),
            "before any row: the county defaults"
        );
        let h1 = effective(&rows, day("2026-06-01"), &defaults());
        assert_eq!(h1.om, OmCharge::PerKwpYear(d("30")));
        assert_eq!(h1.land_rent_yuan_per_year, d("12000"));
        // From July the O&M contract is 8 % of income; rent falls back to the default,
        // because a row states the whole set of terms from its date.
        let h2 = effective(&rows, day("2026-07-01"), &defaults());
        assert_eq!(h2.om, OmCharge::PercentOfIncome(d("8")));
        assert_eq!(h2.land_rent_yuan_per_year, d("0"));
    }

    #[test]
    fn a_terms_file_parses_with_chinese_headers_and_reports_every_problem() {
        let stations: HashSet<String> = ["S-1".to_owned()].into();
        let ok = "电站编码,生效日期,运维费单价(元/kWp/年),运维费比例(%),土地租金(元/年),保险费(元/年),增值税率,即征即退比例\nS-1,2026-01-01,25,,12000,1800,0.13,0.5\n";
        let rows = parse("terms.csv", ok, &stations).unwrap();
        assert_eq!(rows[0].om_yuan_per_kwp_year, Some(Dec(d("25"))));
        assert_eq!(rows[0].vat_rate, Some(Dec(d("0.13"))));

        let bad = "station_code,valid_from,om_yuan_per_kwp_year,om_percent,vat_rate\nS-9,2026-01-01,,,\nS-1,2026-02-30,25,5,13\nS-1,2026-03-01,-1,,\nS-1,2026-03-01,,,\n";
        let errors: Vec<String> = parse("terms.csv", bad, &stations)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        for e in [
            "terms.csv:2: station_code: S-9 is not a known station",
            "terms.csv:3: om_percent: give O&M either per kWp (om_yuan_per_kwp_year) or as a percentage, not both",
            "terms.csv:3: vat_rate: 13: must be between 0 and 1 (e.g. 0.13 for 13 %)",
            "terms.csv:4: om_yuan_per_kwp_year: -1: must not be negative",
            "terms.csv:5: valid_from: S-1 2026-03-01 appears twice (first on line 4)",
        ] {
            assert!(
                errors.iter().any(|g| g == e),
                "missing {e:?} in {errors:#?}"
            );
        }
        assert!(
            errors
                .iter()
                .any(|g| g.starts_with("terms.csv:3: valid_from:")),
            "{errors:#?}"
        );
    }
}
