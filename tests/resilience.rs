//! Fault drills and backpressure (issue 7), each against real components: a private
//! Mosquitto that the test floods or restarts, and a private PostgreSQL server that it
//! restarts in the middle of ingest. Every drill ends by counting the stored readings:
//! all of them, each once (the readings table's key is (device, ts)).

mod common;

use std::time::Duration;

use common::broker::{durable, publish_all, stored, telemetry_payloads};
use common::metrics::{metric, metrics_of};
use common::private_pg::PrivatePg;
use common::{TestApp, TestDb, eventually, example_dir, test_config, unique};
use pvledger::app::Application;
use pvledger::ledger::import_dir;
use pvledger::store::Store;

async fn subscribed(base: &str) {
    eventually(20, "the MQTT subscription", || async {
        let ready: serde_json::Value = reqwest::get(format!("{base}/readyz"))
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (ready["mqtt"] == "subscribed").then_some(())
    })
    .await;
}

/// Floods a service whose backlog holds 1 MiB with about 4 MB of payloads (3,000 messages
/// of 10 readings), its MQTT client's request queue `request_queue` long. Waits until all
/// 30,000 readings are stored and the backlog is empty, and returns the metrics then.
async fn flood(db: &TestDb, request_queue: usize) -> String {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let broker = durable();
    let prefix = unique("pvflood");
    let app = TestApp::spawn_with(db, |c| {
        c.mqtt.url = broker.url();
        c.mqtt.client_id = unique("pvledger-flood");
        c.mqtt.topic_prefix = prefix.clone();
        c.mqtt.max_pending_mb = 1;
        c.mqtt.request_queue = request_queue;
    })
    .await;
    subscribed(&app.base).await;

    publish_all(broker.port, telemetry_payloads(&prefix, 3_000, 10)).await;
    eventually(180, "30,000 stored readings", || async {
        (stored(&db.store).await == 30_000).then_some(())
    })
    .await;
    eventually(10, "an empty backlog", || async {
        let text = metrics_of(&app.base).await;
        (metric(&text, "pvledger_mqtt_pending_messages") == 0.0).then_some(())
    })
    .await;
    metrics_of(&app.base).await
}

/// More than the receiver may hold arrives at once: it takes what fits in
/// `mqtt.max_pending_mb`, leaves the rest unacknowledged at the broker, reconnects once it
/// has room and is sent the rest again. Before, a flood like this deadlocked the receiver.
async fn a_flood_beyond_the_backlog_bound_is_shed_and_sent_again(db: TestDb) {
    let text = flood(&db, 256).await;
    assert!(metric(&text, "pvledger_mqtt_shed_total") > 0.0, "{text}");
    assert!(
        metric(&text, "pvledger_mqtt_reconnects_total") >= 1.0,
        "{text}"
    );
    assert!(metric(&text, "pvledger_ingest_readings_accepted_total") >= 30_000.0);
    assert!(metric(&text, "pvledger_ingest_batch_seconds_count") >= 1.0);
    // Nothing was lost or stored twice, and nothing was refused.
    assert_eq!(stored(&db.store).await, 30_000);
}

/// The same flood with a request queue of one: each acknowledgement waits for the client's
/// event loop to take the one before, and the disconnect that fetches the shed messages
/// again must find room among them. Still every reading is stored once, the backlog
/// empties, and the waits are counted.
async fn a_full_request_queue_delays_acknowledgements_and_loses_nothing(db: TestDb) {
    let text = flood(&db, 1).await;
    assert!(
        metric(&text, "pvledger_mqtt_ack_waits_total") > 0.0,
        "the queue of one was never full: {text}"
    );
    assert!(metric(&text, "pvledger_mqtt_shed_total") > 0.0, "{text}");
    assert!(
        metric(&text, "pvledger_mqtt_reconnects_total") >= 1.0,
        "{text}"
    );
    assert_eq!(stored(&db.store).await, 30_000);
}

/// The broker is stopped and started again while gateways publish: the service reconnects
/// to its persistent session and is sent what the broker kept; the gateways resend what
/// the broker had not acknowledged.
async fn a_broker_restart_during_ingest_loses_nothing(db: TestDb) {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let mut broker = durable();
    let prefix = unique("pvrestart");
    let app = TestApp::spawn_with(&db, |c| {
        c.mqtt.url = broker.url();
        c.mqtt.client_id = unique("pvledger-restart");
        c.mqtt.topic_prefix = prefix.clone();
    })
    .await;
    subscribed(&app.base).await;

    let port = broker.port;
    let messages = telemetry_payloads(&prefix, 400, 5);
    let publisher = tokio::spawn(async move {
        // Slow enough that the restart falls in the middle of the stream.
        for chunk in messages.chunks(40) {
            publish_all(port, chunk.to_vec()).await;
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(600)).await;
    let before = stored(&db.store).await;
    let _broker = tokio::task::spawn_blocking(move || {
        broker.restart(Duration::from_secs(2));
        broker
    })
    .await
    .unwrap();
    publisher.await.unwrap();
    eventually(60, "2,000 stored readings", || async {
        (stored(&db.store).await == 2_000).then_some(())
    })
    .await;
    assert!(
        before < 2_000,
        "the restart came after everything was stored"
    );
    let text = metrics_of(&app.base).await;
    assert!(
        metric(&text, "pvledger_mqtt_reconnects_total") >= 1.0,
        "{text}"
    );
}

both_backends!(
    a_flood_beyond_the_backlog_bound_is_shed_and_sent_again,
    a_full_request_queue_delays_acknowledgements_and_loses_nothing,
    a_broker_restart_during_ingest_loses_nothing
);

/// PostgreSQL is restarted while messages arrive: the writer's batch fails, ingest pauses
/// and retries, nothing is acknowledged before it is committed, and every reading is
/// stored once the database is back.
#[tokio::test]
async fn a_postgres_restart_during_ingest_pauses_ingest_and_loses_nothing() {
    let pg = PrivatePg::start();
    let broker = durable();
    let prefix = unique("pvpgdown");
    let mut config = test_config(&pg.url());
    config.mqtt.url = broker.url();
    config.mqtt.client_id = unique("pvledger-pgdown");
    config.mqtt.topic_prefix = prefix.clone();
    let (store, mode) = Store::open(&config.database, &config.storage)
        .await
        .unwrap();
    import_dir(&store, &example_dir(), "test", false)
        .await
        .unwrap();
    let app = Application::with_store(config, store.clone(), mode)
        .await
        .unwrap();
    let base = format!("http://{}", app.local_addr());
    let stop = app.shutdown_token();
    let server = tokio::spawn(app.run());
    subscribed(&base).await;

    let messages = telemetry_payloads(&prefix, 300, 5);
    let (first, rest) = messages.split_at(100);
    publish_all(broker.port, first.to_vec()).await;
    eventually(30, "the first 500 readings", || async {
        (stored(&store).await == 500).then_some(())
    })
    .await;
    // The database goes away; the broker keeps taking messages meanwhile.
    let pg = tokio::task::spawn_blocking(move || {
        pg.restart(Duration::from_secs(3));
        pg
    });
    publish_all(broker.port, rest.to_vec()).await;
    let _pg = pg.await.unwrap();
    eventually(90, "all 1,500 readings after the restart", || async {
        (stored(&store).await == 1_500).then_some(())
    })
    .await;
    stop.cancel();
    server.await.unwrap().unwrap();
}
