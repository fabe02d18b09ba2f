//! Session bookkeeping that needs no I/O: ids, passwords, timeout
//! negotiation, and expiry buckets driven by a `now` passed in (ZooKeeper's
//! SessionTrackerImpl + ExpiryQueue).
//!
//! Expiry times are rounded up to the next tick boundary, `(t / tick + 1) *
//! tick`, so sessions expire in batches once per tick. A touch moves a
//! session to a later bucket. `expired(now)` hands out (and forgets) every
//! session whose bucket is due; the caller then proposes closeSession for
//! each. Which sessions exist cluster-wide is the tree's business (the
//! createSession/closeSession txns); this tracker is the leader's timer.

use std::collections::{BTreeMap, HashMap, HashSet};

/// ZooKeeper's `SessionTrackerImpl.initializeNextSessionId`:
/// `((now << 24) >>> 8) | (serverId << 56)`; the next ids are +1 each.
pub fn next_session_id_base(server_id: u8, now_ms: u64) -> i64 {
    let base = ((now_ms << 24) >> 8) as i64;
    let id = base | ((server_id as i64) << 56);
    if id == i64::MIN {
        // never hand out the container sentinel
        id + 1
    } else {
        id
    }
}

/// The first id this server hands out: ZooKeeper's time-based base, or
/// past the newest recovered session *of this server* if the clock has gone
/// back since it was made. Other servers' sessions are in their own ranges
/// (their id's top byte) and are not looked at: going past the highest of
/// those put a restarted server inside another server's range, and the two
/// handed out the same ids (found by the real-client ensemble suite: a
/// restarted follower gave a new client the id, and so the password, of a
/// session another server had just created).
pub fn first_session_id(
    server_id: u8,
    now_ms: u64,
    recovered: impl IntoIterator<Item = i64>,
) -> i64 {
    let base = next_session_id_base(server_id, now_ms);
    let own_newest = recovered
        .into_iter()
        .filter(|id| (id >> 56) as u8 == server_id)
        .max();
    match own_newest {
        Some(newest) if newest >= base => newest + 1,
        _ => base,
    }
}

/// The requested timeout clamped into [min, max]
/// (`ZooKeeperServer.processConnectRequest`).
pub fn negotiate_timeout(requested_ms: i32, min_ms: i32, max_ms: i32) -> i32 {
    if requested_ms < min_ms {
        min_ms
    } else if requested_ms > max_ms {
        max_ms
    } else {
        requested_ms
    }
}

/// ZooKeeper's session password: 16 bytes of `java.util.Random(sessionId ^
/// 0xB3415C00).nextBytes`, so every server derives the same password and a
/// client can reconnect anywhere (and to a ZooKeeper server, byte for byte).
pub fn session_password(session_id: i64) -> [u8; 16] {
    const SUPER_SECRET: i64 = 0xB341_5C00;
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;
    let mut seed = ((session_id ^ SUPER_SECRET) as u64 ^ MULTIPLIER) & MASK;
    let mut next_int = || {
        seed = (seed.wrapping_mul(MULTIPLIER).wrapping_add(0xB)) & MASK;
        (seed >> 16) as u32
    };
    let mut out = [0u8; 16];
    for chunk in out.chunks_mut(4) {
        let mut rnd = next_int();
        for b in chunk {
            *b = rnd as u8;
            rnd >>= 8;
        }
    }
    out
}

#[derive(Clone, Copy, Debug)]
struct Tracked {
    timeout_ms: u64,
    expires_at_ms: u64,
}

/// The leader's session timer. Pure: time is always passed in.
#[derive(Debug)]
pub struct SessionTracker {
    tick_ms: u64,
    sessions: HashMap<i64, Tracked>,
    buckets: BTreeMap<u64, HashSet<i64>>,
}

impl SessionTracker {
    pub fn new(tick_ms: u64) -> SessionTracker {
        SessionTracker {
            tick_ms: tick_ms.max(1),
            sessions: HashMap::new(),
            buckets: BTreeMap::new(),
        }
    }

    /// `ExpiryQueue.roundToNextInterval`.
    pub fn round_to_next_tick(&self, time_ms: u64) -> u64 {
        (time_ms / self.tick_ms + 1) * self.tick_ms
    }

    fn place(&mut self, id: i64, timeout_ms: u64, now_ms: u64) {
        let expires_at_ms = self.round_to_next_tick(now_ms.saturating_add(timeout_ms));
        if let Some(old) = self.sessions.insert(
            id,
            Tracked {
                timeout_ms,
                expires_at_ms,
            },
        ) {
            if old.expires_at_ms == expires_at_ms {
                return;
            }
            self.unbucket(id, old.expires_at_ms);
        }
        self.buckets.entry(expires_at_ms).or_default().insert(id);
    }

    /// Takes `id` out of its bucket. An emptied bucket stays until its time
    /// comes, as in ZooKeeper's `ExpiryQueue` (`dump` counts it).
    fn unbucket(&mut self, id: i64, at: u64) {
        if let Some(bucket) = self.buckets.get_mut(&at) {
            bucket.remove(&id);
        }
    }

    /// Tracks a session (new, or re-tracked with a new timeout).
    pub fn add(&mut self, id: i64, timeout_ms: i32, now_ms: u64) {
        self.place(id, timeout_ms.max(0) as u64, now_ms);
    }

    /// Pushes the session's expiry to `now + timeout` (rounded). False if the
    /// session is unknown or already past its expiry.
    pub fn touch(&mut self, id: i64, now_ms: u64) -> bool {
        let Some(tracked) = self.sessions.get(&id).copied() else {
            return false;
        };
        if now_ms >= tracked.expires_at_ms {
            return false;
        }
        self.place(id, tracked.timeout_ms, now_ms);
        true
    }

    pub fn remove(&mut self, id: i64) {
        if let Some(old) = self.sessions.remove(&id) {
            self.unbucket(id, old.expires_at_ms);
        }
    }

    /// Every session whose expiry time is at or before `now`, sorted; they
    /// are forgotten here (the caller closes them).
    pub fn expired(&mut self, now_ms: u64) -> Vec<i64> {
        let mut out = Vec::new();
        while let Some(entry) = self.buckets.first_entry() {
            if *entry.key() > now_ms {
                break;
            }
            out.extend(entry.remove());
        }
        for id in &out {
            self.sessions.remove(id);
        }
        out.sort_unstable();
        out
    }

    /// When `expired` will next have something to hand out.
    pub fn next_expiry_ms(&self) -> Option<u64> {
        self.buckets
            .iter()
            .find(|(_, ids)| !ids.is_empty())
            .map(|(at, _)| *at)
    }

    /// The expiry buckets, earliest first: (expiry time, sessions), for
    /// `dump`.
    pub fn buckets(&self) -> impl Iterator<Item = (u64, &HashSet<i64>)> + '_ {
        self.buckets.iter().map(|(at, ids)| (*at, ids))
    }

    /// Expiry time (ms) -> the sessions due then, sorted by time: the
    /// `dump` command's session sets.
    pub fn expiry_sets(&self) -> Vec<(u64, Vec<i64>)> {
        self.buckets
            .iter()
            .map(|(at, ids)| {
                let mut ids: Vec<i64> = ids.iter().copied().collect();
                ids.sort_unstable();
                (*at, ids)
            })
            .collect()
    }

    pub fn contains(&self, id: i64) -> bool {
        self.sessions.contains_key(&id)
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_session_id_stays_in_this_servers_range() {
        let now = 1_764_000_000_000u64;
        let base = next_session_id_base(1, now);
        let other = next_session_id_base(3, now) + 5;
        // Another server's newer sessions do not move this server's start.
        assert_eq!(first_session_id(1, now, [other, base - 10]), base);
        // This server's own session past the base (the clock went back) does.
        assert_eq!(first_session_id(1, now, [base + 7, other]), base + 8);
        assert_eq!(first_session_id(1, now, []), base);
        // Server ids of 128 and more make negative ids; the top byte still
        // names the server.
        let high = next_session_id_base(200, now);
        assert!(high < 0);
        assert_eq!(first_session_id(200, now, [high + 3]), high + 4);
    }

    #[test]
    fn session_id_base_layout() {
        let id = next_session_id_base(1, 0x1234_5678_9abc);
        assert_eq!(id >> 56, 1);
        assert_eq!(
            id & 0xff_ffff_ffff_ffff,
            ((0x1234_5678_9abcu64 << 24) >> 8) as i64
        );
        // ZooKeeper: 0x1000008a82a0000 style ids from server 1.
        assert_eq!(next_session_id_base(1, 0x8a82a) >> 56, 1);
        assert_eq!(next_session_id_base(255, 1) >> 56, -1);
    }

    #[test]
    fn timeout_clamped() {
        assert_eq!(negotiate_timeout(1000, 4000, 40000), 4000);
        assert_eq!(negotiate_timeout(100_000, 4000, 40000), 40000);
        assert_eq!(negotiate_timeout(30000, 4000, 40000), 30000);
    }

    #[test]
    fn password_matches_java_random() {
        // java.util.Random(42).nextInt() == -1170105035
        let mut seed = (42u64 ^ 0x5_DEEC_E66D) & ((1 << 48) - 1);
        seed = (seed.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB)) & ((1 << 48) - 1);
        assert_eq!((seed >> 16) as u32 as i32, -1170105035);
        assert_eq!(session_password(7), session_password(7));
        assert_ne!(session_password(7), session_password(8));
    }

    #[test]
    fn expiry_rounds_up_to_tick_boundaries() {
        let mut t = SessionTracker::new(2000);
        t.add(1, 5000, 100); // 5100 -> 6000
        t.add(2, 5000, 1900); // 6900 -> 8000
        assert_eq!(t.next_expiry_ms(), Some(6000));
        assert!(t.expired(5999).is_empty());
        assert_eq!(t.expired(6000), vec![1]);
        assert!(!t.contains(1));
        assert!(!t.touch(1, 6000));
        assert!(t.touch(2, 3000)); // 8000 -> 8000, same bucket
        assert!(t.touch(2, 4100)); // 9100 -> 10000
        assert!(t.expired(8000).is_empty());
        assert_eq!(t.expired(10_000), vec![2]);
        assert!(t.is_empty());
    }

    #[test]
    fn emptied_buckets_stay_until_their_time() {
        let mut t = SessionTracker::new(2000);
        t.add(1, 5000, 100); // -> 6000
        assert!(t.touch(1, 2100)); // -> 8000; 6000 stays, empty
        t.add(2, 5000, 2100); // -> 8000
        t.remove(2);
        let buckets: Vec<(u64, usize)> = t.buckets().map(|(at, ids)| (at, ids.len())).collect();
        assert_eq!(buckets, vec![(6000, 0), (8000, 1)]);
        assert_eq!(t.next_expiry_ms(), Some(8000));
        assert!(t.expired(6000).is_empty());
        assert_eq!(t.buckets().count(), 1);
    }

    #[test]
    fn touch_after_deadline_fails_and_remove_forgets() {
        let mut t = SessionTracker::new(1000);
        t.add(5, 3000, 0); // 3000 -> 4000
        assert!(!t.touch(5, 4000));
        assert!(!t.touch(6, 0));
        t.add(7, 3000, 0);
        t.remove(7);
        assert_eq!(t.expired(100_000), vec![5]);
        assert_eq!(t.next_expiry_ms(), None);
    }
}
