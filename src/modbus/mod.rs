//! Reading inverters, meters and weather stations over Modbus TCP.
//!
//! Village stations are read directly or through a logger/DTU speaking Modbus TCP. The
//! decoding half is pure and unit-tested without sockets; the I/O half is a thin loop
//! around it, so a wrong address or word order shows up in a unit test, not in the field:
//!
//! ```text
//!  poller (I/O)                   pure decoding
//!  ────────────                   ─────────────────────────────────────────────
//!  connect ─────────────────────▶ sunspec::Discovery / profile::Profile (TOML)
//!  read 2-register headers ─────▶ sunspec::ChainWalker ──▶ ModelChain
//!                                 sunspec::plan_reads / Profile::plan ──▶ [ReadRequest]
//!  perform requests in order ───▶ [RegisterBlock]
//!                                 sunspec::decode / Profile::decode ──▶ Reading
//!  send DeviceReading ──▶ bounded channel ──▶ feed::forward_batches ──▶ ingest | gateway outbox
//! ```
//!
//! - [`words`]: register words to numbers and text, word order, SunSpec sentinels.
//! - [`block`]: read requests and the register blocks they return.
//! - [`sunspec`]: discovery, model chain, read planning, decoding, register images.
//! - [`profile`]: vendor register maps (Huawei, Sungrow, Growatt, GoodWe) as TOML data in
//!   `config/profiles/`, with the shipped ones compiled in.
//! - [`target`]: what to poll ([`PollTarget`]), also built from the ledger's devices.
//! - [`link`]: one connection, every call under a timeout (`eof_watch` tells it when the
//!   device closed the connection); [`device`]: one device's poll
//!   (SunSpec discovery or profile), [`health`]: blocks disabled after repeated 0x02.
//! - [`poller`]: [`spawn_pollers`], one task per `host:port`; [`backoff`]: retry delays.
//! - [`lease`] (pure) / [`lease_keeper`]: several service processes on one database divide
//!   the endpoints by leases; the keeper starts and stops each endpoint's task.
//! - [`stats`]: poll outcomes per device; [`feed`]: batches of readings to a sink (the
//!   service's ingest or the edge gateway's outbox).
//! - [`probe`] / [`probe_report`]: `pvledger modbus probe` for commissioning.
//! - [`sim_server`] / [`sim_image`]: a Modbus TCP device simulator for tests and demos.
//!
//! Field behaviour and the profile format are documented in `docs/MODBUS.md`.
//!
//! "Unknown" is always `None`, never zero: a sentinel, a missing block or an unverified
//! scale factor all leave the field of [`crate::reading::Reading`] empty, so downstream
//! energy and availability figures are not poisoned by fake zeros.

// Pure: register decoding and planning, no sockets.
pub mod backoff;
pub mod block;
pub mod health;
pub mod lease;
pub mod probe_report;
pub mod profile;
pub mod sunspec;
pub mod words;

// I/O: connections, pollers, the probe command, the simulator.
pub mod device;
mod eof_watch;
pub mod lease_keeper;
pub mod link;
pub mod poller;
pub mod probe;
pub mod sim_image;
pub mod sim_server;
pub mod target;

// Shared by the service and the edge gateway: poll counters and the batching loop.
pub mod feed;
pub mod stats;

pub use poller::{spawn_pollers, spawn_pollers_with_stats};
pub use target::{PollTarget, ProfileRef, targets_from_devices, targets_from_store};
