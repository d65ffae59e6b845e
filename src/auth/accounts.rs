//! Accounts and bearer tokens in the database: the first administrator, `user add`,
//! `token create`, and finding the caller behind a token. Every change is audited.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use blake2::{Blake2b, Digest, digest::consts::U32};
use chrono::Utc;
use rand::Rng;

use super::{Role, hash_secret};
use crate::audit::AuditEntry;
use crate::ledger::model::AreaLevel;
use crate::store::{Store, Ts, dispatch, dispatch_tx};

/// A stored user.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub village_code: Option<String>,
    pub password_hash: String,
    pub disabled: bool,
    /// Consecutive wrong passwords, and until when the account is locked because of them.
    pub failed_logins: i32,
    pub locked_until: Option<Ts>,
    /// The password was printed once (first start, `user add`) and must be replaced.
    pub must_change_password: bool,
}

/// Who is calling: a user with a role (and, for a village user, its village).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    pub village_code: Option<String>,
}

impl Caller {
    /// The actor recorded in the audit log.
    pub fn actor(&self) -> String {
        format!("user:{}", self.name)
    }
}

impl TryFrom<UserRow> for Caller {
    type Error = sqlx::Error;

    fn try_from(u: UserRow) -> Result<Self, sqlx::Error> {
        let role = Role::parse(&u.role)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown role {:?}", u.role).into()))?;
        Ok(Caller {
            name: u.name,
            role,
            village_code: u.village_code,
        })
    }
}

/// Why an account action was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(
        "用户名 {0:?} 无效：须为 1 到 64 个字符，不含空白 (invalid user name: 1 to 64 characters, no spaces)"
    )]
    BadName(String),
    #[error("用户 {0} 已存在 (user {0} already exists)")]
    Exists(String),
    #[error("用户 {0} 不存在 (no user named {0})")]
    NoSuchUser(String),
    #[error("未知角色 {0:?}，可选: admin, bureau, finance, technician, village (unknown role)")]
    BadRole(String),
    #[error("村级用户须用 --village 指定本村编码 (a village user needs --village CODE)")]
    VillageRequired,
    #[error("只有村级用户可指定 --village (only a village user has a village)")]
    VillageNotAllowed,
    #[error("{0} 不是台账中的村 (is not a village in the ledger)")]
    UnknownVillage(String),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// A random password a person can type: 16 characters without look-alikes (0/O, 1/l/I).
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..16)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// A new bearer token: `pvl_` and 256 random bits.
fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    format!("pvl_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// What is stored for a token: its BLAKE2b-256 digest in hex.
pub fn token_hash(token: &str) -> String {
    let digest = Blake2b::<U32>::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates the first administrator when there is no user at all, and returns its one-time
/// password (to print once); `None` when users exist. There is no default password.
pub async fn ensure_admin(store: &Store) -> Result<Option<String>, AccountError> {
    if dispatch!(store, accounts::count_users())? > 0 {
        return Ok(None);
    }
    let password = random_password();
    let inserted = insert(
        store,
        "admin",
        Role::Admin,
        None,
        &password,
        "system:first-start",
    )
    .await;
    match inserted {
        Ok(()) => Ok(Some(password)),
        // Several processes started at once on a new database (issue 7): another one
        // created the administrator between the count and the insert, and printed it.
        Err(_) if dispatch!(store, accounts::count_users())? > 0 => Ok(None),
        Err(e) => Err(e),
    }
}

/// Adds a user with a fresh random password, which is returned (to print once).
pub async fn add_user(
    store: &Store,
    name: &str,
    role: &str,
    village: Option<&str>,
    actor: &str,
) -> Result<String, AccountError> {
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_whitespace) {
        return Err(AccountError::BadName(name.into()));
    }
    let role = Role::parse(role).ok_or_else(|| AccountError::BadRole(role.into()))?;
    match (role, village) {
        (Role::Village, None) => return Err(AccountError::VillageRequired),
        (Role::Village, Some(v)) => {
            let ledger = store.load_ledger().await?;
            if !ledger
                .areas
                .iter()
                .any(|a| a.code == v && a.level == AreaLevel::Village)
            {
                return Err(AccountError::UnknownVillage(v.into()));
            }
        }
        (_, Some(_)) => return Err(AccountError::VillageNotAllowed),
        (_, None) => {}
    }
    if dispatch!(store, accounts::user_by_name(name))?.is_some() {
        return Err(AccountError::Exists(name.into()));
    }
    let password = random_password();
    insert(store, name, role, village, &password, actor).await?;
    Ok(password)
}

async fn insert(
    store: &Store,
    name: &str,
    role: Role,
    village: Option<&str>,
    password: &str,
    actor: &str,
) -> Result<(), AccountError> {
    let hash = {
        let p = password.to_owned();
        tokio::task::spawn_blocking(move || hash_secret(&p))
            .await
            .expect("hashing does not panic")
    };
    let mut tx = store.begin().await?;
    dispatch_tx!(
        &mut tx,
        // Printed passwords are one-time: the first login must replace them.
        accounts::insert_user(name, role.as_str(), village, &hash, true, Ts(Utc::now()))
    )?;
    let entry = AuditEntry {
        actor: actor.into(),
        action: "user.add".into(),
        subject: name.into(),
        detail: serde_json::json!({ "role": role.as_str(), "village": village }),
    };
    dispatch_tx!(&mut tx, audit::append(&entry))?;
    tx.commit().await?;
    Ok(())
}

/// Creates a bearer token for `user` and returns it (it is shown once, stored only hashed).
pub async fn create_token(store: &Store, user: &str, actor: &str) -> Result<String, AccountError> {
    let u = dispatch!(store, accounts::user_by_name(user))?
        .ok_or_else(|| AccountError::NoSuchUser(user.into()))?;
    let token = random_token();
    let mut tx = store.begin().await?;
    dispatch_tx!(
        &mut tx,
        accounts::insert_token(u.id, &token_hash(&token), Ts(Utc::now()))
    )?;
    let entry = AuditEntry {
        actor: actor.into(),
        action: "token.create".into(),
        subject: user.into(),
        detail: serde_json::json!({ "role": u.role }),
    };
    dispatch_tx!(&mut tx, audit::append(&entry))?;
    tx.commit().await?;
    Ok(token)
}

/// The caller a bearer token stands for, if the token is live and its user enabled.
pub async fn caller_by_token(store: &Store, token: &str) -> Result<Option<Caller>, sqlx::Error> {
    caller_by_token_hash(store, &token_hash(token)).await
}

/// [`caller_by_token`] from the token's [`token_hash`].
pub async fn caller_by_token_hash(
    store: &Store,
    hash: &str,
) -> Result<Option<Caller>, sqlx::Error> {
    dispatch!(store, accounts::user_by_token(hash))?
        .map(Caller::try_from)
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_tokens_are_random_and_well_formed() {
        let (a, b) = (random_password(), random_password());
        assert_eq!(a.len(), 16);
        assert_ne!(a, b);
        assert!(!a.contains(['0', 'O', '1', 'l', 'I']));
        let t = random_token();
        assert!(t.starts_with("pvl_"));
        assert_eq!(t.len(), 4 + 43);
    }

    #[test]
    fn a_token_hash_is_a_stable_hex_digest() {
        let h = token_hash("pvl_x");
        assert_eq!(h.len(), 64);
        assert_eq!(h, token_hash("pvl_x"));
        assert_ne!(h, token_hash("pvl_y"));
    }
}
