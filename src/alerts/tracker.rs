//! Durations and the one-open-alert rule, pure: a subject's verdicts over time become at
//! most one open alert. A raise condition must hold for its raise duration before the alert
//! opens, the clear condition for its clear duration before it resolves.
//!
//! The state lives in memory; at every cycle it is first synchronised with the alerts open
//! in the store, so an alert resolved by hand is seen as closed (and opens again as a new
//! item if its condition still holds after the raise duration), and a restart loses only
//! the pending timers.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use super::rules::{Rule, Verdict};

/// What an alert is about: one rule and one subject ('device:CODE', 'station:CODE',
/// 'gateway:CODE', 'township:CODE').
pub type Key = (Rule, String);

#[derive(Debug, Default, Clone)]
struct State {
    open: bool,
    raise_since: Option<DateTime<Utc>>,
    clear_since: Option<DateTime<Utc>>,
}

/// A change the store must make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Open,
    Resolve,
}

#[derive(Debug, Default)]
pub struct Tracker {
    states: HashMap<Key, State>,
}

impl Tracker {
    /// Marks exactly `open` as the open alerts (what the store says).
    pub fn sync_open(&mut self, open: &HashSet<Key>) {
        for (k, s) in &mut self.states {
            if s.open && !open.contains(k) {
                // Resolved by hand: start over.
                *s = State::default();
            }
        }
        for k in open {
            let s = self.states.entry(k.clone()).or_default();
            if !s.open {
                s.open = true;
                s.raise_since = None;
            }
        }
    }

    /// Feeds one verdict; returns the transition due now, if any.
    pub fn observe(
        &mut self,
        key: &Key,
        verdict: Verdict,
        now: DateTime<Utc>,
        raise_after: Duration,
        clear_after: Duration,
    ) -> Option<Transition> {
        if verdict == Verdict::Hold && !self.states.contains_key(key) {
            return None;
        }
        let s = self.states.entry(key.clone()).or_default();
        match (s.open, verdict) {
            (false, Verdict::Raise) => {
                let since = *s.raise_since.get_or_insert(now);
                if now - since >= raise_after {
                    *s = State {
                        open: true,
                        ..State::default()
                    };
                    return Some(Transition::Open);
                }
            }
            (false, Verdict::Clear) => {
                self.states.remove(key);
            }
            (true, Verdict::Clear) => {
                let since = *s.clear_since.get_or_insert(now);
                if now - since >= clear_after {
                    self.states.remove(key);
                    return Some(Transition::Resolve);
                }
            }
            (true, Verdict::Raise) => s.clear_since = None,
            (_, Verdict::Hold) => {}
        }
        None
    }

    /// Subjects not seen in a cycle lose their pending raise timer (the subject left the
    /// ledger or the data); open alerts are kept until their clear condition holds.
    pub fn forget_pending_except(&mut self, seen: &HashSet<Key>) {
        self.states.retain(|k, s| s.open || seen.contains(k));
    }

    /// Is an alert for `key` open?
    pub fn is_open(&self, key: &Key) -> bool {
        self.states.get(key).is_some_and(|s| s.open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(min: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-10T04:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::minutes(min)
    }

    fn key() -> Key {
        (Rule::InverterFault, "device:INV-1".into())
    }

    #[test]
    fn an_alert_opens_only_after_the_condition_held_for_the_raise_duration() {
        let mut t = Tracker::default();
        let (r, c) = (Duration::minutes(5), Duration::minutes(15));
        assert_eq!(t.observe(&key(), Verdict::Raise, at(0), r, c), None);
        assert_eq!(t.observe(&key(), Verdict::Raise, at(4), r, c), None);
        assert_eq!(
            t.observe(&key(), Verdict::Raise, at(5), r, c),
            Some(Transition::Open)
        );
        assert_eq!(
            t.observe(&key(), Verdict::Raise, at(6), r, c),
            None,
            "one open alert"
        );
    }

    #[test]
    fn a_blip_below_the_raise_duration_resets_the_timer() {
        let mut t = Tracker::default();
        let (r, c) = (Duration::minutes(5), Duration::minutes(15));
        t.observe(&key(), Verdict::Raise, at(0), r, c);
        t.observe(&key(), Verdict::Clear, at(3), r, c);
        assert_eq!(t.observe(&key(), Verdict::Raise, at(6), r, c), None);
        assert_eq!(
            t.observe(&key(), Verdict::Raise, at(11), r, c),
            Some(Transition::Open)
        );
    }

    #[test]
    fn an_open_alert_resolves_after_the_clear_duration_and_a_relapse_restarts_it() {
        let mut t = Tracker::default();
        let (r, c) = (Duration::zero(), Duration::minutes(15));
        assert_eq!(
            t.observe(&key(), Verdict::Raise, at(0), r, c),
            Some(Transition::Open)
        );
        assert_eq!(t.observe(&key(), Verdict::Clear, at(1), r, c), None);
        assert_eq!(
            t.observe(&key(), Verdict::Raise, at(10), r, c),
            None,
            "relapse"
        );
        assert_eq!(t.observe(&key(), Verdict::Clear, at(11), r, c), None);
        assert_eq!(
            t.observe(&key(), Verdict::Hold, at(20), r, c),
            None,
            "hold keeps the timer"
        );
        assert_eq!(
            t.observe(&key(), Verdict::Clear, at(26), r, c),
            Some(Transition::Resolve)
        );
        assert!(!t.is_open(&key()));
    }

    #[test]
    fn an_alert_resolved_by_hand_opens_again_only_if_its_condition_persists() {
        let mut t = Tracker::default();
        let (r, c) = (Duration::minutes(5), Duration::minutes(15));
        t.sync_open(&HashSet::from([key()]));
        assert!(t.is_open(&key()));
        t.sync_open(&HashSet::new());
        assert!(!t.is_open(&key()));
        assert_eq!(t.observe(&key(), Verdict::Raise, at(0), r, c), None);
        assert_eq!(
            t.observe(&key(), Verdict::Raise, at(5), r, c),
            Some(Transition::Open)
        );
    }
}
