//! The loadgen's seam onto paddock's codec (`paddock::protocol`): every byte
//! the loadgen sends or parses goes through paddock's own frame and record
//! code. Replies are decoded only as far as the loadgen needs: the
//! ReplyHeader, and the event type of a notification.

pub use paddock::protocol::frame::{frame_length, write_connect_request, write_request};
pub use paddock::protocol::{ConnectResponse, DecodeError, ErrorCode, Reader, ReplyHeader};

/// The ReplyHeader at the start of a reply frame.
pub fn reply_header(r: &mut Reader) -> Result<ReplyHeader, DecodeError> {
    ReplyHeader::decode(r)
}

/// The body of the handshake reply.
pub fn connect_response(body: &[u8]) -> Result<ConnectResponse, DecodeError> {
    ConnectResponse::decode(body)
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
pub fn new_session(timeout_ms: i32) -> paddock::protocol::ConnectRequest {
    paddock::protocol::ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms,
        session_id: 0,
        passwd: vec![0u8; 16],
        read_only: false,
    }
}
