//! A simulated server's disk and its replicated state.
//!
//! The disk holds the two epoch files (written durably at once), at most one
//! snapshot (durable) and a txn log whose first `durable_len` entries are
//! durable; the rest is the unflushed tail a crash loses. The state is the
//! ordered list of applied txns — the sim's stand-in for the DataTree.

use std::sync::OnceLock;

use bytes::Bytes;

use crate::protocol::Acl;
use crate::zab::wire::{SnapDecoder, SnapEncoder, SnapItem, SnapNode, StatPersisted, WireError};
use crate::zab::{Durable, Zxid};

/// Where a txn lives in the snapshot tree: `/sim/<zxid in 16 hex digits>`.
const ENTRY_PREFIX: &str = "/sim/";
/// Filler nodes under `/fill`, so that every SNAP body is many KiB and
/// spans many reads of the simulated TCP stream whatever the state holds.
const FILLER_NODES: u64 = 24;
/// One filler node holds a record longer than most reads.
const FILLER_BIG_BYTES: usize = 12 * 1024;

/// The DataTree the sim's state stands for, as a SNAP body carries it:
/// a few sessions and two cached ACLs (their number varying with the
/// state, so that the body's header varies too), the root, `/fill` with
/// its filler nodes (data of 0 to ~1.5 KiB, one of 12 KiB; the same in
/// every body), `/sim`, and one node per txn whose data is the payload and
/// whose Stat names its zxid. [`Replica::encode`] writes exactly this tree
/// (the tests check), without building it.
#[cfg(test)]
pub fn snap_tree(entries: &[Entry]) -> crate::zab::wire::SnapTree {
    let mut nodes = vec![node(String::new(), Some(Bytes::new()), -1, 0)];
    nodes.extend(filler_nodes());
    nodes.push(sim_node(entries));
    nodes.extend(entries.iter().map(entry_node));
    crate::zab::wire::SnapTree {
        sessions: sessions(entries),
        acls: acls(),
        nodes,
    }
}

fn sessions(entries: &[Entry]) -> Vec<(i64, i32)> {
    (0..entries.len() as i64 % 4)
        .map(|k| (0x5100_0000_0000 + k, 4_000 + 1_000 * k as i32))
        .collect()
}

fn acls() -> Vec<(i64, Vec<Acl>)> {
    vec![(1, Acl::open_unsafe()), (2, Acl::read_unsafe())]
}

fn node(path: String, data: Option<Bytes>, acl_index: i64, zxid: Zxid) -> SnapNode {
    SnapNode {
        path,
        data,
        acl_index,
        stat: StatPersisted {
            czxid: zxid,
            mzxid: zxid,
            ctime: zxid,
            mtime: zxid,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: 0,
            pzxid: zxid,
        },
    }
}

fn filler_nodes() -> Vec<SnapNode> {
    let mut nodes = vec![node("/fill".to_string(), None, 2, 0)];
    for i in 0..FILLER_NODES {
        let len = if i == 5 {
            FILLER_BIG_BYTES
        } else {
            (i.wrapping_mul(2_654_435_761) % 1_500) as usize
        };
        let data: Vec<u8> = (0..len).map(|j| (i as usize * 131 + j * 7) as u8).collect();
        nodes.push(node(
            format!("/fill/f{i:03}"),
            Some(data.into()),
            2,
            i as Zxid,
        ));
    }
    nodes
}

/// The filler nodes' records, encoded once.
fn filler_bytes() -> &'static [u8] {
    static FILLER: OnceLock<Vec<u8>> = OnceLock::new();
    FILLER.get_or_init(|| {
        let mut out = Vec::new();
        for filler in filler_nodes() {
            SnapEncoder::node(&filler, &mut out);
        }
        out
    })
}

fn sim_node(entries: &[Entry]) -> SnapNode {
    let last = entries.last().map_or(0, |(zxid, _)| *zxid);
    node("/sim".to_string(), Some(Bytes::new()), 1, last)
}

fn entry_node((zxid, payload): &Entry) -> SnapNode {
    node(
        format!("{ENTRY_PREFIX}{:016x}", *zxid as u64),
        Some(payload.clone()),
        1,
        *zxid,
    )
}

fn encode_entries(entries: &[Entry]) -> Bytes {
    let mut out = Vec::with_capacity(filler_bytes().len() + 128 * entries.len() + 1024);
    SnapEncoder::header(&sessions(entries), &acls(), &mut out);
    SnapEncoder::node(&node(String::new(), Some(Bytes::new()), -1, 0), &mut out);
    out.extend_from_slice(filler_bytes());
    SnapEncoder::node(&sim_node(entries), &mut out);
    for entry in entries {
        SnapEncoder::node(&entry_node(entry), &mut out);
    }
    SnapEncoder::finish(&mut out);
    Bytes::from(out)
}

/// One txn: its zxid and opaque payload.
pub type Entry = (Zxid, Bytes);

/// The replicated state: every applied txn in zxid order, and the zxid the
/// state is at (a snapshot's zxid may be past its last txn).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replica {
    pub entries: Vec<Entry>,
    pub applied: Zxid,
}

impl Replica {
    /// The entry at `zxid`, if the state has one.
    pub fn get(&self, zxid: Zxid) -> Option<&Bytes> {
        find(&self.entries, zxid)
    }

    /// The serialized state: a SNAP body in ZooKeeper's inline DataTree
    /// grammar, as a leader sends it after a SNAP packet: exactly
    /// [`snap_tree`] of the entries, written record by record.
    pub fn encode(&self) -> Bytes {
        encode_entries(&self.entries)
    }

    /// The entries of a body made by [`Replica::encode`]: the body must be
    /// exactly the tree those entries make (every filler node, session and
    /// ACL in place), so that a byte lost or moved anywhere is caught.
    pub fn decode(body: &Bytes) -> Result<Vec<Entry>, String> {
        let mut entries: Vec<Entry> = Vec::new();
        let mut decoder = SnapDecoder::new(body.len());
        let used = decoder
            .feed(body, &mut |item| {
                if let SnapItem::Node(node) = item {
                    if let Some(hex) = node.path.strip_prefix(ENTRY_PREFIX) {
                        let zxid =
                            u64::from_str_radix(hex, 16).map_err(|_| WireError::Malformed {
                                what: "sim snapshot",
                                detail: format!("node '{}' is not a txn", node.path),
                            })? as Zxid;
                        entries.push((zxid, node.data.unwrap_or_default()));
                    }
                }
                Ok(())
            })
            .map_err(|e| format!("snapshot body: {e}"))?;
        if !decoder.is_done() || used != body.len() {
            return Err(format!(
                "snapshot body of {} bytes: {used} decoded, complete: {}",
                body.len(),
                decoder.is_done()
            ));
        }
        if entries.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
            return Err("snapshot body out of zxid order".to_string());
        }
        if encode_entries(&entries) != body {
            return Err(format!(
                "snapshot body of {} bytes is not the tree of its {} txns",
                body.len(),
                entries.len()
            ));
        }
        Ok(entries)
    }

    /// FNV-1a over every entry: a cheap fingerprint for reports.
    pub fn digest(&self) -> u64 {
        let mut hash = 0xcbf2_9ce4_8422_2325u64;
        let mut eat = |bytes: &[u8]| {
            for byte in bytes {
                hash ^= u64::from(*byte);
                hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        for (zxid, payload) in &self.entries {
            eat(&zxid.to_be_bytes());
            eat(payload);
        }
        hash
    }
}

/// Binary search of a zxid-ordered entry list.
pub fn find(entries: &[Entry], zxid: Zxid) -> Option<&Bytes> {
    entries
        .binary_search_by_key(&zxid, |(z, _)| *z)
        .ok()
        .map(|at| &entries[at].1)
}

#[derive(Clone, Debug, Default)]
pub struct Disk {
    pub accepted_epoch: i64,
    pub current_epoch: i64,
    /// The snapshot (durable): its zxid and its entries.
    snapshot_zxid: Zxid,
    snapshot: Vec<Entry>,
    /// Txns after the snapshot, in zxid order; the first `durable_len` are
    /// durable.
    log: Vec<Entry>,
    durable_len: usize,
    /// Bumped by every truncation or snapshot install, so that a flush asked
    /// for before one cannot make later appends durable.
    generation: u64,
}

impl Disk {
    /// The last zxid in the log (or the snapshot's, with an empty log).
    pub fn last_zxid(&self) -> Zxid {
        self.log.last().map_or(self.snapshot_zxid, |(z, _)| *z)
    }

    /// The last durable zxid.
    pub fn durable_zxid(&self) -> Zxid {
        if self.durable_len == 0 {
            self.snapshot_zxid
        } else {
            self.log[self.durable_len - 1].0
        }
    }

    /// Queues a txn at the log's tail; zxids must grow.
    pub fn append(&mut self, zxid: Zxid, payload: Bytes) -> Result<(), String> {
        let last = self.last_zxid();
        if zxid <= last {
            return Err(format!(
                "Append {zxid:#x} after {last:#x}: the log must grow in zxid order"
            ));
        }
        self.log.push((zxid, payload));
        Ok(())
    }

    /// What a flush asked for now covers: (generation, log length).
    pub fn flush_point(&self) -> (u64, usize) {
        (self.generation, self.log.len())
    }

    /// A flush asked for at `flush_point` completed.
    pub fn flush_done(&mut self, generation: u64, length: usize) {
        if generation == self.generation {
            self.durable_len = self.durable_len.max(length.min(self.log.len()));
        }
    }

    /// Power loss: the unflushed tail is gone.
    pub fn crash(&mut self) {
        self.log.truncate(self.durable_len);
    }

    /// Whether this exact txn survives a crash right now.
    pub fn durably_has(&self, zxid: Zxid, payload: &Bytes) -> bool {
        if zxid <= self.snapshot_zxid && find(&self.snapshot, zxid) == Some(payload) {
            return true;
        }
        find(&self.log[..self.durable_len], zxid) == Some(payload)
    }

    /// Whether this exact txn is anywhere on the disk (durable or not).
    pub fn has(&self, zxid: Zxid, payload: &Bytes) -> bool {
        find(&self.snapshot, zxid) == Some(payload) || find(&self.log, zxid) == Some(payload)
    }

    /// Drops every txn after `zxid`, durably (the log file is rewritten;
    /// what is left of it is durable). A snapshot past `zxid` falls back to
    /// its prefix, as ZooKeeper falls back to an older snapshot.
    pub fn truncate_after(&mut self, zxid: Zxid) {
        self.log.retain(|(z, _)| *z <= zxid);
        self.durable_len = self.log.len();
        if self.snapshot_zxid > zxid {
            self.snapshot.retain(|(z, _)| *z <= zxid);
            self.snapshot_zxid = zxid;
        }
        self.generation += 1;
    }

    /// Replaces everything by a snapshot at `zxid` (durably); the log
    /// starts empty after it.
    pub fn install_snapshot(&mut self, zxid: Zxid, entries: Vec<Entry>) {
        self.snapshot_zxid = zxid;
        self.snapshot = entries;
        self.log.clear();
        self.durable_len = 0;
        self.generation += 1;
    }

    /// The state a server rebuilds from this disk: the snapshot, then every
    /// logged txn after it (committed or not, as ZooKeeper replays its log).
    pub fn recover_state(&self) -> Replica {
        let mut entries = self.snapshot.clone();
        entries.extend(
            self.log
                .iter()
                .filter(|(z, _)| *z > self.snapshot_zxid)
                .cloned(),
        );
        Replica {
            entries,
            applied: self.last_zxid(),
        }
    }

    /// What the state machine is started with after a (re)start.
    pub fn durable(&self, history_limit: usize) -> Durable {
        let state = self.recover_state();
        let skip = state.entries.len().saturating_sub(history_limit);
        Durable {
            accepted_epoch: self.accepted_epoch,
            current_epoch: self.current_epoch,
            last_zxid: state.applied,
            history: state.entries[skip..].to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(x: u64) -> Bytes {
        Bytes::copy_from_slice(&x.to_be_bytes())
    }

    #[test]
    fn crash_loses_the_unflushed_tail_only() {
        let mut disk = Disk::default();
        disk.append(1, payload(1)).unwrap();
        disk.append(2, payload(2)).unwrap();
        let (generation, length) = disk.flush_point();
        disk.append(3, payload(3)).unwrap();
        disk.flush_done(generation, length);
        assert_eq!(disk.durable_zxid(), 2);
        assert!(disk.durably_has(2, &payload(2)));
        assert!(!disk.durably_has(3, &payload(3)));
        disk.crash();
        assert_eq!(disk.last_zxid(), 2);
        assert!(disk.append(2, payload(9)).is_err());
    }

    #[test]
    fn a_flush_from_before_a_truncation_covers_nothing_after_it() {
        let mut disk = Disk::default();
        for z in 1..=4 {
            disk.append(z, payload(z as u64)).unwrap();
        }
        let (generation, length) = disk.flush_point();
        disk.truncate_after(2);
        disk.append(3, payload(30)).unwrap();
        disk.flush_done(generation, length);
        assert_eq!(disk.durable_zxid(), 2);
        disk.crash();
        assert_eq!(disk.recover_state().entries.len(), 2);
    }

    #[test]
    fn snapshot_body_is_the_tree_and_rejects_any_change() {
        for count in [0u64, 1, 7, 300] {
            let entries: Vec<Entry> = (1..=count).map(|z| (z as Zxid * 3, payload(z))).collect();
            let body = encode_entries(&entries);
            let mut tree = Vec::new();
            snap_tree(&entries).encode(&mut tree);
            assert_eq!(body.as_ref(), tree.as_slice(), "{count} txns");
            assert!(body.len() > 20_000, "{} bytes", body.len());
            assert_eq!(Replica::decode(&body).unwrap(), entries);
            for at in [0, 5, body.len() / 2, body.len() - 1] {
                let mut bad = body.to_vec();
                bad[at] ^= 0x40;
                assert!(Replica::decode(&bad.into()).is_err(), "flip at {at}");
            }
            assert!(Replica::decode(&body.slice(..body.len() - 1)).is_err());
        }
    }

    #[test]
    fn snapshot_round_trip_and_recovery() {
        let state = Replica {
            entries: vec![(5, payload(5)), (7, payload(7))],
            applied: 8,
        };
        let entries = Replica::decode(&state.encode()).unwrap();
        assert_eq!(entries, state.entries);
        let mut disk = Disk::default();
        disk.install_snapshot(8, entries);
        disk.append(9, payload(9)).unwrap();
        let recovered = disk.recover_state();
        assert_eq!(recovered.entries.len(), 3);
        assert_eq!(recovered.applied, 9);
        let durable = disk.durable(2);
        assert_eq!(durable.last_zxid, 9);
        assert_eq!(durable.history.len(), 2);
        disk.crash();
        assert_eq!(disk.recover_state().applied, 8);
    }
}
