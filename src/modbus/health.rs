//! Which register blocks of a device still deserve to be read.
//!
//! A block that answers exception 0x02 (illegal data address) is usually a register the
//! firmware does not have: a Huawei inverter without a power meter, an older Sungrow
//! without a 64-bit counter. Reading it every minute costs a round trip on a slow gateway
//! and fills the log, and an integration that gives up the whole poll for it loses every
//! other value (telegraf#14671). So each block counts its consecutive 0x02 replies; after
//! `limit` of them it is disabled for that device, once and with one warning, and the rest
//! of the poll goes on. A block that answers again resets its count (a meter came back).

use std::collections::HashMap;

use super::block::ReadRequest;

/// What an exception 0x02 did to the block's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IllegalAddressVerdict {
    /// Counted; the block is still read. Holds the consecutive count.
    Counted(u32),
    /// This reply reached the limit: the block is disabled from now on (warn once).
    Disabled,
}

/// Consecutive exception-0x02 counts and disabled blocks of one device.
#[derive(Debug, Clone)]
pub struct BlockHealth {
    limit: u32,
    strikes: HashMap<ReadRequest, u32>,
    disabled: Vec<ReadRequest>,
}

impl BlockHealth {
    /// Disables a block after `limit` consecutive 0x02 replies (at least 1).
    pub fn new(limit: u32) -> Self {
        BlockHealth {
            limit: limit.max(1),
            strikes: HashMap::new(),
            disabled: Vec::new(),
        }
    }

    /// True when `request` must no longer be sent.
    pub fn is_disabled(&self, request: &ReadRequest) -> bool {
        self.disabled.contains(request)
    }

    /// The blocks disabled so far, in the order they were disabled.
    pub fn disabled(&self) -> &[ReadRequest] {
        &self.disabled
    }

    /// Records an exception 0x02 for `request`.
    pub fn on_illegal_address(&mut self, request: &ReadRequest) -> IllegalAddressVerdict {
        if self.is_disabled(request) {
            return IllegalAddressVerdict::Disabled;
        }
        let count = self.strikes.entry(*request).or_insert(0);
        *count += 1;
        if *count >= self.limit {
            self.strikes.remove(request);
            self.disabled.push(*request);
            IllegalAddressVerdict::Disabled
        } else {
            IllegalAddressVerdict::Counted(*count)
        }
    }

    /// Records a good answer for `request`: its count starts again.
    pub fn on_answer(&mut self, request: &ReadRequest) {
        self.strikes.remove(request);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modbus::block::RegisterKind;

    fn request(address: u16) -> ReadRequest {
        ReadRequest {
            kind: RegisterKind::Holding,
            address,
            count: 2,
        }
    }

    #[test]
    fn a_block_is_disabled_on_the_limits_consecutive_illegal_address() {
        let mut health = BlockHealth::new(3);
        let meter = request(37119);
        assert_eq!(
            health.on_illegal_address(&meter),
            IllegalAddressVerdict::Counted(1)
        );
        assert_eq!(
            health.on_illegal_address(&meter),
            IllegalAddressVerdict::Counted(2)
        );
        assert!(!health.is_disabled(&meter));
        assert_eq!(
            health.on_illegal_address(&meter),
            IllegalAddressVerdict::Disabled
        );
        assert!(health.is_disabled(&meter));
        assert_eq!(health.disabled(), &[meter]);
    }

    #[test]
    fn an_answer_in_between_starts_the_count_again() {
        let mut health = BlockHealth::new(2);
        let block = request(100);
        health.on_illegal_address(&block);
        health.on_answer(&block);
        assert_eq!(
            health.on_illegal_address(&block),
            IllegalAddressVerdict::Counted(1)
        );
    }

    #[test]
    fn other_blocks_are_not_affected() {
        let mut health = BlockHealth::new(1);
        health.on_illegal_address(&request(1));
        assert!(health.is_disabled(&request(1)));
        assert!(!health.is_disabled(&request(3)));
    }

    #[test]
    fn a_limit_of_zero_behaves_as_one() {
        let mut health = BlockHealth::new(0);
        assert_eq!(
            health.on_illegal_address(&request(5)),
            IllegalAddressVerdict::Disabled
        );
    }
}
