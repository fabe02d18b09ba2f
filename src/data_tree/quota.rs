//! Quotas as ZooKeeper 3.8's DataTree keeps them. Clients (zkCli's
//! setquota) create `/zookeeper/quota<path>/zookeeper_limits` and
//! `.../zookeeper_stats` as plain nodes; the tree then maintains the stats
//! node's data itself:
//!
//! - creating a `zookeeper_limits` node whose parent starts with
//!   /zookeeper/quota adds the parent's path without that prefix to the set
//!   of quota'd paths (ZooKeeper's PathTrie); deleting a `zookeeper_limits`
//!   node removes it again;
//! - creating a `zookeeper_stats` node there writes the subtree's count and
//!   bytes into it (`updateQuotaForPath`);
//! - every create, delete and setData of a node under a quota'd path updates
//!   the deepest such path's stats node (`updateQuotaStat`): count ±1, bytes ±
//!   the data length change. The stats node's data changes without a
//!   version or mzxid change, and (as ZooKeeper's cached data size) without
//!   touching `approximate_data_size`.
//!
//! Quotas are not enforced (`zookeeper.enforceQuota` defaults to false).
//! The data strings are `StatsTrack`'s: "count=2,bytes=0", and with more
//! keys "count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1".

use std::collections::{BTreeSet, HashMap};

/// `Quotas.quotaZookeeper`.
pub const QUOTA_ROOT: &str = "/zookeeper/quota";
/// `Quotas.limitNode`.
pub const LIMIT_NODE: &str = "zookeeper_limits";
/// `Quotas.statNode`.
pub const STAT_NODE: &str = "zookeeper_stats";

/// `Quotas.statPath`.
pub fn stat_path(path: &str) -> String {
    format!("{QUOTA_ROOT}{path}/{STAT_NODE}")
}

/// `Quotas.trimQuotaPath` for a path that starts with /zookeeper/quota
/// (ZooKeeper 3.8 takes the substring blindly; other paths are not ours).
pub fn trim_quota_path(quota_path: &str) -> Option<&str> {
    quota_path.strip_prefix(QUOTA_ROOT)
}

/// The set of quota'd paths, with PathTrie's matching: paths are compared
/// by their non-empty '/'-separated components, so "x", "/x" and "/x/" are
/// one entry, and "/" (no component) is never one.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct QuotaPaths {
    paths: BTreeSet<String>,
}

fn normalize(path: &str) -> Option<String> {
    let mut out = String::with_capacity(path.len() + 1);
    for part in path.split('/').filter(|p| !p.is_empty()) {
        out.push('/');
        out.push_str(part);
    }
    if out.is_empty() {
        None
    } else {
        Some(out)
    }
}

impl QuotaPaths {
    /// `PathTrie.addPath`; ZooKeeper throws for a path without components,
    /// which is ignored here.
    pub fn add(&mut self, path: &str) {
        if let Some(p) = normalize(path) {
            self.paths.insert(p);
        }
    }

    /// `PathTrie.deletePath`.
    pub fn remove(&mut self, path: &str) {
        if let Some(p) = normalize(path) {
            self.paths.remove(&p);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.paths.iter().map(String::as_str)
    }

    /// `DataTree.getMaxPrefixWithQuota`: the deepest quota'd path that is
    /// `path` or one of its ancestors (by components), None when there is
    /// none.
    pub fn max_prefix(&self, path: &str) -> Option<&str> {
        if self.paths.is_empty() {
            return None;
        }
        let normalized = normalize(path)?;
        let mut best = None;
        let mut end = 0;
        let bytes = normalized.as_bytes();
        loop {
            end += 1;
            while end < bytes.len() && bytes[end] != b'/' {
                end += 1;
            }
            // PathTrie walks components and keeps the deepest node with the
            // property; a deeper entry keeps its ancestors' trie nodes, so
            // checking every prefix for membership finds the same one.
            if let Some(p) = self.paths.get(&normalized[..end]) {
                best = Some(p.as_str());
            }
            if end >= bytes.len() {
                break;
            }
        }
        best
    }
}

/// `StatsTrack`: a map of keys to longs, parsed from and printed to the
/// quota nodes' data.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StatsTrack {
    stats: HashMap<String, i64>,
}

/// Java's `String.split` (limit 0) with a separator matcher: leading empty
/// piece kept when the input starts with a separator, trailing empty pieces
/// dropped, no separator at all gives the input itself.
fn java_split(s: &str, is_sep: impl Fn(char) -> bool, runs: bool) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    let mut matched = false;
    while let Some((i, c)) = chars.next() {
        if is_sep(c) {
            matched = true;
            let mut end = i + c.len_utf8();
            if runs {
                while let Some(&(j, d)) = chars.peek() {
                    if !is_sep(d) {
                        break;
                    }
                    end = j + d.len_utf8();
                    chars.next();
                }
            }
            pieces.push(&s[start..i]);
            start = end;
        }
    }
    if !matched {
        return vec![s];
    }
    pieces.push(&s[start..]);
    while pieces.last().is_some_and(|p| p.is_empty()) {
        pieces.pop();
    }
    pieces
}

/// `Long.parseLong`: optional sign, then ASCII digits.
fn parse_long(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl StatsTrack {
    /// `new StatsTrack(String)`. None where Java would throw (a piece
    /// without '=' or a value that is not a long).
    pub fn parse(stat: &str) -> Option<StatsTrack> {
        let mut track = StatsTrack::default();
        if stat.is_empty() {
            return Some(track);
        }
        for pair in java_split(stat, |c| c == ',' || c == ';', true) {
            let kv = java_split(pair, |c| c == '=', false);
            let key = kv.first()?;
            let value = kv.get(1)?;
            let value = if value.is_empty() {
                -1
            } else {
                parse_long(value)?
            };
            track.stats.insert(key.to_string(), value);
        }
        Some(track)
    }

    pub fn from_bytes(data: &[u8]) -> Option<StatsTrack> {
        StatsTrack::parse(&String::from_utf8_lossy(data))
    }

    fn get(&self, key: &str) -> i64 {
        self.stats.get(key).copied().unwrap_or(-1)
    }

    pub fn count(&self) -> i64 {
        self.get("count")
    }
    pub fn bytes(&self) -> i64 {
        self.get("bytes")
    }
    pub fn set_count(&mut self, count: i64) {
        self.stats.insert("count".to_string(), count);
    }
    pub fn set_bytes(&mut self, bytes: i64) {
        self.stats.insert("bytes".to_string(), bytes);
    }

    /// `StatsTrack.getStatsBytes` / `toString`: count and bytes first, then
    /// "=" and the other keys sorted, each as ";key=value".
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("count={},bytes={}", self.count(), self.bytes());
        let mut keys: Vec<&String> = self
            .stats
            .keys()
            .filter(|k| *k != "count" && *k != "bytes")
            .collect();
        if !keys.is_empty() {
            out.push('=');
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            for key in keys {
                out.push(';');
                out.push_str(key);
                out.push('=');
                out.push_str(&self.stats[key].to_string());
            }
        }
        out.into_bytes()
    }
}
