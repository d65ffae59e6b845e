//! A durable private Mosquitto for tests that stop or restart their broker, and a publisher
//! that waits for every PUBACK across broker restarts.

use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

use chrono::{DateTime, Utc};
use pvledger::store::Store;
use serde_json::json;

const GW: &str = "GW-149901101201";
const INV: &str = "INV-PV149901101201-01-1";

pub use super::mosquitto::Mosquitto as PrivateBroker;

/// A private broker with no queue limit (Mosquitto's default of 1,000 queued messages drops
/// QoS 1 messages for a slow subscriber) that keeps its sessions and queued messages on
/// disk across a restart.
pub fn durable() -> PrivateBroker {
    PrivateBroker::start(|dir| {
        format!(
            "allow_anonymous true\nmax_queued_messages 0\npersistence true\npersistence_location {}/\n",
            dir.display()
        )
    })
}

/// Publishes every (topic, payload) at QoS 1 from a persistent session and returns once
/// the broker has acknowledged each one, reconnecting (and resending what was not
/// acknowledged) when the broker goes away meanwhile.
pub async fn publish_all(port: u16, messages: Vec<(String, Vec<u8>)>) {
    let total = messages.len();
    let mut opts = MqttOptions::new(super::unique("pvtest-flood"), "127.0.0.1", port);
    opts.set_clean_session(false)
        .set_keep_alive(Duration::from_secs(10))
        .set_max_packet_size(1 << 20, 1 << 20)
        .set_inflight(100);
    let (client, mut events) = AsyncClient::new(opts, 100);
    tokio::spawn(async move {
        for (topic, payload) in messages {
            client
                .publish(topic, QoS::AtLeastOnce, false, payload)
                .await
                .unwrap();
        }
    });
    let mut acked = 0;
    let waited = tokio::time::timeout(Duration::from_secs(120), async {
        while acked < total {
            match events.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
                Ok(_) => {}
                // The broker is restarting: poll again, rumqttc reconnects and resends.
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "the broker acknowledged only {acked} of {total} messages"
    );
}

/// `count` payload v1 messages on `{prefix}/{GW}/telemetry` of `per` readings each of the
/// example county's inverter INV, one minute apart, all in the past.
pub fn telemetry_payloads(prefix: &str, count: usize, per: usize) -> Vec<(String, Vec<u8>)> {
    let start: DateTime<Utc> = Utc::now() - chrono::Duration::days(30);
    (0..count)
        .map(|p| {
            let readings: Vec<_> = (0..per)
                .map(|r| {
                    let minute = (p * per + r) as i64;
                    json!({
                        "device": INV,
                        "ts": (start + chrono::Duration::minutes(minute)).to_rfc3339(),
                        "ac_power_w": 30_000.0,
                        "energy_total_kwh": 1_000.0 + minute as f64 * 0.5,
                    })
                })
                .collect();
            let body = json!({"gateway": GW, "readings": readings}).to_string();
            (format!("{prefix}/{GW}/telemetry"), body.into_bytes())
        })
        .collect()
}

/// Stored readings; -1 while the database does not answer (the restart drill).
pub async fn stored(store: &Store) -> i64 {
    let sql = "SELECT COUNT(*) FROM readings";
    let n = match store {
        Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await,
        Store::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await,
    };
    n.unwrap_or(-1)
}
