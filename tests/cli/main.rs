//! Integration tests driving the real `canalyst` binary, one module per area.

mod analyze;
mod architecture;
mod backtest;
mod bad_inputs;
#[cfg(feature = "distributed")]
mod distributed;
mod fixtures;
mod forensics;
mod generate;
mod import_graph;
mod ingest;
mod metrics;
mod metrics_analysis;
mod metrics_dashboards;
mod query;
mod repo_paths;
mod report;
mod run;
mod sequential;
mod sql;
mod tools;
mod tune;
