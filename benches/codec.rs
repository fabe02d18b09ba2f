//! Jute codec hot paths, without a network: what a client shard does per
//! packet. Decoding the request frames that dominate real workloads (getData,
//! setData, create, exists), encoding the replies it sends back (GetData,
//! Stat, Create, a watch notification, a multi), and finding frame boundaries
//! in a read buffer.
//!
//! Replies are encoded into one reused buffer (`clear` then `write_*`), as a
//! shard batching many replies into one `write` would; the numbers therefore
//! exclude the buffer's allocation.
//!
//! Run: `cargo bench --bench codec` (add `-- --quick` for a smoke run).

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};

use paddock::protocol::frame::{
    decode_request, frame_length, write_notification, write_reply, write_request,
    LENGTH_PREFIX_BYTES,
};
use paddock::protocol::{
    op, Acl, CheckVersionRequest, CreateRequest, DeleteRequest, EventType, KeeperState, MultiOp,
    OpResult, PathWatch, ReplyHeader, Request, Response, SetDataRequest, Stat, WatcherEvent,
    JUTE_MAXBUFFER_DEFAULT_BYTES,
};

/// A path of typical depth and length (a Curator/Kafka-style layout).
const PATH: &str = "/app/service/config/node-0000012345";

/// Short runs so that the whole suite finishes in a few minutes; the codec
/// paths are sub-microsecond, so 2 s gives millions of samples.
fn short<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    group
}

/// A Stat with realistic, multi-byte values in every field.
fn sample_stat(data_length: i32) -> Stat {
    Stat {
        czxid: 0x1_0000_0042,
        mzxid: 0x1_0000_1234,
        ctime: 1_700_000_000_000,
        mtime: 1_700_000_123_456,
        version: 17,
        cversion: 3,
        aversion: 0,
        ephemeral_owner: 0,
        data_length,
        num_children: 0,
        pzxid: 0x1_0000_0042,
    }
}

/// One whole request frame (length prefix included).
fn request_frame(xid: i32, request: &Request) -> Vec<u8> {
    let mut frame = Vec::new();
    write_request(&mut frame, xid, request);
    frame
}

fn multi_request_10_ops() -> Request {
    let mut ops = Vec::with_capacity(10);
    for i in 0..10 {
        let path = format!("{PATH}/child-{i}");
        ops.push(match i % 4 {
            0 => MultiOp::Create {
                op: op::CREATE,
                request: CreateRequest {
                    path,
                    data: Bytes::from(vec![b'c'; 100]),
                    acl: Acl::open_unsafe(),
                    flags: 0,
                    ttl_ms: 0,
                },
            },
            1 => MultiOp::SetData(SetDataRequest {
                path,
                data: Bytes::from(vec![b's'; 100]),
                version: -1,
            }),
            2 => MultiOp::Check(CheckVersionRequest { path, version: 3 }),
            _ => MultiOp::Delete(DeleteRequest { path, version: -1 }),
        });
    }
    Request::Multi(ops)
}

fn bench_decode_request(c: &mut Criterion) {
    let cases: [(&str, Request); 5] = [
        (
            "getData",
            Request::GetData(PathWatch {
                path: PATH.into(),
                watch: true,
            }),
        ),
        (
            "setData_1KiB",
            Request::SetData(SetDataRequest {
                path: PATH.into(),
                data: Bytes::from(vec![b'd'; 1024]),
                version: -1,
            }),
        ),
        (
            "create_100B_open_acl",
            Request::Create {
                op: op::CREATE,
                request: CreateRequest {
                    path: PATH.into(),
                    data: Bytes::from(vec![b'd'; 100]),
                    acl: Acl::open_unsafe(),
                    flags: 0,
                    ttl_ms: 0,
                },
            },
        ),
        (
            "exists",
            Request::Exists(PathWatch {
                path: PATH.into(),
                watch: false,
            }),
        ),
        ("multi_10_ops", multi_request_10_ops()),
    ];

    let mut group = short(c, "decode_request");
    group.throughput(Throughput::Elements(1));
    for (name, request) in &cases {
        let frame = request_frame(7, request);
        let payload = &frame[LENGTH_PREFIX_BYTES..];
        // The bench measures the real thing: check once that it decodes back.
        let (_, decoded) = decode_request(payload).expect("bench frame decodes");
        assert_eq!(&decoded, request);
        group.bench_function(*name, |b| {
            b.iter(|| decode_request(black_box(payload)).expect("bench frame decodes"))
        });
    }
    group.finish();
}

fn bench_encode_reply(c: &mut Criterion) {
    let header = ReplyHeader {
        xid: 7,
        zxid: 0x1_0000_1234,
        err: 0,
    };
    let multi_results: Vec<OpResult> = (0..10)
        .map(|i| match i % 4 {
            0 => OpResult::Create {
                path: format!("{PATH}/child-{i}"),
            },
            1 => OpResult::SetData {
                stat: sample_stat(100),
            },
            2 => OpResult::Check,
            _ => OpResult::Delete,
        })
        .collect();
    let replies: [(&str, Response); 4] = [
        (
            "getData_1KiB_stat",
            Response::GetData {
                data: Bytes::from(vec![b'd'; 1024]),
                stat: sample_stat(1024),
            },
        ),
        ("stat", Response::Stat(sample_stat(100))),
        ("create", Response::Create { path: PATH.into() }),
        ("multi_10_results", Response::Multi(multi_results)),
    ];

    let mut group = short(c, "encode_reply");
    group.throughput(Throughput::Elements(1));
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    for (name, response) in &replies {
        group.bench_function(*name, |b| {
            b.iter(|| {
                out.clear();
                write_reply(&mut out, black_box(header), Some(black_box(response)));
                black_box(out.len())
            })
        });
    }

    let event = WatcherEvent {
        event_type: EventType::NodeDataChanged,
        state: KeeperState::SyncConnected,
        path: PATH.into(),
    };
    group.bench_function("notification", |b| {
        b.iter(|| {
            out.clear();
            write_notification(&mut out, black_box(0x1_0000_1234), black_box(&event));
            black_box(out.len())
        })
    });
    group.finish();
}

/// A shard's read loop over a buffer holding 100 whole frames back to back
/// (a mix of getData, exists and 1 KiB setData): find each boundary and step
/// over it. Throughput is per frame.
fn bench_frame_length(c: &mut Criterion) {
    const FRAMES: usize = 100;
    let mut buffer = Vec::new();
    for i in 0..FRAMES {
        let path = PathWatch {
            path: PATH.into(),
            watch: true,
        };
        let request = match i % 3 {
            0 => Request::GetData(path),
            1 => Request::Exists(path),
            _ => Request::SetData(SetDataRequest {
                path: PATH.into(),
                data: Bytes::from(vec![b'd'; 1024]),
                version: -1,
            }),
        };
        write_request(&mut buffer, i as i32, &request);
    }

    let scan = |buffer: &[u8]| -> usize {
        let mut offset = 0;
        let mut frames = 0;
        while let Some(length) =
            frame_length(&buffer[offset..], JUTE_MAXBUFFER_DEFAULT_BYTES).expect("valid frames")
        {
            offset += LENGTH_PREFIX_BYTES + length;
            frames += 1;
        }
        frames
    };
    assert_eq!(scan(&buffer), FRAMES);

    let mut group = short(c, "frame_length");
    group.throughput(Throughput::Elements(FRAMES as u64));
    group.bench_function("100_back_to_back", |b| b.iter(|| scan(black_box(&buffer))));
    group.finish();
}

criterion_group!(
    benches,
    bench_decode_request,
    bench_encode_reply,
    bench_frame_length
);
criterion_main!(benches);
