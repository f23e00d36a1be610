//! TEMPORARY stand-in for the statistics module written in parallel on another branch.
//!
//! Same public API as the real `src/stats/`; the lead replaces these files with the real ones at
//! merge. Implementations are simple but correct (normal approximations, no exact small-sample
//! distributions), enough to develop and test `crate::analysis` against.

pub mod distributions;
pub mod fisher;
pub mod hodges_lehmann;
pub mod mann_whitney;
pub mod multiple_testing;
pub mod power;
pub mod proportion;
pub mod quantile;
pub mod quantile_difference;

/// Alternative hypothesis of a test; `Greater` means y (canary) tends to be larger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alternative {
    /// y differs from x in either direction.
    TwoSided,
    /// y is larger than x.
    Greater,
    /// y is smaller than x.
    Less,
}

/// A confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// A point estimate with a confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Point estimate.
    pub estimate: f64,
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}
