#!/usr/bin/env bash
# A/A false-rollback count of backtest policies on generated recordings (issue 15): N generated
# A/A recordings (--scenario aa: the canary behaves exactly like stable), each replayed through
# every POLICY; prints one line per recording and policy (outcome, decision time, the first
# failed measurement's detail) and a count of outcomes per policy.
#
# Usage: benches/backtest_aa.sh WORKDIR N POLICY...   (e.g. progressive examples/x.toml)
# Recording shape: 200,000 spans over 40 minutes, canary at a 50% share from minute 1 (the
# progressive preset thins it to 5/25/50%), generator seeds 1..N, backtest --seed 1.
# CANALYST_BIN names the binary (default: target/release/canalyst).
set -euo pipefail
WORK="${1:?usage: benches/backtest_aa.sh WORKDIR N POLICY...}"
N="${2:?usage: benches/backtest_aa.sh WORKDIR N POLICY...}"
shift 2
[ $# -gt 0 ] || { echo "name at least one policy" >&2; exit 2; }
BIN="${CANALYST_BIN:-target/release/canalyst}"
mkdir -p "$WORK"
for s in $(seq 1 "$N"); do
  d="$WORK/aa-$s"
  [ -s "$d/parquet/spans.parquet" ] || "$BIN" generate --scenario aa --spans 200000 \
    --duration-minutes 40 --canary-delay-minutes 1 --canary-share 0.5 --seed "$s" -o "$d" >/dev/null 2>&1
  rm -rf "$d/otlp"
  for pol in "$@"; do
    out="$d/out-$(basename "$pol")"
    "$BIN" backtest "$d/parquet" --policy "$pol" --seed 1 -o "$out" >/dev/null 2>&1 || true
    python3 - "$out/backtest.json" "$s" "$pol" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
f = [e for e in b["timeline"] if e["outcome"] == "failed"]
print(sys.argv[2], sys.argv[3], b["outcome"], b.get("decided_at"), f[0]["detail"][:160] if f else "")
PY
  done
done | tee "$WORK/aa.txt"
echo "outcomes per policy:"
awk '{print $2, $3}' "$WORK/aa.txt" | sort | uniq -c
