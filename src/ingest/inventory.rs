//! `canalyst inspect`: what is in a set of spans (counts by service, version, track, route,
//! kind and status, and the time range), computed with Arrow kernels and hash maps while the
//! batches stream by, so raw inputs of any size are inspected in bounded memory.

use super::dataset::{is_dataset, metric_file, open_dataset, TimeRange};
use super::driver::{ingest_paths, BatchSink, IngestError};
use super::IngestOptions;
use crate::model::metrics::{metric_schemas, MetricTables};
use crate::model::quality::DataQuality;
use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Int32Type, Int64Type, TimestampNanosecondType};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Label for a null (absent) value in the counts.
pub const NONE_LABEL: &str = "(none)";

/// Span counts of a set of inputs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Inventory {
    /// Spans.
    pub spans: u64,
    /// Spans per `service_name`.
    pub by_service: BTreeMap<String, u64>,
    /// Spans per `service_version`.
    pub by_version: BTreeMap<String, u64>,
    /// Spans per `deployment_track`.
    pub by_track: BTreeMap<String, u64>,
    /// Spans per `route`.
    pub by_route: BTreeMap<String, u64>,
    /// Spans per span kind name (`server`, `client`, …).
    pub by_kind: BTreeMap<String, u64>,
    /// Spans per status name (`unset`, `ok`, `error`).
    pub by_status: BTreeMap<String, u64>,
    /// Earliest start and latest end.
    pub time_range: Option<TimeRange>,
    /// Metric points over the three metric tables.
    pub metric_points: u64,
    /// Metric points per `metric name [kind] track=…` (track `(none)` when absent).
    pub by_metric: BTreeMap<String, u64>,
}

fn kind_name(k: i32) -> String {
    match k {
        0 => "unspecified".into(),
        1 => "internal".into(),
        2 => "server".into(),
        3 => "client".into(),
        4 => "producer".into(),
        5 => "consumer".into(),
        other => format!("kind {other}"),
    }
}

fn status_name(s: i32) -> String {
    match s {
        0 => "unset".into(),
        1 => "ok".into(),
        2 => "error".into(),
        other => format!("status {other}"),
    }
}

/// Adds the value counts of a string column (dictionary-encoded or not) to `into`.
fn count_strings(col: &ArrayRef, into: &mut BTreeMap<String, u64>) {
    if let DataType::Dictionary(_, _) = col.data_type() {
        if let Some(dict) = col.as_dictionary_opt::<Int32Type>() {
            let values = arrow::compute::cast(dict.values(), &DataType::Utf8)
                .expect("dictionary values cast to Utf8");
            let values = values.as_string::<i32>();
            let mut per_key = vec![0u64; values.len()];
            let mut nulls = 0u64;
            for k in dict.keys().iter() {
                match k {
                    Some(k) => per_key[k as usize] += 1,
                    None => nulls += 1,
                }
            }
            for (i, n) in per_key.into_iter().enumerate() {
                if n > 0 {
                    *into.entry(values.value(i).to_string()).or_insert(0) += n;
                }
            }
            if nulls > 0 {
                *into.entry(NONE_LABEL.to_string()).or_insert(0) += nulls;
            }
            return;
        }
    }
    let col = arrow::compute::cast(col, &DataType::Utf8).expect("string column casts to Utf8");
    for v in col.as_string::<i32>().iter() {
        *into.entry(v.unwrap_or(NONE_LABEL).to_string()).or_insert(0) += 1;
    }
}

fn count_ints(col: &ArrayRef, name: fn(i32) -> String, into: &mut BTreeMap<String, u64>) {
    let mut small: BTreeMap<i32, u64> = BTreeMap::new();
    for v in col.as_primitive::<Int32Type>().iter().flatten() {
        *small.entry(v).or_insert(0) += 1;
    }
    for (k, n) in small {
        *into.entry(name(k)).or_insert(0) += n;
    }
}

impl Inventory {
    /// Adds one batch in the canonical spans schema.
    pub fn add(&mut self, batch: &RecordBatch) {
        let col = |n: &str| batch.column_by_name(n).expect("canonical spans column");
        self.spans += batch.num_rows() as u64;
        count_strings(col("service_name"), &mut self.by_service);
        count_strings(col("service_version"), &mut self.by_version);
        count_strings(col("deployment_track"), &mut self.by_track);
        count_strings(col("route"), &mut self.by_route);
        count_ints(col("span_kind"), kind_name, &mut self.by_kind);
        count_ints(col("status_code"), status_name, &mut self.by_status);
        let start = col("start_time").as_primitive::<TimestampNanosecondType>();
        let dur = col("duration_ns").as_primitive::<Int64Type>();
        if let Some(min) = arrow::compute::min(start) {
            let max_end = start
                .values()
                .iter()
                .zip(dur.values().iter())
                .map(|(s, d)| s.saturating_add(*d))
                .max()
                .unwrap_or(min);
            let (lo, hi) = match &self.time_range {
                Some(t) => (t.start_unix_nano.min(min), t.end_unix_nano.max(max_end)),
                None => (min, max_end),
            };
            self.time_range = Some(TimeRange::new(lo, hi));
        }
    }

    /// Adds one metric table batch (any of the three metric schemas).
    pub fn add_metrics(&mut self, batch: &RecordBatch) {
        let text = |n: &str| {
            let c = batch.column_by_name(n).expect("canonical metric column");
            arrow::compute::cast(c, &DataType::Utf8).expect("string column casts to Utf8")
        };
        let (name, kind, track) = (text("metric_name"), text("kind"), text("deployment_track"));
        let (name, kind, track) = (
            name.as_string::<i32>(),
            kind.as_string::<i32>(),
            track.as_string::<i32>(),
        );
        for i in 0..batch.num_rows() {
            let key = format!(
                "{} [{}] track={}",
                name.value(i),
                kind.value(i),
                if track.is_null(i) {
                    NONE_LABEL
                } else {
                    track.value(i)
                }
            );
            *self.by_metric.entry(key).or_insert(0) += 1;
        }
        self.metric_points += batch.num_rows() as u64;
    }

    /// Human-readable report; each count table shows its `top` largest entries.
    pub fn render_text(&self, quality: &DataQuality, top: usize) -> String {
        let mut s = format!("spans: {}\n", self.spans);
        match &self.time_range {
            Some(t) => s.push_str(&format!("time range: {} .. {}\n", t.start, t.end)),
            None => s.push_str("time range: (no spans)\n"),
        }
        let tables: [(&str, &BTreeMap<String, u64>); 7] = [
            ("service", &self.by_service),
            ("version", &self.by_version),
            ("track", &self.by_track),
            ("route", &self.by_route),
            ("kind", &self.by_kind),
            ("status", &self.by_status),
            ("metric (name [kind] track)", &self.by_metric),
        ];
        for (title, map) in tables {
            if map.is_empty() && title.starts_with("metric") {
                continue;
            }
            s.push_str(&format!("\nby {title} ({} distinct):\n", map.len()));
            let mut rows: Vec<(&String, &u64)> = map.iter().collect();
            rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (k, n) in rows.iter().take(top) {
                s.push_str(&format!("  {n:>10}  {}\n", sanitize(k)));
            }
            if rows.len() > top {
                s.push_str(&format!("  ... {} more\n", rows.len() - top));
            }
        }
        if self.metric_points > 0 {
            s.push_str(&format!("\nmetric points: {}\n", self.metric_points));
        }
        s.push_str(&format!("\ndata quality: {}\n", quality.summary()));
        s
    }
}

/// Replaces control characters so untrusted telemetry strings cannot drive the terminal.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

impl BatchSink for Inventory {
    fn write(&mut self, batch: RecordBatch) -> Result<(), IngestError> {
        self.add(&batch);
        Ok(())
    }

    fn write_metrics(&mut self, tables: MetricTables) -> Result<(), IngestError> {
        for (_, b) in tables.tables() {
            self.add_metrics(b);
        }
        Ok(())
    }
}

/// Inspects inputs: each DATASET directory is read from its `spans.parquet` (with its stored
/// data-quality log); all other inputs are ingested on the fly (nothing is written).
pub fn inspect_paths(
    inputs: &[PathBuf],
    opts: &IngestOptions,
) -> Result<(Inventory, DataQuality), IngestError> {
    let mut inv = Inventory::default();
    let mut quality = DataQuality::default();
    let (datasets, raw): (Vec<&PathBuf>, Vec<&PathBuf>) =
        inputs.iter().partition(|p| is_dataset(p));
    for d in datasets {
        let ds = open_dataset(d)?;
        for batch in ds.spans_reader(opts.batch_rows)? {
            let batch = batch.map_err(|e| IngestError::Invalid {
                path: ds.spans.clone(),
                message: e.to_string(),
            })?;
            inv.add(&batch);
        }
        for (name, _) in metric_schemas() {
            let path = ds.dir.join(metric_file(name));
            if !path.is_file() {
                continue;
            }
            let pq = |source| IngestError::ParquetRead {
                path: path.clone(),
                source,
            };
            let file = std::fs::File::open(&path).map_err(|source| IngestError::Io {
                path: path.clone(),
                source,
            })?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .map_err(pq)?
                .build()
                .map_err(pq)?;
            for b in reader {
                let b = b.map_err(|e| IngestError::Invalid {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                inv.add_metrics(&b);
            }
        }
        quality.merge(ds.quality);
    }
    if !raw.is_empty() {
        let raw: Vec<PathBuf> = raw.into_iter().cloned().collect();
        let q = ingest_paths(&raw, opts, &mut inv)?;
        quality.merge(q);
    }
    Ok((inv, quality))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::driver::ingest_paths_with_progress;
    use crate::ingest::MemorySink;

    #[test]
    fn counts_by_dimension() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.jsonl");
        let mk = |svc: &str, track: &str, id: &str, kind: i32, code: i32| {
            format!(
                r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"{svc}"}}}},{{"key":"deployment.track","value":{{"stringValue":"{track}"}}}}]}},"scopeSpans":[{{"spans":[{{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"{id}","name":"GET /a","kind":{kind},"status":{{"code":{code}}},"startTimeUnixNano":"1000","endTimeUnixNano":"3000"}}]}}]}}]}}"#
            )
        };
        let text = [
            mk("a", "canary", "0000000000000001", 2, 2),
            mk("a", "stable", "0000000000000002", 2, 0),
            mk("b", "stable", "0000000000000003", 3, 1),
        ]
        .join("\n");
        std::fs::write(&p, text).unwrap();
        let mut sink = MemorySink::default();
        ingest_paths_with_progress(&[p], &IngestOptions::default(), &mut sink, false).unwrap();
        let mut inv = Inventory::default();
        for b in &sink.batches {
            inv.add(b);
        }
        assert_eq!(inv.spans, 3);
        assert_eq!(inv.by_service["a"], 2);
        assert_eq!(inv.by_track["stable"], 2);
        assert_eq!(inv.by_kind["server"], 2);
        assert_eq!(inv.by_status["error"], 1);
        assert_eq!(inv.by_route["GET /a"], 2);
        assert_eq!(inv.by_route[NONE_LABEL], 1);
        assert_eq!(inv.by_version[NONE_LABEL], 3);
        let t = inv.time_range.as_ref().unwrap();
        assert_eq!((t.start_unix_nano, t.end_unix_nano), (1000, 3000));
        let text = inv.render_text(&DataQuality::default(), 1);
        assert!(text.contains("by service (2 distinct)"), "{text}");
        assert!(text.contains("... 1 more"));
    }
}
