//! The simulated spans as rows of canalyst's canonical `spans` table (design §2), built with
//! the same [`SpansBuilder`] ingest uses, so the Parquet file is what ingesting the JSON file
//! would produce (same `source_file`, `source_line` = JSON line number).

use super::resource::{resource_attributes, scope};
use super::simulate::{span_attributes, status_code, ResourceGroup, SimLine, RESOURCES};
use crate::model::identity::IdentityConfig;
use crate::model::spans::{ResourceInfo, SpanRecord, SpansBuilder};
use std::sync::Arc;

/// Resolved resources and the identity rules, shared by every chunk.
#[derive(Debug, Clone)]
pub struct TableContext {
    identity: Arc<IdentityConfig>,
    resources: Vec<ResourceInfo>,
    source_file: String,
}

impl TableContext {
    /// Context for spans attributed to `source_file` (the JSON file's name).
    pub fn new(identity: Arc<IdentityConfig>, source_file: &str) -> Self {
        let resources = (0..RESOURCES)
            .map(|rid| {
                let attrs = resource_attributes(rid)
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.render()))
                    .collect();
                ResourceInfo::from_attributes(attrs, Some(scope(rid).0.to_string()), &identity)
            })
            .collect();
        Self {
            identity,
            resources,
            source_file: source_file.to_string(),
        }
    }

    /// A builder for one chunk of lines.
    pub fn builder(&self) -> SpansBuilder {
        SpansBuilder::new(self.identity.clone(), &self.source_file)
    }

    /// Appends the spans of `line` (grouped as [`SimLine::by_resource`]) in output order.
    pub fn append_line(&self, b: &mut SpansBuilder, line: &SimLine, groups: &[ResourceGroup]) {
        for (rid, spans) in groups {
            let res = &self.resources[*rid];
            for &(t, i) in spans {
                let trace = &line.traces[t];
                let sp = &trace.spans[i];
                let exception = sp.exception();
                let record = SpanRecord {
                    trace_id: trace.trace_id,
                    span_id: sp.span_id,
                    parent_span_id: sp.parent_span_id(trace),
                    name: sp.name.to_string(),
                    kind: sp.kind,
                    start_time_unix_nano: sp.start_ns,
                    end_time_unix_nano: sp.end_ns,
                    status_code: status_code(sp),
                    status_message: sp.error.as_ref().map(|e| e.message.to_string()),
                    trace_state: trace.tracestate.map(str::to_string),
                    attributes: span_attributes(sp)
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v.render()))
                        .collect(),
                    exception_type: exception.map(|e| e.0.to_string()),
                    exception_message: exception.map(|e| e.1.to_string()),
                    source_line: line.line_no as i64,
                };
                b.append(res, &record);
            }
        }
    }
}
