//! Efficacy assessment end to end on both backends: the example county is simulated for
//! ten days of May with injected faults, the readings go through the real ingest path
//! (writer, rollups), and the assessment served by the API must flag exactly the injected
//! under-performers, each with the right reasons, and leave the healthy stations alone.

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, Utc};
use common::{TestApp, TestDb, example_dir};
use pvledger::ingest::Ingest;
use pvledger::simulate::{Fault, World};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

const DAYS: i64 = 10;
/// Readings every five minutes; the assessment is told to expect exactly that.
const STEP_MIN: i64 = 5;

fn faults() -> Vec<Fault> {
    vec![
        // Half of a 100 kWp station trips for the whole period.
        Fault::Trip("INV-PV149901101202-01-1".into()),
        // A 50 kWp inverter of a 300 kWp station loses a quarter of its strings.
        Fault::LostString("INV-PV149901102203-01-3".into(), 0.25),
        // One of two inverters never reports; a whole station's logger is down.
        Fault::Silent("INV-PV149901103202-01-2".into()),
        Fault::Dark("PV149901101203-01".into()),
        // A grid outage in 柏峪乡 (two stations).
        Fault::Outage("149901201".into()),
        // A counter glitch is not a fault of the station: it must raise nothing.
        Fault::Glitch("INV-PV149901102201-01-1".into()),
    ]
}

/// What each station must be flagged with (stations not listed: nothing).
fn expected_flags() -> BTreeMap<&'static str, Vec<&'static str>> {
    BTreeMap::from([
        (
            "PV149901101202-01",
            vec![
                "underperforming",
                "low_availability",
                "inverter_mismatch",
                "zero_production",
            ],
        ),
        ("PV149901102203-01", vec!["inverter_mismatch"]),
        ("PV149901103202-01", vec!["data_gaps"]),
        ("PV149901101203-01", vec!["data_gaps"]),
        ("PV149901201201-01", vec!["data_gaps"]),
        ("PV149901201202-01", vec!["data_gaps"]),
    ])
}

fn start() -> DateTime<Utc> {
    // 2026-05-01 00:00 in Shanghai.
    DateTime::parse_from_rfc3339("2026-04-30T16:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// Runs the simulated county through the real ingest writer, one day per submission.
async fn simulate(db: &TestDb) {
    pvledger::ledger::import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let ledger = db.store.load_ledger().await.unwrap();
    let mut world = World::from_ledger(&ledger, 2026, faults(), start());
    let token = CancellationToken::new();
    let (ingest, writer) = Ingest::start(
        db.store.clone(),
        db.config.time.zone,
        &db.config.ingest,
        token.clone(),
    )
    .await
    .unwrap();
    for day in 0..DAYS {
        let mut readings = Vec::new();
        for k in 0..(24 * 60 / STEP_MIN) {
            let t = start() + Duration::days(day) + Duration::minutes(k * STEP_MIN);
            readings.extend(world.step(t));
        }
        let out = ingest.submit_polled(readings).await.unwrap();
        assert!(out.refused.is_empty(), "{:?}", out.refused.first());
    }
    drop(ingest);
    writer.await.unwrap();
}

fn flags_of(s: &Value) -> Vec<String> {
    s["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_owned())
        .collect()
}

async fn exactly_the_injected_underperformers_are_flagged_with_their_reasons(db: TestDb) {
    // Arrange
    simulate(&db).await;
    let app =
        TestApp::spawn_with(&db, |c| c.ingest.expected_interval_s = 60 * STEP_MIN as u64).await;

    // Act
    let (status, body) = app
        .get("/api/v1/assessments?from=2026-05-01&to=2026-05-10&county=149901")
        .await;

    // Assert
    assert_eq!(status, 200, "{body}");
    let stations = body["stations"].as_array().unwrap();
    assert_eq!(stations.len(), 11);
    let by_code: BTreeMap<&str, &Value> = stations
        .iter()
        .map(|s| (s["code"].as_str().unwrap(), s))
        .collect();
    let expected = expected_flags();
    for (code, s) in &by_code {
        let want: Vec<String> = expected
            .get(code)
            .map(|v| v.iter().map(|k| k.to_string()).collect())
            .unwrap_or_default();
        assert_eq!(flags_of(s), want, "{code}: {s:#}");
        for f in s["flags"].as_array().unwrap() {
            assert!(!f["reason_zh"].as_str().unwrap().is_empty());
            assert!(!f["evidence"].as_object().unwrap().is_empty());
        }
    }

    // Healthy stations: full availability and data, a peer ratio near 1, a plausible yield
    // for ten days of May in Shanxi (4-7 h a day), a good grade.
    for code in [
        "PV149901101201-01",
        "PV149901102201-01",
        "PV149901102202-01",
        "PV149901103201-01",
        "PVJ149901-01",
    ] {
        let s = by_code[code];
        let ratio = s["peer_ratio"].as_f64().unwrap();
        assert!((0.9..1.1).contains(&ratio), "{code} peer ratio {ratio}");
        assert_eq!(s["peer_days"], DAYS, "{code}");
        assert!(s["availability"].as_f64().unwrap() > 0.99, "{code}: {s}");
        assert!(s["completeness"].as_f64().unwrap() > 0.97, "{code}: {s}");
        let yf = s["final_yield_h"].as_f64().unwrap();
        assert!((40.0..70.0).contains(&yf), "{code} Yf {yf}");
        let pi = s["performance_index"].as_f64().unwrap();
        assert!((0.4..1.05).contains(&pi), "{code} performance index {pi}");
        assert!(
            ["优", "良"].contains(&s["grade_zh"].as_str().unwrap()),
            "{code}: {s}"
        );
    }

    // The tripped station: half its capacity, half its daylight hours, ten zero days.
    let tripped = by_code["PV149901101202-01"];
    let ratio = tripped["peer_ratio"].as_f64().unwrap();
    assert!((0.4..0.6).contains(&ratio), "{ratio}");
    let availability = tripped["availability"].as_f64().unwrap();
    assert!((0.45..0.55).contains(&availability), "{availability}");
    assert_eq!(tripped["longest_zero_spell_days"], DAYS);
    assert_eq!(tripped["grade_zh"], "差");
    assert_eq!(tripped["flags"][0]["evidence"]["peer_ratio"], ratio);
    let dead = &tripped["inverters"][0];
    assert_eq!(dead["code"], "INV-PV149901101202-01-1");
    assert_eq!(dead["vs_siblings"], 0.0);

    // Lost strings: the inverter is about 25 % below its siblings, the station barely.
    let strings = by_code["PV149901102203-01"];
    let inv = strings["inverters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == "INV-PV149901102203-01-3")
        .unwrap();
    let vs = inv["vs_siblings"].as_f64().unwrap();
    assert!((0.72..0.78).contains(&vs), "{vs}");

    // No data is not under-performance: the dark station has no peer ratio at all.
    let dark = by_code["PV149901101203-01"];
    assert!(dark["peer_ratio"].is_null());
    assert_eq!(dark["completeness"], 0.0);

    // The joint station has a pyranometer: reference yield and PR, and the temperature
    // correction raises PR in May (modules above 25 °C).
    let joint = by_code["PVJ149901-01"];
    let pr = joint["performance_ratio"].as_f64().unwrap();
    let pr_t = joint["performance_ratio_temp_corrected"].as_f64().unwrap();
    assert!((0.7..0.95).contains(&pr), "PR {pr}");
    assert!(
        pr_t > pr && pr_t < 1.0,
        "PR {pr}, temperature-corrected {pr_t}"
    );
    assert!(joint["reference_yield_h"].as_f64().unwrap() > 40.0);
    assert!(by_code["PV149901101201-01"]["performance_ratio"].is_null());

    // The ranking puts the healthy stations first.
    assert_eq!(stations[0]["rank"], 1);
    assert!(stations[0]["flags"].as_array().unwrap().is_empty());
}

async fn the_export_writes_csv_with_a_bom_and_a_workbook(db: TestDb) {
    simulate(&db).await;
    let mut config = db.config.clone();
    config.ingest.expected_interval_s = 60 * STEP_MIN as u64;
    let from = chrono::NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
    let to = chrono::NaiveDate::from_ymd_opt(2026, 5, 10).unwrap();
    let report = pvledger::assess::run(&db.store, &config, from, to, None)
        .await
        .unwrap();
    eprintln!("{}", pvledger::assess::cli::table(&report));
    let dir = db.dir().join("out");
    let written = pvledger::assess::export::write(&dir, &report).unwrap();
    assert_eq!(written.len(), 4);
    let ranking = std::fs::read(dir.join("assessment_ranking.csv")).unwrap();
    assert!(
        ranking.starts_with(b"\xEF\xBB\xBF\xE6\x8E\x92\xE5\x90\x8D"),
        "BOM, then 排名"
    );
    let text = String::from_utf8(ranking).unwrap();
    assert_eq!(text.lines().count(), 12);
    let flags = std::fs::read_to_string(dir.join("assessment_flags.csv")).unwrap();
    assert!(flags.contains("PV149901101202-01") && flags.contains("零发电"));
    let xlsx = std::fs::read(dir.join("assessment.xlsx")).unwrap();
    assert!(xlsx.starts_with(b"PK"), "an XLSX file is a zip");

    // A reversed period and an unknown county are refused with a clear message.
    let err = pvledger::assess::run(&db.store, &config, to, from, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("晚于"), "{err}");
    let err = pvledger::assess::run(&db.store, &config, from, to, Some("999999"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("999999"), "{err}");
}

/// `pvledger assess` as an operator runs it.
fn pvledger(db: &TestDb, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pvledger"))
        .args(args)
        .env("PVLEDGER__DATABASE__URL", &db.url)
        .env(
            "PVLEDGER__INGEST__EXPECTED_INTERVAL_S",
            (60 * STEP_MIN).to_string(),
        )
        .env("PVLEDGER__MQTT__EMBEDDED_LISTEN", "")
        .env("PVLEDGER__MODBUS__ENABLED", "false")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

async fn the_command_prints_the_ranking_and_refuses_a_reversed_period(db: TestDb) {
    simulate(&db).await;
    let dir = db.dir().join("export");
    let (code, stdout, stderr) = pvledger(
        &db,
        &[
            "assess",
            "--from",
            "2026-05-01",
            "--to",
            "2026-05-10",
            "--export",
            dir.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("排名"), "{stdout}");
    let tripped = stdout
        .lines()
        .find(|l| l.contains("PV149901101202-01") && l.contains("差"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        tripped.contains("长时间零发电 zero_production"),
        "{tripped}"
    );
    assert!(dir.join("assessment.xlsx").exists());
    let pdf = dir.join("assessment_149901_2026-05-01_2026-05-10.pdf");
    assert!(
        std::fs::read(&pdf).unwrap().starts_with(b"%PDF"),
        "{stdout}"
    );

    let (code, _, stderr) = pvledger(
        &db,
        &["assess", "--from", "2026-05-10", "--to", "2026-05-01"],
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("from 2026-05-10 is after to 2026-05-01"),
        "{stderr}"
    );
}

/// Text of a PDF as pdftotext extracts it (layout kept, so a row stays on one line).
fn pdf_text(bytes: &[u8], dir: &std::path::Path) -> String {
    let path = dir.join("report.pdf");
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", path.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) is installed by scripts/test");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

async fn download(app: &TestApp, path: &str) -> (u16, String, Vec<u8>) {
    let r = app
        .client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, r.bytes().await.unwrap().to_vec())
}

async fn the_pdf_report_and_the_workbook_show_stations_grades_and_reasons(db: TestDb) {
    // Arrange
    simulate(&db).await;
    let app =
        TestApp::spawn_with(&db, |c| c.ingest.expected_interval_s = 60 * STEP_MIN as u64).await;
    let query = "?from=2026-05-01&to=2026-05-10&county=149901";
    let (_, json) = app.get(&format!("/api/v1/assessments{query}")).await;
    let stations = json["stations"].as_array().unwrap();

    // Act
    let (status, kind, pdf) =
        download(&app, &format!("/api/v1/assessments/report.pdf{query}")).await;
    let (xstatus, xkind, xlsx) =
        download(&app, &format!("/api/v1/assessments/export.xlsx{query}")).await;

    // Assert: the PDF names every station with its grade, and every flag's Chinese reason.
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&pdf));
    assert_eq!(kind, "application/pdf");
    let text = pdf_text(&pdf, db.dir());
    assert!(text.contains("成效评估报告"), "{text}");
    assert!(text.contains("2026-05-01 至 2026-05-10"), "{text}");
    assert!(text.contains("电站数"), "{text}");
    for s in stations {
        let code = s["code"].as_str().unwrap();
        let row = text
            .lines()
            .find(|l| l.contains(code) && l.contains(s["grade_zh"].as_str().unwrap()))
            .unwrap_or_else(|| panic!("{code} with its grade: {text}"));
        // A long name wraps inside its cell: its first characters are on the row.
        let name: String = s["name"].as_str().unwrap().chars().take(4).collect();
        assert!(row.contains(&name), "{code}: {name}: {row}");
        for f in s["flags"].as_array().unwrap() {
            // Long reasons wrap inside their cell: their first words are on a line.
            let reason: String = f["reason_zh"].as_str().unwrap().chars().take(8).collect();
            assert!(text.contains(&reason), "{code}: {reason}: {text}");
        }
    }
    // The lost strings' station has its inverter comparison, with the weak inverter.
    assert!(text.contains("逆变器对比"), "{text}");
    assert!(text.contains("INV-PV149901102203-01-3"), "{text}");

    // The workbook: the ranking's rows are the API's, in order, under two-line headers.
    assert_eq!(xstatus, 200);
    assert!(xkind.contains("spreadsheetml"), "{xkind}");
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
    let ranking = book.worksheet_range("排名").unwrap();
    let codes: Vec<String> = ranking
        .rows()
        .filter_map(|r| match &r[1] {
            Data::String(c) if c.starts_with("PV") => Some(c.clone()),
            _ => None,
        })
        .collect();
    let want: Vec<&str> = stations
        .iter()
        .map(|s| s["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, want);
    let flagged = book.worksheet_range("问题电站").unwrap();
    let reasons: Vec<String> = flagged
        .rows()
        .filter_map(|r| match &r[4] {
            Data::String(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    let flags: usize = stations
        .iter()
        .map(|s| s["flags"].as_array().unwrap().len())
        .sum();
    assert!(
        reasons.len() > flags,
        "a header and one row per flag: {reasons:?}"
    );
    assert!(book.sheet_names().iter().any(|n| n == "PV149901102203-01"));
}

/// The packed read (one row per device) returns exactly the rows of the row-at-a-time read.
async fn the_packed_read_returns_the_same_rows_as_reading_row_by_row(db: TestDb) {
    use pvledger::store::Store;
    simulate(&db).await;
    let ledger = db.store.load_ledger().await.unwrap();
    let mut ids: Vec<i64> = ledger.devices.iter().map(|d| d.id).collect();
    ids.sort_unstable();
    let from = chrono::NaiveDate::from_ymd_opt(2025, 5, 1).unwrap();
    let to = chrono::NaiveDate::from_ymd_opt(2026, 5, 10).unwrap();

    let mut packed = db.store.assess_daily_packed(&ids, from, to).await.unwrap();
    let mut rows = match &db.store {
        Store::Sqlite(pool) => {
            pvledger::store::lite::assess::daily_rows(pool, Some(&ids), from, to).await
        }
        Store::Postgres(pool) => {
            pvledger::store::pg::assess::daily_rows(pool, Some(&ids), from, to).await
        }
    }
    .unwrap();

    let key = |r: &pvledger::store::telemetry::AssessDayRow| (r.device_id, r.day);
    packed.sort_by_key(key);
    rows.sort_by_key(key);
    assert!(rows.len() >= 10 * 20, "{} rows", rows.len());
    // Bit for bit, energies included (SQLite's text goes through 17 digits).
    assert_eq!(packed, rows);
    assert!(rows.iter().any(|r| r.energy_kwh.fract() != 0.0));
    // Every other device: on PostgreSQL a list of ids rather than a range.
    let some: Vec<i64> = ids.iter().copied().step_by(2).collect();
    let mut packed = db.store.assess_daily_packed(&some, from, to).await.unwrap();
    packed.sort_by_key(key);
    let wanted: Vec<_> = rows
        .iter()
        .filter(|r| some.contains(&r.device_id))
        .cloned()
        .collect();
    assert!(!wanted.is_empty() && wanted.len() < rows.len());
    assert_eq!(packed, wanted);
    // A period with no data reads nothing.
    let none = db
        .store
        .assess_daily_packed(&ids, to + Duration::days(1), to + Duration::days(9))
        .await
        .unwrap();
    assert!(none.is_empty());
}

/// Without the Chinese font the CSV and XLSX files are still written; exit 2 says where the
/// font was looked for and the key to set.
async fn a_missing_font_still_writes_the_tables_and_names_the_package(db: TestDb) {
    simulate(&db).await;
    let dir = db.dir().join("export");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pvledger"))
        .args([
            "assess",
            "--from",
            "2026-05-01",
            "--to",
            "2026-05-10",
            "--export",
        ])
        .arg(&dir)
        .env("PVLEDGER__DATABASE__URL", &db.url)
        .env("PVLEDGER__MQTT__EMBEDDED_LISTEN", "")
        .env("PVLEDGER__MODBUS__ENABLED", "false")
        .env(
            "PVLEDGER__REPORT__FONT_PATH",
            "/nonexistent/NotoSansCJK-Regular.ttc",
        )
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("report.font_path"), "{stderr}");
    assert!(dir.join("assessment.xlsx").exists());
    assert!(dir.join("assessment_ranking.csv").exists());
    assert!(
        !dir.join("assessment_149901_2026-05-01_2026-05-10.pdf")
            .exists()
    );
}

/// Two years of daily rollups, written straight into the store: every inverter yields the
/// same seasonal pattern both years, except that one station's inverters yield 3 % less in
/// the second. The assessment of the second year must measure about -3 %/year for that
/// station alone and flag it for degradation (threshold 1 %/year), with the rate as evidence.
async fn a_station_losing_three_percent_a_year_is_flagged_for_degradation(db: TestDb) {
    use pvledger::store::Store;
    const DEGRADING: &str = "PV149901102201-01";
    pvledger::ledger::import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let sql = "SELECT id, station_code FROM devices WHERE kind = 'inverter' ORDER BY id";
    let inverters: Vec<(i64, String)> = match &db.store {
        Store::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
    };
    let first = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let mut rows = Vec::new();
    for day in first.iter_days().take(730) {
        let season = 0.6 + 0.4 * (std::f64::consts::PI * f64::from(day.ordinal0()) / 365.0).sin();
        for (id, station) in &inverters {
            let loss = if station == DEGRADING && day.year() == 2026 {
                0.97
            } else {
                1.0
            };
            // Every reading of the day arrived, and the daylight hours 06-18 produced.
            rows.push((*id, day, 40.0 * season * loss, 1_440_i32, 0x7_FFC0_i32));
        }
    }
    macro_rules! insert {
        ($pool:expr, $db:ty) => {{
            let mut tx = $pool.begin().await.unwrap();
            for chunk in rows.chunks(500) {
                let mut q: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new(
                    "INSERT INTO energy_daily (device_id, day, energy_kwh, samples, bad_intervals, data_hours, producing_hours) ",
                );
                q.push_values(chunk, |mut b, (id, day, kwh, samples, mask)| {
                    b.push_bind(*id)
                        .push_bind(*day)
                        .push_bind(*kwh)
                        .push_bind(*samples)
                        .push_bind(0_i32)
                        .push_bind(*mask)
                        .push_bind(*mask);
                });
                q.build().execute(&mut *tx).await.unwrap();
            }
            tx.commit().await.unwrap();
        }};
    }
    match &db.store {
        Store::Sqlite(p) => insert!(p, sqlx::Sqlite),
        Store::Postgres(p) => insert!(p, sqlx::Postgres),
    }
    let app = TestApp::spawn(&db).await;

    let (status, body) = app
        .get("/api/v1/assessments?from=2026-01-01&to=2026-12-31&county=149901")
        .await;

    assert_eq!(status, 200, "{body}");
    for s in body["stations"].as_array().unwrap() {
        let code = s["code"].as_str().unwrap();
        let flagged = flags_of(s).iter().any(|f| f == "degradation");
        let rate = s["degradation_percent_per_year"].as_f64();
        if code == DEGRADING {
            let rate = rate.unwrap_or_else(|| panic!("{code}: no rate: {s:#}"));
            assert!((rate + 3.0).abs() < 0.3, "{code}: {rate} %/year");
            assert!(s["degradation_pairs"].as_u64().unwrap() >= 300, "{s:#}");
            assert!(flagged, "{code} is not flagged: {s:#}");
            let flag = s["flags"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["kind"] == "degradation")
                .unwrap();
            assert!(!flag["reason_zh"].as_str().unwrap().is_empty());
        } else {
            // Stations without inverters have no rate; the others lose nothing.
            if let Some(rate) = rate {
                assert!(rate.abs() < 0.3, "{code}: {rate} %/year");
            }
            assert!(!flagged, "{code} is flagged for degradation: {s:#}");
        }
    }
}

both_backends!(
    a_station_losing_three_percent_a_year_is_flagged_for_degradation,
    the_pdf_report_and_the_workbook_show_stations_grades_and_reasons,
    the_packed_read_returns_the_same_rows_as_reading_row_by_row,
    a_missing_font_still_writes_the_tables_and_names_the_package,
    exactly_the_injected_underperformers_are_flagged_with_their_reasons,
    the_export_writes_csv_with_a_bom_and_a_workbook,
    the_command_prints_the_ranking_and_refuses_a_reversed_period,
);
