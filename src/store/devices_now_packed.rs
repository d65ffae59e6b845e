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
use super::telemetry::DeviceNowRow;

/// A REAL column as exact text, or NULL.
fn exact(column: &str) -> String {
    format!("CASE WHEN {column} IS NULL THEN NULL ELSE printf('%!.17g', {column}) END")
}

/// The select list: one JSON text for all devices, in the order of [`Packed`]'s fields.
pub fn select_list() -> String {
    format!(
        "json_group_array(json_array(w.column1, r.ts, {}, r.status, {}))",
        exact("r.ac_power_w"),
        exact("e.energy_kwh")
    )
}

/// One device's array, as [`select_list`] writes it: id, the newest reading's instant (ms),
/// AC power as text and status, energy today as text.
#[derive(Deserialize)]
struct Packed(
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
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

fn row(Packed(device_id, ts, ac, status, today): Packed) -> Result<DeviceNowRow, sqlx::Error> {
    // No reading since the instant asked: the LEFT JOIN's NULLs.
    let ts = ts.map(|ms| instant(device_id, ms)).transpose()?;
    Ok(DeviceNowRow::from_columns(
        device_id,
        ts,
        real(device_id, ac)?,
        status,
        real(device_id, today)?,
    ))
}
