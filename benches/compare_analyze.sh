#!/usr/bin/env bash
# canalyst analyze vs DuckDB computing the same route-level request summary: wall time and
# peak RSS, from canonical Parquet and from OTLP/JSON lines, plus a correctness cross-check.
#
# Usage: benches/compare_analyze.sh [SPANS] [WORKDIR]   (default 1000000 spans, a temporary dir)
#   or:  benches/compare.sh --analyze [SPANS] [WORKDIR]
# Set KEEP=0 to delete WORKDIR's generated files (JSON, Parquet, dataset) at the end.
# See docs/benchmarks.md for what each side computes.
set -euo pipefail
cd "$(dirname "$0")/.."
SPANS="${1:-1000000}"
WORK="${2:-$(mktemp -d)}"
KEEP="${KEEP:-1}"
mkdir -p "$WORK"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/canalyst-target}"

# CANALYST_BIN=path skips the build and times that binary instead.
if [ -z "${CANALYST_BIN:-}" ]; then
  cargo build --release --quiet --bin canalyst
fi
BIN="${CANALYST_BIN:-$CARGO_TARGET_DIR/release/canalyst}"

JSONL="$WORK/otlp/traces.jsonl"
if [ ! -s "$JSONL" ]; then
  echo "generating $SPANS spans with canalyst generate" >&2
  "$BIN" generate --scenario mixed --seed 1 --spans "$SPANS" -o "$WORK" >/dev/null
fi
if [ ! -s "$WORK/ds/spans.parquet" ]; then
  echo "ingesting into a DATASET" >&2
  rm -rf "$WORK/ds"
  "$BIN" ingest "$JSONL" -o "$WORK/ds" --quiet
fi

# measure NAME CMD... : runs CMD under /usr/bin/time -v (exit codes 0, 1, 3 are verdicts, not
# failures); appends "NAME seconds rss_kb cpu" to $WORK/analyze-results.txt.
RESULTS="$WORK/analyze-results.txt"
: > "$RESULTS"
measure() {
  local name="$1"; shift
  local log="$WORK/time-$name.log" rc=0
  /usr/bin/time -v "$@" 2>"$log" >"$WORK/out-$name.txt" || rc=$?
  case $rc in 0|1|3) ;; *) cat "$log" >&2; exit 1 ;; esac
  local wall rss cpu
  wall=$(grep "Elapsed (wall clock)" "$log" | awk '{print $NF}')
  rss=$(grep "Maximum resident set size" "$log" | awk '{print $NF}')
  cpu=$(grep "Percent of CPU" "$log" | awk '{print $NF}')
  python3 -c "import sys; p=sys.argv[2].split(':'); print(sys.argv[1], sum(float(x)*60**i for i,x in enumerate(reversed(p))), sys.argv[3], sys.argv[4])" \
    "$name" "$wall" "$rss" "$cpu" >> "$RESULTS"
  grep "^timing" "$log" >&2 || true
}

export CANALYST_TIMINGS=1
measure canalyst-parquet "$BIN" analyze "$WORK/ds" -o "$WORK/analyze-parquet.json"
measure duckdb-parquet python3 benches/duck_analyze.py parquet "$WORK/ds/spans.parquet" "$WORK/duck-parquet.json"
measure canalyst-json "$BIN" analyze "$JSONL" -o "$WORK/analyze-json.json"
measure duckdb-json python3 benches/duck_analyze.py json "$JSONL" "$WORK/duck-json.json"

python3 - "$WORK" "$(stat -c %s "$JSONL")" "$(stat -c %s "$WORK/ds/spans.parquet")" <<'PY'
import sys
work, jbytes, pbytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = {}
for line in open(f"{work}/analyze-results.txt"):
    name, secs, rss, cpu = line.split()
    r[name] = (float(secs), int(rss), cpu)
print(f"input: {jbytes/1e6:.0f} MB OTLP/JSON lines, {pbytes/1e6:.0f} MB canonical Parquet")
print(f"{'case':<18} {'wall s':>8} {'peak RSS MiB':>13} {'CPU':>6}")
for n in ["canalyst-parquet", "duckdb-parquet", "canalyst-json", "duckdb-json"]:
    s, m, c = r[n]
    print(f"{n:<18} {s:>8.2f} {m/1024:>13.0f} {c:>6}")
for form in ["parquet", "json"]:
    cs, cm, _ = r[f"canalyst-{form}"]
    ds, dm, _ = r[f"duckdb-{form}"]
    print(f"{form}: canalyst is {ds/cs:.2f}x DuckDB's speed; peak memory ratio canalyst/duckdb {cm/dm:.2f}")
PY

# Cross-check: every route group of both sides, canalyst's analyze JSON against DuckDB.
bad=0
for form in parquet json; do
  python3 benches/crosscheck.py "$form" "$WORK/analyze-$form.json" "$WORK/duck-$form.json" || bad=1
done
if [ "$bad" = 0 ]; then echo "cross-check: all equal"; else echo "cross-check: mismatches"; fi

if [ "$KEEP" = 0 ]; then
  rm -rf "$WORK/otlp" "$WORK/parquet" "$WORK/ds"
fi
