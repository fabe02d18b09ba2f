//! The window of the newest logged txns kept in memory, for syncing a
//! learner by DIFF: ZooKeeper's `committedLog` (`zookeeper.commitLogCount`,
//! 500) and, beyond it, what ZooKeeper would read back from its txn log on
//! disk for a DIFF.
//!
//! ZooKeeper syncs from the log on disk only while the log to send is at
//! most `zookeeper.snapshotSizeFactor` (0.33) times the newest snapshot's
//! size; a learner further behind gets a SNAP. paddock keeps exactly that
//! much in memory instead of reading it back: at least `min` committed
//! txns, and beyond them as long as the window's bytes stay within the
//! budget and its committed txns within `limit` (snapCount). So beyond its
//! first 500 txns the window costs at most a third of a snapshot's size in
//! memory, and a learner gets a DIFF wherever ZooKeeper's leader would
//! have sent one.
//!
//! It mirrors the tail of the host's log: every `Append` goes in, a
//! truncation or an installed snapshot takes txns out. On a leader the txns
//! up to its last committed zxid are ZooKeeper's committedLog; the ones
//! after it are its outstanding proposals.
use std::collections::VecDeque;

use bytes::Bytes;

use crate::zab::Zxid;

pub(crate) struct History {
    entries: VecDeque<(Zxid, Bytes)>,
    /// Committed txns are always kept up to `min` and never beyond `limit`;
    /// between the two while the window holds at most `bytes_limit` bytes.
    /// Txns after `committed` (a leader's outstanding proposals, a
    /// learner's pending ones) are always kept.
    min: usize,
    limit: usize,
    bytes_limit: usize,
    /// Payload bytes of every entry in the window.
    bytes: usize,
    committed: Zxid,
    /// How many entries, from the front, are at or below `committed`.
    committed_len: usize,
    /// The highest zxid that left the window from the front (trimmed), or
    /// that a snapshot covers: everything after it up to the window's end is
    /// in the window. −1 when nothing ever left.
    covered_from: Zxid,
}

impl History {
    /// A window of at most `limit` committed txns (and at least `min` when
    /// the byte budget is smaller), with no byte budget yet.
    pub(crate) fn new(min: usize, limit: usize, recovered: Vec<(Zxid, Bytes)>) -> History {
        let mut history = History {
            entries: VecDeque::new(),
            min,
            limit,
            bytes_limit: usize::MAX,
            bytes: 0,
            committed: i64::MAX,
            committed_len: 0,
            covered_from: -1,
        };
        // What the host recovered may have a gap before it; treat the zxid
        // before the first one as already gone.
        if let Some(&(first, _)) = recovered.first() {
            history.covered_from = first - 1;
        }
        for (zxid, payload) in recovered {
            history.push(zxid, payload);
        }
        history.committed = history.last().unwrap_or(-1);
        history
    }

    /// The byte budget beyond the `min` committed txns.
    pub(crate) fn set_bytes_limit(&mut self, bytes: usize) {
        self.bytes_limit = bytes;
        self.trim();
    }

    /// Everything up to `zxid` is committed (and may leave the window).
    pub(crate) fn mark_committed(&mut self, zxid: Zxid) {
        if zxid < self.committed {
            // Never seen so far; but a count too high would let
            // uncommitted txns be trimmed, so count again.
            self.committed_len = self.entries.partition_point(|&(z, _)| z <= zxid);
        }
        self.committed = zxid;
        while self
            .entries
            .get(self.committed_len)
            .is_some_and(|&(z, _)| z <= zxid)
        {
            self.committed_len += 1;
        }
        self.trim();
    }

    fn over_budget(&self) -> bool {
        self.committed_len > self.limit
            || (self.committed_len > self.min && self.bytes > self.bytes_limit)
    }

    fn trim(&mut self) {
        while self.over_budget() {
            let Some((gone, payload)) = self.entries.pop_front() else {
                break;
            };
            self.committed_len -= 1;
            self.bytes -= payload.len();
            self.covered_from = self.covered_from.max(gone);
        }
    }

    /// A txn appended to the log (zxids increase).
    pub(crate) fn push(&mut self, zxid: Zxid, payload: Bytes) {
        if let Some(&(last, _)) = self.entries.back() {
            assert!(zxid > last, "history: zxid {zxid:#x} after {last:#x}");
        }
        self.bytes += payload.len();
        self.entries.push_back((zxid, payload));
        if zxid <= self.committed {
            self.committed_len += 1;
        }
        self.trim();
    }

    /// The log was truncated after `zxid`.
    pub(crate) fn truncate_after(&mut self, zxid: Zxid) {
        while self.entries.back().is_some_and(|&(z, _)| z > zxid) {
            if let Some((_, payload)) = self.entries.pop_back() {
                self.bytes -= payload.len();
            }
        }
        if self.covered_from > zxid {
            self.covered_from = zxid;
        }
        self.committed = self.committed.min(zxid);
        self.committed_len = self.committed_len.min(self.entries.len());
    }

    /// The state was replaced by a snapshot at `zxid`: nothing before it is
    /// known any more.
    pub(crate) fn reset_to_snapshot(&mut self, zxid: Zxid) {
        self.entries.clear();
        self.bytes = 0;
        self.committed_len = 0;
        self.covered_from = zxid;
        self.committed = zxid;
    }

    /// True when every txn after `zxid` that the log holds is in the window.
    pub(crate) fn covers_after(&self, zxid: Zxid) -> bool {
        zxid >= self.covered_from
    }

    /// First and last zxid of the window up to and including `upto`.
    pub(crate) fn bounds_upto(&self, upto: Zxid) -> Option<(Zxid, Zxid)> {
        let first = self.entries.front().filter(|&&(z, _)| z <= upto)?.0;
        let last = self
            .entries
            .iter()
            .rev()
            .find(|&&(z, _)| z <= upto)
            .map(|&(z, _)| z)?;
        Some((first, last))
    }

    /// The txns in the window with `after < zxid <= upto`, in order.
    pub(crate) fn range(&self, after: Zxid, upto: Zxid) -> impl Iterator<Item = &(Zxid, Bytes)> {
        let start = self.entries.partition_point(|&(z, _)| z <= after);
        self.entries
            .range(start..)
            .take_while(move |&&(z, _)| z <= upto)
    }

    /// Every txn in the window up to and including `upto`, in order.
    pub(crate) fn upto(&self, upto: Zxid) -> impl Iterator<Item = &(Zxid, Bytes)> {
        self.entries.iter().take_while(move |&&(z, _)| z <= upto)
    }

    pub(crate) fn last(&self) -> Option<Zxid> {
        self.entries.back().map(|&(z, _)| z)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(z: Zxid) -> (Zxid, Bytes) {
        (z, Bytes::from(z.to_be_bytes().to_vec()))
    }

    #[test]
    fn window_trims_from_the_front_and_remembers_what_it_lost() {
        let mut h = History::new(3, 3, vec![txn(5), txn(6)]);
        assert!(h.covers_after(4));
        assert!(!h.covers_after(3));
        h.push(7, txn(7).1);
        h.push(8, txn(8).1);
        assert_eq!(h.len(), 4, "uncommitted txns stay");
        h.mark_committed(8);
        assert_eq!(h.len(), 3);
        assert_eq!(h.bounds_upto(100), Some((6, 8)));
        assert_eq!(h.bounds_upto(7), Some((6, 7)));
        assert_eq!(h.bounds_upto(5), None);
        assert!(h.covers_after(5));
        assert!(!h.covers_after(4));
        let zs: Vec<Zxid> = h.range(6, 8).map(|(z, _)| *z).collect();
        assert_eq!(zs, vec![7, 8]);
        h.truncate_after(6);
        assert_eq!(h.last(), Some(6));
        h.reset_to_snapshot(20);
        assert_eq!(h.last(), None);
        assert!(h.covers_after(20));
        assert!(!h.covers_after(19));
    }

    #[test]
    fn the_byte_budget_trims_beyond_min_but_never_below_it() {
        // 8-byte payloads; at least 2 committed, at most 10.
        let mut h = History::new(2, 10, (1..=6).map(txn).collect());
        assert_eq!(h.len(), 6);
        h.set_bytes_limit(24);
        assert_eq!(h.len(), 3, "24 bytes hold three 8-byte txns");
        assert!(h.covers_after(3) && !h.covers_after(2));
        h.set_bytes_limit(0);
        assert_eq!(h.len(), 2, "never fewer than min committed txns");
        // Uncommitted txns stay whatever the budget.
        h.push(7, txn(7).1);
        h.push(8, txn(8).1);
        assert_eq!(h.len(), 4);
        h.mark_committed(8);
        assert_eq!(h.len(), 2);
        assert_eq!(h.bounds_upto(100), Some((7, 8)));
        // A truncation gives back the bytes of what it removed.
        h.set_bytes_limit(usize::MAX);
        h.push(9, txn(9).1);
        h.truncate_after(8);
        h.set_bytes_limit(16);
        assert_eq!(h.len(), 2);
        h.reset_to_snapshot(20);
        h.push(21, txn(21).1);
        h.mark_committed(21);
        assert_eq!(h.len(), 1);
        // Committed going back leaves later txns uncommitted, kept.
        h.push(22, txn(22).1);
        h.push(23, txn(23).1);
        h.mark_committed(23);
        h.mark_committed(21);
        h.set_bytes_limit(0);
        h.push(24, txn(24).1);
        assert_eq!(h.bounds_upto(100), Some((22, 24)));
        assert_eq!(h.len(), 3);
    }
}
