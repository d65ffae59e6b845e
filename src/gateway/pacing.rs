//! Pacing of the backlog after an outage, pure: a token bucket in readings per second and
//! the random start delay. Live readings are not paced (a few per device per interval).

use std::time::Duration;

use tokio::time::Instant;

/// A token bucket holding at most one batch: a full batch goes out every
/// `batch / rate` seconds on average; rate 0 means unpaced.
#[derive(Debug, Clone)]
pub struct Pacer {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl Pacer {
    /// Starts empty, so the first batch waits one batch period like every later one.
    pub fn new(rate_per_s: f64, batch: usize, now: Instant) -> Self {
        Pacer {
            rate: rate_per_s,
            capacity: batch.max(1) as f64,
            tokens: 0.0,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(self.capacity);
        self.last = now;
    }

    /// Whether a full batch may go now.
    pub fn ready(&mut self, now: Instant) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        self.refill(now);
        self.tokens >= self.capacity
    }

    /// Charges `n` readings that were sent.
    pub fn take(&mut self, n: usize) {
        if self.rate > 0.0 {
            self.tokens = (self.tokens - n as f64).max(0.0);
        }
    }

    /// How long until a full batch may go.
    pub fn wait(&mut self, now: Instant) -> Duration {
        if self.rate <= 0.0 {
            return Duration::ZERO;
        }
        self.refill(now);
        Duration::from_secs_f64(((self.capacity - self.tokens) / self.rate).max(0.0))
    }
}

/// A uniformly random delay in `[0, max]`.
pub fn start_delay(max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    max.mul_f64(rand::random_range(0.0..=1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paced_backlog_goes_out_one_batch_per_batch_period() {
        let t0 = Instant::now();
        let mut p = Pacer::new(100.0, 50, t0);
        assert!(!p.ready(t0), "the first batch waits too");
        assert_eq!(p.wait(t0), Duration::from_millis(500));
        let t1 = t0 + Duration::from_millis(500);
        assert!(p.ready(t1));
        p.take(50);
        assert!(!p.ready(t1));
        // Idle time does not build up more than one batch of credit.
        let t2 = t1 + Duration::from_secs(60);
        assert!(p.ready(t2));
        p.take(50);
        assert!(!p.ready(t2));
    }

    #[test]
    fn rate_zero_is_unpaced() {
        let t0 = Instant::now();
        let mut p = Pacer::new(0.0, 50, t0);
        assert!(p.ready(t0));
        p.take(50);
        assert!(p.ready(t0));
    }

    #[test]
    fn start_delays_stay_within_the_maximum() {
        for _ in 0..100 {
            assert!(start_delay(Duration::from_secs(3)) <= Duration::from_secs(3));
        }
        assert_eq!(start_delay(Duration::ZERO), Duration::ZERO);
    }
}
