//! `pvledger backup FILE`: a consistent copy of the whole database while the service runs.
//!
//! SQLite: `VACUUM INTO`, which reads one snapshot (WAL mode lets writers go on meanwhile)
//! and writes a compact, self-contained database file; restoring is putting that file in
//! place of the database with the service stopped. PostgreSQL: `pg_dump --format=custom`
//! (one snapshot, consistent with concurrent writes), restored with `pg_restore`.

use std::path::Path;

use crate::store::Store;

/// Why a backup was not written.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} 已存在，不会覆盖 (already exists; choose a new file name)")]
    Exists(String),
    #[error("备份目录不存在 / the directory of {0} does not exist")]
    NoDirectory(String),
    #[error(
        "找不到 pg_dump (PostgreSQL client tools): install postgresql-client of the server's major version"
    )]
    NoPgDump,
    #[error("pg_dump failed ({status}): {stderr}")]
    PgDump { status: String, stderr: String },
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Writes a backup of `store` (opened from `url`) to `file`; returns its size in bytes.
pub async fn backup(store: &Store, url: &str, file: &Path) -> Result<u64, BackupError> {
    if file.exists() {
        return Err(BackupError::Exists(file.display().to_string()));
    }
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(BackupError::NoDirectory(file.display().to_string()));
    }
    match store {
        Store::Sqlite(pool) => {
            sqlx::query("VACUUM INTO $1")
                .bind(file.to_string_lossy().as_ref())
                .execute(pool)
                .await?;
        }
        Store::Postgres(_) => {
            let (file_arg, url_arg) = (file.to_owned(), url.to_owned());
            let out = tokio::task::spawn_blocking(move || {
                std::process::Command::new("pg_dump")
                    .arg("--format=custom")
                    .arg("--file")
                    .arg(&file_arg)
                    .arg("--dbname")
                    .arg(&url_arg)
                    .output()
            })
            .await
            .expect("pg_dump runner does not panic")
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => BackupError::NoPgDump,
                _ => BackupError::Io(e),
            })?;
            if !out.status.success() {
                return Err(BackupError::PgDump {
                    status: out.status.to_string(),
                    stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                });
            }
        }
    }
    Ok(std::fs::metadata(file)?.len())
}
