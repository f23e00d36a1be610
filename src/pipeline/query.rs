//! `canalyst query`: one number over one window — the judge a rollout controller calls.
//!
//! A [`QuerySpec`] names a metric ([`QueryMetric`]), a population ([`Population`]: the
//! requests of the `requests` view or every span), one side or two ([`SideSpec`]; two with a
//! [`Compare`]), filters (service, route, operation) and a window ending at the newest span of
//! the inputs or at a given time. [`Sources::measure`] runs `queries/query_measure.sql` once
//! and returns an [`Answer`]: the number, or no number and the reason ([`NoData`]) — an empty
//! window is never reported as 0 — plus the counts behind it and the data-quality summary.
//!
//! Definitions (README "Argo Rollouts and Flagger"): error rate = Σ weight of errors / Σ weight
//! (the error rule of design §3, `sample_weight` as everywhere in canalyst); request rate =
//! Σ weight / window length in seconds; `pNN` = exact Hyndman–Fan type-7 quantile of the
//! durations in milliseconds (unweighted, as in the analysis; Hyndman & Fan 1996, "Sample
//! quantiles in statistical packages", The American Statistician 50(4)); traffic share = Σ
//! weight of the side / Σ weight of everything the filters keep in the window.

use super::{PipelineError, Sources};
use crate::model::quality::DataQuality;
use crate::model::time::format_rfc3339;
use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int64Type};
use datafusion::common::ScalarValue;
use serde::Serialize;

/// The one-pass measurement query (its header documents the parameters).
const MEASURE_SQL: &str = include_str!("../../queries/query_measure.sql");
/// The stage lookups of [`MEASURE_SQL`], and what stands in for them when no side selects a
/// stage (constant SQL text, no value is spliced).
const STAGE_LOOKUPS: [(&str, &str); 2] = [
    (
        "resource_attributes['deployment.stage'] AS resource_stage",
        "CAST(NULL AS VARCHAR) AS resource_stage",
    ),
    (
        "span_attributes['deployment.stage'] AS span_stage",
        "CAST(NULL AS VARCHAR) AS span_stage",
    ),
];
/// Start time of the newest span in the inputs (ns), where a window without `--at` ends.
const NEWEST_SQL: &str = "SELECT CAST(MAX(CAST(start_time AS BIGINT)) AS BIGINT) AS t FROM spans";

const NS_PER_SEC: i64 = 1_000_000_000;

/// Why a query could not be set up or run.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The metric name is not one `canalyst query` knows.
    #[error("unknown metric {0:?}; expected one of {names}", names = QueryMetric::NAMES.join(", "))]
    UnknownMetric(String),
    /// The window length could not be read.
    #[error("window {text:?}: {reason}")]
    BadWindow {
        /// The text given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The flags select nothing sensible (for example a traffic share of everything).
    #[error("{0}")]
    Spec(String),
    /// Opening the inputs or running the query failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The query result did not have the shape `query_measure.sql` documents.
    #[error("query_measure.sql returned an unexpected result: {0}")]
    Shape(String),
}

/// The number `canalyst query` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryMetric {
    /// Σ weight of errors / Σ weight, in [0, 1].
    ErrorRate,
    /// Σ weight / window seconds (requests or spans per second).
    RequestRate,
    /// Median latency, ms.
    P50,
    /// 90th percentile latency, ms.
    P90,
    /// 95th percentile latency, ms.
    P95,
    /// 99th percentile latency, ms.
    P99,
    /// 99.9th percentile latency, ms.
    P999,
    /// The side's share of the weight of everything the filters keep, in [0, 1].
    TrafficShare,
}

impl QueryMetric {
    /// Every metric name, as the command line spells it.
    pub const NAMES: [&'static str; 8] = [
        "error_rate",
        "request_rate",
        "p50",
        "p90",
        "p95",
        "p99",
        "p999",
        "traffic_share",
    ];

    /// The metric named `s` (one of [`Self::NAMES`]).
    pub fn parse(s: &str) -> Result<Self, QueryError> {
        use QueryMetric::*;
        Ok(match s {
            "error_rate" => ErrorRate,
            "request_rate" => RequestRate,
            "p50" => P50,
            "p90" => P90,
            "p95" => P95,
            "p99" => P99,
            "p999" => P999,
            "traffic_share" => TrafficShare,
            _ => return Err(QueryError::UnknownMetric(s.to_string())),
        })
    }

    /// The metric's name, as the command line spells it.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The latency quantile this metric is, if it is one.
    pub fn quantile(self) -> Option<f64> {
        use QueryMetric::*;
        match self {
            P50 => Some(0.5),
            P90 => Some(0.9),
            P95 => Some(0.95),
            P99 => Some(0.99),
            P999 => Some(0.999),
            ErrorRate | RequestRate | TrafficShare => None,
        }
    }

    /// Unit of a side's value: `fraction`, `per_second` or `ms`.
    pub fn unit(self) -> &'static str {
        match self {
            QueryMetric::ErrorRate | QueryMetric::TrafficShare => "fraction",
            QueryMetric::RequestRate => "per_second",
            _ => "ms",
        }
    }
}

/// What is counted: requests (entry spans, the `requests` view) or every span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Population {
    /// SERVER spans, root spans and spans whose parent is in another service (design §3).
    Requests,
    /// Every span (client, internal, database spans too).
    Spans,
}

impl Population {
    fn sql_value(self) -> &'static str {
        match self {
            Population::Requests => "requests",
            Population::Spans => "spans",
        }
    }
}

/// One side: the spans matching every value given (none given: every span).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SideSpec {
    /// `deployment_track` column (resource `deployment.track`, or its fallbacks; README
    /// "Identity rules").
    pub track: Option<String>,
    /// `service_version` column.
    pub version: Option<String>,
    /// `deployment.stage` resource attribute or span attribute.
    pub stage: Option<String>,
}

impl SideSpec {
    fn values(&self) -> [ScalarValue; 3] {
        [
            ScalarValue::Utf8(self.track.clone()),
            ScalarValue::Utf8(self.version.clone()),
            ScalarValue::Utf8(self.stage.clone()),
        ]
    }

    fn has_stage(&self) -> bool {
        self.stage.is_some()
    }

    fn is_all(&self) -> bool {
        self.track.is_none() && self.version.is_none() && self.stage.is_none()
    }
}

/// `track=canary version=2.4.0`, or `all` when nothing is selected.
impl std::fmt::Display for SideSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let given = [
            ("track", &self.track),
            ("version", &self.version),
            ("stage", &self.stage),
        ];
        let parts: Vec<String> = given
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect();
        match parts.is_empty() {
            true => f.write_str("all"),
            false => f.write_str(&parts.join(" ")),
        }
    }
}

/// How a canary value is set against the baseline's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    /// canary / baseline (undefined when the baseline value is 0).
    Ratio,
    /// canary − baseline.
    Difference,
}

/// Bounds that make an answered query fail (exit 1), for controllers that read only the exit
/// code (Argo Rollouts' job provider, Flagger's load tester).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Thresholds {
    /// Fail when the value is above this.
    pub fail_above: Option<f64>,
    /// Fail when the value is below this.
    pub fail_below: Option<f64>,
}

/// The bounds as flags: `--fail-above 0.005 and --fail-below 0.001`.
impl std::fmt::Display for Thresholds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let given = [
            ("--fail-above", self.fail_above),
            ("--fail-below", self.fail_below),
        ];
        let parts: Vec<String> = given
            .iter()
            .filter_map(|(flag, v)| v.map(|v| format!("{flag} {v}")))
            .collect();
        f.write_str(&parts.join(" and "))
    }
}

impl Thresholds {
    /// Whether `value` breaks a bound.
    pub fn breached(&self, value: f64) -> bool {
        self.fail_above.is_some_and(|t| value > t) || self.fail_below.is_some_and(|t| value < t)
    }
}

/// Everything `canalyst query` was asked.
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySpec {
    /// The metric.
    pub metric: QueryMetric,
    /// Requests or spans.
    pub population: Population,
    /// The side measured (the canary when comparing).
    pub side: SideSpec,
    /// The baseline side and how to compare; `None` for a one-side query.
    pub compare: Option<(Compare, SideSpec)>,
    /// Only this `service.name`.
    pub service: Option<String>,
    /// Only this route (the `route` column).
    pub route: Option<String>,
    /// Only this span name.
    pub operation: Option<String>,
    /// Window length, ns (positive).
    pub window_ns: i64,
    /// Window end (exclusive), ns since the epoch; `None`: just after the newest span.
    pub at_unix_nano: Option<i64>,
    /// Bounds for exit code 1.
    pub thresholds: Thresholds,
}

impl QuerySpec {
    /// Whether answering reads the `resource_attributes`/`span_attributes` columns (only a
    /// stage selector does): inputs ingested into memory must then keep every column.
    pub fn needs_attributes(&self) -> bool {
        self.side.has_stage() || self.compare.as_ref().is_some_and(|c| c.1.has_stage())
    }

    /// Rejects what has no meaning: a traffic share of every span, a comparison of a side with
    /// itself.
    pub fn check(&self) -> Result<(), QueryError> {
        if self.window_ns <= 0 {
            return Err(QueryError::Spec("the window must be longer than 0".into()));
        }
        match &self.compare {
            None if self.metric == QueryMetric::TrafficShare && self.side.is_all() => {
                Err(QueryError::Spec(
                    "traffic_share needs a side: give --track, --stage or --version (or --compare)"
                        .into(),
                ))
            }
            Some((_, baseline)) if *baseline == self.side => Err(QueryError::Spec(
                "the baseline and canary select the same spans".into(),
            )),
            _ => Ok(()),
        }
    }
}

/// Parses a window length: a positive integer followed by `ms`, `s`, `m`, `h` or `d`
/// (`5m`, `90s`, `1h`).
pub fn parse_window(text: &str) -> Result<i64, QueryError> {
    let bad = |reason| QueryError::BadWindow {
        text: text.to_string(),
        reason,
    };
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| bad("give a unit: ms, s, m, h or d (for example 5m)"))?;
    let (digits, unit) = t.split_at(split);
    let n: i64 = digits
        .parse()
        .map_err(|_| bad("expected a whole number followed by a unit, for example 5m"))?;
    let unit_ns: i64 = match unit {
        "ms" => 1_000_000,
        "s" => NS_PER_SEC,
        "m" => 60 * NS_PER_SEC,
        "h" => 3600 * NS_PER_SEC,
        "d" => 86_400 * NS_PER_SEC,
        _ => return Err(bad("unknown unit; use ms, s, m, h or d")),
    };
    match n.checked_mul(unit_ns) {
        Some(ns) if ns > 0 => Ok(ns),
        Some(_) => Err(bad("the window must be longer than 0")),
        None => Err(bad("too long")),
    }
}

/// Why a query has no number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoData {
    /// The inputs hold no span, so there is no newest span to end the window at.
    NoSpans,
    /// Nothing of the measured side in the window (for traffic_share: nothing at all).
    NoRequests,
    /// No canary request in the window (comparisons).
    NoCanary,
    /// No baseline request in the window (comparisons).
    NoBaseline,
    /// The baseline value is 0, so the ratio is undefined.
    BaselineZero,
}

impl NoData {
    /// The sentence printed on stderr and stored in the JSON `reason`.
    pub fn message(self, population: Population) -> String {
        let what = population.sql_value();
        match self {
            NoData::NoSpans => "the inputs hold no spans".into(),
            NoData::NoRequests => format!("no {what} of the selected side in the window"),
            NoData::NoCanary => format!("no canary {what} in the window"),
            NoData::NoBaseline => format!("no baseline {what} in the window"),
            NoData::BaselineZero => "the baseline value is 0, so the ratio is undefined".into(),
        }
    }
}

/// The counts of one side (or of everything kept) in the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Counts {
    /// Requests (or spans).
    pub count: u64,
    /// Of which errors.
    pub errors: u64,
    /// Σ sample_weight.
    pub weighted_count: f64,
    /// Σ sample_weight of the errors.
    pub weighted_errors: f64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.count += o.count;
        self.errors += o.errors;
        self.weighted_count += o.weighted_count;
        self.weighted_errors += o.weighted_errors;
    }
}

/// One side's counts, quantile and value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideAnswer {
    /// `selected` (one-side query), `baseline` or `canary`.
    pub name: &'static str,
    /// What selected it.
    pub selector: SideSpec,
    /// Its counts in the window.
    #[serde(flatten)]
    pub counts: Counts,
    /// Its value of the metric (`None` without requests).
    pub value: Option<f64>,
}

/// The window measured: `[start, end)` on span start times.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryWindow {
    /// Start, RFC 3339.
    pub start: String,
    /// End (exclusive), RFC 3339.
    pub end: String,
    /// Start, ns since the epoch.
    pub start_unix_nano: i64,
    /// End, ns since the epoch.
    pub end_unix_nano: i64,
    /// Length in seconds.
    pub seconds: f64,
    /// `newest_span` (1 ns after the newest span start in the inputs) or `at` (given).
    pub end_from: &'static str,
}

/// The data-quality summary of the inputs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualitySummary {
    /// Records seen.
    pub records_read: u64,
    /// Records kept.
    pub records_ingested: u64,
    /// Records rejected.
    pub records_rejected: u64,
    /// Exact duplicates dropped.
    pub duplicates_dropped: u64,
    /// One line, as the other commands print it.
    pub summary: String,
}

/// The answer of `canalyst query` (serialised as `--format json`, docs/query.schema.json).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// Version of this JSON layout.
    pub schema_version: u32,
    /// canalyst version that answered.
    pub tool_version: &'static str,
    /// The metric.
    pub metric: QueryMetric,
    /// Unit of the sides' values (a ratio is unitless, a difference keeps it).
    pub unit: &'static str,
    /// Requests or spans.
    pub population: Population,
    /// The comparison, if any.
    pub compare: Option<Compare>,
    /// The number; `None` when there is none (see `reason`).
    pub value: Option<f64>,
    /// Why there is no number.
    pub no_data: Option<NoData>,
    /// The same as a sentence.
    pub reason: Option<String>,
    /// Bounds given for exit code 1.
    pub thresholds: Thresholds,
    /// Whether the value breaks a bound (`false` without a value).
    pub breached: bool,
    /// Service filter.
    pub service: Option<String>,
    /// Route filter.
    pub route: Option<String>,
    /// Operation (span name) filter.
    pub operation: Option<String>,
    /// The window.
    pub window: Option<QueryWindow>,
    /// The measured sides (baseline first when comparing).
    pub sides: Vec<SideAnswer>,
    /// Everything the filters keep in the window, either side or none.
    pub total: Counts,
    /// Data quality of the inputs.
    pub data_quality: QualitySummary,
}

/// The JSON layout version of [`Answer`].
pub const ANSWER_SCHEMA_VERSION: u32 = 1;

impl Sources {
    /// Answers `spec` over these inputs: finds the window, runs `query_measure.sql` once and
    /// computes the value (see the module docs for the definitions).
    pub fn measure(&self, spec: &QuerySpec) -> Result<Answer, QueryError> {
        spec.check()?;
        let (end, end_from) = match spec.at_unix_nano {
            Some(at) => (Some(at), "at"),
            None => (self.newest_span()?.map(|t| t + 1), "newest_span"),
        };
        let mut answer = Answer {
            schema_version: ANSWER_SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION"),
            metric: spec.metric,
            unit: match spec.compare {
                Some((Compare::Ratio, _)) => "ratio",
                _ => spec.metric.unit(),
            },
            population: spec.population,
            compare: spec.compare.as_ref().map(|c| c.0),
            value: None,
            no_data: None,
            reason: None,
            thresholds: spec.thresholds,
            breached: false,
            service: spec.service.clone(),
            route: spec.route.clone(),
            operation: spec.operation.clone(),
            window: None,
            sides: Vec::new(),
            total: Counts::default(),
            data_quality: quality_summary(&self.quality),
        };
        let Some(end) = end else {
            answer.set(Err(NoData::NoSpans));
            return Ok(answer);
        };
        let start = end.saturating_sub(spec.window_ns);
        let rows = self.run_measure(spec, start, end)?;
        let window = QueryWindow {
            start: format_rfc3339(start),
            end: format_rfc3339(end),
            start_unix_nano: start,
            end_unix_nano: end,
            seconds: (end - start) as f64 / NS_PER_SEC as f64,
            end_from,
        };
        let (mut sides, total) = sides_of(spec, &rows);
        let value = evaluate(spec, &mut sides, &total, window.seconds);
        answer.window = Some(window);
        answer.total = total;
        answer.sides = sides;
        answer.set(value);
        Ok(answer)
    }

    fn newest_span(&self) -> Result<Option<i64>, QueryError> {
        let (_, batches) = self
            .runtime
            .block_on(self.engine.query("newest span", NEWEST_SQL, vec![]))
            .map_err(PipelineError::from)?;
        let b = batches
            .iter()
            .find(|b| b.num_rows() > 0)
            .ok_or_else(|| QueryError::Shape("no row from MAX(start_time)".into()))?;
        let col = b
            .column(0)
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| QueryError::Shape("MAX(start_time) is not BIGINT".into()))?;
        Ok(col.is_valid(0).then(|| col.value(0)))
    }

    fn run_measure(
        &self,
        spec: &QuerySpec,
        start: i64,
        end: i64,
    ) -> Result<Vec<(String, Counts, Option<f64>)>, QueryError> {
        let ts = |ns| ScalarValue::TimestampNanosecond(Some(ns), Some("UTC".into()));
        let baseline = spec
            .compare
            .as_ref()
            .map(|c| c.1.clone())
            .unwrap_or_default();
        let mut params = vec![
            ScalarValue::Utf8(Some(spec.population.sql_value().into())),
            ScalarValue::Boolean(Some(spec.compare.is_some())),
        ];
        params.extend(baseline.values());
        params.extend(spec.side.values());
        params.extend([
            ScalarValue::Utf8(spec.service.clone()),
            ScalarValue::Utf8(spec.route.clone()),
            ScalarValue::Utf8(spec.operation.clone()),
            ts(start),
            ts(end),
            // Any q will do for a metric that is not a quantile; the median is cheapest to read.
            ScalarValue::Float64(Some(spec.metric.quantile().unwrap_or(0.5))),
        ]);
        let _timing = crate::timings::phase("query measure");
        let (_, batches) = self
            .runtime
            .block_on(
                self.engine
                    .query("query_measure.sql", &measure_sql(spec), params),
            )
            .map_err(PipelineError::from)?;
        let mut rows = Vec::new();
        for b in &batches {
            let shape = |c: &str| QueryError::Shape(format!("column {c}"));
            let side = b
                .column(0)
                .as_string_opt::<i32>()
                .ok_or_else(|| shape("side"))?;
            let int = |i: usize, c: &str| {
                b.column(i)
                    .as_primitive_opt::<Int64Type>()
                    .ok_or_else(|| shape(c))
            };
            let float = |i: usize, c: &str| {
                b.column(i)
                    .as_primitive_opt::<Float64Type>()
                    .ok_or_else(|| shape(c))
            };
            let (count, errors) = (int(1, "count")?, int(2, "errors")?);
            let (wc, we, q) = (
                float(3, "weighted_count")?,
                float(4, "weighted_errors")?,
                float(5, "quantile_ms")?,
            );
            for i in 0..b.num_rows() {
                let counts = Counts {
                    count: count.value(i).max(0) as u64,
                    errors: errors.value(i).max(0) as u64,
                    weighted_count: wc.value(i),
                    weighted_errors: we.value(i),
                };
                rows.push((
                    side.value(i).to_string(),
                    counts,
                    q.is_valid(i).then(|| q.value(i)),
                ));
            }
        }
        Ok(rows)
    }
}

impl Answer {
    fn set(&mut self, value: Result<f64, NoData>) {
        match value {
            Ok(v) => {
                self.value = Some(v);
                self.breached = self.thresholds.breached(v);
            }
            Err(why) => {
                self.no_data = Some(why);
                self.reason = Some(why.message(self.population));
            }
        }
    }
}

/// [`MEASURE_SQL`], without the attribute lookups unless a side selects a stage.
fn measure_sql(spec: &QuerySpec) -> String {
    let mut sql = MEASURE_SQL.to_string();
    if !spec.needs_attributes() {
        for (lookup, null) in STAGE_LOOKUPS {
            sql = sql.replace(lookup, null);
        }
    }
    sql
}

fn quality_summary(q: &DataQuality) -> QualitySummary {
    QualitySummary {
        records_read: q.records_read,
        records_ingested: q.records_ingested,
        records_rejected: q.records_rejected,
        duplicates_dropped: q.duplicates_dropped,
        summary: q.summary(),
    }
}

/// The measured sides (baseline first) with their values, and the total of every row.
fn sides_of(spec: &QuerySpec, rows: &[(String, Counts, Option<f64>)]) -> (Vec<SideAnswer>, Counts) {
    let mut total = Counts::default();
    for (_, c, _) in rows {
        total.add(c);
    }
    let side = |sql_name: &str, name: &'static str, selector: &SideSpec| {
        let (counts, q) = rows
            .iter()
            .find(|(s, _, _)| s == sql_name)
            .map(|(_, c, q)| (*c, *q))
            .unwrap_or_default();
        SideAnswer {
            name,
            selector: selector.clone(),
            counts,
            value: q,
        }
    };
    let sides = match &spec.compare {
        None => vec![side("canary", "selected", &spec.side)],
        Some((_, baseline)) => vec![
            side("baseline", "baseline", baseline),
            side("canary", "canary", &spec.side),
        ],
    };
    (sides, total)
}

/// Fills each side's value and returns the answer: the side's value, or the comparison of the
/// canary's with the baseline's. On entry a side's `value` holds its quantile from SQL.
fn evaluate(
    spec: &QuerySpec,
    sides: &mut [SideAnswer],
    total: &Counts,
    window_s: f64,
) -> Result<f64, NoData> {
    for s in sides.iter_mut() {
        s.value = side_value(spec.metric, &s.counts, s.value, total, window_s);
    }
    let values: Vec<Option<f64>> = sides.iter().map(|s| s.value).collect();
    match (&spec.compare, values.as_slice()) {
        (None, [v]) => v.ok_or(NoData::NoRequests),
        (Some((how, _)), [b, c]) => {
            let c = c.ok_or(NoData::NoCanary)?;
            let b = b.ok_or(NoData::NoBaseline)?;
            match how {
                Compare::Difference => Ok(c - b),
                Compare::Ratio if b == 0.0 => Err(NoData::BaselineZero),
                Compare::Ratio => Ok(c / b),
            }
        }
        _ => unreachable!("sides_of returns one side, or two when comparing"),
    }
}

/// One side's value of `metric`; `None` when the side has nothing in the window (a traffic
/// share is defined, possibly 0, whenever anything is in the window).
fn side_value(
    metric: QueryMetric,
    c: &Counts,
    quantile_ms: Option<f64>,
    total: &Counts,
    window_s: f64,
) -> Option<f64> {
    if metric == QueryMetric::TrafficShare {
        return (total.count > 0 && total.weighted_count > 0.0)
            .then(|| c.weighted_count / total.weighted_count);
    }
    if c.count == 0 {
        return None;
    }
    match metric {
        QueryMetric::ErrorRate => {
            (c.weighted_count > 0.0).then(|| c.weighted_errors / c.weighted_count)
        }
        QueryMetric::RequestRate => Some(c.weighted_count / window_s),
        _ => quantile_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(count: u64, errors: u64, weight: f64) -> Counts {
        Counts {
            count,
            errors,
            weighted_count: count as f64 * weight,
            weighted_errors: errors as f64 * weight,
        }
    }

    fn spec(metric: QueryMetric, compare: Option<Compare>) -> QuerySpec {
        QuerySpec {
            metric,
            population: Population::Requests,
            side: SideSpec {
                track: Some("canary".into()),
                ..SideSpec::default()
            },
            compare: compare.map(|c| {
                (
                    c,
                    SideSpec {
                        track: Some("stable".into()),
                        ..SideSpec::default()
                    },
                )
            }),
            service: None,
            route: None,
            operation: None,
            window_ns: 300 * NS_PER_SEC,
            at_unix_nano: None,
            thresholds: Thresholds::default(),
        }
    }

    fn row(side: &str, c: Counts, q: Option<f64>) -> (String, Counts, Option<f64>) {
        (side.to_string(), c, q)
    }

    /// Runs `sides_of` and `evaluate` over SQL-shaped rows.
    fn answer(
        spec: &QuerySpec,
        rows: &[(String, Counts, Option<f64>)],
    ) -> (Result<f64, NoData>, Vec<SideAnswer>) {
        let (mut sides, total) = sides_of(spec, rows);
        let v = evaluate(spec, &mut sides, &total, spec.window_ns as f64 / 1e9);
        (v, sides)
    }

    #[test]
    fn windows_parse_with_units_and_reject_the_rest() {
        assert_eq!(parse_window("5m").unwrap(), 300 * NS_PER_SEC);
        assert_eq!(parse_window("90s").unwrap(), 90 * NS_PER_SEC);
        assert_eq!(parse_window("250ms").unwrap(), 250_000_000);
        assert_eq!(parse_window("2h").unwrap(), 7200 * NS_PER_SEC);
        assert_eq!(parse_window("1d").unwrap(), 86_400 * NS_PER_SEC);
        for bad in [
            "5",
            "m",
            "0m",
            "-5m",
            "5 minutes",
            "1.5m",
            "5x",
            "",
            "999999999999d",
        ] {
            let e = parse_window(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }

    #[test]
    fn metric_names_round_trip_and_unknown_names_list_the_known_ones() {
        for name in QueryMetric::NAMES {
            assert_eq!(QueryMetric::parse(name).unwrap().name(), name);
        }
        let e = QueryMetric::parse("p42").unwrap_err().to_string();
        assert!(
            e.contains("\"p42\"") && e.contains("error_rate") && e.contains("p999"),
            "{e}"
        );
        assert_eq!(QueryMetric::P999.quantile(), Some(0.999));
        assert_eq!(QueryMetric::ErrorRate.quantile(), None);
    }

    #[test]
    fn one_side_values_follow_the_definitions() {
        let rows = [
            row("canary", counts(200, 5, 2.0), Some(12.5)),
            row("other", counts(600, 1, 1.0), Some(3.0)),
        ];
        let v = |m| answer(&spec(m, None), &rows).0;
        assert_eq!(v(QueryMetric::ErrorRate), Ok(5.0 / 200.0));
        // Weighted: 400 requests represented over 300 s.
        assert_eq!(v(QueryMetric::RequestRate), Ok(400.0 / 300.0));
        assert_eq!(v(QueryMetric::P99), Ok(12.5));
        assert_eq!(v(QueryMetric::TrafficShare), Ok(400.0 / 1000.0));
    }

    #[test]
    fn nothing_in_the_window_is_no_data_not_zero() {
        let only_other = [row("other", counts(10, 0, 1.0), Some(1.0))];
        for m in [
            QueryMetric::ErrorRate,
            QueryMetric::RequestRate,
            QueryMetric::P50,
        ] {
            assert_eq!(
                answer(&spec(m, None), &only_other).0,
                Err(NoData::NoRequests)
            );
            assert_eq!(answer(&spec(m, None), &[]).0, Err(NoData::NoRequests));
        }
        // Traffic exists but none of it is the canary's: a real 0 share.
        assert_eq!(
            answer(&spec(QueryMetric::TrafficShare, None), &only_other).0,
            Ok(0.0)
        );
        assert_eq!(
            answer(&spec(QueryMetric::TrafficShare, None), &[]).0,
            Err(NoData::NoRequests)
        );
    }

    #[test]
    fn comparisons_need_both_sides_and_a_nonzero_baseline_for_a_ratio() {
        let both = [
            row("baseline", counts(1000, 10, 1.0), Some(100.0)),
            row("canary", counts(100, 3, 1.0), Some(150.0)),
        ];
        let ratio = spec(QueryMetric::ErrorRate, Some(Compare::Ratio));
        let (v, sides) = answer(&ratio, &both);
        assert!((v.unwrap() - 3.0).abs() < 1e-12);
        assert_eq!(sides[0].name, "baseline");
        assert_eq!(sides[0].value, Some(0.01));
        assert_eq!(sides[1].value, Some(0.03));
        let diff = spec(QueryMetric::P99, Some(Compare::Difference));
        assert_eq!(answer(&diff, &both).0, Ok(50.0));

        let no_canary = [row("baseline", counts(1000, 10, 1.0), Some(1.0))];
        assert_eq!(answer(&ratio, &no_canary).0, Err(NoData::NoCanary));
        let no_baseline = [row("canary", counts(10, 1, 1.0), Some(1.0))];
        assert_eq!(answer(&ratio, &no_baseline).0, Err(NoData::NoBaseline));
        let clean_baseline = [
            row("baseline", counts(1000, 0, 1.0), Some(1.0)),
            row("canary", counts(10, 1, 1.0), Some(1.0)),
        ];
        assert_eq!(answer(&ratio, &clean_baseline).0, Err(NoData::BaselineZero));
        let diff_errors = spec(QueryMetric::ErrorRate, Some(Compare::Difference));
        assert_eq!(answer(&diff_errors, &clean_baseline).0, Ok(0.1));
    }

    #[test]
    fn attribute_lookups_are_dropped_unless_a_stage_is_selected() {
        for (lookup, _) in STAGE_LOOKUPS {
            assert_eq!(MEASURE_SQL.matches(lookup).count(), 2, "{lookup}");
        }
        let plain = measure_sql(&spec(QueryMetric::P99, Some(Compare::Ratio)));
        assert!(!plain.contains("resource_attributes[") && !plain.contains("span_attributes["));
        let mut staged = spec(QueryMetric::P99, Some(Compare::Ratio));
        staged.compare.as_mut().unwrap().1.stage = Some("stable".into());
        assert!(staged.needs_attributes());
        assert_eq!(measure_sql(&staged), MEASURE_SQL);
    }

    #[test]
    fn thresholds_are_strict_bounds() {
        let t = Thresholds {
            fail_above: Some(0.005),
            fail_below: Some(0.001),
        };
        assert!(!t.breached(0.005) && !t.breached(0.001) && !t.breached(0.003));
        assert!(t.breached(0.0051) && t.breached(0.0009));
        assert!(!Thresholds::default().breached(f64::MAX));
    }

    #[test]
    fn specs_without_meaning_are_refused() {
        let mut s = spec(QueryMetric::TrafficShare, None);
        s.side = SideSpec::default();
        assert!(s.check().unwrap_err().to_string().contains("--track"));
        let mut same = spec(QueryMetric::P99, Some(Compare::Ratio));
        same.side = same.compare.as_ref().unwrap().1.clone();
        assert!(same.check().unwrap_err().to_string().contains("same spans"));
        assert!(spec(QueryMetric::P99, Some(Compare::Ratio)).check().is_ok());
    }
}
