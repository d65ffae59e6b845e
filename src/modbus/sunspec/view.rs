//! Typed access to one model's registers inside the blocks a poll returned.
//!
//! This is where the two rules that keep SunSpec values honest are enforced for every
//! model: sentinels become `None`, and a scaled value is only produced with a scale factor
//! read in the same request (or, where the planner had to split, with a scale factor that
//! read identically before and after the values).

use super::chain::ModelEntry;
use crate::modbus::block::{RegisterBlock, find, find_block};
use crate::modbus::words::{self, WordOrder, WordType};

/// Something the decoder noticed that the poller may want to act on (e.g. re-discover).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    /// No block held the model's header: it was not read this poll.
    ModelNotRead {
        /// Model ID expected.
        id: u16,
        /// Header address.
        address: u16,
    },
    /// The header register holds another ID: the model list changed, re-run discovery.
    ModelIdMismatch {
        /// Model ID expected from the chain.
        expected: u16,
        /// ID register value read now.
        found: u16,
        /// Header address.
        address: u16,
    },
    /// A scale factor was not read with its value and its two reads were missing or
    /// differed, so the value was dropped.
    ScaleFactorUnverified {
        /// Model ID.
        model: u16,
        /// Protocol address of the scale factor.
        address: u16,
    },
    /// Model 160's `N` disagrees with the module count implied by its `L`.
    ModuleCountMismatch {
        /// `N` as read.
        declared: u16,
        /// Whole modules that fit in the device's `L` (the count used).
        from_length: u16,
    },
}

/// One model's registers, looked up by model offset.
pub(crate) struct View<'a> {
    model: ModelEntry,
    blocks: &'a [RegisterBlock],
    issues: &'a mut Vec<Issue>,
}

impl<'a> View<'a> {
    /// A view if the model's header was read and still carries the expected ID.
    pub(crate) fn open(
        model: ModelEntry,
        blocks: &'a [RegisterBlock],
        issues: &'a mut Vec<Issue>,
    ) -> Option<View<'a>> {
        match find(blocks, u32::from(model.address), 1) {
            None => {
                issues.push(Issue::ModelNotRead {
                    id: model.id,
                    address: model.address,
                });
                None
            }
            Some([found]) if *found != model.id => {
                issues.push(Issue::ModelIdMismatch {
                    expected: model.id,
                    found: *found,
                    address: model.address,
                });
                None
            }
            Some(_) => Some(View {
                model,
                blocks,
                issues,
            }),
        }
    }

    pub(crate) fn model(&self) -> ModelEntry {
        self.model
    }

    fn address(&self, offset: u16) -> u32 {
        u32::from(self.model.address) + u32::from(offset)
    }

    /// Registers at `offset..offset + len`, if inside the device's `L` and read whole.
    pub(crate) fn regs(&self, offset: u16, len: u16) -> Option<&'a [u16]> {
        if u32::from(offset) + u32::from(len) > self.model.register_count() {
            return None;
        }
        find(self.blocks, self.address(offset), u32::from(len))
    }

    pub(crate) fn u16(&self, offset: u16) -> Option<u16> {
        words::sunspec_u16(self.regs(offset, 1)?)
    }

    pub(crate) fn i16(&self, offset: u16) -> Option<i16> {
        words::sunspec_i16(self.regs(offset, 1)?)
    }

    pub(crate) fn u32(&self, offset: u16) -> Option<u32> {
        words::sunspec_u32(self.regs(offset, 2)?, WordOrder::HighFirst)
    }

    pub(crate) fn float(&self, offset: u16) -> Option<f64> {
        words::sunspec_f32(self.regs(offset, 2)?, WordOrder::HighFirst)
    }

    pub(crate) fn string(&self, offset: u16, len: u16) -> Option<String> {
        words::sunspec_string(self.regs(offset, len)?)
    }

    /// `value × 10^sf` for the integer point at `offset` with its scale factor at `sf`.
    pub(crate) fn scaled(&mut self, offset: u16, ty: WordType, sf: u16) -> Option<f64> {
        let len = ty.register_count();
        if u32::from(offset) + u32::from(len) > self.model.register_count() {
            return None;
        }
        let at = self.address(offset);
        let holder = find_block(self.blocks, at, u32::from(len))?;
        let regs = self.blocks[holder].slice(at, u32::from(len))?;
        let bits = ty.raw_bits(regs, WordOrder::HighFirst)?;
        if ty.is_sunspec_sentinel(bits) {
            return None;
        }
        let sf = self.scale_factor(holder, sf)?;
        Some(words::apply_sf(ty.value(bits), sf))
    }

    /// The scale factor at model offset `sf` as seen by the request in block `holder`.
    fn scale_factor(&mut self, holder: usize, sf: u16) -> Option<i16> {
        let at = self.address(sf);
        if let Some(regs) = self.blocks[holder].slice(at, 1) {
            return words::sunspec_sf(regs);
        }
        // Split read: trust the SF only if two separate reads of it agree.
        let copies: Vec<u16> = self
            .blocks
            .iter()
            .filter_map(|b| b.slice(at, 1).map(|r| r[0]))
            .collect();
        if copies.len() >= 2 && copies.iter().all(|&c| c == copies[0]) {
            return words::sunspec_sf(&copies[..1]);
        }
        let issue = Issue::ScaleFactorUnverified {
            model: self.model.id,
            address: at as u16,
        };
        if !self.issues.contains(&issue) {
            self.issues.push(issue);
        }
        None
    }

    pub(crate) fn report(&mut self, issue: Issue) {
        self.issues.push(issue);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVERTER: ModelEntry = ModelEntry {
        id: 103,
        address: 100,
        length: 4,
    };

    #[test]
    fn a_view_is_refused_when_the_header_holds_another_model() {
        let blocks = [RegisterBlock::new(100, vec![101, 4, 0, 0, 0, 0])];
        let mut issues = Vec::new();
        assert!(View::open(INVERTER, &blocks, &mut issues).is_none());
        assert!(matches!(
            issues[0],
            Issue::ModelIdMismatch { found: 101, .. }
        ));
    }

    #[test]
    fn a_value_is_scaled_by_the_factor_read_in_the_same_request() {
        // offset 2 = value 1234, offset 3 = SF -1.
        let blocks = [RegisterBlock::new(
            100,
            vec![103, 4, 1234, (-1i16) as u16, 0, 0],
        )];
        let mut issues = Vec::new();
        let mut view = View::open(INVERTER, &blocks, &mut issues).unwrap();
        assert_eq!(view.scaled(2, WordType::U16, 3), Some(123.4));
    }

    #[test]
    fn a_split_scale_factor_that_changed_between_reads_drops_the_value() {
        let blocks = [
            RegisterBlock::new(100, vec![103, 4, 0, (-1i16) as u16]),
            RegisterBlock::new(104, vec![1234, 0]),
            RegisterBlock::new(103, vec![(-2i16) as u16]),
        ];
        let mut issues = Vec::new();
        let mut view = View::open(INVERTER, &blocks, &mut issues).unwrap();
        assert_eq!(view.scaled(4, WordType::U16, 3), None);
        assert_eq!(
            issues,
            vec![Issue::ScaleFactorUnverified {
                model: 103,
                address: 103
            }]
        );
    }

    #[test]
    fn a_split_scale_factor_read_twice_the_same_is_accepted() {
        let sf = (-1i16) as u16;
        let blocks = [
            RegisterBlock::new(100, vec![103, 4, 0, sf]),
            RegisterBlock::new(104, vec![1234, 0]),
            RegisterBlock::new(103, vec![sf]),
        ];
        let mut issues = Vec::new();
        let mut view = View::open(INVERTER, &blocks, &mut issues).unwrap();
        assert_eq!(view.scaled(4, WordType::U16, 3), Some(123.4));
    }

    #[test]
    fn registers_beyond_the_devices_length_are_not_read() {
        let blocks = [RegisterBlock::new(100, vec![103, 4, 1, 2, 3, 4, 5, 6])];
        let mut issues = Vec::new();
        let view = View::open(INVERTER, &blocks, &mut issues).unwrap();
        assert_eq!(view.u16(5), Some(4));
        assert_eq!(view.u16(6), None);
    }

    #[test]
    fn a_sentinel_value_is_unknown_even_with_a_valid_scale_factor() {
        let blocks = [RegisterBlock::new(100, vec![103, 4, 0x8000, 0, 0, 0])];
        let mut issues = Vec::new();
        let mut view = View::open(INVERTER, &blocks, &mut issues).unwrap();
        assert_eq!(view.scaled(2, WordType::I16, 3), None);
    }
}
