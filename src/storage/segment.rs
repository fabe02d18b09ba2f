//! One log segment file, behind a small trait so that the log logic
//! (`txn_log.rs`) does not know how bytes reach the disk. Two backends:
//!
//! * [`FileSegment`] (the log's default): records are gathered in memory and
//!   written with one `pwrite` per flush; reads go through a read-only
//!   mapping. See "Writes: pwrite, not the mapping" in `mod.rs` for why.
//! * [`MmapSegment`]: records are copied into a shared writable mapping, the
//!   design's first shape; kept for `cargo bench --bench log`.
//!
//! Contract of every backend:
//! * `create` makes a new file of exactly `len` bytes that are *allocated* on
//!   disk (`posix_fallocate`) and read as zeros. If the disk is full, `create`
//!   fails with the OS error and leaves no file behind.
//! * `write_at` never writes past `len()`; the caller grows first. Because
//!   every byte it writes to is already allocated, a write can never fail for
//!   lack of space half-way through a record (for the mmap backend, that
//!   failure would be a SIGBUS).
//! * `sync_range(start, end)` returns once bytes `start..end` are durable.
//! * `grow(new_len)` allocates more zeros at the end; on failure the segment
//!   keeps its old length and contents.
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use std::os::unix::fs::FileExt;

use memmap2::{Mmap, MmapMut, MmapOptions};

use super::error::StorageError;
use super::txn_log::ZEROS;

/// How a backend makes a byte range durable. The mmap backend supports both;
/// see the measurements in `mod.rs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMethod {
    /// `msync(MS_SYNC)` over the page-aligned dirty range of the mapping.
    Msync,
    /// `fdatasync(2)` on the whole file.
    Fdatasync,
}

/// The storage of one segment file.
pub trait LogSegment: Sized {
    /// Creates `path` (which must not exist) with `len` preallocated zero bytes.
    fn create(path: &Path, len: u64, sync: SyncMethod) -> Result<Self, StorageError>;
    /// Opens an existing segment for reading and writing.
    fn open(path: &Path, sync: SyncMethod) -> Result<Self, StorageError>;
    fn path(&self) -> &Path;
    /// The allocated length in bytes (the file size).
    fn allocated_bytes(&self) -> u64;
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), StorageError>;
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), StorageError>;
    /// Makes bytes `start..end` durable.
    fn sync_range(&mut self, start: u64, end: u64) -> Result<(), StorageError>;
    /// Extends the file to `new_len` allocated zero bytes.
    fn grow(&mut self, new_len: u64) -> Result<(), StorageError>;
}

/// A segment accessed through a `MAP_SHARED` writable mapping of the whole file.
///
/// Safety of the mapping: paddock owns its data directory; nothing else may
/// truncate or rewrite a segment while it is mapped (ZooKeeper makes the same
/// assumption of its log files). A truncation from outside would turn our next
/// access into a SIGBUS.
pub struct MmapSegment {
    path: PathBuf,
    file: File,
    map: MmapMut,
    sync: SyncMethod,
}

/// `posix_fallocate(fd, offset, len)`, which returns the error number instead of setting errno.
fn fallocate(file: &File, offset: u64, len: u64) -> io::Result<()> {
    let offset = libc::off_t::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset too large"))?;
    let len = libc::off_t::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "length too large"))?;
    // SAFETY: plain syscall on an open descriptor we own; no memory is passed.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), offset, len) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

fn mapping_len(path: &Path, len: u64) -> Result<usize, StorageError> {
    usize::try_from(len).map_err(|_| {
        StorageError::io(
            "mmap segment",
            path,
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "segment larger than address space",
            ),
        )
    })
}

fn map(path: &Path, file: &File, len: u64) -> Result<MmapMut, StorageError> {
    let len = mapping_len(path, len)?;
    // SAFETY: see the type's doc: the file is owned by this process and is
    // never truncated below `len` while mapped.
    unsafe { MmapOptions::new().len(len).map_mut(file) }
        .map_err(|e| StorageError::io("mmap segment", path, e))
}

/// Both backends' `create`: a new file of `len` allocated zero bytes, and
/// its mapping made by `map`; on any failure nothing is left behind (the
/// log must stay as it was).
fn create_preallocated<M>(
    path: &Path,
    len: u64,
    map: impl FnOnce(&Path, &File, u64) -> Result<M, StorageError>,
) -> Result<(File, M), StorageError> {
    assert!(len > 0, "a segment has at least a header");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| StorageError::io("create segment", path, e))?;
    let made = fallocate(&file, 0, len)
        .map_err(|e| StorageError::io("preallocate segment", path, e))
        .and_then(|()| map(path, &file, len));
    match made {
        Ok(mapping) => Ok((file, mapping)),
        Err(e) => {
            drop(file);
            let _ = fs::remove_file(path);
            Err(e)
        }
    }
}

/// Both backends' `open`: an existing, non-empty segment and its length.
fn open_existing(path: &Path) -> Result<(File, u64), StorageError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| StorageError::io("open segment", path, e))?;
    let len = file
        .metadata()
        .map_err(|e| StorageError::io("stat segment", path, e))?
        .len();
    if len == 0 {
        return Err(StorageError::corrupt(
            "open segment",
            path,
            "empty segment file".to_string(),
        ));
    }
    Ok((file, len))
}

impl MmapSegment {
    fn range(&self, offset: u64, count: usize) -> Option<std::ops::Range<usize>> {
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(count)?;
        (end <= self.map.len()).then_some(start..end)
    }
}

impl LogSegment for MmapSegment {
    fn create(path: &Path, len: u64, sync: SyncMethod) -> Result<Self, StorageError> {
        let (file, map) = create_preallocated(path, len, map)?;
        Ok(MmapSegment {
            path: path.to_path_buf(),
            file,
            map,
            sync,
        })
    }

    fn open(path: &Path, sync: SyncMethod) -> Result<Self, StorageError> {
        let (file, len) = open_existing(path)?;
        let map = map(path, &file, len)?;
        Ok(MmapSegment {
            path: path.to_path_buf(),
            file,
            map,
            sync,
        })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn allocated_bytes(&self) -> u64 {
        self.map.len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), StorageError> {
        let range = self.range(offset, buf.len()).ok_or_else(|| {
            StorageError::corrupt(
                "read segment",
                &self.path,
                format!("read of {} bytes at {offset} past the end", buf.len()),
            )
        })?;
        buf.copy_from_slice(&self.map[range]);
        Ok(())
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), StorageError> {
        // The log never writes past the allocated length: that is its invariant.
        let range = self.range(offset, data.len()).unwrap_or_else(|| {
            panic!(
                "write of {} bytes at {offset} past the segment end",
                data.len()
            )
        });
        self.map[range].copy_from_slice(data);
        Ok(())
    }

    fn sync_range(&mut self, start: u64, end: u64) -> Result<(), StorageError> {
        assert!(
            start <= end && end <= self.allocated_bytes(),
            "sync range {start}..{end}"
        );
        if start == end {
            return Ok(());
        }
        match self.sync {
            // memmap2 rounds the offset down to a page boundary and calls msync(MS_SYNC).
            SyncMethod::Msync => self
                .map
                .flush_range(start as usize, (end - start) as usize)
                .map_err(|e| StorageError::io("msync", &self.path, e)),
            SyncMethod::Fdatasync => self
                .file
                .sync_data()
                .map_err(|e| StorageError::io("fdatasync", &self.path, e)),
        }
    }

    fn grow(&mut self, new_len: u64) -> Result<(), StorageError> {
        let old_len = self.allocated_bytes();
        assert!(new_len > old_len, "grow to {new_len} from {old_len}");
        fallocate(&self.file, old_len, new_len - old_len)
            .map_err(|e| StorageError::io("preallocate segment", &self.path, e))?;
        // Dirty pages of the old mapping stay in the page cache; a later
        // msync/fdatasync of the range through the new mapping writes them.
        self.map = map(&self.path, &self.file, new_len)?;
        Ok(())
    }
}

/// fsync a directory so that a created, renamed or removed entry is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StorageError::io("fsync directory", dir, e))
}

/// A segment written with `pwrite` and read through a read-only mapping.
///
/// Appends are contiguous, so `write_at` gathers them in `pending` (the
/// bytes from `pending_at` on) and the next `sync_range` writes them in one
/// `pwrite` before the `fdatasync`: one syscall per flush however many
/// records it covers. Reads see pending bytes too (they are laid over what
/// the mapping shows). Dropping a segment writes its pending bytes (not
/// synced), as the mapping would have left them in the page cache; a crash
/// loses them, which the log allows for bytes that were never flushed.
pub struct FileSegment {
    path: PathBuf,
    file: File,
    map: Mmap,
    len: u64,
    pending_at: u64,
    pending: Vec<u8>,
    /// One past the last byte written in this session (`None` before the
    /// first write): the log only writes at its end or into zeros past it,
    /// so everything from here on is zero and may be zero-filled.
    written_to: Option<u64>,
    /// Bytes before this were zero-filled ahead of the writes.
    zeroed_to: u64,
}

/// Pending bytes are written out once they reach this much, so a long
/// burst of appends between flushes does not hold unbounded memory.
const PENDING_BYTES_MAX: usize = 4 << 20;
/// After a flush, the next this-many bytes past the writes are kept
/// zero-filled (written, so their extents are no longer "unwritten"), in
/// steps of `ZERO_STEP_BYTES`.
const ZERO_AHEAD_BYTES: u64 = 2 << 20;
const ZERO_STEP_BYTES: u64 = 1 << 20;

fn map_read_only(path: &Path, file: &File, len: u64) -> Result<Mmap, StorageError> {
    let len = mapping_len(path, len)?;
    // SAFETY: as for `MmapSegment`: the file is owned by this process and is
    // never truncated below `len` while mapped.
    unsafe { MmapOptions::new().len(len).map(file) }
        .map_err(|e| StorageError::io("mmap segment", path, e))
}

impl FileSegment {
    fn new(path: &Path, file: File, map: Mmap, len: u64) -> FileSegment {
        FileSegment {
            path: path.to_path_buf(),
            file,
            map,
            len,
            pending_at: 0,
            pending: Vec::new(),
            written_to: None,
            zeroed_to: 0,
        }
    }

    fn write_pending(&mut self) -> Result<(), StorageError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.file
            .write_all_at(&self.pending, self.pending_at)
            .map_err(|e| StorageError::io("write segment", &self.path, e))?;
        self.pending_at += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// Writes zeros over the next stretch past the writes once the writes
    /// come within `ZERO_AHEAD_BYTES` of the zeroed part, and starts their
    /// writeback without waiting for it. A sync of a range over written
    /// extents is a data flush; over unwritten (fallocate'd) extents it also
    /// commits the journal that records their conversion, at every sync.
    /// Zeroing ahead moves that conversion off the flush path, to once per
    /// step.
    ///
    /// A failure here costs only speed (the extents stay unwritten), so it
    /// is logged, not returned: it must not poison the log.
    fn zero_ahead(&mut self) {
        let Some(written_to) = self.written_to else {
            return;
        };
        let from = self.zeroed_to.max(written_to);
        if from >= written_to + ZERO_AHEAD_BYTES / 2 || from >= self.len {
            return;
        }
        let to = (from + ZERO_STEP_BYTES).min(self.len);
        let mut at = from;
        while at < to {
            let n = (to - at).min(ZEROS.len() as u64) as usize;
            if let Err(e) = self.file.write_all_at(&ZEROS[..n], at) {
                log::warn!(
                    "{}: zero-filling ahead of the log: {e}",
                    self.path.display()
                );
                return;
            }
            at += n as u64;
        }
        // SAFETY: plain syscall on an open descriptor we own.
        unsafe {
            libc::sync_file_range(
                self.file.as_raw_fd(),
                from as libc::off64_t,
                (to - from) as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
        self.zeroed_to = to;
    }

    fn in_bounds(&self, offset: u64, count: usize) -> bool {
        offset
            .checked_add(count as u64)
            .is_some_and(|end| end <= self.len)
    }
}

impl Drop for FileSegment {
    fn drop(&mut self) {
        if let Err(e) = self.write_pending() {
            log::warn!(
                "{}: unflushed log bytes not written: {e}",
                self.path.display()
            );
        }
    }
}

/// `msync` syncs a mapping's pages; this backend writes through the file and
/// syncs it with `fdatasync` only. Asking it for `msync` is refused, not
/// quietly ignored.
fn fdatasync_only(path: &Path, sync: SyncMethod) -> Result<(), StorageError> {
    match sync {
        SyncMethod::Fdatasync => Ok(()),
        SyncMethod::Msync => Err(StorageError::io(
            "open segment",
            path,
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "msync needs the mmap backend (MmapSegment); the pwrite backend syncs with fdatasync",
            ),
        )),
    }
}

impl LogSegment for FileSegment {
    fn create(path: &Path, len: u64, sync: SyncMethod) -> Result<Self, StorageError> {
        fdatasync_only(path, sync)?;
        let (file, map) = create_preallocated(path, len, map_read_only)?;
        Ok(FileSegment::new(path, file, map, len))
    }

    fn open(path: &Path, sync: SyncMethod) -> Result<Self, StorageError> {
        fdatasync_only(path, sync)?;
        let (file, len) = open_existing(path)?;
        let map = map_read_only(path, &file, len)?;
        Ok(FileSegment::new(path, file, map, len))
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn allocated_bytes(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), StorageError> {
        if !self.in_bounds(offset, buf.len()) {
            return Err(StorageError::corrupt(
                "read segment",
                &self.path,
                format!("read of {} bytes at {offset} past the end", buf.len()),
            ));
        }
        let start = offset as usize;
        buf.copy_from_slice(&self.map[start..start + buf.len()]);
        // Lay the bytes not written yet over what the file shows.
        let end = offset + buf.len() as u64;
        let pending_end = self.pending_at + self.pending.len() as u64;
        let from = offset.max(self.pending_at);
        let to = end.min(pending_end);
        if from < to {
            let into = (from - offset) as usize..(to - offset) as usize;
            let out = (from - self.pending_at) as usize..(to - self.pending_at) as usize;
            buf[into].copy_from_slice(&self.pending[out]);
        }
        Ok(())
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), StorageError> {
        // The log never writes past the allocated length: that is its invariant.
        assert!(
            self.in_bounds(offset, data.len()),
            "write of {} bytes at {offset} past the segment end",
            data.len()
        );
        if offset != self.pending_at + self.pending.len() as u64 {
            self.write_pending()?;
            self.pending_at = offset;
        }
        self.pending.extend_from_slice(data);
        self.written_to = Some(offset + data.len() as u64);
        if self.pending.len() >= PENDING_BYTES_MAX {
            self.write_pending()?;
        }
        Ok(())
    }

    fn sync_range(&mut self, start: u64, end: u64) -> Result<(), StorageError> {
        assert!(
            start <= end && end <= self.allocated_bytes(),
            "sync range {start}..{end}"
        );
        self.write_pending()?;
        if start == end {
            return Ok(());
        }
        self.file
            .sync_data()
            .map_err(|e| StorageError::io("fdatasync", &self.path, e))?;
        self.zero_ahead();
        Ok(())
    }

    fn grow(&mut self, new_len: u64) -> Result<(), StorageError> {
        let old_len = self.allocated_bytes();
        assert!(new_len > old_len, "grow to {new_len} from {old_len}");
        fallocate(&self.file, old_len, new_len - old_len)
            .map_err(|e| StorageError::io("preallocate segment", &self.path, e))?;
        self.map = map_read_only(&self.path, &self.file, new_len)?;
        self.len = new_len;
        Ok(())
    }
}
