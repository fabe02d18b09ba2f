//! The window of the newest logged txns kept in memory, for syncing a
//! learner by DIFF (ZooKeeper's `committedLog`, `zookeeper.commitLogCount`).
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
    limit: usize,
    /// The highest zxid that left the window from the front (trimmed), or
    /// that a snapshot covers: everything after it up to the window's end is
    /// in the window. −1 when nothing ever left.
    covered_from: Zxid,
}

impl History {
    pub(crate) fn new(limit: usize, recovered: Vec<(Zxid, Bytes)>) -> History {
        let mut history = History {
            entries: VecDeque::new(),
            limit,
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
        history
    }

    /// A txn appended to the log (zxids increase).
    pub(crate) fn push(&mut self, zxid: Zxid, payload: Bytes) {
        if let Some(&(last, _)) = self.entries.back() {
            assert!(zxid > last, "history: zxid {zxid:#x} after {last:#x}");
        }
        self.entries.push_back((zxid, payload));
        while self.entries.len() > self.limit {
            if let Some((gone, _)) = self.entries.pop_front() {
                self.covered_from = self.covered_from.max(gone);
            }
        }
    }

    /// The log was truncated after `zxid`.
    pub(crate) fn truncate_after(&mut self, zxid: Zxid) {
        while self.entries.back().is_some_and(|&(z, _)| z > zxid) {
            self.entries.pop_back();
        }
        if self.covered_from > zxid {
            self.covered_from = zxid;
        }
    }

    /// The state was replaced by a snapshot at `zxid`: nothing before it is
    /// known any more.
    pub(crate) fn reset_to_snapshot(&mut self, zxid: Zxid) {
        self.entries.clear();
        self.covered_from = zxid;
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

    #[cfg(test)]
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
        let mut h = History::new(3, vec![txn(5), txn(6)]);
        assert!(h.covers_after(4));
        assert!(!h.covers_after(3));
        h.push(7, txn(7).1);
        h.push(8, txn(8).1);
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
}
