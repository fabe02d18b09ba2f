//! FastLeaderElection (ZooKeeper 3.8 `FastLeaderElection.java`): the round
//! (`logicalclock`), the proposal, `recvset` / `outofelection`, the
//! receive-side replies of `WorkerReceiver`, the finalize wait and the
//! notification resend backoff.
//!
//! Two deliberate differences. A LOOKING voter told a worse vote in its
//! own round answers the sender with its proposal at once: the sender
//! evidently missed it (typically it was still FOLLOWING when the
//! notification came, and answered it instead of keeping it), and
//! ZooKeeper would leave both waiting for a poll timeout of 200 ms or more.
//! The other, allowed by the issue: once a quorum agrees,
//! the finalize wait is skipped when every voter has voted in this round or
//! when every voter that has not is known to be down: its election
//! connection was up since this process started and is down now. A voter
//! never connected does not count as down: at a cold start it may be
//! starting and already talking to the others, and deciding without it
//! was what let two servers take LEADING at once (one then sat out
//! initLimit with no followers). When every voter has voted in this round,
//! the proposal is already the best of all their votes, so no later
//! notification can change it and the decision needs no wait.
use std::collections::BTreeMap;

use super::Core;
use crate::zab::wire::NOTIFICATION_VERSION;
use crate::zab::{Action, Notification, PeerState, Role, Sid, Zxid};

/// ZooKeeper's `Vote`, with the fields `Vote.equals` looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Vote {
    pub leader: Sid,
    pub zxid: Zxid,
    pub election_epoch: i64,
    pub peer_epoch: i64,
    pub state: PeerState,
    pub version: i32,
}

impl Vote {
    fn new(leader: Sid, zxid: Zxid, election_epoch: i64, peer_epoch: i64) -> Vote {
        Vote {
            leader,
            zxid,
            election_epoch,
            peer_epoch,
            state: PeerState::Looking,
            version: 0,
        }
    }

    /// `Vote.equals`: LOOKING votes compare id, zxid, both epochs; settled
    /// votes compare id and peer epoch, or only the id when exactly one of
    /// them has a version.
    fn same_as(&self, other: &Vote) -> bool {
        if self.state == PeerState::Looking || other.state == PeerState::Looking {
            self.leader == other.leader
                && self.zxid == other.zxid
                && self.election_epoch == other.election_epoch
                && self.peer_epoch == other.peer_epoch
        } else if (self.version > 0) ^ (other.version > 0) {
            self.leader == other.leader
        } else {
            self.leader == other.leader && self.peer_epoch == other.peer_epoch
        }
    }
}

/// What an election ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Decision {
    pub role: Role,
    pub leader: Sid,
}

/// The proposal of the current round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Proposal {
    leader: Sid,
    zxid: Zxid,
    epoch: i64,
}

/// One `lookForLeader` call.
struct Round {
    proposal: Proposal,
    recvset: BTreeMap<Sid, Vote>,
    outofelection: BTreeMap<Sid, Vote>,
    /// Current poll timeout (`notTimeout`), doubling up to the maximum.
    interval_ms: u64,
    /// When the poll times out and the notifications go out again.
    resend_at_ms: u64,
    /// A quorum agrees with the proposal: decide at this time unless a
    /// better vote arrives first.
    finalize_at_ms: Option<u64>,
}

pub(crate) struct Election {
    /// The round, in memory only.
    pub logicalclock: i64,
    /// `QuorumPeer.currentVote`: the last election's outcome (or the initial
    /// vote), what this server tells LOOKING peers once it has settled.
    pub current_vote: Vote,
    round: Option<Round>,
}

impl Election {
    pub(crate) fn new(core: &Core) -> Election {
        Election {
            logicalclock: 0,
            current_vote: Vote::new(core.cfg.my_id, core.last_logged, -1, core.current_epoch),
            round: None,
        }
    }

    /// `getInitId`, `getInitLastLoggedZxid`, `getPeerEpoch`.
    fn initial(core: &Core) -> Proposal {
        if core.i_am_voter {
            Proposal {
                leader: core.cfg.my_id,
                zxid: core.last_logged,
                epoch: core.current_epoch,
            }
        } else {
            Proposal {
                leader: i64::MIN,
                zxid: i64::MIN,
                epoch: i64::MIN,
            }
        }
    }

    /// `totalOrderPredicate`: is the new vote better than the current one?
    fn better(core: &Core, new: Proposal, cur: Proposal) -> bool {
        if !core.voters.contains(&new.leader) {
            return false; // weight 0
        }
        (new.epoch, new.zxid, new.leader) > (cur.epoch, cur.zxid, cur.leader)
    }

    /// Enters LOOKING: a new round with my initial vote, sent to every voter.
    pub(crate) fn start(&mut self, core: &mut Core) -> Option<Decision> {
        self.logicalclock += 1;
        let min = core.cfg.min_notification_interval_ms.max(1);
        self.round = Some(Round {
            proposal: Self::initial(core),
            recvset: BTreeMap::new(),
            outofelection: BTreeMap::new(),
            interval_ms: min,
            resend_at_ms: core.now_ms + min,
            finalize_at_ms: None,
        });
        self.send_notifications(core);
        self.check(core)
    }

    /// Leaves LOOKING (the outcome is in `current_vote`).
    fn finish(&mut self, decision: Decision, vote: Vote) -> Option<Decision> {
        self.current_vote = vote;
        self.round = None;
        Some(decision)
    }

    /// After sync: the vote this server hands out carries the new epoch
    /// (`updateElectionVote`).
    pub(crate) fn update_vote_epoch(&mut self, epoch: i64) {
        self.current_vote.peer_epoch = epoch;
    }

    fn notification(
        core: &Core,
        state: PeerState,
        leader: Sid,
        zxid: Zxid,
        election_epoch: i64,
        peer_epoch: i64,
    ) -> Notification {
        Notification {
            state,
            leader,
            zxid,
            election_epoch,
            peer_epoch,
            version: NOTIFICATION_VERSION,
            config: Some(core.cfg.quorum_config.clone()),
        }
    }

    /// This round's proposal as a LOOKING notification.
    fn proposal_notification(&self, core: &Core) -> Option<Notification> {
        let p = self.round.as_ref()?.proposal;
        Some(Self::notification(
            core,
            PeerState::Looking,
            p.leader,
            p.zxid,
            self.logicalclock,
            p.epoch,
        ))
    }

    /// This round's proposal to one voter.
    fn tell_proposal(&self, core: &mut Core, to: Sid) {
        if let Some(n) = self.proposal_notification(core) {
            core.out.push(Action::SendElection { to, n });
        }
    }

    /// `sendNotifications`: my proposal to every voter; my own copy goes
    /// straight into `recvset` (ZooKeeper loops it back to itself).
    fn send_notifications(&mut self, core: &mut Core) {
        let Some(n) = self.proposal_notification(core) else {
            return;
        };
        let Some(round) = self.round.as_mut() else {
            return;
        };
        let p = round.proposal;
        let my_id = core.cfg.my_id;
        for &to in &core.voters {
            if to != my_id {
                core.out.push(Action::SendElection { to, n: n.clone() });
            }
        }
        if core.i_am_voter {
            round.recvset.insert(
                my_id,
                Vote::new(p.leader, p.zxid, self.logicalclock, p.epoch),
            );
        }
    }

    /// The vote tracker over `votes` for `target`: do the agreeing voters form
    /// a quorum?
    fn has_quorum(core: &Core, votes: &BTreeMap<Sid, Vote>, target: &Vote) -> bool {
        core.is_quorum(
            votes
                .iter()
                .filter(|(_, v)| target.same_as(v))
                .map(|(&sid, _)| sid),
        )
    }

    /// `checkLeader`: the leader must have told us it leads (or be me, in
    /// this round).
    fn check_leader(
        &self,
        core: &Core,
        votes: &BTreeMap<Sid, Vote>,
        leader: Sid,
        election_epoch: i64,
    ) -> bool {
        if leader != core.cfg.my_id {
            votes
                .get(&leader)
                .is_some_and(|v| v.state == PeerState::Leading)
        } else {
            self.logicalclock == election_epoch
        }
    }

    fn role_for(core: &Core, leader: Sid) -> Role {
        if leader == core.cfg.my_id {
            Role::Leading
        } else if core.i_am_voter {
            Role::Following
        } else {
            Role::Observing
        }
    }

    /// The termination rule of the LOOKING case, with the finalize wait.
    fn check(&mut self, core: &mut Core) -> Option<Decision> {
        let round = self.round.as_mut()?;
        let p = round.proposal;
        let target = Vote::new(p.leader, p.zxid, self.logicalclock, p.epoch);
        if !Self::has_quorum(core, &round.recvset, &target) {
            round.finalize_at_ms = None;
            return None;
        }
        let everyone_heard = core.voters.iter().all(|sid| {
            round.recvset.contains_key(sid)
                || (*sid != core.cfg.my_id
                    && core.election_seen.contains(sid)
                    && !core.election_up.contains(sid))
        });
        let deadline = *round
            .finalize_at_ms
            .get_or_insert(core.now_ms + core.cfg.finalize_wait_ms);
        if everyone_heard || core.now_ms >= deadline {
            let decision = Decision {
                role: Self::role_for(core, p.leader),
                leader: p.leader,
            };
            return self.finish(decision, target);
        }
        None
    }

    /// Time passes: the finalize wait may end, or the poll times out and the
    /// notifications go out again with a doubled interval.
    pub(crate) fn on_tick(&mut self, core: &mut Core) -> Option<Decision> {
        let round = self.round.as_mut()?;
        if round.finalize_at_ms.is_some_and(|at| core.now_ms >= at) {
            return self.check(core);
        }
        if core.now_ms >= round.resend_at_ms {
            let max = core.cfg.max_notification_interval_ms.max(1);
            round.interval_ms = (round.interval_ms.saturating_mul(2)).min(max);
            round.resend_at_ms = core.now_ms + round.interval_ms;
            self.send_notifications(core);
            return self.check(core);
        }
        None
    }

    /// An election connection came or went: the early decision may apply.
    pub(crate) fn on_connectivity(&mut self, core: &mut Core) -> Option<Decision> {
        if self.round.as_ref()?.finalize_at_ms.is_some() {
            return self.check(core);
        }
        None
    }

    /// A notification arrived. `my_role` is this server's state; replies go
    /// out as `WorkerReceiver` sends them.
    pub(crate) fn on_notification(
        &mut self,
        core: &mut Core,
        from: Sid,
        n: Notification,
        my_role: Role,
    ) -> Option<Decision> {
        let my_state = my_role.peer_state();
        if !core.voters.contains(&from) {
            // A non-voter (observer): answer right away with my current vote.
            let v = self.current_vote;
            let reply = Self::notification(
                core,
                my_state,
                v.leader,
                v.zxid,
                self.logicalclock,
                v.peer_epoch,
            );
            core.out.push(Action::SendElection { to: from, n: reply });
            return None;
        }
        if self.round.is_none() {
            // A settled voter tells a LOOKING voter whom it follows. Not a
            // non-voter: voters ignore what observers say (and answer each
            // of their notifications), so its answer would only bounce.
            if n.state == PeerState::Looking && core.i_am_voter {
                let v = self.current_vote;
                let reply = Self::notification(
                    core,
                    my_state,
                    v.leader,
                    v.zxid,
                    v.election_epoch,
                    v.peer_epoch,
                );
                core.out.push(Action::SendElection { to: from, n: reply });
            }
            return None;
        }
        // A voter in an older round is told mine. Not by a non-voter: a
        // voter only answers a non-voter's notification (never counts it),
        // so that reply would bounce back and forth for as long as the
        // voter's round stays behind.
        if core.i_am_voter && n.state == PeerState::Looking && n.election_epoch < self.logicalclock
        {
            self.tell_proposal(core, from);
        }
        {
            let round = self.round.as_mut()?;
            round.resend_at_ms = core.now_ms + round.interval_ms;
        }
        if !core.voters.contains(&n.leader) {
            return None;
        }
        match n.state {
            PeerState::Looking => self.on_looking(core, from, &n),
            PeerState::Observing => None,
            PeerState::Following | PeerState::Leading => self.on_settled(core, from, &n),
        }
    }

    fn on_looking(&mut self, core: &mut Core, from: Sid, n: &Notification) -> Option<Decision> {
        let init = Self::initial(core);
        if init.zxid == -1 || n.zxid == -1 {
            return None;
        }
        let theirs = Proposal {
            leader: n.leader,
            zxid: n.zxid,
            epoch: n.peer_epoch,
        };
        let mut changed = false;
        if n.election_epoch > self.logicalclock {
            self.logicalclock = n.election_epoch;
            let round = self.round.as_mut()?;
            round.recvset.clear();
            round.proposal = if Self::better(core, theirs, init) {
                theirs
            } else {
                init
            };
            changed = true;
        } else if n.election_epoch < self.logicalclock {
            return None;
        } else if Self::better(core, theirs, self.round.as_ref()?.proposal) {
            self.round.as_mut()?.proposal = theirs;
            changed = true;
        } else if core.i_am_voter && Self::better(core, self.round.as_ref()?.proposal, theirs) {
            // The sender has not seen my better proposal (it went LOOKING
            // after my notification reached it, and a settled server does
            // not keep what it is told). ZooKeeper waits for the poll
            // timeout to resend; tell the sender now.
            self.tell_proposal(core, from);
        }
        if changed {
            self.round.as_mut()?.finalize_at_ms = None;
            self.send_notifications(core);
        }
        self.round.as_mut()?.recvset.insert(
            from,
            Vote::new(n.leader, n.zxid, n.election_epoch, n.peer_epoch),
        );
        self.check(core)
    }

    /// `receivedFollowingNotification` / `receivedLeadingNotification`:
    /// joining an ensemble that has already settled.
    fn on_settled(&mut self, core: &mut Core, from: Sid, n: &Notification) -> Option<Decision> {
        let settled = Vote {
            leader: n.leader,
            zxid: n.zxid,
            election_epoch: n.election_epoch,
            peer_epoch: n.peer_epoch,
            state: n.state,
            version: n.version,
        };
        let decision = Decision {
            role: Self::role_for(core, n.leader),
            leader: n.leader,
        };
        let end_vote = Vote::new(n.leader, n.zxid, n.election_epoch, n.peer_epoch);
        if n.election_epoch == self.logicalclock {
            let round = self.round.as_mut()?;
            // ZooKeeper stores these without a version.
            round.recvset.insert(
                from,
                Vote {
                    version: 0,
                    ..settled
                },
            );
            let votes = round.recvset.clone();
            if Self::has_quorum(core, &votes, &settled)
                && self.check_leader(core, &votes, n.leader, n.election_epoch)
            {
                return self.finish(decision, end_vote);
            }
        }
        let round = self.round.as_mut()?;
        round.outofelection.insert(from, settled);
        let votes = round.outofelection.clone();
        if Self::has_quorum(core, &votes, &settled)
            && self.check_leader(core, &votes, n.leader, n.election_epoch)
        {
            self.logicalclock = n.election_epoch;
            return self.finish(decision, end_vote);
        }
        None
    }
}
