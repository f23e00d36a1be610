//! The reports a job has written (`STATE/data/JOB/history.json`), for its index page and for
//! retention (`keep = "30d"`).

use super::JobsError;
use crate::analysis::findings::Verdict;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One report of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The service, `None` for all services.
    pub service: Option<String>,
    /// Window start, RFC 3339.
    pub window_start: String,
    /// Window end, RFC 3339.
    pub window_end: String,
    /// Window end, ns since the epoch (ordering and retention).
    pub end_unix_nano: i64,
    /// The verdict.
    pub verdict: Verdict,
    /// The report's score, 0–100.
    pub score: f64,
    /// Comparisons that failed (high or low).
    pub failed: usize,
    /// Comparisons judged.
    pub comparisons: usize,
    /// The report directory.
    pub report: PathBuf,
}

/// A job's history, ordered by window end, then service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// The entries.
    pub entries: Vec<HistoryEntry>,
}

impl History {
    /// Reads `path` (an empty history when it does not exist yet).
    pub fn load(path: &Path) -> Result<Self, JobsError> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| JobsError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(JobsError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Writes `path` atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<(), JobsError> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| JobsError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
        super::write_atomically(path, &text)
    }

    /// Adds `e`, replacing the entry of the same service and window end (a re-run).
    pub fn record(&mut self, e: HistoryEntry) {
        self.entries
            .retain(|x| !(x.service == e.service && x.end_unix_nano == e.end_unix_nano));
        self.entries.push(e);
        self.entries
            .sort_by(|a, b| (a.end_unix_nano, &a.service).cmp(&(b.end_unix_nano, &b.service)));
    }

    /// Removes the entries whose window ended at or before `cutoff_unix_nano`; returns the
    /// report directories no remaining entry uses (to delete).
    pub fn prune(&mut self, cutoff_unix_nano: i64) -> Vec<PathBuf> {
        let (old, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|e| e.end_unix_nano <= cutoff_unix_nano);
        self.entries = kept;
        let mut dirs: Vec<PathBuf> = old
            .into_iter()
            .map(|e| e.report)
            .filter(|d| !self.entries.iter().any(|k| &k.report == d))
            .collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }
}

/// Deletes an expired report directory (only if it holds a `report.json`, so a mistaken
/// path never deletes anything else) and then its parents up to `root` while they are empty.
pub fn remove_report(dir: &Path, root: &Path) -> Result<(), JobsError> {
    if !dir.join("report.json").is_file() || !dir.starts_with(root) {
        return Ok(());
    }
    std::fs::remove_dir_all(dir).map_err(|source| JobsError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut p = dir.parent();
    while let Some(d) = p {
        if d == root || !d.starts_with(root) || std::fs::remove_dir(d).is_err() {
            break;
        }
        p = d.parent();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(service: &str, end: i64, dir: &str) -> HistoryEntry {
        HistoryEntry {
            service: Some(service.into()),
            window_start: String::new(),
            window_end: String::new(),
            end_unix_nano: end,
            verdict: Verdict::Promote,
            score: 100.0,
            failed: 0,
            comparisons: 3,
            report: dir.into(),
        }
    }

    #[test]
    fn rerun_replaces_and_prune_spares_shared_directories() {
        let mut h = History::default();
        h.record(entry("b", 2, "r/2/b"));
        h.record(entry("a", 1, "r/1/a"));
        h.record(entry("a", 2, "r/same"));
        h.record(entry("a", 3, "r/same"));
        h.record(entry("b", 2, "r/2/b"));
        assert_eq!(h.entries.len(), 4);
        assert_eq!(h.entries[0].end_unix_nano, 1);
        let gone = h.prune(2);
        assert_eq!(gone, vec![PathBuf::from("r/1/a"), PathBuf::from("r/2/b")]);
        assert_eq!(h.entries.len(), 1);
    }
}
