//! The transaction log: segments of CRC'd records, group-commit flush,
//! torn-tail recovery, truncation, reading from a zxid, purging.
//! The on-disk grammar is in `storage/mod.rs`.
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::error::StorageError;
use super::segment::{sync_dir, FileSegment, LogSegment, SyncMethod};

/// Magic at the start of every segment file.
pub const SEGMENT_MAGIC: [u8; 4] = *b"PDLG";
/// Version of the segment format written by this code.
pub const SEGMENT_VERSION: u32 = 1;
/// `magic | version u32 | reserved u64`.
pub const SEGMENT_HEADER_BYTES: u64 = 16;
/// `len u32 | crc32c u32 | zxid i64`.
pub const RECORD_HEADER_BYTES: u64 = 16;
/// Records start on 8-byte boundaries; the gap is zeros.
pub const RECORD_ALIGN_BYTES: u64 = 8;
/// The largest payload a record can carry (`len` is a u32 that also counts the zxid).
pub const RECORD_PAYLOAD_BYTES_MAX: usize = (u32::MAX as usize) - 8 - 8;
/// ZooKeeper's preAllocSize default: 64 MiB.
pub const PREALLOCATE_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;
/// Segments grow by `preallocate_bytes` up to this size, then the log rolls.
pub const SEGMENT_BYTES_MAX_DEFAULT: u64 = 1024 * 1024 * 1024;
/// The flush method chosen by measurement (see `mod.rs`).
pub const SYNC_METHOD_DEFAULT: SyncMethod = SyncMethod::Fdatasync;

const SEGMENT_PREFIX: &str = "log.";
pub(super) static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// Where the log lives and how its segments are sized.
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// `dataLogDir/version-2`.
    pub dir: PathBuf,
    /// Bytes allocated (posix_fallocate) when a segment is created and each
    /// time it grows: ZooKeeper's preAllocSize, default 64 MiB.
    pub preallocate_bytes: u64,
    /// A segment grows in `preallocate_bytes` steps until the next step would
    /// pass this size; then the log rolls to a new segment. A single record
    /// larger than this still gets a segment of its own.
    pub segment_bytes_max: u64,
}

impl LogConfig {
    /// The defaults: 64 MiB preallocation, 1 GiB segments.
    pub fn new(dir: impl Into<PathBuf>) -> LogConfig {
        LogConfig {
            dir: dir.into(),
            preallocate_bytes: PREALLOCATE_BYTES_DEFAULT,
            segment_bytes_max: SEGMENT_BYTES_MAX_DEFAULT,
        }
    }
}

/// What `open` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// Zxid of the last valid record, 0 if the log is empty.
    pub last_zxid: i64,
    /// Number of valid records in all segments.
    pub records: u64,
    /// The torn or corrupt tail that was cut off, if any.
    pub truncated: Option<TruncatedTail>,
}

/// Where recovery cut the log, and why. Everything from `offset` in
/// `segment` on was zeroed, and any later segments were renamed to
/// `<name>.truncated` (kept for inspection, no longer part of the log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TruncatedTail {
    pub segment: PathBuf,
    pub offset: u64,
    pub reason: String,
}

/// What the log knows about one segment file.
#[derive(Clone, Debug)]
struct SegmentInfo {
    path: PathBuf,
    /// From the file name; equal to the first record's zxid.
    first_zxid: i64,
    last_zxid: i64,
    /// Offset just past the last record (aligned); zeros from here on.
    end: u64,
    records: u64,
}

/// The transaction log the server uses: `pwrite` segments (see `mod.rs`).
pub type TxnLog = TxnLogOn<FileSegment>;

/// The log over any segment backend (see `segment.rs`).
pub struct TxnLogOn<S: LogSegment> {
    config: LogConfig,
    sync_method: SyncMethod,
    /// Oldest first. Never empty once something was appended, except after
    /// `truncate_after` removed everything.
    segments: Vec<SegmentInfo>,
    /// The writable segment; when `Some`, it is `segments.last()`.
    active: Option<S>,
    /// `roll()` was called: the next append starts a new segment.
    roll_pending: bool,
    /// Byte range of the active segment written since the last sync.
    dirty: Option<(u64, u64)>,
    last_zxid: i64,
    durable_zxid: i64,
    /// A sync failed: after a failed fsync the kernel may have dropped the
    /// dirty pages, so nothing written since can be trusted. Every later
    /// append/flush fails until the log is reopened (which re-verifies).
    sync_failed: bool,
}

pub(crate) fn segment_name(first_zxid: i64) -> String {
    format!("{SEGMENT_PREFIX}{first_zxid:016x}")
}

fn parse_zxid_name(name: &str, prefix: &str) -> Option<i64> {
    let hex = name.strip_prefix(prefix)?;
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    i64::from_str_radix(hex, 16).ok().filter(|z| *z >= 0)
}

/// Files in `dir` named `<prefix><hex zxid>`, sorted by zxid.
pub(crate) fn list_by_zxid(dir: &Path, prefix: &str) -> Result<Vec<(i64, PathBuf)>, StorageError> {
    let mut found = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| StorageError::io("list directory", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StorageError::io("list directory", dir, e))?;
        let name = entry.file_name();
        if let Some(zxid) = name.to_str().and_then(|n| parse_zxid_name(n, prefix)) {
            found.push((zxid, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

fn align_up(value: u64, align: u64) -> u64 {
    value.div_ceil(align) * align
}

/// Bytes a record with this payload occupies, padding included.
pub fn record_bytes(payload_len: usize) -> u64 {
    align_up(RECORD_HEADER_BYTES + payload_len as u64, RECORD_ALIGN_BYTES)
}

fn record_crc(len: u32, zxid: i64, payload: &[u8]) -> u32 {
    let crc = crc32c::crc32c(&len.to_le_bytes());
    let crc = crc32c::crc32c_append(crc, &zxid.to_le_bytes());
    crc32c::crc32c_append(crc, payload)
}

fn segment_header() -> [u8; SEGMENT_HEADER_BYTES as usize] {
    let mut header = [0u8; SEGMENT_HEADER_BYTES as usize];
    header[0..4].copy_from_slice(&SEGMENT_MAGIC);
    header[4..8].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    header
}

/// One record read back, or the reason the bytes at `offset` are not one.
enum RecordAt {
    Record {
        zxid: i64,
        payload: Vec<u8>,
        next: u64,
    },
    /// A zero `len`: the end of the log in this segment.
    End,
    Bad(String),
}

fn read_record<S: LogSegment>(segment: &S, offset: u64) -> Result<RecordAt, StorageError> {
    let file_len = segment.allocated_bytes();
    if offset + RECORD_HEADER_BYTES > file_len {
        // Too little room for a header: only zero padding may be here.
        return Ok(RecordAt::End);
    }
    let mut header = [0u8; RECORD_HEADER_BYTES as usize];
    segment.read_at(offset, &mut header)?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let mut zxid_bytes = [0u8; 8];
    zxid_bytes.copy_from_slice(&header[8..16]);
    let zxid = i64::from_le_bytes(zxid_bytes);
    if len == 0 {
        return Ok(RecordAt::End);
    }
    if len < 8 {
        return Ok(RecordAt::Bad(format!("record length {len} is below 8")));
    }
    let payload_len = u64::from(len) - 8;
    let record_end = offset + RECORD_HEADER_BYTES + payload_len;
    if record_end > file_len {
        return Ok(RecordAt::Bad(format!(
            "record length {len} runs past the end of the file ({file_len} bytes)"
        )));
    }
    let mut payload = vec![0u8; payload_len as usize];
    segment.read_at(offset + RECORD_HEADER_BYTES, &mut payload)?;
    let expected = record_crc(len, zxid, &payload);
    if expected != crc {
        return Ok(RecordAt::Bad(format!(
            "CRC mismatch for zxid {zxid:#x}: stored {crc:#010x}, computed {expected:#010x}"
        )));
    }
    Ok(RecordAt::Record {
        zxid,
        payload,
        next: align_up(record_end, RECORD_ALIGN_BYTES),
    })
}

/// The valid prefix of one segment.
struct Scan {
    end: u64,
    last_zxid: i64,
    records: u64,
    /// Why the valid prefix stops before a clean end-of-log.
    bad: Option<String>,
}

fn scan_segment<S: LogSegment>(
    segment: &S,
    first_zxid: i64,
    previous_zxid: i64,
) -> Result<Scan, StorageError> {
    let mut scan = Scan {
        end: 0,
        last_zxid: previous_zxid,
        records: 0,
        bad: None,
    };
    if segment.allocated_bytes() < SEGMENT_HEADER_BYTES {
        scan.bad = Some("file shorter than the segment header".to_string());
        return Ok(scan);
    }
    let mut header = [0u8; SEGMENT_HEADER_BYTES as usize];
    segment.read_at(0, &mut header)?;
    if header != segment_header() {
        scan.bad = Some(format!("bad segment header {header:02x?}"));
        return Ok(scan);
    }
    scan.end = SEGMENT_HEADER_BYTES;
    loop {
        match read_record(segment, scan.end)? {
            RecordAt::End => return Ok(scan),
            RecordAt::Bad(reason) => {
                scan.bad = Some(reason);
                return Ok(scan);
            }
            RecordAt::Record { zxid, next, .. } => {
                if scan.records == 0 && zxid != first_zxid {
                    scan.bad = Some(format!(
                        "first record has zxid {zxid:#x}, the file name says {first_zxid:#x}"
                    ));
                    return Ok(scan);
                }
                if zxid <= scan.last_zxid {
                    scan.bad = Some(format!(
                        "zxid {zxid:#x} does not increase (previous {:#x})",
                        scan.last_zxid
                    ));
                    return Ok(scan);
                }
                scan.last_zxid = zxid;
                scan.records += 1;
                scan.end = next;
            }
        }
    }
}

/// Offset just past the last non-zero byte at or after `from`, if any.
fn nonzero_extent<S: LogSegment>(segment: &S, from: u64) -> Result<Option<u64>, StorageError> {
    let mut buf = vec![0u8; ZEROS.len()];
    let mut last = None;
    let mut offset = from;
    while offset < segment.allocated_bytes() {
        let count = (segment.allocated_bytes() - offset).min(buf.len() as u64) as usize;
        segment.read_at(offset, &mut buf[..count])?;
        if let Some(position) = buf[..count].iter().rposition(|b| *b != 0) {
            last = Some(offset + position as u64 + 1);
        }
        offset += count as u64;
    }
    Ok(last)
}

fn write_zeros<S: LogSegment>(segment: &mut S, start: u64, end: u64) -> Result<(), StorageError> {
    let mut offset = start;
    while offset < end {
        let count = (end - offset).min(ZEROS.len() as u64) as usize;
        segment.write_at(offset, &ZEROS[..count])?;
        offset += count as u64;
    }
    Ok(())
}

impl<S: LogSegment> TxnLogOn<S> {
    /// Opens the log in `config.dir` (created if missing) and recovers it:
    /// every record of every segment is read and its CRC checked. At the
    /// first record that is torn or corrupt (bad CRC, length past the file,
    /// zxid not increasing, bad header) the log ends: the rest of that
    /// segment is zeroed and synced, later segments are renamed
    /// `*.truncated`, and the cut is reported in [`Recovery::truncated`].
    /// Non-zero bytes after the last record of any segment (pages written
    /// back out of order before a crash) are treated the same way. A segment
    /// left with no records is removed.
    pub fn open(config: LogConfig) -> Result<(TxnLogOn<S>, Recovery), StorageError> {
        TxnLogOn::open_with(config, SYNC_METHOD_DEFAULT)
    }

    /// [`TxnLogOn::open`] with an explicit flush method (for measurement).
    pub fn open_with(
        config: LogConfig,
        sync_method: SyncMethod,
    ) -> Result<(TxnLogOn<S>, Recovery), StorageError> {
        if config.preallocate_bytes == 0 || config.segment_bytes_max == 0 {
            return Err(StorageError::io(
                "open log",
                &config.dir,
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "preallocate_bytes and segment_bytes_max must be positive",
                ),
            ));
        }
        fs::create_dir_all(&config.dir)
            .map_err(|e| StorageError::io("create log directory", &config.dir, e))?;
        let files = list_by_zxid(&config.dir, SEGMENT_PREFIX)?;
        let mut segments = Vec::new();
        let mut active: Option<S> = None;
        let mut truncated: Option<TruncatedTail> = None;
        let mut directory_changed = false;
        let mut previous_zxid = 0;
        let mut records = 0;
        for (first_zxid, path) in files {
            if truncated.is_some() {
                // Never read past a bad record: later segments are not part of the log.
                let mut aside = path.clone().into_os_string();
                aside.push(".truncated");
                fs::rename(&path, &aside)
                    .map_err(|e| StorageError::io("set aside segment", &path, e))?;
                log::warn!("log recovery: set aside {} after a cut", path.display());
                directory_changed = true;
                continue;
            }
            let size = fs::metadata(&path)
                .map_err(|e| StorageError::io("stat segment", &path, e))?
                .len();
            if size < SEGMENT_HEADER_BYTES {
                // A segment whose creation did not finish.
                log::warn!(
                    "log recovery: removing incomplete segment {}",
                    path.display()
                );
                truncated = Some(TruncatedTail {
                    segment: path.clone(),
                    offset: 0,
                    reason: "file shorter than the segment header".to_string(),
                });
                fs::remove_file(&path).map_err(|e| StorageError::io("remove segment", &path, e))?;
                directory_changed = true;
                continue;
            }
            let mut segment = S::open(&path, sync_method)?;
            let scan = scan_segment(&segment, first_zxid, previous_zxid)?;
            let cut = scan.end;
            // Every segment ends in zeros after its last record: the log
            // syncs a segment before moving to the next, so non-zero bytes
            // there are a torn write or corruption wherever the segment is.
            // Checking only the newest file is not enough: when a later
            // segment is cut away, this one becomes the log's end, the next
            // append lands in front of those bytes, and a stale record among
            // them would be read back as committed (fuzz finding,
            // txn_log_recovery).
            let mut reason = scan.bad.clone();
            let zero_to = nonzero_extent(&segment, cut)?;
            if reason.is_none() && zero_to.is_some() {
                reason = Some("non-zero bytes after the last record".to_string());
            }
            if let Some(reason) = reason {
                log::warn!(
                    "log recovery: cutting {} at offset {cut}: {reason}",
                    path.display()
                );
                if let Some(zero_to) = zero_to {
                    write_zeros(&mut segment, cut, zero_to)?;
                    segment.sync_range(cut, zero_to)?;
                }
                truncated = Some(TruncatedTail {
                    segment: path.clone(),
                    offset: cut,
                    reason,
                });
            }
            if scan.records == 0 {
                drop(segment);
                fs::remove_file(&path).map_err(|e| StorageError::io("remove segment", &path, e))?;
                directory_changed = true;
                continue;
            }
            previous_zxid = scan.last_zxid;
            records += scan.records;
            segments.push(SegmentInfo {
                path,
                first_zxid,
                last_zxid: scan.last_zxid,
                end: scan.end,
                records: scan.records,
            });
            active = Some(segment);
        }
        if directory_changed {
            sync_dir(&config.dir)?;
        }
        // What we read may still be only in the page cache (the previous
        // process died, the machine did not): make it durable before
        // reporting it as such.
        if let (Some(segment), Some(info)) = (active.as_mut(), segments.last()) {
            // A file cut short right after a record lacks that record's
            // padding: its end is past the file (fuzz finding; the next
            // append grows the file first).
            let synced_end = info.end.min(segment.allocated_bytes());
            segment.sync_range(0, synced_end)?;
        }
        let last_zxid = segments.last().map_or(0, |info| info.last_zxid);
        let recovery = Recovery {
            last_zxid,
            records,
            truncated,
        };
        let log = TxnLogOn {
            config,
            sync_method,
            segments,
            active,
            roll_pending: false,
            dirty: None,
            last_zxid,
            durable_zxid: last_zxid,
            sync_failed: false,
        };
        Ok((log, recovery))
    }

    /// Appends one record (copied into the mapping). Not durable until
    /// [`flush`](Self::flush). Rolls or grows the segment when full; a
    /// failure to allocate space (ENOSPC) returns an error and leaves the
    /// log as it was.
    ///
    /// Panics if `zxid` is not greater than every zxid appended before.
    pub fn append(&mut self, zxid: i64, payload: &[u8]) -> Result<(), StorageError> {
        assert!(
            zxid > self.last_zxid,
            "zxid {zxid:#x} appended after {:#x}",
            self.last_zxid
        );
        self.check_usable("append")?;
        if payload.len() > RECORD_PAYLOAD_BYTES_MAX {
            return Err(StorageError::io(
                "append",
                &self.config.dir,
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("payload of {} bytes is too large", payload.len()),
                ),
            ));
        }
        let bytes = record_bytes(payload.len());
        self.make_room(zxid, bytes)?;
        let (Some(segment), Some(info)) = (self.active.as_mut(), self.segments.last_mut()) else {
            unreachable!("make_room leaves an active segment");
        };
        let offset = info.end;
        // `len` counts the zxid and the payload, so it is never 0 (0 = end of log).
        let len = (payload.len() + 8) as u32;
        let mut header = [0u8; RECORD_HEADER_BYTES as usize];
        header[0..4].copy_from_slice(&len.to_le_bytes());
        header[4..8].copy_from_slice(&record_crc(len, zxid, payload).to_le_bytes());
        header[8..16].copy_from_slice(&zxid.to_le_bytes());
        segment.write_at(offset, &header)?;
        segment.write_at(offset + RECORD_HEADER_BYTES, payload)?;
        // The alignment padding is already zero: bytes past `end` always are.
        info.end = offset + bytes;
        info.last_zxid = zxid;
        info.records += 1;
        self.dirty = Some(match self.dirty {
            Some((start, _)) => (start, info.end),
            None => (offset, info.end),
        });
        self.last_zxid = zxid;
        Ok(())
    }

    /// Makes every appended record durable (one sync of the dirty range, however
    /// many appends it covers: the group commit). Returns the durable zxid.
    pub fn flush(&mut self) -> Result<i64, StorageError> {
        self.check_usable("flush")?;
        if let (Some((start, end)), Some(segment)) = (self.dirty, self.active.as_mut()) {
            if let Err(e) = segment.sync_range(start, end) {
                self.sync_failed = true;
                return Err(e);
            }
        }
        self.dirty = None;
        self.durable_zxid = self.last_zxid;
        Ok(self.durable_zxid)
    }

    /// Zxid of the last appended record (0 if none).
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// Zxid of the last record known to be on disk.
    pub fn durable_zxid(&self) -> i64 {
        self.durable_zxid
    }

    /// Every record with zxid > `after`, in order, lazily. The CRC of each
    /// record is checked again as it is read. Records appended after this
    /// call are not included.
    pub fn read_after(&self, after: i64) -> Result<LogReader<'_, S>, StorageError> {
        // Skip whole segments whose successor starts at or before after + 1.
        let mut segment_index = 0;
        while segment_index + 1 < self.segments.len()
            && self.segments[segment_index + 1].first_zxid - 1 <= after
        {
            segment_index += 1;
        }
        let limits = self.segments.iter().map(|info| info.end).collect();
        Ok(LogReader {
            log: self,
            after,
            limits,
            segment_index,
            offset: SEGMENT_HEADER_BYTES,
            opened: None,
            failed: false,
        })
    }

    /// Removes every record with zxid > `zxid` (Zab TRUNC). Later segments
    /// are deleted newest first, then the tail of the segment holding `zxid`
    /// is zeroed and synced; a crash half-way leaves a prefix of the old log.
    pub fn truncate_after(&mut self, zxid: i64) -> Result<(), StorageError> {
        self.check_usable("truncate")?;
        if zxid >= self.last_zxid {
            return Ok(());
        }
        let mut removed = false;
        while let Some(info) = self.segments.last() {
            if info.first_zxid <= zxid {
                break;
            }
            self.active = None;
            self.dirty = None;
            fs::remove_file(&info.path)
                .map_err(|e| StorageError::io("remove segment", &info.path, e))?;
            self.segments.pop();
            removed = true;
        }
        if removed {
            sync_dir(&self.config.dir)?;
        }
        if let Some(info) = self.segments.last() {
            let mut segment = match self.active.take() {
                Some(segment) => segment,
                None => S::open(&info.path, self.sync_method)?,
            };
            let mut offset = SEGMENT_HEADER_BYTES;
            let mut last_zxid = 0;
            let mut records = 0;
            while offset < info.end {
                match read_record(&segment, offset)? {
                    RecordAt::Record {
                        zxid: found, next, ..
                    } if found <= zxid => {
                        last_zxid = found;
                        records += 1;
                        offset = next;
                    }
                    RecordAt::Record { .. } => break,
                    RecordAt::End | RecordAt::Bad(_) => {
                        return Err(StorageError::corrupt(
                            "truncate",
                            &info.path,
                            format!("no valid record at offset {offset} before the end"),
                        ))
                    }
                }
            }
            let old_end = info.end;
            write_zeros(&mut segment, offset, old_end)?;
            let sync_from = self.dirty.map_or(offset, |(start, _)| start.min(offset));
            if let Err(e) = segment.sync_range(sync_from, old_end) {
                self.sync_failed = true;
                return Err(e);
            }
            self.dirty = None;
            let info = self
                .segments
                .last_mut()
                .unwrap_or_else(|| unreachable!("checked above"));
            info.end = offset;
            info.last_zxid = last_zxid;
            info.records = records;
            self.active = Some(segment);
        }
        self.last_zxid = self.segments.last().map_or(0, |info| info.last_zxid);
        self.durable_zxid = self.last_zxid;
        Ok(())
    }

    /// The next append starts a new segment (called when a snapshot is taken,
    /// so that old segments can later be purged whole).
    pub fn roll(&mut self) -> Result<(), StorageError> {
        self.roll_pending = true;
        Ok(())
    }

    /// Deletes the segments whose records are all <= `zxid` and which are not
    /// needed to replay from `zxid`: a segment goes when the next one starts
    /// at or before `zxid + 1`. The newest segment is always kept. Returns how
    /// many were deleted (oldest first, so a crash leaves a suffix).
    pub fn purge_before(&mut self, zxid: i64) -> Result<usize, StorageError> {
        let mut count = 0;
        while self.segments.len() > 1 && self.segments[1].first_zxid - 1 <= zxid {
            let info = self.segments.remove(0);
            fs::remove_file(&info.path)
                .map_err(|e| StorageError::io("purge segment", &info.path, e))?;
            count += 1;
        }
        if count > 0 {
            sync_dir(&self.config.dir)?;
        }
        Ok(count)
    }

    /// The segment files of the log, oldest first.
    pub fn segment_paths(&self) -> Vec<PathBuf> {
        self.segments.iter().map(|info| info.path.clone()).collect()
    }

    fn check_usable(&self, op: &'static str) -> Result<(), StorageError> {
        if self.sync_failed {
            return Err(StorageError::io(
                op,
                &self.config.dir,
                io::Error::other("an earlier sync failed; reopen the log to recover"),
            ));
        }
        Ok(())
    }

    /// Ensures the active segment has `bytes` free at its end, growing it or
    /// starting a new segment named after `zxid`.
    fn make_room(&mut self, zxid: i64, bytes: u64) -> Result<(), StorageError> {
        let preallocate = self.config.preallocate_bytes;
        if !self.roll_pending {
            if let (Some(segment), Some(info)) = (self.active.as_mut(), self.segments.last()) {
                let needed = info.end + bytes;
                if needed <= segment.allocated_bytes() {
                    return Ok(());
                }
                let grown =
                    align_up(needed, preallocate).max(segment.allocated_bytes() + preallocate);
                if grown <= self.config.segment_bytes_max {
                    return segment.grow(grown);
                }
            }
        }
        self.seal_active()?;
        let path = self.config.dir.join(segment_name(zxid));
        let len = align_up(SEGMENT_HEADER_BYTES + bytes, preallocate);
        let mut segment = S::create(&path, len, self.sync_method)?;
        let made = segment
            .write_at(0, &segment_header())
            .and_then(|()| segment.sync_range(0, SEGMENT_HEADER_BYTES))
            .and_then(|()| sync_dir(&self.config.dir));
        if let Err(e) = made {
            drop(segment);
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        self.segments.push(SegmentInfo {
            path,
            first_zxid: zxid,
            last_zxid: 0,
            end: SEGMENT_HEADER_BYTES,
            records: 0,
        });
        self.active = Some(segment);
        self.roll_pending = false;
        Ok(())
    }

    /// Syncs and releases the active segment before the log moves on, so
    /// that only the newest segment can ever hold unsynced bytes.
    fn seal_active(&mut self) -> Result<(), StorageError> {
        if let Some(mut segment) = self.active.take() {
            if let Some((start, end)) = self.dirty {
                if let Err(e) = segment.sync_range(start, end) {
                    self.active = Some(segment);
                    self.sync_failed = true;
                    return Err(e);
                }
            }
            self.dirty = None;
            self.durable_zxid = self.last_zxid;
        }
        Ok(())
    }
}

/// Iterator over the records of a [`TxnLogOn`] with zxid above a bound.
/// Stops after the first error.
pub struct LogReader<'a, S: LogSegment> {
    log: &'a TxnLogOn<S>,
    after: i64,
    /// Each segment's end when the reader was made.
    limits: Vec<u64>,
    segment_index: usize,
    offset: u64,
    /// The (non-active) segment being read.
    opened: Option<S>,
    failed: bool,
}

impl<S: LogSegment> LogReader<'_, S> {
    fn next_record(&mut self) -> Result<Option<(i64, Vec<u8>)>, StorageError> {
        loop {
            let Some(info) = self.log.segments.get(self.segment_index) else {
                return Ok(None);
            };
            let limit = self.limits.get(self.segment_index).copied().unwrap_or(0);
            if self.offset >= limit {
                self.segment_index += 1;
                self.offset = SEGMENT_HEADER_BYTES;
                self.opened = None;
                continue;
            }
            let is_active = self.segment_index + 1 == self.log.segments.len();
            let segment = match (is_active, self.log.active.as_ref()) {
                (true, Some(active)) => active,
                _ => {
                    if self.opened.is_none() {
                        self.opened = Some(S::open(&info.path, self.log.sync_method)?);
                    }
                    self.opened
                        .as_ref()
                        .unwrap_or_else(|| unreachable!("opened above"))
                }
            };
            match read_record(segment, self.offset)? {
                RecordAt::Record {
                    zxid,
                    payload,
                    next,
                } => {
                    self.offset = next;
                    if zxid > self.after {
                        return Ok(Some((zxid, payload)));
                    }
                }
                RecordAt::End | RecordAt::Bad(_) => {
                    return Err(StorageError::corrupt(
                        "read log",
                        &info.path,
                        format!(
                            "no valid record at offset {} (recovered end {limit})",
                            self.offset
                        ),
                    ))
                }
            }
        }
    }
}

impl<S: LogSegment> Iterator for LogReader<'_, S> {
    type Item = Result<(i64, Vec<u8>), StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_record() {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
