//! Minimum detectable effects: what an inconclusive comparison could have detected.

use super::distributions::normal_ppf;
use std::f64::consts::PI;

fn z_sum(alpha: f64, power: f64) -> f64 {
    normal_ppf(1.0 - alpha / 2.0) + normal_ppf(power)
}

/// Smallest increase `δ` of an event rate over `p_base` that a two-sided level-`alpha` test of
/// two proportions detects with probability `power` given `n1` baseline and `n2` canary
/// requests (normal approximation, no continuity correction).
///
/// `δ` solves `δ = z_{1−α/2}·√(p̄(1−p̄)(1/n1 + 1/n2)) + z_{power}·√(p1(1−p1)/n1 + p2(1−p2)/n2)`
/// with `p1 = p_base`, `p2 = p_base + δ`, `p̄ = (n1 p1 + n2 p2)/(n1 + n2)`: the sample-size
/// equation of J. L. Fleiss, B. Levin, M. C. Paik, *Statistical Methods for Rates and
/// Proportions*, 3rd ed., 2003, eq. 4.14 (also Chow, Shao & Wang, *Sample Size Calculations in
/// Clinical Research*, 2008, §4.2), solved for the difference by bisection. Using the variance
/// under the alternative keeps the answer informative when the baseline has no errors
/// (`p_base = 0`). Returns the absolute difference, at most `1 − p_base` (when even that is not
/// detectable, `1 − p_base` is returned); NaN for invalid inputs.
pub fn mde_rate_difference(n1: f64, n2: f64, p_base: f64, alpha: f64, power: f64) -> f64 {
    let valid = n1 > 0.0
        && n2 > 0.0
        && (0.0..1.0).contains(&p_base)
        && alpha > 0.0
        && alpha < 1.0
        && power > 0.0
        && power < 1.0;
    if !valid {
        return f64::NAN;
    }
    let za = normal_ppf(1.0 - alpha / 2.0);
    let zb = normal_ppf(power);
    let p1 = p_base;
    // g(δ) = δ − required(δ); negative below the MDE.
    let g = |d: f64| {
        let p2 = p1 + d;
        let pbar = (n1 * p1 + n2 * p2) / (n1 + n2);
        let null_sd = (pbar * (1.0 - pbar) * (1.0 / n1 + 1.0 / n2)).sqrt();
        let alt_sd = (p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2).sqrt();
        d - (za * null_sd + zb * alt_sd)
    };
    let (mut lo, mut hi) = (0.0, 1.0 - p1);
    if g(hi) < 0.0 {
        return hi;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if g(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-15 * hi {
            break;
        }
    }
    hi
}

/// Smallest multiplicative latency shift detectable by the Mann–Whitney test: with `σ` the
/// standard deviation of log-latency, `δ = (z_{1−α/2} + z_{power})·σ·√((1/n1 + 1/n2)·π/3)` and
/// the result is `exp(δ) − 1` (e.g. 0.12 = a 12% slowdown).
///
/// This is the two-sample t-test (normal) formula with the sample sizes deflated by the
/// Mann–Whitney test's asymptotic relative efficiency under normality, `3/π` (E. L. Lehmann,
/// *Nonparametrics: Statistical Methods Based on Ranks*, 1975, §2.4; G. E. Noether, *Sample
/// Size Determination for Some Common Nonparametric Tests*, JASA 82(398), 1987, 645–647).
/// Two-sided. NaN for invalid inputs.
pub fn mde_log_shift(n1: f64, n2: f64, sd_log: f64, alpha: f64, power: f64) -> f64 {
    let valid = n1 > 0.0
        && n2 > 0.0
        && sd_log >= 0.0
        && alpha > 0.0
        && alpha < 1.0
        && power > 0.0
        && power < 1.0;
    if !valid {
        return f64::NAN;
    }
    let delta = z_sum(alpha, power) * sd_log * ((1.0 / n1 + 1.0 / n2) * PI / 3.0).sqrt();
    delta.exp_m1()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_mde_solves_its_equation_and_shrinks_with_n() {
        let small = mde_rate_difference(1_000.0, 1_000.0, 0.01, 0.05, 0.8);
        let large = mde_rate_difference(100_000.0, 100_000.0, 0.01, 0.05, 0.8);
        assert!(large < small && large > 0.0);
        let zero_base = mde_rate_difference(1_000.0, 1_000.0, 0.0, 0.05, 0.8);
        assert!(zero_base > 0.0 && zero_base < 0.05);
        assert!(mde_rate_difference(0.0, 10.0, 0.1, 0.05, 0.8).is_nan());
    }

    #[test]
    fn log_shift_mde_matches_formula() {
        // z_{0.975} + z_{0.8} = 1.959964 + 0.841621 = 2.801585.
        let d = 2.801_585_218_112_968 * 0.5 * ((2.0 / 100.0) * PI / 3.0).sqrt();
        assert!((mde_log_shift(100.0, 100.0, 0.5, 0.05, 0.8) - d.exp_m1()).abs() < 1e-12);
        assert_eq!(mde_log_shift(100.0, 100.0, 0.0, 0.05, 0.8), 0.0);
    }
}
