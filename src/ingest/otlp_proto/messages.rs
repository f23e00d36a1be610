//! Hand-written prost messages for OTLP v1 (opentelemetry-proto `common/v1`, `resource/v1`,
//! `trace/v1`, `metrics/v1`, and `logs/v1` for recognising log exports), wire-compatible with
//! the official `.proto` files.
//!
//! Field numbers and scalar encodings (`fixed64` timestamps, `sfixed64` integer metric values,
//! `sint32` exponential-histogram scale and offsets, `optional double` sum/min/max) follow
//! opentelemetry-proto v1.x; they were checked field by field against the upstream files.
//! Experimental fields that are not part of a stable release (profiles string-table indexes)
//! are left out: prost skips unknown fields, so messages that carry them still decode.
//!
//! `ExportTraceServiceRequest` and `ExportMetricsServiceRequest` have the same wire layout as
//! [`TracesData`] and [`MetricsData`] (field 1, repeated resource entries), so the type aliases
//! decode collector requests and file-exporter frames alike.

// ---------------------------------------------------------------------------------------------
// common/v1/common.proto
// ---------------------------------------------------------------------------------------------

/// `AnyValue`: one attribute value; `value` is `None` for an empty value.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AnyValue {
    /// The value (proto `oneof value`, fields 1–7).
    #[prost(oneof = "any_value::Value", tags = "1, 2, 3, 4, 5, 6, 7")]
    pub value: Option<any_value::Value>,
}

/// The `oneof value` of [`AnyValue`].
pub mod any_value {
    /// One of the value kinds of `AnyValue`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        /// `string string_value = 1`
        #[prost(string, tag = "1")]
        StringValue(String),
        /// `bool bool_value = 2`
        #[prost(bool, tag = "2")]
        BoolValue(bool),
        /// `int64 int_value = 3`
        #[prost(int64, tag = "3")]
        IntValue(i64),
        /// `double double_value = 4`
        #[prost(double, tag = "4")]
        DoubleValue(f64),
        /// `ArrayValue array_value = 5`
        #[prost(message, tag = "5")]
        ArrayValue(super::ArrayValue),
        /// `KeyValueList kvlist_value = 6`
        #[prost(message, tag = "6")]
        KvlistValue(super::KeyValueList),
        /// `bytes bytes_value = 7`
        #[prost(bytes = "vec", tag = "7")]
        BytesValue(Vec<u8>),
    }
}

/// `ArrayValue`: a list of values.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ArrayValue {
    /// `repeated AnyValue values = 1`
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<AnyValue>,
}

/// `KeyValueList`: a list of key–value pairs used as a value.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyValueList {
    /// `repeated KeyValue values = 1`
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<KeyValue>,
}

/// `KeyValue`: one attribute.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyValue {
    /// `string key = 1`
    #[prost(string, tag = "1")]
    pub key: String,
    /// `AnyValue value = 2`
    #[prost(message, optional, tag = "2")]
    pub value: Option<AnyValue>,
}

/// `InstrumentationScope`: the library that produced the telemetry.
#[derive(Clone, PartialEq, prost::Message)]
pub struct InstrumentationScope {
    /// `string name = 1`
    #[prost(string, tag = "1")]
    pub name: String,
    /// `string version = 2`
    #[prost(string, tag = "2")]
    pub version: String,
    /// `repeated KeyValue attributes = 3`
    #[prost(message, repeated, tag = "3")]
    pub attributes: Vec<KeyValue>,
    /// `uint32 dropped_attributes_count = 4`
    #[prost(uint32, tag = "4")]
    pub dropped_attributes_count: u32,
}

/// `EntityRef` (development status): an entity that participates in a resource.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EntityRef {
    /// `string schema_url = 1`
    #[prost(string, tag = "1")]
    pub schema_url: String,
    /// `string type = 2`
    #[prost(string, tag = "2")]
    pub r#type: String,
    /// `repeated string id_keys = 3`
    #[prost(string, repeated, tag = "3")]
    pub id_keys: Vec<String>,
    /// `repeated string description_keys = 4`
    #[prost(string, repeated, tag = "4")]
    pub description_keys: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// resource/v1/resource.proto
// ---------------------------------------------------------------------------------------------

/// `Resource`: the entity producing telemetry.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Resource {
    /// `repeated KeyValue attributes = 1`
    #[prost(message, repeated, tag = "1")]
    pub attributes: Vec<KeyValue>,
    /// `uint32 dropped_attributes_count = 2`
    #[prost(uint32, tag = "2")]
    pub dropped_attributes_count: u32,
    /// `repeated EntityRef entity_refs = 3`
    #[prost(message, repeated, tag = "3")]
    pub entity_refs: Vec<EntityRef>,
}

// ---------------------------------------------------------------------------------------------
// trace/v1/trace.proto
// ---------------------------------------------------------------------------------------------

/// `TracesData`: the payload of a trace export.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TracesData {
    /// `repeated ResourceSpans resource_spans = 1`
    #[prost(message, repeated, tag = "1")]
    pub resource_spans: Vec<ResourceSpans>,
}

/// `collector/trace/v1 ExportTraceServiceRequest`: same wire layout as [`TracesData`].
pub type ExportTraceServiceRequest = TracesData;

/// `ResourceSpans`: the spans of one resource.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResourceSpans {
    /// `Resource resource = 1`
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    /// `repeated ScopeSpans scope_spans = 2`
    #[prost(message, repeated, tag = "2")]
    pub scope_spans: Vec<ScopeSpans>,
    /// `string schema_url = 3`
    #[prost(string, tag = "3")]
    pub schema_url: String,
}

/// `ScopeSpans`: the spans of one instrumentation scope.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ScopeSpans {
    /// `InstrumentationScope scope = 1`
    #[prost(message, optional, tag = "1")]
    pub scope: Option<InstrumentationScope>,
    /// `repeated Span spans = 2`
    #[prost(message, repeated, tag = "2")]
    pub spans: Vec<Span>,
    /// `string schema_url = 3`
    #[prost(string, tag = "3")]
    pub schema_url: String,
}

/// `Span`: one operation.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Span {
    /// `bytes trace_id = 1` (16 bytes)
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    /// `bytes span_id = 2` (8 bytes)
    #[prost(bytes = "vec", tag = "2")]
    pub span_id: Vec<u8>,
    /// `string trace_state = 3`
    #[prost(string, tag = "3")]
    pub trace_state: String,
    /// `bytes parent_span_id = 4` (empty for a root span)
    #[prost(bytes = "vec", tag = "4")]
    pub parent_span_id: Vec<u8>,
    /// `string name = 5`
    #[prost(string, tag = "5")]
    pub name: String,
    /// `SpanKind kind = 6`
    #[prost(enumeration = "span::SpanKind", tag = "6")]
    pub kind: i32,
    /// `fixed64 start_time_unix_nano = 7`
    #[prost(fixed64, tag = "7")]
    pub start_time_unix_nano: u64,
    /// `fixed64 end_time_unix_nano = 8`
    #[prost(fixed64, tag = "8")]
    pub end_time_unix_nano: u64,
    /// `repeated KeyValue attributes = 9`
    #[prost(message, repeated, tag = "9")]
    pub attributes: Vec<KeyValue>,
    /// `uint32 dropped_attributes_count = 10`
    #[prost(uint32, tag = "10")]
    pub dropped_attributes_count: u32,
    /// `repeated Event events = 11`
    #[prost(message, repeated, tag = "11")]
    pub events: Vec<span::Event>,
    /// `uint32 dropped_events_count = 12`
    #[prost(uint32, tag = "12")]
    pub dropped_events_count: u32,
    /// `repeated Link links = 13`
    #[prost(message, repeated, tag = "13")]
    pub links: Vec<span::Link>,
    /// `uint32 dropped_links_count = 14`
    #[prost(uint32, tag = "14")]
    pub dropped_links_count: u32,
    /// `Status status = 15`
    #[prost(message, optional, tag = "15")]
    pub status: Option<Status>,
    /// `fixed32 flags = 16`
    #[prost(fixed32, tag = "16")]
    pub flags: u32,
}

/// Nested messages and enums of [`Span`].
pub mod span {
    /// `Span.Event`: a time-stamped annotation.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Event {
        /// `fixed64 time_unix_nano = 1`
        #[prost(fixed64, tag = "1")]
        pub time_unix_nano: u64,
        /// `string name = 2`
        #[prost(string, tag = "2")]
        pub name: String,
        /// `repeated KeyValue attributes = 3`
        #[prost(message, repeated, tag = "3")]
        pub attributes: Vec<super::KeyValue>,
        /// `uint32 dropped_attributes_count = 4`
        #[prost(uint32, tag = "4")]
        pub dropped_attributes_count: u32,
    }

    /// `Span.Link`: a reference to another span.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Link {
        /// `bytes trace_id = 1`
        #[prost(bytes = "vec", tag = "1")]
        pub trace_id: Vec<u8>,
        /// `bytes span_id = 2`
        #[prost(bytes = "vec", tag = "2")]
        pub span_id: Vec<u8>,
        /// `string trace_state = 3`
        #[prost(string, tag = "3")]
        pub trace_state: String,
        /// `repeated KeyValue attributes = 4`
        #[prost(message, repeated, tag = "4")]
        pub attributes: Vec<super::KeyValue>,
        /// `uint32 dropped_attributes_count = 5`
        #[prost(uint32, tag = "5")]
        pub dropped_attributes_count: u32,
        /// `fixed32 flags = 6`
        #[prost(fixed32, tag = "6")]
        pub flags: u32,
    }

    /// `Span.SpanKind`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum SpanKind {
        /// SPAN_KIND_UNSPECIFIED
        Unspecified = 0,
        /// SPAN_KIND_INTERNAL
        Internal = 1,
        /// SPAN_KIND_SERVER
        Server = 2,
        /// SPAN_KIND_CLIENT
        Client = 3,
        /// SPAN_KIND_PRODUCER
        Producer = 4,
        /// SPAN_KIND_CONSUMER
        Consumer = 5,
    }
}

/// `Status`: the outcome of a span (field 1 is reserved).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Status {
    /// `string message = 2`
    #[prost(string, tag = "2")]
    pub message: String,
    /// `StatusCode code = 3`
    #[prost(enumeration = "status::StatusCode", tag = "3")]
    pub code: i32,
}

/// Enums of [`Status`].
pub mod status {
    /// `Status.StatusCode`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum StatusCode {
        /// STATUS_CODE_UNSET
        Unset = 0,
        /// STATUS_CODE_OK
        Ok = 1,
        /// STATUS_CODE_ERROR
        Error = 2,
    }
}

// ---------------------------------------------------------------------------------------------
// metrics/v1/metrics.proto
// ---------------------------------------------------------------------------------------------

/// `MetricsData`: the payload of a metrics export.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricsData {
    /// `repeated ResourceMetrics resource_metrics = 1`
    #[prost(message, repeated, tag = "1")]
    pub resource_metrics: Vec<ResourceMetrics>,
}

/// `collector/metrics/v1 ExportMetricsServiceRequest`: same wire layout as [`MetricsData`].
pub type ExportMetricsServiceRequest = MetricsData;

/// `ResourceMetrics`: the metrics of one resource.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResourceMetrics {
    /// `Resource resource = 1`
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    /// `repeated ScopeMetrics scope_metrics = 2`
    #[prost(message, repeated, tag = "2")]
    pub scope_metrics: Vec<ScopeMetrics>,
    /// `string schema_url = 3`
    #[prost(string, tag = "3")]
    pub schema_url: String,
}

/// `ScopeMetrics`: the metrics of one instrumentation scope.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ScopeMetrics {
    /// `InstrumentationScope scope = 1`
    #[prost(message, optional, tag = "1")]
    pub scope: Option<InstrumentationScope>,
    /// `repeated Metric metrics = 2`
    #[prost(message, repeated, tag = "2")]
    pub metrics: Vec<Metric>,
    /// `string schema_url = 3`
    #[prost(string, tag = "3")]
    pub schema_url: String,
}

/// `Metric`: one named metric and its points (fields 4, 6 and 8 are reserved upstream).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Metric {
    /// `string name = 1`
    #[prost(string, tag = "1")]
    pub name: String,
    /// `string description = 2`
    #[prost(string, tag = "2")]
    pub description: String,
    /// `string unit = 3`
    #[prost(string, tag = "3")]
    pub unit: String,
    /// `repeated KeyValue metadata = 12`
    #[prost(message, repeated, tag = "12")]
    pub metadata: Vec<KeyValue>,
    /// The data (proto `oneof data`: gauge 5, sum 7, histogram 9, exponential_histogram 10,
    /// summary 11).
    #[prost(oneof = "metric::Data", tags = "5, 7, 9, 10, 11")]
    pub data: Option<metric::Data>,
}

/// The `oneof data` of [`Metric`].
pub mod metric {
    /// The point type of a metric.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Data {
        /// `Gauge gauge = 5`
        #[prost(message, tag = "5")]
        Gauge(super::Gauge),
        /// `Sum sum = 7`
        #[prost(message, tag = "7")]
        Sum(super::Sum),
        /// `Histogram histogram = 9`
        #[prost(message, tag = "9")]
        Histogram(super::Histogram),
        /// `ExponentialHistogram exponential_histogram = 10`
        #[prost(message, tag = "10")]
        ExponentialHistogram(super::ExponentialHistogram),
        /// `Summary summary = 11`
        #[prost(message, tag = "11")]
        Summary(super::Summary),
    }
}

/// `Gauge`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Gauge {
    /// `repeated NumberDataPoint data_points = 1`
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<NumberDataPoint>,
}

/// `Sum`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sum {
    /// `repeated NumberDataPoint data_points = 1`
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<NumberDataPoint>,
    /// `AggregationTemporality aggregation_temporality = 2`
    #[prost(enumeration = "AggregationTemporality", tag = "2")]
    pub aggregation_temporality: i32,
    /// `bool is_monotonic = 3`
    #[prost(bool, tag = "3")]
    pub is_monotonic: bool,
}

/// `Histogram` (explicit bucket bounds).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {
    /// `repeated HistogramDataPoint data_points = 1`
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<HistogramDataPoint>,
    /// `AggregationTemporality aggregation_temporality = 2`
    #[prost(enumeration = "AggregationTemporality", tag = "2")]
    pub aggregation_temporality: i32,
}

/// `ExponentialHistogram`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExponentialHistogram {
    /// `repeated ExponentialHistogramDataPoint data_points = 1`
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<ExponentialHistogramDataPoint>,
    /// `AggregationTemporality aggregation_temporality = 2`
    #[prost(enumeration = "AggregationTemporality", tag = "2")]
    pub aggregation_temporality: i32,
}

/// `Summary` (legacy quantile summaries).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    /// `repeated SummaryDataPoint data_points = 1`
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<SummaryDataPoint>,
}

/// `AggregationTemporality`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum AggregationTemporality {
    /// AGGREGATION_TEMPORALITY_UNSPECIFIED
    Unspecified = 0,
    /// AGGREGATION_TEMPORALITY_DELTA
    Delta = 1,
    /// AGGREGATION_TEMPORALITY_CUMULATIVE
    Cumulative = 2,
}

/// `DataPointFlags` bit masks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum DataPointFlags {
    /// DATA_POINT_FLAGS_DO_NOT_USE
    DoNotUse = 0,
    /// DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
    NoRecordedValueMask = 1,
}

/// `NumberDataPoint` (gauge and sum points; field 1 is reserved upstream).
#[derive(Clone, PartialEq, prost::Message)]
pub struct NumberDataPoint {
    /// `repeated KeyValue attributes = 7`
    #[prost(message, repeated, tag = "7")]
    pub attributes: Vec<KeyValue>,
    /// `fixed64 start_time_unix_nano = 2`
    #[prost(fixed64, tag = "2")]
    pub start_time_unix_nano: u64,
    /// `fixed64 time_unix_nano = 3`
    #[prost(fixed64, tag = "3")]
    pub time_unix_nano: u64,
    /// `repeated Exemplar exemplars = 5`
    #[prost(message, repeated, tag = "5")]
    pub exemplars: Vec<Exemplar>,
    /// `uint32 flags = 8`
    #[prost(uint32, tag = "8")]
    pub flags: u32,
    /// The value (proto `oneof value`: as_double 4, as_int 6).
    #[prost(oneof = "number_data_point::Value", tags = "4, 6")]
    pub value: Option<number_data_point::Value>,
}

/// The `oneof value` of [`NumberDataPoint`].
pub mod number_data_point {
    /// A number point's value.
    #[derive(Clone, Copy, PartialEq, prost::Oneof)]
    pub enum Value {
        /// `double as_double = 4`
        #[prost(double, tag = "4")]
        AsDouble(f64),
        /// `sfixed64 as_int = 6`
        #[prost(sfixed64, tag = "6")]
        AsInt(i64),
    }
}

/// `HistogramDataPoint` (field 1 is reserved upstream).
#[derive(Clone, PartialEq, prost::Message)]
pub struct HistogramDataPoint {
    /// `repeated KeyValue attributes = 9`
    #[prost(message, repeated, tag = "9")]
    pub attributes: Vec<KeyValue>,
    /// `fixed64 start_time_unix_nano = 2`
    #[prost(fixed64, tag = "2")]
    pub start_time_unix_nano: u64,
    /// `fixed64 time_unix_nano = 3`
    #[prost(fixed64, tag = "3")]
    pub time_unix_nano: u64,
    /// `fixed64 count = 4`
    #[prost(fixed64, tag = "4")]
    pub count: u64,
    /// `optional double sum = 5`
    #[prost(double, optional, tag = "5")]
    pub sum: Option<f64>,
    /// `repeated fixed64 bucket_counts = 6`
    #[prost(fixed64, repeated, tag = "6")]
    pub bucket_counts: Vec<u64>,
    /// `repeated double explicit_bounds = 7`
    #[prost(double, repeated, tag = "7")]
    pub explicit_bounds: Vec<f64>,
    /// `repeated Exemplar exemplars = 8`
    #[prost(message, repeated, tag = "8")]
    pub exemplars: Vec<Exemplar>,
    /// `uint32 flags = 10`
    #[prost(uint32, tag = "10")]
    pub flags: u32,
    /// `optional double min = 11`
    #[prost(double, optional, tag = "11")]
    pub min: Option<f64>,
    /// `optional double max = 12`
    #[prost(double, optional, tag = "12")]
    pub max: Option<f64>,
}

/// `ExponentialHistogramDataPoint`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExponentialHistogramDataPoint {
    /// `repeated KeyValue attributes = 1`
    #[prost(message, repeated, tag = "1")]
    pub attributes: Vec<KeyValue>,
    /// `fixed64 start_time_unix_nano = 2`
    #[prost(fixed64, tag = "2")]
    pub start_time_unix_nano: u64,
    /// `fixed64 time_unix_nano = 3`
    #[prost(fixed64, tag = "3")]
    pub time_unix_nano: u64,
    /// `fixed64 count = 4`
    #[prost(fixed64, tag = "4")]
    pub count: u64,
    /// `optional double sum = 5`
    #[prost(double, optional, tag = "5")]
    pub sum: Option<f64>,
    /// `sint32 scale = 6`
    #[prost(sint32, tag = "6")]
    pub scale: i32,
    /// `fixed64 zero_count = 7`
    #[prost(fixed64, tag = "7")]
    pub zero_count: u64,
    /// `Buckets positive = 8`
    #[prost(message, optional, tag = "8")]
    pub positive: Option<exponential_histogram_data_point::Buckets>,
    /// `Buckets negative = 9`
    #[prost(message, optional, tag = "9")]
    pub negative: Option<exponential_histogram_data_point::Buckets>,
    /// `uint32 flags = 10`
    #[prost(uint32, tag = "10")]
    pub flags: u32,
    /// `repeated Exemplar exemplars = 11`
    #[prost(message, repeated, tag = "11")]
    pub exemplars: Vec<Exemplar>,
    /// `optional double min = 12`
    #[prost(double, optional, tag = "12")]
    pub min: Option<f64>,
    /// `optional double max = 13`
    #[prost(double, optional, tag = "13")]
    pub max: Option<f64>,
    /// `double zero_threshold = 14`
    #[prost(double, tag = "14")]
    pub zero_threshold: f64,
}

/// Nested messages of [`ExponentialHistogramDataPoint`].
pub mod exponential_histogram_data_point {
    /// `Buckets`: a dense run of bucket counts starting at `offset`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Buckets {
        /// `sint32 offset = 1`
        #[prost(sint32, tag = "1")]
        pub offset: i32,
        /// `repeated uint64 bucket_counts = 2`
        #[prost(uint64, repeated, tag = "2")]
        pub bucket_counts: Vec<u64>,
    }
}

/// `SummaryDataPoint` (field 1 is reserved upstream).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryDataPoint {
    /// `repeated KeyValue attributes = 7`
    #[prost(message, repeated, tag = "7")]
    pub attributes: Vec<KeyValue>,
    /// `fixed64 start_time_unix_nano = 2`
    #[prost(fixed64, tag = "2")]
    pub start_time_unix_nano: u64,
    /// `fixed64 time_unix_nano = 3`
    #[prost(fixed64, tag = "3")]
    pub time_unix_nano: u64,
    /// `fixed64 count = 4`
    #[prost(fixed64, tag = "4")]
    pub count: u64,
    /// `double sum = 5`
    #[prost(double, tag = "5")]
    pub sum: f64,
    /// `repeated ValueAtQuantile quantile_values = 6`
    #[prost(message, repeated, tag = "6")]
    pub quantile_values: Vec<summary_data_point::ValueAtQuantile>,
    /// `uint32 flags = 8`
    #[prost(uint32, tag = "8")]
    pub flags: u32,
}

/// Nested messages of [`SummaryDataPoint`].
pub mod summary_data_point {
    /// `ValueAtQuantile`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueAtQuantile {
        /// `double quantile = 1`
        #[prost(double, tag = "1")]
        pub quantile: f64,
        /// `double value = 2`
        #[prost(double, tag = "2")]
        pub value: f64,
    }
}

/// `Exemplar`: a sample measurement linked to a trace (field 1 is reserved upstream).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    /// `repeated KeyValue filtered_attributes = 7`
    #[prost(message, repeated, tag = "7")]
    pub filtered_attributes: Vec<KeyValue>,
    /// `fixed64 time_unix_nano = 2`
    #[prost(fixed64, tag = "2")]
    pub time_unix_nano: u64,
    /// `bytes span_id = 4`
    #[prost(bytes = "vec", tag = "4")]
    pub span_id: Vec<u8>,
    /// `bytes trace_id = 5`
    #[prost(bytes = "vec", tag = "5")]
    pub trace_id: Vec<u8>,
    /// The value (proto `oneof value`: as_double 3, as_int 6).
    #[prost(oneof = "exemplar::Value", tags = "3, 6")]
    pub value: Option<exemplar::Value>,
}

/// The `oneof value` of [`Exemplar`].
pub mod exemplar {
    /// An exemplar's value.
    #[derive(Clone, Copy, PartialEq, prost::Oneof)]
    pub enum Value {
        /// `double as_double = 3`
        #[prost(double, tag = "3")]
        AsDouble(f64),
        /// `sfixed64 as_int = 6`
        #[prost(sfixed64, tag = "6")]
        AsInt(i64),
    }
}

// ---------------------------------------------------------------------------------------------
// logs/v1/logs.proto (only so that readers can recognise log exports and say so)
// ---------------------------------------------------------------------------------------------

/// `LogsData`: the payload of a logs export.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LogsData {
    /// `repeated ResourceLogs resource_logs = 1`
    #[prost(message, repeated, tag = "1")]
    pub resource_logs: Vec<ResourceLogs>,
}

/// `ResourceLogs`: the log records of one resource.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResourceLogs {
    /// `Resource resource = 1`
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    /// `repeated ScopeLogs scope_logs = 2`
    #[prost(message, repeated, tag = "2")]
    pub scope_logs: Vec<ScopeLogs>,
    /// `string schema_url = 3`
    #[prost(string, tag = "3")]
    pub schema_url: String,
}

/// `ScopeLogs`: the log records of one instrumentation scope.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ScopeLogs {
    /// `InstrumentationScope scope = 1`
    #[prost(message, optional, tag = "1")]
    pub scope: Option<InstrumentationScope>,
    /// `repeated LogRecord log_records = 2`
    #[prost(message, repeated, tag = "2")]
    pub log_records: Vec<LogRecord>,
    /// `string schema_url = 3`
    #[prost(string, tag = "3")]
    pub schema_url: String,
}

/// `LogRecord` (field 4 is reserved upstream).
#[derive(Clone, PartialEq, prost::Message)]
pub struct LogRecord {
    /// `fixed64 time_unix_nano = 1`
    #[prost(fixed64, tag = "1")]
    pub time_unix_nano: u64,
    /// `fixed64 observed_time_unix_nano = 11`
    #[prost(fixed64, tag = "11")]
    pub observed_time_unix_nano: u64,
    /// `SeverityNumber severity_number = 2` (1–24, TRACE … FATAL4)
    #[prost(int32, tag = "2")]
    pub severity_number: i32,
    /// `string severity_text = 3`
    #[prost(string, tag = "3")]
    pub severity_text: String,
    /// `AnyValue body = 5`
    #[prost(message, optional, tag = "5")]
    pub body: Option<AnyValue>,
    /// `repeated KeyValue attributes = 6`
    #[prost(message, repeated, tag = "6")]
    pub attributes: Vec<KeyValue>,
    /// `uint32 dropped_attributes_count = 7`
    #[prost(uint32, tag = "7")]
    pub dropped_attributes_count: u32,
    /// `fixed32 flags = 8`
    #[prost(fixed32, tag = "8")]
    pub flags: u32,
    /// `bytes trace_id = 9`
    #[prost(bytes = "vec", tag = "9")]
    pub trace_id: Vec<u8>,
    /// `bytes span_id = 10`
    #[prost(bytes = "vec", tag = "10")]
    pub span_id: Vec<u8>,
    /// `string event_name = 12`
    #[prost(string, tag = "12")]
    pub event_name: String,
}

// ---------------------------------------------------------------------------------------------
// Constructors for writers (tests, the synthetic-data generator)
// ---------------------------------------------------------------------------------------------

impl From<&str> for AnyValue {
    fn from(v: &str) -> Self {
        AnyValue {
            value: Some(any_value::Value::StringValue(v.to_string())),
        }
    }
}

impl From<String> for AnyValue {
    fn from(v: String) -> Self {
        AnyValue {
            value: Some(any_value::Value::StringValue(v)),
        }
    }
}

impl From<bool> for AnyValue {
    fn from(v: bool) -> Self {
        AnyValue {
            value: Some(any_value::Value::BoolValue(v)),
        }
    }
}

impl From<i64> for AnyValue {
    fn from(v: i64) -> Self {
        AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }
    }
}

impl From<f64> for AnyValue {
    fn from(v: f64) -> Self {
        AnyValue {
            value: Some(any_value::Value::DoubleValue(v)),
        }
    }
}

impl From<Vec<AnyValue>> for AnyValue {
    fn from(values: Vec<AnyValue>) -> Self {
        AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
        }
    }
}

impl KeyValue {
    /// An attribute with any value convertible to [`AnyValue`] (`&str`, `String`, `bool`,
    /// `i64`, `f64`, `Vec<AnyValue>`).
    pub fn new(key: impl Into<String>, value: impl Into<AnyValue>) -> Self {
        KeyValue {
            key: key.into(),
            value: Some(value.into()),
        }
    }
}
