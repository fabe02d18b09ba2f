//! The SNAP body as a stream: [`SnapDecoder`] reads ZooKeeper's inline
//! DataTree ([`SnapTree`](super::SnapTree)'s grammar) record by record from
//! whatever bytes TCP has delivered so far, and [`SnapEncoder`] writes it
//! record by record into a bounded buffer.
//!
//! Why a decoder of its own: the body has no length prefix, and it may be
//! hundreds of megabytes. Decoding it whole from a growing buffer mixed up
//! "the bytes are not here yet" with "the bytes are wrong" (a buffer length
//! past the end of what had arrived read as a bad length: the SNAP defect of
//! issue 17), re-parsed the whole prefix after every read, and held the body
//! twice. Here each record's length is worked out from its length prefixes
//! first ([`record_bytes`]); only a whole record is decoded, so any split of
//! the stream gives the same records, a record cut by the end of the
//! delivered bytes simply waits, and the bytes kept between reads are at most
//! one record (bounded by `record_bytes_max`).
//!
//! An error names what was being read and its offset in the body. The
//! decoder never allocates from an unchecked length.

use bytes::Bytes;

use super::{SnapNode, StatPersisted, WireError, SNAP_SIGNATURE};
use crate::protocol::jute::{JuteWrite, Reader};
use crate::protocol::Acl;

/// Bytes of a node record after its path and data: the ACL index and
/// `StatPersisted` (4 longs, 3 ints, 2 longs).
const NODE_TAIL_BYTES: usize = 8 + 4 * 8 + 3 * 4 + 2 * 8;
/// Smallest ACL on the wire: perms and two empty strings.
const ACL_BYTES_MIN: usize = 4 + 4 + 4;

/// One record of a SNAP body, in the order the body carries them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapItem {
    /// A global session and its timeout (ms).
    Session { id: i64, timeout_ms: i32 },
    /// An entry of the leader's ACL cache.
    Acl { index: i64, acl: Vec<Acl> },
    /// A node, its parent before it (the root's path is `""`).
    Node(SnapNode),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    SessionCount,
    Sessions {
        left: u32,
    },
    AclCount,
    Acls {
        left: u32,
    },
    /// Nodes, until the path `"/"`.
    Nodes,
    Signature,
    Done,
}

/// Reads a SNAP body incrementally. Feed it the bytes as they arrive;
/// it hands out every whole record and says how many bytes it used.
#[derive(Debug)]
pub struct SnapDecoder {
    stage: Stage,
    /// Bytes of the body decoded so far (offsets in errors are from here).
    offset: u64,
    record_bytes_max: usize,
}

impl SnapDecoder {
    /// `record_bytes_max` bounds one record (a node's path and data, or an
    /// ACL list); a longer one is an error, not an allocation.
    pub fn new(record_bytes_max: usize) -> SnapDecoder {
        SnapDecoder {
            stage: Stage::SessionCount,
            offset: 0,
            record_bytes_max,
        }
    }

    /// True once the signature has been read: the body is complete.
    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// Bytes of the body consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Decodes every whole record at the front of `buf`, handing each to
    /// `sink`, and returns the bytes consumed; the caller keeps the rest and
    /// feeds it again with more. Stops right after the signature (the bytes
    /// after it are the next quorum packets). An error from `sink` stops
    /// decoding and is returned as is.
    pub fn feed(
        &mut self,
        buf: &[u8],
        sink: &mut dyn FnMut(SnapItem) -> Result<(), WireError>,
    ) -> Result<usize, WireError> {
        let mut used = 0;
        while self.stage != Stage::Done {
            let rest = &buf[used..];
            let Some(n) = self.record_bytes(rest)? else {
                break;
            };
            let record = &rest[..n];
            self.decode_record(record, sink)?;
            used += n;
            self.offset += n as u64;
        }
        Ok(used)
    }

    /// The size of the record the current stage expects at the front of
    /// `buf`, or `None` when it is not all here yet.
    fn record_bytes(&self, buf: &[u8]) -> Result<Option<usize>, WireError> {
        let max = self.record_bytes_max;
        let at = self.offset;
        match self.stage {
            Stage::SessionCount | Stage::AclCount => Ok((buf.len() >= 4).then_some(4)),
            Stage::Sessions { .. } => Ok((buf.len() >= 12).then_some(12)),
            Stage::Acls { .. } => {
                // long index; int count; count × (int perms; ustring; ustring)
                let mut probe = Probe::new(buf, at, max);
                probe.skip(8);
                let Some(count) = probe.length("ACL list count")? else {
                    return Ok(None);
                };
                if count.max(0) as usize > max / ACL_BYTES_MIN {
                    return Err(at_offset(at, "ACL list", format!("{count} entries")));
                }
                for _ in 0..count.max(0) {
                    probe.skip(4);
                    if probe.buffer("ACL scheme")?.is_none() || probe.buffer("ACL id")?.is_none() {
                        return Ok(None);
                    }
                }
                Ok(probe.end())
            }
            Stage::Nodes => {
                let mut probe = Probe::new(buf, at, max);
                let Some(path_bytes) = probe.length("node path")? else {
                    return Ok(None);
                };
                if path_bytes == 1 {
                    // The path "/" ends the nodes; nothing follows it.
                    match buf.get(4) {
                        None => return Ok(None),
                        Some(b'/') => return Ok(Some(5)),
                        Some(_) => {}
                    }
                }
                probe.skip(path_bytes.max(0) as usize);
                if probe.buffer("node data")?.is_none() {
                    return Ok(None);
                }
                probe.skip(NODE_TAIL_BYTES);
                Ok(probe.end())
            }
            Stage::Signature => {
                let mut probe = Probe::new(buf, at, max);
                if probe.buffer("signature")?.is_none() {
                    return Ok(None);
                }
                Ok(probe.end())
            }
            Stage::Done => Ok(Some(0)),
        }
    }

    /// Decodes one whole record (its size checked by `record_bytes`).
    fn decode_record(
        &mut self,
        record: &[u8],
        sink: &mut dyn FnMut(SnapItem) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        let at = self.offset;
        let mut r = Reader::new(record);
        let wrap = |what: &'static str| {
            move |e: crate::protocol::jute::DecodeError| at_offset(at, what, e.to_string())
        };
        self.stage = match self.stage {
            Stage::SessionCount => {
                let count = r.read_i32().map_err(wrap("session count"))?;
                match count {
                    0 | -1 => Stage::AclCount,
                    n if n > 0 => Stage::Sessions { left: n as u32 },
                    n => return Err(at_offset(at, "session count", n.to_string())),
                }
            }
            Stage::Sessions { left } => {
                let id = r.read_i64().map_err(wrap("session"))?;
                let timeout_ms = r.read_i32().map_err(wrap("session"))?;
                sink(SnapItem::Session { id, timeout_ms })?;
                match left - 1 {
                    0 => Stage::AclCount,
                    left => Stage::Sessions { left },
                }
            }
            Stage::AclCount => {
                let count = r.read_i32().map_err(wrap("ACL cache size"))?;
                match count {
                    0 | -1 => Stage::Nodes,
                    n if n > 0 => Stage::Acls { left: n as u32 },
                    n => return Err(at_offset(at, "ACL cache size", n.to_string())),
                }
            }
            Stage::Acls { left } => {
                let index = r.read_i64().map_err(wrap("ACL index"))?;
                let acl = r.read_acl_vec().map_err(wrap("ACL list"))?;
                sink(SnapItem::Acl { index, acl })?;
                match left - 1 {
                    0 => Stage::Nodes,
                    left => Stage::Acls { left },
                }
            }
            Stage::Nodes => {
                let path = r.read_string().map_err(wrap("node path"))?;
                if path == "/" {
                    Stage::Signature
                } else {
                    let data = r
                        .read_buffer_opt()
                        .map_err(wrap("node data"))?
                        .map(Bytes::copy_from_slice);
                    let node = decode_node_tail(&mut r, path, data).map_err(wrap("node"))?;
                    sink(SnapItem::Node(node))?;
                    Stage::Nodes
                }
            }
            Stage::Signature => {
                let signature = r.read_string().map_err(wrap("signature"))?;
                if signature != SNAP_SIGNATURE {
                    return Err(at_offset(
                        at,
                        "signature",
                        format!("'{signature}', expected '{SNAP_SIGNATURE}'"),
                    ));
                }
                Stage::Done
            }
            Stage::Done => Stage::Done,
        };
        debug_assert!(r.is_empty(), "record_bytes and decode_record disagree");
        Ok(())
    }
}

fn decode_node_tail(
    r: &mut Reader<'_>,
    path: String,
    data: Option<Bytes>,
) -> Result<SnapNode, crate::protocol::jute::DecodeError> {
    Ok(SnapNode {
        path,
        data,
        acl_index: r.read_i64()?,
        stat: StatPersisted {
            czxid: r.read_i64()?,
            mzxid: r.read_i64()?,
            ctime: r.read_i64()?,
            mtime: r.read_i64()?,
            version: r.read_i32()?,
            cversion: r.read_i32()?,
            aversion: r.read_i32()?,
            ephemeral_owner: r.read_i64()?,
            pzxid: r.read_i64()?,
        },
    })
}

fn at_offset(offset: u64, what: &'static str, detail: String) -> WireError {
    WireError::Malformed {
        what: "SNAP body",
        detail: format!("{what} at offset {offset}: {detail}"),
    }
}

/// Walks a record's length prefixes without decoding it.
struct Probe<'a> {
    buf: &'a [u8],
    at: usize,
    body_offset: u64,
    max: usize,
}

impl<'a> Probe<'a> {
    fn new(buf: &'a [u8], body_offset: u64, max: usize) -> Probe<'a> {
        Probe {
            buf,
            at: 0,
            body_offset,
            max,
        }
    }

    fn skip(&mut self, n: usize) {
        self.at += n;
    }

    /// A length prefix at the cursor (−1 is null), checked against the
    /// limit; `None` when its four bytes are not here yet.
    fn length(&mut self, what: &'static str) -> Result<Option<i32>, WireError> {
        let Some(bytes) = self.buf.get(self.at..self.at + 4) else {
            return Ok(None);
        };
        let length = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        if length < -1 || (length > 0 && length as usize > self.max) {
            return Err(at_offset(
                self.body_offset + self.at as u64,
                what,
                format!("length {length} (at most {} allowed)", self.max),
            ));
        }
        self.at += 4;
        Ok(Some(length))
    }

    /// A jute buffer or string: its length and its bytes.
    fn buffer(&mut self, what: &'static str) -> Result<Option<()>, WireError> {
        let Some(length) = self.length(what)? else {
            return Ok(None);
        };
        self.at += length.max(0) as usize;
        Ok(Some(()))
    }

    /// The record's size, if it is all in the buffer.
    fn end(&self) -> Option<usize> {
        (self.buf.len() >= self.at).then_some(self.at)
    }
}

/// Writes a SNAP body record by record, so that a caller can send it in
/// bounded pieces: `header`, then each node, then `finish`.
pub struct SnapEncoder;

impl SnapEncoder {
    /// The sessions and the ACL cache, which come before the nodes.
    pub fn header(sessions: &[(i64, i32)], acls: &[(i64, Vec<Acl>)], out: &mut Vec<u8>) {
        out.write_i32(sessions.len() as i32);
        for &(id, timeout) in sessions {
            out.write_i64(id);
            out.write_i32(timeout);
        }
        out.write_i32(acls.len() as i32);
        for (index, list) in acls {
            out.write_i64(*index);
            out.write_acl_vec(list);
        }
    }

    pub fn node(node: &SnapNode, out: &mut Vec<u8>) {
        out.write_string(&node.path);
        match &node.data {
            None => out.write_null_buffer(),
            Some(data) => out.write_buffer(data),
        }
        out.write_i64(node.acl_index);
        let s = &node.stat;
        out.write_i64(s.czxid);
        out.write_i64(s.mzxid);
        out.write_i64(s.ctime);
        out.write_i64(s.mtime);
        out.write_i32(s.version);
        out.write_i32(s.cversion);
        out.write_i32(s.aversion);
        out.write_i64(s.ephemeral_owner);
        out.write_i64(s.pzxid);
    }

    /// The `"/"` terminator and the signature.
    pub fn finish(out: &mut Vec<u8>) {
        out.write_string("/");
        out.write_string(SNAP_SIGNATURE);
    }
}
