//! The election port as ZooKeeper 3.8's `QuorumCnxManager` runs it: one
//! connection per peer, carrying length-prefixed FastLeaderElection
//! notifications.
//!
//! The rules a ZooKeeper peer holds us to (ZAB-WIRE-FACTS §1.1–1.2):
//!
//! - The initiator writes the V1 header (protocol version −65536, its sid,
//!   its election address) in one segment.
//! - Only a connection initiated by the larger sid survives: a smaller
//!   peer that connects to us is closed and called back; when we must reach
//!   a larger peer we connect, send the header and close, and it calls us.
//! - On every new connection the last message sent to that peer is sent
//!   again (so the state machine must take duplicates, and does).
//!
//! Plain threads with blocking sockets: a handful of peers, a few small
//! messages a second, and nothing here may hold up the consensus thread
//! (sends only queue).

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::zab::wire::{ElectionHeader, ElectionItem, ElectionStream, Notification};
use crate::zab::{Input, Sid};

use super::core::CoreInput;

/// One live connection to a peer.
struct Link {
    generation: u64,
    queue: flume::Sender<Vec<u8>>,
    stream: TcpStream,
}

struct State {
    links: HashMap<Sid, Link>,
    /// The last frame sent to each peer, resent on every new connection.
    last_sent: HashMap<Sid, Vec<u8>>,
    connecting: HashSet<Sid>,
    next_generation: u64,
}

pub struct ElectionPort {
    my_id: Sid,
    /// What our header names as our election address (`host:port`).
    my_address: String,
    peers: HashMap<Sid, SocketAddr>,
    connect_timeout: Duration,
    handshake_timeout: Duration,
    state: Mutex<State>,
    core: flume::Sender<CoreInput>,
}

impl ElectionPort {
    /// Listens on `listen` and returns the port's handle.
    pub fn start(
        my_id: Sid,
        my_address: String,
        listen: SocketAddr,
        peers: HashMap<Sid, SocketAddr>,
        connect_timeout: Duration,
        handshake_timeout: Duration,
        core: flume::Sender<CoreInput>,
    ) -> std::io::Result<Arc<ElectionPort>> {
        let listener = bind(listen)?;
        let port = Arc::new(ElectionPort {
            my_id,
            my_address,
            peers,
            connect_timeout,
            handshake_timeout,
            state: Mutex::new(State {
                links: HashMap::new(),
                last_sent: HashMap::new(),
                connecting: HashSet::new(),
                next_generation: 1,
            }),
            core,
        });
        let accepting = port.clone();
        std::thread::Builder::new()
            .name("paddock-election-accept".into())
            .spawn(move || accepting.accept_loop(listener))?;
        Ok(port)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a notification for `to`, connecting first when there is no
    /// connection (the message then goes out as the connection's first).
    pub fn send(self: &Arc<Self>, to: Sid, n: &Notification) {
        let mut frame = Vec::with_capacity(64 + n.config.as_ref().map_or(0, |c| c.len()));
        n.encode_frame(&mut frame);
        let mut state = self.lock();
        state.last_sent.insert(to, frame.clone());
        if let Some(link) = state.links.get(&to) {
            if link.queue.send(frame).is_ok() {
                return;
            }
        }
        drop(state);
        self.connect_in_background(to);
    }

    fn connect_in_background(self: &Arc<Self>, to: Sid) {
        if !self.lock().connecting.insert(to) {
            return;
        }
        let port = self.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("paddock-election-connect-{to}"))
            .spawn(move || {
                port.connect_one(to);
                port.lock().connecting.remove(&to);
            });
        if spawned.is_err() {
            self.lock().connecting.remove(&to);
        }
    }

    fn connect_one(self: &Arc<Self>, to: Sid) {
        let Some(&address) = self.peers.get(&to) else {
            return;
        };
        let mut stream = match TcpStream::connect_timeout(&address, self.connect_timeout) {
            Ok(stream) => stream,
            Err(e) => {
                log::debug!("cannot open election channel to {to} at {address}: {e}");
                return;
            }
        };
        let _ = stream.set_nodelay(true);
        let mut header = Vec::new();
        ElectionHeader::v1(self.my_id, &self.my_address).encode(&mut header);
        if stream.write_all(&header).is_err() {
            return;
        }
        if to > self.my_id {
            // As QuorumCnxManager: the larger sid keeps the connection it
            // initiates; it will call us back.
            log::debug!("have smaller server identifier, so dropping the connection to {to}");
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        self.install(to, stream, ElectionStream::new(false), Vec::new());
    }

    fn accept_loop(self: Arc<Self>, listener: TcpListener) {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let port = self.clone();
            let _ = std::thread::Builder::new()
                .name("paddock-election-handshake".into())
                .spawn(move || port.handshake(stream));
        }
    }

    fn handshake(self: Arc<Self>, mut stream: TcpStream) {
        let _ = stream.set_read_timeout(Some(self.handshake_timeout));
        let mut decoder = ElectionStream::new(true);
        let mut buf = Vec::new();
        let header = loop {
            let mut header = None;
            match decoder.feed(&buf, &mut |item| {
                if let ElectionItem::Header(h) = item {
                    header = Some(h);
                }
                false
            }) {
                Ok(used) => drop(buf.drain(..used)),
                Err(e) => {
                    log::warn!("bad election connection: {e}; closing");
                    return;
                }
            }
            if let Some(header) = header {
                break header;
            }
            let mut chunk = [0u8; 512];
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let _ = stream.set_read_timeout(None);
        let _ = stream.set_nodelay(true);
        let sid = header.sid;
        if sid < self.my_id {
            // Only the larger sid's connection survives: call it back.
            let _ = stream.shutdown(Shutdown::Both);
            self.connect_in_background(sid);
            return;
        }
        if sid == self.my_id {
            log::warn!("election connection from a server with my own id {sid}");
        }
        // Notifications may have come in the same read as the header.
        self.install(sid, stream, decoder, buf);
    }

    /// Makes `stream` the connection to `sid`, replacing any older one,
    /// and starts its writer and reader.
    fn install(
        self: &Arc<Self>,
        sid: Sid,
        stream: TcpStream,
        decoder: ElectionStream,
        unread: Vec<u8>,
    ) {
        let (queue, outgoing) = flume::unbounded::<Vec<u8>>();
        let Ok(reader) = stream.try_clone() else {
            return;
        };
        let Ok(mut writer) = stream.try_clone() else {
            return;
        };
        let generation;
        let was_up;
        {
            let mut state = self.lock();
            generation = state.next_generation;
            state.next_generation += 1;
            if let Some(last) = state.last_sent.get(&sid) {
                let _ = queue.send(last.clone());
            }
            let old = state.links.insert(
                sid,
                Link {
                    generation,
                    queue,
                    stream,
                },
            );
            was_up = old.is_some();
            if let Some(old) = old {
                let _ = old.stream.shutdown(Shutdown::Both);
            }
        }
        if !was_up {
            let _ = self.core.send(CoreInput::Zab(Input::ElectionUp(sid)));
        }
        let _ = std::thread::Builder::new()
            .name(format!("paddock-election-send-{sid}"))
            .spawn(move || {
                while let Ok(frame) = outgoing.recv() {
                    if writer.write_all(&frame).is_err() {
                        let _ = writer.shutdown(Shutdown::Both);
                        break;
                    }
                }
            });
        let port = self.clone();
        let _ = std::thread::Builder::new()
            .name(format!("paddock-election-recv-{sid}"))
            .spawn(move || port.read_loop(sid, generation, reader, decoder, unread));
    }

    /// Reads notifications until the connection closes; `unread` holds what
    /// the handshake read past the header.
    fn read_loop(
        self: Arc<Self>,
        sid: Sid,
        generation: u64,
        mut stream: TcpStream,
        mut decoder: ElectionStream,
        mut buf: Vec<u8>,
    ) {
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let mut delivered = true;
            let fed = decoder.feed(&buf, &mut |item| match item {
                ElectionItem::Notification(Ok(n)) => {
                    let input = Input::Notification { from: sid, n };
                    delivered = self.core.send(CoreInput::Zab(input)).is_ok();
                    delivered
                }
                // ZooKeeper drops a message it cannot read and keeps the
                // connection.
                ElectionItem::Notification(Err(e)) => {
                    log::warn!("ignoring a bad notification from {sid}: {e}");
                    true
                }
                ElectionItem::Header(_) => true,
            });
            match fed {
                Ok(used) => drop(buf.drain(..used)),
                Err(e) => {
                    log::warn!("bad election stream from {sid}: {e}; closing");
                    break;
                }
            }
            if !delivered {
                break;
            }
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let _ = stream.shutdown(Shutdown::Both);
        let mut state = self.lock();
        if state.links.get(&sid).map(|l| l.generation) == Some(generation) {
            state.links.remove(&sid);
            drop(state);
            let _ = self.core.send(CoreInput::Zab(Input::ElectionDown(sid)));
        }
    }
}

/// Binds a listener with SO_REUSEADDR, so a restarted server gets its port
/// back while old connections linger in TIME_WAIT.
pub fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(address),
        socket2::Type::STREAM,
        None,
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(64)?;
    Ok(socket.into())
}
