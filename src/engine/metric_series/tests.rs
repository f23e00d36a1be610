//! `metric_series` and the three dashboard queries on the committed sample metrics
//! (`sample-data/otlp/metrics.jsonl.gz`), against the generator's own totals in
//! `sample-data/truth.json` (counted per request as it was simulated, before any export,
//! cumulative encoding, restart or ingest).

use super::*;
use crate::engine::context::ANALYSIS_COLUMNS;
use crate::engine::inputs::open_inputs;
use crate::engine::EngineConfig;
use crate::ingest::IngestOptions;
use crate::model::comparison::{Selector, Window};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

async fn sample_engine() -> Engine {
    open_inputs(
        &[root().join("sample-data/otlp/metrics.jsonl.gz")],
        &IngestOptions::default(),
        ANALYSIS_COLUMNS,
        EngineConfig {
            target_partitions: 3,
        },
    )
    .await
    .unwrap()
    .engine
}

fn params(service: Option<&str>, bucket_ns: i64) -> Params {
    Params {
        baseline: Selector {
            track: Some("stable".into()),
            version: None,
        },
        canary: Selector {
            track: Some("canary".into()),
            version: None,
        },
        service: service.map(str::to_string),
        // 2025-01-01 .. 2027-01-01: the whole run.
        window: Window {
            start_unix_nano: 1_735_689_600_000_000_000,
            end_unix_nano: 1_798_761_600_000_000_000,
        },
        bucket_ns,
    }
}

/// (service, track) → (requests, errors) from truth.json's metric totals.
fn truth_totals() -> BTreeMap<(String, String), (u64, u64)> {
    let t: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("sample-data/truth.json")).unwrap(),
    )
    .unwrap();
    let mut m = BTreeMap::new();
    for r in t["metrics"]["routes"].as_array().unwrap() {
        let e = m
            .entry((
                r["service"].as_str().unwrap().to_string(),
                r["track"].as_str().unwrap().to_string(),
            ))
            .or_insert((0, 0));
        e.0 += r["requests"].as_u64().unwrap();
        e.1 += r["errors"].as_u64().unwrap();
    }
    m.retain(|_, v| v.0 > 0);
    m
}

#[tokio::test]
async fn series_totals_equal_the_generator_totals() {
    let engine = sample_engine().await;
    let s = metric_series(&engine, &params(None, 60_000_000_000))
        .await
        .unwrap();
    assert!(!s.is_empty());
    let mut got = BTreeMap::new();
    for t in &s.series {
        assert_eq!(
            t.side,
            if t.track == "stable" {
                Side::Baseline
            } else {
                Side::Canary
            }
        );
        assert!(t
            .buckets
            .windows(2)
            .all(|w| w[0].start_unix_nano < w[1].start_unix_nano));
        let e = got
            .entry((t.service.clone(), t.track.clone()))
            .or_insert((0, 0));
        for b in &t.buckets {
            assert_eq!(b.start_unix_nano % 60_000_000_000, 0);
            e.0 += b.requests;
            e.1 += b.errors;
            // Every bucket with requests has explicit histograms, so a p99 ≥ p50 > 0; a
            // bucket whose points all had zero increase has neither.
            if b.requests == 0 {
                assert_eq!((b.p50_ms, b.p99_ms), (None, None));
                continue;
            }
            let (Some(p50), Some(p99)) = (b.p50_ms, b.p99_ms) else {
                panic!("{} {} {:?}", t.service, t.track, b)
            };
            assert!(p50 > 0.0 && p99 >= p50, "{p50} {p99}");
        }
    }
    assert_eq!(got, truth_totals());
    assert_eq!(
        s.services().len(),
        got.keys()
            .map(|k| &k.0)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    );
}

#[tokio::test]
async fn service_filter_and_traffic_split_agree() {
    let engine = sample_engine().await;
    let truth = truth_totals();
    let s = metric_series(&engine, &params(Some("payment"), 600_000_000_000))
        .await
        .unwrap();
    assert!(s.series.iter().all(|t| t.service == "payment"));
    let total: u64 = s
        .series
        .iter()
        .flat_map(|t| &t.buckets)
        .map(|b| b.requests)
        .sum();
    let want = truth[&("payment".to_string(), "stable".to_string())].0
        + truth[&("payment".to_string(), "canary".to_string())].0;
    assert_eq!(total, want);

    // metrics_traffic_split.sql: per-bucket sums of the per-track rows.
    let p = params(None, 600_000_000_000);
    let all = metric_series(&engine, &p).await.unwrap();
    let q = queries::METRICS_TRAFFIC_SPLIT;
    let (_, batches) = engine.query(q.name, q.sql, p.values()).await.unwrap();
    let mut rows = 0;
    for b in &batches {
        let start = ints(&q, b, "bucket_start").unwrap();
        let base = ints(&q, b, "baseline_requests").unwrap();
        let can = ints(&q, b, "canary_requests").unwrap();
        let share = floats(&q, b, "canary_share").unwrap();
        for i in 0..b.num_rows() {
            rows += 1;
            let sum = |side: Side| -> i64 {
                all.series
                    .iter()
                    .filter(|t| t.side == side)
                    .flat_map(|t| &t.buckets)
                    .filter(|x| Some(x.start_unix_nano) == start[i])
                    .map(|x| x.requests as i64)
                    .sum()
            };
            assert_eq!(base[i], Some(sum(Side::Baseline)));
            assert_eq!(can[i], Some(sum(Side::Canary)));
            let want = can[i].unwrap() as f64 / (base[i].unwrap() + can[i].unwrap()) as f64;
            assert_eq!(share[i], Some(want));
        }
    }
    assert_eq!(rows, 6, "60 minutes in 10-minute buckets");
}

#[tokio::test]
async fn no_metrics_means_an_empty_series() {
    let engine = crate::engine::Engine::from_batches(crate::engine::testdata::deployment())
        .await
        .unwrap();
    let s = metric_series(&engine, &params(None, 60_000_000_000))
        .await
        .unwrap();
    assert!(s.is_empty() && s.series.is_empty());
}

#[test]
fn report_buckets_are_whole_multiples() {
    let minute = 60_000_000_000;
    let w = |m: i64| Window {
        start_unix_nano: 0,
        end_unix_nano: m * minute,
    };
    assert_eq!(report_bucket_ns(&w(55), minute), 5 * minute);
    assert_eq!(report_bucket_ns(&w(12), minute), minute);
    assert_eq!(report_bucket_ns(&w(6), minute), minute);
    assert_eq!(report_bucket_ns(&w(120), 30_000_000_000), 10 * minute);
}
