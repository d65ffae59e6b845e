//! Year-on-year degradation (RdTools' method, DOMAIN.md §3): each day's normalized energy
//! against the same calendar day a year earlier, `100 · (n_d / n_{d−1y} − 1)` percent per
//! year; the rate is the median of all pairs, which shrugs off the odd cloudy day.

use chrono::{Datelike, NaiveDate};

use super::metrics::median;

/// Fewer day pairs than this give no rate: a handful of days says nothing about a year.
pub const MIN_PAIRS: usize = 30;

/// The median year-on-year change, %/year, of the days in [from, to] whose day a year
/// earlier is also in `normalized` ((day, energy / expected energy), in day order, each day
/// once); with the pair count.
pub fn yoy_rate(
    normalized: &[(NaiveDate, f64)],
    from: NaiveDate,
    to: NaiveDate,
) -> (Option<f64>, usize) {
    let at = |day: NaiveDate| {
        normalized
            .binary_search_by_key(&day, |(d, _)| *d)
            .ok()
            .map(|i| normalized[i].1)
    };
    let first = normalized.partition_point(|(d, _)| *d < from);
    let mut rates: Vec<f64> = normalized[first..]
        .iter()
        .take_while(|(d, _)| *d <= to)
        .filter_map(|(d, n)| {
            let before = at(d.with_year(d.year() - 1)?)?;
            (before > 0.0).then(|| 100.0 * (n / before - 1.0))
        })
        .collect();
    let pairs = rates.len();
    if pairs < MIN_PAIRS {
        return (None, pairs);
    }
    (median(&mut rates), pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_station_losing_two_percent_a_year_is_measured_at_minus_two() {
        use std::collections::BTreeMap;
        let start = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        let mut n = BTreeMap::new();
        for i in 0..730 {
            let d = start + chrono::Duration::days(i);
            // Weather noise that repeats yearly cancels; one outlier day does not move a median.
            let base = 0.8 + 0.1 * ((i % 365) as f64 / 365.0);
            let year = if d.year() == 2025 { 1.0 } else { 0.98 };
            n.insert(d, base * year);
        }
        n.insert(NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(), 0.1);
        let from = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let to = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        let n: Vec<(NaiveDate, f64)> = n.into_iter().collect();
        let (rate, pairs) = yoy_rate(&n, from, to);
        assert_eq!(pairs, 365);
        assert!((rate.unwrap() + 2.0).abs() < 1e-9, "{rate:?}");
        // Only one year of data: no rate.
        assert_eq!(
            yoy_rate(&n, start, NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()).0,
            None
        );
    }
}
