//! The stored status of an edge gateway, the same type on both backends.

use super::Ts;

/// The stored latest status of a gateway.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct GatewayStatusRow {
    pub gateway_code: String,
    pub received_at: Ts,
    pub sent_at: Ts,
    pub version: String,
    pub outbox_depth: i64,
    pub oldest_unsent: Option<Ts>,
    pub thinned_total: i64,
    pub clock_skew_ms: Option<i64>,
    pub poll_failures: i64,
    pub message: String,
    /// When thinned_total last grew, on the service's clock (set by the store, not parsed).
    pub thinned_at: Option<Ts>,
}
