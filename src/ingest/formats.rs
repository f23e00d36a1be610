//! Dispatch from the driver to the binary-format readers (OTLP protobuf and Parquet).
//!
//! Those readers live in their own modules (`otlp_proto`, `parquet_spans`); this file is the
//! one place the driver calls them, so wiring a reader in is a change here only. A build
//! without a reader records an `unsupported_format` rejection naming the file, so no input is
//! dropped silently.

use super::{IngestOptions, SpanChunk};
use crate::model::quality::{DataQuality, FileSummary, Issue, IssueKind};
use crate::model::spans::SpansBuilder;
use std::path::Path;

/// Binary formats the driver hands to other readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryFormat {
    /// Collector file exporter `proto` format (length-framed `ExportTraceServiceRequest`s).
    FramedProto,
    /// Parquet (canonical, ClickHouse exporter or Tempo schema).
    Parquet,
}

impl BinaryFormat {
    /// Name used in [`FileSummary::format`].
    pub fn name(self) -> &'static str {
        match self {
            BinaryFormat::FramedProto => "otlp-proto-framed",
            BinaryFormat::Parquet => "parquet",
        }
    }
}

/// A rejection for a reader that this build does not contain.
fn not_in_build(format: BinaryFormat, file: &str, what: &str) -> DataQuality {
    let mut q = DataQuality {
        records_read: 1,
        records_rejected: 1,
        ..Default::default()
    };
    q.push(Issue::rejected(
        IssueKind::UnsupportedFormat,
        file,
        None,
        None,
        format!("{what}: the {} reader is not in this build", format.name()),
    ));
    q.files.push(FileSummary {
        file: file.to_string(),
        format: format.name().to_string(),
        records_read: 1,
        records_ingested: 0,
        records_rejected: 1,
    });
    q
}

/// Reads a whole length-framed protobuf file (`otlp_proto::read_framed`).
pub fn read_framed_proto(
    data: &[u8],
    file: &str,
    _opts: &IngestOptions,
    _emit: &mut dyn FnMut(SpanChunk),
) -> DataQuality {
    let _ = data;
    not_in_build(BinaryFormat::FramedProto, file, "OTLP protobuf file")
}

/// Decodes one protobuf `ExportTraceServiceRequest` (`otlp_proto::decode_traces_message`),
/// appending spans to `builder`; returns the spans read.
pub fn decode_proto_message(
    msg: &[u8],
    file: &str,
    frame: u64,
    _opts: &IngestOptions,
    _builder: &mut SpansBuilder,
    quality: &mut DataQuality,
) -> u64 {
    let _ = msg;
    quality.records_read += 1;
    super::otlp_json::record_issue(
        quality,
        IssueKind::UnsupportedFormat,
        crate::model::quality::Severity::Rejected,
        || {
            Issue::rejected(
                IssueKind::UnsupportedFormat,
                file,
                Some(frame),
                None,
                "protobuf message in a zstd-framed file: the otlp-proto reader is not in this build",
            )
        },
    );
    0
}

/// Reads a Parquet file of spans (`parquet_spans::read_parquet_file`).
pub fn read_parquet(
    path: &Path,
    file: &str,
    _opts: &IngestOptions,
    _emit: &mut dyn FnMut(SpanChunk),
) -> DataQuality {
    let _ = path;
    not_in_build(BinaryFormat::Parquet, file, "Parquet file")
}
