//! The alert tables through the [`Store`]: a cycle's snapshot (a few county-wide reads),
//! applying decisions, and the lifecycle by hand (acknowledge, resolve with a note), each
//! change kept in alert_events and, when a person made it, in the audit log.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::config::AlertsConfig;
use super::cycle::{Decision, Snapshot, production_days};
use super::model::{AlertFilter, AlertRow, EventRow, Status};
use crate::audit::AuditEntry;
use crate::store::{Store, Ts, dispatch, dispatch_tx};

/// The actor of the evaluator's own changes.
pub const SYSTEM: &str = "system:alerts";

/// Why a change by hand was refused.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error("告警 {0} 不存在 (no alert {0})")]
    NotFound(i64),
    #[error("告警 {id} 当前状态为 {status}，不能{action} (alert {id} is {status})")]
    WrongStatus {
        id: i64,
        status: String,
        action: &'static str,
    },
    #[error("销号须填写处理说明 (resolving by hand needs a note)")]
    NoteRequired,
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// Everything one cycle reads: the ledger and six aggregate queries.
pub async fn snapshot(
    store: &Store,
    c: &AlertsConfig,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> Result<Snapshot, sqlx::Error> {
    let ledger = store.load_ledger().await?;
    // Newest reading per device: long enough back to see a silence span begin.
    let lookback = Duration::minutes(i64::try_from(c.silent.minutes).unwrap_or(60).max(60) * 2);
    let latest = dispatch!(store, telemetry::latest_since(Ts(now - lookback)))?;
    let (from, to) = production_days(today, c.under_producing.days);
    let daily = dispatch!(store, alerts::daily_range(from, to))?;
    // A counter glitch to 0 is skipped without a bad interval but flags its reading; a
    // decrease or jump does both. Counting the larger of the two per device counts each
    // anomaly once.
    let since = Ts(now - Duration::hours(i64::from(c.counter.window_hours)));
    let mut bad: HashMap<i64, i64> = dispatch!(store, alerts::bad_intervals_since(since))?
        .into_iter()
        .collect();
    for (device, n) in dispatch!(store, alerts::flagged_since(since))? {
        let e = bad.entry(device).or_default();
        *e = (*e).max(n);
    }
    let window = Duration::minutes(i64::try_from(c.rejections.window_minutes).unwrap_or(15));
    let rejected = dispatch!(store, alerts::rejections_by_gateway(Ts(now - window)))?;
    let gateway_status = dispatch!(store, gateway::all_statuses())?;
    let open = dispatch!(store, alerts::unresolved())?;
    Ok(Snapshot {
        ledger,
        latest: latest.into_iter().map(|r| (r.device_id, r)).collect(),
        daily,
        bad_intervals: bad,
        rejected: rejected.into_iter().collect::<HashMap<_, _>>(),
        gateway_status,
        open,
    })
}

/// What a cycle changed, for notifications.
#[derive(Debug, Default)]
pub struct Applied {
    pub opened: Vec<AlertRow>,
    pub resolved: Vec<AlertRow>,
}

/// Carries out a cycle's decisions in one transaction.
pub async fn apply(
    store: &Store,
    decisions: &[Decision],
    now: DateTime<Utc>,
) -> Result<Applied, sqlx::Error> {
    let mut out = Applied::default();
    if decisions.is_empty() {
        return Ok(out);
    }
    let mut tx = store.begin().await?;
    for d in decisions {
        match d {
            Decision::Open(a) => {
                if let Some(id) = dispatch_tx!(&mut tx, alerts::insert(a, Ts(now)))? {
                    dispatch_tx!(
                        &mut tx,
                        alerts::add_event(id, Ts(now), SYSTEM, "opened", Some(a.title.as_str()))
                    )?;
                    out.opened.extend(dispatch_tx!(&mut tx, alerts::get(id))?);
                }
            }
            Decision::Resolve { id, note } => {
                if dispatch_tx!(&mut tx, alerts::resolve(*id, Ts(now), SYSTEM, note))? {
                    dispatch_tx!(
                        &mut tx,
                        alerts::add_event(*id, Ts(now), SYSTEM, "resolved", Some(note.as_str()))
                    )?;
                    out.resolved
                        .extend(dispatch_tx!(&mut tx, alerts::get(*id))?);
                }
            }
        }
    }
    tx.commit().await?;
    Ok(out)
}

/// Alerts by filter, newest first (at most 1,000 unless a limit is given).
pub async fn list(
    store: &Store,
    status: Option<Status>,
    station: Option<&str>,
    limit: Option<i64>,
) -> Result<Vec<AlertRow>, sqlx::Error> {
    let filter = AlertFilter {
        status: status.map(|s| s.as_str().to_owned()),
        station: station.map(str::to_owned),
        limit: limit.unwrap_or(1000),
    };
    dispatch!(store, alerts::list(&filter))
}

/// Every event of the given alerts, grouped by alert.
pub async fn history(
    store: &Store,
    alerts: &[AlertRow],
) -> Result<HashMap<i64, Vec<EventRow>>, sqlx::Error> {
    let (Some(lo), Some(hi)) = (
        alerts.iter().map(|a| a.id).min(),
        alerts.iter().map(|a| a.id).max(),
    ) else {
        return Ok(HashMap::new());
    };
    let mut out: HashMap<i64, Vec<EventRow>> = HashMap::new();
    for e in dispatch!(store, alerts::events(lo, hi))? {
        out.entry(e.alert_id).or_default().push(e);
    }
    Ok(out)
}

/// Records a notification outcome in the alert's history.
pub async fn note_event(
    store: &Store,
    id: i64,
    action: &str,
    note: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = store.begin().await?;
    dispatch_tx!(
        &mut tx,
        alerts::add_event(id, Ts(Utc::now()), SYSTEM, action, Some(note))
    )?;
    tx.commit().await
}

/// open -> acknowledged by `actor`, with an optional note; audited.
pub async fn acknowledge(
    store: &Store,
    id: i64,
    actor: &str,
    note: Option<&str>,
) -> Result<AlertRow, HandleError> {
    change(store, id, actor, note, "acknowledge").await
}

/// -> resolved by hand with a note (销号); audited.
pub async fn resolve(
    store: &Store,
    id: i64,
    actor: &str,
    note: &str,
) -> Result<AlertRow, HandleError> {
    if note.trim().is_empty() {
        return Err(HandleError::NoteRequired);
    }
    change(store, id, actor, Some(note.trim()), "resolve").await
}

async fn change(
    store: &Store,
    id: i64,
    actor: &str,
    note: Option<&str>,
    action: &'static str,
) -> Result<AlertRow, HandleError> {
    let now = Ts(Utc::now());
    let mut tx = store.begin().await?;
    let before = dispatch_tx!(&mut tx, alerts::get(id))?.ok_or(HandleError::NotFound(id))?;
    let done = match action {
        "acknowledge" => dispatch_tx!(&mut tx, alerts::acknowledge(id, now, actor))?,
        _ => dispatch_tx!(
            &mut tx,
            alerts::resolve(id, now, actor, note.unwrap_or_default())
        )?,
    };
    if !done {
        return Err(HandleError::WrongStatus {
            id,
            status: before.status,
            action: if action == "acknowledge" {
                "确认 (acknowledge)"
            } else {
                "销号 (resolve)"
            },
        });
    }
    let event = if action == "acknowledge" {
        "acknowledged"
    } else {
        "resolved"
    };
    dispatch_tx!(&mut tx, alerts::add_event(id, now, actor, event, note))?;
    dispatch_tx!(
        &mut tx,
        audit::append(&AuditEntry {
            actor: actor.to_owned(),
            action: format!("alert.{action}"),
            subject: format!("alert:{id}"),
            detail: serde_json::json!({"rule": before.rule, "subject": before.subject, "before": before.status, "note": note}),
        })
    )?;
    let after = dispatch_tx!(&mut tx, alerts::get(id))?.ok_or(HandleError::NotFound(id))?;
    tx.commit().await?;
    Ok(after)
}
