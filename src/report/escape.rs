//! Escaping of untrusted telemetry strings (routes, span names, services, exception messages,
//! attribute values, file paths) for every output format.
//!
//! Everything a report prints that came from telemetry goes through one of these functions:
//! [`html`] for HTML text and attribute values (and SVG, which plotters escapes itself — tested
//! in `charts`), [`markdown`] for Markdown table cells and prose, and [`clean`] first of all, which
//! makes control and bidirectional-override characters visible and bounds the length so a
//! 10 kB route name cannot swamp a table or a chart label.

/// Replacement shown for characters that must not reach a reader as-is.
pub const REPLACEMENT: char = '\u{FFFD}';

/// Whether `c` is a control character (C0, DEL, C1) or a bidirectional formatting character
/// (Unicode TR9 explicit embeddings, overrides and isolates, plus the implicit marks). Such
/// characters are invisible and can make a route read differently from what it is
/// ("Trojan Source", CVE-2021-42574), so reports show them as [`REPLACEMENT`].
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// `s` with hidden characters ([`is_hidden`]) replaced by [`REPLACEMENT`] and cut to at most
/// `max_chars` characters (the last being `…` when cut). Not an escape: apply [`html`] or
/// [`markdown`] afterwards.
pub fn clean(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars * 4));
    let total = s.chars().count();
    let keep = if total > max_chars {
        max_chars.saturating_sub(1)
    } else {
        total
    };
    for c in s.chars().take(keep) {
        out.push(if is_hidden(c) { REPLACEMENT } else { c });
    }
    if total > max_chars {
        out.push('…');
    }
    out
}

/// HTML-escapes `s` for element content and for double- or single-quoted attribute values
/// (`& < > " '`, as the HTML5 "escapingString" algorithm plus quotes).
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes `s` for Markdown prose and GitHub-flavoured table cells: ASCII punctuation that
/// CommonMark gives a meaning (emphasis, links, code, headings, lists, tables) is
/// backslash-escaped (CommonMark §2.4; `$` too, for GitHub math), `& < >` become entities so no raw HTML or entity
/// reaches the renderer, and line breaks become spaces so a value stays in its table cell.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' | '\t' => out.push(' '),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '!' | '|'
            | '~' | '$' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_markup_and_quotes() {
        assert_eq!(
            html(r#"<script>alert("x")</script>&'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
        assert_eq!(html("GET /cart/{id}"), "GET /cart/{id}");
    }

    #[test]
    fn markdown_escapes_table_and_inline_syntax() {
        let m = markdown("a|b *c* [x](javascript:1) <img src=x>\nnext");
        assert!(!m.contains("a|b"));
        assert!(m.contains(r"a\|b"));
        assert!(m.contains(r"\*c\*"));
        assert!(m.contains(r"\[x\]\(javascript:1\)"));
        assert!(m.contains("&lt;img src=x&gt;"));
        assert!(!m.contains('\n'));
        // Every `|` left is escaped, so no cell can be split.
        let bytes = m.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'|' {
                assert_eq!(bytes[i - 1], b'\\');
            }
        }
    }

    #[test]
    fn clean_shows_hidden_characters_and_bounds_length() {
        assert_eq!(clean("a\u{202E}b\u{0}c", 10), "a\u{FFFD}b\u{FFFD}c");
        assert_eq!(clean("مرحبا 🚀", 10), "مرحبا 🚀");
        let long = "x".repeat(10_000);
        let c = clean(&long, 50);
        assert_eq!(c.chars().count(), 50);
        assert!(c.ends_with('…'));
        assert_eq!(clean("abc", 3), "abc");
    }
}
