//! Scale-out of MQTT ingest (issue 7): three `pvledger serve` processes share one
//! subscription (`mqtt.shared_group`, `$share/...`) on a private Mosquitto and write to one
//! PostgreSQL database. One is killed with SIGKILL in the middle of a stream and started
//! again (as systemd would): every reading is stored exactly once, and the work was
//! really divided (each process acknowledged part of the stream).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::broker::{PrivateBroker, durable, publish_all, stored, telemetry_payloads};
use common::metrics::sample;
use common::{ChildGuard, TestDb, eventually, example_dir, unique};
use pvledger::ledger::import_dir;

/// A `pvledger serve` child sharing ingest; its log goes to a file shown on failure.
struct Node {
    child: ChildGuard,
    log: PathBuf,
}

impl Node {
    fn start(db_url: &str, broker: &PrivateBroker, prefix: &str, name: &str, dir: &Path) -> Node {
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_pvledger"))
            .arg("serve")
            .env("PVLEDGER__DATABASE__URL", db_url)
            .env("PVLEDGER__DATABASE__MAX_CONNECTIONS", "4")
            .env("PVLEDGER__HTTP__LISTEN", "127.0.0.1:0")
            .env("PVLEDGER__MQTT__URL", broker.url())
            .env("PVLEDGER__MQTT__CLIENT_ID", format!("{prefix}-{name}"))
            .env("PVLEDGER__MQTT__SHARED_GROUP", "pvledger")
            .env("PVLEDGER__MQTT__TOPIC_PREFIX", prefix)
            .env("PVLEDGER__MODBUS__ENABLED", "false")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Node {
            child: ChildGuard(child),
            log,
        }
    }

    /// Readings this process accepted, from its /metrics.
    async fn accepted(&self) -> f64 {
        let log = self.log();
        let addr = log
            .lines()
            .find_map(|l| l.split("serving HTTP addr=").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no HTTP address in the log:\n{log}"))
            .to_owned();
        sample(
            &format!("http://{addr}"),
            "pvledger_ingest_readings_accepted_total",
        )
        .await
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until this process's receiver has subscribed.
    async fn subscribed(&self) {
        eventually(30, "a subscribed receiver", || async {
            self.log().contains("MQTT connected").then_some(())
        })
        .await;
    }
}

#[tokio::test]
async fn three_processes_share_ingest_and_a_killed_one_loses_nothing() {
    let db = TestDb::postgres().await;
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let broker = durable();
    let prefix = unique("pvshare");
    let dir = tempfile::tempdir().unwrap();
    let mut nodes: Vec<Node> = ["a", "b", "c"]
        .iter()
        .map(|n| Node::start(&db.url, &broker, &prefix, n, dir.path()))
        .collect();
    for n in &nodes {
        n.subscribed().await;
    }
    // Shared subscriptions are made on connect; give the broker a moment to list all three.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 1,200 payloads of 5 readings each, published in bursts.
    let messages = telemetry_payloads(&prefix, 1_200, 5);
    let port = broker.port;
    let stream = messages.clone();
    let publisher = tokio::spawn(async move {
        for burst in stream.chunks(100) {
            publish_all(port, burst.to_vec()).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });

    // Kill one process mid-stream, without any shutdown, and start it again later.
    eventually(30, "ingest under way", || async {
        (stored(&db.store).await > 500).then_some(())
    })
    .await;
    nodes[1].child.0.kill().unwrap();
    nodes[1].child.0.wait().unwrap();
    let killed_at = stored(&db.store).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    nodes[1] = Node::start(&db.url, &broker, &prefix, "b", dir.path());
    publisher.await.unwrap();

    let all = eventually(90, "6,000 readings stored", || async {
        let n = stored(&db.store).await;
        (n == 6_000).then_some(n)
    })
    .await;
    assert!(
        killed_at < 6_000,
        "the kill came after everything was stored"
    );
    assert_eq!(all, 6_000);

    // The stream was divided: the processes that ran throughout each accepted part of it,
    // not all of it (without the shared subscription each would receive every message).
    for (name, node) in [("a", &nodes[0]), ("c", &nodes[2])] {
        let accepted = node.accepted().await;
        assert!(
            accepted > 0.0 && accepted < 6_000.0,
            "process {name} accepted {accepted} of 6,000 readings:\n{}",
            node.log()
        );
    }
}
