//! The assessment as files: CSV (UTF-8 with a BOM, for Excel) and an XLSX workbook with
//! the ranking, the flagged stations with their reasons, and one sheet per station's
//! inverter comparison. Headers are Chinese first, with the English key after a slash.
//!
//! The shared report layer (src/report/, XLSX and PDF helpers) was not on main when this
//! was written, so the workbook is written with rust_xlsxwriter directly and there is no
//! PDF yet.

use std::path::{Path, PathBuf};

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::load::Report;

fn num(v: Option<f64>, places: usize) -> String {
    v.map_or(String::new(), |v| format!("{v:.places$}"))
}

/// The ranking's header and rows.
pub fn ranking(report: &Report) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "排名/rank",
        "电站编码/station_code",
        "电站名称/name",
        "等级/grade",
        "装机kWp/dc_kwp",
        "发电量kWh/energy_kwh",
        "等效利用小时/final_yield_h",
        "同组比/peer_ratio",
        "比较天数/peer_days",
        "时间可利用率/availability",
        "数据完整率/completeness",
        "性能指数(晴空)/performance_index",
        "PR/performance_ratio",
        "温度修正PR/pr_temp_corrected",
        "逆变器离散率/dispersion_rate",
        "年衰减%/degradation_pct_per_year",
        "问题/flags",
    ];
    let rows = report
        .stations
        .iter()
        .map(|s| {
            vec![
                s.rank.to_string(),
                s.code.clone(),
                s.name.clone(),
                s.grade_zh.to_owned(),
                format!("{:.3}", s.dc_kwp),
                format!("{:.3}", s.energy_kwh),
                num(s.final_yield_h, 1),
                num(s.peer_ratio, 3),
                s.peer_days.to_string(),
                num(s.availability, 4),
                num(s.completeness, 4),
                num(s.performance_index, 3),
                num(s.performance_ratio, 3),
                num(s.performance_ratio_temp_corrected, 3),
                num(s.dispersion_rate, 3),
                num(s.degradation_percent_per_year, 2),
                s.flags
                    .iter()
                    .map(|f| f.kind.zh())
                    .collect::<Vec<_>>()
                    .join("、"),
            ]
        })
        .collect();
    (header, rows)
}

/// One row per flag: station, kind, reasons, evidence.
pub fn flagged(report: &Report) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "电站编码/station_code",
        "电站名称/name",
        "等级/grade",
        "问题/flag",
        "原因/reason",
        "reason (English)",
        "依据/evidence",
    ];
    let rows = report
        .stations
        .iter()
        .flat_map(|s| {
            s.flags.iter().map(|f| {
                vec![
                    s.code.clone(),
                    s.name.clone(),
                    s.grade_zh.to_owned(),
                    format!("{} ({})", f.kind.zh(), f.kind.as_str()),
                    f.reason_zh.clone(),
                    f.reason_en.clone(),
                    f.evidence
                        .iter()
                        .map(|(k, v)| format!("{k}={v:.4}"))
                        .collect::<Vec<_>>()
                        .join("; "),
                ]
            })
        })
        .collect();
    (header, rows)
}

/// Every station's inverters against their station median and siblings.
pub fn inverters(report: &Report) -> (Vec<&'static str>, Vec<Vec<String>>) {
    inverter_rows(&report.stations)
}

fn inverter_rows(stations: &[super::StationAssessment]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "电站编码/station_code",
        "逆变器/inverter",
        "单位容量发电量kWh/kWp/specific_yield",
        "与全站中位数之比/vs_station_median",
        "与其他逆变器之比/vs_siblings",
    ];
    let rows = stations
        .iter()
        .flat_map(|s| {
            s.inverters.iter().map(|i| {
                vec![
                    s.code.clone(),
                    i.code.clone(),
                    format!("{:.2}", i.specific_yield),
                    num(i.vs_station_median, 3),
                    num(i.vs_siblings, 3),
                ]
            })
        })
        .collect();
    (header, rows)
}

fn csv_bytes(header: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(header).expect("writing to memory");
        for r in rows {
            w.write_record(r).expect("writing to memory");
        }
        w.flush().expect("writing to memory");
    }
    out
}

/// Why the files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the workbook {path}: {source}")]
    Xlsx { path: PathBuf, source: XlsxError },
}

/// Writes assessment_ranking.csv, assessment_flags.csv, assessment_inverters.csv and
/// assessment.xlsx into `dir`; returns their paths.
pub fn write(dir: &Path, report: &Report) -> Result<Vec<PathBuf>, ExportError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ExportError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let tables = [
        ("assessment_ranking.csv", ranking(report)),
        ("assessment_flags.csv", flagged(report)),
        ("assessment_inverters.csv", inverters(report)),
    ];
    let mut written = Vec::new();
    for (name, (header, rows)) in &tables {
        let path = dir.join(name);
        std::fs::write(&path, csv_bytes(header, rows)).map_err(io(&path))?;
        written.push(path);
    }
    let path = dir.join("assessment.xlsx");
    workbook(report)
        .and_then(|mut wb| wb.save(&path))
        .map_err(|source| ExportError::Xlsx {
            path: path.clone(),
            source,
        })?;
    written.push(path);
    Ok(written)
}

/// The workbook: 排名 (ranking), 问题电站 (flagged stations), one sheet per station with
/// more than one inverter.
pub fn workbook(report: &Report) -> Result<Workbook, XlsxError> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let mut sheet = |name: &str,
                     title: &str,
                     (header, rows): (Vec<&str>, Vec<Vec<String>>)|
     -> Result<(), XlsxError> {
        let ws = wb.add_worksheet();
        ws.set_name(name)?;
        ws.write_string_with_format(0, 0, title, &bold)?;
        for (c, h) in header.iter().enumerate() {
            ws.write_string_with_format(1, c as u16, *h, &bold)?;
            ws.set_column_width(c as u16, 14)?;
        }
        for (r, row) in rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                // Figures as numbers so Excel can sort and sum them; codes stay text.
                match v.parse::<f64>() {
                    Ok(x) => ws.write_number(r as u32 + 2, c as u16, x)?,
                    Err(_) => ws.write_string(r as u32 + 2, c as u16, v)?,
                };
            }
        }
        Ok(())
    };
    let title = format!(
        "{}（{}）光伏扶贫电站成效评估 {} 至 {}",
        report.county_name, report.county, report.from, report.to
    );
    sheet("排名", &title, ranking(report))?;
    sheet("问题电站", &title, flagged(report))?;
    for s in report.stations.iter().filter(|s| s.inverters.len() > 1) {
        // Sheet names: at most 31 characters, unique (station codes are).
        let name: String = s.code.chars().take(31).collect();
        sheet(
            &name,
            &format!("{} {} 逆变器对比", s.code, s.name),
            inverter_rows(std::slice::from_ref(s)),
        )?;
    }
    Ok(wb)
}
