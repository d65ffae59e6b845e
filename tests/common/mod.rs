//! Test harness: a fresh database per test on either backend, and the real service on a
//! free port (the `spawn_app` pattern).
#![allow(dead_code)]

pub mod broker;
pub mod metrics;
pub mod mosquitto;
pub mod ports;
pub mod private_pg;
pub mod web;
pub mod webdriver;

use std::path::{Path, PathBuf};

use pvledger::app::Application;
use pvledger::config::Config;
use pvledger::store::{Store, TimeSeriesMode};
use tokio_util::sync::CancellationToken;

/// The PostgreSQL server the tests create their databases on. CI starts it; a test run
/// fails (never skips) when it is unreachable.
pub fn pg_admin_url() -> String {
    std::env::var("PVLEDGER_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database that exists for one test: a SQLite file in a temporary directory, or a
/// PostgreSQL database that is dropped when the test ends.
pub struct TestDb {
    pub store: Store,
    pub mode: TimeSeriesMode,
    pub config: Config,
    pub url: String,
    dir: tempfile::TempDir,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("pvledger.sqlite").display());
        Self::open(url, dir, None).await
    }

    pub async fn postgres() -> Self {
        use sqlx::Connection;
        let name = format!("pvledger_test_{}", uuid_like());
        let admin = pg_admin_url();
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL tests need a server at {admin}: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let base = admin.rsplit_once('/').unwrap().0;
        let url = format!("{base}/{name}");
        Self::open(url, tempfile::tempdir().unwrap(), Some(name)).await
    }

    async fn open(url: String, dir: tempfile::TempDir, pg_name: Option<String>) -> Self {
        let config = test_config(&url);
        let (store, mode) = Store::open(&config.database, &config.storage)
            .await
            .unwrap();
        TestDb {
            store,
            mode,
            config,
            url,
            dir,
            pg_name,
        }
    }

    /// A scratch directory that lives as long as the database.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop runs outside async context; use a short-lived runtime on its own thread.
        let admin = pg_admin_url();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join()
        .unwrap();
    }
}

/// The built-in configuration pointed at `url`, listening on a free port.
pub fn test_config(url: &str) -> Config {
    let env = [
        ("PVLEDGER__DATABASE__URL", url),
        ("PVLEDGER__HTTP__LISTEN", "127.0.0.1:0"),
        ("PVLEDGER__DATABASE__MAX_CONNECTIONS", "4"),
        // No MQTT unless a test asks for it (1883 belongs to the machine's Mosquitto).
        ("PVLEDGER__MQTT__EMBEDDED_LISTEN", ""),
        // No polling unless a test asks for it (the example county's ports are fictional).
        ("PVLEDGER__MODBUS__ENABLED", "false"),
    ];
    Config::load_from(None, env.map(|(k, v)| (k.to_owned(), v.to_owned()))).unwrap()
}

fn uuid_like() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..16)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.random_range(0..36)]))
        .collect()
}

/// The service running on a free port, stopped when dropped.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    token: CancellationToken,
}

impl TestApp {
    pub async fn spawn(db: &TestDb) -> Self {
        Self::spawn_with(db, |_| {}).await
    }

    /// Like [`TestApp::spawn`] with changes to the configuration.
    pub async fn spawn_with(db: &TestDb, change: impl FnOnce(&mut Config)) -> Self {
        let mut config = db.config.clone();
        change(&mut config);
        let app = Application::with_store(config, db.store.clone(), db.mode)
            .await
            .unwrap();
        let base = format!("http://{}", app.local_addr());
        let token = app.shutdown_token();
        tokio::spawn(app.run());
        TestApp {
            base,
            client: client_with_token(&role_token(&db.store, "admin", None).await),
            token,
        }
    }

    /// A client that calls as a fresh user of `role` (and village, for a village user).
    pub async fn client_as(
        &self,
        store: &Store,
        role: &str,
        village: Option<&str>,
    ) -> reqwest::Client {
        client_with_token(&role_token(store, role, village).await)
    }

    /// GETs a path and returns (status, JSON body).
    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }
}

impl TestApp {
    /// POSTs a payload to /api/v1/ingest as `gateway` with `secret`.
    pub async fn ingest(
        &self,
        gateway: &str,
        secret: &str,
        body: &str,
    ) -> (u16, serde_json::Value) {
        let r = self
            .client
            .post(format!("{}/api/v1/ingest", self.base))
            .basic_auth(gateway, Some(secret))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }
}

/// A bearer token of a new user with `role` (a village user needs its village).
pub async fn role_token(store: &Store, role: &str, village: Option<&str>) -> String {
    let name = unique(&format!("test-{role}"));
    pvledger::auth::accounts::add_user(store, &name, role, village, "test")
        .await
        .unwrap();
    pvledger::auth::accounts::create_token(store, &name, "test")
        .await
        .unwrap()
}

/// A client that sends `Authorization: Bearer <token>` with every request.
pub fn client_with_token(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// The example credential of a gateway (examples/county/gateways.csv).
pub fn example_secret(gateway: &str) -> String {
    let text = std::fs::read_to_string(example_dir().join("gateways.csv")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{gateway},")))
        .unwrap();
    line.rsplit(',').next().unwrap().to_owned()
}

/// A unique suffix for broker topics and client ids, so that tests never share a session.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid_like())
}

/// Publishes `payload` on `topic` at QoS 1 to the broker at 127.0.0.1:1883 and waits for
/// the broker's PUBACK.
pub async fn mqtt_publish(topic: &str, payload: &[u8]) {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let mut opts = MqttOptions::new(unique("pvtest-pub"), "127.0.0.1", 1883);
    opts.set_keep_alive(std::time::Duration::from_secs(10));
    let (client, mut el) = AsyncClient::new(opts, 10);
    client
        .publish(topic, QoS::AtLeastOnce, false, payload.to_vec())
        .await
        .unwrap();
    let waited = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => break,
                Ok(_) => {}
                Err(e) => panic!("MQTT tests need a broker on 127.0.0.1:1883: {e}"),
            }
        }
    })
    .await;
    assert!(waited.is_ok(), "no PUBACK from the broker");
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(std::time::Duration::from_millis(200), el.poll()).await;
}

/// Polls `check` every 100 ms until it returns Some, failing after `secs`.
pub async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    secs: u64,
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    for _ in 0..secs * 10 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("timed out after {secs} s waiting for {what}");
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// The example county shipped in examples/county.
pub fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/county")
}

/// Writes `files` (name, contents) into a new directory under `parent`.
pub fn write_dir(parent: &Path, name: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, bytes) in files {
        std::fs::write(dir.join(file), bytes).unwrap();
    }
    dir
}

/// Declares each listed async test function once per backend:
/// `both_backends!(a_test)` makes `sqlite::a_test` and `postgres::a_test`.
/// (`crate` here deliberately means the test crate that uses the macro.)
#[macro_export]
#[allow(clippy::crate_in_macro_def)]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(crate::common::TestDb::sqlite().await).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(crate::common::TestDb::postgres().await).await })*
        }
    };
}

/// Reads a `pvledger serve` child's stderr (started with RUST_LOG=info and stderr piped)
/// until the service logs "serving HTTP addr=...", and returns that address. The rest of
/// the log keeps draining in the background so the child never blocks on a full pipe.
pub fn logged_http_addr(child: &mut std::process::Child) -> String {
    use std::io::{BufRead, BufReader};
    let mut lines = BufReader::new(child.stderr.take().expect("stderr is piped")).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.contains("serving HTTP")
                .then(|| l.split("addr=").nth(1))
                .flatten()
                .map(|a| a.split_whitespace().next().unwrap_or_default().to_owned())
        })
        .expect("the service logs its address");
    std::thread::spawn(move || for _ in lines {});
    addr
}

/// A child process that is killed when the test ends, even when it panics, so that a failed
/// test never leaves a service holding ports for the next one.
pub struct ChildGuard(pub std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
