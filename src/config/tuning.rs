//! paddock's own knobs: the `paddock.*` keys (in zoo.cfg or in a tuning
//! overlay, `--tuning FILE`, a fragment of keys laid over the config) and
//! the two ZooKeeper container-sweep keys that tune paddock's sweep. Each
//! knob trades something; the defaults suit a small host and favour latency.
//! Core lists are checked against the process's affinity mask here, so a
//! pinned core that does not exist stops the server before it starts.

use std::collections::BTreeSet;

use super::{ConfigError, Ctx, Origin};

/// paddock's own knobs (`paddock.*` keys). Each trades something; the
/// defaults suit a small host and favour latency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tuning {
    /// `paddock.cores` — the cores this server runs on, as a list like
    /// `0,1` or `0-3,6`. Default: every core in the process's affinity mask
    /// (`sched_getaffinity`), so `taskset` works as expected. One client shard
    /// runs per listed core; fewer cores means fewer tree copies (less memory)
    /// but less parallelism for reads. When several members of an ensemble
    /// run on this host and this key is not set, each takes its share of
    /// the cores (`server::ensemble::colocated_share`).
    pub cores: Vec<usize>,
    /// True when `paddock.cores` was given (the ensemble then never
    /// re-divides the cores among members that share this host).
    pub cores_explicit: bool,
    /// `paddock.logCore` — the core that owns the txn log and its flushes.
    /// Default: none (placement decides: the last listed core, shared with a
    /// shard on small hosts). A dedicated core keeps page faults and `msync`
    /// away from client shards at the cost of one shard.
    pub log_core: Option<usize>,
    /// `paddock.batchTxnsMax` — most txns in one proposal batch (default 1000).
    /// Larger batches amortise flushes and messages; they also make one slow
    /// batch hold up more clients.
    pub batch_txns_max: usize,
    /// `paddock.batchBytesMax` — most bytes of txns in one batch (default
    /// 4 MiB). Bounds memory per batch and the size of one PROPOSAL.
    pub batch_bytes_max: usize,
    /// `paddock.groupCommitWaitMicros` — how long the log core waits for more
    /// txns before flushing a non-full batch (default 0: flush as soon as the
    /// queue is empty). Raising it trades latency for fewer fsyncs under
    /// moderate load.
    pub group_commit_wait_micros: u64,
    /// `paddock.socketNoDelay` — TCP_NODELAY on client and peer sockets
    /// (default true: ZooKeeper replies are small and latency-bound; false
    /// lets Nagle coalesce tiny writes at the cost of up to ~40 ms delays).
    pub socket_no_delay: bool,
    /// `paddock.snapshotReplica` — keep one more tree copy on its own thread
    /// that takes the snapshots (default true), so a snapshot never holds up
    /// writes. false saves that copy's metadata (~230 bytes per znode) but
    /// pauses writes while the last shard serializes its tree (~130 ms per
    /// million znodes).
    pub snapshot_replica: bool,
    /// `paddock.spinBeforeParkMicros` — how long an idle shard executor (and
    /// the log core) spins looking for work before sleeping (default 0).
    /// Spinning saves the wake-up (a context switch and an IPI) of the next
    /// request at the price of burning that core meanwhile: worth it with
    /// cores to spare, harmful when the cores are shared.
    pub spin_before_park_micros: u64,
    /// `paddock.sessionTouchIntervalMs` — how often a shard reports the
    /// sessions that saw traffic to the session tracker (default tickTime/2,
    /// as a ZooKeeper follower piggybacks touches on its pings). Shorter is
    /// more cross-core traffic; longer risks expiring a busy session near the
    /// end of its timeout.
    pub session_touch_interval_ms: u64,
    /// `znode.container.checkIntervalMs` (ZooKeeper's ContainerManager
    /// interval, default 60000): how often empty containers and expired TTL
    /// nodes are looked for. Shorter deletes them sooner at the cost of a
    /// scan of the tree each time.
    pub container_check_interval_ms: u64,
    /// `znode.container.maxPerMinute` (default 10000): most container/TTL
    /// deletions issued per minute, so a mass expiry does not flood the log.
    pub container_max_per_minute: u32,
    /// `paddock.maxOutstandingPerConnection` — requests a connection may have
    /// in flight before the shard stops reading its socket (default 1000,
    /// ZooKeeper's globalOutstandingLimit spread per connection).
    pub outstanding_per_connection_max: usize,
}

impl Tuning {
    /// The defaults, for a server whose `tickTime` is `tick_time_ms`
    /// (cores are filled in by [`finish`]).
    pub fn default_for(tick_time_ms: u32) -> Tuning {
        Tuning {
            cores: Vec::new(),
            cores_explicit: false,
            log_core: None,
            batch_txns_max: 1000,
            batch_bytes_max: 4 << 20,
            group_commit_wait_micros: 0,
            socket_no_delay: true,
            snapshot_replica: true,
            spin_before_park_micros: 0,
            session_touch_interval_ms: u64::from(tick_time_ms / 2),
            container_check_interval_ms: 60_000,
            container_max_per_minute: 10_000,
            outstanding_per_connection_max: 1000,
        }
    }
}

/// Knob values whose meaning depends on the rest of the config.
#[derive(Default)]
pub(super) struct TuningPending {
    cores: Option<(Vec<usize>, Origin)>,
    session_touch_interval_ms: Option<u64>,
}

/// Resolve what depends on other keys: the core list against the affinity
/// mask, the log core against the core list, the touch interval against
/// `tickTime`.
pub(super) fn finish(
    tuning: &mut Tuning,
    pending: TuningPending,
    tick_time_ms: u32,
    file: &std::path::Path,
) -> Result<(), ConfigError> {
    tuning.session_touch_interval_ms = pending
        .session_touch_interval_ms
        .unwrap_or(u64::from((tick_time_ms / 2).max(1)));
    let available = affinity_cores();
    match pending.cores {
        None => tuning.cores = available,
        Some((cores, origin)) => {
            if let Some(missing) = cores.iter().find(|c| !available.contains(c)) {
                return Err(ConfigError {
                    file: origin.file,
                    line: origin.line,
                    key: origin.key,
                    message: format!(
                        "core {missing} is not in this process's affinity mask {available:?}"
                    ),
                });
            }
            tuning.cores = cores;
            tuning.cores_explicit = true;
        }
    }
    if let Some(core) = tuning.log_core {
        if !tuning.cores.contains(&core) {
            return Err(ConfigError {
                file: file.to_path_buf(),
                line: 0,
                key: "paddock.logCore".to_string(),
                message: format!("core {core} is not one of paddock.cores {:?}", tuning.cores),
            });
        }
    }
    Ok(())
}

pub(super) fn apply_knob(
    tuning: &mut Tuning,
    pending: &mut TuningPending,
    ctx: &Ctx<'_>,
    knob: &str,
) -> Result<(), ConfigError> {
    match knob {
        "cores" => {
            let cores = parse_core_list(ctx.value()).map_err(|m| ctx.error(m))?;
            pending.cores = Some((cores, ctx.origin()));
        }
        "logCore" => tuning.log_core = Some(ctx.u32()? as usize),
        "batchTxnsMax" => tuning.batch_txns_max = ctx.positive_u32()? as usize,
        "batchBytesMax" => tuning.batch_bytes_max = ctx.positive_u32()? as usize,
        "groupCommitWaitMicros" => tuning.group_commit_wait_micros = ctx.u64()?,
        "socketNoDelay" => tuning.socket_no_delay = ctx.bool()?,
        "snapshotReplica" => tuning.snapshot_replica = ctx.bool()?,
        "spinBeforeParkMicros" => tuning.spin_before_park_micros = u64::from(ctx.u32()?),
        "sessionTouchIntervalMs" => {
            pending.session_touch_interval_ms = Some(u64::from(ctx.positive_u32()?))
        }
        "maxOutstandingPerConnection" => {
            tuning.outstanding_per_connection_max = ctx.positive_u32()? as usize
        }
        // The registry has a row for every knob; a row without a match arm
        // here is caught by the registry tests (they load every knob).
        _ => return Err(ctx.error("registered but not handled (a paddock bug)")),
    }
    Ok(())
}

/// Parse `0,1`, `0-3`, `0-3,6` into a sorted, deduplicated list.
pub fn parse_core_list(text: &str) -> Result<Vec<usize>, String> {
    let mut cores = BTreeSet::new();
    for part in text.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(format!(
                "expected a core list like '0,1' or '0-3', got '{text}'"
            ));
        }
        let bad = || format!("expected a core list like '0,1' or '0-3', got '{text}'");
        match part.split_once('-') {
            Some((low, high)) => {
                let low: usize = low.trim().parse().map_err(|_| bad())?;
                let high: usize = high.trim().parse().map_err(|_| bad())?;
                if low > high {
                    return Err(format!("core range '{part}' runs backwards"));
                }
                cores.extend(low..=high);
            }
            None => {
                cores.insert(part.parse::<usize>().map_err(|_| bad())?);
            }
        }
    }
    Ok(cores.into_iter().collect())
}

/// The cores in this process's affinity mask (`sched_getaffinity`); falls
/// back to 0..available_parallelism when the call fails.
pub fn affinity_cores() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; zeroed is a valid empty set, and the
    // size passed is the size of the set we own.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc == 0 {
        let cores: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
            // SAFETY: index is below CPU_SETSIZE and `set` is initialised.
            .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
            .collect();
        if !cores.is_empty() {
            return cores;
        }
    }
    let count = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    (0..count).collect()
}
