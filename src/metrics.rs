//! Prometheus metrics (`metricsProvider.className=…PrometheusMetricsProvider`,
//! `http://host:7000/metrics`) in the text exposition format, written by the
//! `prometheus` crate's encoder from families built at scrape time.
//!
//! Pure: the HTTP side gathers a `ServerStats` from every shard (as a
//! four-letter word does) plus a [`Sample`] of paddock's own numbers, and
//! [`render`] turns them into text. Nothing is registered globally and no
//! metric is kept twice: every value comes from the counters the server
//! already keeps, read when scraped.
//!
//! Names and types are ZooKeeper 3.8's (`ZooKeeperServer.registerMetrics`
//! gauges, `ServerMetrics.FSYNC_TIME` a summary in ms). A metric paddock
//! cannot compute is left out, never printed as a constant (so no
//! `outstanding_tls_handshake`, `connection_drop_probability`,
//! `local_sessions`, response sizes, fsync quantiles). paddock's own, all
//! prefixed `paddock_`: group-commit batch sizes and flush latency as
//! histograms, CPU seconds per shard, and each shard's commit-stream lag
//! behind the most advanced shard.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType, Summary,
};
use prometheus::{Encoder, TextEncoder};

use crate::server::four_letter::ServerStats;

/// Buckets of a [`Log2Histogram`]: bucket i counts values up to 2^i.
pub const LOG2_BUCKETS: usize = 24;

/// A lock-free histogram with power-of-two bucket bounds (1, 2, 4, … 2^23
/// in the caller's unit), cheap enough for the log core's flush path.
#[derive(Debug, Default)]
pub struct Log2Histogram {
    buckets: [AtomicU64; LOG2_BUCKETS],
    count: AtomicU64,
    sum: AtomicU64,
}

/// A copy of a [`Log2Histogram`]'s counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistogramSample {
    /// Per bucket (not cumulative); values over the last bound count only
    /// in `count`.
    pub buckets: Vec<u64>,
    pub count: u64,
    pub sum: u64,
}

impl Log2Histogram {
    pub fn record(&self, value: u64) {
        let index = if value <= 1 {
            0
        } else {
            (64 - (value - 1).leading_zeros()) as usize
        };
        if let Some(bucket) = self.buckets.get(index) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    pub fn sample(&self) -> HistogramSample {
        HistogramSample {
            buckets: self
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
            count: self.count.load(Ordering::Relaxed),
            sum: self.sum.load(Ordering::Relaxed),
        }
    }
}

/// paddock's own numbers, read by the HTTP side when scraped.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// Txns per group-commit flush.
    pub batch_txns: HistogramSample,
    /// Flush (fdatasync) latency in microseconds.
    pub flush_micros: HistogramSample,
    /// (shard, CPU seconds used by its thread).
    pub shard_cpu_seconds: Vec<(usize, f64)>,
    /// (shard, last batch applied).
    pub shard_applied_batches: Vec<(usize, u64)>,
    /// (shard, client requests taken in).
    pub shard_requests: Vec<(usize, u64)>,
}

fn family(name: &str, help: &str, kind: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    let mut family = MetricFamily::default();
    family.set_name(name.to_string());
    family.set_help(help.to_string());
    family.set_field_type(kind);
    family.set_metric(metrics);
    family
}

fn gauge(name: &str, help: &str, value: f64) -> MetricFamily {
    let mut g = Gauge::default();
    g.set_value(value);
    family(name, help, MetricType::GAUGE, vec![Metric::from_gauge(g)])
}

fn label(name: &str, value: String) -> LabelPair {
    let mut pair = LabelPair::default();
    pair.set_name(name.to_string());
    pair.set_value(value);
    pair
}

fn histogram(name: &str, help: &str, sample: &HistogramSample, scale: f64) -> MetricFamily {
    let mut cumulative = 0;
    let buckets = sample
        .buckets
        .iter()
        .enumerate()
        .map(|(i, n)| {
            cumulative += n;
            let mut b = Bucket::default();
            b.set_upper_bound((1u64 << i) as f64 * scale);
            b.set_cumulative_count(cumulative);
            b
        })
        .collect();
    let mut h = Histogram::default();
    h.set_bucket(buckets);
    h.set_sample_count(sample.count);
    h.set_sample_sum(sample.sum as f64 * scale);
    let mut m = Metric::default();
    m.set_histogram(h);
    family(name, help, MetricType::HISTOGRAM, vec![m])
}

/// The families ZooKeeper's provider exposes that paddock computes, then
/// paddock's own.
pub fn families(s: &ServerStats, own: &Sample) -> Vec<MetricFamily> {
    let mut out = vec![
        gauge(
            "avg_latency",
            "Average request latency (ms)",
            s.latency.avg(),
        ),
        gauge(
            "max_latency",
            "Maximum request latency (ms)",
            s.latency.max_ms as f64,
        ),
        gauge(
            "min_latency",
            "Minimum request latency (ms)",
            s.latency.min_ms as f64,
        ),
        gauge(
            "packets_received",
            "Packets received",
            s.packets_received as f64,
        ),
        gauge("packets_sent", "Packets sent", s.packets_sent as f64),
        gauge(
            "num_alive_connections",
            "Client connections",
            s.connections.len() as f64,
        ),
        gauge(
            "outstanding_requests",
            "Requests queued and not answered",
            s.outstanding_requests as f64,
        ),
        gauge("uptime", "Time serving (ms)", s.uptime_ms as f64),
        gauge("znode_count", "Znodes", s.node_count as f64),
        gauge("watch_count", "Watches", s.watch_count as f64),
        gauge(
            "ephemerals_count",
            "Ephemeral znodes",
            s.ephemerals_count as f64,
        ),
        gauge(
            "approximate_data_size",
            "Bytes of znode data and paths",
            s.approximate_data_size as f64,
        ),
        gauge("global_sessions", "Sessions", s.global_sessions as f64),
        gauge(
            "open_file_descriptor_count",
            "Open file descriptors",
            s.open_file_descriptor_count as f64,
        ),
        gauge(
            "max_file_descriptor_count",
            "File descriptor limit",
            s.max_file_descriptor_count as f64,
        ),
    ];
    // QuorumZooKeeperServer / LeaderZooKeeperServer.registerMetrics.
    if let Some(size) = s.quorum_size {
        out.push(gauge(
            "quorum_size",
            "Voting members of the ensemble",
            size as f64,
        ));
    }
    if let Some(leader) = &s.leader {
        out.push(gauge(
            "learners",
            "Learner connections",
            leader.learners as f64,
        ));
        out.push(gauge(
            "synced_followers",
            "Synced followers",
            leader.synced_followers as f64,
        ));
        out.push(gauge(
            "synced_non_voting_followers",
            "Synced followers that do not vote",
            leader.synced_non_voting_followers as f64,
        ));
        out.push(gauge(
            "synced_observers",
            "Synced observers",
            leader.synced_observers as f64,
        ));
        out.push(gauge(
            "pending_syncs",
            "Learners' syncs waiting for their commit",
            leader.pending_syncs as f64,
        ));
        if let Some(uptime) = leader.leader_uptime_ms {
            out.push(gauge("leader_uptime", "Time leading (ms)", uptime as f64));
        }
        if let Some(sizes) = leader.proposal_sizes {
            out.push(gauge(
                "last_proposal_size",
                "Size of the last proposal (bytes)",
                sizes.last as f64,
            ));
            out.push(gauge(
                "max_proposal_size",
                "Largest proposal (bytes)",
                sizes.max as f64,
            ));
            out.push(gauge(
                "min_proposal_size",
                "Smallest proposal (bytes)",
                sizes.min as f64,
            ));
        }
    }
    if let Some(fsync) = s.summaries.iter().find(|x| x.name == "fsynctime") {
        let mut summary = Summary::default();
        summary.set_sample_count(fsync.latency.count);
        summary.set_sample_sum(fsync.latency.total_ms as f64);
        let mut m = Metric::default();
        m.set_summary(summary);
        out.push(family(
            "fsynctime",
            "Time to fsync the transaction log (ms)",
            MetricType::SUMMARY,
            vec![m],
        ));
    }
    out.push(histogram(
        "paddock_group_commit_batch_txns",
        "Txns written per group-commit flush",
        &own.batch_txns,
        1.0,
    ));
    out.push(histogram(
        "paddock_log_flush_seconds",
        "Latency of one group-commit flush (write and fdatasync)",
        &own.flush_micros,
        1e-6,
    ));
    if !own.shard_requests.is_empty() {
        let metrics = own
            .shard_requests
            .iter()
            .map(|(shard, requests)| {
                let mut c = Counter::default();
                c.set_value(*requests as f64);
                let mut m = Metric::from_label(vec![label("shard", shard.to_string())]);
                m.set_counter(c);
                m
            })
            .collect();
        out.push(family(
            "paddock_shard_requests_total",
            "Client requests each shard has taken in",
            MetricType::COUNTER,
            metrics,
        ));
    }
    if !own.shard_cpu_seconds.is_empty() {
        let metrics = own
            .shard_cpu_seconds
            .iter()
            .map(|(shard, seconds)| {
                let mut c = Counter::default();
                c.set_value(*seconds);
                let mut m = Metric::from_label(vec![label("shard", shard.to_string())]);
                m.set_counter(c);
                m
            })
            .collect();
        out.push(family(
            "paddock_shard_cpu_seconds_total",
            "CPU time used by each shard's thread",
            MetricType::COUNTER,
            metrics,
        ));
    }
    let newest = own
        .shard_applied_batches
        .iter()
        .map(|(_, b)| *b)
        .max()
        .unwrap_or(0);
    if !own.shard_applied_batches.is_empty() {
        let metrics = own
            .shard_applied_batches
            .iter()
            .map(|(shard, applied)| {
                let mut g = Gauge::default();
                g.set_value((newest - applied) as f64);
                let mut m = Metric::from_label(vec![label("shard", shard.to_string())]);
                m.set_gauge(g);
                m
            })
            .collect();
        out.push(family(
            "paddock_shard_commit_lag_batches",
            "Commit-stream batches each shard is behind the most advanced shard",
            MetricType::GAUGE,
            metrics,
        ));
    }
    out
}

/// The text exposition of [`families`], and its content type.
pub fn render(s: &ServerStats, own: &Sample) -> (String, String) {
    let encoder = TextEncoder::new();
    let mut out = Vec::new();
    if let Err(e) = encoder.encode(&families(s, own), &mut out) {
        log::warn!("cannot encode metrics: {e}");
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        encoder.format_type().to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::four_letter::{ConfInfo, Latency, ServerMode, Summary as FourSummary};

    #[test]
    fn log2_buckets() {
        let h = Log2Histogram::default();
        for v in [0, 1, 2, 3, 4, 5, 1000, u64::MAX / 2] {
            h.record(v);
        }
        let s = h.sample();
        assert_eq!(s.count, 8);
        assert_eq!(&s.buckets[..4], &[2, 1, 2, 1]);
        assert_eq!(s.buckets[10], 1); // 1000 <= 1024
        assert_eq!(s.buckets.iter().sum::<u64>(), 7); // the huge one is past the last bound
    }

    #[test]
    fn a_leader_exports_zookeepers_quorum_gauges() {
        use crate::server::four_letter::tests::{ensemble_config, leader_status, with_ensemble};
        let s = with_ensemble(&ensemble_config(1), &leader_status());
        let (text, _) = render(&s, &Sample::default());
        for line in [
            "quorum_size 3\n",
            "learners 4\n",
            "synced_followers 2\n",
            "synced_non_voting_followers 1\n",
            "synced_observers 1\n",
            "pending_syncs 1\n",
        ] {
            assert!(text.contains(line), "{line:?} not in\n{text}");
        }
        assert!(!text.contains("leader_uptime") && !text.contains("proposal_size"));
        // Standalone: none of them.
        let (text, _) = render(
            &crate::server::four_letter::tests::with_ensemble_none(),
            &Sample::default(),
        );
        assert!(!text.contains("quorum_size") && !text.contains("learners"));
    }

    #[test]
    fn exposition_has_zookeepers_names_and_types() {
        let conf = ConfInfo {
            client_port: 2181,
            secure_client_port: -1,
            data_dir: "/d".into(),
            data_log_dir: "/d".into(),
            tick_time_ms: 2000,
            max_client_cnxns: 60,
            min_session_timeout_ms: 4000,
            max_session_timeout_ms: 40000,
            client_port_listen_backlog: -1,
            server_id: 0,
            quorum: None,
        };
        let mut s = ServerStats::new("v".into(), ServerMode::Standalone, conf);
        s.node_count = 5;
        s.summaries.push(FourSummary {
            name: "fsynctime".into(),
            latency: Latency {
                min_ms: 0,
                max_ms: 3,
                total_ms: 7,
                count: 4,
            },
        });
        let own = Sample {
            batch_txns: HistogramSample {
                buckets: vec![1, 0, 2],
                count: 3,
                sum: 9,
            },
            shard_applied_batches: vec![(0, 10), (1, 7)],
            shard_cpu_seconds: vec![(0, 1.5)],
            shard_requests: vec![(0, 42), (1, 5)],
            ..Sample::default()
        };
        let (text, content_type) = render(&s, &own);
        assert!(content_type.starts_with("text/plain"));
        assert!(
            text.contains("# TYPE znode_count gauge\nznode_count 5\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE fsynctime summary\n"));
        assert!(text.contains("fsynctime_sum 7\nfsynctime_count 4\n"));
        assert!(text.contains("paddock_group_commit_batch_txns_bucket{le=\"4\"} 3\n"));
        assert!(text.contains("paddock_shard_commit_lag_batches{shard=\"1\"} 3\n"));
        assert!(text.contains("paddock_shard_cpu_seconds_total{shard=\"0\"} 1.5\n"));
        assert!(text.contains("paddock_shard_requests_total{shard=\"1\"} 5\n"));
        assert!(!text.contains("outstanding_tls_handshake"));
    }
}
