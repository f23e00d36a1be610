//! Per-bucket request summaries built once from the request log, thinned and re-windowed per
//! look (issue 15: "per-bucket mergeable summaries computed once, re-windowed per look, not a
//! re-scan of spans").
//!
//! A cell is one (time bucket, route) pair and holds both sides' requests as exact values
//! (duration, error, weight). The baseline's durations are kept sorted, so a window's sample is
//! a merge of sorted runs; the canary's rows are kept in ascending order of their trace's
//! thinning draw `u`, so the requests kept at keep-probability `q` are a prefix (`u < q`),
//! found by binary search.
//!
//! **Thinning by whole traces.** `u = splitmix64(fnv1a64(trace id) ⊕ splitmix64(seed)) / 2⁶⁴`
//! is the same for every request of a trace, so a trace is kept or dropped whole (a canary
//! request's downstream calls go with it), and the same seed gives the same replay.

use crate::model::comparison::{
    bucket_start, ComparisonInput, GroupComparison, GroupKey, Quantiles, Side, TimeBucket,
    TrackSample, Window,
};
use crate::model::hash::splitmix64;
use crate::model::requests::RequestLog;
use crate::stats::quantile::quantile_type7;

/// One request as a cell keeps it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Req {
    /// Thinning draw of the request's trace, in [0, 1).
    u: f64,
    duration_ns: i64,
    is_error: bool,
    weight: f64,
}

/// Both sides of one (bucket, route).
#[derive(Debug, Clone, Default)]
struct Cell {
    /// Sorted by duration.
    baseline: Vec<Req>,
    /// Sorted by `u`.
    canary: Vec<Req>,
}

/// Counts of requests and errors.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    /// Requests.
    pub requests: u64,
    /// Error requests.
    pub errors: u64,
}

impl Counts {
    fn add(&mut self, o: Counts) {
        self.requests += o.requests;
        self.errors += o.errors;
    }
}

/// The request log as per-bucket cells.
#[derive(Debug, Clone)]
pub struct Summaries {
    /// Bucket width, ns.
    pub bucket_ns: i64,
    /// Start of bucket 0, ns since the epoch.
    pub first_bucket_ns: i64,
    /// Number of buckets.
    pub buckets: usize,
    /// Routes; a cell's route indexes this.
    pub routes: Vec<GroupKey>,
    /// The log's window.
    pub window: Window,
    /// Baseline selector.
    pub baseline: crate::model::comparison::Selector,
    /// Canary selector.
    pub canary: crate::model::comparison::Selector,
    cells: Vec<Cell>,
}

/// Thinning draw in [0, 1) of a trace hash under `seed`.
pub fn thinning_draw(trace_hash: u64, seed: u64) -> f64 {
    (splitmix64(trace_hash ^ splitmix64(seed)) >> 11) as f64 / (1u64 << 53) as f64
}

impl Summaries {
    /// Builds the cells of `log` in buckets `bucket_ns` wide (aligned to the epoch), drawing
    /// each trace's `u` with `seed`.
    pub fn build(log: &RequestLog, bucket_ns: i64, seed: u64) -> Self {
        let first = bucket_start(log.window.start_unix_nano, bucket_ns);
        let last = bucket_start((log.window.end_unix_nano - 1).max(first), bucket_ns);
        let buckets = ((last - first) / bucket_ns + 1) as usize;
        let nr = log.routes.len();
        let mut cells = vec![Cell::default(); buckets * nr];
        for r in &log.rows {
            let b = ((bucket_start(r.start_ns, bucket_ns) - first) / bucket_ns) as usize;
            let req = Req {
                u: thinning_draw(r.trace_hash, seed),
                duration_ns: r.duration_ns,
                is_error: r.is_error,
                weight: r.weight,
            };
            let c = &mut cells[b * nr + r.route as usize];
            match r.side {
                Side::Baseline => c.baseline.push(req),
                Side::Canary => c.canary.push(req),
            }
        }
        // The log comes in the engine's order; a total order per cell makes every sum (the
        // weights are floating point) independent of the thread count.
        for c in &mut cells {
            c.baseline.sort_unstable_by(|a, b| {
                (a.duration_ns, a.is_error)
                    .cmp(&(b.duration_ns, b.is_error))
                    .then(a.weight.total_cmp(&b.weight))
                    .then(a.u.total_cmp(&b.u))
            });
            // Ties in u are requests of one trace.
            c.canary.sort_unstable_by(|a, b| {
                a.u.total_cmp(&b.u)
                    .then((a.duration_ns, a.is_error).cmp(&(b.duration_ns, b.is_error)))
                    .then(a.weight.total_cmp(&b.weight))
            });
        }
        Summaries {
            bucket_ns,
            first_bucket_ns: first,
            buckets,
            routes: log.routes.clone(),
            window: log.window,
            baseline: log.baseline.clone(),
            canary: log.canary.clone(),
            cells,
        }
    }

    /// Start of bucket `b`, ns.
    pub fn bucket_time(&self, b: usize) -> i64 {
        self.first_bucket_ns + b as i64 * self.bucket_ns
    }

    /// Index of the bucket starting at `t` (a bucket boundary), clamped to `[0, buckets]`.
    pub fn bucket_index(&self, t: i64) -> usize {
        ((t - self.first_bucket_ns).div_euclid(self.bucket_ns)).clamp(0, self.buckets as i64)
            as usize
    }

    fn cell(&self, b: usize, r: usize) -> &Cell {
        &self.cells[b * self.routes.len() + r]
    }

    /// Recorded (unthinned) requests of both sides in buckets `[from, to)`.
    pub fn recorded(&self, from: usize, to: usize) -> (u64, u64) {
        let (mut base, mut can) = (0u64, 0u64);
        for b in from..to {
            for r in 0..self.routes.len() {
                let c = self.cell(b, r);
                base += c.baseline.len() as u64;
                can += c.canary.len() as u64;
            }
        }
        (base, can)
    }

    /// Canary requests and errors of bucket `b` (route `r`, or all routes) kept at `q`.
    pub fn canary_kept(&self, b: usize, route: Option<usize>, q: f64) -> Counts {
        let mut out = Counts::default();
        let mut one = |r: usize| {
            let kept = kept(&self.cell(b, r).canary, q);
            out.add(Counts {
                requests: kept.len() as u64,
                errors: kept.iter().filter(|x| x.is_error).count() as u64,
            });
        };
        match route {
            Some(r) => one(r),
            None => (0..self.routes.len()).for_each(one),
        }
        out
    }

    /// Baseline requests of bucket `b` (all routes).
    pub fn baseline_count(&self, b: usize) -> u64 {
        (0..self.routes.len())
            .map(|r| self.cell(b, r).baseline.len() as u64)
            .sum()
    }

    /// The kept canary durations (ns, sorted) of buckets `[from, to)`, each bucket thinned at
    /// `q(b)`, on `route` or every route.
    pub fn canary_durations(
        &self,
        from: usize,
        to: usize,
        route: Option<usize>,
        q: &dyn Fn(usize) -> f64,
    ) -> Vec<i64> {
        let mut d = Vec::new();
        for b in from..to {
            let qb = q(b);
            let routes: Vec<usize> = match route {
                Some(r) => vec![r],
                None => (0..self.routes.len()).collect(),
            };
            for r in routes {
                d.extend(
                    kept(&self.cell(b, r).canary, qb)
                        .iter()
                        .map(|x| x.duration_ns),
                );
            }
        }
        d.sort_unstable();
        d
    }

    /// The comparison input of buckets `[from, to)`: baseline whole, canary thinned at `q(b)`
    /// bucket by bucket; route groups only, groups with no request on either side left out.
    /// With `with_buckets` every duration also carries its bucket's index in the side's series
    /// ([`TrackSample::duration_buckets`], ties by bucket as the engine orders them): what
    /// `method = "sequential"` needs to read the window's latency look by look.
    pub fn comparison_input(
        &self,
        from: usize,
        to: usize,
        q: &dyn Fn(usize) -> f64,
        with_buckets: bool,
    ) -> ComparisonInput {
        let groups = (0..self.routes.len())
            .filter_map(|r| {
                let mut base_rows: Vec<&[Req]> = Vec::new();
                let mut can_rows: Vec<&[Req]> = Vec::new();
                let mut base_series = Vec::new();
                let mut can_series = Vec::new();
                for b in from..to {
                    let c = self.cell(b, r);
                    let t = self.bucket_time(b);
                    if !c.baseline.is_empty() {
                        base_rows.push(&c.baseline);
                        base_series.push(bucket(t, &c.baseline, true));
                    }
                    let k = kept(&c.canary, q(b));
                    if !k.is_empty() {
                        can_rows.push(k);
                        can_series.push(bucket(t, k, false));
                    }
                }
                if base_rows.is_empty() && can_rows.is_empty() {
                    return None;
                }
                Some(GroupComparison {
                    key: self.routes[r].clone(),
                    baseline: sample(&base_rows, with_buckets),
                    canary: sample(&can_rows, with_buckets),
                    baseline_series: base_series,
                    canary_series: can_series,
                })
            })
            .collect();
        ComparisonInput {
            baseline: self.baseline.clone(),
            canary: self.canary.clone(),
            window: Window {
                start_unix_nano: self.bucket_time(from),
                end_unix_nano: self.bucket_time(to),
            },
            bucket_ns: self.bucket_ns,
            canary_first_seen_unix_nano: None,
            groups,
        }
    }

    /// Index of the route named `service route` (as the report prints a route group) or just
    /// `route` when that is unique.
    pub fn find_route(&self, name: &str) -> Option<usize> {
        let full = self
            .routes
            .iter()
            .position(|k| format!("{} {}", k.service, k.name) == name);
        full.or_else(|| {
            let mut m = self
                .routes
                .iter()
                .enumerate()
                .filter(|(_, k)| k.name == name);
            match (m.next(), m.next()) {
                (Some((i, _)), None) => Some(i),
                _ => None,
            }
        })
    }
}

/// The prefix of `canary` (sorted by `u`) with `u < q`.
fn kept(canary: &[Req], q: f64) -> &[Req] {
    if q >= 1.0 {
        return canary;
    }
    &canary[..canary.partition_point(|x| x.u < q)]
}

fn ms(ns: i64) -> f64 {
    ns as f64 / 1e6
}

/// Sorted durations (ms) of `rows`: a merge of runs already sorted by duration when `sorted`.
fn sorted_ms(runs: &[&[Req]]) -> Vec<f64> {
    let mut ns: Vec<i64> = runs
        .iter()
        .flat_map(|r| r.iter().map(|x| x.duration_ns))
        .collect();
    // Runs of the baseline are each sorted: the standard sort finds and merges them.
    ns.sort();
    ns.into_iter().map(ms).collect()
}

/// Durations (ms, sorted) of `runs` with the index of the run (= of the series bucket) each
/// came from, ordered by (duration, run) as the engine's `sorted_ms_with_buckets`.
fn sorted_ms_with_buckets(runs: &[&[Req]]) -> (Vec<f64>, Vec<u32>) {
    let mut pairs: Vec<(i64, u32)> = runs
        .iter()
        .enumerate()
        .flat_map(|(i, r)| r.iter().map(move |x| (x.duration_ns, i as u32)))
        .collect();
    pairs.sort_unstable();
    pairs.into_iter().map(|(d, b)| (ms(d), b)).unzip()
}

fn sample(runs: &[&[Req]], with_buckets: bool) -> TrackSample {
    let mut s = TrackSample::default();
    for x in runs.iter().flat_map(|r| r.iter()) {
        s.count += 1;
        s.weighted_count += x.weight;
        if x.is_error {
            s.errors += 1;
            s.weighted_errors += x.weight;
        }
    }
    let d = if with_buckets {
        let (d, b) = sorted_ms_with_buckets(runs);
        s.duration_buckets = b;
        d
    } else {
        sorted_ms(runs)
    };
    s.quantiles = Quantiles::of_sorted(&d);
    s.durations_ms = d;
    s
}

fn bucket(t: i64, rows: &[Req], sorted_by_duration: bool) -> TimeBucket {
    let mut b = TimeBucket {
        start_unix_nano: t,
        ..TimeBucket::default()
    };
    for x in rows {
        b.count += 1;
        b.weighted_count += x.weight;
        if x.is_error {
            b.errors += 1;
            b.weighted_errors += x.weight;
        }
    }
    let d: Vec<f64> = if sorted_by_duration {
        rows.iter().map(|x| ms(x.duration_ns)).collect()
    } else {
        sorted_ms(&[rows])
    };
    b.p50_ms = quantile_type7(&d, 0.5);
    b.p99_ms = quantile_type7(&d, 0.99);
    b
}

/// A request log for tests: `rows` of one route `s GET /` over `[0, minutes)` minutes, tracks
/// `stable` and `canary`.
#[cfg(test)]
pub(crate) fn test_log(rows: Vec<crate::model::requests::RequestRow>, minutes: i64) -> RequestLog {
    test_log_routes(rows, minutes, &["GET /"])
}

/// [`test_log`] with routes `s NAME` for each of `names` (sorted; a row's `route` indexes them).
#[cfg(test)]
pub(crate) fn test_log_routes(
    rows: Vec<crate::model::requests::RequestRow>,
    minutes: i64,
    names: &[&str],
) -> RequestLog {
    use crate::model::comparison::{GroupLevel, Selector};
    let sel = |t: &str| Selector {
        track: Some(t.into()),
        version: None,
    };
    RequestLog {
        baseline: sel("stable"),
        canary: sel("canary"),
        window: Window {
            start_unix_nano: 0,
            end_unix_nano: minutes * 60_000_000_000,
        },
        routes: names
            .iter()
            .map(|name| GroupKey {
                service: "s".into(),
                level: GroupLevel::Route,
                name: (*name).into(),
            })
            .collect(),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::requests::RequestRow;

    const MIN: i64 = 60_000_000_000;

    fn log(rows: Vec<RequestRow>) -> RequestLog {
        test_log(rows, 10)
    }

    fn row(t: i64, side: Side, trace: u64, dur_ms: i64, err: bool) -> RequestRow {
        RequestRow {
            start_ns: t,
            duration_ns: dur_ms * 1_000_000,
            route: 0,
            side,
            is_error: err,
            weight: 1.0,
            trace_hash: trace,
        }
    }

    #[test]
    fn thinning_keeps_whole_traces_and_the_expected_share() {
        // Two canary requests per trace in every bucket: both are kept or both dropped.
        let mut rows = Vec::new();
        for i in 0..20_000u64 {
            let t = (i as i64 % 10) * MIN + 1;
            rows.push(row(t, Side::Canary, i, 10, false));
            rows.push(row(t, Side::Canary, i, 20, false));
        }
        let s = Summaries::build(&log(rows), MIN, 7);
        let kept: u64 = (0..10).map(|b| s.canary_kept(b, None, 0.25).requests).sum();
        assert_eq!(kept % 2, 0, "a trace was split");
        let share = kept as f64 / 40_000.0;
        // 20 000 traces, q = 0.25: sd of the kept share 0.003; 5 sd.
        assert!((share - 0.25).abs() < 0.016, "kept share {share}");
        let again = Summaries::build(&log(Vec::new()), MIN, 7);
        assert_eq!(again.buckets, 10);
        // Same seed → same draw; another seed → another draw.
        assert_eq!(thinning_draw(42, 7), thinning_draw(42, 7));
        assert_ne!(thinning_draw(42, 7), thinning_draw(42, 8));
    }

    #[test]
    fn comparison_input_merges_buckets_and_thins_per_bucket() {
        let rows = vec![
            row(1, Side::Baseline, 1, 30, false),
            row(MIN + 1, Side::Baseline, 2, 10, true),
            row(MIN + 2, Side::Canary, 3, 50, true),
            row(2 * MIN + 1, Side::Canary, 4, 70, false),
        ];
        let s = Summaries::build(&log(rows), MIN, 1);
        // Keep everything in bucket 1, nothing in bucket 2.
        let input = s.comparison_input(0, 3, &|b| if b == 2 { 0.0 } else { 1.0 }, true);
        let g = &input.groups[0];
        assert_eq!(g.baseline.durations_ms, vec![10.0, 30.0]);
        assert_eq!((g.baseline.count, g.baseline.errors), (2, 1));
        assert_eq!(g.canary.durations_ms, vec![50.0]);
        assert_eq!(g.canary_series.len(), 1);
        // Each duration's bucket is its index in the side's series: 10 ms in the second
        // baseline bucket, 30 ms in the first.
        assert_eq!(g.baseline.duration_buckets, vec![1, 0]);
        assert_eq!(g.canary.duration_buckets, vec![0]);
        let plain = s.comparison_input(0, 3, &|_| 1.0, false);
        assert!(plain.groups[0].baseline.duration_buckets.is_empty());
        assert_eq!(input.window.end_unix_nano, 3 * MIN);
        assert_eq!(s.recorded(0, 3), (2, 2));
    }
}
