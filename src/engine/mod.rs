//! Engine: canonical tables → per-group summaries (DataFusion + rayon).

pub mod summary;
