//! The JSON API against the real service on both backends.

mod common;

use chrono::{Duration, Utc};
use common::{TestApp, TestDb, example_dir, example_secret};
use pvledger::ledger::import_dir;
use serde_json::{Value, json};

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

async fn stations_are_paged_in_code_order_with_the_total_on_every_page(db: TestDb) {
    let app = loaded(&db).await;
    let (_, all) = app.get("/api/v1/stations").await;
    let all_codes = codes(&all["stations"]);
    assert_eq!(all["total"], 11);
    assert_eq!(all["offset"], 0);
    assert_eq!(
        all["limit"],
        Value::Null,
        "no limit: every station, as before paging"
    );
    assert!(all_codes.windows(2).all(|w| w[0] < w[1]), "ordered by code");

    // Pages of 4: 4 + 4 + 3, then an empty page past the end; together, the whole list.
    let mut paged = Vec::new();
    for (offset, len) in [(0, 4), (4, 4), (8, 3), (11, 0), (40, 0)] {
        let (status, body) = app
            .get(&format!("/api/v1/stations?limit=4&offset={offset}"))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["total"], 11, "offset {offset}");
        assert_eq!(body["limit"], 4);
        assert_eq!(body["offset"], offset);
        let page = codes(&body["stations"]);
        assert_eq!(page.len(), len, "offset {offset}");
        paged.extend(page.into_iter().map(str::to_owned));
    }
    assert_eq!(paged, all_codes);

    // A filtered page: the township 149901103 holds two village stations and the joint one.
    let (_, township) = app.get("/api/v1/stations?area=149901103").await;
    let township = codes(&township["stations"]);
    assert_eq!(
        township,
        ["PV149901103201-01", "PV149901103202-01", "PVJ149901-01"]
    );
    let (_, body) = app
        .get("/api/v1/stations?area=149901103&limit=2&offset=1")
        .await;
    assert_eq!(body["total"], 3);
    assert_eq!(codes(&body["stations"]), township[1..3]);
    let (_, body) = app
        .get("/api/v1/stations?area=149901103&kind=village&limit=1&offset=1")
        .await;
    assert_eq!(body["total"], 2);
    assert_eq!(codes(&body["stations"]), ["PV149901103202-01"]);
}

async fn bad_paging_parameters_are_refused_with_the_parameter_named(db: TestDb) {
    let app = loaded(&db).await;
    for (query, named) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=-5", "limit"),
        ("limit=ten", "limit"),
        ("limit=", "limit"),
        ("offset=-1", "offset"),
        ("offset=1.5", "offset"),
        ("limit=10&offset=x", "offset"),
    ] {
        let (status, body) = app.get(&format!("/api/v1/stations?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "bad_request", "{query}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{named}=")),
            "{query}: {message}"
        );
    }
    let (status, _) = app.get("/api/v1/stations?limit=1000").await;
    assert_eq!(status, 200, "the maximum page is allowed");
    let (status, body) = app.get("/api/v1/stations?area=999999&limit=5").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["message"], "area 999999 not found");
}

async fn a_paged_list_shows_the_same_health_as_the_full_list(db: TestDb) {
    let app = loaded(&db).await;
    let now = Utc::now();
    let at = |min: i64| (now - Duration::minutes(min)).to_rfc3339();
    // Station 01101201: one inverter producing, one in fault (a fault outranks daylight);
    // 01101202: silent for 40 minutes; 01102201: producing, with a counter that rose.
    let sends = [
        (
            "GW-149901101201",
            vec![
                json!({"device": "INV-PV149901101201-01-1", "ts": at(6), "ac_power_w": 39000.0, "energy_total_kwh": 5000.0, "status": "running"}),
                json!({"device": "INV-PV149901101201-01-1", "ts": at(1), "ac_power_w": 41000.0, "energy_total_kwh": 5003.4, "status": "running"}),
                json!({"device": "INV-PV149901101201-01-2", "ts": at(1), "ac_power_w": 0.0, "status": "fault"}),
            ],
        ),
        (
            "GW-149901101202",
            vec![
                json!({"device": "INV-PV149901101202-01-1", "ts": at(40), "ac_power_w": 20000.0, "status": "running"}),
            ],
        ),
        (
            "GW-149901102201",
            vec![
                json!({"device": "INV-PV149901102201-01-1", "ts": at(7), "ac_power_w": 60000.0, "energy_total_kwh": 800.0, "status": "running"}),
                json!({"device": "INV-PV149901102201-01-1", "ts": at(2), "ac_power_w": 61000.0, "energy_total_kwh": 805.1, "status": "running"}),
            ],
        ),
    ];
    for (gateway, readings) in sends {
        let body = json!({"gateway": gateway, "sent_at": now.to_rfc3339(), "readings": readings});
        let (status, answer) = app
            .ingest(gateway, &example_secret(gateway), &body.to_string())
            .await;
        assert!(status < 300, "{gateway}: {status} {answer}");
    }

    let (_, full) = app.get("/api/v1/stations").await;
    let health_of = |list: &Value| -> Vec<(String, Value)> {
        list["stations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["code"].as_str().unwrap().to_owned(), s["health"].clone()))
            .collect()
    };
    let full = health_of(&full);
    let fault = full.iter().find(|(c, _)| c == "PV149901101201-01").unwrap();
    assert_eq!(fault.1["state"], "fault", "{fault:?}");
    assert_eq!(fault.1["power_w"], 41000.0);
    assert!(
        full.iter()
            .filter(|(_, h)| h["last_seen"].is_string())
            .count()
            >= 3,
        "{full:?}"
    );
    let mut paged = Vec::new();
    for offset in (0..11).step_by(3) {
        let (_, page) = app
            .get(&format!("/api/v1/stations?limit=3&offset={offset}"))
            .await;
        paged.extend(health_of(&page));
    }
    assert_eq!(paged, full);
    // A township's page holds the same health as the province list for its stations.
    let (_, page) = app.get("/api/v1/stations?area=149901101&limit=2").await;
    for (code, health) in health_of(&page) {
        let (_, in_full) = full.iter().find(|(c, _)| *c == code).unwrap();
        assert_eq!(&health, in_full, "{code}");
    }
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

/// Runs SQL on the test database directly, as another process or an operator would.
async fn sql(db: &TestDb, statement: &str) {
    match &db.store {
        pvledger::store::Store::Sqlite(p) => sqlx::raw_sql(statement).execute(p).await.map(|_| ()),
        pvledger::store::Store::Postgres(p) => {
            sqlx::raw_sql(statement).execute(p).await.map(|_| ())
        }
    }
    .unwrap();
}

/// The API keeps the ledger in memory (ledger::cache); a change made behind its back, in
/// the database, shows on the very next request, with no wait and no restart.
async fn a_ledger_change_made_elsewhere_shows_on_the_next_request(db: TestDb) {
    let app = loaded(&db).await;
    let (_, township) = app.get("/api/v1/stations?area=149901103").await;
    assert_eq!(township["total"], 3, "{township}");
    let (status, _) = app.get("/api/v1/stations/PV-NEW-01/energy").await;
    assert_eq!(status, 404);

    sql(
        &db,
        "UPDATE stations SET name = '改名站', area_code = '149901103' \
         WHERE code = 'PV149901101201-01'",
    )
    .await;
    let (_, township) = app.get("/api/v1/stations?area=149901103").await;
    assert_eq!(township["total"], 4, "{township}");
    let moved = township["stations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "PV149901101201-01")
        .expect("the moved station is listed under its new township");
    assert_eq!(moved["name"], "改名站");

    sql(
        &db,
        "INSERT INTO stations (code, name, kind, area_code, dc_capacity_kwp) \
         VALUES ('PV-NEW-01', '新站', 'village', '149901103', '50')",
    )
    .await;
    let (_, all) = app.get("/api/v1/stations").await;
    assert_eq!(all["total"], 12, "{all}");
    let (status, body) = app.get("/api/v1/stations/PV-NEW-01/energy").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["points"], json!([]));
}

/// Token callers are kept in memory (auth::token_cache); a token revoked, a user disabled
/// or a role changed in the database is honoured from the very next request.
async fn a_token_revoked_or_a_user_changed_elsewhere_counts_at_once(db: TestDb) {
    let app = loaded(&db).await;
    let status = |client: reqwest::Client, path: &'static str| {
        let url = format!("{}{path}", app.base);
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    };
    let token = common::role_token(&db.store, "admin", None).await;
    let client = common::client_with_token(&token);
    for _ in 0..2 {
        assert_eq!(status(client.clone(), "/api/v1/stations").await, 200);
    }
    let hash = pvledger::auth::accounts::token_hash(&token);
    sql(
        &db,
        &format!("UPDATE api_tokens SET revoked = TRUE WHERE token_hash = '{hash}'"),
    )
    .await;
    assert_eq!(status(client, "/api/v1/stations").await, 401, "revoked");

    let token = common::role_token(&db.store, "admin", None).await;
    let client = common::client_with_token(&token);
    assert_eq!(status(client.clone(), "/api/v1/stations").await, 200);
    let hash = pvledger::auth::accounts::token_hash(&token);
    let user = format!("(SELECT user_id FROM api_tokens WHERE token_hash = '{hash}')");
    sql(
        &db,
        &format!(
            "UPDATE users SET role = 'village', village_code = '149901101201' WHERE id = {user}"
        ),
    )
    .await;
    assert_eq!(
        status(client.clone(), "/api/v1/stations").await,
        403,
        "now a village user"
    );
    sql(
        &db,
        &format!("UPDATE users SET disabled = TRUE WHERE id = {user}"),
    )
    .await;
    assert_eq!(status(client, "/api/v1/stations").await, 401, "disabled");
}

/// At start the service counts each located station's daylight of the last year, so the
/// first energy chart after a restart is as quick as the next (the counts themselves are
/// unit-tested in `daylight_warmup`); /metrics shows the progress.
async fn the_daylight_of_every_located_station_is_counted_at_start(db: TestDb) {
    let app = loaded(&db).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let text = common::metrics::metrics_of(&app.base).await;
        if common::metrics::metric(&text, "pvledger_daylight_counting_done") == 1.0 {
            // The example county: 11 stations, every one with coordinates.
            assert_eq!(
                common::metrics::metric(&text, "pvledger_daylight_stations_counted"),
                11.0
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "counting never finished:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

both_backends!(
    the_daylight_of_every_located_station_is_counted_at_start,
    health_and_readiness_answer,
    villages_are_listed_and_filtered_by_area,
    stations_are_listed_with_exact_decimals_and_filtered,
    stations_are_paged_in_code_order_with_the_total_on_every_page,
    bad_paging_parameters_are_refused_with_the_parameter_named,
    a_paged_list_shows_the_same_health_as_the_full_list,
    a_station_shows_its_tariff_shares_in_force_and_devices,
    a_device_is_served_without_secrets,
    an_unknown_path_gets_a_json_404,
    a_ledger_change_made_elsewhere_shows_on_the_next_request,
    a_token_revoked_or_a_user_changed_elsewhere_counts_at_once,
);
