//! One log segment file, behind a small trait so that the log logic
//! (`log.rs`) does not know whether bytes reach the disk through a shared
//! memory mapping or through O_DIRECT writes. Only the mmap backend exists;
//! DESIGN.md asks for the seam so a `DmaFile`/O_DIRECT backend can be measured
//! against it later.
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

use memmap2::{MmapMut, MmapOptions};

use super::error::StorageError;

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

fn map(path: &Path, file: &File, len: u64) -> Result<MmapMut, StorageError> {
    let len_usize = usize::try_from(len).map_err(|_| {
        StorageError::io(
            "mmap segment",
            path,
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "segment larger than address space",
            ),
        )
    })?;
    // SAFETY: see the type's doc: the file is owned by this process and is
    // never truncated below `len` while mapped.
    unsafe { MmapOptions::new().len(len_usize).map_mut(file) }
        .map_err(|e| StorageError::io("mmap segment", path, e))
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
        assert!(len > 0, "a segment has at least a header");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| StorageError::io("create segment", path, e))?;
        if let Err(e) = fallocate(&file, 0, len) {
            // Leave nothing half-made behind: the log must stay as it was.
            drop(file);
            let _ = fs::remove_file(path);
            return Err(StorageError::io("preallocate segment", path, e));
        }
        let map = match map(path, &file, len) {
            Ok(map) => map,
            Err(e) => {
                drop(file);
                let _ = fs::remove_file(path);
                return Err(e);
            }
        };
        Ok(MmapSegment {
            path: path.to_path_buf(),
            file,
            map,
            sync,
        })
    }

    fn open(path: &Path, sync: SyncMethod) -> Result<Self, StorageError> {
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
