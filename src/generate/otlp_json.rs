//! OTLP/JSON lines as the OpenTelemetry Collector's file exporter writes them.
//!
//! One line per batch: `{"resourceSpans":[…]}` with one entry per resource in the batch, each
//! with one `scopeSpans`. Encoding per the OTLP/JSON rules of the OTLP specification: field
//! names in lowerCamelCase, trace and span ids as lower-case hex, 64-bit integers
//! (`*UnixNano`, `intValue`) as decimal strings, enums (`kind`, `status.code`) as integers,
//! fields with default values omitted. Written by hand because it is the hot path of 10M-span
//! runs and the layout is fixed.

use super::resource::{resource_attributes, scope, SCHEMA_URL};
use super::simulate::{
    exception_attributes, span_attributes, status_code, AttrValue, ResourceGroup, SimLine,
    RESOURCES,
};
use std::io::Write;

/// Pre-rendered resource envelopes, one per resource.
#[derive(Debug, Clone)]
pub struct OtlpJsonWriter {
    prefixes: Vec<Vec<u8>>,
}

impl Default for OtlpJsonWriter {
    fn default() -> Self {
        Self::new()
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex(out: &mut Vec<u8>, bytes: &[u8]) {
    for b in bytes {
        out.push(HEX[(b >> 4) as usize]);
        out.push(HEX[(b & 15) as usize]);
    }
}

/// Writes `s` as a JSON string (RFC 8259 §7 escaping).
pub fn json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&s.as_bytes()[start..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&s.as_bytes()[start..]);
    out.push(b'"');
}

fn attributes(out: &mut Vec<u8>, attrs: &[(&'static str, AttrValue)]) {
    out.push(b'[');
    for (i, (k, v)) in attrs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        json_str(out, k);
        out.extend_from_slice(b",\"value\":{");
        match v {
            AttrValue::Str(s) => {
                out.extend_from_slice(b"\"stringValue\":");
                json_str(out, s);
            }
            AttrValue::Int(n) => {
                let _ = write!(out, "\"intValue\":\"{n}\"");
            }
            AttrValue::Bool(b) => {
                let _ = write!(out, "\"boolValue\":{b}");
            }
        }
        out.extend_from_slice(b"}}");
    }
    out.push(b']');
}

impl OtlpJsonWriter {
    /// Renders the resource and scope envelopes once.
    pub fn new() -> Self {
        let prefixes = (0..RESOURCES)
            .map(|rid| {
                let mut p = Vec::with_capacity(1024);
                p.extend_from_slice(b"{\"resource\":{\"attributes\":");
                attributes(&mut p, &resource_attributes(rid));
                let (name, version) = scope(rid);
                p.extend_from_slice(b"},\"scopeSpans\":[{\"scope\":{\"name\":");
                json_str(&mut p, name);
                p.extend_from_slice(b",\"version\":");
                json_str(&mut p, version);
                p.extend_from_slice(b"},\"spans\":[");
                p
            })
            .collect();
        Self { prefixes }
    }

    /// Appends `line` as one JSON object and a newline to `out`; `groups` is
    /// [`SimLine::by_resource`].
    pub fn write_line(&self, line: &SimLine, groups: &[ResourceGroup], out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"resourceSpans\":[");
        for (g, (rid, spans)) in groups.iter().enumerate() {
            if g > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&self.prefixes[*rid]);
            for (k, &(t, i)) in spans.iter().enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                let trace = &line.traces[t];
                let sp = &trace.spans[i];
                out.extend_from_slice(b"{\"traceId\":\"");
                hex(out, &trace.trace_id);
                out.extend_from_slice(b"\",\"spanId\":\"");
                hex(out, &sp.span_id);
                out.push(b'"');
                if let Some(ts) = trace.tracestate {
                    out.extend_from_slice(b",\"traceState\":");
                    json_str(out, ts);
                }
                if let Some(p) = sp.parent_span_id(trace) {
                    out.extend_from_slice(b",\"parentSpanId\":\"");
                    hex(out, &p);
                    out.push(b'"');
                }
                out.extend_from_slice(b",\"name\":");
                json_str(out, sp.name);
                let _ = write!(
                    out,
                    ",\"kind\":{},\"startTimeUnixNano\":\"{}\",\"endTimeUnixNano\":\"{}\",\"attributes\":",
                    sp.kind, sp.start_ns, sp.end_ns
                );
                attributes(out, &span_attributes(sp));
                let err = sp.error.as_ref();
                if let Some(at) = err.and_then(|e| e.exception_at) {
                    let _ = write!(
                        out,
                        ",\"events\":[{{\"timeUnixNano\":\"{at}\",\"name\":\"exception\",\"attributes\":"
                    );
                    attributes(out, &exception_attributes(sp));
                    out.extend_from_slice(b"}]");
                }
                match err {
                    Some(e) => {
                        out.extend_from_slice(b",\"status\":{\"message\":");
                        json_str(out, &e.message);
                        let _ = write!(out, ",\"code\":{}}}}}", status_code(sp));
                    }
                    None => out.extend_from_slice(b",\"status\":{}}"),
                }
            }
            out.extend_from_slice(b"]}]");
            out.extend_from_slice(b",\"schemaUrl\":");
            json_str(out, SCHEMA_URL);
            out.push(b'}');
        }
        out.extend_from_slice(b"]}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_json_strings() {
        let mut out = Vec::new();
        json_str(&mut out, "a\"b\\c\nd\te\u{1}f→");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#""a\"b\\c\nd\te\u0001f→""#
        );
    }

    #[test]
    fn renders_typed_attributes() {
        let mut out = Vec::new();
        attributes(
            &mut out,
            &[
                ("a", AttrValue::Str("x".into())),
                ("b", AttrValue::Int(-3)),
                ("c", AttrValue::Bool(true)),
            ],
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"[{"key":"a","value":{"stringValue":"x"}},{"key":"b","value":{"intValue":"-3"}},{"key":"c","value":{"boolValue":true}}]"#
        );
    }
}
