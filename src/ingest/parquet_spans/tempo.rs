//! Grafana Tempo vParquet4 and vParquet5 blocks (`data.parquet`): one row per trace, nested
//! `rs` (resource spans) → `ss` (scope spans) → `Spans`, attributes as typed lists
//! (grafana/tempo `tempodb/encoding/vparquet4/schema.go`, `vparquet5/schema.go`).
//!
//! Tempo moves some attributes out of the generic `Attrs` lists into dedicated columns; this
//! reader puts them back: `ServiceName` → `service.name`; in vParquet4 also the well-known
//! resource columns (`Cluster` → `cluster`, `K8sPodName` → `k8s.pod.name`, …) and the span
//! columns `HttpMethod`, `HttpUrl`, `HttpStatusCode` → `http.method`, `http.url`,
//! `http.status_code`; and the per-block dedicated columns (`DedicatedAttributes.String01` …),
//! whose attribute names are listed in the block's `meta.json` (`dedicatedColumns`, assigned
//! to slots in order, per scope and type).

use super::{
    bools, floats, ints, list_parts, strings, struct_child, Flavour, ResourceCache, RowSink,
};
use crate::ingest::otlp_proto::messages::{
    any_value, AnyValue, ArrayValue, KeyValue, KeyValueList,
};
use crate::ingest::otlp_proto::{json_string, render_any_value};
use crate::model::quality::IssueKind;
use crate::model::spans::SpanRecord;
use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Float64Array, Int64Array, RecordBatch,
    StringArray, StructArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Schema};
use base64::Engine as _;
use std::fmt::Write as _;
use std::path::Path;

/// vParquet5 attribute structs have `IsArray`; vParquet4 ones have `ValueType`.
pub(super) fn version(schema: &Schema) -> Option<Flavour> {
    // rs: list<struct<Resource: struct<Attrs: list<struct<Key, ValueType|IsArray, …>>>>>
    fn element(t: &DataType) -> Option<&DataType> {
        match t {
            DataType::List(f) | DataType::LargeList(f) => Some(f.data_type()),
            _ => None,
        }
    }
    fn field<'a>(t: &'a DataType, name: &str) -> Option<&'a DataType> {
        match t {
            DataType::Struct(fs) => fs.iter().find(|f| f.name() == name).map(|f| f.data_type()),
            _ => None,
        }
    }
    let rs = element(schema.field_with_name("rs").ok()?.data_type())?;
    let attr = element(field(field(rs, "Resource")?, "Attrs")?)?;
    if field(attr, "IsArray").is_some() {
        Some(Flavour::TempoV5)
    } else if field(attr, "ValueType").is_some() {
        Some(Flavour::TempoV4)
    } else {
        None
    }
}

/// Dedicated-column slots of a block: `(slot column, attribute name)` for resources and spans.
pub(super) struct Dedicated {
    resource: Vec<(String, String)>,
    span: Vec<(String, String)>,
}

impl Dedicated {
    /// Reads `meta.json` beside the data file. Without it, dedicated values are kept under
    /// generic names (`tempo.dedicated.span.String01`) and a note says so.
    pub(super) fn load(path: &Path, sink: &mut RowSink) -> Self {
        let meta = path.with_file_name("meta.json");
        let parsed = std::fs::read_to_string(&meta)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).map_err(|e| e.to_string()));
        let cols = match parsed {
            Ok(v) => v
                .get("dedicatedColumns")
                .and_then(|c| c.as_array())
                .cloned()
                .unwrap_or_default(),
            Err(e) => {
                sink.note(
                    IssueKind::UnsupportedFormat,
                    None,
                    "meta.json".into(),
                    format!(
                        "cannot read {} ({e}); dedicated attribute columns are kept under \
                         generic names tempo.dedicated.<scope>.<slot>",
                        meta.display()
                    ),
                );
                let generic = |scope: &str| {
                    (1..=10)
                        .map(|n| format!("String{n:02}"))
                        .chain((1..=5).map(|n| format!("Int{n:02}")))
                        .map(|slot| (slot.clone(), format!("tempo.dedicated.{scope}.{slot}")))
                        .collect()
                };
                return Self {
                    resource: generic("resource"),
                    span: generic("span"),
                };
            }
        };
        let mut d = Self {
            resource: Vec::new(),
            span: Vec::new(),
        };
        let (mut rs, mut ri, mut ss, mut si) = (0, 0, 0, 0);
        for c in cols {
            let Some(name) = c.get("n").and_then(|n| n.as_str()) else {
                continue;
            };
            let scope = c.get("s").and_then(|s| s.as_str()).unwrap_or("span");
            let is_int = c.get("t").and_then(|t| t.as_str()) == Some("int");
            let (list, counter) = match (scope, is_int) {
                ("resource", false) => (&mut d.resource, &mut rs),
                ("resource", true) => (&mut d.resource, &mut ri),
                ("span", false) => (&mut d.span, &mut ss),
                ("span", true) => (&mut d.span, &mut si),
                _ => continue,
            };
            *counter += 1;
            let slot = if is_int {
                format!("Int{:02}", *counter)
            } else {
                format!("String{:02}", *counter)
            };
            list.push((slot, name.to_string()));
        }
        d
    }
}

fn child(s: &StructArray, name: &str) -> Result<ArrayRef, String> {
    struct_child(s, name).ok_or_else(|| format!("field {name} missing"))
}

fn child_struct(s: &StructArray, name: &str) -> Result<StructArray, String> {
    child(s, name)?
        .as_struct_opt()
        .cloned()
        .ok_or_else(|| format!("field {name} is not a struct"))
}

fn list_of_struct(a: &ArrayRef, what: &str) -> Result<(Vec<usize>, StructArray), String> {
    let (o, v) = list_parts(a).ok_or_else(|| format!("{what} is not a list"))?;
    let s = v
        .as_struct_opt()
        .cloned()
        .ok_or_else(|| format!("{what} is not a list of structs"))?;
    Ok((o, s))
}

fn binary(a: &ArrayRef) -> Result<BinaryArray, String> {
    let c = cast(a, &DataType::Binary).map_err(|e| format!("not a binary column: {e}"))?;
    Ok(c.as_binary::<i32>().clone())
}

/// A list column of one primitive type, flattened.
struct Lists<A> {
    offsets: Vec<usize>,
    values: A,
}

impl<A> Lists<A> {
    fn new(a: &ArrayRef, conv: impl Fn(&ArrayRef) -> Result<A, String>) -> Result<Self, String> {
        let (offsets, v) = list_parts(a).ok_or("attribute value is not a list")?;
        Ok(Self {
            offsets,
            values: conv(&v)?,
        })
    }

    fn range(&self, i: usize) -> std::ops::Range<usize> {
        self.offsets[i]..self.offsets[i + 1]
    }
}

/// Which typed list of an attribute holds its value.
#[derive(Clone, Copy, PartialEq)]
enum Slot {
    Str,
    Int,
    Double,
    Bool,
}

/// A list of Tempo `Attribute` structs (keys with typed value lists).
struct Attrs {
    offsets: Vec<usize>,
    key: StringArray,
    value_type: Option<Int64Array>,
    is_array: Option<BooleanArray>,
    s: Lists<StringArray>,
    i: Lists<Int64Array>,
    d: Lists<Float64Array>,
    b: Lists<BooleanArray>,
    unsupported: Option<StringArray>,
}

impl Attrs {
    fn new(a: &ArrayRef) -> Result<Self, String> {
        let (offsets, s) = list_of_struct(a, "Attrs")?;
        let unsupported = struct_child(&s, "ValueDropped")
            .or_else(|| struct_child(&s, "ValueUnsupported"))
            .map(|a| strings(&a))
            .transpose()?;
        Ok(Self {
            offsets,
            key: strings(&child(&s, "Key")?)?,
            value_type: struct_child(&s, "ValueType")
                .map(|a| ints(&a))
                .transpose()?,
            is_array: struct_child(&s, "IsArray").map(|a| bools(&a)).transpose()?,
            s: Lists::new(&child(&s, "Value")?, strings)?,
            i: Lists::new(&child(&s, "ValueInt")?, ints)?,
            d: Lists::new(&child(&s, "ValueDouble")?, floats)?,
            b: Lists::new(&child(&s, "ValueBool")?, bools)?,
            unsupported,
        })
    }

    /// Rendered attributes of list entry `i`, appended to `out`.
    fn row(&self, i: usize, out: &mut Vec<(String, String)>) {
        for j in self.offsets[i]..self.offsets[i + 1] {
            if self.key.is_null(j) {
                continue;
            }
            out.push((self.key.value(j).to_string(), self.render(j)));
        }
    }

    fn render(&self, j: usize) -> String {
        // vParquet4 ValueType: 0 unsupported, 1 string, 2 int, 3 double, 4 bool,
        // 5–8 arrays of those (tempo attrType constants).
        let typed = self
            .value_type
            .as_ref()
            .filter(|v| v.is_valid(j))
            .map(|v| v.value(j));
        let (slot, array) = match typed {
            Some(1) => (Some(Slot::Str), false),
            Some(2) => (Some(Slot::Int), false),
            Some(3) => (Some(Slot::Double), false),
            Some(4) => (Some(Slot::Bool), false),
            Some(5) => (Some(Slot::Str), true),
            Some(6) => (Some(Slot::Int), true),
            Some(7) => (Some(Slot::Double), true),
            Some(8) => (Some(Slot::Bool), true),
            Some(_) => (None, false),
            None => {
                let array = self
                    .is_array
                    .as_ref()
                    .is_some_and(|a| a.is_valid(j) && a.value(j));
                let slot = [
                    (Slot::Str, self.s.range(j).len()),
                    (Slot::Int, self.i.range(j).len()),
                    (Slot::Double, self.d.range(j).len()),
                    (Slot::Bool, self.b.range(j).len()),
                ]
                .into_iter()
                .find(|(_, n)| *n > 0)
                .map(|(s, _)| s);
                (slot, array)
            }
        };
        let unsupported = || {
            self.unsupported
                .as_ref()
                .filter(|u| u.is_valid(j))
                .map(|u| render_jsonpb(u.value(j)))
        };
        let Some(slot) = slot else {
            return unsupported()
                .unwrap_or_else(|| if array { "[]".into() } else { String::new() });
        };
        let mut items: Vec<AnyValue> = Vec::new();
        let av = |v| AnyValue { value: Some(v) };
        match slot {
            Slot::Str => items.extend(self.s.range(j).map(|k| {
                av(any_value::Value::StringValue(
                    self.s.values.value(k).to_string(),
                ))
            })),
            Slot::Int => items.extend(
                self.i
                    .range(j)
                    .map(|k| av(any_value::Value::IntValue(self.i.values.value(k)))),
            ),
            Slot::Double => items.extend(
                self.d
                    .range(j)
                    .map(|k| av(any_value::Value::DoubleValue(self.d.values.value(k)))),
            ),
            Slot::Bool => items.extend(
                self.b
                    .range(j)
                    .map(|k| av(any_value::Value::BoolValue(self.b.values.value(k)))),
            ),
        }
        if array {
            render_any_value(&av(any_value::Value::ArrayValue(ArrayValue {
                values: items,
            })))
        } else {
            items.first().map(render_any_value).unwrap_or_default()
        }
    }
}

/// Renders Tempo's JSON (jsonpb) form of an unsupported `AnyValue` the way every reader
/// renders that value; text that is not such JSON is kept as it is.
fn render_jsonpb(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| jsonpb_any(&v))
        .map(|a| render_any_value(&a))
        .unwrap_or_else(|| text.to_string())
}

fn jsonpb_any(v: &serde_json::Value) -> Option<AnyValue> {
    use any_value::Value as V;
    let o = v.as_object()?;
    let num = |x: &serde_json::Value| -> Option<f64> {
        match x {
            serde_json::Value::Number(n) => n.as_f64(),
            serde_json::Value::String(s) => match s.as_str() {
                "NaN" => Some(f64::NAN),
                "Infinity" => Some(f64::INFINITY),
                "-Infinity" => Some(f64::NEG_INFINITY),
                s => s.parse().ok(),
            },
            _ => None,
        }
    };
    let value = if let Some(s) = o.get("stringValue") {
        V::StringValue(s.as_str()?.to_string())
    } else if let Some(b) = o.get("boolValue") {
        V::BoolValue(b.as_bool()?)
    } else if let Some(i) = o.get("intValue") {
        V::IntValue(match i {
            serde_json::Value::String(s) => s.parse().ok()?,
            n => n.as_i64()?,
        })
    } else if let Some(d) = o.get("doubleValue") {
        V::DoubleValue(num(d)?)
    } else if let Some(b) = o.get("bytesValue") {
        V::BytesValue(
            base64::engine::general_purpose::STANDARD
                .decode(b.as_str()?)
                .ok()?,
        )
    } else if let Some(a) = o.get("arrayValue") {
        let vals = a
            .get("values")
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default();
        V::ArrayValue(ArrayValue {
            values: vals
                .iter()
                .map(|e| jsonpb_any(e).unwrap_or(AnyValue { value: None }))
                .collect(),
        })
    } else if let Some(kv) = o.get("kvlistValue") {
        let vals = kv
            .get("values")
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default();
        V::KvlistValue(KeyValueList {
            values: vals
                .iter()
                .map(|e| KeyValue {
                    key: e
                        .get("key")
                        .and_then(|k| k.as_str())
                        .unwrap_or_default()
                        .to_string(),
                    value: e.get("value").and_then(jsonpb_any),
                })
                .collect(),
        })
    } else {
        return None;
    };
    Some(AnyValue { value: Some(value) })
}

/// Dedicated attribute values of struct entry `i` (nullable strings in vParquet4, lists of
/// strings or ints in vParquet5).
fn dedicated_row(
    ded: Option<&StructArray>,
    slots: &[(String, String)],
    i: usize,
    out: &mut Vec<(String, String)>,
) -> Result<(), String> {
    let Some(ded) = ded else { return Ok(()) };
    for (slot, name) in slots {
        let Some(col) = struct_child(ded, slot) else {
            continue;
        };
        if let Some((offsets, values)) = list_parts(&col) {
            if col.is_null(i) || offsets[i] == offsets[i + 1] {
                continue;
            }
            let items: Vec<String> = if values.data_type().is_integer() {
                let v = ints(&values)?;
                (offsets[i]..offsets[i + 1])
                    .map(|k| v.value(k).to_string())
                    .collect()
            } else {
                let v = strings(&values)?;
                (offsets[i]..offsets[i + 1])
                    .map(|k| v.value(k).to_string())
                    .collect()
            };
            if items.len() == 1 {
                out.push((name.clone(), items.into_iter().next().unwrap_or_default()));
            } else {
                let mut s = String::from("[");
                let is_int = values.data_type().is_integer();
                for (n, it) in items.iter().enumerate() {
                    if n > 0 {
                        s.push(',');
                    }
                    if is_int {
                        let _ = write!(s, "{it}");
                    } else {
                        json_string(it, &mut s);
                    }
                }
                s.push(']');
                out.push((name.clone(), s));
            }
        } else if col.data_type().is_integer() {
            let v = ints(&col)?;
            if v.is_valid(i) {
                out.push((name.clone(), v.value(i).to_string()));
            }
        } else {
            let v = strings(&col)?;
            if v.is_valid(i) {
                out.push((name.clone(), v.value(i).to_string()));
            }
        }
    }
    Ok(())
}

/// vParquet4's promoted resource columns and the attribute names they stand for.
const V4_RESOURCE_COLUMNS: &[(&str, &str)] = &[
    ("Cluster", "cluster"),
    ("Namespace", "namespace"),
    ("Pod", "pod"),
    ("Container", "container"),
    ("K8sClusterName", "k8s.cluster.name"),
    ("K8sNamespaceName", "k8s.namespace.name"),
    ("K8sPodName", "k8s.pod.name"),
    ("K8sContainerName", "k8s.container.name"),
];

fn opt_strings(s: &StructArray, name: &str) -> Result<Option<StringArray>, String> {
    struct_child(s, name).map(|a| strings(&a)).transpose()
}

fn text_at(a: &Option<StringArray>, i: usize) -> Option<String> {
    a.as_ref()
        .filter(|a| a.is_valid(i))
        .map(|a| a.value(i).to_string())
}

/// Reads one batch of trace rows; `first_row` is the file row of the batch's first row.
pub(super) fn read_batch(
    batch: &RecordBatch,
    first_row: u64,
    dedicated: &mut Dedicated,
    sink: &mut RowSink,
) -> Result<(), String> {
    let col = |n: &str| {
        batch
            .column_by_name(n)
            .cloned()
            .ok_or_else(|| format!("column {n} missing"))
    };
    let trace_ids = binary(&col("TraceID")?)?;
    let (rs_off, rs) = list_of_struct(&col("rs")?, "rs")?;
    let resource = child_struct(&rs, "Resource")?;
    let service = strings(&child(&resource, "ServiceName")?)?;
    let res_attrs = Attrs::new(&child(&resource, "Attrs")?)?;
    let promoted: Vec<(&str, Option<StringArray>)> = V4_RESOURCE_COLUMNS
        .iter()
        .map(|(c, n)| opt_strings(&resource, c).map(|a| (*n, a)))
        .collect::<Result<_, _>>()?;
    let res_ded =
        struct_child(&resource, "DedicatedAttributes").and_then(|a| a.as_struct_opt().cloned());
    let (ss_off, ss) = list_of_struct(&child(&rs, "ss")?, "ss")?;
    let scope = child_struct(&ss, "Scope")?;
    let scope_name = strings(&child(&scope, "Name")?)?;
    let (sp_off, sp) = list_of_struct(&child(&ss, "Spans")?, "Spans")?;
    let span_id = binary(&child(&sp, "SpanID")?)?;
    let parent_id = binary(&child(&sp, "ParentSpanID")?)?;
    let name = strings(&child(&sp, "Name")?)?;
    let kind = ints(&child(&sp, "Kind")?)?;
    let trace_state = opt_strings(&sp, "TraceState")?;
    let start = ints(&child(&sp, "StartTimeUnixNano")?)?;
    let dur = ints(&child(&sp, "DurationNano")?)?;
    let status = ints(&child(&sp, "StatusCode")?)?;
    let status_msg = opt_strings(&sp, "StatusMessage")?;
    let span_attrs = Attrs::new(&child(&sp, "Attrs")?)?;
    let http_method = opt_strings(&sp, "HttpMethod")?;
    let http_url = opt_strings(&sp, "HttpUrl")?;
    let http_status = struct_child(&sp, "HttpStatusCode")
        .map(|a| ints(&a))
        .transpose()?;
    let span_ded =
        struct_child(&sp, "DedicatedAttributes").and_then(|a| a.as_struct_opt().cloned());
    let (ev_off, ev) = list_of_struct(&child(&sp, "Events")?, "Events")?;
    let ev_name = strings(&child(&ev, "Name")?)?;
    let ev_attrs = Attrs::new(&child(&ev, "Attrs")?)?;

    let cfg = sink.cfg.clone();
    let mut cache = ResourceCache::default();
    for t in 0..batch.num_rows() {
        let row = first_row + t as u64;
        let raw = if trace_ids.is_valid(t) {
            trace_ids.value(t)
        } else {
            &[][..]
        };
        // Tempo stores 64-bit (Jaeger) ids left-padded to 16 bytes; pad shorter ones the same way.
        let trace_id = (raw.len() <= 16 && raw.iter().any(|&b| b != 0)).then(|| {
            let mut id = [0u8; 16];
            id[16 - raw.len()..].copy_from_slice(raw);
            id
        });
        for r in rs_off[t]..rs_off[t + 1] {
            let mut attrs = Vec::new();
            if service.is_valid(r) && !service.value(r).is_empty() {
                attrs.push(("service.name".to_string(), service.value(r).to_string()));
            }
            res_attrs.row(r, &mut attrs);
            for (n, a) in &promoted {
                if let Some(v) = text_at(a, r) {
                    attrs.push((n.to_string(), v));
                }
            }
            dedicated_row(res_ded.as_ref(), &dedicated.resource, r, &mut attrs)?;
            for s in ss_off[r]..ss_off[r + 1] {
                let scope = (scope_name.is_valid(s) && !scope_name.value(s).is_empty())
                    .then(|| scope_name.value(s).to_string());
                let res = cache.get(attrs.clone(), scope, &cfg);
                for k in sp_off[s]..sp_off[s + 1] {
                    let path = |f: &str| {
                        format!(
                            "rs[{}].ss[{}].Spans[{}].{f}",
                            r - rs_off[t],
                            s - ss_off[r],
                            k - sp_off[s]
                        )
                    };
                    let Some(tid) = trace_id else {
                        sink.reject(
                            IssueKind::BadId,
                            row,
                            "TraceID".into(),
                            format!("{} bytes, all zero or longer than 16", raw.len()),
                        );
                        continue;
                    };
                    let sid = if span_id.is_valid(k) {
                        span_id.value(k)
                    } else {
                        &[]
                    };
                    if sid.len() != 8 || sid.iter().all(|&b| b == 0) {
                        sink.reject(
                            IssueKind::BadId,
                            row,
                            path("SpanID"),
                            format!("{} bytes, expected 8 non-zero bytes", sid.len()),
                        );
                        continue;
                    }
                    let pid = if parent_id.is_valid(k) {
                        parent_id.value(k)
                    } else {
                        &[]
                    };
                    let parent_span_id = match pid.len() {
                        8 if pid.iter().any(|&b| b != 0) => {
                            let mut p = [0u8; 8];
                            p.copy_from_slice(pid);
                            Some(p)
                        }
                        0 | 8 => None,
                        n => {
                            sink.reject(
                                IssueKind::BadId,
                                row,
                                path("ParentSpanID"),
                                format!("{n} bytes, expected 8"),
                            );
                            continue;
                        }
                    };
                    if start.is_null(k) || dur.is_null(k) {
                        sink.reject(
                            IssueKind::MissingField,
                            row,
                            path("StartTimeUnixNano"),
                            "null or out-of-range start time or duration".into(),
                        );
                        continue;
                    }
                    let mut a = Vec::new();
                    span_attrs.row(k, &mut a);
                    if let Some(v) = text_at(&http_method, k) {
                        a.push(("http.method".into(), v));
                    }
                    if let Some(v) = text_at(&http_url, k) {
                        a.push(("http.url".into(), v));
                    }
                    if let Some(h) = http_status.as_ref().filter(|h| h.is_valid(k)) {
                        a.push(("http.status_code".into(), h.value(k).to_string()));
                    }
                    dedicated_row(span_ded.as_ref(), &dedicated.span, k, &mut a)?;
                    let mut exception = (None, None);
                    for e in ev_off[k]..ev_off[k + 1] {
                        if ev_name.is_valid(e) && ev_name.value(e) == "exception" {
                            let mut ea = Vec::new();
                            ev_attrs.row(e, &mut ea);
                            let get = |key: &str| {
                                ea.iter().find(|(x, _)| x == key).map(|(_, v)| v.clone())
                            };
                            exception = (get("exception.type"), get("exception.message"));
                            break;
                        }
                    }
                    let s0 = start.value(k);
                    let rec = SpanRecord {
                        trace_id: tid,
                        span_id: sid.try_into().expect("length checked"),
                        parent_span_id,
                        name: if name.is_valid(k) {
                            name.value(k).to_string()
                        } else {
                            String::new()
                        },
                        kind: if kind.is_valid(k) {
                            kind.value(k) as i32
                        } else {
                            0
                        },
                        start_time_unix_nano: s0,
                        end_time_unix_nano: s0.saturating_add(dur.value(k)),
                        status_code: if status.is_valid(k) {
                            status.value(k) as i32
                        } else {
                            0
                        },
                        status_message: text_at(&status_msg, k).filter(|m| !m.is_empty()),
                        trace_state: text_at(&trace_state, k).filter(|m| !m.is_empty()),
                        attributes: a,
                        exception_type: exception.0,
                        exception_message: exception.1,
                        source_line: row as i64,
                    };
                    sink.push(res, &rec, None);
                }
            }
        }
    }
    Ok(())
}

/// Test access to the jsonpb renderer.
#[cfg(test)]
pub(super) fn render_jsonpb_for_test(text: &str) -> String {
    render_jsonpb(text)
}
