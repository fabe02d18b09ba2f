//! Txn records: what the sequencer produces, the log stores, Zab replicates
//! and every shard applies.
//!
//! - `prepare` (leader only): request + tree + pending changes -> txn body or
//!   error code, like ZooKeeper's PrepRequestProcessor.
//! - `apply`: txn -> tree copy, returning the result and the watch events of
//!   this copy's sessions, like DataTree.processTxn.
//! - `response_for` / `read`: the client replies, like FinalRequestProcessor.
//!
//! The encoding mirrors ZooKeeper's `TxnHeader` + txn record (zookeeper.jute)
//! field for field: a create is CreateTxn (type 1), CreateContainerTxn (19)
//! or CreateTTLTxn (21); a multi is MultiTxn of {type, buffer} entries. What
//! ZooKeeper would log as the sub-txn of a failed multi is logged here
//! already turned into ErrorTxn (0 before the failure, the code at it,
//! RuntimeInconsistency after), which is what its apply does anyway. No
//! digest is appended; `storage` adds framing and checksums.

mod apply;
mod prepare;

use bytes::Bytes;
use std::sync::Arc;

use crate::protocol::jute::{DecodeError, JuteWrite, Reader};
use crate::protocol::{op, Acl, ErrorCode};

pub use apply::{apply, read, response_for, ApplyOutcome, TxnResult};
pub use prepare::{
    prepare, prepare_close_session, prepare_create_session, PendingChanges, PrepareContext,
};

/// How a created node is owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateKind {
    Persistent,
    /// Owned by the txn's session.
    Ephemeral,
    Container,
    Ttl {
        ttl_ms: i64,
    },
}

/// The change a txn makes. See the module docs for the encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnBody {
    CreateSession {
        timeout_ms: i32,
    },
    /// The ephemerals to delete, as the sequencer saw them (ZooKeeper's
    /// CloseSessionTxn); apply also deletes any other ephemeral still left.
    CloseSession {
        paths_to_delete: Vec<String>,
    },
    Create {
        /// Shared by every tree copy that applies this txn: one allocation
        /// of the path for all of them.
        path: Arc<str>,
        data: Bytes,
        acl: Vec<Acl>,
        kind: CreateKind,
        /// The parent's new stored cversion (child creations).
        parent_cversion: i32,
    },
    Delete {
        path: String,
    },
    /// The server's deletion of an empty container or expired TTL node.
    DeleteContainer {
        path: String,
    },
    SetData {
        path: String,
        data: Bytes,
        /// The new version.
        version: i32,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        /// The new aversion.
        version: i32,
    },
    Check {
        path: String,
        /// The checked version + 1, as ZooKeeper records it.
        version: i32,
    },
    Multi(Vec<TxnBody>),
    /// A failed request (or a failed multi's entry).
    Error(ErrorCode),
}

/// One txn: ZooKeeper's TxnHeader plus the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Txn {
    pub session_id: i64,
    pub cxid: i32,
    pub zxid: i64,
    pub time_ms: i64,
    pub body: TxnBody,
}

impl TxnBody {
    /// The TxnHeader type of this body.
    pub fn op_code(&self) -> i32 {
        match self {
            TxnBody::CreateSession { .. } => op::CREATE_SESSION,
            TxnBody::CloseSession { .. } => op::CLOSE_SESSION,
            TxnBody::Create {
                kind: CreateKind::Container,
                ..
            } => op::CREATE_CONTAINER,
            TxnBody::Create {
                kind: CreateKind::Ttl { .. },
                ..
            } => op::CREATE_TTL,
            TxnBody::Create { .. } => op::CREATE,
            TxnBody::Delete { .. } => op::DELETE,
            TxnBody::DeleteContainer { .. } => op::DELETE_CONTAINER,
            TxnBody::SetData { .. } => op::SET_DATA,
            TxnBody::SetAcl { .. } => op::SET_ACL,
            TxnBody::Check { .. } => op::CHECK,
            TxnBody::Multi(_) => op::MULTI,
            TxnBody::Error(_) => op::ERROR,
        }
    }

    /// Appends the record (without type).
    pub fn encode_record(&self, out: &mut Vec<u8>) {
        match self {
            TxnBody::CreateSession { timeout_ms } => out.write_i32(*timeout_ms),
            TxnBody::CloseSession { paths_to_delete } => out.write_string_vec(paths_to_delete),
            TxnBody::Create {
                path,
                data,
                acl,
                kind,
                parent_cversion,
            } => {
                out.write_string(path);
                out.write_buffer(data);
                out.write_acl_vec(acl);
                match kind {
                    CreateKind::Persistent | CreateKind::Ephemeral => {
                        out.write_bool(*kind == CreateKind::Ephemeral);
                        out.write_i32(*parent_cversion);
                    }
                    CreateKind::Container => out.write_i32(*parent_cversion),
                    CreateKind::Ttl { ttl_ms } => {
                        out.write_i32(*parent_cversion);
                        out.write_i64(*ttl_ms);
                    }
                }
            }
            TxnBody::Delete { path } | TxnBody::DeleteContainer { path } => out.write_string(path),
            TxnBody::SetData {
                path,
                data,
                version,
            } => {
                out.write_string(path);
                out.write_buffer(data);
                out.write_i32(*version);
            }
            TxnBody::SetAcl { path, acl, version } => {
                out.write_string(path);
                out.write_acl_vec(acl);
                out.write_i32(*version);
            }
            TxnBody::Check { path, version } => {
                out.write_string(path);
                out.write_i32(*version);
            }
            TxnBody::Multi(ops) => {
                out.write_i32(ops.len() as i32);
                let mut record = Vec::new();
                for body in ops {
                    record.clear();
                    body.encode_record(&mut record);
                    out.write_i32(body.op_code());
                    out.write_buffer(&record);
                }
            }
            TxnBody::Error(code) => out.write_i32(code.code()),
        }
    }

    /// Reads the record of a body of type `op_code`.
    pub fn decode_record(op_code: i32, r: &mut Reader<'_>) -> Result<TxnBody, DecodeError> {
        Ok(match op_code {
            op::CREATE_SESSION => TxnBody::CreateSession {
                timeout_ms: r.read_i32()?,
            },
            op::CLOSE_SESSION => TxnBody::CloseSession {
                paths_to_delete: r.read_string_vec()?,
            },
            op::CREATE | op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => {
                let path = r.read_string()?;
                let data = r.read_bytes()?;
                let acl = r.read_acl_vec()?;
                let (kind, parent_cversion) = match op_code {
                    op::CREATE_CONTAINER => (CreateKind::Container, r.read_i32()?),
                    op::CREATE_TTL => {
                        let parent_cversion = r.read_i32()?;
                        (
                            CreateKind::Ttl {
                                ttl_ms: r.read_i64()?,
                            },
                            parent_cversion,
                        )
                    }
                    _ => {
                        let ephemeral = r.read_bool()?;
                        let kind = if ephemeral {
                            CreateKind::Ephemeral
                        } else {
                            CreateKind::Persistent
                        };
                        (kind, r.read_i32()?)
                    }
                };
                TxnBody::Create {
                    path: Arc::from(path),
                    data,
                    acl,
                    kind,
                    parent_cversion,
                }
            }
            op::DELETE => TxnBody::Delete {
                path: r.read_string()?,
            },
            op::DELETE_CONTAINER => TxnBody::DeleteContainer {
                path: r.read_string()?,
            },
            op::SET_DATA => TxnBody::SetData {
                path: r.read_string()?,
                data: r.read_bytes()?,
                version: r.read_i32()?,
            },
            op::SET_ACL => TxnBody::SetAcl {
                path: r.read_string()?,
                acl: r.read_acl_vec()?,
                version: r.read_i32()?,
            },
            op::CHECK => TxnBody::Check {
                path: r.read_string()?,
                version: r.read_i32()?,
            },
            op::MULTI => {
                let n = r.read_vec_len(8)?;
                let mut ops = Vec::with_capacity(n);
                for _ in 0..n {
                    let sub_type = r.read_i32()?;
                    if sub_type == op::MULTI {
                        return Err(DecodeError::BadValue {
                            field: "nested multi",
                            value: 14,
                        });
                    }
                    let record = r.read_buffer()?;
                    let mut sub = Reader::new(record);
                    ops.push(TxnBody::decode_record(sub_type, &mut sub)?);
                    if !sub.is_empty() {
                        return Err(DecodeError::BadValue {
                            field: "multi entry trailing bytes",
                            value: sub.remaining() as i64,
                        });
                    }
                }
                TxnBody::Multi(ops)
            }
            op::ERROR => {
                let code = r.read_i32()?;
                TxnBody::Error(ErrorCode::from_code(code).ok_or(DecodeError::BadValue {
                    field: "error code",
                    value: code as i64,
                })?)
            }
            other => return Err(DecodeError::UnknownOp(other)),
        })
    }
}

impl Txn {
    /// Appends TxnHeader (clientId, cxid, zxid, time, type) and the record.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.write_i64(self.session_id);
        out.write_i32(self.cxid);
        out.write_i64(self.zxid);
        out.write_i64(self.time_ms);
        out.write_i32(self.body.op_code());
        self.body.encode_record(out);
    }

    /// Decodes exactly one txn; trailing bytes are an error.
    pub fn decode(bytes: &[u8]) -> Result<Txn, DecodeError> {
        let mut r = Reader::new(bytes);
        let txn = Txn::decode_from(&mut r)?;
        if !r.is_empty() {
            return Err(DecodeError::BadValue {
                field: "txn trailing bytes",
                value: r.remaining() as i64,
            });
        }
        Ok(txn)
    }

    /// Decodes one txn from the front of `r`, leaving what follows (a peer's
    /// PROPOSAL appends a digest).
    pub fn decode_from(r: &mut Reader<'_>) -> Result<Txn, DecodeError> {
        let session_id = r.read_i64()?;
        let cxid = r.read_i32()?;
        let zxid = r.read_i64()?;
        let time_ms = r.read_i64()?;
        let op_code = r.read_i32()?;
        let body = TxnBody::decode_record(op_code, r)?;
        Ok(Txn {
            session_id,
            cxid,
            zxid,
            time_ms,
            body,
        })
    }
}

#[cfg(test)]
mod tests;
