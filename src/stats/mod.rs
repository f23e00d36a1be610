//! Pure statistics for canary analysis (design §4): no Arrow, no I/O.
//!
//! Every function states its definition, its citation and the scipy/numpy function it is checked
//! against. The reference values live in `tests/reference/stats_reference.json`, written by
//! `tests/reference/generate_stats_reference.py`; see `docs/statistics.md` for the tolerances.
//!
//! Conventions shared by all two-sample functions: the first sample `x` is the baseline (stable),
//! the second sample `y` is the canary, and effects are reported as "canary minus baseline" (or
//! "canary over baseline" for ratios).

pub mod distributions;
pub mod fisher;
pub mod hodges_lehmann;
pub mod mann_whitney;
pub mod multiple_testing;
pub mod power;
pub mod proportion;
pub mod quantile;
pub mod quantile_difference;

#[cfg(test)]
mod reference_tests;

use serde::{Deserialize, Serialize};

/// The alternative hypothesis of a test.
///
/// For the two-sample tests the direction always refers to the *second* sample (`y`, the canary):
/// `Greater` means "the canary is stochastically greater / has the larger rate than the
/// baseline". See each test for how this maps onto scipy's `alternative` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Alternative {
    /// Two-sided: the samples differ in either direction.
    TwoSided,
    /// One-sided: the second sample (canary) is greater / has the larger rate.
    Greater,
    /// One-sided: the second sample (canary) is smaller / has the smaller rate.
    Less,
}

/// A confidence interval `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

impl Interval {
    /// True when `value` lies in the closed interval.
    pub fn contains(&self, value: f64) -> bool {
        self.low <= value && value <= self.high
    }
}

/// A point estimate with its confidence interval `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Point estimate.
    pub estimate: f64,
    /// Lower confidence bound.
    pub low: f64,
    /// Upper confidence bound.
    pub high: f64,
}

impl Estimate {
    /// The interval part of the estimate.
    pub fn interval(&self) -> Interval {
        Interval {
            low: self.low,
            high: self.high,
        }
    }
}

/// `z_{1-α/2}` for a two-sided interval of the given confidence, NaN when `confidence` is not in
/// (0, 1).
pub(crate) fn two_sided_z(confidence: f64) -> f64 {
    if !(confidence > 0.0 && confidence < 1.0) {
        return f64::NAN;
    }
    distributions::normal_ppf(1.0 - (1.0 - confidence) / 2.0)
}
