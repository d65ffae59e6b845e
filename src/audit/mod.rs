//! The append-only audit trail (过程可追溯): who did what, when, with what effect.
//! The tables refuse updates and deletes by trigger on both backends.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// An action to record.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// Who: a user name, or `cli:<os user>` for command-line actions.
    pub actor: String,
    /// What, as a dotted verb, e.g. `ledger.import`.
    pub action: String,
    /// On what, e.g. the import directory or a settlement id.
    pub subject: String,
    /// Details (counts, totals before and after).
    pub detail: serde_json::Value,
}

/// A recorded entry.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AuditRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: serde_json::Value,
}

/// The actor name for commands run from a shell: `cli:` and the operating-system user.
pub fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}
