//! Safe file names and confined writes for report output.
//!
//! File names and HTML ids that are derived from telemetry strings (routes, services) go
//! through [`slug`]: only `[A-Za-z0-9_-]`, bounded length, never `.` (so never `..`), plus a
//! short stable hash of the original string so two routes that differ only in punctuation do
//! not collide. [`write_inside`] refuses any relative path that is not a plain descent below
//! the report directory.

use super::charts::Rendered;
use super::ReportError;
use std::path::{Component, Path, PathBuf};

/// Longest readable part of a [`slug`] (the hash suffix comes on top).
pub const MAX_SLUG_CHARS: usize = 40;

use crate::model::hash::fnv1a64;

/// A file-name- and id-safe form of `s`: ASCII letters, digits, `_` and `-` kept, every other
/// run of characters turned into one `-`, at most [`MAX_SLUG_CHARS`] of them, then `-` and the
/// first 8 hex digits of [`fnv1a64`] of the whole original string. Never empty, never contains
/// `.`, `/`, `\` or control characters.
pub fn slug(s: &str) -> String {
    let mut out = String::with_capacity(MAX_SLUG_CHARS + 9);
    let mut dash = false;
    for c in s.chars() {
        if out.len() >= MAX_SLUG_CHARS {
            break;
        }
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c.to_ascii_lowercase());
            dash = false;
        } else if !dash && !out.is_empty() {
            out.push('-');
            dash = true;
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push('x');
    }
    let h = fnv1a64(s.as_bytes());
    out.push_str(&format!("-{:08x}", h >> 32));
    out
}

/// Writes `bytes` to `dir/rel`, creating parent directories, after checking that `rel` is a
/// relative path made only of normal components (no `..`, no root, no prefix) so the file
/// stays inside `dir`. Returns the full path written.
pub fn write_inside(dir: &Path, rel: &str, bytes: &[u8]) -> Result<PathBuf, ReportError> {
    let relp = Path::new(rel);
    let plain = !rel.is_empty()
        && relp.components().all(|c| matches!(c, Component::Normal(_)))
        && !rel.chars().any(|c| c.is_control() || c == '\\');
    if !plain {
        return Err(ReportError::UnsafePath {
            path: rel.to_string(),
        });
    }
    let path = dir.join(relp);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| ReportError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(&path, bytes).map_err(|source| ReportError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// One report bundle as `backtest` and `tune` write it.
pub struct Bundle<'a> {
    /// File name of the JSON document (`backtest.json`, `tune.json`).
    pub json_name: &'a str,
    /// The JSON document.
    pub json: &'a str,
    /// `report.md`.
    pub markdown: &'a str,
    /// `index.html`.
    pub html: &'a str,
    /// File stem of the chart under `charts/`.
    pub chart_name: &'a str,
    /// The chart, written as `charts/{chart_name}.svg` and `.png`.
    pub chart: &'a Rendered,
}

/// Writes `b` into `dir` (created): the JSON document, `report.md`, `index.html` and the
/// chart's SVG and PNG under `charts/`; returns the JSON document's path. Names are the
/// caller's constants, never telemetry strings.
pub fn write_bundle(dir: &Path, b: &Bundle) -> Result<PathBuf, ReportError> {
    let io = |path: PathBuf| move |source| ReportError::Io { path, source };
    let charts = dir.join("charts");
    std::fs::create_dir_all(&charts).map_err(io(charts.clone()))?;
    let files: [(PathBuf, &[u8]); 5] = [
        (dir.join(b.json_name), b.json.as_bytes()),
        (dir.join("report.md"), b.markdown.as_bytes()),
        (dir.join("index.html"), b.html.as_bytes()),
        (
            charts.join(format!("{}.svg", b.chart_name)),
            b.chart.svg.as_bytes(),
        ),
        (charts.join(format!("{}.png", b.chart_name)), &b.chart.png),
    ];
    for (path, body) in files {
        std::fs::write(&path, body).map_err(io(path.clone()))?;
    }
    Ok(dir.join(b.json_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_is_safe_bounded_and_distinct() {
        for hostile in [
            "../../etc/passwd",
            "/abs/path",
            "a\\b",
            "..",
            "",
            "<script>alert(1)</script>",
            "\u{202E}evil\u{0}",
            "🚀🚀",
        ] {
            let s = slug(hostile);
            assert!(!s.is_empty());
            assert!(
                s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{s}"
            );
            assert!(!s.contains(".."));
        }
        let long = "y".repeat(10_000);
        assert!(slug(&long).len() <= MAX_SLUG_CHARS + 9);
        assert_ne!(slug("GET /a/b"), slug("GET /a-b"));
        assert_eq!(slug("GET /a/b"), slug("GET /a/b"));
        assert!(slug("GET /cart/{id}").starts_with("get-cart-id-"));
    }

    #[test]
    fn write_inside_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["../x", "/etc/x", "a/../../x", "", "a\\..\\x"] {
            assert!(
                matches!(
                    write_inside(dir.path(), bad, b"x"),
                    Err(ReportError::UnsafePath { .. })
                ),
                "{bad}"
            );
        }
        let p = write_inside(dir.path(), "charts/a.svg", b"<svg/>").unwrap();
        assert!(p.starts_with(dir.path()));
        assert_eq!(std::fs::read(p).unwrap(), b"<svg/>");
    }
}
