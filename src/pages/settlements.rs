//! Settlements for finance staff: the list, running a month, a settlement's lines, review
//! and approve (forms with the session's CSRF token), the downloads (the workbook, a PDF
//! statement per village) and the audit log.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::html::{esc, path_segment};
use super::{Ctx, Lang, PageResult};
use crate::auth::Permission;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::settlement::export;
use crate::settlement::period::Period;
use crate::settlement::plan::Use;
use crate::settlement::run::{self, SettleError};
use crate::settlement::store_types::SettlementRow;
use crate::store::{Dec, dispatch};

/// 元 with two decimals.
pub fn yuan(d: &Dec) -> String {
    format!("{:.2}", d.0)
}

pub fn status_label(ctx: &Ctx, status: &str) -> &'static str {
    match status {
        "draft" => ctx.t("settle.status.draft"),
        "reviewed" => ctx.t("settle.status.reviewed"),
        _ => ctx.t("settle.status.approved"),
    }
}

pub fn use_label(lang: Lang, code: &str) -> String {
    match (Use::from_code(code), lang) {
        (Some(u), Lang::Zh) => u.zh().into(),
        (Some(u), Lang::En) => u.en().into(),
        (None, _) => code.into(),
    }
}

fn store_error(e: sqlx::Error) -> Response {
    ApiError::from(e).into_response()
}

fn list_body(ctx: &Ctx, rows: &[SettlementRow], error: Option<&str>) -> String {
    let run_form = if ctx.session.caller.role.may(Permission::SettleMoney) {
        format!(
            "<form method=\"post\" action=\"/settlements\" class=\"row\" id=\"run-form\">{csrf}\
             <label>{period}<input name=\"period\" id=\"period\" placeholder=\"2026-10\" pattern=\"\\d{{4}}-\\d{{2}}\" required></label>\
             <label>{county}<input name=\"county\" id=\"county\"></label>\
             <button type=\"submit\" id=\"run\">{run}</button></form>",
            csrf = ctx.csrf_field(),
            period = ctx.t("settle.run"),
            county = ctx.t("settle.county"),
            run = ctx.t("settle.run_button"),
        )
    } else {
        String::new()
    };
    let error = error
        .map(|e| format!("<p class=\"error\" id=\"settle-error\">{}</p>", esc(e)))
        .unwrap_or_default();
    let table = if rows.is_empty() {
        format!("<p>{}</p>", ctx.t("settle.none"))
    } else {
        let lines: String = rows
            .iter()
            .map(|r| {
                format!(
                    "<tr><td><a href=\"/settlements/{id}\">{period}</a></td><td>{county}</td><td class=\"s-{status}\">{label}</td><td class=\"n\">{amount}</td></tr>",
                    id = r.id,
                    period = esc(&r.period),
                    county = esc(&r.county_code),
                    status = esc(&r.status),
                    label = status_label(ctx, &r.status),
                    amount = yuan(&r.distributable_yuan),
                )
            })
            .collect();
        format!(
            "<div class=\"scroll\"><table id=\"settlements\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{lines}</table></div>",
            ctx.t("col.period"),
            ctx.t("col.county"),
            ctx.t("col.state"),
            ctx.t("col.distributable"),
        )
    };
    format!("{error}{run_form}{table}")
}

/// GET /settlements
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    ctx.require(Permission::ViewSettlements)?;
    ctx.refuse_village()?;
    let rows = dispatch!(&state.store, settle::list(None)).map_err(store_error)?;
    Ok(ctx.render(ctx.t("settle.title"), &list_body(&ctx, &rows, None)))
}

#[derive(Deserialize)]
pub struct RunForm {
    period: String,
    county: Option<String>,
}

/// The list page again, with the reason a run was refused.
async fn refuse(state: &AppState, ctx: &Ctx, message: String) -> PageResult {
    let rows = dispatch!(&state.store, settle::list(None)).map_err(store_error)?;
    Err((
        StatusCode::UNPROCESSABLE_ENTITY,
        ctx.render(
            ctx.t("settle.title"),
            &list_body(ctx, &rows, Some(&message)),
        ),
    )
        .into_response())
}

/// POST /settlements: computes (or recomputes) a month's draft.
pub async fn run(State(state): State<AppState>, ctx: Ctx, Form(f): Form<RunForm>) -> PageResult {
    ctx.require(Permission::SettleMoney)?;
    let Ok(period) = f.period.trim().parse::<Period>() else {
        return refuse(
            &state,
            &ctx,
            format!(
                "结算月份 {:?} 无效，应为 YYYY-MM (the period is not a month)",
                f.period
            ),
        )
        .await;
    };
    let county = f.county.as_deref().map(str::trim).filter(|c| !c.is_empty());
    match run::settle(
        &state.store,
        &state.config.settlement,
        county,
        period,
        &ctx.session.caller.actor(),
    )
    .await
    {
        Ok((row, _)) => Ok(Redirect::to(&format!("/settlements/{}", row.id)).into_response()),
        Err(SettleError::Store(e)) => Err(store_error(e)),
        Err(e) => refuse(&state, &ctx, e.to_string()).await,
    }
}

/// GET /settlements/{id}
pub async fn detail(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    ctx.require(Permission::ViewSettlements)?;
    ctx.refuse_village()?;
    let row = dispatch!(&state.store, settle::get(id))
        .map_err(store_error)?
        .ok_or_else(|| {
            (
                StatusCode::NOT_FOUND,
                ctx.render(
                    ctx.t("settle.detail"),
                    &format!("<p>{} {id}</p>", ctx.t("settle.none")),
                ),
            )
                .into_response()
        })?;
    let lines = export::load(&state.store, id).await.map_err(store_error)?;
    Ok(ctx.render(
        &format!(
            "{} {} {}",
            ctx.t("settle.detail"),
            row.county_code,
            row.period
        ),
        &detail_body(&ctx, &row, &lines),
    ))
}

fn detail_body(ctx: &Ctx, row: &SettlementRow, lines: &export::Lines) -> String {
    let may = ctx.session.caller.role.may(Permission::SettleMoney);
    let action = |verb: &str, label: &str| {
        format!(
            "<form method=\"post\" action=\"/settlements/{}/{verb}\" class=\"inline\">{}<button type=\"submit\" id=\"{verb}\">{}</button></form>",
            row.id,
            ctx.csrf_field(),
            label
        )
    };
    let actions = match (may, row.status.as_str()) {
        (true, "draft") => action("review", ctx.t("settle.review")),
        (true, "reviewed") => action("approve", ctx.t("settle.approve")),
        _ => String::new(),
    };
    let stations: String = lines
        .stations
        .iter()
        .map(|s| {
            format!(
                "<tr><td><a href=\"/stations/{}\">{}</a></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                path_segment(&s.station_code),
                esc(&s.station_code),
                esc(&s.energy_kwh.0.to_string()),
                yuan(&Dec(s.benchmark_income_yuan.0 + s.subsidy_received_yuan.0)),
                yuan(&s.distributable_yuan),
            )
        })
        .collect();
    // One statement per village: a village served by two stations has two lines here
    // but one PDF, so the link goes on its first line only.
    let mut linked = std::collections::HashSet::new();
    let villages: String = lines
        .villages
        .iter()
        .map(|v| {
            let pdf = if linked.insert(v.village_code.as_str()) {
                statement_link(ctx, row.id, &v.village_code)
            } else {
                String::new()
            };
            format!(
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{pdf}</td></tr>",
                esc(&v.village_code),
                esc(&v.station_code),
                esc(&v.share.0.to_string()),
                yuan(&v.amount_yuan)
            )
        })
        .collect();
    let uses: String = lines
        .uses
        .iter()
        .map(|u| {
            format!(
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}%</td><td class=\"n\">{}</td></tr>",
                esc(&u.village_code),
                esc(&use_label(ctx.lang, &u.use_code)),
                esc(&u.percent.0.to_string()),
                yuan(&u.amount_yuan)
            )
        })
        .collect();
    let locked = if row.status == "draft" {
        String::new()
    } else {
        format!("<p class=\"sub\">{}</p>", ctx.t("settle.locked"))
    };
    format!(
        "<p class=\"status\" id=\"settlement-status\" data-status=\"{status}\">{label} · {dist_t} <b>{total}</b></p>{actions}{locked}\
         <p class=\"downloads\"><a class=\"button\" id=\"workbook\" href=\"/api/v1/settlements/{id}/export.xlsx\" download>{xlsx_t}</a> {draft_note}</p>\
         <h2>{st_t}</h2><div class=\"scroll\"><table id=\"settlement-stations\"><tr><th>{c_st}</th><th>{c_en}</th><th>{c_inc}</th><th>{c_dist}</th></tr>{stations}</table></div>\
         <h2>{vi_t}</h2><div class=\"scroll\"><table id=\"settlement-villages\"><tr><th>{c_v}</th><th>{c_st}</th><th>{c_sh}</th><th>{c_am}</th><th>{c_pdf}</th></tr>{villages}</table></div>\
         <h2>{us_t}</h2><div class=\"scroll\"><table id=\"settlement-uses\"><tr><th>{c_v}</th><th>{c_use}</th><th>%</th><th>{c_am}</th></tr>{uses}</table></div>",
        status = esc(&row.status),
        id = row.id,
        xlsx_t = ctx.t("settle.workbook"),
        draft_note = if row.status == "approved" {
            ""
        } else {
            ctx.t("settle.draft_documents")
        },
        c_pdf = ctx.t("col.statement"),
        label = status_label(ctx, &row.status),
        dist_t = ctx.t("col.distributable"),
        total = yuan(&row.distributable_yuan),
        st_t = ctx.t("settle.stations"),
        vi_t = ctx.t("settle.villages"),
        us_t = ctx.t("settle.uses"),
        c_st = ctx.t("col.station"),
        c_en = ctx.t("col.energy"),
        c_inc = ctx.t("col.income"),
        c_dist = ctx.t("col.distributable"),
        c_v = ctx.t("col.village"),
        c_sh = ctx.t("col.share"),
        c_am = ctx.t("col.amount"),
        c_use = ctx.t("col.use"),
    )
}

/// The link to a village's printable statement (村级光伏收益分配公示, PDF).
pub fn statement_link(ctx: &Ctx, id: i64, village: &str) -> String {
    format!(
        "<a class=\"pdf\" href=\"/api/v1/settlements/{id}/villages/{code}.pdf\" download>{label}</a>",
        code = path_segment(village),
        label = ctx.t("settle.statement_pdf"),
    )
}

async fn advance(state: AppState, ctx: Ctx, id: i64, verb: &'static str) -> PageResult {
    ctx.require(Permission::SettleMoney)?;
    match run::advance(&state.store, id, verb, &ctx.session.caller.actor()).await {
        Ok(_) => Ok(Redirect::to(&format!("/settlements/{id}")).into_response()),
        Err(SettleError::Store(e)) => Err(store_error(e)),
        Err(e) => {
            let status = match e {
                SettleError::NotFound(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::CONFLICT,
            };
            Err((
                status,
                ctx.render(
                    ctx.t("settle.detail"),
                    &format!(
                        "<p class=\"error\">{}</p><p><a href=\"/settlements/{id}\">{}</a></p>",
                        esc(&e.to_string()),
                        ctx.t("settle.detail")
                    ),
                ),
            )
                .into_response())
        }
    }
}

/// POST /settlements/{id}/review
pub async fn review(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    advance(state, ctx, id, "review").await
}

/// POST /settlements/{id}/approve
pub async fn approve(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    advance(state, ctx, id, "approve").await
}

/// GET /audit: the newest 200 entries.
pub async fn audit(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    ctx.require(Permission::ViewAudit)?;
    let entries = state.store.audit_recent(200).await.map_err(store_error)?;
    let zone = state.config.time.zone;
    let rows: String = entries
        .iter()
        .map(|e| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"detail\">{}</td></tr>",
                e.at.with_timezone(&zone).format("%Y-%m-%d %H:%M:%S"),
                esc(&e.actor),
                esc(&e.action),
                esc(&e.subject),
                esc(&e.detail.to_string()),
            )
        })
        .collect();
    let body = format!(
        "<div class=\"scroll\"><table id=\"audit\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{rows}</table></div>",
        ctx.t("col.at"),
        ctx.t("col.actor"),
        ctx.t("col.action"),
        ctx.t("col.subject"),
        ctx.t("col.detail"),
    );
    Ok(ctx.render(ctx.t("audit.title"), &body))
}
