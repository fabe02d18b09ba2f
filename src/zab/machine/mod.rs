//! The consensus state machine: one [`Zab`] per server, dispatching each
//! [`Input`] to the part of the protocol the server is in.
//!
//! - `election.rs`: FastLeaderElection while LOOKING (and its replies to
//!   LOOKING peers once settled);
//! - `leader.rs`: discovery, sync and broadcast as the leader;
//! - `learner.rs`: the same phases as a follower or an observer;
//! - `history.rs`: the window of logged txns a leader syncs learners from.
//!
//! Everything durable the machine relies on (epochs, the log's last zxid,
//! what is flushed) is tracked in [`Core`], which also collects the actions
//! of one `step`.
mod election;
mod history;
mod leader;
mod learner;

#[cfg(test)]
mod backoff_tests;
#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use bytes::Bytes;

use self::election::{Decision, Election};
use self::history::History;
use self::leader::Leader;
use self::learner::Learner;
use super::wire::QuorumVerifierText;
use super::{Action, ConnId, Durable, Input, QuorumPacket, Role, Sid, Status, ZabConfig, Zxid};

/// A bug to inject on purpose, so the simulator can show it catches it.
/// Off unless [`Zab::inject_fault`] is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// Followers ACK a proposal as soon as it arrives, before it is flushed
    /// (and the leader counts its own ACK before its flush).
    AckBeforeFlush,
    /// The leader commits a proposal as soon as it has ACKed it itself,
    /// without waiting for a quorum.
    CommitWithoutQuorum,
}

/// Why a server goes back to LOOKING (kept for debugging and tests).
pub(crate) type Fallback = String;

/// The state every role shares: configuration, what is durable, the
/// history window, the clock as last told, and the actions being collected.
pub(crate) struct Core {
    pub cfg: ZabConfig,
    pub voters: BTreeSet<Sid>,
    pub i_am_voter: bool,
    /// The version of the quorum verifier this server runs (0 for a static
    /// config), sent in LearnerInfo.
    pub qv_version: i64,
    pub accepted_epoch: i64,
    pub current_epoch: i64,
    /// The last zxid appended to the log (durable or not).
    pub last_logged: Zxid,
    /// The log is durable up to here.
    pub persisted: Zxid,
    /// The last zxid the host has applied.
    pub last_committed: Zxid,
    pub history: History,
    pub now_ms: u64,
    pub election_up: BTreeSet<Sid>,
    /// Peers whose election connection has been up at some point since
    /// this process started: only one of them that is down now is known to
    /// be down (a peer never seen may just be starting, and talking to the
    /// others already).
    pub election_seen: BTreeSet<Sid>,
    pub out: Vec<Action>,
    pub faults: BTreeSet<Fault>,
    /// `Serve` was emitted and no `StopServing` since.
    pub serving: bool,
    /// The host's state or log changed since it was last rebuilt from the
    /// log (going LOOKING then needs `StopServing` so the host rebuilds).
    pub dirty: bool,
    /// Connections this machine closed: a late `QuorumClosed` for one of
    /// them means nothing.
    retired: BTreeSet<ConnId>,
    /// Failed syncs in a row as a learner, and why the last one failed.
    pub sync_failures: u32,
    pub last_sync_failure: String,
    /// The wait the current learner took before connecting, if any.
    pub sync_backoff: Option<crate::zab::SyncBackoff>,
    /// The machine's PRNG (SplitMix64), seeded by `ZabConfig::seed`.
    rng: u64,
}

/// Most closed connection ids remembered.
const RETIRED_CONNS_MAX: usize = 1024;

/// A learner's wait after its first failed sync, doubled per failure up
/// to `SYNC_BACKOFF_MAX_MS` (and to half the initLimit, so that waiting
/// never looks like a silent leader).
const SYNC_BACKOFF_BASE_MS: u64 = 100;
const SYNC_BACKOFF_MAX_MS: u64 = 5_000;

impl Core {
    /// The next number of the machine's PRNG (SplitMix64).
    pub(crate) fn random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// How long a learner waits before connecting after `failures` failed
    /// syncs in a row: 0 for none, else 100 ms · 2^(failures−1), bounded,
    /// with jitter (a uniform draw from its upper half) so that learners
    /// that failed together do not come back together.
    pub(crate) fn sync_backoff_ms(&mut self, failures: u32) -> u64 {
        if failures == 0 {
            return 0;
        }
        let max = SYNC_BACKOFF_MAX_MS
            .min(self.ticks_ms(self.cfg.init_limit) / 2)
            .max(1);
        let full = SYNC_BACKOFF_BASE_MS
            .saturating_mul(1u64 << (failures - 1).min(20))
            .min(max);
        let half = full / 2;
        half + self.random() % (full - half + 1)
    }

    pub(crate) fn is_quorum(&self, acks: impl IntoIterator<Item = Sid>) -> bool {
        let agreeing = acks
            .into_iter()
            .filter(|sid| self.voters.contains(sid))
            .collect::<BTreeSet<_>>()
            .len();
        agreeing * 2 > self.voters.len()
    }

    pub(crate) fn fault(&self, fault: Fault) -> bool {
        self.faults.contains(&fault)
    }

    pub(crate) fn send(&mut self, conn: ConnId, packet: QuorumPacket) {
        self.out.push(Action::Send { conn, packet });
    }

    pub(crate) fn close(&mut self, conn: ConnId) {
        self.out.push(Action::Close { conn });
        self.retired.insert(conn);
        while self.retired.len() > RETIRED_CONNS_MAX {
            self.retired.pop_first();
        }
    }

    /// A `QuorumClosed` for a connection this machine already closed.
    pub(crate) fn was_retired(&mut self, conn: ConnId) -> bool {
        self.retired.remove(&conn)
    }

    pub(crate) fn append(&mut self, zxid: Zxid, payload: Bytes) {
        self.history.push(zxid, payload.clone());
        self.last_logged = zxid;
        self.dirty = true;
        self.out.push(Action::Append { zxid, payload });
    }

    pub(crate) fn flush(&mut self) {
        self.out.push(Action::Flush);
    }

    pub(crate) fn commit(&mut self, zxid: Zxid, payload: Bytes) {
        self.last_committed = zxid;
        self.history.mark_committed(zxid);
        self.dirty = true;
        self.out.push(Action::Commit { zxid, payload });
    }

    pub(crate) fn truncate_after(&mut self, zxid: Zxid) {
        self.out.push(Action::TruncateAfter(zxid));
        self.history.truncate_after(zxid);
        self.last_logged = self.last_logged.min(zxid);
        self.persisted = self.persisted.min(zxid);
        self.last_committed = self.last_logged;
        self.dirty = true;
    }

    pub(crate) fn install_snapshot(&mut self, zxid: Zxid, body: Bytes) {
        self.out.push(Action::InstallSnapshot { zxid, body });
        self.history.reset_to_snapshot(zxid);
        self.last_logged = zxid;
        self.persisted = zxid;
        self.last_committed = zxid;
        self.dirty = true;
    }

    pub(crate) fn persist_accepted_epoch(&mut self, epoch: i64) {
        self.accepted_epoch = epoch;
        self.out.push(Action::PersistAcceptedEpoch(epoch));
    }

    pub(crate) fn persist_current_epoch(&mut self, epoch: i64) {
        self.current_epoch = epoch;
        self.out.push(Action::PersistCurrentEpoch(epoch));
    }

    /// `init_limit` or `sync_limit` ticks, in ms.
    pub(crate) fn ticks_ms(&self, ticks: u64) -> u64 {
        ticks.saturating_mul(self.cfg.tick_ms)
    }
}

enum Part {
    Looking,
    Leading(Box<Leader>),
    Learning(Box<Learner>),
}

pub struct Zab {
    core: Core,
    election: Election,
    part: Part,
    started: bool,
    /// Why this server went back to LOOKING, newest last (tests only).
    #[cfg(test)]
    pub(crate) fallbacks: Vec<String>,
}

impl Zab {
    /// A server that starts LOOKING from what it recovered. The first
    /// `step` should be a `Tick` with the current time.
    pub fn new(config: ZabConfig, durable: Durable) -> Zab {
        let voters: BTreeSet<Sid> = config
            .members
            .iter()
            .filter(|m| !m.observer)
            .map(|m| m.sid)
            .collect();
        let i_am_voter = voters.contains(&config.my_id);
        let qv_version = QuorumVerifierText::parse(&config.quorum_config)
            .map(|qv| qv.version)
            .unwrap_or(0);
        let history = History::new(config.history_min, config.history_limit, durable.history);
        let core = Core {
            voters,
            i_am_voter,
            qv_version,
            accepted_epoch: durable.accepted_epoch,
            current_epoch: durable.current_epoch,
            last_logged: durable.last_zxid,
            persisted: durable.last_zxid,
            last_committed: durable.last_zxid,
            history,
            now_ms: 0,
            election_up: BTreeSet::new(),
            election_seen: BTreeSet::new(),
            out: Vec::new(),
            faults: BTreeSet::new(),
            serving: false,
            dirty: false,
            retired: BTreeSet::new(),
            sync_failures: 0,
            last_sync_failure: String::new(),
            sync_backoff: None,
            rng: config.seed,
            cfg: config,
        };
        let election = Election::new(&core);
        Zab {
            core,
            election,
            part: Part::Looking,
            started: false,
            #[cfg(test)]
            fallbacks: Vec::new(),
        }
    }

    /// Turns on a deliberate bug (simulator mutation tests only).
    #[doc(hidden)]
    pub fn inject_fault(&mut self, fault: Fault) {
        self.core.faults.insert(fault);
    }

    /// Feeds one input; returns what the host must do, in order.
    pub fn step(&mut self, input: Input) -> Vec<Action> {
        if let Input::Tick { now_ms } = &input {
            self.core.now_ms = self.core.now_ms.max(*now_ms);
        }
        if !self.started {
            self.started = true;
            let decision = self.election.start(&mut self.core);
            self.decided(decision);
        }
        self.dispatch(input);
        std::mem::take(&mut self.core.out)
    }

    fn dispatch(&mut self, input: Input) {
        let core = &mut self.core;
        let result: Result<(), Fallback> = match input {
            Input::Tick { .. } => match &mut self.part {
                Part::Looking => {
                    let decision = self.election.on_tick(core);
                    self.decided(decision);
                    Ok(())
                }
                Part::Leading(leader) => leader.on_tick(core, &mut self.election),
                Part::Learning(learner) => learner.on_tick(core),
            },
            Input::ElectionUp(sid) => {
                core.election_up.insert(sid);
                core.election_seen.insert(sid);
                let decision = self.election.on_connectivity(core);
                self.decided(decision);
                Ok(())
            }
            Input::ElectionDown(sid) => {
                core.election_up.remove(&sid);
                let decision = self.election.on_connectivity(core);
                self.decided(decision);
                Ok(())
            }
            Input::Notification { from, n } => {
                let role = self.role();
                let decision = self.election.on_notification(&mut self.core, from, n, role);
                self.decided(decision);
                Ok(())
            }
            Input::QuorumConnected(conn) => match &mut self.part {
                Part::Looking => {
                    core.close(conn);
                    Ok(())
                }
                Part::Leading(leader) => {
                    leader.on_connected(core, conn);
                    Ok(())
                }
                Part::Learning(learner) => learner.on_connected(core, conn),
            },
            Input::QuorumClosed(conn) => {
                if core.was_retired(conn) {
                    Ok(())
                } else {
                    match &mut self.part {
                        Part::Looking => Ok(()),
                        Part::Leading(leader) => leader.on_closed(core, conn),
                        Part::Learning(learner) => learner.on_closed(core, conn),
                    }
                }
            }
            Input::Packet { conn, packet } => match &mut self.part {
                Part::Looking => Ok(()),
                Part::Leading(leader) => leader.on_packet(core, &mut self.election, conn, packet),
                Part::Learning(learner) => {
                    learner.on_packet(core, &mut self.election, conn, packet)
                }
            },
            Input::SnapBody { conn, body } => match &mut self.part {
                Part::Learning(learner) => learner.on_snap_body(core, conn, body),
                _ => Ok(()),
            },
            Input::Persisted(zxid) => {
                core.persisted = core.persisted.max(zxid.min(core.last_logged));
                match &mut self.part {
                    Part::Looking => Ok(()),
                    Part::Leading(leader) => leader.on_persisted(core, &mut self.election),
                    Part::Learning(learner) => learner.on_persisted(core),
                }
            }
            Input::Propose { zxid, payload } => match &mut self.part {
                Part::Leading(leader) => leader.propose(core, zxid, payload),
                _ => Ok(()),
            },
            Input::Snapshot { conn, zxid, body } => match &mut self.part {
                Part::Leading(leader) => {
                    leader.on_snapshot(core, conn, zxid, body);
                    Ok(())
                }
                _ => Ok(()),
            },
            Input::Touches(touches) => {
                if let Part::Learning(learner) = &mut self.part {
                    learner.touch(touches);
                }
                Ok(())
            }
            Input::SendToLeader(packet) => {
                if let Part::Learning(learner) = &mut self.part {
                    learner.send_to_leader(core, packet);
                }
                Ok(())
            }
            Input::SendToLearner { sid, packet } => {
                if let Part::Leading(leader) = &mut self.part {
                    leader.send_to_learner(core, sid, packet);
                }
                Ok(())
            }
        };
        if let Err(reason) = result {
            self.back_to_looking(&reason);
        }
    }

    /// The election ended: take up the role.
    fn decided(&mut self, decision: Option<Decision>) {
        let Some(decision) = decision else {
            return;
        };
        let result = match decision.role {
            Role::Leading => {
                let mut leader = Box::new(Leader::new(&self.core));
                let result = leader.start(&mut self.core, &mut self.election);
                self.part = Part::Leading(leader);
                result
            }
            Role::Following | Role::Observing => {
                let learner = Box::new(Learner::start(
                    &mut self.core,
                    decision.leader,
                    decision.role,
                ));
                self.part = Part::Learning(learner);
                Ok(())
            }
            Role::Looking => Ok(()),
        };
        if let Err(reason) = result {
            self.back_to_looking(&reason);
        }
    }

    /// Back to LOOKING: close the quorum connections, stop serving (the host
    /// rebuilds its state from the log), start a new round.
    fn back_to_looking(&mut self, reason: &str) {
        #[cfg(test)]
        self.fallbacks.push(reason.to_string());
        let _ = reason;
        let part = std::mem::replace(&mut self.part, Part::Looking);
        match part {
            Part::Looking => {}
            Part::Leading(leader) => leader.shut_down(&mut self.core),
            Part::Learning(learner) => {
                if !learner.synced() {
                    self.core.sync_failures += 1;
                    self.core.last_sync_failure = reason.to_string();
                }
                learner.shut_down(&mut self.core);
            }
        }
        if self.core.serving || self.core.dirty {
            self.core.out.push(Action::StopServing);
        }
        self.core.serving = false;
        self.core.dirty = false;
        self.core.last_committed = self.core.last_logged;
        self.core.history.mark_committed(self.core.last_logged);
        let decision = self.election.start(&mut self.core);
        self.decided(decision);
    }

    /// The host's newest snapshot has this many bytes: the DIFF window may
    /// hold `history_bytes_factor` times as much (see `history.rs`).
    pub fn set_snapshot_size(&mut self, bytes: u64) {
        let factor = self.core.cfg.history_bytes_factor;
        let budget = if factor < 0.0 {
            0
        } else {
            // As ZooKeeper: a limit that comes out as zero is no limit.
            match (bytes as f64 * factor) as usize {
                0 => usize::MAX,
                budget => budget,
            }
        };
        self.core.history.set_bytes_limit(budget);
    }

    /// Set while this learner waits before connecting because its syncs
    /// with the leader keep failing (see [`crate::zab::SyncBackoff`]).
    pub fn sync_backoff(&self) -> Option<&crate::zab::SyncBackoff> {
        self.core.sync_backoff.as_ref()
    }

    pub fn role(&self) -> Role {
        match &self.part {
            Part::Looking => Role::Looking,
            Part::Leading(_) => Role::Leading,
            Part::Learning(learner) => learner.role(),
        }
    }

    pub fn status(&self) -> Status {
        let core = &self.core;
        let (leader, learners, outstanding_proposals) = match &self.part {
            Part::Looking => (None, Vec::new(), 0),
            Part::Leading(leader) => (
                Some(core.cfg.my_id),
                leader.learner_status(core),
                leader.outstanding(),
            ),
            Part::Learning(learner) => (Some(learner.leader()), Vec::new(), 0),
        };
        Status {
            role: self.role(),
            leader,
            accepted_epoch: core.accepted_epoch,
            current_epoch: core.current_epoch,
            last_logged: core.last_logged,
            last_committed: core.last_committed,
            learners,
            outstanding_proposals,
            serving: core.serving,
        }
    }
}
