//! The one error type of `storage/`: which operation failed, on which file, and why.
//!
//! Corruption found where it cannot be repaired by cutting a tail (a bad
//! snapshot header, a record that fails its CRC when read back after recovery)
//! is reported as an [`std::io::ErrorKind::InvalidData`] source; a full disk
//! keeps the OS error (`ENOSPC`) so callers can tell it apart with
//! [`StorageError::is_no_space`].
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// An I/O or format error with the operation and the path it concerns.
#[derive(Debug)]
pub struct StorageError {
    /// What was being done: `"open segment"`, `"msync"`, `"write snapshot"`, …
    pub op: &'static str,
    /// The file or directory concerned.
    pub path: PathBuf,
    /// The underlying error; `InvalidData` for corruption.
    pub source: io::Error,
}

impl StorageError {
    pub(crate) fn io(op: &'static str, path: &Path, source: io::Error) -> StorageError {
        StorageError {
            op,
            path: path.to_path_buf(),
            source,
        }
    }

    /// A format or checksum error (the bytes on disk are not what we wrote).
    pub(crate) fn corrupt(op: &'static str, path: &Path, reason: String) -> StorageError {
        StorageError::io(op, path, io::Error::new(io::ErrorKind::InvalidData, reason))
    }

    /// True when the bytes on disk failed a format or checksum check.
    pub fn is_corruption(&self) -> bool {
        self.source.kind() == io::ErrorKind::InvalidData
    }

    /// True when the disk (or quota) is full: `ENOSPC` or `EDQUOT`.
    pub fn is_no_space(&self) -> bool {
        matches!(
            self.source.raw_os_error(),
            Some(libc::ENOSPC) | Some(libc::EDQUOT)
        )
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.op, self.path.display(), self.source)
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}
