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
use crate::solar::clearsky::{Irradiance, Plane, PlaneTrig, SunTrig, plane_of_array_on};
use crate::solar::energy::Assumptions;
use crate::solar::position::{Site, sun_position};
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
                                    .map(|day| {
                                        let d = cell_day(
                                            *cell,
                                            nodes,
                                            *day,
                                            zone,
                                            daylight_elevation_deg,
                                            a,
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

/// One cell and day: the sun at every hour's start, middle and end; sun-up time by linear
/// interpolation of the elevation across the hour; clear-sky energy of each node by
/// Simpson's rule per hour (within 1 % of a one-minute integration).
fn cell_day(
    cell: Cell,
    nodes: &[Node],
    day: NaiveDate,
    zone: Tz,
    min_elev: f64,
    a: &Assumptions,
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
    let point = |t: DateTime<Utc>| -> (f64, Option<(SunTrig, Irradiance, f64)>) {
        let sun = sun_position(&site, t);
        if sun.elevation_deg <= 0.0 {
            return (sun.elevation_deg, None);
        }
        let irradiance = a.clear_sky.irradiance(&site, &sun);
        let ambient = a.climate.ambient_c(t, &sun);
        (
            sun.elevation_deg,
            Some((SunTrig::new(&sun), irradiance, ambient)),
        )
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
    let (start, end) = day_bounds(day, zone);
    let hours = (end - start).num_hours().min(30);
    let mut t0 = start;
    let (mut e0, mut p0) = point(t0);
    let (mut w0, mut w1) = (Vec::with_capacity(arrays.len()), Vec::new());
    powers(&p0, &mut w0);
    for i in 0..hours {
        let t1 = t0 + Duration::hours(1);
        let (e1, p1) = point(t1);
        let (em, pm) = point(t0 + Duration::minutes(30));
        out.sun_up_s += match (e0 > 0.0, e1 > 0.0) {
            (true, true) => 3600.0,
            (false, false) => 0.0,
            (false, true) => 3600.0 * e1 / (e1 - e0),
            (true, false) => 3600.0 * e0 / (e0 - e1),
        };
        if em > min_elev {
            out.daylight_mask |= 1 << i;
        }
        powers(&p1, &mut w1);
        if p0.is_some() || pm.is_some() || p1.is_some() {
            for (k, node) in arrays.iter().enumerate() {
                let kwh = (w0[k] + 4.0 * power(&pm, node) + w1[k]) / 6.0;
                clear[k] += kwh;
            }
        }
        (t0, e0, p0) = (t1, e1, p1);
        std::mem::swap(&mut w0, &mut w1);
    }
    out.clear = clear;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
