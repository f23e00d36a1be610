//! The OTLP/JSON document model walked by serde: `resourceSpans → scopeSpans → spans`, with
//! only the fields canalyst keeps (serde skips the rest without building them), and the
//! `AnyValue` attribute value type.

use super::scalars::*;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

#[derive(Deserialize)]
pub(super) struct ResourceSpans<'a> {
    #[serde(borrow, default)]
    pub(super) resource: Option<Resource<'a>>,
    #[serde(
        borrow,
        default,
        rename = "scopeSpans",
        alias = "scope_spans",
        alias = "instrumentationLibrarySpans",
        alias = "instrumentation_library_spans"
    )]
    pub(super) scope_spans: Option<Vec<ScopeSpans<'a>>>,
}

#[derive(Deserialize)]
pub(super) struct Resource<'a> {
    #[serde(borrow, default)]
    pub(super) attributes: Option<Vec<KeyValue<'a>>>,
}

#[derive(Deserialize)]
pub(super) struct ScopeSpans<'a> {
    #[serde(
        borrow,
        default,
        alias = "instrumentationLibrary",
        alias = "instrumentation_library"
    )]
    pub(super) scope: Option<Scope<'a>>,
    #[serde(borrow, default)]
    pub(super) spans: Option<Vec<Span<'a>>>,
}

#[derive(Deserialize)]
pub(super) struct Scope<'a> {
    #[serde(borrow, default)]
    pub(super) name: Option<JStr<'a>>,
}

#[derive(Deserialize)]
pub(super) struct Span<'a> {
    #[serde(borrow, default, rename = "traceId", alias = "trace_id")]
    pub(super) trace_id: Option<JStr<'a>>,
    #[serde(borrow, default, rename = "spanId", alias = "span_id")]
    pub(super) span_id: Option<JStr<'a>>,
    #[serde(borrow, default, rename = "parentSpanId", alias = "parent_span_id")]
    pub(super) parent_span_id: Option<JStr<'a>>,
    #[serde(borrow, default, rename = "traceState", alias = "trace_state")]
    pub(super) trace_state: Option<JStr<'a>>,
    #[serde(borrow, default)]
    pub(super) name: Option<JStr<'a>>,
    #[serde(borrow, default)]
    pub(super) kind: Option<JEnum<'a>>,
    #[serde(default, rename = "startTimeUnixNano", alias = "start_time_unix_nano")]
    pub(super) start: Option<JInt>,
    #[serde(default, rename = "endTimeUnixNano", alias = "end_time_unix_nano")]
    pub(super) end: Option<JInt>,
    #[serde(borrow, default)]
    pub(super) attributes: Option<Vec<KeyValue<'a>>>,
    #[serde(borrow, default)]
    pub(super) events: Option<Vec<Event<'a>>>,
    #[serde(borrow, default)]
    pub(super) status: Option<Status<'a>>,
}

#[derive(Deserialize)]
pub(super) struct Status<'a> {
    #[serde(borrow, default)]
    pub(super) message: Option<JStr<'a>>,
    #[serde(borrow, default)]
    pub(super) code: Option<JEnum<'a>>,
}

#[derive(Deserialize)]
pub(super) struct Event<'a> {
    #[serde(borrow, default)]
    pub(super) name: Option<JStr<'a>>,
    #[serde(borrow, default)]
    pub(super) attributes: Option<Vec<KeyValue<'a>>>,
}

#[derive(Deserialize)]
pub(super) struct KeyValue<'a> {
    #[serde(borrow, default)]
    pub(super) key: Option<JStr<'a>>,
    #[serde(borrow, default)]
    pub(super) value: Option<AnyValue<'a>>,
}

/// An OTLP `AnyValue`: a compact enum (not a struct of seven options) because attribute
/// values are the bulk of a span and serde moves them by value several times.
#[derive(Default)]
pub(super) enum AnyValue<'a> {
    #[default]
    Empty,
    Str(JStr<'a>),
    Bool(JBool),
    Int(JInt),
    Double(JF64),
    Bytes(JStr<'a>),
    Array(Vec<AnyValue<'a>>),
    Kv(Vec<KeyValue<'a>>),
    Wrong(&'static str),
}

/// Keys of an `AnyValue` object (lowerCamelCase or snake_case).
pub(super) enum ValueKey {
    Str,
    Bool,
    Int,
    Double,
    Bytes,
    Array,
    Kv,
    Other,
}

impl<'de> Deserialize<'de> for ValueKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ValueKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an AnyValue key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ValueKey, E> {
                Ok(match v {
                    "stringValue" | "string_value" => ValueKey::Str,
                    "boolValue" | "bool_value" => ValueKey::Bool,
                    "intValue" | "int_value" => ValueKey::Int,
                    "doubleValue" | "double_value" => ValueKey::Double,
                    "bytesValue" | "bytes_value" => ValueKey::Bytes,
                    "arrayValue" | "array_value" => ValueKey::Array,
                    "kvlistValue" | "kvlist_value" => ValueKey::Kv,
                    _ => ValueKey::Other,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for AnyValue<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = AnyValue<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an AnyValue object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyValue<'a>, A::Error> {
                // A oneof: the first key that carries a value wins; unknown keys are skipped.
                let mut out = AnyValue::Empty;
                while let Some(k) = map.next_key::<ValueKey>()? {
                    let v = match k {
                        ValueKey::Str => map.next_value::<Option<JStr<'a>>>()?.map(AnyValue::Str),
                        ValueKey::Bool => map.next_value::<Option<JBool>>()?.map(AnyValue::Bool),
                        ValueKey::Int => map.next_value::<Option<JInt>>()?.map(AnyValue::Int),
                        ValueKey::Double => map.next_value::<Option<JF64>>()?.map(AnyValue::Double),
                        ValueKey::Bytes => {
                            map.next_value::<Option<JStr<'a>>>()?.map(AnyValue::Bytes)
                        }
                        ValueKey::Array => map
                            .next_value::<Option<ArrayValue<'a>>>()?
                            .map(|a| AnyValue::Array(a.values.unwrap_or_default())),
                        ValueKey::Kv => map
                            .next_value::<Option<KvList<'a>>>()?
                            .map(|a| AnyValue::Kv(a.values.unwrap_or_default())),
                        ValueKey::Other => {
                            map.next_value::<IgnoredAny>()?;
                            None
                        }
                    };
                    if let (AnyValue::Empty, Some(v)) = (&out, v) {
                        out = v;
                    }
                }
                Ok(out)
            }
            fn visit_unit<E: de::Error>(self) -> Result<AnyValue<'a>, E> {
                Ok(AnyValue::Empty)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<AnyValue<'a>, A::Error> {
                drain_seq(seq)?;
                Ok(AnyValue::Wrong("an array"))
            }
            fn visit_bool<E: de::Error>(self, _v: bool) -> Result<AnyValue<'a>, E> {
                Ok(AnyValue::Wrong("a boolean"))
            }
            fn visit_i64<E: de::Error>(self, _v: i64) -> Result<AnyValue<'a>, E> {
                Ok(AnyValue::Wrong("a number"))
            }
            fn visit_u64<E: de::Error>(self, _v: u64) -> Result<AnyValue<'a>, E> {
                Ok(AnyValue::Wrong("a number"))
            }
            fn visit_f64<E: de::Error>(self, _v: f64) -> Result<AnyValue<'a>, E> {
                Ok(AnyValue::Wrong("a number"))
            }
            fn visit_str<E: de::Error>(self, _v: &str) -> Result<AnyValue<'a>, E> {
                Ok(AnyValue::Wrong("a string instead of an AnyValue object"))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
pub(super) struct ArrayValue<'a> {
    #[serde(borrow, default)]
    pub(super) values: Option<Vec<AnyValue<'a>>>,
}

#[derive(Deserialize)]
pub(super) struct KvList<'a> {
    #[serde(borrow, default)]
    pub(super) values: Option<Vec<KeyValue<'a>>>,
}
