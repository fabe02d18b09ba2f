//! Applying committed txns to a tree copy (DataTree.processTxn), shaping the
//! client reply (FinalRequestProcessor), and answering reads from this copy.

use crate::data_tree::{check_acl, ttl_to_ephemeral_owner, DataTree, WatchKind};
use crate::protocol::{
    op, perms, AddWatchMode, ErrorCode, Id, MultiOp, OpResult, Request, Response, Stat,
    WatcherEvent, CONTAINER_EPHEMERAL_OWNER,
};

use super::{CreateKind, Txn, TxnBody};

/// What applying one txn did (ZooKeeper's ProcessTxnResult).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnResult {
    SessionCreated,
    SessionClosed,
    Created { path: String, stat: Stat },
    Deleted,
    DataSet { stat: Stat },
    AclSet { stat: Stat },
    Checked,
    Multi(Vec<TxnResult>),
    Error(ErrorCode),
}

/// The result and the watch events of this copy's sessions, in firing order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyOutcome {
    pub result: TxnResult,
    pub events: Vec<(i64, WatcherEvent)>,
}

/// Applies one committed txn. A failed multi changes nothing; a successful
/// one applies op by op, so its events come out in op order.
pub fn apply(tree: &mut DataTree, txn: &Txn) -> ApplyOutcome {
    let mut events = Vec::new();
    let result = match &txn.body {
        TxnBody::Multi(ops) => {
            let failed = ops.iter().any(|b| matches!(b, TxnBody::Error(_)));
            let mut results = Vec::with_capacity(ops.len());
            let mut post_failed = false;
            for body in ops {
                let result = match body {
                    TxnBody::Error(code) => {
                        post_failed = true;
                        TxnResult::Error(*code)
                    }
                    _ if failed => TxnResult::Error(if post_failed {
                        ErrorCode::RuntimeInconsistency
                    } else {
                        ErrorCode::Ok
                    }),
                    _ => apply_one(tree, txn, body, &mut events),
                };
                results.push(result);
            }
            TxnResult::Multi(results)
        }
        body => apply_one(tree, txn, body, &mut events),
    };
    tree.set_last_zxid(txn.zxid);
    ApplyOutcome { result, events }
}

fn apply_one(
    tree: &mut DataTree,
    txn: &Txn,
    body: &TxnBody,
    events: &mut Vec<(i64, WatcherEvent)>,
) -> TxnResult {
    let outcome = match body {
        TxnBody::CreateSession { timeout_ms } => {
            tree.add_session(txn.session_id, *timeout_ms);
            Ok(TxnResult::SessionCreated)
        }
        TxnBody::CloseSession { paths_to_delete } => {
            tree.kill_session(txn.session_id, paths_to_delete, txn.zxid, events);
            Ok(TxnResult::SessionClosed)
        }
        TxnBody::Create {
            path,
            data,
            acl,
            kind,
            parent_cversion,
        } => {
            let owner = match kind {
                CreateKind::Persistent => 0,
                CreateKind::Ephemeral => txn.session_id,
                CreateKind::Container => CONTAINER_EPHEMERAL_OWNER,
                CreateKind::Ttl { ttl_ms } => match ttl_to_ephemeral_owner(*ttl_ms) {
                    Some(owner) => owner,
                    None => return TxnResult::Error(ErrorCode::BadArguments),
                },
            };
            tree.create_node_shared(
                path,
                data.clone(),
                acl,
                owner,
                *parent_cversion,
                txn.zxid,
                txn.time_ms,
                events,
            )
            .map(|stat| TxnResult::Created {
                path: path.to_string(),
                stat,
            })
        }
        TxnBody::Delete { path } | TxnBody::DeleteContainer { path } => tree
            .delete_node(path, txn.zxid, events)
            .map(|()| TxnResult::Deleted),
        TxnBody::SetData {
            path,
            data,
            version,
        } => tree
            .set_data(path, data.clone(), *version, txn.zxid, txn.time_ms, events)
            .map(|stat| TxnResult::DataSet { stat }),
        TxnBody::SetAcl { path, acl, version } => tree
            .set_acl(path, acl, *version)
            .map(|stat| TxnResult::AclSet { stat }),
        TxnBody::Check { .. } => Ok(TxnResult::Checked),
        TxnBody::Error(code) => Err(*code),
        TxnBody::Multi(_) => Err(ErrorCode::BadArguments),
    };
    outcome.unwrap_or_else(TxnResult::Error)
}

fn multi_op_result(multi_op: Option<&MultiOp>, result: &TxnResult) -> OpResult {
    match result {
        TxnResult::Created { path, stat } => match multi_op {
            Some(MultiOp::Create { op: op::CREATE, .. }) => OpResult::Create { path: path.clone() },
            _ => OpResult::Create2 {
                path: path.clone(),
                stat: *stat,
            },
        },
        TxnResult::Deleted => OpResult::Delete,
        TxnResult::DataSet { stat } => OpResult::SetData { stat: *stat },
        TxnResult::Checked => OpResult::Check,
        TxnResult::Error(code) => OpResult::Error(*code),
        _ => OpResult::Error(ErrorCode::RuntimeInconsistency),
    }
}

/// The client reply for a write once its txn is applied: create -> path,
/// create2 / createContainer / createTTL -> path + Stat, setData and setACL
/// -> Stat, multi -> one result per op (a failed multi is still `Ok`, its
/// errors are inside), an error result -> `Err(code)`.
pub fn response_for(request: &Request, result: &TxnResult) -> Result<Response, ErrorCode> {
    match (request, result) {
        (_, TxnResult::Error(code)) => Err(*code),
        (Request::Create { op: op::CREATE, .. }, TxnResult::Created { path, .. }) => {
            Ok(Response::Create { path: path.clone() })
        }
        (Request::Create { .. }, TxnResult::Created { path, stat }) => Ok(Response::Create2 {
            path: path.clone(),
            stat: *stat,
        }),
        (Request::SetData(_), TxnResult::DataSet { stat }) => Ok(Response::Stat(*stat)),
        (Request::SetAcl(_), TxnResult::AclSet { stat }) => Ok(Response::Stat(*stat)),
        (Request::Multi(ops), TxnResult::Multi(results)) => Ok(Response::Multi(
            results
                .iter()
                .enumerate()
                .map(|(i, r)| multi_op_result(ops.get(i), r))
                .collect(),
        )),
        (_, TxnResult::Multi(_)) => Err(ErrorCode::RuntimeInconsistency),
        _ => Ok(Response::Empty),
    }
}

fn read_node_checked<'t>(
    tree: &'t DataTree,
    path: &str,
    auth: &[Id],
    is_super: bool,
) -> Result<&'t crate::data_tree::Node, ErrorCode> {
    let node = tree.node(path).ok_or(ErrorCode::NoNode)?;
    check_acl(node.acl(), perms::READ, auth, is_super)?;
    Ok(node)
}

fn get_data(
    tree: &mut DataTree,
    path: &str,
    watch: bool,
    session_id: i64,
    auth: &[Id],
    is_super: bool,
) -> Result<(bytes::Bytes, Stat), ErrorCode> {
    let node = read_node_checked(tree, path, auth, is_super)?;
    let out = (node.data().clone(), node.stat());
    if watch {
        tree.add_watch(path, session_id, WatchKind::Data);
    }
    Ok(out)
}

fn get_children(
    tree: &mut DataTree,
    path: &str,
    watch: bool,
    session_id: i64,
    auth: &[Id],
    is_super: bool,
) -> Result<(Vec<String>, Stat), ErrorCode> {
    let node = read_node_checked(tree, path, auth, is_super)?;
    let stat = node.stat();
    let children = tree.children(path).unwrap_or_default();
    if watch {
        tree.add_watch(path, session_id, WatchKind::Child);
    }
    Ok((children, stat))
}

/// Answers a read from this tree copy (FinalRequestProcessor), registering
/// watches here when asked: exists on a missing node registers an Exist watch
/// and answers NoNode. getACL without ADMIN hides digest secrets
/// ("user:x"). Non-read requests: `Unimplemented`.
pub fn read(
    request: &Request,
    tree: &mut DataTree,
    session_id: i64,
    auth: &[Id],
    is_super: bool,
) -> Result<Response, ErrorCode> {
    match request {
        Request::Exists(req) => {
            if req.path.contains('\0') {
                return Err(ErrorCode::BadArguments);
            }
            if req.watch {
                tree.add_watch(&req.path, session_id, WatchKind::Exist);
            }
            tree.node(&req.path)
                .map(|n| Response::Stat(n.stat()))
                .ok_or(ErrorCode::NoNode)
        }
        Request::GetData(req) => {
            let (data, stat) = get_data(tree, &req.path, req.watch, session_id, auth, is_super)?;
            Ok(Response::GetData { data, stat })
        }
        Request::GetChildren(req) => {
            let (children, _) =
                get_children(tree, &req.path, req.watch, session_id, auth, is_super)?;
            Ok(Response::GetChildren { children })
        }
        Request::GetChildren2(req) => {
            let (children, stat) =
                get_children(tree, &req.path, req.watch, session_id, auth, is_super)?;
            Ok(Response::GetChildren2 { children, stat })
        }
        Request::GetAcl { path } => {
            let node = tree.node(path).ok_or(ErrorCode::NoNode)?;
            check_acl(node.acl(), perms::READ | perms::ADMIN, auth, is_super)?;
            let stat = node.stat();
            let mut acl = node.acl().to_vec();
            if check_acl(node.acl(), perms::ADMIN, auth, is_super).is_err() {
                for entry in acl.iter_mut().filter(|a| a.id.scheme == "digest") {
                    if let Some((user, _)) = entry.id.id.split_once(':') {
                        entry.id.id = format!("{user}:x");
                    }
                }
            }
            Ok(Response::GetAcl { acl, stat })
        }
        Request::GetEphemerals { prefix_path } => {
            // FinalRequestProcessor filters DataTree.getEphemerals' clone
            // of the session's set, in the clone's order.
            let all = tree.ephemerals_cloned(session_id);
            let prefix = prefix_path.trim();
            let paths = if prefix.is_empty() || prefix == "/" {
                all
            } else {
                all.into_iter()
                    .filter(|p| p.starts_with(prefix_path.as_str()))
                    .collect()
            };
            Ok(Response::GetEphemerals { paths })
        }
        Request::GetAllChildrenNumber { path } => {
            read_node_checked(tree, path, auth, is_super)?;
            let total = tree.all_children_number(path).ok_or(ErrorCode::NoNode)?;
            Ok(Response::GetAllChildrenNumber { total })
        }
        Request::MultiRead(ops) => {
            let mut results = Vec::with_capacity(ops.len());
            for multi_op in ops {
                let result = match multi_op {
                    MultiOp::GetChildren { path } => {
                        get_children(tree, path, false, session_id, auth, is_super)
                            .map(|(children, _)| OpResult::GetChildren { children })
                    }
                    MultiOp::GetData { path } => {
                        get_data(tree, path, false, session_id, auth, is_super)
                            .map(|(data, stat)| OpResult::GetData { data, stat })
                    }
                    _ => Err(ErrorCode::BadArguments),
                };
                results.push(result.unwrap_or_else(OpResult::Error));
            }
            Ok(Response::Multi(results))
        }
        Request::CheckWatches(req) => {
            if tree.remove_watches(&req.path, session_id, req.watcher_type, true) {
                Ok(Response::Empty)
            } else {
                Err(ErrorCode::NoWatcher)
            }
        }
        Request::RemoveWatches(req) => {
            if tree.remove_watches(&req.path, session_id, req.watcher_type, false) {
                Ok(Response::Empty)
            } else {
                Err(ErrorCode::NoWatcher)
            }
        }
        Request::AddWatch(req) => {
            let kind = if req.mode == AddWatchMode::PersistentRecursive as i32 {
                WatchKind::PersistentRecursive
            } else if req.mode == AddWatchMode::Persistent as i32 {
                WatchKind::Persistent
            } else {
                return Err(ErrorCode::BadArguments);
            };
            tree.add_watch(&req.path, session_id, kind);
            Ok(Response::AddWatch)
        }
        _ => Err(ErrorCode::Unimplemented),
    }
}
