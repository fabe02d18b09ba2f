//! The key registry: every key Apache ZooKeeper 3.8 reads from `zoo.cfg`
//! (`QuorumPeerConfig.parseProperties`, and the system properties its server
//! reads, which users put in `zoo.cfg` bare or as `zookeeper.X`) and every
//! `paddock.*` knob, each with exactly one [`Status`]:
//!
//! * **Implemented** — paddock does what the key says; `field` is the
//!   `Config`/`Tuning` field that carries it (empty when the key only checks
//!   or selects), `shown_by` the test (`path::name`) that shows it.
//! * **Ignored** — accepted with one warning at start saying why ignoring it
//!   is harmless. Never a security or durability key.
//! * **Refused** — the server does not start; the error names file, line,
//!   key and `what_to_do`. A value in `accepted` asks for nothing paddock
//!   lacks (`sslQuorum=false`) and loads silently.
//!
//! A key in no row is refused as "not a ZooKeeper 3.8 or paddock key". The
//! table is plain data, one row per key, so adding a key is adding a row; the
//! tests below walk it (one row per key, every `shown_by` exists, every
//! `Config`/`Tuning` field is read outside `src/config/`).
//!
//! Keys are registered by their bare name (`snapCount`, not
//! `zookeeper.snapCount`); [`canonical_key`] maps either spelling to it.
//! A pattern key ends in `.N` (a numeric suffix: `server.N`) or `.*` (any
//! suffix: `ssl.*`).

/// What paddock does with one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Implemented {
        field: &'static str,
        shown_by: &'static str,
    },
    Ignored {
        why: &'static str,
    },
    Refused {
        accepted: &'static [&'static str],
        what_to_do: &'static str,
    },
}

/// One key and its status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    pub key: &'static str,
    pub status: Status,
}

const fn implemented(key: &'static str, field: &'static str, shown_by: &'static str) -> Row {
    Row {
        key,
        status: Status::Implemented { field, shown_by },
    }
}

const fn ignored(key: &'static str, why: &'static str) -> Row {
    Row {
        key,
        status: Status::Ignored { why },
    }
}

const fn refused(
    key: &'static str,
    accepted: &'static [&'static str],
    what_to_do: &'static str,
) -> Row {
    Row {
        key,
        status: Status::Refused {
            accepted,
            what_to_do,
        },
    }
}

const NO_QUORUM_SASL: &str =
    "paddock has no quorum SASL: peers authenticate nothing, as with ZooKeeper's default; remove this line";
const ONLY_WITH_QUORUM_SASL: &str =
    "it only matters with quorum.auth.enableSasl=true, which paddock refuses";
const NO_RECONFIG: &str =
    "dynamic reconfiguration is not supported yet; remove this line (the ensemble is the static server.N lines)";
const NO_TLS: &str =
    "paddock has no TLS yet; remove this line (clients connect in plain text on clientPort)";
const JVM_ONLY: &str = "it tunes a part of the Java server paddock does not have";
const FALSE: &[&str] = &["false"];
const NONE: &[&str] = &[];

const SESSIONS_TEST: &str = "tests/interop/test_sessions.py::test_timeout_bounds_follow_tick_time";
const SNAPSHOT_TEST: &str =
    "tests/interop/test_operations.py::test_snapshots_recovery_stats_sessions_and_retention";
const SASL_TEST: &str = "tests/interop/test_operations.py::test_sasl_digest_md5";
const ENSEMBLE_TEST: &str = "src/config/tests.rs::ensemble_keys_reach_their_fields";
const TUTORIAL_TEST: &str = "src/config/tests.rs::tutorial_three_server_ensemble_loads";
const GROUP_COMMIT_TEST: &str =
    "src/server/log_core.rs::tests::flushes_at_the_batch_limits_even_with_a_full_queue";

/// Every key, one row each. Order: QuorumPeerConfig's keys, then the system
/// properties by the class that reads them, then paddock's knobs.
pub const REGISTRY: &[Row] = &[
    // --- QuorumPeerConfig.parseProperties -----------------------------------
    implemented("tickTime", "tick_time_ms", SESSIONS_TEST),
    implemented("dataDir", "data_dir", SNAPSHOT_TEST),
    implemented(
        "dataLogDir",
        "data_log_dir",
        "tests/interop/test_operations.py::test_torn_tail_garbage_appended",
    ),
    implemented(
        "clientPort",
        "client_port",
        "tests/interop/test_four_letter.py::test_ruok",
    ),
    implemented(
        "clientPortAddress",
        "client_port_address",
        "tests/interop/test_config.py::test_client_port_address_binds_only_there",
    ),
    implemented(
        "clientPortListenBacklog",
        "client_port_listen_backlog",
        "tests/interop/test_config.py::test_listen_backlog_reaches_conf",
    ),
    implemented(
        "maxClientCnxns",
        "max_client_cnxns",
        "tests/interop/test_operations.py::test_max_client_cnxns_per_ip",
    ),
    implemented("minSessionTimeout", "min_session_timeout_ms", SESSIONS_TEST),
    implemented("maxSessionTimeout", "max_session_timeout_ms", SESSIONS_TEST),
    implemented("autopurge.snapRetainCount", "autopurge_snap_retain_count", SNAPSHOT_TEST),
    implemented("autopurge.purgeInterval", "autopurge_purge_interval_hours", SNAPSHOT_TEST),
    implemented("server.N", "servers", TUTORIAL_TEST),
    implemented(
        "standaloneEnabled",
        "",
        "src/config/tests.rs::standalone_enabled_false_is_a_quorum",
    ),
    implemented("initLimit", "init_limit", TUTORIAL_TEST),
    implemented("syncLimit", "sync_limit", TUTORIAL_TEST),
    implemented(
        "connectToLearnerMasterLimit",
        "connect_to_learner_master_limit",
        ENSEMBLE_TEST,
    ),
    implemented("electionAlg", "", ENSEMBLE_TEST),
    implemented("quorumListenOnAllIPs", "quorum_listen_on_all_ips", ENSEMBLE_TEST),
    implemented(
        "peerType",
        "peer_type",
        "src/config/tests.rs::peer_type_follows_the_server_lines",
    ),
    implemented("syncEnabled", "sync_enabled", ENSEMBLE_TEST),
    refused(
        "observerMasterPort",
        NONE,
        "paddock has no observer masters (observers sync from the leader); remove this line",
    ),
    ignored(
        "quorum.cnxn.threads.size",
        "it sizes the Java thread pool of quorum SASL handshakes; paddock has no quorum SASL",
    ),
    refused(
        "group.N",
        NONE,
        "paddock has no hierarchical quorums (every participant has one vote); remove the group.N and weight.N lines",
    ),
    refused(
        "weight.N",
        NONE,
        "paddock has no hierarchical quorums (every participant has one vote); remove the group.N and weight.N lines",
    ),
    refused(
        "oraclePath",
        NONE,
        "paddock has no QuorumOracleMaj (two-server oracle quorums); remove this line",
    ),
    refused(
        "multiAddress.enabled",
        FALSE,
        "paddock has one address per server (the V1 election handshake, as ZooKeeper's default); remove this line",
    ),
    ignored(
        "multiAddress.reachabilityCheckEnabled",
        "it only matters with multiAddress.enabled=true, which paddock refuses",
    ),
    ignored(
        "multiAddress.reachabilityCheckTimeoutMs",
        "it only matters with multiAddress.enabled=true, which paddock refuses",
    ),
    refused(
        "localSessionsEnabled",
        FALSE,
        "local sessions are not supported: every session is global, as with ZooKeeper's default; remove this line",
    ),
    refused(
        "localSessionsUpgradingEnabled",
        FALSE,
        "local sessions are not supported: every session is global, as with ZooKeeper's default; remove this line",
    ),
    refused("reconfigEnabled", FALSE, NO_RECONFIG),
    refused("dynamicConfigFile", NONE, NO_RECONFIG),
    refused("secureClientPort", NONE, NO_TLS),
    refused("secureClientPortAddress", NONE, NO_TLS),
    refused("sslQuorum", FALSE, NO_TLS),
    ignored("sslQuorumReloadCertFiles", "it only matters with sslQuorum=true, which paddock refuses"),
    refused("portUnification", FALSE, NO_TLS),
    refused("quorum.auth.enableSasl", FALSE, NO_QUORUM_SASL),
    refused("quorum.auth.serverRequireSasl", FALSE, NO_QUORUM_SASL),
    refused("quorum.auth.learnerRequireSasl", FALSE, NO_QUORUM_SASL),
    ignored("quorum.auth.learner.saslLoginContext", ONLY_WITH_QUORUM_SASL),
    ignored("quorum.auth.server.saslLoginContext", ONLY_WITH_QUORUM_SASL),
    ignored("quorum.auth.kerberos.servicePrincipal", ONLY_WITH_QUORUM_SASL),
    ignored("jvm.pause.monitor", JVM_ONLY),
    ignored("jvm.pause.sleep.time.ms", JVM_ONLY),
    ignored("jvm.pause.warn-threshold.ms", JVM_ONLY),
    ignored("jvm.pause.info-threshold.ms", JVM_ONLY),
    implemented(
        "metricsProvider.className",
        "metrics_provider_class",
        "tests/interop/test_prometheus.py::test_zookeeper_names_and_types",
    ),
    implemented(
        "metricsProvider.httpHost",
        "metrics_http_host",
        "tests/interop/test_prometheus.py::test_zookeeper_names_and_types",
    ),
    implemented(
        "metricsProvider.httpPort",
        "metrics_http_port",
        "tests/interop/test_prometheus.py::test_other_paths_are_not_found",
    ),
    ignored(
        "metricsProvider.*",
        "the Prometheus provider's other settings (JVM info, thread pool, summary ages) tune its Java side; paddock serves /metrics without them",
    ),
    // --- ZooKeeperServer ----------------------------------------------------
    ignored(
        "globalOutstandingLimit",
        "paddock bounds in-flight requests per connection instead (paddock.maxOutstandingPerConnection)",
    ),
    implemented("snapCount", "snap_count", SNAPSHOT_TEST),
    ignored(
        "skipACL",
        "ACLs stay enforced (paddock always checks them; skipACL=yes would only have switched them off)",
    ),
    ignored("enableEagerACLCheck", "ACLs are still checked when each request is applied, as ZooKeeper does by default"),
    ignored("enforceQuota", "quotas are not enforced, as with ZooKeeper's default (enforceQuota=false)"),
    implemented(
        "superUser",
        "super_user",
        "tests/interop/test_enforce_auth.py::test_super_user_sasl",
    ),
    refused(
        "allowSaslFailedClients",
        FALSE,
        "paddock closes a connection whose SASL fails, as ZooKeeper does by default; remove this line",
    ),
    ignored("digest.enabled", "paddock keeps no tree digest; a peer checks a proposal's digest only when the proposal carries one"),
    ignored("closeSessionTxn.enabled", "a closed session's ephemerals are removed as the session closes either way"),
    ignored("flushDelay", "paddock's group commit has its own wait (paddock.groupCommitWaitMicros)"),
    ignored("maxWriteQueuePollTime", "paddock's group commit has its own wait (paddock.groupCommitWaitMicros)"),
    ignored("maxBatchSize", "paddock's group commit has its own bound (paddock.batchTxnsMax)"),
    ignored("intBufferStartingSizeBytes", JVM_ONLY),
    ignored("maxResponseCacheSize", "paddock keeps no serialized-response cache; answers are the same"),
    ignored("maxGetChildrenResponseCacheSize", "paddock keeps no serialized-response cache; answers are the same"),
    ignored("throttled_op_wait_time", "paddock does not throttle ops by time"),
    ignored("snapSizeLimitInKb", "paddock snapshots by txn count (snapCount) only"),
    ignored("largeRequestMaxBytes", "requests are still bounded by jute.maxbuffer"),
    ignored("largeRequestThreshold", "requests are still bounded by jute.maxbuffer"),
    // --- SyncRequestProcessor / FileTxnLog / FilePadding / FileTxnSnapLog ---
    ignored("forceSync", "every batch is still flushed before it is acknowledged"),
    implemented(
        "fsync.warningthresholdms",
        "fsync_warning_threshold_ms",
        "tests/interop/test_config.py::test_fsync_warning_threshold_counts_slow_flushes",
    ),
    ignored("txnLogSizeLimitInKb", "paddock rolls log segments by its own size (preAllocSize)"),
    implemented(
        "preAllocSize",
        "pre_alloc_size_kb",
        "tests/interop/test_operations.py::test_disk_full_fails_writes_keeps_reads_and_log",
    ),
    ignored("datadir.autocreate", "paddock creates dataDir as ZooKeeper's default (true) does"),
    ignored("db.autocreate", "paddock starts on an empty dataDir as ZooKeeper's default (true) does"),
    ignored("snapshot.trust.empty", "paddock recovers from the log alone when there is no snapshot"),
    ignored("snapshot.compression.method", "paddock writes its own snapshots uncompressed and reads only those"),
    implemented(
        "snapshotSizeFactor",
        "snapshot_size_factor_ppm",
        "src/config/tests.rs::diff_window_keys",
    ),
    implemented(
        "commitLogCount",
        "commit_log_count",
        "src/config/tests.rs::diff_window_keys",
    ),
    // --- connection factories ------------------------------------------------
    ignored(
        "serverCnxnFactory",
        "paddock has its own connection layer; clients see the same protocol (TLS keys are refused on their own)",
    ),
    implemented(
        "maxCnxns",
        "max_cnxns",
        "tests/interop/test_config.py::test_max_cnxns_turns_away_the_extra_connection",
    ),
    ignored("nio.sessionlessCnxnTimeout", JVM_ONLY),
    ignored("nio.numSelectorThreads", JVM_ONLY),
    ignored("nio.numWorkerThreads", JVM_ONLY),
    ignored("nio.directBufferBytes", JVM_ONLY),
    ignored("nio.shutdownTimeout", JVM_ONLY),
    refused("client.portUnification", FALSE, NO_TLS),
    refused("client.secure", FALSE, NO_TLS),
    ignored("netty.server.earlyDropSecureConnectionHandshakes", "it only matters with TLS, which paddock refuses"),
    ignored("netty.server.outstandingHandshake.limit", "it only matters with TLS, which paddock refuses"),
    ignored("netty.advancedFlowControl.enabled", JVM_ONLY),
    ignored("clientTcpKeepAlive", "sessions still expire by their timeout, which keep-alive only helps detect"),
    ignored("connection_throttle_tokens", "paddock does not throttle new connections (maxClientCnxns/maxCnxns still apply)"),
    ignored("connection_throttle_fill_time", "paddock does not throttle new connections (maxClientCnxns/maxCnxns still apply)"),
    ignored("connection_throttle_fill_count", "paddock does not throttle new connections (maxClientCnxns/maxCnxns still apply)"),
    ignored("connection_throttle_freeze_time", "paddock does not throttle new connections (maxClientCnxns/maxCnxns still apply)"),
    ignored("connection_throttle_drop_increase", "paddock does not throttle new connections (maxClientCnxns/maxCnxns still apply)"),
    ignored("connection_throttle_drop_decrease", "paddock does not throttle new connections (maxClientCnxns/maxCnxns still apply)"),
    ignored("connection_throttle_decrease_ratio", "paddock does not throttle new connections (maxClientCnxns/maxCnxns still apply)"),
    ignored("connection_throttle_weight_enabled", "paddock does not throttle new connections (maxClientCnxns/maxCnxns still apply)"),
    ignored("connection_throttle_global_session_weight", "paddock does not throttle new connections (maxClientCnxns/maxCnxns still apply)"),
    ignored("connection_throttle_local_session_weight", "paddock does not throttle new connections (maxClientCnxns/maxCnxns still apply)"),
    ignored("connection_throttle_renew_session_weight", "paddock does not throttle new connections (maxClientCnxns/maxCnxns still apply)"),
    ignored("request_throttle_max_requests", "paddock bounds in-flight requests per connection instead (paddock.maxOutstandingPerConnection)"),
    ignored("request_throttle_stall_time", "paddock bounds in-flight requests per connection instead (paddock.maxOutstandingPerConnection)"),
    ignored("request_throttle_drop_stale", "paddock bounds in-flight requests per connection instead (paddock.maxOutstandingPerConnection)"),
    ignored("request_throttler.shutdownTimeout", JVM_ONLY),
    // --- QuorumPeer / Leader / Learner / LearnerHandler / election ----------
    refused(
        "kerberos.canonicalizeHostNames",
        FALSE,
        "paddock uses the server.N host names as written (ZooKeeper's default); remove this line",
    ),
    implemented("quorumCnxnTimeoutMs", "quorum_cnxn_timeout_ms", ENSEMBLE_TEST),
    implemented("observer.syncEnabled", "sync_enabled", ENSEMBLE_TEST),
    ignored(
        "observer.reconnectDelayMs",
        "an observer that lost its leader reconnects on paddock's own schedule; only the timing differs",
    ),
    ignored(
        "observer.election.DelayMs",
        "an observer that lost its leader looks for one on paddock's own schedule; only the timing differs",
    ),
    ignored(
        "observerMaster.sizeLimit",
        "it only matters with observerMasterPort, which paddock refuses",
    ),
    implemented("leaderServes", "leader_serves", ENSEMBLE_TEST),
    implemented("leader.nodelay", "leader_nodelay", ENSEMBLE_TEST),
    implemented("follower.nodelay", "follower_nodelay", ENSEMBLE_TEST),
    ignored(
        "leader.maxTimeToWaitForEpoch",
        "the leader waits for a quorum of epochs up to initLimit ticks, as with ZooKeeper's default (-1: no extra wait)",
    ),
    ignored("leader.closeSocketAsync", JVM_ONLY),
    implemented(
        "leader.maxConcurrentSnapSyncs",
        "max_concurrent_snap_syncs",
        "src/zab/machine/leader.rs::throttle_tests::observers_over_the_snap_limit_are_refused_and_followers_are_not",
    ),
    implemented(
        "leader.maxConcurrentDiffSyncs",
        "max_concurrent_diff_syncs",
        "src/config/tests.rs::sync_throttle_keys",
    ),
    ignored(
        "leaderConnectDelayDuringRetryMs",
        "a learner retries connecting to its leader on paddock's own schedule; only the timing differs",
    ),
    ignored("learner.asyncSending", JVM_ONLY),
    ignored("learner.closeSocketAsync", JVM_ONLY),
    ignored(
        "forceSnapshotSync",
        "a testing switch: learners sync by DIFF, TRUNC or SNAP as needed, as with ZooKeeper's default",
    ),
    implemented("cnxTimeout", "cnx_timeout_ms", ENSEMBLE_TEST),
    ignored(
        "tcpKeepAlive",
        "dead peers are still detected by syncLimit and the election timeouts; keep-alive only detects them sooner",
    ),
    ignored(
        "electionPortBindRetry",
        "it sets how often ZooKeeper retries binding the election port; paddock's start does not depend on it",
    ),
    implemented(
        "fastleader.minNotificationInterval",
        "fle_min_notification_interval_ms",
        ENSEMBLE_TEST,
    ),
    implemented(
        "fastleader.maxNotificationInterval",
        "fle_max_notification_interval_ms",
        ENSEMBLE_TEST,
    ),
    implemented(
        "readonlymode.enabled",
        "four_letter_whitelist",
        "src/config/tests.rs::system_property_forms",
    ),
    // --- ContainerManager ------------------------------------------------------
    implemented(
        "znode.container.checkIntervalMs",
        "container_check_interval_ms",
        "tests/interop/test_config.py::test_container_check_interval_deletes_empty_containers",
    ),
    implemented(
        "znode.container.maxPerMinute",
        "container_max_per_minute",
        "src/server/sweep.rs::tests::deletions_are_spaced_by_max_per_minute",
    ),
    ignored(
        "znode.container.maxNeverUsedIntervalMs",
        "a container that never had a child is kept, as with ZooKeeper's default (0)",
    ),
    implemented(
        "extendedTypesEnabled",
        "extended_types_enabled",
        "tests/interop/test_c_client.py::test_c_create_ttl_and_container",
    ),
    ignored("emulate353TTLNodes", "paddock reads TTL nodes in 3.8's encoding; 3.5.3's is for old logs paddock never wrote"),
    // --- auth ------------------------------------------------------------------
    refused(
        "authProvider.N",
        &[
            "org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
            "org.apache.zookeeper.server.auth.DigestAuthenticationProvider",
            "org.apache.zookeeper.server.auth.IPAuthenticationProvider",
        ],
        "paddock has only the Digest, SASL (DIGEST-MD5 via JAAS) and IP providers, always on; remove this line",
    ),
    implemented(
        "DigestAuthenticationProvider.superDigest",
        "super_digest",
        "tests/interop/test_operations.py::test_super_digest_bypasses_acls",
    ),
    refused(
        "DigestAuthenticationProvider.digestAlg",
        &["SHA1", "SHA-1"],
        "paddock's digest scheme is SHA1 only, as ZooKeeper's default; remove this line",
    ),
    refused(
        "DigestAuthenticationProvider.enabled",
        &["true"],
        "paddock cannot switch the digest provider off; remove this line",
    ),
    refused(
        "letAnySaslUserDoX",
        NONE,
        "not supported; remove this line (it would widen what SASL users may do)",
    ),
    ignored("requireKerberosConfig", "paddock has no Kerberos; DIGEST-MD5 SASL does not use it"),
    ignored("security.auth_to_local", "paddock has no Kerberos; DIGEST-MD5 user names are used as given"),
    ignored("kinit", "paddock has no Kerberos"),
    implemented(
        "enforce.auth.enabled",
        "enforce_auth_enabled",
        "tests/interop/test_enforce_auth.py::test_enforce_auth_digest",
    ),
    implemented(
        "enforce.auth.schemes",
        "enforce_auth_schemes",
        "tests/interop/test_enforce_auth.py::test_enforce_auth_digest",
    ),
    implemented(
        "sessionRequireClientSASLAuth",
        "session_require_client_sasl_auth",
        "tests/interop/test_enforce_auth.py::test_session_require_client_sasl_auth",
    ),
    implemented("java.security.auth.login.config", "jaas_config", SASL_TEST),
    implemented(
        "sasl.serverconfig",
        "sasl_server_section",
        "tests/interop/test_config.py::test_sasl_serverconfig_names_the_jaas_section",
    ),
    refused(
        "ssl.*",
        NONE,
        "paddock has no TLS yet; remove the ssl.* lines (clients connect in plain text on clientPort)",
    ),
    // --- AdminServer -----------------------------------------------------------
    implemented(
        "admin.enableServer",
        "admin_enable_server",
        "tests/interop/test_admin_server.py::test_disabled_admin_server_listens_nowhere",
    ),
    implemented(
        "admin.serverAddress",
        "admin_server_address",
        "tests/interop/test_admin_server.py::test_index_lists_every_command",
    ),
    implemented(
        "admin.serverPort",
        "admin_server_port",
        "tests/interop/test_admin_server.py::test_busy_admin_port_is_logged_and_clients_are_served",
    ),
    implemented(
        "admin.idleTimeout",
        "admin_idle_timeout_ms",
        "tests/interop/test_admin_server.py::test_idle_timeout_closes_connection",
    ),
    implemented(
        "admin.commandURL",
        "admin_command_url",
        "tests/interop/test_admin_server.py::test_command_url_is_configurable",
    ),
    ignored(
        "admin.httpVersion",
        "paddock's AdminServer answers HTTP/1.1 and HTTP/1.0 requests alike",
    ),
    refused("admin.portUnification", FALSE, NO_TLS),
    refused("admin.forceHttps", FALSE, NO_TLS),
    // --- the rest ----------------------------------------------------------------
    implemented(
        "4lw.commands.whitelist",
        "four_letter_whitelist",
        "tests/interop/test_four_letter.py::test_whitelist",
    ),
    implemented(
        "jute.maxbuffer",
        "jute_max_buffer",
        "tests/interop/test_operations.py::test_jute_maxbuffer_from_zoo_cfg",
    ),
    refused(
        "audit.enable",
        FALSE,
        "paddock writes no audit log yet; remove this line rather than rely on an audit trail that is not there",
    ),
    ignored("audit.impl.class", "it only matters with audit.enable=true, which paddock refuses"),
    ignored("watchManagerName", "paddock has one watch manager; watches behave the same"),
    ignored("watcherCleanThreshold", JVM_ONLY),
    ignored("watcherCleanIntervalInSeconds", JVM_ONLY),
    ignored("watcherCleanThreadsNum", JVM_ONLY),
    ignored("maxInProcessingDeadWatchers", JVM_ONLY),
    ignored("pathStats.slotCapacity", "paddock collects no per-path request statistics"),
    ignored("pathStats.slotDuration", "paddock collects no per-path request statistics"),
    ignored("pathStats.maxDepth", "paddock collects no per-path request statistics"),
    ignored("pathStats.sampleRate", "paddock collects no per-path request statistics"),
    ignored("pathStats.initialDelay", "paddock collects no per-path request statistics"),
    ignored("pathStats.delay", "paddock collects no per-path request statistics"),
    ignored("pathStats.topPathMax", "paddock collects no per-path request statistics"),
    ignored("pathStats.enabled", "paddock collects no per-path request statistics"),
    // --- paddock's knobs (see tuning.rs) ---------------------------------------------
    implemented(
        "paddock.cores",
        "cores",
        "tests/interop/test_config.py::test_paddock_cores_and_log_core_place_the_work",
    ),
    implemented(
        "paddock.logCore",
        "log_core",
        "tests/interop/test_config.py::test_paddock_cores_and_log_core_place_the_work",
    ),
    implemented("paddock.batchTxnsMax", "batch_txns_max", GROUP_COMMIT_TEST),
    implemented("paddock.batchBytesMax", "batch_bytes_max", GROUP_COMMIT_TEST),
    implemented("paddock.groupCommitWaitMicros", "group_commit_wait_micros", GROUP_COMMIT_TEST),
    implemented(
        "paddock.socketNoDelay",
        "socket_no_delay",
        "tests/interop/test_config.py::test_socket_no_delay_sets_tcp_nodelay",
    ),
    implemented(
        "paddock.snapshotReplica",
        "snapshot_replica",
        "tests/interop/test_config.py::test_snapshot_replica_thread_follows_the_knob",
    ),
    implemented(
        "paddock.spinBeforeParkMicros",
        "spin_before_park_micros",
        "tests/interop/test_config.py::test_spin_before_park_burns_cpu_when_idle",
    ),
    implemented(
        "paddock.sessionTouchIntervalMs",
        "session_touch_interval_ms",
        "tests/interop/test_config.py::test_session_touch_interval_longer_than_timeout_expires_busy_sessions",
    ),
    implemented(
        "paddock.maxOutstandingPerConnection",
        "outstanding_per_connection_max",
        "tests/interop/test_config.py::test_max_outstanding_per_connection_stops_reading",
    ),
];

/// Knobs that once existed and were removed because they named something
/// unbuilt; they are unknown keys now, refused with this hint.
pub const REMOVED: &[(&str, &str)] = &[
    (
        "paddock.logBackend",
        "paddock.logBackend was removed: the log is memory-mapped only (no O_DIRECT backend exists); delete this line",
    ),
    (
        "paddock.consensusCore",
        "paddock.consensusCore was removed: there is no consensus core until replication exists; delete this line",
    ),
    (
        "paddock.channelCapacity",
        "paddock.channelCapacity was removed: each cross-core channel has its own named bound in src/server; delete this line",
    ),
];

/// The registered name of a key: ZooKeeper's system properties are read
/// both as `zookeeper.X` and `X` (ZooKeeper itself turns an unknown zoo.cfg
/// key `X` into the system property `zookeeper.X`).
pub fn canonical_key(key: &str) -> &str {
    key.strip_prefix("zookeeper.").unwrap_or(key)
}

/// Does a registry pattern match a (canonical) key?
fn matches(pattern: &str, key: &str) -> bool {
    if let Some(prefix) = pattern.strip_suffix(".N") {
        return key
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    }
    if let Some(prefix) = pattern.strip_suffix(".*") {
        return key
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.') && rest.len() > 1);
    }
    pattern == key
}

/// The row for a canonical key, if any.
pub fn lookup(key: &str) -> Option<&'static Row> {
    REGISTRY
        .iter()
        .find(|row| row.key == key)
        .or_else(|| REGISTRY.iter().find(|row| matches(row.key, key)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    fn repo() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// The field names of `pub struct NAME { ... }` in a source text.
    fn struct_fields(text: &str, name: &str) -> Vec<String> {
        let start = text
            .find(&format!("pub struct {name} {{"))
            .unwrap_or_else(|| panic!("struct {name} not found"));
        let body = &text[start..];
        let end = body.find("\n}").unwrap();
        body[..end]
            .lines()
            .filter_map(|line| {
                let line = line.trim();
                let rest = line.strip_prefix("pub ")?;
                let (field, _) = rest.split_once(':')?;
                Some(field.trim().to_string())
            })
            .collect()
    }

    #[test]
    fn one_row_per_key_and_patterns_do_not_overlap() {
        let mut seen = BTreeMap::new();
        for row in REGISTRY {
            *seen.entry(row.key).or_insert(0) += 1;
        }
        let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "keys with two rows: {twice:?}");
        for row in REGISTRY {
            assert_eq!(canonical_key(row.key), row.key, "{} is not bare", row.key);
            assert_eq!(lookup(row.key).map(|r| r.key), Some(row.key));
            assert!(
                !REMOVED.iter().any(|(k, _)| *k == row.key),
                "{} is both registered and removed",
                row.key
            );
        }
        assert_eq!(lookup("server.12").map(|r| r.key), Some("server.N"));
        assert_eq!(
            lookup("ssl.keyStore.location").map(|r| r.key),
            Some("ssl.*")
        );
        assert_eq!(lookup("server.x"), None);
        assert_eq!(lookup("bogus"), None);
    }

    /// Every `shown_by` names a test that exists in the tree: a Python
    /// `def NAME(` or a Rust `fn NAME(` in the named file.
    #[test]
    fn every_shown_by_test_exists() {
        let mut missing = Vec::new();
        for row in REGISTRY {
            let Status::Implemented { shown_by, .. } = row.status else {
                continue;
            };
            let (file, path) = shown_by.split_once("::").unwrap();
            let name = path.rsplit("::").next().unwrap();
            let text = std::fs::read_to_string(repo().join(file)).unwrap_or_default();
            let found =
                text.contains(&format!("def {name}(")) || text.contains(&format!("fn {name}("));
            if !found {
                missing.push(format!("{} -> {shown_by}", row.key));
            }
        }
        assert!(
            missing.is_empty(),
            "shown_by tests missing:\n{}",
            missing.join("\n")
        );
    }

    /// Every field of `Config` and `Tuning` is read somewhere outside
    /// `src/config/` (as `.field`), and every Implemented row names a field
    /// that exists (or none).
    #[test]
    fn every_config_field_is_read_and_every_implemented_field_exists() {
        let config_dir = repo().join("src/config");
        let mut files = Vec::new();
        for dir in ["src", "tests", "benches", "loadgen/src"] {
            rust_files(&repo().join(dir), &mut files);
        }
        let outside: String = files
            .iter()
            .filter(|f| !f.starts_with(&config_dir))
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        let mut fields = struct_fields(
            &std::fs::read_to_string(config_dir.join("mod.rs")).unwrap(),
            "Config",
        );
        fields.extend(struct_fields(
            &std::fs::read_to_string(config_dir.join("tuning.rs")).unwrap(),
            "Tuning",
        ));
        let is_read = |field: &str| {
            let needle = format!(".{field}");
            outside.match_indices(&needle).any(|(at, _)| {
                let next = outside[at + needle.len()..].chars().next();
                !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        };
        let unread: Vec<&String> = fields.iter().filter(|f| !is_read(f)).collect();
        let mut problems: Vec<String> = unread
            .iter()
            .map(|f| format!("field `{f}` is read by nobody outside src/config/"))
            .collect();
        for row in REGISTRY {
            if let Status::Implemented { field, .. } = row.status {
                if !field.is_empty() && !fields.iter().any(|f| f == field) {
                    problems.push(format!("{}: no field `{field}`", row.key));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
