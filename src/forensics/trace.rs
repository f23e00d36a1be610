//! Failing traces: assemble each trace's span tree, find the span that started the failure
//! (its origin) and say which track the trace went through.
//!
//! Definitions (README "Forensics"):
//!
//! * A **failing trace** has a root span (no parent) that is an error and starts inside the
//!   window. With several such roots the earliest is taken.
//! * The **error path** is the set of error spans reachable from that root through a chain of
//!   error spans. A non-error span on the way ends the path: the error below it was handled
//!   there (a retry that succeeded, a fallback) and did not make the root fail.
//! * The **origin** is the error span on the error path with no error child on the path:
//!   the deepest one, ties broken by the earliest end, then the smallest span id. It is the
//!   span where the failure started as the trace records it.
//! * A trace's **track** is the side of the tracked spans it passed through (those of the
//!   `--service`, else every span whose resource is on a side): `canary`, `stable` (the
//!   baseline side), `both` or `neither`.
//!
//! Bad input never panics; each case is counted in [`TraceQuality`] with example trace ids:
//! duplicate span ids (the first row in start-time order is kept), orphan spans (their parent
//! is not in the data: their subtree is unreachable from the root, so origin search never
//! enters it, but their track still counts), parent cycles (unreachable from any root or
//! orphan: left out of origin search the same way), several root spans, a trace read from
//! more than one file (assembled by trace id across files, so nothing changes), and clock
//! skew (a child starting before its parent or ending after it: the tree is built from ids,
//! not times, so only the tie-break by end time can be affected).

use crate::model::comparison::{Side, Window};
use crate::model::traces::TraceSpan;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// How many example trace ids [`TraceQuality`] keeps per kind of problem.
pub const MAX_EXAMPLES: usize = 5;

/// Which side(s) a trace passed through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceTrack {
    /// Only tracked spans of the canary side.
    Canary,
    /// Only tracked spans of the baseline side.
    Stable,
    /// Tracked spans of both sides.
    Both,
    /// No tracked span of either side.
    Neither,
}

impl TraceTrack {
    /// The name used in outputs.
    pub fn name(self) -> &'static str {
        match self {
            TraceTrack::Canary => "canary",
            TraceTrack::Stable => "stable",
            TraceTrack::Both => "both",
            TraceTrack::Neither => "neither",
        }
    }
}

/// The span that started a trace's failure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Origin {
    /// `service.name`.
    pub service: String,
    /// Span name.
    pub span_name: String,
    /// Span id, lower-case hex.
    pub span_id: String,
    /// Span kind (`SERVER`, `CLIENT`, `INTERNAL`, `PRODUCER`, `CONSUMER`, `UNSPECIFIED`).
    pub kind: &'static str,
    /// `exception.type` of its first exception event.
    pub exception_type: Option<String>,
    /// `exception.message` of its first exception event.
    pub exception_message: Option<String>,
    /// Status message.
    pub status_message: Option<String>,
    /// Depth below the root (the root is 0).
    pub depth: u32,
    /// Template of the exception message, else of the status message
    /// ([`super::template::message_template`]).
    pub message_template: String,
}

/// One failing trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailingTrace {
    /// Trace id, lower-case hex.
    pub trace_id: String,
    /// Root span start, RFC 3339.
    pub start: String,
    /// Root span start, ns since the Unix epoch.
    pub start_unix_nano: i64,
    /// Service of the root span.
    pub root_service: String,
    /// Route of the root span (its span name when it has no route).
    pub root_route: String,
    /// Root span duration, milliseconds.
    pub duration_ms: f64,
    /// Which side(s) the trace passed through.
    pub track: TraceTrack,
    /// Error spans in the trace.
    pub error_spans: u32,
    /// The origin span.
    pub origin: Origin,
}

/// Problems met while assembling failing traces, counted per kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TraceQuality {
    /// Failing traces assembled.
    pub traces: u64,
    /// Rows whose span id repeats one already seen in the trace (dropped).
    pub duplicate_span_ids: u64,
    /// Spans whose parent is not in the data.
    pub orphan_spans: u64,
    /// Spans on or below a parent cycle (unreachable from any root or orphan).
    pub cycle_spans: u64,
    /// Traces with more than one root span.
    pub multiple_roots: u64,
    /// Traces whose spans came from more than one file.
    pub split_across_files: u64,
    /// Spans starting before their parent or ending after it.
    pub clock_skew_spans: u64,
    /// Up to [`MAX_EXAMPLES`] trace ids per kind (key: the field name above).
    pub examples: BTreeMap<&'static str, Vec<String>>,
}

impl TraceQuality {
    fn note(&mut self, kind: &'static str, n: u64, trace: &str) {
        if n == 0 {
            return;
        }
        let field = match kind {
            "duplicate_span_ids" => &mut self.duplicate_span_ids,
            "orphan_spans" => &mut self.orphan_spans,
            "cycle_spans" => &mut self.cycle_spans,
            "multiple_roots" => &mut self.multiple_roots,
            "split_across_files" => &mut self.split_across_files,
            _ => &mut self.clock_skew_spans,
        };
        *field += n;
        let ex = self.examples.entry(kind).or_default();
        if ex.len() < MAX_EXAMPLES {
            ex.push(trace.to_string());
        }
    }
}

/// Name of an OTLP span kind number.
pub fn kind_name(kind: i32) -> &'static str {
    use crate::model::identity::kind as k;
    match kind {
        k::INTERNAL => "INTERNAL",
        k::SERVER => "SERVER",
        k::CLIENT => "CLIENT",
        k::PRODUCER => "PRODUCER",
        k::CONSUMER => "CONSUMER",
        _ => "UNSPECIFIED",
    }
}

/// The failing traces among `spans` (all spans of candidate traces, grouped by trace id as
/// `forensics_failing_spans.sql` orders them), sorted by root start then trace id, and the
/// problems met. A trace without an error root inside `window` is skipped.
pub fn failing_traces(spans: &[TraceSpan], window: Window) -> (Vec<FailingTrace>, TraceQuality) {
    let mut quality = TraceQuality::default();
    let mut out = Vec::new();
    let mut start = 0;
    while start < spans.len() {
        let id = spans[start].trace_id;
        let end = start
            + spans[start..]
                .iter()
                .take_while(|s| s.trace_id == id)
                .count();
        if let Some(t) = assemble(&spans[start..end], window, &mut quality) {
            out.push(t);
        }
        start = end;
    }
    out.sort_by(|a, b| (a.start_unix_nano, &a.trace_id).cmp(&(b.start_unix_nano, &b.trace_id)));
    quality.traces = out.len() as u64;
    (out, quality)
}

/// Assembles one trace (its rows, all with the same trace id) and finds its origin.
fn assemble(rows: &[TraceSpan], window: Window, q: &mut TraceQuality) -> Option<FailingTrace> {
    let trace_hex = crate::model::ids::to_hex(&rows[0].trace_id);
    // Canonical row order so the kept duplicate does not depend on the engine.
    let mut order: Vec<&TraceSpan> = rows.iter().collect();
    order.sort_by(|a, b| {
        (a.start_ns, a.span_id, a.duration_ns, &a.service).cmp(&(
            b.start_ns,
            b.span_id,
            b.duration_ns,
            &b.service,
        ))
    });
    let mut by_id: HashMap<[u8; 8], usize> = HashMap::with_capacity(order.len());
    let mut spans: Vec<&TraceSpan> = Vec::with_capacity(order.len());
    for s in order {
        if by_id.contains_key(&s.span_id) {
            q.note("duplicate_span_ids", 1, &trace_hex);
            continue;
        }
        by_id.insert(s.span_id, spans.len());
        spans.push(s);
    }
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut parent_of: Vec<Option<usize>> = vec![None; spans.len()];
    let mut starts: Vec<usize> = Vec::new(); // roots and orphans: where reachability starts
    let mut orphans = 0;
    for (i, s) in spans.iter().enumerate() {
        match s.parent_span_id {
            None => starts.push(i),
            Some(p) => match by_id.get(&p) {
                Some(&pi) => {
                    parent_of[i] = Some(pi);
                    children[pi].push(i);
                }
                None => {
                    orphans += 1;
                    starts.push(i);
                }
            },
        }
    }
    q.note("orphan_spans", orphans, &trace_hex);
    let reachable = reach(&starts, &children, spans.len());
    let cycles = reachable.iter().filter(|r| !**r).count() as u64;
    q.note("cycle_spans", cycles, &trace_hex);
    let roots: Vec<usize> = (0..spans.len())
        .filter(|&i| spans[i].parent_span_id.is_none())
        .collect();
    if roots.len() > 1 {
        q.note("multiple_roots", 1, &trace_hex);
    }
    let files: HashSet<&str> = spans.iter().map(|s| s.source_file.as_str()).collect();
    if files.len() > 1 {
        q.note("split_across_files", 1, &trace_hex);
    }
    let skewed = (0..spans.len())
        .filter(|&i| {
            parent_of[i].is_some_and(|p| {
                spans[i].start_ns < spans[p].start_ns || spans[i].end_ns() > spans[p].end_ns()
            })
        })
        .count() as u64;
    q.note("clock_skew_spans", skewed, &trace_hex);

    // Roots are in start order, so the first error root inside the window is the earliest.
    let root = *roots.iter().find(|&&i| {
        let s = spans[i];
        s.is_error && s.start_ns >= window.start_unix_nano && s.start_ns < window.end_unix_nano
    })?;
    let origin = origin(root, &spans, &children);
    let o = spans[origin.0];
    let sides: HashSet<Side> = spans.iter().filter_map(|s| s.side).collect();
    let track = match (
        sides.contains(&Side::Canary),
        sides.contains(&Side::Baseline),
    ) {
        (true, true) => TraceTrack::Both,
        (true, false) => TraceTrack::Canary,
        (false, true) => TraceTrack::Stable,
        (false, false) => TraceTrack::Neither,
    };
    let r = spans[root];
    let message = o
        .exception_message
        .as_deref()
        .or(o.status_message.as_deref())
        .unwrap_or("");
    Some(FailingTrace {
        trace_id: trace_hex,
        start: crate::model::time::format_rfc3339(r.start_ns),
        start_unix_nano: r.start_ns,
        root_service: r.service.clone(),
        root_route: r.route.clone().unwrap_or_else(|| r.span_name.clone()),
        duration_ms: r.duration_ns as f64 / 1e6,
        track,
        error_spans: spans.iter().filter(|s| s.is_error).count() as u32,
        origin: Origin {
            service: o.service.clone(),
            span_name: o.span_name.clone(),
            span_id: crate::model::ids::to_hex(&o.span_id),
            kind: kind_name(o.kind),
            exception_type: o.exception_type.clone(),
            exception_message: o.exception_message.clone(),
            status_message: o.status_message.clone(),
            depth: origin.1,
            message_template: super::template::message_template(message),
        },
    })
}

/// Which spans are reachable from `starts` along child edges.
fn reach(starts: &[usize], children: &[Vec<usize>], n: usize) -> Vec<bool> {
    let mut seen = vec![false; n];
    let mut stack: Vec<usize> = starts.to_vec();
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        stack.extend(children[i].iter().copied().filter(|&c| !seen[c]));
    }
    seen
}

/// The origin of the error path below `root` and its depth: the deepest error span with no
/// error child, ties by earliest end, then smallest span id. Iterative, and each span is
/// visited once, so a cycle below the root (impossible from ids, but cheap to rule out)
/// cannot loop.
fn origin(root: usize, spans: &[&TraceSpan], children: &[Vec<usize>]) -> (usize, u32) {
    let mut best = (root, 0u32);
    let mut seen = vec![false; spans.len()];
    let mut stack = vec![(root, 0u32)];
    while let Some((i, depth)) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        let mut error_children = children[i]
            .iter()
            .copied()
            .filter(|&c| spans[c].is_error && !seen[c])
            .peekable();
        if error_children.peek().is_none() {
            let better = |a: (usize, u32), b: (usize, u32)| {
                (
                    std::cmp::Reverse(a.1),
                    spans[a.0].end_ns(),
                    spans[a.0].span_id,
                ) < (
                    std::cmp::Reverse(b.1),
                    spans[b.0].end_ns(),
                    spans[b.0].span_id,
                )
            };
            if better((i, depth), best) || best.0 == root {
                best = (i, depth);
            }
            continue;
        }
        stack.extend(error_children.map(|c| (c, depth + 1)));
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Window = Window {
        start_unix_nano: 0,
        end_unix_nano: 1_000_000,
    };

    fn span(id: u8, parent: Option<u8>, start: i64, dur: i64, err: bool) -> TraceSpan {
        TraceSpan {
            trace_id: [1; 16],
            span_id: [0, 0, 0, 0, 0, 0, 0, id],
            parent_span_id: parent.map(|p| [0, 0, 0, 0, 0, 0, 0, p]),
            service: format!("svc{id}"),
            side: None,
            span_name: format!("op{id}"),
            kind: 2,
            start_ns: start,
            duration_ns: dur,
            is_error: err,
            route: None,
            status_message: err.then(|| format!("failed {id}")),
            exception_type: None,
            exception_message: None,
            source_file: "a.json".into(),
        }
    }

    fn one(spans: Vec<TraceSpan>) -> (FailingTrace, TraceQuality) {
        let (t, q) = failing_traces(&spans, W);
        assert_eq!(t.len(), 1, "{t:?}");
        (t.into_iter().next().unwrap(), q)
    }

    #[test]
    fn origin_is_the_deepest_error_on_the_error_path() {
        // 1 (err) → 2 (err) → 3 (err) → 4 (err); 1 → 5 (err, shallower)
        let (t, q) = one(vec![
            span(1, None, 0, 100, true),
            span(2, Some(1), 10, 50, true),
            span(3, Some(2), 20, 30, true),
            span(4, Some(3), 25, 5, true),
            span(5, Some(1), 70, 10, true),
        ]);
        assert_eq!(t.origin.span_name, "op4");
        assert_eq!(t.origin.depth, 3);
        assert_eq!(t.error_spans, 5);
        assert_eq!(
            q,
            TraceQuality {
                traces: 1,
                ..Default::default()
            }
        );
    }

    #[test]
    fn ties_go_to_the_earliest_end_and_a_handled_error_is_not_on_the_path() {
        // 1 (err) → 2 (err, ends 40), 3 (err, ends 30); 1 → 4 (ok) → 5 (err, deeper)
        let (t, _) = one(vec![
            span(1, None, 0, 100, true),
            span(2, Some(1), 10, 30, true),
            span(3, Some(1), 20, 10, true),
            span(4, Some(1), 50, 20, false),
            span(5, Some(4), 55, 5, true),
        ]);
        assert_eq!(t.origin.span_name, "op3");
    }

    #[test]
    fn a_root_without_error_children_is_its_own_origin() {
        let (t, _) = one(vec![
            span(1, None, 0, 100, true),
            span(2, Some(1), 1, 5, false),
        ]);
        assert_eq!((t.origin.span_name.as_str(), t.origin.depth), ("op1", 0));
        assert_eq!(t.origin.message_template, "failed <num>");
    }

    #[test]
    fn bad_input_is_counted_not_fatal() {
        let mut dup = span(2, Some(1), 10, 20, true);
        dup.service = "other".into();
        let mut split = span(3, Some(2), 5, 90, true); // starts before, ends after its parent
        split.source_file = "b.json".into();
        let (t, q) = one(vec![
            span(1, None, 0, 100, true),
            span(2, Some(1), 10, 20, true),
            dup,
            split,
            span(7, Some(9), 30, 5, true), // orphan: parent 9 missing
            span(8, Some(6), 30, 5, true), // 6 ↔ 8 cycle
            span(6, Some(8), 30, 5, true),
            span(10, None, 200, 5, false), // a second root
        ]);
        assert_eq!(t.origin.span_name, "op3");
        assert_eq!(q.duplicate_span_ids, 1);
        assert_eq!(q.orphan_spans, 1);
        assert_eq!(q.cycle_spans, 2);
        assert_eq!(q.multiple_roots, 1);
        assert_eq!(q.split_across_files, 1);
        assert_eq!(q.clock_skew_spans, 1);
        assert_eq!(q.examples["cycle_spans"], vec![t.trace_id.clone()]);
    }

    #[test]
    fn traces_outside_the_window_or_without_an_error_root_are_skipped() {
        let (t, q) = failing_traces(&[span(1, None, 2_000_000, 10, true)], W);
        assert!(t.is_empty());
        assert_eq!(q.traces, 0);
        let (t, _) = failing_traces(&[span(1, None, 0, 10, false)], W);
        assert!(t.is_empty());
    }

    #[test]
    fn track_is_the_side_of_the_tracked_spans() {
        let track = |sides: &[Option<Side>]| {
            let spans: Vec<TraceSpan> = sides
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let mut sp = span(i as u8 + 1, (i > 0).then_some(1), 0, 10, i == 0);
                    sp.side = *s;
                    sp
                })
                .collect();
            one(spans).0.track
        };
        assert_eq!(track(&[None, Some(Side::Canary)]), TraceTrack::Canary);
        assert_eq!(track(&[Some(Side::Baseline)]), TraceTrack::Stable);
        assert_eq!(
            track(&[None, Some(Side::Canary), Some(Side::Baseline)]),
            TraceTrack::Both
        );
        assert_eq!(track(&[None, None]), TraceTrack::Neither);
    }
}
