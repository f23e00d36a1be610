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
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if N.is_multiple_of(8) {
        // SAFETY: the only requirement of a `target_feature` function is that the processor
        // has the feature, and this line is compiled only where SSE2 is enabled for the
        // whole build (every x86-64 target has it).
        return unsafe { sse2::decode_hex_bytes(b) };
    }
    decode_hex_table(b)
}

/// [`decode_hex_bytes`] a byte at a time through [`HEX`] (`b` is `2 * N` bytes long).
fn decode_hex_table<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
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

/// Hex decoding sixteen digits at a time with SSE2, which every x86-64 processor has (so the
/// intrinsics need no runtime check): trace, span and parent ids are decoded
/// for every span, 2.5% of a one-thread `analyze` a byte at a time.
///
/// Digit values after Geoff Langdale's validating hex parse, as described by Wojciech Muła,
/// "Parsing hex numbers with validation" (2022, algorithm 3): `digit` is the value of `0`–`9`
/// and 16 or more for any other byte, `letter` the value of `a`–`f` / `A`–`F` and 16 or more
/// for any other byte; their minimum is a byte's value, and over 15 exactly when the byte is
/// not a hex digit.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use std::arch::x86_64::*;

    /// `b` is `2 * N` bytes long and `N` a multiple of 8.
    #[target_feature(enable = "sse2")]
    pub(super) fn decode_hex_bytes<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
        let mut out = [0u8; N];
        for (o, digits) in out.chunks_exact_mut(8).zip(b.chunks_exact(16)) {
            let word =
                |i: usize| i64::from_le_bytes(digits[i..i + 8].try_into().expect("16 digits"));
            let v = _mm_set_epi64x(word(8), word(0));
            let digit = _mm_sub_epi8(
                _mm_subs_epu8(
                    _mm_add_epi8(v, _mm_set1_epi8((0xff - b'9') as i8)),
                    _mm_set1_epi8(6),
                ),
                _mm_set1_epi8(0xf0u8 as i8),
            );
            let letter = _mm_adds_epu8(
                _mm_sub_epi8(
                    _mm_and_si128(v, _mm_set1_epi8(0xdfu8 as i8)),
                    _mm_set1_epi8(b'A' as i8),
                ),
                _mm_set1_epi8(10),
            );
            let value = _mm_min_epu8(digit, letter);
            let fifteen = _mm_set1_epi8(15);
            if _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(value, fifteen), fifteen)) != 0xffff {
                return None;
            }
            // Each 16-bit lane holds a byte's high digit (low byte) and low digit (high byte).
            let pairs = _mm_or_si128(
                _mm_and_si128(_mm_slli_epi16(value, 4), _mm_set1_epi16(0xf0)),
                _mm_srli_epi16(value, 8),
            );
            let packed = _mm_cvtsi128_si64(_mm_packus_epi16(pairs, pairs));
            o.copy_from_slice(&packed.to_le_bytes());
        }
        Some(out)
    }
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

    #[test]
    fn vector_decoding_refuses_every_non_hex_byte_at_every_position() {
        let valid = b"0123456789abcdefABCDEF0123456789";
        for pos in 0..32 {
            for byte in 0..=255u8 {
                let mut b = *valid;
                b[pos] = byte;
                assert_eq!(
                    decode_hex_bytes::<16>(&b),
                    decode_hex_table::<16>(&b),
                    "byte {byte:#04x} at {pos}"
                );
                assert_eq!(
                    decode_hex_bytes::<16>(&b).is_some(),
                    byte.is_ascii_hexdigit()
                );
            }
        }
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
        fn vector_decoding_agrees_with_the_table(b in prop::collection::vec(
            prop_oneof![
                8 => prop::sample::select(b"0123456789abcdefABCDEF".to_vec()),
                1 => any::<u8>(),
            ],
            32,
        )) {
            prop_assert_eq!(decode_hex_bytes::<16>(&b), decode_hex_table::<16>(&b));
            prop_assert_eq!(decode_hex_bytes::<8>(&b[..16]), decode_hex_table::<8>(&b[..16]));
        }

        #[test]
        fn arbitrary_strings_never_panic(s in ".{0,40}") {
            let _ = decode_id::<16>(&s);
            let _ = decode_id::<8>(&s);
        }
    }
}
