//! A pure model of the iteration order of Java 17's `java.util.HashMap` (and
//! so `HashSet`) with `String` keys: the order ZooKeeper hands a parent's
//! children (`DataNode.children`, a `HashSet<String>(8)`) and a session's
//! ephemerals (`DataTree.ephemerals`, a `HashSet<String>()`) to clients.
//! Clients act on that order (kazoo's recursive delete stops at the first
//! child it may not delete), so paddock reproduces it rather than inventing
//! its own.
//!
//! The rules, from `HashMap.java` (Java 17), checked against the real
//! `java.util.HashSet` by `tests/fixtures/java_hash/` and against ZooKeeper
//! 3.8 itself by `tests/fixtures/child_order/`:
//!
//! * hash: `String.hashCode` over UTF-16 units, spread `h ^ (h >>> 16)`; the
//!   bin is `spread & (capacity - 1)`.
//! * The table is allocated on the first insertion, with the constructor's
//!   capacity rounded up to a power of two (`HashSet(8)`: 8; `HashSet()`:
//!   16). It doubles when the size exceeds `0.75 × capacity`, and also when
//!   an insertion makes a bin 9 long while the capacity is below 64
//!   (`treeifyBin` resizes instead of treeifying); both can happen in one
//!   insertion. It never shrinks.
//! * A new key is appended to its bin; removal unlinks; a resize splits each
//!   bin into a low and a high bin keeping relative order. So, as long as no
//!   bin is a tree, iteration order is: by bin, then by insertion within a
//!   bin. The model therefore needs only the capacity and an insertion
//!   sequence number per key: order = sort by (`bin`, `sequence`).
//! * `HashSet.clone()` (used by `DataTree.getEphemerals`) re-inserts the
//!   keys, in the source's iteration order, into a fresh table sized
//!   `tableSizeFor((int)(size / 0.75f + 1))` ([`clone_capacity`]), which
//!   may be larger than the source's: the clone's order can differ.
//!
//! The known gap: once a table has 64 or more bins and one bin holds 9 keys,
//! Java turns that bin into a red-black tree, whose linked order puts the
//! tree's root first and inserts new keys next to their tree parent. The
//! model does not replay the tree; it keeps (bin, insertion) order there and
//! [`has_tree_bin`] says when a table is in that state (9 names colliding
//! in one of ≥ 64 bins takes chosen names; random names practically never do).

/// `HashMap.TREEIFY_THRESHOLD`: a bin this long (before the new key) turns
/// into a tree or forces a resize.
pub const TREEIFY_THRESHOLD: usize = 8;
/// `HashMap.MIN_TREEIFY_CAPACITY`: below this many bins, resize instead.
pub const MIN_TREEIFY_CAPACITY: u32 = 64;
/// `HashMap.MAXIMUM_CAPACITY`.
pub const MAXIMUM_CAPACITY: u32 = 1 << 30;
/// `DataNode.addChild`'s `new HashSet<String>(8)`.
pub const CHILDREN_INITIAL_CAPACITY: u32 = 8;
/// `new HashSet<String>()`'s default (`DataTree.ephemerals` values).
pub const DEFAULT_INITIAL_CAPACITY: u32 = 16;

/// Java's `String.hashCode`: `s[0]*31^(n-1) + ... + s[n-1]` over UTF-16
/// code units, wrapping.
pub fn string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// `HashMap.hash`: the key's hash with its high half folded into the low.
pub fn spread(hash: i32) -> u32 {
    let h = hash as u32;
    h ^ (h >> 16)
}

/// The spread hash of a string key.
pub fn string_spread(s: &str) -> u32 {
    spread(string_hash(s))
}

/// `HashMap.tableSizeFor`: the power of two at or above `cap` (at least 1).
pub fn table_size_for(cap: u32) -> u32 {
    cap.clamp(1, MAXIMUM_CAPACITY).next_power_of_two()
}

/// The resize threshold of a table (`capacity * 0.75`, exact for powers of
/// two ≥ 4, which is every table a String set here has).
pub fn threshold(capacity: u32) -> u32 {
    if capacity >= MAXIMUM_CAPACITY {
        u32::MAX
    } else {
        capacity / 4 * 3 + (capacity % 4) * 3 / 4
    }
}

/// The table size of `HashSet.clone()` (`HashMap.clone` →
/// `putMapEntries` in Java 17) of a set holding `size` keys: 0 (no table)
/// for an empty set.
pub fn clone_capacity(size: usize) -> u32 {
    if size == 0 {
        return 0;
    }
    // Java's float arithmetic, step for step.
    let ft = size as f32 / 0.75f32 + 1.0f32;
    let t = if ft < MAXIMUM_CAPACITY as f32 {
        ft as u32
    } else {
        MAXIMUM_CAPACITY
    };
    table_size_for(t)
}

/// The bin of a spread hash in a table of `capacity` (a power of two).
pub fn bin(spread_hash: u32, capacity: u32) -> u32 {
    spread_hash & capacity.wrapping_sub(1)
}

/// The table capacity after `HashMap.putVal` adds a new key.
///
/// `capacity` is the table before (0: not allocated yet, then `initial` is
/// the constructor's capacity), `size_after` the key count including the
/// new one. `bin_len_after(capacity)` counts the keys (the new one
/// included) in the new key's bin of a table that size; it is only asked
/// while the table is below [`MIN_TREEIFY_CAPACITY`] and the set could hold
/// such a bin, so callers may make it cost a scan.
pub fn capacity_after_insert(
    capacity: u32,
    initial: u32,
    size_after: usize,
    bin_len_after: impl FnOnce(u32) -> usize,
) -> u32 {
    let mut capacity = if capacity == 0 {
        table_size_for(initial)
    } else {
        capacity
    };
    if capacity < MIN_TREEIFY_CAPACITY
        && size_after > TREEIFY_THRESHOLD
        && bin_len_after(capacity) > TREEIFY_THRESHOLD
    {
        // treeifyBin on a small table: resize instead.
        capacity = grow(capacity);
    }
    if size_after as u64 > u64::from(threshold(capacity)) {
        capacity = grow(capacity);
    }
    capacity
}

fn grow(capacity: u32) -> u32 {
    if capacity >= MAXIMUM_CAPACITY {
        capacity
    } else {
        capacity * 2
    }
}

/// The sort key that puts keys in iteration order: bin, then insertion.
pub fn order_key(spread_hash: u32, capacity: u32, sequence: u32) -> u64 {
    (u64::from(bin(spread_hash, capacity)) << 32) | u64::from(sequence)
}

/// Whether a table holding keys with these order keys (sorted by
/// [`order_key`]) has a bin Java would have turned into a tree: ≥ 9 keys in
/// one bin of a table with ≥ 64 bins. There the model's order is not
/// Java's (see the module docs).
pub fn has_tree_bin(sorted_keys: &[u64], capacity: u32) -> bool {
    if capacity < MIN_TREEIFY_CAPACITY {
        return false;
    }
    let mut run = 0usize;
    let mut previous = None;
    for key in sorted_keys {
        let bin = key >> 32;
        if previous == Some(bin) {
            run += 1;
        } else {
            run = 1;
            previous = Some(bin);
        }
        if run > TREEIFY_THRESHOLD {
            return true;
        }
    }
    false
}

/// The iteration order of `HashSet.clone()` of a set whose keys, in its
/// own iteration order, are `source` (spread hash, key): the keys re-added
/// in that order to a table of [`clone_capacity`].
pub fn clone_order<T>(source: Vec<(u32, T)>) -> Vec<T> {
    let mut capacity = clone_capacity(source.len());
    let mut hashes: Vec<u32> = Vec::with_capacity(source.len());
    for (i, (hash, _)) in source.iter().enumerate() {
        let before = &hashes;
        capacity = capacity_after_insert(capacity, capacity, i + 1, |capacity| {
            1 + before
                .iter()
                .filter(|h| bin(**h, capacity) == bin(*hash, capacity))
                .count()
        });
        hashes.push(*hash);
    }
    let mut keyed: Vec<(u64, T)> = source
        .into_iter()
        .enumerate()
        .map(|(i, (hash, key))| (order_key(hash, capacity, i as u32), key))
        .collect();
    keyed.sort_unstable_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, key)| key).collect()
}

/// A whole `HashSet<String>` modelled in memory: for short-lived sets
/// (a clone for one reply) and for tests. The tree keeps its children more
/// compactly, with the same rules.
#[derive(Debug, Clone, Default)]
pub struct JavaStringSet {
    /// (spread hash, insertion sequence, key), in no particular order.
    entries: Vec<(u32, u32, String)>,
    capacity: u32,
    initial: u32,
    next_sequence: u32,
}

impl JavaStringSet {
    /// `new HashSet<String>(initial_capacity)`.
    pub fn with_capacity(initial_capacity: u32) -> JavaStringSet {
        JavaStringSet {
            entries: Vec::new(),
            capacity: 0,
            initial: initial_capacity,
            next_sequence: 0,
        }
    }

    /// `new HashSet<String>()`.
    pub fn new() -> JavaStringSet {
        JavaStringSet::with_capacity(DEFAULT_INITIAL_CAPACITY)
    }

    /// `HashSet.clone()` of a set whose keys, in its iteration order, are
    /// `keys` (distinct, as a set's are).
    pub fn clone_of(keys: Vec<String>) -> JavaStringSet {
        let mut set = JavaStringSet::with_capacity(DEFAULT_INITIAL_CAPACITY);
        set.capacity = clone_capacity(keys.len());
        for key in keys {
            set.push_new(key);
        }
        set
    }

    /// `add`: false when the key is already there.
    pub fn insert(&mut self, key: &str) -> bool {
        if self.entries.iter().any(|(_, _, k)| k == key) {
            return false;
        }
        self.push_new(key.to_string());
        true
    }

    /// Adds a key known not to be in the set.
    fn push_new(&mut self, key: String) {
        let hash = string_spread(&key);
        let entries = &self.entries;
        self.capacity =
            capacity_after_insert(self.capacity, self.initial, entries.len() + 1, |capacity| {
                1 + entries
                    .iter()
                    .filter(|(h, _, _)| bin(*h, capacity) == bin(hash, capacity))
                    .count()
            });
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.entries.push((hash, sequence, key));
    }

    /// `remove`: false when the key was not there. The table keeps its size.
    pub fn remove(&mut self, key: &str) -> bool {
        match self.entries.iter().position(|(_, _, k)| k == key) {
            Some(at) => {
                self.entries.swap_remove(at);
                true
            }
            None => false,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The table size (0 before the first insertion).
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The keys in Java's iteration order.
    pub fn iter_order(&self) -> Vec<&str> {
        let mut keyed: Vec<(u64, &str)> = self
            .entries
            .iter()
            .map(|(h, s, k)| (order_key(*h, self.capacity, *s), k.as_str()))
            .collect();
        keyed.sort_unstable_by_key(|(key, _)| *key);
        keyed.into_iter().map(|(_, k)| k).collect()
    }

    /// Whether a bin of this set would be a tree in Java (the order is then
    /// not exact; see the module docs).
    pub fn has_tree_bin(&self) -> bool {
        let mut keys: Vec<u64> = self
            .entries
            .iter()
            .map(|(h, s, _)| order_key(*h, self.capacity, *s))
            .collect();
        keys.sort_unstable();
        has_tree_bin(&keys, self.capacity)
    }

    /// `HashSet.clone()`: the keys re-inserted in this set's order into a
    /// table of [`clone_capacity`].
    pub fn java_clone(&self) -> JavaStringSet {
        let mut copy = JavaStringSet::with_capacity(self.initial);
        copy.capacity = clone_capacity(self.len());
        for key in self.iter_order() {
            copy.insert(key);
        }
        copy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_hash_matches_java() {
        // Values printed by Java 17's "...".hashCode().
        assert_eq!(string_hash(""), 0);
        assert_eq!(string_hash("abc"), 96354);
        assert_eq!(string_hash("zookeeper"), 1_600_681_804);
        // A non-BMP character counts as two UTF-16 units.
        assert_eq!(string_hash("\u{1F600}"), 0xD83D * 31 + 0xDE00);
    }

    #[test]
    fn tutorial_root_order() {
        // ZooKeeper 3.8 answers get_children('/') with ['abc', 'zookeeper'].
        let mut root = JavaStringSet::with_capacity(CHILDREN_INITIAL_CAPACITY);
        root.insert("zookeeper");
        root.insert("abc");
        assert_eq!(root.iter_order(), vec!["abc", "zookeeper"]);
    }

    #[test]
    fn capacity_grows_past_three_quarters_and_never_shrinks() {
        let mut set = JavaStringSet::with_capacity(CHILDREN_INITIAL_CAPACITY);
        assert_eq!(set.capacity(), 0);
        for i in 0..6 {
            set.insert(&format!("n{i}"));
        }
        assert_eq!(set.capacity(), 8);
        set.insert("n6");
        assert_eq!(set.capacity(), 16);
        for i in 0..7 {
            set.remove(&format!("n{i}"));
        }
        assert!(set.is_empty());
        assert_eq!(set.capacity(), 16);
    }

    #[test]
    fn a_ninth_key_in_one_small_bin_resizes() {
        // Keys whose spread hashes share their low 4 bits but differ in bit
        // 4: nine of them in a 16-bin table force a resize to 32.
        let mut keys = Vec::new();
        let mut n = 0u32;
        while keys.len() < 9 {
            let key = format!("k{n}");
            n += 1;
            let h = string_spread(&key);
            if h & 0xf == 3 {
                keys.push(key);
            }
        }
        let mut set = JavaStringSet::with_capacity(16);
        for key in &keys[..8] {
            set.insert(key);
        }
        assert_eq!(set.capacity(), 16);
        set.insert(&keys[8]);
        assert_eq!(set.capacity(), 32);
    }

    #[test]
    fn clone_capacity_follows_java_17() {
        assert_eq!(clone_capacity(0), 0);
        assert_eq!(clone_capacity(1), 2);
        assert_eq!(clone_capacity(12), 32);
        assert_eq!(clone_capacity(11), 16);
        assert_eq!(clone_capacity(100), 256);
    }

    #[test]
    fn threshold_is_three_quarters() {
        assert_eq!(threshold(8), 6);
        assert_eq!(threshold(16), 12);
        assert_eq!(threshold(1 << 29), 3 << 27);
    }
}
