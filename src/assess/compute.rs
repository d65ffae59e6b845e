//! One period's assessment of many stations, pure: station-days from device-days and the
//! sky, then the metrics, peer medians, flags, grades and the ranking.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use super::availability::{HourMasks, availability, longest_zero_spell};
use super::degradation::yoy_rate;
use super::dispersion::{InverterComparison, compare, dispersion_rate};
use super::flags::{Evidence, Flag, raise};
use super::grade::{Grade, grade};
use super::metrics::{
    completeness, final_yield, module_temperature_noct, ratio_of_sums, temperature_factor,
};
use super::peers::{daily_medians, peer_ratio};
use super::sky::{Orientation, Sky};
use crate::config::AssessmentConfig;
use crate::solar::energy::Climate;
use crate::solar::position::{Site, sun_position};

/// One device's rollup of one local day.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DeviceDay {
    pub energy_kwh: f64,
    pub samples: i32,
    pub irradiation_kwh_m2: Option<f64>,
    pub data_hours: i32,
    pub producing_hours: i32,
}

/// An inverter and its days.
#[derive(Debug, Clone, Default)]
pub struct InverterInput {
    pub code: String,
    pub dc_kwp: Option<f64>,
    pub days: BTreeMap<NaiveDate, DeviceDay>,
}

/// A station to assess.
#[derive(Debug, Clone)]
pub struct StationInput {
    pub code: String,
    pub name: String,
    pub area_code: String,
    /// Peer group key (the county's or township's code).
    pub group: String,
    pub dc_kwp: f64,
    pub orientation: Option<Orientation>,
    pub inverters: Vec<InverterInput>,
    /// Plane-of-array irradiation of the station's weather sensor per UTC hour, kWh/m2.
    pub irradiation_hours: BTreeMap<DateTime<Utc>, f64>,
}

/// The period and how readings are expected.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub zone: chrono_tz::Tz,
    /// Seconds between readings an inverter is expected to send in daylight.
    pub expected_interval_s: u64,
}

/// A station's assessment.
#[derive(Debug, Clone, Serialize)]
pub struct StationAssessment {
    pub rank: usize,
    pub code: String,
    pub name: String,
    pub area_code: String,
    pub peer_group: String,
    pub dc_kwp: f64,
    pub energy_kwh: f64,
    /// Final yield Yf, kWh/kWp (等效利用小时).
    pub final_yield_h: Option<f64>,
    pub completeness: Option<f64>,
    pub availability: Option<f64>,
    /// Reference yield Yr, kWh/m2 ÷ 1 kW/m2 = h (only with an irradiance sensor).
    pub reference_yield_h: Option<f64>,
    pub performance_ratio: Option<f64>,
    pub performance_ratio_temp_corrected: Option<f64>,
    /// Measured / clear-sky modelled energy over complete days.
    pub performance_index: Option<f64>,
    pub peer_ratio: Option<f64>,
    pub peer_days: usize,
    pub dispersion_rate: Option<f64>,
    pub inverters: Vec<InverterComparison>,
    pub degradation_percent_per_year: Option<f64>,
    pub degradation_pairs: usize,
    pub longest_zero_spell_days: u32,
    pub flags: Vec<Flag>,
    pub grade: Grade,
    pub grade_zh: &'static str,
}

/// What the per-station pass keeps for the peer pass.
struct Partial {
    a: StationAssessment,
    evidence: Evidence,
    /// Complete days in the period: (day, kWh).
    complete: Vec<(NaiveDate, f64)>,
}

/// Assesses every station; the result is ranked (grade, then peer ratio, then Yf).
pub fn assess(
    stations: &[StationInput],
    period: &Period,
    c: &AssessmentConfig,
) -> Vec<StationAssessment> {
    let days = sky_days(stations, period);
    let started = std::time::Instant::now();
    let sky = Sky::prepare(
        &orientations(stations),
        &days,
        period.zone,
        c.daylight_elevation_deg,
    );
    tracing::debug!(
        days = days.len(),
        sky_s = started.elapsed().as_secs_f64(),
        "sky prepared"
    );
    assess_with_sky(stations, period, c, &sky)
}

/// The orientations of the stations that have one: what the sky is prepared for.
pub fn orientations(stations: &[StationInput]) -> Vec<Orientation> {
    stations.iter().filter_map(|s| s.orientation).collect()
}

/// The days an assessment needs the sky for: the period, and the year before it (for
/// degradation) only where the data reaches back.
pub fn sky_days(stations: &[StationInput], period: &Period) -> Vec<NaiveDate> {
    let lookback = stations.iter().any(|s| {
        s.inverters
            .iter()
            .any(|i| i.days.range(..period.from).next().is_some())
    });
    let first = if lookback {
        period.from - Duration::days(366)
    } else {
        period.from
    };
    first.iter_days().take_while(|d| *d <= period.to).collect()
}

/// [`assess`] with the sky already prepared for [`orientations`] over [`sky_days`] (the
/// assessment's I/O works it out while reading the rollups).
pub fn assess_with_sky(
    stations: &[StationInput],
    period: &Period,
    c: &AssessmentConfig,
    sky: &Sky,
) -> Vec<StationAssessment> {
    let mut partials = per_station(stations, period, c, sky);
    let medians = daily_medians(
        partials.iter().zip(stations).flat_map(|(p, s)| {
            p.complete
                .iter()
                .map(move |(d, kwh)| (s.group.as_str(), *d, kwh / s.dc_kwp.max(f64::MIN_POSITIVE)))
        }),
        c.min_peers,
    );
    for (p, s) in partials.iter_mut().zip(stations) {
        let (ratio, days) = peer_ratio(&s.group, s.dc_kwp, &p.complete, &medians);
        p.a.peer_ratio = ratio;
        p.a.peer_days = days;
        p.evidence.peer_ratio = ratio;
        p.evidence.peer_days = days;
        p.a.flags = raise(&p.evidence, c);
        p.a.grade = grade(&c.grade, p.a.peer_ratio, p.a.availability, p.a.flags.len());
        p.a.grade_zh = p.a.grade.zh();
    }
    let mut out: Vec<StationAssessment> = partials.into_iter().map(|p| p.a).collect();
    out.sort_by(|a, b| {
        a.grade
            .cmp(&b.grade)
            .then(
                b.peer_ratio
                    .unwrap_or(-1.0)
                    .total_cmp(&a.peer_ratio.unwrap_or(-1.0)),
            )
            .then(
                b.final_yield_h
                    .unwrap_or(-1.0)
                    .total_cmp(&a.final_yield_h.unwrap_or(-1.0)),
            )
            .then(a.code.cmp(&b.code))
    });
    for (i, a) in out.iter_mut().enumerate() {
        a.rank = i + 1;
    }
    out
}

/// The per-station pass over every core: stations are independent until the peer medians,
/// and the output keeps the input's order, so the result is the same as one thread's.
fn per_station(
    stations: &[StationInput],
    period: &Period,
    c: &AssessmentConfig,
    sky: &Sky,
) -> Vec<Partial> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads == 1 || stations.len() < 64 {
        return stations
            .iter()
            .map(|s| station(s, period, c, sky))
            .collect();
    }
    let chunk = stations.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = stations
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|s| station(s, period, c, sky))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("an assessment thread panicked"))
            .collect()
    })
}

fn station(s: &StationInput, period: &Period, c: &AssessmentConfig, sky: &Sky) -> Partial {
    let lookback = period.from - Duration::days(366);
    let n_inv = s.inverters.len().max(1) as f64;
    let inv_dc = |i: &InverterInput| i.dc_kwp.filter(|k| *k > 0.0).unwrap_or(s.dc_kwp / n_inv);
    let mut energy = 0.0;
    let (mut received, mut expected) = (0.0, 0.0);
    let mut masks = Vec::new();
    let mut complete = Vec::new();
    let mut clear_pairs = Vec::new();
    // (day, normalized energy), in day order.
    let mut normalized = Vec::new();
    let mut pr_pairs = Vec::new();
    let mut pr_t_pairs = Vec::new();
    let mut reference = 0.0;
    let mut inverter_kwh = vec![0.0; s.inverters.len()];
    let site = s
        .orientation
        .and_then(|o| Site::new(o.latitude, o.longitude).ok());
    let climate = Climate::default();
    let station_sky = s.orientation.map(|o| sky.station(&o));

    // The days to visit, in order: those of the year before the period that have data (for
    // degradation; the others would be skipped), then every day of the period. Each
    // inverter's days are walked alongside with a cursor instead of looked up day by day
    // (millions of map lookups at province size).
    let mut days: Vec<NaiveDate> = s
        .inverters
        .iter()
        .flat_map(|i| i.days.range(lookback..period.from).map(|(d, _)| *d))
        .collect();
    days.sort_unstable();
    days.dedup();
    days.extend(period.from.iter_days().take_while(|d| *d <= period.to));
    let mut cursors: Vec<_> = s
        .inverters
        .iter()
        .map(|i| i.days.range(lookback..=period.to).peekable())
        .collect();
    let mut today = vec![DeviceDay::default(); s.inverters.len()];
    for day in days {
        let in_period = day >= period.from;
        for (cursor, d) in cursors.iter_mut().zip(today.iter_mut()) {
            *d = match cursor.next_if(|(k, _)| **k == day) {
                Some((_, v)) => *v,
                None => DeviceDay::default(),
            };
        }
        let profile = station_sky.as_ref().map(|k| k.day(day)).unwrap_or_default();
        let per_inverter_expected = profile.sun_up_s / period.expected_interval_s.max(1) as f64;
        let mut day_kwh = 0.0;
        let (mut day_received, mut day_expected) = (0.0, 0.0);
        let mut all_complete = true;
        for d in &today {
            day_kwh += d.energy_kwh;
            let got = f64::from(d.samples).min(per_inverter_expected);
            day_received += got;
            day_expected += per_inverter_expected;
            if completeness(got, per_inverter_expected).is_some_and(|x| x < c.complete_day) {
                all_complete = false;
            }
            if in_period {
                masks.push(HourMasks {
                    daylight: profile.daylight_mask,
                    data: d.data_hours,
                    producing: d.producing_hours,
                });
            }
        }
        let day_complete = !s.inverters.is_empty()
            && completeness(day_received, day_expected).is_some_and(|x| x >= c.complete_day);
        let clear = s.dc_kwp * profile.clear_kwh_per_kwp;
        if day_complete && clear > 0.0 {
            normalized.push((day, day_kwh / clear));
        }
        if in_period {
            energy += day_kwh;
            received += day_received;
            expected += day_expected;
            if day_complete {
                complete.push((day, day_kwh));
                if clear > 0.0 {
                    clear_pairs.push((day_kwh, clear));
                }
            }
            if all_complete && day_complete {
                for (kwh, d) in inverter_kwh.iter_mut().zip(&today) {
                    *kwh += d.energy_kwh;
                }
            }
            // Reference yield and PR where an irradiance sensor reported that day.
            let hours: Vec<(DateTime<Utc>, f64)> = if s.irradiation_hours.is_empty() {
                Vec::new()
            } else {
                let (start, end) = crate::ingest::recompute::day_bounds(day, period.zone);
                s.irradiation_hours
                    .range(start..end)
                    .map(|(h, v)| (*h, *v))
                    .collect()
            };
            let h_day: f64 = hours.iter().map(|(_, v)| v).sum();
            reference += h_day;
            if day_complete && h_day > 0.0 {
                pr_pairs.push((day_kwh, s.dc_kwp * h_day));
                // Temperature-corrected (IEC 61724-1): each hour's expectation times
                // C = 1 + γ(T − 25), which is the same as dividing its output by C: a hot
                // array is not blamed for the heat. T comes from the modelled air
                // temperature and the hour's measured irradiance (NOCT): the rollups carry
                // no measured module temperature yet.
                let expected_t: f64 = hours
                    .iter()
                    .map(|(h, kwh_m2)| {
                        let mid = *h + Duration::minutes(30);
                        let air = site.as_ref().map_or(climate.annual_mean_c, |site| {
                            climate.ambient_c(mid, &sun_position(site, mid))
                        });
                        let t = module_temperature_noct(air, kwh_m2 * 1000.0);
                        s.dc_kwp * kwh_m2 * temperature_factor(c.gamma_per_c, t)
                    })
                    .sum();
                pr_t_pairs.push((day_kwh, expected_t));
            }
        }
    }

    let comparisons = if s.inverters.len() > 1 && inverter_kwh.iter().any(|k| *k > 0.0) {
        compare(
            &s.inverters
                .iter()
                .zip(&inverter_kwh)
                .map(|(i, kwh)| (i.code.clone(), kwh / inv_dc(i)))
                .collect::<Vec<_>>(),
        )
    } else {
        Vec::new()
    };
    let zero_spell = s
        .inverters
        .iter()
        .filter_map(|inv| {
            let days: Vec<(NaiveDate, bool, bool)> = inv
                .days
                .range(period.from..=period.to)
                .map(|(d, r)| (*d, r.samples > 0, r.energy_kwh > 0.0))
                .collect();
            longest_zero_spell(&days).map(|(n, first)| (inv.code.clone(), n, first))
        })
        .max_by_key(|(_, n, _)| *n);
    let (degradation, pairs) = yoy_rate(&normalized, period.from, period.to);
    let completeness = completeness(received, expected);
    let availability = availability(masks);
    let evidence = Evidence {
        peer_ratio: None,
        peer_days: 0,
        availability,
        completeness,
        inverters_vs_siblings: comparisons
            .iter()
            .filter_map(|i| Some((i.code.clone(), i.vs_siblings?)))
            .collect(),
        zero_spell: zero_spell.clone(),
        degradation_percent_per_year: degradation,
    };
    let has_sensor = !s.irradiation_hours.is_empty();
    Partial {
        a: StationAssessment {
            rank: 0,
            code: s.code.clone(),
            name: s.name.clone(),
            area_code: s.area_code.clone(),
            peer_group: s.group.clone(),
            dc_kwp: s.dc_kwp,
            energy_kwh: (energy * 1000.0).round() / 1000.0,
            final_yield_h: final_yield(energy, s.dc_kwp).map(|y| (y * 1000.0).round() / 1000.0),
            completeness,
            availability,
            reference_yield_h: has_sensor.then_some(reference),
            performance_ratio: ratio_of_sums(pr_pairs),
            performance_ratio_temp_corrected: ratio_of_sums(pr_t_pairs),
            performance_index: ratio_of_sums(clear_pairs),
            peer_ratio: None,
            peer_days: 0,
            dispersion_rate: dispersion_rate(
                &comparisons
                    .iter()
                    .map(|i| i.specific_yield)
                    .collect::<Vec<_>>(),
            ),
            inverters: comparisons,
            degradation_percent_per_year: degradation,
            degradation_pairs: pairs,
            longest_zero_spell_days: zero_spell.map_or(0, |z| z.1),
            flags: Vec::new(),
            grade: Grade::Poor,
            grade_zh: Grade::Poor.zh(),
        },
        evidence,
        complete,
    }
}

/// Stations' results by code, for callers that look one up.
pub fn by_code(results: &[StationAssessment]) -> HashMap<&str, &StationAssessment> {
    results.iter().map(|r| (r.code.as_str(), r)).collect()
}
