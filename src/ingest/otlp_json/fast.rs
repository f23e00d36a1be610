//! The fast path of the OTLP/JSON trace decoder: a one-pass scanner for objects written the way
//! OTLP/JSON exporters write them (the OpenTelemetry Collector's `file` exporter, the SDKs'
//! OTLP/JSON exporters), which produces exactly the rows the serde path produces, or gives up.
//!
//! **Why.** simd-json builds a tape of the whole object before serde's visitors walk it into
//! the typed model (`document`), and the model is then copied into the [`SpanRecord`]: three
//! passes over every attribute, 1.8 of the 3.4 CPU seconds a one-thread `analyze` spends on 1M
//! spans of Collector batch lines (docs/benchmarks.md, "Session 10: where analyze and ingest
//! spend their CPU"). This scanner reads the bytes once, keeps byte ranges of the strings it
//! needs, and builds the records from those.
//!
//! **Exactness by refusal.** The scanner accepts only the canonical subset of the format:
//! lowerCamelCase keys, hex ids (32 and 16 digits, not all zero), enum numbers, 64-bit
//! integers as digit strings or integer numbers, `stringValue` / `intValue` / `boolValue` /
//! `doubleValue` attribute values, no `null`s in the fields it reads, each field at most once
//! per object, no span it would reject. Anything else — a snake_case alias, a base64 id, an enum
//! name, an array or kvlist or bytes value, an invalid or suspicious number, invalid JSON,
//! invalid UTF-8, a missing id, a reversed time range, metrics or logs, nesting past
//! [`MAX_DEPTH`] — makes [`Scanner::scan`] return `None`, having appended nothing, and the
//! caller decodes the object with the serde path, whose notes, rejections and error messages
//! are the documented ones. So a canonical object yields the same rows and fingerprints by
//! either path (checked by the differential tests in `otlp_json`, which compare every sample
//! file and mutated lines against serde_json alone), and every other object costs one
//! abandoned scan, usually stopped at its first unusual byte.
//!
//! Values of keys the serde model skips (`IgnoredAny`) are skipped here with full JSON
//! validation (strings, escapes, number grammar, literals, nesting), because the serde path
//! rejects a line whose skipped parts are not JSON. Numbers in skipped places with an exponent
//! or more than [`MAX_SKIPPED_NUMBER`] characters are refused: serde_json checks only the
//! grammar of a number it skips, so this is caution (no range reasoning to get wrong), not a
//! rule of the serde path; such numbers do not occur in exporters' output.

use super::any_value::push_f64;
use crate::model::identity::IdentityConfig;
use crate::model::identity::{kind, status};
use crate::model::ids::decode_hex_bytes;
use crate::model::spans::{ResourceInfo, SpanRef};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// Deepest nesting of objects and arrays the scanner follows; deeper objects go to the serde
/// path (simd-json's bound there is 100, serde_json's 128).
pub(super) const MAX_DEPTH: usize = 90;

/// Longest number text skipped without parsing it (serde_json rejects numbers beyond `f64`).
pub(super) const MAX_SKIPPED_NUMBER: usize = 300;

/// A string of the scanned object: a byte range of the input, or of the scanner's arena when
/// the string had escapes.
#[derive(Clone, Copy, Debug)]
struct Str {
    start: u32,
    end: u32,
    arena: bool,
}

const EMPTY: Str = Str {
    start: 0,
    end: 0,
    arena: true,
};

/// An attribute value of the canonical subset, already rendered as the serde path's
/// `render_value` renders it (the input's own bytes where they are that text: strings without
/// escapes, `true`/`false`, integers written in their shortest form; the arena otherwise), so
/// that a span's attributes reach the builders as slices, with no copy in between.
#[derive(Clone, Copy, Debug)]
enum Val {
    /// A `KeyValue` without `value`.
    Absent,
    /// The rendered value (empty for an `AnyValue` object with no value key, `{}`).
    Text(Str),
}

#[derive(Clone, Copy, Debug)]
struct Kv {
    key: Str,
    val: Val,
}

type Range = (u32, u32);

struct ScopeIr {
    name: Option<Str>,
    spans: Range,
}

struct ResourceIr {
    attrs: Range,
    scopes: Range,
    /// Where the resource came from: the cache entry its bytes matched, or the byte range of
    /// its object (to be cached), or neither (no `resource` key).
    source: ResourceSource,
}

#[derive(Clone, Copy)]
enum ResourceSource {
    None,
    Cached(usize),
    Parsed(usize, usize),
}

/// Resources already decoded on this thread, by the exact bytes of their `resource` object.
///
/// A Collector batch line repeats each of a few dozen resources in line after line (28
/// `resourceSpans` entries per line, the same pods all day), and decoding a resource —
/// parsing ~13 attributes, rendering them, resolving identity, preparing the Arrow strings —
/// is the same work each time. Identical bytes parse to identical attributes, so a resource
/// whose bytes equal a cached entry's is not parsed again: the scanner compares the bytes up
/// to the next `"scopeSpans"` key with the entries of the same hash, and on a match jumps
/// over them. A candidate found any other way would be as safe: only byte equality with an
/// entry that was parsed and accepted counts. Bounded by [`CACHE_ENTRIES`] and
/// [`CACHE_BYTES`] (cleared when full), and cleared when the identity configuration changes.
#[derive(Default)]
struct ResourceCache {
    cfg: Option<Arc<IdentityConfig>>,
    entries: Vec<CachedResource>,
    by_hash: HashMap<u64, Vec<usize>, ahash::RandomState>,
    bytes: usize,
    /// An insert was refused for lack of room: cleared at the next [`ResourceCache::prepare`]
    /// (by bytes the cache rarely reaches exactly [`CACHE_BYTES`], so that test alone could
    /// leave it refusing every new resource for good).
    full: bool,
}

struct CachedResource {
    bytes: Box<[u8]>,
    attrs: Vec<(String, String)>,
    /// The resource under each scope name it was seen with.
    scopes: Vec<(Option<String>, Arc<ResourceInfo>)>,
}

/// Most resources the cache holds per thread.
pub(super) const CACHE_ENTRIES: usize = 1024;
/// Most bytes of resource objects the cache holds per thread.
pub(super) const CACHE_BYTES: usize = 8 << 20;
/// How far past a `resource` key a lookup searches for the `"scopeSpans"` key that ends the
/// candidate; a larger resource is neither looked up nor cached.
const LOOKUP_WINDOW: usize = 64 * 1024;
thread_local! {
    static CACHE: RefCell<ResourceCache> = RefCell::new(ResourceCache::default());
}

impl ResourceCache {
    fn hash(bytes: &[u8]) -> u64 {
        std::hash::BuildHasher::hash_one(&crate::model::spans::fingerprint_hash_state(), bytes)
    }

    /// The entry whose bytes start the input at `i` and end just before the next
    /// `"scopeSpans"` key (whitespace and a comma between them), with its length.
    /// With `newlines` false (a JSON line), nothing matches across a newline: the resource and
    /// its `"scopeSpans"` key must be on the line (an entry cached from a pretty-printed
    /// document holds newlines, and the window reaches past the line's end).
    fn lookup(&self, b: &[u8], i: usize, newlines: bool) -> Option<(usize, usize)> {
        if self.entries.is_empty() {
            return None;
        }
        let window = &b[i..b.len().min(i + LOOKUP_WINDOW)];
        let k = memchr::memmem::find(window, b"\"scopeSpans\"")?;
        if !newlines && memchr::memchr(b'\n', &window[..k]).is_some() {
            return None;
        }
        let mut j = k;
        while j > 0 && matches!(window[j - 1], b' ' | b'\n' | b'\r' | b'\t') {
            j -= 1;
        }
        if j == 0 || window[j - 1] != b',' {
            return None;
        }
        j -= 1;
        while j > 0 && matches!(window[j - 1], b' ' | b'\n' | b'\r' | b'\t') {
            j -= 1;
        }
        let cand = &window[..j];
        let ids = self.by_hash.get(&Self::hash(cand))?;
        ids.iter()
            .find(|&&e| *self.entries[e].bytes == *cand)
            .map(|&e| (e, j))
    }

    /// Before a scan (no entry index is held then): clears the cache when `cfg` is not the
    /// configuration its entries were resolved with, or when it is full.
    fn prepare(&mut self, cfg: &Arc<IdentityConfig>) {
        let full = self.full || self.entries.len() >= CACHE_ENTRIES || self.bytes >= CACHE_BYTES;
        if full || !self.cfg.as_ref().is_some_and(|c| Arc::ptr_eq(c, cfg)) {
            *self = Self {
                cfg: Some(cfg.clone()),
                ..Self::default()
            };
        }
    }

    /// Caches a parsed resource; `None` when the cache is full (entries are only dropped by
    /// [`ResourceCache::prepare`], so indices taken during one object stay valid).
    fn insert(&mut self, bytes: &[u8], attrs: Vec<(String, String)>) -> Option<usize> {
        if bytes.len() > LOOKUP_WINDOW {
            // `lookup` could never find it again.
            return None;
        }
        if self.entries.len() >= CACHE_ENTRIES || self.bytes + bytes.len() > CACHE_BYTES {
            self.full = true;
            return None;
        }
        let e = self.entries.len();
        self.bytes += bytes.len();
        self.by_hash.entry(Self::hash(bytes)).or_default().push(e);
        self.entries.push(CachedResource {
            bytes: bytes.into(),
            attrs,
            scopes: Vec::new(),
        });
        Some(e)
    }

    /// The resource of entry `e` under `scope_name`.
    fn info(&mut self, e: usize, scope_name: Option<String>) -> Arc<ResourceInfo> {
        let entry = &mut self.entries[e];
        if let Some((_, r)) = entry.scopes.iter().find(|(n, _)| *n == scope_name) {
            return r.clone();
        }
        let cfg = self.cfg.as_deref().expect("prepare before info");
        let r = Arc::new(ResourceInfo::from_attributes(
            entry.attrs.clone(),
            scope_name.clone(),
            cfg,
        ));
        entry.scopes.push((scope_name, r.clone()));
        r
    }
}

struct SpanIr {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent: Option<[u8; 8]>,
    trace_state: Option<Str>,
    name: Option<Str>,
    kind: i32,
    start: i64,
    end: i64,
    status_code: i32,
    status_message: Option<Str>,
    attrs: Range,
    /// Attributes of the first event named `exception`.
    exception: Option<Range>,
}

/// Reusable state of the fast path: the scanned object's resources, scopes, spans and
/// attributes as ranges, and the arena of unescaped strings.
#[derive(Default)]
pub(super) struct Scanner {
    arena: String,
    resources: Vec<ResourceIr>,
    scopes: Vec<ScopeIr>,
    spans: Vec<SpanIr>,
    kvs: Vec<Kv>,
}

/// Gives up on the object (the serde path decodes it).
type R<T> = Option<T>;

/// The scanned object as ranges, ready for [`Scanned::for_each_scope`] and [`Scanned::span`].
pub(super) struct Scanned<'a> {
    text: &'a str,
    sc: &'a Scanner,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Bytes of `w` equal to zero (exact for the lowest one).
#[inline]
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(ONES) & !w & HIGHS
}

struct Cur<'a> {
    b: &'a [u8],
    i: usize,
    /// Whether a newline is whitespace: not when the object is one line of JSON lines
    /// ([`Scanner::scan_line`]), where a newline ends the line (and a line cut there is
    /// invalid JSON, for the serde path to report).
    newlines: bool,
}

impl<'a> Cur<'a> {
    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\r' | b'\t') || (c == b'\n' && self.newlines) {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    fn peek(&mut self) -> R<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    #[inline]
    fn eat(&mut self, c: u8) -> R<()> {
        if self.peek()? == c {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }

    /// Index of the first `"`, `\` or control byte at or after `i`.
    #[inline]
    fn string_stop(&self, mut i: usize) -> R<usize> {
        let b = self.b;
        while i + 8 <= b.len() {
            let w = u64::from_le_bytes(b[i..i + 8].try_into().ok()?);
            let m = zero_bytes(w ^ (ONES * b'"' as u64))
                | zero_bytes(w ^ (ONES * b'\\' as u64))
                | (w.wrapping_sub(ONES * 0x20) & !w & HIGHS);
            if m != 0 {
                return Some(i + (m.trailing_zeros() / 8) as usize);
            }
            i += 8;
        }
        while i < b.len() {
            let c = b[i];
            if c == b'"' || c == b'\\' || c < 0x20 {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    /// A string without escapes, as raw bytes (keys): `None` on an escape.
    #[inline]
    fn plain_string(&mut self) -> R<&'a [u8]> {
        self.eat(b'"')?;
        let s = self.i;
        let e = self.string_stop(s)?;
        if self.b[e] != b'"' {
            return None;
        }
        self.i = e + 1;
        Some(&self.b[s..e])
    }

    /// A key and its colon.
    #[inline]
    fn key(&mut self) -> R<&'a [u8]> {
        let k = self.plain_string()?;
        self.eat(b':')?;
        Some(k)
    }

    /// A string value; escapes are decoded into `arena`.
    fn string(&mut self, arena: &mut String) -> R<Str> {
        self.eat(b'"')?;
        let s = self.i;
        let e = self.string_stop(s)?;
        match self.b[e] {
            b'"' => {
                self.i = e + 1;
                Some(Str {
                    start: u32::try_from(s).ok()?,
                    end: u32::try_from(e).ok()?,
                    arena: false,
                })
            }
            b'\\' => self.escaped(s, e, arena),
            _ => None,
        }
    }

    /// The rest of a string from its first escape at `e` (content started at `s`).
    fn escaped(&mut self, s: usize, mut e: usize, arena: &mut String) -> R<Str> {
        let start = arena.len();
        let mut from = s;
        loop {
            arena.push_str(std::str::from_utf8(&self.b[from..e]).ok()?);
            match self.b[e] {
                b'"' => {
                    self.i = e + 1;
                    return Some(Str {
                        start: u32::try_from(start).ok()?,
                        end: u32::try_from(arena.len()).ok()?,
                        arena: true,
                    });
                }
                b'\\' => {
                    let c = *self.b.get(e + 1)?;
                    let mut next = e + 2;
                    let ch = match c {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4(e + 2)?;
                            next = e + 6;
                            if (0xD800..0xDC00).contains(&hi) {
                                if self.b.get(next..next + 2)? != b"\\u" {
                                    return None;
                                }
                                let lo = self.hex4(next + 2)?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return None;
                                }
                                next += 6;
                                char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
                            } else {
                                char::from_u32(hi)?
                            }
                        }
                        _ => return None,
                    };
                    arena.push(ch);
                    from = next;
                    e = self.string_stop(next)?;
                }
                _ => return None,
            }
        }
    }

    fn hex4(&self, at: usize) -> R<u32> {
        let h = self.b.get(at..at + 4)?;
        let mut v = 0u32;
        for &c in h {
            v = v * 16 + (c as char).to_digit(16)?;
        }
        Some(v)
    }

    /// Skips a string, validating its escapes.
    fn skip_string(&mut self) -> R<()> {
        self.eat(b'"')?;
        let mut e = self.string_stop(self.i)?;
        loop {
            match self.b[e] {
                b'"' => {
                    self.i = e + 1;
                    return Some(());
                }
                b'\\' => {
                    let next = match *self.b.get(e + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => e + 2,
                        b'u' => {
                            let v = self.hex4(e + 2)?;
                            // Surrogates are refused rather than paired here (rare in skipped
                            // values; serde_json rejects a lone one).
                            if (0xD800..0xE000).contains(&v) {
                                return None;
                            }
                            e + 6
                        }
                        _ => return None,
                    };
                    e = self.string_stop(next)?;
                }
                _ => return None,
            }
        }
    }

    /// A number's text, validated by the JSON grammar; `int` says it has no fraction or
    /// exponent.
    fn number(&mut self) -> R<(&'a [u8], bool)> {
        self.ws();
        let b = self.b;
        let s = self.i;
        let mut i = s;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => return None,
        }
        let mut int = true;
        if b.get(i) == Some(&b'.') {
            int = false;
            i += 1;
            if !b.get(i)?.is_ascii_digit() {
                return None;
            }
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            int = false;
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !b.get(i)?.is_ascii_digit() {
                return None;
            }
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        self.i = i;
        Some((&b[s..i], int))
    }

    /// An integer number (no fraction, no exponent) that fits `i64`.
    fn int(&mut self) -> R<i64> {
        let (t, int) = self.number()?;
        if !int {
            return None;
        }
        parse_i64(t)
    }

    fn literal(&mut self, lit: &[u8]) -> R<()> {
        self.ws();
        if self.b.get(self.i..self.i + lit.len())? == lit {
            self.i += lit.len();
            Some(())
        } else {
            None
        }
    }

    /// Skips any JSON value at nesting `depth`.
    fn skip_value(&mut self, depth: usize) -> R<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.skip_string()?;
                    self.eat(b':')?;
                    self.skip_value(depth + 1)?;
                    match self.peek()? {
                        b',' => self.i += 1,
                        b'}' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                if self.peek()? == b']' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => {
                let (t, int) = self.number()?;
                if !int && t.iter().any(|&c| c == b'e' || c == b'E') {
                    return None;
                }
                if t.len() > MAX_SKIPPED_NUMBER {
                    return None;
                }
                Some(())
            }
        }
    }

    /// Walks an object's members: `f` is called with each key and handles its value.
    #[inline]
    fn object(&mut self, mut f: impl FnMut(&mut Self, &'a [u8]) -> R<()>) -> R<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let k = self.key()?;
            f(self, k)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Walks an array's elements with `f`.
    #[inline]
    fn array(&mut self, mut f: impl FnMut(&mut Self) -> R<()>) -> R<()> {
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        loop {
            f(self)?;
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// `-?[0-9]+` that fits `i64` (the grammar was checked by the caller or is checked here).
fn parse_i64(t: &[u8]) -> R<i64> {
    let (neg, d) = match t.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, t),
    };
    if d.is_empty() || d.len() > 19 {
        return None;
    }
    let mut v: i64 = 0;
    for &c in d {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as i64)?;
    }
    Some(if neg { -v } else { v })
}

/// Marks `bit` in `seen`; `None` when the key was already there (serde rejects duplicate
/// fields of a struct).
#[inline]
fn once(seen: &mut u32, bit: u32) -> R<()> {
    if *seen & bit != 0 {
        return None;
    }
    *seen |= bit;
    Some(())
}

/// Keys the serde model accepts as aliases (snake_case, pre-1.0 names) or reads with other
/// meanings: the fast path leaves objects holding them to the serde path.
fn is_alias(k: &[u8]) -> bool {
    matches!(
        k,
        b"resource_spans"
            | b"resourceMetrics"
            | b"resource_metrics"
            | b"resourceLogs"
            | b"resource_logs"
            | b"scope_spans"
            | b"instrumentationLibrarySpans"
            | b"instrumentation_library_spans"
            | b"instrumentationLibrary"
            | b"instrumentation_library"
            | b"trace_id"
            | b"span_id"
            | b"parent_span_id"
            | b"trace_state"
            | b"start_time_unix_nano"
            | b"end_time_unix_nano"
            | b"string_value"
            | b"bool_value"
            | b"int_value"
            | b"double_value"
            | b"bytes_value"
            | b"bytesValue"
            | b"array_value"
            | b"arrayValue"
            | b"kvlist_value"
            | b"kvlistValue"
    )
}

/// The input's bytes `start..end`.
fn input_str(start: usize, end: usize) -> R<Str> {
    Some(Str {
        start: u32::try_from(start).ok()?,
        end: u32::try_from(end).ok()?,
        arena: false,
    })
}

/// The arena's bytes `start..end`.
fn arena_str(start: usize, end: usize) -> R<Str> {
    Some(Str {
        start: u32::try_from(start).ok()?,
        end: u32::try_from(end).ok()?,
        arena: true,
    })
}

/// An integer written as the input's digits `s` (`-?[0-9]+`, checked here to fit `i64`),
/// rendered in decimal as the serde path renders it: the digits themselves when they are that
/// form (no leading zeros, no `-0`), else the rendering, in the arena.
fn int_text(input: &[u8], s: Str, arena: &mut String) -> R<Str> {
    let t = &input[s.start as usize..s.end as usize];
    let v = parse_i64(t)?;
    // `parse_i64` took `-?[0-9]+`: the shortest form has no leading zero and is not `-0`.
    let digits = t.strip_prefix(b"-").unwrap_or(t);
    if digits[0] != b'0' || t == b"0" {
        return Some(s);
    }
    let start = arena.len();
    arena.push_str(itoa::Buffer::new().format(v));
    arena_str(start, arena.len())
}

fn len32<T>(v: &[T]) -> R<u32> {
    u32::try_from(v.len()).ok()
}

/// A time: a non-negative 64-bit integer written as a digit string or an integer number. A
/// negative one, either way, is refused: the serde path rejects the span with a note
/// (`negative time`), which only it writes.
fn int64(c: &mut Cur, arena: &mut String) -> R<i64> {
    if c.peek()? == b'"' {
        let s = c.string(arena)?;
        if s.arena {
            return None;
        }
        let t = &c.b[s.start as usize..s.end as usize];
        if t.first() == Some(&b'-') {
            return None;
        }
        parse_i64(t)
    } else {
        c.int().filter(|v| *v >= 0)
    }
}

fn id<const N: usize>(c: &mut Cur, arena: &mut String) -> R<[u8; N]> {
    let s = c.string(arena)?;
    if s.arena {
        return None;
    }
    decode_hex_bytes::<N>(&c.b[s.start as usize..s.end as usize])
}

impl Scanner {
    /// Scans one object (`text`, already a valid `&str`). `None` means "use the serde path";
    /// nothing has been appended anywhere then.
    pub(super) fn scan<'s>(
        &'s mut self,
        text: &'s str,
        cfg: &Arc<IdentityConfig>,
    ) -> R<Scanned<'s>> {
        let mut c = Cur {
            b: text.as_bytes(),
            i: 0,
            newlines: true,
        };
        self.object(&mut c, cfg)?;
        c.ws();
        (c.i == c.b.len()).then_some(())?;
        Some(self.scanned(text))
    }

    /// Scans the object that starts `input` (JSON lines: a line and the lines after it) and
    /// ends its line: after it only spaces, tabs, carriage returns or form feeds (what the
    /// line reader trims), then a newline or the end of `input`. Returns the scanned object
    /// and the index of that newline (`input.len()` without one). The line is found by the
    /// scan itself, so a line is read once instead of searched for its newline first and then
    /// scanned. `None` as for [`Scanner::scan`] (also when the object is not valid UTF-8);
    /// the line then goes to the serde path, and [`Scanner::scan`] would refuse it too.
    pub(super) fn scan_line<'s>(
        &'s mut self,
        input: &'s [u8],
        cfg: &Arc<IdentityConfig>,
    ) -> R<(Scanned<'s>, usize)> {
        let mut c = Cur {
            b: input,
            i: 0,
            newlines: false,
        };
        self.object(&mut c, cfg)?;
        let end = c.i;
        let mut nl = end;
        while nl < input.len() && matches!(input[nl], b' ' | b'\t' | b'\r' | b'\x0c') {
            nl += 1;
        }
        if nl < input.len() && input[nl] != b'\n' {
            return None;
        }
        let text = simdutf8::basic::from_utf8(&input[..end]).ok()?;
        Some((self.scanned(text), nl))
    }

    /// The object at `c` into the scanner's lists (cleared first).
    fn object(&mut self, c: &mut Cur, cfg: &Arc<IdentityConfig>) -> R<()> {
        self.arena.clear();
        self.resources.clear();
        self.scopes.clear();
        self.spans.clear();
        self.kvs.clear();
        CACHE.with(|cache| {
            cache.borrow_mut().prepare(cfg);
            self.doc(c, &cache.borrow())
        })
    }

    fn scanned<'s>(&'s self, text: &'s str) -> Scanned<'s> {
        #[cfg(test)]
        tests::ACCEPTED.with(|a| a.set(a.get() + 1));
        Scanned { text, sc: self }
    }

    fn doc(&mut self, c: &mut Cur, cache: &ResourceCache) -> R<()> {
        let mut seen = 0;
        c.object(|c, k| match k {
            b"resourceSpans" => {
                once(&mut seen, 1)?;
                c.array(|c| self.resource_spans(c, cache))
            }
            k if is_alias(k) => None,
            _ => c.skip_value(1),
        })
    }

    fn resource_spans(&mut self, c: &mut Cur, cache: &ResourceCache) -> R<()> {
        let mut seen = 0;
        let mut attrs = (0, 0);
        let scopes_start = len32(&self.scopes)?;
        let mut source = ResourceSource::None;
        c.object(|c, k| match k {
            b"resource" => {
                once(&mut seen, 1)?;
                c.ws();
                let start = c.i;
                if let Some((e, len)) = cache.lookup(c.b, start, c.newlines) {
                    #[cfg(test)]
                    tests::CACHE_HITS.with(|h| h.set(h.get() + 1));
                    c.i += len;
                    source = ResourceSource::Cached(e);
                    return Some(());
                }
                let mut rseen = 0;
                c.object(|c, k| match k {
                    b"attributes" => {
                        once(&mut rseen, 1)?;
                        attrs = self.key_values(c, 4)?;
                        Some(())
                    }
                    k if is_alias(k) => None,
                    _ => c.skip_value(4),
                })?;
                source = ResourceSource::Parsed(start, c.i);
                Some(())
            }
            b"scopeSpans" => {
                once(&mut seen, 2)?;
                c.array(|c| self.scope_spans(c))
            }
            k if is_alias(k) => None,
            _ => c.skip_value(3),
        })?;
        self.resources.push(ResourceIr {
            attrs,
            scopes: (scopes_start, len32(&self.scopes)?),
            source,
        });
        Some(())
    }

    fn scope_spans(&mut self, c: &mut Cur) -> R<()> {
        let mut seen = 0;
        let mut name = None;
        let spans_start = len32(&self.spans)?;
        c.object(|c, k| match k {
            b"scope" => {
                once(&mut seen, 1)?;
                let mut sseen = 0;
                c.object(|c, k| match k {
                    b"name" => {
                        once(&mut sseen, 1)?;
                        name = Some(c.string(&mut self.arena)?);
                        Some(())
                    }
                    k if is_alias(k) => None,
                    _ => c.skip_value(6),
                })
            }
            b"spans" => {
                once(&mut seen, 2)?;
                c.array(|c| self.span(c))
            }
            k if is_alias(k) => None,
            _ => c.skip_value(5),
        })?;
        self.scopes.push(ScopeIr {
            name,
            spans: (spans_start, len32(&self.spans)?),
        });
        Some(())
    }

    fn span(&mut self, c: &mut Cur) -> R<()> {
        let mut seen = 0u32;
        let mut trace_id = None;
        let mut span_id = None;
        let mut parent = None;
        let mut trace_state = None;
        let mut name = None;
        let mut kind_v = kind::UNSPECIFIED;
        let mut start = None;
        let mut end = None;
        let mut status_code = status::UNSET;
        let mut status_message = None;
        let mut attrs = (0, 0);
        let mut exception = None;
        c.object(|c, k| {
            match k {
                b"traceId" => {
                    once(&mut seen, 1)?;
                    trace_id = Some(id::<16>(c, &mut self.arena)?);
                }
                b"spanId" => {
                    once(&mut seen, 2)?;
                    span_id = Some(id::<8>(c, &mut self.arena)?);
                }
                b"parentSpanId" => {
                    once(&mut seen, 4)?;
                    let s = c.string(&mut self.arena)?;
                    if s.arena {
                        return None;
                    }
                    // "" is how OTLP/JSON writes "no parent"; all zeros means the same.
                    if s.start != s.end {
                        let p = decode_hex_bytes::<8>(&c.b[s.start as usize..s.end as usize])?;
                        parent = (p != [0; 8]).then_some(p);
                    }
                }
                b"traceState" => {
                    once(&mut seen, 8)?;
                    trace_state = Some(c.string(&mut self.arena)?);
                }
                b"name" => {
                    once(&mut seen, 16)?;
                    name = Some(c.string(&mut self.arena)?);
                }
                b"kind" => {
                    once(&mut seen, 32)?;
                    kind_v = i32::try_from(c.int()?).ok()?;
                }
                b"startTimeUnixNano" => {
                    once(&mut seen, 64)?;
                    start = Some(int64(c, &mut self.arena)?);
                }
                b"endTimeUnixNano" => {
                    once(&mut seen, 128)?;
                    end = Some(int64(c, &mut self.arena)?);
                }
                b"attributes" => {
                    once(&mut seen, 256)?;
                    attrs = self.key_values(c, 8)?;
                }
                b"events" => {
                    once(&mut seen, 512)?;
                    c.array(|c| {
                        let (is_exc, kvs) = self.event(c)?;
                        if is_exc && exception.is_none() {
                            exception = Some(kvs);
                        }
                        Some(())
                    })?;
                }
                b"status" => {
                    once(&mut seen, 1024)?;
                    let mut sseen = 0;
                    c.object(|c, k| match k {
                        b"code" => {
                            once(&mut sseen, 1)?;
                            status_code = i32::try_from(c.int()?).ok()?;
                            Some(())
                        }
                        b"message" => {
                            once(&mut sseen, 2)?;
                            status_message = Some(c.string(&mut self.arena)?);
                            Some(())
                        }
                        k if is_alias(k) => None,
                        _ => c.skip_value(9),
                    })?;
                }
                k if is_alias(k) => return None,
                _ => c.skip_value(8)?,
            }
            Some(())
        })?;
        let trace_id = trace_id.filter(|t| *t != [0; 16])?;
        let span_id = span_id.filter(|s| *s != [0; 8])?;
        let (start, end) = (start?, end?);
        if end < start {
            return None;
        }
        self.spans.push(SpanIr {
            trace_id,
            span_id,
            parent,
            trace_state,
            name,
            kind: kind_v,
            start,
            end,
            status_code,
            status_message,
            attrs,
            exception,
        });
        Some(())
    }

    /// An event: whether it is named `exception`, and its attributes.
    fn event(&mut self, c: &mut Cur) -> R<(bool, Range)> {
        let mut seen = 0;
        let mut name = None;
        let mut attrs = (0, 0);
        c.object(|c, k| match k {
            b"name" => {
                once(&mut seen, 1)?;
                name = Some(c.string(&mut self.arena)?);
                Some(())
            }
            b"attributes" => {
                once(&mut seen, 2)?;
                attrs = self.key_values(c, 10)?;
                Some(())
            }
            k if is_alias(k) => None,
            _ => c.skip_value(10),
        })?;
        let is_exc = name.is_some_and(|n| self.bytes(c.b, n) == b"exception");
        Some((is_exc, attrs))
    }

    fn bytes<'x>(&'x self, input: &'x [u8], s: Str) -> &'x [u8] {
        let r = s.start as usize..s.end as usize;
        if s.arena {
            &self.arena.as_bytes()[r]
        } else {
            &input[r]
        }
    }

    /// A `KeyValue` written exactly as exporters write it, `{"key":K,"value":{"T":V}}` with
    /// no whitespace and `T` one of `stringValue`, `intValue`, `boolValue`: compared as byte
    /// strings instead of key by key (most of a span's bytes are such entries). `None` leaves
    /// `c` where it was, for the general path.
    fn key_value_literal(&mut self, c: &mut Cur) -> R<Kv> {
        let save = c.i;
        let r = self.key_value_literal_at(c);
        if r.is_none() {
            c.i = save;
        }
        r
    }

    #[inline]
    fn key_value_literal_at(&mut self, c: &mut Cur) -> R<Kv> {
        const HEAD: &[u8] = b"{\"key\":";
        const VALUE: &[u8] = b",\"value\":{\"";
        c.ws();
        if !c.b[c.i..].starts_with(HEAD) {
            return None;
        }
        c.i += HEAD.len();
        let key = c.string(&mut self.arena)?;
        if !c.b[c.i..].starts_with(VALUE) {
            return None;
        }
        c.i += VALUE.len();
        let rest = &c.b[c.i..];
        let val = if rest.starts_with(b"stringValue\":") {
            c.i += 13;
            c.string(&mut self.arena)?
        } else if rest.starts_with(b"intValue\":\"") {
            c.i += 10;
            let s = c.string(&mut self.arena)?;
            if s.arena {
                return None;
            }
            int_text(c.b, s, &mut self.arena)?
        } else if rest.starts_with(b"boolValue\":true") {
            c.i += 15;
            input_str(c.i - 4, c.i)?
        } else if rest.starts_with(b"boolValue\":false") {
            c.i += 16;
            input_str(c.i - 5, c.i)?
        } else {
            return None;
        };
        if !c.b[c.i..].starts_with(b"}}") {
            return None;
        }
        c.i += 2;
        Some(Kv {
            key,
            val: Val::Text(val),
        })
    }

    /// A `KeyValue` list at nesting `depth`; its entries are appended to `kvs`.
    fn key_values(&mut self, c: &mut Cur, depth: usize) -> R<Range> {
        let start = len32(&self.kvs)?;
        c.array(|c| {
            if let Some(kv) = self.key_value_literal(c) {
                self.kvs.push(kv);
                return Some(());
            }
            let mut seen = 0;
            let mut key = EMPTY;
            let mut val = Val::Absent;
            c.object(|c, k| match k {
                b"key" => {
                    once(&mut seen, 1)?;
                    key = c.string(&mut self.arena)?;
                    Some(())
                }
                b"value" => {
                    once(&mut seen, 2)?;
                    val = self.any_value(c, depth + 2)?;
                    Some(())
                }
                k if is_alias(k) => None,
                _ => c.skip_value(depth + 2),
            })?;
            self.kvs.push(Kv { key, val });
            Some(())
        })?;
        Some((start, len32(&self.kvs)?))
    }

    /// An `AnyValue` object holding at most one value key of the canonical subset.
    fn any_value(&mut self, c: &mut Cur, depth: usize) -> R<Val> {
        let mut v = None;
        c.object(|c, k| {
            let got = match k {
                b"stringValue" => c.string(&mut self.arena)?,
                b"intValue" => {
                    let s = match c.peek()? {
                        b'"' => c.string(&mut self.arena)?,
                        _ => {
                            let (t, int) = c.number()?;
                            if !int {
                                return None;
                            }
                            input_str(c.i - t.len(), c.i)?
                        }
                    };
                    if s.arena {
                        return None;
                    }
                    int_text(c.b, s, &mut self.arena)?
                }
                b"boolValue" => match c.peek()? {
                    b't' => {
                        c.literal(b"true")?;
                        input_str(c.i - 4, c.i)?
                    }
                    b'f' => {
                        c.literal(b"false")?;
                        input_str(c.i - 5, c.i)?
                    }
                    _ => return None,
                },
                b"doubleValue" => {
                    let (t, _) = c.number()?;
                    let d = serde_json::from_slice::<f64>(t).ok()?;
                    let start = self.arena.len();
                    push_f64(&mut self.arena, d);
                    arena_str(start, self.arena.len())?
                }
                k if is_alias(k) => return None,
                _ => return c.skip_value(depth + 1),
            };
            // A second value key: the serde path's "first wins" applies; leave it to it.
            if v.is_some() {
                return None;
            }
            v = Some(got);
            Some(())
        })?;
        Some(Val::Text(v.unwrap_or(EMPTY)))
    }
}

impl<'a> Scanned<'a> {
    fn str(&self, s: Str) -> &'a str {
        let r = s.start as usize..s.end as usize;
        if s.arena {
            let sc: &'a Scanner = self.sc;
            &sc.arena[r]
        } else {
            &self.text[r]
        }
    }

    /// A value's text, as the serde path's `render_value` renders it (`""` when absent).
    fn value(&self, v: Val) -> &'a str {
        match v {
            Val::Absent => "",
            Val::Text(s) => self.str(s),
        }
    }

    /// A key–value list rendered into new strings: resources, which the cache keeps.
    fn attributes(&self, r: Range) -> Vec<(String, String)> {
        self.sc.kvs[r.0 as usize..r.1 as usize]
            .iter()
            .map(|kv| (self.str(kv.key).to_string(), self.value(kv.val).to_string()))
            .collect()
    }

    /// `attr_string`: the rendered value of the first entry with `key`.
    fn attr_str(&self, r: Range, key: &str) -> Option<&'a str> {
        let kv = self.sc.kvs[r.0 as usize..r.1 as usize]
            .iter()
            .find(|kv| self.str(kv.key) == key)?;
        match kv.val {
            Val::Absent => None,
            Val::Text(s) => Some(self.str(s)),
        }
    }

    /// Resources of the object: for each `(resource, scope)` with spans, its rendered
    /// attributes and scope name, and the spans' indices (`decode_doc`'s loop).
    pub(super) fn for_each_scope(
        &self,
        cfg: &IdentityConfig,
        mut f: impl FnMut(&ResourceInfo, std::ops::Range<usize>),
    ) {
        CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            for res in &self.sc.resources {
                let mut entry = match res.source {
                    ResourceSource::Cached(e) => Some(e),
                    _ => None,
                };
                let mut res_uncached = false;
                for sc in &self.sc.scopes[res.scopes.0 as usize..res.scopes.1 as usize] {
                    if sc.spans.0 == sc.spans.1 {
                        continue;
                    }
                    let scope_name = sc
                        .name
                        .map(|n| self.str(n))
                        .filter(|n| !n.is_empty())
                        .map(str::to_string);
                    let spans = sc.spans.0 as usize..sc.spans.1 as usize;
                    if let (None, false, ResourceSource::Parsed(a, b)) =
                        (entry, res_uncached, res.source)
                    {
                        let attrs = self.attributes(res.attrs);
                        entry = cache.insert(&self.text.as_bytes()[a..b], attrs);
                        if entry.is_none() {
                            // Full: this object's other scopes decode it again, uncached.
                            res_uncached = true;
                        }
                    }
                    match entry {
                        Some(e) => f(&cache.info(e, scope_name), spans),
                        None => {
                            let attrs = self.attributes(res.attrs);
                            f(
                                &ResourceInfo::from_attributes(attrs, scope_name, cfg),
                                spans,
                            );
                        }
                    }
                }
            }
        });
    }

    /// Span `i` as a record borrowing the input's (and the arena's) strings, its attributes
    /// in `attributes` (cleared first; handed back for the next span to reuse): what
    /// `SpanDecoder::fill` makes of a span the fast path accepted, without copying a string.
    pub(super) fn span(
        &self,
        i: usize,
        line: u64,
        mut attributes: Vec<(&'a str, &'a str)>,
    ) -> SpanRef<'a> {
        let s = &self.sc.spans[i];
        attributes.clear();
        attributes.extend(
            self.sc.kvs[s.attrs.0 as usize..s.attrs.1 as usize]
                .iter()
                .map(|kv| (self.str(kv.key), self.value(kv.val))),
        );
        let exception = |key| s.exception.and_then(|r| self.attr_str(r, key));
        SpanRef {
            trace_id: s.trace_id,
            span_id: s.span_id,
            parent_span_id: s.parent,
            name: s.name.map_or("", |n| self.str(n)),
            kind: s.kind,
            start_time_unix_nano: s.start,
            end_time_unix_nano: s.end,
            status_code: s.status_code,
            status_message: s.status_message.map(|m| self.str(m)),
            trace_state: s.trace_state.map(|t| self.str(t)).filter(|t| !t.is_empty()),
            attributes,
            exception_type: exception("exception.type"),
            exception_message: exception("exception.message"),
            source_line: line as i64,
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// Objects the fast path accepted on this thread (tests check it is exercised).
        pub(crate) static ACCEPTED: Cell<u64> = const { Cell::new(0) };
        /// Resources taken from the cache on this thread.
        pub(crate) static CACHE_HITS: Cell<u64> = const { Cell::new(0) };
    }

    /// Runs `f` and returns how many resources came from the cache meanwhile.
    pub(crate) fn cache_hits_during<R>(f: impl FnOnce() -> R) -> (R, u64) {
        let before = CACHE_HITS.with(|a| a.get());
        let r = f();
        (r, CACHE_HITS.with(|a| a.get()) - before)
    }

    /// Runs `f` and returns how many objects the fast path accepted meanwhile.
    pub(crate) fn accepted_during<R>(f: impl FnOnce() -> R) -> (R, u64) {
        let before = ACCEPTED.with(|a| a.get());
        let r = f();
        (r, ACCEPTED.with(|a| a.get()) - before)
    }

    fn scan(s: &str) -> bool {
        Scanner::default()
            .scan(s, &Arc::new(IdentityConfig::default()))
            .is_some()
    }

    #[test]
    fn refuses_what_it_does_not_model() {
        let span = |extra: &str| {
            format!(
                r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","startTimeUnixNano":"1","endTimeUnixNano":"2"{extra}}}]}}]}}]}}"#
            )
        };
        assert!(scan(&span("")));
        assert!(scan(&span(
            r#","flags":257,"links":[{"x":[1,2.5,true,null,"a\"b"]}]"#
        )));
        for bad in [
            r#","kind":"SPAN_KIND_SERVER""#,
            r#","kind":1.0"#,
            r#","trace_id":"00""#,
            r#","name":null"#,
            r#","name":"a","name":"b""#,
            r#","attributes":[{"key":"a","value":{"arrayValue":{}}}]"#,
            r#","attributes":[{"key":"a","value":{"stringValue":"x","intValue":"1"}}]"#,
            r#","attributes":[{"key":"a","value":{"intValue":"99999999999999999999"}}]"#,
            r#","flags":1e5"#,
            r#","flags":01"#,
            r#","flags":"\ud800""#,
            r#","flags":"a\x""#,
            r#","flags":tru"#,
            "\u{1}",
        ] {
            assert!(!scan(&span(bad)), "accepted {bad}");
        }
        assert!(!scan(r#"{"resourceMetrics":[]}"#));
        assert!(!scan(r#"{"resourceSpans":[]} x"#));
        // Reversed times and a missing id are rejections of the serde path.
        assert!(!scan(&span("").replace(
            r#""endTimeUnixNano":"2""#,
            r#""endTimeUnixNano":"0""#
        )));
        assert!(!scan(
            &span("").replace(r#""spanId":"eee19b7ec3c1b174","#, "")
        ));
    }

    #[test]
    fn escapes_decode_into_the_arena() {
        let mut sc = Scanner::default();
        let text = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","startTimeUnixNano":"1","endTimeUnixNano":"2","name":"a\"\\\/\n\u00e9\ud83d\ude00z"}]}]}]}"#;
        let s = sc
            .scan(text, &Arc::new(IdentityConfig::default()))
            .expect("canonical");
        let rec = s.span(0, 1, Vec::new());
        assert_eq!(rec.name, "a\"\\/\né😀z");
    }

    /// Values are rendered at scan time as the serde path's `render_value` renders them (the
    /// `SpanRecord` convention: integers in decimal, doubles in their shortest round-trip
    /// form): from the input's bytes where they are that text, else into the arena. The
    /// differential tests in `otlp_json` check the same against serde_json on generated values.
    #[test]
    fn values_render_as_the_serde_path_renders_them() {
        let attrs = [
            (r#"{"key":"s","value":{"stringValue":"x\u00e9"}}"#, "xé"),
            (r#"{"key":"i","value":{"intValue":"200"}}"#, "200"),
            (r#"{"key":"i0","value":{"intValue":"007"}}"#, "7"),
            (r#"{"key":"neg0","value":{"intValue":"-0"}}"#, "0"),
            (r#"{"key":"neg","value":{"intValue":"-12"}}"#, "-12"),
            (r#"{"key":"n","value":{"intValue":0042}}"#, ""),
            (r#"{"key":"num","value":{"intValue":-42}}"#, "-42"),
            (r#"{"key":"numneg0","value":{"intValue":-0}}"#, "0"),
            (r#"{"key":"neg007","value":{"intValue":"-007"}}"#, "-7"),
            (r#"{"key":"t","value":{"boolValue":true}}"#, "true"),
            (r#"{"key":"f","value":{"boolValue":false}}"#, "false"),
            (r#"{"key": "ft", "value": {"boolValue": false}}"#, "false"),
            (r#"{"key":"d","value":{"doubleValue":1.50}}"#, "1.5"),
            (r#"{"key":"e","value":{}}"#, ""),
            (r#"{"key":"a"}"#, ""),
        ];
        for (kv, want) in attrs {
            let text = format!(
                r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{kv}]}}]}}]}}]}}"#
            );
            let mut sc = Scanner::default();
            let Some(s) = sc.scan(&text, &Arc::new(IdentityConfig::default())) else {
                // A leading zero in a number is not JSON: the serde path rejects the line.
                assert!(kv.contains("0042"), "{kv} refused");
                continue;
            };
            let rec = s.span(0, 1, Vec::new());
            assert_eq!(rec.attributes.len(), 1, "{kv}");
            assert_eq!(rec.attributes[0].1, want, "{kv}");
        }
    }

    #[test]
    fn string_stop_finds_the_first_special_byte_in_any_word_position() {
        for n in 0..20 {
            for special in [b'"', b'\\', 0x1f, 0x00] {
                let mut b = vec![b'a'; n];
                b.push(special);
                b.extend_from_slice(b"\"zz\xc3\xa9");
                let c = Cur {
                    b: &b,
                    i: 0,
                    newlines: true,
                };
                assert_eq!(c.string_stop(0), Some(n), "n {n} byte {special}");
            }
            let b = "é".repeat(n).into_bytes();
            let c = Cur {
                b: &b,
                i: 0,
                newlines: true,
            };
            assert_eq!(c.string_stop(0), None);
        }
    }

    #[test]
    fn a_cache_that_refused_an_insert_is_cleared_at_the_next_scan() {
        let cfg = Arc::new(IdentityConfig::default());
        let mut c = ResourceCache::default();
        c.prepare(&cfg);
        // Filled to within less than one resource of the byte limit.
        let big = vec![b' '; LOOKUP_WINDOW - 1];
        while c.bytes + big.len() <= CACHE_BYTES {
            assert!(c.insert(&big, Vec::new()).is_some());
        }
        assert!(c.bytes < CACHE_BYTES && c.entries.len() < CACHE_ENTRIES);
        assert!(c.insert(&big, Vec::new()).is_none());
        c.prepare(&cfg);
        assert!(c.entries.is_empty() && c.bytes == 0);
        assert!(c.insert(b"{}", Vec::new()).is_some());
        // A resource too large to be looked up is not stored, and does not mark the cache full.
        assert!(c
            .insert(&vec![b' '; LOOKUP_WINDOW + 1], Vec::new())
            .is_none());
        c.prepare(&cfg);
        assert_eq!(c.entries.len(), 1);
    }
}
