//! Forensics: why the canary failed. From the spans of one selection (two sides, a service,
//! a window) it lists the failing traces with the span that started each failure
//! ([`trace`]), counts them per origin and track, and groups every error span into
//! signatures with an exact canary-versus-stable test ([`signatures`], [`template`]), and
//! compares services without a track of their own by the track their calls came from
//! ([`downstream`]), and diffs what a request does below itself — calls and critical path —
//! between the tracks ([`structure`]).
//!
//! Pure: it reads a [`ForensicsInput`] (filled by the engine) and returns a
//! [`ForensicsReport`]; `report::forensics` renders it as text or Markdown, serde as
//! `forensics.json` (schema `docs/forensics.schema.json`). The attribute diff
//! ([`attributes`]) ranks attribute values of the selected canary requests.

pub mod attribute_pairs;
pub mod attributes;
pub mod downstream;
pub mod quality;
pub mod sampling;
pub mod signatures;
pub mod structure;
pub mod template;
pub mod trace;

use crate::analysis::config::AnalysisConfig;
use crate::model::comparison::{Selector, Window};
use crate::model::time::format_rfc3339;
use crate::model::traces::{BaselineSet, DownstreamInput, ForensicsInput, RequestSelect};
use attributes::AttributeDiff;
use downstream::{DownstreamFinding, DownstreamGroup, DownstreamSummary};
use serde::Serialize;
use signatures::Signature;
use std::collections::BTreeMap;
use trace::{FailingTrace, TraceQuality, TraceTrack};

/// Layout version of `forensics.json`. Bump on an incompatible change.
pub const FORENSICS_FORMAT_VERSION: u32 = 1;

/// Options of a forensics run.
#[derive(Debug, Clone, PartialEq)]
pub struct ForensicsOptions {
    /// Failing traces listed (all are counted).
    pub limit: usize,
    /// Level of the signature classification (on BH-adjusted p-values).
    pub alpha: f64,
    /// analyze's configuration: the statistics of the downstream comparisons.
    pub analysis: AnalysisConfig,
    /// The attribute diff's selection.
    pub select: RequestSelect,
    /// What the selection is compared against.
    pub baseline_set: BaselineSet,
    /// The input was ingested keeping whole attribute maps only on SERVER, CONSUMER and root
    /// spans (raw files in `canalyst forensics`).
    pub entry_maps_only: bool,
}

/// The default originating-track keys (`forensics --origin-key`, `report`, `run`): the
/// OpenTelemetry BaggageSpanProcessor writes a baggage entry under its own key, so
/// `deployment.stage` is what a `deployment.stage=canary` baggage entry becomes; the
/// `baggage.` forms are what some processors prefix.
pub const DEFAULT_ORIGIN_KEYS: [&str; 5] = [
    "deployment.stage",
    "deployment.track",
    "baggage.deployment.stage",
    "baggage.deployment.track",
    "canary.track",
];

pub use crate::engine::forensics::DEFAULT_MEMORY_BUDGET_MIB;

/// Failing traces a report's Forensics section (`report`, `run`) lists in its `forensics`
/// key (all are counted).
pub const REPORT_FORENSICS_LIMIT: usize = 50;

impl ForensicsOptions {
    /// The options of a report's Forensics section under analyze's configuration `cfg`: at
    /// most [`REPORT_FORENSICS_LIMIT`] traces listed, signatures at `cfg`'s level, no
    /// attribute diff.
    pub fn for_report(cfg: AnalysisConfig) -> Self {
        Self {
            limit: REPORT_FORENSICS_LIMIT,
            alpha: cfg.alpha,
            analysis: cfg,
            ..Self::default()
        }
    }
}

impl Default for ForensicsOptions {
    fn default() -> Self {
        Self {
            limit: 100,
            alpha: 0.05,
            analysis: AnalysisConfig::default_preset(),
            select: RequestSelect::Errors,
            baseline_set: BaselineSet::Rest,
            entry_maps_only: false,
        }
    }
}

/// The window as written to `forensics.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowOut {
    /// Start, RFC 3339, inclusive.
    pub start: String,
    /// End, RFC 3339, exclusive.
    pub end: String,
    /// Start, ns since the Unix epoch.
    pub start_unix_nano: i64,
    /// End, ns since the Unix epoch.
    pub end_unix_nano: i64,
}

impl From<Window> for WindowOut {
    fn from(w: Window) -> Self {
        Self {
            start: format_rfc3339(w.start_unix_nano),
            end: format_rfc3339(w.end_unix_nano),
            start_unix_nano: w.start_unix_nano,
            end_unix_nano: w.end_unix_nano,
        }
    }
}

/// Failing traces per track.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TrackCounts {
    /// Through canary tracked spans only.
    pub canary: u64,
    /// Through baseline tracked spans only.
    pub stable: u64,
    /// Through tracked spans of both sides.
    pub both: u64,
    /// Through no tracked span.
    pub neither: u64,
    /// All of them.
    pub total: u64,
}

impl TrackCounts {
    fn add(&mut self, t: TraceTrack) {
        match t {
            TraceTrack::Canary => self.canary += 1,
            TraceTrack::Stable => self.stable += 1,
            TraceTrack::Both => self.both += 1,
            TraceTrack::Neither => self.neither += 1,
        }
        self.total += 1;
    }
}

/// Failing traces whose origin is one (service, span name, exception type), per track.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OriginCount {
    /// Service of the origin span.
    pub service: String,
    /// Span name of the origin span.
    pub span_name: String,
    /// `exception.type` of the origin span.
    pub exception_type: Option<String>,
    /// Failing traces per track.
    #[serde(flatten)]
    pub counts: TrackCounts,
}

/// Everything `canalyst forensics` found (`forensics.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForensicsReport {
    /// [`FORENSICS_FORMAT_VERSION`].
    pub format_version: u32,
    /// Baseline selector (written `stable` in per-track counts).
    pub baseline: Selector,
    /// Canary selector.
    pub canary: Selector,
    /// The service whose spans decide a trace's track (`None`: every span with a side).
    pub service: Option<String>,
    /// The window.
    pub window: WindowOut,
    /// Classification level.
    pub alpha: f64,
    /// Failing traces per track (all, not only those listed).
    pub failing_trace_counts: TrackCounts,
    /// Failing traces listed (at most `--limit`).
    pub failing_traces_listed: usize,
    /// The failing traces, by root start time, at most `--limit`.
    pub failing_traces: Vec<FailingTrace>,
    /// Failing traces per origin and track, most frequent first.
    pub origins: Vec<OriginCount>,
    /// Error signatures (see [`signatures`]).
    pub signatures: Vec<Signature>,
    /// How the spans of services without a track of their own were attributed.
    pub downstream_summary: DownstreamSummary,
    /// Per (untracked service, operation): spans by originating track and their comparison
    /// (see [`downstream`]), affected groups first.
    pub downstream: Vec<DownstreamGroup>,
    /// One sentence per affected untracked service.
    pub downstream_findings: Vec<DownstreamFinding>,
    /// Attribute values over-represented in the selected canary requests (see
    /// [`attributes`]); `null` when not computed.
    pub attributes: Option<AttributeDiff>,
    /// Per route of a tracked service: calls, new and vanished operations and critical-path
    /// shares below its requests, canary against stable (see [`structure`]), changed routes
    /// first.
    pub structure: Vec<structure::StructureRoute>,
    /// Sampling weights per side, effective sample sizes and warnings (see [`sampling`]).
    pub sampling: sampling::Sampling,
    /// Problems met while assembling the failing traces.
    pub trace_quality: TraceQuality,
    /// Trace defects over every trace of the input (see [`quality`]).
    pub input_trace_quality: quality::InputTraceQuality,
    /// Parts of forensics not built yet, by their `forensics.json` key.
    pub not_built: Vec<&'static str>,
}

/// Downstream attribution and the trace-structure diff, fed one partition of whole traces at
/// a time: memory holds one partition's spans plus the per-group accumulators, not the
/// input. Any partitioning of the same spans gives the same result.
#[derive(Default)]
pub struct TraceTrees {
    names: Vec<String>,
    downstream: downstream::DownstreamAcc,
    structure: structure::StructureAcc,
    quality: quality::QualityAcc,
}

impl TraceTrees {
    /// Adds one partition (every span of each of its traces).
    pub fn add(&mut self, mut part: DownstreamInput) {
        let _timing = crate::timings::phase("forensics: trace trees (one partition)");
        part.sort_spans();
        let order: Vec<usize> = (0..part.spans.len()).collect();
        self.add_ordered(&part, &order);
    }

    /// Adds one partition read in place, `order` being its [`DownstreamInput::trace_order`].
    fn add_ordered(&mut self, part: &DownstreamInput, order: &[usize]) {
        // Three independent accumulators over the same read-only partition: on the rayon
        // pool (`--threads`) they run side by side; each one's result is the same as alone.
        let (downstream, structure, quality) =
            (&mut self.downstream, &mut self.structure, &mut self.quality);
        rayon::join(
            || downstream.add(part, order),
            || rayon::join(|| structure.add(part, order), || quality.add(part, order)),
        );
        if part.names.len() > self.names.len() {
            self.names.clone_from(&part.names);
        }
    }
}

/// Runs forensics over `input`, with `input.downstream` (every span, one partition) for
/// downstream attribution and the structure diff.
pub fn forensics(input: &ForensicsInput, opts: &ForensicsOptions) -> ForensicsReport {
    let mut trees = TraceTrees::default();
    // By reference: `report` keeps the whole input, a sorted copy would double it.
    trees.add_ordered(&input.downstream, &input.downstream.trace_order());
    forensics_with(input, trees, opts)
}

/// Runs forensics over `input`, taking downstream attribution and the structure diff from
/// `trees` (the partitions already added) instead of `input.downstream`.
pub fn forensics_with(
    input: &ForensicsInput,
    trees: TraceTrees,
    opts: &ForensicsOptions,
) -> ForensicsReport {
    let (traces, trace_quality) = trace::failing_traces(&input.failing_spans, input.window);
    let mut counts = TrackCounts::default();
    let mut by_origin: BTreeMap<(String, String, Option<String>), TrackCounts> = BTreeMap::new();
    for t in &traces {
        counts.add(t.track);
        let o = &t.origin;
        by_origin
            .entry((
                o.service.clone(),
                o.span_name.clone(),
                o.exception_type.clone(),
            ))
            .or_default()
            .add(t.track);
    }
    let mut origins: Vec<OriginCount> = by_origin
        .into_iter()
        .map(
            |((service, span_name, exception_type), counts)| OriginCount {
                service,
                span_name,
                exception_type,
                counts,
            },
        )
        .collect();
    // Stable sort: equal counts stay in key order.
    origins.sort_by_key(|o| {
        (
            std::cmp::Reverse(o.counts.total),
            std::cmp::Reverse(o.counts.canary),
        )
    });
    let listed: Vec<FailingTrace> = traces.into_iter().take(opts.limit).collect();
    let down = trees.downstream.finish(
        &trees.names,
        &input.baseline,
        &input.canary,
        input.window,
        &opts.analysis,
    );
    ForensicsReport {
        format_version: FORENSICS_FORMAT_VERSION,
        baseline: input.baseline.clone(),
        canary: input.canary.clone(),
        service: input.service.clone(),
        window: input.window.into(),
        alpha: opts.alpha,
        failing_trace_counts: counts,
        failing_traces_listed: listed.len(),
        failing_traces: listed,
        origins,
        signatures: signatures::signatures(&input.error_spans, &input.exposure, opts.alpha),
        downstream_summary: down.summary,
        downstream: down.groups,
        downstream_findings: down.findings,
        attributes: input.attributes.as_ref().map(|c| {
            let baseline = match opts.baseline_set {
                BaselineSet::Rest => "rest",
                BaselineSet::Stable => "stable",
            };
            let mut d = attributes::attribute_diff(c, &opts.select, baseline, opts.alpha);
            if opts.entry_maps_only {
                d.requests_without_attributes = c.other_entry_requests;
            }
            d
        }),
        structure: trees.structure.finish(&trees.names, opts.alpha),
        sampling: sampling::sampling(
            &input.exposure,
            crate::analysis::judge::tail_samples_needed(0.99, opts.analysis.confidence()),
        ),
        trace_quality,
        input_trace_quality: trees.quality.finish(),
        not_built: Vec::new(),
    }
}
