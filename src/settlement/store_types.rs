//! Row types of the use-plan and settlement tables, shared by both backends.

use serde::Serialize;

use crate::store::{Dec, Ts};

/// A village's use plan for a year (percentages).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct PlanRow {
    pub village_code: String,
    pub year: i32,
    pub jobs: Dec,
    pub works: Dec,
    pub rewards: Dec,
    pub other: Dec,
}

/// A settlement's head.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct SettlementRow {
    pub id: i64,
    pub county_code: String,
    pub period: String,
    pub status: String,
    pub income_mode: String,
    pub distributable_yuan: Dec,
    pub created_at: Ts,
    pub updated_at: Ts,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct StationRow {
    pub station_code: String,
    pub energy_kwh: Dec,
    pub energy_source: String,
    pub benchmark_price: Dec,
    pub subsidy_price: Dec,
    pub benchmark_income_yuan: Dec,
    pub subsidy_accrued_yuan: Dec,
    pub subsidy_received_yuan: Dec,
    pub deductions_yuan: Dec,
    pub carried_deficit_yuan: Dec,
    pub distributable_yuan: Dec,
    pub deficit_out_yuan: Dec,
    pub telemetry_kwh: Option<Dec>,
    pub reconcile_diff_percent: Option<Dec>,
    pub reconcile_flag: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct VillageRow {
    pub village_code: String,
    pub station_code: String,
    pub share: Dec,
    pub amount_yuan: Dec,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct UseRow {
    pub village_code: String,
    pub use_code: String,
    pub percent: Dec,
    pub amount_yuan: Dec,
}
