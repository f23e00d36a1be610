//! Per group × metric statistics and classification (design §4).
//!
//! Judging happens in two phases because the significance rule uses Benjamini–Hochberg adjusted
//! p-values over *every* comparison of the report: [`draft_group`] computes estimates, intervals
//! and raw p-values; [`finish`] adjusts the p-values and classifies.
//!
//! Definitions (x = baseline, y = canary):
//! - `error_rate`: difference of rates p_y − p_x in percentage points with the Newcombe hybrid
//!   score interval (Newcombe 1998, method 10); significance from Fisher's exact test, two-sided,
//!   on the recorded (unweighted) 2×2 table; optional rate ratio p_y/p_x with the Katz log
//!   interval. With sampled spans the rates are the weighted rates Σw·error/Σw, and the
//!   intervals use the weighted rate with the recorded count as sample size, so sampling changes
//!   the estimate but does not pretend to more information than was recorded.
//! - `latency_pNN`: ratio of Hyndman–Fan type 7 quantiles Q_y/Q_x with an order-statistic
//!   interval; its p-value inverts that interval (the largest confidence at which it still
//!   excludes 1).
//! - `latency_shift`: Mann–Whitney U (two-sided) p-value and the Hodges–Lehmann shift of log
//!   durations with its Moses interval (Hollander & Wolfe 1999, §4.3), reported as the ratio
//!   exp(shift): a multiplicative change of the typical request.
//! - Minimum detectable effects at α (two-sided) and the configured power: rates from the normal
//!   approximation; latency on the log scale with σ the baseline's standard deviation of log
//!   durations, scaled for a quantile q by √(q(1−q))/φ(Φ⁻¹(q)) (asymptotic variance of a sample
//!   quantile, exact for log-normal durations).
//! - Below `[evidence] min_requests` on a side the same tests run (Mann–Whitney exact when there
//!   are no ties) and the comparison is marked [`Comparison::below_minimum`]: it may fail — BH
//!   significant and the whole interval beyond the allowed effect — but never pass ([`finish`]).
//!   The minimum guards a pass and the promote verdict, not a fail (issue 11; calibrated on A/A
//!   splits in `calibration_tests.rs`).

use crate::analysis::config::{AnalysisConfig, Combine, Method, MetricConfig};
// Re-exported so callers can keep naming them through the judge; they live in their own
// modules because the Kayenta judge needs them too and must not import this one.
pub use crate::analysis::draft::{
    comparison_id, finite, set_estimate, set_region, shell, Draft, Pending, RatioLimit, Region,
};
use crate::analysis::findings::{Classification, Comparison, MetricName, SampleSizes};
pub use crate::analysis::format::{fmt_p, fmt_value};
use crate::model::comparison::{GroupComparison, TrackSample};
use crate::stats::distributions::normal_ppf;
use crate::stats::fisher::{fisher_exact, fisher_min_attainable_p};
use crate::stats::hodges_lehmann::hodges_lehmann;
use crate::stats::interval_inversion::p_value_by_inversion;
use crate::stats::mann_whitney::{mann_whitney_u, mann_whitney_u_exact_when_possible};
use crate::stats::multiple_testing::benjamini_hochberg;
use crate::stats::power::{mde_log_shift, mde_rate_difference};
use crate::stats::proportion::{newcombe_difference, rate_ratio};
use crate::stats::quantile_difference::quantile_ratio;
use crate::stats::{Alternative, Estimate};

/// Smallest duration used on the log scale (1 ns, in ms), so zero durations have a logarithm.
const MIN_LOG_DURATION_MS: f64 = 1e-6;

/// Weighted error rate, falling back to the recorded rate when weights are absent.
fn weighted_rate(t: &TrackSample) -> f64 {
    if t.weighted_count > 0.0 {
        t.weighted_errors / t.weighted_count
    } else if t.count > 0 {
        t.errors as f64 / t.count as f64
    } else {
        0.0
    }
}

pub(crate) fn quantile_level(m: MetricName) -> Option<f64> {
    match m {
        MetricName::LatencyP50 => Some(0.5),
        MetricName::LatencyP90 => Some(0.9),
        MetricName::LatencyP99 => Some(0.99),
        MetricName::LatencyP999 => Some(0.999),
        _ => None,
    }
}

pub(crate) fn quantile_label(m: MetricName) -> &'static str {
    match m {
        MetricName::LatencyP50 => "p50",
        MetricName::LatencyP90 => "p90",
        MetricName::LatencyP99 => "p99",
        MetricName::LatencyP999 => "p99.9",
        MetricName::LatencyShift => "latency shift",
        MetricName::ErrorRate => "error rate",
        MetricName::BusinessRatio => "ratio",
        MetricName::IntervalSeries => "series",
        MetricName::RequestSplit => "request split",
    }
}

fn log_durations(t: &TrackSample) -> Vec<f64> {
    t.durations_ms
        .iter()
        .map(|d| d.max(MIN_LOG_DURATION_MS).ln())
        .collect()
}

fn sd(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return f64::NAN;
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

/// Ratio region from relative limits.
pub(crate) fn ratio_region(mc: &MetricConfig) -> Region {
    Region::relative(mc.direction, mc.allowed_increase, mc.allowed_decrease)
}

fn pp_region(mc: &MetricConfig) -> Region {
    Region {
        low: if mc.direction.checks_decrease() {
            -mc.allowed_decrease_pp.unwrap_or(0.0)
        } else {
            f64::NEG_INFINITY
        },
        high: if mc.direction.checks_increase() {
            mc.allowed_increase_pp.unwrap_or(0.0)
        } else {
            f64::INFINITY
        },
        null: 0.0,
    }
}

/// Counts each side contributes for a metric (requests for errors, durations for latency).
fn sample_sizes(g: &GroupComparison, m: MetricName) -> (u64, u64) {
    match m {
        MetricName::ErrorRate => (g.baseline.count, g.canary.count),
        _ => (
            g.baseline.durations_ms.len() as u64,
            g.canary.durations_ms.len() as u64,
        ),
    }
}

/// Minimum detectable effect of a metric at these sample sizes, in the metric's unit.
fn mde(g: &GroupComparison, m: MetricName, cfg: &AnalysisConfig) -> Option<f64> {
    let (nb, nc) = sample_sizes(g, m);
    if nb == 0 || nc == 0 {
        return None;
    }
    match m {
        MetricName::ErrorRate => {
            let p = weighted_rate(&g.baseline);
            finite(100.0 * mde_rate_difference(nb as f64, nc as f64, p, cfg.alpha, cfg.power))
        }
        _ => {
            let logs = log_durations(&g.baseline);
            let mut s = sd(&logs);
            if !s.is_finite() || s == 0.0 {
                s = sd(&log_durations(&g.canary));
            }
            if !s.is_finite() || s == 0.0 {
                return None;
            }
            if let Some(q) = quantile_level(m) {
                let z = normal_ppf(q);
                let density = (-z * z / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
                s *= (q * (1.0 - q)).sqrt() / density;
            }
            finite(1.0 + mde_log_shift(nb as f64, nc as f64, s, cfg.alpha, cfg.power))
        }
    }
}

/// Samples per side needed for a two-sided order-statistic interval of the q-quantile at this
/// confidence (normal approximation to the binomial ranks): n(1−q) ≥ z²·q roughly.
pub(crate) fn tail_samples_needed(q: f64, confidence: f64) -> u64 {
    let z = normal_ppf(0.5 + confidence / 2.0);
    ((z * z * q / (1.0 - q)).ceil() + 1.0) as u64
}

/// Drafts one metric of one group with the configured method.
pub(crate) fn draft_one(
    g: &GroupComparison,
    m: MetricName,
    mc: &MetricConfig,
    cfg: &AnalysisConfig,
) -> Draft {
    match cfg.method {
        // Under the sequential method the count metrics are judged look by look
        // (`sequential_judge`); what reaches this judge is tested once over the window.
        Method::Intervals | Method::Sequential => draft_interval(g, m, mc, cfg),
        Method::Threshold => draft_threshold(g, m, mc, cfg),
        Method::Kayenta => crate::analysis::kayenta::draft(g, m, mc, cfg),
    }
}

/// Drafts every enabled metric of one group.
pub fn draft_group(g: &GroupComparison, cfg: &AnalysisConfig) -> Vec<Draft> {
    crate::analysis::config::ALL_METRICS
        .into_iter()
        .filter_map(|m| draft_metric(g, m, cfg))
        .collect()
}

/// Drafts metric `m` of one group, or `None` when the configuration disables it.
pub fn draft_metric(g: &GroupComparison, m: MetricName, cfg: &AnalysisConfig) -> Option<Draft> {
    let mc = cfg.metrics.get(m);
    if !mc.enabled {
        return None;
    }
    Some(match cfg.method {
        // Under the sequential method the count metrics are judged look by look
        // (`sequential_judge`); what reaches this judge is tested once over the window.
        Method::Intervals | Method::Sequential => draft_interval(g, m, mc, cfg),
        Method::Threshold => draft_threshold(g, m, mc, cfg),
        Method::Kayenta => crate::analysis::kayenta::draft(g, m, mc, cfg),
    })
}

pub(crate) fn unit_of(m: MetricName) -> &'static str {
    if m == MetricName::ErrorRate {
        "percentage_points"
    } else {
        "ratio"
    }
}

/// The sample sizes of metric `m` when a side has fewer than `[evidence] min_requests`.
fn below_minimum(g: &GroupComparison, m: MetricName, cfg: &AnalysisConfig) -> Option<SampleSizes> {
    let (nb, nc) = sample_sizes(g, m);
    (nb < cfg.min_requests || nc < cfg.min_requests).then_some(SampleSizes {
        baseline: nb,
        canary: nc,
        minimum: cfg.min_requests,
    })
}

/// Inconclusive without a test, with the effect this sample could detect: when a side is empty,
/// or below the per-side minimum under the threshold method (a point estimate at a small sample
/// decides nothing; the statistical methods still test there, see [`finish`]).
fn too_little(
    g: &GroupComparison,
    m: MetricName,
    mc: &MetricConfig,
    cfg: &AnalysisConfig,
) -> Option<Draft> {
    let (nb, nc) = sample_sizes(g, m);
    let below = below_minimum(g, m, cfg);
    let empty = nb == 0 || nc == 0;
    if !empty && (below.is_none() || cfg.method != Method::Threshold) {
        return None;
    }
    let unit = unit_of(m);
    let mut c = shell(g, m, mc, unit);
    let region = if m == MetricName::ErrorRate && cfg.method != Method::Kayenta {
        pp_region(mc)
    } else {
        ratio_region(mc)
    };
    if cfg.method != Method::Kayenta {
        set_region(&mut c, &region);
    }
    c.minimum_detectable_effect = mde(g, m, cfg);
    c.below_minimum = below;
    let what = if m == MetricName::ErrorRate {
        "requests"
    } else {
        "durations"
    };
    let why = if empty {
        format!("too little data: {nb} baseline and {nc} canary {what}; no test run")
    } else {
        format!(
            "too little data: {nb} baseline and {nc} canary {what}, below the minimum of {} per side; the threshold method runs no test",
            cfg.min_requests
        )
    };
    c.reason = match c.minimum_detectable_effect {
        Some(e) => format!(
            "{why} (this sample could detect about {})",
            fmt_value(e, unit)
        ),
        None => why,
    };
    Some(Draft {
        comparison: c,
        pending: Pending::Decided,
    })
}

/// Drafts with a test and an interval; below the per-side minimum the comparison is marked
/// [`Comparison::below_minimum`] (it may then fail, never pass: [`finish`]) and the rank test
/// is exact whenever the samples have no ties.
fn draft_interval(
    g: &GroupComparison,
    m: MetricName,
    mc: &MetricConfig,
    cfg: &AnalysisConfig,
) -> Draft {
    if let Some(d) = too_little(g, m, mc, cfg) {
        return d;
    }
    let below = below_minimum(g, m, cfg);
    let mut d = draft_tested(g, m, mc, cfg, below.is_some());
    d.comparison.below_minimum = below;
    d
}

fn draft_tested(
    g: &GroupComparison,
    m: MetricName,
    mc: &MetricConfig,
    cfg: &AnalysisConfig,
    small: bool,
) -> Draft {
    let conf = cfg.confidence();
    let unit = unit_of(m);
    let mut c = shell(g, m, mc, unit);
    c.minimum_detectable_effect = mde(g, m, cfg);
    match m {
        MetricName::ErrorRate => {
            let (nb, nc) = (g.baseline.count as f64, g.canary.count as f64);
            let (pb, pc) = (weighted_rate(&g.baseline), weighted_rate(&g.canary));
            let (kb, kc) = (pb * nb, pc * nc);
            let diff = newcombe_difference(kb, nb, kc, nc, conf);
            let e = Estimate {
                estimate: 100.0 * diff.estimate,
                low: 100.0 * diff.low,
                high: 100.0 * diff.high,
            };
            let f = fisher_exact(
                [
                    [
                        g.canary.errors,
                        g.canary.count - g.canary.errors.min(g.canary.count),
                    ],
                    [
                        g.baseline.errors,
                        g.baseline.count - g.baseline.errors.min(g.baseline.count),
                    ],
                ],
                Alternative::TwoSided,
            );
            set_estimate(&mut c, &e);
            let region = pp_region(mc);
            set_region(&mut c, &region);
            c.p_value = Some(f.p_value);
            c.test = Some("fisher_exact_two_sided".into());
            let ratio = if mc.allowed_increase.is_some() || mc.allowed_decrease.is_some() {
                let est = if kb > 0.0 && kc > 0.0 {
                    rate_ratio(kb, nb, kc, nc, conf)
                } else if kb == 0.0 && kc > 0.0 {
                    Some(Estimate {
                        estimate: f64::INFINITY,
                        low: f64::INFINITY,
                        high: f64::INFINITY,
                    })
                } else if kb > 0.0 && kc == 0.0 {
                    Some(Estimate {
                        estimate: 0.0,
                        low: 0.0,
                        high: f64::INFINITY,
                    })
                } else {
                    None
                };
                c.effect_size = est.and_then(|e| finite(e.estimate));
                Some(RatioLimit {
                    estimate: est,
                    region: ratio_region(mc),
                    combine: mc.combine,
                })
            } else {
                None
            };
            Draft {
                comparison: c,
                pending: Pending::Interval {
                    estimate: e,
                    region,
                    ratio,
                },
            }
        }
        MetricName::LatencyShift => {
            let (x, y) = (&g.baseline.durations_ms, &g.canary.durations_ms);
            let mw = if small {
                mann_whitney_u_exact_when_possible(x, y, Alternative::TwoSided)
            } else {
                mann_whitney_u(x, y, Alternative::TwoSided)
            };
            c.p_value = Some(mw.p_value);
            c.test = Some(
                if mw.exact {
                    "mann_whitney_u_exact"
                } else {
                    "mann_whitney_u_asymptotic"
                }
                .into(),
            );
            let region = ratio_region(mc);
            set_region(&mut c, &region);
            match hodges_lehmann(&log_durations(&g.baseline), &log_durations(&g.canary), conf) {
                Some(hl) => {
                    let e = Estimate {
                        estimate: hl.estimate.exp(),
                        low: hl.low.exp(),
                        high: hl.high.exp(),
                    };
                    set_estimate(&mut c, &e);
                    Draft {
                        comparison: c,
                        pending: Pending::Interval {
                            estimate: e,
                            region,
                            ratio: None,
                        },
                    }
                }
                None => {
                    c.reason =
                        "the Hodges–Lehmann interval is undefined for samples this small".into();
                    Draft {
                        comparison: c,
                        pending: Pending::Decided,
                    }
                }
            }
        }
        _ => {
            let q = quantile_level(m).expect("quantile metric");
            let region = ratio_region(mc);
            set_region(&mut c, &region);
            let (x, y) = (&g.baseline.durations_ms, &g.canary.durations_ms);
            match quantile_ratio(x, y, q, conf) {
                Some(e) => {
                    set_estimate(&mut c, &e);
                    c.p_value = Some(ci_inversion_p(x, y, q, e.estimate));
                    c.test = Some("quantile_ratio_ci_inversion".into());
                    Draft {
                        comparison: c,
                        pending: Pending::Interval {
                            estimate: e,
                            region,
                            ratio: None,
                        },
                    }
                }
                None => {
                    let qx = crate::stats::quantile::quantile_type7(x, q);
                    let qy = crate::stats::quantile::quantile_type7(y, q);
                    if qx > 0.0 {
                        c.estimate = finite(qy / qx);
                    }
                    let need = tail_samples_needed(q, conf);
                    c.reason = if qx <= 0.0 {
                        format!(
                            "the baseline {} is zero, so the ratio is undefined",
                            quantile_label(m)
                        )
                    } else {
                        format!(
                            "{} needs about {need} durations per side for a {:.0}% order-statistic interval; have {} baseline and {} canary",
                            quantile_label(m),
                            conf * 100.0,
                            x.len(),
                            y.len()
                        )
                    };
                    Draft {
                        comparison: c,
                        pending: Pending::Decided,
                    }
                }
            }
        }
    }
}

/// p-value of "ratio = 1" by inverting the quantile-ratio interval
/// ([`p_value_by_inversion`]; the interval widens with the confidence).
fn ci_inversion_p(x: &[f64], y: &[f64], q: f64, estimate: f64) -> f64 {
    if estimate == 1.0 || !estimate.is_finite() {
        return 1.0;
    }
    p_value_by_inversion(|c| match quantile_ratio(x, y, q, c) {
        Some(e) => e.low > 1.0 || e.high < 1.0,
        None => false,
    })
}

fn draft_threshold(
    g: &GroupComparison,
    m: MetricName,
    mc: &MetricConfig,
    cfg: &AnalysisConfig,
) -> Draft {
    if let Some(d) = too_little(g, m, mc, cfg) {
        return d;
    }
    let unit = unit_of(m);
    let mut c = shell(g, m, mc, unit);
    let (estimate, region) = match m {
        MetricName::ErrorRate => (
            Some(100.0 * (weighted_rate(&g.canary) - weighted_rate(&g.baseline))),
            pp_region(mc),
        ),
        MetricName::LatencyShift => (None, ratio_region(mc)),
        _ => {
            let q = quantile_level(m).expect("quantile metric");
            let qx = crate::stats::quantile::quantile_type7(&g.baseline.durations_ms, q);
            let qy = crate::stats::quantile::quantile_type7(&g.canary.durations_ms, q);
            ((qx > 0.0).then(|| qy / qx), ratio_region(mc))
        }
    };
    set_region(&mut c, &region);
    c.test = Some("threshold_on_point_estimate".into());
    c.estimate = estimate;
    let label = quantile_label(m);
    (c.classification, c.reason) = match estimate {
        None if m == MetricName::LatencyShift => (
            Classification::Inconclusive,
            "latency shift needs a statistical method; the threshold method does not judge it"
                .into(),
        ),
        None => (
            Classification::Inconclusive,
            format!("baseline {label} is zero, so the ratio is undefined"),
        ),
        Some(e) if e > region.high => (
            Classification::FailHigh,
            format!(
                "{label} changed by {}, beyond the allowed {} (point estimate, no statistics)",
                fmt_value(e, unit),
                fmt_value(region.high, unit)
            ),
        ),
        Some(e) if e < region.low => (
            Classification::FailLow,
            format!(
                "{label} changed by {}, beyond the allowed {} (point estimate, no statistics)",
                fmt_value(e, unit),
                fmt_value(region.low, unit)
            ),
        ),
        Some(e) => (
            Classification::Pass,
            format!(
                "{label} changed by {}, within the allowed change (point estimate, no statistics)",
                fmt_value(e, unit)
            ),
        ),
    };
    Draft {
        comparison: c,
        pending: Pending::Decided,
    }
}

/// Adjusts every raw p-value with Benjamini–Hochberg and classifies pending comparisons:
/// `fail_high`/`fail_low` when significant (interval excludes no change and adjusted p ≤ α) and
/// the estimate is beyond the allowed effect; `pass` when the interval lies within the allowed
/// effect; `inconclusive` otherwise.
///
/// Below the per-side minimum ([`Comparison::below_minimum`]) the minimum guards a pass, never
/// a fail: a comparison fails only when significant and its whole interval lies beyond the
/// allowed effect, and what would pass (here or in a judge that decided already, such as
/// Kayenta's) is `inconclusive` with the reason and, where known, the effect the sample could
/// detect.
pub fn finish(drafts: Vec<Draft>, cfg: &AnalysisConfig) -> Vec<Comparison> {
    let idx: Vec<usize> = drafts
        .iter()
        .enumerate()
        // Sequential comparisons carry their own (Bonferroni) adjustment: `sequential_judge`.
        .filter(|(_, d)| {
            d.comparison.p_value.is_some()
                && d.comparison.sequential.is_none()
                && can_reach(&d.comparison, cfg.alpha)
        })
        .map(|(i, _)| i)
        .collect();
    let raw: Vec<f64> = idx
        .iter()
        .map(|&i| drafts[i].comparison.p_value.unwrap_or(1.0))
        .collect();
    let adjusted = benjamini_hochberg(&raw);
    let mut drafts = drafts;
    for (k, &i) in idx.iter().enumerate() {
        drafts[i].comparison.p_value_adjusted = Some(adjusted[k]);
    }
    drafts
        .into_iter()
        .map(|d| {
            let mut c = d.comparison;
            if let Pending::Interval {
                estimate,
                region,
                ratio,
            } = d.pending
            {
                classify(&mut c, &estimate, &region, ratio.as_ref(), cfg);
            } else if c.below_minimum.is_some() {
                guard_decided(&mut c);
            }
            c
        })
        .collect()
}

/// Whether a comparison's test can reach significance at `alpha` at all. Fisher's exact test
/// on a 2×2 table cannot when its smallest attainable p-value given the margins exceeds α
/// (e.g. no errors on either side): such a comparison stays out of the Benjamini–Hochberg
/// family (Tarone 1990; Gilbert 2005; see [`fisher_min_attainable_p`]) and gets no adjusted
/// p-value, so tests of small samples that cannot fail do not dilute those that can.
fn can_reach(c: &Comparison, alpha: f64) -> bool {
    if c.test.as_deref() != Some("fisher_exact_two_sided") {
        return true;
    }
    let row =
        |s: &crate::analysis::findings::SideSummary| [s.errors, s.count - s.errors.min(s.count)];
    fisher_min_attainable_p([row(&c.canary), row(&c.baseline)]) <= alpha
}

/// `too little data to pass: 38 canary and 173 baseline …, below the minimum of 100 per side`.
fn below_minimum_text(s: &SampleSizes) -> String {
    format!(
        "too little data to pass: {} baseline and {} canary, below the minimum of {} per side",
        s.baseline, s.canary, s.minimum
    )
}

/// The pass guard for a comparison drafted as already decided (Kayenta, undefined intervals):
/// a pass below the minimum becomes inconclusive; inconclusive reasons say why.
fn guard_decided(c: &mut Comparison) {
    let Some(s) = c.below_minimum else { return };
    if c.reason.starts_with("too little data") {
        return;
    }
    match c.classification {
        Classification::FailHigh | Classification::FailLow => {}
        Classification::Pass => {
            c.classification = Classification::Inconclusive;
            c.reason = format!("{}; it would pass: {}", below_minimum_text(&s), c.reason);
        }
        Classification::Inconclusive => {
            c.reason = format!("{}; {}", below_minimum_text(&s), c.reason);
        }
    }
}

fn classify(
    c: &mut Comparison,
    e: &Estimate,
    region: &Region,
    ratio: Option<&RatioLimit>,
    cfg: &AnalysisConfig,
) {
    let unit = c.unit.clone();
    let p_adj = c.p_value_adjusted.unwrap_or(1.0);
    let excludes_null = e.low > region.null || e.high < region.null;
    let significant = excludes_null && p_adj <= cfg.alpha;
    let ratio_defined = ratio.filter(|r| r.estimate.is_some());
    let combine = ratio_defined.map(|r| r.combine).unwrap_or(Combine::And);
    // Below the minimum the point estimate of a small sample is not enough to fail on: the
    // whole interval must lie beyond the allowed effect.
    let small = c.below_minimum;
    let beyond = |e: &Estimate, r: &Region| match small {
        Some(_) => (e.low > r.high, e.high < r.low),
        None => (e.estimate > r.high, e.estimate < r.low),
    };
    let (high_p, low_p) = beyond(e, region);
    let within_p = region.contains_interval(e);
    let (high_r, low_r, within_r) = match ratio_defined {
        Some(r) => {
            let re = r.estimate.expect("filtered");
            let (h, l) = beyond(&re, &r.region);
            (h, l, r.region.contains_interval(&re))
        }
        None => (true, true, true),
    };
    let (beyond_high, beyond_low, within) = match (ratio_defined.is_some(), combine) {
        (false, _) => (high_p, low_p, within_p),
        (true, Combine::And) => (high_p && high_r, low_p && low_r, within_p || within_r),
        (true, Combine::Or) => (high_p || high_r, low_p || low_r, within_p && within_r),
    };
    let ci = format!(
        "{:.0}% CI [{}, {}]",
        cfg.confidence() * 100.0,
        fmt_value(e.low, &unit),
        fmt_value(e.high, &unit)
    );
    // A probability-of-superiority estimate is a level (0.5 = no change), not a change.
    let (label, rose, fell, changed) = if unit == "probability" {
        ("P(canary slower)", "rose to", "fell to", "is")
    } else {
        (quantile_label(c.metric), "rose by", "fell by", "changed by")
    };
    let est = fmt_value(e.estimate, &unit);
    let p_text = format!("adjusted p {}", fmt_p(p_adj));
    let small_note = small
        .map(|s| {
            format!(
                "; {} baseline and {} canary, below the minimum of {} per side, but the whole interval is beyond the allowed change",
                s.baseline, s.canary, s.minimum
            )
        })
        .unwrap_or_default();
    if significant && beyond_high {
        c.classification = Classification::FailHigh;
        c.reason = format!(
            "{label} {rose} {est} ({ci}, {p_text}), beyond the allowed {}{small_note}",
            fmt_value(region.high, &unit)
        );
    } else if significant && beyond_low {
        c.classification = Classification::FailLow;
        c.reason = format!(
            "{label} {fell} {est} ({ci}, {p_text}), beyond the allowed {}{small_note}",
            fmt_value(region.low, &unit)
        );
    } else if let (Some(s), true) = (small, within) {
        c.classification = Classification::Inconclusive;
        let mde = c
            .minimum_detectable_effect
            .map(|m| format!("; this sample could detect about {}", fmt_value(m, &unit)))
            .unwrap_or_default();
        c.reason = format!(
            "{}; {label} {changed} {est} and the {ci} lies within the allowed change, which a sample this small does not establish{mde}",
            below_minimum_text(&s)
        );
    } else if within {
        c.classification = Classification::Pass;
        c.reason = format!("{label} {changed} {est}; the {ci} lies within the allowed change");
    } else {
        c.classification = Classification::Inconclusive;
        let why = if beyond_high || beyond_low {
            format!("the estimate is beyond the allowed change but not significant ({p_text})")
        } else if small.is_some() && (e.estimate > region.high || e.estimate < region.low) {
            format!("the estimate is beyond the allowed change but the interval is not wholly beyond it ({p_text})")
        } else {
            "the interval reaches beyond the allowed change".to_string()
        };
        let mde = c
            .minimum_detectable_effect
            .map(|m| format!("; this sample could detect about {}", fmt_value(m, &unit)))
            .unwrap_or_default();
        let prefix = small
            .map(|s| format!("{}; ", below_minimum_text(&s)))
            .unwrap_or_default();
        c.reason = format!("{prefix}{label} {changed} {est} ({ci}): {why}{mde}");
    }
    if !matches!(c.classification, Classification::Inconclusive) {
        // A decided metric needs no detectable-effect figure; keep it only where it explains.
        c.minimum_detectable_effect = None;
    }
}
