//! `method = "sequential"` through the real analysis: per-look merge of the bucket series,
//! the count tests, Bonferroni, classification and the report fields.
//!
//! Recordings are simulated in-process (seeded): per route and one-minute bucket the stable
//! and canary request counts are Poisson with means `traffic·(1−ρ)` and `traffic·ρ`, and each
//! request fails with probability `p` (canary: `p·factor`). Truth comes from the simulation's
//! parameters, never from canalyst's output. The A/A rates printed here are the table of
//! docs/statistics.md ("Sequential gates in analyze").

use super::config::{AnalysisConfig, Method};
use super::findings::{AnalysisReport, Classification, MetricName};
use super::looks::LookPlan;
use super::sequential_judge::TEST_NAME;
use super::tests::{input, run};
use crate::model::comparison::{
    bucket_start, GroupComparison, GroupKey, GroupLevel, TimeBucket, TrackSample,
};
use crate::stats::proportion::wilson_interval;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Binomial, Distribution, Poisson};

const MIN_NS: i64 = 60_000_000_000;
/// `tests::input`'s window starts here and lasts ten minutes (not minute-aligned: 11 looks).
const START: i64 = 1_700_000_000_000_000_000;

/// Sequential configuration with only the count comparisons (latency needs durations, which
/// these recordings do not simulate), one look per minute.
fn config(split: Option<f64>) -> AnalysisConfig {
    let mut c = AnalysisConfig::default_preset();
    c.method = Method::Sequential;
    c.sequential.traffic_split = split;
    for m in [
        &mut c.metrics.latency_p50,
        &mut c.metrics.latency_p99,
        &mut c.metrics.latency_shift,
    ] {
        m.enabled = false;
    }
    c
}

/// One side's per-bucket series and totals.
fn side(rng: &mut StdRng, per_minute: f64, p_err: f64) -> (TrackSample, Vec<TimeBucket>) {
    let mut total = TrackSample::default();
    let mut series = Vec::new();
    for minute in 0..10 {
        let n = Poisson::new(per_minute).unwrap().sample(rng) as u64;
        if n == 0 {
            continue;
        }
        let e = Binomial::new(n, p_err).unwrap().sample(rng);
        total.count += n;
        total.errors += e;
        series.push(TimeBucket {
            // Buckets are aligned to the epoch, as the engine's `date_bin` aligns them.
            start_unix_nano: bucket_start(START, MIN_NS) + minute * MIN_NS,
            count: n,
            errors: e,
            weighted_count: n as f64,
            weighted_errors: e as f64,
            p50_ms: f64::NAN,
            p99_ms: f64::NAN,
        });
    }
    total.weighted_count = total.count as f64;
    total.weighted_errors = total.errors as f64;
    (total, series)
}

/// A recording of `routes` routes, `traffic` requests per minute per route, canary share
/// `rho`, error rate `p` (canary `p·factor` on the first route only).
fn recording(
    seed: u64,
    routes: usize,
    traffic: f64,
    rho: f64,
    p: f64,
    factor: f64,
) -> Vec<GroupComparison> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..routes)
        .map(|r| {
            let (baseline, baseline_series) = side(&mut rng, traffic * (1.0 - rho), p);
            let f = if r == 0 { factor } else { 1.0 };
            let (canary, canary_series) = side(&mut rng, traffic * rho, p * f);
            GroupComparison {
                key: GroupKey {
                    service: "checkout".into(),
                    level: GroupLevel::Route,
                    name: format!("/r{r}"),
                },
                baseline,
                canary,
                baseline_series,
                canary_series,
            }
        })
        .collect()
}

fn fails(r: &AnalysisReport) -> usize {
    r.comparisons
        .iter()
        .filter(|c| {
            matches!(
                c.classification,
                Classification::FailHigh | Classification::FailLow
            )
        })
        .count()
}

#[test]
fn per_look_merge_feeds_the_report_fields() {
    // A tripled error rate on one route at a 25% share: fails with a look and time, Bonferroni
    // over 2 routes' error rates + the service's split (every one can reach the level, so
    // Tarone's family is all 3), and the interval is the rate-ratio sequence.
    let groups = recording(7, 2, 400.0, 0.25, 0.05, 3.0);
    let inp = input(groups.clone());
    let plan = LookPlan::new(inp.window, inp.bucket_ns, MIN_NS);
    let r = run(&inp, &config(Some(0.25)));
    let c = r
        .comparisons
        .iter()
        .find(|c| c.id == "checkout/route//r0/error_rate")
        .expect("error_rate of /r0");
    assert_eq!(c.classification, Classification::FailHigh, "{}", c.reason);
    assert_eq!(c.test.as_deref(), Some(TEST_NAME));
    assert_eq!(c.unit, "ratio");
    let s = c.sequential.as_ref().expect("sequential fields");
    assert_eq!(s.looks, 11);
    assert_eq!(plan.len(), 11);
    assert_eq!(s.family_size, 3, "{s:?}");
    assert!((s.level - 0.05 / 3.0).abs() < 1e-15, "{s:?}");
    assert!(s.min_attainable_p <= s.level, "{s:?}");
    let look = s.decided_at_look.expect("decided") as usize;
    assert!((1..=11).contains(&look));
    // The look's time is the end of the data it saw: a bucket boundary after the start.
    let end = bucket_start(START, MIN_NS) + look as i64 * MIN_NS;
    assert_eq!(plan.ends_unix_nano[look - 1], end);
    assert_eq!(
        s.decided_at.as_deref(),
        Some(crate::model::time::format_rfc3339_seconds(end).as_str())
    );
    assert!(c.ci_low.unwrap() > c.allowed_increase.unwrap(), "{c:?}");
    assert!(s.p_value <= s.level && c.p_value == Some(s.p_value));
    assert_eq!(c.p_value_adjusted, Some((s.p_value * 3.0).min(1.0)));
    assert_eq!(r.verdict, super::findings::Verdict::Rollback);
    // The null share at the last look is the canary share of the route's requests.
    let g = &groups[0];
    let share = g.canary.count as f64 / (g.canary.count + g.baseline.count) as f64;
    assert!((s.null_share.unwrap() - share).abs() < 1e-12);
    // The clean route does not fail, and its split (as configured) is not flagged.
    for c in r
        .comparisons
        .iter()
        .filter(|c| c.route.as_deref() == Some("/r1"))
    {
        assert!(
            !matches!(
                c.classification,
                Classification::FailHigh | Classification::FailLow
            ),
            "{c:?}"
        );
    }
    // The fixed method on the same data writes no sequential fields.
    let fixed = run(&input(groups), &AnalysisConfig::default_preset());
    assert!(fixed.comparisons.iter().all(|c| c.sequential.is_none()));
    assert!(!fixed
        .comparisons
        .iter()
        .any(|c| c.metric == MetricName::RequestSplit));
}

#[test]
fn a_broken_split_fails_the_request_split() {
    // Configured 5%, served 25%: the request split — one per service, the routes' requests
    // added up — fails high; with the split as configured nothing fails.
    let r = run(
        &input(recording(9, 3, 300.0, 0.25, 0.01, 1.0)),
        &config(Some(0.05)),
    );
    let splits: Vec<_> = r
        .comparisons
        .iter()
        .filter(|c| c.metric == MetricName::RequestSplit)
        .collect();
    assert_eq!(splits.len(), 1);
    for c in splits {
        assert_eq!(c.id, "checkout/service/request_split");
        assert_eq!(c.route, None);
        let routes = r
            .comparisons
            .iter()
            .filter(|c| c.metric == MetricName::ErrorRate);
        assert_eq!(
            c.canary.count,
            routes.map(|c| c.canary.count).sum::<u64>(),
            "the service total"
        );
        assert_eq!(c.classification, Classification::FailHigh, "{}", c.reason);
        assert!(c.critical);
        assert_eq!(c.sequential.as_ref().unwrap().null_share, Some(0.05));
    }
    let ok = run(
        &input(recording(9, 3, 300.0, 0.25, 0.01, 1.0)),
        &config(Some(0.25)),
    );
    assert_eq!(fails(&ok), 0, "{:?}", ok.comparisons);
}

#[test]
fn nothing_passes_below_the_minimum() {
    // 10 requests a minute: under 100 canary requests per route and in the service total, so
    // no sequential comparison may pass, whatever its sequence says; the minimum is reported.
    let r = run(
        &input(recording(3, 2, 10.0, 0.25, 0.01, 1.0)),
        &config(Some(0.25)),
    );
    for c in r.comparisons.iter().filter(|c| c.sequential.is_some()) {
        assert_ne!(c.classification, Classification::Pass, "{c:?}");
        assert!(c.below_minimum.is_some(), "{c:?}");
    }
}

/// Recordings per share for the A/A rate (the issue asks for at least 200).
const RECORDINGS: u64 = 200;

#[test]
fn aa_recordings_stay_within_alpha_at_5_25_and_50_percent() {
    // 4 routes × (error rate + split) per recording, 10 one-minute looks, 200 requests a minute
    // per route, 2% errors. A recording is a false rollback when any comparison fails.
    for (i, rho) in [0.05, 0.25, 0.5].into_iter().enumerate() {
        let mut rollbacks = 0u64;
        for k in 0..RECORDINGS {
            let groups = recording(50_000 + 1000 * i as u64 + k, 4, 200.0, rho, 0.02, 1.0);
            let r = run(&input(groups), &config(Some(rho)));
            rollbacks += u64::from(fails(&r) > 0);
        }
        let ci = wilson_interval(rollbacks as f64, RECORDINGS as f64, 0.95);
        eprintln!(
            "| {:.0}% | {RECORDINGS} | {rollbacks} ({:.1}%, Wilson 95% [{:.1}%, {:.1}%]) |",
            rho * 100.0,
            100.0 * rollbacks as f64 / RECORDINGS as f64,
            100.0 * ci.low,
            100.0 * ci.high
        );
        assert!(
            ci.low <= 0.05 && rollbacks as f64 / RECORDINGS as f64 <= 0.05,
            "ρ = {rho}: {rollbacks}"
        );
    }
}

#[test]
fn a_tripled_error_rate_is_caught_in_most_recordings() {
    // The level test above would pass for a gate that never fails; this one would not.
    let mut caught = 0;
    for k in 0..50 {
        let r = run(
            &input(recording(70_000 + k, 4, 200.0, 0.25, 0.05, 3.0)),
            &config(Some(0.25)),
        );
        caught += u64::from(r.comparisons.iter().any(|c| {
            c.id.ends_with("/r0/error_rate") && c.classification == Classification::FailHigh
        }));
    }
    eprintln!("tripled error rate (5% → 15%, 25% share): caught in {caught}/50 recordings");
    assert!(caught >= 45, "{caught}/50");
}
