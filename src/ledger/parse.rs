//! Turning the text of each ledger file into entities. Pure: no files, no database.
//! Every row is read in full and every problem is reported; cross-file rules (references,
//! share sums) are checked afterwards in `check`.

use super::columns::{self, Column};
use super::fields::{Fields, LineError, checks, for_each_row};
use super::model::{
    Area, AreaLevel, Device, DeviceKind, Gateway, Protocol, Share, ShareBasis, Station,
    StationKind, Tariff, VillageStatus,
};

/// A parsed row and the line it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    pub line: u64,
    pub value: T,
}

/// How a gateway's credential was given in the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Credential {
    /// Plain text, to be hashed on import.
    Plain(String),
    /// An argon2 PHC string, as exported.
    Hash(String),
}

/// A gateway row: the gateway and the credential to store for it.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayRow {
    pub gateway: Gateway,
    pub credential: Credential,
}

/// Everything read from an import directory, row by row.
#[derive(Debug, Default)]
pub struct Batch {
    pub areas: Vec<Located<Area>>,
    pub stations: Vec<Located<Station>>,
    pub tariffs: Vec<Located<Tariff>>,
    pub shares: Vec<Located<Share>>,
    pub gateways: Vec<Located<GatewayRow>>,
    pub devices: Vec<Located<Device>>,
    /// Codes of rows that had other problems: they still count as known for references,
    /// so that one bad cell does not cascade into "unknown station" errors elsewhere.
    pub codes_with_errors: Vec<String>,
    /// Every reference cell of every row (rows with other problems included), so that a
    /// dangling reference is reported together with the row's other problems.
    pub refs: Vec<Ref>,
}

/// What a reference cell must name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    Area,
    Village,
    Station,
    Gateway,
    /// The parent of an area of this level (None when the row's level is unreadable).
    ParentOf(Option<AreaLevel>),
}

/// One reference cell: `file:line: column` names `code`, which must be a `kind`.
#[derive(Debug, Clone)]
pub struct Ref {
    pub file: &'static str,
    pub line: u64,
    pub column: &'static str,
    pub code: String,
    pub kind: RefKind,
}

/// The reference columns of each file.
fn ref_columns(file: &str, level: Option<AreaLevel>) -> Vec<(&'static str, RefKind)> {
    match file {
        "villages.csv" => vec![("parent_code", RefKind::ParentOf(level))],
        "stations.csv" | "gateways.csv" => vec![("area_code", RefKind::Area)],
        "tariffs.csv" => vec![("station_code", RefKind::Station)],
        "shares.csv" => vec![
            ("station_code", RefKind::Station),
            ("village_code", RefKind::Village),
        ],
        "devices.csv" => vec![
            ("station_code", RefKind::Station),
            ("gateway_code", RefKind::Gateway),
        ],
        _ => Vec::new(),
    }
}

/// The six files, in the order they are applied (referenced entities first).
pub const FILES: &[&str] = &[
    "villages.csv",
    "stations.csv",
    "tariffs.csv",
    "shares.csv",
    "gateways.csv",
    "devices.csv",
];

/// Shortest credential accepted: gateways sit on public 4G networks.
const MIN_CREDENTIAL_LEN: usize = 16;

/// Parses the text of one file (named by its file name) into `batch`.
pub fn parse_file(file: &'static str, text: &str, batch: &mut Batch, errors: &mut Vec<LineError>) {
    let spec: &[Column] = match file {
        "villages.csv" => columns::VILLAGES,
        "stations.csv" => columns::STATIONS,
        "tariffs.csv" => columns::TARIFFS,
        "shares.csv" => columns::SHARES,
        "gateways.csv" => columns::GATEWAYS,
        "devices.csv" => columns::DEVICES,
        _ => return,
    };
    // First line of each code, for files keyed by a code; rows with other errors count too.
    let mut first_line: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for_each_row(file, text, spec, errors, |f| {
        let line = f.line;
        if f.has_column("code")
            && let Some(code) = f.text("code")
        {
            match first_line.get(&code) {
                Some(first) => f.error(
                    "code",
                    format!("{code} appears twice (first on line {first})"),
                ),
                None => {
                    first_line.insert(code, line);
                }
            }
        }
        let parsed_cleanly = match file {
            "villages.csv" => push(&mut batch.areas, line, area(f), f.ok()),
            "stations.csv" => push(&mut batch.stations, line, station(f), f.ok()),
            "tariffs.csv" => push(&mut batch.tariffs, line, tariff(f), f.ok()),
            "shares.csv" => push(&mut batch.shares, line, share(f), f.ok()),
            "gateways.csv" => push(&mut batch.gateways, line, gateway(f), f.ok()),
            _ => push(&mut batch.devices, line, device(f), f.ok()),
        };
        let level = f.text("level").and_then(|l| AreaLevel::parse(&l));
        for (column, kind) in ref_columns(file, level) {
            if let Some(code) = f.text(column) {
                batch.refs.push(Ref {
                    file,
                    line,
                    column,
                    code,
                    kind,
                });
            }
        }
        if !parsed_cleanly && let Some(code) = f.text("code") {
            batch.codes_with_errors.push(code);
        }
    });
}

/// Keeps a row that parsed; returns whether it parsed without any problem.
fn push<T>(rows: &mut Vec<Located<T>>, line: u64, value: Option<T>, clean: bool) -> bool {
    match value {
        Some(value) if clean => {
            rows.push(Located { line, value });
            true
        }
        _ => false,
    }
}

fn area(f: &mut Fields) -> Option<Area> {
    let code = f.code("code", true);
    let name = f.required("name");
    let level = f.choice("level", true, AreaLevel::parse, AreaLevel::expected);
    let parent_code = f.code("parent_code", false);
    let poor_village_code = f.text("poor_village_code");
    let status = f.choice(
        "status",
        false,
        VillageStatus::parse,
        VillageStatus::expected,
    );
    if level.is_some_and(|l| l != AreaLevel::Village) {
        if poor_village_code.is_some() {
            f.error(
                "poor_village_code",
                "only villages carry a poor-village code",
            );
        }
        if status.is_some() {
            f.error("status", "only villages carry a poverty status");
        }
    }
    if level == Some(AreaLevel::Township) && parent_code.is_none() {
        f.error("parent_code", "a township needs its county as parent");
    }
    if level == Some(AreaLevel::Village) && parent_code.is_none() {
        f.error("parent_code", "a village needs its township as parent");
    }
    Some(Area {
        code: code?,
        name: name?,
        level: level?,
        parent_code,
        poor_village_code,
        status,
    })
}

fn station(f: &mut Fields) -> Option<Station> {
    let code = f.code("code", true);
    let name = f.required("name");
    let kind = f.choice("kind", true, StationKind::parse, StationKind::expected);
    let area_code = f.code("area_code", true);
    let dc = f.decimal("dc_capacity_kwp", true, 3, checks::positive);
    let ac = f.decimal("ac_capacity_kw", false, 3, checks::positive);
    let latitude = f.float("latitude", 3.0, 54.0, false, "latitude inside China");
    let longitude = f.float("longitude", 73.0, 136.0, false, "longitude inside China");
    let tilt = f.float("tilt_deg", 0.0, 90.0, false, "degrees from horizontal");
    let azimuth = f.float(
        "azimuth_deg",
        0.0,
        360.0,
        true,
        "compass bearing, 180 = due south",
    );
    let commissioning = f.date("commissioning_date", false);
    let grid = f.date("grid_connection_date", false);
    if let (Some(c), Some(g)) = (commissioning, grid)
        && c < g
    {
        f.error(
            "commissioning_date",
            format!("{c} is before the grid connection on {g}"),
        );
    }
    let investment = f.decimal("investment_yuan", false, 2, checks::non_negative);
    let om_phone = f.text("om_phone");
    if let Some(phone) = &om_phone {
        let ok = (7..=20).contains(&phone.len())
            && phone
                .chars()
                .all(|c| c.is_ascii_digit() || c == '-' || c == '+');
        if !ok {
            f.error(
                "om_phone",
                format!("{phone:?} is not a phone number (7-20 digits, '-' or '+')"),
            );
        }
    }
    Some(Station {
        code: code?,
        name: name?,
        kind: kind?,
        area_code: area_code?,
        dc_capacity_kwp: dc?,
        ac_capacity_kw: ac,
        latitude,
        longitude,
        tilt_deg: tilt,
        azimuth_deg: azimuth,
        commissioning_date: commissioning,
        grid_connection_date: grid,
        subsidy_batch: f.text("subsidy_batch"),
        investment_yuan: investment,
        funding_source: f.text("funding_source"),
        om_body: f.text("om_body"),
        om_person: f.text("om_person"),
        om_phone,
    })
}

fn tariff(f: &mut Fields) -> Option<Tariff> {
    let station_code = f.code("station_code", true);
    let valid_from = f.date("valid_from", true);
    let total = f.decimal("total_price", true, 4, checks::price);
    let benchmark = f.decimal("benchmark_price", true, 4, checks::price);
    if let (Some(t), Some(b)) = (total, benchmark)
        && b > t
    {
        f.error(
            "benchmark_price",
            format!("benchmark {b} is above the total tariff {t}"),
        );
    }
    Some(Tariff {
        station_code: station_code?,
        valid_from: valid_from?,
        total_price: total?,
        benchmark_price: benchmark?,
    })
}

fn share(f: &mut Fields) -> Option<Share> {
    let station_code = f.code("station_code", true);
    let village_code = f.code("village_code", true);
    let share = f.decimal("share", true, 6, checks::share);
    let basis = f.choice("basis", true, ShareBasis::parse, ShareBasis::expected);
    let valid_from = f.date("valid_from", true);
    Some(Share {
        station_code: station_code?,
        valid_from: valid_from?,
        village_code: village_code?,
        share: share?,
        basis: basis?,
    })
}

fn gateway(f: &mut Fields) -> Option<GatewayRow> {
    let code = f.code("code", true);
    let name = f.required("name");
    let area_code = f.code("area_code", false);
    let credential = match (f.text("credential"), f.text("credential_hash")) {
        (Some(_), Some(_)) => {
            f.error("credential", "give credential or credential_hash, not both");
            None
        }
        (Some(plain), None) if plain.chars().count() < MIN_CREDENTIAL_LEN => {
            f.error(
                "credential",
                format!("too short: at least {MIN_CREDENTIAL_LEN} characters"),
            );
            None
        }
        (Some(plain), None) => Some(Credential::Plain(plain)),
        (None, Some(hash)) if !hash.starts_with("$argon2") => {
            f.error(
                "credential_hash",
                "not an argon2 hash as exported by pvledger",
            );
            None
        }
        (None, Some(hash)) => Some(Credential::Hash(hash)),
        (None, None) => {
            let column = if f.has_column("credential_hash") {
                "credential_hash"
            } else {
                "credential"
            };
            f.error(column, "every gateway needs a credential");
            None
        }
    };
    Some(GatewayRow {
        gateway: Gateway {
            code: code?,
            name: name?,
            area_code,
            credential_hash: String::new(),
        },
        credential: credential?,
    })
}

fn device(f: &mut Fields) -> Option<Device> {
    let code = f.code("code", true);
    let station_code = f.code("station_code", true);
    let kind = f.choice("kind", true, DeviceKind::parse, DeviceKind::expected);
    let rated_ac_kw = f.decimal("rated_ac_kw", false, 3, checks::positive);
    let dc_kwp = f.decimal("dc_kwp", false, 3, checks::positive);
    let protocol = f.choice("protocol", true, Protocol::parse, Protocol::expected);
    let host = f.text("host");
    let port = f.int("port", 1, 65535);
    let unit_id = f.int("unit_id", 0, 255);
    let profile = f.text("profile");
    let gateway_code = f.code("gateway_code", false);
    match protocol {
        Some(Protocol::Modbus) => {
            for (column, missing) in [
                ("host", host.is_none()),
                ("port", port.is_none()),
                ("unit_id", unit_id.is_none()),
                ("profile", profile.is_none()),
            ] {
                if missing && f.ok() {
                    f.error(column, "required for a modbus device");
                }
            }
        }
        Some(Protocol::Mqtt) if gateway_code.is_none() => {
            f.error(
                "gateway_code",
                "an mqtt device needs the gateway that publishes for it",
            );
        }
        _ => {}
    }
    if kind != Some(DeviceKind::Inverter) && (rated_ac_kw.is_some() || dc_kwp.is_some()) {
        f.error(
            "rated_ac_kw",
            "only inverters carry rated power and DC capacity",
        );
    }
    Some(Device {
        id: 0,
        code: code?,
        station_code: station_code?,
        kind: kind?,
        vendor: f.text("vendor"),
        model: f.text("model"),
        serial: f.text("serial"),
        rated_ac_kw,
        dc_kwp,
        protocol: protocol?,
        host,
        port,
        unit_id,
        profile,
        gateway_code,
    })
}
