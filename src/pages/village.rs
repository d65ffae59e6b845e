//! A village committee's page: its own village's part of every approved settlement (drafts
//! are not published to villages) with its printable statement (PDF). Other roles may look at any village with `?code=`.

use axum::extract::{Query, State};
use axum::response::IntoResponse;
use serde::Deserialize;

use super::html::esc;
use super::settlements::{statement_link, use_label, yuan};
use super::{Ctx, PageResult};
use crate::auth::Permission;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::settlement::export;
use crate::store::dispatch;

#[derive(Deserialize)]
pub struct VillageQuery {
    code: Option<String>,
}

/// GET /village
pub async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<VillageQuery>,
) -> PageResult {
    ctx.require(Permission::ViewSettlements)?;
    let code = match (&ctx.session.caller.village_code, q.code) {
        (Some(own), Some(asked)) if *own != asked => return Err(ctx.forbidden()),
        (Some(own), _) => own.clone(),
        (None, Some(asked)) => asked,
        (None, None) => return Err(ctx.forbidden()),
    };
    let fail = |e: sqlx::Error| ApiError::from(e).into_response();
    let ledger = state.store.load_ledger().await.map_err(fail)?;
    let name = ledger
        .areas
        .iter()
        .find(|a| a.code == code)
        .map(|a| a.name.clone())
        .unwrap_or_default();
    let settlements = dispatch!(&state.store, settle::list(None)).map_err(fail)?;
    let mut sections = String::new();
    for s in settlements.iter().filter(|s| s.status == "approved") {
        let lines = export::load(&state.store, s.id).await.map_err(fail)?;
        let own: Vec<_> = lines
            .villages
            .iter()
            .filter(|v| v.village_code == code)
            .collect();
        if own.is_empty() {
            continue;
        }
        let stations: String = own
            .iter()
            .map(|v| {
                format!(
                    "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                    esc(&v.station_code),
                    esc(&v.share.0.to_string()),
                    yuan(&v.amount_yuan)
                )
            })
            .collect();
        let uses: String = lines
            .uses
            .iter()
            .filter(|u| u.village_code == code)
            .map(|u| {
                format!(
                    "<tr><td>{}</td><td class=\"n\">{}%</td><td class=\"n\">{}</td></tr>",
                    esc(&use_label(ctx.lang, &u.use_code)),
                    esc(&u.percent.0.to_string()),
                    yuan(&u.amount_yuan)
                )
            })
            .collect();
        sections.push_str(&format!(
            "<section class=\"village-period\"><h2>{period}</h2><p class=\"downloads\">{pdf}</p>\
             <table><tr><th>{c_st}</th><th>{c_sh}</th><th>{c_am}</th></tr>{stations}</table>\
             <table><tr><th>{c_use}</th><th>%</th><th>{c_am}</th></tr>{uses}</table></section>",
            period = esc(&s.period),
            pdf = statement_link(&ctx, s.id, &code),
            c_st = ctx.t("col.station"),
            c_sh = ctx.t("col.share"),
            c_am = ctx.t("col.amount"),
            c_use = ctx.t("col.use"),
        ));
    }
    if sections.is_empty() {
        sections = format!("<p>{}</p>", ctx.t("village.none"));
    }
    let body = format!(
        "<p class=\"sub\">{} {} · {}</p>{sections}",
        esc(&name),
        esc(&code),
        ctx.t("village.own")
    );
    Ok(ctx.render(ctx.t("village.title"), &body))
}
