//! Grid statement import on both backends: stored exactly, idempotent, audited with the
//! figures before and after, refused whole on any error.

mod common;

use common::{TestDb, example_dir, write_dir};
use pvledger::ledger::import_dir;
use pvledger::settlement::grid::{FileImportError, import_file};
use pvledger::store::Store;

const GOOD: &str = "电站编码,结算月份,上网电量(kWh),燃煤电费（元）,结算单号\n\
    PV149901101201-01,2026-10,38456.7,12767.62,GS-2026-10-001\n\
    PVJ149901-01,2026-10,512345.125,,GS-2026-10-002\n";

async fn stored(store: &Store) -> Vec<(String, String, String)> {
    let all = store.grid_statements().await.unwrap();
    all.into_iter()
        .map(|s| (s.station_code, s.period, s.export_kwh.to_string()))
        .collect()
}

async fn statements_import_exactly_once_and_corrections_are_audited(db: TestDb) {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    // As Chinese Excel saves it: GBK.
    let (gbk, _, _) = encoding_rs::GBK.encode(GOOD);
    let dir = write_dir(db.dir(), "g1", &[("grid.csv", &gbk)]);
    let file = dir.join("grid.csv");

    let first = import_file(&db.store, &file, "finance").await.unwrap();
    let again = import_file(&db.store, &file, "finance").await.unwrap();

    assert_eq!((first.new, first.changed), (2, 0));
    assert_eq!((again.new, again.changed, again.unchanged), (0, 0, 2));
    assert_eq!(
        stored(&db.store).await,
        [
            (
                "PV149901101201-01".to_owned(),
                "2026-10".to_owned(),
                "38456.7".to_owned()
            ),
            (
                "PVJ149901-01".to_owned(),
                "2026-10".to_owned(),
                "512345.125".to_owned()
            ),
        ]
    );

    // A corrected statement replaces the figure; the audit log keeps both.
    let corrected = GOOD.replace("38456.7", "38460.2");
    let dir = write_dir(db.dir(), "g2", &[("grid.csv", corrected.as_bytes())]);
    let fix = import_file(&db.store, &dir.join("grid.csv"), "finance")
        .await
        .unwrap();
    assert_eq!((fix.changed, fix.unchanged), (1, 1));
    let audit = db.store.audit_recent(10).await.unwrap();
    let grid: Vec<_> = audit.iter().filter(|a| a.action == "grid.import").collect();
    assert_eq!(
        grid.len(),
        2,
        "the unchanged re-import is not an audited change"
    );
    let change = &grid[0].detail["changes"][0];
    assert_eq!(change["before_kwh"], "38456.7");
    assert_eq!(change["after_kwh"], "38460.2");
    assert_eq!(grid[0].actor, "finance");
}

async fn a_file_with_errors_changes_nothing(db: TestDb) {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let bad = "station_code,period,export_kwh\nPV149901101201-01,2026-10,100\nNOPE,2026-10,5\n";
    let dir = write_dir(db.dir(), "bad", &[("grid.csv", bad.as_bytes())]);

    let err = import_file(&db.store, &dir.join("grid.csv"), "finance")
        .await
        .unwrap_err();

    let FileImportError::Invalid(errors) = err else {
        panic!("{err}")
    };
    assert_eq!(
        errors[0].to_string(),
        "grid.csv:3: station_code: NOPE is not a known station"
    );
    assert!(stored(&db.store).await.is_empty());
}

both_backends!(
    statements_import_exactly_once_and_corrections_are_audited,
    a_file_with_errors_changes_nothing
);
