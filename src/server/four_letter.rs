//! The text of ZooKeeper's four-letter words (`printf mntr | nc host 2181`).
//!
//! Pure formatting: the server fills a [`ServerStats`] snapshot and calls
//! [`render`]; this file does no I/O (except [`gather_environment`], which the
//! server calls once at start). The formats are ZooKeeper 3.8.0's, taken from
//! its command classes (`server/command/*.java`, `ServerStats.toString`,
//! `ServerCnxn.dumpConnectionInfo`, `WatchManager.dumpWatches`) and checked
//! line by line against Debian's 3.8.0 server (fixtures under
//! `tests/fixtures/four_letter/zk-3.8.0/`).
//!
//! How the server uses it:
//! 1. the first 4 bytes of a new connection are a word when
//!    [`word_from_bytes`] says so (ZooKeeper reads them as a frame length
//!    otherwise); `stmk` is followed by an 8-byte mask;
//! 2. `render(word, &stats, &whitelist)` gives the whole reply; the server
//!    writes it and closes the connection;
//! 3. side effects are the server's: `crst` resets per-connection stats, `srst`
//!    resets server stats (latency, packet counts), `stmk` sets the trace mask.
//!
//! Differences kept on purpose: `mntr` lists keys in a fixed order (ZooKeeper
//! prints a hash map's order) and adds `zk_fsync_threshold_exceed_count`
//! (3.4's key, which ZooKeeper's own tests and many monitors still expect);
//! watch listings are sorted by session id / path; in `dump`, the members of
//! one expiry bucket come in session-id order (ZooKeeper's are in identity-
//! hash order, which nothing can reproduce), and each session's ephemeral
//! paths in the data tree's order.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use crate::config::{Config, PeerRole, ServerEntry, Whitelist, KNOWN_FOUR_LETTER_WORDS};

/// ZooKeeper's reply when the server is not serving (`AbstractFourLetterCommand.ZK_NOT_SERVING`).
pub const ZK_NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// The ZooKeeper release paddock speaks.
pub const ZOOKEEPER_COMPAT_VERSION: &str = "3.8.0";

/// ZooKeeper's default trace mask (`ZooTrace`), printed by `gtmk`.
pub const DEFAULT_TRACE_MASK: i64 = 306;

/// When this binary was built, as `build.rs` stamped it: ZooKeeper 3.8's
/// `yyyy-MM-dd HH:mm UTC` (from `SOURCE_DATE_EPOCH` when set).
pub const BUILD_DATE: &str = env!("PADDOCK_BUILD_DATE");

/// `Version.getFullVersion()` for paddock:
/// "3.8.0-paddock-<crate version>, built on <build date>". Kazoo's
/// `server_version()` reads the numbers before the first '-'.
pub fn full_version() -> String {
    full_version_built_on(BUILD_DATE)
}

/// [`full_version`] with another build date (for tests).
pub fn full_version_built_on(built_on: &str) -> String {
    format!(
        "{ZOOKEEPER_COMPAT_VERSION}-paddock-{}, built on {built_on}",
        env!("CARGO_PKG_VERSION")
    )
}

/// How many packets ZooKeeper counts as sent for a word's reply of `bytes`:
/// its `PrintWriter` sits on an 8192-char `BufferedWriter`, and each chunk it
/// hands down goes out as one `sendBufferSync` (an empty reply sends none).
pub fn reply_packets(bytes: usize) -> u64 {
    bytes.div_ceil(8192) as u64
}

/// Client response sizes (`BufferStats`): -1 until the first response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseSizes {
    pub last: i64,
    pub min: i64,
    pub max: i64,
}

impl Default for ResponseSizes {
    fn default() -> ResponseSizes {
        ResponseSizes {
            last: -1,
            min: -1,
            max: -1,
        }
    }
}

/// The iteration order of a `ConcurrentHashMap<Long, _>` holding `ids`
/// (ZooKeeper's `DataTree.ephemerals`, which `dump` walks): by bin of the
/// spread `Long.hashCode`, in a table of 16 bins doubled whenever the map
/// reaches 3/4 of it. Within a bin the map keeps insertion order; sessions
/// are numbered in creation order, so ascending ids stand for it. The model
/// sizes the table from the ids present; ZooKeeper's never shrinks, so after
/// more than 11 sessions with ephemerals have come and gone its order can
/// differ from this one.
pub fn java_long_map_order(ids: &[i64]) -> Vec<i64> {
    let mut unique: Vec<i64> = ids.to_vec();
    unique.sort_unstable();
    unique.dedup();
    let mut bins = 16usize;
    // `addCount` resizes once the count reaches sizeCtl = 0.75 * bins.
    while unique.len() >= bins - bins / 4 {
        bins *= 2;
    }
    let bin_of = |id: i64| {
        let v = id as u64;
        let h = (v ^ (v >> 32)) as u32;
        (((h ^ (h >> 16)) & 0x7fff_ffff) as usize) & (bins - 1)
    };
    unique.sort_by_key(|id| (bin_of(*id), *id));
    unique
}

/// The server's role as ZooKeeper names it in `Mode:` and `zk_server_state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerMode {
    Standalone,
    Leader,
    Follower,
    Observer,
    ReadOnly,
    /// An ensemble member electing a leader (not serving: most words
    /// answer [`ZK_NOT_SERVING`]).
    Looking,
}

impl ServerMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerMode::Standalone => "standalone",
            ServerMode::Leader => "leader",
            ServerMode::Follower => "follower",
            ServerMode::Observer => "observer",
            ServerMode::ReadOnly => "read-only",
            ServerMode::Looking => "looking",
        }
    }
}

/// Request latency in ms (`AvgMinMaxCounter`): the average is derived.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Latency {
    pub min_ms: u64,
    pub max_ms: u64,
    pub total_ms: u64,
    pub count: u64,
}

impl Latency {
    pub fn record(&mut self, latency_ms: u64) {
        if self.count == 0 || latency_ms < self.min_ms {
            self.min_ms = latency_ms;
        }
        self.max_ms = self.max_ms.max(latency_ms);
        self.total_ms += latency_ms;
        self.count += 1;
    }

    /// ZooKeeper's average: total/count rounded HALF_UP to 4 places, 0 when empty.
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let avg = self.total_ms as f64 / self.count as f64;
        (avg * 10_000.0 + 0.5).floor() / 10_000.0
    }
}

/// Per-session part of a `cons` line (absent before the session exists).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionConnectionInfo {
    pub session_id: i64,
    /// Last op as ZooKeeper abbreviates it: "GETD", "SETD", "EXIS", "PING", "NA", ...
    pub last_operation: String,
    /// When the connection was established, ms since the epoch.
    pub established_ms: i64,
    pub session_timeout_ms: u32,
    /// -1 until the first request.
    pub last_cxid: i64,
    pub last_zxid: i64,
    /// Wall-clock ms of the last response.
    pub last_response_ms: i64,
    pub last_latency_ms: u64,
    pub min_latency_ms: u64,
    pub avg_latency_ms: u64,
    pub max_latency_ms: u64,
}

/// One client connection, as `stat` and `cons` show it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The peer address as Java prints it: "/127.0.0.1:59418".
    pub remote: String,
    /// NIO interest ops: 1 when reading, 0 for the connection running the command.
    pub interest_ops: u32,
    pub queued: u64,
    pub received: u64,
    pub sent: u64,
    pub session: Option<SessionConnectionInfo>,
}

impl ConnectionInfo {
    /// Format a socket address as Java's `InetSocketAddress.toString()`.
    pub fn java_address(address: &std::net::SocketAddr) -> String {
        format!("/{address}")
    }
}

/// What `conf` prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfInfo {
    pub client_port: u16,
    /// -1 when none.
    pub secure_client_port: i32,
    /// The snapshot directory, absolute (ZooKeeper prints `dataDir/version-2`).
    pub data_dir: PathBuf,
    pub data_log_dir: PathBuf,
    pub tick_time_ms: u32,
    pub max_client_cnxns: u32,
    pub min_session_timeout_ms: u32,
    pub max_session_timeout_ms: u32,
    pub client_port_listen_backlog: i32,
    pub server_id: u64,
    /// Present in an ensemble.
    pub quorum: Option<QuorumConf>,
}

/// The ensemble part of `conf`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumConf {
    pub init_limit: u32,
    pub sync_limit: u32,
    pub election_port: u16,
    pub quorum_port: u16,
    /// 0 participant, 1 observer (`LearnerType.ordinal`).
    pub peer_type: u32,
    /// `QuorumVerifier.toString()`: see [`membership`].
    pub membership: String,
}

impl ConfInfo {
    /// From the loaded config; `dataDir` paths made absolute with `version-2`.
    pub fn from_config(config: &Config) -> ConfInfo {
        let absolute = |p: &std::path::Path| {
            std::path::absolute(p)
                .unwrap_or_else(|_| p.to_path_buf())
                .join("version-2")
        };
        let server_id = config.my_id.unwrap_or(0);
        let quorum = if config.is_standalone() {
            None
        } else {
            config.me().map(|me| QuorumConf {
                init_limit: config.init_limit,
                sync_limit: config.sync_limit,
                election_port: me.election_port,
                quorum_port: me.quorum_port,
                peer_type: match config.peer_type {
                    PeerRole::Participant => 0,
                    PeerRole::Observer => 1,
                },
                membership: config.quorum_config_text(),
            })
        };
        ConfInfo {
            client_port: config.client_port,
            secure_client_port: config.secure_client_port.map_or(-1, i32::from),
            data_dir: absolute(&config.data_dir),
            data_log_dir: absolute(&config.data_log_dir),
            tick_time_ms: config.tick_time_ms,
            max_client_cnxns: config.max_client_cnxns,
            min_session_timeout_ms: config.min_session_timeout_ms,
            max_session_timeout_ms: config.max_session_timeout_ms,
            client_port_listen_backlog: config.client_port_listen_backlog,
            server_id,
            quorum,
        }
    }
}

/// `QuorumMaj.toString()`: `server.N=host:qport:eport:role[;clientAddr:clientPort]`
/// lines, then `version=<hex>` with no newline (see
/// [`crate::config::quorum_config_text`]).
pub fn membership(servers: &[ServerEntry], version: i64) -> String {
    crate::config::quorum_config_text(servers, version)
}

/// Leader-only numbers (`mntr` and the `stat` proposal sizes line), as
/// `LeaderZooKeeperServer.registerMetrics` names them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaderStats {
    /// Every learner connection (`Leader.getLearners`), synced or not.
    pub learners: u64,
    /// Synced followers, voting or not (`getForwardingFollowers`).
    pub synced_followers: u64,
    /// Synced followers whose sid is not a voter (`getNonVotingFollowers`).
    pub synced_non_voting_followers: u64,
    /// Synced observers (`getObservingLearners`).
    pub synced_observers: u64,
    /// Learners' `sync`s waiting for their commit.
    pub pending_syncs: u64,
    /// ms since this server became leader; None when the server does not
    /// track it (then `zk_leader_uptime` is left out, not printed as 0).
    pub leader_uptime_ms: Option<u64>,
    /// Proposal sizes in bytes (`BufferStats`: -1 until the first); None
    /// when the server does not track them (then `mntr`, `srvr` and the
    /// AdminServer leave them out).
    pub proposal_sizes: Option<ResponseSizes>,
}

/// An ensemble member as status output shows it: what [`apply_ensemble`]
/// derives from the consensus state and the config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnsembleInfo {
    pub my_id: u64,
    pub role: crate::zab::Role,
    /// The leader this server follows or is (`QuorumPeer.getLeaderId`).
    pub leader_id: Option<i64>,
    /// The leader's `server.N` host (`QuorumPeer.getLeaderAddress`).
    pub leader_address: Option<String>,
    /// This server is a participant (`zabstate`'s `voting`).
    pub voting: bool,
    /// ZooKeeper's `ZabState`, lowercase: election, discovery,
    /// synchronization, broadcast (see [`zab_state`]).
    pub zab_state: &'static str,
    /// Every `server.N` line, ascending id.
    pub members: Vec<ServerEntry>,
    /// This server's client address as ZooKeeper's `voting_view` prints it
    /// (`clientPortAddress`, or 0.0.0.0, with the client port).
    pub my_client_address: String,
    /// Leader: the sids of its synced observers.
    pub synced_observers: Vec<i64>,
}

/// What the server knows of its ensemble state when a word arrives.
#[derive(Clone, Debug)]
pub struct EnsembleInput<'a> {
    pub status: &'a crate::zab::Status,
    /// `EnsembleView.pending_syncs`.
    pub pending_syncs: u64,
    /// Leader: ms since it became leader, if the server tracks it.
    pub leader_uptime_ms: Option<u64>,
    /// Leader: proposal sizes, if the server tracks them.
    pub proposal_sizes: Option<ResponseSizes>,
}

/// ZooKeeper's `ZabState` for a consensus state, lowercase as the
/// AdminServer prints it: LOOKING is `election`, serving is `broadcast`.
/// In between (a leader chosen, not yet serving) ZooKeeper tells discovery
/// from synchronization; `zab::Status` does not, so paddock says
/// `synchronization` for the whole gap (discovery is one round trip, the
/// sync itself is what takes time).
pub fn zab_state(status: &crate::zab::Status) -> &'static str {
    use crate::zab::Role;
    match status.role {
        Role::Looking => "election",
        _ if status.serving => "broadcast",
        _ => "synchronization",
    }
}

/// `QuorumPeer.getDetailedPeerState`: "leading - broadcast", "looking".
/// (paddock has no sync-mode suffix: it is only shown during a sync.)
pub fn detailed_peer_state(status: &crate::zab::Status) -> String {
    use crate::zab::Role;
    let state = match status.role {
        Role::Looking => "looking",
        Role::Following => "following",
        Role::Leading => "leading",
        Role::Observing => "observing",
    };
    match status.role {
        Role::Looking => state.to_string(),
        _ => format!("{state} - {}", zab_state(status)),
    }
}

/// Fills the ensemble part of `s` from the consensus state: whether the
/// server serves, its mode, `zk_quorum_size` (the voters), `zk_peer_state`,
/// the leader's learner counts, the observer's `zk_observer_master_id`, and
/// what the AdminServer's `leader`/`voting_view`/`observers`/`zabstate`
/// show. Only numbers the state gives are set; the rest stay absent.
pub fn apply_ensemble(s: &mut ServerStats, config: &Config, input: &EnsembleInput<'_>) {
    use crate::zab::Role;
    let status = input.status;
    s.serving = status.serving && status.role != Role::Looking;
    s.mode = match status.role {
        Role::Looking => ServerMode::Looking,
        Role::Following => ServerMode::Follower,
        Role::Leading => ServerMode::Leader,
        Role::Observing => ServerMode::Observer,
    };
    let voters: Vec<u64> = config.participants().map(|m| m.id).collect();
    s.quorum_size = Some(voters.len() as u64);
    s.peer_state = Some(detailed_peer_state(status));
    let is_voter = |sid: i64| voters.iter().any(|v| *v as i64 == sid);
    let mut synced_observers = Vec::new();
    s.leader = None;
    s.observer_master_id = None;
    match status.role {
        Role::Leading => {
            let synced_followers = status.learners.iter().filter(|l| l.synced && !l.observer);
            synced_observers = status
                .learners
                .iter()
                .filter(|l| l.synced && l.observer)
                .map(|l| l.sid)
                .collect();
            s.leader = Some(LeaderStats {
                learners: status.learners.len() as u64,
                synced_followers: synced_followers.clone().count() as u64,
                synced_non_voting_followers: synced_followers.filter(|l| !is_voter(l.sid)).count()
                    as u64,
                synced_observers: synced_observers.len() as u64,
                pending_syncs: input.pending_syncs,
                leader_uptime_ms: input.leader_uptime_ms,
                proposal_sizes: input.proposal_sizes,
            });
        }
        Role::Observing if s.serving => {
            s.observer_master_id = status.leader.map(|sid| sid.max(0) as u64);
        }
        _ => {}
    }
    let my_id = config.my_id.unwrap_or(0);
    let leader_address = status.leader.and_then(|sid| {
        config
            .servers
            .iter()
            .find(|m| m.id as i64 == sid)
            .map(|m| m.host.clone())
    });
    let my_client_address = format!(
        "{}:{}",
        bracketed(config.client_port_address.as_deref().unwrap_or("0.0.0.0")),
        config.client_port
    );
    s.ensemble = Some(EnsembleInfo {
        my_id,
        role: status.role,
        leader_id: status.leader,
        leader_address,
        voting: voters.contains(&my_id),
        zab_state: zab_state(status),
        members: config.servers.clone(),
        my_client_address,
        synced_observers,
    });
}

/// `QuorumServer.delimitedHostString`: IPv6 in brackets.
pub fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// A summary metric (`AvgMinMaxCounter`), printed as avg/min/max/cnt/sum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub name: String,
    pub latency: Latency,
}

/// What `dump` prints: session expiry sets, ephemerals, connection expiry sets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DumpInfo {
    /// (expiry time in ms since the epoch, session ids).
    pub session_sets: Vec<(i64, Vec<i64>)>,
    /// (session id, ephemeral paths).
    pub ephemerals: Vec<(i64, Vec<String>)>,
    /// (expiry time in ms since the epoch, (Java address, session id)).
    pub connection_sets: Vec<(i64, Vec<(String, i64)>)>,
}

/// A snapshot of everything the words print. The server fills it (from its
/// shards' counters) when a word arrives.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerStats {
    /// Full version, e.g. [`full_version`]'s.
    pub version: String,
    /// False while the server is not serving (electing, starting): most words
    /// then answer [`ZK_NOT_SERVING`].
    pub serving: bool,
    pub mode: ServerMode,
    pub latency: Latency,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub outstanding_requests: u64,
    pub last_zxid: i64,
    pub node_count: u64,
    pub connections: Vec<ConnectionInfo>,
    /// Data and child watches together (`zk_watch_count`).
    pub watch_count: u64,
    /// Data watches as (session id, path): what `wchs`/`wchc`/`wchp` list
    /// (ZooKeeper 3.8 lists data watches only).
    pub data_watches: Vec<(i64, String)>,
    pub ephemerals_count: u64,
    pub approximate_data_size: u64,
    pub open_file_descriptor_count: u64,
    pub max_file_descriptor_count: u64,
    pub fsync_threshold_exceed_count: u64,
    pub data_dir_size: u64,
    pub log_dir_size: u64,
    pub conf: ConfInfo,
    /// `envi` entries after `zookeeper.version` (see [`gather_environment`]).
    pub environment: Vec<(String, String)>,
    pub uptime_ms: u64,
    pub global_sessions: u64,
    pub local_sessions: u64,
    /// Failed authentications: addauth refused (unknown scheme, bad
    /// credentials) and SASL exchanges that failed; reset by `srst`.
    /// ZooKeeper 3.8 counts only TLS handshake and x509 failures here (in
    /// `NettyServerCnxnFactory`) and so prints 0 after these; paddock has no
    /// TLS, and a counter named for failed authentication that never moves
    /// would hide exactly what an operator watches it for.
    pub auth_failed_count: u64,
    pub client_response_sizes: ResponseSizes,
    pub trace_mask: i64,
    /// Ensemble only: `zk_quorum_size`, `zk_peer_state` ("following - broadcast").
    pub quorum_size: Option<u64>,
    pub peer_state: Option<String>,
    pub leader: Option<LeaderStats>,
    /// Observer only: `zk_observer_master_id`.
    pub observer_master_id: Option<u64>,
    /// Ensemble only: what the AdminServer's ensemble commands show.
    pub ensemble: Option<EnsembleInfo>,
    /// Summaries such as fsynctime, appended to `mntr` as avg/min/max/cnt/sum.
    pub summaries: Vec<Summary>,
    /// Further `mntr` counters (name without `zk_`, value already formatted).
    pub counters: Vec<(String, String)>,
    pub dump: DumpInfo,
}

impl ServerStats {
    /// A zeroed snapshot for `conf`, serving, in `mode`.
    pub fn new(version: String, mode: ServerMode, conf: ConfInfo) -> ServerStats {
        ServerStats {
            version,
            serving: true,
            mode,
            latency: Latency::default(),
            packets_received: 0,
            packets_sent: 0,
            outstanding_requests: 0,
            last_zxid: 0,
            node_count: 0,
            connections: Vec::new(),
            watch_count: 0,
            data_watches: Vec::new(),
            ephemerals_count: 0,
            approximate_data_size: 0,
            open_file_descriptor_count: 0,
            max_file_descriptor_count: 0,
            fsync_threshold_exceed_count: 0,
            data_dir_size: 0,
            log_dir_size: 0,
            conf,
            environment: Vec::new(),
            uptime_ms: 0,
            global_sessions: 0,
            local_sessions: 0,
            auth_failed_count: 0,
            client_response_sizes: ResponseSizes::default(),
            trace_mask: DEFAULT_TRACE_MASK,
            quorum_size: None,
            peer_state: None,
            leader: None,
            observer_master_id: None,
            ensemble: None,
            summaries: Vec::new(),
            counters: Vec::new(),
            dump: DumpInfo::default(),
        }
    }
}

/// The word in the first 4 bytes of a connection, if it is one ZooKeeper knows.
pub fn word_from_bytes(first: &[u8]) -> Option<&'static str> {
    let head = first.get(..4)?;
    KNOWN_FOUR_LETTER_WORDS
        .iter()
        .copied()
        .find(|w| w.as_bytes() == head)
}

/// The whole reply to `word`. An unknown word yields an empty string (the
/// server should treat those bytes as a frame length, as ZooKeeper does).
pub fn render(word: &str, s: &ServerStats, whitelist: &Whitelist) -> String {
    if !KNOWN_FOUR_LETTER_WORDS.contains(&word) {
        return String::new();
    }
    if !whitelist.allows(word) {
        return format!("{word} is not executed because it is not in the whitelist.\n");
    }
    let mut out = String::new();
    match word {
        "ruok" => out.push_str("imok"),
        "isro" => out.push_str(if !s.serving {
            "null"
        } else if s.mode == ServerMode::ReadOnly {
            "ro"
        } else {
            "rw"
        }),
        // `stmk`'s 8-byte mask follows the word; the server sets it before
        // rendering, so both words print the mask now in force.
        "gtmk" | "stmk" => {
            let _ = write!(out, "{}", s.trace_mask);
        }
        "envi" => envi(&mut out, s),
        _ if !s.serving => {
            out.push_str(ZK_NOT_SERVING);
            out.push('\n');
        }
        "srvr" => stat(&mut out, s, false),
        "stat" => stat(&mut out, s, true),
        "cons" => {
            for connection in &s.connections {
                connection_line(&mut out, connection, false);
                out.push('\n');
            }
            out.push('\n');
        }
        "conf" => conf(&mut out, &s.conf, s.data_dir_size, s.log_dir_size),
        "dirs" => {
            let _ = writeln!(out, "datadir_size: {}", s.data_dir_size);
            let _ = writeln!(out, "logdir_size: {}", s.log_dir_size);
        }
        "mntr" => mntr(&mut out, s),
        "wchs" => {
            let sessions: std::collections::BTreeSet<i64> =
                s.data_watches.iter().map(|(id, _)| *id).collect();
            let paths: std::collections::BTreeSet<&str> =
                s.data_watches.iter().map(|(_, p)| p.as_str()).collect();
            let _ = writeln!(
                out,
                "{} connections watching {} paths",
                sessions.len(),
                paths.len()
            );
            let _ = writeln!(out, "Total watches:{}", s.data_watches.len());
        }
        "wchc" => {
            let mut by_session: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
            for (id, path) in &s.data_watches {
                by_session.entry(*id).or_default().push(path);
            }
            for (id, mut paths) in by_session {
                paths.sort_unstable();
                let _ = writeln!(out, "0x{:x}", id as u64);
                for path in paths {
                    let _ = writeln!(out, "\t{path}");
                }
            }
            out.push('\n');
        }
        "wchp" => {
            let mut by_path: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
            for (id, path) in &s.data_watches {
                by_path.entry(path).or_default().push(*id);
            }
            for (path, mut ids) in by_path {
                ids.sort_unstable();
                let _ = writeln!(out, "{path}");
                for id in ids {
                    let _ = writeln!(out, "\t0x{:x}", id as u64);
                }
            }
            out.push('\n');
        }
        "crst" => out.push_str("Connection stats reset.\n"),
        "srst" => out.push_str("Server stats reset.\n"),
        "dump" => dump(&mut out, &s.dump),
        _ => {}
    }
    out
}

fn stat(out: &mut String, s: &ServerStats, with_clients: bool) {
    let _ = writeln!(out, "Zookeeper version: {}", s.version);
    if s.mode == ServerMode::ReadOnly {
        out.push_str("READ-ONLY mode; serving only read-only clients\n");
    }
    if with_clients {
        out.push_str("Clients:\n");
        for connection in &s.connections {
            connection_line(out, connection, true);
            out.push('\n');
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Latency min/avg/max: {}/{}/{}",
        s.latency.min_ms,
        java_double(s.latency.avg()),
        s.latency.max_ms
    );
    let _ = writeln!(out, "Received: {}", s.packets_received);
    let _ = writeln!(out, "Sent: {}", s.packets_sent);
    let _ = writeln!(out, "Connections: {}", s.connections.len());
    let _ = writeln!(out, "Outstanding: {}", s.outstanding_requests);
    let _ = writeln!(out, "Zxid: 0x{:x}", s.last_zxid as u64);
    let _ = writeln!(out, "Mode: {}", s.mode.as_str());
    let _ = writeln!(out, "Node count: {}", s.node_count);
    if let (ServerMode::Leader, Some(sizes)) =
        (s.mode, s.leader.as_ref().and_then(|l| l.proposal_sizes))
    {
        let _ = writeln!(
            out,
            "Proposal sizes last/min/max: {}/{}/{}",
            sizes.last, sizes.min, sizes.max
        );
    }
}

/// `ServerCnxn.dumpConnectionInfo(pw, brief)`, without the trailing newline.
fn connection_line(out: &mut String, c: &ConnectionInfo, brief: bool) {
    let _ = write!(
        out,
        " {}[{:x}](queued={},recved={},sent={}",
        c.remote, c.interest_ops, c.queued, c.received, c.sent
    );
    if !brief {
        if let Some(session) = c.session.as_ref().filter(|s| s.session_id != 0) {
            let _ = write!(
                out,
                ",sid=0x{:x},lop={},est={},to={}",
                session.session_id as u64,
                session.last_operation,
                session.established_ms,
                session.session_timeout_ms
            );
            if session.last_cxid >= 0 {
                let _ = write!(out, ",lcxid=0x{:x}", session.last_cxid);
            }
            let _ = write!(
                out,
                ",lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
                session.last_zxid as u64,
                session.last_response_ms,
                session.last_latency_ms,
                session.min_latency_ms,
                session.avg_latency_ms,
                session.max_latency_ms
            );
        }
    }
    out.push(')');
}

fn conf(out: &mut String, c: &ConfInfo, data_dir_size: u64, log_dir_size: u64) {
    let _ = writeln!(out, "clientPort={}", c.client_port);
    let _ = writeln!(out, "secureClientPort={}", c.secure_client_port);
    let _ = writeln!(out, "dataDir={}", c.data_dir.display());
    let _ = writeln!(out, "dataDirSize={data_dir_size}");
    let _ = writeln!(out, "dataLogDir={}", c.data_log_dir.display());
    let _ = writeln!(out, "dataLogSize={log_dir_size}");
    let _ = writeln!(out, "tickTime={}", c.tick_time_ms);
    let _ = writeln!(out, "maxClientCnxns={}", c.max_client_cnxns);
    let _ = writeln!(out, "minSessionTimeout={}", c.min_session_timeout_ms);
    let _ = writeln!(out, "maxSessionTimeout={}", c.max_session_timeout_ms);
    let _ = writeln!(
        out,
        "clientPortListenBacklog={}",
        c.client_port_listen_backlog
    );
    let _ = writeln!(out, "serverId={}", c.server_id);
    if let Some(q) = &c.quorum {
        let _ = writeln!(out, "initLimit={}", q.init_limit);
        let _ = writeln!(out, "syncLimit={}", q.sync_limit);
        out.push_str("electionAlg=3\n");
        let _ = writeln!(out, "electionPort={}", q.election_port);
        let _ = writeln!(out, "quorumPort={}", q.quorum_port);
        let _ = writeln!(out, "peerType={}", q.peer_type);
        out.push_str("membership: \n");
        out.push_str(&q.membership);
    }
}

fn envi(out: &mut String, s: &ServerStats) {
    out.push_str("Environment:\n");
    let _ = writeln!(out, "zookeeper.version={}", s.version);
    for (key, value) in &s.environment {
        let _ = writeln!(out, "{key}={value}");
    }
}

fn mntr(out: &mut String, s: &ServerStats) {
    let mut line = |key: &str, value: &dyn std::fmt::Display| {
        let _ = writeln!(out, "zk_{key}\t{value}");
    };
    line("version", &s.version);
    line("server_state", &s.mode.as_str());
    line("avg_latency", &java_double(s.latency.avg()));
    line("max_latency", &s.latency.max_ms);
    line("min_latency", &s.latency.min_ms);
    line("packets_received", &s.packets_received);
    line("packets_sent", &s.packets_sent);
    line("num_alive_connections", &s.connections.len());
    line("outstanding_requests", &s.outstanding_requests);
    line("znode_count", &s.node_count);
    line("watch_count", &s.watch_count);
    line("ephemerals_count", &s.ephemerals_count);
    line("approximate_data_size", &s.approximate_data_size);
    line("open_file_descriptor_count", &s.open_file_descriptor_count);
    line("max_file_descriptor_count", &s.max_file_descriptor_count);
    line(
        "fsync_threshold_exceed_count",
        &s.fsync_threshold_exceed_count,
    );
    line("uptime", &s.uptime_ms);
    line("global_sessions", &s.global_sessions);
    line("local_sessions", &s.local_sessions);
    line("last_client_response_size", &s.client_response_sizes.last);
    line("max_client_response_size", &s.client_response_sizes.max);
    line("min_client_response_size", &s.client_response_sizes.min);
    line("auth_failed_count", &s.auth_failed_count);
    line("connection_drop_probability", &"0.0");
    line("outstanding_tls_handshake", &0);
    line("non_mtls_remote_conn_count", &0);
    line("non_mtls_local_conn_count", &0);
    if let Some(size) = s.quorum_size {
        line("quorum_size", &size);
    }
    if let Some(state) = &s.peer_state {
        line("peer_state", state);
    }
    if let (ServerMode::Leader, Some(leader)) = (s.mode, &s.leader) {
        line("learners", &leader.learners);
        line("synced_followers", &leader.synced_followers);
        line(
            "synced_non_voting_followers",
            &leader.synced_non_voting_followers,
        );
        line("synced_observers", &leader.synced_observers);
        line("pending_syncs", &leader.pending_syncs);
        if let Some(uptime) = leader.leader_uptime_ms {
            line("leader_uptime", &uptime);
        }
        if let Some(sizes) = leader.proposal_sizes {
            line("last_proposal_size", &sizes.last);
            line("max_proposal_size", &sizes.max);
            line("min_proposal_size", &sizes.min);
        }
    }
    if let Some(id) = s.observer_master_id {
        line("observer_master_id", &id);
    }
    for summary in &s.summaries {
        let l = &summary.latency;
        line(&format!("avg_{}", summary.name), &java_double(l.avg()));
        line(&format!("min_{}", summary.name), &l.min_ms);
        line(&format!("max_{}", summary.name), &l.max_ms);
        line(&format!("cnt_{}", summary.name), &l.count);
        line(&format!("sum_{}", summary.name), &l.total_ms);
    }
    for (key, value) in &s.counters {
        line(key, value);
    }
}

fn dump(out: &mut String, d: &DumpInfo) {
    out.push_str("SessionTracker dump:\n");
    let sessions: usize = d.session_sets.iter().map(|(_, ids)| ids.len()).sum();
    let _ = writeln!(
        out,
        "Session Sets ({})/({}):",
        d.session_sets.len(),
        sessions
    );
    let mut sets: Vec<&(i64, Vec<i64>)> = d.session_sets.iter().collect();
    sets.sort_by_key(|(time, _)| *time);
    for (time, ids) in sets {
        let _ = writeln!(out, "{} expire at {}:", ids.len(), java_date(*time));
        for id in ids {
            let _ = writeln!(out, "\t0x{:x}", *id as u64);
        }
    }
    out.push_str("ephemeral nodes dump:\n");
    let _ = writeln!(out, "Sessions with Ephemerals ({}):", d.ephemerals.len());
    for (id, paths) in &d.ephemerals {
        let _ = writeln!(out, "0x{:x}:", *id as u64);
        for path in paths {
            let _ = writeln!(out, "\t{path}");
        }
    }
    out.push_str("Connections dump:\n");
    let connections: usize = d.connection_sets.iter().map(|(_, c)| c.len()).sum();
    let _ = writeln!(
        out,
        "Connections Sets ({})/({}):",
        d.connection_sets.len(),
        connections
    );
    let mut sets: Vec<&(i64, Vec<(String, i64)>)> = d.connection_sets.iter().collect();
    sets.sort_by_key(|(time, _)| *time);
    for (time, members) in sets {
        let _ = writeln!(out, "{} expire at {}:", members.len(), java_date(*time));
        for (address, id) in members {
            let _ = writeln!(out, "\tip: {address} sessionId: 0x{:x}", *id as u64);
        }
    }
}

/// Java's `Double.toString` for the values these words print (averages
/// rounded to 4 places): "0.0", "3.4167", "12.0"; scientific outside
/// [1e-3, 1e7) as Java does.
pub fn java_double(value: f64) -> String {
    if value == 0.0 {
        return "0.0".to_string();
    }
    let magnitude = value.abs();
    if !(1e-3..1e7).contains(&magnitude) {
        let text = format!("{value:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        return format!("{mantissa}E{exponent}");
    }
    let text = format!("{value}");
    if text.contains('.') {
        text
    } else {
        format!("{text}.0")
    }
}

/// Java's `Date.toString()` in UTC: "Wed Nov 25 23:45:09 UTC 2026".
pub fn java_date(epoch_ms: i64) -> String {
    let seconds = epoch_ms.div_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        of_day / 3600,
        (of_day / 60) % 60,
        of_day % 60,
        year
    )
}

use crate::civil_date::civil_from_days;

/// The `envi` entries after `zookeeper.version`, with ZooKeeper's keys
/// (`Environment.list`) filled from this process: host and OS from
/// `uname`, user from the environment, the working directory. The `java.*`
/// keys name the Rust build instead. The server calls this once at start.
pub fn gather_environment() -> Vec<(String, String)> {
    let mut entries = Vec::new();
    // SAFETY: utsname is plain data; uname fills it, and each field is a
    // NUL-terminated C string within its array.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    let have_uname = unsafe { libc::uname(&mut uts) } == 0;
    let field = |chars: &[libc::c_char]| -> String {
        let bytes: Vec<u8> = chars
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let host = if have_uname {
        field(&uts.nodename)
    } else {
        "<NA>".to_string()
    };
    entries.push(("host.name".to_string(), host));
    entries.push((
        "java.version".to_string(),
        "<NA> (paddock, Rust)".to_string(),
    ));
    entries.push(("java.vendor".to_string(), "<NA>".to_string()));
    entries.push(("java.home".to_string(), "<NA>".to_string()));
    entries.push(("java.class.path".to_string(), "<NA>".to_string()));
    entries.push(("java.library.path".to_string(), "<NA>".to_string()));
    entries.push((
        "java.io.tmpdir".to_string(),
        std::env::temp_dir().display().to_string(),
    ));
    entries.push(("java.compiler".to_string(), "<NA>".to_string()));
    let (os, arch, version) = if have_uname {
        (
            field(&uts.sysname),
            field(&uts.machine),
            field(&uts.release),
        )
    } else {
        (
            std::env::consts::OS.to_string(),
            std::env::consts::ARCH.to_string(),
            String::new(),
        )
    };
    entries.push(("os.name".to_string(), os));
    entries.push(("os.arch".to_string(), arch));
    entries.push(("os.version".to_string(), version));
    entries.push((
        "user.name".to_string(),
        std::env::var("USER").unwrap_or_default(),
    ));
    entries.push((
        "user.home".to_string(),
        std::env::var("HOME").unwrap_or_default(),
    ));
    let dir = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    entries.push(("user.dir".to_string(), dir));
    entries
}

#[cfg(test)]
pub(crate) mod tests;
