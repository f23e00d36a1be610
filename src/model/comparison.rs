//! The span-based comparison input as plain data: the two sides, the window and per-group
//! samples of baseline and canary over it.
//!
//! This is the contract between `engine` (which computes it with DataFusion and rayon) and
//! `analysis` / `report` (which judge and render it without importing the engine).
//! Durations are milliseconds.

use serde::{Deserialize, Serialize};

/// How a group is keyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupLevel {
    /// Requests (entry spans, design §3) grouped by route.
    Route,
    /// Every span grouped by span name (operation).
    Operation,
}

/// Identity of a compared group (the track/version is what differs between the two sides).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GroupKey {
    /// `service.name`.
    pub service: String,
    /// Route or operation.
    pub level: GroupLevel,
    /// The route (for [`GroupLevel::Route`]) or span name (for [`GroupLevel::Operation`]).
    pub name: String,
}

/// Which spans form one side of the comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Selector {
    /// `deployment_track` value, if selecting by track.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track: Option<String>,
    /// `service_version` value, if selecting by version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl Selector {
    /// A short name of the side for chart legends: the track's value, the version's value,
    /// both (`canary 1.5.0`), or `all`. Telemetry strings: clean and escape on output.
    pub fn label(&self) -> String {
        match (&self.track, &self.version) {
            (Some(t), Some(v)) => format!("{t} {v}"),
            (Some(t), None) => t.clone(),
            (None, Some(v)) => v.clone(),
            (None, None) => "all".into(),
        }
    }
}

/// Which side of the comparison something belongs to: the baseline [`Selector`] wins when a
/// record matches both (`queries/window.sql`, the metric queries' `side` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// Matches the baseline selector.
    Baseline,
    /// Matches the canary selector (and not the baseline's).
    Canary,
}

/// Comparison window, nanoseconds since the Unix epoch, half-open `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Inclusive start.
    pub start_unix_nano: i64,
    /// Exclusive end.
    pub end_unix_nano: i64,
}

/// Start of the bucket holding `t`, buckets aligned to the Unix epoch (as SQL `date_bin` with
/// origin 1970-01-01 computes it).
pub fn bucket_start(t: i64, bucket_ns: i64) -> i64 {
    t.div_euclid(bucket_ns) * bucket_ns
}

/// Exact quantiles of a sample (Hyndman–Fan type 7, numpy's default `linear` method).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Quantiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
}

impl Quantiles {
    /// The p50/p90/p99/p999 of `sorted` (ascending, no NaN) by
    /// [`crate::stats::quantile::quantile_type7`]; all zero when empty (this type's convention
    /// for a side without requests).
    pub fn of_sorted(sorted: &[f64]) -> Quantiles {
        use crate::stats::quantile::quantile_type7 as q;
        if sorted.is_empty() {
            return Quantiles::default();
        }
        Quantiles {
            p50: q(sorted, 0.5),
            p90: q(sorted, 0.9),
            p99: q(sorted, 0.99),
            p999: q(sorted, 0.999),
        }
    }
}

/// One side (baseline or canary) of one group inside the window.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TrackSample {
    /// Spans recorded (unweighted).
    pub count: u64,
    /// Recorded spans that are errors (design §3 error rule).
    pub errors: u64,
    /// Sum of `sample_weight`: the requests the recorded spans stand for.
    pub weighted_count: f64,
    /// Sum of `sample_weight` over error spans.
    pub weighted_errors: f64,
    /// Every duration in milliseconds, sorted ascending (unweighted).
    pub durations_ms: Vec<f64>,
    /// For each entry of `durations_ms`, the index into this side's time series (`baseline_series`
    /// or `canary_series` of the [`GroupComparison`]) of the bucket the request started in.
    /// The sample up to any time is then the entries whose bucket starts before it, still in
    /// ascending order: what `method = "sequential"` reads look by look without a second pass
    /// over spans. Empty unless asked for (`EngineOptions::duration_buckets`) or without
    /// per-request durations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duration_buckets: Vec<u32>,
    /// Exact quantiles of `durations_ms`; all zero when empty.
    pub quantiles: Quantiles,
}

/// One time bucket of one side of one group.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TimeBucket {
    /// Bucket start, nanoseconds since the Unix epoch.
    pub start_unix_nano: i64,
    /// Spans recorded.
    pub count: u64,
    /// Error spans recorded.
    pub errors: u64,
    /// Weighted count.
    pub weighted_count: f64,
    /// Weighted errors.
    pub weighted_errors: f64,
    /// Exact median duration (ms) in the bucket; NaN when empty.
    pub p50_ms: f64,
    /// Exact p99 duration (ms) in the bucket; NaN when empty.
    pub p99_ms: f64,
}

/// Baseline and canary samples of one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupComparison {
    /// The group.
    pub key: GroupKey,
    /// Baseline side.
    pub baseline: TrackSample,
    /// Canary side.
    pub canary: TrackSample,
    /// Baseline per time bucket, in time order, only non-empty buckets.
    pub baseline_series: Vec<TimeBucket>,
    /// Canary per time bucket, in time order, only non-empty buckets.
    pub canary_series: Vec<TimeBucket>,
}

/// Everything analysis needs: the selectors, the window and every group, sorted by key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonInput {
    /// Baseline selector.
    pub baseline: Selector,
    /// Canary selector.
    pub canary: Selector,
    /// Window actually compared.
    pub window: Window,
    /// Time-bucket width in nanoseconds.
    pub bucket_ns: i64,
    /// First span of the canary in the data (before any window restriction), for charts.
    pub canary_first_seen_unix_nano: Option<i64>,
    /// Groups, sorted by [`GroupKey`].
    pub groups: Vec<GroupComparison>,
}
