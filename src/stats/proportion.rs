//! Intervals for a proportion, a difference of proportions and a ratio of rates.
//!
//! Counts are `f64` so that weighted (head-sampled) counts can be used directly.

use super::{two_sided_z, Estimate, Interval};

/// Wilson score interval for a binomial proportion `k/n` (two-sided, no continuity correction):
///
/// `(p̂ + z²/(2n) ± z·√(p̂(1−p̂)/n + z²/(4n²))) / (1 + z²/n)`, `z = z_{1−α/2}`.
///
/// E. B. Wilson, *Probable Inference, the Law of Succession, and Statistical Inference*, JASA
/// 22(158), 1927, 209–212. Matches
/// `scipy.stats.binomtest(k, n).proportion_ci(confidence_level, method="wilson")`.
/// `k` is clamped to `[0, n]`; `n ≤ 0` (no data) gives `[0, 1]`. The bounds are clamped to
/// `[0, 1]` against rounding.
pub fn wilson_interval(k: f64, n: f64, confidence: f64) -> Interval {
    if n.is_nan() || k.is_nan() || n <= 0.0 {
        return Interval {
            low: 0.0,
            high: 1.0,
        };
    }
    let k = k.clamp(0.0, n);
    let z = two_sided_z(confidence);
    let p = k / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    // At k = 0 (k = n) the lower (upper) bound is exactly 0 (1); computed as center ∓ half it
    // can land an ulp inside, excluding the estimate itself.
    Interval {
        low: if k == 0.0 {
            0.0
        } else {
            (center - half).max(0.0)
        },
        high: if k == n {
            1.0
        } else {
            (center + half).min(1.0)
        },
    }
}

/// Difference of proportions `p2 − p1` (canary `k2/n2` minus baseline `k1/n1`) with Newcombe's
/// two-sided hybrid score interval (method 10, no continuity correction):
///
/// with Wilson intervals `[l1, u1]`, `[l2, u2]`,
/// `low = (p2−p1) − √((p2−l2)² + (u1−p1)²)`, `high = (p2−p1) + √((u2−p2)² + (p1−l1)²)`.
///
/// R. G. Newcombe, *Interval estimation for the difference between independent proportions:
/// comparison of eleven methods*, Statistics in Medicine 17(8), 1998, 873–890 (method 10).
/// No scipy function exists; the reference combines scipy's Wilson intervals with this formula,
/// and the unit test reproduces Newcombe's worked example (56/70 vs 48/80). Finite (in
/// `[−1, 1]`) when both groups have zero events. When a group has `n ≤ 0` the estimate is NaN
/// and the interval is `[−1, 1]`.
pub fn newcombe_difference(k1: f64, n1: f64, k2: f64, n2: f64, confidence: f64) -> Estimate {
    if !(n1 > 0.0 && n2 > 0.0) {
        return Estimate {
            estimate: f64::NAN,
            low: -1.0,
            high: 1.0,
        };
    }
    let (k1, k2) = (k1.clamp(0.0, n1), k2.clamp(0.0, n2));
    let (p1, p2) = (k1 / n1, k2 / n2);
    let w1 = wilson_interval(k1, n1, confidence);
    let w2 = wilson_interval(k2, n2, confidence);
    let d = p2 - p1;
    Estimate {
        estimate: d,
        low: d - ((p2 - w2.low).powi(2) + (w1.high - p1).powi(2)).sqrt(),
        high: d + ((w2.high - p2).powi(2) + (p1 - w1.low).powi(2)).sqrt(),
    }
}

/// Ratio of rates `p2/p1 = (k2/n2)/(k1/n1)` (canary over baseline) with the two-sided Katz log
/// interval:
/// `exp(ln RR ± z·√(1/k2 − 1/n2 + 1/k1 − 1/n1))`.
///
/// D. Katz, J. Baptista, S. P. Azen, M. C. Pike, *Obtaining Confidence Intervals for the Risk
/// Ratio in Cohort Studies*, Biometrics 34(3), 1978, 469–474. Matches
/// `scipy.stats.contingency.relative_risk(k2, n2, k1, n1).confidence_interval(confidence)`
/// when both counts are positive.
///
/// Zero counts: if `k1 = 0` or `k2 = 0`, 0.5 is added to every cell of the 2×2 table (events
/// and non-events of both groups, i.e. `k += 0.5`, `n += 1`; the Haldane–Anscombe correction),
/// for the estimate and the interval alike, so the result is finite; with zero events in both
/// groups it is ≈ 1 with a wide interval. Returns `None` when `n1 ≤ 0` or `n2 ≤ 0`.
pub fn rate_ratio(k1: f64, n1: f64, k2: f64, n2: f64, confidence: f64) -> Option<Estimate> {
    if !(n1 > 0.0 && n2 > 0.0) || k1.is_nan() || k2.is_nan() {
        return None;
    }
    let (mut k1, mut n1, mut k2, mut n2) = (k1.clamp(0.0, n1), n1, k2.clamp(0.0, n2), n2);
    if k1 == 0.0 || k2 == 0.0 {
        k1 += 0.5;
        k2 += 0.5;
        n1 += 1.0;
        n2 += 1.0;
    }
    let z = two_sided_z(confidence);
    let rr = (k2 / n2) / (k1 / n1);
    let se = (1.0 / k2 - 1.0 / n2 + 1.0 / k1 - 1.0 / n1).max(0.0).sqrt();
    Some(Estimate {
        estimate: rr,
        low: rr * (-z * se).exp(),
        high: rr * (z * se).exp(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn newcombe_worked_example() {
        // Newcombe (1998), Table II, example (a): 56/70 vs 48/80, method 10: 0.0524 to 0.3339
        // for p1 − p2; here the groups are swapped, so the interval is mirrored.
        let e = newcombe_difference(48.0, 80.0, 56.0, 70.0, 0.95);
        assert!((e.estimate - 0.2).abs() < 1e-12);
        assert!((e.low - 0.0524).abs() < 5e-5, "{e:?}");
        assert!((e.high - 0.3339).abs() < 5e-5, "{e:?}");
    }

    #[test]
    fn zero_events_in_both_groups() {
        let e = newcombe_difference(0.0, 1000.0, 0.0, 1000.0, 0.95);
        assert_eq!(e.estimate, 0.0);
        assert!(e.low < 0.0 && e.high > 0.0 && e.low.is_finite() && e.high.is_finite());
        let r = rate_ratio(0.0, 1000.0, 0.0, 1000.0, 0.95).unwrap();
        assert_eq!(r.estimate, 1.0);
        assert!(r.low < 1.0 && r.high > 1.0 && r.high.is_finite());
        assert_eq!(rate_ratio(1.0, 0.0, 1.0, 10.0, 0.95), None);
        assert_eq!(
            wilson_interval(0.0, 0.0, 0.95),
            Interval {
                low: 0.0,
                high: 1.0
            }
        );
    }

    proptest! {
        #[test]
        fn wilson_contains_estimate(n in 1u32..100_000, frac in 0.0f64..=1.0, conf in 0.5f64..0.999) {
            let n = f64::from(n);
            let k = (frac * n).floor();
            let w = wilson_interval(k, n, conf);
            prop_assert!(w.low <= k / n && k / n <= w.high && w.low >= 0.0 && w.high <= 1.0);
        }

        #[test]
        fn newcombe_contains_estimate(k1 in 0u32..500, k2 in 0u32..500, e1 in 0u32..500, e2 in 0u32..500) {
            let (n1, n2) = (f64::from(k1 + e1).max(1.0), f64::from(k2 + e2).max(1.0));
            let e = newcombe_difference(f64::from(k1), n1, f64::from(k2), n2, 0.95);
            prop_assert!(e.low <= e.estimate && e.estimate <= e.high);
            prop_assert!(e.low >= -1.0 - 1e-12 && e.high <= 1.0 + 1e-12);
        }
    }
}
