//! The runtime: the only part of paddock that touches sockets, files, threads
//! and cores. Protocol and consensus logic live in the pure modules; this
//! wires them together.
//!
//! Placement (standalone):
//!
//! | role | where |
//! |---|---|
//! | client shards | one glommio executor per configured core, each accepting on the client port (SO_REUSEPORT) with its own tree copy |
//! | sequencer + session tracker | a task on shard 0's executor (the consensus core) |
//! | log core | a dedicated OS thread (it may block in page faults and `msync`; no reactor ever does) |
//! | snapshots | a replica tree on its own thread, fed the durable batches (see `snapshot`) |
//!
//! Cross-core channels are wired once at start and bounded; a full channel
//! back-pressures the sender (a shard stops reading that client's socket).
//!
//! A write's reply leaves only once every shard has applied its batch
//! (`Shard::release_ready`), so what one client was told is written, every
//! client on every core reads — the guarantee a single ZooKeeper server
//! gives and that tests and recipes written against one rely on.

pub mod admin;
pub mod admin_http;
pub mod connection;
pub mod ensemble;
pub mod four_letter;
pub mod log_core;
pub mod messages;
mod notify;
pub mod sequencer;
pub mod shard;
pub mod snapshot;
pub mod stats;
pub mod sweep;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::fd::{FromRawFd, IntoRawFd};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use glommio::{LocalExecutorBuilder, Placement};

use crate::auth::enforce::AuthEnforcement;
use crate::config::Config;
use crate::data_tree::DataTree;
use crate::protocol::Request;
use crate::sessions::{first_session_id, SessionTracker};
use crate::storage::{self, LogConfig, TxnLog};
use crate::txn::{self, Txn};

use log_core::{GroupCommit, LogCore, LogInput, LogStats};
use messages::{CommitBatch, SequencerInput, WriteRequest};
use sequencer::{monotonic_ms, Sequencer, SequencerSettings};
use shard::Shard;
use stats::Stats;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0}")]
    Storage(#[from] storage::StorageError),
    #[error("cannot recover: {0}")]
    Recovery(String),
    #[error("cannot listen on {address}: {source}")]
    Listen { address: String, source: io::Error },
    #[error("cannot start executor for core {core}: {message}")]
    Executor { core: usize, message: String },
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("key '{key}': {message}")]
    Config { key: &'static str, message: String },
}

/// State every shard can read: configuration, counters, the per-IP
/// connection counts (`maxClientCnxns`), and the handles to ask every shard
/// for its part of a four-letter word.
pub struct Shared {
    pub config: Config,
    pub stats: Stats,
    pub log_stats: Arc<LogStats>,
    pub started: Instant,
    pub sasl_users: Option<Arc<HashMap<String, String>>>,
    /// `enforce.auth.*` / `sessionRequireClientSASLAuth`, resolved once.
    pub auth_enforcement: AuthEnforcement,
    per_ip: Mutex<HashMap<IpAddr, u32>>,
    pub shutdown: AtomicBool,
    pub queries: Vec<flume::Sender<ShardQuery>>,
    pub cores: Vec<usize>,
    /// The last batch each shard has applied.
    pub applied_batches: Vec<std::sync::atomic::AtomicU64>,
    /// Client requests each shard has taken in (Prometheus
    /// `paddock_shard_requests_total`); one padded counter per shard so the
    /// shards never write the same cache line.
    pub shard_requests: Vec<ShardCounter>,
    /// An ensemble member's consensus state, as the consensus thread last
    /// published it (None: standalone).
    pub ensemble: Option<EnsembleView>,
}

/// What status output (`srvr`, `mntr`, the AdminServer) reads of an
/// ensemble member.
pub struct EnsembleView {
    pub status: Mutex<crate::zab::Status>,
    /// Leader: `sync`s from learners waiting for their commit
    /// (`zk_pending_syncs`).
    pub pending_syncs: std::sync::atomic::AtomicU64,
    /// When this server last became leader, while it leads (None
    /// otherwise): `zk_leader_uptime` (`Leader.getUptime`).
    pub leading_since: Mutex<Option<std::time::Instant>>,
    /// Bytes of the proposals of this leadership, last/min/max, as
    /// `Leader.propose` counts them (the txn as proposed): `stat`'s
    /// "Proposal sizes" and mntr's `zk_*_proposal_size`; -1 before the first.
    pub proposal_last: std::sync::atomic::AtomicI64,
    pub proposal_min: std::sync::atomic::AtomicI64,
    pub proposal_max: std::sync::atomic::AtomicI64,
}

impl EnsembleView {
    /// A new leadership: its uptime starts now, its proposal sizes are
    /// unknown again (ZooKeeper's are the new `Leader`'s).
    pub fn started_leading(&self, now: std::time::Instant) {
        *self.leading_since.lock().unwrap_or_else(|e| e.into_inner()) = Some(now);
        for size in [&self.proposal_last, &self.proposal_min, &self.proposal_max] {
            size.store(-1, Ordering::Relaxed);
        }
    }

    pub fn stopped_leading(&self) {
        *self.leading_since.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Called by the consensus thread only (the one writer).
    pub fn proposed(&self, bytes: usize) {
        let bytes = bytes as i64;
        self.proposal_last.store(bytes, Ordering::Relaxed);
        let min = self.proposal_min.load(Ordering::Relaxed);
        if min < 0 || bytes < min {
            self.proposal_min.store(bytes, Ordering::Relaxed);
        }
        if bytes > self.proposal_max.load(Ordering::Relaxed) {
            self.proposal_max.store(bytes, Ordering::Relaxed);
        }
    }

    pub fn leader_uptime_ms(&self) -> Option<u64> {
        self.leading_since
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map(|since| since.elapsed().as_millis() as u64)
    }

    /// -1/-1/-1 before the first proposal, as ZooKeeper prints them.
    pub fn proposal_sizes(&self) -> four_letter::ResponseSizes {
        four_letter::ResponseSizes {
            last: self.proposal_last.load(Ordering::Relaxed),
            min: self.proposal_min.load(Ordering::Relaxed),
            max: self.proposal_max.load(Ordering::Relaxed),
        }
    }

    pub fn status(&self) -> crate::zab::Status {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A counter only its shard writes, alone on its cache line.
#[repr(align(128))]
#[derive(Default)]
pub struct ShardCounter(pub std::sync::atomic::AtomicU64);

impl Shared {
    pub fn refusing_writes(&self) -> bool {
        self.log_stats.failed.load(Ordering::Relaxed)
    }

    /// Counts a new connection from `ip`; false when `maxClientCnxns` is
    /// reached (the connection is then refused).
    fn admit_ip(&self, ip: IpAddr) -> bool {
        let max = self.config.max_client_cnxns;
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        let count = per_ip.entry(ip).or_insert(0);
        if max > 0 && *count >= max {
            return false;
        }
        *count += 1;
        true
    }

    pub fn release_ip(&self, ip: IpAddr) {
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = per_ip.get_mut(&ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                per_ip.remove(&ip);
            }
        }
    }
}

/// A question one shard asks every shard (for `cons`, `wchc`, …), or the
/// order to stop.
pub enum ShardQuery {
    Report(flume::Sender<ShardReport>),
    /// Another shard applied more batches: replies held here may be ready.
    Progress,
    ResetConnectionStats,
    /// From the AdminServer's thread: gather every shard's stats (as a
    /// four-letter word does) and send them back.
    Stats(flume::Sender<four_letter::ServerStats>),
    Shutdown,
}

/// One shard's part of a four-letter word.
#[derive(Default)]
pub struct ShardReport {
    pub shard: usize,
    pub connections: Vec<four_letter::ConnectionInfo>,
    /// (session, path) of every data watch (what wchs/wchc/wchp list).
    pub data_watches: Vec<(i64, String)>,
    pub watch_count: usize,
    pub outstanding: usize,
    /// Shard 0 only: the session tracker's expiry buckets, (wall-clock ms,
    /// session ids).
    pub session_sets: Vec<(i64, Vec<i64>)>,
    /// Every connection's place in ZooKeeper's connection expiry queue:
    /// (elapsed-time ms of its bucket, Java address, session id).
    pub connection_expiries: Vec<(i64, String, i64)>,
}

/// Raises RLIMIT_MEMLOCK (glommio's io_uring rings and buffers are locked
/// memory). Returns a clear message when the limit is too low and cannot be
/// raised.
pub fn ensure_memlock(cores: usize) -> Result<(), String> {
    let needed = crate::ops::host::memlock_needed_bytes(cores);
    // SAFETY: getrlimit/setrlimit write/read a plain struct we own.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) != 0 {
            return Ok(());
        }
        if limit.rlim_cur == libc::RLIM_INFINITY || limit.rlim_cur >= needed {
            return Ok(());
        }
        let wanted = libc::rlimit {
            rlim_cur: libc::RLIM_INFINITY,
            rlim_max: libc::RLIM_INFINITY,
        };
        if libc::setrlimit(libc::RLIMIT_MEMLOCK, &wanted) == 0 {
            return Ok(());
        }
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max.max(limit.rlim_cur),
            rlim_max: limit.rlim_max,
        };
        if raised.rlim_cur >= needed && libc::setrlimit(libc::RLIMIT_MEMLOCK, &raised) == 0 {
            return Ok(());
        }
        Err(format!(
            "io_uring is not allowed: the locked-memory limit (ulimit -l) is {} KiB; paddock needs at least {} KiB for {cores} io_uring executors. {}",
            limit.rlim_cur / 1024,
            needed / 1024,
            crate::ops::doctor::memlock_fix()
        ))
    }
}

/// Bounds of the cross-core channels, wired once at start (a full channel
/// makes its sender wait, which is the back-pressure). Shards → log core:
/// txns waiting for the next flush; one flush takes what is queued, so this
/// only needs to cover a flush's worth of bursts.
const LOG_INPUT_CAPACITY: usize = 1024;
/// Shards → sequencer: writes of every shard's clients share it, so it is
/// the largest (16 shards × 1024 outstanding writes).
const SEQUENCER_INPUT_CAPACITY: usize = 16 * 1024;
/// Log core → each shard: committed batches a shard has not applied yet; a
/// shard that falls this far behind slows the log core rather than grow
/// without bound.
const COMMIT_BATCHES_PER_SHARD_CAPACITY: usize = 4096;
/// Log core → snapshot replica: bundles of batches (each up to 512).
const REPLICA_BUNDLES_CAPACITY: usize = 1024;

/// Tries `io_uring_setup` once before any executor starts, so that a
/// seccomp filter, the `kernel.io_uring_disabled` sysctl or a low memlock
/// limit stops the server at once with the cause and the fix (the same
/// words `paddock doctor` uses) rather than as a failed executor later.
pub fn ensure_io_uring() -> Result<(), String> {
    let facts = crate::ops::host::uring_facts();
    match crate::ops::doctor::uring_problem(&facts) {
        None => Ok(()),
        Some(problem) => Err(format!("io_uring is not allowed here: {problem}")),
    }
}

/// glommio's registered I/O buffer per executor.
const IO_MEMORY_BYTES: usize = crate::ops::host::IO_MEMORY_BYTES;

/// The state recovered from disk: tree, and where the log stands.
pub struct Recovered {
    pub tree: DataTree,
    pub log: TxnLog,
    pub snapshot_zxid: i64,
    /// The loaded snapshot's size (None: recovered from the log alone).
    pub snapshot_bytes: Option<u64>,
    pub replayed: u64,
}

pub fn snapshot_dir(config: &Config) -> PathBuf {
    config.data_dir.join("version-2")
}

pub fn log_dir(config: &Config) -> PathBuf {
    config.data_log_dir.join("version-2")
}

/// Newest valid snapshot, then every logged txn after it.
pub fn recover(config: &Config) -> Result<Recovered, ServerError> {
    let snap_dir = snapshot_dir(config);
    std::fs::create_dir_all(&snap_dir)?;
    let mut log_config = LogConfig::new(log_dir(config));
    log_config.preallocate_bytes = config.pre_alloc_size_kb.max(64) * 1024;
    let (log, recovery) = TxnLog::open(log_config)?;
    if let Some(tail) = &recovery.truncated {
        log::warn!(
            "transaction log: cut a torn or corrupt tail off {} at offset {}: {}",
            tail.segment.display(),
            tail.offset,
            tail.reason
        );
    }
    let (mut tree, snapshot_zxid, snapshot_bytes) = match storage::latest_snapshot(&snap_dir)? {
        Some((zxid, body)) => {
            let tree = DataTree::deserialize(&body).map_err(|e| {
                ServerError::Recovery(format!("snapshot 0x{zxid:x} does not decode: {e}"))
            })?;
            log::info!("loaded snapshot 0x{zxid:x} ({} znodes)", tree.node_count());
            (tree, zxid, Some(body.len() as u64))
        }
        None => (DataTree::new(), 0, None),
    };
    let mut replayed = 0u64;
    for record in log.read_after(tree.last_zxid())? {
        let (zxid, payload) = record?;
        let txn = Txn::decode(&payload).map_err(|e| {
            ServerError::Recovery(format!("logged txn 0x{zxid:x} does not decode: {e}"))
        })?;
        txn::apply(&mut tree, &txn);
        replayed += 1;
    }
    log::info!(
        "recovered to zxid 0x{:x}: snapshot 0x{snapshot_zxid:x} + {replayed} logged txns, {} znodes, {} sessions",
        tree.last_zxid(),
        tree.node_count(),
        tree.sessions().count()
    );
    Ok(Recovered {
        tree,
        snapshot_bytes,
        log,
        snapshot_zxid,
        replayed,
    })
}

/// The cores this server runs shards on.
pub fn shard_cores(config: &Config) -> Vec<usize> {
    let cores = config.tuning.cores.clone();
    if cores.is_empty() {
        vec![0]
    } else {
        cores
    }
}

/// Runs the server until SIGTERM / SIGINT. Blocks the calling thread.
pub fn run(config: Config) -> Result<(), ServerError> {
    if !config.is_standalone() {
        return ensemble::run(config);
    }
    log::info!(
        "paddock {} starting: config {}, data {}, log {}",
        env!("CARGO_PKG_VERSION"),
        config
            .config_path
            .as_ref()
            .map_or("(built-in default)".to_string(), |p| p
                .display()
                .to_string()),
        config.data_dir.display(),
        config.data_log_dir.display()
    );
    let cores = shard_cores(&config);
    let address = client_address(&config);
    // One listening socket per shard, all bound here so that a port we
    // cannot have stops the server at once with a clear error.
    let mut listeners =
        bind_client_listeners(&address, cores.len(), config.client_port_listen_backlog)?;

    let recovered = recover(&config)?;
    let Recovered { tree, log, .. } = recovered;

    let (to_log, log_input) = flume::bounded::<LogInput>(LOG_INPUT_CAPACITY);
    let (to_sequencer, sequencer_input) =
        flume::bounded::<SequencerInput>(SEQUENCER_INPUT_CAPACITY);
    let mut commit_senders = Vec::new();
    let mut commit_receivers = Vec::new();
    let mut query_senders = Vec::new();
    let mut query_receivers = Vec::new();
    for _ in &cores {
        let (tx, rx) = flume::bounded::<CommitBatch>(COMMIT_BATCHES_PER_SHARD_CAPACITY);
        commit_senders.push(tx);
        commit_receivers.push(rx);
        let (tx, rx) = flume::unbounded::<ShardQuery>();
        query_senders.push(tx);
        query_receivers.push(rx);
    }

    let log_stats = Arc::new(LogStats::default());
    log_stats
        .durable_zxid
        .store(log.durable_zxid(), Ordering::Relaxed);
    let sasl_users = load_sasl_users(&config);
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
        sasl_users,
        per_ip: Mutex::new(HashMap::new()),
        shutdown: AtomicBool::new(false),
        queries: query_senders.clone(),
        cores: cores.clone(),
        applied_batches: cores
            .iter()
            .map(|_| std::sync::atomic::AtomicU64::new(0))
            .collect(),
        shard_requests: cores.iter().map(|_| ShardCounter::default()).collect(),
        ensemble: None,
        config,
    });
    shared
        .stats
        .last_applied_zxid
        .store(tree.last_zxid(), Ordering::Relaxed);

    let config = &shared.config;
    let policy = GroupCommit {
        batch_txns_max: config.tuning.batch_txns_max,
        batch_bytes_max: config.tuning.batch_bytes_max,
        wait: Duration::from_micros(config.tuning.group_commit_wait_micros),
    };
    // The snapshot replica (see `snapshot`): one more tree copy on its own
    // thread, so that snapshots never hold up writes.
    let mut replica_sender = None;
    let mut replica_thread = None;
    if config.tuning.snapshot_replica {
        let (tx, rx) = flume::bounded::<Vec<CommitBatch>>(REPLICA_BUNDLES_CAPACITY);
        replica_sender = Some(tx);
        let replica_tree = tree.clone();
        let policy = snapshot::SnapshotPolicy::new(config);
        let to_log = to_log.clone();
        replica_thread = Some(
            std::thread::Builder::new()
                .name("paddock-snapshot".into())
                .spawn(move || snapshot::run_replica(replica_tree, rx, policy, to_log))?,
        );
    }
    let log_core = LogCore {
        log,
        input: log_input,
        shards: commit_senders,
        policy,
        stats: log_stats,
        fsync_warning: Duration::from_millis(config.fsync_warning_threshold_ms),
        batch_seq: 0,
        replica: replica_sender,
        replica_pending: Vec::new(),
        replica_sent: Instant::now(),
    };
    let log_core_cpu = config.tuning.log_core;
    let log_thread = std::thread::Builder::new()
        .name("paddock-log".into())
        .spawn(move || {
            if let Some(cpu) = log_core_cpu {
                pin_current_thread(cpu);
            }
            log_core.run()
        })?;

    // Every shard starts from the same recovered tree: clones share node
    // data, paths and ACLs, only the per-node metadata is copied.
    let mut first_tree = Some(tree);

    // Block the stop signals in every thread we start; one thread waits for them.
    let signals = block_stop_signals();

    let mut executors = Vec::new();
    for (index, (&core, (commits, queries))) in cores
        .iter()
        .zip(commit_receivers.into_iter().zip(query_receivers))
        .enumerate()
    {
        let tree = if index + 1 == cores.len() {
            first_tree
                .take()
                .ok_or_else(|| ServerError::Recovery("no tree to start from".into()))?
        } else {
            first_tree
                .as_ref()
                .ok_or_else(|| ServerError::Recovery("no tree to start from".into()))?
                .clone()
        };
        let shared = shared.clone();
        let to_sequencer = to_sequencer.clone();
        let sequencer_input = if index == 0 {
            Some(sequencer_input.clone())
        } else {
            None
        };
        let output = SequencerOutput::Log(to_log.clone());
        let listener = listeners.remove(0);
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
            accept_clients: true,
        };
        let handle = spawn_shard(core, args)?;
        executors.push(handle);
    }
    drop(to_sequencer);
    drop(sequencer_input);

    log::info!(
        "paddock serving {} on {} (shards on cores {:?}, data {}, log {})",
        if shared.config.is_standalone() {
            "standalone"
        } else {
            "ensemble member"
        },
        address,
        cores,
        shared.config.data_dir.display(),
        shared.config.data_log_dir.display()
    );

    // After the client port: a busy admin port is logged, never fatal.
    admin_http::start(shared.clone());
    admin_http::start_metrics(shared.clone());

    wait_for_stop_signal(signals);
    log::info!("shutting down: closing client connections, flushing the log");
    shared.shutdown.store(true, Ordering::Relaxed);
    for query in &shared.queries {
        let _ = query.send(ShardQuery::Shutdown);
    }
    let mut failed = None;
    for handle in executors {
        match handle.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failed = Some(e),
            Err(e) => {
                failed = Some(ServerError::Executor {
                    core: 0,
                    message: e.to_string(),
                })
            }
        }
    }
    let _ = to_log.send(LogInput::Shutdown);
    drop(to_log);
    if log_thread.join().is_err() {
        log::error!("log core panicked");
    }
    if let Some(replica) = replica_thread {
        if replica.join().is_err() {
            log::error!("snapshot replica panicked");
        }
    }
    log::info!("stopped");
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn client_address(config: &Config) -> String {
    let host = config
        .client_port_address
        .clone()
        .unwrap_or_else(|| "0.0.0.0".to_string());
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{}", config.client_port)
    } else {
        format!("{host}:{}", config.client_port)
    }
}

/// Binds `count` listening sockets on `address`, in one SO_REUSEPORT group
/// (the kernel spreads new connections over the shards) and with
/// SO_REUSEADDR (connections of a previous server lingering in TIME_WAIT do
/// not block the port).
fn bind_client_listeners(
    address: &str,
    count: usize,
    backlog: i32,
) -> Result<Vec<std::net::TcpListener>, ServerError> {
    let listen_error = |source| ServerError::Listen {
        address: address.to_string(),
        source,
    };
    let addr: SocketAddr = address
        .to_socket_addrs()
        .map_err(listen_error)?
        .next()
        .ok_or_else(|| listen_error(io::Error::new(io::ErrorKind::InvalidInput, "no address")))?;
    wait_until_nobody_listens(addr.port()).map_err(listen_error)?;
    let backlog = if backlog > 0 { backlog } else { 1024 };
    (0..count)
        .map(|_| {
            let socket = socket2::Socket::new(
                socket2::Domain::for_address(addr),
                socket2::Type::STREAM,
                None,
            )
            .map_err(listen_error)?;
            socket.set_reuse_address(true).map_err(listen_error)?;
            socket.set_reuse_port(true).map_err(listen_error)?;
            socket.bind(&addr.into()).map_err(listen_error)?;
            socket.listen(backlog).map_err(listen_error)?;
            Ok(socket.into())
        })
        .collect()
}

/// Our listeners use SO_REUSEPORT, which would silently share the port with
/// another listener (a second paddock, or the listener of a process just
/// killed with -9, which io_uring releases asynchronously) — and the kernel
/// would hand some new clients to a socket nobody accepts from. So wait,
/// briefly, until nobody listens on the port; then fail clearly.
fn wait_until_nobody_listens(port: u16) -> io::Result<()> {
    let deadline = Instant::now() + PORT_WAIT;
    while is_listening(port) {
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                "another process listens on this port",
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// True when some socket listens on `port` (from /proc/net/tcp and tcp6).
fn is_listening(port: u16) -> bool {
    const TCP_LISTEN: &str = "0A";
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|table| {
        let Ok(text) = std::fs::read_to_string(table) else {
            return false;
        };
        text.lines().skip(1).any(|line| {
            let mut fields = line.split_whitespace();
            let local = fields.nth(1).unwrap_or("");
            let state = fields.nth(1).unwrap_or("");
            let local_port = local
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            state == TCP_LISTEN && local_port == Some(port)
        })
    })
}

/// How long to wait for a client port still held by a dead process.
const PORT_WAIT: Duration = Duration::from_secs(10);

fn load_sasl_users(config: &Config) -> Option<Arc<HashMap<String, String>>> {
    let path = config.jaas_config.as_ref()?;
    match crate::auth::jaas::parse(path) {
        Ok(jaas) => match jaas.section_users(&config.sasl_server_section) {
            Some(users) => Some(Arc::new(users.clone())),
            None => {
                log::warn!(
                    "{}: no '{}' section; SASL disabled",
                    path.display(),
                    config.sasl_server_section
                );
                None
            }
        },
        Err(e) => {
            log::error!("{e}; SASL disabled");
            None
        }
    }
}

fn pin_current_thread(cpu: usize) {
    // SAFETY: cpu_set_t is plain data; sched_setaffinity reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            log::warn!(
                "cannot pin the log core to cpu {cpu}: {}",
                io::Error::last_os_error()
            );
        }
    }
}

fn block_stop_signals() -> libc::sigset_t {
    // SAFETY: sigset manipulation on a local set, then masking this thread
    // (threads started after inherit it).
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

fn wait_for_stop_signal(set: libc::sigset_t) {
    let mut signal = 0;
    // SAFETY: sigwait on a set blocked in this thread.
    unsafe {
        libc::sigwait(&set, &mut signal);
    }
    log::info!("received signal {signal}");
}

/// Starts one shard's executor, pinned to `cpu`.
fn spawn_shard(
    cpu: usize,
    args: ShardArgs,
) -> Result<glommio::ExecutorJoinHandle<Result<(), ServerError>>, ServerError> {
    let spin_micros = args.shared.config.tuning.spin_before_park_micros;
    LocalExecutorBuilder::new(Placement::Fixed(cpu))
        .name(&format!("paddock-shard-{}", args.index))
        .io_memory(IO_MEMORY_BYTES)
        .spin_before_park(Duration::from_micros(spin_micros))
        .spawn(move || async move { shard_main(args).await })
        .map_err(|e| ServerError::Executor {
            core: cpu,
            // The io_uring check ran at start; say again what blocks it
            // if that is why this executor could not be made.
            message: match ensure_io_uring() {
                Ok(()) => e.to_string(),
                Err(why) => format!("{e}; {why}"),
            },
        })
}

struct ShardArgs {
    index: usize,
    tree: DataTree,
    shared: Arc<Shared>,
    to_sequencer: flume::Sender<SequencerInput>,
    /// The sequencer's input, on the shard that runs it (shard 0 of a
    /// standalone server or of an ensemble leader).
    sequencer_input: Option<flume::Receiver<SequencerInput>>,
    output: SequencerOutput,
    commits: flume::Receiver<CommitBatch>,
    queries: flume::Receiver<ShardQuery>,
    listener: std::net::TcpListener,
    /// False on an ensemble leader with leaderServes=no.
    accept_clients: bool,
}

/// Where the sequencer's output goes.
#[derive(Clone)]
enum SequencerOutput {
    /// Standalone: to the log core, which publishes after its flush.
    Log(flume::Sender<LogInput>),
    /// Ensemble leader of `epoch`: to the consensus thread, which proposes.
    Consensus {
        core: flume::Sender<ensemble::CoreInput>,
        epoch: i64,
    },
    /// Ensemble learner: no sequencer.
    None,
}

async fn shard_main(args: ShardArgs) -> Result<(), ServerError> {
    let ShardArgs {
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
    } = args;
    let config = &shared.config;
    let to_log = match &output {
        SequencerOutput::Log(to_log) => Some(to_log.clone()),
        _ => None,
    };
    let mut shard = Shard::new(index, tree, to_sequencer.clone(), shared.clone());

    let mut snapshotter = None;
    if let Some(input) = sequencer_input {
        // The consensus core: sequencer, session tracker, cleanup timers.
        let now = monotonic_ms();
        let mut tracker = SessionTracker::new(config.tick_time_ms as u64);
        let mut recovered = Vec::new();
        for (id, timeout_ms) in shard.tree.borrow().sessions() {
            tracker.add(id, timeout_ms, now);
            recovered.push(id);
        }
        let my_id = config.my_id.unwrap_or(0) as u8;
        let next_session_id = first_session_id(my_id, sequencer::wall_clock_ms() as u64, recovered);
        let settings = SequencerSettings {
            extended_types_enabled: config.extended_types_enabled,
            max_buffer_bytes: config.jute_max_buffer,
            batch_txns_max: config.tuning.batch_txns_max,
        };
        let sequencer = Rc::new(std::cell::RefCell::new(Sequencer::new(
            shard.tree.clone(),
            tracker,
            next_session_id,
            settings,
        )));
        shard.sequencer = Some(sequencer.clone());
        match &output {
            SequencerOutput::Log(to_log) => {
                glommio::spawn_local(sequencer::run(
                    sequencer.clone(),
                    input,
                    to_log.clone(),
                    LogInput::Batch,
                ))
                .detach();
            }
            SequencerOutput::Consensus { core, epoch } => {
                sequencer.borrow_mut().start_epoch(*epoch);
                glommio::spawn_local(sequencer::run(
                    sequencer.clone(),
                    input,
                    core.clone(),
                    ensemble::CoreInput::Sequenced,
                ))
                .detach();
            }
            SequencerOutput::None => {}
        }
        glommio::spawn_local(expiry_loop(
            sequencer,
            to_sequencer.clone(),
            config.tick_time_ms as u64,
        ))
        .detach();
    }
    // Without a snapshot replica, the last shard of a standalone server
    // serializes its own tree (an ensemble member's consensus thread takes
    // its snapshots).
    if let Some(to_log) =
        to_log.filter(|_| index + 1 == shared.cores.len() && !config.tuning.snapshot_replica)
    {
        let policy = snapshot::SnapshotPolicy::new(config);
        snapshotter = Some(snapshot::InShardSnapshots::new(policy, to_log));
    }
    let runs_sequencer = shard.sequencer.is_some();
    let shard = Rc::new(shard);

    // Apply the commit stream.
    {
        let shard = shard.clone();
        let mut snapshotter = snapshotter;
        glommio::spawn_local(async move {
            while let Ok(batch) = commits.recv_async().await {
                shard.apply_batch(&batch);
                if let Some(snapshotter) = snapshotter.as_mut() {
                    snapshotter.after_batch(&shard.tree.borrow(), &batch);
                }
            }
        })
        .detach();
    }

    // Report session activity to the tracker.
    {
        let shard = shard.clone();
        let interval = Duration::from_millis(config.tuning.session_touch_interval_ms.max(10));
        glommio::spawn_local(async move {
            loop {
                glommio::timer::sleep(interval).await;
                if let Some(report) = shard.report_touches() {
                    if shard.to_sequencer.send_async(report).await.is_err() {
                        break;
                    }
                }
            }
        })
        .detach();
    }

    // Containers and TTL nodes: where the sequencer runs (standalone, or
    // the ensemble's leader), as ZooKeeper's leader-only ContainerManager.
    if runs_sequencer {
        let shard = shard.clone();
        let interval = Duration::from_millis(config.tuning.container_check_interval_ms.max(10));
        let spacing = sweep::deletion_spacing(config.tuning.container_max_per_minute);
        glommio::spawn_local(async move {
            loop {
                glommio::timer::sleep(interval).await;
                let doomed = {
                    let tree = shard.tree.borrow();
                    let mut doomed = tree.containers_to_delete();
                    doomed.extend(tree.ttl_expired(sequencer::wall_clock_ms()));
                    doomed
                };
                for path in doomed {
                    let started = Instant::now();
                    let write = WriteRequest {
                        origin: None,
                        session_id: 0,
                        cxid: 0,
                        request: Request::DeleteContainer { path },
                        auth: Vec::new(),
                        is_super: true,
                        learner: None,
                    };
                    if shard
                        .to_sequencer
                        .send_async(SequencerInput::Write(write))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    let pause = sweep::pause_after(spacing, started.elapsed());
                    if !pause.is_zero() {
                        glommio::timer::sleep(pause).await;
                    }
                }
            }
        })
        .detach();
    }

    // Accept clients.
    // SAFETY: the fd is a bound, listening TCP socket that we own and hand
    // over whole (into_raw_fd gives up the std listener's ownership).
    let listener = unsafe { glommio::net::TcpListener::from_raw_fd(listener.into_raw_fd()) };
    {
        let shard = shard.clone();
        let no_delay = config.tuning.socket_no_delay;
        glommio::spawn_local(async move {
            loop {
                let stream = match listener.accept().await {
                    Ok(stream) => stream,
                    Err(e) => {
                        log::warn!("accept failed: {e}");
                        glommio::timer::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let Ok(peer) = stream.peer_addr() else {
                    continue;
                };
                if shard.shared.shutdown.load(Ordering::Relaxed) {
                    break;
                }
                if !accept_clients {
                    log::debug!("leaderServes=no: refusing client {peer}");
                    continue;
                }
                let max_cnxns = shard.shared.config.max_cnxns;
                if max_cnxns > 0
                    && shard.shared.stats.connections_alive.load(Ordering::Relaxed)
                        >= max_cnxns as i64
                {
                    log::warn!(
                        "too many connections: max is {max_cnxns} (maxCnxns); refusing {peer}"
                    );
                    continue;
                }
                if !shard.shared.admit_ip(peer.ip()) {
                    log::warn!(
                        "too many connections from {} - max is {}",
                        peer.ip(),
                        shard.shared.config.max_client_cnxns
                    );
                    continue;
                }
                let _ = stream.set_nodelay(no_delay);
                glommio::spawn_local(connection::serve(shard.clone(), stream, peer)).detach();
            }
        })
        .detach();
    }

    // Answer queries until told to stop.
    while let Ok(query) = queries.recv_async().await {
        match query {
            ShardQuery::Report(reply) => {
                let _ = reply.send(shard_report(&shard));
            }
            ShardQuery::ResetConnectionStats => {
                for conn in shard.conns.borrow().values() {
                    conn.reset_counters();
                }
            }
            ShardQuery::Progress => shard.release_ready(),
            ShardQuery::Stats(reply) => {
                let shard = shard.clone();
                glommio::spawn_local(async move {
                    let _ = reply.send(admin::server_stats(&shard).await);
                })
                .detach();
            }
            ShardQuery::Shutdown => break,
        }
    }
    let conns: Vec<_> = shard.conns.borrow().values().cloned().collect();
    for conn in conns {
        conn.close();
    }
    // Let the connection tasks see the close.
    glommio::timer::sleep(Duration::from_millis(20)).await;
    Ok(())
}

/// Expires sessions that have not been heard from: every half tick, the
/// tracker's overdue sessions get a closeSession txn.
async fn expiry_loop(
    sequencer: Rc<std::cell::RefCell<Sequencer>>,
    to_sequencer: flume::Sender<SequencerInput>,
    tick_ms: u64,
) {
    let interval = Duration::from_millis((tick_ms / 2).clamp(10, 1000));
    loop {
        glommio::timer::sleep(interval).await;
        let expired = sequencer.borrow_mut().tracker.expired(monotonic_ms());
        for session_id in expired {
            log::info!("expiring session 0x{session_id:x}");
            let write = WriteRequest {
                origin: None,
                session_id,
                cxid: 0,
                request: Request::CloseSession,
                auth: Vec::new(),
                is_super: true,
                learner: None,
            };
            if to_sequencer
                .send_async(SequencerInput::Write(write))
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

pub(crate) fn shard_report(shard: &Shard) -> ShardReport {
    admin::shard_report(shard)
}
