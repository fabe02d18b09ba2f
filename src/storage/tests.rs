//! Tests of the log and snapshot files: round trips, rolls, torn tails,
//! corruption, truncation, purging, and a property test of crash recovery.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::*;

fn config(dir: &Path, preallocate_bytes: u64, segment_bytes_max: u64) -> LogConfig {
    LogConfig {
        dir: dir.join("version-2"),
        preallocate_bytes,
        segment_bytes_max,
    }
}

fn payload(zxid: i64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (zxid as usize * 31 + i) as u8 | 1)
        .collect()
}

fn read_all(log: &TxnLog, after: i64) -> Vec<(i64, Vec<u8>)> {
    log.read_after(after)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

fn expected(zxids: impl IntoIterator<Item = i64>, len: usize) -> Vec<(i64, Vec<u8>)> {
    zxids.into_iter().map(|z| (z, payload(z, len))).collect()
}

/// Offset of the record with `zxid` in a segment file, read by hand from the format.
fn record_offset(path: &Path, zxid: i64) -> u64 {
    let bytes = fs::read(path).unwrap();
    let mut offset = 16usize;
    loop {
        let len = u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap()) as usize;
        assert!(len != 0, "zxid {zxid} not found");
        let found = i64::from_le_bytes(bytes[offset + 8..offset + 16].try_into().unwrap());
        if found == zxid {
            return offset as u64;
        }
        offset = (offset + 8 + len).div_ceil(8) * 8;
    }
}

#[test]
fn append_flush_reopen_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 64 * 1024, 1 << 20);
    let (mut log, recovery) = TxnLog::open(config.clone()).unwrap();
    assert_eq!(
        recovery,
        Recovery {
            last_zxid: 0,
            records: 0,
            truncated: None
        }
    );
    assert_eq!(read_all(&log, 0), vec![]);
    for zxid in 1..=3 {
        log.append(zxid, &payload(zxid, 100)).unwrap();
    }
    assert_eq!(log.last_zxid(), 3);
    assert_eq!(log.durable_zxid(), 0);
    assert_eq!(log.flush().unwrap(), 3);
    assert_eq!(log.durable_zxid(), 3);
    log.append(7, b"").unwrap(); // an empty payload is a valid record
    log.flush().unwrap();
    let paths = log.segment_paths();
    assert_eq!(paths.len(), 1);
    assert_eq!(paths[0].file_name().unwrap(), "log.0000000000000001");
    // Preallocated: the file is the full size, all zeros after the records.
    assert_eq!(fs::metadata(&paths[0]).unwrap().len(), 64 * 1024);
    drop(log);

    let (log, recovery) = TxnLog::open(config).unwrap();
    assert_eq!(
        recovery,
        Recovery {
            last_zxid: 7,
            records: 4,
            truncated: None
        }
    );
    assert_eq!(log.durable_zxid(), 7);
    let mut all = expected(1..=3, 100);
    all.push((7, vec![]));
    assert_eq!(read_all(&log, 0), all);
    assert_eq!(read_all(&log, 2), all[2..].to_vec());
    assert_eq!(read_all(&log, 7), vec![]);
}

#[test]
#[should_panic(expected = "appended after")]
fn non_increasing_zxid_panics() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = TxnLog::open(config(dir.path(), 4096, 4096)).unwrap();
    log.append(5, b"a").unwrap();
    log.append(5, b"b").unwrap();
}

#[test]
fn many_records_roll_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 4096, 4096);
    let (mut log, _) = TxnLog::open(config.clone()).unwrap();
    for zxid in 1..=300 {
        log.append(zxid, &payload(zxid, 100)).unwrap();
        if zxid % 7 == 0 {
            log.flush().unwrap();
        }
    }
    log.flush().unwrap();
    let segments = log.segment_paths();
    assert!(segments.len() > 5, "{} segments", segments.len());
    assert_eq!(read_all(&log, 0), expected(1..=300, 100));
    assert_eq!(read_all(&log, 150), expected(151..=300, 100));
    drop(log);

    let (log, recovery) = TxnLog::open(config).unwrap();
    assert_eq!(
        recovery,
        Recovery {
            last_zxid: 300,
            records: 300,
            truncated: None
        }
    );
    assert_eq!(log.segment_paths(), segments);
    for after in [0, 1, 33, 34, 35, 299, 300] {
        assert_eq!(read_all(&log, after), expected(after + 1..=300, 100));
    }
}

#[test]
fn segment_grows_before_rolling_and_big_records_fit() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 4096, 64 * 1024);
    let (mut log, _) = TxnLog::open(config.clone()).unwrap();
    for zxid in 1..=100 {
        log.append(zxid, &payload(zxid, 200)).unwrap();
    }
    // 100 records of 216 bytes grow one segment in 4 KiB steps to ~24 KiB.
    assert_eq!(log.segment_paths().len(), 1);
    // A record larger than a whole segment still goes in (its own segment).
    log.append(101, &payload(101, 100_000)).unwrap();
    log.append(102, &payload(102, 10)).unwrap();
    log.flush().unwrap();
    drop(log);
    let (log, recovery) = TxnLog::open(config).unwrap();
    assert_eq!(recovery.records, 102);
    assert_eq!(recovery.truncated, None);
    let all = read_all(&log, 0);
    assert_eq!(all.len(), 102);
    assert_eq!(all[100], (101, payload(101, 100_000)));
    assert_eq!(all[101], (102, payload(102, 10)));
}

#[test]
fn torn_tail_from_a_short_file_is_cut_and_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 64 * 1024, 1 << 20);
    let (mut log, _) = TxnLog::open(config.clone()).unwrap();
    for zxid in 1..=5 {
        log.append(zxid, &payload(zxid, 300)).unwrap();
    }
    log.flush().unwrap();
    let path = log.segment_paths()[0].clone();
    drop(log);
    // The file ends in the middle of record 5.
    let offset = record_offset(&path, 5);
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(offset + 100)
        .unwrap();

    let (mut log, recovery) = TxnLog::open(config.clone()).unwrap();
    assert_eq!(recovery.last_zxid, 4);
    assert_eq!(recovery.records, 4);
    let cut = recovery.truncated.expect("reported");
    assert_eq!(
        (cut.segment.as_path(), cut.offset),
        (path.as_path(), offset)
    );
    assert!(cut.reason.contains("past the end"), "{}", cut.reason);
    // The short file still holds the next record (the segment grows).
    log.append(6, &payload(6, 300)).unwrap();
    log.append(7, &payload(7, 300)).unwrap();
    log.flush().unwrap();
    drop(log);

    let (log, recovery) = TxnLog::open(config).unwrap();
    assert_eq!(recovery.truncated, None);
    assert_eq!(read_all(&log, 0), expected([1, 2, 3, 4, 6, 7], 300));
}

#[test]
fn garbage_after_the_last_record_is_cut_and_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 64 * 1024, 1 << 20);
    let (mut log, _) = TxnLog::open(config.clone()).unwrap();
    for zxid in 1..=3 {
        log.append(zxid, &payload(zxid, 50)).unwrap();
    }
    log.flush().unwrap();
    let path = log.segment_paths()[0].clone();
    drop(log);
    let end = record_offset(&path, 3) + record_bytes(50);
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    // A plausible-looking but torn header, then a stray page further on.
    file.write_at(
        &[40, 0, 0, 0, 1, 2, 3, 4, 9, 0, 0, 0, 0, 0, 0, 0, 0xff],
        end,
    )
    .unwrap();
    file.write_at(&[0xab; 100], 20_000).unwrap();
    drop(file);

    let (mut log, recovery) = TxnLog::open(config.clone()).unwrap();
    assert_eq!(recovery.last_zxid, 3);
    let cut = recovery.truncated.expect("reported");
    assert_eq!(cut.offset, end);
    assert!(cut.reason.contains("CRC"), "{}", cut.reason);
    // The whole tail was zeroed, the stray page included.
    let bytes = fs::read(&path).unwrap();
    assert!(bytes[end as usize..].iter().all(|b| *b == 0));
    log.append(4, &payload(4, 50)).unwrap();
    log.flush().unwrap();
    drop(log);
    let (log, recovery) = TxnLog::open(config).unwrap();
    assert_eq!(recovery.truncated, None);
    assert_eq!(read_all(&log, 0), expected(1..=4, 50));
}

#[test]
fn stray_bytes_after_a_clean_end_are_cut() {
    // Pages of unflushed records written back out of order: a zero `len`
    // (the page of record 3 never reached the disk), then record 4's page.
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 64 * 1024, 1 << 20);
    let (mut log, _) = TxnLog::open(config.clone()).unwrap();
    for zxid in 1..=2 {
        log.append(zxid, &payload(zxid, 50)).unwrap();
    }
    log.flush().unwrap();
    let path = log.segment_paths()[0].clone();
    drop(log);
    let end = record_offset(&path, 2) + record_bytes(50);
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    file.write_at(&[1; 64], 8192).unwrap();
    drop(file);
    let (log, recovery) = TxnLog::open(config).unwrap();
    let cut = recovery.truncated.expect("reported");
    assert_eq!(cut.offset, end);
    assert!(cut.reason.contains("non-zero"), "{}", cut.reason);
    assert_eq!(read_all(&log, 0), expected(1..=2, 50));
}

#[test]
fn flipped_bit_in_a_middle_record_cuts_everything_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 64 * 1024, 1 << 20);
    let (mut log, _) = TxnLog::open(config.clone()).unwrap();
    for zxid in 1..=5 {
        log.append(zxid, &payload(zxid, 100)).unwrap();
    }
    log.flush().unwrap();
    let path = log.segment_paths()[0].clone();
    drop(log);
    let offset = record_offset(&path, 3);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let mut byte = [0u8];
    file.read_at(&mut byte, offset + 16 + 40).unwrap();
    file.write_at(&[byte[0] ^ 0x10], offset + 16 + 40).unwrap();
    drop(file);

    let (log, recovery) = TxnLog::open(config).unwrap();
    assert_eq!(recovery.last_zxid, 2);
    assert_eq!(recovery.records, 2);
    let cut = recovery.truncated.expect("reported");
    assert_eq!(cut.offset, offset);
    assert!(cut.reason.contains("CRC"), "{}", cut.reason);
    assert_eq!(read_all(&log, 0), expected(1..=2, 100));
}

#[test]
fn stray_records_after_the_end_of_an_older_segment_cut_the_log() {
    // Fuzz finding (txn_log_recovery, fuzz/seeds/txn_log_recovery/crash-*):
    // only the newest file was checked for non-zero bytes after its last
    // record. Here an older segment's record has a zeroed `len` (a lost
    // page), so it "ends" there with valid stale records behind it. Recovery
    // kept the later segments, and once they were cut away the next append
    // landed in front of the stale records, which came back as committed.
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 4096, 4096);
    let (mut log, _) = TxnLog::open(config.clone()).unwrap();
    for zxid in 1..=100 {
        log.append(zxid, &payload(zxid, 100)).unwrap();
    }
    log.flush().unwrap();
    let segments = log.segment_paths();
    assert!(segments.len() >= 3);
    drop(log);
    let first_of_second =
        i64::from_str_radix(&segments[1].file_name().unwrap().to_str().unwrap()[4..], 16).unwrap();
    let victim = first_of_second - 3;
    let offset = record_offset(&segments[0], victim);
    let file = OpenOptions::new().write(true).open(&segments[0]).unwrap();
    file.write_at(&[0, 0, 0, 0], offset).unwrap();
    drop(file);

    let (mut log, recovery) = TxnLog::open(config.clone()).unwrap();
    assert_eq!(recovery.last_zxid, victim - 1);
    let tail = recovery.truncated.expect("the stray bytes are reported");
    assert_eq!(tail.segment, segments[0]);
    assert_eq!(tail.offset, offset);
    assert_eq!(tail.reason, "non-zero bytes after the last record");
    assert_eq!(log.segment_paths(), segments[..1].to_vec());
    log.append(victim, &payload(victim, 100)).unwrap();
    log.flush().unwrap();
    drop(log);
    let (log, recovery) = TxnLog::open(config).unwrap();
    assert_eq!(recovery.truncated, None);
    assert_eq!(read_all(&log, 0), expected(1..=victim, 100));
}

#[test]
fn a_file_ending_inside_the_last_records_padding_recovers() {
    // Fuzz finding (txn_log_recovery, fuzz/seeds/txn_log_recovery/crash-850a*):
    // a segment cut right after a record, before its padding, made recovery
    // sync past the end of the file and panic.
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 4096, 4096);
    let (mut log, _) = TxnLog::open(config.clone()).unwrap();
    log.append(1, &payload(1, 5)).unwrap();
    log.flush().unwrap();
    let segments = log.segment_paths();
    drop(log);
    let file = OpenOptions::new().write(true).open(&segments[0]).unwrap();
    file.set_len(16 + 16 + 5).unwrap();
    drop(file);
    let (mut log, recovery) = TxnLog::open(config.clone()).unwrap();
    assert_eq!((recovery.records, recovery.truncated), (1, None));
    log.append(2, &payload(2, 5)).unwrap();
    log.flush().unwrap();
    drop(log);
    let (log, recovery) = TxnLog::open(config).unwrap();
    assert_eq!(recovery.truncated, None);
    assert_eq!(read_all(&log, 0), expected(1..=2, 5));
}

#[test]
fn corruption_in_an_older_segment_sets_later_segments_aside() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 4096, 4096);
    let (mut log, _) = TxnLog::open(config.clone()).unwrap();
    for zxid in 1..=100 {
        log.append(zxid, &payload(zxid, 100)).unwrap();
    }
    log.flush().unwrap();
    let segments = log.segment_paths();
    assert!(segments.len() >= 3);
    drop(log);
    let first_of_second =
        i64::from_str_radix(&segments[1].file_name().unwrap().to_str().unwrap()[4..], 16).unwrap();
    let victim = first_of_second - 2;
    let offset = record_offset(&segments[0], victim);
    let file = OpenOptions::new().write(true).open(&segments[0]).unwrap();
    file.write_at(&[0xee], offset + 20).unwrap();
    drop(file);

    let (mut log, recovery) = TxnLog::open(config.clone()).unwrap();
    assert_eq!(recovery.last_zxid, victim - 1);
    assert_eq!(log.segment_paths(), segments[..1].to_vec());
    for later in &segments[1..] {
        assert!(!later.exists());
        let mut aside = later.clone().into_os_string();
        aside.push(".truncated");
        assert!(PathBuf::from(aside).exists());
    }
    assert_eq!(read_all(&log, 0), expected(1..victim, 100));
    // The log continues from the cut.
    log.append(victim, &payload(victim, 100)).unwrap();
    log.flush().unwrap();
    drop(log);
    let (log, recovery) = TxnLog::open(config).unwrap();
    assert_eq!(recovery.truncated, None);
    assert_eq!(read_all(&log, 0), expected(1..=victim, 100));
}

#[test]
fn empty_segment_left_by_a_crash_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 4096, 1 << 20);
    let (mut log, _) = TxnLog::open(config.clone()).unwrap();
    log.append(1, b"one").unwrap();
    log.flush().unwrap();
    drop(log);
    // A segment created (header only) whose first record never made it,
    // and one whose creation did not even write the header.
    fs::write(
        config.dir.join("log.0000000000000002"),
        b"PDLG\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
    )
    .unwrap();
    fs::write(config.dir.join("log.0000000000000003"), b"PD").unwrap();
    let (log, recovery) = TxnLog::open(config.clone()).unwrap();
    assert_eq!(recovery.last_zxid, 1);
    assert!(recovery.truncated.is_some());
    assert_eq!(
        log.segment_paths(),
        vec![config.dir.join("log.0000000000000001")]
    );
    assert!(!config.dir.join("log.0000000000000002").exists());
}

#[test]
fn roll_starts_a_new_segment_at_the_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 64 * 1024, 1 << 20);
    let (mut log, _) = TxnLog::open(config.clone()).unwrap();
    log.append(1, b"a").unwrap();
    log.roll().unwrap();
    assert_eq!(log.segment_paths().len(), 1);
    log.append(2, b"b").unwrap();
    log.append(3, b"c").unwrap();
    log.roll().unwrap();
    log.append(0x1_0000_0001, b"d").unwrap();
    log.flush().unwrap();
    let names: Vec<_> = log
        .segment_paths()
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "log.0000000000000001",
            "log.0000000000000002",
            "log.0000000100000001"
        ]
    );
    drop(log);
    let (log, recovery) = TxnLog::open(config).unwrap();
    assert_eq!(recovery.records, 4);
    assert_eq!(read_all(&log, 1).len(), 3);
}

#[test]
fn truncate_after_removes_later_records_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 4096, 4096);
    let (mut log, _) = TxnLog::open(config.clone()).unwrap();
    for zxid in 1..=100 {
        log.append(zxid, &payload(zxid, 100)).unwrap();
    }
    log.flush().unwrap();
    let before = log.segment_paths().len();
    // Unflushed records are truncated too.
    log.append(101, &payload(101, 100)).unwrap();
    log.truncate_after(40).unwrap();
    assert_eq!(log.last_zxid(), 40);
    assert_eq!(log.durable_zxid(), 40);
    assert!(log.segment_paths().len() < before);
    assert_eq!(read_all(&log, 0), expected(1..=40, 100));
    log.truncate_after(40).unwrap(); // no-op
    log.append(41, &payload(41, 7)).unwrap();
    log.flush().unwrap();
    drop(log);
    let (mut log, recovery) = TxnLog::open(config.clone()).unwrap();
    assert_eq!(recovery.truncated, None);
    assert_eq!(recovery.last_zxid, 41);
    let mut all = expected(1..=40, 100);
    all.push((41, payload(41, 7)));
    assert_eq!(read_all(&log, 0), all);
    // Truncating below the first record empties the log.
    log.truncate_after(0).unwrap();
    assert_eq!(log.last_zxid(), 0);
    assert!(log.segment_paths().is_empty());
    log.append(5, b"again").unwrap();
    log.flush().unwrap();
    drop(log);
    let (log, recovery) = TxnLog::open(config).unwrap();
    assert_eq!(recovery.records, 1);
    assert_eq!(read_all(&log, 0), vec![(5, b"again".to_vec())]);
}

#[test]
fn purge_before_keeps_the_segment_holding_the_next_zxid() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 64 * 1024, 1 << 20);
    let (mut log, _) = TxnLog::open(config.clone()).unwrap();
    for (first, last) in [(1, 10), (11, 20), (21, 30), (31, 40)] {
        for zxid in first..=last {
            log.append(zxid, &payload(zxid, 10)).unwrap();
        }
        log.roll().unwrap();
    }
    log.flush().unwrap();
    assert_eq!(log.segment_paths().len(), 4);
    assert_eq!(log.purge_before(9).unwrap(), 0); // 10 is in the first segment
    assert_eq!(log.purge_before(10).unwrap(), 1); // replay from 11: first segment goes
    assert_eq!(log.purge_before(25).unwrap(), 1);
    assert_eq!(read_all(&log, 25), expected(26..=40, 10));
    assert_eq!(log.purge_before(1000).unwrap(), 1); // the newest segment stays
    assert_eq!(log.segment_paths().len(), 1);
    drop(log);
    let (log, recovery) = TxnLog::open(config).unwrap();
    assert_eq!(
        recovery,
        Recovery {
            last_zxid: 40,
            records: 10,
            truncated: None
        }
    );
    assert_eq!(read_all(&log, 0), expected(31..=40, 10));
}

#[test]
fn snapshots_round_trip_skip_corrupt_and_purge() {
    let dir = tempfile::tempdir().unwrap();
    let snap_dir = dir.path().join("version-2");
    assert_eq!(latest_snapshot(&snap_dir).unwrap(), None);
    assert_eq!(oldest_retained_snapshot_zxid(&snap_dir).unwrap(), None);
    for zxid in [0x10, 0x20, 0x30, 0x40, 0x50] {
        let path = write_snapshot(&snap_dir, zxid, &payload(zxid, 1000)).unwrap();
        assert_eq!(path, snap_dir.join(snapshot_name(zxid)));
    }
    // Log segments in the same directory are not snapshots.
    let (mut log, _) = TxnLog::open(LogConfig {
        dir: snap_dir.clone(),
        preallocate_bytes: 4096,
        segment_bytes_max: 4096,
    })
    .unwrap();
    log.append(0x51, b"x").unwrap();
    log.flush().unwrap();
    assert_eq!(
        latest_snapshot(&snap_dir).unwrap(),
        Some((0x50, payload(0x50, 1000)))
    );

    // Corrupt the newest: the one before it is returned.
    let newest = snap_dir.join(snapshot_name(0x50));
    let file = OpenOptions::new().write(true).open(&newest).unwrap();
    file.write_at(&[0xff, 0xfe], 500).unwrap();
    drop(file);
    assert!(read_snapshot(&newest, 0x50).unwrap_err().is_corruption());
    assert_eq!(
        latest_snapshot(&snap_dir).unwrap(),
        Some((0x40, payload(0x40, 1000)))
    );
    // A truncated one and a leftover temp file are ignored too.
    let file = OpenOptions::new()
        .write(true)
        .open(snap_dir.join(snapshot_name(0x40)))
        .unwrap();
    file.set_len(100).unwrap();
    drop(file);
    fs::write(snap_dir.join("snapshot.0000000000000060.tmp"), b"half").unwrap();
    assert_eq!(
        latest_snapshot(&snap_dir).unwrap(),
        Some((0x30, payload(0x30, 1000)))
    );

    // Retain below the minimum is raised to 3.
    assert_eq!(purge_snapshots(&snap_dir, 1).unwrap(), vec![0x10, 0x20]);
    assert_eq!(
        oldest_retained_snapshot_zxid(&snap_dir).unwrap(),
        Some(0x30)
    );
    assert!(!snap_dir.join("snapshot.0000000000000060.tmp").exists());
    assert_eq!(purge_snapshots(&snap_dir, 3).unwrap(), Vec::<i64>::new());
    write_snapshot(&snap_dir, 0x70, b"").unwrap();
    assert_eq!(purge_snapshots(&snap_dir, 3).unwrap(), vec![0x30]);
    assert_eq!(latest_snapshot(&snap_dir).unwrap(), Some((0x70, vec![])));
    assert_eq!(log.segment_paths().len(), 1);
}

#[derive(Clone, Debug)]
enum Op {
    Append {
        gap: i64,
        len: usize,
    },
    Flush,
    Roll,
    /// Close and reopen cleanly (the page cache keeps unflushed records).
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1i64..3, prop_oneof![0usize..64, 64usize..3000]).prop_map(|(gap, len)| Op::Append { gap, len }),
        2 => Just(Op::Flush),
        1 => Just(Op::Roll),
        1 => Just(Op::Reopen),
    ]
}

/// Offset just past the last record with zxid <= `durable` in a segment, or the header end.
fn durable_end(path: &Path, durable: i64) -> u64 {
    let bytes = fs::read(path).unwrap();
    let mut offset = 16usize;
    while offset + 16 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap()) as usize;
        let zxid = i64::from_le_bytes(bytes[offset + 8..offset + 16].try_into().unwrap());
        if len == 0 || zxid > durable {
            break;
        }
        offset = (offset + 8 + len).div_ceil(8) * 8;
    }
    offset as u64
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random appends, flushes, rolls and clean reopens, then a crash that
    /// scribbles over the unflushed part of the newest segment: recovery
    /// yields every flushed record, and only a prefix of what was appended.
    #[test]
    fn recovery_keeps_flushed_records(
        ops in prop::collection::vec(op(), 1..80),
        scribble_at in 0u64..6000,
        scribble in prop::collection::vec(any::<u8>(), 1..200),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), 4096, 8192);
        let (mut log, _) = TxnLog::open(config.clone()).unwrap();
        let mut appended: Vec<(i64, Vec<u8>)> = Vec::new();
        let mut flushed = 0usize;
        for op in ops {
            match op {
                Op::Append { gap, len } => {
                    let zxid = log.last_zxid() + gap;
                    log.append(zxid, &payload(zxid, len)).unwrap();
                    appended.push((zxid, payload(zxid, len)));
                }
                Op::Flush => {
                    prop_assert_eq!(log.flush().unwrap(), log.last_zxid());
                    flushed = appended.len();
                }
                Op::Roll => log.roll().unwrap(),
                Op::Reopen => {
                    drop(log);
                    let (reopened, recovery) = TxnLog::open(config.clone()).unwrap();
                    log = reopened;
                    prop_assert_eq!(recovery.truncated, None);
                    prop_assert_eq!(recovery.records as usize, appended.len());
                    prop_assert_eq!(read_all(&log, 0), appended.clone());
                    flushed = appended.len();
                }
            }
        }
        let durable = log.durable_zxid();
        // Moving to a new segment syncs the old one, so more may be durable.
        let flushed_zxid = if flushed == 0 { 0 } else { appended[flushed - 1].0 };
        prop_assert!(durable >= flushed_zxid, "durable {} < flushed {}", durable, flushed_zxid);
        let flushed = appended.iter().filter(|(zxid, _)| *zxid <= durable).count();
        let segments = log.segment_paths();
        drop(log);

        // Crash: bytes past the durable point of the newest segment are garbage.
        if let Some(last) = segments.last() {
            let from = durable_end(last, durable);
            let size = fs::metadata(last).unwrap().len();
            let at = from + scribble_at % (size - from).max(1);
            let count = scribble.len().min((size - at) as usize);
            let file = OpenOptions::new().write(true).open(last).unwrap();
            file.write_at(&scribble[..count], at).unwrap();
        }
        let (mut log, recovery) = TxnLog::open(config.clone()).unwrap();
        let recovered = read_all(&log, 0);
        prop_assert!(recovered.len() >= flushed, "lost flushed records");
        prop_assert_eq!(&recovered[..], &appended[..recovered.len()]);
        prop_assert_eq!(recovery.records as usize, recovered.len());
        prop_assert_eq!(recovery.last_zxid, recovered.last().map_or(0, |r| r.0));

        // The log is usable after the cut and the next reopen is clean.
        let next = log.last_zxid() + 1;
        log.append(next, b"after").unwrap();
        log.flush().unwrap();
        drop(log);
        let (log, recovery) = TxnLog::open(config).unwrap();
        prop_assert_eq!(recovery.truncated, None);
        let mut expect = recovered;
        expect.push((next, b"after".to_vec()));
        prop_assert_eq!(read_all(&log, 0), expect);
    }
}

/// A full disk fails the append that needs a new segment, cleanly. Needs a
/// small filesystem, e.g. as root:
/// `mount -t tmpfs -o size=1m tmpfs /tmp/paddock-enospc` then
/// `PADDOCK_ENOSPC_DIR=/tmp/paddock-enospc cargo test --lib storage::tests::full_disk -- --ignored`.
#[test]
#[ignore = "needs a small filesystem in PADDOCK_ENOSPC_DIR"]
fn full_disk_fails_the_append_and_keeps_the_log_valid() {
    let base = std::env::var("PADDOCK_ENOSPC_DIR").expect("PADDOCK_ENOSPC_DIR");
    let dir = tempfile::tempdir_in(base).unwrap();
    let config = config(dir.path(), 256 * 1024, 256 * 1024);
    let (mut log, _) = TxnLog::open(config.clone()).unwrap();
    let mut zxid = 0;
    let error = loop {
        zxid += 1;
        match log.append(zxid, &payload(zxid, 4000)) {
            Ok(()) => {}
            Err(error) => break error,
        }
        assert!(zxid < 100_000, "the filesystem never filled up");
    };
    assert!(error.is_no_space(), "{error}");
    let last = zxid - 1;
    assert_eq!(log.last_zxid(), last);
    assert_eq!(log.flush().unwrap(), last);
    // A retry fails the same way, and nothing is half-made.
    assert!(log.append(zxid, b"again").unwrap_err().is_no_space());
    drop(log);
    let (log, recovery) = TxnLog::open(config).unwrap();
    assert_eq!(recovery.truncated, None);
    assert_eq!(recovery.last_zxid, last);
    assert_eq!(read_all(&log, 0), expected(1..=last, 4000));
}

/// The pwrite log syncs with fdatasync only: asking it for msync is an
/// error naming the backend that has it, not a setting quietly ignored.
#[test]
fn the_pwrite_log_refuses_msync() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = LogConfig::new(dir.path().join("version-2"));
    config.preallocate_bytes = 4096;
    let (mut log, _) = TxnLog::open_with(config, SyncMethod::Msync).unwrap();
    let err = log.append(1, b"x").unwrap_err().to_string();
    assert!(err.contains("msync needs the mmap backend"), "{err}");
}
