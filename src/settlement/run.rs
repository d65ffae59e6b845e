//! Runs a month's settlement for a county: gathers the inputs (ledger, grid statements,
//! telemetry rollups, last month's deficits, use plans), computes with [`super::compute`],
//! and stores the result as a draft in one transaction with its audit entry. Reviewed and
//! approved settlements are immutable; a draft is replaced when recomputed.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;

use super::adjust::{self, Adjustment};
use super::compute::{self, Computed, Rules, StationInput};
use super::income::{IncomeMode, Tariff};
use super::money::from_fen;
use super::period::Period;
use super::plan::{PlanRules, UsePlan, ValidPlan};
use super::store_types::{AdjustmentRow, SettlementRow, StationRow, UseRow, VillageRow};
use super::terms::{self, StationTermsRow, Terms};
use crate::audit::AuditEntry;
use crate::config::SettlementConfig;
use crate::ledger::model::{AreaLevel, DeviceKind, in_force};
use crate::store::{Dec, Store, Ts, Tx, dispatch_tx};

/// Why a settlement was not stored.
#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    #[error("结算无法进行 / the settlement cannot be computed:\n{}", .0.join("\n"))]
    Invalid(Vec<String>),
    #[error("{0} 不是县级区划 (is not a county in the ledger)")]
    UnknownCounty(String),
    #[error("需要指定县 (--county): the ledger has {0} counties")]
    CountyRequired(usize),
    #[error(
        "{county} {period} 的结算已{status_zh}，不可重算 (the settlement is {status}; it can no longer be recomputed)"
    )]
    Locked {
        county: String,
        period: String,
        status: String,
        status_zh: &'static str,
    },
    #[error("settlement {0} not found")]
    NotFound(i64),
    #[error(
        "结算 {id} 状态为 {status}，不能执行 {action} (settlement {id} is {status}; cannot {action})"
    )]
    WrongStatus {
        id: i64,
        status: String,
        action: &'static str,
    },
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// The county's rules from configuration (validated at start-up).
pub fn rules(c: &SettlementConfig) -> (Rules, PlanRules) {
    let d = |k: &str| c.decimal(k).expect("validated at start-up");
    let rules = Rules {
        mode: if c.income_mode == "accrued" {
            IncomeMode::Accrued
        } else {
            IncomeMode::Received
        },
        om_yuan_per_kwp_year: d("om_yuan_per_kwp_year"),
        land_rent_yuan_per_year: d("land_rent_yuan_per_year"),
        insurance_yuan_per_year: d("insurance_yuan_per_year"),
        vat_rate: d("vat_rate"),
        vat_refund_share: d("vat_refund_share"),
        reconcile_threshold_percent: d("reconcile_threshold_percent"),
    };
    (
        rules,
        PlanRules {
            jobs_floor_percent: d("jobs_floor_percent"),
            other_allowed: c.other_allowed,
        },
    )
}

/// Computes and stores the draft settlement of `county` (or the ledger's only county),
/// with adjustment lines for reviewed or approved months whose inputs changed since.
pub async fn settle(
    store: &Store,
    config: &SettlementConfig,
    county: Option<&str>,
    period: Period,
    actor: &str,
) -> Result<(SettlementRow, Computed), SettleError> {
    let (rules, plan_rules) = rules(config);
    let mut tx = store.begin().await?;
    let ledger = dispatch_tx!(&mut tx, ledger::load_all())?;
    let counties: Vec<&str> = ledger
        .areas
        .iter()
        .filter(|a| a.level == AreaLevel::County)
        .map(|a| a.code.as_str())
        .collect();
    let county = match county {
        Some(c) if counties.contains(&c) => c.to_owned(),
        Some(c) => return Err(SettleError::UnknownCounty(c.to_owned())),
        None if counties.len() == 1 => counties[0].to_owned(),
        None => return Err(SettleError::CountyRequired(counties.len())),
    };
    let ctx = Context::new(&mut tx, &ledger, &county, rules.default_terms()).await?;

    // Earlier months that can no longer change, recomputed with today's inputs.
    let oldest = (0..config.adjustment_lookback_months)
        .try_fold(period, |p, _| p.prev())
        .unwrap_or(period)
        .to_string();
    let locked = dispatch_tx!(
        &mut tx,
        settle::locked_before(&county, &period.to_string(), &oldest)
    )?;
    let carried = dispatch_tx!(&mut tx, settle::locked_adjustments(&county))?;
    let mut adjustments = Vec::new();
    for original in &locked {
        let Ok(p) = original.period.parse::<Period>() else {
            continue;
        };
        let inputs = ctx.gather(&mut tx, p, &plan_rules).await?;
        let Ok(now) = compute::settle(p, &inputs.stations, &inputs.plans, &rules, &BTreeMap::new())
        else {
            // Inputs of an old month no longer complete (e.g. a station since retired):
            // nothing to correct automatically; the original stands.
            tracing::warn!(period = %p, "an earlier month cannot be recomputed; no adjustment");
            continue;
        };
        let stations = dispatch_tx!(&mut tx, settle::stations_of(original.id))?;
        let villages = dispatch_tx!(&mut tx, settle::villages_of(original.id))?;
        let already: Vec<AdjustmentRow> = carried
            .iter()
            .filter(|a| a.original_settlement_id == original.id)
            .cloned()
            .collect();
        adjustments.extend(adjust::corrections(
            &adjust::Original {
                settlement_id: original.id,
                period: &original.period,
                stations: &stations,
                villages: &villages,
                carried: &already,
            },
            &now,
        ));
    }
    let mut per_village: BTreeMap<String, i64> = BTreeMap::new();
    for a in &adjustments {
        *per_village.entry(a.village_code.clone()).or_default() += a.amount_fen;
    }

    let inputs = ctx.gather(&mut tx, period, &plan_rules).await?;
    let mut problems = inputs.problems;
    let computed = match compute::settle(
        period,
        &inputs.stations,
        &inputs.plans,
        &rules,
        &per_village,
    ) {
        Ok(c) if problems.is_empty() => c,
        Ok(_) => return Err(SettleError::Invalid(problems)),
        Err(mut more) => {
            problems.append(&mut more);
            return Err(SettleError::Invalid(problems));
        }
    };
    let row = store_draft(
        &mut tx,
        &county,
        period,
        &rules,
        &computed,
        &adjustments,
        actor,
    )
    .await?;
    tx.commit().await?;
    Ok((row, computed))
}

/// What a month's computation needs from the database.
struct Inputs {
    stations: Vec<StationInput>,
    plans: HashMap<String, ValidPlan>,
    /// Use plans that do not validate, as messages.
    problems: Vec<String>,
}

/// The county's ledger, indexed once, to gather the inputs of any month.
struct Context<'l> {
    county: String,
    stations: Vec<&'l crate::ledger::model::Station>,
    devices: HashMap<i64, &'l crate::ledger::model::Device>,
    device_ids: Vec<i64>,
    tariffs: HashMap<&'l str, Vec<&'l crate::ledger::model::Tariff>>,
    shares: HashMap<&'l str, Vec<&'l crate::ledger::model::Share>>,
    terms: HashMap<String, Vec<StationTermsRow>>,
    default_terms: Terms,
}

impl<'l> Context<'l> {
    async fn new(
        tx: &mut Tx,
        ledger: &'l crate::ledger::model::Ledger,
        county: &str,
        default_terms: Terms,
    ) -> Result<Self, sqlx::Error> {
        // Areas in the county: walk the parent links down from it.
        let mut inside: HashSet<&str> = HashSet::from([county]);
        loop {
            let before = inside.len();
            for a in &ledger.areas {
                if a.parent_code.as_deref().is_some_and(|p| inside.contains(p)) {
                    inside.insert(a.code.as_str());
                }
            }
            if inside.len() == before {
                break;
            }
        }
        // Indexed by station once: a province has thousands of stations.
        let mut tariffs: HashMap<&str, Vec<_>> = HashMap::new();
        for t in &ledger.tariffs {
            tariffs.entry(t.station_code.as_str()).or_default().push(t);
        }
        let mut shares: HashMap<&str, Vec<_>> = HashMap::new();
        for x in &ledger.shares {
            shares.entry(x.station_code.as_str()).or_default().push(x);
        }
        let mut terms: HashMap<String, Vec<StationTermsRow>> = HashMap::new();
        for t in dispatch_tx!(&mut *tx, settle::all_terms())? {
            terms.entry(t.station_code.clone()).or_default().push(t);
        }
        Ok(Context {
            county: county.to_owned(),
            stations: ledger
                .stations
                .iter()
                .filter(|s| inside.contains(s.area_code.as_str()))
                .collect(),
            devices: ledger.devices.iter().map(|d| (d.id, d)).collect(),
            device_ids: ledger.devices.iter().map(|d| d.id).collect(),
            tariffs,
            shares,
            terms,
            default_terms,
        })
    }

    /// The inputs of `period` as the database holds them now.
    async fn gather(
        &self,
        tx: &mut Tx,
        period: Period,
        plan_rules: &PlanRules,
    ) -> Result<Inputs, sqlx::Error> {
        let county = self.county.as_str();
        let (y, m, _) = period.first_day();
        let first = NaiveDate::from_ymd_opt(y, m, 1).expect("a valid period");
        let last = NaiveDate::from_ymd_opt(y, m, period.days_in_month()).expect("a valid period");
        let grid: HashMap<String, Decimal> = dispatch_tx!(&mut *tx, grid::all())?
            .into_iter()
            .filter(|g| g.period == period.to_string())
            .map(|g| (g.station_code, g.export_kwh.0))
            .collect();
        let previous = period.prev().map(|p| p.to_string()).unwrap_or_default();
        let deficits: HashMap<String, Decimal> =
            dispatch_tx!(&mut *tx, settle::deficits(county, &previous))?
                .into_iter()
                .map(|(s, d)| (s, d.0))
                .collect();
        // Subsidy that arrived this month (receipt dates), per station.
        let mut received: HashMap<String, i64> = HashMap::new();
        for (station, paid) in
            dispatch_tx!(&mut *tx, settle::received_between(county, first, last))?
        {
            *received.entry(station).or_default() += super::money::to_fen(paid.0).unwrap_or(0);
        }
        let daily = dispatch_tx!(&mut *tx, telemetry::daily(&self.device_ids, first, last))?;
        let mut meter: HashMap<&str, f64> = HashMap::new();
        let mut inverters: HashMap<&str, f64> = HashMap::new();
        for row in &daily {
            if let Some(d) = self.devices.get(&row.device_id) {
                let sums = match d.kind {
                    DeviceKind::Meter => &mut meter,
                    DeviceKind::Inverter => &mut inverters,
                    _ => continue,
                };
                *sums.entry(d.station_code.as_str()).or_default() += row.energy_kwh;
            }
        }
        let kwh = |v: Option<&f64>| v.and_then(|x| Decimal::from_f64(*x)).map(|d| d.round_dp(3));
        let mut stations = Vec::new();
        for s in &self.stations {
            let code = s.code.as_str();
            let tariffs = self
                .tariffs
                .get(code)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let shares = self.shares.get(code).map(Vec::as_slice).unwrap_or_default();
            let tariff = in_force(tariffs, first, |t| t.valid_from)
                .first()
                .map(|t| Tariff {
                    total_price: t.total_price.0,
                    benchmark_price: t.benchmark_price.0,
                });
            let mut shares: Vec<(String, Decimal)> = in_force(shares, first, |x| x.valid_from)
                .iter()
                .map(|x| (x.village_code.clone(), x.share.0))
                .collect();
            shares.sort();
            let terms_rows: Vec<&StationTermsRow> = self
                .terms
                .get(code)
                .map(|rows| rows.iter().collect())
                .unwrap_or_default();
            let deficit = deficits.get(code).copied().unwrap_or_default();
            stations.push(StationInput {
                code: s.code.clone(),
                dc_kwp: s.dc_capacity_kwp.0,
                tariff,
                grid_kwh: grid.get(code).copied(),
                meter_kwh: kwh(meter.get(code)),
                inverter_kwh: kwh(inverters.get(code)),
                shares,
                deficit_in_fen: (deficit * Decimal::ONE_HUNDRED)
                    .round()
                    .try_into()
                    .unwrap_or(0),
                subsidy_received_fen: received.get(code).copied().unwrap_or(0),
                terms: terms::effective(&terms_rows, first, &self.default_terms),
            });
        }
        let mut problems = Vec::new();
        let mut plans = HashMap::new();
        for p in dispatch_tx!(&mut *tx, settle::plans_for_year(y))? {
            let plan = UsePlan {
                jobs: p.jobs.0,
                works: p.works.0,
                rewards: p.rewards.0,
                other: p.other.0,
            };
            match plan.validate(plan_rules) {
                Ok(v) => {
                    plans.insert(p.village_code, v);
                }
                Err(e) => problems.push(format!("村 {} {y} 年计划: {e}", p.village_code)),
            }
        }
        Ok(Inputs {
            stations,
            plans,
            problems,
        })
    }
}

async fn store_draft(
    tx: &mut Tx,
    county: &str,
    period: Period,
    rules: &Rules,
    c: &Computed,
    adjustments: &[Adjustment],
    actor: &str,
) -> Result<SettlementRow, SettleError> {
    let now = Ts(Utc::now());
    let existing = dispatch_tx!(&mut *tx, settle::find(county, &period.to_string()))?;
    let before = existing.as_ref().map(|e| e.distributable_yuan);
    if let Some(e) = &existing {
        if e.status != "draft" {
            let status_zh = if e.status == "approved" {
                "批准"
            } else {
                "审核"
            };
            return Err(SettleError::Locked {
                county: county.into(),
                period: period.to_string(),
                status: e.status.clone(),
                status_zh,
            });
        }
        dispatch_tx!(&mut *tx, settle::delete(e.id))?;
    }
    let mut row = SettlementRow {
        id: 0,
        county_code: county.into(),
        period: period.to_string(),
        status: "draft".into(),
        income_mode: if rules.mode == IncomeMode::Accrued {
            "accrued"
        } else {
            "received"
        }
        .into(),
        distributable_yuan: Dec(from_fen(c.distributable_fen)),
        adjustments_yuan: Dec(from_fen(c.adjustments_fen)),
        created_at: now,
        updated_at: now,
    };
    row.id = dispatch_tx!(&mut *tx, settle::insert(&row))?;
    let stations: Vec<StationRow> = c
        .stations
        .iter()
        .map(|s| StationRow {
            station_code: s.station_code.clone(),
            energy_kwh: Dec(s.energy_kwh),
            energy_source: s.energy_source.as_str().into(),
            benchmark_price: Dec(s.benchmark_price),
            subsidy_price: Dec(s.subsidy_price),
            benchmark_income_yuan: Dec(from_fen(s.benchmark_income_fen)),
            subsidy_accrued_yuan: Dec(from_fen(s.subsidy_accrued_fen)),
            subsidy_received_yuan: Dec(from_fen(s.subsidy_received_fen)),
            deductions_yuan: Dec(from_fen(s.deductions_fen)),
            carried_deficit_yuan: Dec(from_fen(s.carried_deficit_fen)),
            distributable_yuan: Dec(from_fen(s.distributable_fen)),
            deficit_out_yuan: Dec(from_fen(s.deficit_out_fen)),
            telemetry_kwh: s.telemetry_kwh.map(Dec),
            reconcile_diff_percent: s.reconcile_diff_percent.map(Dec),
            reconcile_flag: s.reconcile_flag,
        })
        .collect();
    let villages: Vec<VillageRow> = c
        .villages
        .iter()
        .map(|v| VillageRow {
            village_code: v.village_code.clone(),
            station_code: v.station_code.clone(),
            share: Dec(v.share),
            amount_yuan: Dec(from_fen(v.amount_fen)),
        })
        .collect();
    let uses: Vec<UseRow> = c
        .uses
        .iter()
        .map(|u| UseRow {
            village_code: u.village_code.clone(),
            use_code: u.use_code.into(),
            percent: Dec(u.percent),
            amount_yuan: Dec(from_fen(u.amount_fen)),
        })
        .collect();
    // Multi-row inserts: a province month is ~45,000 lines.
    dispatch_tx!(&mut *tx, settle::insert_stations(row.id, &stations))?;
    dispatch_tx!(&mut *tx, settle::insert_villages(row.id, &villages))?;
    dispatch_tx!(&mut *tx, settle::insert_uses(row.id, &uses))?;
    let adjustment_rows: Vec<AdjustmentRow> = adjustments
        .iter()
        .map(|a| AdjustmentRow {
            original_settlement_id: a.original_settlement_id,
            original_period: a.original_period.clone(),
            station_code: a.station_code.clone(),
            village_code: a.village_code.clone(),
            reason: a.reason.clone(),
            amount_yuan: Dec(from_fen(a.amount_fen)),
        })
        .collect();
    dispatch_tx!(
        &mut *tx,
        settle::insert_adjustments(row.id, &adjustment_rows)
    )?;
    let entry = AuditEntry {
        actor: actor.into(),
        action: "settlement.compute".into(),
        subject: format!("{county} {period}"),
        detail: serde_json::json!({
            "settlement_id": row.id,
            "distributable_before": before,
            "distributable_after": row.distributable_yuan,
            "stations": c.stations.len(),
            "estimates": c.stations.iter().filter(|s| s.estimate).count(),
            "reconcile_flags": c.stations.iter().filter(|s| s.reconcile_flag).count(),
            "adjustments": adjustments.len(),
            "adjustments_total": row.adjustments_yuan,
        }),
    };
    dispatch_tx!(&mut *tx, audit::append(&entry))?;
    Ok(row)
}

/// draft -> reviewed, or reviewed -> approved; audited.
pub async fn advance(
    store: &Store,
    id: i64,
    action: &'static str,
    actor: &str,
) -> Result<SettlementRow, SettleError> {
    let (from, to) = match action {
        "review" => ("draft", "reviewed"),
        _ => ("reviewed", "approved"),
    };
    let mut tx = store.begin().await?;
    let mut row = dispatch_tx!(&mut tx, settle::get(id))?.ok_or(SettleError::NotFound(id))?;
    if row.status != from {
        return Err(SettleError::WrongStatus {
            id,
            status: row.status,
            action,
        });
    }
    let now = Ts(Utc::now());
    dispatch_tx!(&mut tx, settle::set_status(id, to, now))?;
    let entry = AuditEntry {
        actor: actor.into(),
        action: format!("settlement.{action}"),
        subject: format!("{} {}", row.county_code, row.period),
        detail: serde_json::json!({ "settlement_id": id, "from": from, "to": to, "distributable": row.distributable_yuan }),
    };
    dispatch_tx!(&mut tx, audit::append(&entry))?;
    tx.commit().await?;
    row.status = to.into();
    row.updated_at = now;
    Ok(row)
}
