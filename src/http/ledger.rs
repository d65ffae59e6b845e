//! Read-only ledger endpoints: areas, villages, stations, devices.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
use crate::auth::Permission;
use crate::auth::accounts::Caller;
use std::collections::HashMap;

use crate::health::{self, Health};
use crate::ledger::model::{
    Area, AreaLevel, Device, DeviceKind, Share, Station, StationKind, Tariff, in_force,
};
use crate::ledger::snapshot::Snapshot;
use crate::store::telemetry::LastReading;
use crate::store::{Ts, Versions, dispatch};

/// `?area=CODE`: only what lies in that county, township or village.
#[derive(Debug, Deserialize)]
pub struct AreaFilter {
    pub area: Option<String>,
}

#[derive(Serialize)]
pub struct Areas {
    pub areas: Vec<Area>,
}

#[derive(Serialize)]
pub struct Villages {
    pub villages: Vec<Area>,
}

#[derive(Serialize)]
pub struct Stations {
    /// Stations matching the filters, on every page.
    pub total: i64,
    /// Stations skipped before this page.
    pub offset: i64,
    /// The page size asked for; null when every matching station is listed.
    pub limit: Option<i64>,
    pub stations: Vec<StationWithHealth>,
}

/// A station with its live health fields.
#[derive(Serialize)]
pub struct StationWithHealth {
    #[serde(flatten)]
    pub station: Station,
    pub health: Health,
}

/// A station with everything the ledger knows about it.
#[derive(Serialize)]
pub struct StationDetail {
    pub station: Station,
    /// The tariff in force today (local time), if any.
    pub tariff: Option<Tariff>,
    /// The share set in force today.
    pub shares: Vec<Share>,
    pub tariff_history: Vec<Tariff>,
    pub share_history: Vec<Share>,
    pub devices: Vec<Device>,
    /// The gateways its devices report through, with their latest status.
    pub gateways: Vec<super::gateway::GatewayView>,
}

#[tracing::instrument(skip(state))]
pub async fn areas(
    caller: Caller,
    State(state): State<AppState>,
    Query(f): Query<AreaFilter>,
) -> Result<Json<Areas>, ApiError> {
    caller.require(Permission::ViewLedger)?;
    caller.refuse_village()?;
    let areas = dispatch!(&state.store, ledger::list_areas(f.area.as_deref()))?;
    if let Some(root) = &f.area
        && areas.is_empty()
    {
        return Err(ApiError::not_found("area", root));
    }
    Ok(Json(Areas { areas }))
}

#[tracing::instrument(skip(state))]
pub async fn villages(
    caller: Caller,
    State(state): State<AppState>,
    Query(f): Query<AreaFilter>,
) -> Result<Json<Villages>, ApiError> {
    caller.require(Permission::ViewLedger)?;
    caller.refuse_village()?;
    let Json(Areas { areas }) = areas(caller, State(state), Query(f)).await?;
    Ok(Json(Villages {
        villages: areas
            .into_iter()
            .filter(|a| a.level == AreaLevel::Village)
            .collect(),
    }))
}

/// Most stations one page of `GET /api/v1/stations` may hold.
pub const MAX_PAGE: i64 = 1_000;

/// `GET /api/v1/stations` query: the area and kind filters and the page.
#[derive(Debug, Deserialize)]
pub struct StationQuery {
    pub area: Option<String>,
    pub kind: Option<String>,
    /// Text, not a number, so that a refusal names the parameter (axum's own is plain text).
    pub limit: Option<String>,
    pub offset: Option<String>,
}

/// The page asked for: `limit` None means every matching station (the answer before
/// pagination existed, which existing callers rely on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: Option<i64>,
    pub offset: i64,
}

impl Page {
    /// Parses `limit` (1..=[`MAX_PAGE`]) and `offset` (0 or more), naming the bad one.
    pub fn parse(limit: Option<&str>, offset: Option<&str>) -> Result<Self, ApiError> {
        let limit = match limit {
            None => None,
            Some(v) => match v.trim().parse::<i64>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => Some(n),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "limit={v:?} must be a whole number from 1 to {MAX_PAGE} \
                         (leave it out for every station)"
                    )));
                }
            },
        };
        let offset = match offset {
            None => 0,
            Some(v) => match v.trim().parse::<i64>() {
                Ok(n) if n >= 0 => n,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "offset={v:?} must be a whole number, 0 or more"
                    )));
                }
            },
        };
        Ok(Page { limit, offset })
    }
}

#[tracing::instrument(skip(state))]
pub async fn stations(
    caller: Caller,
    versions: Versions,
    State(state): State<AppState>,
    Query(q): Query<StationQuery>,
) -> Result<Json<Stations>, ApiError> {
    caller.require(Permission::ViewLedger)?;
    caller.refuse_village()?;
    let kind = match q.kind.as_deref() {
        None => None,
        Some(k) => Some(StationKind::parse(k).ok_or_else(|| {
            ApiError::bad_request(format!(
                "kind {k:?} is not one of: {}",
                StationKind::expected()
            ))
        })?),
    };
    let page = Page::parse(q.limit.as_deref(), q.offset.as_deref())?;
    let ledger = state.ledger.at(&state.store, versions.ledger).await?;
    if let Some(root) = &q.area
        && ledger.area(root).is_none()
    {
        return Err(ApiError::not_found("area", root));
    }
    let (total, stations) = ledger.page(q.area.as_deref(), kind, page.limit, page.offset);
    Ok(Json(Stations {
        total,
        offset: page.offset,
        limit: page.limit,
        stations: with_health(&state, &ledger, stations).await?,
    }))
}

/// Above this many stations, [`with_health`] reads whole tables instead of looking up each
/// device: on the province benchmark (6,000 stations) the per-device lookups made the
/// unpaginated list 2.4x slower on SQLite (docs/BENCHMARKS.md, "Queries under 50 clients").
const LOOKUP_AT_MOST: usize = MAX_PAGE as usize;

/// Adds health fields to `stations`: their devices' newest readings of the last two days,
/// today's energy, and the sun's position at each station. The devices come from `ledger`.
/// Up to [`LOOKUP_AT_MOST`] stations (any page), it reads only what concerns them, in one
/// statement: each device's newest reading and today's daily row (index lookups per
/// device). More than that (the whole county, the overview page), whole-table reads are
/// cheaper.
pub(crate) async fn with_health(
    state: &AppState,
    ledger: &Snapshot,
    stations: Vec<Station>,
) -> Result<Vec<StationWithHealth>, ApiError> {
    let now = chrono::Utc::now();
    let since = Ts(now - chrono::Duration::days(2));
    let devices: Vec<&Device> = stations
        .iter()
        .flat_map(|s| ledger.devices_of(&s.code))
        .collect();
    let (latest, today) = if stations.len() <= LOOKUP_AT_MOST {
        let ids: Vec<i64> = devices.iter().map(|d| d.id).collect();
        let now = dispatch!(
            &state.store,
            telemetry::devices_now(&ids, since, state.today())
        )?;
        let today: HashMap<i64, f64> = now
            .iter()
            .filter_map(|d| Some((d.device_id, d.today_kwh?)))
            .collect();
        let latest: HashMap<i64, LastReading> = now
            .into_iter()
            .filter_map(|d| Some((d.device_id, d.last?)))
            .collect();
        (latest, today)
    } else {
        let latest = dispatch!(&state.store, telemetry::latest_since(since))?
            .iter()
            .map(|r| (r.device_id, LastReading::from(r)))
            .collect();
        let today = dispatch!(&state.store, telemetry::daily_on(state.today()))?
            .into_iter()
            .map(|d| (d.device_id, d.energy_kwh))
            .collect();
        (latest, today)
    };
    let healths: Vec<Health> = stations
        .iter()
        .map(|station| {
            let own = ledger.devices_of(&station.code);
            let readings: Vec<(DeviceKind, Option<&LastReading>)> =
                own.iter().map(|d| (d.kind, latest.get(&d.id))).collect();
            let today_kwh = own
                .iter()
                .filter(|d| d.kind == DeviceKind::Inverter)
                .filter_map(|d| today.get(&d.id))
                .sum();
            health::classify(&readings, today_kwh, now, health::daylight(station, now))
        })
        .collect();
    Ok(stations
        .into_iter()
        .zip(healths)
        .map(|(station, health)| StationWithHealth { station, health })
        .collect())
}

#[tracing::instrument(skip(state))]
pub async fn station(
    caller: Caller,
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<StationDetail>, ApiError> {
    caller.require(Permission::ViewLedger)?;
    caller.refuse_village()?;
    let station = dispatch!(&state.store, ledger::get_station(&code))?
        .ok_or_else(|| ApiError::not_found("station", &code))?;
    let (tariff_history, share_history, devices) =
        dispatch!(&state.store, ledger::station_details(&code))?;
    let today = state.today();
    let mut codes: Vec<String> = devices
        .iter()
        .filter_map(|d| d.gateway_code.clone())
        .collect();
    codes.sort();
    codes.dedup();
    let gateways = super::gateway::views(&state.store, codes).await?;
    Ok(Json(StationDetail {
        tariff: in_force(&tariff_history, today, |t| t.valid_from)
            .into_iter()
            .next()
            .cloned(),
        shares: in_force(&share_history, today, |s| s.valid_from)
            .into_iter()
            .cloned()
            .collect(),
        station,
        tariff_history,
        share_history,
        devices,
        gateways,
    }))
}

#[tracing::instrument(skip(state))]
pub async fn device(
    caller: Caller,
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<Device>, ApiError> {
    caller.require(Permission::ViewLedger)?;
    caller.refuse_village()?;
    let device = dispatch!(&state.store, ledger::get_device(&code))?
        .ok_or_else(|| ApiError::not_found("device", &code))?;
    Ok(Json(device))
}
