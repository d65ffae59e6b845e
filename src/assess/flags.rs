//! Flags: what is wrong with a station, why, and the figures that show it. Every
//! threshold comes from `[assessment]` in the configuration.

use serde::Serialize;

use crate::config::AssessmentConfig;

/// The kinds of flag, stored and served in English, shown in Chinese.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    Underperforming,
    LowAvailability,
    DataGaps,
    InverterMismatch,
    ZeroProduction,
    Degradation,
}

impl FlagKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FlagKind::Underperforming => "underperforming",
            FlagKind::LowAvailability => "low_availability",
            FlagKind::DataGaps => "data_gaps",
            FlagKind::InverterMismatch => "inverter_mismatch",
            FlagKind::ZeroProduction => "zero_production",
            FlagKind::Degradation => "degradation",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            FlagKind::Underperforming => "发电偏低",
            FlagKind::LowAvailability => "可利用率低",
            FlagKind::DataGaps => "数据缺失",
            FlagKind::InverterMismatch => "逆变器偏差",
            FlagKind::ZeroProduction => "长时间零发电",
            FlagKind::Degradation => "衰减过快",
        }
    }
}

/// One flag with its reason (Chinese, then English) and evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flag {
    pub kind: FlagKind,
    pub reason_zh: String,
    pub reason_en: String,
    /// The figures behind the flag, by name (a JSON object, in this order).
    #[serde(serialize_with = "as_map")]
    pub evidence: Vec<(String, f64)>,
}

/// What the flags are raised from.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub peer_ratio: Option<f64>,
    pub peer_days: usize,
    pub availability: Option<f64>,
    pub completeness: Option<f64>,
    /// (inverter, specific yield / median of its siblings).
    pub inverters_vs_siblings: Vec<(String, f64)>,
    /// (inverter, days, first day).
    pub zero_spell: Option<(String, u32, chrono::NaiveDate)>,
    pub degradation_percent_per_year: Option<f64>,
}

fn as_map<S: serde::Serializer>(v: &[(String, f64)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(v.iter().map(|(k, x)| (k, x)))
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The flags `e` raises under `c`, in a fixed order.
pub fn raise(e: &Evidence, c: &AssessmentConfig) -> Vec<Flag> {
    let mut out = Vec::new();
    if let Some(r) = e.peer_ratio.filter(|r| *r < c.underperforming_peer_ratio) {
        out.push(Flag {
            kind: FlagKind::Underperforming,
            reason_zh: format!(
                "等效利用小时为同组电站中位数的 {}（低于 {}，比较 {} 天）",
                pct(r),
                pct(c.underperforming_peer_ratio),
                e.peer_days
            ),
            reason_en: format!(
                "final yield is {} of the peer median (below {}, over {} days)",
                pct(r),
                pct(c.underperforming_peer_ratio),
                e.peer_days
            ),
            evidence: vec![
                ("peer_ratio".into(), r),
                ("threshold".into(), c.underperforming_peer_ratio),
                ("days".into(), e.peer_days as f64),
            ],
        });
    }
    if let Some(a) = e.availability.filter(|a| *a < c.low_availability) {
        out.push(Flag {
            kind: FlagKind::LowAvailability,
            reason_zh: format!(
                "白天有数据的时段中发电时段占 {}（低于 {}）",
                pct(a),
                pct(c.low_availability)
            ),
            reason_en: format!(
                "produced in {} of the daylight hours with data (below {})",
                pct(a),
                pct(c.low_availability)
            ),
            evidence: vec![
                ("availability".into(), a),
                ("threshold".into(), c.low_availability),
            ],
        });
    }
    let missing = e.completeness.map_or(1.0, |x| 1.0 - x);
    if missing > c.max_missing {
        out.push(Flag {
            kind: FlagKind::DataGaps,
            reason_zh: format!(
                "白天应收数据缺失 {}（超过 {}）",
                pct(missing),
                pct(c.max_missing)
            ),
            reason_en: format!(
                "{} of the readings expected in daylight are missing (over {})",
                pct(missing),
                pct(c.max_missing)
            ),
            evidence: vec![
                ("missing".into(), missing),
                ("threshold".into(), c.max_missing),
            ],
        });
    }
    let floor = 1.0 - c.inverter_shortfall;
    let low: Vec<&(String, f64)> = e
        .inverters_vs_siblings
        .iter()
        .filter(|(_, r)| *r < floor)
        .collect();
    if !low.is_empty() {
        let list = low
            .iter()
            .map(|(code, r)| format!("{code} {}", pct(*r)))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(Flag {
            kind: FlagKind::InverterMismatch,
            reason_zh: format!(
                "逆变器单位容量发电量低于同站其他逆变器中位数 {} 以上：{list}",
                pct(c.inverter_shortfall)
            ),
            reason_en: format!(
                "inverter(s) more than {} below the median of their siblings: {list}",
                pct(c.inverter_shortfall)
            ),
            evidence: low
                .iter()
                .map(|(code, r)| (format!("{code}.vs_siblings"), *r))
                .chain([("threshold".into(), floor)])
                .collect(),
        });
    }
    if let Some((code, days, first)) = e
        .zero_spell
        .as_ref()
        .filter(|(_, d, _)| *d >= c.zero_spell_days)
    {
        out.push(Flag {
            kind: FlagKind::ZeroProduction,
            reason_zh: format!("{code} 自 {first} 起连续 {days} 天有数据但零发电"),
            reason_en: format!(
                "{code} reported but produced nothing for {days} days in a row from {first}"
            ),
            evidence: vec![
                ("days".into(), f64::from(*days)),
                ("threshold".into(), f64::from(c.zero_spell_days)),
            ],
        });
    }
    if let Some(rate) = e
        .degradation_percent_per_year
        .filter(|r| *r < -c.max_degradation_percent_per_year)
    {
        out.push(Flag {
            kind: FlagKind::Degradation,
            reason_zh: format!(
                "同比衰减 {:.2}%/年（超过 {:.2}%/年）",
                -rate, c.max_degradation_percent_per_year
            ),
            reason_en: format!(
                "degrading {:.2} %/year year on year (worse than {:.2} %/year)",
                -rate, c.max_degradation_percent_per_year
            ),
            evidence: vec![
                ("percent_per_year".into(), rate),
                ("threshold".into(), -c.max_degradation_percent_per_year),
            ],
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config() -> AssessmentConfig {
        Config::load_from(None, Vec::new()).unwrap().assessment
    }

    #[test]
    fn a_healthy_station_raises_nothing() {
        let e = Evidence {
            peer_ratio: Some(0.99),
            peer_days: 30,
            availability: Some(0.999),
            completeness: Some(0.98),
            inverters_vs_siblings: vec![("A".into(), 0.99), ("B".into(), 1.01)],
            zero_spell: None,
            degradation_percent_per_year: Some(-0.5),
        };
        assert!(raise(&e, &config()).is_empty());
    }

    #[test]
    fn each_threshold_raises_its_flag_with_the_figures() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 4, 2).unwrap();
        let e = Evidence {
            peer_ratio: Some(0.8),
            peer_days: 12,
            availability: Some(0.9),
            completeness: Some(0.9),
            inverters_vs_siblings: vec![("INV-1".into(), 0.7), ("INV-2".into(), 1.0)],
            zero_spell: Some(("INV-1".into(), 3, d)),
            degradation_percent_per_year: Some(-1.5),
        };
        let flags = raise(&e, &config());
        let kinds: Vec<FlagKind> = flags.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            [
                FlagKind::Underperforming,
                FlagKind::LowAvailability,
                FlagKind::DataGaps,
                FlagKind::InverterMismatch,
                FlagKind::ZeroProduction,
                FlagKind::Degradation
            ]
        );
        assert!(
            flags[0].reason_zh.contains("80.0%"),
            "{}",
            flags[0].reason_zh
        );
        assert!(flags[3].reason_en.contains("INV-1 70.0%"));
        assert!(!flags[3].reason_en.contains("INV-2"));
        assert_eq!(
            flags[2].evidence[0],
            ("missing".into(), 0.09999999999999998)
        );
        assert!(flags[4].reason_zh.contains("2026-04-02"));
    }

    #[test]
    fn no_data_at_all_is_a_data_gap_not_an_underperformer() {
        let e = Evidence::default();
        let kinds: Vec<FlagKind> = raise(&e, &config()).iter().map(|f| f.kind).collect();
        assert_eq!(kinds, [FlagKind::DataGaps]);
    }
}
