//! Backtesting rollout policies on recorded telemetry (`canalyst backtest`, issue 15): what
//! would this rollout policy have done on that recording?
//!
//! - [`policy`]: the policy file (steps, gates, Argo Rollouts' and Flagger's counting rules)
//!   and its presets.
//! - [`import`]: Argo Rollouts `Rollout` / Flagger `Canary` YAML translated into a policy.
//! - [`summary`]: the request log as per-bucket summaries built once, thinned by whole traces
//!   and re-windowed per look.
//! - [`replay`]: the walk through the steps, measurement by measurement.
//! - [`outcome`]: the result (`backtest.json`).
//!
//! Uses the analysis as a library ([`crate::analysis::analyze_at`] with the gate's
//! configuration) on comparison inputs built from the summaries; never reads spans itself.

#[cfg(test)]
mod calibration_tests;
pub mod import;
pub mod outcome;
pub mod policy;
pub mod replay;
pub mod summary;
