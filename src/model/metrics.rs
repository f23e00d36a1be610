//! The canonical metric tables (design §2): `metric_points` (sums, gauges, summaries),
//! `histogram_points` (explicit bounds) and `exp_histogram_points` (base-2 exponential).
//!
//! Readers produce [`MetricPoint`]s; after reading, [`crate::model::metric_delta`] converts
//! cumulative series to deltas; then [`MetricTables::build`] lays them out. Column order and types
//! are defined once, by the builders; the `*_schema()` functions are derived from them.
//! `docs/metrics.md` documents every column.

use super::spans::ResourceInfo;
use arrow::array::{
    Array, ArrayRef, BooleanBuilder, FixedSizeBinaryBuilder, Float64Array, Float64Builder,
    Int32Builder, Int64Builder, ListArray, ListBuilder, MapBuilder, StringBuilder,
    StringDictionaryBuilder, StructArray, TimestampNanosecondArray, TimestampNanosecondBuilder,
    UInt64Builder,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Fields, Int32Type, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::sync::{Arc, OnceLock};

/// Version of the metric table layout, written to `dataset.json`. Bump on any change.
pub const METRICS_SCHEMA_VERSION: u32 = 1;

/// File name of the `metric_points` table inside a DATASET.
pub const METRIC_POINTS_TABLE: &str = "metric_points";
/// File name stem of the `histogram_points` table.
pub const HISTOGRAM_POINTS_TABLE: &str = "histogram_points";
/// File name stem of the `exp_histogram_points` table.
pub const EXP_HISTOGRAM_POINTS_TABLE: &str = "exp_histogram_points";

/// OTLP metric data type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricKind {
    /// `Sum` (counter or up-down counter).
    Sum,
    /// `Gauge`.
    Gauge,
    /// `Summary` (pre-computed quantiles).
    Summary,
    /// `Histogram` with explicit bounds.
    Histogram,
    /// `ExponentialHistogram`.
    ExponentialHistogram,
}

impl MetricKind {
    /// Name written to the `kind` column.
    pub fn name(self) -> &'static str {
        match self {
            MetricKind::Sum => "sum",
            MetricKind::Gauge => "gauge",
            MetricKind::Summary => "summary",
            MetricKind::Histogram => "histogram",
            MetricKind::ExponentialHistogram => "exponential_histogram",
        }
    }
}

/// OTLP `AggregationTemporality`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Temporality {
    /// 0: not set (gauges and summaries have none; on sums and histograms it is a data error).
    Unspecified,
    /// 1: each point covers `(start_time, time]` only.
    Delta,
    /// 2: each point covers everything since the stream's start time.
    Cumulative,
}

impl Temporality {
    /// From the OTLP enum number (unknown numbers are `Unspecified`).
    pub fn from_i32(v: i32) -> Self {
        match v {
            1 => Temporality::Delta,
            2 => Temporality::Cumulative,
            _ => Temporality::Unspecified,
        }
    }

    /// Name written to the `temporality` column.
    pub fn name(self) -> &'static str {
        match self {
            Temporality::Unspecified => "unspecified",
            Temporality::Delta => "delta",
            Temporality::Cumulative => "cumulative",
        }
    }
}

/// One exemplar attached to a point.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Exemplar {
    /// Trace id, when present and not empty/all-zero.
    pub trace_id: Option<[u8; 16]>,
    /// Span id, when present and not empty/all-zero.
    pub span_id: Option<[u8; 8]>,
    /// `timeUnixNano`.
    pub time: i64,
    /// `asDouble`/`asInt` as a double (NULL when neither is set).
    pub value: Option<f64>,
    /// Attributes filtered out of the point by the aggregation.
    pub filtered_attributes: Vec<(String, String)>,
}

/// Buckets of one side of an exponential histogram.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExpBuckets {
    /// Index of the first bucket.
    pub offset: i32,
    /// Counts, bucket `offset + i` at position `i`.
    pub counts: Vec<u64>,
}

/// The kind-specific payload of a point, as reported (cumulative values stay cumulative here;
/// the delta conversion writes the delta fields of [`MetricPoint`]).
#[derive(Debug, Clone, PartialEq)]
pub enum PointData {
    /// Sum or gauge value.
    Number(f64),
    /// Summary count, sum and `(quantile, value)` pairs.
    Summary {
        /// Observation count.
        count: u64,
        /// Observation sum.
        sum: f64,
        /// `(quantile, value)` pairs as reported.
        quantiles: Vec<(f64, f64)>,
    },
    /// Explicit-bounds histogram.
    Histogram {
        /// Observation count.
        count: u64,
        /// Observation sum (optional in OTLP).
        sum: Option<f64>,
        /// Minimum (optional).
        min: Option<f64>,
        /// Maximum (optional).
        max: Option<f64>,
        /// Bucket upper bounds, strictly increasing.
        bounds: Vec<f64>,
        /// `bounds.len() + 1` counts, or empty (no buckets reported).
        buckets: Vec<u64>,
    },
    /// Base-2 exponential histogram.
    ExpHistogram {
        /// Observation count.
        count: u64,
        /// Observation sum (optional).
        sum: Option<f64>,
        /// Minimum (optional).
        min: Option<f64>,
        /// Maximum (optional).
        max: Option<f64>,
        /// Resolution: bucket bases are `2^(2^-scale)`.
        scale: i32,
        /// Count of values in the zero bucket.
        zero_count: u64,
        /// Width of the zero bucket.
        zero_threshold: f64,
        /// Positive-value buckets.
        positive: ExpBuckets,
        /// Negative-value buckets (by absolute value).
        negative: ExpBuckets,
    },
}

/// The delta form of a point, filled by the delta conversion (`None` = delta unknown: the first
/// point of a cumulative stream with no usable start time).
#[derive(Debug, Clone, PartialEq)]
pub enum DeltaData {
    /// Not computed (gauges, summaries) or unknown (baseline point).
    None,
    /// Delta of a sum.
    Number(f64),
    /// Delta of an explicit-bounds histogram: count, sum, bucket counts.
    Histogram {
        /// Observations in the interval.
        count: u64,
        /// Sum in the interval (None when the sum is not reported).
        sum: Option<f64>,
        /// Per-bucket counts in the interval.
        buckets: Vec<u64>,
    },
    /// Delta of an exponential histogram (layout of the current point).
    ExpHistogram {
        /// Observations in the interval.
        count: u64,
        /// Sum in the interval.
        sum: Option<f64>,
        /// Zero-bucket count in the interval.
        zero_count: u64,
        /// Positive bucket counts in the interval.
        positive: Vec<u64>,
        /// Negative bucket counts in the interval.
        negative: Vec<u64>,
    },
}

/// One metric data point with its metric and resource context.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPoint {
    /// Resource identity and scope (shared by the points of one scope).
    pub resource: Arc<ResourceInfo>,
    /// Metric name.
    pub name: Arc<str>,
    /// Metric description (None when empty).
    pub description: Option<Arc<str>>,
    /// Unit (empty when not given).
    pub unit: Arc<str>,
    /// Data type.
    pub kind: MetricKind,
    /// Aggregation temporality (sums and histograms).
    pub temporality: Temporality,
    /// Sum monotonic flag (false for other kinds).
    pub is_monotonic: bool,
    /// Point attributes, values rendered as strings like span attributes.
    pub attributes: Vec<(String, String)>,
    /// `startTimeUnixNano` (None when absent or 0).
    pub start_time: Option<i64>,
    /// `timeUnixNano`.
    pub time: i64,
    /// Reported payload.
    pub data: PointData,
    /// Delta form (set by the delta conversion; copies of the raw values for delta series).
    pub delta: DeltaData,
    /// A counter reset was detected at this point.
    pub reset: bool,
    /// Exemplars.
    pub exemplars: Vec<Exemplar>,
    /// Input file.
    pub source_file: Arc<str>,
    /// Line (JSON lines), document start line, or frame number.
    pub source_line: i64,
}

impl MetricPoint {
    /// Which table the point belongs to.
    pub fn table(&self) -> &'static str {
        match self.kind {
            MetricKind::Histogram => HISTOGRAM_POINTS_TABLE,
            MetricKind::ExponentialHistogram => EXP_HISTOGRAM_POINTS_TABLE,
            _ => METRIC_POINTS_TABLE,
        }
    }
}

/// Checks the structural rules every reader applies to a decoded point (OTLP metrics data
/// model): explicit bounds strictly increasing (no NaN); bucket counts `bounds + 1` long when
/// either is present; exponential scale within [-10, 20]. Returns `(field, reason)` of the
/// first violation; readers reject the point as `bad_metric_point`.
pub fn validate_point(data: &PointData) -> Result<(), (&'static str, String)> {
    match data {
        PointData::Histogram {
            bounds, buckets, ..
        } => {
            if let Some(w) = bounds
                .windows(2)
                .position(|w| w[0].partial_cmp(&w[1]) != Some(std::cmp::Ordering::Less))
            {
                return Err((
                    "explicitBounds",
                    format!(
                        "bounds are not strictly increasing ({} then {} at index {})",
                        bounds[w],
                        bounds[w + 1],
                        w + 1
                    ),
                ));
            }
            if bounds.iter().any(|b| b.is_nan()) {
                return Err(("explicitBounds", "a bound is NaN".to_string()));
            }
            if !(buckets.is_empty() && bounds.is_empty()) && buckets.len() != bounds.len() + 1 {
                return Err((
                    "bucketCounts",
                    format!(
                        "{} bucket counts for {} bounds (expected {})",
                        buckets.len(),
                        bounds.len(),
                        bounds.len() + 1
                    ),
                ));
            }
            Ok(())
        }
        PointData::ExpHistogram { scale, .. } if !(-10..=20).contains(scale) => {
            Err(("scale", format!("scale {scale} outside [-10, 20]")))
        }
        _ => Ok(()),
    }
}

/// Whether a histogram point reports observations but no buckets (kept, with a note).
pub fn count_without_buckets(data: &PointData) -> Option<u64> {
    match data {
        PointData::Histogram { count, buckets, .. } if *count > 0 && buckets.is_empty() => {
            Some(*count)
        }
        _ => None,
    }
}

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

fn exemplar_fields() -> Fields {
    let map = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new())
        .finish()
        .data_type()
        .clone();
    Fields::from(vec![
        Field::new("trace_id", DataType::FixedSizeBinary(16), true),
        Field::new("span_id", DataType::FixedSizeBinary(8), true),
        Field::new("time", ts_type(), false),
        Field::new("value", DataType::Float64, true),
        Field::new("filtered_attributes", map, false),
    ])
}

fn quantile_fields() -> Fields {
    Fields::from(vec![
        Field::new("quantile", DataType::Float64, false),
        Field::new("value", DataType::Float64, false),
    ])
}

fn append_map(b: &mut MapBuilder<StringBuilder, StringBuilder>, kv: &[(String, String)]) {
    for (k, v) in kv {
        b.keys().append_value(k);
        b.values().append_value(v);
    }
    b.append(true)
        .expect("map keys and values appended in pairs");
}

/// Columns every metric table starts with (identity, stream, time) and ends with (exemplars,
/// source).
struct CommonColumns {
    metric_name: StringDictionaryBuilder<Int32Type>,
    description: StringDictionaryBuilder<Int32Type>,
    unit: StringDictionaryBuilder<Int32Type>,
    kind: StringDictionaryBuilder<Int32Type>,
    temporality: StringDictionaryBuilder<Int32Type>,
    is_monotonic: BooleanBuilder,
    service_name: StringDictionaryBuilder<Int32Type>,
    service_version: StringDictionaryBuilder<Int32Type>,
    deployment_track: StringDictionaryBuilder<Int32Type>,
    deployment_environment: StringDictionaryBuilder<Int32Type>,
    scope_name: StringDictionaryBuilder<Int32Type>,
    resource_attributes: MapBuilder<StringBuilder, StringBuilder>,
    attributes: MapBuilder<StringBuilder, StringBuilder>,
    start_time: TimestampNanosecondBuilder,
    time: TimestampNanosecondBuilder,
    reset: BooleanBuilder,
    // Exemplars are flattened here and assembled into list<struct> in `finish_tail`.
    ex_offsets: Vec<i32>,
    ex_trace: FixedSizeBinaryBuilder,
    ex_span: FixedSizeBinaryBuilder,
    ex_time: Vec<i64>,
    ex_value: Float64Builder,
    ex_attrs: MapBuilder<StringBuilder, StringBuilder>,
    source_file: StringDictionaryBuilder<Int32Type>,
    source_line: Int64Builder,
}

impl CommonColumns {
    fn new() -> Self {
        let dict = StringDictionaryBuilder::<Int32Type>::new;
        let map = || MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
        Self {
            metric_name: dict(),
            description: dict(),
            unit: dict(),
            kind: dict(),
            temporality: dict(),
            is_monotonic: BooleanBuilder::new(),
            service_name: dict(),
            service_version: dict(),
            deployment_track: dict(),
            deployment_environment: dict(),
            scope_name: dict(),
            resource_attributes: map(),
            attributes: map(),
            start_time: TimestampNanosecondBuilder::new().with_timezone("UTC"),
            time: TimestampNanosecondBuilder::new().with_timezone("UTC"),
            reset: BooleanBuilder::new(),
            ex_offsets: vec![0],
            ex_trace: FixedSizeBinaryBuilder::new(16),
            ex_span: FixedSizeBinaryBuilder::new(8),
            ex_time: Vec::new(),
            ex_value: Float64Builder::new(),
            ex_attrs: map(),
            source_file: dict(),
            source_line: Int64Builder::new(),
        }
    }

    fn append_head(&mut self, p: &MetricPoint) {
        let r = &p.resource;
        self.metric_name.append_value(&*p.name);
        self.description.append_option(p.description.as_deref());
        self.unit.append_value(&*p.unit);
        self.kind.append_value(p.kind.name());
        self.temporality.append_value(p.temporality.name());
        self.is_monotonic.append_value(p.is_monotonic);
        self.service_name.append_value(&r.service_name);
        self.service_version
            .append_option(r.service_version.as_deref());
        self.deployment_track
            .append_option(r.deployment_track.as_deref());
        self.deployment_environment
            .append_option(r.deployment_environment.as_deref());
        self.scope_name.append_option(r.scope_name.as_deref());
        append_map(&mut self.resource_attributes, r.attributes());
        append_map(&mut self.attributes, &p.attributes);
        self.start_time.append_option(p.start_time);
        self.time.append_value(p.time);
        self.reset.append_value(p.reset);
    }

    fn head_columns(&mut self) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.metric_name.finish()),
            Arc::new(self.description.finish()),
            Arc::new(self.unit.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.temporality.finish()),
            Arc::new(self.is_monotonic.finish()),
            Arc::new(self.service_name.finish()),
            Arc::new(self.service_version.finish()),
            Arc::new(self.deployment_track.finish()),
            Arc::new(self.deployment_environment.finish()),
            Arc::new(self.scope_name.finish()),
            Arc::new(self.resource_attributes.finish()),
            Arc::new(self.attributes.finish()),
            Arc::new(self.start_time.finish()),
            Arc::new(self.time.finish()),
            Arc::new(self.reset.finish()),
        ]
    }

    fn append_tail(&mut self, p: &MetricPoint) {
        for e in &p.exemplars {
            match &e.trace_id {
                Some(t) => self.ex_trace.append_value(t).expect("16 bytes"),
                None => self.ex_trace.append_null(),
            }
            match &e.span_id {
                Some(s) => self.ex_span.append_value(s).expect("8 bytes"),
                None => self.ex_span.append_null(),
            }
            self.ex_time.push(e.time);
            self.ex_value.append_option(e.value);
            append_map(&mut self.ex_attrs, &e.filtered_attributes);
        }
        let last = *self.ex_offsets.last().expect("offsets start with 0");
        self.ex_offsets.push(last + p.exemplars.len() as i32);
        self.source_file.append_value(&*p.source_file);
        self.source_line.append_value(p.source_line);
    }

    fn tail_columns(&mut self) -> Result<Vec<ArrayRef>, ArrowError> {
        let times =
            TimestampNanosecondArray::from(std::mem::take(&mut self.ex_time)).with_timezone("UTC");
        let structs = StructArray::try_new(
            exemplar_fields(),
            vec![
                Arc::new(self.ex_trace.finish()),
                Arc::new(self.ex_span.finish()),
                Arc::new(times),
                Arc::new(self.ex_value.finish()),
                Arc::new(self.ex_attrs.finish()),
            ],
            None,
        )?;
        let offsets = std::mem::replace(&mut self.ex_offsets, vec![0]);
        let list = ListArray::try_new(
            Arc::new(Field::new(
                "item",
                DataType::Struct(exemplar_fields()),
                true,
            )),
            OffsetBuffer::new(offsets.into()),
            Arc::new(structs),
            None,
        )?;
        Ok(vec![
            Arc::new(list),
            Arc::new(self.source_file.finish()),
            Arc::new(self.source_line.finish()),
        ])
    }
}

/// Builds `metric_points` batches (sum, gauge, summary points).
pub struct MetricPointsBuilder {
    common: CommonColumns,
    value: Float64Builder,
    raw_value: Float64Builder,
    summary_count: UInt64Builder,
    summary_sum: Float64Builder,
    q_offsets: Vec<i32>,
    q_quantile: Vec<f64>,
    q_value: Vec<f64>,
    len: usize,
}

impl Default for MetricPointsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl MetricPointsBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self {
            common: CommonColumns::new(),
            value: Float64Builder::new(),
            raw_value: Float64Builder::new(),
            summary_count: UInt64Builder::new(),
            summary_sum: Float64Builder::new(),
            q_offsets: vec![0],
            q_quantile: Vec::new(),
            q_value: Vec::new(),
            len: 0,
        }
    }

    /// Rows appended since the last finish.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no rows are pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a sum, gauge or summary point (other kinds are a programming error and ignored).
    pub fn append(&mut self, p: &MetricPoint) {
        let (raw, delta, summary) = match (&p.data, &p.delta) {
            (PointData::Number(v), DeltaData::Number(d)) => (Some(*v), Some(*d), None),
            (PointData::Number(v), _) if p.kind == MetricKind::Gauge => (Some(*v), Some(*v), None),
            (PointData::Number(v), _) => (Some(*v), None, None),
            (
                PointData::Summary {
                    count,
                    sum,
                    quantiles,
                },
                _,
            ) => (None, None, Some((*count, *sum, quantiles))),
            _ => return,
        };
        self.common.append_head(p);
        self.value.append_option(delta);
        self.raw_value.append_option(raw);
        self.summary_count.append_option(summary.map(|s| s.0));
        self.summary_sum.append_option(summary.map(|s| s.1));
        for (q, v) in summary.map(|s| s.2.as_slice()).unwrap_or(&[]) {
            self.q_quantile.push(*q);
            self.q_value.push(*v);
        }
        self.q_offsets.push(self.q_quantile.len() as i32);
        self.common.append_tail(p);
        self.len += 1;
    }

    /// The pending rows as a batch in [`metric_points_schema`].
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut cols = self.common.head_columns();
        cols.push(Arc::new(self.value.finish()));
        cols.push(Arc::new(self.raw_value.finish()));
        cols.push(Arc::new(self.summary_count.finish()));
        cols.push(Arc::new(self.summary_sum.finish()));
        let structs = StructArray::try_new(
            quantile_fields(),
            vec![
                Arc::new(Float64Array::from(std::mem::take(&mut self.q_quantile))),
                Arc::new(Float64Array::from(std::mem::take(&mut self.q_value))),
            ],
            None,
        )?;
        let offsets = std::mem::replace(&mut self.q_offsets, vec![0]);
        cols.push(Arc::new(ListArray::try_new(
            Arc::new(Field::new(
                "item",
                DataType::Struct(quantile_fields()),
                true,
            )),
            OffsetBuffer::new(offsets.into()),
            Arc::new(structs),
            None,
        )?));
        cols.extend(self.common.tail_columns()?);
        self.len = 0;
        let schema = Arc::new(arrow::datatypes::Schema::new(cols_fields(
            METRIC_POINTS_TAIL,
            &cols,
            &[],
        )));
        RecordBatch::try_new(schema, cols)
    }
}

/// Builds `histogram_points` batches.
pub struct HistogramPointsBuilder {
    common: CommonColumns,
    count: UInt64Builder,
    sum: Float64Builder,
    min: Float64Builder,
    max: Float64Builder,
    bounds: ListBuilder<Float64Builder>,
    bucket_counts: ListBuilder<UInt64Builder>,
    len: usize,
}

impl Default for HistogramPointsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl HistogramPointsBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self {
            common: CommonColumns::new(),
            count: UInt64Builder::new(),
            sum: Float64Builder::new(),
            min: Float64Builder::new(),
            max: Float64Builder::new(),
            bounds: ListBuilder::new(Float64Builder::new()),
            bucket_counts: ListBuilder::new(UInt64Builder::new()),
            len: 0,
        }
    }

    /// Rows appended since the last finish.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no rows are pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a histogram point; `count`, `sum` and `bucket_counts` are its delta (NULL for
    /// the baseline point of a cumulative stream).
    pub fn append(&mut self, p: &MetricPoint) {
        let PointData::Histogram {
            min, max, bounds, ..
        } = &p.data
        else {
            return;
        };
        self.common.append_head(p);
        match &p.delta {
            DeltaData::Histogram {
                count,
                sum,
                buckets,
            } => {
                self.count.append_value(*count);
                self.sum.append_option(*sum);
                self.bucket_counts.values().append_slice(buckets);
                self.bucket_counts.append(true);
            }
            _ => {
                self.count.append_null();
                self.sum.append_null();
                self.bucket_counts.append(false);
            }
        }
        self.min.append_option(*min);
        self.max.append_option(*max);
        self.bounds.values().append_slice(bounds);
        self.bounds.append(true);
        self.common.append_tail(p);
        self.len += 1;
    }

    /// The pending rows as a batch in [`histogram_points_schema`].
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut cols = self.common.head_columns();
        cols.push(Arc::new(self.count.finish()));
        cols.push(Arc::new(self.sum.finish()));
        cols.push(Arc::new(self.min.finish()));
        cols.push(Arc::new(self.max.finish()));
        cols.push(Arc::new(self.bounds.finish()));
        cols.push(Arc::new(self.bucket_counts.finish()));
        cols.extend(self.common.tail_columns()?);
        self.len = 0;
        let schema = Arc::new(arrow::datatypes::Schema::new(cols_fields(
            HISTOGRAM_POINTS_TAIL,
            &cols,
            &["bounds"],
        )));
        RecordBatch::try_new(schema, cols)
    }
}

/// Builds `exp_histogram_points` batches.
pub struct ExpHistogramPointsBuilder {
    common: CommonColumns,
    count: UInt64Builder,
    sum: Float64Builder,
    min: Float64Builder,
    max: Float64Builder,
    scale: Int32Builder,
    zero_count: UInt64Builder,
    zero_threshold: Float64Builder,
    positive_offset: Int32Builder,
    positive_bucket_counts: ListBuilder<UInt64Builder>,
    negative_offset: Int32Builder,
    negative_bucket_counts: ListBuilder<UInt64Builder>,
    len: usize,
}

impl Default for ExpHistogramPointsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ExpHistogramPointsBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self {
            common: CommonColumns::new(),
            count: UInt64Builder::new(),
            sum: Float64Builder::new(),
            min: Float64Builder::new(),
            max: Float64Builder::new(),
            scale: Int32Builder::new(),
            zero_count: UInt64Builder::new(),
            zero_threshold: Float64Builder::new(),
            positive_offset: Int32Builder::new(),
            positive_bucket_counts: ListBuilder::new(UInt64Builder::new()),
            negative_offset: Int32Builder::new(),
            negative_bucket_counts: ListBuilder::new(UInt64Builder::new()),
            len: 0,
        }
    }

    /// Rows appended since the last finish.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no rows are pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends an exponential histogram point (delta columns NULL for a baseline point).
    pub fn append(&mut self, p: &MetricPoint) {
        let PointData::ExpHistogram {
            min,
            max,
            scale,
            zero_threshold,
            positive,
            negative,
            ..
        } = &p.data
        else {
            return;
        };
        self.common.append_head(p);
        match &p.delta {
            DeltaData::ExpHistogram {
                count,
                sum,
                zero_count,
                positive,
                negative,
            } => {
                self.count.append_value(*count);
                self.sum.append_option(*sum);
                self.zero_count.append_value(*zero_count);
                self.positive_bucket_counts.values().append_slice(positive);
                self.positive_bucket_counts.append(true);
                self.negative_bucket_counts.values().append_slice(negative);
                self.negative_bucket_counts.append(true);
            }
            _ => {
                self.count.append_null();
                self.sum.append_null();
                self.zero_count.append_null();
                self.positive_bucket_counts.append(false);
                self.negative_bucket_counts.append(false);
            }
        }
        self.min.append_option(*min);
        self.max.append_option(*max);
        self.scale.append_value(*scale);
        self.zero_threshold.append_value(*zero_threshold);
        self.positive_offset.append_value(positive.offset);
        self.negative_offset.append_value(negative.offset);
        self.common.append_tail(p);
        self.len += 1;
    }

    /// The pending rows as a batch in [`exp_histogram_points_schema`].
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut cols = self.common.head_columns();
        cols.push(Arc::new(self.count.finish()));
        cols.push(Arc::new(self.sum.finish()));
        cols.push(Arc::new(self.min.finish()));
        cols.push(Arc::new(self.max.finish()));
        cols.push(Arc::new(self.scale.finish()));
        cols.push(Arc::new(self.zero_count.finish()));
        cols.push(Arc::new(self.zero_threshold.finish()));
        cols.push(Arc::new(self.positive_offset.finish()));
        cols.push(Arc::new(self.positive_bucket_counts.finish()));
        cols.push(Arc::new(self.negative_offset.finish()));
        cols.push(Arc::new(self.negative_bucket_counts.finish()));
        cols.extend(self.common.tail_columns()?);
        self.len = 0;
        let schema = Arc::new(arrow::datatypes::Schema::new(cols_fields(
            EXP_HISTOGRAM_POINTS_TAIL,
            &cols,
            &[],
        )));
        RecordBatch::try_new(schema, cols)
    }
}

/// Column names common to the three tables, before the kind-specific ones.
const HEAD: [&str; 16] = [
    "metric_name",
    "description",
    "unit",
    "kind",
    "temporality",
    "is_monotonic",
    "service_name",
    "service_version",
    "deployment_track",
    "deployment_environment",
    "scope_name",
    "resource_attributes",
    "attributes",
    "start_time",
    "time",
    "reset",
];

/// Columns of `metric_points` after the shared [`HEAD`] columns, in order.
const METRIC_POINTS_TAIL: &[&str] = &[
    "value",
    "raw_value",
    "summary_count",
    "summary_sum",
    "quantile_values",
    "exemplars",
    "source_file",
    "source_line",
];

/// Columns of `histogram_points` after the shared [`HEAD`] columns, in order.
const HISTOGRAM_POINTS_TAIL: &[&str] = &[
    "count",
    "sum",
    "min",
    "max",
    "bounds",
    "bucket_counts",
    "exemplars",
    "source_file",
    "source_line",
];

/// Columns of `exp_histogram_points` after the shared [`HEAD`] columns, in order.
const EXP_HISTOGRAM_POINTS_TAIL: &[&str] = &[
    "count",
    "sum",
    "min",
    "max",
    "scale",
    "zero_count",
    "zero_threshold",
    "positive_offset",
    "positive_bucket_counts",
    "negative_offset",
    "negative_bucket_counts",
    "exemplars",
    "source_file",
    "source_line",
];

/// Fields named [`HEAD`] then `tail`, typed from the arrays. Nullability is a fixed property
/// of the column, not of the batch: everything is nullable except the listed always-present
/// columns.
fn cols_fields(tail: &[&str], cols: &[ArrayRef], not_null_extra: &[&str]) -> Vec<Field> {
    let names: Vec<&str> = HEAD.iter().chain(tail).copied().collect();
    const NOT_NULL: &[&str] = &[
        "metric_name",
        "unit",
        "kind",
        "temporality",
        "is_monotonic",
        "service_name",
        "resource_attributes",
        "attributes",
        "time",
        "reset",
        "exemplars",
        "source_file",
        "source_line",
    ];
    debug_assert_eq!(names.len(), cols.len());
    names
        .iter()
        .zip(cols)
        .map(|(n, c)| {
            let nullable = !(NOT_NULL.contains(n) || not_null_extra.contains(n));
            Field::new(*n, c.data_type().clone(), nullable)
        })
        .collect()
}

/// Schema of `metric_points` (derived from [`MetricPointsBuilder`]).
pub fn metric_points_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        MetricPointsBuilder::new()
            .finish()
            .expect("empty batch")
            .schema()
    })
    .clone()
}

/// Schema of `histogram_points` (derived from [`HistogramPointsBuilder`]).
pub fn histogram_points_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        HistogramPointsBuilder::new()
            .finish()
            .expect("empty batch")
            .schema()
    })
    .clone()
}

/// Schema of `exp_histogram_points` (derived from [`ExpHistogramPointsBuilder`]).
pub fn exp_histogram_points_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        ExpHistogramPointsBuilder::new()
            .finish()
            .expect("empty batch")
            .schema()
    })
    .clone()
}

/// The three metric tables of one ingest, each as one batch (metric volumes are small).
#[derive(Debug, Clone)]
pub struct MetricTables {
    /// `metric_points` rows.
    pub metric_points: RecordBatch,
    /// `histogram_points` rows.
    pub histogram_points: RecordBatch,
    /// `exp_histogram_points` rows.
    pub exp_histogram_points: RecordBatch,
}

impl MetricTables {
    /// Lays out `points` (already delta-converted) into the three tables, in input order.
    pub fn build(points: &[MetricPoint]) -> Result<Self, ArrowError> {
        let mut m = MetricPointsBuilder::new();
        let mut h = HistogramPointsBuilder::new();
        let mut e = ExpHistogramPointsBuilder::new();
        for p in points {
            match p.kind {
                MetricKind::Histogram => h.append(p),
                MetricKind::ExponentialHistogram => e.append(p),
                _ => m.append(p),
            }
        }
        Ok(Self {
            metric_points: m.finish()?,
            histogram_points: h.finish()?,
            exp_histogram_points: e.finish()?,
        })
    }

    /// `(table name, batch)` for each table.
    pub fn tables(&self) -> [(&'static str, &RecordBatch); 3] {
        [
            (METRIC_POINTS_TABLE, &self.metric_points),
            (HISTOGRAM_POINTS_TABLE, &self.histogram_points),
            (EXP_HISTOGRAM_POINTS_TABLE, &self.exp_histogram_points),
        ]
    }

    /// Total rows over the three tables.
    pub fn total_rows(&self) -> usize {
        self.tables().iter().map(|(_, b)| b.num_rows()).sum()
    }
}

/// `(table name, schema)` of every metric table.
pub fn metric_schemas() -> [(&'static str, SchemaRef); 3] {
    [
        (METRIC_POINTS_TABLE, metric_points_schema()),
        (HISTOGRAM_POINTS_TABLE, histogram_points_schema()),
        (EXP_HISTOGRAM_POINTS_TABLE, exp_histogram_points_schema()),
    ]
}
