//! canalyst: offline canary analysis over exported OpenTelemetry telemetry.
//!
//! The modules follow the pipeline (design §1): [`ingest`] reads files into the canonical
//! tables of [`model`]; later stages aggregate, compare, decide and report.

#![warn(missing_docs)]

pub mod analysis;
pub mod backtest;
pub mod cli;
pub mod engine;
pub mod forensics;
pub mod generate;
pub mod ingest;
pub mod jobs;
pub mod model;
pub mod pipeline;
pub mod report;
pub mod stats;
pub mod timings;
pub mod tune;
