//! How long the settlement documents take to render (issue 4): every village's PDF
//! statement and the workbook, for a county the size of the example (12 villages) and for
//! 1,000 villages. Run with `cargo bench --bench statements`; needs fonts-noto-cjk.
//!
//! The lines are synthetic and in memory (rendering is what is measured, not the store):
//! every village has its own station, and every tenth village also a share of a joint
//! station, as in the example county; plans are 80/15/5.

use std::time::Instant;

use chrono::Utc;
use pvledger::ledger::model::{Area, AreaLevel, Ledger, Station, StationKind};
use pvledger::report::font;
use pvledger::settlement::export::Lines;
use pvledger::settlement::names::Names;
use pvledger::settlement::store_types::{SettlementRow, UseRow, VillageRow};
use pvledger::settlement::{statement, workbook};
use pvledger::store::{Dec, Ts};
use rust_decimal::Decimal;

const COUNTY: &str = "149900";

fn dec(s: &str) -> Dec {
    Dec(s.parse().unwrap())
}

fn area(code: String, name: String, level: AreaLevel, parent: Option<String>) -> Area {
    Area {
        code,
        name,
        level,
        parent_code: parent,
        poor_village_code: None,
        status: None,
    }
}

fn station(code: String, name: String, area_code: String) -> Station {
    Station::new(&code, &name, StationKind::Village, &area_code, dec("300"))
}

fn county(villages: usize) -> (SettlementRow, Lines, Names) {
    let mut ledger = Ledger::default();
    ledger.areas.push(area(
        COUNTY.into(),
        "基准县".into(),
        AreaLevel::County,
        None,
    ));
    let mut lines = Lines {
        stations: Vec::new(),
        villages: Vec::new(),
        uses: Vec::new(),
        adjustments: Vec::new(),
    };
    let mut total = Decimal::ZERO;
    for i in 0..villages {
        let township = format!("{COUNTY}{:03}", 100 + i / 100);
        if i % 100 == 0 {
            ledger.areas.push(area(
                township.clone(),
                format!("第{}镇", i / 100 + 1),
                AreaLevel::Township,
                Some(COUNTY.into()),
            ));
        }
        let code = format!("{township}{:03}", 200 + i % 100);
        ledger.areas.push(area(
            code.clone(),
            format!("光明{i}村"),
            AreaLevel::Village,
            Some(township),
        ));
        let st = format!("PV{code}-01");
        ledger.stations.push(station(
            st.clone(),
            format!("光明{i}村光伏扶贫电站"),
            code.clone(),
        ));
        let mut amounts = vec![(st, dec("1"), Decimal::new(996_000 + i as i64, 2))];
        if i % 10 == 0 {
            amounts.push(("PVJ149900-01".into(), dec("0.01"), Decimal::new(166_000, 2)));
        }
        let mut village_total = Decimal::ZERO;
        for (st, share, amount) in amounts {
            village_total += amount;
            lines.villages.push(VillageRow {
                village_code: code.clone(),
                station_code: st,
                share,
                amount_yuan: Dec(amount),
            });
        }
        // 80/15/5 to the fen; the last use takes the remainder so the uses tie.
        let jobs = (village_total * Decimal::new(80, 2)).round_dp(2);
        let works = (village_total * Decimal::new(15, 2)).round_dp(2);
        for (use_code, percent, amount) in [
            ("jobs", "80", jobs),
            ("works", "15", works),
            ("rewards", "5", village_total - jobs - works),
        ] {
            lines.uses.push(UseRow {
                village_code: code.clone(),
                use_code: use_code.into(),
                percent: dec(percent),
                amount_yuan: Dec(amount),
            });
        }
        total += village_total;
    }
    let row = SettlementRow {
        id: 1,
        county_code: COUNTY.into(),
        period: "2026-10".into(),
        status: "draft".into(),
        income_mode: "received".into(),
        distributable_yuan: Dec(total),
        adjustments_yuan: Dec(Decimal::ZERO),
        created_at: Ts(Utc::now()),
        updated_at: Ts(Utc::now()),
    };
    (row, lines, Names::from_ledger(&ledger))
}

fn main() {
    let started = Instant::now();
    let fonts = font::load("", font::DEFAULT_COLLECTION_INDEX).expect("fonts-noto-cjk");
    println!(
        "font load ({}): {:.3} s",
        fonts.path.display(),
        started.elapsed().as_secs_f64()
    );
    println!("| villages | all PDF statements | per statement | bytes per PDF | workbook |");
    println!("| ---: | ---: | ---: | ---: | ---: |");
    for n in [12usize, 1_000] {
        let (row, lines, names) = county(n);
        let started = Instant::now();
        let mut bytes = 0usize;
        for v in statement::villages(&lines) {
            let st = statement::Statement::build(&row, &lines, &names, &v).unwrap();
            bytes += statement::render(&st, &fonts).unwrap().len();
        }
        let pdfs = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let xlsx = workbook::render(&row, &lines, &names, &[]).unwrap();
        let book = started.elapsed().as_secs_f64();
        assert!(!xlsx.is_empty());
        println!(
            "| {n} | {pdfs:.2} s | {:.1} ms | {} | {book:.3} s |",
            pdfs * 1000.0 / n as f64,
            bytes / n,
        );
    }
}
