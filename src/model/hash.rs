//! Stable hashing shared by every floor above `model` (file names, checkpoints, trace
//! thinning): the same bytes give the same value on every platform, Rust version and run,
//! unlike `std`'s `DefaultHasher`.

/// 64-bit FNV-1a hash (Fowler–Noll–Vo, IETF draft-eastlake-fnv): offset basis
/// 0xcbf29ce484222325, prime 0x100000001b3.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// SplitMix64's finaliser (Steele, Lea & Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA 2014): a bijective mix of 64 bits whose outputs are well spread even
/// for inputs that differ in one bit (a seed next to a hash).
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_published_test_vectors() {
        // Vectors from the FNV reference test suite.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // The first output of the reference generator seeded with 0 (state += golden gamma,
        // then the finaliser), as in Vigna's splitmix64.c.
        assert_eq!(splitmix64(0), 0xe220_a839_7b1d_cdaf);
    }
}
