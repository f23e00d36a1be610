//! OTLP protobuf span input: single `ExportTraceServiceRequest` messages and the
//! OpenTelemetry Collector file exporter's `format: proto` stream.
//!
//! The file exporter writes each export as a 4-byte big-endian length followed by that many
//! bytes of a serialised `ExportTraceServiceRequest` (opentelemetry-collector-contrib
//! `exporter/fileexporter`, "File format"). [`read_framed`] walks those frames; every frame
//! is decoded by [`decode_traces_message`], which the driver also calls for a file holding one
//! bare message.
//!
//! Attribute values become strings as documented on [`SpanRecord`]; [`render_any_value`] is the
//! single place that rule is implemented for protobuf input.

pub mod messages;
pub mod metrics;

use self::messages::{any_value, AnyValue, KeyValue, TracesData};
use super::{IngestOptions, SpanChunk};
use crate::model::ids::to_hex;
use crate::model::metrics::MetricPoint;
use crate::model::quality::{DataQuality, FileSummary, Issue, IssueKind};
use crate::model::spans::{ResourceInfo, SpanRecord, SpansBuilder};
use prost::Message as _;
use std::fmt::Write as _;

/// Format name recorded in the [`FileSummary`] of a framed protobuf file.
pub const FORMAT_FRAMED: &str = "otlp-proto-framed";

/// Largest frame [`looks_like_framed_proto`] accepts as plausible. The collector's default
/// gRPC receive limit is 4 MiB; file exporters batch more, but a first length above this is
/// far likelier to be text or another binary format.
const MAX_PLAUSIBLE_FRAME: usize = 256 << 20;

/// Renders an attribute value as a string: strings as they are, booleans `true`/`false`,
/// integers in decimal, doubles in Rust's shortest round-trip form (`NaN`, `inf`, `-inf`),
/// bytes as lower-case hex, arrays and kvlists as compact JSON (see [`any_value_json`]), and
/// an empty value as the empty string.
pub fn render_any_value(v: &AnyValue) -> String {
    match &v.value {
        None => String::new(),
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BytesValue(b)) => to_hex(b),
        Some(any_value::Value::ArrayValue(_)) | Some(any_value::Value::KvlistValue(_)) => {
            let mut s = String::new();
            any_value_json(v, &mut s);
            s
        }
    }
}

/// Appends the compact JSON form of a value, used for arrays and kvlists: strings as JSON
/// strings, booleans, integers as JSON numbers, finite doubles as JSON numbers written in
/// Rust's shortest round-trip form, non-finite doubles as the proto3 JSON strings `"NaN"`,
/// `"Infinity"`, `"-Infinity"` (as the OTLP/JSON reader writes them), bytes as a lower-case hex string, arrays as JSON arrays, kvlists as JSON objects
/// (keys in input order), an empty value as `null`. No whitespace.
pub fn any_value_json(v: &AnyValue, out: &mut String) {
    match &v.value {
        None => out.push_str("null"),
        Some(any_value::Value::StringValue(s)) => json_string(s, out),
        Some(any_value::Value::BoolValue(b)) => {
            let _ = write!(out, "{b}");
        }
        Some(any_value::Value::IntValue(i)) => {
            let _ = write!(out, "{i}");
        }
        Some(any_value::Value::DoubleValue(d)) => {
            if d.is_nan() {
                out.push_str("\"NaN\"");
            } else if d.is_infinite() {
                out.push_str(if *d > 0.0 {
                    "\"Infinity\""
                } else {
                    "\"-Infinity\""
                });
            } else {
                let _ = write!(out, "{d}");
            }
        }
        Some(any_value::Value::BytesValue(b)) => json_string(&to_hex(b), out),
        Some(any_value::Value::ArrayValue(a)) => {
            out.push('[');
            for (i, e) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                any_value_json(e, out);
            }
            out.push(']');
        }
        Some(any_value::Value::KvlistValue(kv)) => {
            out.push('{');
            for (i, e) in kv.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(&e.key, out);
                out.push(':');
                match &e.value {
                    Some(v) => any_value_json(v, out),
                    None => out.push_str("null"),
                }
            }
            out.push('}');
        }
    }
}

/// Appends `s` as a JSON string literal (serde_json's escaping, so it matches the JSON reader).
pub(crate) fn json_string(s: &str, out: &mut String) {
    out.push_str(&serde_json::Value::String(s.to_string()).to_string());
}

/// Attributes as `(key, rendered value)` pairs, in input order.
pub fn render_attributes(kvs: &[KeyValue]) -> Vec<(String, String)> {
    kvs.iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map(render_any_value).unwrap_or_default(),
            )
        })
        .collect()
}

/// Why a protobuf id field is unusable.
fn id_problem(bytes: &[u8], expected: usize) -> Option<String> {
    if bytes.is_empty() {
        Some("empty id".to_string())
    } else if bytes.len() != expected {
        Some(format!(
            "{} bytes, expected {expected} (0x{})",
            bytes.len(),
            to_hex(&bytes[..bytes.len().min(32)])
        ))
    } else if bytes.iter().all(|&b| b == 0) {
        Some("all-zero id".to_string())
    } else {
        None
    }
}

/// Decodes one serialised `ExportTraceServiceRequest` (= `TracesData`) and appends its spans
/// to `builder`, returning the number of spans seen (appended or rejected).
///
/// `frame` is the 1-based frame number (1 for a file holding one bare message); it becomes
/// every issue's `line` and every span's `source_line`. Spans with an empty, all-zero or
/// wrong-length trace or span id are rejected (`bad_id`), as are spans ending before they
/// start (`end_before_start`) and spans with a timestamp beyond `i64` nanoseconds
/// (`wrong_type`). A parent id that is neither empty nor 8 bytes is a `bad_id` rejection, as
/// in the OTLP/JSON reader; an all-zero parent id means "no parent" (W3C trace-context:
/// all-zero ids are invalid). A message that does not decode is one `bad_protobuf` rejection (counted as one
/// record read and rejected, since its span count is unknown).
///
/// A message that is a `MetricsData` instead (see `decode_frame`) has its points appended to
/// `metrics`.
///
/// `quality` gets the issues and the `records_read`/`records_ingested`/`records_rejected`
/// counts; the caller owns the [`FileSummary`].
pub fn decode_traces_message(
    msg: &[u8],
    file: &str,
    frame: u64,
    opts: &IngestOptions,
    builder: &mut SpansBuilder,
    quality: &mut DataQuality,
    metrics: &mut Vec<MetricPoint>,
) -> u64 {
    let mut noted = false;
    let mut sinks = FrameSinks {
        builder,
        quality,
        metrics,
        noted: &mut noted,
    };
    decode_frame(msg, file, frame, None, opts, &mut sinks).unwrap_or(0)
}

/// Where a decoded frame's records and findings go.
struct FrameSinks<'a> {
    builder: &'a mut SpansBuilder,
    quality: &'a mut DataQuality,
    metrics: &'a mut Vec<MetricPoint>,
    /// Whether the file already got its "logs are not ingested" note.
    noted: &'a mut bool,
}

/// Which non-trace OTLP signal a message holds, if it decodes as one with content. Metric and
/// log messages can decode as `TracesData` without error (the nested field numbers overlap),
/// so a message whose "spans" all have unusable ids is checked against these before its
/// spans are rejected.
fn non_span_signal(msg: &[u8]) -> Option<&'static str> {
    if let Ok(l) = messages::LogsData::decode(msg) {
        let has_record = l
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .any(|s| !s.log_records.is_empty());
        if has_record {
            return Some("logs (ExportLogsServiceRequest)");
        }
    }
    None
}

/// Whether a decoded message has spans and none of them has ids of the right lengths.
fn no_usable_span(d: &TracesData) -> bool {
    let mut spans = d
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .peekable();
    spans.peek().is_some()
        && spans.all(|s| {
            s.trace_id.len() != 16
                || s.span_id.len() != 8
                || (s.start_time_unix_nano == 0 && s.end_time_unix_nano == 0)
        })
}

/// As [`decode_traces_message`]; `offset` (byte offset of the frame) is added to the reason of
/// a decode failure. Returns `None` when the message does not decode. A message that does not
/// hold usable spans but decodes as `MetricsData` with metric data is read as metrics (the
/// points go to `sinks.metrics`). A logs message is not read: the first one gets an
/// `unsupported_format` note (`noted` keeps it to one per file) and it counts no records.
fn decode_frame(
    msg: &[u8],
    file: &str,
    frame: u64,
    offset: Option<usize>,
    opts: &IngestOptions,
    sinks: &mut FrameSinks,
) -> Option<u64> {
    let FrameSinks {
        builder,
        quality,
        metrics,
        noted,
    } = sinks;
    let decoded = TracesData::decode(msg);
    let suspicious = match &decoded {
        Ok(d) => no_usable_span(d),
        Err(_) => true,
    };
    if suspicious {
        if let Ok(m) = messages::MetricsData::decode(msg) {
            if metrics::has_metric_data(&m) {
                let read_before = quality.records_read;
                metrics::decode_metrics_data(&m, file, frame, opts, quality, metrics);
                return Some(quality.records_read - read_before);
            }
        }
        if let Some(signal) = non_span_signal(msg) {
            if !**noted {
                **noted = true;
                quality.push(Issue::note(
                    IssueKind::UnsupportedFormat,
                    file,
                    Some(frame),
                    None,
                    format!(
                        "frame holds OTLP {signal}, not spans; it and any later such frames \
                         are not ingested"
                    ),
                ));
            }
            return Some(0);
        }
    }
    let data = match decoded {
        Ok(d) => d,
        Err(e) => {
            let at = offset
                .map(|o| format!(" (frame at byte offset {o}, {} bytes)", msg.len()))
                .unwrap_or_default();
            quality.push(Issue::rejected(
                IssueKind::BadProtobuf,
                file,
                Some(frame),
                None,
                format!("not an ExportTraceServiceRequest: {e}{at}"),
            ));
            quality.records_read += 1;
            quality.records_rejected += 1;
            return None;
        }
    };
    let mut seen = 0u64;
    for (ri, rs) in data.resource_spans.iter().enumerate() {
        let res_attrs = rs
            .resource
            .as_ref()
            .map(|r| render_attributes(&r.attributes))
            .unwrap_or_default();
        for (si, ss) in rs.scope_spans.iter().enumerate() {
            let scope_name = ss
                .scope
                .as_ref()
                .map(|s| s.name.clone())
                .filter(|n| !n.is_empty());
            let res = ResourceInfo::from_attributes(res_attrs.clone(), scope_name, &opts.identity);
            for (pi, span) in ss.spans.iter().enumerate() {
                seen += 1;
                quality.records_read += 1;
                let path = || format!("resourceSpans[{ri}].scopeSpans[{si}].spans[{pi}]");
                match convert_span(span, frame) {
                    Ok(rec) => {
                        builder.append(&res, &rec);
                        quality.records_ingested += 1;
                    }
                    Err((kind, field, reason)) => {
                        quality.push(Issue::rejected(
                            kind,
                            file,
                            Some(frame),
                            Some(format!("{}.{field}", path())),
                            reason,
                        ));
                        quality.records_rejected += 1;
                    }
                }
            }
        }
    }
    Some(seen)
}

type Rejection = (IssueKind, &'static str, String);

/// Validates one protobuf span and converts it; `Ok` carries `(field, reason)` notes.
fn convert_span(span: &messages::Span, frame: u64) -> Result<SpanRecord, Rejection> {
    if let Some(p) = id_problem(&span.trace_id, 16) {
        return Err((IssueKind::BadId, "traceId", p));
    }
    if let Some(p) = id_problem(&span.span_id, 8) {
        return Err((IssueKind::BadId, "spanId", p));
    }
    let parent_span_id = match span.parent_span_id.len() {
        0 => None,
        8 if span.parent_span_id.iter().all(|&b| b == 0) => None,
        8 => {
            let mut p = [0u8; 8];
            p.copy_from_slice(&span.parent_span_id);
            Some(p)
        }
        _ => {
            let p = id_problem(&span.parent_span_id, 8).unwrap_or_default();
            return Err((IssueKind::BadId, "parentSpanId", p));
        }
    };
    let start = i64::try_from(span.start_time_unix_nano).map_err(|_| {
        (
            IssueKind::WrongType,
            "startTimeUnixNano",
            format!("{} is beyond year 2262", span.start_time_unix_nano),
        )
    })?;
    let end = i64::try_from(span.end_time_unix_nano).map_err(|_| {
        (
            IssueKind::WrongType,
            "endTimeUnixNano",
            format!("{} is beyond year 2262", span.end_time_unix_nano),
        )
    })?;
    if end < start {
        return Err((
            IssueKind::EndBeforeStart,
            "endTimeUnixNano",
            format!("end {end} is before start {start}"),
        ));
    }
    let mut trace_id = [0u8; 16];
    trace_id.copy_from_slice(&span.trace_id);
    let mut span_id = [0u8; 8];
    span_id.copy_from_slice(&span.span_id);
    let (exception_type, exception_message) = span
        .events
        .iter()
        .find(|e| e.name == "exception")
        .map(|e| {
            let get = |k: &str| {
                e.attributes
                    .iter()
                    .find(|kv| kv.key == k)
                    .and_then(|kv| kv.value.as_ref())
                    .map(render_any_value)
            };
            (get("exception.type"), get("exception.message"))
        })
        .unwrap_or((None, None));
    let status = span.status.as_ref();
    Ok(SpanRecord {
        trace_id,
        span_id,
        parent_span_id,
        name: span.name.clone(),
        kind: span.kind,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        status_code: status.map(|s| s.code).unwrap_or(0),
        status_message: status.map(|s| s.message.clone()).filter(|m| !m.is_empty()),
        trace_state: Some(span.trace_state.clone()).filter(|t| !t.is_empty()),
        attributes: render_attributes(&span.attributes),
        exception_type,
        exception_message,
        source_line: frame as i64,
    })
}

/// Finishes the builder's rows into a chunk. Chunks carry an empty log: every issue and count
/// of the file is in the [`DataQuality`] the reader returns, so a driver that merges both
/// counts each issue once.
pub(crate) fn flush(
    builder: &mut SpansBuilder,
    file: &str,
    quality: &mut DataQuality,
    emit: &mut dyn FnMut(SpanChunk),
) {
    if builder.is_empty() {
        return;
    }
    match builder.finish_with_fingerprints() {
        Ok((batch, fingerprints)) => emit(SpanChunk {
            batch,
            fingerprints,
            quality: DataQuality::default(),
        }),
        // Unreachable unless the builder and schema disagree; reported, never a panic.
        Err(e) => quality.push(Issue::rejected(
            IssueKind::UnsupportedFormat,
            file,
            None,
            None,
            format!("internal error building a batch: {e}"),
        )),
    }
}

/// Whether the frame at `off` has a believable header: its length fits in the data and its
/// message starts with field 1, wire type 2 (`resource_spans`), or is empty.
fn plausible_frame_at(data: &[u8], off: usize) -> bool {
    if off == data.len() {
        return true;
    }
    let Some(h) = data.get(off..off + 4) else {
        return false;
    };
    let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
    len <= data.len() - off - 4 && (len == 0 || data[off + 4] == 0x0A)
}

/// Reads a Collector file-exporter `format: proto` trace file: repeated (4-byte big-endian
/// length, `ExportTraceServiceRequest`) frames.
///
/// Spans are emitted in chunks of about `opts.batch_rows` rows. A frame header cut short, or
/// a length running past the end of the data, is a `bad_protobuf` rejection that ends the
/// file (the rest cannot be framed). A frame whose message does not decode is a `bad_protobuf`
/// rejection naming its frame number and byte offset; reading continues with the next frame
/// when its header is plausible (see `plausible_frame_at`), otherwise the stream is taken as
/// desynchronised and reading stops with a second rejection. A zero-length frame is valid
/// protobuf (an empty request) and gets a `bad_protobuf` note.
///
/// Returns the file's whole data-quality log with one [`FileSummary`] (format
/// [`FORMAT_FRAMED`]); emitted chunks carry empty logs.
pub fn read_framed(
    data: &[u8],
    file: &str,
    opts: &IngestOptions,
    emit: &mut dyn FnMut(SpanChunk),
    metrics: &mut Vec<MetricPoint>,
) -> DataQuality {
    let mut q = DataQuality::default();
    let mut b = opts.spans_builder(file);
    let batch_rows = opts.batch_rows.max(1);
    let mut off = 0usize;
    let mut frame = 0u64;
    let mut non_span_noted = false;
    while off < data.len() {
        frame += 1;
        let left = data.len() - off;
        if left < 4 {
            q.push(Issue::rejected(
                IssueKind::BadProtobuf,
                file,
                Some(frame),
                None,
                format!("truncated frame header: {left} bytes at byte offset {off}, expected a 4-byte length"),
            ));
            q.records_read += 1;
            q.records_rejected += 1;
            break;
        }
        let len =
            u32::from_be_bytes([data[off], data[off + 1], data[off + 2], data[off + 3]]) as usize;
        if len > left - 4 {
            q.push(Issue::rejected(
                IssueKind::BadProtobuf,
                file,
                Some(frame),
                None,
                format!(
                    "truncated frame at byte offset {off}: length {len} but only {} bytes follow",
                    left - 4
                ),
            ));
            q.records_read += 1;
            q.records_rejected += 1;
            break;
        }
        let msg = &data[off + 4..off + 4 + len];
        if len == 0 {
            q.push(Issue::note(
                IssueKind::BadProtobuf,
                file,
                Some(frame),
                None,
                format!("zero-length frame at byte offset {off} (an empty request, no spans)"),
            ));
        }
        let mut sinks = FrameSinks {
            builder: &mut b,
            quality: &mut q,
            metrics,
            noted: &mut non_span_noted,
        };
        let decoded = decode_frame(msg, file, frame, Some(off), opts, &mut sinks);
        let next = off + 4 + len;
        if decoded.is_none() && !plausible_frame_at(data, next) {
            q.push(Issue::rejected(
                IssueKind::BadProtobuf,
                file,
                Some(frame + 1),
                None,
                format!(
                    "no plausible frame header at byte offset {next} after an undecodable frame; \
                     the remaining {} bytes are skipped",
                    data.len() - next
                ),
            ));
            q.records_read += 1;
            q.records_rejected += 1;
            break;
        }
        off = next;
        if b.len() >= batch_rows {
            flush(&mut b, file, &mut q, emit);
        }
    }
    flush(&mut b, file, &mut q, emit);
    q.files.push(FileSummary {
        file: file.to_string(),
        format: FORMAT_FRAMED.to_string(),
        records_read: q.records_read,
        records_ingested: q.records_ingested,
        records_rejected: q.records_rejected,
    });
    q
}

/// Cheap content sniff for [`read_framed`] input: a first length that is non-zero, plausible
/// (≤ 256 MiB) and, when the whole first frame is in `data`, a message that starts with field
/// 1 / wire type 2 and decodes as `TracesData` with at least one resource. When `data` is a
/// prefix shorter than the first frame, the field-1 header and its varint length (which must
/// fit in the frame) are checked instead.
pub fn looks_like_framed_proto(data: &[u8]) -> bool {
    if data.len() < 6 {
        return false;
    }
    let len = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
    if len == 0 || len > MAX_PLAUSIBLE_FRAME || data[4] != 0x0A {
        return false;
    }
    if data.len() >= 4 + len {
        let msg = &data[4..4 + len];
        return TracesData::decode(msg)
            .map(|t| !t.resource_spans.is_empty())
            .unwrap_or(false)
            || messages::MetricsData::decode(msg)
                .map(|m| !m.resource_metrics.is_empty())
                .unwrap_or(false);
    }
    let mut rest = &data[5..];
    match prost::encoding::decode_varint(&mut rest) {
        Ok(inner) => (inner as usize) < len,
        Err(_) => false,
    }
}

/// Serialises messages in the file exporter's `format: proto` layout (4-byte big-endian
/// length, then the message), the inverse of [`read_framed`].
pub fn encode_framed(messages: &[TracesData]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages {
        let len = m.encoded_len();
        out.extend_from_slice(&(len as u32).to_be_bytes());
        m.encode(&mut out)
            .expect("Vec<u8> grows, so encoding cannot run out of space");
    }
    out
}

/// A string attribute.
pub fn string_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
    }
}

impl From<&SpanRecord> for messages::Span {
    /// The protobuf span for a record: attributes become string values (a [`SpanRecord`]
    /// holds rendered strings), an exception type or message becomes an `exception` event at
    /// the span's end, status and trace state are set when present. `source_line` is dropped.
    fn from(r: &SpanRecord) -> Self {
        let mut events = Vec::new();
        if r.exception_type.is_some() || r.exception_message.is_some() {
            let mut attributes = Vec::new();
            if let Some(t) = &r.exception_type {
                attributes.push(string_kv("exception.type", t));
            }
            if let Some(m) = &r.exception_message {
                attributes.push(string_kv("exception.message", m));
            }
            events.push(messages::span::Event {
                time_unix_nano: r.end_time_unix_nano.max(0) as u64,
                name: "exception".to_string(),
                attributes,
                dropped_attributes_count: 0,
            });
        }
        let status = (r.status_code != 0 || r.status_message.is_some()).then(|| messages::Status {
            message: r.status_message.clone().unwrap_or_default(),
            code: r.status_code,
        });
        messages::Span {
            trace_id: r.trace_id.to_vec(),
            span_id: r.span_id.to_vec(),
            trace_state: r.trace_state.clone().unwrap_or_default(),
            parent_span_id: r.parent_span_id.map(|p| p.to_vec()).unwrap_or_default(),
            name: r.name.clone(),
            kind: r.kind,
            start_time_unix_nano: r.start_time_unix_nano.max(0) as u64,
            end_time_unix_nano: r.end_time_unix_nano.max(0) as u64,
            attributes: r.attributes.iter().map(|(k, v)| string_kv(k, v)).collect(),
            events,
            status,
            ..Default::default()
        }
    }
}

/// One `TracesData` holding `spans` under a single resource (string attributes) and scope.
pub fn traces_data(
    resource_attributes: &[(String, String)],
    scope_name: Option<&str>,
    spans: &[SpanRecord],
) -> TracesData {
    TracesData {
        resource_spans: vec![messages::ResourceSpans {
            resource: Some(messages::Resource {
                attributes: resource_attributes
                    .iter()
                    .map(|(k, v)| string_kv(k, v))
                    .collect(),
                ..Default::default()
            }),
            scope_spans: vec![messages::ScopeSpans {
                scope: scope_name.map(|n| messages::InstrumentationScope {
                    name: n.to_string(),
                    ..Default::default()
                }),
                spans: spans.iter().map(messages::Span::from).collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

#[cfg(test)]
mod tests;
