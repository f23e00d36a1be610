"""How DuckDB reads OTLP/JSON lines: the three ways benches/ used, each counting the spans of a
file (the reading and unnesting part of benches/duck_analyze.py's json mode). Evidence for the
choices of docs/benchmarks.md, "The DuckDB baseline".

Usage: duck_read_modes.py read_json_4g|read_json|objects FILE.jsonl THREADS
  read_json_4g  read_json with auto-detection and maximum_object_size = 4294967295 (before review)
  read_json     read_json with auto-detection and the default maximum_object_size (16 MB)
  objects       read_json_objects + json_transform on an explicit structure (duck_analyze.py)
Prints (spans, total trace-id characters, spans with an attribute list): the same for all three.
"""
import json
import sys

import duckdb

variant, src, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = duckdb.connect()
con.execute(f"SET threads = {threads}")


def lit(s):
    return "'" + s.replace("'", "''") + "'"


kv = [{"key": "VARCHAR", "value": {"stringValue": "VARCHAR", "intValue": "VARCHAR"}}]
structure = json.dumps({"resourceSpans": [{"resource": {"attributes": kv}, "scopeSpans": [{"spans": [{
    "traceId": "VARCHAR", "spanId": "VARCHAR", "parentSpanId": "VARCHAR", "name": "VARCHAR",
    "kind": "INTEGER", "startTimeUnixNano": "VARCHAR", "endTimeUnixNano": "VARCHAR",
    "attributes": kv, "status": {"code": "INTEGER"}}]}]}]})
if variant == "read_json_4g":
    source = f"read_json({lit(src)}, format = 'newline_delimited', maximum_object_size = 4294967295)"
    rss = "resourceSpans"
elif variant == "read_json":
    source = f"read_json({lit(src)}, format = 'newline_delimited')"
    rss = "resourceSpans"
elif variant == "objects":
    source = (f"(SELECT json_transform(json, {lit(structure)}).resourceSpans AS rss "
              f"FROM read_json_objects({lit(src)}, format = 'newline_delimited'))")
    rss = "rss"
else:
    sys.exit(f"unknown variant {variant!r}")
print(con.execute(f"""
  WITH r AS (SELECT unnest({rss}) AS rs FROM {source}),
       s AS (SELECT unnest(rs.scopeSpans) AS ss FROM r),
       p AS (SELECT unnest(ss.spans) AS sp FROM s)
  SELECT count(*), sum(length(sp.traceId)), count(sp.attributes) FROM p""").fetchone())
