//! HTTP ingest (`POST /api/v1/ingest`, the same payload v1 as MQTT, authenticated with the
//! gateway's credential by HTTP Basic) and the dead-letter listing.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
use crate::auth;
use crate::auth::Permission;
use crate::auth::accounts::Caller;
use crate::ingest::PayloadOutcome;
use crate::ingest::payload::RejectReason;
use crate::store::dispatch;
use crate::store::telemetry::StoredRejection;

/// `Authorization: Basic base64(gateway:credential)` -> (gateway, credential).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

fn unauthorized() -> ApiError {
    ApiError {
        status: StatusCode::UNAUTHORIZED,
        code: "unauthorized",
        message:
            "gateway credentials required: HTTP Basic with the gateway code and its credential"
                .into(),
    }
}

/// Stores a payload from an authenticated gateway; answers once it is committed.
#[tracing::instrument(skip_all)]
pub async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<PayloadOutcome>, ApiError> {
    let (gateway, secret) = basic_credentials(&headers).ok_or_else(unauthorized)?;
    let mut hash = state
        .ingest
        .directory
        .snapshot()
        .gateways
        .get(&gateway)
        .cloned();
    if hash.is_none() && state.ingest.directory.reload_if_stale().await {
        hash = state
            .ingest
            .directory
            .snapshot()
            .gateways
            .get(&gateway)
            .cloned();
    }
    let hash = hash.ok_or_else(unauthorized)?;
    let valid = tokio::task::spawn_blocking(move || auth::verify_secret(&secret, &hash))
        .await
        .unwrap_or(false);
    if !valid {
        return Err(unauthorized());
    }
    let done = state
        .ingest
        .submit_payload("http", &gateway, &body)
        .await
        .map_err(|e| ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "shutting_down",
            message: e.to_string(),
        })?;
    let outcome = done
        .await
        .map_err(|_| ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "shutting_down",
            message: "服务正在停止，数据未保存，请重发 (the service stopped before the payload was stored; send it again)".into(),
        })?
        // The database is up and refused this payload: a fault of the service, not of the
        // sender's timing (it was answered 503 shutting_down before).
        .map_err(|e| ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "not_stored",
            message: format!("数据未能保存，已记入服务日志 (nothing of the payload was stored: {e})"),
        })?;
    // A payload that could not be read at all is an error of the request as a whole.
    if let [only] = outcome.refused.as_slice()
        && outcome.accepted == 0
        && only.device.is_none()
        && matches!(
            only.reason,
            RejectReason::Unparseable | RejectReason::GatewayMismatch
        )
    {
        return Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            code: only.reason.as_str(),
            message: only.detail.clone(),
        });
    }
    Ok(Json(outcome))
}

#[derive(Debug, Deserialize)]
pub struct RejectionQuery {
    pub gateway: Option<String>,
    pub reason: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Serialize)]
pub struct Rejections {
    pub rejections: Vec<StoredRejection>,
}

/// Refused input, newest first.
#[tracing::instrument(skip(state))]
pub async fn rejections(
    caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<RejectionQuery>,
) -> Result<Json<Rejections>, ApiError> {
    caller.require(Permission::ViewTelemetry)?;
    if let Some(r) = &q.reason
        && !RejectReason::ALL.iter().any(|x| x.as_str() == r)
    {
        let all: Vec<_> = RejectReason::ALL.iter().map(|x| x.as_str()).collect();
        return Err(ApiError::bad_request(format!(
            "reason {r:?} is not one of: {}",
            all.join(", ")
        )));
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let rejections = dispatch!(
        &state.store,
        telemetry::rejections(q.gateway.as_deref(), q.reason.as_deref(), limit)
    )?;
    Ok(Json(Rejections { rejections }))
}
