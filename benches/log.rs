//! Group commit of the txn log: append 1 KiB records in batches of 1, 10 and
//! 100, then one flush per batch, on a real file in a temp dir under /tmp.
//! Run with `cargo bench --bench log`.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use paddock::storage::{LogConfig, SyncMethod, TxnLog};

fn append_then_flush(c: &mut Criterion) {
    let mut group = c.benchmark_group("log_append_flush_1KiB");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(5));
    let body = vec![0x5au8; 1024];
    for method in [SyncMethod::Fdatasync, SyncMethod::Msync] {
        for batch in [1u64, 10, 100] {
            let dir = tempfile::tempdir_in("/tmp").expect("temp dir under /tmp");
            let (mut log, _) =
                TxnLog::open_with(LogConfig::new(dir.path().join("version-2")), method)
                    .expect("open log");
            let mut zxid = 0i64;
            group.throughput(Throughput::Elements(batch));
            group.bench_with_input(
                BenchmarkId::new(format!("{method:?}"), batch),
                &batch,
                |b, &batch| {
                    b.iter(|| {
                        for _ in 0..batch {
                            zxid += 1;
                            log.append(zxid, &body).expect("append");
                        }
                        log.flush().expect("flush")
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, append_then_flush);
criterion_main!(benches);
