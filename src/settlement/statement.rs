//! The per-village statement to print, stamp and post (村级光伏收益分配公示): which
//! stations paid the village and how much, the amount per permitted use, the total in
//! figures and in capitals, the settlement and its status, and room for signatures and
//! stamps. [`Statement::build`] gathers the figures (pure); [`render`] lays them out on A4.

use rust_decimal::Decimal;

use super::capital::capital;
use super::export::Lines;
use super::names::{Names, status_zh};
use super::plan::Use;
use super::store_types::SettlementRow;
use crate::ledger::model::AreaLevel;
use crate::report::font::Fonts;
use crate::report::pdf::{Align, Column, Layout, PdfError, SignBox, Table};

/// Why a statement was not produced.
#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    #[error(
        "村 {village} 不在结算 #{id} 中 (village {village} receives nothing in settlement {id})"
    )]
    NotInSettlement { village: String, id: i64 },
    #[error(transparent)]
    Pdf(#[from] PdfError),
}

/// One station's payment to the village.
#[derive(Debug, Clone, PartialEq)]
pub struct FromStation {
    pub code: String,
    pub name: String,
    pub share: Decimal,
    pub amount: Decimal,
}

/// A correction of an earlier month for this village, included in the uses and the total.
#[derive(Debug, Clone, PartialEq)]
pub struct Correction {
    pub original_period: String,
    pub station_code: String,
    pub reason: String,
    pub amount: Decimal,
}

/// One use's amount (all four uses are listed; absent ones at zero).
#[derive(Debug, Clone, PartialEq)]
pub struct PerUse {
    pub use_: Use,
    pub percent: Decimal,
    pub amount: Decimal,
}

/// The figures of one village's statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub village_code: String,
    pub village: String,
    pub township: String,
    pub county: String,
    pub period: String,
    pub settlement_id: i64,
    pub status: String,
    pub stations: Vec<FromStation>,
    pub adjustments: Vec<Correction>,
    pub uses: Vec<PerUse>,
    /// This month's money plus the corrections: what the uses add up to.
    pub total: Decimal,
}

impl Statement {
    /// The village's lines from a settlement.
    pub fn build(
        s: &SettlementRow,
        l: &Lines,
        names: &Names,
        village: &str,
    ) -> Result<Self, StatementError> {
        let stations: Vec<FromStation> = l
            .villages
            .iter()
            .filter(|v| v.village_code == village)
            .map(|v| FromStation {
                code: v.station_code.clone(),
                name: names.station(&v.station_code).to_owned(),
                share: v.share.0,
                amount: v.amount_yuan.0,
            })
            .collect();
        let adjustments: Vec<Correction> = l
            .adjustments
            .iter()
            .filter(|a| a.village_code == village)
            .map(|a| Correction {
                original_period: a.original_period.clone(),
                station_code: a.station_code.clone(),
                reason: a.reason.clone(),
                amount: a.amount_yuan.0,
            })
            .collect();
        if stations.is_empty() && adjustments.is_empty() {
            return Err(StatementError::NotInSettlement {
                village: village.to_owned(),
                id: s.id,
            });
        }
        let uses = Use::ALL
            .iter()
            .map(|&u| {
                let line = l
                    .uses
                    .iter()
                    .find(|r| r.village_code == village && r.use_code == u.code());
                PerUse {
                    use_: u,
                    percent: line.map_or(Decimal::ZERO, |r| r.percent.0),
                    amount: line.map_or(Decimal::ZERO, |r| r.amount_yuan.0),
                }
            })
            .collect();
        let name_of = |level| {
            names
                .ancestor(village, level)
                .map_or(String::new(), |(_, n)| n.to_owned())
        };
        Ok(Self {
            village_code: village.to_owned(),
            village: names.area(village).to_owned(),
            township: name_of(AreaLevel::Township),
            county: name_of(AreaLevel::County),
            period: s.period.clone(),
            settlement_id: s.id,
            status: s.status.clone(),
            total: stations.iter().map(|f| f.amount).sum::<Decimal>()
                + adjustments.iter().map(|a| a.amount).sum::<Decimal>(),
            stations,
            adjustments,
            uses,
        })
    }

    /// A draft must never be mistaken for a posted statement.
    pub fn is_draft(&self) -> bool {
        self.status != "approved"
    }
}

/// The villages of a settlement, in code order: one statement each.
pub fn villages(l: &Lines) -> Vec<String> {
    let mut v: Vec<String> = l.villages.iter().map(|r| r.village_code.clone()).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Money with its sign for corrections ("-12.34", "+332.00").
fn signed_money(d: Decimal) -> String {
    let sign = if d.is_sign_negative() { "-" } else { "+" };
    format!("{sign}{}", money(d))
}

/// Money as printed: thousands separated, two decimals ("12,345.60").
pub fn money(d: Decimal) -> String {
    let text = format!("{:.2}", d.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, "00"));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if d.is_sign_negative() && !d.is_zero() {
        "-"
    } else {
        ""
    };
    format!("{sign}{grouped}.{frac}")
}

/// The statement as A4 PDF bytes.
pub fn render(st: &Statement, fonts: &Fonts) -> Result<Vec<u8>, StatementError> {
    let (year, month) = (&st.period[..4], st.period[5..].trim_start_matches('0'));
    let mut doc = Layout::new(
        fonts,
        format!("{}村级光伏收益分配公示 {}", st.village, st.period),
    );
    doc.set_footer(format!(
        "pvledger 结算 #{} · {} · {}（{}）",
        st.settlement_id,
        st.period,
        status_zh(&st.status),
        st.status
    ));
    if st.is_draft() {
        doc.set_watermark("草稿 DRAFT");
    }
    doc.title("村级光伏收益分配公示", 20.0);
    doc.centered(
        &format!(
            "{}{}{} {}年{}月",
            st.county, st.township, st.village, year, month
        ),
        12.0,
        0,
    );
    doc.centered(
        "Village PV poverty-relief income distribution notice",
        8.5,
        110,
    );
    doc.space(8.0);
    if st.is_draft() {
        doc.banner(
            &format!(
                "{}：未经审核批准，不得公示 (not approved, not for posting)",
                status_zh(&st.status)
            ),
            11.0,
        );
        doc.space(8.0);
    }
    doc.key_values(
        &[
            ("村名称", st.village.clone()),
            ("村编码", st.village_code.clone()),
            ("所属乡镇", st.township.clone()),
            ("所属县", st.county.clone()),
            ("结算期间", format!("{}年{}月 ({})", year, month, st.period)),
            (
                "结算单号",
                format!("#{}（{}）", st.settlement_id, status_zh(&st.status)),
            ),
        ],
        2,
        10.0,
    );
    doc.heading("一、收益来源 Income by station", 12.0);
    doc.table(&Table {
        columns: vec![
            Column::new("电站编码\nstation code", 2.4, Align::Left),
            Column::new("电站名称\nstation", 3.6, Align::Left),
            Column::new("分配比例\nshare", 1.4, Align::Right),
            Column::new("分得金额(元)\namount", 2.0, Align::Right),
        ],
        rows: st
            .stations
            .iter()
            .map(|f| {
                vec![
                    f.code.clone(),
                    f.name.clone(),
                    format!("{:.2}%", f.share * Decimal::ONE_HUNDRED),
                    money(f.amount),
                ]
            })
            .collect(),
        total: Some(vec![
            "合计 total".into(),
            String::new(),
            String::new(),
            money(st.stations.iter().map(|f| f.amount).sum()),
        ]),
        size: 9.5,
    });
    if !st.adjustments.is_empty() {
        doc.heading("往期调整 Corrections of earlier months", 12.0);
        doc.table(&Table {
            columns: vec![
                Column::new(
                    "原期间
period",
                    1.4,
                    Align::Left,
                ),
                Column::new(
                    "电站编码
station",
                    2.4,
                    Align::Left,
                ),
                Column::new(
                    "原因
reason",
                    4.2,
                    Align::Left,
                ),
                Column::new(
                    "金额(元)
amount",
                    2.0,
                    Align::Right,
                ),
            ],
            rows: st
                .adjustments
                .iter()
                .map(|a| {
                    vec![
                        a.original_period.clone(),
                        a.station_code.clone(),
                        a.reason.clone(),
                        signed_money(a.amount),
                    ]
                })
                .collect(),
            total: Some(vec![
                "合计 total".into(),
                String::new(),
                String::new(),
                signed_money(st.adjustments.iter().map(|a| a.amount).sum()),
            ]),
            size: 9.0,
        });
    }
    doc.heading("二、收益用途 Amount per use", 12.0);
    doc.table(&Table {
        columns: vec![
            Column::new("用途\nuse", 4.0, Align::Left),
            Column::new("比例\npercent", 1.6, Align::Right),
            Column::new("金额(元)\namount", 2.4, Align::Right),
        ],
        rows: st
            .uses
            .iter()
            .map(|u| {
                vec![
                    format!("{} ({})", u.use_.zh(), u.use_.en()),
                    format!("{:.2}%", u.percent),
                    money(u.amount),
                ]
            })
            .collect(),
        total: Some(vec!["合计 total".into(), String::new(), money(st.total)]),
        size: 9.5,
    });
    doc.space(10.0);
    doc.paragraph(
        &format!("合计金额（小写）：¥{} 元", money(st.total)),
        11.0,
        true,
    );
    doc.paragraph(
        &format!(
            "合计金额（大写）：人民币{}",
            capital(st.total).unwrap_or_default()
        ),
        11.0,
        true,
    );
    doc.space(10.0);
    doc.paragraph(
        "公示期：______年____月____日 至 ______年____月____日    监督电话：________________",
        10.0,
        false,
    );
    doc.paragraph(
        "公示期内如有异议，请向村委会或乡镇人民政府反映。(Objections during the posting period go to the village committee or the township government.)",
        8.5,
        false,
    );
    doc.space(12.0);
    let lines = || {
        vec![
            "负责人签字：".to_owned(),
            "（盖章）".to_owned(),
            "年      月      日".to_owned(),
        ]
    };
    doc.sign_boxes(
        &[
            SignBox {
                title: "村民委员会".into(),
                lines: lines(),
            },
            SignBox {
                title: "乡镇人民政府".into(),
                lines: lines(),
            },
            SignBox {
                title: "县财政局 / 乡村振兴局".into(),
                lines: lines(),
            },
        ],
        130.0,
        10.0,
    );
    Ok(doc.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_grouped_by_thousands_with_two_decimals() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(money(d("9960")), "9,960.00");
        assert_eq!(money(d("1234567.8")), "1,234,567.80");
        assert_eq!(money(d("0.05")), "0.05");
        assert_eq!(money(d("-1000")), "-1,000.00");
        assert_eq!(money(d("100")), "100.00");
    }
}
