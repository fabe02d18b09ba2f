//! The two peer byte streams as pure decoders: bytes in, whatever whole
//! records they hold out, the rest left for the next read.
//!
//! [`QuorumStream`] reads a quorum-port connection: `QuorumPacket`s, and
//! after a SNAP packet (on a learner) the inline DataTree, record by record
//! ([`SnapDecoder`]). [`ElectionStream`] reads an election-port connection:
//! the connecting side's header, then length-prefixed notifications.
//!
//! The ports, the simulator, the fuzz targets and the property tests all
//! drive these same decoders, so "any split TCP can make gives the same
//! records" is tested once, here, without a socket (`stream_tests.rs`).
//! The contract of `feed`: it consumes only whole records from the front of
//! the buffer and returns how many bytes it used; the caller drops those,
//! appends the next read and feeds again. An error names the record and its
//! offset in the stream; the caller closes that one connection.

use super::{
    election_frame_bytes, quorum_packet_bytes, ElectionHeader, Notification, PacketType,
    QuorumPacket, SnapDecoder, SnapItem, WireError,
};

/// A decoding error with where in the stream it happened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what} at stream offset {offset}: {source}")]
pub struct StreamError {
    /// The record being read ("quorum packet", "SNAP body of 0x…", …).
    pub what: String,
    /// Bytes of the stream before that record.
    pub offset: u64,
    pub source: WireError,
}

/// What a quorum connection carries, in stream order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuorumItem {
    Packet(QuorumPacket),
    /// A record of the SNAP body that follows a SNAP packet.
    Snap(SnapItem),
    /// The SNAP body is complete (its signature was read).
    SnapEnd,
}

/// The decoder of one quorum-port connection.
#[derive(Debug)]
pub struct QuorumStream {
    buffer_bytes_max: usize,
    reads_snap_bodies: bool,
    /// Reading the body of a SNAP with this zxid.
    snap: Option<(i64, SnapDecoder)>,
    offset: u64,
}

impl QuorumStream {
    /// `buffer_bytes_max` bounds every buffer in a packet and every SNAP
    /// record (ZooKeeper: `jute.maxbuffer` + extra). Only a learner reads
    /// SNAP bodies (`reads_snap_bodies`); a leader never receives one.
    pub fn new(buffer_bytes_max: usize, reads_snap_bodies: bool) -> QuorumStream {
        QuorumStream {
            buffer_bytes_max,
            reads_snap_bodies,
            snap: None,
            offset: 0,
        }
    }

    /// Bytes of the stream consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset + self.snap.as_ref().map_or(0, |(_, body)| body.offset())
    }

    /// True while a SNAP body is being read.
    pub fn in_snap_body(&self) -> bool {
        self.snap.is_some()
    }

    /// Decodes every whole packet and SNAP record at the front of `buf`,
    /// handing each to `sink`, and returns the bytes consumed. It returns
    /// early right after `SnapEnd`, so that the caller can act on the whole
    /// body before the packets that follow it: feed the rest again. An
    /// error of `sink` is returned as this stream's error at the record's
    /// offset.
    pub fn feed(
        &mut self,
        buf: &[u8],
        sink: &mut dyn FnMut(QuorumItem) -> Result<(), WireError>,
    ) -> Result<usize, StreamError> {
        let mut used = 0;
        loop {
            let rest = &buf[used..];
            if let Some((zxid, decoder)) = &mut self.snap {
                let n = match decoder.feed(rest, &mut |item| sink(QuorumItem::Snap(item))) {
                    Ok(n) => n,
                    // The decoder stops at the start of the failing record.
                    Err(source) => {
                        return Err(StreamError {
                            what: format!("SNAP body of 0x{zxid:x}"),
                            offset: self.offset + decoder.offset(),
                            source,
                        })
                    }
                };
                used += n;
                if !decoder.is_done() {
                    break;
                }
                self.offset += decoder.offset();
                self.snap = None;
                sink(QuorumItem::SnapEnd).map_err(|source| StreamError {
                    what: "end of a SNAP body".to_string(),
                    offset: self.offset,
                    source,
                })?;
                // The caller acts on the whole body before what follows it.
                break;
            }
            let failed = |source| StreamError {
                what: "quorum packet".to_string(),
                offset: self.offset,
                source,
            };
            let Some(n) = quorum_packet_bytes(rest, self.buffer_bytes_max).map_err(failed)? else {
                break;
            };
            let packet = QuorumPacket::decode(&rest[..n]).map_err(failed)?;
            let snap = self.reads_snap_bodies && packet.kind == PacketType::Snap as i32;
            let zxid = packet.zxid;
            let kind = packet.kind;
            sink(QuorumItem::Packet(packet)).map_err(|source| StreamError {
                what: format!("quorum packet of type {kind}"),
                offset: self.offset,
                source,
            })?;
            used += n;
            self.offset += n as u64;
            if snap {
                self.snap = Some((zxid, SnapDecoder::new(self.buffer_bytes_max)));
            }
        }
        Ok(used)
    }
}

/// What an election connection carries, in stream order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElectionItem {
    /// The connecting side's header (only on accepted connections).
    Header(ElectionHeader),
    /// A notification frame; a payload that does not decode is handed out
    /// as its error (ZooKeeper drops that message and keeps the connection).
    Notification(Result<Notification, WireError>),
}

/// The decoder of one election-port connection.
#[derive(Debug)]
pub struct ElectionStream {
    expects_header: bool,
    offset: u64,
}

impl ElectionStream {
    /// An accepted connection starts with the caller's header; a
    /// connection we opened carries only notifications.
    pub fn new(expects_header: bool) -> ElectionStream {
        ElectionStream {
            expects_header,
            offset: 0,
        }
    }

    /// Bytes of the stream consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// True until the header has been read.
    pub fn expects_header(&self) -> bool {
        self.expects_header
    }

    /// Decodes every whole header and frame at the front of `buf` (see
    /// [`QuorumStream::feed`]). `sink` returns false to stop after an item
    /// (the handshake stops after the header to decide who keeps the
    /// connection); the bytes after it are left unconsumed.
    pub fn feed(
        &mut self,
        buf: &[u8],
        sink: &mut dyn FnMut(ElectionItem) -> bool,
    ) -> Result<usize, StreamError> {
        let mut used = 0;
        loop {
            let rest = &buf[used..];
            let item;
            let n;
            if self.expects_header {
                let failed = |source| StreamError {
                    what: "election header".to_string(),
                    offset: self.offset,
                    source,
                };
                let Some(needed) = ElectionHeader::bytes_needed(rest).map_err(failed)? else {
                    break;
                };
                if rest.len() < needed {
                    break;
                }
                n = needed;
                item = ElectionItem::Header(ElectionHeader::decode(&rest[..n]).map_err(failed)?);
                self.expects_header = false;
            } else {
                let Some(length) = election_frame_bytes(rest).map_err(|source| StreamError {
                    what: "election frame".to_string(),
                    offset: self.offset,
                    source,
                })?
                else {
                    break;
                };
                n = length;
                item = ElectionItem::Notification(Notification::decode(&rest[4..n]));
            }
            used += n;
            self.offset += n as u64;
            if !sink(item) {
                break;
            }
        }
        Ok(used)
    }
}
