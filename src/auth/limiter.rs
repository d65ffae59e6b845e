//! Login rate limit per client address: a fixed one-minute window. It slows down password
//! guessing across many user names, which the per-account lock-out alone does not. Kept in
//! memory: a restart forgets it, which only gives an attacker one more window.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Forget addresses not seen for a while, so that the map stays small.
const SWEEP_ABOVE: usize = 10_000;

/// Counts login attempts per address and minute.
#[derive(Debug)]
pub struct LoginLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl LoginLimiter {
    pub fn new(per_minute: u32) -> Self {
        LoginLimiter {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt from `addr` at `now`; false when the address is over its limit.
    pub fn allow(&self, addr: IpAddr, now: Instant) -> bool {
        let mut windows = self.windows.lock().expect("limiter lock is never poisoned");
        if windows.len() > SWEEP_ABOVE {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = windows.entry(addr).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= self.per_minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_over_its_limit_waits_for_the_next_minute_and_others_are_unaffected() {
        let limiter = LoginLimiter::new(3);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        assert!((0..3).all(|_| limiter.allow(a, t0)));
        assert!(!limiter.allow(a, t0 + Duration::from_secs(59)));
        assert!(limiter.allow(b, t0 + Duration::from_secs(59)));
        assert!(limiter.allow(a, t0 + Duration::from_secs(61)));
    }
}
