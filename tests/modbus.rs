//! Modbus pollers and the probe against simulated devices over real TCP on 127.0.0.1.
//!
//! Every device here is a `SimServer` on a free port; nothing is mocked. Timing tests use
//! short intervals (a few hundred ms) and assert on what was measured, with margins wide
//! enough for a loaded 2-core CI machine but far below what the failure would cost.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use pvledger::modbus::backoff::BackoffPolicy;
use pvledger::modbus::block::RegisterKind;
use pvledger::modbus::profile::{Profile, shipped};
use pvledger::modbus::sim_image::{huawei_sun2000_image, sunspec_image, sunspec_models};
use pvledger::modbus::sim_server::{SimServer, UnitImage};
use pvledger::modbus::sunspec::image::{self, ImageModel};
use pvledger::modbus::{PollTarget, ProfileRef, spawn_pollers, targets_from_store};
use pvledger::reading::{DeviceReading, DeviceStatus, Reading};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;

fn sunspec_reading() -> Reading {
    Reading {
        ac_power_w: Some(23_450.0),
        dc_power_w: Some(24_100.0),
        energy_total_kwh: Some(123_456.7),
        grid_voltage_v: Some(231.4),
        frequency_hz: Some(50.02),
        temperature_c: Some(41.5),
        status: Some(DeviceStatus::Running),
        ..Reading::default()
    }
}

fn huawei_reading() -> Reading {
    Reading {
        ac_power_w: Some(98_765.0),
        dc_power_w: Some(101_234.0),
        energy_total_kwh: Some(876_543.21),
        export_energy_kwh: Some(76_543.21),
        grid_voltage_v: Some(229.8),
        frequency_hz: Some(49.98),
        temperature_c: Some(-3.5),
        status: Some(DeviceStatus::Throttled),
        fault_code: Some("0x0001".into()),
        ..Reading::default()
    }
}

fn huawei() -> ProfileRef {
    ProfileRef::Vendor(std::sync::Arc::new(
        Profile::from_toml_str(shipped::HUAWEI_SUN2000).unwrap(),
    ))
}

/// A target with test timing: `interval`, 500 ms timeout, fast reconnects, no pauses.
fn target(
    code: &str,
    addr: SocketAddr,
    unit: u8,
    profile: ProfileRef,
    interval_ms: u64,
) -> PollTarget {
    let mut t = PollTarget::new(code, addr.ip().to_string(), addr.port(), unit, profile);
    t.interval = Duration::from_millis(interval_ms);
    t.timeout = Duration::from_millis(500);
    t.pause_after_connect = Some(Duration::ZERO);
    t.pause_between_requests = Some(Duration::ZERO);
    t.reconnect = BackoffPolicy {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(400),
        factor: 2.0,
    };
    t.busy = BackoffPolicy {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(100),
        factor: 2.0,
    };
    t
}

struct Pollers {
    rx: mpsc::Receiver<DeviceReading>,
    shutdown: CancellationToken,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl Pollers {
    fn start(targets: Vec<PollTarget>) -> Self {
        let (tx, rx) = mpsc::channel(64);
        let shutdown = CancellationToken::new();
        let handles = spawn_pollers(targets, tx, shutdown.clone());
        Pollers {
            rx,
            shutdown,
            handles,
        }
    }

    /// The next reading of `device` (others are dropped), failing after `within`.
    async fn next_of(&mut self, device: &str, within: Duration) -> DeviceReading {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match timeout(left, self.rx.recv()).await {
                Ok(Some(r)) if r.device_code == device => return r,
                Ok(Some(_)) => continue,
                Ok(None) => panic!("reading channel closed"),
                Err(_) => panic!("no reading from {device} within {within:?}"),
            }
        }
    }

    /// Every reading received during `window`, with its arrival time.
    async fn collect(&mut self, window: Duration) -> Vec<(Instant, DeviceReading)> {
        let deadline = Instant::now() + window;
        let mut out = Vec::new();
        while let Ok(Some(r)) = timeout(
            deadline.saturating_duration_since(Instant::now()),
            self.rx.recv(),
        )
        .await
        {
            out.push((Instant::now(), r));
        }
        out
    }

    /// Cancels and returns how long the tasks took to finish.
    async fn stop(self) -> Duration {
        let started = Instant::now();
        self.shutdown.cancel();
        for handle in self.handles {
            timeout(Duration::from_secs(2), handle)
                .await
                .expect("poller did not stop within 2 s of cancellation")
                .unwrap();
        }
        started.elapsed()
    }
}

#[tokio::test]
async fn a_sunspec_device_and_a_huawei_device_deliver_the_values_put_into_their_images() {
    let sunspec = SimServer::start_local(1, sunspec_image(&sunspec_reading(), "SN-A", 2).unwrap())
        .await
        .unwrap();
    let huawei_sim = SimServer::start_local(1, huawei_sun2000_image(&huawei_reading()).unwrap())
        .await
        .unwrap();
    let mut huawei_target = PollTarget::new(
        "INV-HW",
        "127.0.0.1",
        huawei_sim.local_addr().port(),
        1,
        huawei(),
    );
    // The shipped profile's own 1.5 s pause after connecting and 50 ms between requests.
    huawei_target.interval = Duration::from_millis(500);
    let before = chrono::Utc::now();
    let mut pollers = Pollers::start(vec![
        target("INV-SS", sunspec.local_addr(), 1, ProfileRef::SunSpec, 500),
        huawei_target,
    ]);

    let ss = pollers.next_of("INV-SS", Duration::from_secs(5)).await;
    let hw = pollers.next_of("INV-HW", Duration::from_secs(5)).await;

    assert_eq!(ss.reading, sunspec_reading());
    assert_eq!(hw.reading, huawei_reading());
    let after = chrono::Utc::now();
    assert!(ss.ts >= before && ss.ts <= after && hw.ts >= before && hw.ts <= after);
    assert!(
        hw.ts - before >= chrono::Duration::milliseconds(1400),
        "the Huawei profile's 1.5 s pause after connecting was kept"
    );
    pollers.stop().await;
}

#[tokio::test]
async fn a_hanging_device_does_not_delay_the_other_devices_readings() {
    let healthy = SimServer::start_local(1, sunspec_image(&sunspec_reading(), "SN-OK", 1).unwrap())
        .await
        .unwrap();
    let hung = SimServer::start_local(1, sunspec_image(&sunspec_reading(), "SN-HANG", 1).unwrap())
        .await
        .unwrap();
    hung.set_hang(true);
    let interval = Duration::from_millis(250);
    let mut pollers = Pollers::start(vec![
        target("INV-OK", healthy.local_addr(), 1, ProfileRef::SunSpec, 250),
        target("INV-HANG", hung.local_addr(), 1, ProfileRef::SunSpec, 250),
    ]);

    let window = Duration::from_secs(3);
    let got = pollers.collect(window).await;

    let arrivals: Vec<Instant> = got
        .iter()
        .filter(|(_, r)| r.device_code == "INV-OK")
        .map(|(t, _)| *t)
        .collect();
    assert!(
        got.iter().all(|(_, r)| r.device_code == "INV-OK"),
        "the hung device delivered nothing"
    );
    let max_gap = arrivals.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    eprintln!(
        "healthy device: {} readings in {window:?}, largest gap {max_gap:?} (interval {interval:?})",
        arrivals.len()
    );
    assert!(
        arrivals.len() >= 11,
        "expected ~12 readings, got {}",
        arrivals.len()
    );
    assert!(
        max_gap < interval + Duration::from_millis(200),
        "a reading was delayed: gap {max_gap:?}, timeout of the hung device is 500 ms"
    );
    assert!(
        hung.connections_accepted() >= 2,
        "the hung device was dropped and reconnected after timeouts ({} connections)",
        hung.connections_accepted()
    );
    let stopped_in = pollers.stop().await;
    eprintln!("pollers stopped {stopped_in:?} after cancellation");
    assert!(stopped_in < Duration::from_millis(500));
}

#[tokio::test]
async fn a_server_killed_and_restarted_is_reconnected_and_serves_new_values() {
    let mut sim = SimServer::start_local(1, sunspec_image(&sunspec_reading(), "SN-R", 1).unwrap())
        .await
        .unwrap();
    let mut pollers = Pollers::start(vec![target(
        "INV-R",
        sim.local_addr(),
        1,
        ProfileRef::SunSpec,
        200,
    )]);
    pollers.next_of("INV-R", Duration::from_secs(3)).await;

    sim.stop().await;
    let during = pollers.collect(Duration::from_millis(1200)).await;
    assert!(during.len() <= 1, "at most a reading already in flight");
    let changed = Reading {
        ac_power_w: Some(1_000.0),
        ..sunspec_reading()
    };
    sim.set_unit(1, sunspec_image(&changed, "SN-R", 1).unwrap());
    let restarted = Instant::now();
    sim.restart().await.unwrap();

    let reading = pollers.next_of("INV-R", Duration::from_secs(3)).await;
    eprintln!("first reading {:?} after the restart", restarted.elapsed());
    assert_eq!(reading.reading, changed);
    assert!(sim.connections_accepted() >= 2);
    pollers.stop().await;
}

#[tokio::test]
async fn a_block_answering_illegal_data_address_is_disabled_after_three_tries() {
    // A Huawei inverter without a power meter: the 37119 block does not exist.
    let mut no_meter = huawei_sun2000_image(&huawei_reading()).unwrap();
    no_meter.remove(RegisterKind::Holding, 37119..=37120);
    let sim = SimServer::start_local(3, no_meter).await.unwrap();
    let mut pollers = Pollers::start(vec![target("INV-NM", sim.local_addr(), 3, huawei(), 50)]);

    let mut readings = Vec::new();
    for _ in 0..6 {
        readings.push(pollers.next_of("INV-NM", Duration::from_secs(3)).await);
    }

    let expected = Reading {
        export_energy_kwh: None,
        ..huawei_reading()
    };
    assert!(readings.iter().all(|r| r.reading == expected));
    assert_eq!(
        sim.requests_at(3, RegisterKind::Holding, 37119),
        3,
        "read three times, then no more"
    );
    assert!(sim.requests_at(3, RegisterKind::Holding, 32064) >= 6);
    pollers.stop().await;
}

#[tokio::test]
async fn a_changed_sunspec_model_list_is_discovered_again() {
    let sim = SimServer::start_local(1, sunspec_image(&sunspec_reading(), "SN-M", 1).unwrap())
        .await
        .unwrap();
    let mut pollers = Pollers::start(vec![target(
        "INV-M",
        sim.local_addr(),
        1,
        ProfileRef::SunSpec,
        100,
    )]);
    pollers.next_of("INV-M", Duration::from_secs(3)).await;

    // A firmware update inserts a vendor model before the inverter: every address moves.
    let updated = Reading {
        ac_power_w: Some(12_000.0),
        ..sunspec_reading()
    };
    let mut models = sunspec_models(&updated, "SN-M", 1);
    models.insert(
        1,
        ImageModel::Raw {
            id: 64001,
            registers: vec![0; 10],
        },
    );
    let mut unit = UnitImage::default();
    unit.set_block(
        RegisterKind::Holding,
        40000,
        &image::build(&models).unwrap(),
    );
    sim.set_unit(1, unit);

    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let r = pollers.next_of("INV-M", Duration::from_secs(3)).await;
        if r.reading == updated {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new layout was not discovered"
        );
    }
    pollers.stop().await;
}

#[tokio::test]
async fn units_behind_one_gateway_share_one_connection_and_a_busy_unit_is_waited_for() {
    let units = HashMap::from([
        (1, sunspec_image(&sunspec_reading(), "SN-G1", 1).unwrap()),
        (2, huawei_sun2000_image(&huawei_reading()).unwrap()),
    ]);
    let sim = SimServer::start(SocketAddr::from(([127, 0, 0, 1], 0)), units)
        .await
        .unwrap();
    sim.answer_busy(2);
    let mut pollers = Pollers::start(vec![
        target("GW-U1", sim.local_addr(), 1, ProfileRef::SunSpec, 300),
        target("GW-U2", sim.local_addr(), 2, huawei(), 300),
    ]);

    for _ in 0..2 {
        assert_eq!(
            pollers
                .next_of("GW-U1", Duration::from_secs(3))
                .await
                .reading,
            sunspec_reading()
        );
        assert_eq!(
            pollers
                .next_of("GW-U2", Duration::from_secs(3))
                .await
                .reading,
            huawei_reading()
        );
    }
    assert_eq!(
        sim.connections_accepted(),
        1,
        "one connection for both units"
    );
    assert_eq!(
        sim.requests_at(1, RegisterKind::Holding, 40000),
        3,
        "the SunSpec probe at 40000 was answered busy twice and retried, once"
    );
    assert_eq!(
        sim.requests_at(1, RegisterKind::Holding, 0),
        0,
        "a busy device was not taken for one without SunSpec at 40000"
    );
    pollers.stop().await;
}

fn probe(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_pvledger"))
        .args(["modbus", "probe"])
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into(),
        String::from_utf8_lossy(&output.stderr).into(),
    )
}

async fn probe_async(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        probe(&args)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_probe_command_prints_the_sunspec_model_list_and_values() {
    let sim = SimServer::start_local(1, sunspec_image(&sunspec_reading(), "SN-P", 2).unwrap())
        .await
        .unwrap();

    let (code, out, err) = probe_async(vec![sim.local_addr().to_string()]).await;

    assert_eq!(code, 0, "{err}");
    eprintln!("{out}");
    assert!(out.contains("SunSpec 模型 / models"), "{out}");
    for row in [
        ["1", "40002", "66"],
        ["103", "40070", "50"],
        ["160", "40122", "48"],
    ] {
        let found = out.lines().any(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            cells.starts_with(&row)
        });
        assert!(found, "model row {row:?} missing:\n{out}");
    }
    assert!(out.contains("SN-P"));
    assert!(
        out.contains("交流功率 AC power") && out.contains("23450 W"),
        "{out}"
    );
    assert!(out.contains("运行 running"));
}

#[tokio::test]
async fn the_probe_command_prints_a_vendor_profiles_values() {
    let sim = SimServer::start_local(1, huawei_sun2000_image(&huawei_reading()).unwrap())
        .await
        .unwrap();

    let (code, out, err) = probe_async(vec![
        sim.local_addr().to_string(),
        "--profile".into(),
        "huawei_sun2000".into(),
        "--profiles-dir".into(),
        "/nonexistent".into(),
    ])
    .await;

    assert_eq!(code, 0, "{err}");
    eprintln!("{out}");
    assert!(
        out.contains("huawei_sun2000 (Huawei), 来源 source: built-in"),
        "{out}"
    );
    assert!(
        out.contains("98765 W") && out.contains("限功率 throttled"),
        "{out}"
    );
}

#[tokio::test]
async fn the_probe_command_explains_refused_silent_and_non_sunspec_devices() {
    // Refused: a port nobody listens on (bound, then released).
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (code, _, err) = probe_async(vec![free.to_string()]).await;
    assert_eq!(code, 1);
    assert!(err.contains("refused"), "{err}");

    // Silent: accepts and never answers.
    let hung = SimServer::start_local(1, UnitImage::default())
        .await
        .unwrap();
    hung.set_hang(true);
    let (code, _, err) = probe_async(vec![
        hung.local_addr().to_string(),
        "--timeout".into(),
        "0.5".into(),
    ])
    .await;
    assert_eq!(code, 1);
    assert!(err.contains("no answer") && err.contains("--unit"), "{err}");

    // Answers, but has no "SunS" anywhere.
    let plain = huawei_sun2000_image(&huawei_reading()).unwrap();
    let sim = SimServer::start_local(1, plain).await.unwrap();
    let (code, _, err) = probe_async(vec![sim.local_addr().to_string()]).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("not a SunSpec device") && err.contains("--profile"),
        "{err}"
    );

    // An unknown profile is the user's to fix.
    let (code, _, err) = probe_async(vec![
        sim.local_addr().to_string(),
        "--profile".into(),
        "fronius".into(),
    ])
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("no vendor profile \"fronius\""), "{err}");
}

#[tokio::test]
async fn every_modbus_device_of_the_example_county_becomes_a_poll_target() {
    let db = common::TestDb::sqlite().await;
    pvledger::ledger::import_files(
        &db.store,
        pvledger::demo::example_county(),
        "examples/county",
        &pvledger::audit::cli_actor(),
        false,
    )
    .await
    .unwrap();

    let (targets, errors) = targets_from_store(&db.store, std::path::Path::new("config/profiles"))
        .await
        .unwrap();

    assert!(errors.is_empty(), "{errors:?}");
    let mut profiles: Vec<&str> = targets.iter().map(|t| t.profile.name()).collect();
    profiles.sort_unstable();
    profiles.dedup();
    assert_eq!(
        profiles,
        [
            "goodwe_dt",
            "growatt",
            "huawei_sun2000",
            "sungrow_sg",
            "sunspec"
        ],
        "the ledger's profile names resolve to the shipped files"
    );
    assert!(targets.len() >= 28, "{} targets", targets.len());
}
