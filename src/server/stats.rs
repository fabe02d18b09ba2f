//! Server-wide counters, written by every shard with relaxed atomics and read
//! by the four-letter words. Nothing here is on a lock.
//!
//! What counts as what follows ZooKeeper 3.8's `ServerStats`: every frame a
//! connection reads is a packet received (the ConnectRequest and a
//! four-letter word too); every frame it writes is a packet sent (the
//! ConnectResponse, notifications, a word's reply chunks); the latency is that
//! of requests answered in order (pings and session creation included, auth
//! packets not); the client response size is that of every reply header +
//! body and notification (not the ConnectResponse, as ZooKeeper serializes
//! that one apart). `srst` clears latency, packet counts and response sizes;
//! the trace mask (`stmk`/`gtmk`) is server-wide and survives `srst`.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use super::four_letter::{Latency, ResponseSizes, DEFAULT_TRACE_MASK};

/// ZooKeeper's `Time.currentElapsedTime()`: `System.nanoTime()` in ms, which
/// on Linux is `CLOCK_MONOTONIC` (time since boot). `cons` prints it as
/// `lresp`, and the connection expiry buckets of `dump` are rounded on it.
pub fn elapsed_time_ms() -> i64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } != 0 {
        return 0;
    }
    now.tv_sec * 1000 + now.tv_nsec / 1_000_000
}

pub struct Stats {
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    pub latency_micros_total: AtomicU64,
    pub latency_count: AtomicU64,
    pub latency_micros_min: AtomicU64,
    pub latency_micros_max: AtomicU64,
    pub connections_alive: AtomicI64,
    pub last_applied_zxid: AtomicI64,
    /// `BufferStats` of client responses: -1 until the first.
    response_size_last: AtomicI64,
    response_size_min: AtomicI64,
    response_size_max: AtomicI64,
    /// Failed authentications (addauth refused, SASL exchange failed).
    auth_failed: AtomicU64,
    /// `ZooTrace`'s text trace mask, as `stmk` set it.
    trace_mask: AtomicI64,
}

impl Default for Stats {
    fn default() -> Stats {
        Stats::new()
    }
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            packets_received: AtomicU64::new(0),
            packets_sent: AtomicU64::new(0),
            latency_micros_total: AtomicU64::new(0),
            latency_count: AtomicU64::new(0),
            latency_micros_min: AtomicU64::new(u64::MAX),
            latency_micros_max: AtomicU64::new(0),
            connections_alive: AtomicI64::new(0),
            last_applied_zxid: AtomicI64::new(0),
            response_size_last: AtomicI64::new(-1),
            response_size_min: AtomicI64::new(-1),
            response_size_max: AtomicI64::new(-1),
            auth_failed: AtomicU64::new(0),
            trace_mask: AtomicI64::new(DEFAULT_TRACE_MASK),
        }
    }

    /// An authentication that failed: an addauth with an unknown scheme or
    /// bad credentials, or a SASL exchange that did not authenticate.
    pub fn note_auth_failed(&self) {
        self.auth_failed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn auth_failed(&self) -> u64 {
        self.auth_failed.load(Ordering::Relaxed)
    }

    pub fn note_packet_received(&self) {
        self.packets_received.fetch_add(1, Ordering::Relaxed);
    }

    pub fn note_packets_sent(&self, packets: u64) {
        self.packets_sent.fetch_add(packets, Ordering::Relaxed);
    }

    /// A request answered `latency` after it arrived.
    pub fn note_latency(&self, latency: Duration) {
        let micros = latency.as_micros() as u64;
        self.latency_micros_total
            .fetch_add(micros, Ordering::Relaxed);
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_micros_min.fetch_min(micros, Ordering::Relaxed);
        self.latency_micros_max.fetch_max(micros, Ordering::Relaxed);
    }

    /// A reply or notification of `bytes` (header + body, without the
    /// length prefix), as `ServerStats.updateClientResponseSize`.
    pub fn note_response_size(&self, bytes: usize) {
        let bytes = bytes as i64;
        self.response_size_last.store(bytes, Ordering::Relaxed);
        self.response_size_max.fetch_max(bytes, Ordering::Relaxed);
        // -1 means "none yet": the first size replaces it.
        let _ = self
            .response_size_min
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |min| {
                (min == -1 || bytes < min).then_some(bytes)
            });
    }

    pub fn response_sizes(&self) -> ResponseSizes {
        ResponseSizes {
            last: self.response_size_last.load(Ordering::Relaxed),
            min: self.response_size_min.load(Ordering::Relaxed),
            max: self.response_size_max.load(Ordering::Relaxed),
        }
    }

    pub fn trace_mask(&self) -> i64 {
        self.trace_mask.load(Ordering::Relaxed)
    }

    pub fn set_trace_mask(&self, mask: i64) {
        self.trace_mask.store(mask, Ordering::Relaxed);
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

    /// `srst` (`ServerStats.reset`): latency, packet counts, response sizes.
    pub fn reset(&self) {
        self.packets_received.store(0, Ordering::Relaxed);
        self.packets_sent.store(0, Ordering::Relaxed);
        self.latency_micros_total.store(0, Ordering::Relaxed);
        self.latency_count.store(0, Ordering::Relaxed);
        self.latency_micros_min.store(u64::MAX, Ordering::Relaxed);
        self.latency_micros_max.store(0, Ordering::Relaxed);
        self.response_size_last.store(-1, Ordering::Relaxed);
        self.response_size_min.store(-1, Ordering::Relaxed);
        self.response_size_max.store(-1, Ordering::Relaxed);
        self.auth_failed.store(0, Ordering::Relaxed);
    }

    /// Request latency in ZooKeeper's units (milliseconds), for the
    /// four-letter words.
    pub fn latency(&self) -> Latency {
        let count = self.latency_count.load(Ordering::Relaxed);
        if count == 0 {
            return Latency::default();
        }
        Latency {
            min_ms: self.latency_micros_min.load(Ordering::Relaxed) / 1000,
            max_ms: self.latency_micros_max.load(Ordering::Relaxed) / 1000,
            total_ms: self.latency_micros_total.load(Ordering::Relaxed) / 1000,
            count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_sizes_start_unset_and_reset() {
        let stats = Stats::new();
        assert_eq!(
            stats.response_sizes(),
            ResponseSizes {
                last: -1,
                min: -1,
                max: -1
            }
        );
        stats.note_response_size(88);
        stats.note_response_size(16);
        stats.note_response_size(40);
        assert_eq!(
            stats.response_sizes(),
            ResponseSizes {
                last: 40,
                min: 16,
                max: 88
            }
        );
        stats.set_trace_mask(7);
        stats.reset();
        assert_eq!(stats.response_sizes().min, -1);
        assert_eq!(stats.trace_mask(), 7, "srst leaves the trace mask alone");
    }
}
