//! Register images for the simulator, built from the values a test expects back.
//!
//! A test states a [`Reading`]; these helpers encode it the way a device would (SunSpec
//! models 1 + 103 + 160 with scale factors chosen to carry the values exactly, or a vendor
//! profile's registers through [`Profile::encode`]), so the test can assert that the
//! poller's reading equals what went in.

use super::block::RegisterKind;
use super::profile::{EncodeError, Profile, shipped};
use super::sim_server::UnitImage;
use super::sunspec::image::{
    self, CommonBlock, ImageError, ImageModel, InverterBlock, InverterScale, MpptBlock, MpptInput,
    MpptScale,
};
use super::sunspec::{EVT1_NAMES, OperatingState};
use super::words::apply_sf;
use crate::reading::{DeviceStatus, Reading};

/// Where the SunSpec images put "SunS".
pub const SUNSPEC_BASE: u16 = 40000;

/// The register image of a SunSpec inverter (models 1, 103, 160) reporting `reading`.
///
/// `serial` goes into model 1; `mppt_inputs` trackers share the DC power equally in model
/// 160. Scale factors are chosen per value so that it decodes back exactly where the
/// register allows. An `Unknown` status is written as "not implemented".
pub fn sunspec_image(
    reading: &Reading,
    serial: &str,
    mppt_inputs: u16,
) -> Result<UnitImage, ImageError> {
    let words = image::build(&sunspec_models(reading, serial, mppt_inputs))?;
    let mut unit = UnitImage::default();
    unit.set_block(RegisterKind::Holding, SUNSPEC_BASE, &words);
    Ok(unit)
}

/// The models [`sunspec_image`] lays out, for callers that want to add their own.
pub fn sunspec_models(reading: &Reading, serial: &str, mppt_inputs: u16) -> Vec<ImageModel> {
    const I16: (f64, f64) = (-32767.0, 32767.0);
    const U16: (f64, f64) = (0.0, 65534.0);
    const ACC32: (f64, f64) = (1.0, 4_294_967_295.0);
    let wh = reading.energy_total_kwh.map(|kwh| kwh * 1000.0);
    let scale = InverterScale {
        w: fit_sf(reading.ac_power_w, I16),
        dcw: fit_sf(reading.dc_power_w, I16),
        wh: fit_sf(wh, ACC32),
        v: fit_sf(reading.grid_voltage_v, U16),
        hz: fit_sf(reading.frequency_hz, U16),
        tmp: fit_sf(reading.temperature_c, I16),
        ..InverterScale::default()
    };
    let inverter = InverterBlock {
        model_id: 103,
        ac_power_w: reading.ac_power_w,
        dc_power_w: reading.dc_power_w,
        energy_total_kwh: reading.energy_total_kwh,
        grid_voltage_v: reading.grid_voltage_v,
        frequency_hz: reading.frequency_hz,
        cabinet_temp_c: reading.temperature_c,
        sink_temp_c: None,
        dc_voltage_v: None,
        dc_current_a: None,
        state: reading.status.and_then(operating_state),
        vendor_state: None,
        events: Some(event_bits(reading.fault_code.as_deref())),
        scale,
    };
    let per_input = reading
        .dc_power_w
        .map(|w| w / f64::from(mppt_inputs.max(1)));
    let mppt = MpptBlock {
        modules: (1..=mppt_inputs)
            .map(|id| MpptInput {
                id,
                label: format!("PV{id}"),
                dc_power_w: per_input,
                state_code: Some(4),
                ..MpptInput::default()
            })
            .collect(),
        scale: MpptScale {
            dcw: fit_sf(per_input, U16),
            ..MpptScale::default()
        },
    };
    vec![
        ImageModel::Common(CommonBlock {
            manufacturer: "pvledger".into(),
            model: "SIM-SUNSPEC-103".into(),
            version: "1.0".into(),
            serial: serial.into(),
            device_address: Some(1),
            ..CommonBlock::default()
        }),
        ImageModel::Inverter(inverter),
        ImageModel::Mppt(mppt),
    ]
}

/// The register image of a device read with `profile`, reporting `reading`.
pub fn profile_image(profile: &Profile, reading: &Reading) -> Result<UnitImage, EncodeError> {
    let registers = profile.encode(reading)?;
    let mut unit = UnitImage::default();
    unit.table_mut(profile.register_kind).extend(registers);
    Ok(unit)
}

/// The register image of a Huawei SUN2000 (the shipped profile) reporting `reading`.
pub fn huawei_sun2000_image(reading: &Reading) -> Result<UnitImage, EncodeError> {
    let profile = Profile::from_toml_str(shipped::HUAWEI_SUN2000)
        .unwrap_or_else(|e| panic!("the shipped Huawei profile is tested to load: {e}"));
    profile_image(&profile, reading)
}

/// The finest scale factor (-3..=4) that carries `value` exactly within `range`, else the
/// first that fits at all; 0 for unknown values.
fn fit_sf(value: Option<f64>, (min, max): (f64, f64)) -> i16 {
    let Some(value) = value else {
        return 0;
    };
    let fits = |sf: i16| {
        let raw = apply_sf(value, -sf);
        raw.round() >= min && raw.round() <= max
    };
    let exact = |sf: i16| {
        let raw = apply_sf(value, -sf);
        (raw - raw.round()).abs() <= 1e-6 * raw.abs().max(1.0)
    };
    (-3..=4)
        .find(|&sf| fits(sf) && exact(sf))
        .or_else(|| (-3..=4).find(|&sf| fits(sf)))
        .unwrap_or(0)
}

fn operating_state(status: DeviceStatus) -> Option<OperatingState> {
    Some(match status {
        DeviceStatus::Running => OperatingState::Mppt,
        DeviceStatus::Standby => OperatingState::Sleeping,
        DeviceStatus::Starting => OperatingState::Starting,
        DeviceStatus::Throttled => OperatingState::Throttled,
        DeviceStatus::Fault => OperatingState::Fault,
        DeviceStatus::Off => OperatingState::Off,
        DeviceStatus::Unknown => return None,
    })
}

/// `Evt1` bits from a fault code as the SunSpec decoder writes it ("GROUND_FAULT,BIT20").
fn event_bits(fault_code: Option<&str>) -> u32 {
    fault_code
        .into_iter()
        .flat_map(|text| text.split(','))
        .filter_map(|name| {
            let name = name.trim();
            EVT1_NAMES
                .iter()
                .position(|n| *n == name)
                .or_else(|| name.strip_prefix("BIT")?.parse().ok())
        })
        .filter(|bit| *bit < 32)
        .fold(0, |bits, bit| bits | 1 << bit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modbus::block::RegisterBlock;
    use crate::modbus::sunspec;

    fn reading() -> Reading {
        Reading {
            ac_power_w: Some(23_450.0),
            dc_power_w: Some(24_100.0),
            energy_total_kwh: Some(123_456.7),
            grid_voltage_v: Some(231.4),
            frequency_hz: Some(50.02),
            temperature_c: Some(41.5),
            status: Some(DeviceStatus::Fault),
            fault_code: Some("GROUND_FAULT,OVER_TEMP".into()),
            ..Reading::default()
        }
    }

    #[test]
    fn a_sunspec_image_decodes_back_to_its_reading() {
        let unit = sunspec_image(&reading(), "SN1", 2).unwrap();
        let words: Vec<u16> = unit.holding.values().copied().collect();
        let chain = sunspec::image::walk(&words, SUNSPEC_BASE).unwrap();
        assert_eq!(chain.ids(), vec![1, 103, 160]);
        let blocks: Vec<RegisterBlock> = sunspec::plan_reads(&chain, 125)
            .iter()
            .map(|r| sunspec::image::read(&words, SUNSPEC_BASE, r).unwrap())
            .collect();
        assert_eq!(sunspec::decode(&chain, &blocks).reading, reading());
    }

    #[test]
    fn scale_factors_are_chosen_to_carry_the_value_exactly() {
        let range = (-32767.0, 32767.0);
        assert_eq!(fit_sf(Some(41.5), range), -2, "41500 would not fit int16");
        assert_eq!(fit_sf(Some(1.5), range), -3);
        assert_eq!(fit_sf(Some(48_760.0), range), 1);
        assert_eq!(fit_sf(Some(48_765.0), range), 1, "inexact but fits");
        assert_eq!(fit_sf(None, range), 0);
    }

    #[test]
    fn a_huawei_image_holds_the_profiles_registers() {
        let unit = huawei_sun2000_image(&reading_without_sunspec_fault()).unwrap();
        assert_eq!(unit.holding[&32069], 2314);
        assert!(unit.input.is_empty());
    }

    fn reading_without_sunspec_fault() -> Reading {
        Reading {
            fault_code: None,
            status: Some(DeviceStatus::Running),
            ..reading()
        }
    }
}
