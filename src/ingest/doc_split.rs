//! Streams one JSON document (a pretty-printed `{"resourceSpans": [...]}` export) as pieces of
//! whole `resourceSpans` entries, so reading it needs memory for one piece, not the file.
//!
//! The splitter only finds value boundaries: it tracks strings (with escapes) and the nesting
//! of `{}`/`[]`, and copies bytes. Each piece is re-wrapped as `{"resourceSpans":[e1,e2,…]}`
//! and decoded by the ordinary typed model (`otlp_json`), which does all validation; a piece
//! that does not decode is one rejected record, as a bad line is. Top-level members other
//! than `resourceSpans` (`resourceMetrics`, unknown keys) are gathered into one more object
//! decoded at the end. The entries' own bytes, newlines included, are copied unchanged, so a
//! parse error's line inside a piece maps back to the file's line.

use std::io::{self, Read};

/// Bytes read from the input at a time.
const READ_BYTES: usize = 1 << 20;

/// One unit of a split document.
#[derive(Debug, PartialEq)]
pub enum Piece {
    /// `{"resourceSpans":[…]}` holding entries `first_resource..` of the document's array,
    /// the first of which starts on line `line` of the file.
    Spans {
        /// The re-wrapped JSON object.
        data: Vec<u8>,
        /// Index of the first entry in the document's `resourceSpans` array.
        first_resource: usize,
        /// File line where the first entry starts.
        line: u64,
    },
    /// The other top-level members as one object (`{}` members only when there were some),
    /// starting on line `line`.
    Rest {
        /// The JSON object.
        data: Vec<u8>,
        /// File line of the first such member.
        line: u64,
    },
    /// The document's structure is broken outside the entries (a missing `,`, text after the
    /// closing brace, the file ending before it): reading stops here.
    Malformed {
        /// File line of the problem.
        line: u64,
        /// What was expected.
        message: String,
        /// The file ended (a cut-off export) rather than holding a wrong byte.
        truncated: bool,
    },
}

/// Where in the document the splitter is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Before the opening `{`.
    Start,
    /// After `{` or a member's `,`: a key or `}` comes next.
    Member { first: bool },
    /// Inside the `resourceSpans` array: an entry or `]` comes next.
    Entries { first: bool },
    /// After the closing `}`: only whitespace may follow.
    Done,
    /// Reading stopped.
    Stopped,
}

/// Splits one JSON document read from `R` into [`Piece`]s of about `piece_bytes` each.
pub struct DocSplitter<R> {
    reader: R,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    line: u64,
    state: State,
    piece_bytes: usize,
    next_resource: usize,
    rest: Vec<u8>,
    rest_line: u64,
    /// A read error of the underlying stream (a corrupt compressed file), with the line reached.
    pub read_error: Option<(io::Error, u64)>,
}

/// `true` for the keys canalyst reads as the span array (see `otlp_json::Doc`).
fn is_spans_key(key: &[u8]) -> bool {
    key == b"resourceSpans" || key == b"resource_spans"
}

impl<R: Read> DocSplitter<R> {
    /// A splitter over `reader`, whose first byte is on line `first_line` of the file.
    pub fn new(reader: R, first_line: u64, piece_bytes: usize) -> Self {
        Self {
            reader,
            buf: Vec::new(),
            pos: 0,
            eof: false,
            line: first_line,
            state: State::Start,
            piece_bytes: piece_bytes.max(1),
            next_resource: 0,
            rest: Vec::new(),
            rest_line: first_line,
            read_error: None,
        }
    }

    /// Makes at least one unread byte available unless the input is exhausted.
    fn fill(&mut self) -> bool {
        if self.pos < self.buf.len() {
            return true;
        }
        if self.eof {
            return false;
        }
        self.buf.clear();
        self.pos = 0;
        let mut chunk = (&mut self.reader).take(READ_BYTES as u64);
        match chunk.read_to_end(&mut self.buf) {
            Ok(0) => self.eof = true,
            Ok(_) => {}
            Err(e) => {
                self.eof = true;
                self.read_error = Some((e, self.line));
            }
        }
        self.pos < self.buf.len()
    }

    /// The next byte that is not JSON whitespace (not consumed), or `None` at the end.
    fn peek_token(&mut self) -> Option<u8> {
        loop {
            if !self.fill() {
                return None;
            }
            while self.pos < self.buf.len() {
                match self.buf[self.pos] {
                    b'\n' => self.line += 1,
                    b' ' | b'\t' | b'\r' => {}
                    b => return Some(b),
                }
                self.pos += 1;
            }
        }
    }

    /// Copies one JSON value (object, array, string or scalar) into `out`. Returns `false`
    /// when the input ended inside it (what was read is in `out`).
    fn copy_value(&mut self, out: &mut Vec<u8>) -> bool {
        let mut depth = 0u32;
        let mut in_string = false;
        let mut escaped = false;
        let mut started = false;
        loop {
            if !self.fill() {
                return false;
            }
            let start = self.pos;
            let bytes = &self.buf[start..];
            let mut end = None;
            for (i, &b) in bytes.iter().enumerate() {
                if b == b'\n' {
                    self.line += 1;
                }
                if in_string {
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        in_string = false;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth > 0 => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    // A scalar (number, true, false, null, or junk) ends before the next
                    // delimiter; a closing bracket at depth 0 belongs to the container.
                    b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n' if depth == 0 && started => {
                        if b == b'\n' {
                            self.line -= 1;
                        }
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
                started = true;
            }
            match end {
                Some(n) => {
                    out.extend_from_slice(&bytes[..n]);
                    self.pos = start + n;
                    return true;
                }
                None => {
                    out.extend_from_slice(bytes);
                    self.pos = self.buf.len();
                }
            }
        }
    }

    fn malformed(&mut self, expected: &str) -> Piece {
        self.state = State::Stopped;
        match self.peek_token() {
            Some(b) => Piece::Malformed {
                line: self.line,
                message: format!("expected {expected}, found `{}`", char::from(b)),
                truncated: false,
            },
            None => Piece::Malformed {
                line: self.line,
                message: format!("the document ends where {expected} was expected"),
                truncated: true,
            },
        }
    }

    /// The `Rest` piece if any other member was seen.
    fn take_rest(&mut self) -> Option<Piece> {
        if self.rest.is_empty() {
            return None;
        }
        let mut data = Vec::with_capacity(self.rest.len() + 2);
        data.push(b'{');
        data.extend_from_slice(&self.rest);
        data.push(b'}');
        self.rest = Vec::new();
        Some(Piece::Rest {
            data,
            line: self.rest_line,
        })
    }

    /// The next piece, or `None` when the document is done (or reading stopped).
    pub fn next_piece(&mut self) -> Option<Piece> {
        loop {
            match self.state {
                State::Stopped => return None,
                State::Done => {
                    self.state = State::Stopped;
                    if let Some(rest) = self.take_rest() {
                        // Trailing text is reported after the members that decoded.
                        self.state = State::Done;
                        return Some(rest);
                    }
                    if self.peek_token().is_some() {
                        return Some(self.malformed("the end of the document"));
                    }
                    return None;
                }
                State::Start => {
                    if self.peek_token() != Some(b'{') {
                        return Some(self.malformed("`{` opening the document"));
                    }
                    self.pos += 1;
                    self.state = State::Member { first: true };
                }
                State::Member { first } => {
                    match self.peek_token() {
                        Some(b'}') => {
                            self.pos += 1;
                            self.state = State::Done;
                            continue;
                        }
                        Some(b',') if !first => {
                            self.pos += 1;
                        }
                        _ if !first => return Some(self.malformed("`,` or `}` after a member")),
                        _ => {}
                    }
                    if self.peek_token() != Some(b'"') {
                        return Some(self.malformed("a member name"));
                    }
                    let key_line = self.line;
                    let mut key = Vec::new();
                    if !self.copy_value(&mut key) {
                        return Some(self.malformed("the end of a member name"));
                    }
                    if self.peek_token() != Some(b':') {
                        return Some(self.malformed("`:` after a member name"));
                    }
                    self.pos += 1;
                    let name = &key[1..key.len().saturating_sub(1)];
                    if is_spans_key(name) && self.peek_token() == Some(b'[') {
                        self.pos += 1;
                        self.state = State::Entries { first: true };
                        continue;
                    }
                    if self.rest.is_empty() {
                        self.rest_line = key_line;
                    } else {
                        self.rest.push(b',');
                    }
                    self.rest.extend_from_slice(&key);
                    self.rest.push(b':');
                    if self.peek_token().is_none() {
                        return Some(self.malformed("a member value"));
                    }
                    let mut rest = std::mem::take(&mut self.rest);
                    let whole = self.copy_value(&mut rest);
                    self.rest = rest;
                    if !whole {
                        self.state = State::Stopped;
                        return self.take_rest();
                    }
                    self.state = State::Member { first: false };
                }
                State::Entries { first } => {
                    let mut data = b"{\"resourceSpans\":[".to_vec();
                    let first_resource = self.next_resource;
                    let mut line = self.line;
                    let mut first = first;
                    let mut entries = 0usize;
                    let mut end_line = line;
                    loop {
                        match self.peek_token() {
                            Some(b']') => {
                                self.pos += 1;
                                self.state = State::Member { first: false };
                                break;
                            }
                            Some(b',') if !first => self.pos += 1,
                            _ if !first => {
                                if entries == 0 {
                                    return Some(self.malformed("`,` or `]` after an entry"));
                                }
                                // Report the entries read so far first; the next call
                                // finds the same problem with no entries pending.
                                self.state = State::Entries { first: false };
                                break;
                            }
                            _ => {}
                        }
                        if self.peek_token().is_none() {
                            if entries == 0 {
                                return Some(self.malformed("an entry or `]`"));
                            }
                            self.state = State::Entries { first: false };
                            break;
                        }
                        if entries == 0 {
                            line = self.line;
                        } else {
                            // Keep the line breaks between entries so that a decoder's line
                            // number inside the piece is the file's, counted from `line`.
                            data.push(b',');
                            data.extend(std::iter::repeat_n(
                                b'\n',
                                (self.line - end_line) as usize,
                            ));
                        }
                        let whole = self.copy_value(&mut data);
                        end_line = self.line;
                        entries += 1;
                        self.next_resource += 1;
                        first = false;
                        if !whole {
                            // The file ends inside this entry: hand the cut-off text to the
                            // decoder, which reports it (serde's end-of-input error).
                            self.state = State::Stopped;
                            return Some(Piece::Spans {
                                data,
                                first_resource,
                                line,
                            });
                        }
                        self.state = State::Entries { first: false };
                        if data.len() >= self.piece_bytes {
                            break;
                        }
                    }
                    if entries > 0 {
                        data.extend_from_slice(b"]}");
                        return Some(Piece::Spans {
                            data,
                            first_resource,
                            line,
                        });
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(doc: &str, piece_bytes: usize) -> Vec<Piece> {
        let mut s = DocSplitter::new(doc.as_bytes(), 1, piece_bytes);
        std::iter::from_fn(|| s.next_piece()).collect()
    }

    fn text(p: &Piece) -> (&str, usize, u64) {
        match p {
            Piece::Spans {
                data,
                first_resource,
                line,
            } => (std::str::from_utf8(data).unwrap(), *first_resource, *line),
            Piece::Rest { data, line } => (std::str::from_utf8(data).unwrap(), usize::MAX, *line),
            Piece::Malformed { message, line, .. } => (message, usize::MAX - 1, *line),
        }
    }

    #[test]
    fn entries_are_grouped_and_numbered_with_their_lines() {
        let doc =
            "{\n \"resourceSpans\": [\n  {\"a\": \"x]}\\\"\"},\n  {\"b\": [1, {}]},\n  {}\n ]\n}\n";
        let p = split(doc, 1);
        assert_eq!(p.len(), 3);
        assert_eq!(
            text(&p[0]),
            ("{\"resourceSpans\":[{\"a\": \"x]}\\\"\"}]}", 0, 3)
        );
        assert_eq!(
            text(&p[1]),
            ("{\"resourceSpans\":[{\"b\": [1, {}]}]}", 1, 4)
        );
        assert_eq!(text(&p[2]), ("{\"resourceSpans\":[{}]}", 2, 5));
        let whole = split(doc, 1 << 20);
        assert_eq!(whole.len(), 1);
        assert_eq!(
            text(&whole[0]),
            (
                "{\"resourceSpans\":[{\"a\": \"x]}\\\"\"},\n{\"b\": [1, {}]},\n{}]}",
                0,
                3
            )
        );
    }

    #[test]
    fn other_members_come_last_as_one_object() {
        let doc = "{\"resourceMetrics\": [{\"m\": 1}],\n\"x\": 2.5e3, \"resourceSpans\": [{}], \"y\": null}";
        let p = split(doc, 1 << 20);
        assert_eq!(text(&p[0]), ("{\"resourceSpans\":[{}]}", 0, 2));
        assert_eq!(
            text(&p[1]),
            (
                "{\"resourceMetrics\":[{\"m\": 1}],\"x\":2.5e3,\"y\":null}",
                usize::MAX,
                1
            )
        );
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn broken_structure_stops_after_the_entries_before_it() {
        let p = split("{\"resourceSpans\": [{} {}]}", 1 << 20);
        assert_eq!(text(&p[0]).0, "{\"resourceSpans\":[{}]}");
        assert!(
            matches!(&p[1], Piece::Malformed { message, truncated: false, .. }
            if message == "expected `,` or `]` after an entry, found `{`")
        );
        assert_eq!(p.len(), 2);

        let p = split("{\"resourceSpans\": [{}]} x", 1 << 20);
        assert!(matches!(&p[1], Piece::Malformed { message, .. }
            if message == "expected the end of the document, found `x`"));
        assert!(matches!(
            split("[1]", 10)[0],
            Piece::Malformed {
                truncated: false,
                ..
            }
        ));
    }

    #[test]
    fn a_cut_off_document_hands_the_partial_entry_to_the_decoder() {
        let p = split(
            "{\"resourceSpans\": [{}, {\"scopeSpans\": [\n{\"sp",
            1 << 20,
        );
        assert_eq!(p.len(), 1);
        assert_eq!(
            text(&p[0]),
            ("{\"resourceSpans\":[{},{\"scopeSpans\": [\n{\"sp", 0, 1)
        );
        let p = split("{\"resourceSpans\": [{}]", 1 << 20);
        assert!(matches!(
            &p[1],
            Piece::Malformed {
                truncated: true,
                ..
            }
        ));
    }

    #[test]
    fn scalars_end_at_their_delimiter() {
        let p = split("{\"n\":12,\"t\":true\n,\"resourceSpans\":[]}", 4);
        assert_eq!(text(&p[0]), ("{\"n\":12,\"t\":true}", usize::MAX, 1));
        assert_eq!(p.len(), 1);
    }
}
