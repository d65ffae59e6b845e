//! Row types of the alert tables, shared by both backends' copies of alerts_sql.rs.

use serde::Serialize;

use crate::store::Ts;

/// Lifecycle of an alert: open -> acknowledged -> resolved (open -> resolved too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    Acknowledged,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Acknowledged => "acknowledged",
            Status::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [Status::Open, Status::Acknowledged, Status::Resolved]
            .into_iter()
            .find(|x| x.as_str() == s)
    }

    pub fn zh(self) -> &'static str {
        match self {
            Status::Open => "待处理",
            Status::Acknowledged => "处理中",
            Status::Resolved => "已销号",
        }
    }
}

/// A stored alert.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AlertRow {
    pub id: i64,
    pub rule: String,
    pub subject: String,
    pub station_code: Option<String>,
    pub device_code: Option<String>,
    pub gateway_code: Option<String>,
    pub area_code: Option<String>,
    pub om_body: Option<String>,
    pub severity: String,
    pub status: String,
    pub title: String,
    pub detail: String,
    #[serde(skip)]
    pub evidence: String,
    pub opened_at: Ts,
    pub acknowledged_at: Option<Ts>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<Ts>,
    pub resolved_by: Option<String>,
    pub resolution_note: Option<String>,
}

/// One change in an alert's history.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub alert_id: i64,
    pub at: Ts,
    pub actor: String,
    pub action: String,
    pub note: Option<String>,
}

/// An alert about to open.
#[derive(Debug, Clone, Serialize)]
pub struct NewAlert {
    pub rule: String,
    pub subject: String,
    pub station_code: Option<String>,
    pub device_code: Option<String>,
    pub gateway_code: Option<String>,
    pub area_code: Option<String>,
    pub om_body: Option<String>,
    pub severity: String,
    pub title: String,
    pub detail: String,
    pub evidence: serde_json::Value,
}

/// Filters of the alert list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub status: Option<String>,
    pub station: Option<String>,
    pub limit: i64,
}
