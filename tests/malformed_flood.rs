//! Fault drill (issue 7): a flood of generated malformed payloads, interleaved with good
//! ones, through the real service on both backends, over MQTT (the machine's Mosquitto) and
//! HTTP. The corpus is generated from a fixed seed, so a failure replays exactly.
//!
//! Checked at the end: the service still answers /healthz, every good reading is stored
//! exactly once, every malformed one is refused with its expected reason, stored in
//! `rejections` (and listed by the API) and counted in /metrics, and nothing panicked.

mod common;

use std::collections::BTreeMap;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use chrono::{DateTime, Utc};
use common::broker::publish_all;
use common::metrics::metrics_of;
use common::{TestApp, TestDb, eventually, example_dir, example_secret, unique};
use pvledger::ledger::import_dir;
use pvledger::store::Store;
use serde_json::{Value, json};

const GW: &str = "GW-149901101201";
const INV: &str = "INV-PV149901101201-01-1";
/// A device of another gateway (GW-149901101202).
const FOREIGN: &str = "INV-PV149901101202-01-1";
const SEED: u64 = 0x5EED_0007;
/// Messages per backend: over MQTT, and over HTTP (each HTTP request verifies the
/// gateway's argon2 credential, so they are fewer).
const MQTT_MESSAGES: usize = 1000;
const HTTP_MESSAGES: usize = 200;
/// MQTT messages published before waiting for the service to consume them: well below
/// Mosquitto's default max_queued_messages (1000).
const MQTT_BATCH: usize = 300;

/// Panics anywhere in the process (service tasks included) since the hook was installed.
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
}

/// SplitMix64: small, deterministic, and enough to pick kinds and bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// One generated message and what the service must make of it.
struct Message {
    /// The gateway of the topic (MQTT) or the credential (HTTP).
    gateway: String,
    body: Vec<u8>,
    /// Good readings in it (each stored exactly once).
    good: usize,
    /// The refusals it must cause, by reason.
    refused: Vec<&'static str>,
}

/// Builds the corpus: good payloads, malformed ones of every kind, and mixed ones (a good
/// reading next to a bad one: the good one is stored, docs/PAYLOAD.md).
struct Corpus {
    rng: Rng,
    start: DateTime<Utc>,
    /// Good readings made so far; reading k has ts = start + k minutes and
    /// ac_power_w = 1000 + k, so the stored sum tells whether each was stored once.
    good: usize,
}

impl Corpus {
    fn new(seed: u64) -> Self {
        Corpus {
            rng: Rng(seed),
            start: Utc::now() - chrono::Duration::days(20),
            good: 0,
        }
    }

    fn ts(&self, k: usize) -> String {
        (self.start + chrono::Duration::minutes(k as i64)).to_rfc3339()
    }

    fn good_reading(&mut self) -> Value {
        let k = self.good;
        self.good += 1;
        json!({"device": INV, "ts": self.ts(k), "ac_power_w": 1000.0 + k as f64,
               "energy_total_kwh": 5000.0 + k as f64 * 0.01, "status": "running"})
    }

    /// A reading with exactly one thing wrong, and the reason it must be refused for.
    fn bad_reading(&mut self) -> (Value, &'static str) {
        let k = self.rng.below(10_000);
        let ts = self.ts(k);
        let future =
            (Utc::now() + chrono::Duration::days(1 + self.rng.below(3000) as i64)).to_rfc3339();
        match self.rng.below(12) {
            0 => (
                json!({"device": INV, "ts": ts, "ac_power_w": "lots"}),
                "bad_field",
            ),
            1 => (json!({"device": INV, "ts": ts, "status": 5}), "bad_field"),
            2 => (
                json!({"device": INV, "ts": ts, "fault_code": [1, 2]}),
                "bad_field",
            ),
            3 => (
                json!({"device": INV, "ts": ts, "status": "dancing"}),
                "bad_field",
            ),
            4 => (
                json!({"device": INV, "ts": ts, "frequency_hz": 90}),
                "impossible_value",
            ),
            5 => (
                json!({"device": INV, "ts": ts, "ac_power_w": 1e300}),
                "impossible_value",
            ),
            6 => (
                json!({"device": INV, "ts": ts, "energy_total_kwh": -5}),
                "impossible_value",
            ),
            7 => (json!({"device": INV, "ts": future}), "future_timestamp"),
            8 => (
                json!({"device": INV, "ts": "2026-06-01 10:00"}),
                "bad_timestamp",
            ),
            9 => {
                let device = format!("INV-NOPE-{}", self.rng.next() % 1000);
                (json!({"device": device, "ts": ts}), "unknown_device")
            }
            10 => (json!({"device": FOREIGN, "ts": ts}), "foreign_device"),
            // NUL characters: in a device code (never in the ledger) and in a fault code.
            _ if self.rng.below(2) == 0 => {
                (json!({"device": "INV\u{0}x", "ts": ts}), "unknown_device")
            }
            _ => (
                json!({"device": INV, "ts": ts, "fault_code": "E\u{0}1"}),
                "bad_field",
            ),
        }
    }

    fn payload(gateway: &str, readings: Vec<Value>) -> Vec<u8> {
        json!({"gateway": gateway, "sent_at": Utc::now().to_rfc3339(), "readings": readings})
            .to_string()
            .into_bytes()
    }

    /// The next message; `mqtt` allows kinds that only MQTT can carry (an unknown gateway:
    /// over HTTP it has no credential and is answered 401 without being stored).
    fn message(&mut self, mqtt: bool) -> Message {
        let ours = |body, good, refused| Message {
            gateway: GW.to_owned(),
            body,
            good,
            refused,
        };
        match self.rng.below(10) {
            // Good payloads: a third of the flood.
            0..=2 => {
                let n = 1 + self.rng.below(3);
                let readings = (0..n).map(|_| self.good_reading()).collect();
                ours(Self::payload(GW, readings), n, vec![])
            }
            // A good reading next to a bad one: the good one is stored.
            3 | 4 => {
                let good = self.good_reading();
                let (bad, reason) = self.bad_reading();
                let readings = if self.rng.below(2) == 0 {
                    vec![good, bad]
                } else {
                    vec![bad, good]
                };
                ours(Self::payload(GW, readings), 1, vec![reason])
            }
            5 => {
                let (bad, reason) = self.bad_reading();
                ours(Self::payload(GW, vec![bad]), 0, vec![reason])
            }
            // Not JSON: text, binary (NUL bytes included), a truncated good payload.
            6 => {
                let text = [
                    "{not json",
                    "readings",
                    "",
                    "{\"gateway\": ",
                    "[1,2",
                    "\u{feff}{}",
                ][self.rng.below(6)];
                ours(text.as_bytes().to_vec(), 0, vec!["unparseable"])
            }
            7 => {
                let len = 1 + self.rng.below(200);
                ours(self.rng.bytes(len), 0, vec!["unparseable"])
            }
            8 => {
                let (bad, _) = self.bad_reading();
                let whole = Self::payload(GW, vec![bad]);
                let cut = self.rng.below(whole.len());
                ours(whole[..cut].to_vec(), 0, vec!["unparseable"])
            }
            // The v1 shape wrong, another gateway, or (MQTT) a gateway not in the ledger.
            _ => match self.rng.below(4) {
                0 => ours(
                    br#"{"gateway": "GW-149901101201", "readings": {"device": 1}}"#.to_vec(),
                    0,
                    vec!["unparseable"],
                ),
                1 => ours(
                    Self::payload("GW-149901101202", vec![]),
                    0,
                    vec!["gateway_mismatch"],
                ),
                _ if mqtt => {
                    let gateway = format!("GW-NOPE-{}", self.rng.next() % 100);
                    let k = self.rng.below(10_000);
                    let ts = self.ts(k);
                    let body = Self::payload(&gateway, vec![json!({"device": INV, "ts": ts})]);
                    Message {
                        gateway,
                        body,
                        good: 0,
                        refused: vec!["unknown_gateway"],
                    }
                }
                _ => ours(
                    br#"{"gateway": 149901101201, "readings": []}"#.to_vec(),
                    0,
                    vec!["unparseable"],
                ),
            },
        }
    }
}

async fn count(store: &Store, sql: &str) -> i64 {
    match store {
        Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    }
}

async fn stored(store: &Store) -> i64 {
    count(store, "SELECT COUNT(*) FROM readings").await
        + count(store, "SELECT COUNT(*) FROM rejections").await
}

async fn healthy(app: &TestApp) -> bool {
    app.client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

async fn a_flood_of_malformed_payloads_is_refused_with_reasons_and_good_readings_survive(
    db: TestDb,
) {
    // Arrange
    count_panics();
    let started = Instant::now();
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let prefix = unique("pvflood");
    let app = TestApp::spawn_with(&db, |c| {
        c.mqtt.url = "mqtt://127.0.0.1:1883".into();
        c.mqtt.client_id = unique("pvledger-flood");
        c.mqtt.topic_prefix = prefix.clone();
    })
    .await;
    eventually(10, "the MQTT subscription", || async {
        let (_, ready) = app.get("/readyz").await;
        (ready["mqtt"] == "subscribed").then_some(())
    })
    .await;
    let mut corpus = Corpus::new(SEED);
    let mut expected: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut expected_stored = 0i64;

    // Act 1: MQTT in batches, each consumed before the next is published.
    let mut mqtt = Vec::new();
    for _ in 0..MQTT_MESSAGES {
        mqtt.push(corpus.message(true));
    }
    for batch in mqtt.chunks(MQTT_BATCH) {
        let mut out = Vec::new();
        for m in batch {
            for r in &m.refused {
                *expected.entry(r).or_default() += 1;
            }
            expected_stored += (m.good + m.refused.len()) as i64;
            out.push((format!("{prefix}/{}/telemetry", m.gateway), m.body.clone()));
        }
        publish_all(1883, out).await;
        eventually(30, "the MQTT batch to be consumed", || async {
            (stored(&db.store).await >= expected_stored).then_some(())
        })
        .await;
        assert!(healthy(&app).await, "/healthz during the flood");
    }

    // Act 2: HTTP, a few requests at a time; each answer is checked against the corpus.
    let secret = example_secret(GW);
    let http: Vec<Message> = (0..HTTP_MESSAGES).map(|_| corpus.message(false)).collect();
    for chunk in http.chunks(8) {
        let mut sent = Vec::new();
        for m in chunk {
            let request = app
                .client
                .post(format!("{}/api/v1/ingest", app.base))
                .basic_auth(GW, Some(&secret))
                .header("content-type", "application/json")
                .body(m.body.clone());
            sent.push(tokio::spawn(async move {
                let r = request.send().await.unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            }));
        }
        let mut answers = Vec::new();
        for s in sent {
            answers.push(s.await.unwrap());
        }
        for (m, (status, answer)) in chunk.iter().zip(answers) {
            for r in &m.refused {
                *expected.entry(r).or_default() += 1;
            }
            expected_stored += (m.good + m.refused.len()) as i64;
            // Refused as a whole: 400 with the reason as the error code.
            let whole =
                m.good == 0 && matches!(m.refused.as_slice(), ["unparseable" | "gateway_mismatch"]);
            if whole {
                assert_eq!(status, 400, "{answer}");
                assert_eq!(answer["error"]["code"], m.refused[0]);
                continue;
            }
            assert_eq!(status, 200, "{answer}");
            assert_eq!(answer["accepted"], m.good, "{answer}");
            let reasons: Vec<&str> = answer["refused"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["reason"].as_str().unwrap())
                .collect();
            assert_eq!(reasons, m.refused, "{answer}");
        }
    }

    // Assert: alive, every good reading stored once, every refusal stored and counted.
    assert!(healthy(&app).await, "/healthz after the flood");
    assert_eq!(
        stored(&db.store).await,
        expected_stored,
        "readings + rejections"
    );
    let good = corpus.good as i64;
    assert_eq!(
        count(&db.store, "SELECT COUNT(*) FROM readings").await,
        good
    );
    let sum: f64 = match &db.store {
        Store::Sqlite(p) => sqlx::query_scalar("SELECT SUM(ac_power_w) FROM readings")
            .fetch_one(p)
            .await
            .unwrap(),
        Store::Postgres(p) => sqlx::query_scalar("SELECT SUM(ac_power_w) FROM readings")
            .fetch_one(p)
            .await
            .unwrap(),
    };
    let want: f64 = (0..corpus.good).map(|k| 1000.0 + k as f64).sum();
    assert_eq!(sum, want, "each good reading stored once, and only those");

    let total: usize = expected.values().sum();
    assert_eq!(
        count(&db.store, "SELECT COUNT(*) FROM rejections").await,
        total as i64
    );
    let metrics = metrics_of(&app.base).await;
    for (reason, n) in &expected {
        let stored = count(
            &db.store,
            &format!("SELECT COUNT(*) FROM rejections WHERE reason = '{reason}'"),
        )
        .await;
        assert_eq!(stored, *n as i64, "rejections stored for {reason}");
        let (_, listed) = app
            .get(&format!(
                "/api/v1/ingest/rejections?reason={reason}&limit=1000"
            ))
            .await;
        let listed = listed["rejections"].as_array().unwrap();
        assert_eq!(
            listed.len(),
            (*n).min(1000),
            "rejections listed for {reason}"
        );
        assert!(listed.iter().all(|r| r["reason"] == *reason));
        let sample = format!("pvledger_ingest_readings_refused_total{{reason=\"{reason}\"}} {n}");
        assert!(
            metrics.lines().any(|l| l == sample),
            "{sample} missing from /metrics"
        );
    }
    for reason in [
        "unparseable",
        "gateway_mismatch",
        "unknown_gateway",
        "unknown_device",
        "foreign_device",
        "bad_timestamp",
        "future_timestamp",
        "bad_field",
        "impossible_value",
    ] {
        assert!(expected.contains_key(reason), "the corpus covers {reason}");
    }
    // The NUL device is stored with the NUL written out (PostgreSQL TEXT refuses NUL).
    let (_, nul) = app
        .get("/api/v1/ingest/rejections?reason=unknown_device&limit=1000")
        .await;
    assert!(
        nul["rejections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["device"] == "INV\\u0000x"),
        "a device code with a NUL is refused and kept"
    );
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "something panicked");
    eprintln!(
        "flood on {:?}: {} messages, {} good readings, {total} refusals in {:.1} s",
        db.mode,
        MQTT_MESSAGES + HTTP_MESSAGES,
        corpus.good,
        started.elapsed().as_secs_f64()
    );
}

both_backends!(a_flood_of_malformed_payloads_is_refused_with_reasons_and_good_readings_survive);
