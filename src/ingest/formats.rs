//! Dispatch from the driver to the binary-format readers (OTLP protobuf and Parquet).
//!
//! Those readers live in their own modules ([`super::otlp_proto`], [`super::parquet_spans`]);
//! this file is the one place the driver calls them.

use super::{IngestOptions, SpanChunk};
use crate::model::metrics::MetricPoint;
use crate::model::quality::DataQuality;
use crate::model::spans::SpansBuilder;
use std::path::Path;

/// Reads a whole length-framed protobuf file (the Collector file exporter's `proto` format);
/// metric frames' points go to `metrics`.
pub fn read_framed_proto(
    data: &[u8],
    file: &str,
    opts: &IngestOptions,
    emit: &mut dyn FnMut(SpanChunk),
    metrics: &mut Vec<MetricPoint>,
) -> DataQuality {
    super::otlp_proto::read_framed(data, file, opts, emit, metrics)
}

/// Decodes one protobuf `ExportTraceServiceRequest` (or `ExportMetricsServiceRequest`),
/// appending spans to `builder` and metric points to `metrics`; returns the records read.
pub fn decode_proto_message(
    msg: &[u8],
    file: &str,
    frame: u64,
    opts: &IngestOptions,
    builder: &mut SpansBuilder,
    quality: &mut DataQuality,
    metrics: &mut Vec<MetricPoint>,
) -> u64 {
    super::otlp_proto::decode_traces_message(msg, file, frame, opts, builder, quality, metrics)
}

/// Reads a Parquet file: a ClickHouse exporter metric table (points go to `metrics`), or spans
/// (canonical, ClickHouse exporter or Tempo schema).
pub fn read_parquet(
    path: &Path,
    file: &str,
    opts: &IngestOptions,
    emit: &mut dyn FnMut(SpanChunk),
    metrics: &mut Vec<MetricPoint>,
) -> DataQuality {
    if let Some(q) = super::parquet_spans::clickhouse_metrics::read_file(path, file, opts, metrics)
    {
        return q;
    }
    super::parquet_spans::read_parquet_file(path, file, opts, emit)
}
