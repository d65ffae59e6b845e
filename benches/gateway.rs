//! Measures the edge gateway (`cargo bench --bench gateway`; needs Mosquitto on
//! 127.0.0.1:1883): the real `pvledger gateway` binary with 30 simulated SunSpec inverters.
//!
//! 1. Memory: 30 devices polled every 2 s for 30 s, link up: VmRSS and VmHWM.
//! 2. Drain: an outbox holding a backlog (30 devices x 2,000 readings = 60,000, about 33
//!    hours of one reading a minute) is sent unpaced (`backlog_rate_per_s = 0`) to
//!    Mosquitto while the 30 devices keep being polled; readings per second until empty,
//!    and VmHWM.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use pvledger::gateway::outbox::Outbox;
use pvledger::modbus::sim_image::sunspec_image;
use pvledger::modbus::sim_server::SimServer;
use pvledger::reading::{DeviceReading, DeviceStatus, Reading};

const DEVICES: usize = 30;
const BACKLOG_PER_DEVICE: usize = 2_000;

fn reading(i: usize) -> Reading {
    Reading {
        ac_power_w: Some(30_000.0 + i as f64),
        dc_power_w: Some(31_000.0),
        energy_total_kwh: Some(100_000.0 + i as f64),
        grid_voltage_v: Some(230.1),
        frequency_hz: Some(50.01),
        temperature_c: Some(41.5),
        status: Some(DeviceStatus::Running),
        ..Default::default()
    }
}

fn config(sims: &[SimServer], outbox: &Path, interval_s: f64, prefix: &str) -> String {
    let mut text = format!(
        r#"[gateway]
code = "GW-BENCH"
credential = "bench-credential-0123"
[broker]
url = "mqtt://127.0.0.1:1883"
topic_prefix = "{prefix}"
[outbox]
path = "{}"
[forward]
backlog_rate_per_s = 0
start_delay_max_s = 0
[poll]
interval_s = {interval_s}
[status]
interval_s = 5
[log]
format = "text"
level = "warn"
"#,
        outbox.display()
    );
    for (i, sim) in sims.iter().enumerate() {
        let a = sim.local_addr();
        text.push_str(&format!(
            "[[devices]]\ncode = \"INV-B{i:02}\"\nhost = \"{}\"\nport = {}\nprofile = \"sunspec\"\n",
            a.ip(),
            a.port()
        ));
    }
    text
}

fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (kb("VmRSS:"), kb("VmHWM:"))
}

fn depth(path: &Path) -> i64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut c =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", path.display()))
                .await
                .unwrap();
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(&mut c)
            .await
            .unwrap()
    })
}

fn spawn(config: &Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_pvledger"))
        .args(["gateway", "--config"])
        .arg(config)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sims: Vec<SimServer> = rt.block_on(async {
        let mut sims = Vec::new();
        for i in 0..DEVICES {
            let image = sunspec_image(&reading(i), &format!("SN-{i}"), 2).unwrap();
            sims.push(SimServer::start_local(1, image).await.unwrap());
        }
        sims
    });
    let prefix = format!("pvbench/{}", std::process::id());

    // 1. Memory in steady operation.
    let outbox = dir.path().join("steady.sqlite");
    let file = dir.path().join("steady.toml");
    std::fs::write(&file, config(&sims, &outbox, 2.0, &prefix)).unwrap();
    let mut child = spawn(&file);
    std::thread::sleep(Duration::from_secs(30));
    let (rss, hwm) = memory(child.id());
    let left = depth(&outbox);
    child.kill().unwrap();
    child.wait().unwrap();
    println!(
        "steady: {DEVICES} devices polled every 2 s for 30 s: VmRSS {} KiB, VmHWM {} KiB, outbox depth {left}",
        rss, hwm
    );

    // 2. Drain a backlog.
    let outbox = dir.path().join("backlog.sqlite");
    let n = DEVICES * BACKLOG_PER_DEVICE;
    rt.block_on(async {
        let o = Outbox::open(&outbox, 1_000_000).await.unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        for k in 0..BACKLOG_PER_DEVICE {
            let batch: Vec<DeviceReading> = (0..DEVICES)
                .map(|i| DeviceReading {
                    device_code: format!("INV-B{i:02}"),
                    ts: t0 + chrono::Duration::minutes(k as i64),
                    reading: reading(i),
                })
                .collect();
            o.append(&batch).await.unwrap();
        }
        o.close().await;
    });
    let file = dir.path().join("drain.toml");
    std::fs::write(&file, config(&sims, &outbox, 60.0, &prefix)).unwrap();
    let started = Instant::now();
    let mut child = spawn(&file);
    let mut peak = (0, 0);
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let m = memory(child.id());
        peak = (peak.0.max(m.0), m.1);
        // Live readings of the 30 devices keep arriving: done when the backlog is gone.
        if depth(&outbox) <= DEVICES as i64 || started.elapsed() > Duration::from_secs(600) {
            break;
        }
    }
    let took = started.elapsed();
    child.kill().unwrap();
    child.wait().unwrap();
    println!(
        "drain: {n} backlog readings sent and acknowledged in {:.2} s = {:.0} readings/s \
         (unpaced, 200 readings per message, 8 in flight, Mosquitto on localhost); \
         VmRSS peak {} KiB, VmHWM {} KiB",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        peak.0,
        peak.1
    );
    drop(sims);
}
