//! Several `pvledger serve` processes on one database divide the Modbus endpoints by
//! leases: each endpoint is polled by exactly one of them, a process killed with SIGKILL
//! hands its endpoints to the survivors within ttl + renew, and one stopped with SIGTERM
//! releases them at once. Real child processes of the binary, real simulated Modbus TCP
//! devices, one real database (PostgreSQL, and a SQLite file in WAL mode).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{ChildGuard, TestDb, eventually, example_dir, write_dir};
use pvledger::ledger::import_dir;
use pvledger::modbus::sim_image::sunspec_image;
use pvledger::modbus::sim_server::{SimServer, UnitImage};
use pvledger::reading::{DeviceStatus, Reading};
use pvledger::store::{Store, Ts};

/// Lease timing of the test processes, seconds (production: 45 and 15).
const TTL_S: u64 = 4;
const RENEW_S: u64 = 1;
/// Poll interval, seconds.
const INTERVAL_S: u64 = 1;
/// Allowance for start-up, scheduling and a shared, busy machine.
const SLACK: Duration = Duration::from_secs(3);

/// The handover bound after a kill: the lease runs out within the ttl of the last renewal,
/// a survivor claims it at its next cycle and polls at once.
fn kill_bound() -> Duration {
    Duration::from_secs(TTL_S + RENEW_S) + SLACK
}

/// Simulated devices: five endpoints; the first is a gateway with two units behind it.
struct Farm {
    servers: Vec<SimServer>,
    /// (device code, endpoint "127.0.0.1:port")
    devices: Vec<(String, String)>,
}

async fn start_farm() -> Farm {
    let reading = |kw: f64| Reading {
        ac_power_w: Some(kw * 1000.0),
        energy_total_kwh: Some(1000.0 + kw),
        status: Some(DeviceStatus::Running),
        ..Default::default()
    };
    let mut servers = Vec::new();
    let mut devices = Vec::new();
    for i in 0..5u8 {
        let units: HashMap<u8, UnitImage> = (1..=if i == 0 { 2 } else { 1 })
            .map(|unit| {
                let serial = format!("SIM-{i}-{unit}");
                let image = sunspec_image(&reading(f64::from(10 * i + unit)), &serial, 1).unwrap();
                (unit, image)
            })
            .collect();
        let unit_ids: BTreeSet<u8> = units.keys().copied().collect();
        let server = SimServer::start("127.0.0.1:0".parse().unwrap(), units)
            .await
            .unwrap();
        let endpoint = format!("127.0.0.1:{}", server.local_addr().port());
        for unit in unit_ids {
            devices.push((format!("INV-LEASE-{i}-{unit}"), endpoint.clone()));
        }
        servers.push(server);
    }
    Farm { servers, devices }
}

/// The example county with its own Modbus devices switched to MQTT (their ports are
/// fictional), plus the farm's devices.
async fn import_ledger(db: &TestDb, farm: &Farm) {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let example = std::fs::read_to_string(example_dir().join("devices.csv")).unwrap();
    let mqtt_only: String = example
        .lines()
        .map(|l| {
            if l.contains(",modbus,") {
                let f: Vec<&str> = l.split(',').collect();
                format!("{},mqtt,,,,,{}", f[..8].join(","), f[13])
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let dir = write_dir(db.dir(), "mqtt", &[("devices.csv", mqtt_only.as_bytes())]);
    import_dir(&db.store, &dir, "test", false).await.unwrap();
    let mut csv = String::from(
        "code,station_code,kind,protocol,host,port,unit_id,profile,rated_ac_kw,dc_kwp\n",
    );
    for (code, endpoint) in &farm.devices {
        let (host, port) = endpoint.split_once(':').unwrap();
        let unit = code.rsplit('-').next().unwrap();
        csv.push_str(&format!(
            "{code},PV149901101201-01,inverter,modbus,{host},{port},{unit},sunspec,50,60\n"
        ));
    }
    let dir = write_dir(db.dir(), "farm", &[("devices.csv", csv.as_bytes())]);
    import_dir(&db.store, &dir, "test", false).await.unwrap();
}

/// A `pvledger serve` child; its log goes to a file that is printed if the test fails.
struct Node {
    name: String,
    child: ChildGuard,
    log: PathBuf,
}

impl Node {
    fn start(db_url: &str, name: &str, dir: &Path) -> Node {
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_pvledger"))
            .arg("serve")
            .env("PVLEDGER__DATABASE__URL", db_url)
            .env("PVLEDGER__DATABASE__MAX_CONNECTIONS", "4")
            .env("PVLEDGER__HTTP__LISTEN", "127.0.0.1:0")
            .env("PVLEDGER__MQTT__URL", "")
            .env("PVLEDGER__MQTT__EMBEDDED_LISTEN", "")
            .env("PVLEDGER__MODBUS__ENABLED", "true")
            .env("PVLEDGER__MODBUS__INTERVAL_S", INTERVAL_S.to_string())
            .env("PVLEDGER__MODBUS__LEASE_TTL_S", TTL_S.to_string())
            .env("PVLEDGER__MODBUS__LEASE_RENEW_S", RENEW_S.to_string())
            .env("PVLEDGER__MODBUS__NODE_ID", name)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Node {
            name: name.into(),
            child: ChildGuard(child),
            log,
        }
    }

    /// SIGKILL: no shutdown, no release.
    fn kill(&mut self) {
        self.child.0.kill().unwrap();
        self.child.0.wait().unwrap();
    }

    /// SIGTERM, then waits for the graceful shutdown to finish (without blocking the
    /// runtime, which also serves the simulated devices).
    async fn terminate(&mut self) {
        let pid = self.child.0.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let status = eventually(20, "a graceful exit", || {
            let exited = self.child.0.try_wait().unwrap();
            async move { exited }
        })
        .await;
        assert!(status.success(), "{}: exit {status}", self.name);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("---- log of {} (last lines) ----", self.name);
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// Endpoint -> holder, counting only leases that have not run out.
async fn holders(store: &Store) -> BTreeMap<String, String> {
    let (leases, _) = store.lease_view().await.unwrap();
    leases
        .into_iter()
        .filter(|l| l.live)
        .map(|l| (l.unit, l.owner))
        .collect()
}

/// Holders when every endpoint has a live lease, each held by one of `nodes`, and the
/// counts differ by at most one (the fair division); None otherwise.
async fn balanced(store: &Store, farm: &Farm, nodes: &[&str]) -> Option<BTreeMap<String, String>> {
    let held = holders(store).await;
    let endpoints: BTreeSet<&String> = farm.devices.iter().map(|(_, e)| e).collect();
    if held.len() != endpoints.len() || !endpoints.iter().all(|e| held.contains_key(*e)) {
        return None;
    }
    let counts: Vec<usize> = nodes
        .iter()
        .map(|n| held.values().filter(|o| o == n).count())
        .collect();
    let (min, max) = (counts.iter().min()?, counts.iter().max()?);
    (counts.iter().sum::<usize>() == endpoints.len() && max - min <= 1).then_some(held)
}

/// Every stored reading time per device code, oldest first.
async fn reading_times(store: &Store) -> BTreeMap<String, Vec<DateTime<Utc>>> {
    let sql = "SELECT d.code, r.ts FROM readings r JOIN devices d ON d.id = r.device_id \
               WHERE d.code LIKE 'INV-LEASE-%' ORDER BY d.code, r.ts";
    let rows: Vec<(String, Ts)> = match store {
        Store::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
    };
    let mut times: BTreeMap<String, Vec<DateTime<Utc>>> = BTreeMap::new();
    for (code, ts) in rows {
        times.entry(code).or_default().push(ts.0);
    }
    times
}

/// True when every device of the farm has a reading after `after`.
async fn all_read_after(store: &Store, farm: &Farm, after: DateTime<Utc>) -> bool {
    let times = reading_times(store).await;
    farm.devices.iter().all(|(code, _)| {
        times
            .get(code)
            .and_then(|t| t.last())
            .is_some_and(|last| *last > after)
    })
}

async fn endpoints_are_divided_and_handed_over(db: TestDb) {
    // Arrange: five simulated endpoints (six devices) and three processes on one database.
    let farm = start_farm().await;
    import_ledger(&db, &farm).await;
    let names = ["node-a", "node-b", "node-c"];
    let mut nodes: Vec<Node> = names
        .iter()
        .map(|n| Node::start(&db.url, n, db.dir()))
        .collect();

    // Assert: the endpoints are divided 2/2/1, one holder each, and every device delivers.
    let division = eventually(40, "a fair division among three processes", || {
        balanced(&db.store, &farm, &names)
    })
    .await;
    let divided_at = Utc::now();
    eventually(15, "readings of every device", || async {
        all_read_after(&db.store, &farm, divided_at)
            .await
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        balanced(&db.store, &farm, &names).await.as_ref(),
        Some(&division),
        "the division must stay put while nobody comes or goes"
    );

    // Act: kill (SIGKILL) a process that holds two endpoints.
    let victim = names
        .iter()
        .position(|n| division.values().filter(|o| o == n).count() == 2)
        .unwrap();
    let victim_name = names[victim];
    let victim_devices: Vec<String> = farm
        .devices
        .iter()
        .filter(|(_, e)| division[e] == victim_name)
        .map(|(c, _)| c.clone())
        .collect();
    let killed = Instant::now();
    let killed_at = Utc::now();
    nodes[victim].kill();

    // Assert: the survivors hold everything within ttl + renew, and the victim's devices
    // deliver again.
    let survivors: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| *n != victim_name)
        .collect();
    eventually(
        kill_bound().as_secs() + 10,
        "the survivors taking over",
        || balanced(&db.store, &farm, &survivors),
    )
    .await;
    let leases_moved = killed.elapsed();
    let first_after_kill = eventually(20, "readings of the victim's devices", || async {
        let times = reading_times(&db.store).await;
        victim_devices
            .iter()
            .map(|code| times.get(code)?.iter().find(|t| **t > killed_at).copied())
            .collect::<Option<Vec<_>>>()
    })
    .await;
    let readings_resumed = first_after_kill
        .iter()
        .map(|t| (*t - killed_at).to_std().unwrap())
        .max()
        .unwrap();
    println!(
        "after SIGKILL of {victim_name}: leases moved in {leases_moved:.1?}, \
         its devices read again {readings_resumed:.1?} after the kill (bound {:?})",
        kill_bound()
    );
    assert!(leases_moved <= kill_bound(), "{leases_moved:?}");
    assert!(readings_resumed <= kill_bound(), "{readings_resumed:?}");

    // Act: stop (SIGTERM) one survivor gracefully.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let leaving = names.iter().position(|n| *n == survivors[0]).unwrap();
    let last = survivors[1];
    nodes[leaving].terminate().await;
    let stopped = Instant::now();

    // Assert: its leases are gone on exit, and the last process takes them within one
    // renew interval, far sooner than the ttl.
    let left_behind: Vec<String> = holders(&db.store)
        .await
        .into_iter()
        .filter(|(_, o)| o == survivors[0])
        .map(|(e, _)| e)
        .collect();
    assert!(left_behind.is_empty(), "not released: {left_behind:?}");
    let last = [last];
    eventually(TTL_S + 10, "the last process taking everything", || {
        balanced(&db.store, &farm, &last)
    })
    .await;
    let released_handover = stopped.elapsed();
    println!(
        "after SIGTERM of {}: leases moved in {released_handover:.1?}",
        survivors[0]
    );
    assert!(
        released_handover < Duration::from_secs(TTL_S),
        "{released_handover:?}: a released lease must not wait for the ttl"
    );
    let now = Utc::now();
    eventually(
        15,
        "readings of every device from the last process",
        || async { all_read_after(&db.store, &farm, now).await.then_some(()) },
    )
    .await;

    // Assert: from the first division on, no device went unread longer than the handover
    // bound, and no endpoint ever had two pollers connected at once.
    let times = reading_times(&db.store).await;
    let bound = kill_bound() + Duration::from_secs(INTERVAL_S);
    for (code, _) in &farm.devices {
        let t: Vec<&DateTime<Utc>> = times[code].iter().filter(|t| **t >= divided_at).collect();
        let gap = t
            .windows(2)
            .map(|w| (*w[1] - *w[0]).to_std().unwrap())
            .max()
            .unwrap();
        assert!(gap <= bound, "{code}: a gap of {gap:?} (bound {bound:?})");
    }
    for server in &farm.servers {
        assert_eq!(
            server.peak_open_connections(),
            1,
            "{}: polled by more than one process at once",
            server.local_addr()
        );
    }
    drop(nodes);
}

async fn claims_are_atomic_and_run_out(db: TestDb) {
    let store = &db.store;
    let ttl = Duration::from_secs(60);
    // Two processes race for the same free units: each unit goes to exactly one.
    for i in 0..20 {
        let unit = format!("10.0.0.{i}:502");
        let (a, b) = tokio::join!(
            store.lease_claim("a", &unit, ttl),
            store.lease_claim("b", &unit, ttl)
        );
        assert!(a.unwrap() ^ b.unwrap(), "{unit}: exactly one claim wins");
    }
    let held = holders(store).await;
    assert_eq!(held.len(), 20);

    // A live lease cannot be taken; its holder may claim it again (restart, same node id).
    let (unit, owner) = held.iter().next().unwrap();
    let other = if owner == "a" { "b" } else { "a" };
    assert!(!store.lease_claim(other, unit, ttl).await.unwrap());
    assert!(store.lease_claim(owner, unit, ttl).await.unwrap());
    assert!(!store.lease_release(other, unit).await.unwrap());

    // A lease that ran out goes to the first who claims it, and the old holder's renewal
    // no longer finds it.
    let short = Duration::from_millis(300);
    assert!(store.lease_claim(owner, unit, short).await.unwrap());
    assert!(!store.lease_claim(other, unit, ttl).await.unwrap());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(store.lease_claim(other, unit, ttl).await.unwrap());
    let renewed = store.lease_renew(owner, ttl).await.unwrap();
    assert!(!renewed.contains(unit), "{renewed:?}");

    // Presence: a heartbeat makes a process present until its ttl; release_all ends both.
    store.lease_heartbeat("c", ttl).await.unwrap();
    store.lease_claim("c", "10.9.9.9:502", ttl).await.unwrap();
    let (_, nodes) = store.lease_view().await.unwrap();
    assert_eq!(nodes, vec!["c".to_owned()]);
    assert_eq!(store.lease_release_all("c").await.unwrap(), 1);
    let (leases, nodes) = store.lease_view().await.unwrap();
    assert!(nodes.is_empty());
    assert!(leases.iter().all(|l| l.owner != "c"));
}

both_backends!(
    endpoints_are_divided_and_handed_over,
    claims_are_atomic_and_run_out
);
