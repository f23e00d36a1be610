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
use super::report::Verdict;
use super::tests::{group, input, run, side};
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

/// Among [`SPLITS`] A/A splits of one size: (false rollbacks, splits where any comparison was
/// significant after Benjamini–Hochberg). The second count shows the tests themselves hold α;
/// the first is lower because a fail also needs the interval wholly beyond the allowed change.
fn false_rollbacks(size_index: u64, baseline: usize, canary: usize) -> (u64, u64) {
    let cfg = AnalysisConfig::default_preset();
    let (mut rollbacks, mut significant) = (0, 0);
    for i in 0..SPLITS {
        let seed = 1_000_000 * (size_index + 1) + i;
        let g = group(
            "GET /aa",
            seed,
            0.5,
            side(baseline, 1.0, 0.01),
            side(canary, 1.0, 0.01),
        );
        let r = run(&input(vec![g]), &cfg);
        rollbacks += u64::from(r.verdict == Verdict::Rollback);
        significant += u64::from(
            r.comparisons
                .iter()
                .any(|c| c.p_value_adjusted.is_some_and(|p| p <= cfg.alpha)),
        );
    }
    (rollbacks, significant)
}

#[test]
fn aa_false_rollback_rate_at_small_sizes_stays_within_alpha() {
    let alpha = AnalysisConfig::default_preset().alpha;
    println!(
        "| baseline | canary | canary share | splits | false rollbacks | rate | 95% Wilson interval | any adjusted p ≤ α |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---|---:|");
    let mut failures = Vec::new();
    for (i, &(b, c)) in SIZES.iter().enumerate() {
        let (k, sig) = false_rollbacks(i as u64, b, c);
        let rate = k as f64 / SPLITS as f64;
        let w = wilson_interval(k as f64, SPLITS as f64, 0.95);
        println!(
            "| {b} | {c} | {:.0}% | {SPLITS} | {k} | {:.1}% | [{:.1}%, {:.1}%] | {:.1}% |",
            100.0 * c as f64 / (b + c) as f64,
            100.0 * rate,
            100.0 * w.low,
            100.0 * w.high,
            100.0 * sig as f64 / SPLITS as f64
        );
        // The observed rate must not exceed α, and α must lie inside or above its interval
        // (an interval wholly above α would show a miscalibrated rule).
        if rate > alpha || w.low > alpha {
            failures.push(format!("{b}/{c}: {k} of {SPLITS}"));
        }
    }
    assert!(
        failures.is_empty(),
        "false-rollback rate above α: {failures:?}"
    );
}
