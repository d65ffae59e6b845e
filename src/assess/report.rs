//! The county's assessment report as a Chinese PDF (成效评估报告): the summary figures, the
//! ranking, the flagged stations with their reasons and evidence, and the inverter
//! comparison of each station with a mismatch. Pure: the report and the font in, bytes out.

use super::flags::FlagKind;
use super::load::Report;
use crate::report::font::Fonts;
use crate::report::pdf::{Align, Column, Layout, PdfError, Table};

/// The file name beside the CSV and XLSX files: `assessment_<county>_<from>_<to>.pdf`.
pub fn file_name(r: &Report) -> String {
    format!("assessment_{}_{}_{}.pdf", r.county, r.from, r.to)
}

fn fixed(v: Option<f64>, places: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.places$}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.1}%", v * 100.0))
}

/// The median of the stations' final yields (None when no station has one).
pub fn median_yield(r: &Report) -> Option<f64> {
    let mut y: Vec<f64> = r.stations.iter().filter_map(|s| s.final_yield_h).collect();
    if y.is_empty() {
        return None;
    }
    y.sort_by(f64::total_cmp);
    let n = y.len();
    Some(if n % 2 == 1 {
        y[n / 2]
    } else {
        (y[n / 2 - 1] + y[n / 2]) / 2.0
    })
}

/// The report as A4 PDF bytes.
pub fn render(r: &Report, fonts: &Fonts) -> Result<Vec<u8>, PdfError> {
    let mut doc = Layout::new(
        fonts,
        format!(
            "{}光伏扶贫电站成效评估报告 {} 至 {}",
            r.county_name, r.from, r.to
        ),
    );
    doc.set_footer(format!(
        "pvledger 成效评估 · {}（{}） · {} 至 {}",
        r.county_name, r.county, r.from, r.to
    ));
    doc.title("村级光伏扶贫电站成效评估报告", 20.0);
    doc.centered(
        &format!("{}（{}） {} 至 {}", r.county_name, r.county, r.from, r.to),
        12.0,
        0,
    );
    doc.centered(
        "Efficacy assessment of the village PV poverty-relief stations",
        8.5,
        110,
    );
    doc.space(8.0);

    let count = |zh: &str| r.stations.iter().filter(|s| s.grade_zh == zh).count();
    let flagged = r.stations.iter().filter(|s| !s.flags.is_empty()).count();
    let group = if r.peer_group == "township" {
        "同乡镇 township"
    } else {
        "同县 county"
    };
    doc.key_values(
        &[
            ("县", format!("{}（{}）", r.county_name, r.county)),
            ("评估期间", format!("{} 至 {}", r.from, r.to)),
            ("电站数", r.stations.len().to_string()),
            ("问题电站数", flagged.to_string()),
            (
                "等级分布",
                format!(
                    "优 {} · 良 {} · 中 {} · 差 {}",
                    count("优"),
                    count("良"),
                    count("中"),
                    count("差")
                ),
            ),
            (
                "等效利用小时中位数",
                format!("{} h", fixed(median_yield(r), 1)),
            ),
            ("同组比较", group.to_owned()),
        ],
        2,
        10.0,
    );

    doc.heading("一、电站排名 Ranking", 12.0);
    doc.table(&Table {
        columns: vec![
            Column::new("排名\nrank", 0.9, Align::Right),
            Column::new("电站\nstation", 4.2, Align::Left),
            Column::new("等级\ngrade", 0.9, Align::Center),
            Column::new("等效利用小时\nYf h", 1.6, Align::Right),
            Column::new("同组比\npeer ratio", 1.4, Align::Right),
            Column::new("可利用率\navailability", 1.6, Align::Right),
            Column::new("完整率\ncompleteness", 1.6, Align::Right),
            Column::new("问题\nflags", 2.6, Align::Left),
        ],
        rows: r
            .stations
            .iter()
            .map(|s| {
                vec![
                    s.rank.to_string(),
                    format!("{} {}", s.code, s.name),
                    s.grade_zh.to_owned(),
                    fixed(s.final_yield_h, 1),
                    fixed(s.peer_ratio, 3),
                    pct(s.availability),
                    pct(s.completeness),
                    s.flags
                        .iter()
                        .map(|f| f.kind.zh())
                        .collect::<Vec<_>>()
                        .join("、"),
                ]
            })
            .collect(),
        total: None,
        size: 8.5,
    });

    doc.heading("二、问题电站 Flagged stations", 12.0);
    if flagged == 0 {
        doc.paragraph("本期无问题电站。No station was flagged.", 10.0, false);
    } else {
        doc.table(&Table {
            columns: vec![
                Column::new("电站\nstation", 3.0, Align::Left),
                Column::new("等级\ngrade", 0.8, Align::Center),
                Column::new("问题\nflag", 1.6, Align::Left),
                Column::new("原因\nreason", 5.0, Align::Left),
                Column::new("依据\nevidence", 3.0, Align::Left),
            ],
            rows: r
                .stations
                .iter()
                .flat_map(|s| {
                    s.flags.iter().map(|f| {
                        vec![
                            format!("{} {}", s.code, s.name),
                            s.grade_zh.to_owned(),
                            f.kind.zh().to_owned(),
                            f.reason_zh.clone(),
                            f.evidence
                                .iter()
                                .map(|(k, v)| format!("{k}={v:.4}"))
                                .collect::<Vec<_>>()
                                .join("; "),
                        ]
                    })
                })
                .collect(),
            total: None,
            size: 8.0,
        });
    }

    let mismatched: Vec<_> = r
        .stations
        .iter()
        .filter(|s| s.flags.iter().any(|f| f.kind == FlagKind::InverterMismatch))
        .collect();
    if !mismatched.is_empty() {
        doc.heading("三、逆变器对比 Inverter comparison", 12.0);
        for s in mismatched {
            doc.paragraph(
                &format!(
                    "{} {}（离散率 dispersion {}）",
                    s.code,
                    s.name,
                    pct(s.dispersion_rate)
                ),
                10.0,
                true,
            );
            doc.table(&Table {
                columns: vec![
                    Column::new("逆变器\ninverter", 3.0, Align::Left),
                    Column::new("单位容量发电量 kWh/kWp\nspecific yield", 2.4, Align::Right),
                    Column::new("与全站中位数之比\nvs station median", 2.2, Align::Right),
                    Column::new("与其他逆变器之比\nvs siblings", 2.2, Align::Right),
                ],
                rows: s
                    .inverters
                    .iter()
                    .map(|i| {
                        vec![
                            i.code.clone(),
                            format!("{:.2}", i.specific_yield),
                            fixed(i.vs_station_median, 3),
                            fixed(i.vs_siblings, 3),
                        ]
                    })
                    .collect(),
                total: None,
                size: 8.5,
            });
        }
    }
    doc.space(10.0);
    doc.paragraph(
        "说明：同组比 = 电站逐日发电量与同组电站当日等效利用小时中位数之比（仅计数据完整日）；\
         可利用率只计白天有数据的小时，夜间不计为停机。等级与阈值见 docs/ASSESSMENT.md。",
        8.5,
        false,
    );
    doc.finish()
}
