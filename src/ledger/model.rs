//! The entities of the station ledger (台账), as stored and as served by the API.

use chrono::NaiveDate;
use serde::Serialize;

use crate::store::Dec;

/// Declares a closed set of values stored as lowercase English text, shown in Chinese,
/// and accepted in either language on import.
macro_rules! code_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $en:literal / $zh:literal $(| $alias:literal)*),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($variant),+ }

        $crate::store::text_codec!($name);

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and exported form.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $en),+ }
            }

            /// The Chinese name shown to users.
            pub fn zh(self) -> &'static str {
                match self { $($name::$variant => $zh),+ }
            }

            /// Other names accepted on import.
            fn aliases(self) -> &'static [&'static str] {
                match self { $($name::$variant => &[$($alias),*]),+ }
            }

            /// Accepts the English code (any case), the Chinese name or an alias.
            pub fn parse(s: &str) -> Option<Self> {
                let text = s.trim();
                let lower = text.to_lowercase();
                Self::ALL.iter().copied().find(|v| {
                    v.as_str() == lower || v.zh() == text || v.aliases().contains(&text)
                })
            }

            /// "a | b | c", for error messages.
            pub fn expected() -> String {
                Self::ALL.iter().map(|v| format!("{} ({})", v.as_str(), v.zh())).collect::<Vec<_>>().join(" | ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

code_enum!(
    /// Level of an administrative area.
    AreaLevel { County = "county" / "县" | "县级" | "区", Township = "township" / "乡镇" | "乡" | "镇", Village = "village" / "村" | "行政村" }
);
code_enum!(
    /// Poverty status of a village.
    VillageStatus { Poor = "poor" / "贫困村", Exited = "exited" / "已退出" | "已出列", Monitored = "monitored" / "监测" | "监测村" }
);
code_enum!(
    /// Kind of station (DOMAIN.md §1).
    StationKind { Village = "village" / "村级", Joint = "joint" / "联村", Centralized = "centralized" / "集中式", Household = "household" / "户用" }
);
code_enum!(
    /// How a joint station's shares were fixed (按比例确权).
    ShareBasis { Capacity = "capacity" / "容量", Investment = "investment" / "投资", Equal = "equal" / "平均", Other = "other" / "其他" }
);
code_enum!(
    /// Kind of device at a station.
    DeviceKind { Inverter = "inverter" / "逆变器", Meter = "meter" / "电表", Weather = "weather" / "气象站" }
);
code_enum!(
    /// How pvledger hears from a device.
    Protocol { Modbus = "modbus" / "Modbus TCP", Mqtt = "mqtt" / "MQTT" }
);

/// A county, township or village.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Area {
    pub code: String,
    pub name: String,
    pub level: AreaLevel,
    pub parent_code: Option<String>,
    pub poor_village_code: Option<String>,
    pub status: Option<VillageStatus>,
}

/// A PV station and its fixed facts.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Station {
    pub code: String,
    pub name: String,
    pub kind: StationKind,
    pub area_code: String,
    pub dc_capacity_kwp: Dec,
    pub ac_capacity_kw: Option<Dec>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub tilt_deg: Option<f64>,
    pub azimuth_deg: Option<f64>,
    pub commissioning_date: Option<NaiveDate>,
    pub grid_connection_date: Option<NaiveDate>,
    pub subsidy_batch: Option<String>,
    pub investment_yuan: Option<Dec>,
    pub funding_source: Option<String>,
    pub om_body: Option<String>,
    pub om_person: Option<String>,
    pub om_phone: Option<String>,
}

impl Station {
    /// A station with only what every station has: the optional facts left empty.
    pub fn new(
        code: &str,
        name: &str,
        kind: StationKind,
        area_code: &str,
        dc_capacity_kwp: Dec,
    ) -> Self {
        Self {
            code: code.into(),
            name: name.into(),
            kind,
            area_code: area_code.into(),
            dc_capacity_kwp,
            ac_capacity_kw: None,
            latitude: None,
            longitude: None,
            tilt_deg: None,
            azimuth_deg: None,
            commissioning_date: None,
            grid_connection_date: None,
            subsidy_batch: None,
            investment_yuan: None,
            funding_source: None,
            om_body: None,
            om_person: None,
            om_phone: None,
        }
    }

    /// Where the sun is reckoned for this station (its coordinates; sea level), if it has
    /// valid ones. Every daylight count uses this one site, so the memo's entries match.
    pub fn site(&self) -> Option<crate::solar::position::Site> {
        let (lat, lon) = self.latitude.zip(self.longitude)?;
        crate::solar::position::Site::new(lat, lon).ok()
    }
}

/// A station's tariff from `valid_from` on (元/kWh, tax included).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Tariff {
    pub station_code: String,
    pub valid_from: NaiveDate,
    pub total_price: Dec,
    pub benchmark_price: Dec,
}

/// One village's share of a station's income from `valid_from` on.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Share {
    pub station_code: String,
    pub valid_from: NaiveDate,
    pub village_code: String,
    pub share: Dec,
    pub basis: ShareBasis,
}

/// A data gateway (logger, 4G DTU, or a `pvledger gateway` box) and its hashed credential.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Gateway {
    pub code: String,
    pub name: String,
    pub area_code: Option<String>,
    #[serde(skip)]
    pub credential_hash: String,
}

/// An inverter, meter or weather station.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Device {
    #[serde(skip)]
    pub id: i64,
    pub code: String,
    pub station_code: String,
    pub kind: DeviceKind,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub rated_ac_kw: Option<Dec>,
    pub dc_kwp: Option<Dec>,
    pub protocol: Protocol,
    pub host: Option<String>,
    pub port: Option<i32>,
    pub unit_id: Option<i32>,
    pub profile: Option<String>,
    pub gateway_code: Option<String>,
}

impl Device {
    /// A device with only what every device has (not yet stored: id 0), the optional
    /// facts left empty.
    pub fn new(code: &str, station_code: &str, kind: DeviceKind, protocol: Protocol) -> Self {
        Self {
            id: 0,
            code: code.into(),
            station_code: station_code.into(),
            kind,
            vendor: None,
            model: None,
            serial: None,
            rated_ac_kw: None,
            dc_kwp: None,
            protocol,
            host: None,
            port: None,
            unit_id: None,
            profile: None,
            gateway_code: None,
        }
    }
}

/// The whole ledger, or a batch of it read from import files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    pub areas: Vec<Area>,
    pub stations: Vec<Station>,
    pub tariffs: Vec<Tariff>,
    pub shares: Vec<Share>,
    pub gateways: Vec<Gateway>,
    pub devices: Vec<Device>,
}

/// The rows of the latest `valid_from` on or before `day` (a tariff, or a whole share set).
pub fn in_force<T>(rows: &[T], day: NaiveDate, valid_from: impl Fn(&T) -> NaiveDate) -> Vec<&T> {
    let Some(from) = rows.iter().map(&valid_from).filter(|d| *d <= day).max() else {
        return Vec::new();
    };
    rows.iter().filter(|r| valid_from(r) == from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_set_starting_on_or_before_the_day_is_in_force() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let rows = vec![
            ("A", d("2018-01-01")),
            ("B", d("2021-01-01")),
            ("C", d("2021-01-01")),
            ("D", d("2030-01-01")),
        ];
        let now: Vec<_> = in_force(&rows, d("2026-11-29"), |r| r.1)
            .iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(now, ["B", "C"]);
        assert_eq!(in_force(&rows, d("2020-12-31"), |r| r.1).len(), 1);
        assert!(in_force(&rows, d("2017-01-01"), |r| r.1).is_empty());
    }

    #[test]
    fn values_are_accepted_in_english_or_chinese() {
        assert_eq!(StationKind::parse("Joint"), Some(StationKind::Joint));
        assert_eq!(StationKind::parse("联村"), Some(StationKind::Joint));
        assert_eq!(AreaLevel::parse("乡镇"), Some(AreaLevel::Township));
        assert_eq!(VillageStatus::parse("已出列"), Some(VillageStatus::Exited));
        assert_eq!(DeviceKind::parse("pump"), None);
    }

    #[test]
    fn the_expected_list_names_both_languages() {
        assert_eq!(
            ShareBasis::expected(),
            "capacity (容量) | investment (投资) | equal (平均) | other (其他)"
        );
    }
}
