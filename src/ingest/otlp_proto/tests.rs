use super::messages::*;
use super::*;
use crate::model::quality::Severity;
use arrow::record_batch::RecordBatch;
use proptest::prelude::*;

fn opts(batch_rows: usize) -> IngestOptions {
    IngestOptions {
        batch_rows,
        ..Default::default()
    }
}

fn record(i: u8) -> SpanRecord {
    SpanRecord {
        trace_id: [i + 1; 16],
        span_id: [i + 2; 8],
        parent_span_id: (i % 2 == 1).then_some([9; 8]),
        name: format!("GET /items/{i}"),
        kind: 2,
        start_time_unix_nano: 1_700_000_000_000_000_000 + i as i64,
        end_time_unix_nano: 1_700_000_000_000_000_000 + 1_000 * (i as i64 + 1),
        status_code: if i == 3 { 2 } else { 0 },
        status_message: (i == 3).then(|| "boom".to_string()),
        trace_state: (i == 2).then(|| "ot=th:8".to_string()),
        attributes: vec![
            ("http.route".into(), "/items/{id}".into()),
            (
                "http.response.status_code".into(),
                (200 + i as u32).to_string(),
            ),
        ],
        exception_type: (i == 3).then(|| "IOError".to_string()),
        exception_message: (i == 3).then(|| "disk".to_string()),
        source_line: 0,
    }
}

fn resource() -> Vec<(String, String)> {
    vec![
        ("service.name".into(), "cart".into()),
        ("service.version".into(), "1.2".into()),
        ("deployment.track".into(), "canary".into()),
    ]
}

fn collect(data: &[u8], o: &IngestOptions) -> (Vec<SpanChunk>, DataQuality) {
    let (chunks, q, metrics) = collect_all(data, o);
    assert!(metrics.is_empty());
    (chunks, q)
}

fn collect_all(
    data: &[u8],
    o: &IngestOptions,
) -> (
    Vec<SpanChunk>,
    DataQuality,
    Vec<crate::model::metrics::MetricPoint>,
) {
    let mut chunks = Vec::new();
    let mut metrics = Vec::new();
    let q = read_framed(data, "in.pb", o, &mut |c| chunks.push(c), &mut metrics);
    (chunks, q, metrics)
}

fn concat(chunks: &[SpanChunk]) -> RecordBatch {
    let batches: Vec<RecordBatch> = chunks.iter().map(|c| c.batch.clone()).collect();
    arrow::compute::concat_batches(&crate::model::spans::spans_schema(), &batches).unwrap()
}

#[test]
fn framed_round_trip_matches_direct_build() {
    let o = opts(1000);
    let frames: Vec<TracesData> = (0..3)
        .map(|f| {
            let spans: Vec<SpanRecord> = (0..2).map(|k| record(f * 2 + k)).collect();
            traces_data(&resource(), Some("lib"), &spans)
        })
        .collect();
    let data = encode_framed(&frames);
    assert!(looks_like_framed_proto(&data));
    let (chunks, q) = collect(&data, &o);
    assert_eq!(q.records_read, 6);
    assert_eq!(q.records_ingested, 6);
    assert!(q.issues.is_empty(), "{:?}", q.issues);
    assert_eq!(q.files.len(), 1);
    assert_eq!(q.files[0].format, "otlp-proto-framed");
    assert_eq!(q.files[0].records_ingested, 6);

    let mut b = SpansBuilder::new(o.identity.clone(), "in.pb");
    let res = ResourceInfo::from_attributes(resource(), Some("lib".into()), &o.identity);
    let mut expected_fp = Vec::new();
    for f in 0..3u8 {
        for k in 0..2u8 {
            let r = SpanRecord {
                source_line: f as i64 + 1,
                ..record(f * 2 + k)
            };
            expected_fp.push(r.fingerprint(&res));
            b.append(&res, &r);
        }
    }
    assert_eq!(concat(&chunks), b.finish().unwrap());
    let fps: Vec<_> = chunks.iter().flat_map(|c| c.fingerprints.clone()).collect();
    assert_eq!(fps, expected_fp);
}

#[test]
fn chunks_follow_batch_rows() {
    let spans: Vec<SpanRecord> = (0..5).map(record).collect();
    let data = encode_framed(&[traces_data(&resource(), None, &spans)]);
    let (chunks, q) = collect(&data, &opts(2));
    // One frame is decoded whole before the size check, so a 5-span frame is one chunk.
    assert_eq!(chunks.len(), 1);
    assert_eq!(q.records_ingested, 5);
    let frames: Vec<TracesData> = spans
        .iter()
        .map(|s| traces_data(&resource(), None, std::slice::from_ref(s)))
        .collect();
    let (chunks, _) = collect(&encode_framed(&frames), &opts(2));
    let sizes: Vec<usize> = chunks.iter().map(|c| c.batch.num_rows()).collect();
    assert_eq!(sizes, vec![2, 2, 1]);
    assert!(chunks
        .iter()
        .all(|c| c.fingerprints.len() == c.batch.num_rows()));
}

/// Wire bytes written by hand from the field numbers in opentelemetry-proto, so the test does
/// not only check that our structs agree with themselves.
#[test]
fn hand_encoded_wire_bytes_decode_to_expected_fields() {
    fn ld(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        prost::encoding::encode_varint(body.len() as u64, &mut v);
        v.extend_from_slice(body);
        v
    }
    let mut span = Vec::new();
    span.extend(ld(0x0A, &[0xAB; 16])); // trace_id = 1, bytes
    span.extend(ld(0x12, &[0xCD; 8])); // span_id = 2, bytes
    span.extend(ld(0x1A, b"ot=th:c")); // trace_state = 3
    span.extend(ld(0x22, &[0x01; 8])); // parent_span_id = 4
    span.extend(ld(0x2A, b"op")); // name = 5
    span.extend([0x30, 0x03]); // kind = 6, varint CLIENT
    span.push(0x39); // start_time_unix_nano = 7, fixed64
    span.extend(100u64.to_le_bytes());
    span.push(0x41); // end_time_unix_nano = 8, fixed64
    span.extend(350u64.to_le_bytes());
    // attributes = 9: KeyValue{key=1, value=2 AnyValue{int_value=3 varint 42}}
    let any = [0x18, 42];
    let mut kv = ld(0x0A, b"n");
    kv.extend(ld(0x12, &any));
    span.extend(ld(0x4A, &kv));
    // events = 11: Event{time=1 fixed64, name=2, attributes=3 [exception.type=string]}
    let mut ev = vec![0x09];
    ev.extend(200u64.to_le_bytes());
    ev.extend(ld(0x12, b"exception"));
    let mut ekv = ld(0x0A, b"exception.type");
    ekv.extend(ld(0x12, &ld(0x0A, b"E")));
    ev.extend(ld(0x1A, &ekv));
    span.extend(ld(0x5A, &ev));
    // status = 15: Status{message=2, code=3}
    let mut st = ld(0x12, b"bad");
    st.extend([0x18, 0x02]);
    span.extend(ld(0x7A, &st));
    span.push(0x85); // flags = 16, fixed32: key varint 0x85 0x01
    span.push(0x01);
    span.extend(1u32.to_le_bytes());
    let scope = ld(0x0A, b"scope-x"); // InstrumentationScope.name = 1
    let mut ss = ld(0x0A, &scope);
    ss.extend(ld(0x12, &span));
    let res_kv = {
        let mut kv = ld(0x0A, b"service.name");
        kv.extend(ld(0x12, &ld(0x0A, b"svc")));
        kv
    };
    let resource = ld(0x0A, &res_kv);
    let mut rs = ld(0x0A, &resource);
    rs.extend(ld(0x12, &ss));
    let msg = ld(0x0A, &rs);

    let decoded = TracesData::decode(msg.as_slice()).unwrap();
    let s = &decoded.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(s.kind, span::SpanKind::Client as i32);
    assert_eq!(s.flags, 1);
    assert_eq!((s.start_time_unix_nano, s.end_time_unix_nano), (100, 350));

    let o = opts(10);
    let mut b = SpansBuilder::new(o.identity.clone(), "x.pb");
    let mut q = DataQuality::default();
    assert_eq!(
        decode_traces_message(&msg, "x.pb", 1, &o, &mut b, &mut q, &mut Vec::new()),
        1
    );
    assert!(q.issues.is_empty(), "{:?}", q.issues);
    let res = ResourceInfo::from_attributes(
        vec![("service.name".into(), "svc".into())],
        Some("scope-x".into()),
        &o.identity,
    );
    let want = SpanRecord {
        trace_id: [0xAB; 16],
        span_id: [0xCD; 8],
        parent_span_id: Some([1; 8]),
        name: "op".into(),
        kind: 3,
        start_time_unix_nano: 100,
        end_time_unix_nano: 350,
        status_code: 2,
        status_message: Some("bad".into()),
        trace_state: Some("ot=th:c".into()),
        attributes: vec![("n".into(), "42".into())],
        exception_type: Some("E".into()),
        exception_message: None,
        source_line: 1,
    };
    let mut e = SpansBuilder::new(o.identity.clone(), "x.pb");
    e.append(&res, &want);
    assert_eq!(b.finish().unwrap(), e.finish().unwrap());
}

fn av(v: any_value::Value) -> AnyValue {
    AnyValue { value: Some(v) }
}

#[test]
fn any_value_rendering() {
    use any_value::Value as V;
    assert_eq!(render_any_value(&av(V::StringValue("a\"b".into()))), "a\"b");
    assert_eq!(render_any_value(&av(V::BoolValue(true))), "true");
    assert_eq!(render_any_value(&av(V::IntValue(-10))), "-10");
    assert_eq!(render_any_value(&av(V::DoubleValue(0.1))), "0.1");
    assert_eq!(render_any_value(&av(V::DoubleValue(5.0))), "5");
    assert_eq!(
        render_any_value(&av(V::DoubleValue(1e21))),
        "1000000000000000000000"
    );
    assert_eq!(render_any_value(&av(V::DoubleValue(f64::NAN))), "NaN");
    assert_eq!(
        render_any_value(&av(V::DoubleValue(f64::NEG_INFINITY))),
        "-inf"
    );
    assert_eq!(
        render_any_value(&av(V::BytesValue(vec![0xDE, 0xAD, 0x01]))),
        "dead01"
    );
    assert_eq!(render_any_value(&AnyValue { value: None }), "");
    let arr = av(V::ArrayValue(ArrayValue {
        values: vec![
            av(V::StringValue("x\ny".into())),
            av(V::IntValue(1)),
            av(V::BoolValue(false)),
            av(V::DoubleValue(1.5)),
            av(V::DoubleValue(f64::INFINITY)),
            av(V::BytesValue(vec![0xAB])),
            AnyValue { value: None },
        ],
    }));
    assert_eq!(
        render_any_value(&arr),
        r#"["x\ny",1,false,1.5,"Infinity","ab",null]"#
    );
    let kv = av(V::KvlistValue(KeyValueList {
        values: vec![
            string_kv("k", "v"),
            KeyValue {
                key: "nested".into(),
                value: Some(av(V::ArrayValue(ArrayValue { values: vec![] }))),
            },
            KeyValue {
                key: "none".into(),
                value: None,
            },
        ],
    }));
    assert_eq!(
        render_any_value(&kv),
        r#"{"k":"v","nested":[],"none":null}"#
    );
}

fn bad_span_frame() -> TracesData {
    let mut good = messages::Span::from(&record(0));
    good.trace_id = vec![7; 16];
    let mut empty_trace = good.clone();
    empty_trace.trace_id.clear();
    let mut zero_span = good.clone();
    zero_span.span_id = vec![0; 8];
    let mut long_span = good.clone();
    long_span.span_id = vec![1; 9];
    let mut backwards = good.clone();
    backwards.end_time_unix_nano = backwards.start_time_unix_nano - 1;
    let mut odd_parent = good.clone();
    odd_parent.parent_span_id = vec![1; 3];
    let mut t = traces_data(&resource(), None, &[]);
    t.resource_spans[0].scope_spans[0].spans = vec![
        good,
        empty_trace,
        zero_span,
        long_span,
        backwards,
        odd_parent,
    ];
    t
}

#[test]
fn invalid_spans_are_rejected_with_location() {
    let filler = traces_data(&resource(), None, &[record(1)]);
    let data = encode_framed(&[filler, bad_span_frame()]);
    let (chunks, q) = collect(&data, &opts(100));
    assert_eq!(concat(&chunks).num_rows(), 2);
    assert_eq!(q.records_read, 7);
    assert_eq!(q.records_ingested, 2);
    assert_eq!(q.records_rejected, 5);
    let got: Vec<(IssueKind, Severity, Option<u64>, String)> = q
        .issues
        .iter()
        .map(|i| (i.kind, i.severity, i.line, i.field.clone().unwrap()))
        .collect();
    let p = "resourceSpans[0].scopeSpans[0].spans";
    assert_eq!(
        got,
        vec![
            (
                IssueKind::BadId,
                Severity::Rejected,
                Some(2),
                format!("{p}[1].traceId")
            ),
            (
                IssueKind::BadId,
                Severity::Rejected,
                Some(2),
                format!("{p}[2].spanId")
            ),
            (
                IssueKind::BadId,
                Severity::Rejected,
                Some(2),
                format!("{p}[3].spanId")
            ),
            (
                IssueKind::EndBeforeStart,
                Severity::Rejected,
                Some(2),
                format!("{p}[4].endTimeUnixNano")
            ),
            (
                IssueKind::BadId,
                Severity::Rejected,
                Some(2),
                format!("{p}[5].parentSpanId")
            ),
        ]
    );
    assert!(q.issues[0].reason.contains("empty"));
    assert!(q.issues[1].reason.contains("all-zero"));
    assert!(q.issues[2].reason.contains("9 bytes"));
    assert_eq!(q.issues[0].file, "in.pb");
    assert!(q.issues[4].reason.contains("3 bytes"));
    assert_eq!(q.counts["bad_id"], 4);
}

#[test]
fn truncated_last_frame_is_located() {
    let f = traces_data(&resource(), None, &[record(0)]);
    let mut data = encode_framed(&[f.clone(), f]);
    let first_len = data.len() / 2;
    data.truncate(data.len() - 3);
    let (chunks, q) = collect(&data, &opts(100));
    assert_eq!(concat(&chunks).num_rows(), 1);
    assert_eq!(q.issues.len(), 1);
    let i = &q.issues[0];
    assert_eq!(
        (i.kind, i.severity, i.line),
        (IssueKind::BadProtobuf, Severity::Rejected, Some(2))
    );
    assert!(
        i.reason.contains(&format!("byte offset {first_len}")),
        "{}",
        i.reason
    );
    assert!(i.reason.contains("truncated"));

    // A header cut inside its 4 bytes.
    let mut data = encode_framed(&[traces_data(&resource(), None, &[record(0)])]);
    data.extend([0, 0]);
    let (_, q) = collect(&data, &opts(100));
    assert_eq!(q.issues.len(), 1);
    assert!(q.issues[0].reason.contains("truncated frame header"));
    assert_eq!(q.issues[0].line, Some(2));
}

#[test]
fn zero_length_frame_is_noted_and_reading_continues() {
    let f = traces_data(&resource(), None, &[record(0)]);
    let mut data = vec![0, 0, 0, 0];
    data.extend(encode_framed(&[f]));
    let (chunks, q) = collect(&data, &opts(100));
    assert_eq!(concat(&chunks).num_rows(), 1);
    assert_eq!(q.issues.len(), 1);
    assert_eq!(q.issues[0].severity, Severity::Note);
    assert_eq!(q.issues[0].line, Some(1));
    assert_eq!(q.records_rejected, 0);
}

#[test]
fn garbage_frame_is_skipped_when_the_next_header_is_plausible() {
    let f = traces_data(&resource(), None, &[record(0)]);
    let good = encode_framed(std::slice::from_ref(&f));
    let mut data = good.clone();
    // A frame whose body is not protobuf: field 1 with an invalid wire type (7).
    data.extend([0, 0, 0, 3, 0x0F, 0xFF, 0xFF]);
    data.extend(encode_framed(&[traces_data(
        &resource(),
        None,
        &[record(2)],
    )]));
    let (chunks, q) = collect(&data, &opts(100));
    assert_eq!(concat(&chunks).num_rows(), 2);
    assert_eq!(q.issues.len(), 1);
    let i = &q.issues[0];
    assert_eq!((i.kind, i.line), (IssueKind::BadProtobuf, Some(2)));
    assert!(
        i.reason.contains(&format!("byte offset {}", good.len())),
        "{}",
        i.reason
    );
    // Source lines are frame numbers: the third frame's span says 3.
    let lines = concat(&chunks)
        .column_by_name("source_line")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .unwrap()
        .values()
        .to_vec();
    assert_eq!(lines, vec![1, 3]);
}

#[test]
fn garbage_without_a_plausible_next_header_stops() {
    let mut data = vec![0, 0, 0, 2, 0xFF, 0xFF];
    data.extend(b"not a frame at all");
    let (chunks, q) = collect(&data, &opts(100));
    assert!(chunks.is_empty());
    assert_eq!(q.counts["bad_protobuf"], 2);
    assert_eq!(q.records_ingested, 0);
    assert!(q.issues[1].reason.contains("skipped"));
    assert_eq!(q.files[0].records_rejected, 2);
}

#[test]
fn sniffing() {
    let data = encode_framed(&[traces_data(&resource(), None, &[record(0)])]);
    assert!(looks_like_framed_proto(&data));
    assert!(
        looks_like_framed_proto(&data[..20]),
        "a prefix of the first frame"
    );
    assert!(!looks_like_framed_proto(br#"{"resourceSpans":[]}"#));
    assert!(!looks_like_framed_proto(b""));
    assert!(!looks_like_framed_proto(&[0, 0, 0, 0, 0x0A, 0]));
    assert!(!looks_like_framed_proto(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0]));
    // A single bare message (no length prefix) is not framed.
    let bare = traces_data(&resource(), None, &[record(0)]).encode_to_vec();
    assert!(!looks_like_framed_proto(&bare));
}

#[test]
fn metrics_messages_round_trip() {
    let m = MetricsData {
        resource_metrics: vec![ResourceMetrics {
            resource: None,
            scope_metrics: vec![ScopeMetrics {
                scope: None,
                metrics: vec![
                    Metric {
                        name: "h".into(),
                        data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                            data_points: vec![ExponentialHistogramDataPoint {
                                scale: -3,
                                zero_count: 2,
                                positive: Some(exponential_histogram_data_point::Buckets {
                                    offset: -5,
                                    bucket_counts: vec![1, 2],
                                }),
                                sum: Some(0.0),
                                ..Default::default()
                            }],
                            aggregation_temporality: AggregationTemporality::Delta as i32,
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "g".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: vec![NumberDataPoint {
                                value: Some(number_data_point::Value::AsInt(-7)),
                                exemplars: vec![Exemplar {
                                    value: Some(exemplar::Value::AsDouble(2.5)),
                                    ..Default::default()
                                }],
                                ..Default::default()
                            }],
                        })),
                        ..Default::default()
                    },
                ],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    };
    let bytes = m.encode_to_vec();
    assert_eq!(MetricsData::decode(bytes.as_slice()).unwrap(), m);
    // sint32 scale -3 is zig-zag encoded: tag 6 varint (0x30) then 5.
    assert!(bytes.windows(2).any(|w| w == [0x30, 0x05]));
    // sfixed64 as_int = 6: key 0x31 followed by -7 little-endian.
    let mut want = vec![0x31];
    want.extend((-7i64).to_le_bytes());
    assert!(bytes.windows(9).any(|w| w == want.as_slice()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let q = read_framed(&data, "r.pb", &opts(4), &mut |_| {}, &mut Vec::new());
        prop_assert_eq!(q.files.len(), 1);
        let _ = looks_like_framed_proto(&data);
    }

    #[test]
    fn mutated_streams_never_panic(pos in 0usize..400, byte in any::<u8>(), cut in 0usize..400) {
        let f = traces_data(&resource(), Some("s"), &[record(0), record(3)]);
        let mut data = encode_framed(&[f.clone(), f]);
        let p = pos % data.len();
        data[p] = byte;
        data.truncate(cut.min(data.len()));
        let mut rows = 0;
        let q = read_framed(&data, "m.pb", &opts(1), &mut |c| rows += c.batch.num_rows(), &mut Vec::new());
        prop_assert_eq!(q.records_ingested as usize, rows);
    }
}

#[test]
fn metrics_frames_are_read_and_logs_frames_noted() {
    // A gauge-only metrics message decodes as TracesData without error (field numbers overlap),
    // so recognising it matters: its "spans" would otherwise all be bad_id rejections.
    let metrics = MetricsData {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![string_kv("service.name", "m")],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: None,
                metrics: vec![Metric {
                    name: "queue.depth".into(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: vec![NumberDataPoint {
                            value: Some(number_data_point::Value::AsInt(4)),
                            time_unix_nano: 5,
                            ..Default::default()
                        }],
                    })),
                    ..Default::default()
                }],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    };
    let bytes = metrics.encode_to_vec();
    assert!(
        TracesData::decode(bytes.as_slice()).is_ok(),
        "the overlap this guards against"
    );
    let logs = LogsData {
        resource_logs: vec![ResourceLogs {
            resource: None,
            scope_logs: vec![ScopeLogs {
                scope: None,
                log_records: vec![LogRecord {
                    time_unix_nano: 5,
                    severity_text: "INFO".into(),
                    ..Default::default()
                }],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    };
    let mut data = Vec::new();
    for m in [bytes.clone(), logs.encode_to_vec(), bytes] {
        data.extend((m.len() as u32).to_be_bytes());
        data.extend(m);
    }
    data.extend(encode_framed(&[traces_data(
        &resource(),
        None,
        &[record(0)],
    )]));
    let (chunks, q, points) = collect_all(&data, &opts(10));
    assert_eq!(concat(&chunks).num_rows(), 1);
    assert_eq!(points.len(), 2);
    assert_eq!(
        points.iter().map(|p| p.source_line).collect::<Vec<_>>(),
        [1, 3]
    );
    assert_eq!(&*points[0].name, "queue.depth");
    assert_eq!(points[0].resource.service_name, "m");
    assert_eq!((q.records_read, q.records_rejected), (3, 0));
    assert_eq!(q.issues.len(), 1, "{:?}", q.issues);
    assert_eq!(q.issues[0].kind, IssueKind::UnsupportedFormat);
    assert_eq!(q.issues[0].severity, Severity::Note);
    assert!(q.issues[0].reason.contains("logs"));
}

#[test]
fn a_trace_frame_with_only_bad_ids_is_still_rejected_span_by_span() {
    let mut s = messages::Span::from(&record(0));
    s.trace_id.clear();
    s.span_id.clear();
    let mut t = traces_data(&resource(), None, &[]);
    t.resource_spans[0].scope_spans[0].spans = vec![s.clone(), s];
    let (chunks, q) = collect(&encode_framed(&[t]), &opts(10));
    assert!(chunks.is_empty());
    assert_eq!((q.records_read, q.records_rejected), (2, 2));
    assert_eq!(q.counts["bad_id"], 2);
}

#[test]
fn typed_attribute_constructors_render_per_the_value_rule() {
    let kvs = vec![
        KeyValue::new("s", "x"),
        KeyValue::new("b", true),
        KeyValue::new("i", 7i64),
        KeyValue::new("d", 2.5f64),
        KeyValue::new("a", vec![AnyValue::from(1i64), AnyValue::from("y")]),
    ];
    let got = render_attributes(&kvs);
    let want: Vec<(String, String)> = [
        ("s", "x"),
        ("b", "true"),
        ("i", "7"),
        ("d", "2.5"),
        ("a", r#"[1,"y"]"#),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(got, want);
}
