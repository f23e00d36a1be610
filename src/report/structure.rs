//! The trace-structure diff (`structure[]` of `forensics.json`) as one sentence per changed
//! operation and as a table of the changed routes, in Markdown and HTML, for `forensics.md`,
//! the text summary and the report's Forensics section.

use super::escape;
use crate::forensics::structure::{CallChange, PathChange, StructureOperation, StructureRoute};
use std::fmt::Write;

/// Longest cell, characters.
const CELL: usize = 80;

fn num(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.1}%", 100.0 * v))
}

fn q(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v < 1e-4 => format!("{v:.1e}"),
        Some(v) => format!("{v:.4}"),
    }
}

/// What changed about one operation, as words ("calls 2.00 per request against 1.00 (adjusted
/// p = 1.1e-37); critical-path share 6.6% against 3.0% (…)"), plain text.
fn change_words(o: &StructureOperation) -> String {
    let mut parts = Vec::new();
    let calls = match o.calls_change {
        CallChange::NewInCanary => Some("new in canary"),
        CallChange::VanishedInCanary => Some("vanished in canary"),
        CallChange::MoreCalls => Some("more calls"),
        CallChange::FewerCalls => Some("fewer calls"),
        CallChange::Unchanged => None,
    };
    if let Some(w) = calls {
        parts.push(format!(
            "{w}: {} per request on canary against {} on stable, made by {} against {} of requests (adjusted p = {})",
            num(o.canary.calls_per_request),
            num(o.stable.calls_per_request),
            pct(o.canary.share_of_requests),
            pct(o.stable.share_of_requests),
            q(o.calls_test.p_value_adjusted)
        ));
    }
    if o.critical_path_change == PathChange::Grew {
        parts.push(format!(
            "critical-path share grew: {} ({} ms) on canary against {} ({} ms) on stable (adjusted p = {})",
            pct(o.canary.critical_path_share),
            num(o.canary.critical_path_ms),
            pct(o.stable.critical_path_share),
            num(o.stable.critical_path_ms),
            q(o.critical_path_test.p_value_adjusted)
        ));
    }
    parts.join("; ")
}

/// One plain-text sentence per changed operation of a changed route (calls changed, critical
/// path grew; a share that only shrank is the other side of one that grew), routes in report
/// order.
pub fn sentences(routes: &[StructureRoute]) -> Vec<String> {
    let mut out = Vec::new();
    for r in routes.iter().filter(|r| r.changed) {
        for o in r.operations.iter().filter(|o| o.changed()) {
            out.push(format!(
                "{} {}: {} {} — {}.",
                r.service,
                r.route,
                o.service,
                o.operation,
                change_words(o)
            ));
        }
    }
    out
}

/// One line summing up the diff: routes compared and changed.
pub fn summary(routes: &[StructureRoute]) -> String {
    let changed = routes.iter().filter(|r| r.changed).count();
    format!(
        "{} routes compared (working requests, canary against stable), {} with a change in calls or critical path.",
        routes.len(),
        changed
    )
}

/// The diff as Markdown: the summary, then a table of every changed operation of a changed
/// route.
pub fn markdown(routes: &[StructureRoute]) -> String {
    let m = |s: &str| escape::markdown(&escape::clean(s, CELL));
    let mut o = String::new();
    let _ = writeln!(o, "{}\n", summary(routes));
    if !routes.iter().any(|r| r.changed) {
        return o;
    }
    o.push_str("| route | operation | change | calls/request canary | stable | critical path canary | stable | adjusted p (calls, path) |\n|---|---|---|---:|---:|---:|---:|---|\n");
    for [service, route, op_service, op, change, cc, sc, cp, sp, qc, qp] in changed_rows(routes, m)
    {
        let _ = writeln!(
            o,
            "| {service} {route} | {op_service} {op} | {change} | {cc} | {sc} | {cp} | {sp} | {qc}, {qp} |"
        );
    }
    o
}

/// The cells of every changed operation of a changed route, in table order: route service and
/// name, operation service and name (through `esc`, the format's escaper), change, calls per
/// request canary/stable, critical-path share canary/stable, adjusted p of calls and path.
fn changed_rows<'a>(
    routes: &'a [StructureRoute],
    esc: impl Fn(&str) -> String + 'a,
) -> impl Iterator<Item = [String; 11]> + 'a {
    routes
        .iter()
        .filter(|r| r.changed)
        .flat_map(|r| {
            r.operations
                .iter()
                .filter(|x| x.changed())
                .map(move |x| (r, x))
        })
        .map(move |(r, x)| {
            [
                esc(&r.service),
                esc(&r.route),
                esc(&x.service),
                esc(&x.operation),
                label(x),
                num(x.canary.calls_per_request),
                num(x.stable.calls_per_request),
                pct(x.canary.critical_path_share),
                pct(x.stable.critical_path_share),
                q(x.calls_test.p_value_adjusted),
                q(x.critical_path_test.p_value_adjusted),
            ]
        })
}

/// The changes of one operation as short labels, e.g. `more_calls, grew`.
fn label(o: &StructureOperation) -> String {
    let mut v = Vec::new();
    let name = |c: CallChange| match c {
        CallChange::NewInCanary => "new in canary",
        CallChange::VanishedInCanary => "vanished in canary",
        CallChange::MoreCalls => "more calls",
        CallChange::FewerCalls => "fewer calls",
        CallChange::Unchanged => "",
    };
    if o.calls_change != CallChange::Unchanged {
        v.push(name(o.calls_change));
    }
    if o.critical_path_change == PathChange::Grew {
        v.push("critical path grew");
    }
    v.join(", ")
}

/// The diff as an HTML fragment (a heading, the summary, the table of changes).
pub fn html(routes: &[StructureRoute]) -> String {
    let t = |s: &str| escape::html(&escape::clean(s, CELL));
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<h3 id=\"structure\">Trace structure</h3>\n<p class=\"note\">{}</p>",
        escape::html(&summary(routes))
    );
    if !routes.iter().any(|r| r.changed) {
        return o;
    }
    o.push_str(
        "<table>\n<thead><tr><th>Route</th><th>Operation</th><th>Change</th>\
         <th>Calls/request canary</th><th>stable</th><th>Critical path canary</th><th>stable</th>\
         <th>adj. p (calls, path)</th></tr></thead>\n<tbody>\n",
    );
    for [service, route, op_service, op, change, cc, sc, cp, sp, qc, qp] in changed_rows(routes, t)
    {
        let _ = writeln!(
            o,
            "<tr><td>{service} {route}</td><td>{op_service} {op}</td><td class=\"fail\">{change}</td>\
             <td class=\"num\">{cc}</td><td class=\"num\">{sc}</td><td class=\"num\">{cp}</td>\
             <td class=\"num\">{sp}</td><td class=\"num\">{qc}, {qp}</td></tr>"
        );
    }
    o.push_str("</tbody>\n</table>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forensics::structure::{OperationSide, RouteSide, StructureTest};

    fn route(changed: bool) -> StructureRoute {
        let side = |calls: f64, share: f64| OperationSide {
            requests_with_call: 10,
            calls: (10.0 * calls) as u64,
            calls_per_request: Some(calls),
            share_of_requests: Some(1.0),
            critical_path_share: Some(share),
            critical_path_ms: Some(share * 100.0),
        };
        let test = StructureTest {
            p_value: Some(1e-9),
            p_value_adjusted: Some(2e-9),
        };
        StructureRoute {
            service: "checkout".into(),
            route: "/checkout".into(),
            canary: RouteSide::default(),
            stable: RouteSide::default(),
            new_span_names: Vec::new(),
            vanished_span_names: Vec::new(),
            calls_changed: vec!["shipping POST /quote".into()],
            critical_path_grew: Vec::new(),
            operations: vec![StructureOperation {
                service: "shipping".into(),
                operation: "POST /quote <x>".into(),
                canary: side(2.0, 0.066),
                stable: side(1.0, 0.03),
                calls_test: test.clone(),
                critical_path_test: test,
                calls_change: if changed {
                    CallChange::MoreCalls
                } else {
                    CallChange::Unchanged
                },
                critical_path_change: if changed {
                    PathChange::Grew
                } else {
                    PathChange::Unchanged
                },
            }],
            changed,
        }
    }

    #[test]
    fn changed_operations_get_a_sentence_and_a_row_and_html_is_escaped() {
        let r = vec![route(true)];
        let s = sentences(&r);
        assert_eq!(s.len(), 1);
        assert!(s[0].starts_with("checkout /checkout: shipping POST /quote <x> — more calls: 2.00 per request on canary against 1.00"), "{}", s[0]);
        assert!(
            s[0].contains("critical-path share grew: 6.6% (6.60 ms) on canary against 3.0%"),
            "{}",
            s[0]
        );
        let md = markdown(&r);
        assert!(
            md.contains("| more calls, critical path grew | 2.00 | 1.00 | 6.6% | 3.0% |"),
            "{md}"
        );
        let h = html(&r);
        assert!(
            h.contains("POST /quote &lt;x&gt;") && !h.contains("<x>"),
            "{h}"
        );
        assert!(summary(&r).starts_with("1 routes compared"));
    }

    #[test]
    fn unchanged_routes_give_only_the_summary() {
        let r = vec![route(false)];
        assert!(sentences(&r).is_empty());
        assert!(!markdown(&r).contains('|'));
        assert!(!html(&r).contains("<table>"));
    }
}
