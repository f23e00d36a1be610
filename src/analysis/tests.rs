//! Tests of analysis on hand-built inputs (seeded log-normal durations, Bernoulli errors).

use super::config::{AnalysisConfig, Direction, Method};
use super::findings::{AnalysisReport, Classification, MetricName, Verdict};
use super::*;
use crate::model::comparison::{
    ComparisonInput, GroupComparison, GroupKey, GroupLevel, Quantiles, Selector, TimeBucket,
    TrackSample, Window,
};
use crate::stats::quantile::quantile_type7;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};

const BUCKETS: usize = 10;

/// One side: `n` log-normal durations (median `median_ms`, log-sd `sigma`) scaled by `scale`,
/// errors with probability `p_err`, split in arrival order into [`BUCKETS`] time buckets.
pub(super) fn track(
    seed: u64,
    n: usize,
    median_ms: f64,
    sigma: f64,
    scale: f64,
    p_err: f64,
) -> (TrackSample, Vec<TimeBucket>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ln = LogNormal::new(median_ms.ln(), sigma).unwrap();
    let draws: Vec<(f64, bool)> = (0..n)
        .map(|_| (ln.sample(&mut rng) * scale, rng.random::<f64>() < p_err))
        .collect();
    let per = n.div_ceil(BUCKETS).max(1);
    let series = draws
        .chunks(per)
        .enumerate()
        .map(|(i, ch)| {
            let mut d: Vec<f64> = ch.iter().map(|x| x.0).collect();
            d.sort_by(f64::total_cmp);
            let errors = ch.iter().filter(|x| x.1).count() as u64;
            TimeBucket {
                start_unix_nano: i as i64 * 60_000_000_000,
                count: ch.len() as u64,
                errors,
                weighted_count: ch.len() as f64,
                weighted_errors: errors as f64,
                p50_ms: quantile_type7(&d, 0.5),
                p99_ms: quantile_type7(&d, 0.99),
            }
        })
        .collect();
    let mut durations: Vec<f64> = draws.iter().map(|x| x.0).collect();
    durations.sort_by(f64::total_cmp);
    let errors = draws.iter().filter(|x| x.1).count() as u64;
    let t = TrackSample {
        count: n as u64,
        errors,
        weighted_count: n as f64,
        weighted_errors: errors as f64,
        quantiles: Quantiles {
            p50: quantile_type7(&durations, 0.5),
            p90: quantile_type7(&durations, 0.9),
            p99: quantile_type7(&durations, 0.99),
            p999: quantile_type7(&durations, 0.999),
        },
        durations_ms: durations,
        duration_buckets: Vec::new(),
    };
    (t, series)
}

/// Parameters of one side.
#[derive(Clone, Copy)]
pub(super) struct Side {
    pub(super) n: usize,
    pub(super) scale: f64,
    pub(super) p_err: f64,
}

pub(super) fn group(route: &str, seed: u64, sigma: f64, b: Side, c: Side) -> GroupComparison {
    let (baseline, baseline_series) = track(seed * 2 + 1, b.n, 50.0, sigma, b.scale, b.p_err);
    let (canary, canary_series) = track(seed * 2 + 2, c.n, 50.0, sigma, c.scale, c.p_err);
    GroupComparison {
        key: GroupKey {
            service: "checkout".into(),
            level: GroupLevel::Route,
            name: route.into(),
        },
        baseline,
        canary,
        baseline_series,
        canary_series,
    }
}

pub(super) fn input(groups: Vec<GroupComparison>) -> ComparisonInput {
    ComparisonInput {
        baseline: Selector {
            track: Some("stable".into()),
            version: None,
        },
        canary: Selector {
            track: Some("canary".into()),
            version: None,
        },
        window: Window {
            start_unix_nano: 1_700_000_000_000_000_000,
            end_unix_nano: 1_700_000_600_000_000_000,
        },
        bucket_ns: 60_000_000_000,
        canary_first_seen_unix_nano: Some(1_700_000_000_000_000_000),
        groups,
    }
}

pub(super) fn run(inp: &ComparisonInput, cfg: &AnalysisConfig) -> AnalysisReport {
    analyze_at(
        inp,
        cfg,
        DataQuality::default(),
        "2026-01-01T00:00:00Z".into(),
    )
}

fn find<'a>(r: &'a AnalysisReport, id_suffix: &str) -> &'a super::findings::Comparison {
    r.comparisons
        .iter()
        .find(|c| c.id.ends_with(id_suffix))
        .unwrap_or_else(|| panic!("no comparison {id_suffix}"))
}

pub(super) fn side(n: usize, scale: f64, p_err: f64) -> Side {
    Side { n, scale, p_err }
}

#[test]
fn clear_latency_regression_fails_high_and_rolls_back() {
    let inp = input(vec![group(
        "POST /cart",
        1,
        0.5,
        side(3000, 1.0, 0.01),
        side(3000, 1.6, 0.01),
    )]);
    let r = run(&inp, &AnalysisConfig::default_preset());
    for m in ["latency_p50", "latency_p99", "latency_shift"] {
        let c = find(&r, m);
        assert_eq!(
            c.classification,
            Classification::FailHigh,
            "{m}: {} {:?} {:?}",
            c.reason,
            c.baseline,
            c.canary
        );
        assert!(c.ci_low.unwrap() > 1.2, "{m}: {:?}", c.ci_low);
    }
    let shift = find(&r, "latency_shift");
    assert!(
        (shift.estimate.unwrap() - 1.6).abs() < 0.1,
        "{:?}",
        shift.estimate
    );
    assert_eq!(r.verdict, Verdict::Rollback, "{}", r.summary);
    assert!(r.score < 75.0);
    assert!(r.drivers.iter().any(|d| d.ends_with("latency_p99")));
    assert!(
        r.summary.contains("checkout/route/POST /cart/latency"),
        "{}",
        r.summary
    );
    // Failures sort first.
    assert!(matches!(
        r.comparisons[0].classification,
        Classification::FailHigh
    ));
}

#[test]
fn identical_distributions_pass_and_promote_at_high_n() {
    let inp = input(vec![group(
        "GET /items",
        2,
        0.3,
        side(3000, 1.0, 0.003),
        side(3000, 1.0, 0.003),
    )]);
    let r = run(&inp, &AnalysisConfig::default_preset());
    for c in &r.comparisons {
        assert_eq!(
            c.classification,
            Classification::Pass,
            "{}: {}",
            c.id,
            c.reason
        );
    }
    assert_eq!(r.verdict, Verdict::Promote, "{}", r.summary);
    assert_eq!(r.score, 100.0);
}

#[test]
fn a_large_regression_in_a_tiny_sample_fails_and_rolls_back() {
    // 30 baseline vs 25 canary requests, canary 3× slower: below the minimum of 100 per side the
    // tests still run, and an interval wholly beyond the allowed change fails.
    let inp = input(vec![group(
        "GET /rare",
        3,
        0.5,
        side(30, 1.0, 0.01),
        side(25, 3.0, 0.01),
    )]);
    let r = run(&inp, &AnalysisConfig::default_preset());
    for c in &r.comparisons {
        let s = c
            .below_minimum
            .expect("every comparison is below the minimum");
        assert_eq!((s.baseline, s.canary, s.minimum), (30, 25, 100), "{}", c.id);
        assert_ne!(c.classification, Classification::Pass, "{}", c.id);
    }
    let shift = find(&r, "latency_shift");
    assert_eq!(
        shift.classification,
        Classification::FailHigh,
        "{}",
        shift.reason
    );
    assert_eq!(shift.test.as_deref(), Some("mann_whitney_u_exact"));
    assert!(shift.ci_low.unwrap() > shift.allowed_increase.unwrap());
    assert_eq!(r.verdict, Verdict::Rollback, "{}", r.summary);
}

#[test]
fn a_tiny_sample_without_a_change_is_inconclusive_with_mde_and_continues() {
    let inp = input(vec![group(
        "GET /rare",
        3,
        0.5,
        side(30, 1.0, 0.01),
        side(25, 1.0, 0.01),
    )]);
    let r = run(&inp, &AnalysisConfig::default_preset());
    for c in &r.comparisons {
        assert_eq!(c.classification, Classification::Inconclusive, "{}", c.id);
        assert!(c.below_minimum.is_some(), "{}", c.id);
        assert!(c.reason.contains("too little data"), "{}", c.reason);
    }
    // The tests ran; the comparisons that have an interval say what the sample could detect.
    let shift = find(&r, "latency_shift");
    assert!(shift.p_value.is_some() && shift.minimum_detectable_effect.unwrap() > 1.2);
    let err = find(&r, "error_rate");
    assert!(
        err.minimum_detectable_effect.unwrap() > 1.0,
        "pp MDE at n≈30 is several pp"
    );
    assert_eq!(r.verdict, Verdict::Continue);
    assert_eq!(r.score, 0.0);
    assert_eq!(
        (r.decided.decided, r.decided.comparisons),
        (0, r.comparisons.len() as u64)
    );
    assert_eq!(
        r.decided.inconclusive_below_minimum,
        r.comparisons.len() as u64
    );
}

#[test]
fn within_the_allowed_change_below_the_minimum_is_not_a_pass() {
    // 90 vs 90 with a tight spread: above the minimum this interval would pass.
    let inp = input(vec![group(
        "GET /tight",
        11,
        0.05,
        side(90, 1.0, 0.0),
        side(90, 1.0, 0.0),
    )]);
    let mut cfg = AnalysisConfig::default_preset();
    let r = run(&inp, &cfg);
    let shift = find(&r, "latency_shift");
    assert_eq!(
        shift.classification,
        Classification::Inconclusive,
        "{}",
        shift.reason
    );
    assert!(
        shift.reason.contains("within the allowed change"),
        "{}",
        shift.reason
    );
    cfg.min_requests = 90;
    let r = run(&inp, &cfg);
    assert_eq!(
        find(&r, "latency_shift").classification,
        Classification::Pass
    );
    assert!(find(&r, "latency_shift").below_minimum.is_none());
}

#[test]
fn trivial_significant_shift_at_huge_n_passes() {
    let inp = input(vec![group(
        "GET /hot",
        4,
        0.1,
        side(3000, 1.0, 0.0),
        side(3000, 1.01, 0.0),
    )]);
    let r = run(&inp, &AnalysisConfig::default_preset());
    let s = find(&r, "latency_shift");
    assert!(
        s.p_value.unwrap() < 0.05,
        "the +1% shift is statistically significant: {:?}",
        s.p_value
    );
    assert!(s.ci_low.unwrap() > 1.0);
    assert_eq!(s.classification, Classification::Pass, "{}", s.reason);
    let e = find(&r, "error_rate");
    assert_eq!(
        e.classification,
        Classification::Pass,
        "0 vs 0 errors: {}",
        e.reason
    );
    assert_eq!(e.p_value, Some(1.0));
    assert_eq!(e.estimate, Some(0.0));
    assert_eq!(r.verdict, Verdict::Promote, "{}", r.summary);
}

#[test]
fn critical_error_failure_forces_rollback_despite_high_score() {
    let mut groups: Vec<GroupComparison> = (0..10)
        .map(|i| {
            group(
                &format!("GET /r{i:02}"),
                100 + i,
                0.3,
                side(1500, 1.0, 0.0),
                side(1500, 1.0, 0.0),
            )
        })
        .collect();
    groups.push(group(
        "POST /pay",
        7,
        0.3,
        side(1500, 1.0, 0.01),
        side(1500, 1.0, 0.08),
    ));
    let r = run(&input(groups), &AnalysisConfig::default_preset());
    let e = find(&r, "POST /pay/error_rate");
    assert_eq!(e.classification, Classification::FailHigh, "{}", e.reason);
    assert!(e.critical);
    assert!(r.score >= 90.0, "score {}", r.score);
    assert_eq!(r.verdict, Verdict::Rollback, "{}", r.summary);
    assert_eq!(r.drivers[0], e.id);
    assert_eq!(r.comparisons[0].id, e.id, "critical failure sorts first");
}

#[test]
fn bh_adjusted_p_values_are_at_least_raw() {
    let groups: Vec<GroupComparison> = (0..8)
        .map(|i| {
            group(
                &format!("GET /b{i}"),
                200 + i,
                0.5,
                side(400, 1.0, 0.02),
                side(400, 1.0 + 0.05 * i as f64, 0.02 + 0.01 * i as f64),
            )
        })
        .collect();
    let r = run(&input(groups), &AnalysisConfig::default_preset());
    let mut n = 0;
    for c in &r.comparisons {
        if let Some(p) = c.p_value {
            let a = c.p_value_adjusted.expect("adjusted with raw");
            assert!(a >= p - 1e-15 && a <= 1.0, "{}: raw {p} adjusted {a}", c.id);
            n += 1;
        } else {
            assert!(c.p_value_adjusted.is_none());
        }
    }
    assert!(n >= 16);
    // Some adjustment actually happened.
    assert!(r.comparisons.iter().any(|c| c.p_value_adjusted > c.p_value));
}

#[test]
fn tail_quantile_without_enough_data_says_why() {
    let mut cfg = AnalysisConfig::default_preset();
    cfg.metrics.latency_p999.enabled = true;
    let inp = input(vec![group(
        "GET /t",
        9,
        0.5,
        side(1000, 1.0, 0.0),
        side(1000, 1.0, 0.0),
    )]);
    let r = run(&inp, &cfg);
    let c = find(&r, "latency_p999");
    assert_eq!(c.classification, Classification::Inconclusive);
    assert!(
        c.reason.contains("needs about") && c.reason.contains("p99.9"),
        "{}",
        c.reason
    );
}

#[test]
fn error_ratio_limit_combines_with_and_or() {
    // 0.5% → 1.5%: +1 pp (beyond 0.5 pp) and ×3 (beyond ×2 only with `or`... and beyond ×1.5).
    let g = group(
        "GET /e",
        11,
        0.3,
        side(20000, 1.0, 0.005),
        side(20000, 1.0, 0.015),
    );
    let mut cfg = AnalysisConfig::default_preset();
    for m in [
        MetricName::LatencyP50,
        MetricName::LatencyP99,
        MetricName::LatencyShift,
    ] {
        match m {
            MetricName::LatencyP50 => cfg.metrics.latency_p50.enabled = false,
            MetricName::LatencyP99 => cfg.metrics.latency_p99.enabled = false,
            _ => cfg.metrics.latency_shift.enabled = false,
        }
    }
    cfg.metrics.error_rate.allowed_increase_pp = Some(0.5);
    cfg.metrics.error_rate.allowed_increase = Some(9.0); // ratio ≤ 10 allowed
    cfg.metrics.error_rate.combine = config::Combine::And;
    let r = run(&input(vec![g.clone()]), &cfg);
    let e = find(&r, "error_rate");
    assert_ne!(
        e.classification,
        Classification::FailHigh,
        "and: ratio within ×10 → no fail: {}",
        e.reason
    );
    assert!(e.effect_size.unwrap() > 2.0);
    cfg.metrics.error_rate.combine = config::Combine::Or;
    let r = run(&input(vec![g]), &cfg);
    assert_eq!(
        find(&r, "error_rate").classification,
        Classification::FailHigh
    );
}

#[test]
fn weighted_counts_drive_the_rate_estimate() {
    let mut g = group(
        "GET /w",
        12,
        0.3,
        side(1000, 1.0, 0.0),
        side(1000, 1.0, 0.0),
    );
    // Canary: 10 recorded errors standing for 100 requests each, other spans weight 1.
    g.canary.errors = 10;
    g.canary.weighted_errors = 1000.0;
    g.canary.weighted_count = 1990.0;
    let r = run(&input(vec![g]), &AnalysisConfig::default_preset());
    let e = find(&r, "error_rate");
    let expected = 100.0 * 1000.0 / 1990.0;
    assert!(
        (e.estimate.unwrap() - expected).abs() < 1e-9,
        "{:?}",
        e.estimate
    );
}

#[test]
fn kayenta_mode_follows_the_netflix_rule() {
    let cfg = AnalysisConfig::kayenta_preset();
    let bad = input(vec![group(
        "GET /k",
        13,
        0.5,
        side(1000, 1.0, 0.01),
        side(1000, 1.5, 0.01),
    )]);
    let r = run(&bad, &cfg);
    let s = find(&r, "latency_shift");
    assert_eq!(s.classification, Classification::FailHigh, "{}", s.reason);
    assert_eq!(s.unit, "ms");
    assert!(s.effect_size.unwrap() > 1.3);
    assert!(s.ci_low.unwrap() > 0.25 * s.estimate.unwrap());
    let p99 = find(&r, "latency_p99");
    assert_eq!(
        p99.classification,
        Classification::FailHigh,
        "{}",
        p99.reason
    );
    assert_eq!(r.verdict, Verdict::Rollback);

    let same = input(vec![group(
        "GET /k",
        14,
        0.5,
        side(1000, 1.0, 0.01),
        side(1000, 1.0, 0.01),
    )]);
    let r = run(&same, &cfg);
    assert!(
        r.comparisons
            .iter()
            .all(|c| c.classification == Classification::Pass),
        "{:#?}",
        r.comparisons
    );
    assert_eq!(r.verdict, Verdict::Promote);
    assert_eq!(r.score, 100.0);
}

#[test]
fn kayenta_below_a_configured_minimum_fails_but_does_not_pass() {
    let mut cfg = AnalysisConfig::kayenta_preset();
    cfg.min_requests = 100;
    let tiny = |seed, scale| {
        input(vec![group(
            "GET /k",
            seed,
            0.5,
            side(80, 1.0, 0.0),
            side(30, scale, 0.0),
        )])
    };
    let r = run(&tiny(16, 2.0), &cfg);
    let s = find(&r, "latency_shift");
    assert_eq!(s.classification, Classification::FailHigh, "{}", s.reason);
    assert!(s.below_minimum.is_some());
    let r = run(&tiny(17, 1.0), &cfg);
    let s = find(&r, "latency_shift");
    assert_eq!(
        s.classification,
        Classification::Inconclusive,
        "{}",
        s.reason
    );
    assert!(
        s.reason.starts_with("too little data to pass") && s.reason.contains("Kayenta Pass"),
        "{}",
        s.reason
    );
    assert!(r
        .comparisons
        .iter()
        .all(|c| c.classification != Classification::Pass));
}

#[test]
fn kayenta_effect_size_threshold_suppresses_small_effects() {
    let mut cfg = AnalysisConfig::kayenta_preset();
    cfg.metrics.latency_shift.allowed_increase = Some(0.5); // allowedIncrease = 1.5
    let inp = input(vec![group(
        "GET /k2",
        15,
        0.3,
        side(1000, 1.0, 0.0),
        side(1000, 1.2, 0.0),
    )]);
    let r = run(&inp, &cfg);
    let s = find(&r, "latency_shift");
    assert!(s.ci_low.unwrap() > 0.0);
    assert_eq!(
        s.classification,
        Classification::Pass,
        "mean ratio 1.2 < 1.5: {}",
        s.reason
    );
}

#[test]
fn seed_simple_uses_point_thresholds() {
    let cfg = AnalysisConfig::seed_simple_preset();
    let inp = input(vec![
        group(
            "GET /a",
            16,
            0.3,
            side(500, 1.0, 0.01),
            side(500, 1.0, 0.15),
        ),
        group("GET /b", 17, 0.3, side(500, 1.0, 0.0), side(500, 1.3, 0.0)),
        group("GET /c", 18, 0.3, side(500, 1.0, 0.0), side(500, 1.0, 0.0)),
    ]);
    let r = run(&inp, &cfg);
    assert_eq!(
        find(&r, "GET /a/error_rate").classification,
        Classification::FailHigh
    );
    assert_eq!(
        find(&r, "GET /b/latency_p99").classification,
        Classification::FailHigh
    );
    assert_eq!(
        find(&r, "GET /c/latency_p99").classification,
        Classification::Pass
    );
    assert!(r.comparisons.iter().all(|c| c.p_value.is_none()));
    assert_eq!(r.verdict, Verdict::Rollback);
    assert_eq!(r.comparisons.len(), 6);
}

#[test]
fn operation_level_only_when_configured() {
    let mut op = group(
        "db.query",
        19,
        0.3,
        side(500, 1.0, 0.0),
        side(500, 1.0, 0.0),
    );
    op.key.level = GroupLevel::Operation;
    let route = group("GET /x", 20, 0.3, side(500, 1.0, 0.0), side(500, 1.0, 0.0));
    let inp = input(vec![route, op]);
    let mut cfg = AnalysisConfig::default_preset();
    let r = run(&inp, &cfg);
    assert!(r.comparisons.iter().all(|c| c.level == GroupLevel::Route));
    cfg.levels = vec![GroupLevel::Route, GroupLevel::Operation];
    let r = run(&inp, &cfg);
    let c = find(&r, "checkout/operation/db.query/latency_p50");
    assert_eq!(c.operation.as_deref(), Some("db.query"));
    assert!(c.route.is_none());
}

#[test]
fn deterministic_and_summary_names_drivers() {
    let inp = input(vec![group(
        "POST /cart",
        21,
        0.5,
        side(800, 1.0, 0.01),
        side(800, 1.5, 0.01),
    )]);
    let cfg = AnalysisConfig::default_preset();
    let a = run(&inp, &cfg);
    let b = run(&inp, &cfg);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    let text = human_summary(&a);
    assert!(text.starts_with("verdict: ROLLBACK"), "{text}");
    assert!(text.contains("2023-11-14T22:13:20Z"), "{text}");
    assert!(text.contains(&a.drivers[0]), "{text}");
    assert!(text.contains("data quality: read 0 records"), "{text}");
}

#[test]
fn rfc3339_conversion() {
    assert_eq!(rfc3339_seconds(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339_seconds(1_700_000_000), "2023-11-14T22:13:20Z");
    assert_eq!(rfc3339_seconds(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339_seconds(-1), "1969-12-31T23:59:59Z");
}

/// A/A calibration: both sides drawn from the same distribution, `routes` routes per replicate,
/// error_rate and latency_shift judged. Returns (rollbacks under `cfg`, replicates in which any
/// raw p-value with an interval excluding no change was ≤ α, i.e. what no correction would do).
fn aa_rollbacks(cfg: &AnalysisConfig, replicates: u64, routes: u64, n: usize) -> (u64, u64) {
    let mut rollbacks = 0;
    let mut uncorrected = 0;
    for rep in 0..replicates {
        let groups: Vec<GroupComparison> = (0..routes)
            .map(|i| {
                let seed = 1_000_000 + rep * 1000 + i;
                group(
                    &format!("GET /aa{i:02}"),
                    seed,
                    0.6,
                    side(n, 1.0, 0.05),
                    side(n, 1.0, 0.05),
                )
            })
            .collect();
        let r = run(&input(groups), cfg);
        if r.verdict == Verdict::Rollback {
            rollbacks += 1;
        }
        if r.comparisons.iter().any(|c| {
            c.p_value.is_some_and(|p| p <= cfg.alpha)
                && match (c.ci_low, c.ci_high) {
                    (Some(l), Some(h)) => {
                        let null = if c.unit == "ratio" { 1.0 } else { 0.0 };
                        l > null || h < null
                    }
                    _ => false,
                }
        }) {
            uncorrected += 1;
        }
    }
    (rollbacks, uncorrected)
}

/// The strictest configuration: every allowed effect zero, both metrics critical, both
/// directions judged, so a rollback happens exactly when any comparison is significant after
/// BH. Under the complete null BH controls the family-wise error at α.
fn strict_aa_config() -> AnalysisConfig {
    let mut cfg = AnalysisConfig::default_preset();
    cfg.metrics.latency_p50.enabled = false;
    cfg.metrics.latency_p99.enabled = false;
    cfg.min_total_requests = 0;
    let e = &mut cfg.metrics.error_rate;
    e.direction = Direction::Either;
    e.allowed_increase_pp = Some(0.0);
    e.allowed_decrease_pp = Some(0.0);
    let s = &mut cfg.metrics.latency_shift;
    s.critical = true;
    s.direction = Direction::Either;
    s.allowed_increase = Some(0.0);
    s.allowed_decrease = Some(0.0);
    cfg
}

/// Upper limit for a count of rollbacks if the true rate is α: mean + 3 binomial sd.
fn limit(replicates: u64, alpha: f64) -> f64 {
    let r = replicates as f64;
    r * alpha + 3.0 * (r * alpha * (1.0 - alpha)).sqrt()
}

#[test]
fn calibration_aa_false_rollback_rate_at_most_alpha() {
    let (reps, routes, n) = (200, 10, 120);
    let cfg = strict_aa_config();
    let (rollbacks, uncorrected) = aa_rollbacks(&cfg, reps, routes, n);
    let lim = limit(reps, cfg.alpha);
    eprintln!("A/A strict: {rollbacks}/{reps} rollbacks, uncorrected {uncorrected}/{reps}, limit {lim:.1}");
    assert!(
        (rollbacks as f64) <= lim,
        "strict A/A false-rollback rate {rollbacks}/{reps} exceeds α = {} + margin ({lim:.1})",
        cfg.alpha
    );
    // The test can tell: without the correction the same data would roll back far more often.
    assert!(
        (uncorrected as f64) > 2.0 * lim,
        "uncorrected rate {uncorrected}/{reps} should be far above the limit {lim:.1}"
    );
    // With the default allowed effects, A/A must essentially never roll back.
    let mut default = AnalysisConfig::default_preset();
    default.metrics.latency_p50.enabled = false;
    default.metrics.latency_p99.enabled = false;
    let (rb, _) = aa_rollbacks(&default, 40, routes, n);
    assert!(
        (rb as f64) <= limit(40, default.alpha),
        "default preset: {rb}/40 A/A rollbacks"
    );
}

#[test]
#[ignore = "slow in debug builds: 400 replicates × 20 routes × n = 300"]
fn calibration_aa_large() {
    let (reps, routes, n) = (400, 20, 300);
    let cfg = strict_aa_config();
    let (rollbacks, uncorrected) = aa_rollbacks(&cfg, reps, routes, n);
    let lim = limit(reps, cfg.alpha);
    eprintln!("A/A strict: {rollbacks}/{reps} rollbacks, uncorrected {uncorrected}/{reps}, limit {lim:.1}");
    assert!((rollbacks as f64) <= lim);
    assert!((uncorrected as f64) > 2.0 * lim);
}

#[test]
fn kayenta_method_config_roundtrip() {
    let c = AnalysisConfig::from_toml_str(
        "preset = \"kayenta\"\n[kayenta]\ntolerance = 0.1\n",
        "k.toml",
    )
    .unwrap();
    assert_eq!(c.method, Method::Kayenta);
    assert_eq!(c.kayenta_tolerance, 0.1);
}

/// A minimal JSON Schema (draft 2020-12) checker for the keywords `docs/report.schema.json`
/// uses: `$ref` (local), `type`, `enum`, `const`, `required`, `properties`,
/// `additionalProperties`, `items`, `minimum`, `maximum`. Returns every violation with its path.
fn schema_errors(
    schema: &serde_json::Value,
    root: &serde_json::Value,
    v: &serde_json::Value,
    path: &str,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/$defs/").expect("local $ref");
        return schema_errors(&root["$defs"][name], root, v, path, out);
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "null" => v.is_null(),
            "boolean" => v.is_boolean(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "string" => v.is_string(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => false,
        });
        if !ok {
            out.push(format!("{path}: expected {types:?}, got {v}"));
            return;
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            out.push(format!("{path}: {v} not in {e:?}"));
        }
    }
    if let Some(c) = schema.get("const") {
        if c != v {
            out.push(format!("{path}: {v} is not {c}"));
        }
    }
    if let Some(x) = v.as_f64() {
        if schema
            .get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| x < m)
        {
            out.push(format!("{path}: {x} below minimum"));
        }
        if schema
            .get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|m| x > m)
        {
            out.push(format!("{path}: {x} above maximum"));
        }
    }
    if let Some(obj) = v.as_object() {
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let k = r.as_str().unwrap();
            if !obj.contains_key(k) {
                out.push(format!("{path}: missing required `{k}`"));
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, val) in obj {
            let p = format!("{path}.{k}");
            match props.and_then(|p| p.get(k)) {
                Some(s) => schema_errors(s, root, val, &p, out),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => out.push(format!("{p}: not allowed by the schema")),
                    Some(s @ Value::Object(_)) => schema_errors(s, root, val, &p, out),
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, val) in arr.iter().enumerate() {
            schema_errors(items, root, val, &format!("{path}[{i}]"), out);
        }
    }
}

fn varied_report() -> AnalysisReport {
    use crate::model::quality::{FileSummary, Issue, IssueKind};
    let mut op = group(
        "db.query",
        30,
        0.4,
        side(400, 1.0, 0.0),
        side(400, 1.0, 0.0),
    );
    op.key.level = GroupLevel::Operation;
    let inp = input(vec![
        group(
            "POST /cart",
            31,
            0.5,
            side(800, 1.0, 0.01),
            side(800, 1.5, 0.05),
        ),
        group("GET /rare", 32, 0.5, side(20, 1.0, 0.0), side(20, 1.0, 0.0)),
        op,
    ]);
    let mut cfg = AnalysisConfig::default_preset();
    cfg.levels = vec![GroupLevel::Route, GroupLevel::Operation];
    cfg.metrics.latency_p999.enabled = true;
    cfg.metrics.error_rate.allowed_increase = Some(1.0);
    let mut q = DataQuality {
        records_read: 10,
        records_ingested: 9,
        records_rejected: 1,
        ..Default::default()
    };
    q.files.push(FileSummary {
        file: "a.jsonl".into(),
        format: "otlp-json-lines".into(),
        records_read: 10,
        records_ingested: 9,
        records_rejected: 1,
    });
    q.push(Issue::rejected(
        IssueKind::BadId,
        "a.jsonl",
        Some(3),
        Some("spanId".into()),
        "empty id",
    ));
    analyze_at(&inp, &cfg, q, "2026-01-01T00:00:00Z".into())
}

#[test]
fn report_validates_against_the_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../docs/report.schema.json")).unwrap();
    let mut reports = vec![varied_report()];
    reports.push(run(
        &input(vec![group(
            "GET /k",
            33,
            0.5,
            side(300, 1.0, 0.01),
            side(300, 1.3, 0.01),
        )]),
        &AnalysisConfig::kayenta_preset(),
    ));
    reports.push(run(
        &input(vec![group(
            "GET /s",
            34,
            0.5,
            side(300, 1.0, 0.01),
            side(300, 1.3, 0.01),
        )]),
        &AnalysisConfig::seed_simple_preset(),
    ));
    for r in &reports {
        let v = serde_json::to_value(r).unwrap();
        let mut errs = Vec::new();
        schema_errors(&schema, &schema, &v, "$", &mut errs);
        assert!(errs.is_empty(), "{}: {errs:#?}", r.config_name);
    }
    let v = serde_json::to_value(&reports[0]).unwrap();
    assert!(v["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c.get("operation").is_some()));
    assert!(v["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c.get("effect_size").is_some()));
    assert!(v["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| !c["minimum_detectable_effect"].is_null()));

    // The checker can fail: a missing required field, a wrong type and an unknown field.
    let mut broken = v.clone();
    broken.as_object_mut().unwrap().remove("verdict");
    broken["score"] = serde_json::json!("high");
    broken["comparisons"][0]["surprise"] = serde_json::json!(1);
    let mut errs = Vec::new();
    schema_errors(&schema, &schema, &broken, "$", &mut errs);
    assert_eq!(errs.len(), 3, "{errs:#?}");
}

#[test]
fn generation_time_uses_source_date_epoch() {
    assert_eq!(
        generation_time_from(Some("1700000000".into())),
        "2023-11-14T22:13:20Z"
    );
    let now = generation_time_from(None);
    assert!(
        now.ends_with('Z') && now.len() == 20 && now.as_str() > "2024",
        "{now}"
    );
    assert_eq!(Verdict::Promote.exit_code(), crate::cli::EXIT_OK);
    assert_eq!(Verdict::Rollback.exit_code(), crate::cli::EXIT_ROLLBACK);
    assert_eq!(Verdict::Continue.exit_code(), crate::cli::EXIT_CONTINUE);
}

#[test]
fn zero_weight_groups_do_not_force_rollback() {
    let mut cfg = AnalysisConfig::default_preset();
    cfg.group_weights = std::collections::BTreeMap::from([("errors".to_string(), 100.0)]);
    cfg.metrics.error_rate.enabled = false;
    let inp = input(vec![group(
        "GET /z",
        40,
        0.3,
        side(2000, 1.0, 0.0),
        side(2000, 1.0, 0.0),
    )]);
    let r = run(&inp, &cfg);
    assert_eq!(r.score, 100.0, "{}", r.summary);
    assert_ne!(r.verdict, Verdict::Rollback);
}

#[test]
fn faster_canary_fails_low_only_when_decreases_are_judged() {
    let inp = input(vec![group(
        "GET /f",
        41,
        0.4,
        side(2000, 1.0, 0.0),
        side(2000, 0.6, 0.0),
    )]);
    let mut cfg = AnalysisConfig::default_preset();
    let r = run(&inp, &cfg);
    let c = find(&r, "latency_shift");
    assert_eq!(
        c.classification,
        Classification::Pass,
        "faster is fine by default: {}",
        c.reason
    );
    assert_eq!(c.allowed_decrease, None);
    cfg.metrics.latency_shift.direction = Direction::Either;
    let r = run(&inp, &cfg);
    let c = find(&r, "latency_shift");
    assert_eq!(c.classification, Classification::FailLow, "{}", c.reason);
    assert!((c.allowed_decrease.unwrap() - 0.9).abs() < 1e-12);
    assert!(c.ci_high.unwrap() < 0.9);
}

/// A report with metric comparisons of every kind (histogram error rate and latency, business
/// ratio, interval series) validates against the schema; JSON without `source` reads as spans.
#[test]
fn metric_report_validates_against_the_schema_and_old_json_reads() {
    use crate::analysis::findings::{Comparison, Source};
    use crate::model::comparison::Side as MSide;
    use crate::model::metric_data::{MetricData, PointValue, SidedPoint};
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../docs/report.schema.json")).unwrap();
    let min = 60_000_000_000i64;
    let mut points = Vec::new();
    for m in 1..=6 {
        for (side, counts) in [
            (MSide::Baseline, [0.0, 300.0, 100.0, 0.0, 0.0]),
            (MSide::Canary, [0.0, 0.0, 0.0, 300.0, 100.0]),
        ] {
            points.push(SidedPoint {
                side,
                service: "svc".into(),
                metric: "http.server.request.duration".into(),
                unit: "s".into(),
                attributes: [("http.route".to_string(), "/a".to_string())].into(),
                time_ns: m * min,
                value: PointValue::Explicit {
                    count: 400.0,
                    bounds: vec![0.1, 0.2, 0.4, 0.8],
                    counts: counts.to_vec(),
                },
            });
            for (name, v) in [("attempts", 100.0), ("placed", 90.0)] {
                points.push(SidedPoint {
                    side,
                    service: "svc".into(),
                    metric: name.into(),
                    unit: "{order}".into(),
                    attributes: Default::default(),
                    time_ns: m * min,
                    value: PointValue::Number(v + m as f64),
                });
            }
        }
    }
    let data = MetricData {
        window: crate::model::comparison::Window {
            start_unix_nano: 0,
            end_unix_nano: 7 * min,
        },
        bucket_ns: min,
        points,
    };
    let cfg = AnalysisConfig::from_toml_str(
        "[[metric_analysis.ratios]]\nname = \"conversion\"\nnumerator = \"placed\"\ndenominator = \"attempts\"\nallowed_decrease = 0.05\n[[metric_analysis.series]]\nname = \"p99\"\nmetric = \"http.server.request.duration\"\naggregation = \"p99\"\n",
        "t.toml",
    )
    .unwrap();
    let r = crate::analysis::analyze_with_metrics_at(
        &input(vec![]),
        Some(&data),
        &cfg,
        DataQuality::default(),
        "2026-01-01T00:00:00Z".into(),
    );
    let kinds: std::collections::BTreeSet<_> = r.comparisons.iter().map(|c| c.metric).collect();
    assert!(kinds.len() >= 6, "{kinds:?}");
    assert!(r.comparisons.iter().all(|c| c.source == Source::Metrics));
    assert_eq!(
        r.verdict,
        crate::analysis::findings::Verdict::Rollback,
        "{}",
        r.summary
    );
    assert!(r.definitions.iter().any(|d| d.contains("@metrics")));
    let v = serde_json::to_value(&r).unwrap();
    let mut errs = Vec::new();
    schema_errors(&schema, &schema, &v, "$", &mut errs);
    assert!(errs.is_empty(), "{errs:#?}");
    // A comparison written before `source` existed.
    let mut old = v["comparisons"][0].clone();
    old.as_object_mut().unwrap().remove("source");
    old.as_object_mut().unwrap().remove("metric_names");
    let back: Comparison = serde_json::from_value(old).unwrap();
    assert_eq!(back.source, Source::Spans);
    assert!(back.metric_names.is_empty());
}
