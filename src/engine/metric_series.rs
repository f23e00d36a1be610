//! Per-track metric series over time, from the metric tables (not from spans): requests,
//! server errors and p50/p99 latency per side, service, track and time bucket, as the shipped
//! dashboard queries [`queries::METRICS_ERROR_RATE_BY_TRACK`] and
//! [`queries::METRICS_P99_BY_TRACK`] compute them. The report's "Metrics over time" section
//! draws these; `docs/metrics-dashboards.md` has the definitions. The result types are in
//! [`crate::model::metric_series`].

use super::queries::{self, Params, Query};
use super::{Engine, EngineError};
use crate::model::comparison::Side;
use crate::model::metric_series::{MetricBucket, MetricSeries, TrackSeries};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use std::collections::BTreeMap;

fn shape(q: &Query, column: &str, reason: String) -> EngineError {
    EngineError::ResultShape {
        query: q.name.into(),
        column: column.into(),
        reason,
    }
}

fn col<'a>(
    q: &Query,
    b: &'a RecordBatch,
    name: &str,
    t: &DataType,
) -> Result<&'a dyn Array, EngineError> {
    let c = b
        .column_by_name(name)
        .ok_or_else(|| shape(q, name, "missing".into()))?;
    // Strings may come back dictionary-encoded or plain; the rest must match exactly.
    let ok = match t {
        DataType::Utf8 => matches!(
            c.data_type(),
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Dictionary(..)
        ),
        _ => c.data_type() == t,
    };
    if !ok {
        return Err(shape(
            q,
            name,
            format!("expected {t}, found {}", c.data_type()),
        ));
    }
    Ok(c.as_ref())
}

fn strings(q: &Query, b: &RecordBatch, name: &str) -> Result<Vec<String>, EngineError> {
    let c = col(q, b, name, &DataType::Utf8)?;
    let c = arrow::compute::cast(c, &DataType::Utf8).map_err(|e| shape(q, name, e.to_string()))?;
    let s = c.as_string::<i32>();
    Ok((0..s.len())
        .map(|i| {
            if s.is_valid(i) {
                s.value(i).to_string()
            } else {
                String::new()
            }
        })
        .collect())
}

fn ints(q: &Query, b: &RecordBatch, name: &str) -> Result<Vec<Option<i64>>, EngineError> {
    Ok(col(q, b, name, &DataType::Int64)?
        .as_primitive::<Int64Type>()
        .iter()
        .collect())
}

fn floats(q: &Query, b: &RecordBatch, name: &str) -> Result<Vec<Option<f64>>, EngineError> {
    Ok(col(q, b, name, &DataType::Float64)?
        .as_primitive::<Float64Type>()
        .iter()
        .collect())
}

fn side(q: &Query, s: &str) -> Result<Side, EngineError> {
    match s {
        "baseline" => Ok(Side::Baseline),
        "canary" => Ok(Side::Canary),
        other => Err(shape(q, "side", format!("unexpected value {other:?}"))),
    }
}

type Key = (String, Side, String);

/// Requests of the histogram kind used, p50 and p99 of one bucket.
type Quantiles = (i64, Option<f64>, Option<f64>);

/// Most points per series the report aims for (see [`report_bucket_ns`]).
pub const REPORT_POINTS: i64 = 12;

/// Bucket width for the report's metric charts: the smallest whole multiple of `bucket_ns`
/// that splits `window` into at most [`REPORT_POINTS`] buckets. Metric points come once per
/// export interval (typically 60 s), so a per-minute histogram quantile rests on one export of
/// a few canary requests; merging several intervals per point shows the trend instead of the
/// bucket resolution of single exports.
pub fn report_bucket_ns(window: &crate::model::comparison::Window, bucket_ns: i64) -> i64 {
    let bucket_ns = bucket_ns.max(1);
    let len = (window.end_unix_nano - window.start_unix_nano).max(1);
    let k = (len as f64 / (REPORT_POINTS as f64 * bucket_ns as f64))
        .ceil()
        .max(1.0);
    bucket_ns.saturating_mul(k as i64)
}

/// Runs the two dashboard queries with `params` and joins them per (side, service, track,
/// bucket). Requests and errors come from `metrics_error_rate_by_track.sql`; p50/p99 from
/// `metrics_p99_by_track.sql` — when a bucket has both explicit and exponential histograms,
/// the kind with more requests is used (explicit on a tie).
pub async fn metric_series(engine: &Engine, params: &Params) -> Result<MetricSeries, EngineError> {
    let mut map: BTreeMap<Key, BTreeMap<i64, MetricBucket>> = BTreeMap::new();
    let q = queries::METRICS_ERROR_RATE_BY_TRACK;
    let (_, batches) = engine.query(q.name, q.sql, params.values()).await?;
    for b in &batches {
        let (sides, services, tracks) = (
            strings(&q, b, "side")?,
            strings(&q, b, "service_name")?,
            strings(&q, b, "deployment_track")?,
        );
        let (starts, requests, errors) = (
            ints(&q, b, "bucket_start")?,
            ints(&q, b, "requests")?,
            ints(&q, b, "errors")?,
        );
        for i in 0..b.num_rows() {
            let start = starts[i].ok_or_else(|| shape(&q, "bucket_start", "NULL".into()))?;
            let key = (services[i].clone(), side(&q, &sides[i])?, tracks[i].clone());
            map.entry(key).or_default().insert(
                start,
                MetricBucket {
                    start_unix_nano: start,
                    requests: requests[i].unwrap_or(0).max(0) as u64,
                    errors: errors[i].unwrap_or(0).max(0) as u64,
                    p50_ms: None,
                    p99_ms: None,
                },
            );
        }
    }
    let q = queries::METRICS_P99_BY_TRACK;
    let (_, batches) = engine.query(q.name, q.sql, params.values()).await?;
    let mut best: BTreeMap<(Key, i64), Quantiles> = BTreeMap::new();
    for b in &batches {
        let (sides, services, tracks) = (
            strings(&q, b, "side")?,
            strings(&q, b, "service_name")?,
            strings(&q, b, "deployment_track")?,
        );
        let (starts, requests) = (ints(&q, b, "bucket_start")?, ints(&q, b, "requests")?);
        let (p50, p99) = (floats(&q, b, "p50_ms")?, floats(&q, b, "p99_ms")?);
        for i in 0..b.num_rows() {
            let start = starts[i].ok_or_else(|| shape(&q, "bucket_start", "NULL".into()))?;
            let key = (services[i].clone(), side(&q, &sides[i])?, tracks[i].clone());
            let n = requests[i].unwrap_or(0);
            // Rows come ordered explicit before exponential: keep the first on a tie.
            let e = best.entry((key, start)).or_insert((-1, None, None));
            if n > e.0 {
                *e = (n, p50[i], p99[i]);
            }
        }
    }
    for ((key, start), (_, p50, p99)) in best {
        if let Some(b) = map.get_mut(&key).and_then(|m| m.get_mut(&start)) {
            b.p50_ms = p50.filter(|v| v.is_finite());
            b.p99_ms = p99.filter(|v| v.is_finite());
        }
    }
    Ok(MetricSeries {
        bucket_ns: params.bucket_ns,
        series: map
            .into_iter()
            .map(|((service, side, track), buckets)| TrackSeries {
                side,
                service,
                track,
                buckets: buckets.into_values().collect(),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests;
