//! One client connection on a shard: framing, the connect handshake, and the
//! per-session FIFO of replies.
//!
//! Two tasks serve a connection: the reader decodes frames and acts on them;
//! the writer drains the output buffer (everything queued since its last write
//! goes out in one `write`). Replies leave strictly in request order: a write
//! waits in the FIFO for its commit, and a read behind it waits too, then runs
//! against the tree that already holds the write. Watch notifications bypass
//! the FIFO and go out the moment their txn is applied, which is exactly what
//! puts an event before any reply that reflects its change.
//!
//! Bad input never reaches past this connection, answered as ZooKeeper
//! answers it: a frame that fails its length check closes this connection; an
//! unknown op code gets Unimplemented and a close; a well-framed request whose
//! body does not decode gets MarshallingError and the connection lives on.
//! Each reason is logged.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use glommio::net::TcpStream;

use crate::protocol::frame::{self, write_connect_response, write_reply};
use crate::protocol::{
    xid, AuthPacket, ConnectRequest, ConnectResponse, DecodeError, ErrorCode, Id, Reader,
    ReplyHeader, Request, RequestHeader, Response,
};
use crate::sessions::negotiate_timeout;

use super::messages::{SequencerInput, WriteRequest};
use super::notify::Notify;
use super::shard::Shard;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the ConnectRequest (or a four-letter word).
    Handshake,
    /// ConnectRequest sent to the sequencer; waiting for the session.
    Connecting,
    Connected,
    Closed,
}

enum Slot {
    /// A write in flight; answered from the commit stream.
    Waiting {
        token: u64,
        xid: i32,
        op: &'static str,
        received: Instant,
    },
    /// A read queued behind a write of the same session.
    Read {
        xid: i32,
        request: Request,
        received: Instant,
    },
    /// An answer ready to go out once everything before it has.
    Done {
        frame: Vec<u8>,
        xid: i32,
        op: &'static str,
        received: Instant,
    },
}

/// Per-connection counters for `cons`, kept as ZooKeeper's `ServerCnxn`
/// keeps them: packets count every frame in and out; the `last_*` fields and
/// latencies change when a request is answered in order (auth and SASL
/// packets are not). A new connection starts from Java's field defaults
/// (`lop=null`, `lcxid=0x0`, `minlat` stuck at 0); `crst` puts ZooKeeper's
/// reset values in (`lop=NA`, no `lcxid`, `lzxid=-1`).
#[derive(Clone, Debug, Default)]
pub struct ConnCounters {
    pub packets_received: u64,
    pub packets_sent: u64,
    /// None until the first answered request (ZooKeeper prints `null`).
    pub last_op: Option<&'static str>,
    /// Below 0: none (not printed).
    pub last_cxid: i64,
    pub last_zxid: i64,
    /// `Time.currentElapsedTime()` of the last answer.
    pub last_response_ms: i64,
    pub last_latency_ms: u64,
    /// `u64::MAX` after a reset, until the next answer (printed as 0).
    pub latency_min_ms: u64,
    pub latency_max_ms: u64,
    pub latency_total_ms: u64,
    pub latency_count: u64,
    /// Elapsed-time ms of the last frame read or answer written: when the
    /// connection was last "touched" in ZooKeeper's connection expiry queue.
    pub last_activity_ms: i64,
}

impl ConnCounters {
    fn new() -> ConnCounters {
        ConnCounters {
            last_activity_ms: super::stats::elapsed_time_ms(),
            ..ConnCounters::default()
        }
    }

    /// `ServerCnxn.resetStats` (`crst`).
    fn reset(&mut self) {
        *self = ConnCounters {
            last_op: Some("NA"),
            last_cxid: -1,
            last_zxid: -1,
            latency_min_ms: u64::MAX,
            last_activity_ms: self.last_activity_ms,
            ..ConnCounters::default()
        };
    }

    /// `ServerCnxn.updateStatsForResponse`.
    fn note_answer(&mut self, cxid: i32, zxid: i64, op: &'static str, latency_ms: u64) {
        if cxid >= 0 {
            self.last_cxid = i64::from(cxid);
        }
        self.last_zxid = zxid;
        self.last_op = Some(op);
        self.last_response_ms = super::stats::elapsed_time_ms();
        self.last_latency_ms = latency_ms;
        self.latency_min_ms = self.latency_min_ms.min(latency_ms);
        self.latency_max_ms = self.latency_max_ms.max(latency_ms);
        self.latency_total_ms += latency_ms;
        self.latency_count += 1;
    }
}

struct ConnState {
    phase: Phase,
    session_id: i64,
    passwd: Vec<u8>,
    timeout_ms: i32,
    requested_passwd: Vec<u8>,
    last_zxid_seen: i64,
    /// When the ConnectRequest arrived (the latency of `SESS`).
    connect_received: Instant,
    auth: Vec<Id>,
    is_super: bool,
    queue: VecDeque<Slot>,
    sasl: Option<crate::auth::sasl::DigestMd5Server>,
    counters: ConnCounters,
}

pub struct Conn {
    pub id: u64,
    pub peer: SocketAddr,
    pub established_ms: i64,
    shared: std::sync::Arc<super::Shared>,
    /// True while this connection runs a four-letter word (`cons` shows it
    /// with interest ops 0, as ZooKeeper cancels its selection key).
    answering_word: Cell<bool>,
    state: RefCell<ConnState>,
    out: RefCell<Vec<u8>>,
    writer_wake: Notify,
    reader_wake: Notify,
    /// Fires once when the connection is to close: ends a reader blocked in read().
    closed_wake: Notify,
    closing: Cell<bool>,
    close_after_flush: Cell<bool>,
}

impl Conn {
    pub fn new(id: u64, peer: SocketAddr, shared: std::sync::Arc<super::Shared>) -> Conn {
        Conn {
            id,
            peer,
            established_ms: super::sequencer::wall_clock_ms(),
            shared,
            answering_word: Cell::new(false),
            state: RefCell::new(ConnState {
                phase: Phase::Handshake,
                session_id: 0,
                passwd: Vec::new(),
                timeout_ms: 0,
                requested_passwd: Vec::new(),
                last_zxid_seen: 0,
                connect_received: Instant::now(),
                auth: vec![Id::new("ip", &peer.ip().to_string())],
                is_super: false,
                queue: VecDeque::new(),
                sasl: None,
                counters: ConnCounters::new(),
            }),
            out: RefCell::new(Vec::new()),
            writer_wake: Notify::default(),
            reader_wake: Notify::default(),
            closed_wake: Notify::default(),
            closing: Cell::new(false),
            close_after_flush: Cell::new(false),
        }
    }

    pub fn phase(&self) -> Phase {
        self.state.borrow().phase
    }
    pub fn session_id(&self) -> i64 {
        self.state.borrow().session_id
    }
    pub fn timeout_ms(&self) -> i32 {
        self.state.borrow().timeout_ms
    }
    pub fn counters(&self) -> ConnCounters {
        self.state.borrow().counters.clone()
    }
    /// `crst`: forget this connection's packet and latency counters.
    pub fn reset_counters(&self) {
        self.state.borrow_mut().counters.reset();
    }

    pub fn answering_word(&self) -> bool {
        self.answering_word.get()
    }

    /// A frame (or a four-letter word) came in.
    fn note_packet_received(&self) {
        let mut st = self.state.borrow_mut();
        st.counters.packets_received += 1;
        st.counters.last_activity_ms = super::stats::elapsed_time_ms();
        drop(st);
        self.shared.stats.note_packet_received();
    }

    pub fn queued(&self) -> usize {
        self.state.borrow().queue.len()
    }
    pub fn auth(&self) -> (Vec<Id>, bool) {
        let st = self.state.borrow();
        (st.auth.clone(), st.is_super)
    }

    /// Queues one frame for the writer, out of band of the reply FIFO: a
    /// packet sent, as ZooKeeper counts `sendBuffer`. Replies and
    /// notifications go through [`Conn::send_response`] instead.
    pub fn send_frame(&self, frame: &[u8]) {
        self.send_packets(frame, 1);
    }

    /// Queues a reply header (+ body) or notification frame: a packet sent,
    /// and a client response size (`ServerCnxn.serialize`).
    pub fn send_response(&self, frame: &[u8]) {
        if self.closing.get() {
            return;
        }
        self.shared
            .stats
            .note_response_size(frame.len().saturating_sub(4));
        self.send_frame(frame);
    }

    /// Queues a four-letter word's reply, counted as the packets ZooKeeper
    /// writes it in.
    pub fn send_word_reply(&self, text: &[u8]) {
        self.send_packets(text, super::four_letter::reply_packets(text.len()));
    }

    fn send_packets(&self, bytes: &[u8], packets: u64) {
        if self.closing.get() {
            return;
        }
        {
            let mut st = self.state.borrow_mut();
            st.counters.packets_sent += packets;
            st.counters.last_activity_ms = super::stats::elapsed_time_ms();
        }
        self.shared.stats.note_packets_sent(packets);
        self.out.borrow_mut().extend_from_slice(bytes);
        self.writer_wake.notify();
    }

    /// Closes at once (what is queued may be lost).
    pub fn close(&self) {
        self.closing.set(true);
        self.state.borrow_mut().phase = Phase::Closed;
        self.writer_wake.notify();
        self.reader_wake.notify();
        self.closed_wake.notify();
    }

    /// Closes once what is queued has been written.
    pub fn close_after_flush(&self) {
        self.close_after_flush.set(true);
        self.state.borrow_mut().phase = Phase::Closed;
        self.writer_wake.notify();
        self.reader_wake.notify();
        self.closed_wake.notify();
    }

    /// The answer to the write `token` has arrived: mark its slot done and
    /// send whatever is now at the head of the FIFO.
    pub fn complete_write(
        &self,
        shard: &Shard,
        token: u64,
        zxid: i64,
        reply: Result<Response, ErrorCode>,
    ) {
        {
            let mut st = self.state.borrow_mut();
            let position = st
                .queue
                .iter()
                .position(|slot| matches!(slot, Slot::Waiting { token: t, .. } if *t == token));
            let Some(position) = position else { return };
            let (xid, op, received) = match &st.queue[position] {
                Slot::Waiting {
                    xid, op, received, ..
                } => (*xid, *op, *received),
                _ => unreachable!("position found a Waiting slot"),
            };
            let frame = reply_frame(xid, zxid, reply);
            st.queue[position] = Slot::Done {
                frame,
                xid,
                op,
                received,
            };
        }
        self.drain(shard);
    }

    /// Sends every finished answer at the head of the FIFO, running queued
    /// reads as soon as no write is ahead of them.
    pub fn drain(&self, shard: &Shard) {
        loop {
            let head = {
                let mut st = self.state.borrow_mut();
                match st.queue.front() {
                    Some(Slot::Waiting { .. }) | None => break,
                    _ => st.queue.pop_front(),
                }
            };
            self.reader_wake.notify();
            match head {
                Some(Slot::Done {
                    frame,
                    xid,
                    op,
                    received,
                }) => self.send_reply(&frame, xid, op, received),
                Some(Slot::Read {
                    xid,
                    request,
                    received,
                }) => {
                    let frame = self.run_read(shard, xid, &request);
                    self.send_reply(&frame, xid, op_name(request.op_code()), received);
                }
                _ => break,
            }
        }
    }

    /// Sends the in-order answer to request `xid` (`op` as `cons` names it),
    /// counting it as ZooKeeper's `FinalRequestProcessor.updateStats` does;
    /// `lzxid` is the zxid the reply header carries.
    fn send_reply(&self, frame: &[u8], xid: i32, op: &'static str, received: Instant) {
        let latency = received.elapsed();
        let zxid = frame
            .get(8..16)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, i64::from_be_bytes);
        self.state
            .borrow_mut()
            .counters
            .note_answer(xid, zxid, op, latency.as_millis() as u64);
        self.shared.stats.note_latency(latency);
        self.send_response(frame);
    }

    fn run_read(&self, shard: &Shard, xid: i32, request: &Request) -> Vec<u8> {
        let session_id = self.session_id();
        let zxid = shard.last_zxid();
        let reply = match request {
            Request::Ping => Ok(Response::Empty),
            Request::WhoAmI => {
                let (auth, _) = self.auth();
                Ok(Response::WhoAmI(crate::auth::who_am_i(&auth)))
            }
            Request::SetWatches(req) | Request::SetWatches2(req) => {
                let events = shard.tree.borrow_mut().set_watches(session_id, req, zxid);
                for (_, event) in events {
                    let mut frame = Vec::new();
                    frame::write_notification(&mut frame, -1, &event);
                    self.send_response(&frame);
                }
                Ok(Response::Empty)
            }
            _ => shard.read(request, session_id, self),
        };
        reply_frame(xid, zxid, reply)
    }

    /// Queues an answer that needs no work behind whatever the session has
    /// in flight.
    fn reply_in_order(
        &self,
        shard: &Shard,
        xid: i32,
        op: &'static str,
        reply: Result<Response, ErrorCode>,
    ) {
        let frame = reply_frame(xid, shard.last_zxid(), reply);
        self.state.borrow_mut().queue.push_back(Slot::Done {
            frame,
            xid,
            op,
            received: Instant::now(),
        });
        self.drain(shard);
    }

    /// Acts on one decoded request of a connected session.
    async fn handle_request(self: &Rc<Self>, shard: &Rc<Shard>, xid: i32, request: Request) {
        let received = Instant::now();
        let session_id = self.session_id();
        let op = op_name(request.op_code());
        shard.touched.borrow_mut().insert(session_id);
        match request {
            Request::Auth(packet) => self.handle_auth(shard, packet),
            Request::Sasl { token } => self.handle_sasl(shard, xid, &token),
            request if request.is_write() || matches!(request, Request::CloseSession) => {
                if shard.shared.refusing_writes() && !matches!(request, Request::CloseSession) {
                    self.reply_in_order(shard, xid, op, Err(ErrorCode::SystemError));
                    return;
                }
                let origin = shard.origin_for(self);
                let (auth, is_super) = self.auth();
                self.state.borrow_mut().queue.push_back(Slot::Waiting {
                    token: origin.token,
                    xid,
                    op,
                    received,
                });
                let write = WriteRequest {
                    origin: Some(origin),
                    session_id,
                    cxid: xid,
                    request,
                    auth,
                    is_super,
                    learner: None,
                };
                if shard
                    .to_sequencer
                    .send_async(SequencerInput::Write(write))
                    .await
                    .is_err()
                {
                    self.close();
                }
            }
            request => {
                let queue_empty = self.state.borrow().queue.is_empty();
                if queue_empty {
                    let frame = self.run_read(shard, xid, &request);
                    self.send_reply(&frame, xid, op, received);
                } else {
                    self.state.borrow_mut().queue.push_back(Slot::Read {
                        xid,
                        request,
                        received,
                    });
                }
            }
        }
    }

    fn handle_auth(&self, shard: &Shard, packet: AuthPacket) {
        let outcome = match packet.scheme.as_str() {
            "digest" => crate::auth::digest::authenticate(&packet.auth),
            _ => None,
        };
        match outcome {
            Some(id) => {
                let is_super =
                    crate::auth::digest::is_super(&id, shard.shared.config.super_digest.as_deref());
                {
                    let mut st = self.state.borrow_mut();
                    if !st.auth.contains(&id) {
                        st.auth.push(id);
                    }
                    st.is_super |= is_super;
                }
                let mut frame = Vec::new();
                write_reply(
                    &mut frame,
                    ReplyHeader {
                        xid: xid::AUTH,
                        zxid: 0,
                        err: 0,
                    },
                    None,
                );
                self.send_response(&frame);
            }
            None => {
                log::warn!(
                    "auth failed for scheme '{}' from {}",
                    packet.scheme,
                    self.peer
                );
                let mut frame = Vec::new();
                let header = ReplyHeader {
                    xid: xid::AUTH,
                    zxid: 0,
                    err: ErrorCode::AuthFailed.code(),
                };
                write_reply(&mut frame, header, None);
                self.shared.stats.note_auth_failed();
                self.send_response(&frame);
                self.close_after_flush();
            }
        }
    }

    fn handle_sasl(&self, shard: &Shard, xid: i32, token: &[u8]) {
        let zxid = shard.last_zxid();
        let Some(users) = shard.shared.sasl_users.as_ref() else {
            let frame = reply_frame(xid, zxid, Err(ErrorCode::AuthFailed));
            self.shared.stats.note_auth_failed();
            self.send_response(&frame);
            self.close_after_flush();
            return;
        };
        let result = {
            let mut st = self.state.borrow_mut();
            let server = st.sasl.get_or_insert_with(|| {
                crate::auth::sasl::DigestMd5Server::zookeeper(users.clone())
            });
            if token.is_empty() {
                Ok((server.start(), None))
            } else {
                server
                    .step(token)
                    .map(|step| (step.response, step.authenticated))
            }
        };
        match result {
            Ok((response, authenticated)) => {
                if let Some(user) = authenticated {
                    // `zookeeper.superUser`: that SASL user is a super user
                    // (ZooKeeper adds the id super:"" next to sasl:user).
                    let is_super = shard.shared.config.super_user.as_deref() == Some(&user);
                    if is_super {
                        log::info!(
                            "{}: authenticated SASL id '{user}' as super user",
                            self.peer
                        );
                    }
                    let mut st = self.state.borrow_mut();
                    st.auth.push(Id::new("sasl", &user));
                    if is_super {
                        st.auth.push(Id::new("super", ""));
                        st.is_super = true;
                    }
                    st.sasl = None;
                }
                // ZooKeeper answers SASL with zxid 0.
                let frame = reply_frame(xid, 0, Ok(Response::Sasl { token: response }));
                self.send_response(&frame);
            }
            Err(e) => {
                // As ZooKeeper's processSasl: SessionClosedRequireSaslAuth when
                // SASL is enforced, AuthFailed otherwise; either way the reply
                // carries a null SASL token, then the connection closes.
                let error = if shard.shared.auth_enforcement.sasl_required() {
                    ErrorCode::SessionClosedRequireSaslAuth
                } else {
                    ErrorCode::AuthFailed
                };
                log::warn!(
                    "SASL authentication from {} failed ({}): {e}",
                    self.peer,
                    error.code()
                );
                self.shared.stats.note_auth_failed();
                self.send_response(&null_sasl_reply_frame(xid, error));
                self.close_after_flush();
            }
        }
    }

    /// `enforce.auth.*` / `sessionRequireClientSASLAuth`: true when request
    /// `op` may be served. Otherwise the client has been answered -124 (zxid
    /// 0, as ZooKeeper's `AuthenticationHelper`) and the connection is closing;
    /// the session itself lives on until it expires.
    fn enforce_auth(&self, shard: &Shard, xid: i32, op: i32) -> bool {
        let enforcement = &shard.shared.auth_enforcement;
        let schemes: Vec<String> = {
            let st = self.state.borrow();
            if enforcement.admits(op, &st.auth) {
                return true;
            }
            st.auth.iter().map(|id| id.scheme.clone()).collect()
        };
        log::error!(
            "client {} (session 0x{:x}): authentication scheme(s) {:?} do not match any of \
             the enforced schemes {:?}; closing the connection",
            self.peer,
            self.session_id(),
            schemes,
            enforcement.schemes()
        );
        let frame = reply_frame(xid, 0, Err(ErrorCode::SessionClosedRequireSaslAuth));
        self.send_response(&frame);
        self.close_after_flush();
        false
    }

    /// The first frame: a ConnectRequest.
    async fn handle_connect(
        self: &Rc<Self>,
        shard: &Rc<Shard>,
        payload: &[u8],
    ) -> Result<(), String> {
        let request =
            ConnectRequest::decode(payload).map_err(|e| format!("bad ConnectRequest: {e}"))?;
        let config = &shard.shared.config;
        let timeout_ms = negotiate_timeout(
            request.timeout_ms,
            config.min_session_timeout_ms as i32,
            config.max_session_timeout_ms as i32,
        );
        {
            let mut st = self.state.borrow_mut();
            st.phase = Phase::Connecting;
            st.timeout_ms = timeout_ms;
            st.requested_passwd = request.passwd.clone();
            st.last_zxid_seen = request.last_zxid_seen;
            st.connect_received = Instant::now();
        }
        let origin = shard.origin_for(self);
        let input = if request.session_id == 0 {
            SequencerInput::CreateSession { origin, timeout_ms }
        } else {
            SequencerInput::Reconnect {
                origin,
                session_id: request.session_id,
                timeout_ms,
                passwd_ok: request.passwd == crate::sessions::session_password(request.session_id),
            }
        };
        shard
            .to_sequencer
            .send_async(input)
            .await
            .map_err(|_| "server shutting down".to_string())
    }

    fn refuse_stale_client(&self, shard: &Shard) -> bool {
        let seen = self.state.borrow().last_zxid_seen;
        let have = shard.last_zxid();
        if seen > have {
            log::warn!(
                "refusing session request for client {} as it has seen zxid 0x{seen:x} our last zxid is 0x{have:x}",
                self.peer
            );
            self.close();
            return true;
        }
        false
    }

    /// The createSession txn for this connection committed.
    pub fn finish_new_session(&self, shard: &Shard, session_id: i64, timeout_ms: i32) {
        if self.refuse_stale_client(shard) {
            return;
        }
        let passwd = crate::sessions::session_password(session_id).to_vec();
        // ZooKeeper answers createSession through FinalRequestProcessor
        // (`lop=SESS`, cxid 0); a reconnect is not counted.
        let latency = {
            let mut st = self.state.borrow_mut();
            let latency = st.connect_received.elapsed();
            st.counters
                .note_answer(0, shard.last_zxid(), "SESS", latency.as_millis() as u64);
            latency
        };
        self.shared.stats.note_latency(latency);
        self.accept_session(shard, session_id, timeout_ms, passwd);
    }

    /// A reconnect came back in order: the tree now knows whether the session
    /// still exists.
    pub fn finish_reconnect(&self, shard: &Shard, session_id: i64, known_timeout: Option<i32>) {
        if self.refuse_stale_client(shard) {
            return;
        }
        let passwd = crate::sessions::session_password(session_id).to_vec();
        let requested = self.state.borrow().requested_passwd.clone();
        if known_timeout.is_none() || requested != passwd {
            log::info!(
                "invalid session 0x{session_id:x} for client {}, probably expired",
                self.peer
            );
            let mut frame = Vec::new();
            let response = ConnectResponse {
                protocol_version: 0,
                timeout_ms: 0,
                session_id: 0,
                passwd: vec![0; 16],
                read_only: false,
            };
            write_connect_response(&mut frame, &response);
            self.send_frame(&frame);
            self.close_after_flush();
            return;
        }
        let timeout_ms = self.timeout_ms();
        self.accept_session(shard, session_id, timeout_ms, passwd);
    }

    fn accept_session(&self, shard: &Shard, session_id: i64, timeout_ms: i32, passwd: Vec<u8>) {
        {
            let mut st = self.state.borrow_mut();
            st.phase = Phase::Connected;
            st.session_id = session_id;
            st.timeout_ms = timeout_ms;
            st.passwd = passwd.clone();
        }
        shard.sessions.borrow_mut().insert(session_id, self.id);
        shard.touched.borrow_mut().insert(session_id);
        let response = ConnectResponse {
            protocol_version: 0,
            timeout_ms,
            session_id,
            passwd,
            read_only: false,
        };
        let mut frame = Vec::new();
        write_connect_response(&mut frame, &response);
        self.send_frame(&frame);
        self.reader_wake.notify();
    }
}

/// Builds a reply frame: header, and the body only on success.
pub fn reply_frame(xid: i32, zxid: i64, reply: Result<Response, ErrorCode>) -> Vec<u8> {
    let mut frame = Vec::new();
    match reply {
        Ok(response) => {
            let body = if matches!(response, Response::Empty) {
                None
            } else {
                Some(&response)
            };
            write_reply(&mut frame, ReplyHeader { xid, zxid, err: 0 }, body);
        }
        Err(error) => write_reply(
            &mut frame,
            ReplyHeader {
                xid,
                zxid,
                err: error.code(),
            },
            None,
        ),
    }
    frame
}

/// A SASL failure as ZooKeeper sends it: header (zxid 0, `error`) and a
/// `SetSASLResponse` whose token is null (length -1).
fn null_sasl_reply_frame(xid: i32, error: ErrorCode) -> Vec<u8> {
    let mut frame = reply_frame(xid, 0, Err(error));
    frame.extend_from_slice(&(-1i32).to_be_bytes());
    let length = (frame.len() - 4) as i32;
    frame[..4].copy_from_slice(&length.to_be_bytes());
    frame
}

/// Short op names as ZooKeeper's `cons` prints them (`lop=`).
pub fn op_name(op: i32) -> &'static str {
    use crate::protocol::op;
    match op {
        op::CREATE | op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => "CREA",
        op::DELETE | op::DELETE_CONTAINER => "DELE",
        op::EXISTS => "EXIS",
        op::GET_DATA => "GETD",
        op::SET_DATA => "SETD",
        op::GET_ACL => "GETA",
        op::SET_ACL => "SETA",
        op::GET_CHILDREN => "GETC",
        op::GET_CHILDREN2 => "GETC",
        op::SYNC => "SYNC",
        op::PING => "PING",
        op::CHECK => "CHEC",
        op::MULTI => "MULT",
        op::MULTI_READ => "MLTR",
        op::AUTH => "AUTH",
        op::SET_WATCHES => "SETW",
        op::SET_WATCHES2 => "STW2",
        op::SASL => "SASL",
        op::CLOSE_SESSION => "CLOS",
        op::ADD_WATCH => "ADDW",
        op::REMOVE_WATCHES => "REMW",
        op::CHECK_WATCHES => "CHKW",
        op::WHO_AM_I => "HOMI",
        op::GET_EPHEMERALS => "GETE",
        op::GET_ALL_CHILDREN_NUMBER => "GETACN",
        _ => "UNKN",
    }
}

/// A stream shared by a connection's reader and writer task. Both run on the
/// same thread and each borrow lasts one poll, so the `RefCell` never
/// conflicts; glommio keeps separate sources for the two directions.
struct Half(Rc<RefCell<TcpStream>>);

impl Half {
    /// Has the peer shut down its side (a FIN or a reset is queued)? A
    /// zero-timeout poll; never blocks.
    fn peer_hung_up(&self) -> bool {
        use std::os::fd::AsRawFd;
        let mut fd = libc::pollfd {
            fd: self.0.borrow().as_raw_fd(),
            events: libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut fd, 1, 0) };
        ready > 0 && fd.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
    }
}

impl AsyncRead for Half {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_read(cx, buf)
    }
}

impl AsyncWrite for Half {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_flush(cx)
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_close(cx)
    }
}

/// Serves one accepted connection until it closes.
pub async fn serve(shard: Rc<Shard>, stream: TcpStream, peer: SocketAddr) {
    let conn = Rc::new(Conn::new(shard.next_id(), peer, shard.shared.clone()));
    shard.conns.borrow_mut().insert(conn.id, conn.clone());
    shard.shared.stats.connection_opened();
    let stream = Rc::new(RefCell::new(stream));
    let writer = glommio::spawn_local(write_loop(conn.clone(), Half(stream.clone())));
    let closed = async {
        conn.closed_wake.wait().await;
        Ok(())
    };
    let reason =
        futures_lite::future::or(read_loop(&shard, &conn, Half(stream.clone())), closed).await;
    match &reason {
        Ok(()) => log::debug!("connection {} from {} closed", conn.id, peer),
        Err(reason) => log::info!("closing connection from {peer}: {reason}"),
    }
    if conn.close_after_flush.get() {
        conn.writer_wake.notify();
    } else {
        conn.close();
    }
    writer.await;
    shard.forget_conn(&conn);
}

async fn write_loop(conn: Rc<Conn>, mut stream: Half) {
    let mut buffer = Vec::new();
    loop {
        if conn.closing.get() {
            break;
        }
        {
            let mut out = conn.out.borrow_mut();
            std::mem::swap(&mut *out, &mut buffer);
        }
        if buffer.is_empty() {
            if conn.close_after_flush.get() {
                break;
            }
            conn.writer_wake.wait().await;
            continue;
        }
        if stream.write_all(&buffer).await.is_err() {
            conn.close();
            break;
        }
        buffer.clear();
    }
    let _ = stream.close().await;
}

/// Bytes read from a socket at a time: large enough for a 1 KiB-write
/// pipeline to arrive in few reads, small enough for thousands of idle
/// connections.
const READ_CHUNK_BYTES: usize = 16 * 1024;

async fn read_loop(shard: &Rc<Shard>, conn: &Rc<Conn>, mut stream: Half) -> Result<(), String> {
    let max_frame = shard.shared.config.jute_max_buffer;
    let max_outstanding = shard
        .shared
        .config
        .tuning
        .outstanding_per_connection_max
        .max(1);
    let mut buffer: Vec<u8> = Vec::with_capacity(4096);
    let mut start = 0usize;
    let mut chunk = vec![0u8; READ_CHUNK_BYTES];
    loop {
        // Parse every whole frame we hold.
        loop {
            match conn.phase() {
                Phase::Closed => return Ok(()),
                Phase::Connecting => {
                    // Hold later frames until the session exists.
                    conn.reader_wake.wait().await;
                    continue;
                }
                _ => {}
            }
            let available = &buffer[start..];
            if conn.phase() == Phase::Handshake && available.len() >= 4 {
                if let Some(word) = frame::four_letter_word(&available[..4]) {
                    conn.note_packet_received();
                    conn.answering_word.set(true);
                    let argument = if word == "stmk"
                        && shard.shared.config.four_letter_whitelist.allows(word)
                    {
                        // ZooKeeper reads the 8-byte mask that follows.
                        let read = read_exactly(&mut stream, &mut buffer, start + 12, &mut chunk);
                        let deadline = async {
                            glommio::timer::sleep(SESSIONLESS_TIMEOUT).await;
                            Err("stmk: no trace mask within the sessionless timeout".to_string())
                        };
                        match futures_lite::future::or(read, deadline).await? {
                            true => buffer
                                .get(start + 4..start + 12)
                                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                                .map(i64::from_be_bytes),
                            false => return Err("stmk without its 8-byte trace mask".to_string()),
                        }
                    } else {
                        None
                    };
                    let text = super::admin::reply(shard, word, argument).await;
                    conn.send_word_reply(text.as_bytes());
                    conn.close_after_flush();
                    return Ok(());
                }
            }
            let length = match frame::frame_length(available, max_frame) {
                Ok(Some(length)) => length,
                Ok(None) => break,
                Err(e) => return Err(format!("{e}")),
            };
            let payload = buffer[start + 4..start + 4 + length].to_vec();
            start += 4 + length;
            conn.note_packet_received();
            if conn.phase() == Phase::Handshake {
                if stream.peer_hung_up() {
                    // A connect that waited (in the backlog while this
                    // server synced, or behind a slow turn) until its
                    // client gave up and went to another server. Taken
                    // now, it would revalidate the session here after the
                    // client's new server did, and move the session back:
                    // the client's next write there fails with SessionMoved.
                    return Err("the client hung up before its connect was handled".into());
                }
                conn.handle_connect(shard, &payload).await?;
                continue;
            }
            // Back-pressure: a client that pipelines more than the limit
            // waits (we stop reading its socket) until its replies drain.
            while conn.queued() >= max_outstanding && conn.phase() == Phase::Connected {
                conn.reader_wake.wait().await;
            }
            let mut reader = Reader::new(&payload);
            let header = RequestHeader::decode(&mut reader)
                .map_err(|e| format!("undecodable request header: {e}"))?;
            // Before the body is decoded, as ZooKeeper's processPacket.
            if !conn.enforce_auth(shard, header.xid, header.op) {
                return Ok(());
            }
            match Request::decode(header.op, reader.rest()) {
                Ok(request) => {
                    shard.shared.shard_requests[shard.id]
                        .0
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    conn.handle_request(shard, header.xid, request).await
                }
                Err(DecodeError::UnknownOp(op)) => {
                    // As ZooKeeper: answer Unimplemented, then drop the connection.
                    let mut frame = Vec::new();
                    let reply = ReplyHeader {
                        xid: header.xid,
                        zxid: -1,
                        err: ErrorCode::Unimplemented.code(),
                    };
                    write_reply(&mut frame, reply, None);
                    conn.send_response(&frame);
                    conn.close_after_flush();
                    return Err(format!("unknown op code {op}"));
                }
                Err(e) => {
                    // A well-framed request whose body does not decode: ZooKeeper
                    // answers MarshallingError in order and keeps the connection.
                    log::info!("undecodable op {} from {}: {e}", header.op, conn.peer);
                    conn.reply_in_order(
                        shard,
                        header.xid,
                        op_name(header.op),
                        Err(ErrorCode::MarshallingError),
                    );
                }
            }
        }
        if start > 0 {
            buffer.drain(..start);
            start = 0;
        }
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read error: {e}"))?;
        if n == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// How long a connection may take to send what follows `stmk`
/// (ZooKeeper's `zookeeper.nio.sessionlessCnxnTimeout` default).
const SESSIONLESS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads until `buffer` holds `length` bytes; false if the peer closed first.
async fn read_exactly(
    stream: &mut Half,
    buffer: &mut Vec<u8>,
    length: usize,
    chunk: &mut [u8],
) -> Result<bool, String> {
    while buffer.len() < length {
        let n = stream
            .read(chunk)
            .await
            .map_err(|e| format!("read error: {e}"))?;
        if n == 0 {
            return Ok(false);
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    Ok(true)
}
