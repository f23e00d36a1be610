//! The `forensics` part of `truth.json`: every failing trace with the span that started its
//! failure, and the injected fault's error signature, computed from the simulated traces
//! before they are written (so from what was generated, not from what canalyst reads back).
//!
//! Definitions are those of `canalyst forensics` (README "Forensics"): a failing trace has an
//! error root span; its origin is the error span on the error path from the root (the error
//! spans reachable through error spans) with no error child on it, the deepest, ties by
//! earliest end then smallest span id; its track is the set of the sides canalyst reads on its
//! spans (a tracked service's own track, a mesh service's `deployment.stage` baggage
//! attribute; a mesh service without baggage is on neither side).
//!
//! The `downstream` part counts, per (untracked service, span name, originating track), the
//! spans starting at or after the canary start, and how their originating track is known:
//! from baggage, or from the trace tree (the nearest ancestor whose service has a track).
//!
//! The `structure` part counts, per track, the requests of the route the mesh's retry change
//! ([`MESH_RETRY`]) is on and the callee's SERVER spans in their subtrees, and names what the
//! structure diff must find and where it must find nothing.
//!
//! The `sampling` part sums, per service and side, the recorded requests from the canary
//! start on and their weights (each trace's head-sampling weight, 1 without
//! `--head-sampling`), Kish's effective sample size per side, and the services the
//! thin-sample warning must name.

use super::scenario::{
    FAULT_EXCEPTION_TYPE, FAULT_MESSAGE_TEMPLATE, MESH_BAD_REGION, MESH_BAGGAGE, MESH_CLIENT_KEY,
    MESH_PAIR, MESH_REGION_KEY, MESH_RETRY, MESH_SLOW_DB, MESH_SLOW_FACTOR, MESH_SLOW_PROBABILITY,
    MESH_UNTRACKED,
};
use super::simulate::{Operation, SimTrace};
use super::topology::{rt, svc, Track, ROUTES, SERVICES};
use crate::model::ids::to_hex;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One failing trace and its origin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TruthFailingTrace {
    /// Trace id, lower-case hex.
    pub trace_id: String,
    /// Root span start, ns since the Unix epoch.
    pub start_unix_nano: i64,
    /// `canary`, `stable`, `both` or `neither`: the sides of the trace's spans.
    pub track: &'static str,
    /// Origin span id, lower-case hex.
    pub origin_span_id: String,
    /// Origin service.
    pub origin_service: &'static str,
    /// Origin span name.
    pub origin_span_name: &'static str,
    /// Origin `exception.type`, if it recorded an exception.
    pub origin_exception_type: Option<&'static str>,
    /// Whether the origin is the injected fault.
    pub injected: bool,
    /// The trace's sampling weight (requests its spans stand for; 1 without head sampling).
    pub weight: f64,
}

/// The injected fault's error signature.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TruthSignature {
    /// Service.
    pub service: &'static str,
    /// Span name.
    pub span_name: &'static str,
    /// `exception.type`.
    pub exception_type: &'static str,
    /// Message template (canalyst's masking rules applied to the varying id).
    pub message_template: &'static str,
    /// Fault spans on canary instances from the canary start on.
    pub canary_count: u64,
    /// Fault spans on stable instances (always 0: the fault is canary-only).
    pub stable_count: u64,
    /// Distinct messages among them (more than one: the ids vary).
    pub distinct_messages: u64,
    /// The canary fault spans' weights summed (equal to `canary_count` without head
    /// sampling).
    pub canary_weighted: f64,
}

/// Spans of one (untracked service, span name, originating track) from the canary start on.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TruthDownstreamGroup {
    /// Service (one of the mesh's untracked services).
    pub service: &'static str,
    /// Span name (the operation).
    pub operation: &'static str,
    /// `canary` or `stable`: the track of the request that caused the span.
    pub origin_track: &'static str,
    /// Spans.
    pub spans: u64,
    /// Error spans among them.
    pub errors: u64,
    /// Spans whose originating track a `deployment.stage` span attribute carries.
    pub by_baggage: u64,
    /// Spans whose originating track only the trace tree gives.
    pub by_trace_tree: u64,
    /// Spans made slow by the mesh's injected database slowdown.
    pub slowed: u64,
}

/// An injected downstream regression: what `canalyst forensics` must find.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TruthDownstreamEffect {
    /// Service.
    pub service: &'static str,
    /// Span name.
    pub operation: &'static str,
    /// `error_rate` or `latency_p99`.
    pub metric: &'static str,
    /// What was injected.
    pub description: String,
}

/// The attribute the mesh concentrates canary frontend errors on, and the counts an attribute
/// diff of canary frontend requests (`--service frontend`, selection: error requests,
/// baseline: the other canary requests) must find, from the canary start on.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TruthAttribute {
    /// Span attribute key.
    pub key: &'static str,
    /// The value the errors concentrate on.
    pub value: &'static str,
    /// Canary frontend requests that are errors (the selection).
    pub selection_requests: u64,
    /// Canary frontend requests that are not (the baseline).
    pub baseline_requests: u64,
    /// Selection requests with the value.
    pub selection_with_value: u64,
    /// Baseline requests with the value.
    pub baseline_with_value: u64,
    /// The pair of values errors concentrate on only together.
    pub pair: TruthPair,
}

/// An error that needs two attribute values together: the keys, the values, and the canary
/// frontend requests with both, selection and baseline as in [`TruthAttribute`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TruthPair {
    /// The two span attribute keys.
    pub keys: [&'static str; 2],
    /// Their values.
    pub values: [&'static str; 2],
    /// Selection requests with both.
    pub selection_with_pair: u64,
    /// Baseline requests with both.
    pub baseline_with_pair: u64,
}

/// Requests of the structure change's route on one track, from the canary start on.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TruthStructureSide {
    /// Requests (SERVER spans of the route on the track that are not errors: the structure
    /// diff compares working requests).
    pub requests: u64,
    /// SERVER spans of the callee in their subtrees.
    pub calls: u64,
    /// Requests with at least one.
    pub requests_with_call: u64,
}

/// What the structure diff of the mesh must find.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StructureTruth {
    /// Service of the changed route.
    pub service: &'static str,
    /// The changed route (`http.route`).
    pub route: &'static str,
    /// Service of the operation called once more by canary requests.
    pub operation_service: &'static str,
    /// Its span name.
    pub operation: &'static str,
    /// What was injected.
    pub description: String,
    /// Canary requests of the route.
    pub canary: TruthStructureSide,
    /// Stable requests of the route.
    pub stable: TruthStructureSide,
    /// The route whose canary requests' critical path the slow database operation
    /// ([`MESH_SLOW_DB`]) grows: service and `http.route`.
    pub slow_route: (&'static str, &'static str),
    /// Services without an injected change: none of their routes may show one.
    pub clean_services: Vec<&'static str>,
}

/// The `downstream` part of the forensics truth (the mesh).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DownstreamTruth {
    /// Services without a track of their own.
    pub untracked_services: Vec<&'static str>,
    /// Those of them whose spans carry `deployment.stage` from baggage.
    pub baggage_services: Vec<&'static str>,
    /// Per (service, operation, originating track), sorted.
    pub groups: Vec<TruthDownstreamGroup>,
    /// Untracked spans with no tracked ancestor (no originating track).
    pub unattributed_spans: u64,
    /// The injected downstream regressions.
    pub effects: Vec<TruthDownstreamEffect>,
    #[serde(skip)]
    by_key: BTreeMap<(&'static str, &'static str, &'static str), TruthDownstreamGroup>,
}

/// Recorded requests of one service (or one side) and their weights, from the canary start
/// on: the entry (SERVER) spans whose side canalyst reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TruthWeights {
    /// Requests recorded.
    pub requests: u64,
    /// Their weights summed.
    pub weighted: f64,
    /// Their squared weights summed.
    pub weighted_sq: f64,
    /// Kish's effective sample size `(Σw)² / Σw²` (0 without requests).
    pub effective_sample_size: f64,
}

impl TruthWeights {
    fn add(&mut self, w: f64) {
        self.requests += 1;
        self.weighted += w;
        self.weighted_sq += w * w;
    }

    fn merge(&mut self, o: &TruthWeights) {
        self.requests += o.requests;
        self.weighted += o.weighted;
        self.weighted_sq += o.weighted_sq;
    }

    fn finish(&mut self) {
        if self.weighted_sq > 0.0 {
            self.effective_sample_size = self.weighted * self.weighted / self.weighted_sq;
        }
    }
}

/// One service's recorded requests on one side.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TruthServiceWeights {
    /// `service.name`.
    pub service: &'static str,
    /// `canary` or `stable`.
    pub side: &'static str,
    /// Requests and weights.
    #[serde(flatten)]
    pub weights: TruthWeights,
}

/// The head sampling of the run (`generate --head-sampling`) and what `forensics.json`'s
/// `sampling` object must say.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SamplingTruth {
    /// Whether the traces were head-sampled.
    pub head_sampled: bool,
    /// The sampler's rules ([`super::head_sampling::RULES`]), empty without head sampling.
    pub rules: Vec<super::head_sampling::SamplingRule>,
    /// Canary requests from the canary start on.
    pub canary: TruthWeights,
    /// Stable requests from the canary start on.
    pub stable: TruthWeights,
    /// Per service and side, sorted.
    pub services: Vec<TruthServiceWeights>,
    /// Canary requests a 95% interval of a p99 needs (analyze's `tail_samples_needed`).
    pub p99_needed: u64,
    /// Services whose canary recorded some requests but fewer than `p99_needed`: the ones
    /// the thin-sample warning must name.
    pub thin_canary_services: Vec<&'static str>,
    /// Whether the sides' mean weights differ by more than 10% (the rate warning fires).
    pub different_rates: bool,
    #[serde(skip)]
    by_key: BTreeMap<(&'static str, &'static str), TruthWeights>,
}

/// The `forensics` section of `truth.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ForensicsTruth {
    /// Failing traces whose root starts at or after the canary start, by start then trace id.
    pub failing_traces: Vec<TruthFailingTrace>,
    /// The injected fault's signature.
    pub fault_signature: TruthSignature,
    /// Downstream spans by originating track.
    pub downstream: DownstreamTruth,
    /// The attribute errors concentrate on.
    pub attribute: TruthAttribute,
    /// The structure change.
    pub structure: StructureTruth,
    /// The sampling weights.
    pub sampling: SamplingTruth,
    #[serde(skip)]
    messages: BTreeSet<String>,
}

impl ForensicsTruth {
    /// Records `trace` if its root starts at or after `since`.
    pub fn observe(&mut self, trace: &SimTrace, since: i64) {
        let spans = &trace.spans;
        for sp in spans
            .iter()
            .filter(|s| s.start_ns >= since && s.side() == Some(Track::Canary))
        {
            if let Operation::Server {
                region: Some(r),
                client,
                ..
            } = &sp.op
            {
                let a = &mut self.attribute;
                let hit = u64::from(*r == MESH_BAD_REGION);
                let pair = u64::from((*r, *client) == (MESH_PAIR.0, Some(MESH_PAIR.1)));
                if sp.error.is_some() {
                    a.selection_requests += 1;
                    a.selection_with_value += hit;
                    a.pair.selection_with_pair += pair;
                } else {
                    a.baseline_requests += 1;
                    a.baseline_with_value += hit;
                    a.pair.baseline_with_pair += pair;
                }
            }
        }
        for sp in spans.iter().filter(|s| s.untracked && s.start_ns >= since) {
            let Some(origin) = sp.origin else {
                self.downstream.unattributed_spans += 1;
                continue;
            };
            let key = (SERVICES[sp.service].name, sp.name, origin.name());
            let g = self.downstream.by_key.entry(key).or_default();
            g.spans += 1;
            g.errors += u64::from(sp.error.is_some());
            g.by_baggage += u64::from(sp.stage.is_some());
            g.by_trace_tree += u64::from(sp.stage.is_none());
            g.slowed += u64::from(sp.slowed);
        }
        self.observe_structure(trace, since);
        for r in trace.requests().filter(|r| r.start_ns >= since) {
            if let Some(side) = r.side {
                let key = (SERVICES[r.service].name, side.name());
                self.sampling
                    .by_key
                    .entry(key)
                    .or_default()
                    .add(trace.weight);
            }
        }
        let Some(root) = spans.first().filter(|r| r.start_ns >= since) else {
            return;
        };
        for sp in spans {
            if let Some(e) = sp.error.as_ref().filter(|e| e.fault) {
                self.fault_signature.canary_count += u64::from(sp.side() == Some(Track::Canary));
                if sp.side() == Some(Track::Canary) {
                    self.fault_signature.canary_weighted += trace.weight;
                }
                self.fault_signature.stable_count += u64::from(sp.side() == Some(Track::Stable));
                self.messages.insert(e.message.to_string());
                self.fault_signature.service = SERVICES[sp.service].name;
                self.fault_signature.span_name = sp.name;
            }
        }
        if root.error.is_none() {
            return;
        }
        // Parents precede children, so depths fill in one pass.
        let mut depth = vec![0u32; spans.len()];
        let mut on_path = vec![false; spans.len()];
        let mut has_error_child = vec![false; spans.len()];
        on_path[0] = true;
        for (i, sp) in spans.iter().enumerate().skip(1) {
            let p = sp.parent.expect("only the first span is a root");
            depth[i] = depth[p] + 1;
            on_path[i] = on_path[p] && sp.error.is_some();
            if on_path[i] {
                has_error_child[p] = true;
            }
        }
        let origin = (0..spans.len())
            .filter(|&i| on_path[i] && !has_error_child[i])
            .min_by_key(|&i| {
                (
                    std::cmp::Reverse(depth[i]),
                    spans[i].end_ns,
                    spans[i].span_id,
                )
            })
            .unwrap_or(0);
        let o = &spans[origin];
        let tracks: BTreeSet<Track> = spans.iter().filter_map(|s| s.side()).collect();
        let track = match (
            tracks.contains(&Track::Canary),
            tracks.contains(&Track::Stable),
        ) {
            (true, true) => "both",
            (true, false) => "canary",
            (false, true) => "stable",
            (false, false) => "neither",
        };
        self.failing_traces.push(TruthFailingTrace {
            trace_id: to_hex(&trace.trace_id),
            start_unix_nano: root.start_ns,
            track,
            origin_span_id: to_hex(&o.span_id),
            origin_service: SERVICES[o.service].name,
            origin_span_name: o.name,
            origin_exception_type: o.exception().map(|e| e.0),
            injected: o.error.as_ref().is_some_and(|e| e.fault),
            weight: trace.weight,
        });
    }

    /// Counts the requests of [`MESH_RETRY`]'s route and the callee's SERVER spans below them.
    fn observe_structure(&mut self, trace: &SimTrace, since: i64) {
        let spans = &trace.spans;
        let (caller, callee) = MESH_RETRY;
        let is_server = |s: &super::simulate::SimSpan, r: usize| matches!(s.op, Operation::Server { route, .. } if route == r);
        for (e, sp) in spans.iter().enumerate() {
            if sp.start_ns < since || sp.error.is_some() || !is_server(sp, caller) {
                continue;
            }
            let Some(track) = sp.side() else { continue };
            // Parents precede children: one pass marks the subtree.
            let mut under = vec![false; spans.len()];
            under[e] = true;
            let mut calls = 0;
            for j in e + 1..spans.len() {
                under[j] = spans[j].parent.is_some_and(|p| under[p]);
                calls += u64::from(under[j] && is_server(&spans[j], callee));
            }
            let s = match track {
                Track::Canary => &mut self.structure.canary,
                Track::Stable => &mut self.structure.stable,
            };
            s.requests += 1;
            s.calls += calls;
            s.requests_with_call += u64::from(calls > 0);
        }
    }

    /// Sums the sampling weights per side and names what the warnings must say.
    fn finish_sampling(&mut self, head_sampled: bool) {
        let sm = &mut self.sampling;
        sm.head_sampled = head_sampled;
        if head_sampled {
            sm.rules = super::head_sampling::RULES.to_vec();
        }
        sm.p99_needed = crate::analysis::judge::tail_samples_needed(0.99, 0.95);
        for ((service, side), w) in std::mem::take(&mut sm.by_key) {
            let total = if side == Track::Canary.name() {
                if w.requests < sm.p99_needed {
                    sm.thin_canary_services.push(service);
                }
                &mut sm.canary
            } else {
                &mut sm.stable
            };
            total.merge(&w);
            let mut weights = w;
            weights.finish();
            sm.services.push(TruthServiceWeights {
                service,
                side,
                weights,
            });
        }
        sm.canary.finish();
        sm.stable.finish();
        let mean = |w: &TruthWeights| w.weighted / w.requests.max(1) as f64;
        sm.different_rates = sm.canary.requests > 0
            && sm.stable.requests > 0
            && (mean(&sm.canary) / mean(&sm.stable) - 1.0).abs() > 0.1;
    }

    /// Adds the observations of a later chunk.
    pub fn merge(&mut self, o: &ForensicsTruth) {
        self.failing_traces.extend(o.failing_traces.iter().cloned());
        let (a, b) = (&mut self.fault_signature, &o.fault_signature);
        a.canary_count += b.canary_count;
        a.stable_count += b.stable_count;
        a.canary_weighted += b.canary_weighted;
        if !b.service.is_empty() {
            a.service = b.service;
            a.span_name = b.span_name;
        }
        self.messages.extend(o.messages.iter().cloned());
        let (a, b) = (&mut self.attribute, &o.attribute);
        a.selection_requests += b.selection_requests;
        a.baseline_requests += b.baseline_requests;
        a.selection_with_value += b.selection_with_value;
        a.baseline_with_value += b.baseline_with_value;
        a.pair.selection_with_pair += b.pair.selection_with_pair;
        a.pair.baseline_with_pair += b.pair.baseline_with_pair;
        for (a, b) in [
            (&mut self.structure.canary, &o.structure.canary),
            (&mut self.structure.stable, &o.structure.stable),
        ] {
            a.requests += b.requests;
            a.calls += b.calls;
            a.requests_with_call += b.requests_with_call;
        }
        for (k, w) in &o.sampling.by_key {
            self.sampling.by_key.entry(*k).or_default().merge(w);
        }
        let d = &mut self.downstream;
        d.unattributed_spans += o.downstream.unattributed_spans;
        for (k, g) in &o.downstream.by_key {
            let a = d.by_key.entry(*k).or_default();
            a.spans += g.spans;
            a.errors += g.errors;
            a.by_baggage += g.by_baggage;
            a.by_trace_tree += g.by_trace_tree;
            a.slowed += g.slowed;
        }
    }

    /// The section as written: traces sorted, the signature's constant fields filled, the
    /// sampling summed (`head_sampled`: whether [`super::head_sampling`] ran).
    pub fn finish(mut self, head_sampled: bool) -> Self {
        self.finish_sampling(head_sampled);
        self.failing_traces.sort_by(|a, b| {
            (a.start_unix_nano, &a.trace_id).cmp(&(b.start_unix_nano, &b.trace_id))
        });
        let s = &mut self.fault_signature;
        s.exception_type = FAULT_EXCEPTION_TYPE;
        s.message_template = FAULT_MESSAGE_TEMPLATE;
        s.distinct_messages = self.messages.len() as u64;
        self.attribute.key = MESH_REGION_KEY;
        self.attribute.value = MESH_BAD_REGION;
        self.attribute.pair.keys = [MESH_REGION_KEY, MESH_CLIENT_KEY];
        self.attribute.pair.values = [MESH_PAIR.0, MESH_PAIR.1];
        let d = &mut self.downstream;
        let name = |v: &[usize]| v.iter().map(|&i| SERVICES[i].name).collect();
        d.untracked_services = name(&MESH_UNTRACKED);
        d.baggage_services = name(&MESH_BAGGAGE);
        d.groups = std::mem::take(&mut d.by_key)
            .into_iter()
            .map(
                |((service, operation, origin_track), g)| TruthDownstreamGroup {
                    service,
                    operation,
                    origin_track,
                    ..g
                },
            )
            .collect();
        let (caller, callee) = (&ROUTES[MESH_RETRY.0], &ROUTES[MESH_RETRY.1]);
        let st = &mut self.structure;
        st.service = SERVICES[caller.service].name;
        st.route = caller.route;
        st.operation_service = SERVICES[callee.service].name;
        st.operation = callee.span_name;
        st.description = format!(
            "canary {} {} calls {} {} once more per request",
            st.service, caller.span_name, st.operation_service, callee.span_name
        );
        let product = &ROUTES[rt::F_PRODUCT];
        st.slow_route = (SERVICES[product.service].name, product.route);
        st.clean_services = [svc::PAYMENT, svc::CURRENCY, svc::SHIPPING]
            .iter()
            .map(|&s| SERVICES[s].name)
            .collect();
        let cart = &ROUTES[rt::CART_GET];
        d.effects = vec![
            TruthDownstreamEffect {
                service: SERVICES[cart.service].name,
                operation: cart.span_name,
                metric: "error_rate",
                description: format!(
                    "{FAULT_EXCEPTION_TYPE} in a share of the requests originating on the canary"
                ),
            },
            TruthDownstreamEffect {
                service: SERVICES[MESH_SLOW_DB.0].name,
                operation: MESH_SLOW_DB.1,
                metric: "latency_p99",
                description: format!(
                    "×{MESH_SLOW_FACTOR} slower on {:.0}% of the calls originating on the canary",
                    MESH_SLOW_PROBABILITY * 100.0
                ),
            },
        ];
        self
    }
}
