//! The page shell: head, navigation by role, language switch, logout; and the refusal page.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::Ctx;
use super::html::esc;
use crate::auth::Permission;

const HEAD: &str = "<meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"stylesheet\" href=\"/static/app.css\">";

/// A page without navigation (login, errors).
pub fn bare(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head>{HEAD}<title>{} · pvledger</title></head>\
         <body><main class=\"narrow\">{body}</main></body></html>",
        esc(title)
    )
}

/// A page with the navigation the session's role may use.
pub fn page(ctx: &Ctx, title: &str, body: &str) -> Html<String> {
    let c = &ctx.session.caller;
    let may = |p| c.role.may(p);
    let mut links: Vec<(&str, &str)> = Vec::new();
    if c.village_code.is_some() {
        links.push(("/village", ctx.t("nav.village")));
    } else {
        if may(Permission::ViewTelemetry) {
            links.push(("/", ctx.t("nav.overview")));
        }
        if may(Permission::ViewAlerts) {
            links.push(("/alerts", ctx.t("nav.alerts")));
        }
        if may(Permission::ViewSettlements) {
            links.push(("/settlements", ctx.t("nav.settlements")));
        }
        if may(Permission::ViewAssessment) {
            links.push(("/assessment", ctx.t("nav.assessment")));
        }
        if may(Permission::ViewLedger) {
            links.push(("/ledger", ctx.t("nav.ledger")));
        }
    }
    if may(Permission::ViewAudit) {
        links.push(("/audit", ctx.t("nav.audit")));
    }
    let nav: String = links
        .iter()
        .map(|(href, label)| {
            let current = if ctx.path == *href {
                " class=\"current\""
            } else {
                ""
            };
            format!("<a href=\"{href}\"{current}>{}</a>", esc(label))
        })
        .collect();
    let other = ctx.lang.other();
    let html_lang = ctx.lang.html_code();
    Html(format!(
        "<!doctype html><html lang=\"{html_lang}\"><head>{HEAD}<title>{title} · pvledger</title></head><body>\
         <header><span class=\"brand\">{brand}</span><nav>{nav}</nav>\
         <span class=\"who\">{user} · {role}</span>\
         <a class=\"lang\" href=\"/lang/{other_code}?next={next}\">{other_label}</a>\
         <a href=\"/password\">{password}</a>\
         <form method=\"post\" action=\"/logout\" class=\"inline\">{csrf}<button type=\"submit\" id=\"logout\">{logout}</button></form>\
         </header><main><h1>{title}</h1>{body}</main></body></html>",
        title = esc(title),
        brand = ctx.t("brand"),
        user = esc(&c.name),
        role = esc(ctx.lang.role(c.role)),
        other_code = other.code(),
        other_label = other.self_name(),
        next = super::html::path_segment(&ctx.path),
        password = ctx.t("nav.password"),
        csrf = ctx.csrf_field(),
        logout = ctx.t("nav.logout"),
    ))
}

/// A refusal outside a page's context (e.g. a missing CSRF token): both languages.
pub fn refusal_page(status: StatusCode, message: &str) -> Response {
    (
        status,
        Html(bare(
            "拒绝 / Refused",
            &format!(
                "<h1>拒绝访问 / Refused</h1><p>{}</p><p><a href=\"/\">返回首页 / Home</a></p>",
                esc(message)
            ),
        )),
    )
        .into_response()
}
