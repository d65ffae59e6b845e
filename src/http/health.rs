//! Probes for load balancers and service managers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::AppState;

/// The process is up and serving.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// The database answers; 503 otherwise, so that traffic goes elsewhere.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = state.store.backend().name();
    if state.store.ping().await {
        (
            StatusCode::OK,
            Json(
                json!({ "status": "ready", "database": database, "timeseries": state.mode, "mqtt": state.mqtt.name() }),
            ),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({ "status": "unavailable", "database": database, "error": "database unreachable" }),
            ),
        )
    }
}
