//! Snapshot records of a tree: the nodes (path, data, ACL, persisted stat)
//! depth first, parent before child, and the sessions.
//!
//! Children come in ZooKeeper's order (their `HashSet` iteration order, see
//! `java_hash`), as `DataTree.serializeNode` writes them, and loading adds
//! them in file order to fresh sets, as `DataTree.deserialize` does; so the
//! order a client sees after a restart is the one ZooKeeper shows after
//! loading the same snapshot (checked against a recorded ZooKeeper session
//! in `order_tests`). Any parent-before-child order still loads, so files
//! written before this kept their version. Watches are per connection
//! and never saved. The `storage` module frames, checksums and names files;
//! this is only the payload.
//!
//! ```text
//! Snapshot := magic "PDTS" int32 | version int32 = 2 | lastZxid int64
//!             | sessionCount int32 | (sessionId int64 | timeoutMs int32)*
//!             | nodeCount int32 | Node*
//!             | dataSize int64 | quotaCount int32 | quotaPath ustring*
//! Node     := path ustring | data buffer | acl vector<ACL>
//!             | czxid int64 | mzxid int64 | pzxid int64 | ctime int64 | mtime int64
//!             | version int32 | storedCversion int32 | aversion int32 | ephemeralOwner int64
//! ```
//!
//! Version 2 restores a tree exactly, so every shard's copy and a restart
//! (snapshot + log replay) equal the live tree: `dataSize` is the
//! `approximate_data_size` as kept (ZooKeeper's cached size, which the
//! quota stats updates do not move) and the quota'd paths are ZooKeeper's
//! PathTrie. ZooKeeper instead rebuilds both on load (`setupQuota`, and the
//! size summed afresh); that is what a version 1 snapshot (no trailer, from
//! before quotas were kept) gets.

use crate::protocol::jute::{DecodeError, JuteWrite, Reader};
use crate::protocol::Stat;

use super::{parent_of, DataTree};

const MAGIC: i32 = i32::from_be_bytes(*b"PDTS");
const VERSION: i32 = 2;
/// Before the dataSize and quota trailer.
const VERSION_1: i32 = 1;
/// Smallest encoded node: empty path, data and ACL, plus the fixed fields.
const NODE_MIN_BYTES: usize = 4 + 4 + 4 + 5 * 8 + 3 * 4 + 8;

impl DataTree {
    /// Appends the whole tree (nodes and sessions) to `out`.
    pub fn serialize(&self, out: &mut Vec<u8>) {
        out.write_i32(MAGIC);
        out.write_i32(VERSION);
        out.write_i64(self.last_zxid);
        out.write_i32(self.sessions.len() as i32);
        for (&id, &timeout) in &self.sessions {
            out.write_i64(id);
            out.write_i32(timeout);
        }
        let nodes = self.walk();
        out.write_i32(nodes.len() as i32);
        for node in nodes {
            out.write_string(&node.path);
            out.write_buffer(&node.data);
            out.write_acl_vec(&node.acl);
            out.write_i64(node.czxid);
            out.write_i64(node.mzxid);
            out.write_i64(node.pzxid);
            out.write_i64(node.ctime);
            out.write_i64(node.mtime);
            out.write_i32(node.version);
            out.write_i32(node.cversion);
            out.write_i32(node.aversion);
            out.write_i64(node.ephemeral_owner);
        }
        out.write_i64(self.data_size as i64);
        let quotas: Vec<&str> = self.quotas.iter().collect();
        out.write_i32(quotas.len() as i32);
        for path in quotas {
            out.write_string(path);
        }
    }

    /// Rebuilds a tree from `serialize`'s bytes. Every structural problem (a
    /// node before its parent, a duplicate, trailing bytes) is an error.
    pub fn deserialize(bytes: &[u8]) -> Result<DataTree, DecodeError> {
        let mut r = Reader::new(bytes);
        let magic = r.read_i32()?;
        if magic != MAGIC {
            return Err(DecodeError::BadValue {
                field: "snapshot magic",
                value: magic as i64,
            });
        }
        let version = r.read_i32()?;
        if version != VERSION && version != VERSION_1 {
            return Err(DecodeError::BadValue {
                field: "snapshot version",
                value: version as i64,
            });
        }
        let mut tree = DataTree::empty();
        tree.last_zxid = r.read_i64()?;
        let sessions = r.read_vec_len(12)?;
        for _ in 0..sessions {
            let id = r.read_i64()?;
            let timeout = r.read_i32()?;
            tree.sessions.insert(id, timeout);
        }
        let nodes = r.read_vec_len(NODE_MIN_BYTES)?;
        for i in 0..nodes {
            let offset = r.position();
            let path = r.read_string()?;
            let data = r.read_bytes()?;
            let acl = r.read_acl_vec()?;
            let czxid = r.read_i64()?;
            let mzxid = r.read_i64()?;
            let pzxid = r.read_i64()?;
            let ctime = r.read_i64()?;
            let mtime = r.read_i64()?;
            let version = r.read_i32()?;
            let cversion = r.read_i32()?;
            let aversion = r.read_i32()?;
            let ephemeral_owner = r.read_i64()?;
            let well_placed = if i == 0 {
                path == "/"
            } else {
                path.starts_with('/')
                    && path != "/"
                    && !path.ends_with('/')
                    && tree.index.contains_key(parent_of(&path))
                    && !tree.index.contains_key(path.as_str())
            };
            if !well_placed {
                return Err(DecodeError::BadValue {
                    field: "snapshot node path",
                    value: offset as i64,
                });
            }
            let stat = Stat {
                czxid,
                mzxid,
                ctime,
                mtime,
                version,
                cversion,
                aversion,
                ephemeral_owner,
                data_length: 0,
                num_children: 0,
                pzxid,
            };
            tree.insert_raw(&path, data, &acl, stat);
        }
        if version == VERSION_1 {
            tree.setup_quota();
        } else {
            tree.data_size = r.read_i64()? as u64;
            let quotas = r.read_vec_len(4)?;
            for _ in 0..quotas {
                let path = r.read_string()?;
                tree.quotas.add(&path);
            }
        }
        if !r.is_empty() {
            return Err(DecodeError::BadValue {
                field: "snapshot trailing bytes",
                value: r.remaining() as i64,
            });
        }
        if tree.index.is_empty() {
            return Err(DecodeError::BadValue {
                field: "snapshot without root",
                value: 0,
            });
        }
        Ok(tree)
    }
}

/// ZooKeeper's serialized DataTree, as a SNAP carries it between peers
/// (`zab::wire::SnapTree`): the conversion both ways. The tree a SNAP
/// rebuilds is the one ZooKeeper's learner builds: nodes with their stats
/// and ACLs, children added in file order, sessions, quotas set up afresh.
impl DataTree {
    /// This tree as ZooKeeper's DataTree record: root as `""`, nodes in
    /// the pre-order, children in `HashSet` order (as `serialize`), ACL
    /// lists numbered from 1 in order of first use.
    pub fn to_snap_tree(&self) -> crate::zab::wire::SnapTree {
        use crate::zab::wire::SnapTree;
        let mut acls: Vec<(i64, Vec<crate::protocol::Acl>)> = Vec::new();
        let mut acl_index: std::collections::HashMap<&[crate::protocol::Acl], i64> =
            std::collections::HashMap::new();
        let nodes = self
            .walk()
            .into_iter()
            .map(|node| {
                let next = acls.len() as i64 + 1;
                let index = *acl_index.entry(&node.acl[..]).or_insert_with(|| {
                    acls.push((next, node.acl.to_vec()));
                    next
                });
                snap_node(node, index)
            })
            .collect();
        SnapTree {
            sessions: self.sessions.iter().map(|(&id, &t)| (id, t)).collect(),
            acls,
            nodes,
        }
    }

    /// Rebuilds a tree from ZooKeeper's DataTree record, at `zxid` (the
    /// SNAP packet's); see [`SnapLoader`].
    pub fn from_snap_tree(
        snap: &crate::zab::wire::SnapTree,
        zxid: i64,
    ) -> Result<DataTree, DecodeError> {
        use crate::zab::wire::SnapItem;
        let mut loader = SnapLoader::new();
        for &(id, timeout_ms) in &snap.sessions {
            loader.add(SnapItem::Session { id, timeout_ms })?;
        }
        for (index, acl) in &snap.acls {
            loader.add(SnapItem::Acl {
                index: *index,
                acl: acl.clone(),
            })?;
        }
        for node in &snap.nodes {
            loader.add(SnapItem::Node(node.clone()))?;
        }
        loader.finish(zxid)
    }
}

/// Builds a tree from a SNAP body's records as they arrive
/// ([`SnapDecoder`](crate::zab::wire::SnapDecoder)'s items), so a learner
/// never holds the serialized body: memory is the tree being built.
///
/// ACL index −1 is OPEN_ACL_UNSAFE, as in ZooKeeper's
/// `ReferenceCountedACLCache`; an index with no list is an error. The root
/// comes first, and every other node after its parent and only once.
pub struct SnapLoader {
    tree: DataTree,
    acls: std::collections::HashMap<i64, Vec<crate::protocol::Acl>>,
    nodes: u64,
}

impl Default for SnapLoader {
    fn default() -> Self {
        SnapLoader::new()
    }
}

impl SnapLoader {
    pub fn new() -> SnapLoader {
        SnapLoader {
            tree: DataTree::empty(),
            acls: std::collections::HashMap::new(),
            nodes: 0,
        }
    }

    /// Nodes loaded so far.
    pub fn node_count(&self) -> u64 {
        self.nodes
    }

    pub fn add(&mut self, item: crate::zab::wire::SnapItem) -> Result<(), DecodeError> {
        use crate::zab::wire::SnapItem;
        match item {
            SnapItem::Session { id, timeout_ms } => {
                self.tree.sessions.insert(id, timeout_ms);
            }
            SnapItem::Acl { index, acl } => {
                self.acls.insert(index, acl);
            }
            SnapItem::Node(node) => self.add_node(node)?,
        }
        Ok(())
    }

    fn add_node(&mut self, node: crate::zab::wire::SnapNode) -> Result<(), DecodeError> {
        let tree = &mut self.tree;
        let path = if node.path.is_empty() {
            "/".to_string()
        } else {
            node.path
        };
        let well_placed = if self.nodes == 0 {
            path == "/"
        } else {
            path.starts_with('/')
                && path != "/"
                && tree.index.contains_key(parent_of(&path))
                && !tree.index.contains_key(path.as_str())
        };
        if !well_placed {
            return Err(DecodeError::BadValue {
                field: "SNAP node path",
                value: self.nodes as i64,
            });
        }
        let open;
        let acl: &[crate::protocol::Acl] = if node.acl_index == -1 {
            open = crate::protocol::Acl::open_unsafe();
            &open
        } else {
            self.acls
                .get(&node.acl_index)
                .ok_or(DecodeError::BadValue {
                    field: "SNAP node ACL index",
                    value: node.acl_index,
                })?
                .as_slice()
        };
        let s = &node.stat;
        let stat = Stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion,
            aversion: s.aversion,
            ephemeral_owner: s.ephemeral_owner,
            data_length: 0,
            num_children: 0,
            pzxid: s.pzxid,
        };
        tree.insert_raw(&path, node.data.unwrap_or_default(), acl, stat);
        self.nodes += 1;
        Ok(())
    }

    /// The loaded tree, at `zxid` (the SNAP packet's).
    pub fn finish(self, zxid: i64) -> Result<DataTree, DecodeError> {
        let mut tree = self.tree;
        if tree.index.is_empty() {
            return Err(DecodeError::BadValue {
                field: "SNAP without root",
                value: 0,
            });
        }
        tree.last_zxid = zxid;
        tree.setup_quota();
        Ok(tree)
    }
}

/// A node as a SNAP body carries it (the root's path is `""`, as ZooKeeper
/// writes it); shared by [`DataTree::to_snap_tree`] and [`SnapStreamer`].
fn snap_node(node: &super::Node, acl_index: i64) -> crate::zab::wire::SnapNode {
    crate::zab::wire::SnapNode {
        path: if &*node.path == "/" {
            String::new()
        } else {
            node.path.to_string()
        },
        data: Some(node.data.clone()),
        acl_index,
        stat: crate::zab::wire::StatPersisted {
            czxid: node.czxid,
            mzxid: node.mzxid,
            ctime: node.ctime,
            mtime: node.mtime,
            version: node.version,
            cversion: node.cversion,
            aversion: node.aversion,
            ephemeral_owner: node.ephemeral_owner,
            pzxid: node.pzxid,
        },
    }
}

/// Writes a tree as a SNAP body piece by piece, so a leader never holds
/// the whole serialized tree: it owns a copy of the tree taken at one
/// zxid (node data is shared with the live tree, `Bytes`; only metadata is
/// copied) and walks it in the order [`DataTree::walk`] gives, a bounded
/// piece per call, on the thread that writes the socket. The consensus
/// thread keeps committing meanwhile. Exact at the copy's zxid, not fuzzy.
pub struct SnapStreamer {
    tree: DataTree,
    /// The pre-order walk still to go (slot ids, next on top).
    stack: Vec<u32>,
    acl_index: std::collections::HashMap<std::sync::Arc<[crate::protocol::Acl]>, i64>,
    started: bool,
    done: bool,
    nodes: u64,
}

impl SnapStreamer {
    pub fn new(tree: DataTree) -> SnapStreamer {
        let stack = tree
            .index
            .get("/")
            .map(|&root| vec![root])
            .unwrap_or_default();
        SnapStreamer {
            tree,
            stack,
            acl_index: std::collections::HashMap::new(),
            started: false,
            done: false,
            nodes: 0,
        }
    }

    /// The zxid the body is exact at.
    pub fn zxid(&self) -> i64 {
        self.tree.last_zxid
    }

    /// Nodes written so far.
    pub fn nodes_written(&self) -> u64 {
        self.nodes
    }

    /// Appends the next records to `out` until it holds at least
    /// `bytes_min` bytes or the body is complete; true once it is.
    pub fn fill(&mut self, out: &mut Vec<u8>, bytes_min: usize) -> bool {
        use crate::zab::wire::SnapEncoder;
        if !self.started {
            self.started = true;
            // The ACL cache goes before the nodes: one entry per distinct
            // list, numbered from 1 (−1 would be OPEN_ACL_UNSAFE's).
            // Numbered in walk order, as `to_snap_tree` numbers them.
            let mut acls: Vec<(i64, Vec<crate::protocol::Acl>)> = Vec::new();
            for node in self.tree.walk() {
                if !self.acl_index.contains_key(&node.acl) {
                    let index = acls.len() as i64 + 1;
                    self.acl_index.insert(node.acl.clone(), index);
                    acls.push((index, node.acl.to_vec()));
                }
            }
            let sessions: Vec<(i64, i32)> =
                self.tree.sessions.iter().map(|(&id, &t)| (id, t)).collect();
            SnapEncoder::header(&sessions, &acls, out);
        }
        while out.len() < bytes_min {
            let Some(id) = self.stack.pop() else {
                SnapEncoder::finish(out);
                self.done = true;
                return true;
            };
            let node = self.tree.slot(id);
            let mut children = self.tree.ordered_children(node);
            children.reverse();
            self.stack.extend(children);
            // Every node's list was numbered at the start, and the copy
            // does not change.
            let acl_index = self.acl_index[&node.acl];
            SnapEncoder::node(&snap_node(node, acl_index), out);
            self.nodes += 1;
        }
        self.done
    }
}
