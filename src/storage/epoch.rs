//! ZooKeeper's epoch files: `acceptedEpoch` and `currentEpoch` in the
//! snapshot directory (`dataDir/version-2`), exactly as ZooKeeper 3.8 keeps
//! them (`QuorumPeer.writeLongToFile` / `readLongFromFile` / `loadDataBase`),
//! so a paddock data directory and a ZooKeeper one hold the same files.
//!
//! * Contents: the epoch in ASCII decimal (`Long.toString`), no newline.
//!   Reading takes the first line and parses it as `Long.parseLong` does.
//! * Writes are atomic (`AtomicFileWritingIdiom`): the value goes to
//!   `<name>.tmp`, which is fsynced and renamed over `<name>`; paddock also
//!   fsyncs the directory so the rename itself survives a power loss
//!   (ZooKeeper does not).
//! * [`load`] at start, as `QuorumPeer.loadDataBase` after the database is
//!   loaded:
//!   1. `currentEpoch` missing → written as the epoch of the last zxid;
//!   2. if the epoch of the last zxid is newer than `currentEpoch`:
//!      `currentEpoch.tmp` present → its value becomes `currentEpoch` (a
//!      crash between writing the tmp file and the rename); absent → error;
//!   3. `acceptedEpoch` missing → written as the epoch of the last zxid;
//!   4. `acceptedEpoch < currentEpoch` → error.
//!
//! Blocking file I/O: call from the log core or a blocking thread.
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// `QuorumPeer.ACCEPTED_EPOCH_FILENAME`.
pub const ACCEPTED_EPOCH_FILE: &str = "acceptedEpoch";
/// `QuorumPeer.CURRENT_EPOCH_FILENAME`.
pub const CURRENT_EPOCH_FILE: &str = "currentEpoch";
/// `AtomicFileOutputStream.TMP_EXTENSION`.
pub const TMP_EXTENSION: &str = ".tmp";

/// What goes wrong with the epoch files; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum EpochError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// ZooKeeper: "Found <line> in <file>".
    #[error("{}: expected an epoch (a decimal number), found '{found}'", path.display())]
    Malformed { path: PathBuf, found: String },
    /// ZooKeeper: "The current epoch, X, is older than the last zxid, Y".
    #[error(
        "{}: the current epoch, {current}, is older than the epoch of the last zxid, \
         0x{last_zxid:x} (epoch {}); no {CURRENT_EPOCH_FILE}{TMP_EXTENSION} to recover from",
        path.display(),
        last_zxid >> 32
    )]
    CurrentBehindLog {
        path: PathBuf,
        current: i64,
        last_zxid: i64,
    },
    /// ZooKeeper: "The accepted epoch, X is less than the current epoch, Y".
    #[error(
        "{}: the accepted epoch, {accepted}, is less than the current epoch, {current}",
        path.display()
    )]
    AcceptedBehindCurrent {
        path: PathBuf,
        accepted: i64,
        current: i64,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> EpochError + '_ {
    move |source| EpochError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The two epochs as found (or created) at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Epochs {
    pub accepted: i64,
    pub current: i64,
}

/// How [`load`] got each value, for the start-up log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Read from its file.
    Read,
    /// The file was missing: created from the epoch of the last zxid.
    Created,
    /// `currentEpoch` only: taken from `currentEpoch.tmp`.
    FromTmp,
}

/// What [`load`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loaded {
    pub epochs: Epochs,
    pub accepted_origin: Origin,
    pub current_origin: Origin,
}

/// Parses a file's text as ZooKeeper does: the first line, `Long.parseLong`
/// (an optional sign, decimal digits, nothing else).
pub fn parse(text: &str) -> Option<i64> {
    let line = text.split(['\n', '\r']).next().unwrap_or("");
    let digits = line.strip_prefix(['-', '+']).unwrap_or(line);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    line.parse().ok()
}

/// Reads `dir/name`; `Ok(None)` when the file does not exist.
pub fn read(dir: &Path, name: &str) -> Result<Option<i64>, EpochError> {
    let path = dir.join(name);
    let text = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(&path)(e)),
    };
    let text = String::from_utf8_lossy(&text);
    match parse(&text) {
        Some(value) => Ok(Some(value)),
        None => Err(EpochError::Malformed {
            found: text.split(['\n', '\r']).next().unwrap_or("").to_string(),
            path,
        }),
    }
}

/// Writes `value` to `dir/name` atomically and durably: `name.tmp`, fsync,
/// rename, fsync of `dir`. On failure the tmp file is removed (as
/// `AtomicFileOutputStream.abort`) and the old file is untouched.
pub fn write(dir: &Path, name: &str, value: i64) -> Result<(), EpochError> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}{TMP_EXTENSION}"));
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(value.to_string().as_bytes())?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error(&tmp)(e));
    }
    std::fs::rename(&tmp, &path).map_err(io_error(&path))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

/// `QuorumPeer.setAcceptedEpoch`: durable before it returns.
pub fn persist_accepted(dir: &Path, epoch: i64) -> Result<(), EpochError> {
    write(dir, ACCEPTED_EPOCH_FILE, epoch)
}

/// `QuorumPeer.setCurrentEpoch`: durable before it returns.
pub fn persist_current(dir: &Path, epoch: i64) -> Result<(), EpochError> {
    write(dir, CURRENT_EPOCH_FILE, epoch)
}

/// The start-up check of `QuorumPeer.loadDataBase` (see the module docs):
/// `dir` is the snapshot directory, `last_zxid` the last zxid of the
/// recovered state (snapshot + log). Missing files are created.
pub fn load(dir: &Path, last_zxid: i64) -> Result<Loaded, EpochError> {
    let epoch_of_zxid = last_zxid >> 32;
    let (mut current, mut current_origin) = match read(dir, CURRENT_EPOCH_FILE)? {
        Some(value) => (value, Origin::Read),
        None => {
            persist_current(dir, epoch_of_zxid)?;
            (epoch_of_zxid, Origin::Created)
        }
    };
    if epoch_of_zxid > current {
        let tmp_name = format!("{CURRENT_EPOCH_FILE}{TMP_EXTENSION}");
        if dir.join(&tmp_name).exists() {
            let from_tmp = match read(dir, &tmp_name)? {
                Some(value) => value,
                None => {
                    return Err(EpochError::Io {
                        path: dir.join(&tmp_name),
                        source: io::Error::from(io::ErrorKind::NotFound),
                    })
                }
            };
            persist_current(dir, from_tmp)?;
            current = from_tmp;
            current_origin = Origin::FromTmp;
        } else {
            return Err(EpochError::CurrentBehindLog {
                path: dir.join(CURRENT_EPOCH_FILE),
                current,
                last_zxid,
            });
        }
    }
    let (accepted, accepted_origin) = match read(dir, ACCEPTED_EPOCH_FILE)? {
        Some(value) => (value, Origin::Read),
        None => {
            persist_accepted(dir, epoch_of_zxid)?;
            (epoch_of_zxid, Origin::Created)
        }
    };
    if accepted < current {
        return Err(EpochError::AcceptedBehindCurrent {
            path: dir.join(ACCEPTED_EPOCH_FILE),
            accepted,
            current,
        });
    }
    Ok(Loaded {
        epochs: Epochs { accepted, current },
        accepted_origin,
        current_origin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(dir: &Path, name: &str) -> String {
        std::fs::read_to_string(dir.join(name)).unwrap()
    }

    #[test]
    fn parse_is_long_parse_long_of_the_first_line() {
        assert_eq!(parse("5"), Some(5));
        assert_eq!(parse("5\n"), Some(5));
        assert_eq!(parse("12\r\nrest"), Some(12));
        assert_eq!(parse("-1"), Some(-1));
        assert_eq!(parse("+3"), Some(3));
        for bad in [
            "",
            "\n5",
            " 5",
            "5 ",
            "0x5",
            "five",
            "9223372036854775808",
            "-",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn write_is_decimal_without_newline_and_leaves_no_tmp() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), CURRENT_EPOCH_FILE, 7).unwrap();
        assert_eq!(contents(dir.path(), CURRENT_EPOCH_FILE), "7");
        write(dir.path(), CURRENT_EPOCH_FILE, 4294967296).unwrap();
        assert_eq!(contents(dir.path(), CURRENT_EPOCH_FILE), "4294967296");
        assert!(!dir.path().join("currentEpoch.tmp").exists());
        assert_eq!(
            read(dir.path(), CURRENT_EPOCH_FILE).unwrap(),
            Some(4294967296)
        );
        assert_eq!(read(dir.path(), ACCEPTED_EPOCH_FILE).unwrap(), None);
        // A directory that does not exist: an error naming the tmp file.
        let err = write(&dir.path().join("nope"), ACCEPTED_EPOCH_FILE, 1).unwrap_err();
        assert!(err.to_string().contains("acceptedEpoch.tmp"), "{err}");
    }

    #[test]
    fn missing_files_are_created_from_the_last_zxid() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = load(dir.path(), (3 << 32) | 17).unwrap();
        assert_eq!(
            loaded,
            Loaded {
                epochs: Epochs {
                    accepted: 3,
                    current: 3
                },
                accepted_origin: Origin::Created,
                current_origin: Origin::Created,
            }
        );
        assert_eq!(contents(dir.path(), ACCEPTED_EPOCH_FILE), "3");
        assert_eq!(contents(dir.path(), CURRENT_EPOCH_FILE), "3");
        // An empty data directory: epoch 0.
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(
            load(empty.path(), 0).unwrap().epochs,
            Epochs {
                accepted: 0,
                current: 0
            }
        );
        // Read back on the next start.
        let again = load(dir.path(), (3 << 32) | 20).unwrap();
        assert_eq!(again.current_origin, Origin::Read);
        assert_eq!(again.accepted_origin, Origin::Read);
    }

    #[test]
    fn accepted_behind_current_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        persist_current(dir.path(), 5).unwrap();
        persist_accepted(dir.path(), 4).unwrap();
        let err = load(dir.path(), 5 << 32).unwrap_err();
        assert!(matches!(
            err,
            EpochError::AcceptedBehindCurrent {
                accepted: 4,
                current: 5,
                ..
            }
        ));
        assert!(err.to_string().contains("acceptedEpoch"), "{err}");
        // Accepted ahead of current is the normal state after ACKEPOCH.
        persist_accepted(dir.path(), 6).unwrap();
        assert_eq!(
            load(dir.path(), 5 << 32).unwrap().epochs,
            Epochs {
                accepted: 6,
                current: 5
            }
        );
        // A missing acceptedEpoch is created from the last zxid, which can
        // be behind currentEpoch: ZooKeeper refuses that too.
        std::fs::remove_file(dir.path().join(ACCEPTED_EPOCH_FILE)).unwrap();
        assert!(matches!(
            load(dir.path(), 4 << 32).unwrap_err(),
            EpochError::AcceptedBehindCurrent { .. }
        ));
    }

    #[test]
    fn current_behind_the_log_needs_the_tmp_file() {
        let dir = tempfile::tempdir().unwrap();
        persist_current(dir.path(), 1).unwrap();
        persist_accepted(dir.path(), 2).unwrap();
        let last = (2 << 32) | 1;
        let err = load(dir.path(), last).unwrap_err();
        assert!(
            matches!(err, EpochError::CurrentBehindLog { current: 1, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("older than"), "{err}");
        // A crash after writing currentEpoch.tmp, before the rename.
        std::fs::write(dir.path().join("currentEpoch.tmp"), "2").unwrap();
        let loaded = load(dir.path(), last).unwrap();
        assert_eq!(loaded.current_origin, Origin::FromTmp);
        assert_eq!(
            loaded.epochs,
            Epochs {
                accepted: 2,
                current: 2
            }
        );
        assert_eq!(contents(dir.path(), CURRENT_EPOCH_FILE), "2");
        assert!(!dir.path().join("currentEpoch.tmp").exists());
        // A malformed tmp file is an error naming it.
        persist_current(dir.path(), 1).unwrap();
        std::fs::write(dir.path().join("currentEpoch.tmp"), "x").unwrap();
        let err = load(dir.path(), last).unwrap_err();
        assert!(err.to_string().contains("currentEpoch.tmp"), "{err}");
    }

    #[test]
    fn malformed_files_name_themselves() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CURRENT_EPOCH_FILE), "").unwrap();
        let err = load(dir.path(), 0).unwrap_err();
        assert!(matches!(err, EpochError::Malformed { .. }));
        assert!(err.to_string().contains("currentEpoch"), "{err}");
        std::fs::write(dir.path().join(CURRENT_EPOCH_FILE), "1").unwrap();
        std::fs::write(dir.path().join(ACCEPTED_EPOCH_FILE), "1\n2").unwrap();
        assert_eq!(load(dir.path(), 0).unwrap().epochs.accepted, 1);
        std::fs::write(dir.path().join(ACCEPTED_EPOCH_FILE), "one").unwrap();
        let err = load(dir.path(), 0).unwrap_err();
        assert!(
            err.to_string().contains("acceptedEpoch: expected an epoch"),
            "{err}"
        );
    }
}
