//! Each station-day's daylight, counted once per process.
//!
//! A day's expected readings ([`crate::series::expected_daylight_samples`]) depend only on
//! the site and the day, yet a year of daily energy asks for 365 of them on every request,
//! and counting one takes about 25 sun positions: after the shared ephemerides
//! ([`crate::ephemeris_grid`]) this was still two fifths of that endpoint's CPU (issue 7).
//! Here the count of a whole day (288 five-minute steps from a grid point) is kept per site,
//! two bytes a day: a province's 6,000 stations over a year is 4.4 MB.
//!
//! A memo, not a source of truth: an entry is exactly the count it replaces, so answers are
//! the same with or without it, and losing the table only costs the work it saves.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use crate::solar::position::Site;

/// Steps in a whole day.
pub const STEPS_PER_DAY: i64 = 288;
/// Days per block of the table: a block is one allocation of 128 bytes.
pub const BLOCK_DAYS: i64 = 64;
/// Blocks kept at most (about 150 bytes each with the map's own): 18 MB, about three years
/// of a province's 6,000 stations, half of it filled at start (crate::daylight_warmup).
/// Past it the table starts again empty.
pub const MAX_BLOCKS: usize = 120_000;
/// A day not counted yet (a count is at most 288).
const UNKNOWN: u16 = u16::MAX;

/// Site (latitude, longitude, elevation, as bits), the day's start within a UTC day in
/// steps (its zone), and the block of days.
type Key = (u64, u64, u64, i64, i64);

static BLOCKS: LazyLock<Mutex<HashMap<Key, Box<[u16; BLOCK_DAYS as usize]>>>> =
    LazyLock::new(Default::default);

/// A reader of the table for one request: it copies a block of 64 days at a time, so a
/// year of days takes the shared lock and hashes a key about six times, not 365 (the
/// per-day lookups were 4 % of a year of energy's CPU, issue 7).
#[derive(Default)]
pub struct Reader {
    block: Option<(Key, [u16; BLOCK_DAYS as usize])>,
}

impl Reader {
    /// The steps of the day whose first step is grid point `first` (see
    /// [`crate::ephemeris_grid::step_starting`]) with the sun up at `site`: kept, or
    /// counted by `count` and kept.
    pub fn up_steps(&mut self, site: &Site, first: i64, count: impl FnOnce() -> i64) -> i64 {
        let (day, phase) = (
            first.div_euclid(STEPS_PER_DAY),
            first.rem_euclid(STEPS_PER_DAY),
        );
        let key = (
            site.latitude_deg().to_bits(),
            site.longitude_deg().to_bits(),
            site.elevation_m().to_bits(),
            phase,
            day.div_euclid(BLOCK_DAYS),
        );
        let slot = day.rem_euclid(BLOCK_DAYS) as usize;
        if self.block.as_ref().is_none_or(|(k, _)| *k != key) {
            let copy = lock()
                .get(&key)
                .map_or([UNKNOWN; BLOCK_DAYS as usize], |b| **b);
            self.block = Some((key, copy));
        }
        let block = &mut self.block.as_mut().expect("just filled").1;
        if block[slot] != UNKNOWN {
            return i64::from(block[slot]);
        }
        // Counted outside the lock: two requests may count the same day, never wait on it.
        let n = count();
        let Ok(kept) = u16::try_from(n) else {
            return n;
        };
        block[slot] = kept;
        let mut blocks = lock();
        if blocks.len() >= MAX_BLOCKS && !blocks.contains_key(&key) {
            blocks.clear();
        }
        blocks
            .entry(key)
            .or_insert_with(|| Box::new([UNKNOWN; BLOCK_DAYS as usize]))[slot] = kept;
        n
    }
}

fn lock() -> std::sync::MutexGuard<'static, HashMap<Key, Box<[u16; BLOCK_DAYS as usize]>>> {
    BLOCKS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn a_day_is_counted_once_per_site_and_zone() {
        // Sites of their own: the table is shared with every other test in the process.
        let here = Site::new(37.123_456_7, 112.5).unwrap();
        let higher = here.with_elevation_m(1_200.0).unwrap();
        let counted = Cell::new(0);
        // A fresh reader per lookup: what one request kept must be found by the next.
        let up_steps = |site: &Site, first: i64, count: &dyn Fn() -> i64| {
            Reader::default().up_steps(site, first, count)
        };
        let count = |n: i64| {
            counted.set(counted.get() + 1);
            n
        };
        let day = 20_000 * STEPS_PER_DAY - 96; // a UTC+8 midnight
        assert_eq!(up_steps(&here, day, &|| count(140)), 140);
        assert_eq!(up_steps(&here, day, &|| count(0)), 140);
        assert_eq!(counted.get(), 1);
        // Another site, another zone's midnight, the next day: each counted on its own.
        assert_eq!(up_steps(&higher, day, &|| count(141)), 141);
        assert_eq!(up_steps(&here, day + 12, &|| count(139)), 139);
        assert_eq!(up_steps(&here, day + STEPS_PER_DAY, &|| count(142)), 142);
        assert_eq!(counted.get(), 4);
        assert_eq!(up_steps(&here, day, &|| count(0)), 140);
        // Days before 1970 have blocks of their own.
        assert_eq!(up_steps(&here, -STEPS_PER_DAY, &|| count(7)), 7);
        assert_eq!(up_steps(&here, -STEPS_PER_DAY, &|| count(0)), 7);
        assert_eq!(counted.get(), 5);
    }

    #[test]
    fn one_reader_keeps_its_block_and_shares_what_it_counts() {
        let here = Site::new(38.765_432_1, 113.25).unwrap();
        let counted = Cell::new(0);
        let count = |n: i64| {
            counted.set(counted.get() + 1);
            n
        };
        let mut reader = Reader::default();
        let day = 20_100 * STEPS_PER_DAY - 96;
        // Two days of one block, then the first again: counted once each.
        assert_eq!(reader.up_steps(&here, day, || count(150)), 150);
        assert_eq!(
            reader.up_steps(&here, day + STEPS_PER_DAY, || count(151)),
            151
        );
        assert_eq!(reader.up_steps(&here, day, || count(0)), 150);
        assert_eq!(counted.get(), 2);
        // Another request finds both in the shared table.
        let mut other = Reader::default();
        assert_eq!(other.up_steps(&here, day + STEPS_PER_DAY, || count(0)), 151);
        assert_eq!(counted.get(), 2);
        // A day 64 days on is another block: counted, and the reader moves to it.
        let later = day + BLOCK_DAYS * STEPS_PER_DAY;
        assert_eq!(reader.up_steps(&here, later, || count(160)), 160);
        assert_eq!(reader.up_steps(&here, day, || count(0)), 150);
        assert_eq!(counted.get(), 3);
    }
}
