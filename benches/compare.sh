#!/usr/bin/env bash
# canalyst ingest vs DuckDB on the same OTLP/JSON lines: wall time, throughput, peak RSS.
#
# Usage: benches/compare.sh [SPANS] [WORKDIR]   (default 1000000 spans, a temporary dir)
#        benches/compare.sh --analyze [SPANS] [WORKDIR]   canalyst analyze vs DuckDB instead
#        (benches/compare_analyze.sh; see docs/benchmarks.md)
# Both sides read the same file and write the spans as zstd Parquet; both use all cores.
# Peak memory is /usr/bin/time -v's "Maximum resident set size".
set -euo pipefail
if [ "${1:-}" = "--analyze" ]; then
  shift
  exec "$(dirname "$0")/compare_analyze.sh" "$@"
fi
cd "$(dirname "$0")/.."
SPANS="${1:-1000000}"
WORK="${2:-$(mktemp -d)}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/canalyst-target}"

cargo build --release --quiet --bin canalyst
BIN="$CARGO_TARGET_DIR/release/canalyst"

INPUT="$WORK/otlp/traces.jsonl"
if [ ! -s "$INPUT" ]; then
  if "$BIN" generate --help >/dev/null 2>&1; then
    echo "generating $SPANS spans with canalyst generate" >&2
    "$BIN" generate --scenario mixed --seed 1 --spans "$SPANS" -o "$WORK" >/dev/null
  else
    echo "canalyst generate not available; using benches/gen_otlp.py" >&2
    python3 benches/gen_otlp.py --spans "$SPANS" --seed 1 -o "$WORK" >/dev/null
  fi
fi
BYTES=$(stat -c %s "$INPUT")

# measure NAME CMD... : runs CMD under /usr/bin/time -v; sets SECS and RSS_KB.
measure() {
  local name="$1"; shift
  local log="$WORK/time-$name.log"
  /usr/bin/time -v "$@" 2>"$log" >/dev/null || { cat "$log" >&2; exit 1; }
  local wall
  wall=$(grep "Elapsed (wall clock)" "$log" | awk '{print $NF}')
  SECS=$(python3 -c "p='$wall'.split(':'); print(sum(float(x)*60**i for i,x in enumerate(reversed(p))))")
  RSS_KB=$(grep "Maximum resident set size" "$log" | awk '{print $NF}')
}

rm -rf "$WORK/ds"
measure canalyst "$BIN" ingest "$INPUT" -o "$WORK/ds" --quiet --compression zstd
C_SECS=$SECS; C_RSS=$RSS_KB
C_ROWS=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['spans_rows'])" "$WORK/ds/dataset.json")

# DuckDB reads the lines with its default maximum_object_size (16 MB; a line here is a few KB):
# a larger limit (this script used 1 GB) makes each read buffer hold up to the whole file, which
# keeps DuckDB's scan on one core and costs it about twice the CPU (docs/benchmarks.md, "The
# DuckDB baseline"; benches/duck_analyze.py). A line longer than 16 MB fails loudly instead.
cat > "$WORK/duck.py" <<'PY'
import sys, duckdb
src, dst = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET preserve_insertion_order = false")
def lit(s):
    return "'" + s.replace("'", "''") + "'"
con.execute(f"""
COPY (
  WITH r AS (SELECT unnest(resourceSpans) AS rs
             FROM read_json({lit(src)}, format = 'newline_delimited')),
       s AS (SELECT rs.resource AS resource, unnest(rs.scopeSpans) AS ss FROM r),
       p AS (SELECT resource, ss.scope AS scope, unnest(ss.spans) AS span FROM s)
  SELECT resource, scope, span.* FROM p
) TO {lit(dst)} (FORMAT parquet, COMPRESSION zstd)
""")
print(con.execute(f"SELECT count(*) FROM read_parquet({lit(dst)})").fetchone()[0])
PY
rm -f "$WORK/duck.parquet"
measure duckdb python3 "$WORK/duck.py" "$INPUT" "$WORK/duck.parquet"
D_SECS=$SECS; D_RSS=$RSS_KB
D_ROWS=$(python3 -c "import duckdb,sys; print(duckdb.execute('SELECT count(*) FROM read_parquet(?)', [sys.argv[1]]).fetchone()[0])" "$WORK/duck.parquet")

# DuckDB's best case: only count the spans (no Parquet output).
cat > "$WORK/duck_count.py" <<'PY'
import sys, duckdb
src = sys.argv[1].replace("'", "''")
print(duckdb.connect().execute(f"""
  WITH r AS (SELECT unnest(resourceSpans) AS rs
             FROM read_json('{src}', format = 'newline_delimited')),
       s AS (SELECT unnest(rs.scopeSpans) AS ss FROM r)
  SELECT sum(len(ss.spans)) FROM s""").fetchone()[0])
PY
measure duckdb-count python3 "$WORK/duck_count.py" "$INPUT"
K_SECS=$SECS; K_RSS=$RSS_KB
CPU() { grep "Percent of CPU" "$WORK/time-$1.log" | awk '{print $NF}'; }

python3 - "$BYTES" "$C_SECS" "$C_RSS" "$C_ROWS" "$D_SECS" "$D_RSS" "$D_ROWS" "$K_SECS" "$K_RSS" "$(CPU canalyst)" "$(CPU duckdb)" <<'PY'
import sys
b, cs, cr, cn, ds, dr, dn, ks, kr, ccpu, dcpu = sys.argv[1:]
ks = float(ks); kr = int(kr)
b = int(b); cs = float(cs); ds = float(ds); cr = int(cr); dr = int(dr)
mb = b / 1e6
print(f"input: {mb:.1f} MB of OTLP/JSON lines")
print(f"canalyst ingest -> parquet: {cs:.2f} s  {mb/cs:.1f} MB/s  CPU {ccpu}  peak RSS {cr/1024:.0f} MiB  rows {cn}")
print(f"duckdb read_json -> parquet: {ds:.2f} s  {mb/ds:.1f} MB/s  CPU {dcpu}  peak RSS {dr/1024:.0f} MiB  rows {dn}")
print(f"duckdb read_json count only: {ks:.2f} s  {mb/ks:.1f} MB/s  peak RSS {kr/1024:.0f} MiB")
print(f"throughput ratio (canalyst/duckdb, both to parquet): {ds/cs:.2f}x   vs duckdb count only: {ks/cs:.2f}x")
print(f"peak memory ratio (canalyst/duckdb): {cr/dr:.2f}")
PY
