//! Counts every station's daylight for the last year into the memo when the service starts.
//!
//! A station's year of daily energy needs each day's expected readings
//! ([`crate::daylight_memo`]). Counted on the first view of a station, that was a seventh of
//! the endpoint's CPU in the province benchmark (issue 7) and made the first chart a
//! technician opened after a restart the slowest. Here one blocking thread counts them once,
//! station by station, right after start: about 1.4 ms a station-year, some 8 s of one core
//! for a province's 6,000 stations. The answers are the same with or without it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use chrono::{Days, NaiveDate};
use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;

use crate::daylight_memo::{BLOCK_DAYS, MAX_BLOCKS};
use crate::ingest::recompute::day_bounds;
use crate::series::Daylight;
use crate::solar::position::Site;

/// Days counted back from today: a year of daily energy, the longest daily chart.
pub const DAYS: u64 = 366;

/// How far the warm-up has got, for `/metrics`.
#[derive(Debug, Default)]
pub struct Progress {
    /// Stations whose last [`DAYS`] days are counted.
    pub stations: AtomicUsize,
    /// 1 once the warm-up has finished (or stopped at shutdown).
    pub done: AtomicUsize,
}

/// Counts the days from `today - DAYS` to `today` at each site, until `stop` is cancelled.
/// Only as many sites as fill half the memo: past its bound the memo starts again empty, so
/// a larger deployment keeps room for the stations it actually shows.
pub fn count(
    sites: &[Site],
    today: NaiveDate,
    zone: Tz,
    stop: &CancellationToken,
    progress: &Progress,
) {
    let first = today - Days::new(DAYS);
    let blocks_per_site = (DAYS as usize).div_ceil(BLOCK_DAYS as usize) + 1;
    let room = MAX_BLOCKS / 2 / blocks_per_site;
    // Any interval: the memo keeps steps with the sun up, not readings.
    for site in sites.iter().take(room) {
        if stop.is_cancelled() {
            return;
        }
        let mut daylight = Daylight::new(site, 300);
        for day in first.iter_days().take_while(|d| *d <= today) {
            let (start, end) = day_bounds(day, zone);
            daylight.expected_samples(start, end);
        }
        progress.stations.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts the sites of `stations` on a blocking thread; logs how long it took.
pub async fn run(
    sites: Vec<Site>,
    today: NaiveDate,
    zone: Tz,
    stop: CancellationToken,
    progress: Arc<Progress>,
) {
    let started = Instant::now();
    let counting = progress.clone();
    let total = sites.len();
    let finished =
        tokio::task::spawn_blocking(move || count(&sites, today, zone, &stop, &counting)).await;
    progress.done.store(1, Ordering::Relaxed);
    match finished {
        Ok(()) => tracing::info!(
            stations = progress.stations.load(Ordering::Relaxed),
            of = total,
            days = DAYS + 1,
            seconds = started.elapsed().as_secs_f64(),
            "daylight of the last year counted for the energy charts"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "counting daylight ahead failed; charts count it on first view")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daylight_memo;
    use crate::ephemeris_grid::step_starting;

    #[test]
    fn every_day_of_the_last_year_is_in_the_memo_afterwards() {
        // A site of its own: the memo is shared with every other test in the process.
        let site = Site::new(36.987_654_3, 111.75).unwrap();
        let zone = chrono_tz::Asia::Shanghai;
        let today = NaiveDate::from_ymd_opt(2026, 6, 21).unwrap();
        let progress = Progress::default();
        count(&[site], today, zone, &CancellationToken::new(), &progress);
        assert_eq!(progress.stations.load(Ordering::Relaxed), 1);
        let mut memo = daylight_memo::Reader::default();
        let first = today - Days::new(DAYS);
        for day in first.iter_days().take_while(|d| *d <= today) {
            let step = step_starting(day_bounds(day, zone).0).expect("a whole-hour zone");
            memo.up_steps(&site, step, || panic!("{day} was not counted ahead"));
        }
        // The day before the year was not.
        let before = step_starting(day_bounds(first.pred_opt().unwrap(), zone).0).unwrap();
        assert_eq!(memo.up_steps(&site, before, || -1), -1);
        // Midsummer at 37° N: about 14.5 h of sun, some 174 five-minute steps.
        let (start, end) = day_bounds(today, zone);
        let n = Daylight::new(&site, 300).expected_samples(start, end);
        assert!((165.0..185.0).contains(&n), "{n}");
    }

    #[test]
    fn a_cancelled_warm_up_counts_nothing() {
        let site = Site::new(35.5, 112.25).unwrap();
        let stop = CancellationToken::new();
        stop.cancel();
        let progress = Progress::default();
        let today = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        count(&[site], today, chrono_tz::Asia::Shanghai, &stop, &progress);
        assert_eq!(progress.stations.load(Ordering::Relaxed), 0);
    }
}
