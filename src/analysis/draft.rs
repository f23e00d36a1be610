//! A comparison being judged: the [`Draft`] that the judge (`judge.rs`) (and the Kayenta
//! and metric judges) fill in before the Benjamini–Hochberg adjustment, with what remains to
//! decide ([`Pending`]) and the acceptable [`Region`] of its effect.

use crate::analysis::config::{metric_key, Combine, MetricConfig};
use crate::analysis::direction::Direction;
use crate::analysis::findings::{Comparison, MetricName, SideSummary};
use crate::model::comparison::{GroupComparison, GroupLevel, TrackSample};
use crate::stats::Estimate;

/// The acceptable region of an effect, in the unit of the estimate; infinite = unbounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    /// Lowest acceptable value.
    pub low: f64,
    /// Highest acceptable value.
    pub high: f64,
    /// The value meaning "no change" (1 for ratios, 0 for differences).
    pub null: f64,
}

impl Region {
    pub(crate) fn contains_interval(&self, e: &Estimate) -> bool {
        e.low >= self.low && e.high <= self.high
    }
}

/// Secondary limit of the error rate: the rate ratio.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatioLimit {
    /// The ratio estimate; `None` when undefined (both rates zero).
    pub estimate: Option<Estimate>,
    /// Acceptable ratio region.
    pub region: Region,
    /// How it combines with the primary limit.
    pub combine: Combine,
}

/// What remains to decide after all p-values are known.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    /// Already classified (too little data, Kayenta or threshold mode).
    Decided,
    /// Classify the interval in the comparison against `region` once p is adjusted.
    Interval {
        /// Primary estimate with its interval.
        estimate: Estimate,
        /// Acceptable region of the primary estimate.
        region: Region,
        /// Optional error-rate ratio limit.
        ratio: Option<RatioLimit>,
    },
}

/// A comparison whose classification may still depend on the adjusted p-value.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// The comparison (classification provisional unless `pending` is `Decided`).
    pub comparison: Comparison,
    /// What remains to decide.
    pub pending: Pending,
}

impl Region {
    /// The acceptable ratios `[1 − allowed_decrease, 1 + allowed_increase]` around no change
    /// (1), unbounded on a side the direction does not check; a missing limit is 0.
    pub fn relative(
        direction: Direction,
        allowed_increase: Option<f64>,
        allowed_decrease: Option<f64>,
    ) -> Self {
        Region {
            low: if direction.checks_decrease() {
                1.0 - allowed_decrease.unwrap_or(0.0)
            } else {
                f64::NEG_INFINITY
            },
            high: if direction.checks_increase() {
                1.0 + allowed_increase.unwrap_or(0.0)
            } else {
                f64::INFINITY
            },
            null: 1.0,
        }
    }
}

/// Stable comparison id: `service/level/name/metric`.
pub fn comparison_id(g: &GroupComparison, m: MetricName) -> String {
    let level = match g.key.level {
        GroupLevel::Route => "route",
        GroupLevel::Operation => "operation",
    };
    format!(
        "{}/{}/{}/{}",
        g.key.service,
        level,
        g.key.name,
        metric_key(m)
    )
}

fn side(t: &TrackSample) -> SideSummary {
    SideSummary {
        count: t.count,
        errors: t.errors,
        weighted_count: t.weighted_count,
        weighted_errors: t.weighted_errors,
        p50: t.quantiles.p50,
        p90: t.quantiles.p90,
        p99: t.quantiles.p99,
        p999: t.quantiles.p999,
    }
}

/// `Some(v)` when `v` is finite: JSON has no infinities, so an unbounded value is absent.
pub fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// A comparison shell with the sides filled in and everything else empty.
pub fn shell(g: &GroupComparison, m: MetricName, mc: &MetricConfig, unit: &str) -> Comparison {
    let (route, operation) = match g.key.level {
        GroupLevel::Route => (Some(g.key.name.clone()), None),
        GroupLevel::Operation => (None, Some(g.key.name.clone())),
    };
    Comparison {
        route,
        operation,
        level: g.key.level,
        group: mc.group.clone(),
        critical: mc.critical,
        baseline: side(&g.baseline),
        canary: side(&g.canary),
        ..Comparison::undecided(comparison_id(g, m), g.key.service.clone(), m, unit)
    }
}

/// Writes an estimate and its interval into the comparison (infinite bounds left absent).
pub fn set_estimate(c: &mut Comparison, e: &Estimate) {
    c.estimate = finite(e.estimate);
    c.ci_low = finite(e.low);
    c.ci_high = finite(e.high);
}

/// Writes the acceptable region into the comparison's `allowed_increase`/`allowed_decrease`.
pub fn set_region(c: &mut Comparison, r: &Region) {
    c.allowed_increase = finite(r.high);
    c.allowed_decrease = finite(r.low);
}
