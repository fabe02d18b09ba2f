//! A small blocking ZooKeeper client over `std::net::TcpStream`, for tests and
//! tools. One request at a time: `call` sends a request and reads frames until
//! the matching reply, keeping any watch notifications (xid -1) that arrive in
//! between for `take_events`.
//!
//! A read that times out part-way through a frame leaves the connection out
//! of step; drop the client after any `ClientError::Io`.
//!
//! It sends no pings by itself (call `ping` when a test holds a session idle),
//! and every socket read and write has a timeout so nothing hangs.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::protocol::frame::{self, FrameError};
use crate::protocol::jute::{DecodeError, Reader};
use crate::protocol::records::{
    ConnectRequest, ConnectResponse, CreateRequest, DeleteRequest, PathWatch, ReplyHeader, Request,
    Response, SetDataRequest,
};
use crate::protocol::types::{
    op, xid, Acl, ErrorCode, Stat, WatcherEvent, JUTE_MAXBUFFER_DEFAULT_BYTES,
};

/// Socket read/write timeout unless changed with `set_io_timeout`.
pub const DEFAULT_IO_TIMEOUT_MS: u64 = 10_000;
/// Session timeout asked for by `reconnect`.
pub const DEFAULT_SESSION_TIMEOUT_MS: i32 = 10_000;
/// Length of a session password (`ZooKeeper` uses 16 bytes).
pub const PASSWD_BYTES: usize = 16;

/// Why a call failed at the transport level. ZooKeeper error codes are not
/// here: they come back as `Ok(Err(code))`.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    #[error("bad frame from server: {0}")]
    Frame(#[from] FrameError),
    #[error("undecodable reply: {0}")]
    Decode(#[from] DecodeError),
    #[error("reply xid {got} does not match request xid {expected}")]
    XidMismatch { expected: i32, got: i32 },
    #[error("unknown error code {0} in reply header")]
    UnknownErrorCode(i32),
    #[error("unexpected reply {0:?}")]
    UnexpectedResponse(Box<Response>),
}

/// One connection with one session.
pub struct Client {
    stream: TcpStream,
    session_id: i64,
    passwd: Vec<u8>,
    negotiated_timeout_ms: i32,
    read_only: bool,
    next_xid: i32,
    last_zxid_seen: i64,
    events: Vec<WatcherEvent>,
    max_frame_bytes: usize,
    io_timeout: Duration,
}

impl Client {
    /// Connects and creates a new session.
    pub fn connect(addr: impl ToSocketAddrs, session_timeout_ms: i32) -> io::Result<Client> {
        Client::handshake(addr, session_timeout_ms, 0, vec![0; PASSWD_BYTES])
    }

    /// Connects and resumes an existing session.
    pub fn reconnect(
        addr: impl ToSocketAddrs,
        session_id: i64,
        passwd: &[u8],
    ) -> io::Result<Client> {
        Client::handshake(
            addr,
            DEFAULT_SESSION_TIMEOUT_MS,
            session_id,
            passwd.to_vec(),
        )
    }

    fn handshake(
        addr: impl ToSocketAddrs,
        session_timeout_ms: i32,
        session_id: i64,
        passwd: Vec<u8>,
    ) -> io::Result<Client> {
        let stream = connect_with_timeout(addr, Duration::from_millis(DEFAULT_IO_TIMEOUT_MS))?;
        stream.set_nodelay(true)?;
        let mut client = Client {
            stream,
            session_id,
            passwd,
            negotiated_timeout_ms: 0,
            read_only: false,
            next_xid: 1,
            last_zxid_seen: 0,
            events: Vec::new(),
            max_frame_bytes: JUTE_MAXBUFFER_DEFAULT_BYTES,
            io_timeout: Duration::from_millis(DEFAULT_IO_TIMEOUT_MS),
        };
        client.set_io_timeout(Duration::from_millis(DEFAULT_IO_TIMEOUT_MS))?;
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms: session_timeout_ms,
            session_id,
            passwd: client.passwd.clone(),
            read_only: false,
        };
        let mut out = Vec::new();
        frame::write_connect_request(&mut out, &request);
        client.stream.write_all(&out)?;
        let payload = client.read_frame().map_err(into_io)?;
        let response = ConnectResponse::decode(&payload).map_err(|e| into_io(e.into()))?;
        // ZooKeeper answers an expired or unknown session with timeout 0.
        if response.timeout_ms <= 0 {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "session expired (connect answered with timeout 0)",
            ));
        }
        client.session_id = response.session_id;
        client.passwd = response.passwd;
        client.negotiated_timeout_ms = response.timeout_ms;
        client.read_only = response.read_only;
        Ok(client)
    }

    pub fn session_id(&self) -> i64 {
        self.session_id
    }
    pub fn passwd(&self) -> &[u8] {
        &self.passwd
    }
    /// The session timeout the server granted.
    pub fn session_timeout_ms(&self) -> i32 {
        self.negotiated_timeout_ms
    }
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }
    /// The highest zxid seen in any reply header.
    pub fn last_zxid_seen(&self) -> i64 {
        self.last_zxid_seen
    }

    /// Sets the read and write timeout of the socket.
    pub fn set_io_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.io_timeout = timeout;
        self.stream.set_read_timeout(Some(timeout))?;
        self.stream.set_write_timeout(Some(timeout))
    }

    /// Sets the largest reply frame accepted (default: jute.maxbuffer).
    pub fn set_max_frame_bytes(&mut self, max_frame_bytes: usize) {
        self.max_frame_bytes = max_frame_bytes;
    }

    /// Watch notifications received so far, oldest first.
    pub fn take_events(&mut self) -> Vec<WatcherEvent> {
        std::mem::take(&mut self.events)
    }

    /// Waits up to `timeout` for at least one notification; returns what has
    /// arrived (empty on timeout).
    pub fn wait_for_events(&mut self, timeout: Duration) -> Result<Vec<WatcherEvent>, ClientError> {
        let deadline = Instant::now() + timeout;
        while self.events.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.stream.set_read_timeout(Some(left))?;
            let result = self.read_frame();
            self.stream
                .set_read_timeout(Some(Duration::from_millis(DEFAULT_IO_TIMEOUT_MS)))?;
            let payload = match result {
                Ok(p) => p,
                Err(ClientError::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break
                }
                Err(e) => return Err(e),
            };
            let mut r = Reader::new(&payload);
            let header = ReplyHeader::decode(&mut r)?;
            if header.xid == xid::NOTIFICATION {
                self.events.push(WatcherEvent::decode(&mut r)?);
            }
            // Anything else (a late ping reply) is dropped.
        }
        Ok(self.take_events())
    }

    /// Sends one request and waits for its reply. `Ok(Err(code))` is a
    /// ZooKeeper error reply.
    pub fn call(&mut self, request: &Request) -> Result<Result<Response, ErrorCode>, ClientError> {
        let request_xid = match request {
            Request::Ping => xid::PING,
            Request::Auth(_) => xid::AUTH,
            Request::SetWatches(_) | Request::SetWatches2(_) => xid::SET_WATCHES,
            _ => {
                let x = self.next_xid;
                self.next_xid = self.next_xid.checked_add(1).unwrap_or(1);
                x
            }
        };
        let mut out = Vec::new();
        frame::write_request(&mut out, request_xid, request);
        self.stream.write_all(&out)?;
        loop {
            let payload = self.read_frame()?;
            let mut r = Reader::new(&payload);
            let header = ReplyHeader::decode(&mut r)?;
            if header.xid == xid::NOTIFICATION {
                self.events.push(WatcherEvent::decode(&mut r)?);
                continue;
            }
            if header.xid != request_xid {
                if header.xid == xid::PING {
                    continue; // a late answer to an earlier ping
                }
                return Err(ClientError::XidMismatch {
                    expected: request_xid,
                    got: header.xid,
                });
            }
            if header.zxid > self.last_zxid_seen {
                self.last_zxid_seen = header.zxid;
            }
            if header.err != 0 {
                let code = ErrorCode::from_code(header.err)
                    .ok_or(ClientError::UnknownErrorCode(header.err))?;
                return Ok(Err(code));
            }
            return Ok(Ok(Response::decode(request.op_code(), r.rest())?));
        }
    }

    /// Creates a node with OPEN_ACL_UNSAFE; returns the created path.
    pub fn create(
        &mut self,
        path: &str,
        data: &[u8],
        flags: i32,
    ) -> Result<Result<String, ErrorCode>, ClientError> {
        let request = CreateRequest {
            path: path.to_string(),
            data: Bytes::copy_from_slice(data),
            acl: Acl::open_unsafe(),
            flags,
            ttl_ms: 0,
        };
        Ok(
            match self.call(&Request::Create {
                op: op::CREATE,
                request,
            })? {
                Ok(Response::Create { path }) => Ok(path),
                Ok(other) => return Err(ClientError::UnexpectedResponse(Box::new(other))),
                Err(code) => Err(code),
            },
        )
    }

    pub fn get_data(
        &mut self,
        path: &str,
    ) -> Result<Result<(Bytes, Stat), ErrorCode>, ClientError> {
        self.get_data_watch(path, false)
    }

    /// getData, leaving a data watch when `watch`.
    pub fn get_data_watch(
        &mut self,
        path: &str,
        watch: bool,
    ) -> Result<Result<(Bytes, Stat), ErrorCode>, ClientError> {
        let request = Request::GetData(PathWatch {
            path: path.to_string(),
            watch,
        });
        Ok(match self.call(&request)? {
            Ok(Response::GetData { data, stat }) => Ok((data, stat)),
            Ok(other) => return Err(ClientError::UnexpectedResponse(Box::new(other))),
            Err(code) => Err(code),
        })
    }

    /// exists, leaving a watch when `watch`. `Ok(Err(NoNode))` if absent.
    pub fn exists(
        &mut self,
        path: &str,
        watch: bool,
    ) -> Result<Result<Stat, ErrorCode>, ClientError> {
        let request = Request::Exists(PathWatch {
            path: path.to_string(),
            watch,
        });
        Ok(match self.call(&request)? {
            Ok(Response::Stat(stat)) => Ok(stat),
            Ok(other) => return Err(ClientError::UnexpectedResponse(Box::new(other))),
            Err(code) => Err(code),
        })
    }

    /// getChildren, leaving a child watch when `watch`.
    pub fn get_children(
        &mut self,
        path: &str,
        watch: bool,
    ) -> Result<Result<Vec<String>, ErrorCode>, ClientError> {
        let request = Request::GetChildren(PathWatch {
            path: path.to_string(),
            watch,
        });
        Ok(match self.call(&request)? {
            Ok(Response::GetChildren { children }) => Ok(children),
            Ok(other) => return Err(ClientError::UnexpectedResponse(Box::new(other))),
            Err(code) => Err(code),
        })
    }

    /// setData; `version` -1 matches any version.
    pub fn set_data(
        &mut self,
        path: &str,
        data: &[u8],
        version: i32,
    ) -> Result<Result<Stat, ErrorCode>, ClientError> {
        let request = Request::SetData(SetDataRequest {
            path: path.to_string(),
            data: Bytes::copy_from_slice(data),
            version,
        });
        Ok(match self.call(&request)? {
            Ok(Response::Stat(stat)) => Ok(stat),
            Ok(other) => return Err(ClientError::UnexpectedResponse(Box::new(other))),
            Err(code) => Err(code),
        })
    }

    /// delete; `version` -1 matches any version.
    pub fn delete(
        &mut self,
        path: &str,
        version: i32,
    ) -> Result<Result<(), ErrorCode>, ClientError> {
        let request = Request::Delete(DeleteRequest {
            path: path.to_string(),
            version,
        });
        Ok(self.call(&request)?.map(|_| ()))
    }

    /// Sends a ping and waits for its reply.
    pub fn ping(&mut self) -> Result<Result<(), ErrorCode>, ClientError> {
        Ok(self.call(&Request::Ping)?.map(|_| ()))
    }

    /// Closes the session (closeSession, wait for the reply) and the socket.
    pub fn close(mut self) -> Result<(), ClientError> {
        let result = self.call(&Request::CloseSession);
        // The server may already have closed its side; either way we are done.
        let _ = self.stream.shutdown(Shutdown::Both);
        result.map(|_| ())
    }

    /// Drops the connection without closing the session (it stays alive until
    /// it expires or someone reconnects to it).
    pub fn disconnect(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// Sends raw bytes on the connection (for tests of malformed input).
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads one frame's payload, checking the length before buffering it.
    fn read_frame(&mut self) -> Result<Vec<u8>, ClientError> {
        let mut prefix = [0u8; frame::LENGTH_PREFIX_BYTES];
        self.stream.read_exact(&mut prefix)?;
        let length = frame::check_length(i32::from_be_bytes(prefix), self.max_frame_bytes)?;
        let mut payload = vec![0u8; length];
        self.stream.read_exact(&mut payload)?;
        Ok(payload)
    }
}

fn connect_with_timeout(addr: impl ToSocketAddrs, timeout: Duration) -> io::Result<TcpStream> {
    let mut last_error = io::Error::new(io::ErrorKind::InvalidInput, "address resolved to nothing");
    for a in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

fn into_io(e: ClientError) -> io::Error {
    match e {
        ClientError::Io(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}

/// Sends a four-letter word on a fresh connection and returns everything the
/// server writes before it closes the connection.
pub fn four_letter(addr: impl ToSocketAddrs, word: &str) -> io::Result<String> {
    let mut stream = connect_with_timeout(addr, Duration::from_millis(DEFAULT_IO_TIMEOUT_MS))?;
    stream.set_read_timeout(Some(Duration::from_millis(DEFAULT_IO_TIMEOUT_MS)))?;
    stream.set_write_timeout(Some(Duration::from_millis(DEFAULT_IO_TIMEOUT_MS)))?;
    stream.write_all(word.as_bytes())?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::frame::{
        decode_request, write_connect_response, write_notification, write_reply,
    };
    use crate::protocol::records::RequestHeader;
    use crate::protocol::types::{EventType, KeeperState};
    use std::net::TcpListener;
    use std::thread;

    fn read_payload(stream: &mut TcpStream) -> Option<Vec<u8>> {
        let mut prefix = [0u8; 4];
        stream.read_exact(&mut prefix).ok()?;
        let mut payload = vec![0u8; i32::from_be_bytes(prefix) as usize];
        stream.read_exact(&mut payload).ok()?;
        Some(payload)
    }

    /// A scripted fake server for one connection: answers the handshake with
    /// `granted_timeout_ms`, then each request by `answer`.
    fn fake_server(
        granted_timeout_ms: i32,
        answer: impl Fn(RequestHeader, Request, &mut Vec<u8>) + Send + 'static,
    ) -> (std::net::SocketAddr, thread::JoinHandle<Vec<Request>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let handle = thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            let connect = ConnectRequest::decode(&read_payload(&mut stream).expect("connect"))
                .expect("decode connect");
            let mut out = Vec::new();
            write_connect_response(
                &mut out,
                &ConnectResponse {
                    protocol_version: 0,
                    timeout_ms: granted_timeout_ms,
                    session_id: if connect.session_id == 0 {
                        0x77
                    } else {
                        connect.session_id
                    },
                    passwd: vec![5; 16],
                    read_only: false,
                },
            );
            stream.write_all(&out).expect("write connect response");
            let mut seen = Vec::new();
            while let Some(payload) = read_payload(&mut stream) {
                let (header, request) = decode_request(&payload).expect("decode request");
                let mut out = Vec::new();
                answer(header, request.clone(), &mut out);
                stream.write_all(&out).expect("write reply");
                let closing = request == Request::CloseSession;
                seen.push(request);
                if closing {
                    break;
                }
            }
            seen
        });
        (addr, handle)
    }

    #[test]
    fn client_calls_collect_events_and_map_errors() {
        let (addr, server) = fake_server(4000, |header, request, out| {
            let ok = ReplyHeader {
                xid: header.xid,
                zxid: 0x10,
                err: 0,
            };
            match request {
                Request::GetData(_) => {
                    let event = WatcherEvent {
                        event_type: EventType::NodeDataChanged,
                        state: KeeperState::SyncConnected,
                        path: "/w".into(),
                    };
                    write_notification(out, 0x0f, &event);
                    let body = Response::GetData {
                        data: Bytes::from_static(b"hi"),
                        stat: Stat::default(),
                    };
                    write_reply(out, ok, Some(&body));
                }
                Request::Create { request, .. } => {
                    write_reply(out, ok, Some(&Response::Create { path: request.path }))
                }
                Request::Delete(_) => write_reply(
                    out,
                    ReplyHeader {
                        err: ErrorCode::NoNode.code(),
                        ..ok
                    },
                    None,
                ),
                Request::Ping => write_reply(
                    out,
                    ReplyHeader {
                        xid: xid::PING,
                        zxid: 0x10,
                        err: 0,
                    },
                    None,
                ),
                _ => write_reply(out, ok, None),
            }
        });
        let mut client = Client::connect(addr, 30_000).expect("connect");
        assert_eq!(client.session_id(), 0x77);
        assert_eq!(client.passwd(), &[5; 16]);
        assert_eq!(client.session_timeout_ms(), 4000);

        assert_eq!(
            client.create("/a", b"x", 0).expect("io"),
            Ok("/a".to_string())
        );
        let (data, _) = client.get_data_watch("/w", true).expect("io").expect("ok");
        assert_eq!(&data[..], b"hi");
        let events = client.take_events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].path, "/w");
        assert!(client.take_events().is_empty());
        assert_eq!(
            client.delete("/missing", -1).expect("io"),
            Err(ErrorCode::NoNode)
        );
        assert_eq!(client.ping().expect("io"), Ok(()));
        assert_eq!(client.last_zxid_seen(), 0x10);
        client.close().expect("close");

        let seen = server.join().expect("server thread");
        assert_eq!(seen.len(), 5);
        assert_eq!(seen[4], Request::CloseSession);
    }

    #[test]
    fn client_refuses_a_mismatched_xid() {
        let (addr, _server) = fake_server(4000, |header, _, out| {
            write_reply(
                out,
                ReplyHeader {
                    xid: header.xid + 100,
                    zxid: 1,
                    err: 0,
                },
                None,
            )
        });
        let mut client = Client::connect(addr, 30_000).expect("connect");
        assert!(matches!(
            client.delete("/a", -1),
            Err(ClientError::XidMismatch { .. })
        ));
    }

    #[test]
    fn expired_session_is_refused_at_connect() {
        let (addr, _server) = fake_server(0, |_, _, _| {});
        let error = Client::reconnect(addr, 0x99, &[1; 16])
            .err()
            .expect("refused");
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn reads_time_out_instead_of_hanging() {
        let (addr, _server) = fake_server(4000, |_, _, _| {}); // never answers
        let mut client = Client::connect(addr, 30_000).expect("connect");
        client
            .set_io_timeout(Duration::from_millis(100))
            .expect("set timeout");
        assert!(matches!(client.get_data("/a"), Err(ClientError::Io(_))));
    }

    #[test]
    fn four_letter_reads_until_close() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let server = thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut word = [0u8; 4];
            stream.read_exact(&mut word).expect("word");
            assert_eq!(&word, b"ruok");
            stream.write_all(b"imok").expect("reply");
        });
        assert_eq!(four_letter(addr, "ruok").expect("4lw"), "imok");
        server.join().expect("server thread");
    }
}
