//! OTLP protobuf traces as the OpenTelemetry Collector's file exporter writes them with
//! `format: proto` (`generate --protobuf`): per output line one `TracesData` message, framed
//! by its 4-byte big-endian length (opentelemetry-collector-contrib `exporter/fileexporter`,
//! "File format"), with the same resources, spans, attributes (typed as in the JSON file),
//! exception events, statuses and trace states as [`super::otlp_json`] writes.

use super::resource::{resource_attributes, scope, SCHEMA_URL};
use super::simulate::{
    exception_attributes, span_attributes, status_code, Attr, AttrValue, ResourceGroup, SimLine,
    RESOURCES,
};
use crate::ingest::otlp_proto::messages::{
    any_value, span, AnyValue, InstrumentationScope, KeyValue, Resource, ResourceSpans, ScopeSpans,
    Span, Status, TracesData,
};
use prost::Message as _;

fn key_values(attrs: &[Attr]) -> Vec<KeyValue> {
    attrs
        .iter()
        .map(|(k, v)| KeyValue {
            key: k.to_string(),
            value: Some(AnyValue {
                value: Some(match v {
                    AttrValue::Str(s) => any_value::Value::StringValue(s.to_string()),
                    AttrValue::Int(i) => any_value::Value::IntValue(*i),
                    AttrValue::Bool(b) => any_value::Value::BoolValue(*b),
                }),
            }),
        })
        .collect()
}

/// The resource and scope envelopes, built once.
#[derive(Debug, Clone)]
pub struct OtlpProtoWriter {
    envelopes: Vec<(Resource, InstrumentationScope)>,
}

impl Default for OtlpProtoWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl OtlpProtoWriter {
    /// Builds the resource and scope of every resource id.
    pub fn new() -> Self {
        let envelopes = (0..RESOURCES)
            .map(|rid| {
                let (name, version) = scope(rid);
                (
                    Resource {
                        attributes: key_values(&resource_attributes(rid)),
                        ..Default::default()
                    },
                    InstrumentationScope {
                        name: name.to_string(),
                        version: version.to_string(),
                        ..Default::default()
                    },
                )
            })
            .collect();
        Self { envelopes }
    }

    /// Appends `line` as one framed `TracesData` message to `out`; `groups` is
    /// [`SimLine::by_resource`] (the JSON writer's order). A line head sampling emptied
    /// writes nothing (a zero-length frame would carry no spans and no line number).
    pub fn write_line(&self, line: &SimLine, groups: &[ResourceGroup], out: &mut Vec<u8>) {
        if groups.is_empty() {
            return;
        }
        let resource_spans = groups
            .iter()
            .map(|(rid, spans)| {
                let (resource, scope) = &self.envelopes[*rid];
                let spans = spans
                    .iter()
                    .map(|&(t, i)| {
                        let trace = &line.traces[t];
                        let sp = &trace.spans[i];
                        let err = sp.error.as_ref();
                        Span {
                            trace_id: trace.trace_id.to_vec(),
                            span_id: sp.span_id.to_vec(),
                            trace_state: trace.tracestate.unwrap_or_default().to_string(),
                            parent_span_id: sp
                                .parent_span_id(trace)
                                .map_or_else(Vec::new, |p| p.to_vec()),
                            name: sp.name.to_string(),
                            kind: sp.kind,
                            start_time_unix_nano: sp.start_ns as u64,
                            end_time_unix_nano: sp.end_ns as u64,
                            attributes: key_values(&span_attributes(sp)),
                            events: err
                                .and_then(|e| e.exception_at)
                                .map(|at| span::Event {
                                    time_unix_nano: at as u64,
                                    name: "exception".into(),
                                    attributes: key_values(&exception_attributes(sp)),
                                    ..Default::default()
                                })
                                .into_iter()
                                .collect(),
                            status: Some(Status {
                                message: err.map(|e| e.message.to_string()).unwrap_or_default(),
                                code: status_code(sp),
                            }),
                            ..Default::default()
                        }
                    })
                    .collect();
                ResourceSpans {
                    resource: Some(resource.clone()),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(scope.clone()),
                        spans,
                        ..Default::default()
                    }],
                    schema_url: SCHEMA_URL.to_string(),
                }
            })
            .collect();
        let m = TracesData { resource_spans };
        out.extend_from_slice(&(m.encoded_len() as u32).to_be_bytes());
        m.encode(out)
            .expect("Vec<u8> grows, so encoding cannot run out of space");
    }
}
