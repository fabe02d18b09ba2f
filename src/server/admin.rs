//! Glue between the running server and the four-letter words: gathers a
//! `four_letter::ServerStats` from the shared counters and from every shard
//! (connections and watches live on the shards, the session tracker on shard
//! 0), then renders the word.
//!
//! Times: ZooKeeper keeps its expiry queues on `Time.currentElapsedTime()`
//! and prints a bucket as wall-clock (`Time.elapsedTimeToDate`: now + the
//! bucket's distance from now); `dump` does the same with paddock's clocks.

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::connection::Conn;
use super::four_letter::{
    self, ConfInfo, ConnectionInfo, DumpInfo, Latency, ServerMode, ServerStats,
    SessionConnectionInfo, Summary,
};
use super::sequencer::{monotonic_ms, wall_clock_ms};
use super::shard::Shard;
use super::stats::elapsed_time_ms;
use super::{ShardQuery, ShardReport};

/// `zookeeper.nio.sessionlessCnxnTimeout`'s default: the bucket width of
/// ZooKeeper's connection expiry queue, and the timeout of a connection
/// without a session.
const SESSIONLESS_CONNECTION_TIMEOUT_MS: i64 = 10_000;

/// Words whose text needs every shard's connections or watches.
fn needs_shards(word: &str) -> bool {
    matches!(
        word,
        "cons" | "stat" | "mntr" | "wchs" | "wchc" | "wchp" | "dump" | "srvr"
    )
}

/// The reply to `word`; `argument` is the trace mask that followed `stmk`.
pub async fn reply(shard: &Rc<Shard>, word: &str, argument: Option<i64>) -> String {
    let shared = &shard.shared;
    let config = &shared.config;
    if !config.four_letter_whitelist.allows(word) {
        return four_letter::render(
            word,
            &ServerStats::new(
                String::new(),
                ServerMode::Standalone,
                ConfInfo::from_config(config),
            ),
            &config.four_letter_whitelist,
        );
    }
    match word {
        "stmk" => {
            if let Some(mask) = argument {
                shared.stats.set_trace_mask(mask);
            }
        }
        "srst" => shared.stats.reset(),
        "crst" => {
            for query in &shared.queries {
                let _ = query.send(ShardQuery::ResetConnectionStats);
            }
        }
        _ => {}
    }
    let reports = if needs_shards(word) {
        gather(shard).await
    } else {
        Vec::new()
    };
    let stats = collect(shard, &reports);
    four_letter::render(word, &stats, &config.four_letter_whitelist)
}

/// Everything every word can print, gathered from every shard: what the
/// AdminServer's thread asks shard 0 for (`ShardQuery::Stats`).
pub async fn server_stats(shard: &Rc<Shard>) -> ServerStats {
    let reports = gather(shard).await;
    let mut stats = collect(shard, &reports);
    if let Some(sequencer) = &shard.sequencer {
        stats.dump.session_sets = sequencer
            .borrow()
            .tracker
            .expiry_sets()
            .into_iter()
            .map(|(at, ids)| (at as i64, ids))
            .collect();
    }
    let tree = shard.tree.borrow();
    let sessions: Vec<i64> = tree.sessions().map(|(id, _)| id).collect();
    stats.dump.ephemerals = sessions
        .into_iter()
        .map(|id| (id, tree.ephemerals(id)))
        .collect();
    stats
}

/// Asks every shard for its report, each with a deadline so a stuck shard
/// cannot hang a monitoring script.
async fn gather(shard: &Rc<Shard>) -> Vec<ShardReport> {
    let (tx, rx) = flume::unbounded();
    let mut asked = 0;
    for (index, query) in shard.shared.queries.iter().enumerate() {
        if index == shard.id {
            continue;
        }
        if query.send(ShardQuery::Report(tx.clone())).is_ok() {
            asked += 1;
        }
    }
    let mut reports = vec![super::shard_report(shard)];
    for _ in 0..asked {
        let next = futures_lite::future::or(async { rx.recv_async().await.ok() }, async {
            glommio::timer::sleep(Duration::from_secs(2)).await;
            None
        });
        match next.await {
            Some(report) => reports.push(report),
            None => break,
        }
    }
    reports
}

fn collect(shard: &Shard, reports: &[ShardReport]) -> ServerStats {
    let shared = &shard.shared;
    let config = &shared.config;
    let mut s = ServerStats::new(
        four_letter::full_version(),
        ServerMode::Standalone,
        ConfInfo::from_config(config),
    );
    apply_ensemble_view(&mut s, shared);
    s.trace_mask = shared.stats.trace_mask();
    s.client_response_sizes = shared.stats.response_sizes();
    s.auth_failed_count = shared.stats.auth_failed();
    s.latency = shared.stats.latency();
    s.packets_received = shared.stats.packets_received.load(Ordering::Relaxed);
    s.packets_sent = shared.stats.packets_sent.load(Ordering::Relaxed);
    {
        let tree = shard.tree.borrow();
        s.last_zxid = tree.last_zxid();
        s.node_count = tree.node_count() as u64;
        s.ephemerals_count = tree.ephemeral_count() as u64;
        s.approximate_data_size = tree.approximate_data_size();
        s.global_sessions = tree.sessions().count() as u64;
    }
    for report in reports {
        s.connections.extend(report.connections.iter().cloned());
        s.watch_count += report.watch_count as u64;
        s.outstanding_requests += report.outstanding as u64;
        s.data_watches.extend(report.data_watches.iter().cloned());
    }
    s.data_watches.sort();
    s.data_watches.dedup();
    s.dump = dump_info(shard, reports);
    let (open, max) = file_descriptors();
    s.open_file_descriptor_count = open;
    s.max_file_descriptor_count = max;
    let log = &shared.log_stats;
    s.fsync_threshold_exceed_count = log.fsync_threshold_exceeded.load(Ordering::Relaxed);
    s.data_dir_size = dir_size(&super::snapshot_dir(config));
    s.log_dir_size = dir_size(&super::log_dir(config));
    s.environment = four_letter::gather_environment();
    s.uptime_ms = shared.started.elapsed().as_millis() as u64;
    let flushes = log.flushes.load(Ordering::Relaxed);
    let flush_total_ms = log.flush_micros_total.load(Ordering::Relaxed) / 1000;
    s.summaries.push(Summary {
        name: "fsynctime".to_string(),
        latency: Latency {
            min_ms: log
                .flush_micros_min_plus_one
                .load(Ordering::Relaxed)
                .saturating_sub(1)
                / 1000,
            max_ms: log.flush_micros_max.load(Ordering::Relaxed) / 1000,
            total_ms: flush_total_ms,
            count: flushes,
        },
    });
    let txns = log.txns.load(Ordering::Relaxed);
    s.counters
        .push(("paddock_log_flushes".to_string(), flushes.to_string()));
    s.counters
        .push(("paddock_log_txns".to_string(), txns.to_string()));
    let per_flush = if flushes == 0 {
        0.0
    } else {
        txns as f64 / flushes as f64
    };
    s.counters.push((
        "paddock_txns_per_flush".to_string(),
        format!("{per_flush:.2}"),
    ));
    s.counters
        .push(("paddock_shards".to_string(), shared.cores.len().to_string()));
    s.counters.push((
        "paddock_shard_cores".to_string(),
        format!("{:?}", shared.cores),
    ));
    // Which shard holds which session: tests (and operators) can check that
    // clients really spread over the shards. A shard that missed the report
    // deadline has no line.
    let mut by_shard: Vec<&ShardReport> = reports.iter().collect();
    by_shard.sort_by_key(|report| report.shard);
    for report in by_shard {
        let sessions: Vec<String> = report
            .connections
            .iter()
            .filter_map(|c| c.session.as_ref())
            .map(|session| format!("0x{:x}", session.session_id as u64))
            .collect();
        s.counters.push((
            format!("paddock_shard{}_sessions", report.shard),
            sessions.join(","),
        ));
    }
    s
}

/// What `dump` prints: the tracker's session buckets (from shard 0), the
/// ephemerals of this shard's tree (every shard holds the whole tree) in
/// ZooKeeper's map order, and the connection buckets of every shard.
fn dump_info(shard: &Shard, reports: &[ShardReport]) -> DumpInfo {
    let mut dump = DumpInfo::default();
    for report in reports {
        dump.session_sets
            .extend(report.session_sets.iter().cloned());
    }
    {
        let tree = shard.tree.borrow();
        let with_ephemerals: std::collections::HashMap<i64, Vec<String>> = tree
            .sessions()
            .map(|(id, _)| (id, tree.ephemerals(id)))
            .filter(|(_, paths)| !paths.is_empty())
            .collect();
        let ids: Vec<i64> = with_ephemerals.keys().copied().collect();
        // The per-session path lists come in the tree's own order.
        for id in four_letter::java_long_map_order(&ids) {
            if let Some(paths) = with_ephemerals.get(&id) {
                dump.ephemerals.push((id, paths.clone()));
            }
        }
    }
    // `CLOCK_MONOTONIC` is one clock for every core, so buckets from
    // different shards merge by their elapsed-time key; each is converted to
    // wall-clock once.
    let wall_minus_elapsed = wall_clock_ms() - elapsed_time_ms();
    let mut buckets: std::collections::BTreeMap<i64, Vec<(String, i64)>> = Default::default();
    for report in reports {
        for (at, address, session) in &report.connection_expiries {
            buckets
                .entry(*at)
                .or_default()
                .push((address.clone(), *session));
        }
    }
    dump.connection_sets = buckets
        .into_iter()
        .map(|(at, members)| (at + wall_minus_elapsed, members))
        .collect();
    dump
}

/// This shard's part of a four-letter word.
pub fn shard_report(shard: &Shard) -> ShardReport {
    let conns: Vec<_> = shard.conns.borrow().values().cloned().collect();
    let tree = shard.tree.borrow();
    let wall_now = wall_clock_ms();
    let session_sets = match &shard.sequencer {
        Some(sequencer) => {
            let sequencer = sequencer.borrow();
            let monotonic_now = monotonic_ms() as i64;
            sequencer
                .tracker
                .buckets()
                .map(|(at, ids)| {
                    let mut ids: Vec<i64> = ids.iter().copied().collect();
                    ids.sort_unstable();
                    (wall_now + at as i64 - monotonic_now, ids)
                })
                .collect()
        }
        None => Vec::new(),
    };
    let connection_expiries = conns
        .iter()
        .map(|conn| {
            let timeout_ms = match conn.session_id() {
                0 => SESSIONLESS_CONNECTION_TIMEOUT_MS,
                _ => i64::from(conn.timeout_ms()),
            };
            // `ExpiryQueue.roundToNextInterval(lastTouch + timeout)`.
            let at = (conn.counters().last_activity_ms + timeout_ms)
                .div_euclid(SESSIONLESS_CONNECTION_TIMEOUT_MS)
                .saturating_add(1)
                * SESSIONLESS_CONNECTION_TIMEOUT_MS;
            (
                at,
                ConnectionInfo::java_address(&conn.peer),
                conn.session_id(),
            )
        })
        .collect();
    ShardReport {
        shard: shard.id,
        connections: conns.iter().map(|c| connection_info(c)).collect(),
        data_watches: tree.data_watches(),
        watch_count: tree.watch_count(),
        outstanding: conns.iter().map(|c| c.queued()).sum(),
        session_sets,
        connection_expiries,
    }
}

/// One connection as `cons` and `stat` show it (`ServerCnxn.dumpConnectionInfo`).
pub fn connection_info(conn: &Conn) -> ConnectionInfo {
    let counters = conn.counters();
    let session_id = conn.session_id();
    let session = (session_id != 0).then(|| SessionConnectionInfo {
        session_id,
        // A Java null until the first answer, as ZooKeeper prints it.
        last_operation: counters.last_op.unwrap_or("null").to_string(),
        established_ms: conn.established_ms,
        session_timeout_ms: conn.timeout_ms().max(0) as u32,
        last_cxid: counters.last_cxid,
        last_zxid: counters.last_zxid,
        last_response_ms: counters.last_response_ms,
        last_latency_ms: counters.last_latency_ms,
        min_latency_ms: match counters.latency_min_ms {
            u64::MAX => 0,
            min => min,
        },
        avg_latency_ms: counters
            .latency_total_ms
            .checked_div(counters.latency_count)
            .unwrap_or(0),
        max_latency_ms: counters.latency_max_ms,
    });
    ConnectionInfo {
        remote: ConnectionInfo::java_address(&conn.peer),
        // OP_READ while serving; 0 for the connection running a word, whose
        // selection key ZooKeeper cancels.
        interest_ops: if conn.answering_word() { 0 } else { 1 },
        queued: conn.queued() as u64,
        received: counters.packets_received,
        sent: counters.packets_sent,
        session,
    }
}

/// An ensemble member's mode, learners and state from what the consensus
/// thread last published (`Shared::ensemble`); standalone: nothing changes.
pub fn apply_ensemble_view(s: &mut ServerStats, shared: &super::Shared) {
    if let Some(view) = &shared.ensemble {
        let status = view.status();
        four_letter::apply_ensemble(
            s,
            &shared.config,
            &four_letter::EnsembleInput {
                status: &status,
                pending_syncs: view.pending_syncs.load(Ordering::Relaxed),
                leader_uptime_ms: view.leader_uptime_ms(),
                proposal_sizes: Some(view.proposal_sizes()),
            },
        );
    }
}

fn file_descriptors() -> (u64, u64) {
    let open = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    // SAFETY: getrlimit fills a struct we own.
    let max = unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur
        } else {
            0
        }
    };
    (open, max)
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
