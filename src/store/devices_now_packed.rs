//! SQLite's `devices_now` (a page of the station list's health) as one row: each device's
//! newest reading and energy today as a JSON array, all of them in one JSON text.
//!
//! sqlx-sqlite hands every row from its worker thread to the request as a message of its
//! own; a page of 100 devices was 100 messages, and with the wake-ups they cost most of
//! the page's time (issue 7; the same cure as a station's year of energy, store/mod.rs
//! `lite::telemetry::daily`). REAL columns go as `printf('%!.17g')` text, which keeps every
//! bit of a double (SQLite's own JSON numbers keep 15 digits); text columns go as JSON
//! strings, escaped by SQLite.

use serde::Deserialize;

use super::Ts;
use super::telemetry::{DeviceNowRow, ReadingRow};

/// A REAL column as exact text, or NULL.
fn exact(column: &str) -> String {
    format!("CASE WHEN {column} IS NULL THEN NULL ELSE printf('%!.17g', {column}) END")
}

/// The select list: one JSON text for all devices, in the order of [`Packed`]'s fields.
pub fn select_list() -> String {
    let reals = [
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
    ]
    .map(|c| exact(&format!("r.{c}")))
    .join(", ");
    format!(
        "json_group_array(json_array(w.column1, r.ts, r.received_at, {reals}, \
         r.status, r.fault_code, r.quality, {}))",
        exact("e.energy_kwh")
    )
}

/// One device's array, as [`select_list`] writes it: id, instant, received, the ten REAL
/// columns as text, status, fault code, quality, energy today as text.
#[derive(Deserialize)]
struct Packed(
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i16>,
    Option<String>,
);

fn instant(device_id: i64, ms: i64) -> Result<Ts, sqlx::Error> {
    Ts::from_millis(ms).ok_or_else(|| {
        sqlx::Error::Decode(
            format!("newest reading of device {device_id}: instant {ms} ms out of range").into(),
        )
    })
}

fn real(device_id: i64, text: Option<String>) -> Result<Option<f64>, sqlx::Error> {
    text.map(|t| {
        t.parse::<f64>().map_err(|_| {
            sqlx::Error::Decode(
                format!("newest reading of device {device_id}: bad number {t:?}").into(),
            )
        })
    })
    .transpose()
}

/// The rows of a JSON text made by [`select_list`]; an error names what did not parse.
pub fn unpack(json: &str) -> Result<Vec<DeviceNowRow>, sqlx::Error> {
    let packed: Vec<Packed> = serde_json::from_str(json).map_err(|e| {
        sqlx::Error::Decode(format!("newest readings of a page of devices: {e}").into())
    })?;
    packed.into_iter().map(row).collect()
}

fn row(p: Packed) -> Result<DeviceNowRow, sqlx::Error> {
    let Packed(
        device_id,
        ts,
        received_at,
        ac,
        dc,
        total,
        export,
        voltage,
        hz,
        temp,
        poa,
        module,
        ambient,
        status,
        fault_code,
        quality,
        today,
    ) = p;
    let reading = match (ts, received_at, quality) {
        (Some(ts), Some(received_at), Some(quality)) => Some(ReadingRow {
            device_id,
            ts: instant(device_id, ts)?,
            received_at: instant(device_id, received_at)?,
            ac_power_w: real(device_id, ac)?,
            dc_power_w: real(device_id, dc)?,
            energy_total_kwh: real(device_id, total)?,
            export_energy_kwh: real(device_id, export)?,
            grid_voltage_v: real(device_id, voltage)?,
            frequency_hz: real(device_id, hz)?,
            temperature_c: real(device_id, temp)?,
            irradiance_poa_wm2: real(device_id, poa)?,
            module_temp_c: real(device_id, module)?,
            ambient_temp_c: real(device_id, ambient)?,
            status,
            fault_code,
            quality,
        }),
        // No reading since the instant asked (the LEFT JOIN's NULLs).
        _ => None,
    };
    Ok(DeviceNowRow {
        device_id,
        reading,
        today_kwh: real(device_id, today)?,
    })
}
