//! Integration tests driving the real `canalyst` binary, one module per area.

mod generate;
mod ingest;
mod metrics;
mod sql;
