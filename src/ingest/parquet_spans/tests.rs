use super::*;
use crate::model::ids::to_hex;
use crate::model::quality::Severity;
use crate::model::spans::spans_schema;
use arrow::array::{
    Int32Array, ListBuilder, MapBuilder, StringBuilder, StringDictionaryBuilder,
    TimestampNanosecondArray, UInt64Array,
};
use arrow::datatypes::{Field, Int32Type};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use std::collections::BTreeSet;
use std::sync::Arc;

const V4: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/otlp-samples/parquet/tempo-vparquet4/data.parquet"
);
const V5: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/otlp-samples/parquet/tempo-vparquet5/data.parquet"
);

fn read(path: &Path, label: &str, batch_rows: usize) -> (Vec<SpanChunk>, DataQuality) {
    let opts = IngestOptions {
        batch_rows,
        ..Default::default()
    };
    let mut chunks = Vec::new();
    let q = read_parquet_file(path, label, &opts, &mut |c| chunks.push(c));
    (chunks, q)
}

fn concat(chunks: &[SpanChunk]) -> RecordBatch {
    let b: Vec<RecordBatch> = chunks.iter().map(|c| c.batch.clone()).collect();
    arrow::compute::concat_batches(&spans_schema(), &b).unwrap()
}

fn str_values(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let a = strings(batch.column_by_name(name).unwrap()).unwrap();
    (0..a.len()).map(|i| opt_str(&a, i)).collect()
}

fn map_rows(batch: &RecordBatch, name: &str) -> Vec<Vec<(String, String)>> {
    let m = KvColumn::new(batch.column_by_name(name).unwrap()).unwrap();
    (0..batch.num_rows()).map(|i| m.row(i)).collect()
}

fn check_tempo(path: &str, spans: usize, traces: usize, format: &str) -> RecordBatch {
    let (chunks, q) = read(Path::new(path), "tempo/data.parquet", 100);
    assert_eq!(q.records_rejected, 0, "{:?}", q.issues);
    assert!(q.issues.is_empty(), "{:?}", q.issues);
    assert_eq!(q.files.len(), 1);
    assert_eq!(q.files[0].format, format);
    assert_eq!(q.files[0].records_ingested, spans as u64);
    assert!(chunks.iter().all(|c| c.batch.num_rows() <= 100 + 50));
    let b = concat(&chunks);
    assert_eq!(b.num_rows(), spans);
    let tid = b.column_by_name("trace_id").unwrap().as_fixed_size_binary();
    assert_eq!(tid.value_length(), 16);
    let distinct: BTreeSet<&[u8]> = (0..tid.len()).map(|i| tid.value(i)).collect();
    assert_eq!(distinct.len(), traces);
    // TraceIDText 474be8b43449fb is a 64-bit id without leading zeros: it must come back
    // left-padded to 16 bytes.
    assert!(distinct
        .iter()
        .any(|t| to_hex(t) == "000000000000000000474be8b43449fb"));
    let services: BTreeSet<String> = str_values(&b, "service_name")
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(
        services.iter().map(String::as_str).collect::<Vec<_>>(),
        vec![
            "adservice",
            "cartservice",
            "checkoutservice",
            "currencyservice",
            "emailservice",
            "frontend",
            "paymentservice",
            "productcatalogservice",
            "recommendationservice",
            "shippingservice"
        ]
    );
    let status = b
        .column_by_name("status_code")
        .unwrap()
        .as_primitive::<arrow::datatypes::Int32Type>();
    assert_eq!(status.values().iter().filter(|&&s| s == 2).count(), 3);
    b
}

#[test]
fn tempo_vparquet4_sample() {
    let b = check_tempo(V4, 570, 134, FORMAT_TEMPO4);
    let span_attrs = map_rows(&b, "span_attributes");
    let res_attrs = map_rows(&b, "resource_attributes");
    // Promoted and dedicated attributes are rebuilt under their OTel names.
    let first = &span_attrs[0];
    let has = |attrs: &[(String, String)], k: &str| attrs.iter().any(|(x, _)| x == k);
    assert!(span_attrs.iter().any(|a| has(a, "http.method")));
    assert!(span_attrs.iter().any(|a| has(a, "http.url")));
    assert!(span_attrs.iter().all(|a| has(a, "instance")), "{first:?}");
    assert!(span_attrs.iter().any(|a| has(a, "region")));
    assert!(res_attrs
        .iter()
        .all(|a| has(a, "ip") && has(a, "service.name")));
    // http.status_code comes back from its column (3 spans have 503).
    let http = b
        .column_by_name("http_status_code")
        .unwrap()
        .as_primitive::<arrow::datatypes::Int32Type>();
    assert_eq!(
        (0..http.len())
            .filter(|&i| http.is_valid(i) && http.value(i) == 503)
            .count(),
        3
    );
    // Boolean attributes render as true/false.
    assert!(span_attrs
        .iter()
        .any(|a| a.iter().any(|(k, v)| k == "sampler.param" && v == "true")));
    let methods = str_values(&b, "http_method");
    assert!(methods.iter().any(|m| m.as_deref() == Some("GET")));
}

#[test]
fn tempo_vparquet5_sample() {
    let b = check_tempo(V5, 566, 133, FORMAT_TEMPO5);
    let span_attrs = map_rows(&b, "span_attributes");
    let has = |attrs: &[(String, String)], k: &str| attrs.iter().any(|(x, _)| x == k);
    assert!(span_attrs.iter().all(|a| has(a, "instance")));
    assert!(span_attrs.iter().any(|a| has(a, "http.method")));
    assert!(map_rows(&b, "resource_attributes")
        .iter()
        .all(|a| has(a, "ip")));
}

#[test]
fn tempo_without_meta_json_keeps_generic_names() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("data.parquet");
    std::fs::copy(V4, &p).unwrap();
    let (chunks, q) = read(&p, "x.parquet", 1000);
    assert_eq!(concat(&chunks).num_rows(), 570);
    assert_eq!(q.issues.len(), 1);
    assert_eq!(q.issues[0].severity, Severity::Note);
    let attrs = map_rows(&concat(&chunks), "span_attributes");
    assert!(attrs[0]
        .iter()
        .any(|(k, _)| k == "tempo.dedicated.span.String01"));
}

#[test]
fn jsonpb_values_render_like_otlp_values() {
    assert_eq!(
        tempo_render(
            r#"{"arrayValue":{"values":[{"boolValue":true},{"intValue":"1"},{"doubleValue":1.5}]}}"#
        ),
        "[true,1,1.5]"
    );
    assert_eq!(
        tempo_render(r#"{"kvlistValue":{"values":[{"key":"a","value":{"stringValue":"b"}}]}}"#),
        r#"{"a":"b"}"#
    );
    assert_eq!(tempo_render("not json"), "not json");
}

fn tempo_render(s: &str) -> String {
    tempo::render_jsonpb_for_test(s)
}

// ---------------------------------------------------------------------------------------------
// ClickHouse otel_traces
// ---------------------------------------------------------------------------------------------

struct ChRow {
    trace: &'static str,
    span: &'static str,
    parent: &'static str,
    name: &'static str,
    kind: &'static str,
    service: &'static str,
    dur: u64,
    status: &'static str,
    events: Vec<(&'static str, Vec<(&'static str, &'static str)>)>,
}

fn map_col(rows: &[Vec<(&str, &str)>]) -> ArrayRef {
    let mut m = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for r in rows {
        for (k, v) in r {
            m.keys().append_value(k);
            m.values().append_value(v);
        }
        m.append(true).unwrap();
    }
    Arc::new(m.finish())
}

fn clickhouse_file(rows: &[ChRow]) -> tempfile::NamedTempFile {
    let n = rows.len();
    let s = |f: &dyn Fn(&ChRow) -> &str| -> ArrayRef {
        Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    let mut dict = StringDictionaryBuilder::<Int32Type>::new();
    for r in rows {
        dict.append_value(r.name);
    }
    let mut ev_ts = ListBuilder::new(arrow::array::TimestampNanosecondBuilder::new());
    let mut ev_name = ListBuilder::new(StringBuilder::new());
    let mut ev_attr = ListBuilder::new(MapBuilder::new(
        None,
        StringBuilder::new(),
        StringBuilder::new(),
    ));
    let mut link_tid = ListBuilder::new(StringBuilder::new());
    for r in rows {
        for (name, attrs) in &r.events {
            ev_ts.values().append_value(1_000);
            ev_name.values().append_value(name);
            let m = ev_attr.values();
            for (k, v) in attrs {
                m.keys().append_value(k);
                m.values().append_value(v);
            }
            m.append(true).unwrap();
        }
        ev_ts.append(true);
        ev_name.append(true);
        ev_attr.append(true);
        link_tid.append(true);
    }
    let res: Vec<Vec<(&str, &str)>> = rows
        .iter()
        .map(|r| vec![("service.name", r.service), ("deployment.track", "canary")])
        .collect();
    let span_attrs: Vec<Vec<(&str, &str)>> = rows
        .iter()
        .map(|_| {
            vec![
                ("http.route", "/cart"),
                ("http.response.status_code", "200"),
            ]
        })
        .collect();
    let cols: Vec<(&str, ArrayRef)> = vec![
        (
            "Timestamp",
            Arc::new(
                TimestampNanosecondArray::from(
                    (0..n as i64)
                        .map(|i| 1_700_000_000_000_000_000 + i)
                        .collect::<Vec<_>>(),
                )
                .with_timezone("UTC"),
            ),
        ),
        ("TraceId", s(&|r| r.trace)),
        ("SpanId", s(&|r| r.span)),
        ("ParentSpanId", s(&|r| r.parent)),
        ("TraceState", s(&|_| "")),
        ("SpanName", Arc::new(dict.finish())),
        ("SpanKind", s(&|r| r.kind)),
        ("ServiceName", s(&|r| r.service)),
        ("ResourceAttributes", map_col(&res)),
        ("ScopeName", s(&|_| "io.opentelemetry.http")),
        ("ScopeVersion", s(&|_| "1.0")),
        ("SpanAttributes", map_col(&span_attrs)),
        (
            "Duration",
            Arc::new(UInt64Array::from(
                rows.iter().map(|r| r.dur).collect::<Vec<_>>(),
            )),
        ),
        ("StatusCode", s(&|r| r.status)),
        ("StatusMessage", s(&|_| "")),
        ("Events.Timestamp", Arc::new(ev_ts.finish())),
        ("Events.Name", Arc::new(ev_name.finish())),
        ("Events.Attributes", Arc::new(ev_attr.finish())),
        ("Links.TraceId", Arc::new(link_tid.finish())),
    ];
    let batch = RecordBatch::try_from_iter(cols).unwrap();
    let f = tempfile::NamedTempFile::new().unwrap();
    let mut w = ArrowWriter::try_new(f.reopen().unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    f
}

#[test]
fn clickhouse_otel_traces() {
    let t = "5b8efff798038103d269b633813fc60c";
    let rows = vec![
        ChRow {
            trace: t,
            span: "eee19b7ec3c1b174",
            parent: "",
            name: "GET /cart",
            kind: "Server",
            service: "cart",
            dur: 5_000,
            status: "Error",
            events: vec![(
                "exception",
                vec![("exception.type", "IOError"), ("exception.message", "disk")],
            )],
        },
        ChRow {
            trace: t,
            span: "eee19b7ec3c1b175",
            parent: "eee19b7ec3c1b174",
            name: "SELECT",
            kind: "SPAN_KIND_CLIENT",
            service: "cart",
            dur: 1_000,
            status: "STATUS_CODE_OK",
            events: vec![
                ("log", vec![]),
                ("exception", vec![("exception.type", "Timeout")]),
            ],
        },
        ChRow {
            trace: t,
            span: "eee19b7ec3c1b176",
            parent: "eee19b7ec3c1b174",
            name: "work",
            kind: "Internal",
            service: "cart",
            dur: 0,
            status: "Unset",
            events: vec![],
        },
        ChRow {
            trace: "not-hex",
            span: "eee19b7ec3c1b177",
            parent: "",
            name: "bad",
            kind: "Server",
            service: "cart",
            dur: 1,
            status: "Unset",
            events: vec![],
        },
        ChRow {
            trace: t,
            span: "eee19b7ec3c1b178",
            parent: "",
            name: "odd",
            kind: "Sideways",
            service: "cart",
            dur: 7,
            status: "",
            events: vec![],
        },
    ];
    let f = clickhouse_file(&rows);
    let (chunks, q) = read(f.path(), "traces.parquet", 1000);
    assert_eq!(q.files[0].format, FORMAT_CLICKHOUSE);
    assert_eq!(
        (q.records_read, q.records_ingested, q.records_rejected),
        (5, 4, 1)
    );
    let bad: Vec<_> = q
        .issues
        .iter()
        .filter(|i| i.severity == Severity::Rejected)
        .collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(
        (bad[0].kind, bad[0].row, bad[0].field.as_deref()),
        (IssueKind::BadId, Some(3), Some("TraceId"))
    );
    let notes: Vec<_> = q
        .issues
        .iter()
        .filter(|i| i.severity == Severity::Note)
        .collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(
        (notes[0].row, notes[0].field.as_deref()),
        (Some(4), Some("SpanKind"))
    );

    // Expected rows, built through the same builder from the records the table describes.
    let cfg = IngestOptions::default().identity;
    let res = ResourceInfo::from_attributes(
        vec![
            ("service.name".into(), "cart".into()),
            ("deployment.track".into(), "canary".into()),
        ],
        Some("io.opentelemetry.http".into()),
        &cfg,
    );
    let mut want = SpansBuilder::new(cfg.clone(), "traces.parquet");
    let tid = crate::model::ids::decode_hex::<16>(t).unwrap();
    let sid = |s: &str| crate::model::ids::decode_hex::<8>(s).unwrap();
    let attrs = vec![
        ("http.route".to_string(), "/cart".to_string()),
        ("http.response.status_code".to_string(), "200".to_string()),
    ];
    let expected = [
        (0usize, None, 2, 5_000, 2, Some("IOError"), Some("disk")),
        (
            1,
            Some(sid("eee19b7ec3c1b174")),
            3,
            1_000,
            1,
            Some("Timeout"),
            None,
        ),
        (2, Some(sid("eee19b7ec3c1b174")), 1, 0, 0, None, None),
        (4, None, 0, 7, 0, None, None),
    ];
    for (row, parent, kind, dur, status, et, em) in expected {
        let start = 1_700_000_000_000_000_000 + row as i64;
        want.append(
            &res,
            &SpanRecord {
                trace_id: tid,
                span_id: sid(rows[row].span),
                parent_span_id: parent,
                name: rows[row].name.into(),
                kind,
                start_time_unix_nano: start,
                end_time_unix_nano: start + dur,
                status_code: status,
                status_message: None,
                trace_state: None,
                attributes: attrs.clone(),
                exception_type: et.map(String::from),
                exception_message: em.map(String::from),
                source_line: row as i64,
            },
        );
    }
    assert_eq!(concat(&chunks), want.finish().unwrap());
}

#[test]
fn clickhouse_events_as_list_of_structs_and_int_enums() {
    // The same table written with Events as one list-of-struct column and numeric enums.
    let ev_fields = vec![
        Field::new("Name", DataType::Utf8, true),
        Field::new("Attributes", map_col(&[vec![]]).data_type().clone(), true),
    ];
    let st = DataType::Struct(ev_fields.clone().into());
    let names = StringArray::from(vec!["exception"]);
    let attrs = map_col(&[vec![("exception.type", "E")]]);
    let s = arrow::array::StructArray::new(ev_fields.into(), vec![Arc::new(names), attrs], None);
    let events = arrow::array::ListArray::new(
        Arc::new(Field::new("item", st, true)),
        arrow::buffer::OffsetBuffer::new(vec![0, 1].into()),
        Arc::new(s),
        None,
    );
    let batch = RecordBatch::try_from_iter(vec![
        (
            "timestamp",
            Arc::new(arrow::array::Int64Array::from(vec![10])) as ArrayRef,
        ),
        (
            "traceid",
            Arc::new(StringArray::from(vec!["5B8EFFF798038103D269B633813FC60C"])),
        ),
        (
            "spanid",
            Arc::new(StringArray::from(vec!["EEE19B7EC3C1B174"])),
        ),
        ("SpanName", Arc::new(StringArray::from(vec!["x"]))),
        ("SpanKind", Arc::new(Int32Array::from(vec![2]))),
        (
            "Duration",
            Arc::new(arrow::array::Int64Array::from(vec![5])),
        ),
        ("StatusCode", Arc::new(Int32Array::from(vec![2]))),
        ("Events", Arc::new(events)),
    ])
    .unwrap();
    let f = tempfile::NamedTempFile::new().unwrap();
    let mut w = ArrowWriter::try_new(f.reopen().unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let (chunks, q) = read(f.path(), "t.parquet", 10);
    assert!(q.issues.is_empty(), "{:?}", q.issues);
    let b = concat(&chunks);
    assert_eq!(
        str_values(&b, "exception_type"),
        vec![Some("E".to_string())]
    );
    assert_eq!(
        str_values(&b, "service_name"),
        vec![Some("unknown_service".to_string())]
    );
    let kind = b
        .column_by_name("span_kind")
        .unwrap()
        .as_primitive::<Int32Type>();
    assert_eq!(kind.value(0), 2);
}

// ---------------------------------------------------------------------------------------------
// Canonical round trip, bad row groups, unknown schemas
// ---------------------------------------------------------------------------------------------

fn canonical_batches() -> Vec<RecordBatch> {
    let cfg = IngestOptions::default().identity;
    let mut b = SpansBuilder::new(cfg.clone(), "orig.jsonl");
    let mut out = Vec::new();
    for chunk in 0..2 {
        for i in 0..7u8 {
            let res = ResourceInfo::from_attributes(
                vec![
                    ("service.name".into(), format!("svc{}", i % 3)),
                    ("service.version".into(), "2.0".into()),
                    (
                        "deployment.track".into(),
                        if i % 2 == 0 { "canary" } else { "stable" }.into(),
                    ),
                    ("SampleRate".into(), "4".into()),
                ],
                (i % 2 == 0).then(|| "scope".to_string()),
                &cfg,
            );
            let rec = SpanRecord {
                trace_id: [i + 1; 16],
                span_id: [chunk * 10 + i + 1; 8],
                parent_span_id: (i > 0).then_some([1; 8]),
                name: format!("GET /x/{i}"),
                kind: (i % 4) as i32,
                start_time_unix_nano: 1_000 * i as i64,
                end_time_unix_nano: 1_000 * i as i64 + 77,
                status_code: (i % 3) as i32,
                status_message: (i == 2).then(|| "oops".into()),
                trace_state: None,
                attributes: vec![
                    ("http.route".into(), "/x/{id}".into()),
                    ("http.request.method".into(), "GET".into()),
                    (
                        "http.response.status_code".into(),
                        format!("{}", 200 + 100 * (i % 4) as u32),
                    ),
                ],
                exception_type: (i == 5).then(|| "E".into()),
                exception_message: (i == 5).then(|| "m".into()),
                source_line: i as i64 + 1,
            };
            b.append(&res, &rec);
        }
        out.push(b.finish().unwrap());
    }
    out
}

fn write_parquet(batches: &[RecordBatch], rg_rows: usize) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(rg_rows))
        .set_compression(parquet::basic::Compression::UNCOMPRESSED)
        .set_dictionary_enabled(false)
        .build();
    let mut w =
        ArrowWriter::try_new(f.reopen().unwrap(), batches[0].schema(), Some(props)).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
    f
}

#[test]
fn canonical_round_trip_is_identical() {
    let batches = canonical_batches();
    let f = write_parquet(&batches, 5);
    let (chunks, q) = read(f.path(), "copy.parquet", 7);
    assert!(q.issues.is_empty(), "{:?}", q.issues);
    assert_eq!(q.files[0].format, FORMAT_CANONICAL);
    assert_eq!(q.records_ingested, 14);
    let want = arrow::compute::concat_batches(&spans_schema(), &batches).unwrap();
    let got = concat(&chunks);
    assert_eq!(got, want);
    // Provenance is kept: rows still name the file they first came from.
    assert!(str_values(&got, "source_file")
        .iter()
        .all(|s| s.as_deref() == Some("orig.jsonl")));
    // Sample weights survive (4 from SampleRate).
    let w = got
        .column_by_name("sample_weight")
        .unwrap()
        .as_primitive::<arrow::datatypes::Float64Type>();
    assert!(w.values().iter().all(|&x| x == 4.0));
    // Fingerprints are recomputed and equal to the ones of the original spans.
    assert!(chunks
        .iter()
        .all(|c| c.fingerprints.len() == c.batch.num_rows()));
    let (chunks2, _) = read(f.path(), "again.parquet", 100);
    let fp1: Vec<_> = chunks.iter().flat_map(|c| c.fingerprints.clone()).collect();
    let fp2: Vec<_> = chunks2
        .iter()
        .flat_map(|c| c.fingerprints.clone())
        .collect();
    assert_eq!(fp1, fp2);
    assert_eq!(fp1.len(), 14);
}

#[test]
fn canonical_fingerprints_match_original_records() {
    let cfg = IngestOptions::default().identity;
    let res = ResourceInfo::from_attributes(vec![("service.name".into(), "a".into())], None, &cfg);
    let rec = SpanRecord {
        trace_id: [3; 16],
        span_id: [4; 8],
        name: "n".into(),
        start_time_unix_nano: 5,
        end_time_unix_nano: 9,
        attributes: vec![("k".into(), "v".into())],
        source_line: 2,
        ..Default::default()
    };
    let mut b = SpansBuilder::new(cfg, "o.jsonl");
    b.append(&res, &rec);
    let (batch, fp) = b.finish_with_fingerprints().unwrap();
    let f = write_parquet(&[batch], 100);
    let (chunks, _) = read(f.path(), "c.parquet", 100);
    assert_eq!(chunks[0].fingerprints, fp);
}

/// Overwrites the first bytes of row group `group`'s first data page; returns the number of
/// row groups.
fn corrupt_group(f: &tempfile::NamedTempFile, group: usize) -> usize {
    use parquet::file::reader::FileReader;
    let meta = parquet::file::reader::SerializedFileReader::new(f.reopen().unwrap()).unwrap();
    let off = meta
        .metadata()
        .row_group(group)
        .column(0)
        .data_page_offset() as usize;
    let mut bytes = std::fs::read(f.path()).unwrap();
    for b in &mut bytes[off..off + 12] {
        *b = 0xFF;
    }
    std::fs::write(f.path(), &bytes).unwrap();
    meta.metadata().num_row_groups()
}

#[test]
fn corrupt_row_group_is_located_and_skipped() {
    let batches = canonical_batches();
    let f = write_parquet(&batches, 7);
    assert_eq!(corrupt_group(&f, 0), 2);
    let (chunks, q) = read(f.path(), "c.parquet", 100);
    assert_eq!(
        concat(&chunks).num_rows(),
        7,
        "the second row group is still read"
    );
    let i = q
        .issues
        .iter()
        .find(|i| i.kind == IssueKind::BadParquet)
        .unwrap();
    assert_eq!(i.row, Some(0));
    assert!(i.reason.contains("row group 0 (rows 0..7)"), "{}", i.reason);
    assert_eq!(q.records_rejected, 1);
    assert_eq!(q.files[0].records_ingested, 7);
}

/// Read in pieces of row groups ([`SplitSpans`], as ingest does), a file gives the rows of the
/// whole-file reader, and a corrupt group in a later piece is located by its row numbers from
/// the start of the file, not of the piece.
#[test]
fn split_reads_equal_the_whole_file_and_locate_rows_from_the_file_start() {
    let batches = canonical_batches();
    let f = write_parquet(&batches, 3);
    assert_eq!(corrupt_group(&f, 3), 5);

    let (whole, wq) = read(f.path(), "c.parquet", 4);
    let split = SplitSpans::open(f.path()).expect("canonical");
    assert_eq!(split.group_rows(), vec![3, 3, 3, 3, 2]);
    let opts = IngestOptions {
        batch_rows: 4,
        ..Default::default()
    };
    let mut pieces = Vec::new();
    let mut sq = DataQuality::default();
    for groups in [0..2, 2..5] {
        sq.merge(split.read(f.path(), "c.parquet", groups, &opts, &mut |c| {
            pieces.push(c)
        }));
    }
    assert_eq!(concat(&pieces), concat(&whole));
    assert_eq!(
        concat(&pieces).num_rows(),
        11,
        "groups other than 3 are read"
    );
    assert!(sq.files.is_empty(), "the caller writes the file's summary");
    assert_eq!(
        (sq.records_read, sq.records_ingested, sq.records_rejected),
        (wq.records_read, wq.records_ingested, wq.records_rejected)
    );
    assert_eq!(sq.issues, wq.issues);
    let i = &sq.issues[0];
    assert_eq!(i.row, Some(9));
    assert!(
        i.reason.contains("row group 3 (rows 9..12)"),
        "{}",
        i.reason
    );

    let junk = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(junk.path(), b"PAR1 this is not parquet").unwrap();
    assert!(
        SplitSpans::open(junk.path()).is_none(),
        "read whole, rejected there"
    );
}

#[test]
fn unknown_schema_and_non_parquet_are_rejected() {
    let batch =
        RecordBatch::try_from_iter(vec![("a", Arc::new(Int32Array::from(vec![1])) as ArrayRef)])
            .unwrap();
    let f = write_parquet(&[batch], 10);
    let (chunks, q) = read(f.path(), "other.parquet", 10);
    assert!(chunks.is_empty());
    assert_eq!(q.issues.len(), 1);
    assert_eq!(q.issues[0].kind, IssueKind::UnsupportedFormat);
    assert!(q.issues[0].reason.contains("TraceId"));
    assert!(q.issues[0].reason.contains("trace_id"));
    assert!(q.issues[0].reason.contains("found a"));

    let g = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(g.path(), b"PAR1 this is not parquet").unwrap();
    let (_, q) = read(g.path(), "junk.parquet", 10);
    assert_eq!(q.issues[0].kind, IssueKind::BadParquet);
    assert_eq!(q.files[0].records_rejected, 1);
}

#[test]
fn clickhouse_json_attribute_columns() {
    // The exporter's JSON-typed table variant: attribute columns hold JSON objects as text.
    let batch = RecordBatch::try_from_iter(vec![
        (
            "Timestamp",
            Arc::new(arrow::array::Int64Array::from(vec![10, 20])) as ArrayRef,
        ),
        (
            "TraceId",
            Arc::new(StringArray::from(vec![
                "5b8efff798038103d269b633813fc60c";
                2
            ])),
        ),
        (
            "SpanId",
            Arc::new(StringArray::from(vec![
                "eee19b7ec3c1b174",
                "eee19b7ec3c1b175",
            ])),
        ),
        ("SpanName", Arc::new(StringArray::from(vec!["a", "b"]))),
        ("Duration", Arc::new(UInt64Array::from(vec![1, 2]))),
        (
            "ResourceAttributes",
            Arc::new(StringArray::from(vec![
                r#"{"service":{"name":"pay","version":"1.2"},"n":3,"f":1.5}"#,
                "not json",
            ])),
        ),
        (
            "SpanAttributes",
            Arc::new(StringArray::from(vec![r#"{"http.route":"/p"}"#, "{}"])),
        ),
    ])
    .unwrap();
    let f = write_parquet(&[batch], 10);
    let (chunks, q) = read(f.path(), "j.parquet", 10);
    assert_eq!(q.records_ingested, 2);
    assert_eq!(q.issues.len(), 1, "{:?}", q.issues);
    assert_eq!(
        (q.issues[0].row, q.issues[0].field.as_deref()),
        (Some(1), Some("ResourceAttributes"))
    );
    let b = concat(&chunks);
    assert_eq!(
        str_values(&b, "service_name"),
        vec![Some("pay".into()), Some("unknown_service".into())]
    );
    assert_eq!(
        map_rows(&b, "resource_attributes")[0],
        vec![
            ("f".to_string(), "1.5".to_string()),
            ("n".to_string(), "3".to_string()),
            ("service.name".to_string(), "pay".to_string()),
            ("service.version".to_string(), "1.2".to_string()),
        ]
    );
    assert_eq!(str_values(&b, "http_route")[0].as_deref(), Some("/p"));
}

/// A synthetic block in the vParquet4 schema (tests/fixtures/make_tempo_synthetic.py) with the
/// value kinds, promoted columns, events and bad ids the real sample lacks.
#[test]
fn tempo_synthetic_block_rebuilds_every_attribute_kind() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tempo-vparquet4-synthetic/data.parquet"
    );
    let (chunks, q) = read(Path::new(path), "syn.parquet", 100);
    assert_eq!(
        (q.records_read, q.records_ingested, q.records_rejected),
        (5, 2, 3)
    );
    let located: Vec<(Option<u64>, Option<&str>, IssueKind)> = q
        .issues
        .iter()
        .map(|i| (i.row, i.field.as_deref(), i.kind))
        .collect();
    assert_eq!(
        located,
        vec![
            (
                Some(0),
                Some("rs[0].ss[0].Spans[2].SpanID"),
                IssueKind::BadId
            ),
            (
                Some(0),
                Some("rs[0].ss[0].Spans[3].ParentSpanID"),
                IssueKind::BadId
            ),
            (Some(1), Some("TraceID"), IssueKind::BadId),
        ]
    );
    let b = concat(&chunks);
    let tid = b.column_by_name("trace_id").unwrap().as_fixed_size_binary();
    assert_eq!(to_hex(tid.value(0)), "00000000000000000102030405060708");
    let kv = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        map_rows(&b, "resource_attributes")[0],
        kv(&[
            ("service.name", "checkout"),
            ("deployment.track", "canary"),
            ("replicas", "3"),
            ("ratio", "0.25"),
            ("tags", r#"["a","b"]"#),
            ("weird", r#"{"x":1}"#),
            ("cluster", "prod-eu"),
            ("k8s.pod.name", "pod-1"),
            ("ip", "10.0.0.1"),
        ])
    );
    assert_eq!(
        map_rows(&b, "span_attributes")[0],
        kv(&[
            ("http.route", "/pay"),
            ("retry", "[true,false]"),
            ("sizes", "[1.5,2]"),
            ("http.method", "POST"),
            ("http.url", "http://pay/pay"),
            ("http.status_code", "502"),
            ("instance", "i-1"),
            ("version", "v2"),
        ])
    );
    assert_eq!(
        str_values(&b, "exception_type"),
        vec![Some("PaymentError".into()), None]
    );
    assert_eq!(
        str_values(&b, "exception_message"),
        vec![Some("card declined".into()), None]
    );
    assert_eq!(
        str_values(&b, "deployment_track"),
        vec![Some("canary".into()), Some("canary".into())]
    );
    assert_eq!(
        str_values(&b, "status_message")[0].as_deref(),
        Some("failed")
    );
    let err = b.column_by_name("is_error").unwrap().as_boolean();
    assert!(err.value(0) && !err.value(1));
    let parent = b
        .column_by_name("parent_span_id")
        .unwrap()
        .as_fixed_size_binary();
    assert!(parent.is_null(0));
    assert_eq!(parent.value(1), b"AAAAAAAA");
    let kind = b
        .column_by_name("span_kind")
        .unwrap()
        .as_primitive::<Int32Type>();
    assert_eq!(kind.values().to_vec(), vec![2, 3]);
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn mutated_parquet_never_panics(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            which in 0usize..2,
        ) {
            let src = if which == 0 {
                std::fs::read(V4).unwrap()
            } else {
                let f = write_parquet(&canonical_batches(), 5);
                std::fs::read(f.path()).unwrap()
            };
            let mut bytes = src;
            for (i, b) in edits {
                let n = bytes.len();
                bytes[i.index(n)] = b;
            }
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("data.parquet");
            std::fs::write(&p, &bytes).unwrap();
            let mut rows = 0;
            let q = read_parquet_file(&p, "f", &IngestOptions::default(), &mut |c| rows += c.batch.num_rows());
            prop_assert_eq!(q.files.len(), 1);
            prop_assert_eq!(q.records_ingested as usize, rows);
        }
    }
}
