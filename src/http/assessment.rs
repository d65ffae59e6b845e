//! GET /api/v1/assessments?from=&to=&county=: a county's ranked efficacy assessment; the
//! same as a workbook (`/export.xlsx`) and as the Chinese PDF report (`/report.pdf`).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use crate::assess::{AssessError, Report};
use crate::auth::Permission;
use crate::auth::accounts::Caller;

#[derive(Debug, Deserialize)]
pub struct Params {
    pub from: Option<String>,
    pub to: Option<String>,
    pub county: Option<String>,
}

fn date(name: &str, v: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map_err(|_| ApiError::bad_request(format!("{name}={v:?} is not a date (YYYY-MM-DD)")))
}

/// The assessment; default period: this year so far.
#[tracing::instrument(skip(state))]
pub async fn assessments(
    caller: Caller,
    State(state): State<AppState>,
    Query(p): Query<Params>,
) -> Result<Json<Report>, ApiError> {
    caller.require(Permission::ViewAssessment)?;
    caller.refuse_village()?;
    Ok(Json(report(&state, &p).await?))
}

/// GET /api/v1/assessments/export.xlsx: the workbook (ranking, flagged stations, one sheet
/// per station's inverters).
#[tracing::instrument(skip(state))]
pub async fn workbook(
    caller: Caller,
    State(state): State<AppState>,
    Query(p): Query<Params>,
) -> Result<Response, ApiError> {
    caller.require(Permission::ViewAssessment)?;
    caller.refuse_village()?;
    let r = report(&state, &p).await?;
    let bytes = crate::assess::export::workbook(&r)
        .and_then(|mut wb| wb.save_to_buffer())
        .map_err(|e| {
            tracing::error!(error = %e, "rendering an assessment workbook");
            ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "render_failed",
                message: "the workbook could not be written".into(),
            }
        })?;
    Ok(attachment(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &format!("assessment_{}_{}_{}.xlsx", r.county, r.from, r.to),
        bytes,
    ))
}

/// GET /api/v1/assessments/report.pdf: the county's report in Chinese.
#[tracing::instrument(skip(state))]
pub async fn report_pdf(
    caller: Caller,
    State(state): State<AppState>,
    Query(p): Query<Params>,
) -> Result<Response, ApiError> {
    caller.require(Permission::ViewAssessment)?;
    caller.refuse_village()?;
    let r = report(&state, &p).await?;
    let name = crate::assess::report::file_name(&r);
    let settings = state.config.report.clone();
    // Font loading (once per process) and layout are CPU work: off the async workers.
    let pdf =
        tokio::task::spawn_blocking(move || {
            let fonts = crate::report::font::load(&settings.font_path, settings.font_index)
                .map_err(|e| ApiError {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    code: "font_missing",
                    message: e.to_string(),
                })?;
            crate::assess::report::render(&r, &fonts).map_err(|e| {
                tracing::error!(error = %e, "rendering an assessment report");
                ApiError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    code: "render_failed",
                    message: "the report could not be written".into(),
                }
            })
        })
        .await
        .expect("rendering does not panic")?;
    Ok(attachment("application/pdf", &name, pdf))
}

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

/// Runs the assessment the parameters ask for (default period: this year so far).
async fn report(state: &AppState, p: &Params) -> Result<Report, ApiError> {
    let today = state.today();
    let to =
        p.to.as_deref()
            .map(|v| date("to", v))
            .transpose()?
            .unwrap_or(today);
    let from = match p.from.as_deref() {
        Some(v) => date("from", v)?,
        None => NaiveDate::from_ymd_opt(to.year(), 1, 1).expect("1 January exists"),
    };
    match crate::assess::run(&state.store, &state.config, from, to, p.county.as_deref()).await {
        Ok(r) => Ok(r),
        Err(AssessError::Store(e)) => Err(e.into()),
        Err(AssessError::UnknownCounty(c)) => Err(ApiError::not_found("county", &c)),
        Err(e) => Err(ApiError::bad_request(e.to_string())),
    }
}
