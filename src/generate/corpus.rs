//! `canalyst generate --corpus N -o DIR`: a labelled corpus of recorded deployments for
//! `canalyst tune`, each `DIR/NNN-<good|bad>-<kind>/` with the generator's output (the OTLP
//! JSON files removed, `parquet/spans.parquet` and `truth.json` kept) and a `label.toml`
//! ([`crate::model::label::Label`]).
//!
//! Deployment `i` of a corpus with seed `s` (the grid, so that a corpus of any size covers
//! every cell evenly and the same `(N, s)` gives the same corpus byte for byte):
//! - even `i`: good (scenario `aa`); odd `i`: bad, the kind cycling latency → errors → tail and
//!   the size through [`SIZES`] every three bad deployments;
//! - traffic `low`/`medium`/`high` = ×0.5/×1/×2 the `--spans` asked for, cycling every two
//!   deployments; the onset of a bad one cycles through [`ONSET_MINUTES`];
//! - the deployment's seed is `splitmix64(s ⊕ i)`; canary share 50% (the `progressive`
//!   preset's last step), 45 minutes, canary from minute 5.

use super::scenario::Scenario;
use super::{generate, GenerateError, GenerateOptions};
use crate::model::hash::splitmix64;
use crate::model::label::{Label, Verdict};
use crate::model::time::{format_rfc3339_seconds, NS_PER_SEC};

/// Effect sizes per kind (latency factor, error-rate factor, p99 ratio), small to large.
pub const SIZES: [(&str, [f64; 3]); 3] = [
    ("latency", [1.15, 1.3, 1.6]),
    ("errors", [2.0, 4.0, 8.0]),
    ("tail", [1.5, 2.5, 4.0]),
];
/// Onsets of bad deployments, minutes after the recording starts (the canary starts at 5; the
/// first whole minute a replay can look at is 6).
pub const ONSET_MINUTES: [f64; 4] = [6.0, 10.0, 15.0, 22.0];
/// Traffic levels: name and multiplier of `--spans`.
pub const TRAFFIC: [(&str, f64); 3] = [("low", 0.5), ("medium", 1.0), ("high", 2.0)];
/// Canary share of every corpus recording.
pub const CANARY_SHARE: f64 = 0.5;
/// Length of every corpus recording, minutes.
pub const DURATION_MINUTES: f64 = 45.0;
/// Canary start, minutes.
pub const CANARY_DELAY_MINUTES: f64 = 5.0;

/// One planned deployment of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// Directory name.
    pub name: String,
    /// Scenario.
    pub scenario: Scenario,
    /// Effect kind (`none` when good).
    pub kind: &'static str,
    /// Effect size.
    pub size: Option<f64>,
    /// Traffic level.
    pub traffic: &'static str,
    /// Spans asked for.
    pub spans: u64,
    /// Onset, minutes (bad only).
    pub onset_minutes: Option<f64>,
    /// Seed.
    pub seed: u64,
}

/// Deployment `i` of a corpus with seed `seed` and mean size `spans` (see the module doc).
pub fn plan(i: usize, seed: u64, spans: u64) -> Planned {
    let (traffic, mult) = TRAFFIC[(i / 2) % TRAFFIC.len()];
    let spans = ((spans as f64 * mult).round() as u64).max(1);
    // 53 bits: exact in TOML (signed 64-bit) and in JSON readers that use doubles.
    let seed = splitmix64(seed ^ i as u64) >> 11;
    if i.is_multiple_of(2) {
        return Planned {
            name: format!("{i:03}-good-none"),
            scenario: Scenario::Aa,
            kind: "none",
            size: None,
            traffic,
            spans,
            onset_minutes: None,
            seed,
        };
    }
    let j = i / 2;
    let (kind, sizes) = SIZES[j % 3];
    let scenario = match kind {
        "latency" => Scenario::Latency,
        "errors" => Scenario::Errors,
        _ => Scenario::Tail,
    };
    Planned {
        name: format!("{i:03}-bad-{kind}"),
        scenario,
        kind,
        size: Some(sizes[(j / 3) % 3]),
        traffic,
        spans,
        onset_minutes: Some(ONSET_MINUTES[j % ONSET_MINUTES.len()]),
        seed,
    }
}

/// Writes `n` deployments into `base.out_dir` (other fields of `base`: start time, metric
/// options, compression); returns their labels in order.
pub fn write_corpus(
    n: usize,
    base: &GenerateOptions,
) -> Result<Vec<(String, Label)>, GenerateError> {
    let minutes = |m: f64| (m * 60.0 * NS_PER_SEC as f64).round() as i64;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let p = plan(i, base.seed, base.spans);
        let dir = base.out_dir.join(&p.name);
        let opts = GenerateOptions {
            scenario: p.scenario,
            seed: p.seed,
            spans: p.spans,
            canary_share: CANARY_SHARE,
            start_ns: base.start_ns,
            duration_ns: minutes(DURATION_MINUTES),
            canary_delay_ns: minutes(CANARY_DELAY_MINUTES),
            effect_onset_ns: p.onset_minutes.map(minutes),
            effect_size: p.size,
            compress: base.compress,
            out_dir: dir.clone(),
            metrics: base.metrics,
            head_sampling: false,
            protobuf: false,
            trace_defects: false,
        };
        let s = generate(&opts)?;
        // The corpus is replayed from Parquet; the OTLP JSON copies would double its size.
        let otlp = dir.join("otlp");
        std::fs::remove_dir_all(&otlp).map_err(|source| GenerateError::Io {
            path: otlp.clone(),
            source,
        })?;
        let label = Label {
            label: if p.kind == "none" {
                Verdict::Good
            } else {
                Verdict::Bad
            },
            onset: p
                .onset_minutes
                .map(|m| format_rfc3339_seconds(base.start_ns + minutes(m))),
            affected_routes: s
                .truth
                .effects
                .iter()
                .map(|e| format!("{} {}", e.service, e.route))
                .collect(),
            effect_kind: p.kind.into(),
            effect_size: p.size,
            traffic: p.traffic.into(),
            spans: p.spans,
            canary_share: CANARY_SHARE,
            seed: p.seed,
        };
        let path = dir.join("label.toml");
        std::fs::write(&path, label.to_toml())
            .map_err(|source| GenerateError::Io { path, source })?;
        out.push((p.name, label));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_covers_kinds_sizes_traffic_and_onsets() {
        let all: Vec<Planned> = (0..36).map(|i| plan(i, 9, 1000)).collect();
        assert_eq!(all.iter().filter(|p| p.kind == "none").count(), 18);
        for (kind, sizes) in SIZES {
            for s in sizes {
                assert!(
                    all.iter().any(|p| p.kind == kind && p.size == Some(s)),
                    "{kind} {s}"
                );
            }
        }
        for (t, _) in TRAFFIC {
            assert!(all.iter().any(|p| p.traffic == t && p.kind == "none"));
            assert!(all.iter().any(|p| p.traffic == t && p.kind != "none"));
        }
        for o in ONSET_MINUTES {
            assert!(all.iter().any(|p| p.onset_minutes == Some(o)));
        }
        assert_eq!(plan(5, 9, 1000), plan(5, 9, 1000));
        assert_ne!(plan(5, 9, 1000).seed, plan(5, 10, 1000).seed);
    }
}
