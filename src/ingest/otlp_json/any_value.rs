//! Rendering attribute values (`AnyValue`) to strings, the [`SpanRecord`] convention.
//!
//! [`SpanRecord`]: crate::model::spans::SpanRecord

use super::document::*;
use super::scalars::*;
use crate::model::ids::to_hex;
use base64::Engine as _;
use std::fmt::Write as _;

/// Renders a double as the canonical string form: Rust's shortest round-trip `Display`
/// (`NaN`, `inf`, `-inf` for the non-finite values).
pub(super) fn push_f64(out: &mut String, v: f64) {
    let _ = write!(out, "{v}");
}

pub(super) fn push_json_str(out: &mut String, s: &str) {
    // serde_json's escaping of a &str cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// Decodes a base64 `bytesValue` to lower-case hex; `None` when it is not base64.
pub(super) fn bytes_to_hex(s: &str) -> Option<String> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()
        .map(|b| to_hex(&b))
}

/// Renders `v` as a plain string (top-level attribute value). Returns the first problem found.
pub(super) fn render_value(v: &AnyValue, out: &mut String) -> Option<&'static str> {
    match v {
        AnyValue::Empty => None,
        AnyValue::Str(JStr::S(s)) => {
            out.push_str(s);
            None
        }
        AnyValue::Bool(JBool::V(b)) => {
            out.push_str(if *b { "true" } else { "false" });
            None
        }
        AnyValue::Int(JInt::V(i)) => {
            let _ = write!(out, "{i}");
            None
        }
        AnyValue::Double(JF64::V(d)) => {
            push_f64(out, *d);
            None
        }
        AnyValue::Bytes(JStr::S(s)) => match bytes_to_hex(s) {
            Some(h) => {
                out.push_str(&h);
                None
            }
            None => Some("bytes that are not base64"),
        },
        AnyValue::Array(_) | AnyValue::Kv(_) => render_json(v, out),
        other => problem_of(other),
    }
}

/// The problem of a value that did not decode (`None` for good values).
pub(super) fn problem_of(v: &AnyValue) -> Option<&'static str> {
    match v {
        AnyValue::Str(JStr::Wrong(w)) | AnyValue::Bytes(JStr::Wrong(w)) => Some(w),
        AnyValue::Bool(JBool::Wrong(w)) | AnyValue::Double(JF64::Wrong(w)) => Some(w),
        AnyValue::Int(JInt::Wrong(w)) | AnyValue::Wrong(w) => Some(w),
        AnyValue::Int(JInt::OutOfRange) => Some("an integer beyond 64 bits"),
        _ => None,
    }
}

/// Renders `v` as compact JSON (inside arrays and kvlists, and for them at top level).
/// Non-finite doubles become the proto3 JSON strings `"NaN"`, `"Infinity"`, `"-Infinity"`;
/// values that did not decode become `null`.
pub(super) fn render_json(v: &AnyValue, out: &mut String) -> Option<&'static str> {
    match v {
        AnyValue::Str(JStr::S(s)) => push_json_str(out, s),
        AnyValue::Bool(JBool::V(b)) => out.push_str(if *b { "true" } else { "false" }),
        AnyValue::Int(JInt::V(i)) => {
            let _ = write!(out, "{i}");
        }
        AnyValue::Double(JF64::V(d)) if d.is_nan() => out.push_str("\"NaN\""),
        AnyValue::Double(JF64::V(d)) if *d == f64::INFINITY => out.push_str("\"Infinity\""),
        AnyValue::Double(JF64::V(d)) if *d == f64::NEG_INFINITY => out.push_str("\"-Infinity\""),
        AnyValue::Double(JF64::V(d)) => push_f64(out, *d),
        AnyValue::Bytes(JStr::S(s)) => match bytes_to_hex(s) {
            Some(h) => push_json_str(out, &h),
            None => {
                push_json_str(out, s);
                return Some("bytes that are not base64");
            }
        },
        AnyValue::Array(a) => {
            let mut problem = None;
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                problem = problem.or(render_json(e, out));
            }
            out.push(']');
            return problem;
        }
        AnyValue::Kv(kv) => {
            let mut problem = None;
            out.push('{');
            for (i, e) in kv.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match &e.key {
                    Some(JStr::S(k)) => push_json_str(out, k),
                    _ => push_json_str(out, ""),
                }
                out.push(':');
                match &e.value {
                    Some(v) => problem = problem.or(render_json(v, out)),
                    None => out.push_str("null"),
                }
            }
            out.push('}');
            return problem;
        }
        AnyValue::Empty => out.push_str("null"),
        other => {
            out.push_str("null");
            return problem_of(other);
        }
    }
    None
}
