//! Tuning rollout policies on a labelled corpus (`canalyst tune`, issue 15): which settings of
//! a policy catch bad deployments early without rolling back good ones?
//!
//! - [`sweep`]: `--sweep KEY=A..B[:STEP]` specs, the sweepable policy keys, and the policy of
//!   each setting (the cartesian product of the specs).
//! - [`evaluate`]: per setting, detection and false-rollback rates with Wilson intervals, time
//!   to detect, exposure; the Pareto front and the recommended setting (`tune.json`).
//!
//! Each deployment's requests are summarised once ([`crate::backtest::summary::Summaries`]);
//! every setting replays those summaries ([`crate::backtest::replay::replay_summaries`]), so
//! the cost grows with settings × looks, not with spans.

pub mod evaluate;
pub mod sweep;

use crate::backtest::policy::Policy;
use crate::backtest::replay::{replay_summaries, BacktestError, ReplayOptions};
use crate::backtest::summary::Summaries;
use crate::model::label::Verdict;
use evaluate::{DeploymentOutcome, Setting};
use rayon::prelude::*;
use sweep::Params;

/// One deployment ready to replay: its summaries (built once), its replay options (seed,
/// onset, bucket) and its label.
#[derive(Debug)]
pub struct Prepared {
    /// Directory name, for errors.
    pub name: String,
    /// The summaries of its request log.
    pub summaries: Summaries,
    /// Seed, onset (bad deployments), bucket width.
    pub opts: ReplayOptions,
    /// Good or bad.
    pub label: Verdict,
}

/// A replay of one setting on one deployment failed.
#[derive(Debug, thiserror::Error)]
#[error("{deployment}: setting {setting} ({params}): {source}")]
pub struct TuneError {
    /// The deployment.
    pub deployment: String,
    /// Setting index.
    pub setting: usize,
    /// Its parameters, `key=value` joined.
    pub params: String,
    /// The replay's error.
    pub source: Box<BacktestError>,
}

/// Replays every setting on every deployment (settings in parallel; each replay is
/// deterministic, so the result does not depend on the thread count) and scores each setting.
pub fn run_sweep(
    deployments: &[Prepared],
    settings: Vec<(Params, Policy)>,
) -> Result<Vec<Setting>, TuneError> {
    let labels: Vec<Verdict> = deployments.iter().map(|d| d.label).collect();
    settings
        .into_par_iter()
        .enumerate()
        .map(|(index, (params, policy))| {
            let outcomes = deployments
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    replay_summaries(&d.summaries, &policy, &d.opts)
                        .map(|r| DeploymentOutcome::of(i, d.label, &r))
                        .map_err(|source| TuneError {
                            deployment: d.name.clone(),
                            setting: index,
                            params: params
                                .iter()
                                .map(|(k, v)| format!("{k}={v}"))
                                .collect::<Vec<_>>()
                                .join(" "),
                            source: Box::new(source),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Setting::score(index, params, &labels, outcomes))
        })
        .collect()
}
