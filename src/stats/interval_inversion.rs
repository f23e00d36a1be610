//! p-values from confidence intervals: the test that rejects "no change" at level α exactly when
//! the (1 − α) interval excludes it.
//!
//! For a family of intervals nested in the confidence level c (a higher c gives a wider
//! interval), the two-sided p-value of the null value θ₀ is
//! `p = 1 − sup{c : the interval at confidence c excludes θ₀}`, the duality of tests and
//! confidence sets (Lehmann & Romano, *Testing Statistical Hypotheses*, 3rd ed. 2005, §3.5).
//! Used where an interval has no closed-form test: the order-statistic quantile-ratio interval
//! of spans and its bucket-edge version for histograms.

/// Lowest confidence tried: an interval that contains the null value even at this confidence
/// gives p = 1.
const LOWEST_CONFIDENCE: f64 = 1e-6;

/// Bisection steps: 40 halvings of [10⁻⁶, 1] locate the supremum to about 10⁻¹².
const STEPS: usize = 40;

/// `1 − sup{c ∈ (0, 1) : excludes(c)}` by bisection, where `excludes(c)` says whether the
/// interval at confidence `c` excludes the null value; `excludes` must be monotone (true below
/// the supremum, false above it), as it is for nested intervals. Returns 1 when even the
/// 10⁻⁶-confidence interval contains the null value. For discrete intervals (order statistics)
/// the supremum is a step of the confidence, and the result is exact to 10⁻¹² at that step.
pub fn p_value_by_inversion(excludes: impl Fn(f64) -> bool) -> f64 {
    if !excludes(LOWEST_CONFIDENCE) {
        return 1.0;
    }
    let (mut lo, mut hi) = (LOWEST_CONFIDENCE, 1.0f64);
    for _ in 0..STEPS {
        let mid = 0.5 * (lo + hi);
        if excludes(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (1.0 - lo).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::distributions::{normal_ppf, normal_sf};

    /// The z interval x̄ ± z_{(1+c)/2}·se excludes 0 exactly when c < 1 − p with the two-sided
    /// z-test's p = 2·(1 − Φ(|x̄|/se)): inversion must give that closed form.
    #[test]
    fn inverting_the_z_interval_gives_the_two_sided_z_test() {
        for (mean, se) in [(0.3, 0.2), (-1.1, 0.5), (2.5, 1.0), (0.01, 1.0), (4.0, 0.8)] {
            let excludes = |c: f64| {
                let half = normal_ppf(0.5 + c / 2.0) * se;
                mean - half > 0.0 || mean + half < 0.0
            };
            let p = p_value_by_inversion(excludes);
            let closed = 2.0 * normal_sf(f64::abs(mean) / se);
            assert!(
                (p - closed).abs() < 1e-9,
                "mean {mean} se {se}: {p} vs {closed}"
            );
        }
    }

    #[test]
    fn an_interval_that_always_contains_the_null_gives_one() {
        assert_eq!(p_value_by_inversion(|_| false), 1.0);
    }

    /// A step family (a discrete interval excludes the null up to confidence 0.9 only).
    #[test]
    fn a_step_is_located_exactly() {
        let p = p_value_by_inversion(|c| c <= 0.9);
        assert!((p - 0.1).abs() < 1e-11, "{p}");
    }
}
