//! Adtributor's surprise: one value's term of the Jensen–Shannon divergence between two
//! distributions of a categorical attribute (R. Bhagwan, R. Kumar, R. Ramjee, G. Varghese,
//! S. Mohapatra, H. Manoharan, P. Shah, *Adtributor: Revenue Debugging in Advertising
//! Systems*, NSDI 2014, §3.2).

/// Adtributor's surprise of one value: its term of the Jensen–Shannon divergence between the
/// selection share `p` and the baseline share `q` (0·ln 0 = 0).
pub fn surprise(p: f64, q: f64) -> f64 {
    let m = (p + q) / 2.0;
    let term = |x: f64| if x > 0.0 { x * (x / m).ln() } else { 0.0 };
    if m <= 0.0 {
        0.0
    } else {
        0.5 * (term(p) + term(q))
    }
}
