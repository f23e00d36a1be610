#!/usr/bin/env python3
"""Deterministic OTLP/JSON-lines span generator for benches/compare.sh.

Fallback used when `canalyst generate` is not available. Writes DIR/otlp/traces.jsonl:
one ResourceSpans per line (stable or canary track), 20 SERVER spans per line with HTTP
attributes, some errors with exception events. Usage: gen_otlp.py --spans N --seed S -o DIR
"""
import argparse
import json
import os
import random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("-o", "--out", required=True)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(os.path.join(a.out, "otlp"), exist_ok=True)
    path = os.path.join(a.out, "otlp", "traces.jsonl")
    routes = ["/api/items/{id}", "/api/cart", "/api/checkout", "/healthz", "/api/users/{id}"]
    t0 = 1_700_000_000_000_000_000
    per_line = 20
    with open(path, "w") as f:
        i = 0
        line_no = 0
        while i < a.spans:
            track = "canary" if rng.random() < 0.1 else "stable"
            version = "2.4.0" if track == "canary" else "2.3.0"
            res = {
                "attributes": [
                    {"key": "service.name", "value": {"stringValue": "checkout"}},
                    {"key": "service.version", "value": {"stringValue": version}},
                    {"key": "deployment.track", "value": {"stringValue": track}},
                    {"key": "deployment.environment.name", "value": {"stringValue": "prod"}},
                    {"key": "host.name", "value": {"stringValue": "node-%d" % (line_no % 17)}},
                ]
            }
            spans = []
            for _ in range(min(per_line, a.spans - i)):
                i += 1
                route = routes[rng.randrange(len(routes))]
                start = t0 + i * 1_000_000
                dur = int(rng.lognormvariate(17, 0.5))
                err = rng.random() < (0.02 if track == "canary" else 0.01)
                code = 500 if err else 200
                span = {
                    "traceId": "%032x" % rng.getrandbits(128),
                    "spanId": "%016x" % rng.getrandbits(64),
                    "name": "GET " + route,
                    "kind": 2,
                    "startTimeUnixNano": str(start),
                    "endTimeUnixNano": str(start + dur),
                    "attributes": [
                        {"key": "http.request.method", "value": {"stringValue": "GET"}},
                        {"key": "http.route", "value": {"stringValue": route}},
                        {"key": "http.response.status_code", "value": {"intValue": str(code)}},
                        {"key": "url.path", "value": {"stringValue": route.replace("{id}", str(rng.randrange(1000)))}},
                        {"key": "server.address", "value": {"stringValue": "checkout.internal"}},
                        {"key": "user_agent.original", "value": {"stringValue": "Mozilla/5.0 (X11; Linux x86_64)"}},
                    ],
                    "status": {"code": 2, "message": "upstream failed"} if err else {},
                }
                if err:
                    span["events"] = [{
                        "timeUnixNano": str(start),
                        "name": "exception",
                        "attributes": [
                            {"key": "exception.type", "value": {"stringValue": "TimeoutError"}},
                            {"key": "exception.message", "value": {"stringValue": "deadline exceeded"}},
                        ],
                    }]
                spans.append(span)
            doc = {"resourceSpans": [{"resource": res, "scopeSpans": [{"scope": {"name": "net/http"}, "spans": spans}]}]}
            f.write(json.dumps(doc, separators=(",", ":")))
            f.write("\n")
            line_no += 1
    print(path)


if __name__ == "__main__":
    main()
