//! The peer records against ZooKeeper 3.8's own bytes
//! (`tests/fixtures/zab/zk-3.8.0/{snap,diff,trunc}`): every recorded message
//! decodes, says what the recording's note says, and encodes back to the
//! same bytes.
use std::path::{Path, PathBuf};

use super::*;
use crate::protocol::{perms, Acl};
use crate::txn::{CreateKind, TxnBody};

pub(super) const BUFFER_MAX: usize = 2 * 0xfffff;

fn fixture_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/zab/zk-3.8.0")
        .join(kind)
}

/// (file name, bytes) of every recorded message, in recording order.
pub(super) fn messages(kind: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fixture_dir(kind);
    let index = std::fs::read_to_string(dir.join("README.txt")).unwrap();
    index
        .lines()
        .map(|line| {
            let name = line.split('\t').next().unwrap().to_string();
            let hex = std::fs::read_to_string(dir.join(&name)).unwrap();
            (name, decode_hex(hex.trim()))
        })
        .collect()
}

fn decode_hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn one_packet(bytes: &[u8]) -> QuorumPacket {
    let length = quorum_packet_bytes(bytes, BUFFER_MAX).unwrap().unwrap();
    assert_eq!(length, bytes.len(), "one packet, nothing after it");
    let packet = QuorumPacket::decode(bytes).unwrap();
    let mut again = Vec::new();
    packet.encode(&mut again);
    assert_eq!(again, bytes, "packet re-encodes to ZooKeeper's bytes");
    packet
}

fn find<'a>(all: &'a [(String, Vec<u8>)], part: &str) -> Vec<&'a [u8]> {
    all.iter()
        .filter(|(name, _)| name.contains(part))
        .map(|(_, bytes)| bytes.as_slice())
        .collect()
}

#[test]
fn every_recorded_message_round_trips() {
    for kind in ["snap", "diff", "trunc"] {
        for (name, bytes) in messages(kind) {
            if name.contains("election-header") {
                let needed = ElectionHeader::bytes_needed(&bytes).unwrap();
                assert_eq!(needed, Some(bytes.len()), "{kind}/{name}");
                let header = ElectionHeader::decode(&bytes).unwrap();
                let mut again = Vec::new();
                header.encode(&mut again);
                assert_eq!(again, bytes, "{kind}/{name}");
            } else if name.contains("notification") {
                let length = election_frame_bytes(&bytes).unwrap().unwrap();
                assert_eq!(length, bytes.len(), "{kind}/{name}");
                let notification = Notification::decode(&bytes[4..]).unwrap();
                let mut again = Vec::new();
                notification.encode_frame(&mut again);
                assert_eq!(again, bytes, "{kind}/{name}");
            } else if name.contains("-SNAP") {
                let length = quorum_packet_bytes(&bytes, BUFFER_MAX).unwrap().unwrap();
                let packet = QuorumPacket::decode(&bytes[..length]).unwrap();
                assert_eq!(packet.packet_type(), Some(PacketType::Snap));
                let mut r = Reader::new(&bytes[length..]);
                let tree = SnapTree::decode(&mut r).unwrap();
                assert!(r.is_empty(), "{kind}/{name}: nothing after the signature");
                let mut again = Vec::new();
                packet.encode(&mut again);
                tree.encode(&mut again);
                assert_eq!(again, bytes, "{kind}/{name}");
            } else {
                let packet = one_packet(&bytes);
                assert!(packet.packet_type().is_some(), "{kind}/{name}");
            }
        }
    }
}

#[test]
fn election_headers_and_notifications_say_what_zookeeper_sent() {
    let all = messages("diff");
    let header = ElectionHeader::decode(find(&all, "election-header-from-2")[0]).unwrap();
    assert_eq!(header.protocol_version, Some(PROTOCOL_VERSION_V1));
    assert_eq!(header.sid, 2);
    assert_eq!(header.addresses.len(), 1);
    assert!(header.addresses[0].starts_with("127.0.0.1:"));

    let looking = find(&all, "notification-from-1-looking")[0];
    let looking = Notification::decode(&looking[4..]).unwrap();
    assert_eq!(looking.state, PeerState::Looking);
    assert_eq!(looking.version, NOTIFICATION_VERSION);
    let config = QuorumVerifierText::parse(looking.config.as_deref().unwrap()).unwrap();
    assert_eq!(config.version, 0, "a static config has version 0");
    assert_eq!(
        config.members.iter().map(|m| m.sid).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(config.members[0].value.ends_with(":participant"));
    assert_eq!(config.render(), looking.config.clone().unwrap());

    let leading = find(&all, "notification-from-2-settled")[0];
    let leading = Notification::decode(&leading[4..]).unwrap();
    assert_eq!(leading.state, PeerState::Leading);
    assert_eq!(leading.leader, 2);
    assert_eq!(leading.peer_epoch, 1, "the vote carries the new epoch");
    let following = find(&all, "notification-from-1-settled")[0];
    let following = Notification::decode(&following[4..]).unwrap();
    assert_eq!(following.state, PeerState::Following);
    assert_eq!(following.leader, 2);
}

#[test]
fn discovery_and_sync_packets_say_what_zookeeper_sent() {
    for kind in ["snap", "diff", "trunc"] {
        let all = messages(kind);
        let info = one_packet(find(&all, "FOLLOWERINFO")[0]);
        let learner = LearnerInfo::decode(info.data.as_ref().unwrap()).unwrap();
        assert_eq!(
            learner,
            LearnerInfo {
                server_id: 3,
                protocol_version: LEARNER_PROTOCOL_VERSION,
                config_version: 0
            }
        );
        let leader_info = one_packet(find(&all, "LEADERINFO")[0]);
        assert_eq!(leader_info.zxid, 1 << 32, "{kind}: new epoch 1");
        assert_eq!(
            leader_info.data.as_deref(),
            Some(&LEARNER_PROTOCOL_VERSION.to_be_bytes()[..])
        );
        let new_leader = one_packet(find(&all, "NEWLEADER")[0]);
        assert_eq!(new_leader.zxid, 1 << 32);
        let text = std::str::from_utf8(new_leader.data.as_ref().unwrap()).unwrap();
        let verifier = QuorumVerifierText::parse(text).unwrap();
        // ZAB-WIRE-FACTS.md §6 expects the NEWLEADER zxid as the version
        // here; Debian's 3.8.0 leader sends version 0 (reconfig disabled).
        assert_eq!(verifier.version, 0, "{kind}: NEWLEADER's config version");
        assert_eq!(verifier.members.len(), 3);
        let up_to_date = one_packet(find(&all, "UPTODATE")[0]);
        assert_eq!(up_to_date.zxid, -1);
        assert_eq!(up_to_date.data, None);
    }
    let diff = messages("diff");
    let sync = one_packet(find(&diff, "-DIFF")[0]);
    assert_eq!(sync.packet_type(), Some(PacketType::Diff));
    let trunc = messages("trunc");
    let sync = one_packet(find(&trunc, "-TRUNC")[0]);
    assert_eq!(sync.packet_type(), Some(PacketType::Trunc));
    assert!(sync.zxid < one_packet(find(&trunc, "ACKEPOCH")[0]).zxid);

    let snap = messages("snap");
    let bytes = find(&snap, "-SNAP")[0];
    let length = quorum_packet_bytes(bytes, BUFFER_MAX).unwrap().unwrap();
    let tree = SnapTree::decode(&mut Reader::new(&bytes[length..])).unwrap();
    let paths: Vec<&str> = tree.nodes.iter().map(|n| n.path.as_str()).collect();
    assert_eq!(paths[0], "", "the root is written as the empty path");
    for expected in [
        "/zookeeper",
        "/zookeeper/config",
        "/zookeeper/quota",
        "/before",
    ] {
        assert!(paths.contains(&expected), "{expected} in {paths:?}");
    }
    assert_eq!(tree.sessions.len(), 1, "the ephemeral owner's session");
}

#[test]
fn proposals_decode_into_paddocks_txns() {
    let all = messages("diff");
    let mut creates = 0;
    let mut sessions = 0;
    for bytes in find(&all, "q-from-leader-PROPOSAL") {
        let packet = one_packet(bytes);
        let data = packet.data.unwrap();
        let (txn, digest) = decode_txn_payload(&data).unwrap();
        assert_eq!(txn.zxid, packet.zxid, "the header's zxid is the packet's");
        let digest = digest.expect("ZooKeeper 3.8 appends a digest by default");
        assert_eq!(digest.version, DIGEST_VERSION);
        let mut again = Vec::new();
        encode_txn_payload(&txn, Some(digest), &mut again);
        assert_eq!(again, data.as_ref());
        match &txn.body {
            TxnBody::Create {
                path,
                data,
                acl,
                kind,
                ..
            } if &**path == "/live" => {
                creates += 1;
                assert_eq!(&data[..], b"live");
                assert_eq!(kind, &CreateKind::Persistent);
                assert_eq!(
                    acl,
                    &vec![Acl {
                        perms: perms::ALL,
                        id: crate::protocol::Id::new("world", "anyone")
                    }]
                );
            }
            TxnBody::CreateSession { timeout_ms } if txn.session_id == 0x0300_0000_0000_0001 => {
                sessions += 1;
                assert_eq!(*timeout_ms, 30000, "the forwarded createSession's timeout");
            }
            _ => {}
        }
    }
    assert_eq!((creates, sessions), (1, 1));

    let request = one_packet(find(&all, "REQUEST-createSession")[0]);
    assert_eq!(request.zxid, -1);
    let forwarded = ForwardedRequest::decode(request.data.as_ref().unwrap()).unwrap();
    assert_eq!(forwarded.session_id, 0x0300_0000_0000_0001);
    assert_eq!(forwarded.op_code, crate::protocol::op::CREATE_SESSION);
    assert_eq!(&forwarded.body[..], &30000i32.to_be_bytes());

    let reply = one_packet(find(&all, "q-from-leader-REVALIDATE")[0]);
    let (session, valid) = decode_revalidate_reply(reply.data.as_ref().unwrap()).unwrap();
    assert_eq!((session, valid), (0x0300_0000_0000_0001, true));
    let ping = one_packet(find(&all, "q-to-leader-PING")[0]);
    assert_eq!(
        ping.data.as_deref(),
        Some(&[][..]),
        "empty, not null, touch table"
    );
    assert!(decode_touches(&[]).unwrap().is_empty());
}

#[test]
fn partial_and_hostile_quorum_bytes() {
    let mut bytes = Vec::new();
    QuorumPacket::with_data(PacketType::Proposal, 7, vec![1u8, 2, 3]).encode(&mut bytes);
    for cut in 0..bytes.len() {
        assert_eq!(
            quorum_packet_bytes(&bytes[..cut], BUFFER_MAX).unwrap(),
            None,
            "{cut} bytes are not a whole packet"
        );
    }
    assert_eq!(
        quorum_packet_bytes(&bytes, BUFFER_MAX).unwrap(),
        Some(bytes.len())
    );
    let mut hostile = Vec::new();
    hostile.write_i32(2);
    hostile.write_i64(7);
    hostile.write_i32(i32::MAX);
    assert!(matches!(
        quorum_packet_bytes(&hostile, BUFFER_MAX),
        Err(WireError::TooLong { .. })
    ));
    let mut negative = Vec::new();
    negative.write_i32(2);
    negative.write_i64(7);
    negative.write_i32(-7);
    assert!(quorum_packet_bytes(&negative, BUFFER_MAX).is_err());
    assert!(election_frame_bytes(&0i32.to_be_bytes()).is_err());
    assert!(election_frame_bytes(&(600 * 1024i32).to_be_bytes()).is_err());
    assert!(Notification::decode(&[0u8; 12]).is_err());
    assert!(decode_touches(&[0u8; 13]).is_err());
}

#[test]
fn legacy_notification_forms_are_read_as_zookeeper_reads_them() {
    let mut payload = Vec::new();
    payload.write_i32(0);
    payload.write_i64(3);
    payload.write_i64(0x0000_0002_0000_0010);
    payload.write_i64(5);
    let old = Notification::decode(&payload).unwrap();
    assert_eq!(old.peer_epoch, 2, "28 bytes: the epoch comes from the zxid");
    assert_eq!(old.version, 0);
    payload.write_i64(4);
    let forty = Notification::decode(&payload).unwrap();
    assert_eq!(forty.peer_epoch, 4);
    assert_eq!(forty.config, None);
}

#[test]
fn snapshot_reader_refuses_a_child_before_its_parent() {
    let stat = StatPersisted {
        czxid: 1,
        mzxid: 1,
        ctime: 0,
        mtime: 0,
        version: 0,
        cversion: 0,
        aversion: 0,
        ephemeral_owner: 0,
        pzxid: 1,
    };
    let node = |path: &str| SnapNode {
        path: path.to_string(),
        data: None,
        acl_index: -1,
        stat,
    };
    let tree = SnapTree {
        sessions: vec![],
        acls: vec![],
        nodes: vec![node(""), node("/a/b"), node("/a")],
    };
    let mut bytes = Vec::new();
    tree.encode(&mut bytes);
    assert!(SnapTree::decode(&mut Reader::new(&bytes)).is_err());
    let good = SnapTree {
        nodes: vec![node(""), node("/a"), node("/a/b")],
        ..tree
    };
    let mut bytes = Vec::new();
    good.encode(&mut bytes);
    assert_eq!(SnapTree::decode(&mut Reader::new(&bytes)).unwrap(), good);
}
