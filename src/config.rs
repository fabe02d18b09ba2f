//! Configuration: `zoo.cfg` + `dataDir/myid` + an optional tuning overlay.
//!
//! The file format is the one ZooKeeper users already have: Java properties
//! (`key=value`, `key: value` or `key value`; `#`/`!` comments; backslash line
//! continuation; `\t \n \r \f \uXXXX` escapes). Keys and defaults follow
//! ZooKeeper 3.8 (`QuorumPeerConfig`, plus the system properties ZooKeeper
//! reads, in both their `zookeeper.`-prefixed and bare forms). paddock's own
//! knobs are keys prefixed `paddock.` in the same format; a *tuning file*
//! (`--tuning FILE`) is a fragment of such keys laid over the config.
//!
//! Promises:
//! * a bad value is a [`ConfigError`] that names the file, the line and the key;
//! * an unknown key is a [`ConfigWarning`] naming the same (ZooKeeper silently
//!   turns unknown keys into system properties; paddock reports them);
//! * a key that ZooKeeper accepts but paddock does not implement is accepted
//!   with a warning saying so, so that an existing `zoo.cfg` loads unchanged.
//!
//! This module reads the two files, `myid`, the `SERVER_JVMFLAGS` environment
//! variable and the process's CPU affinity mask; it opens no socket.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// ZooKeeper's `DEFAULT_TICK_TIME` (the code default; `zoo_sample.cfg` says 2000).
pub const DEFAULT_TICK_TIME_MS: u32 = 3000;
/// `jute.maxbuffer` default: 0xfffff bytes.
pub const DEFAULT_JUTE_MAX_BUFFER: usize = 0xfffff;
/// The four-letter words ZooKeeper 3.8.0 knows (`FourLetterCommands.cmd2String`;
/// checked against Debian's 3.8.0 server, which does not know `icfg`, `sysp`
/// or `hash`).
pub const KNOWN_FOUR_LETTER_WORDS: [&str; 17] = [
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srst", "srvr", "stat",
    "wchc", "wchp", "wchs", "mntr", "isro",
];

/// A bad value (or a missing required one). Display:
/// `zoo.cfg:12: key 'tickTime': expected a positive integer, got 'abc'`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line of the entry; 0 when the problem is not on one line
    /// (a required key that is absent, an unreadable file).
    pub line: usize,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if self.key.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": key '{}': {}", self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Something worth telling the operator that does not stop the server:
/// an unknown key, a ZooKeeper key that paddock accepts but ignores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning {
    pub file: PathBuf,
    pub line: usize,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        write!(f, ": key '{}': {}", self.key, self.message)
    }
}

/// The role of a server in the ensemble (`server.N=...:participant|observer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerRole {
    Participant,
    Observer,
}

/// One `server.N=host:quorumPort:electionPort[:role][;[clientAddr:]clientPort]` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerEntry {
    pub id: u64,
    pub host: String,
    pub quorum_port: u16,
    pub election_port: u16,
    pub role: PeerRole,
    /// The client address after `;` (absent: `clientPortAddress` or 0.0.0.0).
    pub client_address: Option<String>,
    /// The client port after `;` (absent: `clientPort`).
    pub client_port: Option<u16>,
}

/// Which four-letter words may run (`4lw.commands.whitelist`).
///
/// As `FourLetterCommands.isEnabled`: a comma list, `*` meaning every known
/// word; `srvr` is always added (zkServer.sh depends on it) and `isro` when
/// `readonlymode.enabled` is true. The default is therefore only `srvr`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Whitelist {
    words: BTreeSet<String>,
}

impl Whitelist {
    /// Parse ZooKeeper's whitelist value; `read_only_mode` adds `isro`.
    pub fn parse(list: &str, read_only_mode: bool) -> Whitelist {
        let mut words = BTreeSet::new();
        for word in list.split(',').map(str::trim) {
            if word == "*" {
                words.extend(KNOWN_FOUR_LETTER_WORDS.iter().map(|w| w.to_string()));
                break;
            }
            if !word.is_empty() {
                words.insert(word.to_string());
            }
        }
        if read_only_mode {
            words.insert("isro".to_string());
        }
        words.insert("srvr".to_string());
        Whitelist { words }
    }

    /// The whitelist when the key is absent.
    pub fn default_for(read_only_mode: bool) -> Whitelist {
        Whitelist::parse("", read_only_mode)
    }

    /// Every known word.
    pub fn all() -> Whitelist {
        Whitelist::parse("*", false)
    }

    pub fn allows(&self, word: &str) -> bool {
        self.words.contains(word)
    }

    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.words.iter().map(String::as_str)
    }
}

/// How the txn log reaches the disk (`paddock.logBackend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogBackend {
    /// Memory-mapped, preallocated segments flushed with `msync`.
    Mmap,
    /// O_DIRECT writes (glommio `DmaFile`).
    Direct,
}

/// paddock's own knobs (`paddock.*` keys). Each trades something; the
/// defaults suit a small host and favour latency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tuning {
    /// `paddock.cores` — the cores this server runs on, as a list like
    /// `0,1` or `0-3,6`. Default: every core in the process's affinity mask
    /// (`sched_getaffinity`), so `taskset` works as expected. One client shard
    /// runs per listed core; fewer cores means fewer tree copies (less memory)
    /// but less parallelism for reads.
    pub cores: Vec<usize>,
    /// `paddock.logCore` — the core that owns the txn log and its flushes.
    /// Default: none (placement decides: the last listed core, shared with a
    /// shard on small hosts). A dedicated core keeps page faults and `msync`
    /// away from client shards at the cost of one shard.
    pub log_core: Option<usize>,
    /// `paddock.consensusCore` — the core that runs zab, peer links and the
    /// sequencer. Default: none (placement decides).
    pub consensus_core: Option<usize>,
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
    /// `paddock.channelCapacity` — capacity of each bounded cross-core channel
    /// (default 1024 messages). Larger absorbs bursts; smaller pushes back sooner.
    pub channel_capacity: usize,
    /// `paddock.logBackend` — `mmap` (default) or `direct` (O_DIRECT).
    pub log_backend: LogBackend,
    /// `paddock.maxOutstandingPerConnection` — requests a connection may have
    /// in flight before the shard stops reading its socket (default 1000,
    /// ZooKeeper's globalOutstandingLimit spread per connection).
    pub outstanding_per_connection_max: usize,
}

/// The whole configuration, every field with ZooKeeper's default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The config file this came from (None: the embedded default).
    pub config_path: Option<PathBuf>,
    /// The tuning overlay applied, if any.
    pub tuning_path: Option<PathBuf>,
    /// `tickTime` in ms (ZooKeeper's code default 3000).
    pub tick_time_ms: u32,
    /// `initLimit` in ticks (required in an ensemble; 0 = not set).
    pub init_limit: u32,
    /// `syncLimit` in ticks (required in an ensemble; 0 = not set).
    pub sync_limit: u32,
    /// `dataDir` (required when a config file is given).
    pub data_dir: PathBuf,
    /// `dataLogDir` (default: dataDir).
    pub data_log_dir: PathBuf,
    /// `clientPort` (default 2181 when neither it nor a `server.N` client port is given).
    pub client_port: u16,
    /// `clientPortAddress` (default: all addresses).
    pub client_port_address: Option<String>,
    /// `secureClientPort` (accepted; TLS is not supported).
    pub secure_client_port: Option<u16>,
    /// `clientPortListenBacklog` (-1: the OS default).
    pub client_port_listen_backlog: i32,
    /// `maxClientCnxns` per client IP (60; 0 = unlimited).
    pub max_client_cnxns: u32,
    /// `zookeeper.maxCnxns`: total connections (0 = unlimited).
    pub max_cnxns: u32,
    /// `minSessionTimeout` in ms (default 2 × tickTime).
    pub min_session_timeout_ms: u32,
    /// `maxSessionTimeout` in ms (default 20 × tickTime).
    pub max_session_timeout_ms: u32,
    /// `globalOutstandingLimit` (1000).
    pub global_outstanding_limit: u32,
    /// `snapCount`: txns between snapshots (100000; at least 2).
    pub snap_count: u64,
    /// `preAllocSize` in KB (65536 = 64 MiB).
    pub pre_alloc_size_kb: u64,
    /// `autopurge.snapRetainCount` (3, at least 3).
    pub autopurge_snap_retain_count: u32,
    /// `autopurge.purgeInterval` in hours (0 = off).
    pub autopurge_purge_interval_hours: u32,
    /// `4lw.commands.whitelist`.
    pub four_letter_whitelist: Whitelist,
    /// `jute.maxbuffer` in bytes (0xfffff).
    pub jute_max_buffer: usize,
    /// `zookeeper.extendedTypesEnabled` (false): TTL nodes; caps server ids at 254.
    pub extended_types_enabled: bool,
    /// `readonlymode.enabled` (false).
    pub read_only_mode_enabled: bool,
    /// `localSessionsEnabled` (false).
    pub local_sessions_enabled: bool,
    /// `localSessionsUpgradingEnabled` (false).
    pub local_sessions_upgrading_enabled: bool,
    /// `standaloneEnabled` (true).
    pub standalone_enabled: bool,
    /// `reconfigEnabled` (false).
    pub reconfig_enabled: bool,
    /// `admin.enableServer` (true; paddock has no AdminServer yet).
    pub admin_enable_server: bool,
    /// `admin.serverAddress` (0.0.0.0).
    pub admin_server_address: String,
    /// `admin.serverPort` (8080).
    pub admin_server_port: u16,
    /// `quorumListenOnAllIPs` (false).
    pub quorum_listen_on_all_ips: bool,
    /// `electionPortBindRetry` (3; 0 = retry forever).
    pub election_port_bind_retry: u32,
    /// `syncEnabled`: observers log txns (true).
    pub sync_enabled: bool,
    /// `skipACL` / `zookeeper.skipACL` = "yes": no ACL checks (false).
    pub skip_acl: bool,
    /// `forceSync` / `zookeeper.forceSync` ("yes"): fsync the log.
    pub force_sync: bool,
    /// `fsync.warningthresholdms` (1000).
    pub fsync_warning_threshold_ms: u64,
    /// `DigestAuthenticationProvider.superDigest`: "super:<base64 sha1>".
    pub super_digest: Option<String>,
    /// `zookeeper.superUser`: a SASL user that is super.
    pub super_user: Option<String>,
    /// `authProvider.N` class names, in N order.
    pub auth_providers: Vec<(u32, String)>,
    /// `sessionRequireClientSASLAuth` (false).
    pub session_require_client_sasl_auth: bool,
    /// `enforce.auth.enabled` (false).
    pub enforce_auth_enabled: bool,
    /// `enforce.auth.schemes` (comma list).
    pub enforce_auth_schemes: Vec<String>,
    /// The JAAS file: `java.security.auth.login.config` in the config, or
    /// `-Djava.security.auth.login.config=PATH` in `SERVER_JVMFLAGS`.
    pub jaas_config: Option<PathBuf>,
    /// `zookeeper.sasl.serverconfig`: the JAAS section for the server ("Server").
    pub sasl_server_section: String,
    /// `server.N` lines, sorted by id (empty: standalone).
    pub servers: Vec<ServerEntry>,
    /// `dataDir/myid` (read when `server.N` lines exist).
    pub my_id: Option<u64>,
    /// `peerType` (participant).
    pub peer_type: PeerRole,
    /// `electionAlg` (3, the only one ZooKeeper 3.8 has).
    pub election_alg: u32,
    /// `metricsProvider.*`, `group.*`, `weight.*`: kept verbatim.
    pub passthrough: Vec<(String, String)>,
    /// paddock's own knobs.
    pub tuning: Tuning,
}

impl Config {
    /// True when no `server.N` line exists (or the only one is ours and
    /// `standaloneEnabled`).
    pub fn is_standalone(&self) -> bool {
        self.servers.is_empty() || (self.standalone_enabled && self.servers.len() == 1)
    }

    /// The embedded default: standalone, 127.0.0.1:2181, dataDir ./data.
    pub fn embedded_default() -> Config {
        let tick = DEFAULT_TICK_TIME_MS;
        Config {
            config_path: None,
            tuning_path: None,
            tick_time_ms: tick,
            init_limit: 0,
            sync_limit: 0,
            data_dir: PathBuf::from("./data"),
            data_log_dir: PathBuf::from("./data"),
            client_port: 2181,
            client_port_address: Some("127.0.0.1".to_string()),
            secure_client_port: None,
            client_port_listen_backlog: -1,
            max_client_cnxns: 60,
            max_cnxns: 0,
            min_session_timeout_ms: 2 * tick,
            max_session_timeout_ms: 20 * tick,
            global_outstanding_limit: 1000,
            snap_count: 100_000,
            pre_alloc_size_kb: 65536,
            autopurge_snap_retain_count: 3,
            autopurge_purge_interval_hours: 0,
            four_letter_whitelist: Whitelist::default_for(false),
            jute_max_buffer: DEFAULT_JUTE_MAX_BUFFER,
            extended_types_enabled: false,
            read_only_mode_enabled: false,
            local_sessions_enabled: false,
            local_sessions_upgrading_enabled: false,
            standalone_enabled: true,
            reconfig_enabled: false,
            admin_enable_server: true,
            admin_server_address: "0.0.0.0".to_string(),
            admin_server_port: 8080,
            quorum_listen_on_all_ips: false,
            election_port_bind_retry: 3,
            sync_enabled: true,
            skip_acl: false,
            force_sync: true,
            fsync_warning_threshold_ms: 1000,
            super_digest: None,
            super_user: None,
            auth_providers: Vec::new(),
            session_require_client_sasl_auth: false,
            enforce_auth_enabled: false,
            enforce_auth_schemes: Vec::new(),
            jaas_config: None,
            sasl_server_section: "Server".to_string(),
            servers: Vec::new(),
            my_id: None,
            peer_type: PeerRole::Participant,
            election_alg: 3,
            passthrough: Vec::new(),
            tuning: Tuning {
                cores: Vec::new(),
                log_core: None,
                consensus_core: None,
                batch_txns_max: 1000,
                batch_bytes_max: 4 << 20,
                group_commit_wait_micros: 0,
                socket_no_delay: true,
                snapshot_replica: true,
                spin_before_park_micros: 0,
                session_touch_interval_ms: u64::from(tick / 2),
                container_check_interval_ms: 60_000,
                container_max_per_minute: 10_000,
                channel_capacity: 1024,
                log_backend: LogBackend::Mmap,
                outstanding_per_connection_max: 1000,
            },
        }
    }
}

/// Values whose default depends on others, resolved after both files.
#[derive(Default)]
struct Pending {
    min_session_timeout: Option<i64>,
    max_session_timeout: Option<i64>,
    data_dir_set: bool,
    data_log_dir: Option<PathBuf>,
    client_port_set: bool,
    whitelist: Option<String>,
    cores: Option<(Vec<usize>, Origin)>,
    session_touch_interval_ms: Option<u64>,
    jaas_from_config: bool,
}

/// Where a value came from, to name it in a later error.
#[derive(Clone, Debug)]
struct Origin {
    file: PathBuf,
    line: usize,
    key: String,
}

/// Load `config_path` (None: the embedded default) and lay `tuning_path` over it.
/// `SERVER_JVMFLAGS` is read for `-Djava.security.auth.login.config=`.
pub fn load(
    config_path: Option<&Path>,
    tuning_path: Option<&Path>,
) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
    let jvm_flags = std::env::var("SERVER_JVMFLAGS").ok();
    load_with_jvm_flags(config_path, tuning_path, jvm_flags.as_deref())
}

/// As [`load`], with the `SERVER_JVMFLAGS` value passed in (for tests).
pub fn load_with_jvm_flags(
    config_path: Option<&Path>,
    tuning_path: Option<&Path>,
    jvm_flags: Option<&str>,
) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
    let mut config = Config::embedded_default();
    let mut pending = Pending::default();
    let mut warnings = Vec::new();
    if let Some(path) = config_path {
        config.config_path = Some(path.to_path_buf());
        config.client_port_address = None;
        let text = read_file(path)?;
        for entry in parse_properties(&text) {
            apply(&mut config, &mut pending, path, &entry, &mut warnings)?;
        }
    }
    if let Some(path) = tuning_path {
        config.tuning_path = Some(path.to_path_buf());
        let text = read_file(path)?;
        for entry in parse_properties(&text) {
            apply(&mut config, &mut pending, path, &entry, &mut warnings)?;
        }
    }
    finish(&mut config, pending, jvm_flags, &mut warnings)?;
    Ok((config, warnings))
}

fn read_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        line: 0,
        key: String::new(),
        message: format!("cannot read: {e}"),
    })
}

/// One `key=value` entry of a properties file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Property {
    pub key: String,
    pub value: String,
    /// The 1-based line where the entry starts.
    pub line: usize,
}

/// Parse Java properties text (as `java.util.Properties.load`), with values
/// trimmed as ZooKeeper trims them.
pub fn parse_properties(text: &str) -> Vec<Property> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let start_line = index + 1;
        let first = lines[index].trim_start_matches([' ', '\t', '\x0c']);
        index += 1;
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        // Join continuation lines: a line ending in an odd number of backslashes.
        let mut logical = String::new();
        let mut current = first.to_string();
        loop {
            let trailing = current.chars().rev().take_while(|c| *c == '\\').count();
            if trailing % 2 == 1 {
                current.pop();
                logical.push_str(&current);
                if index < lines.len() {
                    current = lines[index]
                        .trim_start_matches([' ', '\t', '\x0c'])
                        .to_string();
                    index += 1;
                    continue;
                }
                break;
            }
            logical.push_str(&current);
            break;
        }
        let (key, value) = split_key_value(&logical);
        out.push(Property {
            key: unescape(&key).trim().to_string(),
            value: unescape(&value).trim().to_string(),
            line: start_line,
        });
    }
    out
}

/// Split at the first unescaped `=`, `:` or whitespace; skip whitespace and
/// one `=`/`:` after it. Both halves are still escaped.
fn split_key_value(line: &str) -> (String, String) {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let mut key = String::new();
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            key.push(c);
            key.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\x0c' {
            break;
        }
        key.push(c);
        i += 1;
    }
    while i < chars.len() && matches!(chars[i], ' ' | '\t' | '\x0c') {
        i += 1;
    }
    if i < chars.len() && (chars[i] == '=' || chars[i] == ':') {
        i += 1;
    }
    while i < chars.len() && matches!(chars[i], ' ' | '\t' | '\x0c') {
        i += 1;
    }
    (key, chars[i..].iter().collect())
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(decoded) => out.push(decoded),
                    None => {
                        out.push_str("\\u");
                        out.push_str(&hex);
                    }
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Keys ZooKeeper accepts that paddock parses but does not act on; the
/// message says why it is safe (or not) to ignore.
const ACCEPTED_UNSUPPORTED: [(&str, &str); 14] = [
    ("secureClientPortAddress", "TLS is not supported (ignored)"),
    ("sslQuorum", "TLS is not supported (ignored)"),
    ("portUnification", "TLS is not supported (ignored)"),
    (
        "serverCnxnFactory",
        "paddock has its own connection layer (ignored)",
    ),
    (
        "dynamicConfigFile",
        "dynamic reconfiguration files are not supported (ignored)",
    ),
    ("leaderServes", "the leader always serves clients (ignored)"),
    ("cnxTimeout", "accepted (ignored)"),
    ("connectToLearnerMasterLimit", "accepted (ignored)"),
    ("maxResponseCacheSize", "accepted (ignored)"),
    ("maxGetChildrenResponseCacheSize", "accepted (ignored)"),
    ("audit.enable", "audit logging is not supported (ignored)"),
    (
        "admin.commandURL",
        "paddock has no AdminServer yet (ignored)",
    ),
    (
        "multiAddress.enabled",
        "multiple addresses per server are not supported (ignored)",
    ),
    ("digest.enabled", "accepted (ignored)"),
];

/// Prefixes ZooKeeper accepts whose keys paddock keeps verbatim or ignores.
const ACCEPTED_PREFIXES: [(&str, Option<&str>); 6] = [
    ("metricsProvider.", None),
    ("group.", None),
    ("weight.", None),
    ("ssl.", Some("TLS is not supported (ignored)")),
    (
        "quorum.auth.",
        Some("quorum SASL is not supported (ignored)"),
    ),
    (
        "multiAddress.",
        Some("multiple addresses per server are not supported (ignored)"),
    ),
];

struct Ctx<'a> {
    file: &'a Path,
    entry: &'a Property,
    key: &'a str,
}

impl Ctx<'_> {
    fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            line: self.entry.line,
            key: self.entry.key.clone(),
            message: message.into(),
        }
    }
    fn warning(&self, message: impl Into<String>) -> ConfigWarning {
        ConfigWarning {
            file: self.file.to_path_buf(),
            line: self.entry.line,
            key: self.entry.key.clone(),
            message: message.into(),
        }
    }
    fn origin(&self) -> Origin {
        Origin {
            file: self.file.to_path_buf(),
            line: self.entry.line,
            key: self.entry.key.clone(),
        }
    }
    fn value(&self) -> &str {
        &self.entry.value
    }
    fn positive_u32(&self) -> Result<u32, ConfigError> {
        match self.value().parse::<u32>() {
            Ok(v) if v > 0 => Ok(v),
            _ => Err(self.error(format!(
                "expected a positive integer, got '{}'",
                self.value()
            ))),
        }
    }
    fn u32(&self) -> Result<u32, ConfigError> {
        self.value().parse::<u32>().map_err(|_| {
            self.error(format!(
                "expected a non-negative integer, got '{}'",
                self.value()
            ))
        })
    }
    fn u64(&self) -> Result<u64, ConfigError> {
        self.value().parse::<u64>().map_err(|_| {
            self.error(format!(
                "expected a non-negative integer, got '{}'",
                self.value()
            ))
        })
    }
    fn i64(&self) -> Result<i64, ConfigError> {
        self.value()
            .parse::<i64>()
            .map_err(|_| self.error(format!("expected an integer, got '{}'", self.value())))
    }
    fn port(&self) -> Result<u16, ConfigError> {
        match self.value().parse::<u16>() {
            Ok(v) if v > 0 => Ok(v),
            _ => Err(self.error(format!("expected a port (1-65535), got '{}'", self.value()))),
        }
    }
    fn bool(&self) -> Result<bool, ConfigError> {
        match self.value().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(self.error(format!(
                "expected 'true' or 'false', got '{}'",
                self.value()
            ))),
        }
    }
    /// ZooKeeper's yes/no system properties (skipACL, forceSync); true/false too.
    fn yes_no(&self) -> Result<bool, ConfigError> {
        match self.value().to_ascii_lowercase().as_str() {
            "yes" | "true" => Ok(true),
            "no" | "false" => Ok(false),
            _ => Err(self.error(format!("expected 'yes' or 'no', got '{}'", self.value()))),
        }
    }
    fn path(&self) -> Result<PathBuf, ConfigError> {
        if self.value().is_empty() {
            return Err(self.error("expected a path, got an empty value"));
        }
        Ok(PathBuf::from(self.value()))
    }
}

/// The canonical (bare) name of a key: ZooKeeper's system properties are
/// accepted both as `zookeeper.X` and `X`.
fn canonical_key(key: &str) -> &str {
    match key {
        "zookeeper.DigestAuthenticationProvider.superDigest" => {
            "DigestAuthenticationProvider.superDigest"
        }
        "zookeeper.jute.maxbuffer" => "jute.maxbuffer",
        _ => key.strip_prefix("zookeeper.").unwrap_or(key),
    }
}

fn apply(
    config: &mut Config,
    pending: &mut Pending,
    file: &Path,
    entry: &Property,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(), ConfigError> {
    let key = canonical_key(&entry.key);
    let ctx = Ctx { file, entry, key };
    match key {
        "tickTime" => config.tick_time_ms = ctx.positive_u32()?,
        "initLimit" => config.init_limit = ctx.positive_u32()?,
        "syncLimit" => config.sync_limit = ctx.positive_u32()?,
        "dataDir" => {
            config.data_dir = ctx.path()?;
            pending.data_dir_set = true;
        }
        "dataLogDir" => pending.data_log_dir = Some(ctx.path()?),
        "clientPort" => {
            config.client_port = ctx.port()?;
            pending.client_port_set = true;
        }
        "clientPortAddress" => {
            if ctx.value().is_empty() {
                return Err(ctx.error("expected an address, got an empty value"));
            }
            config.client_port_address = Some(ctx.value().to_string());
        }
        "secureClientPort" => {
            config.secure_client_port = Some(ctx.port()?);
            warnings
                .push(ctx.warning("TLS is not supported; the secure client port is not opened"));
        }
        "clientPortListenBacklog" => {
            config.client_port_listen_backlog = ctx.i64()?.clamp(-1, i32::MAX as i64) as i32
        }
        "maxClientCnxns" => config.max_client_cnxns = ctx.u32()?,
        "maxCnxns" => config.max_cnxns = ctx.u32()?,
        "minSessionTimeout" => pending.min_session_timeout = Some(ctx.i64()?),
        "maxSessionTimeout" => pending.max_session_timeout = Some(ctx.i64()?),
        "globalOutstandingLimit" => config.global_outstanding_limit = ctx.positive_u32()?,
        "snapCount" => {
            let count = ctx.u64()?;
            if count < 2 {
                return Err(ctx.error(format!("must be at least 2, got '{}'", ctx.value())));
            }
            config.snap_count = count;
        }
        "preAllocSize" => {
            let kb = ctx.u64()?;
            if kb == 0 {
                return Err(ctx.error(format!(
                    "expected a positive integer (KB), got '{}'",
                    ctx.value()
                )));
            }
            config.pre_alloc_size_kb = kb;
        }
        "autopurge.snapRetainCount" => {
            let count = ctx.u32()?;
            if count < 3 {
                // ZooKeeper logs a warning and uses 3.
                warnings.push(ctx.warning(format!("must be at least 3, got {count}; using 3")));
                config.autopurge_snap_retain_count = 3;
            } else {
                config.autopurge_snap_retain_count = count;
            }
        }
        "autopurge.purgeInterval" => config.autopurge_purge_interval_hours = ctx.u32()?,
        "4lw.commands.whitelist" => pending.whitelist = Some(ctx.value().to_string()),
        "jute.maxbuffer" => config.jute_max_buffer = parse_java_int(&ctx)?,
        "extendedTypesEnabled" => config.extended_types_enabled = ctx.bool()?,
        "readonlymode.enabled" => config.read_only_mode_enabled = ctx.bool()?,
        "localSessionsEnabled" => config.local_sessions_enabled = ctx.bool()?,
        "localSessionsUpgradingEnabled" => config.local_sessions_upgrading_enabled = ctx.bool()?,
        "standaloneEnabled" => config.standalone_enabled = ctx.bool()?,
        "reconfigEnabled" => config.reconfig_enabled = ctx.bool()?,
        "admin.enableServer" => config.admin_enable_server = ctx.bool()?,
        "admin.serverAddress" => config.admin_server_address = ctx.value().to_string(),
        "admin.serverPort" => config.admin_server_port = ctx.port()?,
        "quorumListenOnAllIPs" => config.quorum_listen_on_all_ips = ctx.bool()?,
        "electionPortBindRetry" => config.election_port_bind_retry = ctx.u32()?,
        "syncEnabled" => config.sync_enabled = ctx.bool()?,
        "skipACL" => config.skip_acl = ctx.yes_no()?,
        "forceSync" => config.force_sync = ctx.yes_no()?,
        "fsync.warningthresholdms" => config.fsync_warning_threshold_ms = ctx.u64()?,
        "DigestAuthenticationProvider.superDigest" => {
            let value = ctx.value();
            match value.split_once(':') {
                Some((user, hash)) if !user.is_empty() && !hash.is_empty() => {
                    config.super_digest = Some(value.to_string())
                }
                _ => {
                    return Err(ctx.error(format!(
                        "expected 'super:<base64 sha1>' (see DigestAuthenticationProvider), got '{value}'"
                    )))
                }
            }
        }
        "superUser" => config.super_user = Some(ctx.value().to_string()),
        "sessionRequireClientSASLAuth" => config.session_require_client_sasl_auth = ctx.bool()?,
        "enforce.auth.enabled" => config.enforce_auth_enabled = ctx.bool()?,
        "enforce.auth.schemes" => {
            config.enforce_auth_schemes = ctx
                .value()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        }
        "java.security.auth.login.config" => {
            config.jaas_config = Some(ctx.path()?);
            pending.jaas_from_config = true;
        }
        "sasl.serverconfig" => config.sasl_server_section = ctx.value().to_string(),
        "peerType" => {
            config.peer_type = match ctx.value().to_ascii_lowercase().as_str() {
                "observer" => PeerRole::Observer,
                "participant" => PeerRole::Participant,
                _ => {
                    return Err(ctx.error(format!(
                        "expected 'participant' or 'observer', got '{}'",
                        ctx.value()
                    )))
                }
            }
        }
        "znode.container.checkIntervalMs" => {
            config.tuning.container_check_interval_ms = u64::from(ctx.positive_u32()?)
        }
        "znode.container.maxPerMinute" => {
            config.tuning.container_max_per_minute = ctx.positive_u32()?
        }
        "electionAlg" => {
            if ctx.value() != "3" {
                return Err(ctx.error(format!(
                    "only electionAlg 3 (fast leader election) exists in ZooKeeper 3.8, got '{}'",
                    ctx.value()
                )));
            }
        }
        _ => return apply_other(config, pending, &ctx, warnings),
    }
    Ok(())
}

fn apply_other(
    config: &mut Config,
    pending: &mut Pending,
    ctx: &Ctx<'_>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(), ConfigError> {
    let key = ctx.key;
    if let Some(id) = key.strip_prefix("server.") {
        let id = id.parse::<u64>().map_err(|_| {
            ctx.error(format!(
                "expected server.<id> with a numeric id, got '{key}'"
            ))
        })?;
        let entry = parse_server_entry(id, ctx.value()).map_err(|m| ctx.error(m))?;
        config.servers.retain(|s| s.id != id);
        config.servers.push(entry);
        config.servers.sort_by_key(|s| s.id);
        return Ok(());
    }
    if let Some(n) = key.strip_prefix("authProvider.") {
        let n = n
            .parse::<u32>()
            .map_err(|_| ctx.error(format!("expected authProvider.<number>, got '{key}'")))?;
        let class = ctx.value();
        let known = class.ends_with("SASLAuthenticationProvider")
            || class.ends_with("DigestAuthenticationProvider")
            || class.ends_with("IPAuthenticationProvider");
        if !known {
            warnings.push(ctx.warning(format!(
                "authentication provider '{class}' is not supported (ignored)"
            )));
        }
        config.auth_providers.retain(|(i, _)| *i != n);
        config.auth_providers.push((n, class.to_string()));
        config.auth_providers.sort();
        return Ok(());
    }
    if let Some(knob) = key.strip_prefix("paddock.") {
        return apply_paddock(config, pending, ctx, knob);
    }
    if let Some((_, why)) = ACCEPTED_UNSUPPORTED.iter().find(|(k, _)| *k == key) {
        warnings.push(ctx.warning(*why));
        return Ok(());
    }
    if let Some((_, why)) = ACCEPTED_PREFIXES.iter().find(|(p, _)| key.starts_with(p)) {
        match why {
            Some(why) => warnings.push(ctx.warning(*why)),
            None => config
                .passthrough
                .push((ctx.entry.key.clone(), ctx.value().to_string())),
        }
        return Ok(());
    }
    warnings.push(ctx.warning(format!("unknown key '{}' (ignored)", ctx.entry.key)));
    Ok(())
}

fn apply_paddock(
    config: &mut Config,
    pending: &mut Pending,
    ctx: &Ctx<'_>,
    knob: &str,
) -> Result<(), ConfigError> {
    let tuning = &mut config.tuning;
    match knob {
        "cores" => {
            let cores = parse_core_list(ctx.value()).map_err(|m| ctx.error(m))?;
            pending.cores = Some((cores, ctx.origin()));
        }
        "logCore" => tuning.log_core = Some(ctx.u32()? as usize),
        "consensusCore" => tuning.consensus_core = Some(ctx.u32()? as usize),
        "batchTxnsMax" => tuning.batch_txns_max = ctx.positive_u32()? as usize,
        "batchBytesMax" => tuning.batch_bytes_max = ctx.positive_u32()? as usize,
        "groupCommitWaitMicros" => tuning.group_commit_wait_micros = ctx.u64()?,
        "socketNoDelay" => tuning.socket_no_delay = ctx.bool()?,
        "snapshotReplica" => tuning.snapshot_replica = ctx.bool()?,
        "spinBeforeParkMicros" => tuning.spin_before_park_micros = u64::from(ctx.u32()?),
        "sessionTouchIntervalMs" => {
            pending.session_touch_interval_ms = Some(u64::from(ctx.positive_u32()?))
        }
        "channelCapacity" => tuning.channel_capacity = ctx.positive_u32()? as usize,
        "maxOutstandingPerConnection" => {
            tuning.outstanding_per_connection_max = ctx.positive_u32()? as usize
        }
        "logBackend" => {
            tuning.log_backend = match ctx.value() {
                "mmap" => LogBackend::Mmap,
                "direct" => LogBackend::Direct,
                other => {
                    return Err(ctx.error(format!("expected 'mmap' or 'direct', got '{other}'")))
                }
            }
        }
        _ => return Err(ctx.error(format!("unknown paddock knob '{}'", ctx.entry.key))),
    }
    Ok(())
}

/// `Integer.decode`-like: decimal, or `0x`/`0X`/`#` hex.
fn parse_java_int(ctx: &Ctx<'_>) -> Result<usize, ConfigError> {
    let value = ctx.value();
    let parsed = if let Some(hex) = value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
        .or_else(|| value.strip_prefix('#'))
    {
        usize::from_str_radix(hex, 16).ok()
    } else {
        value.parse::<usize>().ok()
    };
    match parsed {
        Some(v) if v > 0 && v <= i32::MAX as usize => Ok(v),
        _ => Err(ctx.error(format!(
            "expected a positive integer (decimal or 0x hex), got '{value}'"
        ))),
    }
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

/// Parse the value of a `server.N` line.
pub fn parse_server_entry(id: u64, value: &str) -> Result<ServerEntry, String> {
    let (server_part, client_part) = match value.split_once(';') {
        Some((s, c)) => (s.trim(), Some(c.trim())),
        None => (value.trim(), None),
    };
    if server_part.contains('|') {
        return Err("multiple addresses per server ('|') are not supported".to_string());
    }
    let (host, rest) = split_host(server_part)
        .ok_or_else(|| format!("expected host:quorumPort:electionPort[:role], got '{value}'"))?;
    let fields: Vec<&str> = rest.split(':').collect();
    if fields.len() < 2 || fields.len() > 3 {
        return Err(format!(
            "expected host:quorumPort:electionPort[:participant|:observer], got '{value}'"
        ));
    }
    let port = |text: &str, what: &str| -> Result<u16, String> {
        match text.trim().parse::<u16>() {
            Ok(p) if p > 0 => Ok(p),
            _ => Err(format!("{what} '{text}' is not a port (1-65535)")),
        }
    };
    let quorum_port = port(fields[0], "quorum port")?;
    let election_port = port(fields[1], "election port")?;
    let role = match fields.get(2).map(|r| r.trim().to_ascii_lowercase()) {
        None => PeerRole::Participant,
        Some(r) if r == "participant" => PeerRole::Participant,
        Some(r) if r == "observer" => PeerRole::Observer,
        Some(r) => {
            return Err(format!(
                "role '{r}' is neither 'participant' nor 'observer'"
            ))
        }
    };
    let (client_address, client_port) = match client_part {
        None => (None, None),
        Some(client) => match client.rsplit_once(':') {
            Some((address, p)) => {
                let address = address.trim_start_matches('[').trim_end_matches(']');
                (Some(address.to_string()), Some(port(p, "client port")?))
            }
            None => (None, Some(port(client, "client port")?)),
        },
    };
    Ok(ServerEntry {
        id,
        host: host.to_string(),
        quorum_port,
        election_port,
        role,
        client_address,
        client_port,
    })
}

/// Split `host:rest` or `[v6]:rest`.
fn split_host(text: &str) -> Option<(&str, &str)> {
    if let Some(bracketed) = text.strip_prefix('[') {
        let (host, rest) = bracketed.split_once(']')?;
        return Some((host, rest.strip_prefix(':')?));
    }
    let (host, rest) = text.split_once(':')?;
    if host.is_empty() {
        return None;
    }
    Some((host, rest))
}

/// Find `-Djava.security.auth.login.config=PATH` in a JVM flags string
/// (`SERVER_JVMFLAGS`), as ZooKeeper's scripts pass it.
pub fn jaas_path_from_jvm_flags(flags: &str) -> Option<PathBuf> {
    let mut found = None;
    for word in split_shell_words(flags) {
        if let Some(path) = word.strip_prefix("-Djava.security.auth.login.config=") {
            if !path.is_empty() {
                found = Some(PathBuf::from(path));
            }
        }
    }
    found
}

/// Whitespace split honouring simple single and double quotes.
fn split_shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => current.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            None => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

fn finish(
    config: &mut Config,
    pending: Pending,
    jvm_flags: Option<&str>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(), ConfigError> {
    let file = config
        .config_path
        .clone()
        .unwrap_or_else(|| PathBuf::from("<default>"));
    let error = |key: &str, message: String| ConfigError {
        file: file.clone(),
        line: 0,
        key: key.to_string(),
        message,
    };
    if config.config_path.is_some() && !pending.data_dir_set {
        return Err(error("dataDir", "dataDir is not set".to_string()));
    }
    config.data_log_dir = pending
        .data_log_dir
        .unwrap_or_else(|| config.data_dir.clone());

    let tick = config.tick_time_ms;
    // ZooKeeper: -1 (or absent) means the tick-based default.
    let resolve = |value: Option<i64>, default: u32, key: &str| -> Result<u32, ConfigError> {
        match value {
            None | Some(-1) => Ok(default),
            Some(v) if v > 0 && v <= u32::MAX as i64 => Ok(v as u32),
            Some(v) => Err(error(
                key,
                format!("expected -1 or a positive number of ms, got '{v}'"),
            )),
        }
    };
    config.min_session_timeout_ms = resolve(
        pending.min_session_timeout,
        tick.saturating_mul(2),
        "minSessionTimeout",
    )?;
    config.max_session_timeout_ms = resolve(
        pending.max_session_timeout,
        tick.saturating_mul(20),
        "maxSessionTimeout",
    )?;
    if config.min_session_timeout_ms > config.max_session_timeout_ms {
        return Err(error(
            "minSessionTimeout",
            format!(
                "minSessionTimeout ({}) must not be larger than maxSessionTimeout ({})",
                config.min_session_timeout_ms, config.max_session_timeout_ms
            ),
        ));
    }

    config.four_letter_whitelist = match &pending.whitelist {
        Some(list) => Whitelist::parse(list, config.read_only_mode_enabled),
        None => Whitelist::default_for(config.read_only_mode_enabled),
    };
    for word in config.four_letter_whitelist.words() {
        if !KNOWN_FOUR_LETTER_WORDS.contains(&word) {
            warnings.push(ConfigWarning {
                file: file.clone(),
                line: 0,
                key: "4lw.commands.whitelist".to_string(),
                message: format!("unknown four-letter word '{word}' (ignored)"),
            });
        }
    }

    config.tuning.session_touch_interval_ms = pending
        .session_touch_interval_ms
        .unwrap_or(u64::from((tick / 2).max(1)));

    let available = affinity_cores();
    match pending.cores {
        None => config.tuning.cores = available,
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
            config.tuning.cores = cores;
        }
    }
    for (key, core) in [
        ("paddock.logCore", config.tuning.log_core),
        ("paddock.consensusCore", config.tuning.consensus_core),
    ] {
        if let Some(core) = core {
            if !config.tuning.cores.contains(&core) {
                return Err(error(
                    key,
                    format!(
                        "core {core} is not one of paddock.cores {:?}",
                        config.tuning.cores
                    ),
                ));
            }
        }
    }

    if !pending.jaas_from_config {
        if let Some(path) = jvm_flags.and_then(jaas_path_from_jvm_flags) {
            config.jaas_config = Some(path);
        }
    }

    if config.extended_types_enabled {
        if let Some(server) = config.servers.iter().find(|s| s.id > 254) {
            return Err(error(
                &format!("server.{}", server.id),
                "server ids above 254 are not allowed with extendedTypesEnabled".to_string(),
            ));
        }
    }

    if !config.servers.is_empty() {
        finish_ensemble(config, &file, pending.client_port_set)?;
    }
    Ok(())
}

fn finish_ensemble(
    config: &mut Config,
    file: &Path,
    client_port_set: bool,
) -> Result<(), ConfigError> {
    let error = |key: &str, message: String| ConfigError {
        file: file.to_path_buf(),
        line: 0,
        key: key.to_string(),
        message,
    };
    let multi = config.servers.len() > 1 || !config.standalone_enabled;
    if multi && config.init_limit == 0 {
        return Err(error("initLimit", "initLimit is not set".to_string()));
    }
    if multi && config.sync_limit == 0 {
        return Err(error("syncLimit", "syncLimit is not set".to_string()));
    }
    let myid_path = config.data_dir.join("myid");
    let myid_error = |message: String| ConfigError {
        file: myid_path.clone(),
        line: 0,
        key: "myid".to_string(),
        message,
    };
    let text = std::fs::read_to_string(&myid_path).map_err(|e| {
        myid_error(format!(
            "cannot read (needed because server.N lines exist): {e}"
        ))
    })?;
    let id = text
        .trim()
        .parse::<u64>()
        .map_err(|_| myid_error(format!("expected a server id, got '{}'", text.trim())))?;
    let me = config
        .servers
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| myid_error(format!("my id {id} is not in the server.N list")))?;
    if let Some(port) = me.client_port {
        if client_port_set && port != config.client_port {
            return Err(error(
                &format!("server.{id}"),
                format!(
                    "client port {port} differs from clientPort {}",
                    config.client_port
                ),
            ));
        }
        config.client_port = port;
        if me.client_address.is_some() {
            config.client_port_address = me.client_address.clone();
        }
    }
    config.my_id = Some(id);
    Ok(())
}

/// What the binary was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Start {
        config: Option<PathBuf>,
        tuning: Option<PathBuf>,
    },
    /// `paddock doctor`: is this host fit for the config?
    Doctor {
        config: Option<PathBuf>,
        tuning: Option<PathBuf>,
    },
    /// `paddock status`: `zkServer.sh status`.
    Status {
        config: Option<PathBuf>,
        tuning: Option<PathBuf>,
    },
    Help,
    Version,
}

/// The usage text for `paddock --help`.
pub const USAGE: &str = "\
paddock - a ZooKeeper-compatible coordination server

Usage:
  paddock start [--config FILE] [--tuning FILE]
  paddock doctor [--config FILE] [--tuning FILE]
  paddock status [--config FILE] [--tuning FILE]
  paddock version
  paddock --help

Commands:
  start      run the server. Without --config: standalone on 127.0.0.1:2181
             with data in ./data. With --config: a zoo.cfg (ZooKeeper's keys;
             myid is read from dataDir when server.N lines exist).
  doctor     measure this host for the config (fsync latency of dataLogDir,
             devices, io_uring, memlock, swap, CPUs, huge pages, open files)
             and say what to fix. Exit 0 fit, 1 warnings, 2 cannot run here.
  status     zkServer.sh status: ask the server `srvr`, print its Mode.
             Exit 0 when it answers, 1 when it does not.
  version    print the version and exit.

Options:
  --config FILE   zoo.cfg to load
  --tuning FILE   a fragment of paddock.* (or zoo.cfg) keys laid over the config,
                  e.g. tuning/throughput.cfg
  -h, --help      print this text

Environment:
  SERVER_JVMFLAGS   -Djava.security.auth.login.config=PATH names the JAAS file,
                    as with ZooKeeper's scripts.
";

/// Parse the binary's arguments (without the program name).
pub fn parse_cli(args: &[String]) -> Result<Command, String> {
    let mut iter = args.iter();
    let Some(first) = iter.next() else {
        return Err(format!("no command given\n\n{USAGE}"));
    };
    match first.as_str() {
        "-h" | "--help" | "help" => Ok(Command::Help),
        "version" | "--version" | "-V" => Ok(Command::Version),
        command @ ("start" | "doctor" | "status") => {
            let mut config = None;
            let mut tuning = None;
            while let Some(arg) = iter.next() {
                let (flag, inline) = match arg.split_once('=') {
                    Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
                    _ => (arg.as_str(), None),
                };
                match flag {
                    "-h" | "--help" => return Ok(Command::Help),
                    "--config" | "--tuning" => {
                        let value = match inline {
                            Some(v) => v,
                            None => iter
                                .next()
                                .cloned()
                                .ok_or_else(|| format!("{flag} needs a FILE\n\n{USAGE}"))?,
                        };
                        if value.is_empty() {
                            return Err(format!("{flag} needs a FILE\n\n{USAGE}"));
                        }
                        let slot = if flag == "--config" {
                            &mut config
                        } else {
                            &mut tuning
                        };
                        if slot.is_some() {
                            return Err(format!("{flag} given twice"));
                        }
                        *slot = Some(PathBuf::from(value));
                    }
                    other => return Err(format!("unknown option '{other}'\n\n{USAGE}")),
                }
            }
            Ok(match command {
                "doctor" => Command::Doctor { config, tuning },
                "status" => Command::Status { config, tuning },
                _ => Command::Start { config, tuning },
            })
        }
        other => Err(format!("unknown command '{other}'\n\n{USAGE}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(text.as_bytes()).unwrap();
        path
    }

    fn load_text(text: &str) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "zoo.cfg", text);
        load_with_jvm_flags(Some(&path), None, None)
    }

    #[test]
    fn properties_format() {
        let text = "# comment\n  ! also comment\n\na=1\nb : 2\nc 3\n  d=  spaced value  \ne=one \\\n   two\nf\\=g=h\ni=\\u0041\\t!\n";
        let props = parse_properties(text);
        let pairs: Vec<(&str, &str, usize)> = props
            .iter()
            .map(|p| (p.key.as_str(), p.value.as_str(), p.line))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("a", "1", 4),
                ("b", "2", 5),
                ("c", "3", 6),
                ("d", "spaced value", 7),
                ("e", "one two", 8),
                ("f=g", "h", 10),
                ("i", "A\t!", 11),
            ]
        );
    }

    #[test]
    fn embedded_default() {
        let (config, warnings) = load_with_jvm_flags(None, None, None).unwrap();
        assert!(warnings.is_empty());
        assert!(config.is_standalone());
        assert_eq!(config.client_port, 2181);
        assert_eq!(config.client_port_address.as_deref(), Some("127.0.0.1"));
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.tick_time_ms, 3000);
        assert_eq!(config.min_session_timeout_ms, 6000);
        assert_eq!(config.max_session_timeout_ms, 60000);
        assert_eq!(config.jute_max_buffer, 0xfffff);
        assert!(config.four_letter_whitelist.allows("srvr"));
        assert!(!config.four_letter_whitelist.allows("ruok"));
        assert!(!config.four_letter_whitelist.allows("isro"));
        assert_eq!(config.tuning.cores, affinity_cores());
        assert_eq!(config.tuning.batch_txns_max, 1000);
        assert_eq!(config.tuning.batch_bytes_max, 4 * 1024 * 1024);
        assert_eq!(config.tuning.session_touch_interval_ms, 1500);
    }

    #[test]
    fn zoo_sample() {
        let (config, warnings) = load_text(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/tmp/zookeeper\nclientPort=2181\n\
             #maxClientCnxns=60\n#autopurge.snapRetainCount=3\n#autopurge.purgeInterval=1\n\
             metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
             metricsProvider.httpPort=7000\n",
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config.tick_time_ms, 2000);
        assert_eq!(config.min_session_timeout_ms, 4000);
        assert_eq!(config.max_session_timeout_ms, 40000);
        assert_eq!(config.data_log_dir, PathBuf::from("/tmp/zookeeper"));
        assert_eq!(config.client_port_address, None);
        assert_eq!(config.max_client_cnxns, 60);
        assert_eq!(config.passthrough.len(), 2);
    }

    #[test]
    fn bad_value_names_file_line_and_key() {
        let err = load_text("dataDir=/tmp/x\n\ntickTime=abc\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert_eq!(err.key, "tickTime");
        let shown = err.to_string();
        assert!(
            shown.ends_with("zoo.cfg:3: key 'tickTime': expected a positive integer, got 'abc'"),
            "{shown}"
        );
    }

    #[test]
    fn unknown_key_is_a_warning() {
        let (_, warnings) = load_text("dataDir=/tmp/x\nfoo=bar\n").unwrap();
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].line, 2);
        assert_eq!(warnings[0].key, "foo");
        assert!(warnings[0]
            .to_string()
            .ends_with("zoo.cfg:2: key 'foo': unknown key 'foo' (ignored)"));
    }

    #[test]
    fn data_dir_required_with_a_file() {
        let err = load_text("clientPort=2181\n").unwrap_err();
        assert_eq!(err.key, "dataDir");
    }

    #[test]
    fn system_property_forms() {
        let (config, warnings) = load_text(
            "dataDir=/d\nzookeeper.snapCount=5000\nzookeeper.extendedTypesEnabled=true\n\
             zookeeper.DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n\
             zookeeper.maxCnxns=7\njute.maxbuffer=0x100000\nzookeeper.4lw.commands.whitelist=ruok, stat ,mntr\n\
             skipACL=yes\nzookeeper.forceSync=no\nreadonlymode.enabled=true\nauthProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n\
             secureClientPort=2281\n",
        )
        .unwrap();
        assert_eq!(config.snap_count, 5000);
        assert!(config.extended_types_enabled);
        assert_eq!(
            config.super_digest.as_deref(),
            Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
        );
        assert_eq!(config.max_cnxns, 7);
        assert_eq!(config.jute_max_buffer, 0x100000);
        for word in ["ruok", "stat", "mntr", "srvr", "isro"] {
            assert!(config.four_letter_whitelist.allows(word), "{word}");
        }
        assert!(!config.four_letter_whitelist.allows("conf"));
        assert!(config.skip_acl);
        assert!(!config.force_sync);
        assert_eq!(config.auth_providers.len(), 1);
        assert_eq!(config.secure_client_port, Some(2281));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }

    #[test]
    fn whitelist_star_and_decimal_maxbuffer() {
        let (config, _) =
            load_text("dataDir=/d\n4lw.commands.whitelist=*\njute.maxbuffer=4194304\n").unwrap();
        for word in KNOWN_FOUR_LETTER_WORDS {
            assert!(config.four_letter_whitelist.allows(word));
        }
        assert_eq!(config.jute_max_buffer, 4194304);
    }

    #[test]
    fn session_timeouts() {
        let (config, _) = load_text(
            "dataDir=/d\ntickTime=1000\nminSessionTimeout=-1\nmaxSessionTimeout=100000\n",
        )
        .unwrap();
        assert_eq!(config.min_session_timeout_ms, 2000);
        assert_eq!(config.max_session_timeout_ms, 100000);
        let err = load_text("dataDir=/d\nminSessionTimeout=50000\nmaxSessionTimeout=10000\n")
            .unwrap_err();
        assert_eq!(err.key, "minSessionTimeout");
    }

    #[test]
    fn autopurge_minimum() {
        let (config, warnings) =
            load_text("dataDir=/d\nautopurge.snapRetainCount=1\nautopurge.purgeInterval=24\n")
                .unwrap();
        assert_eq!(config.autopurge_snap_retain_count, 3);
        assert_eq!(config.autopurge_purge_interval_hours, 24);
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn server_lines() {
        let entry = parse_server_entry(1, "zk1:2888:3888").unwrap();
        assert_eq!(entry.host, "zk1");
        assert_eq!((entry.quorum_port, entry.election_port), (2888, 3888));
        assert_eq!(entry.role, PeerRole::Participant);
        let entry = parse_server_entry(2, "10.0.0.2:2888:3888:observer;2181").unwrap();
        assert_eq!(entry.role, PeerRole::Observer);
        assert_eq!(entry.client_port, Some(2181));
        let entry = parse_server_entry(3, "[::1]:2888:3888:participant;[::1]:2182").unwrap();
        assert_eq!(entry.host, "::1");
        assert_eq!(entry.client_address.as_deref(), Some("::1"));
        assert_eq!(entry.client_port, Some(2182));
        let entry = parse_server_entry(4, "h:1:2;0.0.0.0:2181").unwrap();
        assert_eq!(entry.client_address.as_deref(), Some("0.0.0.0"));
        assert!(parse_server_entry(5, "h:2888").is_err());
        assert!(parse_server_entry(5, "h:2888:3888:leader").is_err());
        assert!(parse_server_entry(5, "h:x:3888").is_err());
    }

    #[test]
    fn ensemble_reads_myid() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let cfg = format!(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort=2181\n\
             server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.2:2888:3888\nserver.3=127.0.0.3:2888:3888:observer\n",
            data.display()
        );
        let path = write(dir.path(), "zoo.cfg", &cfg);
        let err = load_with_jvm_flags(Some(&path), None, None).unwrap_err();
        assert_eq!(err.file, data.join("myid"));
        write(&data, "myid", "x\n");
        let err = load_with_jvm_flags(Some(&path), None, None).unwrap_err();
        assert!(err.message.contains("expected a server id"), "{err}");
        write(&data, "myid", "9\n");
        let err = load_with_jvm_flags(Some(&path), None, None).unwrap_err();
        assert!(err.message.contains("not in the server.N list"), "{err}");
        write(&data, "myid", "2\n");
        let (config, _) = load_with_jvm_flags(Some(&path), None, None).unwrap();
        assert_eq!(config.my_id, Some(2));
        assert_eq!(config.servers.len(), 3);
        assert!(!config.is_standalone());
        assert_eq!(config.servers[2].role, PeerRole::Observer);
    }

    #[test]
    fn ensemble_needs_limits() {
        let err = load_text("dataDir=/d\nserver.1=a:1:2\nserver.2=b:1:2\n").unwrap_err();
        assert_eq!(err.key, "initLimit");
    }

    #[test]
    fn tuning_overlay_and_its_errors() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = write(
            dir.path(),
            "zoo.cfg",
            "dataDir=/d\npaddock.batchTxnsMax=10\n",
        );
        let tuning = write(
            dir.path(),
            "throughput.cfg",
            "paddock.batchTxnsMax=5000\npaddock.groupCommitWaitMicros=200\npaddock.socketNoDelay=false\n",
        );
        let (config, _) = load_with_jvm_flags(Some(&cfg), Some(&tuning), None).unwrap();
        assert_eq!(config.tuning.batch_txns_max, 5000);
        assert_eq!(config.tuning.group_commit_wait_micros, 200);
        assert!(!config.tuning.socket_no_delay);
        let bad = write(dir.path(), "bad.cfg", "\npaddock.batchBytesMax=lots\n");
        let err = load_with_jvm_flags(Some(&cfg), Some(&bad), None).unwrap_err();
        assert_eq!(err.file, bad);
        assert_eq!(err.line, 2);
        assert_eq!(err.key, "paddock.batchBytesMax");
        let unknown = write(dir.path(), "unknown.cfg", "paddock.bogus=1\n");
        let err = load_with_jvm_flags(Some(&cfg), Some(&unknown), None).unwrap_err();
        assert_eq!(err.key, "paddock.bogus");
        // A tuning file without a config overlays the embedded default.
        let (config, _) = load_with_jvm_flags(None, Some(&tuning), None).unwrap();
        assert_eq!(config.tuning.batch_txns_max, 5000);
    }

    #[test]
    fn cores() {
        assert_eq!(parse_core_list("0,1").unwrap(), vec![0, 1]);
        assert_eq!(parse_core_list("0-3,6, 2").unwrap(), vec![0, 1, 2, 3, 6]);
        assert!(parse_core_list("3-1").is_err());
        assert!(parse_core_list("a").is_err());
        assert!(parse_core_list("").is_err());
        let first = affinity_cores()[0];
        let (config, _) = load_text(&format!(
            "dataDir=/d\npaddock.cores={first}\npaddock.logCore={first}\n"
        ))
        .unwrap();
        assert_eq!(config.tuning.cores, vec![first]);
        let err = load_text("dataDir=/d\npaddock.cores=100000\n").unwrap_err();
        assert_eq!((err.line, err.key.as_str()), (2, "paddock.cores"));
    }

    #[test]
    fn jaas_from_jvm_flags() {
        assert_eq!(
            jaas_path_from_jvm_flags(
                "-Xmx1g -Djava.security.auth.login.config=/etc/zk/jaas.conf -Dfoo=bar"
            ),
            Some(PathBuf::from("/etc/zk/jaas.conf"))
        );
        assert_eq!(
            jaas_path_from_jvm_flags("\"-Djava.security.auth.login.config=/a b/jaas.conf\""),
            Some(PathBuf::from("/a b/jaas.conf"))
        );
        assert_eq!(jaas_path_from_jvm_flags("-Xmx1g"), None);
        let dir = tempfile::tempdir().unwrap();
        let cfg = write(dir.path(), "zoo.cfg", "dataDir=/d\n");
        let flags = "-Djava.security.auth.login.config=/j.conf";
        let (config, _) = load_with_jvm_flags(Some(&cfg), None, Some(flags)).unwrap();
        assert_eq!(config.jaas_config, Some(PathBuf::from("/j.conf")));
    }

    #[test]
    fn cli() {
        let args = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(parse_cli(&args("--help")), Ok(Command::Help));
        assert_eq!(parse_cli(&args("version")), Ok(Command::Version));
        assert_eq!(
            parse_cli(&args("start")),
            Ok(Command::Start {
                config: None,
                tuning: None
            })
        );
        assert_eq!(
            parse_cli(&args("start --config zoo.cfg --tuning=tuning/t.cfg")),
            Ok(Command::Start {
                config: Some(PathBuf::from("zoo.cfg")),
                tuning: Some(PathBuf::from("tuning/t.cfg"))
            })
        );
        assert_eq!(
            parse_cli(&args("doctor --config zoo.cfg")),
            Ok(Command::Doctor {
                config: Some(PathBuf::from("zoo.cfg")),
                tuning: None
            })
        );
        assert_eq!(
            parse_cli(&args("status --config=zoo.cfg")),
            Ok(Command::Status {
                config: Some(PathBuf::from("zoo.cfg")),
                tuning: None
            })
        );
        assert!(parse_cli(&args("start --config")).is_err());
        assert!(parse_cli(&args("start --bogus")).is_err());
        assert!(parse_cli(&args("stop")).is_err());
        assert!(parse_cli(&[]).is_err());
    }
}
