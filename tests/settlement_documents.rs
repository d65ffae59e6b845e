//! The settlement's documents on both backends: the XLSX workbook holds the figures the
//! CSV files hold and its sums tie; each village's PDF statement carries its name, amounts
//! per use, total in figures and in capitals as real text with the font embedded; drafts
//! are marked; `pvledger settle --export` writes all of them.

mod common;

use std::io::Cursor;
use std::path::Path;
use std::process::Command;

use calamine::{Data, Reader, Xlsx};
use common::{TestDb, example_dir, write_dir};
use pvledger::ledger::import_dir;
use pvledger::ledger::model::AreaLevel;
use pvledger::report::font;
use pvledger::settlement::export::{self, Lines};
use pvledger::settlement::names::Names;
use pvledger::settlement::period::Period;
use pvledger::settlement::plan::PlanRules;
use pvledger::settlement::store_types::SettlementRow;
use pvledger::settlement::{grid, plans, run, statement, workbook};
use rust_decimal::Decimal;

const OWN_VILLAGE: &str = "149901101201";
const JOINT: &str = "PVJ149901-01";

/// The example county with October 2026 statements (30 000 kWh for the village's own
/// station, 500 000 kWh for the joint station, 10 000 kWh elsewhere) and 80/15/5 plans,
/// settled as a draft.
async fn settled(db: &TestDb) -> (SettlementRow, Lines, Names) {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let ledger = db.store.load_ledger().await.unwrap();
    let mut csv = String::from("station_code,period,export_kwh\n");
    for s in &ledger.stations {
        let kwh = match s.code.as_str() {
            "PV149901101201-01" => "30000",
            JOINT => "500000",
            _ => "10000",
        };
        csv.push_str(&format!("{},2026-10,{kwh}\n", s.code));
    }
    let mut plan_csv = String::from("village_code,year,jobs,works,rewards\n");
    for v in ledger
        .areas
        .iter()
        .filter(|a| a.level == AreaLevel::Village)
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
    let period = Period::new(2026, 10).unwrap();
    let (row, _) = run::settle(&db.store, &db.config.settlement, None, period, "finance")
        .await
        .unwrap();
    let lines = export::load(&db.store, row.id).await.unwrap();
    (row, lines, Names::from_ledger(&ledger))
}

fn cell_text(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Float(f) => format!("{f}"),
        Data::Int(i) => i.to_string(),
        Data::Empty => String::new(),
        other => format!("{other:?}"),
    }
}

fn number(d: &Data) -> f64 {
    match d {
        Data::Float(f) => *f,
        Data::Int(i) => *i as f64,
        other => panic!("expected a number, found {other:?}"),
    }
}

/// A money cell shown to the fen, as the CSV writes it.
fn fen_text(d: &Data) -> String {
    format!("{:.2}", number(d))
}

/// CSV rows without the BOM and the header.
fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    text.trim_start_matches('\u{feff}')
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

async fn the_workbook_holds_the_csv_figures_and_its_sums_tie(db: TestDb) {
    let (row, lines, names) = settled(&db).await;
    let csv = export::render(&row, &lines);

    let bytes = workbook::render(&row, &lines, &names, &[]).unwrap();
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).unwrap();

    assert_eq!(
        book.sheet_names(),
        workbook::SHEETS.map(String::from).to_vec()
    );

    // 电站: every CSV line, figure for figure, with the station's Chinese name beside it.
    let stations = book.worksheet_range("电站").unwrap();
    assert_eq!(cell_text(&stations[(0, 0)]), "电站编码\nstation_code");
    let csv_stations = csv_rows(&csv[0].1);
    assert_eq!(stations.height() - 1, csv_stations.len());
    for c in &csv_stations {
        let r = stations
            .rows()
            .find(|r| cell_text(&r[0]) == c[1])
            .unwrap_or_else(|| panic!("station {} missing from the sheet", c[1]));
        assert!(!cell_text(&r[1]).is_empty(), "no name for {}", c[1]);
        assert_eq!(
            number(&r[2]),
            c[2].parse::<f64>().unwrap(),
            "energy of {}",
            c[1]
        );
        // benchmark income, subsidy accrued, received, deductions, deficit, distributable.
        for (sheet_col, csv_col) in [(6, 6), (7, 7), (8, 8), (9, 9), (10, 10), (11, 11)] {
            assert_eq!(
                fen_text(&r[sheet_col]),
                c[csv_col],
                "{} column {csv_col}",
                c[1]
            );
        }
    }
    let own = stations
        .rows()
        .find(|r| cell_text(&r[0]) == "PV149901101201-01")
        .unwrap();
    // 30 000 kWh x 0.332 = 9 960.00 元, named as in the ledger.
    assert_eq!(fen_text(&own[11]), "9960.00");
    assert_eq!(cell_text(&own[1]), names.station("PV149901101201-01"));

    // 村 and 用途: the CSV amounts line by line, and both sum to the total distributable.
    let total: f64 = csv_stations
        .iter()
        .map(|c| c[11].parse::<f64>().unwrap())
        .sum();
    for (sheet, file, amount_col) in [("村", 1usize, 6usize), ("用途", 2, 5)] {
        let range = book.worksheet_range(sheet).unwrap();
        let rows = csv_rows(&csv[file].1);
        assert_eq!(range.height() - 1, rows.len(), "{sheet}");
        let mut sum_fen = 0i64;
        for (r, c) in range.rows().skip(1).zip(&rows) {
            assert_eq!(cell_text(&r[0]), c[1], "{sheet}: village code");
            assert_eq!(
                fen_text(&r[amount_col]),
                c[4],
                "{sheet}: amount of {}",
                c[1]
            );
            sum_fen += (number(&r[amount_col]) * 100.0).round() as i64;
        }
        assert_eq!(sum_fen, (total * 100.0).round() as i64, "{sheet} ties");
    }
    let villages = book.worksheet_range("村").unwrap();
    assert!(
        villages
            .rows()
            .any(|r| cell_text(&r[0]) == OWN_VILLAGE && cell_text(&r[1]) == names.area(OWN_VILLAGE))
    );

    // 汇总: the total, in figures and capitals, and the tie check.
    let summary = book.worksheet_range("汇总").unwrap();
    let value = |label: &str| {
        summary
            .rows()
            .find(|r| cell_text(&r[0]).starts_with(label))
            .unwrap_or_else(|| panic!("{label} missing"))[1]
            .clone()
    };
    assert_eq!(fen_text(&value("可分配合计")), format!("{total:.2}"));
    assert_eq!(fen_text(&value("分到各村合计")), format!("{total:.2}"));
    assert_eq!(fen_text(&value("各用途合计")), format!("{total:.2}"));
    assert_eq!(
        cell_text(&value("合计（大写）")),
        pvledger::settlement::capital::capital(row.distributable_yuan.0).unwrap()
    );
    assert!(cell_text(&value("状态")).starts_with("草稿"));

    // 对账: the grid figure per station; 调整: headers only, no adjustments yet.
    let rec = book.worksheet_range("对账").unwrap();
    let joint = rec.rows().find(|r| cell_text(&r[0]) == JOINT).unwrap();
    assert_eq!(number(&joint[2]), 500_000.0);
    let adj = book.worksheet_range("调整").unwrap();
    assert_eq!(adj.height(), 1);
    let headers: Vec<String> = adj.rows().next().unwrap().iter().map(cell_text).collect();
    assert_eq!(
        headers
            .iter()
            .map(|h| h.split('\n').next().unwrap())
            .collect::<Vec<_>>(),
        ["原结算", "原期间", "电站", "村", "原因", "金额(元)"]
    );
}

async fn a_adjustment_line_fills_the_adjustments_sheet(db: TestDb) {
    let (row, lines, names) = settled(&db).await;
    let adj = workbook::AdjustmentLine {
        original_settlement_id: 3,
        original_period: "2026-09".into(),
        station_code: JOINT.into(),
        village_code: Some(OWN_VILLAGE.into()),
        reason: "补报电网结算单 (late grid statement)".into(),
        amount_yuan: "-12.34".parse().unwrap(),
    };
    let bytes = workbook::render(&row, &lines, &names, &[adj]).unwrap();
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range("调整").unwrap();
    let r: Vec<String> = sheet.rows().nth(1).unwrap().iter().map(cell_text).collect();
    assert_eq!(
        r[..5],
        [
            "3",
            "2026-09",
            JOINT,
            OWN_VILLAGE,
            "补报电网结算单 (late grid statement)"
        ]
    );
    assert_eq!(fen_text(&sheet.rows().nth(1).unwrap()[5]), "-12.34");
}

/// Text of a PDF as pdftotext extracts it (layout kept, so a row stays on one line).
fn pdf_text(path: &Path) -> String {
    let out = Command::new("pdftotext")
        .args(["-layout", path.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) is installed by scripts/test");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

fn pdf_fonts(path: &Path) -> String {
    let out = Command::new("pdffonts").arg(path).output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle} in\n{text}"))
}

async fn each_village_statement_is_searchable_text_with_its_figures(db: TestDb) {
    let (row, lines, names) = settled(&db).await;
    let fonts = font::load(&db.config.report.font_path, db.config.report.font_index)
        .expect("fonts-noto-cjk is installed by scripts/test");
    let st = statement::Statement::build(&row, &lines, &names, OWN_VILLAGE).unwrap();
    let path = db.dir().join("own.pdf");
    std::fs::write(&path, statement::render(&st, &fonts).unwrap()).unwrap();
    let text = pdf_text(&path);

    // The village's own station (9 960.00) plus its share of the joint station.
    let own: Decimal = lines
        .villages
        .iter()
        .filter(|v| v.village_code == OWN_VILLAGE)
        .map(|v| v.amount_yuan.0)
        .sum();
    assert_eq!(st.total, own);
    assert!(text.contains("村级光伏收益分配公示"), "{text}");
    assert!(text.contains(names.area(OWN_VILLAGE)), "{text}");
    assert!(text.contains(OWN_VILLAGE));
    assert!(text.contains("2026年10月"));
    for u in &lines.uses {
        if u.village_code == OWN_VILLAGE {
            let zh = pvledger::settlement::plan::Use::from_code(&u.use_code)
                .unwrap()
                .zh();
            let l = line_with(&text, &format!("{zh} ("));
            assert!(l.contains(&statement::money(u.amount_yuan.0)), "{zh}: {l}");
        }
    }
    assert!(line_with(&text, "其他 (").contains("0.00"));
    let figures = statement::money(own);
    assert!(
        text.contains(&format!("合计金额（小写）：¥{figures} 元")),
        "{text}"
    );
    let capital = pvledger::settlement::capital::capital(own).unwrap();
    assert!(
        text.contains(&format!("合计金额（大写）：人民币{capital}")),
        "{text}"
    );
    for station in lines
        .villages
        .iter()
        .filter(|v| v.village_code == OWN_VILLAGE)
    {
        let l = line_with(&text, &station.station_code);
        assert!(l.contains(&statement::money(station.amount_yuan.0)), "{l}");
    }
    // A draft says so; signatures and stamps have their places.
    assert!(text.contains("不得公示"), "{text}");
    for who in [
        "村民委员会",
        "乡镇人民政府",
        "县财政局 / 乡村振兴局",
        "（盖章）",
        "公示期",
    ] {
        assert!(text.contains(who), "{who} missing");
    }
    // The font is embedded and subset (a "+" tag before its name), with a Unicode map.
    let fonts_out = pdf_fonts(&path);
    let noto = line_with(&fonts_out, "NotoSansCJK");
    assert!(noto.contains('+'), "{fonts_out}");
    let flags: Vec<&str> = noto.split_whitespace().rev().take(5).collect();
    assert_eq!(
        flags[2..],
        ["yes", "yes", "yes"],
        "uni, sub, emb: {fonts_out}"
    );
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(
        size < 300_000,
        "subset font keeps the file small, got {size} bytes"
    );

    // Once approved, the statement is no longer marked.
    run::advance(&db.store, row.id, "review", "finance")
        .await
        .unwrap();
    let approved = run::advance(&db.store, row.id, "approve", "finance")
        .await
        .unwrap();
    let st = statement::Statement::build(&approved, &lines, &names, OWN_VILLAGE).unwrap();
    std::fs::write(&path, statement::render(&st, &fonts).unwrap()).unwrap();
    let text = pdf_text(&path);
    assert!(
        !text.contains("不得公示") && !text.contains("草稿"),
        "{text}"
    );
    assert!(text.contains("已批准"));

    // A village outside the settlement is refused by name.
    let err = statement::Statement::build(&approved, &lines, &names, "999999999999").unwrap_err();
    assert!(err.to_string().contains("999999999999"));
}

async fn settle_export_writes_the_workbook_and_one_statement_per_village(db: TestDb) {
    let (row, lines, _) = settled(&db).await;
    let out = db.dir().join("export");
    let output = Command::new(env!("CARGO_BIN_EXE_pvledger"))
        .args([
            "settle",
            "--period",
            "2026-10",
            "--export",
            out.to_str().unwrap(),
        ])
        .env("PVLEDGER__DATABASE__URL", &db.url)
        .env("PVLEDGER__MQTT__EMBEDDED_LISTEN", "")
        .env("PVLEDGER__MODBUS__ENABLED", "false")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        out.join(format!("settlement_2026-10_{}.xlsx", row.county_code))
            .is_file(),
        "{stdout}"
    );
    let villages = statement::villages(&lines);
    assert_eq!(villages.len(), 12);
    for v in &villages {
        let pdf = out.join("villages").join(format!("{v}.pdf"));
        assert!(pdf_text(&pdf).contains(v), "{}", pdf.display());
    }
    assert!(stdout.contains("12 村公示表"), "{stdout}");
}

async fn a_missing_font_names_the_package_to_install(db: TestDb) {
    let (_, _, _) = settled(&db).await;
    let out = db.dir().join("export");
    let output = Command::new(env!("CARGO_BIN_EXE_pvledger"))
        .args([
            "settle",
            "--period",
            "2026-10",
            "--export",
            out.to_str().unwrap(),
        ])
        .env("PVLEDGER__DATABASE__URL", &db.url)
        .env("PVLEDGER__MQTT__EMBEDDED_LISTEN", "")
        .env("PVLEDGER__MODBUS__ENABLED", "false")
        .env(
            "PVLEDGER__REPORT__FONT_PATH",
            "/nonexistent/NotoSansCJK-Regular.ttc",
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("/nonexistent/NotoSansCJK-Regular.ttc"),
        "{stderr}"
    );
    assert!(stderr.contains("report.font_path"), "{stderr}");
}

both_backends!(
    the_workbook_holds_the_csv_figures_and_its_sums_tie,
    a_adjustment_line_fills_the_adjustments_sheet,
    each_village_statement_is_searchable_text_with_its_figures,
    settle_export_writes_the_workbook_and_one_statement_per_village,
    a_missing_font_names_the_package_to_install,
);
