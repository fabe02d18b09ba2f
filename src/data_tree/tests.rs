use super::*;
use crate::protocol::perms;

fn create(tree: &mut DataTree, path: &str, owner: i64, zxid: i64) -> Vec<(i64, WatcherEvent)> {
    let mut events = Vec::new();
    let parent_cv = tree
        .node(parent_of(path))
        .map(|n| n.child_creations() + 1)
        .unwrap_or(-1);
    tree.create_node(
        path,
        Bytes::from_static(b"data"),
        &Acl::open_unsafe(),
        owner,
        parent_cv,
        zxid,
        zxid * 10,
        &mut events,
    )
    .unwrap();
    events
}

fn ev(session: i64, t: EventType, path: &str) -> (i64, WatcherEvent) {
    (session, event(t, path))
}

#[test]
fn fresh_tree_matches_zookeeper() {
    let tree = DataTree::new();
    assert_eq!(tree.node_count(), 5);
    assert_eq!(tree.approximate_data_size(), 44);
    let mut root_children = tree.children("/").unwrap();
    root_children.sort();
    assert_eq!(root_children, vec!["zookeeper"]);
    let zk = tree.node("/zookeeper").unwrap();
    assert_eq!(zk.stat().cversion, -2);
    assert_eq!(zk.stat().num_children, 2);
    let config = tree.node("/zookeeper/config").unwrap();
    assert_eq!(&config.acl()[..], &Acl::read_unsafe()[..]);
    assert_eq!(config.stat().aversion, -1);
    assert_eq!(
        &tree.node("/zookeeper/quota").unwrap().acl()[..],
        &Acl::open_unsafe()[..]
    );
    assert_eq!(tree.all_children_number("/"), Some(3));
    assert_eq!(tree.all_children_number("/zookeeper"), Some(2));
    assert_eq!(tree.all_children_number("/nope"), None);
}

#[test]
fn create_and_delete_stats() {
    let mut tree = DataTree::new();
    create(&mut tree, "/a", 0, 2);
    create(&mut tree, "/a/b", 0, 3);
    let b = tree.node("/a/b").unwrap().stat();
    assert_eq!(
        (b.czxid, b.mzxid, b.pzxid, b.ctime, b.mtime),
        (3, 3, 3, 30, 30)
    );
    assert_eq!(
        (b.version, b.cversion, b.aversion, b.ephemeral_owner),
        (0, 0, 0, 0)
    );
    assert_eq!(b.data_length, 4);
    let a = tree.node("/a").unwrap().stat();
    assert_eq!((a.cversion, a.num_children, a.pzxid), (1, 1, 3));
    tree.delete_node("/a/b", 4, &mut Vec::new()).unwrap();
    let a = tree.node("/a").unwrap().stat();
    // As observed on ZooKeeper 3.8: create+delete of a child reports cversion 2.
    assert_eq!((a.cversion, a.num_children, a.pzxid), (2, 0, 4));
    assert_eq!(tree.node("/a").unwrap().child_creations(), 1);
    assert_eq!(tree.node_count(), 6);
    assert_eq!(tree.approximate_data_size(), 44 + 2 + 4);
    assert_eq!(
        tree.delete_node("/a/b", 5, &mut Vec::new()),
        Err(ErrorCode::NoNode)
    );
    create(&mut tree, "/a/c", 0, 6);
    assert_eq!(
        tree.delete_node("/a", 7, &mut Vec::new()),
        Err(ErrorCode::NotEmpty)
    );
}

#[test]
fn set_data_and_acl() {
    let mut tree = DataTree::new();
    create(&mut tree, "/a", 0, 2);
    let stat = tree
        .set_data("/a", Bytes::from_static(b"xy"), 1, 3, 99, &mut Vec::new())
        .unwrap();
    assert_eq!(
        (
            stat.version,
            stat.mzxid,
            stat.mtime,
            stat.data_length,
            stat.czxid
        ),
        (1, 3, 99, 2, 2)
    );
    assert_eq!(tree.approximate_data_size(), 44 + 2 + 2);
    let acl = vec![Acl {
        perms: perms::READ,
        id: crate::protocol::Id::new("world", "anyone"),
    }];
    let stat = tree.set_acl("/a", &acl, 1).unwrap();
    assert_eq!(stat.aversion, 1);
    assert_eq!(&tree.node("/a").unwrap().acl()[..], &acl[..]);
    // The interned copy is shared with /zookeeper/config.
    assert!(Arc::ptr_eq(
        tree.node("/a").unwrap().acl(),
        tree.node("/zookeeper/config").unwrap().acl()
    ));
}

#[test]
fn ephemerals_containers_ttls() {
    let mut tree = DataTree::new();
    tree.add_session(7, 30000);
    create(&mut tree, "/e1", 7, 2);
    create(&mut tree, "/e2", 7, 3);
    create(&mut tree, "/c", CONTAINER_EPHEMERAL_OWNER, 4);
    let ttl_owner = ttl_to_ephemeral_owner(100).unwrap();
    create(&mut tree, "/t", ttl_owner, 5);
    assert_eq!(tree.ephemerals(7), vec!["/e1", "/e2"]);
    assert_eq!(tree.ephemeral_count(), 2);
    assert!(tree.containers_to_delete().is_empty());
    create(&mut tree, "/c/x", 0, 6);
    assert!(tree.containers_to_delete().is_empty());
    tree.delete_node("/c/x", 7, &mut Vec::new()).unwrap();
    assert_eq!(tree.containers_to_delete(), vec!["/c"]);
    // mtime of /t is 50 (zxid * 10).
    assert!(tree.ttl_expired(150).is_empty());
    assert_eq!(tree.ttl_expired(151), vec!["/t"]);
    assert_eq!(ttl_of_ephemeral_owner(ttl_owner), Some(100));
    assert_eq!(ttl_of_ephemeral_owner(CONTAINER_EPHEMERAL_OWNER), None);
    assert!(is_session_owner(7));
    assert!(!is_session_owner(ttl_owner));
    assert_eq!(ttl_to_ephemeral_owner(0), None);
    assert_eq!(ttl_to_ephemeral_owner(TTL_MAX_MS + 1), None);
    let mut events = Vec::new();
    tree.kill_session(7, &["/e2".to_string()], 8, &mut events);
    assert!(tree.ephemerals(7).is_empty());
    assert!(tree.node("/e1").is_none() && tree.node("/e2").is_none());
    assert_eq!(tree.session_timeout(7), None);
}

#[test]
fn watches_fire_per_zookeeper_rules() {
    let mut tree = DataTree::new();
    tree.add_watch("/a", 1, WatchKind::Exist);
    tree.add_watch("/", 2, WatchKind::Child);
    tree.add_watch("/", 3, WatchKind::PersistentRecursive);
    tree.add_watch("/a", 4, WatchKind::Persistent);
    let events = create(&mut tree, "/a", 0, 2);
    assert_eq!(
        events,
        vec![
            ev(1, EventType::NodeCreated, "/a"),
            ev(3, EventType::NodeCreated, "/a"),
            ev(4, EventType::NodeCreated, "/a"),
            ev(2, EventType::NodeChildrenChanged, "/"),
        ]
    );
    // one-shot watches are gone; persistent ones stay.
    let events = create(&mut tree, "/a/b", 0, 3);
    assert_eq!(
        events,
        vec![
            ev(3, EventType::NodeCreated, "/a/b"),
            ev(4, EventType::NodeChildrenChanged, "/a")
        ]
    );
    tree.add_watch("/a/b", 1, WatchKind::Data);
    tree.add_watch("/a/b", 1, WatchKind::Child);
    tree.add_watch("/a/b", 5, WatchKind::Child);
    let mut events = Vec::new();
    tree.delete_node("/a/b", 4, &mut events).unwrap();
    assert_eq!(
        events,
        vec![
            ev(1, EventType::NodeDeleted, "/a/b"),
            ev(3, EventType::NodeDeleted, "/a/b"),
            ev(5, EventType::NodeDeleted, "/a/b"),
            ev(4, EventType::NodeChildrenChanged, "/a"),
        ]
    );
    let mut events = Vec::new();
    tree.set_data("/a", Bytes::new(), 1, 5, 5, &mut events)
        .unwrap();
    assert_eq!(
        events,
        vec![
            ev(3, EventType::NodeDataChanged, "/a"),
            ev(4, EventType::NodeDataChanged, "/a")
        ]
    );
    assert_eq!(tree.watch_count(), 3);
    tree.remove_session_watches(4);
    assert_eq!(tree.watch_count(), 1);
}

#[test]
fn remove_and_check_watches() {
    let mut tree = DataTree::new();
    tree.add_watch("/a", 1, WatchKind::Data);
    tree.add_watch("/a", 1, WatchKind::Child);
    tree.add_watch("/b", 1, WatchKind::PersistentRecursive);
    assert!(tree.remove_watches("/a", 1, 1, true));
    assert!(!tree.remove_watches("/a", 2, 3, true));
    assert!(tree.remove_watches("/a", 1, 1, false));
    assert!(!tree.remove_watches("/a", 1, 1, true));
    assert!(tree.remove_watches("/a", 1, 3, false));
    assert!(!tree.remove_watches("/a", 1, 2, true));
    assert!(!tree.remove_watches("/b", 1, 4, true));
    assert!(tree.remove_watches("/b", 1, 5, false));
    assert_eq!(tree.watch_count(), 0);
}

#[test]
fn set_watches_fires_what_was_missed() {
    let mut tree = DataTree::new();
    create(&mut tree, "/old", 0, 2);
    create(&mut tree, "/new", 0, 10);
    let req = SetWatchesRequest {
        relative_zxid: 5,
        data_watches: vec!["/old".into(), "/new".into(), "/gone".into()],
        exist_watches: vec!["/old".into(), "/missing".into()],
        child_watches: vec!["/old".into(), "/new".into(), "/gone".into()],
        persistent_watches: vec!["/p".into()],
        persistent_recursive_watches: vec!["/r".into()],
    };
    let events = tree.set_watches(9, &req, 10);
    assert_eq!(
        events,
        vec![
            ev(9, EventType::NodeDataChanged, "/new"),
            ev(9, EventType::NodeDeleted, "/gone"),
            ev(9, EventType::NodeCreated, "/old"),
            ev(9, EventType::NodeChildrenChanged, "/new"),
            ev(9, EventType::NodeDeleted, "/gone"),
        ]
    );
    // registered: data /old, exist /missing, child /old, persistent /p (2), recursive /r
    assert_eq!(tree.watch_count(), 6);
    let expected: Vec<(i64, String)> = ["/missing", "/old", "/p", "/r"]
        .iter()
        .map(|p| (9, p.to_string()))
        .collect();
    assert_eq!(tree.data_watches(), expected);
}

#[test]
fn serialize_round_trip() {
    let mut tree = DataTree::new();
    tree.add_session(7, 4000);
    create(&mut tree, "/a", 0, 2);
    create(&mut tree, "/a/b", 7, 3);
    create(&mut tree, "/c", CONTAINER_EPHEMERAL_OWNER, 4);
    tree.delete_node("/a/b", 5, &mut Vec::new()).unwrap();
    create(&mut tree, "/a/d", 7, 6);
    tree.set_last_zxid(6);
    let mut bytes = Vec::new();
    tree.serialize(&mut bytes);
    let back = DataTree::deserialize(&bytes).unwrap();
    assert_eq!(back.last_zxid(), 6);
    assert_eq!(back.node_count(), tree.node_count());
    assert_eq!(back.approximate_data_size(), tree.approximate_data_size());
    assert_eq!(back.ephemerals(7), vec!["/a/d"]);
    assert_eq!(back.session_timeout(7), Some(4000));
    for node in tree.walk() {
        let other = back.node(node.path()).unwrap();
        assert_eq!(other.stat(), node.stat(), "{}", node.path());
        assert_eq!(other.data(), node.data());
        assert_eq!(other.acl(), node.acl());
    }
    let mut again = Vec::new();
    back.serialize(&mut again);
    assert_eq!(again, bytes);
    assert!(DataTree::deserialize(&bytes[..bytes.len() - 1]).is_err());
    let mut extra = bytes.clone();
    extra.push(0);
    assert!(DataTree::deserialize(&extra).is_err());
}

/// What one node costs per copy (reported in the module docs).
#[test]
fn node_cost() {
    let node = std::mem::size_of::<Node>();
    let slot = std::mem::size_of::<Option<Node>>();
    assert_eq!(node, slot, "Option<Node> must use the Arc niche");
    assert!(node <= 160, "Node grew to {node} bytes");
}

// ---- quotas -------------------------------------------------------------------

fn create_with(tree: &mut DataTree, path: &str, data: &[u8], owner: i64, zxid: i64) {
    tree.create_node(
        path,
        Bytes::copy_from_slice(data),
        &Acl::open_unsafe(),
        owner,
        -1,
        zxid,
        zxid * 10,
        &mut Vec::new(),
    )
    .unwrap();
}

fn text(tree: &DataTree, path: &str) -> String {
    String::from_utf8(tree.node(path).unwrap().data().to_vec()).unwrap()
}

/// What zkCli's `setquota -n 5 <path>` creates (3.8's SetQuotaCommand).
fn set_quota(tree: &mut DataTree, path: &str, zxid: &mut i64) {
    let mut quota_path = QUOTA_ROOT.to_string();
    for part in path[1..].split('/') {
        quota_path.push('/');
        quota_path.push_str(part);
        if tree.node(&quota_path).is_none() {
            *zxid += 1;
            create_with(tree, &quota_path, b"", 0, *zxid);
        }
    }
    *zxid += 1;
    let limits = b"count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1";
    create_with(
        tree,
        &format!("{quota_path}/{LIMIT_NODE}"),
        limits,
        0,
        *zxid,
    );
    *zxid += 1;
    create_with(tree, &stat_path(path), b"count=0,bytes=0", 0, *zxid);
}

/// Sum of path lengths and data lengths as ZooKeeper's `approximateDataSize`
/// computes it afresh (the root counted as "" and "/").
fn summed_size(tree: &DataTree) -> u64 {
    tree.walk()
        .iter()
        .map(|n| n.path().len() as u64 + n.data().len() as u64)
        .sum::<u64>()
        + tree.node("/").unwrap().data().len() as u64
}

#[test]
fn stats_track_parses_and_prints_like_java() {
    let limits = "count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1";
    let t = StatsTrack::parse(limits).unwrap();
    assert_eq!((t.count(), t.bytes()), (5, -1));
    assert_eq!(t.to_bytes(), limits.as_bytes());
    let empty = StatsTrack::parse("").unwrap();
    assert_eq!(empty.to_bytes(), b"count=-1,bytes=-1");
    let mut t = StatsTrack::default();
    t.set_bytes(0);
    t.set_count(2);
    assert_eq!(t.to_bytes(), b"count=2,bytes=0");
    // ',' and ';' runs separate pairs; a trailing one is dropped; the later
    // duplicate wins; "k==v" reads as -1; extra keys print sorted after "=".
    let t = StatsTrack::parse("count=1,;count=3,bytes==4;zz=1;aa=+2;").unwrap();
    assert_eq!(t.to_bytes(), b"count=3,bytes=-1=;aa=2;zz=1");
    // Where Java throws: no '=', a leading separator, not a long.
    for bad in [
        "count",
        "count=",
        ",count=1",
        "count=x",
        "count=1 ",
        "count=-",
        "=",
        "bytes=99999999999999999999",
    ] {
        assert_eq!(StatsTrack::parse(bad), None, "{bad}");
    }
    assert_eq!(
        StatsTrack::parse("=5").unwrap().to_bytes(),
        b"count=-1,bytes=-1=;=5"
    );
}

#[test]
fn quota_paths_match_by_components() {
    let mut q = QuotaPaths::default();
    assert_eq!(q.max_prefix("/a"), None);
    q.add("/a");
    q.add("/a/b/c");
    q.add("");
    q.add("/");
    q.add("x");
    assert_eq!(q.iter().collect::<Vec<_>>(), vec!["/a", "/a/b/c", "/x"]);
    assert_eq!(q.max_prefix("/a"), Some("/a"));
    assert_eq!(q.max_prefix("/a/b"), Some("/a"));
    assert_eq!(q.max_prefix("/a/b/c/d"), Some("/a/b/c"));
    assert_eq!(q.max_prefix("/ab"), None);
    assert_eq!(q.max_prefix("/"), None);
    assert_eq!(q.max_prefix("/x/y"), Some("/x"));
    q.remove("/a/b/c");
    assert_eq!(q.max_prefix("/a/b/c/d"), Some("/a"));
    q.remove("a");
    assert_eq!(q.max_prefix("/a/b/c/d"), None);
}

#[test]
fn quota_stats_follow_creates_deletes_and_set_data() {
    let mut tree = DataTree::new();
    let mut zxid = 1;
    create_with(&mut tree, "/q", b"", 0, zxid);
    zxid += 1;
    create_with(&mut tree, "/q/a", b"data", 0, zxid);
    create_with(&mut tree, "/other", b"zz", 0, zxid + 1);
    zxid += 1;
    let size_before = tree.approximate_data_size();
    set_quota(&mut tree, "/q", &mut zxid);
    let stats = stat_path("/q");
    // updateQuotaForPath on creating the stats node: /q and /q/a.
    assert_eq!(text(&tree, &stats), "count=2,bytes=4");
    assert_eq!(tree.quota_paths().iter().collect::<Vec<_>>(), vec!["/q"]);
    // ZooKeeper's cached size counts the stats node's data as created.
    let quota_nodes = "/zookeeper/quota/q".len()
        + "/zookeeper/quota/q/zookeeper_limits".len()
        + "count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1".len()
        + "/zookeeper/quota/q/zookeeper_stats".len()
        + "count=0,bytes=0".len();
    assert_eq!(
        tree.approximate_data_size(),
        size_before + quota_nodes as u64
    );
    let stat_before = tree.node(&stats).unwrap().stat();

    zxid += 1;
    create_with(&mut tree, "/q/b", b"abc", 0, zxid);
    assert_eq!(text(&tree, &stats), "count=3,bytes=7");
    zxid += 1;
    create_with(&mut tree, "/q/b/deep", b"", 0, zxid);
    assert_eq!(text(&tree, &stats), "count=4,bytes=7");
    zxid += 1;
    tree.set_data(
        "/q/b",
        Bytes::from_static(b"a"),
        1,
        zxid,
        0,
        &mut Vec::new(),
    )
    .unwrap();
    assert_eq!(text(&tree, &stats), "count=4,bytes=5");
    tree.set_data(
        "/q",
        Bytes::from_static(b"v2"),
        1,
        zxid + 1,
        0,
        &mut Vec::new(),
    )
    .unwrap();
    assert_eq!(text(&tree, &stats), "count=4,bytes=7");
    zxid += 2;
    tree.delete_node("/q/a", zxid, &mut Vec::new()).unwrap();
    assert_eq!(text(&tree, &stats), "count=3,bytes=3");
    // Outside the quota: nothing changes.
    tree.set_data(
        "/other",
        Bytes::from_static(b"zzzz"),
        1,
        zxid + 1,
        0,
        &mut Vec::new(),
    )
    .unwrap();
    create_with(&mut tree, "/qq", b"x", 0, zxid + 2);
    assert_eq!(text(&tree, &stats), "count=3,bytes=3");
    // The stats node's stat moves only in dataLength.
    let stat_after = tree.node(&stats).unwrap().stat();
    assert_eq!(
        Stat {
            data_length: stat_before.data_length,
            ..stat_after
        },
        stat_before
    );
    assert_eq!(stat_after.data_length, "count=3,bytes=3".len() as i32);
    // ... and the cached size ignores those updates (summed afresh it differs).
    let drift = "count=3,bytes=3".len() as u64 - "count=0,bytes=0".len() as u64;
    assert_eq!(tree.approximate_data_size() + drift, summed_size(&tree));
    assert_eq!(drift, 0);
}

#[test]
fn quota_ephemerals_and_delquota() {
    let mut tree = DataTree::new();
    let mut zxid = 1;
    create_with(&mut tree, "/q", b"12", 0, zxid);
    set_quota(&mut tree, "/q", &mut zxid);
    let stats = stat_path("/q");
    tree.add_session(9, 4000);
    zxid += 1;
    create_with(&mut tree, "/q/e", b"123", 9, zxid);
    assert_eq!(text(&tree, &stats), "count=2,bytes=5");
    zxid += 1;
    tree.kill_session(9, &[], zxid, &mut Vec::new());
    assert_eq!(text(&tree, &stats), "count=1,bytes=2");
    // delquota -n rewrites the limits node: only a setData, the quota stays.
    zxid += 1;
    tree.set_data(
        "/zookeeper/quota/q/zookeeper_limits",
        Bytes::from_static(b"count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"),
        1,
        zxid,
        0,
        &mut Vec::new(),
    )
    .unwrap();
    create_with(&mut tree, "/q/x", b"", 0, zxid + 1);
    assert_eq!(text(&tree, &stats), "count=2,bytes=2");
    // delquota without flags deletes stats, then limits (either order):
    // with the stats node gone, updates find nothing to change.
    zxid += 2;
    tree.delete_node(&stats, zxid, &mut Vec::new()).unwrap();
    create_with(&mut tree, "/q/y", b"", 0, zxid + 1);
    assert_eq!(tree.quota_paths().iter().count(), 1);
    tree.delete_node(
        "/zookeeper/quota/q/zookeeper_limits",
        zxid + 2,
        &mut Vec::new(),
    )
    .unwrap();
    assert!(tree.quota_paths().is_empty());
    tree.delete_node("/zookeeper/quota/q", zxid + 3, &mut Vec::new())
        .unwrap();
    // A new quota recounts the subtree.
    zxid += 4;
    set_quota(&mut tree, "/q", &mut zxid);
    assert_eq!(text(&tree, &stats), "count=3,bytes=2");
}

#[test]
fn nested_quotas_update_the_deepest_only() {
    let mut tree = DataTree::new();
    let mut zxid = 1;
    create_with(&mut tree, "/a", b"", 0, zxid);
    create_with(&mut tree, "/a/b", b"", 0, zxid + 1);
    zxid += 1;
    set_quota(&mut tree, "/a", &mut zxid);
    set_quota(&mut tree, "/a/b", &mut zxid);
    assert_eq!(text(&tree, &stat_path("/a")), "count=2,bytes=0");
    assert_eq!(text(&tree, &stat_path("/a/b")), "count=1,bytes=0");
    zxid += 1;
    create_with(&mut tree, "/a/b/c", b"xyz", 0, zxid);
    assert_eq!(text(&tree, &stat_path("/a")), "count=2,bytes=0");
    assert_eq!(text(&tree, &stat_path("/a/b")), "count=2,bytes=3");
    // A quota on a path that does not exist yet counts 0, then follows it.
    zxid += 1;
    set_quota(&mut tree, "/later", &mut zxid);
    assert_eq!(text(&tree, &stat_path("/later")), "count=0,bytes=0");
    create_with(&mut tree, "/later", b"1", 0, zxid + 1);
    assert_eq!(text(&tree, &stat_path("/later")), "count=1,bytes=1");
    // Stats data a client made unparsable stays as it is.
    tree.set_data(
        &stat_path("/later"),
        Bytes::from_static(b"junk"),
        1,
        zxid + 2,
        0,
        &mut Vec::new(),
    )
    .unwrap();
    create_with(&mut tree, "/later/x", b"1", 0, zxid + 3);
    assert_eq!(text(&tree, &stat_path("/later")), "junk");
    // Extra keys survive an update, printed sorted after "=".
    tree.set_data(
        &stat_path("/later"),
        Bytes::from_static(b"count=1;z=2;bytes=3;a=1"),
        2,
        zxid + 4,
        0,
        &mut Vec::new(),
    )
    .unwrap();
    create_with(&mut tree, "/later/y", b"12", 0, zxid + 5);
    assert_eq!(
        text(&tree, &stat_path("/later")),
        "count=2,bytes=5=;a=1;z=2"
    );
}

fn quota_tree() -> DataTree {
    let mut tree = DataTree::new();
    let mut zxid = 1;
    create_with(&mut tree, "/q", b"", 0, zxid);
    create_with(&mut tree, "/q/n", b"", 0, zxid + 1);
    zxid += 1;
    set_quota(&mut tree, "/q", &mut zxid);
    set_quota(&mut tree, "/q/n", &mut zxid);
    for i in 0..3 {
        zxid += 1;
        create_with(&mut tree, &format!("/q/n/c{i}"), b"abcd", 0, zxid);
    }
    create_with(&mut tree, "/q/d", b"abcdef", 0, zxid + 1);
    tree.set_last_zxid(zxid + 1);
    tree
}

#[test]
fn quota_snapshot_restores_exactly() {
    let tree = quota_tree();
    assert_eq!(text(&tree, &stat_path("/q")), "count=3,bytes=6");
    assert_eq!(text(&tree, &stat_path("/q/n")), "count=4,bytes=12");
    let mut bytes = Vec::new();
    tree.serialize(&mut bytes);
    let mut back = DataTree::deserialize(&bytes).unwrap();
    assert_eq!(back.quota_paths(), tree.quota_paths());
    assert_eq!(back.approximate_data_size(), tree.approximate_data_size());
    assert_ne!(back.approximate_data_size(), summed_size(&back));
    let mut again = Vec::new();
    back.serialize(&mut again);
    assert_eq!(again, bytes);
    // Both copies go on identically.
    let mut live = tree;
    for t in [&mut live, &mut back] {
        create_with(t, "/q/n/c9", b"x", 0, 100);
        t.delete_node("/q/d", 101, &mut Vec::new()).unwrap();
    }
    assert_eq!(text(&back, &stat_path("/q/n")), "count=5,bytes=13");
    assert_eq!(text(&back, &stat_path("/q")), "count=2,bytes=0");
    let (mut a, mut b) = (Vec::new(), Vec::new());
    live.serialize(&mut a);
    back.serialize(&mut b);
    assert_eq!(a, b);
}

#[test]
fn version_1_snapshot_sets_up_quotas_as_zookeeper_loads_them() {
    let mut tree = quota_tree();
    // A v1 snapshot of an older paddock: stale stats, no trailer.
    tree.set_data(
        &stat_path("/q"),
        Bytes::from_static(b"count=0,bytes=0"),
        1,
        50,
        0,
        &mut Vec::new(),
    )
    .unwrap();
    let mut bytes = Vec::new();
    tree.serialize(&mut bytes);
    let trailer = 8
        + 4
        + tree
            .quota_paths()
            .iter()
            .map(|p| 4 + p.len())
            .sum::<usize>();
    bytes.truncate(bytes.len() - trailer);
    bytes[4..8].copy_from_slice(&1i32.to_be_bytes());
    let back = DataTree::deserialize(&bytes).unwrap();
    assert_eq!(back.quota_paths(), tree.quota_paths());
    // setupQuota: every quota recounted over its whole subtree (nested
    // quotas included), the size summed before that.
    assert_eq!(text(&back, &stat_path("/q")), "count=6,bytes=18");
    assert_eq!(text(&back, &stat_path("/q/n")), "count=4,bytes=12");
    let sum_before =
        summed_size(&back) - "count=6,bytes=18".len() as u64 + "count=0,bytes=0".len() as u64;
    assert_eq!(back.approximate_data_size(), sum_before);
}

#[test]
fn snap_tree_round_trip_keeps_nodes_stats_acls_and_sessions() {
    use crate::protocol::Id;
    let mut tree = DataTree::new();
    let digest = vec![Acl {
        perms: 31,
        id: Id::new("digest", "u:x"),
    }];
    create_with(&mut tree, "/a", b"one", 0, 5);
    create(&mut tree, "/a/b", 0x77, 6);
    tree.create_node("/c", Bytes::new(), &digest, 0, -1, 7, 70, &mut Vec::new())
        .unwrap();
    let snap = tree.to_snap_tree();
    assert_eq!(snap.nodes[0].path, "", "ZooKeeper writes the root as \"\"");
    let lists: Vec<&Vec<Acl>> = snap.acls.iter().map(|(_, list)| list).collect();
    for (i, list) in lists.iter().enumerate() {
        assert!(
            !lists[..i].contains(list),
            "one entry per distinct ACL list"
        );
    }
    assert!(lists.contains(&&digest));
    let mut bytes = Vec::new();
    snap.encode(&mut bytes);
    let decoded =
        crate::zab::wire::SnapTree::decode(&mut crate::protocol::jute::Reader::new(&bytes))
            .unwrap();
    let back = DataTree::from_snap_tree(&decoded, tree.last_zxid()).unwrap();
    let mut a = Vec::new();
    let mut b = Vec::new();
    tree.serialize(&mut a);
    back.serialize(&mut b);
    assert_eq!(a, b, "the tree a SNAP rebuilds is the tree that was sent");
}

#[test]
fn a_streamed_snap_body_is_the_whole_one_in_pieces_and_loads_back_streamed() {
    use crate::protocol::Id;
    use crate::zab::wire::{SnapDecoder, SnapItem};
    let mut tree = DataTree::new();
    let digest = vec![Acl {
        perms: 31,
        id: Id::new("digest", "u:x"),
    }];
    for i in 0..300 {
        create_with(
            &mut tree,
            &format!("/n{i}"),
            &vec![i as u8; i * 7],
            0,
            5 + i as i64,
        );
        if i % 10 == 0 {
            tree.create_node(
                &format!("/n{i}/d"),
                Bytes::from(vec![1u8; 100]),
                &digest,
                0x55,
                -1,
                400 + i as i64,
                70,
                &mut Vec::new(),
            )
            .unwrap();
        }
    }
    let mut whole = Vec::new();
    tree.to_snap_tree().encode(&mut whole);
    for bytes_min in [1, 100, 4096, 1 << 20] {
        let mut streamer = crate::data_tree::SnapStreamer::new(tree.clone());
        assert_eq!(streamer.zxid(), tree.last_zxid());
        let mut streamed = Vec::new();
        let mut pieces = 0;
        loop {
            let mut piece = Vec::new();
            let done = streamer.fill(&mut piece, bytes_min);
            assert!(
                done || piece.len() >= bytes_min,
                "a piece short of its size"
            );
            streamed.extend_from_slice(&piece);
            pieces += 1;
            if done {
                break;
            }
        }
        assert_eq!(streamed, whole, "pieces of {bytes_min}: the same body");
        assert_eq!(
            streamer.nodes_written() as usize,
            tree.to_snap_tree().nodes.len()
        );
        if bytes_min == 1 {
            assert!(pieces > 300, "one node per piece: {pieces}");
        }
    }
    // The learner's side: decoded record by record into a loader.
    let mut decoder = SnapDecoder::new(1 << 20);
    let mut loader = crate::data_tree::SnapLoader::new();
    let mut buf = Vec::new();
    for chunk in whole.chunks(333) {
        buf.extend_from_slice(chunk);
        let used = decoder
            .feed(&buf, &mut |item: SnapItem| {
                loader.add(item).unwrap();
                Ok(())
            })
            .unwrap();
        buf.drain(..used);
    }
    assert!(decoder.is_done() && buf.is_empty());
    let back = loader.finish(tree.last_zxid()).unwrap();
    let mut a = Vec::new();
    let mut b = Vec::new();
    tree.serialize(&mut a);
    back.serialize(&mut b);
    assert_eq!(a, b, "the tree loaded as it streamed in is the tree sent");
}
