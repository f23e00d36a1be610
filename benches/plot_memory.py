#!/usr/bin/env python3
"""Peak RSS against input size (issue 14 item 4): reads benches/memory_vs_size.csv (one row per
run: command, spans, json_bytes, build, peak_kb) and writes docs/memory-vs-size.svg.

Usage: python3 benches/plot_memory.py [CSV] [SVG]
The figures come from `/usr/bin/time -f "%M KB"` runs listed in docs/benchmarks.md
("10 GB of OTLP/JSON under 2 GiB"); the chart is deterministic (no date, fixed hash salt)."""
import csv
import sys

import matplotlib

matplotlib.use("svg")
matplotlib.rcParams["svg.hashsalt"] = "canalyst"
import matplotlib.pyplot as plt  # noqa: E402

src = sys.argv[1] if len(sys.argv) > 1 else "benches/memory_vs_size.csv"
out = sys.argv[2] if len(sys.argv) > 2 else "docs/memory-vs-size.svg"
series = {}
for row in csv.DictReader(open(src)):
    key = f"{row['command']} ({row['build']})"
    series.setdefault(key, []).append((int(row["spans"]) / 1e6, int(row["peak_kb"]) / 1024))
fig, ax = plt.subplots(figsize=(7, 4))
for key, pts in sorted(series.items()):
    pts.sort()
    style = "--" if "before" in key else "-"
    ax.plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o", label=key)
ax.axhline(2048, color="red", linewidth=1)
ax.text(0.3, 2080, "2 GiB limit", color="red", fontsize=8)
ax.set_xlabel("spans (millions) of OTLP/JSON lines (~690 bytes per span)")
ax.set_ylabel("peak RSS (MiB)")
ax.set_title("canalyst peak memory against input size")
ax.legend(fontsize=8)
ax.grid(alpha=0.3)
fig.tight_layout()
fig.savefig(out, metadata={"Date": None})
print(f"wrote {out}")
