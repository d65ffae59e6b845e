//! Time availability (时间可利用率) and zero-production spells, from hour masks.
//!
//! An hour is daylight when the sun at its middle stands above the configured elevation at
//! the station; night hours are never downtime. Hours without data are unknown, not down:
//! they count as data gaps, so a dead logger is not mistaken for a dead inverter.

use chrono::NaiveDate;

/// One inverter-day: which hours were daylight, had data, produced (bit i = i-th hour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourMasks {
    pub daylight: i32,
    pub data: i32,
    pub producing: i32,
}

/// (daylight hours with data and production, daylight hours with data) of one day.
pub fn day_counts(m: HourMasks) -> (u32, u32) {
    let known = m.daylight & m.data;
    ((known & m.producing).count_ones(), known.count_ones())
}

/// Availability over many inverter-days; None when no daylight hour had data.
pub fn availability(days: impl IntoIterator<Item = HourMasks>) -> Option<f64> {
    let (up, known) = days
        .into_iter()
        .map(day_counts)
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    (known > 0).then(|| f64::from(up) / f64::from(known))
}

/// The longest run of consecutive days on which an inverter reported in daylight yet
/// produced nothing: (length in days, first day). Days are (day, reported, produced),
/// sorted; a day without data, or a missing day, ends a run.
pub fn longest_zero_spell(days: &[(NaiveDate, bool, bool)]) -> Option<(u32, NaiveDate)> {
    let mut best: Option<(u32, NaiveDate)> = None;
    let mut run: Option<(u32, NaiveDate, NaiveDate)> = None;
    for &(day, reported, produced) in days {
        if reported && !produced {
            run = match run {
                Some((n, first, last)) if last.succ_opt() == Some(day) => Some((n + 1, first, day)),
                _ => Some((1, day, day)),
            };
            let (n, first, _) = run.expect("just set");
            if best.is_none_or(|(b, _)| n > b) {
                best = Some((n, first));
            }
        } else {
            run = None;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn night_and_silent_hours_never_count_as_downtime() {
        // Daylight 06:00-17:59 (12 h). Data 06-17 except 10-11 (logger away); produced
        // 06-17 except 14 (trip). Known: 10 h; up: 9 h.
        let daylight = 0b0000_0011_1111_1111_1100_0000;
        let data = daylight & !(0b11 << 10) | 0b1; // a night reading at 00:00 is ignored
        let producing = data & !(1 << 14);
        let m = HourMasks {
            daylight,
            data,
            producing,
        };
        assert_eq!(day_counts(m), (9, 10));
        let other = HourMasks {
            daylight,
            data: daylight,
            producing: daylight,
        };
        // (9 + 12) / (10 + 12)
        let a = availability([m, other]).unwrap();
        assert!((a - 21.0 / 22.0).abs() < 1e-12);
        assert_eq!(
            availability([HourMasks {
                daylight,
                data: 0,
                producing: 0
            }]),
            None
        );
    }

    #[test]
    fn the_longest_zero_spell_is_found_and_a_gap_ends_a_spell() {
        let d = |n: u32| NaiveDate::from_ymd_opt(2026, 3, n).unwrap();
        let days = [
            (d(1), true, false),
            (d(2), true, false),
            (d(3), false, false), // no data: ends the run
            (d(4), true, false),
            (d(5), true, false),
            (d(6), true, false),
            (d(7), true, true),
            (d(9), true, false), // 8 missing
        ];
        assert_eq!(longest_zero_spell(&days), Some((3, d(4))));
        assert_eq!(longest_zero_spell(&[(d(1), true, true)]), None);
    }
}
