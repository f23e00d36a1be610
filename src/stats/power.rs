//! TEMPORARY: minimum detectable effects (two-sided test, normal approximation).

use super::distributions::normal_ppf;

/// Smallest absolute difference of rates detectable with the given power.
pub fn mde_rate_difference(n1: f64, n2: f64, p_base: f64, alpha: f64, power: f64) -> f64 {
    if n1 <= 0.0 || n2 <= 0.0 {
        return f64::INFINITY;
    }
    let p = p_base.max(1.0 / (n1 + n2)).min(0.5);
    let z = normal_ppf(1.0 - alpha / 2.0) + normal_ppf(power);
    z * (p * (1.0 - p) * (1.0 / n1 + 1.0 / n2)).sqrt()
}

/// Smallest multiplicative shift exp(δ) − 1 detectable on log scale with standard deviation `sd_log`.
pub fn mde_log_shift(n1: f64, n2: f64, sd_log: f64, alpha: f64, power: f64) -> f64 {
    if n1 <= 0.0 || n2 <= 0.0 {
        return f64::INFINITY;
    }
    let z = normal_ppf(1.0 - alpha / 2.0) + normal_ppf(power);
    (z * sd_log * (1.0 / n1 + 1.0 / n2).sqrt()).exp() - 1.0
}
