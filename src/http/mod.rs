//! The HTTP service: the JSON API under /api/v1 and the health probes.

mod alerts;
mod auth;
pub mod error;
mod health;
mod ingest;
mod ledger;
mod settlement;
mod telemetry;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use chrono::NaiveDate;

use crate::config::Config;
use crate::ingest::Ingest;
use crate::ingest::mqtt::MqttState;
use crate::store::{Store, TimeSeriesMode};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub mode: TimeSeriesMode,
    pub ingest: Ingest,
    pub mqtt: Arc<MqttState>,
}

impl AppState {
    /// Today in the configured time zone (a county's day, not UTC's).
    pub fn today(&self) -> NaiveDate {
        chrono::Utc::now()
            .with_timezone(&self.config.time.zone)
            .date_naive()
    }
}

/// All routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/api/v1/areas", get(ledger::areas))
        .route("/api/v1/villages", get(ledger::villages))
        .route("/api/v1/stations", get(ledger::stations))
        .route("/api/v1/stations/{code}", get(ledger::station))
        .route("/api/v1/stations/{code}/power", get(telemetry::power))
        .route("/api/v1/stations/{code}/energy", get(telemetry::energy))
        .route("/api/v1/devices/{code}", get(ledger::device))
        .route("/api/v1/devices/{code}/latest", get(telemetry::latest))
        .route("/api/v1/ingest", post(ingest::ingest))
        .route("/api/v1/ingest/rejections", get(ingest::rejections))
        .route(
            "/api/v1/settlements",
            get(settlement::list).post(settlement::create),
        )
        .route("/api/v1/settlements/{id}", get(settlement::get))
        .route(
            "/api/v1/settlements/{id}/export.xlsx",
            get(settlement::workbook),
        )
        .route("/api/v1/settlements/{id}/review", post(settlement::review))
        .route(
            "/api/v1/settlements/{id}/approve",
            post(settlement::approve),
        )
        .route(
            "/api/v1/settlements/{id}/villages/{code}",
            get(settlement::village),
        )
        .route("/api/v1/subsidy/receipts", post(settlement::receive))
        .route("/api/v1/audit", get(settlement::audit))
        .route("/api/v1/alerts", get(alerts::list))
        .route("/api/v1/alerts/export.xlsx", get(alerts::export))
        .route("/api/v1/alerts/{id}/ack", post(alerts::ack))
        .route("/api/v1/alerts/{id}/resolve", post(alerts::resolve))
        .fallback(error::fallback)
        .with_state(state)
}
