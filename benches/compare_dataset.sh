#!/usr/bin/env bash
# `canalyst analyze` on a DATASET against DuckDB computing the same route-level summary from the
# DATASET's spans.parquet (benches/duck_analyze.py), alternating the two, RUNS times each, at 1
# and 2 threads: wall time, CPU seconds (user + system: the fairer figure on a shared machine),
# peak RSS; then the ratio of median wall times and whether report.json is byte-identical
# across thread counts. (benches/compare_analyze.sh cross-checks the route groups with DuckDB.)
#
# Usage: benches/compare_dataset.sh DATASET [RUNS] [OUTDIR]   (default 3 runs, a temporary dir)
# CANALYST_BIN=path times that binary (default: the release build in CARGO_TARGET_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
DS="$1"
RUNS="${2:-3}"
OUT="${3:-$(mktemp -d)}"
mkdir -p "$OUT"
BIN="${CANALYST_BIN:-${CARGO_TARGET_DIR:-target}/release/canalyst}"
export SOURCE_DATE_EPOCH=0   # generated_at fixed, so reports compare byte for byte
RESULTS="$OUT/results.txt"
: > "$RESULTS"

# measure NAME THREADS CMD...: appends "NAME THREADS seconds rss_kb cpu% user_s sys_s" (exit
# codes 0, 1 and 3 are verdicts, not failures).
measure() {
  local name="$1" threads="$2"; shift 2
  local log="$OUT/time.log" rc=0
  /usr/bin/time -f "%e %M %P %U %S" -o "$log" "$@" >/dev/null 2>"$OUT/stderr-$name-$threads.txt" || rc=$?
  case $rc in 0|1|3) ;; *) cat "$OUT/stderr-$name-$threads.txt" >&2; exit 1 ;; esac
  echo "$name $threads $(tail -1 "$log")" >> "$RESULTS"
}

for run in $(seq "$RUNS"); do
  for t in 1 2; do
    measure canalyst "$t" "$BIN" --threads "$t" analyze "$DS" -o "$OUT/report-t$t.json"
    DUCK_THREADS=$t measure duckdb "$t" python3 benches/duck_analyze.py parquet "$DS/spans.parquet" "$OUT/duck.json"
  done
done

python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
print(f"{'tool':<9} {'threads':>7} {'wall s (runs)':<24} {'median':>7} {'CPU s':>6} {'peak MiB':>9} {'CPU':>6}")
med = {}
for tool in ["canalyst", "duckdb"]:
    for t in ["1", "2"]:
        rs = [r for r in rows if r[0] == tool and r[1] == t]
        walls = [float(r[2]) for r in rs]
        med[(tool, t)] = statistics.median(walls)
        rss = max(int(r[3]) for r in rs) / 1024
        cpu = statistics.median(float(r[5]) + float(r[6]) for r in rs)
        print(f"{tool:<9} {t:>7} {' / '.join(f'{w:.2f}' for w in walls):<24} {med[(tool, t)]:>7.2f} {cpu:>6.2f} {rss:>9.0f} {rs[-1][4]:>6}")
for t in ["1", "2"]:
    print(f"{t} thread(s): canalyst is {med[('duckdb', t)] / med[('canalyst', t)]:.2f}x DuckDB's speed")
PY
if cmp -s "$OUT/report-t1.json" "$OUT/report-t2.json"; then
  echo "report.json identical at 1 and 2 threads"
else
  echo "report.json DIFFERS between 1 and 2 threads"; exit 1
fi
echo "outputs in $OUT"
