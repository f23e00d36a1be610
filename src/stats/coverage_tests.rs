//! Seeded Monte Carlo checks of the frequentist properties the references cannot show:
//! intervals cover the true value at (at least) their nominal rate and tests hold their level.
//!
//! Each check uses `REPS` replications, so a rate has standard error ≈ √(0.05·0.95/REPS) ≈ 0.007;
//! the bounds allow `SLACK` = 3.5 standard errors.

use super::hodges_lehmann::hodges_lehmann;
use super::mann_whitney::mann_whitney_u;
use super::proportion::{newcombe_difference, wilson_interval};
use super::quantile::quantile_ci;
use super::quantile_difference::quantile_ratio;
use super::Alternative;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp1, StandardNormal};

const REPS: usize = 1000;
const SLACK: f64 = 0.025;

fn normals(rng: &mut StdRng, n: usize, mean: f64) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let z: f64 = StandardNormal.sample(rng);
            mean + z
        })
        .collect()
}

fn sorted_exponentials(rng: &mut StdRng, n: usize) -> Vec<f64> {
    let mut v: Vec<f64> = (0..n).map(|_| Exp1.sample(rng)).collect();
    v.sort_by(f64::total_cmp);
    v
}

#[test]
fn quantile_ci_covers_at_least_nominal() {
    let mut rng = StdRng::seed_from_u64(1);
    let q = 0.9;
    let truth = -(1.0f64 - q).ln();
    let covered = (0..REPS)
        .filter(|_| {
            quantile_ci(&sorted_exponentials(&mut rng, 200), q, 0.95)
                .unwrap()
                .contains(truth)
        })
        .count();
    eprintln!("coverage {covered}/{REPS}");
    assert!(
        covered as f64 / REPS as f64 >= 0.95 - SLACK,
        "coverage {covered}/{REPS}"
    );
}

#[test]
fn quantile_ratio_covers_one_for_identical_distributions() {
    let mut rng = StdRng::seed_from_u64(2);
    let covered = (0..REPS)
        .filter(|_| {
            let x = sorted_exponentials(&mut rng, 400);
            let y = sorted_exponentials(&mut rng, 300);
            let r = quantile_ratio(&x, &y, 0.9, 0.95).unwrap();
            r.low <= 1.0 && 1.0 <= r.high
        })
        .count();
    eprintln!("coverage {covered}/{REPS}");
    assert!(
        covered as f64 / REPS as f64 >= 0.95 - SLACK,
        "coverage {covered}/{REPS}"
    );
}

#[test]
fn hodges_lehmann_interval_covers_the_shift() {
    let mut rng = StdRng::seed_from_u64(3);
    let covered = (0..REPS)
        .filter(|_| {
            let x = normals(&mut rng, 30, 0.0);
            let y = normals(&mut rng, 40, 0.5);
            let r = hodges_lehmann(&x, &y, 0.95).unwrap();
            r.low <= 0.5 && 0.5 <= r.high
        })
        .count();
    let rate = covered as f64 / REPS as f64;
    eprintln!("HL coverage {covered}/{REPS}");
    assert!((rate - 0.95).abs() <= SLACK, "coverage {covered}/{REPS}");
}

#[test]
fn mann_whitney_holds_its_level_and_has_power() {
    // The size needs more replications than the intervals: 4000 give a standard error of 0.0034.
    const SIZE_REPS: usize = 4000;
    let mut rng = StdRng::seed_from_u64(4);
    let mut rejected_null = 0;
    for _ in 0..SIZE_REPS {
        let x = normals(&mut rng, 50, 0.0);
        let y = normals(&mut rng, 60, 0.0);
        if mann_whitney_u(&x, &y, Alternative::TwoSided).p_value <= 0.05 {
            rejected_null += 1;
        }
    }
    let mut rejected_shift = 0;
    for _ in 0..REPS {
        let x = normals(&mut rng, 50, 0.0);
        let y = normals(&mut rng, 60, 0.8);
        if mann_whitney_u(&x, &y, Alternative::Greater).p_value <= 0.05 {
            rejected_shift += 1;
        }
    }
    eprintln!("MW size {rejected_null}/{SIZE_REPS}, power {rejected_shift}/{REPS}");
    let size = rejected_null as f64 / SIZE_REPS as f64;
    assert!(size <= 0.05 + 0.012, "size {rejected_null}/{SIZE_REPS}");
    // Power of the one-sided test for a 0.8 SD shift with 50 vs 60 is ≈ 0.98.
    assert!(
        rejected_shift as f64 / REPS as f64 >= 0.9,
        "power {rejected_shift}/{REPS}"
    );
}

#[test]
fn wilson_and_newcombe_cover_near_nominal() {
    let mut rng = StdRng::seed_from_u64(5);
    let (p1, p2, n1, n2) = (0.1, 0.15, 200usize, 250usize);
    let mut wilson = 0;
    let mut newcombe = 0;
    for _ in 0..REPS {
        let k1 = (0..n1).filter(|_| rng.random::<f64>() < p1).count() as f64;
        let k2 = (0..n2).filter(|_| rng.random::<f64>() < p2).count() as f64;
        if wilson_interval(k1, n1 as f64, 0.95).contains(p1) {
            wilson += 1;
        }
        let d = newcombe_difference(k1, n1 as f64, k2, n2 as f64, 0.95);
        if d.low <= p2 - p1 && p2 - p1 <= d.high {
            newcombe += 1;
        }
    }
    eprintln!("wilson {wilson}/{REPS}, newcombe {newcombe}/{REPS}");
    assert!(
        (wilson as f64 / REPS as f64 - 0.95).abs() <= SLACK,
        "wilson {wilson}/{REPS}"
    );
    assert!(
        (newcombe as f64 / REPS as f64 - 0.95).abs() <= SLACK,
        "newcombe {newcombe}/{REPS}"
    );
}

/// Latency-like bucket bounds (seconds) shared by the binned checks.
const BINNED_BOUNDS: [f64; 10] = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0];

/// Counts of `n` lognormal(`mu`, `sigma`) draws in the buckets of [`BINNED_BOUNDS`] (upper
/// inclusive, plus the `+∞` bucket).
fn binned_lognormals(rng: &mut StdRng, n: usize, mu: f64, sigma: f64) -> Vec<f64> {
    let mut counts = vec![0.0; BINNED_BOUNDS.len() + 1];
    for _ in 0..n {
        let z: f64 = StandardNormal.sample(rng);
        let v = (mu + sigma * z).exp();
        counts[BINNED_BOUNDS.partition_point(|&b| b < v)] += 1.0;
    }
    counts
}

/// Bucket probabilities of lognormal(`mu`, `sigma`) over [`BINNED_BOUNDS`].
fn lognormal_bucket_probabilities(mu: f64, sigma: f64) -> Vec<f64> {
    let cdf = |b: f64| crate::stats::distributions::normal_cdf((b.ln() - mu) / sigma);
    let mut p = Vec::new();
    let mut prev = 0.0;
    for &b in &BINNED_BOUNDS {
        p.push(cdf(b) - prev);
        prev = cdf(b);
    }
    p.push(1.0 - prev);
    p
}

#[test]
fn binned_mann_whitney_holds_its_level() {
    use super::binned_rank_test::binned_mann_whitney;
    const SIZE_REPS: usize = 4000;
    let mut rng = StdRng::seed_from_u64(6);
    let rejected = (0..SIZE_REPS)
        .filter(|_| {
            let x = binned_lognormals(&mut rng, 200, -1.5, 1.0);
            let y = binned_lognormals(&mut rng, 300, -1.5, 1.0);
            binned_mann_whitney(&x, &y, Alternative::TwoSided).p_value <= 0.05
        })
        .count();
    eprintln!("binned MW size {rejected}/{SIZE_REPS}");
    assert!(
        rejected as f64 / SIZE_REPS as f64 <= 0.05 + 0.012,
        "size {rejected}/{SIZE_REPS}"
    );
}

#[test]
fn probability_of_superiority_interval_covers() {
    use super::binned_rank_test::probability_of_superiority;
    let mut rng = StdRng::seed_from_u64(7);
    let (px, py) = (
        lognormal_bucket_probabilities(-1.5, 1.0),
        lognormal_bucket_probabilities(-1.2, 1.0),
    );
    // True θ over the bins: Σ_k py_k·(Px(<k) + ½·px_k).
    let mut below = 0.0;
    let mut theta = 0.0;
    for (a, b) in px.iter().zip(&py) {
        theta += b * (below + 0.5 * a);
        below += a;
    }
    let covered = (0..REPS)
        .filter(|_| {
            let x = binned_lognormals(&mut rng, 150, -1.5, 1.0);
            let y = binned_lognormals(&mut rng, 100, -1.2, 1.0);
            probability_of_superiority(&x, &y, 0.95)
                .unwrap()
                .interval()
                .contains(theta)
        })
        .count();
    eprintln!("θ = {theta:.4}, coverage {covered}/{REPS}");
    assert!(
        covered as f64 / REPS as f64 >= 0.95 - SLACK,
        "coverage {covered}/{REPS}"
    );
}

#[test]
fn binned_quantile_ratio_interval_covers_the_true_ratio() {
    use super::binned_rank_test::binned_quantile_ratio;
    use super::histogram_quantile::ExplicitHistogram;
    let mut rng = StdRng::seed_from_u64(8);
    // p90 of lognormal(μ, 1) is exp(μ + 1.2816); the true ratio is exp(0.3).
    let truth = 0.3f64.exp();
    let covered = (0..REPS)
        .filter(|_| {
            let h = |c| ExplicitHistogram::new(BINNED_BOUNDS.to_vec(), c).unwrap();
            let x = h(binned_lognormals(&mut rng, 400, -1.5, 1.0));
            let y = h(binned_lognormals(&mut rng, 300, -1.2, 1.0));
            let r = binned_quantile_ratio(&x, &y, 0.9, 0.95).unwrap();
            r.confidence_interval.unwrap().contains(truth)
        })
        .count();
    eprintln!("binned p90 ratio coverage {covered}/{REPS}");
    assert!(
        covered as f64 / REPS as f64 >= 0.95 - SLACK,
        "coverage {covered}/{REPS}"
    );
}
