//! Walking the SunSpec model chain as a pure state machine.
//!
//! After "SunS", a device lists its models back to back: `[ID, L, L data registers]`,
//! ending with ID `0xFFFF`. The walker never assumes a model's length from the
//! specification: it always uses the device's own `L` (older model-1 blocks are 65 long,
//! not 66), because guessing shifts every later model. The caller does the I/O: it asks
//! [`ChainWalker::next_request`] what to read, reads two registers, and feeds them back.

use crate::modbus::block::{ReadRequest, RegisterKind};

/// The ID that ends the model chain.
pub const END_MODEL_ID: u16 = 0xFFFF;

/// A safety bound: real devices list a handful of models; a chain this long means we are
/// reading garbage (e.g. a device that answers every address with a constant).
pub const MAX_MODELS: usize = 64;

/// One model found on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModelEntry {
    /// SunSpec model ID (1, 103, 160...).
    pub id: u16,
    /// Protocol address of the model's `ID` register.
    pub address: u16,
    /// The device's `L`: registers after the `ID` and `L` registers.
    pub length: u16,
}

impl ModelEntry {
    /// Registers the model occupies including its `ID` and `L` registers.
    pub fn register_count(&self) -> u32 {
        u32::from(self.length) + 2
    }

    /// One past the model's last register (the next model's `ID` address).
    pub fn end(&self) -> u32 {
        u32::from(self.address) + self.register_count()
    }
}

/// The models of one device, in address order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelChain {
    /// Models as the device lists them (the end marker is not included).
    pub models: Vec<ModelEntry>,
    /// True when the walk reached the `0xFFFF` end marker.
    pub complete: bool,
}

impl ModelChain {
    /// Walks a chain from headers already read, starting at `first_header` (base + 2).
    ///
    /// `headers` yields `(address, [ID, L])` pairs; it may contain more than needed
    /// (they are looked up by address). Fails if the header the chain needs next is missing.
    pub fn parse(
        first_header: u16,
        headers: impl IntoIterator<Item = (u16, [u16; 2])>,
    ) -> Result<ModelChain, ChainError> {
        let headers: Vec<(u16, [u16; 2])> = headers.into_iter().collect();
        let mut walker = ChainWalker::new(first_header);
        while let Some(request) = walker.next_request() {
            let header = headers
                .iter()
                .find(|(address, _)| *address == request.address)
                .map(|(_, header)| *header)
                .ok_or(ChainError::MissingHeader {
                    address: request.address,
                })?;
            walker.feed(request.address, header)?;
        }
        Ok(walker.finish())
    }

    /// The first model with `id`, if the device has it.
    pub fn find(&self, id: u16) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.id == id)
    }

    /// The model IDs in device order.
    pub fn ids(&self) -> Vec<u16> {
        self.models.iter().map(|m| m.id).collect()
    }
}

/// Why a chain walk stopped before the end marker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// A header was fed for a different address than the walker asked for.
    #[error("model header fed for address {got}, but the chain continues at {expected}")]
    UnexpectedAddress {
        /// Address the walker asked for.
        expected: u16,
        /// Address fed.
        got: u16,
    },
    /// A header was fed after the end marker.
    #[error("the model chain already ended")]
    AlreadyEnded,
    /// Model ID 0 is not a model: the device answers unimplemented space with zeros.
    #[error("model ID 0 at address {address}: not a SunSpec model (reading empty space?)")]
    InvalidModelId {
        /// Address of the bad header.
        address: u16,
    },
    /// The model's length runs past the top of the register space.
    #[error("model {id} at {address} with L={length} runs past register 65535")]
    PastAddressSpace {
        /// Model ID.
        id: u16,
        /// Header address.
        address: u16,
        /// Device-reported L.
        length: u16,
    },
    /// More than [`MAX_MODELS`] models: almost certainly garbage.
    #[error("more than {MAX_MODELS} models in the chain; giving up")]
    TooManyModels,
    /// [`ModelChain::parse`] was not given the header the chain needed next.
    #[error("no model header was given for address {address}")]
    MissingHeader {
        /// Address of the header that was needed.
        address: u16,
    },
}

/// Incremental chain walker: ask what to read, feed what was read, repeat.
#[derive(Debug, Clone)]
pub struct ChainWalker {
    next: Option<u16>,
    models: Vec<ModelEntry>,
}

impl ChainWalker {
    /// Starts a walk whose first model header is at `first_header` (the "SunS" base + 2).
    pub fn new(first_header: u16) -> Self {
        ChainWalker {
            next: Some(first_header),
            models: Vec::new(),
        }
    }

    /// The two-register read for the next header, or `None` when the chain has ended.
    pub fn next_request(&self) -> Option<ReadRequest> {
        self.next.map(|address| ReadRequest {
            kind: RegisterKind::Holding,
            address,
            count: 2,
        })
    }

    /// Feeds the `[ID, L]` read at `address`; returns the next header address, or `None`
    /// when this was the end marker.
    pub fn feed(&mut self, address: u16, header: [u16; 2]) -> Result<Option<u16>, ChainError> {
        let expected = self.next.ok_or(ChainError::AlreadyEnded)?;
        if address != expected {
            return Err(ChainError::UnexpectedAddress {
                expected,
                got: address,
            });
        }
        let [id, length] = header;
        if id == END_MODEL_ID {
            self.next = None;
            return Ok(None);
        }
        if id == 0 {
            return Err(ChainError::InvalidModelId { address });
        }
        if self.models.len() >= MAX_MODELS {
            return Err(ChainError::TooManyModels);
        }
        let entry = ModelEntry {
            id,
            address,
            length,
        };
        // The next header (two registers) must still fit in the address space.
        let next = u16::try_from(entry.end())
            .ok()
            .filter(|next| *next < u16::MAX)
            .ok_or(ChainError::PastAddressSpace {
                id,
                address,
                length,
            })?;
        self.models.push(entry);
        self.next = Some(next);
        Ok(Some(next))
    }

    /// True once the end marker has been fed.
    pub fn is_done(&self) -> bool {
        self.next.is_none()
    }

    /// The models walked so far; `complete` tells whether the end marker was reached.
    pub fn finish(self) -> ModelChain {
        ModelChain {
            complete: self.next.is_none(),
            models: self.models,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_address_is_the_header_address_plus_two_plus_l() {
        let mut walker = ChainWalker::new(40002);
        assert_eq!(walker.feed(40002, [1, 66]), Ok(Some(40070)));
        assert_eq!(walker.feed(40070, [103, 50]), Ok(Some(40122)));
        assert_eq!(walker.feed(40122, [0xFFFF, 0]), Ok(None));
        let chain = walker.finish();
        assert!(chain.complete);
        assert_eq!(chain.ids(), vec![1, 103]);
        assert_eq!(chain.models[1].address, 40070);
    }

    #[test]
    fn the_devices_own_length_is_used_for_an_old_65_long_common_model() {
        let chain = ModelChain::parse(
            40002,
            [(40002, [1, 65]), (40069, [101, 50]), (40121, [0xFFFF, 0])],
        )
        .unwrap();
        assert_eq!(chain.find(101).map(|m| m.address), Some(40069));
    }

    #[test]
    fn the_walker_asks_for_two_holding_registers_at_the_next_header() {
        let mut walker = ChainWalker::new(2);
        walker.feed(2, [1, 66]).unwrap();
        let request = walker.next_request().unwrap();
        assert_eq!(
            (request.kind, request.address, request.count),
            (RegisterKind::Holding, 70, 2)
        );
    }

    #[test]
    fn feeding_the_wrong_address_is_an_error() {
        let mut walker = ChainWalker::new(40002);
        assert_eq!(
            walker.feed(40004, [1, 66]),
            Err(ChainError::UnexpectedAddress {
                expected: 40002,
                got: 40004
            })
        );
    }

    #[test]
    fn feeding_after_the_end_marker_is_an_error() {
        let mut walker = ChainWalker::new(0);
        walker.feed(0, [0xFFFF, 0]).unwrap();
        assert!(walker.is_done());
        assert_eq!(walker.feed(0, [1, 66]), Err(ChainError::AlreadyEnded));
    }

    #[test]
    fn a_zero_model_id_stops_the_walk_instead_of_crawling_empty_space() {
        let mut walker = ChainWalker::new(50002);
        assert_eq!(
            walker.feed(50002, [0, 0]),
            Err(ChainError::InvalidModelId { address: 50002 })
        );
    }

    #[test]
    fn a_length_running_past_65535_is_rejected() {
        let mut walker = ChainWalker::new(65000);
        assert!(matches!(
            walker.feed(65000, [103, 600]),
            Err(ChainError::PastAddressSpace { .. })
        ));
    }

    #[test]
    fn an_endless_chain_is_cut_off() {
        let mut walker = ChainWalker::new(0);
        let mut address = 0;
        let result = loop {
            match walker.feed(address, [999, 0]) {
                Ok(Some(next)) => address = next,
                other => break other,
            }
        };
        assert_eq!(result, Err(ChainError::TooManyModels));
    }

    #[test]
    fn parse_reports_the_missing_header_address() {
        let err = ModelChain::parse(40002, [(40002, [1, 66])]).unwrap_err();
        assert_eq!(err, ChainError::MissingHeader { address: 40070 });
    }

    #[test]
    fn an_unfinished_walk_is_marked_incomplete() {
        let mut walker = ChainWalker::new(40002);
        walker.feed(40002, [1, 66]).unwrap();
        assert!(!walker.finish().complete);
    }
}
