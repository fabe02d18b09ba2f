//! A simulated server's disk and its replicated state.
//!
//! The disk holds the two epoch files (written durably at once), at most one
//! snapshot (durable) and a txn log whose first `durable_len` entries are
//! durable; the rest is the unflushed tail a crash loses. The state is the
//! ordered list of applied txns — the sim's stand-in for the DataTree.

use bytes::{BufMut, Bytes, BytesMut};

use crate::zab::{Durable, Zxid};

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

    /// The serialized state: `u32 count`, then per entry `i64 zxid`,
    /// `u32 length`, payload (all big-endian).
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        out.put_u32(self.entries.len() as u32);
        for (zxid, payload) in &self.entries {
            out.put_i64(*zxid);
            out.put_u32(payload.len() as u32);
            out.put_slice(payload);
        }
        out.freeze()
    }

    /// The entries of a body made by [`Replica::encode`].
    pub fn decode(body: &Bytes) -> Result<Vec<Entry>, String> {
        let mut at = 0usize;
        let take = |at: &mut usize, n: usize| -> Result<Bytes, String> {
            if *at + n > body.len() {
                return Err(format!(
                    "snapshot body ends at {} of {} bytes",
                    body.len(),
                    *at + n
                ));
            }
            let slice = body.slice(*at..*at + n);
            *at += n;
            Ok(slice)
        };
        let count = u32::from_be_bytes(take(&mut at, 4)?.as_ref().try_into().map_err(|_| "count")?);
        let mut entries = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let zxid =
                i64::from_be_bytes(take(&mut at, 8)?.as_ref().try_into().map_err(|_| "zxid")?);
            let length = u32::from_be_bytes(
                take(&mut at, 4)?
                    .as_ref()
                    .try_into()
                    .map_err(|_| "length")?,
            );
            let payload = take(&mut at, length as usize)?;
            if entries
                .last()
                .is_some_and(|(last, _): &Entry| *last >= zxid)
            {
                return Err(format!("snapshot body out of zxid order at {zxid:#x}"));
            }
            entries.push((zxid, payload));
        }
        if at != body.len() {
            return Err(format!(
                "{} trailing bytes in snapshot body",
                body.len() - at
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
