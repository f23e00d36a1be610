//! The request log of a window (`queries/backtest_requests.sql` → [`RequestLog`]): one compact
//! row per request with its route index and a hash of its trace id, for `canalyst backtest`.

use super::context::Engine;
use super::queries::{self, Params, Query};
use super::scan::dictionary;
use super::EngineError;
use crate::model::comparison::{GroupKey, GroupLevel, Side};
use crate::model::hash::fnv1a64;
use crate::model::requests::{RequestLog, RequestRow};
use ahash::AHashMap;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use rayon::prelude::*;
use std::collections::BTreeMap;

/// Reads every request of both sides in `params.window` (selectors and service as in
/// `params`); rows in the engine's order (see [`RequestLog`]).
pub async fn request_log(engine: &Engine, params: &Params) -> Result<RequestLog, EngineError> {
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
