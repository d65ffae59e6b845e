//! Callers of API tokens, kept in memory while accounts do not change. Every change to users
//! or API tokens (a revocation, a disabled user, a new role, a login's failure count) moves
//! `versions.accounts` on in its own transaction (migration 0018); a request reads that
//! number anyway, with the ledger's, and finds its caller here instead of in the database
//! while it is unchanged. A revoked token is thus refused from the first request that
//! begins after the revocation commits, in every process, as before.

use std::collections::HashMap;
use std::sync::Mutex;

use super::accounts::{Caller, caller_by_token_hash, token_hash};
use crate::store::Store;

/// Tokens remembered at most; past it the map starts again empty. Unknown tokens are never
/// remembered, so guessing cannot fill it.
const MAX_TOKENS: usize = 10_000;

#[derive(Default)]
pub struct TokenCache {
    /// The accounts version the callers were read at, and the callers by token hash.
    known: Mutex<(i64, HashMap<String, Caller>)>,
}

impl TokenCache {
    /// The caller of `token` as of accounts version `version` (read by the caller of this
    /// function before it), or None for an unknown, revoked or disabled one.
    pub async fn caller(
        &self,
        store: &Store,
        token: &str,
        version: i64,
    ) -> Result<Option<Caller>, sqlx::Error> {
        let hash = token_hash(token);
        {
            let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
            if known.0 == version
                && let Some(caller) = known.1.get(&hash)
            {
                return Ok(Some(caller.clone()));
            }
        }
        // Read after the version: if accounts change in between, this caller is newer than
        // `version`, and the next request, seeing the new number, reads it again.
        let caller = caller_by_token_hash(store, &hash).await?;
        if let Some(c) = &caller {
            let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
            if version > known.0 {
                *known = (version, HashMap::new());
            }
            if version == known.0 {
                if known.1.len() >= MAX_TOKENS {
                    known.1.clear();
                }
                known.1.insert(hash, c.clone());
            }
        }
        Ok(caller)
    }
}
