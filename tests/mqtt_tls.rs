//! MQTT over TLS end to end: a CA and certificates made at test time (rcgen), a private
//! Mosquitto with a TLS listener, the real service and the real gateway configured with
//! `mqtts://`, and what an operator meets when it goes wrong: a CA that did not sign the
//! broker's certificate, a missing CA file, a broker that requires client certificates.
//!
//! The publisher that stands in for a data logger uses rumqttc's own PEM handling
//! (`Transport::tls`), not pvledger's, so that the two sides are checked independently.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use common::mosquitto::Mosquitto;
use common::{TestApp, TestDb, eventually, example_dir, example_secret, unique};
use pvledger::gateway::{Gateway, GatewayConfig};
use pvledger::ledger::import_dir;
use pvledger::modbus::sim_image::sunspec_image;
use pvledger::modbus::sim_server::SimServer;
use pvledger::reading::{DeviceStatus, Reading};
use pvledger::store::Store;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, Transport};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const GW: &str = "GW-149901101201";
/// The three inverters of GW-149901101201 in the example county.
const DEVICES: [&str; 3] = [
    "INV-PV149901101201-01-1",
    "INV-PV149901101201-01-2",
    "INV-PV149901101201-01-3",
];

/// Certificates made for one test, as PEM files in a directory Mosquitto can read (it
/// drops root privileges to its own user): the CA, the broker's certificate for 127.0.0.1
/// and localhost, a client certificate from the same CA, and an unrelated second CA.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let (ca, ca_key) = make_ca("pvledger test CA");
        let (other, _) = make_ca("an unrelated CA");
        let server = make_leaf(
            "127.0.0.1",
            &["127.0.0.1", "localhost"],
            ExtendedKeyUsagePurpose::ServerAuth,
            &ca,
            &ca_key,
        );
        let client = make_leaf(GW, &[], ExtendedKeyUsagePurpose::ClientAuth, &ca, &ca_key);
        let files = [
            ("ca.pem", ca.pem()),
            ("other-ca.pem", other.pem()),
            ("server.pem", server.0),
            ("server.key", server.1),
            ("client.pem", client.0),
            ("client.key", client.1),
        ];
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            set_mode(&path, 0o644);
        }
        set_mode(dir.path(), 0o755);
        Pki { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.path().join(name)).unwrap()
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn make_ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().unwrap();
    (params.self_signed(&key).unwrap(), key)
}

/// (certificate PEM, private key PEM) signed by the CA.
fn make_leaf(
    name: &str,
    sans: &[&str],
    usage: ExtendedKeyUsagePurpose,
    ca: &rcgen::Certificate,
    ca_key: &KeyPair,
) -> (String, String) {
    let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(sans).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, ca, ca_key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A private Mosquitto ([`Mosquitto`]) with one TLS listener, killed when dropped.
struct TlsBroker {
    port: u16,
    _broker: Mosquitto,
}

impl TlsBroker {
    fn start(pki: &Pki, require_certificate: bool) -> TlsBroker {
        let broker = Mosquitto::start(|_| {
            format!(
                "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate {require_certificate}\nallow_anonymous true\npersistence false\n",
                pki.path("ca.pem"),
                pki.path("server.pem"),
                pki.path("server.key"),
            )
        });
        TlsBroker {
            port: broker.port,
            _broker: broker,
        }
    }

    fn url(&self) -> String {
        format!("mqtts://127.0.0.1:{}", self.port)
    }
}

/// Publishes `payload` at QoS 1 over TLS trusting `ca` (PEM), with a client certificate
/// when given, and waits for the broker's PUBACK; the connection error otherwise.
async fn publish_tls(
    port: u16,
    ca: Vec<u8>,
    client_auth: Option<(Vec<u8>, Vec<u8>)>,
    topic: &str,
    payload: &[u8],
) -> Result<(), String> {
    // rumqttc's own PEM path builds its rustls config on the process-wide provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut opts = MqttOptions::new(unique("pvtest-pub"), "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(10))
        .set_transport(Transport::tls(ca, client_auth, None));
    let (client, mut events) = AsyncClient::new(opts, 10);
    client
        .publish(topic, QoS::AtLeastOnce, false, payload.to_vec())
        .await
        .unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await
    .unwrap_or_else(|_| Err("no PUBACK within 10 s".into()));
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_millis(200), events.poll()).await;
    outcome
}

/// A payload v1 of the gateway with one reading of its first inverter.
fn payload_v1(kw: f64) -> Vec<u8> {
    json!({"gateway": GW, "sent_at": Utc::now().to_rfc3339(), "readings": [
        {"device": DEVICES[0], "ts": Utc::now().to_rfc3339(), "ac_power_w": kw * 1000.0,
         "energy_total_kwh": 5000.0, "status": "running"}
    ]})
    .to_string()
    .into_bytes()
}

/// The example county, and the service receiving from `url` under `prefix` with the TLS
/// keys `ca_file`, `client_cert_file`, `client_key_file`.
async fn service(db: &TestDb, url: &str, prefix: &str, tls: [String; 3]) -> TestApp {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let [ca, cert, key] = tls;
    TestApp::spawn_with(db, |c| {
        c.mqtt.url = url.to_owned();
        c.mqtt.client_id = unique("pvledger-test");
        c.mqtt.topic_prefix = prefix.to_owned();
        c.mqtt.ca_file = ca;
        c.mqtt.client_cert_file = cert;
        c.mqtt.client_key_file = key;
    })
    .await
}

async fn subscribed(app: &TestApp) {
    eventually(15, "the MQTT subscription over TLS", || async {
        let (_, ready) = app.get("/readyz").await;
        (ready["mqtt"] == "subscribed").then_some(())
    })
    .await;
}

/// Readings stored for the gateway's devices.
async fn stored(store: &Store) -> i64 {
    let sql = format!(
        "SELECT COUNT(*) FROM readings r JOIN devices d ON d.id = r.device_id WHERE d.gateway_code = '{GW}'"
    );
    match store {
        Store::Sqlite(p) => sqlx::query_scalar(&sql).fetch_one(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_scalar(&sql).fetch_one(p).await.unwrap(),
    }
}

/// Readings stored for one device.
async fn stored_for(store: &Store, device: &str) -> i64 {
    let sql =
        "SELECT COUNT(*) FROM readings r JOIN devices d ON d.id = r.device_id WHERE d.code = $1";
    match store {
        Store::Sqlite(p) => sqlx::query_scalar(sql)
            .bind(device)
            .fetch_one(p)
            .await
            .unwrap(),
        Store::Postgres(p) => sqlx::query_scalar(sql)
            .bind(device)
            .fetch_one(p)
            .await
            .unwrap(),
    }
}

/// (readings waiting, readings ever appended) of a closed or open outbox file.
async fn outbox_counts(path: &Path) -> (i64, i64) {
    use sqlx::Connection;
    let url = format!("sqlite://{}?mode=ro", path.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let depth = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let appended = sqlx::query_scalar("SELECT value FROM counters WHERE name = 'appended'")
        .fetch_optional(&mut conn)
        .await
        .unwrap()
        .unwrap_or(0);
    let _ = conn.close().await;
    (depth, appended)
}

/// One simulated SunSpec inverter per device of the gateway.
async fn inverters() -> Vec<SimServer> {
    let mut sims = Vec::new();
    for (i, code) in DEVICES.iter().enumerate() {
        let reading = Reading {
            ac_power_w: Some(30_000.0 + 1000.0 * i as f64),
            energy_total_kwh: Some(12_345.0),
            status: Some(DeviceStatus::Running),
            ..Default::default()
        };
        let image = sunspec_image(&reading, code, 2).unwrap();
        sims.push(SimServer::start_local(1, image).await.unwrap());
    }
    sims
}

/// gateway.toml for the simulated inverters and the TLS broker, with `broker_tls` lines
/// in `[broker]` (ca_file...) and `extra` sections after.
fn gateway_toml(
    sims: &[SimServer],
    url: &str,
    prefix: &str,
    outbox: &Path,
    broker_tls: &str,
    extra: &str,
) -> String {
    let mut text = format!(
        r#"
[gateway]
code = "{GW}"
credential = "{secret}"
[broker]
url = "{url}"
topic_prefix = "{prefix}"
client_id = "{client}"
keep_alive_s = 5
{broker_tls}
[outbox]
path = "{outbox}"
[poll]
interval_s = 0.2
timeout_ms = 500
[forward]
start_delay_max_s = 0.2
backlog_rate_per_s = 0
[status]
interval_s = 0.5
{extra}
"#,
        secret = example_secret(GW),
        client = unique("pvtest-gw"),
        outbox = outbox.display(),
    );
    for (code, sim) in DEVICES.iter().zip(sims) {
        let a = sim.local_addr();
        text.push_str(&format!(
            "[[devices]]\ncode = \"{code}\"\nhost = \"{}\"\nport = {}\nunit_id = 1\nprofile = \"sunspec\"\n",
            a.ip(),
            a.port()
        ));
    }
    text
}

fn no_client_cert(ca: String) -> [String; 3] {
    [ca, String::new(), String::new()]
}

async fn the_service_stores_a_payload_published_over_tls(db: TestDb) {
    // Arrange: a TLS broker, the service trusting its CA.
    let pki = Pki::new();
    let broker = TlsBroker::start(&pki, false);
    let prefix = unique("pvtest-tls");
    let app = service(
        &db,
        &broker.url(),
        &prefix,
        no_client_cert(pki.path("ca.pem")),
    )
    .await;
    subscribed(&app).await;

    // Act: a data logger publishes a payload v1 over TLS.
    publish_tls(
        broker.port,
        pki.read("ca.pem"),
        None,
        &format!("{prefix}/{GW}/telemetry"),
        &payload_v1(42.0),
    )
    .await
    .unwrap();

    // Assert
    let latest = eventually(10, "the reading sent over TLS", || async {
        let (status, body) = app
            .get(&format!("/api/v1/devices/{}/latest", DEVICES[0]))
            .await;
        (status == 200).then_some(body)
    })
    .await;
    assert_eq!(latest["ac_power_w"], 42000.0);
    assert_eq!(stored(&db.store).await, 1);
}

async fn a_gateway_forwards_its_readings_to_the_service_over_tls(db: TestDb) {
    // Arrange: the service and the gateway both on the TLS broker, trusting its CA.
    let pki = Pki::new();
    let broker = TlsBroker::start(&pki, false);
    let prefix = unique("pvtest-tls");
    let app = service(
        &db,
        &broker.url(),
        &prefix,
        no_client_cert(pki.path("ca.pem")),
    )
    .await;
    subscribed(&app).await;
    let sims = inverters().await;
    let scratch = tempfile::tempdir().unwrap();
    let text = gateway_toml(
        &sims,
        &broker.url(),
        &prefix,
        &scratch.path().join("outbox.sqlite"),
        &format!("ca_file = \"{}\"", pki.path("ca.pem")),
        "",
    );
    let config = GatewayConfig::parse(&text, "gateway.toml").unwrap();
    let shutdown = CancellationToken::new();

    // Act
    let gateway = Gateway::start(&config, &config.listed_devices(), shutdown.clone())
        .await
        .unwrap();

    // Assert: every inverter's readings and the gateway's status arrive.
    for device in DEVICES {
        eventually(15, "readings of every inverter over TLS", || async {
            (stored_for(&db.store, device).await >= 3).then_some(())
        })
        .await;
    }
    let status = eventually(10, "the gateway's status over TLS", || async {
        let (_, v) = app.get(&format!("/api/v1/gateways/{GW}")).await;
        (v["status"]["message"]["acked_readings"]
            .as_i64()
            .unwrap_or(0)
            > 0)
        .then_some(v)
    })
    .await;
    assert_eq!(status["status"]["message"]["reconnects"], 0, "{status}");
    let (acked, _) = gateway.link.totals();
    assert!(acked >= 9, "the broker acknowledged {acked} readings");
    shutdown.cancel();
    gateway.wait().await;
}

async fn a_service_trusting_another_ca_never_subscribes_and_stores_nothing(db: TestDb) {
    // Arrange: the broker's certificate comes from ca.pem; the service trusts other-ca.pem.
    let pki = Pki::new();
    let broker = TlsBroker::start(&pki, false);
    let prefix = unique("pvtest-tls");
    let app = service(
        &db,
        &broker.url(),
        &prefix,
        no_client_cert(pki.path("other-ca.pem")),
    )
    .await;
    // The same mistake in a publisher is refused as a certificate problem.
    let e = publish_tls(broker.port, pki.read("other-ca.pem"), None, "x/y", b"{}")
        .await
        .unwrap_err();
    assert!(e.contains("UnknownIssuer"), "{e}");
    eprintln!("publisher trusting another CA: {e}");

    // Act: a publisher with the right CA reaches the broker while the service retries.
    let topic = format!("{prefix}/{GW}/telemetry");
    publish_tls(
        broker.port,
        pki.read("ca.pem"),
        None,
        &topic,
        &payload_v1(42.0),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;

    // Assert: several attempts (0.5 s, 1 s, 2 s backoff) and never connected.
    let (_, ready) = app.get("/readyz").await;
    assert_eq!(ready["mqtt"], "connecting", "{ready}");
    assert_eq!(stored(&db.store).await, 0);
}

async fn a_gateway_trusting_another_ca_keeps_every_reading_until_the_ca_is_fixed(db: TestDb) {
    // Arrange: the service is fine; the gateway trusts the wrong CA.
    let pki = Pki::new();
    let broker = TlsBroker::start(&pki, false);
    let prefix = unique("pvtest-tls");
    let app = service(
        &db,
        &broker.url(),
        &prefix,
        no_client_cert(pki.path("ca.pem")),
    )
    .await;
    subscribed(&app).await;
    let mut sims = inverters().await;
    let scratch = tempfile::tempdir().unwrap();
    let outbox = scratch.path().join("outbox.sqlite");
    let toml_with = |ca: &str| {
        gateway_toml(
            &sims,
            &broker.url(),
            &prefix,
            &outbox,
            &format!("ca_file = \"{}\"", pki.path(ca)),
            "",
        )
    };
    let wrong = GatewayConfig::parse(&toml_with("other-ca.pem"), "gateway.toml").unwrap();
    let right = GatewayConfig::parse(&toml_with("ca.pem"), "gateway.toml").unwrap();

    // Act 1: it polls for 3 s and cannot hand anything over.
    let shutdown = CancellationToken::new();
    let gateway = Gateway::start(&wrong, &wrong.listed_devices(), shutdown.clone())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (acked, reconnects) = gateway.link.totals();
    for sim in &mut sims {
        sim.stop().await;
    }
    shutdown.cancel();
    gateway.wait().await;
    let (waiting, appended) = outbox_counts(&outbox).await;

    // Assert 1: nothing went out, everything is on disk.
    assert_eq!(acked, 0);
    assert!(reconnects >= 2, "it kept trying: {reconnects} attempts");
    assert!(appended >= 20, "{appended} readings polled");
    assert_eq!(waiting, appended, "every reading is kept in the outbox");
    assert_eq!(stored(&db.store).await, 0);

    // Act 2: the operator fixes ca_file and the gateway starts again on the same outbox.
    let shutdown = CancellationToken::new();
    let gateway = Gateway::start(&right, &right.listed_devices(), shutdown.clone())
        .await
        .unwrap();

    // Assert 2: the whole backlog arrives, once.
    let n = eventually(20, "the backlog at the service", || async {
        let n = stored(&db.store).await;
        (n >= appended && gateway.outbox.depth() == 0).then_some(n)
    })
    .await;
    assert_eq!(n, appended, "stored once each");
    shutdown.cancel();
    gateway.wait().await;
    drop(app);
}

async fn mutual_tls_admits_the_service_by_its_client_certificate(db: TestDb) {
    // Arrange: a broker that requires client certificates from its CA.
    let pki = Pki::new();
    let broker = TlsBroker::start(&pki, true);
    let prefix = unique("pvtest-mtls");
    let topic = format!("{prefix}/{GW}/telemetry");
    let e = publish_tls(broker.port, pki.read("ca.pem"), None, &topic, b"{}")
        .await
        .unwrap_err();
    assert!(
        e.contains("CertificateRequired") || e.contains("HandshakeFailure"),
        "the broker requires a client certificate: {e}"
    );

    // Act: the service presents client.pem; so does the publisher.
    let app = service(
        &db,
        &broker.url(),
        &prefix,
        [
            pki.path("ca.pem"),
            pki.path("client.pem"),
            pki.path("client.key"),
        ],
    )
    .await;
    subscribed(&app).await;
    let client_auth = Some((pki.read("client.pem"), pki.read("client.key")));
    publish_tls(
        broker.port,
        pki.read("ca.pem"),
        client_auth,
        &topic,
        &payload_v1(17.0),
    )
    .await
    .unwrap();

    // Assert
    eventually(10, "the reading over mutual TLS", || async {
        (stored(&db.store).await == 1).then_some(())
    })
    .await;
}

both_backends!(
    the_service_stores_a_payload_published_over_tls,
    a_gateway_forwards_its_readings_to_the_service_over_tls,
    a_gateway_trusting_another_ca_keeps_every_reading_until_the_ca_is_fixed,
);

// Connection failures and mutual TLS do not depend on the storage backend.
#[tokio::test]
async fn a_service_trusting_another_ca_never_subscribes_and_stores_nothing_on_sqlite() {
    a_service_trusting_another_ca_never_subscribes_and_stores_nothing(TestDb::sqlite().await).await
}

#[tokio::test]
async fn mutual_tls_admits_the_service_by_its_client_certificate_on_sqlite() {
    mutual_tls_admits_the_service_by_its_client_certificate(TestDb::sqlite().await).await
}

fn pvledger_binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pvledger"));
    cmd.env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

fn exit_and_stderr(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_missing_ca_file_stops_the_service_at_start_up_naming_the_key_and_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = exit_and_stderr(
        pvledger_binary()
            .arg("serve")
            .env(
                "PVLEDGER__DATABASE__URL",
                format!("sqlite://{}", dir.path().join("x.sqlite").display()),
            )
            .env("PVLEDGER__HTTP__LISTEN", "127.0.0.1:0")
            .env("PVLEDGER__MODBUS__ENABLED", "false")
            .env("PVLEDGER__MQTT__URL", "mqtts://127.0.0.1:8883")
            .env("PVLEDGER__MQTT__CA_FILE", "/nonexistent/pvledger/ca.pem"),
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("`mqtt.ca_file`"), "{stderr}");
    assert!(stderr.contains("PVLEDGER__MQTT__CA_FILE"), "{stderr}");
    assert!(
        stderr.contains("cannot read /nonexistent/pvledger/ca.pem"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("x.sqlite").exists(),
        "stopped before opening the database"
    );
}

/// Only the commands that talk to the broker read its TLS files: a migration (or an import,
/// a settlement) runs where they are missing or not readable by the operator.
#[test]
fn a_command_that_never_connects_runs_without_the_tls_files() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = exit_and_stderr(
        pvledger_binary()
            .arg("migrate")
            .env(
                "PVLEDGER__DATABASE__URL",
                format!("sqlite://{}", dir.path().join("x.sqlite").display()),
            )
            .env("PVLEDGER__MQTT__URL", "mqtts://127.0.0.1:8883")
            .env("PVLEDGER__MQTT__CA_FILE", "/nonexistent/pvledger/ca.pem"),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(dir.path().join("x.sqlite").exists(), "migrated");
}

#[test]
fn a_missing_or_wrong_ca_file_stops_the_gateway_at_start_up_naming_the_key_and_the_path() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.toml");
    let outbox = dir.path().join("outbox.sqlite");
    let write = |ca_file: &str| {
        std::fs::write(
            &config,
            format!(
                "[gateway]\ncode = \"{GW}\"\ncredential = \"x\"\n[broker]\nurl = \"mqtts://127.0.0.1\"\nca_file = \"{ca_file}\"\n[outbox]\npath = \"{}\"\n[[devices]]\ncode = \"{}\"\nhost = \"127.0.0.1\"\nprofile = \"sunspec\"\n",
                outbox.display(),
                DEVICES[0]
            ),
        )
        .unwrap();
    };
    let run = || exit_and_stderr(pvledger_binary().args(["gateway", "--config"]).arg(&config));

    write("/nonexistent/pvledger/ca.pem");
    let (code, stderr) = run();
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("key `broker.ca_file`"), "{stderr}");
    assert!(
        stderr.contains("cannot read /nonexistent/pvledger/ca.pem"),
        "{stderr}"
    );

    // A private key where the CA certificate belongs.
    let key: PathBuf = pki.path("server.key").into();
    write(&key.display().to_string());
    let (code, stderr) = run();
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("key `broker.ca_file`"), "{stderr}");
    assert!(
        stderr.contains(&format!("{}: no certificate", key.display())),
        "{stderr}"
    );
    assert!(!outbox.exists(), "stopped before opening the outbox");
}
