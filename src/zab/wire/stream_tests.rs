//! Every peer stream decoder against every split TCP can make: the same
//! bytes fed whole and fed in random pieces (1 byte to 1 MiB, sizes drawn
//! log-uniformly so that tiny pieces are common) must give the same records.
//! Streams are ZooKeeper's own recorded bytes (`tests/fixtures/zab`) and
//! generated ones with a SNAP body of many megabytes.
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::tests::{messages, BUFFER_MAX};
use super::*;
use crate::protocol::{perms, Acl};

/// Largest piece a split hands the decoder.
const PIECE_BYTES_MAX: usize = 1 << 20;

/// Random piece sizes: 2^k for k uniform in 0..=20, then uniform below it.
fn pieces(seed: u64, total: usize) -> Vec<usize> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut sizes = Vec::new();
    let mut left = total;
    while left > 0 {
        let scale = 1usize << rng.gen_range(0..=20u32);
        let size = rng.gen_range(1..=scale.min(PIECE_BYTES_MAX)).min(left);
        sizes.push(size);
        left -= size;
    }
    sizes
}

/// Feeds `stream` to a quorum decoder as `sizes` pieces arrive, keeping the
/// unconsumed tail as a socket reader does; every item in order.
fn quorum_items(stream: &[u8], sizes: &[usize]) -> Result<Vec<QuorumItem>, StreamError> {
    let mut decoder = QuorumStream::new(BUFFER_MAX, true);
    let mut items = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut at = 0;
    for &size in sizes {
        buf.extend_from_slice(&stream[at..at + size]);
        at += size;
        loop {
            let used = decoder.feed(&buf, &mut |item| {
                items.push(item);
                Ok(())
            })?;
            buf.drain(..used);
            // `feed` returns after a SNAP body's end: feed the rest too.
            if used == 0 || !matches!(items.last(), Some(QuorumItem::SnapEnd)) {
                break;
            }
        }
    }
    assert_eq!(decoder.offset() as usize + buf.len(), stream.len());
    assert!(buf.is_empty(), "{} bytes left undecoded", buf.len());
    Ok(items)
}

fn election_items(stream: &[u8], sizes: &[usize]) -> Vec<ElectionItem> {
    let mut decoder = ElectionStream::new(true);
    let mut items = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut at = 0;
    for &size in sizes {
        buf.extend_from_slice(&stream[at..at + size]);
        at += size;
        let used = decoder
            .feed(&buf, &mut |item| {
                items.push(item);
                true
            })
            .expect("a good election stream decodes");
        buf.drain(..used);
    }
    assert!(buf.is_empty(), "{} bytes left undecoded", buf.len());
    items
}

/// A leader's side of a sync by SNAP, as ZooKeeper 3.8 sent it (recorded):
/// LEADERINFO, SNAP + body, NEWLEADER, UPTODATE, PROPOSAL/COMMIT, PING, …
fn recorded_leader_stream() -> Vec<u8> {
    messages("snap")
        .into_iter()
        .filter(|(name, _)| name.contains("-q-from-leader-"))
        .flat_map(|(_, bytes)| bytes)
        .collect()
}

/// An accepted election connection from ZooKeeper: its header, then its
/// notifications (recorded).
fn recorded_election_stream() -> Vec<u8> {
    let all = messages("snap");
    let mut stream = Vec::new();
    for (name, bytes) in &all {
        if name.contains("election-header-from-1") || name.contains("notification-from-1") {
            stream.extend_from_slice(bytes);
        }
    }
    stream
}

fn acl_digest(id: &str) -> Acl {
    Acl {
        perms: perms::ALL,
        id: crate::protocol::Id {
            scheme: "digest".into(),
            id: id.into(),
        },
    }
}

/// A tree of `count` nodes under one parent, with values from 0 bytes to
/// `value_bytes_max`, so records straddle every kind of boundary.
fn generated_tree(seed: u64, count: usize, value_bytes_max: usize) -> SnapTree {
    let mut rng = StdRng::seed_from_u64(seed);
    let stat = |zxid: i64| StatPersisted {
        czxid: zxid,
        mzxid: zxid,
        ctime: 1_700_000_000_000 + zxid,
        mtime: 1_700_000_000_000 + zxid,
        version: 0,
        cversion: 0,
        aversion: 0,
        ephemeral_owner: 0,
        pzxid: zxid,
    };
    let mut nodes = vec![
        SnapNode {
            path: String::new(),
            data: Some(Bytes::new()),
            acl_index: -1,
            stat: stat(0),
        },
        SnapNode {
            path: "/load".into(),
            data: None,
            acl_index: 1,
            stat: stat(1),
        },
    ];
    for i in 0..count {
        let length = rng.gen_range(0..=value_bytes_max);
        let value: Vec<u8> = (0..length).map(|_| rng.gen()).collect();
        nodes.push(SnapNode {
            path: format!("/load/n{i:08}"),
            data: Some(value.into()),
            acl_index: if i % 3 == 0 { 2 } else { -1 },
            stat: stat(i as i64 + 2),
        });
    }
    SnapTree {
        sessions: (0..50).map(|i| (0x100 + i, 30_000)).collect(),
        acls: vec![
            (1, vec![Acl::open_unsafe()[0].clone()]),
            (2, vec![acl_digest("bob:hash"), acl_digest("alice:hash")]),
        ],
        nodes,
    }
}

/// A learner's incoming stream: LEADERINFO, SNAP with its body, then a
/// burst of proposals and commits, NEWLEADER and UPTODATE.
fn generated_leader_stream(tree: &SnapTree) -> Vec<u8> {
    let mut stream = Vec::new();
    QuorumPacket::with_data(PacketType::LeaderInfo, 1 << 32, vec![0, 1, 0, 0]).encode(&mut stream);
    QuorumPacket::bare(PacketType::Snap, (1 << 32) + 7).encode(&mut stream);
    tree.encode(&mut stream);
    for zxid in 8..40i64 {
        let payload = vec![zxid as u8; (zxid as usize * 997) % 5000];
        QuorumPacket::with_data(PacketType::Proposal, (1 << 32) + zxid, payload)
            .encode(&mut stream);
        QuorumPacket::bare(PacketType::Commit, (1 << 32) + zxid).encode(&mut stream);
    }
    QuorumPacket::bare(PacketType::NewLeader, 1 << 32).encode(&mut stream);
    QuorumPacket::bare(PacketType::UpToDate, -1).encode(&mut stream);
    stream
}

/// The records the items describe, as a tree (for comparison).
fn tree_of(items: &[QuorumItem]) -> SnapTree {
    let mut tree = SnapTree {
        sessions: Vec::new(),
        acls: Vec::new(),
        nodes: Vec::new(),
    };
    for item in items {
        match item {
            QuorumItem::Snap(SnapItem::Session { id, timeout_ms }) => {
                tree.sessions.push((*id, *timeout_ms))
            }
            QuorumItem::Snap(SnapItem::Acl { index, acl }) => tree.acls.push((*index, acl.clone())),
            QuorumItem::Snap(SnapItem::Node(node)) => tree.nodes.push(node.clone()),
            _ => {}
        }
    }
    tree
}

#[test]
fn recorded_zookeeper_sync_by_snap_decodes_the_same_at_every_split_point() {
    let stream = recorded_leader_stream();
    let whole = quorum_items(&stream, &[stream.len()]).unwrap();
    assert!(whole.contains(&QuorumItem::SnapEnd));
    assert_eq!(tree_of(&whole).nodes.len(), 6, "the recording's six nodes");
    for split in 1..stream.len() {
        let items = quorum_items(&stream, &[split, stream.len() - split]).unwrap();
        assert_eq!(items, whole, "split at {split}");
    }
    // And one byte at a time.
    assert_eq!(
        quorum_items(&stream, &vec![1; stream.len()]).unwrap(),
        whole
    );
}

#[test]
fn a_multi_megabyte_snap_decodes_the_same_in_any_pieces() {
    // About 6 MiB of body: the sizes of the defect (32/64 KiB, 8 KiB) and
    // far beyond, with values up to 100 KiB so a record spans many reads.
    let tree = generated_tree(7, 1200, 10_000);
    let mut big = generated_tree(8, 40, 100_000);
    big.nodes.retain(|n| n.path.starts_with("/load/"));
    let mut tree = tree;
    for (i, mut node) in big.nodes.into_iter().enumerate() {
        node.path = format!("/load/big{i}");
        tree.nodes.push(node);
    }
    let stream = generated_leader_stream(&tree);
    assert!(stream.len() > 4 << 20, "{} bytes", stream.len());
    let whole = quorum_items(&stream, &[stream.len()]).unwrap();
    assert_eq!(tree_of(&whole), tree);
    let packets = whole
        .iter()
        .filter(|i| matches!(i, QuorumItem::Packet(_)))
        .count();
    assert_eq!(packets, 2 + 64 + 2);
    for seed in 0..8 {
        let items = quorum_items(&stream, &pieces(seed, stream.len())).unwrap();
        assert!(items == whole, "seed {seed}: items differ");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn generated_streams_decode_the_same_in_any_pieces(
        tree_seed in any::<u64>(),
        split_seed in any::<u64>(),
        count in 0usize..300,
        value_bytes_max in 0usize..3000,
    ) {
        let tree = generated_tree(tree_seed, count, value_bytes_max);
        let stream = generated_leader_stream(&tree);
        let whole = quorum_items(&stream, &[stream.len()]).unwrap();
        prop_assert_eq!(tree_of(&whole), tree);
        let items = quorum_items(&stream, &pieces(split_seed, stream.len())).unwrap();
        prop_assert!(items == whole);
    }

    #[test]
    fn recorded_streams_decode_the_same_in_any_pieces(split_seed in any::<u64>()) {
        let stream = recorded_leader_stream();
        let whole = quorum_items(&stream, &[stream.len()]).unwrap();
        let mut rng = StdRng::seed_from_u64(split_seed);
        // Small pieces here: the recording is under 2 KiB.
        let mut sizes = Vec::new();
        let mut left = stream.len();
        while left > 0 {
            let size = rng.gen_range(1..=64usize).min(left);
            sizes.push(size);
            left -= size;
        }
        prop_assert!(quorum_items(&stream, &sizes).unwrap() == whole);

        let election = recorded_election_stream();
        let whole = election_items(&election, &[election.len()]);
        prop_assert!(matches!(whole[0], ElectionItem::Header(_)));
        prop_assert!(whole[1..].iter().all(|i| matches!(i, ElectionItem::Notification(Ok(_)))));
        prop_assert!(whole.len() >= 3);
        let mut sizes = Vec::new();
        let mut left = election.len();
        while left > 0 {
            let size = rng.gen_range(1..=64usize).min(left);
            sizes.push(size);
            left -= size;
        }
        prop_assert_eq!(election_items(&election, &sizes), whole);
    }
}

#[test]
fn an_election_stream_decodes_the_same_at_every_split_point() {
    let stream = recorded_election_stream();
    let whole = election_items(&stream, &[stream.len()]);
    for split in 1..stream.len() {
        assert_eq!(
            election_items(&stream, &[split, stream.len() - split]),
            whole,
            "split at {split}"
        );
    }
}

#[test]
fn errors_name_the_record_and_its_offset() {
    // A node whose data claims more than the record limit.
    let mut stream = Vec::new();
    QuorumPacket::bare(PacketType::Snap, 5).encode(&mut stream);
    let snap_at = stream.len();
    SnapEncoder::header(&[], &[], &mut stream);
    stream.extend_from_slice(&[0, 0, 0, 0]); // root path ""
    stream.extend_from_slice(&i32::MAX.to_be_bytes()); // its data length
    let error = quorum_items(&stream, &[stream.len()]).unwrap_err();
    assert_eq!(error.what, "SNAP body of 0x5");
    let text = error.to_string();
    assert!(text.contains("node data at offset 12"), "{text}");
    // The stream offset is the failing record's: the root's, after the
    // body's two counts.
    assert_eq!(error.offset, snap_at as u64 + 8, "{text}");

    // A bad signature.
    let mut stream = Vec::new();
    QuorumPacket::bare(PacketType::Snap, 5).encode(&mut stream);
    let mut tree = Vec::new();
    generated_tree(1, 3, 10).encode(&mut tree);
    let signature_at = tree.len() - SNAP_SIGNATURE.len();
    tree[signature_at] = b'X';
    stream.extend_from_slice(&tree);
    let error = quorum_items(&stream, &[stream.len()]).unwrap_err();
    assert!(error.to_string().contains("signature"), "{error}");

    // A packet with a hostile data length, after a good one.
    let mut stream = Vec::new();
    QuorumPacket::bare(PacketType::Ping, 1).encode(&mut stream);
    let bad_at = stream.len();
    stream.extend_from_slice(&(PacketType::Proposal as i32).to_be_bytes());
    stream.extend_from_slice(&7i64.to_be_bytes());
    stream.extend_from_slice(&(-7i32).to_be_bytes());
    let error = quorum_items(&stream, &[stream.len()]).unwrap_err();
    assert_eq!(
        (error.what.as_str(), error.offset),
        ("quorum packet", bad_at as u64)
    );
}

#[test]
fn a_truncated_stream_waits_instead_of_failing() {
    let stream = generated_leader_stream(&generated_tree(3, 200, 2000));
    for cut in (0..stream.len()).step_by(97) {
        let mut decoder = QuorumStream::new(BUFFER_MAX, true);
        let mut buf = stream[..cut].to_vec();
        let mut ended = false;
        loop {
            let used = decoder
                .feed(&buf, &mut |item| {
                    ended |= item == QuorumItem::SnapEnd;
                    Ok(())
                })
                .unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
            buf.drain(..used);
            if used == 0 || !ended {
                break;
            }
            ended = false;
        }
        assert!(
            decoder.offset() as usize <= cut,
            "cut at {cut}: read past the bytes given"
        );
    }
}
