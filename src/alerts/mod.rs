//! Alerts for field technicians and the problem ledger (问题台账).
//!
//! Pure: [`rules`] (each rule's raise and clear conditions), [`tracker`] (durations, one
//! open alert per rule and subject), [`cycle`] (a snapshot of the store into decisions,
//! with the storm guard), [`faults`] (vendor fault texts), [`notify::message`].
//! I/O: [`store`] (snapshot, lifecycle, history), [`evaluator`] (the task in `serve`),
//! [`notify`] (webhook, WeCom, DingTalk, e-mail), [`export`] (XLSX), [`cli`].
//! Rules, thresholds and the lifecycle are documented in docs/ALERTS.md.

pub mod cli;
pub mod config;
pub mod cycle;
pub mod evaluator;
pub mod export;
pub mod faults;
pub mod model;
pub mod notify;
pub mod rules;
pub mod store;
pub mod tracker;
