//! Reads what an assessment needs for one county and period with few queries: the
//! ledger, then the daily rollups of the county's devices (the period and the year
//! before it, for degradation), then the hourly irradiation of its weather sensors.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate};

use super::compute::{
    DeviceDay, InverterInput, Period, StationAssessment, StationInput, assess_with_sky,
    orientations, sky_days,
};
use super::sky::{Orientation, Sky};
use crate::config::Config;
use crate::ingest::recompute::day_bounds;
use crate::ledger::model::{AreaLevel, DeviceKind, Ledger};
use crate::store::{Store, Ts, dispatch};

/// Why an assessment could not run.
#[derive(Debug, thiserror::Error)]
pub enum AssessError {
    #[error("评估期间无效 / invalid period: {0}")]
    Period(String),
    #[error("未知的县 / unknown county {0:?}")]
    UnknownCounty(String),
    #[error(
        "台账中有 {0} 个县，请用 --county 指定 / the ledger holds {0} counties: name one with --county"
    )]
    WhichCounty(usize),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// A county's assessment over a period.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub county: String,
    pub county_name: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub peer_group: String,
    pub stations: Vec<StationAssessment>,
}

/// Checks a period: from ≤ to, at most ten years.
pub fn check_period(from: NaiveDate, to: NaiveDate) -> Result<(), AssessError> {
    if from > to {
        return Err(AssessError::Period(format!(
            "开始日期 {from} 晚于结束日期 {to} / from {from} is after to {to}"
        )));
    }
    if to - from > Duration::days(3660) {
        return Err(AssessError::Period(
            "期间超过十年 / the period is longer than ten years".into(),
        ));
    }
    Ok(())
}

/// The ancestor of `area` at `level` (itself included).
fn ancestor<'a>(
    ledger_parent: &HashMap<&'a str, (&'a str, AreaLevel, Option<&'a str>)>,
    area: &'a str,
    level: AreaLevel,
) -> Option<&'a str> {
    let mut code = area;
    for _ in 0..6 {
        let (c, l, parent) = ledger_parent.get(code)?;
        if *l == level {
            return Some(c);
        }
        code = (*parent)?;
    }
    None
}

/// Assesses the stations of `county` (the only county when None) from `from` to `to`.
pub async fn run(
    store: &Store,
    config: &Config,
    from: NaiveDate,
    to: NaiveDate,
    county: Option<&str>,
) -> Result<Report, AssessError> {
    check_period(from, to)?;
    let ledger = store.load_ledger().await?;
    let (inputs, county, county_name) =
        stations_of(&ledger, county, &config.assessment.peer_group)?;
    let mut inputs = inputs;
    let station_index: HashMap<String, usize> = inputs
        .iter()
        .enumerate()
        .map(|(i, s)| (s.code.clone(), i))
        .collect();
    let device_station: HashMap<i64, (usize, Option<usize>, DeviceKind)> = ledger
        .devices
        .iter()
        .filter_map(|d| {
            let si = *station_index.get(&d.station_code)?;
            let ii = inputs[si].inverters.iter().position(|i| i.code == d.code);
            Some((d.id, (si, ii, d.kind)))
        })
        .collect();
    let started = std::time::Instant::now();
    // The sky depends only on where the stations stand, how they face and the dates: it is
    // worked out (on its own threads) while the rollups are read. The year before the
    // period is added afterwards if the data reaches back (see `compute::sky_days`).
    let zone = config.time.zone;
    let daylight_elevation_deg = config.assessment.daylight_elevation_deg;
    let orientations = orientations(&inputs);
    let sky = {
        let orientations = orientations.clone();
        let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let sky = Sky::prepare(&orientations, &days, zone, daylight_elevation_deg);
            tracing::debug!(
                days = days.len(),
                sky_s = started.elapsed().as_secs_f64(),
                "sky prepared"
            );
            sky
        })
    };
    let mut ids: Vec<i64> = device_station
        .iter()
        .filter(|(_, (_, _, k))| *k == DeviceKind::Inverter)
        .map(|(id, _)| *id)
        .collect();
    // Sorted ids let SQLite walk its (device_id, day) key in order.
    ids.sort_unstable();
    let devices = store
        .assess_daily_by_device(&ids, from - Duration::days(366), to)
        .await?;
    let mut read = 0;
    for (device_id, rows) in devices {
        read += rows.len();
        if let Some((si, Some(ii), DeviceKind::Inverter)) = device_station.get(&device_id) {
            // Built in one go from the device's days (sorted, then bulk-loaded).
            let days: BTreeMap<NaiveDate, DeviceDay> = rows
                .into_iter()
                .map(|r| {
                    let d = DeviceDay {
                        energy_kwh: r.energy_kwh,
                        samples: r.samples,
                        irradiation_kwh_m2: r.irradiation_kwh_m2,
                        data_hours: r.data_hours,
                        producing_hours: r.producing_hours,
                    };
                    (r.day, d)
                })
                .collect();
            let into = &mut inputs[*si].inverters[*ii].days;
            if into.is_empty() {
                *into = days;
            } else {
                into.extend(days);
            }
        }
    }
    let weather: Vec<i64> = device_station
        .iter()
        .filter(|(_, (_, _, k))| *k == DeviceKind::Weather)
        .map(|(id, _)| *id)
        .collect();
    if !weather.is_empty() {
        let zone = config.time.zone;
        let (start, end) = (day_bounds(from, zone).0, day_bounds(to, zone).1);
        let hours = dispatch!(store, telemetry::hourly(&weather, Ts(start), Ts(end)))?;
        for h in hours {
            if let (Some((si, _, _)), Some(kwh_m2)) =
                (device_station.get(&h.device_id), h.irradiation_kwh_m2)
            {
                // One sensor per station is the norm; with several, their mean.
                let n = weather
                    .iter()
                    .filter(|id| device_station[id].0 == *si)
                    .count() as f64;
                *inputs[*si].irradiation_hours.entry(h.hour.0).or_default() += kwh_m2 / n;
            }
        }
    }
    let read_s = started.elapsed().as_secs_f64();
    let period = Period {
        from,
        to,
        zone,
        expected_interval_s: config.ingest.expected_interval_s,
    };
    let mut sky = sky.await.expect("the sky task panicked");
    let sky_wait_s = started.elapsed().as_secs_f64() - read_s;
    let earlier: Vec<NaiveDate> = sky_days(&inputs, &period)
        .into_iter()
        .take_while(|d| *d < from)
        .collect();
    if !earlier.is_empty() {
        sky.merge(Sky::prepare(
            &orientations,
            &earlier,
            zone,
            daylight_elevation_deg,
        ));
    }
    let stations = assess_with_sky(&inputs, &period, &config.assessment, &sky);
    tracing::info!(
        county,
        stations = stations.len(),
        device_days = read,
        read_s,
        sky_wait_s,
        total_s = started.elapsed().as_secs_f64(),
        "assessed"
    );
    Ok(Report {
        county,
        county_name,
        from,
        to,
        peer_group: config.assessment.peer_group.clone(),
        stations,
    })
}

/// The county's stations as inputs (without data yet), its code and name.
fn stations_of(
    ledger: &Ledger,
    county: Option<&str>,
    peer_group: &str,
) -> Result<(Vec<StationInput>, String, String), AssessError> {
    let areas: HashMap<&str, (&str, AreaLevel, Option<&str>)> = ledger
        .areas
        .iter()
        .map(|a| {
            (
                a.code.as_str(),
                (a.code.as_str(), a.level, a.parent_code.as_deref()),
            )
        })
        .collect();
    let counties: Vec<_> = ledger
        .areas
        .iter()
        .filter(|a| a.level == AreaLevel::County)
        .collect();
    let county = match county {
        Some(c) => counties
            .iter()
            .find(|a| a.code == c)
            .ok_or_else(|| AssessError::UnknownCounty(c.to_owned()))?,
        None => match counties.as_slice() {
            [only] => only,
            _ => return Err(AssessError::WhichCounty(counties.len())),
        },
    };
    let group_level = if peer_group == "township" {
        AreaLevel::Township
    } else {
        AreaLevel::County
    };
    let mut devices: HashMap<&str, Vec<&crate::ledger::model::Device>> = HashMap::new();
    for d in &ledger.devices {
        devices.entry(d.station_code.as_str()).or_default().push(d);
    }
    let inputs = ledger
        .stations
        .iter()
        .filter(|s| ancestor(&areas, &s.area_code, AreaLevel::County) == Some(county.code.as_str()))
        .map(|s| {
            let dc: f64 = s.dc_capacity_kwp.0.try_into().unwrap_or(0.0);
            let ac: Option<f64> = s.ac_capacity_kw.and_then(|a| a.0.try_into().ok());
            let own = devices
                .get(s.code.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default();
            StationInput {
                code: s.code.clone(),
                name: s.name.clone(),
                area_code: s.area_code.clone(),
                // A station outside any township is compared with its county.
                group: ancestor(&areas, &s.area_code, group_level)
                    .unwrap_or(county.code.as_str())
                    .to_owned(),
                dc_kwp: dc,
                orientation: s.latitude.zip(s.longitude).map(|(lat, lon)| Orientation {
                    latitude: lat,
                    longitude: lon,
                    // The ledger's usual design when the record is silent: 30°, due south.
                    tilt_deg: s.tilt_deg.unwrap_or(30.0),
                    azimuth_deg: s.azimuth_deg.unwrap_or(180.0),
                    ac_per_dc: ac.filter(|_| dc > 0.0).map_or(1.0, |ac| ac / dc),
                }),
                inverters: own
                    .iter()
                    .filter(|d| d.kind == DeviceKind::Inverter)
                    .map(|d| InverterInput {
                        code: d.code.clone(),
                        dc_kwp: d.dc_kwp.and_then(|k| k.0.try_into().ok()),
                        days: BTreeMap::new(),
                    })
                    .collect(),
                irradiation_hours: BTreeMap::new(),
            }
        })
        .collect();
    Ok((inputs, county.code.clone(), county.name.clone()))
}
