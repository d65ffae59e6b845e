//! Server-rendered web pages (no CDN: county intranets have no internet). Chinese by
//! default, English with `?lang=en` or the language switch (a cookie); every text goes
//! through [`i18n`]. Each page checks the caller's permission on the server and answers a
//! role that may not see it with a Chinese-first 403 page. Charts are drawn in the
//! browser from the JSON API (same session, same permission check) with the vendored
//! uPlot served by [`assets`].

// Page handlers answer a Response either way (the page, or a redirect or refusal page);
// boxing the error side would only add an allocation on the way to axum.
#![allow(clippy::result_large_err)]

mod alerts;
mod assessment;
mod assets;
mod gateways;
pub mod html;
pub mod i18n;
mod layout;
mod ledger;
mod login;
mod overview;
mod period_pick;
mod settlements;
mod station;
mod village;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

pub use i18n::Lang;
pub use layout::refusal_page;

use crate::auth::Permission;
use crate::auth::sessions::Session;
use crate::http::AppState;

/// A page handler's answer: the page, or a redirect or refusal page.
pub type PageResult = Result<Response, Response>;

/// The page routes (the JSON API is in [`crate::http`]).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(overview::page))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route(
            "/password",
            get(login::password_form).post(login::password_submit),
        )
        .route("/lang/{code}", get(i18n::switch))
        .route("/stations/{code}", get(station::page))
        .route(
            "/settlements",
            get(settlements::list).post(settlements::run),
        )
        .route("/settlements/{id}", get(settlements::detail))
        .route("/settlements/{id}/review", post(settlements::review))
        .route("/settlements/{id}/approve", post(settlements::approve))
        .route("/audit", get(settlements::audit))
        .route("/alerts", get(alerts::page))
        .route("/alerts/{id}/ack", post(alerts::ack))
        .route("/alerts/{id}/resolve", post(alerts::resolve))
        .route("/assessment", get(assessment::page))
        .route("/ledger", get(ledger::page))
        .route("/ledger/import", post(ledger::import))
        .route("/village", get(village::page))
        .route("/static/{file}", get(assets::file))
}

/// What every page knows about its request: the language, the session, the path.
pub struct Ctx {
    pub lang: Lang,
    pub session: Session,
    pub path: String,
}

impl Ctx {
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    /// Refuses with the 403 page unless the session's role allows `p`.
    pub fn require(&self, p: Permission) -> Result<(), Response> {
        if self.session.caller.role.may(p) {
            Ok(())
        } else {
            Err(self.forbidden())
        }
    }

    /// Refuses a village user (pages that are not scoped to one village).
    pub fn refuse_village(&self) -> Result<(), Response> {
        if self.session.caller.village_code.is_some() {
            Err(self.forbidden())
        } else {
            Ok(())
        }
    }

    pub fn forbidden(&self) -> Response {
        let c = &self.session.caller;
        let body = format!(
            "<p>{} <b>{}</b> ({})</p><p><a href=\"/\">{}</a></p>",
            self.t("forbidden.text"),
            html::esc(c.role.label_zh()),
            html::esc(c.role.as_str()),
            self.t("nav.home"),
        );
        (
            StatusCode::FORBIDDEN,
            layout::page(self, self.t("forbidden.title"), &body),
        )
            .into_response()
    }

    /// A hidden form field with the session's CSRF token.
    pub fn csrf_field(&self) -> String {
        format!(
            "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
            html::esc(&self.session.csrf_token)
        )
    }

    pub fn render(&self, title: &str, body: &str) -> Response {
        layout::page(self, title, body).into_response()
    }
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let lang = Lang::from_parts(parts);
        let path = parts.uri.path().to_owned();
        let Some(session) = parts.extensions.get::<Session>().cloned() else {
            let next = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let _ = state;
            return Err(
                Redirect::to(&format!("/login?next={}", html::path_segment(next))).into_response(),
            );
        };
        if session.must_change_password && path != "/password" {
            return Err(Redirect::to("/password").into_response());
        }
        Ok(Ctx {
            lang,
            session,
            path,
        })
    }
}

/// A plain page for errors outside a session's context (e.g. a 5xx).
pub fn plain_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Html(layout::bare(
            "pvledger",
            &format!("<p>{}</p>", html::esc(message)),
        )),
    )
        .into_response()
}
