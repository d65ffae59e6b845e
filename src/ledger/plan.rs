//! What an import changes: each imported row compared with the stored one, so that only
//! real changes are written and re-importing the same files changes nothing.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::Serialize;

use super::model::{Area, AreaLevel, Device, Gateway, Ledger, Share, Station, Tariff};

/// Counts per file, for the operator and the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileSummary {
    pub file: &'static str,
    pub new: usize,
    pub changed: usize,
    pub unchanged: usize,
}

/// The rows to write, in an order that satisfies every reference.
#[derive(Debug, Default)]
pub struct Changes {
    pub areas: Vec<Area>,
    pub stations: Vec<Station>,
    pub tariffs: Vec<Tariff>,
    /// Complete share sets, each replacing the stored set with the same key.
    pub share_sets: Vec<Vec<Share>>,
    pub gateways: Vec<Gateway>,
    pub devices: Vec<Device>,
    pub summary: Vec<FileSummary>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.summary.iter().all(|s| s.new == 0 && s.changed == 0)
    }

    pub fn rows(&self) -> usize {
        self.areas.len()
            + self.stations.len()
            + self.tariffs.len()
            + self.share_sets.iter().map(Vec::len).sum::<usize>()
            + self.gateways.len()
            + self.devices.len()
    }
}

/// The parsed rows of one import, with gateway credentials already resolved to hashes.
#[derive(Debug, Default)]
pub struct Incoming {
    pub files: Vec<&'static str>,
    pub ledger: Ledger,
}

/// Compares `incoming` with `current`.
pub fn plan(current: &Ledger, incoming: Incoming) -> Changes {
    let Incoming { files, ledger } = incoming;
    let mut c = Changes::default();
    let has = |f: &str| files.contains(&f);

    let mut areas = diff(
        "villages.csv",
        &current.areas,
        ledger.areas,
        |a| a.code.clone(),
        &mut c.summary,
        has("villages.csv"),
    );
    // Parents before children: counties, then townships, then villages.
    areas.sort_by_key(|a| (level_rank(a.level), a.code.clone()));
    c.areas = areas;
    c.stations = diff(
        "stations.csv",
        &current.stations,
        ledger.stations,
        |s| s.code.clone(),
        &mut c.summary,
        has("stations.csv"),
    );
    c.tariffs = diff(
        "tariffs.csv",
        &current.tariffs,
        ledger.tariffs,
        |t| (t.station_code.clone(), t.valid_from),
        &mut c.summary,
        has("tariffs.csv"),
    );
    c.share_sets = diff_share_sets(
        &current.shares,
        ledger.shares,
        &mut c.summary,
        has("shares.csv"),
    );
    c.gateways = diff(
        "gateways.csv",
        &current.gateways,
        ledger.gateways,
        |g| g.code.clone(),
        &mut c.summary,
        has("gateways.csv"),
    );
    // Devices keep their stored id (telemetry refers to it); the import does not know it.
    let ids: HashMap<&str, i64> = current
        .devices
        .iter()
        .map(|d| (d.code.as_str(), d.id))
        .collect();
    let devices = ledger
        .devices
        .into_iter()
        .map(|mut d| {
            d.id = ids.get(d.code.as_str()).copied().unwrap_or(0);
            d
        })
        .collect();
    c.devices = diff(
        "devices.csv",
        &current.devices,
        devices,
        |d| d.code.clone(),
        &mut c.summary,
        has("devices.csv"),
    );
    c
}

fn level_rank(level: AreaLevel) -> u8 {
    match level {
        AreaLevel::County => 0,
        AreaLevel::Township => 1,
        AreaLevel::Village => 2,
    }
}

/// Keeps the incoming rows that are new or differ from the stored row with the same key.
fn diff<T: PartialEq, K: Eq + std::hash::Hash>(
    file: &'static str,
    current: &[T],
    incoming: Vec<T>,
    key: impl Fn(&T) -> K,
    summary: &mut Vec<FileSummary>,
    present: bool,
) -> Vec<T> {
    let stored: HashMap<K, &T> = current.iter().map(|t| (key(t), t)).collect();
    let mut s = FileSummary {
        file,
        ..Default::default()
    };
    let mut out = Vec::new();
    for row in incoming {
        match stored.get(&key(&row)) {
            None => s.new += 1,
            Some(old) if **old == row => {
                s.unchanged += 1;
                continue;
            }
            Some(_) => s.changed += 1,
        }
        out.push(row);
    }
    if present {
        summary.push(s);
    }
    out
}

fn diff_share_sets(
    current: &[Share],
    incoming: Vec<Share>,
    summary: &mut Vec<FileSummary>,
    present: bool,
) -> Vec<Vec<Share>> {
    type Key = (String, NaiveDate);
    fn group(rows: impl IntoIterator<Item = Share>) -> BTreeMap<Key, Vec<Share>> {
        let mut sets: BTreeMap<Key, Vec<Share>> = BTreeMap::new();
        for s in rows {
            sets.entry((s.station_code.clone(), s.valid_from))
                .or_default()
                .push(s);
        }
        for set in sets.values_mut() {
            set.sort_by(|a, b| a.village_code.cmp(&b.village_code));
        }
        sets
    }
    let stored = group(current.iter().cloned());
    let sets: Vec<Vec<Share>> = group(incoming).into_values().collect();
    diff(
        "shares.csv",
        &stored.into_values().collect::<Vec<_>>(),
        sets,
        |set| (set[0].station_code.clone(), set[0].valid_from),
        summary,
        present,
    )
}
