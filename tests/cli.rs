//! The `pvledger` binary as an operator runs it: exit codes, messages, graceful shutdown.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::{TestDb, example_dir, write_dir};

fn pvledger(db_url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pvledger"));
    cmd.args(args)
        .env("PVLEDGER__DATABASE__URL", db_url)
        .env("PVLEDGER__HTTP__LISTEN", "127.0.0.1:0")
        .env("PVLEDGER__MQTT__EMBEDDED_LISTEN", "127.0.0.1:0")
        .env("PVLEDGER__MODBUS__ENABLED", "false")
        .env_remove("RUST_LOG");
    cmd
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into(),
        String::from_utf8_lossy(&stderr).into(),
    )
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// Waits for the process to exit and returns its code, failing after `secs`.
fn wait_exit(child: &mut Child, secs: u64) -> i32 {
    for _ in 0..secs * 10 {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    panic!("process did not exit within {secs} s");
}

/// Reads the child's stdout until a line contains "http://", and returns that address.
/// The demo's base URL and the API token it prints before it.
fn wait_for_url(child: &mut Child) -> (String, String) {
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut token = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(i) = line.find("pvl_") {
            token = token.or_else(|| line[i..].split_whitespace().next().map(str::to_owned));
        }
        if let Some(i) = line.find("http://") {
            let url = line[i..].split_whitespace().next().unwrap();
            let base = url.split("/api").next().unwrap().to_owned();
            std::thread::spawn(move || for _ in lines {});
            return (
                base,
                token.expect("the demo prints an API token before its URLs"),
            );
        }
    }
    panic!("no URL printed");
}

#[test]
fn an_invalid_setting_stops_start_up_naming_the_key() {
    let (code, _, stderr) = run(
        pvledger("sqlite://x.sqlite", &["migrate"]).env("PVLEDGER__TIME__ZONE", "Mars/Olympus")
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("`time.zone`"), "{stderr}");
    assert!(stderr.contains("PVLEDGER__TIME__ZONE"), "{stderr}");
}

#[test]
fn a_missing_config_file_is_named() {
    let (code, _, stderr) = run(&mut pvledger(
        "sqlite://x.sqlite",
        &["--config", "/nonexistent/site.toml", "migrate"],
    ));
    assert_eq!(code, 1);
    assert!(stderr.contains("/nonexistent/site.toml"), "{stderr}");
}

#[tokio::test]
async fn a_refused_import_prints_every_problem_and_exits_non_zero() {
    let db = TestDb::sqlite().await;
    let dir = write_dir(
        db.dir(),
        "bad",
        &[("villages.csv", "code,name,level,parent_code\n149901,县,county,\n149901101,镇,town,149901\n149901102,镇,township,404\n".as_bytes())],
    );

    let (code, _, stderr) = run(&mut pvledger(
        &db.url,
        &["registry", "import", dir.to_str().unwrap()],
    ));

    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("villages.csv:3: level: \"town\" is not one of"),
        "{stderr}"
    );
    assert!(
        stderr.contains("villages.csv:4: parent_code: 404 is not a known area"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert!(db.store.load_ledger().await.unwrap().areas.is_empty());
}

#[tokio::test]
async fn import_then_export_from_the_command_line_on_postgres() {
    let db = TestDb::postgres().await;
    let (code, stdout, stderr) = run(&mut pvledger(
        &db.url,
        &["registry", "import", example_dir().to_str().unwrap()],
    ));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("stations.csv"), "{stdout}");

    let out = db.dir().join("out");
    let (code, stdout, _) = run(&mut pvledger(
        &db.url,
        &["registry", "export", out.to_str().unwrap()],
    ));
    assert_eq!(code, 0);
    assert!(stdout.contains("stations.csv 11 rows"), "{stdout}");

    let (code, stdout, _) = run(&mut pvledger(
        &db.url,
        &["registry", "import", out.to_str().unwrap()],
    ));
    assert_eq!(code, 0);
    assert!(stdout.contains("nothing changed"), "{stdout}");
}

#[tokio::test]
async fn migrate_reports_the_storage_mode_on_postgres() {
    let db = TestDb::postgres().await;
    let (code, stdout, stderr) = run(&mut pvledger(&db.url, &["migrate"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("postgres") && stdout.contains("Plain"),
        "{stdout}"
    );
}

#[tokio::test]
async fn serve_answers_and_stops_gracefully_on_sigterm() {
    let db = TestDb::sqlite().await;
    let mut guard = common::ChildGuard(
        pvledger(&db.url, &["serve"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let child = &mut guard.0;
    let addr = common::logged_http_addr(child);

    let body: serde_json::Value = reqwest::get(format!("http://{addr}/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "ready");

    sigterm(child);
    assert_eq!(wait_exit(child, 10), 0);
}

#[tokio::test]
async fn the_demo_serves_the_example_county() {
    let db = TestDb::sqlite().await;
    let demo_url = format!("sqlite://{}", db.dir().join("demo.sqlite").display());
    let mut guard = common::ChildGuard(
        pvledger(
            &db.url,
            &["demo", "--database", &demo_url, "--history", "2"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let child = &mut guard.0;
    let (base, token) = wait_for_url(child);
    let client = common::client_with_token(&token);
    let body: serde_json::Value = client
        .get(format!("{base}/api/v1/stations"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["stations"].as_array().unwrap().len(), 11);
    // Without the token the API refuses.
    let anonymous = reqwest::get(format!("{base}/api/v1/stations"))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // Two days of simulated history arrive through MQTT and the real ingest path: yesterday
    // has plausible energy for a 300 kWp station (between nothing and 8 full-sun hours).
    let yesterday = (chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai)
        - chrono::Duration::days(1))
    .date_naive();
    let url = format!(
        "{base}/api/v1/stations/PV149901101201-01/energy?from={yesterday}&to={yesterday}&interval=day"
    );
    let kwh = common::eventually(60, "yesterday's simulated energy", || async {
        let body: serde_json::Value = client.get(&url).send().await.ok()?.json().await.ok()?;
        body["points"][0]["energy_kwh"]
            .as_f64()
            .filter(|e| *e > 0.0)
    })
    .await;
    assert!(kwh < 300.0 * 8.0, "{kwh} kWh");

    sigterm(child);
    assert_eq!(wait_exit(child, 10), 0);
}

#[tokio::test]
async fn a_month_is_settled_from_the_command_line_on_postgres() {
    let db = TestDb::postgres().await;
    let example = example_dir();
    let run_ok = |args: &[&str]| {
        let (code, stdout, stderr) = run(&mut pvledger(&db.url, args));
        assert_eq!(code, 0, "{args:?}: {stderr}");
        stdout
    };
    run_ok(&["registry", "import", example.to_str().unwrap()]);
    // Without statements or telemetry the month cannot be settled: exit 2, every station named.
    let (code, _, stderr) = run(&mut pvledger(&db.url, &["settle", "--period", "2026-10"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("PVJ149901-01"), "{stderr}");

    let stations = std::fs::read_to_string(example.join("stations.csv")).unwrap();
    let mut grid = String::from("电站编码,结算月份,上网电量\n");
    for line in stations.lines().skip(1) {
        grid.push_str(&format!(
            "{},2026-10,10000\n",
            line.split(',').next().unwrap()
        ));
    }
    let dir = write_dir(db.dir(), "month", &[("grid.csv", grid.as_bytes())]);
    run_ok(&["grid", "import", dir.join("grid.csv").to_str().unwrap()]);
    run_ok(&[
        "plan",
        "import",
        example.join("plans.csv").to_str().unwrap(),
    ]);
    let out = db.dir().join("export");
    let stdout = run_ok(&[
        "settle",
        "--period",
        "2026-10",
        "--export",
        out.to_str().unwrap(),
    ]);

    // 11 stations x 10 000 kWh x 0.332 元 = 36 520.00 元 (received mode: no subsidy yet).
    assert!(stdout.contains("36520.00"), "{stdout}");
    assert!(stdout.contains("叁万陆仟伍佰贰拾元整"), "{stdout}");
    let uses = std::fs::read_to_string(out.join("settlement_uses.csv")).unwrap();
    let total: rust_decimal::Decimal = uses
        .lines()
        .skip(1)
        .map(|l| {
            l.rsplit(',')
                .next()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        })
        .sum();
    assert_eq!(total.to_string(), "36520.00", "the uses tie to the total");
    let id = stdout
        .split('#')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert!(run_ok(&["settlement", "review", &id]).contains("reviewed"));
    let (code, _, stderr) = run(&mut pvledger(&db.url, &["settle", "--period", "2026-10"]));
    assert_eq!(
        code, 2,
        "a reviewed settlement cannot be recomputed: {stderr}"
    );
}
