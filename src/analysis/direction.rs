//! Which change of a metric is bad: the direction a limit checks, shared by the span metrics
//! (`config.rs`) and the metric-based ratios and series
//! (`metric_config.rs`).

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
