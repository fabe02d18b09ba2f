//! Durable storage: the transaction log and snapshot files.
//!
//! `storage/` keeps OPAQUE txn payloads keyed by zxid (i64) and opaque
//! snapshot bodies; it does not know the txn format and never decides what is
//! committed. It does blocking file I/O only (std, libc, memmap2) and must be
//! called from the log core or `spawn_blocking`, never from a client shard:
//! `pwrite`, `fdatasync` and page faults on the read mapping block.
//!
//! # What it promises
//!
//! * After [`TxnLog::flush`] returns zxid `z`, every record appended up to `z`
//!   survives a crash (`kill -9` or power loss) and is read back by
//!   [`TxnLog::open`].
//! * A record that was appended but not flushed is either read back whole or
//!   not at all; a torn or corrupt record is found by its CRC, and the log
//!   ends right before it (never skips it and goes on reading).
//! * A full disk (`ENOSPC`) is an error from `append`, raised while *allocating*
//!   a segment (`posix_fallocate`), before any byte of the record is written.
//!   The log stays valid and the append can be retried.
//! * A failed sync poisons the log (after a failed fsync the kernel may have
//!   dropped the pages): every later append/flush fails until reopened.
//!
//! # Log segment file
//!
//! Files `log.<zxid of the first record, 16 lowercase hex digits>` in
//! `LogConfig::dir` (`dataLogDir/version-2`). All integers little-endian.
//!
//! ```text
//! Segment     := Header Record* ZeroPad
//! Header      := magic "PDLG" | version u32 = 1 | reserved u64 = 0       (16 bytes)
//! Record      := len u32 | crc u32 | zxid i64 | payload[len - 8] | pad   (starts 8-aligned)
//!   len       := 8 + payload length (the zxid and the payload), so len >= 8
//!   crc       := crc32c(len | zxid | payload)
//!   pad       := zeros up to the next multiple of 8
//! ZeroPad     := zeros to the end of the file (preallocated)
//! ```
//!
//! * Reading stops at a zero `len`: that is the end of the log in the segment.
//! * The first record's zxid equals the one in the file name; zxids strictly
//!   increase within a segment and across segments.
//! * A record with `len < 8`, with `len` past the end of the file, with a bad
//!   CRC or a non-increasing zxid, or any non-zero byte after the last record
//!   of a segment, is a torn tail: recovery cuts the log there (zeroes
//!   the bytes, sets later segments aside as `*.truncated`) and reports it.
//!
//! # Segment sizing
//!
//! A segment is created with `preallocate_bytes` (rounded up to fit its first
//! record) allocated by `posix_fallocate`, so writes through the mapping never
//! hit a hole (a hole on a full disk would be a SIGBUS, not an error). When
//! the next record does not fit, the segment *grows* by `preallocate_bytes`
//! (fallocate + remap) while it stays within `segment_bytes_max`; otherwise
//! the log *rolls* to a new segment. `roll()` forces a new segment at the next
//! append (a snapshot was taken). Before the log moves to a new segment it
//! syncs the old one, so only the newest segment can ever hold unsynced
//! bytes, and a gap can never open between segments.
//!
//! # Flush: msync vs fdatasync
//!
//! Both are implemented for [`MmapSegment`] ([`SyncMethod`]; `TxnLogOn::open_with`
//! picks one); the pwrite log ([`TxnLog`]) syncs with `fdatasync` and refuses `Msync`.
//! Measured with a since-retired ignored test (one 1 KiB append + flush, 1000
//! times, ext4 on a shared virtio disk while other builds ran; it lives on as
//! `cargo bench --bench log`, groups `log_append_flush_1KiB` and
//! `log_append_flush_1KiB_zero_filled`), three runs:
//!
//! ```text
//!                              p50 (us)           p99 (us)
//! msync,     fallocate'd     1636 / 2269 / 3720   12334 / 12228 / 21386
//! fdatasync, fallocate'd     3865 /  321 / 2598   13928 /  7912 / 12416
//! msync,     zero-filled     2842 /  203 / 1896   12267 /  5034 /  9009
//! fdatasync, zero-filled     3942 /  636 / 1873    9138 / 17897 /  7616
//! ```
//!
//! The disk's noise is larger than any difference between the methods, so
//! the default is `fdatasync` ([`SYNC_METHOD_DEFAULT`]):
//! one call that covers every dirty page of the file whichever mapping
//! dirtied it (the segment is remapped when it grows), and what ZooKeeper's
//! `force(false)` does. Zero-filling showed no gain in that single-process,
//! mmap-written measurement; with several logs on one disk and `pwrite` it
//! does (next section), and the log now zero-fills ahead of its writes.
//!
//! # Writes: pwrite, not the mapping
//!
//! DESIGN.md's log writes records through a shared writable mapping. The
//! log now writes them with one `pwrite` per flush ([`FileSegment`]) and
//! keeps a zero-filled stretch ahead of the writes, because on this machine
//! that makes the `fdatasync` itself much cheaper once several logs share a
//! disk, which is what a 3-server ensemble on one host does. Measured with
//! three processes at once, each appending 48 KiB (a saturated ensemble's
//! batch) then `fdatasync`, 3,000 times, ext4 on the VM's virtio disk
//! (`measure/fsync-shapes.py MODE 3 3000 49152`, 2026-12-02):
//!
//! ```text
//!                                   p50      p90      p99
//! mmap writes, fallocate'd file    1.82 ms  4.37 ms  19.0 ms   (the old shape)
//! mmap writes, zero-filled file    0.91 ms  1.51 ms   3.63 ms
//! pwrite,      fallocate'd file    0.70 ms  0.96 ms   2.53 ms
//! pwrite,      zero-filled file    0.26 ms  0.44 ms   1.64 ms
//! ```
//!
//! A flush through the mapping pays for write-protecting the pages it cleans
//! (so the next store faults them writable again, with TLB shootdowns on the
//! other cores), and a sync over fallocate'd ("unwritten") extents commits
//! the journal that records their conversion, at every sync. The zero-fill
//! ahead (1 MiB steps kept 1–2 MiB ahead, written and handed to writeback
//! right after a flush) moves that conversion off the flush path. In the
//! server, a 3-server set benchmark's `fdatasync` went from 1.2–1.4 ms to
//! 0.6–0.7 ms on average (`zk_sum_fsynctime / zk_cnt_fsynctime` over the
//! run) and its throughput from 11.8–12.7k to 18.8–21.3k sets/s. Disk-full
//! safety is unchanged: every segment is still `posix_fallocate`d before a
//! byte is written. [`MmapSegment`] stays for `cargo bench --bench log`.
//!
//! # Snapshot file
//!
//! Files `snapshot.<zxid, 16 lowercase hex digits>`, written to
//! `snapshot.<zxid>.tmp`, fsync'd, renamed, directory fsync'd.
//!
//! ```text
//! Snapshot    := magic "PDSN" | version u32 = 1 | zxid i64 | body_len u64 | body[body_len] | crc u32
//!   crc       := crc32c(everything before it)
//! ```
pub mod epoch;
mod error;
mod segment;
mod snapshot;
mod txn_log;

pub use error::StorageError;
pub use segment::{FileSegment, LogSegment, MmapSegment, SyncMethod};
pub use snapshot::{
    latest_snapshot, oldest_retained_snapshot_zxid, purge_snapshots, read_snapshot, snapshot_name,
    write_snapshot, SNAPSHOT_RETAIN_MIN,
};
pub use txn_log::{
    record_bytes, LogConfig, LogReader, Recovery, TruncatedTail, TxnLog, TxnLogOn,
    PREALLOCATE_BYTES_DEFAULT, RECORD_PAYLOAD_BYTES_MAX, SEGMENT_BYTES_MAX_DEFAULT,
    SYNC_METHOD_DEFAULT,
};

#[cfg(test)]
mod tests;
