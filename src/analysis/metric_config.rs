//! The `[metric_analysis]` part of `canary.toml`: which OTLP metrics the metric-based
//! comparisons read (docs/metrics-analysis.md documents every key).
//!
//! Out of the box the OpenTelemetry HTTP semantic conventions are recognised: the
//! `http.server.request.duration` histogram per `http.route` with errors from
//! `http.response.status_code ≥ 500`, and, when no such histogram exists, an
//! `http.server.requests`-style counter with the same status attribute for the error rate.

use crate::analysis::config_error::ConfigError;
use crate::analysis::direction::Direction;
use crate::model::metric_data::AttrFilter;
use serde::{Deserialize, Serialize};

/// How the values of one time bucket become one value of an interval series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesAggregation {
    /// Sum of the (delta) values of a sum or gauge metric in the bucket.
    Sum,
    /// Sum divided by the bucket width in seconds (per-second rate of a counter).
    Rate,
    /// Mean of the point values (gauges).
    Mean,
    /// Largest point value (gauges).
    Max,
    /// Histogram count in the bucket.
    Count,
    /// Histogram median (Prometheus interpolation), ms for time units.
    P50,
    /// Histogram p90.
    P90,
    /// Histogram p99.
    P99,
    /// Share of the histogram count whose status attribute is an error, in percent.
    ErrorRate,
}

impl SeriesAggregation {
    /// Whether it reads histogram points (else sum/gauge points).
    pub fn is_histogram(self) -> bool {
        matches!(
            self,
            Self::Count | Self::P50 | Self::P90 | Self::P99 | Self::ErrorRate
        )
    }
}

/// Error rate from two counters: numerator / denominator per route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterRatio {
    /// Counter of failed requests (its points passing `numerator_filter`).
    pub numerator: String,
    /// Conditions on the numerator's point attributes, e.g. `http.response.status_code >= 500`.
    pub numerator_filter: Vec<String>,
    /// Counter of all requests.
    pub denominator: String,
    /// Conditions on the denominator's point attributes.
    pub denominator_filter: Vec<String>,
}

/// A business ratio of two counters per service, e.g. orders placed / checkout attempts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatioConfig {
    /// Name used in the comparison id.
    pub name: String,
    /// Counter of successes (a subset of the denominator's events).
    pub numerator: String,
    /// Conditions on the numerator's attributes.
    pub numerator_filter: Vec<String>,
    /// Counter of attempts.
    pub denominator: String,
    /// Conditions on the denominator's attributes.
    pub denominator_filter: Vec<String>,
    /// Which change is bad (`decrease` for a conversion rate).
    pub direction: Direction,
    /// Allowed relative increase of the ratio (0.05 = canary/baseline up to 1.05).
    pub allowed_increase: Option<f64>,
    /// Allowed relative decrease (0.05 = down to 0.95).
    pub allowed_decrease: Option<f64>,
    /// A failure forces rollback.
    pub critical: bool,
    /// Scoring group.
    pub group: String,
}

/// A Kayenta-style comparison of a metric's per-time-bucket values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesConfig {
    /// Name used in the comparison id.
    pub name: String,
    /// OTLP metric name.
    pub metric: String,
    /// Per-bucket aggregation.
    pub aggregation: SeriesAggregation,
    /// Conditions on point attributes.
    pub filter: Vec<String>,
    /// Point attributes that split the series into groups (e.g. `["http.route"]`); the
    /// service always does.
    pub group_by: Vec<String>,
    /// Which change is bad.
    pub direction: Direction,
    /// Kayenta `allowedIncrease − 1` (mean ratio canary/baseline that may be exceeded).
    pub allowed_increase: Option<f64>,
    /// Kayenta `1 − allowedDecrease`.
    pub allowed_decrease: Option<f64>,
    /// A failure forces rollback.
    pub critical: bool,
    /// Scoring group.
    pub group: String,
}

/// Settings of the metric-based comparisons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricAnalysisConfig {
    /// Compare metrics at all (when the inputs have metric points).
    pub enabled: bool,
    /// Also judge the per-route request metrics (error rate, latency) when the inputs have
    /// spans. Off by default: the spans already judge the same requests, exactly, and every
    /// extra p-value widens the Benjamini–Hochberg adjustment. Ratios and series always run.
    pub with_spans: bool,
    /// Duration histograms tried in order; the first with points is used.
    pub latency_histograms: Vec<String>,
    /// Point attribute holding the route.
    pub route_attribute: String,
    /// Point attribute holding the HTTP status code.
    pub status_attribute: String,
    /// Status codes at or above this are errors.
    pub error_status_min: i64,
    /// Request counter used for the error rate when no duration histogram exists (split by
    /// `status_attribute`).
    pub request_counter: String,
    /// Explicit counter-based error rate; replaces the histogram-based one when set.
    pub error_rate: Option<CounterRatio>,
    /// Business ratios.
    pub ratios: Vec<RatioConfig>,
    /// Interval-series comparisons.
    pub series: Vec<SeriesConfig>,
}

impl Default for MetricAnalysisConfig {
    fn default() -> Self {
        MetricAnalysisConfig {
            enabled: true,
            with_spans: false,
            latency_histograms: vec!["http.server.request.duration".into()],
            route_attribute: "http.route".into(),
            status_attribute: "http.response.status_code".into(),
            error_status_min: 500,
            request_counter: "http.server.requests".into(),
            error_rate: None,
            ratios: Vec::new(),
            series: Vec::new(),
        }
    }
}

/// Parses filters checked by [`MetricAnalysisConfig::validate`].
pub fn parse_filters(v: &[String]) -> Vec<AttrFilter> {
    v.iter().filter_map(|f| AttrFilter::parse(f).ok()).collect()
}

impl MetricAnalysisConfig {
    /// Whether a run should read the metric tables: metric analysis is enabled and something
    /// will judge the metrics — the input has no span groups (metrics stand in), or the
    /// configuration asks for metrics beside spans (`with_spans`, ratios, series).
    pub fn wanted(&self, has_span_groups: bool) -> bool {
        self.enabled
            && (!has_span_groups
                || self.with_spans
                || !self.ratios.is_empty()
                || !self.series.is_empty())
    }

    /// Scoring groups used by ratios and series.
    pub fn groups(&self) -> impl Iterator<Item = &String> {
        self.ratios
            .iter()
            .map(|r| &r.group)
            .chain(self.series.iter().map(|s| &s.group))
    }

    /// Checks names, filters and limits; errors name the dotted key.
    pub fn validate(&self, path: &str) -> Result<(), ConfigError> {
        let bad = |key: String, message: String| ConfigError::Invalid {
            path: path.to_string(),
            key,
            message,
        };
        let filters = |key: String, v: &[String]| -> Result<(), ConfigError> {
            for f in v {
                AttrFilter::parse(f).map_err(|m| bad(key.clone(), m))?;
            }
            Ok(())
        };
        let limits = |key: &str,
                      d: Direction,
                      inc: Option<f64>,
                      dec: Option<f64>|
         -> Result<(), ConfigError> {
            for (on, name, v, max) in [
                (d.checks_increase(), "allowed_increase", inc, f64::MAX),
                (d.checks_decrease(), "allowed_decrease", dec, 1.0),
            ] {
                match v {
                    Some(x) if x.is_finite() && x >= 0.0 && x <= max => {}
                    Some(_) => {
                        return Err(bad(
                            format!("{key}.{name}"),
                            if max == 1.0 {
                                "must be in [0, 1]".into()
                            } else {
                                "must be a finite number ≥ 0".into()
                            },
                        ))
                    }
                    None if on => {
                        return Err(bad(
                            format!("{key}.{name}"),
                            "required for this direction".into(),
                        ))
                    }
                    None => {}
                }
            }
            Ok(())
        };
        if self.latency_histograms.iter().any(String::is_empty) {
            return Err(bad(
                "metric_analysis.latency_histograms".into(),
                "names must not be empty".into(),
            ));
        }
        if let Some(e) = &self.error_rate {
            let k = "metric_analysis.error_rate";
            if e.numerator.is_empty() || e.denominator.is_empty() {
                return Err(bad(
                    format!("{k}.numerator"),
                    "numerator and denominator are required".into(),
                ));
            }
            filters(format!("{k}.numerator_filter"), &e.numerator_filter)?;
            filters(format!("{k}.denominator_filter"), &e.denominator_filter)?;
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, r) in self.ratios.iter().enumerate() {
            let k = format!("metric_analysis.ratios[{i}]");
            if r.name.is_empty() || r.numerator.is_empty() || r.denominator.is_empty() {
                return Err(bad(
                    k,
                    "name, numerator and denominator are required".into(),
                ));
            }
            if !names.insert(("ratio", r.name.clone())) {
                return Err(bad(
                    format!("{k}.name"),
                    format!("duplicate name {:?}", r.name),
                ));
            }
            if r.group.is_empty() {
                return Err(bad(format!("{k}.group"), "must not be empty".into()));
            }
            filters(format!("{k}.numerator_filter"), &r.numerator_filter)?;
            filters(format!("{k}.denominator_filter"), &r.denominator_filter)?;
            limits(&k, r.direction, r.allowed_increase, r.allowed_decrease)?;
        }
        for (i, s) in self.series.iter().enumerate() {
            let k = format!("metric_analysis.series[{i}]");
            if s.name.is_empty() || s.metric.is_empty() {
                return Err(bad(k, "name and metric are required".into()));
            }
            if !names.insert(("series", s.name.clone())) {
                return Err(bad(
                    format!("{k}.name"),
                    format!("duplicate name {:?}", s.name),
                ));
            }
            if s.group.is_empty() {
                return Err(bad(format!("{k}.group"), "must not be empty".into()));
            }
            filters(format!("{k}.filter"), &s.filter)?;
            limits(&k, s.direction, s.allowed_increase, s.allowed_decrease)?;
        }
        Ok(())
    }

    /// Applies the raw TOML section.
    pub(crate) fn apply(&mut self, raw: RawMetricAnalysis) {
        if let Some(v) = raw.enabled {
            self.enabled = v;
        }
        if let Some(v) = raw.with_spans {
            self.with_spans = v;
        }
        if let Some(v) = raw.latency_histograms {
            self.latency_histograms = v;
        }
        if let Some(v) = raw.route_attribute {
            self.route_attribute = v;
        }
        if let Some(v) = raw.status_attribute {
            self.status_attribute = v;
        }
        if let Some(v) = raw.error_status_min {
            self.error_status_min = v;
        }
        if let Some(v) = raw.request_counter {
            self.request_counter = v;
        }
        if let Some(e) = raw.error_rate {
            self.error_rate = Some(CounterRatio {
                numerator: e.numerator,
                numerator_filter: e.numerator_filter.unwrap_or_default(),
                denominator: e.denominator,
                denominator_filter: e.denominator_filter.unwrap_or_default(),
            });
        }
        if let Some(rs) = raw.ratios {
            self.ratios = rs
                .into_iter()
                .map(|r| RatioConfig {
                    name: r.name,
                    numerator: r.numerator,
                    numerator_filter: r.numerator_filter.unwrap_or_default(),
                    denominator: r.denominator,
                    denominator_filter: r.denominator_filter.unwrap_or_default(),
                    direction: r.direction.unwrap_or(Direction::Decrease),
                    allowed_increase: r.allowed_increase,
                    allowed_decrease: r.allowed_decrease,
                    critical: r.critical.unwrap_or(false),
                    group: r.group.unwrap_or_else(|| "business".into()),
                })
                .collect();
        }
        if let Some(ss) = raw.series {
            self.series = ss
                .into_iter()
                .map(|s| SeriesConfig {
                    name: s.name,
                    metric: s.metric,
                    aggregation: s.aggregation,
                    filter: s.filter.unwrap_or_default(),
                    group_by: s.group_by.unwrap_or_default(),
                    direction: s.direction.unwrap_or(Direction::Increase),
                    allowed_increase: Some(s.allowed_increase.unwrap_or(0.0)),
                    allowed_decrease: Some(s.allowed_decrease.unwrap_or(0.0)),
                    critical: s.critical.unwrap_or(false),
                    group: s.group.unwrap_or_else(|| "series".into()),
                })
                .collect();
        }
    }
}

/// `[metric_analysis]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetricAnalysis {
    enabled: Option<bool>,
    with_spans: Option<bool>,
    latency_histograms: Option<Vec<String>>,
    route_attribute: Option<String>,
    status_attribute: Option<String>,
    error_status_min: Option<i64>,
    request_counter: Option<String>,
    error_rate: Option<RawCounterRatio>,
    ratios: Option<Vec<RawRatio>>,
    series: Option<Vec<RawSeries>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCounterRatio {
    numerator: String,
    numerator_filter: Option<Vec<String>>,
    denominator: String,
    denominator_filter: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRatio {
    name: String,
    numerator: String,
    numerator_filter: Option<Vec<String>>,
    denominator: String,
    denominator_filter: Option<Vec<String>>,
    direction: Option<Direction>,
    allowed_increase: Option<f64>,
    allowed_decrease: Option<f64>,
    critical: Option<bool>,
    group: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeries {
    name: String,
    metric: String,
    aggregation: SeriesAggregation,
    filter: Option<Vec<String>>,
    group_by: Option<Vec<String>>,
    direction: Option<Direction>,
    allowed_increase: Option<f64>,
    allowed_decrease: Option<f64>,
    critical: Option<bool>,
    group: Option<String>,
}
