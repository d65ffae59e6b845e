//! Settlement routes for finance staff: run a month, read it, review, approve; subsidy
//! receipts; the audit trail. The money logic lives in [`crate::settlement`]; these
//! handlers check the caller's role, translate errors and shape JSON.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, JsonBody};
use crate::audit::AuditRecord;
use crate::auth::Permission;
use crate::auth::accounts::Caller;
use crate::settlement::export::{self, Lines};
use crate::settlement::names::Names;
use crate::settlement::period::Period;
use crate::settlement::run::{self, SettleError};
use crate::settlement::statement::{self, Statement, StatementError};
use crate::settlement::store_types::{
    AdjustmentRow, SettlementRow, StationRow, UseRow, VillageRow,
};
use crate::settlement::subsidy::{self, ReceiptError, ReceiptOutcome};
use crate::settlement::workbook;
use crate::store::dispatch;

impl From<SettleError> for ApiError {
    fn from(e: SettleError) -> Self {
        let (status, code) = match &e {
            SettleError::Store(_) => {
                let SettleError::Store(inner) = e else {
                    unreachable!()
                };
                return inner.into();
            }
            SettleError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            SettleError::Locked { .. } | SettleError::WrongStatus { .. } => {
                (StatusCode::CONFLICT, "conflict")
            }
            SettleError::Invalid(_)
            | SettleError::UnknownCounty(_)
            | SettleError::CountyRequired(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
        };
        ApiError {
            status,
            code,
            message: e.to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct SettleRequest {
    /// YYYY-MM
    pub period: String,
    pub county: Option<String>,
}

/// A settlement with its lines.
#[derive(Serialize)]
pub struct SettlementDetail {
    pub settlement: SettlementRow,
    pub stations: Vec<StationRow>,
    pub villages: Vec<VillageRow>,
    pub uses: Vec<UseRow>,
    pub adjustments: Vec<AdjustmentRow>,
}

/// POST /api/v1/settlements: computes (or recomputes) the month's draft.
pub async fn create(
    caller: Caller,
    State(state): State<AppState>,
    JsonBody(req): JsonBody<SettleRequest>,
) -> Result<(StatusCode, Json<SettlementDetail>), ApiError> {
    caller.require(Permission::SettleMoney)?;
    let period: Period = req.period.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "period {:?} 不是月份 (is not a month, YYYY-MM)",
            req.period
        ))
    })?;
    let (row, _) = run::settle(
        &state.store,
        &state.config.settlement,
        req.county.as_deref(),
        period,
        &caller.actor(),
    )
    .await?;
    let lines = export::load(&state.store, row.id).await?;
    Ok((StatusCode::CREATED, Json(detail(row, lines))))
}

fn detail(settlement: SettlementRow, l: Lines) -> SettlementDetail {
    SettlementDetail {
        settlement,
        stations: l.stations,
        villages: l.villages,
        uses: l.uses,
        adjustments: l.adjustments,
    }
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub county: Option<String>,
}

#[derive(Serialize)]
pub struct Settlements {
    pub settlements: Vec<SettlementRow>,
}

/// GET /api/v1/settlements?county=
pub async fn list(
    caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Settlements>, ApiError> {
    caller.require(Permission::ViewSettlements)?;
    caller.refuse_village()?;
    let settlements = dispatch!(&state.store, settle::list(q.county.as_deref()))?;
    Ok(Json(Settlements { settlements }))
}

/// The settlement or 404.
pub(super) async fn find(state: &AppState, id: i64) -> Result<SettlementRow, ApiError> {
    dispatch!(&state.store, settle::get(id))?
        .ok_or_else(|| ApiError::not_found("settlement", &id.to_string()))
}

/// GET /api/v1/settlements/{id}
pub async fn get(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<SettlementDetail>, ApiError> {
    caller.require(Permission::ViewSettlements)?;
    caller.refuse_village()?;
    let row = find(&state, id).await?;
    let lines = export::load(&state.store, id).await?;
    Ok(Json(detail(row, lines)))
}

/// One village's part of a settlement (what its statement shows).
#[derive(Serialize)]
pub struct VillagePart {
    pub settlement: SettlementRow,
    pub village_code: String,
    pub stations: Vec<VillageRow>,
    pub uses: Vec<UseRow>,
    /// Corrections of earlier months for this village, included in `uses`.
    pub adjustments: Vec<AdjustmentRow>,
}

/// GET /api/v1/settlements/{id}/villages/{code}: a village user may read its own village's
/// part of an approved settlement (drafts are not published to villages).
/// GET /api/v1/settlements/{id}/villages/{code}.pdf: the same as the statement to post
/// (村级光伏收益分配公示); a draft's PDF is marked as not for posting.
pub async fn village(
    caller: Caller,
    State(state): State<AppState>,
    Path((id, file)): Path<(i64, String)>,
) -> Result<Response, ApiError> {
    if let Some(code) = file.strip_suffix(".pdf") {
        return statement_pdf(&caller, &state, id, code).await;
    }
    let (row, lines) = village_lines(&caller, &state, id, &file).await?;
    Ok(Json(VillagePart {
        settlement: row,
        village_code: file,
        stations: lines.villages,
        uses: lines.uses,
        adjustments: lines.adjustments,
    })
    .into_response())
}

async fn statement_pdf(
    caller: &Caller,
    state: &AppState,
    id: i64,
    code: &str,
) -> Result<Response, ApiError> {
    let (row, lines) = village_lines(caller, state, id, code).await?;
    let names = Names::from_ledger(&state.store.load_ledger().await?);
    let statement = Statement::build(&row, &lines, &names, code).map_err(document_error)?;
    let report = state.config.report.clone();
    // Font loading (once per process) and layout are CPU work: off the async workers.
    let pdf = tokio::task::spawn_blocking(move || {
        let fonts =
            crate::report::font::load(&report.font_path, report.font_index).map_err(|e| {
                ApiError {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    code: "font_missing",
                    message: e.to_string(),
                }
            })?;
        statement::render(&statement, &fonts).map_err(document_error)
    })
    .await
    .expect("rendering does not panic")?;
    Ok(attachment(
        "application/pdf",
        &format!("{}_{}_{code}.pdf", row.period, row.county_code),
        pdf,
    ))
}

/// GET /api/v1/settlements/{id}/export.xlsx: the workbook (summary, stations, villages,
/// uses, reconciliation, adjustments).
pub async fn workbook(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    caller.require(Permission::ViewSettlements)?;
    caller.refuse_village()?;
    let row = find(&state, id).await?;
    let lines = export::load(&state.store, id).await?;
    let names = Names::from_ledger(&state.store.load_ledger().await?);
    let adjustments: Vec<workbook::AdjustmentLine> =
        lines.adjustments.iter().map(Into::into).collect();
    let bytes = workbook::render(&row, &lines, &names, &adjustments).map_err(|e| {
        tracing::error!(error = %e, "rendering a settlement workbook");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "render_failed",
            message: "the workbook could not be written".into(),
        }
    })?;
    Ok(attachment(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &workbook::file_name(&row),
        bytes,
    ))
}

fn document_error(e: StatementError) -> ApiError {
    match e {
        StatementError::NotInSettlement { .. } => ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: e.to_string(),
        },
        StatementError::Pdf(e) => {
            tracing::error!(error = %e, "rendering a statement");
            ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "render_failed",
                message: "the statement could not be written".into(),
            }
        }
    }
}

/// A file download with its name (ASCII file names only: codes and periods).
fn attachment(content_type: &'static str, name: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// The settlement and the lines of one village, after the caller's checks.
pub(super) async fn village_lines(
    caller: &Caller,
    state: &AppState,
    id: i64,
    code: &str,
) -> Result<(SettlementRow, Lines), ApiError> {
    caller.require(Permission::ViewSettlements)?;
    caller.require_village(code)?;
    let row = find(state, id).await?;
    if caller.village_code.is_some() && row.status != "approved" {
        return Err(ApiError::not_found("approved settlement", &id.to_string()));
    }
    let mut lines = export::load(&state.store, id).await?;
    lines.villages.retain(|v| v.village_code == code);
    lines.uses.retain(|u| u.village_code == code);
    lines.adjustments.retain(|a| a.village_code == code);
    if lines.villages.is_empty() && lines.adjustments.is_empty() {
        return Err(ApiError::not_found(
            &format!("settlement {id}: village"),
            code,
        ));
    }
    lines.stations.retain(|s| {
        lines
            .villages
            .iter()
            .any(|v| v.station_code == s.station_code)
    });
    Ok((row, lines))
}

/// POST /api/v1/settlements/{id}/review
pub async fn review(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<SettlementRow>, ApiError> {
    caller.require(Permission::SettleMoney)?;
    Ok(Json(
        run::advance(&state.store, id, "review", &caller.actor()).await?,
    ))
}

/// POST /api/v1/settlements/{id}/approve
pub async fn approve(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<SettlementRow>, ApiError> {
    caller.require(Permission::SettleMoney)?;
    Ok(Json(
        run::advance(&state.store, id, "approve", &caller.actor()).await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct ReceiptRequest {
    /// 元 as a string, at most 2 decimals ("1234567.89"), so that no float touches money.
    pub amount: String,
    /// YYYY-MM-DD
    pub date: chrono::NaiveDate,
    pub reference: String,
    pub county: String,
}

/// POST /api/v1/subsidy/receipts
pub async fn receive(
    caller: Caller,
    State(state): State<AppState>,
    JsonBody(req): JsonBody<ReceiptRequest>,
) -> Result<(StatusCode, Json<ReceiptOutcome>), ApiError> {
    caller.require(Permission::SettleMoney)?;
    if req.reference.trim().is_empty() {
        return Err(ApiError::bad_request(
            "reference 不能为空：请填写转付函件或银行流水号 (the transfer letter or bank reference is required)",
        ));
    }
    let outcome = subsidy::receive(
        &state.store,
        &req.county,
        &req.amount,
        req.date,
        &req.reference,
        &caller.actor(),
    )
    .await
    .map_err(|e| match e {
        ReceiptError::Store(e) => e.into(),
        e => ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid",
            message: e.to_string(),
        },
    })?;
    Ok((StatusCode::CREATED, Json(outcome)))
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    pub limit: Option<i64>,
}

#[derive(Serialize)]
pub struct Audit {
    pub entries: Vec<AuditRecord>,
}

/// GET /api/v1/audit?limit=: the newest entries first (at most 1,000).
pub async fn audit(
    caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Audit>, ApiError> {
    caller.require(Permission::ViewAudit)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(Audit {
        entries: state.store.audit_recent(limit).await?,
    }))
}
