//! The comparison rows by the shipped SQL: what [`super::scan`] gathers in one direct pass,
//! computed instead by `queries/window.sql`, `queries/route_samples.sql` and
//! `queries/operation_samples.sql` as DataFusion plans of the engine's session.
//!
//! Analysis takes this path when the session runs its plans elsewhere (a Ballista cluster,
//! [`super::cluster`]): executors can run a plan, not canalyst's hand-written scan. The rows
//! are the same (the direct scan states these queries' definitions, and `samples.rs` tests the
//! two equal), and the summariser puts every group's rows in a canonical order before summing,
//! so the comparison input — and every figure of the report — is bit-identical whichever path
//! gathered it.

use super::context::Engine;
use super::queries::{self, Params};
use super::scan::{Gathered, Row, Scanned, SideRange};
use super::EngineError;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};

/// Both sides' span counts and first and last starts, by `window.sql` (`$1..$5` of `params`).
pub(crate) async fn sides(engine: &Engine, params: &Params) -> Result<[SideRange; 2], EngineError> {
    let q = queries::WINDOW;
    let (_, batches) = engine
        .query(q.name, q.sql, params.selector_values())
        .await?;
    let shape = |column: &str, reason: String| EngineError::ResultShape {
        query: q.name.to_string(),
        column: column.to_string(),
        reason,
    };
    let row = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .ok_or_else(|| shape("*", "no result row".into()))?;
    let get = |n: &str| -> Result<Option<i64>, EngineError> {
        let c = row
            .column_by_name(n)
            .ok_or_else(|| shape(n, "missing".into()))?;
        let c = c
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| shape(n, format!("{}, expected Int64", c.data_type())))?;
        Ok((!c.is_null(0)).then(|| c.value(0)))
    };
    Ok([
        SideRange {
            count: get("baseline_spans")?.unwrap_or(0),
            first: get("baseline_first")?,
            last: get("baseline_last")?,
        },
        SideRange {
            count: get("canary_spans")?.unwrap_or(0),
            first: get("canary_first")?,
            last: get("canary_last")?,
        },
    ])
}

/// The rows of the window of `params` by `route_samples.sql` (when `route`) and
/// `operation_samples.sql` (when `operation`), with `sides` from [`sides`].
pub(crate) async fn rows(
    engine: &Engine,
    params: &Params,
    route: bool,
    operation: bool,
    sides: [SideRange; 2],
) -> Result<Scanned, EngineError> {
    let mut out = Scanned {
        sides,
        ..Scanned::default()
    };
    for (wanted, q, gathered) in [
        (route, queries::ROUTE_SAMPLES, &mut out.route),
        (operation, queries::OPERATION_SAMPLES, &mut out.operation),
    ] {
        if !wanted {
            continue;
        }
        let (_, batches) = engine.query(q.name, q.sql, params.values()).await?;
        for b in &batches {
            gather(b, gathered).map_err(|(column, reason)| EngineError::ResultShape {
                query: q.name.to_string(),
                column,
                reason,
            })?;
        }
    }
    Ok(out)
}

/// Adds the rows of one `*_samples.sql` result batch to `out`, by (service, name). Rows
/// without a side, service or name are not rows of any group (the queries never return them).
/// A column missing or of another type is an error naming the column.
fn gather(b: &RecordBatch, out: &mut Gathered) -> Result<(), (String, String)> {
    let column = |n: &str| {
        b.column_by_name(n)
            .ok_or_else(|| (n.to_string(), "missing".to_string()))
    };
    let utf8 =
        |n: &str| cast(column(n)?, &DataType::Utf8).map_err(|e| (n.to_string(), e.to_string()));
    let (side, service, name) = (utf8("side")?, utf8("service_name")?, utf8("name")?);
    let (side, service, name) = (
        side.as_string::<i32>(),
        service.as_string::<i32>(),
        name.as_string::<i32>(),
    );
    let int = |n: &str| {
        column(n)?
            .as_primitive_opt::<Int64Type>()
            .cloned()
            .ok_or_else(|| (n.to_string(), "expected Int64".to_string()))
    };
    let (start, dur) = (int("start_ns")?, int("duration_ns")?);
    let err = column("is_error")?
        .as_boolean_opt()
        .cloned()
        .ok_or_else(|| ("is_error".to_string(), "expected Boolean".to_string()))?;
    let weight = column("sample_weight")?
        .as_primitive_opt::<Float64Type>()
        .cloned()
        .ok_or_else(|| ("sample_weight".to_string(), "expected Float64".to_string()))?;
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
        let e = out
            .entry((service.value(i).to_string(), name.value(i).to_string()))
            .or_default();
        match side.value(i) {
            "baseline" => e.baseline.push(row),
            _ => e.canary.push(row),
        }
    }
    Ok(())
}
