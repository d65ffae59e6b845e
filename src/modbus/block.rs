//! Read requests and the register blocks they return: the only contact point with I/O.
//!
//! The planners in [`crate::modbus::sunspec`] and [`crate::modbus::profile`] produce [`ReadRequest`]s; the
//! poller (not in this crate) performs them and hands the answers back as
//! [`RegisterBlock`]s; the decoders look values up in those blocks. Keeping this boundary
//! plain data is what lets the decoders be tested without sockets and lets the same requests
//! drive a simulator.

use serde::{Deserialize, Serialize};

/// The Modbus protocol ceiling for one "read registers" request (function 0x03/0x04).
pub const MAX_REGISTERS_PER_READ: u16 = 125;

/// Which Modbus register table a request reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegisterKind {
    /// Holding registers, function code 0x03 (SunSpec, Huawei, GoodWe).
    Holding,
    /// Input registers, function code 0x04 (Sungrow, Growatt).
    Input,
}

impl RegisterKind {
    /// The Modbus function code used to read this table.
    pub fn function_code(self) -> u8 {
        match self {
            RegisterKind::Holding => 0x03,
            RegisterKind::Input => 0x04,
        }
    }

    /// Parses `"holding"` or `"input"`.
    pub fn parse(text: &str) -> Option<RegisterKind> {
        match text {
            "holding" => Some(RegisterKind::Holding),
            "input" => Some(RegisterKind::Input),
            _ => None,
        }
    }
}

/// One read to perform: `count` registers from protocol (PDU, 0-based) address `address`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReadRequest {
    /// Register table to read.
    pub kind: RegisterKind,
    /// First register, as sent on the wire (0-based).
    pub address: u16,
    /// Number of registers, 1..=125.
    pub count: u16,
}

impl ReadRequest {
    /// One past the last register read, as `u32` so that reads ending at 65535 do not wrap.
    pub fn end(&self) -> u32 {
        u32::from(self.address) + u32::from(self.count)
    }
}

/// Registers returned by one read, starting at protocol address `address`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterBlock {
    /// Protocol address of `registers[0]`.
    pub address: u16,
    /// The register values, in address order.
    pub registers: Vec<u16>,
}

impl RegisterBlock {
    /// A block of `registers` starting at `address`.
    pub fn new(address: u16, registers: Vec<u16>) -> Self {
        RegisterBlock { address, registers }
    }

    /// One past the last register held, as `u32`.
    pub fn end(&self) -> u32 {
        u32::from(self.address) + self.registers.len() as u32
    }

    /// True when `count` registers from `address` all lie inside this block.
    pub fn contains(&self, address: u32, count: u32) -> bool {
        address >= u32::from(self.address) && address + count <= self.end()
    }

    /// The registers `address..address + count` if this block holds all of them.
    pub fn slice(&self, address: u32, count: u32) -> Option<&[u16]> {
        if !self.contains(address, count) {
            return None;
        }
        let start = (address - u32::from(self.address)) as usize;
        self.registers.get(start..start + count as usize)
    }
}

/// Index of the first block holding all of `address..address + count`.
///
/// A value is never stitched together from two blocks: two reads are two instants, and a
/// 32-bit counter assembled across them can be wrong by 65536.
pub fn find_block(blocks: &[RegisterBlock], address: u32, count: u32) -> Option<usize> {
    blocks.iter().position(|b| b.contains(address, count))
}

/// The registers `address..address + count` from the first block that holds them all.
pub fn find(blocks: &[RegisterBlock], address: u32, count: u32) -> Option<&[u16]> {
    blocks.iter().find_map(|b| b.slice(address, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_inside_the_block_is_returned() {
        let block = RegisterBlock::new(100, vec![1, 2, 3, 4]);
        assert_eq!(block.slice(101, 2), Some(&[2, 3][..]));
    }

    #[test]
    fn a_slice_crossing_the_block_edge_is_refused() {
        let block = RegisterBlock::new(100, vec![1, 2, 3, 4]);
        assert_eq!(block.slice(103, 2), None);
        assert_eq!(block.slice(99, 2), None);
    }

    #[test]
    fn a_value_split_over_two_blocks_is_not_stitched_together() {
        let blocks = [
            RegisterBlock::new(10, vec![0x0001]),
            RegisterBlock::new(11, vec![0x0002]),
        ];
        assert_eq!(find(&blocks, 10, 2), None);
        assert_eq!(find(&blocks, 11, 1), Some(&[2][..]));
    }

    #[test]
    fn a_block_ending_at_the_top_of_the_address_space_does_not_overflow() {
        let block = RegisterBlock::new(65534, vec![7, 8]);
        assert_eq!(block.end(), 65536);
        assert_eq!(block.slice(65535, 1), Some(&[8][..]));
    }

    #[test]
    fn register_kinds_map_to_their_function_codes() {
        assert_eq!(RegisterKind::Holding.function_code(), 3);
        assert_eq!(RegisterKind::parse("input"), Some(RegisterKind::Input));
        assert_eq!(RegisterKind::parse("coil"), None);
    }
}
