//! A string dictionary column built row by row: the `Dictionary(Int32, Utf8)` columns of the
//! canonical spans table (service, version, track, span name, route, …).
//!
//! Arrow's `StringDictionaryBuilder` looks every appended value up in its table: an aHash of
//! the bytes, a probe and a byte comparison, about 5% of a two-thread `ingest` of Collector
//! lines, where each span appends five such values. [`DictColumn`] builds the same arrays
//! with a small direct-mapped cache in front of its table: a value of at most 32 bytes is
//! keyed by its own bytes ([`ShortKey`]: its length and up to four 8-byte words that cover
//! every byte), so a hit is an exact match found without hashing the value or reading the
//! dictionary. Span names, routes, methods and tracks repeat within a batch and are short.

use arrow::array::{DictionaryArray, NullBufferBuilder, PrimitiveArray, StringArray};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::Int32Type;
use std::hash::BuildHasher;
use std::sync::Arc;

/// Slots of the cache: 256 of 48 bytes (12 KiB) per column.
const SLOT_BITS: u32 = 8;

/// A `Dictionary(Int32, Utf8)` column under construction. [`DictColumn::finish`] gives what
/// Arrow's `StringDictionaryBuilder<Int32Type>` gives for the same appends: the distinct
/// values in order of first appearance, each row's key into them, a null key (0) for a null
/// row; and starts the next batch with an empty dictionary.
pub(crate) struct DictColumn {
    keys: Vec<i32>,
    nulls: NullBufferBuilder,
    /// Value `i` is `bytes[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<i32>,
    bytes: Vec<u8>,
    /// Dictionary indices by the value's hash (values compared through `offsets`).
    table: hashbrown::HashTable<i32>,
    /// Seeded per process: telemetry strings are untrusted, and the order of the table never
    /// shows in the output.
    hasher: foldhash::fast::RandomState,
    short: Box<[Slot]>,
}

/// A value of at most 32 bytes, exactly: for a given length the words read cover all of its
/// bytes (overlapping reads, the way wyhash reads short inputs).
#[derive(Clone, Copy, Default)]
struct ShortKey {
    /// Length + 1 (0: an empty slot).
    len: u64,
    words: [u64; 4],
}

impl PartialEq for ShortKey {
    /// Compared word by word in registers: the derived comparison loaded the words 16 bytes
    /// at a time from where they had just been stored 8 at a time, a stalled store
    /// forwarding that cost more than the interner it saves.
    #[inline]
    fn eq(&self, o: &Self) -> bool {
        let [a, b, c, d] = self.words;
        let [e, f, g, h] = o.words;
        ((a ^ e) | (b ^ f) | (c ^ g) | (d ^ h) | (self.len ^ o.len)) == 0
    }
}

impl Eq for ShortKey {}

#[derive(Clone, Copy, Default)]
struct Slot {
    key: ShortKey,
    index: i32,
}

impl ShortKey {
    #[inline]
    fn of(v: &[u8]) -> Option<Self> {
        let n = v.len();
        let w = |at: usize| u64::from_le_bytes(v[at..at + 8].try_into().expect("8 bytes"));
        let h = |at: usize| u64::from(u32::from_le_bytes(v[at..at + 4].try_into().expect("4")));
        let words = match n {
            0 => [0; 4],
            1..=3 => [
                u64::from(v[0]) | u64::from(v[n / 2]) << 8 | u64::from(v[n - 1]) << 16,
                0,
                0,
                0,
            ],
            4..=7 => [h(0) | h(n - 4) << 32, 0, 0, 0],
            8..=16 => [w(0), w(n - 8), 0, 0],
            17..=32 => [w(0), w(8), w(n - 16), w(n - 8)],
            _ => return None,
        };
        Some(Self {
            len: n as u64 + 1,
            words,
        })
    }

    #[inline]
    fn slot(&self) -> usize {
        let [a, b, c, d] = self.words;
        let h = (a ^ b.rotate_left(21) ^ c.rotate_left(42) ^ d.rotate_left(7) ^ self.len)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (h >> (64 - SLOT_BITS)) as usize
    }
}

/// Dictionary value `i` of `offsets` and `bytes` (see [`DictColumn`]).
fn value<'a>(offsets: &[i32], bytes: &'a [u8], i: i32) -> &'a [u8] {
    let i = i as usize;
    &bytes[offsets[i] as usize..offsets[i + 1] as usize]
}

impl DictColumn {
    /// An empty column with room for `rows` rows.
    pub(crate) fn with_capacity(rows: usize) -> Self {
        Self {
            keys: Vec::with_capacity(rows),
            nulls: NullBufferBuilder::new(rows),
            offsets: vec![0],
            bytes: Vec::new(),
            table: hashbrown::HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            short: vec![Slot::default(); 1 << SLOT_BITS].into_boxed_slice(),
        }
    }

    /// The dictionary index of `v`, added if new.
    #[inline]
    fn index_of(&mut self, v: &str) -> i32 {
        let v = v.as_bytes();
        let Some(key) = ShortKey::of(v) else {
            return self.lookup(v);
        };
        let slot = key.slot();
        if self.short[slot].key == key {
            return self.short[slot].index;
        }
        let index = self.lookup(v);
        self.short[slot] = Slot { key, index };
        index
    }

    /// The dictionary index of `v` from the table, added if new.
    fn lookup(&mut self, v: &[u8]) -> i32 {
        let hash = self.hasher.hash_one(v);
        let Self {
            table,
            offsets,
            bytes,
            hasher,
            ..
        } = self;
        if let Some(&i) = table.find(hash, |&i| value(offsets, bytes, i) == v) {
            return i;
        }
        let index = i32::try_from(offsets.len() - 1).expect("fewer than 2^31 distinct values");
        bytes.extend_from_slice(v);
        offsets.push(i32::try_from(bytes.len()).expect("dictionary values under 2 GiB"));
        table.insert_unique(hash, index, |&i| hasher.hash_one(value(offsets, bytes, i)));
        index
    }

    /// Appends `v`.
    #[inline]
    pub(crate) fn append_value(&mut self, v: &str) {
        let index = self.index_of(v);
        self.keys.push(index);
        self.nulls.append_non_null();
    }

    /// Appends `v` `n` times.
    pub(crate) fn append_values(&mut self, v: &str, n: usize) {
        let index = self.index_of(v);
        self.keys.extend(std::iter::repeat_n(index, n));
        self.nulls.append_n_non_nulls(n);
    }

    /// Appends a null.
    pub(crate) fn append_null(&mut self) {
        self.keys.push(0);
        self.nulls.append_null();
    }

    /// Appends `v` or a null.
    #[inline]
    pub(crate) fn append_option(&mut self, v: Option<&str>) {
        match v {
            Some(v) => self.append_value(v),
            None => self.append_null(),
        }
    }

    /// Appends `v` or a null `n` times.
    pub(crate) fn append_options(&mut self, v: Option<&str>, n: usize) {
        match v {
            Some(v) => self.append_values(v, n),
            None => {
                self.keys.extend(std::iter::repeat_n(0, n));
                self.nulls.append_n_nulls(n);
            }
        }
    }

    /// Rows appended since the last [`DictColumn::finish`].
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The column of the rows appended so far; the next row starts a new column and a new
    /// dictionary (`NullBufferBuilder::finish` resets the nulls).
    pub(crate) fn finish(&mut self) -> DictionaryArray<Int32Type> {
        let keys = PrimitiveArray::<Int32Type>::new(
            ScalarBuffer::from(std::mem::take(&mut self.keys)),
            self.nulls.finish(),
        );
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        let values = StringArray::new(
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Buffer::from_vec(std::mem::take(&mut self.bytes)),
            None,
        );
        self.table.clear();
        self.short.fill(Slot::default());
        DictionaryArray::try_new(keys, Arc::new(values)).expect("keys index the values")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, StringDictionaryBuilder};
    use rand::{Rng, SeedableRng};

    #[test]
    fn a_short_key_is_the_value() {
        // Every length up to 33, values differing in one byte anywhere: different keys;
        // the same bytes: the same key.
        for n in 0..=33usize {
            let base: Vec<u8> = (0..n as u8).map(|i| b'a' + i % 26).collect();
            let k = ShortKey::of(&base);
            assert_eq!(k.is_some(), n <= 32, "{n}");
            let Some(k) = k else { continue };
            assert!(k == ShortKey::of(&base.clone()).unwrap());
            for at in 0..n {
                let mut other = base.clone();
                other[at] ^= 0x20;
                assert!(ShortKey::of(&other).unwrap() != k, "{n} {at}");
            }
            // A prefix padded with zeros is another value too.
            let mut longer = base.clone();
            longer.push(0);
            if let Some(l) = ShortKey::of(&longer) {
                assert!(l != k, "{n}");
            }
        }
    }

    /// Appends `rows` to both builders.
    fn both(
        rows: &[Option<String>],
        d: &mut DictColumn,
        a: &mut StringDictionaryBuilder<Int32Type>,
    ) {
        for (i, r) in rows.iter().enumerate() {
            if i % 7 == 3 {
                d.append_options(r.as_deref(), 3);
                a.append_options(r.as_deref(), 3);
            } else {
                d.append_option(r.as_deref());
                a.append_option(r.as_deref());
            }
        }
    }

    #[test]
    fn builds_what_arrow_builds() {
        // Short and long values, empty strings, nulls, many distinct values (cache slots
        // collide), over several batches.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut d = DictColumn::with_capacity(4);
        let mut a = StringDictionaryBuilder::<Int32Type>::new();
        for batch in 0..4 {
            let distinct = [3, 50, 2000, 1][batch];
            let rows: Vec<Option<String>> = (0..3000)
                .map(|_| {
                    let i = rng.random_range(0..distinct);
                    match i % 11 {
                        0 => None,
                        1 => Some(String::new()),
                        2 => Some(format!("/a/long/route/{i}/with/more/than/32/bytes")),
                        _ => Some(format!("v{i}")),
                    }
                })
                .collect();
            both(&rows, &mut d, &mut a);
            assert_eq!(d.len(), 3000 + 2 * rows.iter().skip(3).step_by(7).count());
            let (got, want) = (d.finish(), a.finish());
            assert_eq!(got, want, "batch {batch}");
            assert_eq!(got.keys(), want.keys());
            assert_eq!(got.values().as_ref(), want.values().as_ref());
            assert_eq!(got.logical_nulls(), want.logical_nulls());
        }
    }
}
