//! Analysis: canary vs baseline samples → judged comparisons and a verdict.

pub mod report;
