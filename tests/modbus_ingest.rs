//! Modbus devices of the ledger are polled by the service and their readings stored, on
//! both backends, against a real Modbus TCP server (the simulator's).

mod common;

use common::{TestApp, TestDb, eventually, example_dir, write_dir};
use pvledger::ledger::import_dir;
use pvledger::modbus::sim_image::{huawei_sun2000_image, sunspec_image};
use pvledger::modbus::sim_server::SimServer;
use pvledger::reading::{DeviceStatus, Reading};

async fn polled_devices_reach_the_store(db: TestDb) {
    // Arrange: two simulated inverters (SunSpec and Huawei) and a ledger that names them.
    let sunspec = Reading {
        ac_power_w: Some(41_000.0),
        energy_total_kwh: Some(123_456.0),
        status: Some(DeviceStatus::Running),
        ..Default::default()
    };
    let huawei = Reading {
        ac_power_w: Some(55_500.0),
        energy_total_kwh: Some(98_765.43),
        status: Some(DeviceStatus::Running),
        ..Default::default()
    };
    let a = SimServer::start_local(1, sunspec_image(&sunspec, "SIM-A", 2).unwrap())
        .await
        .unwrap();
    let b = SimServer::start_local(1, huawei_sun2000_image(&huawei).unwrap())
        .await
        .unwrap();
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let devices = format!(
        "code,station_code,kind,protocol,host,port,unit_id,profile,rated_ac_kw,dc_kwp\n\
         INV-SIM-A,PV149901101201-01,inverter,modbus,127.0.0.1,{},1,sunspec,50,60\n\
         INV-SIM-B,PV149901101201-01,inverter,modbus,127.0.0.1,{},1,huawei_sun2000,100,120\n",
        a.local_addr().port(),
        b.local_addr().port()
    );
    // Only these two are polled: the example county's own modbus devices are switched to MQTT.
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
    let dir = write_dir(db.dir(), "sim", &[("devices.csv", mqtt_only.as_bytes())]);
    import_dir(&db.store, &dir, "test", false).await.unwrap();
    let dir = write_dir(db.dir(), "sim2", &[("devices.csv", devices.as_bytes())]);
    import_dir(&db.store, &dir, "test", false).await.unwrap();

    // Act: the service polls every second.
    let app = TestApp::spawn_with(&db, |c| {
        c.modbus.enabled = true;
        c.modbus.interval_s = 1;
    })
    .await;

    // Assert: both devices' values arrive as sent (the Huawei one after its 1.5 s pause).
    for (code, power, energy) in [
        ("INV-SIM-A", 41_000.0, 123_456.0),
        ("INV-SIM-B", 55_500.0, 98_765.43),
    ] {
        let latest = eventually(20, code, || async {
            let (status, body) = app.get(&format!("/api/v1/devices/{code}/latest")).await;
            (status == 200).then_some(body)
        })
        .await;
        assert_eq!(latest["ac_power_w"], power, "{code}: {latest}");
        assert!(
            (latest["energy_total_kwh"].as_f64().unwrap() - energy).abs() < 0.011,
            "{code}: {latest}"
        );
        assert_eq!(latest["status"], "running");
    }

    // /metrics counts the polls by device class, with their durations.
    let text = reqwest::get(format!("{}/metrics", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for class in ["sunspec", "huawei_sun2000"] {
        let polls: f64 = text
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!(
                    "pvledger_modbus_polls_total{{class=\"{class}\"}} "
                ))?
                .parse()
                .ok()
            })
            .unwrap_or_else(|| panic!("no polls of {class} in /metrics:\n{text}"));
        assert!(polls >= 1.0, "{class}: {polls}");
        assert!(
            text.contains(&format!(
                "pvledger_modbus_poll_seconds_bucket{{class=\"{class}\",le=\"+Inf\"}}"
            )),
            "{text}"
        );
    }
    assert!(
        text.contains("pvledger_modbus_devices{class=\"sunspec\"} 1\n"),
        "{text}"
    );
}

both_backends!(polled_devices_reach_the_store);
