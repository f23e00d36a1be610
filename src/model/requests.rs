//! Every request of both sides over a window, one compact row each, with the trace it belongs
//! to: what `canalyst backtest` replays (it thins the canary by whole traces and re-windows
//! the rows per look, so it needs the rows, not one window's summary).
//!
//! The contract between `engine` (which gathers it in its direct scan, `engine::request_log`) and
//! `backtest` (which never imports the engine).

use crate::model::comparison::{GroupKey, Selector, Side, Window};

/// One recorded request (an entry span of the `requests` view, design §3) with a route.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestRow {
    /// Start time, ns since the Unix epoch.
    pub start_ns: i64,
    /// Duration, ns.
    pub duration_ns: i64,
    /// Index of the request's route in [`RequestLog::routes`].
    pub route: u32,
    /// Which side served it.
    pub side: Side,
    /// The error rule of design §3.
    pub is_error: bool,
    /// `sample_weight`: the requests this recorded one stands for.
    pub weight: f64,
    /// A 64-bit FNV-1a hash of the 16-byte trace id: every request of a trace has the same
    /// value, so thinning on it keeps or drops whole traces.
    pub trace_hash: u64,
}

/// The requests of both sides in a window, in the order the engine returned them (which may
/// depend on the thread count: a consumer that sums floating-point values puts them in a
/// canonical order first, as `backtest::summary` does per cell).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestLog {
    /// Baseline selector.
    pub baseline: Selector,
    /// Canary selector.
    pub canary: Selector,
    /// The window the rows fall in.
    pub window: Window,
    /// Route groups, sorted; [`RequestRow::route`] indexes this.
    pub routes: Vec<GroupKey>,
    /// The rows.
    pub rows: Vec<RequestRow>,
}
