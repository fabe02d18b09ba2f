//! `paddock doctor`: is this host fit to run this config?
//!
//! Two halves. `gather` probes the host (see `host`) into a [`Facts`]; the
//! pure [`judge`] turns facts into [`Finding`]s — ok, a warning with its fix,
//! or a failure that stops paddock from running here — and [`exit_code`]
//! maps them to 0 (fit), 1 (warnings) or 2 (cannot run). The rules are
//! tested with made-up facts; only `gather` touches the host, and it is
//! bounded: one second watching the log disk, at most three seconds of
//! fdatasyncs.
//!
//! The io_uring and memlock rules are the ones the server uses at start
//! ([`uring_problem`], [`memlock_fix`]), so `doctor` and a failed start
//! give the same cause and the same fix.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use super::host::{self, FsyncSample, Limit, Placement, UringFacts};
use crate::config::Config;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One line of the report: what was found and, for a problem, the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub topic: &'static str,
    pub text: String,
    pub fix: Option<String>,
}

fn ok(topic: &'static str, text: String) -> Finding {
    Finding {
        level: Level::Ok,
        topic,
        text,
        fix: None,
    }
}

fn warn(topic: &'static str, text: String, fix: String) -> Finding {
    Finding {
        level: Level::Warn,
        topic,
        text,
        fix: Some(fix),
    }
}

fn fail(topic: &'static str, text: String, fix: String) -> Finding {
    Finding {
        level: Level::Fail,
        topic,
        text,
        fix: Some(fix),
    }
}

/// Writes to the log's device seen over a short idle window.
#[derive(Clone, Debug, PartialEq)]
pub struct DiskActivity {
    pub device: String,
    pub writes_per_second: f64,
    pub kib_per_second: f64,
}

/// Everything `judge` decides on.
#[derive(Clone, Debug, PartialEq)]
pub struct Facts {
    /// What loading the config warned about (unknown or ignored keys).
    pub config_warnings: Vec<String>,
    pub cores: Vec<usize>,
    pub data_dir: Option<Placement>,
    pub data_log_dir: Option<Placement>,
    /// None where the device has no /proc/diskstats entry (tmpfs, overlay).
    pub log_disk: Option<DiskActivity>,
    pub fsync: Result<FsyncSample, String>,
    pub fsync_warning_ms: u64,
    pub memlock: Option<Limit>,
    pub memlock_needed_bytes: u64,
    pub memlock_raisable: bool,
    pub uring: UringFacts,
    /// (total, in use) KiB.
    pub swap_kib: Option<(u64, u64)>,
    pub allowed_cpus: Vec<usize>,
    /// The frequency governor of each configured core (None: no cpufreq).
    pub governors: Vec<(usize, Option<String>)>,
    pub transparent_hugepages: Option<String>,
    pub open_files: Option<Limit>,
}

/// Below this many open files a busy server runs out (one per client
/// connection, plus log segments and snapshots).
pub const OPEN_FILES_MIN: u64 = 4096;

/// Writes per second on the log device, with paddock doctor idle, above
/// which we say something else competes with the log's fsyncs.
pub const OTHER_WRITES_PER_SECOND_MAX: f64 = 10.0;

/// A median fdatasync above this caps one client's writes at a few dozen
/// a second (each write waits for one).
pub const FSYNC_P50_SLOW_MICROS: u64 = 20_000;

/// Why io_uring cannot be used here and the exact fix, or None when
/// `io_uring_setup` works.
pub fn uring_problem(facts: &UringFacts) -> Option<String> {
    let errno = match facts.setup {
        Ok(()) => return None,
        Err(errno) => errno,
    };
    let seccomp = facts.seccomp_mode.unwrap_or(0);
    let text = match (facts.disabled_sysctl, errno) {
        (Some(2), _) => "io_uring is disabled by the sysctl kernel.io_uring_disabled=2. \
             Fix: `sysctl -w kernel.io_uring_disabled=0` (persist it in /etc/sysctl.d/)"
            .to_string(),
        (Some(1), libc::EPERM) => {
            "io_uring is restricted to kernel.io_uring_group (kernel.io_uring_disabled=1). \
             Fix: `sysctl -w kernel.io_uring_disabled=0`, or run paddock in the group \
             whose gid is in /proc/sys/kernel/io_uring_group"
                .to_string()
        }
        (_, libc::EPERM | libc::ENOSYS) if seccomp == 2 => format!(
            "a seccomp filter blocks io_uring_setup ({}; Seccomp: 2 in /proc/self/status) — \
             the default profiles of Docker (25+), containerd and Kubernetes do. \
             Fix: run the container with `--security-opt seccomp=deploy/seccomp-io_uring.json` \
             (compose: `security_opt: [\"seccomp=deploy/seccomp-io_uring.json\"]`; \
             Kubernetes: a Localhost seccompProfile with that file); under systemd, \
             drop any SystemCallFilter= that excludes io_uring_setup/io_uring_enter/io_uring_register",
            errno_name(errno)
        ),
        (_, libc::ENOMEM) => format!(
            "io_uring_setup failed with ENOMEM: the locked-memory limit is too low for the rings. {}",
            memlock_fix()
        ),
        (_, libc::ENOSYS) => "this kernel has no io_uring (io_uring_setup: ENOSYS). \
             Fix: run on Linux 5.8 or newer built with CONFIG_IO_URING=y"
            .to_string(),
        (_, errno) => format!(
            "io_uring_setup failed ({}; seccomp mode {seccomp}, kernel.io_uring_disabled {}). \
             Fix: allow io_uring for this process (seccomp profile, LSM policy, sysctl)",
            errno_name(errno),
            facts
                .disabled_sysctl
                .map_or("absent".to_string(), |v| v.to_string())
        ),
    };
    Some(text)
}

fn errno_name(errno: i32) -> String {
    match errno {
        libc::EPERM => "EPERM".into(),
        libc::ENOSYS => "ENOSYS".into(),
        libc::ENOMEM => "ENOMEM".into(),
        libc::EINVAL => "EINVAL".into(),
        other => format!("errno {other}"),
    }
}

/// The fix for a too-low RLIMIT_MEMLOCK, for every way paddock is started.
pub fn memlock_fix() -> &'static str {
    "Fix: `LimitMEMLOCK=infinity` in the systemd unit (deploy/paddock.service), \
     `ulimit -l unlimited` in the shell that starts paddock, or \
     `--ulimit memlock=-1:-1` for docker run (compose: `ulimits: memlock: -1`)"
}

fn kib(bytes: u64) -> u64 {
    bytes / 1024
}

fn limit_text(value: Option<u64>, unit_bytes: bool) -> String {
    match value {
        None => "unlimited".into(),
        Some(v) if unit_bytes => format!("{} KiB", kib(v)),
        Some(v) => v.to_string(),
    }
}

fn millis(micros: u64) -> String {
    format!("{:.2}ms", micros as f64 / 1000.0)
}

fn placement_text(p: &Placement) -> String {
    let mount = match &p.mount {
        Some(m) => format!("{} {} on {}", m.source, m.fs_type, m.mount_point),
        None => "unknown mount".into(),
    };
    let missing = if p.existing != p.dir {
        format!(" (not created yet; measured {})", p.existing.display())
    } else {
        String::new()
    };
    format!(
        "{} is on device {}:{} ({mount}){missing}",
        p.dir.display(),
        p.major,
        p.minor
    )
}

/// The verdict rules: facts in, findings out. Pure.
pub fn judge(facts: &Facts) -> Vec<Finding> {
    let mut findings = Vec::new();

    if facts.config_warnings.is_empty() {
        findings.push(ok("config", "loads without warnings".into()));
    }
    for warning in &facts.config_warnings {
        findings.push(warn(
            "config",
            warning.clone(),
            "fix or remove the key (see the README's key table)".into(),
        ));
    }

    match uring_problem(&facts.uring) {
        None => findings.push(ok(
            "io_uring",
            format!(
                "io_uring_setup works (seccomp mode {}, kernel.io_uring_disabled {})",
                facts.uring.seccomp_mode.unwrap_or(0),
                facts
                    .uring
                    .disabled_sysctl
                    .map_or("absent".to_string(), |v| v.to_string())
            ),
        )),
        Some(problem) => {
            let (text, fix) = match problem.split_once(" Fix: ") {
                Some((text, fix)) => (text.to_string(), fix.to_string()),
                None => (problem, String::new()),
            };
            findings.push(fail("io_uring", text, fix));
        }
    }

    let needed = facts.memlock_needed_bytes;
    let cores = facts.cores.len();
    match facts.memlock {
        None => findings.push(warn(
            "memlock",
            "cannot read RLIMIT_MEMLOCK".into(),
            memlock_fix().trim_start_matches("Fix: ").into(),
        )),
        Some(limit) => {
            let enough = |v: Option<u64>| v.is_none_or(|v| v >= needed);
            let summary = format!(
                "locked-memory limit soft {} / hard {}; {cores} core(s) need {} KiB",
                limit_text(limit.soft, true),
                limit_text(limit.hard, true),
                kib(needed)
            );
            if enough(limit.soft) {
                findings.push(ok("memlock", summary));
            } else if enough(limit.hard) || facts.memlock_raisable {
                findings.push(ok(
                    "memlock",
                    format!("{summary} (paddock raises the soft limit itself at start)"),
                ));
            } else {
                findings.push(fail(
                    "memlock",
                    format!("{summary}: paddock cannot start its io_uring executors"),
                    memlock_fix().trim_start_matches("Fix: ").into(),
                ));
            }
        }
    }

    for (topic, placement) in [
        ("dataDir", &facts.data_dir),
        ("dataLogDir", &facts.data_log_dir),
    ] {
        match placement {
            None => findings.push(fail(
                topic,
                "no existing directory on its path".into(),
                format!("create {topic} or fix its path in zoo.cfg"),
            )),
            Some(p) if !p.writable => findings.push(fail(
                topic,
                format!("{} is not writable by this user", p.existing.display()),
                format!(
                    "chown the directory to the user paddock runs as, or point {topic} elsewhere"
                ),
            )),
            Some(p) => {
                let fs_type = p.mount.as_ref().map(|m| m.fs_type.as_str()).unwrap_or("");
                if topic == "dataLogDir" && matches!(fs_type, "tmpfs" | "ramfs") {
                    findings.push(warn(
                        topic,
                        format!(
                            "{}: memory, not a disk — the log does not survive a reboot",
                            placement_text(p)
                        ),
                        "mount a real disk at dataLogDir".into(),
                    ));
                } else if matches!(fs_type, "overlay" | "aufs") {
                    findings.push(warn(
                        topic,
                        format!("{}: the container's copy-on-write layer", placement_text(p)),
                        format!("mount a volume at {topic} (see deploy/docker-compose.yml)"),
                    ));
                } else {
                    findings.push(ok(topic, placement_text(p)));
                }
            }
        }
    }

    if let (Some(data), Some(log)) = (&facts.data_dir, &facts.data_log_dir) {
        if (data.major, data.minor) == (log.major, log.minor) {
            findings.push(warn(
                "devices",
                format!(
                    "dataDir and dataLogDir share device {}:{}: snapshots compete with the log's fsyncs",
                    log.major, log.minor
                ),
                "put dataLogDir on a disk of its own (a dedicated mount, as in deploy/paddock.service)"
                    .into(),
            ));
        } else {
            findings.push(ok(
                "devices",
                "dataLogDir has a device of its own (not dataDir's)".into(),
            ));
        }
        if !log.other_mounts.is_empty() {
            findings.push(warn(
                "devices",
                format!(
                    "the log's device is also mounted at {}",
                    log.other_mounts.join(", ")
                ),
                "keep other users off the log's disk".into(),
            ));
        }
    }

    match &facts.log_disk {
        Some(activity) if activity.writes_per_second > OTHER_WRITES_PER_SECOND_MAX => {
            findings.push(warn(
                "log disk",
                format!(
                    "{} took {:.0} writes/s ({:.0} KiB/s) while doctor was idle: something else writes there",
                    activity.device, activity.writes_per_second, activity.kib_per_second
                ),
                "move other writers (logs, databases, swap) off the log's disk".into(),
            ))
        }
        Some(activity) => findings.push(ok(
            "log disk",
            format!(
                "{} is quiet: {:.0} writes/s ({:.0} KiB/s) while doctor was idle",
                activity.device, activity.writes_per_second, activity.kib_per_second
            ),
        )),
        None => findings.push(ok(
            "log disk",
            "no /proc/diskstats entry for the log's device (virtual filesystem)".into(),
        )),
    }

    match &facts.fsync {
        Err(e) => findings.push(fail(
            "fsync",
            format!("cannot measure fdatasync in dataLogDir: {e}"),
            "make dataLogDir writable with free space".into(),
        )),
        Ok(sample) => {
            if let (Some(p50), Some(p99), Some(max)) = (
                sample.percentile_micros(500),
                sample.percentile_micros(990),
                sample.max_micros(),
            ) {
                let summary = format!(
                    "fdatasync of a preallocated file in dataLogDir: p50 {} p99 {} max {} ({} syncs)",
                    millis(p50),
                    millis(p99),
                    millis(max),
                    sample.micros.len()
                );
                let threshold_micros = facts.fsync_warning_ms.saturating_mul(1000);
                if p99 >= threshold_micros {
                    findings.push(warn(
                        "fsync",
                        format!(
                            "{summary}: p99 is over fsync.warningthresholdms={}",
                            facts.fsync_warning_ms
                        ),
                        "use a disk with a fast cache flush (SSD/NVMe with power-loss protection) for dataLogDir"
                            .into(),
                    ));
                } else if p50 >= FSYNC_P50_SLOW_MICROS {
                    findings.push(warn(
                        "fsync",
                        format!(
                            "{summary}: every write waits for one, so one client gets at most ~{} writes/s",
                            1_000_000 / p50.max(1)
                        ),
                        "use a faster disk for dataLogDir".into(),
                    ));
                } else {
                    findings.push(ok("fsync", summary));
                }
            } else {
                findings.push(fail(
                    "fsync",
                    "no fdatasync completed".into(),
                    "check dataLogDir's disk".into(),
                ));
            }
        }
    }

    match facts.swap_kib {
        Some((_, used)) if used > 0 => findings.push(warn(
            "swap",
            format!("{} MiB of swap in use: a swapped-out server stalls its sessions", used / 1024),
            "add memory or stop the swapping process; `sysctl vm.swappiness=1`, or `swapoff -a` on a dedicated host".into(),
        )),
        Some((total, _)) if total > 0 => findings.push(ok(
            "swap",
            format!("{} MiB of swap configured, none in use", total / 1024),
        )),
        Some(_) => findings.push(ok("swap", "no swap".into())),
        None => findings.push(ok("swap", "/proc/meminfo does not say".into())),
    }

    let allowed = host::format_cpu_list(&facts.allowed_cpus);
    let missing: Vec<usize> = facts
        .cores
        .iter()
        .copied()
        .filter(|core| !facts.allowed_cpus.contains(core))
        .collect();
    if !facts.allowed_cpus.is_empty() && !missing.is_empty() {
        findings.push(fail(
            "cpus",
            format!(
                "configured cores {} are not in this process's CPU list {allowed}",
                host::format_cpu_list(&missing)
            ),
            "list only allowed CPUs in the tuning file's cores, or widen the cpuset (taskset, cgroup, docker --cpuset-cpus)".into(),
        ));
    } else {
        findings.push(ok(
            "cpus",
            format!(
                "shards on cores {} of allowed {allowed}",
                host::format_cpu_list(&facts.cores)
            ),
        ));
    }
    let slow: Vec<String> = facts
        .governors
        .iter()
        .filter_map(|(cpu, governor)| match governor.as_deref() {
            Some("performance") | None => None,
            Some(other) => Some(format!("cpu{cpu}={other}")),
        })
        .collect();
    if !slow.is_empty() {
        findings.push(warn(
            "governor",
            format!("frequency governor {}: cores clock down between requests", slow.join(" ")),
            "`cpupower frequency-set -g performance` (or echo performance > /sys/devices/system/cpu/cpuN/cpufreq/scaling_governor)".into(),
        ));
    } else if facts.governors.iter().all(|(_, g)| g.is_none()) {
        findings.push(ok(
            "governor",
            "no cpufreq control here (virtual machine or fixed clock)".into(),
        ));
    } else {
        findings.push(ok("governor", "performance on every shard core".into()));
    }

    match facts.transparent_hugepages.as_deref() {
        Some("always") => findings.push(warn(
            "hugepages",
            "transparent huge pages: always — compaction stalls add latency spikes".into(),
            "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled".into(),
        )),
        Some(mode) => findings.push(ok("hugepages", format!("transparent huge pages: {mode}"))),
        None => findings.push(ok("hugepages", "no transparent huge page setting".into())),
    }

    match facts.open_files {
        Some(Limit {
            soft: Some(soft), ..
        }) if soft < OPEN_FILES_MIN => findings.push(warn(
            "open files",
            format!(
                "open-files limit {soft}: one per client connection, fewer than {OPEN_FILES_MIN}"
            ),
            "`LimitNOFILE=65536` in the unit, `ulimit -n 65536`, or docker `--ulimit nofile=65536:65536`".into(),
        )),
        Some(limit) => findings.push(ok(
            "open files",
            format!("open-files limit {}", limit_text(limit.soft, false)),
        )),
        None => findings.push(ok("open files", "cannot read RLIMIT_NOFILE".into())),
    }

    findings
}

/// 0 fit, 1 warnings, 2 cannot run here.
pub fn exit_code(findings: &[Finding]) -> i32 {
    match findings.iter().map(|f| f.level).max() {
        Some(Level::Fail) => 2,
        Some(Level::Warn) => 1,
        _ => 0,
    }
}

/// The report, one finding per line and its fix indented under it.
pub fn render(findings: &[Finding]) -> String {
    let mut out = String::new();
    for finding in findings {
        let tag = match finding.level {
            Level::Ok => "ok  ",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        };
        out.push_str(&format!("{tag}  {}: {}\n", finding.topic, finding.text));
        if let Some(fix) = &finding.fix {
            if !fix.is_empty() {
                out.push_str(&format!("      fix: {fix}\n"));
            }
        }
    }
    let warnings = findings.iter().filter(|f| f.level == Level::Warn).count();
    let failures = findings.iter().filter(|f| f.level == Level::Fail).count();
    out.push_str(&match (failures, warnings) {
        (0, 0) => "verdict: fit\n".to_string(),
        (0, w) => format!("verdict: runs, with {w} warning(s)\n"),
        (f, w) => format!("verdict: paddock cannot run here ({f} failure(s), {w} warning(s))\n"),
    });
    out
}

/// How long `gather` watches the log's device for other writers.
const IDLE_WATCH: Duration = Duration::from_secs(1);
/// How long, and at most how many, fdatasyncs `gather` measures.
const FSYNC_DURATION: Duration = Duration::from_secs(3);
const FSYNC_COUNT_MAX: usize = 20_000;
/// The measuring file: like a log segment, but no larger than this.
const FSYNC_FILE_BYTES_MAX: u64 = 64 << 20;

/// Probes the host for `config`. Progress goes to `progress`.
pub fn gather(config: &Config, config_warnings: Vec<String>, progress: &mut dyn Write) -> Facts {
    let cores = crate::server::shard_cores(config);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .map(|text| host::parse_mountinfo(&text))
        .unwrap_or_default();
    let data_dir = host::placement(&config.data_dir, &mounts);
    let data_log_dir = host::placement(&config.data_log_dir, &mounts);

    let log_disk = data_log_dir.as_ref().and_then(|p| {
        let (device, before) = host::disk_writes(p.major, p.minor)?;
        let _ = writeln!(progress, "watching {device} for other writers for 1s …");
        let started = Instant::now();
        std::thread::sleep(IDLE_WATCH);
        let (_, after) = host::disk_writes(p.major, p.minor)?;
        let seconds = started.elapsed().as_secs_f64().max(0.001);
        Some(DiskActivity {
            device,
            writes_per_second: after
                .writes_completed
                .saturating_sub(before.writes_completed) as f64
                / seconds,
            kib_per_second: after.sectors_written.saturating_sub(before.sectors_written) as f64
                * 512.0
                / 1024.0
                / seconds,
        })
    });

    let fsync = match &data_log_dir {
        Some(p) if p.writable => {
            let _ = writeln!(
                progress,
                "measuring fdatasync in {} for {}s …",
                p.existing.display(),
                FSYNC_DURATION.as_secs()
            );
            let bytes = (config.pre_alloc_size_kb * 1024).clamp(1 << 20, FSYNC_FILE_BYTES_MAX);
            host::measure_fdatasync(
                &p.existing,
                bytes,
                FSYNC_DURATION,
                FSYNC_COUNT_MAX,
                progress,
            )
            .map_err(|e| e.to_string())
        }
        Some(p) => Err(format!("{} is not writable", p.existing.display())),
        None => Err("dataLogDir has no existing directory on its path".into()),
    };

    let needed = host::memlock_needed_bytes(cores.len());
    Facts {
        config_warnings,
        governors: cores.iter().map(|&c| (c, host::cpu_governor(c))).collect(),
        cores,
        data_dir,
        data_log_dir,
        log_disk,
        fsync,
        fsync_warning_ms: config.fsync_warning_threshold_ms,
        memlock: host::rlimit(libc::RLIMIT_MEMLOCK),
        memlock_needed_bytes: needed,
        memlock_raisable: host::can_raise_memlock(needed),
        uring: host::uring_facts(),
        swap_kib: host::swap_kib(),
        allowed_cpus: host::allowed_cpus(),
        transparent_hugepages: host::transparent_hugepages(),
        open_files: host::rlimit(libc::RLIMIT_NOFILE),
    }
}

/// `paddock doctor`: loads the config, probes, prints the report on
/// stdout (progress on stderr) and returns the exit code.
pub fn run(config_path: Option<&Path>, tuning_path: Option<&Path>) -> i32 {
    let (config, warnings) = match crate::config::load(config_path, tuning_path) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("paddock doctor: bad configuration: {e}");
            return 2;
        }
    };
    println!(
        "paddock doctor: {}",
        config_path.map_or("built-in default configuration".to_string(), |p| format!(
            "config {}",
            p.display()
        ))
    );
    let warnings = warnings.iter().map(|w| w.to_string()).collect();
    let facts = gather(&config, warnings, &mut std::io::stderr());
    let findings = judge(&facts);
    print!("{}", render(&findings));
    exit_code(&findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::host::Mount;
    use std::path::PathBuf;

    fn placement(dir: &str, major: u32, minor: u32, fs_type: &str) -> Placement {
        Placement {
            dir: PathBuf::from(dir),
            existing: PathBuf::from(dir),
            major,
            minor,
            mount: Some(Mount {
                major,
                minor,
                mount_point: dir.into(),
                fs_type: fs_type.into(),
                source: "/dev/x".into(),
            }),
            other_mounts: Vec::new(),
            writable: true,
        }
    }

    /// A host with nothing to fix.
    fn fit() -> Facts {
        Facts {
            config_warnings: Vec::new(),
            cores: vec![0, 1],
            data_dir: Some(placement("/var/lib/paddock", 8, 1, "ext4")),
            data_log_dir: Some(placement("/var/lib/paddock-log", 8, 17, "xfs")),
            log_disk: Some(DiskActivity {
                device: "sdb1".into(),
                writes_per_second: 0.0,
                kib_per_second: 0.0,
            }),
            fsync: Ok(FsyncSample {
                micros: vec![200, 300, 400],
            }),
            fsync_warning_ms: 1000,
            memlock: Some(Limit {
                soft: None,
                hard: None,
            }),
            memlock_needed_bytes: 4 << 20,
            memlock_raisable: false,
            uring: UringFacts {
                setup: Ok(()),
                seccomp_mode: Some(0),
                disabled_sysctl: Some(0),
                memlock: None,
            },
            swap_kib: Some((0, 0)),
            allowed_cpus: vec![0, 1, 2, 3],
            governors: vec![
                (0, Some("performance".into())),
                (1, Some("performance".into())),
            ],
            transparent_hugepages: Some("madvise".into()),
            open_files: Some(Limit {
                soft: Some(65536),
                hard: Some(65536),
            }),
        }
    }

    fn levels(findings: &[Finding], topic: &str) -> Vec<Level> {
        findings
            .iter()
            .filter(|f| f.topic == topic)
            .map(|f| f.level)
            .collect()
    }

    #[test]
    fn a_fit_host_exits_zero() {
        let findings = judge(&fit());
        assert!(
            findings.iter().all(|f| f.level == Level::Ok),
            "{findings:?}"
        );
        assert_eq!(exit_code(&findings), 0);
        assert!(render(&findings).ends_with("verdict: fit\n"));
    }

    #[test]
    fn seccomp_blocking_io_uring_cannot_run_and_names_the_profile() {
        let mut facts = fit();
        facts.uring.setup = Err(libc::EPERM);
        facts.uring.seccomp_mode = Some(2);
        let findings = judge(&facts);
        assert_eq!(exit_code(&findings), 2);
        let finding = findings.iter().find(|f| f.topic == "io_uring").unwrap();
        assert!(finding.text.contains("seccomp"), "{finding:?}");
        assert!(finding
            .fix
            .as_deref()
            .unwrap()
            .contains("--security-opt seccomp=deploy/seccomp-io_uring.json"));
    }

    #[test]
    fn the_sysctl_wins_over_seccomp_when_it_disables_io_uring() {
        let facts = UringFacts {
            setup: Err(libc::EPERM),
            seccomp_mode: Some(2),
            disabled_sysctl: Some(2),
            memlock: None,
        };
        let problem = uring_problem(&facts).unwrap();
        assert!(
            problem.contains("sysctl -w kernel.io_uring_disabled=0"),
            "{problem}"
        );
        let group = UringFacts {
            disabled_sysctl: Some(1),
            seccomp_mode: Some(0),
            ..facts.clone()
        };
        assert!(uring_problem(&group).unwrap().contains("io_uring_group"));
    }

    #[test]
    fn enomem_and_enosys_have_their_own_causes() {
        let mut facts = UringFacts {
            setup: Err(libc::ENOMEM),
            seccomp_mode: Some(0),
            disabled_sysctl: None,
            memlock: None,
        };
        assert!(uring_problem(&facts)
            .unwrap()
            .contains("LimitMEMLOCK=infinity"));
        facts.setup = Err(libc::ENOSYS);
        assert!(uring_problem(&facts).unwrap().contains("no io_uring"));
        facts.setup = Ok(());
        assert_eq!(uring_problem(&facts), None);
    }

    #[test]
    fn memlock_below_need_fails_unless_paddock_can_raise_it() {
        let mut facts = fit();
        facts.memlock = Some(Limit {
            soft: Some(64 << 10),
            hard: Some(64 << 10),
        });
        let findings = judge(&facts);
        assert_eq!(levels(&findings, "memlock"), vec![Level::Fail]);
        assert_eq!(exit_code(&findings), 2);
        facts.memlock = Some(Limit {
            soft: Some(64 << 10),
            hard: None,
        });
        assert_eq!(levels(&judge(&facts), "memlock"), vec![Level::Ok]);
        facts.memlock = Some(Limit {
            soft: Some(64 << 10),
            hard: Some(64 << 10),
        });
        facts.memlock_raisable = true;
        assert_eq!(levels(&judge(&facts), "memlock"), vec![Level::Ok]);
    }

    #[test]
    fn shared_device_and_busy_disk_are_warnings() {
        let mut facts = fit();
        facts.data_log_dir = Some(placement("/var/lib/paddock-log", 8, 1, "ext4"));
        facts.log_disk = Some(DiskActivity {
            device: "sda1".into(),
            writes_per_second: 250.0,
            kib_per_second: 4000.0,
        });
        let findings = judge(&facts);
        assert_eq!(levels(&findings, "devices"), vec![Level::Warn]);
        assert_eq!(levels(&findings, "log disk"), vec![Level::Warn]);
        assert_eq!(exit_code(&findings), 1);
    }

    #[test]
    fn tmpfs_log_and_unwritable_dirs() {
        let mut facts = fit();
        facts.data_log_dir = Some(placement("/tmp/log", 0, 45, "tmpfs"));
        assert_eq!(levels(&judge(&facts), "dataLogDir"), vec![Level::Warn]);
        let mut unwritable = placement("/srv/data", 8, 1, "ext4");
        unwritable.writable = false;
        facts.data_dir = Some(unwritable);
        assert_eq!(levels(&judge(&facts), "dataDir"), vec![Level::Fail]);
    }

    #[test]
    fn slow_fsync_warns_at_the_threshold_and_at_a_slow_median() {
        let mut facts = fit();
        facts.fsync = Ok(FsyncSample {
            micros: vec![500, 600, 1_500_000],
        });
        let findings = judge(&facts);
        let fsync = findings.iter().find(|f| f.topic == "fsync").unwrap();
        assert_eq!(fsync.level, Level::Warn);
        assert!(fsync.text.contains("fsync.warningthresholdms=1000"));
        facts.fsync = Ok(FsyncSample {
            micros: vec![30_000; 10],
        });
        assert_eq!(levels(&judge(&facts), "fsync"), vec![Level::Warn]);
        facts.fsync = Err("No space left on device".into());
        assert_eq!(levels(&judge(&facts), "fsync"), vec![Level::Fail]);
    }

    #[test]
    fn config_warnings_are_warnings() {
        let mut facts = fit();
        facts.config_warnings = vec!["zoo.cfg:3: key 'tickTme': unknown key".into()];
        let findings = judge(&facts);
        assert_eq!(levels(&findings, "config"), vec![Level::Warn]);
        assert_eq!(exit_code(&findings), 1);
    }

    #[test]
    fn swap_governor_hugepages_open_files_cpus() {
        let mut facts = fit();
        facts.swap_kib = Some((4096, 2048));
        facts.governors = vec![(0, Some("powersave".into())), (1, None)];
        facts.transparent_hugepages = Some("always".into());
        facts.open_files = Some(Limit {
            soft: Some(1024),
            hard: Some(4096),
        });
        let findings = judge(&facts);
        for topic in ["swap", "governor", "hugepages", "open files"] {
            assert_eq!(levels(&findings, topic), vec![Level::Warn], "{topic}");
        }
        assert_eq!(exit_code(&findings), 1);
        facts.cores = vec![0, 7];
        let findings = judge(&facts);
        assert_eq!(levels(&findings, "cpus"), vec![Level::Fail]);
        assert!(render(&findings).contains("cannot run here"));
    }
}
