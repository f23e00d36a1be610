//! Which change of a metric is bad: the direction a limit checks, shared by the span metrics
//! ([`crate::analysis::config`]) and the metric-based ratios and series
//! ([`crate::analysis::metric_config`]).

use serde::{Deserialize, Serialize};

/// Which change of a metric is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Only an increase can fail (latency, errors).
    Increase,
    /// Only a decrease can fail.
    Decrease,
    /// Both directions can fail.
    Either,
}

impl Direction {
    /// Whether an increase can fail.
    pub fn checks_increase(self) -> bool {
        matches!(self, Direction::Increase | Direction::Either)
    }
    /// Whether a decrease can fail.
    pub fn checks_decrease(self) -> bool {
        matches!(self, Direction::Decrease | Direction::Either)
    }
}
