//! Tree apply and the commit pipeline, without a network or a disk.
//!
//! One tree of 1,000,000 znodes of 100 bytes (`/bench/p000../n000000..`: 1,000
//! parents of 1,000 leaves each) is built once, before any timing, and shared
//! by every bench; the benches leave it as they found it (same node set).
//! Preloaded nodes share one `Bytes` of data, as the shards' copies share the
//! txn's data in the server; apply only moves handles, so this changes
//! memory, not the timed work.
//!
//! - `apply/create`, `apply/setData`, `apply/delete`: `txn::apply` of one txn
//!   into the big tree. Txns are built outside the timed region and applied
//!   with increasing zxids, spread over the tree (a stride through all leaves)
//!   so that lookups are not all cache hits. Create and delete undo their
//!   work outside the timed region (`iter_custom`), in chunks, so the tree
//!   size stays at 10^6 however many iterations criterion asks for.
//! - `pipeline/setData_prepare_to_reply`: the sequencer and a shard in one
//!   process: `txn::prepare` against tree + pending changes, `Txn::encode`,
//!   `Txn::decode`, `txn::apply`, `pending.committed_up_to`,
//!   `txn::response_for`, and the reply frame encoded. What is left out is
//!   exactly the network, the log write and the quorum. The requests cycle
//!   over a hot set of 4,096 leaves (cache-resident), unlike `apply/*`,
//!   which strides through all 10^6 and so pays the index's cache misses.
//! - `pipeline/setData_frame_to_reply`: the same, starting from the request
//!   frame's bytes (`decode_request` first).
//! - `read/getChildren_1000`: `DataTree::children` of one parent of 1,000
//!   leaves, in ZooKeeper's order (the names sorted by Java hash bin and
//!   insertion, then copied out), cycling over the parents.
//!
//! Run: `cargo bench --bench tree` (add `-- --quick` for a smoke run).
//! Building the tree takes a few seconds and about 0.5 GB of memory.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};

use paddock::data_tree::DataTree;
use paddock::protocol::frame::{decode_request, write_reply, write_request, LENGTH_PREFIX_BYTES};
use paddock::protocol::{Acl, ReplyHeader, Request, SetDataRequest, JUTE_MAXBUFFER_DEFAULT_BYTES};
use paddock::txn::{
    apply, prepare, response_for, CreateKind, PendingChanges, PrepareContext, Txn, TxnBody,
};

const PARENTS: usize = 1_000;
const LEAVES_PER_PARENT: usize = 1_000;
const LEAVES: usize = PARENTS * LEAVES_PER_PARENT;
const DATA_BYTES: usize = 100;
/// Coprime with `LEAVES`: `k * STRIDE % LEAVES` visits every leaf once per
/// `LEAVES` steps, jumping across parents.
const STRIDE: usize = 7_919;
/// Create and delete work in chunks of at most this many txns, undone after
/// each chunk, so the tree never strays far from 10^6 nodes.
const CHUNK_TXNS: u64 = 10_000;
const SESSION_ID: i64 = 0x1234_5678;
const TIME_MS: i64 = 1_700_000_000_000;

fn parent_path(parent: usize) -> String {
    format!("/bench/p{parent:03}")
}

fn leaf_path(leaf: usize) -> String {
    format!(
        "/bench/p{:03}/n{:06}",
        leaf / LEAVES_PER_PARENT,
        leaf % LEAVES_PER_PARENT
    )
}

/// The big tree, the paths of its leaves, and the next zxid to use. Every
/// txn applied to it, timed or not, takes the next zxid.
struct Fixture {
    tree: DataTree,
    leaves: Vec<String>,
    data: Bytes,
    next_zxid: i64,
}

impl Fixture {
    fn build() -> Fixture {
        let started = Instant::now();
        let mut fixture = Fixture {
            tree: DataTree::new(),
            leaves: (0..LEAVES).map(leaf_path).collect(),
            data: Bytes::from(vec![b'd'; DATA_BYTES]),
            next_zxid: 1,
        };
        fixture.apply_untimed(create_body("/bench".into(), Bytes::new()));
        for parent in 0..PARENTS {
            fixture.apply_untimed(create_body(parent_path(parent), Bytes::new()));
        }
        for leaf in 0..LEAVES {
            let body = create_body(fixture.leaves[leaf].clone(), fixture.data.clone());
            fixture.apply_untimed(body);
        }
        let nodes = fixture.tree.node_count();
        assert!(nodes > LEAVES + PARENTS, "tree holds {nodes} nodes");
        eprintln!(
            "tree: {nodes} nodes of {DATA_BYTES} bytes built in {:.1?}",
            started.elapsed()
        );
        fixture
    }

    fn txn(&mut self, body: TxnBody) -> Txn {
        let zxid = self.next_zxid;
        self.next_zxid += 1;
        Txn {
            session_id: SESSION_ID,
            cxid: zxid as i32,
            zxid,
            time_ms: TIME_MS,
            body,
        }
    }

    /// Applies outside any timed region; the txn must succeed.
    fn apply_untimed(&mut self, body: TxnBody) {
        let txn = self.txn(body);
        let outcome = apply(&mut self.tree, &txn);
        assert!(
            !matches!(outcome.result, paddock::txn::TxnResult::Error(_)),
            "bench setup txn {txn:?} failed: {:?}",
            outcome.result
        );
    }

    /// Applies prepared txns in order and returns the time they took.
    fn apply_timed(&mut self, txns: &[Txn]) -> Duration {
        let started = Instant::now();
        for txn in txns {
            black_box(apply(&mut self.tree, black_box(txn)));
        }
        started.elapsed()
    }
}

fn create_body(path: String, data: Bytes) -> TxnBody {
    TxnBody::Create {
        path: path.into(),
        data,
        acl: Acl::open_unsafe(),
        kind: CreateKind::Persistent,
        // -1: the parent's stored cversion + 1, as the sequencer would say.
        parent_cversion: -1,
    }
}

/// Splits `iters` into chunks of at most `CHUNK_TXNS` and sums what `chunk`
/// reports as timed.
fn in_chunks(iters: u64, mut chunk: impl FnMut(usize) -> Duration) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(CHUNK_TXNS);
        total += chunk(n as usize);
        left -= n;
    }
    total
}

fn short<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));
    group
}

fn bench_apply(c: &mut Criterion, fixture: &mut Fixture) {
    let mut group = short(c, "apply");
    let mut cursor = 0usize;
    let mut created = 0u64;

    // New leaves beside the existing ones, then deleted again untimed.
    group.bench_function("create", |b| {
        b.iter_custom(|iters| {
            in_chunks(iters, |n| {
                let paths: Vec<String> = (0..n)
                    .map(|i| {
                        created += 1;
                        format!("{}/new{created}", parent_path(i * STRIDE % PARENTS))
                    })
                    .collect();
                let creates: Vec<Txn> = paths
                    .iter()
                    .map(|p| fixture.txn(create_body(p.clone(), fixture.data.clone())))
                    .collect();
                let elapsed = fixture.apply_timed(&creates);
                for path in paths {
                    fixture.apply_untimed(TxnBody::Delete { path });
                }
                elapsed
            })
        })
    });

    group.bench_function("setData", |b| {
        b.iter_custom(|iters| {
            in_chunks(iters, |n| {
                let sets: Vec<Txn> = (0..n)
                    .map(|_| {
                        cursor = (cursor + STRIDE) % LEAVES;
                        let body = TxnBody::SetData {
                            path: fixture.leaves[cursor].clone(),
                            data: fixture.data.clone(),
                            // apply takes the new version from the txn as is.
                            version: 1,
                        };
                        fixture.txn(body)
                    })
                    .collect();
                fixture.apply_timed(&sets)
            })
        })
    });

    // Existing leaves, then created again untimed.
    group.bench_function("delete", |b| {
        b.iter_custom(|iters| {
            in_chunks(iters, |n| {
                let targets: Vec<usize> = (0..n)
                    .map(|_| {
                        cursor = (cursor + STRIDE) % LEAVES;
                        cursor
                    })
                    .collect();
                let deletes: Vec<Txn> = targets
                    .iter()
                    .map(|&leaf| {
                        let path = fixture.leaves[leaf].clone();
                        fixture.txn(TxnBody::Delete { path })
                    })
                    .collect();
                let elapsed = fixture.apply_timed(&deletes);
                for leaf in targets {
                    let body = create_body(fixture.leaves[leaf].clone(), fixture.data.clone());
                    fixture.apply_untimed(body);
                }
                elapsed
            })
        })
    });
    group.finish();
}

/// One setData through the sequencer and a shard; see the module docs.
fn bench_pipeline(c: &mut Criterion, fixture: &mut Fixture) {
    const REQUESTS: usize = 4_096;
    let requests: Vec<Request> = (0..REQUESTS)
        .map(|i| {
            Request::SetData(SetDataRequest {
                path: fixture.leaves[i * STRIDE % LEAVES].clone(),
                data: fixture.data.clone(),
                version: -1,
            })
        })
        .collect();
    let frames: Vec<Vec<u8>> = requests
        .iter()
        .enumerate()
        .map(|(i, request)| {
            let mut frame = Vec::new();
            write_request(&mut frame, i as i32, request);
            frame
        })
        .collect();

    let mut pending = PendingChanges::new();
    let mut txn_bytes: Vec<u8> = Vec::with_capacity(512);
    let mut reply_bytes: Vec<u8> = Vec::with_capacity(512);
    let mut k = 0usize;

    // Everything after the request is decoded; returns the reply's length.
    let mut commit = |fixture: &mut Fixture, request: &Request, xid: i32| -> usize {
        let zxid = fixture.next_zxid;
        fixture.next_zxid += 1;
        let ctx = PrepareContext {
            session_id: SESSION_ID,
            cxid: xid,
            zxid,
            time_ms: TIME_MS,
            auth: &[],
            is_super: false,
            extended_types_enabled: false,
            max_buffer_bytes: JUTE_MAXBUFFER_DEFAULT_BYTES,
        };
        let body = prepare(request, &ctx, &fixture.tree, &mut pending).expect("setData prepares");
        let txn = Txn {
            session_id: SESSION_ID,
            cxid: xid,
            zxid,
            time_ms: TIME_MS,
            body,
        };
        txn_bytes.clear();
        txn.encode(&mut txn_bytes);
        let txn = Txn::decode(&txn_bytes).expect("txn decodes");
        let outcome = apply(&mut fixture.tree, &txn);
        pending.committed_up_to(zxid);
        let response = response_for(request, &outcome.result).expect("setData succeeds");
        reply_bytes.clear();
        write_reply(
            &mut reply_bytes,
            ReplyHeader { xid, zxid, err: 0 },
            Some(&response),
        );
        reply_bytes.len()
    };

    let mut group = short(c, "pipeline");
    group.bench_function("setData_prepare_to_reply", |b| {
        b.iter(|| {
            k = (k + 1) % REQUESTS;
            commit(fixture, black_box(&requests[k]), k as i32)
        })
    });
    group.bench_function("setData_frame_to_reply", |b| {
        b.iter(|| {
            k = (k + 1) % REQUESTS;
            let payload = &black_box(&frames[k])[LENGTH_PREFIX_BYTES..];
            let (header, request) = decode_request(payload).expect("request decodes");
            commit(fixture, &request, header.xid)
        })
    });
    group.finish();
    assert!(pending.is_empty(), "every prepared change was applied");
}

/// Snapshot serialization and loading of the whole 10^6-node tree: what a
/// snapshot costs the consensus core, and what a restart costs per tree copy.
fn bench_snapshot(c: &mut Criterion, fixture: &Fixture) {
    let mut group = c.benchmark_group("snapshot_1M_nodes");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    let mut body = Vec::new();
    fixture.tree.serialize(&mut body);
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("serialize", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(body.len());
            fixture.tree.serialize(&mut out);
            black_box(out.len())
        })
    });
    group.bench_function("deserialize", |b| {
        b.iter(|| black_box(DataTree::deserialize(&body).map(|t| t.node_count())))
    });
    group.finish();
}

fn bench_read(c: &mut Criterion, fixture: &Fixture) {
    let mut group = short(c, "read");
    let parents: Vec<String> = (0..PARENTS).map(parent_path).collect();
    let mut next = 0usize;
    group.bench_function("getChildren_1000", |b| {
        b.iter(|| {
            next = (next + 1) % PARENTS;
            let children = fixture.tree.children(&parents[next]);
            black_box(children.map(|c| c.len()))
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let mut fixture = Fixture::build();
    let nodes = fixture.tree.node_count();
    bench_read(c, &fixture);
    bench_apply(c, &mut fixture);
    bench_pipeline(c, &mut fixture);
    bench_snapshot(c, &fixture);
    assert_eq!(
        fixture.tree.node_count(),
        nodes,
        "benches restore the node set"
    );
}

criterion_group!(tree, benches);
criterion_main!(tree);
