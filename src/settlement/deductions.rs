//! Monthly deductions and how each is derived from yearly figures.
//!
//! Deductions come from contracts stated per year (O&M per kWp, land rent, insurance) or as
//! rates on income (VAT, O&M as a percentage). Each helper turns one such figure into the
//! month's amount, rounded to the fen once, at the end, so that a statement can show how
//! every deduction was reached. Rates and amounts are parameters: they are local policy and
//! contract terms (DOMAIN.md: VAT rate and refund share are configuration).

use rust_decimal::Decimal;

use crate::settlement::money::from_fen;
use crate::settlement::monthly::{MonthlyError, Quantity, fen_of, non_negative};
use crate::settlement::split::allocate;

/// The month's deductions, in fen, each already rounded (see the helpers in this module).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deductions {
    /// Operation and O&M costs.
    pub om_fen: i64,
    /// Land, forest-land and site fees and rents.
    pub land_rent_fen: i64,
    /// Insurance.
    pub insurance_fen: i64,
    /// VAT after any refund.
    pub vat_fen: i64,
    /// Other taxes and fees.
    pub other_fen: i64,
}

impl Deductions {
    pub(crate) fn items(&self) -> [i64; 5] {
        [
            self.om_fen,
            self.land_rent_fen,
            self.insurance_fen,
            self.vat_fen,
            self.other_fen,
        ]
    }

    /// The sum of all deductions, or `None` on overflow.
    pub fn total_fen(&self) -> Option<i64> {
        self.items().into_iter().try_fold(0i64, i64::checked_add)
    }
}

/// O&M for one month from a yearly rate per kWp: round_fen(rate × kWp / 12).
/// (A cap of 0.03 元/W/year is 30 元/kWp/year.)
pub fn om_from_rate_fen(
    yuan_per_kwp_year: Decimal,
    capacity_kwp: Decimal,
) -> Result<i64, MonthlyError> {
    non_negative(Quantity::DeductionBasis, yuan_per_kwp_year)?;
    non_negative(Quantity::Capacity, capacity_kwp)?;
    fen_of(
        yuan_per_kwp_year
            .checked_mul(capacity_kwp)
            .and_then(|yearly| yearly.checked_div(Decimal::from(12))),
    )
}

/// A percentage of an amount in fen (e.g. O&M as a percentage of income), rounded to fen.
pub fn percent_of_fen(amount_fen: i64, percent: Decimal) -> Result<i64, MonthlyError> {
    non_negative(Quantity::DeductionBasis, percent)?;
    fen_of(
        from_fen(amount_fen)
            .checked_mul(percent)
            .and_then(|x| x.checked_div(Decimal::ONE_HUNDRED)),
    )
}

/// One month of a yearly amount in 元 (land rent, insurance): round_fen(yearly / 12).
/// Twelve such months can miss the year by a few fen; [`spread_yearly_fen`] does not.
pub fn monthly_from_yearly_fen(yuan_per_year: Decimal) -> Result<i64, MonthlyError> {
    non_negative(Quantity::DeductionBasis, yuan_per_year)?;
    fen_of(yuan_per_year.checked_div(Decimal::from(12)))
}

/// A yearly amount spread over twelve months by largest remainder, summing exactly to the
/// year; the spare fen fall in the earliest months. Index 0 is January.
pub fn spread_yearly_fen(yearly_fen: i64) -> [i64; 12] {
    let months: Vec<(u32, Decimal)> = (1..=12).map(|m| (m, Decimal::ONE)).collect();
    let mut spread = [0; 12];
    // Twelve distinct keys of weight one: allocation cannot fail.
    let parts = allocate(yearly_fen, &months).expect("twelve equal weights always allocate");
    for (slot, (_, fen)) in spread.iter_mut().zip(parts) {
        *slot = fen;
    }
    spread
}

/// VAT payable on tax-inclusive income: round_fen(income × rate / (1 + rate) × (1 − refund)).
/// `refund_share` is the immediate-refund fraction (0.5 for the 50% refund of 2016-2020).
/// The single division is done last, so the only inexact step is below the fen.
pub fn vat_fen(income_fen: i64, rate: Decimal, refund_share: Decimal) -> Result<i64, MonthlyError> {
    non_negative(Quantity::VatRate, rate)?;
    if refund_share < Decimal::ZERO || refund_share > Decimal::ONE {
        return Err(MonthlyError::RefundShareOutOfRange {
            share: refund_share,
        });
    }
    fen_of(
        from_fen(income_fen)
            .checked_mul(rate)
            .and_then(|x| x.checked_mul(Decimal::ONE - refund_share))
            .and_then(|x| x.checked_div(Decimal::ONE + rate)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(value: i64, scale: u32) -> Decimal {
        Decimal::new(value, scale)
    }

    #[test]
    fn om_from_a_yearly_rate_per_kwp_is_one_twelfth_rounded_to_the_fen() {
        // 30 元/kWp/year (the 0.03 元/W cap) × 300 kWp = 9000 元/year → 750.00 元/month.
        assert_eq!(om_from_rate_fen(d(30, 0), d(300, 0)), Ok(75_000));
        // 30 × 284.35 = 8530.5 元/year → 710.875 → 710.88 (half away from zero).
        assert_eq!(om_from_rate_fen(d(30, 0), d(28_435, 2)), Ok(71_088));
    }

    #[test]
    fn a_percentage_of_income_is_rounded_to_the_fen() {
        // 3% of 32688.19 元 = 980.6457 → 980.65.
        assert_eq!(percent_of_fen(3_268_819, d(3, 0)), Ok(98_065));
        assert_eq!(percent_of_fen(3_268_819, Decimal::ZERO), Ok(0));
    }

    #[test]
    fn a_yearly_amount_gives_one_twelfth_rounded_each_month() {
        // 5000 / 12 = 416.666.. → 416.67; 1200 / 12 = 100.00.
        assert_eq!(monthly_from_yearly_fen(d(5000, 0)), Ok(41_667));
        assert_eq!(monthly_from_yearly_fen(d(1200, 0)), Ok(10_000));
    }

    #[test]
    fn spreading_a_year_sums_exactly_with_spare_fen_in_the_earliest_months() {
        // 500000 fen / 12 = 41666 rest 8: January to August get one fen more.
        let spread = spread_yearly_fen(500_000);
        assert_eq!(spread[..8], [41_667; 8]);
        assert_eq!(spread[8..], [41_666; 4]);
        assert_eq!(spread.iter().sum::<i64>(), 500_000);
        // A negative year (a refund) mirrors: -13 fen is -2 in January, -1 after.
        let refund = spread_yearly_fen(-13);
        assert_eq!(refund[0], -2);
        assert_eq!(refund[1..], [-1; 11]);
    }

    #[test]
    fn vat_is_extracted_from_tax_inclusive_income_then_reduced_by_the_refund() {
        // 32688.19 × 0.13 × 0.5 / 1.13 = 2124.73235 / 1.13 = 1880.2941.. → 1880.29.
        assert_eq!(vat_fen(3_268_819, d(13, 2), d(5, 1)), Ok(188_029));
        // Without refund: 4249.4647 / 1.13 = 3760.5882.. → 3760.59.
        assert_eq!(vat_fen(3_268_819, d(13, 2), Decimal::ZERO), Ok(376_059));
        assert_eq!(vat_fen(3_268_819, d(13, 2), Decimal::ONE), Ok(0));
        assert_eq!(vat_fen(3_268_819, Decimal::ZERO, Decimal::ZERO), Ok(0));
    }

    #[test]
    fn nonsensical_rates_and_shares_are_refused() {
        assert_eq!(
            vat_fen(100, d(13, 2), d(15, 1)),
            Err(MonthlyError::RefundShareOutOfRange { share: d(15, 1) })
        );
        assert_eq!(
            vat_fen(100, d(-13, 2), Decimal::ZERO),
            Err(MonthlyError::Negative {
                what: Quantity::VatRate,
                value: d(-13, 2)
            })
        );
        assert!(om_from_rate_fen(d(30, 0), d(-1, 0)).is_err());
        assert!(monthly_from_yearly_fen(d(-1, 0)).is_err());
        assert!(percent_of_fen(100, d(-1, 0)).is_err());
    }

    #[test]
    fn the_total_of_deductions_adds_every_item_and_detects_overflow() {
        let deductions = Deductions {
            om_fen: 75_000,
            land_rent_fen: 41_667,
            insurance_fen: 10_000,
            vat_fen: 188_029,
            other_fen: 1,
        };
        assert_eq!(deductions.total_fen(), Some(314_697));
        let huge = Deductions {
            om_fen: i64::MAX,
            other_fen: 1,
            ..Deductions::default()
        };
        assert_eq!(huge.total_fen(), None);
    }
}
