//! Snapshot files: one opaque body per file, named after the zxid it
//! covers, written atomically (temp file, fsync, rename, directory fsync) and
//! checked by CRC when read. The grammar is in `storage/mod.rs`.
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::error::StorageError;
use super::segment::sync_dir;
use super::txn_log::list_by_zxid;

/// Magic at the start of every snapshot file.
pub const SNAPSHOT_MAGIC: [u8; 4] = *b"PDSN";
/// Version of the snapshot format written by this code.
pub const SNAPSHOT_VERSION: u32 = 1;
/// `magic | version u32 | zxid i64 | body_len u64`.
pub const SNAPSHOT_HEADER_BYTES: usize = 24;
/// Fewest snapshots `purge_snapshots` keeps (ZooKeeper's autopurge.snapRetainCount minimum).
pub const SNAPSHOT_RETAIN_MIN: usize = 3;

const SNAPSHOT_PREFIX: &str = "snapshot.";
const TEMP_SUFFIX: &str = ".tmp";

/// `snapshot.<16 hex digits>`.
pub fn snapshot_name(zxid: i64) -> String {
    format!("{SNAPSHOT_PREFIX}{zxid:016x}")
}

/// Writes `body` as the snapshot at `zxid` in `dir` (created if missing) and
/// returns its path. The file appears under its final name only once it is
/// complete and durable.
pub fn write_snapshot(dir: &Path, zxid: i64, body: &[u8]) -> Result<PathBuf, StorageError> {
    assert!(zxid >= 0, "snapshot zxid {zxid:#x}");
    fs::create_dir_all(dir).map_err(|e| StorageError::io("create snapshot directory", dir, e))?;
    let path = dir.join(snapshot_name(zxid));
    let mut temp = path.clone().into_os_string();
    temp.push(TEMP_SUFFIX);
    let temp = PathBuf::from(temp);

    let mut header = [0u8; SNAPSHOT_HEADER_BYTES];
    header[0..4].copy_from_slice(&SNAPSHOT_MAGIC);
    header[4..8].copy_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    header[8..16].copy_from_slice(&zxid.to_le_bytes());
    header[16..24].copy_from_slice(&(body.len() as u64).to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&header), body);

    let written = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temp)
        .and_then(|mut file| {
            file.write_all(&header)?;
            write_paced(&mut file, SNAPSHOT_HEADER_BYTES as u64, body)?;
            file.write_all(&crc.to_le_bytes())?;
            file.sync_all()
        });
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(StorageError::io("write snapshot", &temp, e));
    }
    if let Err(e) = fs::rename(&temp, &path) {
        let _ = fs::remove_file(&temp);
        return Err(StorageError::io("rename snapshot", &path, e));
    }
    sync_dir(dir)?;
    Ok(path)
}

/// How much snapshot data may be dirty in the page cache at once.
const SNAPSHOT_CHUNK_BYTES: usize = 8 << 20;

/// Writes `body` at `offset` in chunks, waiting for each chunk's writeback
/// before dirtying the next (`sync_file_range`). A snapshot is hundreds of
/// megabytes; written in one go, its writeback would queue in front of the
/// transaction log's next fdatasync and stall every write for as long. Paced,
/// the log's flush waits behind at most one chunk.
fn write_paced(file: &mut File, offset: u64, body: &[u8]) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut written = offset;
    for chunk in body.chunks(SNAPSHOT_CHUNK_BYTES) {
        file.write_all(chunk)?;
        // SAFETY: sync_file_range on our own open fd over a range we wrote.
        let rc = unsafe {
            libc::sync_file_range(
                file.as_raw_fd(),
                written as libc::off64_t,
                chunk.len() as libc::off64_t,
                libc::SYNC_FILE_RANGE_WAIT_BEFORE
                    | libc::SYNC_FILE_RANGE_WRITE
                    | libc::SYNC_FILE_RANGE_WAIT_AFTER,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        written += chunk.len() as u64;
    }
    Ok(())
}

/// Reads and verifies one snapshot file; returns its body.
pub fn read_snapshot(path: &Path, zxid: i64) -> Result<Vec<u8>, StorageError> {
    let corrupt = |reason: String| StorageError::corrupt("read snapshot", path, reason);
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut file| file.read_to_end(&mut bytes))
        .map_err(|e| StorageError::io("read snapshot", path, e))?;
    if bytes.len() < SNAPSHOT_HEADER_BYTES + 4 {
        return Err(corrupt(format!("only {} bytes", bytes.len())));
    }
    if bytes[0..4] != SNAPSHOT_MAGIC {
        return Err(corrupt(format!("bad magic {:02x?}", &bytes[0..4])));
    }
    let mut word = [0u8; 8];
    let mut half = [0u8; 4];
    half.copy_from_slice(&bytes[4..8]);
    let version = u32::from_le_bytes(half);
    if version != SNAPSHOT_VERSION {
        return Err(corrupt(format!("unknown version {version}")));
    }
    word.copy_from_slice(&bytes[8..16]);
    let stored_zxid = i64::from_le_bytes(word);
    if stored_zxid != zxid {
        return Err(corrupt(format!(
            "header zxid {stored_zxid:#x}, the file name says {zxid:#x}"
        )));
    }
    word.copy_from_slice(&bytes[16..24]);
    let body_len = u64::from_le_bytes(word);
    let expected_len = (SNAPSHOT_HEADER_BYTES as u64 + 4).checked_add(body_len);
    if expected_len != Some(bytes.len() as u64) {
        return Err(corrupt(format!(
            "body length {body_len} does not match the file size {}",
            bytes.len()
        )));
    }
    let crc_at = bytes.len() - 4;
    half.copy_from_slice(&bytes[crc_at..]);
    let stored_crc = u32::from_le_bytes(half);
    let computed = crc32c::crc32c(&bytes[..crc_at]);
    if stored_crc != computed {
        return Err(corrupt(format!(
            "CRC mismatch: stored {stored_crc:#010x}, computed {computed:#010x}"
        )));
    }
    bytes.truncate(crc_at);
    bytes.drain(..SNAPSHOT_HEADER_BYTES);
    Ok(bytes)
}

/// The newest snapshot in `dir` that verifies, as (zxid, body). Corrupt ones
/// are logged and skipped; a missing directory means no snapshot.
pub fn latest_snapshot(dir: &Path) -> Result<Option<(i64, Vec<u8>)>, StorageError> {
    for (zxid, path) in list_snapshots(dir)?.into_iter().rev() {
        match read_snapshot(&path, zxid) {
            Ok(body) => return Ok(Some((zxid, body))),
            Err(e) if e.is_corruption() => {
                log::warn!("skipping corrupt snapshot: {e}");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Deletes all but the newest `retain` snapshots (at least
/// [`SNAPSHOT_RETAIN_MIN`] are always kept) and any leftover temp files of
/// interrupted writes. Returns the zxids of the removed snapshots.
pub fn purge_snapshots(dir: &Path, retain: usize) -> Result<Vec<i64>, StorageError> {
    let retain = retain.max(SNAPSHOT_RETAIN_MIN);
    let snapshots = list_snapshots(dir)?;
    let mut removed = Vec::new();
    let remove_count = snapshots.len().saturating_sub(retain);
    for (zxid, path) in snapshots.into_iter().take(remove_count) {
        fs::remove_file(&path).map_err(|e| StorageError::io("purge snapshot", &path, e))?;
        removed.push(zxid);
    }
    let mut temps_removed = false;
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(SNAPSHOT_PREFIX) && name.ends_with(TEMP_SUFFIX) {
                let path = entry.path();
                fs::remove_file(&path).map_err(|e| StorageError::io("purge snapshot", &path, e))?;
                temps_removed = true;
            }
        }
    }
    if !removed.is_empty() || temps_removed {
        sync_dir(dir)?;
    }
    Ok(removed)
}

/// Zxid of the oldest snapshot file in `dir` (by name; not verified). The log
/// may be purged up to it: `TxnLog::purge_before(oldest)`.
pub fn oldest_retained_snapshot_zxid(dir: &Path) -> Result<Option<i64>, StorageError> {
    Ok(list_snapshots(dir)?.first().map(|(zxid, _)| *zxid))
}

fn list_snapshots(dir: &Path) -> Result<Vec<(i64, PathBuf)>, StorageError> {
    match list_by_zxid(dir, SNAPSHOT_PREFIX) {
        Err(e) if e.source.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        other => other,
    }
}
