//! Kayenta compatibility: the classification rule of Netflix's NetflixACAJudge
//! (spinnaker/kayenta, `MannWhitneyClassifier` and `WeightedSumScorer`).
//!
//! For each metric, with control = baseline and experiment = canary values:
//! 1. either side empty → no data (Kayenta `Nodata`; here `inconclusive`);
//! 2. identical sorted values, or a single distinct value overall → `pass`;
//! 3. Mann–Whitney / Hodges–Lehmann: estimate δ of experiment − control and its interval
//!    [l, u] at the configured confidence (Kayenta: 98%);
//! 4. tolerance band ±t·|δ| (Kayenta: t = 0.25);
//! 5. effect size d = mean(experiment)/mean(control) (1 when the control mean is 0);
//! 6. `High` (here `fail_high`) when increases are checked, l > t·|δ| and d ≥ allowedIncrease;
//!    `Low` (`fail_low`) when decreases are checked, u < −t·|δ| and d ≤ allowedDecrease;
//!    otherwise `pass`.
//!
//! Kayenta judges metric *time series*; canalyst feeds it, per group, the per-request durations
//! for `latency_shift` and the per-time-bucket values for `error_rate` (errors/requests per
//! bucket), `latency_p50` and `latency_p99` (bucket quantiles). `latency_p90` and
//! `latency_p999` have no per-bucket series and are reported inconclusive. Deviation from
//! Kayenta: a *critical* metric with no data fails a Kayenta canary; here it stays
//! inconclusive and counts against the evidence rule instead.

use crate::analysis::config::{AnalysisConfig, MetricConfig};
use crate::analysis::draft::{shell, Draft, Pending};
use crate::analysis::findings::{Classification, Comparison, MetricName, SampleSizes};
use crate::analysis::format::fmt_p;
use crate::model::comparison::GroupComparison;
use crate::stats::hodges_lehmann::hodges_lehmann;
use crate::stats::mann_whitney::mann_whitney_u;
use crate::stats::Alternative;

/// The values Kayenta compares for a metric: (control, experiment, unit, description).
fn values(
    g: &GroupComparison,
    m: MetricName,
) -> Option<(Vec<f64>, Vec<f64>, &'static str, &'static str)> {
    let series = |f: &dyn Fn(&crate::model::comparison::TimeBucket) -> f64| {
        let b: Vec<f64> = g
            .baseline_series
            .iter()
            .map(f)
            .filter(|v| v.is_finite())
            .collect();
        let c: Vec<f64> = g
            .canary_series
            .iter()
            .map(f)
            .filter(|v| v.is_finite())
            .collect();
        (b, c)
    };
    match m {
        MetricName::LatencyShift => Some((
            g.baseline.durations_ms.clone(),
            g.canary.durations_ms.clone(),
            "ms",
            "per-request durations",
        )),
        MetricName::ErrorRate => {
            let (b, c) = series(&|t| {
                if t.weighted_count > 0.0 {
                    100.0 * t.weighted_errors / t.weighted_count
                } else if t.count > 0 {
                    100.0 * t.errors as f64 / t.count as f64
                } else {
                    f64::NAN
                }
            });
            Some((b, c, "percentage_points", "per-bucket error rates"))
        }
        MetricName::LatencyP50 => {
            let (b, c) = series(&|t| t.p50_ms);
            Some((b, c, "ms", "per-bucket p50"))
        }
        MetricName::LatencyP99 => {
            let (b, c) = series(&|t| t.p99_ms);
            Some((b, c, "ms", "per-bucket p99"))
        }
        MetricName::LatencyP90
        | MetricName::LatencyP999
        | MetricName::BusinessRatio
        | MetricName::IntervalSeries
        | MetricName::RequestSplit => None,
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Drafts one metric of one group with Kayenta's rule (already final: Kayenta does not adjust
/// for multiple testing; the raw p-value is still reported and enters the report's BH set).
pub fn draft(g: &GroupComparison, m: MetricName, mc: &MetricConfig, cfg: &AnalysisConfig) -> Draft {
    let mut c = shell(g, m, mc, "ms");
    let allowed_increase = 1.0 + mc.allowed_increase.unwrap_or(0.0);
    let allowed_decrease = 1.0 - mc.allowed_decrease.unwrap_or(0.0);
    let Some((control, experiment, unit, what)) = values(g, m) else {
        c.reason = "Kayenta mode judges per-time-bucket series, and this quantile has none".into();
        return Draft {
            comparison: c,
            pending: Pending::Decided,
        };
    };
    c.unit = unit.into();
    if control.is_empty() || experiment.is_empty() {
        c.reason = format!(
            "no data (Kayenta Nodata): {} baseline and {} canary {what}",
            control.len(),
            experiment.len()
        );
        return Draft {
            comparison: c,
            pending: Pending::Decided,
        };
    }
    // Below the per-side minimum Kayenta's rule still runs: a High/Low stands, a Pass becomes
    // inconclusive (`judge::finish`).
    if g.baseline.count < cfg.min_requests || g.canary.count < cfg.min_requests {
        c.below_minimum = Some(SampleSizes {
            baseline: g.baseline.count,
            canary: g.canary.count,
            minimum: cfg.min_requests,
        });
    }
    judge_values(
        c,
        control,
        experiment,
        what,
        mc.direction,
        allowed_increase,
        allowed_decrease,
        cfg,
    )
}

/// Kayenta's rule (steps 2–6 of the module docs) on two value lists, filling `c` (whose unit
/// is already set): used for span series and for metric interval series. `allowed_increase`
/// and `allowed_decrease` are Kayenta's `allowedIncrease` / `allowedDecrease` (ratios).
#[allow(clippy::too_many_arguments)]
pub fn judge_values(
    mut c: Comparison,
    control: Vec<f64>,
    experiment: Vec<f64>,
    what: &str,
    direction: crate::analysis::config::Direction,
    allowed_increase: f64,
    allowed_decrease: f64,
    cfg: &AnalysisConfig,
) -> Draft {
    let unit = c.unit.clone();
    let mut sc = control;
    let mut se = experiment;
    sc.sort_by(f64::total_cmp);
    se.sort_by(f64::total_cmp);
    if sc == se {
        c.classification = Classification::Pass;
        c.effect_size = Some(1.0);
        c.reason = format!("the canary and baseline {what} are identical");
        return Draft {
            comparison: c,
            pending: Pending::Decided,
        };
    }
    if sc.first() == sc.last() && se.first() == se.last() && sc.first() == se.first() {
        c.classification = Classification::Pass;
        c.effect_size = Some(1.0);
        c.reason = format!("all {what} have the same value");
        return Draft {
            comparison: c,
            pending: Pending::Decided,
        };
    }
    let mw = mann_whitney_u(&sc, &se, Alternative::TwoSided);
    c.p_value = Some(mw.p_value);
    c.test = Some("kayenta_mann_whitney".into());
    let Some(hl) = hodges_lehmann(&sc, &se, cfg.confidence()) else {
        c.reason = format!(
            "the Mann–Whitney interval is undefined for {} baseline and {} canary {what}",
            sc.len(),
            se.len()
        );
        return Draft {
            comparison: c,
            pending: Pending::Decided,
        };
    };
    c.estimate = Some(hl.estimate);
    c.ci_low = Some(hl.low);
    c.ci_high = Some(hl.high);
    let band = cfg.kayenta_tolerance * hl.estimate.abs();
    let mc_mean = mean(&sc);
    let deviation = if mc_mean == 0.0 {
        1.0
    } else {
        mean(&se) / mc_mean
    };
    c.effect_size = Some(deviation);
    let is_high = direction.checks_increase() && hl.low > band && deviation >= allowed_increase;
    let is_low = direction.checks_decrease() && hl.high < -band && deviation <= allowed_decrease;
    let detail = format!(
        "shift {:.4} {unit}, {:.0}% CI [{:.4}, {:.4}], tolerance ±{:.4}; mean ratio {:.3} (allowedIncrease {:.2}, allowedDecrease {:.2}); p {} ({what})",
        hl.estimate,
        cfg.confidence() * 100.0,
        hl.low,
        hl.high,
        band,
        deviation,
        allowed_increase,
        allowed_decrease,
        fmt_p(mw.p_value)
    );
    (c.classification, c.reason) = if is_high {
        (Classification::FailHigh, format!("Kayenta High: {detail}"))
    } else if is_low {
        (Classification::FailLow, format!("Kayenta Low: {detail}"))
    } else {
        (Classification::Pass, format!("Kayenta Pass: {detail}"))
    };
    Draft {
        comparison: c,
        pending: Pending::Decided,
    }
}
