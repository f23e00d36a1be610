//! Fisher's exact test on a 2×2 table.

use super::distributions::ln_hypergeom_pmf;
use super::Alternative;

/// Result of [`fisher_exact`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FisherExact {
    /// p-value (see [`fisher_exact`] for the definition of each alternative).
    pub p_value: f64,
    /// Sample (unconditional) odds ratio `t00·t11 / (t01·t10)`, as `scipy.stats.fisher_exact`
    /// returns it: `+∞` when `t01·t10 = 0` and NaN when a row or column sums to zero.
    pub odds_ratio: f64,
}

/// Hypergeometric law of `X = t00` given the margins: population `good + bad`, `good` = first
/// row sum, `draws` = first column sum. Support `[lo, hi]`.
struct Hypergeom {
    good: u64,
    bad: u64,
    draws: u64,
    lo: u64,
    hi: u64,
    mode: u64,
}

impl Hypergeom {
    fn new(good: u64, bad: u64, draws: u64) -> Self {
        let lo = draws.saturating_sub(bad);
        let hi = draws.min(good);
        // scipy: int((n + 1) * (n1 + 1) / (n1 + n2 + 2)), computed exactly here.
        let mode = ((u128::from(draws) + 1) * (u128::from(good) + 1)
            / (u128::from(good) + u128::from(bad) + 2)) as u64;
        Hypergeom {
            good,
            bad,
            draws,
            lo,
            hi,
            mode: mode.clamp(lo, hi),
        }
    }

    fn pmf(&self, x: u64) -> f64 {
        if x < self.lo || x > self.hi {
            return 0.0;
        }
        ln_hypergeom_pmf(x, self.good, self.bad, self.draws).exp()
    }

    /// `pmf(x+1)/pmf(x)`.
    fn ratio_up(&self, x: u64) -> f64 {
        let (k, m, n) = (self.good as f64, self.bad as f64, self.draws as f64);
        let x = x as f64;
        (k - x) * (n - x) / ((x + 1.0) * (m - n + x + 1.0))
    }

    /// `Σ_{x ≤ from} pmf(x)` for `from ≤ mode` (terms decrease away from the mode, so the
    /// sum stops once they no longer change it).
    fn sum_down(&self, from: u64) -> f64 {
        if from < self.lo {
            return 0.0;
        }
        let mut term = self.pmf(from);
        let mut sum = term;
        let mut x = from;
        while x > self.lo && term > 0.0 {
            term /= self.ratio_up(x - 1);
            sum += term;
            x -= 1;
            if term < sum * 1e-17 {
                break;
            }
        }
        sum
    }

    /// `Σ_{x ≥ from} pmf(x)` for `from ≥ mode`.
    fn sum_up(&self, from: u64) -> f64 {
        if from > self.hi {
            return 0.0;
        }
        let mut term = self.pmf(from);
        let mut sum = term;
        let mut x = from;
        while x < self.hi && term > 0.0 {
            term *= self.ratio_up(x);
            sum += term;
            x += 1;
            if term < sum * 1e-17 {
                break;
            }
        }
        sum
    }

    /// `P(X ≤ x)`.
    fn cdf(&self, x: u64) -> f64 {
        if x >= self.hi {
            1.0
        } else if x <= self.mode {
            self.sum_down(x).min(1.0)
        } else {
            (1.0 - self.sum_up(x + 1)).max(0.0)
        }
    }

    /// `P(X ≥ x)`.
    fn sf_inclusive(&self, x: u64) -> f64 {
        if x <= self.lo {
            1.0
        } else if x >= self.mode {
            self.sum_up(x).min(1.0)
        } else {
            (1.0 - self.sum_down(x - 1)).max(0.0)
        }
    }
}

/// Fisher's exact test on the 2×2 table `[[t00, t01], [t10, t11]]`, identical to
/// `scipy.stats.fisher_exact(table, alternative=…)` (scipy ≥ 1.11, 2×2 branch).
///
/// Conditional on the margins, `X = t00` is hypergeometric (population `N`, first row sum `r0`
/// successes, first column sum `c0` draws).
/// * `Alternative::Greater` ↔ scipy `'greater'`: odds ratio > 1, `p = P(X ≥ t00)`.
/// * `Alternative::Less` ↔ scipy `'less'`: odds ratio < 1, `p = P(X ≤ t00)`.
/// * `TwoSided`: sum of `P(X = x)` over the `x` with `P(X = x) ≤ P(X = t00)·(1 + 1e-14)`
///   (scipy's relative tolerance); exactly 1 when `t00` is (numerically) the mode.
///
/// To test "the canary has the larger event rate" with `Greater`, lay the table out as
/// `[[baseline_non_events, baseline_events], [canary_non_events, canary_events]]` — or use
/// [`fisher_exact_counts`], which does so. Any row or column summing to zero gives `p = 1` and
/// an odds ratio of NaN (as scipy), so zero errors in both groups is `p = 1`.
///
/// Probabilities use Loader's saddle-point hypergeometric mass in log space; tails are summed
/// from the observed cell outwards with the term ratio and stop once terms no longer contribute,
/// so counts of 1e7 cost a few thousand steps. References: R. A. Fisher, *Statistical Methods
/// for Research Workers*, 1925, §21.02; A. Agresti, *Categorical Data Analysis*, 3rd ed.,
/// 2013, §3.5.
pub fn fisher_exact(table: [[u64; 2]; 2], alternative: Alternative) -> FisherExact {
    let [[a, b], [c, d]] = table;
    if a + b == 0 || c + d == 0 || a + c == 0 || b + d == 0 {
        return FisherExact {
            p_value: 1.0,
            odds_ratio: f64::NAN,
        };
    }
    let odds_ratio = if c > 0 && b > 0 {
        (a as f64 * d as f64) / (c as f64 * b as f64)
    } else {
        f64::INFINITY
    };
    let h = Hypergeom::new(a + b, c + d, a + c);
    let p = match alternative {
        Alternative::Less => h.cdf(a),
        Alternative::Greater => h.sf_inclusive(a),
        Alternative::TwoSided => two_sided(&h, a),
    };
    FisherExact {
        p_value: p.clamp(0.0, 1.0),
        odds_ratio,
    }
}

fn two_sided(h: &Hypergeom, a: u64) -> f64 {
    const EPSILON: f64 = 1e-14;
    let gamma = 1.0 + EPSILON;
    let pexact = h.pmf(a);
    let pmode = h.pmf(h.mode);
    if (pexact - pmode).abs() / pexact.max(pmode) <= EPSILON {
        return 1.0;
    }
    let threshold = pexact * gamma;
    if a < h.mode {
        let plower = h.cdf(a);
        if h.pmf(h.hi) > threshold {
            return plower;
        }
        // Largest x in [mode, hi] with pmf(x) ≥ threshold (pmf decreasing there).
        let (mut lo, mut hi) = (h.mode, h.hi);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if h.pmf(mid) >= threshold {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        plower + h.sf_inclusive(lo + 1)
    } else {
        let pupper = h.sf_inclusive(a);
        if h.pmf(h.lo) > threshold {
            return pupper;
        }
        // Largest x in [lo, mode] with pmf(x) ≤ threshold (pmf increasing there).
        let (mut lo, mut hi) = (h.lo, h.mode);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if h.pmf(mid) <= threshold {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        pupper + h.cdf(lo)
    }
}

/// Fisher's exact test comparing event counts `k1` of `n1` (baseline) with `k2` of `n2`
/// (canary): [`fisher_exact`] on `[[n1−k1, k1], [n2−k2, k2]]`, so that `Greater` means "the
/// canary has the larger event rate" (odds ratio = canary odds / baseline odds).
///
/// Equivalent to `scipy.stats.fisher_exact([[n1-k1, k1], [n2-k2, k2]], alternative=…)`.
/// Counts are clamped so that `k ≤ n`.
pub fn fisher_exact_counts(
    k1: u64,
    n1: u64,
    k2: u64,
    n2: u64,
    alternative: Alternative,
) -> FisherExact {
    let (k1, k2) = (k1.min(n1), k2.min(n2));
    fisher_exact([[n1 - k1, k1], [n2 - k2, k2]], alternative)
}

/// The smallest two-sided p-value [`fisher_exact`] can attain on any table with the margins
/// of `table` (Tarone's minimum achievable significance level). Conditional on the margins the
/// hypergeometric mass is unimodal, so the least likely table — the one with the smallest
/// two-sided p — is one of the two ends of the support; both are evaluated. A hypothesis whose
/// minimum exceeds α can never be rejected, so it can leave a multiple-testing family without
/// changing the error rate (R. E. Tarone, *A modified Bonferroni method for discrete data*,
/// Biometrics 46(2), 1990, 515–522; for the false discovery rate P. B. Gilbert, *A modified
/// false discovery rate multiple-comparisons procedure for discrete data*, JRSS C 54(1), 2005,
/// 143–158). With no events (a zero column) the only table has p = 1.
pub fn fisher_min_attainable_p(table: [[u64; 2]; 2]) -> f64 {
    let [[a, b], [c, d]] = table;
    let (r0, r1, c0) = (a + b, c + d, a + c);
    let lo = c0.saturating_sub(r1);
    let hi = r0.min(c0);
    let at = |x: u64| {
        fisher_exact(
            [[x, r0 - x], [c0 - x, r1 - (c0 - x)]],
            Alternative::TwoSided,
        )
        .p_value
    };
    at(lo).min(at(hi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One event among n₀ + n₁: the two tables have probabilities n₀/N and n₁/N, so the
    /// smallest two-sided p is min(n₀, n₁)/N when n₀ ≠ n₁ (1 when they are equal: both tables
    /// are as likely); no events leave a single table with p = 1.
    #[test]
    fn minimum_attainable_p_has_the_closed_form() {
        for (n0, n1) in [(19u64, 57u64), (1, 1), (40, 160), (500, 20), (30, 30)] {
            let got = fisher_min_attainable_p([[1, n0 - 1], [0, n1]]);
            let want = if n0 == n1 {
                1.0
            } else {
                n0.min(n1) as f64 / (n0 + n1) as f64
            };
            assert!((got - want).abs() < 1e-12, "{n0}/{n1}: {got} vs {want}");
        }
        assert_eq!(fisher_min_attainable_p([[0, 19], [0, 57]]), 1.0);
        // Many events: the extreme table is very unlikely.
        assert!(fisher_min_attainable_p([[3, 30], [5, 170]]) < 1e-6);
    }

    #[test]
    fn degenerate_tables() {
        let r = fisher_exact([[0, 100], [0, 200]], Alternative::TwoSided);
        assert_eq!(r.p_value, 1.0);
        assert!(r.odds_ratio.is_nan());
        let r = fisher_exact_counts(0, 1000, 0, 1000, Alternative::Greater);
        assert_eq!(r.p_value, 1.0);
    }

    #[test]
    fn large_counts_are_fast_and_finite() {
        let r = fisher_exact_counts(1_000, 10_000_000, 1_300, 10_000_000, Alternative::TwoSided);
        assert!(r.p_value > 0.0 && r.p_value < 1e-7, "{r:?}");
    }

    proptest! {
        #[test]
        fn p_values_in_unit_interval_and_one_sided_complement(
            a in 0u64..40, b in 0u64..40, c in 0u64..40, d in 0u64..40,
        ) {
            let t = [[a, b], [c, d]];
            let less = fisher_exact(t, Alternative::Less).p_value;
            let greater = fisher_exact(t, Alternative::Greater).p_value;
            let two = fisher_exact(t, Alternative::TwoSided).p_value;
            for p in [less, greater, two] {
                prop_assert!((0.0..=1.0).contains(&p));
            }
            // P(X ≤ a) + P(X ≥ a) = 1 + P(X = a) ≥ 1.
            prop_assert!(less + greater >= 1.0 - 1e-12);
            prop_assert!(two >= less.min(greater) - 1e-12);
        }
    }
}
