//! Alert routes for technicians: the list, acknowledge, resolve with a note, and the
//! problem ledger as XLSX. The lifecycle lives in [`crate::alerts::store`]; these handlers
//! check the caller's role, translate errors and shape JSON.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, JsonBody};
use crate::alerts::model::{AlertRow, Status};
use crate::alerts::store::{self, HandleError};
use crate::auth::Permission;
use crate::auth::accounts::Caller;

impl From<HandleError> for ApiError {
    fn from(e: HandleError) -> Self {
        let (status, code) = match &e {
            HandleError::Store(_) => {
                let HandleError::Store(inner) = e else {
                    unreachable!()
                };
                return inner.into();
            }
            HandleError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            HandleError::WrongStatus { .. } => (StatusCode::CONFLICT, "conflict"),
            HandleError::NoteRequired => (StatusCode::BAD_REQUEST, "bad_request"),
        };
        ApiError {
            status,
            code,
            message: e.to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub status: Option<String>,
    pub station: Option<String>,
    pub limit: Option<i64>,
}

/// An alert as the API shows it: the row plus its evidence as JSON.
#[derive(Serialize)]
pub struct AlertView {
    #[serde(flatten)]
    pub alert: AlertRow,
    pub rule_zh: &'static str,
    pub status_zh: &'static str,
    pub evidence: serde_json::Value,
}

fn view(alert: AlertRow) -> AlertView {
    AlertView {
        rule_zh: crate::alerts::rules::Rule::parse(&alert.rule).map_or("", |r| r.zh()),
        status_zh: Status::parse(&alert.status).map_or("", Status::zh),
        evidence: serde_json::from_str(&alert.evidence).unwrap_or(serde_json::Value::Null),
        alert,
    }
}

#[derive(Serialize)]
pub struct Alerts {
    pub alerts: Vec<AlertView>,
}

fn status_param(s: Option<&str>) -> Result<Option<Status>, ApiError> {
    s.filter(|s| !s.is_empty())
        .map(|s| {
            Status::parse(s).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "status {s:?} 无效，可选 open、acknowledged、resolved (must be open, acknowledged or resolved)"
                ))
            })
        })
        .transpose()
}

/// GET /api/v1/alerts?status=&station=&limit=
pub async fn list(
    caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Alerts>, ApiError> {
    caller.require(Permission::ViewAlerts)?;
    let status = status_param(q.status.as_deref())?;
    let station = q.station.as_deref().filter(|s| !s.is_empty());
    let alerts = store::list(
        &state.store,
        status,
        station,
        q.limit.map(|l| l.clamp(1, 10_000)),
    )
    .await?;
    Ok(Json(Alerts {
        alerts: alerts.into_iter().map(view).collect(),
    }))
}

#[derive(Debug, Deserialize)]
pub struct NoteBody {
    #[serde(default)]
    pub note: Option<String>,
}

/// POST /api/v1/alerts/{id}/ack  {"note": "..."} (note optional)
pub async fn ack(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<NoteBody>,
) -> Result<Json<AlertView>, ApiError> {
    caller.require(Permission::HandleAlerts)?;
    let note = body
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let row = store::acknowledge(&state.store, id, &caller.actor(), note).await?;
    Ok(Json(view(row)))
}

/// POST /api/v1/alerts/{id}/resolve  {"note": "..."} (note required: what was done)
pub async fn resolve(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<NoteBody>,
) -> Result<Json<AlertView>, ApiError> {
    caller.require(Permission::HandleAlerts)?;
    let row = store::resolve(
        &state.store,
        id,
        &caller.actor(),
        body.note.as_deref().unwrap_or(""),
    )
    .await?;
    Ok(Json(view(row)))
}

/// GET /api/v1/alerts/export.xlsx?status=&station=: the problem ledger with each item's
/// rectification history.
pub async fn export(
    caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Permission::ViewAlerts)?;
    let status = status_param(q.status.as_deref())?;
    let station = q.station.as_deref().filter(|s| !s.is_empty());
    let mut alerts = store::list(&state.store, status, station, Some(100_000)).await?;
    alerts.reverse();
    let history = store::history(&state.store, &alerts).await?;
    let bytes = crate::alerts::export::workbook(&alerts, &history, state.config.time.zone)
        .map_err(|e| {
            tracing::error!(error = %e, "cannot write the problem ledger workbook");
            ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "internal",
                message: "导出失败 (export failed)".into(),
            }
        })?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"alerts.xlsx\"",
            ),
        ],
        bytes,
    ))
}
