//! Who may do what: secrets (argon2 for passwords and gateway credentials), user roles and
//! their permissions, and the accounts and bearer tokens kept in the database.

pub mod accounts;
pub mod roles;
mod secret;

pub use roles::{Permission, Role};
pub use secret::{hash_secret, is_valid_hash, verify_secret};
