//! Building SunSpec register images from engineering values, for tests and simulators.
//!
//! [`build`] lays out "SunS", the given models and the end marker as a device would
//! expose them from its base address. Values are given in the same units as
//! [`Reading`](crate::reading::Reading) plus the scale factors to encode them with;
//! `None` writes the type's "not implemented" sentinel. Registers the builder does not
//! model are filled with their sentinels too, so a real SunSpec client sees a sane device.
//! [`read`] answers a [`ReadRequest`] from an image, which is all a simulator needs.

mod encode;

use super::MARKER;
use super::chain::{ChainError, ChainWalker, END_MODEL_ID, ModelChain};
use super::decode::OperatingState;
use crate::modbus::block::{ReadRequest, RegisterBlock};
use encode::{common_regs, inverter_float_regs, inverter_int_regs, mppt_regs, nameplate_regs};

/// One model to lay out.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageModel {
    /// Model 1.
    Common(CommonBlock),
    /// Models 101-103 (integer + SF) or 111-113 (float), chosen by `model_id`.
    Inverter(InverterBlock),
    /// Model 120 (only `DERTyp` and `WRtg` are set).
    Nameplate(NameplateBlock),
    /// Model 160.
    Mppt(MpptBlock),
    /// Any other model, registers given verbatim (after ID and L).
    Raw {
        /// Model ID.
        id: u16,
        /// The model's data registers; `L` is their count.
        registers: Vec<u16>,
    },
}

/// Model 1 contents; strings longer than their field are truncated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommonBlock {
    /// `Mn`.
    pub manufacturer: String,
    /// `Md`.
    pub model: String,
    /// `Opt`.
    pub options: String,
    /// `Vr`.
    pub version: String,
    /// `SN`.
    pub serial: String,
    /// `DA`.
    pub device_address: Option<u16>,
    /// Write the older 65-long block (no trailing pad) instead of the current 66.
    pub legacy_length: bool,
}

/// Inverter values, in `Reading` units.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InverterBlock {
    /// 101, 102, 103 (integer + SF) or 111, 112, 113 (float32).
    pub model_id: u16,
    /// `W`, W.
    pub ac_power_w: Option<f64>,
    /// `DCW`, W.
    pub dc_power_w: Option<f64>,
    /// `WH`, written in Wh.
    pub energy_total_kwh: Option<f64>,
    /// `PhVphA`, V.
    pub grid_voltage_v: Option<f64>,
    /// `Hz`.
    pub frequency_hz: Option<f64>,
    /// `TmpCab`, °C.
    pub cabinet_temp_c: Option<f64>,
    /// `TmpSnk`, °C.
    pub sink_temp_c: Option<f64>,
    /// `DCV`, V.
    pub dc_voltage_v: Option<f64>,
    /// `DCA`, A.
    pub dc_current_a: Option<f64>,
    /// `St`.
    pub state: Option<OperatingState>,
    /// `StVnd`.
    pub vendor_state: Option<u16>,
    /// `Evt1` bits.
    pub events: Option<u32>,
    /// Scale factors (ignored by the float models).
    pub scale: InverterScale,
}

/// Scale factors written into an integer inverter model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InverterScale {
    /// `W_SF`.
    pub w: i16,
    /// `DCW_SF`.
    pub dcw: i16,
    /// `WH_SF`.
    pub wh: i16,
    /// `V_SF`.
    pub v: i16,
    /// `Hz_SF`.
    pub hz: i16,
    /// `Tmp_SF`.
    pub tmp: i16,
    /// `DCV_SF`.
    pub dcv: i16,
    /// `DCA_SF`.
    pub dca: i16,
}

impl Default for InverterScale {
    fn default() -> Self {
        InverterScale {
            w: 0,
            dcw: 0,
            wh: 0,
            v: -1,
            hz: -2,
            tmp: -1,
            dcv: -1,
            dca: -2,
        }
    }
}

/// Model 120 contents.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NameplateBlock {
    /// `WRtg`, W.
    pub rated_power_w: Option<f64>,
    /// `WRtg_SF`.
    pub sf: i16,
}

/// Model 160 contents.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MpptBlock {
    /// One entry per tracker; the model's `L` and `N` follow from the count.
    pub modules: Vec<MpptInput>,
    /// Shared scale factors.
    pub scale: MpptScale,
}

/// Model 160 scale factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MpptScale {
    /// `DCA_SF`.
    pub dca: i16,
    /// `DCV_SF`.
    pub dcv: i16,
    /// `DCW_SF`.
    pub dcw: i16,
    /// `DCWH_SF`.
    pub dcwh: i16,
}

/// One model 160 module.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MpptInput {
    /// `module.ID`.
    pub id: u16,
    /// `module.IDStr` (8 registers).
    pub label: String,
    /// `DCA`, A.
    pub dc_current_a: Option<f64>,
    /// `DCV`, V.
    pub dc_voltage_v: Option<f64>,
    /// `DCW`, W.
    pub dc_power_w: Option<f64>,
    /// `DCWH`, written in Wh.
    pub dc_energy_kwh: Option<f64>,
    /// `Tmp`, °C.
    pub temperature_c: Option<i16>,
    /// `DCSt`.
    pub state_code: Option<u16>,
}

/// A value the builder cannot encode.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImageError {
    /// The value, divided by `10^sf` and rounded, is outside the type or is its sentinel.
    #[error("model {model} {point}: {value} with scale factor {sf} does not fit the register")]
    OutOfRange {
        /// Model ID.
        model: u16,
        /// Point name.
        point: &'static str,
        /// Value given.
        value: f64,
        /// Scale factor used.
        sf: i16,
    },
    /// `InverterBlock::model_id` is not 101-103 or 111-113.
    #[error("model {0} is not an inverter model (101-103, 111-113)")]
    NotAnInverterModel(u16),
    /// A model is longer than a register address space.
    #[error("model {0} has more than 65533 registers")]
    TooLong(u16),
}

/// Lays out "SunS", `models` in order and the end marker, starting at the base address.
pub fn build(models: &[ImageModel]) -> Result<Vec<u16>, ImageError> {
    let mut image = MARKER.to_vec();
    for model in models {
        let regs = match model {
            ImageModel::Common(block) => common_regs(block),
            ImageModel::Inverter(block) => match block.model_id {
                101..=103 => inverter_int_regs(block)?,
                111..=113 => inverter_float_regs(block),
                other => return Err(ImageError::NotAnInverterModel(other)),
            },
            ImageModel::Nameplate(block) => nameplate_regs(block)?,
            ImageModel::Mppt(block) => mppt_regs(block)?,
            ImageModel::Raw { id, registers } => {
                let length =
                    u16::try_from(registers.len()).map_err(|_| ImageError::TooLong(*id))?;
                let mut regs = vec![*id, length];
                regs.extend(registers);
                regs
            }
        };
        image.extend(regs);
    }
    image.extend([END_MODEL_ID, 0]);
    Ok(image)
}

/// Answers `request` from an image whose first register sits at `base`; `None` where a
/// device would reply with exception 2 (illegal data address).
pub fn read(image: &[u16], base: u16, request: &ReadRequest) -> Option<RegisterBlock> {
    let start = usize::from(request.address.checked_sub(base)?);
    let regs = image.get(start..start + usize::from(request.count))?;
    Some(RegisterBlock::new(request.address, regs.to_vec()))
}

/// Walks the model chain of an image at `base`, the way a poller walks a device.
pub fn walk(image: &[u16], base: u16) -> Result<ModelChain, ChainError> {
    let mut walker = ChainWalker::new(base + 2);
    while let Some(request) = walker.next_request() {
        let header = read(image, base, &request).ok_or(ChainError::MissingHeader {
            address: request.address,
        })?;
        walker.feed(request.address, [header.registers[0], header.registers[1]])?;
    }
    Ok(walker.finish())
}
