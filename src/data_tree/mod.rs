//! The znode tree of one shard: nodes with their Stat, data and ACL, children,
//! ephemerals by session, containers and TTL nodes, the sessions every copy
//! knows, and the watch tables of this shard's own sessions.
//!
//! Every shard keeps its own `DataTree` and applies the same committed txn
//! stream to it (`txn::apply`); node data is `bytes::Bytes` shared between
//! copies. The mutators here (`create_node`, `delete_node`, `set_data`,
//! `set_acl`, `kill_session`) trust that the sequencer validated the change;
//! they only refuse what would break the tree itself (NoNode, NodeExists).
//!
//! Layout, chosen to keep a node small (see `tests::node_cost`): nodes live in
//! a slab (`Vec<Option<Node>>`, ids are `u32`), found by a
//! `HashMap<Arc<str>, u32>` whose key shares its allocation with the node's
//! own path. A node lists its children by id (4 bytes each) and remembers its
//! index in its parent's list, so removal is O(1). ACL lists are interned
//! (`Arc<[Acl]>`), as ZooKeeper's ACL cache does. Per node and copy:
//! 160 bytes of `Node`, ~28 bytes of index entry, the path allocation
//! (16 + path length), 4 bytes in the parent: ~250 bytes for 40-byte paths.
//!
//! Orders a client sees are ZooKeeper's: its children and a session's
//! ephemerals are Java `HashSet<String>`s, and getChildren, getEphemerals,
//! snapshots (and so the order after a restart) follow their iteration
//! order, which `java_hash` models. The list of child ids itself stays
//! unordered (O(1) removal); each child keeps its insertion sequence in the
//! parent and the parent its Java table size (one packed `u32`), and a read
//! sorts by (bin, sequence).
//!
//! ZooKeeper quirks kept on purpose: `cversion` is stored as the number of
//! child creations and reported as `2 * stored - numChildren`
//! (`DataNode.copyStat`); sequential names use the stored value. The node
//! count includes ZooKeeper's "" alias of the root.

mod acl;
pub mod java_hash;
mod path;
mod quota;
mod snapshot;
pub use snapshot::{SnapLoader, SnapStreamer};
mod watches;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;

use crate::protocol::{
    Acl, ErrorCode, EventType, KeeperState, SetWatchesRequest, Stat, WatcherEvent,
    CONTAINER_EPHEMERAL_OWNER,
};

pub use acl::{check_acl, fixup_acl, ip_matches};
use java_hash::{order_key, string_spread, CHILDREN_INITIAL_CAPACITY};
pub use path::{join, name_of, parent_of, validate_path};
pub use quota::{stat_path, QuotaPaths, StatsTrack, LIMIT_NODE, QUOTA_ROOT, STAT_NODE};
pub use watches::WatchKind;
use watches::{Mode, WatchTable};

/// `EphemeralType.EXTENDED_MASK`: the top byte of a TTL node's ephemeralOwner.
pub const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000_u64 as i64;
const RESERVED_BITS_MASK: i64 = 0x00ff_ff00_0000_0000;
/// Largest TTL (`EphemeralType.TTL.maxValue()`), in milliseconds.
pub const TTL_MAX_MS: i64 = 0x0000_00ff_ffff_ffff;

/// `EphemeralType.TTL.toEphemeralOwner`; None when the ttl is out of range.
pub fn ttl_to_ephemeral_owner(ttl_ms: i64) -> Option<i64> {
    if ttl_ms <= 0 || ttl_ms > TTL_MAX_MS {
        return None;
    }
    Some(EXTENDED_MASK | ttl_ms)
}

/// The TTL of a TTL node's ephemeralOwner, or None for any other owner.
pub fn ttl_of_ephemeral_owner(owner: i64) -> Option<i64> {
    if owner != CONTAINER_EPHEMERAL_OWNER
        && owner & EXTENDED_MASK == EXTENDED_MASK
        && owner & RESERVED_BITS_MASK == 0
    {
        Some(owner & TTL_MAX_MS)
    } else {
        None
    }
}

/// `EphemeralType.NORMAL`: owned by a session (not persistent, container, TTL).
pub fn is_session_owner(owner: i64) -> bool {
    owner != 0 && owner != CONTAINER_EPHEMERAL_OWNER && ttl_of_ephemeral_owner(owner).is_none()
}

/// One znode. Read through `DataTree::node`.
#[derive(Debug, Clone)]
pub struct Node {
    path: Arc<str>,
    data: Bytes,
    acl: Arc<[Acl]>,
    children: Vec<u32>,
    czxid: i64,
    mzxid: i64,
    pzxid: i64,
    ctime: i64,
    mtime: i64,
    ephemeral_owner: i64,
    version: i32,
    /// ZooKeeper's stored cversion: child creations so far.
    cversion: i32,
    aversion: i32,
    slot_in_parent: u32,
    /// When this node joined its parent's set, relative to its siblings
    /// (Java's order within a bin).
    sequence_in_parent: u32,
    /// The Java table size of this node's children set, and the next
    /// child's sequence.
    children_table: ChildTable,
}

/// A parent's children set as ZooKeeper's `HashSet<String>(8)` has it,
/// packed in a `u32`: the table size's log2 in the low 5 bits (0: no table
/// yet), the next child's insertion sequence above. When the sequence runs
/// out the children are renumbered, keeping their order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct ChildTable(u32);

impl ChildTable {
    const LOG2_BITS: u32 = 5;
    /// Sequences are 27 bits.
    const SEQUENCE_END: u32 = 1 << (32 - Self::LOG2_BITS);

    fn new(capacity: u32, next_sequence: u32) -> ChildTable {
        debug_assert!(capacity == 0 || capacity.is_power_of_two() && capacity > 1);
        debug_assert!(next_sequence < Self::SEQUENCE_END);
        let log2 = if capacity == 0 {
            0
        } else {
            capacity.trailing_zeros()
        };
        ChildTable(log2 | (next_sequence << Self::LOG2_BITS))
    }

    fn capacity(self) -> u32 {
        match self.0 & ((1 << Self::LOG2_BITS) - 1) {
            0 => 0,
            log2 => 1 << log2,
        }
    }

    fn next_sequence(self) -> u32 {
        self.0 >> Self::LOG2_BITS
    }
}

/// A session's ephemeral paths as ZooKeeper's `HashSet<String>()` in
/// `DataTree.ephemerals` has them. ZooKeeper keeps a session's set (and its
/// table size) after its last ephemeral is deleted, until the session
/// closes; so does this.
#[derive(Debug, Clone, Default)]
struct SessionEphemerals {
    /// Path → insertion sequence.
    paths: BTreeMap<Arc<str>, u32>,
    capacity: u32,
    next_sequence: u32,
}

impl SessionEphemerals {
    fn insert(&mut self, path: Arc<str>) {
        if self.paths.contains_key(&path) {
            return;
        }
        let hash = string_spread(&path);
        let paths = &self.paths;
        self.capacity = java_hash::capacity_after_insert(
            self.capacity,
            java_hash::DEFAULT_INITIAL_CAPACITY,
            paths.len() + 1,
            |capacity| {
                let bin = java_hash::bin(hash, capacity);
                1 + paths
                    .keys()
                    .filter(|p| java_hash::bin(string_spread(p), capacity) == bin)
                    .count()
            },
        );
        if self.next_sequence == u32::MAX {
            // Renumber in order; sequences only need to be increasing.
            let order: Vec<Arc<str>> = self.order().into_iter().cloned().collect();
            let mut by_sequence: Vec<(u32, Arc<str>)> =
                order.into_iter().map(|p| (self.paths[&p], p)).collect();
            by_sequence.sort_unstable_by_key(|(s, _)| *s);
            for (fresh, (_, p)) in by_sequence.into_iter().enumerate() {
                self.paths.insert(p, fresh as u32);
            }
            self.next_sequence = self.paths.len() as u32;
        }
        self.paths.insert(path, self.next_sequence);
        self.next_sequence += 1;
    }

    fn remove(&mut self, path: &str) {
        self.paths.remove(path);
    }

    /// Java's iteration order of the live set.
    fn order(&self) -> Vec<&Arc<str>> {
        let mut keyed: Vec<(u64, &Arc<str>)> = self
            .paths
            .iter()
            .map(|(p, &s)| (order_key(string_spread(p), self.capacity, s), p))
            .collect();
        keyed.sort_unstable_by_key(|(k, _)| *k);
        keyed.into_iter().map(|(_, p)| p).collect()
    }
}

impl Node {
    /// The Stat as ZooKeeper reports it (numChildren, dataLength, and the
    /// cversion translation of `DataNode.copyStat`).
    pub fn stat(&self) -> Stat {
        let num_children = self.children.len() as i32;
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: self.aversion,
            // As ZooKeeper's DataNode.copyStat: clients see 0 for containers
            // and TTL nodes; the owner encoding is internal.
            ephemeral_owner: if is_session_owner(self.ephemeral_owner) {
                self.ephemeral_owner
            } else {
                0
            },
            data_length: self.data.len() as i32,
            num_children,
            pzxid: self.pzxid,
        }
    }
    pub fn data(&self) -> &Bytes {
        &self.data
    }
    pub fn acl(&self) -> &Arc<[Acl]> {
        &self.acl
    }
    pub fn path(&self) -> &str {
        &self.path
    }
    pub fn name(&self) -> &str {
        name_of(&self.path)
    }
    pub fn num_children(&self) -> usize {
        self.children.len()
    }
    /// The stored cversion (count of child creations): the next sequential
    /// suffix, and what the container sweep compares with 0.
    pub fn child_creations(&self) -> i32 {
        self.cversion
    }
    pub fn version(&self) -> i32 {
        self.version
    }
    pub fn aversion(&self) -> i32 {
        self.aversion
    }
    pub fn ephemeral_owner(&self) -> i64 {
        self.ephemeral_owner
    }
    pub fn mzxid(&self) -> i64 {
        self.mzxid
    }
    pub fn pzxid(&self) -> i64 {
        self.pzxid
    }
    pub fn mtime(&self) -> i64 {
        self.mtime
    }
}

/// Paths ZooKeeper refuses to delete (`DataTree.isSpecialPath`).
pub fn is_special_path(path: &str) -> bool {
    matches!(
        path,
        "/" | "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config"
    )
}

/// The tree of one shard. See the module docs.
#[derive(Debug, Clone)]
pub struct DataTree {
    slots: Vec<Option<Node>>,
    free: Vec<u32>,
    index: HashMap<Arc<str>, u32>,
    acls: HashSet<Arc<[Acl]>>,
    ephemerals: HashMap<i64, SessionEphemerals>,
    containers: BTreeSet<Arc<str>>,
    ttls: BTreeSet<Arc<str>>,
    sessions: BTreeMap<i64, i32>,
    data_size: u64,
    /// Quota'd paths (ZooKeeper's PathTrie); see `quota`.
    quotas: QuotaPaths,
    last_zxid: i64,
    data_watches: WatchTable,
    child_watches: WatchTable,
}

impl Default for DataTree {
    fn default() -> Self {
        DataTree::new()
    }
}

/// Looks for (and unless `check_only` removes) a session's watch on a path,
/// optionally only of one mode.
fn visit_watch(
    table: &mut WatchTable,
    path: &str,
    session_id: i64,
    wanted: Option<Mode>,
    check_only: bool,
) -> bool {
    let hit = match (table.mode(path, session_id), wanted) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(mode), Some(w)) => mode == w,
    };
    if hit && !check_only {
        table.remove(path, session_id);
    }
    hit
}

fn event(event_type: EventType, path: &str) -> WatcherEvent {
    WatcherEvent {
        event_type,
        state: KeeperState::SyncConnected,
        path: path.to_string(),
    }
}

impl DataTree {
    /// "/", "/zookeeper", "/zookeeper/quota" (world:anyone all) and
    /// "/zookeeper/config" (world:anyone read, aversion -1, empty data), with
    /// zeroed stats, as ZooKeeper's DataTree constructor builds them.
    pub fn new() -> DataTree {
        let mut tree = DataTree::empty();
        let open = Acl::open_unsafe();
        tree.insert_raw("/", Bytes::new(), &open, Stat::default());
        tree.insert_raw("/zookeeper", Bytes::new(), &open, Stat::default());
        tree.insert_raw("/zookeeper/quota", Bytes::new(), &open, Stat::default());
        let config_stat = Stat {
            aversion: -1,
            ..Stat::default()
        };
        tree.insert_raw(
            "/zookeeper/config",
            Bytes::new(),
            &Acl::read_unsafe(),
            config_stat,
        );
        tree
    }

    fn empty() -> DataTree {
        DataTree {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            acls: HashSet::new(),
            ephemerals: HashMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            sessions: BTreeMap::new(),
            data_size: 0,
            quotas: QuotaPaths::default(),
            last_zxid: 0,
            data_watches: WatchTable::default(),
            child_watches: WatchTable::default(),
        }
    }

    fn slot(&self, id: u32) -> &Node {
        match &self.slots[id as usize] {
            Some(node) => node,
            None => panic!("data tree invariant broken: slot {id} is referenced but empty"),
        }
    }

    fn slot_mut(&mut self, id: u32) -> &mut Node {
        match &mut self.slots[id as usize] {
            Some(node) => node,
            None => panic!("data tree invariant broken: slot {id} is referenced but empty"),
        }
    }

    fn intern_acl(&mut self, acl: &[Acl]) -> Arc<[Acl]> {
        if let Some(shared) = self.acls.get(acl) {
            return shared.clone();
        }
        let shared: Arc<[Acl]> = Arc::from(acl);
        self.acls.insert(shared.clone());
        shared
    }

    /// Drops the interner's copy once only the interner and `acl` hold it.
    fn release_acl(&mut self, acl: Arc<[Acl]>) {
        if Arc::strong_count(&acl) == 2 {
            self.acls.remove(&*acl);
        }
    }

    /// Inserts a node whose parent exists (or the root), without events or
    /// parent stat changes. Used by `new`, `create_node` and snapshots.
    fn insert_raw(&mut self, path: &str, data: Bytes, acl: &[Acl], stat: Stat) -> u32 {
        self.insert_shared(Arc::from(path), data, acl, stat)
    }

    /// As `insert_raw`, keeping the caller's path allocation (a txn's path is
    /// shared by every tree copy that applies it).
    fn insert_shared(&mut self, path: Arc<str>, data: Bytes, acl: &[Acl], stat: Stat) -> u32 {
        let acl = self.intern_acl(acl);
        let mut node = Node {
            path: path.clone(),
            data,
            acl,
            children: Vec::new(),
            czxid: stat.czxid,
            mzxid: stat.mzxid,
            pzxid: stat.pzxid,
            ctime: stat.ctime,
            mtime: stat.mtime,
            ephemeral_owner: stat.ephemeral_owner,
            version: stat.version,
            cversion: stat.cversion,
            aversion: stat.aversion,
            slot_in_parent: 0,
            sequence_in_parent: 0,
            children_table: ChildTable::default(),
        };
        self.data_size += path::java_length(&path) + node.data.len() as u64;
        let parent_id = if &*path == "/" {
            None
        } else {
            self.index.get(parent_of(&path)).copied()
        };
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        if let Some(parent_id) = parent_id {
            let (table, sequence) = self.join_children_set(parent_id, name_of(&path));
            node.sequence_in_parent = sequence;
            let parent = self.slot_mut(parent_id);
            parent.children_table = table;
            node.slot_in_parent = parent.children.len() as u32;
            parent.children.push(id);
        }
        let owner = node.ephemeral_owner;
        self.slots[id as usize] = Some(node);
        self.index.insert(path.clone(), id);
        if owner == CONTAINER_EPHEMERAL_OWNER {
            self.containers.insert(path);
        } else if ttl_of_ephemeral_owner(owner).is_some() {
            self.ttls.insert(path);
        } else if owner != 0 {
            self.ephemerals.entry(owner).or_default().insert(path);
        }
        id
    }

    /// `addChild` on a parent's `HashSet<String>(8)`: the parent's table
    /// after adding `name`, and the new child's sequence.
    fn join_children_set(&mut self, parent_id: u32, name: &str) -> (ChildTable, u32) {
        if self.slot(parent_id).children_table.next_sequence() + 1 >= ChildTable::SEQUENCE_END {
            self.renumber_children(parent_id);
        }
        let parent = self.slot(parent_id);
        let table = parent.children_table;
        let hash = string_spread(name);
        let capacity = java_hash::capacity_after_insert(
            table.capacity(),
            CHILDREN_INITIAL_CAPACITY,
            parent.children.len() + 1,
            |capacity| {
                let bin = java_hash::bin(hash, capacity);
                1 + parent
                    .children
                    .iter()
                    .filter(|&&c| {
                        java_hash::bin(string_spread(self.slot(c).name()), capacity) == bin
                    })
                    .count()
            },
        );
        let sequence = table.next_sequence();
        (ChildTable::new(capacity, sequence + 1), sequence)
    }

    /// Gives a parent's children fresh sequences 0.. in their current
    /// sequence order, when the 27-bit counter runs out.
    fn renumber_children(&mut self, parent_id: u32) {
        let parent = self.slot(parent_id);
        let capacity = parent.children_table.capacity();
        let mut by_sequence: Vec<(u32, u32)> = parent
            .children
            .iter()
            .map(|&c| (self.slot(c).sequence_in_parent, c))
            .collect();
        assert!(
            by_sequence.len() < ChildTable::SEQUENCE_END as usize - 1,
            "data tree invariant broken: more than 2^27 children under one node"
        );
        by_sequence.sort_unstable();
        let count = by_sequence.len() as u32;
        for (fresh, (_, child)) in by_sequence.into_iter().enumerate() {
            self.slot_mut(child).sequence_in_parent = fresh as u32;
        }
        self.slot_mut(parent_id).children_table = ChildTable::new(capacity, count);
    }

    /// A node's child ids in ZooKeeper's order (its `HashSet` iteration).
    fn ordered_children(&self, node: &Node) -> Vec<u32> {
        let capacity = node.children_table.capacity();
        let mut keyed: Vec<(u64, u32)> = node
            .children
            .iter()
            .map(|&id| {
                let child = self.slot(id);
                let key = order_key(
                    string_spread(child.name()),
                    capacity,
                    child.sequence_in_parent,
                );
                (key, id)
            })
            .collect();
        keyed.sort_unstable_by_key(|(key, _)| *key);
        keyed.into_iter().map(|(_, id)| id).collect()
    }

    // ---- reads -------------------------------------------------------------

    pub fn node(&self, path: &str) -> Option<&Node> {
        // ZooKeeper's node map keys the root as "" as well as "/", and reads
        // are not path-validated, so getData("") answers with the root.
        let path = if path.is_empty() { "/" } else { path };
        self.index.get(path).map(|&id| self.slot(id))
    }

    /// Child names in ZooKeeper's order: the iteration order of the
    /// parent's `HashSet<String>` (see `java_hash`), which getChildren,
    /// getChildren2 and multiRead answer with.
    pub fn children(&self, path: &str) -> Option<Vec<String>> {
        let node = self.node(path)?;
        Some(
            self.ordered_children(node)
                .into_iter()
                .map(|id| self.slot(id).name().to_string())
                .collect(),
        )
    }

    /// Whether Java would have turned a bin of this node's children set
    /// into a tree (≥ 9 names in one bin of ≥ 64): then `children`'s order
    /// may differ from ZooKeeper's (see `java_hash`).
    pub fn children_order_inexact(&self, path: &str) -> bool {
        let Some(node) = self.node(path) else {
            return false;
        };
        let capacity = node.children_table.capacity();
        let mut keys: Vec<u64> = node
            .children
            .iter()
            .map(|&id| {
                let child = self.slot(id);
                order_key(
                    string_spread(child.name()),
                    capacity,
                    child.sequence_in_parent,
                )
            })
            .collect();
        keys.sort_unstable();
        java_hash::has_tree_bin(&keys, capacity)
    }

    /// ZooKeeper's `getNodeCount()`: its node map holds the root twice ("" and
    /// "/"), so a fresh tree counts 5.
    pub fn node_count(&self) -> usize {
        self.index.len() + 1
    }

    /// ZooKeeper's `approximateDataSize`: per node, path length (UTF-16 units)
    /// plus data length.
    pub fn approximate_data_size(&self) -> u64 {
        self.data_size
    }

    /// The ephemerals of a session in ZooKeeper's order: the iteration
    /// order of its live `HashSet<String>` in `DataTree.ephemerals`, which
    /// `dump` (`dumpEphemerals`) prints.
    pub fn ephemerals(&self, session_id: i64) -> Vec<String> {
        self.ephemerals
            .get(&session_id)
            .map(|set| set.order().into_iter().map(|p| p.to_string()).collect())
            .unwrap_or_default()
    }

    /// The ephemerals of a session as the getEphemerals op lists them:
    /// `DataTree.getEphemerals` answers with a `clone()` of the set, whose
    /// table is sized afresh (`java_hash::clone_capacity`), so its order can
    /// differ from [`DataTree::ephemerals`]'.
    pub fn ephemerals_cloned(&self, session_id: i64) -> Vec<String> {
        let Some(set) = self.ephemerals.get(&session_id) else {
            return Vec::new();
        };
        let live: Vec<(u32, &Arc<str>)> = set
            .order()
            .into_iter()
            .map(|p| (string_spread(p), p))
            .collect();
        java_hash::clone_order(live)
            .into_iter()
            .map(|p| p.to_string())
            .collect()
    }

    /// Sessions ZooKeeper has an ephemerals set for (sorted): every session
    /// that ever created an ephemeral and has not closed, even when the set
    /// is empty again (ZooKeeper's `dump` counts those too).
    pub fn sessions_with_ephemerals(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.ephemerals.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(|s| s.paths.len()).sum()
    }

    pub fn sessions(&self) -> impl Iterator<Item = (i64, i32)> + '_ {
        self.sessions.iter().map(|(&id, &timeout)| (id, timeout))
    }

    pub fn session_timeout(&self, session_id: i64) -> Option<i32> {
        self.sessions.get(&session_id).copied()
    }

    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    pub fn set_last_zxid(&mut self, zxid: i64) {
        if zxid > self.last_zxid {
            self.last_zxid = zxid;
        }
    }

    /// `getAllChildrenNumber`: every descendant (for "/" that includes
    /// /zookeeper and its children, as in ZooKeeper).
    pub fn all_children_number(&self, path: &str) -> Option<i32> {
        let root = self.index.get(path).copied()?;
        let mut count = 0i64;
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            let node = self.slot(id);
            count += node.children.len() as i64;
            stack.extend(node.children.iter().copied());
        }
        Some(count.min(i32::MAX as i64) as i32)
    }

    /// Containers the server should delete: no children, and had one once
    /// (stored cversion > 0), as `ContainerManager.getCandidates`.
    pub fn containers_to_delete(&self) -> Vec<String> {
        self.containers
            .iter()
            .filter_map(|p| self.node(p))
            .filter(|n| n.children.is_empty() && n.cversion > 0)
            .map(|n| n.path.to_string())
            .collect()
    }

    /// TTL nodes with no children whose mtime + ttl < now.
    pub fn ttl_expired(&self, now_ms: i64) -> Vec<String> {
        self.ttls
            .iter()
            .filter_map(|p| self.node(p))
            .filter(|n| n.children.is_empty())
            .filter(|n| match ttl_of_ephemeral_owner(n.ephemeral_owner) {
                Some(ttl) => ttl != 0 && now_ms.saturating_sub(n.mtime) > ttl,
                None => false,
            })
            .map(|n| n.path.to_string())
            .collect()
    }

    /// The quota'd paths (see `quota`).
    pub fn quota_paths(&self) -> &QuotaPaths {
        &self.quotas
    }

    // ---- quotas (see `quota`) -------------------------------------------------

    /// `DataTree.updateQuotaStat` for the deepest quota'd prefix of `path`,
    /// if any: adds the diffs to that prefix's stats node data. The node's
    /// stat (version, mzxid) and `approximate_data_size` stay as they are,
    /// as in ZooKeeper. A missing stats node or data that ZooKeeper could
    /// not parse leave everything unchanged.
    fn update_quota_stat(&mut self, path: &str, bytes_diff: i64, count_diff: i64) {
        let Some(prefix) = self.quotas.max_prefix(path) else {
            return;
        };
        let stat_path = stat_path(prefix);
        let Some(&id) = self.index.get(stat_path.as_str()) else {
            return;
        };
        let node = self.slot_mut(id);
        let Some(mut track) = StatsTrack::from_bytes(&node.data) else {
            return;
        };
        track.set_count(track.count().wrapping_add(count_diff));
        track.set_bytes(track.bytes().wrapping_add(bytes_diff));
        node.data = Bytes::from(track.to_bytes());
    }

    /// `DataTree.updateQuotaForPath`: writes the count and bytes of the
    /// subtree at `real` (nothing there: 0 and 0) into its stats node.
    fn update_quota_for_path(&mut self, real: &str) {
        let (mut count, mut bytes) = (0i64, 0i64);
        if let Some(&root) = self.index.get(if real.is_empty() { "/" } else { real }) {
            let mut stack = vec![root];
            while let Some(id) = stack.pop() {
                let node = self.slot(id);
                count += 1;
                bytes += node.data.len() as i64;
                stack.extend(node.children.iter().copied());
            }
        }
        let Some(&id) = self.index.get(stat_path(real).as_str()) else {
            return;
        };
        let mut track = StatsTrack::default();
        track.set_bytes(bytes);
        track.set_count(count);
        self.slot_mut(id).data = Bytes::from(track.to_bytes());
    }

    /// `DataTree.setupQuota` (on loading a snapshot): every leaf under
    /// /zookeeper/quota whose path ends in "/zookeeper_limits" marks the path
    /// before the first "/zookeeper_limits" as quota'd and recomputes its
    /// stats.
    fn setup_quota(&mut self) {
        let Some(&root) = self.index.get(QUOTA_ROOT) else {
            return;
        };
        let suffix = format!("/{LIMIT_NODE}");
        let mut found = Vec::new();
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            let node = self.slot(id);
            if node.children.is_empty() {
                if node.path.ends_with(&suffix) {
                    if let Some(at) = node.path.find(&suffix) {
                        if at >= QUOTA_ROOT.len() {
                            found.push(node.path[QUOTA_ROOT.len()..at].to_string());
                        }
                    }
                }
            } else {
                stack.extend(node.children.iter().copied());
            }
        }
        for real in found {
            self.update_quota_for_path(&real);
            self.quotas.add(&real);
        }
    }

    // ---- mutations (from txn::apply) ---------------------------------------

    /// Registers a session (createSession txn).
    pub fn add_session(&mut self, session_id: i64, timeout_ms: i32) {
        self.sessions.insert(session_id, timeout_ms);
    }

    /// `DataTree.createNode`. `parent_cversion` is the parent's new stored
    /// cversion, computed by the sequencer. Fires NodeCreated on the path and
    /// NodeChildrenChanged on the parent.
    #[allow(clippy::too_many_arguments)]
    pub fn create_node(
        &mut self,
        path: &str,
        data: Bytes,
        acl: &[Acl],
        ephemeral_owner: i64,
        parent_cversion: i32,
        zxid: i64,
        time_ms: i64,
        events: &mut Vec<(i64, WatcherEvent)>,
    ) -> Result<Stat, ErrorCode> {
        let path: Arc<str> = Arc::from(path);
        self.create_node_shared(
            &path,
            data,
            acl,
            ephemeral_owner,
            parent_cversion,
            zxid,
            time_ms,
            events,
        )
    }

    /// `create_node` with the caller's path allocation, which the new node
    /// keeps (every tree copy applying one txn shares it).
    #[allow(clippy::too_many_arguments)]
    pub fn create_node_shared(
        &mut self,
        shared_path: &Arc<str>,
        data: Bytes,
        acl: &[Acl],
        ephemeral_owner: i64,
        parent_cversion: i32,
        zxid: i64,
        time_ms: i64,
        events: &mut Vec<(i64, WatcherEvent)>,
    ) -> Result<Stat, ErrorCode> {
        let path: &str = shared_path;
        if path == "/" || !path.starts_with('/') {
            return Err(ErrorCode::NodeExists);
        }
        let parent_path = parent_of(path);
        let parent_id = *self.index.get(parent_path).ok_or(ErrorCode::NoNode)?;
        if self.index.contains_key(path) {
            return Err(ErrorCode::NodeExists);
        }
        let parent = self.slot_mut(parent_id);
        let parent_cversion = if parent_cversion == -1 {
            parent.cversion.wrapping_add(1)
        } else {
            parent_cversion
        };
        if parent_cversion > parent.cversion {
            parent.cversion = parent_cversion;
            parent.pzxid = zxid;
        }
        let stat = Stat {
            czxid: zxid,
            mzxid: zxid,
            ctime: time_ms,
            mtime: time_ms,
            pzxid: zxid,
            ephemeral_owner,
            ..Stat::default()
        };
        let data_len = data.len() as i64;
        let id = self.insert_shared(shared_path.clone(), data, acl, stat);
        let stat = self.slot(id).stat();
        if let Some(real) = quota::trim_quota_path(parent_path) {
            match name_of(path) {
                LIMIT_NODE => self.quotas.add(real),
                STAT_NODE => self.update_quota_for_path(real),
                _ => {}
            }
        }
        self.update_quota_stat(path, data_len, 1);
        self.fire(path, EventType::NodeCreated, events);
        self.fire_children_changed(parent_path, events);
        Ok(stat)
    }

    /// `DataTree.deleteNode`: fires NodeDeleted (data then child watchers of
    /// the path, one event per session) and NodeChildrenChanged on the parent.
    pub fn delete_node(
        &mut self,
        path: &str,
        zxid: i64,
        events: &mut Vec<(i64, WatcherEvent)>,
    ) -> Result<(), ErrorCode> {
        if path == "/" {
            return Err(ErrorCode::BadArguments);
        }
        let id = *self.index.get(path).ok_or(ErrorCode::NoNode)?;
        if !self.slot(id).children.is_empty() {
            return Err(ErrorCode::NotEmpty);
        }
        let parent_path = parent_of(path);
        let parent_id = *self.index.get(parent_path).ok_or(ErrorCode::NoNode)?;
        let node = match self.slots[id as usize].take() {
            Some(node) => node,
            None => panic!("data tree invariant broken: slot {id} is indexed but empty"),
        };
        self.index.remove(path);
        self.free.push(id);
        // The parent's Java table keeps its size: nothing to do but unlink.
        let parent = self.slot_mut(parent_id);
        let at = node.slot_in_parent as usize;
        parent.children.swap_remove(at);
        if zxid > parent.pzxid {
            parent.pzxid = zxid;
        }
        if let Some(&moved) = parent.children.get(at) {
            self.slot_mut(moved).slot_in_parent = at as u32;
        }
        self.data_size = self
            .data_size
            .wrapping_sub(path::java_length(path) + node.data.len() as u64);
        let owner = node.ephemeral_owner;
        if owner == CONTAINER_EPHEMERAL_OWNER {
            self.containers.remove(path);
        } else if ttl_of_ephemeral_owner(owner).is_some() {
            self.ttls.remove(path);
        } else if owner != 0 {
            // The emptied set stays, as in ZooKeeper (its table size
            // decides the order of the session's later ephemerals).
            if let Some(set) = self.ephemerals.get_mut(&owner) {
                set.remove(path);
            }
        }
        if name_of(path) == LIMIT_NODE {
            if let Some(real) = quota::trim_quota_path(parent_path) {
                self.quotas.remove(real);
            }
        }
        self.update_quota_stat(path, -(node.data.len() as i64), -1);
        let Node { acl, .. } = node;
        self.release_acl(acl);
        let processed = self.data_watches.trigger(path, EventType::NodeDeleted, &[]);
        let child_fired = self
            .child_watches
            .trigger(path, EventType::NodeDeleted, &processed);
        for session in processed.into_iter().chain(child_fired) {
            events.push((session, event(EventType::NodeDeleted, path)));
        }
        self.fire_children_changed(parent_path, events);
        Ok(())
    }

    /// `DataTree.setData`: `version` is the new version from the txn.
    pub fn set_data(
        &mut self,
        path: &str,
        data: Bytes,
        version: i32,
        zxid: i64,
        time_ms: i64,
        events: &mut Vec<(i64, WatcherEvent)>,
    ) -> Result<Stat, ErrorCode> {
        let id = *self.index.get(path).ok_or(ErrorCode::NoNode)?;
        let node = self.slot_mut(id);
        let old_len = node.data.len() as u64;
        let new_len = data.len() as u64;
        node.data = data;
        node.mtime = time_ms;
        node.mzxid = zxid;
        node.version = version;
        let stat = node.stat();
        // Wrapping: quota stats updates change data outside this count, as in
        // ZooKeeper, so the count can in principle drift below a node's size.
        self.data_size = self.data_size.wrapping_sub(old_len).wrapping_add(new_len);
        self.update_quota_stat(path, new_len as i64 - old_len as i64, 0);
        self.fire(path, EventType::NodeDataChanged, events);
        Ok(stat)
    }

    /// `DataTree.setACL`: `version` is the new aversion from the txn.
    pub fn set_acl(&mut self, path: &str, acl: &[Acl], version: i32) -> Result<Stat, ErrorCode> {
        let id = *self.index.get(path).ok_or(ErrorCode::NoNode)?;
        let acl = self.intern_acl(acl);
        let node = self.slot_mut(id);
        let old = std::mem::replace(&mut node.acl, acl);
        node.aversion = version;
        let stat = node.stat();
        self.release_acl(old);
        Ok(stat)
    }

    /// closeSession: deletes the listed paths, then any ephemeral of the
    /// session still left (ZooKeeper's `killSession`), then forgets the
    /// session and its watches in this copy.
    pub fn kill_session(
        &mut self,
        session_id: i64,
        paths: &[String],
        zxid: i64,
        events: &mut Vec<(i64, WatcherEvent)>,
    ) {
        for path in paths {
            let _ = self.delete_node(path, zxid, events);
        }
        for path in self.ephemerals(session_id) {
            let _ = self.delete_node(&path, zxid, events);
        }
        self.ephemerals.remove(&session_id);
        self.sessions.remove(&session_id);
        self.remove_session_watches(session_id);
    }

    fn fire(&mut self, path: &str, event_type: EventType, events: &mut Vec<(i64, WatcherEvent)>) {
        for session in self.data_watches.trigger(path, event_type, &[]) {
            events.push((session, event(event_type, path)));
        }
    }

    fn fire_children_changed(&mut self, parent: &str, events: &mut Vec<(i64, WatcherEvent)>) {
        for session in self
            .child_watches
            .trigger(parent, EventType::NodeChildrenChanged, &[])
        {
            events.push((session, event(EventType::NodeChildrenChanged, parent)));
        }
    }

    // ---- watches -------------------------------------------------------------

    pub fn add_watch(&mut self, path: &str, session_id: i64, kind: WatchKind) {
        match kind {
            WatchKind::Data | WatchKind::Exist => {
                self.data_watches.add(path, session_id, Mode::Standard)
            }
            WatchKind::Child => self.child_watches.add(path, session_id, Mode::Standard),
            WatchKind::Persistent => {
                self.child_watches.add(path, session_id, Mode::Persistent);
                self.data_watches.add(path, session_id, Mode::Persistent);
            }
            WatchKind::PersistentRecursive => {
                self.data_watches.add(path, session_id, Mode::Recursive)
            }
        }
    }

    /// checkWatches / removeWatches. `watcher_type`: 1 children, 2 data,
    /// 3 any, 4 persistent, 5 persistent recursive. Returns false when the
    /// session has no such watch (the caller answers NoWatcher).
    pub fn remove_watches(
        &mut self,
        path: &str,
        session_id: i64,
        watcher_type: i32,
        check_only: bool,
    ) -> bool {
        let child = &mut self.child_watches;
        let data = &mut self.data_watches;
        match watcher_type {
            1 => visit_watch(child, path, session_id, None, check_only),
            2 => visit_watch(data, path, session_id, None, check_only),
            3 => {
                let in_child = visit_watch(child, path, session_id, None, check_only);
                let in_data = visit_watch(data, path, session_id, None, check_only);
                in_child || in_data
            }
            4 => {
                let wanted = Some(Mode::Persistent);
                let in_child = visit_watch(child, path, session_id, wanted, check_only);
                let in_data = visit_watch(data, path, session_id, wanted, check_only);
                in_child || in_data
            }
            5 => visit_watch(data, path, session_id, Some(Mode::Recursive), check_only),
            _ => false,
        }
    }

    pub fn remove_session_watches(&mut self, session_id: i64) {
        self.data_watches.remove_session(session_id);
        self.child_watches.remove_session(session_id);
    }

    /// setWatches / setWatches2 after a reconnect (`DataTree.setWatches`):
    /// fires at once what the client missed since `relative_zxid`, registers
    /// the rest. `_last_zxid` (this copy's last zxid) is accepted for callers
    /// that want to log it; ZooKeeper compares against the nodes only.
    pub fn set_watches(
        &mut self,
        session_id: i64,
        req: &SetWatchesRequest,
        _last_zxid: i64,
    ) -> Vec<(i64, WatcherEvent)> {
        let relative = req.relative_zxid;
        let mut out = Vec::new();
        for path in &req.data_watches {
            match self.node(path).map(|n| n.mzxid) {
                None => out.push((session_id, event(EventType::NodeDeleted, path))),
                Some(mzxid) if mzxid > relative => {
                    out.push((session_id, event(EventType::NodeDataChanged, path)))
                }
                Some(_) => self.data_watches.add(path, session_id, Mode::Standard),
            }
        }
        for path in &req.exist_watches {
            if self.node(path).is_some() {
                out.push((session_id, event(EventType::NodeCreated, path)));
            } else {
                self.data_watches.add(path, session_id, Mode::Standard);
            }
        }
        for path in &req.child_watches {
            match self.node(path).map(|n| n.pzxid) {
                None => out.push((session_id, event(EventType::NodeDeleted, path))),
                Some(pzxid) if pzxid > relative => {
                    out.push((session_id, event(EventType::NodeChildrenChanged, path)))
                }
                Some(_) => self.child_watches.add(path, session_id, Mode::Standard),
            }
        }
        for path in &req.persistent_watches {
            self.child_watches.add(path, session_id, Mode::Persistent);
            self.data_watches.add(path, session_id, Mode::Persistent);
        }
        for path in &req.persistent_recursive_watches {
            self.data_watches.add(path, session_id, Mode::Recursive);
        }
        out
    }

    /// Total watches (data table + child table), ZooKeeper's `watch_count`.
    pub fn watch_count(&self) -> usize {
        self.data_watches.count() + self.child_watches.count()
    }

    /// For wchs/wchc/wchp: every (session, path) with a data-table watch
    /// (exists, getData, persistent, recursive), sorted. ZooKeeper 3.8 lists
    /// only these there, though `watch_count` counts child watches too.
    pub fn data_watches(&self) -> Vec<(i64, String)> {
        self.data_watches.pairs()
    }

    /// Nodes depth first, parent before child, children in ZooKeeper's
    /// order: the order `DataTree.serializeNode` writes a snapshot in, so
    /// that loading it (which re-adds children in file order) gives the
    /// order ZooKeeper has after a restart.
    pub fn walk(&self) -> Vec<&Node> {
        let mut out = Vec::with_capacity(self.index.len());
        if let Some(&root) = self.index.get("/") {
            let mut stack = vec![root];
            while let Some(id) = stack.pop() {
                let node = self.slot(id);
                out.push(node);
                let mut children = self.ordered_children(node);
                children.reverse();
                stack.extend(children);
            }
        }
        out
    }
}

#[cfg(test)]
mod order_tests;
#[cfg(test)]
mod tests;
