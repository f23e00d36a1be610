#!/usr/bin/env bash
# canalyst analyze locally vs on a Ballista cluster on this machine (`canalyst scheduler` and
# 1 or 2 `canalyst executor` processes on free localhost ports): wall time (median of REPEATS),
# bytes the executors wrote to shuffle files (every stage's output, including the final rows
# the client reads), and a check that every JSON report equals the local one byte for byte.
#
# Usage: benches/compare_cluster.sh DATASET [REPEATS]   (REPEATS default 3)
# Builds `cargo build --release --features distributed --bin canalyst` unless CANALYST_BIN
# names a binary built with the feature. Prints a table; see docs/benchmarks.md
# ("Past one machine").
set -euo pipefail
cd "$(dirname "$0")/.."
DS="${1:?usage: benches/compare_cluster.sh DATASET [REPEATS]}"
REPEATS="${2:-3}"
[ -s "$DS/spans.parquet" ] || { echo "$DS is not a DATASET (no spans.parquet)" >&2; exit 2; }
DS="$(cd "$DS" && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/canalyst-target}"
if [ -z "${CANALYST_BIN:-}" ]; then
  cargo build --release --quiet --features distributed --bin canalyst
fi
BIN="${CANALYST_BIN:-$CARGO_TARGET_DIR/release/canalyst}"
"$BIN" scheduler --help >/dev/null 2>&1 || { echo "$BIN lacks the distributed feature" >&2; exit 2; }
CORES="$(nproc)"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export SOURCE_DATE_EPOCH=1767225600

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 600); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "nothing on port $1" >&2; exit 2; }

# run_timed NAME ARGS...: runs canalyst ARGS REPEATS times, report to $WORK/NAME.json; prints
# the median wall time in seconds. Exit codes 0, 1, 3 are verdicts.
run_timed() {
  local name="$1"; shift
  local times=()
  for _ in $(seq "$REPEATS"); do
    local t0 t1 rc=0
    t0=$(date +%s.%N)
    "$BIN" "$@" -o "$WORK/$name.json" >/dev/null 2>"$WORK/$name.err" || rc=$?
    t1=$(date +%s.%N)
    if [ "$rc" = 2 ]; then cat "$WORK/$name.err" >&2; exit 2; fi
    times+=("$(echo "$t1 - $t0" | bc)")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

printf '%-22s %10s %16s %s\n' setup "median_s" "shuffle_bytes" "report"
local_s=$(run_timed local analyze "$DS")
printf '%-22s %10.2f %16s %s\n' "local" "$local_s" "-" "reference"

for n in 1 2; do
  sp=$(free_port)
  "$BIN" scheduler --bind "127.0.0.1:$sp" 2>"$WORK/scheduler-$n.log" & PIDS+=($!)
  wait_port "$sp"
  dirs=()
  for i in $(seq "$n"); do
    ep=$(free_port); d="$WORK/shuffle-$n-$i"; mkdir -p "$d"; dirs+=("$d")
    "$BIN" executor --scheduler "127.0.0.1:$sp" --bind "127.0.0.1:$ep" \
      --concurrent-tasks $(( (CORES + n - 1) / n )) --work-dir "$d" 2>"$WORK/executor-$n-$i.log" & PIDS+=($!)
    wait_port "$ep"
  done
  sleep 2  # registration
  # One untimed run for the shuffle volume (files stay until the scheduler's clean-up).
  "$BIN" --threads "$CORES" analyze "$DS" --cluster "df://127.0.0.1:$sp" -o "$WORK/probe.json" >/dev/null 2>&1 || true
  bytes=$(du -sb "${dirs[@]}" | awk '{s+=$1} END {print s}')
  s=$(run_timed "cluster$n" --threads "$CORES" analyze "$DS" --cluster "df://127.0.0.1:$sp")
  same=$(cmp -s "$WORK/local.json" "$WORK/cluster$n.json" && echo "identical" || echo "DIFFERS")
  printf '%-22s %10.2f %16s %s\n' "cluster, $n executor(s)" "$s" "$bytes" "$same"
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
done
echo "($REPEATS runs each; $CORES cores; $(du -sh "$DS/spans.parquet" | cut -f1) spans.parquet)"
