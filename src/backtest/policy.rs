//! Rollout policies: the steps a canary goes through, the gates that judge it and the rules
//! that turn measurements into a step's outcome (`docs/backtest.md` lists every key).
//!
//! Two shapes, as the two controllers define them:
//! - **Argo Rollouts** (`[[steps]]` + `[measurement]`): each step sets a canary weight and
//!   either pauses or runs an inline analysis of `count` measurements every `interval` after
//!   `initial_delay`; `failure_limit`, `inconclusive_limit`, `consecutive_error_limit` and
//!   `consecutive_success_limit` decide the analysis as Argo's `AnalysisRun` does (Argo
//!   Rollouts documentation, "Analysis & Progressive Delivery", and
//!   `analysis/analysis.go` `assessMetricStatus`).
//! - **Flagger** (`[flagger]`): every `interval` the gates are checked; a passing check moves the
//!   weight up by `step_weight` (or to the next of `step_weights`) until `max_weight`, after which
//!   a passing check promotes; failed checks are counted and the canary is rolled back when
//!   they reach `threshold` (Flagger documentation, "Canary analysis" / "Deployment
//!   strategies").

use crate::analysis::config::{fmt_interval, parse_interval, AnalysisConfig, Method};
use crate::analysis::config_error::ConfigError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Built-in policies.
pub const PRESETS: &[&str] = &["progressive", "progressive-simple"];

/// A policy file's errors: the file (or preset) and the dotted key concerned.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read (and the name is no preset).
    #[error(
        "{path}: cannot read: {source} (and it is not a preset: progressive, progressive-simple)"
    )]
    Io {
        /// File path.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// TOML syntax, an unknown key, a value out of range: the same line- and key-naming
    /// errors as an analysis configuration's.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A gate's analysis configuration failed to load.
    #[error("{path}: {key}: {source}")]
    Analysis {
        /// Policy file path or preset name.
        path: String,
        /// Dotted key, e.g. `gates[0].analysis`.
        key: String,
        /// The configuration's own error.
        source: ConfigError,
    },
}

/// Argo Rollouts' measurement rules for one analysis (one `AnalysisTemplate` metric).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measurement {
    /// Time between measurements, ns.
    pub interval_ns: i64,
    /// Wait after the step starts before the first interval, ns.
    pub initial_delay_ns: i64,
    /// Failed measurements tolerated; the analysis fails at `failure_limit + 1`. Negative:
    /// failures never end the analysis (Argo's `-1`).
    pub failure_limit: i64,
    /// Inconclusive measurements tolerated; one more makes the analysis inconclusive (the
    /// rollout pauses: the backtest ends `incomplete`).
    pub inconclusive_limit: u32,
    /// Consecutive measurement errors tolerated; one more makes the analysis an error (the
    /// rollout aborts: rolled back).
    pub consecutive_error_limit: u32,
    /// When positive, this many consecutive successes end the analysis successfully.
    pub consecutive_success_limit: u32,
    /// What a step does when its analysis ends neither passed nor failed (`on_undecided`).
    pub on_undecided: OnUndecided,
}

/// What a step does when its analysis ends **undecided**: more inconclusive measurements than
/// `inconclusive_limit` (Argo's Inconclusive `AnalysisRun`), or its `count` reached while a
/// gate's last measurement was `pending` (an analysis verdict `continue` under
/// `on_continue = "pending"`: not enough evidence yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnUndecided {
    /// Argo Rollouts: an Inconclusive AnalysisRun pauses the rollout for a person to decide
    /// (the backtest ends `incomplete`). The default, and what imported Argo policies get.
    Pause,
    /// The undecided analysis counts as failed: the canary is rolled back (Flagger's reading:
    /// a check that does not pass counts towards the failed checks).
    Rollback,
    /// The rollout moves to the next step at the next weight, where the evidence keeps
    /// accumulating (with a `window = "rollout"` gate); only the last analysed step must end
    /// decided: an undecided last step pauses, so nothing is promoted without a pass.
    Advance,
    /// As [`OnUndecided::Advance`] before the last analysed step; the last analysed step,
    /// undecided when its planned measurements are all taken (the *horizon*), passes when
    /// every gate's last measurement showed **no evidence of harm** (no comparison failed or
    /// leaned to failure at the measurement's level, and the canary reached the analysis's
    /// `min_total_requests`), and pauses otherwise. The classic outcome of a planned analysis
    /// that ends without a rejection; what it could not rule out is written beside it.
    PassAtHorizon,
}

impl OnUndecided {
    /// The key's value as written in a policy.
    pub fn name(self) -> &'static str {
        match self {
            OnUndecided::Pause => "pause",
            OnUndecided::Rollback => "rollback",
            OnUndecided::Advance => "advance",
            OnUndecided::PassAtHorizon => "pass_at_horizon",
        }
    }
}

/// What an analysis gate's verdict `continue` (not enough evidence yet) counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnContinue {
    /// A successful measurement (a step of only `continue` passes: no evidence needed).
    Success,
    /// Argo's Inconclusive measurement, counted against `inconclusive_limit`.
    Inconclusive,
    /// Not a decision yet: shown as `inconclusive`, counted against no limit; a step whose
    /// analysis reaches its count with this gate's last measurement pending ends undecided
    /// (`[measurement] on_undecided`).
    Pending,
}

/// How an analysis gate spends its analysis's α over the rollout's planned measurements
/// (`alpha_spending`). A fixed-sample analysis is a level-α test of "canary = baseline" at one
/// look; repeated at every measurement on growing data its chance of ever rolling back an
/// unchanged canary grows with the number of looks. Spending gives measurement `j` of `J`
/// planned a level `α_j` with `Σ α_j = α`, so by the union bound (Bonferroni over looks) the
/// chance that any measurement of the whole replay rolls back an unchanged canary is at most
/// α, whatever the correlation between looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlphaSpending {
    /// Every measurement at the analysis's α (not calibrated over repeated looks).
    None,
    /// `α/J` at each of the `J` planned measurements.
    Bonferroni,
    /// Haybittle–Peto: every interim measurement at `α/50` (Haybittle 1971, Peto et al. 1976:
    /// 0.001 at α = 0.05), the last planned one at what is left, `α·(1 − (J−1)/50)`: early
    /// looks stop only on overwhelming evidence, the planned horizon keeps almost all of α.
    HaybittlePeto,
}

/// Share of α each interim measurement gets under [`AlphaSpending::HaybittlePeto`].
pub const HAYBITTLE_PETO_INTERIM: f64 = 1.0 / 50.0;

impl AlphaSpending {
    /// The key's value as written in a policy.
    pub fn name(self) -> &'static str {
        match self {
            AlphaSpending::None => "none",
            AlphaSpending::Bonferroni => "bonferroni",
            AlphaSpending::HaybittlePeto => "haybittle-peto",
        }
    }

    /// The level of measurement `j` (1-based) of `planned`, the gate's α being `alpha`.
    /// Measurements beyond the plan get 0 (cannot happen in an Argo replay).
    pub fn level(self, alpha: f64, j: u32, planned: u32) -> f64 {
        match self {
            AlphaSpending::None => alpha,
            _ if j == 0 || j > planned => 0.0,
            AlphaSpending::Bonferroni => alpha / planned as f64,
            AlphaSpending::HaybittlePeto if j < planned => alpha * HAYBITTLE_PETO_INTERIM,
            AlphaSpending::HaybittlePeto => {
                alpha * (1.0 - (planned - 1) as f64 * HAYBITTLE_PETO_INTERIM)
            }
        }
    }
}

impl Default for Measurement {
    /// Argo's defaults: failureLimit 0, inconclusiveLimit 0, consecutiveErrorLimit 4,
    /// consecutiveSuccessLimit 0 (off); canalyst's interval of one minute, no delay.
    fn default() -> Self {
        Self {
            interval_ns: 60 * NS,
            initial_delay_ns: 0,
            failure_limit: 0,
            inconclusive_limit: 0,
            consecutive_error_limit: 4,
            consecutive_success_limit: 0,
            on_undecided: OnUndecided::Pause,
        }
    }
}

/// What a step does at its weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
    /// Argo's `analysis` step: `count` measurements, one every interval after the delay.
    Analysis {
        /// Number of measurements.
        count: u32,
    },
    /// Argo's `pause` step with a duration: traffic flows, nothing is judged.
    Pause {
        /// How long, ns.
        duration_ns: i64,
    },
    /// The last step at weight 100: reaching it is the promotion (nothing left to compare).
    Promote,
}

/// One step of an Argo-shaped policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Canary share of requests in percent (0 < weight ≤ 100).
    pub weight: f64,
    /// Analysis, pause or promotion.
    pub kind: StepKind,
}

/// Flagger's canary analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct Flagger {
    /// Time between checks, ns (also the trailing window of gates with `window = "interval"`).
    pub interval_ns: i64,
    /// Failed checks at which the canary is rolled back.
    pub threshold: u32,
    /// The weights in order (from `step_weight`/`max_weight` or `step_weights`), percent.
    pub weights: Vec<f64>,
}

/// Which data a gate judges at a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateWindow {
    /// Everything since the current step started (Argo; cumulative within a step).
    Step,
    /// The trailing duration, ns (crossing step boundaries; each bucket thinned at its own
    /// step's weight).
    Trailing(i64),
    /// Everything since the rollout started (each bucket thinned at its own step's weight):
    /// evidence accumulates across steps.
    Rollout,
}

/// A single-number gate on the thinned canary alone (as an Argo `successCondition` on a
/// Prometheus query would be).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdMetric {
    /// Error requests / requests.
    ErrorRate,
    /// Median duration, ms.
    LatencyP50,
    /// 90th-percentile duration, ms.
    LatencyP90,
    /// 99th-percentile duration, ms.
    LatencyP99,
}

impl ThresholdMetric {
    /// Name as in the policy file and the timeline.
    pub fn name(self) -> &'static str {
        match self {
            ThresholdMetric::ErrorRate => "error_rate",
            ThresholdMetric::LatencyP50 => "latency_p50",
            ThresholdMetric::LatencyP90 => "latency_p90",
            ThresholdMetric::LatencyP99 => "latency_p99",
        }
    }
}

/// What a gate computes.
#[derive(Debug, Clone)]
pub enum GateKind {
    /// canalyst's analysis of canary vs baseline; its verdict is the measurement.
    Analysis {
        /// The configuration (method already overridden).
        config: Box<AnalysisConfig>,
        /// What a `continue` verdict counts as.
        on_continue: OnContinue,
        /// How the analysis's α is spread over the rollout's planned measurements.
        alpha_spending: AlphaSpending,
    },
    /// The canary's value of `metric`: failed when above `fail_above`, else successful when
    /// ≤ `max`, else (both given: Argo's band between `successCondition` and
    /// `failureCondition`) inconclusive.
    Threshold {
        /// The metric.
        metric: ThresholdMetric,
        /// Largest successful value (Argo `successCondition: result <= max`); without it,
        /// every value not failed is successful.
        max: Option<f64>,
        /// Values above this fail (Argo `failureCondition: result > fail_above`); without it,
        /// every value above `max` fails.
        fail_above: Option<f64>,
        /// Only this route (`service route` as in the report), else every route.
        route: Option<String>,
        /// Fewer canary requests in the window make the measurement an error.
        min_requests: u64,
    },
}

/// One gate: a named measurement taken at every look.
#[derive(Debug, Clone)]
pub struct Gate {
    /// Name in the timeline.
    pub name: String,
    /// What it computes.
    pub kind: GateKind,
    /// Which data it judges.
    pub window: GateWindow,
}

/// How the policy moves through its weights.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Argo Rollouts canary steps with inline analyses.
    Argo {
        /// The steps in order.
        steps: Vec<Step>,
        /// The measurement rules of every analysis step.
        measurement: Measurement,
    },
    /// Flagger's stepwise analysis.
    Flagger(Flagger),
}

/// A validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// File path or preset name.
    pub name: String,
    /// Steps and counting rules.
    pub schedule: Schedule,
    /// Gates, in file order.
    pub gates: Vec<Gate>,
    /// How far (absolute share, 0–1) a weight may exceed the recorded canary share before the
    /// step is refused.
    pub share_tolerance: f64,
}

const NS: i64 = 1_000_000_000;

/// The `progressive` preset's text (also `examples/policies/progressive.toml`).
pub const PROGRESSIVE_TOML: &str = include_str!("../../examples/policies/progressive.toml");
/// The `progressive-simple` preset's text (also `examples/policies/progressive-simple.toml`).
pub const PROGRESSIVE_SIMPLE_TOML: &str =
    include_str!("../../examples/policies/progressive-simple.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    name: Option<String>,
    share_tolerance: Option<f64>,
    measurement: Option<RawMeasurement>,
    #[serde(default)]
    steps: Vec<RawStep>,
    flagger: Option<RawFlagger>,
    #[serde(default)]
    gates: Vec<RawGate>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMeasurement {
    interval: Option<String>,
    initial_delay: Option<String>,
    failure_limit: Option<i64>,
    inconclusive_limit: Option<u32>,
    consecutive_error_limit: Option<u32>,
    consecutive_success_limit: Option<u32>,
    on_undecided: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    weight: f64,
    analysis: Option<String>,
    count: Option<u32>,
    pause: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlagger {
    interval: Option<String>,
    threshold: Option<u32>,
    step_weight: Option<f64>,
    step_weights: Option<Vec<f64>>,
    max_weight: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGate {
    name: Option<String>,
    analysis: Option<String>,
    method: Option<Method>,
    on_continue: Option<String>,
    metric: Option<ThresholdMetric>,
    max: Option<f64>,
    fail_above: Option<f64>,
    route: Option<String>,
    min_requests: Option<u64>,
    window: Option<String>,
    alpha_spending: Option<String>,
}

impl Policy {
    /// A preset by name, or a TOML file. `default_analysis` is the configuration of gates that
    /// name none (the command line's `--config`/`--preset`).
    pub fn load(spec: &str, default_analysis: &AnalysisConfig) -> Result<Self, PolicyError> {
        match spec {
            "progressive" => {
                Self::from_toml_str(PROGRESSIVE_TOML, "progressive", None, default_analysis)
            }
            "progressive-simple" => Self::from_toml_str(
                PROGRESSIVE_SIMPLE_TOML,
                "progressive-simple",
                None,
                default_analysis,
            ),
            path => {
                let p = Path::new(path);
                let text = std::fs::read_to_string(p).map_err(|source| PolicyError::Io {
                    path: path.to_string(),
                    source,
                })?;
                Self::from_toml_str(&text, path, p.parent(), default_analysis)
            }
        }
    }

    /// Parses and validates a policy. `path` names it in errors; `dir` resolves gate
    /// configuration files named relatively (the policy file's directory).
    pub fn from_toml_str(
        text: &str,
        path: &str,
        dir: Option<&Path>,
        default_analysis: &AnalysisConfig,
    ) -> Result<Self, PolicyError> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_string(),
            line: e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(0),
            message: e.message().trim().to_string(),
        })?;
        let bad = |key: &str, message: String| {
            PolicyError::Config(ConfigError::Invalid {
                path: path.to_string(),
                key: key.to_string(),
                message,
            })
        };
        let share_tolerance = raw.share_tolerance.unwrap_or(0.02);
        if !(0.0..0.5).contains(&share_tolerance) {
            return Err(bad(
                "share_tolerance",
                format!("{share_tolerance} is not in [0, 0.5)"),
            ));
        }
        let schedule = match (raw.flagger, raw.steps.is_empty()) {
            (Some(_), false) => {
                return Err(bad(
                    "flagger",
                    "a policy has either [[steps]] (Argo Rollouts) or [flagger], not both".into(),
                ))
            }
            (None, true) => {
                return Err(bad(
                    "steps",
                    "no steps: give [[steps]] (Argo Rollouts) or [flagger]".into(),
                ))
            }
            (Some(f), true) => {
                if raw.measurement.is_some() {
                    return Err(bad(
                        "measurement",
                        "[measurement] is Argo Rollouts' and does not apply to [flagger] (its interval and threshold are in [flagger])".into(),
                    ));
                }
                Schedule::Flagger(flagger(f, &bad)?)
            }
            (None, false) => {
                let measurement = measurement(raw.measurement.unwrap_or_default(), &bad)?;
                let steps = steps(&raw.steps, &measurement, &bad)?;
                Schedule::Argo { steps, measurement }
            }
        };
        if raw.gates.is_empty() {
            return Err(bad("gates", "no gates: give at least one [[gates]]".into()));
        }
        let interval_ns = match &schedule {
            Schedule::Argo { measurement, .. } => measurement.interval_ns,
            Schedule::Flagger(f) => f.interval_ns,
        };
        let gates = raw
            .gates
            .into_iter()
            .enumerate()
            .map(|(i, g)| gate(i, g, path, dir, default_analysis, interval_ns, &bad))
            .collect::<Result<Vec<_>, _>>()?;
        let planned = planned_measurements(&schedule);
        for (i, g) in gates.iter().enumerate() {
            let GateKind::Analysis { alpha_spending, .. } = g.kind else {
                continue;
            };
            let key = format!("gates[{i}].alpha_spending");
            match (alpha_spending, planned) {
                (AlphaSpending::None, _) => {}
                (_, None) => return Err(bad(
                    &key,
                    "a [flagger] policy has no planned number of checks (the weight moves on passes), so α cannot be spread over them".into(),
                )),
                (AlphaSpending::HaybittlePeto, Some(j))
                    if j.saturating_sub(1) as f64 * HAYBITTLE_PETO_INTERIM >= 1.0 =>
                {
                    return Err(bad(
                        &key,
                        format!("{j} planned measurements: Haybittle–Peto gives each interim one α/50, so it needs at most 50 (use a longer measurement.interval, or \"bonferroni\")"),
                    ))
                }
                _ => {}
            }
        }
        let mut names: Vec<&str> = gates.iter().map(|g| g.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(bad("gates", format!("two gates are named {:?}", w[0])));
        }
        Ok(Policy {
            name: raw.name.unwrap_or_else(|| path.to_string()),
            schedule,
            gates,
            share_tolerance,
        })
    }

    /// The number of measurements the policy plans over the whole rollout (the sum of its
    /// analysis steps' counts): what an analysis gate's `alpha_spending` divides α over.
    /// `None` for Flagger policies, whose number of checks depends on their results.
    pub fn planned_measurements(&self) -> Option<u32> {
        planned_measurements(&self.schedule)
    }

    /// The weights the policy analyses at (promotion steps left out), in order.
    pub fn analysed_weights(&self) -> Vec<f64> {
        match &self.schedule {
            Schedule::Argo { steps, .. } => steps
                .iter()
                .filter(|s| s.kind != StepKind::Promote)
                .map(|s| s.weight)
                .collect(),
            Schedule::Flagger(f) => f.weights.clone(),
        }
    }

    /// The smallest time unit the policy uses (interval, delays, pauses), ns: the request
    /// summaries' bucket width must divide it.
    pub fn durations_ns(&self) -> Vec<(String, i64)> {
        let mut d = Vec::new();
        match &self.schedule {
            Schedule::Argo { steps, measurement } => {
                d.push(("measurement.interval".to_string(), measurement.interval_ns));
                d.push((
                    "measurement.initial_delay".to_string(),
                    measurement.initial_delay_ns,
                ));
                for (i, s) in steps.iter().enumerate() {
                    if let StepKind::Pause { duration_ns } = s.kind {
                        d.push((format!("steps[{i}].pause"), duration_ns));
                    }
                }
            }
            Schedule::Flagger(f) => d.push(("flagger.interval".to_string(), f.interval_ns)),
        }
        for (i, g) in self.gates.iter().enumerate() {
            if let GateWindow::Trailing(w) = g.window {
                d.push((format!("gates[{i}].window"), w));
            }
        }
        d
    }
}

fn planned_measurements(schedule: &Schedule) -> Option<u32> {
    match schedule {
        Schedule::Argo { steps, .. } => Some(
            steps
                .iter()
                .map(|s| match s.kind {
                    StepKind::Analysis { count } => count,
                    _ => 0,
                })
                .sum(),
        ),
        Schedule::Flagger(_) => None,
    }
}

type Bad<'a> = dyn Fn(&str, String) -> PolicyError + 'a;

/// A duration key: `"90s"`, `"10m"`, `"1h"`, or `"0s"` where zero is allowed.
fn duration(v: &str, key: &str, zero_ok: bool, bad: &Bad) -> Result<i64, PolicyError> {
    let t = v.trim();
    if zero_ok && matches!(t, "0" | "0s" | "0m" | "0h") {
        return Ok(0);
    }
    parse_interval(t).ok_or_else(|| {
        bad(
            key,
            format!("{v:?} is not a duration (a positive whole number and s, m or h, e.g. \"90s\", \"10m\")"),
        )
    })
}

fn measurement(m: RawMeasurement, bad: &Bad) -> Result<Measurement, PolicyError> {
    let d = Measurement::default();
    let interval_ns = match &m.interval {
        Some(v) => duration(v, "measurement.interval", false, bad)?,
        None => d.interval_ns,
    };
    let initial_delay_ns = match &m.initial_delay {
        Some(v) => duration(v, "measurement.initial_delay", true, bad)?,
        None => 0,
    };
    let failure_limit = m.failure_limit.unwrap_or(d.failure_limit);
    if failure_limit < -1 {
        return Err(bad(
            "measurement.failure_limit",
            format!("{failure_limit}: use -1 to let failures never end the analysis"),
        ));
    }
    let consecutive_success_limit = m.consecutive_success_limit.unwrap_or(0);
    if failure_limit < 0 && consecutive_success_limit == 0 {
        return Err(bad(
            "measurement.failure_limit",
            "-1 needs consecutive_success_limit > 0 (else nothing could end the analysis but its count, and no failure would count)".into(),
        ));
    }
    let on_undecided = match m.on_undecided.as_deref() {
        None | Some("pause") => OnUndecided::Pause,
        Some("rollback") => OnUndecided::Rollback,
        Some("advance") => OnUndecided::Advance,
        Some("pass_at_horizon") => OnUndecided::PassAtHorizon,
        Some(other) => {
            return Err(bad(
                "measurement.on_undecided",
                format!(
                "{other:?}: expected \"pause\", \"rollback\", \"advance\" or \"pass_at_horizon\""
            ),
            ))
        }
    };
    Ok(Measurement {
        on_undecided,
        interval_ns,
        initial_delay_ns,
        failure_limit,
        inconclusive_limit: m.inconclusive_limit.unwrap_or(d.inconclusive_limit),
        consecutive_error_limit: m
            .consecutive_error_limit
            .unwrap_or(d.consecutive_error_limit),
        consecutive_success_limit,
    })
}

fn check_weight(w: f64, key: &str, bad: &Bad) -> Result<(), PolicyError> {
    if !(w > 0.0 && w <= 100.0) {
        return Err(bad(key, format!("{w} is not a percentage in (0, 100]")));
    }
    Ok(())
}

fn steps(raw: &[RawStep], m: &Measurement, bad: &Bad) -> Result<Vec<Step>, PolicyError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut previous = 0.0;
    for (i, s) in raw.iter().enumerate() {
        let key = |k: &str| format!("steps[{i}].{k}");
        check_weight(s.weight, &key("weight"), bad)?;
        if s.weight <= previous {
            return Err(bad(
                &key("weight"),
                format!(
                    "{} does not increase (the step before is at {previous}): weights must increase",
                    s.weight
                ),
            ));
        }
        previous = s.weight;
        let last = i + 1 == raw.len();
        let kind = match (&s.analysis, &s.pause, s.count) {
            (Some(_), Some(_), _) => {
                return Err(bad(
                    &key("pause"),
                    "a step has analysis or pause, not both".into(),
                ))
            }
            (None, Some(p), c) => {
                if c.is_some() {
                    return Err(bad(
                        &key("count"),
                        "count belongs to an analysis step".into(),
                    ));
                }
                StepKind::Pause {
                    duration_ns: duration(p, &key("pause"), false, bad)?,
                }
            }
            (a, None, c) if a.is_some() || c.is_some() => {
                let count = match (a, c) {
                    (_, Some(c)) => c,
                    (Some(a), None) => {
                        let d = duration(a, &key("analysis"), false, bad)?;
                        let run = d - m.initial_delay_ns;
                        if run <= 0 || run % m.interval_ns != 0 {
                            return Err(bad(
                                &key("analysis"),
                                format!(
                                    "{a} is not initial_delay ({}) plus a whole number of intervals ({})",
                                    fmt_interval(m.initial_delay_ns.max(0)),
                                    fmt_interval(m.interval_ns)
                                ),
                            ));
                        }
                        (run / m.interval_ns) as u32
                    }
                    (None, None) => unreachable!("guarded above"),
                };
                if count == 0 {
                    return Err(bad(
                        &key("count"),
                        "an analysis needs at least one measurement".into(),
                    ));
                }
                if s.weight >= 100.0 {
                    return Err(bad(
                        &key("analysis"),
                        "at weight 100 there is no stable traffic left to compare with: end with a plain { weight = 100 } step (the promotion)".into(),
                    ));
                }
                StepKind::Analysis { count }
            }
            _ => {
                if s.weight >= 100.0 && last {
                    StepKind::Promote
                } else {
                    return Err(bad(
                        &key("analysis"),
                        "a step below 100% needs analysis = \"DURATION\", count = N or pause = \"DURATION\"; only the last step may be a plain weight = 100".into(),
                    ));
                }
            }
        };
        out.push(Step {
            weight: s.weight,
            kind,
        });
    }
    Ok(out)
}

fn flagger(f: RawFlagger, bad: &Bad) -> Result<Flagger, PolicyError> {
    let interval_ns = match &f.interval {
        Some(v) => duration(v, "flagger.interval", false, bad)?,
        None => 60 * NS,
    };
    let threshold = f.threshold.unwrap_or(5);
    if threshold == 0 {
        return Err(bad("flagger.threshold", "must be at least 1".into()));
    }
    let weights = match (f.step_weights, f.step_weight) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "flagger.step_weights",
                "give step_weight (with max_weight) or step_weights, not both".into(),
            ))
        }
        (Some(ws), None) => {
            if f.max_weight.is_some() {
                return Err(bad(
                    "flagger.max_weight",
                    "with step_weights the last weight is the maximum; leave max_weight out".into(),
                ));
            }
            ws
        }
        (None, Some(step)) => {
            let max = f.max_weight.unwrap_or(50.0);
            check_weight(step, "flagger.step_weight", bad)?;
            check_weight(max, "flagger.max_weight", bad)?;
            let mut ws = Vec::new();
            let mut w = step;
            // Flagger caps the last increment at maxWeight.
            while w < max - 1e-9 {
                ws.push(w);
                w += step;
            }
            ws.push(max);
            ws
        }
        (None, None) => {
            return Err(bad(
                "flagger.step_weight",
                "give step_weight (with max_weight) or step_weights".into(),
            ))
        }
    };
    if weights.is_empty() {
        return Err(bad("flagger.step_weights", "no weights".into()));
    }
    let mut previous = 0.0;
    for (i, w) in weights.iter().enumerate() {
        let key = format!("flagger.step_weights[{i}]");
        check_weight(*w, &key, bad)?;
        if *w >= 100.0 {
            return Err(bad(&key, "at 100 there is no stable traffic left to compare with; promotion follows the last weight".into()));
        }
        if *w <= previous {
            return Err(bad(
                &key,
                format!("{w} does not increase (the weight before is {previous}): weights must increase"),
            ));
        }
        previous = *w;
    }
    Ok(Flagger {
        interval_ns,
        threshold,
        weights,
    })
}

#[allow(clippy::too_many_arguments)]
fn gate(
    i: usize,
    g: RawGate,
    path: &str,
    dir: Option<&Path>,
    default_analysis: &AnalysisConfig,
    interval_ns: i64,
    bad: &Bad,
) -> Result<Gate, PolicyError> {
    let key = |k: &str| format!("gates[{i}].{k}");
    let window = match g.window.as_deref() {
        None | Some("step") => GateWindow::Step,
        Some("interval") => GateWindow::Trailing(interval_ns),
        Some("rollout") => GateWindow::Rollout,
        Some(v) => GateWindow::Trailing(duration(v, &key("window"), false, bad)?),
    };
    let kind = match g.metric {
        Some(metric) => {
            for (k, given) in [
                ("analysis", g.analysis.is_some()),
                ("method", g.method.is_some()),
                ("on_continue", g.on_continue.is_some()),
                ("alpha_spending", g.alpha_spending.is_some()),
            ] {
                if given {
                    return Err(bad(
                        &key(k),
                        format!(
                            "belongs to an analysis gate, not to a metric = \"{}\" gate",
                            metric.name()
                        ),
                    ));
                }
            }
            if g.max.is_none() && g.fail_above.is_none() {
                return Err(bad(
                    &key("max"),
                    "a metric gate needs max (success at or below), fail_above (failure above) or both".into(),
                ));
            }
            for (k, v) in [("max", g.max), ("fail_above", g.fail_above)] {
                if let Some(v) = v {
                    if !v.is_finite() || v < 0.0 {
                        return Err(bad(&key(k), format!("{v} is not a non-negative number")));
                    }
                }
            }
            if let (Some(m), Some(f)) = (g.max, g.fail_above) {
                if f < m {
                    return Err(bad(
                        &key("fail_above"),
                        format!("{f} is below max = {m}: values in between would be both failed and successful"),
                    ));
                }
            }
            GateKind::Threshold {
                metric,
                max: g.max,
                fail_above: g.fail_above,
                route: g.route,
                min_requests: g.min_requests.unwrap_or(1).max(1),
            }
        }
        None => {
            for (k, given) in [
                ("max", g.max.is_some()),
                ("fail_above", g.fail_above.is_some()),
                ("route", g.route.is_some()),
                ("min_requests", g.min_requests.is_some()),
            ] {
                if given {
                    return Err(bad(
                        &key(k),
                        "belongs to a metric gate (metric = ...)".into(),
                    ));
                }
            }
            let wrap = |source| PolicyError::Analysis {
                path: path.to_string(),
                key: key("analysis"),
                source,
            };
            let mut config = match g.analysis.as_deref() {
                None => default_analysis.clone(),
                Some(name) if crate::analysis::config::PRESETS.contains(&name) => {
                    AnalysisConfig::preset(name).map_err(wrap)?
                }
                Some(file) => {
                    let p = match dir {
                        Some(d) if Path::new(file).is_relative() => d.join(file),
                        _ => PathBuf::from(file),
                    };
                    AnalysisConfig::from_file(&p).map_err(wrap)?
                }
            };
            if let Some(m) = g.method {
                config.method = m;
            }
            // A gate is asked at every measurement. `latency_shift` has no anytime-valid
            // test: its fixed-sample Mann–Whitney test, repeated look after look, fails
            // unchanged canaries far more often than α (session 7: A/A recordings rolled back
            // at 5%). Sequential gates leave it out so that every comparison able to fail is
            // anytime-valid (docs/backtest.md, "Repeated looks").
            if config.method == Method::Sequential {
                config.metrics.latency_shift.enabled = false;
            }
            let on_continue = match g.on_continue.as_deref() {
                None | Some("success") => OnContinue::Success,
                Some("inconclusive") => OnContinue::Inconclusive,
                Some("pending") => OnContinue::Pending,
                Some(other) => {
                    return Err(bad(
                        &key("on_continue"),
                        format!("{other:?}: expected \"success\", \"inconclusive\" or \"pending\""),
                    ))
                }
            };
            let alpha_spending = match g.alpha_spending.as_deref() {
                None | Some("none") => AlphaSpending::None,
                Some("bonferroni") => AlphaSpending::Bonferroni,
                Some("haybittle-peto") => AlphaSpending::HaybittlePeto,
                Some(other) => {
                    return Err(bad(
                        &key("alpha_spending"),
                        format!(
                            "{other:?}: expected \"none\", \"bonferroni\" or \"haybittle-peto\""
                        ),
                    ))
                }
            };
            if alpha_spending != AlphaSpending::None && config.method == Method::Sequential {
                return Err(bad(
                    &key("alpha_spending"),
                    "a sequential gate is anytime-valid over all its looks already; alpha_spending is for fixed-sample analyses".into(),
                ));
            }
            GateKind::Analysis {
                config: Box::new(config),
                on_continue,
                alpha_spending,
            }
        }
    };
    Ok(Gate {
        name: g.name.unwrap_or_else(|| match &kind {
            GateKind::Analysis { config, .. } => format!("analysis:{}", config.name),
            GateKind::Threshold { metric, .. } => metric.name().to_string(),
        }),
        kind,
        window,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Policy, PolicyError> {
        Policy::from_toml_str(text, "p.toml", None, &AnalysisConfig::default_preset())
    }

    #[test]
    fn sequential_gates_leave_out_the_fixed_sample_latency_shift() {
        let gate = |method: &str| {
            let p = parse(&format!(
                "name = \"p\"\n[[steps]]\nweight = 5\nanalysis = \"10m\"\n[[steps]]\nweight = 100\n\
                 [[gates]]\nanalysis = \"default\"\nmethod = \"{method}\"\n"
            ))
            .unwrap();
            let GateKind::Analysis { config, .. } = &p.gates[0].kind else {
                panic!("analysis gate")
            };
            (config.method, config.metrics.latency_shift.enabled)
        };
        assert_eq!(gate("sequential"), (Method::Sequential, false));
        assert_eq!(gate("intervals"), (Method::Intervals, true));
    }

    #[test]
    fn alpha_spending_spends_exactly_alpha_over_the_planned_measurements() {
        for planned in [1u32, 7, 35, 50] {
            for spending in [AlphaSpending::Bonferroni, AlphaSpending::HaybittlePeto] {
                let total: f64 = (1..=planned)
                    .map(|j| spending.level(0.05, j, planned))
                    .sum();
                assert!(
                    (total - 0.05).abs() < 1e-12,
                    "{spending:?} over {planned}: {total}"
                );
                assert_eq!(spending.level(0.05, planned + 1, planned), 0.0);
            }
        }
        // Haybittle–Peto at α = 0.05 over 7: 0.001 at each interim, 0.044 at the horizon.
        let hp = AlphaSpending::HaybittlePeto;
        assert!((hp.level(0.05, 1, 7) - 0.001).abs() < 1e-15);
        assert!((hp.level(0.05, 7, 7) - 0.044).abs() < 1e-15);
        assert!((AlphaSpending::Bonferroni.level(0.05, 3, 7) - 0.05 / 7.0).abs() < 1e-15);
        assert_eq!(AlphaSpending::None.level(0.05, 99, 7), 0.05);
    }

    #[test]
    fn alpha_spending_is_refused_where_it_cannot_apply_naming_the_key() {
        let argo = |count: u32, gate: &str| {
            format!("[[steps]]\nweight = 5\ncount = {count}\n[[steps]]\nweight = 100\n[[gates]]\n{gate}\n")
        };
        let err = |text: &str| parse(text).unwrap_err().to_string();
        let e = err(&argo(51, "alpha_spending = \"haybittle-peto\""));
        assert!(
            e.contains("gates[0].alpha_spending") && e.contains("51 planned"),
            "{e}"
        );
        assert!(parse(&argo(50, "alpha_spending = \"haybittle-peto\"")).is_ok());
        assert!(parse(&argo(51, "alpha_spending = \"bonferroni\"")).is_ok());
        let e = err(&argo(5, "alpha_spending = \"pocock\""));
        assert!(
            e.contains("gates[0].alpha_spending") && e.contains("\"pocock\""),
            "{e}"
        );
        let e = err(&argo(
            5,
            "method = \"sequential\"\nalpha_spending = \"bonferroni\"",
        ));
        assert!(
            e.contains("gates[0].alpha_spending") && e.contains("anytime-valid"),
            "{e}"
        );
        let e = err(&argo(
            5,
            "metric = \"error_rate\"\nmax = 0.1\nalpha_spending = \"bonferroni\"",
        ));
        assert!(
            e.contains("gates[0].alpha_spending") && e.contains("analysis gate"),
            "{e}"
        );
        let e = err("[flagger]\nstep_weight = 10\n[[gates]]\nalpha_spending = \"bonferroni\"\n");
        assert!(
            e.contains("gates[0].alpha_spending") && e.contains("flagger"),
            "{e}"
        );
        let e = err("[measurement]\non_undecided = \"pass\"\n[[steps]]\nweight = 5\ncount = 1\n[[gates]]\nanalysis = \"default\"\n");
        assert!(e.contains("pass_at_horizon"), "{e}");
    }

    #[test]
    fn presets_load_with_their_documented_steps() {
        let p = Policy::load("progressive", &AnalysisConfig::default_preset()).unwrap();
        let Schedule::Argo { steps, measurement } = &p.schedule else {
            panic!("argo")
        };
        let shape: Vec<_> = steps.iter().map(|s| (s.weight, s.kind.clone())).collect();
        assert_eq!(
            shape,
            vec![
                (5.0, StepKind::Analysis { count: 2 }),
                (25.0, StepKind::Analysis { count: 2 }),
                (50.0, StepKind::Analysis { count: 3 }),
                (100.0, StepKind::Promote),
            ]
        );
        assert_eq!(measurement.interval_ns, 300 * NS);
        assert_eq!(measurement.on_undecided, OnUndecided::PassAtHorizon);
        assert_eq!(p.planned_measurements(), Some(7));
        let GateKind::Analysis {
            config,
            alpha_spending,
            ..
        } = &p.gates[0].kind
        else {
            panic!("analysis gate")
        };
        assert_eq!(config.name, "default");
        assert_eq!(*alpha_spending, AlphaSpending::HaybittlePeto);
        let s = Policy::load("progressive-simple", &AnalysisConfig::default_preset()).unwrap();
        let GateKind::Analysis { config, .. } = &s.gates[0].kind else {
            panic!("analysis gate")
        };
        assert_eq!(config.name, "seed-simple");
        assert_eq!(p.analysed_weights(), vec![5.0, 25.0, 50.0]);
    }

    #[test]
    fn every_example_policy_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/policies");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                Policy::load(p.to_str().unwrap(), &AnalysisConfig::default_preset())
                    .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                n += 1;
            }
        }
        assert!(n >= 4, "{n} example policies");
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = parse("[[steps]]\nweight = 5\nanalysys = \"10m\"\n").unwrap_err();
        let m = e.to_string();
        assert!(m.contains("p.toml:3") && m.contains("analysys"), "{m}");
    }

    #[test]
    fn weights_must_increase() {
        let e = parse(
            "[[steps]]\nweight = 25\nanalysis = \"5m\"\n[[steps]]\nweight = 5\nanalysis = \"5m\"\n[[gates]]\nanalysis = \"default\"\n",
        )
        .unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("steps[1].weight") && m.contains("does not increase"),
            "{m}"
        );
    }

    #[test]
    fn analysis_duration_must_be_whole_intervals() {
        let e = parse(
            "[measurement]\ninterval = \"2m\"\n[[steps]]\nweight = 5\nanalysis = \"5m\"\n[[gates]]\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("steps[0].analysis"), "{e}");
    }

    #[test]
    fn flagger_step_weight_builds_capped_weights() {
        let p = parse(
            "[flagger]\ninterval = \"1m\"\nthreshold = 3\nstep_weight = 20\nmax_weight = 50\n[[gates]]\nmetric = \"error_rate\"\nmax = 0.01\n",
        )
        .unwrap();
        let Schedule::Flagger(f) = &p.schedule else {
            panic!("flagger")
        };
        assert_eq!(f.weights, vec![20.0, 40.0, 50.0]);
        assert_eq!(f.threshold, 3);
        assert_eq!(p.gates[0].name, "error_rate");
    }

    #[test]
    fn steps_and_flagger_are_exclusive_and_gates_required() {
        let e =
            parse("[flagger]\nstep_weight = 10\n[[steps]]\nweight = 5\ncount = 3\n").unwrap_err();
        assert!(e.to_string().contains("flagger"), "{e}");
        let e = parse("[[steps]]\nweight = 5\ncount = 3\n").unwrap_err();
        assert!(e.to_string().contains("gates"), "{e}");
        let e = parse("[[steps]]\nweight = 5\ncount = 3\n[[gates]]\nmetric = \"error_rate\"\n")
            .unwrap_err();
        assert!(e.to_string().contains("gates[0].max"), "{e}");
    }

    #[test]
    fn analysis_at_full_weight_is_refused() {
        let e = parse("[[steps]]\nweight = 100\ncount = 3\n[[gates]]\n").unwrap_err();
        assert!(e.to_string().contains("steps[0].analysis"), "{e}");
    }
}
