#!/usr/bin/env python3
"""Split a call-graph profile of `canalyst ingest`/`analyze` on OTLP/JSON into pipeline stages.

Input: the output of `perf script -F comm,tid,ip,sym` of a `perf record --call-graph dwarf`
run (docs/benchmarks.md, "Session 10"). Each sample is charged to the first stage named on its
stack, walking from the leaf towards the root, so `memcpy`, `malloc` and kernel frames are
charged to the stage that called them. Prints each stage's share of all samples.

Usage: perf script -i perf.data -F comm,tid,ip,sym | python3 benches/perf_stages.py
"""
import collections
import sys

# (stage, substrings of a frame's symbol); checked in this order for each frame.
STAGES = [
    ("Parquet write (ArrowWriter, encoders, zstd)", ["parquet::", "ZSTD_", "ArrowWriter"]),
    ("concatenating batches", ["concat_batches", "arrow_select::concat"]),
    ("simd-json stage 1 (structural index)", ["find_structural_bits"]),
    ("simd-json stage 2 (tape, string unescaping)",
     ["simd_json::Deserializer::from_slice", "simd_json::impls::", "simd_json::Deserializer::"]),
    ("serde visitor walk into the typed model (document.rs), its allocation and drop",
     ["otlp_json::document::", "serde_core::de", "simd_json::serde", "Doc>::deserialize",
      "otlp_json::scalars::J", "parse::Parser::parse"]),
    ("duplicates (fingerprints, seen_spans)", ["seen_spans::", "fingerprint"]),
    ("builder (SpansBuilder, ResourceInfo, Arrow appends)",
     ["SpansBuilder", "spans::Batch", "ResourceInfo::from_attributes"]),
    ("span conversion (ids, attribute rendering, route template)",
     ["SpanDecoder::decode_object", "ids::decode_id", "otlp_json::id", "render_value",
      "otlp_json::", "model::route", "model::"]),
    ("reading the file, line split", ["decode_lines", "ingest::"]),
    ("after ingest (engine, statistics, analysis, report)",
     ["canalyst::engine", "canalyst::stats", "canalyst::analysis", "canalyst::report",
      "canalyst::cli", "datafusion", "canalyst::"]),
]
OTHER = "other (startup, frames outside the above)"


def stage_of(frames):
    """The first stage named on `frames` (leaf first), or OTHER."""
    for frame in frames:
        for name, patterns in STAGES:
            if any(p in frame for p in patterns):
                return name
    return OTHER


def main():
    counts = collections.Counter()
    total = 0
    for block in sys.stdin.read().split("\n\n"):
        lines = [l.strip() for l in block.strip().split("\n")[1:] if l.strip()]
        if not lines:
            continue
        total += 1
        counts[stage_of([l.split(" ", 1)[-1] for l in lines])] += 1
    if total == 0:
        sys.exit("no samples on stdin (expected `perf script -F comm,tid,ip,sym` output)")
    for name, _ in STAGES + [(OTHER, None)]:
        print(f"{counts[name] / total * 100:5.1f}%  {name}")
    print(f"{total} samples")


if __name__ == "__main__":
    main()
