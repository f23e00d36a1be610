#!/usr/bin/env bash
# A rollout controller's poll over a directory of rotated Collector files (issue 12): after the
# first `canalyst run` has checkpointed the directory, each poll is a warm `run` (reads only
# what is new) plus a 5-minute `query` over the job's DATASET parts. Compared with `query` over
# the raw files. Prints wall seconds and peak RSS of each step.
#
# Usage: benches/query_checkpoint.sh [SPANS] [WORKDIR]
#   defaults: 1400000 spans (about 1 GB of OTLP/JSON), a temporary dir.
# CANALYST_BIN=path times that binary instead of building the release one.
set -euo pipefail
cd "$(dirname "$0")/.."
SPANS="${1:-1400000}"
WORK="${2:-$(mktemp -d)}"
mkdir -p "$WORK"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/canalyst-target}"
if [ -z "${CANALYST_BIN:-}" ]; then
  cargo build --release --quiet --bin canalyst
fi
BIN="$(realpath "${CANALYST_BIN:-$CARGO_TARGET_DIR/release/canalyst}")"

rm -rf "$WORK/gen" "$WORK/otel" "$WORK/.canalyst" "$WORK/reports"
"$BIN" generate --scenario mixed --seed 3 --spans "$SPANS" -o "$WORK/gen" >/dev/null
# Rotate like the Collector's file exporter: three finished files (two of them gzipped) and
# the active one.
mkdir -p "$WORK/otel"
total=$(wc -l < "$WORK/gen/otlp/traces.jsonl")
split -d -l $(( (total + 3) / 4 )) "$WORK/gen/otlp/traces.jsonl" "$WORK/otel/chunk-"
mv "$WORK/otel/chunk-00" "$WORK/otel/traces-2026-01-01T00-15-00.jsonl"
mv "$WORK/otel/chunk-01" "$WORK/otel/traces-2026-01-01T00-30-00.jsonl"
mv "$WORK/otel/chunk-02" "$WORK/otel/traces-2026-01-01T00-45-00.jsonl"
mv "$WORK/otel/chunk-03" "$WORK/otel/traces.jsonl"
gzip "$WORK/otel/traces-2026-01-01T00-15-00.jsonl" "$WORK/otel/traces-2026-01-01T00-30-00.jsonl"
rm "$WORK/gen/otlp/traces.jsonl"
du -sh "$WORK/otel" >&2
cat > "$WORK/canalyst.toml" <<'TOML'
[[job]]
name = "poll"
inputs = ["otel/traces*.jsonl*"]
window = "last 1h"
output = "reports/{job}/{service}"
TOML

step() {
  local name=$1; shift
  local rc=0
  /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$@" >"$WORK/out.txt" 2>/dev/null || rc=$?
  read -r secs kb < <(tail -n 1 "$WORK/time.txt")
  echo "$name: ${secs} s, peak RSS $((kb / 1024)) MB, exit $rc, stdout $(head -c 60 "$WORK/out.txt" | tr '\n' ' ')"
}
AT=2026-01-01T01:00:00Z
cd "$WORK"
step "run (cold: reads $(du -sh otel | cut -f1))" "$BIN" run --config canalyst.toml --at $AT
for i in 1 2 3; do
  step "run (warm, nothing new) #$i" "$BIN" run --config canalyst.toml --at $AT
  step "query over the parts #$i" "$BIN" query error_rate .canalyst/data/poll/part-* --track canary --window 5m
done
step "query over the raw files" "$BIN" query error_rate otel/ --track canary --window 5m
