//! Analysis configuration: tests, allowed effects, groups, weights and verdict thresholds.
//!
//! Loaded from TOML (`canary.toml`, documented key by key in `docs/analysis.md`) on top of a
//! named preset: `default` (confidence intervals against allowed effects, design §4),
//! `seed-simple` (the seed's naive threshold rule, no statistics) and `kayenta` (the
//! NetflixACAJudge classification rule). Unknown keys are errors that name the line and the key.

// Re-exported so `config::ConfigError` / `config::Direction` keep naming them; they live in
// their own modules because metric_config needs them too (no import cycle).
pub use crate::analysis::config_error::ConfigError;
pub use crate::analysis::direction::Direction;
use crate::analysis::findings::MetricName;
use crate::analysis::metric_config::{MetricAnalysisConfig, RawMetricAnalysis};
use crate::model::comparison::GroupLevel;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Names of the built-in presets.
pub const PRESETS: &[&str] = &["default", "seed-simple", "kayenta"];

/// How each metric is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Design §4: estimate and confidence interval against the allowed effect, BH-adjusted p:
    /// one fixed-sample test over the whole window (`"fixed"` is accepted as another name).
    #[serde(alias = "fixed")]
    Intervals,
    /// Kayenta's NetflixACAJudge: Mann–Whitney/Hodges–Lehmann interval vs a tolerance band of
    /// the estimate, then the mean-ratio effect size vs `allowedIncrease`/`allowedDecrease`.
    Kayenta,
    /// Point estimate vs threshold, no statistics (the seed's rule).
    Threshold,
    /// Anytime-valid gates read look by look (`[sequential]`, [`SequentialConfig`]): error
    /// rates and the request split with Lindon & Malek's count test
    /// (`analysis::sequential_judge`); latency with the fixed-sample tests of `intervals`.
    Sequential,
}

/// `[sequential]`: how `method = "sequential"` reads the window (docs/analysis.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequentialConfig {
    /// Time between looks, nanoseconds; a multiple of the series bucket (`--bucket-seconds`)
    /// and no longer than the window (checked by [`AnalysisConfig::check_looks`]).
    pub look_interval_ns: i64,
    /// The configured canary share of requests, for the request-split test; `None` runs no
    /// request-split test.
    pub traffic_split: Option<f64>,
    /// Allowed relative deviation of the request split: the ratio of canary to stable requests
    /// per unit of configured share may lie in `[1 − t, 1 + t]` (0.2 = ±20%).
    pub traffic_split_tolerance: f64,
    /// Concentration `k` of the Beta mixture (`stats::sequential`).
    pub concentration: f64,
}

impl Default for SequentialConfig {
    fn default() -> Self {
        SequentialConfig {
            look_interval_ns: 60 * NS_PER_SEC,
            traffic_split: None,
            traffic_split_tolerance: 0.2,
            concentration: crate::stats::sequential::DEFAULT_CONCENTRATION,
        }
    }
}

const NS_PER_SEC: i64 = 1_000_000_000;

/// Parses `"90s"`, `"1m"`, `"2h"` (a positive whole number and one unit) into nanoseconds.
pub fn parse_interval(s: &str) -> Option<i64> {
    let s = s.trim();
    let unit = match s.chars().last()? {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        _ => return None,
    };
    let n: i64 = s[..s.len() - 1].trim().parse().ok()?;
    (n > 0).then(|| n.checked_mul(unit * NS_PER_SEC)).flatten()
}

/// `90s`, `2m`, `1h` as short as it is exact.
pub fn fmt_interval(ns: i64) -> String {
    let s = ns / NS_PER_SEC;
    if ns % NS_PER_SEC != 0 {
        format!("{}ms", ns / 1_000_000)
    } else if s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// How the error-rate percentage-point and ratio limits combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// Fail only when beyond both limits; pass when within either.
    And,
    /// Fail when beyond either limit; pass only when within both.
    Or,
}

/// Settings of one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricConfig {
    /// Whether the metric is compared at all.
    pub enabled: bool,
    /// Scoring group (see [`AnalysisConfig::group_weights`]).
    pub group: String,
    /// A failure forces rollback.
    pub critical: bool,
    /// Which change is bad.
    pub direction: Direction,
    /// Allowed relative increase (0.20 = +20%, ratio 1.20). For `error_rate` the rate-ratio limit
    /// (optional); in `kayenta` mode Kayenta's `allowedIncrease` minus one.
    pub allowed_increase: Option<f64>,
    /// Allowed relative decrease (0.20 = −20%, ratio 0.80).
    pub allowed_decrease: Option<f64>,
    /// `error_rate` only: allowed increase in percentage points (0.5 = +0.5 pp).
    pub allowed_increase_pp: Option<f64>,
    /// `error_rate` only: allowed decrease in percentage points.
    pub allowed_decrease_pp: Option<f64>,
    /// `error_rate` only: how the pp and ratio limits combine.
    pub combine: Combine,
}

impl MetricConfig {
    fn latency(enabled: bool, allowed: f64) -> Self {
        MetricConfig {
            enabled,
            group: "latency".into(),
            critical: false,
            direction: Direction::Increase,
            allowed_increase: Some(allowed),
            allowed_decrease: Some(allowed),
            allowed_increase_pp: None,
            allowed_decrease_pp: None,
            combine: Combine::And,
        }
    }
}

/// Per-metric settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsConfig {
    /// Error rate (Fisher exact, Newcombe difference, rate ratio).
    pub error_rate: MetricConfig,
    /// Median latency ratio.
    pub latency_p50: MetricConfig,
    /// p90 latency ratio.
    pub latency_p90: MetricConfig,
    /// p99 latency ratio.
    pub latency_p99: MetricConfig,
    /// p99.9 latency ratio.
    pub latency_p999: MetricConfig,
    /// Whole-distribution shift (Mann–Whitney, Hodges–Lehmann on log durations).
    pub latency_shift: MetricConfig,
}

impl MetricsConfig {
    /// Settings of a metric.
    pub fn get(&self, m: MetricName) -> &MetricConfig {
        match m {
            MetricName::ErrorRate => &self.error_rate,
            MetricName::LatencyP50 => &self.latency_p50,
            MetricName::LatencyP90 => &self.latency_p90,
            MetricName::LatencyP99 => &self.latency_p99,
            MetricName::LatencyP999 => &self.latency_p999,
            MetricName::LatencyShift => &self.latency_shift,
            MetricName::BusinessRatio | MetricName::IntervalSeries | MetricName::RequestSplit => {
                &NOT_PER_GROUP
            }
        }
    }

    fn get_mut(&mut self, m: MetricName) -> Option<&mut MetricConfig> {
        Some(match m {
            MetricName::ErrorRate => &mut self.error_rate,
            MetricName::LatencyP50 => &mut self.latency_p50,
            MetricName::LatencyP90 => &mut self.latency_p90,
            MetricName::LatencyP99 => &mut self.latency_p99,
            MetricName::LatencyP999 => &mut self.latency_p999,
            MetricName::LatencyShift => &mut self.latency_shift,
            MetricName::BusinessRatio | MetricName::IntervalSeries | MetricName::RequestSplit => {
                return None
            }
        })
    }
}

/// What [`MetricsConfig::get`] returns for business ratios and interval series: they are
/// configured one by one under `[metric_analysis]`, not per group, so they are never enabled
/// here.
static NOT_PER_GROUP: MetricConfig = MetricConfig {
    enabled: false,
    group: String::new(),
    critical: false,
    direction: Direction::Increase,
    allowed_increase: None,
    allowed_decrease: None,
    allowed_increase_pp: None,
    allowed_decrease_pp: None,
    combine: Combine::And,
};

/// Every per-group metric, in report order (business ratios and interval series are
/// configured under `[metric_analysis]`).
pub const ALL_METRICS: [MetricName; 6] = [
    MetricName::ErrorRate,
    MetricName::LatencyP50,
    MetricName::LatencyP90,
    MetricName::LatencyP99,
    MetricName::LatencyP999,
    MetricName::LatencyShift,
];

/// Snake-case name of a metric, as in TOML and JSON.
pub fn metric_key(m: MetricName) -> &'static str {
    match m {
        MetricName::ErrorRate => "error_rate",
        MetricName::LatencyP50 => "latency_p50",
        MetricName::LatencyP90 => "latency_p90",
        MetricName::LatencyP99 => "latency_p99",
        MetricName::LatencyP999 => "latency_p999",
        MetricName::LatencyShift => "latency_shift",
        MetricName::BusinessRatio => "business_ratio",
        MetricName::IntervalSeries => "interval_series",
        MetricName::RequestSplit => "request_split",
    }
}

/// The complete analysis configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisConfig {
    /// Preset name or config file path, copied into the report's `config_name`.
    pub name: String,
    /// How metrics are judged.
    pub method: Method,
    /// Significance level α; intervals are at confidence 1 − α.
    pub alpha: f64,
    /// Power used for minimum detectable effects.
    pub power: f64,
    /// Group levels compared (route and/or operation).
    pub levels: Vec<GroupLevel>,
    /// Recorded requests needed on each side of a group before any test is run.
    pub min_requests: u64,
    /// Recorded canary requests (over all groups of the first level) needed to promote.
    pub min_total_requests: u64,
    /// Share of comparisons that must be decided (pass or fail) to promote.
    pub min_decided_fraction: f64,
    /// Score at or above which the canary may be promoted (0–100).
    pub pass_threshold: f64,
    /// Score below which the canary is rolled back (0–100).
    pub marginal_threshold: f64,
    /// Group weights in percent; groups without a weight share what is left of 100.
    pub group_weights: BTreeMap<String, f64>,
    /// Kayenta mode: tolerance band as a fraction of |Hodges–Lehmann estimate| (Kayenta: 0.25).
    pub kayenta_tolerance: f64,
    /// Per-metric settings.
    pub metrics: MetricsConfig,
    /// Metric-based comparisons (`[metric_analysis]`, docs/metrics-analysis.md).
    #[serde(default)]
    pub metric_analysis: MetricAnalysisConfig,
    /// Settings of `method = "sequential"` (ignored by the other methods).
    #[serde(default)]
    pub sequential: SequentialConfig,
}

fn critical(mut m: MetricConfig) -> MetricConfig {
    m.critical = true;
    m
}

impl AnalysisConfig {
    /// Confidence level of intervals, 1 − α.
    pub fn confidence(&self) -> f64 {
        1.0 - self.alpha
    }

    /// The `default` preset: 95% intervals, BH at α = 0.05, +0.5 pp errors (critical),
    /// +10% p50, +20% p99 (critical), +10% shift (critical), at least 100 requests per side.
    ///
    /// Shift and p99 are critical because a regression on one route among many must not be
    /// averaged away by the score: with dozens of comparisons, one significant +30% latency
    /// failure would otherwise leave the score above the pass threshold.
    pub fn default_preset() -> Self {
        let mut error_rate = MetricConfig::latency(true, 0.0);
        error_rate.group = "errors".into();
        error_rate.critical = true;
        error_rate.allowed_increase = None;
        error_rate.allowed_decrease = None;
        error_rate.allowed_increase_pp = Some(0.5);
        error_rate.allowed_decrease_pp = Some(0.5);
        AnalysisConfig {
            name: "default".into(),
            method: Method::Intervals,
            alpha: 0.05,
            power: 0.8,
            levels: vec![GroupLevel::Route],
            min_requests: 100,
            min_total_requests: 1000,
            min_decided_fraction: 0.5,
            pass_threshold: 95.0,
            marginal_threshold: 75.0,
            group_weights: BTreeMap::from([("errors".into(), 50.0), ("latency".into(), 50.0)]),
            kayenta_tolerance: 0.25,
            metrics: MetricsConfig {
                error_rate,
                latency_p50: MetricConfig::latency(true, 0.10),
                latency_p90: MetricConfig::latency(false, 0.15),
                latency_p99: critical(MetricConfig::latency(true, 0.20)),
                latency_p999: MetricConfig::latency(false, 0.30),
                latency_shift: critical(MetricConfig::latency(true, 0.10)),
            },
            metric_analysis: MetricAnalysisConfig::default(),
            sequential: SequentialConfig::default(),
        }
    }

    /// The `seed-simple` preset: the seed's rule, fail if the error rate rose by more than
    /// 10 percentage points or p99 by more than 20%, on point estimates, no statistics.
    pub fn seed_simple_preset() -> Self {
        let mut c = Self::default_preset();
        c.name = "seed-simple".into();
        c.method = Method::Threshold;
        c.min_total_requests = 0;
        c.min_decided_fraction = 0.0;
        c.metrics.error_rate.allowed_increase_pp = Some(10.0);
        c.metrics.latency_p99.critical = true;
        c.metrics.latency_p50.enabled = false;
        c.metrics.latency_shift.enabled = false;
        c
    }

    /// The `kayenta` preset: NetflixACAJudge (confidence 98%, tolerance 0.25, effect sizes
    /// `allowedIncrease = allowedDecrease = 1.0`, i.e. no extra margin), pass 95, marginal 75.
    pub fn kayenta_preset() -> Self {
        let mut c = Self::default_preset();
        c.name = "kayenta".into();
        c.method = Method::Kayenta;
        c.alpha = 0.02;
        c.min_requests = 0;
        c.min_total_requests = 0;
        c.min_decided_fraction = 0.0;
        for m in ALL_METRICS {
            let Some(mc) = c.metrics.get_mut(m) else {
                continue;
            };
            mc.allowed_increase = Some(0.0);
            mc.allowed_decrease = Some(0.0);
        }
        c.metrics.latency_p50.enabled = false;
        // Kayenta marks metrics critical only when a config says so; keep error rate only.
        c.metrics.latency_p99.critical = false;
        c.metrics.latency_shift.critical = false;
        c
    }

    /// A built-in preset by name.
    pub fn preset(name: &str) -> Result<Self, ConfigError> {
        match name {
            "default" => Ok(Self::default_preset()),
            "seed-simple" => Ok(Self::seed_simple_preset()),
            "kayenta" => Ok(Self::kayenta_preset()),
            other => Err(ConfigError::UnknownPreset(other.to_string())),
        }
    }

    /// Reads a TOML file (see [`AnalysisConfig::from_toml_str`]).
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: p.clone(),
            source,
        })?;
        Self::from_toml_str(&text, &p)
    }

    /// Parses TOML: keys override the preset named by `preset` (default `default`). `path` is
    /// used in error messages and as the config name.
    pub fn from_toml_str(text: &str, path: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(0);
            ConfigError::Parse {
                path: path.to_string(),
                line,
                message: e.message().trim().to_string(),
            }
        })?;
        let mut c = Self::preset(raw.preset.as_deref().unwrap_or("default"))?;
        c.name = path.to_string();
        if let Some(v) = raw.method {
            c.method = v;
        }
        if let Some(v) = raw.alpha {
            c.alpha = v;
        }
        if let Some(v) = raw.power {
            c.power = v;
        }
        if let Some(v) = raw.levels {
            c.levels = v;
        }
        if let Some(e) = raw.evidence {
            if let Some(v) = e.min_requests {
                c.min_requests = v;
            }
            if let Some(v) = e.min_total_requests {
                c.min_total_requests = v;
            }
            if let Some(v) = e.min_decided_fraction {
                c.min_decided_fraction = v;
            }
        }
        if let Some(s) = raw.scoring {
            if let Some(v) = s.pass_threshold {
                c.pass_threshold = v;
            }
            if let Some(v) = s.marginal_threshold {
                c.marginal_threshold = v;
            }
        }
        if let Some(g) = raw.groups {
            c.group_weights = g;
        }
        if let Some(k) = raw.kayenta {
            if let Some(v) = k.tolerance {
                c.kayenta_tolerance = v;
            }
        }
        if let Some(m) = raw.metrics {
            let pairs = [
                (MetricName::ErrorRate, m.error_rate),
                (MetricName::LatencyP50, m.latency_p50),
                (MetricName::LatencyP90, m.latency_p90),
                (MetricName::LatencyP99, m.latency_p99),
                (MetricName::LatencyP999, m.latency_p999),
                (MetricName::LatencyShift, m.latency_shift),
            ];
            for (name, r) in pairs {
                let Some(r) = r else { continue };
                let Some(mc) = c.metrics.get_mut(name) else {
                    continue;
                };
                if let Some(v) = r.enabled {
                    mc.enabled = v;
                }
                if let Some(v) = r.group {
                    mc.group = v;
                }
                if let Some(v) = r.critical {
                    mc.critical = v;
                }
                if let Some(v) = r.direction {
                    mc.direction = v;
                }
                if let Some(v) = r.allowed_increase {
                    mc.allowed_increase = Some(v);
                }
                if let Some(v) = r.allowed_decrease {
                    mc.allowed_decrease = Some(v);
                }
                if let Some(v) = r.allowed_increase_pp {
                    mc.allowed_increase_pp = Some(v);
                }
                if let Some(v) = r.allowed_decrease_pp {
                    mc.allowed_decrease_pp = Some(v);
                }
                if let Some(v) = r.combine {
                    mc.combine = v;
                }
            }
        }
        if let Some(m) = raw.metric_analysis {
            c.metric_analysis.apply(m);
        }
        if let Some(q) = raw.sequential {
            if let Some(v) = q.look_interval {
                c.sequential.look_interval_ns =
                    parse_interval(&v).ok_or_else(|| ConfigError::Invalid {
                        path: path.to_string(),
                        key: "sequential.look_interval".into(),
                        message: format!(
                            "{v:?} is not a duration: a positive whole number of s, m or h (e.g. \"1m\")"
                        ),
                    })?;
            }
            if let Some(v) = q.traffic_split {
                c.sequential.traffic_split = Some(v);
            }
            if let Some(v) = q.traffic_split_tolerance {
                c.sequential.traffic_split_tolerance = v;
            }
            if let Some(v) = q.concentration {
                c.sequential.concentration = v;
            }
        }
        c.validate(path)?;
        Ok(c)
    }

    /// Checks ranges and that every enabled metric has the limits its direction needs.
    pub fn validate(&self, path: &str) -> Result<(), ConfigError> {
        let bad = |key: &str, message: &str| ConfigError::Invalid {
            path: path.to_string(),
            key: key.to_string(),
            message: message.to_string(),
        };
        if !(self.alpha > 0.0 && self.alpha < 0.5) {
            return Err(bad("alpha", "must be in (0, 0.5)"));
        }
        if !(self.power > 0.0 && self.power < 1.0) {
            return Err(bad("power", "must be in (0, 1)"));
        }
        if self.levels.is_empty() {
            return Err(bad(
                "levels",
                "must name at least one of \"route\", \"operation\"",
            ));
        }
        if !(0.0..=1.0).contains(&self.min_decided_fraction) {
            return Err(bad("evidence.min_decided_fraction", "must be in [0, 1]"));
        }
        if !(0.0..=100.0).contains(&self.pass_threshold) {
            return Err(bad("scoring.pass_threshold", "must be in [0, 100]"));
        }
        if !(0.0..=self.pass_threshold).contains(&self.marginal_threshold) {
            return Err(bad(
                "scoring.marginal_threshold",
                "must be in [0, pass_threshold]",
            ));
        }
        for (g, w) in &self.group_weights {
            if !(w.is_finite() && *w >= 0.0) {
                return Err(bad(&format!("groups.{g}"), "weight must be ≥ 0"));
            }
        }
        if !(self.kayenta_tolerance.is_finite() && self.kayenta_tolerance >= 0.0) {
            return Err(bad("kayenta.tolerance", "must be ≥ 0"));
        }
        self.metric_analysis.validate(path)?;
        if let Some(r) = self.sequential.traffic_split {
            if !(r > 0.0 && r < 1.0) {
                return Err(bad(
                    "sequential.traffic_split",
                    &format!("must be strictly between 0 and 1 (the canary's share of requests), got {r}"),
                ));
            }
        }
        let t = self.sequential.traffic_split_tolerance;
        if !(t > 0.0 && t < 1.0) {
            return Err(bad(
                "sequential.traffic_split_tolerance",
                "must be strictly between 0 and 1",
            ));
        }
        if !(self.sequential.concentration > 0.0 && self.sequential.concentration.is_finite()) {
            return Err(bad(
                "sequential.concentration",
                "must be a finite number > 0",
            ));
        }
        if self.sequential.look_interval_ns <= 0 {
            return Err(bad("sequential.look_interval", "must be positive"));
        }
        for m in ALL_METRICS {
            let mc = self.metrics.get(m);
            let key = metric_key(m);
            let is_err = m == MetricName::ErrorRate;
            if !is_err && (mc.allowed_increase_pp.is_some() || mc.allowed_decrease_pp.is_some()) {
                return Err(bad(
                    &format!("metrics.{key}.allowed_increase_pp"),
                    "percentage-point limits apply to error_rate only",
                ));
            }
            if !mc.enabled {
                continue;
            }
            if mc.group.is_empty() {
                return Err(bad(&format!("metrics.{key}.group"), "must not be empty"));
            }
            let check = |name: &str, v: Option<f64>, max: f64| -> Result<(), ConfigError> {
                match v {
                    Some(x) if x.is_finite() && x >= 0.0 && x <= max => Ok(()),
                    Some(_) if max == f64::MAX => Err(bad(
                        &format!("metrics.{key}.{name}"),
                        "must be a finite number ≥ 0",
                    )),
                    Some(_) => Err(bad(
                        &format!("metrics.{key}.{name}"),
                        &format!("must be in [0, {max}]"),
                    )),
                    None => Err(bad(
                        &format!("metrics.{key}.{name}"),
                        "required for this metric's direction",
                    )),
                }
            };
            let (inc, dec, inc_name, dec_name) = if is_err && self.method != Method::Kayenta {
                (
                    mc.allowed_increase_pp,
                    mc.allowed_decrease_pp,
                    "allowed_increase_pp",
                    "allowed_decrease_pp",
                )
            } else {
                (
                    mc.allowed_increase,
                    mc.allowed_decrease,
                    "allowed_increase",
                    "allowed_decrease",
                )
            };
            let max_dec = if is_err && self.method != Method::Kayenta {
                100.0
            } else {
                1.0
            };
            if mc.direction.checks_increase() {
                check(inc_name, inc, f64::MAX)?;
            }
            if mc.direction.checks_decrease() {
                check(dec_name, dec, max_dec)?;
            }
            if is_err {
                if let Some(r) = mc.allowed_increase {
                    check("allowed_increase", Some(r), f64::MAX)?;
                }
                if let Some(r) = mc.allowed_decrease {
                    check("allowed_decrease", Some(r), 1.0)?;
                }
            }
        }
        Ok(())
    }

    /// Checks `[sequential] look_interval` against what is known only once the data is read:
    /// the window (a look longer than the window is never taken) and the series bucket (looks
    /// are whole buckets, so the interval must be a multiple of it). Only for
    /// `method = "sequential"`.
    pub fn check_looks(
        &self,
        window_ns: i64,
        bucket_ns: i64,
        path: &str,
    ) -> Result<(), ConfigError> {
        if self.method != Method::Sequential {
            return Ok(());
        }
        let look = self.sequential.look_interval_ns;
        let bad = |message: String| ConfigError::Invalid {
            path: path.to_string(),
            key: "sequential.look_interval".into(),
            message,
        };
        if bucket_ns <= 0 || look % bucket_ns != 0 {
            return Err(bad(format!(
                "{} is not a whole number of series buckets ({}, --bucket-seconds)",
                fmt_interval(look),
                fmt_interval(bucket_ns)
            )));
        }
        if look > window_ns {
            return Err(bad(format!(
                "{} is longer than the analysed window ({}): there would be no look",
                fmt_interval(look),
                fmt_interval(window_ns)
            )));
        }
        Ok(())
    }

    /// Effective weight (percent) of every group used by an enabled metric: the configured
    /// weight, or an equal share of what the configured weights leave of 100 (Kayenta's rule).
    pub fn effective_weights(&self) -> BTreeMap<String, f64> {
        let used: std::collections::BTreeSet<String> = ALL_METRICS
            .iter()
            .map(|&m| self.metrics.get(m))
            .filter(|m| m.enabled)
            .map(|m| m.group.clone())
            .chain(
                self.metric_analysis
                    .groups()
                    .filter(|_| self.metric_analysis.enabled)
                    .cloned(),
            )
            .collect();
        let configured: f64 = self.group_weights.values().sum();
        let unweighted = used
            .iter()
            .filter(|g| !self.group_weights.contains_key(*g))
            .count();
        let share = if unweighted > 0 {
            ((100.0 - configured) / unweighted as f64).max(0.0)
        } else {
            0.0
        };
        used.into_iter()
            .map(|g| {
                let w = self.group_weights.get(&g).copied().unwrap_or(share);
                (g, w)
            })
            .collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    preset: Option<String>,
    method: Option<Method>,
    alpha: Option<f64>,
    power: Option<f64>,
    levels: Option<Vec<GroupLevel>>,
    evidence: Option<RawEvidence>,
    scoring: Option<RawScoring>,
    groups: Option<BTreeMap<String, f64>>,
    kayenta: Option<RawKayenta>,
    metrics: Option<RawMetrics>,
    metric_analysis: Option<RawMetricAnalysis>,
    sequential: Option<RawSequential>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSequential {
    look_interval: Option<String>,
    traffic_split: Option<f64>,
    traffic_split_tolerance: Option<f64>,
    concentration: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvidence {
    min_requests: Option<u64>,
    min_total_requests: Option<u64>,
    min_decided_fraction: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScoring {
    pass_threshold: Option<f64>,
    marginal_threshold: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKayenta {
    tolerance: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    error_rate: Option<RawMetric>,
    latency_p50: Option<RawMetric>,
    latency_p90: Option<RawMetric>,
    latency_p99: Option<RawMetric>,
    latency_p999: Option<RawMetric>,
    latency_shift: Option<RawMetric>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetric {
    enabled: Option<bool>,
    group: Option<String>,
    critical: Option<bool>,
    direction: Option<Direction>,
    allowed_increase: Option<f64>,
    allowed_decrease: Option<f64>,
    allowed_increase_pp: Option<f64>,
    allowed_decrease_pp: Option<f64>,
    combine: Option<Combine>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_load_and_validate() {
        for p in PRESETS {
            let c = AnalysisConfig::preset(p).unwrap();
            c.validate(p).unwrap();
            let from_toml =
                AnalysisConfig::from_toml_str(&format!("preset = \"{p}\"\n"), p).unwrap();
            assert_eq!(from_toml, c);
        }
        assert!(matches!(
            AnalysisConfig::preset("nope"),
            Err(ConfigError::UnknownPreset(_))
        ));
        let k = AnalysisConfig::preset("kayenta").unwrap();
        assert_eq!(k.method, Method::Kayenta);
        assert!((k.confidence() - 0.98).abs() < 1e-12);
        let s = AnalysisConfig::preset("seed-simple").unwrap();
        assert_eq!(s.metrics.error_rate.allowed_increase_pp, Some(10.0));
        assert_eq!(s.metrics.latency_p99.allowed_increase, Some(0.20));
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let text = "alpha = 0.05\n\n[metrics.latency_p99]\nallowed_increase = 0.3\nallowed_increse = 0.2\n";
        let err = AnalysisConfig::from_toml_str(text, "canary.toml").unwrap_err();
        match &err {
            ConfigError::Parse { line, message, .. } => {
                assert_eq!(*line, 5, "{err}");
                assert!(message.contains("allowed_increse"), "{message}");
            }
            other => panic!("expected a parse error, got {other}"),
        }
        let shown = err.to_string();
        assert!(shown.starts_with("canary.toml:5:"), "{shown}");

        let err = AnalysisConfig::from_toml_str("alhpa = 0.1\n", "c.toml").unwrap_err();
        assert!(err.to_string().contains("c.toml:1:") && err.to_string().contains("alhpa"));
    }

    #[test]
    fn wrong_type_and_range_are_errors() {
        let err = AnalysisConfig::from_toml_str("alpha = \"x\"\n", "c.toml").unwrap_err();
        assert!(matches!(err, ConfigError::Parse { line: 1, .. }), "{err}");
        let err = AnalysisConfig::from_toml_str("alpha = 0.7\n", "c.toml").unwrap_err();
        assert!(err.to_string().contains("alpha"), "{err}");
        let err = AnalysisConfig::from_toml_str(
            "[metrics.latency_p50]\nallowed_increase_pp = 1.0\n",
            "c.toml",
        )
        .unwrap_err();
        assert!(err.to_string().contains("metrics.latency_p50"), "{err}");
    }

    #[test]
    fn overrides_merge_onto_preset() {
        let c = AnalysisConfig::from_toml_str(
            "preset = \"default\"\nlevels = [\"route\", \"operation\"]\n[metrics.latency_p999]\nenabled = true\n[groups]\nerrors = 70\n",
            "x.toml",
        )
        .unwrap();
        assert!(c.metrics.latency_p999.enabled);
        assert_eq!(c.metrics.latency_p999.allowed_increase, Some(0.30));
        assert_eq!(c.levels.len(), 2);
        let w = c.effective_weights();
        assert_eq!(w["errors"], 70.0);
        assert_eq!(w["latency"], 30.0);
    }

    #[test]
    fn sequential_keys_parse_and_bad_values_name_the_key() {
        let c = AnalysisConfig::from_toml_str(
            "method = \"sequential\"\n[sequential]\nlook_interval = \"2m\"\ntraffic_split = 0.05\n",
            "s.toml",
        )
        .unwrap();
        assert_eq!(c.method, Method::Sequential);
        assert_eq!(c.sequential.look_interval_ns, 120 * NS_PER_SEC);
        assert_eq!(c.sequential.traffic_split, Some(0.05));
        let fixed = AnalysisConfig::from_toml_str("method = \"fixed\"\n", "f.toml").unwrap();
        assert_eq!(fixed.method, Method::Intervals);
        assert_eq!(
            fixed,
            AnalysisConfig {
                name: "f.toml".into(),
                ..AnalysisConfig::default_preset()
            }
        );
        for (text, key) in [
            (
                "[sequential]\ntraffic_split = 0\n",
                "sequential.traffic_split",
            ),
            (
                "[sequential]\ntraffic_split = 1.0\n",
                "sequential.traffic_split",
            ),
            (
                "[sequential]\ntraffic_split = -0.2\n",
                "sequential.traffic_split",
            ),
            (
                "[sequential]\nlook_interval = \"1 minute\"\n",
                "sequential.look_interval",
            ),
            (
                "[sequential]\nlook_interval = \"0m\"\n",
                "sequential.look_interval",
            ),
            (
                "[sequential]\nconcentration = 0\n",
                "sequential.concentration",
            ),
            (
                "[sequential]\ntraffic_split_tolerance = 1\n",
                "sequential.traffic_split_tolerance",
            ),
        ] {
            let err = AnalysisConfig::from_toml_str(text, "s.toml").unwrap_err();
            assert!(
                matches!(&err, ConfigError::Invalid { key: k, .. } if k == key),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn looks_must_fit_the_window_and_the_bucket() {
        let mut c = AnalysisConfig::default_preset();
        c.sequential.look_interval_ns = 90 * NS_PER_SEC;
        // Not checked for the fixed method.
        c.check_looks(60 * NS_PER_SEC, 60 * NS_PER_SEC, "c")
            .unwrap();
        c.method = Method::Sequential;
        let err = c
            .check_looks(600 * NS_PER_SEC, 60 * NS_PER_SEC, "c")
            .unwrap_err();
        assert!(
            err.to_string().contains("sequential.look_interval"),
            "{err}"
        );
        assert!(err.to_string().contains("1m"), "{err}");
        c.sequential.look_interval_ns = 20 * 60 * NS_PER_SEC;
        let err = c
            .check_looks(600 * NS_PER_SEC, 60 * NS_PER_SEC, "c")
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("longer than the analysed window (10m)"),
            "{err}"
        );
        c.sequential.look_interval_ns = 120 * NS_PER_SEC;
        c.check_looks(600 * NS_PER_SEC, 60 * NS_PER_SEC, "c")
            .unwrap();
    }

    #[test]
    fn sequential_example_file_parses() {
        let text = include_str!("../../examples/sequential-canary.toml");
        let c = AnalysisConfig::from_toml_str(text, "examples/sequential-canary.toml").unwrap();
        assert_eq!(c.method, Method::Sequential);
        assert_eq!(c.sequential.traffic_split, Some(0.05));
        assert_eq!(c.sequential.look_interval_ns, 60 * NS_PER_SEC);
    }

    #[test]
    fn example_file_parses() {
        let text = include_str!("../../examples/canary.toml");
        let c = AnalysisConfig::from_toml_str(text, "examples/canary.toml").unwrap();
        assert_eq!(c.method, Method::Intervals);
    }
}
