//! Mann–Whitney U (Wilcoxon rank-sum) test.

use super::distributions::normal_sf;
use super::Alternative;

/// Result of [`mann_whitney_u`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MannWhitney {
    /// `U_y`: the U statistic of the second sample, `#{(i, j): y_j > x_i} + ½·#{y_j = x_i}`
    /// (`= R_y − m(m+1)/2` with midranks). This is the `statistic` of
    /// `scipy.stats.mannwhitneyu(y, x)`. `U_x = n·m − U_y`.
    pub u: f64,
    /// p-value of `scipy.stats.mannwhitneyu(y, x, alternative=…, method="auto",
    /// use_continuity=True)`.
    pub p_value: f64,
    /// Signed standardised statistic `(U_y − nm/2)/σ` with the tie-corrected `σ` and *without*
    /// continuity correction (positive when the canary tends to be larger); `None` for the exact
    /// method or when `σ = 0` (all values equal).
    pub z: Option<f64>,
    /// Whether the exact null distribution was used (see [`mann_whitney_u`]).
    pub exact: bool,
}

/// Midranks of the concatenation of `x` then `y` are not materialised: this returns the rank
/// sum of `y` and the tie term `Σ(t³ − t)` over tie groups. Values must not be NaN.
///
/// Both samples are walked in ascending order together (a merge, `O(n + m)`); a sample that
/// is not already ascending is sorted first (analysis passes sorted durations).
fn rank_sum_y_and_ties(x: &[f64], y: &[f64]) -> (f64, f64, bool) {
    let (x, y) = (ascending(x), ascending(y));
    let mut rank_sum_y = 0.0;
    let mut tie_term = 0.0;
    let mut has_ties = false;
    let (mut i, mut j) = (0usize, 0usize);
    while i < x.len() || j < y.len() {
        // The smallest value left; `==` makes -0.0 and 0.0 one tie group.
        let v = match (x.get(i), y.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => unreachable!(),
        };
        let start = i + j;
        while i < x.len() && x[i] == v {
            i += 1;
        }
        let j0 = j;
        while j < y.len() && y[j] == v {
            j += 1;
        }
        // Positions start..start+t (0-based) share the midrank ((start+1) + (start+t))/2.
        let end = i + j;
        let t = (end - start) as f64;
        let midrank = (start + 1 + end) as f64 / 2.0;
        rank_sum_y += (j - j0) as f64 * midrank;
        if end - start > 1 {
            has_ties = true;
            tie_term += t * t * t - t;
        }
    }
    (rank_sum_y, tie_term, has_ties)
}

/// `v` itself when ascending, else a sorted copy (no NaN: checked by the caller).
fn ascending(v: &[f64]) -> std::borrow::Cow<'_, [f64]> {
    if v.is_sorted_by(|a, b| a <= b) {
        std::borrow::Cow::Borrowed(v)
    } else {
        let mut c = v.to_vec();
        c.sort_unstable_by(|a, b| a.partial_cmp(b).expect("no NaN"));
        std::borrow::Cow::Owned(c)
    }
}

/// Largest number of coefficients of the exact null distribution that is built (`n·m/2 + 1`);
/// beyond it (only possible when one sample is tiny and the other huge, e.g. 8 vs 10^6) the
/// normal approximation is used: memory stays below 64 MiB, where scipy's exact recursion
/// (quadratic in `n·m`) would not finish.
pub const EXACT_TABLE_LIMIT: usize = 1 << 22;

/// Null distribution of U for samples of sizes `n1`, `n2` without ties: `P(U = u)` for
/// `u = 0..=max_u`.
///
/// The counts are the coefficients of the Gaussian binomial `[n1+n2 choose n1]_q =
/// Π_{i=1}^{m} (1 − q^{n+i})/(1 − q^i)` with `m = min(n1, n2)`, `n = max(n1, n2)`, built factor by
/// factor (E. F. Harding, *An Efficient, Minimal-storage Procedure for Calculating the
/// Mann–Whitney U, Generalized U and Similar Distributions*, Applied Statistics 33(1), 1984,
/// 1–6). Truncating at `max_u` is exact because each step only reads lower coefficients.
/// Exact integer arithmetic (`i128`) is used while `C(n1+n2, n1) < 2^120`, `f64` beyond.
/// Cost `O(m · max_u)`.
pub fn u_null_pmf(n1: usize, n2: usize, max_u: usize) -> Vec<f64> {
    let (m, n) = if n1 <= n2 { (n1, n2) } else { (n2, n1) };
    let len = max_u.min(m * n) + 1;
    // C(m+n, m) as a product; exact enough to decide the arithmetic.
    let total: f64 = (1..=m).map(|i| (n + i) as f64 / i as f64).product();
    if total < 2f64.powi(120) {
        let mut c = vec![0i128; len];
        c[0] = 1;
        harding(&mut c, m, n);
        let total_exact = {
            // C(m+n, m) exactly: the running product stays an integer at every step.
            let mut t: i128 = 1;
            for i in 1..=m {
                t = t * (n + i) as i128 / i as i128;
            }
            t as f64
        };
        c.into_iter().map(|v| v as f64 / total_exact).collect()
    } else {
        let mut c = vec![0f64; len];
        c[0] = 1.0;
        harding(&mut c, m, n);
        c.into_iter().map(|v| v / total).collect()
    }
}

fn harding<T>(c: &mut [T], m: usize, n: usize)
where
    T: Copy + std::ops::Add<Output = T> + std::ops::Sub<Output = T>,
{
    let len = c.len();
    for i in 1..=m {
        // Multiply by (1 − q^{n+i}), high coefficients first.
        let shift = n + i;
        for k in (shift..len).rev() {
            c[k] = c[k] - c[k - shift];
        }
        // Divide by (1 − q^i): running sum with stride i.
        for k in i..len {
            c[k] = c[k] + c[k - i];
        }
    }
}

/// `P(U ≥ u)` under the exact null distribution (no ties), using the symmetry of U as scipy's
/// `_MWU.sf` does so only coefficients up to `n1·n2/2` are needed.
fn exact_sf(u: u64, n1: usize, n2: usize) -> f64 {
    let mn = (n1 * n2) as u64;
    let kc = mn - u.min(mn);
    if u >= kc {
        // P(U ≥ u) = P(U ≤ mn − u).
        let pmf = u_null_pmf(n1, n2, kc as usize);
        pmf.iter().sum::<f64>().min(1.0)
    } else {
        // P(U ≥ u) = 1 − P(U ≤ u − 1).
        if u == 0 {
            return 1.0;
        }
        let pmf = u_null_pmf(n1, n2, (u - 1) as usize);
        1.0 - pmf.iter().sum::<f64>()
    }
}

/// Mann–Whitney U test of `x` (baseline) against `y` (canary).
///
/// Definition (identical to `scipy.stats.mannwhitneyu(y, x, use_continuity=True,
/// alternative=…, method="auto")`, scipy ≥ 1.7):
/// * `u = U_y = R_y − m(m+1)/2` with midranks for ties (`m = |y|`); see [`MannWhitney::u`].
/// * `Greater`: H1 "y is stochastically greater than x", p from `U_y`; `Less`: p from
///   `U_x = nm − U_y`; `TwoSided`: `2·P(U ≥ max(U_x, U_y))`, clipped to 1.
/// * Method choice (scipy's `'auto'`): exact when `min(n, m) ≤ 8` and there are no ties,
///   otherwise the normal approximation. One deliberate deviation: the exact method is also
///   skipped when `n·m/2 ≥` [`EXACT_TABLE_LIMIT`] (e.g. 8 vs 1.1·10^6), where scipy's exact
///   recursion would not finish.
/// * Exact: `p = P(U ≥ U_obs)` from the null distribution ([`u_null_pmf`]).
/// * Asymptotic: `z = (U_obs − nm/2 − ½)/σ` (continuity correction ½), tie-corrected
///   `σ² = nm/12·((N+1) − Σ(t³−t)/(N(N−1)))`, `p = 1 − Φ(z)`. When all values are equal,
///   `σ = 0`, `z = −∞` and `p = 1`.
///
/// Empty input or any NaN gives `u = NaN`, `p_value = NaN`. Cost `O(n + m)` for the
/// asymptotic test on ascending samples (`O((n+m) log(n+m))` otherwise); the exact test costs `O(min(n,m)² · max(n,m))`.
///
/// References: H. B. Mann, D. R. Whitney, *On a Test of Whether one of Two Random Variables is
/// Stochastically Larger than the Other*, Ann. Math. Statist. 18(1), 1947, 50–60; E. L. Lehmann,
/// *Nonparametrics*, 1975, §1.4 (tie correction).
pub fn mann_whitney_u(x: &[f64], y: &[f64], alternative: Alternative) -> MannWhitney {
    mann_whitney(x, y, alternative, false)
}

/// [`mann_whitney_u`] with the exact null distribution whenever it applies: no ties and
/// `n·m/2 <` [`EXACT_TABLE_LIMIT`] (scipy's `method="exact"`, which scipy's `"auto"` uses only
/// when `min(n, m) ≤ 8`), the normal approximation otherwise. Used below the per-side minimum
/// sample size, where the normal approximation of a 30-vs-170 comparison is least accurate in
/// the tail that decides a failure. Cost `O(min(n,m)² · max(n,m))`.
pub fn mann_whitney_u_exact_when_possible(
    x: &[f64],
    y: &[f64],
    alternative: Alternative,
) -> MannWhitney {
    mann_whitney(x, y, alternative, true)
}

fn mann_whitney(x: &[f64], y: &[f64], alternative: Alternative, prefer_exact: bool) -> MannWhitney {
    let nan = MannWhitney {
        u: f64::NAN,
        p_value: f64::NAN,
        z: None,
        exact: false,
    };
    if x.is_empty() || y.is_empty() || x.iter().chain(y).any(|v| v.is_nan()) {
        return nan;
    }
    let (nx, ny) = (x.len() as f64, y.len() as f64);
    let (rank_sum_y, tie_term, has_ties) = rank_sum_y_and_ties(x, y);
    let u_y = rank_sum_y - ny * (ny + 1.0) / 2.0;
    let u_x = nx * ny - u_y;
    let (u_test, factor) = match alternative {
        Alternative::Greater => (u_y, 1.0),
        Alternative::Less => (u_x, 1.0),
        Alternative::TwoSided => (u_y.max(u_x), 2.0),
    };
    let mu = nx * ny / 2.0;
    let n = nx + ny;
    let sigma = (nx * ny / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
    let exact = (prefer_exact || x.len() <= 8 || y.len() <= 8)
        && !has_ties
        && x.len() * y.len() / 2 < EXACT_TABLE_LIMIT;
    let p = if exact {
        // Without ties U is an integer.
        exact_sf(u_test.round() as u64, y.len(), x.len())
    } else {
        // σ = 0 gives −0.5/0 = −∞ and p = 1, as in scipy.
        let z = (u_test - mu - 0.5) / sigma;
        normal_sf(z)
    };
    let z = if exact || sigma == 0.0 {
        None
    } else {
        Some((u_y - mu) / sigma)
    };
    MannWhitney {
        u: u_y,
        p_value: (p * factor).clamp(0.0, 1.0),
        z,
        exact,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn null_pmf_small_case_by_enumeration() {
        // n1 = 2, n2 = 3: U counts 1,1,2,2,2,1,1 over C(5,2) = 10.
        let pmf = u_null_pmf(2, 3, 6);
        let expected = [1.0, 1.0, 2.0, 2.0, 2.0, 1.0, 1.0].map(|c: f64| c / 10.0);
        for (a, b) in pmf.iter().zip(expected) {
            assert!((a - b).abs() < 1e-15);
        }
    }

    /// Runs Harding's recursion in both arithmetics and returns the largest relative difference
    /// over coefficients that carry at least `1e-300` probability.
    fn float_vs_integer(m: usize, n: usize, len: usize) -> f64 {
        let exact = u_null_pmf(m, n, len - 1);
        let mut c = vec![0f64; len];
        c[0] = 1.0;
        harding(&mut c, m, n);
        let total: f64 = (1..=m).map(|i| (n + i) as f64 / i as f64).product();
        exact
            .iter()
            .zip(c.iter().map(|v| v / total))
            .filter(|(a, _)| **a > 1e-300)
            .map(|(a, b)| (a - b).abs() / a)
            .fold(0.0, f64::max)
    }

    #[test]
    fn integer_and_float_paths_agree() {
        // Both totals are below 2^120, so u_null_pmf takes the exact i128 path; the f64 path
        // (used for larger totals) loses little to the cancellation in (1 − q^{n+i}).
        assert!(float_vs_integer(35, 35, 613) < 1e-12);
        let worst = float_vs_integer(6, 20_000, 60_001);
        assert!(worst < 1e-12, "{worst}");
    }

    #[test]
    fn all_equal_gives_p_one() {
        let r = mann_whitney_u(&[1.0; 20], &[1.0; 30], Alternative::TwoSided);
        assert_eq!(r.p_value, 1.0);
        assert_eq!(r.u, 300.0);
        assert_eq!(r.z, None);
        let r = mann_whitney_u(&[], &[1.0], Alternative::TwoSided);
        assert!(r.p_value.is_nan());
    }

    #[test]
    fn large_input_is_fast_enough() {
        // 2·10^5 values in a debug build; the cost is the sort.
        let x: Vec<f64> = (0..100_000i64)
            .map(|i| ((i * 7919) % 100_003) as f64)
            .collect();
        let y: Vec<f64> = (0..100_000i64)
            .map(|i| ((i * 104_729) % 100_019) as f64 + 0.5)
            .collect();
        let r = mann_whitney_u(&x, &y, Alternative::TwoSided);
        assert!(r.p_value.is_finite() && !r.exact);
    }

    proptest! {
        #[test]
        fn u_complements_and_p_in_unit_interval(
            x in prop::collection::vec(0u8..20, 1..40),
            y in prop::collection::vec(0u8..20, 1..40),
        ) {
            let x: Vec<f64> = x.into_iter().map(f64::from).collect();
            let y: Vec<f64> = y.into_iter().map(f64::from).collect();
            let a = mann_whitney_u(&x, &y, Alternative::TwoSided);
            let b = mann_whitney_u(&y, &x, Alternative::TwoSided);
            prop_assert!((a.u + b.u - (x.len() * y.len()) as f64).abs() < 1e-9);
            // Brute-force definition of U_y.
            let mut u = 0.0;
            for &yj in &y { for &xi in &x { if yj > xi { u += 1.0 } else if yj == xi { u += 0.5 } } }
            prop_assert_eq!(a.u, u);
            for alt in [Alternative::TwoSided, Alternative::Greater, Alternative::Less] {
                let p = mann_whitney_u(&x, &y, alt).p_value;
                prop_assert!((0.0..=1.0).contains(&p));
            }
            prop_assert!((a.p_value - b.p_value).abs() < 1e-12);
            // Already ascending samples take the no-copy path: same result to the bit.
            let (mut xs, mut ys) = (x.clone(), y.clone());
            xs.sort_by(f64::total_cmp);
            ys.sort_by(f64::total_cmp);
            let s = mann_whitney_u(&xs, &ys, Alternative::TwoSided);
            prop_assert_eq!((s.u.to_bits(), s.p_value.to_bits()), (a.u.to_bits(), a.p_value.to_bits()));
        }
    }
}

#[cfg(test)]
mod scale_tests {
    use super::*;

    #[test]
    fn million_observations() {
        let x: Vec<f64> = (0..500_000u64)
            .map(|i| ((i * 7_919) % 1_000_003) as f64)
            .collect();
        let y: Vec<f64> = (0..500_000u64)
            .map(|i| ((i * 104_729) % 1_000_033) as f64)
            .collect();
        let started = std::time::Instant::now();
        let r = mann_whitney_u(&x, &y, Alternative::TwoSided);
        eprintln!("mann_whitney_u 5e5 + 5e5: {:?} {:?}", started.elapsed(), r);
        assert!(!r.exact && r.p_value > 0.0 && r.p_value <= 1.0);
        // Exact branch with a tiny and a large sample (Harding's recursion over 4e5 terms).
        let small = [1.5, 2.5, 3.5, 10.5, 20.5];
        let started = std::time::Instant::now();
        let r = mann_whitney_u(&small, &y[..160_000], Alternative::Greater);
        eprintln!("exact 5 vs 160000: {:?} {:?}", started.elapsed(), r);
        assert!(r.exact && r.p_value < 1e-10);
    }
}
