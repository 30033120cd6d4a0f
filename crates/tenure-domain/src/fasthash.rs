//! A fast hasher for the world's id-keyed maps.
//!
//! The engine looks up a handful of ids per decision, so the hash function is a large
//! share of a check's cost. Std's SipHash defends against hash flooding with chosen keys;
//! the keys here are UUIDs minted by the service (random or time-ordered with random low
//! bits), never chosen by a client, so a multiply-and-finalise hash is safe and several
//! times faster. See `docs/adr/0002-fast-id-hashing.md`.
//!
//! The finaliser matters: ids made from counters (tests, benchmarks, imports) vary only
//! in a few bytes, and a multiply carries bits upward only, so without it ids differing
//! in their top bits share their low bits, which pick the bucket, and pile into one.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` keyed by ids, using [`IdHasher`].
pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;
/// A `HashSet` of ids, using [`IdHasher`].
pub type IdSet<K> = HashSet<K, BuildHasherDefault<IdHasher>>;

/// An odd constant with well-spread bits (from `foldhash`'s seeds, the digits of pi).
const SEED: u64 = 0x243f_6a88_85a3_08d3;

/// A non-cryptographic hasher for service-minted ids (see the module docs).
#[derive(Default, Clone, Copy, Debug)]
pub struct IdHasher {
    hash: u64,
}

impl IdHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        // Multiplying by an odd constant is a bijection, so words never merge here.
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for IdHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // murmur3's 64-bit finaliser: every input bit reaches the low bits that pick the
        // bucket and the top bits hashbrown compares first.
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

#[cfg(test)]
mod tests;
