//! The consensus thread: the host of the pure `zab::Zab` state machine.
//!
//! It feeds zab everything that happens (peer packets, ticks, `Persisted`
//! from the log core) and carries out zab's actions in order: epoch files,
//! log appends and flushes (through the persist thread), packets (gathered
//! per connection and written once per loop turn), commits. It owns the
//! committed copy of the tree — what a SNAP sends and what each serving
//! period's shards start from — and the routing that zab knows nothing of:
//!
//! - leader: the sequencer (on shard 0) prepares each write and hands the
//!   txn here; it is proposed at once, and its reply goes out on the commit
//!   stream when zab commits it. Answers that need no txn (a sync, a
//!   reconnect) wait behind the txns sequenced before them. Learners'
//!   REQUESTs go to the sequencer; their REVALIDATEs too.
//! - learner: shards send writes here (there is no sequencer); each is
//!   forwarded as REQUEST and remembered by (session id, cxid), and the
//!   committed txn carrying that pair is the reply. `sync` waits for the
//!   leader's SYNC; a reconnect for the leader's REVALIDATE answer.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::data_tree::{DataTree, SnapStreamer};
use crate::protocol::jute::{JuteWrite, Reader};
use crate::protocol::{Id, Request};
use crate::txn::{self, Txn};
use crate::zab::wire::{
    decode_revalidate_reply, decode_revalidate_request, ForwardedRequest, PacketType, QuorumPacket,
    SnapTree,
};
use crate::zab::{Action, ConnId, Input, Role, Sid, Zab, Zxid};

use super::super::messages::{
    Batch, CommitBatch, CommitItem, Origin, SequencerInput, WriteRequest,
};
use super::super::{EnsembleView, Shared};
use super::election_port::ElectionPort;
use super::persist::PersistOp;
use super::quorum_port::QuorumPort;

/// What reaches the consensus thread.
pub enum CoreInput {
    Zab(Input),
    /// Several, in order (one read's packets from a quorum connection).
    ZabMany(Vec<Input>),
    /// Leader: txns and in-order answers from the sequencer.
    Sequenced(Vec<CommitItem>),
    /// Learner: what shards would ask a sequencer.
    Shard(SequencerInput),
    /// A snapshot of this many bytes was written: the DIFF window's budget.
    SnapshotWritten(u64),
    /// Learner: the SNAP body that followed the SNAP packet on `conn`,
    /// already decoded and loaded by the quorum port as it streamed in.
    /// zab is then told `SnapBody` with an empty body, and its
    /// `InstallSnapshot` installs this tree.
    SnapLoaded {
        conn: ConnId,
        tree: Box<DataTree>,
    },
    Stop,
}

/// Told to the main thread, which starts and stops the shards.
pub enum ServeEvent {
    Start(Box<Period>),
    Stop,
    /// A stop signal arrived.
    Shutdown,
}

/// One serving period: from `Serve` to `StopServing`.
pub struct Period {
    pub role: Role,
    pub epoch: i64,
    pub tree: DataTree,
    pub commits: Vec<flume::Receiver<CommitBatch>>,
    /// Shards' requests go here: to the sequencer on shard 0 when leading
    /// (`sequencer_input` is then its receiving end), else to this thread.
    pub to_sequencer: flume::Sender<SequencerInput>,
    pub sequencer_input: Option<flume::Receiver<SequencerInput>>,
}

/// Bound on committed batches queued for one shard (as standalone's).
const COMMIT_BATCHES_PER_SHARD_CAPACITY: usize = 4096;
/// Bound on shards' requests queued for the sequencer or this thread.
const SEQUENCER_INPUT_CAPACITY: usize = 16 * 1024;
/// Inputs taken per loop turn before the turn's packets are written.
const INPUTS_PER_TURN: usize = 4096;

pub struct CoreSettings {
    pub my_id: Sid,
    pub shard_count: usize,
    pub epoch_dir: PathBuf,
    pub tick_interval: Duration,
    pub quorum_addresses: HashMap<Sid, std::net::SocketAddr>,
    pub learner_connect_timeout: Duration,
    pub snapshots: super::super::snapshot::SnapshotPolicy,
}

/// Where a committed txn's reply goes.
struct Pending {
    origin: Option<Origin>,
    request: Option<Request>,
}

pub struct Core {
    zab: Zab,
    settings: CoreSettings,
    shared: Arc<Shared>,
    input: flume::Receiver<CoreInput>,
    me: flume::Sender<CoreInput>,
    persist: flume::Sender<PersistOp>,
    election: Arc<ElectionPort>,
    quorum: Arc<QuorumPort>,
    events: flume::Sender<ServeEvent>,
    /// The committed state (plus, while looking, the logged tail).
    tree: DataTree,
    /// Logged txns not yet committed, applied to `tree` when the server goes
    /// back to looking (ZooKeeper's `fastForwardDataBase`): they are in its
    /// log, so the next leader syncs it as having them.
    uncommitted: BTreeMap<Zxid, Bytes>,
    /// Packets for each connection, written at the end of the turn.
    outgoing: BTreeMap<ConnId, Vec<u8>>,
    closing: Vec<ConnId>,
    /// Connections zab has been told of; connections this learner opened
    /// to a leader (and those still being opened).
    known_conns: std::collections::HashSet<ConnId>,
    /// Learners' connections accepted while looking, with their packets.
    parked: BTreeMap<ConnId, (Instant, Vec<Input>)>,
    leader_conns: std::collections::HashSet<ConnId>,
    connecting: std::collections::HashSet<ConnId>,
    serving: Option<Serving>,
    started: Instant,
    next_session_id: i64,
    /// The tree of a SNAP body the quorum port loaded, while zab is told of it.
    loaded_snap: Option<DataTree>,
    /// The failed-sync count last logged (see `log_sync_backoff`).
    logged_sync_failures: u32,
    /// Leader: the trees taken for SNAPs, until zab says to send them.
    snap_streams: BTreeMap<ConnId, SnapStreamer>,
}

/// State of one serving period.
struct Serving {
    role: Role,
    commits: Vec<flume::Sender<CommitBatch>>,
    batch: Vec<CommitItem>,
    batch_seq: u64,
    /// Shards → sequencer (leader: to hand it learners' requests).
    to_sequencer: flume::Sender<SequencerInput>,
    /// Learner: the receiving end of the shards' requests.
    shard_input: Option<flume::Receiver<SequencerInput>>,
    /// Leader: local replies by zxid; learner: forwarded writes by
    /// (session id, cxid).
    by_zxid: HashMap<Zxid, Pending>,
    by_request: HashMap<(i64, i32), Pending>,
    /// Leader: answers waiting for the commit of the zxid sequenced before.
    ordered: VecDeque<(Zxid, CommitItem)>,
    last_proposed: Zxid,
    last_committed: Zxid,
    /// Learner: syncs waiting for the leader's SYNC, reconnects waiting for
    /// REVALIDATE's answer.
    syncs: VecDeque<(Origin, String)>,
    revalidations: HashMap<i64, VecDeque<Origin>>,
    txns_since_snapshot: u64,
}

impl Core {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        zab: Zab,
        settings: CoreSettings,
        shared: Arc<Shared>,
        input: flume::Receiver<CoreInput>,
        me: flume::Sender<CoreInput>,
        persist: flume::Sender<PersistOp>,
        election: Arc<ElectionPort>,
        quorum: Arc<QuorumPort>,
        events: flume::Sender<ServeEvent>,
        tree: DataTree,
    ) -> Core {
        let next_session_id = crate::sessions::first_session_id(
            settings.my_id as u8,
            super::super::sequencer::wall_clock_ms() as u64,
            tree.sessions().map(|(id, _)| id),
        );
        Core {
            zab,
            settings,
            shared,
            input,
            me,
            persist,
            election,
            quorum,
            events,
            tree,
            uncommitted: BTreeMap::new(),
            outgoing: BTreeMap::new(),
            closing: Vec::new(),
            known_conns: Default::default(),
            parked: BTreeMap::new(),
            leader_conns: Default::default(),
            connecting: Default::default(),
            serving: None,
            started: Instant::now(),
            next_session_id,
            loaded_snap: None,
            logged_sync_failures: 0,
            snap_streams: BTreeMap::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    pub fn run(mut self) {
        let tick = self.settings.tick_interval;
        let mut next_tick = Instant::now();
        loop {
            let now = Instant::now();
            if now >= next_tick {
                let now_ms = self.now_ms();
                self.step(Input::Tick { now_ms });
                self.expire_parked();
                next_tick = now + tick;
                self.publish_status();
            }
            let wait = next_tick.saturating_duration_since(Instant::now());
            let first = self.receive(wait);
            let mut stop = false;
            if let Some(first) = first {
                let mut input = Some(first);
                let mut taken = 0;
                while let Some(current) = input.take() {
                    if matches!(current, CoreInput::Stop) {
                        stop = true;
                        break;
                    }
                    self.handle(current);
                    taken += 1;
                    if taken >= INPUTS_PER_TURN {
                        break;
                    }
                    input = self.try_receive();
                }
            }
            self.end_turn();
            if stop {
                break;
            }
        }
        self.stop_serving();
        self.end_turn();
        let _ = self.persist.send(PersistOp::Shutdown);
    }

    fn receive(&self, wait: Duration) -> Option<CoreInput> {
        match self.serving.as_ref().and_then(|s| s.shard_input.clone()) {
            Some(shards) => flume::Selector::new()
                .recv(&self.input, |r| r.ok())
                .recv(&shards, |r| r.ok().map(CoreInput::Shard))
                .wait_timeout(wait)
                .ok()
                .flatten(),
            None => self.input.recv_timeout(wait).ok(),
        }
    }

    fn try_receive(&self) -> Option<CoreInput> {
        if let Ok(input) = self.input.try_recv() {
            return Some(input);
        }
        let shards = self.serving.as_ref()?.shard_input.as_ref()?;
        shards.try_recv().ok().map(CoreInput::Shard)
    }

    fn handle(&mut self, input: CoreInput) {
        match input {
            CoreInput::Zab(input) => {
                match &input {
                    Input::QuorumConnected(conn) => {
                        // Learners may call a server that does not lead; only
                        // a leader takes them. One that is still looking may
                        // be about to lead (a learner decides as soon as it
                        // has the votes): it holds the connection until it
                        // knows. A learner's own connection to its leader is
                        // one it asked for.
                        if self.zab.role() != Role::Leading && !self.leader_conns.contains(conn) {
                            if self.zab.role() == Role::Looking {
                                self.parked.insert(*conn, (Instant::now(), Vec::new()));
                            } else {
                                self.quorum.close(*conn);
                            }
                            return;
                        }
                        self.known_conns.insert(*conn);
                    }
                    Input::QuorumClosed(conn) => {
                        self.leader_conns.remove(conn);
                        self.snap_streams.remove(conn);
                        if self.parked.remove(conn).is_some() {
                            return;
                        }
                        // A failed connect was never connected, but zab asked
                        // for it and must hear that it failed.
                        if !self.known_conns.remove(conn) && !self.connecting.remove(conn) {
                            return;
                        }
                    }
                    Input::Packet { conn, .. } | Input::SnapBody { conn, .. }
                        if !self.known_conns.contains(conn) =>
                    {
                        let conn = *conn;
                        if let Some((_, held)) = self.parked.get_mut(&conn) {
                            held.push(input);
                        }
                        return;
                    }
                    _ => {}
                }
                if let Input::QuorumConnected(conn) = &input {
                    self.connecting.remove(conn);
                }
                self.step(input)
            }
            CoreInput::ZabMany(inputs) => {
                for input in inputs {
                    self.handle(CoreInput::Zab(input));
                }
            }
            CoreInput::Sequenced(items) => self.sequenced(items),
            CoreInput::Shard(request) => self.forward_for_shard(request),
            CoreInput::SnapshotWritten(bytes) => self.zab.set_snapshot_size(bytes),
            CoreInput::SnapLoaded { conn, tree } => {
                // zab answers SnapBody with InstallSnapshot in the same step,
                // or ignores it (not its leader's connection any more).
                self.loaded_snap = Some(*tree);
                self.handle(CoreInput::Zab(Input::SnapBody {
                    conn,
                    body: Bytes::new(),
                }));
                self.loaded_snap = None;
            }
            CoreInput::Stop => {}
        }
    }

    fn step(&mut self, input: Input) {
        if let Input::Notification { from, n } = &input {
            log::debug!(
                "election: from {from}: {:?} leader {} zxid 0x{:x} round {} epoch {}",
                n.state,
                n.leader,
                n.zxid,
                n.election_epoch,
                n.peer_epoch
            );
        }
        if let Input::ElectionUp(sid) | Input::ElectionDown(sid) = &input {
            log::debug!("election channel to {sid}: {input:?}");
        }
        let role = self.zab.role();
        let actions = self.zab.step(input);
        if self.zab.role() != role {
            log::info!("role {:?} -> {:?}", role, self.zab.role());
            if let Some(view) = &self.shared.ensemble {
                if self.zab.role() == Role::Leading {
                    view.started_leading(Instant::now());
                } else if role == Role::Leading {
                    view.stopped_leading();
                }
            }
        }
        for action in actions {
            self.act(action);
        }
        self.log_sync_backoff();
        if self.zab.role() != role && !self.parked.is_empty() {
            self.unpark();
        }
    }

    /// Says once per failed sync why the learner's sync failed and how long
    /// it waits before trying again (not once per reconnect attempt).
    fn log_sync_backoff(&mut self) {
        let failures = self.zab.sync_backoff().map_or(0, |b| b.failures);
        if failures == self.logged_sync_failures {
            return;
        }
        self.logged_sync_failures = failures;
        if let Some(b) = self.zab.sync_backoff() {
            log::warn!(
                "sync with leader {} failed {} time(s) in a row (last: {}); connecting again in {} ms",
                b.leader,
                b.failures,
                b.reason,
                b.delay_ms
            );
        }
    }

    /// Connections accepted while looking: a leader takes them now, with
    /// what they sent meanwhile; anyone else closes them.
    fn unpark(&mut self) {
        let role = self.zab.role();
        if role == Role::Looking {
            return;
        }
        for (conn, (_, held)) in std::mem::take(&mut self.parked) {
            if role == Role::Leading {
                self.known_conns.insert(conn);
                self.step(Input::QuorumConnected(conn));
                for input in held {
                    self.step(input);
                }
            } else {
                self.quorum.close(conn);
            }
        }
    }

    /// Closes connections parked for longer than a learner waits anyway.
    fn expire_parked(&mut self) {
        let limit = self.settings.learner_connect_timeout;
        let expired: Vec<ConnId> = self
            .parked
            .iter()
            .filter(|(_, (since, _))| since.elapsed() > limit)
            .map(|(conn, _)| *conn)
            .collect();
        for conn in expired {
            self.parked.remove(&conn);
            self.quorum.close(conn);
        }
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::PersistAcceptedEpoch(epoch) => self.write_epoch("acceptedEpoch", epoch),
            Action::PersistCurrentEpoch(epoch) => self.write_epoch("currentEpoch", epoch),
            Action::Append { zxid, payload } => {
                // The log keeps the txn alone: a ZooKeeper leader's
                // proposals carry a digest after it.
                let txn = strip_digest(&payload);
                let payload = if txn.len() == payload.len() {
                    payload
                } else {
                    payload.slice(..txn.len())
                };
                self.uncommitted.insert(zxid, payload.clone());
                let _ = self.persist.send(PersistOp::Append { zxid, payload });
            }
            Action::Flush => {
                let _ = self.persist.send(PersistOp::Flush);
            }
            Action::TruncateAfter(zxid) => self.truncate_after(zxid),
            Action::InstallSnapshot { zxid, body } => self.install_snapshot(zxid, &body),
            Action::SendElection { to, n } => {
                log::debug!(
                    "election: to {to}: {:?} leader {} zxid 0x{:x} round {} epoch {}",
                    n.state,
                    n.leader,
                    n.zxid,
                    n.election_epoch,
                    n.peer_epoch
                );
                self.election.send(to, &n)
            }
            Action::ConnectToLeader { sid } => self.connect_to_leader(sid),
            Action::Send { conn, packet } => {
                // How a learner is synced, as ZooKeeper's LearnerHandler logs it.
                let how = match crate::zab::PacketType::from_code(packet.kind) {
                    Some(crate::zab::PacketType::Diff) => Some("DIFF"),
                    Some(crate::zab::PacketType::Trunc) => Some("TRUNC"),
                    Some(crate::zab::PacketType::Snap) => Some("SNAP"),
                    _ => None,
                };
                if let Some(how) = how {
                    log::info!(
                        "syncing the learner on quorum connection {conn} by {how} (zxid 0x{:x})",
                        packet.zxid
                    );
                }
                packet.encode(self.outgoing.entry(conn).or_default());
            }
            Action::TakeSnapshot { conn } => {
                // A copy of the committed tree at this zxid (node data is
                // shared, only metadata is copied), serialized later on the
                // connection's writer thread: no body buffer, no pause.
                let started = Instant::now();
                let streamer = SnapStreamer::new(self.tree.clone());
                let zxid = streamer.zxid();
                log::info!(
                    "took the tree at 0x{zxid:x} ({} znodes) for a SNAP in {:?}",
                    self.tree.node_count(),
                    started.elapsed()
                );
                self.snap_streams.insert(conn, streamer);
                self.step(Input::Snapshot {
                    conn,
                    zxid,
                    body: Bytes::new(),
                });
            }
            Action::SendSnapBody { conn, body } => {
                let Some(mut streamer) = self.snap_streams.remove(&conn) else {
                    // Not ours to stream: written as given.
                    self.outgoing
                        .entry(conn)
                        .or_default()
                        .extend_from_slice(&body);
                    return;
                };
                // What is already queued for the connection (the SNAP
                // packet) goes first; the body streams after it; whatever
                // zab sends next queues behind the body.
                if let Some(before) = self.outgoing.remove(&conn) {
                    self.quorum.send(conn, before);
                }
                let started = Instant::now();
                self.quorum.send_stream(conn, move |out, bytes_min| {
                    let done = streamer.fill(out, bytes_min);
                    if done {
                        log::info!(
                            "sent the SNAP body at 0x{:x} on quorum connection {conn} ({} znodes) in {:?}",
                            streamer.zxid(),
                            streamer.nodes_written(),
                            started.elapsed()
                        );
                    }
                    done
                });
            }
            Action::Close { conn } => self.closing.push(conn),
            Action::Commit { zxid, payload } => self.commit(zxid, &payload),
            Action::Deliver { from, packet } => self.deliver(from, packet),
            Action::Touched(touches) => {
                if let Some(serving) = &self.serving {
                    let ids = touches.into_iter().map(|(id, _)| id).collect();
                    let _ = serving.to_sequencer.try_send(SequencerInput::Touch(ids));
                }
            }
            Action::Serve {
                role,
                epoch,
                leader,
            } => self.start_serving(role, epoch, leader),
            Action::StopServing => self.stop_serving(),
        }
    }

    fn write_epoch(&self, name: &str, epoch: i64) {
        if let Err(e) = crate::storage::epoch::write(&self.settings.epoch_dir, name, epoch) {
            // Going on would break Zab's promise to the leader: stop here,
            // as ZooKeeper does when it cannot write an epoch file.
            log::error!("cannot write an epoch file: {e}; stopping");
            std::process::exit(13);
        }
    }

    fn truncate_after(&mut self, zxid: Zxid) {
        log::info!("truncating the log after 0x{zxid:x} (TRUNC from the leader)");
        let (reply, answer) = flume::bounded(1);
        let _ = self
            .persist
            .send(PersistOp::TruncateAndReload { zxid, reply });
        let result = answer
            .recv()
            .unwrap_or_else(|_| Err("the log core is gone".to_string()));
        match result {
            Ok(tree) => {
                self.tree = tree;
                self.uncommitted.retain(|z, _| *z <= zxid);
            }
            Err(e) => {
                // ZooKeeper: "Unable to truncate Txn log", exit 13.
                log::error!("cannot truncate the transaction log: {e}; stopping");
                std::process::exit(13);
            }
        }
    }

    fn install_snapshot(&mut self, zxid: Zxid, body: &[u8]) {
        let loaded = match self.loaded_snap.take() {
            // The quorum port loaded it as it streamed in.
            Some(tree) if body.is_empty() => Ok(tree),
            _ => SnapTree::decode(&mut Reader::new(body))
                .map_err(|e| e.to_string())
                .and_then(|snap| DataTree::from_snap_tree(&snap, zxid).map_err(|e| e.to_string())),
        };
        let tree = match loaded {
            Ok(tree) => tree,
            Err(e) => {
                log::error!("the leader's SNAP at 0x{zxid:x} does not load: {e}; stopping");
                std::process::exit(13);
            }
        };
        let mut bytes = Vec::new();
        tree.serialize(&mut bytes);
        if let Err(e) = crate::storage::write_snapshot(&self.settings.snapshots.dir, zxid, &bytes) {
            log::error!("cannot write the SNAP's snapshot 0x{zxid:x}: {e}; stopping");
            std::process::exit(13);
        }
        let (reply, answer) = flume::bounded(1);
        let _ = self.persist.send(PersistOp::SnapInstalled { zxid, reply });
        if let Ok(Err(e)) = answer.recv() {
            log::error!("cannot cut the log after a SNAP at 0x{zxid:x}: {e}; stopping");
            std::process::exit(13);
        }
        log::info!(
            "installed the leader's snapshot at 0x{zxid:x} ({} znodes)",
            tree.node_count()
        );
        self.tree = tree;
        self.uncommitted.clear();
        self.zab.set_snapshot_size(bytes.len() as u64);
    }

    fn connect_to_leader(&mut self, sid: Sid) {
        match self.settings.quorum_addresses.get(&sid) {
            Some(&address) => {
                let conn = self
                    .quorum
                    .connect(address, self.settings.learner_connect_timeout);
                self.leader_conns.insert(conn);
                self.connecting.insert(conn);
            }
            None => log::warn!("no server.{sid} in the config to follow"),
        }
    }

    fn commit(&mut self, zxid: Zxid, payload: &[u8]) {
        self.uncommitted.remove(&zxid);
        if zxid <= self.tree.last_zxid() {
            return;
        }
        let txn = match Txn::decode(strip_digest(payload)) {
            Ok(txn) => Arc::new(txn),
            Err(e) => {
                log::error!("committed txn 0x{zxid:x} does not decode: {e}; stopping");
                std::process::exit(12);
            }
        };
        txn::apply(&mut self.tree, &txn);
        let Some(serving) = self.serving.as_mut() else {
            return;
        };
        serving.last_committed = zxid;
        let pending = match serving.role {
            Role::Leading => serving.by_zxid.remove(&zxid),
            _ => serving.by_request.remove(&(txn.session_id, txn.cxid)),
        };
        let (origin, request) = match pending {
            Some(p) => (p.origin, p.request),
            None => (None, None),
        };
        serving.batch.push(CommitItem::Txn {
            txn,
            origin,
            request,
        });
        serving.txns_since_snapshot += 1;
        self.release_ordered();
    }

    /// Leader: answers whose preceding txns are all committed now.
    fn release_ordered(&mut self) {
        let Some(serving) = self.serving.as_mut() else {
            return;
        };
        let mut to_learners = Vec::new();
        while let Some((after, _)) = serving.ordered.front() {
            if *after > serving.last_committed {
                break;
            }
            let (_, item) = serving.ordered.pop_front().expect("front exists");
            match item {
                CommitItem::LearnerSynced { learner } => to_learners.push(learner),
                other => serving.batch.push(other),
            }
        }
        for learner in to_learners {
            if let Some(view) = &self.shared.ensemble {
                view.pending_syncs.fetch_sub(1, Ordering::Relaxed);
            }
            self.step(Input::SendToLearner {
                sid: learner,
                packet: QuorumPacket::bare(PacketType::Sync, 0),
            });
        }
    }

    /// Leader: the sequencer's output, in order.
    fn sequenced(&mut self, items: Vec<CommitItem>) {
        for item in items {
            let Some(serving) = self.serving.as_mut() else {
                return;
            };
            match item {
                CommitItem::Txn {
                    txn,
                    origin,
                    request,
                } => {
                    let zxid = txn.zxid;
                    if origin.is_some() {
                        serving.by_zxid.insert(zxid, Pending { origin, request });
                    }
                    serving.last_proposed = zxid;
                    let mut payload = Vec::with_capacity(128);
                    txn.encode(&mut payload);
                    if let Some(view) = &self.shared.ensemble {
                        view.proposed(payload.len());
                    }
                    self.step(Input::Propose {
                        zxid,
                        payload: payload.into(),
                    });
                }
                CommitItem::Revalidated {
                    learner,
                    session_id,
                    valid,
                } => {
                    let mut data = Vec::with_capacity(9);
                    data.write_i64(session_id);
                    data.push(u8::from(valid));
                    self.step(Input::SendToLearner {
                        sid: learner,
                        packet: QuorumPacket::with_data(PacketType::Revalidate, -1, data),
                    });
                }
                other => {
                    if let CommitItem::LearnerSynced { .. } = other {
                        if let Some(view) = &self.shared.ensemble {
                            view.pending_syncs.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    let after = serving.last_proposed;
                    serving.ordered.push_back((after, other));
                    self.release_ordered();
                }
            }
        }
    }

    /// Application packets zab hands up.
    fn deliver(&mut self, from: Sid, packet: QuorumPacket) {
        let Some(serving) = self.serving.as_mut() else {
            return;
        };
        let kind = PacketType::from_code(packet.kind);
        let data = packet.data.clone().unwrap_or_default();
        match (serving.role, kind) {
            (Role::Leading, Some(PacketType::Request)) => {
                let forwarded = match ForwardedRequest::decode(&data) {
                    Ok(f) => f,
                    Err(e) => {
                        log::warn!("bad REQUEST from server {from}: {e}");
                        return;
                    }
                };
                let input = match leader_input(from, forwarded, packet.auth.unwrap_or_default()) {
                    Ok(input) => input,
                    Err(e) => {
                        log::warn!("cannot read a REQUEST from server {from}: {e}");
                        return;
                    }
                };
                // Never block the consensus thread on the sequencer: it
                // may be waiting to hand us a batch.
                if serving.to_sequencer.try_send(input).is_err() {
                    log::warn!("sequencer busy; dropping a REQUEST from server {from}");
                }
            }
            (Role::Leading, Some(PacketType::Revalidate)) => {
                match decode_revalidate_request(&data) {
                    Ok((session_id, timeout_ms)) => {
                        let _ = serving.to_sequencer.try_send(SequencerInput::Revalidate {
                            learner: from,
                            session_id,
                            timeout_ms,
                        });
                    }
                    Err(e) => log::warn!("bad REVALIDATE from server {from}: {e}"),
                }
            }
            (_, Some(PacketType::Revalidate)) => match decode_revalidate_reply(&data) {
                Ok((session_id, valid)) => {
                    let waiting = serving.revalidations.get_mut(&session_id);
                    if let Some(origin) = waiting.and_then(|w| w.pop_front()) {
                        if !valid {
                            log::info!("the leader says session 0x{session_id:x} is not alive");
                        }
                        serving
                            .batch
                            .push(CommitItem::Reconnected { origin, session_id });
                    }
                }
                Err(e) => log::warn!("bad REVALIDATE answer: {e}"),
            },
            (_, Some(PacketType::Sync)) => {
                if let Some((origin, path)) = serving.syncs.pop_front() {
                    serving.batch.push(CommitItem::Synced { origin, path });
                }
            }
            _ => log::debug!("ignoring packet type {} from {from}", packet.kind),
        }
    }

    /// Learner: a shard's request, forwarded to the leader.
    fn forward_for_shard(&mut self, request: SequencerInput) {
        let Some(serving) = self.serving.as_mut() else {
            return;
        };
        match request {
            SequencerInput::Write(write) => {
                let WriteRequest {
                    origin,
                    session_id,
                    cxid,
                    request,
                    mut auth,
                    is_super,
                    ..
                } = write;
                if let (Request::Sync { path }, Some(origin)) = (&request, origin) {
                    serving.syncs.push_back((origin, path.clone()));
                }
                let mut body = Vec::new();
                request.encode(&mut body);
                let op_code = request.op_code();
                if is_super {
                    auth.push(Id::new("super", ""));
                }
                if !matches!(request, Request::Sync { .. }) {
                    serving.by_request.insert(
                        (session_id, cxid),
                        Pending {
                            origin,
                            request: Some(request),
                        },
                    );
                }
                let mut data = Vec::with_capacity(16 + body.len());
                ForwardedRequest {
                    session_id,
                    cxid,
                    op_code,
                    body: body.into(),
                }
                .encode(&mut data);
                let mut packet = QuorumPacket::with_data(PacketType::Request, -1, data);
                packet.auth = Some(auth);
                self.step(Input::SendToLeader(packet));
            }
            SequencerInput::CreateSession { origin, timeout_ms } => {
                let session_id = self.next_session_id;
                self.next_session_id += 1;
                serving.by_request.insert(
                    (session_id, 0),
                    Pending {
                        origin: Some(origin),
                        request: None,
                    },
                );
                let mut body = Vec::with_capacity(4);
                body.write_i32(timeout_ms);
                let mut data = Vec::with_capacity(20);
                ForwardedRequest {
                    session_id,
                    cxid: 0,
                    op_code: crate::protocol::op::CREATE_SESSION,
                    body: body.into(),
                }
                .encode(&mut data);
                let mut packet = QuorumPacket::with_data(PacketType::Request, -1, data);
                packet.auth = Some(Vec::new());
                self.step(Input::SendToLeader(packet));
            }
            SequencerInput::Reconnect {
                origin,
                session_id,
                timeout_ms,
                passwd_ok,
            } => {
                if !passwd_ok {
                    // The shard refuses a wrong password itself.
                    serving
                        .batch
                        .push(CommitItem::Reconnected { origin, session_id });
                    return;
                }
                serving
                    .revalidations
                    .entry(session_id)
                    .or_default()
                    .push_back(origin);
                let mut data = Vec::with_capacity(12);
                data.write_i64(session_id);
                data.write_i32(timeout_ms);
                self.step(Input::SendToLeader(QuorumPacket::with_data(
                    PacketType::Revalidate,
                    -1,
                    data,
                )));
            }
            SequencerInput::Touch(ids) => {
                let touches = ids
                    .into_iter()
                    .filter_map(|id| self.tree.session_timeout(id).map(|t| (id, t)))
                    .collect();
                self.step(Input::Touches(touches));
            }
            // Only a leader's sequencer is asked these.
            SequencerInput::RemoteCreateSession { .. } | SequencerInput::Revalidate { .. } => {}
        }
    }

    fn start_serving(&mut self, role: Role, epoch: i64, leader: Sid) {
        self.stop_serving();
        log::info!(
            "serving as {} in epoch {epoch} (leader {leader}), at zxid 0x{:x}",
            role.mode_name(),
            self.tree.last_zxid()
        );
        let mut senders = Vec::new();
        let mut receivers = Vec::new();
        for _ in 0..self.settings.shard_count {
            let (tx, rx) = flume::bounded(COMMIT_BATCHES_PER_SHARD_CAPACITY);
            senders.push(tx);
            receivers.push(rx);
        }
        let (to_sequencer, sequencer_input) = flume::bounded(SEQUENCER_INPUT_CAPACITY);
        let (shard_input, sequencer_input) = if role == Role::Leading {
            (None, Some(sequencer_input))
        } else {
            (Some(sequencer_input), None)
        };
        let last = self.tree.last_zxid();
        self.serving = Some(Serving {
            role,
            commits: senders,
            batch: Vec::new(),
            batch_seq: 0,
            to_sequencer: to_sequencer.clone(),
            shard_input,
            by_zxid: HashMap::new(),
            by_request: HashMap::new(),
            ordered: VecDeque::new(),
            last_proposed: last,
            last_committed: last,
            syncs: VecDeque::new(),
            revalidations: HashMap::new(),
            txns_since_snapshot: 0,
        });
        if let Some(view) = &self.shared.ensemble {
            view.pending_syncs.store(0, Ordering::Relaxed);
        }
        let _ = self.events.send(ServeEvent::Start(Box::new(Period {
            role,
            epoch,
            tree: self.tree.clone(),
            commits: receivers,
            to_sequencer,
            sequencer_input,
        })));
        self.publish_status();
    }

    fn stop_serving(&mut self) {
        if self.serving.take().is_none() {
            return;
        }
        log::info!("stopped serving; looking for a leader");
        let _ = self.events.send(ServeEvent::Stop);
        // What is logged counts as ours in the next election and sync.
        let tail = std::mem::take(&mut self.uncommitted);
        for (zxid, payload) in tail {
            if zxid <= self.tree.last_zxid() {
                continue;
            }
            match Txn::decode(strip_digest(&payload)) {
                Ok(txn) => {
                    txn::apply(&mut self.tree, &txn);
                }
                Err(e) => log::error!("logged txn 0x{zxid:x} does not decode: {e}"),
            }
        }
        self.publish_status();
    }

    /// End of a loop turn: one write per connection, one batch to the shards.
    fn end_turn(&mut self) {
        for (conn, bytes) in std::mem::take(&mut self.outgoing) {
            self.quorum.send(conn, bytes);
        }
        for conn in std::mem::take(&mut self.closing) {
            self.quorum.close(conn);
        }
        let mut snapshot_due = false;
        if let Some(serving) = self.serving.as_mut() {
            if !serving.batch.is_empty() {
                serving.batch_seq += 1;
                let batch: CommitBatch = Arc::new(Batch {
                    seq: serving.batch_seq,
                    items: std::mem::take(&mut serving.batch),
                });
                for shard in &serving.commits {
                    // A shard that has stopped (the period is ending) is fine.
                    let _ = shard.send(batch.clone());
                }
            }
            if serving.txns_since_snapshot > 0 {
                let txns = std::mem::take(&mut serving.txns_since_snapshot);
                snapshot_due = self.settings.snapshots.count_txns(txns);
            }
        }
        if snapshot_due {
            self.snapshot_in_background();
        }
    }

    /// Serializes a copy of the committed tree on a short-lived thread, then
    /// rolls the log.
    fn snapshot_in_background(&self) {
        let tree = self.tree.clone();
        let dir = self.settings.snapshots.dir.clone();
        let retain = self.settings.snapshots.retain;
        let purge = self.settings.snapshots.purge;
        let persist = self.persist.clone();
        let me = self.me.clone();
        let _ = std::thread::Builder::new()
            .name("paddock-snapshot".into())
            .spawn(move || {
                let mut body = Vec::new();
                tree.serialize(&mut body);
                let zxid = tree.last_zxid();
                if let Some(purge_before) =
                    super::super::snapshot::write_snapshot_files(&dir, retain, purge, zxid, &body)
                {
                    let _ = persist.send(PersistOp::Roll { purge_before });
                    let _ = me.send(CoreInput::SnapshotWritten(body.len() as u64));
                }
            });
    }

    fn publish_status(&self) {
        if let Some(view) = &self.shared.ensemble {
            *view.status.lock().unwrap_or_else(|e| e.into_inner()) = self.zab.status();
        }
        let _ = &self.me;
    }
}

/// A PROPOSAL payload is TxnHeader + record + an optional 12-byte digest;
/// the log and the tree take the txn alone.
pub fn strip_digest(payload: &[u8]) -> &[u8] {
    match crate::zab::wire::decode_txn_payload(payload) {
        Ok((_, Some(_))) => &payload[..payload.len() - 12],
        _ => payload,
    }
}

/// Leader: what the sequencer is asked for a learner's REQUEST.
fn leader_input(
    from: Sid,
    forwarded: ForwardedRequest,
    auth: Vec<Id>,
) -> Result<SequencerInput, String> {
    use crate::protocol::op;
    let ForwardedRequest {
        session_id,
        cxid,
        op_code,
        body,
    } = forwarded;
    if op_code == op::CREATE_SESSION {
        let timeout_ms = Reader::new(&body).read_i32().map_err(|e| e.to_string())?;
        return Ok(SequencerInput::RemoteCreateSession {
            learner: from,
            session_id,
            timeout_ms,
        });
    }
    let request = if op_code == op::CLOSE_SESSION {
        Request::CloseSession
    } else {
        Request::decode(op_code, &body).map_err(|e| e.to_string())?
    };
    let is_super = auth.iter().any(|id| id.scheme == "super");
    Ok(SequencerInput::Write(WriteRequest {
        origin: None,
        session_id,
        cxid,
        request,
        auth,
        is_super,
        learner: Some(from),
    }))
}

impl EnsembleView {
    pub fn new(status: crate::zab::Status) -> EnsembleView {
        EnsembleView {
            status: std::sync::Mutex::new(status),
            pending_syncs: std::sync::atomic::AtomicU64::new(0),
            leading_since: std::sync::Mutex::new(None),
            proposal_last: std::sync::atomic::AtomicI64::new(-1),
            proposal_min: std::sync::atomic::AtomicI64::new(-1),
            proposal_max: std::sync::atomic::AtomicI64::new(-1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> EnsembleView {
        EnsembleView::new(crate::zab::Status {
            role: Role::Looking,
            leader: None,
            accepted_epoch: 0,
            current_epoch: 0,
            last_logged: 0,
            last_committed: 0,
            learners: Vec::new(),
            outstanding_proposals: 0,
            serving: false,
        })
    }

    #[test]
    fn proposal_sizes_and_uptime_belong_to_one_leadership() {
        let v = view();
        assert_eq!(v.leader_uptime_ms(), None);
        let s = v.proposal_sizes();
        assert_eq!((s.last, s.min, s.max), (-1, -1, -1));
        v.started_leading(Instant::now() - Duration::from_millis(1500));
        for bytes in [180, 36, 48] {
            v.proposed(bytes);
        }
        let s = v.proposal_sizes();
        assert_eq!((s.last, s.min, s.max), (48, 36, 180));
        assert!(v.leader_uptime_ms().is_some_and(|ms| ms >= 1500));
        v.stopped_leading();
        assert_eq!(v.leader_uptime_ms(), None);
        v.started_leading(Instant::now());
        let s = v.proposal_sizes();
        assert_eq!(
            (s.last, s.min, s.max),
            (-1, -1, -1),
            "a new leadership starts over"
        );
    }
}
