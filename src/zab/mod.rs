//! Zab, ZooKeeper's atomic broadcast, as ZooKeeper 3.8 speaks it to its peers.
//!
//! Two layers:
//!
//! - [`wire`]: the peer protocol's bytes, checked against ZooKeeper 3.8's own
//!   (`tests/fixtures/zab/zk-3.8.0/`, recorded by
//!   `tests/fixtures/zab/capture_zk_peer.py` playing server 3 of a ZooKeeper
//!   ensemble).
//! - [`Zab`]: the consensus state machine, sans I/O in the style of etcd's
//!   raft: FastLeaderElection, discovery, sync (DIFF / TRUNC / SNAP),
//!   broadcast, observers. [`Input`]s go in (peer messages, ticks with the
//!   time, `Persisted(zxid)` from the log); a list of [`Action`]s comes out,
//!   which the host carries out **in order**. It reads no clock, draws no
//!   random number, owns no socket, thread or file, and iterates only
//!   ordered collections, so the same inputs always give the same actions —
//!   which is what lets `sim/` replay any schedule exactly.
//!
//! # The host's side of the contract
//!
//! - Actions run in the order given. `PersistAcceptedEpoch`,
//!   `PersistCurrentEpoch`, `TruncateAfter` and `InstallSnapshot` are done
//!   (durably) before the next action runs. `Append` only queues a txn for
//!   the log; `Flush` asks for everything appended so far to be made
//!   durable, after which the host feeds `Input::Persisted(zxid)` with the
//!   last zxid made durable (flushes may be merged: group commit).
//! - `Send` packets for one connection go out in order; the host may
//!   coalesce all packets queued for a connection into one socket write.
//! - `SendElection` goes over the election port's connection to that server
//!   (QuorumCnxManager: the host owns the handshake, reconnects and the
//!   "resend the last message on reconnect" rule); `ElectionUp/Down` say
//!   whether such a connection exists.
//! - Quorum-port connections are named by the host ([`ConnId`]): the leader's
//!   host reports each accepted learner connection with `QuorumConnected`;
//!   a learner's host opens one when told `ConnectToLeader` and reports it
//!   the same way (or `QuorumClosed` if it cannot connect).
//! - `Commit` actions come in zxid order; the host applies each payload to
//!   its state. `Serve` says the state is now a synced replica that may
//!   serve clients in the role given; `StopServing` says it must stop (the
//!   host drops its client sessions' connections, as ZooKeeper does when a
//!   server goes back to LOOKING).
pub mod wire;

mod machine;

use bytes::Bytes;

pub use machine::{Fault, Zab};
pub use wire::{Notification, PacketType, PeerState, QuorumPacket};

/// A server id (`myid`). ZooKeeper's sids are Java longs.
pub type Sid = i64;
/// `epoch << 32 | counter`.
pub type Zxid = i64;
/// The host's name for one quorum-port connection.
pub type ConnId = u64;

/// The epoch part of a zxid.
pub fn epoch_of(zxid: Zxid) -> i64 {
    zxid >> 32
}

/// The counter part of a zxid.
pub fn counter_of(zxid: Zxid) -> i64 {
    zxid & 0xffff_ffff
}

/// `epoch << 32 | counter`, as `ZxidUtils.makeZxid`.
pub fn make_zxid(epoch: i64, counter: i64) -> Zxid {
    (epoch << 32) | (counter & 0xffff_ffff)
}

/// A server's state, as ZooKeeper's `QuorumPeer.ServerState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Looking,
    Following,
    Leading,
    Observing,
}

impl Role {
    /// The word `srvr` prints after `Mode: ` and `mntr`'s `zk_server_state`.
    pub fn mode_name(self) -> &'static str {
        match self {
            Role::Looking => "looking",
            Role::Following => "follower",
            Role::Leading => "leader",
            Role::Observing => "observer",
        }
    }

    pub fn peer_state(self) -> PeerState {
        match self {
            Role::Looking => PeerState::Looking,
            Role::Following => PeerState::Following,
            Role::Leading => PeerState::Leading,
            Role::Observing => PeerState::Observing,
        }
    }
}

/// One `server.N` line as consensus sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub sid: Sid,
    /// Observers replicate but never vote and never count toward a quorum.
    pub observer: bool,
}

/// Everything the state machine is configured with.
#[derive(Clone, Debug)]
pub struct ZabConfig {
    pub my_id: Sid,
    /// Every `server.N` of the config, this server included.
    pub members: Vec<Member>,
    /// `tickTime` in ms; `init_limit` and `sync_limit` are in ticks.
    pub tick_ms: u64,
    pub init_limit: u64,
    pub sync_limit: u64,
    /// The quorum-verifier string (`QuorumMaj.toString()`, version 0 for a
    /// static config) sent in notifications; NEWLEADER carries the same
    /// text (what ZooKeeper 3.8.0 was recorded sending with reconfig off).
    pub quorum_config: String,
    /// Committed txns kept in memory to sync a learner by DIFF; a learner
    /// further behind gets a SNAP. At least `history_min` (ZooKeeper's
    /// `zookeeper.commitLogCount`, 500), at most `history_limit`, and in
    /// between while the window's bytes stay within `history_bytes_factor`
    /// (`zookeeper.snapshotSizeFactor`, 0.33; negative: `history_min` only)
    /// times the size the host last reported with `Zab::set_snapshot_size`.
    /// Until it reports one, only the two counts apply.
    pub history_min: usize,
    pub history_limit: usize,
    pub history_bytes_factor: f64,
    /// FastLeaderElection's finalize wait (200 ms) and notification
    /// resend interval bounds (200 ms … 60 s).
    pub finalize_wait_ms: u64,
    pub min_notification_interval_ms: u64,
    pub max_notification_interval_ms: u64,
    /// Most SNAP and DIFF/TRUNC syncs a leader runs at once
    /// (`zookeeper.leader.maxConcurrentSnapSyncs`, 10, and
    /// `…DiffSyncs`, 100); followers are exempt but counted, an observer
    /// over the limit is refused and tries again.
    pub snap_syncs_max: usize,
    pub diff_syncs_max: usize,
    /// Seeds the machine's own PRNG (the jitter of a learner's backoff):
    /// the simulator passes its run's seed, a server anything varied.
    pub seed: u64,
}

impl ZabConfig {
    /// ZooKeeper's defaults for the FLE timings and history.
    pub fn new(
        my_id: Sid,
        members: Vec<Member>,
        tick_ms: u64,
        init_limit: u64,
        sync_limit: u64,
        quorum_config: String,
    ) -> ZabConfig {
        ZabConfig {
            my_id,
            members,
            tick_ms,
            init_limit,
            sync_limit,
            quorum_config,
            history_min: 500,
            history_limit: 500,
            history_bytes_factor: 0.33,
            finalize_wait_ms: 200,
            min_notification_interval_ms: 200,
            max_notification_interval_ms: 60_000,
            snap_syncs_max: 10,
            diff_syncs_max: 100,
            seed: my_id as u64,
        }
    }
}

/// What the host recovered from its disk at start (or after a truncation).
#[derive(Clone, Debug, Default)]
pub struct Durable {
    /// The `acceptedEpoch` and `currentEpoch` files.
    pub accepted_epoch: i64,
    pub current_epoch: i64,
    /// The last zxid in the log (the state's last applied zxid after
    /// replaying the log over the newest snapshot).
    pub last_zxid: Zxid,
    /// The newest logged txns in zxid order (at most `history_limit`), each
    /// as its PROPOSAL payload (TxnHeader + record), for DIFF.
    pub history: Vec<(Zxid, Bytes)>,
}

/// What the host feeds the state machine.
#[derive(Clone, Debug)]
pub enum Input {
    /// Time passes (monotonic ms; the first input should be a tick).
    Tick {
        now_ms: u64,
    },
    /// An election-port connection to `sid` exists / is gone.
    ElectionUp(Sid),
    ElectionDown(Sid),
    /// A notification received on the election port.
    Notification {
        from: Sid,
        n: Notification,
    },
    /// A quorum-port connection is established (leader: a learner
    /// connected; learner: the connection to the leader is up).
    QuorumConnected(ConnId),
    /// A quorum-port connection closed, failed or could not be made.
    QuorumClosed(ConnId),
    /// A packet read from a quorum-port connection. After a SNAP packet the
    /// learner's host reads the inline tree and feeds it as `SnapBody`.
    Packet {
        conn: ConnId,
        packet: QuorumPacket,
    },
    /// The serialized DataTree that followed a SNAP packet (learner side).
    SnapBody {
        conn: ConnId,
        body: Bytes,
    },
    /// The log is durable up to and including this zxid.
    Persisted(Zxid),
    /// Leader, serving: a txn prepared by the host, as its PROPOSAL payload
    /// (TxnHeader + record [+ digest]). Zxids are consecutive within the
    /// epoch the leader announced with `Serve`.
    Propose {
        zxid: Zxid,
        payload: Bytes,
    },
    /// Leader: the snapshot asked for by `Action::TakeSnapshot` — the
    /// host's committed state serialized as ZooKeeper's DataTree, at `zxid`.
    Snapshot {
        conn: ConnId,
        zxid: Zxid,
        body: Bytes,
    },
    /// Learner: sessions seen alive since the last PING reply, (session id,
    /// timeout ms); sent in the next PING reply.
    Touches(Vec<(i64, i32)>),
    /// Send an application packet (REQUEST, REVALIDATE) to the leader, in
    /// order with everything else this learner sends. Dropped when there is
    /// no leader connection (the host's request then times out with the
    /// client's connection, as on ZooKeeper).
    SendToLeader(QuorumPacket),
    /// Leader: send an application packet (SYNC, a REVALIDATE reply) to the
    /// learner with this sid, in order behind every COMMIT already sent.
    SendToLearner {
        sid: Sid,
        packet: QuorumPacket,
    },
}

/// What the host does, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Write the `acceptedEpoch` file durably before the next action.
    PersistAcceptedEpoch(i64),
    /// Write the `currentEpoch` file durably before the next action.
    PersistCurrentEpoch(i64),
    /// Queue a txn for the log (not yet durable).
    Append { zxid: Zxid, payload: Bytes },
    /// Make every appended txn durable, then feed `Input::Persisted`.
    Flush,
    /// Drop every logged txn after `zxid` and rebuild the state from what
    /// is left, before the next action.
    TruncateAfter(Zxid),
    /// Replace the whole state by this serialized DataTree at `zxid`
    /// (durably: a restart must start from it), before the next action.
    InstallSnapshot { zxid: Zxid, body: Bytes },
    /// Send a notification over the election port.
    SendElection { to: Sid, n: Notification },
    /// Learner: open a quorum-port connection to this server.
    ConnectToLeader { sid: Sid },
    /// Write a packet on a quorum-port connection.
    Send { conn: ConnId, packet: QuorumPacket },
    /// Leader: serialize the committed state and feed `Input::Snapshot`.
    TakeSnapshot { conn: ConnId },
    /// Leader: write this serialized DataTree on the connection right after
    /// the SNAP packet sent just before (ZooKeeper writes it inline).
    SendSnapBody { conn: ConnId, body: Bytes },
    /// Close a quorum-port connection.
    Close { conn: ConnId },
    /// This txn is committed: apply it. In zxid order, each exactly once
    /// (a txn already in the state from the log is committed again only
    /// if the host's state is behind it; the host skips zxids it has).
    Commit { zxid: Zxid, payload: Bytes },
    /// An application packet for the host: on the leader REQUEST and
    /// REVALIDATE from learner `from`; on a learner the REVALIDATE reply
    /// and SYNC from the leader (`from` = the leader's sid).
    Deliver { from: Sid, packet: QuorumPacket },
    /// Leader: sessions a learner reported alive in its PING reply.
    Touched(Vec<(i64, i32)>),
    /// The state is a synced replica of `epoch`: serve clients in `role`
    /// (Leading: propose from `make_zxid(epoch, 1)` on).
    Serve { role: Role, epoch: i64, leader: Sid },
    /// Stop serving clients (the server is LOOKING again).
    StopServing,
}

/// A learner whose syncs with its leader keep failing (the connection
/// closes, the SNAP does not load, the leader goes quiet before UPTODATE)
/// waits before it connects again: bounded exponential backoff with
/// jitter, instead of reconnecting at once for as long as the fault lasts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncBackoff {
    pub leader: Sid,
    /// Failed syncs in a row.
    pub failures: u32,
    /// How long this learner waits before connecting again.
    pub delay_ms: u64,
    /// Why the last sync failed.
    pub reason: String,
}

/// A learner as the leader sees it (for `mntr` and the AdminServer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LearnerStatus {
    pub sid: Sid,
    pub observer: bool,
    /// Synced and heard from within syncLimit.
    pub synced: bool,
}

/// A snapshot of the state machine for status output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub role: Role,
    /// The leader this server follows or is; None while looking.
    pub leader: Option<Sid>,
    pub accepted_epoch: i64,
    pub current_epoch: i64,
    /// Last logged and last committed zxids.
    pub last_logged: Zxid,
    pub last_committed: Zxid,
    /// Leader only: its learners.
    pub learners: Vec<LearnerStatus>,
    /// Leader only: proposals sent and not yet committed.
    pub outstanding_proposals: usize,
    /// True once synced and serving.
    pub serving: bool,
}
