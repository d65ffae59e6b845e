//! Who may do what: secrets (argon2 for passwords and gateway credentials), user roles and
//! their permissions, the accounts and bearer tokens kept in the database, browser sessions
//! with login lock-out, and the per-address login rate limit.

pub mod accounts;
pub mod limiter;
pub mod roles;
mod secret;
pub mod sessions;
pub mod token_cache;

pub use roles::{Permission, Role};
pub use secret::{hash_secret, is_valid_hash, verify_secret};
