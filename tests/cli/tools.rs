//! Optional external tools of the suite: Python packages (`tests/requirements.txt`) and a
//! headless Chromium. A test that needs a missing one skips with a visible `SKIPPED: …` line
//! on stderr, so `cargo test` passes on a machine without them; with
//! `CANALYST_REQUIRE_TOOLS=1` (set by `.ci/run`, which installs them) the same condition is a
//! test failure, because in CI a missing tool is a broken install, not a pass.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

/// The environment variable that turns a skip into a failure.
pub const REQUIRE_TOOLS: &str = "CANALYST_REQUIRE_TOOLS";

/// How to install everything the optional tests need (repeated in README "Set-up").
const HOW_TO_INSTALL: &str =
    "pip install -r tests/requirements.txt; apt-get install chromium; .ci/run installs both";

/// Whether skips are failures: `CANALYST_REQUIRE_TOOLS` is set to anything but `""` or `0`.
pub fn tools_required() -> bool {
    std::env::var(REQUIRE_TOOLS).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Reports that `test` cannot run because `missing` is not available: a `SKIPPED: …` line on
/// stderr when `required` is false, a panic (the test fails) when it is true.
pub fn skip(test: &str, missing: &str, required: bool) {
    let line = format!("SKIPPED: {test}: {missing} ({HOW_TO_INSTALL})");
    if required {
        panic!("{line}; {REQUIRE_TOOLS} is set, so a missing tool is a failure");
    }
    // Straight to the process's stderr: the test harness captures `eprintln!` of passing
    // tests, which would hide the skip from a plain `cargo test`.
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Runs a python snippet that needs `module`; `None` after a visible skip (see [`skip`]) when
/// python3 or the module is missing. A snippet that fails once the module imports is a test
/// failure.
pub fn python(test: &str, module: &str, code: &str) -> Option<String> {
    let probe = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(_) => {
            skip(
                test,
                &format!("python3 module {module} is not installed"),
                tools_required(),
            );
            return None;
        }
        Err(e) => {
            skip(test, &format!("python3 cannot run ({e})"), tools_required());
            return None;
        }
    }
    let o = Command::new("python3").args(["-c", code]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Some(String::from_utf8(o.stdout).unwrap().trim().to_string())
}

/// The headless browser `tests/browser/check_report.sh` would use: `$CHROMIUM`, else the
/// first of `chromium`, `chromium-browser`, `google-chrome` on `PATH` (the script's order).
pub fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let paths = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&paths).map(move |d| d.join(name)))
        .find(|p| p.is_file())
}

/// The test name the helper's own tests report, so their expected SKIPPED line is not read as
/// a real skip.
const SELF_TEST: &str = "tools self-test (expected: the module does not exist on purpose)";

#[test]
#[should_panic(expected = "CANALYST_REQUIRE_TOOLS is set")]
fn a_skip_under_the_requirement_fails() {
    skip(SELF_TEST, "a tool", true);
}

/// The whole path from the environment: a child `cargo test` is too slow here, so the python
/// probe runs against a module that cannot exist, once without and once with the requirement.
#[test]
fn a_missing_python_module_skips_or_fails() {
    let missing = "canalyst_no_such_module_for_the_skip_test";
    if tools_required() {
        let r = std::panic::catch_unwind(|| python(SELF_TEST, missing, "print(1)"));
        assert!(
            r.is_err(),
            "a missing module must fail under {REQUIRE_TOOLS}"
        );
    } else {
        assert_eq!(python(SELF_TEST, missing, "print(1)"), None);
    }
}
