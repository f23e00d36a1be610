//! The names of a DATASET's files, below every module that writes, reads or walks past them
//! (the DATASET module, the resources table's reader, the input walk that skips them).

/// Canonical spans file in a DATASET.
pub const SPANS_FILE: &str = "spans.parquet";
/// Resources table in a DATASET (schema version 2 on).
pub const RESOURCES_FILE: &str = "resources.parquet";
/// Data-quality log in a DATASET.
pub const QUALITY_FILE: &str = "data_quality.json";
/// Manifest in a DATASET.
pub const MANIFEST_FILE: &str = "dataset.json";
/// The metric tables a DATASET may hold.
pub const METRIC_FILES: [&str; 3] = [
    "metric_points.parquet",
    "histogram_points.parquet",
    "exp_histogram_points.parquet",
];
