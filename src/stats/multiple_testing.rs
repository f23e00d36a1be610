//! Multiple-testing correction across routes and metrics.

/// Benjamini–Hochberg adjusted p-values (false discovery rate), in input order.
///
/// With the `m` non-NaN p-values sorted ascending, `p̃_(i) = min_{j ≥ i} min(1, m·p_(j)/j)`.
/// Y. Benjamini, Y. Hochberg, *Controlling the False Discovery Rate: A Practical and Powerful
/// Approach to Multiple Testing*, JRSS B 57(1), 1995, 289–300. Matches
/// `scipy.stats.false_discovery_control(p, method="bh")` (and R's `p.adjust(p, "BH")`).
/// NaN entries (tests that were not run) pass through as NaN and do not count in `m`; scipy
/// rejects NaN, so the reference compares the non-NaN subset. Outputs are clipped to `[0, 1]`.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let mut out = vec![f64::NAN; p.len()];
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    let m = order.len();
    if m == 0 {
        return out;
    }
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mf = m as f64;
    let mut running = f64::INFINITY;
    for (rank0, &idx) in order.iter().enumerate().rev() {
        let adjusted = p[idx] * (mf / (rank0 + 1) as f64);
        running = running.min(adjusted);
        out[idx] = running.clamp(0.0, 1.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nan_passes_through() {
        let r = benjamini_hochberg(&[0.01, f64::NAN, 0.04]);
        assert!(r[1].is_nan());
        assert_eq!(r[0], 0.02);
        assert_eq!(r[2], 0.04);
        assert!(benjamini_hochberg(&[]).is_empty());
    }

    proptest! {
        #[test]
        fn adjusted_is_monotone_and_not_below_raw(p in prop::collection::vec(0.0f64..=1.0, 1..60)) {
            let adj = benjamini_hochberg(&p);
            for i in 0..p.len() {
                prop_assert!(adj[i] >= p[i] - 1e-15 && adj[i] <= 1.0);
                for j in 0..p.len() {
                    if p[i] < p[j] {
                        prop_assert!(adj[i] <= adj[j]);
                    }
                }
            }
        }
    }
}
