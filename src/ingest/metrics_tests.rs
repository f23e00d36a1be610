//! Metric ingest over the real sample files (exact point counts per table and located
//! data-quality entries), mixed span + metric inputs, JSON decoding robustness.

use super::driver::ingest_paths_with_progress;
use super::otlp_json::{decode_document, decode_lines};
use super::{IngestOptions, MemorySink};
use crate::model::metrics::MetricTables;
use crate::model::quality::DataQuality;
use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, UInt64Type};
use proptest::prelude::*;
use std::path::PathBuf;

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/otlp-samples");

fn ingest(paths: &[PathBuf]) -> (MetricTables, DataQuality, usize) {
    let mut sink = MemorySink::default();
    let q = ingest_paths_with_progress(paths, &IngestOptions::default(), &mut sink, false)
        .expect("ingest");
    let spans = sink.batches.iter().map(|b| b.num_rows()).sum();
    (sink.metrics.expect("metric tables written"), q, spans)
}

fn sample(rel: &str) -> PathBuf {
    PathBuf::from(SAMPLES).join(rel)
}

fn rows(t: &MetricTables) -> [usize; 3] {
    [
        t.metric_points.num_rows(),
        t.histogram_points.num_rows(),
        t.exp_histogram_points.num_rows(),
    ]
}

/// `(kind, field)` of every listed issue.
fn issues(q: &DataQuality) -> Vec<(String, String)> {
    q.issues
        .iter()
        .map(|i| {
            (
                i.kind.name().to_string(),
                i.field.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn every_metric_sample_yields_exact_point_counts() {
    // (file, [metric_points, histogram_points, exp_histogram_points], rejected), counted by
    // reading the files (see docs/metrics.md "What each sample file yields").
    let cases: &[(&str, [usize; 3], u64)] = &[
        ("opentelemetry-proto/metrics.json", [2, 1, 1], 0),
        ("otel-spec-file-exporter/metrics.jsonl", [16, 0, 0], 0),
        (
            "collector-contrib/countconnector_metrics_input.json",
            [16, 2, 0],
            0,
        ),
        (
            "datadog-mapping-go/histogram_empty-cumulative-exponential.json",
            [0, 0, 1],
            0,
        ),
        (
            "datadog-mapping-go/histogram_empty-delta-no-min-max.json",
            [0, 1, 0],
            0,
        ),
        (
            "datadog-mapping-go/histogram_simple-cumulative.json",
            [0, 2, 0],
            0,
        ),
        (
            "datadog-mapping-go/histogram_simple-delta-non-monotonic-bound.json",
            [0, 0, 0],
            1,
        ),
        (
            "datadog-mapping-go/histogram_simple-exponential.json",
            [0, 0, 2],
            0,
        ),
        (
            "datadog-mapping-go/histogram_single-point-exponential-no-min-max.json",
            [0, 0, 1],
            0,
        ),
        ("datadog-mapping-go/histogram_zero-delta.json", [0, 1, 0], 0),
        ("datadog-mapping-go/mixed_interval.json", [3, 1, 0], 0),
        ("datadog-mapping-go/mixed_simple.json", [14, 1, 0], 0),
        ("datadog-mapping-go/source_simple.json", [7, 0, 0], 0),
        ("datadog-mapping-go/summary_simple.json", [2, 0, 0], 0),
        (
            "datadog-mapping-go/summary_with-attributes.json",
            [2, 0, 0],
            0,
        ),
    ];
    for (file, want, rejected) in cases {
        let (t, q, spans) = ingest(&[sample(file)]);
        assert_eq!(rows(&t), *want, "{file}");
        assert_eq!(q.records_rejected, *rejected, "{file}");
        assert_eq!(spans, 0, "{file}");
        let total: usize = want.iter().sum();
        assert_eq!(q.records_ingested, total as u64, "{file}");
        assert!(
            !q.counts.contains_key("unsupported_format"),
            "{file}: {:?}",
            q.counts
        );
    }
}

#[test]
fn invalid_and_odd_points_have_located_issues() {
    let (_, q, _) = ingest(&[sample(
        "datadog-mapping-go/histogram_simple-delta-non-monotonic-bound.json",
    )]);
    assert_eq!(
        issues(&q),
        [(
            "bad_metric_point".to_string(),
            "resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].explicitBounds"
                .to_string()
        )]
    );
    assert!(q.issues[0].reason.contains("not strictly increasing"));
    assert_eq!(q.issues[0].line, Some(1));

    let (_, q, _) = ingest(&[sample("datadog-mapping-go/mixed_simple.json")]);
    let got = issues(&q);
    assert!(got.contains(&(
        "bad_metric_point".into(),
        "resourceMetrics[0].scopeMetrics[0].metrics[0]".into()
    )));
    assert!(got.contains(&(
        "bad_metric_point".into(),
        "resourceMetrics[0].scopeMetrics[0].metrics[3].sum.aggregationTemporality".into()
    )));

    let (t, q, _) = ingest(&[sample(
        "datadog-mapping-go/histogram_empty-delta-no-min-max.json",
    )]);
    assert!(q.issues[0].reason.contains("count 20 but no buckets"));
    let h = &t.histogram_points;
    assert_eq!(
        h.column_by_name("count")
            .unwrap()
            .as_primitive::<UInt64Type>()
            .value(0),
        20
    );
    assert_eq!(
        h.column_by_name("bucket_counts")
            .unwrap()
            .as_list::<i32>()
            .value(0)
            .len(),
        0
    );
}

#[test]
fn cumulative_histogram_sample_becomes_a_delta_after_a_baseline() {
    // Two cumulative points without a start time: 20 [2, 18] then 50 [13, 37].
    let (t, q, _) = ingest(&[sample(
        "datadog-mapping-go/histogram_simple-cumulative.json",
    )]);
    let h = &t.histogram_points;
    let count = h
        .column_by_name("count")
        .unwrap()
        .as_primitive::<UInt64Type>();
    assert!(count.is_null(0), "baseline point has no delta");
    assert_eq!(count.value(1), 30);
    let b = h.column_by_name("bucket_counts").unwrap().as_list::<i32>();
    let b1 = b.value(1);
    assert_eq!(
        b1.as_primitive::<UInt64Type>().values().to_vec(),
        vec![11, 19]
    );
    let sum = h
        .column_by_name("sum")
        .unwrap()
        .as_primitive::<Float64Type>();
    assert!((sum.value(1) - 20.0).abs() < 1e-9);
    assert_eq!(q.counts.get("counter_reset"), None);
}

#[test]
fn delta_sums_keep_reported_values_and_totals() {
    let (t, _, _) = ingest(&[sample("datadog-mapping-go/mixed_interval.json")]);
    let m = &t.metric_points;
    let v = m
        .column_by_name("value")
        .unwrap()
        .as_primitive::<Float64Type>();
    let raw = m
        .column_by_name("raw_value")
        .unwrap()
        .as_primitive::<Float64Type>();
    let total: f64 = v.iter().flatten().sum();
    let raw_total: f64 = raw.iter().flatten().sum();
    assert_eq!(total, raw_total);
    assert_eq!(total, 8617.0 + 9227.0 + 9125.0);
}

#[test]
fn file_exporter_resets_are_noted_per_line() {
    let (t, q, _) = ingest(&[sample("otel-spec-file-exporter/metrics.jsonl")]);
    let resets = t
        .metric_points
        .column_by_name("reset")
        .unwrap()
        .as_boolean();
    let n_resets = resets.iter().filter(|r| *r == Some(true)).count() as u64;
    assert_eq!(q.counts.get("counter_reset"), Some(&n_resets));
    assert!(n_resets > 0);
    assert!(q
        .issues
        .iter()
        .filter(|i| i.kind.name() == "counter_reset")
        .all(|i| i.line.is_some_and(|l| (1..=4).contains(&l))));
}

#[test]
fn one_file_may_hold_spans_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mixed.jsonl");
    let span = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b173","name":"n","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;
    let metric = r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}},{"key":"deployment.track","value":{"stringValue":"canary"}}]},"scopeMetrics":[{"metrics":[{"name":"req","sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_DELTA","isMonotonic":true,"dataPoints":[{"startTimeUnixNano":"1","timeUnixNano":"2","asInt":"7","exemplars":[{"timeUnixNano":"2","asDouble":1.5,"traceId":"5b8efff798038103d269b633813fc60c","spanId":""}]}]}}]}]}]}"#;
    std::fs::write(&p, format!("{span}\n{metric}\n")).unwrap();
    let (t, q, spans) = ingest(&[p]);
    assert_eq!(spans, 1);
    assert_eq!(rows(&t), [1, 0, 0]);
    assert_eq!(q.records_ingested, 2);
    assert_eq!(q.counts.get("enum_as_name"), Some(&1));
    let m = &t.metric_points;
    let track = arrow::compute::cast(
        m.column_by_name("deployment_track").unwrap(),
        &arrow::datatypes::DataType::Utf8,
    )
    .unwrap();
    assert_eq!(track.as_string::<i32>().value(0), "canary");
    let src = m.column_by_name("source_line").unwrap();
    assert_eq!(
        src.as_primitive::<arrow::datatypes::Int64Type>().value(0),
        2
    );
    let ex = m
        .column_by_name("exemplars")
        .unwrap()
        .as_list::<i32>()
        .value(0);
    let ex = ex.as_struct();
    assert_eq!(ex.len(), 1);
    assert!(ex.column_by_name("span_id").unwrap().is_null(0));
    assert!(!ex.column_by_name("trace_id").unwrap().is_null(0));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let opts = IngestOptions::default();
        let _ = decode_lines(&bytes, 1, true, "f", &opts);
        let _ = decode_document(&bytes, 1, "f", &opts);
    }

    #[test]
    fn mangled_metric_lines_never_panic(cut in 0usize..2000, junk in "[-0-9a-zA-Z\"{}\\[\\],:. ]{0,12}") {
        let text = std::fs::read_to_string(sample("opentelemetry-proto/metrics.json")).unwrap();
        let compact: String = text.split_whitespace().collect();
        let at = cut.min(compact.len());
        let at = (0..=at).rev().find(|&i| compact.is_char_boundary(i)).unwrap_or(0);
        let line = format!("{}{}{}", &compact[..at], junk, &compact[at..]);
        let opts = IngestOptions::default();
        let d = decode_lines(line.as_bytes(), 1, false, "f", &opts);
        let q = &d.quality;
        prop_assert_eq!(q.records_read, q.records_ingested + q.records_rejected);
        let mut pts = d.metrics;
        let mut q2 = DataQuality::default();
        crate::model::metric_delta::convert(&mut pts, &mut q2);
        prop_assert!(MetricTables::build(&pts).is_ok());
    }
}

/// JSON → protobuf conversion of `MetricsData` documents, for the reader equivalence test.
mod to_proto {
    use crate::ingest::otlp_proto::messages::*;
    use serde_json::Value;

    fn int(v: &Value) -> i64 {
        match v {
            Value::String(s) => s.parse().unwrap(),
            n => n.as_i64().unwrap(),
        }
    }

    fn u(v: Option<&Value>) -> u64 {
        v.map(|v| int(v) as u64).unwrap_or(0)
    }

    fn f(v: &Value) -> f64 {
        match v {
            Value::String(s) => s.parse().unwrap(),
            n => n.as_f64().unwrap(),
        }
    }

    fn hex(v: Option<&Value>) -> Vec<u8> {
        let s = v.and_then(Value::as_str).unwrap_or("");
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    fn attrs(v: Option<&Value>) -> Vec<KeyValue> {
        let mut out = Vec::new();
        for kv in v.and_then(Value::as_array).into_iter().flatten() {
            let key = kv["key"].as_str().unwrap_or("").to_string();
            let o = &kv["value"];
            use any_value::Value as V;
            let value = if let Some(s) = o.get("stringValue") {
                Some(V::StringValue(s.as_str().unwrap().into()))
            } else if let Some(b) = o.get("boolValue") {
                Some(V::BoolValue(b.as_bool().unwrap()))
            } else if let Some(i) = o.get("intValue") {
                Some(V::IntValue(int(i)))
            } else {
                o.get("doubleValue").map(|d| V::DoubleValue(f(d)))
            };
            out.push(KeyValue {
                key,
                value: Some(AnyValue { value }),
            });
        }
        out
    }

    fn exemplars(v: Option<&Value>) -> Vec<Exemplar> {
        v.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|e| Exemplar {
                filtered_attributes: attrs(e.get("filteredAttributes")),
                time_unix_nano: u(e.get("timeUnixNano")),
                span_id: hex(e.get("spanId")),
                trace_id: hex(e.get("traceId")),
                value: if let Some(d) = e.get("asDouble") {
                    Some(exemplar::Value::AsDouble(f(d)))
                } else {
                    e.get("asInt").map(|i| exemplar::Value::AsInt(int(i)))
                },
            })
            .collect()
    }

    fn number_points(d: &Value) -> Vec<NumberDataPoint> {
        d["dataPoints"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| NumberDataPoint {
                attributes: attrs(p.get("attributes")),
                start_time_unix_nano: u(p.get("startTimeUnixNano")),
                time_unix_nano: u(p.get("timeUnixNano")),
                exemplars: exemplars(p.get("exemplars")),
                flags: u(p.get("flags")) as u32,
                value: if let Some(d) = p.get("asDouble") {
                    Some(number_data_point::Value::AsDouble(f(d)))
                } else {
                    p.get("asInt")
                        .map(|i| number_data_point::Value::AsInt(int(i)))
                },
            })
            .collect()
    }

    fn temporality(d: &Value) -> i32 {
        d.get("aggregationTemporality").map(int).unwrap_or(0) as i32
    }

    fn buckets(v: Option<&Value>) -> Option<exponential_histogram_data_point::Buckets> {
        v.map(|b| exponential_histogram_data_point::Buckets {
            offset: b.get("offset").map(int).unwrap_or(0) as i32,
            bucket_counts: b["bucketCounts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| int(c) as u64)
                .collect(),
        })
    }

    fn metric(m: &Value) -> Metric {
        let points = |d: &Value| d["dataPoints"].as_array().cloned().unwrap_or_default();
        let data = if let Some(s) = m.get("sum") {
            Some(metric::Data::Sum(Sum {
                data_points: number_points(s),
                aggregation_temporality: temporality(s),
                is_monotonic: s
                    .get("isMonotonic")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            }))
        } else if let Some(g) = m.get("gauge") {
            Some(metric::Data::Gauge(Gauge {
                data_points: number_points(g),
            }))
        } else if let Some(h) = m.get("histogram") {
            Some(metric::Data::Histogram(Histogram {
                aggregation_temporality: temporality(h),
                data_points: points(h)
                    .iter()
                    .map(|p| HistogramDataPoint {
                        attributes: attrs(p.get("attributes")),
                        start_time_unix_nano: u(p.get("startTimeUnixNano")),
                        time_unix_nano: u(p.get("timeUnixNano")),
                        count: u(p.get("count")),
                        sum: p.get("sum").map(f),
                        bucket_counts: p["bucketCounts"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|c| int(c) as u64)
                            .collect(),
                        explicit_bounds: p["explicitBounds"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(f)
                            .collect(),
                        exemplars: exemplars(p.get("exemplars")),
                        flags: u(p.get("flags")) as u32,
                        min: p.get("min").map(f),
                        max: p.get("max").map(f),
                    })
                    .collect(),
            }))
        } else if let Some(h) = m.get("exponentialHistogram") {
            Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                aggregation_temporality: temporality(h),
                data_points: points(h)
                    .iter()
                    .map(|p| ExponentialHistogramDataPoint {
                        attributes: attrs(p.get("attributes")),
                        start_time_unix_nano: u(p.get("startTimeUnixNano")),
                        time_unix_nano: u(p.get("timeUnixNano")),
                        count: u(p.get("count")),
                        sum: p.get("sum").map(f),
                        scale: p.get("scale").map(int).unwrap_or(0) as i32,
                        zero_count: u(p.get("zeroCount")),
                        positive: buckets(p.get("positive")),
                        negative: buckets(p.get("negative")),
                        flags: u(p.get("flags")) as u32,
                        exemplars: exemplars(p.get("exemplars")),
                        min: p.get("min").map(f),
                        max: p.get("max").map(f),
                        zero_threshold: p.get("zeroThreshold").map(f).unwrap_or(0.0),
                    })
                    .collect(),
            }))
        } else {
            m.get("summary").map(|s| {
                metric::Data::Summary(Summary {
                    data_points: points(s)
                        .iter()
                        .map(|p| SummaryDataPoint {
                            attributes: attrs(p.get("attributes")),
                            start_time_unix_nano: u(p.get("startTimeUnixNano")),
                            time_unix_nano: u(p.get("timeUnixNano")),
                            count: u(p.get("count")),
                            sum: p.get("sum").map(f).unwrap_or(0.0),
                            quantile_values: p["quantileValues"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .map(|q| summary_data_point::ValueAtQuantile {
                                    quantile: q.get("quantile").map(f).unwrap_or(0.0),
                                    value: q.get("value").map(f).unwrap_or(0.0),
                                })
                                .collect(),
                            flags: u(p.get("flags")) as u32,
                        })
                        .collect(),
                })
            })
        };
        let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        Metric {
            name: s("name"),
            description: s("description"),
            unit: s("unit"),
            metadata: vec![],
            data,
        }
    }

    /// The protobuf form of one `MetricsData` JSON document.
    pub fn metrics_data(doc: &Value) -> MetricsData {
        MetricsData {
            resource_metrics: doc["resourceMetrics"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|rm| ResourceMetrics {
                    resource: Some(Resource {
                        attributes: attrs(rm["resource"].get("attributes")),
                        ..Default::default()
                    }),
                    scope_metrics: rm["scopeMetrics"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|sm| ScopeMetrics {
                            scope: sm.get("scope").map(|s| InstrumentationScope {
                                name: s
                                    .get("name")
                                    .and_then(Value::as_str)
                                    .unwrap_or("")
                                    .to_string(),
                                ..Default::default()
                            }),
                            metrics: sm["metrics"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .map(metric)
                                .collect(),
                            schema_url: String::new(),
                        })
                        .collect(),
                    schema_url: String::new(),
                })
                .collect(),
        }
    }
}

/// Every column but `source_file`/`source_line`.
fn without_source(b: &arrow::record_batch::RecordBatch) -> arrow::record_batch::RecordBatch {
    let keep: Vec<usize> = (0..b.num_columns())
        .filter(|&i| !b.schema().field(i).name().starts_with("source_"))
        .collect();
    b.project(&keep).unwrap()
}

#[test]
fn json_and_protobuf_metrics_ingest_identically() {
    use prost::Message as _;
    let files = [
        "opentelemetry-proto/metrics.json",
        "otel-spec-file-exporter/metrics.jsonl",
        "collector-contrib/countconnector_metrics_input.json",
        "datadog-mapping-go/histogram_simple-exponential.json",
        "datadog-mapping-go/histogram_simple-cumulative.json",
        "datadog-mapping-go/histogram_simple-delta-non-monotonic-bound.json",
        "datadog-mapping-go/histogram_empty-cumulative-exponential.json",
        "datadog-mapping-go/mixed_simple.json",
        "datadog-mapping-go/mixed_interval.json",
        "datadog-mapping-go/summary_with-attributes.json",
    ];
    let dir = tempfile::tempdir().unwrap();
    for rel in files {
        let text = std::fs::read_to_string(sample(rel)).unwrap();
        let docs: Vec<serde_json::Value> = if rel.ends_with(".jsonl") {
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        } else {
            vec![serde_json::from_str(&text).unwrap()]
        };
        let mut framed = Vec::new();
        for d in &docs {
            let m = to_proto::metrics_data(d).encode_to_vec();
            framed.extend((m.len() as u32).to_be_bytes());
            framed.extend(m);
        }
        let pb = dir.path().join("m.pb");
        std::fs::write(&pb, framed).unwrap();
        let (tj, qj, _) = ingest(&[sample(rel)]);
        let (tp, qp, _) = ingest(&[pb]);
        for ((name, a), (_, b)) in tj.tables().into_iter().zip(tp.tables()) {
            assert_eq!(without_source(a), without_source(b), "{rel}: {name}");
        }
        assert_eq!(qj.counts, qp.counts, "{rel}");
        assert_eq!(
            (qj.records_read, qj.records_ingested, qj.records_rejected),
            (qp.records_read, qp.records_ingested, qp.records_rejected),
            "{rel}"
        );
    }
}

/// Rows of a batch (without `source_*` and the columns in `skip`) as sorted display strings,
/// for order-insensitive comparison.
fn row_strings(b: &arrow::record_batch::RecordBatch, skip: &[&str]) -> Vec<String> {
    use arrow::util::display::{ArrayFormatter, FormatOptions};
    let b = without_source(b);
    let opts = FormatOptions::default().with_null("NULL");
    let cols: Vec<(String, ArrayFormatter)> = b
        .schema()
        .fields()
        .iter()
        .zip(b.columns())
        .filter(|(f, _)| !skip.contains(&f.name().as_str()))
        .map(|(f, c)| {
            (
                f.name().clone(),
                ArrayFormatter::try_new(c.as_ref(), &opts).unwrap(),
            )
        })
        .collect();
    let mut rows: Vec<String> = (0..b.num_rows())
        .map(|i| {
            cols.iter()
                .map(|(n, f)| format!("{n}={}", f.value(i)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn clickhouse_metric_parquet_matches_the_json_it_was_exported_from() {
    // tests/fixtures/clickhouse_metrics/*.parquet were written by tests/fixtures/make_clickhouse_metrics.py from this sample.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clickhouse_metrics");
    let (tp, qp, spans) = ingest(std::slice::from_ref(&dir));
    assert_eq!(spans, 0);
    assert_eq!(rows(&tp), [16, 2, 0]);
    assert_eq!(qp.records_rejected, 0);
    let formats: Vec<&str> = qp.files.iter().map(|f| f.format.as_str()).collect();
    assert_eq!(
        formats,
        [
            "parquet-clickhouse-metrics-gauge",
            "parquet-clickhouse-metrics-histogram",
            "parquet-clickhouse-metrics-sum",
            "parquet-clickhouse-metrics-summary"
        ]
    );
    let (tj, _, _) = ingest(&[sample(
        "collector-contrib/countconnector_metrics_input.json",
    )]);
    assert_eq!(
        row_strings(&tj.metric_points, &[]),
        row_strings(&tp.metric_points, &[])
    );
    // ClickHouse stores Sum/Min/Max as non-nullable Float64: absent values come back as 0.
    assert_eq!(
        row_strings(&tj.histogram_points, &["sum", "min", "max"]),
        row_strings(&tp.histogram_points, &["sum", "min", "max"])
    );
}

#[test]
fn corrupt_clickhouse_metric_parquet_is_a_located_rejection() {
    let dir = tempfile::tempdir().unwrap();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/clickhouse_metrics/otel_metrics_sum.parquet");
    let bytes = std::fs::read(src).unwrap();
    // Damage the data pages but keep the footer, so the schema is still detected.
    let mut bad = bytes.clone();
    for b in bad.iter_mut().skip(8).take(bytes.len() / 3) {
        *b ^= 0x5a;
    }
    let p = dir.path().join("bad.parquet");
    std::fs::write(&p, bad).unwrap();
    let (t, q, _) = ingest(&[p]);
    assert_eq!(q.counts.get("bad_parquet"), Some(&1), "{:?}", q.issues);
    assert!(t.metric_points.num_rows() < 10);
}
