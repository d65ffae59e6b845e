// Edge gateway status queries shared by both backends; compiled twice like ledger_sql.rs.

use crate::store::GatewayStatusRow;

/// A connection (or transaction) of this backend.
pub type Conn = <Db as sqlx::Database>::Connection;

/// Stores `row` unless a message sent later is already stored (MQTT may reorder a
/// retained message and a live one). `thinned_at` becomes `received_at` when thinned_total
/// grew (or a first status already reports thinning): only the latest status is kept, so
/// the thinning alert could not see the increase afterwards.
pub async fn upsert_status(pool: &sqlx::Pool<Db>, row: &GatewayStatusRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO gateway_status (gateway_code, received_at, sent_at, version, outbox_depth,
             oldest_unsent, thinned_total, clock_skew_ms, poll_failures, message, thinned_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, CASE WHEN $7 > 0 THEN $2 END)
         ON CONFLICT (gateway_code) DO UPDATE SET received_at = excluded.received_at,
             sent_at = excluded.sent_at, version = excluded.version,
             outbox_depth = excluded.outbox_depth, oldest_unsent = excluded.oldest_unsent,
             thinned_total = excluded.thinned_total, clock_skew_ms = excluded.clock_skew_ms,
             poll_failures = excluded.poll_failures, message = excluded.message,
             thinned_at = CASE WHEN excluded.thinned_total > gateway_status.thinned_total
                               THEN excluded.received_at ELSE gateway_status.thinned_at END
         WHERE excluded.sent_at >= gateway_status.sent_at",
    )
    .bind(&row.gateway_code)
    .bind(row.received_at)
    .bind(row.sent_at)
    .bind(&row.version)
    .bind(row.outbox_depth)
    .bind(row.oldest_unsent)
    .bind(row.thinned_total)
    .bind(row.clock_skew_ms)
    .bind(row.poll_failures)
    .bind(&row.message)
    .execute(pool)
    .await
    .map(drop)
}

/// The latest status of each gateway in `codes`.
pub async fn statuses(
    pool: &sqlx::Pool<Db>,
    codes: &[String],
) -> Result<Vec<GatewayStatusRow>, sqlx::Error> {
    let mut out = Vec::new();
    for code in codes {
        let row: Option<GatewayStatusRow> = sqlx::query_as(
            "SELECT gateway_code, received_at, sent_at, version, outbox_depth, oldest_unsent,
                    thinned_total, clock_skew_ms, poll_failures, message, thinned_at
             FROM gateway_status WHERE gateway_code = $1",
        )
        .bind(code)
        .fetch_optional(pool)
        .await?;
        out.extend(row);
    }
    Ok(out)
}

/// The latest status of every gateway that ever sent one (one read per alert cycle).
pub async fn all_statuses(pool: &sqlx::Pool<Db>) -> Result<Vec<GatewayStatusRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT gateway_code, received_at, sent_at, version, outbox_depth, oldest_unsent,
                thinned_total, clock_skew_ms, poll_failures, message, thinned_at
         FROM gateway_status ORDER BY gateway_code",
    )
    .fetch_all(pool)
    .await
}
