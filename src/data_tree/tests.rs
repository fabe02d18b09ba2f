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
    let by_session = tree.watches_by_session();
    assert_eq!(by_session[&9].len(), 4);
    assert_eq!(tree.watches_by_path()["/old"].len(), 1);
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
    assert!(node <= 152, "Node grew to {node} bytes");
}
