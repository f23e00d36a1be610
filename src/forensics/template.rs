//! Message templates: an error message with its variable parts masked, so that messages that
//! differ only in ids, numbers or quoted values fall into one error signature.
//!
//! The idea is Drain's (P. He, J. Zhu, Z. Zheng, M. R. Lyu, *Drain: An Online Log Parsing
//! Approach with Fixed Depth Tree*, ICWS 2017, §III-A "preprocess by domain knowledge": replace
//! tokens matching simple regular expressions for variables such as IPs and block ids before
//! grouping) and Sentry's grouping, which parameterises messages the same way before
//! fingerprinting (Sentry docs, "Grouping: Fingerprint Rules" / message parameterization:
//! numbers, hex, UUIDs, IPs, emails, timestamps). canalyst applies fixed rules only (no tree
//! learned from the data), so a template does not depend on which other messages were seen.
//!
//! Rules, in the order they are tried (each masked part becomes the placeholder shown):
//!
//! 1. quoted values `'…'`, `"…"`, `` `…` `` → `<str>` (quotes included);
//! 2. the message is cut into words at whitespace and `()[]{},;<>|`; a trailing `.`, `:`, `!`
//!    or `?` is kept outside the word; then each word, whole:
//!    * an email (`local@domain.tld`) → `<email>`;
//!    * a UUID (8-4-4-4-12 hex digits) → `<uuid>`;
//!    * an IPv4 address, optionally with `:port`, or an IPv6 address (hex groups and at least
//!      two `:`, with a digit) → `<ip>`;
//!    * a duration: a decimal number followed by `ns`, `us`, `µs`, `ms`, `s`, `sec`, `m`,
//!      `min` or `h` → `<duration>`;
//!    * a number (`[+-]digits[.digits]`, or `0x` + hex digits) → `<num>`;
//!    * a hex id: 8 or more hex digits, at least one a decimal digit → `<hex>`;
//!    * a prefixed id: a short alphabetic prefix (1–12 letters), `-` or `_`, then 4 or more
//!      letters and digits with at least one digit (`c-7f3a9e21`, `ord_12345`) → prefix, the
//!      separator, `<id>` (the prefix names the kind of id, so it stays);
//!    * a base64 or base64url token: 16 or more characters of `A–Z a–z 0–9 + / - _`, at least one
//!      digit and one letter, optionally `=`-padded → `<b64>`;
//! 3. a word that matched no rule is split at `=` and `:` (`key=value`, `key:value`) and each
//!    part is tried again; a part that still matched nothing and starts with digits has that
//!    leading number masked (`0KiB` → `<num>KiB`).
//!
//! Everything else is kept as it is, separators included, so a template reads like its
//! messages.

/// The template of `message` (see the module documentation for the rules).
pub fn message_template(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut word = String::new();
    let mut chars = message.chars().peekable();
    while let Some(c) = chars.next() {
        if matches!(c, '\'' | '"' | '`') {
            // A quote opens a quoted value only at the start of a word and when it closes
            // later in the message; an apostrophe inside a word ("can't") is text.
            let rest: String = chars.clone().collect();
            if word.is_empty() {
                if let Some(end) = rest.find(c) {
                    out.push_str("<str>");
                    for _ in 0..rest[..end].chars().count() + 1 {
                        chars.next();
                    }
                    continue;
                }
            }
            word.push(c);
        } else if c.is_whitespace() || "()[]{},;<>|".contains(c) {
            flush_word(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush_word(&mut word, &mut out);
    out
}

fn flush_word(word: &mut String, out: &mut String) {
    if word.is_empty() {
        return;
    }
    let trimmed = word.trim_end_matches(['.', ':', '!', '?']);
    let tail = &word[trimmed.len()..];
    out.push_str(&mask_word(trimmed));
    out.push_str(tail);
    word.clear();
}

/// The word with rule 2, else rule 3, applied.
fn mask_word(w: &str) -> String {
    if let Some(p) = mask_whole(w) {
        return p;
    }
    if let Some(prefixed) = prefixed_id(w) {
        return prefixed;
    }
    if w.contains(['=', ':']) {
        let mut out = String::new();
        let mut part = String::new();
        for c in w.chars() {
            if c == '=' || c == ':' {
                out.push_str(&mask_part(&part));
                out.push(c);
                part.clear();
            } else {
                part.push(c);
            }
        }
        out.push_str(&mask_part(&part));
        return out;
    }
    mask_part(w)
}

/// A part of a `key=value` word: rule 2, else its leading number masked.
fn mask_part(p: &str) -> String {
    if p.is_empty() {
        return String::new();
    }
    if let Some(m) = mask_whole(p).or_else(|| prefixed_id(p)) {
        return m;
    }
    let digits = p.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 {
        format!("<num>{}", &p[digits..])
    } else {
        p.to_string()
    }
}

/// Rule 2 on a whole word, except the prefixed id (which keeps part of the word).
fn mask_whole(w: &str) -> Option<String> {
    let placeholder = if is_email(w) {
        "<email>"
    } else if is_uuid(w) {
        "<uuid>"
    } else if is_ip(w) {
        "<ip>"
    } else if is_duration(w) {
        "<duration>"
    } else if is_number(w) {
        "<num>"
    } else if is_hex_id(w) {
        "<hex>"
    } else if is_base64(w) {
        "<b64>"
    } else {
        return None;
    };
    Some(placeholder.to_string())
}

fn is_email(w: &str) -> bool {
    let Some((local, domain)) = w.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._%+-".contains(c))
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

fn is_uuid(w: &str) -> bool {
    let groups: Vec<&str> = w.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_ip(w: &str) -> bool {
    let (host, port) = match w.rsplit_once(':') {
        Some((h, p)) if h.contains('.') => (h, Some(p)),
        _ => (w, None),
    };
    let v4 = {
        let octets: Vec<&str> = host.split('.').collect();
        octets.len() == 4
            && octets
                .iter()
                .all(|o| !o.is_empty() && o.len() <= 3 && o.bytes().all(|b| b.is_ascii_digit()))
            && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let v6 = port.is_none()
        && w.matches(':').count() >= 2
        && w.bytes().any(|b| b.is_ascii_digit())
        && w.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
    v4 || v6
}

/// Length of the leading decimal number (`[+-]digits[.digits]`), 0 if none.
fn number_len(w: &str) -> usize {
    let b = w.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let int = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    if int == 0 {
        return 0;
    }
    i += int;
    if b.get(i) == Some(&b'.') {
        let frac = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if frac > 0 {
            i += 1 + frac;
        }
    }
    i
}

fn is_number(w: &str) -> bool {
    if let Some(hex) = w.strip_prefix("0x").or_else(|| w.strip_prefix("0X")) {
        return !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
    }
    let n = number_len(w);
    n > 0 && n == w.len()
}

fn is_duration(w: &str) -> bool {
    let n = number_len(w);
    n > 0
        && !w.starts_with(['+', '-'])
        && matches!(
            &w[n..],
            "ns" | "us" | "µs" | "ms" | "s" | "sec" | "m" | "min" | "h"
        )
}

fn is_hex_id(w: &str) -> bool {
    w.len() >= 8
        && w.bytes().all(|b| b.is_ascii_hexdigit())
        && w.bytes().any(|b| b.is_ascii_digit())
}

fn is_base64(w: &str) -> bool {
    let body = w.trim_end_matches('=');
    w.len() - body.len() <= 2
        && body.len() >= 16
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/-_".contains(&b))
        && body.bytes().any(|b| b.is_ascii_digit())
        && body.bytes().any(|b| b.is_ascii_alphabetic())
}

/// `prefix-<id>` for a prefixed id (rule 2), else `None`.
fn prefixed_id(w: &str) -> Option<String> {
    let sep = w.find(['-', '_'])?;
    let (prefix, rest) = (&w[..sep], &w[sep + 1..]);
    let ok = (1..=12).contains(&prefix.len())
        && prefix.bytes().all(|b| b.is_ascii_alphabetic())
        && rest.len() >= 4
        && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        && rest.bytes().any(|b| b.is_ascii_digit());
    ok.then(|| format!("{prefix}{}<id>", &w[sep..sep + 1]))
}

#[cfg(test)]
mod tests {
    use super::message_template as t;
    use proptest::prelude::*;

    #[test]
    fn quoted_values() {
        assert_eq!(
            t("Cannot read properties of undefined (reading 'items')"),
            "Cannot read properties of undefined (reading <str>)"
        );
        assert_eq!(t(r#"key "a b c" missing"#), "key <str> missing");
        assert_eq!(t("can't connect"), "can't connect");
    }

    #[test]
    fn numbers_and_durations() {
        assert_eq!(
            t("card processor returned 503"),
            "card processor returned <num>"
        );
        assert_eq!(t("retry 3 of 5."), "retry <num> of <num>.");
        assert_eq!(t("value -2.5 out of range"), "value <num> out of range");
        assert_eq!(t("flags 0x1f set"), "flags <num> set");
        assert_eq!(
            t("Timeout awaiting response (outbound=0KiB, inbound=12KiB, 5021ms elapsed, timeout is 5000ms)"),
            "Timeout awaiting response (outbound=<num>KiB, inbound=<num>KiB, <duration> elapsed, timeout is <duration>)"
        );
        assert_eq!(t("took 1.5s"), "took <duration>");
        assert_eq!(
            t("deadline 30sec, 2min, 1h"),
            "deadline <duration>, <duration>, <duration>"
        );
    }

    #[test]
    fn hex_base64_uuid_ids() {
        assert_eq!(t("trace 4bf92f3577b34da6a3ce929d0e0e4736"), "trace <hex>");
        assert_eq!(
            t("token dGhpcyBpcyBhIHRlc3Q0Mg== rejected"),
            "token <b64> rejected"
        );
        assert_eq!(
            t("session 123e4567-e89b-12d3-a456-426614174000 expired"),
            "session <uuid> expired"
        );
        assert_eq!(t("order c-7f3a9e21 not found"), "order c-<id> not found");
        assert_eq!(t("order ord_12345: gone"), "order ord_<id>: gone");
        // Words without a digit are text, not ids.
        assert_eq!(
            t("cart-service is-empty deadbeef"),
            "cart-service is-empty deadbeef"
        );
    }

    #[test]
    fn ips_and_emails() {
        assert_eq!(
            t("dial tcp 10.0.3.17:5432: connection refused"),
            "dial tcp <ip>: connection refused"
        );
        assert_eq!(t("host fe80::1ff:fe23:4567:890a down"), "host <ip> down");
        assert_eq!(t("no user ana.lopez+shop@example.com"), "no user <email>");
        assert_eq!(t("addr=192.168.0.1 port=80"), "addr=<ip> port=<num>");
    }

    #[test]
    fn text_is_kept() {
        let m = "pq: canceling statement due to statement timeout";
        assert_eq!(t(m), m);
        assert_eq!(t(""), "");
        assert_eq!(
            t("upstream cart returned 500"),
            "upstream cart returned <num>"
        );
    }

    /// A variable value of masked kind `k`, as a strategy.
    fn variable(k: usize) -> BoxedStrategy<String> {
        match k {
            0 => (0u64..1_000_000).prop_map(|n| n.to_string()).boxed(),
            1 => (1u32..100_000).prop_map(|n| format!("{n}ms")).boxed(),
            2 => any::<[u8; 4]>()
                .prop_map(|b| format!("c-{:02x}{:02x}{:02x}{:02x}1", b[0], b[1], b[2], b[3]))
                .boxed(),
            3 => any::<[u8; 16]>()
                .prop_map(|b| {
                    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
                    format!(
                        "{}-{}-{}-{}-{}",
                        &h[..8],
                        &h[8..12],
                        &h[12..16],
                        &h[16..20],
                        &h[20..]
                    )
                })
                .boxed(),
            4 => any::<[u8; 4]>()
                .prop_map(|b| format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]))
                .boxed(),
            5 => "[a-z]{1,8}"
                .prop_map(|u| format!("{u}@example.org"))
                .boxed(),
            6 => "[a-zA-Z0-9 ]{0,12}".prop_map(|s| format!("'{s}'")).boxed(),
            _ => any::<[u8; 12]>()
                .prop_map(|b| {
                    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
                    format!("{h}7")
                })
                .boxed(),
        }
    }

    proptest! {
        /// Messages built from the same words with different variable values of the same
        /// kind in the same places share a template.
        #[test]
        fn messages_differing_only_in_masked_parts_share_a_template(
            words in prop::collection::vec(
                prop::sample::select(vec!["order", "not", "found", "timeout", "user", "failed:", "at", "(id", "ok)"]),
                1..6,
            ),
            slots in prop::collection::vec(
                (0usize..6, 0usize..8).prop_flat_map(|(at, k)| (Just(at), variable(k), variable(k))),
                1..4,
            ),
        ) {
            let mut a: Vec<String> = words.iter().map(|w| w.to_string()).collect();
            let mut b = a.clone();
            for (at, va, vb) in &slots {
                let at = (*at).min(a.len());
                a.insert(at, va.clone());
                b.insert(at, vb.clone());
            }
            prop_assert_eq!(t(&a.join(" ")), t(&b.join(" ")), "{} | {}", a.join(" "), b.join(" "));
        }
    }
}
