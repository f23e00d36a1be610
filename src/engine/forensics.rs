//! Forensics input: the spans of failing traces, the error spans, the requests per service
//! and side, and every span's tree links and originating-track attribute, read with the
//! shipped `forensics_*.sql` queries and turned into the plain rows of
//! [`crate::model::traces`].

use super::context::Engine;
use super::queries::{self, Params, Query};
use super::EngineError;
use crate::model::comparison::{Selector, Side};
use crate::model::traces::{
    DownstreamInput, ErrorSpan, Exposure, ForensicsInput, TraceSpan, TreeSpan,
};
use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, FixedSizeBinaryArray, RecordBatch, StringArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};
use futures::StreamExt;
use std::collections::HashMap;

/// Reads the forensics input of `params` (selectors, service, window) from `engine`. With
/// `origin_keys` (any number, looked up by the engine in each span's attribute map) it also reads every
/// span for downstream attribution; with none it skips that pass. The attribute counts are
/// left to [`super::attribute_counts`] (`attributes` is `None`).
pub async fn forensics_input(
    engine: &Engine,
    params: &Params,
    origin_keys: &[String],
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
    downstream_partitions(engine, params, origin_keys, 1, |part| {
        downstream = part;
    })
    .await?;
    Ok(ForensicsInput {
        baseline: params.baseline.clone(),
        canary: params.canary.clone(),
        service: params.service.clone(),
        window: params.window,
        failing_spans,
        error_spans,
        exposure,
        downstream,
        attributes: None,
    })
}

/// Bytes one span costs while its partition is assembled: the [`TreeSpan`] row (88 bytes),
/// its place in the trace order and the per-trace span-id index (8 + ~24 bytes), and the
/// Arrow batches in flight, rounded up. [`trace_partitions`] divides the budget by it.
pub const TREE_BYTES_PER_SPAN: u64 = 160;

/// Partitions of traces for `spans` spans under a memory budget of `budget_bytes` for the
/// assembled span trees: `ceil(spans × TREE_BYTES_PER_SPAN / budget_bytes)`, at least 1.
pub fn trace_partitions(spans: u64, budget_bytes: u64) -> u32 {
    let need = spans.saturating_mul(TREE_BYTES_PER_SPAN);
    need.div_ceil(budget_bytes.max(1))
        .clamp(1, u64::from(u32::MAX)) as u32
}

/// Default memory for assembling span trees, MiB (`forensics`/`report`/`run
/// --memory-budget`, a job's `memory_budget`): about 6.7 million spans assembled at once
/// ([`trace_partitions`]).
pub const DEFAULT_MEMORY_BUDGET_MIB: u64 = 1024;

/// How forensics splits the traces into partitions: by a memory budget for the assembled
/// span trees ([`trace_partitions`]), or a fixed count (`--memory-budget`,
/// `--trace-partitions`; a `canalyst.toml` job's `memory_budget`, `trace_partitions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TracePartitioning {
    /// As many partitions as the spans need under this many bytes.
    Budget(u64),
    /// Exactly this many partitions (at least 1).
    Fixed(u32),
}

impl Default for TracePartitioning {
    /// The default budget, [`DEFAULT_MEMORY_BUDGET_MIB`].
    fn default() -> Self {
        Self::Budget(DEFAULT_MEMORY_BUDGET_MIB << 20)
    }
}

impl TracePartitioning {
    /// The partition count for an input of `spans` spans.
    pub fn partitions(self, spans: u64) -> u32 {
        match self {
            Self::Budget(bytes) => trace_partitions(spans, bytes),
            Self::Fixed(k) => k.max(1),
        }
    }
}

/// The partition (of `partitions`) a trace id belongs to: the 64-bit FNV-1a hash of its 16
/// bytes modulo `partitions`. A hash rather than the id's own bytes, so ids that are not
/// random (sequential test ids, ids with a fixed prefix) still spread evenly.
pub fn trace_partition(trace_id: &[u8; 16], partitions: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in trace_id {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % u64::from(partitions.max(1))) as u32
}

/// Reads every span for downstream attribution and the structure diff in `partitions`
/// passes, handing `on_part` one [`DownstreamInput`] per partition of whole traces (those
/// whose [`trace_partition`] is the pass number), in partition order. Each pass streams the
/// `forensics_downstream_spans.sql` result batch by batch and keeps only its partition's
/// rows, so memory holds one partition's spans, not the input; the first pass also finds the
/// services with a track of their own ([`DownstreamInput::tracked`]) over every row. The
/// names are interned once for the whole run. A span's originating-track value is the value
/// of the first of `origin_keys` its attribute map holds (not NULL), looked up here rather
/// than with map lookups in SQL (six `span_attributes[key]` per span were most of the
/// query). With no `origin_keys` nothing is read.
pub async fn downstream_partitions(
    engine: &Engine,
    params: &Params,
    origin_keys: &[String],
    partitions: u32,
    mut on_part: impl FnMut(DownstreamInput),
) -> Result<(), EngineError> {
    if origin_keys.is_empty() {
        return Ok(());
    }
    let q = queries::FORENSICS_DOWNSTREAM_SPANS;
    let values = params.values();
    let err = |error| EngineError::Query {
        query: q.name.to_string(),
        error,
    };
    let k = partitions.max(1);
    let mut names = Names::default();
    let mut tracked: Vec<bool> = Vec::new();
    for p in 0..k {
        let _timing = crate::timings::phase("forensics: downstream spans (one partition)");
        let df = engine.dataframe(q.name, q.sql, values.clone()).await?;
        let mut stream = df.execute_stream().await.map_err(err)?;
        let mut spans = Vec::new();
        let mut part = Part {
            index: p,
            of: k,
            tracked: (p == 0).then_some(&mut tracked),
            origin_keys,
        };
        while let Some(b) = stream.next().await {
            tree_rows(
                &q,
                &b.map_err(err)?,
                params,
                &mut names,
                &mut spans,
                &mut part,
            )?;
        }
        on_part(DownstreamInput {
            names: names.list.clone(),
            spans,
            tracked: tracked.clone(),
        });
    }
    Ok(())
}

/// Which rows a pass keeps, and (first pass) where it marks services with their own track.
struct Part<'a> {
    index: u32,
    of: u32,
    tracked: Option<&'a mut Vec<bool>>,
    origin_keys: &'a [String],
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
    part: &mut Part,
) -> Result<(), EngineError> {
    let (trace, span, parent) = (
        ids(q, b, "trace_id")?,
        ids(q, b, "span_id")?,
        ids(q, b, "parent_span_id")?,
    );
    let (mut service, mut name, sides) = (
        NameColumn::of(q, b, "service_name")?,
        NameColumn::of(q, b, "span_name")?,
        strings(q, b, "side")?,
    );
    let attrs = column(q, b, "span_attributes")?
        .as_map_opt()
        .ok_or_else(|| shape(q, "span_attributes", "expected Map".into()))?;
    let (attr_keys, attr_values) = (
        cast(attrs.keys(), &DataType::Utf8)
            .map_err(|e| shape(q, "span_attributes", e.to_string()))?,
        cast(attrs.values(), &DataType::Utf8)
            .map_err(|e| shape(q, "span_attributes", e.to_string()))?,
    );
    let (attr_keys, attr_values) = (attr_keys.as_string::<i32>(), attr_values.as_string::<i32>());
    let offsets = attrs.value_offsets();
    // The first origin key the span's map holds with a value, as COALESCE(m[k1], m[k2], …).
    let origin_value = |i: usize| -> Option<&str> {
        if attrs.is_null(i) {
            return None;
        }
        let entries = offsets[i] as usize..offsets[i + 1] as usize;
        part.origin_keys.iter().find_map(|key| {
            let j = entries
                .clone()
                .find(|&j| attr_keys.is_valid(j) && attr_keys.value(j) == key)?;
            attr_values.is_valid(j).then(|| attr_values.value(j))
        })
    };
    let (is_error, in_window) = (flags(q, b, "is_error")?, flags(q, b, "in_window")?);
    let (mut route, mut file) = (
        NameColumn::of(q, b, "route")?,
        NameColumn::of(q, b, "source_file")?,
    );
    let kind = cast_to(q, b, "span_kind", &DataType::Int32)?;
    let kind = kind.as_primitive::<Int32Type>();
    let start = cast_to(q, b, "start_ns", &DataType::Int64)?;
    let start = start.as_primitive::<Int64Type>();
    let dur = cast_to(q, b, "duration_ns", &DataType::Int64)?;
    let dur = dur.as_primitive::<Int64Type>();
    let weight = cast_to(q, b, "sample_weight", &DataType::Float64)?;
    let weight = weight.as_primitive::<Float64Type>();
    for i in 0..b.num_rows() {
        let (Some(trace_id), Some(span_id)) = (id(&trace, i), id(&span, i)) else {
            continue;
        };
        let own_side = side(q, &sides, i)?;
        let origin = origin_value(i).and_then(|v| origin_side(v, &params.baseline, &params.canary));
        if let Some(tracked) = part.tracked.as_deref_mut() {
            // The definition of DownstreamInput::tracked, over every row of the input.
            if own_side.is_some() && origin.is_none() {
                let s = service.id(i, names).unwrap_or_else(|| names.id("")) as usize;
                if tracked.len() <= s {
                    tracked.resize(s + 1, false);
                }
                tracked[s] = true;
            }
        }
        if part.of > 1 && trace_partition(&trace_id, part.of) != part.index {
            continue;
        }
        out.push(TreeSpan {
            trace_id,
            span_id,
            parent_span_id: id(&parent, i),
            service: service.id(i, names).unwrap_or_else(|| names.id("")),
            span_name: name.id(i, names).unwrap_or_else(|| names.id("")),
            kind: kind.value(i),
            route: route.id(i, names),
            start_ns: start.value(i),
            duration_ns: dur.value(i),
            is_error: is_error.is_valid(i) && is_error.value(i),
            weight: if weight.is_null(i) {
                1.0
            } else {
                weight.value(i)
            },
            side: own_side,
            origin,
            in_window: in_window.is_valid(i) && in_window.value(i),
            file: file.id(i, names).unwrap_or_else(|| names.id("")),
        });
    }
    Ok(())
}

/// A string column read as interned name ids. A dictionary column (`service_name`,
/// `span_name`, `route`, `source_file` in the canonical table) interns each dictionary value
/// once, at its first row, instead of hashing the string of every row; the ids are the same
/// as interning row by row (first use decides the id). Anything else is cast to Utf8.
enum NameColumn {
    Dict {
        keys: arrow::array::PrimitiveArray<Int32Type>,
        values: StringArray,
        ids: Vec<Option<u32>>,
    },
    Plain(StringArray),
}

impl NameColumn {
    fn of(q: &Query, b: &RecordBatch, name: &str) -> Result<Self, EngineError> {
        let c = column(q, b, name)?;
        if let Some(d) = c.as_dictionary_opt::<Int32Type>() {
            let values = cast(d.values(), &DataType::Utf8)
                .map_err(|e| shape(q, name, e.to_string()))?
                .as_string::<i32>()
                .clone();
            return Ok(Self::Dict {
                keys: d.keys().clone(),
                ids: vec![None; values.len()],
                values,
            });
        }
        Ok(Self::Plain(strings(q, b, name)?))
    }

    /// Row `i`'s name id, `None` when null.
    fn id(&mut self, i: usize, names: &mut Names) -> Option<u32> {
        match self {
            Self::Plain(a) => (!a.is_null(i)).then(|| names.id(a.value(i))),
            Self::Dict { keys, values, ids } => {
                if keys.is_null(i) {
                    return None;
                }
                let k = keys.value(i) as usize;
                if values.is_null(k) {
                    return None;
                }
                Some(*ids[k].get_or_insert_with(|| names.id(values.value(k))))
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_follow_the_budget() {
        assert_eq!(trace_partitions(0, 1 << 20), 1);
        assert_eq!(trace_partitions(1000, 1 << 30), 1);
        // 10 million spans × 160 bytes = 1.6 GB: two partitions of 1 GiB, 1526 of 1 MiB.
        assert_eq!(trace_partitions(10_000_000, 1 << 30), 2);
        assert_eq!(trace_partitions(10_000_000, 1 << 20), 1526);
        assert_eq!(trace_partitions(u64::MAX, 1), u32::MAX);
        // The default budget is 1 GiB; a fixed count ignores the span count.
        assert_eq!(TracePartitioning::default().partitions(10_000_000), 2);
        assert_eq!(TracePartitioning::Fixed(3).partitions(10), 3);
        assert_eq!(TracePartitioning::Fixed(0).partitions(10), 1);
    }

    #[test]
    fn sequential_trace_ids_spread_over_the_partitions() {
        let mut counts = [0u32; 7];
        for i in 0..7000u32 {
            let mut id = [0u8; 16];
            id[12..].copy_from_slice(&i.to_be_bytes());
            counts[trace_partition(&id, 7) as usize] += 1;
        }
        // 1000 expected in each; a hash of the bytes keeps each within 15%.
        assert!(
            counts.iter().all(|&c| (850..=1150).contains(&c)),
            "{counts:?}"
        );
        assert_eq!(trace_partition(&[9; 16], 1), 0);
    }
}
