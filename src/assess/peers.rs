//! Peer comparison: weather is shared within a county, faults are not (DOMAIN.md §3).
//!
//! For each day, the median final yield of the group's stations whose data that day is
//! complete; a station's peer ratio is its energy over what the median would have given
//! its capacity, summed over its own complete days that have a median. Comparing day by day
//! keeps a station's missing days from counting against it.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::metrics::{median, ratio_of_sums};

/// One complete station-day: (group, day, final yield that day).
pub type YieldDay<'a> = (&'a str, NaiveDate, f64);

/// The median daily yield per (group, day), for days with at least `min_peers` stations.
pub fn daily_medians<'a>(
    days: impl IntoIterator<Item = YieldDay<'a>>,
    min_peers: usize,
) -> HashMap<(&'a str, NaiveDate), f64> {
    let mut by: HashMap<(&str, NaiveDate), Vec<f64>> = HashMap::new();
    for (group, day, yf) in days {
        by.entry((group, day)).or_default().push(yf);
    }
    by.into_iter()
        .filter(|(_, v)| v.len() >= min_peers)
        .filter_map(|(k, mut v)| Some((k, median(&mut v)?)))
        .collect()
}

/// Σ energy / Σ (P0 × median yield) over the given complete days (day, kWh) that have a
/// median; also the number of days compared.
pub fn peer_ratio(
    group: &str,
    dc_kwp: f64,
    days: &[(NaiveDate, f64)],
    medians: &HashMap<(&str, NaiveDate), f64>,
) -> (Option<f64>, usize) {
    let pairs: Vec<(f64, f64)> = days
        .iter()
        .filter_map(|(d, kwh)| Some((*kwh, dc_kwp * medians.get(&(group, *d))?)))
        .collect();
    (ratio_of_sums(pairs.iter().copied()), pairs.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ratio_compares_each_day_with_that_days_median() {
        let d = |n: u32| NaiveDate::from_ymd_opt(2026, 5, n).unwrap();
        // Day 1 sunny (medians 6.0), day 2 cloudy (2.0); a 100 kWp station makes 540 and
        // 180 kWh: 720 / (600 + 200) = 0.9. Day 3 has only two peers: no median.
        let days = vec![
            ("A", d(1), 6.0),
            ("A", d(1), 5.0),
            ("A", d(1), 6.5),
            ("A", d(2), 2.0),
            ("A", d(2), 2.2),
            ("A", d(2), 1.0),
            ("A", d(3), 4.0),
            ("A", d(3), 4.0),
            ("B", d(1), 1.0),
        ];
        let m = daily_medians(days, 3);
        assert_eq!(m[&("A", d(1))], 6.0);
        assert_eq!(m[&("A", d(2))], 2.0);
        assert!(!m.contains_key(&("A", d(3))));
        let (ratio, n) = peer_ratio(
            "A",
            100.0,
            &[(d(1), 540.0), (d(2), 180.0), (d(3), 400.0)],
            &m,
        );
        assert_eq!(n, 2);
        assert!((ratio.unwrap() - 0.9).abs() < 1e-12);
        assert_eq!(peer_ratio("B", 100.0, &[(d(1), 1.0)], &m), (None, 0));
    }
}
