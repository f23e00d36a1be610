//! TEMPORARY: ratio and difference of quantiles with conservative (Bonferroni) intervals.

use super::quantile::{quantile_ci, quantile_type7};
use super::Estimate;

/// Q_y(q) / Q_x(q) with an interval combining two order-statistic intervals at 1 − (1 − c)/2.
pub fn quantile_ratio(
    x_sorted: &[f64],
    y_sorted: &[f64],
    q: f64,
    confidence: f64,
) -> Option<Estimate> {
    let c = 1.0 - (1.0 - confidence) / 2.0;
    let ix = quantile_ci(x_sorted, q, c)?;
    let iy = quantile_ci(y_sorted, q, c)?;
    let qx = quantile_type7(x_sorted, q);
    let qy = quantile_type7(y_sorted, q);
    if qx <= 0.0 || ix.low <= 0.0 {
        return None;
    }
    Some(Estimate {
        estimate: qy / qx,
        low: iy.low / ix.high,
        high: iy.high / ix.low,
    })
}

/// Q_y(q) − Q_x(q) with an interval combining two order-statistic intervals at 1 − (1 − c)/2.
pub fn quantile_difference(
    x_sorted: &[f64],
    y_sorted: &[f64],
    q: f64,
    confidence: f64,
) -> Option<Estimate> {
    let c = 1.0 - (1.0 - confidence) / 2.0;
    let ix = quantile_ci(x_sorted, q, c)?;
    let iy = quantile_ci(y_sorted, q, c)?;
    Some(Estimate {
        estimate: quantile_type7(y_sorted, q) - quantile_type7(x_sorted, q),
        low: iy.low - ix.high,
        high: iy.high - ix.low,
    })
}
