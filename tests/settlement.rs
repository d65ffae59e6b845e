//! A month's settlement end to end on both backends, with figures worked out by hand:
//! grid statements and use plans in, station lines, village shares and uses out; the
//! draft -> reviewed -> approved lifecycle; CSV exports that tie.

mod common;

use common::{TestApp, TestDb, example_dir, write_dir};
use pvledger::ledger::import_dir;
use pvledger::settlement::period::Period;
use pvledger::settlement::plan::PlanRules;
use pvledger::settlement::run::{self, SettleError};
use pvledger::settlement::{export, grid, plans, subsidy, terms};
use rust_decimal::Decimal;

const VILLAGE_STATION: &str = "PV149901101201-01";
const JOINT: &str = "PVJ149901-01";

/// Grid statements for October 2026: 30 000 kWh for the village station, 500 000 kWh for
/// the joint station, 10 000 kWh for every other station.
async fn load_inputs(db: &TestDb) {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let ledger = db.store.load_ledger().await.unwrap();
    let mut csv = String::from("station_code,period,export_kwh\n");
    for s in &ledger.stations {
        let kwh = match s.code.as_str() {
            VILLAGE_STATION => "30000",
            JOINT => "500000",
            _ => "10000",
        };
        csv.push_str(&format!("{},2026-10,{kwh}\n", s.code));
    }
    let mut plan_csv = String::from("village_code,year,jobs,works,rewards\n");
    for v in ledger
        .areas
        .iter()
        .filter(|a| a.level == pvledger::ledger::model::AreaLevel::Village)
    {
        plan_csv.push_str(&format!("{},2026,80,15,5\n", v.code));
    }
    let dir = write_dir(
        db.dir(),
        "inputs",
        &[
            ("grid.csv", csv.as_bytes()),
            ("plans.csv", plan_csv.as_bytes()),
        ],
    );
    grid::import_file(&db.store, &dir.join("grid.csv"), "finance")
        .await
        .unwrap();
    let rules = PlanRules {
        jobs_floor_percent: Decimal::from(80),
        other_allowed: false,
    };
    plans::import_file(&db.store, &dir.join("plans.csv"), &rules, "finance")
        .await
        .unwrap();
}

fn fen(lines: &[(String, String, i64)], village: &str, use_code: &str) -> i64 {
    lines
        .iter()
        .find(|(v, u, _)| v == village && u == use_code)
        .map(|(_, _, a)| *a)
        .unwrap()
}

async fn a_month_settles_to_the_fen_and_ties(db: TestDb) {
    load_inputs(&db).await;
    let period = Period::new(2026, 10).unwrap();

    // Default county rule: "received". No subsidy has arrived, so income = benchmark part.
    let (row, c) = run::settle(&db.store, &db.config.settlement, None, period, "finance")
        .await
        .unwrap();

    assert_eq!(row.status, "draft");
    let vs = c
        .stations
        .iter()
        .find(|s| s.station_code == VILLAGE_STATION)
        .unwrap();
    // 30 000 kWh x 0.3320 = 9 960.00 元; no deductions configured.
    assert_eq!(vs.benchmark_income_fen, 996_000);
    // Accrued subsidy is recorded all the same: 30 000 x (0.98 - 0.332) = 19 440.00.
    assert_eq!(vs.subsidy_accrued_fen, 1_944_000);
    assert_eq!(vs.distributable_fen, 996_000);
    // The joint station: 500 000 x 0.332 = 166 000.00, split 0.20/0.18/0.17/0.16/0.15/0.14.
    let joint: Vec<i64> = c
        .villages
        .iter()
        .filter(|v| v.station_code == JOINT)
        .map(|v| v.amount_fen)
        .collect();
    let mut sorted = joint.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            2_324_000, 2_490_000, 2_656_000, 2_822_000, 2_988_000, 3_320_000
        ]
    );
    // Village 149901101201 gets all of its own station: 80/15/5 of 9 960.00 plus its part of the joint station.
    let uses: Vec<(String, String, i64)> = c
        .uses
        .iter()
        .map(|u| (u.village_code.clone(), u.use_code.to_owned(), u.amount_fen))
        .collect();
    let own: i64 = c
        .villages
        .iter()
        .filter(|v| v.village_code == "149901101201")
        .map(|v| v.amount_fen)
        .sum();
    assert_eq!(
        fen(&uses, "149901101201", "jobs")
            + fen(&uses, "149901101201", "works")
            + fen(&uses, "149901101201", "rewards"),
        own
    );
    assert_eq!(fen(&uses, "149901101201", "jobs"), own * 80 / 100);
    // Everything ties: stations = villages = uses.
    let villages: i64 = c.villages.iter().map(|v| v.amount_fen).sum();
    let all_uses: i64 = c.uses.iter().map(|u| u.amount_fen).sum();
    assert_eq!(
        (villages, all_uses),
        (c.distributable_fen, c.distributable_fen)
    );

    // The CSV contract, with BOM for Excel.
    let lines = export::load(&db.store, row.id).await.unwrap();
    let files = export::render(&row, &lines);
    let stations_csv = String::from_utf8(files[0].1.clone()).unwrap();
    assert!(stations_csv.starts_with("\u{feff}period,station_code,energy_kwh,energy_source,benchmark_price,subsidy_price,benchmark_income,subsidy_accrued,subsidy_received,deductions,carried_deficit,distributable\n"));
    assert!(stations_csv.contains("2026-10,PV149901101201-01,30000,grid,0.3320,0.6480,9960.00,19440.00,0.00,0.00,0.00,9960.00\n"), "{stations_csv}");
}

async fn settlements_move_from_draft_to_approved_and_then_cannot_change(db: TestDb) {
    load_inputs(&db).await;
    let period = Period::new(2026, 10).unwrap();
    let (first, _) = run::settle(&db.store, &db.config.settlement, None, period, "finance")
        .await
        .unwrap();
    // Recomputing a draft replaces it.
    let (draft, _) = run::settle(&db.store, &db.config.settlement, None, period, "finance")
        .await
        .unwrap();
    assert_ne!(first.id, draft.id);

    let reviewed = run::advance(&db.store, draft.id, "review", "auditor")
        .await
        .unwrap();
    assert_eq!(reviewed.status, "reviewed");
    let locked = run::settle(&db.store, &db.config.settlement, None, period, "finance")
        .await
        .unwrap_err();
    assert!(matches!(locked, SettleError::Locked { .. }), "{locked}");
    let approved = run::advance(&db.store, draft.id, "approve", "director")
        .await
        .unwrap();
    assert_eq!(approved.status, "approved");
    let again = run::advance(&db.store, draft.id, "review", "auditor")
        .await
        .unwrap_err();
    assert!(matches!(again, SettleError::WrongStatus { .. }), "{again}");

    let audit = db.store.audit_recent(50).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    for a in [
        "settlement.compute",
        "settlement.review",
        "settlement.approve",
        "grid.import",
        "plan.import",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
}

async fn missing_inputs_are_all_listed_and_nothing_is_stored(db: TestDb) {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let err = run::settle(
        &db.store,
        &db.config.settlement,
        None,
        Period::new(2026, 10).unwrap(),
        "finance",
    )
    .await
    .unwrap_err();
    let SettleError::Invalid(problems) = err else {
        panic!("{err}")
    };
    // 11 stations without energy (no statements, no telemetry for that month).
    assert_eq!(
        problems
            .iter()
            .filter(|p| p.contains("has no energy"))
            .count(),
        11,
        "{problems:#?}"
    );
}

async fn a_subsidy_receipt_pays_the_oldest_months_first_and_reaches_villages_when_it_arrives(
    db: TestDb,
) {
    load_inputs(&db).await;
    let oct = Period::new(2026, 10).unwrap();
    let (_, c_oct) = run::settle(&db.store, &db.config.settlement, None, oct, "finance")
        .await
        .unwrap();
    let owed_oct: i64 = c_oct.stations.iter().map(|s| s.subsidy_accrued_fen).sum();
    // The village station accrued 30 000 x 0.648 = 19 440.00 元 of subsidy in October.
    let vs_owed = c_oct
        .stations
        .iter()
        .find(|s| s.station_code == VILLAGE_STATION)
        .unwrap()
        .subsidy_accrued_fen;
    assert_eq!(vs_owed, 1_944_000);

    // Half of October's subsidy arrives on 5 November: split in proportion to what is owed.
    let half = owed_oct / 2;
    let amount = format!("{}.{:02}", half / 100, half % 100);
    let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 5).unwrap();
    let r = subsidy::receive(
        &db.store,
        "149901",
        &amount,
        date,
        "晋财建〔2026〕88号",
        "finance",
    )
    .await
    .unwrap();
    let paid: Decimal = r.payments.iter().map(|(_, _, d)| d.0).sum();
    assert_eq!(
        paid + r.credit.0,
        amount.parse::<Decimal>().unwrap(),
        "payments and credit tie to the receipt"
    );
    assert!(r.credit.0.is_zero());
    let vs_paid = r
        .payments
        .iter()
        .find(|(s, _, _)| s == VILLAGE_STATION)
        .unwrap()
        .2
        .0;
    assert_eq!(
        vs_paid,
        "9720.00".parse::<Decimal>().unwrap(),
        "half of 19 440.00"
    );

    // A second, larger receipt pays October off and leaves a credit.
    let rest = owed_oct - half + 12_345;
    let amount2 = format!("{}.{:02}", rest / 100, rest % 100);
    let r2 = subsidy::receive(
        &db.store,
        "149901",
        &amount2,
        date,
        "晋财建〔2026〕89号",
        "finance",
    )
    .await
    .unwrap();
    assert_eq!(r2.credit.0, "123.45".parse::<Decimal>().unwrap());

    // In November (received mode) the subsidy that arrived is income and reaches the villages.
    let mut csv = String::from("station_code,period,export_kwh\n");
    for s in &c_oct.stations {
        csv.push_str(&format!("{},2026-11,0\n", s.station_code));
    }
    let dir = write_dir(db.dir(), "nov", &[("grid.csv", csv.as_bytes())]);
    grid::import_file(&db.store, &dir.join("grid.csv"), "finance")
        .await
        .unwrap();
    let (_, c_nov) = run::settle(
        &db.store,
        &db.config.settlement,
        None,
        Period::new(2026, 11).unwrap(),
        "finance",
    )
    .await
    .unwrap();
    let vs = c_nov
        .stations
        .iter()
        .find(|s| s.station_code == VILLAGE_STATION)
        .unwrap();
    assert_eq!(
        vs.subsidy_received_fen, vs_owed,
        "both receipts arrived in November"
    );
    assert_eq!(
        vs.distributable_fen, vs_owed,
        "no energy in November: the subsidy is all the income"
    );
    let total: i64 = c_nov.stations.iter().map(|s| s.subsidy_received_fen).sum();
    assert_eq!(total, owed_oct);
}

/// The finance workflow over the API, as roles: a technician may not touch money, finance
/// runs, reviews and approves, a village committee reads its own approved part only, and
/// every action is in the audit log under the user's name.
async fn finance_settles_a_month_over_the_api(db: TestDb) {
    load_inputs(&db).await;
    let app = TestApp::spawn(&db).await;
    let url = |p: &str| format!("{}{p}", app.base);
    let finance = app.client_as(&db.store, "finance", None).await;
    let technician = app.client_as(&db.store, "technician", None).await;
    let village = app
        .client_as(&db.store, "village", Some("149901101201"))
        .await;
    let body = serde_json::json!({"period": "2026-10"});

    let r = technician
        .post(url("/api/v1/settlements"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = reqwest::Client::new()
        .post(url("/api/v1/settlements"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = finance
        .post(url("/api/v1/settlements"))
        .json(&serde_json::json!({"period": "2026-13"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let err: serde_json::Value = r.json().await.unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2026-13"),
        "{err}"
    );

    let r = finance
        .post(url("/api/v1/settlements"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: serde_json::Value = r.json().await.unwrap();
    let id = created["settlement"]["id"].as_i64().unwrap();
    assert_eq!(created["settlement"]["status"], "draft");
    let line = created["stations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["station_code"] == VILLAGE_STATION)
        .unwrap();
    // 30 000 kWh x 0.3320 = 9 960.00 元 (see a_month_settles_to_the_fen_and_ties).
    assert_eq!(line["distributable_yuan"], "9960.00");

    // The village may not read a draft, nor another village, nor the whole settlement.
    let own = format!("/api/v1/settlements/{id}/villages/149901101201");
    assert_eq!(village.get(url(&own)).send().await.unwrap().status(), 404);
    for (path, status) in [
        (format!("/api/v1/settlements/{id}/review"), 200),
        (format!("/api/v1/settlements/{id}/review"), 409),
        (format!("/api/v1/settlements/{id}/approve"), 200),
    ] {
        let r = finance.post(url(&path)).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
    }
    let r = finance
        .post(url("/api/v1/settlements"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "an approved month cannot be recomputed");

    let part: serde_json::Value = village
        .get(url(&own))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let uses: Vec<(&str, &str)> = part["uses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["use_code"].as_str().unwrap(),
                u["amount_yuan"].as_str().unwrap(),
            )
        })
        .collect();
    // All of its own station's 9 960.00 (it has no part of the joint station), split
    // 80/15/5: 7 968.00 / 1 494.00 / 498.00.
    assert_eq!(
        uses,
        [
            ("jobs", "7968.00"),
            ("rewards", "498.00"),
            ("works", "1494.00")
        ]
    );
    // The village prints its own statement: a real PDF whose text names it and its total.
    let pdf = village
        .get(url(&format!("{own}.pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let bytes = pdf.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    let file = db.dir().join("statement.pdf");
    std::fs::write(&file, &bytes).unwrap();
    let text = std::process::Command::new("pdftotext")
        .args([file.to_str().unwrap(), "-"])
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("东川村") && text.contains("9,960.00"),
        "{text}"
    );
    let other_pdf = format!("/api/v1/settlements/{id}/villages/149901102201.pdf");
    assert_eq!(
        village.get(url(&other_pdf)).send().await.unwrap().status(),
        403
    );
    // Finance downloads the workbook; a technician may not.
    let xlsx = format!("/api/v1/settlements/{id}/export.xlsx");
    let r = finance.get(url(&xlsx)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.bytes().await.unwrap().starts_with(b"PK"),
        "a zip container"
    );
    assert_eq!(
        technician.get(url(&xlsx)).send().await.unwrap().status(),
        403
    );
    let other = format!("/api/v1/settlements/{id}/villages/149901102201");
    assert_eq!(village.get(url(&other)).send().await.unwrap().status(), 403);
    let whole = format!("/api/v1/settlements/{id}");
    assert_eq!(village.get(url(&whole)).send().await.unwrap().status(), 403);
    assert_eq!(finance.get(url(&whole)).send().await.unwrap().status(), 200);

    // A subsidy receipt over the API pays October's accrued subsidy first.
    let r = finance
        .post(url("/api/v1/subsidy/receipts"))
        .json(&serde_json::json!({"amount": "12.345", "date": "2026-11-20", "reference": "x", "county": "149901"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "three decimals are refused");
    let r = finance
        .post(url("/api/v1/subsidy/receipts"))
        .json(&serde_json::json!({"amount": "19440.00", "date": "2026-11-20", "reference": "晋财建〔2026〕88号", "county": "149901"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let receipt: serde_json::Value = r.json().await.unwrap();
    assert_eq!(receipt["credit"], "0.00");

    let audit: serde_json::Value = finance
        .get(url("/api/v1/audit?limit=20"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = audit["entries"].as_array().unwrap();
    for action in [
        "settlement.compute",
        "settlement.review",
        "settlement.approve",
        "subsidy.receive",
    ] {
        let e = entries
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("{action} not audited"));
        assert!(
            e["actor"]
                .as_str()
                .unwrap()
                .starts_with("user:test-finance"),
            "{e}"
        );
    }
    assert_eq!(
        technician
            .get(url("/api/v1/audit"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
}

/// Statements of `period` as in [`load_inputs`], with `village_kwh` for the village station.
async fn statements(db: &TestDb, name: &str, period: &str, village_kwh: &str) {
    let ledger = db.store.load_ledger().await.unwrap();
    let mut csv = String::from("station_code,period,export_kwh\n");
    for s in &ledger.stations {
        let kwh = match s.code.as_str() {
            VILLAGE_STATION => village_kwh,
            JOINT => "500000",
            _ => "10000",
        };
        csv.push_str(&format!("{},{period},{kwh}\n", s.code));
    }
    let dir = write_dir(db.dir(), name, &[("grid.csv", csv.as_bytes())]);
    grid::import_file(&db.store, &dir.join("grid.csv"), "finance")
        .await
        .unwrap();
}

/// October is approved; its grid statement is corrected afterwards (30 000 -> 31 000 kWh).
/// November carries the difference, 1 000 x 0.3320 = 332.00 元, as an adjustment line
/// naming October; recomputing November's draft does not double it; once November is
/// approved, December carries nothing more. November also applies the village station's
/// own land rent (12 000 元/year from 2026-11-01 = 1 000.00 a month), which October does not.
async fn a_correction_of_an_approved_month_is_carried_once_in_the_next(db: TestDb) {
    load_inputs(&db).await;
    let settle = |p: Period| run::settle(&db.store, &db.config.settlement, None, p, "finance");
    let (oct, _) = settle(Period::new(2026, 10).unwrap()).await.unwrap();
    run::advance(&db.store, oct.id, "review", "a")
        .await
        .unwrap();
    run::advance(&db.store, oct.id, "approve", "b")
        .await
        .unwrap();

    statements(&db, "late", "2026-10", "31000").await;
    statements(&db, "nov", "2026-11", "10000").await;
    let terms = "电站编码,生效日期,土地租金(元/年)\nPV149901101201-01,2026-11-01,12000\n";
    let dir = write_dir(db.dir(), "terms", &[("terms.csv", terms.as_bytes())]);
    let report = terms::import_file(&db.store, &dir.join("terms.csv"), "finance")
        .await
        .unwrap();
    assert_eq!(report.new, 1);

    let nov = Period::new(2026, 11).unwrap();
    settle(nov).await.unwrap();
    let (row, c) = settle(nov).await.unwrap(); // a recomputed draft replaces the first
    let lines = export::load(&db.store, row.id).await.unwrap();
    assert_eq!(lines.adjustments.len(), 1, "{:#?}", lines.adjustments);
    let a = &lines.adjustments[0];
    assert_eq!(
        (a.original_settlement_id, a.original_period.as_str()),
        (oct.id, "2026-10")
    );
    assert_eq!(
        (a.station_code.as_str(), a.village_code.as_str()),
        (VILLAGE_STATION, "149901101201")
    );
    assert_eq!(a.amount_yuan.0, Decimal::new(33_200, 2));
    assert!(
        a.reason.contains("30000 kWh (grid) → 31000 kWh (grid)"),
        "{}",
        a.reason
    );
    assert_eq!(row.adjustments_yuan.0, Decimal::new(33_200, 2));
    let vs = c
        .stations
        .iter()
        .find(|s| s.station_code == VILLAGE_STATION)
        .unwrap();
    // 10 000 x 0.3320 = 3 320.00 less the rent 1 000.00.
    assert_eq!(vs.deductions_fen, 100_000);
    assert_eq!(vs.distributable_fen, 232_000);
    // The village's uses this month: 2 320.00 + 332.00 = 2 652.00, 80/15/5.
    let uses: Vec<i64> = lines
        .uses
        .iter()
        .filter(|u| u.village_code == "149901101201")
        .map(|u| pvledger::settlement::money::to_fen(u.amount_yuan.0).unwrap())
        .collect();
    assert_eq!(uses.iter().sum::<i64>(), 265_200);
    let all: i64 = c.uses.iter().map(|u| u.amount_fen).sum();
    assert_eq!(all, c.distributable_fen + c.adjustments_fen, "uses tie");
    // The exported CSV names the original.
    let files = export::render(&row, &lines);
    let csv = String::from_utf8(files[3].1.clone()).unwrap();
    assert!(
        csv.contains(&format!(
            "2026-11,{},2026-10,{VILLAGE_STATION},149901101201,",
            oct.id
        )),
        "{csv}"
    );

    run::advance(&db.store, row.id, "review", "a")
        .await
        .unwrap();
    run::advance(&db.store, row.id, "approve", "b")
        .await
        .unwrap();
    statements(&db, "dec", "2026-12", "10000").await;
    let (dec, c) = settle(Period::new(2026, 12).unwrap()).await.unwrap();
    assert_eq!(
        c.adjustments_fen, 0,
        "October's correction was carried once"
    );
    assert!(
        export::load(&db.store, dec.id)
            .await
            .unwrap()
            .adjustments
            .is_empty()
    );
    let audit = db.store.audit_recent(20).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "deductions.import"));
}

both_backends!(
    a_correction_of_an_approved_month_is_carried_once_in_the_next,
    finance_settles_a_month_over_the_api,
    a_subsidy_receipt_pays_the_oldest_months_first_and_reaches_villages_when_it_arrives,
    a_month_settles_to_the_fen_and_ties,
    settlements_move_from_draft_to_approved_and_then_cannot_change,
    missing_inputs_are_all_listed_and_nothing_is_stored,
);
