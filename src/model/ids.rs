//! Trace and span identifiers as OTLP/JSON and other producers write them.
//!
//! OTLP/JSON (the protobuf JSON mapping as amended by the OTLP spec) writes `traceId` and
//! `spanId` as hex strings, case-insensitive. Proto3 canonical JSON (Tempo, gogo jsonpb) writes
//! them as base64; we accept that and report it, because the two encodings are ambiguous for
//! some inputs only in theory: a 32-character string is always taken as hex first.

use base64::Engine as _;

/// How an id string was decoded; anything but [`IdEncoding::Hex`] earns a data-quality note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdEncoding {
    /// Lower- or upper-case hexadecimal, as OTLP/JSON requires.
    Hex,
    /// Standard base64 with padding, as proto3 canonical JSON writes `bytes` fields.
    Base64,
}

/// Why an id string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string is empty (the OTLP file-exporter spec examples do this).
    #[error("empty id")]
    Empty,
    /// Neither `2*N` hex digits nor base64 of `N` bytes.
    #[error("not {expected} bytes as hex or base64: {got:?}")]
    Malformed {
        /// The expected byte length (16 for trace ids, 8 for span ids).
        expected: usize,
        /// The offending text, truncated to 64 characters.
        got: String,
    },
    /// All bytes are zero, which the W3C trace-context spec declares invalid.
    #[error("all-zero id")]
    AllZero,
}

/// Value of each byte as a hex digit (any case); `INVALID` for the other bytes. A table, not a
/// `match`: ids are decoded for every span (4% of a one-thread `analyze` as a `match`).
const HEX: [u8; 256] = {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};
const INVALID: u8 = 0xff;

/// Decodes exactly `N` bytes from hex (any case).
pub fn decode_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    decode_hex_bytes(s.as_bytes())
}

/// [`decode_hex`] of bytes (the input need not be valid UTF-8: any non-hex byte fails).
pub fn decode_hex_bytes<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    if b.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        let (hi, lo) = (HEX[pair[0] as usize], HEX[pair[1] as usize]);
        // INVALID has the high bit set; valid digits never do. One test after the loop.
        bad |= hi | lo;
        *o = (hi << 4) | (lo & 0x0f);
    }
    (bad & 0x80 == 0).then_some(out)
}

/// Decodes an id of `N` bytes from hex or, failing that, base64.
///
/// Rejects empty and all-zero ids (W3C trace-context §3.2.2.3/§3.2.2.4).
pub fn decode_id<const N: usize>(s: &str) -> Result<([u8; N], IdEncoding), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    let (bytes, enc) = if let Some(b) = decode_hex::<N>(s) {
        (b, IdEncoding::Hex)
    } else {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(s)
            .ok()
            .filter(|v| v.len() == N)
            .ok_or_else(|| IdError::Malformed {
                expected: N,
                got: s.chars().take(64).collect(),
            })?;
        let mut out = [0u8; N];
        out.copy_from_slice(&decoded);
        (out, IdEncoding::Base64)
    };
    if bytes.iter().all(|&b| b == 0) {
        return Err(IdError::AllZero);
    }
    Ok((bytes, enc))
}

/// Lower-case hex of a byte slice.
pub fn to_hex(bytes: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(D[(b >> 4) as usize] as char);
        s.push(D[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hex_any_case() {
        let (a, e) = decode_id::<8>("00F067AA0BA902B7").unwrap();
        let (b, _) = decode_id::<8>("00f067aa0ba902b7").unwrap();
        assert_eq!(a, b);
        assert_eq!(e, IdEncoding::Hex);
        assert_eq!(a[1], 0xf0);
    }

    #[test]
    fn base64_accepted_and_flagged() {
        let (id, e) = decode_id::<16>("6Lbf+fjUSyjxsivDvS9naA==").unwrap();
        assert_eq!(e, IdEncoding::Base64);
        assert_eq!(id[0], 0xe8);
    }

    #[test]
    fn rejects_empty_zero_and_junk() {
        assert_eq!(decode_id::<8>(""), Err(IdError::Empty));
        assert_eq!(decode_id::<8>("0000000000000000"), Err(IdError::AllZero));
        assert!(matches!(
            decode_id::<8>("xyz"),
            Err(IdError::Malformed { .. })
        ));
        assert!(matches!(
            decode_id::<16>("abcd"),
            Err(IdError::Malformed { .. })
        ));
    }

    proptest! {
        #[test]
        fn hex_round_trip(bytes in prop::array::uniform16(any::<u8>())) {
            prop_assume!(bytes.iter().any(|&b| b != 0));
            let h = to_hex(&bytes);
            prop_assert_eq!(decode_id::<16>(&h).unwrap().0, bytes);
            prop_assert_eq!(decode_id::<16>(&h.to_uppercase()).unwrap().0, bytes);
        }

        #[test]
        fn hex_table_agrees_with_from_str_radix(b in prop::collection::vec(
            prop_oneof![any::<u8>(), prop::sample::select(b"0123456789abcdefABCDEF".to_vec())],
            16,
        )) {
            let reference: Option<Vec<u8>> = b
                .chunks(2)
                .map(|p| {
                    let s = std::str::from_utf8(p).ok()?;
                    // from_str_radix takes a sign; a hex digit pair never has one.
                    if p.iter().all(u8::is_ascii_hexdigit) {
                        u8::from_str_radix(s, 16).ok()
                    } else {
                        None
                    }
                })
                .collect();
            let got = decode_hex_bytes::<8>(&b).map(|a| a.to_vec());
            prop_assert_eq!(got, reference);
        }

        #[test]
        fn arbitrary_strings_never_panic(s in ".{0,40}") {
            let _ = decode_id::<16>(&s);
            let _ = decode_id::<8>(&s);
        }
    }
}
