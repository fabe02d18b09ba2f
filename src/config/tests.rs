//! Tests of the configuration loader: files, keys, defaults, refusals.
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
fn embedded_default() {
    let (config, warnings) = load_with_jvm_flags(None, None, None).unwrap();
    assert!(warnings.is_empty());
    assert!(config.is_standalone());
    assert_eq!(config.client_port, 2181);
    assert_eq!(config.client_port_address.as_deref(), Some("127.0.0.1"));
    assert_eq!(config.admin_server_address, "127.0.0.1");
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
fn admin_and_metrics_keys() {
    let (config, warnings) = load_text(
        "dataDir=/tmp/zookeeper\nadmin.commandURL=/zk/\nadmin.idleTimeout=500\n\
         admin.serverPort=9090\nmetricsProvider.httpHost=127.0.0.1\n",
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(config.admin_command_url, "/zk");
    assert_eq!(config.admin_idle_timeout_ms, 500);
    assert_eq!(config.admin_server_port, 9090);
    assert!(config.admin_enable_server);
    assert_eq!(config.metrics_http_host, "127.0.0.1");
    assert_eq!(config.metrics_provider_class, None);
    let (defaults, _) = load_text("dataDir=/tmp/zookeeper\n").unwrap();
    assert_eq!(defaults.admin_command_url, "/commands");
    assert_eq!(defaults.admin_idle_timeout_ms, 30_000);
    assert_eq!(defaults.admin_server_address, "0.0.0.0");
    assert_eq!(defaults.admin_server_port, 8080);
    for bad in [
        "admin.commandURL=commands",
        "admin.idleTimeout=0",
        "metricsProvider.className=com.example.Nope",
        "metricsProvider.httpPort=0",
    ] {
        assert!(
            load_text(&format!("dataDir=/tmp/zookeeper\n{bad}\n")).is_err(),
            "{bad}"
        );
    }
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
    // Every key of the sample is implemented: no warning.
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!((config.init_limit, config.sync_limit), (10, 5));
    assert_eq!(config.tick_time_ms, 2000);
    assert_eq!(config.min_session_timeout_ms, 4000);
    assert_eq!(config.max_session_timeout_ms, 40000);
    assert_eq!(config.data_log_dir, PathBuf::from("/tmp/zookeeper"));
    assert_eq!(config.client_port_address, None);
    assert_eq!(config.max_client_cnxns, 60);
    assert_eq!(
        config.metrics_provider_class.as_deref(),
        Some(PROMETHEUS_METRICS_PROVIDER)
    );
    assert_eq!(config.metrics_http_port, 7000);
    assert_eq!(config.metrics_http_host, "0.0.0.0");
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
fn unknown_key_is_refused_naming_file_line_and_key() {
    let err = load_text("dataDir=/tmp/x\nfoo=bar\n").unwrap_err();
    assert_eq!((err.line, err.key.as_str()), (2, "foo"));
    let shown = err.to_string();
    assert!(
        shown.ends_with("zoo.cfg:2: key 'foo': not a ZooKeeper 3.8 or paddock key: remove it or fix its spelling (keys are case-sensitive)"),
        "{shown}"
    );
    // A removed knob is unknown too, with a hint.
    for knob in [
        "paddock.logBackend=direct",
        "paddock.consensusCore=0",
        "paddock.channelCapacity=8",
    ] {
        let err = load_text(&format!("dataDir=/d\n{knob}\n")).unwrap_err();
        assert!(err.message.contains("was removed"), "{err}");
    }
}

#[test]
fn ignored_keys_warn_once_with_why() {
    let (_, warnings) =
        load_text("dataDir=/d\nskipACL=yes\nzookeeper.forceSync=no\nzookeeper.tcpKeepAlive=true\n")
            .unwrap();
    let shown: Vec<String> = warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(shown.len(), 3, "{shown:?}");
    assert!(shown[0].ends_with(":2: key 'skipACL': ignored: ACLs stay enforced (paddock always checks them; skipACL=yes would only have switched them off)"), "{}", shown[0]);
    assert!(
        shown[1].contains("'zookeeper.forceSync': ignored: every batch is still flushed"),
        "{}",
        shown[1]
    );
    assert!(
        shown[2].contains("'zookeeper.tcpKeepAlive': ignored: dead peers are still detected"),
        "{}",
        shown[2]
    );
    // Ignored keys still have their values checked, as ZooKeeper does.
    assert_eq!(
        load_text("dataDir=/d\nelectionAlg=1\n").unwrap_err().key,
        "electionAlg"
    );
    assert_eq!(
        load_text("dataDir=/d\ninitLimit=x\n").unwrap_err().key,
        "initLimit"
    );
    assert_eq!(
        load_text("dataDir=/d\nskipACL=maybe\n").unwrap_err().key,
        "skipACL"
    );
}

#[test]
fn security_keys_are_refused_unless_they_ask_for_nothing() {
    for (line, key) in [
        ("secureClientPort=2281", "secureClientPort"),
        ("secureClientPortAddress=0.0.0.0", "secureClientPortAddress"),
        ("ssl.keyStore.location=/k.jks", "ssl.keyStore.location"),
        (
            "zookeeper.ssl.quorum.trustStore.location=/t.jks",
            "zookeeper.ssl.quorum.trustStore.location",
        ),
        ("sslQuorum=true", "sslQuorum"),
        ("portUnification=true", "portUnification"),
        ("client.secure=true", "client.secure"),
        ("quorum.auth.enableSasl=true", "quorum.auth.enableSasl"),
        ("authProvider.1=com.example.LdapProvider", "authProvider.1"),
        ("audit.enable=true", "audit.enable"),
    ] {
        let err = load_text(&format!("dataDir=/d\n{line}\n")).unwrap_err();
        assert_eq!((err.line, err.key.as_str()), (2, key), "{err}");
        assert!(err.message.starts_with("refused: "), "{err}");
    }
    let (_, warnings) = load_text(
        "dataDir=/d\nsslQuorum=false\nportUnification=false\nquorum.auth.enableSasl=false\n\
         authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n\
         authProvider.2=org.apache.zookeeper.server.auth.DigestAuthenticationProvider\n",
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
}

/// The tutorial's three servers on one host (`zoo1.cfg`..`zoo3.cfg`), the
/// server `myid` names; `tmp` holds the data directories.
fn tutorial(tmp: &Path, myid: Option<&str>, extra: &str) -> Result<Config, ConfigError> {
    let data = tmp.join("zk1");
    std::fs::create_dir_all(&data).unwrap();
    if let Some(id) = myid {
        write(&data, "myid", id);
    }
    let cfg = format!(
        "tickTime=2000\ndataDir={}\nclientPort=2181\ninitLimit=5\nsyncLimit=2\n\
         server.1=localhost:2888:3888\nserver.2=localhost:2889:3889\n\
         server.3=localhost:2890:3890\n{extra}",
        data.display()
    );
    let path = write(tmp, "zoo.cfg", &cfg);
    load_with_jvm_flags(Some(&path), None, None).map(|(config, _)| config)
}

#[test]
fn tutorial_three_server_ensemble_loads() {
    let dir = tempfile::tempdir().unwrap();
    let config = tutorial(dir.path(), Some("1\n"), "").unwrap();
    assert!(!config.is_standalone());
    assert_eq!(config.my_id, Some(1));
    assert_eq!((config.init_limit, config.sync_limit), (5, 2));
    assert_eq!(config.tick_time_ms, 2000);
    assert_eq!(config.client_port, 2181);
    assert_eq!(config.peer_type, PeerRole::Participant);
    let ids: Vec<u64> = config.servers.iter().map(|s| s.id).collect();
    assert_eq!(ids, [1, 2, 3]);
    let me = config.me().unwrap();
    assert_eq!(
        (me.host.as_str(), me.quorum_port, me.election_port),
        ("localhost", 2888, 3888)
    );
    assert_eq!(
        config.zab_members(),
        (1..=3)
            .map(|sid| crate::zab::Member {
                sid,
                observer: false
            })
            .collect::<Vec<_>>()
    );
    assert_eq!(
        config.quorum_config_text(),
        "server.1=localhost:2888:3888:participant\nserver.2=localhost:2889:3889:participant\n\
         server.3=localhost:2890:3890:participant\nversion=0"
    );
    // `conf` shows the ensemble part.
    let conf = crate::server::four_letter::ConfInfo::from_config(&config);
    let quorum = conf.quorum.unwrap();
    assert_eq!((quorum.init_limit, quorum.sync_limit), (5, 2));
    assert_eq!(
        (quorum.quorum_port, quorum.election_port, quorum.peer_type),
        (2888, 3888, 0)
    );
}

#[test]
fn ensemble_requirements_name_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let myid = dir.path().join("zk1").join("myid");
    // No myid: the error names the file it wants.
    let err = tutorial(dir.path(), None, "").unwrap_err();
    assert_eq!(
        (err.file.as_path(), err.key.as_str()),
        (myid.as_path(), "myid")
    );
    assert!(err.message.starts_with("myid file is missing"), "{err}");
    assert!(
        err.message.contains("server.1, server.2, server.3"),
        "{err}"
    );
    assert!(err.to_string().contains("zk1/myid"), "{err}");
    // A myid that is not a number, or names no server.N line.
    let err = tutorial(dir.path(), Some("one"), "").unwrap_err();
    assert_eq!(err.file, myid);
    assert!(
        err.message.contains("expected a server id, got 'one'"),
        "{err}"
    );
    let err = tutorial(dir.path(), Some("4"), "").unwrap_err();
    assert_eq!(err.file, myid);
    assert!(err.message.contains("no server.4 line"), "{err}");
    std::fs::remove_file(&myid).unwrap();
    // initLimit and syncLimit are required (checked before myid, as ZooKeeper).
    let cfg = |text: &str| load_text(&format!("dataDir=/nonexistent\n{text}"));
    let three = "server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\n";
    let err = cfg(&format!("syncLimit=2\n{three}")).unwrap_err();
    assert_eq!((err.line, err.key.as_str()), (0, "initLimit"));
    assert!(
        err.to_string()
            .contains("zoo.cfg: key 'initLimit': initLimit is not set"),
        "{err}"
    );
    let err = cfg(&format!("initLimit=5\n{three}")).unwrap_err();
    assert_eq!(err.key, "syncLimit");
    assert_eq!(
        cfg(&format!("initLimit=0\n{three}")).unwrap_err().key,
        "initLimit"
    );
    // Refused ensemble features, each at its line.
    for (line, key, says) in [
        (
            "reconfigEnabled=true",
            "reconfigEnabled",
            "dynamic reconfiguration is not supported yet",
        ),
        (
            "dynamicConfigFile=/z.dyn",
            "dynamicConfigFile",
            "dynamic reconfiguration is not supported yet",
        ),
        ("group.1=1:2:3", "group.1", "hierarchical quorums"),
        ("weight.1=2", "weight.1", "hierarchical quorums"),
        (
            "multiAddress.enabled=true",
            "multiAddress.enabled",
            "one address per server",
        ),
        (
            "localSessionsEnabled=true",
            "localSessionsEnabled",
            "local sessions are not supported",
        ),
        (
            "localSessionsUpgradingEnabled=true",
            "localSessionsUpgradingEnabled",
            "local sessions",
        ),
        (
            "quorum.auth.enableSasl=true",
            "quorum.auth.enableSasl",
            "no quorum SASL",
        ),
        ("sslQuorum=true", "sslQuorum", "no TLS"),
        (
            "observerMasterPort=2191",
            "observerMasterPort",
            "no observer masters",
        ),
    ] {
        let err = cfg(&format!("initLimit=5\nsyncLimit=2\n{line}\n{three}")).unwrap_err();
        assert_eq!((err.line, err.key.as_str()), (4, key), "{err}");
        assert!(err.message.starts_with("refused: "), "{err}");
        assert!(err.message.contains(says), "{err}");
    }
    for (text, says) in [
        ("electionAlg=1\n", "only electionAlg 3"),
        ("server.4=d:5:5\n", "must be different"),
        ("server.4=d:1:2|e:1:2\n", "multiple addresses"),
    ] {
        let err = cfg(&format!("initLimit=5\nsyncLimit=2\n{three}{text}")).unwrap_err();
        assert_eq!(err.line, 7, "{err}");
        assert!(err.message.contains(says), "{err}");
    }
    // reconfigEnabled=false asks for nothing.
    let dir2 = tempfile::tempdir().unwrap();
    assert!(tutorial(dir2.path(), Some("2"), "reconfigEnabled=false\n").is_ok());
    // Observers need a quorum: with one participant (standalone) or none.
    let err = cfg("server.1=a:1:2\nserver.2=b:1:2:observer\n").unwrap_err();
    assert_eq!((err.line, err.key.as_str()), (3, "server.2"), "{err}");
    assert!(err.message.contains("observers without a quorum"), "{err}");
    let err = cfg("server.2=b:1:2:observer\n").unwrap_err();
    assert!(
        err.message.contains("observers without participants"),
        "{err}"
    );
}

#[test]
fn standalone_enabled_false_is_a_quorum() {
    // No participant at all: ZooKeeper refuses.
    let err = load_text("dataDir=/d\nstandaloneEnabled=false\n").unwrap_err();
    assert_eq!((err.line, err.key.as_str()), (2, "standaloneEnabled"));
    // One participant and standaloneEnabled=false: a quorum of one, which
    // needs what every ensemble needs.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let text = format!(
        "dataDir={}\nstandaloneEnabled=false\ninitLimit=5\nsyncLimit=2\nserver.7=127.0.0.1:2888:3888\n",
        data.display()
    );
    let path = write(dir.path(), "zoo.cfg", &text);
    let err = load_with_jvm_flags(Some(&path), None, None).unwrap_err();
    assert_eq!(err.key, "myid");
    write(&data, "myid", "7");
    let (config, _) = load_with_jvm_flags(Some(&path), None, None).unwrap();
    assert!(!config.standalone_enabled);
    assert!(!config.is_standalone());
    assert_eq!(
        config.zab_members(),
        [crate::zab::Member {
            sid: 7,
            observer: false
        }]
    );
    // The default (true) with the same line runs standalone.
    let path = write(
        dir.path(),
        "zoo.cfg",
        &text.replace("standaloneEnabled=false\n", ""),
    );
    let (config, _) = load_with_jvm_flags(Some(&path), None, None).unwrap();
    assert!(config.standalone_enabled && config.is_standalone());
    assert!(config.zab_members().is_empty());
}

#[test]
fn peer_type_follows_the_server_lines() {
    let dir = tempfile::tempdir().unwrap();
    let observer = "server.4=localhost:2891:3891:observer\n";
    // myid 4 is an observer; peerType=observer agrees: no warning.
    let data = dir.path().join("zk1");
    std::fs::create_dir_all(&data).unwrap();
    write(&data, "myid", "4");
    let base = format!(
        "dataDir={}\ninitLimit=5\nsyncLimit=2\nserver.1=localhost:2888:3888\n\
         server.2=localhost:2889:3889\nserver.3=localhost:2890:3890\n{observer}",
        data.display()
    );
    let load = |extra: &str| {
        let path = write(dir.path(), "zoo.cfg", &format!("{base}{extra}"));
        load_with_jvm_flags(Some(&path), None, None).unwrap()
    };
    let (config, warnings) = load("peerType=observer\n");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(config.peer_type, PeerRole::Observer);
    assert_eq!(
        config.zab_members().last(),
        Some(&crate::zab::Member {
            sid: 4,
            observer: true
        })
    );
    assert!(config
        .quorum_config_text()
        .contains("server.4=localhost:2891:3891:observer\n"));
    // peerType=participant disagrees: the server.N line wins, with a warning
    // at the peerType line (ZooKeeper's setupPeerType).
    let (config, warnings) = load("peerType=participant\n");
    assert_eq!(config.peer_type, PeerRole::Observer);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(
        (warnings[0].line, warnings[0].key.as_str()),
        (8, "peerType")
    );
    assert!(
        warnings[0].message.contains("using the server.N lines"),
        "{}",
        warnings[0]
    );
    // Standalone: peerType=observer is overridden to participant too.
    let (config, warnings) = load_text("dataDir=/d\npeerType=observer\n").unwrap();
    assert_eq!(config.peer_type, PeerRole::Participant);
    assert_eq!(warnings.len(), 1);
}

#[test]
fn ensemble_keys_reach_their_fields() {
    let dir = tempfile::tempdir().unwrap();
    let defaults = tutorial(dir.path(), Some("3"), "").unwrap();
    assert_eq!(defaults.connect_to_learner_master_limit, 0);
    assert!(!defaults.quorum_listen_on_all_ips);
    assert_eq!(defaults.cnx_timeout_ms, 5000);
    assert_eq!(defaults.quorum_cnxn_timeout_ms, None);
    assert!(defaults.sync_enabled);
    assert!(defaults.leader_nodelay && defaults.follower_nodelay);
    assert!(defaults.leader_serves);
    assert_eq!(
        (
            defaults.fle_min_notification_interval_ms,
            defaults.fle_max_notification_interval_ms
        ),
        (200, 60_000)
    );
    let config = tutorial(
        dir.path(),
        Some("3"),
        "electionAlg=3\nconnectToLearnerMasterLimit=7\nquorumListenOnAllIPs=true\n\
         zookeeper.cnxTimeout=1500\nzookeeper.quorumCnxnTimeoutMs=900\nsyncEnabled=false\n\
         leader.nodelay=false\nzookeeper.follower.nodelay=false\nleaderServes=no\n\
         fastleader.minNotificationInterval=50\nzookeeper.fastleader.maxNotificationInterval=5000\n",
    )
    .unwrap();
    assert_eq!(config.connect_to_learner_master_limit, 7);
    assert!(config.quorum_listen_on_all_ips);
    assert_eq!(config.cnx_timeout_ms, 1500);
    assert_eq!(config.quorum_cnxn_timeout_ms, Some(900));
    assert!(!config.sync_enabled);
    assert!(!config.leader_nodelay && !config.follower_nodelay);
    assert!(!config.leader_serves);
    assert_eq!(
        (
            config.fle_min_notification_interval_ms,
            config.fle_max_notification_interval_ms
        ),
        (50, 5000)
    );
    // observer.syncEnabled wins over syncEnabled; quorumCnxnTimeoutMs <= 0
    // is the default (tickTime × syncLimit).
    let config = tutorial(
        dir.path(),
        Some("3"),
        "observer.syncEnabled=true\nsyncEnabled=false\nquorumCnxnTimeoutMs=-1\n",
    )
    .unwrap();
    assert!(config.sync_enabled);
    assert_eq!(config.quorum_cnxn_timeout_ms, None);
    for bad in [
        "leaderServes=maybe",
        "cnxTimeout=0",
        "leader.nodelay=yes",
        "electionAlg=2",
    ] {
        let err = tutorial(dir.path(), Some("3"), &format!("{bad}\n")).unwrap_err();
        assert_eq!(err.line, 9, "{bad}: {err}");
    }
}

/// The config string ZooKeeper 3.8.0 itself sent in a notification
/// (`tests/fixtures/zab/zk-3.8.0/diff/06-…`), rebuilt from the same lines.
#[test]
fn quorum_config_text_matches_zookeepers() {
    let hex = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/zab/zk-3.8.0/diff/06-notification-from-1-looking.hex"
    ))
    .unwrap();
    let hex = hex.trim();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let n = crate::zab::Notification::decode(&bytes[4..]).unwrap();
    let theirs = n.config.unwrap();
    let servers: Vec<ServerEntry> = [(1, 50011, 41533), (2, 46885, 35017), (3, 52991, 52733)]
        .into_iter()
        .map(|(id, q, e)| parse_server_entry(id, &format!("127.0.0.1:{q}:{e}")).unwrap())
        .collect();
    assert_eq!(quorum_config_text(&servers, 0), theirs);
    // Rendered from its parse too (`QuorumVerifierText`).
    let parsed = crate::zab::wire::QuorumVerifierText::parse(&theirs).unwrap();
    assert_eq!(parsed.render(), theirs);
    // Client addresses only from the server.N line; IPv6 bracketed.
    let servers = vec![
        parse_server_entry(2, "[::1]:2888:3888;2182").unwrap(),
        parse_server_entry(1, "h:2888:3888:observer;127.0.0.1:2181").unwrap(),
        parse_server_entry(3, "h3:2888:3888:participant;[::1]:2183").unwrap(),
    ];
    assert_eq!(
        quorum_config_text(&servers, 0x100000000),
        "server.1=h:2888:3888:observer;127.0.0.1:2181\nserver.2=[::1]:2888:3888:participant;0.0.0.0:2182\n\
         server.3=h3:2888:3888:participant;[::1]:2183\nversion=100000000"
    );
}

#[test]
fn one_server_line_runs_standalone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let cfg = format!(
        "dataDir={}\nstandaloneEnabled=true\nserver.1=127.0.0.1:2888:3888;127.0.0.1:2191\n",
        data.display()
    );
    let path = write(dir.path(), "zoo.cfg", &cfg);
    // No myid: standalone on clientPort, as ZooKeeper ("standalone server
    // doesn't need myid file").
    let (config, _) = load_with_jvm_flags(Some(&path), None, None).unwrap();
    assert!(config.is_standalone());
    assert_eq!((config.my_id, config.client_port), (None, 2181));
    // With myid naming the line, its client address is used.
    write(&data, "myid", "1\n");
    let (config, _) = load_with_jvm_flags(Some(&path), None, None).unwrap();
    assert!(config.is_standalone());
    assert_eq!(config.my_id, Some(1));
    assert_eq!(config.client_port, 2191);
    assert_eq!(config.client_port_address.as_deref(), Some("127.0.0.1"));
    write(&data, "myid", "x\n");
    let err = load_with_jvm_flags(Some(&path), None, None).unwrap_err();
    assert_eq!(err.file, data.join("myid"));
}

/// Every registered key loads with a typical value (or is refused with
/// its registry message): no row lacks its handling in `apply`.
#[test]
fn every_registered_key_loads_or_is_refused_by_its_row() {
    let example = |key: &str| -> (String, &'static str) {
        let key = key.replace(".N", ".1").replace(".*", ".example");
        let value = match key.as_str() {
            "dataDir" | "dataLogDir" | "java.security.auth.login.config" => "/tmp/x",
            "server.1" => "127.0.0.1:2888:3888",
            "electionAlg" => "3",
            "peerType" => "participant",
            "standaloneEnabled" => "true",
            "leaderServes" => "yes",
            "DigestAuthenticationProvider.superDigest" => "super:abc=",
            "skipACL" | "forceSync" => "no",
            "paddock.cores" | "paddock.logCore" => "0",
            "autopurge.snapRetainCount" => "3",
            "metricsProvider.className" => PROMETHEUS_METRICS_PROVIDER,
            "admin.commandURL" => "/commands",
            "admin.serverAddress" | "metricsProvider.httpHost" => "127.0.0.1",
            "minSessionTimeout" | "maxSessionTimeout" => "6000",
            _ => "100",
        };
        (key, value)
    };
    let first_core = affinity_cores()[0].to_string();
    for row in registry::REGISTRY {
        let (key, value) = example(row.key);
        let value = if value == "0" {
            first_core.as_str()
        } else {
            value
        };
        let mut result = load_text(&format!("dataDir=/d\n{key}={value}\n"));
        // Boolean keys: try the value that asks for nothing (false).
        if let Err(err) = &result {
            if err.message.starts_with("expected 'true' or 'false'") {
                result = load_text(&format!("dataDir=/d\n{key}=false\n"));
            }
        }
        match (row.status, result) {
            (Status::Refused { .. }, Err(err)) => {
                assert!(err.message.starts_with("refused: "), "{}: {err}", row.key)
            }
            (Status::Refused { accepted, .. }, Ok(_)) => {
                assert!(!accepted.is_empty(), "{} loaded though refused", row.key)
            }
            (_, Err(err)) => panic!("{}: {err}", row.key),
            (_, Ok(_)) => {}
        }
    }
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
         readonlymode.enabled=true\nauthProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n",
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
    // Read-only serving itself is not implemented, and the server says so.
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].key, "readonlymode.enabled");
    assert!(
        warnings[0].message.contains("not implemented"),
        "{warnings:?}"
    );
    // Without readonlymode.enabled, isro is not whitelisted.
    let (config, _) = load_text("dataDir=/d\n4lw.commands.whitelist=ruok\n").unwrap();
    assert!(!config.four_letter_whitelist.allows("isro"));
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
    let (config, _) =
        load_text("dataDir=/d\ntickTime=1000\nminSessionTimeout=-1\nmaxSessionTimeout=100000\n")
            .unwrap();
    assert_eq!(config.min_session_timeout_ms, 2000);
    assert_eq!(config.max_session_timeout_ms, 100000);
    let err =
        load_text("dataDir=/d\nminSessionTimeout=50000\nmaxSessionTimeout=10000\n").unwrap_err();
    assert_eq!(err.key, "minSessionTimeout");
}

#[test]
fn autopurge_minimum() {
    let (config, warnings) =
        load_text("dataDir=/d\nautopurge.snapRetainCount=1\nautopurge.purgeInterval=24\n").unwrap();
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
    // Found by fuzz/quorum_text: blanks inside the brackets are trimmed too,
    // so a rendered entry reads back the same.
    let entry = parse_server_entry(1, "zk3:2888:3889:observer;[\t>1:2").unwrap();
    assert_eq!(entry.client_address.as_deref(), Some(">1"));
    // Found by fuzz/quorum_text again: a server host with a bracket or a
    // control character inside rendered as something that did not parse.
    assert!(parse_server_entry(2, "[[$\u{1}\u{3}]:2888:3888;u").is_err());
    assert!(parse_server_entry(2, "[a\u{1}b]:2888:3888").is_err());
    assert!(parse_server_entry(2, "[]:2888:3888").is_err());
    for line in ["zk1:2888:3888", "[fe80::1%eth0]:2888:3888;[::1]:2181"] {
        let entry = parse_server_entry(6, line).unwrap();
        let text = crate::config::quorum_config_text(std::slice::from_ref(&entry), 0);
        let value = text.lines().next().unwrap().split_once('=').unwrap().1;
        assert_eq!(
            parse_server_entry(6, value).unwrap(),
            entry,
            "{line} → {value}"
        );
    }
    assert!(parse_server_entry(5, "h:2888").is_err());
    assert!(parse_server_entry(5, "h:2888:3888:leader").is_err());
    assert!(parse_server_entry(5, "h:x:3888").is_err());
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
    assert_eq!((err.file, err.key.as_str()), (unknown, "paddock.bogus"));
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
fn diff_window_keys() {
    let (config, warnings) = load_text("dataDir=/d\n").unwrap();
    assert_eq!(config.commit_log_count, 500);
    assert_eq!(config.snapshot_size_factor_ppm, 330_000);
    assert!(warnings.is_empty(), "{warnings:?}");
    let (config, warnings) =
        load_text("dataDir=/d\nzookeeper.commitLogCount=2000\nzookeeper.snapshotSizeFactor=-1\n")
            .unwrap();
    assert_eq!(config.commit_log_count, 2000);
    assert_eq!(config.snapshot_size_factor_ppm, -1_000_000);
    assert!(warnings.is_empty(), "{warnings:?}");
    // As ZKDatabase: too small a count and too large a factor fall back,
    // with a warning each.
    let (config, warnings) =
        load_text("dataDir=/d\ncommitLogCount=10\nsnapshotSizeFactor=1.5\n").unwrap();
    assert_eq!(config.commit_log_count, 500);
    assert_eq!(config.snapshot_size_factor_ppm, 330_000);
    let keys: Vec<&str> = warnings.iter().map(|w| w.key.as_str()).collect();
    assert_eq!(
        keys,
        ["commitLogCount", "snapshotSizeFactor"],
        "{warnings:?}"
    );
    let e = load_text("dataDir=/d\nsnapshotSizeFactor=a third\n").unwrap_err();
    assert_eq!(e.key, "snapshotSizeFactor");
}

#[test]
fn sync_throttle_keys() {
    let (config, warnings) = load_text("dataDir=/d\n").unwrap();
    assert_eq!(
        (
            config.max_concurrent_snap_syncs,
            config.max_concurrent_diff_syncs
        ),
        (10, 100)
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let (config, warnings) = load_text(
        "dataDir=/d\nzookeeper.leader.maxConcurrentSnapSyncs=2\nleader.maxConcurrentDiffSyncs=3\n",
    )
    .unwrap();
    assert_eq!(
        (
            config.max_concurrent_snap_syncs,
            config.max_concurrent_diff_syncs
        ),
        (2, 3)
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let e = load_text("dataDir=/d\nleader.maxConcurrentSnapSyncs=0\n").unwrap_err();
    assert_eq!(e.key, "leader.maxConcurrentSnapSyncs");
    assert!(e.to_string().contains("positive"), "{e}");
}
