//! `pvledger simulate` and the demo's data: the ledger's stations brought to life.
//! `model` is the pure simulated county; `publish` sends its readings as payload v1 over
//! MQTT, as village gateways do, including back-filled history.

pub mod command;
pub mod modbus;
pub mod model;
pub mod publish;

pub use model::{Fault, World};
