//! The station ledger (台账): areas, stations, tariffs, ownership shares, gateways and
//! devices; their CSV import and export.
//!
//! Import flows `encoding` (bytes to text) -> `parse` (rows, per-cell checks) -> `check`
//! (references and share sums against the stored ledger) -> `plan` (what really changes)
//! -> `import` (one transaction, audited). All but the last are pure.

pub mod cache;
pub mod check;
pub mod columns;
pub mod encoding;
pub mod export;
pub mod fields;
pub mod import;
pub mod model;
pub mod parse;
pub mod plan;
pub mod snapshot;

pub use export::export_dir;
pub use fields::LineError;
pub use import::{ImportError, ImportReport, import_dir, import_files};
