//! The log core: one OS thread that owns the transaction log.
//!
//! It takes batches from the sequencer, appends every txn into the memory
//! mapped segment, makes them durable with ONE flush, and only then hands the
//! batch to every shard. While a flush runs, new batches queue in the channel;
//! the next round takes all of them at once — that is the group commit, and
//! it needs no timer: under load the batches grow by themselves, idle a single
//! write pays one flush.
//!
//! Why a plain thread and not a glommio executor: appending into a mapping can
//! page-fault and `msync` blocks; neither may ever happen on a reactor that
//! serves sockets. A dedicated thread may block as it likes, and on a 2-core
//! host it simply shares a core with a shard.
//!
//! A storage error (disk full, I/O error) is final for this process: the
//! failing batch and everything after it is answered with `Failed`, the log is
//! left as it was at the last successful flush (recovery cuts any torn tail),
//! and the server refuses writes until it is restarted.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::storage::TxnLog;

use super::messages::{Batch, CommitBatch, CommitItem, LogBatch};

/// What the log core is asked to do.
pub enum LogInput {
    Batch(LogBatch),
    /// Start a new segment (after a snapshot) and drop segments wholly before
    /// `purge_before` when it is set.
    Roll {
        purge_before: Option<i64>,
    },
    Shutdown,
}

/// Group-commit limits (tuning knobs).
#[derive(Clone, Copy, Debug)]
pub struct GroupCommit {
    /// At most this many txns per flush.
    pub batch_txns_max: usize,
    /// At most this many payload bytes per flush.
    pub batch_bytes_max: usize,
    /// Wait this long for more txns before flushing (0 = flush as soon as the
    /// queue is empty, ZooKeeper's default behaviour).
    pub wait: Duration,
}

/// Counters the four-letter words read.
#[derive(Default)]
pub struct LogStats {
    pub flushes: AtomicU64,
    pub txns: AtomicU64,
    pub flush_micros_total: AtomicU64,
    pub flush_micros_max: AtomicU64,
    /// The shortest flush, in µs, plus one (0: no flush yet), so that the
    /// derived `Default` needs no sentinel.
    pub flush_micros_min_plus_one: AtomicU64,
    pub fsync_threshold_exceeded: AtomicU64,
    pub durable_zxid: AtomicI64,
    pub failed: AtomicBool,
    /// Txns per flush and flush latency (µs), for `/metrics`.
    pub batch_txns: crate::metrics::Log2Histogram,
    pub flush_micros: crate::metrics::Log2Histogram,
}

impl LogStats {
    /// One successful flush of `txns` txns that took `micros`, made
    /// everything up to `durable` durable. Past `fsync_warning` it is
    /// counted and logged as ZooKeeper's FileTxnLog.commit words it (whole
    /// milliseconds, same text, so log scrapers match). Shared by the
    /// standalone log core and an ensemble member's persist thread.
    pub fn record_flush(
        &self,
        micros: u64,
        txns: u64,
        durable: i64,
        fsync_warning: Duration,
        log: &TxnLog,
    ) {
        self.flushes.fetch_add(1, Ordering::Relaxed);
        self.batch_txns.record(txns);
        self.flush_micros.record(micros);
        self.txns.fetch_add(txns, Ordering::Relaxed);
        self.flush_micros_total.fetch_add(micros, Ordering::Relaxed);
        self.flush_micros_max.fetch_max(micros, Ordering::Relaxed);
        let _ = self.flush_micros_min_plus_one.fetch_update(
            Ordering::Relaxed,
            Ordering::Relaxed,
            |min| (min == 0 || micros + 1 < min).then_some(micros + 1),
        );
        self.durable_zxid.store(durable, Ordering::Relaxed);
        let elapsed_ms = micros / 1000;
        if u128::from(elapsed_ms) > fsync_warning.as_millis() {
            self.fsync_threshold_exceeded
                .fetch_add(1, Ordering::Relaxed);
            let file_bytes = log
                .segment_paths()
                .last()
                .and_then(|path| std::fs::metadata(path).ok())
                .map_or(0, |meta| meta.len());
            log::warn!(
                "fsync-ing the write ahead log in {} took {elapsed_ms}ms which will adversely effect operation latency.File size is {file_bytes} bytes. See the ZooKeeper troubleshooting guide",
                std::thread::current().name().unwrap_or("paddock-log")
            );
        }
    }
}

/// A cheap estimate of a txn's logged size, for the batch byte limit.
fn txn_bytes(txn: &crate::txn::Txn) -> usize {
    use crate::txn::TxnBody;
    match &txn.body {
        TxnBody::Create { data, path, .. } => 64 + data.len() + path.len(),
        TxnBody::SetData { data, path, .. } => 64 + data.len() + path.len(),
        _ => 64,
    }
}

/// The replica gets a bundle once this many batches have piled up …
const REPLICA_BUNDLE_BATCHES: usize = 512;
/// … or once this long has passed since the last bundle (checked as batches
/// arrive; an idle server hands over the rest at shutdown or the next write).
const REPLICA_BUNDLE_WAIT: Duration = Duration::from_millis(200);

/// Decides whether the batch being built should be flushed now: the pure
/// group-commit policy, kept apart so it can be tested and tuned.
pub fn should_flush(
    policy: &GroupCommit,
    txns: usize,
    bytes: usize,
    queue_empty: bool,
    waited: Duration,
) -> bool {
    txns >= policy.batch_txns_max
        || bytes >= policy.batch_bytes_max
        || (queue_empty && waited >= policy.wait)
}

pub struct LogCore {
    pub log: TxnLog,
    pub input: flume::Receiver<LogInput>,
    pub shards: Vec<flume::Sender<CommitBatch>>,
    pub policy: GroupCommit,
    pub stats: Arc<LogStats>,
    pub fsync_warning: Duration,
    /// The number of the last batch published.
    pub batch_seq: u64,
    /// The snapshot replica, when there is one: gets every batch after the
    /// shards, in bundles (see `feed_replica`).
    pub replica: Option<flume::Sender<Vec<CommitBatch>>>,
    /// Batches not yet handed to the replica, and when the last bundle left.
    pub replica_pending: Vec<CommitBatch>,
    pub replica_sent: Instant,
}

impl LogCore {
    /// Runs until `Shutdown` or until every sender is gone.
    pub fn run(mut self) {
        let mut encoded = Vec::with_capacity(64 * 1024);
        'outer: loop {
            let first = match self.input.recv() {
                Ok(item) => item,
                Err(_) => break,
            };
            let mut batch: Vec<CommitItem> = Vec::new();
            let mut bytes = 0usize;
            let mut txns = 0usize;
            let mut pending = Some(first);
            let started = Instant::now();
            let mut shutdown = false;
            loop {
                match pending.take() {
                    Some(LogInput::Batch(items)) => {
                        for item in items {
                            if let CommitItem::Txn { txn, .. } = &item {
                                txns += 1;
                                bytes += txn_bytes(txn);
                            }
                            batch.push(item);
                        }
                    }
                    Some(LogInput::Roll { purge_before }) => {
                        // Flush what we have first so the roll is at a batch boundary.
                        self.write_and_publish(&mut batch, &mut encoded);
                        txns = 0;
                        bytes = 0;
                        match self.log.roll() {
                            Ok(()) => log::info!(
                                "rolled the transaction log after zxid 0x{:x}",
                                self.log.last_zxid()
                            ),
                            Err(e) => log::error!("cannot roll the transaction log: {e}"),
                        }
                        if let Some(zxid) = purge_before {
                            match self.log.purge_before(zxid) {
                                Ok(n) if n > 0 => {
                                    log::info!("purged {n} log segment(s) before zxid 0x{zxid:x}")
                                }
                                Ok(_) => {}
                                Err(e) => log::warn!("log purge failed: {e}"),
                            }
                        }
                    }
                    Some(LogInput::Shutdown) => {
                        shutdown = true;
                        break;
                    }
                    None => {}
                }
                let queue_empty = self.input.is_empty();
                if should_flush(&self.policy, txns, bytes, queue_empty, started.elapsed()) {
                    break;
                }
                if queue_empty {
                    // Only reached with a group-commit wait configured.
                    let left = self.policy.wait.saturating_sub(started.elapsed());
                    match self.input.recv_timeout(left) {
                        Ok(item) => pending = Some(item),
                        Err(flume::RecvTimeoutError::Timeout) => break,
                        Err(flume::RecvTimeoutError::Disconnected) => break,
                    }
                } else {
                    match self.input.try_recv() {
                        Ok(item) => pending = Some(item),
                        Err(_) => break,
                    }
                }
            }
            self.write_and_publish(&mut batch, &mut encoded);
            if shutdown {
                break 'outer;
            }
        }
        if let Err(e) = self.log.flush() {
            log::error!("final log flush failed: {e}");
        }
        log::info!("log core stopped at zxid 0x{:x}", self.log.last_zxid());
        self.feed_replica(true);
        self.replica = None;
    }

    /// Hands the replica what has piled up — in bundles, not batch by batch:
    /// the replica is in no hurry, and waking its thread for every batch
    /// would cost the shards a context switch per write on a small host.
    fn feed_replica(&mut self, force: bool) {
        let Some(replica) = &self.replica else { return };
        let due = self.replica_pending.len() >= REPLICA_BUNDLE_BATCHES
            || self.replica_sent.elapsed() >= REPLICA_BUNDLE_WAIT;
        if (force || due) && !self.replica_pending.is_empty() {
            let _ = replica.send(std::mem::take(&mut self.replica_pending));
            self.replica_sent = Instant::now();
        }
    }

    /// Appends every txn of the batch, flushes once, then publishes the batch
    /// to every shard. On a storage error every txn of the batch becomes
    /// `Failed` and the log refuses everything after it.
    fn write_and_publish(&mut self, batch: &mut Vec<CommitItem>, encoded: &mut Vec<u8>) {
        if batch.is_empty() {
            return;
        }
        let mut items = std::mem::take(batch);
        let mut txn_count = 0u64;
        let mut result = Ok(());
        if !self.stats.failed.load(Ordering::Relaxed) {
            for item in &items {
                if let CommitItem::Txn { txn, .. } = item {
                    encoded.clear();
                    txn.encode(encoded);
                    if let Err(e) = self.log.append(txn.zxid, encoded) {
                        result = Err(e);
                        break;
                    }
                    txn_count += 1;
                }
            }
            if result.is_ok() && txn_count > 0 {
                let started = Instant::now();
                match self.log.flush() {
                    Ok(durable) => {
                        let micros = started.elapsed().as_micros() as u64;
                        self.stats.record_flush(
                            micros,
                            txn_count,
                            durable,
                            self.fsync_warning,
                            &self.log,
                        );
                    }
                    Err(e) => result = Err(e),
                }
            }
        }
        if let Err(e) = &result {
            if e.is_no_space() {
                log::error!(
                    "disk full: the transaction log cannot grow ({e}); refusing writes until restart (free space on dataLogDir, then restart)"
                );
            } else {
                log::error!("transaction log write failed: {e}; refusing writes until restart");
            }
        }
        if result.is_err() || self.stats.failed.load(Ordering::Relaxed) {
            self.stats.failed.store(true, Ordering::Relaxed);
            items = items
                .into_iter()
                .map(|item| match item {
                    CommitItem::Txn { origin, .. } => CommitItem::Failed { origin },
                    other => other,
                })
                .collect();
        }
        self.batch_seq += 1;
        let shared: CommitBatch = Arc::new(Batch {
            seq: self.batch_seq,
            items,
        });
        for shard in &self.shards {
            // A shard that is gone is shutting down; nothing to deliver.
            let _ = shard.send(shared.clone());
        }
        if self.replica.is_some() {
            self.replica_pending.push(shared);
            self.feed_replica(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flushes_when_the_queue_drains_without_a_wait() {
        let p = GroupCommit {
            batch_txns_max: 1000,
            batch_bytes_max: 1 << 22,
            wait: Duration::ZERO,
        };
        assert!(should_flush(&p, 1, 10, true, Duration::ZERO));
        assert!(!should_flush(&p, 1, 10, false, Duration::ZERO));
    }

    #[test]
    fn flushes_at_the_batch_limits_even_with_a_full_queue() {
        let p = GroupCommit {
            batch_txns_max: 10,
            batch_bytes_max: 100,
            wait: Duration::from_millis(5),
        };
        assert!(should_flush(&p, 10, 1, false, Duration::ZERO));
        assert!(should_flush(&p, 1, 100, false, Duration::ZERO));
        assert!(!should_flush(&p, 1, 1, true, Duration::from_millis(1)));
        assert!(should_flush(&p, 1, 1, true, Duration::from_millis(5)));
    }
}

#[cfg(test)]
mod record_flush_tests {
    use super::*;

    /// The threshold compares whole milliseconds, as ZooKeeper does: with
    /// 0, a 1.5 ms flush counts and a 0.9 ms one does not; with 1000, neither.
    #[test]
    fn slow_flushes_count_by_whole_milliseconds() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = TxnLog::open(crate::storage::LogConfig::new(dir.path())).unwrap();
        let stats = LogStats::default();
        stats.record_flush(900, 1, 1, Duration::ZERO, &log);
        assert_eq!(stats.fsync_threshold_exceeded.load(Ordering::Relaxed), 0);
        stats.record_flush(1500, 2, 3, Duration::ZERO, &log);
        assert_eq!(stats.fsync_threshold_exceeded.load(Ordering::Relaxed), 1);
        stats.record_flush(1500, 1, 4, Duration::from_millis(1000), &log);
        assert_eq!(stats.fsync_threshold_exceeded.load(Ordering::Relaxed), 1);
        assert_eq!(stats.flushes.load(Ordering::Relaxed), 3);
        assert_eq!(stats.txns.load(Ordering::Relaxed), 4);
        assert_eq!(stats.flush_micros_min_plus_one.load(Ordering::Relaxed), 901);
        assert_eq!(stats.flush_micros_max.load(Ordering::Relaxed), 1500);
        assert_eq!(stats.durable_zxid.load(Ordering::Relaxed), 4);
    }
}
