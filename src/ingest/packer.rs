//! Keeps the year packs of daily energy (`energy_daily_packs`, store/daily_packs.rs) up to
//! yesterday, so that a station's year of energy reads a row per device (issue 7).
//!
//! At start and then every `ingest.pack_every_s`, every device is checked in batches; those
//! whose packs stop before the target (the local day before today) are packed again from
//! the year where they stop, from `energy_daily`, under the devices' roll-up locks: a
//! roller rewriting the same days waits for the packer or is waited for, and drops what it
//! makes untrue. Yesterday, not today: the roller rewrites today's row on every pass, and
//! would drop the pack each time. Processes that share a database may all pack: they write
//! the same packs.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;

use crate::store::daily_packs::{self, PackExtent};
use crate::store::{Store, dispatch, dispatch_tx};

/// Devices checked per statement, and packed per transaction (how long one holds locks).
const BATCH: usize = 200;

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PackRun {
    /// Devices whose packs were written.
    pub devices: usize,
    /// Packs written (device-years).
    pub packs: usize,
}

/// Packs every device through `target`: see the module's notes.
pub async fn pack_all(store: &Store, target: NaiveDate) -> Result<PackRun, sqlx::Error> {
    let ids = dispatch!(store, telemetry::all_device_ids())?;
    let mut run = PackRun::default();
    for batch in ids.chunks(BATCH) {
        // Read without locks first: most runs find nothing to do.
        let mut tx = store.begin().await?;
        let candidates = stale(&mut tx, batch, target).await?;
        drop(tx);
        if candidates.is_empty() {
            continue;
        }
        let mut ids: Vec<i64> = candidates.keys().copied().collect();
        ids.sort_unstable();
        let mut tx = store.begin_write().await?;
        dispatch_tx!(&mut tx, telemetry::lock_devices(&ids))?;
        // Again under the locks: a roller may have dropped packs since.
        let stale = stale(&mut tx, &ids, target).await?;
        // One read of the days for the devices packed from the same year, from its first
        // day to the target.
        let mut by_year: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
        for (id, year) in &stale {
            by_year.entry(*year).or_default().push(*id);
        }
        let mut packs = Vec::new();
        for (year, ids) in by_year {
            let first = NaiveDate::from_ymd_opt(year, 1, 1).expect("a year's first day");
            let mut of_device: HashMap<i64, Vec<_>> = HashMap::new();
            for row in dispatch_tx!(&mut tx, telemetry::daily(&ids, first, target))? {
                of_device.entry(row.device_id).or_default().push(row);
            }
            for id in &ids {
                let rows = of_device.remove(id).unwrap_or_default();
                packs.extend(daily_packs::build(*id, year, target, &rows));
            }
        }
        dispatch_tx!(&mut tx, telemetry::save_packs(&packs))?;
        tx.commit().await?;
        run.devices += stale.len();
        run.packs += packs.len();
    }
    Ok(run)
}

/// Of `ids`, the devices whose packs stop before `target`, with the year to pack them from.
async fn stale(
    tx: &mut crate::store::Tx,
    ids: &[i64],
    target: NaiveDate,
) -> Result<HashMap<i64, i32>, sqlx::Error> {
    let mut stored: HashMap<i64, Vec<PackExtent>> = HashMap::new();
    for e in dispatch_tx!(&mut *tx, telemetry::pack_extents(ids))? {
        stored.entry(e.device_id).or_default().push(e);
    }
    // A device's first day matters only until it has packs.
    let unpacked: Vec<i64> = ids
        .iter()
        .filter(|id| !stored.contains_key(id))
        .copied()
        .collect();
    let first: HashMap<i64, NaiveDate> = if unpacked.is_empty() {
        HashMap::new()
    } else {
        dispatch_tx!(&mut *tx, telemetry::first_days(&unpacked))?
            .into_iter()
            .collect()
    };
    Ok(ids
        .iter()
        .filter_map(|id| {
            let packs = stored.get(id).map_or(&[][..], Vec::as_slice);
            let year = daily_packs::stale_from(packs, first.get(id).copied(), target)?;
            Some((*id, year))
        })
        .collect())
}

/// The day packs reach: the local day before today.
pub fn target_of(zone: Tz) -> NaiveDate {
    let today = Utc::now().with_timezone(&zone).date_naive();
    today.pred_opt().unwrap_or(today)
}

/// Packs at start and every `every` until `shutdown`; a failed run is logged and retried
/// at the next.
pub async fn run(store: Store, zone: Tz, every: Duration, shutdown: CancellationToken) {
    loop {
        let started = Instant::now();
        let target = target_of(zone);
        match pack_all(&store, target).await {
            Ok(run) if run.devices > 0 => tracing::info!(
                devices = run.devices,
                packs = run.packs,
                through = %target,
                ms = started.elapsed().as_millis() as u64,
                "daily energy packed"
            ),
            Ok(_) => tracing::debug!(through = %target, "daily energy packs up to date"),
            Err(e) => tracing::warn!(error = %e, "packing daily energy failed; retried later"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
