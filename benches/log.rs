//! Group commit of the txn log: append 1 KiB records in batches of 1, 10 and
//! 100, then one flush per batch, on a real file in a temp dir under /tmp,
//! for each way of writing the log: the pwrite backend the server uses
//! (`pwrite`, zero-filling ahead) and the mmap backend with either sync
//! (`mmap+Fdatasync`, `mmap+Msync`); and single append+flush through the
//! mmap backend on a preallocated extent that was zero-filled first instead
//! of left as fallocate's unwritten extents.
//! Run with `cargo bench --bench log`.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use paddock::storage::{
    FileSegment, LogConfig, LogSegment, MmapSegment, SyncMethod, TxnLogOn,
    PREALLOCATE_BYTES_DEFAULT,
};

/// Appends `batch` records of `body`, then one flush, per iteration.
fn bench_batches<S: LogSegment>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    method: SyncMethod,
    body: &[u8],
) {
    for batch in [1u64, 10, 100] {
        let dir = tempfile::tempdir_in("/tmp").expect("temp dir under /tmp");
        let (mut log, _) =
            TxnLogOn::<S>::open_with(LogConfig::new(dir.path().join("version-2")), method)
                .expect("open log");
        let mut zxid = 0i64;
        group.throughput(Throughput::Elements(batch));
        group.bench_with_input(BenchmarkId::new(name, batch), &batch, |b, &batch| {
            b.iter(|| {
                for _ in 0..batch {
                    zxid += 1;
                    log.append(zxid, body).expect("append");
                }
                log.flush().expect("flush")
            })
        });
    }
}

fn append_then_flush(c: &mut Criterion) {
    let mut group = c.benchmark_group("log_append_flush_1KiB");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(5));
    let body = vec![0x5au8; 1024];
    bench_batches::<FileSegment>(&mut group, "pwrite", SyncMethod::Fdatasync, &body);
    bench_batches::<MmapSegment>(&mut group, "mmap+Fdatasync", SyncMethod::Fdatasync, &body);
    bench_batches::<MmapSegment>(&mut group, "mmap+Msync", SyncMethod::Msync, &body);
    group.finish();
}

fn append_then_flush_zero_filled(c: &mut Criterion) {
    let mut group = c.benchmark_group("log_append_flush_1KiB_zero_filled");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(5));
    let body = vec![0x5au8; 1024];
    for method in [SyncMethod::Fdatasync, SyncMethod::Msync] {
        let dir = tempfile::tempdir_in("/tmp").expect("temp dir under /tmp");
        let (mut log, _) = TxnLogOn::<MmapSegment>::open_with(
            LogConfig::new(dir.path().join("version-2")),
            method,
        )
        .expect("open log");
        log.append(1, &body).expect("append");
        log.flush().expect("flush");
        let path = log.segment_paths()[0].clone();
        let file = OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open segment");
        let zeros = vec![0u8; 1 << 20];
        // Past the first record's page: zero the rest of the preallocation.
        let mut offset = 4096u64;
        while offset < PREALLOCATE_BYTES_DEFAULT {
            file.write_at(&zeros, offset).expect("zero fill");
            offset += zeros.len() as u64;
        }
        file.sync_all().expect("sync zero fill");
        let mut zxid = 1i64;
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("{method:?}"), |b| {
            b.iter(|| {
                zxid += 1;
                log.append(zxid, &body).expect("append");
                log.flush().expect("flush")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, append_then_flush, append_then_flush_zero_filled);
criterion_main!(benches);
