//! Downstream attribution: which track the request that caused a span came from, and how a
//! service without a track of its own behaves when called from the canary against when
//! called from stable.
//!
//! Definitions (README "Forensics"):
//!
//! * A service **has a track of its own** when some of its spans in the data are on a side by
//!   their own `deployment_track` / `service_version` without carrying an originating-track
//!   attribute. The others are **untracked** (for example a shared inventory service that
//!   runs one stable deployment).
//! * A span's **originating track** is the side named by the first of the originating-track
//!   span attributes it carries (`--origin-key`, default `deployment.stage`,
//!   `deployment.track`, `baggage.deployment.stage`, `baggage.deployment.track`,
//!   `canary.track`: the OpenTelemetry BaggageSpanProcessor copies W3C baggage into span
//!   attributes), attribution `baggage`; else the own side of its nearest ancestor in the same
//!   trace whose service has a track of its own, attribution `trace_tree`; else it has none
//!   and is counted in `unattributed_spans`.
//! * Per (untracked service, span name): the spans starting in the window by originating
//!   track, compared canary-originated against stable-originated with analyze's statistics
//!   (the same judges, configuration, Benjamini–Hochberg and classification as `analyze` on
//!   operation groups: `crate::analysis::analyze_at`).
//!
//! Broken trees: the ancestor walk follows parent ids within the trace and stops at a missing
//! parent (orphan) or after visiting as many spans as the trace has (a parent cycle), so such
//! a span falls back to baggage or stays unattributed; of duplicate span ids the first row
//! read is the parent.

use crate::analysis::analyze_at;
use crate::analysis::config::AnalysisConfig;
use crate::analysis::findings::{Classification, MetricName};
use crate::model::comparison::{
    ComparisonInput, GroupComparison, GroupKey, GroupLevel, Quantiles, Selector, TrackSample,
    Window,
};
use crate::model::quality::DataQuality;
use crate::model::traces::{DownstreamInput, SpanIndex, TreeSpan};
use crate::stats::exact_sum::ExactSum;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// How the originating track of a group's spans was known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribution {
    /// Every span carried an originating-track attribute.
    Baggage,
    /// No span did: every one took its nearest tracked ancestor's track.
    TraceTree,
    /// Some spans each way.
    Mixed,
}

/// One originating track of one (service, operation).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OriginStats {
    /// Spans starting in the window.
    pub requests: u64,
    /// Error spans among them.
    pub errors: u64,
    /// `errors / requests` (absent without spans).
    pub error_rate: Option<f64>,
    /// Sum of sampling weights of the spans.
    pub weighted_requests: f64,
    /// Sum of sampling weights of the error spans.
    pub weighted_errors: f64,
    /// Median duration, ms (type 7; absent without spans).
    pub p50_ms: Option<f64>,
    /// 99th percentile duration, ms (type 7; absent without spans).
    pub p99_ms: Option<f64>,
    /// Spans whose originating track an attribute carried.
    pub by_baggage: u64,
    /// Spans whose originating track came from the trace tree.
    pub by_trace_tree: u64,
    /// Tracked services that called it (the nearest tracked ancestor), most spans first.
    pub callers: Vec<String>,
}

/// One canary-vs-stable comparison of a downstream group (a subset of analyze's
/// `Comparison`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DownstreamComparison {
    /// The compared quantity (as in `report.json`).
    pub metric: MetricName,
    /// Point estimate, in `unit` (canary-originated against stable-originated).
    pub estimate: Option<f64>,
    /// Lower confidence bound.
    pub ci_low: Option<f64>,
    /// Upper confidence bound.
    pub ci_high: Option<f64>,
    /// `ratio`, `percentage_points` or `ms`.
    pub unit: String,
    /// Raw p-value.
    pub p_value: Option<f64>,
    /// Benjamini–Hochberg adjusted over every downstream comparison.
    pub p_value_adjusted: Option<f64>,
    /// Test used.
    pub test: Option<String>,
    /// `fail_high`, `fail_low`, `inconclusive` or `pass`, as analyze classifies.
    pub classification: Classification,
    /// Why, in one sentence.
    pub reason: String,
}

/// One (untracked service, operation): its spans by originating track and their comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DownstreamGroup {
    /// Service (without a track of its own).
    pub service: String,
    /// Span name.
    pub operation: String,
    /// How the originating tracks were known.
    pub attribution: Attribution,
    /// Spans originating on the canary.
    pub canary: OriginStats,
    /// Spans originating on the baseline (stable).
    pub stable: OriginStats,
    /// analyze's comparisons of the two.
    pub comparisons: Vec<DownstreamComparison>,
    /// Some comparison failed (significant and beyond the allowed change).
    pub affected: bool,
}

/// The one-sentence answer for one affected service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DownstreamFinding {
    /// Service.
    pub service: String,
    /// The operation of its strongest failed comparison.
    pub operation: String,
    /// That comparison's metric.
    pub metric: MetricName,
    /// "cartservice errors are 41.0× higher when called from canary (checkout): …".
    pub sentence: String,
}

/// Counts of the attribution itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DownstreamSummary {
    /// Services without a track of their own, by name.
    pub untracked_services: Vec<String>,
    /// Their spans in the window.
    pub spans: u64,
    /// Of those, attributed by an originating-track attribute.
    pub by_baggage: u64,
    /// Of those, attributed by the trace tree.
    pub by_trace_tree: u64,
    /// Of those, with no originating track (no attribute, no tracked ancestor).
    pub unattributed_spans: u64,
}

/// Everything downstream attribution found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Downstream {
    /// Counts of the attribution.
    pub summary: DownstreamSummary,
    /// Per (service, operation), affected first, then by service and operation.
    pub groups: Vec<DownstreamGroup>,
    /// One sentence per affected service.
    pub findings: Vec<DownstreamFinding>,
}

#[derive(Default)]
struct Acc {
    count: u64,
    errors: u64,
    weighted: ExactSum,
    weighted_errors: ExactSum,
    durations_ms: Vec<f64>,
    by_baggage: u64,
    by_trace_tree: u64,
    callers: BTreeMap<u32, u64>,
}

impl Acc {
    fn sample(&mut self) -> TrackSample {
        self.durations_ms.sort_by(f64::total_cmp);
        let d = &self.durations_ms;
        TrackSample {
            count: self.count,
            errors: self.errors,
            weighted_count: self.weighted.value(),
            weighted_errors: self.weighted_errors.value(),
            durations_ms: d.clone(),
            quantiles: Quantiles::of_sorted(d),
            // Downstream comparisons judge the whole window (fixed tests).
            duration_buckets: Vec::new(),
        }
    }

    fn stats(&self, s: &TrackSample, names: &[String]) -> OriginStats {
        let mut callers: Vec<(u32, u64)> = self.callers.iter().map(|(k, v)| (*k, *v)).collect();
        callers.sort_by_key(|(k, v)| (std::cmp::Reverse(*v), names[*k as usize].clone()));
        let some = self.count > 0;
        OriginStats {
            requests: self.count,
            errors: self.errors,
            error_rate: some.then(|| self.errors as f64 / self.count as f64),
            weighted_requests: self.weighted.value(),
            weighted_errors: self.weighted_errors.value(),
            p50_ms: some.then_some(s.quantiles.p50),
            p99_ms: some.then_some(s.quantiles.p99),
            by_baggage: self.by_baggage,
            by_trace_tree: self.by_trace_tree,
            callers: callers
                .into_iter()
                .map(|(k, _)| names[k as usize].clone())
                .collect(),
        }
    }
}

/// Attributes every untracked span of `input` to its originating track and compares each
/// (service, operation) canary-originated against stable-originated with `cfg`'s statistics.
pub fn downstream(
    input: &DownstreamInput,
    baseline: &Selector,
    canary: &Selector,
    window: Window,
    cfg: &AnalysisConfig,
) -> Downstream {
    let mut acc = DownstreamAcc::default();
    acc.add(input, &input.trace_order());
    acc.finish(&input.names, baseline, canary, window, cfg)
}

/// Downstream attribution fed one partition of whole traces at a time
/// ([`DownstreamAcc::add`]), judged once at the end ([`DownstreamAcc::finish`]). Counts add
/// up, weights are summed exactly ([`ExactSum`]) and durations are sorted before any
/// statistic, so the result does not depend on how the traces were partitioned or ordered.
#[derive(Default)]
pub struct DownstreamAcc {
    summary: DownstreamSummary,
    acc: BTreeMap<(u32, u32), [Acc; 2]>,
}

impl DownstreamAcc {
    /// Attributes the untracked spans of `input`, whose traces must be whole (every span of a
    /// trace in the same partition: the ancestor walk stays inside the trace).
    /// `order` is [`DownstreamInput::trace_order`].
    pub fn add(&mut self, input: &DownstreamInput, order: &[usize]) {
        let spans = &input.spans;
        let summary = &mut self.summary;
        let mut by_id: SpanIndex = SpanIndex::default();
        for trace in order.chunk_by(|&a, &b| spans[a].trace_id == spans[b].trace_id) {
            if !trace
                .iter()
                .any(|&i| spans[i].in_window && !input.is_tracked(spans[i].service))
            {
                continue;
            }
            by_id.clear();
            for &i in trace {
                by_id.entry(spans[i].span_id).or_insert(i);
            }
            for &i in trace {
                let s = &spans[i];
                if !s.in_window || input.is_tracked(s.service) {
                    continue;
                }
                summary.spans += 1;
                let ancestor = tracked_ancestor(s, input, &by_id, trace.len());
                let (side, baggage) = match (s.origin, ancestor) {
                    (Some(o), _) => (o, true),
                    (None, Some(a)) => (a.side.expect("tracked ancestors have a side"), false),
                    (None, None) => {
                        summary.unattributed_spans += 1;
                        continue;
                    }
                };
                let a = &mut self.acc.entry((s.service, s.span_name)).or_default()[side as usize];
                add(a, s, baggage, ancestor.map(|a| a.service));
                if baggage {
                    summary.by_baggage += 1;
                } else {
                    summary.by_trace_tree += 1;
                }
            }
        }
    }

    /// Judges every (service, operation) seen; `names` is the name list of the last partition
    /// added (it holds every earlier one's).
    pub fn finish(
        self,
        names: &[String],
        baseline: &Selector,
        canary: &Selector,
        window: Window,
        cfg: &AnalysisConfig,
    ) -> Downstream {
        let mut summary = self.summary;
        // By name, not by the interned ids: those follow the engine's row order, which depends
        // on the thread count.
        let name = |i: u32| names[i as usize].as_str();
        let mut groups: Vec<((u32, u32), [Acc; 2])> = self.acc.into_iter().collect();
        groups.sort_by(|((s1, o1), _), ((s2, o2), _)| {
            (name(*s1), name(*o1)).cmp(&(name(*s2), name(*o2)))
        });
        let mut untracked: Vec<String> = groups
            .iter()
            .map(|((s, _), _)| name(*s).to_string())
            .collect();
        untracked.dedup();
        summary.untracked_services = untracked;
        judge(groups, names, baseline, canary, window, cfg, summary)
    }
}

fn add(a: &mut Acc, s: &TreeSpan, baggage: bool, caller: Option<u32>) {
    a.count += 1;
    a.errors += u64::from(s.is_error);
    a.weighted.add(s.weight);
    if s.is_error {
        a.weighted_errors.add(s.weight);
    }
    a.durations_ms.push(s.duration_ns as f64 / 1e6);
    if baggage {
        a.by_baggage += 1;
    } else {
        a.by_trace_tree += 1;
    }
    if let Some(c) = caller {
        *a.callers.entry(c).or_default() += 1;
    }
}

/// The nearest ancestor of `s` whose service has a track of its own and which has a side.
/// At most `limit` steps, so a parent cycle cannot loop; a missing parent ends the walk.
fn tracked_ancestor<'a>(
    s: &TreeSpan,
    input: &'a DownstreamInput,
    by_id: &SpanIndex,
    limit: usize,
) -> Option<&'a TreeSpan> {
    let mut parent = s.parent_span_id;
    for _ in 0..limit {
        let p = &input.spans[*by_id.get(&parent?)?];
        if input.is_tracked(p.service) && p.side.is_some() && p.origin.is_none() {
            return Some(p);
        }
        parent = p.parent_span_id;
    }
    None
}

/// Runs analyze's judges over the groups and writes rows and findings.
fn judge(
    acc: Vec<((u32, u32), [Acc; 2])>,
    names: &[String],
    baseline: &Selector,
    canary: &Selector,
    window: Window,
    cfg: &AnalysisConfig,
    summary: DownstreamSummary,
) -> Downstream {
    let mut cfg = cfg.clone();
    cfg.levels = vec![GroupLevel::Operation];
    let mut groups = Vec::with_capacity(acc.len());
    let mut rows = Vec::with_capacity(acc.len());
    for ((service, op), mut sides) in acc {
        let [b, c] = &mut sides;
        let (bs, cs) = (b.sample(), c.sample());
        let attribution = match (
            b.by_baggage + c.by_baggage,
            b.by_trace_tree + c.by_trace_tree,
        ) {
            (_, 0) => Attribution::Baggage,
            (0, _) => Attribution::TraceTree,
            _ => Attribution::Mixed,
        };
        rows.push(DownstreamGroup {
            service: names[service as usize].clone(),
            operation: names[op as usize].clone(),
            attribution,
            canary: c.stats(&cs, names),
            stable: b.stats(&bs, names),
            comparisons: Vec::new(),
            affected: false,
        });
        groups.push(GroupComparison {
            key: GroupKey {
                service: names[service as usize].clone(),
                level: GroupLevel::Operation,
                name: names[op as usize].clone(),
            },
            baseline: bs,
            canary: cs,
            baseline_series: Vec::new(),
            canary_series: Vec::new(),
        });
    }
    let input = ComparisonInput {
        baseline: baseline.clone(),
        canary: canary.clone(),
        window,
        bucket_ns: (window.end_unix_nano - window.start_unix_nano).max(1),
        canary_first_seen_unix_nano: None,
        groups,
    };
    // The generation time is not written anywhere: a constant keeps the run deterministic.
    let report = analyze_at(&input, &cfg, DataQuality::default(), String::new());
    let index: HashMap<(&str, &str), usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.service.as_str(), r.operation.as_str()), i))
        .collect();
    let mut comparisons: Vec<(usize, DownstreamComparison)> = Vec::new();
    for c in &report.comparisons {
        let Some(&i) = c
            .operation
            .as_deref()
            .and_then(|op| index.get(&(c.service.as_str(), op)))
        else {
            continue;
        };
        comparisons.push((
            i,
            DownstreamComparison {
                metric: c.metric,
                estimate: c.estimate,
                ci_low: c.ci_low,
                ci_high: c.ci_high,
                unit: c.unit.clone(),
                p_value: c.p_value,
                p_value_adjusted: c.p_value_adjusted,
                test: c.test.clone(),
                classification: c.classification,
                reason: c.reason.clone(),
            },
        ));
    }
    for (i, c) in comparisons {
        rows[i].affected |= c.classification.is_fail();
        rows[i].comparisons.push(c);
    }
    let findings = findings(&rows, &canary_name(canary), &canary_name(baseline));
    // Stable: equal keys stay in service, operation order.
    rows.sort_by_key(|r| !r.affected);
    Downstream {
        summary,
        groups: rows,
        findings,
    }
}

fn canary_name(s: &Selector) -> String {
    s.label()
}

/// One sentence per affected service: its failed comparison with the smallest adjusted p
/// (ties: first in service, operation, metric order).
fn findings(rows: &[DownstreamGroup], canary: &str, stable: &str) -> Vec<DownstreamFinding> {
    let mut best: BTreeMap<&str, (&DownstreamGroup, &DownstreamComparison)> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.affected) {
        for c in &r.comparisons {
            if !c.classification.is_fail() {
                continue;
            }
            let q = c.p_value_adjusted.unwrap_or(1.0);
            let better = best
                .get(r.service.as_str())
                .is_none_or(|(_, b)| q < b.p_value_adjusted.unwrap_or(1.0));
            if better {
                best.insert(&r.service, (r, c));
            }
        }
    }
    best.into_values()
        .map(|(r, c)| DownstreamFinding {
            service: r.service.clone(),
            operation: r.operation.clone(),
            metric: c.metric,
            sentence: sentence(r, c, canary, stable),
        })
        .collect()
}

fn sentence(r: &DownstreamGroup, c: &DownstreamComparison, canary: &str, stable: &str) -> String {
    let callers = |o: &OriginStats| {
        o.callers
            .first()
            .map(|s| format!(" {s}"))
            .unwrap_or_default()
    };
    let (cn, sn) = (r.canary.requests, r.stable.requests);
    let q = c
        .p_value_adjusted
        .map(|q| format!("adjusted p = {}", fmt_p(q)))
        .unwrap_or_default();
    let times = |a: f64, b: f64| {
        if b > 0.0 {
            format!("{:.1}× {}", a / b, if a >= b { "higher" } else { "lower" })
        } else {
            "new".to_string()
        }
    };
    match c.metric {
        MetricName::ErrorRate => {
            let (a, b) = (
                r.canary.error_rate.unwrap_or(0.0),
                r.stable.error_rate.unwrap_or(0.0),
            );
            format!(
                "{svc} errors are {t} when called from {canary}{cc} than from {stable}{sc}: {op} fails in {a:.2}% of {cn} calls against {b:.2}% of {sn} ({q}).",
                svc = r.service,
                t = times(a, b),
                cc = callers(&r.canary),
                sc = callers(&r.stable),
                op = r.operation,
                a = 100.0 * a,
                b = 100.0 * b,
            )
        }
        m => {
            let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
            let metric = serde_json::to_value(m)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let est = c
                .estimate
                .map(|e| format!(" {e:.2} ({})", c.unit))
                .unwrap_or_default();
            format!(
                "{svc} {op} is {dir} when called from {canary}{cc} than from {stable}{sc}: median {a50} ms against {b50} ms, p99 {a99} ms against {b99} ms over {cn} and {sn} calls ({metric}{est}, {q}).",
                svc = r.service,
                op = r.operation,
                dir = if c.classification == Classification::FailLow {
                    "faster"
                } else {
                    "slower"
                },
                cc = callers(&r.canary),
                sc = callers(&r.stable),
                a50 = ms(r.canary.p50_ms),
                b50 = ms(r.stable.p50_ms),
                a99 = ms(r.canary.p99_ms),
                b99 = ms(r.stable.p99_ms),
            )
        }
    }
}

fn fmt_p(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::comparison::Side;

    fn tree(
        trace: u8,
        id: u8,
        parent: Option<u8>,
        service: u32,
        side: Option<Side>,
        origin: Option<Side>,
        err: bool,
    ) -> TreeSpan {
        TreeSpan {
            trace_id: [trace; 16],
            span_id: [0, 0, 0, 0, 0, 0, 0, id],
            parent_span_id: parent.map(|p| [0, 0, 0, 0, 0, 0, 0, p]),
            service,
            span_name: 3,
            kind: 1,
            route: None,
            start_ns: 0,
            duration_ns: 1_000_000 * i64::from(id),
            is_error: err,
            weight: 1.0,
            side,
            origin,
            in_window: true,
            file: 0,
        }
    }

    fn sel(t: &str) -> Selector {
        Selector {
            track: Some(t.into()),
            version: None,
        }
    }

    const W: Window = Window {
        start_unix_nano: 0,
        end_unix_nano: 1,
    };

    #[test]
    fn origin_comes_from_baggage_else_the_nearest_tracked_ancestor() {
        // names: 0 frontend (tracked), 1 inventory (untracked), 2 db (untracked), 3 op
        let (c, b) = (Some(Side::Canary), Some(Side::Baseline));
        let spans = vec![
            // trace 1: canary frontend → inventory (baggage says stable: baggage wins) → db
            tree(1, 1, None, 0, c, None, false),
            tree(1, 2, Some(1), 1, b, b, true),
            tree(1, 3, Some(2), 2, None, None, false),
            // trace 2: stable frontend → db (no baggage: trace tree)
            tree(2, 1, None, 0, b, None, false),
            tree(2, 4, Some(1), 2, None, None, false),
            // trace 3: an orphan db span and a parent cycle: unattributed
            tree(3, 5, Some(9), 2, None, None, false),
            tree(3, 6, Some(7), 2, None, None, false),
            tree(3, 7, Some(6), 2, None, None, false),
        ];
        let input = DownstreamInput::new(
            vec![
                "frontend".into(),
                "inventory".into(),
                "db".into(),
                "op".into(),
            ],
            spans,
        );
        let d = downstream(
            &input,
            &sel("stable"),
            &sel("canary"),
            W,
            &AnalysisConfig::default_preset(),
        );
        let s = &d.summary;
        assert_eq!(s.untracked_services, vec!["db", "inventory"]);
        assert_eq!((s.spans, s.by_baggage, s.by_trace_tree), (6, 1, 2));
        assert_eq!(s.unattributed_spans, 3);
        let g = |svc: &str| d.groups.iter().find(|g| g.service == svc).unwrap();
        let inv = g("inventory");
        assert_eq!((inv.stable.requests, inv.stable.errors), (1, 1));
        assert_eq!(inv.canary.requests, 0);
        assert_eq!(inv.attribution, Attribution::Baggage);
        assert_eq!(inv.stable.callers, vec!["frontend"]);
        let db = g("db");
        // trace 1's db span: its nearest tracked ancestor is the canary frontend (inventory
        // is untracked), whatever the baggage of the span between.
        assert_eq!((db.canary.requests, db.stable.requests), (1, 1));
        assert_eq!(db.attribution, Attribution::TraceTree);
    }
}
