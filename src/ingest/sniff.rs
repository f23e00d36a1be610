//! Format detection from content (never from the file name).
//!
//! Two steps: the *container* from the first bytes of the file (gzip, zstd, the Collector's
//! older per-message zstd framing, Parquet, length-framed protobuf, or plain), then, for text,
//! the *layout* of the decompressed JSON (one object per line, or one pretty document).

/// gzip member header (RFC 1952 §2.3.1: ID1 ID2).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// zstd frame magic number (RFC 8878 §3.1.1), little-endian 0xFD2FB528.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// Parquet file magic.
const PARQUET_MAGIC: &[u8; 4] = b"PAR1";

/// How the file's bytes are packaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// Uncompressed text (or something to be sniffed further).
    Plain,
    /// A gzip stream (possibly several members).
    Gzip,
    /// A zstd stream (possibly several frames).
    Zstd,
    /// The Collector file exporter's older framing with compression: a 4-byte big-endian
    /// length, then a zstd frame of that length holding one message (JSON or protobuf).
    ZstdFramed,
    /// A Parquet file.
    Parquet,
    /// The Collector file exporter's `proto` format: 4-byte big-endian length + message.
    FramedProto,
}

impl Container {
    /// Suffix for the detected format name (`otlp-json-lines+gzip`).
    pub fn suffix(self) -> &'static str {
        match self {
            Container::Gzip => "+gzip",
            Container::Zstd => "+zstd",
            Container::ZstdFramed => "+zstd-framed",
            _ => "",
        }
    }
}

/// Whether `data` starts like a length-framed OTLP protobuf stream: a 4-byte big-endian length
/// below 256 MiB (so the first byte is 0, which no JSON or text file starts with) followed by
/// field 1 with wire type 2 (`resource_spans`, tag byte 0x0a).
pub fn looks_like_framed_proto(data: &[u8]) -> bool {
    if data.len() < 5 || data[0] != 0 {
        return false;
    }
    let len = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
    len > 0 && data[4] == 0x0a
}

/// The container of a file whose first bytes are `head` (at least 8 bytes unless the file is
/// shorter).
pub fn detect_container(head: &[u8]) -> Container {
    if head.starts_with(&GZIP_MAGIC) {
        Container::Gzip
    } else if head.starts_with(&ZSTD_MAGIC) {
        Container::Zstd
    } else if head.starts_with(PARQUET_MAGIC) {
        Container::Parquet
    } else if head.len() >= 8 && head[4..8] == ZSTD_MAGIC {
        Container::ZstdFramed
    } else if looks_like_framed_proto(head) {
        Container::FramedProto
    } else {
        Container::Plain
    }
}

/// What decompressed content looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Nothing but whitespace.
    Empty,
    /// JSON: one object per line.
    JsonLines,
    /// JSON: one document spread over lines.
    JsonDocument,
    /// Length-framed protobuf (found inside a compressed stream).
    FramedProto,
    /// Not something canalyst reads; the text says what it looks like.
    Unsupported(String),
}

/// Iterates the non-blank lines of `data` as `(line, terminated)`.
fn non_blank_lines(data: &[u8]) -> impl Iterator<Item = (&[u8], bool)> {
    let mut rest = data;
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        let (line, terminated) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let l = &rest[..i];
                rest = &rest[i + 1..];
                (l, true)
            }
            None => {
                let l = rest;
                rest = &rest[rest.len()..];
                (l, false)
            }
        };
        let t = super::otlp_json::trim_ascii(line);
        if !t.is_empty() {
            return Some((t, terminated));
        }
    })
}

fn parses_alone(line: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
}

/// Whether `head` holds enough for [`detect_content`]: two terminated non-blank lines.
pub fn enough_for_layout(head: &[u8]) -> bool {
    non_blank_lines(head).filter(|(_, t)| *t).take(2).count() == 2
}

/// Classifies decompressed content from its beginning `head` (which holds the first two
/// non-blank lines, or the whole content when `complete`).
///
/// Rule: if the first non-blank line parses as JSON on its own, the file is JSON lines; if not
/// but the second does, it is JSON lines whose first line is bad (reported by the decoder);
/// otherwise it is one JSON document (whose parse error, if any, the decoder locates). A first
/// line that is longer than `head` is taken as one long JSON line.
pub fn detect_content(head: &[u8], complete: bool) -> Content {
    let start = super::otlp_json::trim_ascii(head);
    let Some(&first) = start.first() else {
        return Content::Empty;
    };
    if looks_like_framed_proto(head) {
        return Content::FramedProto;
    }
    if first != b'{' && first != b'[' {
        let binary = head
            .iter()
            .take(4096)
            .any(|&b| b == 0 || (b < 0x20 && !b"\t\r\n\x0c".contains(&b)));
        if binary {
            return Content::Unsupported(
                "binary data that is not gzip, zstd, Parquet or framed OTLP protobuf".to_string(),
            );
        }
        // A JSON-lines export whose first line is damaged still has JSON on its second line.
        return match non_blank_lines(head).nth(1) {
            Some((l, _)) if parses_alone(l) => Content::JsonLines,
            _ => Content::Unsupported("text that is not JSON".to_string()),
        };
    }
    let mut lines = non_blank_lines(head);
    match lines.next() {
        Some((l, terminated)) => {
            if parses_alone(l) {
                return Content::JsonLines;
            }
            if !terminated && !complete {
                return Content::JsonLines;
            }
        }
        None => return Content::Empty,
    }
    match lines.next() {
        Some((l, _)) if parses_alone(l) => Content::JsonLines,
        Some(_) => Content::JsonDocument,
        // A single line that does not parse: JSON lines, so it is reported as a bad line.
        None => Content::JsonLines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn containers_from_magic() {
        assert_eq!(detect_container(&[0x1f, 0x8b, 8, 0]), Container::Gzip);
        assert_eq!(
            detect_container(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Container::Zstd
        );
        assert_eq!(
            detect_container(&[0, 0, 0, 9, 0x28, 0xb5, 0x2f, 0xfd]),
            Container::ZstdFramed
        );
        assert_eq!(detect_container(b"PAR1\x15\x04"), Container::Parquet);
        assert_eq!(
            detect_container(&[0, 0, 1, 2, 0x0a, 3]),
            Container::FramedProto
        );
        assert_eq!(detect_container(b"{\"resourceSpans\""), Container::Plain);
    }

    #[test]
    fn layouts() {
        assert_eq!(
            detect_content(b"{\"a\":1}\n{\"b\":2}\n", true),
            Content::JsonLines
        );
        assert_eq!(
            detect_content(b"{\n  \"a\": 1\n}\n", true),
            Content::JsonDocument
        );
        assert_eq!(
            detect_content(b"garbage\n{\"b\":2}\n", true),
            Content::JsonLines
        );
        assert_eq!(
            detect_content(b"a,b,c\n1,2,3\n", true),
            Content::Unsupported("text that is not JSON".into())
        );
        assert_eq!(
            detect_content(b"{bad\n{\"b\":2}\n", true),
            Content::JsonLines
        );
        assert_eq!(detect_content(b"{\"a\":", true), Content::JsonLines);
        assert_eq!(detect_content(b" \n\t\n", true), Content::Empty);
        assert_eq!(detect_content(b"", true), Content::Empty);
        assert!(matches!(
            detect_content(b"\x7fELF\x02\x01\x01\0\0\0", true),
            Content::Unsupported(s) if s.starts_with("binary")
        ));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = detect_container(&b);
            let _ = detect_content(&b, true);
            let _ = detect_content(&b, false);
        }
    }
}
