//! The fuzz harnesses, one function per decoder that reads bytes from
//! outside the process. Each `fuzz_targets/<name>.rs` is a one-line call into
//! here, so the harnesses are plain functions that a regression test (or a
//! debugger) can call with a crash input.
//!
//! Every harness drives the same library entry point the server uses and
//! adds an oracle beyond "did not panic": a decoded record must re-encode to
//! something that decodes to the same record, a log record handed back by
//! recovery must carry a CRC that checks, and so on.
#![deny(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use paddock::auth::jaas;
use paddock::auth::sasl::{DigestMd5Server, SaslError, ZK_SASL_REALM, ZK_SASL_SERVICE};
use paddock::data_tree::DataTree;
use paddock::protocol::{
    decode_request, four_letter_word, frame_length, write_connect_request, write_request,
    ConnectRequest, DecodeError, FrameError, JUTE_MAXBUFFER_DEFAULT_BYTES, LENGTH_PREFIX_BYTES,
};
use paddock::storage::{self, LogConfig, TxnLog};
use paddock::txn::Txn;

/// The frame limit the server applies by default (`jute.maxbuffer`).
pub const MAX_FRAME_BYTES: usize = JUTE_MAXBUFFER_DEFAULT_BYTES;

/// Frames a stream can hold at most in a fuzz input: each takes 4 bytes.
fn frames_bound(stream: &[u8]) -> usize {
    stream.len() / LENGTH_PREFIX_BYTES + 1
}

/// A scratch directory for the file-backed harnesses, in RAM when possible
/// (recovery syncs; on tmpfs that costs nothing).
pub fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let made = if shm.is_dir() {
        tempfile::Builder::new()
            .prefix("paddock-fuzz")
            .tempdir_in(shm)
    } else {
        tempfile::tempdir()
    };
    made.expect("a scratch directory")
}

/// Checks that a decoded ConnectRequest re-encodes to one that decodes equal.
fn connect_round_trip(request: &ConnectRequest, payload: &[u8]) {
    let mut frame = Vec::new();
    write_connect_request(&mut frame, request);
    let again = ConnectRequest::decode(&frame[LENGTH_PREFIX_BYTES..])
        .expect("a ConnectRequest we encoded decodes");
    assert_eq!(&again, request, "ConnectRequest round trip");
    // The re-encoding always carries the readOnly byte; the input may lack it.
    let body_bytes = frame.len() - LENGTH_PREFIX_BYTES;
    assert!(
        body_bytes <= payload.len() + 1,
        "ConnectRequest of {} bytes re-encoded to {body_bytes}",
        payload.len()
    );
}

/// The first bytes of a client connection, as the server's read loop sees
/// them: a four-letter word, or a length-checked ConnectRequest frame.
pub fn connect_handshake(stream: &[u8]) {
    if let Some(word) = stream.get(..4).and_then(four_letter_word) {
        // A four-letter word must never pass for a frame length.
        assert!(
            matches!(
                frame_length(stream, MAX_FRAME_BYTES),
                Err(FrameError::TooLarge { .. })
            ),
            "four-letter word {word} reads as a sane frame length"
        );
        return;
    }
    let Ok(Some(length)) = frame_length(stream, MAX_FRAME_BYTES) else {
        return;
    };
    let payload = &stream[LENGTH_PREFIX_BYTES..LENGTH_PREFIX_BYTES + length];
    if let Ok(request) = ConnectRequest::decode(payload) {
        connect_round_trip(&request, payload);
    }
    // The bare decoder on the whole input too (no framing to get past).
    if let Ok(request) = ConnectRequest::decode(stream) {
        connect_round_trip(&request, stream);
    }
}

/// A whole client byte stream: the handshake, then request frames, each
/// decoded by [`decode_request`] (header + record) as the server does.
pub fn client_frames(stream: &[u8]) {
    let mut start = 0;
    let mut handshake = true;
    for _ in 0..frames_bound(stream) {
        let available = &stream[start..];
        if handshake && available.len() >= 4 && four_letter_word(&available[..4]).is_some() {
            return;
        }
        let length = match frame_length(available, MAX_FRAME_BYTES) {
            Ok(Some(length)) => length,
            Ok(None) | Err(_) => return,
        };
        let payload = &available[LENGTH_PREFIX_BYTES..LENGTH_PREFIX_BYTES + length];
        start += LENGTH_PREFIX_BYTES + length;
        if handshake {
            match ConnectRequest::decode(payload) {
                Ok(request) => connect_round_trip(&request, payload),
                Err(_) => return,
            }
            handshake = false;
            continue;
        }
        match decode_request(payload) {
            Ok((header, request)) => {
                let mut frame = Vec::new();
                write_request(&mut frame, header.xid, &request);
                let encoded = &frame[LENGTH_PREFIX_BYTES..];
                // encode(decode(bytes)) has the length of the bytes decoded
                // (trailing bytes are ignored, as ZooKeeper does).
                assert!(
                    encoded.len() <= payload.len(),
                    "request {request:?} re-encoded to {} bytes from {}",
                    encoded.len(),
                    payload.len()
                );
                let (header_again, again) =
                    decode_request(encoded).expect("a request we encoded decodes");
                assert_eq!(header_again, header, "request header round trip");
                assert_eq!(again, request, "request round trip");
            }
            // As the server: an unknown op closes the connection.
            Err(DecodeError::UnknownOp(_)) => return,
            Err(_) => {}
        }
    }
}

/// The user every SASL harness knows, and the fixed nonce of its challenge.
pub const SASL_USER: &str = "bob";
pub const SASL_PASSWORD: &str = "bobsecret";
pub const SASL_NONCE: &str = "OA6MG9tEQGm2hh";

pub fn sasl_server() -> DigestMd5Server {
    let users: HashMap<String, String> = [(SASL_USER.to_string(), SASL_PASSWORD.to_string())]
        .into_iter()
        .collect();
    DigestMd5Server::with_nonce(
        Arc::new(users),
        ZK_SASL_REALM,
        ZK_SASL_SERVICE,
        ZK_SASL_REALM,
        SASL_NONCE,
    )
}

/// SetSASL tokens of one connection, separated by NUL bytes (which DIGEST-MD5
/// text never holds), fed to the server as the connection does: an empty
/// token asks for the challenge, anything else is a step.
pub fn sasl_digest(input: &[u8]) {
    let mut server = sasl_server();
    for token in input.split(|b| *b == 0) {
        let result = if token.is_empty() {
            Ok((server.start(), None))
        } else {
            server
                .step(token)
                .map(|step| (step.response, step.authenticated))
        };
        match result {
            Ok((response, authenticated)) => {
                assert!(!response.is_empty(), "a SASL step answered nothing");
                if let Some(user) = authenticated {
                    assert_eq!(
                        user, SASL_USER,
                        "authenticated as a user that does not exist"
                    );
                    assert!(server.is_complete());
                    assert!(
                        response.starts_with(b"rspauth="),
                        "completion without rspauth"
                    );
                    assert_eq!(server.step(b"x"), Err(SaslError::AlreadyComplete));
                }
            }
            // The connection replies AuthFailed and closes.
            Err(_) => return,
        }
    }
}

/// A JAAS file's text (the server parses the file that
/// `-Djava.security.auth.login.config` or `jaasLoginConfig` names).
pub fn jaas(input: &[u8]) {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let lines = text.split('\n').count();
    match jaas::parse_str(text, Path::new("fuzz.jaas")) {
        Ok(parsed) => {
            for name in parsed.section_names() {
                assert!(parsed.section(name).is_some());
                let _ = parsed.users(name);
            }
            let _ = parsed.server_users();
        }
        Err(e) => {
            assert!(
                e.line <= lines,
                "error line {} past the {lines} lines of the text",
                e.line
            );
            assert!(!e.message.is_empty());
        }
    }
}

/// zoo.cfg: the properties parser on the text, and the whole loader on the
/// bytes written to a file.
pub fn zoo_cfg(input: &[u8]) {
    if let Ok(text) = std::str::from_utf8(input) {
        let lines = text.lines().count();
        let mut previous_line = 0;
        for property in paddock::config::parse_properties(text) {
            assert!(property.line >= 1 && property.line <= lines.max(1));
            assert!(property.line > previous_line, "property lines go back");
            previous_line = property.line;
        }
    }
    let dir = scratch_dir();
    let path = dir.path().join("zoo.cfg");
    std::fs::write(&path, input).expect("write zoo.cfg");
    let _ = paddock::config::load_with_jvm_flags(Some(&path), None, None);
}

/// The log segment grammar's magic: the harness splits its input into
/// segment files at each occurrence.
const SEGMENT_MAGIC: &[u8; 4] = b"PDLG";

fn record_crc(len: u32, zxid: i64, payload: &[u8]) -> u32 {
    let crc = crc32c::crc32c(&len.to_le_bytes());
    let crc = crc32c::crc32c_append(crc, &zxid.to_le_bytes());
    crc32c::crc32c_append(crc, payload)
}

/// True if `haystack` holds `needle` somewhere.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// Splits the input into segment files (at each "PDLG"), names each after
/// the zxid its first record claims, recovers the log, reads every record
/// back and checks each against a CRC computed here over the input bytes.
/// Then appends one record and recovers again: a recovered log must be a
/// clean log.
pub fn txn_log_recovery(input: &[u8]) {
    let dir = scratch_dir();
    let mut starts: Vec<usize> = input
        .windows(SEGMENT_MAGIC.len())
        .enumerate()
        .filter(|(_, w)| *w == SEGMENT_MAGIC)
        .map(|(i, _)| i)
        .collect();
    if starts.first() != Some(&0) {
        starts.insert(0, 0);
    }
    starts.truncate(4);
    for (index, &start) in starts.iter().enumerate() {
        let end = starts.get(index + 1).copied().unwrap_or(input.len());
        let bytes = &input[start..end];
        let named_zxid = bytes
            .get(24..32)
            .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
            .filter(|z| *z >= 0)
            .unwrap_or(index as i64 + 1);
        let path = dir.path().join(format!("log.{named_zxid:016x}"));
        if !path.exists() {
            std::fs::write(&path, bytes).expect("write segment");
        }
    }
    let config = LogConfig {
        dir: dir.path().to_path_buf(),
        preallocate_bytes: 4096,
        segment_bytes_max: 64 * 1024,
    };
    let (mut log, recovery) = TxnLog::open(config.clone()).expect("recovery of arbitrary bytes");
    let mut count = 0u64;
    let mut previous = 0i64;
    for record in log.read_after(i64::MIN).expect("reader") {
        let (zxid, payload) = record.expect("a record recovery accepted reads back");
        assert!(zxid > previous, "zxids must increase");
        previous = zxid;
        let len = u32::try_from(payload.len() + 8).expect("record length");
        let crc = record_crc(len, zxid, &payload);
        let mut record_bytes = Vec::with_capacity(16 + payload.len());
        record_bytes.extend_from_slice(&len.to_le_bytes());
        record_bytes.extend_from_slice(&crc.to_le_bytes());
        record_bytes.extend_from_slice(&zxid.to_le_bytes());
        record_bytes.extend_from_slice(&payload);
        assert!(
            contains(input, &record_bytes),
            "recovery returned zxid {zxid:#x} whose CRC-checked bytes are not in the input"
        );
        count += 1;
    }
    assert_eq!(count, recovery.records, "records read vs recovered");
    assert_eq!(previous.max(0), recovery.last_zxid.max(0));
    if recovery.last_zxid == i64::MAX {
        return;
    }
    let next = recovery.last_zxid.max(0) + 1;
    log.append(next, b"after recovery").expect("append");
    log.flush().expect("flush");
    drop(log);
    let (_, again) = TxnLog::open(config).expect("second recovery");
    assert_eq!(again.truncated, None, "a recovered log needed a second cut");
    assert_eq!(again.records, recovery.records + 1);
    assert_eq!(again.last_zxid, next);
}

/// Checks that a tree that decoded serializes to bytes that decode to a
/// tree which serializes the same way.
fn tree_round_trip(tree: &DataTree) {
    let mut first = Vec::new();
    tree.serialize(&mut first);
    let again = DataTree::deserialize(&first).expect("a serialized tree deserializes");
    let mut second = Vec::new();
    again.serialize(&mut second);
    assert!(first == second, "snapshot round trip changed the bytes");
}

/// The snapshot body decoder on the raw input, and the snapshot file reader
/// (then the body decoder, as recovery does) on the input written as a file.
pub fn snapshot(input: &[u8]) {
    if let Ok(tree) = DataTree::deserialize(input) {
        tree_round_trip(&tree);
    }
    let dir = scratch_dir();
    let zxid = input
        .get(8..16)
        .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
        .filter(|z| *z >= 0)
        .unwrap_or(1);
    let path = dir.path().join(storage::snapshot_name(zxid));
    std::fs::write(&path, input).expect("write snapshot");
    match storage::latest_snapshot(dir.path()) {
        Ok(Some((found_zxid, body))) => {
            assert_eq!(found_zxid, zxid);
            let crc_at = input.len() - 4;
            let stored = u32::from_le_bytes(input[crc_at..].try_into().expect("4 bytes"));
            assert_eq!(
                crc32c::crc32c(&input[..crc_at]),
                stored,
                "CRC did not check"
            );
            assert_eq!(&input[24..crc_at], &body[..]);
            if let Ok(tree) = DataTree::deserialize(&body) {
                tree_round_trip(&tree);
            }
        }
        Ok(None) => {}
        Err(e) => panic!("reading a snapshot directory failed: {e}"),
    }
}

/// One logged txn record (what recovery replays after the log's CRC passed).
pub fn txn_record(input: &[u8]) {
    if let Ok(txn) = Txn::decode(input) {
        let mut encoded = Vec::new();
        txn.encode(&mut encoded);
        assert_eq!(
            encoded.len(),
            input.len(),
            "txn re-encoded to another length"
        );
        let again = Txn::decode(&encoded).expect("a txn we encoded decodes");
        assert_eq!(again, txn, "txn round trip");
    }
}

// ------------------------------------------------------------------ peers
//
// The peer protocol (`paddock::zab::wire`): what another server sends on
// the election and quorum ports. Seeds are ZooKeeper 3.8.0's own bytes
// (`tests/fixtures/zab/zk-3.8.0/`).

use paddock::protocol::Reader;
use paddock::zab::wire::{
    self, election_frame_bytes, ElectionItem, ElectionStream, ForwardedRequest, LearnerInfo,
    PacketType, QuorumItem, QuorumStream, QuorumVerifierText, SnapDecoder, SnapItem, SnapTree,
    StreamError, WireError,
};
use paddock::zab::{Notification, QuorumPacket};

/// The buffer bound a quorum-port reader applies (`jute.maxbuffer` +
/// `jute.maxbuffer.extrasize`, as ZooKeeper's `BinaryInputArchive`).
pub const PEER_BUFFER_BYTES_MAX: usize = 2 * JUTE_MAXBUFFER_DEFAULT_BYTES;

/// A decoded notification that carries a config re-encodes to one that
/// decodes equal (the legacy 28/40-byte forms have no encoding of their own).
fn notification_round_trip(n: &Notification) {
    if n.config.is_none() || n.version < 2 {
        return;
    }
    let mut frame = Vec::new();
    n.encode_frame(&mut frame);
    let length = election_frame_bytes(&frame)
        .expect("our frame length is in range")
        .expect("our frame is whole");
    assert_eq!(length, frame.len(), "frame length");
    let again = Notification::decode(&frame[4..]).expect("a notification we encoded decodes");
    assert_eq!(&again, n, "notification round trip");
}

/// Piece sizes in which `stream` is fed, as TCP may split it: drawn from
/// the input's own bytes (so a crash replays), 1 byte to 1 MiB, sizes
/// log-uniform so that tiny pieces are common.
fn pieces(stream: &[u8]) -> Vec<usize> {
    // FNV-1a of the input seeds a SplitMix64.
    let mut state = stream
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut sizes = Vec::new();
    let mut left = stream.len();
    while left > 0 {
        let scale = 1usize << (next() % 21);
        let size = (1 + (next() as usize) % scale).min(left);
        sizes.push(size);
        left -= size;
    }
    sizes
}

/// Feeds `sizes` pieces of `stream` to an election decoder as a socket
/// reader does (the unconsumed tail kept); every item, and the error that
/// ended it, if any.
fn election_items(
    stream: &[u8],
    sizes: &[usize],
) -> (Vec<ElectionItem>, Option<StreamError>) {
    let mut decoder = ElectionStream::new(true);
    let mut items = Vec::new();
    let mut buf = Vec::new();
    let mut at = 0;
    for &size in sizes {
        buf.extend_from_slice(&stream[at..at + size]);
        at += size;
        match decoder.feed(&buf, &mut |item| {
            items.push(item);
            true
        }) {
            Ok(used) => drop(buf.drain(..used)),
            Err(e) => return (items, Some(e)),
        }
    }
    (items, None)
}

/// An election-port connection as a peer writes it: the QuorumCnxManager
/// header, then length-prefixed FastLeaderElection notifications, read by
/// the decoder the election port uses, whole and in pieces: the same items
/// and the same error either way.
pub fn election_stream(stream: &[u8]) {
    let whole = election_items(stream, &[stream.len()]);
    let split = election_items(stream, &pieces(stream));
    assert_eq!(split, whole, "the election stream decodes differently when split");
    for item in whole.0 {
        match item {
            ElectionItem::Header(header) => {
                let mut encoded = Vec::new();
                header.encode(&mut encoded);
                let (again, _) = election_items(&encoded, &[encoded.len()]);
                assert_eq!(again, [ElectionItem::Header(header)], "election header round trip");
            }
            ElectionItem::Notification(Ok(n)) => {
                notification_round_trip(&n);
                if let Some(config) = &n.config {
                    quorum_text_round_trip(config);
                }
            }
            ElectionItem::Notification(Err(_)) => {}
        }
    }
}

/// The payload of one packet, decoded by the reader its type calls for,
/// with a round trip where the record has an encoder.
fn packet_payload(packet: &QuorumPacket) {
    let Some(data) = packet.data.as_deref() else {
        return;
    };
    match packet.packet_type() {
        Some(PacketType::FollowerInfo | PacketType::ObserverInfo) => learner_info(data),
        Some(PacketType::Proposal | PacketType::Inform) => txn_payload(data),
        Some(PacketType::Request) => forwarded_request(data),
        Some(PacketType::Ping) => touches(data),
        Some(PacketType::Revalidate) => {
            let _ = wire::decode_revalidate_request(data);
            let _ = wire::decode_revalidate_reply(data);
        }
        Some(PacketType::NewLeader) => {
            if let Ok(text) = std::str::from_utf8(data) {
                quorum_text_round_trip(text);
            }
        }
        _ => {}
    }
}

/// Feeds `sizes` pieces of `stream` to a learner's quorum decoder as the
/// quorum port does; every item, and the error that ended it, if any.
fn quorum_items(stream: &[u8], sizes: &[usize]) -> (Vec<QuorumItem>, Option<StreamError>) {
    let mut decoder = QuorumStream::new(PEER_BUFFER_BYTES_MAX, true);
    let mut items = Vec::new();
    let mut buf = Vec::new();
    let mut at = 0;
    for &size in sizes {
        buf.extend_from_slice(&stream[at..at + size]);
        at += size;
        loop {
            let ended_before = items.len();
            match decoder.feed(&buf, &mut |item: QuorumItem| -> Result<(), WireError> {
                items.push(item);
                Ok(())
            }) {
                Ok(used) => drop(buf.drain(..used)),
                Err(e) => return (items, Some(e)),
            }
            // `feed` returns after a SNAP body's end: feed the rest too.
            let ended = items[ended_before..].contains(&QuorumItem::SnapEnd);
            if !ended {
                break;
            }
        }
    }
    (items, None)
}

/// A learner's quorum-port stream: packets, and after a SNAP packet the
/// inline tree, read by the decoder the quorum port uses, whole and in
/// pieces (the same items and the same error either way); each packet and
/// each SNAP body round-trips.
pub fn quorum_stream(stream: &[u8]) {
    let whole = quorum_items(stream, &[stream.len()]);
    let split = quorum_items(stream, &pieces(stream));
    assert_eq!(split, whole, "the quorum stream decodes differently when split");
    let mut snap = SnapTree {
        sessions: Vec::new(),
        acls: Vec::new(),
        nodes: Vec::new(),
    };
    for item in whole.0 {
        match item {
            QuorumItem::Packet(packet) => {
                // Decoded → encoded → decoded is the same packet (the bytes
                // may differ: jute's reader takes a null auth-id string as
                // empty).
                let mut encoded = Vec::new();
                packet.encode(&mut encoded);
                let (again, error) = quorum_items(&encoded, &[encoded.len()]);
                assert!(error.is_none(), "a packet we encoded decodes");
                let mut again = again;
                if packet.packet_type() == Some(PacketType::Snap) {
                    again.truncate(1);
                }
                assert_eq!(again, [QuorumItem::Packet(packet.clone())], "packet round trip");
                packet_payload(&packet);
            }
            QuorumItem::Snap(SnapItem::Session { id, timeout_ms }) => {
                snap.sessions.push((id, timeout_ms))
            }
            QuorumItem::Snap(SnapItem::Acl { index, acl }) => snap.acls.push((index, acl)),
            QuorumItem::Snap(SnapItem::Node(node)) => snap.nodes.push(node),
            QuorumItem::SnapEnd => {
                snap_items_round_trip(&snap);
                snap.sessions.clear();
                snap.acls.clear();
                snap.nodes.clear();
            }
        }
    }
}

/// A SNAP body's records re-encode to a body that decodes to the same
/// records (the parent-before-child rule is the loader's, not checked here).
fn snap_items_round_trip(tree: &SnapTree) {
    let mut encoded = Vec::new();
    tree.encode(&mut encoded);
    let (again, used) = snap_items(&encoded, &[encoded.len()]);
    assert_eq!(used.expect("a body we encoded decodes"), encoded.len());
    let mut rebuilt = SnapTree {
        sessions: Vec::new(),
        acls: Vec::new(),
        nodes: Vec::new(),
    };
    for item in again {
        match item {
            SnapItem::Session { id, timeout_ms } => rebuilt.sessions.push((id, timeout_ms)),
            SnapItem::Acl { index, acl } => rebuilt.acls.push((index, acl)),
            SnapItem::Node(node) => rebuilt.nodes.push(node),
        }
    }
    assert_eq!(&rebuilt, tree, "SNAP body round trip");
}

/// Feeds `sizes` pieces of a SNAP body to its decoder: the records, and
/// the bytes the body took (or the error).
fn snap_items(body: &[u8], sizes: &[usize]) -> (Vec<SnapItem>, Result<usize, WireError>) {
    let mut decoder = SnapDecoder::new(PEER_BUFFER_BYTES_MAX);
    let mut items = Vec::new();
    let mut buf = Vec::new();
    let mut at = 0;
    let mut consumed = 0;
    for &size in sizes {
        if decoder.is_done() {
            break;
        }
        buf.extend_from_slice(&body[at..at + size]);
        at += size;
        match decoder.feed(&buf, &mut |item| {
            items.push(item);
            Ok(())
        }) {
            Ok(used) => {
                consumed += used;
                drop(buf.drain(..used));
            }
            Err(e) => return (items, Err(e)),
        }
    }
    (items, Ok(consumed))
}

fn snap_round_trip(tree: &SnapTree) {
    let mut encoded = Vec::new();
    tree.encode(&mut encoded);
    let mut r = Reader::new(&encoded);
    let again = SnapTree::decode(&mut r).expect("a tree we encoded decodes");
    assert!(r.is_empty(), "bytes after an encoded tree");
    assert_eq!(&again, tree, "snapshot tree round trip");
}

/// The DataTree a SNAP carries, alone: the streaming decoder gives the same
/// records whole and in pieces, and agrees with `SnapTree::decode`.
pub fn snap_tree(input: &[u8]) {
    let whole = snap_items(input, &[input.len()]);
    let split = snap_items(input, &pieces(input));
    assert_eq!(split, whole, "the SNAP body decodes differently when split");
    let mut r = Reader::new(input);
    if let Ok(tree) = SnapTree::decode(&mut r) {
        assert!(r.position() <= input.len());
        assert_eq!(whole.1, Ok(r.position()), "both readers end at the signature");
        snap_round_trip(&tree);
    }
}

fn learner_info(data: &[u8]) {
    if let Ok(info) = LearnerInfo::decode(data) {
        let mut encoded = Vec::new();
        info.encode(&mut encoded);
        let again = LearnerInfo::decode(&encoded).expect("a LearnerInfo we encoded decodes");
        assert_eq!(again, info, "LearnerInfo round trip");
    }
}

fn txn_payload(data: &[u8]) {
    if let Ok((txn, digest)) = wire::decode_txn_payload(data) {
        let mut encoded = Vec::new();
        wire::encode_txn_payload(&txn, digest, &mut encoded);
        let (again, again_digest) =
            wire::decode_txn_payload(&encoded).expect("a txn payload we encoded decodes");
        assert_eq!(
            (again, again_digest),
            (txn, digest),
            "txn payload round trip"
        );
    }
}

fn forwarded_request(data: &[u8]) {
    if let Ok(request) = ForwardedRequest::decode(data) {
        let mut encoded = Vec::new();
        request.encode(&mut encoded);
        assert_eq!(encoded, data, "forwarded request round trip");
    }
}

fn touches(data: &[u8]) {
    if let Ok(table) = wire::decode_touches(data) {
        let mut encoded = Vec::new();
        wire::encode_touches(&table, &mut encoded);
        assert_eq!(encoded, data, "touch table round trip");
    }
}

/// The records inside quorum packets, one per input: the first byte picks
/// the decoder (LearnerInfo, a txn payload with its optional digest, a
/// forwarded REQUEST, the PING touch table, REVALIDATE's request/reply).
pub fn peer_payload(input: &[u8]) {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    match selector % 5 {
        0 => learner_info(data),
        1 => txn_payload(data),
        2 => forwarded_request(data),
        3 => touches(data),
        _ => {
            let _ = wire::decode_revalidate_request(data);
            let _ = wire::decode_revalidate_reply(data);
        }
    }
}

/// Parse → render → parse of a quorum-verifier string, and of each member
/// through the config's own `server.N` reader and renderer.
fn quorum_text_round_trip(text: &str) {
    let Ok(parsed) = QuorumVerifierText::parse(text) else {
        return;
    };
    // A negative version ("version=-3") parses but renders as
    // `Long.toHexString` does ("fffffffffffffffd"), which neither ZooKeeper's
    // `Long.parseLong(v, 16)` nor paddock's parser reads back: ZooKeeper's
    // own asymmetry, and no real config has one.
    if parsed.version < 0 {
        return;
    }
    let rendered = parsed.render();
    let again = QuorumVerifierText::parse(&rendered).expect("a config string we rendered parses");
    let mut members = parsed.members.clone();
    members.sort_by_key(|m| m.sid);
    // Lines for one sid: the parser keeps every one; compare as rendered.
    assert_eq!(
        again.render(),
        rendered,
        "render of a rendered config string"
    );
    assert_eq!(again.version, parsed.version, "version round trip");
    assert_eq!(
        again.members.len(),
        members.len(),
        "member count round trip"
    );
    let entries: Vec<_> = parsed
        .members
        .iter()
        .filter(|m| m.sid >= 0)
        .filter_map(|m| paddock::config::parse_server_entry(m.sid as u64, &m.value).ok())
        .collect();
    let ours = paddock::config::quorum_config_text(&entries, parsed.version);
    let reread = QuorumVerifierText::parse(&ours).expect("our config string parses");
    let entries_again: Vec<_> = reread
        .members
        .iter()
        .map(|m| {
            paddock::config::parse_server_entry(m.sid as u64, &m.value)
                .expect("a member line we rendered parses")
        })
        .collect();
    assert_eq!(
        paddock::config::quorum_config_text(&entries_again, reread.version),
        ours,
        "server.N render → parse → render"
    );
}

/// A quorum-verifier string (`QuorumMaj.toString`, what notifications and
/// NEWLEADER carry): parse → render → parse.
pub fn quorum_text(input: &[u8]) {
    if let Ok(text) = std::str::from_utf8(input) {
        quorum_text_round_trip(text);
    }
}
