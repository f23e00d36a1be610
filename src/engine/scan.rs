//! The direct scan: the window and both sides' rows of [`super::comparison_input`] in one
//! parallel pass over the canonical spans (Parquet row groups, or in-memory batches).
//!
//! It computes what three SQL scans computed before (`queries/window.sql`,
//! `queries/route_samples.sql` and `queries/operation_samples.sql` over the `requests` view),
//! with the same definitions — the tests in `samples.rs` check both give the same groups:
//!
//! - a span is on the **baseline** side when it matches every non-null field of the baseline
//!   selector (`deployment_track`, `service_version`; a null column matches no value), else on
//!   the **canary** side when it matches the canary selector; the service filter keeps only
//!   spans whose `service_name` equals it;
//! - the **window** comes from every sided span: count, first and last start per side;
//! - a **request** (design §3) is a SERVER span (kind 2), a root span (no parent), or a span
//!   whose parent (same `trace_id`, `span_id` = its `parent_span_id`) is recorded under another
//!   service. The last rule needs the parents: spans that only it can decide (and that have a
//!   route, as route-level groups need) are kept aside as candidates and resolved by a second
//!   pass over `trace_id`, `span_id` and `service_name`, run only when there are candidates;
//! - route-level rows are requests with a `route`; operation-level rows are every sided span,
//!   by `span_name`.
//!
//! Why not SQL: on a 10M-span DATASET the three queries decoded the file three times and the
//! summariser then regrouped their rows; one pass reads each needed column once, only the
//! columns analysis uses (docs/benchmarks.md, "Where the time goes").
//! Rows are gathered with no window filter (the window is known only at the end of the pass);
//! `Scanned::restrict` applies it. Order of rows is not defined: the summariser sorts them.

use super::EngineError;
use crate::model::comparison::Selector;
use ahash::AHashMap;
use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int32Array, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type, TimestampNanosecondType};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use rayon::prelude::*;
use std::fs::File;
use std::path::PathBuf;

/// Where an engine's spans live, for the direct scan.
#[derive(Debug, Clone)]
pub enum SpanSource {
    /// Canonical `spans.parquet` files (resolved paths).
    Files(Vec<PathBuf>),
    /// In-memory batches in the canonical schema or a projection of it holding at least the
    /// columns the scan reads.
    Batches(Vec<RecordBatch>),
}

/// One recorded span or request of a group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Row {
    /// Span start, ns since the epoch.
    pub start_ns: i64,
    /// Duration in ns.
    pub duration_ns: i64,
    /// The design §3 error flag (`is_error`; null counts as no error).
    pub is_error: bool,
    /// `sample_weight`.
    pub weight: f64,
}

/// Baseline and canary rows of one group.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Sides {
    /// Rows of the baseline side.
    pub baseline: Vec<Row>,
    /// Rows of the canary side.
    pub canary: Vec<Row>,
    /// [`trace_hash`] of each baseline row, index by index, when the scan was asked for
    /// traces ([`ScanSpec::traces`]); else empty. Kept beside the rows rather than in [`Row`]
    /// so that analysis, which never needs them, does not carry them.
    pub baseline_traces: Vec<u64>,
    /// As `baseline_traces`, for the canary rows.
    pub canary_traces: Vec<u64>,
}

impl Sides {
    fn push(&mut self, baseline: bool, row: Row, trace: Option<u64>) {
        let (rows, traces) = if baseline {
            (&mut self.baseline, &mut self.baseline_traces)
        } else {
            (&mut self.canary, &mut self.canary_traces)
        };
        rows.push(row);
        if let Some(t) = trace {
            traces.push(t);
        }
    }

    fn append(&mut self, mut o: Sides) {
        self.baseline.append(&mut o.baseline);
        self.canary.append(&mut o.canary);
        self.baseline_traces.append(&mut o.baseline_traces);
        self.canary_traces.append(&mut o.canary_traces);
    }
}

/// The hash a trace is thinned by (`canalyst backtest`): FNV-1a of its 16-byte id; 0 for a
/// span without one.
pub(crate) fn trace_hash(id: Option<&[u8]>) -> u64 {
    id.map_or(0, crate::model::hash::fnv1a64)
}

/// Keeps the rows (and their traces, when recorded) starting in `[start, end)`.
fn retain_window(rows: &mut Vec<Row>, traces: &mut Vec<u64>, start: i64, end: i64) {
    let inside = |r: &Row| r.start_ns >= start && r.start_ns < end;
    if traces.is_empty() {
        rows.retain(inside);
        return;
    }
    let mut keep = rows.iter().map(inside);
    traces.retain(|_| keep.next().unwrap_or(false));
    rows.retain(inside);
}

/// Rows by (service, name).
pub(crate) type Gathered = AHashMap<(String, String), Sides>;

/// Merges `b` into `a`.
pub(crate) fn merge_gathered(mut a: Gathered, b: Gathered) -> Gathered {
    for (k, v) in b {
        a.entry(k).or_default().append(v);
    }
    a
}

/// Spans of one side: how many, first and last start (ns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct SideRange {
    /// Spans of the side.
    pub count: i64,
    /// Earliest start (ns), if any span.
    pub first: Option<i64>,
    /// Latest start (ns), if any span.
    pub last: Option<i64>,
}

impl SideRange {
    fn add(&mut self, t: i64) {
        self.count += 1;
        self.first = Some(self.first.map_or(t, |f| f.min(t)));
        self.last = Some(self.last.map_or(t, |l| l.max(t)));
    }

    fn merge(self, o: Self) -> Self {
        let pick = |a: Option<i64>, b: Option<i64>, f: fn(i64, i64) -> i64| match (a, b) {
            (Some(a), Some(b)) => Some(f(a, b)),
            (a, b) => a.or(b),
        };
        Self {
            count: self.count + o.count,
            first: pick(self.first, o.first, i64::min),
            last: pick(self.last, o.last, i64::max),
        }
    }
}

/// What to scan for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScanSpec<'a> {
    /// Baseline selector.
    pub baseline: &'a Selector,
    /// Canary selector (a span matching both is baseline).
    pub canary: &'a Selector,
    /// Only this `service_name`, when given.
    pub service: Option<&'a str>,
    /// Gather route-level rows (requests with a route).
    pub route: bool,
    /// Gather operation-level rows (every sided span).
    pub operation: bool,
    /// Record each route-level row's [`trace_hash`] in [`Sides`] (reads `trace_id`).
    pub traces: bool,
}

/// The result of [`scan`].
#[derive(Debug, Default)]
pub(crate) struct Scanned {
    /// Baseline, canary.
    pub sides: [SideRange; 2],
    /// Route-level rows by (service, route) (empty unless asked for).
    pub route: Gathered,
    /// Operation-level rows by (service, span name) (empty unless asked for).
    pub operation: Gathered,
}

impl Scanned {
    /// Keeps the rows starting in `[start, end)` and drops groups left with no row, as the
    /// samples queries' window filter does.
    pub(crate) fn restrict(&mut self, start: i64, end: i64) {
        for g in [&mut self.route, &mut self.operation] {
            g.retain(|_, s| {
                retain_window(&mut s.baseline, &mut s.baseline_traces, start, end);
                retain_window(&mut s.canary, &mut s.canary_traces, start, end);
                !(s.baseline.is_empty() && s.canary.is_empty())
            });
        }
    }
}

/// A span that is a request only if its parent is recorded under another service.
#[derive(Debug)]
struct Candidate {
    trace: [u8; 16],
    parent: [u8; 8],
    service: String,
    route: String,
    baseline: bool,
    row: Row,
}

/// A candidate before its trace id is read: row index in its batch.
#[derive(Debug)]
struct Pending {
    index: usize,
    parent: [u8; 8],
    service: String,
    route: String,
    baseline: bool,
    row: Row,
}

#[derive(Debug, Default)]
struct Partial {
    sides: [SideRange; 2],
    route: Gathered,
    operation: Gathered,
    candidates: Vec<Candidate>,
}

impl Partial {
    fn merge(mut self, o: Partial) -> Partial {
        self.sides = [
            self.sides[0].merge(o.sides[0]),
            self.sides[1].merge(o.sides[1]),
        ];
        self.route = merge_gathered(self.route, o.route);
        self.operation = merge_gathered(self.operation, o.operation);
        self.candidates.extend(o.candidates);
        self
    }
}

/// A string column as dictionary keys and values (Utf8), whatever its encoding.
pub(crate) fn dictionary(c: &ArrayRef) -> Result<(Int32Array, ArrayRef), arrow::error::ArrowError> {
    let dict_type = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let c = match c.data_type() {
        DataType::Dictionary(_, _) => cast(c, &dict_type)?,
        _ => cast(&cast(c, &DataType::Utf8)?, &dict_type)?,
    };
    let d = c.as_dictionary::<Int32Type>();
    Ok((d.keys().clone(), cast(d.values(), &DataType::Utf8)?))
}

/// A dictionary-encoded string column, resolved once per batch.
struct Strings {
    keys: Int32Array,
    values: ArrayRef,
}

impl Strings {
    fn of(b: &RecordBatch, name: &str) -> Result<Self, String> {
        let (keys, values) =
            dictionary(column(b, name)?).map_err(|e| format!("column {name}: {e}"))?;
        Ok(Self { keys, values })
    }

    /// The value of row `i`, if neither the row nor its dictionary entry is null.
    fn get(&self, i: usize) -> Option<&str> {
        if self.keys.is_null(i) {
            return None;
        }
        let k = self.keys.value(i) as usize;
        let v = self.values.as_string::<i32>();
        (!v.is_null(k)).then(|| v.value(k))
    }

    /// Per dictionary entry: does it equal `want` (every entry when `want` is `None`)?
    fn entries_equal(&self, want: Option<&str>) -> Vec<bool> {
        let v = self.values.as_string::<i32>();
        (0..v.len())
            .map(|k| match want {
                None => true,
                Some(w) => !v.is_null(k) && v.value(k) == w,
            })
            .collect()
    }

    /// Does row `i` match `want` per [`Strings::entries_equal`]'s table `table`? A null row
    /// matches only `None`.
    fn row_matches(&self, table: &[bool], want: Option<&str>, i: usize) -> bool {
        want.is_none() || (!self.keys.is_null(i) && table[self.keys.value(i) as usize])
    }
}

fn column<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, String> {
    b.column_by_name(name)
        .ok_or_else(|| format!("column {name} is missing"))
}

fn wrong(name: &str, want: &str, c: &ArrayRef) -> String {
    format!("column {name}: expected {want}, found {}", c.data_type())
}

/// The columns [`scan_batch`] reads for `spec`.
fn scan_columns(spec: &ScanSpec) -> Vec<&'static str> {
    let mut c = vec![
        "service_name",
        "service_version",
        "deployment_track",
        "start_time",
        "duration_ns",
        "is_error",
        "sample_weight",
    ];
    if spec.route {
        c.extend(["span_kind", "route"]);
    }
    if spec.route && spec.traces {
        c.push("trace_id");
    }
    if spec.operation {
        c.push("span_name");
    }
    c
}

/// A batch's groups by (service key, name key): a dense table when the two dictionaries are
/// small (a lookup per row instead of a hash), else a hash map.
struct LocalGroups {
    names: usize,
    dense: Vec<u32>,
    index: AHashMap<(i32, i32), u32>,
    groups: Vec<((i32, i32), Sides)>,
}

impl LocalGroups {
    const DENSE_MAX: usize = 1 << 16;

    fn new(services: usize, names: usize) -> Self {
        let cells = services.saturating_mul(names);
        Self {
            names,
            dense: if cells <= Self::DENSE_MAX {
                vec![u32::MAX; cells]
            } else {
                Vec::new()
            },
            index: AHashMap::new(),
            groups: Vec::new(),
        }
    }

    fn get(&mut self, service: i32, name: i32) -> &mut Sides {
        let key = (service, name);
        let slot = if self.dense.is_empty() {
            let next = self.groups.len() as u32;
            *self.index.entry(key).or_insert(next)
        } else {
            let cell = &mut self.dense[service as usize * self.names + name as usize];
            if *cell == u32::MAX {
                *cell = self.groups.len() as u32;
            }
            *cell
        } as usize;
        if slot == self.groups.len() {
            self.groups.push((key, Sides::default()));
        }
        &mut self.groups[slot].1
    }
}

/// One batch: window ranges, rows by group, and the candidates (without trace ids). `more`
/// reads a further column of the same rows.
fn scan_batch(
    b: &RecordBatch,
    spec: &ScanSpec,
    more: &dyn Fn(&str) -> Result<ArrayRef, String>,
) -> Result<(Partial, Vec<Pending>), String> {
    let service = Strings::of(b, "service_name")?;
    let version = Strings::of(b, "service_version")?;
    let track = Strings::of(b, "deployment_track")?;
    let start = column(b, "start_time")?;
    let start = start
        .as_primitive_opt::<TimestampNanosecondType>()
        .ok_or_else(|| wrong("start_time", "Timestamp(ns)", start))?;
    let dur = column(b, "duration_ns")?;
    let dur = dur
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| wrong("duration_ns", "Int64", dur))?;
    let err = column(b, "is_error")?;
    let err: &BooleanArray = err
        .as_boolean_opt()
        .ok_or_else(|| wrong("is_error", "Boolean", err))?;
    let weight = column(b, "sample_weight")?;
    let weight = weight
        .as_primitive_opt::<Float64Type>()
        .ok_or_else(|| wrong("sample_weight", "Float64", weight))?;

    let (sb, sc) = (spec.baseline, spec.canary);
    let tables = [
        track.entries_equal(sb.track.as_deref()),
        version.entries_equal(sb.version.as_deref()),
        track.entries_equal(sc.track.as_deref()),
        version.entries_equal(sc.version.as_deref()),
    ];
    let service_ok = service.entries_equal(spec.service);
    // Which side row `i` is on: Some(true) baseline, Some(false) canary.
    let side = |i: usize| -> Option<bool> {
        if spec.service.is_some()
            && (service.keys.is_null(i) || !service_ok[service.keys.value(i) as usize])
        {
            return None;
        }
        if track.row_matches(&tables[0], sb.track.as_deref(), i)
            && version.row_matches(&tables[1], sb.version.as_deref(), i)
        {
            Some(true)
        } else if track.row_matches(&tables[2], sc.track.as_deref(), i)
            && version.row_matches(&tables[3], sc.version.as_deref(), i)
        {
            Some(false)
        } else {
            None
        }
    };

    struct RouteCols<'a> {
        kind: &'a arrow::array::PrimitiveArray<Int32Type>,
        route: Strings,
    }
    let route_cols = if spec.route {
        let kind = column(b, "span_kind")?;
        Some(RouteCols {
            kind: kind
                .as_primitive_opt::<Int32Type>()
                .ok_or_else(|| wrong("span_kind", "Int32", kind))?,
            route: Strings::of(b, "route")?,
        })
    } else {
        None
    };
    let span_name = if spec.operation {
        Some(Strings::of(b, "span_name")?)
    } else {
        None
    };
    let trace_ids = if route_cols.is_some() && spec.traces {
        let t = column(b, "trace_id")?;
        Some(
            t.as_fixed_size_binary_opt()
                .ok_or_else(|| wrong("trace_id", "FixedSizeBinary(16)", t))?,
        )
    } else {
        None
    };
    let trace_of = |i: usize| trace_ids.map(|t| trace_hash((!t.is_null(i)).then(|| t.value(i))));

    // Groups by dictionary keys while scanning (no string hashing per row); the strings are
    // resolved once per group at the end. A dictionary may repeat a value under two keys, so
    // groups merge again by string.
    let mut route_local = LocalGroups::new(
        service.values.len(),
        route_cols.as_ref().map_or(0, |r| r.route.values.len()),
    );
    let mut op_local = LocalGroups::new(
        service.values.len(),
        span_name.as_ref().map_or(0, |n| n.values.len()),
    );
    // Routed spans that are not SERVER spans: a request only when a root or when the parent
    // is in another service, so only they need `parent_span_id` (read after the loop, and
    // only for batches that have such spans).
    let mut needs_parent: Vec<(usize, bool, Row)> = Vec::new();
    let mut sides = [SideRange::default(); 2];
    for i in 0..b.num_rows() {
        let Some(baseline) = side(i) else { continue };
        let t = start.value(i);
        sides[usize::from(!baseline)].add(t);
        if service.get(i).is_none() {
            continue;
        }
        let row = Row {
            start_ns: t,
            duration_ns: dur.value(i),
            is_error: err.is_valid(i) && err.value(i),
            weight: weight.value(i),
        };
        let s = service.keys.value(i);
        if let Some(rc) = &route_cols {
            if rc.route.get(i).is_some() {
                if !rc.kind.is_null(i) && rc.kind.value(i) == 2 {
                    route_local
                        .get(s, rc.route.keys.value(i))
                        .push(baseline, row, trace_of(i));
                } else {
                    needs_parent.push((i, baseline, row));
                }
            }
        }
        if let Some(n) = &span_name {
            if n.get(i).is_some() {
                op_local.get(s, n.keys.value(i)).push(baseline, row, None);
            }
        }
    }
    let mut pending = Vec::new();
    if let (Some(rc), false) = (&route_cols, needs_parent.is_empty()) {
        let parent = more("parent_span_id")?;
        let parent = parent
            .as_fixed_size_binary_opt()
            .ok_or_else(|| wrong("parent_span_id", "FixedSizeBinary(8)", &parent))?;
        for (i, baseline, row) in needs_parent {
            if parent.is_null(i) {
                route_local
                    .get(service.keys.value(i), rc.route.keys.value(i))
                    .push(baseline, row, trace_of(i));
            } else if !rc.kind.is_null(i) {
                let id: [u8; 8] = parent
                    .value(i)
                    .try_into()
                    .map_err(|_| "column parent_span_id: expected 8-byte ids".to_string())?;
                pending.push(Pending {
                    index: i,
                    parent: id,
                    service: service.get(i).unwrap_or_default().to_string(),
                    route: rc.route.get(i).unwrap_or_default().to_string(),
                    baseline,
                    row,
                });
            }
        }
    }
    let resolve = |local: LocalGroups, names: Option<&Strings>| {
        let mut out = Gathered::new();
        let Some(names) = names else { return out };
        let (sv, nv) = (
            service.values.as_string::<i32>(),
            names.values.as_string::<i32>(),
        );
        for ((s, n), rows) in local.groups {
            let key = (
                sv.value(s as usize).to_string(),
                nv.value(n as usize).to_string(),
            );
            out.entry(key).or_default().append(rows);
        }
        out
    };
    let partial = Partial {
        sides,
        route: resolve(route_local, route_cols.as_ref().map(|r| &r.route)),
        operation: resolve(op_local, span_name.as_ref()),
        candidates: Vec::new(),
    };
    Ok((partial, pending))
}

/// Attaches trace ids (from `trace_id`) to a batch's pending candidates.
fn attach_traces(pending: Vec<Pending>, trace_id: &ArrayRef) -> Result<Vec<Candidate>, String> {
    let t = trace_id
        .as_fixed_size_binary_opt()
        .ok_or_else(|| wrong("trace_id", "FixedSizeBinary(16)", trace_id))?;
    pending
        .into_iter()
        .map(|p| {
            let trace: [u8; 16] = t
                .value(p.index)
                .try_into()
                .map_err(|_| "column trace_id: expected 16-byte ids".to_string())?;
            Ok(Candidate {
                trace,
                parent: p.parent,
                service: p.service,
                route: p.route,
                baseline: p.baseline,
                row: p.row,
            })
        })
        .collect()
}

/// One unit of parallel work: a row group of a file, or an in-memory batch.
#[derive(Debug, Clone, Copy)]
enum Unit {
    RowGroup { file: usize, row_group: usize },
    Batch(usize),
}

struct Opened {
    path: PathBuf,
    meta: ArrowReaderMetadata,
}

fn open(paths: &[PathBuf]) -> Result<Vec<Opened>, EngineError> {
    paths
        .iter()
        .map(|p| {
            let bad = |reason: String| EngineError::Input {
                path: p.clone(),
                reason,
            };
            let file = File::open(p).map_err(|e| bad(format!("opening: {e}")))?;
            let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
                .map_err(|e| bad(format!("reading Parquet metadata: {e}")))?;
            Ok(Opened {
                path: p.clone(),
                meta,
            })
        })
        .collect()
}

/// Reads `columns` of one row group as one batch (empty batch for an empty row group).
fn read_row_group(o: &Opened, row_group: usize, columns: &[&str]) -> Result<RecordBatch, String> {
    let schema = o.meta.schema();
    let mut roots = Vec::with_capacity(columns.len());
    for c in columns {
        roots.push(
            schema
                .index_of(c)
                .map_err(|_| format!("column {c} is missing"))?,
        );
    }
    let mask = ProjectionMask::roots(o.meta.metadata().file_metadata().schema_descr(), roots);
    let rows = o.meta.metadata().row_group(row_group).num_rows().max(1) as usize;
    // A file of its own: clones of one handle share the seek position, and the readers of
    // other row groups seek it concurrently.
    let file = File::open(&o.path).map_err(|e| format!("opening: {e}"))?;
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, o.meta.clone())
        .with_projection(mask)
        .with_row_groups(vec![row_group])
        .with_batch_size(rows)
        .build()
        .map_err(|e| format!("reading row group {row_group}: {e}"))?;
    let schema = arrow::record_batch::RecordBatchReader::schema(&reader);
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("reading row group {row_group}: {e}"))?;
    match batches.len() {
        1 => Ok(batches.into_iter().next().expect("one batch")),
        _ => arrow::compute::concat_batches(&schema, &batches).map_err(|e| e.to_string()),
    }
}

fn units(source: &SpanSource, opened: &[Opened]) -> Vec<Unit> {
    match source {
        SpanSource::Files(_) => opened
            .iter()
            .enumerate()
            .flat_map(|(file, o)| {
                (0..o.meta.metadata().num_row_groups())
                    .map(move |row_group| Unit::RowGroup { file, row_group })
            })
            .collect(),
        SpanSource::Batches(b) => (0..b.len()).map(Unit::Batch).collect(),
    }
}

/// Runs `f` on the batch of `unit` holding `columns`; errors name the file or batch.
fn with_unit<T>(
    source: &SpanSource,
    opened: &[Opened],
    unit: Unit,
    columns: &[&str],
    f: impl FnOnce(&RecordBatch, &dyn Fn(&str) -> Result<ArrayRef, String>) -> Result<T, String>,
) -> Result<T, EngineError> {
    match (source, unit) {
        (SpanSource::Files(_), Unit::RowGroup { file, row_group }) => {
            let o = &opened[file];
            let err = |reason: String| EngineError::Input {
                path: o.path.clone(),
                reason,
            };
            let b = read_row_group(o, row_group, columns).map_err(err)?;
            let more = |c: &str| -> Result<ArrayRef, String> {
                let extra = read_row_group(o, row_group, &[c])?;
                Ok(extra.column(0).clone())
            };
            f(&b, &more).map_err(err)
        }
        (SpanSource::Batches(batches), Unit::Batch(index)) => {
            let b = &batches[index];
            let more = |c: &str| column(b, c).cloned();
            f(b, &more).map_err(|reason| EngineError::Schema { index, reason })
        }
        _ => unreachable!("units are made from their source"),
    }
}

/// Scans `source` once (twice when some spans need their parent looked up) for `spec`.
pub(crate) fn scan(source: &SpanSource, spec: &ScanSpec) -> Result<Scanned, EngineError> {
    let opened = match source {
        SpanSource::Files(paths) => open(paths)?,
        SpanSource::Batches(_) => Vec::new(),
    };
    let units = units(source, &opened);
    let columns = scan_columns(spec);
    let partial = units
        .par_iter()
        .map(|&u| {
            with_unit(source, &opened, u, &columns, |b, more| {
                let (mut p, pending) = scan_batch(b, spec, more)?;
                if !pending.is_empty() {
                    let trace_id = match b.column_by_name("trace_id") {
                        Some(t) => t.clone(),
                        None => more("trace_id")?,
                    };
                    p.candidates = attach_traces(pending, &trace_id)?;
                }
                Ok(p)
            })
        })
        .try_reduce(Partial::default, |a, b| Ok(a.merge(b)))?;
    let Partial {
        sides,
        mut route,
        operation,
        candidates,
    } = partial;
    if !candidates.is_empty() {
        let confirmed = confirm(source, &opened, &units, &candidates)?;
        for (i, c) in candidates.into_iter().enumerate() {
            if confirmed[i] {
                route.entry((c.service, c.route)).or_default().push(
                    c.baseline,
                    c.row,
                    spec.traces.then(|| trace_hash(Some(&c.trace))),
                );
            }
        }
    }
    Ok(Scanned {
        sides,
        route,
        operation,
    })
}

/// Which candidates have a parent span (same trace, span id = their parent id) recorded under
/// another service: a pass over `trace_id`, `span_id`, `service_name`.
fn confirm(
    source: &SpanSource,
    opened: &[Opened],
    units: &[Unit],
    candidates: &[Candidate],
) -> Result<Vec<bool>, EngineError> {
    let mut by_parent: AHashMap<([u8; 16], [u8; 8]), Vec<usize>> = AHashMap::new();
    for (i, c) in candidates.iter().enumerate() {
        by_parent.entry((c.trace, c.parent)).or_default().push(i);
    }
    let columns = ["trace_id", "span_id", "service_name"];
    let found = units
        .par_iter()
        .map(|&u| {
            with_unit(source, opened, u, &columns, |b, _| {
                let t = column(b, "trace_id")?;
                let t = t
                    .as_fixed_size_binary_opt()
                    .ok_or_else(|| wrong("trace_id", "FixedSizeBinary(16)", t))?;
                let s = column(b, "span_id")?;
                let s = s
                    .as_fixed_size_binary_opt()
                    .ok_or_else(|| wrong("span_id", "FixedSizeBinary(8)", s))?;
                let service = Strings::of(b, "service_name")?;
                let mut out = Vec::new();
                for i in 0..b.num_rows() {
                    if t.is_null(i) || s.is_null(i) {
                        continue;
                    }
                    let (Ok(trace), Ok(span)) = (
                        <[u8; 16]>::try_from(t.value(i)),
                        <[u8; 8]>::try_from(s.value(i)),
                    ) else {
                        continue;
                    };
                    let Some(list) = by_parent.get(&(trace, span)) else {
                        continue;
                    };
                    let Some(parent_service) = service.get(i) else {
                        continue;
                    };
                    out.extend(
                        list.iter()
                            .copied()
                            .filter(|&c| candidates[c].service != parent_service),
                    );
                }
                Ok(out)
            })
        })
        .try_reduce(Vec::new, |mut a, b| {
            a.extend(b);
            Ok(a)
        })?;
    let mut confirmed = vec![false; candidates.len()];
    for i in found {
        confirmed[i] = true;
    }
    Ok(confirmed)
}
