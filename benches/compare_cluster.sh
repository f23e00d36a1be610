#!/usr/bin/env bash
# canalyst analyze locally vs on a Ballista cluster on this machine (`canalyst scheduler` and
# 1 or 2 `canalyst executor` processes on free localhost ports), all in one run:
# - wall time and client CPU seconds (median of REPEATS), client peak RSS (largest of REPEATS);
# - per server process: peak RSS (VmHWM) and CPU seconds per analysis (over the REPEATS runs);
# - bytes shuffled: the sizes of the shuffle files the executors wrote for one analysis
#   (every stage's output, polled while the jobs run because Ballista deletes intermediate
#   stages' files when a job finishes; LZ4-framed Arrow IPC), by job and stage, and the part
#   the client fetched (each job's last stage);
# - a check that every JSON report equals the local one byte for byte.
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
# CPU seconds (user + system) a process has used so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
# Peak resident set of a running process, MiB.
hwm_mib() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# run_timed NAME ARGS...: runs canalyst ARGS REPEATS times under /usr/bin/time, report to
# $WORK/NAME.json; sets WALL (median s), CPU (median client CPU s), RSS (largest MiB). Exit
# codes 0, 1, 3 are verdicts.
run_timed() {
  local name="$1"; shift
  local walls=() cpus=() rsss=()
  for _ in $(seq "$REPEATS"); do
    local rc=0
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/$name.time" \
      "$BIN" "$@" -o "$WORK/$name.json" >/dev/null 2>"$WORK/$name.err" || rc=$?
    if [ "$rc" = 2 ]; then cat "$WORK/$name.err" >&2; exit 2; fi
    read -r e u s m < <(tail -1 "$WORK/$name.time")
    walls+=("$e"); cpus+=("$(echo "$u + $s" | bc)"); rsss+=("$m")
  done
  WALL=$(printf '%s\n' "${walls[@]}" | median)
  CPU=$(printf '%s\n' "${cpus[@]}" | median)
  RSS=$(printf '%s\n' "${rsss[@]}" | sort -n | tail -1 | awk '{printf "%.0f", $1 / 1024}')
}

printf '%-14s %7s %8s %10s | %-24s %-24s | %14s %s\n' setup wall_s client_cpu client_MiB \
  "scheduler MiB/cpu_s" "executors MiB/cpu_s" shuffle_bytes report
run_timed local analyze "$DS"
printf '%-14s %7.2f %8.2f %10s | %-24s %-24s | %14s %s\n' local "$WALL" "$CPU" "$RSS" - - - reference

for n in 1 2; do
  sp=$(free_port)
  "$BIN" scheduler --bind "127.0.0.1:$sp" 2>"$WORK/scheduler-$n.log" & sched=$!; PIDS+=("$sched")
  wait_port "$sp"
  dirs=(); execs=()
  for i in $(seq "$n"); do
    ep=$(free_port); d="$WORK/shuffle-$n-$i"; mkdir -p "$d"; dirs+=("$d")
    "$BIN" executor --scheduler "127.0.0.1:$sp" --bind "127.0.0.1:$ep" \
      --concurrent-tasks $(( (CORES + n - 1) / n )) --work-dir "$d" 2>"$WORK/executor-$n-$i.log" &
    execs+=($!); PIDS+=($!)
    wait_port "$ep"
  done
  sleep 2  # registration
  # One untimed run for the shuffle volume. Ballista deletes a job's intermediate stage files
  # when the job finishes (only the final stage's stay, until the scheduler's clean-up), so a
  # poller records every shuffle file's largest size while the analysis runs.
  rm -f "$WORK/stop-poll"
  python3 - "$WORK/stop-poll" "${dirs[@]}" >"$WORK/shuffle-$n.txt" <<'PY' &
import os, sys, time
stop, dirs, seen = sys.argv[1], sys.argv[2:], {}
while True:
    last = os.path.exists(stop)
    for d in dirs:
        for root, _, files in os.walk(d):
            for f in files:
                p = os.path.join(root, f)
                try:
                    s = os.path.getsize(p)
                except OSError:
                    continue
                seen[p] = max(s, seen.get(p, 0))
    if last:
        break
    time.sleep(0.01)
for p, s in sorted(seen.items()):
    # WORK/shuffle-N-I/JOB/STAGE/PARTITION/FILE
    job, stage = p.split("/")[-4:-2]
    print(s, job, stage, p)
PY
  poller=$!
  sleep 0.3
  "$BIN" --threads "$CORES" analyze "$DS" --cluster "df://127.0.0.1:$sp" -o "$WORK/probe.json" >/dev/null 2>&1 || true
  touch "$WORK/stop-poll"; wait "$poller"
  bytes=$(awk '$4 !~ /\.index$/ {s+=$1} END {print s+0}' "$WORK/shuffle-$n.txt")
  files=$(awk '$4 !~ /\.index$/' "$WORK/shuffle-$n.txt" | wc -l)
  # The stage whose output the client fetches is each job's last; the others are exchanges
  # between executors.
  final=$(awk '$4 !~ /\.index$/ {if ($3 > last[$2]) last[$2] = $3; b[$2 " " $3] += $1}
    END {for (k in b) {split(k, a, " "); if (a[2] == last[a[1]]) s += b[k]}; print s+0}' "$WORK/shuffle-$n.txt")
  echo "cluster, $n ex: shuffle bytes by job and stage:" >&2
  awk '$4 !~ /\.index$/ {b[$2 " stage " $3] += $1} END {for (k in b) print "  " k, b[k]}' "$WORK/shuffle-$n.txt" | sort >&2
  before_s=$(cpu_s "$sched"); before_e=(); for p in "${execs[@]}"; do before_e+=("$(cpu_s "$p")"); done
  run_timed "cluster$n" --threads "$CORES" analyze "$DS" --cluster "df://127.0.0.1:$sp"
  s_info="$(hwm_mib "$sched")/$(echo "($(cpu_s "$sched") - $before_s) / $REPEATS" | bc -l | xargs printf '%.2f')"
  e_info=""
  for k in "${!execs[@]}"; do
    p=${execs[$k]}
    e_info+="$(hwm_mib "$p")/$(echo "($(cpu_s "$p") - ${before_e[$k]}) / $REPEATS" | bc -l | xargs printf '%.2f') "
  done
  same=$(cmp -s "$WORK/local.json" "$WORK/cluster$n.json" && echo "identical" || echo "DIFFERS")
  printf '%-14s %7.2f %8.2f %10s | %-24s %-24s | %14s %s\n' "cluster, $n ex" "$WALL" "$CPU" "$RSS" \
    "$s_info" "$e_info" "$bytes" "$same ($files shuffle files; to the client $final)"
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
done
echo "($REPEATS runs each; $CORES cores; client --threads $CORES; executors $CORES task slots in all;"
echo " $(du -sh "$DS/spans.parquet" | cut -f1) spans.parquet; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
