//! A station: the power curve of the last 24 hours, daily energy for 30 days and monthly
//! energy for the year (charts drawn in the browser from the JSON API), its inverters with
//! status and specific yield, the edge gateways it reports through with their last status,
//! and its ledger data (capacity, shares, O&M body).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{Datelike, DurationRound};

use super::html::{esc, num, path_segment};
use super::{Ctx, PageResult};
use crate::auth::Permission;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::ledger::with_health;
use crate::ledger::model::{DeviceKind, in_force};
use crate::store::dispatch;

fn dec_f64(d: &crate::store::Dec) -> f64 {
    d.0.to_string().parse().unwrap_or(0.0)
}

/// GET /stations/{code}
pub async fn page(State(state): State<AppState>, ctx: Ctx, Path(code): Path<String>) -> PageResult {
    ctx.require(Permission::ViewLedger)?;
    ctx.require(Permission::ViewTelemetry)?;
    ctx.refuse_village()?;
    let fail = |e: ApiError| e.into_response();
    let station = dispatch!(&state.store, ledger::get_station(&code))
        .map_err(|e| fail(e.into()))?
        .ok_or_else(|| {
            (
                StatusCode::NOT_FOUND,
                ctx.render(
                    ctx.t("station.title"),
                    &format!("<p>{} {}</p>", ctx.t("station.nodata"), esc(&code)),
                ),
            )
                .into_response()
        })?;
    let (_, share_history, devices) =
        dispatch!(&state.store, ledger::station_details(&code)).map_err(|e| fail(e.into()))?;
    let today = state.today();
    let shares = in_force(&share_history, today, |s| s.valid_from);
    let ledger = state
        .ledger
        .get(&state.store)
        .await
        .map_err(|e| fail(e.into()))?;
    let health = with_health(&state, &ledger, vec![station.clone()])
        .await
        .map_err(fail)?
        .remove(0)
        .health;

    // Inverters: the latest reading and the 30-day specific yield (kWh per kWp).
    let ids: Vec<i64> = devices.iter().map(|d| d.id).collect();
    let daily = dispatch!(
        &state.store,
        telemetry::daily(&ids, today - chrono::Duration::days(29), today)
    )
    .map_err(|e| fail(e.into()))?;
    let mut energy30: HashMap<i64, f64> = HashMap::new();
    for r in &daily {
        *energy30.entry(r.device_id).or_default() += r.energy_kwh;
    }
    let mut inverter_rows = String::new();
    for d in devices.iter().filter(|d| d.kind == DeviceKind::Inverter) {
        let latest =
            dispatch!(&state.store, telemetry::latest_of(d.id)).map_err(|e| fail(e.into()))?;
        let kwp = d.dc_kwp.as_ref().map(dec_f64).filter(|k| *k > 0.0);
        let sy = kwp.map(|k| energy30.get(&d.id).copied().unwrap_or(0.0) / k);
        inverter_rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            esc(&d.code),
            esc(&[d.vendor.as_deref(), d.model.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ")),
            esc(d.protocol.as_str()),
            latest.as_ref().map(|r| r.ts.0.with_timezone(&state.config.time.zone).format("%m-%d %H:%M").to_string()).unwrap_or_else(|| "–".into()),
            num(latest.as_ref().and_then(|r| r.ac_power_w).map(|w| w / 1000.0), 2),
            esc(&latest.as_ref().and_then(|r| r.status.clone().or(r.fault_code.clone())).unwrap_or_else(|| "–".into())),
            num(sy, 1),
        ));
    }
    let mut gateway_codes: Vec<String> = devices
        .iter()
        .filter_map(|d| d.gateway_code.clone())
        .collect();
    gateway_codes.sort();
    gateway_codes.dedup();
    let gateway_views = crate::http::gateway::views(&state.store, gateway_codes)
        .await
        .map_err(|e| fail(e.into()))?;
    let gateways = super::gateways::section(
        &ctx,
        &gateway_views,
        super::gateways::Limits {
            silent_after_s: state.config.http.gateway_silent_after_s,
            backlog_after_s: state.config.http.gateway_backlog_after_s,
        },
    );
    // Finance may see the station but not its alerts.
    let alerts = if ctx.session.caller.role.may(Permission::ViewAlerts) {
        let open = super::alerts::unresolved(&state, Some(&station.code)).await?;
        super::alerts::station_section(&ctx, &state, &station.code, &open)
    } else {
        String::new()
    };
    let share_rows: String = shares
        .iter()
        .map(|s| {
            format!(
                "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(&s.village_code),
                esc(&s.share.0.to_string()),
                esc(s.basis.zh()),
                s.valid_from
            )
        })
        .collect();
    let opt = |v: &Option<String>| esc(v.as_deref().unwrap_or("–"));
    let year_start = today.with_ordinal(1).expect("day 1 exists");
    // Whole minutes, rounded up, so that the newest reading is inside the range.
    let now = chrono::Utc::now()
        .duration_trunc(chrono::Duration::minutes(1))
        .expect("a minute divides any instant")
        + chrono::Duration::minutes(1);
    let enc = path_segment(&station.code);
    let body = format!(
        "<p class=\"status st-{cls}\" id=\"station-state\">{state} · {power} kW · {today_kwh} kWh</p>\
         <section class=\"charts\">\
         <div><h2>{power_t}</h2><div class=\"chart\" data-kind=\"power\" data-tz=\"{tz}\" data-url=\"/api/v1/stations/{enc}/power?from={day_ago}&amp;to={now}\"></div></div>\
         <div><h2>{daily_t}</h2><div class=\"chart\" data-kind=\"bars\" data-url=\"/api/v1/stations/{enc}/energy?interval=day&amp;from={from30}\"></div></div>\
         <div><h2>{monthly_t}</h2><div class=\"chart\" data-kind=\"bars\" data-url=\"/api/v1/stations/{enc}/energy?interval=month&amp;from={year_start}\"></div></div>\
         </section>\
         <h2>{inv_t}</h2><div class=\"scroll\"><table id=\"inverters\"><tr><th>{c_dev}</th><th>{c_vendor}</th><th>{c_proto}</th><th>{c_last}</th><th>{c_power}</th><th>{c_status}</th><th>{c_y}</th></tr>{inverter_rows}</table></div>{alerts}{gateways}\
         <h2>{ledger_t}</h2><table class=\"kv\" id=\"ledger\">\
         <tr><th>{c_code}</th><td>{code}</td></tr><tr><th>{c_kind}</th><td>{kind}</td></tr>\
         <tr><th>{c_cap}</th><td>{cap}</td></tr><tr><th>{grid_t}</th><td>{grid}</td></tr>\
         <tr><th>{batch_t}</th><td>{batch}</td></tr><tr><th>{c_om}</th><td>{om}</td></tr>\
         <tr><th>{om_p}</th><td>{omp} {phone}</td></tr></table>\
         <h2>{shares_t}</h2><table id=\"shares\"><tr><th>{c_village}</th><th>{c_share}</th><th>{c_basis}</th><th>{c_from}</th></tr>{share_rows}</table>\
         <script src=\"/static/uplot.js\"></script><script src=\"/static/charts.js\"></script>",
        tz = esc(state.config.time.zone.name()),
        cls = super::overview::state_key(health.state),
        state = ctx.t(&format!(
            "state.{}",
            super::overview::state_key(health.state)
        )),
        power = num(health.power_w.map(|w| w / 1000.0), 1),
        today_kwh = num(Some(health.today_kwh), 1),
        power_t = ctx.t("station.power"),
        daily_t = ctx.t("station.daily"),
        monthly_t = ctx.t("station.monthly"),
        from30 = today - chrono::Duration::days(29),
        // The last 24 hours, not today since midnight: after midnight, and all night, a
        // technician still sees the day's curve (the page drew one point at 00:14).
        day_ago = (now - chrono::Duration::hours(24)).format("%Y-%m-%dT%H:%M:%SZ"),
        now = now.format("%Y-%m-%dT%H:%M:%SZ"),
        inv_t = ctx.t("station.inverters"),
        c_dev = ctx.t("col.device"),
        c_vendor = ctx.t("col.vendor"),
        c_proto = ctx.t("col.protocol"),
        c_last = ctx.t("col.last"),
        c_power = ctx.t("col.power"),
        c_status = ctx.t("col.status"),
        c_y = ctx.t("col.yield30"),
        ledger_t = ctx.t("station.ledger"),
        c_code = ctx.t("col.code"),
        code = esc(&station.code),
        c_kind = ctx.t("col.kind"),
        kind = esc(if ctx.lang == super::Lang::Zh {
            station.kind.zh()
        } else {
            station.kind.as_str()
        }),
        c_cap = ctx.t("col.capacity"),
        cap = esc(&station.dc_capacity_kwp.0.to_string()),
        grid_t = ctx.t("station.grid_date"),
        grid = station
            .grid_connection_date
            .map(|d| d.to_string())
            .unwrap_or_else(|| "–".into()),
        batch_t = ctx.t("station.batch"),
        batch = opt(&station.subsidy_batch),
        c_om = ctx.t("col.om"),
        om = opt(&station.om_body),
        om_p = ctx.t("station.om_person"),
        omp = opt(&station.om_person),
        phone = opt(&station.om_phone),
        shares_t = ctx.t("station.shares"),
        c_village = ctx.t("col.village"),
        c_share = ctx.t("col.share"),
        c_basis = ctx.t("col.basis"),
        c_from = ctx.t("col.from"),
    );
    let title = format!("{} {}", ctx.t("station.title"), station.name);
    Ok(ctx.render(&title, &body))
}
