//! The canonical `spans` table (design §2): one row per span, identity columns resolved.
//!
//! Column order and types are defined once, by [`SpansBuilder`]; [`spans_schema`] is derived
//! from it so the two cannot disagree. `docs/schema.md` documents each column.

use super::dict_column::DictColumn;
use super::identity::{self, IdentityConfig};
use arrow::array::{
    Array, ArrayRef, BooleanBuilder, FixedSizeBinaryBuilder, Float64Builder, Int32Builder,
    Int64Builder, MapBuilder, StringArray, StringBuilder, TimestampNanosecondBuilder,
};
use arrow::datatypes::{Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

/// Version of the DATASET's spans layout, written to `dataset.json`. Bump on any change.
/// Version 2 stores `resource_attributes` once per resource in `resources.parquet` and a
/// `resource_id` in its place in `spans.parquet` ([`super::resources`]); the in-memory table
/// ([`spans_schema`]) is the same as in version 1.
pub const SPANS_SCHEMA_VERSION: u32 = 2;

/// Resource-level fields shared by every span of one `ResourceSpans` (and its scope).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceInfo {
    /// `service.name`; `unknown_service` when absent, as the OTel SDK spec defines.
    pub service_name: String,
    /// Version per [`IdentityConfig::version_keys`].
    pub service_version: Option<String>,
    /// Track per [`IdentityConfig::track_resource_keys`].
    pub deployment_track: Option<String>,
    /// Environment per [`IdentityConfig::environment_keys`].
    pub deployment_environment: Option<String>,
    /// Instrumentation scope name.
    pub scope_name: Option<String>,
    /// All resource attributes, values rendered as strings (see [`SpanRecord`] docs);
    /// private so that they cannot drift from `prepared` ([`ResourceInfo::attributes`]).
    attributes: Vec<(String, String)>,
    /// Sampling rate of the resource: the first of [`IdentityConfig::sample_rate_keys`] in
    /// `attributes`, parsed as a number (`None` when absent or not a number). Resolved once
    /// per resource; a span's own rate attribute takes precedence ([`SpansBuilder::append`]).
    pub sample_rate: Option<f64>,
    /// Stable hash of everything above, computed once so duplicate detection does not rehash
    /// the resource for every span.
    pub fingerprint: u64,
    /// [`resource_id_of`] the attributes (0 for none), computed once: the
    /// DATASET's `resource_id`. Private, like `attributes`, so that they cannot drift apart.
    resource_id: i64,
    /// `attributes` as Arrow strings, built once per resource so that each span's
    /// `resource_attributes` entry is two bulk copies instead of one append per key and
    /// value. Derived by [`ResourceInfo::from_attributes`] (or both empty, by `Default`);
    /// both fields are private, so they cannot drift apart.
    prepared: PreparedAttributes,
    /// Which [`ResourceInfo::from_attributes`] call made this value (clones share it), so the
    /// builder can tell consecutive spans of one resource apart from spans of another
    /// without comparing strings (see [`SpansBuilder`]'s resource runs).
    serial: Serial,
}

/// A process-unique number per [`ResourceInfo::from_attributes`] call; 0 for `Default`
/// values (never taken as the same resource). Not part of a resource's value: any two
/// compare equal, so `ResourceInfo`'s equality stays its content's.
#[derive(Clone, Copy, Default)]
struct Serial(u64);

impl PartialEq for Serial {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Prints no number, for the same reason (debug output of equal resources is equal).
impl std::fmt::Debug for Serial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Serial")
    }
}

impl Serial {
    fn next() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Serial(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }
}

/// Keys and values of a resource's attributes, in order, as the two string columns of a
/// `resource_attributes` map entry.
#[derive(Debug, Clone, PartialEq)]
struct PreparedAttributes {
    keys: StringArray,
    values: StringArray,
}

impl Default for PreparedAttributes {
    fn default() -> Self {
        Self {
            keys: StringArray::from(Vec::<&str>::new()),
            values: StringArray::from(Vec::<&str>::new()),
        }
    }
}

impl PreparedAttributes {
    fn new(attributes: &[(String, String)]) -> Self {
        Self {
            keys: attributes.iter().map(|(k, _)| Some(k.as_str())).collect(),
            values: attributes.iter().map(|(_, v)| Some(v.as_str())).collect(),
        }
    }

    /// Whether these are the entries of `attributes` (checked in debug builds only).
    fn matches(&self, attributes: &[(String, String)]) -> bool {
        self.keys.len() == attributes.len()
            && attributes
                .iter()
                .enumerate()
                .all(|(i, (k, v))| self.keys.value(i) == k && self.values.value(i) == v)
    }
}

impl ResourceInfo {
    /// All resource attributes, values rendered as strings, in input order.
    pub fn attributes(&self) -> &[(String, String)] {
        &self.attributes
    }

    /// The resource's id in a DATASET ([`resource_id_of`] its attributes).
    pub fn resource_id(&self) -> i64 {
        self.resource_id
    }

    /// Resolves identity fields from the resource attributes.
    pub fn from_attributes(
        attributes: Vec<(String, String)>,
        scope_name: Option<String>,
        cfg: &IdentityConfig,
    ) -> Self {
        let get = |keys: &[String]| identity::first_of(&attributes, keys).map(str::to_string);
        let mut info = Self {
            service_name: identity::attr(&attributes, "service.name")
                .filter(|s| !s.is_empty())
                .unwrap_or("unknown_service")
                .to_string(),
            service_version: get(&cfg.version_keys),
            deployment_track: get(&cfg.track_resource_keys),
            deployment_environment: get(&cfg.environment_keys),
            scope_name,
            sample_rate: identity::first_of(&attributes, &cfg.sample_rate_keys)
                .and_then(|v| v.parse::<f64>().ok()),
            prepared: PreparedAttributes::new(&attributes),
            resource_id: resource_id_of(attributes.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            attributes,
            fingerprint: 0,
            serial: Serial::next(),
        };
        let mut h = content_hasher();
        (
            &info.service_name,
            &info.service_version,
            &info.deployment_track,
        )
            .hash(&mut h);
        (
            &info.deployment_environment,
            &info.scope_name,
            &info.attributes,
        )
            .hash(&mut h);
        info.fingerprint = h.finish();
        info
    }
}

/// The hasher of span and resource content fingerprints: foldhash's quality variant with a
/// fixed seed, so a value is the same in every thread of one run (duplicate detection compares
/// fingerprints only within one process; nothing stores them). Not `std`'s SipHash (3.6% of a
/// one-thread ingest of Collector lines, docs/benchmarks.md) nor aHash, whose portable
/// fallback (no AES instructions in a generic x86-64 build) cost 4–5% of a one-thread
/// `analyze` of SDK lines in hashing every attribute of every span. Its values may differ
/// between foldhash versions, which a per-run fingerprint does not mind.
fn content_hasher() -> foldhash::quality::FoldHasher<'static> {
    use std::hash::BuildHasher;
    fingerprint_hash_state().build_hasher()
}

/// The fixed-seed state behind [`content_hasher`], shared by ingest's duplicate set
/// (`ingest::seen_spans`), whose id hashes must also be the same from run to run.
pub(crate) fn fingerprint_hash_state() -> foldhash::quality::FixedState {
    foldhash::quality::FixedState::with_seed(0x243f_6a88_85a3_08d3)
}

/// The id of a resource with these attributes (in order), the DATASET's `resource_id`
/// (`model::resources`): foldhash with a fixed seed over the count, then each key and value
/// followed by a separator byte, as an `i64`. An empty list is id 0. Equal lists give equal
/// ids in every thread and run of one canalyst version; values may change between versions
/// (foldhash's), which is why a DATASET stores its own table.
pub fn resource_id_of<'a>(attributes: impl ExactSizeIterator<Item = (&'a str, &'a str)>) -> i64 {
    use std::hash::BuildHasher;
    if attributes.len() == 0 {
        return 0;
    }
    let mut h = fingerprint_hash_state().build_hasher();
    h.write_usize(attributes.len());
    for (k, v) in attributes {
        h.write(k.as_bytes());
        h.write_u8(0xff);
        h.write(v.as_bytes());
        h.write_u8(0xff);
    }
    h.finish() as i64
}

/// Name of the column that stands for `resource_attributes` in a DATASET's `spans.parquet`
/// and keys its `resources.parquet` (`model::resources`).
pub const RESOURCE_ID: &str = "resource_id";
/// Name of the canonical map column of resource attributes.
pub const RESOURCE_ATTRIBUTES: &str = "resource_attributes";

/// The `resource_id` field (Int64, not null).
pub(crate) fn resource_id_field() -> arrow::datatypes::Field {
    arrow::datatypes::Field::new(RESOURCE_ID, arrow::datatypes::DataType::Int64, false)
}

/// The schema of batches built with resource ids ([`SpansBuilder::resource_ids`]): the
/// canonical columns, `resource_attributes` nullable (set only on the first row of each
/// resource in the batch), then `resource_id` (Int64).
pub fn carrier_spans_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let mut fields: Vec<arrow::datatypes::Field> = spans_schema()
                .fields()
                .iter()
                .map(|f| {
                    let f = f.as_ref().clone();
                    if f.name() == RESOURCE_ATTRIBUTES {
                        f.with_nullable(true)
                    } else {
                        f
                    }
                })
                .collect();
            fields.push(resource_id_field());
            Arc::new(Schema::new(fields))
        })
        .clone()
}

/// Identity and content of one span, for exact-duplicate detection across overlapping exports.
///
/// `key` is the trace id and span id; `content` hashes every field but the source location and
/// the tracestate (foldhash with a fixed seed, `content_hasher`: the same in every thread of
/// a run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanFingerprint {
    /// Trace id (16 bytes) followed by span id (8 bytes).
    pub key: [u8; 24],
    /// Hash of resource and span content.
    pub content: u64,
    /// Hash of `key` (`fingerprint_hash_state`), by which duplicates are looked up: taken
    /// here, on the decoding threads, so the one thread that removes duplicates only probes.
    pub ids: u64,
}

impl SpanFingerprint {
    /// The fingerprint of a span with these ids and this content hash.
    pub fn new(key: [u8; 24], content: u64) -> Self {
        use std::hash::BuildHasher as _;
        Self {
            key,
            content,
            ids: fingerprint_hash_state().hash_one(key),
        }
    }
}

impl<S: AsRef<str> + Hash> SpanRecordOf<S> {
    /// Fingerprint of this span within `res`.
    pub fn fingerprint(&self, res: &ResourceInfo) -> SpanFingerprint {
        let mut key = [0u8; 24];
        key[..16].copy_from_slice(&self.trace_id);
        key[16..].copy_from_slice(&self.span_id);
        let mut h = content_hasher();
        res.fingerprint.hash(&mut h);
        (
            self.parent_span_id,
            &self.name,
            self.kind,
            self.start_time_unix_nano,
        )
            .hash(&mut h);
        (
            self.end_time_unix_nano,
            self.status_code,
            &self.status_message,
        )
            .hash(&mut h);
        // trace_state is left out: the canonical table does not keep it (only the weight it
        // implies), and a canonical re-read of an export must still match the export.
        self.attributes.hash(&mut h);
        (&self.exception_type, &self.exception_message).hash(&mut h);
        SpanFingerprint::new(key, h.finish())
    }
}

/// A [`SpanRecordOf`] whose strings are `String`s: it outlives its input (the decoders reuse
/// one record and overwrite it). [`SpanRef`] is the same record borrowing its input's strings.
pub type SpanRecord = SpanRecordOf<String>;

/// A [`SpanRecord`] whose strings are `&str`s into the input it was scanned from: the OTLP/JSON
/// fast path hands the builder the input's own bytes instead of copying them into a record and
/// then again into the columns. It builds the same row and the same fingerprint as the owned
/// record of the same span (a `&str` hashes as the `String` holding the same text).
pub type SpanRef<'a> = SpanRecordOf<&'a str>;

/// One span as decoded from any input format, before identity resolution, generic over what
/// holds its strings (`String`: [`SpanRecord`]; `&str`: [`SpanRef`]).
///
/// Attribute values are rendered as strings: strings as they are, booleans `true`/`false`,
/// integers in decimal, doubles by Rust's shortest round-trip form (`NaN`, `inf`, `-inf`),
/// bytes as lower-case hex, arrays and kvlists as compact JSON.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanRecordOf<S> {
    /// 16-byte trace id.
    pub trace_id: [u8; 16],
    /// 8-byte span id.
    pub span_id: [u8; 8],
    /// Parent span id; `None` for a root span.
    pub parent_span_id: Option<[u8; 8]>,
    /// Span name.
    pub name: S,
    /// OTLP span kind number (see [`identity::kind`]).
    pub kind: i32,
    /// Start, nanoseconds since the Unix epoch.
    pub start_time_unix_nano: i64,
    /// End, nanoseconds since the Unix epoch (≥ start; checked by ingest).
    pub end_time_unix_nano: i64,
    /// OTLP status code number (see [`identity::status`]).
    pub status_code: i32,
    /// Status message, if any.
    pub status_message: Option<S>,
    /// W3C tracestate, used for the sampling weight.
    pub trace_state: Option<S>,
    /// Span attributes.
    pub attributes: Vec<(S, S)>,
    /// `exception.type` of the first `exception` event.
    pub exception_type: Option<S>,
    /// `exception.message` of the first `exception` event.
    pub exception_message: Option<S>,
    /// 1-based line (JSON lines, protobuf frame) or 0-based row (Parquet) in the source file.
    pub source_line: i64,
}

fn parse_i32(s: Option<&str>) -> Option<i32> {
    s.and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .map(|v| v as i32)
}

/// Which canonical columns a reader keeps, as a set of [`SPAN_COLUMNS`] positions; with it a
/// [`SpansBuilder`] skips the per-span work of the columns outside the set (see
/// [`SpansBuilder::kept_columns`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeptColumns(u32);

impl KeptColumns {
    /// The columns of `names`; `None` when a name is not a canonical column.
    pub fn of(names: &[&str]) -> Option<Self> {
        let mut bits = 0u32;
        for n in names {
            bits |= 1 << SPAN_COLUMNS.iter().position(|c| c == n)?;
        }
        Some(Self(bits))
    }

    /// Whether the column at `position` of [`SPAN_COLUMNS`] is kept.
    pub fn contains(self, position: usize) -> bool {
        self.0 & (1 << position) != 0
    }
}

/// Positions in [`SPAN_COLUMNS`] of the columns [`SpansBuilder::kept_columns`] can skip: the
/// ones filled per span from fields no identity rule needs downstream of the builder.
mod col {
    pub const STATUS_CODE: usize = 12;
    pub const STATUS_MESSAGE: usize = 13;
    pub const HTTP_ROUTE: usize = 14;
    pub const HTTP_METHOD: usize = 15;
    pub const HTTP_STATUS_CODE: usize = 16;
    pub const EXCEPTION_TYPE: usize = 19;
    pub const EXCEPTION_MESSAGE: usize = 20;
    /// All of the above: the columns `finish` writes empty when they are not kept.
    pub const SKIPPABLE: [usize; 7] = [
        STATUS_CODE,
        STATUS_MESSAGE,
        HTTP_ROUTE,
        HTTP_METHOD,
        HTTP_STATUS_CODE,
        EXCEPTION_TYPE,
        EXCEPTION_MESSAGE,
    ];
}

/// Column builders of the canonical spans table. One builder per file chunk; `finish` yields a
/// batch in the canonical schema.
pub struct SpansBuilder {
    cfg: Arc<IdentityConfig>,
    file: Arc<str>,
    trace_id: FixedSizeBinaryBuilder,
    span_id: FixedSizeBinaryBuilder,
    parent_span_id: FixedSizeBinaryBuilder,
    service_name: DictColumn,
    service_version: DictColumn,
    deployment_track: DictColumn,
    deployment_environment: DictColumn,
    scope_name: DictColumn,
    span_name: DictColumn,
    span_kind: Int32Builder,
    start_time: TimestampNanosecondBuilder,
    duration_ns: Int64Builder,
    status_code: Int32Builder,
    status_message: StringBuilder,
    http_route: DictColumn,
    http_method: DictColumn,
    http_status_code: Int32Builder,
    route: DictColumn,
    is_error: BooleanBuilder,
    exception_type: DictColumn,
    exception_message: StringBuilder,
    sample_weight: Float64Builder,
    resource_attributes: MapBuilder<StringBuilder, StringBuilder>,
    span_attributes: MapBuilder<StringBuilder, StringBuilder>,
    source_file: DictColumn,
    source_line: Int64Builder,
    fingerprints: Vec<SpanFingerprint>,
    len: usize,
    /// Whether the two attribute maps are filled (see [`SpansBuilder::attribute_maps`]).
    attribute_maps: bool,
    /// Only these span attribute keys kept, no resource attributes (see
    /// [`SpansBuilder::span_attribute_keys`]).
    span_keys: Option<Arc<[String]>>,
    /// With `span_keys`: SERVER, CONSUMER and root spans keep both maps whole (see
    /// [`SpansBuilder::entry_attribute_maps`]).
    entry_maps: bool,
    /// Rows whose resource columns are not yet appended (see [`ResourceRun`]).
    run: ResourceRun,
    /// Columns filled row by row; the others are written as nulls or zeros by `finish` (see
    /// [`SpansBuilder::kept_columns`]). `None`: all.
    kept: Option<KeptColumns>,
    /// With resource ids ([`SpansBuilder::resource_ids`]): the `resource_id` column and the
    /// ids whose map this batch already carries.
    ids: Option<ResourceIds>,
}

/// The state of [`SpansBuilder::resource_ids`].
#[derive(Default)]
struct ResourceIds {
    column: Int64Builder,
    /// Ids whose attributes a row of this batch carries, with the [`Serial`] and attributes
    /// of the resource that carried them: another resource with the same id (a hash
    /// collision) carries its own map too, and the writer, comparing, fails on it.
    carried: std::collections::HashMap<i64, (u64, PreparedAttributes)>,
    /// Id and serial of the previous row: the spans of one resource arrive together.
    last: Option<(i64, u64)>,
}

impl ResourceIds {
    /// Appends `res`'s id; whether this row carries the resource's map.
    fn carry(&mut self, res: &ResourceInfo) -> bool {
        let key = (res.resource_id, res.serial.0);
        self.column.append_value(res.resource_id);
        if self.last == Some(key) {
            return false;
        }
        self.last = Some(key);
        match self.carried.entry(res.resource_id) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert((res.serial.0, res.prepared.clone()));
                true
            }
            std::collections::hash_map::Entry::Occupied(e) => {
                let (serial, prepared) = e.get();
                *serial != res.serial.0 && *prepared != res.prepared
            }
        }
    }
}

/// Consecutive rows of one resource (the spans of a `resourceSpans` entry arrive together)
/// whose five resource-level dictionary columns (`service_name`, `service_version`,
/// `deployment_environment`, `scope_name`, `source_file`) are appended as one run with
/// `append_values`: one dictionary lookup per run instead of one per span (hashing and
/// comparing the same strings for every span was 4% of a one-thread `analyze`). The columns
/// and their dictionaries are the same as appending span by span; every method that ends a
/// batch or changes a run's values flushes the run first.
#[derive(Default)]
struct ResourceRun {
    /// [`Serial`] of the run's resource; 0: no run.
    serial: u64,
    rows: usize,
    service_name: String,
    service_version: Option<String>,
    deployment_environment: Option<String>,
    scope_name: Option<String>,
}

const HTTP_ROUTE_KEYS: &[&str] = &["http.route"];
const HTTP_METHOD_KEYS: &[&str] = &["http.request.method", "http.method"];
const HTTP_STATUS_KEYS: &[&str] = &["http.response.status_code", "http.status_code"];

fn first_static<'a, S: AsRef<str>>(attrs: &'a [(S, S)], keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| identity::attr(attrs, k))
}

impl SpansBuilder {
    /// A builder for spans read from `source_file`.
    pub fn new(cfg: Arc<IdentityConfig>, source_file: &str) -> Self {
        Self::with_capacity(cfg, source_file, SpansCapacity::default())
    }

    /// A builder like [`SpansBuilder::new`] whose columns have room for `cap` before they
    /// grow. A builder that starts empty doubles each buffer a dozen times while it fills a
    /// batch, copying it each time and faulting in fresh pages (about 4% of a one-thread
    /// `ingest`); started at the size of the previous batch, it allocates once.
    pub fn with_capacity(cfg: Arc<IdentityConfig>, source_file: &str, cap: SpansCapacity) -> Self {
        let rows = cap.rows;
        let dict = || DictColumn::with_capacity(rows);
        let strings = |bytes| StringBuilder::with_capacity(rows, bytes);
        let map = |m: MapCapacity| {
            MapBuilder::with_capacity(
                None,
                StringBuilder::with_capacity(m.entries, m.key_bytes),
                StringBuilder::with_capacity(m.entries, m.value_bytes),
                rows,
            )
        };
        Self {
            cfg,
            file: Arc::from(source_file),
            trace_id: FixedSizeBinaryBuilder::with_capacity(rows, 16),
            span_id: FixedSizeBinaryBuilder::with_capacity(rows, 8),
            parent_span_id: FixedSizeBinaryBuilder::with_capacity(rows, 8),
            service_name: dict(),
            service_version: dict(),
            deployment_track: dict(),
            deployment_environment: dict(),
            scope_name: dict(),
            span_name: dict(),
            span_kind: Int32Builder::with_capacity(rows),
            start_time: TimestampNanosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            duration_ns: Int64Builder::with_capacity(rows),
            status_code: Int32Builder::with_capacity(rows),
            status_message: strings(cap.status_message_bytes),
            http_route: dict(),
            http_method: dict(),
            http_status_code: Int32Builder::with_capacity(rows),
            route: dict(),
            is_error: BooleanBuilder::with_capacity(rows),
            exception_type: dict(),
            exception_message: strings(cap.exception_message_bytes),
            sample_weight: Float64Builder::with_capacity(rows),
            resource_attributes: map(cap.resource_attributes),
            span_attributes: map(cap.span_attributes),
            source_file: dict(),
            source_line: Int64Builder::with_capacity(rows),
            fingerprints: Vec::with_capacity(rows),
            len: 0,
            attribute_maps: true,
            span_keys: None,
            entry_maps: false,
            run: ResourceRun::default(),
            kept: None,
            ids: None,
        }
    }

    /// Appends the pending run's resource columns (see [`ResourceRun`]).
    fn flush_run(&mut self) {
        let r = &mut self.run;
        if r.rows > 0 {
            let n = r.rows;
            self.service_name.append_values(&r.service_name, n);
            self.service_version
                .append_options(r.service_version.as_deref(), n);
            self.deployment_environment
                .append_options(r.deployment_environment.as_deref(), n);
            self.scope_name.append_options(r.scope_name.as_deref(), n);
            self.source_file.append_values(&self.file, n);
            r.rows = 0;
        }
        r.serial = 0;
    }

    /// Counts a row of `res` into the run, starting a new run when `res` is another resource.
    fn run_row(&mut self, res: &ResourceInfo) {
        if res.serial.0 == 0 || res.serial.0 != self.run.serial {
            self.flush_run();
            let r = &mut self.run;
            r.serial = res.serial.0;
            set_string(&mut r.service_name, &res.service_name);
            set_opt(&mut r.service_version, res.service_version.as_deref());
            set_opt(
                &mut r.deployment_environment,
                res.deployment_environment.as_deref(),
            );
            set_opt(&mut r.scope_name, res.scope_name.as_deref());
        }
        self.run.rows += 1;
    }

    /// With `false`, `resource_attributes` and `span_attributes` are written as empty maps.
    /// For readers whose batches are projected to columns without the maps at once (`analyze`
    /// on raw files): copying every span's resource attributes into a map is most of the
    /// building cost on Collector batch lines, and the projection would free it unread.
    /// Identity, routes, errors, weights and fingerprints still use all attributes.
    pub fn attribute_maps(mut self, keep: bool) -> Self {
        self.attribute_maps = keep;
        self
    }

    /// With `Some(keys)` (and the maps kept), `span_attributes` holds only the entries of
    /// these keys and `resource_attributes` is empty: for readers that look up a few known span
    /// attributes and nothing else (`report`'s forensics reads only the originating-track
    /// keys), so a span's other attributes are never copied. Identity, routes, errors, weights
    /// and fingerprints still use all attributes.
    pub fn span_attribute_keys(mut self, keys: Option<Arc<[String]>>) -> Self {
        self.span_keys = keys;
        self
    }

    /// With `true` (and [`SpansBuilder::span_attribute_keys`]), SERVER, CONSUMER and root
    /// spans keep both maps whole and only the other spans are cut to the keys: for
    /// `forensics`, whose attribute diff reads the attributes of requests (entry spans, almost
    /// always of these kinds) and whose downstream attribution reads a few keys of every span.
    pub fn entry_attribute_maps(mut self, keep: bool) -> Self {
        self.entry_maps = keep;
        self
    }

    /// With `Some(columns)`, the skippable columns outside `columns` — `status_code`,
    /// `status_message`, `http_route`, `http_method`, `http_status_code`, `exception_type`,
    /// `exception_message` — are not filled span by span: `finish` writes them as nulls
    /// (`status_code`, not nullable, as zeros). For readers that project batches to `columns`
    /// at once (`analyze` on raw files, like [`SpansBuilder::attribute_maps`]): their
    /// dictionary lookups and appends were about 4% of a one-thread `analyze`, for columns the
    /// projection freed unread. Routes, errors, weights and fingerprints still use every field.
    pub fn kept_columns(mut self, kept: Option<KeptColumns>) -> Self {
        self.kept = kept;
        self
    }

    /// With `true`, batches are built for the DATASET writer ([`super::resources`]): a
    /// `resource_id` column follows the canonical ones, and `resource_attributes` is set only
    /// on the first row of each resource in the batch (null on the others), so a resource's
    /// attributes are copied once per batch instead of once per span (schema
    /// [`carrier_spans_schema`]). Meant with every attribute kept (the
    /// default [`SpansBuilder::attribute_maps`], no [`SpansBuilder::span_attribute_keys`]).
    pub fn resource_ids(mut self, on: bool) -> Self {
        self.ids = on.then(ResourceIds::default);
        self
    }

    fn keeps(&self, position: usize) -> bool {
        self.kept.is_none_or(|k| k.contains(position))
    }

    /// Rows appended so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no rows were appended.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends one span of `res`, resolving identity columns (track, route, error, weight) by
    /// the rules of [`identity`]. The span's own track attribute is used only when the resource
    /// has none (baggage propagation).
    pub fn append<S: AsRef<str> + Hash>(&mut self, res: &ResourceInfo, span: &SpanRecordOf<S>) {
        self.append_inner(res, span, None);
    }

    /// Appends like [`SpansBuilder::append`] but writes `sample_weight` as given instead of
    /// deriving it. For re-reading canalyst's own canonical files: the trace state that fed
    /// the weight is not a canonical column, so the stored weight is the only faithful one.
    pub fn append_with_weight<S: AsRef<str> + Hash>(
        &mut self,
        res: &ResourceInfo,
        span: &SpanRecordOf<S>,
        sample_weight: f64,
    ) {
        self.append_inner(res, span, Some(sample_weight));
    }

    /// Sets the `source_file` written for rows appended from now on (a canonical file keeps
    /// each row's original provenance instead of naming itself).
    pub fn set_source_file(&mut self, source_file: &str) {
        if *self.file != *source_file {
            self.flush_run();
            self.file = Arc::from(source_file);
        }
    }

    fn append_inner<S: AsRef<str> + Hash>(
        &mut self,
        res: &ResourceInfo,
        span: &SpanRecordOf<S>,
        weight: Option<f64>,
    ) {
        let a = &span.attributes;
        self.trace_id.append_value(span.trace_id).expect("16 bytes");
        self.span_id.append_value(span.span_id).expect("8 bytes");
        match &span.parent_span_id {
            Some(p) => self.parent_span_id.append_value(p).expect("8 bytes"),
            None => self.parent_span_id.append_null(),
        }
        self.run_row(res);
        let track = res
            .deployment_track
            .as_deref()
            .or_else(|| identity::first_of(a, &self.cfg.track_span_keys));
        self.deployment_track.append_option(track);
        self.span_name.append_value(span.name.as_ref());
        self.span_kind.append_value(span.kind);
        self.start_time.append_value(span.start_time_unix_nano);
        self.duration_ns.append_value(
            span.end_time_unix_nano
                .saturating_sub(span.start_time_unix_nano),
        );
        if self.keeps(col::STATUS_CODE) {
            self.status_code.append_value(span.status_code);
        }
        if self.keeps(col::STATUS_MESSAGE) {
            self.status_message
                .append_option(opt_str(&span.status_message).filter(|m| !m.is_empty()));
        }
        let http_route = first_static(a, HTTP_ROUTE_KEYS);
        if self.keeps(col::HTTP_ROUTE) {
            self.http_route.append_option(http_route);
        }
        if self.keeps(col::HTTP_METHOD) {
            self.http_method
                .append_option(first_static(a, HTTP_METHOD_KEYS));
        }
        let http_status = parse_i32(first_static(a, HTTP_STATUS_KEYS));
        if self.keeps(col::HTTP_STATUS_CODE) {
            self.http_status_code.append_option(http_status);
        }
        self.route
            .append_option(identity::route(span.kind, span.name.as_ref(), http_route).as_deref());
        self.is_error
            .append_value(identity::is_error(span.status_code, span.kind, http_status));
        if self.keeps(col::EXCEPTION_TYPE) {
            self.exception_type
                .append_option(opt_str(&span.exception_type));
        }
        if self.keeps(col::EXCEPTION_MESSAGE) {
            self.exception_message
                .append_option(opt_str(&span.exception_message));
        }
        // The span's own rate attribute, else the resource's (resolved once per resource).
        let rate = match identity::first_of(a, &self.cfg.sample_rate_keys) {
            Some(v) => v.parse::<f64>().ok(),
            None => res.sample_rate,
        };
        let th = opt_str(&span.trace_state).and_then(identity::tracestate_weight);
        self.sample_weight
            .append_value(weight.unwrap_or_else(|| identity::sample_weight(rate, th)));
        let whole = self.entry_maps
            && (span.kind == identity::kind::SERVER
                || span.kind == identity::kind::CONSUMER
                || span.parent_span_id.is_none());
        let cut = match (self.attribute_maps, whole, &self.span_keys) {
            (true, false, Some(keys)) => Some(keys),
            _ => None,
        };
        if let Some(ids) = &mut self.ids {
            // The DATASET writer's layout: the resource map on the first row of each resource
            // in the batch, whatever the span map holds.
            let carry = ids.carry(res);
            let b = &mut self.resource_attributes;
            if carry {
                b.keys()
                    .append_array(&res.prepared.keys)
                    .expect("offsets fit i32");
                b.values()
                    .append_array(&res.prepared.values)
                    .expect("offsets fit i32");
            }
            b.append(carry)
                .expect("map keys and values appended in pairs");
        } else if cut.is_some() || !self.attribute_maps {
            append_map::<&str>(&mut self.resource_attributes, &[]);
        } else {
            let p = &res.prepared;
            debug_assert!(p.matches(&res.attributes), "prepared resource attributes");
            let b = &mut self.resource_attributes;
            b.keys().append_array(&p.keys).expect("offsets fit i32");
            b.values().append_array(&p.values).expect("offsets fit i32");
            b.append(true)
                .expect("map keys and values appended in pairs");
        }
        match cut {
            Some(keys) => {
                for (k, v) in a
                    .iter()
                    .filter(|(k, _)| keys.iter().any(|x| x == k.as_ref()))
                {
                    self.span_attributes.keys().append_value(k.as_ref());
                    self.span_attributes.values().append_value(v.as_ref());
                }
                self.span_attributes
                    .append(true)
                    .expect("map keys and values appended in pairs");
            }
            None if self.attribute_maps => append_map(&mut self.span_attributes, a),
            None => append_map::<&str>(&mut self.span_attributes, &[]),
        }
        self.source_line.append_value(span.source_line);
        self.fingerprints.push(span.fingerprint(res));
        self.len += 1;
    }

    /// Finishes the batch with the fingerprints of its rows, in row order (the builder is reset
    /// and can be reused for the same file).
    pub fn finish_with_fingerprints(
        &mut self,
    ) -> Result<(RecordBatch, Vec<SpanFingerprint>), ArrowError> {
        let fp = std::mem::take(&mut self.fingerprints);
        Ok((self.finish()?, fp))
    }

    /// What the rows appended so far fill, with an eighth more room: the capacity to start the
    /// next builder with ([`SpansBuilder::with_capacity`]).
    pub fn capacity_used(&mut self) -> SpansCapacity {
        let more = |n: usize| n + n / 8;
        let strings = |b: &StringBuilder| more(b.values_slice().len());
        let map = |m: &mut MapBuilder<StringBuilder, StringBuilder>| MapCapacity {
            entries: more(arrow::array::ArrayBuilder::len(m.keys())),
            key_bytes: strings(m.keys()),
            value_bytes: strings(m.values()),
        };
        SpansCapacity {
            rows: more(self.len),
            status_message_bytes: strings(&self.status_message),
            exception_message_bytes: strings(&self.exception_message),
            resource_attributes: map(&mut self.resource_attributes),
            span_attributes: map(&mut self.span_attributes),
        }
    }

    /// Finishes the batch (the builder is reset and can be reused for the same file).
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        self.flush_run();
        self.fingerprints.clear();
        let mut cols = self.finish_columns();
        let schema = spans_schema();
        for i in col::SKIPPABLE.into_iter().filter(|&i| !self.keeps(i)) {
            cols[i] = if i == col::STATUS_CODE {
                Arc::new(arrow::array::Int32Array::from_value(0, self.len))
            } else {
                arrow::array::new_null_array(schema.field(i).data_type(), self.len)
            };
        }
        self.len = 0;
        match &mut self.ids {
            Some(ids) => {
                cols.push(Arc::new(ids.column.finish()));
                ids.carried.clear();
                ids.last = None;
                RecordBatch::try_new(carrier_spans_schema(), cols)
            }
            None => RecordBatch::try_new(schema, cols),
        }
    }

    fn finish_columns(&mut self) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.trace_id.finish()),
            Arc::new(self.span_id.finish()),
            Arc::new(self.parent_span_id.finish()),
            Arc::new(self.service_name.finish()),
            Arc::new(self.service_version.finish()),
            Arc::new(self.deployment_track.finish()),
            Arc::new(self.deployment_environment.finish()),
            Arc::new(self.scope_name.finish()),
            Arc::new(self.span_name.finish()),
            Arc::new(self.span_kind.finish()),
            Arc::new(self.start_time.finish()),
            Arc::new(self.duration_ns.finish()),
            Arc::new(self.status_code.finish()),
            Arc::new(self.status_message.finish()),
            Arc::new(self.http_route.finish()),
            Arc::new(self.http_method.finish()),
            Arc::new(self.http_status_code.finish()),
            Arc::new(self.route.finish()),
            Arc::new(self.is_error.finish()),
            Arc::new(self.exception_type.finish()),
            Arc::new(self.exception_message.finish()),
            Arc::new(self.sample_weight.finish()),
            Arc::new(self.resource_attributes.finish()),
            Arc::new(self.span_attributes.finish()),
            Arc::new(self.source_file.finish()),
            Arc::new(self.source_line.finish()),
        ]
    }
}

/// The text of an optional string of a [`SpanRecord`] of any owner.
fn opt_str<S: AsRef<str>>(s: &Option<S>) -> Option<&str> {
    s.as_ref().map(AsRef::as_ref)
}

fn set_string(dst: &mut String, src: &str) {
    dst.clear();
    dst.push_str(src);
}

fn set_opt(dst: &mut Option<String>, src: Option<&str>) {
    match (dst.as_mut(), src) {
        (Some(d), Some(s)) => set_string(d, s),
        (None, Some(s)) => *dst = Some(s.to_string()),
        (_, None) => *dst = None,
    }
}

fn append_map<S: AsRef<str>>(b: &mut MapBuilder<StringBuilder, StringBuilder>, kv: &[(S, S)]) {
    for (k, v) in kv {
        b.keys().append_value(k.as_ref());
        b.values().append_value(v.as_ref());
    }
    b.append(true)
        .expect("map keys and values appended in pairs");
}

/// Room to create a [`SpansBuilder`] with: rows, and bytes of its free-text columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpansCapacity {
    /// Rows.
    pub rows: usize,
    /// Bytes of `status_message` values.
    pub status_message_bytes: usize,
    /// Bytes of `exception_message` values.
    pub exception_message_bytes: usize,
    /// Entries and bytes of `resource_attributes`.
    pub resource_attributes: MapCapacity,
    /// Entries and bytes of `span_attributes`.
    pub span_attributes: MapCapacity,
}

impl SpansCapacity {
    /// This room times `factor` (rounded up), with at most `max_rows` rows and the bytes and
    /// entries cut in proportion.
    pub fn scaled(self, factor: f64, max_rows: usize) -> Self {
        let want = (self.rows as f64 * factor).ceil();
        let f = if self.rows == 0 || want <= max_rows as f64 {
            factor
        } else {
            max_rows as f64 / self.rows as f64
        };
        let n = |x: usize| (x as f64 * f).ceil() as usize;
        let m = |c: MapCapacity| MapCapacity {
            entries: n(c.entries),
            key_bytes: n(c.key_bytes),
            value_bytes: n(c.value_bytes),
        };
        SpansCapacity {
            rows: n(self.rows).min(max_rows),
            status_message_bytes: n(self.status_message_bytes),
            exception_message_bytes: n(self.exception_message_bytes),
            resource_attributes: m(self.resource_attributes),
            span_attributes: m(self.span_attributes),
        }
    }
}

/// Room in one attribute map column of a [`SpansBuilder`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MapCapacity {
    /// Entries (key-value pairs) over all rows.
    pub entries: usize,
    /// Bytes of the keys.
    pub key_bytes: usize,
    /// Bytes of the values.
    pub value_bytes: usize,
}

/// Column names of the canonical spans table, in order.
pub const SPAN_COLUMNS: &[&str] = &[
    "trace_id",
    "span_id",
    "parent_span_id",
    "service_name",
    "service_version",
    "deployment_track",
    "deployment_environment",
    "scope_name",
    "span_name",
    "span_kind",
    "start_time",
    "duration_ns",
    "status_code",
    "status_message",
    "http_route",
    "http_method",
    "http_status_code",
    "route",
    "is_error",
    "exception_type",
    "exception_message",
    "sample_weight",
    "resource_attributes",
    "span_attributes",
    "source_file",
    "source_line",
];

/// Columns that may hold nulls.
const NULLABLE: &[&str] = &[
    "parent_span_id",
    "service_version",
    "deployment_track",
    "deployment_environment",
    "scope_name",
    "status_message",
    "http_route",
    "http_method",
    "http_status_code",
    "route",
    "exception_type",
    "exception_message",
];

/// The canonical spans schema: types taken from the builders, nullability from `NULLABLE`.
pub fn spans_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let mut b = SpansBuilder::new(Arc::new(IdentityConfig::default()), "");
            let cols: Vec<(&str, ArrayRef)> = vec![
                ("trace_id", Arc::new(b.trace_id.finish())),
                ("span_id", Arc::new(b.span_id.finish())),
                ("parent_span_id", Arc::new(b.parent_span_id.finish())),
                ("service_name", Arc::new(b.service_name.finish())),
                ("service_version", Arc::new(b.service_version.finish())),
                ("deployment_track", Arc::new(b.deployment_track.finish())),
                (
                    "deployment_environment",
                    Arc::new(b.deployment_environment.finish()),
                ),
                ("scope_name", Arc::new(b.scope_name.finish())),
                ("span_name", Arc::new(b.span_name.finish())),
                ("span_kind", Arc::new(b.span_kind.finish())),
                ("start_time", Arc::new(b.start_time.finish())),
                ("duration_ns", Arc::new(b.duration_ns.finish())),
                ("status_code", Arc::new(b.status_code.finish())),
                ("status_message", Arc::new(b.status_message.finish())),
                ("http_route", Arc::new(b.http_route.finish())),
                ("http_method", Arc::new(b.http_method.finish())),
                ("http_status_code", Arc::new(b.http_status_code.finish())),
                ("route", Arc::new(b.route.finish())),
                ("is_error", Arc::new(b.is_error.finish())),
                ("exception_type", Arc::new(b.exception_type.finish())),
                ("exception_message", Arc::new(b.exception_message.finish())),
                ("sample_weight", Arc::new(b.sample_weight.finish())),
                (
                    "resource_attributes",
                    Arc::new(b.resource_attributes.finish()),
                ),
                ("span_attributes", Arc::new(b.span_attributes.finish())),
                ("source_file", Arc::new(b.source_file.finish())),
                ("source_line", Arc::new(b.source_line.finish())),
            ];
            debug_assert_eq!(cols.iter().map(|c| c.0).collect::<Vec<_>>(), SPAN_COLUMNS);
            let fields: Vec<arrow::datatypes::Field> = cols
                .iter()
                .map(|(n, a)| {
                    arrow::datatypes::Field::new(*n, a.data_type().clone(), NULLABLE.contains(n))
                })
                .collect();
            Arc::new(Schema::new(fields))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int32Type;

    fn res() -> ResourceInfo {
        ResourceInfo::from_attributes(
            vec![
                ("service.name".into(), "checkout".into()),
                ("service.version".into(), "2.4.0".into()),
                ("deployment.stage".into(), "canary".into()),
            ],
            Some("scope".into()),
            &IdentityConfig::default(),
        )
    }

    /// A resource whose id collides with another's in the same batch carries its own map, so
    /// the writer compares the two and fails instead of giving its spans the other's map.
    #[test]
    fn a_colliding_resource_carries_its_own_map() {
        let a = res();
        let mut b = ResourceInfo::from_attributes(
            vec![("service.name".into(), "other".into())],
            None,
            &IdentityConfig::default(),
        );
        b.resource_id = a.resource_id;
        let mut builder =
            SpansBuilder::new(Arc::new(IdentityConfig::default()), "f").resource_ids(true);
        for r in [&a, &a, &b, &a] {
            builder.append(r, &SpanRecord::default());
        }
        let batch = builder.finish().unwrap();
        let maps = batch
            .column_by_name("resource_attributes")
            .unwrap()
            .as_map();
        assert_eq!(
            (0..4).map(|i| maps.is_valid(i)).collect::<Vec<_>>(),
            [true, false, true, false]
        );
        let err = crate::model::resources::ResourceTable::new()
            .absorb(&batch)
            .unwrap_err();
        assert!(
            matches!(
                err,
                crate::model::resources::ResourceError::Collision { .. }
            ),
            "{err}"
        );
    }

    /// The resource columns as strings, row by row.
    fn resource_columns(b: &RecordBatch) -> Vec<Vec<Option<String>>> {
        [
            "service_name",
            "service_version",
            "deployment_environment",
            "scope_name",
            "source_file",
        ]
        .iter()
        .map(|c| {
            let col = arrow::compute::cast(
                b.column_by_name(c).unwrap(),
                &arrow::datatypes::DataType::Utf8,
            )
            .unwrap();
            let col = col.as_string::<i32>();
            (0..col.len())
                .map(|i| col.is_valid(i).then(|| col.value(i).to_string()))
                .collect()
        })
        .collect()
    }

    #[test]
    fn resource_runs_equal_row_by_row_appends() {
        let cfg = IdentityConfig::default();
        let mk = |svc: &str, env: Option<&str>| {
            let mut attrs = vec![("service.name".to_string(), svc.to_string())];
            if let Some(e) = env {
                attrs.push(("deployment.environment.name".into(), e.into()));
            }
            ResourceInfo::from_attributes(attrs, Some(format!("{svc}-scope")), &cfg)
        };
        let (a, b_res) = (mk("a", Some("prod")), mk("b", None));
        // Same content as `a`, another from_attributes call: equal values, another run.
        let a2 = mk("a", Some("prod"));
        assert_eq!(a, a2);
        let plain = ResourceInfo::default();
        let order: Vec<(&ResourceInfo, &str)> = vec![
            (&a, "f1"),
            (&a, "f1"),
            (&b_res, "f1"),
            (&a2, "f1"),
            (&plain, "f1"),
            (&plain, "f1"),
            (&a, "f2"),
            (&a, "f2"),
            (&b_res, "f2"),
        ];
        let span = SpanRecord {
            trace_id: [1; 16],
            span_id: [2; 8],
            ..Default::default()
        };
        let mut builder = SpansBuilder::new(Arc::new(IdentityConfig::default()), "f1");
        let mut batches = Vec::new();
        for (i, (r, f)) in order.iter().enumerate() {
            builder.set_source_file(f);
            builder.append(r, &span);
            if i == 6 {
                // A batch ends inside a run of `a`.
                batches.push(builder.finish().unwrap());
            }
        }
        batches.push(builder.finish().unwrap());
        let rows: Vec<Vec<Option<String>>> = batches.iter().fold(vec![vec![]; 5], |mut acc, b| {
            for (c, col) in resource_columns(b).into_iter().enumerate() {
                acc[c].extend(col);
            }
            acc
        });
        let expect = |f: fn(&ResourceInfo, &str) -> Option<String>| -> Vec<Option<String>> {
            order.iter().map(|(r, file)| f(r, file)).collect()
        };
        assert_eq!(rows[0], expect(|r, _| Some(r.service_name.clone())));
        assert_eq!(rows[1], expect(|r, _| r.service_version.clone()));
        assert_eq!(rows[2], expect(|r, _| r.deployment_environment.clone()));
        assert_eq!(rows[3], expect(|r, _| r.scope_name.clone()));
        assert_eq!(rows[4], expect(|_, f| Some(f.to_string())));
        // Dictionaries in order of first appearance, as appending row by row gives them.
        let names = batches[0].column_by_name("service_name").unwrap();
        let names = names.as_dictionary::<Int32Type>();
        let values: Vec<&str> = names.values().as_string::<i32>().iter().flatten().collect();
        assert_eq!(values, ["a", "b", ""]);
        assert_eq!(batches[0].num_rows(), 7);
        assert_eq!(batches[1].num_rows(), 2);
    }

    /// Room is only room: a builder started with the capacity another one used builds the
    /// same batch, and the capacity counts what was filled.
    #[test]
    fn capacity_used_measures_the_batch_and_changes_no_row() {
        let spans: Vec<SpanRecord> = (0..50u8)
            .map(|i| SpanRecord {
                trace_id: [i; 16],
                span_id: [i; 8],
                name: format!("op{}", i % 3),
                status_message: (i % 5 == 0).then(|| "broken pipe".to_string()),
                attributes: vec![
                    ("http.route".into(), "/cart/{id}".into()),
                    ("user".into(), format!("u{i}")),
                ],
                ..Default::default()
            })
            .collect();
        let build = |b: &mut SpansBuilder| {
            for s in &spans {
                b.append(&res(), s);
            }
        };
        let cfg = Arc::new(IdentityConfig::default());
        let mut first = SpansBuilder::new(cfg.clone(), "f");
        build(&mut first);
        let cap = first.capacity_used();
        assert_eq!(cap.rows, 50 + 50 / 8);
        assert_eq!(cap.span_attributes.entries, 100 + 100 / 8);
        let key_bytes = 50 * ("http.route".len() + "user".len());
        assert_eq!(cap.span_attributes.key_bytes, key_bytes + key_bytes / 8);
        assert_eq!(cap.status_message_bytes, 10 * 11 + 10 * 11 / 8);
        let mut second = SpansBuilder::with_capacity(cfg, "f", cap);
        build(&mut second);
        assert_eq!(second.finish().unwrap(), first.finish().unwrap());
        assert_eq!(first.capacity_used(), SpansCapacity::default());
    }

    #[test]
    fn capacity_scales_with_the_piece_and_stops_at_the_batch() {
        let cap = SpansCapacity {
            rows: 1000,
            status_message_bytes: 100,
            exception_message_bytes: 0,
            resource_attributes: MapCapacity::default(),
            span_attributes: MapCapacity {
                entries: 3000,
                key_bytes: 30_000,
                value_bytes: 60_000,
            },
        };
        let half = cap.scaled(0.5, 65_536);
        assert_eq!((half.rows, half.status_message_bytes), (500, 50));
        assert_eq!(half.span_attributes.value_bytes, 30_000);
        // A piece 1000 times larger gets at most a batch's rows, bytes cut in proportion.
        let big = cap.scaled(1000.0, 4000);
        assert_eq!(big.rows, 4000);
        assert_eq!(big.span_attributes.entries, 12_000);
        assert_eq!(big.span_attributes.key_bytes, 120_000);
        assert_eq!(
            SpansCapacity::default().scaled(7.0, 10),
            SpansCapacity::default()
        );
    }

    #[test]
    fn builds_canonical_batch() {
        let mut b = SpansBuilder::new(Arc::new(IdentityConfig::default()), "in.jsonl");
        let span = SpanRecord {
            trace_id: [1; 16],
            span_id: [2; 8],
            parent_span_id: None,
            name: "GET /cart/123".into(),
            kind: identity::kind::SERVER,
            start_time_unix_nano: 1_000,
            end_time_unix_nano: 5_000,
            status_code: 0,
            attributes: vec![("http.response.status_code".into(), "502".into())],
            source_line: 3,
            ..Default::default()
        };
        b.append(&res(), &span);
        b.append(
            &res(),
            &SpanRecord {
                kind: identity::kind::INTERNAL,
                attributes: vec![],
                ..span.clone()
            },
        );
        let batch = b.finish().unwrap();
        assert_eq!(batch.schema(), spans_schema());
        assert_eq!(batch.num_rows(), 2);
        let route = batch.column_by_name("route").unwrap();
        assert!(route.is_valid(0) && route.is_null(1));
        let err = batch.column_by_name("is_error").unwrap().as_boolean();
        assert!(err.value(0) && !err.value(1));
        let dur = batch
            .column_by_name("duration_ns")
            .unwrap()
            .as_primitive::<arrow::datatypes::Int64Type>();
        assert_eq!(dur.value(0), 4_000);
        assert_eq!(res().deployment_track.as_deref(), Some("canary"));
    }

    #[test]
    fn without_attribute_maps_only_the_maps_are_empty() {
        let span = SpanRecord {
            trace_id: [1; 16],
            span_id: [2; 8],
            name: "GET /cart".into(),
            kind: identity::kind::SERVER,
            start_time_unix_nano: 1_000,
            end_time_unix_nano: 5_000,
            attributes: vec![
                ("http.route".into(), "/cart".into()),
                ("http.response.status_code".into(), "503".into()),
            ],
            ..Default::default()
        };
        let build = |keep: bool| {
            let mut b = SpansBuilder::new(Arc::new(IdentityConfig::default()), "in.jsonl")
                .attribute_maps(keep);
            b.append(&res(), &span);
            b.finish_with_fingerprints().unwrap()
        };
        let ((full, fp_full), (lean, fp_lean)) = (build(true), build(false));
        // Only the named span keys: the status code's entry, nothing of the resource.
        let keys: Arc<[String]> = Arc::from(vec!["http.response.status_code".to_string()]);
        let mut b = SpansBuilder::new(Arc::new(IdentityConfig::default()), "in.jsonl")
            .span_attribute_keys(Some(keys));
        b.append(&res(), &span);
        let (some, fp_some) = b.finish_with_fingerprints().unwrap();
        assert_eq!(fp_some, fp_full);
        let col = |n: &str| some.column(SPAN_COLUMNS.iter().position(|c| *c == n).unwrap());
        assert_eq!(col("resource_attributes").as_map().value(0).len(), 0);
        let kept = col("span_attributes").as_map().value(0);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept.column(1).as_string::<i32>().value(0), "503");
        assert_eq!(lean.schema(), spans_schema());
        assert_eq!(fp_full, fp_lean, "fingerprints still cover every attribute");
        for (i, name) in SPAN_COLUMNS.iter().enumerate() {
            let (a, b) = (full.column(i), lean.column(i));
            if name.ends_with("attributes") {
                assert_eq!(
                    a.as_map().value(0).len(),
                    if *name == "resource_attributes" { 3 } else { 2 }
                );
                assert_eq!(b.as_map().value(0).len(), 0, "{name}");
            } else {
                assert_eq!(a.as_ref(), b.as_ref(), "{name}");
            }
        }
    }

    #[test]
    fn kept_columns_fill_the_kept_ones_alike_and_write_the_others_empty() {
        for (pos, name) in [
            (col::STATUS_CODE, "status_code"),
            (col::STATUS_MESSAGE, "status_message"),
            (col::HTTP_ROUTE, "http_route"),
            (col::HTTP_METHOD, "http_method"),
            (col::HTTP_STATUS_CODE, "http_status_code"),
            (col::EXCEPTION_TYPE, "exception_type"),
            (col::EXCEPTION_MESSAGE, "exception_message"),
        ] {
            assert_eq!(SPAN_COLUMNS[pos], name);
        }
        assert_eq!(KeptColumns::of(&["route", "no_such_column"]), None);
        let spans: Vec<SpanRecord> = (0..5u8)
            .map(|i| SpanRecord {
                trace_id: [i + 1; 16],
                span_id: [2; 8],
                name: format!("GET /cart/{i}"),
                kind: identity::kind::SERVER,
                start_time_unix_nano: 1_000,
                end_time_unix_nano: 5_000 + i64::from(i),
                status_code: i32::from(i % 3),
                status_message: Some(format!("m{i}")),
                attributes: vec![
                    ("http.route".into(), format!("/cart/{}", i % 2)),
                    ("http.request.method".into(), "GET".into()),
                    (
                        "http.response.status_code".into(),
                        format!("{}", 200 + 100 * u32::from(i)),
                    ),
                ],
                exception_type: (i == 3).then(|| "Boom".to_string()),
                exception_message: (i == 3).then(|| "it broke".to_string()),
                ..Default::default()
            })
            .collect();
        let build = |kept: Option<KeptColumns>| {
            let mut b = SpansBuilder::new(Arc::new(IdentityConfig::default()), "in.jsonl")
                .kept_columns(kept);
            for s in &spans {
                b.append(&res(), s);
            }
            b.finish_with_fingerprints().unwrap()
        };
        let names = [
            "trace_id",
            "route",
            "is_error",
            "http_method",
            "source_line",
        ];
        let (full, fp_full) = build(None);
        let (lean, fp_lean) = build(KeptColumns::of(&names));
        assert_eq!(lean.schema(), spans_schema());
        assert_eq!(fp_full, fp_lean, "fingerprints still cover every field");
        let skippable = [
            col::STATUS_CODE,
            col::STATUS_MESSAGE,
            col::HTTP_ROUTE,
            col::HTTP_STATUS_CODE,
            col::EXCEPTION_TYPE,
            col::EXCEPTION_MESSAGE,
        ];
        for (i, name) in SPAN_COLUMNS.iter().enumerate() {
            let (a, b) = (full.column(i), lean.column(i));
            if !skippable.contains(&i) {
                assert_eq!(a.as_ref(), b.as_ref(), "{name}");
            } else if i == col::STATUS_CODE {
                assert!(b
                    .as_primitive::<Int32Type>()
                    .values()
                    .iter()
                    .all(|&v| v == 0));
            } else {
                assert_eq!(b.null_count(), spans.len(), "{name}");
                assert!(a.null_count() < spans.len(), "{name} has values when kept");
            }
        }
    }

    #[test]
    fn resource_sample_rate_is_resolved_once_and_the_span_rate_wins() {
        let cfg = IdentityConfig::default();
        let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
        let res = ResourceInfo::from_attributes(
            vec![kv("service.name", "a"), kv("SampleRate", "4")],
            None,
            &cfg,
        );
        assert_eq!(res.sample_rate, Some(4.0));
        let bad = ResourceInfo::from_attributes(vec![kv("sample_rate", "x")], None, &cfg);
        assert_eq!(bad.sample_rate, None);
        let weights = |attrs: Vec<(String, String)>| {
            let mut b = SpansBuilder::new(Arc::new(IdentityConfig::default()), "in.jsonl");
            b.append(
                &res,
                &SpanRecord {
                    attributes: attrs,
                    ..Default::default()
                },
            );
            let batch = b.finish().unwrap();
            let w = batch.column_by_name("sample_weight").unwrap();
            w.as_primitive::<arrow::datatypes::Float64Type>().value(0)
        };
        assert_eq!(weights(vec![]), 4.0, "the resource's rate");
        assert_eq!(
            weights(vec![kv("sampling.weight", "10")]),
            10.0,
            "the span's"
        );
        // A span rate that is not a number means weight 1, not the resource's (as before).
        assert_eq!(weights(vec![kv("sampling.weight", "ten")]), 1.0);
    }

    proptest::proptest! {
        /// Each span's `resource_attributes` entry (copied from the prepared arrays) holds
        /// its resource's attributes in order, and the weight follows the span's rate key,
        /// else the resource's, for any attributes (keys drawn so rate keys and repeated keys
        /// occur).
        #[test]
        fn prepared_resources_append_like_key_by_key(
            resources in proptest::collection::vec(
                proptest::collection::vec(("(service.name|SampleRate|sample_rate|k[0-3]|)", "(0.25|3|x|[a-z]{0,6})"), 0..8),
                1..4,
            ),
            spans in proptest::collection::vec(
                (0usize..4, proptest::collection::vec(("(sampling.weight|SampleRate|k[0-2])", "(2|0.5|y|[a-z]{0,4})"), 0..4)),
                1..12,
            ),
        ) {
            let cfg = Arc::new(IdentityConfig::default());
            let kvs = |v: &Vec<(String, String)>| v.clone();
            let res: Vec<ResourceInfo> = resources
                .iter()
                .map(|a| ResourceInfo::from_attributes(kvs(a), Some("s".into()), &cfg))
                .collect();
            let mut fast = SpansBuilder::new(cfg.clone(), "in.jsonl");
            let mut want_weights = Vec::new();
            let mut want_maps = Vec::new();
            for (ri, attrs) in &spans {
                let r = &res[ri % res.len()];
                let span = SpanRecord { attributes: attrs.clone(), ..Default::default() };
                fast.append(r, &span);
                let rate = identity::first_of(attrs, &cfg.sample_rate_keys)
                    .or_else(|| identity::first_of(r.attributes(), &cfg.sample_rate_keys))
                    .and_then(|v| v.parse::<f64>().ok());
                want_weights.push(identity::sample_weight(rate, None));
                want_maps.push(r.attributes().to_vec());
            }
            let a = fast.finish().unwrap();
            let maps = a.column_by_name("resource_attributes").unwrap().as_map();
            let got_maps: Vec<Vec<(String, String)>> = (0..a.num_rows())
                .map(|i| {
                    let e = maps.value(i);
                    let (k, v) = (e.column(0).as_string::<i32>(), e.column(1).as_string::<i32>());
                    (0..e.len()).map(|j| (k.value(j).to_string(), v.value(j).to_string())).collect()
                })
                .collect();
            proptest::prop_assert_eq!(got_maps, want_maps);
            let w = a.column_by_name("sample_weight").unwrap();
            let w = w.as_primitive::<arrow::datatypes::Float64Type>().values().to_vec();
            proptest::prop_assert_eq!(w, want_weights);
        }
    }

    #[test]
    fn fingerprints_follow_content_not_location() {
        let span = SpanRecord {
            trace_id: [1; 16],
            span_id: [2; 8],
            name: "GET /cart".into(),
            start_time_unix_nano: 1_000,
            end_time_unix_nano: 5_000,
            attributes: vec![("http.route".into(), "/cart".into())],
            source_line: 3,
            ..Default::default()
        };
        let fp = span.fingerprint(&res());
        assert_eq!(fp.key[..16], [1; 16]);
        assert_eq!(fp.key[16..], [2; 8]);
        // The same content elsewhere in the input, or from another thread, is a duplicate.
        let moved = SpanRecord {
            source_line: 99,
            trace_state: Some("ot=th:8".into()),
            ..span.clone()
        };
        assert_eq!(moved.fingerprint(&res()), fp);
        let other = std::thread::spawn({
            let span = span.clone();
            move || span.fingerprint(&res())
        });
        assert_eq!(other.join().unwrap(), fp);
        // Any change of span or resource content changes the content hash, not the key.
        let changed = [
            SpanRecord {
                name: "GET /carts".into(),
                ..span.clone()
            },
            SpanRecord {
                end_time_unix_nano: 5_001,
                ..span.clone()
            },
            SpanRecord {
                attributes: vec![("http.route".into(), "/cart/".into())],
                ..span.clone()
            },
            SpanRecord {
                exception_type: Some("E".into()),
                ..span.clone()
            },
        ];
        for c in &changed {
            let f = c.fingerprint(&res());
            assert_eq!(f.key, fp.key);
            assert_ne!(f.content, fp.content, "{c:?}");
        }
        let mut attrs = res().attributes;
        attrs[1].1 = "2.4.1".into();
        let res2 =
            ResourceInfo::from_attributes(attrs, Some("scope".into()), &IdentityConfig::default());
        assert_ne!(span.fingerprint(&res2).content, fp.content);
    }
}
