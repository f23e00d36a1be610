#!/usr/bin/env bash
# canalyst backtest (the `progressive` preset) vs canalyst analyze on the same DATASET: wall time
# and peak RSS of alternating runs (issue 15: a backtest within 2x analyze, because the requests
# are read once into per-bucket summaries and every measurement merges buckets, never spans).
# The recording is an A/A run at 50% canary share, so the replay takes all 7 measurements of
# the preset and promotes (the worst case: a rollback stops earlier).
#
# Usage: benches/compare_backtest.sh [SPANS] [WORKDIR] [RUNS]
#   defaults: 1000000 spans, a temporary dir, 3 runs of each command.
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
  echo "generating $SPANS spans (aa, 50% canary, seed 1) and ingesting them into a DATASET" >&2
  "$BIN" generate --scenario aa --seed 1 --spans "$SPANS" --canary-share 0.5 -o "$WORK/gen" >/dev/null 2>&1
  rm -rf "$WORK/ds"
  "$BIN" ingest "$WORK/gen/parquet/spans.parquet" -o "$WORK/ds" --quiet
  rm -f "$WORK/gen/otlp/traces.jsonl"
fi

for i in $(seq 1 "$RUNS"); do
  for cmd in analyze backtest; do
    rc=0
    case $cmd in
      analyze) args=(analyze "$WORK/ds" -o "$WORK/report.json") ;;
      backtest) args=(backtest "$WORK/ds" --policy progressive -o "$WORK/backtest") ;;
    esac
    /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$BIN" "${args[@]}" >/dev/null 2>&1 || rc=$?
    case $rc in 0|1|3) ;; *) echo "$cmd failed with exit $rc" >&2; exit 1 ;; esac
    read -r secs kb < <(tail -n 1 "$WORK/time.txt")
    echo "$cmd run $i: ${secs} s, peak RSS $((kb / 1024)) MB, exit $rc"
  done
done
