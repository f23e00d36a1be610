//! The metric tables of the OpenTelemetry Collector ClickHouse exporter (`otel_metrics_sum`,
//! `otel_metrics_gauge`, `otel_metrics_histogram`, `otel_metrics_exponential_histogram`,
//! `otel_metrics_summary`; opentelemetry-collector-contrib `exporter/clickhouseexporter`,
//! `internal/sqltemplates/metrics_*_table.sql`) exported to Parquet, detected by columns.
//!
//! One row is one data point. `Nested` columns appear flattened as `Exemplars.TimeUnix`, … and
//! `ValueAtQuantiles.Quantile`/`.Value` list columns (ClickHouse's default `flatten_nested`).
//! Times are `DateTime64(9)` (Parquet timestamps) or, in newer DDL, `DateTime` (seconds): an
//! integer time column whose values are below 10^11 is taken as seconds. `Sum`, `Min` and
//! `Max` are non-nullable in ClickHouse, so absent values arrive as 0. `source_line` is the
//! 0-based file row, and issues carry that row.

use super::{bools, find_col, floats, ints, list_parts, strings, KvColumn};
use crate::ingest::IngestOptions;
use crate::model::metrics::{
    count_without_buckets, validate_point, DeltaData, Exemplar, ExpBuckets, MetricKind,
    MetricPoint, PointData, Temporality,
};
use crate::model::quality::{DataQuality, FileSummary, Issue, IssueKind};
use crate::model::spans::ResourceInfo;
use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::Schema;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// Format name in the file summary.
pub fn format_name(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Sum => "parquet-clickhouse-metrics-sum",
        MetricKind::Gauge => "parquet-clickhouse-metrics-gauge",
        MetricKind::Histogram => "parquet-clickhouse-metrics-histogram",
        MetricKind::ExponentialHistogram => "parquet-clickhouse-metrics-exponential-histogram",
        MetricKind::Summary => "parquet-clickhouse-metrics-summary",
    }
}

/// Which ClickHouse metric table a schema is, if any.
pub fn detect(schema: &Schema) -> Option<MetricKind> {
    let has = |n: &str| find_col(schema, n).is_some();
    if !["MetricName", "TimeUnix", "ResourceAttributes", "Attributes"]
        .iter()
        .all(|c| has(c))
    {
        return None;
    }
    if has("Scale") && has("PositiveBucketCounts") {
        Some(MetricKind::ExponentialHistogram)
    } else if has("ExplicitBounds") && has("BucketCounts") {
        Some(MetricKind::Histogram)
    } else if has("ValueAtQuantiles.Quantile") || has("ValueAtQuantiles") {
        Some(MetricKind::Summary)
    } else if has("Value") && has("IsMonotonic") {
        Some(MetricKind::Sum)
    } else if has("Value") {
        Some(MetricKind::Gauge)
    } else {
        None
    }
}

/// Reads `path` when it is a ClickHouse metric table (else `None`, without reading rows),
/// appending points to `out`; returns the file's data-quality log with its summary.
pub fn read_file(
    path: &Path,
    file: &str,
    opts: &IngestOptions,
    out: &mut Vec<MetricPoint>,
) -> Option<DataQuality> {
    let f = File::open(path).ok()?;
    let builder = std::panic::catch_unwind(|| ParquetRecordBatchReaderBuilder::try_new(f))
        .ok()?
        .ok()?;
    let kind = detect(builder.schema())?;
    let mut q = DataQuality::default();
    let mut row = 0u64;
    // The parquet crate can panic on corrupt pages; that must become a located rejection.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        builder
            .with_batch_size(8192)
            .build()
            .map_err(|e| e.to_string())
            .and_then(|reader| {
                for batch in reader {
                    let batch = batch.map_err(|e| e.to_string())?;
                    read_batch(&batch, kind, row, file, opts, &mut q, out)?;
                    row += batch.num_rows() as u64;
                }
                Ok(())
            })
    }))
    .unwrap_or_else(|_| Err("Parquet decoder failed on corrupt data".to_string()));
    if let Err(e) = result {
        q.push(
            Issue::rejected(
                IssueKind::BadParquet,
                file,
                None,
                None,
                format!("cannot decode from row {row}: {e}"),
            )
            .at_row(row),
        );
        q.records_read += 1;
        q.records_rejected += 1;
    }
    q.files.push(FileSummary {
        file: file.to_string(),
        format: format_name(kind).to_string(),
        records_read: q.records_read,
        records_ingested: q.records_ingested,
        records_rejected: q.records_rejected,
    });
    Some(q)
}

/// Resource attributes and scope name: the inputs of one shared [`ResourceInfo`].
type ResourceKey = (Vec<(String, String)>, Option<String>);

fn col(batch: &RecordBatch, name: &str) -> Option<ArrayRef> {
    find_col(&batch.schema(), name).map(|(i, _)| batch.column(i).clone())
}

/// A time column as nanoseconds (see the module docs for seconds detection).
fn times(a: &ArrayRef) -> Result<Int64Array, String> {
    let is_plain_int = a.data_type().is_integer();
    let v = ints(a)?;
    if !is_plain_int {
        return Ok(v);
    }
    let seconds = v.iter().flatten().all(|x| x < 100_000_000_000);
    Ok(if seconds {
        v.iter()
            .map(|x| x.map(|s| s.saturating_mul(1_000_000_000)))
            .collect()
    } else {
        v
    })
}

/// A list column as per-row vectors of `T` (null rows and null items become empty / skipped).
fn list_rows<T: Clone>(
    a: &Option<ArrayRef>,
    n: usize,
    conv: impl Fn(&ArrayRef) -> Result<Vec<Option<T>>, String>,
) -> Result<Vec<Vec<T>>, String> {
    let Some(a) = a else {
        return Ok((0..n).map(|_| Vec::new()).collect());
    };
    let (offs, values) = list_parts(a).ok_or("expected a list column")?;
    let vals = conv(&values)?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut row = Vec::new();
        if a.is_valid(i) {
            row.extend(vals[offs[i]..offs[i + 1]].iter().flatten().cloned());
        }
        out.push(row);
    }
    Ok(out)
}

fn f64s(a: &ArrayRef) -> Result<Vec<Option<f64>>, String> {
    Ok(floats(a)?.iter().collect())
}

fn u64s(a: &ArrayRef) -> Result<Vec<Option<u64>>, String> {
    Ok(ints(a)?
        .iter()
        .map(|v| v.map(|x| x.max(0) as u64))
        .collect())
}

fn strs(a: &ArrayRef) -> Result<Vec<Option<String>>, String> {
    Ok(strings(a)?.iter().map(|v| v.map(str::to_string)).collect())
}

fn opt_f(a: &Option<Float64Array>, i: usize) -> Option<f64> {
    a.as_ref().filter(|a| a.is_valid(i)).map(|a| a.value(i))
}

fn opt_i(a: &Option<Int64Array>, i: usize) -> Option<i64> {
    a.as_ref().filter(|a| a.is_valid(i)).map(|a| a.value(i))
}

fn opt_s(a: &Option<StringArray>, i: usize) -> Option<&str> {
    a.as_ref()
        .filter(|a| a.is_valid(i))
        .map(|a| a.value(i))
        .filter(|s| !s.is_empty())
}

fn hex_id<const N: usize>(s: &str) -> Option<[u8; N]> {
    crate::model::ids::decode_id::<N>(s).ok().map(|(b, _)| b)
}

#[allow(clippy::too_many_arguments)]
fn read_batch(
    batch: &RecordBatch,
    kind: MetricKind,
    first_row: u64,
    file: &str,
    opts: &IngestOptions,
    q: &mut DataQuality,
    out: &mut Vec<MetricPoint>,
) -> Result<(), String> {
    let n = batch.num_rows();
    let req = |name: &str| col(batch, name).ok_or_else(|| format!("column {name} missing"));
    let s_opt = |name: &str| col(batch, name).map(|c| strings(&c)).transpose();
    let f_opt = |name: &str| col(batch, name).map(|c| floats(&c)).transpose();
    let i_opt = |name: &str| col(batch, name).map(|c| ints(&c)).transpose();
    let res_attrs = KvColumn::new(&req("ResourceAttributes")?)?;
    let attrs = KvColumn::new(&req("Attributes")?)?;
    let service = s_opt("ServiceName")?;
    let scope = s_opt("ScopeName")?;
    let name = strings(&req("MetricName")?)?;
    let desc = s_opt("MetricDescription")?;
    let unit = s_opt("MetricUnit")?;
    let start = col(batch, "StartTimeUnix").map(|c| times(&c)).transpose()?;
    let time = times(&req("TimeUnix")?)?;
    let flags = i_opt("Flags")?;
    let temporality = i_opt("AggregationTemporality")?;
    let monotonic = col(batch, "IsMonotonic").map(|c| bools(&c)).transpose()?;
    let value = f_opt("Value")?;
    let count = i_opt("Count")?;
    let sum = f_opt("Sum")?;
    let min = f_opt("Min")?;
    let max = f_opt("Max")?;
    let scale = i_opt("Scale")?;
    let zero_count = i_opt("ZeroCount")?;
    let zero_threshold = f_opt("ZeroThreshold")?;
    let pos_off = i_opt("PositiveOffset")?;
    let neg_off = i_opt("NegativeOffset")?;
    let bounds = list_rows(&col(batch, "ExplicitBounds"), n, f64s)?;
    let buckets = list_rows(&col(batch, "BucketCounts"), n, u64s)?;
    let pos = list_rows(&col(batch, "PositiveBucketCounts"), n, u64s)?;
    let neg = list_rows(&col(batch, "NegativeBucketCounts"), n, u64s)?;
    let qq = list_rows(&col(batch, "ValueAtQuantiles.Quantile"), n, f64s)?;
    let qv = list_rows(&col(batch, "ValueAtQuantiles.Value"), n, f64s)?;
    let ex_time = list_rows(&col(batch, "Exemplars.TimeUnix"), n, |a| {
        Ok(times(a)?.iter().collect())
    })?;
    let ex_value = list_rows(&col(batch, "Exemplars.Value"), n, f64s)?;
    let ex_span = list_rows(&col(batch, "Exemplars.SpanId"), n, strs)?;
    let ex_trace = list_rows(&col(batch, "Exemplars.TraceId"), n, strs)?;
    let ex_attrs: Option<(Vec<usize>, KvColumn)> = match col(batch, "Exemplars.FilteredAttributes")
    {
        Some(a) => {
            let (offs, values) =
                list_parts(&a).ok_or("Exemplars.FilteredAttributes: expected a list")?;
            Some((offs, KvColumn::new(&values)?))
        }
        None => None,
    };
    let file_arc: Arc<str> = Arc::from(file);
    let mut resources: HashMap<ResourceKey, Arc<ResourceInfo>> = HashMap::new();
    for i in 0..n {
        let row = first_row + i as u64;
        q.records_read += 1;
        let mut ra = res_attrs.row(i);
        if let Some(s) = opt_s(&service, i) {
            if !ra.iter().any(|(k, _)| k == "service.name") {
                ra.push(("service.name".to_string(), s.to_string()));
            }
        }
        let scope_name = opt_s(&scope, i).map(str::to_string);
        let resource = resources
            .entry((ra.clone(), scope_name.clone()))
            .or_insert_with(|| {
                Arc::new(ResourceInfo::from_attributes(
                    ra,
                    scope_name,
                    &opts.identity,
                ))
            })
            .clone();
        let reject = |q: &mut DataQuality, field: &str, reason: String| {
            q.push(
                Issue::rejected(
                    IssueKind::BadMetricPoint,
                    file,
                    None,
                    Some(field.to_string()),
                    reason,
                )
                .at_row(row),
            );
            q.records_rejected += 1;
        };
        let t = match (time.is_valid(i), time.value(i)) {
            (true, t) if t > 0 => t,
            _ => {
                reject(q, "TimeUnix", "absent or zero".into());
                continue;
            }
        };
        if opt_i(&flags, i).is_some_and(|f| f & 1 != 0) {
            reject(
                q,
                "Flags",
                "point is flagged NO_RECORDED_VALUE (a staleness marker); not a measurement".into(),
            );
            continue;
        }
        let c = opt_i(&count, i).unwrap_or(0).max(0) as u64;
        let data = match kind {
            MetricKind::Sum | MetricKind::Gauge => match opt_f(&value, i) {
                Some(v) => PointData::Number(v),
                None => {
                    reject(q, "Value", "null value".into());
                    continue;
                }
            },
            MetricKind::Histogram => PointData::Histogram {
                count: c,
                sum: opt_f(&sum, i),
                min: opt_f(&min, i),
                max: opt_f(&max, i),
                bounds: bounds[i].clone(),
                buckets: buckets[i].clone(),
            },
            MetricKind::ExponentialHistogram => PointData::ExpHistogram {
                count: c,
                sum: opt_f(&sum, i),
                min: opt_f(&min, i),
                max: opt_f(&max, i),
                scale: opt_i(&scale, i).unwrap_or(0) as i32,
                zero_count: opt_i(&zero_count, i).unwrap_or(0).max(0) as u64,
                zero_threshold: opt_f(&zero_threshold, i).unwrap_or(0.0),
                positive: ExpBuckets {
                    offset: opt_i(&pos_off, i).unwrap_or(0) as i32,
                    counts: pos[i].clone(),
                },
                negative: ExpBuckets {
                    offset: opt_i(&neg_off, i).unwrap_or(0) as i32,
                    counts: neg[i].clone(),
                },
            },
            MetricKind::Summary => PointData::Summary {
                count: c,
                sum: opt_f(&sum, i).unwrap_or(0.0),
                quantiles: qq[i].iter().copied().zip(qv[i].iter().copied()).collect(),
            },
        };
        if let Err((field, reason)) = validate_point(&data) {
            reject(q, field, reason);
            continue;
        }
        if let Some(c) = count_without_buckets(&data) {
            q.push(
                Issue::note(
                    IssueKind::BadMetricPoint,
                    file,
                    None,
                    Some("BucketCounts".into()),
                    format!("histogram has count {c} but no buckets; kept with empty buckets"),
                )
                .at_row(row),
            );
        }
        let temporality = match kind {
            MetricKind::Gauge | MetricKind::Summary => Temporality::Unspecified,
            _ => Temporality::from_i32(opt_i(&temporality, i).unwrap_or(0) as i32),
        };
        let exemplars = (0..ex_time[i].len())
            .map(|j| Exemplar {
                trace_id: ex_trace[i].get(j).and_then(|s| hex_id::<16>(s)),
                span_id: ex_span[i].get(j).and_then(|s| hex_id::<8>(s)),
                time: ex_time[i][j],
                value: ex_value[i].get(j).copied(),
                filtered_attributes: ex_attrs
                    .as_ref()
                    .map(|(offs, kv)| kv.row(offs[i] + j))
                    .unwrap_or_default(),
            })
            .collect();
        q.records_ingested += 1;
        out.push(MetricPoint {
            resource,
            name: Arc::from(name.value(i)),
            description: opt_s(&desc, i).map(Arc::from),
            unit: Arc::from(opt_s(&unit, i).unwrap_or("")),
            kind,
            temporality,
            is_monotonic: monotonic
                .as_ref()
                .is_some_and(|m| m.is_valid(i) && m.value(i)),
            attributes: attrs.row(i),
            start_time: opt_i(&start, i).filter(|&s| s > 0),
            time: t,
            data,
            delta: DeltaData::None,
            reset: false,
            exemplars,
            source_file: file_arc.clone(),
            source_line: row as i64,
        });
    }
    Ok(())
}
