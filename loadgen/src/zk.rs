//! The loadgen's seam onto paddock's codec (`paddock::protocol`): every byte
//! the loadgen sends or parses goes through the functions named here.
//!
//! TEMPORARY: until `protocol::frame` and the record codec land on `main`,
//! `fallback` implements the same API for the handful of requests the loadgen
//! sends. Once merged this module only re-exports.

pub use paddock::protocol::jute::{DecodeError, Reader};
pub use paddock::protocol::*;

pub use fallback::{connect_response, frame_length, reply_header, write_connect_request, write_request};

mod fallback {
    use paddock::protocol::jute::{DecodeError, JuteWrite, Reader};
    use paddock::protocol::*;

    pub fn frame_length(buf: &[u8], max: usize) -> Result<Option<usize>, String> {
        if buf.len() < 4 {
            return Ok(None);
        }
        let n = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        if n < 0 || n as usize > max {
            return Err(format!("bad frame length {n}"));
        }
        Ok(if buf.len() >= 4 + n as usize { Some(n as usize) } else { None })
    }

    fn frame(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
        let at = out.len();
        out.write_i32(0);
        body(out);
        let len = (out.len() - at - 4) as i32;
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }

    fn create(out: &mut Vec<u8>, c: &CreateRequest) {
        out.write_string(&c.path);
        out.write_buffer(&c.data);
        out.write_acl_vec(&c.acl);
        out.write_i32(c.flags);
    }

    pub fn write_request(out: &mut Vec<u8>, xid: i32, r: &Request) {
        frame(out, |out| {
            let opc = match r {
                Request::Create { op, .. } => *op,
                Request::Delete(_) => op::DELETE,
                Request::Exists(_) => op::EXISTS,
                Request::GetData(_) => op::GET_DATA,
                Request::SetData(_) => op::SET_DATA,
                Request::GetChildren(_) => op::GET_CHILDREN,
                Request::Multi(_) => op::MULTI,
                Request::Ping => op::PING,
                Request::CloseSession => op::CLOSE_SESSION,
                other => unimplemented!("fallback codec: {other:?}"),
            };
            out.write_i32(xid);
            out.write_i32(opc);
            match r {
                Request::Create { request, .. } => create(out, request),
                Request::Delete(d) => {
                    out.write_string(&d.path);
                    out.write_i32(d.version);
                }
                Request::Exists(p) | Request::GetData(p) | Request::GetChildren(p) => {
                    out.write_string(&p.path);
                    out.write_bool(p.watch);
                }
                Request::SetData(s) => {
                    out.write_string(&s.path);
                    out.write_buffer(&s.data);
                    out.write_i32(s.version);
                }
                Request::Multi(ops) => {
                    for o in ops {
                        match o {
                            MultiOp::Create { op, request } => {
                                out.write_i32(*op);
                                out.write_bool(false);
                                out.write_i32(-1);
                                create(out, request);
                            }
                            MultiOp::Delete(d) => {
                                out.write_i32(op::DELETE);
                                out.write_bool(false);
                                out.write_i32(-1);
                                out.write_string(&d.path);
                                out.write_i32(d.version);
                            }
                            MultiOp::SetData(s) => {
                                out.write_i32(op::SET_DATA);
                                out.write_bool(false);
                                out.write_i32(-1);
                                out.write_string(&s.path);
                                out.write_buffer(&s.data);
                                out.write_i32(s.version);
                            }
                            other => unimplemented!("fallback codec multi: {other:?}"),
                        }
                    }
                    out.write_i32(-1);
                    out.write_bool(true);
                    out.write_i32(-1);
                }
                _ => {}
            }
        })
    }

    pub fn write_connect_request(out: &mut Vec<u8>, c: &ConnectRequest) {
        frame(out, |out| {
            out.write_i32(c.protocol_version);
            out.write_i64(c.last_zxid_seen);
            out.write_i32(c.timeout_ms);
            out.write_i64(c.session_id);
            out.write_buffer(&c.passwd);
            out.write_bool(c.read_only);
        })
    }

    pub fn reply_header(r: &mut Reader) -> Result<ReplyHeader, DecodeError> {
        Ok(ReplyHeader { xid: r.read_i32()?, zxid: r.read_i64()?, err: r.read_i32()? })
    }

    pub fn connect_response(body: &[u8]) -> Result<ConnectResponse, DecodeError> {
        let mut r = Reader::new(body);
        Ok(ConnectResponse {
            protocol_version: r.read_i32()?,
            timeout_ms: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: r.read_buffer()?.to_vec(),
            read_only: if r.is_empty() { false } else { r.read_bool()? },
        })
    }
}

/// The largest frame the loadgen accepts from a server.
pub const MAX_FRAME_BYTES: usize = 16 << 20;

/// Name of a ZooKeeper error code, as `KeeperException.Code` spells it.
pub fn error_name(code: i32) -> String {
    match ErrorCode::from_code(code) {
        Some(c) => format!("{c:?}"),
        None => format!("Unknown({code})"),
    }
}

/// Reads one `WatcherEvent` body (after the reply header of a notification).
pub fn watcher_event_type(r: &mut Reader) -> Result<i32, DecodeError> {
    r.read_i32()
}

/// The `ConnectRequest` of a fresh session.
pub fn new_session(timeout_ms: i32) -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms,
        session_id: 0,
        passwd: vec![0u8; 16],
        read_only: false,
    }
}
