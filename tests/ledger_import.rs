//! The ledger import and export, on both backends: round trip, encodings, every kind of
//! validation error with its location, the share-sum rule, idempotent re-import.

mod common;

use common::{TestDb, example_dir, write_dir};
use pvledger::ledger::{self, ImportError, export_dir, import_dir};
use pvledger::store::Store;

const VILLAGES: &str = "code,name,level,parent_code,poor_village_code,status
149901,汾岭县,county,,,
149901101,东川镇,township,149901,,
149901101201,东川村,village,149901101,PV149901101201,poor
149901101202,后沟村,village,149901101,PV149901101202,exited
";

/// Imports and returns the problems as `file:line: column: reason` strings.
async fn refused(store: &Store, dir: &std::path::Path) -> Vec<String> {
    match import_dir(store, dir, "test", false).await {
        Err(ImportError::Invalid(errors)) => errors.iter().map(ToString::to_string).collect(),
        other => panic!("expected the import to be refused, got {other:?}"),
    }
}

async fn ledger_of(store: &Store) -> pvledger::ledger::model::Ledger {
    store.load_ledger().await.unwrap()
}

async fn the_example_county_imports_and_an_export_reimports_to_the_same_ledger(db: TestDb) {
    // Arrange: the example county in a fresh database.
    let report = import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let stations = report
        .summary
        .iter()
        .find(|s| s.file == "stations.csv")
        .unwrap();
    assert_eq!(stations.new, 11);
    let original = ledger_of(&db.store).await;
    assert_eq!(original.areas.len(), 17);
    assert_eq!(original.devices.len(), 44);
    assert_eq!(original.shares.len(), 18);

    // Act: export, import the export into a second fresh database, export again.
    let out1 = db.dir().join("export1");
    export_dir(&db.store, &out1).await.unwrap();
    let second = TestDb::sqlite().await;
    import_dir(&second.store, &out1, "test", false)
        .await
        .unwrap();
    let out2 = db.dir().join("export2");
    export_dir(&second.store, &out2).await.unwrap();

    // Assert: the same ledger (credentials included), byte-identical exports.
    let copy = ledger_of(&second.store).await;
    assert_eq!(copy.areas, original.areas);
    assert_eq!(copy.stations, original.stations);
    assert_eq!(copy.tariffs, original.tariffs);
    assert_eq!(copy.shares, original.shares);
    assert_eq!(copy.gateways, original.gateways);
    assert_eq!(copy.devices.len(), original.devices.len());
    for file in ledger::parse::FILES {
        let a = std::fs::read(out1.join(file)).unwrap();
        let b = std::fs::read(out2.join(file)).unwrap();
        assert!(
            a.starts_with(b"\xEF\xBB\xBF"),
            "{file} starts with a BOM for Excel"
        );
        assert_eq!(a, b, "{file} differs between the two exports");
    }
}

async fn reimporting_the_same_files_changes_nothing(db: TestDb) {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let before = ledger_of(&db.store).await;

    let report = import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();

    assert!(!report.changed_anything(), "{:?}", report.summary);
    assert!(
        report
            .summary
            .iter()
            .all(|s| s.unchanged > 0 && s.new == 0 && s.changed == 0)
    );
    assert_eq!(ledger_of(&db.store).await, before);
    // Only the first import is a change worth an audit entry.
    let audit = db.store.audit_recent(10).await.unwrap();
    assert_eq!(
        audit.iter().filter(|a| a.action == "ledger.import").count(),
        1
    );
}

async fn a_changed_row_is_updated_in_place(db: TestDb) {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let stations = std::fs::read_to_string(example_dir().join("stations.csv")).unwrap();
    let edited = stations.replace("王建军,13512340101", "赵丽,13512340199");
    assert_ne!(edited, stations);
    let dir = write_dir(db.dir(), "edit", &[("stations.csv", edited.as_bytes())]);

    let report = import_dir(&db.store, &dir, "test", false).await.unwrap();

    assert_eq!(report.summary[0].changed, 1);
    let s = ledger_of(&db.store)
        .await
        .stations
        .into_iter()
        .find(|s| s.code == "PV149901101201-01")
        .unwrap();
    assert_eq!(s.om_person.as_deref(), Some("赵丽"));
    assert_eq!(s.om_phone.as_deref(), Some("13512340199"));
}

async fn gbk_files_with_chinese_headers_import(db: TestDb) {
    // As Chinese Excel saves them: GBK bytes, Chinese headers, units in brackets, dates with slashes.
    let villages = VILLAGES
        .replacen(
            "code,name,level,parent_code,poor_village_code,status",
            "编码,名称,级别,上级编码,贫困村编码,状态",
            1,
        )
        .replace(",county,", ",县,")
        .replace(",poor", ",贫困村");
    let stations = "电站编码,电站名称,电站类型,所在地编码,直流装机容量(kWp),交流容量（kW）,并网日期\n\
                    PV149901101201-01,东川村光伏扶贫电站,村级,149901101201,300.000,250,2016/6/28\n";
    let (v, _, _) = encoding_rs::GBK.encode(&villages);
    let (s, _, _) = encoding_rs::GBK.encode(stations);
    let dir = write_dir(
        db.dir(),
        "gbk",
        &[("villages.csv", &v), ("stations.csv", &s)],
    );

    let report = import_dir(&db.store, &dir, "test", false).await.unwrap();

    assert!(
        report
            .encodings
            .iter()
            .all(|(_, e)| *e == ledger::encoding::SourceEncoding::Gb18030)
    );
    let l = ledger_of(&db.store).await;
    assert_eq!(
        l.areas.iter().find(|a| a.code == "149901").unwrap().name,
        "汾岭县"
    );
    let village = l.areas.iter().find(|a| a.code == "149901101201").unwrap();
    assert_eq!(
        village.status,
        Some(pvledger::ledger::model::VillageStatus::Poor)
    );
    let station = &l.stations[0];
    assert_eq!(station.name, "东川村光伏扶贫电站");
    assert_eq!(station.kind, pvledger::ledger::model::StationKind::Village);
    assert_eq!(
        station.grid_connection_date,
        chrono::NaiveDate::from_ymd_opt(2016, 6, 28)
    );
}

async fn utf8_files_with_a_byte_order_mark_import(db: TestDb) {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(VILLAGES.as_bytes());
    let dir = write_dir(db.dir(), "bom", &[("villages.csv", &bytes)]);

    import_dir(&db.store, &dir, "test", false).await.unwrap();

    let l = ledger_of(&db.store).await;
    assert_eq!(l.areas.len(), 4);
    assert!(
        l.areas.iter().any(|a| a.code == "149901"),
        "the BOM must not end up in the first code"
    );
}

async fn every_problem_is_reported_with_its_place_and_nothing_changes(db: TestDb) {
    // Arrange: a ledger with one good village already stored, then files full of mistakes.
    let good = write_dir(db.dir(), "good", &[("villages.csv", VILLAGES.as_bytes())]);
    import_dir(&db.store, &good, "test", false).await.unwrap();
    let before = ledger_of(&db.store).await;

    let villages = "code,name,level,parent_code\n149901102,石门镇,township,149901\n149901102201,石门村,village,149901\n1499 01,坏码,village,149901102\n";
    let stations = "code,name,kind,area_code,dc_capacity_kwp,latitude,azimuth_deg,grid_connection_date,commissioning_date,om_phone\n\
        S-1,一号,village,149901101201,-5,37.6,180,2017-06-30,2017-06-01,13512340101\n\
        S-2,二号,farm,149901999999,100,80.0,360,2017-13-01,,phone\n\
        S-1,重复,village,149901101201,100,,,,,\n";
    let tariffs = "station_code,valid_from,total_price,benchmark_price\nS-1,2017-06-30,0.85,0.90\nS-9,2017-06-30,0.85123,0.332\n";
    let shares = "station_code,village_code,share,basis,valid_from\n\
        S-1,149901101201,0.5,capacity,2020-01-01\nS-1,149901101202,0.4,capacity,2020-01-01\nS-1,149901101,0.2,capacity,2020-01-01\n";
    let gateways = "code,name,credential\nGW-1,网关,short\n";
    let devices = "code,station_code,kind,protocol,host,port,unit_id,profile,gateway_code\n\
        INV-1,S-1,inverter,modbus,127.0.0.1,70000,1,sunspec,\nINV-2,S-1,inverter,mqtt,,,,,\nINV-3,S-1,inverter,modbus,,,,,GW-404\n";
    let dir = write_dir(
        db.dir(),
        "bad",
        &[
            ("villages.csv", villages.as_bytes()),
            ("stations.csv", stations.as_bytes()),
            ("tariffs.csv", tariffs.as_bytes()),
            ("shares.csv", shares.as_bytes()),
            ("gateways.csv", gateways.as_bytes()),
            ("devices.csv", devices.as_bytes()),
        ],
    );

    // Act
    let errors = refused(&db.store, &dir).await;

    // Assert: each problem at its file, line and column; the ledger untouched.
    let expect = [
        "villages.csv:3: parent_code: a village belongs to a township, but 149901 is a county",
        "villages.csv:4: code: \"1499 01\" is not a valid code",
        "stations.csv:2: dc_capacity_kwp: -5: must be greater than 0",
        "stations.csv:2: commissioning_date: 2017-06-01 is before the grid connection on 2017-06-30",
        "stations.csv:3: kind: \"farm\" is not one of: village (村级)",
        "stations.csv:3: latitude: 80.0 is outside [3, 54]",
        "stations.csv:3: azimuth_deg: 360 is outside [0, 360)",
        "stations.csv:3: grid_connection_date: \"2017-13-01\" is not a date",
        "stations.csv:3: om_phone: \"phone\" is not a phone number",
        "stations.csv:4: code: S-1 appears twice (first on line 2)",
        "tariffs.csv:2: benchmark_price: benchmark 0.90 is above the total tariff 0.85",
        "tariffs.csv:3: station_code: S-9 is not a known station",
        "tariffs.csv:3: total_price: 0.85123 has more than 4 decimals",
        "shares.csv:4: village_code: 149901101 is a township, not a village",
        "shares.csv:2: share: the 3 shares of station S-1 from 2020-01-01 sum to 1.1, not exactly 1",
        "gateways.csv:2: credential: too short: at least 16 characters",
        "devices.csv:2: port: \"70000\" is not a whole number from 1 to 65535",
        "devices.csv:3: gateway_code: an mqtt device needs the gateway that publishes for it",
        "devices.csv:4: host: required for a modbus device",
        "devices.csv:4: gateway_code: GW-404 is not a known gateway",
    ];
    for e in expect {
        assert!(
            errors.iter().any(|got| got.starts_with(e)),
            "missing {e:?} in:\n{}",
            errors.join("\n")
        );
    }
    assert_eq!(
        ledger_of(&db.store).await,
        before,
        "a refused import must change nothing"
    );
}

async fn a_share_set_that_does_not_sum_to_one_is_refused_and_one_that_does_is_kept(db: TestDb) {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let joint = "PVJ149901-01";
    let off = "station_code,village_code,share,basis,valid_from\n\
        PVJ149901-01,149901101201,0.3333,equal,2026-01-01\nPVJ149901-01,149901101202,0.3333,equal,2026-01-01\nPVJ149901-01,149901101203,0.3333,equal,2026-01-01\n";
    let dir = write_dir(db.dir(), "off", &[("shares.csv", off.as_bytes())]);

    let errors = refused(&db.store, &dir).await;
    assert_eq!(
        errors,
        [
            "shares.csv:2: share: the 3 shares of station PVJ149901-01 from 2026-01-01 sum to 0.9999, not exactly 1"
        ]
    );

    // The same set fixed by giving the remainder to one village is accepted and replaces
    // nothing earlier: the station now has its old set and the new one.
    let fixed = off.replacen("0.3333", "0.3334", 1);
    let dir = write_dir(db.dir(), "fixed", &[("shares.csv", fixed.as_bytes())]);
    import_dir(&db.store, &dir, "test", false).await.unwrap();
    let shares: Vec<_> = ledger_of(&db.store)
        .await
        .shares
        .into_iter()
        .filter(|s| s.station_code == joint)
        .collect();
    assert_eq!(shares.len(), 6 + 3);
    let new_set: rust_decimal::Decimal = shares
        .iter()
        .filter(|s| s.valid_from.to_string() == "2026-01-01")
        .map(|s| s.share.0)
        .sum();
    assert_eq!(new_set, rust_decimal::Decimal::ONE);
}

async fn a_reimported_share_set_replaces_the_stored_set_with_the_same_date(db: TestDb) {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    // The joint station's set from 2018-06-29 had six villages; now two share it.
    let two = "station_code,village_code,share,basis,valid_from\n\
        PVJ149901-01,149901101201,0.5,equal,2018-06-29\nPVJ149901-01,149901101202,0.5,equal,2018-06-29\n";
    let dir = write_dir(db.dir(), "two", &[("shares.csv", two.as_bytes())]);

    import_dir(&db.store, &dir, "test", false).await.unwrap();

    let set: Vec<_> = ledger_of(&db.store)
        .await
        .shares
        .into_iter()
        .filter(|s| s.station_code == "PVJ149901-01")
        .collect();
    assert_eq!(set.len(), 2, "{set:?}");
}

async fn a_directory_without_ledger_files_is_refused(db: TestDb) {
    let dir = write_dir(db.dir(), "empty", &[("notes.txt", b"nothing here")]);
    let err = import_dir(&db.store, &dir, "test", false)
        .await
        .unwrap_err();
    assert!(matches!(err, ImportError::NoFiles(_)), "{err}");
}

async fn an_unknown_or_missing_column_is_reported_on_the_header_line(db: TestDb) {
    let dir = write_dir(
        db.dir(),
        "hdr",
        &[(
            "villages.csv",
            "code,name,levle\n149901,汾岭县,county\n".as_bytes(),
        )],
    );
    let errors = refused(&db.store, &dir).await;
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("villages.csv:1: levle: unknown column")),
        "{errors:?}"
    );
    assert_eq!(
        errors.len(),
        2,
        "no repeat of the missing column on each row: {errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("villages.csv:1: level: required column missing")),
        "{errors:?}"
    );
}

async fn gateway_credentials_are_stored_hashed_and_survive_reimport(db: TestDb) {
    import_dir(&db.store, &example_dir(), "test", false)
        .await
        .unwrap();
    let text = std::fs::read_to_string(example_dir().join("gateways.csv")).unwrap();
    let line = text.lines().nth(1).unwrap();
    let (code, secret) = (
        line.split(',').next().unwrap(),
        line.rsplit(',').next().unwrap(),
    );

    let stored = ledger_of(&db.store)
        .await
        .gateways
        .into_iter()
        .find(|g| g.code == code)
        .unwrap();

    assert!(stored.credential_hash.starts_with("$argon2id$"));
    assert!(!stored.credential_hash.contains(secret));
    assert!(pvledger::auth::verify_secret(
        secret,
        &stored.credential_hash
    ));
}

both_backends!(
    the_example_county_imports_and_an_export_reimports_to_the_same_ledger,
    reimporting_the_same_files_changes_nothing,
    a_changed_row_is_updated_in_place,
    gbk_files_with_chinese_headers_import,
    utf8_files_with_a_byte_order_mark_import,
    every_problem_is_reported_with_its_place_and_nothing_changes,
    a_share_set_that_does_not_sum_to_one_is_refused_and_one_that_does_is_kept,
    a_reimported_share_set_replaces_the_stored_set_with_the_same_date,
    a_directory_without_ledger_files_is_refused,
    an_unknown_or_missing_column_is_reported_on_the_header_line,
    gateway_credentials_are_stored_hashed_and_survive_reimport,
);
