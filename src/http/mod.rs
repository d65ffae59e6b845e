//! The HTTP service: the JSON API under /api/v1 (its routes listed once in [`api_routes`],
//! which the router, the OpenAPI check and the authorization test all use), the health
//! probes, and the web pages of [`crate::pages`], behind the browser-session layer.

mod alerts;
mod assessment;
mod auth;
pub mod error;
pub(crate) mod gateway;
mod health;
mod ingest;
pub(crate) mod ledger;
mod metrics;
mod openapi;
pub mod session;
mod settlement;
mod sized_json;
mod telemetry;

use std::sync::Arc;

use axum::Router;
use axum::routing::{MethodRouter, get, post};
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
    /// Outcomes and durations of this process's Modbus polls.
    pub polls: Arc<crate::modbus::stats::PollStats>,
    /// Login attempts per client address.
    pub login_limiter: Arc<crate::auth::limiter::LoginLimiter>,
    /// Modbus endpoints (host:port) this process holds a lease on and polls (for /metrics).
    pub modbus_units_held: Arc<std::sync::atomic::AtomicUsize>,
    /// Areas, stations and devices in memory, kept current (the station list, series).
    pub ledger: Arc<crate::ledger::cache::LedgerCache>,
    /// Callers of API tokens, kept while accounts do not change.
    pub tokens: Arc<crate::auth::token_cache::TokenCache>,
    /// How far counting each station's daylight at start has got (for /metrics).
    pub daylight: Arc<crate::daylight_warmup::Progress>,
}

impl AppState {
    /// Today in the configured time zone (a county's day, not UTC's).
    pub fn today(&self) -> NaiveDate {
        chrono::Utc::now()
            .with_timezone(&self.config.time.zone)
            .date_naive()
    }

    /// Session expiry and lock-out rules.
    pub fn session_policy(&self) -> crate::auth::sessions::Policy {
        crate::auth::sessions::Policy::from_config(&self.config.http)
    }
}

/// One route of the JSON API: method, path (axum syntax) and handler.
pub struct ApiRoute {
    pub method: &'static str,
    pub path: &'static str,
    handler: MethodRouter<AppState>,
}

fn api(method: &'static str, path: &'static str, handler: MethodRouter<AppState>) -> ApiRoute {
    ApiRoute {
        method,
        path,
        handler,
    }
}

/// Every route of the JSON API, in one place: the router is built from it, and the tests
/// compare it with the OpenAPI document and the authorization table.
pub fn api_routes() -> Vec<ApiRoute> {
    vec![
        api("GET", "/api/v1/openapi.json", get(openapi::document)),
        api("GET", "/api/v1/areas", get(ledger::areas)),
        api("GET", "/api/v1/villages", get(ledger::villages)),
        api("GET", "/api/v1/stations", get(ledger::stations)),
        api("GET", "/api/v1/stations/{code}", get(ledger::station)),
        api(
            "GET",
            "/api/v1/stations/{code}/power",
            get(telemetry::power),
        ),
        api(
            "GET",
            "/api/v1/stations/{code}/energy",
            get(telemetry::energy),
        ),
        api("GET", "/api/v1/devices/{code}", get(ledger::device)),
        api("GET", "/api/v1/gateways/{code}", get(gateway::gateway)),
        api(
            "GET",
            "/api/v1/devices/{code}/latest",
            get(telemetry::latest),
        ),
        api("POST", "/api/v1/ingest", post(ingest::ingest)),
        api("GET", "/api/v1/ingest/rejections", get(ingest::rejections)),
        api("GET", "/api/v1/settlements", get(settlement::list)),
        api("POST", "/api/v1/settlements", post(settlement::create)),
        api("GET", "/api/v1/settlements/{id}", get(settlement::get)),
        api(
            "GET",
            "/api/v1/settlements/{id}/export.xlsx",
            get(settlement::workbook),
        ),
        api(
            "POST",
            "/api/v1/settlements/{id}/review",
            post(settlement::review),
        ),
        api(
            "POST",
            "/api/v1/settlements/{id}/approve",
            post(settlement::approve),
        ),
        api(
            "GET",
            "/api/v1/settlements/{id}/villages/{code}",
            get(settlement::village),
        ),
        api(
            "POST",
            "/api/v1/subsidy/receipts",
            post(settlement::receive),
        ),
        api("GET", "/api/v1/audit", get(settlement::audit)),
        api("GET", "/api/v1/assessments", get(assessment::assessments)),
        api("GET", "/api/v1/alerts", get(alerts::list)),
        api("GET", "/api/v1/alerts/export.xlsx", get(alerts::export)),
        api("POST", "/api/v1/alerts/{id}/ack", post(alerts::ack)),
        api("POST", "/api/v1/alerts/{id}/resolve", post(alerts::resolve)),
        api(
            "GET",
            "/api/v1/assessments/export.xlsx",
            get(assessment::workbook),
        ),
        api(
            "GET",
            "/api/v1/assessments/report.pdf",
            get(assessment::report_pdf),
        ),
    ]
}

/// All routes.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics));
    for r in api_routes() {
        router = router.route(r.path, r.handler);
    }
    router
        .merge(crate::pages::router())
        .fallback(error::fallback)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::layer,
        ))
        .with_state(state)
}
