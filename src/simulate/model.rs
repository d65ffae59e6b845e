//! The simulated county, pure: each station's output follows the sun at its position,
//! tilt and azimuth under seeded weather (clear, partly cloudy, overcast days) with
//! temperature derating; inverters share it by their DC capacity; meters count export;
//! weather stations report plane-of-array irradiance. Faults can be injected.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset, Utc};

use crate::ledger::model::{DeviceKind, Ledger};
use crate::reading::{DeviceReading, DeviceStatus, Reading};
use crate::solar::clearsky::{Plane, plane_of_array};
use crate::solar::energy::Assumptions;
use crate::solar::position::{Site, sun_position};
use crate::solar::pv::PvArray;
use crate::solar::simulate::cloudy_irradiance;
use crate::solar::weather::WeatherGenerator;

/// A fault to inject, by ledger code.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The inverter trips: no output, status fault, a vendor fault code.
    Trip(String),
    /// The inverter loses a share of its strings (output down by the fraction).
    LostString(String, f64),
    /// The device keeps working but its data never arrives.
    Silent(String),
    /// The inverter's lifetime counter reads 0 once, then recovers.
    Glitch(String),
    /// The whole station goes dark (its logger is down; production goes on unseen).
    Dark(String),
    /// A grid outage in a township: no production, loggers without power.
    Outage(String),
}

impl Fault {
    /// Parses `trip:DEV`, `string:DEV:0.3`, `silent:DEV`, `glitch:DEV`, `dark:STATION`,
    /// `outage:TOWNSHIP`.
    pub fn parse(spec: &str) -> Result<Fault, String> {
        let parts: Vec<&str> = spec.split(':').collect();
        let code = |i: usize| {
            parts
                .get(i)
                .filter(|s| !s.is_empty())
                .map(|s| s.to_string())
                .ok_or(format!("{spec:?}: a code is missing"))
        };
        match parts[0] {
            "trip" => Ok(Fault::Trip(code(1)?)),
            "string" => {
                let f: f64 = parts
                    .get(2)
                    .and_then(|s| s.parse().ok())
                    .filter(|f| (0.0..=1.0).contains(f))
                    .ok_or(format!("{spec:?}: expected string:DEVICE:FRACTION (0-1)"))?;
                Ok(Fault::LostString(code(1)?, f))
            }
            "silent" => Ok(Fault::Silent(code(1)?)),
            "glitch" => Ok(Fault::Glitch(code(1)?)),
            "dark" => Ok(Fault::Dark(code(1)?)),
            "outage" => Ok(Fault::Outage(code(1)?)),
            other => Err(format!(
                "{other:?} is not a fault (trip, string, silent, glitch, dark, outage)"
            )),
        }
    }
}

#[derive(Debug, Clone)]
struct SimDevice {
    code: String,
    kind: DeviceKind,
    /// Share of the station's DC capacity behind this inverter.
    dc_share: f64,
    gateway: Option<String>,
}

#[derive(Debug, Clone)]
struct SimStation {
    code: String,
    township: Option<String>,
    site: Site,
    array: PvArray,
    devices: Vec<SimDevice>,
}

/// The simulated county and its running counters.
pub struct World {
    stations: Vec<SimStation>,
    weather: WeatherGenerator,
    assumptions: Assumptions,
    faults: Vec<Fault>,
    /// Lifetime counters (inverter energy or meter export), kWh.
    counters: HashMap<String, f64>,
    /// Each device's power at the previous step, kW (for trapezoid energy).
    last_power: HashMap<String, f64>,
    last_step: Option<DateTime<Utc>>,
    glitched: HashSet<String>,
}

/// Typical lifetime yield used to give counters a plausible starting value, kWh/kWp/year.
const YIELD_KWH_PER_KWP_YEAR: f64 = 1400.0;
/// Share of inverter output that reaches the export meter (cables, transformer).
const EXPORT_EFFICIENCY: f64 = 0.985;

impl World {
    /// Builds the world from the ledger: every station with coordinates and capacity.
    pub fn from_ledger(
        ledger: &Ledger,
        seed: u64,
        faults: Vec<Fault>,
        start: DateTime<Utc>,
    ) -> World {
        let parent: HashMap<&str, Option<&str>> = ledger
            .areas
            .iter()
            .map(|a| (a.code.as_str(), a.parent_code.as_deref()))
            .collect();
        let level: HashMap<&str, crate::ledger::model::AreaLevel> = ledger
            .areas
            .iter()
            .map(|a| (a.code.as_str(), a.level))
            .collect();
        let township_of = |start: &str| {
            let mut code = start.to_owned();
            for _ in 0..4 {
                if level.get(code.as_str()) == Some(&crate::ledger::model::AreaLevel::Township) {
                    return Some(code);
                }
                code = parent.get(code.as_str()).copied().flatten()?.to_owned();
            }
            None
        };
        let mut counters = HashMap::new();
        let mut stations = Vec::new();
        for s in &ledger.stations {
            let (Some(lat), Some(lon)) = (s.latitude, s.longitude) else {
                continue;
            };
            let Ok(site) = Site::new(lat, lon) else {
                continue;
            };
            let dc: f64 = s.dc_capacity_kwp.0.try_into().unwrap_or(0.0);
            let plane = Plane {
                tilt_deg: s.tilt_deg.unwrap_or(30.0),
                azimuth_deg: s.azimuth_deg.unwrap_or(180.0),
            };
            let mut array = PvArray::new(dc, plane);
            if let Some(ac) = s.ac_capacity_kw {
                array.ac_kw = ac.0.try_into().unwrap_or(dc);
            }
            let years = s
                .grid_connection_date
                .map_or(3.0, |d| (start.date_naive() - d).num_days() as f64 / 365.25)
                .max(0.0);
            let own: Vec<_> = ledger
                .devices
                .iter()
                .filter(|d| d.station_code == s.code)
                .collect();
            let inverter_dc: f64 = own
                .iter()
                .filter_map(|d| d.dc_kwp)
                .map(|k| f64::try_from(k.0).unwrap_or(0.0))
                .sum();
            let inverters = own
                .iter()
                .filter(|d| d.kind == DeviceKind::Inverter)
                .count()
                .max(1) as f64;
            let devices = own
                .iter()
                .map(|d| {
                    let dc_share = match (d.kind, d.dc_kwp) {
                        (DeviceKind::Inverter, Some(k)) if inverter_dc > 0.0 => {
                            f64::try_from(k.0).unwrap_or(0.0) / inverter_dc
                        }
                        (DeviceKind::Inverter, _) => 1.0 / inverters,
                        _ => 0.0,
                    };
                    let lifetime = match d.kind {
                        DeviceKind::Inverter => dc * dc_share * YIELD_KWH_PER_KWP_YEAR * years,
                        DeviceKind::Meter => {
                            dc * YIELD_KWH_PER_KWP_YEAR * years * EXPORT_EFFICIENCY
                        }
                        DeviceKind::Weather => 0.0,
                    };
                    counters.insert(d.code.clone(), (lifetime * 10.0).round() / 10.0 + 1.0);
                    SimDevice {
                        code: d.code.clone(),
                        kind: d.kind,
                        dc_share,
                        gateway: d.gateway_code.clone(),
                    }
                })
                .collect();
            stations.push(SimStation {
                code: s.code.clone(),
                township: township_of(&s.area_code),
                site,
                array,
                devices,
            });
        }
        let china = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is valid");
        World {
            stations,
            weather: WeatherGenerator::new(seed, china),
            assumptions: Assumptions::default(),
            faults,
            counters,
            last_power: HashMap::new(),
            last_step: None,
            glitched: HashSet::new(),
        }
    }

    /// Replaces the injected faults from the next step on (a fault appears or is repaired
    /// while counters keep running).
    pub fn set_faults(&mut self, faults: Vec<Fault>) {
        self.faults = faults;
    }

    /// The gateway of each simulated device.
    pub fn gateways(&self) -> HashMap<String, String> {
        self.stations
            .iter()
            .flat_map(|s| &s.devices)
            .filter_map(|d| Some((d.code.clone(), d.gateway.clone()?)))
            .collect()
    }

    /// Advances to `t` and returns what each reporting device reads then.
    pub fn step(&mut self, t: DateTime<Utc>) -> Vec<DeviceReading> {
        let hours = self.last_step.map_or(0.0, |l| {
            ((t - l).num_milliseconds() as f64 / 3_600_000.0).max(0.0)
        });
        self.last_step = Some(t);
        let mut out = Vec::new();
        for s in self.stations.clone() {
            let outage = s
                .township
                .as_ref()
                .is_some_and(|tw| self.faults.contains(&Fault::Outage(tw.clone())));
            let dark = outage || self.faults.contains(&Fault::Dark(s.code.clone()));
            let sun = sun_position(&s.site, t);
            let kc = self.weather.clear_sky_index(t);
            let clear = self.assumptions.clear_sky.irradiance(&s.site, &sun);
            let irradiance = if sun.elevation_deg > 0.0 {
                cloudy_irradiance(&clear, &sun, kc)
            } else {
                Default::default()
            };
            let poa = if sun.elevation_deg > 0.0 {
                plane_of_array(&sun, &irradiance, &s.array.plane, s.array.albedo).total()
            } else {
                0.0
            };
            let ambient = self.assumptions.climate.ambient_c(t, &sun);
            let station_kw = if outage || sun.elevation_deg <= 0.0 {
                0.0
            } else {
                s.array
                    .ac_power_from_irradiance_kw(&sun, &irradiance, ambient)
            };
            let mut exported_kwh = 0.0;
            let mut inverter_kw = 0.0;
            for d in s.devices.iter().filter(|d| d.kind == DeviceKind::Inverter) {
                let tripped = self.faults.contains(&Fault::Trip(d.code.clone()));
                let lost = self.faults.iter().find_map(|f| match f {
                    Fault::LostString(c, x) if *c == d.code => Some(*x),
                    _ => None,
                });
                let kw = if tripped {
                    0.0
                } else {
                    station_kw * d.dc_share * (1.0 - lost.unwrap_or(0.0))
                };
                let prev = self.last_power.insert(d.code.clone(), kw).unwrap_or(kw);
                let kwh = (prev + kw) / 2.0 * hours;
                *self.counters.entry(d.code.clone()).or_default() += kwh;
                exported_kwh += kwh * EXPORT_EFFICIENCY;
                inverter_kw += kw;
                // Inverters sleep at night: no data until the sun is up again.
                if dark
                    || sun.elevation_deg < -2.0
                    || self.faults.contains(&Fault::Silent(d.code.clone()))
                {
                    continue;
                }
                let glitch = self.faults.contains(&Fault::Glitch(d.code.clone()))
                    && self.glitched.insert(d.code.clone());
                let status = match () {
                    _ if tripped => DeviceStatus::Fault,
                    _ if kw > 0.0 => DeviceStatus::Running,
                    _ => DeviceStatus::Standby,
                };
                out.push(DeviceReading {
                    device_code: d.code.clone(),
                    ts: t,
                    reading: Reading {
                        ac_power_w: Some(round1(kw * 1000.0)),
                        dc_power_w: Some(round1(kw * 1000.0 / 0.98)),
                        energy_total_kwh: Some(if glitch {
                            0.0
                        } else {
                            round2(self.counters[&d.code])
                        }),
                        grid_voltage_v: (kw > 0.0).then_some(230.0 + (kw % 3.0)),
                        frequency_hz: (kw > 0.0).then_some(50.0),
                        temperature_c: Some(round1(
                            ambient + kw / d.dc_share.max(0.01) / s.array.dc_kwp.max(1.0) * 20.0,
                        )),
                        status: Some(status),
                        fault_code: tripped.then(|| "2001".to_owned()),
                        ..Default::default()
                    },
                });
            }
            for d in s.devices.iter().filter(|d| d.kind != DeviceKind::Inverter) {
                if d.kind == DeviceKind::Meter {
                    *self.counters.entry(d.code.clone()).or_default() += exported_kwh;
                }
                if dark || self.faults.contains(&Fault::Silent(d.code.clone())) {
                    continue;
                }
                let reading = match d.kind {
                    DeviceKind::Meter => Reading {
                        export_energy_kwh: Some(round2(self.counters[&d.code])),
                        ac_power_w: Some(round1(inverter_kw * 1000.0 * EXPORT_EFFICIENCY)),
                        ..Default::default()
                    },
                    _ => Reading {
                        irradiance_poa_wm2: Some(round1(poa)),
                        module_temp_c: Some(round1(
                            s.array.cell_temperature.cell_temperature_c(ambient, poa),
                        )),
                        ambient_temp_c: Some(round1(ambient)),
                        ..Default::default()
                    },
                };
                out.push(DeviceReading {
                    device_code: d.code.clone(),
                    ts: t,
                    reading,
                });
            }
        }
        out
    }
}

/// Rounds to one decimal; `+ 0.0` turns -0.0 into 0.0.
fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0 + 0.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn county() -> Ledger {
        // The example county, parsed the way an import does, without a database.
        let mut batch = crate::ledger::parse::Batch::default();
        let mut errors = Vec::new();
        for (name, bytes) in crate::demo::example_county() {
            let (text, _) = crate::ledger::encoding::decode(&bytes).unwrap();
            crate::ledger::parse::parse_file(name, &text, &mut batch, &mut errors);
        }
        assert!(errors.is_empty(), "{errors:?}");
        let mut ledger = Ledger {
            areas: batch.areas.into_iter().map(|r| r.value).collect(),
            stations: batch.stations.into_iter().map(|r| r.value).collect(),
            devices: batch.devices.into_iter().map(|r| r.value).collect(),
            ..Default::default()
        };
        ledger.devices.iter_mut().for_each(|d| d.id = 1);
        ledger
    }

    fn noon() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-10T04:30:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn stations_produce_by_day_and_sleep_at_night() {
        let mut w = World::from_ledger(&county(), 7, vec![], noon());
        let day = w.step(noon());
        assert!(
            day.iter()
                .any(|r| r.reading.ac_power_w.is_some_and(|p| p > 1000.0))
        );
        let night = w.step(noon() + Duration::hours(12));
        assert!(
            night.iter().all(|r| r.reading.energy_total_kwh.is_none()),
            "inverters are silent at night"
        );
        assert!(
            night.iter().any(|r| r.reading.export_energy_kwh.is_some()),
            "meters report around the clock"
        );
    }

    #[test]
    fn counters_grow_by_the_energy_produced_and_a_tripped_inverter_stops() {
        let inv = "INV-PV149901101201-01-1";
        let mut w = World::from_ledger(
            &county(),
            7,
            vec![Fault::Trip("INV-PV149901101201-01-2".into())],
            noon(),
        );
        let first = w.step(noon());
        let later = w.step(noon() + Duration::minutes(10));
        let counter = |rs: &[DeviceReading], c: &str| {
            rs.iter()
                .find(|r| r.device_code == c)
                .and_then(|r| r.reading.energy_total_kwh)
                .unwrap()
        };
        let power = |rs: &[DeviceReading], c: &str| {
            rs.iter()
                .find(|r| r.device_code == c)
                .and_then(|r| r.reading.ac_power_w)
                .unwrap()
        };
        let delta = counter(&later, inv) - counter(&first, inv);
        let expected = (power(&first, inv) + power(&later, inv)) / 2.0 / 1000.0 / 6.0;
        assert!((delta - expected).abs() < 0.02, "{delta} vs {expected}");
        let tripped = later
            .iter()
            .find(|r| r.device_code == "INV-PV149901101201-01-2")
            .unwrap();
        assert_eq!(tripped.reading.status, Some(DeviceStatus::Fault));
        assert_eq!(tripped.reading.ac_power_w, Some(0.0));
    }

    #[test]
    fn a_township_outage_silences_its_stations_only() {
        let mut w = World::from_ledger(
            &county(),
            7,
            vec![Fault::Outage("149901101".into())],
            noon(),
        );
        let rs = w.step(noon());
        assert!(!rs.iter().any(|r| r.device_code.contains("PV149901101")));
        assert!(rs.iter().any(|r| r.device_code.contains("PV149901102")));
    }

    #[test]
    fn a_glitch_reads_zero_once() {
        let inv = "INV-PV149901101201-01-1";
        let mut w = World::from_ledger(&county(), 7, vec![Fault::Glitch(inv.into())], noon());
        let c = |rs: Vec<DeviceReading>| {
            rs.into_iter()
                .find(|r| r.device_code == inv)
                .unwrap()
                .reading
                .energy_total_kwh
                .unwrap()
        };
        assert_eq!(c(w.step(noon())), 0.0);
        assert!(c(w.step(noon() + Duration::minutes(1))) > 1000.0);
    }

    #[test]
    fn faults_parse_from_their_command_line_form() {
        assert_eq!(
            Fault::parse("string:INV-1:0.3"),
            Ok(Fault::LostString("INV-1".into(), 0.3))
        );
        assert!(Fault::parse("string:INV-1:3").is_err());
        assert!(Fault::parse("melt:INV-1").is_err());
    }
}
