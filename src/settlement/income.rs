//! What a station earned in a month, by component.
//!
//! Income has two components paid by different payers on different clocks: the coal
//! benchmark part (grid company, monthly) and the subsidy part (renewable-energy fund, late,
//! often yearly). They are kept apart and each is rounded to the fen on its own, because each
//! is invoiced and received on its own; their sum, not `round(E × total price)`, is the
//! income (the two can differ by a fen, see the tests). The month's income counts the
//! subsidy either as accrued (what the month's energy earned) or as received (what arrived
//! this month): the caller's [`IncomeMode`].

use rust_decimal::Decimal;

use crate::settlement::monthly::{MonthlyError, Quantity, fen_of, non_negative, non_negative_fen};

/// Tariffs are quoted to at most this many decimals of 元/kWh.
pub const MAX_PRICE_DECIMALS: u32 = 4;

/// How the subsidy enters the month's income.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncomeMode {
    /// The subsidy the month's energy earned (权责发生制).
    Accrued,
    /// The subsidy that arrived this month (收付实现制).
    Received,
}

/// A station's tariff, tax-inclusive 元/kWh: the total and its coal benchmark part; the
/// difference is the subsidy part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tariff {
    /// Total tariff (e.g. 0.8500 for a zone-III station of 2017 or later).
    pub total_price: Decimal,
    /// Coal benchmark part (e.g. 0.3320 in Shanxi).
    pub benchmark_price: Decimal,
}

/// The income of a month, by component, all in fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Income {
    /// round_fen(E × benchmark price): paid by the grid company.
    pub benchmark_fen: i64,
    /// round_fen(E × (total − benchmark)): the subsidy the month's energy earned.
    pub subsidy_accrued_fen: i64,
    /// The subsidy that arrived this month.
    pub subsidy_received_fen: i64,
    /// The month's income under the chosen mode: benchmark plus accrued or received subsidy.
    pub income_fen: i64,
}

fn check_price(what: Quantity, price: Decimal) -> Result<(), MonthlyError> {
    non_negative(what, price)?;
    if price.normalize().scale() > MAX_PRICE_DECIMALS {
        return Err(MonthlyError::PriceTooPrecise { what, price });
    }
    Ok(())
}

/// The month's income by component. Energy and prices must be zero or more, prices with at
/// most four decimals and the benchmark no higher than the total.
pub fn income(
    energy_kwh: Decimal,
    tariff: &Tariff,
    mode: IncomeMode,
    subsidy_received_fen: i64,
) -> Result<Income, MonthlyError> {
    non_negative(Quantity::Energy, energy_kwh)?;
    check_price(Quantity::TotalPrice, tariff.total_price)?;
    check_price(Quantity::BenchmarkPrice, tariff.benchmark_price)?;
    if tariff.benchmark_price > tariff.total_price {
        return Err(MonthlyError::BenchmarkAboveTotal {
            benchmark: tariff.benchmark_price,
            total: tariff.total_price,
        });
    }
    non_negative_fen(Quantity::SubsidyReceived, subsidy_received_fen)?;

    let subsidy_price = tariff.total_price - tariff.benchmark_price;
    let benchmark_fen = fen_of(energy_kwh.checked_mul(tariff.benchmark_price))?;
    let subsidy_accrued_fen = fen_of(energy_kwh.checked_mul(subsidy_price))?;
    let subsidy_fen = match mode {
        IncomeMode::Accrued => subsidy_accrued_fen,
        IncomeMode::Received => subsidy_received_fen,
    };
    let income_fen = benchmark_fen
        .checked_add(subsidy_fen)
        .ok_or(MonthlyError::Overflow)?;
    Ok(Income {
        benchmark_fen,
        subsidy_accrued_fen,
        subsidy_received_fen,
        income_fen,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settlement::money::round_to_fen;

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

    #[test]
    fn components_are_rounded_separately_so_income_may_differ_from_the_rounded_total() {
        // 38456.7 × 0.85 = 32688.195 → 32688.20, but the components add up to 32688.19.
        let energy = d(384_567, 1);
        let income = income(energy, &shanxi_zone_iii(), IncomeMode::Accrued, 0).unwrap();
        assert_eq!(round_to_fen(energy * d(85, 2)), Ok(3_268_820));
        assert_eq!(income.income_fen, 3_268_819);
    }

    #[test]
    fn a_received_month_counts_only_the_subsidy_that_arrived() {
        // No subsidy arrived: income is the benchmark part, 12767.62 元.
        let none = income(d(384_567, 1), &shanxi_zone_iii(), IncomeMode::Received, 0).unwrap();
        assert_eq!(none.income_fen, 1_276_762);
        assert_eq!(none.subsidy_accrued_fen, 1_992_057);
        // 15000 元 of last year's subsidy arrived: 12767.62 + 15000 = 27767.62 元.
        let some = income(
            d(384_567, 1),
            &shanxi_zone_iii(),
            IncomeMode::Received,
            1_500_000,
        )
        .unwrap();
        assert_eq!(some.income_fen, 2_776_762);
    }

    #[test]
    fn income_rounds_half_away_from_zero() {
        // 1.25 kWh × 0.34 = 0.425 → 0.43 (banker's rounding would give 0.42).
        let tariff = Tariff {
            total_price: d(34, 2),
            benchmark_price: d(34, 2),
        };
        let income = income(d(125, 2), &tariff, IncomeMode::Accrued, 0).unwrap();
        assert_eq!(income.benchmark_fen, 43);
        assert_eq!(income.subsidy_accrued_fen, 0);
    }

    #[test]
    fn invalid_energy_and_tariffs_are_refused_with_the_quantity_named() {
        let tariff = shanxi_zone_iii();
        let err = income(d(-1, 0), &tariff, IncomeMode::Accrued, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "上网电量不能为负数：-1 (on-grid energy must not be negative: -1)"
        );
        let precise = Tariff {
            benchmark_price: d(33_205, 5),
            ..tariff
        };
        assert_eq!(
            income(Decimal::ONE, &precise, IncomeMode::Accrued, 0),
            Err(MonthlyError::PriceTooPrecise {
                what: Quantity::BenchmarkPrice,
                price: d(33_205, 5)
            })
        );
        let inverted = Tariff {
            total_price: d(3, 1),
            ..tariff
        };
        assert!(matches!(
            income(Decimal::ONE, &inverted, IncomeMode::Accrued, 0),
            Err(MonthlyError::BenchmarkAboveTotal { .. })
        ));
    }
}
