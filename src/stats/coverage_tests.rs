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
