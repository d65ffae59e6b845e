//! Interval energy from raw readings, pure: validated lifetime-counter deltas, or
//! integrated power where a device has no counter; grouped into UTC hours.
//!
//! Field counters misbehave (DOMAIN.md §4, field-notes "garbage reads"): they glitch to 0
//! and back, spike, or restart when an inverter is replaced. The rules:
//! - a counter reading of exactly 0 is "unknown" (SunSpec acc 0 = not implemented, and the
//!   classic glitch), flagged and skipped, so the next good reading pairs with the last
//!   good one and nothing is lost;
//! - a decrease is not production (flagged); the new value becomes the anchor, so a real
//!   reset (a replaced inverter) counts again from its next reading on;
//! - a rise larger than rated power x elapsed time x 1.2 is not production (flagged);
//! - power is integrated (trapezoids) only for devices without any counter, and only
//!   across gaps of at most [`MAX_INTEGRATION_GAP`].

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, Utc};

/// Quality flags on raw readings (bit set).
pub mod quality {
    /// The counter read exactly 0: treated as unknown.
    pub const ZERO_COUNTER: i16 = 1;
    /// The counter went down since the last good value: not production.
    pub const COUNTER_DECREASE: i16 = 2;
    /// The counter rose faster than the device can produce: not production.
    pub const COUNTER_JUMP: i16 = 4;
}

/// Longest gap across which power is integrated; beyond it the energy is unknown.
pub const MAX_INTEGRATION_GAP: Duration = Duration::minutes(15);

/// Headroom over rated power before a counter rise is called impossible.
pub const JUMP_TOLERANCE: f64 = 1.2;

/// The values of one raw reading that energy depends on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub ts: DateTime<Utc>,
    /// The lifetime counter (inverter: energy_total_kwh; meter: export_energy_kwh), kWh.
    pub counter: Option<f64>,
    pub power_w: Option<f64>,
    pub irradiance_wm2: Option<f64>,
}

/// Energy and more for one device and one UTC hour.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HourRollup {
    pub energy_kwh: f64,
    pub peak_power_w: Option<f64>,
    pub samples: i32,
    pub irradiation_kwh_m2: Option<f64>,
    pub bad_intervals: i32,
}

/// The result for one window of readings.
#[derive(Debug, Default, PartialEq)]
pub struct Rollups {
    pub hours: BTreeMap<DateTime<Utc>, HourRollup>,
    /// "counter" or "power".
    pub source: &'static str,
    /// Quality flags for the readings in the window (only non-zero ones).
    pub flags: Vec<(DateTime<Utc>, i16)>,
}

/// The UTC hour an instant falls in.
pub fn hour_of(ts: DateTime<Utc>) -> DateTime<Utc> {
    ts.duration_trunc(Duration::hours(1))
        .expect("hours divide any UTC instant")
}

/// What the first readings of a window pair with: per quantity, the last reading before
/// the window that has it. A reading without power does not break the integration of
/// power around it (within [`MAX_INTEGRATION_GAP`]), so each quantity keeps its own.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Before {
    /// The last reading with a usable counter: the anchor of the next counter delta.
    pub counter: Option<Sample>,
    /// The last reading with AC power.
    pub power: Option<Sample>,
    /// The last reading with irradiance.
    pub irradiance: Option<Sample>,
}

impl Before {
    /// `sample` for every quantity it has.
    pub fn of(sample: Sample) -> Before {
        Before::default().advance(&[sample])
    }

    /// What readings after `samples` (sorted by time, all later than these) pair with.
    pub fn advance(self, samples: &[Sample]) -> Before {
        let last = |f: fn(&Sample) -> bool| samples.iter().rev().find(|s| f(s)).copied();
        Before {
            counter: last(usable).or(self.counter),
            power: last(|s| s.power_w.is_some()).or(self.power),
            irradiance: last(|s| s.irradiance_wm2.is_some()).or(self.irradiance),
        }
    }

    /// Per quantity, the later of the two.
    pub fn latest(self, other: Before) -> Before {
        let later = |a: Option<Sample>, b: Option<Sample>| match (a, b) {
            (Some(a), Some(b)) => Some(if b.ts > a.ts { b } else { a }),
            (a, b) => a.or(b),
        };
        Before {
            counter: later(self.counter, other.counter),
            power: later(self.power, other.power),
            irradiance: later(self.irradiance, other.irradiance),
        }
    }
}

/// A counter reading that counts: 0 means unknown (see the module's rules).
fn usable(s: &Sample) -> bool {
    s.counter.is_some_and(|c| c > 0.0)
}

/// Computes hourly rollups for `samples` (sorted by time, all in the window) given what
/// they pair with before the window. `rated_kw` bounds plausible counter rises; None
/// disables that check.
pub fn rollup(before: &Before, samples: &[Sample], rated_kw: Option<f64>) -> Rollups {
    rollup_onto(BTreeMap::new(), before, samples, rated_kw)
}

/// [`rollup`], adding to `hours`: the rollups of the readings that precede `samples` in
/// their hours (and follow `before`). The result is exactly what [`rollup`] computes for the
/// whole hours, to the last bit: each hour's sums go on in time order.
pub fn rollup_onto(
    hours: BTreeMap<DateTime<Utc>, HourRollup>,
    before: &Before,
    samples: &[Sample],
    rated_kw: Option<f64>,
) -> Rollups {
    let mut out = Rollups {
        hours,
        source: "power",
        ..Default::default()
    };
    for s in samples {
        let h = out.hours.entry(hour_of(s.ts)).or_default();
        h.samples += 1;
        if let Some(p) = s.power_w {
            h.peak_power_w = Some(h.peak_power_w.map_or(p, |m: f64| m.max(p)));
        }
    }
    if before.counter.is_some() || samples.iter().any(usable) {
        out.source = "counter";
        if before.counter.is_none() {
            // The device's first counter: its hour counts counter deltas only, as it would
            // if it were rolled up whole, so the power integrated before it no longer counts.
            for h in out.hours.values_mut() {
                h.energy_kwh = 0.0;
            }
        }
        counters(before.counter, samples, rated_kw, &mut out);
    } else {
        integrate(
            before.power,
            samples,
            |s| s.power_w.map(|p| p.max(0.0) / 1000.0),
            &mut out,
            |h, e| h.energy_kwh += e,
        );
    }
    if samples.iter().any(|s| s.irradiance_wm2.is_some()) {
        integrate(
            before.irradiance,
            samples,
            |s| s.irradiance_wm2.map(|g| g.max(0.0) / 1000.0),
            &mut out,
            |h, e| {
                *h.irradiation_kwh_m2.get_or_insert(0.0) += e;
            },
        );
    }
    out
}

fn counters(before: Option<Sample>, samples: &[Sample], rated_kw: Option<f64>, out: &mut Rollups) {
    let mut anchor = before.and_then(|s| Some((s.ts, s.counter?)));
    for s in samples {
        let Some(c) = s.counter else { continue };
        if c <= 0.0 {
            out.flags.push((s.ts, quality::ZERO_COUNTER));
            continue;
        }
        let Some((at, prev)) = anchor.replace((s.ts, c)) else {
            continue;
        };
        let delta = c - prev;
        let hours = (s.ts - at).num_milliseconds() as f64 / 3_600_000.0;
        let cap = rated_kw.map(|kw| kw * hours * JUMP_TOLERANCE + 0.01);
        let h = out
            .hours
            .get_mut(&hour_of(s.ts))
            .expect("every sample has its hour");
        if delta < 0.0 {
            out.flags.push((s.ts, quality::COUNTER_DECREASE));
            h.bad_intervals += 1;
        } else if cap.is_some_and(|cap| delta > cap) {
            out.flags.push((s.ts, quality::COUNTER_JUMP));
            h.bad_intervals += 1;
        } else {
            h.energy_kwh += delta;
        }
    }
}

/// Trapezoid integration of `value` (kW or kW/m2) over consecutive samples, each interval
/// attributed to the hour of its end.
fn integrate(
    before: Option<Sample>,
    samples: &[Sample],
    value: impl Fn(&Sample) -> Option<f64>,
    out: &mut Rollups,
    add: impl Fn(&mut HourRollup, f64),
) {
    let mut last = before.and_then(|s| Some((s.ts, value(&s)?)));
    for s in samples {
        let Some(v) = value(s) else { continue };
        if let Some((at, prev)) = last.replace((s.ts, v)) {
            let gap = s.ts - at;
            if gap > Duration::zero() && gap <= MAX_INTEGRATION_GAP {
                let hours = gap.num_milliseconds() as f64 / 3_600_000.0;
                add(
                    out.hours
                        .get_mut(&hour_of(s.ts))
                        .expect("every sample has its hour"),
                    (prev + v) / 2.0 * hours,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(min: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-01T02:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::minutes(min)
    }

    fn c(min: i64, kwh: f64) -> Sample {
        Sample {
            ts: at(min),
            counter: Some(kwh),
            power_w: None,
            irradiance_wm2: None,
        }
    }

    fn energy(r: &Rollups) -> f64 {
        r.hours.values().map(|h| h.energy_kwh).sum()
    }

    #[test]
    fn counter_deltas_are_summed_per_hour() {
        let before = c(-1, 1000.0);
        let samples = [c(0, 1001.0), c(30, 1026.0), c(59, 1050.0), c(60, 1051.0)];
        let r = rollup(&Before::of(before), &samples, Some(100.0));
        assert_eq!(r.source, "counter");
        assert_eq!(r.hours[&at(0)].energy_kwh, 50.0);
        assert_eq!(r.hours[&at(60)].energy_kwh, 1.0);
        assert!(r.flags.is_empty());
    }

    #[test]
    fn a_glitch_to_zero_and_back_loses_nothing_and_counts_nothing_extra() {
        let samples = [c(0, 1000.0), c(1, 0.0), c(2, 1001.5)];
        let r = rollup(&Before::default(), &samples, Some(100.0));
        assert_eq!(energy(&r), 1.5);
        assert_eq!(r.flags, [(at(1), quality::ZERO_COUNTER)]);
    }

    #[test]
    fn a_decrease_is_not_production_and_a_replaced_inverter_counts_again() {
        let samples = [c(0, 123_456.0), c(1, 3.0), c(2, 4.5)];
        let r = rollup(&Before::default(), &samples, Some(100.0));
        assert_eq!(energy(&r), 1.5);
        assert_eq!(r.flags, [(at(1), quality::COUNTER_DECREASE)]);
        assert_eq!(r.hours[&at(0)].bad_intervals, 1);
    }

    #[test]
    fn a_jump_beyond_rated_power_is_not_production() {
        // 100 kW for one minute is at most 1.67 kWh (x1.2 = 2 kWh); a 500 kWh rise is a spike.
        let samples = [c(0, 1000.0), c(1, 1500.0), c(2, 1001.0)];
        let r = rollup(&Before::default(), &samples, Some(100.0));
        assert_eq!(energy(&r), 0.0);
        assert_eq!(
            r.flags,
            [
                (at(1), quality::COUNTER_JUMP),
                (at(2), quality::COUNTER_DECREASE)
            ]
        );
    }

    #[test]
    fn a_long_gap_in_counters_keeps_its_energy() {
        // Offline for 3 hours, then the counter shows 200 kWh more: real production.
        let samples = [c(0, 1000.0), c(180, 1200.0)];
        let r = rollup(&Before::default(), &samples, Some(100.0));
        assert_eq!(energy(&r), 200.0);
    }

    #[test]
    fn power_is_integrated_only_without_counters_and_not_across_long_gaps() {
        let p = |min, w| Sample {
            ts: at(min),
            counter: None,
            power_w: Some(w),
            irradiance_wm2: None,
        };
        let samples = [p(0, 60_000.0), p(10, 60_000.0), p(50, 60_000.0), p(55, 0.0)];
        let r = rollup(&Before::default(), &samples, None);
        assert_eq!(r.source, "power");
        // 10 min at 60 kW = 10 kWh; the 40-minute gap is unknown; 5 min ramp to 0 = 2.5 kWh.
        assert!((energy(&r) - 12.5).abs() < 1e-9, "{}", energy(&r));
        assert_eq!(r.hours[&at(0)].peak_power_w, Some(60_000.0));
        assert_eq!(r.hours[&at(0)].samples, 4);
    }

    /// Rolling the readings after any split onto the hours before it, from what the split
    /// leaves behind, gives the whole window's rollups bit for bit: what the roller relies
    /// on to read only new readings.
    #[test]
    fn rolling_onto_earlier_hours_equals_rolling_up_the_whole_window() {
        // Counters with a glitch, a decrease and a jump; power without counters, with a
        // reading lacking power and a long gap; irradiance on some readings; and a device
        // whose counter appears midway, after power-only readings in the same hour.
        let mut seed = 7_u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as f64 / (1u64 << 31) as f64
        };
        let mut counter = 1000.0;
        let counted: Vec<Sample> = (0..90)
            .map(|i| {
                counter += next() * 0.9;
                let c = match i {
                    20 => 0.0,
                    40 => counter - 50.0,
                    60 => counter + 500.0,
                    _ => counter,
                };
                Sample {
                    ts: at(i * 2),
                    counter: Some(c),
                    power_w: Some(next() * 50_000.0),
                    irradiance_wm2: (i % 3 != 0).then(|| next() * 1000.0),
                }
            })
            .collect();
        let powered: Vec<Sample> = (0..90)
            .filter(|i| !(50..60).contains(i))
            .map(|i| Sample {
                ts: at(i * 2),
                counter: None,
                power_w: (i % 7 != 0).then(|| next() * 50_000.0),
                irradiance_wm2: None,
            })
            .collect();
        let switching: Vec<Sample> = (0..60)
            .map(|i| Sample {
                ts: at(i * 3),
                counter: (i >= 25).then_some(500.0 + i as f64),
                power_w: Some(next() * 50_000.0),
                irradiance_wm2: None,
            })
            .collect();
        for samples in [&counted, &powered, &switching] {
            let whole = rollup(&Before::default(), samples, Some(100.0));
            for split in 1..samples.len() {
                let (head, tail) = samples.split_at(split);
                let earlier = rollup(&Before::default(), head, Some(100.0));
                // Only the hour the split falls in holds readings of both sides.
                let hours = earlier
                    .hours
                    .into_iter()
                    .filter(|(h, _)| *h == hour_of(tail[0].ts))
                    .collect();
                let later = rollup_onto(hours, &Before::default().advance(head), tail, Some(100.0));
                for (hour, h) in &later.hours {
                    assert_eq!(&whole.hours[hour], h, "split at {split}, hour {hour}");
                }
                let flags: Vec<_> = whole.flags.iter().filter(|f| f.0 >= tail[0].ts).collect();
                assert_eq!(
                    later.flags.iter().collect::<Vec<_>>(),
                    flags,
                    "split at {split}"
                );
            }
        }
    }

    #[test]
    fn irradiance_becomes_irradiation() {
        let g = |min, w| Sample {
            ts: at(min),
            counter: None,
            power_w: None,
            irradiance_wm2: Some(w),
        };
        let r = rollup(&Before::default(), &[g(0, 1000.0), g(10, 1000.0)], None);
        let h = &r.hours[&at(0)];
        assert!((h.irradiation_kwh_m2.unwrap() - 1.0 / 6.0).abs() < 1e-9);
    }
}
