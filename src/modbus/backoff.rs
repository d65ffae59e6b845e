//! Exponential backoff with jitter, for reconnecting and for busy devices.
//!
//! A county gateway may poll dozens of inverters behind one 4G router; when the router
//! drops, every connection fails at the same instant. Without jitter they would all retry
//! in lockstep and hit the router (and a single-client Huawei dongle) together again.
//! "Equal jitter" keeps at least half of each delay so that a dead device is never hammered,
//! and randomises the other half to spread the herd. The arithmetic is pure: the random
//! draw is an argument, so the schedule is unit-tested exactly.

use std::time::Duration;

/// How delays grow between retries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffPolicy {
    /// Delay before the first retry (before jitter).
    pub initial: Duration,
    /// Ceiling for any delay (before jitter).
    pub max: Duration,
    /// Growth per retry, at least 1.
    pub factor: f64,
}

impl BackoffPolicy {
    /// Reconnecting to a device or gateway: 1 s, 2 s, 4 s... up to 5 minutes.
    pub const RECONNECT: BackoffPolicy = BackoffPolicy {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(300),
        factor: 2.0,
    };

    /// A device answering exception 0x06 (busy): 0.5 s, 1 s, 2 s... up to 8 s.
    pub const BUSY: BackoffPolicy = BackoffPolicy {
        initial: Duration::from_millis(500),
        max: Duration::from_secs(8),
        factor: 2.0,
    };

    /// The un-jittered delay before retry number `attempt` (0 = the first retry).
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let factor = self.factor.max(1.0);
        // powi on a capped exponent: 2^64 seconds would overflow Duration.
        let grown = self.initial.as_secs_f64() * factor.powi(attempt.min(64) as i32);
        let capped = grown.min(self.max.as_secs_f64());
        Duration::from_secs_f64(capped.max(0.0))
    }

    /// The delay before retry `attempt` with equal jitter: half the base delay plus
    /// `unit` (a draw in `0.0..1.0`) times the other half.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let base = self.base_delay(attempt);
        let half = base / 2;
        half + (base - half).mul_f64(unit.clamp(0.0, 1.0))
    }
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy::RECONNECT
    }
}

/// Counts consecutive failures and hands out the next delay.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: BackoffPolicy,
    attempt: u32,
}

impl Backoff {
    /// A fresh backoff: the next delay is the policy's initial one.
    pub fn new(policy: BackoffPolicy) -> Self {
        Backoff { policy, attempt: 0 }
    }

    /// The delay to wait now, with a random jitter draw; counts one more failure.
    pub fn next_delay(&mut self) -> Duration {
        self.next_delay_with(rand::random::<f64>())
    }

    /// [`Backoff::next_delay`] with the jitter draw given (`0.0..1.0`), for tests.
    pub fn next_delay_with(&mut self, unit: f64) -> Duration {
        let delay = self.policy.delay(self.attempt, unit);
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// Consecutive failures since the last success.
    pub fn failures(&self) -> u32 {
        self.attempt
    }

    /// Back to the initial delay after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: BackoffPolicy = BackoffPolicy {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(30),
        factor: 2.0,
    };

    #[test]
    fn delays_double_until_the_ceiling() {
        let bases: Vec<u64> = (0..7).map(|a| POLICY.base_delay(a).as_secs()).collect();
        assert_eq!(bases, vec![1, 2, 4, 8, 16, 30, 30]);
    }

    #[test]
    fn jitter_keeps_at_least_half_and_at_most_the_whole_delay() {
        assert_eq!(POLICY.delay(3, 0.0), Duration::from_secs(4));
        assert_eq!(POLICY.delay(3, 1.0), Duration::from_secs(8));
        assert_eq!(POLICY.delay(3, 0.5), Duration::from_secs(6));
    }

    #[test]
    fn out_of_range_draws_are_clamped() {
        assert_eq!(POLICY.delay(0, -3.0), Duration::from_millis(500));
        assert_eq!(POLICY.delay(0, 7.0), Duration::from_secs(1));
    }

    #[test]
    fn random_delays_stay_inside_the_jitter_window() {
        let mut backoff = Backoff::new(POLICY);
        for attempt in 0..10 {
            let base = POLICY.base_delay(attempt);
            let delay = backoff.next_delay();
            assert!(delay >= base / 2 && delay <= base, "{attempt}: {delay:?}");
        }
    }

    #[test]
    fn a_success_resets_the_schedule() {
        let mut backoff = Backoff::new(POLICY);
        backoff.next_delay_with(1.0);
        backoff.next_delay_with(1.0);
        assert_eq!(backoff.failures(), 2);
        backoff.reset();
        assert_eq!(backoff.next_delay_with(1.0), Duration::from_secs(1));
    }

    #[test]
    fn a_huge_attempt_count_does_not_overflow() {
        assert_eq!(POLICY.base_delay(u32::MAX), Duration::from_secs(30));
        let mut backoff = Backoff::new(POLICY);
        backoff.attempt = u32::MAX;
        assert_eq!(backoff.next_delay_with(1.0), Duration::from_secs(30));
        assert_eq!(backoff.failures(), u32::MAX);
    }

    #[test]
    fn a_factor_below_one_never_shrinks_the_delay() {
        let policy = BackoffPolicy {
            factor: 0.5,
            ..POLICY
        };
        assert_eq!(policy.base_delay(5), Duration::from_secs(1));
    }
}
