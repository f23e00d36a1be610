//! Trace quality of the whole input: every trace's span tree checked for the defects that
//! affect origin search and attribution, counted with a few examples naming the trace, the
//! span and the file (`forensics.json` `input_trace_quality`, README "Bad traces").
//!
//! Definitions, per trace (all spans with one trace id, whatever file they came from):
//!
//! * **duplicate span ids**: rows whose span id repeats one already seen in the trace, in the
//!   canonical row order ([`crate::model::traces::DownstreamInput::trace_order`]); each extra
//!   row counts once and is left out of the checks below (exact duplicates were already
//!   dropped at ingest, so these differ in content).
//! * **orphan spans**: spans whose parent span id is not the id of any span of the trace.
//! * **cycle spans**: spans that cannot be reached from a root or an orphan by following
//!   child links, that is spans on a parent cycle or below one.
//! * **split traces**: traces with more than one root span (no parent id): the trace was cut
//!   into several trees, by a service that did not propagate its context or by lost spans.
//! * **clock-skewed spans**: spans whose parent is in the trace and which start more than
//!   [`CLOCK_SKEW_TOLERANCE_NS`] before the parent starts or end more than that after it ends.
//!   A child of a synchronous call lies inside its parent on one clock; beyond the tolerance
//!   the two hosts' clocks disagree (or the child is asynchronous work that outlived the
//!   parent, which the data cannot tell apart).
//!
//! Counts are sums over traces and the examples are the smallest (trace id, span id) pairs of
//! each kind, so the result is the same for any partitioning of the traces.

use crate::model::traces::{DownstreamInput, SpanIndex};
use serde::Serialize;
use std::collections::hash_map::Entry;
use std::collections::BTreeSet;

/// How far a child may start before or end after its parent before it counts as clock skew:
/// 1 ms, above the sub-millisecond scheduling jitter between a parent's own timestamps and a
/// child's on the same host, below any real cross-host clock error worth reporting.
pub const CLOCK_SKEW_TOLERANCE_NS: i64 = 1_000_000;

/// Examples kept per kind of defect.
pub const MAX_QUALITY_EXAMPLES: usize = 5;

/// One example of a defect.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct QualityExample {
    /// Trace id, lower-case hex.
    pub trace_id: String,
    /// The span concerned (the repeated id, the orphan, a span of the cycle, the second root,
    /// the skewed child), lower-case hex.
    pub span_id: String,
    /// The file the span was read from.
    pub file: String,
}

/// Trace defects over every trace of the input.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InputTraceQuality {
    /// Traces checked (every trace of the input).
    pub traces: u64,
    /// Spans checked (after removing repeated span ids).
    pub spans: u64,
    /// Rows repeating a span id already seen in their trace.
    pub duplicate_span_ids: u64,
    /// Spans whose parent is not in the trace.
    pub orphan_spans: u64,
    /// Spans on or below a parent cycle.
    pub cycle_spans: u64,
    /// Traces with more than one root span.
    pub split_traces: u64,
    /// Children starting before their parent or ending after it by more than
    /// `clock_skew_tolerance_ms`.
    pub clock_skew_spans: u64,
    /// [`CLOCK_SKEW_TOLERANCE_NS`] in milliseconds.
    pub clock_skew_tolerance_ms: f64,
    /// Up to [`MAX_QUALITY_EXAMPLES`] examples per kind with a non-zero count, keyed by the
    /// count's field name, smallest trace id and span id first.
    pub examples: std::collections::BTreeMap<&'static str, Vec<QualityExample>>,
}

impl InputTraceQuality {
    /// Whether any defect was found.
    pub fn any(&self) -> bool {
        self.duplicate_span_ids
            + self.orphan_spans
            + self.cycle_spans
            + self.split_traces
            + self.clock_skew_spans
            > 0
    }
}

/// An example while accumulating: trace id, span id, file name.
type Example = ([u8; 16], [u8; 8], String);

/// Accumulates [`InputTraceQuality`] over partitions of whole traces.
#[derive(Debug, Default)]
pub struct QualityAcc {
    traces: u64,
    spans: u64,
    counts: [u64; 5],
    /// Per kind: the smallest (trace id, span id, file name) seen, at most
    /// [`MAX_QUALITY_EXAMPLES`].
    examples: [BTreeSet<Example>; 5],
}

/// Field names of the kinds, in [`QualityAcc::counts`] order.
const KINDS: [&str; 5] = [
    "duplicate_span_ids",
    "orphan_spans",
    "cycle_spans",
    "split_traces",
    "clock_skew_spans",
];
const DUPLICATE: usize = 0;
const ORPHAN: usize = 1;
const CYCLE: usize = 2;
const SPLIT: usize = 3;
const SKEW: usize = 4;

impl QualityAcc {
    fn note(&mut self, kind: usize, trace: [u8; 16], span: [u8; 8], file: &str) {
        self.counts[kind] += 1;
        let ex = &mut self.examples[kind];
        if ex.len() == MAX_QUALITY_EXAMPLES {
            match ex.last() {
                Some(last) if (&trace, &span) < (&last.0, &last.1) => {
                    ex.pop_last();
                }
                _ => return,
            }
        }
        ex.insert((trace, span, file.to_string()));
    }

    /// Checks every trace of one partition, `order` being its
    /// [`DownstreamInput::trace_order`].
    pub fn add(&mut self, input: &DownstreamInput, order: &[usize]) {
        let spans = &input.spans;
        let file = |i: usize| input.names[spans[i].file as usize].as_str();
        let mut by_id: SpanIndex = SpanIndex::default();
        for trace in order.chunk_by(|&a, &b| spans[a].trace_id == spans[b].trace_id) {
            let tid = spans[trace[0]].trace_id;
            self.traces += 1;
            by_id.clear();
            let mut kept: Vec<usize> = Vec::with_capacity(trace.len());
            for &i in trace {
                match by_id.entry(spans[i].span_id) {
                    Entry::Occupied(_) => self.note(DUPLICATE, tid, spans[i].span_id, file(i)),
                    Entry::Vacant(v) => {
                        v.insert(kept.len());
                        kept.push(i);
                    }
                }
            }
            self.spans += kept.len() as u64;
            let mut children: Vec<Vec<usize>> = vec![Vec::new(); kept.len()];
            let mut starts: Vec<usize> = Vec::new();
            let mut roots = 0u32;
            for (k, &i) in kept.iter().enumerate() {
                let s = &spans[i];
                match s.parent_span_id {
                    None => {
                        roots += 1;
                        if roots == 2 {
                            self.note(SPLIT, tid, s.span_id, file(i));
                        }
                        starts.push(k);
                    }
                    Some(p) => match by_id.get(&p) {
                        Some(&pk) => {
                            children[pk].push(k);
                            let parent = &spans[kept[pk]];
                            let end = s.start_ns.saturating_add(s.duration_ns);
                            let parent_end = parent.start_ns.saturating_add(parent.duration_ns);
                            if s.start_ns < parent.start_ns - CLOCK_SKEW_TOLERANCE_NS
                                || end > parent_end.saturating_add(CLOCK_SKEW_TOLERANCE_NS)
                            {
                                self.note(SKEW, tid, s.span_id, file(i));
                            }
                        }
                        None => {
                            self.note(ORPHAN, tid, s.span_id, file(i));
                            starts.push(k);
                        }
                    },
                }
            }
            let mut seen = vec![false; kept.len()];
            let mut stack = starts;
            while let Some(k) = stack.pop() {
                if !std::mem::replace(&mut seen[k], true) {
                    stack.extend(children[k].iter().copied().filter(|&c| !seen[c]));
                }
            }
            for (k, &i) in kept.iter().enumerate() {
                if !seen[k] {
                    self.note(CYCLE, tid, spans[i].span_id, file(i));
                }
            }
        }
    }

    /// The totals and examples.
    pub fn finish(self) -> InputTraceQuality {
        let hex = crate::model::ids::to_hex;
        let c = self.counts;
        let examples = KINDS
            .iter()
            .zip(self.examples)
            .filter(|(_, ex)| !ex.is_empty())
            .map(|(k, ex)| {
                let list = ex
                    .into_iter()
                    .map(|(t, s, file)| QualityExample {
                        trace_id: hex(&t),
                        span_id: hex(&s),
                        file,
                    })
                    .collect();
                (*k, list)
            })
            .collect();
        InputTraceQuality {
            traces: self.traces,
            spans: self.spans,
            duplicate_span_ids: c[DUPLICATE],
            orphan_spans: c[ORPHAN],
            cycle_spans: c[CYCLE],
            split_traces: c[SPLIT],
            clock_skew_spans: c[SKEW],
            clock_skew_tolerance_ms: CLOCK_SKEW_TOLERANCE_NS as f64 / 1e6,
            examples,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::traces::TreeSpan;

    fn span(trace: u8, id: u8, parent: Option<u8>, start_ms: i64, end_ms: i64) -> TreeSpan {
        TreeSpan {
            trace_id: [trace; 16],
            span_id: [0, 0, 0, 0, 0, 0, 0, id],
            parent_span_id: parent.map(|p| [0, 0, 0, 0, 0, 0, 0, p]),
            service: 0,
            span_name: 0,
            kind: 1,
            route: None,
            start_ns: start_ms * 1_000_000,
            duration_ns: (end_ms - start_ms) * 1_000_000,
            is_error: false,
            weight: 1.0,
            side: None,
            origin: None,
            in_window: true,
            file: u32::from(trace % 2),
        }
    }

    fn quality(spans: Vec<TreeSpan>, partitions: u32) -> InputTraceQuality {
        let names = vec!["a.json".to_string(), "b.json".to_string()];
        let mut acc = QualityAcc::default();
        for p in 0..partitions {
            let part: Vec<TreeSpan> = spans
                .iter()
                .filter(|s| crate::engine::forensics::trace_partition(&s.trace_id, partitions) == p)
                .cloned()
                .collect();
            let input = DownstreamInput::new(names.clone(), part);
            acc.add(&input, &input.trace_order());
        }
        acc.finish()
    }

    fn defects() -> Vec<TreeSpan> {
        let mut dup = span(2, 2, Some(1), 10, 20);
        dup.duration_ns += 1; // same id, other content
        vec![
            // Trace 1: clean, a child ending exactly 1 ms after its parent (inside tolerance).
            span(1, 1, None, 0, 100),
            span(1, 2, Some(1), 10, 101),
            // Trace 2: a duplicate id and an orphan.
            span(2, 1, None, 0, 100),
            span(2, 2, Some(1), 10, 20),
            dup,
            span(2, 3, Some(9), 30, 40),
            // Trace 3: a cycle 4 ↔ 5 with a child 6 below it, and a second root.
            span(3, 1, None, 0, 100),
            span(3, 4, Some(5), 10, 20),
            span(3, 5, Some(4), 10, 20),
            span(3, 6, Some(5), 12, 18),
            span(3, 7, None, 200, 210),
            // Trace 4: one child starting 2 ms early, one ending 3 ms late.
            span(4, 1, None, 10, 100),
            span(4, 2, Some(1), 8, 50),
            span(4, 3, Some(1), 50, 103),
        ]
    }

    #[test]
    fn each_defect_is_counted_with_its_trace_span_and_file() {
        let q = quality(defects(), 1);
        assert_eq!(q.traces, 4);
        assert_eq!(q.spans, 13);
        assert_eq!(
            (
                q.duplicate_span_ids,
                q.orphan_spans,
                q.cycle_spans,
                q.split_traces,
                q.clock_skew_spans
            ),
            (1, 1, 3, 1, 2)
        );
        let ex = |k: &str| {
            q.examples[k]
                .iter()
                .map(|e| format!("{}/{}/{}", &e.trace_id[..2], &e.span_id[14..], e.file))
                .collect::<Vec<_>>()
        };
        assert_eq!(ex("duplicate_span_ids"), ["02/02/a.json"]);
        assert_eq!(ex("orphan_spans"), ["02/03/a.json"]);
        assert_eq!(
            ex("cycle_spans"),
            ["03/04/b.json", "03/05/b.json", "03/06/b.json"]
        );
        assert_eq!(ex("split_traces"), ["03/07/b.json"]);
        assert_eq!(ex("clock_skew_spans"), ["04/02/a.json", "04/03/a.json"]);
        assert!(q.any());
        assert_eq!(q.clock_skew_tolerance_ms, 1.0);
    }

    #[test]
    fn a_clean_trace_has_no_defects() {
        let q = quality(defects()[..2].to_vec(), 1);
        assert!(!q.any(), "{q:?}");
        assert!(q.examples.is_empty());
    }

    #[test]
    fn partitions_and_row_order_do_not_change_anything() {
        let one = quality(defects(), 1);
        for k in [2, 3, 7] {
            let mut rev = defects();
            rev.reverse();
            assert_eq!(quality(rev, k), one, "K = {k}");
        }
    }

    #[test]
    fn examples_are_the_smallest_ids_and_bounded() {
        // 8 traces with one orphan each, added in reverse: the 5 smallest trace ids are kept.
        let spans: Vec<TreeSpan> = (1..=8u8).rev().map(|t| span(t, 1, Some(9), 0, 1)).collect();
        let q = quality(spans, 1);
        assert_eq!(q.orphan_spans, 8);
        let traces: Vec<&str> = q.examples["orphan_spans"]
            .iter()
            .map(|e| &e.trace_id[..2])
            .collect();
        assert_eq!(traces, ["01", "02", "03", "04", "05"]);
    }
}
