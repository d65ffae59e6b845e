//! A station's health at a glance, pure: producing, night standby, standby, offline or
//! fault, from its devices' latest readings and whether the sun is up where it stands.
//! Night is never an outage: grid-tied inverters sleep after sunset.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::ledger::model::{DeviceKind, Station};
use crate::solar::position::{Site, is_daylight};
use crate::store::telemetry::LastReading;

/// A device that has not reported for this long is silent.
pub const SILENT_AFTER: Duration = Duration::minutes(15);

/// The sun must be this high for a station to be expected to produce (degrees).
pub const DAYLIGHT_ELEVATION_DEG: f64 = 0.0;

/// What a station is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StationState {
    /// Reporting and feeding power.
    Producing,
    /// The sun is down; silence or zero output is expected.
    NightStandby,
    /// Reporting in daylight but producing nothing (starting, throttled to zero, or faulty
    /// without saying so).
    Standby,
    /// No device has reported recently although the sun is up.
    Offline,
    /// An inverter reports a fault.
    Fault,
}

impl StationState {
    /// The Chinese label shown to users.
    pub fn zh(self) -> &'static str {
        match self {
            StationState::Producing => "发电中",
            StationState::NightStandby => "夜间待机",
            StationState::Standby => "待机",
            StationState::Offline => "离线",
            StationState::Fault => "故障",
        }
    }
}

/// Health fields of a station.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    pub last_seen: Option<DateTime<Utc>>,
    /// Current AC power of the inverters that reported recently, W.
    pub power_w: Option<f64>,
    /// Inverter energy today (local day), kWh.
    pub today_kwh: f64,
    pub state: StationState,
}

/// Is the sun up at the station? Without coordinates, assume day (never hide an outage).
pub fn daylight(station: &Station, now: DateTime<Utc>) -> bool {
    match (station.latitude, station.longitude) {
        (Some(lat), Some(lon)) => {
            Site::new(lat, lon).map_or(true, |site| is_daylight(now, &site, DAYLIGHT_ELEVATION_DEG))
        }
        _ => true,
    }
}

/// Classifies a station from each device's kind and latest reading.
pub fn classify(
    latest: &[(DeviceKind, Option<&LastReading>)],
    today_kwh: f64,
    now: DateTime<Utc>,
    daylight: bool,
) -> Health {
    let last_seen = latest.iter().filter_map(|(_, r)| r.map(|r| r.ts.0)).max();
    let recent: Vec<&LastReading> = latest
        .iter()
        .filter(|(k, _)| *k == DeviceKind::Inverter)
        .filter_map(|(_, r)| *r)
        .filter(|r| now - r.ts.0 <= SILENT_AFTER)
        .collect();
    let power_w =
        (!recent.is_empty()).then(|| recent.iter().filter_map(|r| r.ac_power_w).sum::<f64>() + 0.0);
    let faulty = recent.iter().any(|r| r.status.as_deref() == Some("fault"));
    let heard = last_seen.is_some_and(|t| now - t <= SILENT_AFTER);
    let state = if faulty {
        StationState::Fault
    } else if !daylight {
        StationState::NightStandby
    } else if !heard {
        StationState::Offline
    } else if power_w.is_some_and(|p| p > 0.0) {
        StationState::Producing
    } else {
        StationState::Standby
    };
    Health {
        last_seen,
        power_w,
        today_kwh,
        state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Ts;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-01T04:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn row(ago_min: i64, power: f64, status: &str) -> LastReading {
        LastReading {
            ts: Ts(now() - Duration::minutes(ago_min)),
            ac_power_w: Some(power),
            status: Some(status.into()),
        }
    }

    #[test]
    fn recent_output_is_producing_and_sums_the_inverters() {
        let (a, b) = (row(1, 30_000.0, "running"), row(2, 20_000.0, "running"));
        let h = classify(
            &[
                (DeviceKind::Inverter, Some(&a)),
                (DeviceKind::Inverter, Some(&b)),
            ],
            120.0,
            now(),
            true,
        );
        assert_eq!(h.state, StationState::Producing);
        assert_eq!(h.power_w, Some(50_000.0));
    }

    #[test]
    fn silence_at_night_is_standby_but_in_daylight_is_offline() {
        let old = row(180, 0.0, "standby");
        let devices = [(DeviceKind::Inverter, Some(&old))];
        assert_eq!(
            classify(&devices, 0.0, now(), false).state,
            StationState::NightStandby
        );
        assert_eq!(
            classify(&devices, 0.0, now(), true).state,
            StationState::Offline
        );
        assert_eq!(
            classify(&[(DeviceKind::Inverter, None)], 0.0, now(), true).state,
            StationState::Offline
        );
    }

    #[test]
    fn a_fault_outranks_everything() {
        let (a, b) = (row(1, 30_000.0, "running"), row(1, 0.0, "fault"));
        let h = classify(
            &[
                (DeviceKind::Inverter, Some(&a)),
                (DeviceKind::Inverter, Some(&b)),
            ],
            0.0,
            now(),
            false,
        );
        assert_eq!(h.state, StationState::Fault);
    }

    #[test]
    fn taiyuan_at_noon_is_daylight_and_at_midnight_is_not() {
        use crate::ledger::model::{Station, StationKind};
        let mut s = Station {
            latitude: Some(37.87),
            longitude: Some(112.55),
            ..Station::new("S", "S", StationKind::Village, "A", Default::default())
        };
        assert!(daylight(&s, now()));
        assert!(!daylight(&s, now() + Duration::hours(12)));
        s.latitude = None;
        assert!(
            daylight(&s, now() + Duration::hours(12)),
            "without coordinates, assume day"
        );
    }
}
