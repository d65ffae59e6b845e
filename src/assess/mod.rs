//! Efficacy assessment (成效评估) of every station of a county over a period, from the
//! rollups (DOMAIN.md §3, docs/ASSESSMENT.md).
//!
//! Pure metrics: [`metrics`] (Yf, PR, ratios), [`availability`] (daylight hours with
//! production, zero spells), [`peers`] (daily peer medians, peer ratio), [`dispersion`]
//! (inverters against their siblings), [`degradation`] (year on year), [`flags`],
//! [`grade`], the sun's side in [`sky`], and [`compute`] tying them together. I/O:
//! [`load`] (few queries per county), [`export`] (CSV, XLSX), [`report`] (the Chinese PDF
//! report for the county) and [`cli`].

pub mod availability;
pub mod cli;
pub mod compute;
pub mod degradation;
pub mod dispersion;
pub mod export;
pub mod flags;
pub mod grade;
pub mod load;
pub mod metrics;
pub mod peers;
pub mod report;
pub mod sky;

pub use compute::StationAssessment;
pub use load::{AssessError, Report, run};
