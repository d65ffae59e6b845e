//! Decoding SunSpec models 1, 101-103, 111-113, 120 and 160 into a [`Reading`].
//!
//! Where a device offers the same quantity twice, the float inverter models (111-113) are
//! preferred over the integer+SF ones (101-103), following the field notes' source order;
//! the other model only fills gaps. DC power falls back to the sum of the MPPT modules
//! when the inverter model does not implement `DCW`.

use super::chain::ModelChain;
use super::layout::{common, inverter_float as flt, inverter_int as int, layout_for, nameplate};
use super::mppt::{MpptModule, decode_mppt};
use super::view::{Issue, View};
use crate::modbus::block::RegisterBlock;
use crate::modbus::words::WordType;
use crate::reading::{DeviceStatus, Reading};

/// SunSpec inverter operating state (`St`, models 101-103 and 111-113).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperatingState {
    /// 1: off.
    Off,
    /// 2: sleeping (auto-shutdown, e.g. at night).
    Sleeping,
    /// 3: starting up.
    Starting,
    /// 4: tracking maximum power point (normal production).
    Mppt,
    /// 5: forced power reduction.
    Throttled,
    /// 6: shutting down.
    ShuttingDown,
    /// 7: one or more faults.
    Fault,
    /// 8: standby (service on unit).
    Standby,
}

impl OperatingState {
    /// The state for an `St` code, `None` for codes outside 1..=8.
    pub fn from_code(code: u16) -> Option<OperatingState> {
        use OperatingState::*;
        [
            Off,
            Sleeping,
            Starting,
            Mppt,
            Throttled,
            ShuttingDown,
            Fault,
            Standby,
        ]
        .get(usize::from(code).checked_sub(1)?)
        .copied()
    }

    /// The `St` code.
    pub fn code(self) -> u16 {
        self as u16 + 1
    }

    /// The normalised status. Sleeping is standby (night is not an outage); shutting down
    /// is reported as off.
    pub fn device_status(self) -> DeviceStatus {
        match self {
            OperatingState::Off | OperatingState::ShuttingDown => DeviceStatus::Off,
            OperatingState::Sleeping | OperatingState::Standby => DeviceStatus::Standby,
            OperatingState::Starting => DeviceStatus::Starting,
            OperatingState::Mppt => DeviceStatus::Running,
            OperatingState::Throttled => DeviceStatus::Throttled,
            OperatingState::Fault => DeviceStatus::Fault,
        }
    }
}

/// `Evt1` bit names (bit 0 first), from the 101-103/111-113 model definitions.
pub const EVT1_NAMES: [&str; 16] = [
    "GROUND_FAULT",
    "DC_OVER_VOLT",
    "AC_DISCONNECT",
    "DC_DISCONNECT",
    "GRID_DISCONNECT",
    "CABINET_OPEN",
    "MANUAL_SHUTDOWN",
    "OVER_TEMP",
    "OVER_FREQUENCY",
    "UNDER_FREQUENCY",
    "AC_OVER_VOLT",
    "AC_UNDER_VOLT",
    "BLOWN_STRING_FUSE",
    "UNDER_TEMP",
    "MEMORY_LOSS",
    "HW_TEST_FAILURE",
];

/// The names of the set bits of `Evt1` (`BIT16`.. for bits the model leaves unnamed).
pub fn evt1_names(bits: u32) -> Vec<String> {
    (0..32)
        .filter(|bit| bits & (1 << bit) != 0)
        .map(|bit| match EVT1_NAMES.get(bit) {
            Some(name) => (*name).to_owned(),
            None => format!("BIT{bit}"),
        })
        .collect()
}

/// Model 1: who made the device and what it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommonInfo {
    /// `Mn`.
    pub manufacturer: Option<String>,
    /// `Md`.
    pub model: Option<String>,
    /// `Opt`.
    pub options: Option<String>,
    /// `Vr`: firmware version.
    pub version: Option<String>,
    /// `SN`.
    pub serial: Option<String>,
    /// `DA`: Modbus device address.
    pub device_address: Option<u16>,
}

/// Inverter details beyond the [`Reading`] fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InverterInfo {
    /// The model that supplied the primary values (101-103 or 111-113).
    pub model_id: u16,
    /// `St` as a SunSpec state.
    pub operating_state: Option<OperatingState>,
    /// `St` as read, when it is not one of the eight defined codes.
    pub unknown_state_code: Option<u16>,
    /// `StVnd`, vendor-specific state.
    pub vendor_state: Option<u16>,
    /// `Evt1` raw bits, `None` if not implemented.
    pub events: Option<u32>,
    /// `DCV`, V.
    pub dc_voltage_v: Option<f64>,
    /// `DCA`, A.
    pub dc_current_a: Option<f64>,
}

/// Everything decoded from one poll of a SunSpec device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoded {
    /// The payload-shaped values.
    pub reading: Reading,
    /// Model 1, if read.
    pub common: Option<CommonInfo>,
    /// Inverter model details, if an inverter model was read.
    pub inverter: Option<InverterInfo>,
    /// Model 120 `WRtg`, W.
    pub rated_power_w: Option<f64>,
    /// Model 160 modules, in device order.
    pub mppt: Vec<MpptModule>,
    /// What went wrong or looked odd (missing models, changed IDs, unverified SFs).
    pub issues: Vec<Issue>,
}

/// Decodes every supported model of `chain` from the `blocks` read per [`super::plan_reads`].
pub fn decode(chain: &ModelChain, blocks: &[RegisterBlock]) -> Decoded {
    let mut out = Decoded::default();
    let mut inverters: Vec<(Reading, InverterInfo)> = Vec::new();
    for model in &chain.models {
        if layout_for(model.id).is_none() {
            continue;
        }
        let Some(mut view) = View::open(*model, blocks, &mut out.issues) else {
            continue;
        };
        match model.id {
            1 => out.common = Some(decode_common(&view)),
            101..=103 => inverters.push(decode_inverter_int(&mut view)),
            111..=113 => inverters.push(decode_inverter_float(&view)),
            120 => {
                out.rated_power_w = view.scaled(nameplate::WRTG, WordType::U16, nameplate::WRTG_SF);
            }
            _ => out.mppt.extend(decode_mppt(&mut view)),
        }
    }

    // Float models first: the preferred source wins, the others fill its gaps.
    inverters.sort_by_key(|(_, info)| !(111..=113).contains(&info.model_id));
    let mut sources = inverters.into_iter();
    if let Some((reading, info)) = sources.next() {
        out.reading = reading;
        out.inverter = Some(info);
    }
    for (reading, _) in sources {
        out.reading.fill_missing_from(&reading);
    }

    if out.reading.dc_power_w.is_none() && !out.mppt.is_empty() {
        out.reading.dc_power_w = out.mppt.iter().map(|m| m.dc_power_w).sum();
    }
    out
}

fn decode_common(view: &View<'_>) -> CommonInfo {
    CommonInfo {
        manufacturer: view.string(common::MN, 16),
        model: view.string(common::MD, 16),
        options: view.string(common::OPT, 8),
        version: view.string(common::VR, 8),
        serial: view.string(common::SN, 16),
        device_address: view.u16(common::DA),
    }
}

/// Fills status, fault code and state details from `St`, `StVnd` and `Evt1`.
fn decode_state(view: &View<'_>, st: u16, stvnd: u16, evt1: u16) -> (Reading, InverterInfo) {
    let code = view.u16(st);
    let state = code.and_then(OperatingState::from_code);
    let events = view.u32(evt1);
    let reading = Reading {
        status: code.map(|_| state.map_or(DeviceStatus::Unknown, |s| s.device_status())),
        fault_code: events
            .map(evt1_names)
            .filter(|names| !names.is_empty())
            .map(|names| names.join(",")),
        ..Reading::default()
    };
    let info = InverterInfo {
        model_id: view.model().id,
        operating_state: state,
        unknown_state_code: code.filter(|_| state.is_none()),
        vendor_state: view.u16(stvnd),
        events,
        ..InverterInfo::default()
    };
    (reading, info)
}

fn decode_inverter_int(view: &mut View<'_>) -> (Reading, InverterInfo) {
    let (mut reading, mut info) = decode_state(view, int::ST, int::STVND, int::EVT1);
    reading.ac_power_w = view.scaled(int::W, WordType::I16, int::W_SF);
    reading.dc_power_w = view.scaled(int::DCW, WordType::I16, int::DCW_SF);
    reading.energy_total_kwh = view
        .scaled(int::WH, WordType::Acc32, int::WH_SF)
        .map(|wh| wh / 1000.0);
    reading.grid_voltage_v = view.scaled(int::PHVPHA, WordType::U16, int::V_SF);
    reading.frequency_hz = view.scaled(int::HZ, WordType::U16, int::HZ_SF);
    reading.temperature_c = view
        .scaled(int::TMPCAB, WordType::I16, int::TMP_SF)
        .or_else(|| view.scaled(int::TMPSNK, WordType::I16, int::TMP_SF));
    info.dc_voltage_v = view.scaled(int::DCV, WordType::U16, int::DCV_SF);
    info.dc_current_a = view.scaled(int::DCA, WordType::U16, int::DCA_SF);
    (reading, info)
}

fn decode_inverter_float(view: &View<'_>) -> (Reading, InverterInfo) {
    let (mut reading, mut info) = decode_state(view, flt::ST, flt::STVND, flt::EVT1);
    reading.ac_power_w = view.float(flt::W);
    reading.dc_power_w = view.float(flt::DCW);
    reading.energy_total_kwh = view.float(flt::WH).map(|wh| wh / 1000.0);
    reading.grid_voltage_v = view.float(flt::PHVPHA);
    reading.frequency_hz = view.float(flt::HZ);
    reading.temperature_c = view.float(flt::TMPCAB).or_else(|| view.float(flt::TMPSNK));
    info.dc_voltage_v = view.float(flt::DCV);
    info.dc_current_a = view.float(flt::DCA);
    (reading, info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operating_state_codes_one_to_eight_round_trip() {
        for code in 1..=8 {
            assert_eq!(
                OperatingState::from_code(code).map(|s| s.code()),
                Some(code)
            );
        }
        assert_eq!(OperatingState::from_code(0), None);
        assert_eq!(OperatingState::from_code(9), None);
    }

    #[test]
    fn sleeping_at_night_is_standby_not_a_fault() {
        assert_eq!(
            OperatingState::Sleeping.device_status(),
            DeviceStatus::Standby
        );
        assert_eq!(OperatingState::Mppt.device_status(), DeviceStatus::Running);
        assert_eq!(OperatingState::Fault.device_status(), DeviceStatus::Fault);
    }

    #[test]
    fn event_bits_become_names_in_bit_order() {
        assert_eq!(
            evt1_names(1 | 1 << 7 | 1 << 20),
            vec!["GROUND_FAULT", "OVER_TEMP", "BIT20"]
        );
        assert!(evt1_names(0).is_empty());
    }
}
