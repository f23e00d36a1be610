//! TEMPORARY: Hodges–Lehmann shift estimate of y − x with its distribution-free interval.

use super::distributions::normal_ppf;
use super::Estimate;

/// Median of all pairwise differences y_j − x_i and the Moses interval (normal approximation).
pub fn hodges_lehmann(x: &[f64], y: &[f64], confidence: f64) -> Option<Estimate> {
    if x.is_empty() || y.is_empty() {
        return None;
    }
    let mut d: Vec<f64> = Vec::with_capacity(x.len() * y.len());
    for &b in y {
        for &a in x {
            d.push(b - a);
        }
    }
    let m = d.len();
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    let z = normal_ppf(0.5 + confidence / 2.0);
    let c = (n1 * n2 / 2.0 - z * (n1 * n2 * (n1 + n2 + 1.0) / 12.0).sqrt()).floor();
    if c < 1.0 {
        return None;
    }
    let lo_idx = c as usize - 1;
    let hi_idx = m - c as usize;
    let mut pick = |k: usize| -> f64 {
        let (_, v, _) = d.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
        *v
    };
    let est = if m % 2 == 1 {
        pick(m / 2)
    } else {
        (pick(m / 2 - 1) + pick(m / 2)) / 2.0
    };
    let low = pick(lo_idx);
    let high = pick(hi_idx);
    Some(Estimate {
        estimate: est,
        low,
        high,
    })
}
