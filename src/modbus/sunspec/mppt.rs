//! Model 160, multiple MPPT inverter extension: one block per DC input (tracker).
//!
//! Per-tracker values are what reveals a failing string behind an otherwise healthy
//! inverter. The number of module blocks is derived from the device's `L`
//! (`(L + 2 - 10) / 20`), not from the `N` register: `L` decides where the next model
//! starts, so it is the figure the rest of the chain already trusts. A disagreeing `N` is
//! reported as an issue.

use super::layout::mppt as m;
use super::view::{Issue, View};
use crate::modbus::words::WordType;

/// One MPPT input of a model 160 block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MpptModule {
    /// Position in the model, 0-based.
    pub index: u16,
    /// `module.ID` as the device numbers it.
    pub id: Option<u16>,
    /// `module.IDStr`, e.g. "PV1".
    pub label: Option<String>,
    /// `DCA × 10^DCA_SF`, A.
    pub dc_current_a: Option<f64>,
    /// `DCV × 10^DCV_SF`, V.
    pub dc_voltage_v: Option<f64>,
    /// `DCW × 10^DCW_SF`, W.
    pub dc_power_w: Option<f64>,
    /// `DCWH × 10^DCWH_SF`, converted to kWh.
    pub dc_energy_kwh: Option<f64>,
    /// `Tmp`, °C (no scale factor in the model).
    pub temperature_c: Option<f64>,
    /// `DCSt` as read (1..=8 as `St`, 9 = TEST).
    pub state_code: Option<u16>,
    /// `DCEvt` bits.
    pub events: Option<u32>,
}

/// Decodes every whole module block that fits in the device's `L`.
pub(crate) fn decode_mppt(view: &mut View<'_>) -> Vec<MpptModule> {
    let model = view.model();
    // In u32: `L + 2` overflows u16 for L >= 65534 (a chain given by hand, or garbage).
    let whole = (model
        .register_count()
        .saturating_sub(u32::from(m::FIRST_MODULE)))
        / u32::from(m::MODULE_LEN);
    // At most 3276 modules; every module offset then stays below 65536.
    let count = u16::try_from(whole).unwrap_or(u16::MAX);
    if let Some(declared) = view.u16(m::N)
        && declared != count
    {
        view.report(Issue::ModuleCountMismatch {
            declared,
            from_length: count,
        });
    }
    (0..count)
        .map(|index| {
            let at = m::FIRST_MODULE + index * m::MODULE_LEN;
            MpptModule {
                index,
                id: view.u16(at + m::M_ID),
                label: view.string(at + m::M_IDSTR, 8),
                dc_current_a: view.scaled(at + m::M_DCA, WordType::U16, m::DCA_SF),
                dc_voltage_v: view.scaled(at + m::M_DCV, WordType::U16, m::DCV_SF),
                dc_power_w: view.scaled(at + m::M_DCW, WordType::U16, m::DCW_SF),
                dc_energy_kwh: view
                    .scaled(at + m::M_DCWH, WordType::Acc32, m::DCWH_SF)
                    .map(|wh| wh / 1000.0),
                temperature_c: view.i16(at + m::M_TMP).map(f64::from),
                state_code: view.u16(at + m::M_DCST),
                events: view.u32(at + m::M_DCEVT),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modbus::block::RegisterBlock;
    use crate::modbus::sunspec::ModelEntry;

    fn module_regs(id: u16, dca: u16, dcv: u16, dcw: u16, dcwh: u32) -> Vec<u16> {
        let mut regs = vec![id, 0x5056, 0x3100, 0, 0, 0, 0, 0, 0]; // ID, "PV1"
        regs.extend([dca, dcv, dcw, (dcwh >> 16) as u16, dcwh as u16]);
        regs.extend([0, 0, 25, 4, 0, 0]); // Tms, Tmp 25, DCSt MPPT, DCEvt 0
        regs
    }

    #[test]
    fn modules_are_decoded_with_the_shared_scale_factors() {
        let sf = |v: i16| v as u16;
        let mut regs = vec![160, 48, sf(-2), sf(-1), 0, 0, 0, 0, 2, 0];
        regs.extend(module_regs(1, 812, 6123, 4970, 1_234_567));
        regs.extend(module_regs(2, 0xFFFF, 6100, 0, 0));
        let blocks = [RegisterBlock::new(40000, regs)];
        let entry = ModelEntry {
            id: 160,
            address: 40000,
            length: 48,
        };
        let mut issues = Vec::new();
        let mut view = View::open(entry, &blocks, &mut issues).unwrap();
        let modules = decode_mppt(&mut view);

        assert_eq!(modules.len(), 2);
        assert_eq!(modules[0].label.as_deref(), Some("PV1"));
        assert_eq!(modules[0].dc_current_a, Some(8.12));
        assert_eq!(modules[0].dc_voltage_v, Some(612.3));
        assert_eq!(modules[0].dc_power_w, Some(4970.0));
        assert_eq!(modules[0].dc_energy_kwh, Some(1234.567));
        assert_eq!(modules[0].temperature_c, Some(25.0));
        assert_eq!(modules[1].dc_current_a, None, "0xFFFF is not implemented");
        assert_eq!(
            modules[1].dc_power_w,
            Some(0.0),
            "uint16 zero is a real zero"
        );
        assert_eq!(
            modules[1].dc_energy_kwh, None,
            "acc32 zero is not implemented"
        );
        assert!(issues.is_empty());
    }

    #[test]
    fn a_count_register_disagreeing_with_the_length_is_reported() {
        let mut regs = vec![160, 28, 0, 0, 0, 0, 0, 0, 3, 0];
        regs.extend(module_regs(1, 1, 1, 1, 1));
        let blocks = [RegisterBlock::new(0, regs)];
        let entry = ModelEntry {
            id: 160,
            address: 0,
            length: 28,
        };
        let mut issues = Vec::new();
        let mut view = View::open(entry, &blocks, &mut issues).unwrap();
        assert_eq!(decode_mppt(&mut view).len(), 1);
        assert_eq!(
            issues,
            vec![Issue::ModuleCountMismatch {
                declared: 3,
                from_length: 1
            }]
        );
    }

    #[test]
    fn a_length_near_the_top_of_u16_does_not_overflow() {
        // Fault drills (issue 7): `L + 2` overflowed (a debug-build panic) for a
        // model 160 entry with L = 65535.
        let blocks = [RegisterBlock::new(
            0,
            vec![160, 0xFFFF, 0, 0, 0, 0, 0, 0, 1, 0],
        )];
        let entry = ModelEntry {
            id: 160,
            address: 0,
            length: u16::MAX,
        };
        let mut issues = Vec::new();
        let mut view = View::open(entry, &blocks, &mut issues).unwrap();
        let modules = decode_mppt(&mut view);
        assert_eq!(modules.len(), 3276);
        assert!(
            modules.iter().all(|m| m.dc_power_w.is_none()),
            "nothing was read"
        );
    }
}
