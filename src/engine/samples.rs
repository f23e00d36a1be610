//! Comparison input: one direct scan ([`super::scan`]) finds the window and the rows of both
//! sides; rayon builds the per-group samples. The shipped queries `window.sql`,
//! `route_samples.sql` and `operation_samples.sql` state the same definitions in SQL (for
//! `canalyst sql`); the tests check both give the same groups.
//!
//! Determinism: groups are sorted by [`GroupKey`], the rows of each group are put in a
//! canonical order (start time, duration, error flag, weight) before anything is summed, and
//! durations are sorted, so the output does not depend on DataFusion's partitioning or on the
//! number of rayon threads.

use super::context::Engine;
use super::quantile::{quantile_select, quantile_sorted};
use super::queries::Params;
use super::scan::{self, Gathered, Row, ScanSpec, SideRange, Sides};
use super::sql_scan;
use super::EngineError;
use crate::model::comparison::{
    bucket_start, ComparisonInput, GroupComparison, GroupKey, GroupLevel, Selector, TimeBucket,
    TrackSample, Window,
};
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
pub(crate) struct Ranges {
    baseline_spans: i64,
    canary_spans: i64,
    baseline_first: Option<i64>,
    baseline_last: Option<i64>,
    canary_first: Option<i64>,
    canary_last: Option<i64>,
    window_start: Option<i64>,
    window_last: Option<i64>,
}

impl Ranges {
    /// The window as `window.sql` defines it: the overlap `[max(first starts), min(last
    /// starts)]` of the two sides, if they overlap.
    fn of(sides: &[SideRange; 2]) -> Self {
        let [b, c] = *sides;
        let (window_start, window_last) = match (b.first, b.last, c.first, c.last) {
            (Some(bf), Some(bl), Some(cf), Some(cl)) if bf.max(cf) <= bl.min(cl) => {
                (Some(bf.max(cf)), Some(bl.min(cl)))
            }
            _ => (None, None),
        };
        Self {
            baseline_spans: b.count,
            canary_spans: c.count,
            baseline_first: b.first,
            baseline_last: b.last,
            canary_first: c.first,
            canary_last: c.last,
            window_start,
            window_last,
        }
    }
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
    let (scanned, window, r) = scan_window(engine, baseline, canary, opts, false).await?;
    let mut groups = Vec::new();
    for (level, gathered, phase) in [
        (GroupLevel::Route, scanned.route, "route groups"),
        (GroupLevel::Operation, scanned.operation, "operation groups"),
    ] {
        if !opts.levels.contains(&level) {
            continue;
        }
        let _timing = crate::timings::phase(phase);
        groups.extend(build_groups(level, gathered, opts));
    }
    groups.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(ComparisonInput {
        baseline: baseline.clone(),
        canary: canary.clone(),
        window,
        bucket_ns: opts.bucket_ns,
        canary_first_seen_unix_nano: r.canary_first,
        groups,
    })
}

/// The scan behind [`comparison_input`] and the backtest's request log: checks the options,
/// scans the levels of `opts` (route rows with their trace hashes when `traces`), fixes the
/// window (the overlap of the two sides unless `since`/`until` override it) and keeps the rows
/// inside it. Errors when a side has no span or the sides do not overlap.
///
/// On a cluster the executors run plans, not the direct scan: the shipped SQL gathers the same
/// rows, the window first so that only the window's rows cross the network. It carries no
/// trace hashes; `traces` is refused there (the request log runs its own query on a cluster).
pub(crate) async fn scan_window(
    engine: &Engine,
    baseline: &Selector,
    canary: &Selector,
    opts: &EngineOptions,
    traces: bool,
) -> Result<(scan::Scanned, Window, Ranges), EngineError> {
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
    let spec = ScanSpec {
        baseline,
        canary,
        service: opts.service.as_deref(),
        route: opts.levels.contains(&GroupLevel::Route),
        operation: opts.levels.contains(&GroupLevel::Operation),
        traces,
    };
    let timing = crate::timings::phase("scan");
    let (mut scanned, r) = if engine.cluster().is_some() {
        if traces {
            return Err(EngineError::Options(
                "trace hashes are gathered by the direct scan only, not on a cluster".into(),
            ));
        }
        let sides = sql_scan::sides(engine, &params).await?;
        let r = Ranges::of(&sides);
        params.window = window_of(&r, baseline, canary, opts)?;
        let scanned = sql_scan::rows(engine, &params, spec.route, spec.operation, sides).await?;
        (scanned, r)
    } else {
        let scanned = scan::scan(engine.source(), &spec)?;
        let r = Ranges::of(&scanned.sides);
        params.window = window_of(&r, baseline, canary, opts)?;
        (scanned, r)
    };
    drop(timing);
    let Window {
        start_unix_nano: start,
        end_unix_nano: end,
    } = params.window;
    scanned.restrict(start, end);
    Ok((scanned, params.window, r))
}

/// The comparison window: `since`/`until` where given, else the overlap of the sides in `r`
/// (end made exclusive); an error when a side has no span or the window is empty.
fn window_of(
    r: &Ranges,
    baseline: &Selector,
    canary: &Selector,
    opts: &EngineOptions,
) -> Result<Window, EngineError> {
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
        None => return Err(no_overlap(r)),
    };
    let end = match opts
        .until_unix_nano
        .or(r.window_last.map(|l| l.saturating_add(1)))
    {
        Some(e) => e,
        None => return Err(no_overlap(r)),
    };
    if start >= end {
        return Err(EngineError::Options(format!(
            "empty window: start {start} ns is not before end {end} ns"
        )));
    }
    Ok(Window {
        start_unix_nano: start,
        end_unix_nano: end,
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

/// The canonical order of a group's rows (start time, duration, error flag, weight), so sums
/// do not depend on the order the scan found them in.
fn canonical_cmp(a: &Row, o: &Row) -> std::cmp::Ordering {
    a.start_ns
        .cmp(&o.start_ns)
        .then(a.duration_ns.cmp(&o.duration_ns))
        .then(a.is_error.cmp(&o.is_error))
        .then(a.weight.total_cmp(&o.weight))
}

/// Summarises every group of `gathered` in parallel. Output sorted by key; groups below
/// `opts.min_group_count` are dropped.
fn build_groups(
    level: GroupLevel,
    gathered: Gathered,
    opts: &EngineOptions,
) -> Vec<GroupComparison> {
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
    keyed
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
        .collect()
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

/// Sample and time series of one side of one group; may reorder `rows`. With `with_buckets`
/// the sample also gets [`TrackSample::duration_buckets`] (always by the canonical order, which
/// puts the rows in time order).
fn summarise(
    rows: &mut [Row],
    bucket_ns: i64,
    with_buckets: bool,
) -> (TrackSample, Vec<TimeBucket>) {
    if !with_buckets {
        if let Some(done) = summarise_exact_sums(rows, bucket_ns) {
            return done;
        }
    }
    summarise_canonical(rows, bucket_ns, with_buckets)
}

/// Largest weight total for which sums of integer weights are exact in any order: every
/// partial sum is then an integer below 2^53, which f64 represents exactly.
const EXACT_SUM_LIMIT: f64 = (1u64 << 52) as f64;

/// [`summarise`] without sorting the rows, when the result cannot depend on their order:
/// every weight is a whole number and their absolute total is below [`EXACT_SUM_LIMIT`] (the
/// usual case: weight 1, or a sampler's integer `SampleRate`). Buckets are found by counting
/// sort and bucket quantiles by selection; `None` when the weights do not allow it or the
/// rows span too many buckets for a counting sort.
fn summarise_exact_sums(rows: &[Row], bucket_ns: i64) -> Option<(TrackSample, Vec<TimeBucket>)> {
    const MAX_BUCKETS: i64 = 1 << 20;
    let mut abs_total = 0.0f64;
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for r in rows {
        if r.weight.fract() != 0.0 {
            return None;
        }
        abs_total += r.weight.abs();
        let b = r.start_ns.div_euclid(bucket_ns);
        lo = lo.min(b);
        hi = hi.max(b);
    }
    if abs_total >= EXACT_SUM_LIMIT || (!rows.is_empty() && hi - lo >= MAX_BUCKETS) {
        return None;
    }
    let mut sample = TrackSample {
        count: rows.len() as u64,
        ..TrackSample::default()
    };
    if rows.is_empty() {
        return Some((sample, Vec::new()));
    }
    let width = (hi - lo + 1) as usize;
    let mut counts = vec![0usize; width];
    let mut series: Vec<TimeBucket> = vec![TimeBucket::default(); width];
    for r in rows {
        let k = (r.start_ns.div_euclid(bucket_ns) - lo) as usize;
        counts[k] += 1;
        let b = &mut series[k];
        b.weighted_count += r.weight;
        sample.weighted_count += r.weight;
        if r.is_error {
            b.errors += 1;
            b.weighted_errors += r.weight;
            sample.errors += 1;
            sample.weighted_errors += r.weight;
        }
    }
    // Durations grouped by bucket (counting sort).
    let mut offsets = Vec::with_capacity(width + 1);
    let mut at = 0;
    for c in &counts {
        offsets.push(at);
        at += c;
    }
    offsets.push(at);
    let mut next = offsets.clone();
    let mut by_bucket = vec![0i64; rows.len()];
    for r in rows {
        let k = (r.start_ns.div_euclid(bucket_ns) - lo) as usize;
        by_bucket[next[k]] = r.duration_ns;
        next[k] += 1;
    }
    let mut out = Vec::new();
    for (k, mut b) in series.into_iter().enumerate() {
        let d = &mut by_bucket[offsets[k]..offsets[k + 1]];
        if d.is_empty() {
            continue;
        }
        b.start_unix_nano = (lo + k as i64) * bucket_ns;
        b.count = d.len() as u64;
        b.p50_ms = quantile_select(d, 0.5, ms);
        b.p99_ms = quantile_select(d, 0.99, ms);
        out.push(b);
    }
    let mut ns = by_bucket;
    if ns.len() >= PARALLEL_SORT_MIN {
        ns.par_sort_unstable();
    } else {
        ns.sort_unstable();
    }
    let durations: Vec<f64> = ns.into_iter().map(ms).collect();
    sample.quantiles = crate::model::comparison::Quantiles::of_sorted(&durations);
    sample.durations_ms = durations;
    Some((sample, out))
}

/// Samples at least this long are sorted with rayon (a group of a large input can hold most
/// of its rows).
const PARALLEL_SORT_MIN: usize = 1 << 16;

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

/// [`summarise`] by the canonical order: rows sorted by [`canonical_cmp`] before anything is
/// summed, so float sums of fractional weights do not depend on the scan's order.
fn summarise_canonical(
    rows: &mut [Row],
    bucket_ns: i64,
    with_buckets: bool,
) -> (TrackSample, Vec<TimeBucket>) {
    rows.sort_unstable_by(canonical_cmp);
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
    sample.quantiles = crate::model::comparison::Quantiles::of_sorted(&durations);
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
    use crate::engine::queries::{self, Query};
    use crate::engine::scan::SpanSource;
    use crate::engine::testdata::{deployment, MIN, T0};
    use arrow::array::{
        Array, ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    };
    use arrow::compute::{cast, concat_batches};
    use arrow::datatypes::{DataType, Int32Type};
    use std::sync::Arc;

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

    /// The unsorted path (integer weights) gives the bits of the canonical path, whatever the
    /// row order; fractional weights take the canonical path.
    #[test]
    fn exact_sums_equal_canonical_order() {
        use rand::seq::SliceRandom;
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for n in [1usize, 2, 7, 500, 20_000, 70_000] {
            let mut rows: Vec<Row> = (0..n)
                .map(|_| Row {
                    start_ns: T0 + rng.random_range(-3 * MIN..40 * MIN),
                    duration_ns: rng.random_range(1..3_000) * 1_000_000 / 7,
                    is_error: rng.random_bool(0.1),
                    weight: [1.0, 2.0, 10.0][rng.random_range(0..3)],
                })
                .collect();
            let want = summarise_canonical(&mut rows.clone(), 45 * S, false);
            rows.shuffle(&mut rng);
            let got = summarise_exact_sums(&rows, 45 * S).expect("integer weights");
            assert_eq!(
                serde_json::to_string(&got).unwrap(),
                serde_json::to_string(&want).unwrap()
            );
            assert_eq!(got, want);
        }
        let fractional = [Row {
            start_ns: T0,
            duration_ns: 1,
            is_error: false,
            weight: 0.5,
        }];
        assert!(summarise_exact_sums(&fractional, MIN).is_none());
    }

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

    /// Plain, view and dictionary strings (with a value repeated under two keys) all group
    /// by their text in the direct scan.
    #[test]
    fn scan_groups_any_string_encoding() {
        use arrow::array::{
            BooleanArray, DictionaryArray, FixedSizeBinaryArray, StringViewArray,
            TimestampNanosecondArray,
        };
        let names = DictionaryArray::<Int32Type>::try_new(
            Int32Array::from(vec![0, 1, 2]),
            Arc::new(StringArray::from(vec!["/a", "/a", "/b"])),
        )
        .unwrap();
        let col = |a: ArrayRef| a;
        let b = RecordBatch::try_from_iter([
            (
                "deployment_track",
                col(Arc::new(StringViewArray::from(vec![
                    "stable", "canary", "stable",
                ]))),
            ),
            (
                "service_version",
                col(Arc::new(StringArray::from(vec![None::<&str>; 3]))),
            ),
            (
                "service_name",
                col(Arc::new(StringArray::from(vec!["s", "s", "s"]))),
            ),
            ("route", col(Arc::new(names))),
            (
                "parent_span_id",
                col(Arc::new(FixedSizeBinaryArray::new_null(8, 3))),
            ),
            ("span_kind", col(Arc::new(Int32Array::from(vec![2, 2, 2])))),
            (
                "start_time",
                col(Arc::new(TimestampNanosecondArray::from(vec![1, 2, 3]))),
            ),
            (
                "duration_ns",
                col(Arc::new(Int64Array::from(vec![
                    1_000_000, 2_000_000, 3_000_000,
                ]))),
            ),
            (
                "is_error",
                col(Arc::new(BooleanArray::from(vec![false, true, false]))),
            ),
            (
                "sample_weight",
                col(Arc::new(Float64Array::from(vec![1.0, 1.0, 1.0]))),
            ),
        ])
        .unwrap();
        let (stable, canary) = default_selectors();
        let spec = ScanSpec {
            baseline: &stable,
            canary: &canary,
            service: None,
            route: true,
            operation: false,
            traces: false,
        };
        let scanned = scan::scan(&SpanSource::Batches(vec![b]), &spec).unwrap();
        assert_eq!(scanned.sides[0].count, 2);
        assert_eq!(
            (scanned.sides[1].first, scanned.sides[1].last),
            (Some(2), Some(2))
        );
        let groups = build_groups(GroupLevel::Route, scanned.route, &EngineOptions::default());
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].key.name, "/a");
        assert_eq!((groups[0].baseline.count, groups[0].canary.count), (1, 1));
        assert_eq!(groups[0].canary.errors, 1);
        assert_eq!(groups[1].key.name, "/b");
        assert_eq!(groups[1].baseline.durations_ms, vec![3.0]);
    }

    /// What `window.sql` and the samples queries give ([`sql_scan`]), as the direct scan's
    /// parts.
    async fn scanned_by_sql(e: &Engine, params: &Params) -> ([SideRange; 2], Gathered, Gathered) {
        let sides = sql_scan::sides(e, params).await.unwrap();
        let s = sql_scan::rows(e, params, true, true, sides).await.unwrap();
        (s.sides, s.route, s.operation)
    }

    fn sorted(mut g: Gathered) -> Vec<((String, String), Sides)> {
        for s in g.values_mut() {
            s.baseline.sort_by(canonical_cmp);
            s.canary.sort_by(canonical_cmp);
        }
        let mut v: Vec<_> = g.into_iter().collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// On an in-process Ballista cluster (two executors, four partitions, the spans split
    /// over three Parquet files) the comparison input, gathered by the shipped SQL, equals the
    /// direct scan's bit for bit, for several selectors, a service filter and a given window.
    #[cfg(feature = "distributed")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn cluster_comparison_input_equals_local() {
        let mut batches = deployment();
        batches.push(cross_service_consumers());
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for part in 0..3 {
            let path = dir.path().join(format!("part-{part}.parquet"));
            let mut w = parquet::arrow::ArrowWriter::try_new(
                std::fs::File::create(&path).unwrap(),
                crate::model::spans::spans_schema(),
                None,
            )
            .unwrap();
            for b in batches.iter().skip(part).step_by(3) {
                w.write(b).unwrap();
            }
            w.close().unwrap();
            paths.push(path);
        }
        let config = EngineConfig {
            target_partitions: 4,
        };
        let url = crate::engine::cluster::start_in_process(2, 2, true)
            .await
            .unwrap();
        let local = Engine::from_parquet_with(&paths, config).await.unwrap();
        let remote = Engine::from_parquet_on_cluster(&paths, config, &url)
            .await
            .unwrap();
        assert_eq!(remote.cluster(), Some(url.to_string().as_str()));
        let sel = |t: Option<&str>, v: Option<&str>| Selector {
            track: t.map(String::from),
            version: v.map(String::from),
        };
        let cases = [
            (
                sel(Some("stable"), None),
                sel(Some("canary"), None),
                None,
                None,
            ),
            (sel(None, Some("1.0")), sel(None, Some("1.1")), None, None),
            (
                sel(Some("stable"), None),
                sel(Some("canary"), None),
                Some("checkout"),
                Some((T0 + MIN, T0 + 3 * MIN)),
            ),
        ];
        let mut groups = 0;
        for (baseline, canary, service, window) in &cases {
            let opts = EngineOptions {
                service: service.map(String::from),
                since_unix_nano: window.map(|w| w.0),
                until_unix_nano: window.map(|w| w.1),
                ..EngineOptions::default()
            };
            let want = comparison_input(&local, baseline, canary, &opts)
                .await
                .unwrap();
            let got = comparison_input(&remote, baseline, canary, &opts)
                .await
                .unwrap();
            groups += want.groups.len();
            assert_eq!(
                serde_json::to_string(&got).unwrap(),
                serde_json::to_string(&want).unwrap(),
                "{baseline:?} {canary:?} {service:?}"
            );
        }
        assert!(groups > 5, "{groups}");
    }

    /// The direct scan finds the same window and rows as the shipped SQL (window.sql,
    /// route_samples.sql and operation_samples.sql over the `requests` view), for several
    /// selectors and a service filter, from memory and from Parquet; including spans that are
    /// requests only because their parent is in another service.
    #[tokio::test]
    async fn scan_equals_sql() {
        let mut batches = deployment();
        batches.push(cross_service_consumers());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans.parquet");
        crate::engine::testdata::write_small_row_groups(&batches, &path);
        let engines = [
            Engine::from_batches(batches).await.unwrap(),
            Engine::from_parquet(&[path]).await.unwrap(),
        ];
        let sel = |t: Option<&str>, v: Option<&str>| Selector {
            track: t.map(String::from),
            version: v.map(String::from),
        };
        let cases = [
            (sel(Some("stable"), None), sel(Some("canary"), None), None),
            (sel(None, Some("1.0")), sel(None, Some("1.1")), None),
            (
                sel(Some("stable"), Some("1.0")),
                sel(Some("canary"), None),
                Some("cart"),
            ),
            (
                sel(Some("canary"), None),
                sel(Some("stable"), None),
                Some("checkout"),
            ),
        ];
        let mut confirmed = 0;
        for e in &engines {
            for (baseline, canary, service) in &cases {
                let spec = ScanSpec {
                    baseline,
                    canary,
                    service: *service,
                    route: true,
                    operation: true,
                    traces: false,
                };
                let scanned = scan::scan(e.source(), &spec).unwrap();
                let r = Ranges::of(&scanned.sides);
                let params = Params {
                    baseline: baseline.clone(),
                    canary: canary.clone(),
                    service: service.map(String::from),
                    window: Window {
                        start_unix_nano: r.window_start.unwrap(),
                        end_unix_nano: r.window_last.unwrap() + 1,
                    },
                    bucket_ns: DEFAULT_BUCKET_NS,
                };
                let (sides, route, operation) = scanned_by_sql(e, &params).await;
                assert_eq!(scanned.sides, sides, "{baseline:?} {canary:?} {service:?}");
                let mut scanned = scanned;
                scanned.restrict(params.window.start_unix_nano, params.window.end_unix_nano);
                confirmed += scanned.route.keys().filter(|k| k.1 == "/events").count();
                assert_eq!(
                    sorted(scanned.route),
                    sorted(route),
                    "{baseline:?} {canary:?}"
                );
                assert_eq!(sorted(scanned.operation), sorted(operation));
            }
        }
        // The cross-service consumer route is found by both engines in the unfiltered cases.
        assert!(confirmed >= 2, "{confirmed}");
    }

    /// Many small row groups read by four threads at once give what the batches give, every
    /// time (each task opens the file itself: shared handles share one seek position).
    #[test]
    fn parallel_row_group_reads_are_independent() {
        let batches = deployment();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans.parquet");
        let mut w = parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(&path).unwrap(),
            crate::model::spans::spans_schema(),
            Some(
                parquet::file::properties::WriterProperties::builder()
                    .set_max_row_group_row_count(Some(7))
                    .build(),
            ),
        )
        .unwrap();
        for b in &batches {
            w.write(b).unwrap();
        }
        w.close().unwrap();
        let (stable, canary) = default_selectors();
        let spec = ScanSpec {
            baseline: &stable,
            canary: &canary,
            service: None,
            route: true,
            operation: true,
            traces: false,
        };
        let want = scan::scan(&SpanSource::Batches(batches), &spec).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        for _ in 0..10 {
            let got = pool
                .install(|| scan::scan(&SpanSource::Files(vec![path.clone()]), &spec))
                .unwrap();
            assert_eq!(got.sides, want.sides);
            assert_eq!(sorted(got.route), sorted(want.route.clone()));
            assert_eq!(sorted(got.operation), sorted(want.operation.clone()));
        }
    }

    /// CONSUMER spans with a route (`/events`) in `cart`: one whose parent is a PRODUCER in
    /// `checkout` (a request), one whose parent is in `cart` itself (not a request).
    fn cross_service_consumers() -> RecordBatch {
        use crate::engine::testdata::resource;
        use crate::model::identity::{kind, IdentityConfig};
        use crate::model::spans::{SpanRecord, SpansBuilder};
        let mut b = SpansBuilder::new(Arc::new(IdentityConfig::default()), "x");
        for (track, version, t) in [("stable", "1.0", 4), ("canary", "1.1", 5)] {
            let checkout = resource("checkout", track, version);
            let cart = resource("cart", track, version);
            let at = T0 + t * MIN;
            let trace = [t as u8 + 0x10; 16];
            let span = |k: &SpanRecord, id: u8, parent: Option<u8>, kd: i32, r: &str| SpanRecord {
                trace_id: trace,
                span_id: [id; 8],
                parent_span_id: parent.map(|p| [p; 8]),
                name: "events".into(),
                kind: kd,
                start_time_unix_nano: at,
                end_time_unix_nano: at + 7_000_000,
                attributes: if r.is_empty() {
                    vec![]
                } else {
                    vec![("http.route".into(), r.into())]
                },
                ..k.clone()
            };
            let d = SpanRecord::default();
            b.append(&checkout, &span(&d, 1, None, kind::PRODUCER, ""));
            b.append(&cart, &span(&d, 2, Some(1), kind::CONSUMER, "/events"));
            b.append(&cart, &span(&d, 3, Some(2), kind::CONSUMER, "/events"));
        }
        b.finish().unwrap()
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

    fn batches(n: usize) -> Vec<arrow::array::RecordBatch> {
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
