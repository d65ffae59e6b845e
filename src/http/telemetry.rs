//! Telemetry endpoints: a device's latest reading, a station's power curve and energy.

use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
use super::sized_json::SizedJson;
use crate::auth::Permission;
use crate::auth::accounts::Caller;
use crate::ingest::recompute::{day_bounds, day_start};
use crate::ledger::model::{Device, DeviceKind, Station};
use crate::series::{self, EnergyPoint, Interval, PowerPoint};
use crate::store::telemetry::ReadingRow;
use crate::store::{Ts, Versions, dispatch};

/// `from`/`to`: a local date (YYYY-MM-DD) or an RFC 3339 instant.
#[derive(Debug, Deserialize)]
pub struct Range {
    pub from: Option<String>,
    pub to: Option<String>,
    pub interval: Option<Interval>,
}

/// Parses a bound: a date means its local midnight (for `to`, the end of that day).
fn bound(state: &AppState, name: &str, v: &str, end: bool) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
        ApiError::bad_request(format!(
            "{name}={v:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 instant"
        ))
    })?;
    let (start, next) = day_bounds(day, state.config.time.zone);
    Ok(if end { next } else { start })
}

fn range(
    state: &AppState,
    r: &Range,
    default_days: i64,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let today = state.today();
    let to = match &r.to {
        Some(v) => bound(state, "to", v, true)?,
        None => day_bounds(today, state.config.time.zone).1,
    };
    let from = match &r.from {
        Some(v) => bound(state, "from", v, false)?,
        None => {
            day_bounds(
                today - chrono::Duration::days(default_days - 1),
                state.config.time.zone,
            )
            .0
        }
    };
    if from >= to {
        return Err(ApiError::bad_request("from must be before to"));
    }
    if to - from > chrono::Duration::days(3660) {
        return Err(ApiError::bad_request("the range is longer than ten years"));
    }
    Ok((from, to))
}

/// The station (404 when unknown) and its devices.
async fn station_and_devices(
    state: &AppState,
    versions: Versions,
    code: &str,
) -> Result<(Station, Vec<Device>), ApiError> {
    let ledger = state.ledger.at(&state.store, versions.ledger).await?;
    let station = ledger
        .station(code)
        .cloned()
        .ok_or_else(|| ApiError::not_found("station", code))?;
    Ok((station, ledger.devices_of(code).to_vec()))
}

#[derive(Serialize)]
pub struct PowerSeries {
    pub station: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub step_seconds: i64,
    pub points: Vec<PowerPoint>,
}

/// A station's AC power (sum of its inverters); default today, downsampled for long ranges.
#[tracing::instrument(skip(state))]
pub async fn power(
    caller: Caller,
    versions: Versions,
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(r): Query<Range>,
) -> Result<Json<PowerSeries>, ApiError> {
    caller.require(Permission::ViewTelemetry)?;
    let (from, to) = range(&state, &r, 1)?;
    let inverters: Vec<i64> = station_and_devices(&state, versions, &code)
        .await?
        .1
        .iter()
        .filter(|d| d.kind == DeviceKind::Inverter)
        .map(|d| d.id)
        .collect();
    let rows = dispatch!(
        &state.store,
        telemetry::readings(&inverters, Ts(from), Ts(to))
    )?;
    let samples: Vec<(i64, DateTime<Utc>, f64)> = rows
        .iter()
        .filter_map(|r| Some((r.device_id, r.ts.0, r.ac_power_w?)))
        .collect();
    let step = series::step_for(from, to);
    Ok(Json(PowerSeries {
        station: code,
        from,
        to,
        step_seconds: step.num_seconds(),
        points: series::station_power(&samples, from, step),
    }))
}

#[derive(Serialize)]
pub struct EnergySeries {
    pub station: String,
    pub interval: Interval,
    pub points: Vec<EnergyPoint>,
}

/// A station's energy per hour, local day or local month; default the last 30 days by day.
#[tracing::instrument(skip(state))]
pub async fn energy(
    caller: Caller,
    versions: Versions,
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(r): Query<Range>,
) -> Result<SizedJson<EnergySeries>, ApiError> {
    caller.require(Permission::ViewTelemetry)?;
    let interval = r.interval.unwrap_or(Interval::Day);
    let (from, to) = range(&state, &r, if interval == Interval::Hour { 1 } else { 30 })?;
    // Borrowed from the ledger's snapshot: a year of energy is asked for all day long.
    let ledger = state.ledger.at(&state.store, versions.ledger).await?;
    let station = ledger
        .station(&code)
        .ok_or_else(|| ApiError::not_found("station", &code))?;
    let counted: Vec<&Device> = ledger
        .devices_of(&code)
        .iter()
        .filter(|d| d.kind != DeviceKind::Weather)
        .collect();
    let ids: Vec<i64> = counted.iter().map(|d| d.id).collect();
    let is_meter = |id: i64| {
        counted
            .iter()
            .any(|d| d.id == id && d.kind == DeviceKind::Meter)
    };
    // Completeness: inverter readings expected while the sun is up at the station.
    let site = station.site();
    let inverters = counted
        .iter()
        .filter(|d| d.kind == DeviceKind::Inverter)
        .count() as f64;
    let every = state.config.ingest.expected_interval_s;
    let mut daylight = site.as_ref().map(|s| series::Daylight::new(s, every));
    let mut expected = |start, end| {
        daylight
            .as_mut()
            .map_or(0.0, |d| d.expected_samples(start, end) * inverters)
    };
    let zone = state.config.time.zone;
    let points = match interval {
        Interval::Hour => {
            let rows = dispatch!(&state.store, telemetry::hourly(&ids, Ts(from), Ts(to)))?;
            series::by_hour(
                &rows
                    .iter()
                    .map(|r| (r.hour.0, is_meter(r.device_id), r.energy_kwh, r.samples))
                    .collect::<Vec<_>>(),
                |h| expected(h, h + chrono::Duration::hours(1)),
            )
        }
        Interval::Day | Interval::Month => {
            let first = from.with_timezone(&zone).date_naive();
            let last = (to - chrono::Duration::milliseconds(1))
                .with_timezone(&zone)
                .date_naive();
            let rows = dispatch!(&state.store, telemetry::daily_packed(&ids, first, last))?;
            let mut next_start = None;
            series::by_day_or_month(
                &rows
                    .iter()
                    .map(|r| (r.day, is_meter(r.device_id), r.energy_kwh, r.samples))
                    .collect::<Vec<_>>(),
                interval == Interval::Month,
                |day| {
                    // Days come in order: a day starts where the one before ended, so the
                    // zone is asked once per day, not twice (chrono-tz was 6 % of a year).
                    let start = match next_start {
                        Some((next, at)) if next == day => at,
                        _ => day_start(day, zone),
                    };
                    let next = day.succ_opt().unwrap_or(day);
                    let end = day_start(next, zone);
                    next_start = Some((next, end));
                    expected(start, end)
                },
            )
        }
    };
    // About 85 bytes a point.
    let capacity = 128 + 96 * points.len();
    Ok(SizedJson {
        value: EnergySeries {
            station: code,
            interval,
            points,
        },
        capacity,
    })
}

/// The newest reading of a device.
#[tracing::instrument(skip(state))]
pub async fn latest(
    caller: Caller,
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<ReadingRow>, ApiError> {
    caller.require(Permission::ViewTelemetry)?;
    let device = dispatch!(&state.store, ledger::get_device(&code))?
        .ok_or_else(|| ApiError::not_found("device", &code))?;
    let row =
        dispatch!(&state.store, telemetry::latest_of(device.id))?.ok_or_else(|| ApiError {
            status: axum::http::StatusCode::NOT_FOUND,
            code: "no_data",
            message: format!("device {code} has sent no readings yet"),
        })?;
    Ok(Json(row))
}
