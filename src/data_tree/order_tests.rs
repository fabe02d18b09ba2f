//! The orders clients see, checked against recordings of the real thing:
//! `tests/fixtures/java_hash/orders.txt` (java.util.HashSet<String> as
//! ZooKeeper uses it, recorded by `HashOrder.java`) and
//! `tests/fixtures/child_order/zk-3.8.0.txt` (a kazoo session against
//! ZooKeeper 3.8, recorded by `record_kazoo.py`).
use super::java_hash::{JavaStringSet, CHILDREN_INITIAL_CAPACITY};
use super::*;

const JAVA_ORDERS: &str = include_str!("../../tests/fixtures/java_hash/orders.txt");
const ZOOKEEPER_SESSION: &str = include_str!("../../tests/fixtures/child_order/zk-3.8.0.txt");

/// Undoes the fixtures' `\uXXXX` escapes (UTF-16 units, surrogate pairs
/// included).
fn unescape(word: &str) -> String {
    let mut units: Vec<u16> = Vec::new();
    let mut rest = word;
    while let Some(at) = rest.find("\\u") {
        units.extend(rest[..at].encode_utf16());
        let code = u16::from_str_radix(&rest[at + 2..at + 6], 16).expect("escape");
        units.push(code);
        rest = &rest[at + 6..];
    }
    units.extend(rest.encode_utf16());
    String::from_utf16(&units).expect("valid UTF-16")
}

fn words(rest: &str) -> Vec<String> {
    rest.split(' ')
        .filter(|w| !w.is_empty())
        .map(unescape)
        .collect()
}

/// (name, initial capacity, lines) per scenario of the Java recording.
fn java_scenarios() -> Vec<(String, u32, Vec<&'static str>)> {
    let mut out: Vec<(String, u32, Vec<&'static str>)> = Vec::new();
    for line in JAVA_ORDERS.lines() {
        if let Some(rest) = line.strip_prefix("scenario ") {
            let (name, initial) = rest.split_once(' ').expect("scenario line");
            out.push((
                name.to_string(),
                initial.parse().expect("capacity"),
                Vec::new(),
            ));
        } else {
            out.last_mut().expect("scenario first").2.push(line);
        }
    }
    assert_eq!(out.len(), 5, "the recording's scenarios");
    out
}

fn split(line: &str) -> (&str, &str) {
    line.split_once(' ').unwrap_or((line, ""))
}

#[test]
fn model_matches_java_hash_set() {
    let mut checks = 0;
    for (name, initial, lines) in java_scenarios() {
        let mut set = JavaStringSet::with_capacity(initial);
        for (number, line) in lines.iter().enumerate() {
            let (tag, rest) = split(line);
            let context = || format!("{name} line {number}");
            match tag {
                "+" => assert!(set.insert(&unescape(rest)), "{}", context()),
                "-" => assert!(set.remove(&unescape(rest)), "{}", context()),
                "=" => {
                    assert!(!set.has_tree_bin(), "{}", context());
                    assert_eq!(set.iter_order(), words(rest), "{}", context());
                    checks += 1;
                }
                "c" => {
                    assert_eq!(set.java_clone().iter_order(), words(rest), "{}", context());
                    checks += 1;
                }
                "r" => {
                    let mut reloaded = JavaStringSet::with_capacity(CHILDREN_INITIAL_CAPACITY);
                    for key in set.iter_order() {
                        reloaded.insert(key);
                    }
                    assert_eq!(reloaded.iter_order(), words(rest), "{}", context());
                    checks += 1;
                }
                other => panic!("{}: unknown record {other:?}", context()),
            }
        }
    }
    assert!(checks > 1000, "only {checks} orders checked");
}

fn delete(tree: &mut DataTree, path: &str, zxid: i64) {
    tree.delete_node(path, zxid, &mut Vec::new())
        .unwrap_or_else(|e| panic!("delete {path}: {e:?}"));
}

fn create(tree: &mut DataTree, path: &str, owner: i64, zxid: i64) {
    tree.create_node(
        path,
        Bytes::new(),
        &Acl::open_unsafe(),
        owner,
        -1,
        zxid,
        zxid,
        &mut Vec::new(),
    )
    .unwrap_or_else(|e| panic!("create {path}: {e:?}"));
}

fn reload(tree: &DataTree) -> DataTree {
    let mut bytes = Vec::new();
    tree.serialize(&mut bytes);
    DataTree::deserialize(&bytes).expect("snapshot decodes")
}

/// The same recordings, replayed through the tree: children of one parent
/// (getChildren's order, and a snapshot reload's) and a session's
/// ephemerals (dump's order and getEphemerals' clone order).
#[test]
fn tree_orders_match_java_hash_set() {
    for (name, initial, lines) in java_scenarios() {
        let ephemeral = initial == java_hash::DEFAULT_INITIAL_CAPACITY;
        let parent = if ephemeral { "/app" } else { "/p" };
        let session = 7;
        let mut tree = DataTree::new();
        let mut zxid = 1;
        create(&mut tree, parent, 0, zxid);
        let path_of = |key: &str| {
            if ephemeral {
                key.to_string()
            } else {
                format!("{parent}/{key}")
            }
        };
        for (number, line) in lines.iter().enumerate() {
            let (tag, rest) = split(line);
            let context = format!("{name} line {number}");
            zxid += 1;
            match (tag, ephemeral) {
                ("+", _) => create(&mut tree, &path_of(&unescape(rest)), session, zxid),
                ("-", _) => delete(&mut tree, &path_of(&unescape(rest)), zxid),
                ("=", false) => {
                    assert_eq!(tree.children(parent).unwrap(), words(rest), "{context}");
                    assert!(!tree.children_order_inexact(parent), "{context}");
                }
                ("=", true) => assert_eq!(tree.ephemerals(session), words(rest), "{context}"),
                ("c", true) => {
                    assert_eq!(tree.ephemerals_cloned(session), words(rest), "{context}")
                }
                ("r", false) => {
                    let back = reload(&tree);
                    assert_eq!(back.children(parent).unwrap(), words(rest), "{context}");
                }
                _ => {}
            }
        }
    }
}

/// A kazoo session against ZooKeeper 3.8 (creates, deletes and
/// get_children under /order, two restarts), replayed through paddock's
/// tree. A restart is modelled the way ZooKeeper does one: load the
/// snapshot taken at the previous start (at the first start: the empty
/// tree), replay the log since, and take a snapshot of the result.
#[test]
fn kazoo_session_against_zookeeper() {
    let mut tree = DataTree::new();
    let mut startup_snapshot = Vec::new();
    tree.serialize(&mut startup_snapshot);
    let mut log: Vec<(bool, String)> = Vec::new();
    let mut zxid = 1;
    let apply = |tree: &mut DataTree, create_it: bool, path: &str, zxid: i64| {
        if create_it {
            create(tree, path, 0, zxid)
        } else {
            delete(tree, path, zxid)
        }
    };
    apply(&mut tree, true, "/order", zxid);
    log.push((true, "/order".to_string()));
    let (mut checks, mut restarts) = (0, 0);
    for (number, line) in ZOOKEEPER_SESSION.lines().enumerate() {
        let (tag, rest) = split(line);
        zxid += 1;
        match tag {
            "create" | "delete" => {
                let path = format!("/order/{}", unescape(rest));
                apply(&mut tree, tag == "create", &path, zxid);
                log.push((tag == "create", path));
            }
            "children" => {
                assert_eq!(
                    tree.children("/order").unwrap(),
                    words(rest),
                    "line {number}"
                );
                checks += 1;
            }
            "restart" => {
                tree = DataTree::deserialize(&startup_snapshot).expect("snapshot decodes");
                for (i, (create_it, path)) in log.drain(..).enumerate() {
                    apply(&mut tree, create_it, &path, zxid + i as i64);
                }
                startup_snapshot.clear();
                tree.serialize(&mut startup_snapshot);
                restarts += 1;
            }
            other => panic!("line {number}: unknown record {other:?}"),
        }
    }
    assert_eq!(restarts, 2);
    assert!(checks > 500, "only {checks} orders checked");
}

#[test]
fn tutorial_orders() {
    // ZooKeeper 3.8: get_children('/') after creating /abc.
    let mut tree = DataTree::new();
    create(&mut tree, "/abc", 0, 1);
    assert_eq!(tree.children("/").unwrap(), vec!["abc", "zookeeper"]);
    assert_eq!(
        tree.children("/zookeeper").unwrap(),
        vec!["config", "quota"]
    );
    // ... and with a dozen children.
    for (i, name) in [
        "a", "b", "c", "d", "e", "app", "node1", "node2", "x10", "config",
    ]
    .iter()
    .enumerate()
    {
        create(&mut tree, &format!("/{name}"), 0, 2 + i as i64);
    }
    assert_eq!(
        tree.children("/").unwrap(),
        vec![
            "app",
            "a",
            "b",
            "node2",
            "abc",
            "c",
            "zookeeper",
            "d",
            "e",
            "x10",
            "node1",
            "config"
        ]
    );
}

#[test]
fn emptied_ephemeral_set_keeps_its_table() {
    // A session's set grows to 32 bins; after every ephemeral is gone, new
    // ones still land in a 32-bin table, as in ZooKeeper.
    let mut tree = DataTree::new();
    let mut set = JavaStringSet::new();
    for i in 0..20 {
        let path = format!("/e{i}");
        create(&mut tree, &path, 9, i + 1);
        set.insert(&path);
    }
    for i in 0..20 {
        let path = format!("/e{i}");
        delete(&mut tree, &path, 100 + i);
        set.remove(&path);
    }
    assert_eq!(tree.sessions_with_ephemerals(), vec![9]);
    for name in ["/x", "/y", "/zz", "/q1", "/q17"] {
        create(&mut tree, name, 9, 200);
        set.insert(name);
    }
    assert_eq!(set.capacity(), 32);
    assert_eq!(tree.ephemerals(9), set.iter_order());
    tree.kill_session(9, &[], 300, &mut Vec::new());
    assert!(tree.sessions_with_ephemerals().is_empty());
}

#[test]
fn renumbering_keeps_the_order() {
    let mut tree = DataTree::new();
    create(&mut tree, "/p", 0, 1);
    for name in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"] {
        create(&mut tree, &format!("/p/{name}"), 0, 2);
    }
    let before = tree.children("/p").unwrap();
    let id = tree.index["/p"];
    tree.renumber_children(id);
    assert_eq!(tree.children("/p").unwrap(), before);
    assert_eq!(tree.slot(id).children_table.next_sequence(), 10);
}

#[test]
fn get_ephemerals_answers_in_the_clones_order() {
    // ZooKeeper 3.8's getEphemerals after 25 ephemerals and 13 deletes
    // (tests/interop/test_child_order.py): the clone has 32 bins, the live
    // set 64, and the two orders differ.
    let mut tree = DataTree::new();
    create(&mut tree, "/eph", 0, 1);
    for i in 0..25 {
        create(&mut tree, &format!("/eph/e{i}"), 5, 2 + i);
    }
    for i in (0..25).step_by(2) {
        delete(&mut tree, &format!("/eph/e{i}"), 100 + i);
    }
    let expected: Vec<String> = [5, 7, 9, 17, 15, 1, 19, 3, 21, 13, 23, 11]
        .iter()
        .map(|i| format!("/eph/e{i}"))
        .collect();
    assert_eq!(tree.ephemerals_cloned(5), expected);
    assert_ne!(tree.ephemerals(5), expected);
}
