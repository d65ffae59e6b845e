//! Fault drill: Modbus devices that time out, answer with exceptions or garbage, or drop
//! connections, polled by the real pollers next to healthy devices over real TCP. The
//! healthy ones must keep their cycle: one reading in every interval, none missing.
//!
//! Already covered in `tests/modbus.rs`, so not repeated here as separate cases: a hanging
//! device (timing of the others), a server stopped and restarted, busy (0x06) replies and
//! blocks answering 0x02. This drill puts every kind of fault next to each other at once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pvledger::modbus::backoff::BackoffPolicy;
use pvledger::modbus::profile::{Profile, shipped};
use pvledger::modbus::sim_image::{huawei_sun2000_image, sunspec_image};
use pvledger::modbus::sim_server::{Fault, SimServer, UnitImage};
use pvledger::modbus::stats::PollStats;
use pvledger::modbus::{PollTarget, ProfileRef, spawn_pollers_with_stats};
use pvledger::reading::{DeviceReading, DeviceStatus, Reading};
use tokio::sync::mpsc;
use tokio_modbus::ExceptionCode;
use tokio_util::sync::CancellationToken;

const INTERVAL: Duration = Duration::from_secs(1);
const CYCLES: i64 = 5;

fn reading(kw: f64) -> Reading {
    Reading {
        ac_power_w: Some(kw * 1000.0),
        energy_total_kwh: Some(123_456.0),
        grid_voltage_v: Some(230.5),
        frequency_hz: Some(50.01),
        status: Some(DeviceStatus::Running),
        ..Reading::default()
    }
}

fn huawei() -> ProfileRef {
    ProfileRef::Vendor(Arc::new(
        Profile::from_toml_str(shipped::HUAWEI_SUN2000).unwrap(),
    ))
}

/// A target polled every second with a 500 ms timeout, fast reconnects and no pauses.
fn target(code: &str, addr: SocketAddr, unit: u8, profile: ProfileRef) -> PollTarget {
    let mut t = PollTarget::new(code, addr.ip().to_string(), addr.port(), unit, profile);
    t.interval = INTERVAL;
    t.timeout = Duration::from_millis(500);
    t.pause_after_connect = Some(Duration::ZERO);
    t.pause_between_requests = Some(Duration::ZERO);
    t.reconnect = BackoffPolicy {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(400),
        factor: 2.0,
    };
    t
}

async fn sim(units: HashMap<u8, UnitImage>) -> SimServer {
    SimServer::start(SocketAddr::from(([127, 0, 0, 1], 0)), units)
        .await
        .unwrap()
}

async fn faulty(fault: Option<Fault>, image: UnitImage) -> SimServer {
    let s = sim(HashMap::from([(1, image)])).await;
    s.set_fault(fault);
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_devices_keep_their_cycle_while_others_time_out_answer_exceptions_or_garbage_or_drop()
 {
    // Arrange: three healthy endpoints (one a gateway with two good units and one it cannot
    // reach), and one endpoint per kind of fault.
    let sunspec = |kw| sunspec_image(&reading(kw), "SN", 1).unwrap();
    let huawei_image = |kw| huawei_sun2000_image(&reading(kw)).unwrap();
    let ok_a = sim(HashMap::from([(1, sunspec(11.0))])).await;
    let ok_b = sim(HashMap::from([(1, huawei_image(22.0))])).await;
    let gateway = sim(HashMap::from([(1, sunspec(33.0)), (2, huawei_image(44.0))])).await;
    let hang = faulty(Some(Fault::Hang), sunspec(1.0)).await;
    let exception = faulty(
        Some(Fault::Exception(ExceptionCode::ServerDeviceFailure)),
        huawei_image(1.0),
    )
    .await;
    let short = faulty(Some(Fault::ShortAnswer), sunspec(1.0)).await;
    let garbage = faulty(Some(Fault::Garbage), huawei_image(1.0)).await;
    let close = faulty(Some(Fault::CloseOnAccept), sunspec(1.0)).await;
    let mut refused = faulty(None, huawei_image(1.0)).await;
    refused.stop().await;

    let healthy = [
        ("OK-A", reading(11.0)),
        ("OK-B", reading(22.0)),
        ("GW-U1", reading(33.0)),
        ("GW-U2", reading(44.0)),
    ];
    let targets = vec![
        target("OK-A", ok_a.local_addr(), 1, ProfileRef::SunSpec),
        target("OK-B", ok_b.local_addr(), 1, huawei()),
        target("GW-U1", gateway.local_addr(), 1, ProfileRef::SunSpec),
        target("GW-U2", gateway.local_addr(), 2, huawei()),
        target("GW-U3", gateway.local_addr(), 3, huawei()),
        target("HANG", hang.local_addr(), 1, ProfileRef::SunSpec),
        target("EXC-04", exception.local_addr(), 1, huawei()),
        target("SHORT", short.local_addr(), 1, ProfileRef::SunSpec),
        target("GARBAGE", garbage.local_addr(), 1, huawei()),
        target("CLOSE", close.local_addr(), 1, ProfileRef::SunSpec),
        target("REFUSED", refused.local_addr(), 1, huawei()),
    ];
    let (tx, mut rx) = mpsc::channel::<DeviceReading>(64);
    let stats = Arc::new(PollStats::default());
    let shutdown = CancellationToken::new();

    // Act: poll for five cycles and a half.
    let t0 = Utc::now();
    let handles = spawn_pollers_with_stats(targets, tx, stats.clone(), shutdown.clone());
    let mut got: Vec<DeviceReading> = Vec::new();
    let window = INTERVAL * CYCLES as u32 + INTERVAL / 2;
    let _ = tokio::time::timeout(window, async {
        while let Some(r) = rx.recv().await {
            got.push(r);
        }
    })
    .await;
    let still_running = handles.iter().filter(|h| !h.is_finished()).count();
    shutdown.cancel();
    for handle in handles {
        handle.await.expect("no poller task panicked");
    }

    // Assert: every healthy device read once in every cycle, with its own values.
    assert_eq!(still_running, 9, "every endpoint's task was still running");
    let interval_ms = INTERVAL.as_millis() as i64;
    for (code, expected) in &healthy {
        let times: Vec<DateTime<Utc>> = got
            .iter()
            .filter(|r| r.device_code == *code)
            .map(|r| {
                assert_eq!(&r.reading, expected, "{code} delivered its own values");
                r.ts
            })
            .collect();
        let cycles: Vec<i64> = times
            .iter()
            .map(|ts| (*ts - t0).num_milliseconds().div_euclid(interval_ms))
            .filter(|c| *c < CYCLES)
            .collect();
        let gaps: Vec<i64> = times
            .windows(2)
            .map(|w| (w[1] - w[0]).num_milliseconds())
            .collect();
        eprintln!("{code}: cycles {cycles:?}, gaps between readings {gaps:?} ms");
        assert_eq!(
            cycles,
            (0..CYCLES).collect::<Vec<_>>(),
            "{code}: one reading in every cycle, none missing"
        );
        assert!(
            gaps.iter()
                .all(|g| (interval_ms - 250..=interval_ms + 250).contains(g)),
            "{code}: readings spaced by the interval: {gaps:?} ms"
        );
    }

    // The faulty ones delivered nothing and are counted as failures, each for its cause.
    let counters = stats.snapshot();
    let faults: [(&str, &[&str]); 7] = [
        ("GW-U3", &["gateway cannot reach the device"]),
        ("HANG", &["no answer within"]),
        ("EXC-04", &["no register block could be read"]),
        ("SHORT", &["2 registers asked, 1 returned"]),
        ("GARBAGE", &["Invalid protocol identifier"]),
        // A reset when the request was already in the closed socket's buffer.
        ("CLOSE", &["connection closed by the device", "reset"]),
        ("REFUSED", &["refused"]),
    ];
    for (code, causes) in faults {
        let c = &counters[code];
        let error = c.last_error.as_deref().unwrap_or("");
        eprintln!(
            "{code}: ok {}, failures {}, last error {error}",
            c.polls_ok, c.poll_failures
        );
        assert!(
            got.iter().all(|r| r.device_code != code),
            "{code}: no reading"
        );
        assert_eq!(c.polls_ok, 0, "{code}");
        assert!(
            c.poll_failures >= CYCLES as u64,
            "{code}: a failure counted at least once per cycle ({})",
            c.poll_failures
        );
        assert!(
            causes.iter().any(|cause| error.contains(cause)),
            "{code}: {error:?} names one of {causes:?}"
        );
    }
    for (code, _) in &healthy {
        assert_eq!(counters[*code].poll_failures, 0, "{code} never failed");
    }
    // The faults that break the link made the poller reconnect; the others kept it.
    for (name, s) in [("garbage", &garbage), ("close", &close), ("short", &short)] {
        assert!(
            s.connections_accepted() >= 3,
            "{name}: reconnected after each failure ({})",
            s.connections_accepted()
        );
    }
    assert_eq!(
        exception.connections_accepted(),
        1,
        "an exception keeps the link"
    );
    assert_eq!(
        gateway.connections_accepted(),
        1,
        "0x0B keeps the gateway's link"
    );
}
