//! Hodges–Lehmann shift estimate with the Moses distribution-free confidence interval.

use super::mann_whitney::{u_null_pmf, EXACT_TABLE_LIMIT};
use super::{two_sided_z, Estimate};

/// `#{(i, j): fl(y_j − x_i) ≤ t}` for ascending `x`, `y` in `O(n + m)`.
///
/// Rounded subtraction is monotone, so for fixed `j` the differences decrease in `i`, and the
/// first index that satisfies the predicate only moves right as `y_j` grows.
fn count_at_most(x: &[f64], y: &[f64], t: f64) -> u64 {
    let mut p = 0usize;
    let mut count = 0u64;
    for &yj in y {
        while p < x.len() && yj - x[p] > t {
            p += 1;
        }
        count += (x.len() - p) as u64;
    }
    count
}

/// The differences `fl(y_j − x_i)` with `lo < d ≤ hi`, in no particular order, by the same
/// two-pointer walk as [`count_at_most`] (so their number is `count(hi) − count(lo)`).
fn differences_between(x: &[f64], y: &[f64], lo: f64, hi: f64, expected: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(expected);
    let (mut p_hi, mut p_lo) = (0usize, 0usize);
    for &yj in y {
        while p_hi < x.len() && yj - x[p_hi] > hi {
            p_hi += 1;
        }
        while p_lo < x.len() && yj - x[p_lo] > lo {
            p_lo += 1;
        }
        out.extend(x[p_hi..p_lo].iter().map(|&xi| yj - xi));
    }
    out
}

/// The `k`-th smallest (1-based) of the `n·m` pairwise differences `y_j − x_i` of two ascending,
/// finite slices, without materialising them.
///
/// Safeguarded interpolation search on the value (regula falsi on the count, bisection when a
/// step does not halve the bracket) with the `O(n+m)` two-pointer count of the differences
/// `≤ t`, keeping a bracket `(lo, hi]` with `count(lo) < k ≤ count(hi)`. Once the bracket holds at most a few
/// times `n + m` differences they are listed and the answer is selected among them
/// (`select_nth_unstable`), as in the selection algorithms of Johnson & Mizoguchi (1978) and
/// Monahan (1984, *ACM TOMS* 10(3)); a bracket with no float strictly inside holds only ties
/// equal to `hi`. Every two steps at least halve the bracket's width or its count; on duration
/// data a handful of counts suffice. The result is exactly one
/// of the computed differences.
///
/// # Panics
/// If `k` is not in `1..=n·m` (in particular for an empty slice). Values must be finite and
/// sorted ascending (not checked); [`hodges_lehmann`] guarantees both.
pub fn kth_pairwise_difference(x: &[f64], y: &[f64], k: u64) -> f64 {
    kth_with_list_limit(x, y, k, 4 * (x.len() + y.len()) as u64 + 1024)
}

/// [`kth_pairwise_difference`] listing the bracket once it holds at most `limit` differences
/// (tests set it low to exercise the bisection on small samples).
fn kth_with_list_limit(x: &[f64], y: &[f64], k: u64, limit: u64) -> f64 {
    let total = (x.len() as u64) * (y.len() as u64);
    assert!(k >= 1 && k <= total, "k out of range");
    let min = y[0] - x[x.len() - 1];
    let mut lo = min;
    let mut count_lo = count_at_most(x, y, lo);
    if count_lo >= k {
        // Normalise −0.0 to 0.0.
        return min + 0.0;
    }
    let mut hi = y[y.len() - 1] - x[0];
    let mut count_hi = total;
    // Invariant: count_lo < k ≤ count_hi, so the answer lies in (lo, hi].
    let mut interpolate = true;
    while count_hi - count_lo > limit {
        let before = count_hi - count_lo;
        // Halves of each bound: no overflow for finite extremes.
        let half = lo * 0.5 + hi * 0.5;
        if half <= lo || half >= hi {
            // No float strictly inside: every difference in (lo, hi] equals hi.
            return hi + 0.0;
        }
        // Regula falsi on the count (nearly linear once the bracket is inside the bulk of
        // the differences), safeguarded by a bisection step whenever a step failed to halve
        // the bracket's count.
        let mid = if interpolate {
            let f = (k - count_lo) as f64 / before as f64;
            let t = lo + (hi - lo) * f;
            if t > lo && t < hi && t.is_finite() {
                t
            } else {
                half
            }
        } else {
            half
        };
        let c = count_at_most(x, y, mid);
        if c >= k {
            hi = mid;
            count_hi = c;
        } else {
            lo = mid;
            count_lo = c;
        }
        interpolate = 2 * (count_hi - count_lo) <= before;
    }
    let mut between = differences_between(x, y, lo, hi, (count_hi - count_lo) as usize);
    let rank = (k - count_lo - 1) as usize;
    let (_, kth, _) = between.select_nth_unstable_by(rank, f64::total_cmp);
    *kth + 0.0
}

/// Exact Moses rank from the null distribution of U, building the table only as far as the
/// `α/2` quantile (doubling its length); `None` if that needs more than [`EXACT_TABLE_LIMIT`]
/// coefficients, `Some(0)` if even `P(U = 0) > α/2`.
fn exact_moses_rank(n: usize, m: usize, half_alpha: f64) -> Option<u64> {
    let half = n * m / 2;
    let mut len = half.min(4096);
    loop {
        let pmf = u_null_pmf(n, m, len);
        let mut cdf = 0.0;
        let mut k = 0u64;
        // Largest k with P(U ≤ k−1) ≤ α/2: count the leading cdf values that stay ≤ α/2.
        for p in &pmf {
            cdf += p;
            if cdf <= half_alpha {
                k += 1;
            } else {
                return Some(k);
            }
        }
        if len >= half {
            return Some(k);
        }
        if len >= EXACT_TABLE_LIMIT {
            return None;
        }
        len = (len * 2).min(half);
    }
}

/// Rank `k` (1-based) of the lower Moses confidence bound, the upper one being `N + 1 − k`
/// with `N = n·m`; `None` if no such bound reaches the confidence.
///
/// `k` is the largest integer with `P(U ≤ k−1) ≤ α/2` under the null distribution of the
/// Mann–Whitney statistic, because `P(D_(k) ≤ Δ < D_(N+1−k)) = 1 − 2·P(U ≤ k−1)`.
/// * Exact (`min(n,m) ≤ 8` or `n·m ≤ 10 000`): from [`u_null_pmf`], as long as the `α/2`
///   quantile of U lies within [`EXACT_TABLE_LIMIT`] coefficients (e.g. 8 vs 10^7 falls back).
/// * Otherwise the normal approximation with continuity correction,
///   `k = ⌊N/2 + ½ − z_{1−α/2}·√(N(n+m+1)/12)⌋` (Hollander & Wolfe 1999, eq. 4.41).
pub fn moses_rank(n: usize, m: usize, confidence: f64) -> Option<u64> {
    if n == 0 || m == 0 || !(confidence > 0.0 && confidence < 1.0) {
        return None;
    }
    let total = (n as u64) * (m as u64);
    let half_alpha = (1.0 - confidence) / 2.0;
    let exact = n.min(m) <= 8 || total <= 10_000;
    let exact_k = if exact {
        exact_moses_rank(n, m, half_alpha)
    } else {
        None
    };
    let k = if let Some(k) = exact_k {
        k
    } else {
        let nf = total as f64;
        let sigma = (nf * (n + m + 1) as f64 / 12.0).sqrt();
        let k = (nf / 2.0 + 0.5 - two_sided_z(confidence) * sigma).floor();
        if k < 1.0 {
            0
        } else {
            k as u64
        }
    };
    (k >= 1).then_some(k)
}

/// Hodges–Lehmann estimate of the shift of `y` (canary) relative to `x` (baseline) with the
/// Moses confidence interval.
///
/// * Estimate: the median of the `n·m` differences `y_j − x_i` (mean of the two middle ones
///   when `n·m` is even). J. L. Hodges, E. L. Lehmann, *Estimates of Location Based on Rank
///   Tests*, Ann. Math. Statist. 34(2), 1963, 598–611.
/// * Interval: `[D_(k), D_(N+1−k)]` with `k` from [`moses_rank`] (L. E. Moses, in Walker & Lev,
///   *Statistical Inference*, 1953; M. Hollander, D. A. Wolfe, *Nonparametric Statistical
///   Methods*, 2nd ed., 1999, §4.3). Distribution-free for continuous data; with ties it is
///   approximately valid (the null distribution used ignores ties). Two-sided.
/// * Reference: brute force over all differences with numpy (`np.subtract.outer`, `np.median`,
///   `np.sort`) on small cases.
///
/// The differences are never materialised ([`kth_pairwise_difference`]): `n = 10^5, m = 10^4`
/// takes milliseconds in release builds. Inputs need not be sorted (they are copied and sorted).
/// Returns `None` for empty input, any non-finite value, or when the samples are too small for
/// the requested confidence (`P(U = 0) > α/2`, e.g. `n = m = 2` at 95%).
pub fn hodges_lehmann(x: &[f64], y: &[f64], confidence: f64) -> Option<Estimate> {
    if x.is_empty() || y.is_empty() || x.iter().chain(y).any(|v| !v.is_finite()) {
        return None;
    }
    let k = moses_rank(x.len(), y.len(), confidence)?;
    let mut xs = x.to_vec();
    let mut ys = y.to_vec();
    xs.sort_unstable_by(f64::total_cmp);
    ys.sort_unstable_by(f64::total_cmp);
    let total = (xs.len() as u64) * (ys.len() as u64);
    let estimate = if total % 2 == 1 {
        kth_pairwise_difference(&xs, &ys, total.div_ceil(2))
    } else {
        let a = kth_pairwise_difference(&xs, &ys, total / 2);
        let b = kth_pairwise_difference(&xs, &ys, total / 2 + 1);
        // As numpy.median: the mean of the two middle values.
        (a + b) / 2.0
    };
    Some(Estimate {
        estimate,
        low: kth_pairwise_difference(&xs, &ys, k),
        high: kth_pairwise_difference(&xs, &ys, total + 1 - k),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brute_sorted(x: &[f64], y: &[f64]) -> Vec<f64> {
        let mut d: Vec<f64> = y
            .iter()
            .flat_map(|&b| x.iter().map(move |&a| b - a))
            .collect();
        d.sort_by(f64::total_cmp);
        d
    }

    #[test]
    fn too_small_or_empty_is_none() {
        assert_eq!(hodges_lehmann(&[], &[1.0], 0.95), None);
        assert_eq!(hodges_lehmann(&[1.0, 2.0], &[1.0, 3.0], 0.95), None);
        assert_eq!(hodges_lehmann(&[1.0, f64::NAN], &[1.0; 20], 0.95), None);
    }

    #[test]
    fn exact_rank_for_a_single_baseline_value_against_many() {
        // n = 1: U is uniform on 0..=m, so P(U ≤ k−1) = k/(m+1) ≤ 0.025 ⇔ k ≤ 25 000.025.
        assert_eq!(moses_rank(1, 1_000_000, 0.95), Some(25_000));
        assert_eq!(moses_rank(1_000_000, 1, 0.95), Some(25_000));
    }

    #[test]
    fn all_equal_samples_give_zero_shift() {
        let r = hodges_lehmann(&[5.0; 30], &[5.0; 40], 0.95).unwrap();
        assert_eq!((r.estimate, r.low, r.high), (0.0, 0.0, 0.0));
    }

    proptest! {
        #[test]
        fn selection_matches_brute_force(
            x in prop::collection::vec(-50i32..50, 1..30),
            y in prop::collection::vec(-50i32..50, 1..30),
            frac in 0.0f64..1.0,
        ) {
            let mut x: Vec<f64> = x.into_iter().map(|v| f64::from(v) * 0.37).collect();
            let mut y: Vec<f64> = y.into_iter().map(|v| f64::from(v) * 0.37).collect();
            x.sort_by(f64::total_cmp);
            y.sort_by(f64::total_cmp);
            let d = brute_sorted(&x, &y);
            let k = ((frac * d.len() as f64) as usize).min(d.len() - 1);
            prop_assert_eq!(kth_pairwise_difference(&x, &y, k as u64 + 1), d[k]);
        }

        #[test]
        fn bisection_matches_brute_force_with_ties_and_any_list_limit(
            x in prop::collection::vec(-6i32..6, 1..40),
            y in prop::collection::vec(-6i32..6, 1..40),
            scale in prop::sample::select(vec![0.37, 1.0, 1e-300, 1e300]),
            frac in 0.0f64..1.0,
            limit in 0u64..12,
        ) {
            // Few distinct values: many ties, brackets that close on a run of equal
            // differences; extreme scales reach subnormal and near-overflow differences.
            let mut x: Vec<f64> = x.into_iter().map(|v| f64::from(v) * scale).collect();
            let mut y: Vec<f64> = y.into_iter().map(|v| f64::from(v) * scale).collect();
            x.sort_by(f64::total_cmp);
            y.sort_by(f64::total_cmp);
            let d = brute_sorted(&x, &y);
            let k = ((frac * d.len() as f64) as usize).min(d.len() - 1);
            let got = kth_with_list_limit(&x, &y, k as u64 + 1, limit);
            prop_assert_eq!(got.to_bits(), (d[k] + 0.0).to_bits());
        }

        #[test]
        fn shift_invariance(
            x in prop::collection::vec(0i32..1000, 9..40),
            y in prop::collection::vec(0i32..1000, 9..40),
            shift in -1000i32..1000,
        ) {
            // Integer-valued data keep the shifted differences exact.
            let x: Vec<f64> = x.into_iter().map(f64::from).collect();
            let y: Vec<f64> = y.into_iter().map(f64::from).collect();
            let s = f64::from(shift);
            let xs: Vec<f64> = x.iter().map(|v| v + s).collect();
            let ys: Vec<f64> = y.iter().map(|v| v + s).collect();
            prop_assert_eq!(hodges_lehmann(&x, &y, 0.9), hodges_lehmann(&xs, &ys, 0.9));
            // Shifting only y shifts the estimate and both bounds.
            let r = hodges_lehmann(&x, &y, 0.9).unwrap();
            let r2 = hodges_lehmann(&x, &ys, 0.9).unwrap();
            prop_assert_eq!(r2.estimate, r.estimate + s);
            prop_assert_eq!(r2.low, r.low + s);
            prop_assert!(r.low <= r.estimate && r.estimate <= r.high);
        }
    }
}

#[cfg(test)]
mod scale_tests {
    use super::*;

    /// n = 10^5, m = 10^4 (10^9 pairwise differences) without materialising them. In a debug
    /// build this takes well under a second too; see docs/statistics.md for timings.
    #[test]
    fn large_samples_without_materialising_differences() {
        let x: Vec<f64> = (0..100_000u64)
            .map(|i| 100.0 + ((i * 7_919) % 100_003) as f64 * 1e-3)
            .collect();
        let y: Vec<f64> = (0..10_000u64)
            .map(|i| 105.0 + ((i * 104_729) % 10_007) as f64 * 1e-2)
            .collect();
        let started = std::time::Instant::now();
        let r = hodges_lehmann(&x, &y, 0.95).unwrap();
        eprintln!("hodges_lehmann 1e5 x 1e4: {:?} {:?}", started.elapsed(), r);
        assert!(r.low <= r.estimate && r.estimate <= r.high);
        // The y sample is uniform on [105, 205), x on [100, 200): shift ≈ 5.
        assert!((r.estimate - 5.0).abs() < 1.0, "{r:?}");
    }
}
