//! Dividing Modbus TCP endpoints among pvledger processes: the pure rules.
//!
//! Several `pvledger serve` processes on one database each poll a share of the ledger's
//! Modbus devices. The unit of sharing is an endpoint (`host:port`): the devices behind one
//! gateway share its single TCP connection (see [`super::poller`]), so they stay in one
//! process. Who holds which unit is a lease row in the database (`modbus_leases`), renewed
//! by its holder and free for anyone once it runs out; `modbus_nodes` says which processes
//! are present. [`plan`] decides from a snapshot of both what this process claims and
//! releases; `lease_keeper` does the I/O.
//!
//! The share: with `n` units and `p` processes present, nobody holds more than
//! `ceil(n / p)` ([`Share::high`]). A process above it releases the excess, so a newcomer
//! finds free units. When a present process holds fewer than `floor(n / p)` ([`Share::low`]),
//! say a newcomer while the others sit exactly at `ceil`, each process above `floor`
//! releases one unit and nobody claims beyond `floor` until the newcomer has its part.
//! Claims prefer units by rendezvous hashing of (process, unit), so processes that claim
//! at the same moment mostly want different units and rarely collide.

use std::collections::{BTreeMap, BTreeSet};

/// One row of `modbus_leases` as seen now.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Lease {
    /// The endpoint, `host:port`.
    pub unit: String,
    /// The holder's node id.
    pub owner: String,
    /// The lease has not run out yet (on the database's clock).
    pub live: bool,
}

/// How many units one process should hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// Processes present, this one included.
    pub processes: usize,
    /// `floor(units / processes)`: everyone should get at least this many.
    pub low: usize,
    /// `ceil(units / processes)`: nobody should hold more.
    pub high: usize,
}

/// The fair share of `units` among `processes` (at least 1: this process).
pub fn fair_share(units: usize, processes: usize) -> Share {
    let processes = processes.max(1);
    Share {
        processes,
        low: units / processes,
        high: units.div_ceil(processes),
    }
}

/// What one process sees at the start of a lease cycle (after renewing its own leases).
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// This process's node id.
    pub me: &'a str,
    /// Every unit this process could poll (the ledger's endpoints).
    pub units: &'a BTreeSet<String>,
    /// Every lease row.
    pub leases: &'a [Lease],
    /// Processes whose presence has not run out (this one may be missing on its first cycle).
    pub nodes: &'a [String],
}

/// What to do in one cycle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The fair share this plan aims at.
    pub share: Option<Share>,
    /// Units to stop polling and give up, most expendable first.
    pub release: Vec<String>,
    /// Units to try to take, most wanted first.
    pub claim: Vec<String>,
}

/// Decides which units to release and claim so that every present process converges to
/// its fair share. Units this process holds but cannot poll (not in `units`) are released.
pub fn plan(view: View<'_>) -> Plan {
    let me = view.me;
    let mut held: Vec<&String> = Vec::new();
    let mut foreign: Vec<String> = Vec::new();
    let mut taken: BTreeSet<&str> = BTreeSet::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for lease in view.leases {
        if lease.owner == me {
            // Renewed just before: ours whether or not it had run out.
            match view.units.get(&lease.unit) {
                Some(unit) => held.push(unit),
                None => foreign.push(lease.unit.clone()),
            }
        } else if lease.live {
            taken.insert(&lease.unit);
            *counts.entry(&lease.owner).or_default() += 1;
        }
    }
    // Present: heartbeats, holders of running leases, and this process.
    let mut present: BTreeSet<&str> = view.nodes.iter().map(String::as_str).collect();
    present.extend(counts.keys().copied());
    present.insert(me);
    let share = fair_share(view.units.len(), present.len());
    let starving = present
        .iter()
        .any(|n| *n != me && counts.get(n).copied().unwrap_or(0) < share.low);

    let mut release = foreign;
    let keep = if held.len() > share.high {
        share.high
    } else if starving && held.len() > share.low {
        held.len() - 1
    } else {
        held.len()
    };
    // Give up the units this process wants least, keep the ones it prefers.
    held.sort_by_key(|u| std::cmp::Reverse(preference(me, u)));
    release.extend(held.iter().skip(keep).map(|u| (*u).clone()));

    let cap = if starving { share.low } else { share.high };
    let mut free: Vec<&String> = view
        .units
        .iter()
        .filter(|u| !taken.contains(u.as_str()) && !held.contains(u))
        .collect();
    free.sort_by_key(|u| std::cmp::Reverse(preference(me, u)));
    let claim = free
        .into_iter()
        .take(cap.saturating_sub(keep))
        .cloned()
        .collect();
    Plan {
        share: Some(share),
        release,
        claim,
    }
}

/// How much `node` wants `unit` (rendezvous hashing): a stable score per pair (FNV-1a),
/// so each process has its own order of units and concurrent claims spread out.
fn preference(node: &str, unit: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in node.bytes().chain([0]).chain(unit.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(n: usize) -> BTreeSet<String> {
        (1..=n).map(|i| format!("10.0.0.{i}:502")).collect()
    }

    fn lease(unit: &str, owner: &str, live: bool) -> Lease {
        Lease {
            unit: unit.into(),
            owner: owner.into(),
            live,
        }
    }

    fn nodes(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    /// Runs every process's plan in turn, claims and releases applied as the database
    /// would (a claim wins only if the unit is free), until nothing changes.
    fn settle(units: &BTreeSet<String>, mut leases: Vec<Lease>, names: &[&str]) -> Vec<Lease> {
        let present = nodes(names);
        for _round in 0..20 {
            let before = leases.clone();
            for me in names {
                let p = plan(View {
                    me,
                    units,
                    leases: &leases,
                    nodes: &present,
                });
                leases.retain(|l| !(l.owner == *me && p.release.contains(&l.unit)));
                for unit in p.claim {
                    leases.retain(|l| l.unit != unit || l.live);
                    if !leases.iter().any(|l| l.unit == unit) {
                        leases.push(lease(&unit, me, true));
                    }
                }
            }
            if leases == before {
                return leases;
            }
        }
        panic!("no stable division after 20 rounds: {leases:?}");
    }

    fn held_by(leases: &[Lease], owner: &str) -> usize {
        leases.iter().filter(|l| l.owner == owner).count()
    }

    #[test]
    fn the_fair_share_is_the_ceiling_and_floor_of_units_per_process() {
        assert_eq!(
            fair_share(5, 3),
            Share {
                processes: 3,
                low: 1,
                high: 2
            }
        );
        assert_eq!(fair_share(6, 3).high, 2);
        assert_eq!(fair_share(6, 3).low, 2);
        assert_eq!(fair_share(2, 5).high, 1);
        assert_eq!(fair_share(2, 5).low, 0);
        assert_eq!(fair_share(4, 0).high, 4, "this process always counts");
    }

    #[test]
    fn a_single_process_claims_every_unit() {
        let all = units(7);
        let p = plan(View {
            me: "a",
            units: &all,
            leases: &[],
            nodes: &[],
        });
        assert_eq!(p.claim.len(), 7);
        assert!(p.release.is_empty());
    }

    #[test]
    fn a_process_claims_only_units_that_are_free_or_ran_out() {
        let all = units(4);
        let leases = vec![
            lease("10.0.0.1:502", "b", true),
            lease("10.0.0.2:502", "b", false),
            lease("10.0.0.3:502", "c", true),
        ];
        let p = plan(View {
            me: "a",
            units: &all,
            leases: &leases,
            nodes: &nodes(&["a", "b", "c"]),
        });
        let mut claim = p.claim.clone();
        claim.sort();
        assert_eq!(claim, vec!["10.0.0.2:502", "10.0.0.4:502"]);
    }

    #[test]
    fn a_process_above_its_share_releases_the_excess() {
        let all = units(6);
        let leases: Vec<Lease> = all.iter().map(|u| lease(u, "a", true)).collect();
        let p = plan(View {
            me: "a",
            units: &all,
            leases: &leases,
            nodes: &nodes(&["a", "b", "c"]),
        });
        assert_eq!(p.release.len(), 4);
        assert!(p.claim.is_empty());
    }

    #[test]
    fn processes_started_one_after_another_end_up_balanced() {
        let all = units(5);
        let alone = settle(&all, vec![], &["a"]);
        assert_eq!(held_by(&alone, "a"), 5);
        let three = settle(&all, alone, &["a", "b", "c"]);
        let mut counts: Vec<usize> = ["a", "b", "c"].iter().map(|n| held_by(&three, n)).collect();
        counts.sort();
        assert_eq!(counts, vec![1, 2, 2]);
        assert_eq!(three.len(), 5, "every unit has exactly one holder");
    }

    #[test]
    fn a_newcomer_gets_units_even_when_everyone_sits_at_the_ceiling() {
        // 6 units over 3 processes is 2 each; a fourth has ceil(6/4) = 2 as its share too,
        // so without the floor rule nobody would release anything for it.
        let all = units(6);
        let three = settle(&all, vec![], &["a", "b", "c"]);
        let four = settle(&all, three, &["a", "b", "c", "d"]);
        assert!(held_by(&four, "d") >= 1, "{four:?}");
        assert_eq!(four.len(), 6);
        for n in ["a", "b", "c", "d"] {
            assert!((1..=2).contains(&held_by(&four, n)), "{n}: {four:?}");
        }
    }

    #[test]
    fn survivors_take_over_the_units_of_a_process_whose_leases_ran_out() {
        let all = units(5);
        let three = settle(&all, vec![], &["a", "b", "c"]);
        let dead: Vec<Lease> = three
            .into_iter()
            .map(|l| Lease {
                live: l.owner != "c",
                ..l
            })
            .collect();
        let two = settle(&all, dead, &["a", "b"]);
        assert_eq!(held_by(&two, "c"), 0);
        assert_eq!(held_by(&two, "a") + held_by(&two, "b"), 5);
        assert!(two.iter().all(|l| l.live));
    }

    #[test]
    fn a_lease_of_an_endpoint_this_process_does_not_know_is_released() {
        let all = units(1);
        let leases = vec![lease("10.9.9.9:502", "a", true)];
        let p = plan(View {
            me: "a",
            units: &all,
            leases: &leases,
            nodes: &nodes(&["a"]),
        });
        assert_eq!(p.release, vec!["10.9.9.9:502"]);
        assert_eq!(p.claim, vec!["10.0.0.1:502"]);
    }

    #[test]
    fn more_processes_than_units_leave_some_idle_without_churn() {
        let all = units(2);
        let settled = settle(&all, vec![], &["a", "b", "c", "d"]);
        assert_eq!(settled.len(), 2);
        for n in ["a", "b", "c", "d"] {
            assert!(held_by(&settled, n) <= 1);
        }
    }
}
