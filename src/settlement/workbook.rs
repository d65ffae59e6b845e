//! The settlement workbook finance staff open in Excel: 汇总 summary, 电站 stations, 村
//! villages, 用途 uses, 对账 reconciliation and 调整 adjustments. The same figures as the
//! CSV files (export.rs), with names from the ledger, Chinese labels and money as numbers.
//! Bytes out, no I/O: the command line writes the file, the API serves it.

use rust_decimal::Decimal;
use rust_xlsxwriter::XlsxError;

use super::capital::capital;
use super::export::Lines;
use super::names::{Names, income_mode_zh, source_zh, status_zh};
use super::plan::Use;
use super::store_types::SettlementRow;
use crate::ledger::model::AreaLevel;
use crate::report::xlsx::{Book, Cell, Col, Kind, col};

/// The sheet names, in order.
pub const SHEETS: [&str; 6] = ["汇总", "电站", "村", "用途", "对账", "调整"];

/// A correction of an earlier (immutable) settlement carried into this one: the original
/// settlement and period, what it concerns, why, and the signed amount.
#[derive(Debug, Clone, PartialEq)]
pub struct AdjustmentLine {
    pub original_settlement_id: i64,
    pub original_period: String,
    pub station_code: String,
    pub village_code: Option<String>,
    pub reason: String,
    pub amount_yuan: Decimal,
}

impl From<&super::store_types::AdjustmentRow> for AdjustmentLine {
    fn from(a: &super::store_types::AdjustmentRow) -> Self {
        AdjustmentLine {
            original_settlement_id: a.original_settlement_id,
            original_period: a.original_period.clone(),
            station_code: a.station_code.clone(),
            village_code: Some(a.village_code.clone()),
            reason: a.reason.clone(),
            amount_yuan: a.amount_yuan.0,
        }
    }
}

/// The file name the workbook is written under: settlement_2026-10_149901.xlsx.
pub fn file_name(s: &SettlementRow) -> String {
    format!("settlement_{}_{}.xlsx", s.period, s.county_code)
}

const STATIONS: &[Col] = &[
    col("电站编码", "station_code", 20.0, Kind::Text),
    col("电站名称", "station name", 26.0, Kind::Text),
    col("上网电量(kWh)", "energy_kwh", 14.0, Kind::Energy),
    col("电量来源", "energy_source", 14.0, Kind::Text),
    col("燃煤基准价(元/kWh)", "benchmark_price", 12.0, Kind::Ratio),
    col("补贴电价(元/kWh)", "subsidy_price", 12.0, Kind::Ratio),
    col("燃煤电费收入(元)", "benchmark_income", 15.0, Kind::Money),
    col("应计补贴(元)", "subsidy_accrued", 15.0, Kind::Money),
    col("到账补贴(元)", "subsidy_received", 15.0, Kind::Money),
    col("扣除(元)", "deductions", 13.0, Kind::Money),
    col("上期亏空(元)", "carried_deficit", 13.0, Kind::Money),
    col("可分配(元)", "distributable", 15.0, Kind::Money),
    col("结转亏空(元)", "deficit_out", 13.0, Kind::Money),
];

const VILLAGES: &[Col] = &[
    col("村编码", "village_code", 15.0, Kind::Text),
    col("村名称", "village", 14.0, Kind::Text),
    col("乡镇", "township", 12.0, Kind::Text),
    col("电站编码", "station_code", 20.0, Kind::Text),
    col("电站名称", "station name", 26.0, Kind::Text),
    col("分配比例", "share", 10.0, Kind::Ratio),
    col("分得金额(元)", "amount", 15.0, Kind::Money),
];

const USES: &[Col] = &[
    col("村编码", "village_code", 15.0, Kind::Text),
    col("村名称", "village", 14.0, Kind::Text),
    col("用途", "use", 14.0, Kind::Text),
    col("用途代码", "use code", 10.0, Kind::Text),
    col("比例(%)", "percent", 10.0, Kind::Percent),
    col("金额(元)", "amount", 15.0, Kind::Money),
];

const RECONCILIATION: &[Col] = &[
    col("电站编码", "station_code", 20.0, Kind::Text),
    col("电站名称", "station name", 26.0, Kind::Text),
    col("电网结算电量(kWh)", "grid kWh", 16.0, Kind::Energy),
    col("监测电量(kWh)", "telemetry kWh", 16.0, Kind::Energy),
    col("差异(%)", "difference %", 10.0, Kind::Percent),
    col("超出阈值", "flagged", 10.0, Kind::Text),
    col("说明", "note", 30.0, Kind::Text),
];

const ADJUSTMENTS: &[Col] = &[
    col("原结算", "original settlement", 12.0, Kind::Integer),
    col("原期间", "original period", 10.0, Kind::Text),
    col("电站", "station", 20.0, Kind::Text),
    col("村", "village", 15.0, Kind::Text),
    col("原因", "reason", 36.0, Kind::Text),
    col("金额(元)", "amount", 15.0, Kind::Money),
];

/// The workbook's bytes.
pub fn render(
    s: &SettlementRow,
    l: &Lines,
    names: &Names,
    adjustments: &[AdjustmentLine],
) -> Result<Vec<u8>, XlsxError> {
    let mut book = Book::new();
    book.key_values(
        SHEETS[0],
        &format!(
            "{}{} 年 {} 月光伏收益结算 / PV income settlement {}",
            names.area(&s.county_code),
            &s.period[..4],
            s.period[5..].trim_start_matches('0'),
            s.period
        ),
        &summary(s, l, names, adjustments),
    )?;
    book.table(
        SHEETS[1],
        STATIONS,
        l.stations.iter().map(|r| {
            vec![
                Cell::from(r.station_code.as_str()),
                names.station(&r.station_code).into(),
                r.energy_kwh.0.into(),
                source_zh(&r.energy_source).into(),
                r.benchmark_price.0.into(),
                r.subsidy_price.0.into(),
                r.benchmark_income_yuan.0.into(),
                r.subsidy_accrued_yuan.0.into(),
                r.subsidy_received_yuan.0.into(),
                r.deductions_yuan.0.into(),
                r.carried_deficit_yuan.0.into(),
                r.distributable_yuan.0.into(),
                r.deficit_out_yuan.0.into(),
            ]
        }),
    )?;
    let township = |v: &str| {
        names
            .ancestor(v, AreaLevel::Township)
            .map_or("", |(_, n)| n)
            .to_owned()
    };
    book.table(
        SHEETS[2],
        VILLAGES,
        l.villages.iter().map(|r| {
            vec![
                Cell::from(r.village_code.as_str()),
                names.area(&r.village_code).into(),
                township(&r.village_code).into(),
                r.station_code.as_str().into(),
                names.station(&r.station_code).into(),
                r.share.0.into(),
                r.amount_yuan.0.into(),
            ]
        }),
    )?;
    book.table(
        SHEETS[3],
        USES,
        l.uses.iter().map(|r| {
            let zh = Use::from_code(&r.use_code).map_or(r.use_code.clone(), |u| u.zh().to_owned());
            vec![
                Cell::from(r.village_code.as_str()),
                names.area(&r.village_code).into(),
                zh.into(),
                r.use_code.as_str().into(),
                r.percent.0.into(),
                r.amount_yuan.0.into(),
            ]
        }),
    )?;
    book.table(
        SHEETS[4],
        RECONCILIATION,
        l.stations.iter().map(|r| {
            let grid = (r.energy_source == "grid").then_some(r.energy_kwh.0);
            let note = match (grid.is_some(), r.telemetry_kwh.is_some()) {
                (true, true) if r.reconcile_flag => "差异超出阈值，请核查 (beyond threshold)",
                (true, true) => "",
                (true, false) => "无监测数据 (no telemetry)",
                (false, _) => "无电网结算单，电量为估算 (no grid statement: estimate)",
            };
            vec![
                Cell::from(r.station_code.as_str()),
                names.station(&r.station_code).into(),
                grid.into(),
                r.telemetry_kwh.as_ref().map(|d| d.0).into(),
                r.reconcile_diff_percent.as_ref().map(|d| d.0).into(),
                if r.reconcile_flag {
                    "是 yes"
                } else {
                    "否 no"
                }
                .into(),
                note.into(),
            ]
        }),
    )?;
    book.table(
        SHEETS[5],
        ADJUSTMENTS,
        adjustments.iter().map(|a| {
            vec![
                Cell::Number(a.original_settlement_id.into()),
                a.original_period.as_str().into(),
                a.station_code.as_str().into(),
                a.village_code.clone().unwrap_or_default().into(),
                a.reason.as_str().into(),
                a.amount_yuan.into(),
            ]
        }),
    )?;
    book.finish()
}

/// The summary rows: totals of each sheet, so that a reader sees they tie.
fn summary(
    s: &SettlementRow,
    l: &Lines,
    names: &Names,
    adjustments: &[AdjustmentLine],
) -> Vec<(String, Cell, Kind)> {
    let sum = |f: &dyn Fn(&super::store_types::StationRow) -> Decimal| -> Decimal {
        l.stations.iter().map(f).sum()
    };
    let villages: Decimal = l.villages.iter().map(|v| v.amount_yuan.0).sum();
    let uses: Decimal = l.uses.iter().map(|u| u.amount_yuan.0).sum();
    let mut village_codes: Vec<&str> = l.villages.iter().map(|v| v.village_code.as_str()).collect();
    village_codes.sort_unstable();
    village_codes.dedup();
    let flagged = l.stations.iter().filter(|r| r.reconcile_flag).count();
    let estimates = l
        .stations
        .iter()
        .filter(|r| r.energy_source != "grid")
        .count();
    let total = s.distributable_yuan.0;
    // The uses carry this month's money plus the corrections of earlier months.
    let adjusted: Decimal = adjustments.iter().map(|a| a.amount_yuan).sum();
    vec![
        row(
            "结算单号\nsettlement id",
            Cell::Number(s.id.into()),
            Kind::Integer,
        ),
        row(
            "县\ncounty",
            format!("{} {}", s.county_code, names.area(&s.county_code)).into(),
            Kind::Text,
        ),
        row("结算期间\nperiod", s.period.as_str().into(), Kind::Text),
        row(
            "状态\nstatus",
            format!("{} ({})", status_zh(&s.status), s.status).into(),
            Kind::Text,
        ),
        row(
            "收入口径\nincome mode",
            format!("{} ({})", income_mode_zh(&s.income_mode), s.income_mode).into(),
            Kind::Text,
        ),
        row(
            "电站数\nstations",
            Cell::Number(l.stations.len().into()),
            Kind::Integer,
        ),
        row(
            "其中估算电量\nof which estimated energy",
            Cell::Number(estimates.into()),
            Kind::Integer,
        ),
        row(
            "对账差异超阈值\nreconciliation flags",
            Cell::Number(flagged.into()),
            Kind::Integer,
        ),
        row(
            "受益村数\nvillages",
            Cell::Number(village_codes.len().into()),
            Kind::Integer,
        ),
        row(
            "上网电量合计(kWh)\ntotal energy",
            sum(&|r| r.energy_kwh.0).into(),
            Kind::Energy,
        ),
        row(
            "燃煤电费收入(元)\nbenchmark income",
            sum(&|r| r.benchmark_income_yuan.0).into(),
            Kind::Money,
        ),
        row(
            "应计补贴(元)\nsubsidy accrued",
            sum(&|r| r.subsidy_accrued_yuan.0).into(),
            Kind::Money,
        ),
        row(
            "到账补贴(元)\nsubsidy received",
            sum(&|r| r.subsidy_received_yuan.0).into(),
            Kind::Money,
        ),
        row(
            "扣除(元)\ndeductions",
            sum(&|r| r.deductions_yuan.0).into(),
            Kind::Money,
        ),
        row(
            "可分配合计(元)\ntotal distributable",
            total.into(),
            Kind::Money,
        ),
        row(
            "合计（大写）\ntotal in capitals",
            capital(total).unwrap_or_default().into(),
            Kind::Text,
        ),
        row(
            "分到各村合计(元)\nsum of the village lines",
            villages.into(),
            Kind::Money,
        ),
        row(
            "各用途合计(元)\nsum of the use lines",
            uses.into(),
            Kind::Money,
        ),
        row(
            "调整合计(元)\nadjustments",
            adjustments
                .iter()
                .map(|a| a.amount_yuan)
                .sum::<Decimal>()
                .into(),
            Kind::Money,
        ),
        row(
            "核对\ncheck",
            if villages == total && uses == total + adjusted {
                "村合计等于可分配合计，用途合计等于可分配加调整 (villages tie to the total; uses to the total plus adjustments)"
            } else {
                "不一致，请勿使用 (DO NOT USE: the lines do not tie)"
            }
            .into(),
            Kind::Text,
        ),
    ]
}

fn row(label: &str, value: Cell, kind: Kind) -> (String, Cell, Kind) {
    (label.to_owned(), value, kind)
}
