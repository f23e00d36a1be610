//! The request log of a window ([`RequestLog`]): one compact row per request with its route
//! index and a hash of its trace id, for `canalyst backtest`.
//!
//! Gathered by the direct scan ([`super::scan`], the parallel column pass `analyze` uses), in
//! the same pass that finds the window. `queries/backtest_requests.sql` states the same rows in
//! SQL; locally it is the test oracle (the scan replaced it: the query decoded the file a second
//! time after the window scan, half of a 1M-span backtest's reading time), and on a cluster it
//! is what runs, since executors run plans, not the direct scan.

use super::context::Engine;
use super::queries::{self, Params, Query};
use super::samples::{scan_window, EngineOptions};
use super::scan::dictionary;
use super::EngineError;
use crate::model::comparison::{GroupKey, GroupLevel, Selector, Side};
use crate::model::hash::fnv1a64;
use crate::model::requests::{RequestLog, RequestRow};
use ahash::AHashMap;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use rayon::prelude::*;
use std::collections::BTreeMap;

/// Reads every request with a route of both sides in the window of `opts` (the overlap of the
/// sides unless `since`/`until` override it; selectors and service filter as in
/// [`super::comparison_input`], whose checks and errors it shares); routes sorted, rows grouped
/// by route in no defined order within one (see [`RequestLog`]). On a cluster the window is
/// found by the shipped window query and the rows by `queries/backtest_requests.sql`.
pub async fn request_log(
    engine: &Engine,
    baseline: &Selector,
    canary: &Selector,
    opts: &EngineOptions,
) -> Result<RequestLog, EngineError> {
    let mut opts = opts.clone();
    if engine.cluster().is_some() {
        opts.levels.clear();
        let (_, window, _) = scan_window(engine, baseline, canary, &opts, false).await?;
        let params = Params {
            baseline: baseline.clone(),
            canary: canary.clone(),
            service: opts.service.clone(),
            window,
            bucket_ns: opts.bucket_ns,
        };
        return request_log_sql(engine, &params).await;
    }
    opts.levels = vec![GroupLevel::Route];
    let (scanned, window, _) = scan_window(engine, baseline, canary, &opts, true).await?;
    let _timing = crate::timings::phase("request log");
    let mut groups: Vec<_> = scanned.route.into_iter().collect();
    groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let total = groups
        .iter()
        .map(|(_, s)| s.baseline.len() + s.canary.len())
        .sum();
    let mut rows = Vec::with_capacity(total);
    let mut routes = Vec::with_capacity(groups.len());
    for (route, ((service, name), sides)) in groups.into_iter().enumerate() {
        routes.push(GroupKey {
            service,
            level: GroupLevel::Route,
            name,
        });
        for (side, side_rows, traces) in [
            (Side::Baseline, sides.baseline, sides.baseline_traces),
            (Side::Canary, sides.canary, sides.canary_traces),
        ] {
            debug_assert_eq!(side_rows.len(), traces.len());
            rows.extend(
                side_rows
                    .into_iter()
                    .zip(traces)
                    .map(|(r, trace_hash)| RequestRow {
                        start_ns: r.start_ns,
                        duration_ns: r.duration_ns,
                        route: route as u32,
                        side,
                        is_error: r.is_error,
                        weight: r.weight,
                        trace_hash,
                    }),
            );
        }
    }
    Ok(RequestLog {
        baseline: baseline.clone(),
        canary: canary.clone(),
        window,
        routes,
        rows,
    })
}

/// `queries/backtest_requests.sql` over `params.window` as a [`RequestLog`]: the cluster's
/// request log and the direct scan's test oracle.
async fn request_log_sql(engine: &Engine, params: &Params) -> Result<RequestLog, EngineError> {
    let q = queries::BACKTEST_REQUESTS;
    let (_, batches) = engine.query(q.name, q.sql, params.values()).await?;
    let parts = batches
        .par_iter()
        .map(|b| read_batch(&q, b))
        .collect::<Result<Vec<_>, _>>()?;
    let mut index: BTreeMap<(String, String), u32> = BTreeMap::new();
    for (routes, _) in &parts {
        for r in routes {
            index.entry(r.clone()).or_insert(0);
        }
    }
    for (i, v) in index.values_mut().enumerate() {
        *v = i as u32;
    }
    let mut rows: Vec<RequestRow> = Vec::with_capacity(parts.iter().map(|p| p.1.len()).sum());
    for (routes, part) in parts {
        let remap: Vec<u32> = routes.iter().map(|r| index[r]).collect();
        rows.extend(part.into_iter().map(|mut r| {
            r.route = remap[r.route as usize];
            r
        }));
    }
    Ok(RequestLog {
        baseline: params.baseline.clone(),
        canary: params.canary.clone(),
        window: params.window,
        routes: index
            .into_keys()
            .map(|(service, name)| GroupKey {
                service,
                level: GroupLevel::Route,
                name,
            })
            .collect(),
        rows,
    })
}

type Part = (Vec<(String, String)>, Vec<RequestRow>);

/// The rows of one batch with batch-local route indexes, and those routes.
fn read_batch(q: &Query, b: &RecordBatch) -> Result<Part, EngineError> {
    let shape = |column: &str, reason: String| EngineError::ResultShape {
        query: q.name.into(),
        column: column.into(),
        reason,
    };
    let col = |n: &str| {
        b.column_by_name(n)
            .ok_or_else(|| shape(n, "missing".into()))
    };
    let side = cast(col("side")?, &DataType::Utf8).map_err(|e| shape("side", e.to_string()))?;
    let side = side.as_string::<i32>();
    let (service_keys, service_values) =
        dictionary(col("service_name")?).map_err(|e| shape("service_name", e.to_string()))?;
    let (name_keys, name_values) =
        dictionary(col("name")?).map_err(|e| shape("name", e.to_string()))?;
    let (service_values, name_values) = (
        service_values.as_string::<i32>(),
        name_values.as_string::<i32>(),
    );
    let trace = col("trace_id")?
        .as_fixed_size_binary_opt()
        .ok_or_else(|| shape("trace_id", "expected FixedSizeBinary".into()))?;
    let start = col("start_ns")?
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| shape("start_ns", "expected Int64".into()))?;
    let dur = col("duration_ns")?
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| shape("duration_ns", "expected Int64".into()))?;
    let err = col("is_error")?
        .as_boolean_opt()
        .ok_or_else(|| shape("is_error", "expected Boolean".into()))?;
    let weight = col("sample_weight")?
        .as_primitive_opt::<Float64Type>()
        .ok_or_else(|| shape("sample_weight", "expected Float64".into()))?;
    let mut local: AHashMap<(i32, i32), u32> = AHashMap::new();
    let mut routes = Vec::new();
    let mut rows = Vec::with_capacity(b.num_rows());
    for i in 0..b.num_rows() {
        if side.is_null(i) || service_keys.is_null(i) || name_keys.is_null(i) {
            continue;
        }
        let (s, n) = (service_keys.value(i), name_keys.value(i));
        let route = match local.get(&(s, n)) {
            Some(r) => *r,
            None => {
                let (su, nu) = (s as usize, n as usize);
                if service_values.is_null(su) || name_values.is_null(nu) {
                    continue;
                }
                let r = routes.len() as u32;
                routes.push((
                    service_values.value(su).to_string(),
                    name_values.value(nu).to_string(),
                ));
                local.insert((s, n), r);
                r
            }
        };
        let side = match side.value(i) {
            "baseline" => Side::Baseline,
            "canary" => Side::Canary,
            other => return Err(shape("side", format!("unexpected value {other:?}"))),
        };
        rows.push(RequestRow {
            start_ns: start.value(i),
            duration_ns: dur.value(i),
            route,
            side,
            is_error: err.is_valid(i) && err.value(i),
            weight: weight.value(i),
            trace_hash: if trace.is_null(i) {
                0
            } else {
                fnv1a64(trace.value(i))
            },
        });
    }
    Ok((routes, rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testdata::{deployment, T0};

    /// Rows in a total order (the scan's and the query's orders are both undefined).
    fn canonical(mut log: RequestLog) -> RequestLog {
        log.rows.sort_by(|a, b| {
            (
                a.route,
                a.side == Side::Canary,
                a.start_ns,
                a.duration_ns,
                a.trace_hash,
                a.is_error,
            )
                .cmp(&(
                    b.route,
                    b.side == Side::Canary,
                    b.start_ns,
                    b.duration_ns,
                    b.trace_hash,
                    b.is_error,
                ))
                .then(a.weight.total_cmp(&b.weight))
        });
        log
    }

    /// The scan gives the query's rows (routes, sides, trace hashes) in the window the scan
    /// found and in a `--since/--until` window, from batches and from a Parquet file of many
    /// row groups, with and without a service filter.
    #[tokio::test]
    async fn scan_gives_the_rows_of_backtest_requests_sql() {
        let batches = deployment();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans.parquet");
        crate::engine::testdata::write_small_row_groups(&batches, &path);
        let engines = [
            Engine::from_batches(batches).await.unwrap(),
            Engine::from_parquet(&[path]).await.unwrap(),
        ];
        let sel = |t: &str| Selector {
            track: Some(t.into()),
            version: None,
        };
        let windows = [
            EngineOptions::default(),
            EngineOptions {
                since_unix_nano: Some(T0 + 2 * crate::engine::testdata::MIN),
                until_unix_nano: Some(T0 + 5 * crate::engine::testdata::MIN),
                ..EngineOptions::default()
            },
            EngineOptions {
                service: Some("cart".into()),
                ..EngineOptions::default()
            },
        ];
        let mut checked = 0;
        for e in &engines {
            for opts in &windows {
                let (baseline, canary) = (sel("stable"), sel("canary"));
                let got = request_log(e, &baseline, &canary, opts).await.unwrap();
                let params = Params {
                    baseline: baseline.clone(),
                    canary: canary.clone(),
                    service: opts.service.clone(),
                    window: got.window,
                    bucket_ns: opts.bucket_ns,
                };
                let want = request_log_sql(e, &params).await.unwrap();
                assert!(!want.rows.is_empty(), "{opts:?}");
                assert!(got.rows.iter().any(|r| r.trace_hash != 0));
                checked += want.rows.len();
                assert_eq!(canonical(got), canonical(want), "{opts:?}");
            }
        }
        assert!(checked > 100, "{checked}");
    }
}
