//! Measures the Modbus pollers (`cargo bench --bench modbus`): how many devices one process
//! polls per minute, with no missed cycle, against simulated village gateways.
//!
//! Shape: `PVLEDGER_BENCH_ENDPOINTS` gateways (default 1,000), each one `host:port` with
//! `PVLEDGER_BENCH_UNITS` inverters behind it (unit ids 1..n, default 5): 5,000 devices. Three
//! gateways in five are SunSpec (models 1 + 103 + 160), two in five Huawei SUN2000 through its
//! vendor profile, with the profile's own pauses (1.5 s after connecting, 50 ms between
//! requests). Every device is polled at `PVLEDGER_BENCH_INTERVAL_S` (default 60) for
//! `PVLEDGER_BENCH_CYCLES` cycles (default 3), with the production timeout (5 s) and backoff.
//!
//! The simulators run in a child process (this same executable, re-run with
//! `PVLEDGER_BENCH_ROLE=sim`), so the CPU time and peak RSS printed are the pollers' alone.
//! A device-cycle is missed when no reading with a timestamp in that cycle's window reached
//! the sink channel. Poll latency is the time from a reading's `ts` (the poller's clock when
//! its first data request went out) to its arrival at the sink.
//!
//! Open files: the poller process needs one socket per gateway, the simulator two (listener
//! and accepted connection); raise `ulimit -n` beforehand if it is below that.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use pvledger::modbus::profile::{Profile, shipped};
use pvledger::modbus::sim_image::{huawei_sun2000_image, sunspec_image};
use pvledger::modbus::sim_server::{SimServer, UnitImage};
use pvledger::modbus::stats::PollStats;
use pvledger::modbus::{PollTarget, ProfileRef, spawn_pollers_with_stats};
use pvledger::reading::{DeviceStatus, Reading};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const ROLE: &str = "PVLEDGER_BENCH_ROLE";

struct Size {
    endpoints: usize,
    units: u8,
    interval: Duration,
    cycles: u32,
}

impl Size {
    fn from_env() -> Size {
        let get = |key: &str, default: f64| -> f64 {
            std::env::var(key)
                .ok()
                .map(|v| {
                    v.parse()
                        .unwrap_or_else(|_| panic!("{key}={v}: not a number"))
                })
                .unwrap_or(default)
        };
        Size {
            endpoints: get("PVLEDGER_BENCH_ENDPOINTS", 1000.0) as usize,
            units: get("PVLEDGER_BENCH_UNITS", 5.0).clamp(1.0, 247.0) as u8,
            interval: Duration::from_secs_f64(get("PVLEDGER_BENCH_INTERVAL_S", 60.0)),
            cycles: get("PVLEDGER_BENCH_CYCLES", 3.0).max(1.0) as u32,
        }
    }

    fn devices(&self) -> usize {
        self.endpoints * usize::from(self.units)
    }
}

/// Gateway `e` is a Huawei logger for two of every five gateways, SunSpec otherwise.
fn is_huawei(endpoint: usize) -> bool {
    endpoint % 5 >= 3
}

fn reading(endpoint: usize, unit: u8) -> Reading {
    Reading {
        ac_power_w: Some(20_000.0 + (endpoint % 1000) as f64 * 10.0 + f64::from(unit)),
        dc_power_w: Some(31_000.0),
        energy_total_kwh: Some(100_000.0 + endpoint as f64),
        grid_voltage_v: Some(230.1),
        frequency_hz: Some(50.01),
        temperature_c: Some(41.5),
        status: Some(DeviceStatus::Running),
        ..Default::default()
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if std::env::var(ROLE).as_deref() == Ok("sim") {
        runtime.block_on(serve_simulators(Size::from_env()));
    } else {
        runtime.block_on(bench(Size::from_env()));
    }
}

/// Child process: starts the gateways, prints `PORTS p1 p2 ...`, serves until stdin closes.
async fn serve_simulators(size: Size) {
    let mut sims = Vec::with_capacity(size.endpoints);
    for e in 0..size.endpoints {
        let units: HashMap<u8, UnitImage> = (1..=size.units)
            .map(|u| {
                let r = reading(e, u);
                let image = if is_huawei(e) {
                    huawei_sun2000_image(&r).expect("huawei image")
                } else {
                    sunspec_image(&r, &format!("SN-{e}-{u}"), 2).expect("sunspec image")
                };
                (u, image)
            })
            .collect();
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        sims.push(SimServer::start(addr, units).await.expect("bind simulator"));
    }
    let ports: Vec<String> = sims
        .iter()
        .map(|s| s.local_addr().port().to_string())
        .collect();
    println!("PORTS {}", ports.join(" "));
    std::io::stdout().flush().expect("stdout");
    // The parent closes stdin when it is done (or dies).
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).unwrap_or(0) > 0 {
            line.clear();
        }
    })
    .await
    .expect("stdin watcher");
    let cpu = cpu_seconds("self");
    eprintln!(
        "simulator: cpu {cpu:.1} s, peak RSS {} MiB",
        kib("self", "VmHWM:") / 1024
    );
    drop(sims);
}

async fn bench(size: Size) {
    let need = size.endpoints * 2 + 64;
    let soft = open_files_limit();
    assert!(
        soft >= need as u64,
        "open-file limit {soft} is below the {need} sockets needed: run `ulimit -n {need}` first"
    );

    // Arrange: the simulators in a child process.
    let mut child = Command::new(std::env::current_exe().expect("current exe"))
        .env(ROLE, "sim")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the simulator process");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("child stdout"))
        .read_line(&mut line)
        .expect("simulator ports");
    let ports: Vec<u16> = line
        .strip_prefix("PORTS ")
        .expect("a PORTS line from the simulator")
        .split_whitespace()
        .map(|p| p.parse().expect("port"))
        .collect();
    assert_eq!(ports.len(), size.endpoints, "one port per gateway");

    let huawei = ProfileRef::Vendor(Arc::new(
        Profile::from_toml_str(shipped::HUAWEI_SUN2000).expect("shipped profile"),
    ));
    let mut codes = Vec::with_capacity(size.devices());
    let mut targets = Vec::with_capacity(size.devices());
    for (e, port) in ports.iter().enumerate() {
        for u in 1..=size.units {
            let profile = if is_huawei(e) {
                huawei.clone()
            } else {
                ProfileRef::SunSpec
            };
            let code = format!("GW{e:04}-U{u}");
            let mut target = PollTarget::new(&code, "127.0.0.1", *port, u, profile);
            target.interval = size.interval;
            codes.push(code);
            targets.push(target);
        }
    }
    let index: HashMap<&str, usize> = codes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();

    // Act: poll for `cycles` intervals, collecting every reading.
    let cpu_before = cpu_seconds("self");
    let sim_cpu_before = cpu_seconds(&child.id().to_string());
    let (tx, mut rx) = mpsc::channel(1024);
    let stats = Arc::new(PollStats::default());
    let shutdown = CancellationToken::new();
    let t0 = Utc::now();
    let started = Instant::now();
    let handles = spawn_pollers_with_stats(targets, tx, stats.clone(), shutdown.clone());
    let run = size.interval * size.cycles;
    let deadline = tokio::time::Instant::now() + run;
    let mut received: Vec<(usize, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => break,
            got = rx.recv() => match got {
                Some(r) => received.push((index[r.device_code.as_str()], r.ts, Utc::now())),
                None => break,
            },
        }
    }
    let elapsed = started.elapsed();
    shutdown.cancel();
    for handle in handles {
        handle.await.expect("a poller task panicked");
    }
    let cpu = cpu_seconds("self") - cpu_before;
    let sim_cpu = cpu_seconds(&child.id().to_string()) - sim_cpu_before;
    let peak_rss_mib = kib("self", "VmHWM:") as f64 / 1024.0;
    drop(child.stdin.take());
    let _ = child.wait();

    // Assert and report.
    let interval_ms = size.interval.as_millis() as i64;
    let cycles = size.cycles as usize;
    let mut per_cycle = vec![0u32; size.devices() * cycles];
    let mut outside = 0;
    let mut latencies: Vec<f64> = Vec::with_capacity(received.len());
    for (device, ts, arrived) in &received {
        let cycle = (*ts - t0).num_milliseconds().div_euclid(interval_ms);
        match usize::try_from(cycle) {
            Ok(c) if c < cycles => per_cycle[device * cycles + c] += 1,
            _ => outside += 1,
        }
        latencies.push((*arrived - *ts).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0);
    }
    let missed = per_cycle.iter().filter(|n| **n == 0).count();
    let doubled = per_cycle.iter().filter(|n| **n > 1).count();
    let missed_by_cycle: Vec<usize> = (0..cycles)
        .map(|c| {
            (0..size.devices())
                .filter(|d| per_cycle[d * cycles + c] == 0)
                .count()
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let counters = stats.snapshot();
    let polls_ok: u64 = counters.values().map(|c| c.polls_ok).sum();
    let failures: u64 = counters.values().map(|c| c.poll_failures).sum();
    let mut errors: HashMap<String, usize> = HashMap::new();
    for c in counters.values().filter(|c| c.poll_failures > 0) {
        let e = c.last_error.clone().unwrap_or_default();
        *errors.entry(e).or_default() += 1;
    }
    let per_minute = received.len() as f64 / elapsed.as_secs_f64() * 60.0;

    println!("Modbus polling: one process, simulated gateways over loopback TCP");
    println!("  devices                    {}", size.devices());
    println!(
        "  endpoints                  {} (x {} units; 3/5 SunSpec, 2/5 huawei_sun2000)",
        size.endpoints, size.units
    );
    println!("  interval                   {:?}", size.interval);
    println!("  cycles                     {}", size.cycles);
    println!(
        "  readings expected/received {} / {} ({} outside the window)",
        size.devices() * cycles,
        received.len(),
        outside
    );
    println!("  polls per minute achieved  {per_minute:.0} (over {elapsed:.1?})");
    println!(
        "  missed device-cycles       {missed} (per cycle {missed_by_cycle:?}; doubled {doubled})"
    );
    println!("  PollStats ok / failures    {polls_ok} / {failures}");
    println!(
        "  poll latency ts->sink      p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        pct(0.5),
        pct(0.95),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "  poller CPU time            {cpu:.1} s ({:.1} % of one core)",
        cpu / elapsed.as_secs_f64() * 100.0
    );
    println!("  poller peak RSS (VmHWM)    {peak_rss_mib:.0} MiB");
    println!("  simulator CPU time         {sim_cpu:.1} s (child process)");
    for (error, devices) in &errors {
        println!("  failure on {devices} devices: {error}");
    }
    assert_eq!(missed, 0, "every device got a reading in every cycle");
}

/// User + system CPU seconds of process `pid` (`self` or a number), from /proc/PID/stat.
fn cpu_seconds(pid: &str) -> f64 {
    // USER_HZ, the unit of /proc's tick counts, is 100 on every Linux ABI.
    const TICKS_PER_SECOND: f64 = 100.0;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / TICKS_PER_SECOND
}

/// A `kB` line of /proc/PID/status, e.g. `VmHWM:`.
fn kib(pid: &str, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The soft limit on open files, from /proc/self/limits.
fn open_files_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX)
}
