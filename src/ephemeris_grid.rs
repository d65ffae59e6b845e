//! The sun's ephemerides on the grid where daylight is counted, worked out once per process.
//!
//! [`crate::series::expected_daylight_samples`] looks at the sun at the midpoints of
//! 5-minute steps from a day's or an hour's start. In any zone whose offset is whole
//! 5-minute steps (UTC+8, and every zone in use), those midpoints fall on one grid: 2.5
//! minutes past each multiple of 5 minutes, UTC. The site-independent half of the sun's
//! position ([`Ephemeris`]: declination, equation of time) on that grid is the same for
//! every station, so it is kept here per UTC day and shared: a year of daily energy for one
//! station no longer pays ~7,000 ephemerides (two thirds of that endpoint's CPU, issue 7),
//! and the next station's request reuses them.
//!
//! A memo, not a source of truth: an entry is exactly what [`Ephemeris::at`] gives for its
//! instant, so answers are the same bit for bit with or without it. Ranges that do not
//! start on the grid (an RFC 3339 `from` of 10:03) work their instants out directly.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use chrono::{DateTime, Duration, Utc};

use crate::solar::position::Ephemeris;

/// Grid spacing and offset, milliseconds: midpoints of 5-minute steps.
const STEP_MS: i64 = 300_000;
const OFFSET_MS: i64 = 150_000;
const PER_DAY: i64 = 86_400_000 / STEP_MS;

/// Days kept at most (9 KB each): about three years of requests, 11 MB. Past it the table
/// starts again empty, which only costs the work it saves.
const MAX_DAYS: usize = 1_200;

type Table = Arc<[Ephemeris]>;

static DAYS: LazyLock<Mutex<HashMap<i64, Table>>> = LazyLock::new(Default::default);

/// The ephemerides of one UTC day's grid points, computed on first use.
fn day_table(day: i64) -> Table {
    let mut days = DAYS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(t) = days.get(&day) {
        return t.clone();
    }
    if days.len() >= MAX_DAYS {
        days.clear();
    }
    let table: Table = (0..PER_DAY)
        .map(|k| Ephemeris::at(instant_of(day * PER_DAY + k)))
        .collect();
    days.insert(day, table.clone());
    table
}

/// The grid point of the midpoint of the 5-minute step that starts at `start`, when
/// `start` is a whole multiple of 5 minutes (any whole-hour zone's midnight or hour).
pub fn step_starting(start: DateTime<Utc>) -> Option<i64> {
    let ms = start.timestamp_millis();
    (ms.rem_euclid(STEP_MS) == 0 && start.timestamp_subsec_nanos() % 1_000_000 == 0)
        .then(|| ms.div_euclid(STEP_MS))
}

/// Looks ephemerides up for a run of nearby grid points, holding on to the last two UTC
/// days' tables: the lock is taken once per day, not once per point, even where a local
/// day straddles two UTC days and the search goes back and forth between them.
#[derive(Default)]
pub struct Cursor {
    days: [Option<(i64, Table)>; 2],
    /// The slot to replace next.
    older: usize,
}

impl Cursor {
    /// The ephemeris at grid point `point` (see [`step_starting`]).
    pub fn at(&mut self, point: i64) -> Ephemeris {
        let (day, slot) = (
            point.div_euclid(PER_DAY),
            point.rem_euclid(PER_DAY) as usize,
        );
        for kept in self.days.iter().flatten() {
            if kept.0 == day {
                return kept.1[slot];
            }
        }
        let table = day_table(day);
        let ephemeris = table[slot];
        self.days[self.older] = Some((day, table));
        self.older = 1 - self.older;
        ephemeris
    }
}

/// The instant of grid point `point`.
fn instant_of(point: i64) -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + Duration::milliseconds(point * STEP_MS + OFFSET_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn grid_points_are_what_the_sun_gives_to_the_bit() {
        let mut cursor = Cursor::default();
        // Three local days of UTC+8, back and forth across UTC midnights, and before 1970.
        let start = Utc.with_ymd_and_hms(2025, 12, 31, 16, 0, 0).unwrap();
        let first = step_starting(start).unwrap();
        for k in (0..3 * PER_DAY)
            .chain((0..3 * PER_DAY).rev())
            .chain(-700..-500)
        {
            let t = start + Duration::minutes(5 * k) + Duration::seconds(150);
            assert_eq!(cursor.at(first + k), Ephemeris::at(t), "{t}");
        }
    }

    #[test]
    fn only_whole_five_minutes_start_a_step() {
        let at = |h, m, s| Utc.with_ymd_and_hms(2026, 3, 1, h, m, s).unwrap();
        assert!(step_starting(at(16, 0, 0)).is_some());
        assert!(step_starting(at(4, 5, 0)).is_some());
        assert_eq!(step_starting(at(4, 2, 30)), None);
        assert_eq!(step_starting(at(4, 5, 1)), None);
        assert_eq!(step_starting(at(4, 5, 0) + Duration::nanoseconds(1)), None);
        let before_1970 = Utc.with_ymd_and_hms(1969, 12, 31, 23, 55, 0).unwrap();
        assert_eq!(step_starting(before_1970), Some(-1));
    }
}
