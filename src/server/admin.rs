//! Glue between the running server and the four-letter words: gathers a
//! `four_letter::ServerStats` from the shared counters and from every shard
//! (connections and watches live on the shards), then renders the word.

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::connection::Conn;
use super::four_letter::{
    self, ConfInfo, ConnectionInfo, Latency, ServerMode, ServerStats, SessionConnectionInfo,
    Summary,
};
use super::shard::Shard;
use super::{ShardQuery, ShardReport};

/// Words whose text needs every shard's connections or watches.
fn needs_shards(word: &str) -> bool {
    matches!(
        word,
        "cons" | "stat" | "mntr" | "wchs" | "wchc" | "wchp" | "dump" | "srvr"
    )
}

pub async fn reply(shard: &Rc<Shard>, word: &str) -> String {
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
    let mode = if config.is_standalone() {
        ServerMode::Standalone
    } else {
        ServerMode::Leader
    };
    let mut s = ServerStats::new(
        four_letter::full_version("01/01/1970 00:00 GMT"),
        mode,
        ConfInfo::from_config(config),
    );
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
            min_ms: 0,
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

pub fn connection_info(conn: &Conn) -> ConnectionInfo {
    let counters = conn.counters();
    let session_id = conn.session_id();
    let session = (session_id != 0).then(|| SessionConnectionInfo {
        session_id,
        last_operation: if counters.last_op.is_empty() {
            "NA".to_string()
        } else {
            counters.last_op.to_string()
        },
        established_ms: conn.established_ms,
        session_timeout_ms: conn.timeout_ms().max(0) as u32,
        last_cxid: if counters.packets_received == 0 {
            -1
        } else {
            counters.last_cxid as i64
        },
        last_zxid: counters.last_zxid,
        last_response_ms: counters.last_response_ms,
        last_latency_ms: counters.last_latency_ms,
        min_latency_ms: counters.latency_min_ms,
        avg_latency_ms: counters
            .latency_total_ms
            .checked_div(counters.latency_count)
            .unwrap_or(0),
        max_latency_ms: counters.latency_max_ms,
    });
    ConnectionInfo {
        remote: ConnectionInfo::java_address(&conn.peer),
        interest_ops: 1,
        queued: conn.queued() as u64,
        received: counters.packets_received,
        sent: counters.packets_sent,
        session,
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
