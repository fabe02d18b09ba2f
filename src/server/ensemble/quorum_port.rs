//! The quorum port: the unframed stream of jute `QuorumPacket`s between a
//! leader and each learner (ZAB-WIRE-FACTS §2.1), with the SNAP's DataTree
//! written inline after the SNAP packet.
//!
//! Each connection has a reader thread (packets → the consensus thread) and
//! a writer thread. The consensus thread gathers everything it sends to one
//! peer in a loop turn into one buffer, so a burst of PROPOSALs and COMMITs
//! leaves in one socket write; the writer merges whatever else queued up
//! while it was writing.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use crate::protocol::jute::{DecodeError, Reader};
use crate::zab::wire::{quorum_packet_bytes, PacketType, QuorumPacket, SnapTree, WireError};
use crate::zab::{ConnId, Input};

use super::core::CoreInput;

struct Conn {
    queue: flume::Sender<Vec<u8>>,
    stream: TcpStream,
}

pub struct QuorumPort {
    conns: Mutex<HashMap<ConnId, Conn>>,
    next_conn: AtomicU64,
    core: flume::Sender<CoreInput>,
    buffer_bytes_max: usize,
    no_delay: bool,
}

impl QuorumPort {
    pub fn new(
        core: flume::Sender<CoreInput>,
        buffer_bytes_max: usize,
        no_delay: bool,
    ) -> Arc<QuorumPort> {
        Arc::new(QuorumPort {
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            core,
            buffer_bytes_max,
            no_delay,
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
        let (queue, outgoing) = flume::unbounded::<Vec<u8>>();
        self.lock().insert(conn, Conn { queue, stream });
        let _ = self.core.send(CoreInput::Zab(Input::QuorumConnected(conn)));
        let _ = std::thread::Builder::new()
            .name(format!("paddock-quorum-send-{conn}"))
            .spawn(move || {
                while let Ok(mut bytes) = outgoing.recv() {
                    while let Ok(more) = outgoing.try_recv() {
                        bytes.extend_from_slice(&more);
                    }
                    if writer.write_all(&bytes).is_err() {
                        let _ = writer.shutdown(Shutdown::Both);
                        break;
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

    /// Queues bytes (whole packets) for a connection.
    pub fn send(&self, conn: ConnId, bytes: Vec<u8>) {
        if let Some(c) = self.lock().get(&conn) {
            let _ = c.queue.send(bytes);
        }
    }

    /// Closes a connection; its reader then reports `QuorumClosed`.
    pub fn close(&self, conn: ConnId) {
        if let Some(c) = self.lock().remove(&conn) {
            let _ = c.stream.shutdown(Shutdown::Both);
        }
    }

    fn read_loop(
        &self,
        conn: ConnId,
        mut stream: TcpStream,
        reads_snap_bodies: bool,
    ) -> Result<(), String> {
        let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
        let mut chunk = vec![0u8; 64 * 1024];
        let mut expect_snap_body = false;
        // Re-parsing a large SNAP body for every chunk read would be
        // quadratic: retry when the buffer has doubled, or when the
        // stream pauses (the body may end just short of that).
        let mut snap_retry_at = 0usize;
        let mut paused = false;
        let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
        loop {
            loop {
                if expect_snap_body {
                    if buf.len() < snap_retry_at && !paused {
                        break;
                    }
                    let mut r = Reader::new(&buf);
                    match SnapTree::decode(&mut r) {
                        Ok(_) => {
                            let n = r.position();
                            let body = Bytes::copy_from_slice(&buf[..n]);
                            buf.drain(..n);
                            expect_snap_body = false;
                            self.deliver(Input::SnapBody { conn, body })?;
                            continue;
                        }
                        Err(WireError::Decode(DecodeError::Truncated { .. })) => {
                            snap_retry_at = buf.len() * 2;
                            break;
                        }
                        Err(e) => return Err(format!("bad SNAP body: {e}")),
                    }
                }
                match quorum_packet_bytes(&buf, self.buffer_bytes_max) {
                    Ok(Some(n)) => {
                        let packet = QuorumPacket::decode(&buf[..n])
                            .map_err(|e| format!("bad quorum packet: {e}"))?;
                        buf.drain(..n);
                        if reads_snap_bodies && packet.kind == PacketType::Snap as i32 {
                            expect_snap_body = true;
                        }
                        self.deliver(Input::Packet { conn, packet })?;
                    }
                    Ok(None) => break,
                    Err(e) => return Err(format!("bad quorum packet: {e}")),
                }
            }
            paused = false;
            match stream.read(&mut chunk) {
                Ok(0) => return Ok(()),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    paused = true
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    fn deliver(&self, input: Input) -> Result<(), String> {
        self.core
            .send(CoreInput::Zab(input))
            .map_err(|_| "the consensus thread is gone".to_string())
    }
}
