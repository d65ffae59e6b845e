//! Ingest end to end on both backends: HTTP and MQTT (real Mosquitto) payloads, every kind
//! of refusal kept with its reason, rollups equal to energy worked out by hand, late data
//! landing in place, resends stored once.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::{TestApp, TestDb, eventually, example_dir, example_secret, mqtt_publish, unique};
use pvledger::ingest::{Ingest, PolledNotStored};
use pvledger::ledger::import_dir;
use pvledger::modbus::feed::ReadingSink;
use pvledger::reading::{DeviceReading, Reading};
use pvledger::store::Store;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const GW: &str = "GW-149901101201";
const INV: &str = "INV-PV149901101201-01-1";
const STATION: &str = "PV149901101201-01";
/// A device of another gateway (GW-149901101202).
const FOREIGN: &str = "INV-PV149901101202-01-1";

fn t0() -> DateTime<Utc> {
    // 2026-06-01 23:30 in Shanghai: the series crosses local midnight.
    DateTime::parse_from_rfc3339("2026-06-01T15:30:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// The test series: one reading a minute for an hour, 0.5 kWh a minute (30 kW), with the
/// counter glitching to 0 at minute 10 and spiking at minute 20.
fn counter_at(k: i64) -> f64 {
    match k {
        10 => 0.0,
        20 => 99_999.0,
        _ => 1000.0 + 0.5 * k as f64,
    }
}

fn reading(k: i64) -> Value {
    json!({"device": INV, "ts": (t0() + Duration::minutes(k)).to_rfc3339(), "ac_power_w": 30000.0,
           "energy_total_kwh": counter_at(k), "status": "running"})
}

fn payload(gateway: &str, readings: Vec<Value>) -> String {
    json!({"gateway": gateway, "sent_at": Utc::now().to_rfc3339(), "readings": readings})
        .to_string()
}

async fn loaded(db: &TestDb) -> TestApp {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    TestApp::spawn(db).await
}

async fn count(store: &Store, sql: &str) -> i64 {
    match store {
        Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    }
}

async fn rollups_equal_energy_worked_out_by_hand_even_when_data_arrives_late(db: TestDb) {
    let app = loaded(&db).await;
    let secret = example_secret(GW);
    // Act: the second half-hour arrives first, then the first (a gateway back-filling).
    let (s1, _) = app
        .ingest(GW, &secret, &payload(GW, (30..=60).map(reading).collect()))
        .await;
    let (s2, out) = app
        .ingest(GW, &secret, &payload(GW, (0..30).map(reading).collect()))
        .await;
    assert_eq!((s1, s2), (200, 200), "{out}");
    assert_eq!(out["accepted"], 30);

    // Worked by hand: 60 one-minute intervals of 0.5 kWh = 30 kWh, less the two intervals
    // around the spike (19->20 jump, 20->21 decrease) = 29 kWh. The glitch to 0 at minute
    // 10 is skipped: 9->11 pairs up and keeps its 1 kWh. Hour 15Z (local 23:00, June 1)
    // holds intervals ending at minutes 1..29: 14.5 - 1.0 = 13.5; hour 16Z (local 00:00,
    // June 2) holds minutes 30..60: 31 x 0.5 = 15.5.
    let (_, hours) = app
        .get(&format!(
            "/api/v1/stations/{STATION}/energy?from=2026-06-01&to=2026-06-02&interval=hour"
        ))
        .await;
    let hourly: Vec<(String, f64)> = hours["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["period"].as_str().unwrap().to_owned(),
                p["energy_kwh"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        hourly,
        [
            ("2026-06-01T15:00:00+00:00".to_owned(), 13.5),
            ("2026-06-01T16:00:00+00:00".to_owned(), 15.5)
        ]
    );

    let (_, days) = app
        .get(&format!(
            "/api/v1/stations/{STATION}/energy?from=2026-06-01&to=2026-06-02&interval=day"
        ))
        .await;
    let daily: Vec<(&str, f64)> = days["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["period"].as_str().unwrap(),
                p["energy_kwh"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(daily, [("2026-06-01", 13.5), ("2026-06-02", 15.5)]);

    let (_, months) = app
        .get(&format!(
            "/api/v1/stations/{STATION}/energy?from=2026-06-01&to=2026-06-30&interval=month"
        ))
        .await;
    assert_eq!(months["points"][0]["period"], "2026-06");
    assert_eq!(months["points"][0]["energy_kwh"], 29.0);

    // The three bad counter readings carry quality flags; the rest are clean.
    assert_eq!(
        count(
            &db.store,
            "SELECT COUNT(*) FROM readings WHERE quality <> 0"
        )
        .await,
        3
    );
    assert_eq!(count(&db.store, "SELECT COUNT(*) FROM readings").await, 61);
}

async fn a_resent_payload_is_stored_once(db: TestDb) {
    let app = loaded(&db).await;
    let secret = example_secret(GW);
    let body = payload(GW, (0..5).map(reading).collect());

    let (_, first) = app.ingest(GW, &secret, &body).await;
    let (_, again) = app.ingest(GW, &secret, &body).await;

    assert_eq!(first["duplicates"], 0);
    assert_eq!(again["accepted"], 5);
    assert_eq!(again["duplicates"], 5);
    assert_eq!(count(&db.store, "SELECT COUNT(*) FROM readings").await, 5);
    let (_, latest) = app.get(&format!("/api/v1/devices/{INV}/latest")).await;
    assert_eq!(latest["energy_total_kwh"], 1002.0);
    assert_eq!(latest["status"], "running");
}

async fn each_kind_of_bad_input_is_refused_with_its_reason_and_good_readings_survive(db: TestDb) {
    let app = loaded(&db).await;
    let secret = example_secret(GW);
    let now = Utc::now();
    let readings = vec![
        json!({"device": INV, "ts": now.to_rfc3339(), "ac_power_w": 1000.0}),
        json!({"device": "INV-NOBODY", "ts": now.to_rfc3339(), "ac_power_w": 1.0}),
        json!({"device": FOREIGN, "ts": now.to_rfc3339(), "ac_power_w": 1.0}),
        json!({"device": INV, "ts": (now + Duration::minutes(30)).to_rfc3339(), "ac_power_w": 1.0}),
        json!({"device": INV, "ts": now.to_rfc3339(), "frequency_hz": 500.0}),
        json!({"device": INV, "ts": "yesterday", "ac_power_w": 1.0}),
    ];

    let (status, out) = app.ingest(GW, &secret, &payload(GW, readings)).await;

    assert_eq!(status, 200);
    assert_eq!(out["accepted"], 1);
    let reasons: Vec<&str> = out["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    for r in [
        "unknown_device",
        "foreign_device",
        "future_timestamp",
        "impossible_value",
        "bad_timestamp",
    ] {
        assert!(reasons.contains(&r), "{r} missing from {reasons:?}");
    }
    // Whole-payload refusals: unreadable, or claiming another gateway.
    let (status, body) = app.ingest(GW, &secret, "{\"gateway\": ").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("unparseable"))
    );
    let (status, body) = app
        .ingest(GW, &secret, &payload("GW-149901101202", vec![]))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("gateway_mismatch"))
    );
    // Wrong credential: nothing stored, nothing listed.
    let (status, _) = app
        .ingest(GW, "not-the-secret-at-all", &payload(GW, vec![]))
        .await;
    assert_eq!(status, 401);

    let (_, listed) = app
        .get(&format!("/api/v1/ingest/rejections?gateway={GW}"))
        .await;
    let stored = listed["rejections"].as_array().unwrap();
    assert_eq!(stored.len(), 7, "{listed}");
    let garbage = stored
        .iter()
        .find(|r| r["reason"] == "unparseable")
        .unwrap();
    assert_eq!(
        garbage["payload"], "{\"gateway\": ",
        "the raw payload is kept"
    );
    let (_, only) = app
        .get("/api/v1/ingest/rejections?reason=foreign_device")
        .await;
    assert_eq!(only["rejections"].as_array().unwrap().len(), 1);
    assert!(
        only["rejections"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("belongs to gateway GW-149901101202")
    );
    assert_eq!(count(&db.store, "SELECT COUNT(*) FROM readings").await, 1);
}

async fn mqtt_payloads_from_mosquitto_are_stored_and_bad_ones_refused(db: TestDb) {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let prefix = unique("pvtest");
    let app = TestApp::spawn_with(&db, |c| {
        c.mqtt.url = "mqtt://127.0.0.1:1883".into();
        c.mqtt.client_id = unique("pvledger-test");
        c.mqtt.topic_prefix = prefix.clone();
    })
    .await;
    // Publish only once the subscription stands (a message before it would go nowhere).
    eventually(10, "the MQTT subscription", || async {
        let (_, ready) = app.get("/readyz").await;
        (ready["mqtt"] == "subscribed").then_some(())
    })
    .await;
    let now = Utc::now();

    mqtt_publish(
        &format!("{prefix}/{GW}/telemetry"),
        payload(GW, vec![json!({"device": INV, "ts": now.to_rfc3339(), "ac_power_w": 42000.0, "energy_total_kwh": 5000.0}), json!({"device": FOREIGN, "ts": now.to_rfc3339()})])
            .as_bytes(),
    )
    .await;
    mqtt_publish(&format!("{prefix}/{GW}/telemetry"), b"\x00\x01 not json").await;
    mqtt_publish(
        &format!("{prefix}/GW-149901101202/telemetry"),
        payload(GW, vec![]).as_bytes(),
    )
    .await;

    let latest = eventually(10, "the reading over MQTT", || async {
        let (status, body) = app.get(&format!("/api/v1/devices/{INV}/latest")).await;
        (status == 200).then_some(body)
    })
    .await;
    assert_eq!(latest["ac_power_w"], 42000.0);
    let rejections = eventually(10, "three rejections", || async {
        let (_, body) = app.get("/api/v1/ingest/rejections").await;
        let list = body["rejections"].as_array().unwrap().clone();
        (list.len() >= 3).then_some(list)
    })
    .await;
    let mut reasons: Vec<&str> = rejections
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        ["foreign_device", "gateway_mismatch", "unparseable"]
    );
    assert!(
        rejections
            .iter()
            .all(|r| r["source"].as_str().unwrap().starts_with("mqtt:"))
    );
}

async fn the_station_list_shows_live_health(db: TestDb) {
    let app = loaded(&db).await;
    let now = Utc::now();
    let body = payload(
        GW,
        vec![
            json!({"device": INV, "ts": now.to_rfc3339(), "ac_power_w": 42000.0, "status": "running"}),
        ],
    );
    app.ingest(GW, &example_secret(GW), &body).await;

    let (_, list) = app.get("/api/v1/stations").await;

    let stations = list["stations"].as_array().unwrap();
    let ours = stations.iter().find(|s| s["code"] == STATION).unwrap();
    let silent = stations
        .iter()
        .find(|s| s["code"] == "PV149901101202-01")
        .unwrap();
    let station = db
        .store
        .load_ledger()
        .await
        .unwrap()
        .stations
        .into_iter()
        .find(|s| s.code == STATION)
        .unwrap();
    // The expected state depends on whether the sun is up in Shanxi while the test runs.
    let day = pvledger::health::daylight(&station, now);
    assert_eq!(ours["health"]["power_w"], 42000.0);
    assert_eq!(
        ours["health"]["state"],
        if day { "producing" } else { "night_standby" }
    );
    assert_eq!(
        silent["health"]["state"],
        if day { "offline" } else { "night_standby" }
    );
    assert!(silent["health"]["last_seen"].is_null());
    assert_eq!(ours["code"], STATION, "ledger fields stay at the top level");
}

/// A reading the database refuses (a trigger stands for any fault of the database with the
/// database up): over HTTP its payload is answered 500 `not_stored` and nothing of it is
/// stored; from Modbus polling it is logged and polling goes on. Payloads after it are
/// stored either way. (Before, HTTP said 503 `shutting_down`, and one refused polled batch
/// stopped the service's Modbus ingest.)
async fn a_payload_the_database_refuses_is_answered_not_stored_and_ingest_goes_on(db: TestDb) {
    const MARK: f64 = 4242.0;
    let refuse = match &db.store {
        Store::Sqlite(_) => vec![
            "CREATE TRIGGER refuse_marked BEFORE INSERT ON readings WHEN NEW.energy_total_kwh = 4242 \
             BEGIN SELECT RAISE(ABORT, 'marked reading refused'); END",
        ],
        Store::Postgres(_) => vec![
            "CREATE FUNCTION refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.energy_total_kwh = 4242 THEN RAISE EXCEPTION 'marked reading refused'; END IF; \
             RETURN NEW; END $$",
            "CREATE TRIGGER refuse_marked BEFORE INSERT ON readings FOR EACH ROW \
             EXECUTE FUNCTION refuse_marked()",
        ],
    };
    for sql in refuse {
        match &db.store {
            Store::Sqlite(p) => sqlx::query(sql).execute(p).await.map(drop),
            Store::Postgres(p) => sqlx::query(sql).execute(p).await.map(drop),
        }
        .unwrap();
    }
    let app = loaded(&db).await;
    let secret = example_secret(GW);
    let marked = |k: i64| {
        let mut r = reading(k);
        r["energy_total_kwh"] = json!(MARK);
        r
    };

    let (status, body) = app
        .ingest(GW, &secret, &payload(GW, vec![reading(0), marked(1)]))
        .await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["code"], "not_stored", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("marked reading refused"), "{message}");
    assert_eq!(count(&db.store, "SELECT COUNT(*) FROM readings").await, 0);

    let (status, body) = app
        .ingest(GW, &secret, &payload(GW, (2..5).map(reading).collect()))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 3);

    // Polled readings go through the same writer.
    let (mut ingest, writer) = Ingest::start(
        db.store.clone(),
        db.config.time.zone,
        &db.config.ingest,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let polled = |k: i64, kwh: f64| DeviceReading {
        device_code: INV.into(),
        ts: t0() + Duration::minutes(k),
        reading: Reading {
            energy_total_kwh: Some(kwh),
            ..Reading::default()
        },
    };
    let refused = ingest.submit_polled(vec![polled(10, MARK)]).await;
    assert!(
        matches!(refused, Err(PolledNotStored::Refused(_))),
        "{refused:?}"
    );
    ingest.accept(vec![polled(11, MARK)]).await.unwrap();
    ingest.accept(vec![polled(12, 1006.0)]).await.unwrap();
    assert_eq!(count(&db.store, "SELECT COUNT(*) FROM readings").await, 4);
    drop(ingest);
    writer.await.unwrap();
}

both_backends!(
    a_payload_the_database_refuses_is_answered_not_stored_and_ingest_goes_on,
    the_station_list_shows_live_health,
    rollups_equal_energy_worked_out_by_hand_even_when_data_arrives_late,
    a_resent_payload_is_stored_once,
    each_kind_of_bad_input_is_refused_with_its_reason_and_good_readings_survive,
    mqtt_payloads_from_mosquitto_are_stored_and_bad_ones_refused,
);

/// The embedded broker (no external broker configured) admits a gateway with its ledger
/// credential, refuses a wrong one, and its messages are stored.
#[tokio::test]
async fn the_embedded_broker_admits_gateways_by_their_ledger_credential() {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let db = TestDb::sqlite().await;
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let mut config = db.config.clone();
    config.mqtt.embedded_listen = "127.0.0.1:0".into();
    let app = pvledger::app::Application::with_store(config, db.store.clone(), db.mode)
        .await
        .unwrap();
    let broker = app.broker_addr().expect("the embedded broker runs");
    let base = format!("http://{}", app.local_addr());
    let token = app.shutdown_token();
    tokio::spawn(app.run());
    // /readyz is open; the device route needs a token since accounts arrived.
    let http = common::client_with_token(&common::role_token(&db.store, "admin", None).await);
    eventually(10, "the receiver's subscription", || async {
        let r: Value = http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (r["mqtt"] == "subscribed").then_some(())
    })
    .await;

    let connect = |user: &str, pass: &str| {
        let mut o = MqttOptions::new(unique("gw"), broker.ip().to_string(), broker.port());
        o.set_credentials(user, pass);
        AsyncClient::new(o, 10)
    };
    // A wrong credential is refused at CONNECT.
    let (_, mut bad) = connect(GW, "wrong-credential-000000");
    let refused = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match bad.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(a))) => {
                    break a.code != rumqttc::ConnectReturnCode::Success;
                }
                Ok(_) => {}
                Err(_) => break true,
            }
        }
    })
    .await
    .unwrap();
    assert!(refused);

    let (client, mut el) = connect(GW, &example_secret(GW));
    let body = payload(
        GW,
        vec![json!({"device": INV, "ts": Utc::now().to_rfc3339(), "ac_power_w": 777.0})],
    );
    client
        .publish(
            format!("pvledger/v1/{GW}/telemetry"),
            QoS::AtLeastOnce,
            false,
            body,
        )
        .await
        .unwrap();
    tokio::spawn(async move { while el.poll().await.is_ok() {} });
    // Reading telemetry back needs a user's token since accounts exist.
    let reader =
        common::client_with_token(&common::role_token(&db.store, "technician", None).await);
    let latest = eventually(10, "the reading through the embedded broker", || async {
        let r = reader
            .get(format!("{base}/api/v1/devices/{INV}/latest"))
            .send()
            .await
            .ok()?;
        if r.status() != 200 {
            return None;
        }
        r.json::<Value>().await.ok()
    })
    .await;
    assert_eq!(latest["ac_power_w"], 777.0);
    token.cancel();
}
