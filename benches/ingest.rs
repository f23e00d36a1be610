//! JSON-lines ingest throughput (MB/s of OTLP/JSON) on a synthetic in-memory input:
//! the single-threaded decoder (`otlp_json::decode_lines`) and the whole parallel driver
//! (`ingest_paths` into a `MemorySink`, from a temporary file).
//!
//! Run: `cargo bench --bench ingest`.

use canalyst::ingest::driver::ingest_paths_with_progress;
use canalyst::ingest::otlp_json::decode_lines;
use canalyst::ingest::{IngestOptions, MemorySink};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::fmt::Write as _;
use std::hint::black_box;

/// OTLP/JSON lines shaped like SDK output: one resource (6 attributes) per line, 20 spans of
/// 8 attributes each, a status on every 40th span, an exception event on every 100th.
fn synthetic(lines: usize) -> String {
    let mut s = String::new();
    let mut i: u64 = 0;
    for l in 0..lines {
        let track = if l.is_multiple_of(10) {
            "canary"
        } else {
            "stable"
        };
        let _ = write!(
            s,
            r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"checkout"}}}},{{"key":"service.version","value":{{"stringValue":"2.4.{}"}}}},{{"key":"deployment.track","value":{{"stringValue":"{track}"}}}},{{"key":"deployment.environment.name","value":{{"stringValue":"prod"}}}},{{"key":"host.name","value":{{"stringValue":"node-{}"}}}},{{"key":"telemetry.sdk.language","value":{{"stringValue":"go"}}}}]}},"scopeSpans":[{{"scope":{{"name":"net/http","version":"0.49.0"}},"spans":["#,
            l % 3,
            l % 17
        );
        for k in 0..20 {
            i += 1;
            let start = 1_700_000_000_000_000_000u64 + i * 1_000_000;
            let end = start + 1_000_000 + (i * 7919) % 50_000_000;
            if k > 0 {
                s.push(',');
            }
            let _ = write!(
                s,
                r#"{{"traceId":"{:032x}","spanId":"{:016x}","parentSpanId":"{:016x}","name":"GET /api/items/{{id}}","kind":2,"startTimeUnixNano":"{start}","endTimeUnixNano":"{end}","attributes":[{{"key":"http.request.method","value":{{"stringValue":"GET"}}}},{{"key":"http.route","value":{{"stringValue":"/api/items/{{id}}"}}}},{{"key":"http.response.status_code","value":{{"intValue":"{}"}}}},{{"key":"url.path","value":{{"stringValue":"/api/items/{}"}}}},{{"key":"server.address","value":{{"stringValue":"checkout.internal"}}}},{{"key":"server.port","value":{{"intValue":8080}}}},{{"key":"network.protocol.version","value":{{"stringValue":"1.1"}}}},{{"key":"user_agent.original","value":{{"stringValue":"Mozilla/5.0 (X11; Linux x86_64)"}}}}]"#,
                i / 8 + 1,
                i,
                i + 1_000_000,
                if i.is_multiple_of(40) { 500 } else { 200 },
                i % 1000
            );
            if i.is_multiple_of(40) {
                s.push_str(r#","status":{"code":2,"message":"upstream failed"}"#);
            }
            if i.is_multiple_of(100) {
                let _ = write!(
                    s,
                    r#","events":[{{"timeUnixNano":"{start}","name":"exception","attributes":[{{"key":"exception.type","value":{{"stringValue":"TimeoutError"}}}},{{"key":"exception.message","value":{{"stringValue":"deadline exceeded"}}}}]}}]"#
                );
            }
            s.push('}');
        }
        s.push_str("]}]}]}\n");
    }
    s
}

fn bench(c: &mut Criterion) {
    let text = synthetic(2_000);
    let opts = IngestOptions::default();
    let mut g = c.benchmark_group("otlp_json_lines");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.sample_size(10);
    g.bench_function("decode_lines_1_thread", |b| {
        b.iter(|| {
            let d = decode_lines(black_box(text.as_bytes()), 1, false, "bench", &opts);
            assert_eq!(d.quality.records_ingested, 40_000);
            d
        })
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("traces.jsonl");
    std::fs::write(&path, &text).expect("write input");
    g.bench_function("ingest_paths_parallel", |b| {
        b.iter(|| {
            let mut sink = MemorySink::default();
            let q =
                ingest_paths_with_progress(std::slice::from_ref(&path), &opts, &mut sink, false)
                    .expect("ingest");
            assert_eq!(q.records_ingested, 40_000);
            sink
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
