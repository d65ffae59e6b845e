//! Authorization of every JSON API route for every role, against the real service on both
//! backends: a table of route x role -> expected status. Allowed calls that cannot find
//! what they ask for answer 404 (the permission check came first); refused ones 403; no
//! credentials 401. A route registered in the router without a row here fails the test,
//! and so does a route missing from the OpenAPI document.

mod common;

use std::collections::BTreeSet;

use common::{TestApp, TestDb, client_with_token, example_dir, role_token, write_dir};
use pvledger::ledger::import_dir;

const STATION: &str = "PV149901101201-01";
const DEVICE: &str = "INV-PV149901101201-01-1";
const OWN_VILLAGE: &str = "149901101201";
const OTHER_VILLAGE: &str = "149901101202";

/// Who calls: no credentials, or a user of a role (village users of OWN_VILLAGE).
const CALLERS: [&str; 6] = [
    "anonymous",
    "admin",
    "bureau",
    "finance",
    "technician",
    "village",
];

/// (method, route template, concrete path, JSON body, expected status per CALLERS).
/// `{id}` in a path is replaced by an approved settlement's id, `{role}` in a body by the
/// caller, so that receipts get distinct references.
type Row = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    [u16; 6],
);

const TABLE: &[Row] = &[
    (
        "GET",
        "/api/v1/openapi.json",
        "/api/v1/openapi.json",
        None,
        [200, 200, 200, 200, 200, 200],
    ),
    (
        "GET",
        "/api/v1/areas",
        "/api/v1/areas",
        None,
        [401, 200, 200, 200, 200, 403],
    ),
    (
        "GET",
        "/api/v1/villages",
        "/api/v1/villages",
        None,
        [401, 200, 200, 200, 200, 403],
    ),
    (
        "GET",
        "/api/v1/stations",
        "/api/v1/stations",
        None,
        [401, 200, 200, 200, 200, 403],
    ),
    (
        "GET",
        "/api/v1/stations/{code}",
        "/api/v1/stations/PV149901101201-01",
        None,
        [401, 200, 200, 200, 200, 403],
    ),
    (
        "GET",
        "/api/v1/stations/{code}/power",
        "/api/v1/stations/PV149901101201-01/power",
        None,
        [401, 200, 200, 200, 200, 403],
    ),
    (
        "GET",
        "/api/v1/stations/{code}/energy",
        "/api/v1/stations/PV149901101201-01/energy",
        None,
        [401, 200, 200, 200, 200, 403],
    ),
    (
        "GET",
        "/api/v1/devices/{code}",
        "/api/v1/devices/INV-PV149901101201-01-1",
        None,
        [401, 200, 200, 200, 200, 403],
    ),
    // No reading yet: 404 for those allowed to ask.
    (
        "GET",
        "/api/v1/devices/{code}/latest",
        "/api/v1/devices/INV-PV149901101201-01-1/latest",
        None,
        [401, 404, 404, 404, 404, 403],
    ),
    (
        "GET",
        "/api/v1/gateways/{code}",
        "/api/v1/gateways/GW-149901101201",
        None,
        [401, 200, 200, 200, 200, 403],
    ),
    (
        "GET",
        "/api/v1/assessments",
        "/api/v1/assessments?from=2026-10-01&to=2026-10-31",
        None,
        [401, 200, 200, 403, 200, 403],
    ),
    (
        "GET",
        "/api/v1/alerts",
        "/api/v1/alerts?status=open",
        None,
        [401, 200, 200, 403, 200, 403],
    ),
    (
        "GET",
        "/api/v1/alerts/export.xlsx",
        "/api/v1/alerts/export.xlsx",
        None,
        [401, 200, 200, 403, 200, 403],
    ),
    // An unknown alert: 404 once the permission check has passed.
    (
        "POST",
        "/api/v1/alerts/{id}/ack",
        "/api/v1/alerts/999999/ack",
        Some(r#"{"note":"on my way"}"#),
        [401, 404, 403, 403, 404, 403],
    ),
    (
        "POST",
        "/api/v1/alerts/{id}/resolve",
        "/api/v1/alerts/999999/resolve",
        Some(r#"{"note":"replaced the fuse"}"#),
        [401, 404, 403, 403, 404, 403],
    ),
    (
        "GET",
        "/api/v1/assessments/export.xlsx",
        "/api/v1/assessments/export.xlsx?from=2026-10-01&to=2026-10-31",
        None,
        [401, 200, 200, 403, 200, 403],
    ),
    (
        "GET",
        "/api/v1/assessments/report.pdf",
        "/api/v1/assessments/report.pdf?from=2026-10-01&to=2026-10-31",
        None,
        [401, 200, 200, 403, 200, 403],
    ),
    // Ingest takes gateway credentials only: a user's token is refused like none at all.
    (
        "POST",
        "/api/v1/ingest",
        "/api/v1/ingest",
        Some("{}"),
        [401, 401, 401, 401, 401, 401],
    ),
    (
        "GET",
        "/api/v1/ingest/rejections",
        "/api/v1/ingest/rejections",
        None,
        [401, 200, 200, 200, 200, 403],
    ),
    (
        "GET",
        "/api/v1/settlements",
        "/api/v1/settlements",
        None,
        [401, 200, 200, 200, 403, 403],
    ),
    // A later month than the approved one: a fresh draft each time (recomputed by finance).
    (
        "POST",
        "/api/v1/settlements",
        "/api/v1/settlements",
        Some(r#"{"period":"2026-11"}"#),
        [401, 201, 403, 201, 403, 403],
    ),
    (
        "GET",
        "/api/v1/settlements/{id}",
        "/api/v1/settlements/{id}",
        None,
        [401, 200, 200, 200, 403, 403],
    ),
    (
        "GET",
        "/api/v1/settlements/{id}/export.xlsx",
        "/api/v1/settlements/{id}/export.xlsx",
        None,
        [401, 200, 200, 200, 403, 403],
    ),
    // The village's statement: its own only.
    (
        "GET",
        "/api/v1/settlements/{id}/villages/{code}",
        "/api/v1/settlements/{id}/villages/149901101201.pdf",
        None,
        [401, 200, 200, 200, 403, 200],
    ),
    (
        "GET",
        "/api/v1/settlements/{id}/villages/{code}",
        "/api/v1/settlements/{id}/villages/149901101202.pdf",
        None,
        [401, 200, 200, 200, 403, 403],
    ),
    // An unknown settlement: 404 once the permission check has passed.
    (
        "POST",
        "/api/v1/settlements/{id}/review",
        "/api/v1/settlements/999999/review",
        None,
        [401, 404, 403, 404, 403, 403],
    ),
    (
        "POST",
        "/api/v1/settlements/{id}/approve",
        "/api/v1/settlements/999999/approve",
        None,
        [401, 404, 403, 404, 403, 403],
    ),
    (
        "GET",
        "/api/v1/settlements/{id}/villages/{code}",
        "/api/v1/settlements/{id}/villages/149901101201",
        None,
        [401, 200, 200, 200, 403, 200],
    ),
    (
        "GET",
        "/api/v1/settlements/{id}/villages/{code}",
        "/api/v1/settlements/{id}/villages/149901101202",
        None,
        [401, 200, 200, 200, 403, 403],
    ),
    (
        "POST",
        "/api/v1/subsidy/receipts",
        "/api/v1/subsidy/receipts",
        Some(r#"{"amount":"100.00","date":"2026-11-20","reference":"R-{role}","county":"149901"}"#),
        [401, 201, 403, 201, 403, 403],
    ),
    (
        "GET",
        "/api/v1/audit",
        "/api/v1/audit",
        None,
        [401, 200, 200, 200, 403, 403],
    ),
];

/// The example county with grid statements and use plans for October 2026, settled and
/// approved; returns the settlement's id.
async fn approved_month(db: &TestDb) -> i64 {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let ledger = db.store.load_ledger().await.unwrap();
    let mut grid = String::from("station_code,period,export_kwh\n");
    for s in &ledger.stations {
        grid.push_str(&format!(
            "{},2026-10,10000\n{},2026-11,9000\n",
            s.code, s.code
        ));
    }
    let mut plans = String::from("village_code,year,jobs,works,rewards\n");
    for v in ledger
        .areas
        .iter()
        .filter(|a| a.level == pvledger::ledger::model::AreaLevel::Village)
    {
        plans.push_str(&format!("{},2026,80,15,5\n", v.code));
    }
    let dir = write_dir(
        db.dir(),
        "inputs",
        &[
            ("grid.csv", grid.as_bytes()),
            ("plans.csv", plans.as_bytes()),
        ],
    );
    pvledger::settlement::grid::import_file(&db.store, &dir.join("grid.csv"), "test")
        .await
        .unwrap();
    let rules = pvledger::settlement::plan::PlanRules {
        jobs_floor_percent: rust_decimal::Decimal::from(80),
        other_allowed: false,
    };
    pvledger::settlement::plans::import_file(&db.store, &dir.join("plans.csv"), &rules, "test")
        .await
        .unwrap();
    let period = pvledger::settlement::period::Period::new(2026, 10).unwrap();
    let (row, _) =
        pvledger::settlement::run::settle(&db.store, &db.config.settlement, None, period, "test")
            .await
            .unwrap();
    pvledger::settlement::run::advance(&db.store, row.id, "review", "test")
        .await
        .unwrap();
    pvledger::settlement::run::advance(&db.store, row.id, "approve", "test")
        .await
        .unwrap();
    row.id
}

async fn every_api_route_answers_each_role_as_the_table_says(db: TestDb) {
    // Arrange
    let id = approved_month(&db).await;
    let app = TestApp::spawn(&db).await;
    let mut clients = vec![reqwest::Client::new()];
    for role in &CALLERS[1..] {
        let village = (*role == "village").then_some(OWN_VILLAGE);
        clients.push(client_with_token(
            &role_token(&db.store, role, village).await,
        ));
    }
    assert!(STATION.len() + DEVICE.len() + OTHER_VILLAGE.len() > 0);

    // Act and assert: every cell, collecting every mismatch before failing.
    let mut wrong = Vec::new();
    for (method, _, path, body, expected) in TABLE {
        let path = path.replace("{id}", &id.to_string());
        for (i, client) in clients.iter().enumerate() {
            let url = format!("{}{path}", app.base);
            let req = match *method {
                "GET" => client.get(&url),
                _ => client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.unwrap_or("{}").replace("{role}", CALLERS[i])),
            };
            let status = req.send().await.unwrap().status().as_u16();
            if status != expected[i] {
                wrong.push(format!(
                    "{method} {path} as {}: {status}, expected {}",
                    CALLERS[i], expected[i]
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "authorization differs from the table:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_registered_api_route_has_a_row_in_the_authorization_table() {
    let registered: BTreeSet<(String, String)> = pvledger::http::api_routes()
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    let covered: BTreeSet<(String, String)> = TABLE
        .iter()
        .map(|(m, p, ..)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let missing: Vec<_> = registered.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "routes without authorization rows: {missing:?}"
    );
    let stale: Vec<_> = covered.difference(&registered).collect();
    assert!(
        stale.is_empty(),
        "rows for routes that do not exist: {stale:?}"
    );
}

async fn the_openapi_document_lists_exactly_the_registered_routes(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let doc: serde_json::Value = reqwest::get(format!("{}/api/v1/openapi.json", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let registered: BTreeSet<(String, String)> = pvledger::http::api_routes()
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from docs/openapi.json: {undocumented:?}"
    );
    let phantom: Vec<_> = documented.difference(&registered).collect();
    assert!(
        phantom.is_empty(),
        "documented routes the router lacks: {phantom:?}"
    );
}

both_backends!(
    every_api_route_answers_each_role_as_the_table_says,
    the_openapi_document_lists_exactly_the_registered_routes
);
