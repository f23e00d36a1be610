//! Calibration and power of the `progressive` preset over whole replays (issue 15), on
//! synthetic recordings whose truth is known by construction.
//!
//! Each recording: two routes of one service, 37 minutes, 50 baseline and 50 canary requests
//! a minute per route (each its own trace; log-normal durations, median 40 ms, σ = 0.5 on the
//! log scale; 1% errors), so the preset's 5% step sees about 13 canary requests per route per
//! five-minute look, the 25% step about 80 and the 50% step 250. Under A/A the
//! canary is drawn exactly as the baseline, so every rollback is false; the preset's gate
//! spends α = 0.05 over its 7 planned measurements (Haybittle–Peto), so the false-rollback
//! rate over a whole replay must stay at or below α. Bad recordings get a canary effect from
//! minute [`ONSET_MIN`] on, two minutes into the 50% step (the rollout starts at minute 0:
//! 5% over 0–10, 25% over 10–20, 50% over 20–35), with twice the traffic
//! ([`PER_MINUTE_ONSET`]): they must be rolled back after it, within the 50% step.
//!
//! Print the counts with `cargo test --lib backtest::calibration_tests -- --nocapture`.

use super::outcome::Outcome;
use super::policy::Policy;
use super::replay::{replay_summaries, ReplayOptions};
use super::summary::Summaries;
use crate::analysis::config::AnalysisConfig;
use crate::model::comparison::Side;
use crate::model::requests::{RequestLog, RequestRow};
use crate::stats::proportion::wilson_interval;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal};

const MIN: i64 = 60_000_000_000;
/// Minutes recorded (the rollout needs 35 whole ones).
const MINUTES: i64 = 37;
/// Requests a minute per route and side of the A/A recordings.
const PER_MINUTE: i64 = 50;
/// Requests a minute per route and side of the onset recordings. At [`PER_MINUTE`] the ×5
/// error onset (about 30 canary errors after it against a 1% baseline) was promoted on 1 of 10
/// seeds by the `default` analysis's own pass rule (the error comparison inconclusive, every
/// other one passed): the preset's power at that size is below 100%, which this test does not
/// claim. Twice the traffic is caught on every seed.
const PER_MINUTE_ONSET: i64 = 100;
/// When the bad recordings' canary goes bad, minutes after the start.
const ONSET_MIN: i64 = 22;
/// A/A replays.
const AA_REPLAYS: u64 = 200;
/// The preset's α.
const ALPHA: f64 = 0.05;
/// Allowed excess of the false-rollback rate's Wilson 95% upper bound over α: the bound's
/// own width at a rate near α over 200 replays (Wilson upper bound of 10/200 is 9.0%).
const WILSON_SLACK: f64 = 0.04;

/// A canary effect from [`ONSET_MIN`] on, on route 0.
#[derive(Debug, Clone, Copy)]
enum Effect {
    None,
    /// Durations × factor.
    Latency(f64),
    /// Error probability × factor.
    Errors(f64),
}

fn recording(seed: u64, effect: Effect, per_minute: i64) -> RequestLog {
    let mut rng = StdRng::seed_from_u64(seed);
    let duration = LogNormal::new(40f64.ln(), 0.5).expect("valid log-normal");
    let mut rows = Vec::with_capacity((MINUTES * per_minute * 4) as usize);
    let mut trace = seed << 32;
    for m in 0..MINUTES {
        for i in 0..per_minute {
            for route in 0..2u32 {
                for side in [Side::Baseline, Side::Canary] {
                    trace += 1;
                    let bad = side == Side::Canary && route == 0 && m >= ONSET_MIN;
                    let mut ms: f64 = duration.sample(&mut rng);
                    let mut p_error = 0.01;
                    match effect {
                        Effect::Latency(f) if bad => ms *= f,
                        Effect::Errors(f) if bad => p_error *= f,
                        _ => {}
                    }
                    rows.push(RequestRow {
                        start_ns: m * MIN + i * (MIN / per_minute) + i64::from(route),
                        duration_ns: (ms * 1e6) as i64,
                        route,
                        side,
                        is_error: rng.random_bool(p_error),
                        weight: 1.0,
                        trace_hash: crate::model::hash::splitmix64(trace),
                    });
                }
            }
        }
    }
    super::summary::test_log_routes(rows, MINUTES, &["GET /a", "GET /b"])
}

fn preset() -> Policy {
    Policy::load("progressive", &AnalysisConfig::default_preset()).expect("preset loads")
}

fn replay(log: &RequestLog, policy: &Policy, onset: Option<i64>) -> super::outcome::BacktestReport {
    let opts = ReplayOptions {
        seed: 1,
        onset_unix_nano: onset,
        bucket_ns: MIN,
        generated_at: "2026-01-01T00:00:00Z".into(),
    };
    let s = Summaries::build(log, MIN, opts.seed);
    replay_summaries(&s, policy, &opts).expect("replays")
}

#[test]
fn aa_replays_roll_back_at_most_alpha_and_mostly_promote() {
    let policy = preset();
    let (mut rolled_back, mut promoted) = (0u32, 0u32);
    for seed in 0..AA_REPLAYS {
        let r = replay(
            &recording(1000 + seed, Effect::None, PER_MINUTE),
            &policy,
            None,
        );
        match r.outcome {
            Outcome::RolledBack => rolled_back += 1,
            Outcome::Promoted => promoted += 1,
            Outcome::Incomplete => {}
        }
        // The 5% step really is small: tens of canary requests per route per look.
        let first = &r.timeline[0];
        assert!(
            (10..=45).contains(&first.canary_requests),
            "{} canary requests at the first look",
            first.canary_requests
        );
    }
    let n = AA_REPLAYS as f64;
    let ci = wilson_interval(f64::from(rolled_back), n, 0.95);
    println!(
        "progressive on {AA_REPLAYS} A/A replays: {rolled_back} rolled back (Wilson 95% [{:.3}, {:.3}]), {promoted} promoted",
        ci.low, ci.high
    );
    assert!(
        ci.high <= ALPHA + WILSON_SLACK,
        "{rolled_back} of {AA_REPLAYS} A/A replays rolled back: Wilson upper bound {:.3}",
        ci.high
    );
    assert!(
        f64::from(promoted) >= 0.9 * n,
        "only {promoted} of {AA_REPLAYS} A/A replays promoted"
    );
}

#[test]
fn latency_and_error_onsets_are_rolled_back_after_the_onset_never_before() {
    let policy = preset();
    let onset = ONSET_MIN * MIN;
    for (effect, what) in [
        (Effect::Latency(1.3), "latency"),
        (Effect::Errors(5.0), "error_rate"),
    ] {
        for seed in 0..10 {
            let r = replay(
                &recording(2000 + seed, effect, PER_MINUTE_ONSET),
                &policy,
                Some(onset),
            );
            assert_eq!(
                r.outcome,
                Outcome::RolledBack,
                "{effect:?} seed {seed}: {}",
                r.reason
            );
            assert!(
                !r.rolled_back_before_onset,
                "{effect:?} seed {seed}: rolled back before the onset: {}",
                r.reason
            );
            let at = r.decided_at_unix_nano.expect("decided");
            // Within the 50% step (20–35 minutes), after the onset.
            assert!(
                at > onset && at <= 35 * MIN,
                "{effect:?} seed {seed}: at {at}"
            );
            let failed = r.timeline.last().expect("measured");
            assert!(
                failed.detail.contains("s/route/GET /a/") && failed.detail.contains(what),
                "{effect:?} seed {seed}: {}",
                failed.detail
            );
        }
    }
}
