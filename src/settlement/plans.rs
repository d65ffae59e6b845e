//! `pvledger plan import FILE.csv`: each village's yearly use plan (村级收益使用计划):
//! village_code, year, jobs, works, rewards [, other] in percent. A plan under the
//! configured floor for public-welfare jobs, or not summing to 100, is refused with a clear
//! message; same encodings and error rules as the ledger import.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rust_decimal::Decimal;

use super::plan::{PlanRules, UsePlan};
use super::store_types::PlanRow;
use crate::audit::AuditEntry;
use crate::ledger::columns::Column;
use crate::ledger::encoding;
use crate::ledger::fields::{Fields, LineError, checks, for_each_row};
use crate::ledger::model::AreaLevel;
use crate::store::{Dec, Store, dispatch_tx};

pub const COLUMNS: &[Column] = &[
    Column {
        name: "village_code",
        zh: "村编码",
        required: true,
    },
    Column {
        name: "year",
        zh: "年度",
        required: true,
    },
    Column {
        name: "jobs",
        zh: "公益岗位",
        required: true,
    },
    Column {
        name: "works",
        zh: "小型公益事业",
        required: true,
    },
    Column {
        name: "rewards",
        zh: "奖励补助",
        required: true,
    },
    Column {
        name: "other",
        zh: "其他",
        required: false,
    },
];

/// Parses a plan file, pure: `villages` are the ledger's village codes.
pub fn parse(
    file: &str,
    text: &str,
    villages: &HashSet<String>,
    rules: &PlanRules,
) -> Result<Vec<PlanRow>, Vec<LineError>> {
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    let mut first: HashMap<(String, i32), u64> = HashMap::new();
    for_each_row(file, text, COLUMNS, &mut errors, |f| {
        let village = f.code("village_code", true);
        if let Some(v) = &village
            && !villages.contains(v)
        {
            f.error("village_code", format!("{v} is not a known village"));
        }
        let year = f.int("year", 2015, 2100);
        if year.is_none() && f.ok() {
            f.error("year", "required value is empty");
        }
        let pct = |f: &mut Fields, c: &str, required: bool| {
            f.decimal(c, required, 4, checks::non_negative).map(|d| d.0)
        };
        let (jobs, works, rewards) = (
            pct(f, "jobs", true),
            pct(f, "works", true),
            pct(f, "rewards", true),
        );
        let other = pct(f, "other", false).unwrap_or(Decimal::ZERO);
        if let (Some(jobs), Some(works), Some(rewards)) = (jobs, works, rewards) {
            for problem in (UsePlan {
                jobs,
                works,
                rewards,
                other,
            })
            .problems(rules)
            {
                f.error("jobs", problem.to_string());
            }
        }
        if let (Some(v), Some(y)) = (&village, year) {
            let line = f.line;
            if let Some(at) = first.insert((v.clone(), y), line) {
                f.error(
                    "year",
                    format!("{v} {y} appears twice (first on line {at})"),
                );
            }
        }
        if let (Some(village_code), Some(year), Some(jobs), Some(works), Some(rewards), true) =
            (village, year, jobs, works, rewards, f.ok())
        {
            rows.push(PlanRow {
                village_code,
                year,
                jobs: Dec(jobs),
                works: Dec(works),
                rewards: Dec(rewards),
                other: Dec(other),
            });
        }
    });
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// Imports a plan file in one transaction with its audit entry; returns the rows written.
pub async fn import_file(
    store: &Store,
    path: &Path,
    rules: &PlanRules,
    actor: &str,
) -> Result<usize, super::grid::FileImportError> {
    use super::grid::FileImportError as E;
    let bytes = std::fs::read(path).map_err(|e| E::Read(path.display().to_string(), e))?;
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    import_bytes(
        store,
        &file,
        &bytes,
        &path.display().to_string(),
        rules,
        actor,
    )
    .await
}

/// Like [`import_file`] for a file's bytes; `subject` names the source in the audit log.
pub async fn import_bytes(
    store: &Store,
    file: &str,
    bytes: &[u8],
    subject: &str,
    rules: &PlanRules,
    actor: &str,
) -> Result<usize, super::grid::FileImportError> {
    use super::grid::FileImportError as E;
    let file = file.to_owned();
    let text = encoding::decode(bytes)
        .map_err(|reason| {
            E::Invalid(vec![LineError {
                file: file.clone(),
                line: 1,
                column: "-".into(),
                reason,
            }])
        })?
        .0;
    let mut tx = store.begin().await?;
    let villages: HashSet<String> = dispatch_tx!(&mut tx, ledger::load_all())?
        .areas
        .into_iter()
        .filter(|a| a.level == AreaLevel::Village)
        .map(|a| a.code)
        .collect();
    let rows = parse(&file, &text, &villages, rules).map_err(E::Invalid)?;
    let stored = dispatch_tx!(&mut tx, settle::all_plans())?;
    let changed: Vec<&PlanRow> = rows.iter().filter(|r| !stored.contains(r)).collect();
    for r in &changed {
        dispatch_tx!(&mut tx, settle::upsert_plan(r))?;
    }
    if !changed.is_empty() {
        let entry = AuditEntry {
            actor: actor.to_owned(),
            action: "plan.import".into(),
            subject: subject.to_owned(),
            detail: serde_json::json!({ "plans": changed }),
        };
        dispatch_tx!(&mut tx, audit::append(&entry))?;
        tx.commit().await?;
    }
    Ok(changed.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_under_the_floor_or_not_summing_to_100_is_refused_with_its_place() {
        let rules = PlanRules {
            jobs_floor_percent: Decimal::from(80),
            other_allowed: false,
        };
        let villages: HashSet<String> = ["V1".to_owned(), "V2".to_owned()].into();
        let text = "村编码,年度,公益岗位,小型公益事业,奖励补助\nV1,2026,80,15,5\nV2,2026,60,30,10\nV1,2027,80,10,5\n";
        let errors: Vec<String> = parse("plans.csv", text, &villages, &rules)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(
            errors[0].starts_with("plans.csv:3: 公益岗位: 公益岗位比例 60% 低于下限 80%"),
            "{errors:#?}"
        );
        assert!(
            errors[1].starts_with("plans.csv:4: 公益岗位:"),
            "{errors:#?}"
        );
    }
}
