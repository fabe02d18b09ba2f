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
    ErrorCode::from_code(value).ok_or(DecodeError::BadValue {
        field: "error code",
        value: value as i64,
    })
}

// ---------------------------------------------------------------------------
// Headers and the handshake.

impl RequestHeader {
    pub fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(RequestHeader {
            xid: r.read_i32()?,
            op: r.read_i32()?,
        })
    }
    pub fn encode(&self, buf: &mut impl BufMut) {
        buf.write_i32(self.xid);
        buf.write_i32(self.op);
    }
}

impl ReplyHeader {
    pub fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(ReplyHeader {
            xid: r.read_i32()?,
            zxid: r.read_i64()?,
            err: r.read_i32()?,
        })
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
        let event_type = EventType::from_code(type_code).ok_or(DecodeError::BadValue {
            field: "event type",
            value: type_code as i64,
        })?;
        let state = KeeperState::from_code(state_code).ok_or(DecodeError::BadValue {
            field: "keeper state",
            value: state_code as i64,
        })?;
        Ok(WatcherEvent {
            event_type,
            state,
            path: r.read_string()?,
        })
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
    pub const END: MultiHeader = MultiHeader {
        op: -1,
        done: true,
        err: -1,
    };

    pub fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(MultiHeader {
            op: r.read_i32()?,
            done: r.read_bool()?,
            err: r.read_i32()?,
        })
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
    Ok(DeleteRequest {
        path: r.read_string()?,
        version: r.read_i32()?,
    })
}

fn read_set_data(r: &mut Reader) -> Result<SetDataRequest, DecodeError> {
    Ok(SetDataRequest {
        path: r.read_string()?,
        data: r.read_bytes()?,
        version: r.read_i32()?,
    })
}

fn write_set_data(buf: &mut impl BufMut, s: &SetDataRequest) {
    buf.write_string(&s.path);
    buf.write_buffer(&s.data);
    buf.write_i32(s.version);
}

fn read_check(r: &mut Reader) -> Result<CheckVersionRequest, DecodeError> {
    Ok(CheckVersionRequest {
        path: r.read_string()?,
        version: r.read_i32()?,
    })
}

fn read_path_watch(r: &mut Reader) -> Result<PathWatch, DecodeError> {
    Ok(PathWatch {
        path: r.read_string()?,
        watch: r.read_bool()?,
    })
}

fn write_path_watch(buf: &mut impl BufMut, p: &PathWatch) {
    buf.write_string(&p.path);
    buf.write_bool(p.watch);
}

fn read_watches(r: &mut Reader) -> Result<WatchesRequest, DecodeError> {
    Ok(WatchesRequest {
        path: r.read_string()?,
        watcher_type: r.read_i32()?,
    })
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
            op::CREATE | op::CREATE2 | op::CREATE_CONTAINER => MultiOp::Create {
                op: op_code,
                request: read_create(r, false)?,
            },
            op::CREATE_TTL => MultiOp::Create {
                op: op_code,
                request: read_create(r, true)?,
            },
            op::DELETE => MultiOp::Delete(read_delete(r)?),
            op::SET_DATA => MultiOp::SetData(read_set_data(r)?),
            op::CHECK => MultiOp::Check(read_check(r)?),
            // GetChildrenRequest / GetDataRequest: the watch flag is read and
            // ignored, as ZooKeeper does (multiRead never sets watches).
            op::GET_CHILDREN => MultiOp::GetChildren {
                path: read_path_watch(r)?.path,
            },
            op::GET_DATA => MultiOp::GetData {
                path: read_path_watch(r)?.path,
            },
            other => {
                return Err(DecodeError::BadValue {
                    field: "multi op type",
                    value: other as i64,
                })
            }
        })
    }

    /// Encodes the `MultiHeader` and the op's record.
    pub fn encode(&self, buf: &mut impl BufMut) {
        MultiHeader {
            op: self.op_code(),
            done: false,
            err: -1,
        }
        .encode(buf);
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
                return Err(DecodeError::BadValue {
                    field: "multi mixes reads and writes",
                    value: header.op as i64,
                });
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
            op::CREATE | op::CREATE2 | op::CREATE_CONTAINER => Request::Create {
                op,
                request: read_create(r, false)?,
            },
            op::CREATE_TTL => Request::Create {
                op,
                request: read_create(r, true)?,
            },
            op::DELETE => Request::Delete(read_delete(r)?),
            op::DELETE_CONTAINER => Request::DeleteContainer {
                path: r.read_string()?,
            },
            op::EXISTS => Request::Exists(read_path_watch(r)?),
            op::GET_DATA => Request::GetData(read_path_watch(r)?),
            op::SET_DATA => Request::SetData(read_set_data(r)?),
            op::GET_ACL => Request::GetAcl {
                path: r.read_string()?,
            },
            op::SET_ACL => Request::SetAcl(SetAclRequest {
                path: r.read_string()?,
                acl: r.read_acl_vec()?,
                version: r.read_i32()?,
            }),
            op::GET_CHILDREN => Request::GetChildren(read_path_watch(r)?),
            op::GET_CHILDREN2 => Request::GetChildren2(read_path_watch(r)?),
            op::SYNC => Request::Sync {
                path: r.read_string()?,
            },
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
            op::SASL => Request::Sasl {
                token: r.read_buffer()?.to_vec(),
            },
            op::GET_EPHEMERALS => Request::GetEphemerals {
                prefix_path: r.read_string()?,
            },
            op::GET_ALL_CHILDREN_NUMBER => Request::GetAllChildrenNumber {
                path: r.read_string()?,
            },
            op::ADD_WATCH => Request::AddWatch(AddWatchRequest {
                path: r.read_string()?,
                mode: r.read_i32()?,
            }),
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
            Request::Exists(p)
            | Request::GetData(p)
            | Request::GetChildren(p)
            | Request::GetChildren2(p) => write_path_watch(buf, p),
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
        MultiHeader {
            op: self.op_code(),
            done: false,
            err,
        }
        .encode(buf);
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
            op::CREATE | op::CREATE_CONTAINER => OpResult::Create {
                path: r.read_string()?,
            },
            op::CREATE2 | op::CREATE_TTL => OpResult::Create2 {
                path: r.read_string()?,
                stat: r.read_stat()?,
            },
            op::DELETE | op::DELETE_CONTAINER => OpResult::Delete,
            op::SET_DATA => OpResult::SetData {
                stat: r.read_stat()?,
            },
            op::CHECK => OpResult::Check,
            op::GET_CHILDREN => OpResult::GetChildren {
                children: r.read_string_vec()?,
            },
            op::GET_DATA => OpResult::GetData {
                data: r.read_bytes()?,
                stat: r.read_stat()?,
            },
            op::ERROR => OpResult::Error(error_code(r.read_i32()?)?),
            other => {
                return Err(DecodeError::BadValue {
                    field: "multi result type",
                    value: other as i64,
                })
            }
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
            Response::AddWatch => buf.write_i32(0),
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
            op::CREATE => Response::Create {
                path: r.read_string()?,
            },
            // ZooKeeper answers createContainer with Create2Response; a
            // Java client that asked without a Stat reads just the path.
            op::CREATE_CONTAINER => {
                let path = r.read_string()?;
                if r.remaining() >= STAT_BYTES {
                    Response::Create2 {
                        path,
                        stat: r.read_stat()?,
                    }
                } else {
                    Response::Create { path }
                }
            }
            op::CREATE2 | op::CREATE_TTL => Response::Create2 {
                path: r.read_string()?,
                stat: r.read_stat()?,
            },
            op::EXISTS | op::SET_DATA | op::SET_ACL => Response::Stat(r.read_stat()?),
            // A top-level check is answered with SetDataResponse by ZooKeeper.
            op::CHECK => {
                if r.remaining() >= STAT_BYTES {
                    Response::Stat(r.read_stat()?)
                } else {
                    Response::Empty
                }
            }
            op::GET_DATA => Response::GetData {
                data: r.read_bytes()?,
                stat: r.read_stat()?,
            },
            op::RECONFIG => Response::Reconfig {
                data: r.read_bytes()?,
                stat: r.read_stat()?,
            },
            op::GET_ACL => Response::GetAcl {
                acl: r.read_acl_vec()?,
                stat: r.read_stat()?,
            },
            op::GET_CHILDREN => Response::GetChildren {
                children: r.read_string_vec()?,
            },
            op::GET_CHILDREN2 => Response::GetChildren2 {
                children: r.read_string_vec()?,
                stat: r.read_stat()?,
            },
            op::SYNC => Response::Sync {
                path: r.read_string()?,
            },
            op::MULTI | op::MULTI_READ => Response::Multi(read_multi_results(r)?),
            op::SASL => Response::Sasl {
                token: r.read_buffer()?.to_vec(),
            },
            op::GET_EPHEMERALS => Response::GetEphemerals {
                paths: r.read_string_vec()?,
            },
            op::GET_ALL_CHILDREN_NUMBER => Response::GetAllChildrenNumber {
                total: r.read_i32()?,
            },
            op::WHO_AM_I => {
                let count = r.read_vec_len(8)?;
                let infos = (0..count)
                    .map(|_| {
                        Ok(ClientInfo {
                            auth_scheme: r.read_string()?,
                            user: r.read_string()?,
                        })
                    })
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
            | op::CLOSE_SESSION => Response::Empty,
            op::ADD_WATCH => {
                if r.remaining() >= 4 {
                    r.read_i32()?;
                    Response::AddWatch
                } else {
                    Response::Empty
                }
            }
            other => return Err(DecodeError::UnknownOp(other)),
        })
    }
}

#[cfg(test)]
mod tests {
    //! Golden bytes are built by hand from the Jute layout (not with
    //! `JuteWrite`), so the encoder is checked against an independent spelling.
    use super::*;
    use crate::protocol::types::{Acl, Id, Stat};
    use bytes::Bytes;
    use proptest::prelude::*;

    fn int(v: i32) -> Vec<u8> {
        v.to_be_bytes().to_vec()
    }
    fn long(v: i64) -> Vec<u8> {
        v.to_be_bytes().to_vec()
    }
    fn boolean(v: bool) -> Vec<u8> {
        vec![v as u8]
    }
    fn buffer(b: &[u8]) -> Vec<u8> {
        [int(b.len() as i32), b.to_vec()].concat()
    }
    fn ustring(s: &str) -> Vec<u8> {
        buffer(s.as_bytes())
    }
    fn strings(v: &[&str]) -> Vec<u8> {
        let mut out = int(v.len() as i32);
        for s in v {
            out.extend(ustring(s));
        }
        out
    }
    /// OPEN_ACL_UNSAFE: one ACL{perms 31, Id{"world", "anyone"}}.
    fn open_acl_bytes() -> Vec<u8> {
        [int(1), int(31), ustring("world"), ustring("anyone")].concat()
    }
    fn sample_stat() -> Stat {
        Stat {
            czxid: 0x1_0000_0001,
            mzxid: 0x1_0000_0002,
            ctime: 1_700_000_000_000,
            mtime: 1_700_000_000_001,
            version: 3,
            cversion: 4,
            aversion: 5,
            ephemeral_owner: 0x0100_0000_0000_0042,
            data_length: 1,
            num_children: 2,
            pzxid: 0x1_0000_0003,
        }
    }
    fn stat_bytes() -> Vec<u8> {
        [
            long(0x1_0000_0001),
            long(0x1_0000_0002),
            long(1_700_000_000_000),
            long(1_700_000_000_001),
            int(3),
            int(4),
            int(5),
            long(0x0100_0000_0000_0042),
            int(1),
            int(2),
            long(0x1_0000_0003),
        ]
        .concat()
    }
    fn multi_header(op: i32, done: bool, err: i32) -> Vec<u8> {
        [int(op), boolean(done), int(err)].concat()
    }
    fn end_header() -> Vec<u8> {
        multi_header(-1, true, -1)
    }
    fn create(path: &str, data: &str, flags: i32, ttl_ms: i64) -> CreateRequest {
        CreateRequest {
            path: path.to_string(),
            data: Bytes::copy_from_slice(data.as_bytes()),
            acl: Acl::open_unsafe(),
            flags,
            ttl_ms,
        }
    }
    fn path_watch(path: &str, watch: bool) -> PathWatch {
        PathWatch {
            path: path.to_string(),
            watch,
        }
    }
    fn owned(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }
    fn encoded_request(r: &Request) -> Vec<u8> {
        let mut v = Vec::new();
        r.encode(&mut v);
        v
    }
    fn encoded_response(r: &Response) -> Vec<u8> {
        let mut v = Vec::new();
        r.encode(&mut v);
        v
    }

    fn write_multi_ops() -> (Vec<MultiOp>, Vec<u8>) {
        let ops = vec![
            MultiOp::Create {
                op: op::CREATE,
                request: create("/m", "x", 0, 0),
            },
            MultiOp::Create {
                op: op::CREATE2,
                request: create("/m2", "", 2, 0),
            },
            MultiOp::Create {
                op: op::CREATE_CONTAINER,
                request: create("/c", "", 4, 0),
            },
            MultiOp::Create {
                op: op::CREATE_TTL,
                request: create("/t", "", 5, 1000),
            },
            MultiOp::Delete(DeleteRequest {
                path: "/m".into(),
                version: -1,
            }),
            MultiOp::SetData(SetDataRequest {
                path: "/m2".into(),
                data: Bytes::from_static(b"yz"),
                version: 0,
            }),
            MultiOp::Check(CheckVersionRequest {
                path: "/m2".into(),
                version: 1,
            }),
        ];
        let bytes = [
            multi_header(1, false, -1),
            ustring("/m"),
            buffer(b"x"),
            open_acl_bytes(),
            int(0),
            multi_header(15, false, -1),
            ustring("/m2"),
            buffer(b""),
            open_acl_bytes(),
            int(2),
            multi_header(19, false, -1),
            ustring("/c"),
            buffer(b""),
            open_acl_bytes(),
            int(4),
            multi_header(21, false, -1),
            ustring("/t"),
            buffer(b""),
            open_acl_bytes(),
            int(5),
            long(1000),
            multi_header(2, false, -1),
            ustring("/m"),
            int(-1),
            multi_header(5, false, -1),
            ustring("/m2"),
            buffer(b"yz"),
            int(0),
            multi_header(13, false, -1),
            ustring("/m2"),
            int(1),
            end_header(),
        ]
        .concat();
        (ops, bytes)
    }

    /// Every Request variant with its hand-built body bytes.
    fn golden_requests() -> Vec<(Request, Vec<u8>)> {
        let (multi_ops, multi_bytes) = write_multi_ops();
        vec![
            (
                Request::Create {
                    op: op::CREATE,
                    request: create("/a", "x", 0, 0),
                },
                [ustring("/a"), buffer(b"x"), open_acl_bytes(), int(0)].concat(),
            ),
            (
                Request::Create {
                    op: op::CREATE2,
                    request: create("/b", "", 1, 0),
                },
                [ustring("/b"), buffer(b""), open_acl_bytes(), int(1)].concat(),
            ),
            (
                Request::Create {
                    op: op::CREATE_CONTAINER,
                    request: create("/c", "d", 4, 0),
                },
                [ustring("/c"), buffer(b"d"), open_acl_bytes(), int(4)].concat(),
            ),
            (
                Request::Create {
                    op: op::CREATE_TTL,
                    request: create("/t", "", 5, 60_000),
                },
                [
                    ustring("/t"),
                    buffer(b""),
                    open_acl_bytes(),
                    int(5),
                    long(60_000),
                ]
                .concat(),
            ),
            (
                Request::Delete(DeleteRequest {
                    path: "/a".into(),
                    version: -1,
                }),
                [ustring("/a"), int(-1)].concat(),
            ),
            (
                Request::DeleteContainer { path: "/c".into() },
                ustring("/c"),
            ),
            (
                Request::Exists(path_watch("/a", true)),
                [ustring("/a"), boolean(true)].concat(),
            ),
            (
                Request::GetData(path_watch("/a", false)),
                [ustring("/a"), boolean(false)].concat(),
            ),
            (
                Request::SetData(SetDataRequest {
                    path: "/a".into(),
                    data: Bytes::from_static(b"yz"),
                    version: 3,
                }),
                [ustring("/a"), buffer(b"yz"), int(3)].concat(),
            ),
            (Request::GetAcl { path: "/a".into() }, ustring("/a")),
            (
                Request::SetAcl(SetAclRequest {
                    path: "/a".into(),
                    acl: Acl::open_unsafe(),
                    version: 2,
                }),
                [ustring("/a"), open_acl_bytes(), int(2)].concat(),
            ),
            (
                Request::GetChildren(path_watch("/", true)),
                [ustring("/"), boolean(true)].concat(),
            ),
            (
                Request::GetChildren2(path_watch("/", false)),
                [ustring("/"), boolean(false)].concat(),
            ),
            (Request::Sync { path: "/".into() }, ustring("/")),
            (Request::Ping, vec![]),
            (
                Request::Check(CheckVersionRequest {
                    path: "/a".into(),
                    version: 7,
                }),
                [ustring("/a"), int(7)].concat(),
            ),
            (Request::Multi(multi_ops), multi_bytes),
            (
                Request::MultiRead(vec![
                    MultiOp::GetChildren { path: "/".into() },
                    MultiOp::GetData { path: "/a".into() },
                ]),
                [
                    multi_header(8, false, -1),
                    ustring("/"),
                    boolean(false),
                    multi_header(4, false, -1),
                    ustring("/a"),
                    boolean(false),
                    end_header(),
                ]
                .concat(),
            ),
            (
                Request::Reconfig(ReconfigRequest {
                    joining_servers: Some("server.4=h:2888:3888;2181".into()),
                    leaving_servers: None,
                    new_members: Some(String::new()),
                    cur_config_id: -1,
                }),
                [
                    ustring("server.4=h:2888:3888;2181"),
                    int(-1),
                    ustring(""),
                    long(-1),
                ]
                .concat(),
            ),
            (
                Request::CheckWatches(WatchesRequest {
                    path: "/a".into(),
                    watcher_type: 2,
                }),
                [ustring("/a"), int(2)].concat(),
            ),
            (
                Request::RemoveWatches(WatchesRequest {
                    path: "/a".into(),
                    watcher_type: 3,
                }),
                [ustring("/a"), int(3)].concat(),
            ),
            (
                Request::Auth(AuthPacket {
                    auth_type: 0,
                    scheme: "digest".into(),
                    auth: b"u:p".to_vec(),
                }),
                [int(0), ustring("digest"), buffer(b"u:p")].concat(),
            ),
            (
                Request::SetWatches(SetWatchesRequest {
                    relative_zxid: 5,
                    data_watches: owned(&["/d"]),
                    exist_watches: owned(&["/e", "/f"]),
                    child_watches: vec![],
                    ..SetWatchesRequest::default()
                }),
                [
                    long(5),
                    strings(&["/d"]),
                    strings(&["/e", "/f"]),
                    strings(&[]),
                ]
                .concat(),
            ),
            (
                Request::SetWatches2(SetWatchesRequest {
                    relative_zxid: 6,
                    data_watches: owned(&["/d"]),
                    exist_watches: vec![],
                    child_watches: owned(&["/c"]),
                    persistent_watches: owned(&["/p"]),
                    persistent_recursive_watches: owned(&["/r"]),
                }),
                [
                    long(6),
                    strings(&["/d"]),
                    strings(&[]),
                    strings(&["/c"]),
                    strings(&["/p"]),
                    strings(&["/r"]),
                ]
                .concat(),
            ),
            (
                Request::Sasl {
                    token: vec![1, 2, 3],
                },
                buffer(&[1, 2, 3]),
            ),
            (
                Request::GetEphemerals {
                    prefix_path: "/e".into(),
                },
                ustring("/e"),
            ),
            (
                Request::GetAllChildrenNumber { path: "/".into() },
                ustring("/"),
            ),
            (
                Request::AddWatch(AddWatchRequest {
                    path: "/a".into(),
                    mode: 1,
                }),
                [ustring("/a"), int(1)].concat(),
            ),
            (Request::WhoAmI, vec![]),
            (Request::CloseSession, vec![]),
        ]
    }

    /// Every Response variant, with the op it answers and hand-built bytes.
    fn golden_responses() -> Vec<(i32, Response, Vec<u8>)> {
        let stat = sample_stat();
        vec![
            (op::DELETE, Response::Empty, vec![]),
            (
                op::CREATE,
                Response::Create { path: "/a".into() },
                ustring("/a"),
            ),
            (
                op::CREATE2,
                Response::Create2 {
                    path: "/a".into(),
                    stat,
                },
                [ustring("/a"), stat_bytes()].concat(),
            ),
            (
                op::CREATE_TTL,
                Response::Create2 {
                    path: "/t".into(),
                    stat,
                },
                [ustring("/t"), stat_bytes()].concat(),
            ),
            (op::EXISTS, Response::Stat(stat), stat_bytes()),
            (op::SET_DATA, Response::Stat(stat), stat_bytes()),
            (op::SET_ACL, Response::Stat(stat), stat_bytes()),
            (
                op::GET_DATA,
                Response::GetData {
                    data: Bytes::from_static(b"x"),
                    stat,
                },
                [buffer(b"x"), stat_bytes()].concat(),
            ),
            (
                op::GET_ACL,
                Response::GetAcl {
                    acl: Acl::open_unsafe(),
                    stat,
                },
                [open_acl_bytes(), stat_bytes()].concat(),
            ),
            (
                op::GET_CHILDREN,
                Response::GetChildren {
                    children: owned(&["a", "b"]),
                },
                strings(&["a", "b"]),
            ),
            (
                op::GET_CHILDREN2,
                Response::GetChildren2 {
                    children: owned(&["a"]),
                    stat,
                },
                [strings(&["a"]), stat_bytes()].concat(),
            ),
            (op::SYNC, Response::Sync { path: "/".into() }, ustring("/")),
            (
                op::MULTI,
                Response::Multi(vec![
                    OpResult::Create { path: "/m".into() },
                    OpResult::Create2 {
                        path: "/m2".into(),
                        stat,
                    },
                    OpResult::Delete,
                    OpResult::SetData { stat },
                    OpResult::Check,
                ]),
                [
                    multi_header(1, false, 0),
                    ustring("/m"),
                    multi_header(15, false, 0),
                    ustring("/m2"),
                    stat_bytes(),
                    multi_header(2, false, 0),
                    multi_header(5, false, 0),
                    stat_bytes(),
                    multi_header(13, false, 0),
                    end_header(),
                ]
                .concat(),
            ),
            (
                op::MULTI,
                Response::Multi(vec![
                    OpResult::Error(ErrorCode::Ok),
                    OpResult::Error(ErrorCode::NodeExists),
                ]),
                [
                    multi_header(-1, false, 0),
                    int(0),
                    multi_header(-1, false, -110),
                    int(-110),
                    end_header(),
                ]
                .concat(),
            ),
            (
                op::MULTI_READ,
                Response::Multi(vec![
                    OpResult::GetChildren {
                        children: owned(&["x"]),
                    },
                    OpResult::GetData {
                        data: Bytes::from_static(b"d"),
                        stat,
                    },
                    OpResult::Error(ErrorCode::NoNode),
                ]),
                [
                    multi_header(8, false, 0),
                    strings(&["x"]),
                    multi_header(4, false, 0),
                    buffer(b"d"),
                    stat_bytes(),
                    multi_header(-1, false, -101),
                    int(-101),
                    end_header(),
                ]
                .concat(),
            ),
            (
                op::SASL,
                Response::Sasl { token: vec![9, 8] },
                buffer(&[9, 8]),
            ),
            (
                op::GET_EPHEMERALS,
                Response::GetEphemerals {
                    paths: owned(&["/e1", "/e2"]),
                },
                strings(&["/e1", "/e2"]),
            ),
            (
                op::GET_ALL_CHILDREN_NUMBER,
                Response::GetAllChildrenNumber { total: 42 },
                int(42),
            ),
            (
                op::WHO_AM_I,
                Response::WhoAmI(vec![
                    ClientInfo {
                        auth_scheme: "ip".into(),
                        user: "127.0.0.1".into(),
                    },
                    ClientInfo {
                        auth_scheme: "digest".into(),
                        user: "u".into(),
                    },
                ]),
                [
                    int(2),
                    ustring("ip"),
                    ustring("127.0.0.1"),
                    ustring("digest"),
                    ustring("u"),
                ]
                .concat(),
            ),
            (
                op::RECONFIG,
                Response::Reconfig {
                    data: Bytes::from_static(b"server.1=h:2888:3888"),
                    stat,
                },
                [buffer(b"server.1=h:2888:3888"), stat_bytes()].concat(),
            ),
        ]
    }

    /// Every op code a Request can carry, plus some that no Request carries.
    const ALL_OPS: [i32; 36] = [
        1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 100, 101, 102,
        103, 104, 105, 106, 107, -11, // known
        0, 10, 23, -10, -1, 999, // unknown
    ];

    #[test]
    fn golden_request_bodies_encode_and_decode() {
        for (request, bytes) in golden_requests() {
            assert_eq!(encoded_request(&request), bytes, "encode {request:?}");
            assert_eq!(
                Request::decode(request.op_code(), &bytes),
                Ok(request.clone()),
                "decode {request:?}"
            );
        }
    }

    #[test]
    fn golden_requests_cover_every_op_code() {
        let mut ops: Vec<i32> = golden_requests().iter().map(|(r, _)| r.op_code()).collect();
        ops.sort_unstable();
        ops.dedup();
        let mut known: Vec<i32> = ALL_OPS[..30].to_vec();
        known.sort_unstable();
        assert_eq!(ops, known);
    }

    #[test]
    fn create_of_a_with_x_is_byte_exact() {
        // create "/a", data "x", OPEN_ACL_UNSAFE, flags 0, spelled out.
        let expected: Vec<u8> = vec![
            0, 0, 0, 2, b'/', b'a', // path
            0, 0, 0, 1, b'x', // data
            0, 0, 0, 1, // one ACL
            0, 0, 0, 31, // perms ALL
            0, 0, 0, 5, b'w', b'o', b'r', b'l', b'd', // scheme
            0, 0, 0, 6, b'a', b'n', b'y', b'o', b'n', b'e', // id
            0, 0, 0, 0, // flags
        ];
        let request = Request::Create {
            op: op::CREATE,
            request: create("/a", "x", 0, 0),
        };
        assert_eq!(encoded_request(&request), expected);
    }

    #[test]
    fn golden_response_bodies_encode_and_decode() {
        for (op_code, response, bytes) in golden_responses() {
            assert_eq!(encoded_response(&response), bytes, "encode {response:?}");
            assert_eq!(
                Response::decode(op_code, &bytes),
                Ok(response.clone()),
                "decode {response:?}"
            );
        }
    }

    #[test]
    fn every_request_round_trips_with_trailing_bytes_ignored() {
        for (request, _) in golden_requests() {
            let mut bytes = encoded_request(&request);
            assert_eq!(
                Request::decode(request.op_code(), &bytes),
                Ok(request.clone())
            );
            bytes.extend_from_slice(b"trailing");
            assert_eq!(Request::decode(request.op_code(), &bytes), Ok(request));
        }
    }

    #[test]
    fn every_response_round_trips() {
        for (op_code, response, _) in golden_responses() {
            let bytes = encoded_response(&response);
            assert_eq!(Response::decode(op_code, &bytes), Ok(response));
        }
    }

    #[test]
    fn empty_responses_decode_for_every_bodyless_op() {
        for op_code in [2, 11, 17, 18, 20, 100, 101, 105, 106, -11] {
            assert_eq!(
                Response::decode(op_code, &[]),
                Ok(Response::Empty),
                "op {op_code}"
            );
        }
    }

    #[test]
    fn container_and_check_responses_accept_both_shapes() {
        // ZooKeeper answers createContainer with Create2Response, check with a Stat.
        let with_stat = [ustring("/c"), stat_bytes()].concat();
        assert_eq!(
            Response::decode(op::CREATE_CONTAINER, &with_stat),
            Ok(Response::Create2 {
                path: "/c".into(),
                stat: sample_stat()
            })
        );
        assert_eq!(
            Response::decode(op::CREATE_CONTAINER, &ustring("/c")),
            Ok(Response::Create { path: "/c".into() })
        );
        assert_eq!(
            Response::decode(op::CHECK, &stat_bytes()),
            Ok(Response::Stat(sample_stat()))
        );
        assert_eq!(Response::decode(op::CHECK, &[]), Ok(Response::Empty));
    }

    #[test]
    fn multi_round_trips_and_marks_errors() {
        let (ops, bytes) = write_multi_ops();
        let request = Request::Multi(ops);
        assert_eq!(Request::decode(op::MULTI, &bytes), Ok(request.clone()));
        assert_eq!(encoded_request(&request), bytes);

        let results = Response::Multi(vec![
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::BadVersion),
            OpResult::Error(ErrorCode::RuntimeInconsistency),
        ]);
        assert_eq!(
            Response::decode(op::MULTI, &encoded_response(&results)),
            Ok(results)
        );
        // An empty multi is just the end marker.
        assert_eq!(encoded_request(&Request::Multi(vec![])), end_header());
        assert_eq!(
            Request::decode(op::MULTI, &end_header()),
            Ok(Request::Multi(vec![]))
        );
    }

    #[test]
    fn multi_rejects_unknown_ops_mixing_and_missing_end() {
        let unknown = [
            multi_header(3, false, -1),
            ustring("/a"),
            boolean(false),
            end_header(),
        ]
        .concat();
        assert!(matches!(
            Request::decode(op::MULTI, &unknown),
            Err(DecodeError::BadValue { .. })
        ));

        let mixed = [
            multi_header(2, false, -1),
            ustring("/a"),
            int(-1),
            multi_header(4, false, -1),
            ustring("/a"),
            boolean(false),
            end_header(),
        ]
        .concat();
        assert!(matches!(
            Request::decode(op::MULTI, &mixed),
            Err(DecodeError::BadValue { .. })
        ));

        let unterminated = [multi_header(2, false, -1), ustring("/a"), int(-1)].concat();
        assert!(matches!(
            Request::decode(op::MULTI, &unterminated),
            Err(DecodeError::Truncated { .. })
        ));

        let bad_result = [multi_header(77, false, 0), end_header()].concat();
        assert!(Response::decode(op::MULTI, &bad_result).is_err());
        let bad_code = [multi_header(-1, false, -9999), int(-9999), end_header()].concat();
        assert!(Response::decode(op::MULTI, &bad_code).is_err());
    }

    #[test]
    fn multi_read_ignores_the_watch_flag() {
        let bytes = [
            multi_header(4, false, -1),
            ustring("/a"),
            boolean(true),
            end_header(),
        ]
        .concat();
        assert_eq!(
            Request::decode(op::MULTI_READ, &bytes),
            Ok(Request::MultiRead(vec![MultiOp::GetData {
                path: "/a".into()
            }]))
        );
    }

    #[test]
    fn unknown_op_codes_are_refused() {
        for op_code in [0, 10, 23, -10, -1, 999] {
            assert_eq!(
                Request::decode(op_code, &[]),
                Err(DecodeError::UnknownOp(op_code))
            );
        }
        assert_eq!(Response::decode(999, &[]), Err(DecodeError::UnknownOp(999)));
    }

    #[test]
    fn null_strings_and_buffers_read_as_empty() {
        let bytes = [int(-1), int(-1), int(-1), int(0)].concat();
        assert_eq!(
            Request::decode(op::CREATE, &bytes),
            Ok(Request::Create {
                op: op::CREATE,
                request: CreateRequest {
                    path: String::new(),
                    data: Bytes::new(),
                    acl: vec![],
                    flags: 0,
                    ttl_ms: 0
                },
            })
        );
    }

    #[test]
    fn is_write_matches_the_sequencer_list() {
        let writes: Vec<i32> = golden_requests()
            .iter()
            .filter(|(r, _)| r.is_write())
            .map(|(r, _)| r.op_code())
            .collect();
        assert_eq!(writes, vec![1, 15, 19, 21, 2, 20, 5, 7, 9, 13, 14, 16, -11]);
    }

    #[test]
    fn headers_are_byte_exact() {
        let mut v = Vec::new();
        RequestHeader {
            xid: 7,
            op: op::GET_DATA,
        }
        .encode(&mut v);
        assert_eq!(v, [int(7), int(4)].concat());
        assert_eq!(
            RequestHeader::decode(&mut Reader::new(&v)),
            Ok(RequestHeader { xid: 7, op: 4 })
        );

        let header = ReplyHeader {
            xid: 7,
            zxid: 0x1_0000_0005,
            err: -101,
        };
        let mut v = Vec::new();
        header.encode(&mut v);
        assert_eq!(v, [int(7), long(0x1_0000_0005), int(-101)].concat());
        assert_eq!(ReplyHeader::decode(&mut Reader::new(&v)), Ok(header));

        let mut v = Vec::new();
        MultiHeader::END.encode(&mut v);
        assert_eq!(v, [int(-1), vec![1], int(-1)].concat());
        assert_eq!(v.len(), MULTI_HEADER_BYTES);
    }

    #[test]
    fn connect_request_with_and_without_read_only() {
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0x1_0000_0009,
            timeout_ms: 30_000,
            session_id: 0x0100_0000_0000_0001,
            passwd: vec![7; 16],
            read_only: true,
        };
        let full = [
            int(0),
            long(0x1_0000_0009),
            int(30_000),
            long(0x0100_0000_0000_0001),
            buffer(&[7; 16]),
            boolean(true),
        ]
        .concat();
        let mut v = Vec::new();
        request.encode(&mut v);
        assert_eq!(v, full);
        assert_eq!(ConnectRequest::decode(&full), Ok(request.clone()));

        let old_client = &full[..full.len() - 1];
        assert_eq!(
            ConnectRequest::decode(old_client),
            Ok(ConnectRequest {
                read_only: false,
                ..request
            })
        );
        assert!(ConnectRequest::decode(&full[..10]).is_err());
    }

    #[test]
    fn connect_response_with_and_without_read_only() {
        let response = ConnectResponse {
            protocol_version: 0,
            timeout_ms: 4000,
            session_id: 42,
            passwd: vec![1; 16],
            read_only: false,
        };
        let full = [
            int(0),
            int(4000),
            long(42),
            buffer(&[1; 16]),
            boolean(false),
        ]
        .concat();
        let mut v = Vec::new();
        response.encode(&mut v);
        assert_eq!(v, full);
        assert_eq!(ConnectResponse::decode(&full), Ok(response.clone()));
        assert_eq!(
            ConnectResponse::decode(&full[..full.len() - 1]),
            Ok(response)
        );
    }

    #[test]
    fn watcher_event_is_byte_exact_and_checks_enums() {
        let event = WatcherEvent {
            event_type: EventType::NodeDataChanged,
            state: KeeperState::SyncConnected,
            path: "/a".into(),
        };
        let bytes = [int(3), int(3), ustring("/a")].concat();
        let mut v = Vec::new();
        event.encode(&mut v);
        assert_eq!(v, bytes);
        assert_eq!(WatcherEvent::decode(&mut Reader::new(&bytes)), Ok(event));
        let bad = [int(99), int(3), ustring("/a")].concat();
        assert!(matches!(
            WatcherEvent::decode(&mut Reader::new(&bad)),
            Err(DecodeError::BadValue { .. })
        ));
        for code in [-1, 1, 2, 3, 4, 5, 6, 7] {
            assert_eq!(EventType::from_code(code).map(|e| e as i32), Some(code));
        }
        for code in [0, 3, 4, 5, 6, 7, -112] {
            assert_eq!(KeeperState::from_code(code).map(|s| s as i32), Some(code));
        }
    }

    #[test]
    fn hostile_counts_fail_fast() {
        // A vector count of i32::MAX in a few bytes must be refused before any
        // allocation.
        let huge = [int(i32::MAX), ustring("a")].concat();
        assert!(matches!(
            Response::decode(op::GET_CHILDREN, &huge),
            Err(DecodeError::BadLength { .. })
        ));
        assert!(matches!(
            Response::decode(op::WHO_AM_I, &huge),
            Err(DecodeError::BadLength { .. })
        ));
        let set_watches = [long(0), int(i32::MAX)].concat();
        assert!(matches!(
            Request::decode(op::SET_WATCHES, &set_watches),
            Err(DecodeError::BadLength { .. })
        ));
        let acl = [ustring("/a"), int(i32::MAX), int(0)].concat();
        assert!(matches!(
            Request::decode(op::SET_ACL, &acl),
            Err(DecodeError::BadLength { .. })
        ));
        let bad_utf8 = [int(2), vec![0xff, 0xfe], boolean(false)].concat();
        assert!(matches!(
            Request::decode(op::GET_DATA, &bad_utf8),
            Err(DecodeError::BadUtf8 { .. })
        ));
    }

    fn valid_request_bytes() -> Vec<(i32, Vec<u8>)> {
        golden_requests()
            .into_iter()
            .map(|(r, b)| (r.op_code(), b))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Arbitrary bytes under every op code: no panic, and whatever decodes
        /// re-encodes to no more bytes than it came from (so nothing it holds
        /// was conjured beyond the input), and decodes again to itself.
        #[test]
        fn request_decode_of_arbitrary_bytes_is_safe(
            op_index in 0..ALL_OPS.len(),
            body in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let op_code = ALL_OPS[op_index];
            if let Ok(request) = Request::decode(op_code, &body) {
                let again = encoded_request(&request);
                prop_assert!(again.len() <= body.len(), "{} > {} for {:?}", again.len(), body.len(), request);
                prop_assert_eq!(Request::decode(op_code, &again), Ok(request));
            }
        }

        /// Valid bodies with random damage (byte overwrites and truncation).
        #[test]
        fn request_decode_of_damaged_bytes_is_safe(
            index in any::<proptest::sample::Index>(),
            edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 0..6),
            cut in any::<proptest::sample::Index>(),
        ) {
            let samples = valid_request_bytes();
            let (op_code, mut body) = samples[index.index(samples.len())].clone();
            if !body.is_empty() {
                for (at, value) in edits {
                    let i = at.index(body.len());
                    body[i] = value;
                }
                body.truncate(cut.index(body.len() + 1));
            }
            if let Ok(request) = Request::decode(op_code, &body) {
                let again = encoded_request(&request);
                prop_assert!(again.len() <= body.len());
                prop_assert_eq!(Request::decode(op_code, &again), Ok(request));
            }
        }

        /// Arbitrary reply bodies (client side) never panic either.
        #[test]
        fn response_decode_of_arbitrary_bytes_is_safe(
            op_index in 0..ALL_OPS.len(),
            body in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let op_code = ALL_OPS[op_index];
            if let Ok(response) = Response::decode(op_code, &body) {
                prop_assert!(encoded_response(&response).len() <= body.len());
            }
        }

        #[test]
        fn create_requests_round_trip(
            path in "/[a-z0-9/]{0,20}",
            data in proptest::collection::vec(any::<u8>(), 0..64),
            flags in 0..7i32,
            ttl_ms in any::<i64>(),
            create_op in prop::sample::select(vec![op::CREATE, op::CREATE2, op::CREATE_CONTAINER, op::CREATE_TTL]),
            scheme in "[a-z]{1,8}",
            id in "[a-z0-9:.]{0,16}",
            perms in 0..32i32,
        ) {
            let request = Request::Create {
                op: create_op,
                request: CreateRequest {
                    path,
                    data: Bytes::from(data),
                    acl: vec![Acl { perms, id: Id { scheme, id } }],
                    flags,
                    ttl_ms: if create_op == op::CREATE_TTL { ttl_ms } else { 0 },
                },
            };
            let bytes = encoded_request(&request);
            prop_assert_eq!(Request::decode(create_op, &bytes), Ok(request));
        }
    }
}
