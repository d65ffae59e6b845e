//! GET /api/v1/assessments?from=&to=&county=: a county's ranked efficacy assessment.

use axum::Json;
use axum::extract::{Query, State};
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
        Ok(r) => Ok(Json(r)),
        Err(AssessError::Store(e)) => Err(e.into()),
        Err(AssessError::UnknownCounty(c)) => Err(ApiError::not_found("county", &c)),
        Err(e) => Err(ApiError::bad_request(e.to_string())),
    }
}
