//! Scoring the settings of a sweep over a labelled corpus (`tune.json`).
//!
//! Definitions (docs/backtest.md, "Tuning"), for one setting over the corpus:
//! - a bad deployment is **detected** when the replay rolls it back at or after its onset; the
//!   **detection rate** is detected / bad deployments. A rollback before the onset is an
//!   *early rollback* (a false alarm that happened to hit a deployment that later went bad):
//!   counted apart, neither detection nor false rollback.
//! - the **false-rollback rate** is good deployments rolled back / good deployments.
//! - both rates carry a 95% Wilson score interval (E. B. Wilson, JASA 22(158), 1927), which
//!   keeps its coverage at 0 or n successes, where the Wald interval collapses (Brown, Cai &
//!   DasGupta, *Interval Estimation for a Binomial Proportion*, Statistical Science 16(2),
//!   2001).
//! - **time to detect** of a detected deployment is the backtest's `time_to_detect_s`
//!   (decision time − onset); the median and 90th percentile (Hyndman–Fan type 7) are over the
//!   detected deployments.
//! - **mean exposure** is the mean over bad deployments of the canary requests served before
//!   the decision (before the end of the replay when nothing was decided): what users of a bad
//!   canary went through.
//! - the **Pareto front**: settings no other setting beats on detection rate (higher),
//!   false-rollback rate (lower) and mean exposure (lower) at once (at least as good on all
//!   three, better on one).
//! - the **recommended** setting for a target false-rollback rate `R`: among settings whose
//!   false-rollback upper bound is ≤ `R`, the highest detection rate; ties go to the lower
//!   median time to detect, then the lower mean exposure, then the earlier setting. The upper
//!   bound (not the point estimate) keeps a corpus with few good deployments from certifying a
//!   rate it cannot show: with no false rollback in `n` good deployments the bound is ≤ `R` only
//!   when `n ≥ z²(1−R)/R` (73 at `R` = 5%).

use super::sweep::Params;
use crate::backtest::outcome::{BacktestReport, Outcome};
use crate::model::label::Verdict;
use crate::stats::proportion::wilson_interval;
use crate::stats::quantile::quantile_type7;
use serde::Serialize;

/// Version of `tune.json`'s layout.
pub const TUNE_SCHEMA_VERSION: u32 = 1;
/// Confidence of the rates' intervals.
pub const CONFIDENCE: f64 = 0.95;

/// A deployment of the corpus as `tune.json` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deployment {
    /// Directory name.
    pub name: String,
    /// Directory path as given.
    pub path: String,
    /// `good` or `bad`.
    pub label: Verdict,
    /// Onset (bad only), RFC 3339.
    pub onset: Option<String>,
    /// Effect kind from the label.
    pub effect_kind: String,
    /// Effect size from the label.
    pub effect_size: Option<f64>,
    /// Traffic level from the label.
    pub traffic: String,
}

/// What one setting did on one deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentOutcome {
    /// Index into `deployments`.
    pub deployment: usize,
    /// The replay's outcome.
    pub outcome: Outcome,
    /// Rolled back at or after the onset of a bad deployment.
    pub detected: bool,
    /// Rolled back although good.
    pub false_rollback: bool,
    /// Rolled back before the onset of a bad deployment.
    pub early_rollback: bool,
    /// Decision time − onset, s (detected only).
    pub time_to_detect_s: Option<f64>,
    /// Canary requests served before the decision.
    pub canary_requests: u64,
    /// Of those, errors.
    pub canary_errors: u64,
}

impl DeploymentOutcome {
    /// Classifies `r`, the replay of deployment `index` labelled `label`.
    pub fn of(index: usize, label: Verdict, r: &BacktestReport) -> Self {
        let rolled = r.outcome == Outcome::RolledBack;
        let bad = label == Verdict::Bad;
        let detected = bad && rolled && !r.rolled_back_before_onset;
        Self {
            deployment: index,
            outcome: r.outcome,
            detected,
            false_rollback: !bad && rolled,
            early_rollback: bad && rolled && r.rolled_back_before_onset,
            time_to_detect_s: if detected { r.time_to_detect_s } else { None },
            canary_requests: r.exposure.canary_requests,
            canary_errors: r.exposure.canary_errors,
        }
    }
}

/// A proportion's interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bounds {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// One setting's scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Setting {
    /// Position in the sweep (0-based).
    pub index: usize,
    /// Swept key → value.
    pub params: Params,
    /// Bad deployments detected.
    pub detected: u64,
    /// Bad deployments.
    pub bad: u64,
    /// detected / bad (null without bad deployments).
    pub detection_rate: Option<f64>,
    /// Wilson interval of the detection rate.
    pub detection_interval: Bounds,
    /// Good deployments rolled back.
    pub false_rollbacks: u64,
    /// Good deployments.
    pub good: u64,
    /// false_rollbacks / good (null without good deployments).
    pub false_rollback_rate: Option<f64>,
    /// Wilson interval of the false-rollback rate.
    pub false_rollback_interval: Bounds,
    /// Bad deployments rolled back before their onset.
    pub early_rollbacks: u64,
    /// Deployments whose replay ended incomplete.
    pub incomplete: u64,
    /// Median time to detect, s (null when nothing was detected).
    pub median_time_to_detect_s: Option<f64>,
    /// 90th percentile of the time to detect, s.
    pub p90_time_to_detect_s: Option<f64>,
    /// Mean canary requests served before the decision, over bad deployments.
    pub mean_exposure: Option<f64>,
    /// Mean canary errors served before the decision, over bad deployments.
    pub mean_exposure_errors: Option<f64>,
    /// On the Pareto front.
    pub pareto: bool,
    /// Per deployment, in corpus order.
    pub outcomes: Vec<DeploymentOutcome>,
}

fn interval(k: u64, n: u64) -> Bounds {
    let i = wilson_interval(k as f64, n as f64, CONFIDENCE);
    Bounds {
        low: i.low,
        high: i.high,
    }
}

fn rate(k: u64, n: u64) -> Option<f64> {
    (n > 0).then(|| k as f64 / n as f64)
}

impl Setting {
    /// Scores the outcomes of setting `index` (`outcomes[i]` is deployment `i`, labelled
    /// `labels[i]`).
    pub fn score(
        index: usize,
        params: Params,
        labels: &[Verdict],
        outcomes: Vec<DeploymentOutcome>,
    ) -> Self {
        let count = |f: &dyn Fn(&DeploymentOutcome) -> bool| {
            outcomes.iter().filter(|o| f(o)).count() as u64
        };
        let bad = labels.iter().filter(|l| **l == Verdict::Bad).count() as u64;
        let good = labels.len() as u64 - bad;
        let detected = count(&|o| o.detected);
        let false_rollbacks = count(&|o| o.false_rollback);
        let mut ttd: Vec<f64> = outcomes.iter().filter_map(|o| o.time_to_detect_s).collect();
        ttd.sort_by(f64::total_cmp);
        let q = |p: f64| (!ttd.is_empty()).then(|| quantile_type7(&ttd, p));
        let bad_outcomes: Vec<&DeploymentOutcome> = outcomes
            .iter()
            .filter(|o| labels[o.deployment] == Verdict::Bad)
            .collect();
        let mean = |f: &dyn Fn(&DeploymentOutcome) -> u64| {
            (!bad_outcomes.is_empty()).then(|| {
                bad_outcomes.iter().map(|o| f(o) as f64).sum::<f64>() / bad_outcomes.len() as f64
            })
        };
        Self {
            index,
            params,
            detected,
            bad,
            detection_rate: rate(detected, bad),
            detection_interval: interval(detected, bad),
            false_rollbacks,
            good,
            false_rollback_rate: rate(false_rollbacks, good),
            false_rollback_interval: interval(false_rollbacks, good),
            early_rollbacks: count(&|o| o.early_rollback),
            incomplete: count(&|o| o.outcome == Outcome::Incomplete),
            median_time_to_detect_s: q(0.5),
            p90_time_to_detect_s: q(0.9),
            mean_exposure: mean(&|o| o.canary_requests),
            mean_exposure_errors: mean(&|o| o.canary_errors),
            pareto: false,
            outcomes,
        }
    }

    /// (detection ↑, false rollbacks ↓, exposure ↓) as three numbers to minimise.
    fn objectives(&self) -> [f64; 3] {
        [
            -self.detection_rate.unwrap_or(0.0),
            self.false_rollback_rate.unwrap_or(0.0),
            self.mean_exposure.unwrap_or(0.0),
        ]
    }
}

/// Marks the Pareto front (see the module doc); returns its indexes in sweep order.
pub fn mark_pareto(settings: &mut [Setting]) -> Vec<usize> {
    let obj: Vec<[f64; 3]> = settings.iter().map(Setting::objectives).collect();
    let dominates = |a: &[f64; 3], b: &[f64; 3]| {
        a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
    };
    let mut front = Vec::new();
    for (i, s) in settings.iter_mut().enumerate() {
        s.pareto = !obj.iter().any(|o| dominates(o, &obj[i]));
        if s.pareto {
            front.push(s.index);
        }
    }
    front
}

/// The recommended setting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// Setting index.
    pub index: usize,
    /// Its parameters.
    pub params: Params,
    /// Its detection rate.
    pub detection_rate: Option<f64>,
    /// Its false-rollback rate.
    pub false_rollback_rate: Option<f64>,
    /// Upper bound of its false-rollback rate.
    pub false_rollback_upper: f64,
}

/// The recommended setting for `target` (module doc), or `None` with the reason.
pub fn recommend(settings: &[Setting], target: f64) -> Result<Recommendation, String> {
    let ok: Vec<&Setting> = settings
        .iter()
        .filter(|s| s.good > 0 && s.false_rollback_interval.high <= target)
        .collect();
    let key = |s: &Setting| {
        (
            -s.detection_rate.unwrap_or(0.0),
            s.median_time_to_detect_s.unwrap_or(f64::INFINITY),
            s.mean_exposure.unwrap_or(f64::INFINITY),
            s.index,
        )
    };
    let best = ok.iter().min_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        ka.0.total_cmp(&kb.0)
            .then(ka.1.total_cmp(&kb.1))
            .then(ka.2.total_cmp(&kb.2))
            .then(ka.3.cmp(&kb.3))
    });
    match best {
        Some(s) => Ok(Recommendation {
            index: s.index,
            params: s.params.clone(),
            detection_rate: s.detection_rate,
            false_rollback_rate: s.false_rollback_rate,
            false_rollback_upper: s.false_rollback_interval.high,
        }),
        None => {
            let good = settings.first().map_or(0, |s| s.good);
            let z = crate::stats::two_sided_z(CONFIDENCE);
            let need = (z * z * (1.0 - target) / target).ceil();
            let lowest = settings
                .iter()
                .min_by(|a, b| {
                    a.false_rollback_interval
                        .high
                        .total_cmp(&b.false_rollback_interval.high)
                })
                .filter(|_| good > 0 && interval(0, good).high <= target);
            if let Some(l) = lowest {
                return Err(format!(
                    "no setting's false-rollback rate is shown to be at most {:.1}%: the lowest upper end of a {:.0}% Wilson interval is {:.1}% (setting {}, {} of {good} good deployments rolled back)",
                    target * 100.0,
                    CONFIDENCE * 100.0,
                    l.false_rollback_interval.high * 100.0,
                    l.index,
                    l.false_rollbacks
                ));
            }
            Err(format!(
                "no setting's false-rollback rate is shown to be at most {:.1}% (the upper end of its {:.0}% Wilson interval); with {good} good deployments even no false rollback gives an upper bound of {:.1}% (at least {need} good deployments are needed)",
                target * 100.0,
                CONFIDENCE * 100.0,
                interval(0, good).high * 100.0
            ))
        }
    }
}

/// `tune.json`.
#[derive(Debug, Clone, Serialize)]
pub struct TuneReport {
    /// [`TUNE_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// canalyst version.
    pub tool_version: String,
    /// RFC 3339 (`SOURCE_DATE_EPOCH` when set).
    pub generated_at: String,
    /// Policy name.
    pub policy: String,
    /// Thinning seed of every replay.
    pub seed: u64,
    /// The target false-rollback rate.
    pub target_false_rollback_rate: f64,
    /// Confidence of the intervals.
    pub confidence: f64,
    /// The corpus.
    pub deployments: Vec<Deployment>,
    /// Swept keys and their values.
    pub sweep: Vec<SweepAxis>,
    /// Every setting, in sweep order.
    pub settings: Vec<Setting>,
    /// Indexes of the Pareto front.
    pub pareto_front: Vec<usize>,
    /// The recommended setting, or null.
    pub recommended: Option<Recommendation>,
    /// Why that setting (the rule), or why none.
    pub recommendation_reason: String,
    /// The definitions used.
    pub definitions: Vec<String>,
}

/// One swept key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepAxis {
    /// The key.
    pub key: String,
    /// Its values.
    pub values: Vec<f64>,
}

/// The definitions written into `tune.json` and the reports.
pub fn definitions() -> Vec<String> {
    [
        "detection rate: bad deployments rolled back at or after their onset / bad deployments; a rollback before the onset is an early rollback, counted apart",
        "false-rollback rate: good deployments rolled back / good deployments",
        "intervals: 95% Wilson score intervals (Wilson 1927; Brown, Cai & DasGupta 2001)",
        "time to detect: decision time minus onset of a detected deployment (median and p90, Hyndman-Fan type 7, over detected deployments)",
        "mean exposure: canary requests served before the decision (or the end of the replay), mean over bad deployments",
        "Pareto front: settings no other setting beats on detection rate, false-rollback rate and mean exposure at once",
        "recommended: among settings whose false-rollback upper bound is at most the target, the highest detection rate; ties to the lower median time to detect, the lower mean exposure, the earlier setting",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

/// Assembles the report: scores are given, the front and the recommendation are computed.
#[allow(clippy::too_many_arguments)]
pub fn report(
    policy: String,
    seed: u64,
    target: f64,
    generated_at: String,
    deployments: Vec<Deployment>,
    sweep: Vec<SweepAxis>,
    mut settings: Vec<Setting>,
) -> TuneReport {
    let pareto_front = mark_pareto(&mut settings);
    let (recommended, recommendation_reason) = match recommend(&settings, target) {
        Ok(r) => {
            let why = format!(
                "setting {}: the highest detection rate among settings whose false-rollback rate is at most {:.1}% at the upper end of its {:.0}% Wilson interval (upper bound {:.1}%)",
                r.index,
                target * 100.0,
                CONFIDENCE * 100.0,
                r.false_rollback_upper * 100.0
            );
            (Some(r), why)
        }
        Err(why) => (None, why),
    };
    TuneReport {
        schema_version: TUNE_SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        generated_at,
        policy,
        seed,
        target_false_rollback_rate: target,
        confidence: CONFIDENCE,
        deployments,
        sweep,
        settings,
        pareto_front,
        recommended,
        recommendation_reason,
        definitions: definitions(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(
        d: usize,
        outcome: Outcome,
        detected: bool,
        fr: bool,
        ttd: Option<f64>,
        req: u64,
    ) -> DeploymentOutcome {
        DeploymentOutcome {
            deployment: d,
            outcome,
            detected,
            false_rollback: fr,
            early_rollback: false,
            time_to_detect_s: ttd,
            canary_requests: req,
            canary_errors: 0,
        }
    }

    fn setting(index: usize, det: f64, fr: f64, exp: f64, good: u64) -> Setting {
        let mut s = Setting::score(index, Params::new(), &[], Vec::new());
        s.detection_rate = Some(det);
        s.false_rollback_rate = Some(fr);
        s.mean_exposure = Some(exp);
        s.good = good;
        s.false_rollbacks = (fr * good as f64).round() as u64;
        s.false_rollback_interval = interval(s.false_rollbacks, good);
        s
    }

    #[test]
    fn scores_count_rates_intervals_and_times() {
        use Verdict::*;
        let labels = [Good, Good, Bad, Bad, Bad];
        let o = vec![
            out(0, Outcome::Promoted, false, false, None, 10),
            out(1, Outcome::RolledBack, false, true, None, 5),
            out(2, Outcome::RolledBack, true, false, Some(60.0), 100),
            out(3, Outcome::RolledBack, true, false, Some(180.0), 200),
            out(4, Outcome::Incomplete, false, false, None, 300),
        ];
        let s = Setting::score(0, Params::new(), &labels, o);
        assert_eq!(
            (s.detected, s.bad, s.false_rollbacks, s.good, s.incomplete),
            (2, 3, 1, 2, 1)
        );
        assert_eq!(s.detection_rate, Some(2.0 / 3.0));
        assert_eq!(s.false_rollback_rate, Some(0.5));
        // scipy.stats.binomtest(2, 3).proportion_ci(0.95, method="wilson"): (0.2077, 0.9385).
        assert!(
            (s.detection_interval.low - 0.20765).abs() < 1e-4,
            "{:?}",
            s.detection_interval
        );
        assert!((s.detection_interval.high - 0.93849).abs() < 1e-4);
        assert_eq!(s.median_time_to_detect_s, Some(120.0));
        // Type 7 at 0.9 of [60, 180]: 60 + 0.9·120.
        assert_eq!(s.p90_time_to_detect_s, Some(168.0));
        assert_eq!(s.mean_exposure, Some(200.0));
    }

    #[test]
    fn the_front_and_the_recommendation_follow_their_rules() {
        let mut s = vec![
            setting(0, 0.9, 0.0, 100.0, 100),
            setting(1, 0.8, 0.0, 100.0, 100), // dominated by 0
            setting(2, 1.0, 0.2, 50.0, 100),  // best detection, too many false rollbacks
            setting(3, 0.9, 0.0, 90.0, 100),  // beats 0 on exposure
        ];
        assert_eq!(mark_pareto(&mut s), vec![2, 3]);
        let r = recommend(&s, 0.05).unwrap();
        // 0 and 3 tie on detection and time; 3 has the lower exposure.
        assert_eq!(r.index, 3);
        assert!(r.false_rollback_upper <= 0.05);
        // Ten good deployments cannot show 5%.
        let few = vec![setting(0, 0.9, 0.0, 1.0, 10)];
        let why = recommend(&few, 0.05).unwrap_err();
        assert!(why.contains("73 good deployments"), "{why}");
        // Enough good deployments, but every setting rolls some back.
        let noisy = vec![setting(0, 0.9, 0.3, 1.0, 10), setting(1, 0.5, 0.1, 1.0, 10)];
        let why = recommend(&noisy, 0.3).unwrap_err();
        assert!(why.contains("setting 1, 1 of 10"), "{why}");
    }
}
