//! Why the sequential test exists: the false-rollback rate on A/A canaries looked at every
//! minute, fixed test repeated at every look vs. the anytime-valid test.
//!
//! Each A/A recording is simulated in-process (not through `canalyst generate`, for speed): 30
//! one-minute looks; per look the stable and canary request counts are Poisson with means
//! `TRAFFIC·(1−ρ)` and `TRAFFIC·ρ`, and each request fails with the same probability
//! `ERROR_RATE` in both arms (so H0 holds exactly). A look "rolls back" when
//! - fixed: one-sided Fisher's exact test on the cumulative counts has p < α;
//! - sequential: the errors test ([`SequentialCountTest`] with ρ = the configured split) has
//!   rejected and the canary's error share lies above ρ.
//!
//! A recording is a false rollback if any look rolls back. Rates get exact Clopper–Pearson 95%
//! intervals; docs/statistics.md ("Sequential gates") shows the table this test prints.

use super::distributions::{binomial_cdf, binomial_sf};
use super::fisher::fisher_exact_counts;
use super::sequential::{SequentialCountTest, DEFAULT_CONCENTRATION};
use super::Alternative;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Binomial, Distribution, Poisson};

const ALPHA: f64 = 0.05;
const RECORDINGS: u64 = 300;
const LOOKS: usize = 30;
const TRAFFIC: f64 = 200.0;
const ERROR_RATE: f64 = 0.02;

/// Exact (Clopper–Pearson) two-sided `1 − a` interval for `k` successes in `n` trials, by
/// bisection on the binomial tails (Clopper & Pearson, Biometrika 26, 1934).
fn clopper_pearson(k: u64, n: u64, a: f64) -> (f64, f64) {
    let solve = |f: &dyn Fn(f64) -> f64, target: f64| {
        // f is increasing in p; find f(p) = target.
        let (mut lo, mut hi) = (0.0, 1.0);
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if f(mid) < target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    };
    let low = if k == 0 {
        0.0
    } else {
        solve(&|p| binomial_sf(k - 1, n, p), a / 2.0)
    };
    let high = if k == n {
        1.0
    } else {
        solve(&|p| 1.0 - binomial_cdf(k, n, p), 1.0 - a / 2.0)
    };
    (low, high)
}

/// (fixed rollbacks, sequential rollbacks) over `RECORDINGS` recordings whose canary error rate
/// is `canary_factor` times the stable one (1 for A/A).
fn simulate(rho: f64, canary_factor: f64, seed: u64) -> (u64, u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let stable_req = Poisson::new(TRAFFIC * (1.0 - rho)).unwrap();
    let canary_req = Poisson::new(TRAFFIC * rho).unwrap();
    let (mut fixed, mut sequential) = (0, 0);
    for _ in 0..RECORDINGS {
        let mut test = SequentialCountTest::new(rho, ALPHA, DEFAULT_CONCENTRATION).unwrap();
        let (mut n_s, mut n_c, mut e_s, mut e_c) = (0u64, 0u64, 0u64, 0u64);
        let (mut fixed_hit, mut seq_hit) = (false, false);
        for _ in 0..LOOKS {
            let (rs, rc) = (
                stable_req.sample(&mut rng) as u64,
                canary_req.sample(&mut rng) as u64,
            );
            let es = Binomial::new(rs, ERROR_RATE).unwrap().sample(&mut rng);
            let ec = Binomial::new(rc, ERROR_RATE * canary_factor)
                .unwrap()
                .sample(&mut rng);
            n_s += rs;
            n_c += rc;
            e_s += es;
            e_c += ec;
            let p = fisher_exact_counts(e_s, n_s, e_c, n_c, Alternative::Greater).p_value;
            fixed_hit |= p < ALPHA;
            let look = test.update(ec, es);
            seq_hit |= look.rejected && look.share.low > rho;
        }
        fixed += u64::from(fixed_hit);
        sequential += u64::from(seq_hit);
    }
    (fixed, sequential)
}

#[test]
fn clopper_pearson_known_values() {
    // scipy.stats.binomtest(5, 20).proportion_ci(method='exact') = (0.08657147, 0.49104587)
    let (lo, hi) = clopper_pearson(5, 20, 0.05);
    assert!((lo - 0.086_571_47).abs() < 1e-7 && (hi - 0.491_045_87).abs() < 1e-7);
}

#[test]
fn sequential_holds_alpha_where_repeated_fixed_test_does_not() {
    for (i, rho) in [0.05, 0.25, 0.5].into_iter().enumerate() {
        let (fixed, seq) = simulate(rho, 1.0, 1100 + i as u64);
        let fci = clopper_pearson(fixed, RECORDINGS, 0.05);
        let sci = clopper_pearson(seq, RECORDINGS, 0.05);
        eprintln!(
            "| {:.0}% | {RECORDINGS} | {fixed} ({:.1}%, CP [{:.1}%, {:.1}%]) | {seq} ({:.1}%, CP [{:.1}%, {:.1}%]) |",
            rho * 100.0,
            100.0 * fixed as f64 / RECORDINGS as f64,
            100.0 * fci.0,
            100.0 * fci.1,
            100.0 * seq as f64 / RECORDINGS as f64,
            100.0 * sci.0,
            100.0 * sci.1
        );
        assert!(
            sci.1 <= ALPHA,
            "sequential at ρ = {rho}: {seq}/{RECORDINGS}, CP {sci:?}"
        );
        assert!(
            fci.0 > ALPHA,
            "repeated fixed at ρ = {rho}: {fixed}/{RECORDINGS}, CP {fci:?}"
        );
    }
}

#[test]
fn sequential_catches_a_tripled_error_rate() {
    // The level check above would pass for a test that never rejects; this one would not.
    let (_, seq) = simulate(0.25, 3.0, 1200);
    assert!(seq * 10 >= RECORDINGS * 9, "{seq}/{RECORDINGS} rollbacks");
}
