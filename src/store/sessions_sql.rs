// Browser sessions, shared by both backends; compiled twice like ledger_sql.rs.

use crate::auth::sessions::SessionRow;
use crate::store::Ts;

pub async fn insert_session<'c, E: sqlx::Executor<'c, Database = Db>>(
    ex: E,
    token_hash: &str,
    user_id: i64,
    csrf_token: &str,
    now: Ts,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen) \
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(csrf_token)
    .bind(now)
    .execute(ex)
    .await
    .map(drop)
}

/// The live session behind a cookie: not ended, seen after `idle_since`, created after
/// `created_since`, its user enabled.
pub async fn live_session<'c, E: sqlx::Executor<'c, Database = Db>>(
    ex: E,
    token_hash: &str,
    idle_since: Ts,
    created_since: Ts,
) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.id, s.user_id, s.csrf_token, u.name, u.role, u.village_code, \
                u.must_change_password \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.ended_at IS NULL AND s.last_seen > $2 \
           AND s.created_at > $3 AND NOT u.disabled",
    )
    .bind(token_hash)
    .bind(idle_since)
    .bind(created_since)
    .fetch_optional(ex)
    .await
}

/// Marks a request on the session (idle expiry counts from the last one).
pub async fn touch_session<'c, E: sqlx::Executor<'c, Database = Db>>(
    ex: E,
    id: i64,
    now: Ts,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET last_seen = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(ex)
        .await
        .map(drop)
}

/// Ends one session (logout).
pub async fn end_session<'c, E: sqlx::Executor<'c, Database = Db>>(
    ex: E,
    id: i64,
    now: Ts,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(ex)
        .await
        .map(drop)
}

/// Ends every other session of a user (after a password change, a stolen cookie dies).
pub async fn end_other_sessions<'c, E: sqlx::Executor<'c, Database = Db>>(
    ex: E,
    user_id: i64,
    keep: i64,
    now: Ts,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sessions SET ended_at = $3 WHERE user_id = $1 AND id <> $2 AND ended_at IS NULL",
    )
    .bind(user_id)
    .bind(keep)
    .bind(now)
    .execute(ex)
    .await
    .map(drop)
}
