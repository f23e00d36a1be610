//! Parsing one JSON object (a line, a document piece or a framed message) into the typed
//! model: [simd-json]'s serde deserializer first, serde_json only for an input simd-json rejects.
//!
//! simd-json (a Rust port of simdjson: Langdale & Lemire, "Parsing Gigabytes of JSON per
//! Second", VLDB Journal 28, 2019) finds every structural character of the input with SIMD
//! instructions (picked at run time: AVX2, SSE4.2, NEON, or portable code), validates UTF-8 in
//! the same pass, and then drives the same `Deserialize` impls as serde_json over its tape.
//! Strings without escapes are borrowed from a copy of the input (simd-json rewrites its input
//! in place to unescape), so the model keeps borrowing.
//!
//! **Errors stay serde_json's.** When simd-json rejects an input — invalid JSON or UTF-8, a
//! wrong type, an integer beyond `u64`, nesting deeper than [`SIMD_MAX_DEPTH`], an input over
//! 4 GiB — the same bytes are parsed again by serde_json, and its result is the answer: its
//! value if it accepts the input, else its error (category, message, line and column), which
//! `otlp_json` turns into `truncated_line`, `wrong_type` or `malformed_json`. So a bad line
//! costs two parses and is reported exactly as before, and an input serde_json accepts is never
//! lost. The converse — an input simd-json accepts that serde_json rejects, or the two reading
//! a value differently — is what the differential tests below look for (floats bit for bit,
//! 64-bit integers as numbers and strings, escapes, invalid UTF-8, nesting, mutated lines and
//! every sample file): none found.
//!
//! [simd-json]: https://docs.rs/simd-json

use serde::Deserialize;

/// Deepest nesting of arrays and objects simd-json parses here; anything deeper is parsed by
/// serde_json, whose recursion limit (128) then decides as before. OTLP/JSON spans nest about
/// 10 deep; the bound also keeps the model's recursive visitors far from the stack's end.
pub(super) const SIMD_MAX_DEPTH: usize = 100;

/// Whether `json` may hold the number `-0`, which simd-json reads as the integer 0 and
/// serde_json as the double -0.0 (a `doubleValue` of `-0` renders as `"-0"`): such an input goes
/// to serde_json. The bytes `-0` followed by a delimiter inside a string match too; that only
/// costs serde_json's speed on that input. The one difference found between the two parsers
/// (2 million random number texts, and the tests below).
fn may_hold_negative_zero(json: &[u8]) -> bool {
    memchr::memmem::find_iter(json, b"-0").any(|i| {
        matches!(
            json.get(i + 2),
            None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n')
        )
    })
}

/// Reusable parse state: the copy of the input that simd-json rewrites, and its buffers.
pub(super) struct Parser {
    scratch: Vec<u8>,
    buffers: simd_json::Buffers,
}

impl Default for Parser {
    fn default() -> Self {
        Self {
            scratch: Vec::new(),
            buffers: simd_json::Buffers::with_max_depth(0, SIMD_MAX_DEPTH),
        }
    }
}

impl Parser {
    /// Parses `json` into `T`, borrowing strings from this parser's copy of the input (or from
    /// `json` itself when serde_json does the parse). See the module documentation.
    pub(super) fn parse<'s, T: Deserialize<'s>>(
        &'s mut self,
        json: &'s [u8],
    ) -> Result<T, serde_json::Error> {
        #[cfg(test)]
        if tests::FORCE_SERDE.with(|f| f.get()) {
            return serde_json::from_slice(json);
        }
        if may_hold_negative_zero(json) {
            return serde_json::from_slice(json);
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(json);
        match simd_json::serde::from_slice_with_buffers::<T>(&mut self.scratch, &mut self.buffers) {
            Ok(v) => Ok(v),
            Err(_) => serde_json::from_slice(json),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::scalars::*;
    use super::*;
    use proptest::prelude::*;
    use std::cell::Cell;

    thread_local! {
        /// Makes [`Parser::parse`] use serde_json alone on this thread (the reference side of
        /// the differential tests).
        pub(crate) static FORCE_SERDE: Cell<bool> = const { Cell::new(false) };
    }

    /// Runs `f` with serde_json alone on this thread.
    pub(crate) fn with_serde_only<R>(f: impl FnOnce() -> R) -> R {
        FORCE_SERDE.with(|c| c.set(true));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        FORCE_SERDE.with(|c| c.set(false));
        r.unwrap_or_else(|p| std::panic::resume_unwind(p))
    }

    /// simd-json's own verdict as [`Parser::parse`] uses it, without the serde_json fallback:
    /// `Some(value)`, or `None` for an error or an input the `-0` guard sends to serde_json.
    fn simd_only<T: for<'a> Deserialize<'a>>(json: &[u8]) -> Option<T> {
        if may_hold_negative_zero(json) {
            return None;
        }
        let mut copy = json.to_vec();
        let mut b = simd_json::Buffers::with_max_depth(0, SIMD_MAX_DEPTH);
        simd_json::serde::from_slice_with_buffers::<T>(&mut copy, &mut b).ok()
    }

    fn serde_only<T: for<'a> Deserialize<'a>>(json: &[u8]) -> Option<T> {
        serde_json::from_slice(json).ok()
    }

    /// The f64 simd-json reads from `text`, when it accepts it.
    fn f64_pair(text: &str) -> (Option<f64>, Option<f64>) {
        (
            simd_only::<f64>(text.as_bytes()),
            serde_only::<f64>(text.as_bytes()),
        )
    }

    fn same_bits(a: Option<f64>, b: Option<f64>) -> bool {
        match (a, b) {
            (Some(x), Some(y)) => x.to_bits() == y.to_bits(),
            (None, None) => true,
            _ => false,
        }
    }

    /// Accepting more than serde_json (`Some` against `None`) or reading another value is a
    /// failure; rejecting what serde_json accepts is not (the fallback answers).
    fn agrees<T: PartialEq + std::fmt::Debug>(simd: Option<T>, serde: Option<T>) -> bool {
        match (&simd, &serde) {
            (Some(a), Some(b)) => a == b,
            (Some(_), None) => false,
            (None, _) => true,
        }
    }

    #[test]
    fn fixed_number_forms_read_alike() {
        for t in [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "1e308",
            "1e309",
            "-1e309",
            "1e-400",
            "2.2250738585072011e-308",
            "4.9406564584124654e-324",
            "2.4703282292062327e-324",
            "2.4703282292062328e-324",
            "1.7976931348623157e308",
            "1.7976931348623158e308",
            "1.7976931348623159e308",
            "9007199254740993",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "123456789012345678901234567890",
            "0.1",
            "0.30000000000000004",
            "1E+2",
            "1e-0",
            "01",
            "1.",
            ".5",
            "-",
            "+1",
            "1e",
            "NaN",
            "Infinity",
            "0x10",
            "1_0",
            "3.141592653589793238462643383279502884197169399375105820974944592307816406286",
        ] {
            let (a, b) = f64_pair(t);
            assert!(
                same_bits(a, b) || (a.is_none() && b.is_some()),
                "{t}: simd-json {a:?}, serde_json {b:?}"
            );
            // Through the lenient types the model uses, with the fallback: equal always.
            let mut p = Parser::default();
            let got: Option<JF64> = p.parse(t.as_bytes()).ok();
            let want: Option<JF64> = serde_only(t.as_bytes());
            assert!(
                match (got, want) {
                    (Some(JF64::V(x)), Some(JF64::V(y))) => x.to_bits() == y.to_bits(),
                    (x, y) => x == y,
                },
                "{t}: JF64"
            );
            let mut p = Parser::default();
            let got: Option<JInt> = p.parse(t.as_bytes()).ok();
            assert_eq!(got, serde_only::<JInt>(t.as_bytes()), "{t}: JInt");
        }
    }

    #[test]
    fn negative_zero_goes_to_serde_json() {
        for t in ["-0", "[-0]", "{\"a\":-0}", "[-0 ]", "[1,-0,2]"] {
            assert!(may_hold_negative_zero(t.as_bytes()), "{t}");
        }
        for t in ["-0.0", "-0e1", "\"pod-0\"", "-01", "10", "-1"] {
            assert!(!may_hold_negative_zero(t.as_bytes()), "{t}");
        }
        let mut p = Parser::default();
        match p.parse::<JF64>(b"-0") {
            Ok(JF64::V(v)) => assert_eq!(v.to_bits(), (-0.0f64).to_bits()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn escapes_utf8_and_nesting_read_alike() {
        let cases: Vec<Vec<u8>> = vec![
            br#""plain""#.to_vec(),
            br#""a\"b\\c\/d\b\f\n\r\t""#.to_vec(),
            br#""\u00e9\u4e2d\ud83d\ude00""#.to_vec(),
            br#""\ud800""#.to_vec(),
            br#""\udc00x""#.to_vec(),
            br#""\ud800\u0041""#.to_vec(),
            br#""\u12""#.to_vec(),
            br#""\x41""#.to_vec(),
            b"\"tab\tinside\"".to_vec(),
            b"\"nl\ninside\"".to_vec(),
            b"\"\x7f\"".to_vec(),
            b"\"\xff\xfe\"".to_vec(),
            b"\"\xc3\"".to_vec(),
            b"\"\xed\xa0\x80\"".to_vec(),
            b"\"\xf4\x90\x80\x80\"".to_vec(),
            b"\"caf\xc3\xa9\"".to_vec(),
            b"\"unterminated".to_vec(),
            b"\"a\" trailing".to_vec(),
            b"\"a\",".to_vec(),
        ];
        for c in &cases {
            let simd = simd_only::<String>(c);
            let serde = serde_only::<String>(c);
            assert!(agrees(simd, serde), "{}", String::from_utf8_lossy(c));
            let mut p = Parser::default();
            let got: Option<JStr> = p.parse(c).ok();
            let want: Option<JStr> = serde_json::from_slice(c).ok();
            assert_eq!(got, want, "{}", String::from_utf8_lossy(c));
        }
        for depth in [1usize, 50, 99, 100, 101, 127, 128, 129, 200, 5000] {
            let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let simd = simd_only::<serde::de::IgnoredAny>(text.as_bytes()).is_some();
            let serde = serde_only::<serde::de::IgnoredAny>(text.as_bytes()).is_some();
            assert!(
                !simd || serde,
                "depth {depth}: simd-json {simd}, serde_json {serde}"
            );
            assert_eq!(simd, depth <= SIMD_MAX_DEPTH, "depth {depth}");
        }
    }

    proptest! {
        #[test]
        fn doubles_parse_to_the_same_bits(v in any::<f64>().prop_filter("finite", |v| v.is_finite()),
                                          form in 0usize..4) {
            let t = match form {
                0 => format!("{v}"),
                1 => format!("{v:e}"),
                2 => format!("{v:E}"),
                _ => format!("{v:.17e}"),
            };
            let (a, b) = f64_pair(&t);
            prop_assert!(b.is_some(), "{}", t);
            prop_assert!(agrees(a.map(f64::to_bits), b.map(f64::to_bits)), "{}: {:?} {:?}", t, a, b);
            // Shortest round-trip forms (the first three) are what encoders write: simd-json
            // must read them itself, not through the fallback.
            if form < 3 && !t.contains('e') && !t.contains('E') && t.len() < 20 && t != "-0" {
                prop_assert!(a.is_some(), "{}", t);
            }
        }

        #[test]
        fn decimal_texts_parse_to_the_same_bits(
            neg in any::<bool>(),
            int in "[0-9]{1,25}",
            frac in proptest::option::of("[0-9]{1,30}"),
            exp in proptest::option::of(-350i32..350),
        ) {
            let int = int.trim_start_matches('0');
            let int = if int.is_empty() { "0" } else { int };
            let mut t = format!("{}{int}", if neg { "-" } else { "" });
            if let Some(f) = frac { t.push('.'); t.push_str(&f); }
            if let Some(e) = exp { t.push_str(&format!("e{e}")); }
            let (a, b) = f64_pair(&t);
            prop_assert!(agrees(a.map(f64::to_bits), b.map(f64::to_bits)), "{}: {:?} {:?}", t, a, b);
            let mut p = Parser::default();
            let got: Option<JInt> = p.parse(t.as_bytes()).ok();
            prop_assert_eq!(got, serde_only::<JInt>(t.as_bytes()), "{}", t);
        }

        #[test]
        fn integers_as_numbers_and_strings_read_alike(v in any::<i64>(), u in any::<u64>(),
                                                      big in "[1-9][0-9]{19,30}") {
            for t in [v.to_string(), u.to_string(), format!("\"{v}\""), format!("\"{u}\""),
                      big.clone(), format!("-{big}"), format!("\"{big}\"")] {
                let mut p = Parser::default();
                let got: Option<JInt> = p.parse(t.as_bytes()).ok();
                prop_assert_eq!(got, serde_only::<JInt>(t.as_bytes()), "{}", t);
                prop_assert!(agrees(simd_only::<JInt>(t.as_bytes()), serde_only::<JInt>(t.as_bytes())), "{}", t);
            }
        }

        #[test]
        fn strings_read_alike(s in "\\PC{0,40}", raw in prop::collection::vec(any::<u8>(), 0..24)) {
            // serde_json's escaping of any text, ASCII-only escaping (\uXXXX and surrogate
            // pairs), and arbitrary bytes between quotes.
            let escaped = serde_json::to_string(&s).unwrap();
            let ascii: String = s.chars().map(|c| {
                if c.is_ascii() && c != '"' && c != '\\' && !c.is_ascii_control() { c.to_string() } else {
                    let mut buf = [0u16; 2];
                    c.encode_utf16(&mut buf).iter().map(|u| format!("\\u{u:04x}")).collect()
                }
            }).collect();
            let mut quoted = vec![b'"'];
            quoted.extend_from_slice(&raw);
            quoted.push(b'"');
            for c in [escaped.into_bytes(), format!("\"{ascii}\"").into_bytes(), quoted] {
                prop_assert!(agrees(simd_only::<String>(&c), serde_only::<String>(&c)),
                             "{}", String::from_utf8_lossy(&c));
                let mut p = Parser::default();
                let got: Option<JStr> = p.parse(&c).ok();
                prop_assert_eq!(got, serde_json::from_slice::<JStr>(&c).ok());
            }
        }
    }
}
