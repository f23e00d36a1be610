//! The replay: walks a policy's steps through the recorded requests in time order, thins the
//! canary to each step's weight, takes the gates' measurements every interval and applies
//! Argo Rollouts' or Flagger's counting rules (see [`super::policy`]) to decide each step.
//!
//! Time is counted in whole buckets of the request summaries: the rollout starts at the first
//! whole bucket of the recording's window and the replay can look only up to the last whole
//! bucket (a partial last bucket would under-count both sides).

use super::outcome::{
    BacktestReport, Exposure, Outcome, Phase, StepRecord, TimelineEntry, BACKTEST_SCHEMA_VERSION,
};
use super::policy::{
    AlphaSpending, Gate, GateKind, GateWindow, Measurement, OnContinue, OnUndecided, Policy,
    Schedule, StepKind, ThresholdMetric,
};
use super::summary::{Counts, Summaries};
use crate::analysis::config::{fmt_interval, Method};
use crate::analysis::findings::Verdict;
use crate::model::quality::DataQuality;
use crate::model::requests::RequestLog;
use crate::model::time::format_rfc3339_seconds;
use crate::stats::quantile::quantile_type7;

/// Replay options besides the policy.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayOptions {
    /// Seed of the canary thinning.
    pub seed: u64,
    /// When the canary went bad, ns since the epoch (for time to detect).
    pub onset_unix_nano: Option<i64>,
    /// Summary bucket width, ns (every policy duration must be a multiple).
    pub bucket_ns: i64,
    /// RFC 3339 time written into the report and the analyses.
    pub generated_at: String,
}

/// Why a replay could not run; each names the policy key or the time concerned.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// A policy duration is not a whole number of summary buckets.
    #[error(
        "{policy}: {key}: {value} is not a whole number of {bucket} buckets (--bucket-seconds)"
    )]
    Bucket {
        /// Policy name.
        policy: String,
        /// Dotted key.
        key: String,
        /// The duration.
        value: String,
        /// The bucket width.
        bucket: String,
    },
    /// A gate names something the data or the policy cannot give it.
    #[error("{policy}: {key}: {message}")]
    Gate {
        /// Policy name.
        policy: String,
        /// Dotted key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// `--onset` lies outside the recording's window.
    #[error("--onset {onset} is outside the data ({start} .. {end})")]
    OnsetOutside {
        /// The onset, RFC 3339.
        onset: String,
        /// Window start, RFC 3339.
        start: String,
        /// Window end, RFC 3339.
        end: String,
    },
    /// The window holds no whole bucket.
    #[error("the data's window {start} .. {end} holds no whole {bucket} bucket to replay")]
    TooShort {
        /// Window start.
        start: String,
        /// Window end.
        end: String,
        /// Bucket width.
        bucket: String,
    },
    /// No canary request was recorded while a step ran.
    #[error("step {step} (weight {weight}%, {from} .. {to}): the recording has no canary request in this window; a replay can only thin recorded canary traffic")]
    NoCanary {
        /// Step, 1-based.
        step: usize,
        /// Weight, percent.
        weight: f64,
        /// Step start.
        from: String,
        /// Step end (or end of data).
        to: String,
    },
    /// A step's weight is above the canary share the recording has at that time.
    #[error("step {step} (weight {weight}%, {from} .. {to}): the recorded canary share is only {recorded:.1}% of {requests} requests (tolerance {tolerance:.1} points): a replay can only thin recorded canary traffic, not add to it")]
    WeightAboveRecorded {
        /// Step, 1-based.
        step: usize,
        /// Weight, percent.
        weight: f64,
        /// Step start.
        from: String,
        /// Step end (or end of data).
        to: String,
        /// Recorded share, percent.
        recorded: f64,
        /// Recorded requests of both sides.
        requests: u64,
        /// Allowed excess, percentage points.
        tolerance: f64,
    },
}

fn t(ns: i64) -> String {
    format_rfc3339_seconds(ns)
}

/// A stretch of buckets thinned at one keep probability.
#[derive(Debug, Clone, Copy)]
struct Segment {
    from: usize,
    to: usize,
    q: f64,
}

/// Argo's per-metric counters (`MetricResult`).
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    count: u32,
    failed: i64,
    inconclusive: u32,
    consecutive_error: u32,
    consecutive_success: u32,
    /// The last measurement was pending (a `continue` under `on_continue = "pending"`).
    last_pending: bool,
    /// The last measurement showed no evidence of harm ([`Measured::harmless`]).
    last_harmless: bool,
}

impl Counters {
    /// Records a measurement; `pending` marks an inconclusive one that counts against no limit.
    fn record(&mut self, p: Phase, pending: bool, harmless: bool) {
        self.count += 1;
        self.last_pending = pending;
        self.last_harmless = harmless;
        if pending {
            self.consecutive_error = 0;
            self.consecutive_success = 0;
            return;
        }
        match p {
            Phase::Successful => {
                self.consecutive_error = 0;
                self.consecutive_success += 1;
            }
            Phase::Failed => {
                self.failed += 1;
                self.consecutive_error = 0;
                self.consecutive_success = 0;
            }
            Phase::Inconclusive => {
                self.inconclusive += 1;
                self.consecutive_error = 0;
                self.consecutive_success = 0;
            }
            Phase::Error => {
                self.consecutive_error += 1;
                self.consecutive_success = 0;
            }
        }
    }

    /// Argo Rollouts' `assessMetricStatus`, in its order: failure limit, consecutive-success
    /// limit, inconclusive limit, consecutive-error limit, then the count.
    fn assess(&self, m: &Measurement, count: u32) -> Option<Phase> {
        if m.failure_limit >= 0 && self.failed > m.failure_limit {
            return Some(Phase::Failed);
        }
        if m.consecutive_success_limit > 0
            && self.consecutive_success >= m.consecutive_success_limit
        {
            return Some(Phase::Successful);
        }
        if self.inconclusive > m.inconclusive_limit {
            return Some(Phase::Inconclusive);
        }
        if self.consecutive_error > m.consecutive_error_limit {
            return Some(Phase::Error);
        }
        if self.count >= count && self.last_pending {
            // The analysis ended on "not enough evidence yet": undecided (`on_undecided`).
            return Some(Phase::Inconclusive);
        }
        if self.count >= count {
            // With a consecutive-success limit the count ending first means it was not met:
            // failed when it is the only limit, inconclusive when failures were limited too.
            return Some(if m.consecutive_success_limit == 0 {
                Phase::Successful
            } else if m.failure_limit < 0 {
                Phase::Failed
            } else {
                Phase::Inconclusive
            });
        }
        None
    }
}

/// How the replay ended.
struct Decision {
    outcome: Outcome,
    at_bucket: usize,
    step: Option<usize>,
    weight: Option<f64>,
    reason: String,
}

struct Replay<'a> {
    s: &'a Summaries,
    policy: &'a Policy,
    opts: &'a ReplayOptions,
    /// First bucket of the rollout.
    b0: usize,
    /// One past the last whole bucket.
    bend: usize,
    segments: Vec<Segment>,
    timeline: Vec<TimelineEntry>,
    steps: Vec<StepRecord>,
    /// Route index of each threshold gate with a route.
    gate_routes: Vec<Option<usize>>,
    /// Measurements taken so far by each gate over the whole rollout (for `alpha_spending`).
    taken: Vec<u32>,
    /// Planned measurements of the rollout ([`Policy::planned_measurements`]).
    planned: u32,
}

/// One measurement's phase, and whether it showed no evidence of harm: an analysis verdict
/// `continue` with no comparison failed or leaning to failure and at least the analysis's
/// `min_total_requests` canary requests (what `on_undecided = "pass_at_horizon"` needs).
#[derive(Debug, Clone, Copy)]
struct Measured {
    phase: Phase,
    harmless: bool,
}

/// Replays `log` through `policy`.
pub fn replay(
    log: &RequestLog,
    policy: &Policy,
    opts: &ReplayOptions,
) -> Result<BacktestReport, BacktestError> {
    let s = Summaries::build(log, opts.bucket_ns, opts.seed);
    replay_summaries(&s, policy, opts)
}

/// [`replay`] on summaries already built (with `opts.seed` and `opts.bucket_ns`): what a sweep
/// of many policies over one recording calls, so the requests are summarised once.
pub fn replay_summaries(
    s: &Summaries,
    policy: &Policy,
    opts: &ReplayOptions,
) -> Result<BacktestReport, BacktestError> {
    let bucket = opts.bucket_ns;
    for (key, d) in policy.durations_ns() {
        if d % bucket != 0 {
            return Err(BacktestError::Bucket {
                policy: policy.name.clone(),
                key,
                value: fmt_interval(d),
                bucket: fmt_interval(bucket),
            });
        }
    }
    let w = s.window;
    if let Some(o) = opts.onset_unix_nano {
        if o < w.start_unix_nano || o >= w.end_unix_nano {
            return Err(BacktestError::OnsetOutside {
                onset: t(o),
                start: t(w.start_unix_nano),
                end: t(w.end_unix_nano),
            });
        }
    }
    // The first whole bucket: a partial first bucket would under-count both sides.
    let b0 = if s.first_bucket_ns == w.start_unix_nano {
        0
    } else {
        1
    };
    let bend = s.bucket_index(w.end_unix_nano.div_euclid(bucket) * bucket);
    if bend <= b0 {
        return Err(BacktestError::TooShort {
            start: t(w.start_unix_nano),
            end: t(w.end_unix_nano),
            bucket: fmt_interval(bucket),
        });
    }
    let gate_routes = check_gates(policy, s)?;
    let mut r = Replay {
        s,
        policy,
        opts,
        b0,
        bend,
        segments: Vec::new(),
        timeline: Vec::new(),
        steps: Vec::new(),
        taken: vec![0; policy.gates.len()],
        planned: policy.planned_measurements().unwrap_or(0),
        gate_routes,
    };
    let decision = match &policy.schedule {
        Schedule::Argo { steps, measurement } => r.argo(steps, measurement)?,
        Schedule::Flagger(f) => r.flagger(f)?,
    };
    Ok(r.report(decision))
}

/// Gates checked against the data before the replay: routes exist; a sequential analysis's
/// looks fit the bucket and the shortest window it will see.
fn check_gates(policy: &Policy, s: &Summaries) -> Result<Vec<Option<usize>>, BacktestError> {
    let shortest = match &policy.schedule {
        Schedule::Argo { measurement, .. } => measurement.interval_ns,
        Schedule::Flagger(f) => f.interval_ns,
    };
    policy
        .gates
        .iter()
        .enumerate()
        .map(|(i, g)| match &g.kind {
            GateKind::Threshold { route: Some(name), .. } => {
                s.find_route(name).map(Some).ok_or_else(|| BacktestError::Gate {
                    policy: policy.name.clone(),
                    key: format!("gates[{i}].route"),
                    message: format!(
                        "no route {name:?} in the data (routes are written `service route`, e.g. {:?})",
                        s.routes
                            .first()
                            .map(|k| format!("{} {}", k.service, k.name))
                            .unwrap_or_default()
                    ),
                })
            }
            GateKind::Analysis { config, .. } if config.method == Method::Sequential => {
                let window = match g.window {
                    GateWindow::Step | GateWindow::Rollout => shortest,
                    GateWindow::Trailing(w) => w,
                };
                config
                    .check_looks(window, s.bucket_ns, &config.name)
                    .map(|_| None)
                    .map_err(|e| BacktestError::Gate {
                        policy: policy.name.clone(),
                        key: format!("gates[{i}].analysis"),
                        message: e.to_string(),
                    })
            }
            _ => Ok(None),
        })
        .collect()
}

impl Replay<'_> {
    fn time(&self, b: usize) -> i64 {
        self.s.bucket_time(b)
    }

    fn q_of(&self, b: usize) -> f64 {
        self.segments
            .iter()
            .rev()
            .find(|g| g.from <= b && b < g.to)
            .map(|g| g.q)
            .unwrap_or(0.0)
    }

    /// Keep probability of a step at `weight` over buckets `[from, to)`; refuses a weight above
    /// the recorded share (beyond the tolerance and three binomial standard errors).
    fn keep_probability(
        &self,
        step: usize,
        weight: f64,
        from: usize,
        to: usize,
    ) -> Result<(f64, f64), BacktestError> {
        let (base, can) = self.s.recorded(from, to);
        let (a, z) = (t(self.time(from)), t(self.time(to)));
        if can == 0 {
            return Err(BacktestError::NoCanary {
                step,
                weight,
                from: a,
                to: z,
            });
        }
        let n = (base + can) as f64;
        let share = can as f64 / n;
        let w = weight / 100.0;
        let slack = self
            .policy
            .share_tolerance
            .max(3.0 * (share * (1.0 - share) / n).sqrt());
        if w > share + slack {
            return Err(BacktestError::WeightAboveRecorded {
                step,
                weight,
                from: a,
                to: z,
                recorded: share * 100.0,
                requests: base + can,
                tolerance: slack * 100.0,
            });
        }
        // Thinned share q·C / (B + q·C) = w  ⇔  q = w/(1−w) · B/C.
        let q = if base == 0 {
            1.0
        } else {
            (w / (1.0 - w) * base as f64 / can as f64).min(1.0)
        };
        Ok((q, share))
    }

    fn thinned_share(&self, from: usize, to: usize) -> Option<f64> {
        let (mut base, mut can) = (0u64, 0u64);
        for b in from..to {
            base += self.s.baseline_count(b);
            can += self.s.canary_kept(b, None, self.q_of(b)).requests;
        }
        (base + can > 0).then(|| can as f64 / (base + can) as f64)
    }

    #[allow(clippy::too_many_arguments)]
    fn push_step(
        &mut self,
        step: usize,
        weight: f64,
        kind: &str,
        from: usize,
        to: usize,
        recorded_share: Option<f64>,
        q: f64,
        result: &str,
    ) {
        let thinned_share = if kind == "promotion" {
            None
        } else {
            self.thinned_share(from, to)
        };
        self.steps.push(StepRecord {
            step,
            weight,
            kind: kind.into(),
            started_at: t(self.time(from)),
            ended_at: t(self.time(to)),
            recorded_share,
            keep_probability: q,
            thinned_share,
            result: result.into(),
        });
    }

    /// Takes gate `gi`'s measurement at bucket boundary `at`, the current step having started
    /// at `step_from`.
    fn measure(
        &mut self,
        gi: usize,
        step: usize,
        weight: f64,
        step_from: usize,
        at: usize,
    ) -> Measured {
        let gate: &Gate = &self.policy.gates[gi];
        self.taken[gi] += 1;
        let mut harmless = false;
        let mut alpha = None;
        let from = match gate.window {
            GateWindow::Step => step_from,
            GateWindow::Trailing(w) => at
                .saturating_sub((w / self.s.bucket_ns) as usize)
                .max(self.b0),
            GateWindow::Rollout => self.b0,
        };
        let q = |b: usize| self.q_of(b);
        let (phase, value, threshold, detail, canary_n, base_n) = match &gate.kind {
            GateKind::Analysis {
                config,
                on_continue,
                alpha_spending,
            } => {
                let level = alpha_spending.level(config.alpha, self.taken[gi], self.planned);
                alpha = Some(level);
                let spent;
                let config: &crate::analysis::config::AnalysisConfig =
                    if *alpha_spending == AlphaSpending::None {
                        config
                    } else {
                        let mut c = (**config).clone();
                        c.alpha = level;
                        spent = c;
                        &spent
                    };
                // A sequential analysis reads durations look by look (its latency tests).
                let input =
                    self.s
                        .comparison_input(from, at, &q, config.method == Method::Sequential);
                let can: u64 = input.groups.iter().map(|g| g.canary.count).sum();
                let base: u64 = input.groups.iter().map(|g| g.baseline.count).sum();
                if can == 0 {
                    (
                        Phase::Error,
                        None,
                        None,
                        "no canary requests in the window".to_string(),
                        can,
                        base,
                    )
                } else {
                    let report = crate::analysis::analyze_at(
                        &input,
                        config,
                        DataQuality::default(),
                        self.opts.generated_at.clone(),
                    );
                    let (phase, verdict) = match report.verdict {
                        Verdict::Rollback => (Phase::Failed, "rollback"),
                        Verdict::Promote => (Phase::Successful, "promote"),
                        Verdict::Continue if *on_continue == OnContinue::Success => {
                            (Phase::Successful, "continue")
                        }
                        Verdict::Continue => (Phase::Inconclusive, "continue"),
                    };
                    let mut detail = format!("verdict {verdict}, {}", report.decided.describe());
                    if !report.drivers.is_empty() && phase != Phase::Successful {
                        detail.push_str(&format!("; drivers: {}", report.drivers.join(", ")));
                    }
                    if report.verdict == Verdict::Continue {
                        let (ok, text) = no_evidence_of_harm(&report, config, can);
                        harmless = ok;
                        detail.push_str(&text);
                    }
                    (
                        phase,
                        Some(report.score),
                        Some(config.marginal_threshold),
                        detail,
                        can,
                        base,
                    )
                }
            }
            GateKind::Threshold {
                metric,
                max,
                fail_above,
                min_requests,
                ..
            } => {
                // The timeline's threshold: the success bound, else the failure bound.
                let shown = max.or(*fail_above);
                let route = self.gate_routes[gi];
                let mut c = Counts::default();
                let mut base = 0;
                for b in from..at {
                    let k = self.s.canary_kept(b, route, q(b));
                    c.requests += k.requests;
                    c.errors += k.errors;
                    base += self.s.baseline_count(b);
                }
                if c.requests < *min_requests {
                    (
                        Phase::Error,
                        None,
                        shown,
                        format!("{} canary requests in the window, fewer than min_requests = {min_requests}", c.requests),
                        c.requests,
                        base,
                    )
                } else {
                    let value = match metric {
                        ThresholdMetric::ErrorRate => c.errors as f64 / c.requests as f64,
                        m => {
                            let d: Vec<f64> = self
                                .s
                                .canary_durations(from, at, route, &q)
                                .into_iter()
                                .map(|ns| ns as f64 / 1e6)
                                .collect();
                            let p = match m {
                                ThresholdMetric::LatencyP50 => 0.5,
                                ThresholdMetric::LatencyP90 => 0.9,
                                _ => 0.99,
                            };
                            quantile_type7(&d, p)
                        }
                    };
                    let phase = threshold_phase(value, *max, *fail_above);
                    let bounds = match (max, fail_above) {
                        (Some(m), Some(f)) => format!("max {m}, fail_above {f}"),
                        (Some(m), None) => format!("max {m}"),
                        (None, Some(f)) => format!("fail_above {f}"),
                        (None, None) => String::new(),
                    };
                    (
                        phase,
                        Some(value),
                        shown,
                        format!("canary {} = {value:.6} ({bounds})", metric.name()),
                        c.requests,
                        base,
                    )
                }
            }
        };
        self.timeline.push(TimelineEntry {
            time: t(self.time(at)),
            time_unix_nano: self.time(at),
            step,
            weight,
            gate: gate.name.clone(),
            value,
            threshold,
            outcome: phase,
            detail,
            window_start: t(self.time(from)),
            canary_requests: canary_n,
            baseline_requests: base_n,
            alpha,
        });
        Measured { phase, harmless }
    }

    fn argo(
        &mut self,
        steps: &[super::policy::Step],
        m: &Measurement,
    ) -> Result<Decision, BacktestError> {
        let bn = self.s.bucket_ns;
        let mut b = self.b0;
        // The last analysed step passed at its horizon without evidence of harm.
        let mut horizon = false;
        for (k, step) in steps.iter().enumerate() {
            let n = k + 1;
            match step.kind {
                StepKind::Promote => {
                    self.push_step(n, step.weight, "promotion", b, b, None, 1.0, "successful");
                    return Ok(Decision {
                        outcome: Outcome::Promoted,
                        at_bucket: b,
                        step: Some(n),
                        weight: Some(step.weight),
                        reason: if horizon {
                            format!(
                                "promoted: every step passed, the last analysed one at its planned horizon without evidence of harm (on_undecided = \"pass_at_horizon\"); step {n} sets the canary to {}%",
                                step.weight
                            )
                        } else {
                            format!(
                                "promoted: every step passed; step {n} sets the canary to {}%",
                                step.weight
                            )
                        },
                    });
                }
                StepKind::Pause { duration_ns } => {
                    let end = b + (duration_ns / bn) as usize;
                    let (q, share) =
                        self.keep_probability(n, step.weight, b, end.min(self.bend))?;
                    self.segments.push(Segment {
                        from: b,
                        to: end,
                        q,
                    });
                    if end > self.bend {
                        self.push_step(
                            n,
                            step.weight,
                            "pause",
                            b,
                            self.bend,
                            Some(share),
                            q,
                            "not_reached_end",
                        );
                        return Ok(self.data_ended(n, step.weight));
                    }
                    self.push_step(
                        n,
                        step.weight,
                        "pause",
                        b,
                        end,
                        Some(share),
                        q,
                        "successful",
                    );
                    b = end;
                }
                StepKind::Analysis { count } => {
                    let delay = (m.initial_delay_ns / bn) as usize;
                    let iv = (m.interval_ns / bn) as usize;
                    let end = b + delay + count as usize * iv;
                    let (q, share) =
                        self.keep_probability(n, step.weight, b, end.min(self.bend))?;
                    self.segments.push(Segment {
                        from: b,
                        to: end,
                        q,
                    });
                    let gates = self.policy.gates.len();
                    let mut counters = vec![Counters::default(); gates];
                    let mut done: Vec<Option<Phase>> = vec![None; gates];
                    let mut last = b;
                    // A gate ended undecided and the rollout advanced past it.
                    let mut undecided = false;
                    for j in 1..=count as usize {
                        let at = b + delay + j * iv;
                        if at > self.bend {
                            self.push_step(
                                n,
                                step.weight,
                                "analysis",
                                b,
                                self.bend,
                                Some(share),
                                q,
                                "not_reached_end",
                            );
                            return Ok(self.data_ended(n, step.weight));
                        }
                        last = at;
                        for gi in 0..gates {
                            if done[gi].is_some() {
                                continue;
                            }
                            let Measured { phase: p, harmless } =
                                self.measure(gi, n, step.weight, b, at);
                            let pending = p == Phase::Inconclusive
                                && matches!(
                                    self.policy.gates[gi].kind,
                                    GateKind::Analysis {
                                        on_continue: OnContinue::Pending,
                                        ..
                                    }
                                );
                            counters[gi].record(p, pending, harmless);
                            done[gi] = counters[gi].assess(m, count);
                            let name = &self.policy.gates[gi].name;
                            match done[gi] {
                                Some(Phase::Failed) | Some(Phase::Error) => {
                                    let what = if done[gi] == Some(Phase::Failed) {
                                        format!(
                                            "{} failed measurement(s), failure_limit {}",
                                            counters[gi].failed, m.failure_limit
                                        )
                                    } else {
                                        format!(
                                            "{} consecutive errors, consecutive_error_limit {}",
                                            counters[gi].consecutive_error,
                                            m.consecutive_error_limit
                                        )
                                    };
                                    let result = if done[gi] == Some(Phase::Failed) {
                                        "failed"
                                    } else {
                                        "error"
                                    };
                                    self.push_step(
                                        n,
                                        step.weight,
                                        "analysis",
                                        b,
                                        at,
                                        Some(share),
                                        q,
                                        result,
                                    );
                                    return Ok(Decision {
                                        outcome: Outcome::RolledBack,
                                        at_bucket: at,
                                        step: Some(n),
                                        weight: Some(step.weight),
                                        reason: format!("rolled back at step {n} ({}%) at {}: gate {name}: {what}", step.weight, t(self.time(at))),
                                    });
                                }
                                Some(Phase::Inconclusive) => {
                                    let why = if counters[gi].inconclusive > m.inconclusive_limit {
                                        format!(
                                            "{} inconclusive measurement(s), inconclusive_limit {}",
                                            counters[gi].inconclusive, m.inconclusive_limit
                                        )
                                    } else {
                                        format!("its last measurement of {count} was still pending (verdict continue)")
                                    };
                                    let last_analysed = !steps[k + 1..]
                                        .iter()
                                        .any(|s| matches!(s.kind, StepKind::Analysis { .. }));
                                    let advances = matches!(
                                        m.on_undecided,
                                        OnUndecided::Advance | OnUndecided::PassAtHorizon
                                    );
                                    if advances && !last_analysed {
                                        // Undecided here; the evidence accumulates at the next weight.
                                        done[gi] = Some(Phase::Successful);
                                        undecided = true;
                                        continue;
                                    }
                                    let at_horizon = counters[gi].count >= count
                                        && counters[gi].last_pending
                                        && counters[gi].inconclusive <= m.inconclusive_limit;
                                    if m.on_undecided == OnUndecided::PassAtHorizon
                                        && at_horizon
                                        && counters[gi].last_harmless
                                    {
                                        // The planned horizon reached without evidence of harm.
                                        done[gi] = Some(Phase::Successful);
                                        horizon = true;
                                        continue;
                                    }
                                    self.push_step(
                                        n,
                                        step.weight,
                                        "analysis",
                                        b,
                                        at,
                                        Some(share),
                                        q,
                                        "inconclusive",
                                    );
                                    if m.on_undecided == OnUndecided::Rollback {
                                        return Ok(Decision {
                                            outcome: Outcome::RolledBack,
                                            at_bucket: at,
                                            step: Some(n),
                                            weight: Some(step.weight),
                                            reason: format!("rolled back at step {n} ({}%) at {}: gate {name} undecided ({why}); on_undecided = \"rollback\"", step.weight, t(self.time(at))),
                                        });
                                    }
                                    let rule = match m.on_undecided {
                                        OnUndecided::Advance => "on_undecided = \"advance\" promotes only after a decided last analysed step; Argo pauses the rollout for a person to decide",
                                        OnUndecided::PassAtHorizon => "on_undecided = \"pass_at_horizon\" passes the planned horizon only without evidence of harm and with the analysis's min_total_requests; Argo pauses the rollout for a person to decide",
                                        _ => "Argo pauses the rollout for a person to decide",
                                    };
                                    return Ok(Decision {
                                        outcome: Outcome::Incomplete,
                                        at_bucket: at,
                                        step: Some(n),
                                        weight: Some(step.weight),
                                        reason: format!("paused at step {n} ({}%) at {}: gate {name} undecided ({why}); {rule}", step.weight, t(self.time(at))),
                                    });
                                }
                                _ => {}
                            }
                        }
                        if done.iter().all(|d| *d == Some(Phase::Successful)) {
                            break;
                        }
                    }
                    self.push_step(
                        n,
                        step.weight,
                        "analysis",
                        b,
                        last,
                        Some(share),
                        q,
                        if horizon {
                            "passed_at_horizon"
                        } else if undecided {
                            "undecided"
                        } else {
                            "successful"
                        },
                    );
                    // The step's thinning ends where the step does (early success included).
                    if let Some(sg) = self.segments.last_mut() {
                        sg.to = last;
                    }
                    b = last;
                }
            }
        }
        let last = steps.last().map(|s| s.weight);
        Ok(Decision {
            outcome: Outcome::Promoted,
            at_bucket: b,
            step: Some(steps.len()),
            weight: last,
            reason: format!(
                "promoted: all {} steps passed (after the last step the canary takes all traffic)",
                steps.len()
            ),
        })
    }

    fn flagger(&mut self, f: &super::policy::Flagger) -> Result<Decision, BacktestError> {
        let iv = (f.interval_ns / self.s.bucket_ns) as usize;
        let mut b = self.b0;
        let mut idx = 0;
        let mut weight_from = b;
        let mut failed = 0u32;
        let mut share_sum = (0.0, 0usize);
        loop {
            let n = idx + 1;
            let w = f.weights[idx];
            let at = b + iv;
            let close = |r: &mut Self, to: usize, result: &str, shares: (f64, usize)| {
                let q = r.q_of(weight_from.min(to.saturating_sub(1)));
                let share = (shares.1 > 0).then(|| shares.0 / shares.1 as f64);
                r.push_step(n, w, "analysis", weight_from, to, share, q, result);
            };
            if at > self.bend {
                close(
                    self,
                    self.bend.max(weight_from),
                    "not_reached_end",
                    share_sum,
                );
                return Ok(self.data_ended(n, w));
            }
            let (q, share) = self.keep_probability(n, w, b, at)?;
            share_sum = (share_sum.0 + share, share_sum.1 + 1);
            self.segments.push(Segment { from: b, to: at, q });
            let phases: Vec<Phase> = (0..self.policy.gates.len())
                .map(|gi| self.measure(gi, n, w, weight_from, at).phase)
                .collect();
            b = at;
            if phases
                .iter()
                .any(|p| matches!(p, Phase::Failed | Phase::Error))
            {
                failed += 1;
                if failed >= f.threshold {
                    close(self, at, "failed", share_sum);
                    return Ok(Decision {
                        outcome: Outcome::RolledBack,
                        at_bucket: at,
                        step: Some(n),
                        weight: Some(w),
                        reason: format!("rolled back at weight {w}% at {}: {failed} failed checks reached the threshold {}", t(self.time(at)), f.threshold),
                    });
                }
            } else if phases.iter().all(|p| *p == Phase::Successful) {
                close(self, at, "successful", share_sum);
                share_sum = (0.0, 0);
                if idx + 1 == f.weights.len() {
                    return Ok(Decision {
                        outcome: Outcome::Promoted,
                        at_bucket: at,
                        step: Some(n),
                        weight: Some(w),
                        reason: format!(
                            "promoted at {}: the check at the maximum weight {w}% passed",
                            t(self.time(at))
                        ),
                    });
                }
                idx += 1;
                weight_from = at;
            }
        }
    }

    fn data_ended(&self, step: usize, weight: f64) -> Decision {
        Decision {
            outcome: Outcome::Incomplete,
            at_bucket: self.bend,
            step: Some(step),
            weight: Some(weight),
            reason: format!(
                "incomplete: the recording ends at {} during step {step} ({weight}%)",
                t(self.time(self.bend))
            ),
        }
    }

    fn report(self, d: Decision) -> BacktestReport {
        let mut exposure = Exposure::default();
        for sg in &self.segments {
            for b in sg.from..sg.to.min(d.at_bucket) {
                let k = self.s.canary_kept(b, None, sg.q);
                exposure.canary_requests += k.requests;
                exposure.canary_errors += k.errors;
            }
        }
        let decided_ns = (d.outcome != Outcome::Incomplete).then(|| self.time(d.at_bucket));
        let onset = self.opts.onset_unix_nano;
        let (ttd, before) = match (d.outcome, decided_ns, onset) {
            (Outcome::RolledBack, Some(at), Some(o)) if at >= o => {
                (Some((at - o) as f64 / 1e9), false)
            }
            (Outcome::RolledBack, Some(_), Some(_)) => (None, true),
            _ => (None, false),
        };
        BacktestReport {
            schema_version: BACKTEST_SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            generated_at: self.opts.generated_at.clone(),
            policy: self.policy.name.clone(),
            seed: self.opts.seed,
            baseline: self.s.baseline.clone(),
            canary: self.s.canary.clone(),
            window: self.s.window,
            rollout_start: t(self.time(self.b0)),
            outcome: d.outcome,
            reason: d.reason,
            decided_at: decided_ns.map(t),
            decided_at_unix_nano: decided_ns,
            decided_step: d.step,
            decided_weight: d.weight,
            onset: onset.map(t),
            time_to_detect_s: ttd,
            rolled_back_before_onset: before,
            exposure,
            steps: self.steps,
            timeline: self.timeline,
            definitions: definitions(),
        }
    }
}

/// A threshold gate's measurement as Argo evaluates a metric with `successCondition`
/// (`value <= max`) and/or `failureCondition` (`value > fail_above`): the failure condition
/// first; with only a success condition, not met is failed; with only a failure condition, not
/// met is successful; with both and neither met, inconclusive (Argo Rollouts, "Analysis &
/// Progressive Delivery": "If both ... are unmet, the measurement is Inconclusive").
/// Whether an analysis with verdict `continue` showed **no evidence of harm** (no comparison
/// failed, no critical one leaned to failure, at least `min_total_requests` canary requests),
/// and the text the timeline gets: why not, or what the data could not rule out — per metric
/// the median and the largest minimum detectable effect (at the measurement's α and the
/// configuration's power) of the undecided comparisons, the type-II side of a pass at the
/// horizon made visible.
fn no_evidence_of_harm(
    report: &crate::analysis::findings::AnalysisReport,
    config: &crate::analysis::config::AnalysisConfig,
    canary_requests: u64,
) -> (bool, String) {
    use crate::analysis::findings::Classification;
    let cs = &report.comparisons;
    let ids = |pick: &dyn Fn(&crate::analysis::findings::Comparison) -> bool| -> Vec<&str> {
        cs.iter()
            .filter(|c| pick(c))
            .map(|c| c.id.as_str())
            .collect()
    };
    let failed = ids(&|c| c.classification.is_fail());
    let leaning = ids(&crate::analysis::verdict::leans_to_failure);
    if !failed.is_empty() || !leaning.is_empty() {
        let mut text = String::from("; evidence of harm:");
        if !failed.is_empty() {
            text.push_str(&format!(" failed {}", failed.join(", ")));
        }
        if !leaning.is_empty() {
            text.push_str(&format!(
                "{} critical leaning to failure (interval beyond the allowed change, not significant at this α) {}",
                if failed.is_empty() { "" } else { ";" },
                leaning.join(", ")
            ));
        }
        return (false, text);
    }
    if canary_requests < config.min_total_requests {
        return (
            false,
            format!(
                "; too little evidence to pass: {canary_requests} canary requests, min_total_requests {}",
                config.min_total_requests
            ),
        );
    }
    let mut text = String::from("; no evidence of harm");
    // Each metric once, in the order of first appearance (the comparisons are sorted by
    // severity, so one metric's comparisons are not adjacent).
    let mut metrics = Vec::new();
    for c in cs {
        if !metrics.contains(&c.metric) {
            metrics.push(c.metric);
        }
    }
    let mut parts = Vec::new();
    for m in metrics {
        let mut mdes: Vec<(f64, &str, &str)> = cs
            .iter()
            .filter(|c| c.metric == m && c.classification == Classification::Inconclusive)
            .filter_map(|c| {
                c.minimum_detectable_effect
                    .filter(|v| v.is_finite())
                    .map(|v| (v, c.id.as_str(), c.unit.as_str()))
            })
            .collect();
        if mdes.is_empty() {
            continue;
        }
        mdes.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (median, largest) = (mdes[mdes.len() / 2], mdes[mdes.len() - 1]);
        parts.push(format!(
            "{} median {} (largest {}, {})",
            crate::analysis::config::metric_key(m),
            crate::analysis::format::fmt_value(median.0, median.2),
            crate::analysis::format::fmt_value(largest.0, largest.2),
            largest.1
        ));
    }
    if !parts.is_empty() {
        text.push_str(&format!(
            "; undecided comparisons' minimum detectable effects (α {:.2e}, power {:.0}%): {}",
            config.alpha,
            config.power * 100.0,
            parts.join("; ")
        ));
    }
    (true, text)
}

fn threshold_phase(value: f64, max: Option<f64>, fail_above: Option<f64>) -> Phase {
    match (max, fail_above) {
        (_, Some(f)) if value > f => Phase::Failed,
        (Some(m), _) if value <= m => Phase::Successful,
        (Some(_), Some(_)) => Phase::Inconclusive,
        (Some(_), None) => Phase::Failed,
        (None, _) => Phase::Successful,
    }
}

/// The definitions written into every backtest report.
pub fn definitions() -> Vec<String> {
    vec![
        "Thinning: each step keeps a canary trace with probability q = w/(1−w) · B/C (w the step's weight, B and C the recorded baseline and canary requests over the step), using u = splitmix64(fnv1a64(trace id) xor splitmix64(seed)) / 2^64 < q, so whole traces are kept or dropped and the thinned canary share is w in expectation. Baseline traffic is kept whole.".into(),
        "A step is refused when its weight exceeds the recorded canary share by more than max(share_tolerance, 3 binomial standard errors).".into(),
        "Measurements: every interval after initial_delay, on the window the gate names (since the step started, or trailing); an analysis gate's verdict rollback is failed, promote successful, continue successful or inconclusive (on_continue); a metric gate is successful when the thinned canary's value ≤ max; no canary requests (or fewer than min_requests) is an error.".into(),
        "Argo Rollouts counting (analysis/analysis.go assessMetricStatus): failed > failure_limit fails the step (rollback); consecutive successes ≥ consecutive_success_limit (when > 0) pass it; inconclusive > inconclusive_limit pauses it (incomplete); consecutive errors > consecutive_error_limit abort it (rollback); otherwise the step passes when count measurements are taken.".into(),
        "Flagger counting: a check passing every gate moves to the next weight (after the last, promotion); a check failing a gate counts as failed; the canary is rolled back when failed checks reach threshold.".into(),
        "Time to detect: decided_at − onset for a rollback at or after the onset (Kohavi, Tang & Xu, Trustworthy Online Controlled Experiments, 2020, ch. 20 on safe deployment: time to detect and the exposure it implies are the costs a canary trades).".into(),
        "Exposure: canary requests (after thinning) and their errors from the rollout's start to the decision, or to the end of the replay when nothing was decided.".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::config::AnalysisConfig;
    use crate::backtest::summary::Summaries;
    use crate::model::comparison::Side;
    use crate::model::requests::RequestRow;

    const MIN: i64 = 60_000_000_000;

    /// Ten minutes, one route, 200 baseline and 200 canary requests a minute (each its own
    /// trace); canary requests are errors from minute `bad_from` on, every second one.
    fn log(bad_from: i64) -> RequestLog {
        let mut rows = Vec::new();
        let mut trace = 0u64;
        for m in 0..10 {
            for i in 0..200 {
                for side in [Side::Baseline, Side::Canary] {
                    trace += 1;
                    rows.push(RequestRow {
                        start_ns: m * MIN + i * 1_000_000,
                        duration_ns: 10_000_000,
                        route: 0,
                        side,
                        is_error: side == Side::Canary && m >= bad_from && i % 2 == 0,
                        weight: 1.0,
                        trace_hash: trace,
                    });
                }
            }
        }
        crate::backtest::summary::test_log(rows, 10)
    }

    fn run(text: &str, log: &RequestLog, onset: Option<i64>) -> BacktestReport {
        let p =
            Policy::from_toml_str(text, "t.toml", None, &AnalysisConfig::default_preset()).unwrap();
        let opts = ReplayOptions {
            seed: 1,
            onset_unix_nano: onset,
            bucket_ns: MIN,
            generated_at: "2026-01-01T00:00:00Z".into(),
        };
        replay(log, &p, &opts).unwrap()
    }

    const ERROR_GATE: &str = "[[gates]]\nmetric = \"error_rate\"\nmax = 0.05\n";

    #[test]
    fn failure_limit_counts_failed_measurements() {
        let r = run(
            &format!(
                "[measurement]\nfailure_limit = 2\n[[steps]]\nweight = 50\ncount = 8\n{ERROR_GATE}"
            ),
            &log(0),
            Some(0),
        );
        assert_eq!(r.outcome, Outcome::RolledBack);
        // The third failed measurement exceeds failure_limit 2: at minute 3.
        assert_eq!(r.timeline.len(), 3);
        assert_eq!(r.decided_at_unix_nano, Some(3 * MIN));
        assert_eq!(r.time_to_detect_s, Some(180.0));
        // Weight 50% of a 50% recording keeps every canary request: 3 × 200, half errors.
        assert_eq!(r.exposure.canary_requests, 600);
        assert_eq!(r.exposure.canary_errors, 300);
        assert_eq!(r.steps[0].keep_probability, 1.0);
    }

    #[test]
    fn consecutive_successes_end_a_step_early_and_the_next_starts_there() {
        let r = run(
            &format!("[measurement]\nconsecutive_success_limit = 2\nfailure_limit = -1\n[[steps]]\nweight = 10\ncount = 5\n[[steps]]\nweight = 20\ncount = 5\n[[steps]]\nweight = 100\n{ERROR_GATE}"),
            &log(99),
            None,
        );
        assert_eq!(r.outcome, Outcome::Promoted);
        assert_eq!(r.timeline.len(), 4);
        assert_eq!(r.steps[1].started_at, "1970-01-01T00:02:00Z");
        assert_eq!(r.decided_at_unix_nano, Some(4 * MIN));
        assert_eq!(r.decided_step, Some(3));
    }

    #[test]
    fn a_failure_before_the_onset_is_a_false_rollback() {
        let r = run(
            &format!("[[steps]]\nweight = 50\ncount = 3\n{ERROR_GATE}"),
            &log(0),
            Some(5 * MIN),
        );
        assert_eq!(r.outcome, Outcome::RolledBack);
        assert_eq!(r.time_to_detect_s, None);
        assert!(r.rolled_back_before_onset);
    }

    #[test]
    fn consecutive_errors_beyond_the_limit_abort() {
        // min_requests above anything in a window: every measurement is an error.
        let r = run(
            "[measurement]\nconsecutive_error_limit = 1\n[[steps]]\nweight = 50\ncount = 5\n[[gates]]\nmetric = \"error_rate\"\nmax = 1\nmin_requests = 1000000\n",
            &log(99),
            None,
        );
        assert_eq!(r.outcome, Outcome::RolledBack);
        assert_eq!(r.timeline.len(), 2);
        assert!(r
            .timeline
            .iter()
            .all(|m| m.outcome == Phase::Error && m.value.is_none()));
        assert_eq!(r.steps[0].result, "error");
    }

    #[test]
    fn inconclusive_beyond_the_limit_pauses_and_the_end_of_data_is_incomplete() {
        // With both limits, a count reached without the consecutive successes is inconclusive.
        let r = run(
            &format!("[measurement]\nconsecutive_success_limit = 3\nfailure_limit = 5\n[[steps]]\nweight = 50\ncount = 4\n{ERROR_GATE}"),
            &log(1),
            None,
        );
        assert_eq!(r.outcome, Outcome::Incomplete);
        assert_eq!(r.steps[0].result, "inconclusive");
        assert_eq!(r.decided_at, None);
        let r = run(
            &format!("[[steps]]\nweight = 50\ncount = 30\n{ERROR_GATE}"),
            &log(99),
            None,
        );
        assert_eq!(r.outcome, Outcome::Incomplete);
        assert!(r.reason.contains("recording ends"), "{}", r.reason);
        assert_eq!(r.timeline.len(), 10);
        assert_eq!(r.steps[0].result, "not_reached_end");
    }

    #[test]
    fn a_weight_above_the_recorded_share_is_refused_naming_step_and_time() {
        let p = Policy::from_toml_str(
            &format!("[[steps]]\nweight = 10\ncount = 2\n[[steps]]\nweight = 70\ncount = 2\n{ERROR_GATE}"),
            "t.toml",
            None,
            &AnalysisConfig::default_preset(),
        )
        .unwrap();
        let opts = ReplayOptions {
            seed: 1,
            onset_unix_nano: None,
            bucket_ns: MIN,
            generated_at: String::new(),
        };
        let e = replay(&log(99), &p, &opts).unwrap_err().to_string();
        assert!(
            e.contains("step 2 (weight 70%") && e.contains("1970-01-01T00:02:00Z"),
            "{e}"
        );
        assert!(e.contains("50.0%"), "{e}");
    }

    #[test]
    fn argo_band_between_success_and_failure_conditions_is_inconclusive() {
        assert_eq!(
            threshold_phase(0.01, Some(0.02), Some(0.05)),
            Phase::Successful
        );
        assert_eq!(
            threshold_phase(0.03, Some(0.02), Some(0.05)),
            Phase::Inconclusive
        );
        assert_eq!(threshold_phase(0.06, Some(0.02), Some(0.05)), Phase::Failed);
        assert_eq!(threshold_phase(0.03, Some(0.02), None), Phase::Failed);
        assert_eq!(threshold_phase(0.03, None, Some(0.05)), Phase::Successful);
        // Every second canary request of log(0) is an error (rate 0.5): in the band
        // (0.2, 0.6] every measurement is inconclusive; the second, beyond
        // inconclusive_limit 1, pauses (Argo).
        let r = run(
            "[measurement]\ninconclusive_limit = 1\n[[steps]]\nweight = 50\ncount = 5\n[[gates]]\nmetric = \"error_rate\"\nmax = 0.2\nfail_above = 0.6\n",
            &log(0),
            None,
        );
        assert_eq!(r.outcome, Outcome::Incomplete);
        assert_eq!(r.timeline.len(), 2);
        assert!(r.timeline.iter().all(|m| m.outcome == Phase::Inconclusive));
    }

    /// A policy whose analysis gate can never decide: a `default` analysis with more requests
    /// per side required than the log has, so every verdict is `continue`.
    fn undecided_policy(on_undecided: &str) -> String {
        format!(
            "[measurement]\non_undecided = \"{on_undecided}\"\n[[steps]]\nweight = 20\ncount = 2\n[[steps]]\nweight = 40\ncount = 2\n[[steps]]\nweight = 100\n[[gates]]\nanalysis = \"default\"\nwindow = \"rollout\"\non_continue = \"pending\"\n"
        )
    }

    #[test]
    fn an_undecided_analysis_pauses_rolls_back_or_advances_but_never_promotes() {
        let mut rows = log(99).rows;
        rows.truncate(60); // 30 requests a side in minute 0, nothing after: always continue
        let quiet = crate::backtest::summary::test_log(
            rows.into_iter()
                .flat_map(|r| {
                    (0..10).map(move |m| crate::model::requests::RequestRow {
                        start_ns: r.start_ns + m * MIN,
                        trace_hash: r.trace_hash + 1000 * m as u64,
                        ..r
                    })
                })
                .collect(),
            10,
        );
        let r = run(&undecided_policy("pause"), &quiet, None);
        assert_eq!(r.outcome, Outcome::Incomplete, "{}", r.reason);
        assert_eq!(r.timeline.len(), 2);
        assert!(r.reason.contains("pending"), "{}", r.reason);
        let r = run(&undecided_policy("rollback"), &quiet, None);
        assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.reason);
        assert_eq!(r.steps[0].result, "inconclusive");
        // Advance: step 1 undecided moves on; the last analysed step undecided pauses.
        let r = run(&undecided_policy("advance"), &quiet, None);
        assert_eq!(r.outcome, Outcome::Incomplete, "{}", r.reason);
        assert_eq!(r.steps[0].result, "undecided");
        assert_eq!(r.decided_step, Some(2));
        assert_eq!(r.timeline.len(), 4);
        assert!(r.timeline.iter().all(|m| m.outcome == Phase::Inconclusive));
    }

    #[test]
    fn pass_at_horizon_passes_only_an_undecided_last_step_without_evidence_of_harm() {
        // An analysis that never promotes (every comparison must be decided, and the constant
        // durations leave the latency quantiles undecided), with a low request minimum.
        let mut cfg = AnalysisConfig::default_preset();
        cfg.min_decided_fraction = 1.0;
        cfg.min_total_requests = 100;
        let text = "[measurement]\non_undecided = \"pass_at_horizon\"\n[[steps]]\nweight = 20\ncount = 2\n[[steps]]\nweight = 40\ncount = 2\n[[steps]]\nweight = 100\n[[gates]]\nwindow = \"rollout\"\non_continue = \"pending\"\nalpha_spending = \"bonferroni\"\n";
        let p = Policy::from_toml_str(text, "t.toml", None, &cfg).unwrap();
        let opts = |onset| ReplayOptions {
            seed: 1,
            onset_unix_nano: onset,
            bucket_ns: MIN,
            generated_at: String::new(),
        };
        // Clean (two routes, so that one metric's comparisons are not adjacent in the
        // report): undecided at 20% (advances), undecided at the horizon without harm: promoted.
        let rows = log(99).rows;
        let second = rows.iter().map(|r| crate::model::requests::RequestRow {
            route: 1,
            trace_hash: r.trace_hash + 1_000_000,
            ..*r
        });
        let two = crate::backtest::summary::test_log_routes(
            rows.iter().copied().chain(second).collect(),
            10,
            &["GET /", "GET /b"],
        );
        let r = replay(&two, &p, &opts(None)).unwrap();
        assert_eq!(r.outcome, Outcome::Promoted, "{}", r.reason);
        assert!(r.reason.contains("planned horizon"), "{}", r.reason);
        assert_eq!(r.steps[0].result, "undecided");
        assert_eq!(r.steps[1].result, "passed_at_horizon");
        let last = r.timeline.last().unwrap();
        assert!(
            last.detail.contains("no evidence of harm"),
            "{}",
            last.detail
        );
        // What could not be ruled out, each metric once.
        assert!(
            last.detail.contains("minimum detectable effects"),
            "{}",
            last.detail
        );
        for m in ["error_rate", "latency_p50", "latency_p99", "latency_shift"] {
            assert!(
                last.detail.matches(&format!("{m} median")).count() <= 1,
                "{}",
                last.detail
            );
        }
        // Every measurement judged at α/4 (Bonferroni over the 4 planned).
        assert!(r.timeline.iter().all(|m| m.alpha == Some(0.05 / 4.0)));
        // Half the canary requests fail from minute 0: rolled back, never passed.
        let r = replay(&log(0), &p, &opts(Some(0))).unwrap();
        assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.reason);
        // Too little evidence at the horizon (the minimum not met): paused, not passed.
        cfg.min_total_requests = 1_000_000;
        let p = Policy::from_toml_str(text, "t.toml", None, &cfg).unwrap();
        let r = replay(&log(99), &p, &opts(None)).unwrap();
        assert_eq!(r.outcome, Outcome::Incomplete, "{}", r.reason);
        assert!(r.reason.contains("pass_at_horizon"), "{}", r.reason);
        let last = r.timeline.last().unwrap();
        assert!(
            last.detail.contains("too little evidence"),
            "{}",
            last.detail
        );
    }

    /// Twenty minutes of one route, 300 requests a minute per side, durations 10–50 ms drawn
    /// from `seed`; canary durations × `factor` from minute `onset` on.
    fn latency_log(seed: u64, factor: f64, onset: i64) -> RequestLog {
        use crate::model::hash::splitmix64;
        let mut rows = Vec::new();
        let mut trace = 0u64;
        for m in 0..20 {
            for i in 0..300 {
                for side in [Side::Baseline, Side::Canary] {
                    trace += 1;
                    let u =
                        (splitmix64(trace ^ splitmix64(seed)) >> 11) as f64 / (1u64 << 53) as f64;
                    let mut ms = 10.0 + 40.0 * u;
                    if side == Side::Canary && m >= onset {
                        ms *= factor;
                    }
                    rows.push(RequestRow {
                        start_ns: m * MIN + i * 100_000_000,
                        duration_ns: (ms * 1e6) as i64,
                        route: 0,
                        side,
                        is_error: false,
                        weight: 1.0,
                        trace_hash: trace,
                    });
                }
            }
        }
        crate::backtest::summary::test_log(rows, 20)
    }

    const SEQUENTIAL: &str = "[measurement]\n[[steps]]\nweight = 50\ncount = 19\n[[steps]]\nweight = 100\n[[gates]]\nanalysis = \"default\"\nmethod = \"sequential\"\nwindow = \"rollout\"\non_continue = \"pending\"\n";

    #[test]
    fn a_sequential_gate_reads_latency_look_by_look_and_detects_only_after_the_onset() {
        // The summaries give the sequential analysis each duration's bucket, so its latency
        // comparisons are the anytime-valid quantile test, not the fixed-sample one.
        let log = latency_log(1, 1.3, 8);
        let s = Summaries::build(&log, MIN, 1);
        let cfg = {
            let mut c = AnalysisConfig::default_preset();
            c.method = Method::Sequential;
            c
        };
        let input = s.comparison_input(0, 20, &|_| 1.0, true);
        let report =
            crate::analysis::analyze_at(&input, &cfg, DataQuality::default(), String::new());
        assert!(
            report.comparisons.iter().any(|c| c.test.as_deref()
                == Some(crate::analysis::sequential_judge::QUANTILE_TEST_NAME)),
            "no sequential latency test"
        );
        // Truth: canary ×1.3 from minute 8. The replay rolls back after it, never before.
        let r = run(SEQUENTIAL, &log, Some(8 * MIN));
        assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.reason);
        assert!(!r.rolled_back_before_onset);
        assert!(r.decided_at_unix_nano.unwrap() > 8 * MIN);
        let last = r.timeline.last().unwrap();
        assert!(last.detail.contains("latency"), "{}", last.detail);
    }

    #[test]
    fn sequential_gates_roll_back_aa_logs_at_most_at_alpha() {
        // 40 A/A logs (seeds): every look of a 19-minute step is an analysis; the sequential
        // tests keep the chance of any rollback at α = 0.05 over all looks. The 95% Wilson
        // interval of the rollback rate must reach down to α.
        let n = 40;
        let rollbacks = (0..n)
            .filter(|seed| {
                run(SEQUENTIAL, &latency_log(100 + seed, 1.0, 0), None).outcome
                    == Outcome::RolledBack
            })
            .count();
        let ci = crate::stats::proportion::wilson_interval(rollbacks as f64, n as f64, 0.95);
        assert!(
            ci.low <= 0.05,
            "{rollbacks} of {n} A/A logs rolled back: {ci:?}"
        );
    }
}
