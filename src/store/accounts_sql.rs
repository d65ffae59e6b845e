// Users and API tokens, shared by both backends; compiled twice like ledger_sql.rs.

use crate::auth::accounts::UserRow;
use crate::store::Ts;

pub async fn count_users<'c, E: sqlx::Executor<'c, Database = Db>>(
    ex: E,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(ex)
        .await
}

pub async fn insert_user<'c, E: sqlx::Executor<'c, Database = Db>>(
    ex: E,
    name: &str,
    role: &str,
    village_code: Option<&str>,
    password_hash: &str,
    must_change_password: bool,
    now: Ts,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO users (name, role, village_code, password_hash, must_change_password, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(name)
    .bind(role)
    .bind(village_code)
    .bind(password_hash)
    .bind(must_change_password)
    .bind(now)
    .fetch_one(ex)
    .await
}

const USER_COLUMNS: &str = "u.id, u.name, u.role, u.village_code, u.password_hash, u.disabled, \
     u.failed_logins, u.locked_until, u.must_change_password";

pub async fn user_by_name<'c, E: sqlx::Executor<'c, Database = Db>>(
    ex: E,
    name: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users u WHERE u.name = $1"
    ))
    .bind(name)
    .fetch_optional(ex)
    .await
}

/// The enabled user a live token belongs to.
pub async fn user_by_token<'c, E: sqlx::Executor<'c, Database = Db>>(
    ex: E,
    token_hash: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND NOT t.revoked AND NOT u.disabled"
    ))
    .bind(token_hash)
    .fetch_optional(ex)
    .await
}

pub async fn insert_token<'c, E: sqlx::Executor<'c, Database = Db>>(
    ex: E,
    user_id: i64,
    token_hash: &str,
    now: Ts,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO api_tokens (user_id, token_hash, created_at) VALUES ($1, $2, $3)")
        .bind(user_id)
        .bind(token_hash)
        .bind(now)
        .execute(ex)
        .await
        .map(drop)
}

/// After a wrong password: the new count of consecutive failures and, when it reached the
/// limit, until when the account is locked.
pub async fn record_failed_login<'c, E: sqlx::Executor<'c, Database = Db>>(
    ex: E,
    user_id: i64,
    failed_logins: i32,
    locked_until: Option<Ts>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET failed_logins = $2, locked_until = $3 WHERE id = $1")
        .bind(user_id)
        .bind(failed_logins)
        .bind(locked_until)
        .execute(ex)
        .await
        .map(drop)
}

/// After a correct password: the failure count starts again.
pub async fn clear_failed_logins<'c, E: sqlx::Executor<'c, Database = Db>>(
    ex: E,
    user_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
        .bind(user_id)
        .execute(ex)
        .await
        .map(drop)
}

/// A new password chosen by the user (no longer a one-time one).
pub async fn set_password<'c, E: sqlx::Executor<'c, Database = Db>>(
    ex: E,
    user_id: i64,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET password_hash = $2, must_change_password = FALSE WHERE id = $1",
    )
    .bind(user_id)
    .bind(password_hash)
    .execute(ex)
    .await
    .map(drop)
}
