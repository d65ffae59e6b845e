//! `pvledger registry export`: writes the ledger as the same six files the import reads,
//! so that importing an export reproduces the ledger. UTF-8 with a byte-order mark, so
//! that Excel shows the Chinese text; English headers and values.

use std::path::Path;

use chrono::NaiveDate;

use super::columns;
use super::model::Ledger;
use crate::store::Store;

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// Writes the six ledger files into `dir` (created when missing); returns (file, rows).
pub async fn export_dir(
    store: &Store,
    dir: &Path,
) -> Result<Vec<(&'static str, usize)>, ExportError> {
    let ledger = store.load_ledger().await?;
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| ExportError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut written = Vec::new();
    for (file, bytes, rows) in render(&ledger) {
        let path = dir.join(file);
        std::fs::write(&path, bytes).map_err(io(&path))?;
        written.push((file, rows));
    }
    Ok(written)
}

/// The six files as bytes: (file name, contents, data rows).
pub fn render(l: &Ledger) -> Vec<(&'static str, Vec<u8>, usize)> {
    let names = |cols: &[columns::Column]| cols.iter().map(|c| c.name).collect::<Vec<_>>();
    vec![
        file(
            "villages.csv",
            &names(columns::VILLAGES),
            l.areas.iter().map(|a| {
                vec![
                    a.code.clone(),
                    a.name.clone(),
                    a.level.to_string(),
                    opt(&a.parent_code),
                    opt(&a.poor_village_code),
                    opt(&a.status),
                ]
            }),
        ),
        file(
            "stations.csv",
            &names(columns::STATIONS),
            l.stations.iter().map(|s| {
                vec![
                    s.code.clone(),
                    s.name.clone(),
                    s.kind.to_string(),
                    s.area_code.clone(),
                    s.dc_capacity_kwp.to_string(),
                    opt(&s.ac_capacity_kw),
                    opt(&s.latitude),
                    opt(&s.longitude),
                    opt(&s.tilt_deg),
                    opt(&s.azimuth_deg),
                    date(s.commissioning_date),
                    date(s.grid_connection_date),
                    opt(&s.subsidy_batch),
                    opt(&s.investment_yuan),
                    opt(&s.funding_source),
                    opt(&s.om_body),
                    opt(&s.om_person),
                    opt(&s.om_phone),
                ]
            }),
        ),
        file(
            "tariffs.csv",
            &names(columns::TARIFFS),
            l.tariffs.iter().map(|t| {
                vec![
                    t.station_code.clone(),
                    date(Some(t.valid_from)),
                    format!("{:.4}", t.total_price.0),
                    format!("{:.4}", t.benchmark_price.0),
                ]
            }),
        ),
        file(
            "shares.csv",
            &names(columns::SHARES),
            l.shares.iter().map(|s| {
                vec![
                    s.station_code.clone(),
                    s.village_code.clone(),
                    s.share.to_string(),
                    s.basis.to_string(),
                    date(Some(s.valid_from)),
                ]
            }),
        ),
        file(
            "gateways.csv",
            columns::GATEWAYS_EXPORT,
            l.gateways.iter().map(|g| {
                vec![
                    g.code.clone(),
                    g.name.clone(),
                    opt(&g.area_code),
                    g.credential_hash.clone(),
                ]
            }),
        ),
        file(
            "devices.csv",
            &names(columns::DEVICES),
            l.devices.iter().map(|d| {
                vec![
                    d.code.clone(),
                    d.station_code.clone(),
                    d.kind.to_string(),
                    opt(&d.vendor),
                    opt(&d.model),
                    opt(&d.serial),
                    opt(&d.rated_ac_kw),
                    opt(&d.dc_kwp),
                    d.protocol.to_string(),
                    opt(&d.host),
                    opt(&d.port),
                    opt(&d.unit_id),
                    opt(&d.profile),
                    opt(&d.gateway_code),
                ]
            }),
        ),
    ]
}

fn file(
    name: &'static str,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> (&'static str, Vec<u8>, usize) {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    let mut count = 0;
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(header).expect("writing to memory");
        for row in rows {
            w.write_record(&row).expect("writing to memory");
            count += 1;
        }
        w.flush().expect("writing to memory");
    }
    (name, out, count)
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

fn date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}
