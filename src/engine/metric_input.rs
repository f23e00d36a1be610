//! Loading the metric-based comparison input with DataFusion: the points of the metric tables
//! that belong to the baseline or the canary inside the comparison window
//! ([`load_metric_data`]) and the metric-only window ([`metric_window`]). The definitions
//! (sides, buckets, window membership) and the aggregation of the points are in
//! [`crate::model::metric_data`].

use super::context::Engine;
use super::EngineError;
use crate::model::comparison::{bucket_start, Selector, Side, Window};
use crate::model::metric_data::{point_bucket, MetricData, PointValue, SidedPoint};
use crate::stats::exponential_histogram::{ExponentialBuckets, ExponentialHistogram};
use arrow::array::{Array, ArrayRef, AsArray, MapArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};
use datafusion::common::ScalarValue;
use std::collections::BTreeMap;

const SIDE_CASE: &str = "CASE
        WHEN ($1 IS NULL OR deployment_track = $1) AND ($2 IS NULL OR service_version = $2)
            THEN 'baseline'
        WHEN ($3 IS NULL OR deployment_track = $3) AND ($4 IS NULL OR service_version = $4)
            THEN 'canary'
    END";

fn head_columns() -> String {
    format!(
        "{SIDE_CASE} AS side, CAST(service_name AS VARCHAR) AS service, \
         CAST(metric_name AS VARCHAR) AS metric, CAST(unit AS VARCHAR) AS unit, attributes, \
         CAST(time AS BIGINT) AS time_ns"
    )
}

fn points_sql(table: &str, extra: &str, present: &str) -> String {
    format!(
        "SELECT * FROM (SELECT {}, {extra} FROM {table} \
         WHERE ($5 IS NULL OR service_name = $5) AND time >= $6 AND time < $7 AND {present}) AS p \
         WHERE side IS NOT NULL",
        head_columns()
    )
}

fn selector_params(
    baseline: &Selector,
    canary: &Selector,
    service: &Option<String>,
) -> Vec<ScalarValue> {
    let s = |v: &Option<String>| ScalarValue::Utf8(v.clone());
    vec![
        s(&baseline.track),
        s(&baseline.version),
        s(&canary.track),
        s(&canary.version),
        s(service),
    ]
}

fn ts(ns: i64) -> ScalarValue {
    ScalarValue::TimestampNanosecond(Some(ns), Some("UTC".into()))
}

/// The metric-only window: `[bucket of max(first times), end of the bucket of min(last
/// times))` over the two sides' points with a measurement (all three tables), buckets as in
/// [`point_bucket`]. `None` when a side has no point or the ranges do not overlap.
pub async fn metric_window(
    engine: &Engine,
    baseline: &Selector,
    canary: &Selector,
    service: &Option<String>,
    bucket_ns: i64,
) -> Result<Option<Window>, EngineError> {
    let branch = |table: &str, present: &str| {
        format!(
            "SELECT {SIDE_CASE} AS side, CAST(time AS BIGINT) AS t FROM {table} \
             WHERE ($5 IS NULL OR service_name = $5) AND {present}"
        )
    };
    let sql = format!(
        "WITH pts AS ({} UNION ALL {} UNION ALL {}) \
         SELECT MIN(CASE WHEN side = 'baseline' THEN t END) AS bf, \
                MAX(CASE WHEN side = 'baseline' THEN t END) AS bl, \
                MIN(CASE WHEN side = 'canary' THEN t END) AS cf, \
                MAX(CASE WHEN side = 'canary' THEN t END) AS cl FROM pts",
        branch("metric_points", "value IS NOT NULL"),
        branch("histogram_points", "count IS NOT NULL"),
        branch("exp_histogram_points", "count IS NOT NULL"),
    );
    let name = "metric window";
    let (_, batches) = engine
        .query(name, &sql, selector_params(baseline, canary, service))
        .await?;
    let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Ok(None);
    };
    let get = |c: &str| -> Result<Option<i64>, EngineError> {
        let col = column(name, b, c)?;
        let col = cast(col, &DataType::Int64).map_err(|e| shape(name, c, &e.to_string()))?;
        let a = col.as_primitive::<Int64Type>();
        Ok(a.is_valid(0).then(|| a.value(0)))
    };
    let (bf, bl, cf, cl) = (get("bf")?, get("bl")?, get("cf")?, get("cl")?);
    let (Some(bf), Some(bl), Some(cf), Some(cl)) = (bf, bl, cf, cl) else {
        return Ok(None);
    };
    let (first, last) = (bf.max(cf), bl.min(cl));
    Ok((first <= last).then(|| Window {
        start_unix_nano: point_bucket(first, bucket_ns),
        end_unix_nano: point_bucket(last, bucket_ns).saturating_add(bucket_ns),
    }))
}

fn shape(query: &str, column: &str, reason: &str) -> EngineError {
    EngineError::ResultShape {
        query: query.into(),
        column: column.into(),
        reason: reason.into(),
    }
}

fn column<'a>(query: &str, b: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, EngineError> {
    b.column_by_name(name)
        .ok_or_else(|| shape(query, name, "missing"))
}

fn strings(query: &str, b: &RecordBatch, name: &str) -> Result<Vec<Option<String>>, EngineError> {
    let c = cast(column(query, b, name)?, &DataType::Utf8)
        .map_err(|e| shape(query, name, &e.to_string()))?;
    Ok(c.as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect())
}

fn f64s(query: &str, b: &RecordBatch, name: &str) -> Result<Vec<Option<f64>>, EngineError> {
    let c = cast(column(query, b, name)?, &DataType::Float64)
        .map_err(|e| shape(query, name, &e.to_string()))?;
    Ok(c.as_primitive::<Float64Type>().iter().collect())
}

fn i64s(query: &str, b: &RecordBatch, name: &str) -> Result<Vec<Option<i64>>, EngineError> {
    let c = cast(column(query, b, name)?, &DataType::Int64)
        .map_err(|e| shape(query, name, &e.to_string()))?;
    Ok(c.as_primitive::<Int64Type>().iter().collect())
}

fn maps(
    query: &str,
    b: &RecordBatch,
    name: &str,
) -> Result<Vec<BTreeMap<String, String>>, EngineError> {
    let c = column(query, b, name)?;
    let m: &MapArray = c
        .as_map_opt()
        .ok_or_else(|| shape(query, name, "expected a map"))?;
    let keys = cast(m.keys(), &DataType::Utf8).map_err(|e| shape(query, name, &e.to_string()))?;
    let values =
        cast(m.values(), &DataType::Utf8).map_err(|e| shape(query, name, &e.to_string()))?;
    let (keys, values) = (keys.as_string::<i32>(), values.as_string::<i32>());
    let offsets = m.value_offsets();
    Ok((0..m.len())
        .map(|i| {
            let mut out = BTreeMap::new();
            if m.is_valid(i) {
                for j in offsets[i] as usize..offsets[i + 1] as usize {
                    if keys.is_valid(j) && values.is_valid(j) {
                        out.insert(keys.value(j).to_string(), values.value(j).to_string());
                    }
                }
            }
            out
        })
        .collect())
}

/// A list column as `Vec<f64>` per row (empty for NULL).
fn f64_lists(query: &str, b: &RecordBatch, name: &str) -> Result<Vec<Vec<f64>>, EngineError> {
    let c = column(query, b, name)?;
    let l = c
        .as_list_opt::<i32>()
        .ok_or_else(|| shape(query, name, "expected a list"))?;
    let values =
        cast(l.values(), &DataType::Float64).map_err(|e| shape(query, name, &e.to_string()))?;
    let values = values.as_primitive::<Float64Type>();
    let offsets = l.value_offsets();
    Ok((0..l.len())
        .map(|i| {
            if l.is_null(i) {
                return Vec::new();
            }
            (offsets[i] as usize..offsets[i + 1] as usize)
                .map(|j| values.value(j))
                .collect()
        })
        .collect())
}

struct Head {
    side: Side,
    service: String,
    metric: String,
    unit: String,
    attributes: BTreeMap<String, String>,
    time_ns: i64,
}

fn heads(query: &str, b: &RecordBatch) -> Result<Vec<Option<Head>>, EngineError> {
    let side = strings(query, b, "side")?;
    let service = strings(query, b, "service")?;
    let metric = strings(query, b, "metric")?;
    let unit = strings(query, b, "unit")?;
    let attrs = maps(query, b, "attributes")?;
    let time = i64s(query, b, "time_ns")?;
    let mut out = Vec::with_capacity(b.num_rows());
    for (i, attributes) in attrs.into_iter().enumerate() {
        let side = match side[i].as_deref() {
            Some("baseline") => Side::Baseline,
            Some("canary") => Side::Canary,
            _ => {
                out.push(None);
                continue;
            }
        };
        let (Some(time_ns), Some(metric)) = (time[i], metric[i].clone()) else {
            out.push(None);
            continue;
        };
        out.push(Some(Head {
            side,
            service: service[i].clone().unwrap_or_default(),
            metric,
            unit: unit[i].clone().unwrap_or_default(),
            attributes,
            time_ns,
        }));
    }
    Ok(out)
}

fn point(h: Head, value: PointValue) -> SidedPoint {
    SidedPoint {
        side: h.side,
        service: h.service,
        metric: h.metric,
        unit: h.unit,
        attributes: h.attributes,
        time_ns: h.time_ns,
        value,
    }
}

/// Loads every point of both sides whose bucket overlaps the window (module docs; SQL with
/// bound parameters: selectors `$1..$4`, service `$5`, time range `$6`, `$7`).
pub async fn load_metric_data(
    engine: &Engine,
    baseline: &Selector,
    canary: &Selector,
    service: &Option<String>,
    window: Window,
    bucket_ns: i64,
) -> Result<MetricData, EngineError> {
    if bucket_ns <= 0 || window.start_unix_nano >= window.end_unix_nano {
        return Err(EngineError::Options(format!(
            "metric window [{}, {}) with bucket width {bucket_ns} ns",
            window.start_unix_nano, window.end_unix_nano
        )));
    }
    let lo = bucket_start(window.start_unix_nano, bucket_ns);
    let hi = bucket_start(window.end_unix_nano - 1, bucket_ns) + bucket_ns;
    let mut params = selector_params(baseline, canary, service);
    params.push(ts(lo.saturating_add(1)));
    params.push(ts(hi.saturating_add(1)));
    let mut points = Vec::new();

    let q = "metric points";
    let sql = points_sql("metric_points", "value", "value IS NOT NULL");
    let (_, batches) = engine.query(q, &sql, params.clone()).await?;
    for b in &batches {
        let v = f64s(q, b, "value")?;
        for (i, h) in heads(q, b)?.into_iter().enumerate() {
            if let (Some(h), Some(v)) = (h, v[i]) {
                points.push(point(h, PointValue::Number(v)));
            }
        }
    }

    let q = "histogram points";
    let sql = points_sql(
        "histogram_points",
        "count, bounds, bucket_counts",
        "count IS NOT NULL",
    );
    let (_, batches) = engine.query(q, &sql, params.clone()).await?;
    for b in &batches {
        let count = f64s(q, b, "count")?;
        let bounds = f64_lists(q, b, "bounds")?;
        let counts = f64_lists(q, b, "bucket_counts")?;
        for (i, h) in heads(q, b)?.into_iter().enumerate() {
            if let (Some(h), Some(c)) = (h, count[i]) {
                let counts = if counts[i].len() == bounds[i].len() + 1 {
                    counts[i].clone()
                } else {
                    Vec::new()
                };
                points.push(point(
                    h,
                    PointValue::Explicit {
                        count: c,
                        bounds: bounds[i].clone(),
                        counts,
                    },
                ));
            }
        }
    }

    let q = "exponential histogram points";
    let sql = points_sql(
        "exp_histogram_points",
        "count, scale, zero_count, zero_threshold, positive_offset, positive_bucket_counts, \
         negative_offset, negative_bucket_counts",
        "count IS NOT NULL",
    );
    let (_, batches) = engine.query(q, &sql, params).await?;
    for b in &batches {
        let scale = column(q, b, "scale")?
            .as_primitive_opt::<Int32Type>()
            .ok_or_else(|| shape(q, "scale", "expected Int32"))?
            .clone();
        let zero_count = f64s(q, b, "zero_count")?;
        let zero_threshold = f64s(q, b, "zero_threshold")?;
        let pos_off = i64s(q, b, "positive_offset")?;
        let neg_off = i64s(q, b, "negative_offset")?;
        let pos = f64_lists(q, b, "positive_bucket_counts")?;
        let neg = f64_lists(q, b, "negative_bucket_counts")?;
        for (i, h) in heads(q, b)?.into_iter().enumerate() {
            let Some(h) = h else { continue };
            let e = ExponentialHistogram {
                scale: scale.value(i),
                zero_threshold: zero_threshold[i].unwrap_or(0.0),
                zero_count: zero_count[i].unwrap_or(0.0),
                positive: ExponentialBuckets {
                    offset: pos_off[i].unwrap_or(0) as i32,
                    bucket_counts: pos[i].clone(),
                },
                negative: ExponentialBuckets {
                    offset: neg_off[i].unwrap_or(0) as i32,
                    bucket_counts: neg[i].clone(),
                },
            };
            points.push(point(h, PointValue::Exponential(e)));
        }
    }
    // A total order up to identical points, so sums and merges do not depend on DataFusion's
    // partitioning.
    points.sort_by(|a, b| {
        (&a.metric, &a.service, a.side, a.time_ns, &a.attributes).cmp(&(
            &b.metric,
            &b.service,
            b.side,
            b.time_ns,
            &b.attributes,
        ))
    });
    Ok(MetricData {
        window,
        bucket_ns,
        points,
    })
}
