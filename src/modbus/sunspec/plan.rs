//! Read planning for SunSpec models.
//!
//! Two field rules shape the plan (`reference/field-notes.md`, SunSpec rules 1-2):
//! a value and its scale factor must come from the same request, because some inverters
//! change scale factors at run time (a value from one instant scaled by another instant's SF
//! is off by a power of ten); and no request may exceed 125 registers.
//!
//! The planner is general rather than special-cased: each decoded point becomes an "atom",
//! the register span covering the value and its scale factor, and requests are cut only
//! between atoms. Where an atom cannot fit in one request (model 160 with more than six
//! modules: module 7's `DCA` is more than 125 registers from `DCA_SF`), the value is read
//! alone and the planner appends a second read of those scale factors after the values;
//! the decoder accepts such a value only if both reads of its scale factor agree.
//! Requests must be performed in the order returned.

use std::collections::BTreeSet;

use super::chain::{ModelChain, ModelEntry};
use super::layout::{PointSpec, layout_for};
use crate::modbus::block::{MAX_REGISTERS_PER_READ, ReadRequest, RegisterKind};

/// One past the last Modbus register address.
const ADDRESS_SPACE: u32 = 1 << 16;

/// A point placed at absolute addresses: value span and optional scale-factor address.
#[derive(Debug, Clone, Copy)]
struct Placed {
    start: u32,
    end: u32,
    sf: Option<u32>,
}

/// Every decoded point of `model`, at absolute addresses, clipped to the device's `L`.
fn placed_points(model: &ModelEntry) -> Vec<Placed> {
    let Some(layout) = layout_for(model.id) else {
        return Vec::new();
    };
    let base = u32::from(model.address);
    let place = |offset: u32, point: &PointSpec| Placed {
        start: base + offset,
        end: base + offset + u32::from(point.len),
        sf: point.sf.map(|sf| base + u32::from(sf)),
    };
    let mut points: Vec<Placed> = layout
        .fixed
        .iter()
        .map(|p| place(u32::from(p.offset), p))
        .collect();
    if let Some(group) = layout.group {
        for instance in 0..group.count_for_length(model.length) {
            let instance_start =
                u32::from(group.start) + u32::from(instance) * u32::from(group.len);
            points.extend(
                group
                    .points
                    .iter()
                    .map(|p| place(instance_start + u32::from(p.offset), p)),
            );
        }
    }
    // A model that runs past register 65535 (only from a chain not walked by
    // `ChainWalker`, which refuses it) keeps the points that exist.
    let end = model.end().min(ADDRESS_SPACE);
    points.retain(|p| p.end <= end && p.sf.is_none_or(|sf| sf < end));
    points
}

/// The span that must not be cut for `point`: value plus scale factor when that fits in
/// one request of `max`, else the value alone.
fn atom(point: &Placed, max: u32) -> (u32, u32) {
    match point.sf {
        Some(sf) => {
            let (start, end) = (point.start.min(sf), point.end.max(sf + 1));
            if end - start <= max {
                (start, end)
            } else {
                (point.start, point.end)
            }
        }
        None => (point.start, point.end),
    }
}

/// Cuts `start..end` into spans of at most `max`, never inside an atom when avoidable.
fn cut(start: u32, end: u32, atoms: &[(u32, u32)], max: u32) -> Vec<(u32, u32)> {
    let mut spans = Vec::new();
    let mut from = start;
    while from < end {
        let limit = end.min(from + max);
        let allowed = |at: u32| atoms.iter().all(|&(a, b)| at <= a || at >= b);
        // Fallback to the hard limit only if atoms chain past it; decoding then reports the
        // split values as missing rather than guessing.
        let to = (from + 1..=limit)
            .rev()
            .find(|&at| allowed(at))
            .unwrap_or(limit);
        spans.push((from, to));
        from = to;
    }
    spans
}

/// The reads that fetch every supported model in `chain`, each at most `max_per_read`
/// registers (capped at 125), scale factors kept with their values.
///
/// Adjacent supported models share requests (model 1 and 103 together are 120 registers),
/// unsupported models are skipped. Perform the requests in order.
pub fn plan_reads(chain: &ModelChain, max_per_read: u16) -> Vec<ReadRequest> {
    let max = u32::from(max_per_read.clamp(1, MAX_REGISTERS_PER_READ));
    let mut requests = Vec::new();
    let supported: Vec<&ModelEntry> = chain
        .models
        .iter()
        .filter(|m| layout_for(m.id).is_some())
        .collect();

    let mut run: Vec<&ModelEntry> = Vec::new();
    for (index, model) in supported.iter().enumerate() {
        run.push(model);
        let next_is_adjacent = supported
            .get(index + 1)
            .is_some_and(|next| u32::from(next.address) == model.end());
        if !next_is_adjacent {
            plan_run(&run, max, &mut requests);
            run.clear();
        }
    }
    requests
}

fn plan_run(run: &[&ModelEntry], max: u32, requests: &mut Vec<ReadRequest>) {
    let (Some(first), Some(last)) = (run.first(), run.last()) else {
        return;
    };
    let points: Vec<Placed> = run.iter().flat_map(|m| placed_points(m)).collect();
    let atoms: Vec<(u32, u32)> = points.iter().map(|p| atom(p, max)).collect();
    let spans = cut(
        u32::from(first.address),
        last.end().min(ADDRESS_SPACE),
        &atoms,
        max,
    );

    // Scale factors that ended up in a different request from their value: read them again
    // after the values so the decoder can check they did not change in between.
    let span_of = |address: u32| spans.iter().position(|&(a, b)| address >= a && address < b);
    let reread: BTreeSet<u32> = points
        .iter()
        .filter_map(|p| p.sf.filter(|&sf| span_of(sf) != span_of(p.start)))
        .collect();
    let mut verify: Vec<(u32, u32)> = Vec::new();
    for sf in reread {
        match verify.last_mut() {
            Some((start, end)) if sf + 1 - *start <= max => *end = sf + 1,
            _ => verify.push((sf, sf + 1)),
        }
    }

    requests.extend(
        spans
            .into_iter()
            .chain(verify)
            .map(|(start, end)| ReadRequest {
                kind: RegisterKind::Holding,
                address: start as u16,
                count: (end - start) as u16,
            }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(id: u16, address: u16, length: u16) -> ModelEntry {
        ModelEntry {
            id,
            address,
            length,
        }
    }

    fn chain(models: Vec<ModelEntry>) -> ModelChain {
        ModelChain {
            models,
            complete: true,
        }
    }

    fn spans(requests: &[ReadRequest]) -> Vec<(u16, u16)> {
        requests.iter().map(|r| (r.address, r.count)).collect()
    }

    #[test]
    fn adjacent_common_and_inverter_models_share_one_read() {
        let plan = plan_reads(
            &chain(vec![model(1, 40002, 66), model(103, 40070, 50)]),
            125,
        );
        assert_eq!(spans(&plan), vec![(40002, 120)]);
    }

    #[test]
    fn unsupported_models_are_skipped_and_break_the_run() {
        let plan = plan_reads(
            &chain(vec![
                model(1, 40002, 66),
                model(64001, 40070, 10),
                model(103, 40082, 50),
            ]),
            125,
        );
        assert_eq!(spans(&plan), vec![(40002, 68), (40082, 52)]);
    }

    #[test]
    fn a_small_read_limit_never_separates_a_value_from_its_scale_factor() {
        let entry = model(103, 40070, 50);
        let plan = plan_reads(&chain(vec![entry]), 20);
        assert!(plan.iter().all(|r| r.count <= 20));
        for point in placed_points(&entry) {
            if let Some(sf) = point.sf {
                let holder = plan
                    .iter()
                    .find(|r| u32::from(r.address) <= point.start && point.end <= r.end())
                    .expect("every value is read whole");
                assert!(
                    u32::from(holder.address) <= sf && sf < holder.end(),
                    "{point:?}"
                );
            }
        }
    }

    #[test]
    fn a_long_mppt_model_is_split_and_its_scale_factors_are_read_again() {
        // 8 modules: 10 + 8 * 20 = 170 registers, more than one read can carry.
        let entry = model(160, 40122, 8 + 8 * 20);
        let plan = plan_reads(&chain(vec![entry]), 125);
        assert!(plan.iter().all(|r| r.count <= 125));
        let covered: u32 = plan[..plan.len() - 1]
            .iter()
            .map(|r| u32::from(r.count))
            .sum();
        assert_eq!(
            covered, 170,
            "the model is read exactly once before the re-read"
        );
        // The last request re-reads DCA_SF..DCWH_SF (offsets 2..=5).
        assert_eq!(spans(&plan[plan.len() - 1..]), vec![(40124, 4)]);
    }

    #[test]
    fn a_short_mppt_model_needs_no_scale_factor_re_read() {
        let plan = plan_reads(&chain(vec![model(160, 40122, 8 + 2 * 20)]), 125);
        assert_eq!(spans(&plan), vec![(40122, 50)]);
    }

    #[test]
    fn cutting_falls_back_to_the_hard_limit_when_atoms_chain_past_it() {
        let spans = cut(0, 200, &[(0, 100), (90, 200)], 125);
        assert_eq!(spans, vec![(0, 125), (125, 200)]);
    }

    #[test]
    fn a_model_past_the_address_space_or_with_a_huge_length_plans_valid_reads() {
        // Fault drills (issue 7): `L + 2` overflowed in `count_for_length` (a debug-build
        // panic) for model 160 with L = 65535, and a model running past register 65535
        // was planned as a read at 65535 of 2 registers.
        for entry in [
            model(160, 0, u16::MAX),
            model(1, 8782, 56753),
            model(103, 65530, 50),
        ] {
            for r in plan_reads(&chain(vec![entry]), 125) {
                assert!(r.end() <= 65536 && r.count >= 1, "{entry:?}: {r:?}");
            }
        }
    }
}
