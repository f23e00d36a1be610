//! No two source files may import each other, directly or through a ring of files: each
//! shared piece lives below everything that uses it (issue 16 item 2).
//!
//! The check builds a file-level import graph of `src/` (the library; `src/main.rs` is a
//! separate crate root) from the paths the code names: `use crate::…`, `use super::…`,
//! `use self::…` statements (with `{…}` groups expanded) and the same paths written inline.
//! A path resolves to the deepest module file it names. Edges from a module to its own
//! descendants are left out: a parent declares its submodules with `mod` and re-exports
//! from them, which is structure, not a circle. Comments (doc links included) and
//! `#[cfg(test)] mod … { … }` blocks are skipped, since tests may `use super::*`.
//! Cycles are the strongly connected components of more than one file (Tarjan).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[test]
fn source_files_form_no_import_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = module_files(&src);
    let graph = import_graph(&src, &modules);
    let cycles: Vec<Vec<String>> = strongly_connected(&graph)
        .into_iter()
        .filter(|c| c.len() > 1)
        .collect();
    let described: Vec<String> = cycles.iter().map(|c| describe_cycle(c, &graph)).collect();
    assert!(
        cycles.is_empty(),
        "{} import cycle(s) between source files under src/:\n{}",
        cycles.len(),
        described.join("\n")
    );
}

#[test]
fn the_cycle_finder_finds_a_planted_ring() {
    // The checker itself must be able to fail: three files importing in a ring, one more
    // importing into the ring from outside.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod a;\npub mod d;\n").unwrap();
    std::fs::write(
        src.join("a/mod.rs"),
        "pub mod b;\npub mod c;\npub use b::X;\n",
    )
    .unwrap();
    std::fs::write(
        src.join("a/b.rs"),
        "use super::c::{Y, self};\n// use crate::d::Z;\npub struct X;\n",
    )
    .unwrap();
    std::fs::write(
        src.join("a/c.rs"),
        "pub fn f() -> crate::d::Z { todo!() }\n",
    )
    .unwrap();
    std::fs::write(
        src.join("d.rs"),
        "use crate::a::{\n    b::X,\n};\npub struct Z;\n#[cfg(test)]\nmod tests {\n    use crate::a::c::f;\n}\n",
    )
    .unwrap();
    let graph = import_graph(src, &module_files(src));
    let big: Vec<Vec<String>> = strongly_connected(&graph)
        .into_iter()
        .filter(|c| c.len() > 1)
        .collect();
    assert_eq!(big, vec![vec!["a/b.rs", "a/c.rs", "d.rs"]]);
}

/// Module path (`["engine", "udaf"]`) → file relative to `src/` (`engine/udaf.rs`).
fn module_files(src: &Path) -> BTreeMap<Vec<String>, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path
                .strip_prefix(src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if rel == "main.rs" || rel.starts_with("bin/") {
                continue;
            }
            let mut segments: Vec<String> = rel
                .trim_end_matches(".rs")
                .split('/')
                .map(str::to_string)
                .collect();
            if segments.last().map(String::as_str) == Some("mod")
                || segments.last().map(String::as_str) == Some("lib")
            {
                segments.pop();
            }
            out.insert(segments, rel);
        }
    }
    out
}

/// File → the files it imports (outside its own descendants and itself).
fn import_graph(
    src: &Path,
    modules: &BTreeMap<Vec<String>, String>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph = BTreeMap::new();
    for (module, file) in modules {
        let text = std::fs::read_to_string(src.join(file)).unwrap();
        let code = strip_tests_and_comments(&text);
        let mut targets = BTreeSet::new();
        for path in paths_named(&code) {
            let Some(absolute) = absolute(module, &path) else {
                continue;
            };
            // The deepest module file named by a prefix of the path.
            let target = (0..=absolute.len())
                .rev()
                .find_map(|n| modules.get(&absolute[..n]).map(|f| (n, f)));
            if let Some((n, target)) = target {
                let is_descendant = absolute[..n].starts_with(module);
                if !is_descendant && target != file {
                    targets.insert(target.clone());
                }
            }
        }
        graph.insert(file.clone(), targets);
    }
    graph
}

/// A path relative to `module` (starting `crate`, `super` or `self`) made absolute.
fn absolute(module: &[String], path: &[String]) -> Option<Vec<String>> {
    let mut base: Vec<String>;
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => {
            base = Vec::new();
            rest = &path[1..];
        }
        Some("self") => {
            base = module.to_vec();
            rest = &path[1..];
        }
        Some("super") => {
            base = module.to_vec();
            while rest.first().map(String::as_str) == Some("super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    base.extend(rest.iter().filter(|s| s.as_str() != "self").cloned());
    Some(base)
}

/// The text without line comments and without `#[cfg(test)]` inline module blocks.
fn strip_tests_and_comments(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed == "#[cfg(test)]" {
            if let Some(next) = lines.peek() {
                if next.contains("mod ") && next.trim_end().ends_with('{') {
                    // Skip to the closing brace at the block's own indentation.
                    let indent = next.len() - next.trim_start().len();
                    let close = format!("{}}}", " ".repeat(indent));
                    for l in lines.by_ref() {
                        if l.trim_end() == close {
                            break;
                        }
                    }
                    continue;
                }
            }
        }
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// Every path starting with `crate::`, `super::` or `self::` the code names, with `use`
/// groups expanded, as segment lists.
fn paths_named(code: &str) -> Vec<Vec<String>> {
    let tokens = tokenize(code);
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i].as_str();
        if t == "use" {
            let end = (i..tokens.len())
                .find(|&j| tokens[j] == ";")
                .unwrap_or(tokens.len());
            expand_use(&tokens[i + 1..end], &mut Vec::new(), &mut out);
            i = end + 1;
            continue;
        }
        let starts_path = matches!(t, "crate" | "super" | "self")
            && tokens.get(i + 1).map(String::as_str) == Some("::")
            && (i == 0 || tokens[i - 1] != "::");
        if starts_path {
            let mut path = vec![t.to_string()];
            let mut j = i + 1;
            while tokens.get(j).map(String::as_str) == Some("::")
                && tokens.get(j + 1).is_some_and(|s| is_ident(s))
            {
                path.push(tokens[j + 1].clone());
                j += 2;
            }
            out.push(path);
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

/// Expands one `use` tree (tokens after `use`, before `;`) under `prefix`.
fn expand_use(tokens: &[String], prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let depth = prefix.len();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i].as_str();
        if t == "{" {
            // Split the group at top-level commas and expand each part.
            let mut level = 0;
            let mut start = i + 1;
            for j in i..tokens.len() {
                match tokens[j].as_str() {
                    "{" => level += 1,
                    "}" => {
                        level -= 1;
                        if level == 0 {
                            expand_use(&tokens[start..j], prefix, out);
                            break;
                        }
                    }
                    "," if level == 1 => {
                        expand_use(&tokens[start..j], prefix, out);
                        start = j + 1;
                    }
                    _ => {}
                }
            }
            prefix.truncate(depth);
            return;
        }
        if t == "as" {
            break;
        }
        if is_ident(t) {
            prefix.push(t.to_string());
        }
        i += 1;
    }
    if prefix.len() > depth {
        out.push(prefix.clone());
    }
    prefix.truncate(depth);
}

fn is_ident(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Identifiers, `::`, and single punctuation characters; string literals dropped.
fn tokenize(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push("::".to_string());
            i += 2;
        } else {
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
            i += 1;
        }
    }
    out
}

/// Tarjan's strongly connected components, each sorted, in a stable order.
fn strongly_connected(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            component.sort();
            s.out.push(component);
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v.as_str());
        }
    }
    s.out.sort();
    s.out
}

/// The files of one component with the imports that keep them in it.
fn describe_cycle(component: &[String], graph: &BTreeMap<String, BTreeSet<String>>) -> String {
    let mut lines = vec![format!("  circle of {} files:", component.len())];
    for file in component {
        let inside: Vec<&str> = graph[file]
            .iter()
            .filter(|t| component.contains(t))
            .map(String::as_str)
            .collect();
        lines.push(format!("    src/{file} imports {}", inside.join(", ")));
    }
    lines.join("\n")
}
