//! Keeps this process's [`Snapshot`] of the ledger current. Each use compares the ledger's
//! version (`versions.ledger`, migration 0018), which triggers move on in the transaction of
//! every change to areas, stations or devices, whoever makes it, with the snapshot's; a new
//! number reloads the three tables. The version is read once per request (an API request
//! reads it with the caller's token, `http::auth`). An answer is thus never older than the
//! last change committed before it began, as when every request read the tables itself.

use std::sync::{Arc, RwLock};

use super::snapshot::Snapshot;
use crate::store::{Store, dispatch};

/// The current snapshot and the lock that lets one request reload it while others wait.
pub struct LedgerCache {
    current: RwLock<Arc<Snapshot>>,
    reload: tokio::sync::Mutex<()>,
}

impl Default for LedgerCache {
    fn default() -> Self {
        LedgerCache {
            // Version -1 is never stored: the first use loads.
            current: RwLock::new(Arc::new(Snapshot::new(-1, vec![], vec![], vec![]))),
            reload: tokio::sync::Mutex::new(()),
        }
    }
}

impl LedgerCache {
    /// The ledger as of now.
    pub async fn get(&self, store: &Store) -> Result<Arc<Snapshot>, sqlx::Error> {
        let version = dispatch!(store, versions::read())?.ledger;
        self.at(store, version).await
    }

    /// The ledger as of `version` (read from `versions` by the caller) or later.
    pub async fn at(&self, store: &Store, version: i64) -> Result<Arc<Snapshot>, sqlx::Error> {
        if let Some(current) = self.at_least(version) {
            return Ok(current);
        }
        let _one_at_a_time = self.reload.lock().await;
        if let Some(current) = self.at_least(version) {
            return Ok(current);
        }
        // The number is read before the tables: a change committed in between makes the
        // copy newer than its number, and the next use reloads it. Never older.
        let areas = dispatch!(store, ledger::list_areas(None))?;
        let stations = dispatch!(store, ledger::list_stations(None))?;
        let devices = dispatch!(store, ledger::list_devices())?;
        let snapshot = Arc::new(Snapshot::new(version, areas, stations, devices));
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = snapshot.clone();
        tracing::debug!(version, "ledger snapshot reloaded");
        Ok(snapshot)
    }

    /// The current snapshot if it is of `version` or later.
    fn at_least(&self, version: i64) -> Option<Arc<Snapshot>> {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        (current.version >= version).then(|| current.clone())
    }
}
