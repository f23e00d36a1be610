//! Argo Rollouts and Flagger manifests (YAML) translated into a canalyst policy (TOML text),
//! with a warning for every field that cannot be replayed (`docs/backtest.md`, "Importing
//! Argo Rollouts and Flagger").
//!
//! Sources of the semantics: Argo Rollouts documentation, "Canary" (`steps`: `setWeight`,
//! `pause`, `analysis`) and "Analysis & Progressive Delivery" (`AnalysisTemplate` metrics:
//! `interval`, `count`, `initialDelay`, `failureLimit`, `inconclusiveLimit`,
//! `consecutiveErrorLimit`, `successCondition`, `failureCondition`,
//! <https://argo-rollouts.readthedocs.io/en/stable/features/analysis/>); Flagger documentation,
//! "Canary analysis" and "Metrics analysis" (`analysis`: `interval`, `threshold`, `maxWeight`,
//! `stepWeight`, `stepWeights`; builtin `request-success-rate` / `request-duration` with
//! `thresholdRange`; `MetricTemplate`, <https://docs.flagger.app/usage/metrics>).
//!
//! The translation goes through the TOML policy so an imported manifest is validated by the same
//! code, and reported with the same keys, as a hand-written policy.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use yaml_serde::Value;

/// An import failure: the file and the YAML path of the part that cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// File path.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Not YAML.
    #[error("{path}: line {line}: not YAML: {message}")]
    Yaml {
        /// File path.
        path: String,
        /// 1-based line (0 when unknown).
        line: usize,
        /// Parser message.
        message: String,
    },
    /// A required part that canalyst cannot map.
    #[error("{path}: {yaml_path}: {message}")]
    Unmappable {
        /// File path.
        path: String,
        /// Dotted YAML path, e.g. `spec.strategy.canary.steps[2].pause`.
        yaml_path: String,
        /// Why.
        message: String,
    },
}

/// A translated manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The canalyst policy, TOML (the warnings as comments at its top).
    pub toml: String,
    /// One line per field not replayed: `file: yaml.path: why`.
    pub warnings: Vec<String>,
}

/// One YAML document and the file it came from.
struct Doc {
    file: String,
    value: Value,
}

impl Doc {
    fn kind(&self) -> &str {
        self.value.get("kind").and_then(Value::as_str).unwrap_or("")
    }
    fn name(&self) -> &str {
        self.value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// Reads every document of `files` (multi-document files allowed).
fn read_docs(files: &[String]) -> Result<Vec<Doc>, ImportError> {
    let mut docs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|source| ImportError::Io {
            path: file.clone(),
            source,
        })?;
        for d in yaml_serde::Deserializer::from_str(&text) {
            let value: Value =
                serde::Deserialize::deserialize(d).map_err(|e| ImportError::Yaml {
                    path: file.clone(),
                    line: e.location().map(|l| l.line()).unwrap_or(0),
                    message: e.to_string(),
                })?;
            if !value.is_null() {
                docs.push(Doc {
                    file: file.clone(),
                    value,
                });
            }
        }
    }
    Ok(docs)
}

/// Translates the `Rollout` or `Canary` in `manifest` (templates may sit in the same file or in
/// `templates`: `AnalysisTemplate`, `ClusterAnalysisTemplate`, `MetricTemplate`).
pub fn import(manifest: &str, templates: &[String]) -> Result<Imported, ImportError> {
    let mut files = vec![manifest.to_string()];
    files.extend(templates.iter().cloned());
    let docs = read_docs(&files)?;
    let mut cx = Cx {
        warnings: Vec::new(),
        templates: docs
            .iter()
            .filter(|d| {
                matches!(
                    d.kind(),
                    "AnalysisTemplate" | "ClusterAnalysisTemplate" | "MetricTemplate"
                )
            })
            .map(|d| (d.name().to_string(), d))
            .collect(),
    };
    let main = docs
        .iter()
        .find(|d| d.file == manifest && matches!(d.kind(), "Rollout" | "Canary"))
        .ok_or_else(|| ImportError::Unmappable {
            path: manifest.to_string(),
            yaml_path: "kind".into(),
            message: "no document of kind Rollout (Argo Rollouts) or Canary (Flagger)".into(),
        })?;
    let body = if main.kind() == "Rollout" {
        cx.rollout(main)?
    } else {
        cx.canary(main)?
    };
    let mut toml = format!(
        "# Imported by canalyst from {} ({} {:?}).\n",
        manifest,
        main.kind(),
        main.name()
    );
    for w in &cx.warnings {
        let _ = writeln!(toml, "# not replayed: {w}");
    }
    toml.push_str(&body);
    Ok(Imported {
        toml,
        warnings: cx.warnings,
    })
}

struct Cx<'a> {
    warnings: Vec<String>,
    templates: BTreeMap<String, &'a Doc>,
}

/// A gate recognised from a provider query and a condition.
struct GateSpec {
    name: String,
    metric: &'static str,
    max: f64,
    /// Argo's `failureCondition` when a `successCondition` is given too: values above fail,
    /// values between `max` and this are inconclusive.
    fail_above: Option<f64>,
    window: Option<String>,
}

/// An AnalysisTemplate's measurement rules (TOML key → value), gates and largest `count`.
type TemplateParts = (BTreeMap<&'static str, String>, Vec<GateSpec>, Option<u64>);

fn unmappable(doc: &Doc, yaml_path: &str, message: impl Into<String>) -> ImportError {
    ImportError::Unmappable {
        path: doc.file.clone(),
        yaml_path: yaml_path.to_string(),
        message: message.into(),
    }
}

fn toml_str(s: &str) -> String {
    format!("{s:?}")
}

/// A Kubernetes duration (`30s`, `5m`, `1h`; Argo also accepts a bare number of seconds).
fn k8s_duration(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => n.as_u64().filter(|&n| n > 0).map(|n| format!("{n}s")),
        Value::String(s) => {
            crate::analysis::config::parse_interval(s).map(crate::analysis::config::fmt_interval)
        }
        _ => None,
    }
}

fn as_count(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `result[0] >= 0.95`, `result < 0.5`, `0.95 <= result[0]`: (operator as if the result were
/// on the left, number).
fn simple_condition(cond: &str) -> Option<(&'static str, f64)> {
    let c = cond.trim();
    if c.contains("&&") || c.contains("||") {
        return None;
    }
    for op in [">=", "<=", ">", "<"] {
        if let Some((l, r)) = c.split_once(op) {
            let (l, r) = (l.trim(), r.trim());
            let is_result = |s: &str| s == "result" || s == "result[0]";
            let flip = |o: &'static str| match o {
                ">=" => "<=",
                "<=" => ">=",
                ">" => "<",
                _ => ">",
            };
            let op: &'static str = match op {
                ">=" => ">=",
                "<=" => "<=",
                ">" => ">",
                _ => "<",
            };
            return if is_result(l) {
                r.parse().ok().map(|n| (op, n))
            } else if is_result(r) {
                l.parse().ok().map(|n| (flip(op), n))
            } else {
                None
            };
        }
    }
    None
}

/// What a PromQL query measures, when recognisable: a success ratio (non-5xx / all), an error
/// ratio (5xx / all) or a latency quantile (`histogram_quantile(q, …)`, with the unit scale to
/// milliseconds read from the metric name).
enum QueryKind {
    SuccessRate,
    ErrorRate,
    Latency { metric: &'static str, to_ms: f64 },
}

fn classify_query(q: &str) -> Option<QueryKind> {
    let compact: String = q.chars().filter(|c| !c.is_whitespace()).collect();
    if let Some(rest) = compact.strip_prefix("histogram_quantile(").or_else(|| {
        compact
            .find("histogram_quantile(")
            .map(|i| &compact[i + "histogram_quantile(".len()..])
    }) {
        let phi: f64 = rest.split(',').next()?.parse().ok()?;
        let metric = [
            (0.5, "latency_p50"),
            (0.9, "latency_p90"),
            (0.99, "latency_p99"),
        ]
        .into_iter()
        .find(|&(q, _)| q == phi)?
        .1;
        let to_ms = if compact.contains("_seconds") {
            1000.0
        } else if compact.contains("_milliseconds") || compact.contains("_ms") {
            1.0
        } else {
            return None;
        };
        return Some(QueryKind::Latency { metric, to_ms });
    }
    let ratio = compact.contains(")/") || compact.contains(")/sum");
    if !ratio {
        return None;
    }
    let five = ["5.*", "5..", "5xx", "^5"];
    let excludes_5xx = five.iter().any(|f| compact.contains(&format!("!~\"{f}\"")));
    let selects_5xx = five.iter().any(|f| compact.contains(&format!("=~\"{f}\"")));
    match (excludes_5xx, selects_5xx) {
        (true, false) => Some(QueryKind::SuccessRate),
        (false, true) => Some(QueryKind::ErrorRate),
        _ => None,
    }
}

/// canalyst gates pass when the value is at most `max`: a success-rate floor becomes an error
/// rate ceiling; a latency or error ceiling stays.
fn gate_from(
    kind: &QueryKind,
    op: &str,
    n: f64,
    condition_is_failure: bool,
) -> Option<(&'static str, f64)> {
    // A failureCondition `x < a` is the successCondition `x >= a`.
    let op = if condition_is_failure {
        match op {
            "<" => ">=",
            "<=" => ">",
            ">" => "<=",
            _ => "<",
        }
    } else {
        op
    };
    match (kind, op) {
        (QueryKind::SuccessRate, ">=" | ">") => Some(("error_rate", 1.0 - n)),
        (QueryKind::ErrorRate, "<=" | "<") => Some(("error_rate", n)),
        (QueryKind::Latency { metric, to_ms }, "<=" | "<") => Some((metric, n * to_ms)),
        _ => None,
    }
}

impl<'a> Cx<'a> {
    fn warn(&mut self, doc: &Doc, yaml_path: &str, why: &str) {
        self.warnings
            .push(format!("{}: {yaml_path}: {why}", doc.file));
    }

    /// Warns about every key of `map` not in `known`.
    fn warn_unknown(&mut self, doc: &Doc, at: &str, map: &Value, known: &[&str], why: &str) {
        if let Some(m) = map.as_mapping() {
            for k in m.keys().filter_map(Value::as_str) {
                if !known.contains(&k) {
                    self.warn(doc, &format!("{at}.{k}"), why);
                }
            }
        }
    }

    /// The measurement rules and gates of an AnalysisTemplate.
    fn analysis_template(
        &mut self,
        by: &Doc,
        at: &str,
        name: &str,
    ) -> Result<TemplateParts, ImportError> {
        let t = *self.templates.get(name).ok_or_else(|| {
            unmappable(
                by,
                at,
                format!(
                    "AnalysisTemplate {name:?} not found: pass its file with --template (or put it in the same file)"
                ),
            )
        })?;
        let metrics = t
            .value
            .get("spec")
            .and_then(|s| s.get("metrics"))
            .and_then(Value::as_sequence)
            .ok_or_else(|| unmappable(t, "spec.metrics", "an AnalysisTemplate needs metrics"))?;
        let mut rules: BTreeMap<&'static str, String> = BTreeMap::new();
        let mut gates = Vec::new();
        let mut count = None;
        for (i, m) in metrics.iter().enumerate() {
            let p = format!("spec.metrics[{i}]");
            let mname = m.get("name").and_then(Value::as_str).unwrap_or("metric");
            self.warn_unknown(
                t,
                &p,
                m,
                &[
                    "name",
                    "interval",
                    "count",
                    "initialDelay",
                    "failureLimit",
                    "inconclusiveLimit",
                    "consecutiveErrorLimit",
                    "consecutiveSuccessLimit",
                    "successCondition",
                    "failureCondition",
                    "provider",
                ],
                "no counterpart in canalyst's measurement rules",
            );
            for (yaml, toml, is_duration) in [
                ("interval", "interval", true),
                ("initialDelay", "initial_delay", true),
                ("failureLimit", "failure_limit", false),
                ("inconclusiveLimit", "inconclusive_limit", false),
                ("consecutiveErrorLimit", "consecutive_error_limit", false),
                (
                    "consecutiveSuccessLimit",
                    "consecutive_success_limit",
                    false,
                ),
            ] {
                let Some(v) = m.get(yaml) else { continue };
                let text = if is_duration {
                    k8s_duration(v).map(|d| toml_str(&d))
                } else {
                    match v {
                        Value::Number(n) => n.as_i64().map(|n| n.to_string()),
                        _ => None,
                    }
                }
                .ok_or_else(|| {
                    unmappable(
                        t,
                        &format!("{p}.{yaml}"),
                        format!(
                            "{v:?} is not a literal value (template arguments are not substituted)"
                        ),
                    )
                })?;
                match rules.get(toml) {
                    Some(prev) if *prev != text => self.warn(
                        t,
                        &format!("{p}.{yaml}"),
                        &format!("canalyst has one set of measurement rules for every gate; kept the first metric's {prev}"),
                    ),
                    _ => {
                        rules.insert(toml, text);
                    }
                }
            }
            if let Some(c) = m.get("count") {
                let c = as_count(c)
                    .ok_or_else(|| unmappable(t, &format!("{p}.count"), "not a literal number"))?;
                count = Some(count.map_or(c, |old: u64| old.max(c)));
            }
            let query = m
                .get("provider")
                .and_then(|pr| pr.get("prometheus"))
                .and_then(|pr| pr.get("query"))
                .and_then(Value::as_str);
            let (cond, is_failure, cond_key) = match (
                m.get("successCondition").and_then(Value::as_str),
                m.get("failureCondition").and_then(Value::as_str),
            ) {
                (Some(s), _) => (Some(s), false, "successCondition"),
                (None, Some(f)) => (Some(f), true, "failureCondition"),
                (None, None) => (None, false, "successCondition"),
            };
            let gate = query.and_then(classify_query).and_then(|k| {
                let (op, n) = simple_condition(cond?)?;
                gate_from(&k, op, n, is_failure)
            });
            match gate {
                Some((metric, max)) => {
                    // Both conditions: Argo's inconclusive band between them, when the
                    // failureCondition reads as a ceiling of the same metric.
                    let band = m
                        .get("failureCondition")
                        .and_then(Value::as_str)
                        .filter(|_| !is_failure);
                    let fail_above = match band {
                        None => None,
                        Some(f) => {
                            let fail = query.and_then(classify_query).and_then(|k| {
                                let (op, n) = simple_condition(f)?;
                                gate_from(&k, op, n, true)
                            });
                            match fail {
                                Some((fm, b)) if fm == metric && b >= max => Some(b),
                                _ => {
                                    self.warn(t, &format!("{p}.failureCondition"), "both conditions given but the failureCondition is not a wider ceiling of the same metric: the gate follows successCondition (a value failing it fails the measurement)");
                                    None
                                }
                            }
                        }
                    };
                    gates.push(GateSpec {
                        name: mname.to_string(),
                        metric,
                        max,
                        fail_above,
                        window: None,
                    })
                }
                None => {
                    let why = if query.is_none() {
                        "only Prometheus providers are read; this metric is not replayed"
                            .to_string()
                    } else {
                        format!("the query or {cond_key} is not a request success/error ratio or a histogram_quantile(0.5|0.9|0.99) latency compared with a number; this metric is not replayed")
                    };
                    self.warn(t, &format!("{p}.provider"), &why);
                }
            }
        }
        Ok((rules, gates, count))
    }

    fn rollout(&mut self, doc: &Doc) -> Result<String, ImportError> {
        let canary = doc
            .value
            .get("spec")
            .and_then(|s| s.get("strategy"))
            .and_then(|s| s.get("canary"))
            .ok_or_else(|| {
                unmappable(
                    doc,
                    "spec.strategy.canary",
                    "only the canary strategy can be replayed (blueGreen has no weights)",
                )
            })?;
        let at = "spec.strategy.canary";
        self.warn_unknown(
            doc,
            at,
            canary,
            &["steps", "analysis"],
            "traffic routing and replica settings are not replayed (the replay thins recorded traffic)",
        );
        let steps = canary
            .get("steps")
            .and_then(Value::as_sequence)
            .ok_or_else(|| unmappable(doc, &format!("{at}.steps"), "no steps"))?;
        let mut rules: BTreeMap<&'static str, String> = BTreeMap::new();
        let mut gates: Vec<GateSpec> = Vec::new();
        let mut add = |cx: &mut Self,
                       r: BTreeMap<&'static str, String>,
                       g: Vec<GateSpec>,
                       yaml: &str| {
            for (k, v) in r {
                match rules.get(k) {
                    Some(prev) if *prev != v => cx.warn(
                        doc,
                        yaml,
                        &format!("canalyst has one set of measurement rules; kept {k} = {prev}"),
                    ),
                    _ => {
                        rules.insert(k, v);
                    }
                }
            }
            for g in g {
                if !gates.iter().any(|x| x.name == g.name) {
                    gates.push(g);
                }
            }
        };
        let template_names = |v: &Value| -> Vec<String> {
            v.get("templates")
                .and_then(Value::as_sequence)
                .map(|ts| {
                    ts.iter()
                        .filter_map(|t| t.get("templateName").and_then(Value::as_str))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        // Background analysis: measured during every pause from startingStep on.
        let mut background_from = None;
        if let Some(bg) = canary.get("analysis") {
            let names = template_names(bg);
            if names.is_empty() {
                return Err(unmappable(
                    doc,
                    &format!("{at}.analysis.templates"),
                    "no templateName",
                ));
            }
            for (j, n) in names.iter().enumerate() {
                let (r, g, _) =
                    self.analysis_template(doc, &format!("{at}.analysis.templates[{j}]"), n)?;
                add(self, r, g, &format!("{at}.analysis"));
            }
            background_from =
                Some(bg.get("startingStep").and_then(Value::as_u64).unwrap_or(0) as usize);
            self.warn(doc, &format!("{at}.analysis"), "background analysis is replayed as inline analyses over the timed pauses from startingStep on (its measurements stop between steps)");
        }
        let mut weight = 0.0_f64;
        // (weight, "analysis"|"pause", duration or count)
        let mut out: Vec<(f64, String)> = Vec::new();
        for (i, s) in steps.iter().enumerate() {
            let p = format!("{at}.steps[{i}]");
            if let Some(w) = s.get("setWeight") {
                weight = w
                    .as_f64()
                    .ok_or_else(|| unmappable(doc, &format!("{p}.setWeight"), "not a number"))?;
            } else if let Some(pause) = s.get("pause") {
                let d = pause.get("duration").ok_or_else(|| {
                    unmappable(
                        doc,
                        &format!("{p}.pause"),
                        "a pause without duration waits for a person to promote; a replay cannot",
                    )
                })?;
                let d = k8s_duration(d).ok_or_else(|| {
                    unmappable(doc, &format!("{p}.pause.duration"), "not a duration")
                })?;
                if weight <= 0.0 {
                    self.warn(
                        doc,
                        &format!("{p}.pause"),
                        "a pause before any setWeight sends the canary no traffic; skipped",
                    );
                    continue;
                }
                match background_from {
                    Some(from) if i >= from => {
                        out.push((weight, format!("analysis = {}", toml_str(&d))))
                    }
                    _ => out.push((weight, format!("pause = {}", toml_str(&d)))),
                }
            } else if let Some(a) = s.get("analysis") {
                let names = template_names(a);
                if names.is_empty() {
                    return Err(unmappable(
                        doc,
                        &format!("{p}.analysis.templates"),
                        "no templateName",
                    ));
                }
                let mut count = None;
                for (j, n) in names.iter().enumerate() {
                    let (r, g, c) =
                        self.analysis_template(doc, &format!("{p}.analysis.templates[{j}]"), n)?;
                    add(self, r, g, &format!("{p}.analysis"));
                    count = count.max(c);
                }
                let count = count.ok_or_else(|| {
                    unmappable(
                        doc,
                        &format!("{p}.analysis"),
                        "no metric has a count: an inline analysis without one never ends",
                    )
                })?;
                if weight <= 0.0 {
                    return Err(unmappable(
                        doc,
                        &format!("{p}.analysis"),
                        "an analysis before any setWeight judges no canary traffic",
                    ));
                }
                out.push((weight, format!("count = {count}")));
            } else {
                let k = s
                    .as_mapping()
                    .and_then(|m| m.keys().next())
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                self.warn(
                    doc,
                    &format!("{p}.{k}"),
                    "step kind not replayed (only setWeight, pause with duration and analysis are)",
                );
            }
        }
        if gates.is_empty() {
            return Err(unmappable(
                doc,
                at,
                "no metric of the referenced AnalysisTemplates maps to a canalyst gate; the policy would judge nothing",
            ));
        }
        // canalyst's steps have increasing weights: steps at the same weight merge (pauses add
        // up, analyses keep the larger count).
        let mut merged: Vec<(f64, String)> = Vec::new();
        for (w, s) in out {
            match merged.last_mut() {
                Some((lw, ls)) if *lw == w => {
                    self.warn(doc, at, &format!("two steps at weight {w}: canalyst keeps one step per weight, the later one ({s})"));
                    *ls = s;
                }
                Some((lw, _)) if w < *lw => {
                    return Err(unmappable(
                        doc,
                        at,
                        format!("weight {w} after {lw}: canalyst replays increasing weights only"),
                    ));
                }
                _ => merged.push((w, s)),
            }
        }
        let mut t = String::new();
        let _ = writeln!(t, "name = {}\n", toml_str(doc.name()));
        t.push_str("[measurement]\n");
        for (k, v) in &rules {
            let _ = writeln!(t, "{k} = {v}");
        }
        for (w, s) in &merged {
            if *w < 100.0 {
                let _ = writeln!(t, "\n[[steps]]\nweight = {w}\n{s}");
            }
        }
        t.push_str("\n[[steps]]\nweight = 100\n");
        write_gates(&mut t, &gates);
        Ok(t)
    }

    fn canary(&mut self, doc: &Doc) -> Result<String, ImportError> {
        let at = "spec.analysis";
        let a = doc
            .value
            .get("spec")
            .and_then(|s| s.get("analysis"))
            .ok_or_else(|| unmappable(doc, at, "a Canary needs spec.analysis"))?;
        for k in ["iterations", "match"] {
            if a.get(k).is_some() {
                return Err(unmappable(
                    doc,
                    &format!("{at}.{k}"),
                    "A/B testing and blue/green iterations have no canary weights to replay",
                ));
            }
        }
        self.warn_unknown(
            doc,
            at,
            a,
            &["interval", "threshold", "maxWeight", "stepWeight", "stepWeights", "metrics"],
            "not replayed (webhooks, alerts, mirroring and promotion settings act outside the measured traffic)",
        );
        let mut t = format!("name = {}\n\n[flagger]\n", toml_str(doc.name()));
        let interval = match a.get("interval") {
            Some(v) => Some(
                k8s_duration(v)
                    .ok_or_else(|| unmappable(doc, &format!("{at}.interval"), "not a duration"))?,
            ),
            None => None,
        };
        if let Some(i) = &interval {
            let _ = writeln!(t, "interval = {}", toml_str(i));
        }
        if let Some(v) = a.get("threshold") {
            let n = as_count(v)
                .ok_or_else(|| unmappable(doc, &format!("{at}.threshold"), "not a number"))?;
            let _ = writeln!(t, "threshold = {n}");
        }
        for (yaml, toml) in [("maxWeight", "max_weight"), ("stepWeight", "step_weight")] {
            if let Some(v) = a.get(yaml) {
                let n = v
                    .as_f64()
                    .ok_or_else(|| unmappable(doc, &format!("{at}.{yaml}"), "not a number"))?;
                let _ = writeln!(t, "{toml} = {n}");
            }
        }
        if let Some(v) = a.get("stepWeights") {
            let ws = v
                .as_sequence()
                .and_then(|s| s.iter().map(Value::as_f64).collect::<Option<Vec<_>>>())
                .ok_or_else(|| {
                    unmappable(doc, &format!("{at}.stepWeights"), "not a list of numbers")
                })?;
            let ws: Vec<String> = ws.iter().map(f64::to_string).collect();
            let _ = writeln!(t, "step_weights = [{}]", ws.join(", "));
        }
        let metrics = a
            .get("metrics")
            .and_then(Value::as_sequence)
            .cloned()
            .unwrap_or_default();
        let mut gates = Vec::new();
        for (i, m) in metrics.iter().enumerate() {
            let p = format!("{at}.metrics[{i}]");
            let name = m.get("name").and_then(Value::as_str).unwrap_or("metric");
            let range = m.get("thresholdRange");
            let min = range.and_then(|r| r.get("min")).and_then(Value::as_f64);
            let max = range.and_then(|r| r.get("max")).and_then(Value::as_f64);
            let window =
                match m.get("interval") {
                    Some(v) => Some(k8s_duration(v).ok_or_else(|| {
                        unmappable(doc, &format!("{p}.interval"), "not a duration")
                    })?),
                    None => None,
                };
            self.warn_unknown(
                doc,
                &p,
                m,
                &["name", "interval", "thresholdRange", "templateRef"],
                "not replayed",
            );
            let spec = if let Some(tref) = m.get("templateRef") {
                let tname = tref.get("name").and_then(Value::as_str).unwrap_or("");
                let Some(tdoc) = self.templates.get(tname).copied() else {
                    return Err(unmappable(
                        doc,
                        &format!("{p}.templateRef"),
                        format!(
                            "MetricTemplate {tname:?} not found: pass its file with --template"
                        ),
                    ));
                };
                let query = tdoc
                    .value
                    .get("spec")
                    .and_then(|s| s.get("query"))
                    .and_then(Value::as_str);
                let provider = tdoc
                    .value
                    .get("spec")
                    .and_then(|s| s.get("provider"))
                    .and_then(|s| s.get("type"))
                    .and_then(Value::as_str)
                    .unwrap_or("prometheus");
                let kind = if provider == "prometheus" {
                    query.and_then(classify_query)
                } else {
                    None
                };
                match (kind, min, max) {
                    (Some(k), Some(lo), None) => gate_from(&k, ">=", lo, false),
                    (Some(k), None, Some(hi)) => gate_from(&k, "<=", hi, false),
                    _ => None,
                }
            } else {
                match (name, min, max) {
                    // Percent of non-5xx responses (Flagger, "Metrics analysis", builtin checks).
                    ("request-success-rate", Some(lo), None) => {
                        Some(("error_rate", (100.0 - lo) / 100.0))
                    }
                    // P99 duration in milliseconds.
                    ("request-duration", None, Some(hi)) => Some(("latency_p99", hi)),
                    _ => None,
                }
            };
            let short = |w: &String| {
                let ns = |s: &str| crate::analysis::config::parse_interval(s).unwrap_or(0);
                interval.as_deref().is_some_and(|i| ns(w) < ns(i))
            };
            let window = match window {
                Some(w) if short(&w) => {
                    self.warn(doc, &format!("{p}.interval"), &format!("{w} is shorter than the analysis interval: the replay judges the whole interval"));
                    None
                }
                w => w,
            };
            match spec {
                Some((metric, max)) => gates.push(GateSpec {
                    name: name.to_string(),
                    metric,
                    max,
                    fail_above: None,
                    window: Some(window.unwrap_or_else(|| "interval".into())),
                }),
                None => self.warn(doc, &p, "not a request-success-rate floor, a request-duration ceiling or a MetricTemplate with a recognisable Prometheus query and one bound; not replayed"),
            }
        }
        if gates.is_empty() {
            return Err(unmappable(
                doc,
                &format!("{at}.metrics"),
                "no metric maps to a canalyst gate; the policy would judge nothing",
            ));
        }
        write_gates(&mut t, &gates);
        Ok(t)
    }
}

fn write_gates(t: &mut String, gates: &[GateSpec]) {
    for g in gates {
        let _ = writeln!(
            t,
            "\n[[gates]]\nname = {}\nmetric = {}\nmax = {}",
            toml_str(&g.name),
            toml_str(g.metric),
            (g.max * 1e9).round() / 1e9
        );
        if let Some(f) = g.fail_above {
            let _ = writeln!(t, "fail_above = {}", (f * 1e9).round() / 1e9);
        }
        if let Some(w) = &g.window {
            let _ = writeln!(t, "window = {}", toml_str(w));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions() {
        assert_eq!(simple_condition("result[0] >= 0.95"), Some((">=", 0.95)));
        assert_eq!(simple_condition("0.5 > result"), Some(("<", 0.5)));
        assert_eq!(simple_condition("result[0] >= 0.9 && result[0] < 1"), None);
        assert_eq!(simple_condition("len(result) > 0"), None);
    }

    #[test]
    fn queries() {
        let ok = r#"sum(irate(istio_requests_total{reporter="source",destination_service=~"x",response_code!~"5.*"}[5m])) / sum(irate(istio_requests_total{reporter="source",destination_service=~"x"}[5m]))"#;
        assert!(matches!(classify_query(ok), Some(QueryKind::SuccessRate)));
        let err = ok.replace("!~", "=~");
        assert!(matches!(classify_query(&err), Some(QueryKind::ErrorRate)));
        let lat =
            "histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket[1m])) by (le))";
        assert!(matches!(
            classify_query(lat),
            Some(QueryKind::Latency { metric: "latency_p99", to_ms }) if to_ms == 1000.0
        ));
        assert!(classify_query("sum(rate(cpu_seconds_total[1m]))").is_none());
        // failureCondition `result[0] < 0.95` on a success ratio is an error-rate ceiling of 0.05.
        let g = gate_from(&QueryKind::SuccessRate, "<", 0.95, true).unwrap();
        assert_eq!(g.0, "error_rate");
        assert!((g.1 - 0.05).abs() < 1e-12);
    }

    fn fixture(name: &str) -> String {
        format!(
            "{}/tests/fixtures/policies/{name}",
            env!("CARGO_MANIFEST_DIR")
        )
    }

    fn policy(i: &Imported) -> crate::backtest::policy::Policy {
        crate::backtest::policy::Policy::from_toml_str(
            &i.toml,
            "imported",
            None,
            &crate::analysis::config::AnalysisConfig::default_preset(),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", i.toml))
    }

    #[test]
    fn argo_inline_steps_and_template_map_to_steps_measurement_and_gates() {
        let i = import(
            &fixture("argo-inline.yaml"),
            &[fixture("success-rate.yaml")],
        )
        .unwrap();
        let p = policy(&i);
        use crate::backtest::policy::{GateKind, Schedule, StepKind};
        let Schedule::Argo { steps, measurement } = &p.schedule else {
            panic!("argo: {}", i.toml)
        };
        let shape: Vec<_> = steps.iter().map(|s| (s.weight, s.kind.clone())).collect();
        // setWeight 20, pause 5m then analysis at the same weight: one step per weight, the
        // later (the analysis, count 4); setWeight 50 + analysis; then the promotion.
        assert_eq!(
            shape,
            vec![
                (20.0, StepKind::Analysis { count: 4 }),
                (50.0, StepKind::Analysis { count: 4 }),
                (100.0, StepKind::Promote)
            ]
        );
        assert_eq!(measurement.failure_limit, 3);
        assert_eq!(measurement.interval_ns, 60_000_000_000);
        let gates: Vec<_> = p
            .gates
            .iter()
            .map(|g| match &g.kind {
                GateKind::Threshold { metric, max, .. } => {
                    (g.name.as_str(), metric.name(), max.unwrap())
                }
                _ => panic!("threshold gate"),
            })
            .collect();
        assert_eq!(gates.len(), 2, "{}", i.toml);
        assert_eq!((gates[0].0, gates[0].1), ("success-rate", "error_rate"));
        assert!((gates[0].2 - 0.05).abs() < 1e-9);
        assert_eq!(gates[1], ("p99-latency", "latency_p99", 500.0));
        for w in ["spec.metrics[2].provider", "two steps at weight 20"] {
            assert!(
                i.warnings.iter().any(|x| x.contains(w)),
                "{w}: {:?}",
                i.warnings
            );
        }
        assert!(i.toml.contains("# not replayed:"));
    }

    #[test]
    fn argo_background_analysis_runs_over_the_timed_pauses_from_starting_step() {
        let i = import(&fixture("argo-background.yaml"), &[]).unwrap();
        let p = policy(&i);
        use crate::backtest::policy::{Schedule, StepKind};
        let Schedule::Argo { steps, .. } = &p.schedule else {
            panic!("argo")
        };
        let shape: Vec<_> = steps.iter().map(|s| (s.weight, s.kind.clone())).collect();
        assert_eq!(
            shape,
            vec![
                (
                    10.0,
                    StepKind::Pause {
                        duration_ns: 300_000_000_000
                    }
                ),
                (20.0, StepKind::Analysis { count: 5 }),
                (30.0, StepKind::Analysis { count: 5 }),
                (40.0, StepKind::Analysis { count: 5 }),
                (100.0, StepKind::Promote)
            ]
        );
        assert!(i.warnings.iter().any(|w| w.contains("canary.analysis")));
    }

    #[test]
    fn flagger_canary_maps_weights_threshold_and_builtin_metrics() {
        let i = import(
            &fixture("flagger-podinfo.yaml"),
            &[fixture("not-found-percentage.yaml")],
        )
        .unwrap();
        let p = policy(&i);
        use crate::backtest::policy::{GateKind, GateWindow, Schedule};
        let Schedule::Flagger(f) = &p.schedule else {
            panic!("flagger")
        };
        assert_eq!(f.threshold, 10);
        assert_eq!(
            f.weights,
            (1..=10).map(|k| 5.0 * k as f64).collect::<Vec<_>>()
        );
        let gates: Vec<_> = p
            .gates
            .iter()
            .map(|g| match &g.kind {
                GateKind::Threshold { metric, max, .. } => {
                    (g.name.as_str(), metric.name(), max.unwrap(), g.window)
                }
                _ => panic!("threshold gate"),
            })
            .collect();
        let minute = GateWindow::Trailing(60_000_000_000);
        assert_eq!(gates.len(), 2, "{}", i.toml);
        assert_eq!(
            (gates[0].0, gates[0].1, gates[0].3),
            ("request-success-rate", "error_rate", minute)
        );
        assert!((gates[0].2 - 0.01).abs() < 1e-9);
        assert_eq!(gates[1], ("request-duration", "latency_p99", 500.0, minute));
        for w in [
            "metrics[1].interval",
            "metrics[2]",
            "spec.analysis.webhooks",
        ] {
            assert!(
                i.warnings.iter().any(|x| x.contains(w)),
                "{w}: {:?}",
                i.warnings
            );
        }
    }

    #[test]
    fn unmappable_required_parts_name_the_yaml_path() {
        for (file, path) in [
            (
                "argo-manual-pause.yaml",
                "spec.strategy.canary.steps[1].pause",
            ),
            ("flagger-ab.yaml", "spec.analysis.iterations"),
            (
                "argo-inline.yaml",
                "spec.strategy.canary.steps[2].analysis.templates[0]",
            ),
        ] {
            let e = import(&fixture(file), &[]).unwrap_err().to_string();
            assert!(e.contains(file) && e.contains(path), "{file}: {e}");
        }
    }

    #[test]
    fn argo_success_and_failure_conditions_give_the_inconclusive_band() {
        let i = import(&fixture("argo-inconclusive.yaml"), &[]).unwrap();
        let p = policy(&i);
        use crate::backtest::policy::{GateKind, OnUndecided, Schedule};
        let Schedule::Argo { measurement, .. } = &p.schedule else {
            panic!("argo")
        };
        // Argo's rule for an inconclusive run: pause.
        assert_eq!(measurement.on_undecided, OnUndecided::Pause);
        assert_eq!(measurement.inconclusive_limit, 0);
        let GateKind::Threshold {
            metric,
            max,
            fail_above,
            ..
        } = &p.gates[0].kind
        else {
            panic!("threshold gate")
        };
        // success rate ≥ 0.90 → error rate ≤ 0.10; success rate < 0.50 → error rate > 0.50.
        assert_eq!(metric.name(), "error_rate");
        assert!((max.unwrap() - 0.1).abs() < 1e-9, "{}", i.toml);
        assert!((fail_above.unwrap() - 0.5).abs() < 1e-9, "{}", i.toml);
        assert!(
            !i.warnings.iter().any(|w| w.contains("failureCondition")),
            "{:?}",
            i.warnings
        );
    }
}
