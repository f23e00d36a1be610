//! TEMPORARY: sample quantiles and their order-statistic confidence intervals.

use super::distributions::normal_ppf;
use super::Interval;

/// Hyndman–Fan type 7 quantile of an ascending sample (numpy's default). NaN when empty.
pub fn quantile_type7(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Distribution-free interval for the q-quantile from order statistics (normal approximation to
/// the binomial ranks); `None` when the sample is too small for the requested confidence.
pub fn quantile_ci(sorted: &[f64], q: f64, confidence: f64) -> Option<Interval> {
    let n = sorted.len() as f64;
    if sorted.is_empty() {
        return None;
    }
    let z = normal_ppf(0.5 + confidence / 2.0);
    let half = z * (n * q * (1.0 - q)).sqrt();
    let l = (n * q - half).floor();
    let u = (n * q + half).ceil() + 1.0;
    if l < 1.0 || u > n {
        return None;
    }
    Some(Interval {
        low: sorted[l as usize - 1],
        high: sorted[u as usize - 1],
    })
}
