//! OTLP/JSON trace decoder: `TracesData` / `ExportTraceServiceRequest` objects
//! (`resourceSpans → scopeSpans → spans`) into [`SpanRecord`]s appended to a [`SpansBuilder`].
//!
//! The decoder is a typed serde model borrowing strings from the input line, so the hot path
//! does no `serde_json::Value` building and allocates only what the canonical row keeps.
//! Leaf fields are *lenient* types that never fail the whole line on a wrong JSON type: they
//! record what they saw, and the span (not the line) is rejected with the field's path.
//!
//! Tolerance (documented in `docs/ingest.md`):
//! - ids: hex in any case; base64 (proto3 canonical JSON) accepted with a `non_hex_id` note;
//!   empty, all-zero or undecodable ids reject the span (`bad_id`);
//! - enums: numbers or names (`SPAN_KIND_SERVER`, `STATUS_CODE_ERROR`, note `enum_as_name`);
//! - 64-bit integers as JSON numbers or strings; values beyond `i64` are `wrong_type`;
//! - lowerCamelCase or snake_case keys; unknown keys are ignored;
//! - a missing `name` is the empty string (proto3 JSON omits default values, so an encoder
//!   writes nothing for `""`); missing ids or times reject the span (`missing_field`);
//! - `end < start` rejects the span (`end_before_start`).
//!
//! Layout, by concern: this file frames the input (one document per line or one whole
//! document, truncated tails) and turns spans into rows; `scalars` holds the lenient leaf
//! types, `document` the serde model of the document walk (resource → scope → span,
//! `AnyValue`), `any_value` renders attribute values to strings, and `metrics` decodes
//! `resourceMetrics`.

use super::IngestOptions;
use crate::model::identity::{kind, status};
use crate::model::ids::{decode_id, IdEncoding, IdError};
use crate::model::metrics::MetricPoint;
use crate::model::quality::{DataQuality, Issue, IssueKind, Severity, MAX_LISTED_PER_KIND};
use crate::model::spans::{ResourceInfo, SpanFingerprint, SpanRecord, SpansBuilder};
use arrow::record_batch::RecordBatch;
use serde::de::IgnoredAny;
use serde::Deserialize;

mod any_value;
mod document;
mod fast;
mod metrics;
mod parse;
mod scalars;

use any_value::*;
use document::*;
use scalars::*;

/// One OTLP/JSON document or line: the signals canalyst reads, walked by [`decode_lines`]
/// and [`decode_document`].
#[derive(Deserialize, Default)]
struct Doc<'a> {
    #[serde(borrow, default, rename = "resourceSpans", alias = "resource_spans")]
    resource_spans: Option<Vec<ResourceSpans<'a>>>,
    #[serde(
        borrow,
        default,
        rename = "resourceMetrics",
        alias = "resource_metrics"
    )]
    resource_metrics: Option<Vec<metrics::ResourceMetrics<'a>>>,
    #[serde(default, rename = "resourceLogs", alias = "resource_logs")]
    resource_logs: Option<IgnoredAny>,
}

// ---------------------------------------------------------------------------------------------
// Span conversion
// ---------------------------------------------------------------------------------------------

/// Records an issue, formatting it only while the per-kind list is not full, and keeps
/// `records_rejected` equal to the number of rejections.
pub(crate) fn record_issue(
    q: &mut DataQuality,
    kind: IssueKind,
    severity: Severity,
    make: impl FnOnce() -> Issue,
) {
    let name = kind.name();
    let n = match q.counts.get_mut(name) {
        Some(n) => {
            *n += 1;
            *n
        }
        None => {
            q.counts.insert(name.to_string(), 1);
            1
        }
    };
    if (n as usize) <= MAX_LISTED_PER_KIND {
        let issue = make();
        debug_assert_eq!(issue.severity, severity);
        q.issues.push(issue);
    } else {
        q.issues_not_listed += 1;
    }
    if severity == Severity::Rejected {
        q.records_rejected += 1;
    }
}

/// Where the spans being decoded come from.
#[derive(Debug, Clone, Copy)]
pub struct Location<'f> {
    /// Input file as shown to the user.
    pub file: &'f str,
    /// 1-based line (or frame number) recorded as `source_line` and in issues.
    pub line: u64,
}

/// Reusable decoding state: the scratch record (its strings and attribute vector are reused
/// from span to span) and counters.
pub struct SpanDecoder {
    rec: SpanRecord,
    /// simd-json's reusable buffers (see `parse`), taken out while a parsed object is alive.
    parser: Option<parse::Parser>,
    /// The fast path's reusable state (see `fast`).
    fast: fast::Scanner,
    /// Always empty: the allocation the fast path's span records hold their attributes in,
    /// kept from object to object ([`reuse`]). A new vector for each object was reallocated
    /// as it grew, and with two threads `realloc` waited for the allocator's lock that the
    /// other thread held freeing this thread's batches (5% of the decoders' waits).
    pairs: Vec<(&'static str, &'static str)>,
    /// Whether any decoded object carried `resourceLogs` (not ingested).
    pub saw_non_span_data: bool,
    /// Metric points decoded so far (objects with `resourceMetrics`), in input order.
    pub metrics: Vec<MetricPoint>,
    /// Index in the whole document of the object's first `resourceSpans` entry (non-zero for
    /// the later pieces of a split document), so issue paths name the entry in the file.
    pub first_resource: usize,
}

impl Default for SpanDecoder {
    fn default() -> Self {
        Self::new()
    }
}

fn set_string(dst: &mut String, src: &str) {
    dst.clear();
    dst.push_str(src);
}

fn set_opt(dst: &mut Option<String>, src: Option<&str>) {
    match (dst.as_mut(), src) {
        (Some(d), Some(s)) => set_string(d, s),
        (None, Some(s)) => *dst = Some(s.to_string()),
        (_, None) => *dst = None,
    }
}

/// What went wrong with one span; turned into an [`Issue`] with the span's path.
struct SpanProblem {
    kind: IssueKind,
    field: &'static str,
    reason: String,
}

fn prob(kind: IssueKind, field: &'static str, reason: impl Into<String>) -> SpanProblem {
    SpanProblem {
        kind,
        field,
        reason: reason.into(),
    }
}

fn enum_value(
    e: &JEnum,
    prefix: &str,
    names: &[&str],
    field: &'static str,
    named: &mut bool,
) -> Result<i32, SpanProblem> {
    match e {
        JEnum::Num(n) => i32::try_from(*n).map_err(|_| {
            prob(
                IssueKind::WrongType,
                field,
                format!("enum number {n} out of range"),
            )
        }),
        JEnum::Name(s) => {
            let s = s.trim();
            if let Ok(n) = s.parse::<i32>() {
                return Ok(n);
            }
            let short = s.strip_prefix(prefix).unwrap_or(s);
            match names.iter().position(|n| n.eq_ignore_ascii_case(short)) {
                Some(i) => {
                    *named = true;
                    Ok(i as i32)
                }
                None => Err(prob(
                    IssueKind::WrongType,
                    field,
                    format!("unknown enum name {:?}", truncate(s)),
                )),
            }
        }
        JEnum::Wrong(w) => Err(prob(
            IssueKind::WrongType,
            field,
            format!("expected an enum number or name, got {w}"),
        )),
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

const KIND_NAMES: &[&str] = &[
    "UNSPECIFIED",
    "INTERNAL",
    "SERVER",
    "CLIENT",
    "PRODUCER",
    "CONSUMER",
];
const STATUS_NAMES: &[&str] = &["UNSET", "OK", "ERROR"];

fn id<const N: usize>(
    v: &Option<JStr>,
    field: &'static str,
    required: bool,
    base64: &mut bool,
) -> Result<Option<[u8; N]>, SpanProblem> {
    match v {
        None if required => Err(prob(IssueKind::MissingField, field, "absent")),
        None => Ok(None),
        Some(JStr::Wrong(w)) => Err(prob(
            IssueKind::WrongType,
            field,
            format!("expected a hex string, got {w}"),
        )),
        // An empty parent id is how OTLP/JSON writes "no parent".
        Some(JStr::S(s)) if !required && s.is_empty() => Ok(None),
        Some(JStr::S(s)) => match decode_id::<N>(s) {
            Ok((b, enc)) => {
                *base64 |= enc == IdEncoding::Base64;
                Ok(Some(b))
            }
            Err(IdError::AllZero) if !required => Ok(None),
            Err(e) => Err(prob(IssueKind::BadId, field, e.to_string())),
        },
    }
}

fn time(v: &Option<JInt>, field: &'static str) -> Result<i64, SpanProblem> {
    match v {
        None => Err(prob(IssueKind::MissingField, field, "absent")),
        Some(JInt::V(t)) if *t >= 0 => Ok(*t),
        Some(JInt::V(t)) => Err(prob(
            IssueKind::WrongType,
            field,
            format!("negative time {t}"),
        )),
        Some(JInt::OutOfRange) => Err(prob(
            IssueKind::WrongType,
            field,
            "integer beyond the int64 nanosecond range (after year 2262)",
        )),
        Some(JInt::Wrong(w)) => Err(prob(
            IssueKind::WrongType,
            field,
            format!("expected an integer, got {w}"),
        )),
    }
}

/// Renders a key–value list into `out`, reusing its strings; problems become notes.
fn fill_attributes(
    kvs: Option<&Vec<KeyValue>>,
    out: &mut Vec<(String, String)>,
    mut on_problem: impl FnMut(usize, &'static str),
) {
    let mut n = 0;
    for (i, kv) in kvs.into_iter().flatten().enumerate() {
        let key = match &kv.key {
            Some(JStr::S(k)) => k.as_ref(),
            None => "",
            Some(JStr::Wrong(w)) => {
                on_problem(i, w);
                continue;
            }
        };
        if n == out.len() {
            out.push((String::new(), String::new()));
        }
        let slot = &mut out[n];
        set_string(&mut slot.0, key);
        slot.1.clear();
        if let Some(v) = &kv.value {
            if let Some(p) = render_value(v, &mut slot.1) {
                on_problem(i, p);
            }
        }
        n += 1;
    }
    out.truncate(n);
}

fn attr_value<'x>(kvs: &'x [KeyValue], key: &str) -> Option<&'x AnyValue<'x>> {
    kvs.iter()
        .find(|kv| matches!(&kv.key, Some(JStr::S(k)) if k == key))
        .and_then(|kv| kv.value.as_ref())
}

fn attr_string(kvs: &[KeyValue], key: &str) -> Option<String> {
    attr_value(kvs, key).map(|v| {
        let mut s = String::new();
        render_value(v, &mut s);
        s
    })
}

impl SpanDecoder {
    /// A decoder with empty scratch state.
    pub fn new() -> Self {
        Self {
            rec: SpanRecord::default(),
            parser: Some(parse::Parser::default()),
            fast: fast::Scanner::default(),
            saw_non_span_data: false,
            metrics: Vec::new(),
            first_resource: 0,
            pairs: Vec::new(),
        }
    }

    /// Decodes one JSON object (a line, a document, or a framed message) and appends its spans
    /// to `builder`. Counts go to `quality`. Returns the number of spans seen (good or bad), or
    /// the serde error when the object cannot be decoded at all.
    pub fn decode_object(
        &mut self,
        json: &[u8],
        at: Location,
        opts: &IngestOptions,
        builder: &mut SpansBuilder,
        quality: &mut DataQuality,
        flush: &mut dyn FnMut(&mut SpansBuilder),
    ) -> Result<u64, serde_json::Error> {
        if let Some(n) = self.decode_fast(json, at, opts, builder, quality, flush) {
            return Ok(n);
        }
        self.decode_object_serde(json, at, opts, builder, quality, flush)
    }

    /// [`SpanDecoder::decode_object`] without trying the fast path (it refused the object).
    fn decode_object_serde(
        &mut self,
        json: &[u8],
        at: Location,
        opts: &IngestOptions,
        builder: &mut SpansBuilder,
        quality: &mut DataQuality,
        flush: &mut dyn FnMut(&mut SpansBuilder),
    ) -> Result<u64, serde_json::Error> {
        // The parsed object borrows the parser's copy of the input while `self` is filled.
        let mut parser = self.parser.take().unwrap_or_default();
        let r = match parser.parse::<Doc>(json) {
            Ok(doc) => Ok(self.decode_doc(&doc, at, opts, builder, quality, flush)),
            Err(e) => Err(e),
        };
        self.parser = Some(parser);
        r
    }

    /// The fast path (`fast`): decodes a canonical object and returns its span count, or
    /// returns `None` having appended nothing. Rows, fingerprints and counts equal the serde
    /// path's (`decode_doc`) for every object it accepts.
    fn decode_fast(
        &mut self,
        json: &[u8],
        at: Location,
        opts: &IngestOptions,
        builder: &mut SpansBuilder,
        quality: &mut DataQuality,
        flush: &mut dyn FnMut(&mut SpansBuilder),
    ) -> Option<u64> {
        #[cfg(test)]
        if parse::tests::FORCE_SERDE.with(|f| f.get()) {
            return None;
        }
        let text = simdutf8::basic::from_utf8(json).ok()?;
        let scanned = self.fast.scan(text, &opts.identity)?;
        let pairs = reuse(std::mem::take(&mut self.pairs));
        let (seen, pairs) = emit(&scanned, pairs, at, opts, builder, quality, flush);
        self.pairs = reuse(pairs);
        Some(seen)
    }

    /// The fast path on the JSON line that starts `input` (JSON lines: the rest of a piece),
    /// found by the scan ([`fast::Scanner::scan_line`]): its span count and the index of the
    /// newline ending the line (`input.len()` without one), or `None` having appended
    /// nothing; the caller then cuts the line at its newline and decodes it with
    /// [`SpanDecoder::decode_object_serde`] (the fast path would refuse it again).
    fn decode_line_fast(
        &mut self,
        input: &[u8],
        at: Location,
        opts: &IngestOptions,
        builder: &mut SpansBuilder,
        quality: &mut DataQuality,
        flush: &mut dyn FnMut(&mut SpansBuilder),
    ) -> Option<(u64, usize)> {
        #[cfg(test)]
        if parse::tests::FORCE_SERDE.with(|f| f.get()) {
            return None;
        }
        let (scanned, newline) = self.fast.scan_line(input, &opts.identity)?;
        let pairs = reuse(std::mem::take(&mut self.pairs));
        let (seen, pairs) = emit(&scanned, pairs, at, opts, builder, quality, flush);
        self.pairs = reuse(pairs);
        Some((seen, newline))
    }
}

/// An empty vector of string pairs of any lifetime, with the allocation of `v` (the
/// standard library's in-place `collect` keeps it: same element layout, and no element to
/// convert, so no borrow outlives its input).
fn reuse<'b>(mut v: Vec<(&str, &str)>) -> Vec<(&'b str, &'b str)> {
    v.clear();
    v.into_iter().map(|_| unreachable!("cleared")).collect()
}

/// Appends the spans of an object the fast path scanned, their attributes held in `pairs`;
/// returns their count and `pairs` (for its allocation).
fn emit<'a>(
    scanned: &fast::Scanned<'a>,
    pairs: Vec<(&'a str, &'a str)>,
    at: Location,
    opts: &IngestOptions,
    builder: &mut SpansBuilder,
    quality: &mut DataQuality,
    flush: &mut dyn FnMut(&mut SpansBuilder),
) -> (u64, Vec<(&'a str, &'a str)>) {
    let mut seen = 0u64;
    let mut attributes = pairs;
    scanned.for_each_scope(&opts.identity, |res, spans| {
        for i in spans {
            seen += 1;
            quality.records_read += 1;
            let rec = scanned.span(i, at.line, std::mem::take(&mut attributes));
            builder.append(res, &rec);
            attributes = rec.attributes;
            quality.records_ingested += 1;
            if builder.len() >= opts.batch_rows.max(1) {
                flush(builder);
            }
        }
    });
    (seen, attributes)
}

impl SpanDecoder {
    /// Appends the spans (and collects the metric points) of one parsed object.
    fn decode_doc(
        &mut self,
        doc: &Doc,
        at: Location,
        opts: &IngestOptions,
        builder: &mut SpansBuilder,
        quality: &mut DataQuality,
        flush: &mut dyn FnMut(&mut SpansBuilder),
    ) -> u64 {
        if doc.resource_logs.is_some() {
            self.saw_non_span_data = true;
        }
        let mut seen = 0u64;
        if let Some(rms) = &doc.resource_metrics {
            let before = self.metrics.len();
            metrics::decode_resource_metrics(rms, at, opts, quality, &mut self.metrics);
            seen += (self.metrics.len() - before) as u64;
        }
        let first_resource = self.first_resource;
        for (ri, rs) in doc.resource_spans.iter().flatten().enumerate() {
            let ri = first_resource + ri;
            let res_kvs = rs.resource.as_ref().and_then(|r| r.attributes.as_ref());
            for (si, ss) in rs.scope_spans.iter().flatten().enumerate() {
                let spans = match &ss.spans {
                    Some(s) if !s.is_empty() => s,
                    _ => continue,
                };
                let mut res_attrs = Vec::new();
                fill_attributes(res_kvs, &mut res_attrs, |i, w| {
                    record_issue(quality, IssueKind::WrongType, Severity::Note, || {
                        Issue::note(
                            IssueKind::WrongType,
                            at.file,
                            Some(at.line),
                            Some(format!("resourceSpans[{ri}].resource.attributes[{i}]")),
                            format!("attribute value is {w}; kept as an empty string"),
                        )
                    })
                });
                let scope_name = match ss.scope.as_ref().and_then(|s| s.name.as_ref()) {
                    Some(JStr::S(n)) if !n.is_empty() => Some(n.to_string()),
                    _ => None,
                };
                let res = ResourceInfo::from_attributes(res_attrs, scope_name, &opts.identity);
                for (ki, span) in spans.iter().enumerate() {
                    seen += 1;
                    quality.records_read += 1;
                    let path = || format!("resourceSpans[{ri}].scopeSpans[{si}].spans[{ki}]");
                    match self.fill(span, at, quality, &path) {
                        Ok(()) => {
                            builder.append(&res, &self.rec);
                            quality.records_ingested += 1;
                            if builder.len() >= opts.batch_rows.max(1) {
                                flush(builder);
                            }
                        }
                        Err(p) => record_issue(quality, p.kind, Severity::Rejected, || {
                            Issue::rejected(
                                p.kind,
                                at.file,
                                Some(at.line),
                                Some(format!("{}.{}", path(), p.field)),
                                p.reason,
                            )
                        }),
                    }
                }
            }
        }
        seen
    }

    /// Fills the scratch record from `span`; on success records the span's notes.
    fn fill(
        &mut self,
        span: &Span,
        at: Location,
        quality: &mut DataQuality,
        path: &dyn Fn() -> String,
    ) -> Result<(), SpanProblem> {
        let mut base64 = false;
        let mut named = false;
        let trace_id = id::<16>(&span.trace_id, "traceId", true, &mut base64)?.unwrap_or_default();
        let span_id = id::<8>(&span.span_id, "spanId", true, &mut base64)?.unwrap_or_default();
        let parent = id::<8>(&span.parent_span_id, "parentSpanId", false, &mut base64)?;
        let start = time(&span.start, "startTimeUnixNano")?;
        let end = time(&span.end, "endTimeUnixNano")?;
        if end < start {
            return Err(prob(
                IssueKind::EndBeforeStart,
                "endTimeUnixNano",
                format!("end {end} is before start {start}"),
            ));
        }
        let kind_v = match &span.kind {
            Some(k) => enum_value(k, "SPAN_KIND_", KIND_NAMES, "kind", &mut named)?,
            None => kind::UNSPECIFIED,
        };
        let (code, message) = match &span.status {
            Some(st) => {
                let code = match &st.code {
                    Some(c) => {
                        enum_value(c, "STATUS_CODE_", STATUS_NAMES, "status.code", &mut named)?
                    }
                    None => status::UNSET,
                };
                let msg = match &st.message {
                    Some(JStr::S(m)) => Some(m.as_ref()),
                    Some(JStr::Wrong(w)) => {
                        return Err(prob(
                            IssueKind::WrongType,
                            "status.message",
                            format!("expected a string, got {w}"),
                        ))
                    }
                    None => None,
                };
                (code, msg)
            }
            None => (status::UNSET, None),
        };
        let name = match &span.name {
            Some(JStr::S(n)) => n.as_ref(),
            Some(JStr::Wrong(w)) => {
                return Err(prob(
                    IssueKind::WrongType,
                    "name",
                    format!("expected a string, got {w}"),
                ))
            }
            None => "",
        };
        let trace_state = match &span.trace_state {
            Some(JStr::S(s)) if !s.is_empty() => Some(s.as_ref()),
            _ => None,
        };

        let r = &mut self.rec;
        r.trace_id = trace_id;
        r.span_id = span_id;
        r.parent_span_id = parent;
        set_string(&mut r.name, name);
        r.kind = kind_v;
        r.start_time_unix_nano = start;
        r.end_time_unix_nano = end;
        r.status_code = code;
        set_opt(&mut r.status_message, message);
        set_opt(&mut r.trace_state, trace_state);
        r.source_line = at.line as i64;
        let mut attr_problems: Vec<(usize, &'static str)> = Vec::new();
        fill_attributes(span.attributes.as_ref(), &mut r.attributes, |i, w| {
            attr_problems.push((i, w))
        });
        r.exception_type = None;
        r.exception_message = None;
        if let Some(ev) = span
            .events
            .iter()
            .flatten()
            .find(|e| matches!(&e.name, Some(JStr::S(n)) if n == "exception"))
        {
            let kvs = ev.attributes.as_deref().unwrap_or(&[]);
            r.exception_type = attr_string(kvs, "exception.type");
            r.exception_message = attr_string(kvs, "exception.message");
        }

        for (i, w) in attr_problems {
            record_issue(quality, IssueKind::WrongType, Severity::Note, || {
                Issue::note(
                    IssueKind::WrongType,
                    at.file,
                    Some(at.line),
                    Some(format!("{}.attributes[{i}]", path())),
                    format!("attribute value is {w}; kept as an empty string"),
                )
            });
        }
        if base64 {
            record_issue(quality, IssueKind::NonHexId, Severity::Note, || {
                Issue::note(
                    IssueKind::NonHexId,
                    at.file,
                    Some(at.line),
                    Some(format!("{}.traceId", path())),
                    "ids written as base64 (proto3 canonical JSON), not hex as OTLP/JSON requires",
                )
            });
        }
        if named {
            record_issue(quality, IssueKind::EnumAsName, Severity::Note, || {
                Issue::note(
                    IssueKind::EnumAsName,
                    at.file,
                    Some(at.line),
                    Some(format!("{}.kind", path())),
                    "enum written as its name, not its number as OTLP/JSON requires",
                )
            });
        }
        Ok(())
    }
}

/// Batches decoded from one piece of input, in input order.
#[derive(Debug, Default)]
pub struct Decoded {
    /// Finished batches with their row fingerprints.
    pub batches: Vec<(RecordBatch, Vec<SpanFingerprint>)>,
    /// Counts and issues (no [`crate::model::quality::FileSummary`]; the driver adds it).
    pub quality: DataQuality,
    /// Whether any object carried logs (not ingested).
    pub saw_non_span_data: bool,
    /// Metric points (not yet delta-converted), in input order.
    pub metrics: Vec<MetricPoint>,
    /// Newline-terminated lines of the input ([`decode_lines`] only; 0 otherwise): what the
    /// next piece's first line number is counted from.
    pub lines: u64,
}

fn finish_into(builder: &mut SpansBuilder, out: &mut Vec<(RecordBatch, Vec<SpanFingerprint>)>) {
    if builder.is_empty() {
        return;
    }
    // The builder's columns always match its own schema; failure here is a programming error.
    let b = builder
        .finish_with_fingerprints()
        .expect("spans builder produces a valid batch");
    out.push(b);
}

/// Finishes the last batch of a piece of `piece_bytes` input bytes; when it is the piece's
/// only batch, first notes what it filled for the next piece's builder on this thread.
fn finish_piece(
    builder: &mut SpansBuilder,
    out: &mut Vec<(RecordBatch, Vec<SpanFingerprint>)>,
    piece_bytes: usize,
) {
    if out.is_empty() {
        super::remember_capacity(builder, piece_bytes);
    }
    finish_into(builder, out);
}

/// Records a line that could not be decoded: `truncated_line` when it is the unterminated last
/// line of the file, `wrong_type` for a structural type error, else `malformed_json`.
fn line_error(
    q: &mut DataQuality,
    file: &str,
    line: u64,
    e: &serde_json::Error,
    unterminated_last: bool,
) {
    let kind = if unterminated_last {
        IssueKind::TruncatedLine
    } else if e.classify() == serde_json::error::Category::Data {
        IssueKind::WrongType
    } else {
        IssueKind::MalformedJson
    };
    q.records_read += 1;
    record_issue(q, kind, Severity::Rejected, || {
        let what = match kind {
            IssueKind::TruncatedLine => {
                "last line has no newline and does not parse (cut-off export?)"
            }
            IssueKind::WrongType => "line does not have the OTLP/JSON shape",
            _ => "line is not valid JSON",
        };
        Issue::rejected(
            kind,
            file,
            Some(line),
            None,
            format!("{what}: {} (column {})", strip_location(e), e.column()),
        )
    });
}

/// serde_json's message without its trailing "at line L column C" (we report our own line).
fn strip_location(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Decodes JSON lines: `bytes` holds whole lines, the first being line `first_line` of `file`.
/// `unterminated_last` says the chunk ends the file without a final newline. Blank lines are
/// skipped. Each line that fails to decode counts as one rejected record.
pub fn decode_lines(
    bytes: &[u8],
    first_line: u64,
    unterminated_last: bool,
    file: &str,
    opts: &IngestOptions,
) -> Decoded {
    let mut out = Decoded::default();
    let mut builder = opts.sized_spans_builder(file, bytes.len());
    let mut dec = SpanDecoder::new();
    let mut batches = Vec::new();
    let mut line_no = first_line;
    let mut rest = bytes;
    while !rest.is_empty() {
        let at = Location {
            file,
            line: line_no,
        };
        let mut flush = |b: &mut SpansBuilder| finish_into(b, &mut batches);
        // A line that starts with its object goes to the fast path whole, which finds where
        // the line ends as it scans; the others, and the lines it refuses, are cut at their
        // newline first.
        let fast = rest[0] == b'{';
        if fast {
            let decoded =
                dec.decode_line_fast(rest, at, opts, &mut builder, &mut out.quality, &mut flush);
            if let Some((_, newline)) = decoded {
                let terminated = newline < rest.len();
                rest = &rest[newline + usize::from(terminated)..];
                out.lines += u64::from(terminated);
                line_no += 1;
                continue;
            }
        }
        let (line, next, terminated) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..], true),
            None => (rest, &rest[rest.len()..], false),
        };
        rest = next;
        out.lines += u64::from(terminated);
        let trimmed = trim_ascii(line);
        if !trimmed.is_empty() {
            let decoded = if fast {
                dec.decode_object_serde(
                    trimmed,
                    at,
                    opts,
                    &mut builder,
                    &mut out.quality,
                    &mut flush,
                )
            } else {
                dec.decode_object(
                    trimmed,
                    at,
                    opts,
                    &mut builder,
                    &mut out.quality,
                    &mut flush,
                )
            };
            if let Err(e) = decoded {
                let last = !terminated && unterminated_last;
                line_error(&mut out.quality, file, line_no, &e, last);
            }
        }
        line_no += 1;
    }
    finish_piece(&mut builder, &mut batches, bytes.len());
    out.batches = batches;
    out.saw_non_span_data = dec.saw_non_span_data;
    out.metrics = dec.metrics;
    out
}

/// Decodes one JSON document (pretty-printed or a framed message) that starts at line
/// `first_line`. Every span's `source_line` is `first_line` (the issue `field` path locates the
/// span inside the document); a parse error is reported at the document line serde reports.
pub fn decode_document(data: &[u8], first_line: u64, file: &str, opts: &IngestOptions) -> Decoded {
    decode_document_piece(
        data,
        DocumentPiece {
            doc_line: first_line,
            piece_line: first_line,
            first_resource: 0,
        },
        file,
        opts,
    )
}

/// Where a piece of a split document (`ingest::doc_split`) sits in its file.
#[derive(Debug, Clone, Copy)]
pub struct DocumentPiece {
    /// Line where the document starts: every span's `source_line`, as for a whole document.
    pub doc_line: u64,
    /// File line of the piece's first byte; a parse error's line is counted from here.
    pub piece_line: u64,
    /// Index of the piece's first `resourceSpans` entry in the document.
    pub first_resource: usize,
}

/// Decodes one piece of a split document as [`decode_document`] decodes a whole one: the
/// same spans, `source_line`s and issue paths; a piece that does not decode is one rejected
/// record (the document's other pieces are kept).
pub fn decode_document_piece(
    data: &[u8],
    piece: DocumentPiece,
    file: &str,
    opts: &IngestOptions,
) -> Decoded {
    let first_line = piece.doc_line;
    let mut out = Decoded::default();
    let mut builder = opts.sized_spans_builder(file, data.len());
    let mut dec = SpanDecoder::new();
    dec.first_resource = piece.first_resource;
    let mut batches = Vec::new();
    let at = Location {
        file,
        line: first_line,
    };
    let mut flush = |b: &mut SpansBuilder| finish_into(b, &mut batches);
    if let Err(e) = dec.decode_object(data, at, opts, &mut builder, &mut out.quality, &mut flush) {
        let kind = match e.classify() {
            serde_json::error::Category::Eof => IssueKind::TruncatedLine,
            serde_json::error::Category::Data => IssueKind::WrongType,
            _ => IssueKind::MalformedJson,
        };
        out.quality.records_read += 1;
        let line = piece.piece_line + e.line().saturating_sub(1) as u64;
        record_issue(&mut out.quality, kind, Severity::Rejected, || {
            Issue::rejected(
                kind,
                file,
                Some(line),
                None,
                format!(
                    "JSON document does not decode: {} (column {})",
                    strip_location(&e),
                    e.column()
                ),
            )
        });
    }
    finish_piece(&mut builder, &mut batches, data.len());
    out.batches = batches;
    out.saw_non_span_data = dec.saw_non_span_data;
    out.metrics = dec.metrics;
    out
}

/// `line` without leading/trailing ASCII whitespace (and a UTF-8 byte-order mark).
pub(crate) fn trim_ascii(line: &[u8]) -> &[u8] {
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    line.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::to_hex;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Int32Type, Int64Type};
    use proptest::prelude::*;
    use std::sync::Arc;

    fn opts() -> IngestOptions {
        IngestOptions::default()
    }

    fn one(span: &str) -> String {
        format!(
            r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"svc"}}}}]}},"scopeSpans":[{{"scope":{{"name":"sc"}},"spans":[{span}]}}]}}]}}"#
        )
    }

    const GOOD: &str = r#"{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","name":"GET /x","kind":2,"startTimeUnixNano":"1000","endTimeUnixNano":2500}"#;

    fn rows(d: &Decoded) -> usize {
        d.batches.iter().map(|b| b.0.num_rows()).sum()
    }

    #[test]
    fn decodes_a_span_with_string_and_number_times() {
        let d = decode_lines(one(GOOD).as_bytes(), 7, false, "f", &opts());
        assert_eq!(rows(&d), 1);
        assert_eq!(d.quality.records_read, 1);
        assert_eq!(d.quality.records_ingested, 1);
        let b = &d.batches[0].0;
        let dur = b
            .column_by_name("duration_ns")
            .unwrap()
            .as_primitive::<Int64Type>();
        assert_eq!(dur.value(0), 1500);
        let line = b
            .column_by_name("source_line")
            .unwrap()
            .as_primitive::<Int64Type>();
        assert_eq!(line.value(0), 7);
        let kind = b
            .column_by_name("span_kind")
            .unwrap()
            .as_primitive::<Int32Type>();
        assert_eq!(kind.value(0), 2);
        let tid = b.column_by_name("trace_id").unwrap().as_fixed_size_binary();
        assert_eq!(to_hex(tid.value(0)), "5b8efff798038103d269b633813fc60c");
    }

    #[test]
    fn snake_case_enum_names_and_base64_ids() {
        let span = r#"{"trace_id":"6Lbf+fjUSyjxsivDvS9naA==","span_id":"AAAAAAAAAAE=","kind":"SPAN_KIND_CLIENT","start_time_unix_nano":1,"end_time_unix_nano":2,"status":{"code":"STATUS_CODE_ERROR","message":"boom"},"unknownField":{"a":[1,2]}}"#;
        let d = decode_lines(one(span).as_bytes(), 1, false, "f", &opts());
        assert_eq!(rows(&d), 1, "{:?}", d.quality.issues);
        assert_eq!(d.quality.counts["non_hex_id"], 1);
        assert_eq!(d.quality.counts["enum_as_name"], 1);
        assert_eq!(d.quality.records_rejected, 0);
        let b = &d.batches[0].0;
        let st = b
            .column_by_name("status_code")
            .unwrap()
            .as_primitive::<Int32Type>();
        assert_eq!(st.value(0), 2);
    }

    #[test]
    fn empty_missing_and_reversed_are_rejected_with_location() {
        let spans = [
            r#"{"traceId":"","spanId":"","startTimeUnixNano":"1","endTimeUnixNano":"2"}"#,
            r#"{"spanId":"eee19b7ec3c1b174","traceId":"5b8efff798038103d269b633813fc60c","endTimeUnixNano":"2"}"#,
            r#"{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","startTimeUnixNano":"5","endTimeUnixNano":"2"}"#,
            r#"{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","startTimeUnixNano":"99999999999999999999","endTimeUnixNano":"2"}"#,
            r#"{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","startTimeUnixNano":"1","endTimeUnixNano":"2","kind":{}}"#,
        ];
        let text = one(&spans.join(","));
        let d = decode_lines(text.as_bytes(), 3, false, "x.jsonl", &opts());
        assert_eq!(rows(&d), 0);
        assert_eq!(d.quality.records_read, 5);
        assert_eq!(d.quality.records_rejected, 5);
        let kinds: Vec<&str> = d.quality.issues.iter().map(|i| i.kind.name()).collect();
        assert_eq!(
            kinds,
            [
                "bad_id",
                "missing_field",
                "end_before_start",
                "wrong_type",
                "wrong_type"
            ]
        );
        let i = &d.quality.issues[0];
        assert_eq!(i.line, Some(3));
        assert_eq!(
            i.field.as_deref(),
            Some("resourceSpans[0].scopeSpans[0].spans[0].traceId")
        );
    }

    #[test]
    fn any_values_render_as_documented() {
        let span = r#"{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[
            {"key":"s","value":{"stringValue":"a\"b"}},
            {"key":"b","value":{"boolValue":true}},
            {"key":"i","value":{"intValue":"-42"}},
            {"key":"i2","value":{"intValue":7}},
            {"key":"d","value":{"doubleValue":1.5}},
            {"key":"nan","value":{"doubleValue":"NaN"}},
            {"key":"inf","value":{"doubleValue":"-Infinity"}},
            {"key":"y","value":{"bytesValue":"AAAwOQ=="}},
            {"key":"a","value":{"arrayValue":{"values":[{"stringValue":"x"},{"intValue":"1"},{"doubleValue":"Infinity"}]}}},
            {"key":"k","value":{"kvlistValue":{"values":[{"key":"n","value":{"boolValue":false}}]}}},
            {"key":"e","value":{}}
        ],"events":[{"name":"other"},{"name":"exception","attributes":[{"key":"exception.type","value":{"stringValue":"E"}},{"key":"exception.message","value":{"stringValue":"m"}}]}]}"#;
        let d = decode_document(one(span).as_bytes(), 1, "f", &opts());
        assert_eq!(rows(&d), 1, "{:?}", d.quality.issues);
        let b = &d.batches[0].0;
        let m = b.column_by_name("span_attributes").unwrap().as_map();
        let vals = m.values().as_string::<i32>();
        let got: Vec<&str> = (0..vals.len()).map(|i| vals.value(i)).collect();
        assert_eq!(
            got,
            [
                "a\"b",
                "true",
                "-42",
                "7",
                "1.5",
                "NaN",
                "-inf",
                "00003039",
                r#"["x",1,"Infinity"]"#,
                r#"{"n":false}"#,
                ""
            ]
        );
        let et = b.column_by_name("exception_type").unwrap();
        let et = arrow::compute::cast(et, &arrow::datatypes::DataType::Utf8).unwrap();
        assert_eq!(et.as_string::<i32>().value(0), "E");
    }

    #[test]
    fn truncated_malformed_and_logs_lines() {
        let text = format!(
            "{}\n\nnot json\n{{\"resourceLogs\":[]}}\n{}",
            one(GOOD),
            &one(GOOD)[..40]
        );
        let d = decode_lines(text.as_bytes(), 1, true, "f", &opts());
        assert_eq!(rows(&d), 1);
        assert!(d.saw_non_span_data);
        let got: Vec<(u64, &str)> = d
            .quality
            .issues
            .iter()
            .map(|i| (i.line.unwrap(), i.kind.name()))
            .collect();
        assert_eq!(got, [(3, "malformed_json"), (5, "truncated_line")]);
        assert!(d.quality.issues[0].reason.contains("column"));
        assert_eq!(d.quality.records_rejected, 2);
    }

    #[test]
    fn document_errors_are_located_by_line() {
        let doc = "{\n  \"resourceSpans\": [\n    {,}\n  ]\n}\n";
        let d = decode_document(doc.as_bytes(), 10, "f", &opts());
        assert_eq!(d.quality.issues[0].line, Some(12));
        assert_eq!(d.quality.issues[0].kind, IssueKind::MalformedJson);
    }

    #[test]
    fn batches_respect_batch_rows() {
        let spans = [GOOD; 5].join(",");
        let o = IngestOptions {
            batch_rows: 2,
            ..IngestOptions::default()
        };
        let d = decode_lines(one(&spans).as_bytes(), 1, false, "f", &o);
        let sizes: Vec<usize> = d.batches.iter().map(|b| b.0.num_rows()).collect();
        assert_eq!(sizes, [2, 2, 1]);
    }

    /// `decoded` equals what serde_json alone decodes: the same batches (rows and
    /// fingerprints), data quality (counts, issues with their messages) and metric points.
    fn assert_same_as_serde(what: &str, decoded: &Decoded, serde: &Decoded) {
        assert_eq!(decoded.batches, serde.batches, "{what}: batches");
        assert_eq!(decoded.quality, serde.quality, "{what}: data quality");
        assert_eq!(
            format!("{:?}", decoded.metrics),
            format!("{:?}", serde.metrics),
            "{what}: metric points"
        );
        assert_eq!(decoded.saw_non_span_data, serde.saw_non_span_data, "{what}");
    }

    /// Decodes `bytes` as lines and as one document, with simd-json (and its serde_json
    /// fallback) and with serde_json alone, and checks the results are equal.
    fn check_both_parsers(what: &str, bytes: &[u8]) {
        let o = opts();
        let lines = decode_lines(bytes, 1, true, "f", &o);
        let doc = decode_document(bytes, 1, "f", &o);
        let (lines_s, doc_s) = parse::tests::with_serde_only(|| {
            (
                decode_lines(bytes, 1, true, "f", &o),
                decode_document(bytes, 1, "f", &o),
            )
        });
        assert_same_as_serde(&format!("{what} (lines)"), &lines, &lines_s);
        assert_same_as_serde(&format!("{what} (document)"), &doc, &doc_s);
    }

    #[test]
    fn negative_times_written_as_numbers_are_rejected_as_with_serde_json_alone() {
        // Found by review: the fast path refused "-5" as a string but took -5 as a number.
        for (start, end) in [("-5", "-1"), ("-1", "\"5\""), ("\"1\"", "-2"), ("-0", "3")] {
            let span = format!(
                r#"{{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","startTimeUnixNano":{start},"endTimeUnixNano":{end}}}"#
            );
            let line = one(&span);
            check_both_parsers(&format!("times {start} {end}"), line.as_bytes());
            let d = decode_lines(line.as_bytes(), 1, false, "f", &opts());
            let rejected = start.starts_with("-") && start != "-0" || end.starts_with('-');
            assert_eq!(
                d.quality.records_rejected,
                u64::from(rejected),
                "{start} {end}"
            );
        }
    }

    #[test]
    fn negative_zero_and_deep_values_decode_as_with_serde_json_alone() {
        let minus_zero = r#"{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{"key":"z","value":{"doubleValue":-0}}]}"#;
        let line = one(minus_zero);
        check_both_parsers("-0", line.as_bytes());
        let d = decode_lines(line.as_bytes(), 1, false, "f", &opts());
        let m = d.batches[0]
            .0
            .column_by_name("span_attributes")
            .unwrap()
            .as_map();
        assert_eq!(m.values().as_string::<i32>().value(0), "-0");
        // Array values nested past simd-json's depth bound and past serde_json's limit.
        for depth in [5, 60, 95, 130] {
            let nested = format!(
                "{}{{\"stringValue\":\"x\"}}{}",
                r#"{"arrayValue":{"values":["#.repeat(depth),
                "]}}".repeat(depth)
            );
            let span = format!(
                r#"{{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{{"key":"n","value":{nested}}}]}}"#
            );
            check_both_parsers(&format!("depth {depth}"), one(&span).as_bytes());
        }
    }

    #[test]
    fn every_sample_file_decodes_as_with_serde_json_alone() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut n = 0;
        let mut accepted = Vec::new();
        for dir in [
            "tests/fixtures/otlp-samples",
            "tests/fixtures/bad",
            "sample-data/otlp",
        ] {
            for e in walkdir::WalkDir::new(root.join(dir)).sort_by_file_name() {
                let e = e.unwrap();
                let name = e.file_name().to_string_lossy().to_string();
                let bytes = if name.ends_with(".json") || name.ends_with(".jsonl") {
                    std::fs::read(e.path()).unwrap()
                } else if name.ends_with(".jsonl.gz") {
                    let mut out = Vec::new();
                    let f = std::fs::File::open(e.path()).unwrap();
                    // The generated sample is 156 MB of lines: its first 2 MB of whole lines.
                    let gz = flate2::read::GzDecoder::new(f);
                    std::io::Read::read_to_end(&mut std::io::Read::take(gz, 2 << 20), &mut out)
                        .unwrap();
                    let end = out.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                    out.truncate(end);
                    out
                } else {
                    continue;
                };
                let ((), fast) = fast::tests::accepted_during(|| {
                    check_both_parsers(&e.path().display().to_string(), &bytes)
                });
                accepted.push((e.path().display().to_string(), fast));
                n += 1;
            }
        }
        assert!(n >= 30, "only {n} sample files found");
        // The fast path is exercised by the canonical files (the generated sample, the
        // Collector's and SDKs' exports), so the comparison above tests it.
        // (The spec's file-exporter examples have empty ids: rejections, left to serde.)
        let fast_files = accepted.iter().filter(|(_, k)| *k > 0).count();
        assert!(fast_files >= 8, "fast path took only {accepted:?}");
        // Every one of the generated sample's 41 lines in its first 2 MB.
        assert!(
            accepted
                .iter()
                .any(|(f, k)| f.ends_with("sample-data/otlp/traces.jsonl.gz") && *k >= 41),
            "{accepted:?}"
        );
    }

    /// A span as OTLP/JSON exporters write it: the fast path's subset.
    const CANONICAL: &str = r#"{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","parentSpanId":"a0df9075ed8a90e8","traceState":"ot=th:8","name":"GET /\u00e9x \"q\"","kind":2,"startTimeUnixNano":"1000","endTimeUnixNano":2500,"droppedAttributesCount":0,"status":{"code":2,"message":"b\"oom"},"attributes":[{"key":"d","value":{"doubleValue":0.1}},{"key":"i","value":{"intValue":"-42"}},{"key":"n","value":{"intValue":7}},{"key":"b","value":{"boolValue":false}},{"key":"e","value":{}},{"key":"http.route","value":{"stringValue":"/x/{id}"}}],"events":[{"name":"start","timeUnixNano":"1100"},{"name":"exception","attributes":[{"key":"exception.type","value":{"stringValue":"E"}},{"key":"exception.message","value":{"stringValue":"line1\nline2"}}]},{"name":"exception","attributes":[]}],"links":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175","attributes":[]}],"flags":257}"#;

    #[test]
    fn the_canonical_span_takes_the_fast_path_and_decodes_as_with_serde_json_alone() {
        let line = one(&format!("{CANONICAL},{GOOD}"));
        let ((), fast) =
            fast::tests::accepted_during(|| check_both_parsers("canonical", line.as_bytes()));
        assert_eq!(fast, 2, "lines and document both on the fast path");
        let d = decode_lines(line.as_bytes(), 1, false, "f", &opts());
        let b = &d.batches[0].0;
        let col = |n: &str| b.column_by_name(n).unwrap().clone();
        let names = col("span_name");
        let names = names.as_dictionary::<Int32Type>();
        let values = names.values().as_string::<i32>();
        assert_eq!(
            values.value(names.keys().value(0) as usize),
            "GET /éx \"q\""
        );
        let exc = col("exception_message");
        assert_eq!(exc.as_string::<i32>().value(0), "line1\nline2");
    }

    /// `reuse` hands on the allocation: what keeps the fast path's attribute pairs from being
    /// reallocated for every object.
    #[test]
    fn reused_pairs_keep_their_allocation() {
        let text = String::from("k");
        let mut v: Vec<(&str, &str)> = Vec::with_capacity(64);
        v.push((&text, &text));
        let at = v.as_ptr() as usize;
        let w: Vec<(&'static str, &'static str)> = reuse(v);
        assert!(w.is_empty());
        assert!(w.capacity() >= 64);
        assert_eq!(w.as_ptr() as usize, at);
    }

    /// The fast path finds where a line ends as it scans (`decode_line_fast`): lines as the
    /// line reader cuts them, whatever precedes the next newline.
    #[test]
    fn a_line_ends_at_its_newline_whatever_the_scan_meets() {
        let line = one(&format!("{CANONICAL},{GOOD}"));
        let split = line.replacen(r#""resourceSpans":"#, "\"resourceSpans\":\n", 1);
        // Each case with the number of its lines the fast path takes: every whole line, and
        // none of the lines it must refuse (a newline inside, junk or a second object after,
        // a cut line).
        let cases = [
            (format!("{line}\r\n{line} \t\x0c\n{line}"), 3),
            (format!("{split}\n{line}\n"), 1),
            (format!("{line}x\n{line}\n"), 1),
            (format!("{line}{line}\n{line}"), 1),
            (format!("\n\n{line}\n\n \n"), 1),
            (format!("{line}\n{}", &line[..line.len() / 2]), 1),
        ];
        for (i, (case, want)) in cases.iter().enumerate() {
            check_both_parsers(&format!("case {i}"), case.as_bytes());
            let (_, fast) = fast::tests::accepted_during(|| {
                decode_lines(case.as_bytes(), 1, true, "f", &opts())
            });
            assert_eq!(fast, *want, "case {i}: lines the fast path took");
        }
    }

    /// A resource cached from a pretty-printed document holds a newline; in JSON lines the
    /// same bytes span two lines, so they must not match it: both lines are cut, as with
    /// serde_json alone.
    #[test]
    fn a_resource_cached_from_a_document_does_not_join_two_lines() {
        let text = one(GOOD).replacen(r#"}]},"scopeSpans""#, "}]\n},\"scopeSpans\"", 1);
        let o = opts();
        let doc = decode_document(text.as_bytes(), 1, "f", &o);
        assert_eq!(rows(&doc), 1, "the document is valid JSON");
        let lines = decode_lines(text.as_bytes(), 1, false, "f", &o);
        let serde =
            parse::tests::with_serde_only(|| decode_lines(text.as_bytes(), 1, false, "f", &o));
        assert_eq!(rows(&lines), 0);
        assert_same_as_serde("two lines after the document", &lines, &serde);
    }

    /// A line of `n` resources `svc-0..` (each with `extra` attributes) of one span each.
    fn resources_line(n: usize, first: usize, scope: &str) -> String {
        let entries: Vec<String> = (first..first + n)
            .map(|i| {
                format!(
                    r#"{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"svc-{i}"}}}},{{"key":"service.version","value":{{"stringValue":"1.{i}"}}}},{{"key":"app.version","value":{{"stringValue":"9.{i}"}}}}]}},"scopeSpans":[{{"scope":{{"name":"{scope}"}},"spans":[{GOOD}]}},{{"scope":{{"name":"other"}},"spans":[{GOOD},{GOOD}]}}]}}"#
                )
            })
            .collect();
        format!(r#"{{"resourceSpans":[{}]}}"#, entries.join(","))
    }

    #[test]
    fn cached_resources_decode_as_with_serde_json_alone() {
        // Lines repeating resources (hits), new ones among them, other scope names.
        let mut text = String::new();
        for (n, first, scope) in [
            (3, 0, "s"),
            (3, 0, "s"),
            (4, 1, "t"),
            (2, 2, ""),
            (3, 0, "s"),
        ] {
            text.push_str(&resources_line(n, first, scope));
            text.push('\n');
        }
        let ((), hits) =
            fast::tests::cache_hits_during(|| check_both_parsers("repeats", text.as_bytes()));
        assert!(hits >= 10, "{hits} cache hits");
        // The same bytes under another identity configuration resolve another version.
        let mut other = opts();
        other.identity = Arc::new(crate::model::identity::IdentityConfig {
            version_keys: vec!["app.version".into()],
            ..Default::default()
        });
        let line = resources_line(2, 0, "s");
        for o in [opts(), other.clone(), opts()] {
            let d = decode_lines(line.as_bytes(), 1, false, "f", &o);
            let s =
                parse::tests::with_serde_only(|| decode_lines(line.as_bytes(), 1, false, "f", &o));
            assert_same_as_serde("config change", &d, &s);
        }
        let d = decode_lines(line.as_bytes(), 1, false, "f", &other);
        let v = d.batches[0]
            .0
            .column_by_name("service_version")
            .unwrap()
            .clone();
        let v = arrow::compute::cast(&v, &arrow::datatypes::DataType::Utf8).unwrap();
        assert_eq!(v.as_string::<i32>().value(0), "9.0");
        // More resources than the cache holds, in one object and across objects.
        let many = format!(
            "{}\n{}\n",
            resources_line(fast::CACHE_ENTRIES + 50, 0, "s"),
            resources_line(fast::CACHE_ENTRIES + 50, 0, "s")
        );
        check_both_parsers("cache full", many.as_bytes());
    }

    proptest! {
        #[test]
        fn mutated_canonical_lines_decode_as_with_serde_json_alone(
            edits in prop::collection::vec((0usize..3000, any::<u8>(), 0u8..3), 1..4),
        ) {
            let mut line = one(&format!("{CANONICAL},{GOOD}")).into_bytes();
            for (at, b, op) in edits {
                let i = at % (line.len() + 1);
                match op {
                    0 if i < line.len() => line[i] = b,
                    1 => line.insert(i, b),
                    _ if i < line.len() => { line.remove(i); }
                    _ => {}
                }
            }
            line.push(b'\n');
            line.extend_from_slice(one(CANONICAL).as_bytes());
            check_both_parsers("mutated canonical line", &line);
        }

        #[test]
        fn generated_canonical_spans_decode_as_with_serde_json_alone(
            spans in prop::collection::vec(canonical_span(), 1..6),
            pretty in any::<bool>(),
        ) {
            let line = one(&spans.join(","));
            let text = if pretty {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                serde_json::to_string_pretty(&v).unwrap()
            } else {
                line.clone()
            };
            let ((), fast) = fast::tests::accepted_during(|| check_both_parsers("generated", text.as_bytes()));
            // Lines: only the compact form is one line; the document is decoded either way.
            prop_assert!(fast >= 1, "fast path refused {}", text);
        }
    }

    fn json_string() -> impl Strategy<Value = String> {
        "[a-z\"\\\n\t\u{1}\u{e9}\u{1F600}/ ]{0,10}".prop_map(|s| serde_json::to_string(&s).unwrap())
    }

    fn any_value() -> impl Strategy<Value = String> {
        prop_oneof![
            json_string().prop_map(|s| format!(r#"{{"stringValue":{s}}}"#)),
            any::<i64>().prop_map(|i| format!(r#"{{"intValue":"{i}"}}"#)),
            // Digit strings that are not the shortest form render as the number they hold.
            (0u32..3, -999i64..999).prop_map(|(z, i)| format!(
                r#"{{"intValue":"{}{}{}"}}"#,
                if i < 0 { "-" } else { "" },
                "0".repeat(z as usize),
                i.unsigned_abs()
            )),
            Just(r#"{"intValue":"-0"}"#.to_string()),
            any::<i64>().prop_map(|i| format!(r#"{{"intValue":{i}}}"#)),
            any::<bool>().prop_map(|b| format!(r#"{{"boolValue":{b}}}"#)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| format!(
                    r#"{{"doubleValue":{}}}"#,
                    serde_json::to_string(&f).unwrap()
                )),
            Just("{}".to_string()),
        ]
    }

    fn key_values() -> impl Strategy<Value = String> {
        prop::collection::vec((json_string(), prop::option::of(any_value())), 0..5).prop_map(
            |kvs| {
                let items: Vec<String> = kvs
                    .into_iter()
                    .map(|(k, v)| match v {
                        Some(v) => format!(r#"{{"key":{k},"value":{v}}}"#),
                        None => format!(r#"{{"key":{k}}}"#),
                    })
                    .collect();
                format!("[{}]", items.join(","))
            },
        )
    }

    /// Spans in the fast path's subset, fields in random order, optional fields present or not.
    fn canonical_span() -> impl Strategy<Value = String> {
        let hex = |n: usize| {
            prop::collection::vec(any::<u8>(), n)
                .prop_filter("non-zero", |b| b.iter().any(|&x| x != 0))
                .prop_map(|b| to_hex(&b))
        };
        (
            (
                hex(16),
                hex(8),
                prop::option::of(prop_oneof![
                    Just(String::new()),
                    Just("0000000000000000".to_string()),
                    hex(8)
                ]),
            ),
            (
                0i64..1 << 60,
                0i64..1 << 40,
                any::<bool>(),
                prop::option::of(0i32..6),
            ),
            (
                prop::option::of(json_string()),
                prop::option::of(json_string()),
            ),
            (
                prop::option::of(key_values()),
                prop::option::of((prop::option::of(0i32..3), prop::option::of(json_string()))),
            ),
            (prop::option::of(prop::collection::vec(
                (
                    prop_oneof![Just("\"exception\"".to_string()), json_string()],
                    prop::option::of(key_values()),
                ),
                0..3,
            ))),
            any::<u64>(),
        )
            .prop_map(
                |(
                    (t, s, p),
                    (start, dur, num_times, kind),
                    (name, ts),
                    (attrs, status),
                    events,
                    order,
                )| {
                    let time = |v: i64| {
                        if num_times {
                            v.to_string()
                        } else {
                            format!("\"{v}\"")
                        }
                    };
                    let mut fields = vec![
                        format!(r#""traceId":"{t}""#),
                        format!(r#""spanId":"{s}""#),
                        format!(r#""startTimeUnixNano":{}"#, time(start)),
                        format!(r#""endTimeUnixNano":{}"#, time(start + dur)),
                    ];
                    if let Some(p) = p {
                        fields.push(format!(r#""parentSpanId":"{p}""#));
                    }
                    if let Some(k) = kind {
                        fields.push(format!(r#""kind":{k}"#));
                    }
                    if let Some(n) = name {
                        fields.push(format!(r#""name":{n}"#));
                    }
                    if let Some(ts) = ts {
                        fields.push(format!(r#""traceState":{ts}"#));
                    }
                    if let Some(a) = attrs {
                        fields.push(format!(r#""attributes":{a}"#));
                    }
                    if let Some((code, msg)) = status {
                        let mut st = Vec::new();
                        if let Some(c) = code {
                            st.push(format!(r#""code":{c}"#));
                        }
                        if let Some(m) = msg {
                            st.push(format!(r#""message":{m}"#));
                        }
                        fields.push(format!(r#""status":{{{}}}"#, st.join(",")));
                    }
                    if let Some(evs) = events {
                        let evs: Vec<String> = evs
                            .into_iter()
                            .map(|(n, a)| match a {
                                Some(a) => format!(r#"{{"name":{n},"attributes":{a}}}"#),
                                None => format!(r#"{{"name":{n}}}"#),
                            })
                            .collect();
                        fields.push(format!(r#""events":[{}]"#, evs.join(",")));
                    }
                    // A deterministic shuffle from the drawn seed.
                    let mut seed = order;
                    for i in (1..fields.len()).rev() {
                        seed = seed
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        fields.swap(i, (seed >> 33) as usize % (i + 1));
                    }
                    format!("{{{}}}", fields.join(","))
                },
            )
    }

    proptest! {
        #[test]
        fn mutated_lines_decode_as_with_serde_json_alone(
            edits in prop::collection::vec((0usize..2000, any::<u8>(), 0u8..3), 1..4),
        ) {
            let span = r#"{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","parentSpanId":"","name":"GET /\u00e9x","kind":"SPAN_KIND_SERVER","startTimeUnixNano":"1000","endTimeUnixNano":2500,"status":{"code":2,"message":"b\"oom"},"attributes":[{"key":"d","value":{"doubleValue":0.1}},{"key":"i","value":{"intValue":"-42"}},{"key":"a","value":{"arrayValue":{"values":[{"boolValue":true},{"kvlistValue":{"values":[{"key":"k","value":{"bytesValue":"AAE="}}]}}]}}}],"events":[{"name":"exception","attributes":[{"key":"exception.type","value":{"stringValue":"E"}}]}]}"#;
            let mut line = one(&format!("{span},{GOOD}")).into_bytes();
            for (at, b, op) in edits {
                let i = at % (line.len() + 1);
                match op {
                    0 if i < line.len() => line[i] = b,
                    1 => line.insert(i, b),
                    _ if i < line.len() => { line.remove(i); }
                    _ => {}
                }
            }
            line.push(b'\n');
            line.extend_from_slice(one(GOOD).as_bytes());
            check_both_parsers("mutated line", &line);
        }
    }

    proptest! {
        #[test]
        fn integer_strings_parse_exactly(v in any::<i64>()) {
            prop_assert_eq!(parse_int_str(&v.to_string()), JInt::V(v));
            let n: JInt = serde_json::from_str(&v.to_string()).unwrap();
            prop_assert_eq!(n, JInt::V(v));
        }

        #[test]
        fn integers_beyond_i64_are_out_of_range(v in (i64::MAX as u64 + 1)..=u64::MAX) {
            prop_assert_eq!(parse_int_str(&v.to_string()), JInt::OutOfRange);
            let n: JInt = serde_json::from_str(&v.to_string()).unwrap();
            prop_assert_eq!(n, JInt::OutOfRange);
        }

        #[test]
        fn doubles_round_trip_through_strings(v in any::<f64>()) {
            let s = if v.is_nan() { "NaN".to_string() } else if v.is_infinite() {
                if v > 0.0 { "Infinity".into() } else { "-Infinity".into() }
            } else { format!("{v:e}") };
            let got = parse_f64_str(&s).unwrap();
            prop_assert!(got == v || (got.is_nan() && v.is_nan()));
        }

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let d = decode_lines(&bytes, 1, true, "f", &opts());
            prop_assert_eq!(d.quality.records_read, d.quality.records_ingested + d.quality.records_rejected);
        }

        #[test]
        fn mutated_valid_lines_never_panic(cut in 0usize..300, b in any::<u8>()) {
            let mut line = one(GOOD).into_bytes();
            let i = cut % line.len();
            line[i] = b;
            let _ = decode_lines(&line, 1, false, "f", &opts());
            let _ = decode_document(&line, 1, "f", &opts());
        }
    }
}
