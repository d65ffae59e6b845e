//! `pvledger registry import`: reads ledger files, checks everything, and applies the
//! changes in one transaction with an audit entry, or nothing at all.

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use super::check;
use super::encoding::{self, SourceEncoding};
use super::fields::LineError;
use super::model::{Gateway, Ledger};
use super::parse::{self, Batch, Credential, FILES};
use super::plan::{self, Changes, FileSummary, Incoming};
use crate::audit::AuditEntry;
use crate::auth;
use crate::store::{Store, dispatch_tx};

/// Why an import changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{} problem(s) found; nothing was changed:\n{}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<LineError>),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no ledger files found in {0} (expected any of: {files})", files = FILES.join(", "))]
    NoFiles(PathBuf),
    #[error("database error during import (nothing was changed): {0}")]
    Store(#[from] sqlx::Error),
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// Each file read and the encoding it was in.
    pub encodings: Vec<(&'static str, SourceEncoding)>,
    pub summary: Vec<FileSummary>,
}

impl ImportReport {
    pub fn changed_anything(&self) -> bool {
        self.summary.iter().any(|s| s.new + s.changed > 0)
    }
}

/// Imports the ledger files present in `dir`.
pub async fn import_dir(
    store: &Store,
    dir: &Path,
    actor: &str,
    progress: bool,
) -> Result<ImportReport, ImportError> {
    let mut files = Vec::new();
    for name in FILES {
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => files.push((*name, bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(ImportError::Read { path, source }),
        }
    }
    if files.is_empty() {
        return Err(ImportError::NoFiles(dir.to_owned()));
    }
    import_files(store, files, &dir.display().to_string(), actor, progress).await
}

/// Imports ledger files given as (file name, bytes); `subject` names the source in the audit log.
pub async fn import_files(
    store: &Store,
    files: Vec<(&'static str, Vec<u8>)>,
    subject: &str,
    actor: &str,
    progress: bool,
) -> Result<ImportReport, ImportError> {
    let mut errors = Vec::new();
    let mut batch = Batch::default();
    let mut encodings = Vec::new();
    for (name, bytes) in &files {
        match encoding::decode(bytes) {
            Ok((text, enc)) => {
                encodings.push((*name, enc));
                parse::parse_file(name, &text, &mut batch, &mut errors);
            }
            Err(reason) => errors.push(LineError {
                file: (*name).into(),
                line: 1,
                column: "-".into(),
                reason,
            }),
        }
    }

    let mut tx = store.begin().await?;
    let current = dispatch_tx!(&mut tx, ledger::load_all())?;
    errors.extend(check::check(&current, &batch));
    let gateways = resolve_credentials(&current, &batch, &mut errors).await;
    if !errors.is_empty() {
        errors.sort_by_key(|e| {
            (
                FILES.iter().position(|f| *f == e.file),
                e.line,
                e.column.clone(),
            )
        });
        return Err(ImportError::Invalid(errors));
    }

    let incoming = Incoming {
        files: files.iter().map(|(n, _)| *n).collect(),
        ledger: Ledger {
            areas: batch.areas.into_iter().map(|r| r.value).collect(),
            stations: batch.stations.into_iter().map(|r| r.value).collect(),
            tariffs: batch.tariffs.into_iter().map(|r| r.value).collect(),
            shares: batch.shares.into_iter().map(|r| r.value).collect(),
            gateways,
            devices: batch.devices.into_iter().map(|r| r.value).collect(),
        },
    };
    let changes = plan::plan(&current, incoming);
    let report = ImportReport {
        encodings,
        summary: changes.summary.clone(),
    };
    if changes.is_empty() {
        return Ok(report);
    }
    write(&mut tx, &changes, progress).await?;
    let entry = AuditEntry {
        actor: actor.to_owned(),
        action: "ledger.import".into(),
        subject: subject.to_owned(),
        detail: serde_json::json!({ "files": changes.summary }),
    };
    dispatch_tx!(&mut tx, audit::append(&entry))?;
    tx.commit().await?;
    tracing::info!(subject, rows = changes.rows(), "ledger import committed");
    Ok(report)
}

/// Turns each gateway row's credential into the hash to store. A plain credential that
/// matches the stored hash keeps that hash, so that re-importing the same file changes
/// nothing (a fresh salt would otherwise make every import an update).
async fn resolve_credentials(
    current: &Ledger,
    batch: &Batch,
    errors: &mut Vec<LineError>,
) -> Vec<Gateway> {
    let work: Vec<(u64, Gateway, Credential, Option<String>)> = batch
        .gateways
        .iter()
        .map(|r| {
            let stored = current
                .gateways
                .iter()
                .find(|g| g.code == r.value.gateway.code)
                .map(|g| g.credential_hash.clone());
            (
                r.line,
                r.value.gateway.clone(),
                r.value.credential.clone(),
                stored,
            )
        })
        .collect();
    if work.is_empty() {
        return Vec::new();
    }
    // Argon2 is deliberately slow: keep it off the async workers.
    let resolved = tokio::task::spawn_blocking(move || {
        work.into_iter()
            .map(|(line, mut gateway, credential, stored)| {
                let hash = match credential {
                    Credential::Hash(h) if auth::is_valid_hash(&h) => Ok(h),
                    Credential::Hash(_) => Err("not a valid argon2 hash".to_owned()),
                    Credential::Plain(p) => match stored {
                        Some(s) if auth::verify_secret(&p, &s) => Ok(s),
                        _ => Ok(auth::hash_secret(&p)),
                    },
                };
                hash.map(|h| {
                    gateway.credential_hash = h;
                    gateway
                })
                .map_err(|reason| (line, reason))
            })
            .collect::<Vec<_>>()
    })
    .await
    .expect("credential hashing does not panic");
    let mut gateways = Vec::new();
    for r in resolved {
        match r {
            Ok(g) => gateways.push(g),
            Err((line, reason)) => errors.push(LineError {
                file: "gateways.csv".into(),
                line,
                column: "credential_hash".into(),
                reason,
            }),
        }
    }
    gateways
}

async fn write(tx: &mut crate::store::Tx, c: &Changes, progress: bool) -> Result<(), sqlx::Error> {
    let bar = if progress && c.rows() >= 200 {
        let bar = ProgressBar::new(c.rows() as u64);
        bar.set_style(
            ProgressStyle::with_template("{msg:>14} [{bar:40}] {pos}/{len} rows ({eta})")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    bar.set_message("villages");
    for a in &c.areas {
        dispatch_tx!(&mut *tx, ledger::upsert_area(a))?;
        bar.inc(1);
    }
    bar.set_message("stations");
    for s in &c.stations {
        dispatch_tx!(&mut *tx, ledger::upsert_station(s))?;
        bar.inc(1);
    }
    bar.set_message("tariffs");
    for t in &c.tariffs {
        dispatch_tx!(&mut *tx, ledger::upsert_tariff(t))?;
        bar.inc(1);
    }
    bar.set_message("shares");
    for set in &c.share_sets {
        dispatch_tx!(&mut *tx, ledger::replace_share_set(set))?;
        bar.inc(set.len() as u64);
    }
    bar.set_message("gateways");
    for g in &c.gateways {
        dispatch_tx!(&mut *tx, ledger::upsert_gateway(g))?;
        bar.inc(1);
    }
    bar.set_message("devices");
    for d in &c.devices {
        dispatch_tx!(&mut *tx, ledger::upsert_device(d))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}
