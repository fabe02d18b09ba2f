//! The quorum port: the unframed stream of jute `QuorumPacket`s between a
//! leader and each learner (ZAB-WIRE-FACTS §2.1), with the SNAP's DataTree
//! written inline after the SNAP packet.
//!
//! Each connection has a reader thread (packets → the consensus thread) and
//! a writer thread. The consensus thread gathers everything it sends to one
//! peer in a loop turn into one buffer, so a burst of PROPOSALs and COMMITs
//! leaves in one socket write. That write is tried at once from the
//! consensus thread, without blocking (`MSG_DONTWAIT`), when the writer has
//! nothing queued: on a healthy link the kernel takes it whole and no thread
//! is woken for it (a profile of the 3-server set benchmark had context
//! switches as the largest single cost). What the socket does not take —
//! the peer is slow, its window is full — goes to the writer thread, which
//! blocks on it so the consensus thread never does, and merges whatever
//! else queued up while it was writing. Order holds because the consensus
//! thread writes directly only when the writer's queue is empty.
//!
//! A SNAP body is not a buffer: `send_stream` hands the writer thread a
//! producer that serializes the tree a piece at a time, queued in order
//! with the packets around it.
//!
//! Each read's packets reach the consensus thread as one input. A SNAP
//! body is decoded and loaded as it streams in (see `read_loop`).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::data_tree::SnapLoader;
#[cfg(test)]
use crate::zab::wire::QuorumPacket;
use crate::zab::wire::{PacketType, QuorumItem, QuorumStream, WireError};
use crate::zab::{ConnId, Input};

use super::core::CoreInput;

/// Bytes asked of the socket per read.
const READ_BYTES: usize = 64 * 1024;

/// Bytes the writer thread asks a stream for per socket write.
const STREAM_PIECE_BYTES: usize = 1 << 20;

/// Appends the next piece of a streamed body; true when it was the last.
type Produce = Box<dyn FnMut(&mut Vec<u8>) -> bool + Send>;

/// What the writer thread writes, in order.
enum Outgoing {
    Bytes(Vec<u8>),
    /// A body produced piece by piece on the writer thread (a SNAP body):
    /// the closure appends the next piece and says whether it was the last.
    Stream(Produce),
}

struct Conn {
    queue: flume::Sender<Outgoing>,
    /// Buffers handed to the writer thread and not yet written whole.
    queued: Arc<AtomicUsize>,
    stream: TcpStream,
}

pub struct QuorumPort {
    conns: Mutex<HashMap<ConnId, Conn>>,
    next_conn: AtomicU64,
    core: flume::Sender<CoreInput>,
    buffer_bytes_max: usize,
    no_delay: bool,
    /// A learner closes its connection when the leader sends nothing for
    /// this long (ZooKeeper's learner socket timeout, `initLimit` ticks):
    /// a leader that dies in the middle of a SNAP without closing the
    /// connection must not leave the learner waiting for the rest forever.
    learner_read_timeout: Duration,
}

impl QuorumPort {
    pub fn new(
        core: flume::Sender<CoreInput>,
        buffer_bytes_max: usize,
        no_delay: bool,
        learner_read_timeout: Duration,
    ) -> Arc<QuorumPort> {
        Arc::new(QuorumPort {
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            core,
            buffer_bytes_max,
            no_delay,
            learner_read_timeout,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ConnId, Conn>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Accepts learners on `listener` for as long as the process runs; each
    /// is reported as `QuorumConnected` (the consensus thread closes it at
    /// once unless it leads).
    pub fn listen(self: &Arc<Self>, listener: TcpListener) -> std::io::Result<()> {
        let port = self.clone();
        std::thread::Builder::new()
            .name("paddock-quorum-accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let conn = port.next_conn.fetch_add(1, Ordering::Relaxed);
                    // The leader never reads a SNAP body.
                    port.install(conn, stream, false);
                }
            })?;
        Ok(())
    }

    /// Opens a connection to the leader in the background: up to 5 tries,
    /// 100 ms apart (as `Learner.connectToLeader`), each bounded by
    /// `timeout`. Reports `QuorumConnected(conn)` or `QuorumClosed(conn)`.
    pub fn connect(self: &Arc<Self>, address: SocketAddr, timeout: Duration) -> ConnId {
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let port = self.clone();
        let spawned = std::thread::Builder::new()
            .name("paddock-quorum-connect".into())
            .spawn(move || {
                for attempt in 0..5 {
                    match TcpStream::connect_timeout(&address, timeout) {
                        Ok(stream) => {
                            port.install(conn, stream, true);
                            return;
                        }
                        Err(e) => {
                            log::debug!(
                                "cannot connect to the leader at {address} (try {}): {e}",
                                attempt + 1
                            );
                            std::thread::sleep(Duration::from_millis(100));
                        }
                    }
                }
                log::warn!("cannot connect to the leader at {address}");
                let _ = port.core.send(CoreInput::Zab(Input::QuorumClosed(conn)));
            });
        if spawned.is_err() {
            let _ = self.core.send(CoreInput::Zab(Input::QuorumClosed(conn)));
        }
        conn
    }

    fn install(self: &Arc<Self>, conn: ConnId, stream: TcpStream, reads_snap_bodies: bool) {
        let _ = stream.set_nodelay(self.no_delay);
        let (Ok(reader), Ok(mut writer)) = (stream.try_clone(), stream.try_clone()) else {
            let _ = self.core.send(CoreInput::Zab(Input::QuorumClosed(conn)));
            return;
        };
        let (queue, outgoing) = flume::unbounded::<Outgoing>();
        let queued = Arc::new(AtomicUsize::new(0));
        let written = queued.clone();
        self.lock().insert(
            conn,
            Conn {
                queue,
                queued,
                stream,
            },
        );
        let _ = self.core.send(CoreInput::Zab(Input::QuorumConnected(conn)));
        let _ = std::thread::Builder::new()
            .name(format!("paddock-quorum-send-{conn}"))
            .spawn(move || {
                let mut next = outgoing.recv().ok();
                while let Some(item) = next.take() {
                    let mut buffers = 1;
                    let written_whole = match item {
                        Outgoing::Bytes(mut bytes) => {
                            // Merge what queued up meanwhile, up to a stream.
                            while let Ok(more) = outgoing.try_recv() {
                                match more {
                                    Outgoing::Bytes(more) => {
                                        bytes.extend_from_slice(&more);
                                        buffers += 1;
                                    }
                                    stream @ Outgoing::Stream(_) => {
                                        next = Some(stream);
                                        break;
                                    }
                                }
                            }
                            writer.write_all(&bytes).is_ok()
                        }
                        Outgoing::Stream(mut produce) => {
                            let mut piece = Vec::with_capacity(STREAM_PIECE_BYTES + 64 * 1024);
                            loop {
                                piece.clear();
                                let last = produce(&mut piece);
                                if writer.write_all(&piece).is_err() {
                                    break false;
                                }
                                if last {
                                    break true;
                                }
                            }
                        }
                    };
                    if !written_whole {
                        let _ = writer.shutdown(Shutdown::Both);
                        break;
                    }
                    // Only now may the consensus thread write directly again.
                    written.fetch_sub(buffers, Ordering::AcqRel);
                    if next.is_none() {
                        next = outgoing.recv().ok();
                    }
                }
            });
        let port = self.clone();
        let _ = std::thread::Builder::new()
            .name(format!("paddock-quorum-recv-{conn}"))
            .spawn(move || {
                if let Err(why) = port.read_loop(conn, reader, reads_snap_bodies) {
                    log::warn!("quorum connection {conn}: {why}; closing");
                }
                port.close(conn);
                let _ = port.core.send(CoreInput::Zab(Input::QuorumClosed(conn)));
            });
    }

    /// Sends bytes (whole packets) on a connection: directly if the socket
    /// takes them now and nothing is queued before them, the rest through
    /// the writer thread. Called from the consensus thread only (the one
    /// sender, so the queue cannot fill between the check and the write).
    pub fn send(&self, conn: ConnId, mut bytes: Vec<u8>) {
        let conns = self.lock();
        let Some(c) = conns.get(&conn) else {
            return;
        };
        if c.queued.load(Ordering::Acquire) == 0 {
            let sent = send_without_blocking(&c.stream, &bytes);
            if sent == bytes.len() {
                return;
            }
            bytes.drain(..sent);
        }
        c.queued.fetch_add(1, Ordering::AcqRel);
        let _ = c.queue.send(Outgoing::Bytes(bytes));
    }

    /// Sends a body produced piece by piece by `produce` on the writer
    /// thread (each call appends at least `STREAM_PIECE_BYTES` unless it is
    /// the last, which returns true), after everything sent before it and
    /// before everything sent after it. The calling thread never waits for
    /// it: a SNAP body of any size leaves while the leader keeps committing,
    /// and memory for it is one piece.
    pub fn send_stream(
        &self,
        conn: ConnId,
        mut produce: impl FnMut(&mut Vec<u8>, usize) -> bool + Send + 'static,
    ) {
        let conns = self.lock();
        let Some(c) = conns.get(&conn) else {
            return;
        };
        c.queued.fetch_add(1, Ordering::AcqRel);
        let _ = c
            .queue
            .send(Outgoing::Stream(Box::new(move |out: &mut Vec<u8>| {
                produce(out, STREAM_PIECE_BYTES)
            })));
    }

    /// Closes a connection; its reader then reports `QuorumClosed`.
    pub fn close(&self, conn: ConnId) {
        if let Some(c) = self.lock().remove(&conn) {
            let _ = c.stream.shutdown(Shutdown::Both);
        }
    }

    /// Reads packets until the connection closes. After a SNAP packet the
    /// DataTree that follows inline is decoded record by record as it
    /// arrives ([`QuorumStream`]) and loaded straight into a tree
    /// ([`SnapLoader`]); the loaded tree goes to the consensus thread as
    /// `SnapLoaded`. Between reads this keeps at most one unfinished record
    /// or packet, whatever the size of the snapshot.
    fn read_loop(
        &self,
        conn: ConnId,
        mut stream: TcpStream,
        reads_snap_bodies: bool,
    ) -> Result<(), String> {
        let mut decoder = QuorumStream::new(self.buffer_bytes_max, reads_snap_bodies);
        if reads_snap_bodies {
            let _ = stream.set_read_timeout(Some(self.learner_read_timeout));
        }
        let mut buf: Vec<u8> = Vec::with_capacity(READ_BYTES);
        let mut chunk = vec![0u8; READ_BYTES];
        // Packets decoded from one read, handed over as one input.
        let mut parsed: Vec<Input> = Vec::new();
        // The tree of the SNAP body being read, and the SNAP's zxid.
        let mut snap: Option<(i64, SnapLoader)> = None;
        loop {
            let mut loaded = None;
            let used = decoder
                .feed(&buf, &mut |item| {
                    match item {
                        QuorumItem::Packet(packet) => {
                            if reads_snap_bodies && packet.kind == PacketType::Snap as i32 {
                                snap = Some((packet.zxid, SnapLoader::new()));
                            }
                            parsed.push(Input::Packet { conn, packet });
                        }
                        QuorumItem::Snap(item) => {
                            let (_, loader) = snap.as_mut().expect("SNAP records after a SNAP");
                            loader.add(item).map_err(|e| WireError::Malformed {
                                what: "SNAP body",
                                detail: e.to_string(),
                            })?;
                        }
                        QuorumItem::SnapEnd => {
                            let (zxid, loader) = snap.take().expect("a SNAP body ends");
                            let tree = loader.finish(zxid).map_err(|e| WireError::Malformed {
                                what: "SNAP body",
                                detail: e.to_string(),
                            })?;
                            loaded = Some(tree);
                        }
                    }
                    Ok(())
                })
                .map_err(|e| match &snap {
                    Some((_, loader)) => format!("{e} ({} nodes loaded)", loader.node_count()),
                    None => e.to_string(),
                })?;
            buf.drain(..used);
            self.hand_over(&mut parsed)?;
            if let Some(tree) = loaded {
                self.core
                    .send(CoreInput::SnapLoaded {
                        conn,
                        tree: Box::new(tree),
                    })
                    .map_err(|_| "the consensus thread is gone".to_string())?;
                // `feed` stopped at the end of the body: what followed it
                // is still in `buf`.
                continue;
            }
            match stream.read(&mut chunk) {
                Ok(0) => return Ok(()),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(format!(
                        "nothing from the leader for {:?}{}",
                        self.learner_read_timeout,
                        if decoder.in_snap_body() {
                            " in the middle of a SNAP body"
                        } else {
                            ""
                        }
                    ))
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    /// Hands the packets parsed so far to the consensus thread, as one input.
    fn hand_over(&self, parsed: &mut Vec<Input>) -> Result<(), String> {
        match parsed.len() {
            0 => Ok(()),
            1 => self.deliver(parsed.pop().expect("one input")),
            _ => self
                .core
                .send(CoreInput::ZabMany(std::mem::take(parsed)))
                .map_err(|_| "the consensus thread is gone".to_string()),
        }
    }

    fn deliver(&self, input: Input) -> Result<(), String> {
        self.core
            .send(CoreInput::Zab(input))
            .map_err(|_| "the consensus thread is gone".to_string())
    }
}

/// `send(2)` with `MSG_DONTWAIT`: as much of `bytes` as the socket takes
/// now, without blocking (0 when it takes nothing or has failed: the writer
/// thread then meets the error and closes the connection).
fn send_without_blocking(stream: &TcpStream, bytes: &[u8]) -> usize {
    let mut sent = 0;
    while sent < bytes.len() {
        let rest = &bytes[sent..];
        // SAFETY: `rest` is a live buffer of `rest.len()` bytes and the fd
        // belongs to `stream`, which outlives the call.
        let n = unsafe {
            libc::send(
                stream.as_raw_fd(),
                rest.as_ptr().cast(),
                rest.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if n > 0 {
            sent += n as usize;
        } else if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
        {
            continue;
        } else {
            break;
        }
    }
    sent
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Packets reach the other end whole and in order whether the socket
    /// took them directly or the writer thread had to finish them: a
    /// burst far larger than a loopback socket's buffer, then small ones
    /// that must queue behind it.
    #[test]
    fn direct_and_queued_writes_arrive_in_order() {
        let (leader_tx, leader_rx) = flume::unbounded();
        let (learner_tx, learner_rx) = flume::unbounded();
        let leader = QuorumPort::new(leader_tx, 64 << 20, true, Duration::from_secs(20));
        let learner = QuorumPort::new(learner_tx, 64 << 20, true, Duration::from_secs(20));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        leader.listen(listener).expect("listen");
        let conn = learner.connect(address, Duration::from_secs(5));
        let deadline = Instant::now() + Duration::from_secs(20);
        let next = |rx: &flume::Receiver<CoreInput>| -> Vec<Input> {
            match rx
                .recv_deadline(deadline)
                .expect("an input before the deadline")
            {
                CoreInput::Zab(input) => vec![input],
                CoreInput::ZabMany(inputs) => inputs,
                _ => Vec::new(),
            }
        };
        assert!(matches!(next(&learner_rx)[..], [Input::QuorumConnected(c)] if c == conn));
        let accepted = match next(&leader_rx)[..] {
            [Input::QuorumConnected(c)] => c,
            _ => panic!("the leader did not see the connection"),
        };

        let payload = vec![7u8; 1 << 20];
        let mut burst = Vec::new();
        for zxid in 1..=24 {
            QuorumPacket::with_data(PacketType::Proposal, zxid, payload.clone()).encode(&mut burst);
        }
        leader.send(accepted, burst);
        for zxid in 25..=200 {
            let mut small = Vec::new();
            QuorumPacket::bare(PacketType::Commit, zxid).encode(&mut small);
            leader.send(accepted, small);
        }

        let mut expected = 1;
        while expected <= 200 {
            for input in next(&learner_rx) {
                let Input::Packet { conn: c, packet } = input else {
                    panic!("unexpected input while reading packets");
                };
                assert_eq!(c, conn);
                assert_eq!(packet.zxid, expected, "packets out of order");
                if expected <= 24 {
                    assert_eq!(packet.kind, PacketType::Proposal as i32);
                    assert_eq!(packet.data.as_deref(), Some(&payload[..]));
                } else {
                    assert_eq!(packet.kind, PacketType::Commit as i32);
                }
                expected += 1;
            }
        }
        leader.close(accepted);
        learner.close(conn);
    }
}
