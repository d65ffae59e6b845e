//! `pvledger subsidy receive`: a lump sum of renewable-energy subsidy reaches the county's
//! carry-over account. It pays off the oldest outstanding subsidy receivables first (what
//! settled months accrued, less what earlier receipts paid), split among the stations of a
//! period in proportion to what each is owed; what is left is an unallocated credit.
//! Stored and audited in one transaction.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use serde::Serialize;

use super::money::{from_fen, to_fen};
use super::period::Period;
use super::receipts::{Receivable, apply_receipt};
use crate::audit::AuditEntry;
use crate::store::{Dec, Store, Ts, dispatch_tx};

/// What a receipt paid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReceiptOutcome {
    pub receipt_id: i64,
    /// (station, period, paid 元), oldest period first.
    pub payments: Vec<(String, String, Dec)>,
    pub credit: Dec,
}

/// Why a receipt was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("金额 {0} 无效 (the amount must be positive with at most 2 decimals)")]
    Amount(String),
    #[error("{0} 不是县级区划 (is not a county in the ledger)")]
    UnknownCounty(String),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// Records a receipt for `county` and applies it.
pub async fn receive(
    store: &Store,
    county: &str,
    amount: &str,
    received_on: NaiveDate,
    reference: &str,
    actor: &str,
) -> Result<ReceiptOutcome, ReceiptError> {
    let amount_yuan = super::money::parse_yuan(amount)
        .ok()
        .filter(|a| a.is_sign_positive() && !a.is_zero())
        .ok_or_else(|| ReceiptError::Amount(amount.into()))?;
    let amount_fen = to_fen(amount_yuan).map_err(|_| ReceiptError::Amount(amount.into()))?;
    let mut tx = store.begin().await?;
    let ledger = dispatch_tx!(&mut tx, ledger::load_all())?;
    if !ledger
        .areas
        .iter()
        .any(|a| a.code == county && a.level == crate::ledger::model::AreaLevel::County)
    {
        return Err(ReceiptError::UnknownCounty(county.into()));
    }
    // Outstanding = accrued - paid, per (station, period).
    let mut owed: BTreeMap<(String, String), i64> = BTreeMap::new();
    for (station, period, accrued) in dispatch_tx!(&mut tx, settle::accrued_subsidy(county))? {
        *owed.entry((station, period)).or_default() += to_fen(accrued.0).unwrap_or(0);
    }
    for (station, period, paid) in dispatch_tx!(&mut tx, settle::paid_subsidy(county))? {
        *owed.entry((station, period)).or_default() -= to_fen(paid.0).unwrap_or(0);
    }
    let receivables: Vec<Receivable<String>> = owed
        .into_iter()
        .filter(|(_, fen)| *fen > 0)
        .filter_map(|((station, period), fen)| {
            Some(Receivable {
                station,
                period: period.parse::<Period>().ok()?,
                outstanding_fen: fen,
            })
        })
        .collect();
    let applied =
        apply_receipt(amount_fen, &receivables).map_err(|_| ReceiptError::Amount(amount.into()))?;
    let credit = Dec(from_fen(applied.credit_fen));
    let id = dispatch_tx!(
        &mut tx,
        settle::insert_receipt(
            county,
            received_on,
            Dec(amount_yuan),
            reference,
            credit,
            Ts(Utc::now())
        )
    )?;
    let mut payments = Vec::new();
    for p in &applied.payments {
        let paid = Dec(from_fen(p.paid_fen));
        dispatch_tx!(
            &mut tx,
            settle::insert_payment(id, &p.station, &p.period.to_string(), paid)
        )?;
        payments.push((p.station.clone(), p.period.to_string(), paid));
    }
    let entry = AuditEntry {
        actor: actor.into(),
        action: "subsidy.receive".into(),
        subject: format!("{county} {reference}"),
        detail: serde_json::json!({ "receipt_id": id, "amount": Dec(amount_yuan), "received_on": received_on, "payments": payments.len(), "credit": credit }),
    };
    dispatch_tx!(&mut tx, audit::append(&entry))?;
    tx.commit().await?;
    Ok(ReceiptOutcome {
        receipt_id: id,
        payments,
        credit,
    })
}
