//! The sequencer's validation: a write request checked against the tree plus
//! the changes prepared but not yet applied (ZooKeeper's outstandingChanges),
//! turned into a txn body.
//!
//! `PendingChanges` keeps, per path, the latest prepared state (or its
//! deletion) with the zxid that made it; `committed_up_to` drops what the tree
//! now shows. A multi is prepared against a private staging layer over the
//! pending changes, merged only when every op passed, so a failed multi
//! leaves nothing behind (ZooKeeper rolls back instead; the result is the
//! same).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::data_tree::{
    check_acl, fixup_acl, is_session_owner, is_special_path, parent_of, ttl_of_ephemeral_owner,
    ttl_to_ephemeral_owner, validate_path, DataTree,
};
use crate::protocol::{
    op, perms, Acl, CreateMode, CreateRequest, ErrorCode, Id, MultiOp, Request,
    CONTAINER_EPHEMERAL_OWNER,
};

use super::{CreateKind, TxnBody};
use crate::data_tree::java_hash::JavaStringSet;

/// Who asks, and the txn's place in history.
#[derive(Clone, Copy, Debug)]
pub struct PrepareContext<'a> {
    pub session_id: i64,
    pub cxid: i32,
    pub zxid: i64,
    pub time_ms: i64,
    pub auth: &'a [Id],
    pub is_super: bool,
    pub extended_types_enabled: bool,
    /// jute.maxbuffer: larger node data is refused with BadArguments.
    pub max_buffer_bytes: usize,
}

/// What a prepared change left a node looking like (ZooKeeper's ChangeRecord).
#[derive(Clone, Debug)]
struct NodeState {
    version: i32,
    cversion: i32,
    aversion: i32,
    ephemeral_owner: i64,
    child_count: i32,
    acl: Arc<[Acl]>,
}

#[derive(Clone, Debug)]
struct Change {
    zxid: i64,
    /// None: deleted.
    state: Option<NodeState>,
}

/// The overlay of prepared, not yet applied changes.
#[derive(Debug, Default)]
pub struct PendingChanges {
    by_path: HashMap<String, Change>,
    order: VecDeque<(i64, String)>,
}

impl PendingChanges {
    pub fn new() -> PendingChanges {
        PendingChanges::default()
    }

    /// Forgets the changes of txns up to `zxid`: the tree shows them now.
    pub fn committed_up_to(&mut self, zxid: i64) {
        while let Some((front, _)) = self.order.front() {
            if *front > zxid {
                break;
            }
            let Some((_, path)) = self.order.pop_front() else {
                break;
            };
            if self.by_path.get(&path).is_some_and(|c| c.zxid <= zxid) {
                self.by_path.remove(&path);
            }
        }
    }

    /// Forgets everything (leader change, or the log was truncated).
    pub fn clear(&mut self) {
        self.by_path.clear();
        self.order.clear();
    }

    pub fn len(&self) -> usize {
        self.by_path.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }

    fn merge(&mut self, staged: Vec<(String, Change)>) {
        for (path, change) in staged {
            self.order.push_back((change.zxid, path.clone()));
            self.by_path.insert(path, change);
        }
    }
}

/// The tree as the sequencer must see it: tree, then pending, then this
/// request's own staged changes.
struct View<'a> {
    tree: &'a DataTree,
    pending: &'a PendingChanges,
    staged: Vec<(String, Change)>,
    staged_index: HashMap<String, usize>,
}

impl<'a> View<'a> {
    fn new(tree: &'a DataTree, pending: &'a PendingChanges) -> View<'a> {
        View {
            tree,
            pending,
            staged: Vec::new(),
            staged_index: HashMap::new(),
        }
    }

    fn lookup(&self, path: &str) -> Option<NodeState> {
        if let Some(&i) = self.staged_index.get(path) {
            return self.staged[i].1.state.clone();
        }
        if let Some(change) = self.pending.by_path.get(path) {
            return change.state.clone();
        }
        self.tree.node(path).map(|n| NodeState {
            version: n.version(),
            cversion: n.child_creations(),
            aversion: n.aversion(),
            ephemeral_owner: n.ephemeral_owner(),
            child_count: n.num_children() as i32,
            acl: n.acl().clone(),
        })
    }

    fn get(&self, path: &str) -> Result<NodeState, ErrorCode> {
        self.lookup(path).ok_or(ErrorCode::NoNode)
    }

    fn put(&mut self, path: &str, zxid: i64, state: Option<NodeState>) {
        let change = Change { zxid, state };
        match self.staged_index.get(path) {
            Some(&i) => self.staged[i].1 = change,
            None => {
                self.staged_index
                    .insert(path.to_string(), self.staged.len());
                self.staged.push((path.to_string(), change));
            }
        }
    }
}

/// `checkAndIncVersion`: -1 matches any version. The next version skips -1
/// (ZOOKEEPER-4743) so that a wrapped version stays checkable.
fn check_and_inc_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    let next = current.wrapping_add(1);
    Ok(if next == -1 { 0 } else { next })
}

/// `getParentPathAndValidate` of delete and deleteContainer.
fn parent_for_delete(path: &str) -> Result<&str, ErrorCode> {
    if !path.contains('/') || path.contains('\0') || is_special_path(path) {
        return Err(ErrorCode::BadArguments);
    }
    Ok(parent_of(path))
}

fn prepare_create(
    op_code: i32,
    request: &CreateRequest,
    ctx: &PrepareContext<'_>,
    view: &mut View<'_>,
) -> Result<TxnBody, ErrorCode> {
    let mode = CreateMode::from_flags(request.flags).ok_or(ErrorCode::BadArguments)?;
    let ttl_ms = if op_code == op::CREATE_TTL {
        request.ttl_ms
    } else {
        -1
    };
    if mode.is_ttl() && !ctx.extended_types_enabled {
        return Err(ErrorCode::Unimplemented);
    }
    // EphemeralType.validateTTL
    let kind = if mode.is_ttl() {
        ttl_to_ephemeral_owner(ttl_ms).ok_or(ErrorCode::BadArguments)?;
        CreateKind::Ttl { ttl_ms }
    } else if ttl_ms >= 0 {
        return Err(ErrorCode::BadArguments);
    } else if mode.is_container() {
        CreateKind::Container
    } else if mode.is_ephemeral() {
        CreateKind::Ephemeral
    } else {
        CreateKind::Persistent
    };
    if request.data.len() > ctx.max_buffer_bytes {
        return Err(ErrorCode::BadArguments);
    }
    // validatePathForCreate
    if !request.path.contains('/') || request.path.contains('\0') {
        return Err(ErrorCode::BadArguments);
    }
    let parent_path = parent_of(&request.path);
    let acl = fixup_acl(&request.acl, ctx.auth)?;
    let mut parent = view.get(parent_path)?;
    check_acl(&parent.acl, perms::CREATE, ctx.auth, ctx.is_super)?;
    let mut path = request.path.clone();
    if mode.is_sequential() {
        path.push_str(&format!("{:010}", parent.cversion));
    }
    validate_path(&path)?;
    if view.lookup(&path).is_some() {
        return Err(ErrorCode::NodeExists);
    }
    if is_session_owner(parent.ephemeral_owner) {
        return Err(ErrorCode::NoChildrenForEphemerals);
    }
    let parent_cversion = parent.cversion.wrapping_add(1);
    let ephemeral_owner = match &kind {
        CreateKind::Persistent => 0,
        CreateKind::Ephemeral => ctx.session_id,
        CreateKind::Container => CONTAINER_EPHEMERAL_OWNER,
        CreateKind::Ttl { ttl_ms } => ttl_to_ephemeral_owner(*ttl_ms).unwrap_or_default(),
    };
    parent.cversion = parent_cversion;
    parent.child_count += 1;
    let parent_path = parent_path.to_string();
    view.put(&parent_path, ctx.zxid, Some(parent));
    let state = NodeState {
        version: 0,
        cversion: 0,
        aversion: 0,
        ephemeral_owner,
        child_count: 0,
        acl: Arc::from(acl.as_slice()),
    };
    view.put(&path, ctx.zxid, Some(state));
    Ok(TxnBody::Create {
        path: Arc::from(path),
        data: request.data.clone(),
        acl,
        kind,
        parent_cversion,
    })
}

fn prepare_delete(
    path: &str,
    version: i32,
    ctx: &PrepareContext<'_>,
    view: &mut View<'_>,
) -> Result<TxnBody, ErrorCode> {
    let parent_path = parent_for_delete(path)?;
    let mut parent = view.get(parent_path)?;
    check_acl(&parent.acl, perms::DELETE, ctx.auth, ctx.is_super)?;
    let node = view.get(path)?;
    check_and_inc_version(node.version, version)?;
    if node.child_count > 0 {
        return Err(ErrorCode::NotEmpty);
    }
    parent.child_count -= 1;
    view.put(parent_path, ctx.zxid, Some(parent));
    view.put(path, ctx.zxid, None);
    Ok(TxnBody::Delete {
        path: path.to_string(),
    })
}

/// deleteContainer, issued by the server for `containers_to_delete` and
/// `ttl_expired`. Stricter than ZooKeeper, which lets it delete any
/// non-ephemeral node: only containers and TTL nodes pass (else BadVersion).
fn prepare_delete_container(
    path: &str,
    ctx: &PrepareContext<'_>,
    view: &mut View<'_>,
) -> Result<TxnBody, ErrorCode> {
    let parent_path = parent_for_delete(path)?;
    let node = view.get(path)?;
    if node.child_count > 0 {
        return Err(ErrorCode::NotEmpty);
    }
    let owner = node.ephemeral_owner;
    if owner != CONTAINER_EPHEMERAL_OWNER && ttl_of_ephemeral_owner(owner).is_none() {
        return Err(ErrorCode::BadVersion);
    }
    let mut parent = view.get(parent_path)?;
    parent.child_count -= 1;
    view.put(parent_path, ctx.zxid, Some(parent));
    view.put(path, ctx.zxid, None);
    Ok(TxnBody::DeleteContainer {
        path: path.to_string(),
    })
}

fn prepare_set_data(
    path: &str,
    data: &bytes::Bytes,
    version: i32,
    ctx: &PrepareContext<'_>,
    view: &mut View<'_>,
) -> Result<TxnBody, ErrorCode> {
    validate_path(path)?;
    if data.len() > ctx.max_buffer_bytes {
        return Err(ErrorCode::BadArguments);
    }
    let mut node = view.get(path)?;
    check_acl(&node.acl, perms::WRITE, ctx.auth, ctx.is_super)?;
    let new_version = check_and_inc_version(node.version, version)?;
    node.version = new_version;
    view.put(path, ctx.zxid, Some(node));
    Ok(TxnBody::SetData {
        path: path.to_string(),
        data: data.clone(),
        version: new_version,
    })
}

fn prepare_set_acl(
    path: &str,
    acl: &[Acl],
    version: i32,
    ctx: &PrepareContext<'_>,
    view: &mut View<'_>,
) -> Result<TxnBody, ErrorCode> {
    validate_path(path)?;
    let acl = fixup_acl(acl, ctx.auth)?;
    let mut node = view.get(path)?;
    check_acl(&node.acl, perms::ADMIN, ctx.auth, ctx.is_super)?;
    let new_version = check_and_inc_version(node.aversion, version)?;
    node.aversion = new_version;
    node.acl = Arc::from(acl.as_slice());
    view.put(path, ctx.zxid, Some(node));
    Ok(TxnBody::SetAcl {
        path: path.to_string(),
        acl,
        version: new_version,
    })
}

fn prepare_check(
    path: &str,
    version: i32,
    ctx: &PrepareContext<'_>,
    view: &mut View<'_>,
) -> Result<TxnBody, ErrorCode> {
    validate_path(path)?;
    let node = view.get(path)?;
    check_acl(&node.acl, perms::READ, ctx.auth, ctx.is_super)?;
    let version = check_and_inc_version(node.version, version)?;
    Ok(TxnBody::Check {
        path: path.to_string(),
        version,
    })
}

fn prepare_multi_op(
    multi_op: &MultiOp,
    ctx: &PrepareContext<'_>,
    view: &mut View<'_>,
) -> Result<TxnBody, ErrorCode> {
    match multi_op {
        MultiOp::Create { op, request } => prepare_create(*op, request, ctx, view),
        MultiOp::Delete(d) => prepare_delete(&d.path, d.version, ctx, view),
        MultiOp::SetData(s) => prepare_set_data(&s.path, &s.data, s.version, ctx, view),
        MultiOp::Check(c) => prepare_check(&c.path, c.version, ctx, view),
        MultiOp::GetChildren { .. } | MultiOp::GetData { .. } => Err(ErrorCode::BadArguments),
    }
}

/// Validates a write request and turns it into a txn body. On `Ok` the change
/// is recorded in `pending` (a failed multi, returned as `Ok(Multi(errors))`
/// so that it is still ordered and answered, records nothing); on `Err`
/// nothing is recorded. Reads, sync and session ops other than close are not
/// txns here: `Unimplemented`. Reconfig is disabled: `ReconfigDisabled`.
pub fn prepare(
    request: &Request,
    ctx: &PrepareContext<'_>,
    tree: &DataTree,
    pending: &mut PendingChanges,
) -> Result<TxnBody, ErrorCode> {
    if let Request::CloseSession = request {
        return Ok(prepare_close_session(
            ctx.session_id,
            ctx.zxid,
            tree,
            pending,
        ));
    }
    let mut view = View::new(tree, pending);
    let body = match request {
        Request::Create { op, request } => prepare_create(*op, request, ctx, &mut view)?,
        Request::Delete(d) => prepare_delete(&d.path, d.version, ctx, &mut view)?,
        Request::DeleteContainer { path } => prepare_delete_container(path, ctx, &mut view)?,
        Request::SetData(s) => prepare_set_data(&s.path, &s.data, s.version, ctx, &mut view)?,
        Request::SetAcl(s) => prepare_set_acl(&s.path, &s.acl, s.version, ctx, &mut view)?,
        Request::Check(c) => prepare_check(&c.path, c.version, ctx, &mut view)?,
        Request::Multi(ops) => {
            let mut bodies = Vec::with_capacity(ops.len());
            let mut failed_at = None;
            for (i, multi_op) in ops.iter().enumerate() {
                if failed_at.is_some() {
                    bodies.push(TxnBody::Error(ErrorCode::RuntimeInconsistency));
                    continue;
                }
                match prepare_multi_op(multi_op, ctx, &mut view) {
                    Ok(body) => bodies.push(body),
                    Err(code) => {
                        failed_at = Some(i);
                        bodies.push(TxnBody::Error(code));
                    }
                }
            }
            if let Some(failed_at) = failed_at {
                for body in &mut bodies[..failed_at] {
                    *body = TxnBody::Error(ErrorCode::Ok);
                }
                return Ok(TxnBody::Multi(bodies));
            }
            TxnBody::Multi(bodies)
        }
        Request::Reconfig(_) => return Err(ErrorCode::ReconfigDisabled),
        _ => return Err(ErrorCode::Unimplemented),
    };
    let staged = view.staged;
    pending.merge(staged);
    Ok(body)
}

/// createSession: the sequencer has already picked the id and negotiated the
/// timeout.
pub fn prepare_create_session(timeout_ms: i32) -> TxnBody {
    TxnBody::CreateSession { timeout_ms }
}

/// closeSession (client close or expiry): the session's ephemerals as the
/// tree plus pending changes show them, each recorded as deleted.
///
/// In ZooKeeper's order (the order the deletions, and so their watch
/// events, happen in): PrepRequestProcessor takes `getEphemerals`' clone of
/// the session's `HashSet`, adds and removes the outstanding changes, and
/// lists the set. paddock's pending changes are kept by path, not in
/// arrival order, which only matters for two pending ephemeral creates
/// landing in one Java bin.
pub fn prepare_close_session(
    session_id: i64,
    zxid: i64,
    tree: &DataTree,
    pending: &mut PendingChanges,
) -> TxnBody {
    let mut paths = JavaStringSet::clone_of(tree.ephemerals(session_id));
    for (path, change) in &pending.by_path {
        match &change.state {
            Some(state) if state.ephemeral_owner == session_id => {
                paths.insert(path);
            }
            _ => {
                paths.remove(path);
            }
        }
    }
    let paths: Vec<String> = paths.iter_order().into_iter().map(str::to_string).collect();
    let mut view = View::new(tree, pending);
    for path in &paths {
        let parent_path = parent_of(path);
        if let Some(mut parent) = view.lookup(parent_path) {
            parent.child_count -= 1;
            view.put(parent_path, zxid, Some(parent));
        }
        view.put(path, zxid, None);
    }
    let staged = view.staged;
    pending.merge(staged);
    TxnBody::CloseSession {
        paths_to_delete: paths,
    }
}
