//! A settlement's CSV files (the contract in the settlement issue), UTF-8 with a BOM so
//! that Excel shows the Chinese text: settlement_stations.csv, settlement_villages.csv,
//! settlement_uses.csv, and settlement_adjustments.csv (corrections of earlier months).

use std::path::Path;

use super::store_types::{AdjustmentRow, SettlementRow, StationRow, UseRow, VillageRow};
use crate::store::{Store, dispatch_tx};

/// The stored lines of a settlement.
pub struct Lines {
    pub stations: Vec<StationRow>,
    pub villages: Vec<VillageRow>,
    pub uses: Vec<UseRow>,
    /// Corrections of earlier months carried by this settlement.
    pub adjustments: Vec<AdjustmentRow>,
}

pub async fn load(store: &Store, id: i64) -> Result<Lines, sqlx::Error> {
    let mut tx = store.begin().await?;
    Ok(Lines {
        stations: dispatch_tx!(&mut tx, settle::stations_of(id))?,
        villages: dispatch_tx!(&mut tx, settle::villages_of(id))?,
        uses: dispatch_tx!(&mut tx, settle::uses_of(id))?,
        adjustments: dispatch_tx!(&mut tx, settle::adjustments_of(id))?,
    })
}

/// Money with exactly two decimals.
fn yuan(d: &crate::store::Dec) -> String {
    format!("{:.2}", d.0)
}

/// The three files as (name, bytes).
pub fn render(s: &SettlementRow, l: &Lines) -> Vec<(&'static str, Vec<u8>)> {
    let p = &s.period;
    let stations = l.stations.iter().map(|r| {
        vec![
            p.clone(),
            r.station_code.clone(),
            r.energy_kwh.to_string(),
            r.energy_source.clone(),
            format!("{:.4}", r.benchmark_price.0),
            format!("{:.4}", r.subsidy_price.0),
            yuan(&r.benchmark_income_yuan),
            yuan(&r.subsidy_accrued_yuan),
            yuan(&r.subsidy_received_yuan),
            yuan(&r.deductions_yuan),
            yuan(&r.carried_deficit_yuan),
            yuan(&r.distributable_yuan),
        ]
    });
    let villages = l.villages.iter().map(|r| {
        vec![
            p.clone(),
            r.village_code.clone(),
            r.station_code.clone(),
            r.share.to_string(),
            yuan(&r.amount_yuan),
        ]
    });
    let uses = l.uses.iter().map(|r| {
        vec![
            p.clone(),
            r.village_code.clone(),
            r.use_code.clone(),
            r.percent.to_string(),
            yuan(&r.amount_yuan),
        ]
    });
    let adjustments = l.adjustments.iter().map(|r| {
        vec![
            p.clone(),
            r.original_settlement_id.to_string(),
            r.original_period.clone(),
            r.station_code.clone(),
            r.village_code.clone(),
            r.reason.clone(),
            yuan(&r.amount_yuan),
        ]
    });
    vec![
        (
            "settlement_stations.csv",
            csv_bytes(
                &[
                    "period",
                    "station_code",
                    "energy_kwh",
                    "energy_source",
                    "benchmark_price",
                    "subsidy_price",
                    "benchmark_income",
                    "subsidy_accrued",
                    "subsidy_received",
                    "deductions",
                    "carried_deficit",
                    "distributable",
                ],
                stations,
            ),
        ),
        (
            "settlement_villages.csv",
            csv_bytes(
                &["period", "village_code", "station_code", "share", "amount"],
                villages,
            ),
        ),
        (
            "settlement_uses.csv",
            csv_bytes(
                &["period", "village_code", "use", "percent", "amount"],
                uses,
            ),
        ),
        (
            "settlement_adjustments.csv",
            csv_bytes(
                &[
                    "period",
                    "original_settlement_id",
                    "original_period",
                    "station_code",
                    "village_code",
                    "reason",
                    "amount",
                ],
                adjustments,
            ),
        ),
    ]
}

/// Writes the files into `dir`.
pub fn write(dir: &Path, s: &SettlementRow, l: &Lines) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    render(s, l)
        .into_iter()
        .map(|(name, bytes)| {
            let path = dir.join(name);
            std::fs::write(&path, bytes).map(|()| path)
        })
        .collect()
}

fn csv_bytes(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(header).expect("writing to memory");
        for r in rows {
            w.write_record(&r).expect("writing to memory");
        }
        w.flush().expect("writing to memory");
    }
    out
}
