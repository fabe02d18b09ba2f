//! Encode and decode of every client record, mirroring `zookeeper.jute` field
//! for field and in order.
//!
//! What this promises:
//! - `decode` never panics and never allocates more than the input justifies:
//!   every length and count goes through the bounded [`Reader`], and every
//!   loop (multi) consumes at least one header per element.
//! - Decoding is lenient where ZooKeeper is: trailing bytes after a record are
//!   ignored, a null buffer or string reads as empty, the trailing `readOnly`
//!   byte of a connect handshake is optional.
//! - `encode(decode(bytes))` reproduces the bytes a record consumed (a null
//!   string comes back as an empty one, which has the same length).
//!
//! Multi framing (`MultiOperationRecord`, `MultiResponse`): each op or result
//! is a `MultiHeader{int type, bool done, int err}` followed by the op's
//! record; the list ends with `MultiHeader{-1, true, -1}`.

use bytes::BufMut;

use super::jute::{DecodeError, JuteWrite, Reader};
use super::records::{
    AddWatchRequest, AuthPacket, CheckVersionRequest, ClientInfo, ConnectRequest, ConnectResponse,
    CreateRequest, DeleteRequest, MultiOp, OpResult, PathWatch, ReconfigRequest, ReplyHeader,
    Request, RequestHeader, Response, SetAclRequest, SetDataRequest, SetWatchesRequest,
    WatchesRequest,
};
use super::types::{op, ErrorCode, EventType, KeeperState, WatcherEvent};

/// Bytes of one encoded `Stat`: 6 longs and 5 ints.
pub const STAT_BYTES: usize = 68;
/// Bytes of one encoded `MultiHeader`: int, bool, int.
pub const MULTI_HEADER_BYTES: usize = 9;

// ---------------------------------------------------------------------------
// Enum conversions the wire needs.

impl EventType {
    /// The event type for a wire code, if it is one ZooKeeper defines.
    pub fn from_code(code: i32) -> Option<EventType> {
        Some(match code {
            -1 => EventType::None,
            1 => EventType::NodeCreated,
            2 => EventType::NodeDeleted,
            3 => EventType::NodeDataChanged,
            4 => EventType::NodeChildrenChanged,
            5 => EventType::DataWatchRemoved,
            6 => EventType::ChildWatchRemoved,
            7 => EventType::PersistentWatchRemoved,
            _ => return None,
        })
    }
}

impl KeeperState {
    /// The keeper state for a wire code, if it is one ZooKeeper defines.
    pub fn from_code(code: i32) -> Option<KeeperState> {
        Some(match code {
            0 => KeeperState::Disconnected,
            3 => KeeperState::SyncConnected,
            4 => KeeperState::AuthFailed,
            5 => KeeperState::ConnectedReadOnly,
            6 => KeeperState::SaslAuthenticated,
            -112 => KeeperState::Expired,
            7 => KeeperState::Closed,
            _ => return None,
        })
    }
}

fn error_code(value: i32) -> Result<ErrorCode, DecodeError> {
    ErrorCode::from_code(value).ok_or(DecodeError::BadValue { field: "error code", value: value as i64 })
}

// ---------------------------------------------------------------------------
// Headers and the handshake.

impl RequestHeader {
    pub fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(RequestHeader { xid: r.read_i32()?, op: r.read_i32()? })
    }
    pub fn encode(&self, buf: &mut impl BufMut) {
        buf.write_i32(self.xid);
        buf.write_i32(self.op);
    }
}

impl ReplyHeader {
    pub fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(ReplyHeader { xid: r.read_i32()?, zxid: r.read_i64()?, err: r.read_i32()? })
    }
    pub fn encode(&self, buf: &mut impl BufMut) {
        buf.write_i32(self.xid);
        buf.write_i64(self.zxid);
        buf.write_i32(self.err);
    }
}

impl ConnectRequest {
    /// `body` is the whole frame payload. The trailing `readOnly` byte is
    /// optional (pre-3.4 clients omit it) and reads as false when absent.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(ConnectRequest {
            protocol_version: r.read_i32()?,
            last_zxid_seen: r.read_i64()?,
            timeout_ms: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: r.read_buffer()?.to_vec(),
            read_only: if r.is_empty() { false } else { r.read_bool()? },
        })
    }
    pub fn encode(&self, buf: &mut impl BufMut) {
        buf.write_i32(self.protocol_version);
        buf.write_i64(self.last_zxid_seen);
        buf.write_i32(self.timeout_ms);
        buf.write_i64(self.session_id);
        buf.write_buffer(&self.passwd);
        buf.write_bool(self.read_only);
    }
}

impl ConnectResponse {
    /// `body` is the whole frame payload; `readOnly` is optional as above.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(ConnectResponse {
            protocol_version: r.read_i32()?,
            timeout_ms: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: r.read_buffer()?.to_vec(),
            read_only: if r.is_empty() { false } else { r.read_bool()? },
        })
    }
    pub fn encode(&self, buf: &mut impl BufMut) {
        buf.write_i32(self.protocol_version);
        buf.write_i32(self.timeout_ms);
        buf.write_i64(self.session_id);
        buf.write_buffer(&self.passwd);
        buf.write_bool(self.read_only);
    }
}

impl WatcherEvent {
    pub fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let type_code = r.read_i32()?;
        let state_code = r.read_i32()?;
        let event_type = EventType::from_code(type_code)
            .ok_or(DecodeError::BadValue { field: "event type", value: type_code as i64 })?;
        let state = KeeperState::from_code(state_code)
            .ok_or(DecodeError::BadValue { field: "keeper state", value: state_code as i64 })?;
        Ok(WatcherEvent { event_type, state, path: r.read_string()? })
    }
    pub fn encode(&self, buf: &mut impl BufMut) {
        buf.write_i32(self.event_type as i32);
        buf.write_i32(self.state as i32);
        buf.write_string(&self.path);
    }
}

/// `MultiHeader{int type, bool done, int err}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MultiHeader {
    pub op: i32,
    pub done: bool,
    pub err: i32,
}

impl MultiHeader {
    /// The header that ends every multi request and response.
    pub const END: MultiHeader = MultiHeader { op: -1, done: true, err: -1 };

    pub fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(MultiHeader { op: r.read_i32()?, done: r.read_bool()?, err: r.read_i32()? })
    }
    pub fn encode(&self, buf: &mut impl BufMut) {
        buf.write_i32(self.op);
        buf.write_bool(self.done);
        buf.write_i32(self.err);
    }
}

// ---------------------------------------------------------------------------
// Request records.

fn read_create(r: &mut Reader, with_ttl: bool) -> Result<CreateRequest, DecodeError> {
    Ok(CreateRequest {
        path: r.read_string()?,
        data: r.read_bytes()?,
        acl: r.read_acl_vec()?,
        flags: r.read_i32()?,
        ttl_ms: if with_ttl { r.read_i64()? } else { 0 },
    })
}

/// `CreateRequest`, or `CreateTTLRequest` when `op` is createTTL.
fn write_create(buf: &mut impl BufMut, create_op: i32, c: &CreateRequest) {
    buf.write_string(&c.path);
    buf.write_buffer(&c.data);
    buf.write_acl_vec(&c.acl);
    buf.write_i32(c.flags);
    if create_op == op::CREATE_TTL {
        buf.write_i64(c.ttl_ms);
    }
}

fn read_delete(r: &mut Reader) -> Result<DeleteRequest, DecodeError> {
    Ok(DeleteRequest { path: r.read_string()?, version: r.read_i32()? })
}

fn read_set_data(r: &mut Reader) -> Result<SetDataRequest, DecodeError> {
    Ok(SetDataRequest { path: r.read_string()?, data: r.read_bytes()?, version: r.read_i32()? })
}

fn write_set_data(buf: &mut impl BufMut, s: &SetDataRequest) {
    buf.write_string(&s.path);
    buf.write_buffer(&s.data);
    buf.write_i32(s.version);
}

fn read_check(r: &mut Reader) -> Result<CheckVersionRequest, DecodeError> {
    Ok(CheckVersionRequest { path: r.read_string()?, version: r.read_i32()? })
}

fn read_path_watch(r: &mut Reader) -> Result<PathWatch, DecodeError> {
    Ok(PathWatch { path: r.read_string()?, watch: r.read_bool()? })
}

fn write_path_watch(buf: &mut impl BufMut, p: &PathWatch) {
    buf.write_string(&p.path);
    buf.write_bool(p.watch);
}

fn read_watches(r: &mut Reader) -> Result<WatchesRequest, DecodeError> {
    Ok(WatchesRequest { path: r.read_string()?, watcher_type: r.read_i32()? })
}

fn read_set_watches(r: &mut Reader, persistent: bool) -> Result<SetWatchesRequest, DecodeError> {
    let mut s = SetWatchesRequest {
        relative_zxid: r.read_i64()?,
        data_watches: r.read_string_vec()?,
        exist_watches: r.read_string_vec()?,
        child_watches: r.read_string_vec()?,
        ..SetWatchesRequest::default()
    };
    if persistent {
        s.persistent_watches = r.read_string_vec()?;
        s.persistent_recursive_watches = r.read_string_vec()?;
    }
    Ok(s)
}

fn write_set_watches(buf: &mut impl BufMut, s: &SetWatchesRequest, persistent: bool) {
    buf.write_i64(s.relative_zxid);
    buf.write_string_vec(&s.data_watches);
    buf.write_string_vec(&s.exist_watches);
    buf.write_string_vec(&s.child_watches);
    if persistent {
        buf.write_string_vec(&s.persistent_watches);
        buf.write_string_vec(&s.persistent_recursive_watches);
    }
}

fn write_optional_string(buf: &mut impl BufMut, s: &Option<String>) {
    match s {
        Some(s) => buf.write_string(s),
        None => buf.write_null_buffer(),
    }
}

impl MultiOp {
    /// The op code written in this op's `MultiHeader`.
    pub fn op_code(&self) -> i32 {
        match self {
            MultiOp::Create { op, .. } => *op,
            MultiOp::Delete(_) => op::DELETE,
            MultiOp::SetData(_) => op::SET_DATA,
            MultiOp::Check(_) => op::CHECK,
            MultiOp::GetChildren { .. } => op::GET_CHILDREN,
            MultiOp::GetData { .. } => op::GET_DATA,
        }
    }

    /// True for the ops a multiRead carries (getChildren, getData).
    pub fn is_read(&self) -> bool {
        matches!(self, MultiOp::GetChildren { .. } | MultiOp::GetData { .. })
    }

    /// Decodes the record that follows a `MultiHeader` of type `op_code`.
    pub fn decode(op_code: i32, r: &mut Reader) -> Result<MultiOp, DecodeError> {
        Ok(match op_code {
            op::CREATE | op::CREATE2 | op::CREATE_CONTAINER => {
                MultiOp::Create { op: op_code, request: read_create(r, false)? }
            }
            op::CREATE_TTL => MultiOp::Create { op: op_code, request: read_create(r, true)? },
            op::DELETE => MultiOp::Delete(read_delete(r)?),
            op::SET_DATA => MultiOp::SetData(read_set_data(r)?),
            op::CHECK => MultiOp::Check(read_check(r)?),
            // GetChildrenRequest / GetDataRequest: the watch flag is read and
            // ignored, as ZooKeeper does (multiRead never sets watches).
            op::GET_CHILDREN => MultiOp::GetChildren { path: read_path_watch(r)?.path },
            op::GET_DATA => MultiOp::GetData { path: read_path_watch(r)?.path },
            other => return Err(DecodeError::BadValue { field: "multi op type", value: other as i64 }),
        })
    }

    /// Encodes the `MultiHeader` and the op's record.
    pub fn encode(&self, buf: &mut impl BufMut) {
        MultiHeader { op: self.op_code(), done: false, err: -1 }.encode(buf);
        match self {
            MultiOp::Create { op, request } => write_create(buf, *op, request),
            MultiOp::Delete(d) => {
                buf.write_string(&d.path);
                buf.write_i32(d.version);
            }
            MultiOp::SetData(s) => write_set_data(buf, s),
            MultiOp::Check(c) => {
                buf.write_string(&c.path);
                buf.write_i32(c.version);
            }
            MultiOp::GetChildren { path } | MultiOp::GetData { path } => {
                buf.write_string(path);
                buf.write_bool(false);
            }
        }
    }
}

/// Reads ops until the `done` header. Every op costs at least one 9-byte
/// header, so the Vec is bounded by the input. Like `MultiOperationRecord`,
/// a list that mixes reads and writes is rejected.
fn read_multi(r: &mut Reader) -> Result<Vec<MultiOp>, DecodeError> {
    let mut ops: Vec<MultiOp> = Vec::new();
    loop {
        let header = MultiHeader::decode(r)?;
        if header.done {
            return Ok(ops);
        }
        let next = MultiOp::decode(header.op, r)?;
        if let Some(first) = ops.first() {
            if first.is_read() != next.is_read() {
                return Err(DecodeError::BadValue { field: "multi mixes reads and writes", value: header.op as i64 });
            }
        }
        ops.push(next);
    }
}

fn write_multi(buf: &mut impl BufMut, ops: &[MultiOp]) {
    for o in ops {
        o.encode(buf);
    }
    MultiHeader::END.encode(buf);
}

impl Request {
    pub fn op_code(&self) -> i32 {
        match self {
            Request::Create { op, .. } => *op,
            Request::Delete(_) => op::DELETE,
            Request::DeleteContainer { .. } => op::DELETE_CONTAINER,
            Request::Exists(_) => op::EXISTS,
            Request::GetData(_) => op::GET_DATA,
            Request::SetData(_) => op::SET_DATA,
            Request::GetAcl { .. } => op::GET_ACL,
            Request::SetAcl(_) => op::SET_ACL,
            Request::GetChildren(_) => op::GET_CHILDREN,
            Request::GetChildren2(_) => op::GET_CHILDREN2,
            Request::Sync { .. } => op::SYNC,
            Request::Ping => op::PING,
            Request::Check(_) => op::CHECK,
            Request::Multi(_) => op::MULTI,
            Request::MultiRead(_) => op::MULTI_READ,
            Request::Reconfig(_) => op::RECONFIG,
            Request::CheckWatches(_) => op::CHECK_WATCHES,
            Request::RemoveWatches(_) => op::REMOVE_WATCHES,
            Request::Auth(_) => op::AUTH,
            Request::SetWatches(_) => op::SET_WATCHES,
            Request::SetWatches2(_) => op::SET_WATCHES2,
            Request::Sasl { .. } => op::SASL,
            Request::GetEphemerals { .. } => op::GET_EPHEMERALS,
            Request::GetAllChildrenNumber { .. } => op::GET_ALL_CHILDREN_NUMBER,
            Request::AddWatch(_) => op::ADD_WATCH,
            Request::WhoAmI => op::WHO_AM_I,
            Request::CloseSession => op::CLOSE_SESSION,
        }
    }

    /// True for requests that go through the sequencer (they change the tree,
    /// or, like sync and check, must be ordered with the changes).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Request::Create { .. }
                | Request::Delete(_)
                | Request::DeleteContainer { .. }
                | Request::SetData(_)
                | Request::SetAcl(_)
                | Request::Check(_)
                | Request::Multi(_)
                | Request::Sync { .. }
                | Request::Reconfig(_)
                | Request::CloseSession
        )
    }

    /// Decodes a request body (the bytes after the `RequestHeader`) of op
    /// code `op`. Trailing bytes are ignored.
    pub fn decode(op: i32, body: &[u8]) -> Result<Request, DecodeError> {
        let r = &mut Reader::new(body);
        Ok(match op {
            op::CREATE | op::CREATE2 | op::CREATE_CONTAINER => Request::Create { op, request: read_create(r, false)? },
            op::CREATE_TTL => Request::Create { op, request: read_create(r, true)? },
            op::DELETE => Request::Delete(read_delete(r)?),
            op::DELETE_CONTAINER => Request::DeleteContainer { path: r.read_string()? },
            op::EXISTS => Request::Exists(read_path_watch(r)?),
            op::GET_DATA => Request::GetData(read_path_watch(r)?),
            op::SET_DATA => Request::SetData(read_set_data(r)?),
            op::GET_ACL => Request::GetAcl { path: r.read_string()? },
            op::SET_ACL => Request::SetAcl(SetAclRequest {
                path: r.read_string()?,
                acl: r.read_acl_vec()?,
                version: r.read_i32()?,
            }),
            op::GET_CHILDREN => Request::GetChildren(read_path_watch(r)?),
            op::GET_CHILDREN2 => Request::GetChildren2(read_path_watch(r)?),
            op::SYNC => Request::Sync { path: r.read_string()? },
            op::PING => Request::Ping,
            op::CHECK => Request::Check(read_check(r)?),
            op::MULTI => Request::Multi(read_multi(r)?),
            op::MULTI_READ => Request::MultiRead(read_multi(r)?),
            op::RECONFIG => Request::Reconfig(ReconfigRequest {
                joining_servers: r.read_string_opt()?,
                leaving_servers: r.read_string_opt()?,
                new_members: r.read_string_opt()?,
                cur_config_id: r.read_i64()?,
            }),
            op::CHECK_WATCHES => Request::CheckWatches(read_watches(r)?),
            op::REMOVE_WATCHES => Request::RemoveWatches(read_watches(r)?),
            op::AUTH => Request::Auth(AuthPacket {
                auth_type: r.read_i32()?,
                scheme: r.read_string()?,
                auth: r.read_buffer()?.to_vec(),
            }),
            op::SET_WATCHES => Request::SetWatches(read_set_watches(r, false)?),
            op::SET_WATCHES2 => Request::SetWatches2(read_set_watches(r, true)?),
            op::SASL => Request::Sasl { token: r.read_buffer()?.to_vec() },
            op::GET_EPHEMERALS => Request::GetEphemerals { prefix_path: r.read_string()? },
            op::GET_ALL_CHILDREN_NUMBER => Request::GetAllChildrenNumber { path: r.read_string()? },
            op::ADD_WATCH => Request::AddWatch(AddWatchRequest { path: r.read_string()?, mode: r.read_i32()? }),
            op::WHO_AM_I => Request::WhoAmI,
            op::CLOSE_SESSION => Request::CloseSession,
            other => return Err(DecodeError::UnknownOp(other)),
        })
    }

    /// Encodes the body only (no frame length, no `RequestHeader`).
    pub fn encode(&self, buf: &mut impl BufMut) {
        match self {
            Request::Create { op, request } => write_create(buf, *op, request),
            Request::Delete(d) => {
                buf.write_string(&d.path);
                buf.write_i32(d.version);
            }
            Request::DeleteContainer { path }
            | Request::GetAcl { path }
            | Request::Sync { path }
            | Request::GetAllChildrenNumber { path }
            | Request::GetEphemerals { prefix_path: path } => buf.write_string(path),
            Request::Exists(p) | Request::GetData(p) | Request::GetChildren(p) | Request::GetChildren2(p) => {
                write_path_watch(buf, p)
            }
            Request::SetData(s) => write_set_data(buf, s),
            Request::SetAcl(s) => {
                buf.write_string(&s.path);
                buf.write_acl_vec(&s.acl);
                buf.write_i32(s.version);
            }
            Request::Ping | Request::WhoAmI | Request::CloseSession => {}
            Request::Check(c) => {
                buf.write_string(&c.path);
                buf.write_i32(c.version);
            }
            Request::Multi(ops) | Request::MultiRead(ops) => write_multi(buf, ops),
            Request::Reconfig(c) => {
                write_optional_string(buf, &c.joining_servers);
                write_optional_string(buf, &c.leaving_servers);
                write_optional_string(buf, &c.new_members);
                buf.write_i64(c.cur_config_id);
            }
            Request::CheckWatches(w) | Request::RemoveWatches(w) => {
                buf.write_string(&w.path);
                buf.write_i32(w.watcher_type);
            }
            Request::Auth(a) => {
                buf.write_i32(a.auth_type);
                buf.write_string(&a.scheme);
                buf.write_buffer(&a.auth);
            }
            Request::SetWatches(s) => write_set_watches(buf, s, false),
            Request::SetWatches2(s) => write_set_watches(buf, s, true),
            Request::Sasl { token } => buf.write_buffer(token),
            Request::AddWatch(a) => {
                buf.write_string(&a.path);
                buf.write_i32(a.mode);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Responses.

impl OpResult {
    /// The type written in this result's `MultiHeader` (-1 for an error).
    pub fn op_code(&self) -> i32 {
        match self {
            OpResult::Create { .. } => op::CREATE,
            OpResult::Create2 { .. } => op::CREATE2,
            OpResult::Delete => op::DELETE,
            OpResult::SetData { .. } => op::SET_DATA,
            OpResult::Check => op::CHECK,
            OpResult::GetChildren { .. } => op::GET_CHILDREN,
            OpResult::GetData { .. } => op::GET_DATA,
            OpResult::Error(_) => op::ERROR,
        }
    }

    /// Encodes the `MultiHeader` and the result's record.
    pub fn encode(&self, buf: &mut impl BufMut) {
        let err = match self {
            OpResult::Error(code) => code.code(),
            _ => 0,
        };
        MultiHeader { op: self.op_code(), done: false, err }.encode(buf);
        match self {
            OpResult::Create { path } => buf.write_string(path),
            OpResult::Create2 { path, stat } => {
                buf.write_string(path);
                buf.write_stat(stat);
            }
            OpResult::Delete | OpResult::Check => {}
            OpResult::SetData { stat } => buf.write_stat(stat),
            OpResult::GetChildren { children } => buf.write_string_vec(children),
            OpResult::GetData { data, stat } => {
                buf.write_buffer(data);
                buf.write_stat(stat);
            }
            OpResult::Error(code) => buf.write_i32(code.code()),
        }
    }

    /// Decodes the record after a result `MultiHeader` of type `op_code`.
    /// Besides the codes ZooKeeper writes (1, 15), createContainer (19) and
    /// createTTL (21) are accepted with the record shape they return alone.
    pub fn decode(op_code: i32, r: &mut Reader) -> Result<OpResult, DecodeError> {
        Ok(match op_code {
            op::CREATE | op::CREATE_CONTAINER => OpResult::Create { path: r.read_string()? },
            op::CREATE2 | op::CREATE_TTL => OpResult::Create2 { path: r.read_string()?, stat: r.read_stat()? },
            op::DELETE | op::DELETE_CONTAINER => OpResult::Delete,
            op::SET_DATA => OpResult::SetData { stat: r.read_stat()? },
            op::CHECK => OpResult::Check,
            op::GET_CHILDREN => OpResult::GetChildren { children: r.read_string_vec()? },
            op::GET_DATA => OpResult::GetData { data: r.read_bytes()?, stat: r.read_stat()? },
            op::ERROR => OpResult::Error(error_code(r.read_i32()?)?),
            other => return Err(DecodeError::BadValue { field: "multi result type", value: other as i64 }),
        })
    }
}

fn read_multi_results(r: &mut Reader) -> Result<Vec<OpResult>, DecodeError> {
    let mut results = Vec::new();
    loop {
        let header = MultiHeader::decode(r)?;
        if header.done {
            return Ok(results);
        }
        results.push(OpResult::decode(header.op, r)?);
    }
}

impl Response {
    /// Encodes the body that follows a `ReplyHeader` (nothing for `Empty`).
    pub fn encode(&self, buf: &mut impl BufMut) {
        match self {
            Response::Empty => {}
            Response::Create { path } | Response::Sync { path } => buf.write_string(path),
            Response::Create2 { path, stat } => {
                buf.write_string(path);
                buf.write_stat(stat);
            }
            Response::Stat(stat) => buf.write_stat(stat),
            Response::GetData { data, stat } | Response::Reconfig { data, stat } => {
                buf.write_buffer(data);
                buf.write_stat(stat);
            }
            Response::GetAcl { acl, stat } => {
                buf.write_acl_vec(acl);
                buf.write_stat(stat);
            }
            Response::GetChildren { children } => buf.write_string_vec(children),
            Response::GetChildren2 { children, stat } => {
                buf.write_string_vec(children);
                buf.write_stat(stat);
            }
            Response::Multi(results) => {
                for result in results {
                    result.encode(buf);
                }
                MultiHeader::END.encode(buf);
            }
            Response::Sasl { token } => buf.write_buffer(token),
            Response::GetEphemerals { paths } => buf.write_string_vec(paths),
            Response::GetAllChildrenNumber { total } => buf.write_i32(*total),
            Response::WhoAmI(infos) => {
                buf.write_i32(infos.len() as i32);
                for info in infos {
                    buf.write_string(&info.auth_scheme);
                    buf.write_string(&info.user);
                }
            }
        }
    }

    /// Decodes the body of a successful reply (client side); `op` is the op
    /// code of the request it answers. Trailing bytes are ignored.
    pub fn decode(op: i32, body: &[u8]) -> Result<Response, DecodeError> {
        let r = &mut Reader::new(body);
        Ok(match op {
            op::CREATE => Response::Create { path: r.read_string()? },
            // ZooKeeper answers createContainer with Create2Response; a
            // Java client that asked without a Stat reads just the path.
            op::CREATE_CONTAINER => {
                let path = r.read_string()?;
                if r.remaining() >= STAT_BYTES {
                    Response::Create2 { path, stat: r.read_stat()? }
                } else {
                    Response::Create { path }
                }
            }
            op::CREATE2 | op::CREATE_TTL => Response::Create2 { path: r.read_string()?, stat: r.read_stat()? },
            op::EXISTS | op::SET_DATA | op::SET_ACL => Response::Stat(r.read_stat()?),
            // A top-level check is answered with SetDataResponse by ZooKeeper.
            op::CHECK => {
                if r.remaining() >= STAT_BYTES {
                    Response::Stat(r.read_stat()?)
                } else {
                    Response::Empty
                }
            }
            op::GET_DATA => Response::GetData { data: r.read_bytes()?, stat: r.read_stat()? },
            op::RECONFIG => Response::Reconfig { data: r.read_bytes()?, stat: r.read_stat()? },
            op::GET_ACL => Response::GetAcl { acl: r.read_acl_vec()?, stat: r.read_stat()? },
            op::GET_CHILDREN => Response::GetChildren { children: r.read_string_vec()? },
            op::GET_CHILDREN2 => Response::GetChildren2 { children: r.read_string_vec()?, stat: r.read_stat()? },
            op::SYNC => Response::Sync { path: r.read_string()? },
            op::MULTI | op::MULTI_READ => Response::Multi(read_multi_results(r)?),
            op::SASL => Response::Sasl { token: r.read_buffer()?.to_vec() },
            op::GET_EPHEMERALS => Response::GetEphemerals { paths: r.read_string_vec()? },
            op::GET_ALL_CHILDREN_NUMBER => Response::GetAllChildrenNumber { total: r.read_i32()? },
            op::WHO_AM_I => {
                let count = r.read_vec_len(8)?;
                let infos = (0..count)
                    .map(|_| Ok(ClientInfo { auth_scheme: r.read_string()?, user: r.read_string()? }))
                    .collect::<Result<Vec<_>, DecodeError>>()?;
                Response::WhoAmI(infos)
            }
            op::DELETE
            | op::DELETE_CONTAINER
            | op::PING
            | op::CHECK_WATCHES
            | op::REMOVE_WATCHES
            | op::AUTH
            | op::SET_WATCHES
            | op::SET_WATCHES2
            | op::ADD_WATCH
            | op::CLOSE_SESSION => Response::Empty,
            other => return Err(DecodeError::UnknownOp(other)),
        })
    }
}
