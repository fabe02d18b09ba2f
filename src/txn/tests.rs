use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::data_tree::{DataTree, WatchKind, TTL_MAX_MS};
use crate::protocol::{
    perms, Acl, CheckVersionRequest, CreateRequest, DeleteRequest, EventType, Id, KeeperState,
    MultiOp, OpResult, PathWatch, Request, Response, SetAclRequest, SetDataRequest, WatcherEvent,
    WatchesRequest, CONTAINER_EPHEMERAL_OWNER, JUTE_MAXBUFFER_DEFAULT_BYTES,
};

const SESSION: i64 = 0x100;

struct Harness {
    tree: DataTree,
    pending: PendingChanges,
    zxid: i64,
    auth: Vec<Id>,
    extended: bool,
}

impl Harness {
    fn new() -> Harness {
        let mut h = Harness {
            tree: DataTree::new(),
            pending: PendingChanges::new(),
            zxid: 0,
            auth: vec![Id::new("ip", "127.0.0.1")],
            extended: true,
        };
        h.commit_body(SESSION, prepare_create_session(30000));
        h
    }

    fn ctx<'a>(&self, session_id: i64, auth: &'a [Id]) -> PrepareContext<'a> {
        PrepareContext {
            session_id,
            cxid: 1,
            zxid: self.zxid + 1,
            time_ms: 1000 + self.zxid + 1,
            auth,
            is_super: false,
            extended_types_enabled: self.extended,
            max_buffer_bytes: JUTE_MAXBUFFER_DEFAULT_BYTES,
        }
    }

    /// Prepares only (the txn is "in flight"); returns the txn to commit later.
    fn prepare_as(&mut self, session_id: i64, request: &Request) -> Result<Txn, ErrorCode> {
        let auth = self.auth.clone();
        let ctx = self.ctx(session_id, &auth);
        let body = prepare(request, &ctx, &self.tree, &mut self.pending)?;
        let txn = Txn {
            session_id,
            cxid: 1,
            zxid: ctx.zxid,
            time_ms: ctx.time_ms,
            body,
        };
        self.zxid += 1;
        Ok(txn)
    }

    fn commit(&mut self, txn: &Txn) -> ApplyOutcome {
        let mut bytes = Vec::new();
        txn.encode(&mut bytes);
        let decoded = Txn::decode(&bytes).unwrap();
        assert_eq!(&decoded, txn);
        let out = apply(&mut self.tree, &decoded);
        self.pending.committed_up_to(txn.zxid);
        out
    }

    fn commit_body(&mut self, session_id: i64, body: TxnBody) -> ApplyOutcome {
        self.zxid += 1;
        let txn = Txn {
            session_id,
            cxid: 0,
            zxid: self.zxid,
            time_ms: 1000 + self.zxid,
            body,
        };
        self.commit(&txn)
    }

    fn write_as(&mut self, session_id: i64, request: &Request) -> Result<Response, ErrorCode> {
        let txn = self.prepare_as(session_id, request)?;
        let out = self.commit(&txn);
        response_for(request, &out.result)
    }

    fn write(&mut self, request: &Request) -> Result<Response, ErrorCode> {
        self.write_as(SESSION, request)
    }

    fn read(&mut self, request: &Request) -> Result<Response, ErrorCode> {
        read(request, &mut self.tree, SESSION, &self.auth, false)
    }
}

fn create_req(op: i32, path: &str, flags: i32, acl: Vec<Acl>, ttl_ms: i64) -> Request {
    Request::Create {
        op,
        request: CreateRequest {
            path: path.into(),
            data: Bytes::from_static(b"d"),
            acl,
            flags,
            ttl_ms,
        },
    }
}

fn create(path: &str) -> Request {
    create_req(op::CREATE, path, 0, Acl::open_unsafe(), 0)
}

fn create_mode(path: &str, flags: i32) -> Request {
    create_req(op::CREATE2, path, flags, Acl::open_unsafe(), 0)
}

fn delete(path: &str, version: i32) -> Request {
    Request::Delete(DeleteRequest {
        path: path.into(),
        version,
    })
}

fn set_data(path: &str, version: i32) -> Request {
    Request::SetData(SetDataRequest {
        path: path.into(),
        data: Bytes::from_static(b"xyz"),
        version,
    })
}

fn ev(session: i64, t: EventType, path: &str) -> (i64, WatcherEvent) {
    (
        session,
        WatcherEvent {
            event_type: t,
            state: KeeperState::SyncConnected,
            path: path.into(),
        },
    )
}

fn acl(perms: i32, scheme: &str, id: &str) -> Vec<Acl> {
    vec![Acl {
        perms,
        id: Id::new(scheme, id),
    }]
}

#[test]
fn create_replies_and_stat() {
    let mut h = Harness::new();
    assert_eq!(
        h.write(&create("/a")),
        Ok(Response::Create { path: "/a".into() })
    );
    let zxid = h.zxid;
    match h.write(&create_mode("/a/b", 0)) {
        Ok(Response::Create2 { path, stat }) => {
            assert_eq!(path, "/a/b");
            assert_eq!(
                (stat.czxid, stat.mzxid, stat.pzxid),
                (zxid + 1, zxid + 1, zxid + 1)
            );
            assert_eq!((stat.ctime, stat.mtime), (1000 + zxid + 1, 1000 + zxid + 1));
            assert_eq!(
                (
                    stat.version,
                    stat.cversion,
                    stat.aversion,
                    stat.ephemeral_owner
                ),
                (0, 0, 0, 0)
            );
            assert_eq!((stat.data_length, stat.num_children), (1, 0));
        }
        other => panic!("{other:?}"),
    }
    let a = h.tree.node("/a").unwrap().stat();
    assert_eq!((a.cversion, a.num_children, a.pzxid), (1, 1, zxid + 1));
}

#[test]
fn create_error_paths() {
    let mut h = Harness::new();
    h.write(&create("/a")).unwrap();
    h.write(&create_mode("/e", 1)).unwrap();
    let bad = ErrorCode::BadArguments;
    assert_eq!(h.write(&create("a")), Err(bad));
    assert_eq!(h.write(&create("/a/")), Err(bad));
    // ZooKeeper looks the parent ("/a/") up before validating the path
    assert_eq!(h.write(&create("/a//b")), Err(ErrorCode::NoNode));
    assert_eq!(h.write(&create("/a/.")), Err(bad));
    assert_eq!(h.write(&create("/a\0")), Err(bad));
    assert_eq!(h.write(&create_mode("/a/x", 7)), Err(bad));
    assert_eq!(h.write(&create("/x/y")), Err(ErrorCode::NoNode));
    assert_eq!(h.write(&create("/a")), Err(ErrorCode::NodeExists));
    assert_eq!(h.write(&create("/")), Err(ErrorCode::NodeExists));
    assert_eq!(
        h.write(&create("/e/x")),
        Err(ErrorCode::NoChildrenForEphemerals)
    );
    assert_eq!(
        h.write(&create_req(op::CREATE, "/b", 0, vec![], 0)),
        Err(ErrorCode::InvalidAcl)
    );
    assert_eq!(
        h.write(&create_req(op::CREATE, "/b", 0, acl(31, "auth", ""), 0)),
        Err(ErrorCode::InvalidAcl)
    );
    assert_eq!(
        h.write(&create_req(
            op::CREATE,
            "/b",
            0,
            acl(31, "digest", "nocolon"),
            0
        )),
        Err(ErrorCode::InvalidAcl)
    );
    // CREATE permission on the parent
    h.write(&create_req(
        op::CREATE,
        "/ro",
        0,
        acl(perms::READ, "world", "anyone"),
        0,
    ))
    .unwrap();
    assert_eq!(h.write(&create("/ro/x")), Err(ErrorCode::NoAuth));
    assert_eq!(
        h.write(&create("/zookeeper/config/x")),
        Err(ErrorCode::NoAuth)
    );
    // too large data
    let big = Request::Create {
        op: op::CREATE,
        request: CreateRequest {
            path: "/big".into(),
            data: Bytes::from(vec![0u8; JUTE_MAXBUFFER_DEFAULT_BYTES + 1]),
            acl: Acl::open_unsafe(),
            flags: 0,
            ttl_ms: 0,
        },
    };
    assert_eq!(h.write(&big), Err(bad));
    // nothing above left a pending change behind
    assert!(h.pending.is_empty());
}

#[test]
fn auth_acl_expands_to_session_ids() {
    let mut h = Harness::new();
    h.auth.push(Id::new("digest", "bob:hash"));
    h.write(&create_req(
        op::CREATE,
        "/mine",
        0,
        acl(perms::ALL, "auth", ""),
        0,
    ))
    .unwrap();
    assert_eq!(
        &h.tree.node("/mine").unwrap().acl()[..],
        &acl(perms::ALL, "digest", "bob:hash")[..]
    );
    h.auth.pop();
    assert_eq!(
        h.read(&Request::GetData(PathWatch {
            path: "/mine".into(),
            watch: false
        })),
        Err(ErrorCode::NoAuth)
    );
    assert_eq!(h.write(&set_data("/mine", -1)), Err(ErrorCode::NoAuth));
    assert_eq!(
        h.write(&delete("/mine", -1)),
        Ok(Response::Empty),
        "DELETE is checked on the parent"
    );
}

#[test]
fn sequential_names_follow_parent_cversion() {
    let mut h = Harness::new();
    h.write(&create("/q")).unwrap();
    h.write(&create("/q/a")).unwrap();
    h.write(&delete("/q/a", -1)).unwrap();
    assert_eq!(
        h.write(&create_mode("/q/s-", 2)).unwrap(),
        Response::Create2 {
            path: "/q/s-0000000001".into(),
            stat: h.tree.node("/q/s-0000000001").unwrap().stat(),
        }
    );
    let r = h.write(&create_req(op::CREATE, "/q/", 2, Acl::open_unsafe(), 0));
    assert_eq!(
        r,
        Ok(Response::Create {
            path: "/q/0000000002".into()
        })
    );
    // sequential names are reserved while in flight
    let t1 = h.prepare_as(SESSION, &create_mode("/q/p", 3)).unwrap();
    let t2 = h.prepare_as(SESSION, &create_mode("/q/p", 3)).unwrap();
    let p1 = match &t1.body {
        TxnBody::Create { path, .. } => path.to_string(),
        _ => panic!(),
    };
    let p2 = match &t2.body {
        TxnBody::Create { path, .. } => path.to_string(),
        _ => panic!(),
    };
    assert_eq!(
        (p1.as_str(), p2.as_str()),
        ("/q/p0000000003", "/q/p0000000004")
    );
    h.commit(&t1);
    h.commit(&t2);
    assert_eq!(
        h.tree.ephemerals(SESSION),
        vec!["/q/p0000000003", "/q/p0000000004"]
    );
}

#[test]
fn delete_error_paths() {
    let mut h = Harness::new();
    h.write(&create("/a")).unwrap();
    h.write(&create("/a/b")).unwrap();
    assert_eq!(h.write(&delete("/nope", -1)), Err(ErrorCode::NoNode));
    assert_eq!(h.write(&delete("/a", -1)), Err(ErrorCode::NotEmpty));
    assert_eq!(h.write(&delete("/a/b", 3)), Err(ErrorCode::BadVersion));
    for special in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
        assert_eq!(
            h.write(&delete(special, -1)),
            Err(ErrorCode::BadArguments),
            "{special}"
        );
    }
    assert_eq!(h.write(&delete("nope", -1)), Err(ErrorCode::BadArguments));
    h.write(&create_req(
        op::CREATE,
        "/locked",
        0,
        acl(perms::ALL & !perms::DELETE, "world", "anyone"),
        0,
    ))
    .unwrap();
    h.write(&create("/locked/x")).unwrap();
    assert_eq!(h.write(&delete("/locked/x", -1)), Err(ErrorCode::NoAuth));
    assert_eq!(h.write(&delete("/a/b", 0)), Ok(Response::Empty));
    let a = h.tree.node("/a").unwrap().stat();
    assert_eq!((a.cversion, a.pzxid), (2, h.zxid));
}

#[test]
fn set_data_set_acl_check() {
    let mut h = Harness::new();
    h.write(&create("/a")).unwrap();
    let stat = match h.write(&set_data("/a", 0)) {
        Ok(Response::Stat(s)) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!((stat.version, stat.mzxid, stat.data_length), (1, h.zxid, 3));
    assert_ne!(stat.mzxid, stat.czxid);
    assert_eq!(h.write(&set_data("/a", 0)), Err(ErrorCode::BadVersion));
    assert_eq!(h.write(&set_data("/nope", -1)), Err(ErrorCode::NoNode));
    assert_eq!(h.write(&set_data("/a/", -1)), Err(ErrorCode::BadArguments));
    assert_eq!(
        h.write(&set_data("/zookeeper/config", -1)),
        Err(ErrorCode::NoAuth)
    );
    let set_acl = |path: &str, acl: Vec<Acl>, version| {
        Request::SetAcl(SetAclRequest {
            path: path.into(),
            acl,
            version,
        })
    };
    let ro = acl(perms::READ | perms::ADMIN, "world", "anyone");
    let stat = match h.write(&set_acl("/a", ro.clone(), 0)) {
        Ok(Response::Stat(s)) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!(stat.aversion, 1);
    assert_eq!(
        h.write(&set_acl("/a", ro.clone(), 0)),
        Err(ErrorCode::BadVersion)
    );
    assert_eq!(
        h.write(&set_acl("/a", vec![], -1)),
        Err(ErrorCode::InvalidAcl)
    );
    assert_eq!(h.write(&set_data("/a", -1)), Err(ErrorCode::NoAuth));
    h.write(&set_acl("/a", acl(perms::WRITE, "world", "anyone"), -1))
        .unwrap();
    assert_eq!(h.write(&set_acl("/a", ro, -1)), Err(ErrorCode::NoAuth));
    let check = |version| {
        Request::Check(CheckVersionRequest {
            path: "/a".into(),
            version,
        })
    };
    assert_eq!(
        h.write(&check(1)),
        Err(ErrorCode::NoAuth),
        "check needs READ"
    );
    h.auth.clear();
    let mut sup = h.tree.node("/a").unwrap().acl().to_vec();
    sup[0].perms |= perms::READ;
    // super may do anything
    let no_auth: Vec<Id> = Vec::new();
    let ctx = PrepareContext {
        is_super: true,
        ..h.ctx(SESSION, &no_auth)
    };
    let body = prepare(&set_acl("/a", sup, -1), &ctx, &h.tree, &mut h.pending).unwrap();
    h.zxid += 1;
    h.commit(&Txn {
        session_id: SESSION,
        cxid: 1,
        zxid: h.zxid,
        time_ms: 0,
        body,
    });
    assert_eq!(h.write(&check(2)), Err(ErrorCode::BadVersion));
    assert_eq!(h.write(&check(1)), Ok(Response::Empty));
}

#[test]
fn ttl_and_container_creates() {
    let mut h = Harness::new();
    let ttl =
        |path: &str, flags, ttl| create_req(op::CREATE_TTL, path, flags, Acl::open_unsafe(), ttl);
    assert_eq!(h.write(&ttl("/t", 5, 0)), Err(ErrorCode::BadArguments));
    assert_eq!(
        h.write(&ttl("/t", 5, TTL_MAX_MS + 1)),
        Err(ErrorCode::BadArguments)
    );
    assert_eq!(
        h.write(&ttl("/t", 0, 100)),
        Err(ErrorCode::BadArguments),
        "ttl with a non-TTL mode"
    );
    assert_eq!(
        h.write(&create_mode("/t", 5)),
        Err(ErrorCode::BadArguments),
        "TTL mode needs createTTL"
    );
    h.extended = false;
    assert_eq!(h.write(&ttl("/t", 5, 100)), Err(ErrorCode::Unimplemented));
    h.extended = true;
    match h.write(&ttl("/t", 6, 100)) {
        Ok(Response::Create2 { path, stat }) => {
            assert_eq!(path, "/t0000000000");
            // Clients see 0 (ZooKeeper's copyStat); the tree keeps the TTL.
            assert_eq!(stat.ephemeral_owner, 0);
            assert_eq!(
                h.tree.node("/t0000000000").unwrap().ephemeral_owner(),
                crate::data_tree::ttl_to_ephemeral_owner(100).unwrap()
            );
        }
        other => panic!("{other:?}"),
    }
    let now = h.tree.node("/t0000000000").unwrap().mtime();
    assert_eq!(h.tree.ttl_expired(now + 101), vec!["/t0000000000"]);
    match h.write(&create_req(
        op::CREATE_CONTAINER,
        "/c",
        4,
        Acl::open_unsafe(),
        0,
    )) {
        Ok(Response::Create2 { stat, .. }) => {
            assert_eq!(stat.ephemeral_owner, 0);
            assert_eq!(
                h.tree.node("/c").unwrap().ephemeral_owner(),
                CONTAINER_EPHEMERAL_OWNER
            )
        }
        other => panic!("{other:?}"),
    }
    h.write(&create("/c/x")).unwrap();
    let delete_container = |path: &str| Request::DeleteContainer { path: path.into() };
    assert_eq!(h.write(&delete_container("/c")), Err(ErrorCode::NotEmpty));
    h.write(&delete("/c/x", -1)).unwrap();
    assert_eq!(h.tree.containers_to_delete(), vec!["/c"]);
    h.write(&create("/plain")).unwrap();
    assert_eq!(
        h.write(&delete_container("/plain")),
        Err(ErrorCode::BadVersion)
    );
    assert_eq!(h.write(&delete_container("/c")), Ok(Response::Empty));
    assert_eq!(h.write(&delete_container("/c")), Err(ErrorCode::NoNode));
    assert_eq!(
        h.write(&delete_container("/t0000000000")),
        Ok(Response::Empty)
    );
}

#[test]
fn pending_changes_are_seen_before_commit() {
    let mut h = Harness::new();
    let t1 = h.prepare_as(SESSION, &create("/a")).unwrap();
    assert_eq!(
        h.prepare_as(SESSION, &create("/a")).map(|_| ()),
        Err(ErrorCode::NodeExists)
    );
    let t2 = h.prepare_as(SESSION, &create("/a/b")).unwrap();
    assert_eq!(
        h.prepare_as(SESSION, &delete("/a", -1)).map(|_| ()),
        Err(ErrorCode::NotEmpty)
    );
    let t3 = h.prepare_as(SESSION, &delete("/a/b", -1)).unwrap();
    let t4 = h.prepare_as(SESSION, &set_data("/a", 0)).unwrap();
    assert_eq!(
        h.prepare_as(SESSION, &set_data("/a", 0)).map(|_| ()),
        Err(ErrorCode::BadVersion)
    );
    let t5 = h.prepare_as(SESSION, &delete("/a", 1)).unwrap();
    assert_eq!(
        h.prepare_as(SESSION, &create("/a/c")).map(|_| ()),
        Err(ErrorCode::NoNode)
    );
    for t in [&t1, &t2, &t3] {
        h.commit(t);
    }
    assert!(!h.pending.is_empty());
    h.commit(&t4);
    h.commit(&t5);
    assert!(h.pending.is_empty());
    assert!(h.tree.node("/a").is_none());
    // clear() forgets what was prepared
    h.prepare_as(SESSION, &create("/z")).unwrap();
    h.pending.clear();
    assert!(h.prepare_as(SESSION, &create("/z")).is_ok());
}

#[test]
fn multi_success_applies_in_order_with_events() {
    let mut h = Harness::new();
    h.write(&create("/m")).unwrap();
    h.tree.add_watch("/m", 9, WatchKind::Child);
    h.tree.add_watch("/m/x", 9, WatchKind::Exist);
    h.tree.add_watch("/m", 8, WatchKind::PersistentRecursive);
    let multi = Request::Multi(vec![
        MultiOp::Create {
            op: op::CREATE,
            request: CreateRequest {
                path: "/m/x".into(),
                data: Bytes::new(),
                acl: Acl::open_unsafe(),
                flags: 0,
                ttl_ms: 0,
            },
        },
        MultiOp::Create {
            op: op::CREATE2,
            request: CreateRequest {
                path: "/m/y".into(),
                data: Bytes::new(),
                acl: Acl::open_unsafe(),
                flags: 0,
                ttl_ms: 0,
            },
        },
        MultiOp::SetData(SetDataRequest {
            path: "/m/x".into(),
            data: Bytes::from_static(b"1"),
            version: 0,
        }),
        MultiOp::Check(CheckVersionRequest {
            path: "/m/x".into(),
            version: 1,
        }),
        MultiOp::Delete(DeleteRequest {
            path: "/m/y".into(),
            version: 0,
        }),
    ]);
    let txn = h.prepare_as(SESSION, &multi).unwrap();
    let out = h.commit(&txn);
    assert_eq!(
        out.events,
        vec![
            ev(8, EventType::NodeCreated, "/m/x"),
            ev(9, EventType::NodeCreated, "/m/x"),
            ev(9, EventType::NodeChildrenChanged, "/m"),
            ev(8, EventType::NodeCreated, "/m/y"),
            ev(8, EventType::NodeDataChanged, "/m/x"),
            ev(8, EventType::NodeDeleted, "/m/y"),
        ]
    );
    let stat_x = h.tree.node("/m/x").unwrap().stat();
    match response_for(&multi, &out.result) {
        Ok(Response::Multi(results)) => {
            assert_eq!(results.len(), 5);
            assert_eq!(
                results[0],
                OpResult::Create {
                    path: "/m/x".into()
                }
            );
            assert!(matches!(&results[1], OpResult::Create2 { path, .. } if path == "/m/y"));
            assert_eq!(results[2], OpResult::SetData { stat: stat_x });
            assert_eq!(results[3], OpResult::Check);
            assert_eq!(results[4], OpResult::Delete);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(stat_x.mzxid, stat_x.czxid, "one zxid for the whole multi");
}

#[test]
fn multi_failure_changes_nothing() {
    let mut h = Harness::new();
    h.write(&create("/m")).unwrap();
    h.tree.add_watch("/m", 9, WatchKind::Child);
    let before_count = h.tree.node_count();
    let multi = Request::Multi(vec![
        MultiOp::Create {
            op: op::CREATE,
            request: CreateRequest {
                path: "/m/x".into(),
                data: Bytes::new(),
                acl: Acl::open_unsafe(),
                flags: 0,
                ttl_ms: 0,
            },
        },
        MultiOp::Check(CheckVersionRequest {
            path: "/m/x".into(),
            version: 0,
        }),
        MultiOp::Delete(DeleteRequest {
            path: "/m".into(),
            version: -1,
        }),
        MultiOp::SetData(SetDataRequest {
            path: "/m".into(),
            data: Bytes::new(),
            version: -1,
        }),
    ]);
    let txn = h.prepare_as(SESSION, &multi).unwrap();
    assert!(h.pending.is_empty(), "a failed multi records nothing");
    let out = h.commit(&txn);
    assert!(out.events.is_empty());
    assert_eq!(h.tree.node_count(), before_count);
    assert!(h.tree.node("/m/x").is_none());
    assert_eq!(
        response_for(&multi, &out.result),
        Ok(Response::Multi(vec![
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::NotEmpty),
            OpResult::Error(ErrorCode::RuntimeInconsistency),
        ]))
    );
    // an empty multi is fine
    assert_eq!(
        h.write(&Request::Multi(vec![])),
        Ok(Response::Multi(vec![]))
    );
}

#[test]
fn close_session_deletes_ephemerals_and_fires() {
    let mut h = Harness::new();
    const OTHER: i64 = 0x200;
    h.commit_body(OTHER, prepare_create_session(10000));
    h.write(&create("/p")).unwrap();
    h.write_as(OTHER, &create_mode("/p/e1", 1)).unwrap();
    h.write_as(OTHER, &create_mode("/e2", 1)).unwrap();
    assert_eq!(h.tree.session_timeout(OTHER), Some(10000));
    assert_eq!(h.tree.sessions().count(), 2);
    h.tree.add_watch("/p", 1, WatchKind::Child);
    h.tree.add_watch("/p/e1", 1, WatchKind::Data);
    h.tree.add_watch("/x", OTHER, WatchKind::Exist);
    // an ephemeral created but not yet committed is included too
    let in_flight = h.prepare_as(OTHER, &create_mode("/e3", 1)).unwrap();
    let close = h.prepare_as(OTHER, &Request::CloseSession).unwrap();
    assert_eq!(
        close.body,
        TxnBody::CloseSession {
            paths_to_delete: vec!["/e2".into(), "/e3".into(), "/p/e1".into()]
        }
    );
    // while the close is pending, /p is seen as empty
    assert!(h.prepare_as(SESSION, &delete("/p", -1)).is_ok());
    h.pending.clear();
    h.commit(&in_flight);
    let out = h.commit(&close);
    assert_eq!(
        response_for(&Request::CloseSession, &out.result),
        Ok(Response::Empty)
    );
    assert_eq!(
        out.events,
        vec![
            ev(1, EventType::NodeDeleted, "/p/e1"),
            ev(1, EventType::NodeChildrenChanged, "/p")
        ]
    );
    assert!(h.tree.ephemerals(OTHER).is_empty());
    assert_eq!(h.tree.ephemeral_count(), 0);
    assert_eq!(h.tree.session_timeout(OTHER), None);
    assert_eq!(
        h.tree.watch_count(),
        0,
        "fired one-shots and the closed session's watches are gone"
    );
}

#[test]
fn reads_and_watch_registration() {
    let mut h = Harness::new();
    h.write(&create("/a")).unwrap();
    h.write(&create_mode("/a/e", 1)).unwrap();
    let exists = |path: &str, watch| {
        Request::Exists(PathWatch {
            path: path.into(),
            watch,
        })
    };
    assert_eq!(h.read(&exists("/nope", true)), Err(ErrorCode::NoNode));
    assert_eq!(h.read(&exists("/a\0", false)), Err(ErrorCode::BadArguments));
    assert!(matches!(
        h.read(&exists("/a", false)),
        Ok(Response::Stat(_))
    ));
    assert!(matches!(
        h.read(&Request::GetData(PathWatch {
            path: "/a".into(),
            watch: true
        })),
        Ok(Response::GetData { .. })
    ));
    match h.read(&Request::GetChildren2(PathWatch {
        path: "/a".into(),
        watch: true,
    })) {
        Ok(Response::GetChildren2 { children, stat }) => {
            assert_eq!(children, vec!["e"]);
            assert_eq!(stat.num_children, 1);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.tree.watch_count(), 3);
    let out = h.write(&create("/nope"));
    assert!(out.is_ok());
    assert_eq!(
        h.read(&Request::GetAllChildrenNumber { path: "/a".into() }),
        Ok(Response::GetAllChildrenNumber { total: 1 })
    );
    assert_eq!(
        h.read(&Request::GetEphemerals {
            prefix_path: "/".into()
        }),
        Ok(Response::GetEphemerals {
            paths: vec!["/a/e".into()]
        })
    );
    assert_eq!(
        h.read(&Request::GetEphemerals {
            prefix_path: "/b".into()
        }),
        Ok(Response::GetEphemerals { paths: vec![] })
    );
    let watches = |path: &str, t| WatchesRequest {
        path: path.into(),
        watcher_type: t,
    };
    assert_eq!(
        h.read(&Request::CheckWatches(watches("/a", 1))),
        Ok(Response::Empty)
    );
    assert_eq!(
        h.read(&Request::RemoveWatches(watches("/a", 3))),
        Ok(Response::Empty)
    );
    assert_eq!(
        h.read(&Request::RemoveWatches(watches("/a", 3))),
        Err(ErrorCode::NoWatcher)
    );
    assert_eq!(
        h.read(&Request::MultiRead(vec![
            MultiOp::GetData { path: "/a".into() },
            MultiOp::GetChildren { path: "/x".into() }
        ])),
        Ok(Response::Multi(vec![
            OpResult::GetData {
                data: Bytes::from_static(b"d"),
                stat: h.tree.node("/a").unwrap().stat()
            },
            OpResult::Error(ErrorCode::NoNode),
        ]))
    );
    assert_eq!(h.read(&Request::Ping), Err(ErrorCode::Unimplemented));
}

#[test]
fn get_acl_hides_digest_without_admin() {
    let mut h = Harness::new();
    let mut list = acl(perms::READ, "world", "anyone");
    list.push(Acl {
        perms: perms::ALL,
        id: Id::new("digest", "bob:secret"),
    });
    h.write(&create_req(op::CREATE, "/a", 0, list, 0)).unwrap();
    match h.read(&Request::GetAcl { path: "/a".into() }) {
        Ok(Response::GetAcl { acl, .. }) => assert_eq!(acl[1].id.id, "bob:x"),
        other => panic!("{other:?}"),
    }
    h.auth.push(Id::new("digest", "bob:secret"));
    match h.read(&Request::GetAcl { path: "/a".into() }) {
        Ok(Response::GetAcl { acl, .. }) => assert_eq!(acl[1].id.id, "bob:secret"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn decode_rejects_garbage() {
    assert!(Txn::decode(&[]).is_err());
    let txn = Txn {
        session_id: 1,
        cxid: 2,
        zxid: 3,
        time_ms: 4,
        body: TxnBody::Delete { path: "/a".into() },
    };
    let mut bytes = Vec::new();
    txn.encode(&mut bytes);
    bytes.push(0);
    assert!(Txn::decode(&bytes).is_err());
    let mut bad_type = Vec::new();
    Txn {
        body: TxnBody::Error(ErrorCode::Ok),
        ..txn
    }
    .encode(&mut bad_type);
    bad_type[28..32].copy_from_slice(&99i32.to_be_bytes());
    assert!(matches!(
        Txn::decode(&bad_type),
        Err(crate::protocol::jute::DecodeError::UnknownOp(99))
    ));
}

fn arb_acl() -> impl Strategy<Value = Vec<Acl>> {
    proptest::collection::vec(
        (0..32i32, "[a-z]{1,6}", "[a-z0-9:]{0,10}").prop_map(|(perms, s, i)| Acl {
            perms,
            id: Id::new(&s, &i),
        }),
        0..3,
    )
}

fn arb_leaf() -> impl Strategy<Value = TxnBody> {
    let path = "/[a-z]{1,8}(/[a-z0-9]{1,4}){0,2}";
    let data = proptest::collection::vec(any::<u8>(), 0..32).prop_map(Bytes::from);
    let kind = prop_oneof![
        Just(CreateKind::Persistent),
        Just(CreateKind::Ephemeral),
        Just(CreateKind::Container),
        (1..TTL_MAX_MS).prop_map(|ttl_ms| CreateKind::Ttl { ttl_ms }),
    ];
    prop_oneof![
        any::<i32>().prop_map(|timeout_ms| TxnBody::CreateSession { timeout_ms }),
        proptest::collection::vec(path, 0..3)
            .prop_map(|paths_to_delete| TxnBody::CloseSession { paths_to_delete }),
        (path, data.clone(), arb_acl(), kind, any::<i32>()).prop_map(
            |(path, data, acl, kind, parent_cversion)| {
                TxnBody::Create {
                    path: path.into(),
                    data,
                    acl,
                    kind,
                    parent_cversion,
                }
            }
        ),
        path.prop_map(|path| TxnBody::Delete { path }),
        path.prop_map(|path| TxnBody::DeleteContainer { path }),
        (path, data, any::<i32>()).prop_map(|(path, data, version)| TxnBody::SetData {
            path,
            data,
            version
        }),
        (path, arb_acl(), any::<i32>()).prop_map(|(path, acl, version)| TxnBody::SetAcl {
            path,
            acl,
            version
        }),
        (path, any::<i32>()).prop_map(|(path, version)| TxnBody::Check { path, version }),
        prop_oneof![
            Just(ErrorCode::Ok),
            Just(ErrorCode::NoNode),
            Just(ErrorCode::RuntimeInconsistency)
        ]
        .prop_map(TxnBody::Error),
    ]
}

proptest! {
    #[test]
    fn txn_round_trips(
        session_id in any::<i64>(), cxid in any::<i32>(), zxid in any::<i64>(), time_ms in any::<i64>(),
        body in prop_oneof![arb_leaf(), proptest::collection::vec(arb_leaf(), 0..5).prop_map(TxnBody::Multi)],
    ) {
        let txn = Txn { session_id, cxid, zxid, time_ms, body };
        let mut bytes = Vec::new();
        txn.encode(&mut bytes);
        prop_assert_eq!(Txn::decode(&bytes), Ok(txn));
        // every strict prefix is rejected, never a panic
        for cut in [0, bytes.len() / 2, bytes.len() - 1] {
            prop_assert!(Txn::decode(&bytes[..cut]).is_err());
        }
    }

    /// Random create/delete/setData sequences: the replica that applies the
    /// decoded txns equals the sequencer's tree, snapshots round-trip, and
    /// the pending overlay drains.
    #[test]
    fn replicas_and_snapshots_agree(ops in proptest::collection::vec((0..4u8, 0..6u8, 0..3u8), 1..40)) {
        let mut h = Harness::new();
        let mut replica = DataTree::new();
        let mut log = Vec::new();
        h.commit_body(SESSION, prepare_create_session(1));
        for (kind, a, b) in ops {
            let path = if b == 0 { format!("/n{a}") } else { format!("/n{a}/c{b}") };
            let request = match kind {
                0 => create(&path),
                1 => create_mode(&path, (b % 4) as i32),
                2 => delete(&path, -1),
                _ => set_data(&path, -1),
            };
            if let Ok(txn) = h.prepare_as(SESSION, &request) {
                log.push(txn.clone());
                h.commit(&txn);
            }
        }
        for txn in &log {
            let mut bytes = Vec::new();
            txn.encode(&mut bytes);
            apply(&mut replica, &Txn::decode(&bytes).unwrap());
        }
        prop_assert!(h.pending.is_empty());
        let mut a = Vec::new();
        let mut b = Vec::new();
        h.tree.serialize(&mut a);
        DataTree::deserialize(&a).unwrap().serialize(&mut b);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(replica.node_count(), h.tree.node_count());
        prop_assert_eq!(replica.approximate_data_size(), h.tree.approximate_data_size());
        for node in h.tree.walk() {
            let other = replica.node(node.path()).unwrap();
            prop_assert_eq!(other.stat(), node.stat());
        }
    }
}

fn create_data(path: &str, data: &'static [u8]) -> Request {
    Request::Create {
        op: op::CREATE,
        request: CreateRequest {
            path: path.into(),
            data: Bytes::from_static(data),
            acl: Acl::open_unsafe(),
            flags: 0,
            ttl_ms: 0,
        },
    }
}

/// The count and bytes of the subtree at `path` (0 and 0 when it is absent).
fn subtree_counts(tree: &DataTree, path: &str) -> (i64, i64) {
    let Some(node) = tree.node(path) else {
        return (0, 0);
    };
    let mut out = (1, node.data().len() as i64);
    for child in tree.children(path).unwrap() {
        let (c, b) = subtree_counts(tree, &format!("{path}/{child}"));
        out.0 += c;
        out.1 += b;
    }
    out
}

/// zkCli's setquota as requests: quota nodes, limits, then stats.
fn set_quota_requests(h: &mut Harness, path: &str) {
    h.write(&create_data(&format!("/zookeeper/quota{path}"), b""))
        .unwrap();
    h.write(&create_data(
        &format!("/zookeeper/quota{path}/zookeeper_limits"),
        b"count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1",
    ))
    .unwrap();
    h.write(&create_data(
        &format!("/zookeeper/quota{path}/zookeeper_stats"),
        b"count=0,bytes=0",
    ))
    .unwrap();
}

#[test]
fn quota_stats_through_prepare_and_apply() {
    let mut h = Harness::new();
    h.write(&create("/q")).unwrap();
    h.write(&create("/q/a")).unwrap();
    set_quota_requests(&mut h, "/q");
    let stats = "/zookeeper/quota/q/zookeeper_stats";
    let get = |h: &mut Harness| match h.read(&Request::GetData(PathWatch {
        path: stats.into(),
        watch: false,
    })) {
        Ok(Response::GetData { data, stat }) => (data, stat),
        other => panic!("{other:?}"),
    };
    let (data, stat) = get(&mut h);
    assert_eq!(&data[..], b"count=2,bytes=2");
    // A multi's creates and deletes each count.
    let multi = Request::Multi(vec![
        MultiOp::Create {
            op: op::CREATE,
            request: CreateRequest {
                path: "/q/m".into(),
                data: Bytes::from_static(b"1234"),
                acl: Acl::open_unsafe(),
                flags: 0,
                ttl_ms: 0,
            },
        },
        MultiOp::Delete(DeleteRequest {
            path: "/q/a".into(),
            version: -1,
        }),
        MultiOp::SetData(SetDataRequest {
            path: "/q".into(),
            data: Bytes::from_static(b"v2"),
            version: -1,
        }),
    ]);
    h.write(&multi).unwrap();
    let (data, after) = get(&mut h);
    assert_eq!(&data[..], b"count=2,bytes=6");
    // Version and mzxid of the stats node do not move.
    assert_eq!((after.version, after.mzxid), (stat.version, stat.mzxid));
    // A client's setData on the stats node is an ordinary write.
    h.write(&Request::SetData(SetDataRequest {
        path: stats.into(),
        data: Bytes::from_static(b"count=10,bytes=10"),
        version: 0,
    }))
    .unwrap();
    h.write(&create("/q/z")).unwrap();
    let (data, stat) = get(&mut h);
    assert_eq!(&data[..], b"count=11,bytes=11");
    assert_eq!(stat.version, 1);
}

proptest! {
    /// Random writes under two quota'd subtrees: each stats node always
    /// shows its subtree's count and bytes, a replica applying the log and
    /// a snapshot copy equal the sequencer's tree byte for byte.
    #[test]
    fn quota_stats_track_subtrees(ops in proptest::collection::vec((0..5u8, 0..3u8, 0..3u8), 1..40)) {
        let mut h = Harness::new();
        let other = 0x200;
        h.commit_body(other, prepare_create_session(1));
        set_quota_requests(&mut h, "/n0");
        set_quota_requests(&mut h, "/n1");
        let start = h.zxid;
        let mut log = Vec::new();
        for (kind, a, b) in ops {
            let path = if b == 0 { format!("/n{a}") } else { format!("/n{a}/c{b}") };
            let (session, request) = match kind {
                0 => (SESSION, create(&path)),
                1 => (other, create_mode(&path, (b % 4) as i32)),
                2 => (SESSION, delete(&path, -1)),
                3 => (SESSION, set_data(&path, -1)),
                _ => (SESSION, create_data(&path, b"")),
            };
            if let Ok(txn) = h.prepare_as(session, &request) {
                log.push(txn.clone());
                h.commit(&txn);
            }
        }
        let close = prepare_close_session(other, h.zxid + 1, &h.tree, &mut h.pending);
        let before_close = h.zxid;
        h.commit_body(other, close);
        for n in ["/n0", "/n1"] {
            let (count, bytes) = subtree_counts(&h.tree, n);
            let data = h.tree.node(&format!("/zookeeper/quota{n}/zookeeper_stats")).unwrap().data().clone();
            prop_assert_eq!(String::from_utf8(data.to_vec()).unwrap(), format!("count={count},bytes={bytes}"));
        }
        // The replica starts from a snapshot of the tree with the quotas set.
        let mut setup = Harness::new();
        setup.commit_body(other, prepare_create_session(1));
        set_quota_requests(&mut setup, "/n0");
        set_quota_requests(&mut setup, "/n1");
        prop_assert_eq!(setup.zxid, start);
        let mut snap = Vec::new();
        setup.tree.serialize(&mut snap);
        let mut replica = if log.len() % 2 == 0 { DataTree::deserialize(&snap).unwrap() } else { setup.tree };
        for txn in &log {
            apply(&mut replica, txn);
        }
        let close = prepare_close_session(other, before_close + 1, &replica, &mut PendingChanges::new());
        apply(&mut replica, &Txn { session_id: other, cxid: 0, zxid: before_close + 1, time_ms: 1000 + before_close + 1, body: close });
        let (mut a, mut b) = (Vec::new(), Vec::new());
        h.tree.serialize(&mut a);
        replica.serialize(&mut b);
        prop_assert_eq!(&a, &b);
        let copy = DataTree::deserialize(&a).unwrap();
        let mut c = Vec::new();
        copy.serialize(&mut c);
        prop_assert_eq!(&a, &c);
    }
}
