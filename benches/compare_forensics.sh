#!/usr/bin/env bash
# canalyst analyze vs forensics vs report on the same input: wall time and peak RSS of
# alternating runs (issue 10: forensics within 1.5x of analyze on 1M spans of OTLP JSON).
#
# Usage: benches/compare_forensics.sh INPUT [REPEATS]
#   INPUT: a raw file or directory or a DATASET, e.g. the 1M-span `mixed` seed-1 JSON:
#     canalyst generate --scenario mixed --seed 1 --spans 1000000 -o /tmp/f1m
#     benches/compare_forensics.sh /tmp/f1m/otlp/traces.jsonl 3
#   REPEATS: runs of each command (default 3).
# CANALYST_BIN=path times that binary instead of building the release one. Extra arguments
# for every command (sides, window) go in CANALYST_ARGS. Outputs go to a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
INPUT="${1:?usage: benches/compare_forensics.sh INPUT [REPEATS]}"
RUNS="${2:-3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/canalyst-target}"
if [ -z "${CANALYST_BIN:-}" ]; then
  cargo build --release --quiet --bin canalyst
fi
BIN="${CANALYST_BIN:-$CARGO_TARGET_DIR/release/canalyst}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
read -r -a EXTRA <<< "${CANALYST_ARGS:-}"

for i in $(seq 1 "$RUNS"); do
  for cmd in analyze forensics report; do
    case $cmd in
      analyze) args=(analyze "$INPUT" -o "$WORK/report.json") ;;
      forensics) args=(forensics "$INPUT" -o "$WORK/forensics") ;;
      report) args=(report "$INPUT" -o "$WORK/report") ;;
    esac
    rc=0
    /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$BIN" "${args[@]}" "${EXTRA[@]}" \
      >/dev/null 2>"$WORK/stderr.txt" || rc=$?
    # analyze and report exit 0/1/3 by verdict; 2 is an error.
    case $rc in 0|1|3) ;; *) echo "$cmd failed with exit $rc:" >&2; tail -5 "$WORK/stderr.txt" >&2; exit 1 ;; esac
    read -r secs kb < <(tail -n 1 "$WORK/time.txt")
    echo "$cmd run $i: ${secs} s, peak RSS $((kb / 1024)) MiB, exit $rc"
  done
done
