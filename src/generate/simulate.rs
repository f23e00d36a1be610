//! The simulated requests: one [`SimTrace`] per user request, with every span it caused.
//!
//! This is the internal model every writer consumes (OTLP JSON and the canonical table now;
//! OTLP metrics can be derived from [`SimTrace::requests`] the same way). A trace is a pure
//! function of (seed, trace index) and the plan, which is what makes parallel generation
//! byte-identical to sequential.

use super::plan::{rng_for, stream, TrafficPlan, LOAD_LATENCY};
use super::scenario::{
    MESH_BAD_REGION, MESH_BAGGAGE, MESH_CLIENTS, MESH_CLIENT_KEY, MESH_PAIR,
    MESH_PAIR_ERROR_PROBABILITY, MESH_REGIONS, MESH_REGION_ERROR_PROBABILITY, MESH_REGION_KEY,
    MESH_RETRY, MESH_SLOW_DB, MESH_SLOW_FACTOR, MESH_SLOW_PROBABILITY, MESH_UNTRACKED,
};
use super::topology::{rt, svc, RouteId, ServiceId, Step, Track, ROUTES, SERVICES};
use crate::model::identity::{kind, status};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::borrow::Cow;
use std::ops::Range;

/// Index of a resource: `service * 2 + track` for a (service, track) deployment, then
/// `2 · services + service` for the one deployment without a track a mesh service runs
/// ([`super::scenario::MESH_UNTRACKED`]).
pub type ResourceId = usize;

/// Number of distinct resources (every service has a stable and a canary deployment, and in
/// the mesh one without a track).
pub const RESOURCES: usize = SERVICES.len() * 3;

/// Resource id of `service` on `track`.
pub fn resource_id(service: ServiceId, track: Track) -> ResourceId {
    service * 2 + track as usize
}

/// Resource id of `service`'s deployment without a track (mesh only).
pub fn untracked_resource_id(service: ServiceId) -> ResourceId {
    SERVICES.len() * 2 + service
}

/// The spans of one resource within a line: `(resource, [(trace index, span index)])`.
pub type ResourceGroup = (ResourceId, Vec<(usize, usize)>);

/// An attribute value, typed as OTLP `AnyValue` carries it.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// `stringValue`.
    Str(Cow<'static, str>),
    /// `intValue` (a decimal string in OTLP/JSON).
    Int(i64),
    /// `boolValue`.
    Bool(bool),
}

impl AttrValue {
    /// The value as the canonical table renders attributes (see `SpanRecord`).
    pub fn render(&self) -> String {
        match self {
            AttrValue::Str(s) => s.to_string(),
            AttrValue::Int(i) => i.to_string(),
            AttrValue::Bool(b) => b.to_string(),
        }
    }
}

/// A key and its value.
pub type Attr = (&'static str, AttrValue);

fn s(v: impl Into<Cow<'static, str>>) -> AttrValue {
    AttrValue::Str(v.into())
}

/// What a span did.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// Served an HTTP request (SERVER span).
    Server {
        /// Route served.
        route: RouteId,
        /// `url.path` with real ids.
        path: String,
        /// `url.query`, if any.
        query: Option<String>,
        /// `http.response.status_code`.
        status: u16,
        /// `app.region` of a mesh frontend request ([`MESH_REGION_KEY`]).
        region: Option<&'static str>,
        /// `app.client` of a mesh frontend request ([`MESH_CLIENT_KEY`]).
        client: Option<&'static str>,
    },
    /// Called another service over HTTP (CLIENT span).
    Client {
        /// Callee route.
        callee: RouteId,
        /// Path requested.
        path: String,
        /// Query string, if any.
        query: Option<String>,
        /// Status the callee returned.
        status: u16,
    },
    /// Queried a database (CLIENT span).
    Db {
        /// The step's description (system, operation, table, query text).
        step: &'static Step,
    },
    /// In-process work (INTERNAL span).
    Internal,
}

/// Why a span has status ERROR.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanError {
    /// Status message.
    pub message: Cow<'static, str>,
    /// Time of the `exception` event when the span recorded one (own failures); its type,
    /// message and stack trace are the serving service's ([`SERVICES`]).
    pub exception_at: Option<i64>,
    /// The exception is the scenario's injected fault ([`super::scenario::FAULT_EXCEPTION_TYPE`],
    /// with `message` as its message) rather than the service's own.
    pub fault: bool,
}

/// One span of a simulated trace.
#[derive(Debug, Clone, PartialEq)]
pub struct SimSpan {
    /// Span id.
    pub span_id: [u8; 8],
    /// Index of the parent within [`SimTrace::spans`] (parents precede children).
    pub parent: Option<usize>,
    /// Service that recorded the span.
    pub service: ServiceId,
    /// Deployment that recorded it.
    pub track: Track,
    /// OTLP span kind.
    pub kind: i32,
    /// Span name.
    pub name: &'static str,
    /// Start, Unix ns.
    pub start_ns: i64,
    /// End, Unix ns.
    pub end_ns: i64,
    /// What it did.
    pub op: Operation,
    /// Set when the span's status is ERROR.
    pub error: Option<SpanError>,
    /// The service runs one deployment without a track of its own (mesh only); `track` is
    /// then [`Track::Stable`] and the resource has no `deployment.track`.
    pub untracked: bool,
    /// Originating track: the span's own for a tracked service, else the nearest tracked
    /// ancestor's (`None` when there is none).
    pub origin: Option<Track>,
    /// `deployment.stage` span attribute copied from W3C baggage (mesh services with a
    /// BaggageSpanProcessor): the originating track.
    pub stage: Option<Track>,
    /// The mesh's database slowdown hit this span ([`MESH_SLOW_DB`]).
    pub slowed: bool,
    /// Parent span id written instead of `parent`'s (`generate --trace-defects`: a missing
    /// parent or a cycle; see [`super::defects`]).
    pub parent_override: Option<[u8; 8]>,
}

impl SimSpan {
    /// The resource that recorded the span.
    pub fn resource(&self) -> ResourceId {
        if self.untracked {
            untracked_resource_id(self.service)
        } else {
            resource_id(self.service, self.track)
        }
    }

    /// The parent span id written for the span in `trace`.
    pub fn parent_span_id(&self, trace: &SimTrace) -> Option<[u8; 8]> {
        self.parent_override
            .or_else(|| self.parent.map(|p| trace.spans[p].span_id))
    }

    /// The side canalyst reads for the span: its resource's track, else the track its span
    /// attributes carry (`deployment.stage`), else none.
    pub fn side(&self) -> Option<Track> {
        if self.untracked {
            self.stage
        } else {
            Some(self.track)
        }
    }

    /// `exception.type` and `exception.message` of the span's exception event, if it
    /// recorded one: the injected fault's, else its service's.
    pub fn exception(&self) -> Option<(&'static str, &str)> {
        let e = self.error.as_ref().filter(|e| e.exception_at.is_some())?;
        if e.fault {
            return Some((super::scenario::FAULT_EXCEPTION_TYPE, &e.message));
        }
        let svc = &SERVICES[self.service];
        Some((svc.exception_type, svc.exception_message))
    }
}

/// A served request as a metrics writer sees it (one per SERVER span).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    /// Serving service.
    pub service: ServiceId,
    /// Serving deployment.
    pub track: Track,
    /// Serving resource ([`SimSpan::resource`]).
    pub resource: ResourceId,
    /// The side canalyst reads for the request ([`SimSpan::side`]).
    pub side: Option<Track>,
    /// Route.
    pub route: RouteId,
    /// Start, Unix ns.
    pub start_ns: i64,
    /// Duration, ns.
    pub duration_ns: i64,
    /// HTTP status returned.
    pub status: u16,
    /// Whether the span's status is ERROR.
    pub error: bool,
}

/// One simulated trace.
#[derive(Debug, Clone, PartialEq)]
pub struct SimTrace {
    /// Trace id.
    pub trace_id: [u8; 16],
    /// Spans, parents before children.
    pub spans: Vec<SimSpan>,
    /// W3C `tracestate` of every span (`generate --head-sampling`; see
    /// [`super::head_sampling`]), else none.
    pub tracestate: Option<&'static str>,
    /// The requests each span stands for (1 without head sampling).
    pub weight: f64,
}

impl SimTrace {
    /// The SERVER spans as requests.
    pub fn requests(&self) -> impl Iterator<Item = Request> + '_ {
        self.spans.iter().filter_map(|sp| match &sp.op {
            Operation::Server { route, status, .. } => Some(Request {
                service: sp.service,
                track: sp.track,
                resource: sp.resource(),
                side: sp.side(),
                route: *route,
                start_ns: sp.start_ns,
                duration_ns: sp.end_ns - sp.start_ns,
                status: *status,
                error: sp.error.is_some(),
            }),
            _ => None,
        })
    }

    /// Span indices in the order SDKs export them: by end time (children before parents),
    /// ties by creation order.
    pub fn export_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.spans.len()).collect();
        order.sort_by_key(|&i| (self.spans[i].end_ns, i));
        order
    }
}

/// One output line: the traces one Collector batch carried.
#[derive(Debug, Clone)]
pub struct SimLine {
    /// 1-based line number in the JSON file.
    pub line_no: u64,
    /// The traces, in start order.
    pub traces: Vec<SimTrace>,
}

impl SimLine {
    /// Simulates line `index` of `plan`.
    pub fn simulate(plan: &TrafficPlan, index: usize) -> Self {
        let range: Range<usize> = plan.lines[index].clone();
        Self {
            line_no: index as u64 + 1,
            traces: range.map(|i| simulate_trace(plan, i)).collect(),
        }
    }

    /// The line's spans grouped by resource (resource order, then trace order, then export
    /// order), for every resource present.
    pub fn by_resource(&self) -> Vec<ResourceGroup> {
        let mut groups: Vec<Vec<(usize, usize)>> = vec![Vec::new(); RESOURCES];
        for (t, trace) in self.traces.iter().enumerate() {
            for i in trace.export_order() {
                let sp = &trace.spans[i];
                groups[sp.resource()].push((t, i));
            }
        }
        groups
            .into_iter()
            .enumerate()
            .filter(|(_, g)| !g.is_empty())
            .collect()
    }
}

fn ms_to_ns(ms: f64) -> i64 {
    ((ms * 1e6).round() as i64).max(1_000)
}

/// A standard normal draw by the Box–Muller transform (Box & Muller, "A Note on the
/// Generation of Random Normal Deviates", Ann. Math. Stat. 29, 1958), with `libm`'s pure-Rust
/// `log`/`cos` so that the value is the same on every platform (the system libm may differ in
/// the last bit, which would change output bytes).
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    // 1 − u ∈ (0, 1] keeps the logarithm finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * libm::log(u1)).sqrt() * libm::cos(std::f64::consts::TAU * u2)
}

fn lognormal_ms(rng: &mut ChaCha8Rng, median_ms: f64, sigma: f64) -> f64 {
    median_ms * libm::exp(sigma * standard_normal(rng))
}

const SEARCH_TERMS: &[&str] = &[
    "telescope",
    "lens",
    "tripod",
    "binoculars",
    "star+chart",
    "eyepiece",
    "filter",
    "mount",
];

struct Sim<'a> {
    plan: &'a TrafficPlan,
    rng: ChaCha8Rng,
    start_ns: i64,
    canary_open: bool,
    latency_load: f64,
    tracks: [Option<Track>; SERVICES.len()],
    product_id: u32,
    search: &'static str,
    spans: Vec<SimSpan>,
}

/// Outcome of a served request, as the caller sees it.
struct Served {
    end_ns: i64,
    status: u16,
    failed: bool,
}

impl Sim<'_> {
    /// Instance of `service` this trace uses: drawn once per service per trace, canary with
    /// probability `canary_share` once the canary is up.
    fn track(&mut self, service: ServiceId) -> Track {
        if let Some(t) = self.tracks[service] {
            return t;
        }
        let t = if self.canary_open && self.rng.random::<f64>() < self.plan.params.canary_share {
            Track::Canary
        } else {
            Track::Stable
        };
        self.tracks[service] = Some(t);
        t
    }

    fn span_id(&mut self) -> [u8; 8] {
        let mut id: [u8; 8] = self.rng.random();
        if id == [0; 8] {
            id[7] = 1;
        }
        id
    }

    fn push(&mut self, span: SimSpan) -> usize {
        self.spans.push(span);
        self.spans.len() - 1
    }

    fn target(&mut self, route: RouteId) -> (String, Option<String>) {
        let r = &ROUTES[route];
        let path = r.route.replace("{id}", &self.product_id.to_string());
        let query = match route {
            rt::F_SEARCH | rt::PC_SEARCH => Some(format!("q={}", self.search)),
            _ => None,
        };
        (path, query)
    }

    fn network_ns(&mut self) -> i64 {
        ms_to_ns(lognormal_ms(&mut self.rng, 0.35, 0.4))
    }

    fn gap_ns(&mut self) -> i64 {
        self.rng.random_range(20_000..120_000)
    }

    /// Serves `route` starting at `start`; returns when and how it ended.
    fn serve(&mut self, route_id: RouteId, start: i64, parent: Option<usize>) -> Served {
        let r = &ROUTES[route_id];
        let mesh = self.plan.params.scenario.mesh();
        let untracked = mesh && MESH_UNTRACKED.contains(&r.service);
        let track = if untracked {
            Track::Stable
        } else {
            self.track(r.service)
        };
        // Before the onset the canary is healthy (`--onset-minutes`): its requests draw the
        // same numbers but no effect applies.
        let effective = self.start_ns >= self.plan.effect_onset_ns();
        let canary = track == Track::Canary && effective;
        // Tracked services put their own track into baggage for everything they call;
        // untracked ones pass the caller's on.
        let origin = if untracked {
            parent.and_then(|p| self.spans[p].origin)
        } else {
            Some(track)
        };
        let stage = origin.filter(|_| untracked && MESH_BAGGAGE.contains(&r.service));
        let from_canary = origin == Some(Track::Canary) && effective;
        let effects = &self.plan.effect_table;
        let mut own_ms =
            lognormal_ms(&mut self.rng, r.latency.median_ms, r.latency.sigma) * self.latency_load;
        let u_tail: f64 = self.rng.random();
        let mut error_rate = r.error_rate;
        if canary {
            own_ms *= effects.latency_factor(route_id, u_tail);
            error_rate *= effects.error_factor(route_id);
        }
        // The fault draws only where a fault is injected, so other scenarios' streams are
        // unchanged.
        let fault_p = if from_canary {
            effects.fault_probability(route_id)
        } else {
            0.0
        };
        let fault = (fault_p > 0.0 && self.rng.random::<f64>() < fault_p)
            .then(|| super::scenario::fault_message(self.rng.random()));
        // The region is drawn only for the mesh's frontend, so other streams stay.
        let region = (mesh && r.service == svc::FRONTEND)
            .then(|| MESH_REGIONS[self.rng.random_range(0..MESH_REGIONS.len())]);
        let region_error = canary
            && region == Some(MESH_BAD_REGION)
            && self.rng.random::<f64>() < MESH_REGION_ERROR_PROBABILITY;
        let client = (mesh && r.service == svc::FRONTEND)
            .then(|| MESH_CLIENTS[self.rng.random_range(0..MESH_CLIENTS.len())]);
        let pair_error = canary
            && (region, client) == (Some(MESH_PAIR.0), Some(MESH_PAIR.1))
            && self.rng.random::<f64>() < MESH_PAIR_ERROR_PROBABILITY;
        let own_error =
            fault.is_some() || region_error || pair_error || self.rng.random::<f64>() < error_rate;
        let not_found = !own_error && self.rng.random::<f64>() < r.not_found_rate;
        let (path, query) = self.target(route_id);
        let span_id = self.span_id();
        let idx = self.push(SimSpan {
            span_id,
            parent,
            service: r.service,
            track,
            kind: kind::SERVER,
            name: r.span_name,
            start_ns: start,
            end_ns: start,
            op: Operation::Server {
                route: route_id,
                path,
                query,
                status: 200,
                region,
                client,
            },
            error: None,
            untracked,
            origin,
            stage,
            slowed: false,
            parent_override: None,
        });
        let own_ns = ms_to_ns(own_ms);
        let pre = (own_ns as f64 * self.rng.random_range(0.04..0.12)) as i64;
        let mut cursor = start + pre;
        // A failing request stops somewhere in its work; a 404 stops after the first lookup.
        let n_steps = r.steps.len();
        let cut = if own_error {
            self.rng.random_range(0..=n_steps)
        } else if not_found {
            n_steps.min(1)
        } else {
            n_steps
        };
        let mut upstream: Option<(ServiceId, u16)> = None;
        'steps: for step in &r.steps[..cut] {
            match step {
                Step::Http {
                    route: callee,
                    prob,
                    reps,
                    propagate,
                } => {
                    if self.rng.random::<f64>() >= *prob {
                        continue;
                    }
                    let retry = mesh && canary && (route_id, *callee) == MESH_RETRY;
                    let n = self.rng.random_range(reps.0..=reps.1) + u32::from(retry);
                    for rep in 0..n {
                        if rep > 0 {
                            self.product_id = self.rng.random_range(10_000..100_000);
                        }
                        let (path, query) = self.target(*callee);
                        let span_id = self.span_id();
                        let client = self.push(SimSpan {
                            span_id,
                            parent: Some(idx),
                            service: r.service,
                            track,
                            kind: kind::CLIENT,
                            name: ROUTES[*callee].span_name,
                            start_ns: cursor,
                            end_ns: cursor,
                            op: Operation::Client {
                                callee: *callee,
                                path,
                                query,
                                status: 0,
                            },
                            error: None,
                            untracked,
                            origin,
                            stage,
                            slowed: false,
                            parent_override: None,
                        });
                        let server_start = cursor + self.network_ns();
                        let out = self.serve(*callee, server_start, Some(client));
                        let end = out.end_ns + self.network_ns();
                        let c = &mut self.spans[client];
                        c.end_ns = end;
                        if let Operation::Client { status, .. } = &mut c.op {
                            *status = out.status;
                        }
                        if out.status >= 500 {
                            c.error = Some(SpanError {
                                message: Cow::Owned(format!("HTTP {}", out.status)),
                                exception_at: None,
                                fault: false,
                            });
                        }
                        cursor = end + self.gap_ns();
                        if out.failed && self.rng.random::<f64>() < *propagate {
                            upstream = Some((ROUTES[*callee].service, out.status));
                            break 'steps;
                        }
                    }
                }
                Step::Db {
                    name,
                    latency,
                    error_rate,
                    ..
                } => {
                    let mut dur_ms = lognormal_ms(&mut self.rng, latency.median_ms, latency.sigma)
                        * self.latency_load;
                    // Drawn only where the mesh's slow operation runs, so other streams stay.
                    let slowed = from_canary
                        && mesh
                        && (r.service, *name) == MESH_SLOW_DB
                        && self.rng.random::<f64>() < MESH_SLOW_PROBABILITY;
                    if slowed {
                        dur_ms *= MESH_SLOW_FACTOR;
                    }
                    let dur = ms_to_ns(dur_ms);
                    let failed = self.rng.random::<f64>() < *error_rate;
                    let span_id = self.span_id();
                    let service = &SERVICES[r.service];
                    self.push(SimSpan {
                        span_id,
                        parent: Some(idx),
                        service: r.service,
                        track,
                        kind: kind::CLIENT,
                        name,
                        start_ns: cursor,
                        end_ns: cursor + dur,
                        op: Operation::Db { step },
                        error: failed.then(|| SpanError {
                            message: Cow::Borrowed(service.exception_message),
                            exception_at: Some(cursor + dur),
                            fault: false,
                        }),
                        untracked,
                        origin,
                        stage,
                        slowed,
                        parent_override: None,
                    });
                    cursor += dur + self.gap_ns();
                    if failed {
                        upstream = Some((r.service, 500));
                        break 'steps;
                    }
                }
                Step::Internal { name, latency } => {
                    let dur = ms_to_ns(lognormal_ms(
                        &mut self.rng,
                        latency.median_ms,
                        latency.sigma,
                    ));
                    let span_id = self.span_id();
                    self.push(SimSpan {
                        span_id,
                        parent: Some(idx),
                        service: r.service,
                        track,
                        kind: kind::INTERNAL,
                        name,
                        start_ns: cursor,
                        end_ns: cursor + dur,
                        op: Operation::Internal,
                        error: None,
                        untracked,
                        origin,
                        stage,
                        slowed: false,
                        parent_override: None,
                    });
                    cursor += dur + self.gap_ns();
                }
            }
        }
        // The span covers its own processing time, and never less than its children plus a
        // little work after the last one.
        let post = (own_ns as f64 * self.rng.random_range(0.02..0.06)) as i64;
        let end = (start + own_ns).max(cursor + post);
        let (status, error) = if own_error {
            let code = if self.rng.random::<f64>() < 0.7 {
                500
            } else {
                503
            };
            let exc_at = self.rng.random_range(cursor.min(end - 1)..end);
            let svc = &SERVICES[r.service];
            let is_fault = fault.is_some();
            (
                code,
                Some(SpanError {
                    message: fault.map_or(Cow::Borrowed(svc.exception_message), Cow::Owned),
                    exception_at: Some(exc_at),
                    fault: is_fault,
                }),
            )
        } else if let Some((callee, callee_code)) = upstream {
            // A gateway answers 502 for a failed upstream, passing 503 (overload) through.
            let code = if callee_code == 503 { 503 } else { 502 };
            let message = if callee == r.service {
                Cow::Borrowed("database error")
            } else {
                Cow::Owned(format!(
                    "upstream {} returned {callee_code}",
                    SERVICES[callee].name
                ))
            };
            (
                code,
                Some(SpanError {
                    message,
                    exception_at: None,
                    fault: false,
                }),
            )
        } else if not_found {
            (404, None)
        } else {
            (200, None)
        };
        let sp = &mut self.spans[idx];
        sp.end_ns = end;
        if let Operation::Server { status: st, .. } = &mut sp.op {
            *st = status;
        }
        let failed = error.is_some();
        sp.error = error;
        Served {
            end_ns: end,
            status,
            failed,
        }
    }
}

/// Simulates trace `index` of `plan`.
pub fn simulate_trace(plan: &TrafficPlan, index: usize) -> SimTrace {
    let mut rng = rng_for(plan.params.seed, stream::TRACE, index as u64);
    let mut trace_id: [u8; 16] = rng.random();
    if trace_id == [0; 16] {
        trace_id[15] = 1;
    }
    let start_ns = plan.trace_start[index];
    let entry = plan.entry_route(rng.random());
    let product_id = rng.random_range(10_000..100_000);
    let search = SEARCH_TERMS[rng.random_range(0..SEARCH_TERMS.len())];
    let mut sim = Sim {
        plan,
        rng,
        start_ns,
        canary_open: start_ns >= plan.canary_start_ns(),
        latency_load: 1.0 + LOAD_LATENCY * (plan.load(start_ns) - 1.0),
        tracks: [None; SERVICES.len()],
        product_id,
        search,
        spans: Vec::with_capacity(16),
    };
    sim.serve(entry, sim.start_ns, None);
    debug_assert_eq!(ROUTES[entry].service, svc::FRONTEND);
    SimTrace {
        trace_id,
        spans: sim.spans,
        tracestate: None,
        weight: 1.0,
    }
}

/// Attributes of a span, in the order SDK instrumentations commonly set them, following the
/// OpenTelemetry HTTP and database semantic conventions (v1.26+ names).
pub fn span_attributes(sp: &SimSpan) -> Vec<Attr> {
    let service = &SERVICES[sp.service];
    let mut a: Vec<Attr> = Vec::with_capacity(10);
    match &sp.op {
        Operation::Server {
            route,
            path,
            query,
            status,
            region,
            client,
        } => {
            let r = &ROUTES[*route];
            let frontend = sp.service == svc::FRONTEND;
            a.push(("http.request.method", s(r.method)));
            a.push(("url.scheme", s(if frontend { "https" } else { "http" })));
            a.push(("url.path", s(path.clone())));
            if let Some(q) = query {
                a.push(("url.query", s(q.clone())));
            }
            a.push(("http.route", s(r.route)));
            a.push((
                "server.address",
                s(if frontend {
                    "shop.example.com"
                } else {
                    service.name
                }),
            ));
            a.push((
                "server.port",
                AttrValue::Int(if frontend { 443 } else { service.port }),
            ));
            a.push(("network.protocol.version", s("1.1")));
            a.push((
                "http.response.status_code",
                AttrValue::Int(i64::from(*status)),
            ));
            if *status >= 500 {
                a.push(("error.type", s(status.to_string())));
            }
            if let Some(r) = region {
                a.push((MESH_REGION_KEY, s(*r)));
            }
            if let Some(c) = client {
                a.push((MESH_CLIENT_KEY, s(*c)));
            }
        }
        Operation::Client {
            callee,
            path,
            query,
            status,
        } => {
            let r = &ROUTES[*callee];
            let target = &SERVICES[r.service];
            a.push(("http.request.method", s(r.method)));
            a.push(("server.address", s(target.name)));
            a.push(("server.port", AttrValue::Int(target.port)));
            let q = query
                .as_deref()
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            a.push((
                "url.full",
                s(format!("http://{}:{}{path}{q}", target.name, target.port)),
            ));
            // The span name is `{method} {url.template}`, as the HTTP conventions name client
            // spans when the template is known.
            a.push(("url.template", s(r.route)));
            a.push((
                "http.response.status_code",
                AttrValue::Int(i64::from(*status)),
            ));
            if *status >= 500 {
                a.push(("error.type", s(status.to_string())));
            }
        }
        Operation::Db { step } => {
            if let Step::Db {
                system,
                operation,
                collection,
                query,
                ..
            } = step
            {
                let redis = *system == "redis";
                a.push(("db.system", s(*system)));
                a.push(("db.namespace", s(if redis { "0" } else { "shop" })));
                a.push(("db.operation.name", s(*operation)));
                a.push(("db.collection.name", s(*collection)));
                if let Some(q) = query {
                    a.push(("db.query.text", s(*q)));
                }
                a.push((
                    "server.address",
                    s(if redis { "redis-cart" } else { "postgres" }),
                ));
                a.push((
                    "server.port",
                    AttrValue::Int(if redis { 6379 } else { 5432 }),
                ));
            }
            if let Some((t, _)) = sp.exception() {
                a.push(("error.type", s(t)));
            }
        }
        Operation::Internal => {
            a.push(("code.namespace", s(service.name)));
        }
    }
    if let Some(t) = sp.stage {
        a.push(("deployment.stage", s(t.name())));
    }
    a
}

/// Attributes of the `exception` event of a span that recorded one.
pub fn exception_attributes(sp: &SimSpan) -> Vec<Attr> {
    let service = &SERVICES[sp.service];
    let (t, m) = sp
        .exception()
        .unwrap_or((service.exception_type, service.exception_message));
    vec![
        ("exception.type", s(t)),
        ("exception.message", AttrValue::Str(m.to_string().into())),
        ("exception.stacktrace", s(service.stacktrace)),
        ("exception.escaped", AttrValue::Bool(false)),
    ]
}

/// OTLP status code of a span.
pub fn status_code(sp: &SimSpan) -> i32 {
    if sp.error.is_some() {
        status::ERROR
    } else {
        status::UNSET
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::plan::PlanParams;
    use super::super::scenario::Scenario;
    use super::*;
    use crate::model::time::NS_PER_SEC;

    pub(crate) fn plan(scenario: Scenario, spans: u64, canary_share: f64) -> TrafficPlan {
        TrafficPlan::new(PlanParams {
            scenario,
            seed: 42,
            spans,
            canary_share,
            start_ns: 1_767_225_600 * NS_PER_SEC,
            duration_ns: 3600 * NS_PER_SEC,
            canary_delay_ns: 300 * NS_PER_SEC,
            effect_onset_ns: 300 * NS_PER_SEC,
            effect_size: None,
        })
    }

    fn median(v: &mut [f64]) -> f64 {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            0.5 * (v[n / 2 - 1] + v[n / 2])
        }
    }

    fn quantile(v: &mut [f64], q: f64) -> f64 {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * q).round() as usize]
    }

    #[test]
    fn lognormal_median_and_spread() {
        let mut rng = rng_for(42, 99, 0);
        let mut v: Vec<f64> = (0..20_000)
            .map(|_| lognormal_ms(&mut rng, 30.0, 0.5))
            .collect();
        let m = median(&mut v);
        // Standard error of the median ≈ 1.2533·σ_log·median/√n ≈ 0.13 ms: allow 4 of those.
        assert!((m / 30.0 - 1.0).abs() < 0.02, "median {m}");
        let p99 = quantile(&mut v, 0.99);
        let expected = 30.0 * (0.5 * 2.326_348f64).exp();
        assert!(
            (p99 / expected - 1.0).abs() < 0.06,
            "p99 {p99} vs {expected}"
        );
    }

    #[test]
    fn children_lie_within_parents_and_ids_are_unique() {
        let p = plan(Scenario::Mixed, 30_000, 0.1);
        for i in 0..p.traces() {
            let t = simulate_trace(&p, i);
            assert_eq!(t.spans[0].parent, None);
            assert_eq!(t.spans[0].kind, kind::SERVER);
            let mut ids: Vec<_> = t.spans.iter().map(|s| s.span_id).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), t.spans.len());
            for (j, sp) in t.spans.iter().enumerate() {
                assert!(sp.end_ns > sp.start_ns, "trace {i} span {j}");
                if let Some(pi) = sp.parent {
                    assert!(pi < j);
                    let parent = &t.spans[pi];
                    assert!(sp.start_ns >= parent.start_ns && sp.end_ns <= parent.end_ns);
                    // A SERVER child is served by another service; its parent is the caller's
                    // CLIENT span.
                    if sp.kind == kind::SERVER {
                        assert_eq!(parent.kind, kind::CLIENT);
                        assert_ne!(parent.service, sp.service);
                    }
                }
            }
        }
    }

    #[test]
    fn simulation_is_a_function_of_seed_and_index() {
        let p = plan(Scenario::Mixed, 5_000, 0.1);
        assert_eq!(simulate_trace(&p, 17), simulate_trace(&p, 17));
        assert_ne!(
            simulate_trace(&p, 17).trace_id,
            simulate_trace(&p, 18).trace_id
        );
    }

    /// `n` requests to `route` served with every service on `track` (first request at the
    /// canary start), returning the requests to `route` only.
    fn serve_many(p: &TrafficPlan, route: RouteId, track: Track, n: usize) -> Vec<Request> {
        let mut sim = Sim {
            plan: p,
            rng: rng_for(1, 77, track as u64),
            start_ns: p.canary_start_ns(),
            canary_open: true,
            latency_load: 1.0,
            tracks: [Some(track); SERVICES.len()],
            product_id: 12345,
            search: "lens",
            spans: Vec::new(),
        };
        (0..n)
            .filter_map(|_| {
                sim.spans.clear();
                sim.serve(route, p.canary_start_ns(), None);
                let t = SimTrace {
                    trace_id: [1; 16],
                    spans: std::mem::take(&mut sim.spans),
                    tracestate: None,
                    weight: 1.0,
                };
                let found = t.requests().find(|r| r.route == route);
                found
            })
            .collect()
    }

    fn ms(v: &[Request]) -> Vec<f64> {
        v.iter().map(|r| r.duration_ns as f64 / 1e6).collect()
    }

    fn error_rate(v: &[Request]) -> f64 {
        v.iter().filter(|r| r.error).count() as f64 / v.len() as f64
    }

    #[test]
    fn latency_shift_applies_only_to_the_canary() {
        let p = plan(Scenario::Latency, 10_000, 0.1);
        let st = serve_many(&p, rt::CO_CHECKOUT, Track::Stable, 20_000);
        let ca = serve_many(&p, rt::CO_CHECKOUT, Track::Canary, 20_000);
        let (mut st, mut ca) = (ms(&st), ms(&ca));
        let ratio = median(&mut ca) / median(&mut st);
        assert!((ratio - 1.3).abs() < 0.05, "checkout median ratio {ratio}");
        // The processing time dominates the children, so the whole distribution shifts.
        let r99 = quantile(&mut ca, 0.99) / quantile(&mut st, 0.99);
        assert!((r99 - 1.3).abs() < 0.1, "checkout p99 ratio {r99}");
        // Routes without an effect are identical in distribution.
        let st = serve_many(&p, rt::PC_LIST, Track::Stable, 20_000);
        let ca = serve_many(&p, rt::PC_LIST, Track::Canary, 20_000);
        let ratio = median(&mut ms(&ca)) / median(&mut ms(&st));
        assert!(
            (ratio - 1.0).abs() < 0.03,
            "clean route median ratio {ratio}"
        );
    }

    #[test]
    fn before_the_onset_the_canary_carries_no_effect() {
        let mut p = plan(Scenario::Latency, 10_000, 0.1);
        p.params.effect_onset_ns = 1200 * NS_PER_SEC;
        assert_eq!(p.effect_onset_ns(), p.params.start_ns + 1200 * NS_PER_SEC);
        // serve_many serves at the canary start, 15 minutes before this onset.
        let st = serve_many(&p, rt::CO_CHECKOUT, Track::Stable, 20_000);
        let ca = serve_many(&p, rt::CO_CHECKOUT, Track::Canary, 20_000);
        let ratio = median(&mut ms(&ca)) / median(&mut ms(&st));
        assert!(
            (ratio - 1.0).abs() < 0.03,
            "median ratio before the onset {ratio}"
        );
    }

    #[test]
    fn tail_effect_moves_p99_only() {
        let p = plan(Scenario::Tail, 10_000, 0.1);
        let mut st = ms(&serve_many(&p, rt::PC_GET, Track::Stable, 40_000));
        let mut ca = ms(&serve_many(&p, rt::PC_GET, Track::Canary, 40_000));
        let r50 = median(&mut ca) / median(&mut st);
        let r99 = quantile(&mut ca, 0.99) / quantile(&mut st, 0.99);
        assert!((r50 - 1.0).abs() < 0.04, "median ratio {r50}");
        assert!((r99 / 2.5 - 1.0).abs() < 0.12, "p99 ratio {r99}");
    }

    #[test]
    fn error_effect_applies_only_to_the_canary() {
        let p = plan(Scenario::Errors, 10_000, 0.1);
        let st = error_rate(&serve_many(&p, rt::PAY_CHARGE, Track::Stable, 40_000));
        let ca = error_rate(&serve_many(&p, rt::PAY_CHARGE, Track::Canary, 40_000));
        // Own rate 0.8% (+0.05% database failures): ×5 on the canary.
        assert!((st - 0.0085).abs() < 0.002, "stable {st}");
        assert!((ca / st - 5.0).abs() < 1.0, "ratio {}", ca / st);
        let st = error_rate(&serve_many(&p, rt::F_HOME, Track::Stable, 40_000));
        let ca = error_rate(&serve_many(&p, rt::F_HOME, Track::Canary, 40_000));
        assert!((ca - st).abs() < 0.002, "clean route {st} vs {ca}");
    }

    #[test]
    fn no_canary_before_it_starts_and_share_is_respected() {
        let p = plan(Scenario::Mixed, 100_000, 0.1);
        let (mut canary, mut total) = (0usize, 0usize);
        for i in 0..p.traces() {
            for r in simulate_trace(&p, i).requests() {
                if r.start_ns < p.canary_start_ns() {
                    assert_eq!(r.track, Track::Stable);
                } else if r.service == svc::FRONTEND {
                    total += 1;
                    canary += usize::from(r.track == Track::Canary);
                }
            }
        }
        let share = canary as f64 / total as f64;
        assert!((share - 0.1).abs() < 0.015, "canary share {share}");
    }
}
