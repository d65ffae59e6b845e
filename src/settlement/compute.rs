//! One month's settlement for a county, pure: each station's line (income, deductions,
//! deficit carried, distributable), each village's share of each station, and each
//! village's money by permitted use. Everything is exact fen; every split is by largest
//! remainder so that villages sum to the station and uses sum to the village.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;
use serde::Serialize;

use super::deductions::{self, Deductions};
use super::income::{IncomeMode, Tariff};
use super::monthly::{MonthlyInput, settle_month};
use super::period::Period;
use super::plan::{Use, ValidPlan, split_by_plan};
use super::split::allocate;
use super::terms::{OmCharge, Terms};

/// Where a station's energy figure comes from, by precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EnergySource {
    /// The grid company's statement: the basis of money.
    Grid,
    /// The station's export meter (an estimate).
    Meter,
    /// The sum of its inverters (an estimate).
    Inverters,
}

impl Rules {
    /// The county's default deduction terms.
    pub fn default_terms(&self) -> Terms {
        Terms {
            om: OmCharge::PerKwpYear(self.om_yuan_per_kwp_year),
            land_rent_yuan_per_year: self.land_rent_yuan_per_year,
            insurance_yuan_per_year: self.insurance_yuan_per_year,
            vat_rate: self.vat_rate,
            vat_refund_share: self.vat_refund_share,
        }
    }
}

impl EnergySource {
    pub fn as_str(self) -> &'static str {
        match self {
            EnergySource::Grid => "grid",
            EnergySource::Meter => "meter",
            EnergySource::Inverters => "inverters",
        }
    }
}

/// Everything known about one station for the month.
#[derive(Debug, Clone)]
pub struct StationInput {
    pub code: String,
    pub dc_kwp: Decimal,
    /// The tariff in force on the first day of the month.
    pub tariff: Option<Tariff>,
    pub grid_kwh: Option<Decimal>,
    pub meter_kwh: Option<Decimal>,
    pub inverter_kwh: Option<Decimal>,
    /// Village -> share, the set in force on the first day of the month.
    pub shares: Vec<(String, Decimal)>,
    pub deficit_in_fen: i64,
    pub subsidy_received_fen: i64,
    /// The deduction terms in force on the first day of the month.
    pub terms: Terms,
}

/// County rules for the month (all configuration). The deduction figures are the county's
/// defaults; a station's own terms ([`super::terms`]) override them.
#[derive(Debug, Clone)]
pub struct Rules {
    pub mode: IncomeMode,
    pub om_yuan_per_kwp_year: Decimal,
    pub land_rent_yuan_per_year: Decimal,
    pub insurance_yuan_per_year: Decimal,
    pub vat_rate: Decimal,
    pub vat_refund_share: Decimal,
    /// Telemetry differing from the grid figure by more than this percentage is flagged.
    pub reconcile_threshold_percent: Decimal,
}

/// A station's line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StationLine {
    pub station_code: String,
    pub energy_kwh: Decimal,
    pub energy_source: EnergySource,
    /// True unless the energy is the grid company's figure.
    pub estimate: bool,
    pub benchmark_price: Decimal,
    pub subsidy_price: Decimal,
    pub benchmark_income_fen: i64,
    pub subsidy_accrued_fen: i64,
    pub subsidy_received_fen: i64,
    pub deductions_fen: i64,
    pub carried_deficit_fen: i64,
    pub distributable_fen: i64,
    pub deficit_out_fen: i64,
    /// Telemetry (meter, else inverters) against the grid figure, when both exist.
    pub telemetry_kwh: Option<Decimal>,
    pub reconcile_diff_percent: Option<Decimal>,
    pub reconcile_flag: bool,
}

/// One village's part of one station.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VillageLine {
    pub village_code: String,
    pub station_code: String,
    pub share: Decimal,
    pub amount_fen: i64,
}

/// One village's money for one use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UseLine {
    pub village_code: String,
    pub use_code: &'static str,
    pub percent: Decimal,
    pub amount_fen: i64,
}

/// A computed settlement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Computed {
    pub period: String,
    pub stations: Vec<StationLine>,
    pub villages: Vec<VillageLine>,
    pub uses: Vec<UseLine>,
    pub distributable_fen: i64,
    /// Corrections of earlier months included in the uses (fen, either sign).
    pub adjustments_fen: i64,
}

/// Settles `stations` for `period`. `adjustments` are corrections of earlier months per
/// village (fen, either sign), added to the village's money before it is split by use.
/// Every problem (no tariff, no energy, no shares, a village without a valid use plan) is
/// reported together; nothing is computed then.
pub fn settle(
    period: Period,
    stations: &[StationInput],
    plans: &HashMap<String, ValidPlan>,
    rules: &Rules,
    adjustments: &BTreeMap<String, i64>,
) -> Result<Computed, Vec<String>> {
    let mut problems = Vec::new();
    let mut lines = Vec::new();
    let mut villages = Vec::new();
    for s in stations {
        let Some(tariff) = s.tariff else {
            problems.push(format!(
                "电站 {} 在 {period} 无电价 (station {} has no tariff in force)",
                s.code, s.code
            ));
            continue;
        };
        let (energy, source) = match (s.grid_kwh, s.meter_kwh, s.inverter_kwh) {
            (Some(e), _, _) => (e, EnergySource::Grid),
            (None, Some(e), _) => (e, EnergySource::Meter),
            (None, None, Some(e)) => (e, EnergySource::Inverters),
            _ => {
                problems.push(format!(
                    "电站 {} 在 {period} 无电量 (station {} has no energy for the month)",
                    s.code, s.code
                ));
                continue;
            }
        };
        if s.shares.is_empty() {
            problems.push(format!(
                "电站 {} 无收益份额 (station {} has no ownership shares in force)",
                s.code, s.code
            ));
            continue;
        }
        let income_estimate =
            super::income::income(energy, &tariff, rules.mode, s.subsidy_received_fen);
        let income_fen = income_estimate.as_ref().map_or(0, |i| i.income_fen);
        let deductions = (|| -> Result<Deductions, super::monthly::MonthlyError> {
            Ok(Deductions {
                om_fen: match s.terms.om {
                    OmCharge::PerKwpYear(rate) => deductions::om_from_rate_fen(rate, s.dc_kwp)?,
                    OmCharge::PercentOfIncome(p) => deductions::percent_of_fen(income_fen, p)?,
                },
                land_rent_fen: deductions::monthly_from_yearly_fen(
                    s.terms.land_rent_yuan_per_year,
                )?,
                insurance_fen: deductions::monthly_from_yearly_fen(
                    s.terms.insurance_yuan_per_year,
                )?,
                vat_fen: deductions::vat_fen(
                    income_fen,
                    s.terms.vat_rate,
                    s.terms.vat_refund_share,
                )?,
                other_fen: 0,
            })
        })();
        let line = deductions.and_then(|d| {
            settle_month(&MonthlyInput {
                period,
                energy_kwh: energy,
                tariff,
                mode: rules.mode,
                subsidy_received_fen: s.subsidy_received_fen,
                deductions: d,
                deficit_in_fen: s.deficit_in_fen,
            })
        });
        let m = match line {
            Ok(m) => m,
            Err(e) => {
                problems.push(format!("电站 {}: {e}", s.code));
                continue;
            }
        };
        let telemetry = s.meter_kwh.or(s.inverter_kwh);
        let diff = match (source, telemetry) {
            (EnergySource::Grid, Some(t)) if energy > Decimal::ZERO => {
                Some(((t - energy) / energy * Decimal::ONE_HUNDRED).round_dp(2))
            }
            _ => None,
        };
        lines.push(StationLine {
            station_code: s.code.clone(),
            energy_kwh: energy,
            energy_source: source,
            estimate: source != EnergySource::Grid,
            benchmark_price: tariff.benchmark_price,
            subsidy_price: tariff.total_price - tariff.benchmark_price,
            benchmark_income_fen: m.income.benchmark_fen,
            subsidy_accrued_fen: m.income.subsidy_accrued_fen,
            subsidy_received_fen: m.income.subsidy_received_fen,
            deductions_fen: m.deductions_fen,
            carried_deficit_fen: m.deficit_in_fen,
            distributable_fen: m.distributable_fen,
            deficit_out_fen: m.deficit_out_fen,
            telemetry_kwh: telemetry,
            reconcile_diff_percent: diff,
            reconcile_flag: diff.is_some_and(|d| d.abs() > rules.reconcile_threshold_percent),
        });
        // Villages by the shares in force; ties of the remainder go to the lower code.
        match allocate(m.distributable_fen, &s.shares) {
            Ok(parts) => {
                for ((village, amount_fen), (_, share)) in parts.into_iter().zip(&s.shares) {
                    villages.push(VillageLine {
                        village_code: village,
                        station_code: s.code.clone(),
                        share: *share,
                        amount_fen,
                    });
                }
            }
            Err(e) => problems.push(format!("电站 {}: {e}", s.code)),
        }
    }
    let mut per_village: BTreeMap<&str, i64> = BTreeMap::new();
    for v in &villages {
        *per_village.entry(v.village_code.as_str()).or_default() += v.amount_fen;
    }
    for (village, fen) in adjustments {
        *per_village.entry(village.as_str()).or_default() += fen;
    }
    let mut uses = Vec::new();
    for (village, amount) in &per_village {
        let Some(plan) = plans.get(*village) else {
            problems.push(format!(
                "村 {village} 无 {} 年收益使用计划 (village {village} has no use plan for {})",
                period.year(),
                period.year()
            ));
            continue;
        };
        for (use_, amount_fen) in split_by_plan(*amount, plan) {
            if use_ == Use::Other && plan.plan().percent(Use::Other).is_zero() {
                continue;
            }
            uses.push(UseLine {
                village_code: (*village).to_owned(),
                use_code: use_.code(),
                percent: plan.plan().percent(use_),
                amount_fen,
            });
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let distributable_fen = lines.iter().map(|l| l.distributable_fen).sum();
    Ok(Computed {
        period: period.to_string(),
        stations: lines,
        villages,
        uses,
        distributable_fen,
        adjustments_fen: adjustments.values().sum(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settlement::plan::{PlanRules, UsePlan};

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn rules() -> Rules {
        Rules {
            mode: IncomeMode::Accrued,
            om_yuan_per_kwp_year: d("30"),
            land_rent_yuan_per_year: Decimal::ZERO,
            insurance_yuan_per_year: d("1200"),
            vat_rate: Decimal::ZERO,
            vat_refund_share: Decimal::ZERO,
            reconcile_threshold_percent: d("3"),
        }
    }

    fn plan(jobs: &str, works: &str, rewards: &str) -> ValidPlan {
        UsePlan {
            jobs: d(jobs),
            works: d(works),
            rewards: d(rewards),
            other: Decimal::ZERO,
        }
        .validate(&PlanRules {
            jobs_floor_percent: d("80"),
            other_allowed: false,
        })
        .unwrap()
    }

    fn joint() -> StationInput {
        StationInput {
            code: "PVJ".into(),
            dc_kwp: d("300"),
            tariff: Some(Tariff {
                total_price: d("0.85"),
                benchmark_price: d("0.332"),
            }),
            grid_kwh: Some(d("38456.7")),
            meter_kwh: Some(d("38000")),
            inverter_kwh: None,
            shares: vec![
                ("V1".into(), d("0.3334")),
                ("V2".into(), d("0.3333")),
                ("V3".into(), d("0.3333")),
            ],
            deficit_in_fen: 0,
            subsidy_received_fen: 0,
            terms: rules().default_terms(),
        }
    }

    #[test]
    fn a_joint_station_month_worked_by_hand() {
        // Income: 38456.7 x 0.332 = 12767.6244 -> 12767.62; x 0.518 = 19920.5706 -> 19920.57;
        // accrued income 32688.19. Deductions: O&M 30 x 300 / 12 = 750.00; insurance
        // 1200 / 12 = 100.00. Distributable 32688.19 - 850.00 = 31838.19 = 3183819 fen.
        // Villages: 0.3334 / 0.3333 / 0.3333 of 3183819 = 1061485.25 / 1061166.87 / 1061166.87;
        // floors 1061485 + 1061166 + 1061166 = 3183817, and the 2 fen left go to the largest
        // remainders (V2, V3): 1061485 / 1061167 / 1061167.
        let plans: HashMap<String, ValidPlan> = [
            ("V1".into(), plan("80", "15", "5")),
            ("V2".into(), plan("85", "10", "5")),
            ("V3".into(), plan("100", "0", "0")),
        ]
        .into();
        let c = settle(
            Period::new(2026, 10).unwrap(),
            &[joint()],
            &plans,
            &rules(),
            &BTreeMap::new(),
        )
        .unwrap();
        let s = &c.stations[0];
        assert_eq!(
            (s.benchmark_income_fen, s.subsidy_accrued_fen),
            (1_276_762, 1_992_057)
        );
        assert_eq!(s.deductions_fen, 85_000);
        assert_eq!(s.distributable_fen, 3_183_819);
        assert_eq!(s.energy_source, EnergySource::Grid);
        // Meter 38000 vs grid 38456.7: -1.19 %, inside the 3 % threshold.
        assert_eq!(s.reconcile_diff_percent, Some(d("-1.19")));
        assert!(!s.reconcile_flag);
        let amounts: Vec<i64> = c.villages.iter().map(|v| v.amount_fen).collect();
        assert_eq!(amounts, [1_061_485, 1_061_167, 1_061_167]);
        // V1: 80/15/5 of 1061485 = 849188 / 159222.75 / 53074.25 -> 849188, 159223, 53074.
        let v1: Vec<(&str, i64)> = c
            .uses
            .iter()
            .filter(|u| u.village_code == "V1")
            .map(|u| (u.use_code, u.amount_fen))
            .collect();
        assert_eq!(
            v1,
            [("jobs", 849_188), ("works", 159_223), ("rewards", 53_074)]
        );
        let total_uses: i64 = c.uses.iter().map(|u| u.amount_fen).sum();
        assert_eq!(
            total_uses, c.distributable_fen,
            "uses tie to the distributable total"
        );
    }

    #[test]
    fn a_station_with_om_as_a_percentage_of_income_pays_that_percentage() {
        // Accrued income 32688.19 (see above); O&M 8 % = 2615.0552 -> 2615.06; insurance
        // 100.00 (county default); distributable 32688.19 - 2715.06 = 29973.13.
        let mut s = joint();
        s.terms.om = OmCharge::PercentOfIncome(d("8"));
        let plans: HashMap<String, ValidPlan> = ["V1", "V2", "V3"]
            .map(|v| (v.to_owned(), plan("80", "20", "0")))
            .into();
        let c = settle(
            Period::new(2026, 10).unwrap(),
            &[s],
            &plans,
            &rules(),
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(c.stations[0].deductions_fen, 271_506);
        assert_eq!(c.stations[0].distributable_fen, 2_997_313);
    }

    #[test]
    fn adjustments_reach_the_villages_uses_and_tie() {
        let plans: HashMap<String, ValidPlan> = ["V1", "V2", "V3"]
            .map(|v| (v.to_owned(), plan("80", "20", "0")))
            .into();
        // V1 is owed 100.01 more for an earlier month, V2 was paid 50.00 too much.
        let adjustments: BTreeMap<String, i64> =
            [("V1".to_owned(), 10_001), ("V2".to_owned(), -5_000)].into();
        let c = settle(
            Period::new(2026, 10).unwrap(),
            &[joint()],
            &plans,
            &rules(),
            &adjustments,
        )
        .unwrap();
        assert_eq!(c.adjustments_fen, 5_001);
        let v1: i64 = c
            .uses
            .iter()
            .filter(|u| u.village_code == "V1")
            .map(|u| u.amount_fen)
            .sum();
        assert_eq!(v1, 1_061_485 + 10_001);
        let total: i64 = c.uses.iter().map(|u| u.amount_fen).sum();
        assert_eq!(total, c.distributable_fen + c.adjustments_fen);
    }

    #[test]
    fn a_bad_month_carries_its_deficit_and_pays_nothing() {
        let mut s = joint();
        s.grid_kwh = Some(d("1000")); // income 850.00 < deductions 850.00 + 100.00 carried
        s.deficit_in_fen = 10_000;
        let plans: HashMap<String, ValidPlan> = [
            ("V1".into(), plan("80", "20", "0")),
            ("V2".into(), plan("80", "20", "0")),
            ("V3".into(), plan("80", "20", "0")),
        ]
        .into();
        let c = settle(
            Period::new(2026, 1).unwrap(),
            &[s],
            &plans,
            &rules(),
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(c.stations[0].distributable_fen, 0);
        assert_eq!(c.stations[0].deficit_out_fen, 10_000);
        assert!(c.villages.iter().all(|v| v.amount_fen == 0));
    }

    #[test]
    fn every_missing_input_is_reported_at_once() {
        let mut no_tariff = joint();
        no_tariff.code = "A".into();
        no_tariff.tariff = None;
        let mut no_energy = joint();
        no_energy.code = "B".into();
        no_energy.grid_kwh = None;
        no_energy.meter_kwh = None;
        let problems = settle(
            Period::new(2026, 10).unwrap(),
            &[no_tariff, no_energy, joint()],
            &HashMap::new(),
            &rules(),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert_eq!(problems.len(), 2 + 3, "{problems:#?}");
        assert!(problems[0].contains("无电价"));
        assert!(
            problems
                .iter()
                .any(|p| p.contains("village V2 has no use plan for 2026"))
        );
    }

    #[test]
    fn telemetry_estimates_are_marked_and_large_differences_flagged() {
        let mut s = joint();
        s.grid_kwh = None;
        let plans: HashMap<String, ValidPlan> = [
            ("V1".into(), plan("80", "20", "0")),
            ("V2".into(), plan("80", "20", "0")),
            ("V3".into(), plan("80", "20", "0")),
        ]
        .into();
        let c = settle(
            Period::new(2026, 10).unwrap(),
            &[s],
            &plans,
            &rules(),
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(c.stations[0].energy_source, EnergySource::Meter);
        assert!(c.stations[0].estimate);
        let mut s = joint();
        s.meter_kwh = Some(d("30000"));
        let c = settle(
            Period::new(2026, 10).unwrap(),
            &[s],
            &plans,
            &rules(),
            &BTreeMap::new(),
        )
        .unwrap();
        assert!(c.stations[0].reconcile_flag, "-21.99 % is beyond 3 %");
    }
}
