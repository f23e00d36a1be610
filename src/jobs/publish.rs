//! Atomic replacement of a report directory: the report is written into a temporary sibling
//! directory and renamed into place, so a reader, or a run killed mid-write, never sees a torn
//! report.
//!
//! POSIX `rename` cannot replace a non-empty directory, so replacing takes two renames: the
//! old report moves aside to `.<name>.old`, the new one moves in, the old one is deleted. A
//! crash between the two renames leaves the previous report complete at `.<name>.old`;
//! [`recover`] (run under the job's lock before each write) moves it back.

use super::JobsError;
use std::path::{Path, PathBuf};

fn sibling(dest: &Path, tag: &str) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.{tag}"))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> JobsError + '_ {
    move |source| JobsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Undoes an interrupted publish of `dest`: restores `.<name>.old` when `dest` is missing,
/// and removes leftover temporary directories.
pub fn recover(dest: &Path) -> Result<(), JobsError> {
    let old = sibling(dest, "old");
    if old.exists() {
        if dest.exists() {
            std::fs::remove_dir_all(&old).map_err(io(&old))?;
        } else {
            std::fs::rename(&old, dest).map_err(io(dest))?;
        }
    }
    let tmp = sibling(dest, "tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    Ok(())
}

/// The temporary directory to write `dest`'s new content into (created empty).
pub fn staging_dir(dest: &Path) -> Result<PathBuf, JobsError> {
    recover(dest)?;
    let tmp = sibling(dest, "tmp");
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    Ok(tmp)
}

/// Moves the finished `staging` directory to `dest`, replacing what was there.
pub fn publish(staging: &Path, dest: &Path) -> Result<(), JobsError> {
    let old = sibling(dest, "old");
    if dest.exists() {
        std::fs::rename(dest, &old).map_err(io(dest))?;
    }
    std::fs::rename(staging, dest).map_err(io(dest))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_recovers_from_a_crash_between_the_renames() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("r");
        let s = staging_dir(&dest).unwrap();
        std::fs::write(s.join("a"), "1").unwrap();
        publish(&s, &dest).unwrap();
        let s = staging_dir(&dest).unwrap();
        std::fs::write(s.join("a"), "2").unwrap();
        publish(&s, &dest).unwrap();
        assert_eq!(std::fs::read_to_string(dest.join("a")).unwrap(), "2");
        // A crash after moving the old report aside and before moving the new one in:
        std::fs::rename(&dest, sibling(&dest, "old")).unwrap();
        let s = staging_dir(&dest).unwrap();
        assert_eq!(std::fs::read_to_string(dest.join("a")).unwrap(), "2");
        assert!(std::fs::read_dir(&s).unwrap().next().is_none());
    }
}
