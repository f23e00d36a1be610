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
    AttributeCounts, AttributeRef, AttributeSource, BaselineSet, KeyCounts, PairCounts,
    RequestSelect,
};
use arrow::array::{Array, AsArray, BooleanArray, MapArray, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::tree_node::TreeNode;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, ExprSchemable};
use datafusion::prelude::{col, lit, DataFrame};
use futures::StreamExt;
use std::collections::HashMap;

/// The requests the attribute diff reads: the selection and the baseline of `params`, the
/// first pass one streamed evaluation of the query, the pairs pass the first pass's batches
/// when they were kept ([`FirstPass`]) or a second evaluation. Not split into trace partitions: the counts
/// are bounded whatever the input size (one batch and at most `MAX_VALUES + 1` values per
/// key), so K passes would only multiply the time (10M spans, K = 2: 60 s instead of 30 s).
#[derive(Debug, Clone, Copy)]
pub struct AttributeRequests<'a> {
    /// The session.
    pub engine: &'a Engine,
    /// Sides, service and window.
    pub params: &'a Params,
    /// The selection (`--select`).
    pub select: &'a RequestSelect,
    /// What it is compared against (`--baseline`).
    pub baseline: BaselineSet,
}

impl AttributeRequests<'_> {
    /// Counts every attribute value over the selection and the baseline requests into an
    /// [`AttributeAcc`]: the counts are exact sums over every request, and the per-key cap
    /// ([`KeyCounts::MAX_VALUES`]) depends only on the set of distinct values, so the result
    /// is the same for any row order (and any split of the rows, see the tests). The query's
    /// result is streamed batch by batch; memory holds at most `MAX_VALUES + 1` values per
    /// key, and the batches seen so far while they stay under [`FIRST_PASS_KEEP_BYTES`]
    /// (returned as the [`FirstPass`] for [`AttributeRequests::pairs`]).
    pub async fn counts(&self) -> Result<(AttributeCounts, FirstPass), EngineError> {
        let mut acc = AttributeAcc::default();
        let mut kept = FirstPass::default();
        self.for_each_batch(&FIRST_PASS_COLUMNS, |b| {
            count_batch(b, &mut acc)?;
            kept.keep(b);
            Ok(())
        })
        .await?;
        Ok((acc.finish(), kept))
    }

    /// The second pass of the attribute pairs: the requests carrying each pair of
    /// `candidates` (at most 32), only the candidates' keys looked at.
    /// With the first pass's batches kept ([`FirstPass`]) they are read instead of running
    /// the query again.
    pub async fn pairs(
        &self,
        candidates: Vec<AttributeRef>,
        first: FirstPass,
    ) -> Result<PairCounts, EngineError> {
        let mut pairs = PairCounts::new(candidates);
        if pairs.candidates.len() < 2 {
            return Ok(pairs);
        }
        // Per source, per candidate key: the candidates of that key (index, value).
        let cands = pairs.candidates.clone();
        let mut wanted: [HashMap<&str, Vec<(usize, &str)>>; 2] = Default::default();
        for (i, c) in cands.iter().enumerate() {
            wanted[c.source as usize]
                .entry(c.key.as_str())
                .or_default()
                .push((i, c.value.as_str()));
        }
        let mut columns = vec!["selected"];
        for (source, column) in MAPS {
            if !wanted[source as usize].is_empty() {
                columns.push(column);
            }
        }
        let name = queries::FORENSICS_ATTRIBUTE_REQUESTS.name;
        let mut masks: Vec<u32> = Vec::new();
        let mut count = |b: &RecordBatch| -> Result<(), EngineError> {
            let selected = boolean(name, b, "selected")?;
            masks.clear();
            masks.resize(b.num_rows(), 0);
            for (source, column) in MAPS {
                let want = &wanted[source as usize];
                if want.is_empty() {
                    continue;
                }
                let (m, k, v) = map_columns(name, b, column)?;
                let offsets = m.value_offsets();
                for (i, mask) in masks.iter_mut().enumerate() {
                    if m.is_null(i) {
                        continue;
                    }
                    for j in offsets[i] as usize..offsets[i + 1] as usize {
                        if k.is_null(j) {
                            continue;
                        }
                        let Some(of_key) = want.get(k.value(j)) else {
                            continue;
                        };
                        // As the first pass counts it: a NULL value is "".
                        let value = if v.is_null(j) { "" } else { v.value(j) };
                        for (x, _) in of_key.iter().filter(|(_, c)| *c == value) {
                            *mask |= 1 << x;
                        }
                    }
                }
            }
            for (i, &mask) in masks.iter().enumerate() {
                pairs.add(selected.is_valid(i) && selected.value(i), mask);
            }
            Ok(())
        };
        match first.batches {
            Some(batches) => batches.iter().try_for_each(&mut count)?,
            None => self.for_each_batch(&columns, count).await?,
        }
        Ok(pairs)
    }

    /// Runs the attribute requests query (with the `selected` column), keeping `columns`,
    /// and hands `on_batch` each result batch.
    async fn for_each_batch(
        &self,
        columns: &[&str],
        mut on_batch: impl FnMut(&RecordBatch) -> Result<(), EngineError>,
    ) -> Result<(), EngineError> {
        let q = queries::FORENSICS_ATTRIBUTE_REQUESTS;
        let err = |error| EngineError::Query {
            query: q.name.to_string(),
            error,
        };
        let df = requests_frame(self.engine, self.params, self.select, self.baseline)
            .await?
            .select_columns(columns)
            .map_err(err)?;
        // Streamed: only one batch of requests is held at a time.
        let (plan, mut stream) = self.engine.execute_stream(q.name, df).await?;
        let run = async {
            while let Some(b) = stream.next().await {
                on_batch(&b.map_err(err)?)?;
            }
            Ok(())
        };
        self.engine.bounded(q.name, &plan, run).await
    }
}

/// The columns the first pass reads (and keeps for the second, see [`FirstPass`]).
const FIRST_PASS_COLUMNS: [&str; 5] = [
    "selected",
    "span_attributes",
    "resource_attributes",
    "span_kind",
    "is_root",
];

/// Most bytes of first-pass result batches kept for the pairs pass (256 MiB): beyond, the
/// second pass evaluates the query again, as it always did. Below, the `requests` view (a
/// filter carrying the attribute maps and a semi-join over every span) is evaluated once
/// instead of twice; at 1M spans that is ~30 MB of entry-span maps, at 10M spans the batches
/// pass the cap and memory stays where it was.
pub const FIRST_PASS_KEEP_BYTES: usize = 256 << 20;

/// The first attribute pass's result batches, kept for the pairs pass while they stay under
/// [`FIRST_PASS_KEEP_BYTES`]. The pair counts are sums over the requests, so reading the kept
/// batches gives the same counts as a second evaluation of the query.
#[derive(Debug)]
pub struct FirstPass {
    batches: Option<Vec<RecordBatch>>,
    bytes: usize,
}

impl Default for FirstPass {
    fn default() -> Self {
        Self {
            batches: Some(Vec::new()),
            bytes: 0,
        }
    }
}

impl FirstPass {
    /// Keeps `b` while the total stays under the cap; past it, drops every kept batch for good.
    fn keep(&mut self, b: &RecordBatch) {
        let Some(batches) = &mut self.batches else {
            return;
        };
        self.bytes += b.get_array_memory_size();
        if self.bytes > FIRST_PASS_KEEP_BYTES {
            self.batches = None;
        } else {
            batches.push(b.clone());
        }
    }

    /// A first pass that kept nothing: the pairs pass runs the query again.
    pub fn dropped() -> Self {
        Self {
            batches: None,
            bytes: 0,
        }
    }

    /// Whether the batches were kept (under the cap).
    pub fn kept(&self) -> bool {
        self.batches.is_some()
    }
}

/// The attribute map columns and where their keys are read.
const MAPS: [(AttributeSource, &str); 2] = [
    (AttributeSource::Span, "span_attributes"),
    (AttributeSource::Resource, "resource_attributes"),
];

/// A map column of `b` with its keys and values as strings.
fn map_columns<'a>(
    name: &str,
    b: &'a RecordBatch,
    column: &str,
) -> Result<(&'a MapArray, StringArray, StringArray), EngineError> {
    let m: &MapArray = b
        .column_by_name(column)
        .and_then(|c| c.as_map_opt())
        .ok_or_else(|| shape(name, column, "expected Map"))?;
    Ok((m, strings(name, m.keys())?, strings(name, m.values())?))
}

/// The attribute requests query with `selected` (the request is in the selection) and only
/// the selection's and the baseline's requests.
async fn requests_frame(
    engine: &Engine,
    params: &Params,
    select: &RequestSelect,
    baseline: BaselineSet,
) -> Result<DataFrame, EngineError> {
    let q = queries::FORENSICS_ATTRIBUTE_REQUESTS;
    // `$9`: the baseline p99 is computed only when the selection can read it (a condition
    // that names `p99_ns` anywhere in its text, however quoted or cased, may read it).
    let wants_p99 = match select {
        RequestSelect::Errors => false,
        RequestSelect::Slow => true,
        RequestSelect::Sql(text) => text.to_ascii_lowercase().contains("p99_ns"),
    };
    let mut values = params.values();
    values.push(ScalarValue::Boolean(Some(wants_p99)));
    let df = engine.dataframe(q.name, q.sql, values).await?;
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
    df.with_column("selected", selected)
        .map_err(err)?
        .with_column("in_baseline", in_baseline)
        .map_err(err)?
        .filter(col("selected").or(col("in_baseline")))
        .map_err(err)
}

/// Attribute value counts while the requests are read: per key, the requests carrying it and
/// the requests per value, until the key has more than [`KeyCounts::MAX_VALUES`] distinct
/// values (then it is capped and its values dropped). Every count is a sum over requests and
/// capping depends only on the set of values seen, so adding the same requests in any order
/// or in any partitions gives the same [`AttributeAcc::finish`].
#[derive(Debug, Default)]
pub struct AttributeAcc {
    selection: u64,
    baseline: u64,
    other_entry_requests: u64,
    keys: [HashMap<String, KeyAcc>; 2],
}

#[derive(Debug, Default)]
struct KeyAcc {
    rows: [u64; 2],
    values: HashMap<String, [u64; 2]>,
    capped: bool,
}

impl AttributeAcc {
    /// Counts one request: in the selection (`selected`) or the baseline; `whole` when its
    /// entry span is a SERVER, CONSUMER or root span (whose attributes a lean ingest keeps).
    pub fn add_request(&mut self, selected: bool, whole: bool) {
        if selected {
            self.selection += 1;
        } else {
            self.baseline += 1;
        }
        self.other_entry_requests += u64::from(!whole);
    }

    /// Counts one attribute `key` = `value` of a request of the selection or the baseline.
    pub fn add_value(&mut self, source: AttributeSource, key: &str, value: &str, selected: bool) {
        let side = usize::from(!selected);
        let map = &mut self.keys[source as usize];
        // Look up by the borrowed key: allocating a String per attribute of every request
        // would dominate the pass.
        let acc = match map.get_mut(key) {
            Some(acc) => acc,
            None => map.entry(key.to_string()).or_default(),
        };
        acc.rows[side] += 1;
        if acc.capped {
            return;
        }
        if let Some(c) = acc.values.get_mut(value) {
            c[side] += 1;
            return;
        }
        let mut c = [0, 0];
        c[side] = 1;
        acc.values.insert(value.to_string(), c);
        if acc.values.len() > KeyCounts::MAX_VALUES {
            acc.capped = true;
            acc.values = HashMap::new();
        }
    }

    /// The counts, keys sorted by source then key, values by requests (most first) then value.
    pub fn finish(self) -> AttributeCounts {
        let [span, resource] = self.keys;
        let mut keys: Vec<KeyCounts> = span
            .into_iter()
            .map(|k| (AttributeSource::Span, k))
            .chain(resource.into_iter().map(|k| (AttributeSource::Resource, k)))
            .map(|(source, (key, acc))| {
                let mut values: Vec<(String, [u64; 2])> = acc.values.into_iter().collect();
                values.sort_by(|a, b| {
                    (b.1[0] + b.1[1])
                        .cmp(&(a.1[0] + a.1[1]))
                        .then_with(|| a.0.cmp(&b.0))
                });
                KeyCounts {
                    source,
                    key,
                    rows: acc.rows,
                    values,
                    capped: acc.capped,
                }
            })
            .collect();
        keys.sort_by(|a, b| (a.source, &a.key).cmp(&(b.source, &b.key)));
        AttributeCounts {
            selection: self.selection,
            baseline: self.baseline,
            keys,
            pairs: PairCounts::default(),
            other_entry_requests: self.other_entry_requests,
        }
    }
}

/// Parses `--select SQL` as one boolean expression over the query's columns.
fn user_predicate(df: &DataFrame, text: &str) -> Result<Expr, EngineError> {
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
    let c = cast(a, &DataType::Utf8).map_err(|e| shape(name, "attributes", &e.to_string()))?;
    Ok(c.as_string::<i32>().clone())
}

fn shape(name: &str, column: &str, reason: &str) -> EngineError {
    EngineError::ResultShape {
        query: name.into(),
        column: column.into(),
        reason: reason.into(),
    }
}

fn boolean<'a>(
    name: &str,
    b: &'a RecordBatch,
    column: &str,
) -> Result<&'a BooleanArray, EngineError> {
    b.column_by_name(column)
        .and_then(|c| c.as_boolean_opt())
        .ok_or_else(|| shape(name, column, "expected Boolean"))
}

/// Counts the rows of `b` into `acc`.
fn count_batch(b: &RecordBatch, acc: &mut AttributeAcc) -> Result<(), EngineError> {
    let name = queries::FORENSICS_ATTRIBUTE_REQUESTS.name;
    let selected = boolean(name, b, "selected")?;
    let kind = cast(
        b.column_by_name("span_kind")
            .ok_or_else(|| shape(name, "span_kind", "missing"))?,
        &DataType::Int32,
    )
    .map_err(|e| shape(name, "span_kind", &e.to_string()))?;
    let kind = kind.as_primitive::<arrow::datatypes::Int32Type>();
    let root = boolean(name, b, "is_root")?;
    let mut maps = Vec::new();
    for (column, source) in [
        ("span_attributes", AttributeSource::Span),
        ("resource_attributes", AttributeSource::Resource),
    ] {
        let (m, k, v) = map_columns(name, b, column)?;
        maps.push((m, k, v, source));
    }
    for i in 0..b.num_rows() {
        let sel = selected.is_valid(i) && selected.value(i);
        // SERVER (2), CONSUMER (5) or a root: the spans a lean ingest keeps whole.
        let whole = matches!(kind.value(i), 2 | 5) || (root.is_valid(i) && root.value(i));
        acc.add_request(sel, whole);
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
                let value = if v.is_null(j) { "" } else { v.value(j) };
                acc.add_value(*source, k.value(j), value, sel);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::forensics::trace_partition;
    use crate::model::comparison::{Selector, Window};
    use proptest::prelude::*;

    /// The pairs pass reading the first pass's kept batches counts exactly what a second
    /// evaluation of the query counts (the path taken past [`FIRST_PASS_KEEP_BYTES`]).
    #[tokio::test]
    async fn pairs_from_the_kept_first_pass_equal_a_second_evaluation() {
        let sample = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("sample-data/otlp/traces.jsonl.gz");
        let mut sink = crate::ingest::driver::MemorySink::default();
        crate::ingest::load_spans_into(&[sample], &Default::default(), &mut sink).unwrap();
        let engine = Engine::from_batches(sink.batches).await.unwrap();
        let side = |t: &str| Selector {
            track: Some(t.to_string()),
            version: None,
        };
        let params = Params {
            baseline: side("stable"),
            canary: side("canary"),
            service: None,
            window: Window {
                start_unix_nano: 0,
                end_unix_nano: i64::MAX,
            },
            bucket_ns: 60_000_000_000,
        };
        let requests = AttributeRequests {
            engine: &engine,
            params: &params,
            select: &RequestSelect::Errors,
            baseline: BaselineSet::Rest,
        };
        let (counts, first) = requests.counts().await.unwrap();
        assert!(first.kept(), "the sample's requests are far under the cap");
        assert!(counts.selection > 0 && counts.baseline > 0);
        // The most frequent value of each bounded key with at least two values.
        let candidates: Vec<AttributeRef> = counts
            .keys
            .iter()
            .filter(|k| !k.capped && k.values.len() > 1)
            .take(8)
            .map(|k| AttributeRef {
                source: k.source,
                key: k.key.clone(),
                value: k.values[0].0.clone(),
            })
            .collect();
        assert!(candidates.len() >= 3, "{candidates:?}");
        let kept = requests.pairs(candidates.clone(), first).await.unwrap();
        let again = requests
            .pairs(candidates, FirstPass::dropped())
            .await
            .unwrap();
        assert_eq!(kept, again);
        assert!(kept.both.iter().any(|c| c[0] + c[1] > 0));
    }

    /// A request: trace id, in the selection, whole entry span, (source, key, value) attributes.
    type Request = ([u8; 16], bool, bool, Vec<(AttributeSource, String, String)>);

    /// Counts `requests` into one accumulator, `k` partitions of them one after the other
    /// (pass `p` adds the requests of trace partition `p`, in the order given): any split of
    /// the rows, as a partitioned or parallel reader would make it.
    fn count(requests: &[Request], k: u32) -> AttributeCounts {
        let mut acc = AttributeAcc::default();
        for p in 0..k {
            for (trace, sel, whole, attrs) in requests {
                if k > 1 && trace_partition(trace, k) != p {
                    continue;
                }
                acc.add_request(*sel, *whole);
                for (source, key, value) in attrs {
                    acc.add_value(*source, key, value, *sel);
                }
            }
        }
        acc.finish()
    }

    fn request() -> impl Strategy<Value = Request> {
        // Keys `a` (3 values), `b` (30 values), `id` (up to 400 distinct: capped in large
        // draws), in either source.
        (
            any::<[u8; 16]>(),
            any::<bool>(),
            any::<bool>(),
            0u32..3,
            0u32..30,
            0u32..400,
            any::<bool>(),
        )
            .prop_map(|(trace, sel, whole, a, b, id, res)| {
                let source = if res {
                    AttributeSource::Resource
                } else {
                    AttributeSource::Span
                };
                let attrs = vec![
                    (AttributeSource::Span, "a".to_string(), format!("a{a}")),
                    (source, "b".to_string(), format!("b{b}")),
                    (AttributeSource::Span, "id".to_string(), format!("{id}")),
                ];
                (trace, sel, whole, attrs)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Counts, the cap and so the whole diff are the same for any partition count and any
        /// row order.
        #[test]
        fn counts_do_not_depend_on_partitions_or_row_order(
            requests in prop::collection::vec(request(), 0..600),
            k in 2u32..8,
            seed in any::<u64>(),
        ) {
            let one = count(&requests, 1);
            let mut shuffled = requests.clone();
            // A deterministic shuffle from the seed (Fisher–Yates with an LCG).
            let mut s = seed | 1;
            for i in (1..shuffled.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (s >> 33) as usize % (i + 1));
            }
            prop_assert_eq!(&one, &count(&shuffled, k));
            // Exact sums: requests per side, and per key the requests carrying it.
            let sel = requests.iter().filter(|r| r.1).count() as u64;
            prop_assert_eq!((one.selection, one.baseline), (sel, requests.len() as u64 - sel));
            let id = one.keys.iter().find(|k| k.key == "id");
            let distinct: std::collections::BTreeSet<&str> =
                requests.iter().map(|r| r.3[2].2.as_str()).collect();
            if let Some(id) = id {
                prop_assert_eq!(id.rows[0] + id.rows[1], requests.len() as u64);
                prop_assert_eq!(id.capped, distinct.len() > KeyCounts::MAX_VALUES);
                prop_assert_eq!(id.distinct_values(), distinct.len().min(KeyCounts::MAX_VALUES));
            }
            // The diff and the pair candidates built on them are therefore the same too.
            let diff = |c: &AttributeCounts| {
                crate::forensics::attributes::pair_candidates(c, &RequestSelect::Errors)
            };
            prop_assert_eq!(diff(&one), diff(&count(&shuffled, k)));
        }
    }

    #[test]
    fn a_key_is_capped_exactly_when_it_has_more_than_max_values_distinct_values() {
        let mut acc = AttributeAcc::default();
        for i in 0..KeyCounts::MAX_VALUES {
            acc.add_value(AttributeSource::Span, "k", &format!("v{i}"), i % 2 == 0);
        }
        acc.add_value(AttributeSource::Span, "k", "v0", true);
        let c = acc.finish();
        assert!(!c.keys[0].capped);
        assert_eq!(c.keys[0].values.len(), KeyCounts::MAX_VALUES);
        // Most requests first: v0 has two.
        assert_eq!(c.keys[0].values[0], ("v0".to_string(), [2, 0]));
        let mut acc = AttributeAcc::default();
        for i in 0..=KeyCounts::MAX_VALUES {
            acc.add_value(AttributeSource::Resource, "k", &format!("v{i}"), false);
        }
        acc.add_value(AttributeSource::Resource, "k", "v0", true);
        let c = acc.finish();
        assert!(c.keys[0].capped && c.keys[0].values.is_empty());
        assert_eq!(c.keys[0].rows, [1, KeyCounts::MAX_VALUES as u64 + 1]);
    }
}
