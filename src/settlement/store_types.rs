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
    #[serde(serialize_with = "yuan")]
    pub distributable_yuan: Dec,
    /// Corrections of earlier months carried in this one (see [`AdjustmentRow`]).
    #[serde(serialize_with = "yuan")]
    pub adjustments_yuan: Dec,
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
    #[serde(serialize_with = "yuan")]
    pub benchmark_income_yuan: Dec,
    #[serde(serialize_with = "yuan")]
    pub subsidy_accrued_yuan: Dec,
    #[serde(serialize_with = "yuan")]
    pub subsidy_received_yuan: Dec,
    #[serde(serialize_with = "yuan")]
    pub deductions_yuan: Dec,
    #[serde(serialize_with = "yuan")]
    pub carried_deficit_yuan: Dec,
    #[serde(serialize_with = "yuan")]
    pub distributable_yuan: Dec,
    #[serde(serialize_with = "yuan")]
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
    #[serde(serialize_with = "yuan")]
    pub amount_yuan: Dec,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct UseRow {
    pub village_code: String,
    pub use_code: String,
    pub percent: Dec,
    #[serde(serialize_with = "yuan")]
    pub amount_yuan: Dec,
}

/// A correction of a reviewed or approved month, carried in a later settlement.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AdjustmentRow {
    pub original_settlement_id: i64,
    pub original_period: String,
    pub station_code: String,
    pub village_code: String,
    pub reason: String,
    #[serde(serialize_with = "yuan")]
    pub amount_yuan: Dec,
}

/// Money in JSON: a string with exactly two decimals ("9960.00"), never a float.
fn yuan<S: serde::Serializer>(d: &Dec, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{:.2}", d.0))
}
