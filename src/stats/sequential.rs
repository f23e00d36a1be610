//! Anytime-valid sequential test for two-arm count data (Lindon & Malek, 2022).
//!
//! Under the null hypothesis every event (a request, or an error) falls in the canary arm with
//! a known probability `ρ` — the configured traffic split for requests, the canary's share of
//! requests for errors. The canary's count among `n` events is then `Binomial(n, ρ)`. Against
//! it we put a Beta mixture over the canary share `θ`, `θ ~ Beta(kρ, k(1−ρ))` (savvi's
//! Dirichlet prior `α₀ = kθ₀` with two categories). The Bayes factor after `c` canary and `s`
//! stable events is
//!
//! ```text
//! e = B(kρ + c, k(1−ρ) + s) / B(kρ, k(1−ρ)) / (ρ^c (1−ρ)^s)
//! ```
//!
//! a nonnegative martingale under H0 with mean 1, so by Ville's inequality
//! `P(∃n: e_n ≥ 1/α) ≤ α`: the test may be looked at after every minute and stopped at any look
//! without inflating the false-rollback rate. The always-valid p-value is
//! `p_n = min(1, min_{m≤n} 1/e_m)`.
//!
//! Inverting the same mixture gives a confidence sequence for `θ`:
//! `{θ : c ln θ + s ln(1−θ) ≥ ln B(α₀ + x) − ln B(α₀) + ln α}`, intersected over looks, which
//! covers the true `θ` at every look simultaneously with probability ≥ 1 − α. For error counts,
//! when the errors are Poisson with rates `λ_c`, `λ_s` per request, the canary share of errors is
//! `θ = ρr / (ρr + 1 − ρ)` with `r = λ_c/λ_s`, so the interval for `θ` maps monotonically onto a
//! confidence sequence for the rate ratio `r = (θ/(1−θ)) · ((1−ρ)/ρ)`.
//!
//! Reference: M. Lindon and A. Malek, "Anytime-valid inference for multinomial count data",
//! NeurIPS 2022 (§3, the multinomial test; §5, the canary-release Poisson test). Checked against
//! `savvi.multinomial.Multinomial` 0.3.1 in `tests/reference/sequential_reference.json`.

use super::distributions::ln_gamma;
use super::Interval;
use serde::Serialize;

/// Default concentration `k` of the Beta mixture, the `savvi` default.
pub const DEFAULT_CONCENTRATION: f64 = 100.0;

/// Errors from constructing a sequential count test.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SequentialError {
    /// The null share `ρ` must lie strictly between 0 and 1.
    #[error("null canary share must be strictly between 0 and 1, got {0}")]
    Share(f64),
    /// The mixture concentration `k` must be positive and finite.
    #[error("mixture concentration must be positive and finite, got {0}")]
    Concentration(f64),
    /// The level `α` must lie strictly between 0 and 1.
    #[error("alpha must be strictly between 0 and 1, got {0}")]
    Alpha(f64),
}

/// The state of the test after one look.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SequentialLook {
    /// Cumulative canary events.
    pub canary: u64,
    /// Cumulative stable events.
    pub stable: u64,
    /// Natural log of the e-value (mixture Bayes factor) at this look.
    pub log_e_value: f64,
    /// Always-valid p-value `min(1, min_{m≤n} 1/e_m)`.
    pub p_value: f64,
    /// Confidence sequence for the canary share `θ`, intersected over looks so far.
    pub share: Interval,
    /// The same sequence mapped onto the rate ratio canary/stable.
    pub rate_ratio: Interval,
    /// True once `p_value ≤ α` (stays true: the p-value never rises).
    pub rejected: bool,
}

/// Lindon & Malek's two-arm count test, updated look by look (see the module doc).
#[derive(Debug, Clone)]
pub struct SequentialCountTest {
    rho: f64,
    k: f64,
    alpha: f64,
    canary: u64,
    stable: u64,
    min_p: f64,
    share: Interval,
}

/// `ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b)`.
fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// `x ln y` with `0 ln 0 = 0` (scipy's `xlogy`).
fn xlogy(x: f64, y: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        x * y.ln()
    }
}

impl SequentialCountTest {
    /// A test of "canary share = `rho`" at level `alpha` with mixture concentration `k`.
    pub fn new(rho: f64, alpha: f64, k: f64) -> Result<Self, SequentialError> {
        if !(rho > 0.0 && rho < 1.0) {
            return Err(SequentialError::Share(rho));
        }
        if !(k > 0.0 && k.is_finite()) {
            return Err(SequentialError::Concentration(k));
        }
        if !(alpha > 0.0 && alpha < 1.0) {
            return Err(SequentialError::Alpha(alpha));
        }
        Ok(Self {
            rho,
            k,
            alpha,
            canary: 0,
            stable: 0,
            min_p: 1.0,
            share: Interval {
                low: 0.0,
                high: 1.0,
            },
        })
    }

    /// Natural log of the mixture Bayes factor for cumulative counts `c` (canary), `s` (stable).
    pub fn log_e_value(&self, c: u64, s: u64) -> f64 {
        let (a, b) = (self.k * self.rho, self.k * (1.0 - self.rho));
        let (cf, sf) = (c as f64, s as f64);
        ln_beta(a + cf, b + sf) - ln_beta(a, b) - xlogy(cf, self.rho) - xlogy(sf, 1.0 - self.rho)
    }

    /// The confidence set for `θ` from the counts at one look (not intersected).
    fn share_set(&self, c: u64, s: u64) -> Interval {
        let (a, b) = (self.k * self.rho, self.k * (1.0 - self.rho));
        let (cf, sf) = (c as f64, s as f64);
        let bound = ln_beta(a + cf, b + sf) - ln_beta(a, b) + self.alpha.ln();
        let g = |t: f64| xlogy(cf, t) + xlogy(sf, 1.0 - t) - bound;
        let mle = if c + s == 0 { self.rho } else { cf / (cf + sf) };
        // g is concave with its maximum at the MLE, where g > 0 (the prior predictive never
        // exceeds the maximised likelihood, and ln α < 0): one root on each side, or none when
        // g stays positive up to the boundary.
        let low = if g(0.0) >= 0.0 {
            0.0
        } else {
            bisect(&g, 0.0, mle)
        };
        let high = if g(1.0) >= 0.0 {
            1.0
        } else {
            bisect(&g, 1.0, mle)
        };
        Interval { low, high }
    }

    /// Add the events observed since the previous look and return the state at this look.
    pub fn update(&mut self, canary: u64, stable: u64) -> SequentialLook {
        self.canary += canary;
        self.stable += stable;
        let log_e = self.log_e_value(self.canary, self.stable);
        self.min_p = self.min_p.min((-log_e).exp());
        let set = self.share_set(self.canary, self.stable);
        self.share = Interval {
            low: self.share.low.max(set.low),
            high: self.share.high.min(set.high),
        };
        let odds = (1.0 - self.rho) / self.rho;
        let ratio = |t: f64| {
            if t >= 1.0 {
                f64::INFINITY
            } else {
                t / (1.0 - t) * odds
            }
        };
        SequentialLook {
            canary: self.canary,
            stable: self.stable,
            log_e_value: log_e,
            p_value: self.min_p,
            share: self.share,
            rate_ratio: Interval {
                low: ratio(self.share.low),
                high: ratio(self.share.high),
            },
            rejected: self.min_p <= self.alpha,
        }
    }
}

/// Root of `g` between `outside` (g < 0) and `inside` (g ≥ 0), to machine precision.
fn bisect(g: &impl Fn(f64) -> f64, mut outside: f64, mut inside: f64) -> f64 {
    for _ in 0..200 {
        let mid = 0.5 * (outside + inside);
        if mid == outside || mid == inside {
            break;
        }
        if g(mid) >= 0.0 {
            inside = mid;
        } else {
            outside = mid;
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_parameters() {
        assert_eq!(
            SequentialCountTest::new(0.0, 0.05, 100.0).unwrap_err(),
            SequentialError::Share(0.0)
        );
        assert_eq!(
            SequentialCountTest::new(1.0, 0.05, 100.0).unwrap_err(),
            SequentialError::Share(1.0)
        );
        assert!(SequentialCountTest::new(0.5, 0.0, 100.0).is_err());
        assert!(SequentialCountTest::new(0.5, 0.05, -1.0).is_err());
    }

    #[test]
    fn no_events_means_no_evidence() {
        let mut t = SequentialCountTest::new(0.1, 0.05, 100.0).unwrap();
        let look = t.update(0, 0);
        assert_eq!(look.log_e_value, 0.0);
        assert_eq!(look.p_value, 1.0);
        assert!(!look.rejected);
    }

    #[test]
    fn p_value_never_rises_and_interval_never_widens() {
        let mut t = SequentialCountTest::new(0.5, 0.05, 100.0).unwrap();
        let mut prev: Option<SequentialLook> = None;
        // A stretch of canary-heavy looks followed by balanced ones.
        for (c, s) in [(60, 20), (50, 30), (40, 40), (40, 40), (40, 40)] {
            let look = t.update(c, s);
            if let Some(p) = prev {
                assert!(look.p_value <= p.p_value);
                assert!(look.share.low >= p.share.low && look.share.high <= p.share.high);
            }
            // Once rejected, always rejected: later balanced looks cannot undo the evidence.
            assert!(look.rejected, "after a 60:20 start: {look:?}");
            prev = Some(look);
        }
    }

    #[test]
    fn rate_ratio_maps_the_share_interval() {
        let mut t = SequentialCountTest::new(0.2, 0.05, 100.0).unwrap();
        let look = t.update(40, 60);
        // share 0.4 at ρ = 0.2 is a ratio of (0.4/0.6)·4 = 8/3; the interval must contain it.
        assert!(look.rate_ratio.low < 8.0 / 3.0 && 8.0 / 3.0 < look.rate_ratio.high);
        let r = |t: f64| t / (1.0 - t) * 4.0;
        assert!((look.rate_ratio.low - r(look.share.low)).abs() < 1e-12);
    }
}
