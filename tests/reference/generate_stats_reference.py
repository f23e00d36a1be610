#!/usr/bin/env python3
"""Reference values for canalyst's `src/stats` module.

Every value is produced by the scipy/numpy function named in the Rust doc comment (or, where
scipy has no such function, by brute force / the published formula on top of scipy
primitives).  Run from the repository root:

    python3 tests/reference/generate_stats_reference.py

It rewrites tests/reference/stats_reference.json deterministically (seeded RNG).  The Rust
tests read that JSON at compile time; python is not needed to run them.
"""

import json
import math
import pathlib

import mpmath
import numpy as np
import scipy
from scipy import stats
from scipy.optimize import brentq

RNG = np.random.default_rng(20261121)
OUT = pathlib.Path(__file__).with_name("stats_reference.json")


def fl(v):
    """JSON-safe float: None for NaN, strings for infinities."""
    v = float(v)
    if math.isnan(v):
        return None
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def data(a, digits=3):
    return [float(v) for v in np.round(np.asarray(a, dtype=float), digits)]


# ---------------------------------------------------------------- distributions
def distributions():
    xs = [-38.0, -30.0, -10.0, -5.0, -1.96, -0.5, 0.0, 0.3, 1.0, 2.5, 8.0, 10.0, 30.0]
    ps = [1e-300, 1e-100, 1e-20, 1e-10, 1e-5, 0.001, 0.02425, 0.025, 0.1, 0.3, 0.5,
          0.6, 0.9, 0.975, 0.97575, 0.999, 1 - 1e-10, 1 - 1e-15]
    gam = [0.5, 1.0, 1.5, 2.0, 3.7, 10.0, 100.5, 1e4, 1e7 + 1]
    binom = []
    for (k, n, p) in [(0, 1, 0.5), (3, 10, 0.3), (0, 50, 0.01), (5, 20, 0.9),
                      (49, 100, 0.5), (500, 1000, 0.5), (9, 1000, 0.01),
                      (20, 1000, 0.01), (0, 100000, 1e-6), (990, 1000, 0.99),
                      (1005, 100000, 0.01), (4985, 500000, 0.01),
                      (99000, 100000, 0.99), (100_000, 10_000_000, 0.01),
                      (99_500, 10_000_000, 0.01), (101_000, 10_000_000, 0.01),
                      (9_990_000, 10_000_000, 0.999), (5_000_000, 10_000_000, 0.5),
                      (4_990_000, 10_000_000, 0.5), (30, 10_000_000, 1e-6)]:
        binom.append({
            "k": k, "n": n, "p": p,
            "pmf": fl(stats.binom.pmf(k, n, p)),
            "cdf": fl(stats.binom.cdf(k, n, p)),
            "sf": fl(stats.binom.sf(k, n, p)),
        })
    return {
        "normal_cdf": [[x, fl(stats.norm.cdf(x))] for x in xs],
        "normal_sf": [[x, fl(stats.norm.sf(x))] for x in xs],
        "normal_ppf": [[p, fl(stats.norm.ppf(p))] for p in ps],
        "ln_gamma": [[x, fl(scipy.special.gammaln(x))] for x in gam],
        "binomial": binom,
    }


# ---------------------------------------------------------------- quantiles
def quantile_ci_ranks(n, q, conf):
    """Conover §3.2 rule with scipy.stats.binom: l = max{l: F(l-1) <= a/2}, u = min{u: sf(u-1) <= a/2}."""
    half = (1 - conf) / 2
    r = np.arange(n)
    cdf = stats.binom.cdf(r, n, q)
    sf = stats.binom.sf(r, n, q)
    lower_ok = np.nonzero(cdf <= half)[0]
    upper_ok = np.nonzero(sf <= half)[0]
    if len(lower_ok) == 0 or len(upper_ok) == 0:
        return None
    return [int(lower_ok.max()) + 1, int(upper_ok.min()) + 1]


def quantiles():
    samples = {
        "single": [42.0],
        "two": [1.0, 3.0],
        "ties": [1.0, 1.0, 2.0, 2.0, 2.0, 5.0, 5.0, 9.0],
        "all_equal": [7.0] * 10,
        "lognormal_101": sorted(data(RNG.lognormal(3.0, 0.8, 101))),
        "uniform_1000": sorted(data(RNG.uniform(0, 1, 1000), 6)),
    }
    qs = [0.0, 0.01, 0.1, 0.25, 0.333, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0]
    type7 = []
    for name, s in samples.items():
        for q in qs:
            type7.append({"sample": name, "q": q, "value": fl(np.quantile(np.array(s), q))})
    ci = []
    for (n, q, conf) in [(1, 0.5, 0.95), (5, 0.5, 0.95), (5, 0.5, 0.9), (6, 0.5, 0.95),
                         (20, 0.5, 0.95), (20, 0.9, 0.95), (100, 0.99, 0.95), (300, 0.99, 0.95),
                         (1000, 0.99, 0.95), (1000, 0.999, 0.95), (10000, 0.999, 0.95),
                         (101, 0.25, 0.99), (1000, 0.5, 0.5), (100000, 0.99, 0.95),
                         (1000000, 0.999, 0.99), (59, 0.95, 0.9), (3000, 0.01, 0.95)]:
        ci.append({"n": n, "q": q, "confidence": conf, "ranks": quantile_ci_ranks(n, q, conf)})
    return {"samples": samples, "type7": type7, "ci_ranks": ci}


# ---------------------------------------------------------------- Mann-Whitney
def mann_whitney():
    cases = {
        "exact_small": ([1.1, 2.3, 3.5, 4.2, 5.0], [2.0, 6.1, 7.4, 8.8]),
        "exact_n1": ([3.0], [1.0, 2.0, 4.0, 5.0, 6.0]),
        "exact_8_vs_30": (data(RNG.normal(0, 1, 8), 6), data(RNG.normal(0.8, 1, 30), 6)),
        "exact_5_vs_400": (data(RNG.normal(0, 1, 5), 7), data(RNG.normal(-0.5, 1, 400), 7)),
        "exact_8_vs_8_separated": ([1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 16]),
        "ties_small": ([1.0, 2.0, 2.0, 3.0], [2.0, 3.0, 3.0, 4.0, 5.0]),
        "all_equal": ([4.0] * 12, [4.0] * 15),
        "one_vs_one_equal": ([1.0], [1.0]),
        "asymptotic_9_vs_9": (data(RNG.normal(0, 1, 9)), data(RNG.normal(1, 1, 9))),
        "asymptotic_ties_200": (data(RNG.poisson(20, 200), 0), data(RNG.poisson(22, 250), 0)),
        "asymptotic_lognormal_1500": (data(RNG.lognormal(4, 0.5, 1500), 2),
                                      data(RNG.lognormal(4.05, 0.5, 1200), 2)),
        "extreme_p": (data(RNG.normal(0, 1, 400)), data(RNG.normal(3, 1, 400))),
    }
    out = []
    for name, (x, y) in cases.items():
        x = [float(v) for v in x]
        y = [float(v) for v in y]
        rec = {"name": name, "x": x, "y": y}
        for alt in ["two-sided", "greater", "less"]:
            r = stats.mannwhitneyu(y, x, alternative=alt, method="auto", use_continuity=True)
            rec[alt] = {"u": fl(r.statistic), "p": fl(r.pvalue)}
        out.append(rec)
    return out


# ---------------------------------------------------------------- Hodges-Lehmann
def u_null_counts(m, n):
    """Counts of U for sizes (m, n) via the q-Pascal recurrence (independent of Harding's product)."""
    # G(i, j) = G(i-1, j) + q^i G(i, j-1), G(0, j) = G(i, 0) = 1.
    prev = [[1] for _ in range(n + 1)]  # i = 0
    for i in range(1, m + 1):
        cur = [[1]]
        for j in range(1, n + 1):
            a = prev[j]
            b = [0] * i + cur[j - 1]
            size = max(len(a), len(b))
            cur.append([(a[t] if t < len(a) else 0) + (b[t] if t < len(b) else 0) for t in range(size)])
        prev = cur
    return prev[n]


def moses_rank(n, m, conf):
    half = (1 - conf) / 2
    total = n * m
    if min(n, m) <= 8 or total <= 10000:
        counts = u_null_counts(min(n, m), max(n, m))
        denom = math.comb(n + m, n)
        cdf = 0
        k = 0
        for c in counts:
            cdf += c
            if cdf / denom <= half:
                k += 1
            else:
                break
    else:
        sigma = math.sqrt(total * (n + m + 1) / 12)
        k = math.floor(total / 2 + 0.5 - stats.norm.ppf(1 - half) * sigma)
    return k if k >= 1 else None


def hodges_lehmann():
    cases = {
        "small_no_ties": (data(RNG.normal(10, 2, 7)), data(RNG.normal(12, 2, 9))),
        "ties": ([1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0, 8.0, 9.0],
                 [2.0, 3.0, 3.0, 4.0, 5.0, 5.0, 6.0, 7.0, 7.0, 10.0]),
        "n1": ([5.0], data(RNG.normal(6, 1, 60))),
        "too_small": ([1.0, 2.0], [3.0, 4.0]),
        "all_equal": ([3.0] * 10, [3.0] * 12),
        "exact_40_vs_60": (data(RNG.lognormal(3, 0.5, 40)), data(RNG.lognormal(3.2, 0.5, 60))),
        # C(150, 60) > 2^120: exercises the floating-point branch of the exact null distribution.
        "exact_float_60_vs_90": (data(RNG.normal(50, 10, 60), 2), data(RNG.normal(53, 10, 90), 2)),
        "normal_branch_120_vs_100": (data(RNG.lognormal(3, 0.5, 120)), data(RNG.lognormal(3.1, 0.5, 100))),
        "normal_branch_400_vs_300": (data(RNG.normal(100, 15, 400), 1), data(RNG.normal(103, 15, 300), 1)),
    }
    out = []
    for name, (x, y) in cases.items():
        for conf in [0.9, 0.95]:
            x = [float(v) for v in x]
            y = [float(v) for v in y]
            d = np.sort(np.subtract.outer(np.array(y), np.array(x)).ravel())
            k = moses_rank(len(x), len(y), conf)
            rec = {"name": name, "x": x, "y": y, "confidence": conf, "k": k}
            if k is None:
                rec["result"] = None
            else:
                rec["result"] = {"estimate": fl(np.median(d)), "low": fl(d[k - 1]),
                                 "high": fl(d[len(d) - k])}
            out.append(rec)
    return out


# ---------------------------------------------------------------- quantile ratio/difference
def quantile_difference():
    xs = np.sort(np.round(RNG.lognormal(4, 0.6, 3000), 3))
    ys = np.sort(np.round(RNG.lognormal(4.1, 0.7, 2500), 3))
    small = np.sort(np.round(RNG.lognormal(4, 0.6, 40), 3))
    out = {"x": [float(v) for v in xs], "y": [float(v) for v in ys],
           "small": [float(v) for v in small], "cases": []}
    for (xname, yname, q, conf) in [("x", "y", 0.5, 0.95), ("x", "y", 0.9, 0.95),
                                    ("x", "y", 0.99, 0.95), ("x", "y", 0.999, 0.9),
                                    ("y", "x", 0.99, 0.99), ("small", "y", 0.5, 0.95),
                                    ("small", "y", 0.99, 0.95)]:
        a = np.array(out[xname])
        b = np.array(out[yname])
        ra = quantile_ci_ranks(len(a), q, conf)
        rb = quantile_ci_ranks(len(b), q, conf)
        rec = {"x": xname, "y": yname, "q": q, "confidence": conf}
        if ra is None or rb is None:
            rec["ratio"] = None
            rec["difference"] = None
        else:
            z = stats.norm.ppf(1 - (1 - conf) / 2)
            qa, qb = np.quantile(a, q), np.quantile(b, q)
            la, ua = a[ra[0] - 1], a[ra[1] - 1]
            lb, ub = b[rb[0] - 1], b[rb[1] - 1]
            se_a = (math.log(ua) - math.log(la)) / (2 * z)
            se_b = (math.log(ub) - math.log(lb)) / (2 * z)
            half = z * math.hypot(se_a, se_b)
            lr = math.log(qb) - math.log(qa)
            rec["ratio"] = {"estimate": fl(qb / qa), "low": fl(math.exp(lr - half)),
                            "high": fl(math.exp(lr + half))}
            se_a = (ua - la) / (2 * z)
            se_b = (ub - lb) / (2 * z)
            half = z * math.hypot(se_a, se_b)
            rec["difference"] = {"estimate": fl(qb - qa), "low": fl(qb - qa - half),
                                 "high": fl(qb - qa + half)}
        out["cases"].append(rec)
    return out


# ---------------------------------------------------------------- Fisher
def fisher():
    tables = [
        [[8, 2], [1, 5]], [[1, 9], [11, 3]], [[3, 5], [5, 3]], [[4, 4], [4, 4]],
        [[0, 10], [0, 12]], [[0, 0], [3, 4]], [[5, 0], [0, 5]], [[0, 5], [5, 0]],
        [[10, 0], [3, 7]], [[2, 7], [8, 2]], [[100, 200], [150, 120]],
        [[999_900, 100], [999_850, 150]],
        [[9_999_000, 1_000], [9_998_700, 1_300]],
        [[9_999_990, 10], [9_999_970, 30]],
        [[1_000_000, 0], [999_990, 10]],
        [[5_000_000, 5_000_000], [5_001_000, 4_999_000]],
        [[6, 1], [1, 6]], [[20, 15], [15, 20]], [[1, 0], [0, 1]], [[0, 1], [1, 0]],
    ]
    out = []
    for t in tables:
        rec = {"table": t}
        for alt in ["two-sided", "greater", "less"]:
            r = stats.fisher_exact(t, alternative=alt)
            rec[alt] = {"p": fl(r.pvalue), "odds_ratio": fl(r.statistic)}
        if sum(map(sum, t)) >= 100_000:
            # scipy's hypergeometric tails are only ~1e-9 accurate at these counts; add a
            # 50-digit one-sided reference.
            rec["greater_mpmath"] = fl(hypergeom_tail_mpmath(t, upper=True))
            rec["less_mpmath"] = fl(hypergeom_tail_mpmath(t, upper=False))
        out.append(rec)
    return out


def hypergeom_tail_mpmath(t, upper):
    """P(X >= t00) (upper) or P(X <= t00) given the margins, summed with 50 digits."""
    mpmath.mp.dps = 50
    (a, b), (c, d) = t
    good, total, draws = a + b, a + b + c + d, a + c
    bad = total - good
    lo, hi = max(0, draws - bad), min(draws, good)
    lg = mpmath.loggamma

    def pmf(x):
        return mpmath.exp(lg(good + 1) - lg(x + 1) - lg(good - x + 1) + lg(bad + 1)
                          - lg(draws - x + 1) - lg(bad - draws + x + 1) - lg(total + 1)
                          + lg(draws + 1) + lg(total - draws + 1))

    term = pmf(a)
    s = term
    x = a
    step = 1 if upper else -1
    while (x < hi) if upper else (x > lo):
        if upper:
            term = term * (good - x) * (draws - x) / ((x + 1) * (bad - draws + x + 1))
        else:
            term = term * x * (bad - draws + x) / ((good - x + 1) * (draws - x + 1))
        x += step
        s += term
        if term < s * mpmath.mpf(10) ** -30:
            break
    return s


# ---------------------------------------------------------------- proportions
def wilson(k, n, conf):
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=conf, method="wilson")
    return float(ci.low), float(ci.high)


def proportions():
    w = []
    for (k, n, conf) in [(0, 1, 0.95), (1, 1, 0.95), (0, 10, 0.95), (3, 10, 0.95),
                         (10, 10, 0.9), (56, 70, 0.95), (48, 80, 0.95), (5, 100000, 0.99),
                         (0, 1000000, 0.95), (499, 1000, 0.5), (1234, 10_000_000, 0.95)]:
        lo, hi = wilson(k, n, conf)
        w.append({"k": k, "n": n, "confidence": conf, "low": fl(lo), "high": fl(hi)})
    nd = []
    for (k1, n1, k2, n2, conf) in [(56, 70, 48, 80, 0.95), (48, 80, 56, 70, 0.95),
                                   (0, 1000, 0, 1000, 0.95), (0, 10, 3, 10, 0.95),
                                   (10, 10, 9, 10, 0.9), (100, 100000, 130, 100000, 0.95),
                                   (5, 20, 1, 50, 0.99)]:
        l1, u1 = wilson(k1, n1, conf)
        l2, u2 = wilson(k2, n2, conf)
        p1, p2 = k1 / n1, k2 / n2
        d = p2 - p1
        nd.append({"k1": k1, "n1": n1, "k2": k2, "n2": n2, "confidence": conf,
                   "estimate": fl(d),
                   "low": fl(d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)),
                   "high": fl(d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2))})
    rr = []
    for (k1, n1, k2, n2, conf) in [(10, 1000, 20, 1000, 0.95), (3, 50, 1, 70, 0.9),
                                   (1000, 10_000_000, 1300, 10_000_000, 0.99),
                                   (50, 50, 40, 60, 0.95)]:
        r = stats.contingency.relative_risk(k2, n2, k1, n1)
        ci = r.confidence_interval(confidence_level=conf)
        rr.append({"k1": k1, "n1": n1, "k2": k2, "n2": n2, "confidence": conf,
                   "estimate": fl(r.relative_risk), "low": fl(ci.low), "high": fl(ci.high)})
    # Zero counts: Haldane-Anscombe (+0.5 to every cell), then the Katz formula.
    for (k1, n1, k2, n2, conf) in [(0, 1000, 0, 1000, 0.95), (0, 200, 7, 300, 0.95)]:
        a1, m1, a2, m2 = k1 + 0.5, n1 + 1, k2 + 0.5, n2 + 1
        est = (a2 / m2) / (a1 / m1)
        se = math.sqrt(1 / a2 - 1 / m2 + 1 / a1 - 1 / m1)
        z = stats.norm.ppf(1 - (1 - conf) / 2)
        rr.append({"k1": k1, "n1": n1, "k2": k2, "n2": n2, "confidence": conf,
                   "estimate": fl(est), "low": fl(est * math.exp(-z * se)),
                   "high": fl(est * math.exp(z * se))})
    return {"wilson": w, "newcombe": nd, "rate_ratio": rr}


# ---------------------------------------------------------------- BH
def bh():
    cases = [
        [0.01, 0.04, 0.03, 0.005, 0.5],
        [0.2],
        [1.0, 1.0, 0.0],
        [0.05, 0.05, 0.05, 0.01],
        [float(v) for v in RNG.uniform(0, 0.2, 40)],
        [1e-300, 1e-12, 0.7, 0.049, 0.051],
    ]
    return [{"p": c, "adjusted": [fl(v) for v in stats.false_discovery_control(c, method="bh")]}
            for c in cases]


# ---------------------------------------------------------------- power
def power():
    rate = []
    for (n1, n2, p, alpha, pw) in [(1000, 1000, 0.01, 0.05, 0.8), (100000, 20000, 0.001, 0.05, 0.8),
                                   (500, 500, 0.0, 0.05, 0.9), (50, 80, 0.2, 0.1, 0.8)]:
        za, zb = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(pw)

        def g(d):
            p2 = p + d
            pbar = (n1 * p + n2 * p2) / (n1 + n2)
            return d - (za * math.sqrt(pbar * (1 - pbar) * (1 / n1 + 1 / n2))
                        + zb * math.sqrt(p * (1 - p) / n1 + p2 * (1 - p2) / n2))
        rate.append({"n1": n1, "n2": n2, "p_base": p, "alpha": alpha, "power": pw,
                     "mde": brentq(g, 1e-15, 1 - p, xtol=1e-16, rtol=1e-15)})
    shift = []
    for (n1, n2, sd, alpha, pw) in [(100, 100, 0.5, 0.05, 0.8), (10000, 2000, 0.8, 0.01, 0.9)]:
        z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(pw)
        d = z * sd * math.sqrt((1 / n1 + 1 / n2) * math.pi / 3)
        shift.append({"n1": n1, "n2": n2, "sd_log": sd, "alpha": alpha, "power": pw,
                      "mde": math.expm1(d)})
    return {"rate_difference": rate, "log_shift": shift}


def main():
    ref = {
        "generator": {"scipy": scipy.__version__, "numpy": np.__version__},
        "distributions": distributions(),
        "quantiles": quantiles(),
        "mann_whitney": mann_whitney(),
        "hodges_lehmann": hodges_lehmann(),
        "quantile_difference": quantile_difference(),
        "fisher": fisher(),
        "proportions": proportions(),
        "benjamini_hochberg": bh(),
        "power": power(),
    }
    OUT.write_text(json.dumps(ref, indent=1) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
