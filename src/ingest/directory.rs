//! Which devices and gateways exist: a snapshot of the ledger that ingest consults for
//! every reading, reloaded when an unknown code shows up (a device just added to the
//! ledger is accepted within seconds, without a restart).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::ledger::model::DeviceKind;
use crate::store::Store;

/// What ingest needs to know about a device.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    pub id: i64,
    pub code: String,
    pub station_code: String,
    pub kind: DeviceKind,
    pub gateway_code: Option<String>,
    /// Bound for plausible counter rises: the inverter's rated AC power, or for a meter
    /// its station's AC (else DC) capacity.
    pub rated_kw: Option<f64>,
}

/// The ledger as ingest sees it.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub devices: HashMap<String, DeviceInfo>,
    pub by_id: HashMap<i64, DeviceInfo>,
    /// Gateway code -> argon2 hash of its credential.
    pub gateways: HashMap<String, String>,
}

/// Shortest time between two reloads caused by unknown codes (a flood of bad codes must
/// not turn into a flood of ledger queries).
const RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// A shared, self-refreshing [`Snapshot`].
#[derive(Clone)]
pub struct Directory {
    store: Store,
    current: Arc<RwLock<Arc<Snapshot>>>,
    last_reload: Arc<Mutex<Option<Instant>>>,
}

impl Directory {
    pub async fn load(store: Store) -> Result<Self, sqlx::Error> {
        let dir = Directory {
            store,
            current: Arc::default(),
            last_reload: Arc::default(),
        };
        dir.reload().await?;
        Ok(dir)
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.read().expect("directory lock").clone()
    }

    /// Reloads from the ledger now.
    pub async fn reload(&self) -> Result<(), sqlx::Error> {
        let ledger = self.store.load_ledger().await?;
        let capacity: HashMap<&str, f64> = ledger
            .stations
            .iter()
            .map(|s| {
                (
                    s.code.as_str(),
                    s.ac_capacity_kw
                        .unwrap_or(s.dc_capacity_kwp)
                        .0
                        .try_into()
                        .unwrap_or(0.0),
                )
            })
            .collect();
        let mut snap = Snapshot::default();
        for d in ledger.devices {
            let rated_kw = match d.kind {
                DeviceKind::Inverter => d.rated_ac_kw.and_then(|r| r.0.try_into().ok()),
                DeviceKind::Meter => capacity.get(d.station_code.as_str()).copied(),
                DeviceKind::Weather => None,
            };
            let info = DeviceInfo {
                id: d.id,
                code: d.code.clone(),
                station_code: d.station_code,
                kind: d.kind,
                gateway_code: d.gateway_code,
                rated_kw,
            };
            snap.by_id.insert(d.id, info.clone());
            snap.devices.insert(d.code, info);
        }
        snap.gateways = ledger
            .gateways
            .into_iter()
            .map(|g| (g.code, g.credential_hash))
            .collect();
        *self.current.write().expect("directory lock") = Arc::new(snap);
        *self.last_reload.lock().expect("directory lock") = Some(Instant::now());
        Ok(())
    }

    /// Reloads if the last reload is older than the throttle interval; returns whether it did.
    pub async fn reload_if_stale(&self) -> bool {
        let stale = self
            .last_reload
            .lock()
            .expect("directory lock")
            .is_none_or(|t| t.elapsed() >= RELOAD_INTERVAL);
        if stale {
            if let Err(e) = self.reload().await {
                tracing::warn!(error = %e, "could not reload the device directory");
                return false;
            }
        }
        stale
    }
}
