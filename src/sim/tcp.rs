//! The quorum port's bytes in the simulator: what a connection end writes
//! goes through the real encoder ([`QuorumPacket::encode`], and the SNAP
//! body right after its SNAP packet, as the server writes it), is cut into
//! segments that arrive in order, is read by the other end in pieces of any
//! size (1 byte to 256 KiB; several segments coalesce into one read, one
//! record spans many), and is decoded by the real pure decoder,
//! [`QuorumStream`], exactly as the server's quorum port drives it: feed,
//! drop what it used, keep the rest for the next read, feed again after a
//! SNAP body ends.
//!
//! A learner's end collects the SNAP records and hands the state machine
//! the body re-encoded from them ([`SnapTree::encode`]). Every end also
//! keeps what its peer wrote, in order, and checks that the decoder gives
//! back exactly that: the sim injects no corruption, so any difference, any
//! decoding error, or undecoded bytes at the peer's FIN is a broken
//! invariant, never a closed connection.

use std::collections::VecDeque;

use bytes::Bytes;

use super::rng::Rng;
use crate::zab::wire::{
    ElectionItem, ElectionStream, QuorumItem, QuorumStream, SnapItem, SnapTree,
};
use crate::zab::{Notification, QuorumPacket};

/// What bounds one buffer or SNAP record (ZooKeeper: `jute.maxbuffer` +
/// extra, about 1 MiB).
pub const BUFFER_BYTES_MAX: usize = 1024 * 1024 + 1024;

/// A sim-only bug in how a connection end reads its socket (mutation
/// testing of the split handling; the decoder itself is not touched).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadBug {
    /// The bytes of a read the decoder did not consume (a record cut by the
    /// read) are dropped, as if every read ended on a record boundary.
    DropsRemainder,
    /// A read that ends inside a SNAP body record is taken for a bad body
    /// ("the bytes are not here yet" read as "the bytes are wrong": the
    /// SNAP defect of issue 17).
    CutSnapIsError,
}

/// How many bytes one segment of a write holds, or one read takes:
/// anything from 1 byte to 256 KiB, small pieces often enough that every
/// kind of record is cut somewhere over a run, and mostly a few KiB, so
/// that a SNAP body (30–60 KiB) takes about ten reads.
pub fn piece_bytes(rng: &mut Rng, available: usize) -> usize {
    let want = match rng.below(100) {
        0..=14 => rng.range(1, 16),
        15..=49 => rng.range(17, 1_024),
        50..=89 => rng.range(1_025, 4_096),
        _ => rng.range(4_097, 256 * 1_024),
    } as usize;
    want.min(available).max(1)
}

/// Cuts one write into the segments TCP may deliver it in (most often
/// one: the reads cut and coalesce too).
pub fn segments(rng: &mut Rng, bytes: Bytes) -> Vec<Bytes> {
    if rng.chance(60) {
        return vec![bytes];
    }
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let n = piece_bytes(rng, bytes.len() - at);
        out.push(bytes.slice(at..at + n));
        at += n;
    }
    out
}

/// What one end wrote, as the other end must decode it.
#[derive(Debug)]
pub enum Sent {
    Packet(QuorumPacket),
    SnapBody(Bytes),
}

/// What one read decoded, in stream order.
#[derive(Debug)]
pub enum Decoded {
    Packet(QuorumPacket),
    /// A whole SNAP body, re-encoded from its records.
    SnapBody(Bytes),
}

/// The receiving half of one connection end: the socket's receive buffer,
/// the bytes read and not yet decoded, and the decoder.
#[derive(Debug)]
pub struct Receiver {
    /// Segments arrived and not yet read.
    arrived: VecDeque<Bytes>,
    arrived_bytes: usize,
    /// The peer's FIN arrived (after every segment it sent before).
    pub fin: bool,
    /// A read event is scheduled.
    pub read_pending: bool,
    /// Read but not yet consumed by the decoder (at most one record).
    buf: Vec<u8>,
    stream: QuorumStream,
    /// What the peer wrote and this end has not decoded yet.
    sent: VecDeque<Sent>,
    /// The SNAP body being read.
    snap: Option<SnapTree>,
    /// Reads that took bytes of a SNAP body.
    pub snap_reads: u64,
}

impl Receiver {
    /// Only a learner's end reads SNAP bodies.
    pub fn new(reads_snap_bodies: bool) -> Receiver {
        Receiver {
            arrived: VecDeque::new(),
            arrived_bytes: 0,
            fin: false,
            read_pending: false,
            buf: Vec::new(),
            stream: QuorumStream::new(BUFFER_BYTES_MAX, reads_snap_bodies),
            sent: VecDeque::new(),
            snap: None,
            snap_reads: 0,
        }
    }

    /// The end is closed: nothing more is read.
    pub fn discard(&mut self) {
        self.arrived.clear();
        self.arrived_bytes = 0;
        self.buf = Vec::new();
        self.sent.clear();
        self.snap = None;
    }

    /// The peer wrote this (its bytes are on their way).
    pub fn expect(&mut self, sent: Sent) {
        self.sent.push_back(sent);
    }

    /// A segment reached the socket's receive buffer.
    pub fn arrive(&mut self, segment: Bytes) {
        self.arrived_bytes += segment.len();
        self.arrived.push_back(segment);
    }

    /// Bytes arrived and not yet read.
    pub fn unread(&self) -> usize {
        self.arrived_bytes
    }

    /// At the peer's FIN (after everything it wrote was read), everything
    /// it wrote must have been decoded, and no byte may be left over.
    pub fn check_drained(&self) -> Result<(), String> {
        if !self.buf.is_empty() || !self.sent.is_empty() {
            return Err(format!(
                "at the peer's FIN, {} bytes are left undecoded and {} of what it wrote never came out of the decoder (next: {})",
                self.buf.len(),
                self.sent.len(),
                describe(self.sent.front())
            ));
        }
        Ok(())
    }

    /// One read of a random number of the arrived bytes (coalescing
    /// segments, or cutting one), fed to the decoder until it needs more.
    /// Returns what it decoded, in order, each checked against what the
    /// peer wrote; an error is a broken invariant.
    pub fn read(&mut self, rng: &mut Rng, bug: Option<ReadBug>) -> Result<Vec<Decoded>, String> {
        let mut take = piece_bytes(rng, self.arrived_bytes);
        self.arrived_bytes -= take;
        while take > 0 {
            let Some(front) = self.arrived.front_mut() else {
                break;
            };
            if front.len() <= take {
                take -= front.len();
                self.buf.extend_from_slice(front);
                self.arrived.pop_front();
            } else {
                self.buf.extend_from_slice(&front.split_to(take));
                take = 0;
            }
        }
        let in_snap_before = self.stream.in_snap_body();
        let mut items = Vec::new();
        let mut used = 0;
        loop {
            let n = self
                .stream
                .feed(&self.buf[used..], &mut |item| {
                    items.push(item);
                    Ok(())
                })
                .map_err(|e| format!("the decoder failed on bytes the real encoder wrote: {e}"))?;
            used += n;
            // `feed` returns early after a SNAP body; what follows it is
            // fed again. No progress: the rest is a record cut by the read.
            if n == 0 {
                break;
            }
        }
        match bug {
            Some(ReadBug::DropsRemainder) => self.buf.clear(),
            Some(ReadBug::CutSnapIsError)
                if self.stream.in_snap_body() && used < self.buf.len() =>
            {
                return Err(format!(
                    "(mutation) bad SNAP body: a record cut at stream offset {}",
                    self.stream.offset()
                ));
            }
            _ => {
                self.buf.drain(..used);
            }
        }
        if in_snap_before || self.stream.in_snap_body() {
            self.snap_reads += 1;
        }
        let mut decoded = Vec::new();
        for item in items {
            match item {
                QuorumItem::Packet(packet) => {
                    match self.sent.pop_front() {
                        Some(Sent::Packet(sent)) if sent == packet => {}
                        other => {
                            return Err(format!(
                                "decoded packet {packet:?} where the peer wrote {}",
                                describe(other.as_ref())
                            ))
                        }
                    }
                    decoded.push(Decoded::Packet(packet));
                }
                QuorumItem::Snap(record) => {
                    let tree = self.snap.get_or_insert_with(|| SnapTree {
                        sessions: Vec::new(),
                        acls: Vec::new(),
                        nodes: Vec::new(),
                    });
                    match record {
                        SnapItem::Session { id, timeout_ms } => {
                            tree.sessions.push((id, timeout_ms))
                        }
                        SnapItem::Acl { index, acl } => tree.acls.push((index, acl)),
                        SnapItem::Node(node) => tree.nodes.push(node),
                    }
                }
                QuorumItem::SnapEnd => {
                    let tree = self.snap.take().unwrap_or(SnapTree {
                        sessions: Vec::new(),
                        acls: Vec::new(),
                        nodes: Vec::new(),
                    });
                    let mut body = Vec::new();
                    tree.encode(&mut body);
                    match self.sent.pop_front() {
                        Some(Sent::SnapBody(sent)) if sent.as_ref() == body.as_slice() => {}
                        other => {
                            return Err(format!(
                            "decoded a SNAP body of {} bytes ({} nodes) where the peer wrote {}",
                            body.len(),
                            tree.nodes.len(),
                            describe(other.as_ref())
                        ))
                        }
                    }
                    decoded.push(Decoded::SnapBody(Bytes::from(body)));
                }
            }
        }
        Ok(decoded)
    }
}

/// One direction of an election-port connection: the frames one server
/// writes (`Notification::encode_frame`), cut into segments, read by the
/// real [`ElectionStream`] as they arrive. A new connection (a new link
/// generation) starts a new stream; what was in flight on the old one is
/// lost.
#[derive(Debug)]
pub struct ElectionReceiver {
    generation: u64,
    buf: Vec<u8>,
    stream: ElectionStream,
    sent: VecDeque<Notification>,
}

impl Default for ElectionReceiver {
    fn default() -> ElectionReceiver {
        ElectionReceiver {
            generation: 0,
            buf: Vec::new(),
            stream: ElectionStream::new(false),
            sent: VecDeque::new(),
        }
    }
}

impl ElectionReceiver {
    /// The sender wrote `n` on the connection of `generation`.
    pub fn expect(&mut self, generation: u64, n: Notification) {
        if generation != self.generation {
            *self = ElectionReceiver {
                generation,
                ..ElectionReceiver::default()
            };
        }
        self.sent.push_back(n);
    }

    /// A segment of the connection of `generation` arrived: the
    /// notifications it completes, each checked against what was written
    /// (a segment of an older connection is dropped).
    pub fn arrive(
        &mut self,
        generation: u64,
        segment: &[u8],
        bug: Option<ReadBug>,
    ) -> Result<Vec<Notification>, String> {
        if generation != self.generation {
            return Ok(Vec::new());
        }
        self.buf.extend_from_slice(segment);
        let mut items = Vec::new();
        let used = self
            .stream
            .feed(&self.buf, &mut |item| {
                items.push(item);
                true
            })
            .map_err(|e| {
                format!("the election decoder failed on bytes the real encoder wrote: {e}")
            })?;
        match bug {
            Some(ReadBug::DropsRemainder) => self.buf.clear(),
            _ => {
                self.buf.drain(..used);
            }
        }
        let mut out = Vec::new();
        for item in items {
            let n = match item {
                ElectionItem::Notification(Ok(n)) => n,
                other => return Err(format!("the election decoder gave {other:?}")),
            };
            match self.sent.pop_front() {
                Some(sent) if sent == n => out.push(n),
                other => {
                    return Err(format!(
                        "decoded notification {n:?} where the peer wrote {other:?}"
                    ))
                }
            }
        }
        Ok(out)
    }
}

fn describe(sent: Option<&Sent>) -> String {
    match sent {
        None => "nothing more".to_string(),
        Some(Sent::Packet(packet)) => format!("{packet:?}"),
        Some(Sent::SnapBody(body)) => format!("a SNAP body of {} bytes", body.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::disk::{snap_tree, Replica};
    use crate::zab::PacketType;

    fn stream_of(packets: &[QuorumPacket], body: &Bytes) -> (Vec<u8>, Vec<Sent>) {
        let mut bytes = Vec::new();
        let mut sent = Vec::new();
        for packet in packets {
            packet.encode(&mut bytes);
            sent.push(Sent::Packet(packet.clone()));
            if packet.kind == PacketType::Snap as i32 {
                bytes.extend_from_slice(body);
                sent.push(Sent::SnapBody(body.clone()));
            }
        }
        (bytes, sent)
    }

    fn run(seed: u64, bug: Option<ReadBug>) -> Result<Vec<Decoded>, String> {
        let entries: Vec<_> = (1..=200)
            .map(|z| (z, Bytes::copy_from_slice(&(z as u64).to_be_bytes())))
            .collect();
        let body = Replica {
            entries,
            applied: 200,
        }
        .encode();
        let packets = [
            QuorumPacket::bare(PacketType::LeaderInfo, 1 << 32),
            QuorumPacket::bare(PacketType::Snap, 200),
            QuorumPacket::with_data(PacketType::Proposal, 201, vec![7; 300]),
            QuorumPacket::bare(PacketType::NewLeader, 1 << 32),
        ];
        let (bytes, sent) = stream_of(&packets, &body);
        let mut rng = Rng::new(seed);
        let mut rx = Receiver::new(true);
        for s in sent {
            rx.expect(s);
        }
        for segment in segments(&mut rng, Bytes::from(bytes)) {
            rx.arrive(segment);
        }
        let mut out = Vec::new();
        while rx.unread() > 0 {
            out.extend(rx.read(&mut rng, bug)?);
        }
        rx.check_drained()?;
        Ok(out)
    }

    #[test]
    fn every_split_decodes_to_what_was_written() {
        let mut empty = Vec::new();
        snap_tree(&[]).encode(&mut empty);
        assert!(
            empty.len() > 20_000,
            "an empty state's body is {} bytes",
            empty.len()
        );
        for seed in 0..200 {
            let decoded = run(seed, None).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            assert_eq!(decoded.len(), 5, "seed {seed}");
            assert!(matches!(&decoded[2], Decoded::SnapBody(body) if body.len() > 30_000));
        }
    }

    #[test]
    fn a_read_bug_is_caught() {
        for bug in [ReadBug::DropsRemainder, ReadBug::CutSnapIsError] {
            // Not every split cuts a record (a read may end exactly at the
            // end of the stream); most do.
            let failed = (0..100)
                .filter(|seed| run(*seed, Some(bug)).is_err())
                .count();
            assert!(
                failed >= 60,
                "{bug:?} caught in only {failed} of 100 splits"
            );
        }
    }
}
