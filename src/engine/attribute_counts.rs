//! The attribute diff's input: every request of the window (`forensics_attribute_requests.sql`)
//! marked as selection or baseline, and its entry span's and resource's attributes counted per
//! value.
//!
//! The selection predicate is never spliced into SQL text. `errors` and `slow` are built as
//! DataFusion expressions; a user predicate (`--select SQL`) is parsed by DataFusion's SQL
//! parser as **one expression** over the query's output columns (`DataFrame::parse_sql_expr`,
//! so `1=1; DROP …` or a second statement is a parse error), refused if it holds a subquery or
//! is not boolean, and applied with the DataFrame API (`with_column`). The session is
//! read-only, so an expression can read but never change anything.

use super::context::Engine;
use super::queries::{self, Params};
use super::EngineError;
use crate::model::traces::{
    AttributeCounts, AttributeSource, BaselineSet, KeyCounts, RequestSelect,
};
use arrow::array::{Array, AsArray, BooleanArray, MapArray, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::tree_node::TreeNode;
use datafusion::logical_expr::{Expr, ExprSchemable};
use datafusion::prelude::{col, lit};
use futures::StreamExt;
use std::collections::HashMap;

/// Per key while counting: rows with the key, value counts and ids, whether the cap was hit.
type KeyAcc = ([u64; 2], HashMap<String, ([u64; 2], u32)>, bool);

/// Counts every attribute value over the selection and the baseline requests of `params`.
pub async fn attribute_counts(
    engine: &Engine,
    params: &Params,
    select: &RequestSelect,
    baseline: BaselineSet,
) -> Result<AttributeCounts, EngineError> {
    let q = queries::FORENSICS_ATTRIBUTE_REQUESTS;
    let df = engine.dataframe(q.name, q.sql, params.values()).await?;
    let err = |error| EngineError::Query {
        query: q.name.to_string(),
        error,
    };
    let canary = col("side").eq(lit("canary"));
    let chosen = match select {
        RequestSelect::Errors => col("is_error"),
        RequestSelect::Slow => col("p99_ns")
            .is_not_null()
            .and(col("duration_ns").gt(col("p99_ns"))),
        RequestSelect::Sql(text) => user_predicate(&df, text)?,
    };
    // IS TRUE: a NULL predicate (a missing attribute) does not select.
    let selected = canary.clone().and(chosen).is_true();
    let in_baseline = match baseline {
        BaselineSet::Rest => canary.and(col("selected").is_false()),
        BaselineSet::Stable => col("side").eq(lit("baseline")),
    };
    let df = df
        .with_column("selected", selected)
        .map_err(err)?
        .with_column("in_baseline", in_baseline)
        .map_err(err)?
        .filter(col("selected").or(col("in_baseline")))
        .map_err(err)?
        .select_columns(&[
            "selected",
            "span_attributes",
            "resource_attributes",
            "span_kind",
            "is_root",
        ])
        .map_err(err)?;
    // Streamed: only one batch of requests with their attribute maps is held at a time.
    let (plan, mut stream) = engine.execute_stream(q.name, df).await?;
    let mut out = AttributeCounts::default();
    let mut keys: [HashMap<String, KeyAcc>; 2] = Default::default();
    let count = async {
        while let Some(b) = stream.next().await {
            count_batch(q.name, &b.map_err(err)?, &mut out, &mut keys)?;
        }
        Ok(())
    };
    engine.bounded(q.name, &plan, count).await?;
    let [span, resource] = keys;
    let mut list: Vec<KeyCounts> = span
        .into_iter()
        .map(|k| (AttributeSource::Span, k))
        .chain(resource.into_iter().map(|k| (AttributeSource::Resource, k)))
        .map(|(source, (key, (rows, values, capped)))| {
            let (values, value_ids) = values.into_iter().map(|(v, (c, id))| ((v, c), id)).unzip();
            KeyCounts {
                source,
                key,
                rows,
                values,
                value_ids,
                capped,
            }
        })
        .collect();
    list.sort_by(|a, b| (a.source, &a.key).cmp(&(b.source, &b.key)));
    out.keys = list;
    Ok(out)
}

/// Parses `--select SQL` as one boolean expression over the query's columns.
fn user_predicate(df: &datafusion::prelude::DataFrame, text: &str) -> Result<Expr, EngineError> {
    let expr = df
        .parse_sql_expr(text)
        .map_err(|error| EngineError::Query {
            query: "--select predicate".into(),
            error,
        })?;
    let subquery = expr
        .exists(|e| {
            Ok(matches!(
                e,
                Expr::ScalarSubquery(_) | Expr::InSubquery(_) | Expr::Exists(_)
            ))
        })
        .unwrap_or(true);
    if subquery {
        return Err(EngineError::Options(format!(
            "--select {text:?}: subqueries are not allowed; write a condition on the request's columns"
        )));
    }
    match expr.get_type(df.schema()) {
        Ok(DataType::Boolean) | Ok(DataType::Null) => Ok(expr),
        Ok(t) => Err(EngineError::Options(format!(
            "--select {text:?}: the predicate must be true or false, not {t}"
        ))),
        Err(error) => Err(EngineError::Query {
            query: "--select predicate".into(),
            error,
        }),
    }
}

fn strings(name: &str, a: &dyn Array) -> Result<StringArray, EngineError> {
    let c = cast(a, &DataType::Utf8).map_err(|e| EngineError::ResultShape {
        query: name.into(),
        column: "attributes".into(),
        reason: e.to_string(),
    })?;
    Ok(c.as_string::<i32>().clone())
}

fn count_batch(
    name: &str,
    b: &RecordBatch,
    out: &mut AttributeCounts,
    keys: &mut [HashMap<String, KeyAcc>; 2],
) -> Result<(), EngineError> {
    let shape = |column: &str, reason: &str| EngineError::ResultShape {
        query: name.into(),
        column: column.into(),
        reason: reason.into(),
    };
    let selected: &BooleanArray = b
        .column_by_name("selected")
        .and_then(|c| c.as_boolean_opt())
        .ok_or_else(|| shape("selected", "expected Boolean"))?;
    let kind = cast(
        b.column_by_name("span_kind")
            .ok_or_else(|| shape("span_kind", "missing"))?,
        &DataType::Int32,
    )
    .map_err(|e| shape("span_kind", &e.to_string()))?;
    let kind = kind.as_primitive::<arrow::datatypes::Int32Type>();
    let root: &BooleanArray = b
        .column_by_name("is_root")
        .and_then(|c| c.as_boolean_opt())
        .ok_or_else(|| shape("is_root", "expected Boolean"))?;
    let mut maps = Vec::new();
    for (column, source) in [
        ("span_attributes", AttributeSource::Span),
        ("resource_attributes", AttributeSource::Resource),
    ] {
        let m: &MapArray = b
            .column_by_name(column)
            .and_then(|c| c.as_map_opt())
            .ok_or_else(|| shape(column, "expected Map"))?;
        maps.push((
            m,
            strings(name, m.keys())?,
            strings(name, m.values())?,
            source,
        ));
    }
    for i in 0..b.num_rows() {
        let side = usize::from(!(selected.is_valid(i) && selected.value(i)));
        if side == 0 {
            out.selection += 1;
        } else {
            out.baseline += 1;
        }
        // SERVER (2), CONSUMER (5) or a root: the spans a lean ingest keeps whole.
        let whole = matches!(kind.value(i), 2 | 5) || (root.is_valid(i) && root.value(i));
        out.other_entry_requests += u64::from(!whole);
        let r = &mut out.requests;
        r.selected.push(side == 0);
        if r.offsets.is_empty() {
            r.offsets.push(0);
        }
        for (m, k, v, source) in &maps {
            if m.is_null(i) {
                continue;
            }
            let offsets = m.value_offsets();
            let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
            for j in start..end {
                if k.is_null(j) {
                    continue;
                }
                let key = k.value(j);
                let map = &mut keys[*source as usize];
                // Look up by the borrowed key: allocating a String per attribute of every
                // request would dominate the pass.
                if !map.contains_key(key) {
                    map.insert(key.to_string(), KeyAcc::default());
                }
                let acc = map.get_mut(key).expect("inserted above");
                acc.0[side] += 1;
                let value = if v.is_null(j) { "" } else { v.value(j) };
                if let Some((c, id)) = acc.1.get_mut(value) {
                    c[side] += 1;
                    out.requests.ids.push(*id);
                } else if acc.1.len() < KeyCounts::MAX_VALUES {
                    let mut c = [0, 0];
                    c[side] = 1;
                    let id = out.requests.next_id;
                    out.requests.next_id += 1;
                    acc.1.insert(value.to_string(), (c, id));
                    out.requests.ids.push(id);
                } else {
                    acc.2 = true;
                }
            }
        }
        let r = &mut out.requests;
        r.offsets.push(r.ids.len() as u32);
    }
    Ok(())
}
