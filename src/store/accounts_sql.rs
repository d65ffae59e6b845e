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
    now: Ts,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO users (name, role, village_code, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(name)
    .bind(role)
    .bind(village_code)
    .bind(password_hash)
    .bind(now)
    .fetch_one(ex)
    .await
}

const USER_COLUMNS: &str = "u.id, u.name, u.role, u.village_code, u.password_hash, u.disabled";

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
