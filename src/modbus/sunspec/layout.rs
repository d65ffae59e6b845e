//! Register offsets of the SunSpec models this crate decodes, written by hand from
//! `reference/sunspec/LAYOUT_TABLES.md` (cross-checked against the model JSON files).
//!
//! Every offset counts from the model's `ID` register (offset 0; `L` is offset 1, data
//! starts at 2), exactly as the tables print them. The point lists below name only the
//! registers we decode; they tell the read planner which registers must stay together
//! (a multi-register value, and a value with its scale factor).

/// Model 1, Common: manufacturer, model, options, version, serial, device address.
pub mod common {
    /// Model ID.
    pub const ID: u16 = 1;
    /// `Mn`, string, 16 registers.
    pub const MN: u16 = 2;
    /// `Md`, string, 16 registers.
    pub const MD: u16 = 18;
    /// `Opt`, string, 8 registers.
    pub const OPT: u16 = 34;
    /// `Vr`, string, 8 registers.
    pub const VR: u16 = 42;
    /// `SN`, string, 16 registers.
    pub const SN: u16 = 50;
    /// `DA`, uint16.
    pub const DA: u16 = 66;
    /// `L` of the current model definition, ending with a pad register at 67; older
    /// devices report 65 (no pad), which is why the device's own `L` is always used.
    pub const LENGTH: u16 = 66;
}

/// Models 101/102/103, inverter with integer values and scale factors.
pub mod inverter_int {
    /// `PhVphA`, uint16, V, scaled by `V_SF`.
    pub const PHVPHA: u16 = 10;
    /// `V_SF`.
    pub const V_SF: u16 = 13;
    /// `W`, int16, W.
    pub const W: u16 = 14;
    /// `W_SF`.
    pub const W_SF: u16 = 15;
    /// `Hz`, uint16.
    pub const HZ: u16 = 16;
    /// `Hz_SF`.
    pub const HZ_SF: u16 = 17;
    /// `WH`, acc32, Wh.
    pub const WH: u16 = 24;
    /// `WH_SF`.
    pub const WH_SF: u16 = 26;
    /// `DCA`, uint16, A.
    pub const DCA: u16 = 27;
    /// `DCA_SF`.
    pub const DCA_SF: u16 = 28;
    /// `DCV`, uint16, V.
    pub const DCV: u16 = 29;
    /// `DCV_SF`.
    pub const DCV_SF: u16 = 30;
    /// `DCW`, int16, W.
    pub const DCW: u16 = 31;
    /// `DCW_SF`.
    pub const DCW_SF: u16 = 32;
    /// `TmpCab`, int16, °C.
    pub const TMPCAB: u16 = 33;
    /// `TmpSnk`, int16, °C.
    pub const TMPSNK: u16 = 34;
    /// `Tmp_SF`.
    pub const TMP_SF: u16 = 37;
    /// `St`, enum16 operating state.
    pub const ST: u16 = 38;
    /// `StVnd`, enum16 vendor state.
    pub const STVND: u16 = 39;
    /// `Evt1`, bitfield32.
    pub const EVT1: u16 = 40;
    /// `L` of the model definition.
    pub const LENGTH: u16 = 50;
}

/// Models 111/112/113, inverter with float32 values (no scale factors).
pub mod inverter_float {
    /// `PhVphA`, float32, V.
    pub const PHVPHA: u16 = 16;
    /// `W`, float32, W.
    pub const W: u16 = 22;
    /// `Hz`, float32.
    pub const HZ: u16 = 24;
    /// `WH`, float32, Wh.
    pub const WH: u16 = 32;
    /// `DCA`, float32, A.
    pub const DCA: u16 = 34;
    /// `DCV`, float32, V.
    pub const DCV: u16 = 36;
    /// `DCW`, float32, W.
    pub const DCW: u16 = 38;
    /// `TmpCab`, float32, °C.
    pub const TMPCAB: u16 = 40;
    /// `TmpSnk`, float32, °C.
    pub const TMPSNK: u16 = 42;
    /// `St`, enum16.
    pub const ST: u16 = 48;
    /// `StVnd`, enum16.
    pub const STVND: u16 = 49;
    /// `Evt1`, bitfield32.
    pub const EVT1: u16 = 50;
    /// `L` of the model definition.
    pub const LENGTH: u16 = 60;
}

/// Model 120, nameplate ratings.
pub mod nameplate {
    /// Model ID.
    pub const ID: u16 = 120;
    /// `DERTyp`, enum16 (4 = PV, 82 = PV_STOR).
    pub const DERTYP: u16 = 2;
    /// `WRtg`, uint16, W.
    pub const WRTG: u16 = 3;
    /// `WRtg_SF`.
    pub const WRTG_SF: u16 = 4;
    /// `L` of the model definition.
    pub const LENGTH: u16 = 26;
}

/// Model 160, multiple MPPT extension: fixed part then `module` blocks repeated.
pub mod mppt {
    /// Model ID.
    pub const ID: u16 = 160;
    /// `DCA_SF`, shared by every module's `DCA`.
    pub const DCA_SF: u16 = 2;
    /// `DCV_SF`.
    pub const DCV_SF: u16 = 3;
    /// `DCW_SF`.
    pub const DCW_SF: u16 = 4;
    /// `DCWH_SF`.
    pub const DCWH_SF: u16 = 5;
    /// `Evt`, bitfield32.
    pub const EVT: u16 = 6;
    /// `N`, count of modules as declared by the device.
    pub const N: u16 = 8;
    /// `TmsPer`, uint16.
    pub const TMSPER: u16 = 9;
    /// Offset of the first `module` block (fixed part incl. ID and L is 10 registers).
    pub const FIRST_MODULE: u16 = 10;
    /// Registers per `module` block.
    pub const MODULE_LEN: u16 = 20;
    /// `module.ID`, uint16 (offset inside a module block).
    pub const M_ID: u16 = 0;
    /// `module.IDStr`, string, 8 registers.
    pub const M_IDSTR: u16 = 1;
    /// `module.DCA`, uint16, A, scaled by `DCA_SF`.
    pub const M_DCA: u16 = 9;
    /// `module.DCV`, uint16, V.
    pub const M_DCV: u16 = 10;
    /// `module.DCW`, uint16, W.
    pub const M_DCW: u16 = 11;
    /// `module.DCWH`, acc32, Wh.
    pub const M_DCWH: u16 = 12;
    /// `module.Tms`, uint32, s.
    pub const M_TMS: u16 = 14;
    /// `module.Tmp`, int16, °C (no scale factor).
    pub const M_TMP: u16 = 16;
    /// `module.DCSt`, enum16.
    pub const M_DCST: u16 = 17;
    /// `module.DCEvt`, bitfield32.
    pub const M_DCEVT: u16 = 18;
}

/// One decoded point: where it is, how wide, and where its scale factor is (model offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointSpec {
    /// Offset from the model's ID register (from the module start for group points).
    pub offset: u16,
    /// Registers occupied.
    pub len: u16,
    /// Model offset of the scale factor, if any (always in the fixed part).
    pub sf: Option<u16>,
}

const fn p(offset: u16, len: u16) -> PointSpec {
    PointSpec {
        offset,
        len,
        sf: None,
    }
}

const fn s(offset: u16, len: u16, sf: u16) -> PointSpec {
    PointSpec {
        offset,
        len,
        sf: Some(sf),
    }
}

/// A repeating group: where the first instance starts and how long each is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupLayout {
    /// Model offset of the first instance.
    pub start: u16,
    /// Registers per instance.
    pub len: u16,
    /// Points inside one instance.
    pub points: &'static [PointSpec],
}

impl GroupLayout {
    /// Number of whole instances that fit in a model whose device-reported length is `l`.
    pub fn count_for_length(&self, l: u16) -> u16 {
        // In u32: `L + 2` overflows u16 for L >= 65534 (garbage, or a chain given by hand).
        let whole = (u32::from(l) + 2).saturating_sub(u32::from(self.start)) / u32::from(self.len);
        u16::try_from(whole).unwrap_or(u16::MAX)
    }
}

/// The decoded points of one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelLayout {
    /// Points in the fixed part.
    pub fixed: &'static [PointSpec],
    /// The repeating group, if the model has one.
    pub group: Option<GroupLayout>,
}

use inverter_float as f;
use inverter_int as i;

const COMMON: ModelLayout = ModelLayout {
    fixed: &[p(2, 16), p(18, 16), p(34, 8), p(42, 8), p(50, 16), p(66, 1)],
    group: None,
};

const INVERTER_INT: ModelLayout = ModelLayout {
    fixed: &[
        s(i::PHVPHA, 1, i::V_SF),
        s(i::W, 1, i::W_SF),
        s(i::HZ, 1, i::HZ_SF),
        s(i::WH, 2, i::WH_SF),
        s(i::DCA, 1, i::DCA_SF),
        s(i::DCV, 1, i::DCV_SF),
        s(i::DCW, 1, i::DCW_SF),
        s(i::TMPCAB, 1, i::TMP_SF),
        s(i::TMPSNK, 1, i::TMP_SF),
        p(i::ST, 1),
        p(i::STVND, 1),
        p(i::EVT1, 2),
    ],
    group: None,
};

const INVERTER_FLOAT: ModelLayout = ModelLayout {
    fixed: &[
        p(f::PHVPHA, 2),
        p(f::W, 2),
        p(f::HZ, 2),
        p(f::WH, 2),
        p(f::DCA, 2),
        p(f::DCV, 2),
        p(f::DCW, 2),
        p(f::TMPCAB, 2),
        p(f::TMPSNK, 2),
        p(f::ST, 1),
        p(f::STVND, 1),
        p(f::EVT1, 2),
    ],
    group: None,
};

const NAMEPLATE: ModelLayout = ModelLayout {
    fixed: &[
        p(nameplate::DERTYP, 1),
        s(nameplate::WRTG, 1, nameplate::WRTG_SF),
    ],
    group: None,
};

const MPPT: ModelLayout = ModelLayout {
    fixed: &[
        p(mppt::DCA_SF, 1),
        p(mppt::DCV_SF, 1),
        p(mppt::DCW_SF, 1),
        p(mppt::DCWH_SF, 1),
        p(mppt::EVT, 2),
        p(mppt::N, 1),
        p(mppt::TMSPER, 1),
    ],
    group: Some(GroupLayout {
        start: mppt::FIRST_MODULE,
        len: mppt::MODULE_LEN,
        points: &[
            p(mppt::M_ID, 1),
            p(mppt::M_IDSTR, 8),
            s(mppt::M_DCA, 1, mppt::DCA_SF),
            s(mppt::M_DCV, 1, mppt::DCV_SF),
            s(mppt::M_DCW, 1, mppt::DCW_SF),
            s(mppt::M_DCWH, 2, mppt::DCWH_SF),
            p(mppt::M_TMS, 2),
            p(mppt::M_TMP, 1),
            p(mppt::M_DCST, 1),
            p(mppt::M_DCEVT, 2),
        ],
    }),
};

/// The layout of a model this crate decodes, or `None` for models it skips.
pub fn layout_for(model_id: u16) -> Option<&'static ModelLayout> {
    match model_id {
        1 => Some(&COMMON),
        101..=103 => Some(&INVERTER_INT),
        111..=113 => Some(&INVERTER_FLOAT),
        120 => Some(&NAMEPLATE),
        160 => Some(&MPPT),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixed_point_ends_inside_its_model_definition() {
        for (id, l) in [(1, 66), (103, 50), (113, 60), (120, 26), (160, 8)] {
            let layout = layout_for(id).unwrap();
            for point in layout.fixed {
                assert!(point.offset + point.len <= l + 2, "model {id} {point:?}");
            }
        }
    }

    #[test]
    fn module_points_fit_inside_one_module_block() {
        let group = layout_for(160).unwrap().group.unwrap();
        let end = group.points.iter().map(|p| p.offset + p.len).max();
        assert_eq!(end, Some(group.len));
    }

    #[test]
    fn the_module_count_follows_the_device_length() {
        let group = layout_for(160).unwrap().group.unwrap();
        assert_eq!(group.count_for_length(8), 0);
        assert_eq!(group.count_for_length(8 + 2 * 20), 2);
        assert_eq!(group.count_for_length(8 + 2 * 20 + 5), 2);
    }

    #[test]
    fn unsupported_models_have_no_layout() {
        assert!(layout_for(701).is_none());
        assert!(layout_for(1).is_some());
    }
}
