//! `pvledger demo`: the example county (examples/county), built into the binary so the
//! demo runs from any directory with nothing else installed.

/// The example ledger files as (file name, bytes).
pub fn example_county() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "villages.csv",
            include_bytes!("../examples/county/villages.csv").to_vec(),
        ),
        (
            "stations.csv",
            include_bytes!("../examples/county/stations.csv").to_vec(),
        ),
        (
            "tariffs.csv",
            include_bytes!("../examples/county/tariffs.csv").to_vec(),
        ),
        (
            "shares.csv",
            include_bytes!("../examples/county/shares.csv").to_vec(),
        ),
        (
            "gateways.csv",
            include_bytes!("../examples/county/gateways.csv").to_vec(),
        ),
        (
            "devices.csv",
            include_bytes!("../examples/county/devices.csv").to_vec(),
        ),
    ]
}

/// Where the demo keeps its data unless told otherwise: apart from a real ledger.
pub const DEMO_DATABASE_URL: &str = "sqlite://data/demo.sqlite";
