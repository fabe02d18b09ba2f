//! A follower or an observer: registration (FOLLOWERINFO / OBSERVERINFO,
//! LEADERINFO, ACKEPOCH), sync (`Learner.syncWithLeader` in ZooKeeper
//! 3.8.5's order, ZOOKEEPER-4785: the synced history is durable and
//! currentEpoch written before the NEWLEADER ACK, and no proposal is acked
//! before it), then the broadcast (`Follower.processPacket`,
//! `Observer.processPacket`).
use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use super::election::Election;
use super::{Core, Fallback, Fault};
use crate::zab::wire::{encode_touches, LearnerInfo, LEARNER_PROTOCOL_VERSION};
use crate::zab::{epoch_of, make_zxid, Action, ConnId, PacketType, QuorumPacket, Role, Sid, Zxid};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// `ConnectToLeader` emitted; waiting for the connection.
    Connecting,
    /// FOLLOWERINFO / OBSERVERINFO sent.
    AwaitLeaderInfo,
    /// ACKEPOCH sent: DIFF, TRUNC or SNAP expected.
    AwaitSyncMode,
    /// SNAP received: its inline tree expected.
    AwaitSnapBody(Zxid),
    /// Synced to the leader's mode; buffering until NEWLEADER.
    Syncing,
    /// NEWLEADER received; the history is being made durable.
    AwaitPersist,
    /// NEWLEADER acked; UPTODATE expected.
    AwaitUpToDate,
    /// Broadcast.
    Active,
}

pub(crate) struct Learner {
    leader: Sid,
    role: Role,
    conn: Option<ConnId>,
    stage: Stage,
    new_epoch: i64,
    /// When the leader was last heard from (or the current wait began).
    heard_ms: u64,
    /// PROPOSALs (and observers' INFORMs) received before NEWLEADER, not
    /// yet in the log.
    buffered: Vec<(Zxid, Bytes)>,
    /// COMMITs received before UPTODATE.
    commits: Vec<Zxid>,
    /// Logged and not committed yet, in zxid order.
    pending: VecDeque<(Zxid, Bytes)>,
    /// Proposals to ACK once durable (followers only, after UPTODATE).
    to_ack: VecDeque<Zxid>,
    /// Every proposal logged during the sync, ACKed after UPTODATE as
    /// ZooKeeper 3.8.5 does.
    synced_proposals: Vec<Zxid>,
    /// The NEWLEADER ACK waits for the log to be durable up to here.
    newleader_target: Zxid,
    /// Sessions seen alive since the last PING reply.
    touches: BTreeMap<i64, i32>,
    /// Failed connection attempts, and when to try again
    /// (`Learner.connectToLeader`: 5 tries, 100 ms apart).
    connect_tries: u32,
    retry_at_ms: Option<u64>,
}

/// `connectToLeader`'s tries and the pause between them
/// (`zookeeper.leaderConnectDelayDuringRetryMs`).
const CONNECT_TRIES_MAX: u32 = 5;
const CONNECT_RETRY_DELAY_MS: u64 = 100;

impl Learner {
    /// Connects to `leader` at once, or after a backoff when the last
    /// syncs failed (`Core::sync_backoff_ms`).
    pub(crate) fn start(core: &mut Core, leader: Sid, role: Role) -> Learner {
        let delay_ms = core.sync_backoff_ms(core.sync_failures);
        let retry_at_ms = if delay_ms == 0 {
            core.out.push(Action::ConnectToLeader { sid: leader });
            core.sync_backoff = None;
            None
        } else {
            core.sync_backoff = Some(crate::zab::SyncBackoff {
                leader,
                failures: core.sync_failures,
                delay_ms,
                reason: core.last_sync_failure.clone(),
            });
            Some(core.now_ms + delay_ms)
        };
        Learner {
            leader,
            role,
            conn: None,
            stage: Stage::Connecting,
            new_epoch: 0,
            // The leader's silence counts from when we connect.
            heard_ms: core.now_ms + delay_ms,
            buffered: Vec::new(),
            commits: Vec::new(),
            pending: VecDeque::new(),
            to_ack: VecDeque::new(),
            synced_proposals: Vec::new(),
            newleader_target: -1,
            touches: BTreeMap::new(),
            connect_tries: 0,
            retry_at_ms,
        }
    }

    /// True once UPTODATE has been received: the sync is done.
    pub(crate) fn synced(&self) -> bool {
        self.stage == Stage::Active
    }

    pub(crate) fn role(&self) -> Role {
        self.role
    }

    pub(crate) fn leader(&self) -> Sid {
        self.leader
    }

    fn observer(&self) -> bool {
        self.role == Role::Observing
    }

    pub(crate) fn shut_down(self, core: &mut Core) {
        if let Some(conn) = self.conn {
            core.close(conn);
        }
    }

    fn send(&self, core: &mut Core, packet: QuorumPacket) {
        if let Some(conn) = self.conn {
            core.send(conn, packet);
        }
    }

    pub(crate) fn on_connected(&mut self, core: &mut Core, conn: ConnId) -> Result<(), Fallback> {
        if self.stage != Stage::Connecting || self.conn.is_some() {
            core.close(conn);
            return Ok(());
        }
        self.conn = Some(conn);
        let mut data = Vec::with_capacity(20);
        LearnerInfo {
            server_id: core.cfg.my_id,
            protocol_version: LEARNER_PROTOCOL_VERSION,
            config_version: core.qv_version,
        }
        .encode(&mut data);
        let kind = if self.observer() {
            PacketType::ObserverInfo
        } else {
            PacketType::FollowerInfo
        };
        self.send(
            core,
            QuorumPacket::with_data(kind, make_zxid(core.accepted_epoch, 0), data),
        );
        self.stage = Stage::AwaitLeaderInfo;
        self.heard_ms = core.now_ms;
        Ok(())
    }

    pub(crate) fn on_closed(&mut self, core: &mut Core, conn: ConnId) -> Result<(), Fallback> {
        let failed_attempt = match self.conn {
            // Closed before the leader said anything: a server that is not
            // leading yet refuses learners (ZooKeeper's quorum port only
            // listens while leading), which is a failed attempt.
            Some(mine) if mine == conn && self.stage == Stage::AwaitLeaderInfo => true,
            Some(mine) if mine == conn => {
                return Err("the leader's connection closed".to_string());
            }
            None => self.stage == Stage::Connecting && self.retry_at_ms.is_none(),
            _ => false,
        };
        if !failed_attempt {
            return Ok(());
        }
        self.conn = None;
        self.stage = Stage::Connecting;
        self.connect_tries += 1;
        if self.connect_tries >= CONNECT_TRIES_MAX {
            return Err(format!("could not connect to leader {}", self.leader));
        }
        self.retry_at_ms = Some(core.now_ms + CONNECT_RETRY_DELAY_MS);
        Ok(())
    }

    pub(crate) fn on_tick(&mut self, core: &mut Core) -> Result<(), Fallback> {
        if self.retry_at_ms.is_some_and(|at| core.now_ms >= at) {
            self.retry_at_ms = None;
            core.out.push(Action::ConnectToLeader { sid: self.leader });
        }
        let limit = match self.stage {
            // Our own disk or the snapshot transfer: not the leader's silence.
            Stage::AwaitPersist | Stage::AwaitSnapBody(_) => return Ok(()),
            Stage::AwaitUpToDate | Stage::Active => core.cfg.sync_limit,
            _ => core.cfg.init_limit,
        };
        if core.now_ms.saturating_sub(self.heard_ms) >= core.ticks_ms(limit) {
            return Err(format!(
                "nothing from leader {} for {limit} ticks",
                self.leader
            ));
        }
        Ok(())
    }

    pub(crate) fn on_packet(
        &mut self,
        core: &mut Core,
        election: &mut Election,
        conn: ConnId,
        packet: QuorumPacket,
    ) -> Result<(), Fallback> {
        if self.conn != Some(conn) {
            return Ok(());
        }
        self.heard_ms = core.now_ms;
        let kind = packet.packet_type();
        match self.stage {
            Stage::Connecting => Ok(()),
            Stage::AwaitLeaderInfo => {
                if kind != Some(PacketType::LeaderInfo) {
                    return Err(format!("expected LEADERINFO, got type {}", packet.kind));
                }
                self.on_leader_info(core, packet.zxid)
            }
            Stage::AwaitSyncMode => match kind {
                Some(PacketType::Diff) => {
                    self.stage = Stage::Syncing;
                    Ok(())
                }
                Some(PacketType::Trunc) => {
                    core.truncate_after(packet.zxid);
                    self.stage = Stage::Syncing;
                    Ok(())
                }
                Some(PacketType::Snap) => {
                    self.stage = Stage::AwaitSnapBody(packet.zxid);
                    Ok(())
                }
                _ => Err(format!(
                    "expected DIFF, TRUNC or SNAP, got type {}",
                    packet.kind
                )),
            },
            Stage::AwaitSnapBody(_) => Err("a packet before the snapshot".to_string()),
            Stage::Syncing => {
                match kind {
                    Some(PacketType::Proposal) => self.buffered.push((packet.zxid, data(&packet))),
                    Some(PacketType::Commit) | Some(PacketType::CommitAndActivate) => {
                        self.commits.push(packet.zxid)
                    }
                    Some(PacketType::Inform) => {
                        self.buffered.push((packet.zxid, data(&packet)));
                        self.commits.push(packet.zxid);
                    }
                    Some(PacketType::NewLeader) => return self.on_new_leader(core),
                    Some(PacketType::UpToDate) => {
                        return Err("UPTODATE before NEWLEADER".to_string());
                    }
                    // No PING replies during sync.
                    _ => {}
                }
                Ok(())
            }
            Stage::AwaitPersist | Stage::AwaitUpToDate => {
                match kind {
                    Some(PacketType::Proposal) => self.log_synced(core, packet.zxid, data(&packet)),
                    Some(PacketType::Inform) => {
                        self.log_synced(core, packet.zxid, data(&packet));
                        self.commits.push(packet.zxid);
                    }
                    Some(PacketType::Commit) | Some(PacketType::CommitAndActivate) => {
                        self.commits.push(packet.zxid)
                    }
                    Some(PacketType::UpToDate) => {
                        if self.stage == Stage::AwaitPersist {
                            return Err("UPTODATE before our NEWLEADER ACK".to_string());
                        }
                        return self.on_up_to_date(core, election);
                    }
                    _ => {}
                }
                Ok(())
            }
            Stage::Active => self.on_broadcast(core, packet),
        }
    }

    fn on_leader_info(&mut self, core: &mut Core, zxid: Zxid) -> Result<(), Fallback> {
        let new_epoch = epoch_of(zxid);
        let current = if new_epoch > core.accepted_epoch {
            let current = core.current_epoch as i32;
            // acceptedEpoch is durable before ACKEPOCH leaves.
            core.persist_accepted_epoch(new_epoch);
            current
        } else if new_epoch == core.accepted_epoch {
            -1
        } else {
            return Err(format!(
                "leader epoch {new_epoch} is below our accepted epoch {}",
                core.accepted_epoch
            ));
        };
        self.new_epoch = new_epoch;
        let packet = QuorumPacket::with_data(
            PacketType::AckEpoch,
            core.last_logged,
            current.to_be_bytes().to_vec(),
        );
        self.send(core, packet);
        self.stage = Stage::AwaitSyncMode;
        Ok(())
    }

    pub(crate) fn on_snap_body(
        &mut self,
        core: &mut Core,
        conn: ConnId,
        body: Bytes,
    ) -> Result<(), Fallback> {
        if self.conn != Some(conn) {
            return Ok(());
        }
        let Stage::AwaitSnapBody(zxid) = self.stage else {
            return Err("a snapshot body without SNAP".to_string());
        };
        self.heard_ms = core.now_ms;
        core.install_snapshot(zxid, body);
        self.stage = Stage::Syncing;
        Ok(())
    }

    /// A proposal received after NEWLEADER: logged now, ACKed after UPTODATE.
    fn log_synced(&mut self, core: &mut Core, zxid: Zxid, payload: Bytes) {
        if zxid <= core.last_logged {
            return;
        }
        core.append(zxid, payload.clone());
        core.flush();
        self.pending.push_back((zxid, payload));
        self.synced_proposals.push(zxid);
    }

    /// NEWLEADER: log what was buffered, make it durable, then currentEpoch,
    /// then the ACK.
    fn on_new_leader(&mut self, core: &mut Core) -> Result<(), Fallback> {
        for (zxid, payload) in std::mem::take(&mut self.buffered) {
            if zxid <= core.last_logged {
                continue;
            }
            core.append(zxid, payload.clone());
            self.pending.push_back((zxid, payload));
            self.synced_proposals.push(zxid);
        }
        self.newleader_target = core.last_logged;
        self.stage = Stage::AwaitPersist;
        if core.persisted < self.newleader_target {
            core.flush();
            return Ok(());
        }
        self.ack_new_leader(core);
        Ok(())
    }

    fn ack_new_leader(&mut self, core: &mut Core) {
        core.persist_current_epoch(self.new_epoch);
        self.send(
            core,
            QuorumPacket::bare(PacketType::Ack, make_zxid(self.new_epoch, 0)),
        );
        self.stage = Stage::AwaitUpToDate;
        self.heard_ms = core.now_ms;
    }

    fn on_up_to_date(&mut self, core: &mut Core, election: &mut Election) -> Result<(), Fallback> {
        self.send(
            core,
            QuorumPacket::bare(PacketType::Ack, make_zxid(self.new_epoch, 0)),
        );
        self.stage = Stage::Active;
        core.sync_failures = 0;
        core.sync_backoff = None;
        election.update_vote_epoch(self.new_epoch);
        if !self.observer() {
            self.to_ack
                .extend(std::mem::take(&mut self.synced_proposals));
            self.send_acks(core);
        }
        for zxid in std::mem::take(&mut self.commits) {
            if zxid <= core.last_committed {
                continue;
            }
            self.commit_head(core, zxid)?;
        }
        core.serving = true;
        core.out.push(Action::Serve {
            role: self.role,
            epoch: self.new_epoch,
            leader: self.leader,
        });
        Ok(())
    }

    /// `FollowerZooKeeperServer.commit`: a COMMIT must be for the oldest
    /// pending proposal.
    fn commit_head(&mut self, core: &mut Core, zxid: Zxid) -> Result<(), Fallback> {
        match self.pending.front() {
            None => Ok(()), // ZooKeeper only warns
            Some(&(head, _)) if head == zxid => {
                if let Some((zxid, payload)) = self.pending.pop_front() {
                    core.commit(zxid, payload);
                }
                Ok(())
            }
            Some(&(head, _)) => Err(format!(
                "COMMIT {zxid:#x} but the next pending proposal is {head:#x}"
            )),
        }
    }

    fn send_acks(&mut self, core: &mut Core) {
        while let Some(&zxid) = self.to_ack.front() {
            if zxid > core.persisted {
                break;
            }
            self.to_ack.pop_front();
            self.send(core, QuorumPacket::bare(PacketType::Ack, zxid));
        }
    }

    pub(crate) fn on_persisted(&mut self, core: &mut Core) -> Result<(), Fallback> {
        match self.stage {
            Stage::AwaitPersist if core.persisted >= self.newleader_target => {
                self.ack_new_leader(core);
            }
            Stage::Active if !self.observer() => self.send_acks(core),
            _ => {}
        }
        Ok(())
    }

    fn on_broadcast(&mut self, core: &mut Core, packet: QuorumPacket) -> Result<(), Fallback> {
        match packet.packet_type() {
            Some(PacketType::Ping) => {
                let mut data = Vec::new();
                let touches: Vec<(i64, i32)> =
                    std::mem::take(&mut self.touches).into_iter().collect();
                encode_touches(&touches, &mut data);
                let reply = QuorumPacket {
                    kind: PacketType::Ping as i32,
                    zxid: packet.zxid,
                    data: Some(Bytes::from(data)),
                    auth: packet.auth,
                };
                self.send(core, reply);
                Ok(())
            }
            Some(PacketType::Proposal) if !self.observer() => {
                let zxid = packet.zxid;
                if zxid <= core.last_logged {
                    return Ok(());
                }
                let payload = data(&packet);
                core.append(zxid, payload.clone());
                self.pending.push_back((zxid, payload));
                if core.fault(Fault::AckBeforeFlush) {
                    self.send(core, QuorumPacket::bare(PacketType::Ack, zxid));
                } else {
                    self.to_ack.push_back(zxid);
                }
                core.flush();
                Ok(())
            }
            Some(PacketType::Commit) | Some(PacketType::CommitAndActivate) if !self.observer() => {
                self.commit_head(core, packet.zxid)
            }
            Some(PacketType::Inform) if self.observer() => {
                let zxid = packet.zxid;
                if zxid <= core.last_logged {
                    return Ok(());
                }
                let payload = data(&packet);
                core.append(zxid, payload.clone());
                core.flush();
                core.commit(zxid, payload);
                Ok(())
            }
            Some(PacketType::Sync) | Some(PacketType::Revalidate) => {
                core.out.push(Action::Deliver {
                    from: self.leader,
                    packet,
                });
                Ok(())
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn touch(&mut self, touches: Vec<(i64, i32)>) {
        self.touches.extend(touches);
    }

    pub(crate) fn send_to_leader(&mut self, core: &mut Core, packet: QuorumPacket) {
        if self.stage == Stage::Active {
            self.send(core, packet);
        }
    }
}

fn data(packet: &QuorumPacket) -> Bytes {
    packet.data.clone().unwrap_or_default()
}
