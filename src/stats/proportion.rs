//! TEMPORARY: proportion intervals (Wilson, Newcombe) and rate ratio (Katz log interval).

use super::distributions::normal_ppf;
use super::{Estimate, Interval};

/// Wilson score interval for k successes out of n.
pub fn wilson_interval(k: f64, n: f64, confidence: f64) -> Interval {
    if n <= 0.0 {
        return Interval {
            low: 0.0,
            high: 1.0,
        };
    }
    let z = normal_ppf(0.5 + confidence / 2.0);
    let p = k / n;
    let z2 = z * z;
    let den = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / den;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / den;
    Interval {
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    }
}

/// Newcombe hybrid score interval (method 10) for p2 − p1.
pub fn newcombe_difference(k1: f64, n1: f64, k2: f64, n2: f64, confidence: f64) -> Estimate {
    let p1 = if n1 > 0.0 { k1 / n1 } else { 0.0 };
    let p2 = if n2 > 0.0 { k2 / n2 } else { 0.0 };
    let w1 = wilson_interval(k1, n1, confidence);
    let w2 = wilson_interval(k2, n2, confidence);
    let d = p2 - p1;
    let low = d - ((p2 - w2.low).powi(2) + (w1.high - p1).powi(2)).sqrt();
    let high = d + ((w2.high - p2).powi(2) + (p1 - w1.low).powi(2)).sqrt();
    Estimate {
        estimate: d,
        low,
        high,
    }
}

/// (k2/n2)/(k1/n1) with the Katz log interval; `None` when either count is zero.
pub fn rate_ratio(k1: f64, n1: f64, k2: f64, n2: f64, confidence: f64) -> Option<Estimate> {
    if k1 <= 0.0 || k2 <= 0.0 || n1 <= 0.0 || n2 <= 0.0 {
        return None;
    }
    let r = (k2 / n2) / (k1 / n1);
    let se = (1.0 / k1 - 1.0 / n1 + 1.0 / k2 - 1.0 / n2).max(0.0).sqrt();
    let z = normal_ppf(0.5 + confidence / 2.0);
    Some(Estimate {
        estimate: r,
        low: r * (-z * se).exp(),
        high: r * (z * se).exp(),
    })
}
