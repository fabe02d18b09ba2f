//! Whole-server tests over loopback: the real `paddock` binary, spoken to with
//! literal bytes and with the crate's blocking client. The broad client
//! compatibility suite (kazoo, zkCli.sh, C, Node, Curator) is tests/interop.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use paddock::client::Client;
use paddock::protocol::frame::{write_connect_request, write_request};
use paddock::protocol::{
    op, ConnectRequest, CreateRequest, EventType, PathWatch, Request, Response,
};

const DEADLINE: Duration = Duration::from_secs(15);

struct Server {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        Server::start_with("")
    }

    /// Starts with `extra` (whole `key=value` lines) appended to zoo.cfg.
    fn start_with(extra: &str) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let config = format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n{extra}",
            dir.path().join("data").display()
        );
        std::fs::write(dir.path().join("zoo.cfg"), config).expect("write zoo.cfg");
        let mut server = Server {
            child: None,
            port,
            dir,
        };
        server.launch();
        server
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("zoo.cfg")
    }

    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .expect("server log");
        let child = Command::new(env!("CARGO_BIN_EXE_paddock"))
            .args(["start", "--config"])
            .arg(self.config_path())
            .stdout(Stdio::from(log.try_clone().expect("log handle")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn paddock");
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if let Ok(text) = paddock::client::four_letter(("127.0.0.1", self.port), "srvr") {
                if text.contains("Mode: standalone") {
                    return;
                }
            }
            assert!(
                started.elapsed() < DEADLINE,
                "server did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn signal(&mut self, signal: i32) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        // SAFETY: kill(2) on the pid of a child we own.
        unsafe {
            libc::kill(child.id() as i32, signal);
        }
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if started.elapsed() > DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                panic!("server did not stop after signal {signal}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn client(&self) -> Client {
        Client::connect(("127.0.0.1", self.port), 30_000).expect("connect")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn read_frame(stream: &mut TcpStream) -> Vec<u8> {
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).expect("frame length");
    let mut payload = vec![0u8; i32::from_be_bytes(prefix) as usize];
    stream.read_exact(&mut payload).expect("frame payload");
    payload
}

fn raw_session(port: u16) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut out = Vec::new();
    let request = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms: 30_000,
        session_id: 0,
        passwd: vec![0; 16],
        read_only: false,
    };
    write_connect_request(&mut out, &request);
    stream.write_all(&out).expect("send connect");
    read_frame(&mut stream);
    stream
}

#[test]
fn connect_request_in_literal_bytes_gets_a_session() {
    let server = Server::start();
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    #[rustfmt::skip]
    let connect: [u8; 49] = [
        0, 0, 0, 45,             // frame length
        0, 0, 0, 0,              // protocolVersion
        0, 0, 0, 0, 0, 0, 0, 0,  // lastZxidSeen
        0, 0, 0x75, 0x30,        // timeOut = 30000 ms
        0, 0, 0, 0, 0, 0, 0, 0,  // sessionId = 0: a new session
        0, 0, 0, 16,             // passwd: 16 bytes
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0,                       // readOnly = false
    ];
    stream.write_all(&connect).expect("send");
    let reply = read_frame(&mut stream);
    assert_eq!(reply.len(), 37, "ConnectResponse is 37 bytes: {reply:?}");
    assert_eq!(&reply[0..4], &[0, 0, 0, 0], "protocolVersion");
    assert_eq!(
        &reply[4..8],
        &[0, 0, 0x75, 0x30],
        "the timeout is granted (within 2..20 ticks)"
    );
    assert_ne!(&reply[8..16], &[0u8; 8], "a session id");
    assert_eq!(&reply[16..20], &[0, 0, 0, 16], "a 16-byte password");
    assert_eq!(reply[36], 0, "not read-only");
}

#[test]
fn a_read_pipelined_behind_a_write_of_the_same_session_sees_it() {
    let server = Server::start();
    let mut stream = raw_session(server.port);
    let mut out = Vec::new();
    let create = Request::Create {
        op: op::CREATE,
        request: CreateRequest {
            path: "/fifo".into(),
            data: bytes::Bytes::from_static(b"v1"),
            acl: paddock::protocol::Acl::open_unsafe(),
            flags: 0,
            ttl_ms: 0,
        },
    };
    write_request(&mut out, 1, &create);
    write_request(
        &mut out,
        2,
        &Request::GetData(PathWatch {
            path: "/fifo".into(),
            watch: false,
        }),
    );
    write_request(
        &mut out,
        3,
        &Request::Exists(PathWatch {
            path: "/fifo".into(),
            watch: false,
        }),
    );
    stream.write_all(&out).expect("pipeline");
    for expected_xid in 1..=3 {
        let reply = read_frame(&mut stream);
        let xid = i32::from_be_bytes([reply[0], reply[1], reply[2], reply[3]]);
        let err = i32::from_be_bytes([reply[12], reply[13], reply[14], reply[15]]);
        assert_eq!(xid, expected_xid, "replies come in request order");
        assert_eq!(
            err, 0,
            "request {xid} succeeded: the read waited for the write"
        );
    }
}

#[test]
fn the_watch_event_arrives_before_the_reply_that_reflects_it() {
    let server = Server::start();
    let mut stream = raw_session(server.port);
    let mut out = Vec::new();
    write_request(
        &mut out,
        1,
        &Request::Exists(PathWatch {
            path: "/w".into(),
            watch: true,
        }),
    );
    stream.write_all(&out).expect("exists");
    let reply = read_frame(&mut stream);
    assert_eq!(
        i32::from_be_bytes([reply[12], reply[13], reply[14], reply[15]]),
        -101,
        "NoNode"
    );
    let mut out = Vec::new();
    let create = Request::Create {
        op: op::CREATE,
        request: CreateRequest {
            path: "/w".into(),
            data: bytes::Bytes::new(),
            acl: paddock::protocol::Acl::open_unsafe(),
            flags: 0,
            ttl_ms: 0,
        },
    };
    write_request(&mut out, 2, &create);
    stream.write_all(&out).expect("create");
    let first = read_frame(&mut stream);
    let second = read_frame(&mut stream);
    assert_eq!(
        i32::from_be_bytes([first[0], first[1], first[2], first[3]]),
        -1,
        "notification first"
    );
    assert_eq!(
        i32::from_be_bytes([first[16], first[17], first[18], first[19]]),
        EventType::NodeCreated as i32
    );
    assert_eq!(
        i32::from_be_bytes([second[0], second[1], second[2], second[3]]),
        2,
        "then the create's reply"
    );
}

#[test]
fn sigterm_stops_cleanly_and_kill_9_loses_no_acknowledged_write() {
    let mut server = Server::start();
    let mut client = server.client();
    for i in 0..200 {
        let created = client
            .create(&format!("/n{i}"), b"x", 0)
            .expect("transport");
        assert!(created.is_ok(), "create /n{i}: {created:?}");
    }
    drop(client);
    let status = server.signal(libc::SIGTERM).expect("running");
    assert!(
        status.success(),
        "SIGTERM exits 0: {status:?}\n{}",
        server.log()
    );
    server.launch();
    let mut client = server.client();
    for i in 200..400 {
        let created = client
            .create(&format!("/n{i}"), b"y", 0)
            .expect("transport");
        assert!(created.is_ok(), "create /n{i}: {created:?}");
    }
    server.signal(libc::SIGKILL);
    server.launch();
    let mut client = server.client();
    for i in 0..400 {
        let got = client.get_data(&format!("/n{i}")).expect("transport");
        assert!(got.is_ok(), "/n{i} survived: {got:?}\n{}", server.log());
    }
    match client
        .call(&Request::GetAllChildrenNumber { path: "/".into() })
        .expect("transport")
    {
        Ok(Response::GetAllChildrenNumber { total }) => {
            assert_eq!(total, 400 + 3, "400 nodes + /zookeeper's 3")
        }
        other => panic!("getAllChildrenNumber: {other:?}"),
    }
}

/// The shard index of every session, from mntr's `zk_paddock_shard<k>_sessions`
/// lines (session ids in hex).
fn shard_of_sessions(port: u16) -> std::collections::HashMap<i64, usize> {
    let text = paddock::client::four_letter(("127.0.0.1", port), "mntr").expect("mntr");
    let mut shards = std::collections::HashMap::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('\t') else {
            continue;
        };
        let Some(index) = key
            .strip_prefix("zk_paddock_shard")
            .and_then(|rest| rest.strip_suffix("_sessions"))
        else {
            continue;
        };
        let index: usize = index.parse().expect("shard index");
        for id in value.split(',').filter(|id| !id.is_empty()) {
            let id = u64::from_str_radix(id.trim_start_matches("0x"), 16).expect("hex id");
            shards.insert(id as i64, index);
        }
    }
    shards
}

#[test]
fn a_write_acknowledged_to_one_client_is_visible_to_every_other_client() {
    // Each shard keeps its own tree copy; a write's reply must wait until every
    // copy has it. That only means something with clients on two shards, so
    // pin two and check where the clients landed (SO_REUSEPORT spreads them by
    // a hash of the address, so open connections until both shards hold some).
    // SAFETY: sched_getaffinity fills a cpu_set_t we own.
    let cores = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(
            libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set),
            0,
            "sched_getaffinity"
        );
        libc::CPU_COUNT(&set)
    };
    assert!(
        cores >= 2,
        "this test needs two cores to put clients on two shards; the process may use {cores}"
    );
    let server = Server::start_with("paddock.cores=0,1\n");
    let mut clients: Vec<Client> = Vec::new();
    let mut per_shard = [0usize; 2];
    for _ in 0..64 {
        if per_shard.iter().all(|&n| n >= 3) {
            break;
        }
        let client = server.client();
        let shards = shard_of_sessions(server.port);
        let shard = *shards
            .get(&client.session_id())
            .unwrap_or_else(|| panic!("mntr does not place session {:#x}", client.session_id()));
        if per_shard[shard] < 3 {
            per_shard[shard] += 1;
            clients.push(client);
        }
    }
    assert_eq!(
        per_shard,
        [3, 3],
        "64 connections did not give three clients on each of the two shards"
    );
    let shards = shard_of_sessions(server.port);
    let client_shards: Vec<usize> = clients.iter().map(|c| shards[&c.session_id()]).collect();
    for i in 0..600 {
        let path = format!("/seen{i}");
        let writer = i % clients.len();
        let created = clients[writer].create(&path, b"v", 0).expect("transport");
        assert!(created.is_ok(), "create {path}: {created:?}");
        for (reader, client) in clients.iter_mut().enumerate() {
            let got = client.get_data(&path).expect("transport");
            assert!(
                got.is_ok(),
                "client {reader} (shard {}) does not see {path} written by client {writer} (shard {})",
                client_shards[reader],
                client_shards[writer]
            );
        }
    }
}

#[test]
fn a_reconnect_renegotiates_the_session_timeout() {
    let server = Server::start();
    let mut owner = Client::connect(("127.0.0.1", server.port), 40_000).expect("connect");
    let (session_id, passwd) = (owner.session_id(), owner.passwd().to_vec());
    let created = owner.create("/mine", b"", 1).expect("transport");
    assert!(created.is_ok(), "ephemeral: {created:?}");
    owner.disconnect();
    // Resume the session asking for the minimum timeout (2 ticks = 4 s).
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut out = Vec::new();
    let request = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms: 4_000,
        session_id,
        passwd,
        read_only: false,
    };
    write_connect_request(&mut out, &request);
    stream.write_all(&out).expect("send connect");
    let reply = read_frame(&mut stream);
    assert_eq!(
        &reply[4..8],
        &4_000i32.to_be_bytes(),
        "the new timeout is granted"
    );
    drop(stream);
    // Now silent: the session must expire on the new timeout, well before 40 s.
    let mut watcher = server.client();
    let started = Instant::now();
    loop {
        match watcher.exists("/mine", false).expect("transport") {
            Err(_) => break,
            Ok(_) if started.elapsed() < Duration::from_secs(20) => {
                std::thread::sleep(Duration::from_millis(200))
            }
            Ok(_) => panic!("the ephemeral outlived the renegotiated 4 s timeout by far"),
        }
    }
}
