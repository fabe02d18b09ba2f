//! Client records of `zookeeper.jute`, field for field, and the two enums the
//! server dispatches on: [`Request`] (one variant per op code) and
//! [`Response`]. Encoding and decoding live in `codec.rs`.

use bytes::Bytes;

use super::types::{Acl, ErrorCode, Id, Stat, WatcherEvent};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    /// Absent in pre-3.4 clients; decoded as false then.
    pub read_only: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub read_only: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestHeader {
    pub xid: i32,
    pub op: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyHeader {
    pub xid: i32,
    pub zxid: i64,
    pub err: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateRequest {
    pub path: String,
    pub data: Bytes,
    pub acl: Vec<Acl>,
    pub flags: i32,
    /// Only for createTTL (op 21); 0 otherwise.
    pub ttl_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteRequest {
    pub path: String,
    pub version: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathWatch {
    pub path: String,
    pub watch: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetDataRequest {
    pub path: String,
    pub data: Bytes,
    pub version: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetAclRequest {
    pub path: String,
    pub acl: Vec<Acl>,
    pub version: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckVersionRequest {
    pub path: String,
    pub version: i32,
}

/// One operation inside a multi (op 14) or multiRead (op 22).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MultiOp {
    /// op is one of create (1), create2 (15), createContainer (19), createTTL (21).
    Create {
        op: i32,
        request: CreateRequest,
    },
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    GetChildren {
        path: String,
    },
    GetData {
        path: String,
    },
}

/// `SetWatches` (101) and `SetWatches2` (105; adds the persistent lists).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SetWatchesRequest {
    pub relative_zxid: i64,
    pub data_watches: Vec<String>,
    pub exist_watches: Vec<String>,
    pub child_watches: Vec<String>,
    pub persistent_watches: Vec<String>,
    pub persistent_recursive_watches: Vec<String>,
}

/// `WatcherType` in checkWatches / removeWatches: 1 children, 2 data, 3 any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchesRequest {
    pub path: String,
    pub watcher_type: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddWatchRequest {
    pub path: String,
    /// 0 persistent, 1 persistent recursive.
    pub mode: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthPacket {
    pub auth_type: i32,
    pub scheme: String,
    pub auth: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconfigRequest {
    pub joining_servers: Option<String>,
    pub leaving_servers: Option<String>,
    pub new_members: Option<String>,
    pub cur_config_id: i64,
}

/// A decoded client request: one variant per op code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// create (1), create2 (15), createContainer (19), createTTL (21): `op` says which.
    Create {
        op: i32,
        request: CreateRequest,
    },
    Delete(DeleteRequest),
    DeleteContainer {
        path: String,
    },
    Exists(PathWatch),
    GetData(PathWatch),
    SetData(SetDataRequest),
    GetAcl {
        path: String,
    },
    SetAcl(SetAclRequest),
    GetChildren(PathWatch),
    GetChildren2(PathWatch),
    Sync {
        path: String,
    },
    Ping,
    Check(CheckVersionRequest),
    Multi(Vec<MultiOp>),
    MultiRead(Vec<MultiOp>),
    Reconfig(ReconfigRequest),
    CheckWatches(WatchesRequest),
    RemoveWatches(WatchesRequest),
    Auth(AuthPacket),
    SetWatches(SetWatchesRequest),
    SetWatches2(SetWatchesRequest),
    Sasl {
        token: Vec<u8>,
    },
    GetEphemerals {
        prefix_path: String,
    },
    GetAllChildrenNumber {
        path: String,
    },
    AddWatch(AddWatchRequest),
    WhoAmI,
    CloseSession,
}

/// One result inside a multi / multiRead response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpResult {
    /// create (1) and createContainer: the created path.
    Create {
        path: String,
    },
    /// create2 / createTTL inside a multi: path and Stat.
    Create2 {
        path: String,
        stat: Stat,
    },
    Delete,
    SetData {
        stat: Stat,
    },
    Check,
    GetChildren {
        children: Vec<String>,
    },
    GetData {
        data: Bytes,
        stat: Stat,
    },
    Error(ErrorCode),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientInfo {
    pub auth_scheme: String,
    pub user: String,
}

/// The body that follows a ReplyHeader with err = 0. (An error reply has no body.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// delete, sync's empty case, setWatches, removeWatches, checkWatches,
    /// addWatch, auth, closeSession, ping, check: no body.
    Empty,
    Create {
        path: String,
    },
    Create2 {
        path: String,
        stat: Stat,
    },
    /// exists, setData, setACL: a bare Stat.
    Stat(Stat),
    GetData {
        data: Bytes,
        stat: Stat,
    },
    GetAcl {
        acl: Vec<Acl>,
        stat: Stat,
    },
    GetChildren {
        children: Vec<String>,
    },
    GetChildren2 {
        children: Vec<String>,
        stat: Stat,
    },
    Sync {
        path: String,
    },
    Multi(Vec<OpResult>),
    Sasl {
        token: Vec<u8>,
    },
    GetEphemerals {
        paths: Vec<String>,
    },
    GetAllChildrenNumber {
        total: i32,
    },
    WhoAmI(Vec<ClientInfo>),
    /// addWatch: ZooKeeper answers with `ErrorResponse{int err = 0}`, a
    /// 4-byte body the Java client reads (an empty body breaks it).
    AddWatch,
    /// Reconfig returns the new config data + Stat (GetDataResponse shape).
    Reconfig {
        data: Bytes,
        stat: Stat,
    },
}

/// A notification frame body (sent with ReplyHeader xid -1, zxid, err 0).
pub type Notification = WatcherEvent;

/// The identities an authenticated connection holds (used in ACL checks).
pub type AuthIds = Vec<Id>;
