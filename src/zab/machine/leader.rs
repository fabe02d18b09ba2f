//! The leader: discovery (a new epoch from a quorum of FOLLOWERINFOs, a
//! quorum of ACKEPOCHs), sync of each learner (DIFF / TRUNC / SNAP, then
//! NEWLEADER, UPTODATE once a quorum acked NEWLEADER), broadcast (PROPOSAL,
//! ACK, COMMIT in zxid order, INFORM to observers) and liveness (PING every
//! half tick, the synced-quorum check every tick). ZooKeeper 3.8's
//! `Leader.java` and `LearnerHandler.java`, one connection per
//! [`Handler`].
use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::election::Election;
use super::{Core, Fallback, Fault};
use crate::zab::wire::{decode_touches, LearnerInfo, LEARNER_PROTOCOL_VERSION};
use crate::zab::{
    counter_of, epoch_of, make_zxid, Action, ConnId, LearnerStatus, PacketType, QuorumPacket, Role,
    Sid, Zxid,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// Waiting for a quorum of FOLLOWERINFOs to fix the new epoch.
    Discovery,
    /// LEADERINFO sent; waiting for a quorum of ACKEPOCHs.
    EpochAcks,
    /// Learners synced and sent NEWLEADER; waiting for a quorum of ACKs.
    NewLeaderAcks,
    /// Established: proposing, committing, pinging.
    Serving,
}

/// Where one learner connection is (`LearnerHandler.run`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// Connected; FOLLOWERINFO / OBSERVERINFO expected.
    AwaitInfo,
    /// Info received; the epoch is not fixed yet.
    AwaitEpoch,
    /// LEADERINFO sent; ACKEPOCH expected.
    AwaitAckEpoch,
    /// ACKEPOCH received; waiting for the quorum of them.
    AwaitEpochQuorum,
    /// SNAP chosen; waiting for the host's snapshot.
    AwaitSnapshot,
    /// Sync packets and NEWLEADER sent; its ACK expected.
    AwaitNewLeaderAck,
    /// NEWLEADER acked; waiting for the leader to be established.
    AwaitStart,
    /// UPTODATE sent: in the broadcast.
    Active,
}

struct Handler {
    sid: Option<Sid>,
    /// FOLLOWERINFO (gets PROPOSAL/COMMIT) rather than OBSERVERINFO (INFORM).
    participant: bool,
    /// A voter of the config: its ACKs count.
    voter: bool,
    stage: Stage,
    peer_zxid: Zxid,
    /// When the read now expected began, or the last packet arrived.
    heard_ms: u64,
    /// `tickOfNextAckDeadline`.
    deadline_tick: u64,
    /// Gets live proposals / commits / informs (`startForwarding` done).
    forwarding: bool,
    /// `SyncLimitCheck`, started with the NEWLEADER ACK: proposals sent
    /// and not acked yet, with when they were sent.
    unacked: Option<BTreeMap<Zxid, u64>>,
    /// The sync under way (from the choice of SNAP or DIFF/TRUNC to the
    /// NEWLEADER ACK), counted by ZooKeeper's `LearnerSyncThrottler`.
    syncing: Option<SyncKind>,
}

/// `LearnerSyncThrottler.SyncType`: a SNAP, or a DIFF / TRUNC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SyncKind {
    Snap,
    Diff,
}

impl Handler {
    /// `sendingThreadStarted`: the sync packets are queued.
    fn sending(&self) -> bool {
        self.stage >= Stage::AwaitNewLeaderAck
    }
}

struct Proposal {
    payload: Bytes,
    acks: BTreeSet<Sid>,
}

/// How a learner gets synced.
enum Plan {
    /// DIFF or TRUNC with what follows it; `last` is the zxid the packets
    /// bring the learner to.
    Packets {
        packets: Vec<QuorumPacket>,
        last: Zxid,
    },
    Snap,
}

pub(crate) struct Leader {
    phase: Phase,
    /// The epoch being established (max accepted epoch seen + 1).
    epoch: i64,
    phase_deadline_ms: u64,
    /// `leaderStateSummary`: (currentEpoch, last zxid) at the start.
    summary: (i64, Zxid),
    /// The last logged zxid at the start: the leader acks NEWLEADER itself
    /// once it is durable.
    start_logged: Zxid,
    connecting: BTreeSet<Sid>,
    electing: BTreeSet<Sid>,
    newleader_acks: BTreeSet<Sid>,
    handlers: BTreeMap<ConnId, Handler>,
    outstanding: BTreeMap<Zxid, Proposal>,
    last_proposed: Zxid,
    /// Highest zxid the leader has ACKed itself.
    self_acked: Zxid,
    tick: u64,
    tick_skip: bool,
    next_half_tick_ms: u64,
}

impl Leader {
    pub(crate) fn new(core: &Core) -> Leader {
        Leader {
            phase: Phase::Discovery,
            epoch: core.accepted_epoch + 1,
            phase_deadline_ms: core.now_ms + core.ticks_ms(core.cfg.init_limit),
            summary: (core.current_epoch, core.last_logged),
            start_logged: core.last_logged,
            connecting: BTreeSet::new(),
            electing: BTreeSet::new(),
            newleader_acks: BTreeSet::new(),
            handlers: BTreeMap::new(),
            outstanding: BTreeMap::new(),
            last_proposed: core.last_logged,
            self_acked: core.last_logged,
            tick: 0,
            tick_skip: true,
            next_half_tick_ms: 0,
        }
    }

    /// `Leader.lead` up to the first wait: I count toward my own epoch.
    pub(crate) fn start(
        &mut self,
        core: &mut Core,
        election: &mut Election,
    ) -> Result<(), Fallback> {
        if core.persisted < core.last_logged {
            core.flush();
        }
        self.connecting.insert(core.cfg.my_id);
        self.check_epoch_quorum(core, election)
    }

    pub(crate) fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    pub(crate) fn learner_status(&self, _core: &Core) -> Vec<crate::zab::LearnerStatus> {
        let mut learners: Vec<LearnerStatus> = self
            .handlers
            .values()
            .filter_map(|h| {
                Some(LearnerStatus {
                    sid: h.sid?,
                    observer: !h.participant,
                    synced: h.stage == Stage::Active && self.tick <= h.deadline_tick,
                })
            })
            .collect();
        learners.sort_by_key(|l| l.sid);
        learners
    }

    pub(crate) fn shut_down(self, core: &mut Core) {
        for &conn in self.handlers.keys() {
            core.close(conn);
        }
    }

    fn zxid0(&self) -> Zxid {
        make_zxid(self.epoch, 0)
    }

    fn drop_handler(&mut self, core: &mut Core, conn: ConnId) {
        if self.handlers.remove(&conn).is_some() {
            core.close(conn);
        }
    }

    // ------------------------------------------------------------ discovery

    /// `getEpochToPropose`: once a quorum (me included) has told its
    /// accepted epoch, the new epoch is fixed and accepted.
    fn check_epoch_quorum(
        &mut self,
        core: &mut Core,
        election: &mut Election,
    ) -> Result<(), Fallback> {
        if self.phase != Phase::Discovery || !core.is_quorum(self.connecting.iter().copied()) {
            return Ok(());
        }
        core.persist_accepted_epoch(self.epoch);
        self.last_proposed = self.zxid0();
        self.phase = Phase::EpochAcks;
        self.phase_deadline_ms = core.now_ms + core.ticks_ms(core.cfg.init_limit);
        self.electing.insert(core.cfg.my_id);
        let waiting: Vec<ConnId> = self
            .handlers
            .iter()
            .filter(|(_, h)| h.stage == Stage::AwaitEpoch)
            .map(|(&c, _)| c)
            .collect();
        for conn in waiting {
            self.send_leader_info(core, conn);
        }
        self.check_epoch_ack_quorum(core, election)
    }

    fn send_leader_info(&mut self, core: &mut Core, conn: ConnId) {
        let packet = QuorumPacket::with_data(
            PacketType::LeaderInfo,
            self.zxid0(),
            LEARNER_PROTOCOL_VERSION.to_be_bytes().to_vec(),
        );
        core.send(conn, packet);
        if let Some(h) = self.handlers.get_mut(&conn) {
            h.stage = Stage::AwaitAckEpoch;
            h.heard_ms = core.now_ms;
        }
    }

    /// `waitForEpochAck`: a quorum acked the epoch; this epoch is now mine.
    fn check_epoch_ack_quorum(
        &mut self,
        core: &mut Core,
        election: &mut Election,
    ) -> Result<(), Fallback> {
        if self.phase != Phase::EpochAcks || !core.is_quorum(self.electing.iter().copied()) {
            return Ok(());
        }
        core.persist_current_epoch(self.epoch);
        self.phase = Phase::NewLeaderAcks;
        self.phase_deadline_ms = core.now_ms + core.ticks_ms(core.cfg.init_limit);
        if core.persisted >= self.start_logged {
            self.newleader_acks.insert(core.cfg.my_id);
        }
        let waiting: Vec<ConnId> = self
            .handlers
            .iter()
            .filter(|(_, h)| h.stage == Stage::AwaitEpochQuorum)
            .map(|(&c, _)| c)
            .collect();
        for conn in waiting {
            self.sync(core, conn);
        }
        self.check_newleader_quorum(core, election)
    }

    /// `waitForNewLeaderAck`: a quorum acked NEWLEADER: serve.
    fn check_newleader_quorum(
        &mut self,
        core: &mut Core,
        election: &mut Election,
    ) -> Result<(), Fallback> {
        if self.phase != Phase::NewLeaderAcks
            || !core.is_quorum(self.newleader_acks.iter().copied())
        {
            return Ok(());
        }
        self.phase = Phase::Serving;
        election.update_vote_epoch(self.epoch);
        core.serving = true;
        core.out.push(Action::Serve {
            role: Role::Leading,
            epoch: self.epoch,
            leader: core.cfg.my_id,
        });
        self.next_half_tick_ms = core.now_ms + (core.cfg.tick_ms / 2).max(1);
        self.tick_skip = true;
        let waiting: Vec<ConnId> = self
            .handlers
            .iter()
            .filter(|(_, h)| h.stage == Stage::AwaitStart)
            .map(|(&c, _)| c)
            .collect();
        for conn in waiting {
            self.send_up_to_date(core, conn);
        }
        Ok(())
    }

    fn send_up_to_date(&mut self, core: &mut Core, conn: ConnId) {
        core.send(conn, QuorumPacket::bare(PacketType::UpToDate, -1));
        if let Some(h) = self.handlers.get_mut(&conn) {
            h.stage = Stage::Active;
        }
    }

    // ----------------------------------------------------------------- sync

    /// `syncFollower` + `queueCommittedProposals`: how to bring a learner at
    /// `peer` up to the committed history (txnlog-based sync is not done:
    /// a learner older than the in-memory window gets a SNAP).
    fn plan(&self, core: &Core, peer: Zxid) -> Plan {
        let diff = |zxid| QuorumPacket::bare(PacketType::Diff, zxid);
        let trunc = |zxid| QuorumPacket::bare(PacketType::Trunc, zxid);
        let committed = core.last_committed;
        let last_processed = if self.phase == Phase::Serving {
            committed.max(self.zxid0())
        } else {
            committed
        };
        let peer_new_epoch = counter_of(peer) == 0;
        let (min, max) = core
            .history
            .bounds_upto(committed)
            .unwrap_or((last_processed, last_processed));
        if peer == last_processed {
            return Plan::Packets {
                packets: vec![diff(peer)],
                last: peer,
            };
        }
        if peer > max && !peer_new_epoch {
            return Plan::Packets {
                packets: vec![trunc(max)],
                last: max,
            };
        }
        if !(min <= peer && peer <= max) {
            return Plan::Snap;
        }
        let mut packets = Vec::new();
        let mut need_op = true;
        let mut queued = peer;
        let mut prev = -1;
        for (zxid, payload) in core.history.upto(committed) {
            let zxid = *zxid;
            if zxid < peer {
                prev = zxid;
                continue;
            }
            if need_op {
                if zxid == peer {
                    packets.push(diff(max));
                    need_op = false;
                    continue;
                }
                if peer_new_epoch {
                    packets.push(diff(max));
                    need_op = false;
                } else if zxid > peer {
                    if epoch_of(zxid) != epoch_of(peer) {
                        // ZooKeeper never sends a TRUNC across epochs.
                        return Plan::Snap;
                    }
                    packets.push(trunc(prev));
                    need_op = false;
                }
            }
            if zxid <= queued {
                continue;
            }
            packets.push(QuorumPacket::with_data(
                PacketType::Proposal,
                zxid,
                payload.clone(),
            ));
            packets.push(QuorumPacket::bare(PacketType::Commit, zxid));
            queued = zxid;
        }
        if need_op && peer_new_epoch {
            packets.push(diff(max));
            need_op = false;
        }
        if need_op {
            return Plan::Snap;
        }
        Plan::Packets {
            packets,
            last: queued,
        }
    }

    fn sync(&mut self, core: &mut Core, conn: ConnId) {
        let Some(h) = self.handlers.get(&conn) else {
            return;
        };
        let plan = self.plan(core, h.peer_zxid);
        if !self.begin_sync(core, conn, &plan) {
            return;
        }
        match plan {
            Plan::Snap => {
                core.out.push(Action::TakeSnapshot { conn });
                if let Some(h) = self.handlers.get_mut(&conn) {
                    h.stage = Stage::AwaitSnapshot;
                }
            }
            Plan::Packets { packets, last } => {
                for packet in packets {
                    core.send(conn, packet);
                }
                self.start_forwarding(core, conn, last);
            }
        }
    }

    /// `LearnerSyncThrottler.beginSync`: at most `snap_syncs_max` SNAPs and
    /// `diff_syncs_max` DIFF/TRUNC syncs at once
    /// (`zookeeper.leader.maxConcurrentSnapSyncs` / `…DiffSyncs`,
    /// ZOOKEEPER-3437). As in ZooKeeper, followers are exempt (a quorum
    /// must be able to form) but counted; an observer over the limit is
    /// refused: its connection is closed and it tries again later. False
    /// when the learner was refused.
    fn begin_sync(&mut self, core: &mut Core, conn: ConnId, plan: &Plan) -> bool {
        let kind = match plan {
            Plan::Snap => SyncKind::Snap,
            Plan::Packets { .. } => SyncKind::Diff,
        };
        let max = match kind {
            SyncKind::Snap => core.cfg.snap_syncs_max,
            SyncKind::Diff => core.cfg.diff_syncs_max,
        };
        let in_progress = self
            .handlers
            .values()
            .filter(|h| h.syncing == Some(kind))
            .count();
        let Some(h) = self.handlers.get_mut(&conn) else {
            return false;
        };
        if !h.participant && in_progress >= max {
            self.drop_handler(core, conn);
            return false;
        }
        h.syncing = Some(kind);
        true
    }

    /// The host's snapshot for a learner being synced by SNAP.
    pub(crate) fn on_snapshot(&mut self, core: &mut Core, conn: ConnId, zxid: Zxid, body: Bytes) {
        if self.handlers.get(&conn).map(|h| h.stage) != Some(Stage::AwaitSnapshot) {
            return;
        }
        if zxid < core.last_committed && !core.history.covers_after(zxid) {
            // Committed txns after the snapshot have left the window: try a
            // newer snapshot.
            core.out.push(Action::TakeSnapshot { conn });
            return;
        }
        core.send(conn, QuorumPacket::bare(PacketType::Snap, zxid));
        core.out.push(Action::SendSnapBody { conn, body });
        let after: Vec<(Zxid, Bytes)> = core
            .history
            .range(zxid, core.last_committed)
            .cloned()
            .collect();
        for (z, payload) in after {
            core.send(
                conn,
                QuorumPacket::with_data(PacketType::Proposal, z, payload),
            );
            core.send(conn, QuorumPacket::bare(PacketType::Commit, z));
        }
        self.start_forwarding(core, conn, zxid.max(core.last_committed));
    }

    /// `startForwarding`: outstanding proposals (participants only), then
    /// the learner joins the broadcast; then NEWLEADER.
    fn start_forwarding(&mut self, core: &mut Core, conn: ConnId, last_seen: Zxid) {
        let zxid0 = self.zxid0();
        let Some(h) = self.handlers.get_mut(&conn) else {
            return;
        };
        if h.participant {
            for (&z, p) in self.outstanding.range(last_seen + 1..) {
                core.send(
                    conn,
                    QuorumPacket::with_data(PacketType::Proposal, z, p.payload.clone()),
                );
            }
        }
        h.forwarding = true;
        h.stage = Stage::AwaitNewLeaderAck;
        h.heard_ms = core.now_ms;
        let config = core.cfg.quorum_config.as_bytes().to_vec();
        core.send(
            conn,
            QuorumPacket::with_data(PacketType::NewLeader, zxid0, config),
        );
    }

    // ------------------------------------------------------------- packets

    pub(crate) fn on_connected(&mut self, core: &mut Core, conn: ConnId) {
        self.handlers.insert(
            conn,
            Handler {
                sid: None,
                participant: true,
                voter: false,
                stage: Stage::AwaitInfo,
                peer_zxid: -1,
                heard_ms: core.now_ms,
                deadline_tick: self.tick + core.cfg.init_limit + core.cfg.sync_limit,
                forwarding: false,
                unacked: None,
                syncing: None,
            },
        );
    }

    pub(crate) fn on_closed(&mut self, _core: &mut Core, conn: ConnId) -> Result<(), Fallback> {
        self.handlers.remove(&conn);
        Ok(())
    }

    pub(crate) fn on_packet(
        &mut self,
        core: &mut Core,
        election: &mut Election,
        conn: ConnId,
        packet: QuorumPacket,
    ) -> Result<(), Fallback> {
        let zxid0 = self.zxid0();
        let Some(h) = self.handlers.get_mut(&conn) else {
            return Ok(());
        };
        let kind = packet.packet_type();
        match h.stage {
            Stage::AwaitInfo => self.on_info(core, election, conn, packet),
            Stage::AwaitAckEpoch => {
                if kind != Some(PacketType::AckEpoch) {
                    self.drop_handler(core, conn);
                    return Ok(());
                }
                self.on_ack_epoch(core, election, conn, packet)
            }
            Stage::AwaitEpoch | Stage::AwaitEpochQuorum | Stage::AwaitSnapshot => Ok(()),
            Stage::AwaitNewLeaderAck => {
                if kind != Some(PacketType::Ack) {
                    self.drop_handler(core, conn);
                    return Ok(());
                }
                h.stage = Stage::AwaitStart;
                // "sync ends when NEWLEADER-ACK is received" (LearnerHandler).
                h.syncing = None;
                h.heard_ms = core.now_ms;
                h.deadline_tick = self.tick + core.cfg.sync_limit;
                h.unacked = Some(BTreeMap::new());
                if packet.zxid == zxid0 {
                    if let Some(sid) = h.sid {
                        self.newleader_acks.insert(sid);
                    }
                }
                if self.phase == Phase::Serving {
                    self.send_up_to_date(core, conn);
                    Ok(())
                } else {
                    self.check_newleader_quorum(core, election)
                }
            }
            Stage::AwaitStart | Stage::Active => {
                h.heard_ms = core.now_ms;
                h.deadline_tick = self.tick + core.cfg.sync_limit;
                let Some(sid) = h.sid else {
                    return Ok(());
                };
                match kind {
                    Some(PacketType::Ack)
                        if packet.zxid == zxid0 && self.phase == Phase::NewLeaderAcks =>
                    {
                        // A NEWLEADER ACK that came late: ZooKeeper 3.8.0
                        // followers may ACK a proposal first, which the
                        // leader takes as their (wrong) NEWLEADER ACK.
                        self.newleader_acks.insert(sid);
                        return self.check_newleader_quorum(core, election);
                    }
                    Some(PacketType::Ack) => {
                        if let Some(unacked) = h.unacked.as_mut() {
                            unacked.retain(|&z, _| z > packet.zxid);
                        }
                        self.on_ack(core, sid, packet.zxid);
                    }
                    Some(PacketType::Ping) => {
                        let data = packet.data.as_deref().unwrap_or(&[]);
                        // A malformed table is ignored, as a short read is
                        // by ZooKeeper.
                        if let Ok(touches) = decode_touches(data) {
                            if !touches.is_empty() {
                                core.out.push(Action::Touched(touches));
                            }
                        }
                    }
                    Some(PacketType::Request) | Some(PacketType::Revalidate) => {
                        core.out.push(Action::Deliver { from: sid, packet });
                    }
                    _ => {}
                }
                Ok(())
            }
        }
    }

    fn on_info(
        &mut self,
        core: &mut Core,
        election: &mut Election,
        conn: ConnId,
        packet: QuorumPacket,
    ) -> Result<(), Fallback> {
        let kind = packet.packet_type();
        let participant = match kind {
            Some(PacketType::FollowerInfo) => true,
            Some(PacketType::ObserverInfo) => false,
            _ => {
                self.drop_handler(core, conn);
                return Ok(());
            }
        };
        let info = match packet.data.as_deref().map(LearnerInfo::decode) {
            Some(Ok(info)) => info,
            _ => {
                self.drop_handler(core, conn);
                return Ok(());
            }
        };
        if info.config_version > core.qv_version {
            // "Follower is ahead of the leader (has a later activated
            // configuration)".
            self.drop_handler(core, conn);
            return Ok(());
        }
        let sid = info.server_id;
        let duplicates: Vec<ConnId> = self
            .handlers
            .iter()
            .filter(|(&c, h)| c != conn && h.sid == Some(sid))
            .map(|(&c, _)| c)
            .collect();
        for old in duplicates {
            self.drop_handler(core, old);
        }
        // A learner that registers again may be told to TRUNC the very
        // proposals it ACKed on its earlier connection: those ACKs no longer
        // say the txn is on its disk (found by the simulator, seed 5000215
        // of the 5-voter run).
        for p in self.outstanding.values_mut() {
            p.acks.remove(&sid);
        }
        let voter = core.voters.contains(&sid);
        let accepted = epoch_of(packet.zxid);
        let Some(h) = self.handlers.get_mut(&conn) else {
            return Ok(());
        };
        h.sid = Some(sid);
        h.participant = participant;
        h.voter = voter;
        h.heard_ms = core.now_ms;
        if self.phase == Phase::Discovery {
            if accepted >= self.epoch {
                self.epoch = accepted + 1;
            }
            if voter {
                self.connecting.insert(sid);
            }
            h.stage = Stage::AwaitEpoch;
            self.check_epoch_quorum(core, election)
        } else {
            self.send_leader_info(core, conn);
            Ok(())
        }
    }

    fn on_ack_epoch(
        &mut self,
        core: &mut Core,
        election: &mut Election,
        conn: ConnId,
        packet: QuorumPacket,
    ) -> Result<(), Fallback> {
        let current_epoch = match packet.data.as_deref() {
            Some(&[a, b, c, d, ..]) => i32::from_be_bytes([a, b, c, d]),
            _ => {
                self.drop_handler(core, conn);
                return Ok(());
            }
        };
        let peer = packet.zxid;
        let Some(h) = self.handlers.get_mut(&conn) else {
            return Ok(());
        };
        h.peer_zxid = peer;
        h.heard_ms = core.now_ms;
        if self.phase != Phase::EpochAcks {
            // The epoch is established: sync right away.
            self.sync(core, conn);
            return Ok(());
        }
        if current_epoch != -1 {
            if (i64::from(current_epoch), peer) > self.summary {
                // "Follower is ahead of the leader".
                self.drop_handler(core, conn);
                return Ok(());
            }
            if peer != -1 && h.voter {
                if let Some(sid) = h.sid {
                    self.electing.insert(sid);
                }
            }
        }
        h.stage = Stage::AwaitEpochQuorum;
        self.check_epoch_ack_quorum(core, election)
    }

    // ------------------------------------------------------------ broadcast

    /// A txn prepared by the serving host.
    pub(crate) fn propose(
        &mut self,
        core: &mut Core,
        zxid: Zxid,
        payload: Bytes,
    ) -> Result<(), Fallback> {
        if self.phase != Phase::Serving {
            return Ok(());
        }
        if counter_of(zxid) == 0xffff_ffff {
            // ZOOKEEPER-1277: the counter would roll over; a new epoch it is.
            return Err(format!(
                "zxid {zxid:#x}: counter rolled over, forcing re-election"
            ));
        }
        if zxid <= self.last_proposed {
            return Ok(());
        }
        core.append(zxid, payload.clone());
        self.last_proposed = zxid;
        let now = core.now_ms;
        for (&conn, h) in self.handlers.iter_mut() {
            if h.forwarding && h.participant {
                core.send(
                    conn,
                    QuorumPacket::with_data(PacketType::Proposal, zxid, payload.clone()),
                );
                if let Some(unacked) = h.unacked.as_mut() {
                    unacked.insert(zxid, now);
                }
            }
        }
        self.outstanding.insert(
            zxid,
            Proposal {
                payload,
                acks: BTreeSet::new(),
            },
        );
        core.flush();
        if core.fault(Fault::AckBeforeFlush) {
            self.on_ack(core, core.cfg.my_id, zxid);
        }
        Ok(())
    }

    pub(crate) fn on_persisted(
        &mut self,
        core: &mut Core,
        election: &mut Election,
    ) -> Result<(), Fallback> {
        match self.phase {
            Phase::NewLeaderAcks if core.persisted >= self.start_logged => {
                self.newleader_acks.insert(core.cfg.my_id);
                return self.check_newleader_quorum(core, election);
            }
            Phase::Serving if core.persisted > self.self_acked => {
                let me = core.cfg.my_id;
                let upto = core.persisted;
                for (_, p) in self.outstanding.range_mut(self.self_acked + 1..=upto) {
                    p.acks.insert(me);
                }
                self.self_acked = upto;
                self.try_commit(core);
            }
            _ => {}
        }
        Ok(())
    }

    /// `processAck`.
    fn on_ack(&mut self, core: &mut Core, sid: Sid, zxid: Zxid) {
        if counter_of(zxid) == 0 || zxid <= core.last_committed {
            return;
        }
        if let Some(p) = self.outstanding.get_mut(&zxid) {
            p.acks.insert(sid);
            self.try_commit(core);
        }
    }

    /// `tryToCommit`, strictly in zxid order.
    fn try_commit(&mut self, core: &mut Core) {
        let me = core.cfg.my_id;
        while let Some(entry) = self.outstanding.first_entry() {
            let p = entry.get();
            let ready = if core.fault(Fault::CommitWithoutQuorum) {
                p.acks.contains(&me)
            } else {
                core.is_quorum(p.acks.iter().copied())
            };
            if !ready {
                break;
            }
            let (zxid, p) = entry.remove_entry();
            for (&conn, h) in &self.handlers {
                if !h.forwarding {
                    continue;
                }
                if h.participant {
                    core.send(conn, QuorumPacket::bare(PacketType::Commit, zxid));
                } else {
                    core.send(
                        conn,
                        QuorumPacket::with_data(PacketType::Inform, zxid, p.payload.clone()),
                    );
                }
            }
            core.commit(zxid, p.payload);
        }
    }

    pub(crate) fn send_to_learner(&mut self, core: &mut Core, sid: Sid, packet: QuorumPacket) {
        if let Some((&conn, _)) = self
            .handlers
            .iter()
            .find(|(_, h)| h.sid == Some(sid) && h.sending())
        {
            core.send(conn, packet);
        }
    }

    // ------------------------------------------------------------ liveness

    pub(crate) fn on_tick(
        &mut self,
        core: &mut Core,
        _election: &mut Election,
    ) -> Result<(), Fallback> {
        let now = core.now_ms;
        if self.phase != Phase::Serving && now >= self.phase_deadline_ms {
            return Err(format!(
                "timed out in {:?} waiting for a quorum",
                self.phase
            ));
        }
        // Read timeouts: initLimit while a learner syncs, syncLimit after.
        let init_ms = core.ticks_ms(core.cfg.init_limit);
        let sync_ms = core.ticks_ms(core.cfg.sync_limit);
        let silent: Vec<ConnId> = self
            .handlers
            .iter()
            .filter(|(_, h)| match h.stage {
                Stage::AwaitInfo | Stage::AwaitAckEpoch | Stage::AwaitNewLeaderAck => {
                    now.saturating_sub(h.heard_ms) >= init_ms
                }
                Stage::Active => now.saturating_sub(h.heard_ms) >= sync_ms,
                _ => false,
            })
            .map(|(&c, _)| c)
            .collect();
        for conn in silent {
            self.drop_handler(core, conn);
        }
        if self.phase != Phase::Serving || now < self.next_half_tick_ms {
            return Ok(());
        }
        self.next_half_tick_ms = now + (core.cfg.tick_ms / 2).max(1);
        if !self.tick_skip {
            self.tick += 1;
            let mut synced: BTreeSet<Sid> = BTreeSet::new();
            synced.insert(core.cfg.my_id);
            for h in self.handlers.values() {
                if let Some(sid) = h.sid {
                    if self.tick <= h.deadline_tick {
                        synced.insert(sid);
                    }
                }
            }
            if !core.is_quorum(synced) {
                return Err("not sufficient followers synced".to_string());
            }
        }
        self.tick_skip = !self.tick_skip;
        // `LearnerHandler.ping`: the SyncLimitCheck, then a PING.
        let mut late = Vec::new();
        for (&conn, h) in &self.handlers {
            if !h.sending() {
                continue;
            }
            let oldest = h.unacked.as_ref().and_then(|u| u.values().next().copied());
            if oldest.is_some_and(|sent| now.saturating_sub(sent) >= sync_ms) {
                late.push(conn);
                continue;
            }
            core.send(
                conn,
                QuorumPacket::bare(PacketType::Ping, self.last_proposed),
            );
        }
        for conn in late {
            self.drop_handler(core, conn);
        }
        Ok(())
    }
}

#[cfg(test)]
mod throttle_tests {
    //! `LearnerSyncThrottler` as ZooKeeper 3.8 applies it: observers over
    //! the limit are refused, followers are exempt but counted, and a sync
    //! ends with its NEWLEADER ACK.
    use super::*;
    use crate::zab::{Durable, Member, ZabConfig};

    const OBSERVERS: [Sid; 3] = [4, 5, 6];

    /// An established leader (server 3) at zxid 1:50, with no DIFF
    /// history: every learner at zxid 0 needs a SNAP.
    fn established(snap_syncs_max: usize) -> (Leader, Core, Election) {
        let mut members: Vec<Member> = (1..=3)
            .map(|sid| Member {
                sid,
                observer: false,
            })
            .collect();
        members.extend(OBSERVERS.iter().map(|&sid| Member {
            sid,
            observer: true,
        }));
        let mut config = ZabConfig::new(3, members, 100, 10, 5, String::new());
        config.snap_syncs_max = snap_syncs_max;
        let durable = Durable {
            accepted_epoch: 1,
            current_epoch: 1,
            last_zxid: make_zxid(1, 50),
            history: Vec::new(),
        };
        let mut core = super::super::Zab::new(config, durable).core;
        core.accepted_epoch = 1;
        let election = Election::new(&core);
        let mut leader = Leader::new(&core);
        leader.phase = Phase::Serving;
        leader.epoch = 2;
        (leader, core, election)
    }

    /// A learner `sid` at zxid 0 whose sync the leader now decides.
    fn sync(leader: &mut Leader, core: &mut Core, conn: ConnId, sid: Sid) -> Vec<Action> {
        leader.on_connected(core, conn);
        let h = leader.handlers.get_mut(&conn).unwrap();
        h.sid = Some(sid);
        h.participant = !OBSERVERS.contains(&sid);
        h.peer_zxid = 0;
        leader.sync(core, conn);
        std::mem::take(&mut core.out)
    }

    fn snapshots(actions: &[Action]) -> usize {
        actions
            .iter()
            .filter(|a| matches!(a, Action::TakeSnapshot { .. }))
            .count()
    }

    fn closed(actions: &[Action], conn: ConnId) -> bool {
        actions
            .iter()
            .any(|a| matches!(a, Action::Close { conn: c } if *c == conn))
    }

    #[test]
    fn observers_over_the_snap_limit_are_refused_and_followers_are_not() {
        let (mut leader, mut core, mut election) = established(1);
        // The first observer's SNAP fills the limit of one.
        let first = sync(&mut leader, &mut core, 1, 4);
        assert_eq!(snapshots(&first), 1);
        // A second observer is refused: closed, no snapshot taken.
        let second = sync(&mut leader, &mut core, 2, 5);
        assert_eq!(snapshots(&second), 0);
        assert!(closed(&second, 2), "{second:?}");
        assert!(!leader.handlers.contains_key(&2));
        // A follower is exempt (a quorum must be able to form).
        let follower = sync(&mut leader, &mut core, 3, 1);
        assert_eq!(snapshots(&follower), 1);
        assert!(!closed(&follower, 3));

        // The first observer's sync ends with its NEWLEADER ACK ...
        leader.on_snapshot(&mut core, 1, make_zxid(1, 50), Bytes::new());
        let zxid0 = leader.zxid0();
        leader
            .on_packet(
                &mut core,
                &mut election,
                1,
                QuorumPacket::bare(PacketType::Ack, zxid0),
            )
            .unwrap();
        assert_eq!(leader.handlers[&1].syncing, None);
        // ... but the follower's is still counted: the next observer waits.
        core.out.clear();
        let third = sync(&mut leader, &mut core, 4, 6);
        assert!(closed(&third, 4), "the follower's SNAP still counts");
        // Once the follower's sync ends too, an observer gets its SNAP.
        leader.on_snapshot(&mut core, 3, make_zxid(1, 50), Bytes::new());
        leader
            .on_packet(
                &mut core,
                &mut election,
                3,
                QuorumPacket::bare(PacketType::Ack, zxid0),
            )
            .unwrap();
        core.out.clear();
        let fourth = sync(&mut leader, &mut core, 5, 6);
        assert_eq!(snapshots(&fourth), 1, "{fourth:?}");
    }

    #[test]
    fn a_closed_learner_frees_its_place() {
        let (mut leader, mut core, _) = established(1);
        assert_eq!(snapshots(&sync(&mut leader, &mut core, 1, 4)), 1);
        leader.on_closed(&mut core, 1).unwrap();
        assert_eq!(snapshots(&sync(&mut leader, &mut core, 2, 5)), 1);
    }

    #[test]
    fn under_the_default_limits_observers_sync_together() {
        let (mut leader, mut core, _) = established(10);
        for (conn, sid) in [(1, 4), (2, 5), (3, 6)] {
            assert_eq!(snapshots(&sync(&mut leader, &mut core, conn, sid)), 1);
        }
    }
}
