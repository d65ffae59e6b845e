//! `pvledger assess`: the ranked table, Chinese headers first, and the exports.

use std::path::Path;

use anyhow::Context;
use chrono::NaiveDate;

use super::load::{AssessError, Report, run};
use crate::cli::EXIT_BAD_INPUT;
use crate::config::Config;
use crate::store::Store;

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.1}%", v * 100.0))
}

fn fixed(v: Option<f64>, places: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.places$}"))
}

/// The ranked table as printed.
pub fn table(r: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    writeln!(
        out,
        "成效评估 / efficacy assessment: {} {} {} 至 {} (同组 / peers: {})",
        r.county, r.county_name, r.from, r.to, r.peer_group
    )
    .expect("string");
    writeln!(
        out,
        "{:>4} {:<20} {:<4} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8}  问题 flags",
        "排名", "电站 station", "等级", "Yf 小时", "同组比", "可利用率", "完整率", "晴空指数", "PR"
    )
    .expect("string");
    for s in &r.stations {
        let flags = s
            .flags
            .iter()
            .map(|f| format!("{} {}", f.kind.zh(), f.kind.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        writeln!(
            out,
            "{:>4} {:<20} {:<4} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8}  {flags}",
            s.rank,
            s.code,
            s.grade_zh,
            fixed(s.final_yield_h, 1),
            fixed(s.peer_ratio, 3),
            pct(s.availability),
            pct(s.completeness),
            fixed(s.performance_index, 3),
            fixed(s.performance_ratio, 3),
        )
        .expect("string");
    }
    for s in r.stations.iter().filter(|s| !s.flags.is_empty()) {
        for f in &s.flags {
            writeln!(
                out,
                "  {} {}: {} / {}",
                s.code,
                f.kind.zh(),
                f.reason_zh,
                f.reason_en
            )
            .expect("string");
        }
    }
    out
}

/// `pvledger assess --from --to [--county] [--export DIR]`.
pub async fn assess(
    store: &Store,
    config: &Config,
    from: NaiveDate,
    to: NaiveDate,
    county: Option<&str>,
    export: Option<&Path>,
) -> anyhow::Result<i32> {
    let report = match run(store, config, from, to, county).await {
        Ok(r) => r,
        Err(e @ AssessError::Store(_)) => return Err(e.into()),
        Err(e) => {
            eprintln!("{e}");
            return Ok(EXIT_BAD_INPUT);
        }
    };
    print!("{}", table(&report));
    if let Some(dir) = export {
        for path in super::export::write(dir, &report)? {
            println!("{}", path.display());
        }
        // A missing font leaves the CSV and XLSX files written and names the package.
        let fonts =
            match crate::report::font::load(&config.report.font_path, config.report.font_index) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(EXIT_BAD_INPUT);
                }
            };
        let path = dir.join(super::report::file_name(&report));
        let pdf = super::report::render(&report, &fonts)?;
        std::fs::write(&path, pdf).with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(0)
}
