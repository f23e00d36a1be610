//! The shipped SQL queries (`queries/*.sql`), embedded at compile time, and their parameters.
//!
//! Every query takes the same positional parameters, bound with DataFusion placeholders
//! (never spliced into the text): `$1` baseline track, `$2` baseline version, `$3` canary
//! track, `$4` canary version (each Utf8 or NULL), `$5` service filter (Utf8 or NULL), `$6`
//! window start and `$7` window end (timestamp ns UTC, half-open), `$8` bucket width
//! (interval). A query uses a prefix or subset of them; each file's header says which.

use crate::model::comparison::{Selector, Window};
use datafusion::arrow::datatypes::IntervalMonthDayNano;
use datafusion::common::ScalarValue;

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

query!(
    WINDOW,
    "window.sql",
    "First/last span of each side and their overlap."
);
query!(
    ROUTE_SAMPLES,
    "route_samples.sql",
    "One row per request of either side in the window."
);
query!(
    OPERATION_SAMPLES,
    "operation_samples.sql",
    "One row per span of either side in the window."
);
query!(
    ROUTE_SUMMARY,
    "route_summary.sql",
    "Per-route counts, errors and quantiles."
);
query!(
    OPERATION_SUMMARY,
    "operation_summary.sql",
    "Per-operation counts, errors and quantiles."
);
query!(
    ROUTE_TIMESERIES,
    "route_timeseries.sql",
    "Per-route series per time bucket."
);
query!(
    OPERATION_TIMESERIES,
    "operation_timeseries.sql",
    "Per-operation series per time bucket."
);
query!(
    TRAFFIC_SPLIT,
    "traffic_split.sql",
    "Canary share of requests per time bucket."
);

query!(
    METRICS_ERROR_RATE_BY_TRACK,
    "metrics_error_rate_by_track.sql",
    "Requests and server errors per side, service, track and bucket, from request-duration \
     histogram counts."
);
query!(
    METRICS_P99_BY_TRACK,
    "metrics_p99_by_track.sql",
    "p50/p99 latency per side, service, track and bucket, from merged request-duration \
     histograms."
);
query!(
    METRICS_TRAFFIC_SPLIT,
    "metrics_traffic_split.sql",
    "Canary share of requests per bucket, from request-duration histogram counts."
);

query!(
    FORENSICS_FAILING_SPANS,
    "forensics_failing_spans.sql",
    "Every span of the traces whose root span is an error inside the window."
);
query!(
    FORENSICS_ERROR_SPANS,
    "forensics_error_spans.sql",
    "Every error span of either side inside the window."
);
query!(
    FORENSICS_EXPOSURE,
    "forensics_exposure.sql",
    "Requests per service and side inside the window."
);
query!(
    FORENSICS_DOWNSTREAM_SPANS,
    "forensics_downstream_spans.sql",
    "Every span with its own side and the originating-track attribute, for downstream \
     attribution."
);
query!(
    FORENSICS_ATTRIBUTE_REQUESTS,
    "forensics_attribute_requests.sql",
    "Every request of either side with its attribute maps and the baseline p99 of its route, \
     for the attribute diff."
);

query!(
    BACKTEST_REQUESTS,
    "backtest_requests.sql",
    "One row per request of either side in the window, with its trace id."
);

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
    METRICS_ERROR_RATE_BY_TRACK,
    METRICS_P99_BY_TRACK,
    METRICS_TRAFFIC_SPLIT,
    FORENSICS_FAILING_SPANS,
    FORENSICS_ERROR_SPANS,
    FORENSICS_EXPOSURE,
    FORENSICS_DOWNSTREAM_SPANS,
    FORENSICS_ATTRIBUTE_REQUESTS,
    BACKTEST_REQUESTS,
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

/// Parses a typed parameter value as `canalyst sql --param` takes it: `null`, `str:TEXT`,
/// `int:N`, `float:X`, `bool:true|false`, `ts:RFC3339` (timestamp ns UTC) or
/// `interval:TEXT` (for example `interval:1 minute`).
pub fn parse_param(s: &str) -> Result<ScalarValue, super::EngineError> {
    use arrow::datatypes::{DataType, IntervalUnit, TimeUnit};
    let bad = |reason: String| super::EngineError::Param {
        value: s.to_string(),
        reason,
    };
    if s == "null" {
        return Ok(ScalarValue::Null);
    }
    let (kind, v) = s.split_once(':').ok_or_else(|| {
        bad("expected null or TYPE:VALUE with TYPE str, int, float, bool, ts or interval".into())
    })?;
    let text = ScalarValue::Utf8(Some(v.to_string()));
    let cast = |t: DataType| text.cast_to(&t).map_err(|e| bad(e.to_string()));
    match kind {
        "str" => Ok(text.clone()),
        "int" => v
            .trim()
            .parse::<i64>()
            .map(|x| ScalarValue::Int64(Some(x)))
            .map_err(|e| bad(e.to_string())),
        "float" => v
            .trim()
            .parse::<f64>()
            .map(|x| ScalarValue::Float64(Some(x)))
            .map_err(|e| bad(e.to_string())),
        "bool" => v
            .trim()
            .parse::<bool>()
            .map(|x| ScalarValue::Boolean(Some(x)))
            .map_err(|e| bad(e.to_string())),
        "ts" => cast(DataType::Timestamp(
            TimeUnit::Nanosecond,
            Some("UTC".into()),
        )),
        "interval" => cast(DataType::Interval(IntervalUnit::MonthDayNano)),
        other => Err(bad(format!("unknown type {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_has_a_header_and_uses_placeholders_only() {
        for q in ALL {
            assert!(q.sql.starts_with(&format!("-- {}:", q.name)), "{}", q.name);
            assert!(q.sql.contains("Output"), "{}", q.name);
            assert!(q.sql.contains("$5"), "{} lacks the service filter", q.name);
        }
    }

    #[test]
    fn params() {
        assert_eq!(parse_param("null").unwrap(), ScalarValue::Null);
        assert_eq!(
            parse_param("str:a:b").unwrap(),
            ScalarValue::Utf8(Some("a:b".into()))
        );
        assert_eq!(parse_param("int:5").unwrap(), ScalarValue::Int64(Some(5)));
        assert_eq!(
            parse_param("ts:2024-01-01T00:00:00Z").unwrap(),
            ScalarValue::TimestampNanosecond(Some(1_704_067_200_000_000_000), Some("UTC".into()))
        );
        assert_eq!(
            parse_param("interval:1 minute").unwrap(),
            ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(
                0,
                0,
                60_000_000_000
            )))
        );
        assert!(parse_param("stable").is_err());
        assert!(parse_param("int:x").is_err());
        assert!(parse_param("blob:x").is_err());
    }
}
