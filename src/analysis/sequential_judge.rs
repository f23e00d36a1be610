//! `method = "sequential"`: error rates and the request split judged look by look with the
//! anytime-valid count test of Lindon & Malek (NeurIPS 2022, `stats::sequential`).
//!
//! Per group the window is read as looks ([`LookPlan`]); the cumulative requests and errors
//! of each side at every look are merged from the per-bucket series ([`LookPlan::cumulative`]).
//! - `error_rate`: under no change each error falls in the canary with probability equal to
//!   the canary's share of requests. That share is taken from the requests seen up to the
//!   look (a plug-in: conditional on the requests it is the null share of the Poisson model of
//!   Lindon & Malek §5; the A/A tests below measure what the plug-in costs). The confidence
//!   sequence is on the error-rate ratio canary/baseline.
//! - `request_split` (with `[sequential] traffic_split`): under no change each request falls in
//!   the canary with the configured share; the sequence is on the ratio of canary to stable
//!   requests per unit of configured share (1 = the split as configured).
//!
//! Multiple testing: Bonferroni over the sequential comparisons of the report — each is tested
//! at `α/m` and its confidence sequence has coverage `1 − α/m`, so the chance that any of them
//! ever fails under no change is at most α over all looks together (Ville's inequality per
//! test plus the union bound). Benjamini–Hochberg on always-valid p-values stopped at a
//! data-dependent look has no such guarantee without independence; e-BH (Wang & Ramdas, JRSSB
//! 2022) would, and is a possible refinement. The fixed-sample comparisons (latency) keep their
//! own Benjamini–Hochberg family.
//!
//! A comparison fails at the first look where its always-valid p-value is at most `α/m` and
//! its confidence sequence lies wholly beyond the allowed change; it passes at the first look
//! where the sequence lies within the allowed change and both sides have at least
//! `[evidence] min_requests` requests (and still does at the last look); otherwise it is
//! inconclusive. The minimums guard a pass, never a fail.

use crate::analysis::config::{AnalysisConfig, Combine, MetricConfig};
use crate::analysis::direction::Direction;
use crate::analysis::draft::{finite, shell, Draft, Pending, Region};
use crate::analysis::findings::{
    Classification, Comparison, MetricName, SampleSizes, SequentialSummary,
};
use crate::analysis::format::fmt_value;
use crate::analysis::looks::{LookCounts, LookPlan};
use crate::model::comparison::GroupComparison;
use crate::model::time::format_rfc3339_seconds;
use crate::stats::sequential::SequentialCountTest;
use crate::stats::Interval;

/// The `test` name written into sequential comparisons.
pub const TEST_NAME: &str = "lindon_malek_sequential_count";

/// The state of one comparison's test at one look.
#[derive(Debug, Clone, Copy, PartialEq)]
struct LookState {
    log_e_value: f64,
    /// Always-valid p-value (running minimum of 1/e).
    p_value: f64,
    /// Confidence sequence for the ratio, intersected over looks.
    ratio: Interval,
    null_share: f64,
    region: Region,
    /// Both sides have the minimum number of requests.
    minimum_met: bool,
}

/// Runs the count test over the looks. `looks` gives, per look, the null canary share (`None`
/// when it is undefined, e.g. no requests on a side yet: the look adds no evidence), the
/// cumulative canary and stable events, the acceptable ratio region and whether the minimums
/// are met.
fn run(
    looks: impl Iterator<Item = (Option<f64>, u64, u64, Region, bool)>,
    level: f64,
    k: f64,
) -> Vec<LookState> {
    let mut p = 1.0f64;
    let mut ratio = Interval {
        low: 0.0,
        high: f64::INFINITY,
    };
    let mut log_e = 0.0;
    let mut share = f64::NAN;
    looks
        .map(|(rho, canary, stable, region, minimum_met)| {
            if let Some(rho) = rho {
                // A fresh test on the cumulative counts equals the incremental one when ρ
                // stays put; it also lets the plug-in ρ follow the requests look by look.
                if let Ok(mut t) = SequentialCountTest::new(rho, level, k) {
                    let look = t.update(canary, stable);
                    log_e = look.log_e_value;
                    p = p.min(look.p_value);
                    ratio = Interval {
                        low: ratio.low.max(look.rate_ratio.low),
                        high: ratio.high.min(look.rate_ratio.high),
                    };
                    share = rho;
                }
            }
            LookState {
                log_e_value: log_e,
                p_value: p,
                ratio,
                null_share: share,
                region,
                minimum_met,
            }
        })
        .collect()
}

/// The acceptable error-rate ratio at a look: the percentage-point limits turned into ratios
/// at the baseline's rate so far, combined with the ratio limits as `combine` says. The
/// baseline rate gets half an error added (`(e + ½)/(n + ½)`) so a baseline without errors
/// still gives a finite limit.
pub(crate) fn error_region(mc: &MetricConfig, baseline: LookCounts) -> Region {
    let base = (baseline.errors as f64 + 0.5) / (baseline.requests as f64 + 0.5);
    let pp_high = mc.allowed_increase_pp.map(|a| 1.0 + a / 100.0 / base);
    let pp_low = mc.allowed_decrease_pp.map(|a| 1.0 - a / 100.0 / base);
    let r_high = mc.allowed_increase.map(|a| 1.0 + a);
    let r_low = mc.allowed_decrease.map(|a| 1.0 - a);
    let pick = |a: Option<f64>, b: Option<f64>, wider: bool| match (a, b) {
        (Some(x), Some(y)) if wider => x.max(y),
        (Some(x), Some(y)) => x.min(y),
        (Some(x), None) | (None, Some(x)) => x,
        (None, None) => 1.0,
    };
    // `and`: fail only beyond both limits, so the region is the wider of the two.
    let wider = mc.combine == Combine::And;
    Region {
        low: if mc.direction.checks_decrease() {
            (-pick(pp_low.map(|v| -v), r_low.map(|v| -v), wider)).max(0.0)
        } else {
            f64::NEG_INFINITY
        },
        high: if mc.direction.checks_increase() {
            pick(pp_high, r_high, wider)
        } else {
            f64::INFINITY
        },
        null: 1.0,
    }
}

/// The settings of the request-split comparison: critical (a broken split means the rollout
/// is not what was configured), both directions, in its own group `traffic` (not scored).
fn split_config(cfg: &AnalysisConfig) -> MetricConfig {
    let t = cfg.sequential.traffic_split_tolerance;
    MetricConfig {
        enabled: true,
        group: "traffic".into(),
        critical: true,
        direction: Direction::Either,
        allowed_increase: Some(t),
        allowed_decrease: Some(t),
        allowed_increase_pp: None,
        allowed_decrease_pp: None,
        combine: Combine::And,
    }
}

/// Number of sequential comparisons of `groups` under `cfg` (the Bonferroni divisor).
fn family_size(groups: &[&GroupComparison], cfg: &AnalysisConfig) -> usize {
    let per_group = usize::from(cfg.metrics.error_rate.enabled)
        + usize::from(cfg.sequential.traffic_split.is_some());
    groups.len() * per_group
}

/// Drafts every sequential comparison of `groups` (already classified: [`Pending::Decided`]).
pub fn draft_all(groups: &[&GroupComparison], plan: &LookPlan, cfg: &AnalysisConfig) -> Vec<Draft> {
    let m = family_size(groups, cfg).max(1);
    let level = cfg.alpha / m as f64;
    let k = cfg.sequential.concentration;
    let mut out = Vec::new();
    for g in groups {
        let b = plan.cumulative(&g.baseline_series);
        let c = plan.cumulative(&g.canary_series);
        let met = |j: usize| b[j].requests >= cfg.min_requests && c[j].requests >= cfg.min_requests;
        let mc = &cfg.metrics.error_rate;
        if mc.enabled {
            let looks = (0..plan.len()).map(|j| {
                let n = b[j].requests + c[j].requests;
                let rho = (b[j].requests > 0 && c[j].requests > 0)
                    .then(|| c[j].requests as f64 / n as f64);
                (
                    rho,
                    c[j].errors,
                    b[j].errors,
                    error_region(mc, b[j]),
                    met(j),
                )
            });
            let states = run(looks, level, k);
            let last = (b[b.len() - 1], c[c.len() - 1]);
            let estimate = (last.0.errors > 0 && last.1.requests > 0).then(|| {
                (last.1.errors as f64 / last.1.requests as f64)
                    / (last.0.errors as f64 / last.0.requests as f64)
            });
            out.push(comparison(
                g,
                MetricName::ErrorRate,
                mc,
                &states,
                estimate,
                plan,
                level,
                cfg,
            ));
        }
        if let Some(rho) = cfg.sequential.traffic_split {
            let sc = split_config(cfg);
            let region = Region::relative(sc.direction, sc.allowed_increase, sc.allowed_decrease);
            let looks =
                (0..plan.len()).map(|j| (Some(rho), c[j].requests, b[j].requests, region, met(j)));
            let states = run(looks, level, k);
            let last = (b[b.len() - 1], c[c.len() - 1]);
            let estimate = (last.0.requests > 0)
                .then(|| last.1.requests as f64 / last.0.requests as f64 * (1.0 - rho) / rho);
            out.push(comparison(
                g,
                MetricName::RequestSplit,
                &sc,
                &states,
                estimate,
                plan,
                level,
                cfg,
            ));
        }
    }
    out
}

/// The comparison of one metric of one group from its look states.
#[allow(clippy::too_many_arguments)]
fn comparison(
    g: &GroupComparison,
    metric: MetricName,
    mc: &MetricConfig,
    states: &[LookState],
    estimate: Option<f64>,
    plan: &LookPlan,
    level: f64,
    cfg: &AnalysisConfig,
) -> Draft {
    let mut c: Comparison = shell(g, metric, mc, "ratio");
    let last = states[states.len() - 1];
    let fail_at = states.iter().position(|s| {
        s.p_value <= level && (s.ratio.low > s.region.high || s.ratio.high < s.region.low)
    });
    let within = |s: &LookState| s.ratio.low >= s.region.low && s.ratio.high <= s.region.high;
    let pass_at = states
        .iter()
        .position(|s| s.minimum_met && within(s))
        .filter(|_| last.minimum_met && within(&last));
    let decided = fail_at.or(pass_at);
    let n = states.len();
    let label = match metric {
        MetricName::RequestSplit => "canary/stable request ratio per configured share",
        _ => "error-rate ratio canary/baseline",
    };
    let cs = |s: &LookState| {
        format!(
            "{}% confidence sequence [{}, {}]",
            fmt_coverage(1.0 - level),
            fmt_ratio(s.ratio.low),
            fmt_ratio(s.ratio.high)
        )
    };
    let at = |j: usize| {
        format!(
            "look {} of {n} ({})",
            j + 1,
            format_rfc3339_seconds(plan.ends_unix_nano[j])
        )
    };
    let p_text = |s: &LookState| {
        format!(
            "always-valid p {}",
            crate::analysis::format::fmt_p(s.p_value)
        )
    };
    (c.classification, c.reason) = match (fail_at, pass_at) {
        (Some(j), _) => {
            let s = states[j];
            let high = s.ratio.low > s.region.high;
            let limit = if high { s.region.high } else { s.region.low };
            (
                if high {
                    Classification::FailHigh
                } else {
                    Classification::FailLow
                },
                format!(
                    "{label}: failed at {}: {}, {} ≤ {level:.2e}, beyond the allowed {} (sequential test)",
                    at(j),
                    cs(&s),
                    p_text(&s),
                    fmt_ratio(limit)
                ),
            )
        }
        (None, Some(j)) => (
            Classification::Pass,
            format!(
                "{label}: within the allowed change since {}: {} inside [{}, {}] (sequential test)",
                at(j),
                cs(&last),
                fmt_ratio(last.region.low.max(0.0)),
                fmt_ratio(last.region.high)
            ),
        ),
        (None, None) => (
            Classification::Inconclusive,
            format!(
                "{label}: undecided after {n} look{}: {} reaches beyond the allowed [{}, {}] ({}, sequential test)",
                if n == 1 { "" } else { "s" },
                cs(&last),
                fmt_ratio(last.region.low.max(0.0)),
                fmt_ratio(last.region.high),
                p_text(&last)
            ),
        ),
    };
    c.estimate = estimate.and_then(finite);
    c.ci_low = finite(last.ratio.low);
    c.ci_high = finite(last.ratio.high);
    c.allowed_increase = finite(last.region.high);
    c.allowed_decrease = finite(last.region.low);
    c.p_value = Some(last.p_value);
    c.p_value_adjusted = Some((last.p_value * (cfg.alpha / level)).min(1.0));
    c.test = Some(TEST_NAME.into());
    let (nb, nc) = (c.baseline.count, c.canary.count);
    c.below_minimum = (nb < cfg.min_requests || nc < cfg.min_requests).then_some(SampleSizes {
        baseline: nb,
        canary: nc,
        minimum: cfg.min_requests,
    });
    c.sequential = Some(SequentialSummary {
        looks: n as u32,
        decided_at_look: decided.map(|j| j as u32 + 1),
        decided_at: decided.map(|j| format_rfc3339_seconds(plan.ends_unix_nano[j])),
        log_e_value: last.log_e_value,
        p_value: last.p_value,
        level,
        null_share: finite(last.null_share),
    });
    Draft {
        comparison: c,
        pending: Pending::Decided,
    }
}

/// A coverage in percent with the digits that distinguish it from 100: `95`, `99.86`.
fn fmt_coverage(c: f64) -> String {
    let pct = c * 100.0;
    if (pct - pct.round()).abs() < 1e-9 {
        return format!("{pct:.0}");
    }
    let mut digits = 2;
    while digits < 8 && format!("{pct:.digits$}").starts_with("100") {
        digits += 1;
    }
    format!("{pct:.digits$}")
}

/// A ratio as a change: `+50.0%`, or `unbounded`.
fn fmt_ratio(v: f64) -> String {
    fmt_value(v, "ratio")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentage_points_become_a_ratio_at_the_baseline_rate() {
        let mut mc = AnalysisConfig::default_preset().metrics.error_rate;
        // +0.5 pp on a baseline of (19 + ½)/(3899 + ½) ≈ 0.5%: ratio ≈ 2.
        let b = LookCounts {
            requests: 3899,
            errors: 19,
        };
        let r = error_region(&mc, b);
        let want = 1.0 + 0.005 / (19.5 / 3899.5);
        assert!((r.high - want).abs() < 1e-12, "{r:?}");
        assert_eq!(r.low, f64::NEG_INFINITY);
        // With a ratio limit of +20%: `and` keeps the wider (2), `or` the narrower (1.2).
        mc.allowed_increase = Some(0.2);
        assert!((error_region(&mc, b).high - want).abs() < 1e-12);
        mc.combine = Combine::Or;
        assert!((error_region(&mc, b).high - 1.2).abs() < 1e-12);
        // Decreases (0.25 pp = half the rate): `or` keeps the narrower of 0.5 and 1 − 0.3.
        mc.direction = Direction::Either;
        mc.allowed_decrease = Some(0.3);
        mc.allowed_decrease_pp = Some(0.25);
        assert!((error_region(&mc, b).low - 0.7).abs() < 1e-12);
        mc.combine = Combine::And;
        assert!((error_region(&mc, b).low - (1.0 - 0.0025 / (19.5 / 3899.5))).abs() < 1e-12);
    }

    #[test]
    fn coverage_shows_the_digits_that_matter() {
        assert_eq!(fmt_coverage(0.95), "95");
        assert_eq!(fmt_coverage(1.0 - 0.05 / 36.0), "99.86");
        assert_eq!(fmt_coverage(1.0 - 0.05 / 4000.0), "99.999");
    }
}
