//! Modbus leases (issue 7): which process polls which Modbus TCP endpoint. The queries are
//! in `leases_sql.rs`; the rules for what to claim and release are pure, in
//! [`crate::modbus::lease`], and the task that applies them is `modbus::lease_keeper`.

use std::time::Duration;

use super::{Store, dispatch};
use crate::modbus::lease::Lease;

/// A duration as the milliseconds the lease SQL binds.
fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Store {
    /// Writes `node`'s presence for `ttl` and forgets processes whose presence ran out.
    #[tracing::instrument(skip(self), level = "debug")]
    pub async fn lease_heartbeat(&self, node: &str, ttl: Duration) -> Result<(), sqlx::Error> {
        dispatch!(self, leases::heartbeat(node, ms(ttl)))
    }

    /// Extends `node`'s leases by `ttl`; returns the units it still holds.
    #[tracing::instrument(skip(self), level = "debug")]
    pub async fn lease_renew(&self, node: &str, ttl: Duration) -> Result<Vec<String>, sqlx::Error> {
        dispatch!(self, leases::renew(node, ms(ttl)))
    }

    /// Every lease (with whether it still runs) and the processes present now.
    #[tracing::instrument(skip(self), level = "debug")]
    pub async fn lease_view(&self) -> Result<(Vec<Lease>, Vec<String>), sqlx::Error> {
        dispatch!(self, leases::view())
    }

    /// Takes `unit` for `node` for `ttl` when it is free or ran out; false if another holds it.
    #[tracing::instrument(skip(self), level = "debug")]
    pub async fn lease_claim(
        &self,
        node: &str,
        unit: &str,
        ttl: Duration,
    ) -> Result<bool, sqlx::Error> {
        dispatch!(self, leases::claim(node, unit, ms(ttl)))
    }

    /// Gives `unit` up if `node` holds it.
    #[tracing::instrument(skip(self), level = "debug")]
    pub async fn lease_release(&self, node: &str, unit: &str) -> Result<bool, sqlx::Error> {
        dispatch!(self, leases::release(node, unit))
    }

    /// Gives up every lease and the presence of `node`; returns how many leases it held.
    #[tracing::instrument(skip(self), level = "debug")]
    pub async fn lease_release_all(&self, node: &str) -> Result<u64, sqlx::Error> {
        dispatch!(self, leases::release_all(node))
    }
}
