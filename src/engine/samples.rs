//! Comparison input: SQL selects the window and the rows of both sides; rayon builds the
//! per-group samples.
//!
//! Determinism: groups are sorted by [`GroupKey`], the rows of each group are put in a
//! canonical order (start time, duration, error flag, weight) before anything is summed, and
//! durations are sorted, so the output does not depend on DataFusion's partitioning or on the
//! number of rayon threads.

use super::context::Engine;
use super::queries::{self, Params, Query};
use super::quantile::{quantile_sorted, sort_values, standard_quantiles};
use super::summary::{
    ComparisonInput, GroupComparison, GroupKey, GroupLevel, Selector, TimeBucket, TrackSample,
    Window,
};
use super::EngineError;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use rayon::prelude::*;
use std::collections::HashMap;

/// Default time-bucket width: one minute.
pub const DEFAULT_BUCKET_NS: i64 = 60_000_000_000;

/// What to compare and how to cut it.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineOptions {
    /// Only this `service.name` (all services when `None`).
    pub service: Option<String>,
    /// Window start override, ns since the epoch (default: start of the overlap).
    pub since_unix_nano: Option<i64>,
    /// Window end override (exclusive), ns since the epoch (default: end of the overlap).
    pub until_unix_nano: Option<i64>,
    /// Time-bucket width in nanoseconds.
    pub bucket_ns: i64,
    /// Groups whose baseline plus canary count is below this are left out.
    pub min_group_count: u64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            service: None,
            since_unix_nano: None,
            until_unix_nano: None,
            bucket_ns: DEFAULT_BUCKET_NS,
            min_group_count: 1,
        }
    }
}

/// The default selectors: track `stable` versus track `canary`.
pub fn default_selectors() -> (Selector, Selector) {
    let t = |s: &str| Selector {
        track: Some(s.to_string()),
        version: None,
    };
    (t("stable"), t("canary"))
}

fn render(s: &Selector) -> String {
    match (&s.track, &s.version) {
        (Some(t), Some(v)) => format!("track {t:?}, version {v:?}"),
        (Some(t), None) => format!("track {t:?}"),
        (None, Some(v)) => format!("version {v:?}"),
        (None, None) => "everything".into(),
    }
}

fn validate(baseline: &Selector, canary: &Selector, opts: &EngineOptions) -> Result<(), EngineError> {
    for (side, s) in [("baseline", baseline), ("canary", canary)] {
        if s.track.is_none() && s.version.is_none() {
            return Err(EngineError::Selector(format!(
                "the {side} selector needs a track or a version"
            )));
        }
    }
    if baseline == canary {
        return Err(EngineError::Selector(format!(
            "baseline and canary are the same ({})",
            render(baseline)
        )));
    }
    if opts.bucket_ns <= 0 {
        return Err(EngineError::Options(format!(
            "bucket width must be positive, got {} ns",
            opts.bucket_ns
        )));
    }
    Ok(())
}

/// Result of [`queries::WINDOW`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ranges {
    baseline_spans: i64,
    canary_spans: i64,
    baseline_first: Option<i64>,
    baseline_last: Option<i64>,
    canary_first: Option<i64>,
    canary_last: Option<i64>,
    window_start: Option<i64>,
    window_last: Option<i64>,
}

fn i64_col(q: &Query, b: &RecordBatch, name: &str) -> Result<Vec<Option<i64>>, EngineError> {
    let shape = |reason: String| EngineError::ResultShape {
        query: q.name.into(),
        column: name.into(),
        reason,
    };
    let c = b
        .column_by_name(name)
        .ok_or_else(|| shape("missing".into()))?;
    if c.data_type() != &DataType::Int64 {
        return Err(shape(format!("expected Int64, found {}", c.data_type())));
    }
    Ok(c.as_primitive::<Int64Type>().iter().collect())
}

async fn ranges(engine: &Engine, params: &Params) -> Result<Ranges, EngineError> {
    let q = queries::WINDOW;
    let (_, batches) = engine.query(q.name, q.sql, params.selector_values()).await?;
    let b = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .ok_or_else(|| EngineError::ResultShape {
            query: q.name.into(),
            column: "*".into(),
            reason: "no row".into(),
        })?;
    let get = |n: &str| -> Result<Option<i64>, EngineError> { Ok(i64_col(&q, b, n)?[0]) };
    Ok(Ranges {
        baseline_spans: get("baseline_spans")?.unwrap_or(0),
        canary_spans: get("canary_spans")?.unwrap_or(0),
        baseline_first: get("baseline_first")?,
        baseline_last: get("baseline_last")?,
        canary_first: get("canary_first")?,
        canary_last: get("canary_last")?,
        window_start: get("window_start")?,
        window_last: get("window_last")?,
    })
}

/// Builds everything analysis needs (see [`ComparisonInput`]): the window (the overlap of the
/// two sides unless overridden), then route-level groups (requests by route) and
/// operation-level groups (all spans by span name), each with both sides' samples and time
/// series. Groups seen on one side only get an empty other side.
pub async fn comparison_input(
    engine: &Engine,
    baseline: &Selector,
    canary: &Selector,
    opts: &EngineOptions,
) -> Result<ComparisonInput, EngineError> {
    validate(baseline, canary, opts)?;
    let mut params = Params {
        baseline: baseline.clone(),
        canary: canary.clone(),
        service: opts.service.clone(),
        window: Window {
            start_unix_nano: 0,
            end_unix_nano: 0,
        },
        bucket_ns: opts.bucket_ns,
    };
    let r = ranges(engine, &params).await?;
    let filter = match &opts.service {
        Some(s) => format!(" for service {s:?}"),
        None => String::new(),
    };
    for (side, n, s) in [
        ("baseline", r.baseline_spans, baseline),
        ("canary", r.canary_spans, canary),
    ] {
        if n == 0 {
            return Err(EngineError::EmptySide {
                side,
                selector: render(s),
                filter: filter.clone(),
            });
        }
    }
    let start = match opts.since_unix_nano.or(r.window_start) {
        Some(s) => s,
        None => return Err(no_overlap(&r)),
    };
    let end = match opts.until_unix_nano.or(r.window_last.map(|l| l.saturating_add(1))) {
        Some(e) => e,
        None => return Err(no_overlap(&r)),
    };
    if start >= end {
        return Err(EngineError::Options(format!(
            "empty window: start {start} ns is not before end {end} ns"
        )));
    }
    params.window = Window {
        start_unix_nano: start,
        end_unix_nano: end,
    };
    let mut groups = Vec::new();
    for (level, q) in [
        (GroupLevel::Route, queries::ROUTE_SAMPLES),
        (GroupLevel::Operation, queries::OPERATION_SAMPLES),
    ] {
        let (_, batches) = engine.query(q.name, q.sql, params.values()).await?;
        groups.extend(build_groups(level, &q, &batches, opts)?);
    }
    groups.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(ComparisonInput {
        baseline: baseline.clone(),
        canary: canary.clone(),
        window: params.window,
        bucket_ns: opts.bucket_ns,
        canary_first_seen_unix_nano: r.canary_first,
        groups,
    })
}

fn no_overlap(r: &Ranges) -> EngineError {
    EngineError::NoOverlap {
        baseline_first: r.baseline_first.unwrap_or_default(),
        baseline_last: r.baseline_last.unwrap_or_default(),
        canary_first: r.canary_first.unwrap_or_default(),
        canary_last: r.canary_last.unwrap_or_default(),
    }
}

/// One recorded span or request of a group.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Row {
    start_ns: i64,
    duration_ns: i64,
    is_error: bool,
    weight: f64,
}

impl Row {
    fn canonical_cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.start_ns
            .cmp(&o.start_ns)
            .then(self.duration_ns.cmp(&o.duration_ns))
            .then(self.is_error.cmp(&o.is_error))
            .then(self.weight.total_cmp(&o.weight))
    }
}

/// Baseline and canary rows of one group.
#[derive(Debug, Default)]
struct Sides {
    baseline: Vec<Row>,
    canary: Vec<Row>,
}

type Gathered = HashMap<(String, String), Sides>;

fn gather_batch(q: &Query, b: &RecordBatch) -> Result<Gathered, EngineError> {
    let shape = |column: &str, reason: &str| EngineError::ResultShape {
        query: q.name.into(),
        column: column.into(),
        reason: reason.into(),
    };
    let col = |n: &str| b.column_by_name(n).ok_or_else(|| shape(n, "missing"));
    let side = col("side")?
        .as_string_opt::<i32>()
        .ok_or_else(|| shape("side", "expected Utf8"))?;
    let service = col("service_name")?
        .as_string_opt::<i32>()
        .ok_or_else(|| shape("service_name", "expected Utf8"))?;
    let name = col("name")?
        .as_string_opt::<i32>()
        .ok_or_else(|| shape("name", "expected Utf8"))?;
    let start = col("start_ns")?
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| shape("start_ns", "expected Int64"))?;
    let dur = col("duration_ns")?
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| shape("duration_ns", "expected Int64"))?;
    let err = col("is_error")?
        .as_boolean_opt()
        .ok_or_else(|| shape("is_error", "expected Boolean"))?;
    let weight = col("sample_weight")?
        .as_primitive_opt::<Float64Type>()
        .ok_or_else(|| shape("sample_weight", "expected Float64"))?;
    // Borrow the strings while scanning; allocate once per group, not per row.
    let mut local: HashMap<(&str, &str), Sides> = HashMap::new();
    for i in 0..b.num_rows() {
        if side.is_null(i) || service.is_null(i) || name.is_null(i) {
            continue;
        }
        let row = Row {
            start_ns: start.value(i),
            duration_ns: dur.value(i),
            is_error: err.is_valid(i) && err.value(i),
            weight: weight.value(i),
        };
        let entry = local.entry((service.value(i), name.value(i))).or_default();
        match side.value(i) {
            "baseline" => entry.baseline.push(row),
            "canary" => entry.canary.push(row),
            other => return Err(shape("side", &format!("unexpected value {other:?}"))),
        }
    }
    let out: Gathered = local
        .into_iter()
        .map(|((s, n), v)| ((s.to_string(), n.to_string()), v))
        .collect();
    Ok(out)
}

fn merge_gathered(mut a: Gathered, b: Gathered) -> Gathered {
    for (k, v) in b {
        let e = a.entry(k).or_default();
        e.baseline.extend(v.baseline);
        e.canary.extend(v.canary);
    }
    a
}

/// Groups the rows of a `*_samples.sql` result by (service, name) and summarises every group
/// in parallel. Output sorted by key; groups below `opts.min_group_count` are dropped.
fn build_groups(
    level: GroupLevel,
    q: &Query,
    batches: &[RecordBatch],
    opts: &EngineOptions,
) -> Result<Vec<GroupComparison>, EngineError> {
    let gathered = batches
        .par_iter()
        .map(|b| gather_batch(q, b))
        .try_reduce(Gathered::new, |a, b| Ok(merge_gathered(a, b)))?;
    let mut keyed: Vec<(GroupKey, Sides)> = gathered
        .into_iter()
        .map(|((service, name), sides)| {
            (
                GroupKey {
                    service,
                    level,
                    name,
                },
                sides,
            )
        })
        .filter(|(_, s)| (s.baseline.len() + s.canary.len()) as u64 >= opts.min_group_count)
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let bucket_ns = opts.bucket_ns;
    Ok(keyed
        .into_par_iter()
        .map(|(key, mut sides)| {
            let (baseline, baseline_series) = summarise(&mut sides.baseline, bucket_ns);
            let (canary, canary_series) = summarise(&mut sides.canary, bucket_ns);
            GroupComparison {
                key,
                baseline,
                canary,
                baseline_series,
                canary_series,
            }
        })
        .collect())
}

fn ms(duration_ns: i64) -> f64 {
    // Same expression as the SQL (`CAST(duration_ns AS DOUBLE) / 1e6`), so both paths agree.
    duration_ns as f64 / 1e6
}

/// Sample and time series of one side of one group; sorts `rows` canonically.
fn summarise(rows: &mut [Row], bucket_ns: i64) -> (TrackSample, Vec<TimeBucket>) {
    rows.sort_unstable_by(Row::canonical_cmp);
    let mut sample = TrackSample {
        count: rows.len() as u64,
        ..TrackSample::default()
    };
    for r in rows.iter() {
        sample.weighted_count += r.weight;
        if r.is_error {
            sample.errors += 1;
            sample.weighted_errors += r.weight;
        }
    }
    let mut durations: Vec<f64> = rows.iter().map(|r| ms(r.duration_ns)).collect();
    sort_values(&mut durations);
    sample.quantiles = standard_quantiles(&durations);
    sample.durations_ms = durations;

    let mut series = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let start = bucket_start(rows[i].start_ns, bucket_ns);
        let mut j = i;
        while j < rows.len() && bucket_start(rows[j].start_ns, bucket_ns) == start {
            j += 1;
        }
        let chunk = &rows[i..j];
        let mut b = TimeBucket {
            start_unix_nano: start,
            count: chunk.len() as u64,
            ..TimeBucket::default()
        };
        for r in chunk {
            b.weighted_count += r.weight;
            if r.is_error {
                b.errors += 1;
                b.weighted_errors += r.weight;
            }
        }
        let mut d: Vec<f64> = chunk.iter().map(|r| ms(r.duration_ns)).collect();
        sort_values(&mut d);
        b.p50_ms = quantile_sorted(&d, 0.5);
        b.p99_ms = quantile_sorted(&d, 0.99);
        series.push(b);
        i = j;
    }
    (sample, series)
}

/// Start of the bucket holding `t`, buckets aligned to the Unix epoch (as SQL `date_bin` with
/// origin 1970-01-01 computes it).
pub fn bucket_start(t: i64, bucket_ns: i64) -> i64 {
    t.div_euclid(bucket_ns) * bucket_ns
}
