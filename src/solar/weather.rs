//! Plausible, repeatable cloudy days for simulators and demos.
//!
//! A station simulator needs weather that looks like Shanxi's (sunny dry winters, cloudier
//! monsoon summers, spells of similar days) and that comes out the same for the same seed,
//! so a failing test or a demo can be replayed. Any day can be computed on its own, without
//! generating the days before it from some starting point.
//!
//! # How a day is made
//!
//! 1. A [`SplitMix64`] generator seeded from a hash of `(seed, date)`.
//! 2. The sky kind: with probability `persistence` the same as yesterday (so spells form),
//!    otherwise drawn from the month's shares. Since yesterday follows (nearly) the same
//!    shares, the monthly frequencies are kept.
//! 3. A daily clear-sky index (measured ÷ clear-sky GHI) drawn uniformly in the kind's
//!    range (clear 0.92-1, partly cloudy 0.55-0.88, overcast 0.12-0.40), plus a smooth
//!    intraday wobble: three sine waves of random period (½-1.2, 1½-3 and 4-8 hours) and
//!    phase, of amplitude ±0.03, ±0.25 and ±0.08 for the three kinds, clamped to 0.05-1.
//!
//! # Assumed Shanxi frequencies \[U\]
//!
//! Kinds follow the CMA daily sky categories loosely: clear (晴), partly cloudy (多云),
//! overcast (阴, including rain and snow days). The monthly shares below are our
//! assumption from general climatology, not station statistics: Shanxi has roughly 2,200-
//! 2,900 sunshine hours a year, dry sunny winters under the Siberian high, and most of its
//! 400-650 mm of precipitation in June-September. They were checked only in aggregate:
//! with the default clear-sky and array models, 30 seeds gave 1,308-1,477 kWh/kWp a year
//! (median 1,403) for a 35° south array at 1,200 m, within DOMAIN.md's typical 1,300-1,550.
//! Replace them with county statistics when known.
//!
//! | month | clear | partly | overcast |   | month | clear | partly | overcast |
//! | --- | --- | --- | --- | --- | --- | --- | --- | --- |
//! | Jan | 0.55 | 0.30 | 0.15 | | Jul | 0.22 | 0.43 | 0.35 |
//! | Feb | 0.50 | 0.32 | 0.18 | | Aug | 0.25 | 0.42 | 0.33 |
//! | Mar | 0.42 | 0.35 | 0.23 | | Sep | 0.35 | 0.37 | 0.28 |
//! | Apr | 0.40 | 0.37 | 0.23 | | Oct | 0.45 | 0.33 | 0.22 |
//! | May | 0.40 | 0.38 | 0.22 | | Nov | 0.50 | 0.30 | 0.20 |
//! | Jun | 0.33 | 0.42 | 0.25 | | Dec | 0.57 | 0.28 | 0.15 |

use std::f64::consts::TAU;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Timelike, Utc};

use super::random::{SplitMix64, mix64};

/// The generator for one date under one seed: independent of every other date.
fn day_rng(seed: u64, date: NaiveDate) -> SplitMix64 {
    let day = i64::from(date.num_days_from_ce()) as u64;
    SplitMix64::new(mix64(seed ^ mix64(day.wrapping_add(0x5EED))))
}

/// The broad kind of sky on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkyKind {
    /// 晴: little or no cloud.
    Clear,
    /// 多云: broken cloud, sun and shade.
    PartlyCloudy,
    /// 阴: overcast, rain or snow.
    Overcast,
}

impl SkyKind {
    /// Range of the daily clear-sky index and size of the intraday wobble.
    fn index_range_and_wobble(self) -> (f64, f64, f64) {
        match self {
            Self::Clear => (0.92, 1.0, 0.03),
            Self::PartlyCloudy => (0.55, 0.88, 0.25),
            Self::Overcast => (0.12, 0.40, 0.08),
        }
    }
}

/// How often each sky kind occurs in a month. Shares are normalised by their sum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SkyShares {
    /// Share of clear days.
    pub clear: f64,
    /// Share of partly cloudy days.
    pub partly_cloudy: f64,
    /// Share of overcast days.
    pub overcast: f64,
}

const fn shares(clear: f64, partly_cloudy: f64, overcast: f64) -> SkyShares {
    SkyShares {
        clear,
        partly_cloudy,
        overcast,
    }
}

/// The climate the generator imitates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeatherModel {
    /// Sky-kind shares for January (index 0) to December.
    pub monthly: [SkyShares; 12],
    /// Probability that a day repeats the previous day's sky kind, 0-1.
    pub persistence: f64,
}

impl Default for WeatherModel {
    /// Central Shanxi, as assumed in the module docs.
    fn default() -> Self {
        Self {
            monthly: [
                shares(0.55, 0.30, 0.15),
                shares(0.50, 0.32, 0.18),
                shares(0.42, 0.35, 0.23),
                shares(0.40, 0.37, 0.23),
                shares(0.40, 0.38, 0.22),
                shares(0.33, 0.42, 0.25),
                shares(0.22, 0.43, 0.35),
                shares(0.25, 0.42, 0.33),
                shares(0.35, 0.37, 0.28),
                shares(0.45, 0.33, 0.22),
                shares(0.50, 0.30, 0.20),
                shares(0.57, 0.28, 0.15),
            ],
            persistence: 0.35,
        }
    }
}

/// Longest chain of "same as yesterday" followed back before drawing afresh.
const MAX_SPELL_DAYS: usize = 10;

impl WeatherModel {
    /// The weather of `date` under `seed`: the same inputs always give the same day.
    pub fn day(&self, seed: u64, date: NaiveDate) -> DayWeather {
        let sky = self.sky_kind(seed, date);
        let mut rng = day_rng(seed, date);
        // Draws 0 and 1 decide the sky kind (see `sky_kind`); the rest shape the day.
        rng.next_u64();
        rng.next_u64();
        let (lo, hi, wobble) = sky.index_range_and_wobble();
        let daily_index = rng.uniform(lo, hi);
        let waves =
            [(0.5, 1.2, 0.5), (1.5, 3.0, 0.3), (4.0, 8.0, 0.2)].map(|(p0, p1, weight)| Wave {
                period_h: rng.uniform(p0, p1),
                phase: rng.uniform(0.0, TAU),
                weight,
            });
        DayWeather {
            date,
            sky,
            daily_index,
            wobble,
            waves,
        }
    }

    fn sky_kind(&self, seed: u64, date: NaiveDate) -> SkyKind {
        let mut day = date;
        for _ in 0..MAX_SPELL_DAYS {
            let mut rng = day_rng(seed, day);
            if rng.next_f64() >= self.persistence {
                return self.draw_kind(day, rng.next_f64());
            }
            match day.pred_opt() {
                Some(previous) => day = previous,
                None => break,
            }
        }
        let mut rng = day_rng(seed, day);
        rng.next_u64();
        self.draw_kind(day, rng.next_f64())
    }

    fn draw_kind(&self, date: NaiveDate, u: f64) -> SkyKind {
        let s = self.monthly[date.month0() as usize];
        let (c, p, o) = (
            s.clear.max(0.0),
            s.partly_cloudy.max(0.0),
            s.overcast.max(0.0),
        );
        let total = c + p + o;
        if total <= 0.0 || u * total < c {
            SkyKind::Clear
        } else if u * total < c + p {
            SkyKind::PartlyCloudy
        } else {
            SkyKind::Overcast
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Wave {
    period_h: f64,
    phase: f64,
    weight: f64,
}

/// One day's generated weather.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayWeather {
    /// The local date.
    pub date: NaiveDate,
    /// The day's sky kind.
    pub sky: SkyKind,
    /// The day's central clear-sky index (measured ÷ clear-sky GHI), 0-1.
    pub daily_index: f64,
    wobble: f64,
    waves: [Wave; 3],
}

impl DayWeather {
    /// Clear-sky index at `local_hour` (hours since local midnight, 0-24): smooth in time,
    /// within 0.05..=1.
    pub fn clear_sky_index(&self, local_hour: f64) -> f64 {
        let wave: f64 = self
            .waves
            .iter()
            .map(|w| w.weight * (TAU * local_hour / w.period_h + w.phase).sin())
            .sum();
        (self.daily_index + self.wobble * wave).clamp(0.05, 1.0)
    }
}

/// A seeded weather source for one simulator run, on local clock time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeatherGenerator {
    /// The climate imitated.
    pub model: WeatherModel,
    /// The run's seed.
    pub seed: u64,
    /// Offset of the local clock whose dates and hours the days follow (China: UTC+8).
    pub utc_offset: FixedOffset,
}

impl WeatherGenerator {
    /// A generator for central Shanxi's default climate.
    pub fn new(seed: u64, utc_offset: FixedOffset) -> Self {
        Self {
            model: WeatherModel::default(),
            seed,
            utc_offset,
        }
    }

    /// The weather of a local date.
    pub fn day(&self, date: NaiveDate) -> DayWeather {
        self.model.day(self.seed, date)
    }

    /// The clear-sky index at `instant`.
    pub fn clear_sky_index(&self, instant: DateTime<Utc>) -> f64 {
        let local = instant.with_timezone(&self.utc_offset);
        let hour = f64::from(local.num_seconds_from_midnight()) / 3600.0;
        self.day(local.date_naive()).clear_sky_index(hour)
    }
}

#[cfg(test)]
mod tests {
    use super::super::position::china_standard_time;
    use super::*;
    use chrono::TimeZone;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Sky kinds of every day of `month` over many seeds and years.
    fn kinds_in_month(month: u32) -> Vec<SkyKind> {
        let model = WeatherModel::default();
        let mut kinds = Vec::new();
        for seed in 0..40 {
            for year in 2020..2025 {
                for day in 1..=28 {
                    kinds.push(model.day(seed, date(year, month, day)).sky);
                }
            }
        }
        kinds
    }

    fn share(kinds: &[SkyKind], kind: SkyKind) -> f64 {
        kinds.iter().filter(|k| **k == kind).count() as f64 / kinds.len() as f64
    }

    #[test]
    fn same_seed_and_date_give_the_same_day_and_other_seeds_give_other_days() {
        let model = WeatherModel::default();
        let d = date(2024, 7, 10);
        assert_eq!(model.day(7, d), model.day(7, d));
        let differing = (0..20)
            .filter(|s| model.day(*s, d) != model.day(7, d))
            .count();
        assert!(differing >= 18, "{differing}");
    }

    #[test]
    fn winters_are_mostly_clear_and_july_is_the_cloudiest_month() {
        let january = kinds_in_month(1);
        let july = kinds_in_month(7);
        let jan_clear = share(&january, SkyKind::Clear);
        let jul_overcast = share(&july, SkyKind::Overcast);
        assert!((jan_clear - 0.55).abs() < 0.04, "January clear {jan_clear}");
        assert!(
            (jul_overcast - 0.35).abs() < 0.04,
            "July overcast {jul_overcast}"
        );
        assert!(share(&july, SkyKind::Clear) < share(&january, SkyKind::Clear) - 0.2);
    }

    #[test]
    fn days_come_in_spells_more_often_than_independent_draws_would_give() {
        // Independent draws from April's shares repeat with probability Σ p² ≈ 0.35;
        // with persistence 0.35 that becomes 0.35 + 0.65 × 0.35 ≈ 0.58.
        let model = WeatherModel::default();
        let (mut same, mut total) = (0, 0);
        for seed in 0..40 {
            for day in 2..=30 {
                let today = model.day(seed, date(2024, 4, day)).sky;
                let yesterday = model.day(seed, date(2024, 4, day - 1)).sky;
                same += usize::from(today == yesterday);
                total += 1;
            }
        }
        let repeat = same as f64 / f64::from(total);
        assert!((0.5..0.66).contains(&repeat), "{repeat}");
    }

    #[test]
    fn intraday_index_is_smooth_bounded_and_fits_the_sky_kind() {
        let model = WeatherModel::default();
        for seed in 0..30 {
            let day = model.day(seed, date(2024, 5, 3));
            let mut previous = day.clear_sky_index(0.0);
            for minute in 1..=1440 {
                let kc = day.clear_sky_index(f64::from(minute) / 60.0);
                assert!((0.05..=1.0).contains(&kc));
                // Fastest wave: 0.25 × 0.5 × 2π per half hour ≈ 0.033 a minute; never a step.
                assert!((kc - previous).abs() < 0.04, "jump at minute {minute}");
                previous = kc;
                match day.sky {
                    SkyKind::Clear => assert!(kc >= 0.88, "clear {kc}"),
                    SkyKind::Overcast => assert!(kc <= 0.5, "overcast {kc}"),
                    SkyKind::PartlyCloudy => assert!(kc >= 0.25, "partly {kc}"),
                }
            }
        }
    }

    #[test]
    fn generator_reads_the_day_and_hour_of_the_local_clock() {
        let weather = WeatherGenerator::new(11, china_standard_time());
        // 07:30 CST on 5 May is 23:30 UTC on 4 May: it belongs to 5 May's weather.
        let instant = Utc.with_ymd_and_hms(2024, 5, 4, 23, 30, 0).unwrap();
        let day = weather.day(date(2024, 5, 5));
        assert_eq!(weather.clear_sky_index(instant), day.clear_sky_index(7.5));
    }
}
