"""Compare canalyst analyze's route groups with benches/duck_analyze.py's output.

Usage: crosscheck.py LABEL CANALYST_REPORT.json DUCKDB.json
Counts and errors must be equal, quantiles equal to 1e-9 relative, the comparison window equal.
Prints one `MISMATCH ...` line per difference and a summary; exits 1 on any mismatch.
"""
import json
import sys


def canalyst_groups(path):
    rep = json.load(open(path))
    out = {}
    for c in rep["comparisons"]:
        if c["level"] != "route":
            continue
        for side, track in [("baseline", "stable"), ("canary", "canary")]:
            s = c[side]
            if s["count"]:
                out[(c["service"], track, c["route"])] = s
    w = rep["window"]
    return out, (w["start_unix_nano"], w["end_unix_nano"] - 1)


def check(label, ours_path, duck_path):
    bad = 0
    ours, win = canalyst_groups(ours_path)
    duck = json.load(open(duck_path))
    theirs = {(g["service"], g["track"], g["route"]): g for g in duck["groups"]}
    if list(win) != duck["window"]:
        bad += 1
        print(f"MISMATCH {label} window: canalyst {win} duckdb {duck['window']}")
    # analyze reports only groups with comparisons; every one of them must match DuckDB's.
    for k, s in sorted(ours.items()):
        d = theirs.get(k)
        if d is None:
            bad += 1
            print(f"MISMATCH {label} {k}: missing in DuckDB")
            continue
        for f in ["count", "errors", "p50", "p90", "p99", "p999"]:
            a, b = s[f], d[f]
            if (a != b) if f in ("count", "errors") else abs(a - b) > 1e-9 * max(1.0, abs(b)):
                bad += 1
                print(f"MISMATCH {label} {k} {f}: canalyst {a} duckdb {b}")
    print(f"cross-check {label}: {len(ours)} route groups compared with DuckDB's {len(theirs)}"
          + ("" if bad == 0 else f", {bad} mismatches"))
    return bad


if __name__ == "__main__":
    sys.exit(1 if check(*sys.argv[1:4]) else 0)
