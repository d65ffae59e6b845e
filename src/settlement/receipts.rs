//! Subsidy receipts paying off receivables, oldest month first.
//!
//! The renewable-energy subsidy reaches the county's carry-over account late and in lumps,
//! each covering some of what stations are owed. A receipt is applied to the oldest period
//! first, because that is how the fund settles and it keeps the ageing of receivables honest.
//! When the money runs out inside a period, no station of that period is favoured: what is
//! left is split in proportion to what each station is owed, by largest remainder (ties to
//! the lower station key), so the payments add up to the receipt exactly. Money beyond all
//! receivables is not forced onto anyone: it is returned as an unallocated credit.

use std::collections::BTreeSet;

use rust_decimal::Decimal;
use thiserror::Error;

use crate::settlement::period::Period;
use crate::settlement::split::{SplitError, allocate};

/// What a station is still owed for one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receivable<K> {
    /// The station owed.
    pub station: K,
    /// The month the money was earned in.
    pub period: Period,
    /// Still owed, fen, zero or more.
    pub outstanding_fen: i64,
}

/// Money from a receipt applied to one station and period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment<K> {
    /// The station paid.
    pub station: K,
    /// The period paid off.
    pub period: Period,
    /// Paid from this receipt, fen, more than zero.
    pub paid_fen: i64,
    /// Still owed for this station and period afterwards, fen.
    pub remaining_fen: i64,
}

/// How a receipt was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptApplication<K> {
    /// One payment per receivable that got money, oldest period first, then by station.
    pub payments: Vec<Payment<K>>,
    /// What was left after every receivable was paid in full, fen.
    pub credit_fen: i64,
}

/// Why a receipt could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReceiptError {
    /// The receipt is negative (a refund is not a receipt).
    #[error("到账金额不能为负数：{} 分 (the receipt must not be negative: {} fen)", .fen, .fen)]
    NegativeReceipt {
        /// The amount given.
        fen: i64,
    },
    /// A receivable's outstanding amount is negative.
    #[error("第 {} 项应收款余额为负数 (receivable {} has a negative outstanding amount)", .index + 1, .index + 1)]
    NegativeOutstanding {
        /// Position in the input, from 0.
        index: usize,
    },
    /// The same station and period appear twice.
    #[error("第 {} 项应收款与前面的项电站和月份重复 (receivable {} repeats the station and period of an earlier one)", .index + 1, .index + 1)]
    DuplicateReceivable {
        /// Position of the later duplicate in the input, from 0.
        index: usize,
    },
    /// The proportional split failed (cannot happen with validated receivables).
    #[error(transparent)]
    Split(#[from] SplitError),
}

/// Applies `receipt_fen` to `receivables`: oldest period first; within a period that cannot
/// be paid in full, in proportion to what each station is owed. The input may be in any
/// order. The paid amounts plus the credit always equal the receipt.
pub fn apply_receipt<K: Ord + Clone>(
    receipt_fen: i64,
    receivables: &[Receivable<K>],
) -> Result<ReceiptApplication<K>, ReceiptError> {
    if receipt_fen < 0 {
        return Err(ReceiptError::NegativeReceipt { fen: receipt_fen });
    }
    let mut seen = BTreeSet::new();
    for (index, receivable) in receivables.iter().enumerate() {
        if receivable.outstanding_fen < 0 {
            return Err(ReceiptError::NegativeOutstanding { index });
        }
        if !seen.insert((receivable.period, &receivable.station)) {
            return Err(ReceiptError::DuplicateReceivable { index });
        }
    }

    let mut ordered: Vec<&Receivable<K>> = receivables.iter().collect();
    ordered.sort_by(|a, b| (a.period, &a.station).cmp(&(b.period, &b.station)));

    let mut payments = Vec::new();
    let mut available = receipt_fen;
    for period_items in ordered.chunk_by(|a, b| a.period == b.period) {
        if available == 0 {
            break;
        }
        // i128: the sum of many i64 may not fit in i64.
        let owed: i128 = period_items
            .iter()
            .map(|r| i128::from(r.outstanding_fen))
            .sum();
        if owed == 0 {
            continue;
        }
        let paid: Vec<i64> = if i128::from(available) >= owed {
            period_items.iter().map(|r| r.outstanding_fen).collect()
        } else {
            let weights: Vec<(K, Decimal)> = period_items
                .iter()
                .map(|r| (r.station.clone(), Decimal::from(r.outstanding_fen)))
                .collect();
            allocate(available, &weights)?
                .into_iter()
                .map(|(_, fen)| fen)
                .collect()
        };
        for (receivable, paid_fen) in period_items.iter().zip(paid) {
            if paid_fen == 0 {
                continue;
            }
            // A share of less than the whole is below each station's own outstanding
            // amount, so neither subtraction can go below zero.
            available -= paid_fen;
            payments.push(Payment {
                station: receivable.station.clone(),
                period: receivable.period,
                paid_fen,
                remaining_fen: receivable.outstanding_fen - paid_fen,
            });
        }
    }
    Ok(ReceiptApplication {
        payments,
        credit_fen: available,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn owed(station: &'static str, period: &str, fen: i64) -> Receivable<&'static str> {
        Receivable {
            station,
            period: period.parse().unwrap(),
            outstanding_fen: fen,
        }
    }

    /// (station, period, paid, remaining) for compact assertions.
    fn rows(
        application: &ReceiptApplication<&'static str>,
    ) -> Vec<(&'static str, String, i64, i64)> {
        application
            .payments
            .iter()
            .map(|p| (p.station, p.period.to_string(), p.paid_fen, p.remaining_fen))
            .collect()
    }

    #[test]
    fn a_receipt_equal_to_everything_owed_pays_all_and_leaves_no_credit() {
        let receivables = [owed("A", "2024-01", 600), owed("B", "2024-01", 400)];
        let application = apply_receipt(1000, &receivables).unwrap();
        assert_eq!(
            rows(&application),
            vec![
                ("A", "2024-01".into(), 600, 0),
                ("B", "2024-01".into(), 400, 0)
            ]
        );
        assert_eq!(application.credit_fen, 0);
    }

    #[test]
    fn a_partly_covered_period_is_shared_in_proportion_to_what_is_owed() {
        let receivables = [
            owed("A", "2024-01", 600),
            owed("B", "2024-01", 300),
            owed("C", "2024-01", 100),
        ];
        // 500 of 1000: exactly half each.
        let half = apply_receipt(500, &receivables).unwrap();
        assert_eq!(
            rows(&half),
            vec![
                ("A", "2024-01".into(), 300, 300),
                ("B", "2024-01".into(), 150, 150),
                ("C", "2024-01".into(), 50, 50),
            ]
        );
        // 333 of 1000: quotas 199.8, 99.9, 33.3 → floors 199 + 99 + 33 = 331; the two spare
        // fen go to the largest remainders, B (.9) then A (.8).
        let odd = apply_receipt(333, &receivables).unwrap();
        let paid: Vec<i64> = odd.payments.iter().map(|p| p.paid_fen).collect();
        assert_eq!(paid, vec![200, 100, 33]);
        assert_eq!(odd.credit_fen, 0);
    }

    #[test]
    fn older_periods_are_paid_in_full_before_newer_ones_get_anything() {
        // Given out of order on purpose.
        let receivables = [
            owed("B", "2024-02", 500),
            owed("B", "2024-01", 200),
            owed("A", "2024-01", 200),
            owed("A", "2023-12", 100),
        ];
        // 450: 2023-12 takes 100; 350 left for 2024-01's 400, split 175/175; 2024-02 nothing.
        let application = apply_receipt(450, &receivables).unwrap();
        assert_eq!(
            rows(&application),
            vec![
                ("A", "2023-12".into(), 100, 0),
                ("A", "2024-01".into(), 175, 25),
                ("B", "2024-01".into(), 175, 25),
            ]
        );
        assert_eq!(application.credit_fen, 0);
    }

    #[test]
    fn money_beyond_all_receivables_is_left_as_credit() {
        let receivables = [owed("A", "2024-01", 600), owed("B", "2024-02", 500)];
        let application = apply_receipt(2000, &receivables).unwrap();
        assert_eq!(application.payments.len(), 2);
        assert_eq!(application.credit_fen, 900);
        let nothing_owed = apply_receipt(700, &[owed("A", "2024-01", 0)]).unwrap();
        assert!(nothing_owed.payments.is_empty());
        assert_eq!(nothing_owed.credit_fen, 700);
    }

    #[test]
    fn a_zero_receipt_pays_nothing() {
        let application = apply_receipt(0, &[owed("A", "2024-01", 600)]).unwrap();
        assert!(application.payments.is_empty());
        assert_eq!(application.credit_fen, 0);
    }

    #[test]
    fn bad_receipts_and_receivables_are_refused_with_their_position() {
        let good = owed("A", "2024-01", 1);
        assert_eq!(
            apply_receipt(-1, std::slice::from_ref(&good)),
            Err(ReceiptError::NegativeReceipt { fen: -1 })
        );
        assert_eq!(
            apply_receipt(1, &[good.clone(), owed("B", "2024-01", -5)]),
            Err(ReceiptError::NegativeOutstanding { index: 1 })
        );
        assert_eq!(
            apply_receipt(1, &[good.clone(), owed("B", "2024-01", 5), good]),
            Err(ReceiptError::DuplicateReceivable { index: 2 })
        );
    }

    fn receivables_strategy() -> impl Strategy<Value = Vec<Receivable<u8>>> {
        prop::collection::btree_map((0u8..6, 1u32..=6), 0i64..1_000_000, 0..20).prop_map(|map| {
            map.into_iter()
                .map(|((station, month), fen)| Receivable {
                    station,
                    period: Period::new(2024, month).unwrap(),
                    outstanding_fen: fen,
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn payments_and_credit_always_add_up_to_the_receipt(
            receipt in 0i64..10_000_000,
            receivables in receivables_strategy(),
        ) {
            let application = apply_receipt(receipt, &receivables).unwrap();
            let paid: i64 = application.payments.iter().map(|p| p.paid_fen).sum();
            prop_assert_eq!(paid + application.credit_fen, receipt);
            prop_assert!(application.credit_fen >= 0);
            let owed: i64 = receivables.iter().map(|r| r.outstanding_fen).sum();
            prop_assert!(application.credit_fen == 0 || paid == owed);
        }

        #[test]
        fn no_station_is_overpaid_and_no_newer_period_is_paid_before_an_older_one_is_settled(
            receipt in 0i64..10_000_000,
            receivables in receivables_strategy(),
        ) {
            let application = apply_receipt(receipt, &receivables).unwrap();
            for payment in &application.payments {
                let receivable = receivables
                    .iter()
                    .find(|r| r.station == payment.station && r.period == payment.period)
                    .unwrap();
                prop_assert!(payment.paid_fen > 0);
                prop_assert_eq!(payment.paid_fen + payment.remaining_fen, receivable.outstanding_fen);
                prop_assert!(payment.remaining_fen >= 0);
            }
            // Any period with something still owed must be the last period paid into.
            let unpaid_periods: Vec<Period> = receivables
                .iter()
                .filter(|r| {
                    let paid = application
                        .payments
                        .iter()
                        .find(|p| p.station == r.station && p.period == r.period)
                        .map_or(0, |p| p.paid_fen);
                    paid < r.outstanding_fen
                })
                .map(|r| r.period)
                .collect();
            if let Some(oldest_unpaid) = unpaid_periods.iter().min() {
                prop_assert!(application.payments.iter().all(|p| p.period <= *oldest_unpaid));
            }
        }

        #[test]
        fn applying_a_receipt_does_not_depend_on_the_input_order(
            receipt in 0i64..10_000_000,
            receivables in receivables_strategy(),
        ) {
            let forward = apply_receipt(receipt, &receivables).unwrap();
            let mut reversed = receivables.clone();
            reversed.reverse();
            prop_assert_eq!(forward, apply_receipt(receipt, &reversed).unwrap());
        }
    }
}
