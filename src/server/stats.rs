//! Server-wide counters, written by every shard with relaxed atomics and read
//! by the four-letter words. Nothing here is on a lock.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

#[derive(Default)]
pub struct Stats {
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    pub latency_micros_total: AtomicU64,
    pub latency_count: AtomicU64,
    pub latency_micros_min: AtomicU64,
    pub latency_micros_max: AtomicU64,
    pub connections_alive: AtomicI64,
    pub last_applied_zxid: AtomicI64,
    /// `gtmk`/`get_trace_mask`; set by `set_trace_mask`.
    pub trace_mask: AtomicI64,
}

impl Stats {
    pub fn new() -> Stats {
        let stats = Stats::default();
        stats.latency_micros_min.store(u64::MAX, Ordering::Relaxed);
        stats
            .trace_mask
            .store(super::four_letter::DEFAULT_TRACE_MASK, Ordering::Relaxed);
        stats
    }

    pub fn note_packet_received(&self) {
        self.packets_received.fetch_add(1, Ordering::Relaxed);
    }

    pub fn note_reply(&self, latency: Duration) {
        let micros = latency.as_micros() as u64;
        self.packets_sent.fetch_add(1, Ordering::Relaxed);
        self.latency_micros_total
            .fetch_add(micros, Ordering::Relaxed);
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_micros_min.fetch_min(micros, Ordering::Relaxed);
        self.latency_micros_max.fetch_max(micros, Ordering::Relaxed);
    }

    pub fn note_txn_applied(&self, zxid: i64) {
        self.last_applied_zxid.fetch_max(zxid, Ordering::Relaxed);
    }

    pub fn connection_opened(&self) {
        self.connections_alive.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connections_alive.fetch_sub(1, Ordering::Relaxed);
    }

    /// `srst`: resets the latency and packet counters.
    pub fn reset(&self) {
        self.packets_received.store(0, Ordering::Relaxed);
        self.packets_sent.store(0, Ordering::Relaxed);
        self.latency_micros_total.store(0, Ordering::Relaxed);
        self.latency_count.store(0, Ordering::Relaxed);
        self.latency_micros_min.store(u64::MAX, Ordering::Relaxed);
        self.latency_micros_max.store(0, Ordering::Relaxed);
    }

    /// Request latency in ZooKeeper's units (milliseconds), for the
    /// four-letter words.
    pub fn latency(&self) -> super::four_letter::Latency {
        let count = self.latency_count.load(Ordering::Relaxed);
        if count == 0 {
            return super::four_letter::Latency::default();
        }
        super::four_letter::Latency {
            min_ms: self.latency_micros_min.load(Ordering::Relaxed) / 1000,
            max_ms: self.latency_micros_max.load(Ordering::Relaxed) / 1000,
            total_ms: self.latency_micros_total.load(Ordering::Relaxed) / 1000,
            count,
        }
    }
}
