//! Configuration: `zoo.cfg` + `dataDir/myid` + an optional tuning overlay.
//!
//! The file format is the one ZooKeeper users already have (Java properties,
//! [`properties`]); keys and defaults follow ZooKeeper 3.8. paddock's own
//! knobs are `paddock.*` keys in the same format ([`tuning`]); a tuning file
//! (`--tuning FILE`) is a fragment of keys laid over the config.
//!
//! Promises (nothing is silently ignored):
//! * every key has exactly one status in [`registry`]: implemented, ignored
//!   with one warning saying why that is harmless, or refused;
//! * a bad value, a refused key and an unknown key are a [`ConfigError`]
//!   naming the file, the line and the key: the server does not start;
//! * an ensemble is configured as ZooKeeper 3.8 reads it
//!   (`QuorumPeerConfig`): `server.N` lines, `dataDir/myid` (required, one
//!   of the ids), `initLimit` and `syncLimit` (required); one participant
//!   with `standaloneEnabled=true` (the default) runs standalone, as in
//!   ZooKeeper, and so does a config without `server.N` lines. One
//!   participant with `standaloneEnabled=false` is what ZooKeeper runs as a
//!   quorum of one: paddock loads it as an ensemble of one voter.
//!   Dynamic reconfiguration, hierarchical quorums, multiple addresses per
//!   server, local sessions and quorum SASL/TLS are refused.
//!
//! This module reads the two files, `myid`, the `SERVER_JVMFLAGS` value it
//! is given and the process's CPU affinity mask; it opens no socket.

pub mod cli;
pub mod properties;
pub mod registry;
pub mod tuning;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

pub use properties::{parse_properties, Property};
pub use registry::{Row, Status, REGISTRY};
pub use tuning::{affinity_cores, parse_core_list, Tuning};

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
/// a ZooKeeper key that paddock accepts but ignores, and why that is harmless.
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

/// The whole configuration, every field with ZooKeeper's default. Only what
/// something reads is here; keys paddock ignores or refuses have a registry
/// row and no field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The config file this came from (None: the embedded default).
    pub config_path: Option<PathBuf>,
    /// `tickTime` in ms (ZooKeeper's code default 3000).
    pub tick_time_ms: u32,
    /// `initLimit` in ticks (0 = not set; required, > 0, in an ensemble): how
    /// long a learner may take to connect to and sync with the leader, and
    /// how long the leader waits for a quorum of learners.
    pub init_limit: u32,
    /// `syncLimit` in ticks (0 = not set; required, > 0, in an ensemble): how
    /// far a learner may fall behind (no ACK or PING reply) before it is dropped.
    pub sync_limit: u32,
    /// `connectToLearnerMasterLimit` in ticks (0 = use `initLimit`): the
    /// connect timeout of a learner to its leader.
    pub connect_to_learner_master_limit: u32,
    /// `standaloneEnabled` (true). False with one participant: a quorum of
    /// one. It only selects: the server reads it through [`Config::is_standalone`]
    /// and [`Config::zab_members`] (so it is not `pub`).
    pub(crate) standalone_enabled: bool,
    /// This server's role, resolved as ZooKeeper resolves it: its `server.N`
    /// line's role wins over `peerType` (with a warning when they differ).
    pub peer_type: PeerRole,
    /// `quorumListenOnAllIPs` (false): bind the quorum and election ports on
    /// every address (0.0.0.0) instead of this server's `server.N` host.
    pub quorum_listen_on_all_ips: bool,
    /// `cnxTimeout` / `zookeeper.cnxTimeout` in ms (5000): the connect
    /// timeout of an election-port connection.
    pub cnx_timeout_ms: u32,
    /// `quorumCnxnTimeoutMs` in ms (None: tickTime × syncLimit): the read
    /// timeout of the election-port handshake.
    pub quorum_cnxn_timeout_ms: Option<u32>,
    /// `syncEnabled` (true; `observer.syncEnabled` wins when given): an
    /// observer logs the txns it is sent, as a follower does.
    pub sync_enabled: bool,
    /// `leader.nodelay` (true): TCP_NODELAY on the leader's learner sockets.
    pub leader_nodelay: bool,
    /// `follower.nodelay` (true): TCP_NODELAY on a learner's leader socket.
    pub follower_nodelay: bool,
    /// `leaderServes` (yes): the leader accepts client connections.
    pub leader_serves: bool,
    /// `fastleader.minNotificationInterval` / `maxNotificationInterval` in
    /// ms (200 / 60000): FastLeaderElection's resend interval bounds.
    pub fle_min_notification_interval_ms: u32,
    pub fle_max_notification_interval_ms: u32,
    /// `dataDir` (required when a config file is given).
    pub data_dir: PathBuf,
    /// `dataLogDir` (default: dataDir).
    pub data_log_dir: PathBuf,
    /// `clientPort` (default 2181 when neither it nor a `server.N` client port is given).
    pub client_port: u16,
    /// `clientPortAddress` (default: all addresses).
    pub client_port_address: Option<String>,
    /// The TLS client port: always None, `secureClientPort` is refused until
    /// TLS exists (`conf` prints it as ZooKeeper does).
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
    /// `snapCount`: txns between snapshots (100000; at least 2).
    pub snap_count: u64,
    /// `zookeeper.commitLogCount` (500, at least 500): committed txns an
    /// ensemble member always keeps in memory to sync a learner by DIFF.
    pub commit_log_count: usize,
    /// `zookeeper.snapshotSizeFactor` (0.33, at most 1; negative: off), in
    /// millionths: a learner is synced by DIFF beyond `commit_log_count`
    /// txns only while the txns to send are at most this fraction of the
    /// newest snapshot.
    pub snapshot_size_factor_ppm: i64,
    /// `zookeeper.leader.maxConcurrentSnapSyncs` (10) and
    /// `…maxConcurrentDiffSyncs` (100): syncs a leader runs at once
    /// (observers over the limit wait; followers are exempt).
    pub max_concurrent_snap_syncs: usize,
    pub max_concurrent_diff_syncs: usize,
    /// `preAllocSize` in KB (65536 = 64 MiB).
    pub pre_alloc_size_kb: u64,
    /// `autopurge.snapRetainCount` (3, at least 3).
    pub autopurge_snap_retain_count: u32,
    /// `autopurge.purgeInterval` in hours (0 = off).
    pub autopurge_purge_interval_hours: u32,
    /// `4lw.commands.whitelist` (+ `isro` with `readonlymode.enabled`).
    pub four_letter_whitelist: Whitelist,
    /// `jute.maxbuffer` in bytes (0xfffff).
    pub jute_max_buffer: usize,
    /// `zookeeper.extendedTypesEnabled` (false): TTL nodes; caps server ids at 254.
    pub extended_types_enabled: bool,
    /// `admin.enableServer` (true).
    pub admin_enable_server: bool,
    /// `admin.serverAddress` (0.0.0.0).
    pub admin_server_address: String,
    /// `admin.serverPort` (8080).
    pub admin_server_port: u16,
    /// `admin.commandURL` (/commands).
    pub admin_command_url: String,
    /// `admin.idleTimeout` in ms (30000): an idle AdminServer connection is closed.
    pub admin_idle_timeout_ms: u64,
    /// `metricsProvider.className` (None: ZooKeeper's default, no endpoint;
    /// Some only for [`PROMETHEUS_METRICS_PROVIDER`]).
    pub metrics_provider_class: Option<String>,
    /// `metricsProvider.httpHost` (0.0.0.0).
    pub metrics_http_host: String,
    /// `metricsProvider.httpPort` (7000).
    pub metrics_http_port: u16,
    /// An `authProvider.N` line names ZooKeeper's SASLAuthenticationProvider
    /// (what ZooKeeper needs before SASL can be enforced).
    pub sasl_provider_configured: bool,
    /// `fsync.warningthresholdms` (1000).
    pub fsync_warning_threshold_ms: u64,
    /// `DigestAuthenticationProvider.superDigest`: "super:<base64 sha1>".
    pub super_digest: Option<String>,
    /// `zookeeper.superUser`: a SASL user that is super. Refused for now
    /// (so always None); kept for the auth work that will implement it.
    pub super_user: Option<String>,
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
    /// `server.N` lines in ascending id order.
    pub servers: Vec<ServerEntry>,
    /// `dataDir/myid`: always set in an ensemble; standalone, read when a
    /// `server.N` line exists and the file does.
    pub my_id: Option<u64>,
    /// paddock's own knobs.
    pub tuning: Tuning,
}

impl Config {
    /// True when the server runs standalone (ZooKeeper's `!isDistributed()`):
    /// `standaloneEnabled` and at most one participant. Everything else that
    /// loads is an ensemble, with `my_id` naming one of `servers`.
    pub fn is_standalone(&self) -> bool {
        self.standalone_enabled && self.participants().count() <= 1
    }

    /// The `server.N` lines whose role is participant (the voters).
    pub fn participants(&self) -> impl Iterator<Item = &ServerEntry> {
        self.servers
            .iter()
            .filter(|s| s.role == PeerRole::Participant)
    }

    /// This server's `server.N` line (ensemble: always Some).
    pub fn me(&self) -> Option<&ServerEntry> {
        let id = self.my_id?;
        self.servers.iter().find(|s| s.id == id)
    }

    /// Every member as consensus sees it, ascending sid (empty standalone).
    pub fn zab_members(&self) -> Vec<crate::zab::Member> {
        if self.is_standalone() {
            return Vec::new();
        }
        self.servers
            .iter()
            .map(|s| crate::zab::Member {
                sid: s.id as i64,
                observer: s.role == PeerRole::Observer,
            })
            .collect()
    }

    /// ZooKeeper's `QuorumMaj.toString()` for this static config: one
    /// `server.N=host:quorumPort:electionPort:participant|observer` line
    /// per member in ascending id, `;clientHost:clientPort` only when that
    /// member's `server.N` line gives a client port (ZooKeeper leaves out a
    /// client address taken from `clientPort`: `isClientAddrFromStatic`),
    /// then `version=0` (a static config without reconfig is version 0).
    /// What notifications carry and `conf` prints under `membership:`.
    pub fn quorum_config_text(&self) -> String {
        quorum_config_text(&self.servers, 0)
    }

    /// The embedded default: standalone, 127.0.0.1:2181, dataDir ./data.
    pub fn embedded_default() -> Config {
        let tick = DEFAULT_TICK_TIME_MS;
        Config {
            config_path: None,
            tick_time_ms: tick,
            init_limit: 0,
            sync_limit: 0,
            connect_to_learner_master_limit: 0,
            standalone_enabled: true,
            peer_type: PeerRole::Participant,
            quorum_listen_on_all_ips: false,
            cnx_timeout_ms: 5000,
            quorum_cnxn_timeout_ms: None,
            sync_enabled: true,
            leader_nodelay: true,
            follower_nodelay: true,
            leader_serves: true,
            fle_min_notification_interval_ms: 200,
            fle_max_notification_interval_ms: 60_000,
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
            snap_count: 100_000,
            commit_log_count: 500,
            max_concurrent_snap_syncs: 10,
            max_concurrent_diff_syncs: 100,
            snapshot_size_factor_ppm: 330_000,
            pre_alloc_size_kb: 65536,
            autopurge_snap_retain_count: 3,
            autopurge_purge_interval_hours: 0,
            four_letter_whitelist: Whitelist::default_for(false),
            jute_max_buffer: DEFAULT_JUTE_MAX_BUFFER,
            extended_types_enabled: false,
            admin_enable_server: true,
            admin_server_address: "127.0.0.1".to_string(),
            admin_server_port: 8080,
            admin_command_url: "/commands".to_string(),
            admin_idle_timeout_ms: 30_000,
            metrics_provider_class: None,
            metrics_http_host: "0.0.0.0".to_string(),
            metrics_http_port: 7000,
            sasl_provider_configured: false,
            fsync_warning_threshold_ms: 1000,
            super_digest: None,
            super_user: None,
            session_require_client_sasl_auth: false,
            enforce_auth_enabled: false,
            enforce_auth_schemes: Vec::new(),
            jaas_config: None,
            sasl_server_section: "Server".to_string(),
            servers: Vec::new(),
            my_id: None,
            tuning: Tuning::default_for(tick),
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
    read_only_mode: bool,
    jaas_from_config: bool,
    /// Where each `server.N` line was, to name it in an error.
    server_lines: Vec<Origin>,
    /// Where `standaloneEnabled` was set.
    standalone_origin: Option<Origin>,
    /// `peerType` as given (the `server.N` line wins, as in ZooKeeper).
    peer_type: Option<(Origin, PeerRole)>,
    /// `observer.syncEnabled`, which wins over `syncEnabled` (QuorumPeer.getSyncEnabled).
    observer_sync_enabled: Option<bool>,
    tuning: tuning::TuningPending,
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
        // The embedded default listens on loopback only; a zoo.cfg gets
        // ZooKeeper's defaults (every address) unless it says otherwise.
        config.client_port_address = None;
        config.admin_server_address = "0.0.0.0".to_string();
        let text = read_file(path)?;
        for entry in parse_properties(&text) {
            load_entry(&mut config, &mut pending, path, &entry, &mut warnings)?;
        }
    }
    if let Some(path) = tuning_path {
        let text = read_file(path)?;
        for entry in parse_properties(&text) {
            load_entry(&mut config, &mut pending, path, &entry, &mut warnings)?;
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

/// One entry: look its key up in the registry, refuse what is refused or
/// unknown, check and apply the value, warn about what is ignored.
fn load_entry(
    config: &mut Config,
    pending: &mut Pending,
    file: &Path,
    entry: &Property,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(), ConfigError> {
    let key = registry::canonical_key(&entry.key);
    let ctx = Ctx { file, entry, key };
    let Some(row) = registry::lookup(key) else {
        let hint = registry::REMOVED
            .iter()
            .find(|(removed, _)| *removed == key)
            .map_or(
                "remove it or fix its spelling (keys are case-sensitive)",
                |(_, hint)| *hint,
            );
        return Err(ctx.error(format!("not a ZooKeeper 3.8 or paddock key: {hint}")));
    };
    match row.status {
        Status::Refused {
            accepted,
            what_to_do,
        } => {
            if !accepted.iter().any(|v| v.eq_ignore_ascii_case(ctx.value())) {
                return Err(ctx.error(format!("refused: {what_to_do}")));
            }
            apply(config, pending, &ctx)
        }
        Status::Ignored { why } => {
            apply(config, pending, &ctx)?;
            warnings.push(ctx.warning(format!("ignored: {why}")));
            Ok(())
        }
        Status::Implemented { .. } => apply(config, pending, &ctx),
    }
}

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
    fn f64(&self) -> Result<f64, ConfigError> {
        match self.value().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(self.error(format!("expected a number, got '{}'", self.value()))),
        }
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

/// Check one value and store it. Keys that are ignored are still checked
/// where ZooKeeper would reject the value, so a config that ZooKeeper
/// refuses is refused here too.
fn apply(config: &mut Config, pending: &mut Pending, ctx: &Ctx<'_>) -> Result<(), ConfigError> {
    match ctx.key {
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
        "clientPortListenBacklog" => {
            config.client_port_listen_backlog = ctx.i64()?.clamp(-1, i32::MAX as i64) as i32
        }
        "maxClientCnxns" => config.max_client_cnxns = ctx.u32()?,
        "maxCnxns" => config.max_cnxns = ctx.u32()?,
        "minSessionTimeout" => pending.min_session_timeout = Some(ctx.i64()?),
        "maxSessionTimeout" => pending.max_session_timeout = Some(ctx.i64()?),
        "globalOutstandingLimit" => {
            ctx.positive_u32()?;
        }
        "snapCount" => {
            let count = ctx.u64()?;
            if count < 2 {
                return Err(ctx.error(format!("must be at least 2, got '{}'", ctx.value())));
            }
            config.snap_count = count;
        }
        "leader.maxConcurrentSnapSyncs" | "leader.maxConcurrentDiffSyncs" => {
            // LearnerSyncThrottler: "maxConcurrentSyncs must be positive".
            let max = ctx.u64()?;
            if max == 0 {
                return Err(ctx.error("must be positive".to_string()));
            }
            let max = usize::try_from(max).unwrap_or(usize::MAX);
            if ctx.key == "leader.maxConcurrentSnapSyncs" {
                config.max_concurrent_snap_syncs = max;
            } else {
                config.max_concurrent_diff_syncs = max;
            }
        }
        "commitLogCount" => {
            config.commit_log_count = usize::try_from(ctx.u64()?).unwrap_or(usize::MAX);
        }
        "snapshotSizeFactor" => {
            config.snapshot_size_factor_ppm = (ctx.f64()? * 1e6).round().clamp(-1e12, 1e12) as i64
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
        // ZooKeeper logs a warning and uses 3; so does paddock (in finish).
        "autopurge.snapRetainCount" => config.autopurge_snap_retain_count = ctx.u32()?,
        "autopurge.purgeInterval" => config.autopurge_purge_interval_hours = ctx.u32()?,
        "4lw.commands.whitelist" => pending.whitelist = Some(ctx.value().to_string()),
        "jute.maxbuffer" => config.jute_max_buffer = parse_java_int(ctx)?,
        "extendedTypesEnabled" => config.extended_types_enabled = ctx.bool()?,
        "readonlymode.enabled" => pending.read_only_mode = ctx.bool()?,
        "localSessionsEnabled"
        | "localSessionsUpgradingEnabled"
        | "reconfigEnabled"
        | "sslQuorum"
        | "portUnification"
        | "multiAddress.enabled"
        | "kerberos.canonicalizeHostNames" => {
            ctx.bool()?;
        }
        "standaloneEnabled" => {
            config.standalone_enabled = ctx.bool()?;
            pending.standalone_origin = Some(ctx.origin());
        }
        "quorumListenOnAllIPs" => config.quorum_listen_on_all_ips = ctx.bool()?,
        "syncEnabled" => config.sync_enabled = ctx.bool()?,
        "observer.syncEnabled" => pending.observer_sync_enabled = Some(ctx.bool()?),
        "leader.nodelay" => config.leader_nodelay = ctx.bool()?,
        "follower.nodelay" => config.follower_nodelay = ctx.bool()?,
        // ZooKeeper: anything but "no" serves (`Leader.lead`).
        "leaderServes" => config.leader_serves = ctx.yes_no()?,
        "connectToLearnerMasterLimit" => config.connect_to_learner_master_limit = ctx.u32()?,
        "cnxTimeout" => config.cnx_timeout_ms = ctx.positive_u32()?,
        // ZooKeeper: a value <= 0 means tickTime × syncLimit.
        "quorumCnxnTimeoutMs" => {
            let ms = ctx.i64()?;
            config.quorum_cnxn_timeout_ms = (ms > 0).then(|| ms.min(i64::from(u32::MAX)) as u32);
        }
        "fastleader.minNotificationInterval" => {
            config.fle_min_notification_interval_ms = ctx.positive_u32()?
        }
        "fastleader.maxNotificationInterval" => {
            config.fle_max_notification_interval_ms = ctx.positive_u32()?
        }
        "skipACL" | "forceSync" => {
            ctx.yes_no()?;
        }
        "observerMasterPort" => {
            ctx.port()?;
        }
        "electionPortBindRetry" => {
            ctx.u32()?;
        }
        "admin.enableServer" => config.admin_enable_server = ctx.bool()?,
        "admin.serverAddress" => config.admin_server_address = ctx.value().to_string(),
        "admin.serverPort" => config.admin_server_port = ctx.port()?,
        "admin.commandURL" => config.admin_command_url = command_url(ctx)?,
        "admin.idleTimeout" => config.admin_idle_timeout_ms = u64::from(ctx.positive_u32()?),
        "metricsProvider.className" => config.metrics_provider_class = metrics_provider(ctx)?,
        "metricsProvider.httpHost" => config.metrics_http_host = ctx.value().to_string(),
        "metricsProvider.httpPort" => config.metrics_http_port = ctx.port()?,
        "fsync.warningthresholdms" => config.fsync_warning_threshold_ms = ctx.u64()?,
        "superUser" => {
            if ctx.value().is_empty() {
                return Err(ctx.error("expected a SASL user name, got an empty value"));
            }
            config.super_user = Some(ctx.value().to_string());
        }
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
        "sessionRequireClientSASLAuth" => config.session_require_client_sasl_auth = ctx.bool()?,
        "enforce.auth.enabled" => config.enforce_auth_enabled = ctx.bool()?,
        "enforce.auth.schemes" => {
            config.enforce_auth_schemes = crate::auth::enforce::split_schemes(ctx.value())
        }
        "java.security.auth.login.config" => {
            config.jaas_config = Some(ctx.path()?);
            pending.jaas_from_config = true;
        }
        "sasl.serverconfig" => config.sasl_server_section = ctx.value().to_string(),
        "peerType" => match ctx.value().to_ascii_lowercase().as_str() {
            "observer" => pending.peer_type = Some((ctx.origin(), PeerRole::Observer)),
            "participant" => pending.peer_type = Some((ctx.origin(), PeerRole::Participant)),
            _ => {
                return Err(ctx.error(format!(
                    "expected 'participant' or 'observer', got '{}'",
                    ctx.value()
                )))
            }
        },
        "electionAlg" => {
            if ctx.value() != "3" {
                return Err(ctx.error(format!(
                    "only electionAlg 3 (fast leader election) exists in ZooKeeper 3.8 and paddock, got '{}'",
                    ctx.value()
                )));
            }
        }
        "znode.container.checkIntervalMs" => {
            config.tuning.container_check_interval_ms = u64::from(ctx.positive_u32()?)
        }
        "znode.container.maxPerMinute" => {
            config.tuning.container_max_per_minute = ctx.positive_u32()?
        }
        key => {
            if let Some(id) = key.strip_prefix("server.") {
                return apply_server_line(config, pending, ctx, id);
            }
            if let Some(knob) = key.strip_prefix("paddock.") {
                return tuning::apply_knob(&mut config.tuning, &mut pending.tuning, ctx, knob);
            }
            if key.starts_with("authProvider.")
                && ctx.value() == crate::auth::enforce::SASL_PROVIDER_CLASS
            {
                config.sasl_provider_configured = true;
            }
            // Every other registered key is ignored or refused and takes any value.
        }
    }
    Ok(())
}

fn apply_server_line(
    config: &mut Config,
    pending: &mut Pending,
    ctx: &Ctx<'_>,
    id: &str,
) -> Result<(), ConfigError> {
    let id = id
        .parse::<u64>()
        .ok()
        .filter(|id| *id <= i64::MAX as u64)
        .ok_or_else(|| {
            ctx.error(format!(
                "expected server.<id> with a numeric id, got '{}'",
                ctx.key
            ))
        })?;
    let entry = parse_server_entry(id, ctx.value()).map_err(|m| ctx.error(m))?;
    config.servers.retain(|s| s.id != id);
    config.servers.push(entry);
    config.servers.sort_by_key(|s| s.id);
    pending
        .server_lines
        .retain(|origin| origin.key != ctx.entry.key);
    pending.server_lines.push(ctx.origin());
    Ok(())
}

/// The metrics provider whose `/metrics` endpoint paddock serves.
pub const PROMETHEUS_METRICS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";
/// ZooKeeper's default provider: no endpoint.
const DEFAULT_METRICS_PROVIDER: &str = "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider";

fn metrics_provider(ctx: &Ctx<'_>) -> Result<Option<String>, ConfigError> {
    match ctx.value() {
        PROMETHEUS_METRICS_PROVIDER => Ok(Some(PROMETHEUS_METRICS_PROVIDER.to_string())),
        DEFAULT_METRICS_PROVIDER => Ok(None),
        other => Err(ctx.error(format!(
            "metrics provider '{other}' is not supported (paddock has \
             {PROMETHEUS_METRICS_PROVIDER} and {DEFAULT_METRICS_PROVIDER})"
        ))),
    }
}

/// `admin.commandURL`: a path from the server root, as Jetty mounts it.
fn command_url(ctx: &Ctx<'_>) -> Result<String, ConfigError> {
    let url = ctx.value().trim_end_matches('/');
    if !url.starts_with('/') || url.contains(['?', '#', ' ']) {
        return Err(ctx.error(format!(
            "expected a path starting with '/', got '{}'",
            ctx.value()
        )));
    }
    Ok(url.to_string())
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
    check_host(host, "server address")?;
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
    if quorum_port == election_port {
        return Err(format!(
            "the quorum port and the election port must be different, both are {quorum_port}"
        ));
    }
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
                let address = address.trim_start_matches('[').trim_end_matches(']').trim();
                check_host(address, "client address")?;
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
/// A host in a `server.N` line must be a host name or an IP literal (what
/// ZooKeeper's `InetSocketAddress` would need): not empty, no brackets,
/// blanks or control characters inside. Found by fuzzing, twice: a host
/// such as `[$\x01` or `\t[1` did not read back as it was rendered.
fn check_host(host: &str, what: &str) -> Result<(), String> {
    if host.is_empty()
        || host
            .chars()
            .any(|c| c == '[' || c == ']' || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "{what} '{}' is not a host name or IP address",
            host.escape_debug()
        ));
    }
    Ok(())
}

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
        .clone()
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
    // A value ZooKeeper corrects (or a key it only half honours) is kept as
    // ZooKeeper keeps it, with a warning naming the key.
    let warning = |key: &str, message: String| ConfigWarning {
        file: file.clone(),
        line: 0,
        key: key.to_string(),
        message,
    };
    if config.autopurge_snap_retain_count < 3 {
        // ZooKeeper logs a warning and uses 3.
        warnings.push(warning(
            "autopurge.snapRetainCount",
            format!(
                "must be at least 3, got {}; using 3",
                config.autopurge_snap_retain_count
            ),
        ));
        config.autopurge_snap_retain_count = 3;
    }
    if config.commit_log_count < 500 {
        // ZKDatabase: below the recommended 500 it uses 500.
        warnings.push(warning(
            "commitLogCount",
            format!(
                "{} is less than the recommended 500; using 500",
                config.commit_log_count
            ),
        ));
        config.commit_log_count = 500;
    }
    if config.snapshot_size_factor_ppm > 1_000_000 {
        // ZKDatabase: above 1 it uses the default.
        warnings.push(warning(
            "snapshotSizeFactor",
            format!(
                "{} is more than 1; using 0.33",
                config.snapshot_size_factor_ppm as f64 / 1e6
            ),
        ));
        config.snapshot_size_factor_ppm = 330_000;
    }

    config.four_letter_whitelist = match &pending.whitelist {
        Some(list) => Whitelist::parse(list, pending.read_only_mode),
        None => Whitelist::default_for(pending.read_only_mode),
    };
    if pending.read_only_mode {
        warnings.push(warning(
            "readonlymode.enabled",
            "read-only mode is not implemented: it only adds `isro` to the \
             four-letter words; a server cut off from its quorum serves no \
             clients, as with readonlymode.enabled=false"
                .to_string(),
        ));
    }
    for word in config.four_letter_whitelist.words() {
        if !KNOWN_FOUR_LETTER_WORDS.contains(&word) {
            warnings.push(warning(
                "4lw.commands.whitelist",
                format!("unknown four-letter word '{word}' (ignored)"),
            ));
        }
    }

    finish_quorum(config, &pending, &file, pending.client_port_set, warnings)?;

    tuning::finish(&mut config.tuning, pending.tuning, tick, &file)?;

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

    // ZooKeeper refuses to start on these (AuthenticationHelper).
    crate::auth::enforce::AuthEnforcement::from_config(config)
        .map_err(|e| error(e.key, e.message))?;

    Ok(())
}

/// The `server.N` lines, `myid` and the ensemble keys, checked as ZooKeeper
/// 3.8 checks them (`QuorumPeerConfig.parseDynamicConfig`, `setupMyId`,
/// `setupClientPort`, `setupPeerType`, `checkValidity`, and
/// `QuorumPeer.start`'s "My id not in the peer list"), in that order.
fn finish_quorum(
    config: &mut Config,
    pending: &Pending,
    file: &Path,
    client_port_set: bool,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(), ConfigError> {
    if let Some(enabled) = pending.observer_sync_enabled {
        config.sync_enabled = enabled;
    }
    let at = |origin: Option<&Origin>, key: &str, message: String| match origin {
        Some(o) => ConfigError {
            file: o.file.clone(),
            line: o.line,
            key: o.key.clone(),
            message,
        },
        None => ConfigError {
            file: file.to_path_buf(),
            line: 0,
            key: key.to_string(),
            message,
        },
    };
    let origin_of = |id: u64| {
        pending
            .server_lines
            .iter()
            .find(|o| registry::canonical_key(&o.key) == format!("server.{id}"))
    };
    let participants = config.participants().count();
    let first_observer = config.servers.iter().find(|s| s.role == PeerRole::Observer);
    if participants == 0 {
        if !config.standalone_enabled {
            return Err(at(
                pending.standalone_origin.as_ref(),
                "standaloneEnabled",
                "standaloneEnabled=false asks for a quorum, but no server.N line is a participant \
                 (ZooKeeper: the number of participants should be > 0)"
                    .to_string(),
            ));
        }
        if let Some(observer) = first_observer {
            return Err(at(
                origin_of(observer.id),
                "server.N",
                "observers without participants is an invalid configuration (ZooKeeper); \
                 add the participants' server.N lines"
                    .to_string(),
            ));
        }
    } else if participants == 1 && config.standalone_enabled {
        if let Some(observer) = first_observer {
            return Err(at(
                origin_of(observer.id),
                "server.N",
                "observers without a quorum is an invalid configuration (ZooKeeper): one \
                 participant with standaloneEnabled=true runs standalone; add participants"
                    .to_string(),
            ));
        }
    } else if participants >= 2 {
        let last = config.participants().last().map(|s| s.id).unwrap_or(0);
        let advice = if participants == 2 {
            Some("no server failure will be tolerated with 2 participants; you need at least 3 servers")
        } else if participants.is_multiple_of(2) {
            Some("non-optimal configuration: an even number of participants tolerates no more failures than one fewer; consider an odd number")
        } else {
            None
        };
        if let (Some(advice), Some(origin)) = (advice, origin_of(last)) {
            warnings.push(ConfigWarning {
                file: origin.file.clone(),
                line: origin.line,
                key: origin.key.clone(),
                message: advice.to_string(),
            });
        }
    }

    // setupMyId: a standalone server does not need the file.
    let myid_path = config.data_dir.join("myid");
    let myid_error = |message: String| ConfigError {
        file: myid_path.clone(),
        line: 0,
        key: "myid".to_string(),
        message,
    };
    let ids = || {
        config
            .servers
            .iter()
            .map(|s| format!("server.{}", s.id))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !config.servers.is_empty() && myid_path.is_file() {
        let text = std::fs::read_to_string(&myid_path)
            .map_err(|e| myid_error(format!("cannot read: {e}")))?;
        let first = text.lines().next().unwrap_or("").trim();
        let id = first
            .parse::<u64>()
            .ok()
            .filter(|id| *id <= i64::MAX as u64)
            .ok_or_else(|| myid_error(format!("expected a server id, got '{first}'")))?;
        config.my_id = Some(id);
    }
    let distributed = !config.is_standalone();

    // setupClientPort: this server's line may give the client address.
    if let Some(me) = config.me().cloned() {
        if let Some(port) = me.client_port {
            if client_port_set && port != config.client_port {
                return Err(at(
                    origin_of(me.id),
                    "server.N",
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
    }

    // setupPeerType: the server.N line wins, with a warning.
    let by_list = config.me().map_or(PeerRole::Participant, |me| me.role);
    if let Some((origin, given)) = &pending.peer_type {
        if *given != by_list {
            let name = |role: PeerRole| match role {
                PeerRole::Participant => "participant",
                PeerRole::Observer => "observer",
            };
            warnings.push(ConfigWarning {
                file: origin.file.clone(),
                line: origin.line,
                key: origin.key.clone(),
                message: format!(
                    "peerType {} does not match this server's role in the server.N lines ({}); \
                     using the server.N lines, as ZooKeeper does",
                    name(*given),
                    name(by_list)
                ),
            });
        }
    }
    config.peer_type = by_list;

    // checkValidity.
    if distributed {
        if config.init_limit == 0 {
            return Err(at(
                None,
                "initLimit",
                "initLimit is not set: an ensemble needs it (in ticks: how long a learner may \
                 take to connect to and sync with the leader)"
                    .to_string(),
            ));
        }
        if config.sync_limit == 0 {
            return Err(at(
                None,
                "syncLimit",
                "syncLimit is not set: an ensemble needs it (in ticks: how long a learner may \
                 go unheard before the leader drops it)"
                    .to_string(),
            ));
        }
        let Some(id) = config.my_id else {
            return Err(myid_error(format!(
                "myid file is missing: each server of an ensemble needs dataDir/myid \
                 holding its server id (one of {})",
                ids()
            )));
        };
        if config.me().is_none() {
            return Err(myid_error(format!(
                "myid is {id}, but there is no server.{id} line ({}): my id is not in the peer list",
                ids()
            )));
        }
    }
    Ok(())
}

/// `QuorumMaj.toString()` for `servers` (ascending id) at `version` (hex).
pub fn quorum_config_text(servers: &[ServerEntry], version: i64) -> String {
    let mut servers: Vec<&ServerEntry> = servers.iter().collect();
    servers.sort_by_key(|s| s.id);
    let bracket = |host: &str| {
        if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        }
    };
    let mut out = String::new();
    for server in servers {
        let role = match server.role {
            PeerRole::Participant => "participant",
            PeerRole::Observer => "observer",
        };
        out.push_str(&format!(
            "server.{}={}:{}:{}:{}",
            server.id,
            bracket(&server.host),
            server.quorum_port,
            server.election_port,
            role
        ));
        if let Some(port) = server.client_port {
            let address = server.client_address.as_deref().unwrap_or("0.0.0.0");
            out.push_str(&format!(";{}:{port}", bracket(address)));
        }
        out.push('\n');
    }
    out.push_str(&format!("version={:x}", version as u64));
    out
}

#[cfg(test)]
mod tests;
