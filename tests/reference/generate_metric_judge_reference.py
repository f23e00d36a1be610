#!/usr/bin/env python3
"""Reference values for the metric-based latency shift (`src/analysis/metric_judge.rs`).

* theta: P(r*Y > X) for X, Y independent log-normal(0, sigma), computed by numerical
  integration with scipy.integrate.quad over the density of X (no use of the closed form),
  to check canalyst's allowed-shift mapping Phi(ln r / (sigma*sqrt 2)).
* log_sd: the sample standard deviation (ddof = 1, frequency weights) of ln(bucket midpoint)
  over histogram counts, midpoints as documented (geometric mean of the edges; the first
  bucket at half its upper bound, the overflow bucket at twice its lower bound), computed with
  numpy on the expanded sample.

Run from the repository root:

    python3 tests/reference/generate_metric_judge_reference.py

It rewrites tests/reference/metric_judge_reference.json deterministically (seeded RNG).
"""

import json
import math
import pathlib

import numpy as np
from scipy import integrate, stats

OUT = pathlib.Path(__file__).with_name("metric_judge_reference.json")
RNG = np.random.default_rng(20261121)


def theta(sigma, r):
    x = stats.lognorm(s=sigma)
    # P(r*Y > x) = sf_Y(x / r)
    f = lambda t: x.pdf(t) * stats.lognorm(s=sigma).sf(t / r)
    v, _ = integrate.quad(f, 0, np.inf, limit=400, epsabs=1e-13, epsrel=1e-12)
    return v


def log_sd(bounds, counts):
    vals = []
    for b, n in enumerate(counts):
        if n <= 0:
            continue
        lo = 0.0 if b == 0 else bounds[b - 1]
        hi = bounds[b] if b < len(bounds) else math.inf
        if not math.isfinite(hi):
            mid = 2 * lo
        elif lo <= 0:
            mid = hi / 2
        else:
            mid = math.sqrt(lo * hi)
        vals.extend([math.log(mid)] * int(n))
    return float(np.std(np.array(vals), ddof=1))


def main():
    thetas = []
    for sigma in [0.2, 0.5, 1.0, 2.0]:
        for r in [0.5, 0.8, 0.9, 1.0, 1.1, 1.2, 2.0]:
            thetas.append({"sigma": sigma, "ratio": r, "theta": theta(sigma, r)})
    bounds = [5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0]
    hists = []
    for _ in range(6):
        counts = [int(c) for c in RNG.integers(0, 50, size=len(bounds) + 1)]
        hists.append({"bounds": bounds, "counts": counts, "log_sd": log_sd(bounds, counts)})
    OUT.write_text(json.dumps({"theta": thetas, "log_sd": hists}, indent=1) + "\n")


if __name__ == "__main__":
    main()
