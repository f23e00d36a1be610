//! Calibration of the small-sample rule on A/A data (issue 11): with canary and baseline drawn
//! from one population, how often does the real judge roll back?
//!
//! Each split draws `baseline + canary` requests of one route from the same log-normal
//! latency (median 50 ms, σ = 0.5 on the log scale) with 1% errors — exchangeable, so it is a
//! random track split of stable traffic — and analyses it with the `default` preset, whose
//! per-side minimum (100) every size here is below on the canary side. The false-rollback rate
//! over [`SPLITS`] seeded splits must stay at or below α. Print the table that
//! docs/statistics.md shows with
//! `cargo test --lib analysis::calibration_tests -- --nocapture`.

use super::config::AnalysisConfig;
use super::findings::{AnalysisReport, Verdict};
use super::tests::{group, input, run, side};
use crate::model::comparison::Side;
use crate::model::comparison::{TrackSample, Window};
use crate::model::metric_data::{MetricData, PointValue, SidedPoint};
use crate::model::quality::DataQuality;
use crate::stats::proportion::wilson_interval;

/// Seeded A/A splits per group size.
const SPLITS: u64 = 200;

/// (baseline, canary) requests: fixed small canaries, then 5%, 25% and 50% canary shares.
const SIZES: [(usize, usize); 6] = [
    (80, 20),
    (170, 30),
    (250, 50),
    (380, 20),
    (150, 50),
    (60, 60),
];

/// The OpenTelemetry SDK's default explicit bucket bounds for `http.server.request.duration`
/// (seconds).
const OTEL_BOUNDS_S: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// One side's requests as two histogram points (status 200 and 500) of one route.
fn histograms(side: Side, t: &TrackSample, errors: usize) -> Vec<SidedPoint> {
    // The durations are sorted, so which requests failed is arbitrary: take every k-th.
    let step = (t.durations_ms.len() / errors.max(1)).max(1);
    let mut by_status = [
        vec![0.0; OTEL_BOUNDS_S.len() + 1],
        vec![0.0; OTEL_BOUNDS_S.len() + 1],
    ];
    for (i, d) in t.durations_ms.iter().enumerate() {
        let failed = errors > 0 && i % step == 0 && i / step < errors;
        let b = OTEL_BOUNDS_S.partition_point(|&ub| ub < d / 1000.0);
        by_status[usize::from(failed)][b] += 1.0;
    }
    ["200", "500"]
        .into_iter()
        .zip(by_status)
        .filter(|(_, counts)| counts.iter().sum::<f64>() > 0.0)
        .map(|(status, counts)| SidedPoint {
            side,
            service: "checkout".into(),
            metric: "http.server.request.duration".into(),
            unit: "s".into(),
            attributes: [
                ("http.route".to_string(), "/aa".to_string()),
                ("http.response.status_code".to_string(), status.to_string()),
            ]
            .into(),
            time_ns: 60_000_000_000,
            value: PointValue::Explicit {
                count: counts.iter().sum(),
                bounds: OTEL_BOUNDS_S.to_vec(),
                counts,
            },
        })
        .collect()
}

/// The same split analysed from metrics only.
fn run_metrics(
    g: &crate::model::comparison::GroupComparison,
    cfg: &AnalysisConfig,
) -> AnalysisReport {
    let mut points = histograms(Side::Baseline, &g.baseline, g.baseline.errors as usize);
    points.extend(histograms(
        Side::Canary,
        &g.canary,
        g.canary.errors as usize,
    ));
    let data = MetricData {
        window: Window {
            start_unix_nano: 0,
            end_unix_nano: 600_000_000_000,
        },
        bucket_ns: 60_000_000_000,
        points,
    };
    super::analyze_with_metrics_at(
        &input(vec![]),
        Some(&data),
        cfg,
        DataQuality::default(),
        "2026-01-01T00:00:00Z".into(),
    )
}

/// Among [`SPLITS`] A/A splits of one size: (false rollbacks, splits where any comparison was
/// significant after Benjamini–Hochberg) for spans, then for metrics. The second count shows
/// the tests themselves hold α; the first is lower because a fail also needs the interval
/// wholly beyond the allowed change.
fn false_rollbacks(size_index: u64, baseline: usize, canary: usize) -> [(u64, u64); 2] {
    let cfg = AnalysisConfig::default_preset();
    let mut out = [(0, 0); 2];
    for i in 0..SPLITS {
        let seed = 1_000_000 * (size_index + 1) + i;
        let g = group(
            "GET /aa",
            seed,
            0.5,
            side(baseline, 1.0, 0.01),
            side(canary, 1.0, 0.01),
        );
        let spans = run(&input(vec![g.clone()]), &cfg);
        let metrics = run_metrics(&g, &cfg);
        // The histograms must be judged, not skipped as unreadable.
        assert!(
            metrics
                .comparisons
                .iter()
                .any(|c| c.id.ends_with("latency_shift@metrics") && c.p_value.is_some()),
            "{}",
            metrics.summary
        );
        for (k, r) in [spans, metrics].iter().enumerate() {
            out[k].0 += u64::from(r.verdict == Verdict::Rollback);
            out[k].1 += u64::from(
                r.comparisons
                    .iter()
                    .any(|c| c.p_value_adjusted.is_some_and(|p| p <= cfg.alpha)),
            );
        }
    }
    out
}

#[test]
fn aa_false_rollback_rate_at_small_sizes_stays_within_alpha() {
    let alpha = AnalysisConfig::default_preset().alpha;
    let rows: Vec<_> = SIZES
        .iter()
        .enumerate()
        .map(|(i, &(b, c))| (b, c, false_rollbacks(i as u64, b, c)))
        .collect();
    let mut failures = Vec::new();
    for (k, source) in ["spans", "metrics (histograms)"].into_iter().enumerate() {
        println!("\n{source}:\n");
        println!(
            "| baseline | canary | canary share | splits | false rollbacks | rate | 95% Wilson interval | any adjusted p ≤ α |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---|---:|");
        for &(b, c, counts) in &rows {
            let (n, sig) = counts[k];
            let rate = n as f64 / SPLITS as f64;
            let w = wilson_interval(n as f64, SPLITS as f64, 0.95);
            println!(
                "| {b} | {c} | {:.0}% | {SPLITS} | {n} | {:.1}% | [{:.1}%, {:.1}%] | {:.1}% |",
                100.0 * c as f64 / (b + c) as f64,
                100.0 * rate,
                100.0 * w.low,
                100.0 * w.high,
                100.0 * sig as f64 / SPLITS as f64
            );
            // The observed rate must not exceed α, and α must lie inside or above its
            // interval (an interval wholly above α would show a miscalibrated rule).
            if rate > alpha || w.low > alpha {
                failures.push(format!("{source} {b}/{c}: {n} of {SPLITS}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "false-rollback rate above α: {failures:?}"
    );
}
