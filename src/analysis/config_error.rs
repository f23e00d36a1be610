//! The error of loading or validating an analysis configuration (`canary.toml` and its
//! `[metric_analysis]` tables), shared by `config.rs` and
//! `metric_config.rs`.

/// Errors loading or validating a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// File path.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// TOML syntax error, wrong type, or unknown key (the message names the key).
    #[error("{path}:{line}: {message}")]
    Parse {
        /// File path (or `<string>`).
        path: String,
        /// 1-based line of the offending key or value (0 when unknown).
        line: usize,
        /// toml's message, e.g. ``unknown field `alhpa`, expected one of ...``.
        message: String,
    },
    /// A value out of range or inconsistent with another.
    #[error("{path}: {key}: {message}")]
    Invalid {
        /// File path (or preset name).
        path: String,
        /// Dotted key, e.g. `metrics.latency_p99.allowed_increase`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// `preset = "..."` names no built-in preset.
    #[error("unknown preset `{0}` (known: default, seed-simple, kayenta)")]
    UnknownPreset(String),
}
