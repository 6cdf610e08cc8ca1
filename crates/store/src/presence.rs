//! Which rows might exist: a growable Bloom filter over the composite key
//! of every row ever committed or found in SQLite.
//!
//! Creating something new (a new S3 key, role, parameter) first asks
//! whether it already exists; without this, every such question is a
//! SQLite probe that finds nothing. A "no" from the filter is exact, so
//! the store answers it from memory; a "maybe" (a present row, a deleted
//! one, or a false positive, ~1%) falls through to SQLite as before.
//!
//! The filter only ever gains keys: deletes leave theirs behind (their
//! probes fall through, which is correct). It grows as a series of
//! filters, each twice the capacity of the last, so it never needs a
//! rescan of the database (scalable Bloom filters, Almeida et al., 2007).
//!
//! Invariant the store keeps: a key is added *before* the row it names
//! becomes visible (at commit, under the pending lock), and the start-up
//! scan covers every row in SQLite. So a key can be in the store only if
//! the filter says "maybe" — once the scan has finished ([`Presence::ready`]).

use std::hash::{BuildHasher, Hasher};

/// Bits per key at capacity: with 7 probes, about 1% false positives.
const BITS_PER_KEY: usize = 10;
const PROBES: u32 = 7;
/// Capacity of the first filter.
const FIRST_CAPACITY: usize = 1 << 16;

/// One fixed-size Bloom filter.
#[derive(Debug)]
struct Bloom {
    bits: Vec<u64>,
    /// Number of bits (a power of two).
    mask: u64,
    capacity: usize,
    len: usize,
}

impl Bloom {
    fn with_capacity(capacity: usize) -> Bloom {
        let nbits = (capacity * BITS_PER_KEY).next_power_of_two().max(64);
        Bloom {
            bits: vec![0; nbits / 64],
            mask: nbits as u64 - 1,
            capacity,
            len: 0,
        }
    }

    /// The bit positions of a key hash (double hashing, Kirsch and
    /// Mitzenmacher).
    fn positions(&self, h: u64) -> impl Iterator<Item = u64> + '_ {
        let h1 = h & 0xffff_ffff;
        let h2 = (h >> 32) | 1;
        (0..PROBES as u64).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) & self.mask)
    }

    fn insert(&mut self, h: u64) {
        let mut new = false;
        let positions: [u64; PROBES as usize] = {
            let mut out = [0u64; PROBES as usize];
            for (slot, p) in out.iter_mut().zip(self.positions(h)) {
                *slot = p;
            }
            out
        };
        for p in positions {
            let (word, bit) = ((p / 64) as usize, p % 64);
            if let Some(w) = self.bits.get_mut(word) {
                if *w & (1 << bit) == 0 {
                    new = true;
                    *w |= 1 << bit;
                }
            }
        }
        if new {
            self.len += 1;
        }
    }

    fn may_contain(&self, h: u64) -> bool {
        self.positions(h).all(|p| {
            self.bits
                .get((p / 64) as usize)
                .is_some_and(|w| w & (1 << (p % 64)) != 0)
        })
    }
}

/// The keys that may exist (see the module documentation).
#[derive(Debug)]
pub(crate) struct Presence {
    filters: Vec<Bloom>,
    /// False until the start-up scan of SQLite has added every stored key:
    /// until then nothing may be answered from the filter.
    ready: bool,
    hasher: std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>,
}

impl Presence {
    /// An empty filter, not yet ready (see [`Presence::set_ready`]).
    pub(crate) fn new(expected: usize) -> Presence {
        Presence {
            filters: vec![Bloom::with_capacity(expected.max(FIRST_CAPACITY))],
            ready: false,
            hasher: Default::default(),
        }
    }

    fn hash(&self, key: &str) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write(key.as_bytes());
        h.finish()
    }

    /// Records that a row with this composite key may exist.
    pub(crate) fn insert(&mut self, key: &str) {
        let h = self.hash(key);
        if self.filters.iter().any(|f| f.may_contain(h)) {
            return;
        }
        let full = self.filters.last().is_none_or(|f| f.len >= f.capacity);
        if full {
            let capacity = self
                .filters
                .last()
                .map_or(FIRST_CAPACITY, |f| f.capacity * 2);
            self.filters.push(Bloom::with_capacity(capacity));
        }
        if let Some(f) = self.filters.last_mut() {
            f.insert(h);
        }
    }

    /// Whether a row with this key is certainly absent (never when the
    /// filter is not ready).
    pub(crate) fn surely_absent(&self, key: &str) -> bool {
        if !self.ready {
            return false;
        }
        let h = self.hash(key);
        !self.filters.iter().any(|f| f.may_contain(h))
    }

    /// The start-up scan is done: answers may come from the filter.
    pub(crate) fn set_ready(&mut self) {
        self.ready = true;
    }

    /// Whether the start-up scan is done.
    #[cfg(test)]
    pub(crate) fn is_ready(&self) -> bool {
        self.ready
    }

    /// Number of filters (each twice the capacity of the one before).
    #[cfg(test)]
    pub(crate) fn filters(&self) -> usize {
        self.filters.len()
    }
}
