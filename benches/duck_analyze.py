"""DuckDB side of benches/compare_analyze.sh: the route-level request summary canalyst analyze
computes, from canonical Parquet (`parquet`) or from OTLP/JSON (`json`: lines, gzip lines
ending in .gz, or one document ending in .json).

Per (service, track, route) over requests inside the comparison window: count, errors and
exact type-7 quantiles (quantile_cont) p50/p90/p99/p999 of the duration in ms.

Definitions, as canalyst's queries/window.sql, queries/route_samples.sql and the `requests`
view (src/engine/context.rs):
- sides: deployment.track 'stable' (baseline) and 'canary';
- window: [max(first start of each side), min(last start of each side)] over ALL spans;
- requests: SERVER spans (kind 2), root spans (no parent), or spans whose parent (same trace)
  is recorded under another service;
- route: http.route, else the span name of a SERVER span (canalyst also templates ids in both;
  the generator's routes and server span names are templates already);
- error: status code ERROR (2), or a SERVER span with HTTP status 500-599
  (http.response.status_code, else http.status_code).

Usage: duck_analyze.py parquet|json INPUT OUT.json
"""
import json
import os
import sys

import duckdb

mode, src, out = sys.argv[1:4]


def lit(s):
    return "'" + s.replace("'", "''") + "'"


con = duckdb.connect()
con.execute("SET preserve_insertion_order = false")
# DUCK_THREADS=N limits DuckDB's worker threads (benches/shapes.sh compares 1 and 2).
if "DUCK_THREADS" in os.environ:
    con.execute(f"SET threads = {int(os.environ['DUCK_THREADS'])}")

if mode == "parquet":
    spans = f"""
    SELECT trace_id, span_id, parent_span_id, service_name::VARCHAR AS service,
           deployment_track::VARCHAR AS track, route::VARCHAR AS route, span_kind AS kind,
           epoch_ns(start_time) AS t, duration_ns, is_error
    FROM read_parquet({lit(src)})"""
else:
    # OTLP/JSON. Each choice below was measured (docs/benchmarks.md, "The DuckDB baseline"):
    # - read_json_objects + json_transform, not read_json: DuckDB's read_json spends 3-4x more
    #   CPU on these large records than parsing each line with yyjson and transforming it to
    #   the structure below (same values, same rows).
    # - An explicit structure instead of auto-detection: detection samples up to 20 480 records
    #   first (the whole file at 1M spans) and types `status` as MAP(VARCHAR, JSON).
    #   json_transform is lenient: a missing key (`"status": {}`) is NULL, as in canalyst.
    # - maximum_object_size only for one document (it must hold the whole file); for lines the
    #   default (16 MB) keeps DuckDB's buffers small, so the scan runs on every thread (a 4 GB
    #   limit made each buffer hold the whole file: one core, twice the CPU).
    # Lines (.jsonl, .jsonl.gz: DuckDB decompresses by extension) or one document (.json,
    # possibly pretty-printed over many lines).
    kv = [{"key": "VARCHAR", "value": {"stringValue": "VARCHAR", "intValue": "VARCHAR"}}]
    structure = json.dumps({"resourceSpans": [{
        "resource": {"attributes": kv},
        "scopeSpans": [{"spans": [{
            "traceId": "VARCHAR", "spanId": "VARCHAR", "parentSpanId": "VARCHAR",
            "name": "VARCHAR", "kind": "INTEGER", "startTimeUnixNano": "VARCHAR",
            "endTimeUnixNano": "VARCHAR", "attributes": kv, "status": {"code": "INTEGER"}}]}]}]})
    if src.endswith(".json"):
        objects = (f"read_json_objects({lit(src)}, format = 'unstructured', "
                   "maximum_object_size = 4294967295)")
    else:
        objects = f"read_json_objects({lit(src)}, format = 'newline_delimited')"
    # ids stay hex strings; an empty parentSpanId is a root as in canalyst's reader.
    spans = f"""
    WITH o AS (SELECT json_transform(json, {lit(structure)}).resourceSpans AS rss
               FROM {objects}),
         r AS (SELECT unnest(rss) AS rs FROM o),
         s AS (SELECT rs.resource.attributes AS ra, unnest(rs.scopeSpans) AS ss FROM r),
         p AS (SELECT ra, unnest(ss.spans) AS sp FROM s),
         f AS (
           SELECT
             sp.traceId AS trace_id, sp.spanId AS span_id,
             nullif(sp.parentSpanId, '') AS parent_span_id,
             coalesce(list_filter(ra, lambda a: a.key = 'service.name')[1].value.stringValue,
                      'unknown_service') AS service,
             coalesce(list_filter(ra, lambda a: a.key = 'deployment.track')[1].value.stringValue,
                      list_filter(ra, lambda a: a.key = 'deployment.stage')[1].value.stringValue)
               AS track,
             sp.name AS span_name, sp.kind AS kind,
             CAST(sp.startTimeUnixNano AS BIGINT) AS t,
             CAST(sp.endTimeUnixNano AS BIGINT) - CAST(sp.startTimeUnixNano AS BIGINT)
               AS duration_ns,
             list_filter(sp.attributes, lambda a: a.key = 'http.route')[1].value.stringValue
               AS http_route,
             coalesce(
               TRY_CAST(list_filter(sp.attributes, lambda a: a.key = 'http.response.status_code')[1]
                        .value.intValue AS INTEGER),
               TRY_CAST(list_filter(sp.attributes, lambda a: a.key = 'http.status_code')[1]
                        .value.intValue AS INTEGER)) AS http_status,
             coalesce(sp.status.code, 0) AS status_code
           FROM p)
    SELECT trace_id, span_id, parent_span_id, service, track,
           CASE WHEN http_route IS NOT NULL AND http_route <> '' THEN http_route
                WHEN kind = 2 THEN span_name END AS route,
           kind, t, duration_ns,
           status_code = 2 OR (kind = 2 AND coalesce(http_status BETWEEN 500 AND 599, false))
             AS is_error
    FROM f"""

con.execute(f"CREATE TEMP VIEW spans AS {spans}")
# JSON is parsed once and kept (it is read three times below); Parquet is cheap to rescan.
materialized = "MATERIALIZED" if mode == "json" else "NOT MATERIALIZED"
rows = con.execute(f"""
WITH sp AS {materialized} (SELECT * FROM spans),
win AS (
  SELECT greatest(min(t) FILTER (WHERE track = 'stable'), min(t) FILTER (WHERE track = 'canary')) AS ws,
         least(max(t) FILTER (WHERE track = 'stable'), max(t) FILTER (WHERE track = 'canary')) AS wl
  FROM sp),
req AS (
  SELECT * FROM sp WHERE kind = 2 OR parent_span_id IS NULL
  UNION ALL
  SELECT s.* FROM sp AS s
  WHERE s.kind <> 2 AND s.parent_span_id IS NOT NULL
    AND EXISTS (SELECT 1 FROM sp AS p WHERE p.trace_id = s.trace_id
                AND p.span_id = s.parent_span_id AND p.service <> s.service))
SELECT service, track, route, count(*) AS count, sum(CASE WHEN is_error THEN 1 ELSE 0 END) AS errors,
       quantile_cont(duration_ns / 1e6, [0.5, 0.9, 0.99, 0.999]) AS q,
       any_value(ws) AS ws, any_value(wl) AS wl
FROM req, win
WHERE track IN ('stable', 'canary') AND route IS NOT NULL AND t >= ws AND t <= wl
GROUP BY ALL ORDER BY ALL
""").fetchall()
groups = [
    {"service": s, "track": tr, "route": r, "count": c, "errors": int(e),
     "p50": q[0], "p90": q[1], "p99": q[2], "p999": q[3]}
    for s, tr, r, c, e, q, _, _ in rows
]
window = [rows[0][6], rows[0][7]] if rows else None
json.dump({"window": window, "groups": groups}, open(out, "w"))
print(len(groups))
