//! Small hand-built canonical span tables for the engine's tests.

use crate::model::identity::{kind, status, IdentityConfig};
use crate::model::spans::{ResourceInfo, SpanRecord, SpansBuilder};
use arrow::record_batch::RecordBatch;
use std::sync::Arc;

/// One minute in nanoseconds.
pub const MIN: i64 = 60_000_000_000;
/// Base timestamp of the fixtures (2024-01-01T00:00:00Z).
pub const T0: i64 = 1_704_067_200_000_000_000;

/// A resource for `service` on `track` with `version`.
pub fn resource(service: &str, track: &str, version: &str) -> ResourceInfo {
    ResourceInfo::from_attributes(
        vec![
            ("service.name".into(), service.into()),
            ("service.version".into(), version.into()),
            ("deployment.track".into(), track.into()),
        ],
        Some("test".into()),
        &IdentityConfig::default(),
    )
}

fn id16(n: u64) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[8..].copy_from_slice(&n.to_be_bytes());
    a[0] = 0xab;
    a
}

fn id8(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

/// Builds a small two-service deployment:
///
/// - `checkout` stable 1.0 serves requests from minute 0 to 9 (one per 6 s), canary 1.1
///   from minute 3 to 7 (one per 12 s). Each trace: a SERVER span `GET /cart/{id}` (route
///   `/cart/{id}`), an INTERNAL child `db.query`, a CLIENT child `GET` calling `cart`, whose
///   SERVER span `GET /items` (route `/items`) is a request of `cart` (same track).
/// - Every 5th trace's checkout server span is an error (status ERROR on canary, HTTP 503
///   on stable). Canary durations are 1.5× stable's.
/// - Canary only: a root INTERNAL `cron.sweep` (a request with no route) and a SERVER span
///   on route `/new`.
/// - A CONSUMER span in `cart` whose parent is a PRODUCER in `checkout`: a request with no
///   route.
/// - Stable spans carry `SampleRate=2` on the `db.query` spans (weighted count 2 each).
pub fn deployment() -> Vec<RecordBatch> {
    let cfg = Arc::new(IdentityConfig::default());
    let mut out = Vec::new();
    let mut next_span = 1u64;
    let mut sid = || {
        next_span += 1;
        next_span
    };
    let mut trace = 0u64;
    for (track, version, from_min, to_min, step_s, factor) in [
        ("stable", "1.0", 0i64, 9i64, 6i64, 1.0f64),
        ("canary", "1.1", 3, 7, 12, 1.5),
    ] {
        let checkout = resource("checkout", track, version);
        let cart = resource("cart", track, version);
        let mut b_checkout = SpansBuilder::new(cfg.clone(), &format!("{track}-checkout.jsonl"));
        let mut b_cart = SpansBuilder::new(cfg.clone(), &format!("{track}-cart.jsonl"));
        let mut t = T0 + from_min * MIN;
        let mut i = 0u64;
        while t <= T0 + to_min * MIN {
            trace += 1;
            let dur = ((10 + (i * 7919) % 90) as f64 * factor * 1e6) as i64; // 10..100 ms
            let root = sid();
            let error = i.is_multiple_of(5);
            let (status_code, http) = match (error, track) {
                (true, "canary") => (status::ERROR, "200"),
                (true, _) => (status::UNSET, "503"),
                _ => (status::UNSET, "200"),
            };
            b_checkout.append(
                &checkout,
                &SpanRecord {
                    trace_id: id16(trace),
                    span_id: id8(root),
                    parent_span_id: None,
                    name: "GET /cart/{id}".into(),
                    kind: kind::SERVER,
                    start_time_unix_nano: t,
                    end_time_unix_nano: t + dur,
                    status_code,
                    attributes: vec![
                        ("http.route".into(), "/cart/{id}".into()),
                        ("http.response.status_code".into(), http.into()),
                    ],
                    ..Default::default()
                },
            );
            b_checkout.append(
                &checkout,
                &SpanRecord {
                    trace_id: id16(trace),
                    span_id: id8(sid()),
                    parent_span_id: Some(id8(root)),
                    name: "db.query".into(),
                    kind: kind::INTERNAL,
                    start_time_unix_nano: t + 1_000,
                    end_time_unix_nano: t + 1_000 + dur / 3,
                    attributes: if track == "stable" {
                        vec![("SampleRate".into(), "2".into())]
                    } else {
                        vec![]
                    },
                    ..Default::default()
                },
            );
            let client = sid();
            b_checkout.append(
                &checkout,
                &SpanRecord {
                    trace_id: id16(trace),
                    span_id: id8(client),
                    parent_span_id: Some(id8(root)),
                    name: "GET".into(),
                    kind: kind::CLIENT,
                    start_time_unix_nano: t + 2_000,
                    end_time_unix_nano: t + 2_000 + dur / 2,
                    ..Default::default()
                },
            );
            b_cart.append(
                &cart,
                &SpanRecord {
                    trace_id: id16(trace),
                    span_id: id8(sid()),
                    parent_span_id: Some(id8(client)),
                    name: "GET /items".into(),
                    kind: kind::SERVER,
                    start_time_unix_nano: t + 3_000,
                    end_time_unix_nano: t + 3_000 + dur / 2 - 5_000,
                    attributes: vec![("http.route".into(), "/items".into())],
                    ..Default::default()
                },
            );
            if track == "canary" && i % 4 == 1 {
                trace += 1;
                b_checkout.append(
                    &checkout,
                    &SpanRecord {
                        trace_id: id16(trace),
                        span_id: id8(sid()),
                        name: "cron.sweep".into(),
                        kind: kind::INTERNAL,
                        start_time_unix_nano: t + 500,
                        end_time_unix_nano: t + 500 + 4_000_000,
                        ..Default::default()
                    },
                );
                trace += 1;
                b_checkout.append(
                    &checkout,
                    &SpanRecord {
                        trace_id: id16(trace),
                        span_id: id8(sid()),
                        name: "POST /new".into(),
                        kind: kind::SERVER,
                        start_time_unix_nano: t + 700,
                        end_time_unix_nano: t + 700 + 7_000_000,
                        attributes: vec![("http.route".into(), "/new".into())],
                        ..Default::default()
                    },
                );
            }
            if i % 10 == 3 {
                trace += 1;
                let producer = sid();
                b_checkout.append(
                    &checkout,
                    &SpanRecord {
                        trace_id: id16(trace),
                        span_id: id8(producer),
                        name: "publish".into(),
                        kind: kind::PRODUCER,
                        start_time_unix_nano: t + 100,
                        end_time_unix_nano: t + 200_000,
                        ..Default::default()
                    },
                );
                b_cart.append(
                    &cart,
                    &SpanRecord {
                        trace_id: id16(trace),
                        span_id: id8(sid()),
                        parent_span_id: Some(id8(producer)),
                        name: "consume".into(),
                        kind: kind::CONSUMER,
                        start_time_unix_nano: t + 300_000,
                        end_time_unix_nano: t + 900_000,
                        ..Default::default()
                    },
                );
            }
            t += step_s * 1_000_000_000;
            i += 1;
        }
        out.push(b_checkout.finish().expect("checkout batch"));
        out.push(b_cart.finish().expect("cart batch"));
    }
    out
}

/// Writes `batches` to `path` as one Parquet file of 50-row row groups, so a scan over it
/// meets many row groups (and their statistics) even on these small fixtures.
pub fn write_small_row_groups(batches: &[RecordBatch], path: &std::path::Path) {
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(path).unwrap(),
        crate::model::spans::spans_schema(),
        Some(
            parquet::file::properties::WriterProperties::builder()
                .set_max_row_group_row_count(Some(50))
                .build(),
        ),
    )
    .unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}
