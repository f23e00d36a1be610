"""Rewrite one OTLP/JSON traces file (canalyst generate's lines) into the export shapes real
pipelines write, all carrying exactly the same spans (same resources, scopes, attributes):

- collector.jsonl    an OpenTelemetry Collector's batch output: each line holds ~28
                     resourceSpans entries (pieces of 1-21 spans of one resource, as the batch
                     processor concatenates the exports it received) and ~300 spans;
- sdk.jsonl          an SDK exporter's requests: one resource per line, 1-50 spans;
- pretty.json        one pretty-printed document (indent 2) with every resourceSpans entry;
- collector.jsonl.gz the Collector lines, gzip level 6 (no name or time in the header).

Usage: shapes.py INPUT.jsonl OUTDIR [SEED]
Deterministic: the same input and seed give the same bytes. Streams: memory is a few lines plus
at most 50 spans per resource.
"""
import gzip
import json
import os
import random
import sys

src, out = sys.argv[1], sys.argv[2]
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
os.makedirs(out, exist_ok=True)
rng = random.Random(seed)
compact = {"separators": (",", ":"), "ensure_ascii": False}

collector = open(os.path.join(out, "collector.jsonl"), "w", encoding="utf-8")
sdk = open(os.path.join(out, "sdk.jsonl"), "w", encoding="utf-8")
pretty = open(os.path.join(out, "pretty.json"), "w", encoding="utf-8")
pretty.write('{\n  "resourceSpans": [')
first_pretty = True

batch = []
# Collector pieces being filled: resource key -> (resource, [(scope, span)], target size)
pieces = {}
# SDK buffers: resource key -> (resource, [(scope, span)], target size)
pending = {}


def flush_collector():
    global batch
    if batch:
        collector.write(json.dumps({"resourceSpans": batch}, **compact) + "\n")
    batch = []


def entry(resource, items):
    """A resourceSpans entry from (scope, span) pairs, consecutive equal scopes grouped."""
    scopes = []
    for scope, span in items:
        if scopes and scopes[-1][0] == scope:
            scopes[-1][1].append(span)
        else:
            scopes.append((scope, [span]))
    return {"resource": resource,
            "scopeSpans": [{"scope": json.loads(s), "spans": sp} for s, sp in scopes]}


def add_piece(key):
    resource, items, _ = pieces.pop(key)
    batch.append(entry(resource, items))
    if len(batch) >= 28:
        flush_collector()


def emit_sdk(key):
    resource, items, _ = pending.pop(key)
    sdk.write(json.dumps({"resourceSpans": [entry(resource, items)]}, **compact) + "\n")


with open(src, encoding="utf-8") as f:
    for line in f:
        if not line.strip():
            continue
        for rs in json.loads(line)["resourceSpans"]:
            resource = rs.get("resource", {})
            items = [(json.dumps(ss.get("scope", {}), sort_keys=True), span)
                     for ss in rs.get("scopeSpans", []) for span in ss.get("spans", [])]

            # pretty: the entry as it came
            pretty.write(("\n" if first_pretty else ",\n")
                         + "\n".join("    " + l for l in json.dumps(rs, indent=2, ensure_ascii=False).split("\n")))
            first_pretty = False

            # collector: per resource, a piece of 1-21 spans (mean 11) joins the batch when
            # complete; a line holds 28 pieces
            key = json.dumps(resource, sort_keys=True)
            for it in items:
                if key not in pieces:
                    pieces[key] = (resource, [], rng.randint(1, 21))
                pieces[key][1].append(it)
                if len(pieces[key][1]) >= pieces[key][2]:
                    add_piece(key)

            # sdk: per resource, export when 1-50 spans have accumulated
            for it in items:
                if key not in pending:
                    pending[key] = (resource, [], rng.randint(1, 50))
                pending[key][1].append(it)
                if len(pending[key][1]) >= pending[key][2]:
                    emit_sdk(key)

for key in sorted(pieces):
    add_piece(key)
flush_collector()
for key in sorted(pending):
    emit_sdk(key)
pretty.write("\n  ]\n}\n")
for fh in (collector, sdk, pretty):
    fh.close()

with open(os.path.join(out, "collector.jsonl"), "rb") as fin, \
        open(os.path.join(out, "collector.jsonl.gz"), "wb") as raw, \
        gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=raw, mtime=0) as gz:
    while True:
        b = fin.read(1 << 20)
        if not b:
            break
        gz.write(b)
