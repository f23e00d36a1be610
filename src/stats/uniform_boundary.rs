//! Time-uniform boundaries for sequential inference: the building blocks of the latency
//! confidence sequences and the two-sample quantile test (`stats::quantile_sequence`).
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

/// The two-sided **beta-binomial mixture** (Howard, Ramdas, McAuliffe & Sekhon 2021,
/// Proposition 7; confseq's `BetaBinomialMixture` with `is_one_sided = false`): for increments
/// in `[−g, h]` (a Bernoulli indicator minus its mean: `g = p`, `h = 1 − p`), the exponential
/// supermartingale mixed over a beta distribution of its parameter,
///
/// ```text
/// ln M(s, v) = v/(gh)·ln(g+h) − (v + hs)/(h(g+h))·ln g − (v − gs)/(g(g+h))·ln h
///              + ln B((r + v − gs)/(g(g+h)), (r + v + hs)/(h(g+h)))
///              − ln B(r/(g(g+h)), r/(h(g+h)))
/// r          = max(ρ − gh, 10⁻³·gh),  ρ = [`normal_mixture_rho`](v_opt, α_opt)
/// ```
///
/// with `s` the centred sum and `v` its variance process (`t·p(1−p)` after `t` indicators).
/// Tighter than the normal mixture for skewed Bernoulli increments (p99).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BetaBinomialMixture {
    r: f64,
    g: f64,
    h: f64,
    normalizer: f64,
}

impl BetaBinomialMixture {
    /// The mixture for increments in `[−g, h]` (`g, h > 0`), tuned for intrinsic time `v_opt`
    /// at level `alpha_opt`.
    pub fn new(v_opt: f64, alpha_opt: f64, g: f64, h: f64) -> Self {
        let rho = normal_mixture_rho(v_opt, alpha_opt);
        let r = (rho - g * h).max(1e-3 * g * h);
        let gh = g + h;
        BetaBinomialMixture {
            r,
            g,
            h,
            normalizer: ln_beta(r / (g * gh), r / (h * gh)),
        }
    }

    /// `ln M(s, v)`; finite for `−(r + v)/h < s < (r + v)/g`.
    pub fn log_mixture(&self, s: f64, v: f64) -> f64 {
        let (g, h, r) = (self.g, self.h, self.r);
        let gh = g + h;
        v / (g * h) * gh.ln() - (v + h * s) / (h * gh) * g.ln() - (v - g * s) / (g * gh) * h.ln()
            + ln_beta((r + v - g * s) / (g * gh), (r + v + h * s) / (h * gh))
            - self.normalizer
    }

    /// The boundary at intrinsic time `v` and level `alpha`: the `s ≥ 0` where `ln M(s, v)`
    /// reaches `ln(1/α)`, or `v/g` (confseq's upper end of the search) when it does not below
    /// that. Bisection to the last bit (confseq stops at 40 bits).
    pub fn bound(&self, v: f64, alpha: f64) -> f64 {
        let threshold = (1.0 / alpha).ln();
        let high = v / self.g;
        if self.log_mixture(high, v) < threshold {
            return high;
        }
        let (mut lo, mut hi) = (0.0f64, high);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            if self.log_mixture(mid, v) < threshold {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }
}

/// `ln B(a, b)`.
fn ln_beta(a: f64, b: f64) -> f64 {
    use crate::stats::distributions::ln_gamma;
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

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

    #[test]
    fn two_sided_beta_binomial_mixture_matches_confseq() {
        let doc: Value = serde_json::from_str(REFERENCE).unwrap();
        let mut checked = 0;
        for c in doc["beta_binomial"].as_array().unwrap() {
            if c["one_sided"].as_bool().unwrap() {
                continue; // one-sided needs the incomplete beta function: not built
            }
            let g = |k: &str| c[k].as_f64().unwrap();
            let m = BetaBinomialMixture::new(g("v_opt"), 0.05, g("g"), g("h"));
            let b = m.bound(g("v"), g("alpha"));
            assert!(
                (b - g("bound")).abs() <= BETA_BINOMIAL_RTOL * g("bound"),
                "{c}: {b}"
            );
            let lm = m.log_mixture(g("bound"), g("v"));
            // ln B of arguments near 10⁶ (v = 10⁵) cancels terms of 10⁷: 1e-8 absolute.
            assert!((lm - g("log_mixture_at_bound")).abs() < 1e-8, "{c}: {lm}");
            checked += 1;
        }
        assert_eq!(checked, 15);
    }

    /// Relative tolerance of the beta-binomial boundary against confseq: its bisection stops
    /// at 40 bits, and at v = 10⁵ ln M itself carries ~1e-8 of lgamma cancellation, which
    /// moves the root by ~1e-9 relative.
    const BETA_BINOMIAL_RTOL: f64 = 1e-8;
}
