//! Snapshots: when and from which copy of the tree.
//!
//! A snapshot must not stop writes. Every write's reply waits until every
//! shard has applied it, so serializing any shard's tree (about 130 ms per
//! million znodes) would hold every reply for that long. By default paddock
//! therefore keeps one more tree copy, the *snapshot replica*, on its own
//! thread: the log core hands it every durable batch (the same `Arc`ed txns
//! the shards get, so node data is shared, not copied), it applies them, and
//! every `snapCount` txns (randomised as ZooKeeper does, so servers do not
//! all snapshot at once) it serializes itself and writes the file while the
//! shards and the log core carry on. The price is one more copy of the tree's
//! metadata (about 230 bytes per znode).
//!
//! With `paddock.snapshotReplica=false` there is no replica: the last shard
//! serializes its own tree between two batches, and writes pause for that
//! long. That trades latency for memory.
//!
//! After a snapshot is written and (with autopurge on) old snapshots are
//! purged, the log core is asked to roll its segment and drop the segments
//! no retained snapshot needs.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::data_tree::DataTree;
use crate::storage;
use crate::txn;

use super::log_core::LogInput;
use super::messages::{CommitBatch, CommitItem};

/// When to snapshot and where to put it.
pub struct SnapshotPolicy {
    snap_count: u64,
    threshold: u64,
    txns_since: u64,
    pub dir: PathBuf,
    pub retain: usize,
    pub purge: bool,
}

impl SnapshotPolicy {
    pub fn new(config: &crate::config::Config) -> SnapshotPolicy {
        let mut policy = SnapshotPolicy {
            snap_count: config.snap_count.max(2),
            threshold: 0,
            txns_since: 0,
            dir: super::snapshot_dir(config),
            retain: config.autopurge_snap_retain_count.max(3) as usize,
            purge: config.autopurge_purge_interval_hours > 0,
        };
        policy.roll_threshold();
        policy
    }

    /// ZooKeeper's `snapCount/2 + rand(snapCount/2)`.
    fn roll_threshold(&mut self) {
        use rand::Rng;
        let half = self.snap_count / 2;
        self.threshold = half + rand::thread_rng().gen_range(0..half.max(1));
    }

    /// Counts a batch's txns; true when a snapshot is due.
    pub fn count(&mut self, batch: &CommitBatch) -> bool {
        let txns = batch
            .items
            .iter()
            .filter(|i| matches!(i, CommitItem::Txn { .. }))
            .count() as u64;
        self.count_txns(txns)
    }

    /// Counts `txns` committed txns; true when a snapshot is due.
    pub fn count_txns(&mut self, txns: u64) -> bool {
        self.txns_since += txns;
        if self.txns_since < self.threshold {
            return false;
        }
        self.txns_since = 0;
        self.roll_threshold();
        true
    }
}

/// Writes one serialized snapshot, purges, and asks the log core to roll.
pub fn write_and_purge(
    policy_dir: &std::path::Path,
    retain: usize,
    purge: bool,
    zxid: i64,
    body: &[u8],
    to_log: &flume::Sender<LogInput>,
) {
    if let Some(purge_before) = write_snapshot_files(policy_dir, retain, purge, zxid, body) {
        // Never block on the log core: it may itself be waiting to hand
        // this thread a batch. A roll skipped now happens next time.
        if to_log.try_send(LogInput::Roll { purge_before }).is_err() {
            log::info!("log core busy; skipping this snapshot's log roll");
        }
    }
}

/// Writes one serialized snapshot and purges old ones; on success returns
/// the zxid before which log segments are no longer needed (when purging).
pub fn write_snapshot_files(
    policy_dir: &std::path::Path,
    retain: usize,
    purge: bool,
    zxid: i64,
    body: &[u8],
) -> Option<Option<i64>> {
    let started = Instant::now();
    match storage::write_snapshot(policy_dir, zxid, body) {
        Ok(path) => {
            log::info!(
                "wrote snapshot {} ({} bytes) in {:?}",
                path.display(),
                body.len(),
                started.elapsed()
            );
            let mut purge_before = None;
            if purge {
                if let Err(e) = storage::purge_snapshots(policy_dir, retain) {
                    log::warn!("snapshot purge failed: {e}");
                }
                purge_before = storage::oldest_retained_snapshot_zxid(policy_dir)
                    .ok()
                    .flatten();
            }
            Some(purge_before)
        }
        Err(e) if e.is_no_space() => {
            log::error!("disk full: snapshot 0x{zxid:x} not written ({e}); free space on dataDir");
            None
        }
        Err(e) => {
            log::error!("snapshot 0x{zxid:x} failed: {e}");
            None
        }
    }
}

/// The snapshot replica's thread: apply every durable batch, snapshot every
/// `snapCount` txns. Ends when the log core drops its sender.
pub fn run_replica(
    mut tree: DataTree,
    bundles: flume::Receiver<Vec<CommitBatch>>,
    mut policy: SnapshotPolicy,
    to_log: flume::Sender<LogInput>,
) {
    lower_io_priority();
    while let Ok(bundle) = bundles.recv() {
        for batch in bundle {
            for item in batch.items.iter() {
                if let CommitItem::Txn { txn, .. } = item {
                    txn::apply(&mut tree, txn);
                }
            }
            if policy.count(&batch) {
                let started = Instant::now();
                let mut body = Vec::with_capacity(
                    tree.approximate_data_size() as usize + tree.node_count() * 64,
                );
                tree.serialize(&mut body);
                log::info!(
                    "serialized snapshot 0x{:x} in {:?} (replica)",
                    tree.last_zxid(),
                    started.elapsed()
                );
                write_and_purge(
                    &policy.dir,
                    policy.retain,
                    policy.purge,
                    tree.last_zxid(),
                    &body,
                    &to_log,
                );
            }
        }
    }
}

/// Puts this thread's disk I/O in the idle class, so snapshot writes yield
/// to the transaction log's (where the I/O scheduler honours priorities),
/// and its CPU share at nice 19.
fn lower_io_priority() {
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    const IOPRIO_CLASS_IDLE: libc::c_long = 3;
    const IOPRIO_CLASS_SHIFT: libc::c_long = 13;
    // SAFETY: ioprio_set on the calling thread (who = 0) with a valid value.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            0,
            IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT,
        )
    };
    if rc != 0 {
        log::debug!(
            "cannot lower the snapshot thread's I/O priority: {}",
            std::io::Error::last_os_error()
        );
    }
    // And its CPU priority: on a small host the replica shares cores with
    // the shards and the log core, which must win.
    // SAFETY: setpriority on this thread's own tid.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 19) };
    if rc != 0 {
        log::debug!(
            "cannot lower the snapshot thread's CPU priority: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Without a replica: the last shard serializes its own tree between two
/// batches (writes wait meanwhile) and a short-lived thread writes the file.
pub struct InShardSnapshots {
    policy: SnapshotPolicy,
    in_progress: Arc<AtomicBool>,
    to_log: flume::Sender<LogInput>,
}

impl InShardSnapshots {
    pub fn new(policy: SnapshotPolicy, to_log: flume::Sender<LogInput>) -> InShardSnapshots {
        InShardSnapshots {
            policy,
            in_progress: Arc::new(AtomicBool::new(false)),
            to_log,
        }
    }

    pub fn after_batch(&mut self, tree: &DataTree, batch: &CommitBatch) {
        if !self.policy.count(batch) {
            return;
        }
        if self.in_progress.load(Ordering::Relaxed) {
            log::warn!("too busy to snap, skipping");
            return;
        }
        let started = Instant::now();
        let zxid = tree.last_zxid();
        let mut body =
            Vec::with_capacity(tree.approximate_data_size() as usize + tree.node_count() * 64);
        tree.serialize(&mut body);
        log::info!(
            "serialized snapshot 0x{zxid:x} in {:?} (in shard)",
            started.elapsed()
        );
        self.in_progress.store(true, Ordering::Relaxed);
        let in_progress = self.in_progress.clone();
        let (dir, retain, purge) = (
            self.policy.dir.clone(),
            self.policy.retain,
            self.policy.purge,
        );
        let to_log = self.to_log.clone();
        let spawned = std::thread::Builder::new()
            .name("paddock-snapshot".into())
            .spawn(move || {
                lower_io_priority();
                write_and_purge(&dir, retain, purge, zxid, &body, &to_log);
                in_progress.store(false, Ordering::Relaxed);
            });
        if let Err(e) = spawned {
            log::error!("cannot start the snapshot thread: {e}");
            self.in_progress.store(false, Ordering::Relaxed);
        }
    }
}
