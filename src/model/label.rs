//! The label of one recorded deployment in a tuning corpus (`label.toml`, written by
//! `canalyst generate --corpus`, read by `canalyst tune`): was the canary good or bad, and if
//! bad, from when and where.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// Good (should promote) or bad (should roll back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The canary behaves like the baseline: a rollback is a false rollback.
    Good,
    /// The canary regresses from `onset`: a rollback is a detection.
    Bad,
}

/// `label.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    /// Good or bad.
    pub label: Verdict,
    /// When the regression starts (RFC 3339); required for a bad deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onset: Option<String>,
    /// Affected routes, written `service route` as `canalyst` reports route groups.
    #[serde(default)]
    pub affected_routes: Vec<String>,
    /// `none`, `latency` (processing time × size), `errors` (error rate × size) or `tail`
    /// (p99 × size, median nearly unchanged).
    pub effect_kind: String,
    /// The multiplier of the effect (absent when good).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect_size: Option<f64>,
    /// `low`, `medium` or `high` traffic (free text for hand-labelled deployments).
    pub traffic: String,
    /// Spans asked of the generator (0 when not generated).
    #[serde(default)]
    pub spans: u64,
    /// Canary share of the recorded traffic.
    #[serde(default)]
    pub canary_share: f64,
    /// Generator seed (0 when not generated).
    #[serde(default)]
    pub seed: u64,
}

/// A `label.toml` that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct LabelError {
    /// The file.
    pub path: String,
    /// What is wrong (TOML errors name the line and key).
    pub reason: String,
}

impl Label {
    /// Reads and checks `path` (a bad deployment needs an onset).
    pub fn read(path: &Path) -> Result<Self, LabelError> {
        let err = |reason: String| LabelError {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let label: Label = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        if label.label == Verdict::Bad && label.onset.is_none() {
            return Err(err("label = \"bad\" needs an `onset` (RFC 3339)".into()));
        }
        Ok(label)
    }

    /// The TOML text of the label.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a label serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_unknown_keys_and_bad_without_onset() {
        let l = Label {
            label: Verdict::Bad,
            onset: Some("2026-01-01T00:10:00Z".into()),
            affected_routes: vec!["checkout POST /checkout".into()],
            effect_kind: "latency".into(),
            effect_size: Some(1.3),
            traffic: "low".into(),
            spans: 1000,
            canary_share: 0.5,
            seed: 3,
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("label.toml");
        std::fs::write(&p, l.to_toml()).unwrap();
        assert_eq!(Label::read(&p).unwrap(), l);
        std::fs::write(&p, l.to_toml() + "colour = \"red\"\n").unwrap();
        let e = Label::read(&p).unwrap_err().to_string();
        assert!(e.contains("colour") && e.contains("label.toml"), "{e}");
        std::fs::write(
            &p,
            "label = \"bad\"\neffect_kind = \"latency\"\ntraffic = \"low\"\n",
        )
        .unwrap();
        let e = Label::read(&p).unwrap_err().to_string();
        assert!(e.contains("onset"), "{e}");
    }
}
