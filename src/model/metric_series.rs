//! Per-track metric series over time as plain data: requests, server errors and p50/p99
//! latency per side, service, track and time bucket, computed from the metric tables by
//! `engine::metric_series::metric_series` and drawn by the report's "Metrics over time"
//! section (`docs/metrics-dashboards.md` has the definitions).

use super::comparison::Side;

/// One time bucket of one track's metric series.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricBucket {
    /// Bucket start, ns since the epoch (aligned to the epoch; points placed at `time − 1 ns`).
    pub start_unix_nano: i64,
    /// Requests: sum of the `http.server.request.duration` histogram counts.
    pub requests: u64,
    /// Of those with `http.response.status_code` ≥ 500.
    pub errors: u64,
    /// p50 latency of the merged histograms, ms (`None` without a histogram quantile).
    pub p50_ms: Option<f64>,
    /// p99 latency of the merged histograms, ms.
    pub p99_ms: Option<f64>,
}

/// The series of one (side, service, track).
#[derive(Debug, Clone, PartialEq)]
pub struct TrackSeries {
    /// Side.
    pub side: Side,
    /// `service_name`.
    pub service: String,
    /// `deployment_track`.
    pub track: String,
    /// Non-empty buckets in time order.
    pub buckets: Vec<MetricBucket>,
}

/// Every track's series; empty `series` means the inputs had no request-duration metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSeries {
    /// Bucket width, ns.
    pub bucket_ns: i64,
    /// Sorted by service, side (baseline first), track.
    pub series: Vec<TrackSeries>,
}

impl MetricSeries {
    /// True when no bucket has a request.
    pub fn is_empty(&self) -> bool {
        self.series.iter().all(|s| s.buckets.is_empty())
    }

    /// Services in order.
    pub fn services(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.series.iter().map(|s| s.service.as_str()).collect();
        v.dedup();
        v
    }
}
