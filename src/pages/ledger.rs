//! The ledger: stations, villages, shares in force and devices; uploading the CSV import,
//! whose refusal lists every problem by file, line and column. The import is audited with
//! the user who uploaded it.

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};

use super::html::{esc, path_segment};
use super::{Ctx, PageResult};
use crate::auth::Permission;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::ledger::import::{ImportError, import_files};
use crate::ledger::model::in_force;
use crate::ledger::parse::FILES;

/// GET /ledger
pub async fn page(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    ctx.require(Permission::ViewLedger)?;
    ctx.refuse_village()?;
    let ledger = state
        .store
        .load_ledger()
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let upload = if ctx.session.caller.role.may(Permission::ImportLedger) {
        format!(
            "<h2>{t}</h2><p class=\"sub\">{help}</p>\
             <form id=\"import-form\" class=\"stack\" data-csrf=\"{csrf}\">\
             <input type=\"file\" id=\"import-files\" name=\"files\" accept=\".csv\" multiple required>\
             <button type=\"submit\" id=\"import\">{button}</button></form><div id=\"import-result\"></div>\
             <script src=\"/static/import.js\"></script>",
            t = ctx.t("ledger.import"),
            help = ctx.t("ledger.import_help"),
            csrf = esc(&ctx.session.csrf_token),
            button = ctx.t("ledger.import_button"),
        )
    } else {
        String::new()
    };
    let stations: String = ledger
        .stations
        .iter()
        .map(|s| {
            format!(
                "<tr><td><a href=\"/stations/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                path_segment(&s.code),
                esc(&s.code),
                esc(&s.name),
                esc(s.kind.zh()),
                esc(&s.area_code),
                esc(&s.dc_capacity_kwp.0.to_string()),
                esc(s.om_body.as_deref().unwrap_or("–")),
            )
        })
        .collect();
    let areas: String = ledger
        .areas
        .iter()
        .map(|a| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&a.code),
                esc(&a.name),
                esc(if ctx.lang == super::Lang::Zh {
                    a.level.zh()
                } else {
                    a.level.as_str()
                }),
                esc(a.parent_code.as_deref().unwrap_or("–")),
            )
        })
        .collect();
    let today = state.today();
    let mut shares = String::new();
    for s in &ledger.stations {
        let own: Vec<_> = ledger
            .shares
            .iter()
            .filter(|x| x.station_code == s.code)
            .cloned()
            .collect();
        for x in in_force(&own, today, |x| x.valid_from) {
            shares.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(&x.station_code),
                esc(&x.village_code),
                esc(&x.share.0.to_string()),
                esc(x.basis.zh()),
                x.valid_from
            ));
        }
    }
    let devices: String = ledger
        .devices
        .iter()
        .map(|d| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&d.code),
                esc(&d.station_code),
                esc(d.kind.zh()),
                esc(&[d.vendor.as_deref(), d.model.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ")),
                esc(d.protocol.as_str()),
            )
        })
        .collect();
    let body = format!(
        "{upload}<h2>{st}</h2><div class=\"scroll\"><table id=\"ledger-stations\"><tr><th>{c_code}</th><th>{c_name}</th><th>{c_kind}</th><th>{c_parent}</th><th>{c_cap}</th><th>{c_om}</th></tr>{stations}</table></div>\
         <h2>{vi}</h2><div class=\"scroll\"><table id=\"ledger-areas\"><tr><th>{c_code}</th><th>{c_name}</th><th>{c_level}</th><th>{c_parent}</th></tr>{areas}</table></div>\
         <h2>{sh}</h2><div class=\"scroll\"><table id=\"ledger-shares\"><tr><th>{c_station}</th><th>{c_village}</th><th>{c_share}</th><th>{c_basis}</th><th>{c_from}</th></tr>{shares}</table></div>\
         <h2>{de}</h2><div class=\"scroll\"><table id=\"ledger-devices\"><tr><th>{c_device}</th><th>{c_station}</th><th>{c_kind}</th><th>{c_vendor}</th><th>{c_proto}</th></tr>{devices}</table></div>",
        st = ctx.t("ledger.stations"),
        vi = ctx.t("ledger.villages"),
        sh = ctx.t("ledger.shares"),
        de = ctx.t("ledger.devices"),
        c_code = ctx.t("col.code"),
        c_name = ctx.t("col.name"),
        c_kind = ctx.t("col.kind"),
        c_parent = ctx.t("col.parent"),
        c_cap = ctx.t("col.capacity"),
        c_om = ctx.t("col.om"),
        c_level = ctx.t("col.level"),
        c_station = ctx.t("col.station"),
        c_village = ctx.t("col.village"),
        c_share = ctx.t("col.share"),
        c_basis = ctx.t("col.basis"),
        c_from = ctx.t("col.from"),
        c_device = ctx.t("col.device"),
        c_vendor = ctx.t("col.vendor"),
        c_proto = ctx.t("col.protocol"),
    );
    Ok(ctx.render(ctx.t("ledger.title"), &body))
}

/// POST /ledger/import (multipart, sent by fetch() with the X-CSRF-Token header): answers
/// an HTML fragment with the outcome, which the page shows in place.
pub async fn import(State(state): State<AppState>, ctx: Ctx, req: Request) -> PageResult {
    // The role first: a refused caller learns nothing about what its body should have been.
    ctx.require(Permission::ImportLedger)?;
    let fragment = |status: StatusCode, html: String| (status, Html(html)).into_response();
    let mut form = Multipart::from_request(req, &state).await.map_err(|e| {
        fragment(
            StatusCode::BAD_REQUEST,
            format!("<p class=\"error\">{}</p>", esc(&e.body_text())),
        )
    })?;
    let mut files: Vec<(&'static str, Vec<u8>)> = Vec::new();
    let mut names = Vec::new();
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Err(fragment(
                    StatusCode::BAD_REQUEST,
                    format!("<p class=\"error\">{}</p>", esc(&e.body_text())),
                ));
            }
        };
        let name = field.file_name().unwrap_or_default().to_owned();
        let Some(known) = FILES.iter().find(|f| name.eq_ignore_ascii_case(f)) else {
            return Err(fragment(
                StatusCode::BAD_REQUEST,
                format!(
                    "<p class=\"error\">文件 {} 不是台账文件，应为 {} 之一 (not a ledger file)</p>",
                    esc(&name),
                    esc(&FILES.join(", "))
                ),
            ));
        };
        let bytes = field.bytes().await.map_err(|e| {
            fragment(
                StatusCode::BAD_REQUEST,
                format!("<p class=\"error\">{}</p>", esc(&e.body_text())),
            )
        })?;
        names.push(*known);
        files.push((known, bytes.to_vec()));
    }
    if files.is_empty() {
        return Err(fragment(
            StatusCode::BAD_REQUEST,
            format!("<p class=\"error\">{}</p>", ctx.t("ledger.import_help")),
        ));
    }
    let subject = format!("upload:{}", names.join(","));
    match import_files(
        &state.store,
        files,
        &subject,
        &ctx.session.caller.actor(),
        false,
    )
    .await
    {
        Ok(report) => {
            // Gateways and devices just imported may send data at once.
            if let Err(e) = state.ingest.directory.reload().await {
                tracing::warn!(error = %e, "could not reload the ingest directory after an import");
            }
            let rows: String = report
                .summary
                .iter()
                .map(|s| {
                    format!(
                        "<li>{}: {} {} · {} {} · {} {}</li>",
                        esc(s.file),
                        s.new,
                        ctx.t("ledger.new"),
                        s.changed,
                        ctx.t("ledger.changed"),
                        s.unchanged,
                        ctx.t("ledger.unchanged")
                    )
                })
                .collect();
            Ok(fragment(
                StatusCode::OK,
                format!(
                    "<p class=\"ok\" id=\"import-ok\">{}</p><ul>{rows}</ul>",
                    ctx.t("ledger.import_ok")
                ),
            ))
        }
        Err(ImportError::Invalid(errors)) => {
            let rows: String = errors
                .iter()
                .map(|e| {
                    format!(
                        "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
                        esc(&e.file),
                        e.line,
                        esc(&e.column),
                        esc(&e.reason)
                    )
                })
                .collect();
            Err(fragment(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "<p class=\"error\">{}</p><div class=\"scroll\"><table id=\"import-errors\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{rows}</table></div>",
                    ctx.t("ledger.import_failed"),
                    ctx.t("ledger.file"),
                    ctx.t("ledger.line"),
                    ctx.t("ledger.column"),
                    ctx.t("ledger.reason"),
                ),
            ))
        }
        Err(ImportError::Store(e)) => Err(ApiError::from(e).into_response()),
        Err(e) => Err(fragment(
            StatusCode::BAD_REQUEST,
            format!("<p class=\"error\">{}</p>", esc(&e.to_string())),
        )),
    }
}
