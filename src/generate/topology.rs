//! The simulated shop: services, their HTTP routes, what each route calls, and the latency and
//! error parameters of each step.
//!
//! The topology is a static table so that the same route ids mean the same thing in every
//! writer (traces now, metrics later) and in `truth.json`.

/// Index of a service in [`SERVICES`].
pub type ServiceId = usize;
/// Index of a route in [`ROUTES`].
pub type RouteId = usize;

/// Version and `deployment.track` of the stable instances.
pub const STABLE_VERSION: &str = "2.3.0";
/// Version and `deployment.track` of the canary instances.
pub const CANARY_VERSION: &str = "2.4.0";

/// Which deployment of a service served a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Track {
    /// The released version ([`STABLE_VERSION`]).
    Stable = 0,
    /// The candidate version ([`CANARY_VERSION`]).
    Canary = 1,
}

impl Track {
    /// Both tracks, stable first (the order of resources in every output line).
    pub const ALL: [Track; 2] = [Track::Stable, Track::Canary];

    /// `deployment.track` value.
    pub fn name(self) -> &'static str {
        match self {
            Track::Stable => "stable",
            Track::Canary => "canary",
        }
    }

    /// `service.version` value.
    pub fn version(self) -> &'static str {
        match self {
            Track::Stable => STABLE_VERSION,
            Track::Canary => CANARY_VERSION,
        }
    }
}

/// A service and the SDK that instruments it (resource attributes).
#[derive(Debug)]
pub struct Service {
    /// `service.name`.
    pub name: &'static str,
    /// `telemetry.sdk.language`.
    pub language: &'static str,
    /// `telemetry.sdk.version`.
    pub sdk_version: &'static str,
    /// Instrumentation scope name of its spans.
    pub scope_name: &'static str,
    /// Instrumentation scope version.
    pub scope_version: &'static str,
    /// Port its HTTP server listens on (`server.port`).
    pub port: i64,
    /// `exception.type` of its own failures.
    pub exception_type: &'static str,
    /// `exception.message` of its own failures.
    pub exception_message: &'static str,
    /// `exception.stacktrace` of its own failures (multi-line, as SDKs record it).
    pub stacktrace: &'static str,
}

/// Service ids, in [`SERVICES`] order.
pub mod svc {
    use super::ServiceId;
    /// Entry service.
    pub const FRONTEND: ServiceId = 0;
    /// Cart store (redis).
    pub const CART: ServiceId = 1;
    /// Product catalogue (postgresql).
    pub const PRODUCT_CATALOG: ServiceId = 2;
    /// Order orchestration.
    pub const CHECKOUT: ServiceId = 3;
    /// Card and gift-card payments.
    pub const PAYMENT: ServiceId = 4;
    /// Currency conversion.
    pub const CURRENCY: ServiceId = 5;
    /// Shipping quotes and orders.
    pub const SHIPPING: ServiceId = 6;
}

/// All services, indexed by [`ServiceId`].
pub static SERVICES: [Service; 7] = [
    Service {
        name: "frontend",
        language: "nodejs",
        sdk_version: "1.30.1",
        scope_name: "@opentelemetry/instrumentation-http",
        scope_version: "0.57.2",
        port: 8080,
        exception_type: "Error",
        exception_message: "Cannot read properties of undefined (reading 'items')",
        stacktrace: "TypeError: Cannot read properties of undefined (reading 'items')\n    at renderPage (/app/server/render.js:88:21)\n    at handler (/app/server/routes.js:41:12)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
    },
    Service {
        name: "cartservice",
        language: "dotnet",
        sdk_version: "1.11.2",
        scope_name: "Microsoft.AspNetCore",
        scope_version: "9.0.0",
        port: 7070,
        exception_type: "StackExchange.Redis.RedisTimeoutException",
        exception_message: "Timeout awaiting response (outbound=0KiB, inbound=0KiB, 5021ms elapsed, timeout is 5000ms)",
        stacktrace: "StackExchange.Redis.RedisTimeoutException: Timeout awaiting response\n   at StackExchange.Redis.ConnectionMultiplexer.ExecuteSyncImpl[T](Message message)\n   at cartservice.cartstore.RedisCartStore.GetCartAsync(String userId) in /app/src/cartstore/RedisCartStore.cs:line 212",
    },
    Service {
        name: "productcatalog",
        language: "go",
        sdk_version: "1.34.0",
        scope_name: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
        scope_version: "0.59.0",
        port: 3550,
        exception_type: "*pq.Error",
        exception_message: "pq: canceling statement due to statement timeout",
        stacktrace: "goroutine 117 [running]:\nmain.(*catalog).query(0xc0001a2000, {0x1c4e2a0, 0xc00039e0c0})\n\t/app/catalog.go:143 +0x2a5\nmain.(*catalog).ServeHTTP(0xc0001a2000, {0x1c52e38, 0xc0002b21c0}, 0xc0003f4000)\n\t/app/main.go:77 +0x1d3",
    },
    Service {
        name: "checkout",
        language: "go",
        sdk_version: "1.34.0",
        scope_name: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
        scope_version: "0.59.0",
        port: 5050,
        exception_type: "*errors.errorString",
        exception_message: "failed to prepare order: cart is empty",
        stacktrace: "goroutine 230 [running]:\nmain.(*checkoutService).PlaceOrder(0xc000212000, {0x1c4e2a0, 0xc0004a20c0})\n\t/app/checkout.go:201 +0x4c5\nmain.main.func2({0x1c52e38, 0xc0002b21c0}, 0xc0003f4100)\n\t/app/main.go:95 +0x113",
    },
    Service {
        name: "payment",
        language: "nodejs",
        sdk_version: "1.30.1",
        scope_name: "@opentelemetry/instrumentation-http",
        scope_version: "0.57.2",
        port: 50051,
        exception_type: "PaymentGatewayError",
        exception_message: "card processor returned 503 Service Unavailable",
        stacktrace: "PaymentGatewayError: card processor returned 503 Service Unavailable\n    at charge (/app/charge.js:42:11)\n    at async chargeHandler (/app/index.js:27:20)",
    },
    Service {
        name: "currency",
        language: "cpp",
        sdk_version: "1.19.0",
        scope_name: "opentelemetry-cpp/http_server",
        scope_version: "1.19.0",
        port: 7001,
        exception_type: "std::runtime_error",
        exception_message: "exchange rate table is stale",
        stacktrace: "std::runtime_error: exchange rate table is stale\n#0 0x55d1c2 in CurrencyService::Convert(Money const&, std::string const&) /app/src/server.cpp:131\n#1 0x55b0f1 in HandleConvert /app/src/server.cpp:208",
    },
    Service {
        name: "shipping",
        language: "rust",
        sdk_version: "0.29.0",
        scope_name: "opentelemetry-instrumentation-actix-web",
        scope_version: "0.22.0",
        port: 50050,
        exception_type: "shipping::QuoteError",
        exception_message: "carrier API timed out",
        stacktrace: "shipping::QuoteError: carrier API timed out\n   0: shipping::quote::request_quote\n             at ./src/quote.rs:58:14\n   1: shipping::handlers::get_quote\n             at ./src/handlers.rs:33:5",
    },
];

/// A log-normal latency: `median` in milliseconds and the standard deviation `sigma` of its
/// logarithm (so the p99 is `median · e^(2.326·sigma)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogNormalMs {
    /// Median in milliseconds.
    pub median_ms: f64,
    /// Standard deviation of ln(latency).
    pub sigma: f64,
}

/// One step a route performs, in order.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// An HTTP call to another service's route: a CLIENT span in the caller enclosing the
    /// callee's SERVER span.
    Http {
        /// Callee route.
        route: RouteId,
        /// Probability the step happens at all.
        prob: f64,
        /// Repetitions when it happens, uniform in the inclusive range.
        reps: (u32, u32),
        /// Probability that a failure of this call fails the caller too.
        propagate: f64,
    },
    /// A database call: a CLIENT span with `db.*` attributes.
    Db {
        /// `db.system` (`postgresql`, `redis`).
        system: &'static str,
        /// Span name (`{operation} {table}` for SQL, the command for redis).
        name: &'static str,
        /// `db.operation.name`.
        operation: &'static str,
        /// `db.collection.name`.
        collection: &'static str,
        /// `db.query.text`, if the client records it.
        query: Option<&'static str>,
        /// Latency of the call.
        latency: LogNormalMs,
        /// Failure probability.
        error_rate: f64,
    },
    /// In-process work worth its own INTERNAL span.
    Internal {
        /// Span name.
        name: &'static str,
        /// Latency of the work.
        latency: LogNormalMs,
    },
}

/// An HTTP route served by a service (one SERVER span per request).
#[derive(Debug)]
pub struct Route {
    /// Serving service.
    pub service: ServiceId,
    /// `http.request.method`.
    pub method: &'static str,
    /// `http.route` template.
    pub route: &'static str,
    /// SERVER span name (`{method} {route}`, as the HTTP semantic conventions name it).
    pub span_name: &'static str,
    /// Traffic weight when this is an entry route of the frontend (0 otherwise).
    pub entry_weight: f64,
    /// The route's own processing time; the span lasts at least this long and at least as
    /// long as its children plus a little own work.
    pub latency: LogNormalMs,
    /// Probability of failing by itself (5xx with an exception).
    pub error_rate: f64,
    /// Probability of a 404 (client error, not an error for a server span).
    pub not_found_rate: f64,
    /// Steps in order.
    pub steps: &'static [Step],
}

/// Route ids, in [`ROUTES`] order.
pub mod rt {
    use super::RouteId;
    /// frontend `GET /`.
    pub const F_HOME: RouteId = 0;
    /// frontend `GET /product/{id}`.
    pub const F_PRODUCT: RouteId = 1;
    /// frontend `POST /cart`.
    pub const F_CART_ADD: RouteId = 2;
    /// frontend `POST /checkout`.
    pub const F_CHECKOUT: RouteId = 3;
    /// frontend `GET /api/search`.
    pub const F_SEARCH: RouteId = 4;
    /// frontend `POST /api/gift-cards/redeem` (low traffic).
    pub const F_GIFT: RouteId = 5;
    /// cartservice `GET /cart`.
    pub const CART_GET: RouteId = 6;
    /// cartservice `POST /cart/items`.
    pub const CART_ADD: RouteId = 7;
    /// cartservice `DELETE /cart`.
    pub const CART_EMPTY: RouteId = 8;
    /// productcatalog `GET /products`.
    pub const PC_LIST: RouteId = 9;
    /// productcatalog `GET /products/{id}`.
    pub const PC_GET: RouteId = 10;
    /// productcatalog `GET /search`.
    pub const PC_SEARCH: RouteId = 11;
    /// checkout `POST /checkout`.
    pub const CO_CHECKOUT: RouteId = 12;
    /// payment `POST /charge`.
    pub const PAY_CHARGE: RouteId = 13;
    /// payment `POST /gift-cards/redeem` (low traffic).
    pub const PAY_GIFT: RouteId = 14;
    /// currency `POST /convert`.
    pub const CUR_CONVERT: RouteId = 15;
    /// currency `GET /currencies`.
    pub const CUR_LIST: RouteId = 16;
    /// shipping `POST /quote`.
    pub const SHIP_QUOTE: RouteId = 17;
    /// shipping `POST /ship`.
    pub const SHIP_SHIP: RouteId = 18;
}

const fn ms(median_ms: f64, sigma: f64) -> LogNormalMs {
    LogNormalMs { median_ms, sigma }
}

const fn call(route: RouteId, prob: f64) -> Step {
    Step::Http {
        route,
        prob,
        reps: (1, 1),
        propagate: 0.6,
    }
}

const fn pg(
    name: &'static str,
    operation: &'static str,
    collection: &'static str,
    query: &'static str,
    latency: LogNormalMs,
) -> Step {
    Step::Db {
        system: "postgresql",
        name,
        operation,
        collection,
        query: Some(query),
        latency,
        error_rate: 0.0005,
    }
}

const fn redis(name: &'static str, latency: LogNormalMs) -> Step {
    Step::Db {
        system: "redis",
        name,
        operation: name,
        collection: "cart",
        query: None,
        latency,
        error_rate: 0.0002,
    }
}

const fn route(
    service: usize,
    method: &'static str,
    route: &'static str,
    span_name: &'static str,
    latency: LogNormalMs,
    error_rate: f64,
    steps: &'static [Step],
) -> Route {
    Route {
        service,
        method,
        route,
        span_name,
        entry_weight: 0.0,
        latency,
        error_rate,
        not_found_rate: 0.0,
        steps,
    }
}

const fn entry(r: Route, weight: f64) -> Route {
    Route {
        entry_weight: weight,
        ..r
    }
}

const SELECT_PRODUCT: &str =
    "SELECT id, name, price_units, price_nanos FROM products WHERE id = $1";

/// All routes, indexed by [`RouteId`]. Entry routes first.
pub static ROUTES: [Route; 19] = [
    entry(
        route(
            svc::FRONTEND,
            "GET",
            "/",
            "GET /",
            ms(38.0, 0.45),
            0.002,
            &[
                call(rt::PC_LIST, 1.0),
                call(rt::CUR_LIST, 1.0),
                call(rt::CART_GET, 0.8),
            ],
        ),
        30.0,
    ),
    Route {
        not_found_rate: 0.01,
        ..entry(
            route(
                svc::FRONTEND,
                "GET",
                "/product/{id}",
                "GET /product/{id}",
                ms(32.0, 0.45),
                0.003,
                &[
                    call(rt::PC_GET, 1.0),
                    call(rt::CUR_CONVERT, 1.0),
                    call(rt::CART_GET, 0.6),
                ],
            ),
            35.0,
        )
    },
    entry(
        route(
            svc::FRONTEND,
            "POST",
            "/cart",
            "POST /cart",
            ms(28.0, 0.4),
            0.004,
            &[call(rt::PC_GET, 1.0), call(rt::CART_ADD, 1.0)],
        ),
        12.0,
    ),
    entry(
        route(
            svc::FRONTEND,
            "POST",
            "/checkout",
            "POST /checkout",
            ms(290.0, 0.3),
            0.003,
            &[Step::Http {
                route: rt::CO_CHECKOUT,
                prob: 1.0,
                reps: (1, 1),
                propagate: 0.9,
            }],
        ),
        4.0,
    ),
    entry(
        route(
            svc::FRONTEND,
            "GET",
            "/api/search",
            "GET /api/search",
            ms(48.0, 0.5),
            0.002,
            &[call(rt::PC_SEARCH, 1.0)],
        ),
        15.0,
    ),
    entry(
        route(
            svc::FRONTEND,
            "POST",
            "/api/gift-cards/redeem",
            "POST /api/gift-cards/redeem",
            ms(130.0, 0.35),
            0.004,
            &[Step::Http {
                route: rt::PAY_GIFT,
                prob: 1.0,
                reps: (1, 1),
                propagate: 0.9,
            }],
        ),
        0.4,
    ),
    route(
        svc::CART,
        "GET",
        "/cart",
        "GET /cart",
        ms(4.0, 0.5),
        0.001,
        &[redis("HGETALL", ms(0.6, 0.4))],
    ),
    route(
        svc::CART,
        "POST",
        "/cart/items",
        "POST /cart/items",
        ms(6.0, 0.5),
        0.002,
        &[redis("HGETALL", ms(0.6, 0.4)), redis("HSET", ms(0.8, 0.4))],
    ),
    route(
        svc::CART,
        "DELETE",
        "/cart",
        "DELETE /cart",
        ms(4.0, 0.5),
        0.001,
        &[redis("DEL", ms(0.5, 0.4))],
    ),
    route(
        svc::PRODUCT_CATALOG,
        "GET",
        "/products",
        "GET /products",
        ms(11.0, 0.5),
        0.001,
        &[pg(
            "SELECT products",
            "SELECT",
            "products",
            "SELECT id, name, price_units, price_nanos FROM products ORDER BY popularity DESC LIMIT $1",
            ms(3.0, 0.5),
        )],
    ),
    route(
        svc::PRODUCT_CATALOG,
        "GET",
        "/products/{id}",
        "GET /products/{id}",
        ms(6.0, 0.5),
        0.001,
        &[pg(
            "SELECT products",
            "SELECT",
            "products",
            SELECT_PRODUCT,
            ms(1.2, 0.5),
        )],
    ),
    route(
        svc::PRODUCT_CATALOG,
        "GET",
        "/search",
        "GET /search",
        ms(26.0, 0.55),
        0.002,
        &[
            pg(
                "SELECT products",
                "SELECT",
                "products",
                "SELECT id, name FROM products WHERE search_vector @@ plainto_tsquery($1) LIMIT 50",
                ms(8.0, 0.6),
            ),
            Step::Internal {
                name: "rank results",
                latency: ms(2.0, 0.4),
            },
        ],
    ),
    route(
        svc::CHECKOUT,
        "POST",
        "/checkout",
        "POST /checkout",
        ms(210.0, 0.3),
        0.002,
        &[
            Step::Http {
                route: rt::CART_GET,
                prob: 1.0,
                reps: (1, 1),
                propagate: 0.9,
            },
            Step::Http {
                route: rt::PC_GET,
                prob: 1.0,
                reps: (1, 4),
                propagate: 0.5,
            },
            call(rt::CUR_CONVERT, 1.0),
            call(rt::SHIP_QUOTE, 1.0),
            Step::Http {
                route: rt::PAY_CHARGE,
                prob: 1.0,
                reps: (1, 1),
                propagate: 0.95,
            },
            call(rt::SHIP_SHIP, 1.0),
            Step::Http {
                route: rt::CART_EMPTY,
                prob: 1.0,
                reps: (1, 1),
                propagate: 0.1,
            },
            pg(
                "INSERT orders",
                "INSERT",
                "orders",
                "INSERT INTO orders (id, user_id, total_units, created_at) VALUES ($1, $2, $3, now())",
                ms(2.5, 0.4),
            ),
        ],
    ),
    route(
        svc::PAYMENT,
        "POST",
        "/charge",
        "POST /charge",
        ms(62.0, 0.4),
        0.008,
        &[
            Step::Internal {
                name: "fraud check",
                latency: ms(9.0, 0.5),
            },
            pg(
                "INSERT payments",
                "INSERT",
                "payments",
                "INSERT INTO payments (id, order_id, amount_units, status) VALUES ($1, $2, $3, $4)",
                ms(2.0, 0.4),
            ),
        ],
    ),
    route(
        svc::PAYMENT,
        "POST",
        "/gift-cards/redeem",
        "POST /gift-cards/redeem",
        ms(85.0, 0.35),
        0.005,
        &[pg(
            "UPDATE gift_cards",
            "UPDATE",
            "gift_cards",
            "UPDATE gift_cards SET balance_units = balance_units - $1 WHERE code = $2 AND balance_units >= $1",
            ms(3.0, 0.4),
        )],
    ),
    route(
        svc::CURRENCY,
        "POST",
        "/convert",
        "POST /convert",
        ms(2.0, 0.4),
        0.001,
        &[],
    ),
    route(
        svc::CURRENCY,
        "GET",
        "/currencies",
        "GET /currencies",
        ms(1.5, 0.4),
        0.001,
        &[],
    ),
    route(
        svc::SHIPPING,
        "POST",
        "/quote",
        "POST /quote",
        ms(9.0, 0.45),
        0.002,
        &[Step::Internal {
            name: "compute quote",
            latency: ms(3.0, 0.4),
        }],
    ),
    route(
        svc::SHIPPING,
        "POST",
        "/ship",
        "POST /ship",
        ms(16.0, 0.45),
        0.003,
        &[pg(
            "INSERT shipments",
            "INSERT",
            "shipments",
            "INSERT INTO shipments (id, order_id, carrier, tracking_id) VALUES ($1, $2, $3, $4)",
            ms(2.0, 0.4),
        )],
    ),
];

/// Expected number of spans in a request to `route` (its SERVER span and everything below),
/// ignoring the few steps skipped after a failure.
pub fn expected_spans(route: RouteId) -> f64 {
    1.0 + ROUTES[route]
        .steps
        .iter()
        .map(|s| match s {
            Step::Http {
                route, prob, reps, ..
            } => prob * f64::from(reps.0 + reps.1) / 2.0 * (1.0 + expected_spans(*route)),
            Step::Db { .. } | Step::Internal { .. } => 1.0,
        })
        .sum::<f64>()
}

/// Every route id, in order.
pub fn route_ids() -> impl Iterator<Item = RouteId> {
    0..ROUTES.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for (i, r) in ROUTES.iter().enumerate() {
            assert_eq!(
                r.span_name,
                format!("{} {}", r.method, r.route),
                "route {i}"
            );
            assert_eq!(
                r.entry_weight > 0.0,
                r.service == svc::FRONTEND,
                "route {i}"
            );
            for s in r.steps {
                if let Step::Http { route, .. } = s {
                    assert_ne!(ROUTES[*route].service, r.service, "route {i} calls itself");
                }
            }
        }
        // GET /cart: SERVER + redis = 2 spans.
        assert_eq!(expected_spans(rt::CART_GET), 2.0);
        // GET /api/search: SERVER, CLIENT, SERVER, db, internal.
        assert_eq!(expected_spans(rt::F_SEARCH), 5.0);
    }
}
