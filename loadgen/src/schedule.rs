//! Open-loop scheduling without coordinated omission.
//!
//! An open-loop run fixes, before it starts, the instant at which every
//! operation is *meant* to be sent: `start + i * interval`. When the server
//! stalls, the ops whose instant has passed wait in a backlog (or behind the
//! per-session in-flight cap) and go out as soon as a slot frees; their
//! latency is measured from the intended instant, so the time they spent
//! queued because of the stall is counted, as a user arriving at that instant
//! would have experienced it. A closed loop measures from the real send.
//! Pure: the clock is passed in.

use std::collections::VecDeque;

/// Intended send instants at a fixed rate.
#[derive(Clone, Debug)]
pub struct Pacer {
    start_ns: u64,
    interval_ns: f64,
    issued: u64,
    /// No op is intended at or after this instant.
    end_ns: u64,
}

impl Pacer {
    pub fn new(start_ns: u64, rate_per_sec: f64, end_ns: u64) -> Pacer {
        Pacer {
            start_ns,
            interval_ns: 1e9 / rate_per_sec,
            issued: 0,
            end_ns,
        }
    }
    /// The intended instant of the next op, or None when the schedule is over.
    pub fn next_due(&self) -> Option<u64> {
        let t = self.start_ns + (self.issued as f64 * self.interval_ns) as u64;
        (t < self.end_ns).then_some(t)
    }
    /// The next intended instant if it is not after `now`.
    pub fn pop_due(&mut self, now_ns: u64) -> Option<u64> {
        let t = self.next_due()?;
        if t <= now_ns {
            self.issued += 1;
            Some(t)
        } else {
            None
        }
    }
}

/// The pacer plus the backlog of ops that are due but not yet sent.
#[derive(Clone, Debug)]
pub struct OpenLoop {
    pub pacer: Pacer,
    backlog: VecDeque<u64>,
}

impl OpenLoop {
    pub fn new(pacer: Pacer) -> OpenLoop {
        OpenLoop {
            pacer,
            backlog: VecDeque::new(),
        }
    }
    /// Moves every op due by `now` into the backlog.
    pub fn poll(&mut self, now_ns: u64) {
        while let Some(t) = self.pacer.pop_due(now_ns) {
            self.backlog.push_back(t);
        }
    }
    /// The oldest due op's intended instant, to send now.
    pub fn take(&mut self) -> Option<u64> {
        self.backlog.pop_front()
    }
    pub fn backlog(&self) -> usize {
        self.backlog.len()
    }
    /// When to wake up for the next op (None: nothing more is scheduled).
    pub fn next_wakeup(&self) -> Option<u64> {
        if !self.backlog.is_empty() {
            return Some(0);
        }
        self.pacer.next_due()
    }
    /// Nothing due or queued and the schedule is over.
    pub fn finished(&self) -> bool {
        self.backlog.is_empty() && self.pacer.next_due().is_none()
    }
}

/// Latency of an op that started (was intended, or sent) at `start_ns`.
pub fn latency_ns(start_ns: u64, done_ns: u64) -> u64 {
    done_ns.saturating_sub(start_ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn pacer_spaces_ops_evenly_and_stops_at_the_end() {
        let mut p = Pacer::new(1000, 1000.0, 1000 + 10 * MS);
        assert_eq!(p.pop_due(999), None);
        assert_eq!(p.pop_due(1000), Some(1000));
        assert_eq!(p.pop_due(1000 + MS - 1), None);
        let mut n = 1;
        while p.pop_due(u64::MAX).is_some() {
            n += 1;
        }
        assert_eq!(n, 10);
    }

    /// A fake server serving one request at a time in 100 µs, frozen from
    /// 500 ms to 600 ms; the client has one session with one slot, so during
    /// the stall ops pile up in the backlog. Measured from the intended instant,
    /// the ~100 ops that arrived during the stall all show the delay; measured
    /// from the actual send (what a naive loop does), only one op would.
    #[test]
    fn open_loop_latency_includes_queueing_behind_a_stall() {
        let service = MS / 10;
        let (stall_from, stall_to) = (500 * MS, 600 * MS);
        let mut ol = OpenLoop::new(Pacer::new(0, 1000.0, 1000 * MS));
        let mut now = 0u64;
        let mut corrected = Vec::new();
        let mut naive = Vec::new();
        loop {
            ol.poll(now);
            if let Some(intended) = ol.take() {
                let sent = now;
                // The server starts at `sent`, or when it unfreezes.
                let begin = if (stall_from..stall_to).contains(&sent) {
                    stall_to
                } else {
                    sent
                };
                let done = begin + service;
                corrected.push(latency_ns(intended, done));
                naive.push(latency_ns(sent, done));
                now = done; // the slot frees when the reply arrives
                continue;
            }
            match ol.next_wakeup() {
                Some(t) => now = now.max(t),
                None => break,
            }
        }
        assert_eq!(corrected.len(), 1000, "every scheduled op ran");
        let slow = |v: &[u64]| v.iter().filter(|&&l| l > 10 * MS).count();
        assert!(slow(&corrected) >= 95, "stall hidden: {}", slow(&corrected));
        assert!(slow(&naive) <= 1, "naive {}", slow(&naive));
        let max = *corrected.iter().max().unwrap();
        assert!((99 * MS..=101 * MS).contains(&max), "max {max}");
        // After the stall the backlog drains and latency returns to the service time.
        assert_eq!(*corrected.last().unwrap(), service);
    }

    #[test]
    fn overload_makes_latency_grow_not_plateau() {
        // Asking 2000 ops/s of a server that does 1000/s: latency from the
        // intended instant grows linearly with time (the backlog grows).
        let service = MS;
        let mut ol = OpenLoop::new(Pacer::new(0, 2000.0, 1000 * MS));
        let mut now = 0;
        let mut lat = Vec::new();
        loop {
            ol.poll(now);
            if let Some(intended) = ol.take() {
                now += service;
                lat.push(latency_ns(intended, now));
            } else if let Some(t) = ol.next_wakeup() {
                now = now.max(t);
            } else {
                break;
            }
        }
        assert_eq!(lat.len(), 2000);
        assert!(lat[1999] > 900 * MS, "last {}", lat[1999]);
        assert!(lat[1000] > 400 * MS && lat[1000] < lat[1999]);
    }
}
