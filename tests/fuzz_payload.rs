//! Property-based fuzzing of the payload v1 parser and the gateway status parser (issue 7)
//! through the public API: arbitrary bytes, generated JSON with the right keys and wrong
//! values, and mutations of a valid payload. Never a panic; every outcome is accepted
//! readings or refusals with a reason; a good reading next to bad ones is still accepted
//! (docs/PAYLOAD.md, "Refusals").
//!
//! Bounded for CI (a few seconds); `PROPTEST_CASES=100000 cargo test --test fuzz_payload`
//! runs longer locally.

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use pvledger::ingest::gateway_status;
use pvledger::ingest::payload::{self, MAX_FUTURE, Parsed, RejectReason};
use serde_json::{Value, json};

const GW: &str = "GW-001";

fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-01T02:00:10Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// The documented ranges (docs/PAYLOAD.md, "Fields").
const RANGES: &[(&str, f64, f64)] = &[
    ("ac_power_w", -50_000.0, 1.0e8),
    ("dc_power_w", -50_000.0, 1.0e8),
    ("energy_total_kwh", 0.0, f64::MAX),
    ("export_energy_kwh", 0.0, f64::MAX),
    ("grid_voltage_v", 0.0, 1_000.0),
    ("frequency_hz", 0.0, 70.0),
    ("temperature_c", -60.0, 150.0),
    ("irradiance_poa_wm2", -50.0, 2_000.0),
    ("module_temp_c", -60.0, 120.0),
    ("ambient_temp_c", -60.0, 70.0),
];

/// What holds for every outcome, whatever the input.
fn check_invariants(p: &Parsed, input: &[u8]) -> Result<(), TestCaseError> {
    match &p.gateway {
        // Unreadable: refused as a whole, once, and the raw input kept losslessly.
        None => {
            prop_assert!(p.readings.is_empty());
            prop_assert_eq!(p.refusals.len(), 1);
            prop_assert_eq!(p.refusals[0].reason, RejectReason::Unparseable);
            prop_assert_eq!(&p.refusals[0].raw, &payload::storable(input));
        }
        Some(g) if g != GW => {
            prop_assert!(p.readings.is_empty());
            prop_assert_eq!(p.refusals.len(), 1);
            prop_assert_eq!(p.refusals[0].reason, RejectReason::GatewayMismatch);
        }
        Some(_) => {
            for r in &p.refusals {
                prop_assert!(
                    !matches!(
                        r.reason,
                        RejectReason::GatewayMismatch
                            | RejectReason::UnknownGateway
                            | RejectReason::UnknownDevice
                            | RejectReason::ForeignDevice
                    ),
                    "{r:?}"
                );
            }
        }
    }
    for r in &p.refusals {
        prop_assert!(!r.detail.is_empty());
        prop_assert!(!payload::storable_text(&r.detail).contains('\0'));
        prop_assert!(!payload::storable_text(&r.raw).contains('\0'));
    }
    for r in &p.readings {
        prop_assert!(!r.device.is_empty());
        prop_assert!(r.ts <= now() + MAX_FUTURE);
        let v = serde_json::to_value(&r.reading).unwrap();
        for (name, min, max) in RANGES {
            if let Some(x) = v.get(*name).and_then(Value::as_f64) {
                prop_assert!(x.is_finite() && x >= *min && x <= *max, "{name} = {x}");
            }
        }
        let numbers = [
            r.reading.ac_power_w,
            r.reading.dc_power_w,
            r.reading.energy_total_kwh,
            r.reading.export_energy_kwh,
            r.reading.grid_voltage_v,
            r.reading.frequency_hz,
            r.reading.temperature_c,
            r.reading.irradiance_poa_wm2,
            r.reading.module_temp_c,
            r.reading.ambient_temp_c,
        ];
        prop_assert!(numbers.iter().all(|x| x.is_none_or(f64::is_finite)));
        prop_assert!(
            r.reading
                .fault_code
                .as_deref()
                .is_none_or(|f| !f.contains('\0'))
        );
    }
    Ok(())
}

fn good_reading(i: usize) -> Value {
    json!({"device": format!("GOOD-{i}"), "ts": "2026-06-01T10:00:00+08:00",
           "ac_power_w": 52340.5, "energy_total_kwh": 123456.78, "frequency_hz": 50.01,
           "status": "running", "fault_code": "E1"})
}

fn good_payload() -> Vec<u8> {
    json!({"gateway": GW, "sent_at": "2026-06-01T10:00:05+08:00",
           "readings": [good_reading(0), good_reading(1), good_reading(2)]})
    .to_string()
    .into_bytes()
}

/// Strings that trip parsers: NaN-like words, NUL, long, non-ASCII, near-timestamps.
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "NaN",
            "Infinity",
            "-Infinity",
            "1e999",
            "0x10",
            "",
            " ",
            "\u{0}",
            "A\u{0}B",
            "\u{feff}",
            "running",
            "RUNNING",
            "2026-06-01T10:00:00",
            "2026-06-01T10:00:00+08:00",
            "9999-12-31T23:59:59Z",
            "0000-01-01T00:00:00+23:59",
            "\u{202e}GW-001",
        ])
        .prop_map(str::to_owned),
        ".{0,40}",
        (0usize..5_000).prop_map(|n| "x".repeat(n)),
    ]
}

/// Numbers at the edges: huge, tiny, negative zero, past i64/u64, epoch milliseconds.
fn nasty_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN/inf", |x| x.is_finite())
            .prop_map(Value::from),
        prop::sample::select(vec![
            json!(0),
            json!(-0.0),
            json!(f64::MAX),
            json!(f64::MIN),
            json!(f64::MIN_POSITIVE),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1_780_279_200_000i64),
            json!(1_780_279_200),
            json!(70.0000001),
            json!(-50_000.0),
            json!(1e8),
        ]),
    ]
}

/// Any JSON value, nested a few levels.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        nasty_number(),
        nasty_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(nasty_string(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const KEYS: &[&str] = &[
    "device",
    "ts",
    "ac_power_w",
    "dc_power_w",
    "energy_total_kwh",
    "export_energy_kwh",
    "grid_voltage_v",
    "frequency_hz",
    "temperature_c",
    "irradiance_poa_wm2",
    "module_temp_c",
    "ambient_temp_c",
    "status",
    "fault_code",
];

/// A reading object with the right keys and arbitrary values.
fn wild_reading() -> impl Strategy<Value = Value> {
    prop::collection::vec((prop::sample::select(KEYS), any_json()), 0..14).prop_map(|pairs| {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    })
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let p = payload::parse(&bytes, GW, now());
        check_invariants(&p, &bytes)?;
    }

    #[test]
    fn arbitrary_json_never_panics(value in any_json()) {
        let bytes = value.to_string().into_bytes();
        let p = payload::parse(&bytes, GW, now());
        check_invariants(&p, &bytes)?;
    }

    #[test]
    fn good_readings_next_to_wild_ones_are_still_accepted(
        wild in prop::collection::vec(wild_reading(), 0..6),
        good_at in prop::collection::vec(any::<bool>(), 6),
    ) {
        // Interleave three good readings with the wild ones.
        let mut readings = Vec::new();
        let mut goods = 0;
        for (i, w) in wild.into_iter().enumerate() {
            if good_at[i] && goods < 3 {
                readings.push(good_reading(goods));
                goods += 1;
            }
            readings.push(w);
        }
        while goods < 3 {
            readings.push(good_reading(goods));
            goods += 1;
        }
        let total = readings.len();
        let bytes = json!({"gateway": GW, "readings": readings}).to_string().into_bytes();
        let p = payload::parse(&bytes, GW, now());
        check_invariants(&p, &bytes)?;
        // Judged one by one: every reading is either accepted or refused with a reason.
        prop_assert_eq!(p.readings.len() + p.refusals.len(), total);
        for i in 0..3 {
            let device = format!("GOOD-{i}");
            prop_assert!(
                p.readings.iter().any(|r| r.device == device && r.reading.ac_power_w == Some(52340.5)),
                "{device} not accepted: {:?}", p.refusals
            );
        }
    }

    #[test]
    fn wrong_types_in_payload_keys_refuse_the_payload_not_panic(
        gateway in any_json(), readings in any_json(), extra in any_json(),
    ) {
        let bytes = json!({"gateway": gateway, "readings": readings, "sent_at": extra})
            .to_string()
            .into_bytes();
        let p = payload::parse(&bytes, GW, now());
        check_invariants(&p, &bytes)?;
    }

    #[test]
    fn mutated_valid_payloads_never_panic(
        edits in prop::collection::vec((0u8..4, any::<prop::sample::Index>(), any::<u8>()), 0..6),
    ) {
        let original = good_payload();
        let mut bytes = original.clone();
        for (kind, at, byte) in edits {
            if bytes.is_empty() { break; }
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] ^= byte | 1,
                1 => bytes.truncate(i),
                2 => bytes.insert(i, byte),
                _ => { bytes.remove(i); }
            }
        }
        let p = payload::parse(&bytes, GW, now());
        check_invariants(&p, &bytes)?;
        if bytes == original {
            prop_assert_eq!(p.readings.len(), 3);
        }
    }

    #[test]
    fn a_leading_bom_is_ignored_and_trailing_bytes_make_a_payload_unreadable_as_documented(
        tail in prop::collection::vec(any::<u8>(), 1..8),
    ) {
        // docs/PAYLOAD.md, "Robustness": JSON only, a leading byte-order mark ignored,
        // nothing after the object but whitespace.
        let mut with_bom = b"\xEF\xBB\xBF".to_vec();
        with_bom.extend(good_payload());
        let p = payload::parse(&with_bom, GW, now());
        prop_assert!(p.refusals.is_empty(), "{:?}", p.refusals);
        prop_assert_eq!(p.readings.len(), 3);
        let mut trailing = good_payload();
        trailing.extend(&tail);
        let p = payload::parse(&trailing, GW, now());
        let only_space = tail.iter().all(|b| b" \t\r\n".contains(b));
        prop_assert_eq!(p.readings.len() == 3, only_space);
    }

    #[test]
    fn gateway_status_parsing_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        value in any_json(),
        counters in prop::collection::vec(any::<u64>(), 6),
    ) {
        let _ = gateway_status::parse(&bytes, GW, now());
        let _ = gateway_status::parse(value.to_string().as_bytes(), GW, now());
        // A well-formed status with any counters, up to u64::MAX.
        let status = json!({"gateway": GW, "version": "0.1.0\u{0}", "sent_at": "2026-06-01T00:00:00Z",
            "started_at": "2026-06-01T00:00:00Z", "outbox": {"depth": counters[0], "max_readings": 1,
            "oldest_unsent": null, "appended_total": counters[1], "thinned_raw_total": counters[2],
            "thinned_hourly_total": counters[3], "last_thinned_at": null}, "clock_skew_ms": null,
            "clock_checked_at": null, "devices": {
                "A": {"polls_ok": 0, "poll_failures": counters[4], "consecutive_failures": 0, "last_ok": null, "last_error": null},
                "B": {"polls_ok": 0, "poll_failures": counters[5], "consecutive_failures": 0, "last_ok": null, "last_error": null}},
            "acked_readings": 0, "reconnects": 0});
        let row = gateway_status::parse(status.to_string().as_bytes(), GW, now());
        let row = row.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(row.outbox_depth >= 0 && row.thinned_total >= 0 && row.poll_failures >= 0);
        prop_assert!(!row.version.contains('\0'));
    }
}

/// Deep nesting stays within serde_json's recursion limit: refused, no stack overflow.
#[test]
fn deeply_nested_json_is_refused_without_overflowing_the_stack() {
    for depth in [200, 100_000] {
        let mut text = format!("{{\"gateway\":\"{GW}\",\"readings\":[");
        text.push_str(&"[".repeat(depth));
        text.push_str(&"]".repeat(depth));
        text.push_str("]}");
        let p = payload::parse(text.as_bytes(), GW, now());
        assert_eq!(p.refusals[0].reason, RejectReason::Unparseable);
    }
}

/// A number beyond f64 in one reading is that reading's impossible value: serde_json refuses
/// the whole document for it, so the parser marks such numbers and reads it again, and the
/// good reading next to it is kept (before, the whole payload was `unparseable`).
#[test]
fn a_number_beyond_f64_refuses_its_reading_and_keeps_the_others() {
    let text = format!(
        r#"{{"gateway":"{GW}","readings":[{{"device":"A","ts":"2026-06-01T10:00:00+08:00","ac_power_w":1e400}},
        {{"device":"B","ts":"2026-06-01T10:00:00+08:00","ac_power_w":1000}}]}}"#
    );
    let p = payload::parse(text.as_bytes(), GW, now());
    assert_eq!(p.readings.len(), 1);
    assert_eq!(p.readings[0].device, "B");
    assert_eq!(p.refusals.len(), 1);
    assert_eq!(p.refusals[0].reason, RejectReason::ImpossibleValue);
    assert!(
        p.refusals[0].detail.contains("ac_power_w = 1e400"),
        "{}",
        p.refusals[0].detail
    );
}
