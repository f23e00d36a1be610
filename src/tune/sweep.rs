//! Sweep specifications and the policy of each setting.
//!
//! A spec is `KEY=A..B[:STEP]` (every value `A + k·STEP ≤ B`; `STEP` defaults to 1 and is
//! required when `A` or `B` is not a whole number), `KEY=A,B,C` (a list) or `KEY=A`. Several
//! specs sweep their cartesian product, the first key varying slowest. Keys ([`SWEEPABLE`])
//! change the loaded policy, never the file: `measurement.*` the Argo counting rules,
//! `flagger.threshold`, and `gates.FIELD` every gate that has the field (or
//! `gates.NAME.FIELD` the gate named `NAME`).

use crate::backtest::policy::{GateKind, Policy, Schedule};
use std::collections::BTreeMap;

/// Sweepable keys and what each sets.
pub const SWEEPABLE: &[(&str, &str)] = &[
    (
        "measurement.failure_limit",
        "Argo failureLimit: failed measurements tolerated (integer ≥ -1; -1 never fails)",
    ),
    (
        "measurement.inconclusive_limit",
        "Argo inconclusiveLimit (integer ≥ 0)",
    ),
    (
        "measurement.consecutive_error_limit",
        "Argo consecutiveErrorLimit (integer ≥ 0)",
    ),
    (
        "measurement.consecutive_success_limit",
        "Argo consecutiveSuccessLimit (integer ≥ 0; 0 is off)",
    ),
    (
        "flagger.threshold",
        "Flagger threshold: failed checks that roll back (integer ≥ 1)",
    ),
    (
        "gates.alpha",
        "analysis gates: the analysis's significance level α (0 < α < 1)",
    ),
    (
        "gates.pass_threshold",
        "analysis gates: the score at or above which the verdict is promote (0..1)",
    ),
    (
        "gates.marginal_threshold",
        "analysis gates: the score below which the verdict is rollback (0..1)",
    ),
    (
        "gates.min_requests",
        "analysis gates: [evidence] min_requests per side; threshold gates: canary requests a measurement needs (integer ≥ 0)",
    ),
    (
        "gates.max",
        "threshold gates: the largest successful value",
    ),
    (
        "gates.fail_above",
        "threshold gates: values above it fail (with max: Argo's inconclusive band between)",
    ),
];

/// Most settings one run evaluates.
pub const MAX_SETTINGS: usize = 100_000;

/// A sweep that cannot run; each names the spec or key.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// Not `KEY=A..B[:STEP]`, `KEY=A,B` or `KEY=A`.
    #[error("--sweep {spec:?}: {reason} (expected KEY=A..B[:STEP], KEY=A,B,C or KEY=A)")]
    Syntax {
        /// The spec.
        spec: String,
        /// What is wrong.
        reason: String,
    },
    /// The key is not sweepable.
    #[error("--sweep: unknown key {key:?}; sweepable keys: {known}")]
    UnknownKey {
        /// The key.
        key: String,
        /// The sweepable keys.
        known: String,
    },
    /// The key does not apply to this policy.
    #[error("--sweep {key}: {reason} in policy {policy}")]
    NotApplicable {
        /// The key.
        key: String,
        /// Policy name.
        policy: String,
        /// Why.
        reason: String,
    },
    /// A value is out of the key's range.
    #[error("--sweep {key}={value}: {reason}")]
    Value {
        /// The key.
        key: String,
        /// The value.
        value: f64,
        /// The allowed range.
        reason: String,
    },
    /// The same key twice, or too many settings.
    #[error("--sweep: {0}")]
    Shape(String),
}

/// One parsed spec: a key and its values in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// The key as written.
    pub key: String,
    /// Its values.
    pub values: Vec<f64>,
}

/// Rounds away the binary residue of `A + k·STEP` (12 significant digits).
fn tidy(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    format!("{x:.11e}").parse().unwrap_or(x)
}

/// Parses one `--sweep` spec.
pub fn parse(spec: &str) -> Result<Sweep, SweepError> {
    let bad = |reason: &str| SweepError::Syntax {
        spec: spec.into(),
        reason: reason.into(),
    };
    let (key, rhs) = spec.split_once('=').ok_or_else(|| bad("no `=`"))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(bad("empty key"));
    }
    let num = |s: &str| -> Result<f64, SweepError> {
        let v: f64 = s
            .trim()
            .parse()
            .map_err(|_| bad(&format!("{:?} is not a number", s.trim())))?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(bad("values must be finite"))
        }
    };
    let values = if let Some((a, rest)) = rhs.split_once("..") {
        let (b, step) = match rest.split_once(':') {
            Some((b, s)) => (num(b)?, Some(num(s)?)),
            None => (num(rest)?, None),
        };
        let a = num(a)?;
        let step = match step {
            Some(s) => s,
            None if a.fract() == 0.0 && b.fract() == 0.0 => 1.0,
            None => return Err(bad("a range of fractional values needs :STEP")),
        };
        if step <= 0.0 {
            return Err(bad("STEP must be positive"));
        }
        if b < a {
            return Err(bad("B is below A"));
        }
        let n = ((b - a) / step + 1e-9).floor();
        if n >= MAX_SETTINGS as f64 {
            return Err(bad(&format!("more than {MAX_SETTINGS} values")));
        }
        (0..=n as usize)
            .map(|k| tidy(a + k as f64 * step))
            .collect()
    } else {
        rhs.split(',').map(num).collect::<Result<Vec<_>, _>>()?
    };
    Ok(Sweep {
        key: key.into(),
        values,
    })
}

/// A key split into its sweepable field and, for `gates.NAME.FIELD`, the gate name.
fn split_key(key: &str) -> Result<(&'static str, Option<String>), SweepError> {
    let unknown = || SweepError::UnknownKey {
        key: key.into(),
        known: SWEEPABLE
            .iter()
            .map(|(k, _)| *k)
            .collect::<Vec<_>>()
            .join(", ")
            + " (or gates.NAME.FIELD for one gate)",
    };
    if let Some((k, _)) = SWEEPABLE.iter().find(|(k, _)| *k == key) {
        return Ok((k, None));
    }
    let rest = key.strip_prefix("gates.").ok_or_else(unknown)?;
    let (name, field) = rest.rsplit_once('.').ok_or_else(unknown)?;
    let full = format!("gates.{field}");
    let (k, _) = SWEEPABLE
        .iter()
        .find(|(k, _)| *k == full)
        .ok_or_else(unknown)?;
    Ok((k, Some(name.to_string())))
}

fn integer(key: &str, v: f64, min: f64) -> Result<f64, SweepError> {
    if v.fract() != 0.0 || v < min || v > u32::MAX as f64 {
        return Err(SweepError::Value {
            key: key.into(),
            value: v,
            reason: format!("must be a whole number ≥ {min}"),
        });
    }
    Ok(v)
}

/// Sets `key` to `v` in `policy`; errors name the key (not sweepable, not in this policy, out
/// of range).
pub fn apply(policy: &mut Policy, key: &str, v: f64) -> Result<(), SweepError> {
    let (field, gate_name) = split_key(key)?;
    let not_here = |reason: &str| SweepError::NotApplicable {
        key: key.into(),
        policy: policy.name.clone(),
        reason: reason.into(),
    };
    let range = |ok: bool, reason: &str| {
        if ok {
            Ok(())
        } else {
            Err(SweepError::Value {
                key: key.into(),
                value: v,
                reason: reason.into(),
            })
        }
    };
    if let Some(f) = field.strip_prefix("measurement.") {
        let Schedule::Argo { measurement: m, .. } = &mut policy.schedule else {
            return Err(not_here("no [measurement] (a Flagger policy)"));
        };
        match f {
            "failure_limit" => m.failure_limit = integer(key, v, -1.0)? as i64,
            "inconclusive_limit" => m.inconclusive_limit = integer(key, v, 0.0)? as u32,
            "consecutive_error_limit" => m.consecutive_error_limit = integer(key, v, 0.0)? as u32,
            _ => m.consecutive_success_limit = integer(key, v, 0.0)? as u32,
        }
        return Ok(());
    }
    if field == "flagger.threshold" {
        let Schedule::Flagger(f) = &mut policy.schedule else {
            return Err(not_here("no [flagger] (an Argo-shaped policy)"));
        };
        f.threshold = integer(key, v, 1.0)? as u32;
        return Ok(());
    }
    let name = field
        .strip_prefix("gates.")
        .expect("the other keys are gate keys");
    if let Some(g) = &gate_name {
        if !policy.gates.iter().any(|x| &x.name == g) {
            return Err(not_here(&format!("no gate named {g:?}")));
        }
    }
    let mut applied = 0;
    for gate in &mut policy.gates {
        if gate_name.as_ref().is_some_and(|g| *g != gate.name) {
            continue;
        }
        match (&mut gate.kind, name) {
            (GateKind::Analysis { config, .. }, "alpha") => {
                range(v > 0.0 && v < 1.0, "α must be in (0, 1)")?;
                config.alpha = v;
            }
            (GateKind::Analysis { config, .. }, "pass_threshold") => {
                range((0.0..=1.0).contains(&v), "must be in [0, 1]")?;
                config.pass_threshold = v;
            }
            (GateKind::Analysis { config, .. }, "marginal_threshold") => {
                range((0.0..=1.0).contains(&v), "must be in [0, 1]")?;
                config.marginal_threshold = v;
            }
            (GateKind::Analysis { config, .. }, "min_requests") => {
                config.min_requests = integer(key, v, 0.0)? as u64;
            }
            (GateKind::Threshold { min_requests, .. }, "min_requests") => {
                *min_requests = integer(key, v, 0.0)? as u64;
            }
            (GateKind::Threshold { max, .. }, "max") => *max = Some(v),
            (GateKind::Threshold { fail_above, .. }, "fail_above") => *fail_above = Some(v),
            _ => continue,
        }
        applied += 1;
    }
    if applied == 0 {
        return Err(not_here(&format!("no gate has `{name}`")));
    }
    Ok(())
}

/// One setting: the value of every swept key, in spec order.
pub type Params = BTreeMap<String, f64>;

/// Every setting of `sweeps` (cartesian product, the first key slowest) with its policy.
/// Checks every key and value against `base` first, so a bad spec fails before any replay.
pub fn settings(base: &Policy, sweeps: &[Sweep]) -> Result<Vec<(Params, Policy)>, SweepError> {
    let mut seen = std::collections::BTreeSet::new();
    let mut total: usize = 1;
    for s in sweeps {
        if !seen.insert(s.key.as_str()) {
            return Err(SweepError::Shape(format!("key {:?} swept twice", s.key)));
        }
        total = total.saturating_mul(s.values.len());
        for &v in &s.values {
            apply(&mut base.clone(), &s.key, v)?;
        }
    }
    if total > MAX_SETTINGS {
        return Err(SweepError::Shape(format!(
            "{total} settings, more than {MAX_SETTINGS}"
        )));
    }
    let mut out = vec![(Params::new(), base.clone())];
    for s in sweeps {
        let mut next = Vec::with_capacity(out.len() * s.values.len());
        for (params, policy) in &out {
            for &v in &s.values {
                let (mut p, mut pol) = (params.clone(), policy.clone());
                apply(&mut pol, &s.key, v)?;
                p.insert(s.key.clone(), v);
                next.push((p, pol));
            }
        }
        out = next;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::config::AnalysisConfig;

    fn progressive() -> Policy {
        Policy::load("progressive", &AnalysisConfig::preset("default").unwrap()).unwrap()
    }

    #[test]
    fn parses_ranges_lists_and_single_values() {
        assert_eq!(
            parse("gates.alpha=0.01..0.05:0.01").unwrap().values,
            vec![0.01, 0.02, 0.03, 0.04, 0.05]
        );
        assert_eq!(
            parse("measurement.failure_limit=0..3").unwrap().values,
            vec![0.0, 1.0, 2.0, 3.0]
        );
        assert_eq!(
            parse("gates.max=0.01,0.02").unwrap().values,
            vec![0.01, 0.02]
        );
        assert_eq!(parse("flagger.threshold=4").unwrap().values, vec![4.0]);
        for bad in [
            "alpha",
            "x=",
            "x=1..",
            "x=0.1..0.2",
            "x=1..0",
            "x=0..1:0",
            "x=a..b",
            "=1",
        ] {
            assert!(
                matches!(parse(bad), Err(SweepError::Syntax { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn settings_are_the_product_and_change_the_policy() {
        let base = progressive();
        let sweeps = [
            parse("measurement.failure_limit=0..1").unwrap(),
            parse("gates.alpha=0.01,0.05").unwrap(),
        ];
        let s = settings(&base, &sweeps).unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(s[1].0["measurement.failure_limit"], 0.0);
        assert_eq!(s[1].0["gates.alpha"], 0.05);
        let Schedule::Argo { measurement, .. } = &s[2].1.schedule else {
            panic!()
        };
        assert_eq!(measurement.failure_limit, 1);
        let GateKind::Analysis { config, .. } = &s[2].1.gates[0].kind else {
            panic!()
        };
        assert_eq!(config.alpha, 0.01);
        // By gate name.
        assert!(settings(
            &base,
            &[parse("gates.canalyst-default.alpha=0.02").unwrap()]
        )
        .is_ok());
    }

    #[test]
    fn bad_keys_and_values_name_the_key() {
        let base = progressive();
        let err = |spec: &str| {
            settings(&base, &[parse(spec).unwrap()])
                .unwrap_err()
                .to_string()
        };
        let e = err("gates.colour=1");
        assert!(
            e.contains("unknown key \"gates.colour\"") && e.contains("gates.alpha"),
            "{e}"
        );
        assert!(err("measurement.interval=1").contains("unknown key"));
        assert!(err("flagger.threshold=3").contains("no [flagger]"));
        assert!(err("gates.max=0.1").contains("no gate has `max`"));
        assert!(err("gates.nope.alpha=0.1").contains("no gate named"));
        assert!(err("gates.alpha=1.5").contains("(0, 1)"));
        assert!(err("measurement.failure_limit=0.5").contains("whole number"));
        let twice = settings(
            &base,
            &[
                parse("gates.alpha=0.1").unwrap(),
                parse("gates.alpha=0.2").unwrap(),
            ],
        );
        assert!(twice.unwrap_err().to_string().contains("swept twice"));
    }
}
