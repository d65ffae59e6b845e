//! `pvledger grid import FILE.csv`: the grid company's monthly statements (settled on-grid
//! energy per station), the basis of all money. Same encodings and error rules as the
//! ledger import: every problem reported as `file:line: column: reason`, all or nothing,
//! re-importing the same file changes nothing, and every change is audited with the
//! figures before and after.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::Utc;
use serde::Serialize;

use crate::audit::AuditEntry;
use crate::ledger::columns::Column;
use crate::ledger::fields::{LineError, checks, for_each_row, read_text};
use crate::settlement::period::Period;
use crate::store::{Dec, Store, Ts, dispatch_tx};

/// One station's statement for one month.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct GridStatement {
    pub station_code: String,
    /// 'YYYY-MM'.
    pub period: String,
    pub export_kwh: Dec,
    pub benchmark_paid: Option<Dec>,
    pub reference: Option<String>,
}

/// The columns of a grid statement file.
pub const COLUMNS: &[Column] = &[
    Column {
        name: "station_code",
        zh: "电站编码",
        required: true,
    },
    Column {
        name: "period",
        zh: "结算月份",
        required: true,
    },
    Column {
        name: "export_kwh",
        zh: "上网电量",
        required: true,
    },
    Column {
        name: "benchmark_paid",
        zh: "燃煤电费",
        required: false,
    },
    Column {
        name: "reference",
        zh: "结算单号",
        required: false,
    },
];

/// Why a single-file import (grid statements, use plans) changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum FileImportError {
    #[error("{} problem(s) found; nothing was changed:\n{}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<LineError>),
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("database error during import (nothing was changed): {0}")]
    Store(#[from] sqlx::Error),
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GridImportReport {
    pub new: usize,
    pub changed: usize,
    pub unchanged: usize,
}

/// Parses a statement file's text, pure. `stations` are the ledger's station codes.
pub fn parse(
    file: &str,
    text: &str,
    stations: &HashSet<String>,
) -> Result<Vec<GridStatement>, Vec<LineError>> {
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    let mut first: HashMap<(String, String), u64> = HashMap::new();
    for_each_row(file, text, COLUMNS, &mut errors, |f| {
        let station = f.code("station_code", true);
        if let Some(code) = &station
            && !stations.contains(code)
        {
            f.error("station_code", format!("{code} is not a known station"));
        }
        let period = f
            .required("period")
            .and_then(|p| match p.parse::<Period>() {
                Ok(period) => Some(period.to_string()),
                Err(_) => {
                    f.error("period", format!("{p:?} is not a month (YYYY-MM)"));
                    None
                }
            });
        let export_kwh = f.decimal("export_kwh", true, 3, checks::non_negative);
        let benchmark_paid = f.decimal("benchmark_paid", false, 2, checks::non_negative);
        let reference = f.text("reference");
        if let (Some(s), Some(p)) = (&station, &period) {
            let line = f.line;
            if let Some(at) = first.insert((s.clone(), p.clone()), line) {
                f.error(
                    "period",
                    format!("{s} {p} appears twice (first on line {at})"),
                );
            }
        }
        if let (Some(station_code), Some(period), Some(export_kwh), true) =
            (station, period, export_kwh, f.ok())
        {
            rows.push(GridStatement {
                station_code,
                period,
                export_kwh,
                benchmark_paid,
                reference,
            });
        }
    });
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// Imports a statement file in one transaction with its audit entry.
pub async fn import_file(
    store: &Store,
    path: &Path,
    actor: &str,
) -> Result<GridImportReport, FileImportError> {
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
    let stored: HashMap<(String, String), GridStatement> = dispatch_tx!(&mut tx, grid::all())?
        .into_iter()
        .map(|s| ((s.station_code.clone(), s.period.clone()), s))
        .collect();
    let mut report = GridImportReport::default();
    let mut changes = Vec::new();
    let now = Ts(Utc::now());
    for row in rows {
        let before = stored.get(&(row.station_code.clone(), row.period.clone()));
        match before {
            Some(b) if *b == row => {
                report.unchanged += 1;
                continue;
            }
            Some(_) => report.changed += 1,
            None => report.new += 1,
        }
        dispatch_tx!(&mut tx, grid::upsert(&row, now))?;
        changes.push(serde_json::json!({
            "station": row.station_code, "period": row.period,
            "before_kwh": before.map(|b| b.export_kwh), "after_kwh": row.export_kwh,
        }));
    }
    if !changes.is_empty() {
        let entry = AuditEntry {
            actor: actor.to_owned(),
            action: "grid.import".into(),
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

    fn stations() -> HashSet<String> {
        ["S-1".to_owned(), "S-2".to_owned()].into()
    }

    #[test]
    fn a_statement_file_parses_with_chinese_headers() {
        let text = "电站编码,结算月份,上网电量(kWh),燃煤电费（元）,结算单号\nS-1,2026-10,38456.7,12767.62,GS-2026-10-001\n";
        let rows = parse("grid.csv", text, &stations()).unwrap();
        assert_eq!(rows[0].export_kwh.to_string(), "38456.7");
        assert_eq!(rows[0].benchmark_paid.unwrap().to_string(), "12767.62");
    }

    #[test]
    fn every_problem_is_reported_with_its_place() {
        let text = "station_code,period,export_kwh,benchmark_paid\nS-9,2026-10,1,\nS-1,2026-13,-5,1.234\nS-2,2026-10,1,\nS-2,2026-10,2,\n";
        let errors: Vec<String> = parse("grid.csv", text, &stations())
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        for e in [
            "grid.csv:2: station_code: S-9 is not a known station",
            "grid.csv:3: period: \"2026-13\" is not a month (YYYY-MM)",
            "grid.csv:3: export_kwh: -5: must not be negative",
            "grid.csv:3: benchmark_paid: 1.234 has more than 2 decimals",
            "grid.csv:5: period: S-2 2026-10 appears twice (first on line 4)",
        ] {
            assert!(
                errors.iter().any(|g| g == e),
                "missing {e:?} in {errors:#?}"
            );
        }
    }
}
