//! Alerts for technicians on a phone: the unresolved alerts (open, then acknowledged) as
//! cards, most severe first and newest first within a severity, each with its station,
//! device, rule in Chinese, the vendor's fault text (in the title), since when and the O&M
//! body; acknowledge or resolve with a note through the same store functions as the API
//! (audited with the user; the session layer checks the CSRF token of every form); a
//! filter by station and the XLSX problem ledger. Technicians and admins act, the bureau
//! reads, finance and villages are refused.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::html::{esc, path_segment};
use super::{Ctx, Lang, PageResult};
use crate::alerts::model::{AlertRow, Status};
use crate::alerts::rules::Rule;
use crate::alerts::store::{self, HandleError};
use crate::auth::Permission;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::store::dispatch;

/// Most urgent first: critical, major, minor (an unknown severity last).
fn severity_rank(s: &str) -> u8 {
    match s {
        "critical" => 0,
        "major" => 1,
        "minor" => 2,
        _ => 3,
    }
}

/// Open before acknowledged (someone must still pick it up), then by severity, then
/// newest first: the problem a technician must look at next is on top.
pub fn order(alerts: &mut [AlertRow]) {
    alerts.sort_by(|a, b| {
        let open = |r: &AlertRow| u8::from(r.status != "open");
        (open(a), severity_rank(&a.severity))
            .cmp(&(open(b), severity_rank(&b.severity)))
            .then(b.opened_at.0.cmp(&a.opened_at.0))
            .then(b.id.cmp(&a.id))
    });
}

/// How long ago, coarse enough to read at a glance: minutes, hours, then days.
pub fn age(lang: Lang, since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let m = (now - since).num_minutes().max(0);
    let (n, zh, en) = if m < 60 {
        (m, "分钟", "min")
    } else if m < 48 * 60 {
        (m / 60, "小时", "h")
    } else {
        (m / (24 * 60), "天", "d")
    };
    match lang {
        Lang::Zh => format!("{n} {zh}前"),
        Lang::En => format!("{n} {en} ago"),
    }
}

fn severity_label(ctx: &Ctx, s: &str) -> &'static str {
    match s {
        "critical" => ctx.t("alerts.sev.critical"),
        "major" => ctx.t("alerts.sev.major"),
        _ => ctx.t("alerts.sev.minor"),
    }
}

fn status_label(ctx: &Ctx, s: &str) -> &'static str {
    match Status::parse(s) {
        Some(Status::Open) => ctx.t("alerts.status.open"),
        Some(Status::Acknowledged) => ctx.t("alerts.status.acknowledged"),
        _ => ctx.t("alerts.status.resolved"),
    }
}

fn rule_label(lang: Lang, rule: &str) -> String {
    match (Rule::parse(rule), lang) {
        (Some(r), Lang::Zh) => r.zh().to_owned(),
        (Some(r), Lang::En) => format!("{} ({})", r.zh(), r.as_str()),
        (None, _) => rule.to_owned(),
    }
}

/// One alert as a card; with `actions`, the acknowledge / resolve form.
fn card(ctx: &Ctx, a: &AlertRow, state: &AppState, actions: bool) -> String {
    let zone = state.config.time.zone;
    let local = |t: &DateTime<Utc>| t.with_timezone(&zone).format("%m-%d %H:%M").to_string();
    let station = a
        .station_code
        .as_deref()
        .map(|c| format!("<a href=\"/stations/{}\">{}</a>", path_segment(c), esc(c)))
        .unwrap_or_else(|| "–".into());
    let opt = |v: &Option<String>| esc(v.as_deref().unwrap_or("–"));
    let acked = match (&a.acknowledged_at, &a.acknowledged_by) {
        (Some(at), Some(by)) => format!(
            "<p class=\"sub acked\">{} {} · {}</p>",
            ctx.t("alerts.acked_by"),
            // Actors are stored as "user:NAME"; a technician reads the name.
            esc(by.strip_prefix("user:").unwrap_or(by)),
            local(&at.0)
        ),
        _ => String::new(),
    };
    let form = if actions {
        let ack = if a.status == "open" {
            format!(
                "<button type=\"submit\" class=\"ack\" formaction=\"/alerts/{id}/ack\">{}</button>",
                ctx.t("alerts.ack"),
                id = a.id
            )
        } else {
            String::new()
        };
        format!(
            "<form method=\"post\" action=\"/alerts/{id}/resolve\" class=\"alert-actions\">{csrf}\
             <textarea name=\"note\" rows=\"2\" placeholder=\"{ph}\" aria-label=\"{ph}\"></textarea>\
             <div class=\"buttons\">{ack}<button type=\"submit\" class=\"resolve\">{resolve}</button></div></form>",
            id = a.id,
            csrf = ctx.csrf_field(),
            ph = ctx.t("alerts.note"),
            resolve = ctx.t("alerts.resolve"),
        )
    } else {
        String::new()
    };
    format!(
        "<article class=\"alert sev-{sev_c}\" id=\"alert-{id}\" data-id=\"{id}\" data-status=\"{status_c}\">\
         <div class=\"alert-head\"><span class=\"sev\">{sev}</span><b class=\"rule\">{rule}</b>\
         <span class=\"alert-status s-{status_c}\">{status}</span>\
         <span class=\"age\" title=\"{since}\">{age}</span></div>\
         <p class=\"alert-title\">{title}</p>\
         <dl class=\"alert-facts\"><dt>{c_st}</dt><dd>{station}</dd><dt>{c_dev}</dt><dd>{device}</dd>\
         <dt>{c_since}</dt><dd>{since}</dd><dt>{c_om}</dt><dd>{om}</dd></dl>\
         <p class=\"sub alert-detail\">{detail}</p>{acked}{form}</article>",
        id = a.id,
        sev_c = esc(&a.severity),
        sev = severity_label(ctx, &a.severity),
        rule = esc(&rule_label(ctx.lang, &a.rule)),
        status_c = esc(&a.status),
        status = status_label(ctx, &a.status),
        age = esc(&age(ctx.lang, a.opened_at.0, Utc::now())),
        since = local(&a.opened_at.0),
        title = esc(&a.title),
        c_st = ctx.t("col.station"),
        c_dev = ctx.t("col.device"),
        device = opt(&a.device_code),
        c_since = ctx.t("alerts.since"),
        c_om = ctx.t("col.om"),
        om = opt(&a.om_body),
        detail = esc(&a.detail),
    )
}

/// The unresolved alerts of one station (or all), in page order.
pub async fn unresolved(
    state: &AppState,
    station: Option<&str>,
) -> Result<Vec<AlertRow>, Response> {
    let fail = |e: sqlx::Error| ApiError::from(e).into_response();
    let mut rows = store::list(&state.store, Some(Status::Open), station, Some(1000))
        .await
        .map_err(fail)?;
    rows.extend(
        store::list(
            &state.store,
            Some(Status::Acknowledged),
            station,
            Some(1000),
        )
        .await
        .map_err(fail)?,
    );
    order(&mut rows);
    Ok(rows)
}

/// The station page's section: its unresolved alerts, read-only, with a link to act.
pub fn station_section(ctx: &Ctx, state: &AppState, code: &str, alerts: &[AlertRow]) -> String {
    let cards: String = if alerts.is_empty() {
        format!("<p class=\"sub\">{}</p>", ctx.t("alerts.none"))
    } else {
        alerts.iter().map(|a| card(ctx, a, state, false)).collect()
    };
    format!(
        "<h2>{t}</h2><div id=\"station-alerts\" class=\"alerts\">{cards}</div><p><a href=\"/alerts?station={enc}\">{go}</a></p>",
        t = ctx.t("alerts.station_section"),
        enc = path_segment(code),
        go = ctx.t("alerts.open_page"),
    )
}

#[derive(Deserialize, Default)]
pub struct Filter {
    station: Option<String>,
}

async fn body(
    state: &AppState,
    ctx: &Ctx,
    station: Option<&str>,
    error: Option<&str>,
) -> Result<String, Response> {
    let alerts = unresolved(state, station).await?;
    let stations = dispatch!(&state.store, ledger::list_stations(None))
        .map_err(|e| ApiError::from(e).into_response())?;
    let options: String = stations
        .iter()
        .map(|s| {
            format!(
                "<option value=\"{c}\"{sel}>{c} {n}</option>",
                c = esc(&s.code),
                n = esc(&s.name),
                sel = if station == Some(s.code.as_str()) {
                    " selected"
                } else {
                    ""
                },
            )
        })
        .collect();
    let actions = ctx.session.caller.role.may(Permission::HandleAlerts);
    let open = alerts.iter().filter(|a| a.status == "open").count();
    let cards: String = if alerts.is_empty() {
        format!("<p class=\"sub\">{}</p>", ctx.t("alerts.none"))
    } else {
        alerts
            .iter()
            .map(|a| card(ctx, a, state, actions))
            .collect()
    };
    let export = match station {
        Some(s) => format!("/api/v1/alerts/export.xlsx?station={}", path_segment(s)),
        None => "/api/v1/alerts/export.xlsx".into(),
    };
    let error = error
        .map(|e| format!("<p class=\"error\" id=\"alert-error\">{}</p>", esc(e)))
        .unwrap_or_default();
    let readonly = if actions {
        String::new()
    } else {
        format!("<p class=\"sub\">{}</p>", ctx.t("alerts.readonly"))
    };
    Ok(format!(
        "{error}<p class=\"status\" id=\"alert-counts\">{open_t} {open} · {ack_t} {acked}</p>\
         <form method=\"get\" action=\"/alerts\" class=\"row\" id=\"alert-filter\"><label>{st_t}<select name=\"station\" id=\"station\" onchange=\"this.form.submit()\">\
         <option value=\"\">{all}</option>{options}</select></label><button type=\"submit\">{filter}</button></form>\
         <p class=\"downloads\"><a class=\"button\" id=\"problem-ledger\" href=\"{export}\" download>{xlsx}</a></p>{readonly}\
         <section id=\"alerts\" class=\"alerts\">{cards}</section>",
        open_t = ctx.t("alerts.status.open"),
        ack_t = ctx.t("alerts.status.acknowledged"),
        acked = alerts.len() - open,
        st_t = ctx.t("col.station"),
        all = ctx.t("alerts.all_stations"),
        filter = ctx.t("alerts.filter"),
        export = esc(&export),
        xlsx = ctx.t("alerts.ledger_xlsx"),
    ))
}

fn station_param(f: &Filter) -> Option<&str> {
    f.station
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// GET /alerts?station=
pub async fn page(State(state): State<AppState>, ctx: Ctx, Query(f): Query<Filter>) -> PageResult {
    ctx.require(Permission::ViewAlerts)?;
    ctx.refuse_village()?;
    let body = body(&state, &ctx, station_param(&f), None).await?;
    Ok(ctx.render(ctx.t("alerts.title"), &body))
}

#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    note: String,
}

async fn handle(state: AppState, ctx: Ctx, id: i64, note: &str, resolve: bool) -> PageResult {
    ctx.require(Permission::HandleAlerts)?;
    let actor = ctx.session.caller.actor();
    let note = note.trim();
    let done = if resolve {
        store::resolve(&state.store, id, &actor, note).await
    } else {
        store::acknowledge(
            &state.store,
            id,
            &actor,
            Some(note).filter(|n| !n.is_empty()),
        )
        .await
    };
    match done {
        // Back to the list filtered to the alert's station, where the technician was.
        Ok(row) => Ok(Redirect::to(&match row.station_code {
            Some(s) => format!("/alerts?station={}", path_segment(&s)),
            None => "/alerts".into(),
        })
        .into_response()),
        Err(HandleError::Store(e)) => Err(ApiError::from(e).into_response()),
        Err(e) => {
            let status = match e {
                HandleError::NotFound(_) => StatusCode::NOT_FOUND,
                HandleError::WrongStatus { .. } => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let body = body(&state, &ctx, None, Some(&e.to_string())).await?;
            Err((status, ctx.render(ctx.t("alerts.title"), &body)).into_response())
        }
    }
}

/// POST /alerts/{id}/ack (note optional)
pub async fn ack(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(f): Form<NoteForm>,
) -> PageResult {
    handle(state, ctx, id, &f.note, false).await
}

/// POST /alerts/{id}/resolve (a note is required: what was done)
pub async fn resolve(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(f): Form<NoteForm>,
) -> PageResult {
    handle(state, ctx, id, &f.note, true).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Ts;
    use chrono::TimeZone;

    fn row(id: i64, severity: &str, status: &str, minute: u32) -> AlertRow {
        AlertRow {
            id,
            rule: "silent".into(),
            subject: format!("device:{id}"),
            station_code: None,
            device_code: None,
            gateway_code: None,
            area_code: None,
            om_body: None,
            severity: severity.into(),
            status: status.into(),
            title: String::new(),
            detail: String::new(),
            evidence: "{}".into(),
            opened_at: Ts(Utc.with_ymd_and_hms(2026, 10, 1, 8, minute, 0).unwrap()),
            acknowledged_at: None,
            acknowledged_by: None,
            resolved_at: None,
            resolved_by: None,
            resolution_note: None,
        }
    }

    #[test]
    fn open_alerts_come_first_by_severity_then_newest() {
        let mut v = vec![
            row(1, "minor", "open", 1),
            row(2, "critical", "acknowledged", 2),
            row(3, "major", "open", 3),
            row(4, "critical", "open", 4),
            row(5, "major", "open", 5),
        ];
        order(&mut v);
        let ids: Vec<i64> = v.iter().map(|r| r.id).collect();
        assert_eq!(ids, [4, 5, 3, 1, 2]);
    }

    #[test]
    fn age_is_coarse_and_never_negative() {
        let t0 = Utc.with_ymd_and_hms(2026, 10, 1, 8, 0, 0).unwrap();
        let at = |mins: i64| t0 + chrono::Duration::minutes(mins);
        assert_eq!(age(Lang::Zh, t0, at(-5)), "0 分钟前");
        assert_eq!(age(Lang::Zh, t0, at(59)), "59 分钟前");
        assert_eq!(age(Lang::Zh, t0, at(150)), "2 小时前");
        assert_eq!(age(Lang::Zh, t0, at(47 * 60)), "47 小时前");
        assert_eq!(age(Lang::Zh, t0, at(3 * 24 * 60 + 1)), "3 天前");
        assert_eq!(age(Lang::En, t0, at(150)), "2 h ago");
    }
}
