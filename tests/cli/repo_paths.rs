//! A fresh clone must build and test on its own: no source, test, script, bench, query or
//! config file may refer to a path outside the repository (a sibling checkout such as the
//! shared sample directory, the authors' machine, a home directory, or `..` segments that
//! climb above the root). Third-party inputs are vendored under `tests/fixtures/` instead.
//!
//! The needles below are assembled with `concat!` so that this file does not match itself.

use std::path::{Path, PathBuf};

/// What the scan looks at, relative to the root: these directories (recursively) …
const DIRS: &[&str] = &["src", "tests", "benches", "examples", "queries", ".ci"];
/// … files with these extensions in them (data fixtures such as JSON or Parquet are not code) …
const EXTENSIONS: &[&str] = &["rs", "py", "sh", "toml", "sql", "yml", "yaml", "txt"];
/// … and these root files; `*.py` and `*.sh` anywhere outside `target/` and hidden directories
/// are added by the walk.
const ROOT_FILES: &[&str] = &["Cargo.toml", "build.rs"];

/// Substrings that always leave the repository, with the reason reported.
const NEEDLES: &[(&str, &str)] = &[
    (
        concat!("..", "/shared"),
        "a directory beside the checkout (vendor it under tests/fixtures/)",
    ),
    (
        concat!("/wor", "k/"),
        "an absolute path on the authors' machine",
    ),
    (concat!("/ho", "me/"), "an absolute home directory"),
    (concat!("/Us", "ers/"), "an absolute home directory"),
    (concat!("/ro", "ot/"), "an absolute home directory"),
    // A literal that starts with a parent segment, appended to CARGO_MANIFEST_DIR by concat!
    // or joined to the root, climbs above it.
    (
        concat!("\"/", ".."),
        "a string appended to a root path that climbs above it",
    ),
    (
        concat!("join(\"", ".."),
        "a path joined to a root path that climbs above it",
    ),
];

/// Why `line` of a file `depth` directories below the root leaves the repository, if it does.
///
/// Besides the fixed [`NEEDLES`], a relative path that starts with more `..` segments than the
/// file is deep climbs above the root when resolved from the file's directory (as the fixture
/// scripts' usage lines are): `../../x` is fine in `tests/fixtures/a.py` (depth 2), not in
/// `tests/a.py`. A `..` that follows another path component (`$(dirname "$0")/..`) is relative
/// to that component and not counted.
pub fn leak(line: &str, depth: usize) -> Option<String> {
    if let Some((_, why)) = NEEDLES.iter().find(|(n, _)| line.contains(n)) {
        return Some((*why).to_string());
    }
    let bytes = line.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        let starts_path = i == 0 || !is_path_byte(bytes[i - 1]);
        if starts_path && bytes[i] == b'.' && bytes[i + 1] == b'.' {
            let mut ups = 0;
            let mut j = i;
            while j + 1 < bytes.len()
                && bytes[j] == b'.'
                && bytes[j + 1] == b'.'
                && bytes
                    .get(j + 2)
                    .is_none_or(|&b| !is_path_byte(b) || b == b'/')
            {
                ups += 1;
                j += 2;
                if bytes.get(j) == Some(&b'/') {
                    j += 1;
                } else {
                    break;
                }
            }
            if ups > depth {
                return Some(format!(
                    "{ups} `..` segments climb above the root from a file {depth} directories deep"
                ));
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    None
}

/// Bytes that continue a path component (so `..` right after one is not a path start).
fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b'$' | b')' | b'}')
}

/// The files the scan reads, sorted, relative to `root`.
fn scanned_files(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = ROOT_FILES
        .iter()
        .map(PathBuf::from)
        .filter(|p| root.join(p).is_file())
        .collect();
    walk(root, Path::new(""), &mut out);
    out.sort();
    out.dedup();
    out
}

fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(root.join(rel)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = rel.join(&name);
        let top = path
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        let in_scanned_dir = top.as_deref().is_some_and(|t| DIRS.contains(&t));
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            let skipped = (name.starts_with('.') && name != ".ci") || name == "target";
            if !skipped {
                walk(root, &path, out);
            }
            continue;
        }
        let ext = Path::new(&name).extension().and_then(|e| e.to_str());
        let code = match ext {
            Some(e) => (in_scanned_dir && EXTENSIONS.contains(&e)) || e == "py" || e == "sh",
            // Extension-less scripts such as .ci/run.
            None => top.as_deref() == Some(".ci"),
        };
        if code {
            out.push(path);
        }
    }
}

#[test]
fn no_file_refers_to_a_path_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = scanned_files(root);
    // The scan must see what it is meant to guard, or it passes vacuously.
    for expected in ["Cargo.toml", ".ci/run", "src/lib.rs", "tests/cli/ingest.rs"] {
        assert!(
            files.iter().any(|f| f == Path::new(expected)),
            "{expected} is not scanned"
        );
    }
    assert!(files
        .iter()
        .any(|f| f.extension().is_some_and(|e| e == "py")));
    assert!(files
        .iter()
        .any(|f| f.extension().is_some_and(|e| e == "sql")));
    let mut found = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(root.join(file)) else {
            continue; // not UTF-8: not a source file
        };
        let depth = file.components().count() - 1;
        for (n, line) in text.lines().enumerate() {
            if let Some(why) = leak(line, depth) {
                found.push(format!(
                    "{}:{}: {why}: {}",
                    file.display(),
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "paths outside the repository:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_matcher_flags_each_kind_of_escape() {
    let shared = concat!("..", "/shared");
    let up3 = "../".repeat(3);
    let bad = [
        (
            format!("const S: &str = concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/{shared}/x\");"),
            2,
        ),
        (
            format!("python3 make.py {up3}{shared}/otlp-samples/a.json"),
            2,
        ),
        (
            format!("open(\"{}bench-data/x\")", concat!("/wor", "k/")),
            0,
        ),
        (format!("let p = \"{}me/x\";", "/ho"), 1),
        (format!("root().{}../x\")", "join(\""), 2),
        (format!("cd {}", &up3[..8]), 2),
        (format!("p = '{up3}x'"), 2),
        ("ls ..".to_string(), 0),
    ];
    for (line, depth) in &bad {
        assert!(
            leak(line, *depth).is_some(),
            "not flagged at depth {depth}: {line}"
        );
    }
    let good = [
        ("cd \"$(dirname \"$0\")/..\"", 1),
        ("here=\"$(cd \"$(dirname \"$0\")/../..\" && pwd)\"", 2),
        (
            "python3 ../make_clickhouse_metrics.py ../otlp-samples/a.json",
            3,
        ),
        ("\"../../etc/passwd\".to_string(),", 2),
        ("for x in a..b {}", 0),
        ("let r = 0..n;", 0),
        ("format!(\"{}..\", x)", 0),
        ("\"/tests/fixtures/otlp-samples\"", 2),
    ];
    for (line, depth) in &good {
        assert_eq!(leak(line, *depth), None, "flagged at depth {depth}: {line}");
    }
}
