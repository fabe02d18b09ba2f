//! ZooKeeper 3.8's peer wire records, byte for byte (see
//! `../shared/ZAB-WIRE-FACTS.md`; recorded bytes in `tests/fixtures/zab/`).
//!
//! Two ports, two shapes:
//! * the **election port** carries one [`ElectionHeader`] per connection,
//!   then length-prefixed frames (`int length` + payload, at most
//!   [`ELECTION_MESSAGE_BYTES_MAX`]), each a FastLeaderElection
//!   [`Notification`];
//! * the **quorum port** carries an unframed stream of jute
//!   [`QuorumPacket`]s. A reader first asks [`quorum_packet_bytes`] whether a
//!   whole packet is buffered (check, then parse: hostile lengths are refused
//!   before anything is allocated), then decodes exactly those bytes. The
//!   SNAP packet is followed inline by a serialized DataTree ([`SnapTree`]).
//!
//! Payloads inside packets have records of their own: [`LearnerInfo`]
//! (FOLLOWERINFO/OBSERVERINFO), a txn with an optional [`TxnDigest`]
//! (PROPOSAL, INFORM), [`ForwardedRequest`] (REQUEST), the PING touch table,
//! REVALIDATE's request and reply.
//!
//! Everything here is pure: bytes in, records out, and the reverse.
use bytes::Bytes;

use crate::protocol::jute::{DecodeError, JuteWrite, Reader};
use crate::protocol::Id;
use crate::txn::Txn;

/// `QuorumCnxManager.PROTOCOL_VERSION_V1`: the header ZooKeeper 3.8 sends by default.
pub const PROTOCOL_VERSION_V1: i64 = -65536;
/// `PROTOCOL_VERSION_V2`: only with `zookeeper.multiAddress.enabled=true`.
pub const PROTOCOL_VERSION_V2: i64 = -65535;
/// Longest address list a header may carry (`QuorumCnxManager.maxBuffer`).
pub const ELECTION_HEADER_ADDRESS_BYTES_MAX: usize = 2048;
/// Longest election frame (`QuorumCnxManager.PACKETMAXSIZE`, 512 KiB).
pub const ELECTION_MESSAGE_BYTES_MAX: usize = 512 * 1024;
/// `Notification.CURRENTVERSION`.
pub const NOTIFICATION_VERSION: i32 = 2;
/// The learner protocol version in LearnerInfo and LEADERINFO (`0x10000`).
pub const LEARNER_PROTOCOL_VERSION: i32 = 0x10000;
/// `SerializeUtils`/`LearnerHandler`: the string that ends an inline snapshot.
pub const SNAP_SIGNATURE: &str = "BenWasHere";
/// `TxnDigest` version ZooKeeper 3.8 writes (`DigestCalculator.DIGEST_VERSION`).
pub const DIGEST_VERSION: i32 = 2;

/// What goes wrong reading peer bytes. Every variant is about the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("{what} of {length} bytes is over the limit of {max}")]
    TooLong {
        what: &'static str,
        length: i64,
        max: usize,
    },
    #[error("{what}: {detail}")]
    Malformed { what: &'static str, detail: String },
}

fn malformed(what: &'static str, detail: impl Into<String>) -> WireError {
    WireError::Malformed {
        what,
        detail: detail.into(),
    }
}

// ---------------------------------------------------------------- election

/// The first bytes on an election connection (`QuorumCnxManager.startConnection`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElectionHeader {
    /// [`PROTOCOL_VERSION_V1`] or [`PROTOCOL_VERSION_V2`]; `None` for the
    /// legacy form (a bare non-negative sid and nothing else).
    pub protocol_version: Option<i64>,
    pub sid: i64,
    /// `host:port` election addresses (V2 may list several, `|`-separated on
    /// the wire). Empty in the legacy form.
    pub addresses: Vec<String>,
}

impl ElectionHeader {
    /// A V1 header, as ZooKeeper 3.8 sends by default.
    pub fn v1(sid: i64, address: &str) -> ElectionHeader {
        ElectionHeader {
            protocol_version: Some(PROTOCOL_VERSION_V1),
            sid,
            addresses: vec![address.to_string()],
        }
    }

    /// The header bytes; the caller writes them in one segment (the
    /// receiver reads the address with a single `read()`).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self.protocol_version {
            None => out.write_i64(self.sid),
            Some(version) => {
                out.write_i64(version);
                out.write_i64(self.sid);
                let joined = self.addresses.join("|");
                out.write_i32(joined.len() as i32);
                out.extend_from_slice(joined.as_bytes());
            }
        }
    }

    /// How many bytes the header at the front of `buf` takes, or `None`
    /// when more are needed.
    pub fn bytes_needed(buf: &[u8]) -> Result<Option<usize>, WireError> {
        let Some(first) = buf.get(..8) else {
            return Ok(None);
        };
        let mut first_bytes = [0u8; 8];
        first_bytes.copy_from_slice(first);
        if i64::from_be_bytes(first_bytes) >= 0 {
            return Ok(Some(8));
        }
        let Some(length) = buf.get(16..20) else {
            return Ok(None);
        };
        let length = i32::from_be_bytes([length[0], length[1], length[2], length[3]]);
        if length <= 0 || length as usize > ELECTION_HEADER_ADDRESS_BYTES_MAX {
            return Err(WireError::TooLong {
                what: "election header address",
                length: i64::from(length),
                max: ELECTION_HEADER_ADDRESS_BYTES_MAX,
            });
        }
        let total = 20 + length as usize;
        Ok((buf.len() >= total).then_some(total))
    }

    /// Decodes a whole header (see [`ElectionHeader::bytes_needed`]).
    pub fn decode(bytes: &[u8]) -> Result<ElectionHeader, WireError> {
        let mut r = Reader::new(bytes);
        let first = r.read_i64()?;
        if first >= 0 {
            return Ok(ElectionHeader {
                protocol_version: None,
                sid: first,
                addresses: Vec::new(),
            });
        }
        if first != PROTOCOL_VERSION_V1 && first != PROTOCOL_VERSION_V2 {
            return Err(malformed(
                "election header",
                format!("unknown protocol version {first}"),
            ));
        }
        let sid = r.read_i64()?;
        let length = r.read_i32()?;
        if length <= 0 || length as usize > ELECTION_HEADER_ADDRESS_BYTES_MAX {
            return Err(WireError::TooLong {
                what: "election header address",
                length: i64::from(length),
                max: ELECTION_HEADER_ADDRESS_BYTES_MAX,
            });
        }
        let rest = r.rest();
        if rest.len() != length as usize {
            return Err(malformed(
                "election header",
                format!("address length {length}, {} bytes given", rest.len()),
            ));
        }
        let text = std::str::from_utf8(rest)
            .map_err(|_| malformed("election header", "address is not UTF-8"))?;
        Ok(ElectionHeader {
            protocol_version: Some(first),
            sid,
            addresses: text.split('|').map(str::to_string).collect(),
        })
    }
}

/// A peer's state in a notification (`QuorumPeer.ServerState` ordinal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerState {
    Looking = 0,
    Following = 1,
    Leading = 2,
    Observing = 3,
}

impl PeerState {
    pub fn from_code(code: i32) -> Option<PeerState> {
        Some(match code {
            0 => PeerState::Looking,
            1 => PeerState::Following,
            2 => PeerState::Leading,
            3 => PeerState::Observing,
            _ => return None,
        })
    }
}

/// A FastLeaderElection notification (`FastLeaderElection.buildMsg`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub state: PeerState,
    /// The proposed leader's sid.
    pub leader: i64,
    /// The proposed leader's last logged zxid.
    pub zxid: i64,
    /// The sender's election round (`logicalclock`).
    pub election_epoch: i64,
    /// The proposed leader's currentEpoch. Derived from `zxid` for the
    /// 28-byte legacy form, as ZooKeeper does.
    pub peer_epoch: i64,
    /// 0 for the legacy 28- and 40-byte forms, else as sent (2 today).
    pub version: i32,
    /// The sender's quorum-verifier string (`QuorumMaj.toString`), when the
    /// version carries one.
    pub config: Option<String>,
}

impl Notification {
    /// The frame payload (without the length prefix), version 2 with config.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.write_i32(self.state as i32);
        out.write_i64(self.leader);
        out.write_i64(self.zxid);
        out.write_i64(self.election_epoch);
        out.write_i64(self.peer_epoch);
        out.write_i32(self.version);
        let config = self.config.as_deref().unwrap_or("");
        out.write_i32(config.len() as i32);
        out.extend_from_slice(config.as_bytes());
    }

    /// The whole frame: length prefix and payload.
    pub fn encode_frame(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.write_i32(0);
        self.encode(out);
        let length = (out.len() - start - 4) as i32;
        out[start..start + 4].copy_from_slice(&length.to_be_bytes());
    }

    /// Decodes one frame payload; 28-, 40- and 44+-byte forms as ZooKeeper
    /// 3.8's `WorkerReceiver` accepts them. An unknown state is an error
    /// (ZooKeeper drops such a message).
    pub fn decode(payload: &[u8]) -> Result<Notification, WireError> {
        if payload.len() < 28 {
            return Err(malformed(
                "notification",
                format!("{} bytes, at least 28 needed", payload.len()),
            ));
        }
        let mut r = Reader::new(payload);
        let state_code = r.read_i32()?;
        let state = PeerState::from_code(state_code)
            .ok_or_else(|| malformed("notification", format!("unknown state {state_code}")))?;
        let leader = r.read_i64()?;
        let zxid = r.read_i64()?;
        let election_epoch = r.read_i64()?;
        let (peer_epoch, version, config) = if payload.len() == 28 {
            (zxid >> 32, 0, None)
        } else {
            let peer_epoch = r.read_i64()?;
            if payload.len() == 36 {
                (peer_epoch, 0, None)
            } else {
                let version = r.read_i32()?;
                if version <= 1 || r.remaining() < 4 {
                    (peer_epoch, version, None)
                } else {
                    let length = r.read_i32()?;
                    if length < 0 || length as usize > r.remaining() {
                        return Err(malformed(
                            "notification",
                            format!("config length {length}, {} bytes left", r.remaining()),
                        ));
                    }
                    let bytes = &r.rest()[..length as usize];
                    let text = std::str::from_utf8(bytes)
                        .map_err(|_| malformed("notification", "config is not UTF-8"))?;
                    (peer_epoch, version, Some(text.to_string()))
                }
            }
        };
        Ok(Notification {
            state,
            leader,
            zxid,
            election_epoch,
            peer_epoch,
            version,
            config,
        })
    }
}

/// The length of the election frame at the front of `buf`, or `None` when
/// more bytes are needed. ZooKeeper drops a connection whose frame length is
/// ≤ 0 or over 512 KiB.
pub fn election_frame_bytes(buf: &[u8]) -> Result<Option<usize>, WireError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let length = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    if length <= 0 || length as usize > ELECTION_MESSAGE_BYTES_MAX {
        return Err(WireError::TooLong {
            what: "election frame",
            length: i64::from(length),
            max: ELECTION_MESSAGE_BYTES_MAX,
        });
    }
    let total = 4 + length as usize;
    Ok((buf.len() >= total).then_some(total))
}

// ------------------------------------------------------------------ quorum

/// `Leader`'s packet type constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketType {
    Request = 1,
    Proposal = 2,
    Ack = 3,
    Commit = 4,
    Ping = 5,
    Revalidate = 6,
    Sync = 7,
    Inform = 8,
    CommitAndActivate = 9,
    NewLeader = 10,
    FollowerInfo = 11,
    UpToDate = 12,
    Diff = 13,
    Trunc = 14,
    Snap = 15,
    ObserverInfo = 16,
    LeaderInfo = 17,
    AckEpoch = 18,
    InformAndActivate = 19,
}

impl PacketType {
    pub fn from_code(code: i32) -> Option<PacketType> {
        use PacketType::*;
        Some(match code {
            1 => Request,
            2 => Proposal,
            3 => Ack,
            4 => Commit,
            5 => Ping,
            6 => Revalidate,
            7 => Sync,
            8 => Inform,
            9 => CommitAndActivate,
            10 => NewLeader,
            11 => FollowerInfo,
            12 => UpToDate,
            13 => Diff,
            14 => Trunc,
            15 => Snap,
            16 => ObserverInfo,
            17 => LeaderInfo,
            18 => AckEpoch,
            19 => InformAndActivate,
            _ => return None,
        })
    }
}

/// `QuorumPacket { int type; long zxid; buffer data; vector<Id> authinfo }`.
///
/// `kind` stays the raw code: ZooKeeper's follower only warns about an
/// unknown type, so the reader must be able to carry one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumPacket {
    pub kind: i32,
    pub zxid: i64,
    /// `None` is jute's null buffer (length −1), which ZooKeeper keeps apart
    /// from an empty one (a PING reply with no touches carries empty data).
    pub data: Option<Bytes>,
    /// `None` is a null vector (what every packet but REQUEST carries).
    pub auth: Option<Vec<Id>>,
}

impl QuorumPacket {
    /// A packet with no data and no auth info.
    pub fn bare(kind: PacketType, zxid: i64) -> QuorumPacket {
        QuorumPacket {
            kind: kind as i32,
            zxid,
            data: None,
            auth: None,
        }
    }

    pub fn with_data(kind: PacketType, zxid: i64, data: impl Into<Bytes>) -> QuorumPacket {
        QuorumPacket {
            kind: kind as i32,
            zxid,
            data: Some(data.into()),
            auth: None,
        }
    }

    pub fn packet_type(&self) -> Option<PacketType> {
        PacketType::from_code(self.kind)
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.write_i32(self.kind);
        out.write_i64(self.zxid);
        match &self.data {
            None => out.write_null_buffer(),
            Some(data) => out.write_buffer(data),
        }
        match &self.auth {
            None => out.write_i32(-1),
            Some(ids) => {
                out.write_i32(ids.len() as i32);
                for id in ids {
                    out.write_id(id);
                }
            }
        }
    }

    /// Decodes exactly one packet (see [`quorum_packet_bytes`]).
    pub fn decode(bytes: &[u8]) -> Result<QuorumPacket, WireError> {
        let mut r = Reader::new(bytes);
        let kind = r.read_i32()?;
        let zxid = r.read_i64()?;
        let data = r.read_buffer_opt()?.map(Bytes::copy_from_slice);
        let count = r.read_i32()?;
        let auth = if count < 0 {
            None
        } else {
            let mut ids = Vec::new();
            for _ in 0..count {
                ids.push(r.read_id()?);
            }
            Some(ids)
        };
        if !r.is_empty() {
            return Err(malformed(
                "quorum packet",
                format!("{} trailing bytes", r.remaining()),
            ));
        }
        Ok(QuorumPacket {
            kind,
            zxid,
            data,
            auth,
        })
    }
}

/// Reads a jute length at `at` and checks it: −1 (null) or `0..=max`.
fn checked_length(
    buf: &[u8],
    at: usize,
    what: &'static str,
    max: usize,
) -> Result<Option<i32>, WireError> {
    let Some(bytes) = buf.get(at..at + 4) else {
        return Ok(None);
    };
    let length = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if length < -1 || (length > 0 && length as usize > max) {
        return Err(WireError::TooLong {
            what,
            length: i64::from(length),
            max,
        });
    }
    Ok(Some(length))
}

/// Most auth ids a REQUEST may carry; a client connection has a handful.
pub const PACKET_AUTH_IDS_MAX: usize = 1024;

/// The size of the quorum packet at the front of `buf`, or `None` when more
/// bytes are needed. `buffer_bytes_max` bounds every buffer and string
/// (ZooKeeper: `jute.maxbuffer` + `jute.maxbuffer.extrasize`, about 2 MiB).
pub fn quorum_packet_bytes(
    buf: &[u8],
    buffer_bytes_max: usize,
) -> Result<Option<usize>, WireError> {
    let mut at = 12; // type + zxid
    let Some(data) = checked_length(buf, at, "quorum packet data", buffer_bytes_max)? else {
        return Ok(None);
    };
    at += 4 + data.max(0) as usize;
    let Some(count) = checked_length(buf, at, "quorum packet auth ids", PACKET_AUTH_IDS_MAX)?
    else {
        return Ok(None);
    };
    at += 4;
    for _ in 0..count.max(0) {
        for what in ["auth id scheme", "auth id"] {
            let Some(length) = checked_length(buf, at, what, buffer_bytes_max)? else {
                return Ok(None);
            };
            at += 4 + length.max(0) as usize;
        }
    }
    Ok((buf.len() >= at).then_some(at))
}

/// `LearnerInfo { long serverid; int protocolVersion; long configVersion }`,
/// the data of FOLLOWERINFO / OBSERVERINFO. As `LearnerHandler` reads it,
/// older learners may send only the sid (8 bytes) or sid + version (12).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LearnerInfo {
    pub server_id: i64,
    pub protocol_version: i32,
    pub config_version: i64,
}

impl LearnerInfo {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.write_i64(self.server_id);
        out.write_i32(self.protocol_version);
        out.write_i64(self.config_version);
    }

    pub fn decode(data: &[u8]) -> Result<LearnerInfo, WireError> {
        let mut r = Reader::new(data);
        let server_id = r.read_i64()?;
        let protocol_version = if r.remaining() >= 4 { r.read_i32()? } else { 0 };
        let config_version = if r.remaining() >= 8 { r.read_i64()? } else { 0 };
        Ok(LearnerInfo {
            server_id,
            protocol_version,
            config_version,
        })
    }
}

/// `TxnDigest { int version; long treeDigest }`, appended to txns since 3.6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnDigest {
    pub version: i32,
    pub tree_digest: i64,
}

/// Decodes a PROPOSAL/INFORM payload: TxnHeader + txn record, then an
/// optional digest (absent when the bytes end with the record, as
/// `SerializeUtils.deserializeTxn` reads it).
pub fn decode_txn_payload(bytes: &[u8]) -> Result<(Txn, Option<TxnDigest>), WireError> {
    let mut r = Reader::new(bytes);
    let txn = Txn::decode_from(&mut r)?;
    let digest = match r.remaining() {
        0 => None,
        12 => Some(TxnDigest {
            version: r.read_i32()?,
            tree_digest: r.read_i64()?,
        }),
        other => {
            return Err(malformed(
                "txn payload",
                format!("{other} bytes after the record (a digest is 12)"),
            ))
        }
    };
    Ok((txn, digest))
}

/// The reverse of [`decode_txn_payload`].
pub fn encode_txn_payload(txn: &Txn, digest: Option<TxnDigest>, out: &mut Vec<u8>) {
    txn.encode(out);
    if let Some(digest) = digest {
        out.write_i32(digest.version);
        out.write_i64(digest.tree_digest);
    }
}

/// A client write a learner forwards (REQUEST data): `long sessionId; int
/// cxid; int type;` then the raw request record after its RequestHeader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardedRequest {
    pub session_id: i64,
    pub cxid: i32,
    pub op_code: i32,
    pub body: Bytes,
}

impl ForwardedRequest {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.write_i64(self.session_id);
        out.write_i32(self.cxid);
        out.write_i32(self.op_code);
        out.extend_from_slice(&self.body);
    }

    pub fn decode(data: &[u8]) -> Result<ForwardedRequest, WireError> {
        let mut r = Reader::new(data);
        Ok(ForwardedRequest {
            session_id: r.read_i64()?,
            cxid: r.read_i32()?,
            op_code: r.read_i32()?,
            body: Bytes::copy_from_slice(r.rest()),
        })
    }
}

/// A learner's PING reply data: `(long sessionId, int timeoutMs)` pairs with
/// no count, read while bytes remain (`LearnerHandler`).
pub fn decode_touches(data: &[u8]) -> Result<Vec<(i64, i32)>, WireError> {
    if !data.len().is_multiple_of(12) {
        return Err(malformed(
            "ping touch table",
            format!(
                "{} bytes is not a whole number of 12-byte entries",
                data.len()
            ),
        ));
    }
    let mut r = Reader::new(data);
    let mut touches = Vec::with_capacity(data.len() / 12);
    while !r.is_empty() {
        touches.push((r.read_i64()?, r.read_i32()?));
    }
    Ok(touches)
}

pub fn encode_touches(touches: &[(i64, i32)], out: &mut Vec<u8>) {
    for &(session_id, timeout_ms) in touches {
        out.write_i64(session_id);
        out.write_i32(timeout_ms);
    }
}

/// REVALIDATE from a learner: `long sessionId; int timeout`.
pub fn decode_revalidate_request(data: &[u8]) -> Result<(i64, i32), WireError> {
    let mut r = Reader::new(data);
    Ok((r.read_i64()?, r.read_i32()?))
}

/// REVALIDATE's reply from the leader: `long sessionId; boolean valid`.
pub fn decode_revalidate_reply(data: &[u8]) -> Result<(i64, bool), WireError> {
    let mut r = Reader::new(data);
    Ok((r.read_i64()?, r.read_bool()?))
}

// ---------------------------------------------------------------- snapshot

/// `StatPersisted`: a node's stat as snapshots carry it (no dataLength or
/// numChildren; pzxid last).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatPersisted {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub pzxid: i64,
}

/// One node of a serialized DataTree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapNode {
    /// `""` for the root, as ZooKeeper writes it.
    pub path: String,
    /// `None` is null data.
    pub data: Option<Bytes>,
    /// Index into [`SnapTree::acls`]; −1 is OPEN_ACL_UNSAFE.
    pub acl_index: i64,
    pub stat: StatPersisted,
}

/// The DataTree a SNAP carries inline (`SerializeUtils.serializeSnapshot` +
/// `DataTree.serialize` + the signature): sessions, the ACL cache, nodes in
/// pre-order (a parent before its children), `"/"`, [`SNAP_SIGNATURE`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapTree {
    pub sessions: Vec<(i64, i32)>,
    pub acls: Vec<(i64, Vec<crate::protocol::Acl>)>,
    pub nodes: Vec<SnapNode>,
}

impl SnapTree {
    pub fn encode(&self, out: &mut Vec<u8>) {
        SnapEncoder::header(&self.sessions, &self.acls, out);
        for node in &self.nodes {
            SnapEncoder::node(node, out);
        }
        SnapEncoder::finish(out);
    }

    /// Decodes a whole inline snapshot from the front of `r`, leaving `r`
    /// after the signature (a stream is read with [`SnapDecoder`] instead).
    /// Checks what ZooKeeper's reader checks: a parent precedes each child
    /// ("Invalid Datatree"), the signature.
    pub fn decode(r: &mut Reader<'_>) -> Result<SnapTree, WireError> {
        let rest = r.rest();
        let mut tree = SnapTree {
            sessions: Vec::new(),
            acls: Vec::new(),
            nodes: Vec::new(),
        };
        let mut seen = std::collections::HashSet::new();
        let mut decoder = SnapDecoder::new(i32::MAX as usize);
        let used = decoder.feed(rest, &mut |item| {
            match item {
                SnapItem::Session { id, timeout_ms } => tree.sessions.push((id, timeout_ms)),
                SnapItem::Acl { index, acl } => tree.acls.push((index, acl)),
                SnapItem::Node(node) => {
                    if !node.path.is_empty() {
                        let parent = match node.path.rfind('/') {
                            Some(0) => "",
                            Some(at) => &node.path[..at],
                            None => {
                                return Err(malformed(
                                    "snapshot",
                                    format!("bad path '{}'", node.path),
                                ))
                            }
                        };
                        if !seen.contains(parent) {
                            return Err(malformed(
                                "snapshot",
                                format!(
                                    "Invalid Datatree: '{}' comes before its parent",
                                    node.path
                                ),
                            ));
                        }
                    }
                    seen.insert(node.path.clone());
                    tree.nodes.push(node);
                }
            }
            Ok(())
        })?;
        if !decoder.is_done() {
            return Err(WireError::Decode(DecodeError::Truncated {
                offset: used,
                needed: 1,
                left: rest.len() - used,
            }));
        }
        r.advance(used)?;
        Ok(tree)
    }
}

/// One `server.N` line of a quorum-verifier string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumMember {
    pub sid: i64,
    /// What follows `server.N=` (`host:quorumPort:electionPort:role[;client]`).
    pub value: String,
}

/// A quorum-verifier string (`QuorumMaj.toString`): `server.N=…` lines,
/// then `version=<hex>` with no newline. ZooKeeper sends it in every
/// notification and in NEWLEADER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumVerifierText {
    pub members: Vec<QuorumMember>,
    pub version: i64,
}

impl QuorumVerifierText {
    pub fn parse(text: &str) -> Result<QuorumVerifierText, WireError> {
        let mut members = Vec::new();
        let mut version = None;
        for line in text.split('\n').filter(|l| !l.is_empty()) {
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| malformed("quorum config", format!("line '{line}' has no '='")))?;
            if key == "version" {
                let parsed = i64::from_str_radix(value, 16)
                    .map_err(|_| malformed("quorum config", format!("version '{value}'")))?;
                version = Some(parsed);
            } else if let Some(sid) = key.strip_prefix("server.") {
                let sid = sid
                    .parse()
                    .map_err(|_| malformed("quorum config", format!("key '{key}'")))?;
                members.push(QuorumMember {
                    sid,
                    value: value.to_string(),
                });
            } else {
                return Err(malformed("quorum config", format!("unknown key '{key}'")));
            }
        }
        Ok(QuorumVerifierText {
            members,
            version: version.unwrap_or(0),
        })
    }

    /// `QuorumMaj.toString`'s layout. ZooKeeper prints members in HashMap
    /// order, which for small sids is ascending; we always print ascending.
    pub fn render(&self) -> String {
        let mut members: Vec<&QuorumMember> = self.members.iter().collect();
        members.sort_by_key(|m| m.sid);
        let mut text = String::new();
        for member in members {
            text.push_str(&format!("server.{}={}\n", member.sid, member.value));
        }
        text.push_str(&format!("version={:x}", self.version));
        text
    }
}

mod snap_stream;
mod stream;
pub use snap_stream::{SnapDecoder, SnapEncoder, SnapItem};
pub use stream::{ElectionItem, ElectionStream, QuorumItem, QuorumStream, StreamError};

#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;
