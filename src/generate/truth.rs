//! `truth.json`: what a run contains and what was injected, so tests, calibration and
//! examples can check the analysis against the answer. Format documented in
//! `docs/generate.md`.

use super::metrics::{MetricReset, MetricsTruth};
use super::plan::TrafficPlan;
use super::scenario::{clean_routes, Effect, EffectKind};
use super::topology::{RouteId, Step, Track, ROUTES, SERVICES};
use crate::model::time::format_rfc3339;
use serde::Serialize;

/// Version of the `truth.json` layout.
pub const TRUTH_FORMAT_VERSION: u32 = 1;

/// Request and error counts of one route per track, within the comparison window (from the
/// canary start, when both tracks serve).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// SERVER spans served by stable.
    pub stable_requests: u64,
    /// SERVER spans served by the canary.
    pub canary_requests: u64,
    /// Of those, errors on stable.
    pub stable_errors: u64,
    /// Of those, errors on the canary.
    pub canary_errors: u64,
}

/// A deployment as written in resource attributes.
#[derive(Debug, Clone, Serialize)]
pub struct Deployment {
    /// `service.version`.
    pub version: &'static str,
    /// `deployment.track`.
    pub track: &'static str,
}

impl From<Track> for Deployment {
    fn from(t: Track) -> Self {
        Self {
            version: t.version(),
            track: t.name(),
        }
    }
}

/// Time range of the run.
#[derive(Debug, Clone, Serialize)]
pub struct TimeRange {
    /// Run start (RFC 3339, UTC).
    pub start: String,
    /// End of the last span.
    pub end: String,
    /// When canary instances start serving.
    pub canary_start: String,
    /// `start` in Unix ns.
    pub start_unix_nano: i64,
    /// `end` in Unix ns.
    pub end_unix_nano: i64,
    /// `canary_start` in Unix ns.
    pub canary_start_unix_nano: i64,
    /// When the effects begin (`--onset-minutes`; the canary start when not given): canary
    /// requests of traces starting earlier carry no effect.
    pub effects_onset: String,
    /// `effects_onset` in Unix ns.
    pub effects_onset_unix_nano: i64,
}

/// Where callers see an effect: CLIENT spans named after the affected route.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Visibility {
    /// Calling service.
    pub service: &'static str,
    /// `CLIENT`.
    pub span_kind: &'static str,
    /// Span name of the caller's CLIENT spans.
    pub span_name: &'static str,
}

/// One injected effect.
#[derive(Debug, Clone, Serialize)]
pub struct TruthEffect {
    /// Affected service.
    pub service: &'static str,
    /// Affected route (`http.route` of its SERVER spans).
    pub route: &'static str,
    /// SERVER span name of the route.
    pub operation: &'static str,
    /// The metric that changes: `latency_shift`, `latency_p99`, `error_rate` or
    /// `business_ratio` (orders placed per checkout attempt, in the metrics only).
    pub metric: &'static str,
    /// Only this track is affected (always `canary`).
    pub track: &'static str,
    /// Human description.
    pub description: String,
    /// Multiplier of the metric (median and p99 ratio for `latency_shift`, p99 ratio for
    /// `latency_p99`, error-rate ratio for `error_rate`).
    pub multiplier: f64,
    /// The mechanism, with its parameters.
    pub mechanism: EffectKind,
    /// Expected canary/stable median ratio of the route's own duration distribution.
    pub expected_p50_ratio: f64,
    /// Expected canary/stable p99 ratio.
    pub expected_p99_ratio: f64,
    /// Configured error rate of a stable request (own failures, excluding propagated ones).
    pub stable_error_rate: f64,
    /// Configured error rate of a canary request.
    pub canary_error_rate: f64,
    /// Observed counts in the comparison window.
    pub observed: Counts,
    /// CLIENT spans of callers that contain the affected SERVER spans.
    pub visible_in: Vec<Visibility>,
}

/// A route with no injected effect.
#[derive(Debug, Clone, Serialize)]
pub struct CleanRoute {
    /// Service.
    pub service: &'static str,
    /// Route.
    pub route: &'static str,
    /// SERVER span name.
    pub operation: &'static str,
    /// Observed counts in the comparison window.
    pub observed: Counts,
}

/// Output files, relative to the output directory.
#[derive(Debug, Clone, Serialize)]
pub struct Files {
    /// OTLP/JSON lines traces.
    pub otlp_traces: String,
    /// Canonical spans table.
    pub parquet_spans: String,
    /// OTLP/JSON lines metrics.
    pub otlp_metrics: String,
}

/// Contents of `truth.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Truth {
    /// Layout version ([`TRUTH_FORMAT_VERSION`]).
    pub format_version: u32,
    /// Scenario name.
    pub scenario: &'static str,
    /// Seed.
    pub seed: u64,
    /// Spans requested with `--spans`.
    pub requested_spans: u64,
    /// Spans written.
    pub spans: u64,
    /// Traces written.
    pub traces: u64,
    /// JSON lines written.
    pub lines: u64,
    /// Configured canary share of each service's traffic.
    pub canary_share: f64,
    /// Time range.
    pub time_range: TimeRange,
    /// Stable deployment.
    pub stable: Deployment,
    /// Canary deployment.
    pub canary: Deployment,
    /// Injected effects.
    pub effects: Vec<TruthEffect>,
    /// Routes without any effect.
    pub clean: Vec<CleanRoute>,
    /// What the metrics file holds, with totals computed from the metric side.
    pub metrics: MetricsTruth,
    /// Process restarts that reset cumulative metrics (the new process's points start again
    /// from zero with a later `startTimeUnixNano`).
    pub metric_resets: Vec<MetricReset>,
    /// Output files.
    pub files: Files,
    /// Failing traces with their origin and the injected fault's signature (`forensics`
    /// scenario only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forensics: Option<super::forensics_truth::ForensicsTruth>,
    /// Trace defects injected (`--trace-defects` only; see [`super::defects`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_defects: Option<super::defects::DefectCounts>,
}

fn callers(route: RouteId) -> Vec<Visibility> {
    let mut v: Vec<Visibility> = ROUTES
        .iter()
        .filter(|r| {
            r.steps
                .iter()
                .any(|s| matches!(s, Step::Http { route: c, .. } if *c == route))
        })
        .map(|r| Visibility {
            service: SERVICES[r.service].name,
            span_kind: "CLIENT",
            span_name: ROUTES[route].span_name,
        })
        .collect();
    v.dedup();
    v
}

fn truth_effect(e: &Effect, counts: Counts) -> TruthEffect {
    let r = &ROUTES[e.route];
    let service = SERVICES[r.service].name;
    let (metric, multiplier, p50, p99, err, description) = match e.kind {
        EffectKind::LatencyScale { factor } => (
            "latency_shift",
            factor,
            factor,
            factor,
            1.0,
            format!(
                "canary {service} {}: processing time x{factor} (median and p99 x{factor})",
                r.span_name
            ),
        ),
        EffectKind::ErrorRateScale { factor } => (
            "error_rate",
            factor,
            1.0,
            1.0,
            factor,
            format!(
                "canary {service} {}: error rate x{factor} ({:.2}% -> {:.2}%)",
                r.span_name,
                100.0 * r.error_rate,
                100.0 * r.error_rate * factor
            ),
        ),
        EffectKind::TailMixture {
            probability,
            factor,
            p99_ratio,
            p50_ratio,
        } => (
            "latency_p99",
            p99_ratio,
            p50_ratio,
            p99_ratio,
            1.0,
            format!(
                "canary {service} {}: {:.0}% of requests x{factor} slower, p99 x{p99_ratio}, median x{p50_ratio}",
                r.span_name,
                100.0 * probability
            ),
        ),
        EffectKind::CanaryFault { probability } => (
            "error_rate",
            1.0 + probability / r.error_rate,
            1.0,
            1.0,
            1.0 + probability / r.error_rate,
            format!(
                "canary {service} {}: {:.0}% of requests fail with {} (\"{}\")",
                r.span_name,
                100.0 * probability,
                super::scenario::FAULT_EXCEPTION_TYPE,
                super::scenario::FAULT_MESSAGE_TEMPLATE
            ),
        ),
        EffectKind::ConversionScale {
            factor,
            stable_rate,
        } => (
            "business_ratio",
            factor,
            1.0,
            1.0,
            1.0,
            format!(
                "canary {service} {}: orders placed per checkout attempt x{factor} ({:.1}% -> {:.1}% of successful checkouts); spans unchanged, visible only in orders.placed / orders.checkout_attempts",
                r.span_name,
                100.0 * stable_rate,
                100.0 * stable_rate * factor
            ),
        ),
    };
    TruthEffect {
        service,
        route: r.route,
        operation: r.span_name,
        metric,
        track: Track::Canary.name(),
        description,
        multiplier,
        mechanism: e.kind,
        expected_p50_ratio: p50,
        expected_p99_ratio: p99,
        stable_error_rate: r.error_rate,
        canary_error_rate: r.error_rate * err,
        observed: counts,
        visible_in: callers(e.route),
    }
}

/// Builds the truth of a finished run.
pub fn build(
    plan: &TrafficPlan,
    counts: &[Counts],
    spans: u64,
    lines: u64,
    end_ns: i64,
    metrics: (MetricsTruth, Vec<MetricReset>),
    files: Files,
) -> Truth {
    let p = &plan.params;
    Truth {
        format_version: TRUTH_FORMAT_VERSION,
        scenario: p.scenario.name(),
        seed: p.seed,
        requested_spans: p.spans,
        spans,
        traces: plan.traces() as u64,
        lines,
        canary_share: p.canary_share,
        time_range: TimeRange {
            start: format_rfc3339(p.start_ns),
            end: format_rfc3339(end_ns),
            canary_start: format_rfc3339(plan.canary_start_ns()),
            start_unix_nano: p.start_ns,
            end_unix_nano: end_ns,
            canary_start_unix_nano: plan.canary_start_ns(),
            effects_onset: format_rfc3339(plan.effect_onset_ns()),
            effects_onset_unix_nano: plan.effect_onset_ns(),
        },
        stable: Track::Stable.into(),
        canary: Track::Canary.into(),
        effects: plan
            .effects
            .iter()
            .map(|e| truth_effect(e, counts[e.route]))
            .collect(),
        clean: clean_routes(&plan.effects)
            .into_iter()
            .map(|r| CleanRoute {
                service: SERVICES[ROUTES[r].service].name,
                route: ROUTES[r].route,
                operation: ROUTES[r].span_name,
                observed: counts[r],
            })
            .collect(),
        metrics: metrics.0,
        metric_resets: metrics.1,
        files,
        forensics: None,
        trace_defects: None,
    }
}
