//! Trace defects injected on request (`generate --trace-defects`), so that tests can check
//! canalyst's trace-quality counts (`forensics.json` `input_trace_quality`) against what was
//! written.
//!
//! A trace is damaged when the last two bytes of its id, read big-endian, are `k` modulo
//! [`DEFECT_MODULUS`] for `k` in 0..5; each such trace gets exactly one defect (the spans
//! of a simulated trace form one clean tree, each child inside its parent):
//!
//! 0. **orphan**: the last span (a leaf) names a parent id that no span of the trace has;
//! 1. **duplicate span id**: a copy of the last span, 1 µs later (so not an exact duplicate,
//!    which ingest would drop), as an INTERNAL span;
//! 2. **cycle**: two new INTERNAL spans, each the other's parent, inside the root's time;
//! 3. **split trace**: a second root, a copy of the last span with a new id and no parent;
//! 4. **clock skew**: the last span ends 5 ms after its parent ends.
//!
//! Only traces with at least two spans are damaged. The added spans are INTERNAL, so they
//! are not requests; the metrics are recorded before the damage.

use super::simulate::{Operation, SimSpan, SimTrace};
use crate::model::identity::kind;
use serde::Serialize;

/// One trace in this many of each defect kind.
pub const DEFECT_MODULUS: u32 = 40;

/// How far the clock-skewed span ends after its parent, ns.
pub const SKEW_NS: i64 = 5_000_000;

/// What was injected (`truth.json` `trace_defects`), in the units canalyst counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DefectCounts {
    /// Extra rows repeating a span id.
    pub duplicate_span_ids: u64,
    /// Spans whose parent is not in the trace.
    pub orphan_spans: u64,
    /// Spans on a parent cycle.
    pub cycle_spans: u64,
    /// Traces with two roots.
    pub split_traces: u64,
    /// Spans ending [`SKEW_NS`] after their parent.
    pub clock_skew_spans: u64,
}

impl DefectCounts {
    /// Adds another tally.
    pub fn merge(&mut self, o: &DefectCounts) {
        self.duplicate_span_ids += o.duplicate_span_ids;
        self.orphan_spans += o.orphan_spans;
        self.cycle_spans += o.cycle_spans;
        self.split_traces += o.split_traces;
        self.clock_skew_spans += o.clock_skew_spans;
    }
}

/// A span id derived from the trace id and `salt`, not used by any span of `t`.
fn fresh_id(t: &SimTrace, salt: u8) -> [u8; 8] {
    let mut id = [0xc0, 0xff, 0xee, salt, 0, 0, 0, 0];
    id[4..].copy_from_slice(&t.trace_id[12..]);
    while t.spans.iter().any(|s| s.span_id == id) {
        id[3] = id[3].wrapping_add(16);
    }
    id
}

/// An INTERNAL copy of `sp` without error.
fn internal(sp: &SimSpan) -> SimSpan {
    SimSpan {
        kind: kind::INTERNAL,
        op: Operation::Internal,
        error: None,
        slowed: false,
        ..sp.clone()
    }
}

/// Damages `t` if its id selects it (see the module doc) and says what was injected.
pub fn inject(t: &mut SimTrace) -> DefectCounts {
    let mut c = DefectCounts::default();
    let n = t.spans.len();
    if n < 2 {
        return c;
    }
    let sel = u32::from(u16::from_be_bytes([t.trace_id[14], t.trace_id[15]])) % DEFECT_MODULUS;
    let last = n - 1;
    match sel {
        0 => {
            t.spans[last].parent_override = Some(fresh_id(t, 0));
            c.orphan_spans = 1;
        }
        1 => {
            let mut dup = internal(&t.spans[last]);
            dup.start_ns += 1_000;
            dup.end_ns += 1_000;
            t.spans.push(dup);
            c.duplicate_span_ids = 1;
        }
        2 => {
            let (a, b) = (fresh_id(t, 1), fresh_id(t, 2));
            let root = &t.spans[0];
            let base = SimSpan {
                parent: Some(0),
                end_ns: root.start_ns + (root.end_ns - root.start_ns) / 2,
                ..internal(root)
            };
            t.spans.push(SimSpan {
                span_id: a,
                parent_override: Some(b),
                ..base.clone()
            });
            t.spans.push(SimSpan {
                span_id: b,
                parent_override: Some(a),
                ..base
            });
            c.cycle_spans = 2;
        }
        3 => {
            let id = fresh_id(t, 3);
            let root = SimSpan {
                span_id: id,
                parent: None,
                ..internal(&t.spans[last])
            };
            t.spans.push(root);
            c.split_traces = 1;
        }
        4 => {
            let p = t.spans[last].parent.expect("only the first span is a root");
            t.spans[last].end_ns = t.spans[p].end_ns + SKEW_NS;
            c.clock_skew_spans = 1;
        }
        _ => {}
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::scenario::Scenario;
    use crate::generate::simulate::{simulate_trace, tests::plan};
    use std::collections::HashSet;

    #[test]
    fn each_selected_trace_gets_its_one_defect_and_the_others_are_untouched() {
        let p = plan(Scenario::Mixed, 40_000, 0.1);
        let mut total = DefectCounts::default();
        for i in 0..p.trace_start.len() {
            let clean = simulate_trace(&p, i);
            let mut t = clean.clone();
            let c = inject(&mut t);
            total.merge(&c);
            let ids: Vec<[u8; 8]> = t.spans.iter().map(|s| s.span_id).collect();
            let distinct: HashSet<[u8; 8]> = ids.iter().copied().collect();
            let roots = t
                .spans
                .iter()
                .filter(|s| s.parent.is_none() && s.parent_override.is_none())
                .count();
            let orphans = t
                .spans
                .iter()
                .filter(|s| s.parent_override.is_some_and(|p| !distinct.contains(&p)))
                .count();
            assert_eq!(
                (
                    (ids.len() - distinct.len()) as u64,
                    orphans as u64,
                    roots as u64 - 1
                ),
                (c.duplicate_span_ids, c.orphan_spans, c.split_traces),
                "trace {i}"
            );
            if c == DefectCounts::default() {
                assert_eq!(t, clean, "trace {i} was not selected");
            }
        }
        for n in [
            total.duplicate_span_ids,
            total.orphan_spans,
            total.cycle_spans / 2,
            total.split_traces,
            total.clock_skew_spans,
        ] {
            assert!(n > 10, "{total:?}");
        }
    }
}
