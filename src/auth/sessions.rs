//! Browser sessions: login with user name and password (lock-out after repeated failures),
//! the session behind a cookie (idle and absolute expiry), logout, and changing one's own
//! password. Every outcome that changes state is audited. The cookie value is random and
//! stored only as a hash; each session carries its own CSRF token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use rand::Rng;

use super::accounts::{Caller, UserRow, token_hash};
use super::{Role, hash_secret, verify_secret};
use crate::audit::AuditEntry;
use crate::config::HttpConfig;
use crate::store::{Store, Ts, dispatch};

/// A session joined with its user, as read from the database.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: i64,
    pub user_id: i64,
    pub csrf_token: String,
    pub name: String,
    pub role: String,
    pub village_code: Option<String>,
    pub must_change_password: bool,
}

/// A live browser session.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub user_id: i64,
    /// Must come back with every state-changing request made with this session.
    pub csrf_token: String,
    pub caller: Caller,
    /// A one-time password is still in use: nothing but the password change is allowed.
    pub must_change_password: bool,
}

impl TryFrom<SessionRow> for Session {
    type Error = sqlx::Error;

    fn try_from(r: SessionRow) -> Result<Self, sqlx::Error> {
        let role = Role::parse(&r.role)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown role {:?}", r.role).into()))?;
        Ok(Session {
            id: r.id,
            user_id: r.user_id,
            csrf_token: r.csrf_token,
            caller: Caller {
                name: r.name,
                role,
                village_code: r.village_code,
            },
            must_change_password: r.must_change_password,
        })
    }
}

/// Session and lock-out rules, from `[http]` in the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub idle: Duration,
    pub max_age: Duration,
    pub max_failures: u32,
    pub lockout: Duration,
}

impl Policy {
    pub fn from_config(c: &HttpConfig) -> Self {
        Policy {
            idle: Duration::minutes(c.session_idle_minutes.into()),
            max_age: Duration::hours(c.session_max_hours.into()),
            max_failures: c.login_max_failures,
            lockout: Duration::minutes(c.login_lockout_minutes.into()),
        }
    }
}

/// Why a login or password change was refused. The messages are for people, Chinese first;
/// a wrong user name and a wrong password read the same so that names cannot be probed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("用户名或密码错误 (wrong user name or password)")]
    Invalid,
    #[error(
        "账户因多次密码错误已锁定，请于 {until} 后再试或联系管理员 (account locked after repeated wrong passwords until {until})"
    )]
    Locked { until: String },
    #[error(
        "尝试次数过多，请一分钟后再试 (too many login attempts from this address; wait a minute)"
    )]
    RateLimited,
    #[error("当前密码不正确 (the current password is wrong)")]
    WrongCurrent,
    #[error("{0}")]
    WeakPassword(&'static str),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// The consequence of one more wrong password: the new failure count and, once it reaches
/// `max`, the end of the lock-out (the count then starts again).
pub fn after_failure(
    failed_before: i32,
    max: u32,
    now: DateTime<Utc>,
    lockout: Duration,
) -> (i32, Option<DateTime<Utc>>) {
    let failed = failed_before.saturating_add(1);
    if failed >= i32::try_from(max).unwrap_or(i32::MAX) {
        (0, Some(now + lockout))
    } else {
        (failed, None)
    }
}

/// What a new password must satisfy. Length is what matters against guessing; the
/// one-time password must really be replaced.
pub fn check_new_password(name: &str, current: &str, new: &str) -> Result<(), &'static str> {
    if new.chars().count() < 10 {
        return Err("新密码至少 10 个字符 (the new password needs at least 10 characters)");
    }
    if new.chars().count() > 200 {
        return Err("新密码最多 200 个字符 (the new password is longer than 200 characters)");
    }
    if new == current {
        return Err("新密码不能与当前密码相同 (the new password must differ from the current one)");
    }
    if new.eq_ignore_ascii_case(name) {
        return Err("新密码不能与用户名相同 (the new password must differ from the user name)");
    }
    Ok(())
}

fn random_value() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

async fn verify(password: &str, hash: &str) -> bool {
    let (p, h) = (password.to_owned(), hash.to_owned());
    tokio::task::spawn_blocking(move || verify_secret(&p, &h))
        .await
        .unwrap_or(false)
}

async fn audit(
    store: &Store,
    actor: String,
    action: &str,
    subject: &str,
    detail: serde_json::Value,
) {
    let entry = AuditEntry {
        actor,
        action: action.into(),
        subject: subject.into(),
        detail,
    };
    // The login outcome stands even if its trace cannot be written; the failure is logged.
    if let Err(e) = store.audit_append(&entry).await {
        tracing::error!(error = %e, action, "could not write the audit entry");
    }
}

/// Checks a user name and password and opens a session. Returns the cookie value (shown
/// to the browser only) and the session.
pub async fn login(
    store: &Store,
    policy: Policy,
    name: &str,
    password: &str,
    client: &str,
) -> Result<(String, Session), LoginError> {
    let now = Utc::now();
    let user: Option<UserRow> = dispatch!(store, accounts::user_by_name(name))?;
    let Some(user) = user.filter(|u| !u.disabled) else {
        audit(
            store,
            "anonymous".into(),
            "login.failed",
            name,
            serde_json::json!({ "client": client, "reason": "unknown user" }),
        )
        .await;
        return Err(LoginError::Invalid);
    };
    if let Some(until) = user.locked_until.filter(|t| t.0 > now) {
        audit(
            store,
            format!("user:{name}"),
            "login.refused",
            name,
            serde_json::json!({ "client": client, "reason": "locked", "until": until.0 }),
        )
        .await;
        return Err(LoginError::Locked {
            until: until.0.format("%Y-%m-%d %H:%M UTC").to_string(),
        });
    }
    if !verify(password, &user.password_hash).await {
        let (failed, locked) =
            after_failure(user.failed_logins, policy.max_failures, now, policy.lockout);
        dispatch!(
            store,
            accounts::record_failed_login(user.id, failed, locked.map(Ts))
        )?;
        audit(store, format!("user:{name}"), "login.failed", name, serde_json::json!({ "client": client, "reason": "wrong password", "consecutive": user.failed_logins + 1 })).await;
        if let Some(until) = locked {
            audit(store, "system".into(), "user.locked", name, serde_json::json!({ "client": client, "until": until, "after_failures": policy.max_failures })).await;
            return Err(LoginError::Locked {
                until: until.format("%Y-%m-%d %H:%M UTC").to_string(),
            });
        }
        return Err(LoginError::Invalid);
    }
    dispatch!(store, accounts::clear_failed_logins(user.id))?;
    let cookie = random_value();
    let csrf = random_value();
    dispatch!(
        store,
        sessions::insert_session(&token_hash(&cookie), user.id, &csrf, Ts(now))
    )?;
    audit(
        store,
        format!("user:{name}"),
        "login",
        name,
        serde_json::json!({ "client": client, "role": user.role }),
    )
    .await;
    let session = session_by_cookie(store, policy, &cookie)
        .await?
        .ok_or(LoginError::Invalid)?;
    Ok((cookie, session))
}

/// The live session behind a cookie value, marked as used now; `None` when unknown,
/// ended or expired.
pub async fn session_by_cookie(
    store: &Store,
    policy: Policy,
    cookie: &str,
) -> Result<Option<Session>, sqlx::Error> {
    let now = Utc::now();
    let row = dispatch!(
        store,
        sessions::live_session(
            &token_hash(cookie),
            Ts(now - policy.idle),
            Ts(now - policy.max_age)
        )
    )?;
    let Some(row) = row else { return Ok(None) };
    dispatch!(store, sessions::touch_session(row.id, Ts(now)))?;
    Session::try_from(row).map(Some)
}

/// Ends a session (logout).
pub async fn logout(store: &Store, session: &Session) -> Result<(), sqlx::Error> {
    dispatch!(store, sessions::end_session(session.id, Ts(Utc::now())))?;
    audit(
        store,
        session.caller.actor(),
        "logout",
        &session.caller.name,
        serde_json::json!({}),
    )
    .await;
    Ok(())
}

/// Replaces the session user's password after checking the current one; ends the user's
/// other sessions.
pub async fn change_password(
    store: &Store,
    session: &Session,
    current: &str,
    new: &str,
) -> Result<(), LoginError> {
    let user = dispatch!(store, accounts::user_by_name(&session.caller.name))?
        .ok_or(LoginError::Invalid)?;
    if !verify(current, &user.password_hash).await {
        audit(
            store,
            session.caller.actor(),
            "password.change_failed",
            &user.name,
            serde_json::json!({ "reason": "wrong current password" }),
        )
        .await;
        return Err(LoginError::WrongCurrent);
    }
    check_new_password(&user.name, current, new).map_err(LoginError::WeakPassword)?;
    let hash = {
        let p = new.to_owned();
        tokio::task::spawn_blocking(move || hash_secret(&p))
            .await
            .expect("hashing does not panic")
    };
    dispatch!(store, accounts::set_password(user.id, &hash))?;
    dispatch!(
        store,
        sessions::end_other_sessions(user.id, session.id, Ts(Utc::now()))
    )?;
    audit(
        store,
        session.caller.actor(),
        "password.change",
        &user.name,
        serde_json::json!({ "was_one_time": user.must_change_password }),
    )
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fifth_wrong_password_locks_the_account_and_restarts_the_count() {
        let now = Utc::now();
        let lockout = Duration::minutes(15);
        assert_eq!(after_failure(0, 5, now, lockout), (1, None));
        assert_eq!(after_failure(3, 5, now, lockout), (4, None));
        assert_eq!(after_failure(4, 5, now, lockout), (0, Some(now + lockout)));
    }

    #[test]
    fn a_new_password_must_be_long_new_and_not_the_name() {
        assert!(check_new_password("li", "old-password", "short").is_err());
        assert!(check_new_password("li", "old-password", "old-password").is_err());
        assert!(check_new_password("wangxiaoming", "x", "WANGXIAOMING").is_err());
        assert!(check_new_password("li", "old-password", "县能源局2026光伏电站").is_ok());
    }
}
