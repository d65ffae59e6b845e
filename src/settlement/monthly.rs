//! A station's monthly settlement line: income, deductions and what the villages may share.
//!
//! The Shanxi rule: distributable income = generation income − land, forest-land and site
//! fees − taxes, fees and insurance − O&M costs. A month whose income does not cover its
//! deductions and the deficit brought forward distributes nothing and carries the shortfall
//! into the next month, so a bad winter is made good by the spring before anything is paid.
//!
//! Deductions that depend on income (VAT, O&M as a percentage) need the income first, so
//! the flow is: [`income`] → the helpers in [`crate::settlement::deductions`] → [`settle_month`]. The
//! errors of all three steps are one [`MonthlyError`].

use rust_decimal::Decimal;
use thiserror::Error;

use crate::settlement::deductions::Deductions;
use crate::settlement::income::{Income, IncomeMode, Tariff, income};
use crate::settlement::money::{from_fen, round_to_fen};
use crate::settlement::period::Period;

/// What a value in an error message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quantity {
    /// On-grid energy, kWh.
    Energy,
    /// Total tariff, 元/kWh.
    TotalPrice,
    /// Coal benchmark price, 元/kWh.
    BenchmarkPrice,
    /// Subsidy received this month.
    SubsidyReceived,
    /// A deduction of the month.
    Deduction,
    /// Deficit brought forward from the previous month.
    DeficitIn,
    /// Installed capacity, kWp.
    Capacity,
    /// A yearly rate, amount or percentage used to derive a deduction.
    DeductionBasis,
    /// VAT rate.
    VatRate,
}

impl Quantity {
    /// The quantity's name in Chinese.
    pub fn zh(self) -> &'static str {
        match self {
            Self::Energy => "上网电量",
            Self::TotalPrice => "上网电价",
            Self::BenchmarkPrice => "燃煤基准价",
            Self::SubsidyReceived => "本月到账补贴",
            Self::Deduction => "扣除项",
            Self::DeficitIn => "上月结转亏空",
            Self::Capacity => "装机容量",
            Self::DeductionBasis => "扣除计算依据",
            Self::VatRate => "增值税税率",
        }
    }

    /// The quantity's name in English.
    pub fn en(self) -> &'static str {
        match self {
            Self::Energy => "on-grid energy",
            Self::TotalPrice => "total price",
            Self::BenchmarkPrice => "benchmark price",
            Self::SubsidyReceived => "subsidy received this month",
            Self::Deduction => "a deduction",
            Self::DeficitIn => "the deficit brought forward",
            Self::Capacity => "the capacity",
            Self::DeductionBasis => "the basis of a deduction",
            Self::VatRate => "the VAT rate",
        }
    }
}

/// Why a monthly line could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MonthlyError {
    /// A quantity that must be zero or more is negative.
    #[error("{}不能为负数：{value} ({} must not be negative: {value})", .what.zh(), .what.en())]
    Negative {
        /// Which quantity.
        what: Quantity,
        /// Its value (amounts in 元).
        value: Decimal,
    },
    /// A price has more than [`MAX_PRICE_DECIMALS`](crate::settlement::income::MAX_PRICE_DECIMALS) decimals.
    #[error("{} {price} 元/kWh 超过 4 位小数 ({} {price} yuan/kWh has more than 4 decimals)", .what.zh(), .what.en())]
    PriceTooPrecise {
        /// Which price.
        what: Quantity,
        /// The price.
        price: Decimal,
    },
    /// The benchmark part exceeds the whole tariff, which would make the subsidy negative.
    #[error(
        "燃煤基准价 {benchmark} 高于上网电价 {total} (benchmark price {benchmark} is above the total price {total})"
    )]
    BenchmarkAboveTotal {
        /// Benchmark price.
        benchmark: Decimal,
        /// Total price.
        total: Decimal,
    },
    /// The VAT refund share is not a fraction between 0 and 1.
    #[error(
        "增值税退税比例 {share} 不在 0–1 之间 (VAT refund share {share} is not between 0 and 1)"
    )]
    RefundShareOutOfRange {
        /// The share.
        share: Decimal,
    },
    /// A product or sum does not fit (only with absurd inputs).
    #[error("计算结果超出数值范围 (the calculation overflows)")]
    Overflow,
}

/// Everything a monthly line is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthlyInput {
    /// The month settled.
    pub period: Period,
    /// Grid-settled on-grid energy (实际上网电量), kWh.
    pub energy_kwh: Decimal,
    /// The station's tariff.
    pub tariff: Tariff,
    /// Accrued or received subsidy.
    pub mode: IncomeMode,
    /// Subsidy that arrived this month, fen (used in [`IncomeMode::Received`]).
    pub subsidy_received_fen: i64,
    /// The month's deductions.
    pub deductions: Deductions,
    /// Deficit brought forward from the previous month, fen, zero or more.
    pub deficit_in_fen: i64,
}

/// A station's settled month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthlyLine {
    /// The month settled.
    pub period: Period,
    /// How the subsidy entered the income.
    pub mode: IncomeMode,
    /// Income by component and in total.
    pub income: Income,
    /// The deductions, item by item.
    pub deductions: Deductions,
    /// Their sum.
    pub deductions_fen: i64,
    /// Deficit brought forward.
    pub deficit_in_fen: i64,
    /// What the villages may share this month, zero or more.
    pub distributable_fen: i64,
    /// Shortfall carried into the next month, zero or more.
    pub deficit_out_fen: i64,
}

pub(crate) fn non_negative(what: Quantity, value: Decimal) -> Result<(), MonthlyError> {
    if value < Decimal::ZERO {
        return Err(MonthlyError::Negative { what, value });
    }
    Ok(())
}

pub(crate) fn non_negative_fen(what: Quantity, fen: i64) -> Result<(), MonthlyError> {
    non_negative(what, from_fen(fen))
}

/// Rounds a value in 元 to fen, overflow becoming [`MonthlyError::Overflow`].
pub(crate) fn fen_of(yuan: Option<Decimal>) -> Result<i64, MonthlyError> {
    yuan.and_then(|y| round_to_fen(y).ok())
        .ok_or(MonthlyError::Overflow)
}

/// Settles one month: income by mode, less deductions and the deficit brought forward.
/// A negative result distributes nothing and becomes the deficit carried out.
pub fn settle_month(input: &MonthlyInput) -> Result<MonthlyLine, MonthlyError> {
    let income = income(
        input.energy_kwh,
        &input.tariff,
        input.mode,
        input.subsidy_received_fen,
    )?;
    for item in input.deductions.items() {
        non_negative_fen(Quantity::Deduction, item)?;
    }
    non_negative_fen(Quantity::DeficitIn, input.deficit_in_fen)?;

    let deductions_fen = input.deductions.total_fen().ok_or(MonthlyError::Overflow)?;
    let net = income
        .income_fen
        .checked_sub(deductions_fen)
        .and_then(|n| n.checked_sub(input.deficit_in_fen))
        .ok_or(MonthlyError::Overflow)?;
    Ok(MonthlyLine {
        period: input.period,
        mode: input.mode,
        income,
        deductions: input.deductions,
        deductions_fen,
        deficit_in_fen: input.deficit_in_fen,
        distributable_fen: net.max(0),
        deficit_out_fen: net.min(0).checked_neg().ok_or(MonthlyError::Overflow)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settlement::deductions::{monthly_from_yearly_fen, om_from_rate_fen, vat_fen};

    fn d(value: i64, scale: u32) -> Decimal {
        Decimal::new(value, scale)
    }

    /// A zone-III Shanxi station: 0.85 元/kWh, of which 0.332 is the coal benchmark.
    fn shanxi_zone_iii() -> Tariff {
        Tariff {
            total_price: d(8500, 4),
            benchmark_price: d(3320, 4),
        }
    }

    /// 300 kWp at 30 元/kWp/year O&M (75000 fen), land rent 5000 元/year (41667 fen),
    /// insurance 1200 元/year (10000 fen), VAT 13% with half refunded on `income_fen`.
    fn deductions_on(income_fen: i64) -> Deductions {
        Deductions {
            om_fen: om_from_rate_fen(d(30, 0), d(300, 0)).unwrap(),
            land_rent_fen: monthly_from_yearly_fen(d(5000, 0)).unwrap(),
            insurance_fen: monthly_from_yearly_fen(d(1200, 0)).unwrap(),
            vat_fen: vat_fen(income_fen, d(13, 2), d(5, 1)).unwrap(),
            other_fen: 0,
        }
    }

    fn month(energy_kwh: Decimal, mode: IncomeMode, received_fen: i64) -> MonthlyInput {
        let income = income(energy_kwh, &shanxi_zone_iii(), mode, received_fen).unwrap();
        MonthlyInput {
            period: "2024-05".parse().unwrap(),
            energy_kwh,
            tariff: shanxi_zone_iii(),
            mode,
            subsidy_received_fen: received_fen,
            deductions: deductions_on(income.income_fen),
            deficit_in_fen: 0,
        }
    }

    #[test]
    fn an_accrued_month_earns_benchmark_plus_subsidy_less_deductions() {
        // E = 38456.7 kWh.
        // Benchmark: 38456.7 × 0.332 = 12767.6244 → 12767.62 元.
        // Subsidy:   38456.7 × 0.518 = 19920.5706 → 19920.57 元.
        // Income 32688.19 元. VAT 32688.19 × 0.13 × 0.5 / 1.13 = 1880.29 元.
        // Deductions 750.00 + 416.67 + 100.00 + 1880.29 = 3146.96 元.
        // Distributable 32688.19 − 3146.96 = 29541.23 元.
        let line = settle_month(&month(d(384_567, 1), IncomeMode::Accrued, 0)).unwrap();
        assert_eq!(line.income.benchmark_fen, 1_276_762);
        assert_eq!(line.income.subsidy_accrued_fen, 1_992_057);
        assert_eq!(line.income.income_fen, 3_268_819);
        assert_eq!(line.deductions.vat_fen, 188_029);
        assert_eq!(line.deductions_fen, 314_696);
        assert_eq!(line.distributable_fen, 2_954_123);
        assert_eq!(line.deficit_out_fen, 0);
        assert_eq!(line.period.to_string(), "2024-05");
    }

    #[test]
    fn a_short_month_distributes_nothing_and_carries_the_deficit_forward() {
        // Winter, E = 12000 kWh, received mode, no subsidy: income 12000 × 0.332 = 3984.00.
        // VAT 3984 × 0.13 × 0.5 / 1.13 = 229.168.. → 229.17.
        // Deductions 750 + 416.67 + 100 + 229.17 = 1495.84; deficit in 3000.00.
        // 3984.00 − 1495.84 − 3000.00 = −511.84 → deficit out 511.84.
        let input = MonthlyInput {
            deficit_in_fen: 300_000,
            ..month(d(12_000, 0), IncomeMode::Received, 0)
        };
        let line = settle_month(&input).unwrap();
        assert_eq!(line.income.income_fen, 398_400);
        assert_eq!(line.deductions_fen, 149_584);
        assert_eq!(line.distributable_fen, 0);
        assert_eq!(line.deficit_out_fen, 51_184);
    }

    #[test]
    fn a_good_month_pays_off_the_deficit_before_distributing() {
        // E = 30000 kWh: income 9960.00; VAT 9960 × 0.065 / 1.13 = 572.920.. → 572.92.
        // Deductions 750 + 416.67 + 100 + 572.92 = 1839.59; deficit in 511.84.
        // 9960.00 − 1839.59 − 511.84 = 7608.57.
        let input = MonthlyInput {
            deficit_in_fen: 51_184,
            ..month(d(30_000, 0), IncomeMode::Received, 0)
        };
        let line = settle_month(&input).unwrap();
        assert_eq!(line.deductions_fen, 183_959);
        assert_eq!(line.distributable_fen, 760_857);
        assert_eq!(line.deficit_out_fen, 0);
    }

    #[test]
    fn a_month_without_energy_carries_all_its_deductions_as_deficit() {
        let line = settle_month(&month(Decimal::ZERO, IncomeMode::Accrued, 0)).unwrap();
        assert_eq!(line.income.income_fen, 0);
        assert_eq!(line.deficit_out_fen, 75_000 + 41_667 + 10_000);
    }

    #[test]
    fn negative_deductions_and_deficits_are_refused_with_the_quantity_named() {
        let mut input = month(Decimal::ONE, IncomeMode::Accrued, 0);
        input.deficit_in_fen = -1;
        assert_eq!(
            settle_month(&input),
            Err(MonthlyError::Negative {
                what: Quantity::DeficitIn,
                value: d(-1, 2)
            })
        );
        input.deficit_in_fen = 0;
        input.deductions.other_fen = -5;
        assert!(matches!(
            settle_month(&input),
            Err(MonthlyError::Negative {
                what: Quantity::Deduction,
                ..
            })
        ));
    }
}
