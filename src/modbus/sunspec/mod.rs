//! SunSpec: discovery, model-chain walking, read planning and decoding.
//!
//! The flow a poller follows, every step pure and driven by the caller's I/O:
//!
//! 1. [`Discovery`]: probe 40000, 0 and 50000 for the "SunS" marker.
//! 2. [`ChainWalker`]: read `[ID, L]` headers from base + 2 until ID `0xFFFF`, giving a
//!    [`ModelChain`] laid out with the device's own lengths.
//! 3. [`plan_reads`]: the requests (≤ 125 registers, SFs kept with their values) for the
//!    models this crate decodes; perform them in order on every poll.
//! 4. [`decode`]: a [`Reading`](crate::reading::Reading) plus nameplate, MPPT and issues.
//!
//! Re-run discovery after a reconnect or when [`decode`] reports a model ID mismatch:
//! firmware updates can change the model list. [`image`] builds register images of a
//! device for tests and simulators.

mod chain;
mod decode;
#[cfg(test)]
mod flow_tests;
pub mod image;
pub mod layout;
mod mppt;
mod plan;
mod view;

pub use chain::{ChainError, ChainWalker, END_MODEL_ID, MAX_MODELS, ModelChain, ModelEntry};
pub use decode::{
    CommonInfo, Decoded, EVT1_NAMES, InverterInfo, OperatingState, decode, evt1_names,
};
pub use mppt::MpptModule;
pub use plan::plan_reads;
pub use view::Issue;

use crate::modbus::block::{ReadRequest, RegisterKind};

/// The addresses where SunSpec devices put "SunS", in the order to try them.
pub const BASE_ADDRESSES: [u16; 3] = [40000, 0, 50000];

/// "SunS" as two registers.
pub const MARKER: [u16; 2] = [0x5375, 0x6E53];

/// True when `regs` starts with the "SunS" marker.
pub fn is_marker(regs: &[u16]) -> bool {
    regs.starts_with(&MARKER)
}

/// The two-register read that checks for "SunS" at `base`.
pub fn probe(base: u16) -> ReadRequest {
    ReadRequest {
        kind: RegisterKind::Holding,
        address: base,
        count: 2,
    }
}

/// What to do after a discovery probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoveryStep {
    /// "SunS" found: walk the chain from `first_header` with a [`ChainWalker`].
    Found {
        /// Address of "SunS".
        base: u16,
        /// Address of the first model header (`base + 2`).
        first_header: u16,
    },
    /// Not here: perform this probe next.
    Probe(ReadRequest),
    /// No candidate base holds the marker: the device does not speak SunSpec.
    NotSunSpec,
}

/// Tries [`BASE_ADDRESSES`] in turn. A failed read (exception 2, timeout) counts as
/// "not here", so pass `None` for it.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    tried: usize,
}

impl Discovery {
    /// Starts discovery at the first candidate base.
    pub fn new() -> Self {
        Discovery::default()
    }

    /// The probe to perform now, `None` once every candidate was tried.
    pub fn next_probe(&self) -> Option<ReadRequest> {
        BASE_ADDRESSES.get(self.tried).map(|&base| probe(base))
    }

    /// Feeds the answer to [`Discovery::next_probe`] (`None` if the read failed).
    pub fn on_reply(&mut self, reply: Option<&[u16]>) -> DiscoveryStep {
        let Some(&base) = BASE_ADDRESSES.get(self.tried) else {
            return DiscoveryStep::NotSunSpec;
        };
        self.tried += 1;
        if reply.is_some_and(is_marker) {
            return DiscoveryStep::Found {
                base,
                first_header: base + 2,
            };
        }
        match self.next_probe() {
            Some(request) => DiscoveryStep::Probe(request),
            None => DiscoveryStep::NotSunSpec,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_spells_suns_in_ascii() {
        assert_eq!(crate::modbus::words::raw_string(&MARKER), "SunS");
        assert!(is_marker(&[0x5375, 0x6E53, 1, 66]));
        assert!(!is_marker(&[0x5375]));
    }

    #[test]
    fn discovery_tries_40000_then_0_then_50000() {
        let mut discovery = Discovery::new();
        assert_eq!(discovery.next_probe(), Some(probe(40000)));
        assert_eq!(discovery.on_reply(None), DiscoveryStep::Probe(probe(0)));
        assert_eq!(
            discovery.on_reply(Some(&[0, 0])),
            DiscoveryStep::Probe(probe(50000))
        );
        assert_eq!(
            discovery.on_reply(Some(&MARKER)),
            DiscoveryStep::Found {
                base: 50000,
                first_header: 50002
            }
        );
    }

    #[test]
    fn discovery_gives_up_after_the_last_candidate() {
        let mut discovery = Discovery::new();
        for _ in 0..2 {
            discovery.on_reply(None);
        }
        assert_eq!(discovery.on_reply(None), DiscoveryStep::NotSunSpec);
        assert_eq!(discovery.next_probe(), None);
        assert_eq!(discovery.on_reply(None), DiscoveryStep::NotSunSpec);
    }
}
