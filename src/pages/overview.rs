//! The county overview: power now, energy today / this month / this year, stations by
//! state, a map of the stations by position coloured by health, the worst performers
//! (by the 30-day assessment's grade and peer ratio).

use std::collections::HashMap;

use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use chrono::Datelike;

use super::html::{esc, num, path_segment};
use super::{Ctx, PageResult};
use crate::auth::Permission;
use crate::health::StationState;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::ledger::{StationWithHealth, with_health};
use crate::ledger::model::DeviceKind;
use crate::store::dispatch;

/// The key of a state in the catalogue and the CSS class of its colour.
pub fn state_key(s: StationState) -> &'static str {
    match s {
        StationState::Producing => "producing",
        StationState::NightStandby => "night_standby",
        StationState::Standby => "standby",
        StationState::Offline => "offline",
        StationState::Fault => "fault",
    }
}

fn state_label(ctx: &Ctx, s: StationState) -> &'static str {
    ctx.t(&format!("state.{}", state_key(s)))
}

/// Energy per station: (today, month, year, last 30 days), kWh, from inverter daily rows.
type Sums = HashMap<String, [f64; 4]>;

async fn energy_sums(state: &AppState) -> Result<Sums, ApiError> {
    let today = state.today();
    let year_start = today.with_ordinal(1).expect("day 1 exists");
    let from = year_start.min(today - chrono::Duration::days(29));
    let devices = dispatch!(&state.store, ledger::list_devices())?;
    let inverters: HashMap<i64, &str> = devices
        .iter()
        .filter(|d| d.kind == DeviceKind::Inverter)
        .map(|d| (d.id, d.station_code.as_str()))
        .collect();
    let ids: Vec<i64> = inverters.keys().copied().collect();
    let rows = dispatch!(&state.store, telemetry::daily(&ids, from, today))?;
    let mut sums: Sums = HashMap::new();
    for r in rows {
        let Some(station) = inverters.get(&r.device_id) else {
            continue;
        };
        let s = sums.entry((*station).to_owned()).or_default();
        if r.day == today {
            s[0] += r.energy_kwh;
        }
        if r.day.year() == today.year() && r.day.month() == today.month() {
            s[1] += r.energy_kwh;
        }
        if r.day >= year_start {
            s[2] += r.energy_kwh;
        }
        if r.day > today - chrono::Duration::days(30) {
            s[3] += r.energy_kwh;
        }
    }
    Ok(sums)
}

/// kWh as kWh below 10 MWh, else MWh.
fn energy(kwh: f64) -> String {
    if kwh >= 10_000.0 {
        format!("{} MWh", num(Some(kwh / 1000.0), 1))
    } else {
        format!("{} kWh", num(Some(kwh), 1))
    }
}

fn capacity(s: &StationWithHealth) -> f64 {
    s.station
        .dc_capacity_kwp
        .0
        .to_string()
        .parse()
        .unwrap_or(0.0)
}

/// An SVG of the stations at their coordinates (equirectangular is exact enough for a county).
fn map(ctx: &Ctx, stations: &[StationWithHealth]) -> String {
    let placed: Vec<(&StationWithHealth, f64, f64)> = stations
        .iter()
        .filter_map(|s| Some((s, s.station.longitude?, s.station.latitude?)))
        .collect();
    if placed.is_empty() {
        return format!("<p>{}</p>", ctx.t("station.nodata"));
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (_, x, y) in &placed {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(*y);
        y1 = y1.max(*y);
    }
    let span = (x1 - x0).max(y1 - y0).max(0.01);
    let (w, h, pad) = (400.0, 300.0, 20.0);
    let scale = ((w - 2.0 * pad) / span).min((h - 2.0 * pad) / span);
    let dots: String = placed
        .iter()
        .map(|(s, x, y)| {
            let cx = pad + (x - x0) * scale;
            let cy = h - pad - (y - y0) * scale;
            format!(
                "<a href=\"/stations/{code}\"><circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"9\" class=\"st-{cls}\"><title>{name} {code_t} · {state}</title></circle></a>",
                code = path_segment(&s.station.code),
                cls = state_key(s.health.state),
                name = esc(&s.station.name),
                code_t = esc(&s.station.code),
                state = state_label(ctx, s.health.state),
            )
        })
        .collect();
    let legend: String = [
        StationState::Producing,
        StationState::NightStandby,
        StationState::Standby,
        StationState::Offline,
        StationState::Fault,
    ]
    .into_iter()
    .map(|s| {
        format!(
            "<span class=\"legend st-{}\">● {}</span>",
            state_key(s),
            state_label(ctx, s)
        )
    })
    .collect();
    format!("<svg class=\"map\" viewBox=\"0 0 {w} {h}\" role=\"img\">{dots}</svg><p>{legend}</p>")
}

/// The five lowest of the last 30 days' assessment (grade, then peer ratio: weather is
/// shared within a county, so this is fairer than kWh/kWp); None when the assessment
/// cannot run for a single county (several counties in the ledger), the caller then
/// falls back to kWh/kWp.
async fn worst_by_peer_ratio(
    state: &AppState,
    ctx: &Ctx,
    stations: &[StationWithHealth],
) -> Option<String> {
    // Grades are the assessment's: a role that may not see it (finance) gets kWh/kWp.
    if !ctx.session.caller.role.may(Permission::ViewAssessment) {
        return None;
    }
    let today = state.today();
    let started = std::time::Instant::now();
    let report = crate::assess::run(
        &state.store,
        &state.config,
        today - chrono::Duration::days(29),
        today,
        None,
    )
    .await
    .map_err(|e| tracing::debug!(error = %e, "overview: no assessment, worst by kWh/kWp"))
    .ok()?;
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        stations = report.stations.len(),
        "overview: 30-day assessment"
    );
    let by_code: HashMap<&str, &StationWithHealth> = stations
        .iter()
        .map(|s| (s.station.code.as_str(), s))
        .collect();
    let rows: String = report
        .stations
        .iter()
        .rev()
        .take(5)
        .map(|a| {
            let st = by_code.get(a.code.as_str());
            let state_cell = st
                .map(|s| {
                    format!(
                        "<td class=\"st-{}\">{}</td>",
                        state_key(s.health.state),
                        state_label(ctx, s.health.state)
                    )
                })
                .unwrap_or_else(|| "<td>–</td>".into());
            format!(
                "<tr><td><a href=\"/stations/{enc}\">{name}</a></td><td>{code}</td>{state_cell}<td>{grade}</td><td class=\"n\">{peer}</td><td class=\"n\">{yf}</td></tr>",
                enc = path_segment(&a.code),
                name = esc(&a.name),
                code = esc(&a.code),
                grade = a.grade.zh(),
                peer = num(a.peer_ratio, 2),
                yf = num(a.final_yield_h, 1),
            )
        })
        .collect();
    Some(format!(
        "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{rows}",
        ctx.t("col.station"),
        ctx.t("col.code"),
        ctx.t("col.state"),
        ctx.t("assess.grade"),
        ctx.t("assess.peer_ratio"),
        ctx.t("col.yield30"),
    ))
}

/// GET /
pub async fn page(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    if ctx.session.caller.village_code.is_some() {
        return Ok(Redirect::to("/village").into_response());
    }
    ctx.require(Permission::ViewTelemetry)?;
    ctx.require(Permission::ViewLedger)?;
    let fail = |e: ApiError| e.into_response();
    let ledger = state
        .ledger
        .get(&state.store)
        .await
        .map_err(|e| fail(e.into()))?;
    let (_, stations) = ledger.page(None, None, None, 0);
    let stations = with_health(&state, &ledger, stations).await.map_err(fail)?;
    let sums = energy_sums(&state).await.map_err(fail)?;
    let total = |i: usize| sums.values().map(|s| s[i]).sum::<f64>();
    let power_kw: f64 = stations
        .iter()
        .filter_map(|s| s.health.power_w)
        .sum::<f64>()
        / 1000.0;
    let count =
        |f: &dyn Fn(StationState) -> bool| stations.iter().filter(|s| f(s.health.state)).count();
    let producing = count(&|s| s == StationState::Producing);
    let offline = count(&|s| s == StationState::Offline);
    let fault = count(&|s| s == StationState::Fault);
    let standby = stations.len() - producing - offline - fault;
    let card = |id: &str, label: &str, value: String, cls: &str| {
        format!(
            "<div class=\"card {cls}\" id=\"{id}\"><div class=\"label\">{label}</div><div class=\"value\">{}</div></div>",
            esc(&value)
        )
    };
    let cards = [
        card(
            "power-now",
            ctx.t("overview.power"),
            format!("{} kW", num(Some(power_kw), 1)),
            "",
        ),
        card(
            "energy-today",
            ctx.t("overview.today"),
            energy(total(0)),
            "",
        ),
        card(
            "energy-month",
            ctx.t("overview.month"),
            energy(total(1)),
            "",
        ),
        card("energy-year", ctx.t("overview.year"), energy(total(2)), ""),
        card(
            "count-producing",
            ctx.t("overview.producing"),
            producing.to_string(),
            "st-producing",
        ),
        card(
            "count-standby",
            ctx.t("overview.standby"),
            standby.to_string(),
            "",
        ),
        card(
            "count-offline",
            ctx.t("overview.offline"),
            offline.to_string(),
            "st-offline",
        ),
        card(
            "count-fault",
            ctx.t("overview.fault"),
            fault.to_string(),
            "st-fault",
        ),
    ]
    .concat();
    // Unresolved alerts, for the roles that see alerts: the card links to the page.
    let alerts_card = if ctx.session.caller.role.may(Permission::ViewAlerts) {
        let open = super::alerts::unresolved(&state, None).await?;
        let urgent = open.iter().any(|a| a.severity == "critical");
        format!(
            "<a class=\"card card-link{}\" id=\"open-alerts\" href=\"/alerts\"><div class=\"label\">{}</div><div class=\"value\">{}</div></a>",
            if urgent { " st-fault" } else { "" },
            ctx.t("overview.alerts"),
            open.len()
        )
    } else {
        String::new()
    };

    let yield30 = |s: &StationWithHealth| {
        let kwp = capacity(s);
        (kwp > 0.0).then(|| sums.get(&s.station.code).map_or(0.0, |v| v[3]) / kwp)
    };
    let mut ranked: Vec<(&StationWithHealth, f64)> = stations
        .iter()
        .filter_map(|s| Some((s, yield30(s)?)))
        .collect();
    ranked.sort_by(|a, b| a.1.total_cmp(&b.1));
    let row = |s: &StationWithHealth| {
        format!(
            "<tr><td><a href=\"/stations/{}\">{}</a></td><td>{}</td><td class=\"st-{}\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            path_segment(&s.station.code),
            esc(&s.station.name),
            esc(&s.station.code),
            state_key(s.health.state),
            state_label(&ctx, s.health.state),
            esc(&s.station.dc_capacity_kwp.0.to_string()),
            num(s.health.power_w.map(|w| w / 1000.0), 1),
            num(Some(s.health.today_kwh), 1),
            num(yield30(s), 1),
        )
    };
    let head = format!(
        "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        ctx.t("col.station"),
        ctx.t("col.code"),
        ctx.t("col.state"),
        ctx.t("col.capacity"),
        ctx.t("col.power"),
        ctx.t("col.today"),
        ctx.t("col.yield30")
    );
    let (worst_t, worst) = match worst_by_peer_ratio(&state, &ctx, &stations).await {
        Some(table) => (ctx.t("overview.worst_assessed"), table),
        None => (
            ctx.t("overview.worst"),
            format!(
                "{head}{}",
                ranked
                    .iter()
                    .take(5)
                    .map(|(s, _)| row(s))
                    .collect::<String>()
            ),
        ),
    };
    let all: String = stations.iter().map(row).collect();
    let body = format!(
        "<section class=\"cards\">{alerts_card}{cards}</section>\
         <section class=\"two\"><div><h2>{map_t}</h2>{map}</div>\
         <div><h2>{worst_t}</h2><div class=\"scroll\"><table id=\"worst\">{worst}</table></div></div></section>\
         <h2>{all_t}</h2><div class=\"scroll\"><table id=\"stations\">{head}{all}</table></div>",
        map_t = ctx.t("overview.stations"),
        map = map(&ctx, &stations),
        all_t = ctx.t("ledger.stations"),
    );
    Ok(ctx.render(ctx.t("overview.title"), &body))
}
