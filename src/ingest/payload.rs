//! Payload v1 (docs/PAYLOAD.md): parsing and validation, pure.
//!
//! A payload is judged reading by reading: one bad reading is refused with its reason
//! while the good ones in the same payload are kept. Only a payload that cannot be read at
//! all, or that claims another gateway than its topic, is refused as a whole.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Map, Value};

use crate::reading::{DeviceStatus, Reading};

/// Why input was refused. The code is stable: it is counted, stored and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Not JSON, or not the payload v1 shape.
    Unparseable,
    /// `gateway` differs from the topic segment (or the HTTP credential's gateway).
    GatewayMismatch,
    /// The gateway is not in the ledger.
    UnknownGateway,
    /// The device is not in the ledger.
    UnknownDevice,
    /// The device belongs to another gateway.
    ForeignDevice,
    /// `ts` missing or not RFC 3339 with an offset / epoch milliseconds.
    BadTimestamp,
    /// `ts` more than the allowed skew in the future.
    FutureTimestamp,
    /// A field of the wrong type or an unknown status.
    BadField,
    /// A value no device can produce (negative energy counter, 90 Hz...).
    ImpossibleValue,
}

impl RejectReason {
    pub const ALL: &'static [RejectReason] = &[
        RejectReason::Unparseable,
        RejectReason::GatewayMismatch,
        RejectReason::UnknownGateway,
        RejectReason::UnknownDevice,
        RejectReason::ForeignDevice,
        RejectReason::BadTimestamp,
        RejectReason::FutureTimestamp,
        RejectReason::BadField,
        RejectReason::ImpossibleValue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Unparseable => "unparseable",
            RejectReason::GatewayMismatch => "gateway_mismatch",
            RejectReason::UnknownGateway => "unknown_gateway",
            RejectReason::UnknownDevice => "unknown_device",
            RejectReason::ForeignDevice => "foreign_device",
            RejectReason::BadTimestamp => "bad_timestamp",
            RejectReason::FutureTimestamp => "future_timestamp",
            RejectReason::BadField => "bad_field",
            RejectReason::ImpossibleValue => "impossible_value",
        }
    }
}

/// A refused payload or reading.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub reason: RejectReason,
    /// What exactly was wrong, naming the field and value.
    pub detail: String,
    pub device: Option<String>,
    /// The refused input: the whole payload, or the one reading as JSON.
    pub raw: String,
}

/// A reading that passed the payload checks (the ledger checks come next).
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedReading {
    pub device: String,
    pub ts: DateTime<Utc>,
    pub reading: Reading,
    /// The reading as received, kept in case the ledger refuses it.
    pub raw: String,
}

/// The outcome of reading one payload.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The gateway the payload says it comes from (None when unreadable).
    pub gateway: Option<String>,
    pub readings: Vec<ParsedReading>,
    pub refusals: Vec<Refusal>,
}

/// How far in the future a timestamp may be (gateway clocks drift).
pub const MAX_FUTURE: Duration = Duration::minutes(10);

/// Numeric fields with the range a real device can report.
const FIELDS: &[(&str, f64, f64)] = &[
    ("ac_power_w", -50_000.0, 1.0e8),
    ("dc_power_w", -50_000.0, 1.0e8),
    ("energy_total_kwh", 0.0, 1.0e10),
    ("export_energy_kwh", 0.0, 1.0e10),
    ("grid_voltage_v", 0.0, 1_000.0),
    // 0 Hz is what a sleeping inverter reports at night.
    ("frequency_hz", 0.0, 70.0),
    ("temperature_c", -60.0, 150.0),
    // Pyranometers read slightly negative at night.
    ("irradiance_poa_wm2", -50.0, 2_000.0),
    ("module_temp_c", -60.0, 120.0),
    ("ambient_temp_c", -60.0, 70.0),
];

/// Parses one payload received for `expected_gateway` (the topic segment or the HTTP
/// credential's gateway) at `now`.
pub fn parse(bytes: &[u8], expected_gateway: &str, now: DateTime<Utc>) -> Parsed {
    let whole = |reason, detail: String| Parsed {
        gateway: None,
        readings: Vec::new(),
        refusals: vec![Refusal {
            reason,
            detail,
            device: None,
            raw: storable(bytes),
        }],
    };
    // Windows tools (Notepad, PowerShell's Out-File) start UTF-8 text with a byte-order mark;
    // RFC 8259 §8.1 lets a parser ignore it, and a gateway script saved that way should not
    // lose every reading it sends.
    let json = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // Set when numbers beyond f64 were marked: only then can a reading hold one.
    let mut marked = false;
    let value: Value = match serde_json::from_slice(json) {
        Ok(v) => v,
        // serde_json refuses a whole document for one number beyond f64 (`1e400`), which is
        // one reading's impossible value: such numbers are marked and read again, so that
        // only their readings are refused.
        Err(e) => match quote_overflowing_numbers(json).map(|j| serde_json::from_slice(&j)) {
            Some(Ok(v)) => {
                marked = true;
                v
            }
            _ => return whole(RejectReason::Unparseable, format!("not JSON: {e}")),
        },
    };
    let Some(obj) = value.as_object() else {
        return whole(
            RejectReason::Unparseable,
            "the payload is not a JSON object".into(),
        );
    };
    let Some(gateway) = obj.get("gateway").and_then(Value::as_str) else {
        return whole(
            RejectReason::Unparseable,
            "\"gateway\" (a string) is missing".into(),
        );
    };
    if gateway != expected_gateway {
        let mut p = whole(
            RejectReason::GatewayMismatch,
            format!("payload says gateway {gateway:?} but arrived for {expected_gateway:?}"),
        );
        p.gateway = Some(gateway.to_owned());
        return p;
    }
    let Some(items) = obj.get("readings").and_then(Value::as_array) else {
        return whole(
            RejectReason::Unparseable,
            "\"readings\" (an array) is missing".into(),
        );
    };
    let mut out = Parsed {
        gateway: Some(gateway.to_owned()),
        ..Default::default()
    };
    for (i, item) in items.iter().enumerate() {
        match parse_reading(item, marked, now) {
            Ok(r) => out.readings.push(r),
            Err((reason, detail)) => out.refusals.push(Refusal {
                reason,
                detail: format!("readings[{i}]: {detail}"),
                device: item
                    .get("device")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                raw: unmarked(item.to_string()),
            }),
        }
    }
    out
}

/// The raw input as text a database can hold: as is when it is UTF-8 without NUL bytes
/// (PostgreSQL TEXT refuses NUL), otherwise `base64:` and the bytes in base64, so that
/// nothing is lost or altered.
pub fn storable(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.contains('\0') => s.to_owned(),
        _ => {
            use base64::Engine;
            format!(
                "base64:{}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            )
        }
    }
}

/// `text` as a database can hold it: NUL (which PostgreSQL TEXT refuses, and which a JSON
/// string may carry as `\u0000`) written as the six characters `\u0000`. Refusals name
/// devices and values taken from the input, so every stored refusal text goes through this.
pub fn storable_text(text: &str) -> String {
    text.replace('\0', "\\u0000")
}

fn parse_reading(
    item: &Value,
    marked: bool,
    now: DateTime<Utc>,
) -> Result<ParsedReading, (RejectReason, String)> {
    let obj = item
        .as_object()
        .ok_or((RejectReason::Unparseable, "not an object".into()))?;
    if marked {
        overflowing_value(obj)?;
    }
    let device = match obj.get("device") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            return Err((
                RejectReason::Unparseable,
                "\"device\" (a string) is missing".into(),
            ));
        }
    };
    let ts = timestamp(obj.get("ts"))
        .map_err(|d| (RejectReason::BadTimestamp, format!("device {device}: {d}")))?;
    if ts > now + MAX_FUTURE {
        return Err((
            RejectReason::FutureTimestamp,
            format!(
                "device {device}: ts {} is more than {} minutes ahead of the server clock {}",
                ts.to_rfc3339(),
                MAX_FUTURE.num_minutes(),
                now.to_rfc3339()
            ),
        ));
    }
    let reading = values(obj).map_err(|(r, d)| (r, format!("device {device}: {d}")))?;
    Ok(ParsedReading {
        device,
        ts,
        reading,
        raw: item.to_string(),
    })
}

/// RFC 3339 with an explicit offset, or integer epoch milliseconds.
fn timestamp(v: Option<&Value>) -> Result<DateTime<Utc>, String> {
    match v {
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| {
                format!("ts {s:?} is not RFC 3339 with an offset (e.g. 2026-06-01T10:00:00+08:00)")
            }),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
            .filter(|t| t.timestamp() > 946_684_800) // not before 2000: seconds sent as ms
            .ok_or_else(|| format!("ts {n} is not epoch milliseconds after 2000")),
        Some(other) => Err(format!("ts {other} is neither a string nor a number")),
        None => Err("ts is missing".into()),
    }
}

/// What [`quote_overflowing_numbers`] puts before a number it turns into a string.
const OVERFLOW_MARK: &str = "\u{1}number beyond f64: ";
/// [`OVERFLOW_MARK`] as JSON text.
const OVERFLOW_MARK_JSON: &[u8] = b"\\u0001number beyond f64: ";

/// The JSON text with every number outside strings that overflows f64 (`1e400`, 400
/// digits) turned into a string marked with [`OVERFLOW_MARK`]; None when there is none.
/// One pass over the bytes, done only after a document failed to parse.
fn quote_overflowing_numbers(json: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(json.len() + 64);
    let mut changed = false;
    let mut in_string = false;
    let mut i = 0;
    while i < json.len() {
        let b = json[i];
        if in_string {
            // An escape's next byte cannot end the string.
            let n = if b == b'\\' { 2 } else { 1 };
            in_string = b != b'"';
            out.extend_from_slice(&json[i..(i + n).min(json.len())]);
            i += n;
            continue;
        }
        if b == b'-' || b.is_ascii_digit() {
            let start = i;
            i += 1;
            while i < json.len()
                && matches!(json[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
            {
                i += 1;
            }
            let token = &json[start..i];
            let overflows = std::str::from_utf8(token)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .is_some_and(f64::is_infinite);
            if overflows {
                out.push(b'"');
                out.extend_from_slice(OVERFLOW_MARK_JSON);
                out.extend_from_slice(token);
                out.push(b'"');
                changed = true;
            } else {
                out.extend_from_slice(token);
            }
            continue;
        }
        in_string = b == b'"';
        out.push(b);
        i += 1;
    }
    changed.then_some(out)
}

/// Refuses a reading with a number [`quote_overflowing_numbers`] marked, whatever its field:
/// a measured value's range, or a field that takes a number at all (`ts`, `fault_code`),
/// which must not read the marked text as its value.
fn overflowing_value(obj: &Map<String, Value>) -> Result<(), (RejectReason, String)> {
    let Some((name, number)) = obj.iter().find_map(|(name, v)| {
        v.as_str()
            .and_then(|s| s.strip_prefix(OVERFLOW_MARK))
            .map(|number| (name, number))
    }) else {
        return Ok(());
    };
    let device = match obj.get("device").and_then(Value::as_str) {
        Some(d) if !d.starts_with(OVERFLOW_MARK) => format!("device {d}: "),
        _ => String::new(),
    };
    Err(match FIELDS.iter().find(|(field, ..)| field == name) {
        Some((_, min, max)) => (
            RejectReason::ImpossibleValue,
            format!("{device}{name} = {number} is outside [{min}, {max}]"),
        ),
        None => (
            RejectReason::BadField,
            format!("{device}{name} = {number} is beyond the range of a number"),
        ),
    })
}

/// A reading as received: a marked number (see [`quote_overflowing_numbers`]) as it was sent.
fn unmarked(raw: String) -> String {
    let marked = format!(
        "\"{}",
        std::str::from_utf8(OVERFLOW_MARK_JSON).unwrap_or_default()
    );
    if !raw.contains(&marked) {
        return raw;
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw.as_str();
    while let Some(at) = rest.find(&marked) {
        out.push_str(&rest[..at]);
        let after = &rest[at + marked.len()..];
        // The number has no quote in it: the next one closes the marked string.
        let end = after.find('"').unwrap_or(after.len());
        out.push_str(&after[..end]);
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

fn values(obj: &Map<String, Value>) -> Result<Reading, (RejectReason, String)> {
    let mut r = Reading::default();
    for (name, min, max) in FIELDS {
        let value = match obj.get(*name) {
            None | Some(Value::Null) => continue,
            Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
            Some(other) => {
                return Err((
                    RejectReason::BadField,
                    format!("{name} = {other} is not a number"),
                ));
            }
        };
        if !value.is_finite() || value < *min || value > *max {
            return Err((
                RejectReason::ImpossibleValue,
                format!("{name} = {value} is outside [{min}, {max}]"),
            ));
        }
        let slot = match *name {
            "ac_power_w" => &mut r.ac_power_w,
            "dc_power_w" => &mut r.dc_power_w,
            "energy_total_kwh" => &mut r.energy_total_kwh,
            "export_energy_kwh" => &mut r.export_energy_kwh,
            "grid_voltage_v" => &mut r.grid_voltage_v,
            "frequency_hz" => &mut r.frequency_hz,
            "temperature_c" => &mut r.temperature_c,
            "irradiance_poa_wm2" => &mut r.irradiance_poa_wm2,
            "module_temp_c" => &mut r.module_temp_c,
            _ => &mut r.ambient_temp_c,
        };
        *slot = Some(value);
    }
    r.status = match obj.get("status") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.parse::<DeviceStatus>().map_err(|_| {
            (RejectReason::BadField, format!("status {s:?} is not one of running, standby, starting, throttled, fault, off, unknown"))
        })?),
        Some(other) => return Err((RejectReason::BadField, format!("status = {other} is not a string"))),
    };
    r.fault_code = match obj.get("fault_code") {
        None | Some(Value::Null) => None,
        // A NUL cannot be stored (PostgreSQL TEXT) and is no vendor's fault code.
        Some(Value::String(s)) if s.contains('\0') => {
            return Err((
                RejectReason::BadField,
                format!("fault_code = {s:?} contains a NUL character"),
            ));
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(other) => {
            return Err((
                RejectReason::BadField,
                format!("fault_code = {other} is neither a string nor a number"),
            ));
        }
    };
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-01T02:00:10Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    const GOOD: &str = r#"{"gateway":"GW-001","sent_at":"2026-06-01T10:00:05+08:00","readings":[
        {"device":"INV-001","ts":"2026-06-01T10:00:00+08:00","ac_power_w":52340.5,"energy_total_kwh":123456.78,
         "dc_power_w":54010.0,"grid_voltage_v":231.2,"frequency_hz":50.01,"temperature_c":41.3,"status":"running","fault_code":null},
        {"device":"MTR-001","ts":1780279200000,"export_energy_kwh":98765.4},
        {"device":"WS-001","ts":"2026-06-01T10:00:00+08:00","irradiance_poa_wm2":812.0,"module_temp_c":48.2,"ambient_temp_c":21.0}]}"#;

    #[test]
    fn the_documented_example_parses_completely() {
        let p = parse(GOOD.as_bytes(), "GW-001", now());
        assert!(p.refusals.is_empty(), "{:?}", p.refusals);
        assert_eq!(p.readings.len(), 3);
        let inv = &p.readings[0];
        assert_eq!(inv.ts.to_rfc3339(), "2026-06-01T02:00:00+00:00");
        assert_eq!(inv.reading.ac_power_w, Some(52340.5));
        assert_eq!(inv.reading.status, Some(DeviceStatus::Running));
        assert_eq!(inv.reading.fault_code, None);
        assert_eq!(p.readings[1].ts.timestamp_millis(), 1_780_279_200_000);
        assert_eq!(p.readings[2].reading.irradiance_poa_wm2, Some(812.0));
    }

    #[test]
    fn a_number_beyond_f64_refuses_its_reading_alone() {
        // serde_json refuses the whole document for 1e400; the other readings must survive.
        let text = r#"{"gateway":"GW-001","readings":[
            {"device":"INV-001","ts":"2026-06-01T10:00:00+08:00","ac_power_w":1e400,"fault_code":"1e400"},
            {"device":"INV-002","ts":"2026-06-01T10:00:00+08:00","ac_power_w":-12e999,"status":"running"},
            {"device":"INV-003","ts":"2026-06-01T10:00:00+08:00","ac_power_w":1.5e3,"energy_total_kwh":12}]}"#;
        let p = parse(text.as_bytes(), "GW-001", now());
        assert_eq!(p.readings.len(), 1, "{:?}", p.refusals);
        assert_eq!(p.readings[0].device, "INV-003");
        assert_eq!(p.readings[0].reading.ac_power_w, Some(1500.0));
        let details: Vec<_> = p
            .refusals
            .iter()
            .map(|r| (r.reason, r.detail.as_str()))
            .collect();
        assert_eq!(
            details,
            [
                (
                    RejectReason::ImpossibleValue,
                    "readings[0]: device INV-001: ac_power_w = 1e400 is outside [-50000, 100000000]"
                ),
                (
                    RejectReason::ImpossibleValue,
                    "readings[1]: device INV-002: ac_power_w = -12e999 is outside [-50000, 100000000]"
                ),
            ]
        );
        // Stored as sent; a field other than a measured value is refused too, not read as text.
        assert!(
            p.refusals[0].raw.contains(r#""ac_power_w":1e400"#),
            "{}",
            p.refusals[0].raw
        );
        let odd = parse(
            br#"{"gateway":"GW-001","readings":[{"device":"INV-001","ts":"2026-06-01T10:00:00+08:00","fault_code":-1e999}]}"#,
            "GW-001",
            now(),
        );
        assert!(odd.readings.is_empty());
        assert_eq!(odd.refusals[0].reason, RejectReason::BadField);
        assert_eq!(
            odd.refusals[0].detail,
            "readings[0]: device INV-001: fault_code = -1e999 is beyond the range of a number"
        );
        // Text that only looks like such a number is left alone; broken JSON stays refused whole.
        assert_eq!(
            quote_overflowing_numbers(br#"{"a":"1e400\"x 2e400"}"#),
            None
        );
        let broken = parse(br#"{"gateway":"GW-001","readings":[1e400"#, "GW-001", now());
        assert_eq!(broken.refusals.len(), 1);
        assert_eq!(broken.refusals[0].reason, RejectReason::Unparseable);
        assert!(
            broken.refusals[0].detail.contains("number out of range"),
            "{:?}",
            broken.refusals
        );
    }

    #[test]
    fn a_leading_byte_order_mark_is_ignored() {
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), GOOD.as_bytes()].concat();
        let p = parse(&with_bom, "GW-001", now());
        assert!(p.refusals.is_empty(), "{:?}", p.refusals);
        assert_eq!(p.readings, parse(GOOD.as_bytes(), "GW-001", now()).readings);
        // Only at the start: a mark anywhere else is still not JSON.
        let inside = GOOD.replacen(',', ",\u{feff}", 1);
        let p = parse(inside.as_bytes(), "GW-001", now());
        assert_eq!(p.refusals[0].reason, RejectReason::Unparseable);
    }

    #[test]
    fn a_payload_for_another_gateway_is_refused_whole() {
        let p = parse(GOOD.as_bytes(), "GW-002", now());
        assert!(p.readings.is_empty());
        assert_eq!(p.refusals[0].reason, RejectReason::GatewayMismatch);
    }

    #[test]
    fn garbage_is_refused_and_kept_verbatim() {
        let p = parse(b"{not json", "GW-001", now());
        assert_eq!(p.refusals[0].reason, RejectReason::Unparseable);
        assert_eq!(p.refusals[0].raw, "{not json");
    }

    #[test]
    fn bad_readings_are_refused_one_by_one_and_good_ones_kept() {
        let body = r#"{"gateway":"G","readings":[
            {"device":"A","ts":"2026-06-01T10:00:00+08:00","ac_power_w":1000},
            {"device":"B","ts":"2026-06-01T10:30:00+08:00","ac_power_w":1000},
            {"device":"C","ts":"2026-06-01 10:00","ac_power_w":1000},
            {"device":"D","ts":"2026-06-01T10:00:00+08:00","frequency_hz":90},
            {"device":"E","ts":"2026-06-01T10:00:00+08:00","status":"dancing"},
            {"device":"F","ts":"2026-06-01T10:00:00+08:00","ac_power_w":"lots"},
            {"ts":"2026-06-01T10:00:00+08:00"}]}"#;
        let p = parse(body.as_bytes(), "G", now());
        assert_eq!(p.readings.len(), 1);
        let reasons: Vec<_> = p
            .refusals
            .iter()
            .map(|r| (r.device.as_deref(), r.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                (Some("B"), RejectReason::FutureTimestamp),
                (Some("C"), RejectReason::BadTimestamp),
                (Some("D"), RejectReason::ImpossibleValue),
                (Some("E"), RejectReason::BadField),
                (Some("F"), RejectReason::BadField),
                (None, RejectReason::Unparseable),
            ]
        );
        assert!(
            p.refusals[2].detail.contains("frequency_hz = 90"),
            "{}",
            p.refusals[2].detail
        );
    }

    #[test]
    fn binary_garbage_is_kept_as_base64() {
        let p = parse(b"\x00\x01 not json", "GW-001", now());
        assert_eq!(p.refusals[0].raw, "base64:AAEgbm90IGpzb24=");
    }

    #[test]
    fn nul_characters_never_reach_stored_text() {
        // Fault drills (issue 7): `"device": "A\u0000"` or a fault code with a
        // NUL made the PostgreSQL write fail, and the payload was left unconfirmed (MQTT
        // redelivers it forever, HTTP answered 503) instead of being refused.
        let body = r#"{"gateway":"G","readings":[
            {"device":"A\u0000B","ts":"2026-06-01T10:00:00+08:00","ac_power_w":"x"},
            {"device":"C","ts":"2026-06-01T10:00:00+08:00","fault_code":"E\u00001"}]}"#;
        let p = parse(body.as_bytes(), "G", now());
        assert!(p.readings.is_empty());
        assert_eq!(p.refusals.len(), 2);
        assert_eq!(p.refusals[1].reason, RejectReason::BadField);
        assert_eq!(
            storable_text(p.refusals[0].device.as_deref().unwrap()),
            "A\\u0000B"
        );
        assert!(!storable_text(&p.refusals[0].detail).contains('\0'));
        assert!(
            !p.refusals[0].raw.contains('\0'),
            "raw is re-serialised JSON"
        );
    }

    #[test]
    fn a_timestamp_without_offset_or_in_seconds_is_refused() {
        assert!(timestamp(Some(&Value::String("2026-06-01T10:00:00".into()))).is_err());
        assert!(timestamp(Some(&serde_json::json!(1_780_279_200))).is_err());
        assert!(timestamp(Some(&serde_json::json!(1_780_279_200_000i64))).is_ok());
    }
}

/// Writes payload v1 for `gateway` (the inverse of [`parse`]); unknown values are omitted.
pub fn encode(
    gateway: &str,
    sent_at: DateTime<Utc>,
    readings: &[crate::reading::DeviceReading],
) -> String {
    let items: Vec<Value> = readings
        .iter()
        .map(|r| {
            let mut obj = match serde_json::to_value(&r.reading) {
                Ok(Value::Object(m)) => m,
                _ => Map::new(),
            };
            obj.retain(|_, v| !v.is_null());
            obj.insert("device".into(), Value::String(r.device_code.clone()));
            obj.insert(
                "ts".into(),
                Value::String(r.ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            );
            Value::Object(obj)
        })
        .collect();
    serde_json::json!({ "gateway": gateway, "sent_at": sent_at.to_rfc3339(), "readings": items })
        .to_string()
}

#[cfg(test)]
mod encode_tests {
    use super::*;
    use crate::reading::DeviceReading;

    #[test]
    fn an_encoded_payload_parses_back_to_the_same_readings() {
        let ts = DateTime::parse_from_rfc3339("2026-06-01T02:00:00.250Z")
            .unwrap()
            .with_timezone(&Utc);
        let reading = Reading {
            ac_power_w: Some(1234.5),
            energy_total_kwh: Some(99.25),
            status: Some(DeviceStatus::Running),
            ..Default::default()
        };
        let text = encode(
            "GW-1",
            ts,
            &[DeviceReading {
                device_code: "INV-1".into(),
                ts,
                reading: reading.clone(),
            }],
        );
        let back = parse(text.as_bytes(), "GW-1", ts);
        assert!(back.refusals.is_empty(), "{:?}", back.refusals);
        assert_eq!(back.readings[0].reading, reading);
        assert_eq!(back.readings[0].ts, ts);
    }
}
