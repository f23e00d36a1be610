//! Layering rules checked over the source tree: the CLI is thin (clap arguments, a library
//! call, printing), so the data crates stay behind `canalyst::pipeline`.

use std::path::{Path, PathBuf};

fn cli_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "expected the CLI modules in {}",
        dir.display()
    );
    files
}

/// Crate paths and types that mean a CLI module drives the data layer itself.
const FORBIDDEN: &[&str] = &["datafusion::", "arrow::", "parquet::", "RecordBatch"];

#[test]
fn cli_does_not_use_datafusion_arrow_or_parquet() {
    let mut offenders = Vec::new();
    for f in cli_files() {
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            for word in FORBIDDEN.iter().filter(|w| line.contains(**w)) {
                offenders.push(format!("{}:{}: {word}", f.display(), n + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "src/cli must go through canalyst::pipeline:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn cli_files_stay_under_300_lines() {
    let long: Vec<String> = cli_files()
        .into_iter()
        .filter_map(|f| {
            let lines = std::fs::read_to_string(&f).unwrap().lines().count();
            (lines > 300).then(|| format!("{}: {lines} lines", f.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "CLI files over 300 lines:\n{}",
        long.join("\n")
    );
}
