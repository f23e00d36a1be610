//! What a backtest returns: the outcome, when and at which step it was decided, time to
//! detect, exposure, every step and every measurement (`backtest.json`, schema
//! `docs/backtest.schema.json`).

use crate::model::comparison::{Selector, Window};
use serde::Serialize;

/// Version of the `backtest.json` layout.
pub const BACKTEST_SCHEMA_VERSION: u32 = 1;

/// How the replay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every step passed: the canary reached 100%.
    Promoted,
    /// A step's analysis failed (or errored): the canary was rolled back.
    RolledBack,
    /// The recording ended first, or an analysis was inconclusive (the rollout paused).
    Incomplete,
}

impl Outcome {
    /// `promoted`, `rolled_back`, `incomplete`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Promoted => "promoted",
            Outcome::RolledBack => "rolled_back",
            Outcome::Incomplete => "incomplete",
        }
    }
}

/// The result of one measurement (Argo Rollouts' measurement phases).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The gate passed.
    Successful,
    /// The gate failed.
    Failed,
    /// Neither (an analysis gate's `continue` with `on_continue = "inconclusive"`).
    Inconclusive,
    /// No measurement could be taken (no canary requests in the window).
    Error,
}

/// Canary requests and errors served (after thinning).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Exposure {
    /// Canary requests served from the rollout's start to the decision (or the end of the
    /// replay when nothing was decided).
    pub canary_requests: u64,
    /// Of those, errors.
    pub canary_errors: u64,
}

/// One measurement of one gate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    /// When it was taken (the end of the data it saw), RFC 3339.
    pub time: String,
    /// The same, ns since the epoch.
    pub time_unix_nano: i64,
    /// Step number, 1-based.
    pub step: usize,
    /// Canary weight of the step, percent.
    pub weight: f64,
    /// Gate name.
    pub gate: String,
    /// The gate's value: the analysis score (0–100) or the metric's value; null on error.
    pub value: Option<f64>,
    /// The threshold it was held against: the analysis's rollback score (`marginal_threshold`;
    /// the verdict also rolls back on any critical failure) or the metric gate's `max`.
    pub threshold: Option<f64>,
    /// The measurement's phase.
    pub outcome: Phase,
    /// Verdict and drivers, or the metric, or why there was no measurement.
    pub detail: String,
    /// Start of the data the measurement saw, RFC 3339.
    pub window_start: String,
    /// Canary requests (after thinning) in that data.
    pub canary_requests: u64,
    /// Baseline requests in that data.
    pub baseline_requests: u64,
    /// The level α the analysis gate judged this measurement at: the analysis's `alpha`, or
    /// its share under the gate's `alpha_spending`; absent for metric gates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
}

/// One step as replayed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    /// Step number, 1-based.
    pub step: usize,
    /// Canary weight, percent.
    pub weight: f64,
    /// `analysis`, `pause` or `promotion`.
    pub kind: String,
    /// When the step started, RFC 3339.
    pub started_at: String,
    /// When it ended (passed, failed, or the replay stopped), RFC 3339.
    pub ended_at: String,
    /// Canary share of the recorded requests over the step's span (before thinning).
    pub recorded_share: Option<f64>,
    /// Probability with which each canary trace was kept.
    pub keep_probability: f64,
    /// Canary share of the requests after thinning, up to `ended_at`.
    pub thinned_share: Option<f64>,
    /// `successful`, `failed`, `inconclusive`, `error`, `paused`, `undecided` (advanced past
    /// without a decision), `passed_at_horizon` (undecided at its planned end without evidence
    /// of harm, `on_undecided = "pass_at_horizon"`) or `not_reached_end` (the data ended first).
    pub result: String,
}

/// Everything `canalyst backtest` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestReport {
    /// [`BACKTEST_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// canalyst's version.
    pub tool_version: String,
    /// RFC 3339 (`SOURCE_DATE_EPOCH` when set).
    pub generated_at: String,
    /// Policy name.
    pub policy: String,
    /// Thinning seed.
    pub seed: u64,
    /// Baseline side.
    pub baseline: Selector,
    /// Canary side.
    pub canary: Selector,
    /// The recording's window (both sides serving traffic).
    pub window: Window,
    /// When the replayed rollout started (the first whole bucket of the window), RFC 3339.
    pub rollout_start: String,
    /// Promoted, rolled back or incomplete.
    pub outcome: Outcome,
    /// One sentence: why.
    pub reason: String,
    /// When it was decided (promoted or rolled back), RFC 3339; null when incomplete.
    pub decided_at: Option<String>,
    /// The same, ns since the epoch.
    pub decided_at_unix_nano: Option<i64>,
    /// Step (1-based) at which it was decided; for incomplete, the step the replay stopped in.
    pub decided_step: Option<usize>,
    /// That step's weight, percent.
    pub decided_weight: Option<f64>,
    /// `--onset`, RFC 3339.
    pub onset: Option<String>,
    /// Rolled back at or after the onset: seconds from the onset to the decision; else null.
    pub time_to_detect_s: Option<f64>,
    /// Rolled back before the onset (a false rollback of a then-healthy canary).
    pub rolled_back_before_onset: bool,
    /// Canary traffic served before the decision.
    pub exposure: Exposure,
    /// The steps replayed.
    pub steps: Vec<StepRecord>,
    /// Every measurement, in time order.
    pub timeline: Vec<TimelineEntry>,
    /// Definitions of the figures, for readers.
    pub definitions: Vec<String>,
}

impl BacktestReport {
    /// The exit code of the outcome: 0 promoted, 1 rolled back, 3 incomplete.
    pub fn exit_code(&self) -> i32 {
        match self.outcome {
            Outcome::Promoted => 0,
            Outcome::RolledBack => 1,
            Outcome::Incomplete => 3,
        }
    }

    /// A few lines for stdout.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "backtest: {}  policy {}  seed {}\n",
            self.outcome.name().to_uppercase(),
            self.policy,
            self.seed
        );
        s.push_str(&format!("{}\n", self.reason));
        if let Some(t) = self.time_to_detect_s {
            s.push_str(&format!("time to detect: {t:.0} s after the onset\n"));
        }
        if self.rolled_back_before_onset {
            s.push_str("rolled back BEFORE the onset (a false rollback)\n");
        }
        s.push_str(&format!(
            "exposure: {} canary requests, {} errors before the decision\n",
            self.exposure.canary_requests, self.exposure.canary_errors
        ));
        for st in &self.steps {
            s.push_str(&format!(
                "  step {} at {}% ({}): {}, {} .. {}, thinned share {}\n",
                st.step,
                st.weight,
                st.kind,
                st.result,
                st.started_at,
                st.ended_at,
                st.thinned_share
                    .map(|x| format!("{:.1}%", x * 100.0))
                    .unwrap_or_else(|| "-".into())
            ));
        }
        s
    }
}
