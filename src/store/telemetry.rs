//! Row types of the telemetry tables, shared by both backends' copies of telemetry_sql.rs.

use chrono::NaiveDate;
use serde::Serialize;

use super::Ts;

/// One stored raw reading.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ReadingRow {
    #[serde(skip)]
    pub device_id: i64,
    pub ts: Ts,
    pub received_at: Ts,
    pub ac_power_w: Option<f64>,
    pub dc_power_w: Option<f64>,
    pub energy_total_kwh: Option<f64>,
    pub export_energy_kwh: Option<f64>,
    pub grid_voltage_v: Option<f64>,
    pub frequency_hz: Option<f64>,
    pub temperature_c: Option<f64>,
    pub irradiance_poa_wm2: Option<f64>,
    pub module_temp_c: Option<f64>,
    pub ambient_temp_c: Option<f64>,
    pub status: Option<String>,
    pub fault_code: Option<String>,
    /// Bit flags, see `ingest::energy::quality`.
    pub quality: i16,
}

/// What station health reads of a device's newest reading: when, how much AC power, and
/// in what state. The station list asks it of a hundred devices per page, so it carries
/// these three columns, not the reading's sixteen: PostgreSQL sent, and sqlx decoded by
/// name, every column of every row (issue 7, perf).
#[derive(Debug, Clone, PartialEq)]
pub struct LastReading {
    pub ts: Ts,
    pub ac_power_w: Option<f64>,
    pub status: Option<String>,
}

impl From<&ReadingRow> for LastReading {
    fn from(r: &ReadingRow) -> Self {
        LastReading {
            ts: r.ts,
            ac_power_w: r.ac_power_w,
            status: r.status.clone(),
        }
    }
}

/// A device as station health needs it now: its newest reading since some instant, if
/// any, and its energy today, if rolled up. One row per device asked for, so that a page
/// of the station list is one statement (`telemetry::devices_now`), not two.
#[derive(Debug, Clone)]
pub struct DeviceNowRow {
    pub device_id: i64,
    pub last: Option<LastReading>,
    pub today_kwh: Option<f64>,
}

impl DeviceNowRow {
    /// The row from its columns as both backends select them: device, the newest
    /// reading's instant, power and status (all NULL when there is no reading), energy
    /// today.
    pub fn from_columns(
        device_id: i64,
        ts: Option<Ts>,
        ac_power_w: Option<f64>,
        status: Option<String>,
        today_kwh: Option<f64>,
    ) -> Self {
        DeviceNowRow {
            device_id,
            last: ts.map(|ts| LastReading {
                ts,
                ac_power_w,
                status,
            }),
            today_kwh,
        }
    }
}

/// The columns energy is computed from.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SampleRow {
    pub ts: Ts,
    pub counter: Option<f64>,
    pub ac_power_w: Option<f64>,
    pub irradiance_poa_wm2: Option<f64>,
    pub quality: i16,
}

/// A [`SampleRow`] of a named device, for the set-wise reads of a batch.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeviceSampleRow {
    pub device_id: i64,
    #[sqlx(flatten)]
    pub sample: SampleRow,
}

/// Where a device's rollups end (`rollup_tails`): the newest reading they hold and, per
/// quantity, the last reading the next one pairs with, as instant and value.
#[derive(Debug, Clone, Copy, PartialEq, sqlx::FromRow)]
pub struct TailRow {
    pub device_id: i64,
    pub last_ts: Ts,
    pub counter_ts: Option<Ts>,
    pub counter: Option<f64>,
    pub power_ts: Option<Ts>,
    pub power_w: Option<f64>,
    pub irradiance_ts: Option<Ts>,
    pub irradiance_wm2: Option<f64>,
}

/// Per device, the last reading before a span that has each quantity (see
/// `last_before_many`).
#[derive(Debug, Clone, Default)]
pub struct LastBefore {
    pub counter: Option<SampleRow>,
    pub power: Option<SampleRow>,
    pub irradiance: Option<SampleRow>,
}

/// One device's span of time, [from, to), in a set-wise query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceSpan {
    pub device_id: i64,
    pub from: Ts,
    pub to: Ts,
}

/// A device whose rollups trail its readings: the span of readings not yet rolled up
/// (`from` = first, `to` = last), and how often it was marked again since it was first
/// marked. A roll-up removes the mark only if `seq` is still what it read: a reading marked
/// again meanwhile, committed after the roll-up read the readings, keeps its mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub span: DeviceSpan,
    pub seq: i64,
}

/// One device's days, [first, last], in a set-wise query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceDays {
    pub device_id: i64,
    pub first: NaiveDate,
    pub last: NaiveDate,
}

/// A stored hourly row without its source, as the daily rollup reads it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct HourCells {
    pub device_id: i64,
    pub hour: Ts,
    pub energy_kwh: f64,
    pub peak_power_w: Option<f64>,
    pub samples: i32,
    pub irradiation_kwh_m2: Option<f64>,
    pub bad_intervals: i32,
}

/// A device-day as the rollup writes it: the sums of its hours and their masks.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyWrite {
    pub device_id: i64,
    pub day: NaiveDate,
    pub energy_kwh: f64,
    pub peak_power_w: Option<f64>,
    pub samples: i32,
    pub irradiation_kwh_m2: Option<f64>,
    pub bad_intervals: i32,
    pub data_hours: i32,
    pub producing_hours: i32,
}

/// Refused input to store.
#[derive(Debug, Clone)]
pub struct RejectionRow {
    pub received_at: Ts,
    pub source: String,
    pub gateway: Option<String>,
    pub device: Option<String>,
    pub reason: &'static str,
    pub detail: String,
    pub payload: String,
}

/// Refused input as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct StoredRejection {
    pub id: i64,
    pub received_at: Ts,
    pub source: String,
    pub gateway: Option<String>,
    pub device: Option<String>,
    pub reason: String,
    pub detail: String,
    pub payload: String,
}

/// One device-hour of energy.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct HourlyRow {
    #[serde(skip)]
    pub device_id: i64,
    pub hour: Ts,
    pub energy_kwh: f64,
    pub peak_power_w: Option<f64>,
    pub samples: i32,
    pub irradiation_kwh_m2: Option<f64>,
    pub bad_intervals: i32,
    pub source: String,
}

/// One device-day of energy (local day): what its readers use. The day's peak, irradiation
/// and bad intervals stay in the table: a year of daily energy reads 365 rows a station,
/// and the columns nobody uses cost PostgreSQL and the decoder all the same (issue 7).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct DailyRow {
    #[serde(skip)]
    pub device_id: i64,
    pub day: NaiveDate,
    pub energy_kwh: f64,
    pub samples: i32,
}

/// The day's hour masks from its hourly rows (hour, kWh, samples): bit i set when the i-th
/// hour after `day_start` had readings (`data`) or positive energy (`producing`).
pub fn hour_masks(day_start: Ts, hours: &[(Ts, f64, i32)]) -> (i32, i32) {
    let (mut data, mut producing) = (0, 0);
    for (hour, kwh, samples) in hours {
        let i = (hour.0 - day_start.0).num_hours();
        // A local day has at most 25 hours (a DST change); bit 31 is the sign.
        if !(0..30).contains(&i) {
            continue;
        }
        if *samples > 0 {
            data |= 1 << i;
        }
        if *kwh > 0.0 {
            producing |= 1 << i;
        }
    }
    (data, producing)
}

/// One batch's devices whose rollups trail its readings, as `rollup_pending` stores them:
/// per device its id and first and last new reading (Unix ms), as little-endian i64s.
pub fn encode_spans(spans: &[DeviceSpan]) -> Vec<u8> {
    let mut out = Vec::with_capacity(spans.len() * 24);
    for s in spans {
        for n in [
            s.device_id,
            s.from.0.timestamp_millis(),
            s.to.0.timestamp_millis(),
        ] {
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
    out
}

/// The spans of [`encode_spans`] (milliseconds: the rollups work in hours).
pub fn decode_spans(bytes: &[u8]) -> Vec<DeviceSpan> {
    let n = |b: &[u8]| i64::from_le_bytes(b.try_into().expect("8 bytes"));
    bytes
        .chunks_exact(24)
        .filter_map(|c| {
            Some(DeviceSpan {
                device_id: n(&c[..8]),
                from: Ts::from_millis(n(&c[8..16]))?,
                to: Ts::from_millis(n(&c[16..]))?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_spans_come_back_as_written_to_the_millisecond() {
        let at = |ms: i64| Ts::from_millis(ms).unwrap();
        let spans = [
            DeviceSpan {
                device_id: 7,
                from: at(1_780_000_000_123),
                to: at(1_780_000_060_000),
            },
            DeviceSpan {
                device_id: i64::MAX,
                from: at(0),
                to: at(1),
            },
        ];
        assert_eq!(decode_spans(&encode_spans(&spans)), spans);
    }

    #[test]
    fn hour_masks_mark_hours_with_data_and_with_production() {
        let start = Ts::from_millis(1_780_000_000_000).unwrap();
        let h = |i: i64| Ts(start.0 + chrono::Duration::hours(i));
        let rows = [
            (h(0), 0.0, 3),
            (h(6), 1.5, 60),
            (h(7), 0.0, 60),
            (h(9), 2.0, 0),
        ];
        let (data, producing) = hour_masks(start, &rows);
        assert_eq!(data, 0b1100_0001);
        assert_eq!(producing, 0b10_0100_0000);
    }
}

/// The columns of a device-day the efficacy assessment reads.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AssessDayRow {
    pub device_id: i64,
    pub day: NaiveDate,
    pub energy_kwh: f64,
    pub samples: i32,
    pub irradiation_kwh_m2: Option<f64>,
    pub data_hours: i32,
    pub producing_hours: i32,
}
