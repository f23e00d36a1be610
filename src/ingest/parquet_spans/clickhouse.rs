//! The `otel_traces` table of the OpenTelemetry Collector ClickHouse exporter, exported to
//! Parquet (opentelemetry-collector-contrib `exporter/clickhouseexporter`, traces DDL):
//! one row per span, ids as hex strings, kind and status as names, `Duration` in
//! nanoseconds, attributes as `Map(String, String)`, events and links as `Nested` columns.

use super::{find_col, ints, list_parts, strings, struct_child, KvColumn, ResourceCache, RowSink};
use crate::model::identity::{kind, status};
use crate::model::ids::{decode_id, IdError};
use crate::model::quality::IssueKind;
use crate::model::spans::SpanRecord;
use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray};

/// A column that may hold names (`Server`, `SPAN_KIND_SERVER`, `STATUS_CODE_ERROR`) or numbers.
enum EnumCol {
    Names(StringArray),
    Numbers(Int64Array),
}

impl EnumCol {
    fn new(a: &ArrayRef) -> Result<Self, String> {
        if a.data_type().is_integer() {
            Ok(EnumCol::Numbers(ints(a)?))
        } else {
            Ok(EnumCol::Names(strings(a)?))
        }
    }

    /// The number at row `i`; `Err(text)` when a name is not recognised.
    fn get(&self, i: usize, prefix: &str, names: &[(&str, i32)]) -> Result<i32, String> {
        match self {
            EnumCol::Numbers(a) => Ok(if a.is_valid(i) { a.value(i) as i32 } else { 0 }),
            EnumCol::Names(a) => {
                if a.is_null(i) {
                    return Ok(0);
                }
                let raw = a.value(i).trim();
                if raw.is_empty() {
                    return Ok(0);
                }
                if let Ok(n) = raw.parse::<i32>() {
                    return Ok(n);
                }
                let up = raw.to_ascii_uppercase();
                let bare = up.strip_prefix(prefix).unwrap_or(&up);
                names
                    .iter()
                    .find(|(n, _)| *n == bare)
                    .map(|(_, v)| *v)
                    .ok_or_else(|| raw.to_string())
            }
        }
    }
}

const KINDS: &[(&str, i32)] = &[
    ("UNSPECIFIED", kind::UNSPECIFIED),
    ("INTERNAL", kind::INTERNAL),
    ("SERVER", kind::SERVER),
    ("CLIENT", kind::CLIENT),
    ("PRODUCER", kind::PRODUCER),
    ("CONSUMER", kind::CONSUMER),
];

const STATUSES: &[(&str, i32)] = &[
    ("UNSET", status::UNSET),
    ("OK", status::OK),
    ("ERROR", status::ERROR),
];

/// Span events, from `Events.Name`/`Events.Attributes` list columns (ClickHouse flattens
/// `Nested`), an `Events` struct of lists, or an `Events` list of structs.
struct EventsCol {
    offsets: Vec<usize>,
    names: StringArray,
    attrs: Option<KvColumn>,
}

impl EventsCol {
    fn new(batch: &RecordBatch) -> Result<Option<Self>, String> {
        let schema = batch.schema();
        if let Some((ni, _)) = find_col(&schema, "Events.Name") {
            let (offsets, names) =
                list_parts(batch.column(ni)).ok_or("Events.Name is not a list column")?;
            let attrs = match find_col(&schema, "Events.Attributes") {
                Some((ai, _)) => Some(KvColumn::new(
                    &list_parts(batch.column(ai))
                        .ok_or("Events.Attributes is not a list column")?
                        .1,
                )?),
                None => None,
            };
            return Ok(Some(Self {
                offsets,
                names: strings(&names)?,
                attrs,
            }));
        }
        let Some((ei, _)) = find_col(&schema, "Events") else {
            return Ok(None);
        };
        let ev = batch.column(ei);
        if let Some(s) = ev.as_struct_opt() {
            // Struct of parallel lists.
            let n = struct_child(s, "Name").ok_or("Events has no Name")?;
            let (offsets, names) = list_parts(&n).ok_or("Events.Name is not a list")?;
            let attrs = match struct_child(s, "Attributes") {
                Some(a) => Some(KvColumn::new(
                    &list_parts(&a).ok_or("Events.Attributes is not a list")?.1,
                )?),
                None => None,
            };
            return Ok(Some(Self {
                offsets,
                names: strings(&names)?,
                attrs,
            }));
        }
        let (offsets, values) = list_parts(ev).ok_or("Events is neither a struct nor a list")?;
        let s = values
            .as_struct_opt()
            .ok_or("Events is not a list of structs")?;
        let names = struct_child(s, "Name").ok_or("Events has no Name")?;
        let attrs = struct_child(s, "Attributes")
            .map(|a| KvColumn::new(&a))
            .transpose()?;
        Ok(Some(Self {
            offsets,
            names: strings(&names)?,
            attrs,
        }))
    }

    /// `exception.type` and `exception.message` of the first `exception` event of row `i`.
    fn exception(&self, i: usize) -> (Option<String>, Option<String>) {
        for j in self.offsets[i]..self.offsets[i + 1] {
            if self.names.is_valid(j) && self.names.value(j) == "exception" {
                let attrs = self.attrs.as_ref().map(|a| a.row(j)).unwrap_or_default();
                let get = |k: &str| attrs.iter().find(|(ak, _)| ak == k).map(|(_, v)| v.clone());
                return (get("exception.type"), get("exception.message"));
            }
        }
        (None, None)
    }
}

fn id_reason(e: IdError) -> String {
    e.to_string()
}

/// Reads one batch of `otel_traces` rows; `first_row` is the file row of the batch's first row.
pub(super) fn read_batch(
    batch: &RecordBatch,
    first_row: u64,
    sink: &mut RowSink,
) -> Result<(), String> {
    let schema = batch.schema();
    let get = |n: &str| find_col(&schema, n).map(|(i, _)| batch.column(i).clone());
    let need = |n: &str| get(n).ok_or_else(|| format!("column {n} missing"));
    let ts = ints(&need("Timestamp")?)?;
    let trace_id = strings(&need("TraceId")?)?;
    let span_id = strings(&need("SpanId")?)?;
    let parent = get("ParentSpanId").map(|a| strings(&a)).transpose()?;
    let trace_state = get("TraceState").map(|a| strings(&a)).transpose()?;
    let name = Some(strings(&need("SpanName")?)?);
    let kind_col = get("SpanKind").map(|a| EnumCol::new(&a)).transpose()?;
    let service = get("ServiceName").map(|a| strings(&a)).transpose()?;
    let res_attrs = get("ResourceAttributes")
        .map(|a| KvColumn::new(&a))
        .transpose()?;
    let scope = get("ScopeName").map(|a| strings(&a)).transpose()?;
    let span_attrs = get("SpanAttributes")
        .map(|a| KvColumn::new(&a))
        .transpose()?;
    let dur = ints(&need("Duration")?)?;
    let status_col = get("StatusCode").map(|a| EnumCol::new(&a)).transpose()?;
    let status_msg = get("StatusMessage").map(|a| strings(&a)).transpose()?;
    let events = EventsCol::new(batch)?;
    let text = |a: &Option<StringArray>, i: usize| {
        a.as_ref()
            .filter(|a| a.is_valid(i))
            .map(|a| a.value(i).to_string())
            .filter(|s| !s.is_empty())
    };
    let cfg = sink.cfg.clone();
    let mut cache = ResourceCache::default();
    for i in 0..batch.num_rows() {
        let row = first_row + i as u64;
        let tid = match decode_id::<16>(if trace_id.is_valid(i) {
            trace_id.value(i)
        } else {
            ""
        }) {
            Ok((t, _)) => t,
            Err(e) => {
                sink.reject(IssueKind::BadId, row, "TraceId".into(), id_reason(e));
                continue;
            }
        };
        let sid = match decode_id::<8>(if span_id.is_valid(i) {
            span_id.value(i)
        } else {
            ""
        }) {
            Ok((s, _)) => s,
            Err(e) => {
                sink.reject(IssueKind::BadId, row, "SpanId".into(), id_reason(e));
                continue;
            }
        };
        let parent_span_id = match text(&parent, i) {
            None => None,
            Some(p) => match decode_id::<8>(&p) {
                Ok((p, _)) => Some(p),
                Err(IdError::AllZero) => None,
                Err(e) => {
                    sink.reject(IssueKind::BadId, row, "ParentSpanId".into(), e.to_string());
                    continue;
                }
            },
        };
        if ts.is_null(i) {
            sink.reject(
                IssueKind::MissingField,
                row,
                "Timestamp".into(),
                "null timestamp".into(),
            );
            continue;
        }
        let start = ts.value(i);
        if dur.is_null(i) {
            sink.reject(
                IssueKind::MissingField,
                row,
                "Duration".into(),
                "null duration (or above i64::MAX nanoseconds)".into(),
            );
            continue;
        }
        let d = dur.value(i);
        if d < 0 {
            sink.reject(
                IssueKind::EndBeforeStart,
                row,
                "Duration".into(),
                format!("negative duration {d}"),
            );
            continue;
        }
        let k = match kind_col.as_ref().map(|c| c.get(i, "SPAN_KIND_", KINDS)) {
            None => 0,
            Some(Ok(k)) => k,
            Some(Err(t)) => {
                sink.note(
                    IssueKind::WrongType,
                    Some(row),
                    "SpanKind".into(),
                    format!("unknown span kind {t:?}; taken as UNSPECIFIED"),
                );
                0
            }
        };
        let st = match status_col
            .as_ref()
            .map(|c| c.get(i, "STATUS_CODE_", STATUSES))
        {
            None => 0,
            Some(Ok(s)) => s,
            Some(Err(t)) => {
                sink.note(
                    IssueKind::WrongType,
                    Some(row),
                    "StatusCode".into(),
                    format!("unknown status code {t:?}; taken as UNSET"),
                );
                0
            }
        };
        for (col, field) in [
            (&res_attrs, "ResourceAttributes"),
            (&span_attrs, "SpanAttributes"),
        ] {
            if let Some(p) = col.as_ref().and_then(|c| c.json_problem(i)) {
                sink.note(IssueKind::WrongType, Some(row), field.into(), p);
            }
        }
        let mut attrs = res_attrs.as_ref().map(|a| a.row(i)).unwrap_or_default();
        if let Some(svc) = text(&service, i) {
            if !attrs.iter().any(|(k, _)| k == "service.name") {
                attrs.push(("service.name".into(), svc));
            }
        }
        let (exception_type, exception_message) = events
            .as_ref()
            .map(|e| e.exception(i))
            .unwrap_or((None, None));
        let rec = SpanRecord {
            trace_id: tid,
            span_id: sid,
            parent_span_id,
            name: text(&name, i).unwrap_or_default(),
            kind: k,
            start_time_unix_nano: start,
            end_time_unix_nano: start.saturating_add(d),
            status_code: st,
            status_message: text(&status_msg, i),
            trace_state: text(&trace_state, i),
            attributes: span_attrs.as_ref().map(|a| a.row(i)).unwrap_or_default(),
            exception_type,
            exception_message,
            source_line: row as i64,
        };
        let res = cache.get(attrs, text(&scope, i), &cfg);
        sink.push(res, &rec, None);
    }
    Ok(())
}
