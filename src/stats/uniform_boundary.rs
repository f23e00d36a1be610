//! Time-uniform boundaries for sequential inference: the first building block of the latency
//! confidence sequences of issue 11 (not used by the analysis yet).
//!
//! A boundary `u(v)` bounds a sub-Gaussian process `S_t` with variance process `V_t`
//! uniformly over time: `P(∃t: S_t ≥ u(V_t)) ≤ α`. The **two-sided normal mixture**
//! (Howard, Ramdas, McAuliffe & Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence
//! sequences", Ann. Statist. 49(2), 2021, Proposition 5 / eq. (14); Robbins 1970) mixes the
//! exponential supermartingale `exp(λS − λ²V/2)` over `λ ~ N(0, 1/ρ)`:
//!
//! ```text
//! ln M(s, v) = s² / (2(v + ρ)) + ½ ln(ρ / (v + ρ))
//! u(v)       = sqrt((v + ρ) · ln((v + ρ) / (ρ α²)))          (ln M(u(v), v) = ln(1/α))
//! ρ          = v_opt / (2 ln(1/α_opt) + ln(1 + 2 ln(1/α_opt)))  (tightest near v = v_opt)
//! ```
//!
//! A Bernoulli(p) indicator minus p is sub-Gaussian with variance proxy ¼, so with
//! `v = t/4` this bounds the count of observations below a quantile — the construction of the
//! quantile confidence sequences of Howard & Ramdas (Bernoulli 28(3), 2022, §3). Checked
//! against `confseq` 0.0.11 (`boundaries.normal_mixture_bound`,
//! `tests/reference/generate_confseq_reference.py`).

/// `ρ` of the two-sided normal mixture tuned so the boundary is tightest at intrinsic time
/// `v_opt` for level `alpha_opt` (confseq's `best_rho`).
pub fn normal_mixture_rho(v_opt: f64, alpha_opt: f64) -> f64 {
    let l = 2.0 * (1.0 / alpha_opt).ln();
    v_opt / (l + (1.0 + l).ln())
}

/// Natural log of the two-sided normal-mixture supermartingale at `S = s`, `V = v`.
pub fn normal_log_mixture(s: f64, v: f64, rho: f64) -> f64 {
    s * s / (2.0 * (v + rho)) + 0.5 * (rho / (v + rho)).ln()
}

/// The two-sided normal-mixture boundary at intrinsic time `v` and level `alpha`, with the
/// mixture tuned for `v_opt`, `alpha_opt` ([`normal_mixture_rho`]).
pub fn normal_mixture_bound(v: f64, alpha: f64, v_opt: f64, alpha_opt: f64) -> f64 {
    let rho = normal_mixture_rho(v_opt, alpha_opt);
    ((v + rho) * ((v + rho) / (rho * alpha * alpha)).ln()).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const REFERENCE: &str = include_str!("../../tests/reference/confseq_reference.json");
    /// Relative tolerance against confseq (the same closed form in C++; rounding only).
    const RTOL: f64 = 1e-12;

    #[test]
    fn two_sided_normal_mixture_matches_confseq() {
        let doc: Value = serde_json::from_str(REFERENCE).unwrap();
        let mut checked = 0;
        for c in doc["normal"].as_array().unwrap() {
            if c["one_sided"].as_bool().unwrap() {
                continue; // one-sided needs a root search: not built
            }
            let g = |k: &str| c[k].as_f64().unwrap();
            let b = normal_mixture_bound(g("v"), g("alpha"), g("v_opt"), 0.05);
            assert!((b - g("bound")).abs() <= RTOL * g("bound"), "{c}: {b}");
            let rho = normal_mixture_rho(g("v_opt"), 0.05);
            let lm = normal_log_mixture(b, g("v"), rho);
            assert!((lm - g("log_mixture_at_bound")).abs() < 1e-9, "{c}: {lm}");
            // At the boundary the mixture is exactly 1/α.
            assert!((lm - (1.0 / g("alpha")).ln()).abs() < 1e-9);
            checked += 1;
        }
        assert_eq!(checked, 5);
    }
}
