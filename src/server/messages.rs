//! The messages that cross cores, in one place, so the pipeline reads top to
//! bottom:
//!
//! ```text
//! shard k ──SequencerInput──► sequencer (consensus core)
//!                                │ LogBatch (prepared txns and in-order markers)
//!                                ▼
//!                             log core: append, one flush per batch
//!                                │ CommitBatch, after the flush
//!              ┌─────────────────┼─────────────────┐
//!              ▼                 ▼                 ▼
//!           shard 0           shard 1    …      shard n   (apply, fire watches, reply)
//! ```
//!
//! Everything the sequencer emits — txns *and* the answers that need no txn
//! (a rejected write, a sync, a reconnect) — travels the same ordered path, so
//! a shard sees every outcome in sequence order and per-session FIFO holds by
//! construction.
//!
//! A shard sends the replies of batch N only once *every* shard has applied
//! batch N (see `Shard::release_ready`). So when a client holds the answer to
//! its write, any other client, on any core, reads that write — as on one
//! ZooKeeper server — and every watch it fires has already gone out.

use std::sync::Arc;

use crate::protocol::{Id, Request};
use crate::txn::Txn;

/// Where a reply goes: the shard that holds the connection and the slot the
/// connection keeps for the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    pub shard: usize,
    pub token: u64,
}

/// What a shard asks of the sequencer.
#[derive(Debug)]
pub enum SequencerInput {
    /// A client write (create, delete, setData, setACL, check, multi, sync,
    /// closeSession, reconfig).
    Write(WriteRequest),
    /// A new session: the sequencer picks the id and logs createSession.
    CreateSession { origin: Origin, timeout_ms: i32 },
    /// A reconnect with an existing session id: touches the session and comes
    /// back in order behind every txn sequenced before it.
    /// `timeout_ms` is what this connect negotiated; it applies only when
    /// the password was right.
    Reconnect {
        origin: Origin,
        session_id: i64,
        timeout_ms: i32,
        passwd_ok: bool,
    },
    /// Sessions that showed life on a shard since its last report (or, on
    /// an ensemble leader, in a learner's PING reply).
    Touch(Vec<i64>),
    /// Ensemble leader: a learner forwarded a createSession for a session
    /// id it picked (its myid in the top byte).
    RemoteCreateSession {
        learner: i64,
        session_id: i64,
        timeout_ms: i32,
    },
    /// Ensemble leader: a learner asks whether a reconnecting session is
    /// still alive (REVALIDATE); the answer comes back as `Revalidated`.
    Revalidate {
        learner: i64,
        session_id: i64,
        timeout_ms: i32,
    },
}

#[derive(Debug)]
pub struct WriteRequest {
    /// None for the server's own writes (expiry, container and TTL cleanup).
    pub origin: Option<Origin>,
    pub session_id: i64,
    pub cxid: i32,
    pub request: Request,
    pub auth: Vec<Id>,
    pub is_super: bool,
    /// Ensemble leader: the learner (sid) that forwarded this write. Its
    /// txn goes out even when it fails (as an error txn), so that the
    /// learner can answer its client.
    pub learner: Option<i64>,
}

/// One item of the ordered stream the sequencer hands to the log core and the
/// log core hands, after its flush, to every shard.
#[derive(Debug)]
pub enum CommitItem {
    /// A txn; durable once the shard sees it. `request` is the client's
    /// request it came from (moved here, not copied), which the origin shard
    /// needs to shape the reply (create vs create2, a multi's op types).
    Txn {
        txn: Arc<Txn>,
        origin: Option<Origin>,
        request: Option<Request>,
    },
    /// A sync: reply once everything before it is applied.
    Synced { origin: Origin, path: String },
    /// A reconnect: validate the session against the (now current) tree.
    Reconnected { origin: Origin, session_id: i64 },
    /// The log failed; the write was not made durable and the server now
    /// refuses writes.
    Failed { origin: Option<Origin> },
    /// Ensemble leader: a learner's `sync` — send it SYNC once everything
    /// before it is committed. Never reaches a shard.
    LearnerSynced { learner: i64 },
    /// Ensemble leader: the answer to a learner's REVALIDATE. Never reaches
    /// a shard.
    Revalidated {
        learner: i64,
        session_id: i64,
        valid: bool,
    },
}

impl CommitItem {
    pub fn origin(&self) -> Option<Origin> {
        match self {
            CommitItem::Txn { origin, .. } | CommitItem::Failed { origin } => *origin,
            CommitItem::Synced { origin, .. } | CommitItem::Reconnected { origin, .. } => {
                Some(*origin)
            }
            CommitItem::LearnerSynced { .. } | CommitItem::Revalidated { .. } => None,
        }
    }
}

/// A batch as the log core receives it from the sequencer.
pub type LogBatch = Vec<CommitItem>;

/// A batch as every shard receives it, after the flush that made its txns
/// durable. Shared: one allocation for every shard.
pub type CommitBatch = Arc<Batch>;

pub struct Batch {
    /// Numbers batches 1, 2, 3, … in the order every shard applies them.
    pub seq: u64,
    pub items: Vec<CommitItem>,
}
