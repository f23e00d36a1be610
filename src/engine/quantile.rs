//! Exact sample quantiles.
//!
//! Definition: Hyndman & Fan (1996), "Sample Quantiles in Statistical Packages", *The American
//! Statistician* 50(4), type 7 — linear interpolation between the closest ranks, the default of
//! numpy (`method="linear"`), R and DataFusion's `percentile_cont`. For sorted values
//! `x[0..n]` and `q ∈ [0, 1]`: `h = (n − 1)·q`, `j = ⌊h⌋`, `γ = h − j`, and
//! `Q(q) = x[j] + γ·(x[j+1] − x[j])`. The interpolation is evaluated exactly as numpy's `_lerp`
//! does (from the upper neighbour when `γ ≥ 0.5`) so results agree with numpy bit for bit.

use crate::stats::quantile::{lerp, quantile_type7, type7_rank};

/// Type-7 quantile of `sorted` (ascending, no NaN): [`quantile_type7`] with `q` clamped to
/// `[0, 1]` (the UDAF's argument check already rejects other `q`; clamping keeps a rounding
/// error at the ends from turning into NaN). Returns NaN for an empty slice.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    quantile_type7(sorted, q.clamp(0.0, 1.0))
}

/// [`quantile_sorted`] of `to_f64` of unsorted integer `values`, found by selection in O(n)
/// instead of a sort (the order of `values` changes). Equal to sorting first because `to_f64`
/// is non-decreasing: the j-th smallest converted value is the conversion of the j-th
/// smallest integer.
pub fn quantile_select(values: &mut [i64], q: f64, to_f64: impl Fn(i64) -> f64) -> f64 {
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    let (j, gamma) = type7_rank(n, q.clamp(0.0, 1.0));
    let (_, &mut a, upper) = values.select_nth_unstable(j);
    // The (j+1)-th smallest is the smallest of the elements above the j-th.
    let b = upper.iter().copied().min().unwrap_or(a);
    lerp(to_f64(a), to_f64(b), gamma)
}

/// Sorts ascending by IEEE total order (durations never contain NaN; total order keeps the sort
/// deterministic if one ever does).
pub fn sort_values(values: &mut [f64]) {
    values.sort_unstable_by(f64::total_cmp);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Case {
        values: Vec<f64>,
        q: Vec<f64>,
        expected: Vec<f64>,
    }

    /// Reference values from numpy (`tests/fixtures/quantile_numpy.py` wrote the fixture).
    #[test]
    fn matches_numpy_linear() {
        let cases: Vec<Case> =
            serde_json::from_str(include_str!("../../tests/fixtures/quantile_numpy.json")).unwrap();
        assert!(cases.len() >= 4);
        for c in cases {
            let mut v = c.values.clone();
            sort_values(&mut v);
            for (q, want) in c.q.iter().zip(&c.expected) {
                let got = quantile_sorted(&v, *q);
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "q={q} values={:?}: got {got}, numpy {want}",
                    c.values
                );
            }
        }
    }

    /// Selection gives the bits sorting gives, on samples with ties, one element and both ends.
    #[test]
    fn selection_equals_sorting() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let ms = |ns: i64| ns as f64 / 1e6;
        for n in [1usize, 2, 3, 10, 101, 1000, 4099] {
            let mut v: Vec<i64> = (0..n).map(|_| rng.random_range(0..5_000_000_000)).collect();
            if n > 3 {
                v[1] = v[0];
                v[2] = v[0];
            }
            let mut sorted: Vec<f64> = v.iter().map(|&x| ms(x)).collect();
            sort_values(&mut sorted);
            for q in [0.0, 0.001, 0.5, 0.9, 0.99, 0.999, 1.0] {
                let got = quantile_select(&mut v, q, ms);
                assert_eq!(
                    got.to_bits(),
                    quantile_sorted(&sorted, q).to_bits(),
                    "n={n} q={q}"
                );
            }
        }
        assert!(quantile_select(&mut [], 0.5, ms).is_nan());
    }

    #[test]
    fn small_cases() {
        assert!(quantile_sorted(&[], 0.5).is_nan());
        assert_eq!(quantile_sorted(&[3.0], 0.99), 3.0);
        assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
        assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0, 4.0], 1.0), 4.0);
        assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0, 4.0], 0.0), 1.0);
        use crate::model::comparison::Quantiles;
        assert_eq!(Quantiles::of_sorted(&[]), Quantiles::default());
    }
}
