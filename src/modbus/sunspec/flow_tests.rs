//! End-to-end tests of the SunSpec flow against built register images: discover, walk,
//! plan, read, decode, and get back the values the image was built from.

use super::image::{
    self, CommonBlock, ImageError, ImageModel, InverterBlock, InverterScale, MpptBlock, MpptInput,
    MpptScale, NameplateBlock,
};
use super::*;
use crate::modbus::block::RegisterBlock;
use crate::reading::{DeviceStatus, Reading};

const BASE: u16 = 40000;

fn common() -> CommonBlock {
    CommonBlock {
        manufacturer: "Huawei".into(),
        model: "SUN2000-50KTL-M3".into(),
        options: String::new(),
        version: "V100R001C10".into(),
        serial: "ES2190012345".into(),
        device_address: Some(1),
        legacy_length: false,
    }
}

fn inverter(model_id: u16) -> InverterBlock {
    InverterBlock {
        model_id,
        ac_power_w: Some(23450.0),
        dc_power_w: Some(24100.0),
        energy_total_kwh: Some(123456.7),
        grid_voltage_v: Some(231.4),
        frequency_hz: Some(50.02),
        cabinet_temp_c: Some(41.5),
        sink_temp_c: None,
        dc_voltage_v: Some(612.3),
        dc_current_a: Some(39.36),
        state: Some(OperatingState::Mppt),
        vendor_state: None,
        events: Some(0),
        scale: InverterScale {
            w: 1,
            dcw: 1,
            wh: 2,
            ..InverterScale::default()
        },
    }
}

fn module(id: u16, watts: f64) -> MpptInput {
    MpptInput {
        id,
        label: format!("PV{id}"),
        dc_current_a: Some(8.12),
        dc_voltage_v: Some(612.3),
        dc_power_w: Some(watts),
        dc_energy_kwh: Some(2345.678),
        temperature_c: Some(38),
        state_code: Some(4),
    }
}

fn mppt(count: u16) -> MpptBlock {
    MpptBlock {
        modules: (1..=count)
            .map(|id| module(id, 1000.0 + f64::from(id)))
            .collect(),
        scale: MpptScale {
            dca: -2,
            dcv: -1,
            dcw: 0,
            dcwh: 0,
        },
    }
}

/// Everything a poller does, with the image standing in for the device.
fn poll(image: &[u16]) -> (ModelChain, Vec<ReadRequest>, Decoded) {
    let mut discovery = Discovery::new();
    let mut step = DiscoveryStep::Probe(discovery.next_probe().unwrap());
    let first_header = loop {
        match step {
            DiscoveryStep::Found { first_header, .. } => break first_header,
            DiscoveryStep::Probe(request) => {
                let reply = image::read(image, BASE, &request);
                step = discovery.on_reply(reply.as_ref().map(|b| &b.registers[..]));
            }
            DiscoveryStep::NotSunSpec => panic!("image not discovered"),
        }
    };
    assert_eq!(first_header, BASE + 2);
    let chain = image::walk(image, BASE).unwrap();
    let plan = plan_reads(&chain, 125);
    let blocks: Vec<RegisterBlock> = plan
        .iter()
        .map(|request| image::read(image, BASE, request).unwrap())
        .collect();
    let decoded = decode(&chain, &blocks);
    (chain, plan, decoded)
}

#[test]
fn a_built_image_round_trips_through_walk_plan_and_decode() {
    let image = image::build(&[
        ImageModel::Common(common()),
        ImageModel::Inverter(inverter(103)),
        ImageModel::Mppt(mppt(2)),
    ])
    .unwrap();

    let (chain, plan, decoded) = poll(&image);

    assert!(chain.complete);
    assert_eq!(chain.ids(), vec![1, 103, 160]);
    assert!(plan.iter().all(|r| r.count <= 125));
    assert_eq!(
        decoded.reading,
        Reading {
            ac_power_w: Some(23450.0),
            dc_power_w: Some(24100.0),
            energy_total_kwh: Some(123456.7),
            grid_voltage_v: Some(231.4),
            frequency_hz: Some(50.02),
            temperature_c: Some(41.5),
            status: Some(DeviceStatus::Running),
            ..Reading::default()
        }
    );
    let common = decoded.common.unwrap();
    assert_eq!(common.manufacturer.as_deref(), Some("Huawei"));
    assert_eq!(common.model.as_deref(), Some("SUN2000-50KTL-M3"));
    assert_eq!(common.serial.as_deref(), Some("ES2190012345"));
    assert_eq!(common.version.as_deref(), Some("V100R001C10"));
    assert_eq!(common.options, None);
    let info = decoded.inverter.unwrap();
    assert_eq!(info.dc_voltage_v, Some(612.3));
    assert_eq!(info.dc_current_a, Some(39.36));
    assert_eq!(decoded.mppt.len(), 2);
    assert_eq!(decoded.mppt[1].label.as_deref(), Some("PV2"));
    assert_eq!(decoded.mppt[1].dc_power_w, Some(1002.0));
    assert_eq!(decoded.mppt[0].dc_energy_kwh, Some(2345.678));
    assert!(decoded.issues.is_empty(), "{:?}", decoded.issues);
}

#[test]
fn the_float_inverter_model_decodes_the_same_values() {
    let image = image::build(&[ImageModel::Inverter(inverter(113))]).unwrap();
    let (_, _, decoded) = poll(&image);
    let reading = decoded.reading;
    // float32 carries about 7 significant digits.
    let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() <= b.abs() * 1e-6;
    assert!(close(reading.ac_power_w, 23450.0));
    assert!(close(reading.energy_total_kwh, 123456.7));
    assert!(close(reading.frequency_hz, 50.02));
    assert_eq!(reading.status, Some(DeviceStatus::Running));
    assert_eq!(decoded.inverter.unwrap().model_id, 113);
}

#[test]
fn the_float_model_is_preferred_and_the_integer_model_fills_its_gaps() {
    let mut float = inverter(113);
    float.ac_power_w = Some(1000.0);
    float.grid_voltage_v = None;
    let mut int = inverter(103);
    int.ac_power_w = Some(2000.0);
    let image = image::build(&[ImageModel::Inverter(int), ImageModel::Inverter(float)]).unwrap();
    let (_, _, decoded) = poll(&image);
    assert_eq!(decoded.reading.ac_power_w, Some(1000.0));
    assert_eq!(decoded.reading.grid_voltage_v, Some(231.4));
}

#[test]
fn unimplemented_points_decode_as_none_not_zero() {
    let mut block = inverter(101);
    block.ac_power_w = None;
    block.energy_total_kwh = None;
    block.cabinet_temp_c = None;
    block.sink_temp_c = Some(55.0);
    block.state = None;
    block.events = None;
    let image = image::build(&[ImageModel::Inverter(block)]).unwrap();
    let reading = poll(&image).2.reading;
    assert_eq!(reading.ac_power_w, None);
    assert_eq!(reading.energy_total_kwh, None);
    assert_eq!(reading.temperature_c, Some(55.0), "falls back to TmpSnk");
    assert_eq!(reading.status, None);
    assert_eq!(reading.fault_code, None);
}

#[test]
fn fault_state_and_event_bits_become_status_and_fault_code() {
    let mut block = inverter(103);
    block.state = Some(OperatingState::Fault);
    block.events = Some(1 << 0 | 1 << 11);
    let image = image::build(&[ImageModel::Inverter(block)]).unwrap();
    let reading = poll(&image).2.reading;
    assert_eq!(reading.status, Some(DeviceStatus::Fault));
    assert_eq!(
        reading.fault_code.as_deref(),
        Some("GROUND_FAULT,AC_UNDER_VOLT")
    );
}

#[test]
fn a_legacy_common_model_and_an_unknown_model_do_not_shift_the_inverter() {
    let image = image::build(&[
        ImageModel::Common(CommonBlock {
            legacy_length: true,
            ..common()
        }),
        ImageModel::Raw {
            id: 64001,
            registers: vec![0xABCD; 7],
        },
        ImageModel::Inverter(inverter(103)),
        ImageModel::Nameplate(NameplateBlock {
            rated_power_w: Some(50000.0),
            sf: 1,
        }),
    ])
    .unwrap();
    let (chain, _, decoded) = poll(&image);
    assert_eq!(chain.models[0].length, 65);
    assert_eq!(decoded.reading.ac_power_w, Some(23450.0));
    assert_eq!(decoded.rated_power_w, Some(50000.0));
    assert_eq!(decoded.common.unwrap().device_address, Some(1));
}

#[test]
fn a_long_mppt_model_decodes_every_module_across_split_reads() {
    let image = image::build(&[
        ImageModel::Inverter(inverter(103)),
        ImageModel::Mppt(mppt(8)),
    ])
    .unwrap();
    let (_, plan, decoded) = poll(&image);
    assert!(plan.iter().all(|r| r.count <= 125));
    assert_eq!(decoded.mppt.len(), 8);
    assert_eq!(decoded.mppt[7].dc_power_w, Some(1008.0));
    assert_eq!(decoded.mppt[7].dc_current_a, Some(8.12));
    assert!(decoded.issues.is_empty(), "{:?}", decoded.issues);
}

#[test]
fn a_scale_factor_changing_between_split_reads_drops_only_the_late_modules() {
    let image = image::build(&[ImageModel::Mppt(mppt(8))]).unwrap();
    let chain = image::walk(&image, BASE).unwrap();
    let plan = plan_reads(&chain, 125);
    let mut blocks: Vec<RegisterBlock> = plan
        .iter()
        .map(|r| image::read(&image, BASE, r).unwrap())
        .collect();
    // The inverter switched DCA_SF from -2 to -1 before the verification re-read.
    let last = blocks.last_mut().unwrap();
    last.registers[0] = (-1i16) as u16;

    let decoded = decode(&chain, &blocks);
    assert_eq!(decoded.mppt[0].dc_current_a, Some(8.12), "read with its SF");
    assert_eq!(decoded.mppt[7].dc_current_a, None, "SF not trustworthy");
    assert_eq!(
        decoded.mppt[7].dc_voltage_v,
        Some(612.3),
        "DCV_SF unchanged"
    );
    assert!(matches!(
        decoded.issues[..],
        [Issue::ScaleFactorUnverified { .. }]
    ));
}

#[test]
fn dc_power_falls_back_to_the_sum_of_the_mppt_modules() {
    let mut block = inverter(103);
    block.dc_power_w = None;
    let image = image::build(&[ImageModel::Inverter(block), ImageModel::Mppt(mppt(2))]).unwrap();
    assert_eq!(poll(&image).2.reading.dc_power_w, Some(2003.0));
}

#[test]
fn a_changed_model_list_is_reported_instead_of_decoded() {
    let image = image::build(&[ImageModel::Inverter(inverter(103))]).unwrap();
    let chain = image::walk(&image, BASE).unwrap();
    let plan = plan_reads(&chain, 125);
    let mut blocks: Vec<RegisterBlock> = plan
        .iter()
        .map(|r| image::read(&image, BASE, r).unwrap())
        .collect();
    blocks[0].registers[0] = 101;
    let decoded = decode(&chain, &blocks);
    assert_eq!(decoded.reading, Reading::default());
    assert!(matches!(
        decoded.issues[..],
        [Issue::ModelIdMismatch { found: 101, .. }]
    ));
}

#[test]
fn a_missing_block_leaves_its_model_unknown_and_says_so() {
    let image = image::build(&[ImageModel::Inverter(inverter(103))]).unwrap();
    let chain = image::walk(&image, BASE).unwrap();
    let decoded = decode(&chain, &[]);
    assert_eq!(decoded.reading, Reading::default());
    assert!(matches!(
        decoded.issues[..],
        [Issue::ModelNotRead { id: 103, .. }]
    ));
}

#[test]
fn the_builder_refuses_values_that_do_not_fit_their_register() {
    let mut block = inverter(103);
    block.ac_power_w = Some(50000.0);
    block.scale.w = 0; // 50000 does not fit int16
    assert!(matches!(
        image::build(&[ImageModel::Inverter(block)]),
        Err(ImageError::OutOfRange { point: "W", .. })
    ));
    let mut block = inverter(104);
    block.model_id = 104;
    assert_eq!(
        image::build(&[ImageModel::Inverter(block)]),
        Err(ImageError::NotAnInverterModel(104))
    );
}

#[test]
fn reading_outside_the_image_is_an_illegal_address() {
    let image = image::build(&[]).unwrap();
    assert_eq!(image, vec![0x5375, 0x6E53, 0xFFFF, 0]);
    let request = probe(39999);
    assert_eq!(image::read(&image, BASE, &request), None);
}
