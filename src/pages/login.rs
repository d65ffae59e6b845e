//! Login (user name + password, lock-out, per-address rate limit), logout, and changing
//! one's own password (forced while a one-time password is in use).
//!
//! The login form has no session yet, so it carries a double-submit token: a random value
//! in a SameSite=Strict cookie that must come back in the form. A page on another site can
//! neither read nor send that cookie, so it cannot log a browser into an account of its own.

use std::net::SocketAddr;
use std::time::Instant;

use axum::Form;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::html::esc;
use super::{Ctx, Lang, PageResult, layout};
use crate::auth::sessions::{self, LoginError, Session};
use crate::http::AppState;
use crate::http::session::{SESSION_COOKIE, cookie, same_token};

const LOGIN_COOKIE: &str = "pvl_login";

/// The session, when there is one (never refuses).
pub struct MaybeSession(pub Option<Session>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeSession {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeSession(parts.extensions.get::<Session>().cloned()))
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only a local path may be a redirect target (no `//host` or `https://` open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.into(),
        _ => "/".into(),
    }
}

fn random_token() -> String {
    use base64::Engine;
    use rand::Rng;
    let bytes: [u8; 24] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn cookie_header(
    state: &AppState,
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
) -> HeaderValue {
    let secure = if state.config.http.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
        .parse()
        .expect("cookie values are base64url")
}

fn login_page(
    state: &AppState,
    lang: Lang,
    next: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let token = random_token();
    let error = error
        .map(|e| format!("<p class=\"error\" id=\"login-error\">{}</p>", esc(e)))
        .unwrap_or_default();
    let other = lang.other();
    let body = format!(
        "<h1>{title}</h1><p class=\"sub\">{sub}</p>{error}\
         <form method=\"post\" action=\"/login\" class=\"stack\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{token}\"><input type=\"hidden\" name=\"next\" value=\"{next}\">\
         <label>{user}<input name=\"name\" id=\"name\" autocomplete=\"username\" required></label>\
         <label>{pass}<input name=\"password\" id=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
         <button type=\"submit\" id=\"login\">{submit}</button></form>\
         <p><a href=\"/lang/{oc}?next=/login\">{on}</a></p>",
        title = lang.t("login.title"),
        sub = lang.t("brand"),
        next = esc(next),
        user = lang.t("login.user"),
        pass = lang.t("login.password"),
        submit = lang.t("login.submit"),
        oc = other.code(),
        on = other.self_name(),
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        cookie_header(state, LOGIN_COOKIE, &token, "/login", 3600),
    );
    (
        status,
        headers,
        Html(layout::bare(lang.t("login.title"), &body)),
    )
        .into_response()
}

/// GET /login
pub async fn form(
    State(state): State<AppState>,
    parts: LangOf,
    MaybeSession(s): MaybeSession,
    Query(q): Query<NextQuery>,
) -> Response {
    if s.is_some() {
        return Redirect::to(&safe_next(q.next.as_deref())).into_response();
    }
    login_page(
        &state,
        parts.0,
        &safe_next(q.next.as_deref()),
        None,
        StatusCode::OK,
    )
}

/// The language of a request (never refuses).
pub struct LangOf(pub Lang);

impl<S: Send + Sync> FromRequestParts<S> for LangOf {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(LangOf(Lang::from_parts(parts)))
    }
}

#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

/// POST /login
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    LangOf(lang): LangOf,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = safe_next(f.next.as_deref());
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if !same_token(&f.csrf, &expected) {
        return login_page(
            &state,
            lang,
            &next,
            Some(lang.t("login.expired")),
            StatusCode::FORBIDDEN,
        );
    }
    if !state.login_limiter.allow(addr.ip(), Instant::now()) {
        state
            .store
            .audit_append(&crate::audit::AuditEntry {
                actor: "anonymous".into(),
                action: "login.rate_limited".into(),
                subject: f.name.clone(),
                detail: serde_json::json!({ "client": addr.ip().to_string() }),
            })
            .await
            .ok();
        let e = LoginError::RateLimited.to_string();
        return login_page(&state, lang, &next, Some(&e), StatusCode::TOO_MANY_REQUESTS);
    }
    let policy = state.session_policy();
    match sessions::login(
        &state.store,
        policy,
        f.name.trim(),
        &f.password,
        &addr.ip().to_string(),
    )
    .await
    {
        Ok((value, session)) => {
            let target = if session.must_change_password {
                "/password".to_owned()
            } else {
                next
            };
            let mut h = HeaderMap::new();
            h.append(
                header::SET_COOKIE,
                cookie_header(
                    &state,
                    SESSION_COOKIE,
                    &value,
                    "/",
                    policy.max_age.num_seconds(),
                ),
            );
            h.append(
                header::SET_COOKIE,
                cookie_header(&state, LOGIN_COOKIE, "", "/login", 0),
            );
            (h, Redirect::to(&target)).into_response()
        }
        Err(LoginError::Store(e)) => crate::http::error::ApiError::from(e).into_response(),
        Err(e) => {
            let status = match e {
                LoginError::Locked { .. } => StatusCode::LOCKED,
                _ => StatusCode::UNAUTHORIZED,
            };
            login_page(&state, lang, &next, Some(&e.to_string()), status)
        }
    }
}

/// POST /logout
pub async fn logout(State(state): State<AppState>, MaybeSession(s): MaybeSession) -> Response {
    if let Some(s) = s
        && let Err(e) = sessions::logout(&state.store, &s).await
    {
        return crate::http::error::ApiError::from(e).into_response();
    }
    let mut h = HeaderMap::new();
    h.insert(
        header::SET_COOKIE,
        cookie_header(&state, SESSION_COOKIE, "", "/", 0),
    );
    (h, Redirect::to("/login")).into_response()
}

fn password_page(ctx: &Ctx, error: Option<&str>, status: StatusCode) -> Response {
    let notice = if ctx.session.must_change_password {
        format!(
            "<p class=\"notice\" id=\"must-change\">{}</p>",
            ctx.t("password.must")
        )
    } else {
        String::new()
    };
    let error = error
        .map(|e| format!("<p class=\"error\" id=\"password-error\">{}</p>", esc(e)))
        .unwrap_or_default();
    let body = format!(
        "{notice}{error}<form method=\"post\" action=\"/password\" class=\"stack\">{csrf}\
         <label>{cur}<input type=\"password\" name=\"current\" id=\"current\" autocomplete=\"current-password\" required></label>\
         <label>{new}<input type=\"password\" name=\"new\" id=\"new\" autocomplete=\"new-password\" minlength=\"10\" required></label>\
         <label>{rep}<input type=\"password\" name=\"repeat\" id=\"repeat\" autocomplete=\"new-password\" required></label>\
         <button type=\"submit\" id=\"change\">{submit}</button></form><p class=\"sub\">{rule}</p>",
        csrf = ctx.csrf_field(),
        cur = ctx.t("password.current"),
        new = ctx.t("password.new"),
        rep = ctx.t("password.repeat"),
        submit = ctx.t("password.submit"),
        rule = ctx.t("password.rule"),
    );
    (status, ctx.render(ctx.t("password.title"), &body)).into_response()
}

/// GET /password
pub async fn password_form(ctx: Ctx) -> Response {
    password_page(&ctx, None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
    repeat: String,
}

/// POST /password (the CSRF field is checked by the session layer)
pub async fn password_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<PasswordForm>,
) -> PageResult {
    if f.new != f.repeat {
        return Err(password_page(
            &ctx,
            Some(ctx.t("password.mismatch")),
            StatusCode::BAD_REQUEST,
        ));
    }
    match sessions::change_password(&state.store, &ctx.session, &f.current, &f.new).await {
        Ok(()) => Ok(Redirect::to("/").into_response()),
        Err(LoginError::Store(e)) => Err(crate::http::error::ApiError::from(e).into_response()),
        Err(e) => Err(password_page(
            &ctx,
            Some(&e.to_string()),
            StatusCode::BAD_REQUEST,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/stations/PV1")), "/stations/PV1");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
