//! The result of a run: one JSON document (`--out`), also what `compare` reads,
//! and the human summary printed at the end.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::cli::{RunConfig, Workload};
use crate::histo::{fmt_us, CurvePoint, Summary};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cpu {
    /// getrusage(RUSAGE_SELF) user time over the measured window.
    pub user_secs: f64,
    pub sys_secs: f64,
    /// (user + sys) / ops, in microseconds.
    pub us_per_op: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub tool: String,
    pub version: String,
    pub label: String,
    /// The exact configuration that ran (defaults filled in).
    pub config: RunConfig,
    /// "closed" or "open".
    pub mode: String,
    pub started_unix_ms: u64,
    pub measured_secs: f64,
    /// Successful ops that completed inside the measured window.
    pub ops: u64,
    pub ops_per_sec: f64,
    /// Open loop: the rate asked for.
    pub intended_ops_per_sec: Option<f64>,
    /// Latency of successful ops that started (open loop: were intended) in the
    /// window; closed loop from the send, open loop from the intended instant.
    pub latency: Summary,
    /// The same per operation type (e.g. get and set of `mixed`).
    pub latency_by_op: BTreeMap<String, Summary>,
    /// The percentile curve (HdrHistogram iteration, 5 ticks per half distance).
    pub percentiles: Vec<CurvePoint>,
    /// ephemeral: TCP connect to ConnectResponse, sessions opened in the window.
    pub connect_latency: Option<Summary>,
    /// Error replies (and requests lost with their connection, as
    /// ConnectionLoss) over the whole run, by ZooKeeper error code name.
    pub errors: BTreeMap<String, u64>,
    pub errors_total: u64,
    pub connection_losses: u64,
    pub connect_failures: u64,
    pub sessions_opened: u64,
    pub sessions_closed: u64,
    pub watch_notifications: u64,
    pub cpu: Cpu,
    pub hgrm_file: Option<String>,
    /// delete: the pool ran out before the end.
    pub pool_exhausted: bool,
    /// The run hit its deadline (or failed); numbers cover what finished.
    pub incomplete: bool,
    pub incomplete_reason: Option<String>,
}

impl RunResult {
    pub fn summary_text(&self) -> String {
        let c = &self.config;
        let mut s = String::new();
        let shape = match (c.workload, c.rate) {
            (Workload::Watch, _) => {
                format!(
                    "{} watchers + 1 writer, one fan-out round at a time (op = one round)",
                    c.watchers
                )
            }
            (Workload::Ephemeral, _) => format!(
                "{} sessions x {} in flight, {} ephemerals per session then close",
                c.sessions, c.inflight, c.ephemerals
            ),
            (_, Some(r)) => format!(
                "open loop {r} ops/s over {} sessions (cap {} in flight each)",
                c.sessions, c.inflight
            ),
            (_, None) => format!(
                "closed loop {} sessions x {} in flight",
                c.sessions, c.inflight
            ),
        };
        let _ = writeln!(
            s,
            "paddock-loadgen {}: {}, {shape}, {} thread(s), {} B data, hosts {}",
            self.label,
            c.workload.name(),
            c.threads,
            c.data_bytes,
            c.hosts.join(",")
        );
        let _ = writeln!(
            s,
            "measured {:.1} s: {} ops, {:.1} ops/s{}",
            self.measured_secs,
            self.ops,
            self.ops_per_sec,
            self.intended_ops_per_sec
                .map(|r| format!(" (intended {r})"))
                .unwrap_or_default()
        );
        let l = &self.latency;
        let from = match (c.workload, c.rate) {
            (Workload::Watch, _) => "write sent -> last watcher notified",
            (_, Some(_)) => "from intended send time",
            (_, None) => "from send",
        };
        let _ = writeln!(
            s,
            "latency ({from}, {} ops): p50 {}  p90 {}  p99 {}  p99.9 {}  p99.99 {}  max {}",
            l.count,
            fmt_us(l.p50_us),
            fmt_us(l.p90_us),
            fmt_us(l.p99_us),
            fmt_us(l.p99_9_us),
            fmt_us(l.p99_99_us),
            fmt_us(l.max_us)
        );
        if self.latency_by_op.len() > 1 {
            for (op, l) in &self.latency_by_op {
                let _ = writeln!(
                    s,
                    "  {op:>7} ({} ops): p50 {}  p99 {}  max {}",
                    l.count,
                    fmt_us(l.p50_us),
                    fmt_us(l.p99_us),
                    fmt_us(l.max_us)
                );
            }
        }
        if let Some(cl) = &self.connect_latency {
            let _ = writeln!(
                s,
                "session connect ({} sessions opened, {} closed): p50 {}  p99 {}  max {}",
                self.sessions_opened,
                self.sessions_closed,
                fmt_us(cl.p50_us),
                fmt_us(cl.p99_us),
                fmt_us(cl.max_us)
            );
        }
        if self.watch_notifications > 0 {
            let _ = writeln!(
                s,
                "watch notifications received: {}",
                self.watch_notifications
            );
        }
        if self.errors.is_empty() {
            let _ = writeln!(s, "errors: none");
        } else {
            let list: Vec<String> = self
                .errors
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            let _ = writeln!(s, "errors: {} ({})", self.errors_total, list.join(", "));
        }
        let _ = writeln!(
            s,
            "connection losses: {}, failed connects: {}",
            self.connection_losses, self.connect_failures
        );
        let _ = writeln!(
            s,
            "loadgen CPU: {:.2} µs/op (user {:.2} s + sys {:.2} s over the window)",
            self.cpu.us_per_op, self.cpu.user_secs, self.cpu.sys_secs
        );
        if self.pool_exhausted {
            let _ = writeln!(s, "WARNING: the delete pool ran out; raise --keys");
        }
        if let Some(r) = &self.incomplete_reason {
            let _ = writeln!(s, "INCOMPLETE: {r}");
        }
        s
    }
}
