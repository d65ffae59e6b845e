//! Rules that span rows and files, checked against the ledger as it will be after the
//! import (what is stored, overlaid with what is imported): duplicate codes, references,
//! the area hierarchy, and the share-sum rule. Pure: the caller loads the current ledger.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::fields::LineError;
use super::model::{AreaLevel, Ledger, Protocol, Share};
use super::parse::{Batch, Located, RefKind};

/// Checks `batch` against `current` and returns every problem found.
pub fn check(current: &Ledger, batch: &Batch) -> Vec<LineError> {
    let mut errors = Vec::new();
    let mut err = |file: &str, line: u64, column: &str, reason: String| {
        errors.push(LineError {
            file: file.into(),
            line,
            column: column.into(),
            reason,
        })
    };

    // Files keyed by a code are checked for repeats while parsing; these have compound keys.
    duplicates(
        "tariffs.csv",
        batch.tariffs.iter().map(|r| {
            (
                r.line,
                format!("{} {}", r.value.station_code, r.value.valid_from),
            )
        }),
        &mut err,
    );
    duplicates(
        "shares.csv",
        batch.shares.iter().map(|r| {
            (
                r.line,
                format!(
                    "{} {} {}",
                    r.value.station_code, r.value.valid_from, r.value.village_code
                ),
            )
        }),
        &mut err,
    );

    // The levels of all areas after the import; rows with errors still count as known.
    let mut levels: HashMap<&str, Option<AreaLevel>> = current
        .areas
        .iter()
        .map(|a| (a.code.as_str(), Some(a.level)))
        .collect();
    levels.extend(
        batch
            .areas
            .iter()
            .map(|r| (r.value.code.as_str(), Some(r.value.level))),
    );
    let with_errors: HashSet<&str> = batch.codes_with_errors.iter().map(String::as_str).collect();
    let known = |set: &HashSet<&str>, code: &str| set.contains(code) || with_errors.contains(code);
    for code in &with_errors {
        levels.entry(code).or_insert(None);
    }

    let mut stations: HashSet<&str> = current.stations.iter().map(|s| s.code.as_str()).collect();
    stations.extend(batch.stations.iter().map(|r| r.value.code.as_str()));
    let mut gateways: HashSet<&str> = current.gateways.iter().map(|g| g.code.as_str()).collect();
    gateways.extend(batch.gateways.iter().map(|r| r.value.gateway.code.as_str()));

    for r in &batch.refs {
        let code = r.code.as_str();
        let problem = match r.kind {
            RefKind::Station if !known(&stations, code) => {
                Some(format!("{code} is not a known station"))
            }
            RefKind::Gateway if !known(&gateways, code) => {
                Some(format!("{code} is not a known gateway"))
            }
            RefKind::Area if !levels.contains_key(code) => {
                Some(format!("{code} is not a known area"))
            }
            RefKind::Village => match levels.get(code) {
                None => Some(format!("{code} is not a known village")),
                Some(Some(level)) if *level != AreaLevel::Village => {
                    Some(format!("{code} is a {level}, not a village"))
                }
                _ => None,
            },
            RefKind::ParentOf(child) => {
                let wanted = match child {
                    Some(AreaLevel::Township) => Some(AreaLevel::County),
                    Some(AreaLevel::Village) => Some(AreaLevel::Township),
                    _ => None,
                };
                match (levels.get(code), child, wanted) {
                    (None, _, _) => Some(format!("{code} is not a known area")),
                    (Some(Some(level)), Some(child), Some(wanted)) if *level != wanted => Some(
                        format!("a {child} belongs to a {wanted}, but {code} is a {level}"),
                    ),
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some(reason) = problem {
            err(r.file, r.line, r.column, reason);
        }
    }
    for Located { line, value: a } in &batch.areas {
        if a.parent_code.as_deref() == Some(a.code.as_str()) {
            err(
                "villages.csv",
                *line,
                "parent_code",
                "an area cannot be its own parent".into(),
            );
        }
    }
    for (line, reason) in share_sets_that_do_not_sum_to_one(&batch.shares) {
        err("shares.csv", line, "share", reason);
    }

    let mut endpoints: HashMap<(String, i32, i32), &str> = current
        .devices
        .iter()
        .filter(|d| !batch.devices.iter().any(|r| r.value.code == d.code))
        .filter_map(|d| Some(((d.host.clone()?, d.port?, d.unit_id?), d.code.as_str())))
        .collect();
    for Located { line, value: d } in &batch.devices {
        if d.protocol == Protocol::Modbus
            && let (Some(host), Some(port), Some(unit)) = (&d.host, d.port, d.unit_id)
            && let Some(other) = endpoints.insert((host.clone(), port, unit), &d.code)
        {
            err(
                "devices.csv",
                *line,
                "unit_id",
                format!("{host}:{port} unit {unit} is already device {other}"),
            );
        }
    }
    errors.sort();
    errors
}

/// Reports a repeated compound key at every line after its first.
fn duplicates(
    file: &str,
    keys: impl Iterator<Item = (u64, String)>,
    err: &mut impl FnMut(&str, u64, &str, String),
) {
    let mut first: HashMap<String, u64> = HashMap::new();
    for (line, key) in keys {
        match first.get(&key) {
            Some(at) => err(
                file,
                line,
                "valid_from",
                format!("{key} appears twice (first on line {at})"),
            ),
            None => {
                first.insert(key, line);
            }
        }
    }
}

/// All rows with the same station and valid_from form one set; each set must sum to
/// exactly 1. Returns (first line of the set, reason) for each set that does not.
pub fn share_sets_that_do_not_sum_to_one(shares: &[Located<Share>]) -> Vec<(u64, String)> {
    let mut sets: BTreeMap<(&str, NaiveDate), (u64, Decimal, usize)> = BTreeMap::new();
    for Located { line, value } in shares {
        let entry = sets
            .entry((value.station_code.as_str(), value.valid_from))
            .or_insert((*line, Decimal::ZERO, 0));
        entry.1 += value.share.0;
        entry.2 += 1;
    }
    sets.into_iter()
        .filter(|(_, (_, sum, _))| *sum != Decimal::ONE)
        .map(|((station, from), (line, sum, n))| {
            (
                line,
                format!(
                    "the {n} shares of station {station} from {from} sum to {sum}, not exactly 1"
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::model::ShareBasis;
    use crate::store::Dec;

    fn share(line: u64, station: &str, village: &str, share: &str) -> Located<Share> {
        Located {
            line,
            value: Share {
                station_code: station.into(),
                valid_from: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
                village_code: village.into(),
                share: Dec(share.parse().unwrap()),
                basis: ShareBasis::Investment,
            },
        }
    }

    #[test]
    fn a_share_set_summing_to_one_passes() {
        let rows = vec![
            share(2, "S1", "V1", "0.3334"),
            share(3, "S1", "V2", "0.3333"),
            share(4, "S1", "V3", "0.3333"),
        ];
        assert!(share_sets_that_do_not_sum_to_one(&rows).is_empty());
    }

    #[test]
    fn a_share_set_off_by_a_ten_thousandth_is_reported_at_its_first_line() {
        let rows = vec![
            share(2, "S1", "V1", "0.3333"),
            share(3, "S1", "V2", "0.3333"),
            share(4, "S1", "V3", "0.3333"),
        ];
        let problems = share_sets_that_do_not_sum_to_one(&rows);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].0, 2);
        assert!(problems[0].1.contains("sum to 0.9999"), "{}", problems[0].1);
    }
}
