//! The JSON API against the real service on both backends.

mod common;

use common::{TestApp, TestDb, example_dir};
use pvledger::ledger::import_dir;
use serde_json::Value;

async fn loaded(db: &TestDb) -> TestApp {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    TestApp::spawn(db).await
}

fn codes(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["code"].as_str().unwrap())
        .collect()
}

async fn health_and_readiness_answer(db: TestDb) {
    let app = TestApp::spawn(&db).await;

    let (status, body) = app.get("/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");

    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], db.store.backend().name());
    // Plain PostgreSQL here (no TimescaleDB on this machine); SQLite is embedded.
    let expected = if db.url.starts_with("sqlite") {
        "embedded"
    } else {
        "plain"
    };
    assert_eq!(body["timeseries"], expected);
}

async fn villages_are_listed_and_filtered_by_area(db: TestDb) {
    let app = loaded(&db).await;

    let (status, body) = app.get("/api/v1/villages").await;
    assert_eq!(status, 200);
    let all = codes(&body["villages"]);
    assert_eq!(all.len(), 12);
    assert!(all.windows(2).all(|w| w[0] < w[1]), "ordered by code");
    assert_eq!(body["villages"][0]["level"], "village");
    assert!(
        body["villages"][0]["poor_village_code"]
            .as_str()
            .unwrap()
            .starts_with("PV")
    );

    let (_, body) = app.get("/api/v1/villages?area=149901101").await;
    let township = codes(&body["villages"]);
    assert!(!township.is_empty() && township.len() < 12);
    assert!(township.iter().all(|c| c.starts_with("149901101")));

    let (status, body) = app.get("/api/v1/villages?area=999999").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("999999")
    );
}

async fn stations_are_listed_with_exact_decimals_and_filtered(db: TestDb) {
    let app = loaded(&db).await;

    let (status, body) = app.get("/api/v1/stations").await;
    assert_eq!(status, 200);
    let stations = body["stations"].as_array().unwrap();
    assert_eq!(stations.len(), 11);
    let joint = stations.iter().find(|s| s["kind"] == "joint").unwrap();
    assert_eq!(joint["code"], "PVJ149901-01");
    // Decimals travel as strings, never as floats.
    assert_eq!(joint["dc_capacity_kwp"], "4800");

    let (_, body) = app.get("/api/v1/stations?kind=joint").await;
    assert_eq!(codes(&body["stations"]), ["PVJ149901-01"]);
    let (_, body) = app.get("/api/v1/stations?kind=联村").await;
    assert_eq!(codes(&body["stations"]), ["PVJ149901-01"]);
    let (_, body) = app.get("/api/v1/stations?area=149901101201").await;
    assert_eq!(codes(&body["stations"]), ["PV149901101201-01"]);

    let (status, body) = app.get("/api/v1/stations?kind=farm").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "bad_request");
    assert!(body["error"]["message"].as_str().unwrap().contains("farm"));
}

async fn a_station_shows_its_tariff_shares_in_force_and_devices(db: TestDb) {
    let app = loaded(&db).await;

    // This station was split between two villages from 2021-01-01.
    let (status, body) = app.get("/api/v1/stations/PV149901201202-01").await;
    assert_eq!(status, 200);
    assert_eq!(body["station"]["code"], "PV149901201202-01");
    assert_eq!(body["tariff"]["total_price"], "0.98");
    assert_eq!(body["tariff"]["benchmark_price"], "0.332");
    let shares = body["shares"].as_array().unwrap();
    assert_eq!(shares.len(), 2);
    let in_force: Vec<&str> = shares
        .iter()
        .map(|s| s["share"].as_str().unwrap())
        .collect();
    assert_eq!(in_force, ["0.6", "0.4"]);
    assert_eq!(body["share_history"].as_array().unwrap().len(), 3);
    let devices = body["devices"].as_array().unwrap();
    assert!(devices.iter().any(|d| d["kind"] == "meter"));
    assert!(
        devices.iter().all(|d| d.get("id").is_none()),
        "internal ids stay internal"
    );

    let (status, body) = app.get("/api/v1/stations/NOPE").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["message"], "station NOPE not found");
}

async fn a_device_is_served_without_secrets(db: TestDb) {
    let app = loaded(&db).await;
    let (_, station) = app.get("/api/v1/stations/PV149901101201-01").await;
    let code = station["devices"][0]["code"].as_str().unwrap().to_owned();

    let (status, body) = app.get(&format!("/api/v1/devices/{code}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["code"], code.as_str());
    assert_eq!(body["station_code"], "PV149901101201-01");

    let (status, body) = app.get("/api/v1/devices/INV-NOPE").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
}

async fn an_unknown_path_gets_a_json_404(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let (status, body) = app.get("/api/v1/nothing-here").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
}

both_backends!(
    health_and_readiness_answer,
    villages_are_listed_and_filtered_by_area,
    stations_are_listed_with_exact_decimals_and_filtered,
    a_station_shows_its_tariff_shares_in_force_and_devices,
    a_device_is_served_without_secrets,
    an_unknown_path_gets_a_json_404,
);
