#!/usr/bin/env bash
# canalyst analyze, fixed vs sequential method, on the same DATASET: wall time and peak RSS of
# alternating runs (issue 11: the sequential analysis within 1.5x of the fixed one, because the
# per-look counts are merged from the per-bucket series, not recomputed from spans).
#
# Usage: benches/compare_sequential.sh [SPANS] [WORKDIR] [RUNS]
#   defaults: 1000000 spans, a temporary dir, 3 runs of each method.
# CANALYST_BIN=path times that binary instead of building the release one.
set -euo pipefail
cd "$(dirname "$0")/.."
SPANS="${1:-1000000}"
WORK="${2:-$(mktemp -d)}"
RUNS="${3:-3}"
mkdir -p "$WORK"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/canalyst-target}"
if [ -z "${CANALYST_BIN:-}" ]; then
  cargo build --release --quiet --bin canalyst
fi
BIN="${CANALYST_BIN:-$CARGO_TARGET_DIR/release/canalyst}"

if [ ! -s "$WORK/ds/spans.parquet" ]; then
  echo "generating $SPANS spans (mixed, seed 1) and ingesting them into a DATASET" >&2
  "$BIN" generate --scenario mixed --seed 1 --spans "$SPANS" -o "$WORK/gen" >/dev/null
  rm -rf "$WORK/ds"
  "$BIN" ingest "$WORK/gen/otlp/traces.jsonl" -o "$WORK/ds" --quiet
  rm -f "$WORK/gen/otlp/traces.jsonl"
fi
SHARE=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['canary_share'])" "$WORK/gen/truth.json" 2>/dev/null || echo 0.2)
printf 'method = "fixed"\n' > "$WORK/fixed.toml"
printf 'method = "sequential"\n[sequential]\nlook_interval = "1m"\ntraffic_split = %s\n' "$SHARE" > "$WORK/sequential.toml"

for i in $(seq 1 "$RUNS"); do
  for m in fixed sequential; do
    rc=0
    /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$BIN" analyze "$WORK/ds" --config "$WORK/$m.toml" \
      -o "$WORK/report-$m.json" >/dev/null 2>&1 || rc=$?
    case $rc in 0|1|3) ;; *) echo "analyze ($m) failed with exit $rc" >&2; exit 1 ;; esac
    # time(1) puts "Command exited with non-zero status N" first for a rollback/continue.
    read -r secs kb < <(tail -n 1 "$WORK/time.txt")
    echo "$m run $i: ${secs} s, peak RSS $((kb / 1024)) MB, exit $rc"
  done
done
