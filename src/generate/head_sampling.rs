//! Head sampling of the generated traces (`generate --head-sampling`), as an OpenTelemetry
//! SDK's consistent probability sampler does it at the root span, with the decision written
//! into every span's W3C `tracestate` as `ot=th:<threshold>`.
//!
//! The rule follows the OpenTelemetry specification "TraceState: Probability Sampling"
//! (opentelemetry-specification, `specification/trace/tracestate-probability-sampling.md`):
//! the randomness `R` is the least-significant 56 bits of the trace id (W3C Trace Context
//! level 2 random trace ids), the rejection threshold `T` is a 56-bit number written as up to
//! 14 hex digits with trailing zeros dropped (`th:8` = 2^55, `th:0` = keep all), a trace is
//! kept when `R ≥ T`, and each kept span stands for `2^56 / (2^56 − T)` spans (its adjusted
//! count, the weight canalyst reads).
//!
//! The root (the frontend's SERVER span) decides, by its track and route ([`RULES`]): the
//! canary's traces are kept more often than stable's (an operator who wants enough canary
//! spans), and every checkout is kept (the route the business watches), so weights differ
//! between the sides and within each side.

use super::simulate::{Operation, SimLine, SimTrace};
use super::topology::{rt, RouteId, Track, ROUTES, SERVICES};
use serde::Serialize;

/// One sampling rule: which root spans it applies to and the threshold it writes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SamplingRule {
    /// Root route (`service` and span name) it applies to; `None`: every other root.
    pub root_route: Option<&'static str>,
    /// Track of the root span it applies to; `None`: either.
    pub track: Option<&'static str>,
    /// The `tracestate` entry written on every span of a kept trace.
    pub tracestate: &'static str,
    /// Probability of keeping a trace, `(2^56 − T) / 2^56`.
    pub probability: f64,
    /// Each kept span's weight (adjusted count), the reciprocal of the probability.
    pub weight: f64,
}

/// The rules, first match wins.
pub const RULES: [SamplingRule; 3] = [
    SamplingRule {
        root_route: Some("frontend POST /checkout"),
        track: None,
        tracestate: "ot=th:0",
        probability: 1.0,
        weight: 1.0,
    },
    SamplingRule {
        root_route: None,
        track: Some("canary"),
        tracestate: "ot=th:8",
        probability: 0.5,
        weight: 2.0,
    },
    SamplingRule {
        root_route: None,
        track: Some("stable"),
        tracestate: "ot=th:e",
        probability: 0.125,
        weight: 8.0,
    },
];

/// The root route [`RULES`]`[0]` names.
const ALWAYS_KEPT: RouteId = rt::F_CHECKOUT;

/// The rule for a trace whose root serves `route` on `track`.
pub fn rule_for(route: RouteId, track: Track) -> &'static SamplingRule {
    if route == ALWAYS_KEPT {
        return &RULES[0];
    }
    match track {
        Track::Canary => &RULES[1],
        Track::Stable => &RULES[2],
    }
}

/// The 56-bit rejection threshold of a `ot=th:` entry (hex digits padded with zeros on the
/// right to 14).
fn threshold(tracestate: &str) -> u64 {
    let th = tracestate
        .strip_prefix("ot=th:")
        .expect("rules write ot=th:");
    let padded = format!("{th:0<14}");
    u64::from_str_radix(&padded, 16).expect("rules write hex thresholds")
}

/// Whether the consistent sampler keeps `trace_id` at `rule`: `R ≥ T`, with `R` the trace
/// id's last 7 bytes.
pub fn keeps(trace_id: &[u8; 16], rule: &SamplingRule) -> bool {
    let mut r = [0u8; 8];
    r[1..].copy_from_slice(&trace_id[9..]);
    u64::from_be_bytes(r) >= threshold(rule.tracestate)
}

/// The rule for `trace`, decided by its root span.
fn trace_rule(trace: &SimTrace) -> &'static SamplingRule {
    let root = &trace.spans[0];
    let route = match root.op {
        Operation::Server { route, .. } => route,
        // Every generated trace starts at a frontend SERVER span; anything else is sampled
        // like any other root of its track.
        _ => usize::MAX,
    };
    debug_assert!(route == usize::MAX || SERVICES[ROUTES[route].service].name == "frontend");
    rule_for(route, root.track)
}

/// Samples `line` in place: every trace gets its rule's `tracestate` and weight, and the
/// traces the sampler drops are removed (callers record unsampled metrics first).
pub fn sample_line(line: &mut SimLine) {
    for t in &mut line.traces {
        let rule = trace_rule(t);
        t.tracestate = Some(rule.tracestate);
        t.weight = rule.weight;
    }
    line.traces.retain(|t| keeps(&t.trace_id, trace_rule(t)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::identity::tracestate_weight;

    #[test]
    fn rules_agree_with_the_weight_canalyst_reads() {
        for r in RULES {
            assert_eq!(tracestate_weight(r.tracestate), Some(r.weight), "{r:?}");
            let kept = ((1u64 << 56) - threshold(r.tracestate)) as f64 / (1u64 << 56) as f64;
            assert_eq!(kept, r.probability, "{r:?}");
            assert_eq!(r.weight * r.probability, 1.0);
        }
    }

    #[test]
    fn keeps_by_the_last_56_bits_of_the_trace_id() {
        let rule = &RULES[1]; // th:8: keep R ≥ 2^55
        let mut id = [0xffu8; 16];
        id[9] = 0x80;
        id[10..].fill(0);
        assert!(keeps(&id, rule), "R = 2^55 is kept");
        id[9] = 0x7f;
        id[10..].fill(0xff);
        assert!(!keeps(&id, rule), "R = 2^55 − 1 is dropped");
        // The first 9 bytes play no part.
        id[..9].fill(0);
        id[9] = 0x80;
        assert!(keeps(&id, rule));
        assert!(keeps(&[0; 16], &RULES[0]), "th:0 keeps everything");
    }

    #[test]
    fn rules_by_root_route_and_track() {
        assert_eq!(rule_for(rt::F_CHECKOUT, Track::Stable).weight, 1.0);
        assert_eq!(rule_for(rt::F_CHECKOUT, Track::Canary).weight, 1.0);
        assert_eq!(rule_for(rt::F_HOME, Track::Canary).weight, 2.0);
        assert_eq!(rule_for(rt::F_HOME, Track::Stable).weight, 8.0);
    }
}
