//! Secrets: user passwords and gateway credentials are stored only as argon2id PHC strings;
//! the plain text is never stored or logged.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Hashes a secret with argon2id and a fresh random salt.
pub fn hash_secret(plain: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(plain.as_bytes(), &salt)
        .expect("argon2 with default parameters hashes any input")
        .to_string()
}

/// True when `plain` matches the stored PHC string. A malformed hash never matches.
pub fn verify_secret(plain: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(plain.as_bytes(), &parsed)
            .is_ok()
    })
}

/// True when `hash` is a well-formed argon2 PHC string.
pub fn is_valid_hash(hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| h.algorithm.as_str().starts_with("argon2"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hashed_secret_verifies_and_a_wrong_one_does_not() {
        let h = hash_secret("k3Jd9-village-gw-0001");
        assert!(h.starts_with("$argon2id$"));
        assert!(is_valid_hash(&h));
        assert!(verify_secret("k3Jd9-village-gw-0001", &h));
        assert!(!verify_secret("k3Jd9-village-gw-0002", &h));
        assert!(!verify_secret("x", "not a hash"));
    }
}
