//! The sun's side of a station-day: how long the sun was up (expected readings), which
//! hours count as daylight for availability, and the clear-sky energy per kWp (the
//! performance index's expectation, see docs/ASSESSMENT.md).
//!
//! A year of a province is millions of station-days, so the sun and the clear sky are
//! worked out once per cell of 0.25° (about 25 km; the sun's timing differs by under a
//! minute across it) and day, and the array's energy on a grid of tilts (every 5°),
//! azimuths (every 10°) and DC/AC ratios (every 0.1); a station's figure is interpolated
//! bilinearly in tilt and azimuth (smooth there: well under 1 % off). Cells are shared out
//! between threads.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::ingest::recompute::day_bounds;
use crate::series::{minutes_to_horizon, true_elevation_rate};
use crate::solar::clearsky::{Irradiance, Plane, PlaneTrig, SunTrig, plane_of_array_on};
use crate::solar::energy::Assumptions;
use crate::solar::position::{Ephemeris, Site, SunPosition, sun_position_from};
use crate::solar::pv::PvArray;

/// Cells per degree of latitude and longitude.
const CELLS_PER_DEG: f64 = 4.0;
const TILT_STEP: f64 = 5.0;
const AZIMUTH_STEP: f64 = 10.0;
const RATIO_STEP: f64 = 0.1;

/// What the sun did at a station on one local day.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DayProfile {
    /// Seconds with the sun above the horizon.
    pub sun_up_s: f64,
    /// Bit i: the sun at the middle of the i-th hour stood above the daylight elevation.
    pub daylight_mask: i32,
    /// Clear-sky AC energy per kWp of DC, kWh.
    pub clear_kwh_per_kwp: f64,
}

/// Where a station stands and how its array faces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Orientation {
    pub latitude: f64,
    pub longitude: f64,
    pub tilt_deg: f64,
    pub azimuth_deg: f64,
    /// AC rating / DC rating (clipping on clear days).
    pub ac_per_dc: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Cell(i32, i32);

/// A grid node: tilt and azimuth in steps, ratio in steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Node(i32, i32, i32);

impl Orientation {
    fn cell(&self) -> Cell {
        Cell(
            (self.latitude * CELLS_PER_DEG).round() as i32,
            (self.longitude * CELLS_PER_DEG).round() as i32,
        )
    }

    /// The four surrounding nodes and the weights of the bilinear interpolation.
    fn nodes(&self) -> [(Node, f64); 4] {
        let t = self.tilt_deg.clamp(0.0, 90.0) / TILT_STEP;
        let a = self.azimuth_deg.rem_euclid(360.0) / AZIMUTH_STEP;
        let r = (self.ac_per_dc.clamp(0.5, 1.5) / RATIO_STEP).round() as i32;
        let (t0, a0) = (t.floor(), a.floor());
        let (ft, fa) = (t - t0, a - a0);
        let (t0, a0) = (t0 as i32, a0 as i32);
        [
            (Node(t0, a0, r), (1.0 - ft) * (1.0 - fa)),
            (Node(t0 + 1, a0, r), ft * (1.0 - fa)),
            (Node(t0, a0 + 1, r), (1.0 - ft) * fa),
            (Node(t0 + 1, a0 + 1, r), ft * fa),
        ]
    }
}

struct CellDay {
    sun_up_s: f64,
    daylight_mask: i32,
    /// Clear-sky energy per kWp of each of the cell's nodes, in the order of its list.
    clear: Vec<f64>,
}

/// One cell's nodes and days.
struct CellSky {
    nodes: Vec<Node>,
    days: BTreeMap<NaiveDate, CellDay>,
}

/// Day profiles worked out in advance for a set of stations and days.
pub struct Sky {
    cells: HashMap<Cell, CellSky>,
}

impl Sky {
    /// Works out every (cell, day) the stations facing `orientations` need over `days`.
    pub fn prepare(
        orientations: &[Orientation],
        days: &[NaiveDate],
        zone: Tz,
        daylight_elevation_deg: f64,
    ) -> Self {
        let mut by_cell: HashMap<Cell, BTreeSet<Node>> = HashMap::new();
        for o in orientations {
            by_cell
                .entry(o.cell())
                .or_default()
                .extend(o.nodes().iter().filter(|(_, w)| *w > 0.0).map(|(n, _)| *n));
        }
        let mut cells: Vec<(Cell, Vec<Node>)> = by_cell
            .into_iter()
            .map(|(c, n)| (c, n.into_iter().collect()))
            .collect();
        cells.sort();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8);
        let chunk = cells.len().div_ceil(threads).max(1);
        let assumptions = Assumptions::default();
        // The sun's ephemeris at each day's instants is the same for every cell.
        let instants: Vec<Vec<Instant>> = days.iter().map(|d| half_hours(*d, zone)).collect();
        let instants = &instants;
        let parts: Vec<Vec<(Cell, CellSky)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = cells
                .chunks(chunk)
                .map(|part| {
                    let a = &assumptions;
                    scope.spawn(move || {
                        part.iter()
                            .map(|(cell, nodes)| {
                                let days = days
                                    .iter()
                                    .zip(instants)
                                    .map(|(day, instants)| {
                                        let d = cell_day(
                                            *cell,
                                            nodes,
                                            instants,
                                            daylight_elevation_deg,
                                            a,
                                            daylight_elevation_deg >= 0.0,
                                        );
                                        (*day, d)
                                    })
                                    .collect();
                                let nodes = nodes.clone();
                                (*cell, CellSky { nodes, days })
                            })
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a sky thread panicked"))
                .collect()
        });
        Sky {
            cells: parts.into_iter().flatten().collect(),
        }
    }

    /// Adds the days of `other`, prepared for the same orientations.
    pub fn merge(&mut self, other: Sky) {
        for (cell, more) in other.cells {
            match self.cells.get_mut(&cell) {
                Some(c) => c.days.extend(more.days),
                None => {
                    self.cells.insert(cell, more);
                }
            }
        }
    }

    /// The profile of `day` for a station facing `o` (all zero if it was not prepared).
    pub fn day(&self, o: &Orientation, day: NaiveDate) -> DayProfile {
        self.station(o).day(day)
    }

    /// The sky of a station facing `o`, its cell and interpolation looked up once for
    /// all its days.
    pub fn station(&self, o: &Orientation) -> StationSky<'_> {
        let cell = self.cells.get(&o.cell());
        StationSky {
            cell,
            weights: o.nodes().map(|(n, w)| {
                let at = cell.and_then(|c| c.nodes.iter().position(|x| *x == n));
                (at, w)
            }),
        }
    }
}

/// The sky of one station (see [`Sky::station`]).
pub struct StationSky<'a> {
    cell: Option<&'a CellSky>,
    /// The interpolation's nodes (their place in the cell's list, if prepared) and weights.
    weights: [(Option<usize>, f64); 4],
}

impl StationSky<'_> {
    /// The profile of `day` (all zero if it was not prepared).
    pub fn day(&self, day: NaiveDate) -> DayProfile {
        let Some(d) = self.cell.and_then(|c| c.days.get(&day)) else {
            return DayProfile::default();
        };
        DayProfile {
            sun_up_s: d.sun_up_s,
            daylight_mask: d.daylight_mask,
            // The weighted sum of the four nodes in their order: a node that was not
            // prepared (weight 0) counts 0.
            clear_kwh_per_kwp: self
                .weights
                .iter()
                .map(|(at, w)| w * at.map_or(0.0, |i| d.clear[i]))
                .sum(),
        }
    }
}

/// An instant of a day and the sun's ephemeris then.
type Instant = (DateTime<Utc>, Ephemeris);

/// Every half hour of the local `day` from its start, to its end or 30 hours at most.
fn half_hours(day: NaiveDate, zone: Tz) -> Vec<Instant> {
    let (start, end) = day_bounds(day, zone);
    let hours = (end - start).num_hours().min(30);
    (0..=2 * hours)
        .map(|j| {
            let t = start + Duration::minutes(30 * j);
            (t, Ephemeris::at(t))
        })
        .collect()
}

/// Where the sun is provably below the horizon, so that its position need not be worked
/// out: about a third of a day's instants in China's latitudes. From an instant with the
/// sun below the horizon, it stays there for [`minutes_to_horizon`] at the fastest the
/// elevation can change at the latitude ([`true_elevation_rate`], refraction included):
/// the bound the energy endpoint's daylight count relies on too.
struct Night {
    /// Degrees per minute.
    rate: f64,
    /// Instants before this are below the horizon.
    until: Option<DateTime<Utc>>,
    on: bool,
}

impl Night {
    fn new(latitude_deg: f64, on: bool) -> Self {
        Self {
            rate: true_elevation_rate(latitude_deg),
            until: None,
            on,
        }
    }

    /// Whether the sun is known to be below the horizon at `t`, from an earlier instant.
    fn covers(&self, t: DateTime<Utc>) -> bool {
        self.on && self.until.is_some_and(|u| t < u)
    }

    /// Learns from the sun's position at `t` how long it will stay below the horizon.
    fn saw(&mut self, t: DateTime<Utc>, sun: &SunPosition) {
        if sun.elevation_deg >= 0.0 {
            return;
        }
        // Whole seconds, rounded down; capped at a day (near a pole the rate goes to 0).
        let seconds = (minutes_to_horizon(sun.elevation_deg, self.rate) * 60.0).min(86_400.0);
        if seconds >= 1.0 {
            self.until = Some(t + Duration::seconds(seconds as i64));
        }
    }
}

/// One cell and day: the sun at every hour's start, middle and end; sun-up time by linear
/// interpolation of the elevation across the hour; clear-sky energy of each node by
/// Simpson's rule per hour (within 1 % of a one-minute integration).
fn cell_day(
    cell: Cell,
    nodes: &[Node],
    instants: &[Instant],
    min_elev: f64,
    a: &Assumptions,
    skip_night: bool,
) -> CellDay {
    let mut out = CellDay {
        sun_up_s: 0.0,
        daylight_mask: 0,
        clear: vec![0.0; nodes.len()],
    };
    let Ok(site) = Site::new(
        f64::from(cell.0) / CELLS_PER_DEG,
        f64::from(cell.1) / CELLS_PER_DEG,
    ) else {
        return out;
    };
    // Each node's array with its plane's trigonometry, worked out once for the day.
    let arrays: Vec<(PvArray, PlaneTrig)> = nodes
        .iter()
        .map(|n| {
            let mut array = PvArray::new(
                1.0,
                Plane {
                    tilt_deg: f64::from(n.0) * TILT_STEP,
                    azimuth_deg: f64::from(n.1) * AZIMUTH_STEP,
                },
            );
            array.ac_kw = f64::from(n.2) * RATIO_STEP;
            (array, PlaneTrig::new(&array.plane))
        })
        .collect();
    // The sun, its trigonometry, the clear sky and the air once per instant, for every node.
    // Instants at which the sun is provably below the horizon (see `Night`) are not worked
    // out: `None` for the elevation.
    let mut night = Night::new(site.latitude_deg(), skip_night);
    let mut point = |j: usize| -> (Option<f64>, Option<(SunTrig, Irradiance, f64)>) {
        let (t, eph) = &instants[j];
        let t = *t;
        if night.covers(t) {
            return (None, None);
        }
        let sun = sun_position_from(&site, eph);
        night.saw(t, &sun);
        if sun.elevation_deg <= 0.0 {
            return (Some(sun.elevation_deg), None);
        }
        let irradiance = a.clear_sky.irradiance(&site, &sun);
        let ambient = a.climate.ambient_c(t, &sun);
        (
            Some(sun.elevation_deg),
            Some((SunTrig::new(&sun), irradiance, ambient)),
        )
    };
    // The elevation where a crossing of the horizon needs its value: worked out then if it
    // was skipped (the same call on the same instant, so the same figure).
    let elevation = |e: Option<f64>, j: usize| {
        e.unwrap_or_else(|| sun_position_from(&site, &instants[j].1).elevation_deg)
    };
    // `PvArray::ac_power_from_irradiance_kw`, with the trigonometry done in advance (the
    // same operations, so the same figure).
    let power = |p: &Option<(SunTrig, Irradiance, f64)>, (array, plane): &(PvArray, PlaneTrig)| {
        p.as_ref().map_or(0.0, |(sun, irr, amb)| {
            let poa = plane_of_array_on(sun, irr, plane, array.albedo).total();
            array.ac_power_from_poa_kw(poa, *amb)
        })
    };
    // Each node's power at the hour's start is the power at the previous hour's end: kept,
    // not worked out twice (the same call on the same inputs, so the same figure).
    let powers = |p: &Option<(SunTrig, Irradiance, f64)>, into: &mut Vec<f64>| {
        into.clear();
        into.extend(arrays.iter().map(|node| power(p, node)));
    };
    let mut clear = vec![0.0; arrays.len()];
    let hours = instants.len() / 2;
    let (mut e0, mut p0) = point(0);
    let (mut w0, mut w1) = (Vec::with_capacity(arrays.len()), Vec::new());
    powers(&p0, &mut w0);
    for i in 0..hours {
        let (t0, t1) = (2 * i, 2 * i + 2);
        // The middle first: `Night` looks forward in time only.
        let (em, pm) = point(2 * i + 1);
        let (e1, p1) = point(t1);
        let up = |e: Option<f64>| e.is_some_and(|e| e > 0.0);
        out.sun_up_s += match (up(e0), up(e1)) {
            (true, true) => 3600.0,
            (false, false) => 0.0,
            (false, true) => {
                let (e0, e1) = (elevation(e0, t0), elevation(e1, t1));
                3600.0 * e1 / (e1 - e0)
            }
            (true, false) => {
                let (e0, e1) = (elevation(e0, t0), elevation(e1, t1));
                3600.0 * e0 / (e0 - e1)
            }
        };
        // A skipped middle is below the horizon, so below `min_elev` (skipping is on only
        // when `min_elev` is at or above the horizon).
        if em.is_some_and(|e| e > min_elev) {
            out.daylight_mask |= 1 << i;
        }
        powers(&p1, &mut w1);
        if p0.is_some() || pm.is_some() || p1.is_some() {
            for (k, node) in arrays.iter().enumerate() {
                let kwh = (w0[k] + 4.0 * power(&pm, node) + w1[k]) / 6.0;
                clear[k] += kwh;
            }
        }
        (e0, p0) = (e1, p1);
        std::mem::swap(&mut w0, &mut w1);
    }
    out.clear = clear;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solar::position::sun_position;

    fn shanxi() -> Orientation {
        Orientation {
            latitude: 37.6,
            longitude: 111.3,
            tilt_deg: 35.0,
            azimuth_deg: 180.0,
            ac_per_dc: 1.0,
        }
    }

    #[test]
    fn a_june_day_in_shanxi_has_about_fourteen_and_a_half_hours_of_sun() {
        let day = NaiveDate::from_ymd_opt(2026, 6, 21).unwrap();
        let sky = Sky::prepare(&[shanxi()], &[day], chrono_tz::Asia::Shanghai, 10.0);
        let p = sky.day(&shanxi(), day);
        assert!(
            (14.3 * 3600.0..14.9 * 3600.0).contains(&p.sun_up_s),
            "{}",
            p.sun_up_s
        );
        // Solar noon at 111.3°E is about 12:36 local, sunrise about 05:18 and sunset 19:54:
        // 06:30 and 18:30 are 72 minutes from them (sun about 12° high), 05:30 and 19:30
        // under 25 minutes (under 5°). So the hours 06:00-18:59 are daylight.
        let hours: Vec<u32> = (0..24)
            .filter(|i| p.daylight_mask & (1 << i) != 0)
            .collect();
        assert_eq!(hours, (6..=18).collect::<Vec<_>>());
        // The solar module's worked figure for a clear June day at sea level-ish sites:
        // about 5.9 kWh/kWp at 1,200 m; a little less at the cell's default elevation.
        assert!(
            (5.0..6.2).contains(&p.clear_kwh_per_kwp),
            "{}",
            p.clear_kwh_per_kwp
        );
    }

    /// Skipping the night changes no figure, to the last bit: China's southern and
    /// northern edges and Shanxi, every day of a year, several orientations, daylight taken
    /// from 10° and from the horizon.
    #[test]
    fn skipping_the_night_gives_the_same_figures_to_the_bit() {
        let nodes = [
            Node(7, 18, 10),
            Node(0, 0, 10),
            Node(6, 13, 8),
            Node(18, 27, 12),
        ];
        let a = Assumptions::default();
        let zone = chrono_tz::Asia::Shanghai;
        let first = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let mut skipped_days = 0;
        for (lat, lon) in [
            (18.25, 109.5),
            (37.5, 111.25),
            (53.5, 122.25),
            (43.75, 87.5),
        ] {
            let cell = Orientation {
                latitude: lat,
                longitude: lon,
                ..shanxi()
            }
            .cell();
            for day in first.iter_days().take(365) {
                for min_elev in [10.0, 0.0] {
                    let full = cell_day(cell, &nodes, &half_hours(day, zone), min_elev, &a, false);
                    let fast = cell_day(cell, &nodes, &half_hours(day, zone), min_elev, &a, true);
                    assert_eq!(
                        full.sun_up_s.to_bits(),
                        fast.sun_up_s.to_bits(),
                        "{cell:?} {day}"
                    );
                    assert_eq!(full.daylight_mask, fast.daylight_mask, "{cell:?} {day}");
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&full.clear), bits(&fast.clear), "{cell:?} {day}");
                }
                skipped_days += 1;
            }
        }
        assert_eq!(skipped_days, 4 * 365);
    }

    /// The bound holds where it is tightest (the sun skims the horizon for long near the
    /// polar circles): no instant it calls night has the sun up.
    #[test]
    fn the_night_bound_never_hides_the_sun() {
        let zone = chrono_tz::Asia::Shanghai;
        let (mut covered, mut dark) = (0, 0);
        for lat in [0.0, 30.0, 53.5, 60.0, 66.0] {
            let site = Site::new(lat, 120.0).unwrap();
            for day in NaiveDate::from_ymd_opt(2026, 1, 1)
                .unwrap()
                .iter_days()
                .step_by(7)
                .take(53)
            {
                let (start, _) = day_bounds(day, zone);
                let mut night = Night::new(lat, true);
                for minute in 0..1440 {
                    let t = start + Duration::minutes(minute);
                    let sun = sun_position(&site, t);
                    dark += i32::from(sun.elevation_deg < 0.0);
                    if night.covers(t) {
                        covered += 1;
                        assert!(sun.elevation_deg <= 0.0, "{lat} {t}: {}", sun.elevation_deg);
                    } else if minute % 30 == 0 {
                        night.saw(t, &sun);
                    }
                }
            }
        }
        // And it does skip: over half of the night's minutes.
        assert!(2 * covered > dark, "{covered} of {dark}");
    }

    #[test]
    fn the_clear_sky_energy_matches_fine_numerical_integration() {
        let o = shanxi();
        let day = NaiveDate::from_ymd_opt(2026, 3, 20).unwrap();
        let p = Sky::prepare(&[o], &[day], chrono_tz::Asia::Shanghai, 10.0).day(&o, day);
        let site = Site::new(o.latitude, o.longitude).unwrap();
        let array = PvArray::new(
            1.0,
            Plane {
                tilt_deg: 35.0,
                azimuth_deg: 180.0,
            },
        );
        let (s, e) = day_bounds(day, chrono_tz::Asia::Shanghai);
        let fine = crate::solar::energy::expected_energy_kwh(
            &site,
            &array,
            &Assumptions::default(),
            s,
            e,
            Duration::minutes(1),
        );
        assert!(
            (p.clear_kwh_per_kwp / fine - 1.0).abs() < 0.01,
            "{} vs {fine}",
            p.clear_kwh_per_kwp
        );
    }
}
