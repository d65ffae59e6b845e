//! Edge gateways' latest status: on their own route and on the stations they serve.

use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use serde::Serialize;

use super::AppState;
use super::error::ApiError;
use crate::auth::Permission;
use crate::auth::accounts::Caller;
use crate::store::{GatewayStatusRow, Store, Ts, dispatch};

/// A gateway and its latest status (None: it never reported; a gateway that only
/// publishes telemetry, such as a vendor data logger, has none).
#[derive(Debug, Serialize)]
pub struct GatewayView {
    pub gateway: String,
    pub status: Option<StatusView>,
}

/// The stored status with the ages an operator (and the coming alerts) look at.
#[derive(Debug, Serialize)]
pub struct StatusView {
    pub received_at: Ts,
    /// Seconds since the last status arrived (silence).
    pub silent_s: i64,
    pub sent_at: Ts,
    pub version: String,
    pub outbox_depth: i64,
    pub oldest_unsent: Option<Ts>,
    /// Age of the oldest reading still waiting at the gateway, seconds (backlog).
    pub backlog_age_s: Option<i64>,
    pub thinned_total: i64,
    pub clock_skew_ms: Option<i64>,
    pub poll_failures: i64,
    /// The whole message as the gateway sent it (per-device poll counters included).
    pub message: serde_json::Value,
}

impl From<GatewayStatusRow> for StatusView {
    fn from(r: GatewayStatusRow) -> Self {
        let now = Utc::now();
        StatusView {
            silent_s: (now - r.received_at.0).num_seconds(),
            backlog_age_s: r.oldest_unsent.map(|t| (now - t.0).num_seconds()),
            received_at: r.received_at,
            sent_at: r.sent_at,
            version: r.version,
            outbox_depth: r.outbox_depth,
            oldest_unsent: r.oldest_unsent,
            thinned_total: r.thinned_total,
            clock_skew_ms: r.clock_skew_ms,
            poll_failures: r.poll_failures,
            message: serde_json::from_str(&r.message).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// Views of `codes`, in that order, each with its status if any.
pub async fn views(store: &Store, codes: Vec<String>) -> Result<Vec<GatewayView>, sqlx::Error> {
    let mut rows = dispatch!(store, gateway::statuses(&codes))?;
    Ok(codes
        .into_iter()
        .map(|code| {
            let status = rows
                .iter()
                .position(|r| r.gateway_code == code)
                .map(|i| rows.swap_remove(i).into());
            GatewayView {
                gateway: code,
                status,
            }
        })
        .collect())
}

/// `GET /api/v1/gateways/{code}`.
#[tracing::instrument(skip(state))]
pub async fn gateway(
    caller: Caller,
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<GatewayView>, ApiError> {
    caller.require(Permission::ViewTelemetry)?;
    if !state
        .ingest
        .directory
        .snapshot()
        .gateways
        .contains_key(&code)
    {
        state.ingest.directory.reload_if_stale().await;
        if !state
            .ingest
            .directory
            .snapshot()
            .gateways
            .contains_key(&code)
        {
            return Err(ApiError::not_found("gateway", &code));
        }
    }
    let mut found = views(&state.store, vec![code]).await?;
    Ok(Json(found.remove(0)))
}
