//! The ensemble-wide records the invariants are checked against: what has
//! been committed anywhere, which server led which epoch, and which writes
//! were acknowledged to clients.

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;

use super::disk::{Entry, Replica};
use super::{Mutation, SimConfig};
use crate::zab::{Role, Sid, Zxid};

/// A broken invariant, with what is needed to replay it.
#[derive(Clone, Debug)]
pub struct Violation {
    pub seed: u64,
    pub variant: String,
    pub mutation: Option<Mutation>,
    /// The checks the run had (the replay needs the same).
    pub protocol_checks: bool,
    pub durability_checks: bool,
    pub time_ms: u64,
    pub invariant: &'static str,
    pub detail: String,
    /// The last traced steps, when the run kept a ring of them.
    pub trace_tail: Vec<String>,
}

impl Violation {
    /// The one-line command that replays this run.
    pub fn replay_command(&self) -> String {
        let mut mutation = match self.mutation {
            Some(mutation) => format!(" SIM_MUTATION={}", mutation.name()),
            None => String::new(),
        };
        if !self.protocol_checks {
            mutation.push_str(" SIM_PROTOCOL_CHECKS=0");
        }
        if !self.durability_checks {
            mutation.push_str(" SIM_DURABILITY=0");
        }
        format!(
            "SIM_SEED={} SIM_VARIANT={}{mutation} SIM_TRACE=1 cargo test --release --lib sim::tests::replay -- --nocapture",
            self.seed, self.variant
        )
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "sim: invariant '{}' broken at {} ms (seed {}, variant {}{}): {}",
            self.invariant,
            self.time_ms,
            self.seed,
            self.variant,
            self.mutation
                .map_or(String::new(), |m| format!(", mutation {}", m.name())),
            self.detail
        )?;
        writeln!(f, "replay: {}", self.replay_command())?;
        if !self.trace_tail.is_empty() {
            writeln!(f, "last {} steps:", self.trace_tail.len())?;
            for line in &self.trace_tail {
                writeln!(f, "{line}")?;
            }
        }
        Ok(())
    }
}

pub struct Checker {
    /// Every txn committed anywhere, in zxid order: the one history all
    /// committed prefixes must be prefixes of.
    committed: Vec<Entry>,
    /// Per node: how many leading entries of its state are known to equal
    /// `committed` (reset when the state is rebuilt).
    verified: Vec<usize>,
    /// Who served which epoch as leader (from any Serve, leader or learner).
    epoch_leader: BTreeMap<i64, Sid>,
    /// Epochs some server served as Leading.
    led: BTreeMap<i64, Sid>,
    /// Writes acknowledged to clients.
    acknowledged: BTreeMap<Zxid, Bytes>,
}

impl Checker {
    pub fn new(_config: &SimConfig, nodes: usize, _voters: usize) -> Checker {
        Checker {
            committed: Vec::new(),
            verified: vec![0; nodes],
            epoch_leader: BTreeMap::new(),
            led: BTreeMap::new(),
            acknowledged: BTreeMap::new(),
        }
    }

    /// The node's state was replaced (restart, truncation, snapshot).
    pub fn state_rebuilt(&mut self, node: usize, _state: &Replica) {
        self.verified[node] = 0;
    }

    /// The node committed `zxid`: its state up to `zxid` must be exactly
    /// the committed history up to `zxid` (extending it where the node is
    /// the first to commit).
    pub fn check_committed_prefix(
        &mut self,
        node: usize,
        state: &Replica,
        zxid: Zxid,
    ) -> Result<(), String> {
        let upto = state.entries.partition_point(|(z, _)| *z <= zxid);
        let start = self.verified[node].min(upto);
        self.compare(state, start, upto, zxid, true)?;
        self.verified[node] = self.verified[node].max(upto);
        Ok(())
    }

    /// A state that is not committed yet (a new leader's snapshot, sent
    /// before its epoch is established) must agree with the committed
    /// history as far as both go.
    pub fn check_consistent(&mut self, state: &Replica, zxid: Zxid) -> Result<(), String> {
        let known = self.committed.last().map_or(0, |(z, _)| *z).min(zxid);
        let upto = state.entries.partition_point(|(z, _)| *z <= known);
        self.compare(state, 0, upto, known, false)
    }

    fn compare(
        &mut self,
        state: &Replica,
        start: usize,
        upto: usize,
        zxid: Zxid,
        extend: bool,
    ) -> Result<(), String> {
        for at in start..upto {
            let entry = &state.entries[at];
            match self.committed.get(at) {
                Some(committed) if committed == entry => {}
                Some(committed) => {
                    return Err(format!(
                        "its txn #{at} is {} where the ensemble committed {}",
                        show(entry),
                        show(committed)
                    ));
                }
                None if extend => self.committed.push(entry.clone()),
                None => return Err(format!("{} is not committed", show(entry))),
            }
        }
        if let Some(next) = self.committed.get(upto) {
            if next.0 <= zxid {
                return Err(format!(
                    "its state lacks {}, committed elsewhere",
                    show(next)
                ));
            }
        }
        Ok(())
    }

    /// The ensemble's committed history so far.
    pub fn committed(&self) -> &[Entry] {
        &self.committed
    }

    /// A Serve action: one leader per epoch, ever.
    pub fn serve(&mut self, sid: Sid, role: Role, epoch: i64, leader: Sid) -> Result<(), String> {
        if let Some(known) = self.epoch_leader.get(&epoch) {
            if *known != leader {
                return Err(format!(
                    "n{sid} serves {role:?} in epoch {epoch} under n{leader}, but n{known} led that epoch"
                ));
            }
        }
        self.epoch_leader.insert(epoch, leader);
        if role == Role::Leading {
            if let Some(before) = self.led.insert(epoch, sid) {
                return Err(format!(
                    "n{sid} serves Leading in epoch {epoch} again (first: n{before})"
                ));
            }
        }
        Ok(())
    }

    pub fn acknowledge(&mut self, zxid: Zxid, payload: Bytes) {
        self.acknowledged.insert(zxid, payload);
    }

    pub fn acknowledged(&self) -> impl Iterator<Item = (&Zxid, &Bytes)> {
        self.acknowledged.iter()
    }

    pub fn acknowledged_count(&self) -> usize {
        self.acknowledged.len()
    }

    pub fn leader_count(&self) -> usize {
        self.led.len()
    }

    pub fn committed_equals(&self, entries: &[Entry]) -> bool {
        self.committed == entries
    }
}

fn show((zxid, payload): &Entry) -> String {
    match <[u8; 8]>::try_from(payload.as_ref()) {
        Ok(bytes) => format!("{zxid:#x}=op{}", u64::from_be_bytes(bytes)),
        Err(_) => format!("{zxid:#x}=[{} bytes]", payload.len()),
    }
}
