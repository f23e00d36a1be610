//! The window a scheduled job reports on, fixed by the run's reference time so that re-running
//! the same window gives the same report. All times are UTC.

use crate::model::comparison::Window;
use crate::model::time::format_rfc3339_seconds;

const NS_PER_SEC: i64 = 1_000_000_000;
const NS_PER_DAY: i64 = 86_400 * NS_PER_SEC;

/// `window = "…"` of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobWindow {
    /// `last <N><s|m|h|d>`: `[at − N, at)`, with `at` the run's reference time truncated to
    /// whole seconds.
    Last {
        /// Length in nanoseconds (positive).
        length_ns: i64,
    },
    /// `calendar day`: the last complete UTC day before the reference time,
    /// `[00:00, 24:00)` UTC.
    CalendarDay,
}

impl JobWindow {
    /// Parses `last 24h`, `last 90m`, `last 7d`, `last 30s` or `calendar day`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t == "calendar day" {
            return Ok(Self::CalendarDay);
        }
        let bad = || {
            format!(
                "{text:?}: expected \"last <N>s|m|h|d\" (e.g. \"last 24h\") or \"calendar day\""
            )
        };
        let len = t.strip_prefix("last ").ok_or_else(bad)?.trim();
        let split = len.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: i64 = len[..split].parse().map_err(|_| bad())?;
        let unit = match &len[split..] {
            "s" => NS_PER_SEC,
            "m" => 60 * NS_PER_SEC,
            "h" => 3600 * NS_PER_SEC,
            "d" => NS_PER_DAY,
            _ => return Err(bad()),
        };
        match n.checked_mul(unit) {
            Some(length_ns) if n > 0 && length_ns <= 366 * NS_PER_DAY => {
                Ok(Self::Last { length_ns })
            }
            _ => Err(format!("{text:?}: length must be between 1 s and 366 d")),
        }
    }

    /// The window of a run whose reference time is `at_unix_nano`.
    pub fn resolve(self, at_unix_nano: i64) -> Window {
        let at = at_unix_nano.div_euclid(NS_PER_SEC) * NS_PER_SEC;
        match self {
            Self::Last { length_ns } => Window {
                start_unix_nano: at - length_ns,
                end_unix_nano: at,
            },
            Self::CalendarDay => {
                let end = at_unix_nano.div_euclid(NS_PER_DAY) * NS_PER_DAY;
                Window {
                    start_unix_nano: end - NS_PER_DAY,
                    end_unix_nano: end,
                }
            }
        }
    }
}

/// `{date}` of an output template: the UTC date (`YYYY-MM-DD`) holding the window's last
/// instant, so a calendar-day window is named by its own day.
pub fn window_date(w: &Window) -> String {
    format_rfc3339_seconds(w.end_unix_nano - 1)[..10].to_string()
}

/// `{time}` of an output template: the window's end as UTC `HHMMSS` (`000000` for a
/// calendar day), so several windows a day get their own directories.
pub fn window_time(w: &Window) -> String {
    format_rfc3339_seconds(w.end_unix_nano)[11..19].replace(':', "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::time::parse_rfc3339;

    #[test]
    fn windows_end_at_the_reference_time_or_the_last_midnight() {
        let at = parse_rfc3339("2026-12-04T07:35:12.5Z").unwrap();
        let w = JobWindow::parse("last 24h").unwrap().resolve(at);
        assert_eq!(
            w.end_unix_nano,
            parse_rfc3339("2026-12-04T07:35:12Z").unwrap()
        );
        assert_eq!(
            w.start_unix_nano,
            parse_rfc3339("2026-12-03T07:35:12Z").unwrap()
        );
        assert_eq!(window_date(&w), "2026-12-04");
        assert_eq!(window_time(&w), "073512");
        let d = JobWindow::parse("calendar day").unwrap().resolve(at);
        assert_eq!(
            d.start_unix_nano,
            parse_rfc3339("2026-12-03T00:00:00Z").unwrap()
        );
        assert_eq!(
            d.end_unix_nano,
            parse_rfc3339("2026-12-04T00:00:00Z").unwrap()
        );
        assert_eq!(window_date(&d), "2026-12-03");
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        for t in [
            "last",
            "last 0h",
            "last 5y",
            "last h",
            "yesterday",
            "last 400d",
            "last -1h",
        ] {
            assert!(JobWindow::parse(t).is_err(), "{t}");
        }
        assert_eq!(
            JobWindow::parse("last 90m"),
            Ok(JobWindow::Last {
                length_ns: 5400 * NS_PER_SEC
            })
        );
    }
}
