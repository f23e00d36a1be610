//! Sample quantiles and their distribution-free confidence intervals.

use super::distributions::{binomial_tails, normal_ppf};
use super::Interval;

/// Sample quantile of an ascending-sorted slice by linear interpolation between closest ranks:
/// Hyndman & Fan (1996) definition 7, `h = (n−1)q`, `Q = x[⌊h⌋] + (h−⌊h⌋)(x[⌊h⌋+1] − x[⌊h⌋])`.
///
/// This is `numpy.quantile(x, q)` (method `"linear"`, the default), including numpy's two-sided
/// `lerp` (interpolating from the upper point when the weight is ≥ ½) so results agree to the
/// last bit. Returns NaN for an empty slice or `q` outside `[0, 1]`. The slice must be sorted
/// ascending (not checked).
///
/// Reference: R. J. Hyndman, Y. Fan, *Sample Quantiles in Statistical Packages*, The American
/// Statistician 50(4), 1996, 361–365.
pub fn quantile_type7(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 || !(0.0..=1.0).contains(&q) {
        return f64::NAN;
    }
    let (lo, t) = type7_rank(n, q);
    lerp(sorted[lo], sorted[(lo + 1).min(n - 1)], t)
}

/// The type-7 rank of `q ∈ [0, 1]` in a sample of `n ≥ 1`: `j = ⌊(n − 1)·q⌋` (0-based) and
/// `γ = (n − 1)·q − j`; the quantile is `lerp(x[j], x[min(j + 1, n − 1)], γ)`. Callers that find
/// `x[j]` by selection instead of a sort (`engine::quantile::quantile_select`) share it.
pub fn type7_rank(n: usize, q: f64) -> (usize, f64) {
    let h = (n - 1) as f64 * q;
    let j = (h.floor() as usize).min(n - 1);
    (j, h - j as f64)
}

/// numpy's `_lerp`: `a + (b−a)·t`, or `b − (b−a)·(1−t)` when `t ≥ 0.5` (more accurate near `b`,
/// and what makes [`quantile_type7`] agree with `numpy.quantile` to the last bit).
pub fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

/// 1-based order-statistic ranks `(l, u)` of the distribution-free confidence interval for the
/// `q`-quantile of a sample of size `n`; `None` when the sample is too small.
///
/// With `B ~ Binomial(n, q)`, `P(x_(l) > ξ_q) = P(B ≤ l−1)` and `P(x_(u) < ξ_q) = P(B ≥ u)`
/// for a continuous distribution. `l` is the largest rank with `P(B ≤ l−1) ≤ α/2` and `u` the
/// smallest rank with `P(B ≥ u) ≤ α/2`, so each tail misses with probability at most `α/2` and
/// the coverage `P(l ≤ B < u)` is at least `1 − α` (Conover 1999, §3.2; Hahn & Meeker 1991,
/// §5.2).
pub fn quantile_ci_ranks(n: usize, q: f64, confidence: f64) -> Option<(usize, usize)> {
    if n == 0 || !(0.0..=1.0).contains(&q) || !(confidence > 0.0 && confidence < 1.0) {
        return None;
    }
    let half_alpha = (1.0 - confidence) / 2.0;
    let n64 = n as u64;
    if binomial_tails(0, n64, q).0 > half_alpha || binomial_tails(n64 - 1, n64, q).1 > half_alpha {
        return None;
    }
    // Both searches start at the normal approximation of the rank and gallop from there: a
    // few tail evaluations instead of ~2·log2(n) bisection steps, each a continued fraction
    // that grows with √n. Same monotone predicates as bisection, so the same ranks
    // (`search_equals_bisection` checks).
    let spread = normal_ppf(1.0 - half_alpha) * (n as f64 * q * (1.0 - q)).sqrt();
    let guess = |r: f64| r.clamp(0.0, (n - 1) as f64) as u64;
    // Lower: l − 1 is the largest r with P(B ≤ r) ≤ α/2, so l is the first r where it exceeds.
    let l = if binomial_tails(n64 - 1, n64, q).0 <= half_alpha {
        n64
    } else {
        first_true(n64 - 1, guess(n as f64 * q - spread), |r| {
            binomial_tails(r, n64, q).0 > half_alpha
        })
    };
    // Upper: u − 1 is the smallest r with P(B > r) ≤ α/2.
    let u = first_true(n64 - 1, guess(n as f64 * q + spread), |r| {
        binomial_tails(r, n64, q).1 <= half_alpha
    }) + 1;
    Some((l as usize, u as usize))
}

/// The smallest `r` in `[0, hi]` with `pred(r)`, for `pred` false then true (monotone) and
/// `pred(hi)` true: gallops from `guess` (doubling steps) to a bracket, then bisects it.
fn first_true(hi: u64, guess: u64, pred: impl Fn(u64) -> bool) -> u64 {
    let g = guess.min(hi);
    // Invariant: pred(t) holds; every r ≤ f (when Some) fails.
    let (mut f, mut t): (Option<u64>, u64);
    if pred(g) {
        t = g;
        f = None;
        let mut step = 1u64;
        while t > 0 {
            let c = t.saturating_sub(step);
            if pred(c) {
                t = c;
                step = step.saturating_mul(2);
            } else {
                f = Some(c);
                break;
            }
        }
    } else {
        f = Some(g);
        let mut step = 1u64;
        loop {
            let c = g.saturating_add(step).min(hi);
            if pred(c) {
                t = c;
                break;
            }
            f = Some(c);
            step = step.saturating_mul(2);
        }
    }
    let Some(mut f) = f else { return t };
    while f + 1 < t {
        let mid = f + (t - f) / 2;
        if pred(mid) {
            t = mid;
        } else {
            f = mid;
        }
    }
    t
}

/// Distribution-free confidence interval for the population `q`-quantile from order statistics:
/// `[x_(l), x_(u)]` with the ranks of [`quantile_ci_ranks`] (equal-tailed, each tail
/// `≤ α/2`, the narrowest such pair, coverage `≥ confidence`).
///
/// References: W. J. Conover, *Practical Nonparametric Statistics*, 3rd ed., 1999, §3.2
/// ("confidence interval for a quantile"); G. J. Hahn, W. Q. Meeker, *Statistical Intervals*,
/// 1991, §5.2. Reference values come from `scipy.stats.binom.cdf` with the same rule.
///
/// `sorted` must be ascending. Returns `None` for an empty slice, invalid `q`/`confidence`, or
/// when `n` is too small for the requested coverage (e.g. `(1−q)^n > α/2`: even the minimum is
/// not a valid lower bound). Ties make the interval conservative, never anti-conservative.
pub fn quantile_ci(sorted: &[f64], q: f64, confidence: f64) -> Option<Interval> {
    let (l, u) = quantile_ci_ranks(sorted.len(), q, confidence)?;
    Some(Interval {
        low: sorted[l - 1],
        high: sorted[u - 1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The bisection [`quantile_ci_ranks`] used before the galloping search, as its oracle.
    fn ranks_by_bisection(n: usize, q: f64, confidence: f64) -> Option<(usize, usize)> {
        let half_alpha = (1.0 - confidence) / 2.0;
        let n64 = n as u64;
        if binomial_tails(0, n64, q).0 > half_alpha {
            return None;
        }
        let (mut lo, mut hi) = (0u64, n64 - 1);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if binomial_tails(mid, n64, q).0 <= half_alpha {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let l = lo as usize + 1;
        if binomial_tails(n64 - 1, n64, q).1 > half_alpha {
            return None;
        }
        let (mut lo, mut hi) = (0u64, n64 - 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if binomial_tails(mid, n64, q).1 <= half_alpha {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Some((l, lo as usize + 1))
    }

    #[test]
    fn search_equals_bisection() {
        let mut sizes: Vec<usize> = (1..=120).collect();
        sizes.extend([499, 1000, 4321, 100_000, 1_234_567]);
        let mut checked = 0;
        for &n in &sizes {
            for q in [0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999] {
                for c in [0.5, 0.8, 0.95, 0.99, 0.999_999] {
                    assert_eq!(
                        quantile_ci_ranks(n, q, c),
                        ranks_by_bisection(n, q, c),
                        "n={n} q={q} c={c}"
                    );
                    checked += quantile_ci_ranks(n, q, c).is_some() as usize;
                }
            }
        }
        assert!(checked > 1000, "{checked}");
        for (hi, target) in [
            (0u64, 0u64),
            (10, 0),
            (10, 10),
            (1000, 777),
            (u64::MAX / 2, 3),
        ] {
            for guess in [0, 1, 5, 500, 999, 1000] {
                assert_eq!(first_true(hi, guess, |r| r >= target), target);
            }
        }
    }

    #[test]
    fn type7_small_cases() {
        assert!(quantile_type7(&[], 0.5).is_nan());
        assert_eq!(quantile_type7(&[3.0], 0.99), 3.0);
        assert_eq!(quantile_type7(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
        assert_eq!(quantile_type7(&[1.0, 2.0, 3.0, 4.0], 1.0), 4.0);
        assert_eq!(quantile_type7(&[1.0, 2.0, 3.0, 4.0], 0.0), 1.0);
    }

    #[test]
    fn median_ci_of_small_sample() {
        // n = 5, q = 0.5, 90%: P(B ≤ 0) = 1/32 ≤ 0.05, P(B ≤ 1) = 6/32 > 0.05 → ranks (1, 5).
        assert_eq!(quantile_ci_ranks(5, 0.5, 0.9), Some((1, 5)));
        // n = 5 at 95%: 1/32 > 0.025 → no interval.
        assert_eq!(quantile_ci_ranks(5, 0.5, 0.95), None);
        assert_eq!(quantile_ci(&[], 0.5, 0.95), None);
        // p99 of 100 values has no upper order statistic at 95%.
        assert_eq!(quantile_ci_ranks(100, 0.99, 0.95), None);
    }

    proptest! {
        #[test]
        fn type7_monotone_in_q(mut v in prop::collection::vec(-1e6f64..1e6, 1..50), a in 0.0f64..1.0, b in 0.0f64..1.0) {
            v.sort_by(f64::total_cmp);
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(quantile_type7(&v, lo) <= quantile_type7(&v, hi));
            prop_assert!(quantile_type7(&v, lo) >= v[0] && quantile_type7(&v, hi) <= v[v.len() - 1]);
        }

        #[test]
        fn ci_brackets_the_estimate(mut v in prop::collection::vec(-1e6f64..1e6, 1..400), q in 0.05f64..0.95) {
            v.sort_by(f64::total_cmp);
            if let Some((l, u)) = quantile_ci_ranks(v.len(), q, 0.9) {
                prop_assert!(l <= u && l >= 1 && u <= v.len());
                let ci = quantile_ci(&v, q, 0.9).unwrap();
                let est = quantile_type7(&v, q);
                prop_assert!(ci.low <= est && est <= ci.high, "{ci:?} {est}");
            }
        }
    }
}
