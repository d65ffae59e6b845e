//! Encoding each model's registers from engineering values.
//!
//! Unmodelled registers are filled with their type's "not implemented" value rather than
//! zero, so that an image read by any SunSpec client means "unknown" there, not "0".

use super::{CommonBlock, ImageError, InverterBlock, MpptBlock, NameplateBlock};
use crate::modbus::sunspec::layout::{
    common, inverter_float as flt, inverter_int as int, mppt, nameplate,
};
use crate::modbus::words::{WordOrder, apply_sf, split, string_registers};

/// Encodes `value` as `value / 10^sf` rounded, within `min..=max` (sentinels excluded).
fn raw(
    model: u16,
    point: &'static str,
    value: f64,
    sf: i16,
    min: f64,
    max: f64,
) -> Result<i64, ImageError> {
    let scaled = apply_sf(value, -sf).round();
    if scaled.is_finite() && scaled >= min && scaled <= max {
        Ok(scaled as i64)
    } else {
        Err(ImageError::OutOfRange {
            model,
            point,
            value,
            sf,
        })
    }
}

/// A model's registers (ID, L, data) under construction.
struct Regs {
    id: u16,
    regs: Vec<u16>,
}

impl Regs {
    fn new(id: u16, length: u16, fill: u16) -> Self {
        let mut regs = vec![fill; usize::from(length) + 2];
        regs[0] = id;
        regs[1] = length;
        Regs { id, regs }
    }

    fn set(&mut self, offset: u16, words: &[u16]) {
        let at = usize::from(offset);
        self.regs[at..at + words.len()].copy_from_slice(words);
    }

    fn sf(&mut self, offset: u16, sf: i16) {
        self.set(offset, &[sf as u16]);
    }

    fn u16(
        &mut self,
        offset: u16,
        point: &'static str,
        v: Option<f64>,
        sf: i16,
    ) -> Result<(), ImageError> {
        let word = match v {
            Some(v) => raw(self.id, point, v, sf, 0.0, 65534.0)? as u16,
            None => 0xFFFF,
        };
        self.set(offset, &[word]);
        Ok(())
    }

    fn i16(
        &mut self,
        offset: u16,
        point: &'static str,
        v: Option<f64>,
        sf: i16,
    ) -> Result<(), ImageError> {
        let word = match v {
            Some(v) => raw(self.id, point, v, sf, -32767.0, 32767.0)? as i16 as u16,
            None => 0x8000,
        };
        self.set(offset, &[word]);
        Ok(())
    }

    fn acc32(
        &mut self,
        offset: u16,
        point: &'static str,
        v: Option<f64>,
        sf: i16,
    ) -> Result<(), ImageError> {
        let value = match v {
            Some(v) => raw(self.id, point, v, sf, 1.0, f64::from(u32::MAX))? as u64,
            None => 0,
        };
        self.set(offset, &split(value, 2, WordOrder::HighFirst));
        Ok(())
    }

    fn float(&mut self, offset: u16, v: Option<f64>) {
        let bits = v.map_or(0x7FC0_0000, |v| (v as f32).to_bits());
        self.set(offset, &split(u64::from(bits), 2, WordOrder::HighFirst));
    }

    fn bits32(&mut self, offset: u16, v: Option<u32>) {
        self.set(
            offset,
            &split(u64::from(v.unwrap_or(u32::MAX)), 2, WordOrder::HighFirst),
        );
    }
}

pub(super) fn common_regs(block: &CommonBlock) -> Vec<u16> {
    let length = if block.legacy_length {
        common::LENGTH - 1
    } else {
        common::LENGTH
    };
    let mut m = Regs::new(common::ID, length, 0);
    m.set(common::MN, &string_registers(&block.manufacturer, 16));
    m.set(common::MD, &string_registers(&block.model, 16));
    m.set(common::OPT, &string_registers(&block.options, 8));
    m.set(common::VR, &string_registers(&block.version, 8));
    m.set(common::SN, &string_registers(&block.serial, 16));
    m.set(common::DA, &[block.device_address.unwrap_or(0xFFFF)]);
    m.regs
}

pub(super) fn inverter_int_regs(b: &InverterBlock) -> Result<Vec<u16>, ImageError> {
    let mut m = Regs::new(b.model_id, int::LENGTH, 0xFFFF);
    // int16 points and every scale factor register default to 0x8000, not 0xFFFF.
    for offset in [
        6, 13, 14, 15, 17, 18, 19, 20, 21, 22, 23, 26, 28, 30, 31, 32, 33, 34, 35, 36, 37,
    ] {
        m.set(offset, &[0x8000]);
    }
    let s = b.scale;
    for (offset, sf) in [
        (int::W_SF, s.w),
        (int::DCW_SF, s.dcw),
        (int::WH_SF, s.wh),
        (int::V_SF, s.v),
    ] {
        m.sf(offset, sf);
    }
    for (offset, sf) in [
        (int::HZ_SF, s.hz),
        (int::TMP_SF, s.tmp),
        (int::DCV_SF, s.dcv),
        (int::DCA_SF, s.dca),
    ] {
        m.sf(offset, sf);
    }
    m.i16(int::W, "W", b.ac_power_w, s.w)?;
    m.i16(int::DCW, "DCW", b.dc_power_w, s.dcw)?;
    m.acc32(
        int::WH,
        "WH",
        b.energy_total_kwh.map(|kwh| kwh * 1000.0),
        s.wh,
    )?;
    m.u16(int::PHVPHA, "PhVphA", b.grid_voltage_v, s.v)?;
    m.u16(int::HZ, "Hz", b.frequency_hz, s.hz)?;
    m.i16(int::TMPCAB, "TmpCab", b.cabinet_temp_c, s.tmp)?;
    m.i16(int::TMPSNK, "TmpSnk", b.sink_temp_c, s.tmp)?;
    m.u16(int::DCV, "DCV", b.dc_voltage_v, s.dcv)?;
    m.u16(int::DCA, "DCA", b.dc_current_a, s.dca)?;
    m.set(int::ST, &[b.state.map_or(0xFFFF, |st| st.code())]);
    m.set(int::STVND, &[b.vendor_state.unwrap_or(0xFFFF)]);
    m.bits32(int::EVT1, b.events);
    Ok(m.regs)
}

pub(super) fn inverter_float_regs(b: &InverterBlock) -> Vec<u16> {
    let mut m = Regs::new(b.model_id, flt::LENGTH, 0xFFFF);
    for offset in (2..flt::ST).step_by(2) {
        m.float(offset, None);
    }
    m.float(flt::W, b.ac_power_w);
    m.float(flt::DCW, b.dc_power_w);
    m.float(flt::WH, b.energy_total_kwh.map(|kwh| kwh * 1000.0));
    m.float(flt::PHVPHA, b.grid_voltage_v);
    m.float(flt::HZ, b.frequency_hz);
    m.float(flt::TMPCAB, b.cabinet_temp_c);
    m.float(flt::TMPSNK, b.sink_temp_c);
    m.float(flt::DCV, b.dc_voltage_v);
    m.float(flt::DCA, b.dc_current_a);
    m.set(flt::ST, &[b.state.map_or(0xFFFF, |st| st.code())]);
    m.set(flt::STVND, &[b.vendor_state.unwrap_or(0xFFFF)]);
    m.bits32(flt::EVT1, b.events);
    m.regs
}

pub(super) fn nameplate_regs(b: &NameplateBlock) -> Result<Vec<u16>, ImageError> {
    let mut m = Regs::new(nameplate::ID, nameplate::LENGTH, 0xFFFF);
    for offset in [
        4, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 20, 22, 24, 26,
    ] {
        m.set(offset, &[0x8000]);
    }
    m.set(27, &[0]); // Pad
    m.set(nameplate::DERTYP, &[4]); // PV
    m.sf(nameplate::WRTG_SF, b.sf);
    m.u16(nameplate::WRTG, "WRtg", b.rated_power_w, b.sf)?;
    Ok(m.regs)
}

pub(super) fn mppt_regs(b: &MpptBlock) -> Result<Vec<u16>, ImageError> {
    let count = u16::try_from(b.modules.len())
        .ok()
        .filter(|n| *n <= 3000)
        .ok_or(ImageError::TooLong(mppt::ID))?;
    let length = mppt::FIRST_MODULE - 2 + count * mppt::MODULE_LEN;
    let mut m = Regs::new(mppt::ID, length, 0xFFFF);
    let s = b.scale;
    for (offset, sf) in [
        (mppt::DCA_SF, s.dca),
        (mppt::DCV_SF, s.dcv),
        (mppt::DCW_SF, s.dcw),
        (mppt::DCWH_SF, s.dcwh),
    ] {
        m.sf(offset, sf);
    }
    m.bits32(mppt::EVT, Some(0));
    m.set(mppt::N, &[count]);
    for (index, module) in (0u16..).zip(&b.modules) {
        let at = mppt::FIRST_MODULE + index * mppt::MODULE_LEN;
        m.set(at + mppt::M_ID, &[module.id]);
        m.set(at + mppt::M_IDSTR, &string_registers(&module.label, 8));
        m.u16(at + mppt::M_DCA, "module.DCA", module.dc_current_a, s.dca)?;
        m.u16(at + mppt::M_DCV, "module.DCV", module.dc_voltage_v, s.dcv)?;
        m.u16(at + mppt::M_DCW, "module.DCW", module.dc_power_w, s.dcw)?;
        let wh = module.dc_energy_kwh.map(|kwh| kwh * 1000.0);
        m.acc32(at + mppt::M_DCWH, "module.DCWH", wh, s.dcwh)?;
        m.set(
            at + mppt::M_TMP,
            &[module.temperature_c.map_or(0x8000, |t| t as u16)],
        );
        m.set(at + mppt::M_DCST, &[module.state_code.unwrap_or(0xFFFF)]);
        m.bits32(at + mppt::M_DCEVT, Some(0));
    }
    Ok(m.regs)
}
