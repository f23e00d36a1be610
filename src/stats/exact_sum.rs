//! Exactly rounded floating-point summation, independent of the order of the terms.
//!
//! Forensics adds sampling weights and per-request shares over traces read one partition at a
//! time; a plain `+=` gives a result that depends on the order the traces arrive in (so on the
//! partition count and the engine's threads). [`ExactSum`] keeps the running sum exactly as a
//! list of non-overlapping partials (J. R. Shewchuk, "Adaptive Precision Floating-Point
//! Arithmetic and Fast Robust Geometric Predicates", Discrete & Computational Geometry 18,
//! 1997) and rounds once at the end, with the half-even correction of Python's `math.fsum`
//! (R. Hettinger's `msum` recipe, CPython `Modules/mathmodule.c`). The value is the correctly
//! rounded sum of the terms, so any order and any grouping of [`ExactSum::merge`] give the same
//! bits.

/// A sum of `f64` terms kept exactly; [`ExactSum::value`] is the correctly rounded total.
/// Non-finite terms are summed apart (their total is NaN or ±∞ whatever the order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExactSum {
    /// Non-overlapping partials, increasing magnitude; their exact sum is the total.
    partials: Vec<f64>,
    /// Sum of the non-finite terms (0 when none).
    special: f64,
}

impl ExactSum {
    /// Adds `x`.
    pub fn add(&mut self, x: f64) {
        if !x.is_finite() {
            self.special += x;
            return;
        }
        let mut x = x;
        let mut i = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            if !hi.is_finite() {
                // The exact sum overflowed: keep the infinity as the non-finite part.
                self.partials.clear();
                self.special += hi;
                return;
            }
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[i] = lo;
                i += 1;
            }
            x = hi;
        }
        self.partials.truncate(i);
        self.partials.push(x);
    }

    /// Adds every term of `other`.
    pub fn merge(&mut self, other: &ExactSum) {
        for &p in &other.partials {
            self.add(p);
        }
        self.special += other.special;
    }

    /// The sum, correctly rounded to the nearest `f64` (ties to even).
    pub fn value(&self) -> f64 {
        if self.special != 0.0 || self.special.is_nan() {
            return self.special;
        }
        let p = &self.partials;
        let Some(&top) = p.last() else {
            return 0.0;
        };
        let mut n = p.len() - 1;
        let mut hi = top;
        let mut lo = 0.0;
        // Add the partials from the top until the sum becomes inexact.
        while n > 0 {
            let x = hi;
            let y = p[n - 1];
            n -= 1;
            hi = x + y;
            let yr = hi - x;
            lo = y - yr;
            if lo != 0.0 {
                break;
            }
        }
        // Half-way case: round-half-even would go the wrong way when the next partial has the
        // same sign as the rounding error.
        if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            let yr = x - hi;
            if y == yr {
                hi = x;
            }
        }
        hi
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(xs: &[f64]) -> f64 {
        let mut s = ExactSum::default();
        xs.iter().for_each(|&x| s.add(x));
        s.value()
    }

    #[test]
    fn is_exact_where_plain_addition_is_not() {
        // Plain left-to-right addition gives 0 here; the exact sum is 2.
        assert_eq!(sum(&[1e100, 1.0, -1e100, 1.0]), 2.0);
        assert_eq!(sum(&[0.1; 10]), 1.0);
        assert_ne!([0.1f64; 10].iter().sum::<f64>(), 1.0);
        assert_eq!(sum(&[]), 0.0);
        // math.fsum([1, 1e-16, 1e-16]) == 1.0000000000000002 (the half-way correction).
        assert_eq!(sum(&[1.0, 1e-16, 1e-16]), 1.0000000000000002);
    }

    #[test]
    fn any_order_and_grouping_gives_the_same_bits() {
        // Deterministic pseudo-random terms of mixed magnitude and sign.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let xs: Vec<f64> = (0..2000)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let m = (state >> 11) as f64 / (1u64 << 53) as f64;
                let e = [1e-3, 1.0, 7.3, 1e6, 10.000000000000002][i % 5];
                if i % 3 == 0 {
                    -m * e
                } else {
                    m * e
                }
            })
            .collect();
        let forward = sum(&xs);
        let mut rev = xs.clone();
        rev.reverse();
        assert_eq!(sum(&rev).to_bits(), forward.to_bits());
        // Seven interleaved groups merged, as seven partitions of traces would be.
        let mut parts = vec![ExactSum::default(); 7];
        for (i, &x) in xs.iter().enumerate() {
            parts[(i * 31 + 5) % 7].add(x);
        }
        let mut total = ExactSum::default();
        parts.iter().rev().for_each(|p| total.merge(p));
        assert_eq!(total.value().to_bits(), forward.to_bits());
    }

    #[test]
    fn non_finite_terms_are_kept() {
        assert_eq!(sum(&[1.0, f64::INFINITY]), f64::INFINITY);
        assert!(sum(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
        assert_eq!(sum(&[f64::MAX, f64::MAX]), f64::INFINITY);
    }
}
