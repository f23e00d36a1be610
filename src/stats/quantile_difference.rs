//! Differences and ratios of a quantile between two samples (tail latency: p99, p999).

use super::quantile::{quantile_ci, quantile_type7};
use super::{two_sided_z, Estimate};

/// Inputs shared by the ratio and the difference: both type-7 quantiles, both order-statistic
/// intervals and `z_{1−α/2}`.
struct Parts {
    qx: f64,
    qy: f64,
    lx: f64,
    ux: f64,
    ly: f64,
    uy: f64,
    z: f64,
}

fn parts(x_sorted: &[f64], y_sorted: &[f64], q: f64, confidence: f64) -> Option<Parts> {
    // Sorted: any infinity sits at an end (and NaN too, under `f64::total_cmp`).
    let ends_finite = |s: &[f64]| {
        s.first().is_none_or(|v| v.is_finite()) && s.last().is_none_or(|v| v.is_finite())
    };
    if !(ends_finite(x_sorted) && ends_finite(y_sorted)) {
        return None;
    }
    let cx = quantile_ci(x_sorted, q, confidence)?;
    let cy = quantile_ci(y_sorted, q, confidence)?;
    Some(Parts {
        qx: quantile_type7(x_sorted, q),
        qy: quantile_type7(y_sorted, q),
        lx: cx.low,
        ux: cx.high,
        ly: cy.low,
        uy: cy.high,
        z: two_sided_z(confidence),
    })
}

/// Ratio of the `q`-quantiles `Q_y(q)/Q_x(q)` (canary over baseline, type 7) with a two-sided
/// confidence interval on the log scale. Ties need no special handling (order statistics).
///
/// Each quantile's standard error is recovered from its distribution-free order-statistic
/// interval `[L, U]` ([`quantile_ci`] at the same confidence), following Price & Bonett (2001)
/// and Bonett & Price (2002): on the log scale `se_x = (ln U_x − ln L_x)/(2z)` with
/// `z = z_{1−α/2}`, likewise `se_y`. The two samples are independent, so by the delta method
///
/// `ln(Q_y/Q_x) ± z·√(se_x² + se_y²)`, exponentiated.
///
/// References: R. M. Price, D. G. Bonett, *Estimating the variance of the sample median*,
/// J. Statist. Comput. Simul. 68(3), 2001, 295–305; D. G. Bonett, R. M. Price, *Statistical
/// inference for a linear function of medians*, Psychological Methods 7(3), 2002, 370–383.
/// Since the order-statistic intervals have coverage ≥ the confidence, the resulting interval is
/// slightly conservative. There is no scipy function for it; the reference script applies the
/// same formula to numpy quantiles and scipy binomial intervals.
///
/// `x_sorted`, `y_sorted` must be ascending (by `f64::total_cmp` if they may hold NaN). `None` when either quantile interval is
/// unavailable (sample too small for `q`), a value is non-finite, or any of the quantiles or
/// interval bounds is `≤ 0` (the log is undefined).
pub fn quantile_ratio(
    x_sorted: &[f64],
    y_sorted: &[f64],
    q: f64,
    confidence: f64,
) -> Option<Estimate> {
    let p = parts(x_sorted, y_sorted, q, confidence)?;
    if [p.qx, p.qy, p.lx, p.ly].iter().any(|&v| v <= 0.0) {
        return None;
    }
    let se_x = (p.ux.ln() - p.lx.ln()) / (2.0 * p.z);
    let se_y = (p.uy.ln() - p.ly.ln()) / (2.0 * p.z);
    let log_ratio = p.qy.ln() - p.qx.ln();
    let half = p.z * (se_x * se_x + se_y * se_y).sqrt();
    Some(Estimate {
        estimate: p.qy / p.qx,
        low: (log_ratio - half).exp(),
        high: (log_ratio + half).exp(),
    })
}

/// Difference of the `q`-quantiles `Q_y(q) − Q_x(q)` (canary minus baseline, type 7) with a
/// two-sided confidence interval on the absolute scale.
///
/// Same construction as [`quantile_ratio`] without the log: `se = (U − L)/(2z)` for each
/// sample's order-statistic interval, interval `(Q_y − Q_x) ± z·√(se_x² + se_y²)` (Bonett &
/// Price 2002). `None` when either quantile interval is unavailable or a value is non-finite.
pub fn quantile_difference(
    x_sorted: &[f64],
    y_sorted: &[f64],
    q: f64,
    confidence: f64,
) -> Option<Estimate> {
    let p = parts(x_sorted, y_sorted, q, confidence)?;
    let se_x = (p.ux - p.lx) / (2.0 * p.z);
    let se_y = (p.uy - p.ly) / (2.0 * p.z);
    let diff = p.qy - p.qx;
    let half = p.z * (se_x * se_x + se_y * se_y).sqrt();
    Some(Estimate {
        estimate: diff,
        low: diff - half,
        high: diff + half,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_samples_give_unit_ratio_and_zero_difference() {
        let x: Vec<f64> = (1..=500).map(f64::from).collect();
        let r = quantile_ratio(&x, &x, 0.9, 0.95).unwrap();
        assert_eq!(r.estimate, 1.0);
        assert!(r.low < 1.0 && r.high > 1.0);
        let d = quantile_difference(&x, &x, 0.9, 0.95).unwrap();
        assert_eq!(d.estimate, 0.0);
        assert!((d.low + d.high).abs() < 1e-12);
    }

    #[test]
    fn unavailable_cases() {
        let x: Vec<f64> = (1..=50).map(f64::from).collect();
        assert_eq!(quantile_ratio(&x, &x, 0.99, 0.95), None);
        assert_eq!(quantile_ratio(&[], &x, 0.5, 0.95), None);
        let zeros = vec![0.0; 50];
        assert_eq!(quantile_ratio(&zeros, &x, 0.5, 0.95), None);
        assert!(quantile_difference(&zeros, &x, 0.5, 0.95).is_some());
    }
}
