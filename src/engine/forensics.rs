//! Forensics input: the spans of failing traces, the error spans, the requests per service
//! and side, and every span's tree links and originating-track attribute, read with the
//! shipped `forensics_*.sql` queries and turned into the plain rows of
//! [`crate::model::traces`].

use super::context::Engine;
use super::queries::{self, Params, Query};
use super::EngineError;
use crate::model::comparison::{Selector, Side};
use crate::model::traces::{
    BaselineSet, DownstreamInput, ErrorSpan, Exposure, ForensicsInput, RequestSelect, TraceSpan,
    TreeSpan,
};
use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, FixedSizeBinaryArray, RecordBatch, StringArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};
use datafusion::common::ScalarValue;
use std::collections::HashMap;

/// Most span attribute keys an originating track is looked up in
/// (`forensics_downstream_spans.sql` has this many slots).
pub const MAX_ORIGIN_KEYS: usize = 6;

/// Reads the forensics input of `params` (selectors, service, window) from `engine`. With
/// `origin_keys` (at most [`MAX_ORIGIN_KEYS`], each bound as a parameter) it also reads every
/// span for downstream attribution; with none it skips that pass. With `attributes` it counts
/// attribute values over that selection and baseline
/// ([`super::attribute_counts::attribute_counts`]).
pub async fn forensics_input(
    engine: &Engine,
    params: &Params,
    origin_keys: &[String],
    attributes: Option<(&RequestSelect, BaselineSet)>,
) -> Result<ForensicsInput, EngineError> {
    let values = params.values();
    let run = |q: Query| {
        let values = values.clone();
        async move { engine.query(q.name, q.sql, values).await.map(|r| (q, r.1)) }
    };
    let timing = crate::timings::phase("forensics: failing traces, error spans, exposure");
    let (q, batches) = run(queries::FORENSICS_FAILING_SPANS).await?;
    let mut failing_spans = Vec::new();
    for b in &batches {
        failing_spans.extend(trace_spans(&q, b)?);
    }
    let (q, batches) = run(queries::FORENSICS_ERROR_SPANS).await?;
    let mut error_spans = Vec::new();
    for b in &batches {
        error_spans.extend(error_rows(&q, b)?);
    }
    // The engine may return error spans in any order; sort canonically so everything built
    // from them (exemplars, the order of equal counts) is the same for any thread count.
    error_spans.sort_by(|a, b| {
        (a.start_ns, a.trace_id, &a.service, &a.span_name).cmp(&(
            b.start_ns,
            b.trace_id,
            &b.service,
            &b.span_name,
        ))
    });
    let (q, batches) = run(queries::FORENSICS_EXPOSURE).await?;
    let mut exposure = Vec::new();
    for b in &batches {
        exposure.extend(exposure_rows(&q, b)?);
    }
    drop(timing);
    let mut downstream = DownstreamInput::default();
    if let Some(last) = origin_keys.last() {
        let _timing = crate::timings::phase("forensics: downstream spans");
        let q = queries::FORENSICS_DOWNSTREAM_SPANS;
        let mut values = values.clone();
        values.extend(
            (0..MAX_ORIGIN_KEYS)
                .map(|i| ScalarValue::Utf8(Some(origin_keys.get(i).unwrap_or(last).clone()))),
        );
        let (_, batches) = engine.query(q.name, q.sql, values).await?;
        let mut names = Names::default();
        for b in &batches {
            tree_rows(&q, b, params, &mut names, &mut downstream.spans)?;
        }
        downstream.names = names.list;
    }
    let attributes = match attributes {
        Some((select, baseline)) => {
            let _timing = crate::timings::phase("forensics: attribute counts");
            Some(super::attribute_counts::attribute_counts(engine, params, select, baseline).await?)
        }
        None => None,
    };
    Ok(ForensicsInput {
        baseline: params.baseline.clone(),
        canary: params.canary.clone(),
        service: params.service.clone(),
        window: params.window,
        failing_spans,
        error_spans,
        exposure,
        downstream,
        attributes,
    })
}

/// Interned names: each distinct string once, with its index.
#[derive(Default)]
struct Names {
    index: HashMap<String, u32>,
    list: Vec<String>,
}

impl Names {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.list.len() as u32;
        self.index.insert(s.to_string(), i);
        self.list.push(s.to_string());
        i
    }
}

/// The side an originating-track value names: the baseline's or canary's track (or version,
/// for sides selected by version), baseline first as in the side `CASE` of the queries.
fn origin_side(v: &str, baseline: &Selector, canary: &Selector) -> Option<Side> {
    let names = |s: &Selector| s.track.as_deref() == Some(v) || s.version.as_deref() == Some(v);
    if names(baseline) {
        Some(Side::Baseline)
    } else if names(canary) {
        Some(Side::Canary)
    } else {
        None
    }
}

fn tree_rows(
    q: &Query,
    b: &RecordBatch,
    params: &Params,
    names: &mut Names,
    out: &mut Vec<TreeSpan>,
) -> Result<(), EngineError> {
    let (trace, span, parent) = (
        ids(q, b, "trace_id")?,
        ids(q, b, "span_id")?,
        ids(q, b, "parent_span_id")?,
    );
    let (service, name, sides, origin) = (
        strings(q, b, "service_name")?,
        strings(q, b, "span_name")?,
        strings(q, b, "side")?,
        strings(q, b, "origin_value")?,
    );
    let (is_error, in_window) = (flags(q, b, "is_error")?, flags(q, b, "in_window")?);
    let route = strings(q, b, "route")?;
    let kind = cast_to(q, b, "span_kind", &DataType::Int32)?;
    let kind = kind.as_primitive::<Int32Type>();
    let start = cast_to(q, b, "start_ns", &DataType::Int64)?;
    let start = start.as_primitive::<Int64Type>();
    let dur = cast_to(q, b, "duration_ns", &DataType::Int64)?;
    let dur = dur.as_primitive::<Int64Type>();
    let weight = cast_to(q, b, "sample_weight", &DataType::Float64)?;
    let weight = weight.as_primitive::<Float64Type>();
    out.reserve(b.num_rows());
    for i in 0..b.num_rows() {
        let (Some(trace_id), Some(span_id)) = (id(&trace, i), id(&span, i)) else {
            continue;
        };
        out.push(TreeSpan {
            trace_id,
            span_id,
            parent_span_id: id(&parent, i),
            service: names.id(service.value(i)),
            span_name: names.id(name.value(i)),
            kind: kind.value(i),
            route: (!route.is_null(i)).then(|| names.id(route.value(i))),
            start_ns: start.value(i),
            duration_ns: dur.value(i),
            is_error: is_error.is_valid(i) && is_error.value(i),
            weight: if weight.is_null(i) {
                1.0
            } else {
                weight.value(i)
            },
            side: side(q, &sides, i)?,
            origin: (!origin.is_null(i))
                .then(|| origin_side(origin.value(i), &params.baseline, &params.canary))
                .flatten(),
            in_window: in_window.is_valid(i) && in_window.value(i),
        });
    }
    Ok(())
}

/// Column `name` of `b`, or a [`EngineError::ResultShape`] naming the query.
fn column<'a>(q: &Query, b: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, EngineError> {
    b.column_by_name(name)
        .ok_or_else(|| EngineError::ResultShape {
            query: q.name.into(),
            column: name.into(),
            reason: "missing".into(),
        })
}

fn shape(q: &Query, name: &str, reason: String) -> EngineError {
    EngineError::ResultShape {
        query: q.name.into(),
        column: name.into(),
        reason,
    }
}

/// A string column (plain or dictionary-encoded) as a plain Utf8 array.
fn strings(q: &Query, b: &RecordBatch, name: &str) -> Result<StringArray, EngineError> {
    let c =
        cast(column(q, b, name)?, &DataType::Utf8).map_err(|e| shape(q, name, e.to_string()))?;
    Ok(c.as_string::<i32>().clone())
}

fn ids(q: &Query, b: &RecordBatch, name: &str) -> Result<FixedSizeBinaryArray, EngineError> {
    column(q, b, name)?
        .as_fixed_size_binary_opt()
        .cloned()
        .ok_or_else(|| shape(q, name, "expected FixedSizeBinary".into()))
}

fn cast_to(q: &Query, b: &RecordBatch, name: &str, t: &DataType) -> Result<ArrayRef, EngineError> {
    cast(column(q, b, name)?, t).map_err(|e| shape(q, name, e.to_string()))
}

fn flags(q: &Query, b: &RecordBatch, name: &str) -> Result<BooleanArray, EngineError> {
    Ok(cast_to(q, b, name, &DataType::Boolean)?
        .as_boolean()
        .clone())
}

fn opt(a: &StringArray, i: usize) -> Option<String> {
    (!a.is_null(i)).then(|| a.value(i).to_string())
}

fn side(q: &Query, a: &StringArray, i: usize) -> Result<Option<Side>, EngineError> {
    match opt(a, i).as_deref() {
        None => Ok(None),
        Some("baseline") => Ok(Some(Side::Baseline)),
        Some("canary") => Ok(Some(Side::Canary)),
        Some(other) => Err(shape(q, "side", format!("unexpected value {other:?}"))),
    }
}

fn id<const N: usize>(a: &FixedSizeBinaryArray, i: usize) -> Option<[u8; N]> {
    (!a.is_null(i))
        .then(|| a.value(i).try_into().ok())
        .flatten()
}

fn trace_spans(q: &Query, b: &RecordBatch) -> Result<Vec<TraceSpan>, EngineError> {
    let (trace, span, parent) = (
        ids(q, b, "trace_id")?,
        ids(q, b, "span_id")?,
        ids(q, b, "parent_span_id")?,
    );
    let (service, sides, name, route) = (
        strings(q, b, "service_name")?,
        strings(q, b, "side")?,
        strings(q, b, "span_name")?,
        strings(q, b, "route")?,
    );
    let (status, etype, emsg, file) = (
        strings(q, b, "status_message")?,
        strings(q, b, "exception_type")?,
        strings(q, b, "exception_message")?,
        strings(q, b, "source_file")?,
    );
    let tracked = flags(q, b, "tracked")?;
    let is_error = flags(q, b, "is_error")?;
    let kind = cast_to(q, b, "span_kind", &DataType::Int32)?;
    let kind = kind.as_primitive::<Int32Type>();
    let start = cast_to(q, b, "start_ns", &DataType::Int64)?;
    let start = start.as_primitive::<Int64Type>();
    let dur = cast_to(q, b, "duration_ns", &DataType::Int64)?;
    let dur = dur.as_primitive::<Int64Type>();
    let mut out = Vec::with_capacity(b.num_rows());
    for i in 0..b.num_rows() {
        let (Some(trace_id), Some(span_id)) = (id(&trace, i), id(&span, i)) else {
            continue;
        };
        let side = if tracked.is_valid(i) && tracked.value(i) {
            side(q, &sides, i)?
        } else {
            None
        };
        out.push(TraceSpan {
            trace_id,
            span_id,
            parent_span_id: id(&parent, i),
            service: service.value(i).to_string(),
            side,
            span_name: name.value(i).to_string(),
            kind: kind.value(i),
            start_ns: start.value(i),
            duration_ns: dur.value(i),
            is_error: is_error.is_valid(i) && is_error.value(i),
            route: opt(&route, i),
            status_message: opt(&status, i),
            exception_type: opt(&etype, i),
            exception_message: opt(&emsg, i),
            source_file: opt(&file, i).unwrap_or_default(),
        });
    }
    Ok(out)
}

fn error_rows(q: &Query, b: &RecordBatch) -> Result<Vec<ErrorSpan>, EngineError> {
    let trace = ids(q, b, "trace_id")?;
    let (service, sides, name) = (
        strings(q, b, "service_name")?,
        strings(q, b, "side")?,
        strings(q, b, "span_name")?,
    );
    let (etype, msg) = (strings(q, b, "exception_type")?, strings(q, b, "message")?);
    let start = cast_to(q, b, "start_ns", &DataType::Int64)?;
    let start = start.as_primitive::<Int64Type>();
    let weight = cast_to(q, b, "sample_weight", &DataType::Float64)?;
    let weight = weight.as_primitive::<Float64Type>();
    let mut out = Vec::with_capacity(b.num_rows());
    for i in 0..b.num_rows() {
        let (Some(trace_id), Some(side)) = (id(&trace, i), side(q, &sides, i)?) else {
            continue;
        };
        out.push(ErrorSpan {
            trace_id,
            service: service.value(i).to_string(),
            side,
            span_name: name.value(i).to_string(),
            start_ns: start.value(i),
            exception_type: opt(&etype, i),
            message: opt(&msg, i),
            weight: if weight.is_null(i) {
                1.0
            } else {
                weight.value(i)
            },
        });
    }
    Ok(out)
}

fn exposure_rows(q: &Query, b: &RecordBatch) -> Result<Vec<Exposure>, EngineError> {
    let (service, sides) = (strings(q, b, "service_name")?, strings(q, b, "side")?);
    let n = cast_to(q, b, "requests", &DataType::Int64)?;
    let n = n.as_primitive::<Int64Type>();
    let w = cast_to(q, b, "weighted", &DataType::Float64)?;
    let w = w.as_primitive::<Float64Type>();
    let sq = cast_to(q, b, "weighted_sq", &DataType::Float64)?;
    let sq = sq.as_primitive::<Float64Type>();
    let lo = cast_to(q, b, "min_weight", &DataType::Float64)?;
    let lo = lo.as_primitive::<Float64Type>();
    let hi = cast_to(q, b, "max_weight", &DataType::Float64)?;
    let hi = hi.as_primitive::<Float64Type>();
    let mut out = Vec::with_capacity(b.num_rows());
    for i in 0..b.num_rows() {
        let Some(side) = side(q, &sides, i)? else {
            continue;
        };
        out.push(Exposure {
            service: service.value(i).to_string(),
            side,
            requests: n.value(i).max(0) as u64,
            weighted: w.value(i),
            weighted_sq: sq.value(i),
            min_weight: lo.value(i),
            max_weight: hi.value(i),
        });
    }
    Ok(out)
}
