//! The sequencer: the one place that orders writes.
//!
//! It runs as a task on the consensus core (shard 0's executor, so it can read
//! shard 0's tree without locks), validates each write against that tree plus
//! the overlay of changes it has sequenced but not yet seen committed
//! (`txn::PendingChanges`, ZooKeeper's `outstandingChanges`), gives it the
//! next zxid, and sends batches to the log core. It also owns the global
//! session tracker: which sessions exist and when they expire.
//!
//! Everything it decides goes out on one ordered stream (see `messages`),
//! including the answers that need no txn, so that replies can never overtake
//! the writes sequenced before them.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::data_tree::DataTree;
use crate::protocol::Request;
use crate::sessions::SessionTracker;
use crate::txn::{self, PendingChanges, PrepareContext, Txn, TxnBody};

use super::messages::{CommitItem, SequencerInput, WriteRequest};

/// Wall-clock milliseconds, as ZooKeeper stamps txns (ctime / mtime).
pub fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Monotonic milliseconds for the session tracker.
pub fn monotonic_ms() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

pub struct SequencerSettings {
    pub extended_types_enabled: bool,
    pub max_buffer_bytes: usize,
    pub batch_txns_max: usize,
}

pub struct Sequencer {
    /// Shard 0's tree: committed state.
    tree: Rc<RefCell<DataTree>>,
    /// Sequenced but not yet committed changes.
    pub pending: PendingChanges,
    last_zxid: i64,
    next_session_id: i64,
    pub tracker: SessionTracker,
    settings: SequencerSettings,
    /// Ensemble leader: which server holds each session's connection (the
    /// learner's sid, or [`HERE`]), as ZooKeeper's session owner. A write
    /// from another server fails with SessionMoved. A new leader knows no
    /// owners; the first server to write takes the session.
    owners: std::collections::HashMap<i64, i64>,
}

/// The owner of sessions whose client is connected to this server.
const HERE: i64 = i64::MIN;

impl Sequencer {
    pub fn new(
        tree: Rc<RefCell<DataTree>>,
        tracker: SessionTracker,
        next_session_id: i64,
        settings: SequencerSettings,
    ) -> Sequencer {
        let last_zxid = tree.borrow().last_zxid();
        Sequencer {
            tree,
            pending: PendingChanges::new(),
            last_zxid,
            next_session_id,
            tracker,
            settings,
            owners: std::collections::HashMap::new(),
        }
    }

    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// An ensemble leader numbers its epoch's txns from `epoch << 32 | 1`.
    pub fn start_epoch(&mut self, epoch: i64) {
        self.last_zxid = crate::zab::make_zxid(epoch, 0);
    }

    fn next_txn(&mut self, session_id: i64, cxid: i32, time_ms: i64, body: TxnBody) -> Txn {
        self.last_zxid += 1;
        Txn {
            session_id,
            cxid,
            zxid: self.last_zxid,
            time_ms,
            body,
        }
    }

    /// Turns one input into zero or more items of the ordered stream.
    pub fn handle(&mut self, input: SequencerInput, out: &mut Vec<CommitItem>) {
        let now_ms = monotonic_ms();
        match input {
            SequencerInput::Write(write) => self.handle_write(write, out),
            SequencerInput::CreateSession { origin, timeout_ms } => {
                let session_id = self.next_session_id;
                self.next_session_id += 1;
                self.tracker.add(session_id, timeout_ms, now_ms);
                self.owners.insert(session_id, HERE);
                let body = TxnBody::CreateSession { timeout_ms };
                let txn = self.next_txn(session_id, 0, wall_clock_ms(), body);
                out.push(CommitItem::Txn {
                    txn: Arc::new(txn),
                    origin: Some(origin),
                    request: None,
                });
            }
            SequencerInput::Reconnect {
                origin,
                session_id,
                timeout_ms,
                passwd_ok,
            } => {
                // As ZooKeeper's revalidation: the session lives on with the
                // timeout negotiated by this connect.
                if passwd_ok && self.tracker.contains(session_id) {
                    self.tracker.add(session_id, timeout_ms, now_ms);
                    self.owners.insert(session_id, HERE);
                }
                out.push(CommitItem::Reconnected { origin, session_id });
            }
            SequencerInput::Touch(sessions) => {
                for id in sessions {
                    self.tracker.touch(id, now_ms);
                }
            }
            SequencerInput::RemoteCreateSession {
                learner,
                session_id,
                timeout_ms,
            } => {
                self.tracker.add(session_id, timeout_ms, now_ms);
                self.owners.insert(session_id, learner);
                let body = TxnBody::CreateSession { timeout_ms };
                let txn = self.next_txn(session_id, 0, wall_clock_ms(), body);
                out.push(CommitItem::Txn {
                    txn: Arc::new(txn),
                    origin: None,
                    request: None,
                });
            }
            SequencerInput::Revalidate {
                learner,
                session_id,
                timeout_ms,
            } => {
                // As the leader's `revalidateSession`: alive if tracked and
                // not closing; a live session's timer restarts.
                let valid = self.tracker.contains(session_id);
                if valid {
                    self.tracker.add(session_id, timeout_ms, now_ms);
                    self.owners.insert(session_id, learner);
                }
                out.push(CommitItem::Revalidated {
                    learner,
                    session_id,
                    valid,
                });
            }
        }
    }

    fn handle_write(&mut self, write: WriteRequest, out: &mut Vec<CommitItem>) {
        if let Request::Sync { path } = &write.request {
            if let Some(origin) = write.origin {
                out.push(CommitItem::Synced {
                    origin,
                    path: path.clone(),
                });
            } else if let Some(learner) = write.learner {
                out.push(CommitItem::LearnerSynced { learner });
            }
            return;
        }
        if matches!(write.request, Request::CloseSession) {
            // A close of a session that is already gone (a close racing its
            // expiry) must not log a second closeSession.
            if self
                .tree
                .borrow()
                .session_timeout(write.session_id)
                .is_none()
                && write.origin.is_none()
                && write.learner.is_none()
            {
                return;
            }
            self.tracker.remove(write.session_id);
            self.owners.remove(&write.session_id);
        }
        let time_ms = wall_clock_ms();
        // The server's own writes (expiry, cleanup) come from no connection.
        let from_client = write.origin.is_some() || write.learner.is_some();
        let here_or_learner = write.learner.unwrap_or(HERE);
        let moved = from_client
            && !matches!(write.request, Request::CloseSession)
            && *self
                .owners
                .entry(write.session_id)
                .or_insert(here_or_learner)
                != here_or_learner;
        let result = {
            let tree = self.tree.borrow();
            let ctx = PrepareContext {
                session_id: write.session_id,
                cxid: write.cxid,
                zxid: self.last_zxid + 1,
                time_ms,
                auth: &write.auth,
                is_super: write.is_super,
                extended_types_enabled: self.settings.extended_types_enabled,
                max_buffer_bytes: self.settings.max_buffer_bytes,
            };
            if moved {
                Err(crate::protocol::ErrorCode::SessionMoved)
            } else {
                txn::prepare(&write.request, &ctx, &tree, &mut self.pending)
            }
        };
        match result {
            Ok(body) => {
                let txn = self.next_txn(write.session_id, write.cxid, time_ms, body);
                out.push(CommitItem::Txn {
                    txn: Arc::new(txn),
                    origin: write.origin,
                    request: write.origin.map(|_| write.request),
                });
            }
            Err(error) => {
                // As ZooKeeper: a failed write still takes a zxid and is
                // logged as an error txn, so zxids (and a client's
                // lastZxidSeen) advance exactly as they do there.
                if write.origin.is_some() || write.learner.is_some() {
                    let txn =
                        self.next_txn(write.session_id, write.cxid, time_ms, TxnBody::Error(error));
                    out.push(CommitItem::Txn {
                        txn: Arc::new(txn),
                        origin: write.origin,
                        request: None,
                    });
                }
            }
        }
    }
}

/// Receives from every shard and hands each round's output on — to the
/// log core standalone, to the consensus thread on an ensemble leader —
/// batching whatever has queued up since the last round.
pub async fn run<T>(
    sequencer: Rc<RefCell<Sequencer>>,
    input: flume::Receiver<SequencerInput>,
    out: flume::Sender<T>,
    wrap: fn(Vec<CommitItem>) -> T,
) {
    let batch_max = sequencer.borrow().settings.batch_txns_max.max(1);
    while let Ok(first) = input.recv_async().await {
        let mut items = Vec::new();
        {
            let mut seq = sequencer.borrow_mut();
            seq.handle(first, &mut items);
            while items.len() < batch_max {
                match input.try_recv() {
                    Ok(next) => seq.handle(next, &mut items),
                    Err(_) => break,
                }
            }
        }
        if !items.is_empty() && out.send_async(wrap(items)).await.is_err() {
            break;
        }
    }
}
