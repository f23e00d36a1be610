//! The traffic plan: how many traces, when each starts, and how they are batched into output
//! lines. Everything here is decided before any span is simulated, so that lines can be
//! simulated in parallel and still numbered and written in order.

use super::scenario::{Effect, EffectTable, Scenario};
use super::topology::{expected_spans, rt, ROUTES};
use crate::model::time::NS_PER_SEC;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::ops::Range;

/// Relative amplitude of the load curve `1 + A·sin(2πt/T)` over the run.
pub const LOAD_AMPLITUDE: f64 = 0.2;
/// How strongly latency follows load: processing time × `1 + LOAD_LATENCY·(load − 1)`.
pub const LOAD_LATENCY: f64 = 0.15;
/// Target spans per parallel work unit (a run of consecutive lines).
const CHUNK_SPANS: f64 = 8192.0;

/// Purposes of random streams: each gets its own key so that, for instance, the trace times do
/// not depend on how many numbers a trace's simulation draws.
pub(crate) mod stream {
    /// Arrival time jitter of trace `i`.
    pub const ARRIVAL: u64 = 1;
    /// Simulation of trace `i`.
    pub const TRACE: u64 = 2;
}

/// The random stream for `purpose` and `index`: ChaCha8 keyed by the seed and purpose, with the
/// index as its stream number (2^64 independent streams per key, portable across platforms).
pub fn rng_for(seed: u64, purpose: u64, index: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed ^ purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    r.set_stream(index);
    r
}

/// Inputs of a run.
#[derive(Debug, Clone)]
pub struct PlanParams {
    /// Scenario.
    pub scenario: Scenario,
    /// Seed of every random stream.
    pub seed: u64,
    /// Approximate number of spans to produce.
    pub spans: u64,
    /// Share of each service's traffic served by its canary once the canary is up.
    pub canary_share: f64,
    /// First trace start, Unix ns.
    pub start_ns: i64,
    /// Length of the run, ns.
    pub duration_ns: i64,
    /// Canary instances start serving this long after `start_ns`.
    pub canary_delay_ns: i64,
    /// The scenario's effects apply to canary requests of traces starting this long after
    /// `start_ns` (at least `canary_delay_ns`; equal to it: from the canary's first request).
    pub effect_onset_ns: i64,
    /// Multiplier of the scenario's effects ([`Scenario::effects_sized`]); `None`: the
    /// scenario's own.
    pub effect_size: Option<f64>,
}

/// The decided shape of a run.
#[derive(Debug, Clone)]
pub struct TrafficPlan {
    /// Inputs.
    pub params: PlanParams,
    /// Injected effects of the scenario.
    pub effects: Vec<Effect>,
    /// The same, indexed for lookup.
    pub effect_table: EffectTable,
    /// Entry (frontend) route weights, indexed by route id (0 for non-entry routes).
    pub entry_weights: Vec<f64>,
    /// Cumulative entry weights (same indexing), for sampling.
    cumulative: Vec<f64>,
    /// Expected spans per trace under `entry_weights`.
    pub spans_per_trace: f64,
    /// Start of each trace, Unix ns, non-decreasing.
    pub trace_start: Vec<i64>,
    /// Trace index range of each output line (a Collector batch), in order.
    pub lines: Vec<Range<usize>>,
    /// Line index ranges simulated together by one worker.
    pub chunks: Vec<Range<usize>>,
    /// Width of the batching window, ns.
    pub batch_window_ns: i64,
}

/// Load at run fraction `x` ∈ [0, 1]: mean 1 over the run. (`libm` here and in the
/// simulation: pure-Rust functions give the same bits on every platform.)
pub fn load_at(x: f64) -> f64 {
    1.0 + LOAD_AMPLITUDE * libm::sin(std::f64::consts::TAU * x)
}

/// Cumulative load ∫₀ˣ load, which is `x` at 0 and 1.
fn cumulative_load(x: f64) -> f64 {
    x + LOAD_AMPLITUDE / std::f64::consts::TAU * (1.0 - libm::cos(std::f64::consts::TAU * x))
}

/// Inverse of [`cumulative_load`] by bisection (it is strictly increasing since load > 0).
fn inverse_cumulative_load(y: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, 1.0);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if cumulative_load(mid) < y {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

impl TrafficPlan {
    /// Decides the number of traces, their start times and the output lines.
    ///
    /// Arrivals follow an inhomogeneous process with intensity ∝ [`load_at`], drawn by
    /// stratified inversion: trace `i` starts at `Λ⁻¹((i + uᵢ)/n)`, so starts are sorted by
    /// index and the rate follows the load curve without clumping.
    pub fn new(params: PlanParams) -> Self {
        let effects = params.scenario.effects_sized(params.effect_size);
        let mut entry_weights: Vec<f64> = ROUTES.iter().map(|r| r.entry_weight).collect();
        let expected = |w: &[f64]| -> f64 {
            let total: f64 = w.iter().sum();
            w.iter()
                .enumerate()
                .map(|(r, wr)| wr * expected_spans(r))
                .sum::<f64>()
                / total
        };
        let delay_x = (params.canary_delay_ns as f64 / params.duration_ns as f64).clamp(0.0, 1.0);
        let canary_traffic = 1.0 - cumulative_load(delay_x);
        let mut n = 1usize;
        // The low-traffic scenario sizes its route so a fixed number of canary requests is
        // expected; that changes spans per trace, hence the trace count: iterate to a fixpoint.
        for _ in 0..4 {
            n = ((params.spans as f64 / expected(&entry_weights)).round() as usize).max(1);
            if let Some(target) = params.scenario.low_traffic_canary_requests() {
                let canary_traces = n as f64 * params.canary_share * canary_traffic;
                let share = (target / canary_traces.max(1e-9)).min(0.5);
                let others: f64 = entry_weights
                    .iter()
                    .enumerate()
                    .filter(|(r, _)| *r != rt::F_GIFT)
                    .map(|(_, w)| w)
                    .sum();
                entry_weights[rt::F_GIFT] = share * others / (1.0 - share);
            }
        }
        let spans_per_trace = expected(&entry_weights);
        let mut acc = 0.0;
        let cumulative = entry_weights
            .iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();

        let dur = params.duration_ns as f64;
        let trace_start: Vec<i64> = (0..n)
            .into_par_iter()
            .map(|i| {
                let u: f64 = rng_for(params.seed, stream::ARRIVAL, i as u64).random();
                let x = inverse_cumulative_load((i as f64 + u) / n as f64);
                params.start_ns + (x * dur) as i64
            })
            .collect();

        // The Collector's batch processor flushes on a timer: aim for ~8 traces per line at the
        // average rate, within 0.2–10 s windows.
        let window =
            (8.0 * dur / n as f64).clamp(0.2 * NS_PER_SEC as f64, 10.0 * NS_PER_SEC as f64) as i64;
        let mut lines = Vec::new();
        let mut first = 0;
        while first < n {
            let w = (trace_start[first] - params.start_ns) / window;
            let mut last = first + 1;
            while last < n && (trace_start[last] - params.start_ns) / window == w {
                last += 1;
            }
            lines.push(first..last);
            first = last;
        }
        let traces_per_chunk = (CHUNK_SPANS / spans_per_trace).max(1.0);
        let mut chunks = Vec::new();
        let mut first_line = 0;
        while first_line < lines.len() {
            let mut last = first_line;
            let mut traces = 0.0;
            while last < lines.len() && (traces < traces_per_chunk || last == first_line) {
                traces += lines[last].len() as f64;
                last += 1;
            }
            chunks.push(first_line..last);
            first_line = last;
        }
        Self {
            effect_table: EffectTable::new(&effects),
            effects,
            entry_weights,
            cumulative,
            spans_per_trace,
            trace_start,
            lines,
            chunks,
            batch_window_ns: window,
            params,
        }
    }

    /// Number of traces.
    pub fn traces(&self) -> usize {
        self.trace_start.len()
    }

    /// Entry route for a uniform draw `u` ∈ [0, 1).
    pub fn entry_route(&self, u: f64) -> usize {
        let total = *self.cumulative.last().expect("routes exist");
        let x = u * total;
        self.cumulative
            .iter()
            .position(|c| x < *c)
            .unwrap_or(rt::F_HOME)
    }

    /// When the canary instances start serving, Unix ns.
    pub fn canary_start_ns(&self) -> i64 {
        self.params.start_ns + self.params.canary_delay_ns
    }

    /// When the effects begin, Unix ns (the canary is healthy before).
    pub fn effect_onset_ns(&self) -> i64 {
        self.params.start_ns + self.params.effect_onset_ns.max(self.params.canary_delay_ns)
    }

    /// Load relative to the mean at time `t_ns`.
    pub fn load(&self, t_ns: i64) -> f64 {
        load_at((t_ns - self.params.start_ns) as f64 / self.params.duration_ns as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(scenario: Scenario, spans: u64) -> PlanParams {
        PlanParams {
            scenario,
            seed: 7,
            spans,
            canary_share: 0.1,
            start_ns: 1_767_225_600 * NS_PER_SEC,
            duration_ns: 3600 * NS_PER_SEC,
            canary_delay_ns: 300 * NS_PER_SEC,
            effect_onset_ns: 300 * NS_PER_SEC,
            effect_size: None,
        }
    }

    #[test]
    fn lines_partition_sorted_traces() {
        let p = TrafficPlan::new(params(Scenario::Mixed, 50_000));
        assert!(p.trace_start.windows(2).all(|w| w[0] <= w[1]));
        let covered: usize = p.lines.iter().map(|l| l.len()).sum();
        assert_eq!(covered, p.traces());
        assert!(p.lines.windows(2).all(|w| w[0].end == w[1].start));
        assert_eq!(p.chunks.last().unwrap().end, p.lines.len());
        let expected = p.traces() as f64 * p.spans_per_trace;
        assert!((expected / 50_000.0 - 1.0).abs() < 0.01);
        let end = p.params.start_ns + p.params.duration_ns;
        assert!(p
            .trace_start
            .iter()
            .all(|t| *t >= p.params.start_ns && *t < end));
    }

    #[test]
    fn arrivals_follow_load_curve() {
        let p = TrafficPlan::new(params(Scenario::Aa, 200_000));
        // Quarter 1 (load peak, sin > 0) must be busier than quarter 3 (trough).
        let q = |k: i64| {
            let lo = p.params.start_ns + k * p.params.duration_ns / 4;
            let hi = lo + p.params.duration_ns / 4;
            p.trace_start
                .iter()
                .filter(|t| **t >= lo && **t < hi)
                .count() as f64
        };
        let expected_ratio = (0.25 + LOAD_AMPLITUDE / std::f64::consts::TAU)
            / (0.25 - LOAD_AMPLITUDE / std::f64::consts::TAU);
        assert!(((q(0) / q(2)) / expected_ratio - 1.0).abs() < 0.02);
    }

    #[test]
    fn low_traffic_route_is_sized_for_few_canary_requests() {
        for spans in [20_000, 1_000_000] {
            let p = TrafficPlan::new(params(Scenario::LowTraffic, spans));
            let total: f64 = p.entry_weights.iter().sum();
            let share = p.entry_weights[rt::F_GIFT] / total;
            let canary = p.traces() as f64 * share * 0.1 * (1.0 - cumulative_load(300.0 / 3600.0));
            assert!((canary - 40.0).abs() < 1.0, "{spans}: {canary}");
        }
    }
}
