//! Tests of `histogram_quantile` and `exp_histogram_quantile`: against the stats functions,
//! through SQL, across partial-state merges, and against
//! `tests/reference/histogram_udaf_reference.json` (written by
//! `tests/reference/generate_histogram_udaf_reference.py`, an independent numpy computation).

use super::*;
use crate::stats::histogram_quantile::merged_quantile;
use arrow::array::{Float64Array, Int32Array, ListBuilder, UInt64Array, UInt64Builder};
use arrow::array::{Float64Builder, RecordBatch};
use arrow::datatypes::Schema;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use serde_json::Value;

const REFERENCE: &str = include_str!("../../../tests/reference/histogram_udaf_reference.json");

fn f64_lists(rows: &[Option<Vec<f64>>]) -> ArrayRef {
    let mut b = ListBuilder::new(Float64Builder::new());
    for r in rows {
        match r {
            Some(v) => {
                b.values().append_slice(v);
                b.append(true);
            }
            None => b.append(false),
        }
    }
    Arc::new(b.finish())
}

fn u64_lists(rows: &[Option<Vec<u64>>]) -> ArrayRef {
    let mut b = ListBuilder::new(UInt64Builder::new());
    for r in rows {
        match r {
            Some(v) => {
                b.values().append_slice(v);
                b.append(true);
            }
            None => b.append(false),
        }
    }
    Arc::new(b.finish())
}

fn explicit(q: f64) -> ExplicitAccumulator {
    ExplicitAccumulator { q, merged: None }
}

fn feed(acc: &mut ExplicitAccumulator, rows: &[(Vec<f64>, Option<Vec<u64>>)]) -> Result<()> {
    let n = rows.len();
    let q: ArrayRef = Arc::new(Float64Array::from(vec![acc.q; n]));
    let bounds = f64_lists(&rows.iter().map(|r| Some(r.0.clone())).collect::<Vec<_>>());
    let counts = u64_lists(&rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>());
    acc.update_batch(&[q, bounds, counts])
}

fn value(s: ScalarValue) -> Option<f64> {
    match s {
        ScalarValue::Float64(v) => v,
        other => panic!("not a Float64: {other:?}"),
    }
}

fn state_arrays(acc: &mut dyn Accumulator) -> Vec<ArrayRef> {
    acc.state()
        .unwrap()
        .iter()
        .map(|s| s.to_array().unwrap())
        .collect()
}

#[test]
fn same_bounds_match_the_stats_merge() {
    let bounds = vec![0.1, 0.5, 1.0];
    let rows = vec![
        (bounds.clone(), Some(vec![3, 5, 2, 1])),
        (bounds.clone(), None), // baseline point of a cumulative series
        (bounds.clone(), Some(vec![])), // point without buckets
        (bounds.clone(), Some(vec![0, 10, 4, 0])),
    ];
    let hs = [
        ExplicitHistogram::new(bounds.clone(), vec![3.0, 5.0, 2.0, 1.0]).unwrap(),
        ExplicitHistogram::new(bounds.clone(), vec![0.0, 10.0, 4.0, 0.0]).unwrap(),
    ];
    for q in [0.0, 0.1, 0.5, 0.9, 0.99, 1.0] {
        let mut acc = explicit(q);
        feed(&mut acc, &rows).unwrap();
        let got = value(acc.evaluate().unwrap());
        let want = merged_quantile(&hs, q).unwrap();
        assert_eq!(got, (!want.is_nan()).then_some(want), "q={q}");
    }
    let mut acc = explicit(0.5);
    assert_eq!(value(acc.evaluate().unwrap()), None, "empty group");
    feed(&mut acc, &[(bounds.clone(), Some(vec![0, 0, 0, 0]))]).unwrap();
    assert_eq!(value(acc.evaluate().unwrap()), None, "no observations");
}

#[test]
fn different_bounds_merge_onto_common_bounds() {
    // [0.1, 0.25, 0.5, 1] and [0.1, 0.5, 2] share 0.1 and 0.5.
    let mut acc = explicit(0.5);
    feed(
        &mut acc,
        &[
            (vec![0.1, 0.25, 0.5, 1.0], Some(vec![1, 2, 3, 4, 5])),
            (vec![0.1, 0.5, 2.0], Some(vec![10, 20, 30, 40])),
        ],
    )
    .unwrap();
    let m = acc.merged.clone().unwrap();
    assert_eq!(m.bounds, vec![0.1, 0.5]);
    // ≤0.1: 1 + 10; (0.1, 0.5]: 2+3 + 20; above: 4+5 + 30+40.
    assert_eq!(m.counts, vec![11, 25, 79]);
    let want = ExplicitHistogram::new(vec![0.1, 0.5], vec![11.0, 25.0, 79.0])
        .unwrap()
        .quantile(0.5);
    assert_eq!(value(acc.evaluate().unwrap()), Some(want));
}

#[test]
fn disjoint_bounds_and_malformed_rows_are_errors() {
    let mut acc = explicit(0.5);
    let e = feed(
        &mut acc,
        &[
            (vec![1.0, 2.0], Some(vec![1, 1, 1])),
            (vec![3.0], Some(vec![1, 1])),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("[1, 2]") && e.contains("[3]") && e.contains("share no bound"),
        "{e}"
    );
    let e = feed(&mut explicit(0.5), &[(vec![1.0, 2.0], Some(vec![1, 1]))])
        .unwrap_err()
        .to_string();
    assert!(e.contains("2 bucket counts for 2 bounds"), "{e}");
    let e = feed(&mut explicit(0.5), &[(vec![2.0, 1.0], Some(vec![1, 1, 1]))])
        .unwrap_err()
        .to_string();
    assert!(e.contains("strictly increasing"), "{e}");
}

#[test]
fn explicit_partial_states_merge_to_the_same_result() {
    let rows = vec![
        (vec![0.1, 0.5, 1.0], Some(vec![3, 5, 2, 1])),
        (vec![0.1, 1.0], Some(vec![7, 1, 9])),
        (vec![0.1, 0.5, 1.0], Some(vec![0, 10, 4, 2])),
    ];
    let mut whole = explicit(0.9);
    feed(&mut whole, &rows).unwrap();
    for split in 0..=rows.len() {
        let mut a = explicit(0.9);
        let mut b = explicit(0.9);
        feed(&mut a, &rows[..split]).unwrap();
        feed(&mut b, &rows[split..]).unwrap();
        let st = state_arrays(&mut a);
        b.merge_batch(&st).unwrap();
        assert_eq!(b.merged, whole.merged, "split {split}");
        assert_eq!(b.evaluate().unwrap(), whole.evaluate().unwrap());
    }
}

fn exp_hist(scale: i32, zero: f64, offset: i32, counts: &[f64]) -> ExponentialHistogram {
    ExponentialHistogram {
        scale,
        zero_threshold: 0.0,
        zero_count: zero,
        positive: ExponentialBuckets {
            offset,
            bucket_counts: counts.to_vec(),
        },
        negative: ExponentialBuckets::default(),
    }
}

fn exp_rows(hs: &[ExponentialHistogram], q: f64) -> Vec<ArrayRef> {
    let n = hs.len();
    let opt = |v: Vec<f64>| Some(v);
    vec![
        Arc::new(Float64Array::from(vec![q; n])),
        Arc::new(Int32Array::from(
            hs.iter().map(|h| h.scale).collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            hs.iter().map(|h| h.zero_count).collect::<Vec<_>>(),
        )),
        Arc::new(Int32Array::from(
            hs.iter().map(|h| h.positive.offset).collect::<Vec<_>>(),
        )),
        f64_lists(
            &hs.iter()
                .map(|h| opt(h.positive.bucket_counts.clone()))
                .collect::<Vec<_>>(),
        ),
        Arc::new(Int32Array::from(
            hs.iter().map(|h| h.negative.offset).collect::<Vec<_>>(),
        )),
        f64_lists(
            &hs.iter()
                .map(|h| opt(h.negative.bucket_counts.clone()))
                .collect::<Vec<_>>(),
        ),
    ]
}

#[test]
fn exponential_merges_at_the_smallest_scale_like_the_stats_merge() {
    let hs = [
        exp_hist(3, 2.0, 10, &[1.0, 4.0, 9.0, 3.0]),
        exp_hist(1, 0.0, 1, &[5.0, 5.0]),
        exp_hist(4, 1.0, 30, &[2.0, 0.0, 7.0]),
    ];
    let want_hist = hs[1..].iter().fold(hs[0].clone(), |acc, h| {
        exponential_histogram::merge(&acc, h).unwrap()
    });
    assert_eq!(want_hist.scale, 1);
    for q in [0.05, 0.5, 0.99] {
        let mut acc = ExpAccumulator { q, merged: None };
        acc.update_batch(&exp_rows(&hs, q)).unwrap();
        assert_eq!(acc.merged.as_ref().unwrap().scale, 1);
        assert_eq!(value(acc.evaluate().unwrap()), Some(want_hist.quantile(q)));
        // Split into two partial aggregates.
        let mut a = ExpAccumulator { q, merged: None };
        let mut b = ExpAccumulator { q, merged: None };
        a.update_batch(&exp_rows(&hs[..1], q)).unwrap();
        b.update_batch(&exp_rows(&hs[1..], q)).unwrap();
        let st = state_arrays(&mut a);
        b.merge_batch(&st).unwrap();
        assert_eq!(value(b.evaluate().unwrap()), Some(want_hist.quantile(q)));
    }
    let mut empty = ExpAccumulator {
        q: 0.5,
        merged: None,
    };
    let st = state_arrays(&mut empty);
    let mut b = ExpAccumulator {
        q: 0.5,
        merged: None,
    };
    b.merge_batch(&st).unwrap();
    assert_eq!(value(b.evaluate().unwrap()), None);
    let mut bad = ExpAccumulator {
        q: 0.5,
        merged: None,
    };
    let e = bad
        .update_batch(&exp_rows(&[exp_hist(21, 0.0, 0, &[1.0])], 0.5))
        .unwrap_err()
        .to_string();
    assert!(e.contains("scale 21"), "{e}");
}

async fn sql_f64(ctx: &SessionContext, sql: &str) -> Vec<Option<f64>> {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    batches
        .iter()
        .flat_map(|b| {
            let c = b.column(0).as_primitive::<Float64Type>();
            (0..c.len())
                .map(|i| c.is_valid(i).then(|| c.value(i)))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn through_sql_with_the_metric_table_types() {
    let ctx = SessionContext::new_with_config(
        datafusion::prelude::SessionConfig::new().with_target_partitions(3),
    );
    for f in crate::engine::udaf::all() {
        ctx.register_udaf(f);
    }
    let bounds = vec![0.1, 0.5, 1.0];
    let counts = [vec![3u64, 5, 2, 1], vec![0, 10, 4, 0], vec![1, 1, 1, 1]];
    let batch = RecordBatch::try_from_iter(vec![
        ("g", Arc::new(UInt64Array::from(vec![1, 1, 2])) as ArrayRef),
        ("bounds", f64_lists(&vec![Some(bounds.clone()); 3])),
        (
            "bucket_counts",
            u64_lists(&counts.iter().cloned().map(Some).collect::<Vec<_>>()),
        ),
    ])
    .unwrap();
    let schema = batch.schema();
    // One row per partition, so partial states are merged.
    let parts: Vec<Vec<RecordBatch>> = (0..3).map(|i| vec![batch.slice(i, 1)]).collect();
    let table = MemTable::try_new(schema, parts).unwrap();
    ctx.register_table("h", Arc::new(table)).unwrap();
    let got = sql_f64(
        &ctx,
        "SELECT histogram_quantile(0.9, bounds, bucket_counts) FROM h GROUP BY g ORDER BY g",
    )
    .await;
    let h = |c: &[u64]| {
        ExplicitHistogram::new(bounds.clone(), c.iter().map(|&x| x as f64).collect()).unwrap()
    };
    let g1 = merged_quantile(&[h(&counts[0]), h(&counts[1])], 0.9).unwrap();
    let g2 = h(&counts[2]).quantile(0.9);
    assert_eq!(got, vec![Some(g1), Some(g2)]);
    // A non-constant or out-of-range q is refused at planning.
    let e = ctx
        .sql("SELECT histogram_quantile(1.5, bounds, bucket_counts) FROM h")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("quantile must be in [0, 1]"), "{e}");
    let _ = Schema::empty();
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn assert_close(got: Option<f64>, want: f64, what: &str) {
    if want.is_nan() {
        assert_eq!(got, None, "{what}");
        return;
    }
    let got = got.unwrap_or_else(|| panic!("{what}: NULL, want {want}"));
    assert!(
        (got - want).abs() <= 1e-12 * want.abs().max(1e-300),
        "{what}: got {got:e}, reference {want:e}"
    );
}

#[test]
fn matches_the_numpy_reference() {
    let doc: Value = serde_json::from_str(REFERENCE).unwrap();
    for case in doc["explicit"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let rows: Vec<(Vec<f64>, Option<Vec<u64>>)> = case["histograms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["bounds"].as_array().unwrap().iter().map(num).collect(),
                    Some(
                        h["counts"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|c| c.as_u64().unwrap())
                            .collect(),
                    ),
                )
            })
            .collect();
        for pair in case["quantiles"].as_array().unwrap() {
            let q = num(&pair[0]);
            let mut acc = explicit(q);
            feed(&mut acc, &rows).unwrap();
            let m = acc.merged.clone().unwrap();
            let want_bounds: Vec<f64> = case["merged_bounds"]
                .as_array()
                .unwrap()
                .iter()
                .map(num)
                .collect();
            assert_eq!(m.bounds, want_bounds, "{name}");
            let cum: Vec<u64> = m
                .counts
                .iter()
                .scan(0, |s, c| {
                    *s += c;
                    Some(*s)
                })
                .collect();
            let want_cum: Vec<u64> = case["merged_cumulative"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_u64().unwrap())
                .collect();
            assert_eq!(cum, want_cum, "{name}");
            let got = value(acc.evaluate().unwrap());
            let want = if pair[1].is_null() {
                f64::NAN
            } else {
                num(&pair[1])
            };
            assert_close(got, want, &format!("{name} q={q}"));
        }
    }
    for case in doc["exponential"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let hs: Vec<ExponentialHistogram> = case["histograms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                exp_hist(
                    h["scale"].as_i64().unwrap() as i32,
                    num(&h["zero_count"]),
                    h["positive_offset"].as_i64().unwrap() as i32,
                    &h["positive_bucket_counts"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(num)
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        for pair in case["quantiles"].as_array().unwrap() {
            let q = num(&pair[0]);
            let mut acc = ExpAccumulator { q, merged: None };
            acc.update_batch(&exp_rows(&hs, q)).unwrap();
            let m = acc.merged.as_ref().unwrap();
            assert_eq!(
                i64::from(m.scale),
                case["merged_scale"].as_i64().unwrap(),
                "{name}"
            );
            assert_eq!(m.zero_count, num(&case["merged_zero_count"]), "{name}");
            assert_eq!(
                i64::from(m.positive.offset),
                case["merged_positive_offset"].as_i64().unwrap(),
                "{name}"
            );
            let want_counts: Vec<f64> = case["merged_positive_bucket_counts"]
                .as_array()
                .unwrap()
                .iter()
                .map(num)
                .collect();
            assert_eq!(m.positive.bucket_counts, want_counts, "{name}");
            let want = if pair[1].is_null() {
                f64::NAN
            } else {
                num(&pair[1])
            };
            assert_close(
                value(acc.evaluate().unwrap()),
                want,
                &format!("{name} q={q}"),
            );
        }
    }
}
