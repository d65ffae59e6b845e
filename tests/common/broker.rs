//! A private Mosquitto for tests that must configure, stop or restart their broker (the
//! machine's broker on 1883 is shared and keeps its defaults), and a publisher that waits
//! for every PUBACK across broker restarts.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

use chrono::{DateTime, Utc};
use pvledger::store::Store;
use serde_json::json;

use super::ChildGuard;

const GW: &str = "GW-149901101201";
const INV: &str = "INV-PV149901101201-01-1";

pub struct PrivateBroker {
    pub port: u16,
    child: Option<ChildGuard>,
    conf: PathBuf,
    dir: tempfile::TempDir,
}

impl PrivateBroker {
    /// A broker on a free port with no queue limit (Mosquitto's default of 1,000 queued
    /// messages drops QoS 1 messages for a slow subscriber) that keeps its sessions and
    /// queued messages on disk across a restart.
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        // Started as root, Mosquitto drops to its own user: it must be able to save there.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n\
                 persistence true\npersistence_location {}/\n{}",
                dir.path().display(),
                // PVLEDGER_TEST_BROKER_LOG=1: every packet in the broker's log, for debugging.
                if std::env::var_os("PVLEDGER_TEST_BROKER_LOG").is_some() {
                    "log_type all\n"
                } else {
                    ""
                }
            ),
        )
        .unwrap();
        let mut broker = PrivateBroker {
            port,
            child: None,
            conf,
            dir,
        };
        broker.launch();
        broker
    }

    /// What the broker logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    fn launch(&mut self) {
        let log = self.dir.path().join("mosquitto.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let binary = if std::path::Path::new("/usr/sbin/mosquitto").exists() {
            "/usr/sbin/mosquitto"
        } else {
            "mosquitto"
        };
        let mut child = ChildGuard(
            Command::new(binary)
                .arg("-c")
                .arg(&self.conf)
                .stdout(Stdio::null())
                .stderr(log.try_clone().unwrap())
                .spawn()
                .expect("the mosquitto binary"),
        );
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                self.child = Some(child);
                return;
            }
            if let Ok(Some(status)) = child.0.try_wait() {
                panic!("mosquitto exited ({status}): {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("mosquitto did not listen on {}", self.port);
    }

    /// Stops the broker as an operator would (SIGTERM: it saves its state), waits, and
    /// starts it again on the same port with the same state.
    pub fn restart(&mut self, down_for: Duration) {
        if let Some(mut child) = self.child.take() {
            let pid = child.0.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let _ = child.0.wait();
        }
        std::thread::sleep(down_for);
        self.launch();
    }
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
