//! Special functions and distribution functions used by the tests and intervals.
//!
//! * Normal distribution: `erfc` from the `libm` crate (a port of FreeBSD/musl's `s_erf.c`,
//!   relative error below 1 ulp-ish), quantile by Wichura's AS 241 (`PPND16`).
//! * Binomial and hypergeometric probabilities: Loader's saddle-point expansion
//!   (C. Loader, *Fast and Accurate Computation of Binomial Probabilities*, 2000; the algorithm
//!   behind R's `dbinom`/`dhyper`), which stays accurate to ~1e-14 relative for counts of 1e7
//!   where differences of `ln Γ` lose digits.
//! * Binomial tails: the regularised incomplete beta function, `P(X ≤ k) = I_{1-p}(n-k, k+1)`,
//!   evaluated by its continued fraction (modified Lentz; Press et al., *Numerical Recipes*, 3rd
//!   ed., §6.4) with the prefactor taken from Loader's binomial probability.

use std::f64::consts::FRAC_1_SQRT_2;

/// Standard normal cumulative distribution function `Φ(x)`.
///
/// Same evaluation as cephes/`scipy.special.ndtr`: with `t = x/√2`, `½ + ½·erf(t)` for
/// `|t| < 1/√2`, otherwise `½·erfc(|t|)` (reflected for `x > 0`). Matches
/// `scipy.stats.norm.cdf`. NaN propagates.
pub fn normal_cdf(x: f64) -> f64 {
    let t = x * FRAC_1_SQRT_2;
    let z = t.abs();
    if z < FRAC_1_SQRT_2 {
        return 0.5 + 0.5 * libm::erf(t);
    }
    let y = 0.5 * libm::erfc(z);
    if t > 0.0 {
        1.0 - y
    } else {
        y
    }
}

/// Standard normal survival function `1 − Φ(x) = Φ(−x)`, accurate in the upper tail.
///
/// Matches `scipy.stats.norm.sf` (which is `ndtr(−x)`). NaN propagates.
pub fn normal_sf(x: f64) -> f64 {
    normal_cdf(-x)
}

/// Standard normal quantile function `Φ⁻¹(p)`.
///
/// Algorithm AS 241 `PPND16` (M. J. Wichura, *The Percentage Points of the Normal
/// Distribution*, Applied Statistics 37(3), 1988, 477–484), relative accuracy about 1e-16.
/// Returns `-∞` for `p = 0`, `+∞` for `p = 1` and NaN outside `[0, 1]`.
/// Matches `scipy.special.ndtri` / `scipy.stats.norm.ppf`.
// The coefficients are kept exactly as published in AS 241.
#[allow(clippy::excessive_precision)]
pub fn normal_ppf(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q
            * (((((((2_509.080_928_730_122_7 * r + 33_430.575_583_588_13) * r
                + 67_265.770_927_008_7)
                * r
                + 45_921.953_931_549_87)
                * r
                + 13_731.693_765_509_461)
                * r
                + 1_971.590_950_306_551_4)
                * r
                + 133.141_667_891_784_38)
                * r
                + 3.387_132_872_796_366_5)
            / (((((((5_226.495_278_852_854 * r + 28_729.085_735_721_943) * r
                + 39_307.895_800_092_71)
                * r
                + 21_213.794_301_586_596)
                * r
                + 5_394.196_021_424_751)
                * r
                + 687.187_007_492_057_9)
                * r
                + 42.313_330_701_600_91)
                * r
                + 1.0);
    }
    let r0 = if q < 0.0 { p } else { 1.0 - p };
    let r = (-r0.ln()).sqrt();
    let val = if r <= 5.0 {
        let r = r - 1.6;
        (((((((7.745_450_142_783_414e-4 * r + 0.022_723_844_989_269_184) * r
            + 0.241_780_725_177_450_6)
            * r
            + 1.270_458_252_452_368_4)
            * r
            + 3.647_848_324_763_204_5)
            * r
            + 5.769_497_221_460_691)
            * r
            + 4.630_337_846_156_545)
            * r
            + 1.423_437_110_749_683_5)
            / (((((((1.050_750_071_644_416_8e-9 * r + 5.475_938_084_995_345e-4) * r
                + 0.015_198_666_563_616_457)
                * r
                + 0.148_103_976_427_480_08)
                * r
                + 0.689_767_334_985_1)
                * r
                + 1.676_384_830_183_803_8)
                * r
                + 2.053_191_626_637_758_8)
                * r
                + 1.0)
    } else {
        let r = r - 5.0;
        (((((((2.010_334_399_292_288_1e-7 * r + 2.711_555_568_743_487_6e-5) * r
            + 0.001_242_660_947_388_078_4)
            * r
            + 0.026_532_189_526_576_124)
            * r
            + 0.296_560_571_828_504_9)
            * r
            + 1.784_826_539_917_291_3)
            * r
            + 5.463_784_911_164_114)
            * r
            + 6.657_904_643_501_103_5)
            / (((((((2.044_263_103_389_939_8e-15 * r + 1.421_511_758_316_446e-7) * r
                + 1.846_318_317_510_054_8e-5)
                * r
                + 7.868_691_311_456_133e-4)
                * r
                + 0.014_875_361_290_850_615)
                * r
                + 0.136_929_880_922_735_8)
                * r
                + 0.599_832_206_555_888)
                * r
                + 1.0)
    };
    if q < 0.0 {
        -val
    } else {
        val
    }
}

/// Natural logarithm of the gamma function, `ln |Γ(x)|` (`libm::lgamma`, FreeBSD/musl port).
///
/// Matches `scipy.special.gammaln`. Returns `+∞` at the poles `x = 0, −1, −2, …`.
pub fn ln_gamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// `ln C(n, k)`, the logarithm of the binomial coefficient; `-∞` when `k > n`.
///
/// Computed as `lnΓ(n+1) − lnΓ(k+1) − lnΓ(n−k+1)`; the absolute error is about
/// `1e-16·n·ln n` (matches `scipy.special.gammaln` differences, or `log(scipy.special.comb)`).
pub fn ln_choose(n: u64, k: u64) -> f64 {
    if k > n {
        return f64::NEG_INFINITY;
    }
    if k == 0 || k == n {
        return 0.0;
    }
    let n = n as f64;
    let k = k as f64;
    ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0)
}

/// `ln(√(2π))`.
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// Stirling's error `δ(n) = ln n! − (n + ½) ln n + n − ln √(2π)` for integer `n ≥ 0` (Loader 2000).
fn stirlerr(n: f64) -> f64 {
    const S0: f64 = 1.0 / 12.0;
    const S1: f64 = 1.0 / 360.0;
    const S2: f64 = 1.0 / 1_260.0;
    const S3: f64 = 1.0 / 1_680.0;
    const S4: f64 = 1.0 / 1_188.0;
    if n <= 15.0 {
        if n < 1.0 {
            return 0.0;
        }
        // ln n! as a sum of logs is accurate to a few ulps for n ≤ 15.
        let ln_fact: f64 = (2..=n as u64).map(|i| (i as f64).ln()).sum();
        return ln_fact - (n + 0.5) * n.ln() + n - LN_SQRT_2PI;
    }
    let nn = n * n;
    if n > 500.0 {
        (S0 - S1 / nn) / n
    } else if n > 80.0 {
        (S0 - (S1 - S2 / nn) / nn) / n
    } else if n > 35.0 {
        (S0 - (S1 - (S2 - S3 / nn) / nn) / nn) / n
    } else {
        (S0 - (S1 - (S2 - (S3 - S4 / nn) / nn) / nn) / nn) / n
    }
}

/// Deviance term `bd0(x, m) = x ln(x/m) + m − x`, computed without cancellation (Loader 2000).
fn bd0(x: f64, np: f64) -> f64 {
    if (x - np).abs() < 0.1 * (x + np) {
        let mut v = (x - np) / (x + np);
        let mut s = (x - np) * v;
        let mut ej = 2.0 * x * v;
        v *= v;
        for j in 1..1000 {
            ej *= v;
            let s1 = s + ej / f64::from(2 * j + 1);
            if s1 == s {
                return s1;
            }
            s = s1;
        }
        s
    } else {
        x * (x / np).ln() + np - x
    }
}

/// `ln P(X = x)` for `X ~ Binomial(n, p)`, with `q = 1 − p` passed separately to keep precision
/// (Loader's `dbinom_raw`, in log form).
pub(crate) fn ln_binomial_pmf_raw(x: f64, n: f64, p: f64, q: f64) -> f64 {
    if p == 0.0 {
        return if x == 0.0 { 0.0 } else { f64::NEG_INFINITY };
    }
    if q == 0.0 {
        return if x == n { 0.0 } else { f64::NEG_INFINITY };
    }
    if x == 0.0 {
        if n == 0.0 {
            return 0.0;
        }
        return if p < 0.1 {
            -bd0(n, n * q) - n * p
        } else {
            n * q.ln()
        };
    }
    if x == n {
        return if q < 0.1 {
            -bd0(n, n * p) - n * q
        } else {
            n * p.ln()
        };
    }
    if x < 0.0 || x > n {
        return f64::NEG_INFINITY;
    }
    let lc = stirlerr(n) - stirlerr(x) - stirlerr(n - x) - bd0(x, n * p) - bd0(n - x, n * q);
    let lf = 2.0 * LN_SQRT_2PI + x.ln() + (-x / n).ln_1p();
    lc - 0.5 * lf
}

/// Binomial probability mass `P(X = k)`, `X ~ Binomial(n, p)` (Loader 2000).
///
/// Matches `scipy.stats.binom.pmf(k, n, p)`. NaN when `p` is not in `[0, 1]`.
pub fn binomial_pmf(k: u64, n: u64, p: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if k > n {
        return 0.0;
    }
    ln_binomial_pmf_raw(k as f64, n as f64, p, 1.0 - p).exp()
}

/// `ln P(X = x)` for the hypergeometric distribution: `x` successes in `draws` draws without
/// replacement from a population with `good` successes and `bad` failures.
///
/// Loader's decomposition (as in R's `dhyper`): with `p = draws/(good+bad)`,
/// `P = b(x; good, p)·b(draws−x; bad, p) / b(draws; good+bad, p)`.
pub(crate) fn ln_hypergeom_pmf(x: u64, good: u64, bad: u64, draws: u64) -> f64 {
    let total = good + bad;
    if x > good || x > draws || draws - x > bad || draws > total {
        return f64::NEG_INFINITY;
    }
    if draws == 0 || draws == total {
        return 0.0;
    }
    let p = draws as f64 / total as f64;
    let q = (total - draws) as f64 / total as f64;
    let p1 = ln_binomial_pmf_raw(x as f64, good as f64, p, q);
    let p2 = ln_binomial_pmf_raw((draws - x) as f64, bad as f64, p, q);
    let p3 = ln_binomial_pmf_raw(draws as f64, total as f64, p, q);
    p1 + p2 - p3
}

/// Continued fraction of the regularised incomplete beta function (Numerical Recipes §6.4,
/// `betacf`, modified Lentz). Converges quickly for `x < (a+1)/(a+b+2)`.
fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    const MAX_ITER: usize = 1_000_000;
    const EPS: f64 = 1e-16;
    const FPMIN: f64 = 1e-300;
    let qab = a + b;
    let qap = a + 1.0;
    let qam = a - 1.0;
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < FPMIN {
        d = FPMIN;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=MAX_ITER {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < FPMIN {
            d = FPMIN;
        }
        c = 1.0 + aa / c;
        if c.abs() < FPMIN {
            c = FPMIN;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < FPMIN {
            d = FPMIN;
        }
        c = 1.0 + aa / c;
        if c.abs() < FPMIN {
            c = FPMIN;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// Both binomial tails `(P(X ≤ k), P(X > k))`, each computed directly where it is the smaller
/// one so that neither loses relative precision.
pub(crate) fn binomial_tails(k: u64, n: u64, p: f64) -> (f64, f64) {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return (f64::NAN, f64::NAN);
    }
    if k >= n {
        return (1.0, 0.0);
    }
    if p == 0.0 {
        return (1.0, 0.0);
    }
    if p == 1.0 {
        return (0.0, 1.0);
    }
    let q = 1.0 - p;
    let (kf, nf) = (k as f64, n as f64);
    // P(X ≤ k) = I_q(a, b) with a = n − k, b = k + 1.
    let a = nf - kf;
    let b = kf + 1.0;
    if q < (a + 1.0) / (a + b + 2.0) {
        // Prefactor q^a p^b / (a·B(a, b)) = P(X = k)·p.
        let front = (ln_binomial_pmf_raw(kf, nf, p, q)).exp() * p;
        let cdf = (front * beta_continued_fraction(a, b, q)).clamp(0.0, 1.0);
        (cdf, 1.0 - cdf)
    } else {
        // P(X > k) = I_p(k + 1, n − k); prefactor = P(X = k + 1)·q.
        let front = (ln_binomial_pmf_raw(kf + 1.0, nf, p, q)).exp() * q;
        let sf = (front * beta_continued_fraction(b, a, p)).clamp(0.0, 1.0);
        (1.0 - sf, sf)
    }
}

/// Binomial cumulative distribution `P(X ≤ k)`, `X ~ Binomial(n, p)`.
///
/// Uses `P(X ≤ k) = I_{1−p}(n−k, k+1)` (regularised incomplete beta; Abramowitz & Stegun
/// 26.5.24), accurate to ~1e-13 relative for `n` up to 1e7. Matches
/// `scipy.stats.binom.cdf(k, n, p)`. NaN when `p` is not in `[0, 1]`.
pub fn binomial_cdf(k: u64, n: u64, p: f64) -> f64 {
    binomial_tails(k, n, p).0
}

/// Binomial survival function `P(X > k)`, accurate in the upper tail.
///
/// Matches `scipy.stats.binom.sf(k, n, p)`. NaN when `p` is not in `[0, 1]`.
pub fn binomial_sf(k: u64, n: u64, p: f64) -> f64 {
    binomial_tails(k, n, p).1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_functions_basic_identities() {
        assert_eq!(normal_cdf(0.0), 0.5);
        assert!((normal_ppf(0.975) - 1.959_963_984_540_054).abs() < 1e-15);
        assert_eq!(normal_ppf(0.0), f64::NEG_INFINITY);
        assert_eq!(normal_ppf(1.0), f64::INFINITY);
        assert!(normal_ppf(1.5).is_nan());
        for &p in &[1e-300, 1e-20, 1e-5, 0.1, 0.3, 0.5, 0.7, 0.99, 1.0 - 1e-12] {
            let x = normal_ppf(p);
            assert!(
                (normal_cdf(x) - p).abs() <= 1e-13 * p.max(1e-300) + 1e-300,
                "p={p}"
            );
        }
    }

    #[test]
    fn binomial_tails_sum_to_one_and_match_pmf_sums() {
        for &(n, p) in &[(10u64, 0.3), (50, 0.01), (1, 0.5), (200, 0.999)] {
            let mut acc = 0.0;
            for k in 0..=n {
                acc += binomial_pmf(k, n, p);
                let (c, s) = binomial_tails(k, n, p);
                assert!((c - acc).abs() < 1e-12, "n={n} p={p} k={k} {c} {acc}");
                assert!((c + s - 1.0).abs() < 1e-14);
            }
        }
    }

    #[test]
    fn hypergeometric_pmf_sums_to_one() {
        let total: f64 = (0..=7).map(|x| ln_hypergeom_pmf(x, 7, 13, 9).exp()).sum();
        assert!((total - 1.0).abs() < 1e-13);
    }
}
