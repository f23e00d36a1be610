#!/usr/bin/env bash
# Two or more canalyst builds (or settings) timed in alternation on one input: the way to tell
# a change of a few percent on a machine whose speed moves by ±10% within minutes
# (docs/benchmarks.md, "Session 18": a shapes.sh run did not separate builds that these runs
# separated by 8-10%).
#
# Usage: benches/alternate.sh ROUNDS INPUT THREADS VARIANT... [-- EXTRA INGEST ARGS]
#   VARIANT: LABEL=BINARY[:VAR=VALUE[,VAR=VALUE]][+ARG[+ARG]]: environment variables to set and
#   ingest arguments of that variant alone
#   e.g.  benches/alternate.sh 5 DIR/shapes/sdk.jsonl 2 old=/tmp/canalyst-old new=target/release/canalyst
#         benches/alternate.sh 5 DIR/shapes/sdk.jsonl 1 map=target/release/canalyst read=target/release/canalyst+--no-mmap
# Each round runs `BINARY ingest --quiet --threads THREADS INPUT -o DIR` once per variant, in
# the order given, under /usr/bin/time; prints per variant the median wall and CPU (user + sys)
# seconds, the largest peak RSS and every wall time, and whether the variants' spans.parquet
# files are byte-identical to the first variant's (from the last round).
set -euo pipefail
[ $# -ge 4 ] || { sed -n 2,15p "$0" >&2; exit 2; }
ROUNDS="$1"; INPUT="$2"; THREADS="$3"; shift 3
VARIANTS=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do VARIANTS+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
EXTRA=("$@")
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# Into the page cache first, so that no timed run reads the input from disk.
cat "$INPUT" > /dev/null
for r in $(seq "$ROUNDS"); do
  for v in "${VARIANTS[@]}"; do
    label="${v%%=*}"; rest="${v#*=}"; args=()
    if [ "${rest#*+}" != "$rest" ]; then IFS=+ read -ra args <<< "${rest#*+}"; rest="${rest%%+*}"; fi
    bin="${rest%%:*}"; envs=()
    if [ "$rest" != "$bin" ]; then IFS=, read -ra envs <<< "${rest#*:}"; fi
    rm -rf "$WORK/ds-$label"
    env "${envs[@]}" /usr/bin/time -f "$label %e %U %S %M" -a -o "$WORK/times" \
      "$bin" ingest --quiet --threads "$THREADS" "${args[@]}" "${EXTRA[@]}" "$INPUT" -o "$WORK/ds-$label"
  done
done
python3 - "$WORK" "${VARIANTS[@]}" <<'PY'
import statistics, sys, filecmp, os
work, variants = sys.argv[1], [v.split('=', 1)[0] for v in sys.argv[2:]]
runs = {v: [] for v in variants}
for line in open(os.path.join(work, 'times')):
    label, wall, user, system, rss = line.split()
    runs[label].append((float(wall), float(user) + float(system), int(rss)))
first = os.path.join(work, 'ds-' + variants[0], 'spans.parquet')
for v in variants:
    r = runs[v]
    same = filecmp.cmp(first, os.path.join(work, 'ds-' + v, 'spans.parquet'), shallow=False)
    print(f"{v}: wall {statistics.median(x[0] for x in r):.3f} s, "
          f"cpu {statistics.median(x[1] for x in r):.3f} s (medians of {len(r)}), "
          f"peak RSS {max(x[2] for x in r) // 1024} MiB, spans.parquet "
          f"{'identical' if same else 'DIFFERS'}; walls {[x[0] for x in r]}")
PY
