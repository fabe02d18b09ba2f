//! The simulated ensemble: nodes running the real [`Zab`], their disks, the
//! network between them, the clients and the fault schedule, driven by one
//! ordered event queue. See the module doc of `sim` for the model.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;

use bytes::Bytes;

use super::check::{Checker, Violation};
use super::disk::{Disk, Replica};
use super::rng::Rng;
use super::tcp::{segments, Decoded, ElectionReceiver, Receiver, Sent};
use super::{Counts, Mutation, Outcome, SimConfig, TraceMode};
use crate::zab::{
    epoch_of, make_zxid, Action, ConnId, Fault, Input, Member, Notification, PacketType,
    QuorumPacket, Role, Sid, Zab, ZabConfig, Zxid,
};

/// Simulated milliseconds between two `Tick`s of one node.
const TICK_INTERVAL_MS: u64 = 10;
/// Quiescence is checked this often once the faults are over.
const CHECK_INTERVAL_MS: u64 = 100;
/// Client writes go on this long after the healing, so that the final
/// leader commits some of its own.
const WRITES_AFTER_HEAL_MS: u64 = 500;
/// How often a serving leader's reach is checked.
const LEADER_WATCH_MS: u64 = 10;
/// Hard bound on steps in one run.
const STEPS_MAX: u64 = 20_000_000;
/// Steps at one simulated instant beyond which the run is a livelock (a
/// state machine and its host answering each other without time passing).
const STEPS_PER_INSTANT_MAX: u64 = 100_000;

/// One quorum-port connection end.
#[derive(Debug)]
struct ConnEnd {
    node: usize,
    peer: ConnId,
    open: bool,
    /// When the last segment sent from this end arrives at the peer (TCP
    /// order).
    tail_ms: u64,
    /// What the peer sent: the receive buffer and the real decoder.
    rx: Receiver,
}

/// The election-port connection between two servers (one per pair, as
/// QuorumCnxManager keeps only one).
#[derive(Debug, Default)]
struct ElectionLink {
    up: bool,
    /// Bumped on every up and down: messages of an older link are lost.
    generation: u64,
    /// A link-up attempt is scheduled.
    pending: bool,
}

#[derive(Debug)]
enum Event {
    Tick {
        node: usize,
        incarnation: u64,
    },
    Feed {
        node: usize,
        incarnation: u64,
        input: Input,
    },
    /// A segment of the election frames `from` wrote to `to` arrives.
    ElectionArrive {
        from: usize,
        to: usize,
        generation: u64,
        segment: Bytes,
    },
    ElectionLinkUp {
        a: usize,
        b: usize,
    },
    /// A segment of what the peer wrote (or, `None`, its FIN) reaches the
    /// receive buffer of `to`.
    QuorumArrive {
        to: ConnId,
        segment: Option<Bytes>,
    },
    /// The owner of `to` reads from its receive buffer.
    QuorumRead {
        to: ConnId,
    },
    Connect {
        node: usize,
        incarnation: u64,
        target: usize,
    },
    FlushDone {
        node: usize,
        incarnation: u64,
        generation: u64,
        length: usize,
    },
    Client,
    Fault,
    Restart {
        node: usize,
    },
    Uncut {
        links: Vec<(usize, usize)>,
    },
    SilentEnd {
        links: Vec<(usize, usize)>,
    },
    Heal,
    Check,
    /// Watch for a leader that serves without a quorum it can reach.
    LeaderWatch,
}

struct Node {
    sid: Sid,
    observer: bool,
    zab: Option<Zab>,
    incarnation: u64,
    disk: Disk,
    state: Replica,
    /// As the last `Serve` said, until `StopServing`.
    serving: Option<(Role, i64, Sid)>,
    /// Leader: the next counter to propose with, and its own proposals of
    /// this term not yet committed.
    next_counter: i64,
    proposed: BTreeMap<Zxid, Bytes>,
    /// When the last flush asked for completes (flushes complete in order).
    flush_tail_ms: u64,
    conns: BTreeSet<ConnId>,
    /// Learner: the epoch of the LEADERINFO read on each connection.
    leader_info: BTreeMap<ConnId, i64>,
    restart_pending: bool,
    /// Since when this serving leader cannot reach a quorum of voters.
    cut_off_since: Option<u64>,
    /// The last zxid committed in this incarnation (commits come in order).
    last_commit: Zxid,
}

pub struct World {
    config: SimConfig,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Event>,
    /// Separate streams so that, e.g., the fault schedule does not shift
    /// when the state machine sends one more message.
    net_rng: Rng,
    fault_rng: Rng,
    client_rng: Rng,
    disk_rng: Rng,
    /// How writes are cut into segments and reads into pieces.
    wire_rng: Rng,
    nodes: Vec<Node>,
    zab_configs: Vec<ZabConfig>,
    voters: usize,
    links: BTreeMap<(usize, usize), ElectionLink>,
    /// Per ordered pair: when the last election message sent arrives.
    election_tail_ms: Vec<Vec<u64>>,
    /// Per ordered pair: the receiving side's election stream.
    election_rx: Vec<Vec<ElectionReceiver>>,
    /// Per ordered pair: the last notification asked to be sent (resent on
    /// every reconnect, QuorumCnxManager's rule).
    last_sent: Vec<Vec<Option<Notification>>>,
    /// Cut links (unordered pairs), counted: partitions may overlap.
    cut: BTreeMap<(usize, usize), u32>,
    /// Silently partitioned links (packets dropped, no reset): until when.
    /// TCP keeps retransmitting, so what is sent arrives after that, if its
    /// connection is still open then.
    silent: BTreeMap<(usize, usize), u64>,
    /// Slow links: extra delay until a time.
    slow: BTreeMap<(usize, usize), (u64, u64)>,
    conns: BTreeMap<ConnId, ConnEnd>,
    next_conn: ConnId,
    next_op: u64,
    healed: bool,
    heal_ms: u64,
    checker: Checker,
    counts: Counts,
    steps: u64,
    /// Steps taken at the current instant.
    steps_now: u64,
    trace_hash: u64,
    trace_ring: VecDeque<String>,
}

fn pair(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

fn mix(hash: u64, value: u64) -> u64 {
    (hash ^ value)
        .wrapping_mul(0x0000_0100_0000_01b3)
        .rotate_left(17)
}

impl World {
    pub fn new(config: SimConfig) -> World {
        let mut rng = Rng::new(config.seed);
        let total = config.voters + config.observers;
        let members: Vec<Member> = (0..total)
            .map(|i| Member {
                sid: i as Sid + 1,
                observer: i >= config.voters,
            })
            .collect();
        let mut quorum_config = String::new();
        for member in &members {
            let _ = writeln!(
                quorum_config,
                "server.{}=127.0.0.{}:2888:3888:{}",
                member.sid,
                member.sid,
                if member.observer {
                    "observer"
                } else {
                    "participant"
                }
            );
        }
        quorum_config.push_str("version=0");
        let zab_configs = members
            .iter()
            .map(|member| {
                let mut zab_config = ZabConfig::new(
                    member.sid,
                    members.clone(),
                    config.tick_ms,
                    config.init_limit,
                    config.sync_limit,
                    quorum_config.clone(),
                );
                zab_config.history_limit = config.history_limit;
                // Below the count limit, so that the byte budget (set at
                // each start, see `restart`) decides the window too.
                zab_config.history_min = config.history_limit / 4;
                zab_config.finalize_wait_ms = config.finalize_wait_ms;
                zab_config.min_notification_interval_ms = config.min_notification_interval_ms;
                zab_config.max_notification_interval_ms = config.max_notification_interval_ms;
                zab_config
            })
            .collect();
        let nodes = members
            .iter()
            .map(|member| Node {
                sid: member.sid,
                observer: member.observer,
                zab: None,
                incarnation: 0,
                disk: Disk::default(),
                state: Replica::default(),
                serving: None,
                next_counter: 1,
                proposed: BTreeMap::new(),
                flush_tail_ms: 0,
                conns: BTreeSet::new(),
                leader_info: BTreeMap::new(),
                restart_pending: false,
                cut_off_since: None,
                last_commit: 0,
            })
            .collect();
        let mut links = BTreeMap::new();
        for a in 0..total {
            for b in a + 1..total {
                links.insert((a, b), ElectionLink::default());
            }
        }
        let checker = Checker::new(&config, total, config.voters);
        World {
            net_rng: rng.fork(),
            fault_rng: rng.fork(),
            client_rng: rng.fork(),
            disk_rng: rng.fork(),
            wire_rng: rng.fork(),
            voters: config.voters,
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            nodes,
            zab_configs,
            links,
            election_tail_ms: vec![vec![0; total]; total],
            election_rx: (0..total)
                .map(|_| (0..total).map(|_| ElectionReceiver::default()).collect())
                .collect(),
            last_sent: vec![vec![None; total]; total],
            cut: BTreeMap::new(),
            silent: BTreeMap::new(),
            slow: BTreeMap::new(),
            conns: BTreeMap::new(),
            next_conn: 1,
            next_op: 1,
            healed: false,
            heal_ms: config.fault_phase_ms,
            checker,
            counts: Counts::default(),
            steps: 0,
            steps_now: 0,
            trace_hash: 0,
            trace_ring: VecDeque::new(),
            config,
        }
    }

    pub fn run(mut self) -> Result<Outcome, Violation> {
        let total = self.nodes.len();
        for node in 0..total {
            let at = self.fault_rng.range(0, 50);
            self.nodes[node].restart_pending = true;
            self.schedule(at, Event::Restart { node });
        }
        let first_fault = self.fault_rng.range(100, 600);
        self.schedule(first_fault, Event::Fault);
        let first_write = self.client_rng.range(50, 200);
        self.schedule(first_write, Event::Client);
        self.schedule(self.heal_ms, Event::Heal);
        self.schedule(LEADER_WATCH_MS, Event::LeaderWatch);
        let deadline = self.heal_ms + self.config.quiesce_deadline_ms;
        while let Some(((at, _), event)) = self.queue.pop_first() {
            if at != self.now {
                self.steps_now = 0;
            }
            self.now = at;
            if self.now > deadline {
                let why = self.converged().err().unwrap_or_default();
                return Err(self.violation(
                    "liveness",
                    format!(
                        "no quiescent, identical ensemble {} ms after healing: {why}",
                        self.config.quiesce_deadline_ms
                    ),
                ));
            }
            if self.steps > STEPS_MAX {
                return Err(self.violation("liveness", format!("over {STEPS_MAX} steps")));
            }
            if self.steps_now > STEPS_PER_INSTANT_MAX {
                return Err(self.violation(
                    "liveness",
                    format!("livelock: over {STEPS_PER_INSTANT_MAX} steps at one instant"),
                ));
            }
            if let Event::Check = event {
                match self.converged() {
                    Ok(()) => return Ok(self.outcome()),
                    Err(_) => {
                        self.schedule(CHECK_INTERVAL_MS, Event::Check);
                        continue;
                    }
                }
            }
            self.handle(event)?;
        }
        Err(self.violation("liveness", "the event queue ran dry".to_string()))
    }

    fn outcome(&self) -> Outcome {
        Outcome {
            seed: self.config.seed,
            trace_hash: self.trace_hash,
            steps: self.steps,
            end_ms: self.now,
            acknowledged: self.checker.acknowledged_count(),
            leaders: self.checker.leader_count(),
            counts: Counts {
                snap_reads: self.conns.values().map(|end| end.rx.snap_reads).sum(),
                ..self.counts.clone()
            },
            proposed: self.next_op - 1,
        }
    }

    fn violation(&self, invariant: &'static str, detail: String) -> Violation {
        Violation {
            seed: self.config.seed,
            variant: self.config.variant_name(),
            mutation: self.config.mutation,
            protocol_checks: self.config.protocol_checks,
            durability_checks: self.config.durability_checks,
            time_ms: self.now,
            invariant,
            detail,
            trace_tail: self.trace_ring.iter().cloned().collect(),
        }
    }

    fn schedule(&mut self, delay_ms: u64, event: Event) {
        self.seq += 1;
        self.queue.insert((self.now + delay_ms, self.seq), event);
    }

    fn alive(&self, node: usize) -> bool {
        self.nodes[node].zab.is_some()
    }

    fn is_cut(&self, a: usize, b: usize) -> bool {
        self.cut.get(&pair(a, b)).is_some_and(|count| *count > 0)
    }

    fn silent_until(&self, a: usize, b: usize) -> Option<u64> {
        self.silent
            .get(&pair(a, b))
            .copied()
            .filter(|until| *until > self.now)
    }

    fn index_of(&self, sid: Sid) -> Option<usize> {
        self.nodes.iter().position(|node| node.sid == sid)
    }

    /// A message's delay on the link a → b: mostly a few ms, sometimes a
    /// long stall, more while the link is slow.
    fn delay(&mut self, a: usize, b: usize) -> u64 {
        let mut delay = if self.net_rng.chance(3) {
            self.net_rng.range(20, 150)
        } else {
            self.net_rng.range(1, 8)
        };
        if let Some((until, extra)) = self.slow.get(&pair(a, b)) {
            if *until > self.now {
                delay += extra;
            }
        }
        if let Some(until) = self.silent_until(a, b) {
            delay += until - self.now;
        }
        delay
    }

    // ------------------------------------------------------------ events

    fn handle(&mut self, event: Event) -> Result<(), Violation> {
        match event {
            Event::Tick { node, incarnation } => {
                if self.nodes[node].incarnation == incarnation && self.alive(node) {
                    self.schedule(TICK_INTERVAL_MS, Event::Tick { node, incarnation });
                    let now_ms = self.now;
                    self.feed(node, Input::Tick { now_ms })?;
                }
            }
            Event::Feed {
                node,
                incarnation,
                input,
            } => {
                if self.nodes[node].incarnation == incarnation && self.alive(node) {
                    self.feed(node, input)?;
                }
            }
            Event::ElectionArrive {
                from,
                to,
                generation,
                segment,
            } => self.election_arrive(from, to, generation, segment)?,
            Event::ElectionLinkUp { a, b } => self.election_link_up(a, b)?,
            Event::QuorumArrive { to, segment } => self.quorum_arrive(to, segment),
            Event::QuorumRead { to } => self.quorum_read(to)?,
            Event::Connect {
                node,
                incarnation,
                target,
            } => {
                if self.nodes[node].incarnation == incarnation && self.alive(node) {
                    self.connect(node, target)?;
                }
            }
            Event::FlushDone {
                node,
                incarnation,
                generation,
                length,
            } => {
                if self.nodes[node].incarnation == incarnation && self.alive(node) {
                    let disk = &mut self.nodes[node].disk;
                    disk.flush_done(generation, length);
                    let zxid = disk.durable_zxid();
                    self.feed(node, Input::Persisted(zxid))?;
                }
            }
            Event::Client => self.client_write()?,
            Event::Fault => self.fault()?,
            Event::Restart { node } => self.restart(node)?,
            Event::Uncut { links } => {
                for (a, b) in links {
                    if let Some(count) = self.cut.get_mut(&(a, b)) {
                        *count = count.saturating_sub(1);
                    }
                    self.refresh_link(a, b)?;
                }
            }
            Event::SilentEnd { links } => {
                for (a, b) in links {
                    self.refresh_link(a, b)?;
                }
            }
            Event::Heal => self.heal()?,
            Event::Check => {}
            Event::LeaderWatch => self.leader_watch()?,
        }
        Ok(())
    }

    /// One step of one node's state machine, the host's actions, and the
    /// invariants.
    fn feed(&mut self, node: usize, input: Input) -> Result<(), Violation> {
        let Some(zab) = self.nodes[node].zab.as_mut() else {
            return Ok(());
        };
        let traced = self.config.trace != TraceMode::Off;
        let input_text = traced.then(|| format_input(&input));
        let kind = input_kind(&input);
        let actions = zab.step(input);
        self.steps += 1;
        self.steps_now += 1;
        self.trace_hash = mix(mix(mix(self.trace_hash, self.now), node as u64), kind);
        self.trace_hash = mix(self.trace_hash, actions.len() as u64);
        if let Some(input_text) = input_text {
            let mut line = format!(
                "{:>7}ms n{} <- {}",
                self.now, self.nodes[node].sid, input_text
            );
            for action in &actions {
                line.push_str("\n            -> ");
                line.push_str(&format_action(action));
            }
            self.trace_hash = mix(self.trace_hash, fnv(line.as_bytes()));
            match self.config.trace {
                TraceMode::Print => println!("{line}"),
                TraceMode::Ring(capacity) => {
                    if self.trace_ring.len() >= capacity {
                        self.trace_ring.pop_front();
                    }
                    self.trace_ring.push_back(line);
                }
                _ => {}
            }
        }
        for action in actions {
            self.act(node, action)?;
        }
        if let Some(zab) = self.nodes[node].zab.as_ref() {
            let status = zab.status();
            if status.accepted_epoch < status.current_epoch {
                return Err(self.violation(
                    "epochs",
                    format!(
                        "n{}: status acceptedEpoch {} < currentEpoch {}",
                        self.nodes[node].sid, status.accepted_epoch, status.current_epoch
                    ),
                ));
            }
        }
        Ok(())
    }

    fn act(&mut self, node: usize, action: Action) -> Result<(), Violation> {
        let sid = self.nodes[node].sid;
        match action {
            Action::PersistAcceptedEpoch(epoch) => {
                let disk = &mut self.nodes[node].disk;
                if epoch < disk.accepted_epoch || epoch < disk.current_epoch {
                    let detail = format!(
                        "n{sid}: acceptedEpoch {epoch} written over accepted {} / current {}",
                        disk.accepted_epoch, disk.current_epoch
                    );
                    return Err(self.violation("epochs", detail));
                }
                disk.accepted_epoch = epoch;
            }
            Action::PersistCurrentEpoch(epoch) => {
                let disk = &mut self.nodes[node].disk;
                if epoch > disk.accepted_epoch || epoch < disk.current_epoch {
                    let detail = format!(
                        "n{sid}: currentEpoch {epoch} written with accepted {} / current {}",
                        disk.accepted_epoch, disk.current_epoch
                    );
                    return Err(self.violation("epochs", detail));
                }
                disk.current_epoch = epoch;
            }
            Action::Append { zxid, payload } => {
                if let Err(why) = self.nodes[node].disk.append(zxid, payload) {
                    return Err(self.violation("log order", format!("n{sid}: {why}")));
                }
            }
            Action::Flush => {
                let (generation, length) = self.nodes[node].disk.flush_point();
                let delay = if self.disk_rng.chance(5) {
                    self.disk_rng.range(20, 80)
                } else {
                    self.disk_rng.range(1, 6)
                };
                let at = (self.now + delay).max(self.nodes[node].flush_tail_ms);
                self.nodes[node].flush_tail_ms = at;
                let incarnation = self.nodes[node].incarnation;
                self.schedule(
                    at - self.now,
                    Event::FlushDone {
                        node,
                        incarnation,
                        generation,
                        length,
                    },
                );
            }
            Action::TruncateAfter(zxid) => {
                let Node { disk, state, .. } = &mut self.nodes[node];
                disk.truncate_after(zxid);
                *state = disk.recover_state();
                self.checker.state_rebuilt(node, state);
                self.recheck_acknowledged()?;
                self.check_committed_durable(0, &format!("n{sid} TruncateAfter({zxid:#x})"))?;
            }
            Action::InstallSnapshot { zxid, body } => {
                let entries = match Replica::decode(&body) {
                    Ok(entries) => entries,
                    Err(why) => {
                        return Err(self.violation("snapshot", format!("n{sid}: {why}")));
                    }
                };
                if entries.last().is_some_and(|(last, _)| *last > zxid) {
                    return Err(self.violation(
                        "snapshot",
                        format!("n{sid}: snapshot at {zxid:#x} holds later txns"),
                    ));
                }
                let Node { disk, state, .. } = &mut self.nodes[node];
                disk.install_snapshot(zxid, entries.clone());
                *state = Replica {
                    entries,
                    applied: zxid,
                };
                self.checker.state_rebuilt(node, state);
                let state = &self.nodes[node].state;
                if let Err(why) = self.checker.check_consistent(state, zxid) {
                    return Err(self.violation(
                        "committed prefix",
                        format!("n{sid}: installed snapshot at {zxid:#x}: {why}"),
                    ));
                }
                self.recheck_acknowledged()?;
                self.check_committed_durable(0, &format!("n{sid} InstallSnapshot({zxid:#x})"))?;
            }
            Action::SendElection { to, n } => {
                let Some(to) = self.index_of(to) else {
                    return Ok(());
                };
                self.last_sent[node][to] = Some(n.clone());
                self.send_election(node, to, n);
            }
            Action::ConnectToLeader { sid: leader } => {
                let incarnation = self.nodes[node].incarnation;
                let delay = self.net_rng.range(1, 5);
                match self.index_of(leader) {
                    Some(target) if target != node => self.schedule(
                        delay,
                        Event::Connect {
                            node,
                            incarnation,
                            target,
                        },
                    ),
                    _ => {
                        let conn = self.new_conn_id();
                        self.schedule(
                            delay,
                            Event::Feed {
                                node,
                                incarnation,
                                input: Input::QuorumClosed(conn),
                            },
                        );
                    }
                }
            }
            Action::Send { conn, packet } => {
                if self.config.protocol_checks {
                    self.check_send(node, conn, &packet)?;
                }
                let data_bytes = packet.data.as_ref().map_or(0, |data| data.len());
                let mut bytes = Vec::with_capacity(24 + data_bytes);
                packet.encode(&mut bytes);
                self.quorum_send(node, conn, Some((bytes.into(), Sent::Packet(packet))));
            }
            Action::SendSnapBody { conn, body } => {
                // Written right after its SNAP packet, as the server does.
                self.quorum_send(node, conn, Some((body.clone(), Sent::SnapBody(body))));
            }
            Action::TakeSnapshot { conn } => {
                let state = &self.nodes[node].state;
                let input = Input::Snapshot {
                    conn,
                    zxid: state.applied,
                    body: state.encode(),
                };
                let incarnation = self.nodes[node].incarnation;
                self.schedule(
                    0,
                    Event::Feed {
                        node,
                        incarnation,
                        input,
                    },
                );
            }
            Action::Close { conn } => {
                if self
                    .conns
                    .get(&conn)
                    .is_some_and(|end| end.node == node && end.open)
                {
                    self.quorum_send(node, conn, None);
                    if let Some(end) = self.conns.get_mut(&conn) {
                        end.open = false;
                        end.rx.discard();
                    }
                    self.nodes[node].conns.remove(&conn);
                }
            }
            Action::Commit { zxid, payload } => self.commit(node, zxid, payload)?,
            Action::Deliver { .. } | Action::Touched(_) => {}
            Action::Serve {
                role,
                epoch,
                leader,
            } => self.serve(node, role, epoch, leader)?,
            Action::StopServing => {
                // Back to LOOKING: as ZooKeeper's `fastForwardDataBase`, the
                // host's state becomes snapshot + the whole log (what the
                // state machine assumes: last committed = last logged).
                let Node {
                    serving,
                    proposed,
                    disk,
                    state,
                    ..
                } = &mut self.nodes[node];
                *serving = None;
                proposed.clear();
                *state = disk.recover_state();
                self.checker.state_rebuilt(node, state);
            }
        }
        Ok(())
    }

    fn commit(&mut self, node: usize, zxid: Zxid, payload: Bytes) -> Result<(), Violation> {
        let sid = self.nodes[node].sid;
        let last_commit = self.nodes[node].last_commit;
        if zxid <= last_commit {
            return Err(self.violation(
                "commit order",
                format!("n{sid}: Commit {zxid:#x} after Commit {last_commit:#x}"),
            ));
        }
        self.nodes[node].last_commit = zxid;
        let state = &mut self.nodes[node].state;
        if zxid > state.applied {
            state.entries.push((zxid, payload.clone()));
            state.applied = zxid;
        } else if state.get(zxid) != Some(&payload) {
            let detail = format!(
                "n{sid}: Commit {zxid:#x} = {} but the state (at {:#x}) has {}",
                show_payload(&payload),
                state.applied,
                state.get(zxid).map_or("nothing".to_string(), show_payload)
            );
            return Err(self.violation("committed prefix", detail));
        }
        let state = &self.nodes[node].state;
        let committed_before = self.checker.committed().len();
        if let Err(why) = self.checker.check_committed_prefix(node, state, zxid) {
            return Err(self.violation(
                "committed prefix",
                format!("n{sid}: Commit {zxid:#x}: {why}"),
            ));
        }
        let leading = matches!(self.nodes[node].serving, Some((Role::Leading, _, _)));
        if leading {
            if let Some(proposed) = self.nodes[node].proposed.remove(&zxid) {
                if proposed != payload {
                    return Err(self.violation(
                        "committed prefix",
                        format!(
                            "n{sid}: leader proposed {} at {zxid:#x} and committed {}",
                            show_payload(&proposed),
                            show_payload(&payload)
                        ),
                    ));
                }
                let holders = self.durable_holders(zxid, &payload);
                let quorum = self.voters / 2 + 1;
                if self.config.durability_checks && holders.len() < quorum {
                    return Err(self.violation(
                        "acknowledged durable on a quorum",
                        format!(
                            "n{sid} acknowledged {zxid:#x} = {} to its client, durable only on {holders:?} (quorum {quorum})",
                            show_payload(&payload)
                        ),
                    ));
                }
                self.checker.acknowledge(zxid, payload);
            }
        }
        self.check_committed_durable(committed_before, &format!("n{sid} Commit {zxid:#x}"))
    }

    /// Every committed txn from `from` on is durable on a quorum of voters
    /// (a leader commits only what a quorum has flushed, and nothing may
    /// undo that).
    fn check_committed_durable(&self, from: usize, context: &str) -> Result<(), Violation> {
        if !self.config.durability_checks {
            return Ok(());
        }
        let quorum = self.voters / 2 + 1;
        for (zxid, payload) in self.checker.committed().get(from..).unwrap_or_default() {
            let holders = self.durable_holders(*zxid, payload);
            if holders.len() < quorum {
                return Err(self.violation(
                    "committed durable on a quorum",
                    format!(
                        "after {context}: committed {zxid:#x} = {} is durable only on {holders:?} (quorum {quorum})",
                        show_payload(payload)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The sids of voters on whose disk this txn survives a crash.
    fn durable_holders(&self, zxid: Zxid, payload: &Bytes) -> Vec<Sid> {
        self.nodes
            .iter()
            .filter(|node| !node.observer && node.disk.durably_has(zxid, payload))
            .map(|node| node.sid)
            .collect()
    }

    /// Every acknowledged txn is still durable on a quorum.
    fn recheck_acknowledged(&self) -> Result<(), Violation> {
        if !self.config.durability_checks {
            return Ok(());
        }
        let quorum = self.voters / 2 + 1;
        for (zxid, payload) in self.checker.acknowledged() {
            let holders = self.durable_holders(*zxid, payload);
            if holders.len() < quorum {
                return Err(self.violation(
                    "acknowledged never lost",
                    format!(
                        "acknowledged {zxid:#x} = {} is now durable only on {holders:?}",
                        show_payload(payload)
                    ),
                ));
            }
        }
        Ok(())
    }

    fn serve(&mut self, node: usize, role: Role, epoch: i64, leader: Sid) -> Result<(), Violation> {
        let sid = self.nodes[node].sid;
        let observer = self.nodes[node].observer;
        let fitting = match role {
            Role::Leading => !observer && leader == sid,
            Role::Following => !observer && leader != sid,
            Role::Observing => observer && leader != sid,
            Role::Looking => false,
        };
        if !fitting {
            return Err(self.violation(
                "one leader per epoch",
                format!(
                    "n{sid} (observer: {observer}) serves {role:?} epoch {epoch} under n{leader}"
                ),
            ));
        }
        if let Err(why) = self.checker.serve(sid, role, epoch, leader) {
            return Err(self.violation("one leader per epoch", why));
        }
        if self.config.protocol_checks && self.nodes[node].disk.current_epoch != epoch {
            return Err(self.violation(
                "persistence order",
                format!(
                    "n{sid} serves epoch {epoch} with currentEpoch file {}",
                    self.nodes[node].disk.current_epoch
                ),
            ));
        }
        if role == Role::Leading {
            for (zxid, payload) in self.checker.acknowledged() {
                if !self.nodes[node].disk.has(*zxid, payload) {
                    return Err(self.violation(
                        "acknowledged never lost",
                        format!(
                            "n{sid} leads epoch {epoch} without acknowledged {zxid:#x} = {}",
                            show_payload(payload)
                        ),
                    ));
                }
            }
        }
        // What a server serves is committed: a leader's whole history once
        // its epoch is established, a learner's synced state.
        let committed_before = self.checker.committed().len();
        let state = &self.nodes[node].state;
        if let Err(why) = self
            .checker
            .check_committed_prefix(node, state, state.applied)
        {
            return Err(self.violation(
                "committed prefix",
                format!("n{sid} serves {role:?} epoch {epoch}: {why}"),
            ));
        }
        self.check_committed_durable(committed_before, &format!("n{sid} Serve {role:?}"))?;
        let node = &mut self.nodes[node];
        node.serving = Some((role, epoch, leader));
        node.next_counter = 1;
        node.proposed.clear();
        Ok(())
    }

    /// Persistence-order rules of ZooKeeper 3.8.5 checked on what a learner
    /// sends: ACKEPOCH only after acceptedEpoch is on disk; the NEWLEADER
    /// ACK only after currentEpoch is; a proposal's ACK only once the
    /// proposal is durable.
    fn check_send(
        &mut self,
        node: usize,
        conn: ConnId,
        packet: &QuorumPacket,
    ) -> Result<(), Violation> {
        let sid = self.nodes[node].sid;
        let disk = &self.nodes[node].disk;
        match packet.packet_type() {
            Some(PacketType::AckEpoch) => {
                if let Some(epoch) = self.nodes[node].leader_info.get(&conn) {
                    if disk.accepted_epoch < *epoch {
                        let detail = format!(
                            "n{sid} sends ACKEPOCH for epoch {epoch} with acceptedEpoch file {}",
                            disk.accepted_epoch
                        );
                        return Err(self.violation("persistence order", detail));
                    }
                }
            }
            Some(PacketType::Ack) if self.nodes[node].leader_info.contains_key(&conn) => {
                let zxid = packet.zxid;
                if zxid & 0xffff_ffff == 0 {
                    if disk.current_epoch < epoch_of(zxid) {
                        let detail = format!(
                            "n{sid} sends the NEWLEADER ACK {zxid:#x} with currentEpoch file {}",
                            disk.current_epoch
                        );
                        return Err(self.violation("persistence order", detail));
                    }
                } else if disk.durable_zxid() < zxid {
                    let detail = format!(
                        "n{sid} ACKs {zxid:#x} before it is durable (durable up to {:#x})",
                        disk.durable_zxid()
                    );
                    return Err(self.violation("persistence order", detail));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn new_conn_id(&mut self) -> ConnId {
        let id = self.next_conn;
        self.next_conn += 1;
        id
    }

    // ----------------------------------------------------------- network

    fn send_election(&mut self, from: usize, to: usize, n: Notification) {
        let link = &self.links[&pair(from, to)];
        if !link.up {
            return;
        }
        let generation = link.generation;
        let delay = self.delay(from, to);
        let mut at = (self.now + delay).max(self.election_tail_ms[from][to]);
        let config_bytes = n.config.as_ref().map_or(0, |config| config.len());
        let mut frame = Vec::with_capacity(48 + config_bytes);
        n.encode_frame(&mut frame);
        self.election_rx[from][to].expect(generation, n);
        for (i, segment) in segments(&mut self.wire_rng, frame.into())
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                at += self.wire_rng.range(0, 1);
            }
            self.schedule(
                at - self.now,
                Event::ElectionArrive {
                    from,
                    to,
                    generation,
                    segment,
                },
            );
        }
        self.election_tail_ms[from][to] = at;
    }

    /// A segment of election frames arrives on a live connection: the real
    /// decoder reads the notifications it completes.
    fn election_arrive(
        &mut self,
        from: usize,
        to: usize,
        generation: u64,
        segment: Bytes,
    ) -> Result<(), Violation> {
        let link = &self.links[&pair(from, to)];
        if !link.up || link.generation != generation {
            return Ok(());
        }
        let bug = self.config.mutation.and_then(Mutation::read_bug);
        let notifications = match self.election_rx[from][to].arrive(generation, &segment, bug) {
            Ok(notifications) => notifications,
            Err(why) => {
                let detail = format!(
                    "n{} from n{}: {why}",
                    self.nodes[to].sid, self.nodes[from].sid
                );
                return Err(self.violation("wire decoding", detail));
            }
        };
        let sid = self.nodes[from].sid;
        for n in notifications {
            self.feed(to, Input::Notification { from: sid, n })?;
            let link = &self.links[&pair(from, to)];
            if !link.up || link.generation != generation {
                break;
            }
        }
        Ok(())
    }

    fn election_link_up(&mut self, a: usize, b: usize) -> Result<(), Violation> {
        let possible = self.alive(a)
            && self.alive(b)
            && !self.is_cut(a, b)
            && self.silent_until(a, b).is_none();
        let link = self.links.entry((a, b)).or_default();
        link.pending = false;
        if !possible || link.up {
            return Ok(());
        }
        link.up = true;
        link.generation += 1;
        let (sid_a, sid_b) = (self.nodes[a].sid, self.nodes[b].sid);
        self.feed(a, Input::ElectionUp(sid_b))?;
        self.feed(b, Input::ElectionUp(sid_a))?;
        for (from, to) in [(a, b), (b, a)] {
            if let Some(n) = self.last_sent[from][to].clone() {
                self.send_election(from, to, n);
            }
        }
        Ok(())
    }

    fn election_link_down(&mut self, a: usize, b: usize) -> Result<(), Violation> {
        let link = self.links.entry(pair(a, b)).or_default();
        if !link.up {
            return Ok(());
        }
        link.up = false;
        link.generation += 1;
        let (sid_a, sid_b) = (self.nodes[a].sid, self.nodes[b].sid);
        self.feed(a, Input::ElectionDown(sid_b))?;
        self.feed(b, Input::ElectionDown(sid_a))?;
        Ok(())
    }

    /// Brings the links between a and b in line with who is alive and what
    /// is cut: down now, or up after a short reconnect delay.
    fn refresh_link(&mut self, a: usize, b: usize) -> Result<(), Violation> {
        let (a, b) = pair(a, b);
        let possible = self.alive(a) && self.alive(b) && !self.is_cut(a, b);
        if !possible {
            self.election_link_down(a, b)?;
            let doomed: Vec<ConnId> = self
                .conns
                .iter()
                .filter(|(_, end)| {
                    end.open
                        && end.node == a
                        && self.conns.get(&end.peer).is_some_and(|p| p.node == b)
                })
                .map(|(id, _)| *id)
                .collect();
            for conn in doomed {
                self.kill_conn(conn);
            }
            return Ok(());
        }
        let link = self.links.entry((a, b)).or_default();
        if !link.up && !link.pending {
            link.pending = true;
            let delay = self.net_rng.range(1, 30);
            self.schedule(delay, Event::ElectionLinkUp { a, b });
        }
        Ok(())
    }

    /// Writes on a quorum connection end owned by `node` (`None`: its
    /// FIN): the bytes are cut into segments that reach the peer's receive
    /// buffer in TCP order, the first after the link's delay, the rest
    /// right behind it.
    fn quorum_send(&mut self, node: usize, conn: ConnId, write: Option<(Bytes, Sent)>) {
        let Some(end) = self.conns.get(&conn) else {
            return;
        };
        if !end.open || end.node != node {
            return;
        }
        let (peer, tail) = (end.peer, end.tail_ms);
        let peer_node = self.conns.get(&peer).map_or(node, |p| p.node);
        let delay = self.delay(node, peer_node);
        let mut at = (self.now + delay).max(tail);
        let pieces = match write {
            Some((bytes, sent)) => {
                if let Some(peer_end) = self.conns.get_mut(&peer).filter(|end| end.open) {
                    peer_end.rx.expect(sent);
                }
                segments(&mut self.wire_rng, bytes)
                    .into_iter()
                    .map(Some)
                    .collect()
            }
            None => vec![None],
        };
        for (i, segment) in pieces.into_iter().enumerate() {
            if i > 0 {
                at += self.wire_rng.range(0, 1);
            }
            self.schedule(at - self.now, Event::QuorumArrive { to: peer, segment });
        }
        if let Some(end) = self.conns.get_mut(&conn) {
            end.tail_ms = at;
        }
    }

    /// A segment (or the FIN) reaches the receive buffer; its owner reads
    /// soon after.
    fn quorum_arrive(&mut self, to: ConnId, segment: Option<Bytes>) {
        let Some(end) = self.conns.get_mut(&to) else {
            return;
        };
        if !end.open {
            return;
        }
        match segment {
            Some(segment) => end.rx.arrive(segment),
            None => end.rx.fin = true,
        }
        if !end.rx.read_pending {
            end.rx.read_pending = true;
            self.schedule(0, Event::QuorumRead { to });
        }
    }

    /// One read by the owner of `to`: a piece of what has arrived, through
    /// the real decoder; what it decodes goes to the state machine in
    /// order. After the last byte, the peer's FIN closes the connection.
    fn quorum_read(&mut self, to: ConnId) -> Result<(), Violation> {
        let bug = self.config.mutation.and_then(Mutation::read_bug);
        let Some(end) = self.conns.get_mut(&to) else {
            return Ok(());
        };
        end.rx.read_pending = false;
        if !end.open {
            return Ok(());
        }
        let node = end.node;
        let sid = self.nodes[node].sid;
        if end.rx.unread() == 0 {
            if !end.rx.fin {
                return Ok(());
            }
            if let Err(why) = end.rx.check_drained() {
                if bug.is_none() {
                    return Err(self.violation("wire decoding", format!("n{sid} c{to}: {why}")));
                }
            }
            end.open = false;
            end.rx.discard();
            self.nodes[node].conns.remove(&to);
            self.nodes[node].leader_info.remove(&to);
            return self.feed(node, Input::QuorumClosed(to));
        }
        self.counts.quorum_reads += 1;
        let decoded = match end.rx.read(&mut self.wire_rng, bug) {
            Ok(decoded) => decoded,
            Err(why) => return Err(self.violation("wire decoding", format!("n{sid} c{to}: {why}"))),
        };
        if end.rx.unread() > 0 || end.rx.fin {
            end.rx.read_pending = true;
            let gap = self.wire_rng.range(0, 1);
            self.schedule(gap, Event::QuorumRead { to });
        }
        for item in decoded {
            if !self.conns.get(&to).is_some_and(|end| end.open) {
                break;
            }
            match item {
                Decoded::Packet(packet) => {
                    match packet.packet_type() {
                        Some(PacketType::LeaderInfo) => {
                            let epoch = epoch_of(packet.zxid);
                            self.nodes[node].leader_info.insert(to, epoch);
                        }
                        Some(PacketType::Diff) => self.counts.diffs += 1,
                        Some(PacketType::Trunc) => self.counts.truncs += 1,
                        Some(PacketType::Snap) => self.counts.snaps += 1,
                        _ => {}
                    }
                    self.feed(node, Input::Packet { conn: to, packet })?;
                }
                Decoded::SnapBody(body) => {
                    self.counts.snap_body_bytes_max =
                        self.counts.snap_body_bytes_max.max(body.len() as u64);
                    self.feed(node, Input::SnapBody { conn: to, body })?;
                }
            }
        }
        Ok(())
    }

    /// A connection dies (reset, partition): both ends closed at once,
    /// whatever was in flight is lost, both owners are told shortly.
    fn kill_conn(&mut self, conn: ConnId) {
        let Some(peer) = self.conns.get(&conn).map(|end| end.peer) else {
            return;
        };
        for id in [conn, peer] {
            let Some(end) = self.conns.get_mut(&id) else {
                continue;
            };
            if !end.open {
                continue;
            }
            end.open = false;
            end.rx.discard();
            let node = end.node;
            self.nodes[node].conns.remove(&id);
            self.nodes[node].leader_info.remove(&id);
            if self.alive(node) {
                let incarnation = self.nodes[node].incarnation;
                let delay = self.net_rng.range(0, 3);
                self.schedule(
                    delay,
                    Event::Feed {
                        node,
                        incarnation,
                        input: Input::QuorumClosed(id),
                    },
                );
            }
        }
    }

    fn connect(&mut self, node: usize, target: usize) -> Result<(), Violation> {
        if self.silent_until(node, target).is_some() {
            // The SYN is dropped: the connect times out.
            let conn = self.new_conn_id();
            let incarnation = self.nodes[node].incarnation;
            let timeout = self.net_rng.range(50, 300);
            self.schedule(
                timeout,
                Event::Feed {
                    node,
                    incarnation,
                    input: Input::QuorumClosed(conn),
                },
            );
            return Ok(());
        }
        let accepting = self.alive(target)
            && !self.is_cut(node, target)
            && self.nodes[target]
                .zab
                .as_ref()
                .is_some_and(|zab| zab.role() == Role::Leading);
        if !accepting {
            let conn = self.new_conn_id();
            return self.feed(node, Input::QuorumClosed(conn));
        }
        let learner_end = self.new_conn_id();
        let leader_end = self.new_conn_id();
        self.conns.insert(
            learner_end,
            ConnEnd {
                node,
                peer: leader_end,
                open: true,
                tail_ms: 0,
                rx: Receiver::new(true),
            },
        );
        self.conns.insert(
            leader_end,
            ConnEnd {
                node: target,
                peer: learner_end,
                open: true,
                tail_ms: 0,
                rx: Receiver::new(false),
            },
        );
        self.nodes[node].conns.insert(learner_end);
        self.nodes[target].conns.insert(leader_end);
        self.feed(target, Input::QuorumConnected(leader_end))?;
        self.feed(node, Input::QuorumConnected(learner_end))
    }

    // ------------------------------------------------- nodes and faults

    fn restart(&mut self, node: usize) -> Result<(), Violation> {
        self.nodes[node].restart_pending = false;
        if self.alive(node) {
            return Ok(());
        }
        let durable = self.nodes[node].disk.durable(self.config.history_limit);
        let mut zab = Zab::new(self.zab_configs[node].clone(), durable);
        if let Some(mutation) = self.config.mutation {
            inject(&mut zab, mutation);
        }
        // A "snapshot size" for the DIFF window's byte budget, from the seed
        // (no draw from the fault stream): 0 (no budget) up to a window of
        // about the count limit's txns.
        let incarnation = self.nodes[node].incarnation;
        let snapshot_bytes = (self.config.seed.wrapping_mul(7919)
            ^ (node as u64).wrapping_mul(131)
            ^ incarnation.wrapping_mul(17))
            % 1200;
        zab.set_snapshot_size(snapshot_bytes);
        let state = self.nodes[node].disk.recover_state();
        self.checker.state_rebuilt(node, &state);
        let n = &mut self.nodes[node];
        n.state = state;
        n.zab = Some(zab);
        n.incarnation += 1;
        n.serving = None;
        n.proposed.clear();
        n.last_commit = 0;
        n.flush_tail_ms = self.now;
        let incarnation = n.incarnation;
        let now_ms = self.now;
        self.feed(node, Input::Tick { now_ms })?;
        let offset = self.fault_rng.range(1, TICK_INTERVAL_MS);
        self.schedule(offset, Event::Tick { node, incarnation });
        for peer in 0..self.nodes.len() {
            if peer != node {
                self.refresh_link(node, peer)?;
            }
        }
        Ok(())
    }

    fn crash(&mut self, node: usize) -> Result<(), Violation> {
        if !self.alive(node) {
            return Ok(());
        }
        let n = &mut self.nodes[node];
        n.zab = None;
        n.incarnation += 1;
        n.serving = None;
        n.proposed.clear();
        n.disk.crash();
        n.leader_info.clear();
        for to in 0..self.nodes.len() {
            self.last_sent[node][to] = None;
        }
        // Power loss: connections die with whatever was in flight.
        for peer in 0..self.nodes.len() {
            if peer != node {
                self.refresh_link(node, peer)?;
            }
        }
        self.recheck_acknowledged()
    }

    fn serving_leaders(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| matches!(self.nodes[*i].serving, Some((Role::Leading, _, _))))
            .collect()
    }

    fn client_write(&mut self) -> Result<(), Violation> {
        if self.now > self.heal_ms + WRITES_AFTER_HEAL_MS {
            return Ok(());
        }
        let gap = self.client_rng.range(3, 40);
        self.schedule(gap, Event::Client);
        let leaders = self.serving_leaders();
        let Some(&leader) = self.client_rng.pick(&leaders) else {
            return Ok(());
        };
        let op = self.next_op;
        self.next_op += 1;
        let payload = Bytes::copy_from_slice(&op.to_be_bytes());
        let n = &mut self.nodes[leader];
        let Some((_, epoch, _)) = n.serving else {
            return Ok(());
        };
        let zxid = make_zxid(epoch, n.next_counter);
        n.next_counter += 1;
        n.proposed.insert(zxid, payload.clone());
        self.feed(leader, Input::Propose { zxid, payload })
    }

    fn fault(&mut self) -> Result<(), Violation> {
        if self.now >= self.heal_ms {
            return Ok(());
        }
        let gap = self.fault_rng.range(50, 600);
        self.schedule(gap, Event::Fault);
        let total = self.nodes.len();
        let alive: Vec<usize> = (0..total).filter(|i| self.alive(*i)).collect();
        let leaders = self.serving_leaders();
        let roll = self.fault_rng.below(100);
        let target = if roll < 35 || (60..75).contains(&roll) {
            // Aimed at a leader when there is one.
            match self.fault_rng.pick(&leaders) {
                Some(leader) => Some(*leader),
                None => self.fault_rng.pick(&alive).copied(),
            }
        } else {
            self.fault_rng.pick(&alive).copied()
        };
        match roll {
            0..=34 => {
                // Crash (a leader half the time), restart later.
                let victim = if roll < 17 {
                    target
                } else {
                    self.fault_rng.pick(&alive).copied()
                };
                if let Some(victim) = victim {
                    self.counts.crashes += 1;
                    self.crash(victim)?;
                    if !self.nodes[victim].restart_pending {
                        self.nodes[victim].restart_pending = true;
                        let down = self.fault_rng.range(20, 1500);
                        self.schedule(down, Event::Restart { node: victim });
                    }
                }
            }
            35..=49 => {
                // Reset one quorum connection.
                let open: Vec<ConnId> = self
                    .conns
                    .iter()
                    .filter(|(_, end)| end.open)
                    .map(|(id, _)| *id)
                    .collect();
                if let Some(conn) = self.fault_rng.pick(&open).copied() {
                    self.counts.connection_resets += 1;
                    self.kill_conn(conn);
                }
            }
            50..=59 => {
                // Drop one election connection; QuorumCnxManager reconnects.
                let a = self.fault_rng.below(total as u64) as usize;
                let b = self.fault_rng.below(total as u64) as usize;
                if a != b {
                    self.counts.election_drops += 1;
                    self.election_link_down(a, b)?;
                    let (a, b) = pair(a, b);
                    let link = self.links.entry((a, b)).or_default();
                    if !link.pending {
                        link.pending = true;
                        let delay = self.fault_rng.range(10, 300);
                        self.schedule(delay, Event::ElectionLinkUp { a, b });
                    }
                }
            }
            60..=94 => {
                // A partition: isolate one node (a leader first), split at
                // random, or cut one link.
                let mut links = Vec::new();
                if roll < 75 {
                    if let Some(isolated) = target {
                        for other in 0..total {
                            if other != isolated {
                                links.push(pair(isolated, other));
                            }
                        }
                    }
                } else if roll < 85 {
                    let side: Vec<bool> = (0..total).map(|_| self.fault_rng.chance(50)).collect();
                    for a in 0..total {
                        for b in a + 1..total {
                            if side[a] != side[b] {
                                links.push((a, b));
                            }
                        }
                    }
                } else {
                    let a = self.fault_rng.below(total as u64) as usize;
                    let b = self.fault_rng.below(total as u64) as usize;
                    if a != b {
                        links.push(pair(a, b));
                    }
                }
                let duration = self
                    .fault_rng
                    .range(100, 2500)
                    .min(self.heal_ms - self.now)
                    .max(1);
                if links.is_empty() {
                } else if self.fault_rng.chance(50) {
                    // Silent: connections stay open and stall.
                    self.counts.silent_partitions += 1;
                    let until = self.now + duration;
                    for link in &links {
                        let entry = self.silent.entry(*link).or_insert(0);
                        *entry = (*entry).max(until);
                    }
                    self.schedule(duration, Event::SilentEnd { links });
                } else {
                    // Reset: connections die, new ones are refused.
                    self.counts.partitions += 1;
                    for link in &links {
                        *self.cut.entry(*link).or_insert(0) += 1;
                    }
                    for (a, b) in links.clone() {
                        self.refresh_link(a, b)?;
                    }
                    self.schedule(duration, Event::Uncut { links });
                }
            }
            _ => {
                // A slow link for a while.
                let a = self.fault_rng.below(total as u64) as usize;
                let b = self.fault_rng.below(total as u64) as usize;
                if a != b {
                    let extra = self.fault_rng.range(50, 400);
                    let until = self.now + self.fault_rng.range(100, 2000);
                    self.slow.insert(pair(a, b), (until, extra));
                }
            }
        }
        Ok(())
    }

    /// A leader cut off from a quorum of voters must stop serving in time.
    /// ZooKeeper's leader counts a learner as synced while it was heard
    /// from within syncLimit ticks — or, for a learner still syncing,
    /// within initLimit + syncLimit ticks of its connecting — and steps
    /// down when the synced ones are no quorum. Allowed: (initLimit +
    /// syncLimit + 3) ticks.
    fn leader_watch(&mut self) -> Result<(), Violation> {
        self.schedule(LEADER_WATCH_MS, Event::LeaderWatch);
        let quorum = self.voters / 2 + 1;
        let allowed_ms =
            (self.config.init_limit + self.config.sync_limit + 3) * self.config.tick_ms;
        for leader in 0..self.nodes.len() {
            if !matches!(self.nodes[leader].serving, Some((Role::Leading, _, _))) {
                if let Some(since) = self.nodes[leader].cut_off_since.take() {
                    if self.alive(leader) {
                        self.counts.cut_off_leaders += 1;
                        let took = self.now - since;
                        self.counts.cut_off_stop_ms_max = self.counts.cut_off_stop_ms_max.max(took);
                    }
                }
                continue;
            }
            let reachable = (0..self.nodes.len())
                .filter(|&voter| {
                    !self.nodes[voter].observer
                        && self.alive(voter)
                        && (voter == leader
                            || (!self.is_cut(leader, voter)
                                && self.silent_until(leader, voter).is_none()))
                })
                .count();
            if reachable >= quorum {
                self.nodes[leader].cut_off_since = None;
                continue;
            }
            let since = *self.nodes[leader].cut_off_since.get_or_insert(self.now);
            if self.now - since > allowed_ms {
                let sid = self.nodes[leader].sid;
                return Err(self.violation(
                    "cut-off leader stops",
                    format!(
                        "n{sid} still serves as leader {} ms after losing its quorum (allowed {allowed_ms} ms)",
                        self.now - since
                    ),
                ));
            }
        }
        Ok(())
    }

    fn heal(&mut self) -> Result<(), Violation> {
        self.healed = true;
        self.cut.clear();
        self.silent.clear();
        self.slow.clear();
        let total = self.nodes.len();
        for node in 0..total {
            if !self.alive(node) {
                self.restart(node)?;
            }
        }
        for a in 0..total {
            for b in a + 1..total {
                self.refresh_link(a, b)?;
            }
        }
        self.schedule(WRITES_AFTER_HEAL_MS + CHECK_INTERVAL_MS, Event::Check);
        Ok(())
    }

    /// Quiescence: every node alive and serving one epoch under one leader
    /// with nothing outstanding, every state the same, holding every
    /// acknowledged write and equal to the committed history.
    fn converged(&self) -> Result<(), String> {
        if !self.healed {
            return Err("faults not over".to_string());
        }
        let leaders = self.serving_leaders();
        let [leader] = leaders[..] else {
            return Err(format!("serving leaders: {leaders:?}"));
        };
        let Some((_, epoch, leader_sid)) = self.nodes[leader].serving else {
            return Err("no leader".to_string());
        };
        if let Some(zab) = &self.nodes[leader].zab {
            let outstanding = zab.status().outstanding_proposals;
            if outstanding > 0 {
                return Err(format!("{outstanding} proposals outstanding"));
            }
        }
        if !self.nodes[leader].proposed.is_empty() {
            return Err("client proposals not yet committed".to_string());
        }
        let reference = &self.nodes[leader].state;
        for node in &self.nodes {
            match node.serving {
                Some((_, e, l)) if e == epoch && l == leader_sid => {}
                other => return Err(format!("n{} serving {other:?}", node.sid)),
            }
            if node.state.entries != reference.entries {
                return Err(format!(
                    "n{} state ({} txns, digest {:x}) differs from the leader's ({} txns, digest {:x})",
                    node.sid,
                    node.state.entries.len(),
                    node.state.digest(),
                    reference.entries.len(),
                    reference.digest()
                ));
            }
        }
        for (zxid, payload) in self.checker.acknowledged() {
            if reference.get(*zxid) != Some(payload) {
                return Err(format!(
                    "acknowledged {zxid:#x} missing from the final state"
                ));
            }
        }
        if !self.checker.committed_equals(&reference.entries) {
            return Err("final state differs from the committed history".to_string());
        }
        Ok(())
    }
}

fn inject(zab: &mut Zab, mutation: Mutation) {
    zab.inject_fault(match mutation {
        Mutation::AckBeforeFlush => Fault::AckBeforeFlush,
        Mutation::CommitWithoutQuorum => Fault::CommitWithoutQuorum,
        // Bugs of the host's reading, not of the state machine.
        Mutation::ReadDropsRemainder | Mutation::ReadCutSnapIsError => return,
    });
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

fn show_payload(payload: &Bytes) -> String {
    match <[u8; 8]>::try_from(payload.as_ref()) {
        Ok(bytes) => format!("op{}", u64::from_be_bytes(bytes)),
        Err(_) => format!("{} bytes", payload.len()),
    }
}

fn input_kind(input: &Input) -> u64 {
    match input {
        Input::Tick { .. } => 1,
        Input::ElectionUp(_) => 2,
        Input::ElectionDown(_) => 3,
        Input::Notification { .. } => 4,
        Input::QuorumConnected(_) => 5,
        Input::QuorumClosed(_) => 6,
        Input::Packet { packet, .. } => 100 + packet.kind as u64,
        Input::SnapBody { .. } => 7,
        Input::Persisted(_) => 8,
        Input::Propose { .. } => 9,
        Input::Snapshot { .. } => 10,
        Input::Touches(_) => 11,
        Input::SendToLeader(_) => 12,
        Input::SendToLearner { .. } => 13,
    }
}

fn format_packet(packet: &QuorumPacket) -> String {
    let kind = packet
        .packet_type()
        .map_or(format!("type{}", packet.kind), |t| format!("{t:?}"));
    let data = match &packet.data {
        None => String::new(),
        Some(data) if data.len() == 8 => format!(" {}", show_payload(data)),
        Some(data) => format!(" [{} bytes]", data.len()),
    };
    format!("{kind}({:#x}{data})", packet.zxid)
}

fn format_notification(n: &Notification) -> String {
    format!(
        "{:?} leader={} zxid={:#x} round={} peerEpoch={}",
        n.state, n.leader, n.zxid, n.election_epoch, n.peer_epoch
    )
}

fn format_input(input: &Input) -> String {
    match input {
        Input::Notification { from, n } => {
            format!("Notification from n{from}: {}", format_notification(n))
        }
        Input::Packet { conn, packet } => format!("Packet c{conn} {}", format_packet(packet)),
        Input::SnapBody { conn, body } => format!("SnapBody c{conn} [{} bytes]", body.len()),
        Input::Snapshot { conn, zxid, body } => {
            format!("Snapshot c{conn} at {zxid:#x} [{} bytes]", body.len())
        }
        Input::Propose { zxid, payload } => format!("Propose {zxid:#x} {}", show_payload(payload)),
        Input::Persisted(zxid) => format!("Persisted({zxid:#x})"),
        other => format!("{other:?}"),
    }
}

fn format_action(action: &Action) -> String {
    match action {
        Action::Append { zxid, payload } => format!("Append {zxid:#x} {}", show_payload(payload)),
        Action::Commit { zxid, payload } => format!("Commit {zxid:#x} {}", show_payload(payload)),
        Action::TruncateAfter(zxid) => format!("TruncateAfter({zxid:#x})"),
        Action::InstallSnapshot { zxid, body } => {
            format!("InstallSnapshot at {zxid:#x} [{} bytes]", body.len())
        }
        Action::SendElection { to, n } => {
            format!("SendElection to n{to}: {}", format_notification(n))
        }
        Action::Send { conn, packet } => format!("Send c{conn} {}", format_packet(packet)),
        Action::SendSnapBody { conn, body } => {
            format!("SendSnapBody c{conn} [{} bytes]", body.len())
        }
        other => format!("{other:?}"),
    }
}
