//! The browser-session layer in front of every route: finds the live session behind the
//! `pvl_session` cookie (requests with an `Authorization` header are scripts or gateways
//! and never use cookies) and refuses any state change made with a session that does not
//! carry the session's CSRF token, in the `X-CSRF-Token` header (fetch()) or the `csrf`
//! field of a form. This one check covers every POST of the pages and of the JSON API.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;
use crate::auth::sessions::{self, Session};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "pvl_session";
/// Largest form body read for the CSRF field (ledger files come as multipart, not forms).
const FORM_LIMIT: usize = 1 << 20;

/// The value of cookie `name`, if the request carries it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Constant-time comparison, so that the token cannot be guessed byte by byte from timing.
pub fn same_token(a: &str, b: &str) -> bool {
    !a.is_empty() && a.as_bytes().ct_eq(b.as_bytes()).into()
}

fn changes_state(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The middleware (see the module documentation).
pub async fn layer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if req.headers().contains_key(AUTHORIZATION) {
        return next.run(req).await;
    }
    if let Some(value) = cookie(req.headers(), SESSION_COOKIE) {
        match sessions::session_by_cookie(&state.store, state.session_policy(), &value).await {
            Ok(Some(s)) => {
                req.extensions_mut().insert(s);
            }
            Ok(None) => {}
            Err(e) => return ApiError::from(e).into_response(),
        }
    }
    // The login form has no session yet; it is protected by its own double-submit token.
    if changes_state(req.method()) && req.uri().path() != "/login" {
        if let Some(session) = req.extensions().get::<Session>().cloned() {
            let (ok, rebuilt) = carries_token(req, &session.csrf_token).await;
            if !ok {
                return refused(rebuilt.uri().path());
            }
            req = rebuilt;
        }
    }
    next.run(req).await
}

/// Whether the request carries `expected`; a form body is read and put back.
async fn carries_token(req: Request, expected: &str) -> (bool, Request) {
    if let Some(h) = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
    {
        return (same_token(h, expected), req);
    }
    let is_form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return (false, req);
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
        return (false, Request::from_parts(parts, Body::empty()));
    };
    let ok = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .ok()
        .and_then(|fields| fields.into_iter().find(|(k, _)| k == "csrf"))
        .is_some_and(|(_, v)| same_token(&v, expected));
    (ok, Request::from_parts(parts, Body::from(bytes)))
}

fn refused(path: &str) -> Response {
    let message = "请求缺少有效的 CSRF 令牌，请刷新页面后重试 (missing or wrong CSRF token; reload the page and try again)";
    if path.starts_with("/api/") {
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: "csrf",
            message: message.into(),
        }
        .into_response()
    } else {
        crate::pages::refusal_page(StatusCode::FORBIDDEN, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_is_found_among_others_and_tokens_compare_exactly() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, "lang=en; pvl_session=abc=; x=1".parse().unwrap());
        assert_eq!(cookie(&h, "pvl_session").as_deref(), Some("abc="));
        assert_eq!(cookie(&h, "lang").as_deref(), Some("en"));
        assert_eq!(cookie(&h, "none"), None);
        assert!(same_token("t0k", "t0k"));
        assert!(!same_token("t0k", "t0K"));
        assert!(!same_token("", ""));
    }
}
