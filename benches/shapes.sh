#!/usr/bin/env bash
# canalyst ingest and analyze against DuckDB on the same traffic in four OTLP/JSON shapes
# (benches/shapes.py: Collector batch lines, SDK exporter lines, one pretty-printed document,
# gzip-compressed Collector lines), 1 and 2 threads each, RUNS alternating runs.
#
# Usage: benches/shapes.sh [SPANS] [WORKDIR] [RUNS]   (default 1000000 spans, a temp dir, 3)
#        CANALYST_BIN=path  time that binary (no build)
#        SHAPES="collector.jsonl sdk.jsonl"  only those shapes
# Per run and shape: `canalyst ingest --threads T` (to a DATASET), `canalyst analyze --threads T`
# (from the raw file), and `benches/duck_analyze.py json` with DUCK_THREADS=T (read_json +
# unnest + the same route groups and exact quantiles). Wall time and peak RSS come from
# /usr/bin/time. Checks, failing the script: spans.parquet and the analyze report are
# byte-identical for 1 and 2 threads, and every route group equals DuckDB's
# (benches/crosscheck.py). Writes WORKDIR/shapes-results.txt and prints a table of medians.
set -euo pipefail
cd "$(dirname "$0")/.."
SPANS="${1:-1000000}"
WORK="${2:-$(mktemp -d)}"
RUNS="${3:-3}"
SHAPES="${SHAPES:-collector.jsonl sdk.jsonl pretty.json collector.jsonl.gz}"
mkdir -p "$WORK"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/canalyst-target}"
# Reports carry a generation time; a fixed one makes them comparable byte for byte.
export SOURCE_DATE_EPOCH=1767225600

if [ -z "${CANALYST_BIN:-}" ]; then
  cargo build --release --quiet --bin canalyst
fi
BIN="${CANALYST_BIN:-$CARGO_TARGET_DIR/release/canalyst}"

if [ ! -s "$WORK/otlp/traces.jsonl" ]; then
  echo "generating $SPANS spans with canalyst generate" >&2
  "$BIN" generate --scenario mixed --seed 1 --spans "$SPANS" -o "$WORK" >/dev/null
fi
if [ ! -s "$WORK/shapes/collector.jsonl.gz" ]; then
  echo "writing the shapes" >&2
  python3 benches/shapes.py "$WORK/otlp/traces.jsonl" "$WORK/shapes" 1
fi

RESULTS="$WORK/shapes-results.txt"
: > "$RESULTS"
# measure SHAPE JOB THREADS CMD... : appends "SHAPE JOB THREADS seconds rss_kb cpu" to RESULTS
# (exit codes 0, 1, 3 are verdicts, not failures).
measure() {
  local shape="$1" job="$2" t="$3"; shift 3
  local log="$WORK/time.log" rc=0
  /usr/bin/time -f "%e %M %P" -o "$log" "$@" >/dev/null 2>"$WORK/stderr.log" || rc=$?
  case $rc in 0|1|3) ;; *) cat "$WORK/stderr.log" "$log" >&2; exit 1 ;; esac
  echo "$shape $job $t $(tail -1 "$log")" >> "$RESULTS"
}

fail=0
for shape in $SHAPES; do
  IN="$WORK/shapes/$shape"
  for r in $(seq "$RUNS"); do
    for t in 1 2; do
      rm -rf "$WORK/ds-$t"
      measure "$shape" ingest "$t" "$BIN" ingest --threads "$t" --quiet "$IN" -o "$WORK/ds-$t"
      measure "$shape" analyze "$t" "$BIN" analyze --threads "$t" "$IN" -o "$WORK/analyze-$t.json"
      DUCK_THREADS=$t measure "$shape" duckdb "$t" \
        python3 benches/duck_analyze.py json "$IN" "$WORK/duck-$t.json"
    done
  done
  for what in ds-%s/spans.parquet analyze-%s.json; do
    # shellcheck disable=SC2059
    a="$WORK/$(printf "$what" 1)"; b="$WORK/$(printf "$what" 2)"
    if cmp -s "$a" "$b"; then echo "$shape: $(basename "$a") identical for 1 and 2 threads"
    else echo "MISMATCH $shape: $a and $b differ"; fail=1; fi
  done
  python3 benches/crosscheck.py "$shape" "$WORK/analyze-2.json" "$WORK/duck-2.json" || fail=1
done

python3 - "$RESULTS" "$WORK/shapes" $SHAPES <<'PY'
import os, statistics, sys
results, shapes_dir, shapes = sys.argv[1], sys.argv[2], sys.argv[3:]
runs = {}
for line in open(results):
    shape, job, t, secs, rss, cpu = line.split()
    runs.setdefault((shape, job, t), []).append((float(secs), int(rss), cpu))
def med(k):
    v = runs[k]
    return statistics.median(s for s, _, _ in v), max(m for _, m, _ in v) / 1024
print(f"{'shape':<20} {'MB':>6} {'thr':>3} {'ingest s':>9} {'MiB':>5} {'analyze s':>9} {'MiB':>5}"
      f" {'duckdb s':>9} {'MiB':>5} {'ingest x':>8} {'analyze x':>9}")
for shape in shapes:
    mb = os.path.getsize(os.path.join(shapes_dir, shape)) / 1e6
    for t in ["1", "2"]:
        i, im = med((shape, "ingest", t))
        a, am = med((shape, "analyze", t))
        d, dm = med((shape, "duckdb", t))
        print(f"{shape:<20} {mb:>6.0f} {t:>3} {i:>9.2f} {im:>5.0f} {a:>9.2f} {am:>5.0f}"
              f" {d:>9.2f} {dm:>5.0f} {d/i:>7.2f}x {d/a:>8.2f}x")
print("wall: median of the runs; MiB: largest peak RSS; x: DuckDB's time / canalyst's")
PY
if [ "$fail" != 0 ]; then echo "shapes.sh: checks failed" >&2; exit 1; fi
