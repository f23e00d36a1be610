//! Trace-structure diff: what a request of a tracked service does below itself, canary
//! against stable — which operations it calls and how often, which span names appear or
//! vanish, and which operations' share of the request's critical path grew.
//!
//! Definitions (README "Forensics", `structure[]` in `docs/forensics.schema.json`):
//!
//! * A **request** is an entry span (as the `requests` view: a SERVER span, a root, or a span
//!   whose parent is recorded under another service) of a service with a track of its own
//!   ([`super::downstream`]), on a side by its own track or version, starting inside the
//!   window, having an analysis route and not an error. Its **route** is (service, `route`).
//!   Error requests are counted apart and left out: a failing request stops where it fails,
//!   so every call after the failure point would read as "fewer calls" — the failure is
//!   what `failing_traces[]` and `signatures[]` explain, the structure diff compares what
//!   working requests do.
//! * Its **operations** are the (service, span name) of every span in its subtree, itself
//!   included: every span reached from it by parent links in the same trace, whatever the
//!   service (a call into an untracked service and everything below it belongs to the
//!   request). **Calls per request** of an operation: spans of it in the subtree; **share of
//!   requests making the call**: requests with at least one. Means are weighted by the
//!   request's sampling weight (the entry span's `sample_weight`, which head sampling gives
//!   the whole trace).
//! * **Critical path** (Jaeger's definition, `jaeger-ui` `TracePage/CriticalPath`, 2023): start
//!   at the request's end; the last-finishing child that ends before the current point is on
//!   the path, its own critical path is taken recursively, and the walk continues from that
//!   child's start; the time not covered by such children is the span's **self time** on the
//!   path. Every child is taken as blocking (OTLP has no FOLLOWS_FROM; a span linked by a
//!   span link is not a child). A child overlapping a later-finishing sibling is off the path
//!   (parallel calls: only the one the parent waited for counts). **Clock skew and async
//!   children** (Jaeger's `sanitizeOverFlowingChildren`): a child is clipped to its parent's
//!   interval, and a child entirely outside it is off the path (its calls still count). The
//!   path's self times add up to the request's duration; an operation's **share** is its self
//!   time on the path over that duration (0 when it is not on the path).
//! * **Tests** (per route and operation, canary requests against stable requests): calls per
//!   request, and critical-path share, each by the two-sided Mann–Whitney U test
//!   ([`crate::stats::mann_whitney::mann_whitney_u`]; normal approximation with the tie
//!   correction, H. B. Mann & D. R. Whitney 1947) over the per-request values, requests
//!   without the operation counting 0; Benjamini–Hochberg across every test of the diff
//!   (Y. Benjamini & Y. Hochberg 1995). Unweighted: the test treats each recorded request
//!   as one observation. Fewer than [`MIN_REQUESTS`] requests on a side: no test.
//! * **Classification**: calls — `new_in_canary` (stable never made the call, the test
//!   rejects), `vanished_in_canary` (canary never did), `more_calls`, `fewer_calls`
//!   (by the weighted means) or `unchanged`; critical path — `grew` or `shrank` when the
//!   adjusted p is below alpha and the weighted mean shares differ by at least
//!   [`MIN_SHARE_CHANGE`], else `unchanged`. Shares add up to one, so when one operation's
//!   share grows the others' shrink by as much between them: a route counts as **changed**
//!   by a calls change or a share that grew, not by one that only shrank.
//!
//! Broken trees: a missing parent cuts the subtree there (an orphan is not below anything);
//! a parent cycle or a duplicate span id is walked once (each span is visited at most once per
//! request, the first row read of a duplicate id is the parent).

use crate::model::comparison::Side;
use crate::model::traces::{DownstreamInput, SpanIndex, TreeSpan};
use crate::stats::exact_sum::ExactSum;
use crate::stats::mann_whitney::mann_whitney_u;
use crate::stats::multiple_testing::benjamini_hochberg;
use crate::stats::Alternative;
use serde::Serialize;
use std::collections::BTreeMap;

/// Fewest requests per side for a test.
pub const MIN_REQUESTS: u64 = 2;

/// Smallest difference of mean critical-path shares (a fraction of the request's duration)
/// classified `grew` or `shrank`: one percentage point. Below it a significant difference is
/// too small to explain a regression (it is what a slower sibling does to every share).
pub const MIN_SHARE_CHANGE: f64 = 0.01;

/// OTLP `SpanKind` SERVER.
const SERVER: i32 = 2;

/// How the calls to an operation changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallChange {
    /// Only canary requests make the call (significant).
    NewInCanary,
    /// Only stable requests make the call (significant).
    VanishedInCanary,
    /// Canary requests make it more often per request (significant).
    MoreCalls,
    /// Canary requests make it less often per request (significant).
    FewerCalls,
    /// No significant difference (or too few requests to test).
    Unchanged,
}

/// How an operation's share of the critical path changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathChange {
    /// Larger on canary requests (significant).
    Grew,
    /// Smaller on canary requests (significant).
    Shrank,
    /// No significant difference (or too few requests to test).
    Unchanged,
}

/// One operation below one route, on one side.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OperationSide {
    /// Requests making the call at least once.
    pub requests_with_call: u64,
    /// Spans of the operation below the side's requests.
    pub calls: u64,
    /// Weighted mean spans per request (absent without requests).
    pub calls_per_request: Option<f64>,
    /// Weighted share of requests making the call (absent without requests).
    pub share_of_requests: Option<f64>,
    /// Weighted mean share of the request's critical path that is this operation's self time
    /// (absent without requests).
    pub critical_path_share: Option<f64>,
    /// Weighted mean self time on the critical path, ms per request (absent without requests).
    pub critical_path_ms: Option<f64>,
}

/// A test of one quantity of one operation, canary against stable.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StructureTest {
    /// Two-sided Mann–Whitney p (absent: too few requests on a side).
    pub p_value: Option<f64>,
    /// Benjamini–Hochberg adjusted across every test of the diff.
    pub p_value_adjusted: Option<f64>,
}

/// One (service, span name) below one route.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StructureOperation {
    /// Service of the spans.
    pub service: String,
    /// Span name.
    pub operation: String,
    /// Below canary requests.
    pub canary: OperationSide,
    /// Below stable requests.
    pub stable: OperationSide,
    /// Calls per request, canary against stable.
    pub calls_test: StructureTest,
    /// Critical-path share, canary against stable.
    pub critical_path_test: StructureTest,
    /// How the calls changed.
    pub calls_change: CallChange,
    /// How the critical-path share changed.
    pub critical_path_change: PathChange,
}

impl StructureOperation {
    /// Its calls changed or its critical-path share grew.
    pub fn changed(&self) -> bool {
        self.calls_change != CallChange::Unchanged || self.critical_path_change == PathChange::Grew
    }
}

/// Requests of one route on one side.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RouteSide {
    /// Requests compared (not errors).
    pub requests: u64,
    /// Error requests, left out.
    pub error_requests: u64,
    /// Sum of the compared requests' sampling weights.
    pub weighted_requests: f64,
    /// Weighted mean spans per request (absent without requests).
    pub spans_per_request: Option<f64>,
}

/// The structure diff of one route.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StructureRoute {
    /// Service of the requests.
    pub service: String,
    /// Route.
    pub route: String,
    /// Canary requests.
    pub canary: RouteSide,
    /// Stable requests.
    pub stable: RouteSide,
    /// Operations (`service` `span name`) classified `new_in_canary`.
    pub new_span_names: Vec<String>,
    /// Operations classified `vanished_in_canary`.
    pub vanished_span_names: Vec<String>,
    /// Operations whose calls per request changed otherwise (`more_calls`, `fewer_calls`).
    pub calls_changed: Vec<String>,
    /// Operations whose critical-path share grew.
    pub critical_path_grew: Vec<String>,
    /// Every operation below the route, changed ones ([`StructureOperation::changed`]) first,
    /// then by service and name.
    pub operations: Vec<StructureOperation>,
    /// Some operation changed ([`StructureOperation::changed`]).
    pub changed: bool,
}

/// Per-request values of one operation on one side; requests without the operation are not
/// stored (they count 0).
#[derive(Default)]
struct OpAcc {
    calls: Vec<f64>,
    path_share: Vec<f64>,
    n_calls: u64,
    w_calls: ExactSum,
    w_with_call: ExactSum,
    w_share: ExactSum,
    w_path_ms: ExactSum,
}

#[derive(Default)]
struct RouteAcc {
    requests: [u64; 2],
    errors: [u64; 2],
    weighted: [ExactSum; 2],
    w_spans: [ExactSum; 2],
    ops: BTreeMap<(u32, u32), [OpAcc; 2]>,
}

/// The structure diff of every route of `input`'s requests in the window, routes with a
/// change first, then by service and route.
pub fn structure(input: &DownstreamInput, alpha: f64) -> Vec<StructureRoute> {
    let mut acc = StructureAcc::default();
    acc.add(input, &input.trace_order());
    acc.finish(&input.names, alpha)
}

/// The structure diff fed one partition of whole traces at a time ([`StructureAcc::add`]),
/// tested once at the end ([`StructureAcc::finish`]). Counts add up, weighted sums are exact
/// ([`ExactSum`]) and per-request values are sorted before the tests, so the result does not
/// depend on how the traces were partitioned or ordered.
#[derive(Default)]
pub struct StructureAcc {
    routes: BTreeMap<(u32, u32), RouteAcc>,
    walk: Walk,
}

impl StructureAcc {
    /// Adds the requests of `input`, whose traces must be whole (a request's subtree is
    /// walked inside its trace).
    /// `order` is [`DownstreamInput::trace_order`].
    pub fn add(&mut self, input: &DownstreamInput, order: &[usize]) {
        let spans = &input.spans;
        let walk = &mut self.walk;
        for trace in order.chunk_by(|&a, &b| spans[a].trace_id == spans[b].trace_id) {
            walk.load(spans, trace);
            for (pos, &i) in trace.iter().enumerate() {
                let s = &spans[i];
                let (Some(side), Some(route)) = (s.side, s.route) else {
                    continue;
                };
                if !s.in_window || s.origin.is_some() || !input.is_tracked(s.service) {
                    continue;
                }
                if !walk.is_entry(spans, trace, pos) {
                    continue;
                }
                let r = self.routes.entry((s.service, route)).or_default();
                let k = side as usize;
                if s.is_error {
                    r.errors[k] += 1;
                    continue;
                }
                let per_op = walk.request(spans, trace, pos);
                r.requests[k] += 1;
                r.weighted[k].add(s.weight);
                let dur = s.duration_ns.max(0) as f64;
                let mut n_spans = 0;
                for (&op, &(calls, path_ns)) in per_op {
                    n_spans += calls;
                    let a = &mut r.ops.entry(op).or_default()[k];
                    a.calls.push(f64::from(calls));
                    a.n_calls += u64::from(calls);
                    a.w_calls.add(s.weight * f64::from(calls));
                    a.w_with_call.add(s.weight);
                    a.w_path_ms.add(s.weight * path_ns as f64 / 1e6);
                    if path_ns > 0 && dur > 0.0 {
                        let share = path_ns as f64 / dur;
                        a.path_share.push(share);
                        a.w_share.add(s.weight * share);
                    }
                }
                r.w_spans[k].add(s.weight * f64::from(n_spans));
            }
        }
    }

    /// Tests and classifies every route seen; `names` is the name list of the last partition
    /// added (it holds every earlier one's).
    pub fn finish(self, names: &[String], alpha: f64) -> Vec<StructureRoute> {
        judge(self.routes, names, alpha)
    }
}

/// Per-trace scratch: the children of each span of the trace and the walk's visited marks.
#[derive(Default)]
struct Walk {
    by_id: SpanIndex,
    children: Vec<Vec<usize>>,
    seen: Vec<bool>,
    per_op: BTreeMap<(u32, u32), (u32, i64)>,
    stack: Vec<Frame>,
}

/// A span on the critical-path walk: its clipped interval and the point the walk has reached
/// going backwards from its end.
struct Frame {
    pos: usize,
    start: i64,
    end: i64,
    at: i64,
    first: bool,
}

impl Walk {
    /// Indexes the spans of one trace (positions into `trace`).
    fn load(&mut self, spans: &[TreeSpan], trace: &[usize]) {
        self.by_id.clear();
        for (pos, &i) in trace.iter().enumerate() {
            self.by_id.entry(spans[i].span_id).or_insert(pos);
        }
        self.children.iter_mut().for_each(Vec::clear);
        self.children
            .resize_with(trace.len().max(self.children.len()), Vec::new);
        for (pos, &i) in trace.iter().enumerate() {
            if let Some(&p) = spans[i].parent_span_id.and_then(|p| self.by_id.get(&p)) {
                if p != pos {
                    self.children[p].push(pos);
                }
            }
        }
        self.seen.clear();
        self.seen.resize(trace.len(), false);
    }

    /// Whether the span at `pos` is an entry span (the `requests` view's rule).
    fn is_entry(&self, spans: &[TreeSpan], trace: &[usize], pos: usize) -> bool {
        let s = &spans[trace[pos]];
        let Some(parent) = s.parent_span_id else {
            return true;
        };
        if s.kind == SERVER {
            return true;
        }
        self.by_id
            .get(&parent)
            .is_some_and(|&p| spans[trace[p]].service != s.service)
    }

    /// Calls and critical-path self time (ns) per operation of the request at `pos`.
    fn request(
        &mut self,
        spans: &[TreeSpan],
        trace: &[usize],
        pos: usize,
    ) -> &BTreeMap<(u32, u32), (u32, i64)> {
        self.per_op.clear();
        self.seen.iter_mut().for_each(|s| *s = false);
        // Calls: every span of the subtree once.
        let mut todo = vec![pos];
        self.seen[pos] = true;
        while let Some(p) = todo.pop() {
            let s = &spans[trace[p]];
            self.per_op.entry((s.service, s.span_name)).or_default().0 += 1;
            for &c in &self.children[p] {
                if !self.seen[c] {
                    self.seen[c] = true;
                    todo.push(c);
                }
            }
        }
        // Critical path: Jaeger's backwards walk, children clipped to their parent.
        self.seen.iter_mut().for_each(|s| *s = false);
        let s = &spans[trace[pos]];
        let (start, end) = (s.start_ns, s.start_ns + s.duration_ns.max(0));
        self.seen[pos] = true;
        self.stack.push(Frame {
            pos,
            start,
            end,
            at: end,
            first: true,
        });
        while let Some(f) = self.stack.last() {
            let (fpos, fstart, fend, at, first) = (f.pos, f.start, f.end, f.at, f.first);
            let mut best: Option<(i64, i64, usize)> = None;
            for &c in &self.children[fpos] {
                if self.seen[c] {
                    continue;
                }
                let cs = &spans[trace[c]];
                let (a, b) = (cs.start_ns, cs.start_ns + cs.duration_ns.max(0));
                // Entirely outside the parent: off the path.
                if a >= fend || b <= fstart {
                    continue;
                }
                let (a, b) = (a.max(fstart), b.min(fend));
                // Jaeger: the last child finishing before the point reached (strictly, except
                // at the parent's own end, where clipped children end exactly).
                if !(b < at || (first && b <= at)) {
                    continue;
                }
                // Ties by later start, then by position (the canonical trace order): deterministic.
                if best.is_none_or(|(bb, ba, _)| (b, a) > (bb, ba)) {
                    best = Some((b, a, c));
                }
            }
            let op = {
                let fs = &spans[trace[fpos]];
                (fs.service, fs.span_name)
            };
            let top = self.stack.last_mut().expect("loop condition");
            match best {
                Some((b, a, c)) => {
                    self.per_op.entry(op).or_default().1 += at - b;
                    top.at = a;
                    top.first = false;
                    self.seen[c] = true;
                    self.stack.push(Frame {
                        pos: c,
                        start: a,
                        end: b,
                        at: b,
                        first: true,
                    });
                }
                None => {
                    self.per_op.entry(op).or_default().1 += at - fstart;
                    self.stack.pop();
                }
            }
        }
        &self.per_op
    }
}

fn mean(sum: f64, w: f64) -> Option<f64> {
    (w > 0.0).then(|| sum / w)
}

fn side_stats(a: &OpAcc, weighted: f64) -> OperationSide {
    OperationSide {
        requests_with_call: a.calls.len() as u64,
        calls: a.n_calls,
        calls_per_request: mean(a.w_calls.value(), weighted),
        share_of_requests: mean(a.w_with_call.value(), weighted),
        critical_path_share: mean(a.w_share.value(), weighted),
        critical_path_ms: mean(a.w_path_ms.value(), weighted),
    }
}

/// Values of every request of a side: the stored ones, sorted (the order requests arrived in
/// depends on the partitioning), and a 0 for each request without.
fn padded(v: &[f64], requests: u64) -> Vec<f64> {
    let mut out = v.to_vec();
    out.sort_by(f64::total_cmp);
    out.resize(requests as usize, 0.0);
    out
}

fn test(acc: &[OpAcc; 2], requests: [u64; 2], pick: fn(&OpAcc) -> &[f64]) -> Option<f64> {
    if requests.iter().any(|&n| n < MIN_REQUESTS) {
        return None;
    }
    let [b, c] = acc;
    let x = padded(pick(b), requests[0]);
    let y = padded(pick(c), requests[1]);
    let p = mann_whitney_u(&x, &y, Alternative::TwoSided).p_value;
    p.is_finite().then_some(p)
}

fn judge(acc: BTreeMap<(u32, u32), RouteAcc>, names: &[String], alpha: f64) -> Vec<StructureRoute> {
    let name = |i: u32| names[i as usize].clone();
    let mut routes = Vec::with_capacity(acc.len());
    let mut raw: Vec<f64> = Vec::new();
    // (route, operation, which test) of each raw p.
    let mut slots: Vec<(usize, usize, bool)> = Vec::new();
    for ((service, route), r) in &acc {
        let mut ops = Vec::with_capacity(r.ops.len());
        for ((svc, op), sides) in &r.ops {
            let calls = test(sides, r.requests, |a| &a.calls);
            let path = test(sides, r.requests, |a| &a.path_share);
            for (p, is_path) in [(calls, false), (path, true)] {
                if let Some(p) = p {
                    raw.push(p);
                    slots.push((routes.len(), ops.len(), is_path));
                }
            }
            ops.push(StructureOperation {
                service: name(*svc),
                operation: name(*op),
                canary: side_stats(&sides[Side::Canary as usize], r.weighted[1].value()),
                stable: side_stats(&sides[Side::Baseline as usize], r.weighted[0].value()),
                calls_test: StructureTest {
                    p_value: calls,
                    p_value_adjusted: None,
                },
                critical_path_test: StructureTest {
                    p_value: path,
                    p_value_adjusted: None,
                },
                calls_change: CallChange::Unchanged,
                critical_path_change: PathChange::Unchanged,
            });
        }
        let side = |k: usize| RouteSide {
            requests: r.requests[k],
            error_requests: r.errors[k],
            weighted_requests: r.weighted[k].value(),
            spans_per_request: mean(r.w_spans[k].value(), r.weighted[k].value()),
        };
        routes.push(StructureRoute {
            service: name(*service),
            route: name(*route),
            canary: side(Side::Canary as usize),
            stable: side(Side::Baseline as usize),
            new_span_names: Vec::new(),
            vanished_span_names: Vec::new(),
            calls_changed: Vec::new(),
            critical_path_grew: Vec::new(),
            operations: ops,
            changed: false,
        });
    }
    for ((r, o, is_path), q) in slots.into_iter().zip(benjamini_hochberg(&raw)) {
        let op = &mut routes[r].operations[o];
        if is_path {
            op.critical_path_test.p_value_adjusted = Some(q);
        } else {
            op.calls_test.p_value_adjusted = Some(q);
        }
    }
    for r in &mut routes {
        for op in &mut r.operations {
            classify(op, alpha);
            let label = format!("{} {}", op.service, op.operation);
            match op.calls_change {
                CallChange::NewInCanary => r.new_span_names.push(label.clone()),
                CallChange::VanishedInCanary => r.vanished_span_names.push(label.clone()),
                CallChange::MoreCalls | CallChange::FewerCalls => {
                    r.calls_changed.push(label.clone())
                }
                CallChange::Unchanged => {}
            }
            if op.critical_path_change == PathChange::Grew {
                r.critical_path_grew.push(label);
            }
        }
        r.changed = r.operations.iter().any(StructureOperation::changed);
        // By name, not by the interned ids: those follow the engine's row order, which
        // depends on the thread count.
        r.operations.sort_by(|a, b| {
            (!a.changed(), &a.service, &a.operation).cmp(&(!b.changed(), &b.service, &b.operation))
        });
    }
    routes.sort_by(|a, b| {
        (!a.changed, &a.service, &a.route).cmp(&(!b.changed, &b.service, &b.route))
    });
    routes
}

fn classify(op: &mut StructureOperation, alpha: f64) {
    let sig = |t: &StructureTest| t.p_value_adjusted.is_some_and(|q| q < alpha);
    let (c, s) = (&op.canary, &op.stable);
    if sig(&op.calls_test) {
        op.calls_change = if s.requests_with_call == 0 {
            CallChange::NewInCanary
        } else if c.requests_with_call == 0 {
            CallChange::VanishedInCanary
        } else if c.calls_per_request > s.calls_per_request {
            CallChange::MoreCalls
        } else {
            CallChange::FewerCalls
        };
    }
    let diff = c.critical_path_share.unwrap_or(0.0) - s.critical_path_share.unwrap_or(0.0);
    if sig(&op.critical_path_test) && diff.abs() >= MIN_SHARE_CHANGE {
        op.critical_path_change = if diff > 0.0 {
            PathChange::Grew
        } else {
            PathChange::Shrank
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names: 0 svc (tracked), 1 route, 2.. operations.
    fn names() -> Vec<String> {
        [
            "svc", "/r", "E", "A", "B", "C", "D", "X", "Y", "old", "new", "same",
        ]
        .map(String::from)
        .to_vec()
    }

    fn op(n: &str) -> u32 {
        names().iter().position(|x| x == n).unwrap() as u32
    }

    #[allow(clippy::too_many_arguments)]
    fn span(trace: u8, id: u8, parent: Option<u8>, name: &str, start: i64, end: i64) -> TreeSpan {
        TreeSpan {
            trace_id: [trace; 16],
            span_id: [0, 0, 0, 0, 0, 0, 0, id],
            parent_span_id: parent.map(|p| [0, 0, 0, 0, 0, 0, 0, p]),
            service: 0,
            span_name: op(name),
            kind: 1,
            route: None,
            start_ns: start,
            duration_ns: end - start,
            is_error: false,
            weight: 1.0,
            side: None,
            origin: None,
            in_window: true,
            file: 0,
        }
    }

    fn entry(trace: u8, side: Side, start: i64, end: i64) -> TreeSpan {
        TreeSpan {
            kind: SERVER,
            route: Some(1),
            side: Some(side),
            ..span(trace, 1, None, "E", start, end)
        }
    }

    fn per_op(spans: &[TreeSpan]) -> BTreeMap<(u32, u32), (u32, i64)> {
        let trace: Vec<usize> = (0..spans.len()).collect();
        let mut w = Walk::default();
        w.load(spans, &trace);
        w.request(spans, &trace, 0).clone()
    }

    #[test]
    fn critical_path_follows_the_last_finishing_child_and_clips_skewed_children() {
        let spans = vec![
            entry(1, Side::Canary, 0, 100),
            span(1, 2, Some(1), "A", 10, 40), // parallel with B, which ends later: off the path
            span(1, 3, Some(1), "B", 20, 60),
            span(1, 4, Some(1), "C", 70, 90),
            span(1, 5, Some(3), "D", 30, 50),
            span(1, 6, Some(1), "X", 95, 130), // clock skew: clipped to [95, 100]
            span(1, 7, Some(9), "Y", 0, 100),  // orphan: not below the request
        ];
        let got = per_op(&spans);
        let path = |n: &str| got.get(&(0, op(n))).map(|v| v.1);
        // Backwards from 100: X 95–100, E 90–95, C 70–90, E 60–70, B 50–60, D 30–50, B 20–30,
        // E 0–20.
        assert_eq!(path("E"), Some(35));
        assert_eq!(path("X"), Some(5));
        assert_eq!(path("C"), Some(20));
        assert_eq!(path("B"), Some(20));
        assert_eq!(path("D"), Some(20));
        assert_eq!(path("A"), Some(0));
        assert_eq!(path("Y"), None);
        assert_eq!(got.values().map(|v| v.1).sum::<i64>(), 100);
        assert!(got.values().all(|v| v.0 == 1));
    }

    #[test]
    fn a_parent_cycle_and_a_duplicate_id_are_walked_once() {
        let mut e = entry(1, Side::Canary, 0, 10);
        e.parent_span_id = Some([0, 0, 0, 0, 0, 0, 0, 2]);
        let spans = vec![
            e,
            span(1, 2, Some(1), "A", 2, 8),
            // Duplicate id of A: a child of E too (A, the first row, is the parent of E).
            span(1, 2, Some(1), "B", 1, 9),
        ];
        let got = per_op(&spans);
        assert_eq!(got[&(0, op("E"))], (1, 2));
        assert_eq!(got[&(0, op("A"))], (1, 0));
        assert_eq!(got[&(0, op("B"))], (1, 8));
        assert_eq!(got.values().map(|v| v.1).sum::<i64>(), 10);
    }

    #[test]
    fn new_vanished_and_unchanged_calls_are_classified() {
        let mut spans = Vec::new();
        for t in 0..40u8 {
            let side = if t < 20 { Side::Baseline } else { Side::Canary };
            spans.push(entry(t, side, 0, 100));
            let changed = if side == Side::Canary { "new" } else { "old" };
            spans.push(span(t, 2, Some(1), changed, 10, 20 + i64::from(t % 7)));
            spans.push(span(t, 3, Some(1), "same", 30, 40 + i64::from(t % 5)));
        }
        // An error request is counted apart, whatever it calls.
        let mut err = entry(99, Side::Canary, 0, 100);
        err.is_error = true;
        spans.push(err);
        spans.push(span(99, 2, Some(1), "old", 10, 20));
        let input = DownstreamInput::new(names(), spans);
        let routes = structure(&input, 0.05);
        assert_eq!(routes.len(), 1);
        let r = &routes[0];
        assert_eq!((r.canary.requests, r.stable.requests), (20, 20));
        assert_eq!((r.canary.error_requests, r.stable.error_requests), (1, 0));
        assert_eq!(r.new_span_names, vec!["svc new"]);
        assert_eq!(r.vanished_span_names, vec!["svc old"]);
        assert!(r.changed);
        let same = r.operations.iter().find(|o| o.operation == "same").unwrap();
        assert_eq!(same.calls_change, CallChange::Unchanged);
        assert_eq!(same.canary.calls_per_request, Some(1.0));
        let new = r.operations.iter().find(|o| o.operation == "new").unwrap();
        assert_eq!(new.stable.share_of_requests, Some(0.0));
        assert!(new.calls_test.p_value_adjusted.unwrap() < 1e-6);
    }
}
