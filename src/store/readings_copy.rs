//! Readings as PostgreSQL's binary `COPY` stream (the layout `assess_copy.rs` parses):
//! the writer loads a batch with COPY, which PostgreSQL takes in about half the time of
//! an INSERT from arrays (issue 7: the insert was most of the writer's time).

use super::assess_copy::COPY_SIGNATURE;
use super::telemetry::ReadingRow;

/// The statement the stream is for: its columns in [`encode`]'s order.
pub const COPY_READINGS: &str = "COPY readings (device_id, ts, received_at, ac_power_w, dc_power_w, \
     energy_total_kwh, export_energy_kwh, grid_voltage_v, frequency_hz, temperature_c, \
     irradiance_poa_wm2, module_temp_c, ambient_temp_c, status, fault_code, quality) \
     FROM STDIN WITH (FORMAT binary)";

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 00:00 UTC).
const PG_EPOCH_US: i64 = 946_684_800_000_000;

/// The binary COPY stream of `rows`: header, one tuple per row, trailer.
pub fn encode(rows: &[ReadingRow]) -> Vec<u8> {
    // About 150 bytes a row with every number present.
    let mut out = Vec::with_capacity(19 + rows.len() * 160 + 2);
    out.extend_from_slice(COPY_SIGNATURE);
    out.extend_from_slice(&0i32.to_be_bytes()); // flags
    out.extend_from_slice(&0i32.to_be_bytes()); // header extension length
    for r in rows {
        out.extend_from_slice(&16i16.to_be_bytes());
        field(&mut out, Some(&r.device_id.to_be_bytes()));
        for ts in [r.ts, r.received_at] {
            let us = ts.0.timestamp_micros() - PG_EPOCH_US;
            field(&mut out, Some(&us.to_be_bytes()));
        }
        for v in [
            r.ac_power_w,
            r.dc_power_w,
            r.energy_total_kwh,
            r.export_energy_kwh,
            r.grid_voltage_v,
            r.frequency_hz,
            r.temperature_c,
            r.irradiance_poa_wm2,
            r.module_temp_c,
            r.ambient_temp_c,
        ] {
            field(
                &mut out,
                v.map(|v| v.to_bits().to_be_bytes())
                    .as_ref()
                    .map(|b| &b[..]),
            );
        }
        for text in [&r.status, &r.fault_code] {
            field(&mut out, text.as_deref().map(str::as_bytes));
        }
        field(&mut out, Some(&r.quality.to_be_bytes()));
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out
}

/// One field: its length (−1 for NULL), then its bytes.
fn field(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(b) => {
            out.extend_from_slice(&(b.len() as i32).to_be_bytes());
            out.extend_from_slice(b);
        }
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Ts;
    use crate::store::assess_copy::CopyParser;

    #[test]
    fn a_reading_goes_out_as_its_sixteen_fields() {
        let row = ReadingRow {
            device_id: 7,
            // 2000-01-01 00:00:01.5 UTC: 1.5 s after PostgreSQL's epoch.
            ts: Ts::from_millis(946_684_801_500).unwrap(),
            received_at: Ts::from_millis(946_684_800_000).unwrap(),
            ac_power_w: Some(1500.25),
            dc_power_w: None,
            energy_total_kwh: None,
            export_energy_kwh: None,
            grid_voltage_v: None,
            frequency_hz: None,
            temperature_c: None,
            irradiance_poa_wm2: None,
            module_temp_c: None,
            ambient_temp_c: None,
            status: Some("运行 running".to_owned()),
            fault_code: None,
            quality: 3,
        };
        let stream = encode(&[row.clone(), row]);
        // Read back with the parser the assessment uses for PostgreSQL's own COPY output.
        let mut parser = CopyParser::default();
        let mut tuples = Vec::new();
        parser
            .feed::<16>(&stream, |f| {
                tuples.push(f.map(|v| v.map(<[u8]>::to_vec)));
                Ok(())
            })
            .unwrap();
        assert!(parser.finished, "the trailer ends the stream");
        assert_eq!(tuples.len(), 2);
        let t = &tuples[0];
        assert_eq!(t[0].as_deref(), Some(&7i64.to_be_bytes()[..]));
        assert_eq!(t[1].as_deref(), Some(&1_500_000i64.to_be_bytes()[..]));
        assert_eq!(t[2].as_deref(), Some(&0i64.to_be_bytes()[..]));
        assert_eq!(
            t[3].as_deref(),
            Some(&1500.25f64.to_bits().to_be_bytes()[..])
        );
        assert!(
            t[4..13].iter().all(Option::is_none),
            "absent numbers are NULL"
        );
        assert_eq!(t[13].as_deref(), Some("运行 running".as_bytes()));
        assert_eq!(t[14], None);
        assert_eq!(t[15].as_deref(), Some(&3i16.to_be_bytes()[..]));
    }
}
