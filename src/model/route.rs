//! Route templating: never let a raw URL path become a grouping key.
//!
//! Design §3: the route is `http.route` when the instrumentation recorded one; otherwise the
//! span name of a SERVER span. Older instrumentations name server spans after the raw path
//! (`GET /users/12345`), which has unbounded cardinality, so such names are templated: path
//! segments that look like identifiers become `{id}`, and the query string is removed.

use std::borrow::Cow;

/// Returns `name` with identifier-like path segments replaced by `{id}` and any query string
/// or fragment removed. Names without a `/` are returned unchanged.
///
/// A segment is identifier-like when it is all digits; a UUID (8-4-4-4-12 hex); at least 8
/// characters of hex containing a digit; or at least 16 characters mixing letters and digits
/// (tokens, hashes). Everything else is kept, so `/api/v2/users` stays as it is.
///
/// A name that templating leaves as it is (most are: instrumentations record `http.route`
/// already templated) is borrowed, not copied: ingest templates every span's route.
pub fn template(name: &str) -> Cow<'_, str> {
    let Some(slash) = name.find('/') else {
        return Cow::Borrowed(name);
    };
    let (prefix, whole) = name.split_at(slash);
    let path = whole.split(['?', '#']).next().unwrap_or("");
    if path.len() == whole.len() && !path.split('/').any(is_identifier) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len());
    out.push_str(prefix);
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if is_identifier(seg) {
            out.push_str("{id}");
        } else {
            out.push_str(seg);
        }
    }
    Cow::Owned(out)
}

fn is_identifier(seg: &str) -> bool {
    if seg.is_empty() || seg.starts_with('{') || seg.starts_with(':') {
        return false;
    }
    let b = seg.as_bytes();
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if digits == b.len() {
        return true;
    }
    let hexish = b.iter().all(|c| c.is_ascii_hexdigit() || *c == b'-');
    if hexish && digits > 0 && b.iter().filter(|c| c.is_ascii_hexdigit()).count() >= 8 {
        return true;
    }
    b.len() >= 16
        && digits > 0
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.~".contains(c))
}

#[cfg(test)]
mod tests {
    use super::template;
    use std::borrow::Cow;

    #[test]
    fn templates_ids_keeps_words() {
        assert_eq!(template("GET /users/12345"), "GET /users/{id}");
        assert_eq!(
            template("/orders/3f2504e0-4f89-11d3-9a0c-0305e82c3301/items?x=1"),
            "/orders/{id}/items"
        );
        assert_eq!(template("/api/v2/users"), "/api/v2/users");
        assert_eq!(template("/blob/deadbeef42"), "/blob/{id}");
        assert_eq!(template("/users/{id}"), "/users/{id}");
        assert_eq!(template("/users/:id"), "/users/:id");
        assert_eq!(template("HTTP GET"), "HTTP GET");
        assert_eq!(template("/t/aZ93kdLq0Pz1mNcX7"), "/t/{id}");
        assert_eq!(template("/"), "/");
    }

    #[test]
    fn a_name_left_as_it_is_is_borrowed() {
        for name in [
            "/users/{id}",
            "HTTP GET",
            "/",
            "GET /api/v2/users",
            "",
            "/a//b/",
        ] {
            assert!(
                matches!(template(name), Cow::Borrowed(n) if n == name),
                "{name}"
            );
        }
        for name in ["/users/12345", "/a?x=1", "/a#top", "/a/?"] {
            assert!(matches!(template(name), Cow::Owned(_)), "{name}");
        }
    }
}
