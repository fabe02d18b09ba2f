//! An ensemble member: the runtime around `zab`.
//!
//! ```text
//!  election port ──┐                        ┌── quorum port (learners / leader)
//!  (notifications) ▼                        ▼   (QuorumPackets, SNAP inline)
//!              consensus thread: zab::Zab + committed tree + reply routing
//!                 │ Append / Flush        ▲ Persisted(zxid)
//!                 ▼                       │
//!              persist thread: the txn log, one flush per batch
//!                 │
//!                 └── Commit ──► commit stream ──► shards (apply, reply)
//! ```
//!
//! The start-up order is the issue's: recover the log → elect → sync →
//! build the shard trees → serve. Each *serving period* (from zab's `Serve`
//! to its `StopServing`) gets fresh shard executors started from the
//! consensus thread's committed tree; when the server goes back to LOOKING
//! the shards stop and their clients' connections close, which is what a
//! ZooKeeper server does (clients then move to another server and keep
//! their sessions). The client port stays bound across periods.

pub mod core;
pub mod election_port;
pub mod persist;
pub mod quorum_port;

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::auth::enforce::AuthEnforcement;
use crate::config::{Config, PeerRole};
use crate::zab::{Durable, Zab, ZabConfig};

pub use self::core::CoreInput;
use self::core::{Core, CoreSettings, Period, ServeEvent};
use self::election_port::ElectionPort;
use self::persist::{Persist, PersistOp};
use self::quorum_port::QuorumPort;

use super::log_core::LogStats;
use super::stats::Stats;
use super::{
    bind_client_listeners, client_address, load_sasl_users, recover, shard_cores, spawn_shard,
    EnsembleView, Recovered, SequencerOutput, ServerError, ShardArgs, ShardCounter, ShardQuery,
    Shared,
};

fn resolve(host: &str, port: u16) -> Result<SocketAddr, ServerError> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| ServerError::Config {
            key: "server.N",
            message: format!("cannot resolve {host}:{port}: {e}"),
        })?
        .next()
        .ok_or_else(|| ServerError::Config {
            key: "server.N",
            message: format!("{host}:{port} resolves to no address"),
        })
}

/// Runs an ensemble member until SIGTERM / SIGINT.
pub fn run(config: Config) -> Result<(), ServerError> {
    let my_id = config.my_id.ok_or_else(|| ServerError::Config {
        key: "server.N",
        message: "an ensemble member needs dataDir/myid".into(),
    })? as i64;
    let me = config
        .servers
        .iter()
        .find(|s| s.id as i64 == my_id)
        .cloned()
        .ok_or_else(|| ServerError::Config {
            key: "server.N",
            message: format!("myid is {my_id}, but there is no server.{my_id} line"),
        })?;
    log::info!(
        "paddock {} starting as server {my_id} of {} ({}): config {}, data {}, log {}",
        env!("CARGO_PKG_VERSION"),
        config.servers.len(),
        match me.role {
            PeerRole::Participant => "participant",
            PeerRole::Observer => "observer",
        },
        config
            .config_path
            .as_ref()
            .map_or("(built-in default)".to_string(), |p| p
                .display()
                .to_string()),
        config.data_dir.display(),
        config.data_log_dir.display()
    );
    let cores = colocated_share(&config, shard_cores(&config));
    let address = client_address(&config);
    let listeners =
        bind_client_listeners(&address, cores.len(), config.client_port_listen_backlog)?;

    let Recovered {
        tree,
        log,
        snapshot_zxid,
        snapshot_bytes,
        ..
    } = recover(&config)?;
    let snap_dir = super::snapshot_dir(&config);
    let epochs = crate::storage::epoch::load(&snap_dir, tree.last_zxid())
        .map_err(|e| ServerError::Recovery(e.to_string()))?;
    let (accepted_epoch, current_epoch) = (epochs.epochs.accepted, epochs.epochs.current);

    // The newest logged txns, for syncing learners by DIFF (the window's
    // rule: src/zab/machine/history.rs).
    let history_min = config.commit_log_count;
    let history_limit = history_min.max(config.snap_count as usize);
    let mut history: std::collections::VecDeque<(i64, Bytes)> = Default::default();
    for record in log.read_after(snapshot_zxid)? {
        let (zxid, payload) = record?;
        history.push_back((zxid, Bytes::from(payload.to_vec())));
        if history.len() > history_limit {
            history.pop_front();
        }
    }
    let durable = Durable {
        accepted_epoch,
        current_epoch,
        last_zxid: tree.last_zxid(),
        history: history.into_iter().collect(),
    };
    let members = config.zab_members();
    let tick_ms = config.tick_time_ms as u64;
    let mut zab_config = ZabConfig::new(
        my_id,
        members,
        tick_ms,
        config.init_limit as u64,
        config.sync_limit as u64,
        config.quorum_config_text(),
    );
    zab_config.history_min = history_min;
    zab_config.history_limit = history_limit;
    zab_config.history_bytes_factor = config.snapshot_size_factor_ppm as f64 / 1e6;
    zab_config.snap_syncs_max = config.max_concurrent_snap_syncs;
    zab_config.diff_syncs_max = config.max_concurrent_diff_syncs;
    zab_config.min_notification_interval_ms = u64::from(config.fle_min_notification_interval_ms);
    zab_config.max_notification_interval_ms = u64::from(config.fle_max_notification_interval_ms);
    // Only the backoff's jitter draws from it: vary it per process.
    zab_config.seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id());
    if !config.standalone_enabled && config.servers.len() <= 1 {
        log::info!("standaloneEnabled=false: running as an ensemble of one (a quorum of one)");
    }
    if !config.sync_enabled {
        log::warn!(
            "syncEnabled=false: paddock's learners log every txn anyway (safe, only slower)"
        );
    }
    let mut zab = Zab::new(zab_config, durable);
    // The budget comes from the newest snapshot, as ZooKeeper's does (it
    // writes one at every start; without one, measure the tree).
    let snapshot_bytes = snapshot_bytes.unwrap_or_else(|| {
        let mut body = Vec::new();
        tree.serialize(&mut body);
        body.len() as u64
    });
    zab.set_snapshot_size(snapshot_bytes);

    let mut query_senders = Vec::new();
    let mut query_receivers = Vec::new();
    for _ in &cores {
        let (tx, rx) = flume::unbounded::<ShardQuery>();
        query_senders.push(tx);
        query_receivers.push(rx);
    }
    let log_stats = Arc::new(LogStats::default());
    log_stats
        .durable_zxid
        .store(log.durable_zxid(), Ordering::Relaxed);
    let auth_enforcement =
        AuthEnforcement::from_config(&config).map_err(|e| ServerError::Config {
            key: e.key,
            message: e.message,
        })?;
    let shared = Arc::new(Shared {
        auth_enforcement,
        stats: Stats::new(),
        log_stats: log_stats.clone(),
        started: Instant::now(),
        sasl_users: load_sasl_users(&config),
        per_ip: Mutex::new(HashMap::new()),
        shutdown: AtomicBool::new(false),
        queries: query_senders,
        cores: cores.clone(),
        applied_batches: cores
            .iter()
            .map(|_| std::sync::atomic::AtomicU64::new(0))
            .collect(),
        shard_requests: cores.iter().map(|_| ShardCounter::default()).collect(),
        ensemble: Some(EnsembleView::new(zab.status())),
        config,
    });
    shared
        .stats
        .last_applied_zxid
        .store(tree.last_zxid(), Ordering::Relaxed);
    let config = &shared.config;

    let (core_tx, core_rx) = flume::unbounded::<CoreInput>();
    let (events_tx, events_rx) = flume::unbounded::<ServeEvent>();

    // The log core of an ensemble member: persists, reports Persisted.
    let (persist_tx, persist_rx) = flume::unbounded::<PersistOp>();
    let persist = Persist {
        log,
        input: persist_rx,
        core: core_tx.clone(),
        stats: log_stats,
        snapshot_dir: snap_dir.clone(),
        fsync_warning: Duration::from_millis(config.fsync_warning_threshold_ms),
    };
    let log_core_cpu = config.tuning.log_core;
    let persist_thread = std::thread::Builder::new()
        .name("paddock-log".into())
        .spawn(move || {
            if let Some(cpu) = log_core_cpu {
                super::pin_current_thread(cpu);
            }
            persist.run()
        })?;

    // The peer ports.
    let mut election_peers = HashMap::new();
    let mut quorum_addresses = HashMap::new();
    for s in &config.servers {
        election_peers.insert(s.id as i64, resolve(&s.host, s.election_port)?);
        quorum_addresses.insert(s.id as i64, resolve(&s.host, s.quorum_port)?);
    }
    let listen_host = |port: u16| -> Result<SocketAddr, ServerError> {
        if config.quorum_listen_on_all_ips {
            Ok(SocketAddr::from(([0, 0, 0, 0], port)))
        } else {
            resolve(&me.host, port)
        }
    };
    let election_listen = listen_host(me.election_port)?;
    let quorum_listen = listen_host(me.quorum_port)?;
    let election_address = resolve(&me.host, me.election_port)?;
    let connect_timeout = Duration::from_millis(u64::from(config.cnx_timeout_ms.max(1)));
    // The handshake's read timeout (QuorumCnxManager): quorumCnxnTimeoutMs,
    // else tickTime × syncLimit.
    let handshake_timeout = Duration::from_millis(
        config
            .quorum_cnxn_timeout_ms
            .map(u64::from)
            .unwrap_or(tick_ms * u64::from(config.sync_limit))
            .max(100),
    );
    let election = ElectionPort::start(
        my_id,
        election_address.to_string(),
        election_listen,
        election_peers,
        connect_timeout,
        handshake_timeout,
        core_tx.clone(),
    )
    .map_err(|source| ServerError::Listen {
        address: election_listen.to_string(),
        source,
    })?;
    let no_delay = if me.role == PeerRole::Participant && config.servers.len() > 1 {
        // A server may lead or follow: ZooKeeper sets the quorum sockets'
        // TCP_NODELAY from leader.nodelay on the leader's side and
        // follower.nodelay on the learner's; both default to true.
        config.leader_nodelay && config.follower_nodelay
    } else {
        config.follower_nodelay
    };
    let learner_read_timeout =
        std::time::Duration::from_millis(config.tick_time_ms as u64 * config.init_limit as u64);
    let quorum = QuorumPort::new(
        core_tx.clone(),
        2 * config.jute_max_buffer,
        no_delay,
        learner_read_timeout,
    );
    let quorum_listener =
        election_port::bind(quorum_listen).map_err(|source| ServerError::Listen {
            address: quorum_listen.to_string(),
            source,
        })?;
    quorum.listen(quorum_listener)?;

    let settings = CoreSettings {
        my_id,
        shard_count: cores.len(),
        epoch_dir: snap_dir,
        tick_interval: Duration::from_millis((tick_ms / 10).clamp(5, 50)),
        quorum_addresses,
        // As `Learner.connectToLeader`: tickTime × connectToLearnerMasterLimit
        // when set, else × initLimit.
        learner_connect_timeout: Duration::from_millis(
            (tick_ms
                * u64::from(if config.connect_to_learner_master_limit > 0 {
                    config.connect_to_learner_master_limit
                } else {
                    config.init_limit
                }))
            .max(1000),
        ),
        snapshots: super::snapshot::SnapshotPolicy::new(config),
    };
    let core = Core::new(
        zab,
        settings,
        shared.clone(),
        core_rx,
        core_tx.clone(),
        persist_tx,
        election,
        quorum,
        events_tx.clone(),
        tree,
    );
    let core_thread = std::thread::Builder::new()
        .name("paddock-consensus".into())
        .spawn(move || core.run())?;

    // Stop signals: one thread waits for them and tells the main loop.
    let signals = super::block_stop_signals();
    {
        let events = events_tx.clone();
        std::thread::Builder::new()
            .name("paddock-signals".into())
            .spawn(move || {
                super::wait_for_stop_signal(signals);
                let _ = events.send(ServeEvent::Shutdown);
            })?;
    }

    super::admin_http::start(shared.clone());
    super::admin_http::start_metrics(shared.clone());
    log::info!(
        "server {my_id}: election on {election_listen}, quorum on {quorum_listen}, clients on {address} once synced (shards on cores {cores:?})"
    );

    let mut running: Vec<glommio::ExecutorJoinHandle<Result<(), ServerError>>> = Vec::new();
    let mut failed = None;
    loop {
        let event = if running.is_empty() {
            // Not serving: answer what ZooKeeper answers meanwhile.
            answer_while_not_serving(&listeners, &shared);
            match events_rx.recv_timeout(NOT_SERVING_POLL) {
                Ok(event) => event,
                Err(flume::RecvTimeoutError::Timeout) => continue,
                Err(flume::RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match events_rx.recv() {
                Ok(event) => event,
                Err(_) => break,
            }
        };
        match event {
            ServeEvent::Start(period) => {
                stop_shards(&shared, &mut running);
                match start_shards(&shared, &listeners, &query_receivers, *period, &core_tx) {
                    Ok(handles) => running = handles,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            ServeEvent::Stop => stop_shards(&shared, &mut running),
            ServeEvent::Shutdown => break,
        }
    }
    log::info!("shutting down: closing client connections, flushing the log");
    shared.shutdown.store(true, Ordering::Relaxed);
    stop_shards(&shared, &mut running);
    let _ = core_tx.send(CoreInput::Stop);
    if core_thread.join().is_err() {
        log::error!("consensus thread panicked");
    }
    if persist_thread.join().is_err() {
        log::error!("log core panicked");
    }
    log::info!("stopped");
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// How often a server that is not serving looks for client connections.
const NOT_SERVING_POLL: Duration = Duration::from_millis(50);

/// While no shard runs (LOOKING, or syncing), connections wait in the
/// client port's backlog. Take them here, as a ZooKeeper server that is not
/// running does: a four-letter word gets what ZooKeeper's answers then
/// (`ruok`, `envi`, `isro` = "null", `gtmk`/`stmk` as ever, the rest "not
/// currently serving requests"; the whitelist applies); a client's connect
/// is closed, and the client tries another server. Only this thread
/// accepts while no shard runs, so a socket `poll` reports readable is one
/// nobody else takes.
fn answer_while_not_serving(listeners: &[std::net::TcpListener], shared: &Arc<Shared>) {
    use std::os::fd::AsRawFd;
    let mut fds: Vec<libc::pollfd> = listeners
        .iter()
        .map(|l| libc::pollfd {
            fd: l.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: fds is a valid array of pollfd for the call's duration.
    let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
    if ready <= 0 {
        return;
    }
    for (listener, fd) in listeners.iter().zip(&fds) {
        if fd.revents & libc::POLLIN == 0 {
            continue;
        }
        let Ok((stream, _)) = listener.accept() else {
            continue;
        };
        let shared = shared.clone();
        let _ = std::thread::Builder::new()
            .name("paddock-not-serving".into())
            .spawn(move || answer_not_serving(stream, &shared));
    }
}

fn answer_not_serving(mut stream: std::net::TcpStream, shared: &Shared) {
    use crate::server::four_letter::{self, ConfInfo, ServerMode, ServerStats};
    use std::io::{Read, Write};
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut first = [0u8; 4];
    // Anything else (a client's ConnectRequest, an unknown word): ZooKeeper
    // closes it ("ZooKeeperServer not running").
    if stream.read_exact(&mut first).is_ok() {
        if let Some(word) = four_letter::word_from_bytes(&first) {
            let whitelist = &shared.config.four_letter_whitelist;
            let mut mask = [0u8; 8];
            if word == "stmk" && whitelist.allows(word) && stream.read_exact(&mut mask).is_ok() {
                shared.stats.set_trace_mask(i64::from_be_bytes(mask));
            }
            let mut s = ServerStats::new(
                four_letter::full_version(),
                ServerMode::Looking,
                ConfInfo::from_config(&shared.config),
            );
            s.serving = false;
            s.trace_mask = shared.stats.trace_mask();
            if word == "envi" {
                s.environment = four_letter::gather_environment();
            }
            let _ = stream.write_all(four_letter::render(word, &s, whitelist).as_bytes());
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn stop_shards(
    shared: &Arc<Shared>,
    running: &mut Vec<glommio::ExecutorJoinHandle<Result<(), ServerError>>>,
) {
    if running.is_empty() {
        return;
    }
    for query in &shared.queries {
        let _ = query.send(ShardQuery::Shutdown);
    }
    for handle in running.drain(..) {
        match handle.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => log::error!("shard stopped with an error: {e}"),
            Err(e) => log::error!("shard failed: {e}"),
        }
    }
    wake_stranded_accepts(shared);
    close_orphaned_client_sockets(shared.config.client_port);
}

/// On a blocking listener, io_uring runs an accept in a kernel worker that
/// sleeps in accept(2); when the shard's executor stops, such a worker can
/// outlive it and swallow the next client's connection long after. Connect
/// to our own client port a few times so that any stranded accept takes one
/// of these instead, then let the orphan sweep close what they accepted.
/// Connections no worker takes wait in the backlog and are answered (and
/// closed) like any other.
fn wake_stranded_accepts(shared: &Shared) {
    let port = shared.config.client_port;
    let address = match shared.config.client_port_address.as_deref() {
        Some(host) if host != "0.0.0.0" && host != "::" => match resolve(host, port) {
            Ok(address) => address,
            Err(_) => return,
        },
        _ => SocketAddr::from(([127, 0, 0, 1], port)),
    };
    let mut probes = Vec::new();
    for _ in 0..4 * shared.cores.len() {
        if let Ok(stream) =
            std::net::TcpStream::connect_timeout(&address, Duration::from_millis(50))
        {
            probes.push(stream);
        }
    }
    // Give a woken worker a moment to finish its accept.
    std::thread::sleep(Duration::from_millis(5));
    drop(probes);
}

/// An io_uring accept still in flight when a shard's executor stops can
/// complete after nobody polls for it: the kernel has then accepted a
/// client's connection into a file descriptor no task knows, and that
/// client waits for an answer until its own timeout (seen as 2 s stalls in
/// `measure/failover.sh`). Once every shard of a period has stopped, every
/// connected socket on the client port is such an orphan (the shards
/// closed all of theirs): close them, and those clients retry at once.
fn close_orphaned_client_sockets(client_port: u16) {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    let mut closed = 0;
    for fd in fds {
        // SAFETY: plain socket queries on a descriptor number; a non-socket
        // or closed descriptor just makes the calls fail.
        unsafe {
            let mut listening: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            if libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ACCEPTCONN,
                (&mut listening as *mut libc::c_int).cast(),
                &mut len,
            ) != 0
                || listening != 0
            {
                continue;
            }
            let mut address: libc::sockaddr_storage = std::mem::zeroed();
            let mut address_len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            if libc::getsockname(
                fd,
                (&mut address as *mut libc::sockaddr_storage).cast(),
                &mut address_len,
            ) != 0
            {
                continue;
            }
            let port = match i32::from(address.ss_family) {
                libc::AF_INET => {
                    let v4 =
                        &*(&address as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>();
                    u16::from_be(v4.sin_port)
                }
                libc::AF_INET6 => {
                    let v6 =
                        &*(&address as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>();
                    u16::from_be(v6.sin6_port)
                }
                _ => continue,
            };
            if port == client_port {
                libc::close(fd);
                closed += 1;
            }
        }
    }
    if closed > 0 {
        log::info!("closed {closed} client connection(s) accepted as the shards stopped");
    }
}

fn start_shards(
    shared: &Arc<Shared>,
    listeners: &[std::net::TcpListener],
    queries: &[flume::Receiver<ShardQuery>],
    period: Period,
    core: &flume::Sender<CoreInput>,
) -> Result<Vec<glommio::ExecutorJoinHandle<Result<(), ServerError>>>, ServerError> {
    let Period {
        role,
        epoch,
        tree,
        commits,
        to_sequencer,
        sequencer_input,
    } = period;
    for applied in &shared.applied_batches {
        applied.store(0, Ordering::Relaxed);
    }
    // Stale queries of the last period (progress notes) mean nothing now.
    for query in queries {
        while let Ok(stale) = query.try_recv() {
            drop(stale);
        }
    }
    shared
        .stats
        .last_applied_zxid
        .store(tree.last_zxid(), Ordering::Relaxed);
    let mut handles = Vec::new();
    for (index, (&cpu, commits)) in shared.cores.iter().zip(commits).enumerate() {
        let tree = tree.clone();
        let shared = shared.clone();
        let to_sequencer = to_sequencer.clone();
        let (sequencer_input, output) = match (&sequencer_input, index) {
            (Some(input), 0) => (
                Some(input.clone()),
                SequencerOutput::Consensus {
                    core: core.clone(),
                    epoch,
                },
            ),
            _ => (None, SequencerOutput::None),
        };
        let listener = listeners[index].try_clone()?;
        // leaderServes=no: the leader takes no client connections.
        let accept_clients = role != crate::zab::Role::Leading || shared.config.leader_serves;
        let queries = queries[index].clone();
        let args = ShardArgs {
            index,
            tree,
            shared,
            to_sequencer,
            sequencer_input,
            output,
            commits,
            queries,
            listener,
            accept_clients,
        };
        let handle = spawn_shard(cpu, args)?;
        handles.push(handle);
    }
    log::info!(
        "serving clients as {} (epoch {epoch}) on {} shard(s)",
        role.mode_name(),
        handles.len()
    );
    Ok(handles)
}

/// Several members of this ensemble on this host (the tutorial's one-host
/// ensemble, or a test rig) share its cores: unless `paddock.cores` says
/// otherwise, each takes its share of them, `cores / members here` (at
/// least one), the members taking turns in id order. Measured with three
/// servers on this 2-core machine (`measure/ensemble.py`, set 9×16):
/// one shard each on alternating cores did 22.9–23.8k sets/s at 65–67 µs
/// of server CPU per set, against 17.1–20.5k at 79–91 µs with two shards
/// each (six executors and their wake-ups on two cores); get 9×16 went
/// from 345k to 519k/s.
fn colocated_share(config: &Config, available: Vec<usize>) -> Vec<usize> {
    let Some(my_id) = config.my_id else {
        return available;
    };
    if config.tuning.cores_explicit {
        return available;
    }
    let local: Vec<u64> = config
        .servers
        .iter()
        .filter(|s| is_this_host(&s.host))
        .map(|s| s.id)
        .collect();
    let Some(rank) = local.iter().position(|&id| id == my_id) else {
        return available;
    };
    let share = cores_share(&available, rank, local.len());
    if share.len() < available.len() {
        log::info!(
            "{} members of this ensemble run on this host ({local:?}): server {my_id} takes cores {share:?} of {available:?} (paddock.cores overrides)",
            local.len()
        );
    }
    share
}

/// Member `rank` of `members` sharing `available`: `available.len() /
/// members` cores (at least one), consecutive, wrapping around.
fn cores_share(available: &[usize], rank: usize, members: usize) -> Vec<usize> {
    if available.is_empty() || members <= 1 {
        return available.to_vec();
    }
    let per = (available.len() / members).max(1);
    (0..per)
        .map(|k| available[(rank * per + k) % available.len()])
        .collect()
}

/// A `server.N` host that names this machine: a loopback address, or one
/// this host can bind (an address of one of its interfaces). A name that
/// does not resolve is taken as another host.
fn is_this_host(host: &str) -> bool {
    use std::net::ToSocketAddrs;
    let Ok(addresses) = (host, 0u16).to_socket_addrs() else {
        return false;
    };
    addresses.into_iter().any(|a| {
        let ip = a.ip();
        ip.is_loopback() || std::net::UdpSocket::bind((ip, 0)).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::{cores_share, is_this_host};

    #[test]
    fn members_on_one_host_take_turns_with_its_cores() {
        // The tutorial's three servers on a 2-core host: one core each.
        assert_eq!(cores_share(&[0, 1], 0, 3), vec![0]);
        assert_eq!(cores_share(&[0, 1], 1, 3), vec![1]);
        assert_eq!(cores_share(&[0, 1], 2, 3), vec![0]);
        // On 8 cores, two each, disjoint.
        assert_eq!(cores_share(&[0, 1, 2, 3, 4, 5, 6, 7], 2, 3), vec![4, 5]);
        // Alone on the host: every core.
        assert_eq!(cores_share(&[0, 1], 0, 1), vec![0, 1]);
    }

    #[test]
    fn loopback_is_this_host_and_a_documentation_address_is_not() {
        assert!(is_this_host("127.0.0.1"));
        assert!(is_this_host("127.0.0.3"));
        assert!(is_this_host("::1") || std::net::UdpSocket::bind("[::1]:0").is_err());
        assert!(!is_this_host("192.0.2.1"));
    }
}
