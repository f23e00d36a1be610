//! Engine: canonical tables → per-group summaries (DataFusion + rayon).
//!
//! [`Engine`] holds a DataFusion session with the canonical `spans` table, the `requests` view
//! and canalyst's aggregate functions ([`udaf`]); [`queries`] are the shipped SQL files;
//! [`samples::comparison_input`] finds the window and both sides' rows in one parallel pass
//! ([`scan`], the definitions of the shipped samples queries) and builds the per-group samples
//! of [`crate::model::comparison`] in parallel with rayon. `docs/engine.md` is the user guide.

pub mod attribute_counts;
#[cfg(feature = "distributed")]
pub mod cluster;
pub mod context;
pub mod ddsketch;
pub mod forensics;
pub mod histogram_udaf;
pub mod inputs;
pub mod metric_input;
pub mod metric_series;
pub mod output;
pub mod quantile;
pub mod queries;
pub mod request_log;
pub mod resource_udf;
pub mod samples;
pub mod scan;
mod sql_scan;
#[cfg(test)]
pub(crate) mod testdata;
pub mod udaf;
pub mod udaf_args;

pub use context::{Engine, EngineConfig};
pub use samples::{comparison_input, EngineOptions};

use std::path::PathBuf;

/// Errors of the engine, with the input or query they concern.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// DataFusion failed planning or running a query.
    // DataFusion's message already carries its own cause chain, so it is shown inline and
    // not exposed as `source()` (which would print it twice under `{:#}`).
    #[error("query {query}: {error}")]
    Query {
        /// Which query (file name of a shipped query, or `user SQL`).
        query: String,
        /// The DataFusion error.
        error: datafusion::error::DataFusionError,
    },
    /// Registering the tables failed.
    #[error("registering table {table}: {error}")]
    Register {
        /// Table or view name.
        table: String,
        /// The DataFusion error.
        error: datafusion::error::DataFusionError,
    },
    /// An input path is not a canonical Parquet file or a dataset directory.
    #[error("{path}: {reason}")]
    Input {
        /// The path given.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A batch does not have the canonical spans schema.
    #[error("batch {index} does not have the canonical spans schema: {reason}")]
    Schema {
        /// Position of the batch in the input.
        index: usize,
        /// The first difference.
        reason: String,
    },
    /// A selector selects nothing or both selectors are the same.
    #[error("invalid selector: {0}")]
    Selector(String),
    /// One side has no spans (after the service filter).
    #[error("no spans match the {side} selector ({selector}){filter}")]
    EmptySide {
        /// `baseline` or `canary`.
        side: &'static str,
        /// The selector, rendered.
        selector: String,
        /// ` for service X` when a service filter applies.
        filter: String,
    },
    /// The two sides never served traffic at the same time and no window was given.
    #[error("baseline ({baseline_first}..{baseline_last} ns) and canary ({canary_first}..{canary_last} ns) never served traffic at the same time; give --since/--until to compare anyway")]
    NoOverlap {
        /// First baseline span start.
        baseline_first: i64,
        /// Last baseline span start.
        baseline_last: i64,
        /// First canary span start.
        canary_first: i64,
        /// Last canary span start.
        canary_last: i64,
    },
    /// A `--param` value could not be parsed.
    #[error("parameter {value:?}: {reason}")]
    Param {
        /// The value given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// The options are inconsistent (empty window, non-positive bucket width…).
    #[error("invalid engine options: {0}")]
    Options(String),
    /// A query returned columns of unexpected types (a bug in a shipped query).
    #[error("query {query}: unexpected result column {column}: {reason}")]
    ResultShape {
        /// Which query.
        query: String,
        /// The column.
        column: String,
        /// Expected versus found.
        reason: String,
    },
    /// The cluster could not be reached or its session set up (feature `distributed`).
    #[cfg(feature = "distributed")]
    #[error(transparent)]
    Cluster(#[from] cluster::ClusterError),
}
