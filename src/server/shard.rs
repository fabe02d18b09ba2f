//! A shard: one core's executor state — its copy of the tree, its
//! connections and sessions, and the task that applies the commit stream.
//!
//! Everything here is single-threaded (`Rc`, `RefCell`): a shard shares
//! nothing hot with other cores. It talks to the sequencer through a channel
//! and hears back only through the commit stream.
//!
//! Borrow discipline: no `RefCell` borrow is ever held across an `.await`.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::data_tree::DataTree;
use crate::protocol::frame::write_notification;
use crate::protocol::{ErrorCode, Request, Response};
use crate::txn::{self, Txn, TxnBody};

use super::connection::{Conn, Phase};
use super::messages::{CommitBatch, CommitItem, Origin, SequencerInput};
use super::sequencer::Sequencer;
use super::{ShardQuery, Shared};

pub struct Shard {
    pub id: usize,
    pub tree: Rc<RefCell<DataTree>>,
    /// Only on the consensus core.
    pub sequencer: Option<Rc<RefCell<Sequencer>>>,
    pub conns: RefCell<HashMap<u64, Rc<Conn>>>,
    /// Which local connection holds a session.
    pub sessions: RefCell<HashMap<i64, u64>>,
    /// Writes in flight: token -> connection id.
    pub tokens: RefCell<HashMap<u64, u64>>,
    next_id: Cell<u64>,
    pub to_sequencer: flume::Sender<SequencerInput>,
    /// Sessions that showed life since the last report to the tracker.
    pub touched: RefCell<HashSet<i64>>,
    /// Replies of applied batches, waiting until every shard has applied them.
    held: RefCell<VecDeque<(u64, Vec<Completion>)>>,
    pub shared: Arc<Shared>,
}

/// A reply (or connection outcome) decided by a batch, sent once every shard
/// has applied that batch.
enum Completion {
    Write {
        token: u64,
        zxid: i64,
        reply: Result<Response, ErrorCode>,
    },
    Failed {
        token: u64,
        zxid: i64,
    },
    NewSession {
        token: u64,
        session_id: i64,
        timeout_ms: i32,
    },
    Reconnect {
        token: u64,
        session_id: i64,
        known_timeout: Option<i32>,
    },
    SessionClosed {
        token: u64,
        zxid: i64,
    },
}

impl Shard {
    pub fn new(
        id: usize,
        tree: DataTree,
        to_sequencer: flume::Sender<SequencerInput>,
        shared: Arc<Shared>,
    ) -> Shard {
        Shard {
            id,
            tree: Rc::new(RefCell::new(tree)),
            sequencer: None,
            conns: RefCell::new(HashMap::new()),
            sessions: RefCell::new(HashMap::new()),
            tokens: RefCell::new(HashMap::new()),
            next_id: Cell::new(1),
            to_sequencer,
            touched: RefCell::new(HashSet::new()),
            held: RefCell::new(VecDeque::new()),
            shared,
        }
    }

    pub fn next_id(&self) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }

    /// Registers a write in flight for `conn` and returns where its answer
    /// will come back to.
    pub fn origin_for(&self, conn: &Conn) -> Origin {
        let token = self.next_id();
        self.tokens.borrow_mut().insert(token, conn.id);
        Origin {
            shard: self.id,
            token,
        }
    }

    fn conn_for_token(&self, token: u64) -> Option<Rc<Conn>> {
        let conn_id = self.tokens.borrow_mut().remove(&token)?;
        self.conns.borrow().get(&conn_id).cloned()
    }

    pub fn conn_for_session(&self, session_id: i64) -> Option<Rc<Conn>> {
        let conn_id = *self.sessions.borrow().get(&session_id)?;
        self.conns.borrow().get(&conn_id).cloned()
    }

    pub fn last_zxid(&self) -> i64 {
        self.tree.borrow().last_zxid()
    }

    /// Applies one batch of the commit stream: every txn goes into this
    /// shard's tree and watch events go out at once; the replies wait in
    /// `held` until every shard has applied the batch (`release_ready`).
    pub fn apply_batch(self: &Rc<Self>, batch: &CommitBatch) {
        let mut completions = Vec::new();
        for item in batch.items.iter() {
            match item {
                CommitItem::Txn {
                    txn,
                    origin,
                    request,
                } => self.apply_txn(txn, *origin, request.as_ref(), &mut completions),
                CommitItem::Failed { origin } => {
                    if let Some(origin) = origin.filter(|o| o.shard == self.id) {
                        let zxid = self.last_zxid();
                        completions.push(Completion::Failed {
                            token: origin.token,
                            zxid,
                        });
                    }
                }
                CommitItem::Synced { origin, path } => {
                    if origin.shard == self.id {
                        let zxid = self.last_zxid();
                        let reply = Ok(Response::Sync { path: path.clone() });
                        completions.push(Completion::Write {
                            token: origin.token,
                            zxid,
                            reply,
                        });
                    }
                }
                // The consensus thread's own items; they never reach a shard.
                CommitItem::LearnerSynced { .. } | CommitItem::Revalidated { .. } => {}
                CommitItem::Reconnected { origin, session_id } => {
                    // As ZooKeeper: a reconnect drops the session's current
                    // connection, wherever it is, before checking the password.
                    if let Some(old) = self.conn_for_session(*session_id) {
                        log::info!(
                            "session 0x{session_id:x} reconnecting; closing its old connection from {}",
                            old.peer
                        );
                        old.close();
                    }
                    if origin.shard == self.id {
                        let known_timeout = self.tree.borrow().session_timeout(*session_id);
                        completions.push(Completion::Reconnect {
                            token: origin.token,
                            session_id: *session_id,
                            known_timeout,
                        });
                    }
                }
            }
        }
        self.held.borrow_mut().push_back((batch.seq, completions));
        self.shared.applied_batches[self.id].store(batch.seq, Ordering::Release);
        if self.shared.queries.len() > 1 {
            for (index, query) in self.shared.queries.iter().enumerate() {
                if index != self.id {
                    let _ = query.send(ShardQuery::Progress);
                }
            }
        }
        self.release_ready();
    }

    /// Sends the replies of every batch that all shards have applied.
    pub fn release_ready(self: &Rc<Self>) {
        let everywhere = self
            .shared
            .applied_batches
            .iter()
            .map(|applied| applied.load(Ordering::Acquire))
            .min()
            .unwrap_or(0);
        loop {
            let ready = {
                let mut held = self.held.borrow_mut();
                match held.front() {
                    Some((seq, _)) if *seq <= everywhere => held.pop_front(),
                    _ => None,
                }
            };
            let Some((_, completions)) = ready else { break };
            for completion in completions {
                self.complete(completion);
            }
        }
    }

    fn complete(self: &Rc<Self>, completion: Completion) {
        match completion {
            Completion::Write { token, zxid, reply } => {
                if let Some(conn) = self.conn_for_token(token) {
                    conn.complete_write(self, token, zxid, reply);
                }
            }
            Completion::Failed { token, zxid } => {
                if let Some(conn) = self.conn_for_token(token) {
                    if conn.phase() == Phase::Connecting {
                        conn.close();
                    } else {
                        conn.complete_write(self, token, zxid, Err(ErrorCode::SystemError));
                    }
                }
            }
            Completion::NewSession {
                token,
                session_id,
                timeout_ms,
            } => {
                if let Some(conn) = self.conn_for_token(token) {
                    conn.finish_new_session(self, session_id, timeout_ms);
                }
            }
            Completion::Reconnect {
                token,
                session_id,
                known_timeout,
            } => {
                if let Some(conn) = self.conn_for_token(token) {
                    conn.finish_reconnect(self, session_id, known_timeout);
                }
            }
            Completion::SessionClosed { token, zxid } => {
                if let Some(conn) = self.conn_for_token(token) {
                    conn.complete_write(self, token, zxid, Ok(Response::Empty));
                    conn.close_after_flush();
                }
            }
        }
    }

    fn apply_txn(
        self: &Rc<Self>,
        txn: &Arc<Txn>,
        origin: Option<Origin>,
        request: Option<&Request>,
        completions: &mut Vec<Completion>,
    ) {
        let outcome = {
            let mut tree = self.tree.borrow_mut();
            txn::apply(&mut tree, txn)
        };
        if let Some(sequencer) = &self.sequencer {
            sequencer.borrow_mut().pending.committed_up_to(txn.zxid);
        }
        self.shared.stats.note_txn_applied(txn.zxid);
        // Watch events go out now; replies are held until every shard has
        // the txn, so an event always precedes any reply reflecting it.
        for (session_id, event) in &outcome.events {
            if let Some(conn) = self.conn_for_session(*session_id) {
                let mut frame = Vec::with_capacity(32 + event.path.len());
                write_notification(&mut frame, -1, event);
                conn.send_response(&frame);
            }
        }
        let mine = origin.filter(|o| o.shard == self.id);
        match &txn.body {
            TxnBody::CreateSession { timeout_ms } => {
                if let Some(origin) = mine {
                    completions.push(Completion::NewSession {
                        token: origin.token,
                        session_id: txn.session_id,
                        timeout_ms: *timeout_ms,
                    });
                }
            }
            TxnBody::CloseSession { .. } => {
                if let Some(origin) = mine {
                    completions.push(Completion::SessionClosed {
                        token: origin.token,
                        zxid: txn.zxid,
                    });
                    return;
                }
                // Expired (or closed from another connection): drop the
                // connection that still holds it here, if any.
                if let Some(conn) = self.conn_for_session(txn.session_id) {
                    log::info!(
                        "session 0x{:x} expired; closing its connection",
                        txn.session_id
                    );
                    conn.close();
                }
            }
            _ => {
                if let Some(origin) = mine {
                    // An error txn carries no request: its reply is the error.
                    let reply = match request {
                        Some(request) => txn::response_for(request, &outcome.result),
                        None => match &outcome.result {
                            txn::TxnResult::Error(code) => Err(*code),
                            _ => Err(ErrorCode::SystemError),
                        },
                    };
                    completions.push(Completion::Write {
                        token: origin.token,
                        zxid: txn.zxid,
                        reply,
                    });
                }
            }
        }
    }

    /// Forgets a connection. Its session lives on (until it expires or is
    /// resumed elsewhere); its watches go, as in ZooKeeper, unless another
    /// local connection has taken the session over.
    pub fn forget_conn(&self, conn: &Conn) {
        self.conns.borrow_mut().remove(&conn.id);
        let session_id = conn.session_id();
        if session_id != 0 {
            let mut sessions = self.sessions.borrow_mut();
            if sessions.get(&session_id) == Some(&conn.id) {
                sessions.remove(&session_id);
                drop(sessions);
                self.tree.borrow_mut().remove_session_watches(session_id);
            }
        }
        self.shared.release_ip(conn.peer.ip());
        self.shared.stats.connection_closed();
    }

    /// Sends the sessions touched since the last call to the tracker.
    pub fn report_touches(&self) -> Option<SequencerInput> {
        let touched: Vec<i64> = self.touched.borrow_mut().drain().collect();
        if touched.is_empty() {
            None
        } else {
            Some(SequencerInput::Touch(touched))
        }
    }

    /// For the read path: runs a read against this shard's tree.
    pub fn read(
        &self,
        request: &Request,
        session_id: i64,
        conn: &Conn,
    ) -> Result<Response, ErrorCode> {
        let (auth, is_super) = conn.auth();
        let mut tree = self.tree.borrow_mut();
        txn::read(request, &mut tree, session_id, &auth, is_super)
    }
}
