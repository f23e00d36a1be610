#!/usr/bin/env bash
# canalyst tune: a sweep of 100 settings over a generated corpus of 20 deployments (issue 15:
# "a sweep of 100 settings x 20 deployments reuses summaries: time grows with settings x looks,
# not with spans"). Each deployment is read and summarised once ("tune: read deployments"),
# then every setting replays the summaries ("tune: replays"); CANALYST_TIMINGS=1 prints both.
#
# Runs, each RUNS times:
#   threshold  examples/policies/error-rate-gate.toml, gates.max 0.005..0.1 (20) x
#              measurement.failure_limit 0..4 (5) = 100 settings;
#   analysis   the `progressive` preset (canalyst's default analysis at every look),
#              gates.alpha 0.01..0.1 (10 settings): each setting is 20 x 7 full analyses (35 before session 9).
#
# Usage: benches/compare_tune.sh [SPANS] [WORKDIR] [RUNS]
#   defaults: 20000 spans per deployment on average, a temporary dir, 1 run.
# CANALYST_BIN=path times that binary instead of building the release one.
set -euo pipefail
cd "$(dirname "$0")/.."
SPANS="${1:-20000}"
WORK="${2:-$(mktemp -d)}"
RUNS="${3:-1}"
mkdir -p "$WORK"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/canalyst-target}"
if [ -z "${CANALYST_BIN:-}" ]; then
  cargo build --release --quiet --bin canalyst
fi
BIN="${CANALYST_BIN:-$CARGO_TARGET_DIR/release/canalyst}"

if [ ! -s "$WORK/corpus/019-bad-tail/label.toml" ]; then
  echo "generating a corpus of 20 deployments of about $SPANS spans (seed 1)" >&2
  rm -rf "$WORK/corpus"
  "$BIN" generate --corpus 20 --seed 1 --spans "$SPANS" -o "$WORK/corpus" >/dev/null 2>&1
fi

for i in $(seq 1 "$RUNS"); do
  for kind in threshold analysis; do
    case $kind in
      threshold) args=(--policy examples/policies/error-rate-gate.toml
                       --sweep gates.max=0.005..0.1:0.005 --sweep measurement.failure_limit=0..4) ;;
      analysis) args=(--policy progressive --sweep gates.alpha=0.01..0.1:0.01) ;;
    esac
    CANALYST_TIMINGS=1 /usr/bin/time -f "%e %M" -o "$WORK/time.txt" \
      "$BIN" tune "$WORK/corpus" "${args[@]}" -o "$WORK/tune-$kind" \
      2>"$WORK/stderr.txt" >/dev/null || { cat "$WORK/stderr.txt" >&2; exit 1; }
    read -r secs kb < <(tail -n 1 "$WORK/time.txt")
    phases=$(grep '^timing tune' "$WORK/stderr.txt" | sed 's/^timing tune: //' | paste -sd ';' -)
    settings=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['settings']))" "$WORK/tune-$kind/tune.json")
    echo "$kind run $i: $settings settings x 20 deployments: ${secs} s, peak RSS $((kb / 1024)) MB ($phases)"
  done
done
