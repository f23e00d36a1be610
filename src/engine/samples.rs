//! Comparison input: SQL selects the window and the rows of both sides; rayon builds the
//! per-group samples.
//!
//! Determinism: groups are sorted by [`GroupKey`], the rows of each group are put in a
//! canonical order (start time, duration, error flag, weight) before anything is summed, and
//! durations are sorted, so the output does not depend on DataFusion's partitioning or on the
//! number of rayon threads.

use super::context::Engine;
use super::quantile::{quantile_sorted, standard_quantiles};
use super::queries::{self, Params, Query};
use super::EngineError;
use crate::model::comparison::{
    bucket_start, ComparisonInput, GroupComparison, GroupKey, GroupLevel, Selector, TimeBucket,
    TrackSample, Window,
};
use ahash::AHashMap;
use arrow::array::{Array, ArrayRef, AsArray, Int32Array, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};
use rayon::prelude::*;

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
    /// Levels to build. Operation-level groups cover every span, so building them when no
    /// one judges them is most of the work (and memory) on large inputs.
    pub levels: Vec<GroupLevel>,
    /// Also record the time bucket of every duration ([`TrackSample::duration_buckets`]), for
    /// the sequential latency gates. Off by default: it costs a wider sort per group.
    pub duration_buckets: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            service: None,
            since_unix_nano: None,
            until_unix_nano: None,
            bucket_ns: DEFAULT_BUCKET_NS,
            min_group_count: 1,
            levels: vec![GroupLevel::Route, GroupLevel::Operation],
            duration_buckets: false,
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

fn validate(
    baseline: &Selector,
    canary: &Selector,
    opts: &EngineOptions,
) -> Result<(), EngineError> {
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
    let (_, batches) = engine
        .query(q.name, q.sql, params.selector_values())
        .await?;
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
    let timing = crate::timings::phase("window query");
    let r = ranges(engine, &params).await?;
    drop(timing);
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
    let end = match opts
        .until_unix_nano
        .or(r.window_last.map(|l| l.saturating_add(1)))
    {
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
    for (level, q, query_phase, group_phase) in [
        (
            GroupLevel::Route,
            queries::ROUTE_SAMPLES,
            "route samples query",
            "route groups",
        ),
        (
            GroupLevel::Operation,
            queries::OPERATION_SAMPLES,
            "operation samples query",
            "operation groups",
        ),
    ] {
        if !opts.levels.contains(&level) {
            continue;
        }
        let timing = crate::timings::phase(query_phase);
        let (_, batches) = engine.query(q.name, q.sql, params.values()).await?;
        drop(timing);
        let _timing = crate::timings::phase(group_phase);
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

type Gathered = AHashMap<(String, String), Sides>;

fn gather_batch(q: &Query, b: &RecordBatch) -> Result<Gathered, EngineError> {
    let shape = |column: &str, reason: &str| EngineError::ResultShape {
        query: q.name.into(),
        column: column.into(),
        reason: reason.into(),
    };
    let col = |n: &str| b.column_by_name(n).ok_or_else(|| shape(n, "missing"));
    let side = cast(col("side")?, &DataType::Utf8).map_err(|e| shape("side", &e.to_string()))?;
    let side = side.as_string::<i32>();
    let (service_keys, service_values) =
        dictionary(col("service_name")?).map_err(|e| shape("service_name", &e.to_string()))?;
    let (name_keys, name_values) =
        dictionary(col("name")?).map_err(|e| shape("name", &e.to_string()))?;
    let (service_values, name_values) = (
        service_values.as_string::<i32>(),
        name_values.as_string::<i32>(),
    );
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
    // Group by dictionary keys while scanning (no string hashing per row); resolve the
    // strings once per group. Dictionaries may repeat a value under two keys, so groups are
    // merged again by string.
    let mut local: AHashMap<(i32, i32), Sides> = AHashMap::new();
    for i in 0..b.num_rows() {
        if side.is_null(i) || service_keys.is_null(i) || name_keys.is_null(i) {
            continue;
        }
        let row = Row {
            start_ns: start.value(i),
            duration_ns: dur.value(i),
            is_error: err.is_valid(i) && err.value(i),
            weight: weight.value(i),
        };
        let entry = local
            .entry((service_keys.value(i), name_keys.value(i)))
            .or_default();
        match side.value(i) {
            "baseline" => entry.baseline.push(row),
            "canary" => entry.canary.push(row),
            other => return Err(shape("side", &format!("unexpected value {other:?}"))),
        }
    }
    let mut out = Gathered::new();
    for ((s, n), v) in local {
        let (s, n) = (s as usize, n as usize);
        if service_values.is_null(s) || name_values.is_null(n) {
            continue;
        }
        let key = (
            service_values.value(s).to_string(),
            name_values.value(n).to_string(),
        );
        let e = out.entry(key).or_default();
        e.baseline.extend(v.baseline);
        e.canary.extend(v.canary);
    }
    Ok(out)
}

/// A string column as dictionary keys and values (Utf8), whatever its encoding.
fn dictionary(c: &ArrayRef) -> Result<(Int32Array, ArrayRef), arrow::error::ArrowError> {
    let dict_type = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let c = match c.data_type() {
        DataType::Dictionary(_, _) => cast(c, &dict_type)?,
        _ => cast(&cast(c, &DataType::Utf8)?, &dict_type)?,
    };
    let d = c.as_dictionary::<Int32Type>();
    Ok((d.keys().clone(), cast(d.values(), &DataType::Utf8)?))
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
    let (bucket_ns, with_buckets) = (opts.bucket_ns, opts.duration_buckets);
    Ok(keyed
        .into_par_iter()
        .map(|(key, mut sides)| {
            let (baseline, baseline_series) =
                summarise(&mut sides.baseline, bucket_ns, with_buckets);
            let (canary, canary_series) = summarise(&mut sides.canary, bucket_ns, with_buckets);
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

/// Durations of `rows` in milliseconds, ascending. Sorted as integers (faster than floats)
/// before converting: [`ms`] is monotone, so the result equals sorting the converted values.
fn sorted_ms(rows: &[Row]) -> Vec<f64> {
    let mut ns: Vec<i64> = rows.iter().map(|r| r.duration_ns).collect();
    ns.sort_unstable();
    ns.into_iter().map(ms).collect()
}

/// Durations of `rows` (canonically sorted, so in time order) in milliseconds, ascending, with
/// the index of each one's time bucket among the non-empty buckets of `rows`: the data the
/// sequential latency gates merge look by look. Sorted as `(ns, bucket)` pairs, so equal
/// durations keep time order and the result does not depend on the sort's stability.
fn sorted_ms_with_buckets(rows: &[Row], bucket_ns: i64) -> (Vec<f64>, Vec<u32>) {
    let mut bucket = 0u32;
    let mut pairs: Vec<(i64, u32)> = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        if i > 0
            && bucket_start(r.start_ns, bucket_ns) != bucket_start(rows[i - 1].start_ns, bucket_ns)
        {
            bucket += 1;
        }
        pairs.push((r.duration_ns, bucket));
    }
    pairs.sort_unstable();
    pairs.into_iter().map(|(d, b)| (ms(d), b)).unzip()
}

/// Sample and time series of one side of one group; sorts `rows` canonically. With
/// `with_buckets` the sample also gets [`TrackSample::duration_buckets`].
fn summarise(
    rows: &mut [Row],
    bucket_ns: i64,
    with_buckets: bool,
) -> (TrackSample, Vec<TimeBucket>) {
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
    let durations = if with_buckets {
        let (d, b) = sorted_ms_with_buckets(rows, bucket_ns);
        sample.duration_buckets = b;
        d
    } else {
        sorted_ms(rows)
    };
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
        let d = sorted_ms(chunk);
        b.p50_ms = quantile_sorted(&d, 0.5);
        b.p99_ms = quantile_sorted(&d, 0.99);
        series.push(b);
        i = j;
    }
    (sample, series)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::context::EngineConfig;
    use crate::engine::testdata::{deployment, MIN, T0};
    use arrow::array::{Float64Array, Int64Array, StringArray};
    use arrow::compute::concat_batches;

    const S: i64 = 1_000_000_000;

    async fn engine(partitions: usize) -> Engine {
        Engine::from_batches_with(
            deployment(),
            EngineConfig {
                target_partitions: partitions,
            },
        )
        .await
        .unwrap()
    }

    fn group<'a>(
        ci: &'a ComparisonInput,
        service: &str,
        level: GroupLevel,
        name: &str,
    ) -> &'a GroupComparison {
        ci.groups
            .iter()
            .find(|g| g.key.service == service && g.key.level == level && g.key.name == name)
            .unwrap_or_else(|| panic!("no group {service} {level:?} {name}"))
    }

    async fn default_input(
        e: &Engine,
        opts: &EngineOptions,
    ) -> Result<ComparisonInput, EngineError> {
        let (b, c) = default_selectors();
        comparison_input(e, &b, &c, opts).await
    }

    #[tokio::test]
    async fn window_groups_and_sides() {
        let e = engine(2).await;
        let ci = default_input(&e, &EngineOptions::default()).await.unwrap();
        // Overlap: canary's first span (minute 3) to canary's last span start (minute 7 + 3 µs).
        assert_eq!(ci.window.start_unix_nano, T0 + 3 * MIN);
        assert_eq!(ci.window.end_unix_nano, T0 + 7 * MIN + 3_000 + 1);
        assert_eq!(ci.canary_first_seen_unix_nano, Some(T0 + 3 * MIN));
        // Sorted by key, route groups before operation groups within a service.
        let keys: Vec<_> = ci.groups.iter().map(|g| g.key.clone()).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);

        // Stable traces every 6 s from minute 3 to 7 inclusive: 41; canary every 12 s: 21.
        let cart_route = group(&ci, "checkout", GroupLevel::Route, "/cart/{id}");
        assert_eq!(cart_route.baseline.count, 41);
        assert_eq!(cart_route.canary.count, 21);
        // Every 5th trace errs: stable i = 30, 35, …, 70 (HTTP 503); canary i = 0, 5, …, 20.
        assert_eq!(cart_route.baseline.errors, 9);
        assert_eq!(cart_route.canary.errors, 5);
        assert_eq!(cart_route.baseline.weighted_count, 41.0);
        assert_eq!(cart_route.baseline.durations_ms.len(), 41);
        assert!(cart_route
            .baseline
            .durations_ms
            .windows(2)
            .all(|w| w[0] <= w[1]));
        let items = group(&ci, "cart", GroupLevel::Route, "/items");
        assert_eq!((items.baseline.count, items.canary.count), (41, 21));

        // Canary-only route: present with an empty baseline.
        let new = group(&ci, "checkout", GroupLevel::Route, "/new");
        assert_eq!(new.baseline, TrackSample::default());
        assert!(new.baseline_series.is_empty());
        assert_eq!(new.canary.count, 5);

        // Requests without a route (root INTERNAL, root PRODUCER, cross-service CONSUMER) are no
        // route group; internal and client spans are no request at all.
        let routes: Vec<_> = ci
            .groups
            .iter()
            .filter(|g| g.key.level == GroupLevel::Route)
            .map(|g| (g.key.service.as_str(), g.key.name.as_str()))
            .collect();
        assert_eq!(
            routes,
            vec![
                ("cart", "/items"),
                ("checkout", "/cart/{id}"),
                ("checkout", "/new")
            ]
        );

        // Operation level covers every span; weights count.
        let db = group(&ci, "checkout", GroupLevel::Operation, "db.query");
        assert_eq!(db.baseline.count, 41);
        assert_eq!(db.baseline.weighted_count, 82.0);
        assert_eq!(db.canary.weighted_count, 21.0);
        let cron = group(&ci, "checkout", GroupLevel::Operation, "cron.sweep");
        assert_eq!((cron.baseline.count, cron.canary.count), (0, 5));

        // Series: one-minute buckets, counts add up to the sample.
        let total: u64 = cart_route.baseline_series.iter().map(|b| b.count).sum();
        assert_eq!(total, 41);
        assert_eq!(cart_route.baseline_series[0].start_unix_nano, T0 + 3 * MIN);
        assert_eq!(cart_route.baseline_series.len(), 5);
        assert_eq!(cart_route.baseline_series[0].count, 10);
        assert_eq!(cart_route.baseline_series[4].count, 1);
    }

    #[tokio::test]
    async fn quantiles_are_exact_type7() {
        let e = engine(3).await;
        let ci = default_input(&e, &EngineOptions::default()).await.unwrap();
        let g = group(&ci, "checkout", GroupLevel::Route, "/cart/{id}");
        // Recompute the stable durations from the fixture's rule: (10 + 7919·i mod 90) ms.
        let mut want: Vec<f64> = (30u64..=70)
            .map(|i| ((10 + (i * 7919) % 90) as f64 * 1e6) as i64 as f64 / 1e6)
            .collect();
        want.sort_by(f64::total_cmp);
        assert_eq!(g.baseline.durations_ms, want);
        assert_eq!(g.baseline.quantiles.p50, quantile_sorted(&want, 0.5));
        assert_eq!(g.baseline.quantiles.p99, quantile_sorted(&want, 0.99));
        assert!(g.canary.quantiles.p50 > g.baseline.quantiles.p50);
    }

    #[tokio::test]
    async fn service_filter_window_override_and_min_count() {
        let e = engine(2).await;
        let opts = EngineOptions {
            service: Some("cart".into()),
            ..EngineOptions::default()
        };
        let ci = default_input(&e, &opts).await.unwrap();
        assert!(ci.groups.iter().all(|g| g.key.service == "cart"));
        assert!(!ci.groups.is_empty());

        let opts = EngineOptions {
            since_unix_nano: Some(T0),
            until_unix_nano: Some(T0 + 10 * MIN),
            min_group_count: 10,
            ..EngineOptions::default()
        };
        let ci = default_input(&e, &opts).await.unwrap();
        assert_eq!(ci.window.start_unix_nano, T0);
        let g = group(&ci, "checkout", GroupLevel::Route, "/cart/{id}");
        assert_eq!(g.baseline.count, 91);
        // `/new` has 5 requests, `consume` 1 + 2: dropped below 10.
        assert!(ci
            .groups
            .iter()
            .all(|g| g.baseline.count + g.canary.count >= 10));
        assert!(!ci.groups.iter().any(|g| g.key.name == "/new"));
    }

    #[tokio::test]
    async fn selection_by_version_equals_selection_by_track() {
        let e = engine(2).await;
        let by_track = default_input(&e, &EngineOptions::default()).await.unwrap();
        let v = |s: &str| Selector {
            track: None,
            version: Some(s.into()),
        };
        let by_version = comparison_input(&e, &v("1.0"), &v("1.1"), &EngineOptions::default())
            .await
            .unwrap();
        assert_eq!(by_track.groups, by_version.groups);
        assert_eq!(by_track.window, by_version.window);
    }

    #[tokio::test]
    async fn errors_are_specific() {
        let e = engine(1).await;
        let (b, _) = default_selectors();
        // A hostile selector value is bound as a parameter, never spliced: it just matches nothing.
        let evil = Selector {
            track: Some("canary' OR '1'='1".into()),
            version: None,
        };
        let err = comparison_input(&e, &b, &evil, &EngineOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, EngineError::EmptySide { side: "canary", .. }),
            "{err}"
        );
        let err = comparison_input(&e, &b, &b, &EngineOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(err, EngineError::Selector(_)));
        let err = comparison_input(&e, &Selector::default(), &b, &EngineOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(err, EngineError::Selector(_)));
        let opts = EngineOptions {
            bucket_ns: 0,
            ..EngineOptions::default()
        };
        assert!(matches!(
            default_input(&e, &opts).await.unwrap_err(),
            EngineError::Options(_)
        ));
    }

    #[tokio::test]
    async fn disjoint_sides_have_no_window() {
        use crate::engine::testdata::resource;
        use crate::model::identity::{kind, IdentityConfig};
        use crate::model::spans::{SpanRecord, SpansBuilder};
        let mut b = SpansBuilder::new(std::sync::Arc::new(IdentityConfig::default()), "x");
        for (i, track) in ["stable", "canary"].into_iter().enumerate() {
            let t = T0 + i as i64 * MIN;
            b.append(
                &resource("svc", track, "1"),
                &SpanRecord {
                    trace_id: [i as u8 + 1; 16],
                    span_id: [1; 8],
                    name: "GET /x".into(),
                    kind: kind::SERVER,
                    start_time_unix_nano: t,
                    end_time_unix_nano: t + 5_000_000,
                    ..Default::default()
                },
            );
        }
        let e = Engine::from_batches(vec![b.finish().unwrap()])
            .await
            .unwrap();
        let err = default_input(&e, &EngineOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, EngineError::NoOverlap { canary_first, .. } if canary_first == T0 + MIN),
            "{err}"
        );
        let opts = EngineOptions {
            since_unix_nano: Some(T0),
            until_unix_nano: Some(T0 + 2 * MIN),
            ..EngineOptions::default()
        };
        let ci = default_input(&e, &opts).await.unwrap();
        let g = group(&ci, "svc", GroupLevel::Route, "GET /x");
        assert_eq!((g.baseline.count, g.canary.count), (1, 1));
        assert_eq!(g.baseline.quantiles.p50, 5.0);
    }

    /// Runs a shipped query with the parameters of `ci` and concatenates the result.
    async fn run(e: &Engine, q: &Query, ci: &ComparisonInput) -> RecordBatch {
        let params = Params {
            baseline: ci.baseline.clone(),
            canary: ci.canary.clone(),
            service: None,
            window: ci.window,
            bucket_ns: ci.bucket_ns,
        };
        let (schema, batches) = e.query(q.name, q.sql, params.values()).await.unwrap();
        concat_batches(&schema, &batches).unwrap()
    }

    fn strs(b: &RecordBatch, c: &str) -> Vec<String> {
        let a = cast(b.column_by_name(c).unwrap(), &DataType::Utf8).unwrap();
        let a = a.as_any().downcast_ref::<StringArray>().unwrap();
        a.iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect()
    }

    fn f64s(b: &RecordBatch, c: &str) -> Vec<f64> {
        let a = b.column_by_name(c).unwrap();
        a.as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .values()
            .to_vec()
    }

    fn i64s(b: &RecordBatch, c: &str) -> Vec<i64> {
        let a = b.column_by_name(c).unwrap();
        a.as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .values()
            .to_vec()
    }

    /// The SQL path (quantile_exact in route/operation_summary.sql) and the rayon path agree.
    #[tokio::test]
    async fn sql_summaries_equal_direct_path() {
        let e = engine(4).await;
        let ci = default_input(&e, &EngineOptions::default()).await.unwrap();
        for (q, level, name_col) in [
            (queries::ROUTE_SUMMARY, GroupLevel::Route, "route"),
            (
                queries::OPERATION_SUMMARY,
                GroupLevel::Operation,
                "span_name",
            ),
        ] {
            let b = run(&e, &q, &ci).await;
            let (side, service, name) = (
                strs(&b, "side"),
                strs(&b, "service_name"),
                strs(&b, name_col),
            );
            let (count, errors) = (i64s(&b, "count"), i64s(&b, "errors"));
            let (wc, we) = (f64s(&b, "weighted_count"), f64s(&b, "weighted_errors"));
            let (p50, p90, p99, p999) = (
                f64s(&b, "p50_ms"),
                f64s(&b, "p90_ms"),
                f64s(&b, "p99_ms"),
                f64s(&b, "p999_ms"),
            );
            let sketch = f64s(&b, "p99_sketch_ms");
            let n_direct: usize = ci
                .groups
                .iter()
                .filter(|g| g.key.level == level)
                .map(|g| (g.baseline.count > 0) as usize + (g.canary.count > 0) as usize)
                .sum();
            assert_eq!(b.num_rows(), n_direct, "{}", q.name);
            for i in 0..b.num_rows() {
                let g = group(&ci, &service[i], level, &name[i]);
                let s = if side[i] == "baseline" {
                    &g.baseline
                } else {
                    &g.canary
                };
                assert_eq!(count[i] as u64, s.count);
                assert_eq!(errors[i] as u64, s.errors);
                assert!((wc[i] - s.weighted_count).abs() < 1e-9);
                assert!((we[i] - s.weighted_errors).abs() < 1e-9);
                assert_eq!(p50[i], s.quantiles.p50, "{} {}", q.name, name[i]);
                assert_eq!(p90[i], s.quantiles.p90);
                assert_eq!(p99[i], s.quantiles.p99);
                assert_eq!(p999[i], s.quantiles.p999);
                // DDSketch: within 1% of the element of rank ⌊0.99(n−1)⌋.
                let d = &s.durations_ms;
                let exact = d[(0.99 * (d.len() - 1) as f64).floor() as usize];
                assert!(
                    (sketch[i] - exact).abs() <= 0.01 * exact * (1.0 + 1e-9),
                    "{} vs {exact}",
                    sketch[i]
                );
            }
        }
    }

    /// route/operation_timeseries.sql (date_bin) agree with the rayon path's series.
    #[tokio::test]
    async fn sql_timeseries_equal_direct_path() {
        let e = engine(2).await;
        let opts = EngineOptions {
            bucket_ns: 45 * S,
            ..EngineOptions::default()
        };
        let ci = default_input(&e, &opts).await.unwrap();
        for (q, level, name_col) in [
            (queries::ROUTE_TIMESERIES, GroupLevel::Route, "route"),
            (
                queries::OPERATION_TIMESERIES,
                GroupLevel::Operation,
                "span_name",
            ),
        ] {
            let b = run(&e, &q, &ci).await;
            let (side, service, name) = (
                strs(&b, "side"),
                strs(&b, "service_name"),
                strs(&b, name_col),
            );
            let (start, count, errors) = (
                i64s(&b, "bucket_start"),
                i64s(&b, "count"),
                i64s(&b, "errors"),
            );
            let (p50, p99) = (f64s(&b, "p50_ms"), f64s(&b, "p99_ms"));
            let n_direct: usize = ci
                .groups
                .iter()
                .filter(|g| g.key.level == level)
                .map(|g| g.baseline_series.len() + g.canary_series.len())
                .sum();
            assert_eq!(b.num_rows(), n_direct);
            for i in 0..b.num_rows() {
                let g = group(&ci, &service[i], level, &name[i]);
                let series = if side[i] == "baseline" {
                    &g.baseline_series
                } else {
                    &g.canary_series
                };
                let tb = series
                    .iter()
                    .find(|t| t.start_unix_nano == start[i])
                    .expect("bucket");
                assert_eq!((count[i] as u64, errors[i] as u64), (tb.count, tb.errors));
                assert_eq!((p50[i], p99[i]), (tb.p50_ms, tb.p99_ms));
            }
        }
        let split = run(&e, &queries::TRAFFIC_SPLIT, &ci).await;
        let share = f64s(&split, "canary_share");
        assert!(share.iter().all(|s| (0.0..=1.0).contains(s)));
        let canary_requests: i64 = i64s(&split, "canary_requests").iter().sum();
        // Canary requests: 21 /cart, 21 /items, 5 /new, 5 cron.sweep, 2 publish + 2 consume.
        assert_eq!(canary_requests, 56);
    }

    /// Plain, view and dictionary strings (with a value repeated under two keys) all group
    /// by their text.
    #[test]
    fn duration_buckets_give_each_prefix_of_time_as_a_sorted_subsequence() {
        // Random rows with tied durations: for every bucket k of the series, the durations whose
        // bucket index is ≤ k, in stored order, must equal the sorted durations of the rows that
        // started before that bucket's end (a direct filter), and the stored durations must be
        // the same as without bucket indices.
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(3);
        for case in 0..40 {
            let bucket = MIN * rng.random_range(1..4);
            let n = rng.random_range(0..600);
            let rows: Vec<Row> = (0..n)
                .map(|_| Row {
                    start_ns: T0 + rng.random_range(0..30 * MIN),
                    duration_ns: rng.random_range(1..40) * 1_000_000,
                    is_error: rng.random_bool(0.1),
                    weight: 1.0,
                })
                .collect();
            let (plain, plain_series) = summarise(&mut rows.clone(), bucket, false);
            let (with, series) = summarise(&mut rows.clone(), bucket, true);
            assert_eq!(plain.durations_ms, with.durations_ms, "case {case}");
            assert_eq!(plain_series, series);
            assert!(plain.duration_buckets.is_empty());
            assert_eq!(with.duration_buckets.len(), n);
            for (k, b) in series.iter().enumerate() {
                let end = b.start_unix_nano + bucket;
                let merged: Vec<f64> = with
                    .durations_ms
                    .iter()
                    .zip(&with.duration_buckets)
                    .filter(|(_, &j)| j as usize <= k)
                    .map(|(d, _)| *d)
                    .collect();
                let mut direct: Vec<f64> = rows
                    .iter()
                    .filter(|r| r.start_ns < end)
                    .map(|r| ms(r.duration_ns))
                    .collect();
                direct.sort_by(f64::total_cmp);
                assert_eq!(merged, direct, "case {case}, bucket {k}");
            }
        }
    }

    #[tokio::test]
    async fn duration_buckets_come_through_the_sql_path() {
        let e = engine(2).await;
        let opts = EngineOptions {
            duration_buckets: true,
            ..EngineOptions::default()
        };
        let with = default_input(&e, &opts).await.unwrap();
        let plain = default_input(&e, &EngineOptions::default()).await.unwrap();
        for (g, p) in with.groups.iter().zip(&plain.groups) {
            for (side, series, plain_side) in [
                (&g.baseline, &g.baseline_series, &p.baseline),
                (&g.canary, &g.canary_series, &p.canary),
            ] {
                assert_eq!(side.durations_ms, plain_side.durations_ms);
                assert_eq!(side.duration_buckets.len(), side.durations_ms.len());
                // Each bucket holds as many durations as the series says it has requests.
                for (k, b) in series.iter().enumerate() {
                    let n = side
                        .duration_buckets
                        .iter()
                        .filter(|&&j| j as usize == k)
                        .count();
                    assert_eq!(n as u64, b.count, "{:?} bucket {k}", g.key);
                }
            }
        }
    }

    #[test]
    fn gathers_any_string_encoding() {
        use arrow::array::{BooleanArray, DictionaryArray, StringViewArray};
        use std::sync::Arc;
        let names = DictionaryArray::<Int32Type>::try_new(
            Int32Array::from(vec![0, 1, 2]),
            Arc::new(StringArray::from(vec!["/a", "/a", "/b"])),
        )
        .unwrap();
        let b = RecordBatch::try_from_iter([
            (
                "side",
                Arc::new(StringViewArray::from(vec![
                    "baseline", "canary", "baseline",
                ])) as ArrayRef,
            ),
            (
                "service_name",
                Arc::new(StringArray::from(vec!["s", "s", "s"])) as ArrayRef,
            ),
            ("name", Arc::new(names) as ArrayRef),
            (
                "start_ns",
                Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef,
            ),
            (
                "duration_ns",
                Arc::new(Int64Array::from(vec![1_000_000, 2_000_000, 3_000_000])) as ArrayRef,
            ),
            (
                "is_error",
                Arc::new(BooleanArray::from(vec![false, true, false])) as ArrayRef,
            ),
            (
                "sample_weight",
                Arc::new(Float64Array::from(vec![1.0, 1.0, 1.0])) as ArrayRef,
            ),
        ])
        .unwrap();
        let groups = build_groups(
            GroupLevel::Route,
            &queries::ROUTE_SAMPLES,
            &[b],
            &EngineOptions::default(),
        )
        .unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].key.name, "/a");
        assert_eq!((groups[0].baseline.count, groups[0].canary.count), (1, 1));
        assert_eq!(groups[0].canary.errors, 1);
        assert_eq!(groups[1].key.name, "/b");
        assert_eq!(groups[1].baseline.durations_ms, vec![3.0]);
    }

    /// Same output with 1 partition and 1 thread as with 4 partitions and 4 threads.
    #[test]
    fn thread_count_does_not_change_output() {
        let run_with = |n: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap();
            pool.install(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let e = engine(n).await;
                    let ci = default_input(&e, &EngineOptions::default()).await.unwrap();
                    serde_json::to_string(&ci).unwrap()
                })
            })
        };
        let one = run_with(1);
        assert_eq!(one, run_with(4));
        assert!(one.len() > 1000);
    }

    #[tokio::test]
    async fn parquet_input_equals_memory_input() {
        let dir = tempfile::tempdir().unwrap();
        let batches = deployment();
        let file = std::fs::File::create(dir.path().join("spans.parquet")).unwrap();
        let mut w =
            parquet::arrow::ArrowWriter::try_new(file, crate::model::spans::spans_schema(), None)
                .unwrap();
        for b in &batches {
            w.write(b).unwrap();
        }
        w.close().unwrap();
        let from_file = Engine::from_parquet(&[dir.path().to_path_buf()])
            .await
            .unwrap();
        let from_mem = Engine::from_batches(batches).await.unwrap();
        let a = default_input(&from_file, &EngineOptions::default())
            .await
            .unwrap();
        let b = default_input(&from_mem, &EngineOptions::default())
            .await
            .unwrap();
        assert_eq!(a, b);
        let err = Engine::from_parquet(&[dir.path().join("nope")])
            .await
            .unwrap_err();
        assert!(matches!(err, EngineError::Input { .. }));
    }
}

/// Timing and determinism at scale: `cargo test --lib engine::samples::scale -- --ignored
/// --nocapture` (size from `CANALYST_SCALE_SPANS`, default 200 000).
#[cfg(test)]
mod scale {
    use super::*;
    use crate::engine::context::EngineConfig;
    use crate::engine::testdata::{resource, T0};
    use crate::model::identity::{kind, IdentityConfig};
    use crate::model::spans::{SpanRecord, SpansBuilder};
    use rand::{Rng, SeedableRng};
    use std::sync::Arc;
    use std::time::Instant;

    fn batches(n: usize) -> Vec<RecordBatch> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        let cfg = Arc::new(IdentityConfig::default());
        let res: Vec<_> = ["a", "b", "c", "d"]
            .iter()
            .flat_map(|s| [resource(s, "stable", "1"), resource(s, "canary", "2")])
            .collect();
        let mut out = Vec::new();
        let mut b = SpansBuilder::new(cfg, "scale");
        for i in 0..n {
            let r = &res[rng.random_range(0..res.len())];
            let t = T0 + (i as i64) * 3_600_000_000_000 / n as i64;
            let route = format!("/r{}", rng.random_range(0..40));
            b.append(
                r,
                &SpanRecord {
                    trace_id: (i as u128).to_be_bytes(),
                    span_id: (i as u64).to_be_bytes(),
                    name: format!("GET {route}"),
                    kind: kind::SERVER,
                    start_time_unix_nano: t,
                    end_time_unix_nano: t + rng.random_range(1_000_000..200_000_000),
                    attributes: vec![("http.route".into(), route)],
                    ..Default::default()
                },
            );
            if b.len() == 65_536 {
                out.push(b.finish().unwrap());
            }
        }
        out.push(b.finish().unwrap());
        out
    }

    #[test]
    #[ignore = "timing run; use --ignored --nocapture"]
    fn scale() {
        let n: usize = std::env::var("CANALYST_SCALE_SPANS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(200_000);
        let data = batches(n);
        let run_with = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let e = Engine::from_batches_with(
                        data.clone(),
                        EngineConfig {
                            target_partitions: threads,
                        },
                    )
                    .await
                    .unwrap();
                    let start = Instant::now();
                    let (b, c) = default_selectors();
                    let ci = comparison_input(&e, &b, &c, &EngineOptions::default())
                        .await
                        .unwrap();
                    eprintln!(
                        "comparison_input: {n} spans, {threads} thread(s): {:.2?}",
                        start.elapsed()
                    );
                    ci
                })
            })
        };
        let one = run_with(1);
        let many = run_with(4);
        assert_eq!(one, many);
        // 4 services × 40 routes at both levels.
        assert_eq!(one.groups.len(), 320);
        let total: u64 = one
            .groups
            .iter()
            .filter(|g| g.key.level == GroupLevel::Route)
            .map(|g| g.baseline.count + g.canary.count)
            .sum();
        assert!(total as usize <= n && total as usize > n * 9 / 10);
    }
}
