//! The vendor profiles shipped with pvledger, compiled in so a gateway works without
//! configuration files. The same files live in `config/profiles/`, where a site edits or
//! adds them; [`super::ProfileLibrary`] prefers the file on disk and falls back to these.
//!
//! The tests below are the guard on those files: each builds a register image from the
//! facts in `shared/reference/vendor-registers/*.csv` (addresses, word order, base and gain
//! written out independently of the TOML) and checks the profile decodes it back, so a
//! wrong address, base or word order in a profile fails here.

use super::{Profile, ProfileError};

/// `config/profiles/huawei_sun2000.toml`.
pub const HUAWEI_SUN2000: &str = include_str!("../../../config/profiles/huawei_sun2000.toml");
/// `config/profiles/sungrow_sg.toml`.
pub const SUNGROW_SG: &str = include_str!("../../../config/profiles/sungrow_sg.toml");
/// `config/profiles/growatt.toml`.
pub const GROWATT: &str = include_str!("../../../config/profiles/growatt.toml");
/// `config/profiles/goodwe.toml`.
pub const GOODWE: &str = include_str!("../../../config/profiles/goodwe.toml");

/// Every shipped profile's TOML text.
pub const ALL: [&str; 4] = [HUAWEI_SUN2000, SUNGROW_SG, GROWATT, GOODWE];

/// Shipped profiles by the name the ledger's `profile` column uses (the file stem).
pub const BY_FILE_NAME: [(&str, &str); 4] = [
    ("huawei_sun2000", HUAWEI_SUN2000),
    ("sungrow_sg", SUNGROW_SG),
    ("growatt", GROWATT),
    ("goodwe", GOODWE),
];

/// The compiled-in text of the shipped profile `file_name` (without `.toml`).
pub fn text(file_name: &str) -> Option<&'static str> {
    BY_FILE_NAME
        .iter()
        .find(|(name, _)| *name == file_name)
        .map(|(_, text)| *text)
}

/// Loads every shipped profile.
pub fn load_all() -> Result<Vec<Profile>, ProfileError> {
    ALL.iter()
        .map(|text| Profile::from_toml_str(text))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::modbus::block::{RegisterBlock, RegisterKind};
    use crate::reading::{DeviceStatus, Reading};

    /// A device's register space, addressed by protocol (0-based) address.
    #[derive(Default)]
    struct Device(BTreeMap<u16, u16>);

    impl Device {
        fn u16(&mut self, address: u16, value: u16) -> &mut Self {
            self.0.insert(address, value);
            self
        }

        fn i16(&mut self, address: u16, value: i16) -> &mut Self {
            self.u16(address, value as u16)
        }

        fn u32_high_first(&mut self, address: u16, value: u32) -> &mut Self {
            self.u16(address, (value >> 16) as u16)
                .u16(address + 1, value as u16)
        }

        fn u32_low_first(&mut self, address: u16, value: u32) -> &mut Self {
            self.u16(address, value as u16)
                .u16(address + 1, (value >> 16) as u16)
        }

        /// Performs a profile's plan; unset registers read as 0.
        fn poll(&self, profile: &Profile) -> Vec<RegisterBlock> {
            profile
                .plan()
                .iter()
                .map(|r| {
                    let regs = (r.address..r.address + r.count)
                        .map(|a| self.0.get(&a).copied().unwrap_or(0))
                        .collect();
                    RegisterBlock::new(r.address, regs)
                })
                .collect()
        }
    }

    fn load(text: &str) -> Profile {
        Profile::from_toml_str(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn every_shipped_profile_loads_and_plans_within_its_read_limit() {
        let profiles = load_all().unwrap();
        let names: Vec<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["huawei_sun2000", "sungrow_sg", "growatt", "goodwe_dt"]
        );
        for profile in &profiles {
            assert!(
                profile
                    .plan()
                    .iter()
                    .all(|r| r.count <= profile.max_registers_per_read)
            );
        }
    }

    #[test]
    fn huawei_profile_decodes_holding_registers_high_word_first() {
        let profile = load(HUAWEI_SUN2000);
        assert_eq!(profile.register_kind, RegisterKind::Holding);
        assert_eq!(
            (
                profile.max_registers_per_read,
                profile.pause_after_connect_ms
            ),
            (64, 1500)
        );
        let mut device = Device::default();
        device
            .u32_high_first(32080, 98_765)
            .u32_high_first(32064, 101_234)
            .u32_high_first(32106, 12_345_678)
            .u16(32069, 2314)
            .u16(32085, 5002)
            .i16(32087, -123)
            .u16(32089, 0x0201)
            .u16(32008, 0x0001)
            .u32_high_first(37119, (-7_654_321i32) as u32);

        let out = profile.decode(&device.poll(&profile));

        assert_eq!(
            out.reading,
            Reading {
                ac_power_w: Some(98_765.0),
                dc_power_w: Some(101_234.0),
                energy_total_kwh: Some(123_456.78),
                export_energy_kwh: Some(76_543.21),
                grid_voltage_v: Some(231.4),
                frequency_hz: Some(50.02),
                temperature_c: Some(-12.3),
                status: Some(DeviceStatus::Throttled),
                fault_code: Some("0x0001".into()),
                ..Reading::default()
            }
        );
        assert_eq!(out.fault_text.as_deref(), Some("组串输入电压高 (2001)"));
    }

    #[test]
    fn huawei_profile_treats_its_sentinels_as_unknown() {
        let profile = load(HUAWEI_SUN2000);
        let mut device = Device::default();
        device
            .u32_high_first(32080, 0x7FFF_FFFF)
            .i16(32087, 0x7FFF)
            .u16(32069, 0xFFFF);
        let out = profile.decode(&device.poll(&profile));
        assert_eq!(out.reading.ac_power_w, None);
        assert_eq!(out.reading.temperature_c, None);
        assert_eq!(out.reading.grid_voltage_v, None);
    }

    #[test]
    fn sungrow_profile_sends_document_address_minus_one_and_reads_low_word_first() {
        let profile = load(SUNGROW_SG);
        assert_eq!(profile.register_kind, RegisterKind::Input);
        let first = profile.plan()[0];
        assert_eq!(first.address, 5008 - 1, "doc 5008 is the lowest point");
        let pdu = |doc: u16| doc - 1;
        let mut device = Device::default();
        device
            .u32_low_first(pdu(5031), 98_765)
            .u32_low_first(pdu(5017), 101_234)
            .u32_low_first(pdu(5144), 1_234_567)
            .u16(pdu(5019), 2314)
            .u16(pdu(5036), 501)
            .i16(pdu(5008), -123)
            .u16(pdu(5038), 0x8100)
            .u16(pdu(5045), 17);

        let out = profile.decode(&device.poll(&profile));

        assert_eq!(
            out.reading,
            Reading {
                ac_power_w: Some(98_765.0),
                dc_power_w: Some(101_234.0),
                energy_total_kwh: Some(123_456.7),
                grid_voltage_v: Some(231.4),
                frequency_hz: Some(50.1),
                temperature_c: Some(-12.3),
                status: Some(DeviceStatus::Throttled),
                fault_code: Some("17".into()),
                ..Reading::default()
            }
        );
    }

    #[test]
    fn growatt_profile_decodes_input_registers_high_word_first_divided_by_ten() {
        let profile = load(GROWATT);
        let mut device = Device::default();
        device
            .u16(0, 1)
            .u32_high_first(1, 1_012_340)
            .u32_high_first(35, 987_650)
            .u16(37, 5002)
            .u16(38, 2314)
            .u32_high_first(55, 1_234_567)
            .i16(93, -123)
            .u16(105, 0);

        let out = profile.decode(&device.poll(&profile));

        assert_eq!(
            out.reading,
            Reading {
                ac_power_w: Some(98_765.0),
                dc_power_w: Some(101_234.0),
                energy_total_kwh: Some(123_456.7),
                grid_voltage_v: Some(231.4),
                frequency_hz: Some(50.02),
                temperature_c: Some(-12.3),
                status: Some(DeviceStatus::Running),
                ..Reading::default()
            }
        );
        assert!(profile.plan().iter().all(|r| r.count <= 100));
    }

    #[test]
    fn goodwe_profile_decodes_the_dt_runtime_block() {
        let profile = load(GOODWE);
        let mut device = Device::default();
        device
            .u16(30118, 2314)
            .u16(30124, 5002)
            .u32_high_first(30127, 98_765)
            .u16(30129, 1)
            .u32_high_first(30130, 0x0001_0004)
            .i16(30137, 24_100)
            .i16(30141, -123)
            .u32_high_first(30145, 1_234_567);

        let blocks = device.poll(&profile);
        assert_eq!(blocks.len(), 1, "the DT runtime points fit one read");
        let out = profile.decode(&blocks);

        assert_eq!(
            out.reading,
            Reading {
                ac_power_w: Some(98_765.0),
                dc_power_w: Some(24_100.0),
                energy_total_kwh: Some(123_456.7),
                grid_voltage_v: Some(231.4),
                frequency_hz: Some(50.02),
                temperature_c: Some(-12.3),
                status: Some(DeviceStatus::Running),
                fault_code: Some("0x00010004".into()),
                ..Reading::default()
            }
        );
    }
}
