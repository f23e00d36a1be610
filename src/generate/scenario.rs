//! Scenarios: which regressions are injected into the canary, and how each one changes the
//! distribution of an affected route.
//!
//! Effects act only on SERVER spans served by the canary instance of the affected service;
//! callers see them through their CLIENT spans (the callee's time is inside the call).

use super::topology::{rt, svc, RouteId, ServiceId, ROUTES};
use crate::stats::distributions::normal_cdf;
use serde::Serialize;

/// Share of successful frontend checkouts that place an order on stable (the rest are, for
/// instance, declined cards: a business outcome, not an HTTP error).
// Here, not in `metrics`, because the scenarios state it as the stable rate of their
// business effect and `metrics` draws from it; `metrics` importing it from here keeps the
// generator free of a file circle.
pub const STABLE_CONVERSION: f64 = 0.94;

/// A named traffic scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// A/A: the canary behaves exactly like stable; no effects.
    Aa,
    /// Canary `checkout POST /checkout` processing time ×1.3 (median +30%).
    Latency,
    /// Canary `payment POST /charge` error rate ×5.
    Errors,
    /// Canary `productcatalog GET /products/{id}`: p99 ×2.5, median unchanged (slow mixture).
    Tail,
    /// Three effects on three services: a latency shift, an error-rate increase, a tail.
    Mixed,
    /// Canary `cartservice` twice as slow on every route: visible to callers' CLIENT spans.
    Downstream,
    /// Canary `payment POST /gift-cards/redeem` ×1.5 with about 40 canary requests, below the
    /// per-side minimum of 100: a decisive small sample (must roll back)
    LowTraffic,
    /// Canary frontend `POST /checkout` places 20% fewer orders per successful checkout:
    /// visible only in the business counters (`orders.placed` / `orders.checkout_attempts`),
    /// not in spans.
    Conversion,
    /// A service mesh, the truth for `canalyst forensics`: cartservice and productcatalog run
    /// one stable deployment without a track of their own ([`MESH_UNTRACKED`]); cartservice
    /// reads the caller's track from W3C baggage (`deployment.stage` span attribute, as the
    /// BaggageSpanProcessor writes it), productcatalog records none. `cartservice GET /cart`
    /// fails in 8% of the requests that originate on the canary with a fault stable never
    /// has (`CartNotFoundException`, "cart c-7f3a9e21 not found" with a varying id), deep in
    /// the trace (frontend → checkout → cartservice); productcatalog's `SELECT products` is
    /// ×6 slower on a fifth of canary-originated calls ([`MESH_SLOW_DB`]); canary frontend
    /// requests from one region fail more ([`MESH_BAD_REGION`]), an error concentrated on one
    /// attribute value; canary checkout asks shipping for a quote once more than stable
    /// ([`MESH_RETRY`]), a structural change below one route; canary frontend requests from
    /// one region on one client app fail more ([`MESH_PAIR`]), an error that needs two
    /// attribute values together.
    Forensics,
}

impl Scenario {
    /// Name as written on the command line and in `truth.json`.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Aa => "aa",
            Scenario::Latency => "latency",
            Scenario::Errors => "errors",
            Scenario::Tail => "tail",
            Scenario::Mixed => "mixed",
            Scenario::Downstream => "downstream",
            Scenario::LowTraffic => "low-traffic",
            Scenario::Conversion => "conversion",
            Scenario::Forensics => "forensics",
        }
    }

    /// The effects this scenario injects.
    pub fn effects(self) -> Vec<Effect> {
        self.effects_sized(None)
    }

    /// [`Scenario::effects`] with every latency, error-rate and tail multiplier replaced by
    /// `size` when given (`generate --effect-size`, the labelled corpus of `generate
    /// --corpus`): a latency factor, an error-rate factor or a p99 ratio.
    pub fn effects_sized(self, size: Option<f64>) -> Vec<Effect> {
        let latency = |route, factor: f64| {
            let factor = size.unwrap_or(factor);
            Effect::new(route, EffectKind::LatencyScale { factor })
        };
        let errors = |route, factor: f64| {
            let factor = size.unwrap_or(factor);
            Effect::new(route, EffectKind::ErrorRateScale { factor })
        };
        let tail = |route, p99_ratio: f64| Effect::tail(route, size.unwrap_or(p99_ratio), 0.03);
        match self {
            Scenario::Aa => vec![],
            Scenario::Latency => vec![latency(rt::CO_CHECKOUT, 1.3)],
            Scenario::Errors => vec![errors(rt::PAY_CHARGE, 5.0)],
            Scenario::Tail => vec![tail(rt::PC_GET, 2.5)],
            Scenario::Mixed => vec![
                latency(rt::CO_CHECKOUT, 1.3),
                errors(rt::PAY_CHARGE, 5.0),
                tail(rt::PC_SEARCH, 2.5),
            ],
            Scenario::Downstream => [rt::CART_GET, rt::CART_ADD, rt::CART_EMPTY]
                .into_iter()
                .map(|r| latency(r, 2.0))
                .collect(),
            Scenario::LowTraffic => vec![latency(rt::PAY_GIFT, 1.5)],
            Scenario::Forensics => vec![Effect::new(
                rt::CART_GET,
                EffectKind::CanaryFault {
                    probability: FAULT_PROBABILITY,
                },
            )],
            Scenario::Conversion => vec![Effect::new(
                rt::F_CHECKOUT,
                EffectKind::ConversionScale {
                    factor: 0.8,
                    stable_rate: STABLE_CONVERSION,
                },
            )],
        }
    }

    /// Whether the scenario simulates the service mesh of [`Scenario::Forensics`]: some
    /// services without a track of their own, reached from either track.
    pub fn mesh(self) -> bool {
        self == Scenario::Forensics
    }

    /// Expected canary requests on the low-traffic route when this scenario sizes its traffic
    /// (only `low-traffic` does): below the default per-side minimum of 100, where a regression
    /// this large must still roll back.
    pub fn low_traffic_canary_requests(self) -> Option<f64> {
        (self == Scenario::LowTraffic).then_some(40.0)
    }
}

/// Services that run one stable deployment without a track of their own in the mesh
/// ([`Scenario::mesh`]): their resource has no `deployment.track`, so a span's originating
/// track is the caller's.
pub const MESH_UNTRACKED: [ServiceId; 2] = [svc::CART, svc::PRODUCT_CATALOG];
/// Untracked services whose SDK copies W3C baggage into span attributes (the
/// BaggageSpanProcessor): their spans carry `deployment.stage` = the originating track, set in
/// baggage by the nearest tracked caller. The others carry nothing, so their originating track
/// can only come from the trace tree.
pub const MESH_BAGGAGE: [ServiceId; 1] = [svc::CART];
/// The database operation of the mesh that is slower on canary-originated calls: (service,
/// span name).
pub const MESH_SLOW_DB: (ServiceId, &str) = (svc::PRODUCT_CATALOG, "SELECT products");
/// Share of canary-originated [`MESH_SLOW_DB`] calls that are slow.
pub const MESH_SLOW_PROBABILITY: f64 = 0.2;
/// Slowdown of a slow [`MESH_SLOW_DB`] call.
pub const MESH_SLOW_FACTOR: f64 = 6.0;

/// The mesh's structural change: on this route (caller) a canary request makes one more
/// call to this route (callee) than stable does (a retry loop gone wrong). No random draw, so
/// stable requests and other scenarios are unchanged.
pub const MESH_RETRY: (RouteId, RouteId) = (rt::CO_CHECKOUT, rt::SHIP_QUOTE);

/// Span attribute of the mesh's frontend SERVER spans: the region the user came from, one of
/// [`MESH_REGIONS`], drawn uniformly per trace.
pub const MESH_REGION_KEY: &str = "app.region";
/// Values of [`MESH_REGION_KEY`].
pub const MESH_REGIONS: [&str; 3] = ["eu-west", "us-east", "ap-south"];
/// The region whose canary frontend requests fail more ([`MESH_REGION_ERROR_PROBABILITY`]): an
/// error concentrated on one attribute value, for the attribute diff.
pub const MESH_BAD_REGION: &str = "ap-south";
/// Extra probability that a canary frontend request from [`MESH_BAD_REGION`] fails by itself.
pub const MESH_REGION_ERROR_PROBABILITY: f64 = 0.25;

/// Span attribute of the mesh's frontend SERVER spans: the client app, one of
/// [`MESH_CLIENTS`], drawn uniformly per trace.
pub const MESH_CLIENT_KEY: &str = "app.client";
/// Values of [`MESH_CLIENT_KEY`].
pub const MESH_CLIENTS: [&str; 3] = ["web", "ios", "android"];
/// (region, client) whose canary frontend requests fail more only together
/// ([`MESH_PAIR_ERROR_PROBABILITY`]): an error that needs two attribute values, for the
/// attribute diff's pairs. Neither value alone is the cause.
pub const MESH_PAIR: (&str, &str) = ("eu-west", "ios");
/// Extra probability that a canary frontend request with both values of [`MESH_PAIR`] fails.
pub const MESH_PAIR_ERROR_PROBABILITY: f64 = 0.4;

/// Probability that a canary request to the `forensics` scenario's route fails with the fault
/// (in the mesh: a request originating on the canary).
pub const FAULT_PROBABILITY: f64 = 0.08;
/// `exception.type` of the injected fault.
pub const FAULT_EXCEPTION_TYPE: &str = "CartNotFoundException";
/// Template of the fault's message as canalyst's message templates write it: the id
/// (`c-` and 8 hex digits) is masked, the prefix kept.
pub const FAULT_MESSAGE_TEMPLATE: &str = "cart c-<id> not found";

/// The fault's message for the random `id`.
pub fn fault_message(id: u32) -> String {
    format!("cart c-{id:08x} not found")
}

/// How an effect changes the affected route's own processing time or failures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EffectKind {
    /// Processing time multiplied by `factor` (the whole log-normal shifts: median, p99 ×factor).
    LatencyScale {
        /// Multiplier.
        factor: f64,
    },
    /// Own failure probability multiplied by `factor`.
    ErrorRateScale {
        /// Multiplier.
        factor: f64,
    },
    /// With probability `probability`, processing time multiplied by `factor`: a mixture that
    /// moves the p99 by `p99_ratio` and the median by only `p50_ratio` (both computed for the
    /// route's log-normal; see [`mixture_quantile`]).
    TailMixture {
        /// Share of slow requests.
        probability: f64,
        /// Slowdown of a slow request.
        factor: f64,
        /// Resulting p99 ratio (canary / stable).
        p99_ratio: f64,
        /// Resulting median ratio (canary / stable).
        p50_ratio: f64,
    },
    /// With probability `probability` a canary request fails by itself with an exception
    /// stable never raises ([`FAULT_EXCEPTION_TYPE`], [`fault_message`]), on top of the
    /// route's usual failures.
    CanaryFault {
        /// Share of canary requests that fail with the fault.
        probability: f64,
    },
    /// Share of successful requests that place an order (the `orders.placed` business counter)
    /// multiplied by `factor`; spans are unchanged.
    ConversionScale {
        /// Multiplier of the conversion rate.
        factor: f64,
        /// Stable conversion rate (orders placed per successful checkout).
        stable_rate: f64,
    },
}

/// One injected regression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Effect {
    /// Affected route (its service is `ROUTES[route].service`).
    pub route: RouteId,
    /// What changes.
    pub kind: EffectKind,
}

impl Effect {
    fn new(route: RouteId, kind: EffectKind) -> Self {
        Self { route, kind }
    }

    /// A tail-only effect on `route` whose p99 ratio is `p99_ratio`, made by slowing a share
    /// `probability` of requests by a factor solved for numerically.
    fn tail(route: RouteId, p99_ratio: f64, probability: f64) -> Self {
        let sigma = ROUTES[route].latency.sigma;
        // Rounded to keep truth.json readable; the simulation uses exactly this value.
        let round4 = |x: f64| (x * 1e4).round() / 1e4;
        let factor = round4(solve_tail_factor(sigma, probability, 0.99, p99_ratio));
        let p50 = round4(mixture_quantile(0.5, sigma, probability, factor));
        Self::new(
            route,
            EffectKind::TailMixture {
                probability,
                factor,
                p99_ratio,
                p50_ratio: p50,
            },
        )
    }

    /// Service serving the affected route.
    pub fn service(&self) -> ServiceId {
        ROUTES[self.route].service
    }
}

/// Effects indexed by route, for the simulator's hot path.
#[derive(Debug, Clone)]
pub struct EffectTable {
    latency: Vec<f64>,
    error: Vec<f64>,
    tail: Vec<Option<(f64, f64)>>,
    conversion: Vec<f64>,
    fault: Vec<f64>,
}

impl EffectTable {
    /// Table of `effects` (multipliers of 1 where nothing is injected).
    pub fn new(effects: &[Effect]) -> Self {
        let n = ROUTES.len();
        let mut t = Self {
            latency: vec![1.0; n],
            error: vec![1.0; n],
            tail: vec![None; n],
            conversion: vec![1.0; n],
            fault: vec![0.0; n],
        };
        for e in effects {
            match e.kind {
                EffectKind::LatencyScale { factor } => t.latency[e.route] *= factor,
                EffectKind::ErrorRateScale { factor } => t.error[e.route] *= factor,
                EffectKind::TailMixture {
                    probability,
                    factor,
                    ..
                } => t.tail[e.route] = Some((probability, factor)),
                EffectKind::ConversionScale { factor, .. } => t.conversion[e.route] *= factor,
                EffectKind::CanaryFault { probability } => t.fault[e.route] = probability,
            }
        }
        t
    }

    /// Processing-time multiplier of a canary request to `route`; `u` is a uniform draw that
    /// decides membership of the slow mixture component.
    pub fn latency_factor(&self, route: RouteId, u: f64) -> f64 {
        let tail = match self.tail[route] {
            Some((p, f)) if u < p => f,
            _ => 1.0,
        };
        self.latency[route] * tail
    }

    /// Failure-probability multiplier of a canary request to `route`.
    pub fn error_factor(&self, route: RouteId) -> f64 {
        self.error[route]
    }

    /// Multiplier of the canary's conversion rate (orders placed per successful request) on
    /// `route`.
    pub fn conversion_factor(&self, route: RouteId) -> f64 {
        self.conversion[route]
    }

    /// Probability that a canary request to `route` fails with the injected fault.
    pub fn fault_probability(&self, route: RouteId) -> f64 {
        self.fault[route]
    }

    /// Whether the route has any effect.
    pub fn affects(&self, route: RouteId) -> bool {
        self.latency[route] != 1.0
            || self.error[route] != 1.0
            || self.tail[route].is_some()
            || self.conversion[route] != 1.0
            || self.fault[route] != 0.0
    }
}

/// Services present in the simulation with at least one affected route (for docs and checks).
pub fn affected_services(effects: &[Effect]) -> Vec<ServiceId> {
    let mut v: Vec<_> = effects.iter().map(Effect::service).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Quantile `q` of the mixture `(1−p)·LogNormal(0, σ) + p·(factor × LogNormal(0, σ))`,
/// relative to the median of the unmixed distribution (which is 1), found by bisection on
/// the mixture CDF `(1−p)Φ(ln x/σ) + pΦ((ln x − ln factor)/σ)`.
pub fn mixture_quantile(q: f64, sigma: f64, p: f64, factor: f64) -> f64 {
    let cdf = |lnx: f64| {
        (1.0 - p) * normal_cdf(lnx / sigma) + p * normal_cdf((lnx - libm::log(factor)) / sigma)
    };
    let (mut lo, mut hi) = (-20.0 * sigma, libm::log(factor) + 20.0 * sigma);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if cdf(mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    libm::exp(0.5 * (lo + hi))
}

/// The slowdown `factor` for which the mixture's `q` quantile is `ratio` times the unmixed
/// one (monotone in `factor`, so bisection on ln factor).
pub fn solve_tail_factor(sigma: f64, p: f64, q: f64, ratio: f64) -> f64 {
    let base = mixture_quantile(q, sigma, 0.0, 1.0);
    let (mut lo, mut hi) = (0.0f64, 10.0f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if mixture_quantile(q, sigma, p, libm::exp(mid)) / base < ratio {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    libm::exp(0.5 * (lo + hi))
}

/// The (service, route) pairs a scenario leaves untouched, for `truth.json`'s `clean[]`.
pub fn clean_routes(effects: &[Effect]) -> Vec<RouteId> {
    let t = EffectTable::new(effects);
    super::topology::route_ids()
        .filter(|r| !t.affects(*r))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_effect_moves_p99_not_median() {
        let e = Effect::tail(rt::PC_GET, 2.5, 0.03);
        let EffectKind::TailMixture {
            factor, p50_ratio, ..
        } = e.kind
        else {
            panic!("not a tail effect: {:?}", e.kind)
        };
        let sigma = ROUTES[rt::PC_GET].latency.sigma;
        let base99 = mixture_quantile(0.99, sigma, 0.0, 1.0);
        assert!((base99 - (2.326_348 * sigma).exp()).abs() < 1e-4);
        let r99 = mixture_quantile(0.99, sigma, 0.03, factor) / base99;
        assert!((r99 - 2.5).abs() < 1e-3, "p99 ratio {r99}");
        assert!(
            p50_ratio > 1.0 && p50_ratio < 1.03,
            "median ratio {p50_ratio}"
        );
    }

    #[test]
    fn scenarios_touch_distinct_routes() {
        let mixed = Scenario::Mixed.effects();
        assert_eq!(mixed.len(), 3);
        assert_eq!(affected_services(&mixed).len(), 3);
        assert!(Scenario::Aa.effects().is_empty());
        assert_eq!(clean_routes(&[]).len(), ROUTES.len());
        assert_eq!(clean_routes(&mixed).len(), ROUTES.len() - 3);
        let t = EffectTable::new(&Scenario::Latency.effects());
        assert_eq!(t.latency_factor(rt::CO_CHECKOUT, 0.5), 1.3);
        assert_eq!(t.latency_factor(rt::F_CHECKOUT, 0.5), 1.0);
    }
}
