//! Identity rules (design §3): which track, version, route and error status a span has.
//!
//! These are pure functions of one span and its resource, applied at ingest so every later
//! stage groups by the same keys. The one rule that needs other spans (a *request* is a SERVER
//! span, a root span, or a span whose parent belongs to another service) is evaluated by the
//! engine, which sees the whole table.

use serde::{Deserialize, Serialize};

/// OTLP `Span.SpanKind` values.
pub mod kind {
    /// SPAN_KIND_UNSPECIFIED
    pub const UNSPECIFIED: i32 = 0;
    /// SPAN_KIND_INTERNAL
    pub const INTERNAL: i32 = 1;
    /// SPAN_KIND_SERVER
    pub const SERVER: i32 = 2;
    /// SPAN_KIND_CLIENT
    pub const CLIENT: i32 = 3;
    /// SPAN_KIND_PRODUCER
    pub const PRODUCER: i32 = 4;
    /// SPAN_KIND_CONSUMER
    pub const CONSUMER: i32 = 5;
}

/// OTLP `Status.StatusCode` values.
pub mod status {
    /// STATUS_CODE_UNSET
    pub const UNSET: i32 = 0;
    /// STATUS_CODE_OK
    pub const OK: i32 = 1;
    /// STATUS_CODE_ERROR
    pub const ERROR: i32 = 2;
}

/// Which attributes carry identity; configurable because teams name things differently.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// Resource attribute keys tried in order for the track (`stable`, `canary`, …).
    pub track_resource_keys: Vec<String>,
    /// Span attribute keys tried after the resource keys (track propagated through baggage:
    /// the OpenTelemetry BaggageSpanProcessor copies W3C baggage entries into span attributes,
    /// so a stable service called from a canary carries `deployment.stage=canary`).
    pub track_span_keys: Vec<String>,
    /// Resource attribute keys tried in order for the version.
    pub version_keys: Vec<String>,
    /// Resource attribute keys tried in order for the environment.
    pub environment_keys: Vec<String>,
    /// Span or resource attribute keys carrying a sampling weight or probability
    /// (see [`sample_weight`]).
    pub sample_rate_keys: Vec<String>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
        Self {
            track_resource_keys: s(&["deployment.track", "deployment.stage"]),
            track_span_keys: s(&[
                "deployment.track",
                "deployment.stage",
                "baggage.deployment.track",
                "baggage.deployment.stage",
                "canary.track",
            ]),
            version_keys: s(&["service.version"]),
            environment_keys: s(&["deployment.environment.name", "deployment.environment"]),
            sample_rate_keys: s(&[
                "sampling.weight",
                "SampleRate",
                "sample_rate",
                "sampling.probability",
            ]),
        }
    }
}

/// First value among `keys` found in `attrs` (a key–value list as OTLP carries it).
/// Generic over the strings' owner: a decoded [`SpanRecord`](super::spans::SpanRecord)'s own
/// `String`s or a borrowed record's `&str`s into its input.
pub fn first_of<'a, S: AsRef<str>>(attrs: &'a [(S, S)], keys: &[String]) -> Option<&'a str> {
    keys.iter().find_map(|k| attr(attrs, k))
}

/// Value of `key` in `attrs`.
pub fn attr<'a, S: AsRef<str>>(attrs: &'a [(S, S)], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k.as_ref() == key)
        .map(|(_, v)| v.as_ref())
}

/// Route of a span (design §3): `http.route`, else the templated span name of a SERVER span,
/// else none (the span is then grouped by operation only).
/// Borrowed from `span_name` or `http_route` when templating leaves it as it is.
pub fn route<'a>(
    span_kind: i32,
    span_name: &'a str,
    http_route: Option<&'a str>,
) -> Option<std::borrow::Cow<'a, str>> {
    match http_route {
        Some(r) if !r.is_empty() => Some(super::route::template(r)),
        _ if span_kind == kind::SERVER => Some(super::route::template(span_name)),
        _ => None,
    }
}

/// Error rule (design §3): status ERROR; for SERVER spans also an HTTP status of 500–599.
/// A 4xx on a server span is the client's fault and not an error, as the OTel HTTP semantic
/// conventions define span status for servers.
pub fn is_error(status_code: i32, span_kind: i32, http_status_code: Option<i32>) -> bool {
    status_code == status::ERROR
        || (span_kind == kind::SERVER && matches!(http_status_code, Some(500..=599)))
}

/// Sampling weight: how many requests this recorded span stands for.
///
/// Accepts either a weight (≥ 1, e.g. `SampleRate=10` as Honeycomb/Datadog write it) or a
/// probability in (0, 1] (`sampling.probability=0.1`), which becomes its reciprocal. The OTel
/// `tracestate` `ot=th:` threshold is read by the caller and passed as `threshold_weight`.
/// Returns 1.0 when nothing says the data was sampled.
pub fn sample_weight(value: Option<f64>, threshold_weight: Option<f64>) -> f64 {
    if let Some(w) = threshold_weight.filter(|w| w.is_finite() && *w >= 1.0) {
        return w;
    }
    match value {
        Some(v) if v.is_finite() && v >= 1.0 => v,
        Some(v) if v.is_finite() && v > 0.0 => 1.0 / v,
        _ => 1.0,
    }
}

/// Weight implied by a W3C `tracestate` OpenTelemetry entry `ot=th:<hex>` (OTel
/// "TraceState: Probability Sampling", rejection threshold over 56 bits): weight = 2^56 /
/// (2^56 − threshold).
pub fn tracestate_weight(tracestate: &str) -> Option<f64> {
    let ot = tracestate
        .split(',')
        .find_map(|kv| kv.trim().strip_prefix("ot="))?;
    let th = ot.split(';').find_map(|kv| kv.strip_prefix("th:"))?;
    if th.is_empty() || th.len() > 14 || !th.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let padded = format!("{th:0<14}");
    let t = u64::from_str_radix(&padded, 16).ok()? as f64;
    let max = (1u64 << 56) as f64;
    (t < max).then(|| max / (max - t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_rules() {
        assert_eq!(
            route(kind::CLIENT, "GET", Some("/u/{id}")).as_deref(),
            Some("/u/{id}")
        );
        assert_eq!(
            route(kind::SERVER, "GET /u/42", None).as_deref(),
            Some("GET /u/{id}")
        );
        assert_eq!(route(kind::INTERNAL, "work", None), None);
    }

    #[test]
    fn error_rules() {
        assert!(is_error(status::ERROR, kind::INTERNAL, None));
        assert!(is_error(status::UNSET, kind::SERVER, Some(503)));
        assert!(!is_error(status::UNSET, kind::SERVER, Some(404)));
        assert!(!is_error(status::UNSET, kind::CLIENT, Some(503)));
    }

    #[test]
    fn weights() {
        assert_eq!(sample_weight(None, None), 1.0);
        assert_eq!(sample_weight(Some(10.0), None), 10.0);
        assert_eq!(sample_weight(Some(0.25), None), 4.0);
        assert_eq!(sample_weight(Some(-1.0), None), 1.0);
        // th:8 = 50% rejection → weight 2; th:c → 75% → 4.
        assert_eq!(tracestate_weight("ot=th:8"), Some(2.0));
        assert_eq!(tracestate_weight("vendor=x,ot=rv:abc;th:c"), Some(4.0));
        assert_eq!(tracestate_weight("ot=th:zz"), None);
    }

    #[test]
    fn track_lookup_order() {
        let cfg = IdentityConfig::default();
        let attrs = vec![
            ("deployment.stage".to_string(), "canary".to_string()),
            ("deployment.track".to_string(), "stable".to_string()),
        ];
        assert_eq!(first_of(&attrs, &cfg.track_resource_keys), Some("stable"));
    }
}
