//! Durable storage: the transaction log and snapshot files.
//!
//! `storage/` keeps OPAQUE txn payloads keyed by zxid (i64) and opaque
//! snapshot bodies; it does not know the txn format and never decides what is
//! committed. It does blocking file I/O only (std, libc, memmap2) and must be
//! called from the log core or `spawn_blocking`, never from a client shard:
//! page faults on the mapping and `msync`/`fdatasync` block.
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
//! Both are implemented ([`SyncMethod`]; `TxnLog::open_with` picks one).
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
//! `force(false)` does. Zero-filling the preallocated extent (ZooKeeper's way,
//! which avoids converting unwritten extents at each sync) showed no gain here
//! either, so segments are preallocated with `posix_fallocate` only. Re-measure
//! on a quiet, real disk (`cargo bench --bench log`) before tuning this.
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
pub use segment::{LogSegment, MmapSegment, SyncMethod};
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
