//! paddock-loadgen: the bundled load generator. See `--help`, and `driver.rs`
//! for how the load is produced and measured.

mod cli;
mod compare;
mod driver;
mod histo;
mod report;
mod schedule;
mod setup;
mod svg;
mod sys;
mod workload;
mod zk;

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use cli::{Command, RunConfig, Workload};
use driver::{Shared, ThreadResult};
use histo::{fmt_us, new_hist, Summary};
use report::{Cpu, RunResult};
use sys::now_ns;
use workload::{Layout, OP_KINDS};

fn main() {
    let code = match cli::parse(std::env::args_os()) {
        Err(cli::CliError::Clap(e)) => {
            // --help prints to stdout and is a success; usage errors exit 1
            // (EXIT in --help), not clap's 2, which means "deadline exceeded".
            let _ = e.print();
            if e.use_stderr() {
                1
            } else {
                0
            }
        }
        Ok(Command::Compare { files, svg, title }) => {
            match compare::run(&files, svg.as_deref(), title.as_deref()) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("paddock-loadgen compare: {e}");
                    1
                }
            }
        }
        Ok(Command::Run(cfg)) => run(*cfg),
        Err(cli::CliError::Invalid(e)) => {
            eprintln!("paddock-loadgen: {e}");
            1
        }
    };
    std::process::exit(code);
}

fn resolve(hosts: &[String]) -> Result<Vec<SocketAddr>, String> {
    hosts
        .iter()
        .map(|h| {
            h.to_socket_addrs()
                .map_err(|e| format!("{h}: {e}"))?
                .next()
                .ok_or_else(|| format!("{h}: no address"))
        })
        .collect()
}

fn run_tag() -> String {
    let x = now_ns() ^ ((std::process::id() as u64) << 40);
    format!(
        "{:08x}",
        (x ^ (x >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32
    )
}

fn run(cfg: RunConfig) -> i32 {
    let started = Instant::now();
    let started_unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let total_secs = cfg.warmup_secs + cfg.duration_secs + cfg.grace_secs;
    let deadline_instant = started + Duration::from_secs_f64(total_secs);
    let deadline_ns = now_ns() + (total_secs * 1e9) as u64;

    let addrs = match resolve(&cfg.hosts) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("paddock-loadgen: {e}");
            return 1;
        }
    };
    let layout = Layout {
        root: cfg.root.clone(),
        run_tag: run_tag(),
    };
    let data = workload::payload(cfg.data_bytes);
    let key_paths: Vec<String> = if cfg.workload.uses_keys() {
        (0..cfg.keys).map(|i| layout.key(i)).collect()
    } else {
        Vec::new()
    };

    // Setup on one pipelined session.
    let setup_t = Instant::now();
    let mut admin =
        match setup::SyncClient::connect(&addrs[0], cfg.session_timeout_ms, deadline_instant) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("paddock-loadgen: setup: {e}");
                return 1;
            }
        };
    if let Err(e) = setup::setup(&mut admin, &cfg, &layout, &data) {
        eprintln!("paddock-loadgen: setup: {e}");
        return 1;
    }
    admin.close();
    if !cfg.quiet {
        eprintln!("setup done in {:.2} s", setup_t.elapsed().as_secs_f64());
    }

    let threads = if cfg.workload == Workload::Watch {
        1
    } else {
        cfg.threads
    };
    let shared = Arc::new(Shared {
        cfg: cfg.clone(),
        layout: layout.clone(),
        addrs: addrs.clone(),
        key_paths: Arc::new(key_paths),
        data,
        t0: AtomicU64::new(u64::MAX),
        measure_start: AtomicU64::new(u64::MAX),
        measure_end: AtomicU64::new(u64::MAX),
        deadline: AtomicU64::new(deadline_ns),
        done_total: AtomicU64::new(0),
        done_measured: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        losses: AtomicU64::new(0),
        measured_hist: Mutex::new(new_hist()),
        pool_next: AtomicUsize::new(0),
        abort: AtomicBool::new(false),
    });
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|id| {
            let sh = shared.clone();
            let b = barrier.clone();
            std::thread::Builder::new()
                .name(format!("loadgen-{id}"))
                .spawn(move || driver::run_thread(id, sh, b))
                .expect("spawn")
        })
        .collect();
    barrier.wait(); // all sessions connected (or failed)
    let t0 = now_ns();
    let m_start = t0 + (cfg.warmup_secs * 1e9) as u64;
    let m_end = m_start + (cfg.duration_secs * 1e9) as u64;
    shared.t0.store(t0, Relaxed);
    shared.measure_start.store(m_start, Relaxed);
    shared.measure_end.store(m_end, Relaxed);
    barrier.wait();

    // Progress once a second; CPU sampled at both ends of the window.
    let mut cpu_start = None;
    let mut cpu_end = None;
    let mut last_done = 0u64;
    let mut next_line = t0 + 1_000_000_000;
    while !handles.iter().all(|h| h.is_finished()) {
        let now = now_ns();
        if cpu_start.is_none() && now >= m_start {
            cpu_start = Some(sys::process_cpu_us());
        }
        if cpu_end.is_none() && now >= m_end {
            cpu_end = Some(sys::process_cpu_us());
        }
        if now >= next_line {
            next_line += 1_000_000_000;
            let done = shared.done_total.load(Relaxed);
            let phase = if now < m_start {
                "warmup"
            } else if now < m_end {
                "measure"
            } else {
                "drain"
            };
            let p99 = shared
                .measured_hist
                .lock()
                .ok()
                .filter(|h| !h.is_empty())
                .map(|h| h.value_at_quantile(0.99));
            if !cfg.quiet {
                eprintln!(
                    "[{:>4.0}s {phase:>7}] {:>9} ops/s  p99 {:>9}  errors {}  losses {}",
                    (now - t0) as f64 / 1e9,
                    done - last_done,
                    p99.map(|v| fmt_us(v as f64 / 1000.0))
                        .unwrap_or_else(|| "-".into()),
                    shared.errors.load(Relaxed),
                    shared.losses.load(Relaxed),
                );
            }
            last_done = done;
        }
        let mut wake = next_line;
        if cpu_start.is_none() {
            wake = wake.min(m_start);
        }
        if cpu_end.is_none() {
            wake = wake.min(m_end);
        }
        let sleep = wake.saturating_sub(now_ns()).clamp(100_000, 50_000_000);
        std::thread::sleep(Duration::from_nanos(sleep));
    }
    let cpu_end_sample = cpu_end.unwrap_or_else(sys::process_cpu_us);
    let results: Vec<ThreadResult> = handles
        .into_iter()
        .map(|h| h.join().expect("driver thread panicked"))
        .collect();

    // Merge.
    let mut all = new_hist();
    let mut by_kind: Vec<_> = OP_KINDS.iter().map(|_| new_hist()).collect();
    let mut connect = new_hist();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut ops = 0;
    let (mut losses, mut failures, mut opened, mut closed, mut notes) = (0, 0, 0, 0, 0);
    let mut created = Vec::new();
    let mut pool_exhausted = false;
    let mut reasons = Vec::new();
    for r in &results {
        let _ = all.add(&r.all);
        for (h, k) in by_kind.iter_mut().zip(&r.by_kind) {
            let _ = h.add(k);
        }
        let _ = connect.add(&r.connect);
        for (&code, &n) in &r.errors {
            *errors.entry(zk::error_name(code)).or_default() += n;
        }
        ops += r.completed_in_window;
        losses += r.connection_losses;
        failures += r.connect_failures;
        opened += r.sessions_opened;
        closed += r.sessions_closed;
        notes += r.notifications;
        created.extend_from_slice(&r.created);
        pool_exhausted |= r.pool_exhausted;
        if r.deadline_exceeded {
            reasons.push(format!(
                "deadline of {total_secs:.0} s (warmup + duration + grace) exceeded"
            ));
        }
        if let Some(f) = &r.fatal {
            reasons.push(f.clone());
        }
    }
    reasons.dedup();

    let mut cleanup_note = None;
    if cfg.cleanup && reasons.is_empty() {
        let r = setup::SyncClient::connect(&addrs[0], cfg.session_timeout_ms, deadline_instant)
            .and_then(|mut c| {
                let n = setup::cleanup(
                    &mut c,
                    &cfg,
                    &layout,
                    &created,
                    shared.pool_next.load(Relaxed),
                )?;
                c.close();
                Ok(n)
            });
        match r {
            Ok(n) if !cfg.quiet => eprintln!("cleanup: deleted {n} nodes"),
            Ok(_) => {}
            Err(e) => cleanup_note = Some(format!("cleanup failed: {e}")),
        }
    }
    if let Some(n) = cleanup_note {
        reasons.push(n);
    }

    let (cpu_user, cpu_sys) = match cpu_start {
        Some((u0, s0)) => (cpu_end_sample.0 - u0, cpu_end_sample.1 - s0),
        None => (0, 0),
    };
    let measured_secs = cfg.duration_secs;
    let result = RunResult {
        tool: "paddock-loadgen".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        label: cfg
            .label
            .clone()
            .unwrap_or_else(|| cfg.workload.name().to_string()),
        config: cfg.clone(),
        mode: if cfg.rate.is_some() { "open" } else { "closed" }.into(),
        started_unix_ms,
        measured_secs,
        ops,
        ops_per_sec: ops as f64 / measured_secs,
        intended_ops_per_sec: cfg.rate,
        latency: Summary::of(&all),
        latency_by_op: OP_KINDS
            .iter()
            .zip(&by_kind)
            .filter(|(_, h)| !h.is_empty())
            .map(|(k, h)| (k.name().to_string(), Summary::of(h)))
            .collect(),
        percentiles: histo::curve(&all),
        connect_latency: (cfg.workload == Workload::Ephemeral).then(|| Summary::of(&connect)),
        errors_total: errors.values().sum(),
        errors,
        connection_losses: losses,
        connect_failures: failures,
        sessions_opened: opened,
        sessions_closed: closed,
        watch_notifications: notes,
        cpu: Cpu {
            user_secs: cpu_user as f64 / 1e6,
            sys_secs: cpu_sys as f64 / 1e6,
            us_per_op: if ops > 0 {
                (cpu_user + cpu_sys) as f64 / ops as f64
            } else {
                0.0
            },
        },
        hgrm_file: cfg.hgrm.clone(),
        pool_exhausted,
        incomplete: !reasons.is_empty(),
        incomplete_reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
    };
    print!("{}", result.summary_text());
    if let Some(path) = &cfg.hgrm {
        if let Err(e) = std::fs::write(path, histo::hgrm(&all)) {
            eprintln!("paddock-loadgen: {path}: {e}");
        }
    }
    if let Some(path) = &cfg.out {
        let json = serde_json::to_string_pretty(&result).expect("serialise result");
        if let Err(e) = std::fs::write(path, json + "\n") {
            eprintln!("paddock-loadgen: {path}: {e}");
            return 1;
        }
    }
    if results.iter().any(|r| r.deadline_exceeded) {
        2
    } else if result.incomplete {
        1
    } else {
        0
    }
}
