//! A service killed (SIGKILL) between receiving an MQTT message and committing it loses
//! nothing: the message was not acknowledged, the broker keeps it in the persistent
//! session, and the restarted service stores it exactly once.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use common::{TestDb, eventually, example_dir, mqtt_publish, unique};
use pvledger::ledger::import_dir;
use pvledger::store::Store;
use serde_json::json;

/// Starts `pvledger serve` and returns it with its HTTP address (read from its log).
fn serve(db_url: &str, client_id: &str, prefix: &str, linger_ms: u64) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pvledger"))
        .arg("serve")
        .env("PVLEDGER__DATABASE__URL", db_url)
        .env("PVLEDGER__HTTP__LISTEN", "127.0.0.1:0")
        .env("PVLEDGER__MQTT__URL", "mqtt://127.0.0.1:1883")
        .env("PVLEDGER__MQTT__CLIENT_ID", client_id)
        .env("PVLEDGER__MQTT__TOPIC_PREFIX", prefix)
        .env("PVLEDGER__INGEST__BATCH_LINGER_MS", linger_ms.to_string())
        .env("PVLEDGER__MODBUS__ENABLED", "false")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = common::logged_http_addr(&mut child);
    (child, addr)
}

async fn subscribed(addr: &str) {
    eventually(15, "the MQTT subscription", || async {
        let body: serde_json::Value = reqwest::get(format!("http://{addr}/readyz"))
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (body["mqtt"] == "subscribed").then_some(())
    })
    .await;
}

async fn readings(store: &Store) -> i64 {
    let sql = "SELECT COUNT(*) FROM readings";
    match store {
        Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    }
}

async fn a_message_received_but_not_committed_survives_a_kill(db: TestDb) {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let (client_id, prefix) = (unique("pvledger-crash"), unique("pvcrash"));
    // A long batch linger holds the received message uncommitted for seconds.
    let (mut first, addr) = serve(&db.url, &client_id, &prefix, 5_000);
    subscribed(&addr).await;
    let gw = "GW-149901101201";
    let body = json!({"gateway": gw, "readings": [
        {"device": "INV-PV149901101201-01-1", "ts": Utc::now().to_rfc3339(), "ac_power_w": 1234.0, "energy_total_kwh": 777.0}]});

    mqtt_publish(
        &format!("{prefix}/{gw}/telemetry"),
        body.to_string().as_bytes(),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    first.kill().unwrap(); // SIGKILL: no shutdown, no drain
    first.wait().unwrap();
    assert_eq!(
        readings(&db.store).await,
        0,
        "the kill must come before the commit for this test to mean anything"
    );

    let (mut second, addr) = serve(&db.url, &client_id, &prefix, 50);
    let stored = eventually(15, "the redelivered reading", || async {
        let n = readings(&db.store).await;
        (n > 0).then_some(n)
    })
    .await;
    // Give any second delivery time to land, then check it was stored once.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(stored, 1);
    assert_eq!(readings(&db.store).await, 1);
    let technician =
        common::client_with_token(&common::role_token(&db.store, "technician", None).await);
    let latest: serde_json::Value = technician
        .get(format!(
            "http://{addr}/api/v1/devices/INV-PV149901101201-01-1/latest"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(latest["energy_total_kwh"], 777.0);
    second.kill().unwrap();
    second.wait().unwrap();
}

both_backends!(a_message_received_but_not_committed_survives_a_kill);
