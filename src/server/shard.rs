//! A shard: one core's executor state — its copy of the tree, its
//! connections and sessions, and the task that applies the commit stream.
//!
//! Everything here is single-threaded (`Rc`, `RefCell`): a shard shares
//! nothing hot with other cores. It talks to the sequencer through a channel
//! and hears back only through the commit stream.
//!
//! Borrow discipline: no `RefCell` borrow is ever held across an `.await`.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

use crate::data_tree::DataTree;
use crate::protocol::frame::write_notification;
use crate::protocol::{ErrorCode, Request, Response};
use crate::txn::{self, Txn, TxnBody};

use super::connection::{Conn, Phase};
use super::messages::{CommitBatch, CommitItem, Origin, SequencerInput};
use super::sequencer::Sequencer;
use super::Shared;

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
    pub shared: Arc<Shared>,
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
    /// shard's tree; watch events go out before the replies that reflect them.
    pub fn apply_batch(self: &Rc<Self>, batch: &CommitBatch) {
        for item in batch.iter() {
            match item {
                CommitItem::Txn { txn, origin } => self.apply_txn(txn, *origin),
                CommitItem::Rejected { origin, error } => {
                    if origin.shard == self.id {
                        if let Some(conn) = self.conn_for_token(origin.token) {
                            let zxid = self.last_zxid();
                            conn.complete_write(self, origin.token, zxid, Err(*error));
                        }
                    }
                }
                CommitItem::Failed { origin } => {
                    if let Some(origin) = origin.filter(|o| o.shard == self.id) {
                        if let Some(conn) = self.conn_for_token(origin.token) {
                            if conn.phase() == Phase::Connecting {
                                conn.close();
                            } else {
                                let zxid = self.last_zxid();
                                conn.complete_write(
                                    self,
                                    origin.token,
                                    zxid,
                                    Err(ErrorCode::SystemError),
                                );
                            }
                        }
                    }
                }
                CommitItem::Synced { origin, path } => {
                    if origin.shard == self.id {
                        if let Some(conn) = self.conn_for_token(origin.token) {
                            let zxid = self.last_zxid();
                            let response = Response::Sync { path: path.clone() };
                            conn.complete_write(self, origin.token, zxid, Ok(response));
                        }
                    }
                }
                CommitItem::Reconnected { origin, session_id } => {
                    // As ZooKeeper: a reconnect drops the session's current
                    // connection, wherever it is, before checking the password.
                    if let Some(old) = self.conn_for_session(*session_id) {
                        log::info!("session 0x{session_id:x} reconnecting; closing its old connection from {}", old.peer);
                        old.close();
                    }
                    if origin.shard == self.id {
                        if let Some(conn) = self.conn_for_token(origin.token) {
                            let timeout = self.tree.borrow().session_timeout(*session_id);
                            conn.finish_reconnect(self, *session_id, timeout);
                        }
                    }
                }
            }
        }
    }

    fn apply_txn(self: &Rc<Self>, txn: &Arc<Txn>, origin: Option<Origin>) {
        let outcome = {
            let mut tree = self.tree.borrow_mut();
            txn::apply(&mut tree, txn)
        };
        if let Some(sequencer) = &self.sequencer {
            sequencer.borrow_mut().pending.committed_up_to(txn.zxid);
        }
        self.shared.stats.note_txn_applied(self.id, txn.zxid);
        // Watch events first: a client must see the event before any reply
        // that reflects the change.
        for (session_id, event) in &outcome.events {
            if let Some(conn) = self.conn_for_session(*session_id) {
                let mut frame = Vec::with_capacity(32 + event.path.len());
                write_notification(&mut frame, -1, event);
                conn.send_frame(&frame);
            }
        }
        let mine = origin.filter(|o| o.shard == self.id);
        match &txn.body {
            TxnBody::CreateSession { timeout_ms } => {
                if let Some(origin) = mine {
                    if let Some(conn) = self.conn_for_token(origin.token) {
                        conn.finish_new_session(self, txn.session_id, *timeout_ms);
                    }
                }
            }
            TxnBody::CloseSession { .. } => {
                if let Some(origin) = mine {
                    if let Some(conn) = self.conn_for_token(origin.token) {
                        conn.complete_write(self, origin.token, txn.zxid, Ok(Response::Empty));
                        conn.close_after_flush();
                        return;
                    }
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
                    if let Some(conn) = self.conn_for_token(origin.token) {
                        let reply = conn
                            .request_for_token(origin.token)
                            .map(|request| txn::response_for(&request, &outcome.result))
                            .unwrap_or(Err(ErrorCode::SystemError));
                        conn.complete_write(self, origin.token, txn.zxid, reply);
                    }
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
