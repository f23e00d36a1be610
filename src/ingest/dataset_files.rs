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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::metrics::{
        EXP_HISTOGRAM_POINTS_TABLE, HISTOGRAM_POINTS_TABLE, METRIC_POINTS_TABLE,
    };

    /// The metric files are the metric tables' names, as `dataset::metric_file` names them.
    #[test]
    fn metric_files_are_the_metric_tables() {
        let tables = [
            METRIC_POINTS_TABLE,
            HISTOGRAM_POINTS_TABLE,
            EXP_HISTOGRAM_POINTS_TABLE,
        ];
        let named: Vec<String> = tables
            .iter()
            .map(|t| crate::ingest::dataset::metric_file(t))
            .collect();
        assert_eq!(named, METRIC_FILES);
    }
}
