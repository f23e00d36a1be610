//! The shipped SQL queries (`queries/*.sql`), embedded at compile time, and their parameters.
//!
//! Every query takes the same positional parameters, bound with DataFusion placeholders
//! (never spliced into the text): `$1` baseline track, `$2` baseline version, `$3` canary
//! track, `$4` canary version (each Utf8 or NULL), `$5` service filter (Utf8 or NULL), `$6`
//! window start and `$7` window end (timestamp ns UTC, half-open), `$8` bucket width
//! (interval). A query uses a prefix or subset of them; each file's header says which.

use super::summary::{Selector, Window};
use datafusion::common::ScalarValue;
use datafusion::arrow::datatypes::IntervalMonthDayNano;

/// A shipped query: file name and text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query {
    /// File name under `queries/`.
    pub name: &'static str,
    /// SQL text.
    pub sql: &'static str,
}

macro_rules! query {
    ($id:ident, $file:literal, $doc:literal) => {
        #[doc = $doc]
        pub const $id: Query = Query {
            name: $file,
            sql: include_str!(concat!("../../queries/", $file)),
        };
    };
}

query!(WINDOW, "window.sql", "First/last span of each side and their overlap.");
query!(ROUTE_SAMPLES, "route_samples.sql", "One row per request of either side in the window.");
query!(OPERATION_SAMPLES, "operation_samples.sql", "One row per span of either side in the window.");
query!(ROUTE_SUMMARY, "route_summary.sql", "Per-route counts, errors and quantiles.");
query!(OPERATION_SUMMARY, "operation_summary.sql", "Per-operation counts, errors and quantiles.");
query!(ROUTE_TIMESERIES, "route_timeseries.sql", "Per-route series per time bucket.");
query!(OPERATION_TIMESERIES, "operation_timeseries.sql", "Per-operation series per time bucket.");
query!(TRAFFIC_SPLIT, "traffic_split.sql", "Canary share of requests per time bucket.");

/// Every shipped query.
pub const ALL: &[Query] = &[
    WINDOW,
    ROUTE_SAMPLES,
    OPERATION_SAMPLES,
    ROUTE_SUMMARY,
    OPERATION_SUMMARY,
    ROUTE_TIMESERIES,
    OPERATION_TIMESERIES,
    TRAFFIC_SPLIT,
];

/// Values for the shared parameters `$1..$8`.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Baseline selector (`$1`, `$2`).
    pub baseline: Selector,
    /// Canary selector (`$3`, `$4`).
    pub canary: Selector,
    /// Service filter (`$5`).
    pub service: Option<String>,
    /// Window (`$6`, `$7`).
    pub window: Window,
    /// Bucket width in nanoseconds (`$8`).
    pub bucket_ns: i64,
}

fn utf8(v: &Option<String>) -> ScalarValue {
    ScalarValue::Utf8(v.clone())
}

fn ts(ns: i64) -> ScalarValue {
    ScalarValue::TimestampNanosecond(Some(ns), Some("UTC".into()))
}

impl Params {
    /// The positional values `$1..$8`.
    pub fn values(&self) -> Vec<ScalarValue> {
        vec![
            utf8(&self.baseline.track),
            utf8(&self.baseline.version),
            utf8(&self.canary.track),
            utf8(&self.canary.version),
            utf8(&self.service),
            ts(self.window.start_unix_nano),
            ts(self.window.end_unix_nano),
            ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(
                0,
                0,
                self.bucket_ns,
            ))),
        ]
    }

    /// `$1..$5` only (for [`WINDOW`], which has no window yet).
    pub fn selector_values(&self) -> Vec<ScalarValue> {
        self.values().into_iter().take(5).collect()
    }
}
