//! Writes the seed corpus of every fuzz target into `fuzz/seeds/<target>/`,
//! from paddock's own encoders and writers (frames, a log segment, a
//! snapshot, txns) and from the configuration texts the tests and Debian's
//! ZooKeeper package use. Run by `scripts/fuzz.sh`; the output is committed
//! so a reviewer sees what each target starts from.
//!
//! Files named `crash-*` in a seeds directory are regression inputs kept by
//! hand (each also a unit test next to its decoder); this tool never
//! touches them.
#![deny(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use md5::{Digest, Md5};
use paddock::data_tree::DataTree;
use paddock::protocol::{
    op, write_connect_request, write_raw_frame, write_request, Acl, AddWatchRequest, AuthPacket,
    CheckVersionRequest, ConnectRequest, CreateRequest, DeleteRequest, Id, MultiOp, PathWatch,
    ReconfigRequest, Request, SetAclRequest, SetDataRequest, SetWatchesRequest, WatchesRequest,
    FOUR_LETTER_WORDS,
};
use paddock::storage::{self, LogConfig, TxnLog};
use paddock::txn::{apply, CreateKind, Txn, TxnBody};
use paddock_fuzz::{SASL_NONCE, SASL_PASSWORD, SASL_USER};

struct Seeds {
    root: PathBuf,
}

impl Seeds {
    fn put(&self, target: &str, name: &str, bytes: &[u8]) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).expect("create seeds directory");
        fs::write(dir.join(format!("seed-{name}")), bytes).expect("write seed");
    }
}

fn connect(read_only: Option<bool>, session_id: i64) -> Vec<u8> {
    let request = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: if session_id == 0 { 0 } else { 0x1_0000_0005 },
        timeout_ms: 30_000,
        session_id,
        passwd: vec![if session_id == 0 { 0 } else { 7 }; 16],
        read_only: read_only.unwrap_or(false),
    };
    let mut frame = Vec::new();
    write_connect_request(&mut frame, &request);
    if read_only.is_none() {
        // A pre-3.4 client: no readOnly byte, and a length that says so.
        frame.pop();
        let length = (frame.len() - 4) as i32;
        frame[..4].copy_from_slice(&length.to_be_bytes());
    }
    frame
}

fn create(path: &str, data: &'static [u8], flags: i32, ttl_ms: i64) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: Bytes::from_static(data),
        acl: Acl::open_unsafe(),
        flags,
        ttl_ms,
    }
}

/// One request of every op code the server decodes.
fn every_request() -> Vec<Request> {
    let digest_acl = vec![Acl {
        perms: 31,
        id: Id::new("digest", "bob:+Ir5sN1lGJEEs8xBZhZXKvjLJ7c="),
    }];
    let watches = SetWatchesRequest {
        relative_zxid: 5,
        data_watches: vec!["/a".into()],
        exist_watches: vec!["/b".into(), "/c".into()],
        child_watches: vec!["/".into()],
        persistent_watches: vec!["/p".into()],
        persistent_recursive_watches: vec!["/r".into()],
    };
    vec![
        Request::Create {
            op: op::CREATE,
            request: create("/a", b"hello", 0, 0),
        },
        Request::Create {
            op: op::CREATE2,
            request: create("/seq-", b"", 2, 0),
        },
        Request::Create {
            op: op::CREATE_CONTAINER,
            request: create("/container", b"c", 4, 0),
        },
        Request::Create {
            op: op::CREATE_TTL,
            request: create("/ttl", b"t", 5, 60_000),
        },
        Request::Delete(DeleteRequest {
            path: "/a".into(),
            version: -1,
        }),
        Request::DeleteContainer {
            path: "/container".into(),
        },
        Request::Exists(PathWatch {
            path: "/a".into(),
            watch: true,
        }),
        Request::GetData(PathWatch {
            path: "/".into(),
            watch: false,
        }),
        Request::SetData(SetDataRequest {
            path: "/a".into(),
            data: Bytes::from_static(b"world"),
            version: 0,
        }),
        Request::GetAcl { path: "/a".into() },
        Request::SetAcl(SetAclRequest {
            path: "/a".into(),
            acl: digest_acl,
            version: -1,
        }),
        Request::GetChildren(PathWatch {
            path: "/".into(),
            watch: true,
        }),
        Request::GetChildren2(PathWatch {
            path: "/zookeeper".into(),
            watch: false,
        }),
        Request::Sync { path: "/".into() },
        Request::Ping,
        Request::Check(CheckVersionRequest {
            path: "/a".into(),
            version: 3,
        }),
        Request::Multi(vec![
            MultiOp::Create {
                op: op::CREATE,
                request: create("/m", b"1", 0, 0),
            },
            MultiOp::SetData(SetDataRequest {
                path: "/m".into(),
                data: Bytes::from_static(b"2"),
                version: 0,
            }),
            MultiOp::Check(CheckVersionRequest {
                path: "/m".into(),
                version: 1,
            }),
            MultiOp::Delete(DeleteRequest {
                path: "/m".into(),
                version: -1,
            }),
        ]),
        Request::MultiRead(vec![
            MultiOp::GetChildren { path: "/".into() },
            MultiOp::GetData { path: "/a".into() },
        ]),
        Request::Reconfig(ReconfigRequest {
            joining_servers: Some("server.4=127.0.0.1:2888:3888;2181".into()),
            leaving_servers: None,
            new_members: None,
            cur_config_id: -1,
        }),
        Request::CheckWatches(WatchesRequest {
            path: "/a".into(),
            watcher_type: 1,
        }),
        Request::RemoveWatches(WatchesRequest {
            path: "/a".into(),
            watcher_type: 3,
        }),
        Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: b"bob:bobsecret".to_vec(),
        }),
        Request::SetWatches(watches.clone()),
        Request::SetWatches2(watches),
        Request::Sasl { token: Vec::new() },
        Request::GetEphemerals {
            prefix_path: "/".into(),
        },
        Request::GetAllChildrenNumber { path: "/".into() },
        Request::AddWatch(AddWatchRequest {
            path: "/w".into(),
            mode: 1,
        }),
        Request::WhoAmI,
        Request::CloseSession,
    ]
}

fn client_seeds(seeds: &Seeds) {
    let requests = every_request();
    let mut everything = connect(Some(false), 0);
    for (index, request) in requests.iter().enumerate() {
        let mut stream = connect(Some(false), 0);
        write_request(&mut stream, index as i32 + 1, request);
        seeds.put(
            "client_frames",
            &format!("op{:03}-{index:02}", request.op_code()),
            &stream,
        );
        write_request(&mut everything, index as i32 + 1, request);
    }
    seeds.put("client_frames", "every-op", &everything);
    // From tests/interop/test_bad_input.py: a frame too short for a header,
    // an unknown op, and a 4lw.
    let mut short = connect(Some(false), 0);
    write_raw_frame(&mut short, b"\0\0");
    seeds.put("client_frames", "short-header", &short);
    let mut unknown = connect(Some(false), 0);
    write_raw_frame(&mut unknown, &[0, 0, 0, 1, 0, 0, 0, 55]);
    seeds.put("client_frames", "unknown-op", &unknown);
    seeds.put("client_frames", "ruok", b"ruok");

    seeds.put("connect_handshake", "new-session", &connect(Some(false), 0));
    seeds.put("connect_handshake", "read-only", &connect(Some(true), 0));
    seeds.put("connect_handshake", "no-read-only-byte", &connect(None, 0));
    seeds.put(
        "connect_handshake",
        "reconnect",
        &connect(Some(false), 0x1234),
    );
    for word in FOUR_LETTER_WORDS {
        seeds.put("connect_handshake", &format!("4lw-{word}"), word.as_bytes());
    }
    seeds.put("connect_handshake", "4lw-newline", b"stat\n");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A DIGEST-MD5 response computed from RFC 2831's formulas (as the unit
/// test's client), in the directive order a client sends.
fn digest_response(cnonce: &str, order: &str, authzid: Option<&str>) -> Vec<u8> {
    let realm = paddock::auth::sasl::ZK_SASL_REALM;
    let uri = "zookeeper/zk-sasl-md5";
    let key = Md5::digest(format!("{SASL_USER}:{realm}:{SASL_PASSWORD}").as_bytes());
    let mut a1 = key.to_vec();
    a1.extend_from_slice(format!(":{SASL_NONCE}:{cnonce}").as_bytes());
    if let Some(authzid) = authzid {
        a1.extend_from_slice(format!(":{authzid}").as_bytes());
    }
    let ha1 = hex(&Md5::digest(&a1));
    let ha2 = hex(&Md5::digest(format!("AUTHENTICATE:{uri}").as_bytes()));
    let response = hex(&Md5::digest(
        format!("{ha1}:{SASL_NONCE}:00000001:{cnonce}:auth:{ha2}").as_bytes(),
    ));
    let text = match order {
        // The JDK client's order (zkCli, Curator).
        "java" => format!(
            "charset=utf-8,username=\"{SASL_USER}\",realm=\"{realm}\",nonce=\"{SASL_NONCE}\",nc=00000001,cnonce=\"{cnonce}\",digest-uri=\"{uri}\",maxbuf=65536,response={response},qop=auth"
        ),
        // puresasl's (kazoo).
        _ => format!(
            "username=\"{SASL_USER}\",realm=\"{realm}\",nonce=\"{SASL_NONCE}\",cnonce=\"{cnonce}\",nc=00000001,qop=auth,digest-uri=\"{uri}\",response={response}"
        ),
    };
    let text = match authzid {
        Some(authzid) => format!("{text},authzid=\"{authzid}\""),
        None => text,
    };
    text.into_bytes()
}

fn sasl_seeds(seeds: &Seeds) {
    let mut exchange = Vec::new();
    exchange.push(0); // the empty first token
    exchange.extend_from_slice(&digest_response("OA6MHXh6VqTrRk", "java", None));
    seeds.put("sasl_digest", "java-client", &exchange);
    let mut exchange = vec![0];
    exchange.extend_from_slice(&digest_response("c2Fsc2E=", "kazoo", None));
    seeds.put("sasl_digest", "kazoo-client", &exchange);
    let mut exchange = vec![0];
    exchange.extend_from_slice(&digest_response("Y25vbmNl", "java", Some("bob")));
    seeds.put("sasl_digest", "authzid", &exchange);
    seeds.put("sasl_digest", "empty", b"");
    // The token kazoo 2.11 sent to ZooKeeper 3.8.0 (src/auth/sasl.rs's
    // same_rspauth_as_zookeeper_3_8), as recorded and with this harness's nonce.
    let recorded = "qop=auth,realm=\"zk-sasl-md5\",username=\"bob\",nonce=\"5hFBuedHe0tLrrHytMLizeYZ+cNHHS5bRQDolxSk\",cnonce=\"03865784162297681\",nc=00000001,digest-uri=\"zookeeper/zk-sasl-md5\",response=9f7de504313c5649b9ec8bad7cf6fd4b";
    let mut exchange = vec![0];
    exchange.extend_from_slice(recorded.as_bytes());
    seeds.put("sasl_digest", "kazoo-recorded", &exchange);
    let mut exchange = vec![0];
    exchange.extend_from_slice(
        recorded
            .replace("5hFBuedHe0tLrrHytMLizeYZ+cNHHS5bRQDolxSk", SASL_NONCE)
            .as_bytes(),
    );
    seeds.put("sasl_digest", "kazoo-recorded-our-nonce", &exchange);
}

/// The txns of a short, realistic history (zkCli's basic session: create,
/// set, ACL, quota nodes, a multi, ephemerals, close).
fn history() -> Vec<Txn> {
    let session = 0x1000_0000_0000_0001;
    let create =
        |path: &str, data: &'static [u8], kind: CreateKind, parent_cversion: i32| TxnBody::Create {
            path: path.into(),
            data: Bytes::from_static(data),
            acl: Acl::open_unsafe(),
            kind,
            parent_cversion,
        };
    let bodies = vec![
        TxnBody::CreateSession { timeout_ms: 30_000 },
        create("/a", b"hello", CreateKind::Persistent, 1),
        create("/a/e", b"", CreateKind::Ephemeral, 1),
        create("/c", b"", CreateKind::Container, 2),
        create("/t", b"ttl", CreateKind::Ttl { ttl_ms: 60_000 }, 3),
        TxnBody::SetData {
            path: "/a".into(),
            data: Bytes::from_static(b"world"),
            version: 1,
        },
        TxnBody::SetAcl {
            path: "/a".into(),
            acl: vec![Acl {
                perms: 31,
                id: Id::new("world", "anyone"),
            }],
            version: 1,
        },
        create("/zookeeper/quota/a", b"", CreateKind::Persistent, 1),
        create(
            "/zookeeper/quota/a/zookeeper_limits",
            b"count=10,bytes=-1",
            CreateKind::Persistent,
            1,
        ),
        create(
            "/zookeeper/quota/a/zookeeper_stats",
            b"count=2,bytes=5",
            CreateKind::Persistent,
            2,
        ),
        TxnBody::Multi(vec![
            create("/m", b"1", CreateKind::Persistent, 4),
            TxnBody::Check {
                path: "/m".into(),
                version: 1,
            },
            TxnBody::Delete { path: "/m".into() },
        ]),
        TxnBody::Error(paddock::protocol::ErrorCode::NoNode),
        TxnBody::DeleteContainer { path: "/c".into() },
        TxnBody::CloseSession {
            paths_to_delete: vec!["/a/e".into()],
        },
    ];
    bodies
        .into_iter()
        .enumerate()
        .map(|(index, body)| Txn {
            session_id: session,
            cxid: index as i32,
            zxid: 0x1_0000_0001 + index as i64,
            time_ms: 1_764_600_000_000 + index as i64,
            body,
        })
        .collect()
}

/// A segment file as the log wrote it, without the preallocated zeros after
/// the last record (recovery reads a short file the same way).
fn segment_bytes(path: &Path) -> Vec<u8> {
    let mut bytes = fs::read(path).expect("read segment");
    let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    bytes.truncate(end.div_ceil(8) * 8);
    bytes
}

fn storage_seeds(seeds: &Seeds) {
    let txns = history();
    let mut tree = DataTree::new();
    for txn in &txns {
        let mut encoded = Vec::new();
        txn.encode(&mut encoded);
        seeds.put(
            "txn_record",
            &format!("{:02x}-op{}", txn.cxid, txn.body.op_code()),
            &encoded,
        );
        apply(&mut tree, txn);
    }
    tree.set_last_zxid(txns.last().map_or(0, |t| t.zxid));

    let dir = tempfile::tempdir().expect("temp dir");
    // Small segments so the history spans three files.
    let config = LogConfig {
        dir: dir.path().join("log"),
        preallocate_bytes: 256,
        segment_bytes_max: 512,
    };
    let (mut log, _) = TxnLog::open(config).expect("open log");
    for txn in &txns {
        let mut encoded = Vec::new();
        txn.encode(&mut encoded);
        log.append(txn.zxid, &encoded).expect("append");
    }
    log.flush().expect("flush");
    let segments = log.segment_paths();
    drop(log);
    let mut all = Vec::new();
    for (index, path) in segments.iter().enumerate() {
        let bytes = segment_bytes(path);
        seeds.put("txn_log_recovery", &format!("segment-{index}"), &bytes);
        all.extend_from_slice(&bytes);
    }
    seeds.put("txn_log_recovery", "all-segments", &all);
    if let Some(first) = segments.first() {
        let bytes = segment_bytes(first);
        // A torn tail: the last record cut in half.
        seeds.put("txn_log_recovery", "torn-tail", &bytes[..bytes.len() - 5]);
    }

    let mut body = Vec::new();
    tree.serialize(&mut body);
    let snapshot_dir = dir.path().join("snap");
    let path = storage::write_snapshot(&snapshot_dir, tree.last_zxid(), &body).expect("snapshot");
    seeds.put("snapshot", "tree", &fs::read(path).expect("read snapshot"));
    seeds.put("snapshot", "tree-body", &body);
    let mut empty = Vec::new();
    DataTree::new().serialize(&mut empty);
    let path = storage::write_snapshot(&snapshot_dir, 0, &empty).expect("snapshot");
    seeds.put(
        "snapshot",
        "empty-tree",
        &fs::read(path).expect("read snapshot"),
    );
}

/// The server's own JAAS sample (tests/interop/test_operations.py) and the
/// shapes ZooKeeper's documentation shows.
const JAAS_TEXTS: [(&str, &str); 3] = [
    (
        "interop",
        "Server {\n       org.apache.zookeeper.server.auth.DigestLoginModule required\n       user_bob=\"bobsecret\";\n};\n",
    ),
    (
        "server-and-client",
        "// ZooKeeper server users\nServer {\n       org.apache.zookeeper.server.auth.DigestLoginModule required\n       user_super=\"adminsecret\"\n       user_bob=\"bobsecret\"\n       user_alice=\"p\\\"w;x\";\n};\n/* the client side */\nClient {\n       org.apache.zookeeper.server.auth.DigestLoginModule required\n       username=\"bob\"\n       password='bobsecret';\n};\n# done\n",
    ),
    (
        "kerberos",
        "Server {\n  com.sun.security.auth.module.Krb5LoginModule required\n  useKeyTab=true\n  keyTab=\"/path/to/server/keytab\"\n  storeKey=true\n  useTicketCache=false\n  principal=\"zookeeper/yourzkhostname\";\n};\n",
    ),
];

/// zoo.cfg texts: tests/server.rs's, the interop suite's shape, a quorum,
/// the properties syntax corners (continuations, escapes, `:` separators).
const ZOO_CFG_TEXTS: [(&str, &str); 4] = [
    (
        "server-rs",
        "tickTime=2000\ndataDir=/nonexistent/data\nclientPort=2181\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n",
    ),
    (
        "quorum",
        "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/nonexistent/zk\nclientPort=2181\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889;2182\nserver.3=127.0.0.1:2890:3890:observer\nautopurge.snapRetainCount=3\nautopurge.purgeInterval=1\n",
    ),
    (
        "syntax",
        "# comment\n! bang comment\n  tickTime : 2000\nmaxClientCnxns 60\nminSessionTimeout=\\\n   4000\njute.maxbuffer=0xfffff\nauthProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\nkey\\ with\\ spaces=\\u0041\\t\n4lw.commands.whitelist=stat, ruok, conf\n",
    ),
    (
        "paddock-tuning",
        "dataDir=/nonexistent\nclientPort=0\nmetricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\njaasLoginConfig=/nonexistent/jaas.conf\nreadonlymode.enabled=true\nzookeeper.snapCount=1000\npreAllocSize=65536\n",
    ),
];

fn text_seeds(seeds: &Seeds) {
    for (name, text) in JAAS_TEXTS {
        seeds.put("jaas", name, text.as_bytes());
    }
    for (name, text) in ZOO_CFG_TEXTS {
        seeds.put("zoo_cfg", name, text.as_bytes());
    }
    // Debian's ZooKeeper 3.8 package, when installed.
    if let Ok(text) = fs::read("/etc/zookeeper/conf/zoo.cfg") {
        seeds.put("zoo_cfg", "debian-zookeeper", &text);
    }
}

fn main() {
    let root = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds"));
    let seeds = Seeds { root };
    client_seeds(&seeds);
    sasl_seeds(&seeds);
    storage_seeds(&seeds);
    text_seeds(&seeds);
    peer_seeds(&seeds);
    println!("seeds written to {}", seeds.root.display());
}

/// The bytes of one `tests/fixtures/zab/zk-3.8.0/<kind>/*.hex` file.
fn hex_file(path: &Path) -> Vec<u8> {
    let text = fs::read_to_string(path).expect("read fixture");
    let text: String = text.split_whitespace().collect();
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex fixture"))
        .collect()
}

/// ZooKeeper 3.8.0's own peer bytes (`tests/fixtures/zab/zk-3.8.0/`), as
/// each peer target reads them: one election connection (a header, then
/// its notifications), the leader's and the learner's quorum streams, the
/// SNAP's tree, each packet's payload, and the config strings.
fn peer_seeds(seeds: &Seeds) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/zab/zk-3.8.0");
    for kind in ["diff", "snap", "trunc"] {
        let mut names: Vec<PathBuf> = fs::read_dir(fixtures.join(kind))
            .expect("fixture directory")
            .map(|e| e.expect("fixture entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "hex"))
            .collect();
        names.sort();
        let mut election = Vec::new();
        let mut from_leader = Vec::new();
        let mut to_leader = Vec::new();
        for path in &names {
            let name = path
                .file_stem()
                .and_then(|n| n.to_str())
                .expect("fixture name")
                .to_string();
            let bytes = hex_file(path);
            if name.contains("election-header") {
                // One connection per header: keep the first as the stream's.
                if election.is_empty() {
                    election.extend_from_slice(&bytes);
                }
                seeds.put("election_stream", &format!("{kind}-{name}"), &bytes);
            } else if name.contains("notification") {
                election.extend_from_slice(&bytes);
                let mut alone = hex_file(&names[0]);
                alone.extend_from_slice(&bytes);
                seeds.put("election_stream", &format!("{kind}-{name}"), &alone);
                if let Ok(n) = paddock::zab::Notification::decode(&bytes[4..]) {
                    if let Some(config) = n.config {
                        seeds.put("quorum_text", &format!("{kind}-{name}"), config.as_bytes());
                    }
                }
            } else if name.contains("-q-") {
                seeds.put("quorum_stream", &format!("{kind}-{name}"), &bytes);
                if name.contains("from-leader") {
                    from_leader.extend_from_slice(&bytes);
                } else {
                    to_leader.extend_from_slice(&bytes);
                }
                let Ok(Some(length)) = paddock::zab::wire::quorum_packet_bytes(&bytes, 1 << 21)
                else {
                    continue;
                };
                if name.contains("-SNAP") {
                    seeds.put("snap_tree", &format!("{kind}-{name}"), &bytes[length..]);
                }
                let Ok(packet) = paddock::zab::QuorumPacket::decode(&bytes[..length]) else {
                    continue;
                };
                let kind_of = packet.packet_type();
                let Some(data) = packet.data else { continue };
                use paddock::zab::PacketType::*;
                let selector = match kind_of {
                    Some(FollowerInfo | ObserverInfo) => 0u8,
                    Some(Proposal | Inform) => 1,
                    Some(Request) => 2,
                    Some(Ping) => 3,
                    Some(Revalidate) => 4,
                    Some(NewLeader) => {
                        seeds.put("quorum_text", &format!("{kind}-{name}"), &data);
                        continue;
                    }
                    _ => continue,
                };
                let mut payload = vec![selector];
                payload.extend_from_slice(&data);
                seeds.put("peer_payload", &format!("{kind}-{name}"), &payload);
            }
        }
        seeds.put("election_stream", &format!("{kind}-connection"), &election);
        seeds.put(
            "quorum_stream",
            &format!("{kind}-from-leader"),
            &from_leader,
        );
        seeds.put("quorum_stream", &format!("{kind}-to-leader"), &to_leader);
    }
    // Config strings with observers, client addresses and IPv6.
    seeds.put(
        "quorum_text",
        "observer-client-ipv6",
        b"server.1=zk1:2888:3888:participant;0.0.0.0:2181\nserver.2=[::1]:2888:3888:participant\n\
          server.3=zk3:2888:3888:observer;[::1]:2183\nversion=100000000",
    );
}
