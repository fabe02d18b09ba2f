//! An ensemble member's log core: it only persists. It appends the txns
//! consensus hands it, flushes once per batch (everything queued while the
//! previous flush ran goes into the next: the group commit), and reports
//! `Persisted(zxid)`; it never decides what is committed. Truncation (Zab
//! TRUNC) and the log after an installed SNAP are done here too, so the log
//! has one owner.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use crate::data_tree::DataTree;
use crate::storage::{self, TxnLog};
use crate::txn::{self, Txn};
use crate::zab::{Input, Zxid};

use super::super::log_core::LogStats;
use super::core::CoreInput;

pub enum PersistOp {
    Append {
        zxid: Zxid,
        payload: Bytes,
    },
    /// Make every append so far durable, then report `Persisted`.
    Flush,
    /// Drop every txn after `zxid`, then rebuild the state (newest snapshot
    /// at or before `zxid`, plus the log) and hand it back.
    TruncateAndReload {
        zxid: Zxid,
        reply: flume::Sender<Result<DataTree, String>>,
    },
    /// A SNAP was installed at `zxid` (its snapshot file is written): drop
    /// logged txns after it, which belong to a history the leader replaced.
    SnapInstalled {
        zxid: Zxid,
        reply: flume::Sender<Result<(), String>>,
    },
    /// Start a new segment; drop segments wholly before `purge_before`.
    Roll {
        purge_before: Option<i64>,
    },
    Shutdown,
}

pub struct Persist {
    pub log: TxnLog,
    pub input: flume::Receiver<PersistOp>,
    pub core: flume::Sender<CoreInput>,
    pub stats: Arc<LogStats>,
    pub snapshot_dir: PathBuf,
    pub fsync_warning: std::time::Duration,
}

impl Persist {
    pub fn run(mut self) {
        let mut failed = false;
        while let Ok(first) = self.input.recv() {
            let mut op = Some(first);
            let mut flush_wanted = false;
            let mut txns = 0u64;
            let mut shutdown = false;
            while let Some(current) = op.take() {
                match current {
                    PersistOp::Append { zxid, payload } => {
                        if !failed {
                            if let Err(e) = self.log.append(zxid, &payload) {
                                log::error!(
                                    "transaction log write failed at zxid 0x{zxid:x}: {e}; this server stops acknowledging proposals"
                                );
                                failed = true;
                                self.stats.failed.store(true, Ordering::Relaxed);
                            }
                        }
                        txns += 1;
                    }
                    PersistOp::Flush => flush_wanted = true,
                    PersistOp::TruncateAndReload { zxid, reply } => {
                        self.flush(&mut failed, txns);
                        txns = 0;
                        let _ = reply.send(self.truncate_and_reload(zxid));
                    }
                    PersistOp::SnapInstalled { zxid, reply } => {
                        self.flush(&mut failed, txns);
                        txns = 0;
                        let result = self
                            .log
                            .truncate_after(zxid)
                            .and_then(|()| self.log.roll())
                            .map_err(|e| e.to_string());
                        let _ = reply.send(result);
                    }
                    PersistOp::Roll { purge_before } => {
                        self.flush(&mut failed, txns);
                        txns = 0;
                        if let Err(e) = self.log.roll() {
                            log::error!("cannot roll the transaction log: {e}");
                        }
                        if let Some(zxid) = purge_before {
                            if let Err(e) = self.log.purge_before(zxid) {
                                log::warn!("log purge failed: {e}");
                            }
                        }
                    }
                    PersistOp::Shutdown => shutdown = true,
                }
                if shutdown {
                    break;
                }
                op = self.input.try_recv().ok();
            }
            if flush_wanted || txns > 0 {
                self.flush(&mut failed, txns);
            }
            if shutdown {
                break;
            }
        }
        if let Err(e) = self.log.flush() {
            log::error!("final log flush failed: {e}");
        }
    }

    fn flush(&mut self, failed: &mut bool, txns: u64) {
        if *failed {
            return;
        }
        let started = Instant::now();
        match self.log.flush() {
            Ok(durable) => {
                let micros = started.elapsed().as_micros() as u64;
                self.stats
                    .record_flush(micros, txns, durable, self.fsync_warning, &self.log);
                let _ = self.core.send(CoreInput::Zab(Input::Persisted(durable)));
            }
            Err(e) => {
                log::error!(
                    "transaction log flush failed: {e}; this server stops acknowledging proposals"
                );
                *failed = true;
                self.stats.failed.store(true, Ordering::Relaxed);
            }
        }
    }

    fn truncate_and_reload(&mut self, zxid: Zxid) -> Result<DataTree, String> {
        self.log.truncate_after(zxid).map_err(|e| e.to_string())?;
        // A snapshot newer than the truncation point holds txns that are
        // gone from the history: it must not be loaded again.
        remove_snapshots_after(&self.snapshot_dir, zxid)?;
        rebuild_tree(&self.snapshot_dir, &self.log)
    }
}

/// The newest snapshot, then every logged txn after it.
pub fn rebuild_tree(snapshot_dir: &Path, log: &TxnLog) -> Result<DataTree, String> {
    let mut tree = match storage::latest_snapshot(snapshot_dir).map_err(|e| e.to_string())? {
        Some((zxid, body)) => DataTree::deserialize(&body)
            .map_err(|e| format!("snapshot 0x{zxid:x} does not decode: {e}"))?,
        None => DataTree::new(),
    };
    for record in log
        .read_after(tree.last_zxid())
        .map_err(|e| e.to_string())?
    {
        let (zxid, payload) = record.map_err(|e| e.to_string())?;
        let txn = Txn::decode(&payload)
            .map_err(|e| format!("logged txn 0x{zxid:x} does not decode: {e}"))?;
        txn::apply(&mut tree, &txn);
    }
    Ok(tree)
}

fn remove_snapshots_after(dir: &Path, zxid: Zxid) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(hex) = name.to_str().and_then(|n| n.strip_prefix("snapshot.")) else {
            continue;
        };
        if let Ok(snap_zxid) = i64::from_str_radix(hex, 16) {
            if snap_zxid > zxid {
                log::info!(
                    "removing snapshot 0x{snap_zxid:x}: it is past the truncation point 0x{zxid:x}"
                );
                std::fs::remove_file(entry.path())
                    .map_err(|e| format!("{}: {e}", entry.path().display()))?;
            }
        }
    }
    Ok(())
}
