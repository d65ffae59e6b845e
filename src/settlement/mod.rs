//! Settlement arithmetic for village PV poverty-relief stations (村级光伏扶贫电站).
//!
//! Pure functions, no I/O: every input is passed in and every result returned, so each rule
//! is unit-tested directly and the same figures come out of the API, the statements and the
//! exports. The data flow of a settlement:
//!
//! ```text
//! grid-settled energy + tariff ─► income::income ─► deductions::* ─► monthly::settle_month
//!        (per station, per period::Period)                       │ distributable, deficit
//!                                                                ▼
//!                     split::allocate (joint stations: villages by recorded shares)
//!                                                                ▼
//!                     plan::split_by_plan (a village's money among the permitted uses)
//!
//! subsidy receipt ─► receipts::apply_receipt (oldest period first, pro rata within one)
//! amounts on paper ─► capital::capital_from_fen (大写金额), money::format_fen
//! ```
//!
//! Conventions everywhere: money is exact (decimal 元 or integer fen, never floats), rounded
//! to the fen half away from zero ([`money::round_fen`]), and every split is by largest
//! remainder so that the parts add up to the whole. Policy numbers (use floors, VAT rate and
//! refund, O&M rates) are parameters, never constants. Error messages are Chinese first,
//! then English in parentheses.

pub mod adjust;
pub mod capital;
pub mod cli;
pub mod compute;
pub mod deductions;
pub mod export;
pub mod grid;
pub mod income;
pub mod money;
pub mod monthly;
pub mod names;
pub mod period;
pub mod plan;
pub mod plans;
pub mod receipts;
pub mod run;
pub mod split;
pub mod statement;
pub mod store_types;
pub mod subsidy;
pub mod terms;
pub mod workbook;

use thiserror::Error;

/// Any settlement error, for callers that handle the layer as a whole. Each variant keeps
/// the module's own error, whose message is shown unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SettlementError {
    /// Money conversion or parsing.
    #[error(transparent)]
    Money(#[from] money::MoneyError),
    /// A period string or value.
    #[error(transparent)]
    Period(#[from] period::PeriodError),
    /// A proportional split.
    #[error(transparent)]
    Split(#[from] split::SplitError),
    /// A use plan.
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    /// A monthly line or deduction.
    #[error(transparent)]
    Monthly(#[from] monthly::MonthlyError),
    /// A subsidy receipt.
    #[error(transparent)]
    Receipt(#[from] receipts::ReceiptError),
}
