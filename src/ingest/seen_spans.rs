//! The spans ingest has already taken, for dropping exact duplicates (the Collector's retries,
//! overlapping file rotations, the same file given twice).
//!
//! A span is a duplicate of an earlier one when both have the same trace id and span id and
//! the same content hash ([`SpanFingerprint`]); same ids with a different content are a
//! *conflicting* duplicate, kept and noted. Remembering every span is unavoidable for that
//! rule, so the memory per span is what matters: at 15M spans a map from the 24 id bytes to the
//! content hash took 2^25 buckets of 33 bytes (1.1 GB), and 1.6 GB while it doubled.
//!
//! Here each span costs one 16-byte entry, `hash64(ids) → content hash`, in one of 256 shards
//! chosen by the id hash's top byte, so a shard that doubles holds 1/256 of the spans: about
//! 17 bytes per bucket and 20–40 bytes per span, and no input-sized doubling peak.
//!
//! What the 64-bit id hash changes: two spans with different ids collide on it with
//! probability about n² / 2^65 over a whole ingest (6·10⁻⁶ at 15M spans). A collision of the
//! ids alone, the likely case, makes the later span look like a *conflicting* duplicate: it is
//! kept and a note is written, so nothing is lost. Being dropped needs the 64-bit content hash
//! to collide as well (about n² / 2^129). The id hash is keyed with fixed seeds, so an ingest
//! is reproducible run to run.

use crate::model::spans::SpanFingerprint;

/// Shards: 256, picked by the id hash's top byte.
const SHARD_BITS: u32 = 8;

/// What [`SeenSpans::observe`] found for a span's ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Not seen before (now remembered).
    New,
    /// Seen before with the same content: an exact duplicate.
    Same,
    /// Seen before with a different content (the first content stays remembered).
    Different,
}

/// Every span taken so far, by a 64-bit hash of (trace id, span id) → content hash.
pub(crate) struct SeenSpans {
    shards: Vec<std::collections::HashMap<u64, u64, PreHashed>>,
}

/// The shard maps' hasher: their keys are already id hashes, so hashing them again (as
/// aHash did, 1% of a one-thread `analyze`) adds nothing. The key is rotated so that its top
/// byte, the same for every key of a shard, lands in neither of the places hashbrown reads: the
/// top 7 bits (control bytes: equal ones would make every probe compare) nor the low bits
/// (bucket index: equal ones would put every key of a shard in one probe run).
#[derive(Clone, Copy, Default)]
struct PreHashed;

impl std::hash::BuildHasher for PreHashed {
    type Hasher = Rotated;
    fn build_hasher(&self) -> Rotated {
        Rotated(0)
    }
}

/// See [`PreHashed`].
#[derive(Default)]
struct Rotated(u64);

impl std::hash::Hasher for Rotated {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed; any other input is folded in rather than lost.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, h: u64) {
        self.0 = h.rotate_right(SHARD_BITS);
    }
}

impl SeenSpans {
    /// An empty set.
    pub(crate) fn new() -> Self {
        Self {
            shards: (0..1 << SHARD_BITS)
                .map(|_| std::collections::HashMap::with_hasher(PreHashed))
                .collect(),
        }
    }

    /// Looks `fp` up and remembers it if its ids are new.
    pub(crate) fn observe(&mut self, fp: &SpanFingerprint) -> Seen {
        let h = fp.ids;
        let shard = &mut self.shards[(h >> (64 - SHARD_BITS)) as usize];
        match shard.entry(h) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(fp.content);
                Seen::New
            }
            std::collections::hash_map::Entry::Occupied(e) if *e.get() == fp.content => Seen::Same,
            std::collections::hash_map::Entry::Occupied(_) => Seen::Different,
        }
    }

    /// Spans remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards.iter().map(|s| s.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::collections::HashSet;
    use std::hash::BuildHasher as _;

    fn fp(trace: u128, span: u64, content: u64) -> SpanFingerprint {
        let mut key = [0u8; 24];
        key[..16].copy_from_slice(&trace.to_be_bytes());
        key[16..].copy_from_slice(&span.to_be_bytes());
        SpanFingerprint::new(key, content)
    }

    #[test]
    fn tells_new_same_and_different_apart() {
        let mut s = SeenSpans::new();
        assert_eq!(s.observe(&fp(1, 1, 7)), Seen::New);
        assert_eq!(s.observe(&fp(1, 1, 7)), Seen::Same);
        assert_eq!(s.observe(&fp(1, 1, 8)), Seen::Different);
        // The first content stays: the original is still an exact duplicate of itself.
        assert_eq!(s.observe(&fp(1, 1, 7)), Seen::Same);
        // Same span id in another trace, same trace with another span id: new spans.
        assert_eq!(s.observe(&fp(2, 1, 7)), Seen::New);
        assert_eq!(s.observe(&fp(1, 2, 7)), Seen::New);
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn keys_of_one_shard_spread_over_buckets_and_control_bytes() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let (mut low, mut top) = (HashSet::new(), HashSet::new());
        for _ in 0..10_000 {
            let h = (0x5a_u64 << 56) | (rng.random::<u64>() >> 8);
            let x = PreHashed.hash_one(h);
            low.insert(x & 0xff);
            top.insert(x >> 57);
        }
        assert_eq!(low.len(), 256, "bucket index bits vary within a shard");
        assert_eq!(top.len(), 128, "control-byte bits vary within a shard");
    }

    #[test]
    fn remembers_every_span_across_shard_growth() {
        // Sequential ids (a crafted or counter-based exporter) and random ones alike.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let spans: Vec<SpanFingerprint> = (0..60_000u64)
            .map(|i| {
                if i % 2 == 0 {
                    fp(i as u128, i, i)
                } else {
                    fp(rng.random(), rng.random(), i)
                }
            })
            .collect();
        let mut s = SeenSpans::new();
        assert!(spans.iter().all(|f| s.observe(f) == Seen::New));
        assert_eq!(s.len(), spans.len());
        assert!(spans.iter().all(|f| s.observe(f) == Seen::Same));
        assert!(spans.iter().all(|f| s.observe(&SpanFingerprint {
            content: f.content ^ 1,
            ..*f
        }) == Seen::Different));
        // Sharding spreads even sequential ids: no shard holds more than twice its share.
        let share = spans.len() / s.shards.len();
        assert!(
            s.shards.iter().all(|m| m.len() < 2 * share),
            "uneven shards"
        );
    }
}
