//! The spans ingest has already taken, for dropping exact duplicates (the Collector's retries,
//! overlapping file rotations, the same file given twice).
//!
//! A span is a duplicate of an earlier one when both have the same trace id and span id and
//! the same content hash ([`SpanFingerprint`]); same ids with a different content are a
//! *conflicting* duplicate, kept and noted. Remembering every span is unavoidable for that
//! rule, so the memory per span is what matters: at 15M spans a map from the 24 id bytes to the
//! content hash took 2^25 buckets of 33 bytes (1.1 GB), and 1.6 GB while it doubled.
//!
//! Here each span costs one 16-byte slot, `hash64(ids) → content hash`, in one of 256 shards
//! chosen by the id hash's top byte, so a shard that doubles holds 1/256 of the spans: 21–43
//! bytes per span (tables 3/8 to 3/4 full) and no input-sized doubling peak. The shards are
//! open-addressing tables of their own rather than `HashMap`s so that a batch's lookups can
//! prefetch their slots ahead ([`SeenSpans::observe_all`]): each is a cache miss.
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
    shards: Vec<Shard>,
}

/// Spans looked up ahead of the one being observed by [`SeenSpans::observe_all`]: a probe is a
/// cache miss into a table of tens of megabytes, so the next ones' slots are prefetched while
/// this one is compared (about the misses that fit in flight in a core).
const AHEAD: usize = 8;

/// One shard: an open-addressing table with linear probing of `(id hash, content hash)`
/// slots, a power of two of them (none before the first span), at most 3/4 full. An id hash of
/// 0 marks an empty slot, so an id hash 0 is stored as 1 (two spans whose id hashes are 0 and
/// 1 are then taken for the same ids: one more chance in 2^64 of the collision the module
/// docs weigh).
#[derive(Default)]
struct Shard {
    slots: Vec<Slot>,
    len: usize,
}

#[derive(Clone, Copy, Default)]
struct Slot {
    ids: u64,
    content: u64,
}

/// The slot a probe for `ids` starts at in a table of `mask + 1` slots. The top byte picked
/// the shard, so it is the same for every key of one: the low bits index the slots.
fn home(ids: u64, mask: usize) -> usize {
    ids as usize & mask
}

impl Shard {
    fn observe(&mut self, ids: u64, content: u64) -> Seen {
        let ids = ids.max(1);
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = home(ids, mask);
        loop {
            let slot = &mut self.slots[i];
            if slot.ids == ids {
                return if slot.content == content {
                    Seen::Same
                } else {
                    Seen::Different
                };
            }
            if slot.ids == 0 {
                *slot = Slot { ids, content };
                self.len += 1;
                return Seen::New;
            }
            i = (i + 1) & mask;
        }
    }

    /// Doubles the table (16 slots at first) and puts every span back.
    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); size]);
        let mask = size - 1;
        for s in old.into_iter().filter(|s| s.ids != 0) {
            let mut i = home(s.ids, mask);
            while self.slots[i].ids != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
        }
    }

    /// Asks the CPU to bring the slot a probe for `ids` starts at into the cache.
    fn prefetch(&self, ids: u64) {
        if self.slots.is_empty() {
            return;
        }
        let slot = &self.slots[home(ids.max(1), self.slots.len() - 1)];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: prefetching is a hint with no effect on memory; the address is a slot's.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch::<_MM_HINT_T0>((slot as *const Slot).cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = slot;
    }
}

impl SeenSpans {
    /// An empty set.
    pub(crate) fn new() -> Self {
        Self {
            shards: (0..1 << SHARD_BITS).map(|_| Shard::default()).collect(),
        }
    }

    fn shard(&self, ids: u64) -> usize {
        (ids >> (64 - SHARD_BITS)) as usize
    }

    /// Looks `fp` up and remembers it if its ids are new.
    pub(crate) fn observe(&mut self, fp: &SpanFingerprint) -> Seen {
        let shard = self.shard(fp.ids);
        self.shards[shard].observe(fp.ids, fp.content)
    }

    /// [`Self::observe`] of each of `fps` in order, into `out` (cleared first), with the
    /// slots of the next [`AHEAD`] prefetched.
    pub(crate) fn observe_all(&mut self, fps: &[SpanFingerprint], out: &mut Vec<Seen>) {
        out.clear();
        out.reserve(fps.len());
        for (i, fp) in fps.iter().enumerate() {
            if let Some(next) = fps.get(i + AHEAD) {
                self.shards[self.shard(next.ids)].prefetch(next.ids);
            }
            out.push(self.observe(fp));
        }
    }

    /// Spans remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards.iter().map(|s| s.len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::collections::HashSet;

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
    fn an_id_hash_of_zero_is_stored_as_one() {
        let mut s = SeenSpans::new();
        let at = |ids: u64, content: u64| SpanFingerprint {
            key: [0; 24],
            content,
            ids,
        };
        assert_eq!(s.observe(&at(0, 5)), Seen::New);
        assert_eq!(s.observe(&at(0, 5)), Seen::Same);
        assert_eq!(s.observe(&at(1, 5)), Seen::Same);
        assert_eq!(s.observe(&at(1, 6)), Seen::Different);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn observing_a_batch_is_observing_each_in_order() {
        // Repeats within the batch and across batches, conflicting contents, growth midway.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let batches: Vec<Vec<SpanFingerprint>> = (0..20)
            .map(|_| {
                (0..rng.random_range(0..3000))
                    .map(|_| fp(rng.random_range(0..4000), 1, rng.random_range(0..2)))
                    .collect()
            })
            .collect();
        let (mut one, mut all) = (SeenSpans::new(), SeenSpans::new());
        let mut out = Vec::new();
        let mut kinds = HashSet::new();
        for b in &batches {
            all.observe_all(b, &mut out);
            let want: Vec<Seen> = b.iter().map(|f| one.observe(f)).collect();
            assert_eq!(out, want);
            kinds.extend(want.iter().map(|k| format!("{k:?}")));
        }
        assert_eq!(kinds.len(), 3, "every verdict met");
        assert_eq!(one.len(), all.len());
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
        assert!(s.shards.iter().all(|m| m.len < 2 * share), "uneven shards");
    }
}
