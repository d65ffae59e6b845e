//! The settlement commands as an operator runs them: summaries in Chinese first, problems
//! one per line, exit code 2 for input to fix.

use std::path::Path;

use super::grid::FileImportError;
use super::period::Period;
use super::run::{self, SettleError};
use crate::audit::cli_actor;
use crate::cli::EXIT_BAD_INPUT;
use crate::config::Config;
use crate::store::Store;

/// `pvledger settle`.
pub async fn settle(
    store: &Store,
    config: &Config,
    period: &str,
    county: Option<&str>,
    export: Option<&Path>,
) -> anyhow::Result<i32> {
    let Ok(period) = period.parse::<Period>() else {
        eprintln!("--period {period:?} 不是月份 (is not a month, YYYY-MM)");
        return Ok(EXIT_BAD_INPUT);
    };
    let (row, computed) =
        match run::settle(store, &config.settlement, county, period, &cli_actor()).await {
            Ok(r) => r,
            Err(e @ SettleError::Store(_)) => return Err(e.into()),
            Err(e) => {
                eprintln!("{e}");
                return Ok(EXIT_BAD_INPUT);
            }
        };
    println!(
        "结算 / settlement #{} {} {} ({}，{})",
        row.id, row.county_code, row.period, row.status, row.income_mode
    );
    println!(
        "{:<20} {:>12} {:<9} {:>14} {:>12} {:>14}",
        "电站 station", "电量 kWh", "来源", "收入 income", "扣除 deduct", "可分配 distrib."
    );
    for s in &computed.stations {
        let income = s.benchmark_income_fen
            + if row.income_mode == "accrued" {
                s.subsidy_accrued_fen
            } else {
                s.subsidy_received_fen
            };
        let flag = if s.reconcile_flag {
            "  ⚠ 对账差异 reconcile"
        } else {
            ""
        };
        println!(
            "{:<20} {:>12} {:<9} {:>14} {:>12} {:>14}{flag}",
            s.station_code,
            s.energy_kwh,
            s.energy_source.as_str(),
            super::money::format_fen(income),
            super::money::format_fen(s.deductions_fen),
            super::money::format_fen(s.distributable_fen),
        );
    }
    println!(
        "合计可分配 / total distributable: {} 元 ({})",
        super::money::format_fen(computed.distributable_fen),
        super::capital::capital_from_fen(computed.distributable_fen)
    );
    if computed.adjustments_fen != 0 {
        let lines = super::export::load(store, row.id).await?;
        println!("往期调整 / adjustments of earlier months:");
        for a in &lines.adjustments {
            println!(
                "  {} #{} {} {} {:>12} 元  {}",
                a.original_period,
                a.original_settlement_id,
                a.station_code,
                a.village_code,
                format!("{:.2}", a.amount_yuan.0),
                a.reason
            );
        }
        println!(
            "调整合计 / adjustments total: {} 元; 本期发放 / paid to villages this month: {} 元",
            super::money::format_fen(computed.adjustments_fen),
            super::money::format_fen(computed.distributable_fen + computed.adjustments_fen)
        );
    }
    if let Some(dir) = export {
        return export_documents(store, config, &row, dir).await;
    }
    Ok(0)
}

/// Writes the CSV files, the workbook and one PDF statement per village into `dir`.
async fn export_documents(
    store: &Store,
    config: &Config,
    row: &super::store_types::SettlementRow,
    dir: &Path,
) -> anyhow::Result<i32> {
    use anyhow::Context;
    let lines = super::export::load(store, row.id).await?;
    for path in super::export::write(dir, row, &lines)? {
        println!("{}", path.display());
    }
    let names = super::names::Names::from_ledger(&store.load_ledger().await?);
    let adjustments: Vec<super::workbook::AdjustmentLine> =
        lines.adjustments.iter().map(Into::into).collect();
    let xlsx = super::workbook::render(row, &lines, &names, &adjustments)?;
    let path = dir.join(super::workbook::file_name(row));
    std::fs::write(&path, xlsx).with_context(|| format!("writing {}", path.display()))?;
    println!("{}", path.display());

    let fonts = match crate::report::font::load(&config.report.font_path, config.report.font_index)
    {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return Ok(EXIT_BAD_INPUT);
        }
    };
    let villages_dir = dir.join("villages");
    std::fs::create_dir_all(&villages_dir)
        .with_context(|| format!("creating {}", villages_dir.display()))?;
    let started = std::time::Instant::now();
    let codes = super::statement::villages(&lines);
    for code in &codes {
        let st = super::statement::Statement::build(row, &lines, &names, code)?;
        let pdf = super::statement::render(&st, &fonts)?;
        let path = villages_dir.join(format!("{code}.pdf"));
        std::fs::write(&path, pdf).with_context(|| format!("writing {}", path.display()))?;
    }
    println!(
        "{} 村公示表 / village statements in {} ({:.2} s)",
        codes.len(),
        villages_dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}

/// `pvledger settlement review|approve ID`.
pub async fn advance(store: &Store, id: i64, action: &'static str) -> anyhow::Result<i32> {
    match run::advance(store, id, action, &cli_actor()).await {
        Ok(row) => {
            println!(
                "结算 #{} {} {} -> {}",
                row.id, row.county_code, row.period, row.status
            );
            Ok(0)
        }
        Err(e @ SettleError::Store(_)) => Err(e.into()),
        Err(e) => {
            eprintln!("{e}");
            Ok(EXIT_BAD_INPUT)
        }
    }
}

/// `pvledger plan import FILE`.
pub async fn import_plans(store: &Store, config: &Config, file: &Path) -> anyhow::Result<i32> {
    let (_, plan_rules) = run::rules(&config.settlement);
    match super::plans::import_file(store, file, &plan_rules, &cli_actor()).await {
        Ok(n) => {
            println!("收益使用计划 / use plans: {n} new or changed");
            Ok(0)
        }
        Err(FileImportError::Invalid(errors)) => {
            crate::cli::print_refused(&errors);
            Ok(EXIT_BAD_INPUT)
        }
        Err(e) => Err(e.into()),
    }
}

/// `pvledger subsidy receive`.
pub async fn receive(
    store: &Store,
    amount: &str,
    date: chrono::NaiveDate,
    reference: &str,
    county: Option<&str>,
) -> anyhow::Result<i32> {
    let county = match county {
        Some(c) => c.to_owned(),
        None => {
            let ledger = store.load_ledger().await?;
            let counties: Vec<_> = ledger
                .areas
                .into_iter()
                .filter(|a| a.level == crate::ledger::model::AreaLevel::County)
                .collect();
            match counties.as_slice() {
                [only] => only.code.clone(),
                _ => {
                    eprintln!(
                        "需要指定县 (--county): the ledger has {} counties",
                        counties.len()
                    );
                    return Ok(EXIT_BAD_INPUT);
                }
            }
        }
    };
    match super::subsidy::receive(store, &county, amount, date, reference, &cli_actor()).await {
        Ok(o) => {
            println!(
                "补贴到账 / receipt #{} {county} {amount} 元 ({reference})",
                o.receipt_id
            );
            for (station, period, paid) in &o.payments {
                println!("  {station} {period} {paid:.2}");
            }
            println!("未分配结余 / unallocated credit: {:.2} 元", o.credit.0);
            Ok(0)
        }
        Err(e @ super::subsidy::ReceiptError::Store(_)) => Err(e.into()),
        Err(e) => {
            eprintln!("{e}");
            Ok(EXIT_BAD_INPUT)
        }
    }
}
