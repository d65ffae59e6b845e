//! The caller of a request, from its `Authorization: Bearer` token or from the browser
//! session the [`super::session`] layer found behind its cookie, and the permission check
//! every route and page makes. Pages and the browser's fetch() calls to the JSON API thus
//! share one check. Gateway credentials are not accepted here: they work for ingest only.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use crate::auth::Permission;
use crate::auth::accounts::Caller;
use crate::auth::sessions::Session;
use crate::store::{Versions, dispatch};

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let bearer = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_owned());
        if let Some(token) = bearer {
            let versions = Versions::from_request_parts(parts, state).await?;
            return state
                .tokens
                .caller(&state.store, &token, versions.accounts)
                .await?
                .ok_or_else(|| unauthorized("令牌无效或已撤销 (the token is unknown or revoked)"));
        }
        match parts.extensions.get::<Session>() {
            Some(s) if s.must_change_password => Err(ApiError {
                status: StatusCode::FORBIDDEN,
                code: "password_change_required",
                message: "请先修改一次性密码 (change the one-time password first, at /password)"
                    .into(),
            }),
            Some(s) => Ok(s.caller.clone()),
            None => Err(unauthorized(
                "需要登录或 API 令牌 (log in, or send Authorization: Bearer <token>)",
            )),
        }
    }
}

/// The versions of what the process keeps in memory (ledger, accounts), read once per
/// request: by the caller's token lookup, or by the first handler that needs them.
impl FromRequestParts<AppState> for Versions {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(v) = parts.extensions.get::<Versions>() {
            return Ok(*v);
        }
        let v = dispatch!(&state.store, versions::read())?;
        parts.extensions.insert(v);
        Ok(v)
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError {
        status: StatusCode::UNAUTHORIZED,
        code: "unauthorized",
        message: message.into(),
    }
}

impl Caller {
    /// Refuses with 403 unless the caller's role allows `p`.
    pub fn require(&self, p: Permission) -> Result<(), ApiError> {
        if self.role.may(p) {
            Ok(())
        } else {
            Err(ApiError {
                status: StatusCode::FORBIDDEN,
                code: "forbidden",
                message: format!(
                    "{}角色无此权限 (role {} may not do this: {p:?})",
                    self.role.label_zh(),
                    self.role.as_str()
                ),
            })
        }
    }

    /// Refuses a village user anything outside its own village.
    pub fn require_village(&self, village_code: &str) -> Result<(), ApiError> {
        match &self.village_code {
            Some(own) if own != village_code => Err(ApiError {
                status: StatusCode::FORBIDDEN,
                code: "forbidden",
                message: format!(
                    "村级用户只能查看本村 {own} (a village user sees its own village only)"
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Refuses a village user outright (routes that are not scoped to one village).
    pub fn refuse_village(&self) -> Result<(), ApiError> {
        if self.village_code.is_some() {
            return Err(ApiError {
                status: StatusCode::FORBIDDEN,
                code: "forbidden",
                message: "村级用户只能查看本村的数据 (a village user sees its own village only)"
                    .into(),
            });
        }
        Ok(())
    }
}
