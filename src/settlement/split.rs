//! Largest-remainder allocation of whole fen by weights.
//!
//! Every split in settlement (a joint station's income among villages, a village's money
//! among uses, a receipt among stations) must give parts that add up to the whole exactly,
//! fen for fen, and must give the same answer every time. Rounding each part on its own
//! does not: three villages sharing 1.00 元 in thirds would get 0.33 each and lose a fen.
//!
//! The method (Hamilton's): each part first gets the floor of its exact quota
//! `total × w / Σw`; the fen left over go one each to the parts with the largest remainders,
//! equal remainders going to the lower key. The arithmetic is done in integers (the weights
//! are scaled to a common number of decimals), so remainders are compared exactly and never
//! through a rounded division.
//!
//! Negative totals (reversals and downward adjustments) are split as the mirror image of the
//! positive total: `allocate(-t, w)` is exactly the negation of `allocate(t, w)`. So a
//! reversal cancels the original allocation fen for fen in every part.

use rust_decimal::Decimal;
use thiserror::Error;

/// Why an allocation could not be made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SplitError {
    /// There are no parts to allocate to.
    #[error("没有可分配的份额 (there are no parts to allocate to)")]
    NoParts,
    /// A weight is below zero.
    #[error("第 {} 项权重 {weight} 为负数 (the weight {weight} of part {} is negative)", .index + 1, .index + 1)]
    NegativeWeight {
        /// Position of the part in the input, from 0.
        index: usize,
        /// The offending weight.
        weight: Decimal,
    },
    /// All weights are zero, so there is no proportion to follow.
    #[error(
        "权重合计为零，无法按比例分配 (the weights sum to zero, there is no proportion to split by)"
    )]
    ZeroWeightSum,
    /// Two parts have the same key, so the tie-break by key would be ambiguous.
    #[error("第 {} 项与前面的项重复 (part {} repeats the key of an earlier part)", .index + 1, .index + 1)]
    DuplicateKey {
        /// Position of the later duplicate in the input, from 0.
        index: usize,
    },
    /// The exact integer arithmetic would overflow (absurdly large totals or weights with
    /// very many decimals).
    #[error("分配计算超出整数范围 (the allocation overflows exact integer arithmetic)")]
    Overflow,
}

/// Splits `total_fen` among `parts` in proportion to their weights, by largest remainder.
///
/// Returns one `(key, fen)` per part, in the input order, summing exactly to `total_fen`.
/// Each part is within one fen of its exact quota; a part of weight zero gets zero. Weights
/// must be non-negative with a positive sum and keys must be distinct. A negative total is
/// allocated as the negation of the allocation of its absolute value (see module docs).
pub fn allocate<K: Ord + Clone>(
    total_fen: i64,
    parts: &[(K, Decimal)],
) -> Result<Vec<(K, i64)>, SplitError> {
    if parts.is_empty() {
        return Err(SplitError::NoParts);
    }
    if let Some((index, (_, weight))) = parts
        .iter()
        .enumerate()
        .find(|(_, (_, w))| *w < Decimal::ZERO)
    {
        return Err(SplitError::NegativeWeight {
            index,
            weight: *weight,
        });
    }
    check_distinct_keys(parts)?;

    let weights = integer_weights(parts.iter().map(|(_, w)| *w))?;
    let weight_sum = weights
        .iter()
        .try_fold(0i128, |sum, w| sum.checked_add(*w))
        .ok_or(SplitError::Overflow)?;
    if weight_sum == 0 {
        return Err(SplitError::ZeroWeightSum);
    }

    // i128 holds |i64::MIN| and every product of it with a weight that passed the checks.
    let magnitude = i128::from(total_fen).abs();
    let mut shares = Vec::with_capacity(parts.len());
    let mut remainders = Vec::with_capacity(parts.len());
    for weight in &weights {
        let product = magnitude.checked_mul(*weight).ok_or(SplitError::Overflow)?;
        shares.push(product / weight_sum);
        remainders.push(product % weight_sum);
    }

    // The leftover is Σ remainders / Σw, an integer below the count of non-zero remainders,
    // so it never reaches a part with remainder zero (in particular, a zero weight).
    let leftover = magnitude - shares.iter().sum::<i128>();
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|&a, &b| {
        remainders[b]
            .cmp(&remainders[a])
            .then_with(|| parts[a].0.cmp(&parts[b].0))
    });
    for &index in order.iter().take(leftover as usize) {
        shares[index] += 1;
    }

    parts
        .iter()
        .zip(shares)
        .map(|((key, _), share)| {
            let signed = if total_fen < 0 { -share } else { share };
            let fen = i64::try_from(signed).map_err(|_| SplitError::Overflow)?;
            Ok((key.clone(), fen))
        })
        .collect()
}

fn check_distinct_keys<K: Ord>(parts: &[(K, Decimal)]) -> Result<(), SplitError> {
    let mut order: Vec<usize> = (0..parts.len()).collect();
    // Stable sort: among equal keys the earlier input position comes first.
    order.sort_by(|&a, &b| parts[a].0.cmp(&parts[b].0));
    match order
        .windows(2)
        .find(|pair| parts[pair[0]].0 == parts[pair[1]].0)
    {
        Some(pair) => Err(SplitError::DuplicateKey { index: pair[1] }),
        None => Ok(()),
    }
}

/// Scales non-negative decimal weights to integers with a common number of decimals, so
/// that quotas and remainders can be computed exactly.
fn integer_weights(
    weights: impl Iterator<Item = Decimal> + Clone,
) -> Result<Vec<i128>, SplitError> {
    let scale = weights
        .clone()
        .map(|w| w.normalize().scale())
        .max()
        .unwrap_or(0);
    weights
        .map(|w| {
            let w = w.normalize();
            10i128
                .checked_pow(scale - w.scale())
                .and_then(|factor| w.mantissa().checked_mul(factor))
                .ok_or(SplitError::Overflow)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn weights(ws: &[&str]) -> Vec<(usize, Decimal)> {
        ws.iter().enumerate().map(|(i, w)| (i, d(w))).collect()
    }

    fn amounts(result: Vec<(usize, i64)>) -> Vec<i64> {
        result.into_iter().map(|(_, fen)| fen).collect()
    }

    #[test]
    fn one_yuan_in_thirds_gives_the_spare_fen_to_the_lowest_key() {
        // Quotas 33.33.. each; floors 33+33+33 = 99, one fen left, all remainders equal.
        let result = allocate(100, &weights(&["1", "1", "1"])).unwrap();
        assert_eq!(amounts(result), vec![34, 33, 33]);
    }

    #[test]
    fn leftover_fen_go_to_the_largest_remainders() {
        // 1000 fen by 0.5/0.3/0.2 of 7: quotas 500, 300, 200 exactly: no leftover.
        assert_eq!(
            amounts(allocate(1000, &weights(&["0.5", "0.3", "0.2"])).unwrap()),
            vec![500, 300, 200]
        );
        // 10 fen by 1:2:4 (sum 7): quotas 1.43, 2.86, 5.71 → floors 1, 2, 5 (8);
        // remainders 3/7, 6/7, 5/7 → the two spare fen go to parts 2 and 3.
        assert_eq!(
            amounts(allocate(10, &weights(&["1", "2", "4"])).unwrap()),
            vec![1, 3, 6]
        );
    }

    #[test]
    fn ties_are_broken_by_key_order_not_input_order() {
        let parts = vec![("c", d("1")), ("a", d("1")), ("b", d("1"))];
        let result = allocate(200, &parts).unwrap();
        // 66.67 each: the two spare fen go to "a" and "b", reported in input order.
        assert_eq!(result, vec![("c", 66), ("a", 67), ("b", 67)]);
    }

    #[test]
    fn weights_with_different_decimals_are_compared_exactly() {
        // 0.1 and 0.05 with 1 fen: quotas 2/3 and 1/3, so the fen goes to the 0.1 part.
        assert_eq!(
            amounts(allocate(1, &weights(&["0.05", "0.1"])).unwrap()),
            vec![0, 1]
        );
    }

    #[test]
    fn a_zero_weight_part_gets_nothing_even_with_leftover_fen() {
        let result = allocate(101, &weights(&["0", "1", "1", "0"])).unwrap();
        assert_eq!(amounts(result), vec![0, 51, 50, 0]);
    }

    #[test]
    fn a_negative_total_is_the_mirror_image_of_the_positive_one() {
        let parts = weights(&["1", "1", "1"]);
        assert_eq!(
            amounts(allocate(-100, &parts).unwrap()),
            vec![-34, -33, -33]
        );
        assert_eq!(
            amounts(allocate(-10, &weights(&["1", "2", "4"])).unwrap()),
            vec![-1, -3, -6]
        );
    }

    #[test]
    fn extreme_totals_do_not_overflow() {
        let parts = weights(&["1", "1"]);
        assert_eq!(
            amounts(allocate(i64::MIN, &parts).unwrap()),
            vec![i64::MIN / 2, i64::MIN / 2]
        );
        assert_eq!(
            amounts(allocate(i64::MAX, &parts).unwrap()),
            vec![i64::MAX / 2 + 1, i64::MAX / 2]
        );
        assert_eq!(
            amounts(allocate(i64::MIN, &weights(&["3"])).unwrap()),
            vec![i64::MIN]
        );
    }

    #[test]
    fn invalid_weights_and_keys_are_reported_with_their_position() {
        assert_eq!(allocate::<usize>(5, &[]), Err(SplitError::NoParts));
        assert_eq!(
            allocate(5, &weights(&["1", "-0.5"])),
            Err(SplitError::NegativeWeight {
                index: 1,
                weight: d("-0.5")
            })
        );
        assert_eq!(
            allocate(5, &weights(&["0", "0.00"])),
            Err(SplitError::ZeroWeightSum)
        );
        let parts = vec![("a", d("1")), ("b", d("1")), ("a", d("2"))];
        assert_eq!(
            allocate(5, &parts),
            Err(SplitError::DuplicateKey { index: 2 })
        );
        let message = SplitError::NegativeWeight {
            index: 1,
            weight: d("-0.5"),
        }
        .to_string();
        assert_eq!(
            message,
            "第 2 项权重 -0.5 为负数 (the weight -0.5 of part 2 is negative)"
        );
    }

    #[test]
    fn weights_too_precise_for_exact_arithmetic_are_an_error_not_a_wrong_answer() {
        let parts = vec![(0, Decimal::MAX), (1, d("0.0000000000000000000000000001"))];
        assert_eq!(allocate(100, &parts), Err(SplitError::Overflow));
    }

    fn weight_strategy() -> impl Strategy<Value = Decimal> {
        (0i64..100_000, 0u32..5).prop_map(|(mantissa, scale)| Decimal::new(mantissa, scale))
    }

    fn parts_strategy() -> impl Strategy<Value = Vec<(u8, Decimal)>> {
        prop::collection::btree_map(any::<u8>(), weight_strategy(), 1..10)
            .prop_map(|map| map.into_iter().collect::<Vec<_>>())
            .prop_filter("weights must not all be zero", |parts| {
                parts.iter().any(|(_, w)| !w.is_zero())
            })
    }

    proptest! {
        #[test]
        fn parts_always_sum_exactly_to_the_total(
            total in -1_000_000_000_000i64..1_000_000_000_000,
            parts in parts_strategy(),
        ) {
            let result = allocate(total, &parts).unwrap();
            prop_assert_eq!(result.iter().map(|(_, fen)| fen).sum::<i64>(), total);
        }

        #[test]
        fn each_part_is_less_than_one_fen_from_its_exact_quota(
            total in -1_000_000_000_000i64..1_000_000_000_000,
            parts in parts_strategy(),
        ) {
            let result = allocate(total, &parts).unwrap();
            let weight_sum: Decimal = parts.iter().map(|(_, w)| *w).sum();
            for ((_, fen), (_, weight)) in result.iter().zip(&parts) {
                // |fen - total·w/Σw| < 1  ⇔  |fen·Σw - total·w| < Σw, all exact products.
                let gap = (Decimal::from(*fen) * weight_sum - Decimal::from(total) * *weight).abs();
                prop_assert!(gap < weight_sum, "fen {} weight {} total {}", fen, weight, total);
            }
        }

        #[test]
        fn allocation_is_deterministic_and_independent_of_input_order(
            total in -1_000_000_000i64..1_000_000_000,
            parts in parts_strategy(),
        ) {
            let first = allocate(total, &parts).unwrap();
            prop_assert_eq!(&first, &allocate(total, &parts).unwrap());
            let mut reversed_parts = parts.clone();
            reversed_parts.reverse();
            let mut reversed = allocate(total, &reversed_parts).unwrap();
            reversed.reverse();
            prop_assert_eq!(first, reversed);
        }

        #[test]
        fn a_negative_total_allocates_as_the_negation_of_the_positive(
            total in 0i64..1_000_000_000,
            parts in parts_strategy(),
        ) {
            let positive = allocate(total, &parts).unwrap();
            let negative = allocate(-total, &parts).unwrap();
            let negated: Vec<_> = positive.into_iter().map(|(k, fen)| (k, -fen)).collect();
            prop_assert_eq!(negative, negated);
        }
    }
}
