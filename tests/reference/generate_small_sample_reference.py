#!/usr/bin/env python3
"""Reference values for canalyst's small-sample Mann-Whitney test
(`stats::mann_whitney::mann_whitney_u_exact_when_possible`, used below `[evidence] min_requests`).

scipy.stats.mannwhitneyu(y, x, method="exact") when the samples have no ties, and
method="asymptotic" (continuity-corrected, tie-corrected) when they do, at the group sizes of
a small canary: 20/80, 30/170, 38/173, 50/250, 60/60, 99/150. Run from the repository root:

    python3 tests/reference/generate_small_sample_reference.py

It rewrites tests/reference/small_sample_reference.json deterministically (seeded RNG); the Rust
test reads it at compile time.
"""

import json
import pathlib

import numpy as np
import scipy
from scipy import stats

RNG = np.random.default_rng(20261204)
OUT = pathlib.Path(__file__).with_name("small_sample_reference.json")


def lognormal(n, median, sigma, digits=6):
    return [float(v) for v in np.round(RNG.lognormal(np.log(median), sigma, n), digits)]


def main():
    cases = [
        # (name, baseline, canary); canary is y, baseline x, as in canalyst.
        ("aa_80_vs_20", lognormal(80, 50, 0.5), lognormal(20, 50, 0.5)),
        ("aa_170_vs_30", lognormal(170, 50, 0.5), lognormal(30, 50, 0.5)),
        ("slower_173_vs_38", lognormal(173, 50, 0.5), lognormal(38, 77, 0.5)),
        ("slower_250_vs_50", lognormal(250, 50, 0.5), lognormal(50, 60, 0.5)),
        ("faster_60_vs_60", lognormal(60, 50, 0.5), lognormal(60, 40, 0.5)),
        ("aa_150_vs_99", lognormal(150, 50, 0.5), lognormal(99, 50, 0.5)),
        ("ties_170_vs_30", lognormal(170, 50, 0.5, 0), lognormal(30, 60, 0.5, 0)),
    ]
    out = []
    for name, x, y in cases:
        ties = len(set(x + y)) < len(x) + len(y)
        assert ties == name.startswith("ties"), name
        method = "asymptotic" if ties else "exact"
        rec = {"name": name, "x": x, "y": y, "method": method}
        for alt in ["two-sided", "greater", "less"]:
            r = stats.mannwhitneyu(y, x, alternative=alt, method=method, use_continuity=True)
            rec[alt] = {"u": float(r.statistic), "p": float(r.pvalue)}
        out.append(rec)
    doc = {"scipy": scipy.__version__, "numpy": np.__version__, "mann_whitney": out}
    OUT.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
