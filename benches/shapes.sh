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
# /usr/bin/time. Checks, failing the script: spans.parquet, resources.parquet and the analyze report are
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
  # Into the page cache first: the first timed run of a shape must not be the one that reads
  # it from disk (some VMs reclaim idle page cache within minutes).
  cat "$IN" > /dev/null
  for r in $(seq "$RUNS"); do
    for t in 1 2; do
      rm -rf "$WORK/ds-$t"
      measure "$shape" ingest "$t" "$BIN" ingest --threads "$t" --quiet "$IN" -o "$WORK/ds-$t"
      measure "$shape" analyze "$t" "$BIN" analyze --threads "$t" "$IN" -o "$WORK/analyze-$t.json"
      DUCK_THREADS=$t measure "$shape" duckdb "$t" \
        python3 benches/duck_analyze.py json "$IN" "$WORK/duck-$t.json"
    done
  done
  for what in ds-%s/spans.parquet ds-%s/resources.parquet analyze-%s.json; do
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
    # CPU seconds (user + sys) = wall x CPU%: on a busy machine the fairer comparison.
    runs.setdefault((shape, job, t), []).append(
        (float(secs), int(rss), float(secs) * float(cpu.rstrip("%")) / 100))
def med(k):
    v = runs[k]
    return (statistics.median(s for s, _, _ in v), max(m for _, m, _ in v) / 1024,
            statistics.median(c for _, _, c in v))
print(f"{'shape':<19} {'MB':>5} {'thr':>3} | {'ingest s':>8} {'cpu':>5} {'MiB':>5} |"
      f" {'analyze s':>9} {'cpu':>5} {'MiB':>5} | {'duckdb s':>8} {'cpu':>5} {'MiB':>5} |"
      f" {'ingest x':>8} {'cpu x':>5} | {'analyze x':>9} {'cpu x':>5}")
for shape in shapes:
    mb = os.path.getsize(os.path.join(shapes_dir, shape)) / 1e6
    for t in ["1", "2"]:
        i, im, ic = med((shape, "ingest", t))
        a, am, ac = med((shape, "analyze", t))
        d, dm, dc = med((shape, "duckdb", t))
        print(f"{shape:<19} {mb:>5.0f} {t:>3} | {i:>8.2f} {ic:>5.1f} {im:>5.0f} |"
              f" {a:>9.2f} {ac:>5.1f} {am:>5.0f} | {d:>8.2f} {dc:>5.1f} {dm:>5.0f} |"
              f" {d/i:>7.2f}x {dc/ic:>4.1f}x | {d/a:>8.2f}x {dc/ac:>4.1f}x")
print("s: median wall; cpu: median user+sys s; MiB: largest peak RSS; x: DuckDB's / canalyst's")
PY
if [ "$fail" != 0 ]; then echo "shapes.sh: checks failed" >&2; exit 1; fi
