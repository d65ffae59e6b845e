//! The ledger's areas, stations and devices in memory, pure: what the station list and a
//! station's series look up on every request (issue 7). A province is small (6,000
//! stations, 20,000 devices, a few MB), changes a few times a day, and is read hundreds of
//! times a second; reading it from the database each time cost the station list a count
//! and an index walk over every station, and an area-tree walk under a county filter.
//! [`super::cache`] keeps a snapshot current.

use std::collections::HashMap;

use super::model::{Area, Device, Station, StationKind};

/// One consistent copy of the three tables, as of ledger version `version`.
#[derive(Debug)]
pub struct Snapshot {
    pub version: i64,
    /// Ordered by code, as every listing is.
    stations: Vec<Station>,
    station_at: HashMap<String, usize>,
    /// Devices per station, ordered by code.
    devices: HashMap<String, Vec<Device>>,
    /// Per area, the stations standing in it or below it, as indices into `stations`
    /// (so in code order): a county's page is a slice, not a walk of the area tree.
    within: HashMap<String, Vec<usize>>,
    areas: HashMap<String, Area>,
}

/// Deeper than any real tree (province, city, county, township, village). With the check
/// for an area seen twice, a guard against cycles in parent codes, which import refuses.
const MAX_DEPTH: usize = 32;

impl Snapshot {
    /// Builds the snapshot from whole tables, in any order.
    pub fn new(
        version: i64,
        areas: Vec<Area>,
        mut stations: Vec<Station>,
        devices: Vec<Device>,
    ) -> Self {
        stations.sort_by(|a, b| a.code.cmp(&b.code));
        let station_at = stations
            .iter()
            .enumerate()
            .map(|(i, s)| (s.code.clone(), i))
            .collect();
        let mut by_station: HashMap<String, Vec<Device>> = HashMap::new();
        for d in devices {
            by_station
                .entry(d.station_code.clone())
                .or_default()
                .push(d);
        }
        for list in by_station.values_mut() {
            list.sort_by(|a, b| a.code.cmp(&b.code));
        }
        let areas: HashMap<String, Area> = areas.into_iter().map(|a| (a.code.clone(), a)).collect();
        let mut within: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, station) in stations.iter().enumerate() {
            let mut area = Some(station.area_code.as_str());
            let mut seen: Vec<&str> = Vec::new();
            while let Some(code) = area {
                if seen.contains(&code) || seen.len() == MAX_DEPTH {
                    break;
                }
                seen.push(code);
                within.entry(code.to_owned()).or_default().push(i);
                area = areas.get(code).and_then(|a| a.parent_code.as_deref());
            }
        }
        Snapshot {
            version,
            stations,
            station_at,
            devices: by_station,
            within,
            areas,
        }
    }

    pub fn area(&self, code: &str) -> Option<&Area> {
        self.areas.get(code)
    }

    /// Every station, ordered by code.
    pub fn stations(&self) -> &[Station] {
        &self.stations
    }

    pub fn station(&self, code: &str) -> Option<&Station> {
        self.station_at.get(code).map(|&i| &self.stations[i])
    }

    /// A station's devices, ordered by code (none for an unknown station).
    pub fn devices_of(&self, station_code: &str) -> &[Device] {
        self.devices.get(station_code).map_or(&[], Vec::as_slice)
    }

    /// Stations standing in `root` or any area below it (all when None) that match `kind`
    /// (any when None): how many there are, and `limit` of them (all when None) after the
    /// first `offset`, ordered by code. What `ledger::page_stations` answers from the
    /// database; an unknown root matches nothing.
    pub fn page(
        &self,
        root: Option<&str>,
        kind: Option<StationKind>,
        limit: Option<i64>,
        offset: i64,
    ) -> (i64, Vec<Station>) {
        let candidates: Box<dyn Iterator<Item = &Station>> = match root {
            None => Box::new(self.stations.iter()),
            Some(root) => Box::new(
                self.within
                    .get(root)
                    .into_iter()
                    .flatten()
                    .map(|&i| &self.stations[i]),
            ),
        };
        let mut total = 0;
        let mut page = Vec::new();
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        let take = limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        for (i, s) in candidates
            .filter(|s| kind.is_none_or(|k| s.kind == k))
            .enumerate()
        {
            total += 1;
            if i >= skip && page.len() < take {
                page.push(s.clone());
            }
        }
        (total, page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::model::{AreaLevel, DeviceKind, Protocol};

    fn area(code: &str, level: AreaLevel, parent: Option<&str>) -> Area {
        Area {
            code: code.into(),
            name: code.into(),
            level,
            parent_code: parent.map(Into::into),
            poor_village_code: None,
            status: None,
        }
    }

    fn snapshot() -> Snapshot {
        let areas = vec![
            area("C1", AreaLevel::County, None),
            area("T1", AreaLevel::Township, Some("C1")),
            area("T2", AreaLevel::Township, Some("C1")),
            area("V1", AreaLevel::Village, Some("T1")),
            area("C2", AreaLevel::County, None),
        ];
        let station = |code: &str, area: &str, kind: StationKind| {
            Station::new(code, code, kind, area, "100".parse().unwrap())
        };
        let stations = vec![
            station("S5", "C2", StationKind::Village),
            station("S1", "V1", StationKind::Village),
            station("S3", "T2", StationKind::Centralized),
            station("S2", "T1", StationKind::Village),
            station("S4", "C1", StationKind::Village),
        ];
        let device = |code: &str, station: &str| {
            Device::new(code, station, DeviceKind::Inverter, Protocol::Modbus)
        };
        let devices = vec![device("D2", "S1"), device("D1", "S1"), device("D3", "S3")];
        Snapshot::new(7, areas, stations, devices)
    }

    fn codes(page: &[Station]) -> Vec<&str> {
        page.iter().map(|s| s.code.as_str()).collect()
    }

    #[test]
    fn pages_are_ordered_by_code_and_counted_over_every_match() {
        let s = snapshot();
        let (total, page) = s.page(None, None, Some(2), 1);
        assert_eq!(total, 5);
        assert_eq!(codes(&page), ["S2", "S3"]);
        let (total, page) = s.page(None, None, None, 0);
        assert_eq!(
            (total, codes(&page)),
            (5, vec!["S1", "S2", "S3", "S4", "S5"])
        );
        let (total, page) = s.page(None, None, Some(10), 9);
        assert_eq!((total, page.len()), (5, 0));
    }

    #[test]
    fn an_area_filter_takes_the_whole_subtree_and_nothing_else() {
        let s = snapshot();
        let (total, page) = s.page(Some("C1"), None, None, 0);
        assert_eq!((total, codes(&page)), (4, vec!["S1", "S2", "S3", "S4"]));
        let (total, page) = s.page(Some("T1"), None, None, 0);
        assert_eq!((total, codes(&page)), (2, vec!["S1", "S2"]));
        let (total, page) = s.page(Some("C1"), Some(StationKind::Centralized), None, 0);
        assert_eq!((total, codes(&page)), (1, vec!["S3"]));
        assert_eq!(s.page(Some("nowhere"), None, None, 0).0, 0);
    }

    #[test]
    fn a_cycle_in_parent_codes_lists_a_station_once() {
        let areas = vec![
            area("A", AreaLevel::Township, Some("B")),
            area("B", AreaLevel::County, Some("A")),
        ];
        let mut s = snapshot();
        let station = s.stations[0].clone();
        s = Snapshot::new(
            1,
            areas,
            vec![Station {
                area_code: "A".into(),
                ..station
            }],
            vec![],
        );
        assert_eq!(s.page(Some("A"), None, None, 0).0, 1);
        assert_eq!(s.page(Some("B"), None, None, 0).0, 1);
    }

    #[test]
    fn devices_are_found_by_station_in_code_order() {
        let s = snapshot();
        let of =
            |st: &str| -> Vec<&str> { s.devices_of(st).iter().map(|d| d.code.as_str()).collect() };
        assert_eq!(of("S1"), ["D1", "D2"]);
        assert_eq!(of("S2"), Vec::<&str>::new());
        assert_eq!(s.station("S3").map(|st| st.area_code.as_str()), Some("T2"));
        assert!(s.station("S9").is_none());
        assert_eq!(
            s.area("T2").map(|a| a.parent_code.as_deref()),
            Some(Some("C1"))
        );
    }
}
