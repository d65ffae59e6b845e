// Audit log queries shared by both backends; compiled twice like ledger_sql.rs.

use crate::audit::{AuditEntry, AuditRecord};

/// A connection (or transaction) of this backend.
pub type Conn = <Db as sqlx::Database>::Connection;

/// Appends one entry. Call it inside the transaction of the change it records, so that the
/// change and its trace commit or vanish together.
pub async fn append(conn: &mut Conn, e: &AuditEntry) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(chrono::Utc::now())
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.subject)
        .bind(&e.detail)
        .execute(conn)
        .await
        .map(drop)
}

/// The newest entries first.
pub async fn recent<'c, E: sqlx::Executor<'c, Database = Db>>(
    ex: E,
    limit: i64,
) -> Result<Vec<AuditRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, at, actor, action, subject, detail FROM audit_log ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(ex)
    .await
}
