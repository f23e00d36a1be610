//! Opt-in phase timings for profiling: with `CANALYST_TIMINGS=1` in the environment, each
//! [`phase`] guard prints `timing <name>: <seconds> s` to stderr when it is dropped.
//!
//! Off by default; when off a guard costs one relaxed atomic load (the environment is read
//! once). Output goes to stderr so reports on stdout stay byte-identical.

use std::sync::OnceLock;
use std::time::Instant;

/// The environment variable that turns timings on (any value but empty or `0`).
pub const ENV: &str = "CANALYST_TIMINGS";

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var(ENV).is_ok_and(|v| !v.is_empty() && v != "0"))
}

/// A running phase; reports its wall time on drop when timings are enabled.
#[derive(Debug)]
#[must_use = "the phase ends when the guard is dropped"]
pub struct Phase {
    name: &'static str,
    start: Option<Instant>,
}

/// Starts timing the phase `name` (a no-op unless [`ENV`] is set).
pub fn phase(name: &'static str) -> Phase {
    Phase {
        name,
        start: enabled().then(Instant::now),
    }
}

impl Drop for Phase {
    fn drop(&mut self) {
        if let Some(s) = self.start {
            eprintln!("timing {}: {:.3} s", self.name, s.elapsed().as_secs_f64());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_records_its_start_only_when_enabled() {
        let p = phase("test");
        assert_eq!(p.start.is_some(), enabled());
        assert_eq!(p.name, "test");
    }
}
