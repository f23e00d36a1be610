//! TEMPORARY: Fisher's exact test on a 2×2 table.

use super::Alternative;

/// Result of [`fisher_exact`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FisherExact {
    /// p-value.
    pub p_value: f64,
    /// Sample odds ratio (a·d)/(b·c).
    pub odds_ratio: f64,
}

fn ln_choose(n: u64, k: u64) -> f64 {
    ln_fact(n) - ln_fact(k) - ln_fact(n - k)
}

fn ln_fact(n: u64) -> f64 {
    // Stirling series with exact small values; error < 1e-10 for n ≥ 20.
    if n < 20 {
        return (1..=n).map(|i| (i as f64).ln()).sum();
    }
    let x = n as f64;
    x * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI * x).ln() + 1.0 / (12.0 * x)
        - 1.0 / (360.0 * x * x * x)
}

/// Fisher's exact test; rows are groups, table = [[a, b], [c, d]]; `Greater` means the odds of
/// the first column are larger in the second row.
pub fn fisher_exact(table: [[u64; 2]; 2], alternative: Alternative) -> FisherExact {
    let [[a, b], [c, d]] = table;
    let odds_ratio = (a as f64 * d as f64) / (b as f64 * c as f64);
    let r1 = a + b;
    let r2 = c + d;
    let c1 = a + c;
    let n = r1 + r2;
    if n == 0 {
        return FisherExact {
            p_value: 1.0,
            odds_ratio,
        };
    }
    let lo = c1.saturating_sub(r2);
    let hi = c1.min(r1);
    let lnp = |k: u64| ln_choose(r1, k) + ln_choose(r2, c1 - k) - ln_choose(n, c1);
    let p_obs = lnp(a);
    let mut p = 0.0;
    for k in lo..=hi {
        let lk = lnp(k);
        let take = match alternative {
            Alternative::TwoSided => lk <= p_obs + 1e-7,
            // Greater: second row has higher odds of column 1 → a smaller.
            Alternative::Greater => k <= a,
            Alternative::Less => k >= a,
        };
        if take {
            p += lk.exp();
        }
    }
    FisherExact {
        p_value: p.min(1.0),
        odds_ratio,
    }
}
