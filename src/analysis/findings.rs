//! Findings: the analysis result — every comparison with its decision, the verdict and the
//! data quality — serialised as the JSON report (schema in `docs/report.schema.json`) and
//! rendered by [`crate::report`] into the human-readable reports, which never recompute
//! statistics. Named apart from `report` (the renderer) so the two are not confused.

use crate::model::comparison::{GroupLevel, Selector, Window};
use crate::model::quality::DataQuality;
use serde::{Deserialize, Serialize};

/// Version of the JSON report layout; bump on any incompatible change.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// The decision (design §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Score at or above the pass threshold, no critical failure, enough evidence.
    Promote,
    /// A critical metric failed, or the score is below the marginal threshold.
    Rollback,
    /// Not enough evidence yet.
    Continue,
}

impl Verdict {
    /// Process exit code of the verdict (README "Exit codes"; `crate::cli::EXIT_*`):
    /// 0 promote, 1 rollback, 3 continue.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Promote => 0,
            Verdict::Rollback => 1,
            Verdict::Continue => 3,
        }
    }
}

/// Outcome of one metric comparison (design §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// Significantly higher than baseline and beyond the allowed effect.
    FailHigh,
    /// Significantly lower and beyond the allowed effect (bad for "higher is better" metrics).
    FailLow,
    /// Not enough data or an interval too wide to decide.
    Inconclusive,
    /// The interval rules out any change larger than allowed.
    Pass,
}

impl Classification {
    /// Whether the comparison failed (`fail_high` or `fail_low`).
    pub fn is_fail(self) -> bool {
        matches!(self, Classification::FailHigh | Classification::FailLow)
    }
}

/// The compared quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricName {
    /// Share of requests (or spans) that are errors.
    ErrorRate,
    /// Median latency.
    LatencyP50,
    /// 90th percentile latency.
    LatencyP90,
    /// 99th percentile latency.
    LatencyP99,
    /// 99.9th percentile latency.
    LatencyP999,
    /// Location shift of the whole latency distribution (Mann–Whitney / Hodges–Lehmann).
    LatencyShift,
    /// Ratio of two counters (e.g. orders placed / checkout attempts), metrics only.
    BusinessRatio,
    /// Kayenta-style comparison of a metric's per-time-bucket values, metrics only.
    IntervalSeries,
    /// Canary share of requests against the configured traffic split, reported as the ratio
    /// of canary to stable requests per unit of configured share (`method = "sequential"`).
    RequestSplit,
}

/// Where a comparison's data came from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Spans (per-request durations and errors). Reports written before metric comparisons
    /// existed have only these, hence the default.
    #[default]
    Spans,
    /// OTLP metrics (histograms, counters, gauges).
    Metrics,
}

impl Source {
    /// `spans` or `metrics`, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Spans => "spans",
            Source::Metrics => "metrics",
        }
    }
}

/// Summary of one side of one comparison (latencies in milliseconds).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SideSummary {
    /// Recorded spans.
    pub count: u64,
    /// Recorded error spans.
    pub errors: u64,
    /// Weighted request count (sum of sample weights).
    pub weighted_count: f64,
    /// Weighted error count.
    pub weighted_errors: f64,
    /// Median latency.
    pub p50: f64,
    /// 90th percentile latency.
    pub p90: f64,
    /// 99th percentile latency.
    pub p99: f64,
    /// 99.9th percentile latency.
    pub p999: f64,
}

/// One metric compared for one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Stable identifier, e.g. `checkout/route/POST /cart/latency_p99` (for links and sorting).
    pub id: String,
    /// Service.
    pub service: String,
    /// Route (for request groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Operation (for span-name groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Route or operation level.
    pub level: GroupLevel,
    /// The metric.
    pub metric: MetricName,
    /// Metric group name (for weighted scoring), e.g. `errors`, `latency`.
    pub group: String,
    /// Whether a failure forces rollback.
    pub critical: bool,
    /// Baseline side.
    pub baseline: SideSummary,
    /// Canary side.
    pub canary: SideSummary,
    /// Point estimate of the effect, in `unit`.
    pub estimate: Option<f64>,
    /// Lower confidence bound.
    pub ci_low: Option<f64>,
    /// Upper confidence bound.
    pub ci_high: Option<f64>,
    /// Unit of estimate and bounds: `ratio` (canary/baseline), `percentage_points`, `ms`.
    pub unit: String,
    /// Upper end of the acceptable region, in `unit` (ratio 1.20 = +20%; +0.5 percentage
    /// points); absent when increases are not judged or in Kayenta mode.
    pub allowed_increase: Option<f64>,
    /// Lower end of the acceptable region, in `unit` (ratio 0.80 = −20%; −0.5 percentage
    /// points); absent when decreases are not judged or in Kayenta mode.
    pub allowed_decrease: Option<f64>,
    /// Raw p-value of the test named in `test`.
    pub p_value: Option<f64>,
    /// Benjamini–Hochberg adjusted p-value over all comparisons of the report.
    pub p_value_adjusted: Option<f64>,
    /// Test used, e.g. `fisher_exact_two_sided`, `mann_whitney_u_asymptotic`.
    pub test: Option<String>,
    /// Outcome.
    pub classification: Classification,
    /// Why, in one sentence a person can read.
    pub reason: String,
    /// For inconclusive results: the smallest effect (in `unit`) this sample size could detect.
    pub minimum_detectable_effect: Option<f64>,
    /// Secondary effect size: the error-rate ratio canary/baseline when a ratio limit is
    /// configured; in Kayenta mode Kayenta's mean ratio compared with `allowedIncrease`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect_size: Option<f64>,
    /// Data the comparison was computed from.
    #[serde(default)]
    pub source: Source,
    /// OTLP metric names used (metric comparisons only; empty for spans).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metric_names: Vec<String>,
    /// Present when a side has fewer than `[evidence] min_requests`: the test still ran and the
    /// comparison may fail (significant and its interval wholly beyond the allowed change), but
    /// it may not pass; see docs/analysis.md, "What a small sample can decide".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below_minimum: Option<SampleSizes>,
    /// Present for comparisons judged by the anytime-valid sequential test
    /// (`method = "sequential"`): the look at which it decided and the test at the last look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequential: Option<SequentialSummary>,
}

/// What the sequential test — the count test of Lindon & Malek 2022 (`stats::sequential`) or
/// the quantile test of Howard & Ramdas 2022 (`stats::quantile_sequence`) — saw over the looks
/// of one comparison. `Comparison::estimate`/`ci_low`/`ci_high` carry the ratio (of rates, of
/// requests per configured share, or of quantiles) and its confidence sequence at the last
/// look; `p_value` the always-valid p-value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequentialSummary {
    /// Looks taken over the window (one per `[sequential] look_interval`).
    pub looks: u32,
    /// 1-based look at which the comparison failed (the first look where it was significant
    /// and its confidence sequence lay beyond the allowed change) or passed (the first look
    /// where the sequence lay within it with the minimum counts met); absent when inconclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at_look: Option<u32>,
    /// End of that look, RFC 3339 UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    /// Natural log of the e-value at the last look.
    pub log_e_value: f64,
    /// Always-valid p-value at the last look, `min(1, min over looks of 1/e)`.
    pub p_value: f64,
    /// Level each look is tested at: α divided by the number of sequential comparisons
    /// (Bonferroni); the confidence sequence has coverage 1 − level.
    pub level: f64,
    /// Canary share of events expected under no change, at the last look: the canary share
    /// of requests (error rate) or the configured traffic split (request split); absent when no
    /// look had requests on both sides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_share: Option<f64>,
    /// The Bonferroni divisor K: the number of sequential comparisons whose counts let them
    /// reach α/K at all (Tarone 1990); `level` = α/K.
    #[serde(default)]
    pub family_size: u32,
    /// The smallest always-valid p-value any outcome could give with this comparison's
    /// counts; above `level` the comparison is outside the family and cannot fail.
    #[serde(default)]
    pub min_attainable_p: f64,
}

/// Sample sizes of a comparison below the per-side minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleSizes {
    /// Baseline requests (or durations, or denominator events) compared.
    pub baseline: u64,
    /// Canary requests (or durations, or denominator events) compared.
    pub canary: u64,
    /// The configured minimum per side (`[evidence] min_requests`).
    pub minimum: u64,
}

/// How much of the score rests on decided comparisons: the headline's "score S from D of N
/// comparisons decided".
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DecidedShare {
    /// All comparisons of the report.
    pub comparisons: u64,
    /// Comparisons classified pass, fail_high or fail_low: the ones the score is computed from.
    pub decided: u64,
    /// `decided / comparisons` (0 when there are none).
    pub share: f64,
    /// Inconclusive comparisons.
    pub inconclusive: u64,
    /// Inconclusive comparisons with a side below the per-side minimum (too little data).
    pub inconclusive_below_minimum: u64,
}

impl DecidedShare {
    /// Counts the classifications of `cs`.
    pub fn of(cs: &[Comparison]) -> Self {
        let n = cs.len() as u64;
        let inconclusive = cs
            .iter()
            .filter(|c| c.classification == Classification::Inconclusive)
            .count() as u64;
        let inconclusive_below_minimum = cs
            .iter()
            .filter(|c| {
                c.classification == Classification::Inconclusive && c.below_minimum.is_some()
            })
            .count() as u64;
        let decided = n - inconclusive;
        DecidedShare {
            comparisons: n,
            decided,
            share: if n == 0 {
                0.0
            } else {
                decided as f64 / n as f64
            },
            inconclusive,
            inconclusive_below_minimum,
        }
    }

    /// The headline's evidence clause: `from 1 of 20 comparisons decided; 19 inconclusive
    /// (12 with too little data)`.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "from {} of {} comparison{} decided",
            self.decided,
            self.comparisons,
            if self.comparisons == 1 { "" } else { "s" }
        );
        if self.inconclusive > 0 {
            s.push_str(&format!("; {} inconclusive", self.inconclusive));
            if self.inconclusive_below_minimum > 0 {
                s.push_str(&format!(
                    " ({} with too little data)",
                    self.inconclusive_below_minimum
                ));
            }
        }
        s
    }
}

impl Comparison {
    /// A route-level comparison of `metric` with nothing decided yet: no sides, estimate,
    /// interval, test or p-value, classified inconclusive, source spans. Callers fill in the
    /// identity and the sides with struct update syntax.
    pub fn undecided(id: String, service: String, metric: MetricName, unit: &str) -> Self {
        Comparison {
            id,
            service,
            route: None,
            operation: None,
            level: GroupLevel::Route,
            metric,
            group: String::new(),
            critical: false,
            baseline: SideSummary::default(),
            canary: SideSummary::default(),
            estimate: None,
            ci_low: None,
            ci_high: None,
            unit: unit.to_string(),
            allowed_increase: None,
            allowed_decrease: None,
            p_value: None,
            p_value_adjusted: None,
            test: None,
            classification: Classification::Inconclusive,
            reason: String::new(),
            minimum_detectable_effect: None,
            effect_size: None,
            source: Source::Spans,
            metric_names: Vec::new(),
            below_minimum: None,
            sequential: None,
        }
    }
}

/// Score of one metric group (Kayenta style: passes / decided comparisons × 100).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupScore {
    /// Group name.
    pub name: String,
    /// Effective weight in percent.
    pub weight: f64,
    /// Passes / (passes + failures) × 100; absent when nothing was decided.
    pub score: Option<f64>,
    /// Passing comparisons.
    pub pass: u64,
    /// Failing comparisons (high or low).
    pub fail: u64,
    /// Inconclusive comparisons (excluded from the score).
    pub inconclusive: u64,
}

/// The whole analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisReport {
    /// [`REPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// canalyst version that wrote it.
    pub tool_version: String,
    /// RFC 3339 time of generation (from `SOURCE_DATE_EPOCH` when set).
    pub generated_at: String,
    /// The decision.
    pub verdict: Verdict,
    /// Weighted share of passing metrics, 0–100 (Kayenta style).
    pub score: f64,
    /// How many comparisons the score rests on (the rest are inconclusive).
    #[serde(default)]
    pub decided: DecidedShare,
    /// Per-group scores behind `score`.
    #[serde(default)]
    pub group_scores: Vec<GroupScore>,
    /// Ids of the comparisons that drove the verdict, most severe first.
    pub drivers: Vec<String>,
    /// One-paragraph explanation of the verdict.
    pub summary: String,
    /// Window compared.
    pub window: Window,
    /// Baseline selector.
    pub baseline: Selector,
    /// Canary selector.
    pub canary: Selector,
    /// Preset or config file used.
    pub config_name: String,
    /// Definitions used (quantile method, tests, α, correction), for readers.
    pub definitions: Vec<String>,
    /// Every comparison, ordered by severity (fails first), then by id.
    pub comparisons: Vec<Comparison>,
    /// Data-quality log of the inputs.
    pub data_quality: DataQuality,
}
