//! The id hasher spreads counter-made ids across buckets, wherever the counter sits.

use std::hash::BuildHasher;

use uuid::Uuid;

use crate::fasthash::IdHasher;
use crate::id::UserId;

/// How many of 4,096 ids land in distinct buckets of a 4,096-bucket table, using the low
/// bits (which pick the bucket) and the top 7 (which hashbrown compares first).
fn spread(ids: impl Iterator<Item = UserId>) -> (usize, usize) {
    let build = std::hash::BuildHasherDefault::<IdHasher>::default();
    let hashes: Vec<u64> = ids.map(|id| build.hash_one(id)).collect();
    let mut low: Vec<u64> = hashes.iter().map(|h| h & 0xfff).collect();
    let mut top: Vec<u64> = hashes.iter().map(|h| h >> 57).collect();
    low.sort_unstable();
    low.dedup();
    top.sort_unstable();
    top.dedup();
    (low.len(), top.len())
}

#[track_caller]
fn check(make: impl Fn(u128) -> u128) {
    let (low, top) = spread((0..4096u128).map(|i| UserId::from_uuid(Uuid::from_u128(make(i)))));
    // A random function fills about 63% of 4,096 buckets; demand at least half.
    assert!(low > 2_048, "only {low} distinct buckets");
    assert_eq!(top, 128, "every 7-bit tag is used");
}

#[test]
fn counters_in_any_position_spread() {
    check(|i| i);
    check(|i| 0x0100_0000_0000_0000_0000_0000_0000_0000 | i);
    check(|i| i << 64);
    check(|i| i << 116);
    check(|i| (i << 8) | 0x7000_0000_0000_0000_8000_0000_0000_0000);
}
