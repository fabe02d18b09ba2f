//! Probing the host: the few syscalls and `/proc`/`/sys` reads `doctor` and
//! the server's start-up checks need. Every probe returns plain facts (or
//! `None` where the host does not say); judging them is `doctor`'s job, so
//! that the rules can be tested with made-up facts.
//!
//! The text formats (`/proc/self/mountinfo`, `/proc/diskstats`,
//! `/proc/meminfo`, cpu lists) are parsed by pure functions, tested below
//! on samples.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// glommio's registered I/O buffer per executor (`io_memory`). paddock does
/// no DMA file I/O on the executors, so a small area suffices.
pub const IO_MEMORY_BYTES: usize = 1 << 20;

/// What one executor's three io_uring rings may lock besides (kernels
/// before 5.12 account ring memory to RLIMIT_MEMLOCK).
pub const RING_LOCKED_BYTES: u64 = 1 << 20;

/// The locked memory `cores` executors need.
pub fn memlock_needed_bytes(cores: usize) -> u64 {
    cores as u64 * (IO_MEMORY_BYTES as u64 + RING_LOCKED_BYTES)
}

/// A resource limit as `getrlimit` reports it; `None` = unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

fn limit_value(value: libc::rlim_t) -> Option<u64> {
    if value == libc::RLIM_INFINITY {
        None
    } else {
        Some(value)
    }
}

pub fn rlimit(resource: libc::__rlimit_resource_t) -> Option<Limit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes a plain struct we own.
    if unsafe { libc::getrlimit(resource, &mut limit) } != 0 {
        return None;
    }
    Some(Limit {
        soft: limit_value(limit.rlim_cur),
        hard: limit_value(limit.rlim_max),
    })
}

/// Whether this process may raise RLIMIT_MEMLOCK to `needed` (paddock does
/// so itself at start). Tried for real: it changes only this process's limit.
pub fn can_raise_memlock(needed: u64) -> bool {
    let wanted = libc::rlimit {
        rlim_cur: needed,
        rlim_max: needed.max(
            rlimit(libc::RLIMIT_MEMLOCK)
                .and_then(|l| l.hard)
                .unwrap_or(u64::MAX),
        ),
    };
    // SAFETY: setrlimit reads a plain struct we own.
    unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &wanted) == 0 }
}

/// What `io_uring_setup` answered: Ok, or the errno.
pub fn probe_io_uring_setup() -> Result<(), i32> {
    // struct io_uring_params is 120 bytes; zeroed asks for nothing special.
    let mut params = [0u32; 30];
    // SAFETY: io_uring_setup(entries, params) reads and writes `params`,
    // which is large enough; a returned fd is ours and closed at once.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4u32, params.as_mut_ptr()) };
    if fd < 0 {
        return Err(io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    // SAFETY: fd is a descriptor the kernel just gave us.
    unsafe { libc::close(fd as i32) };
    Ok(())
}

/// `Seccomp:` of /proc/self/status: 0 off, 1 strict, 2 filter.
pub fn seccomp_mode() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    parse_status_field(&status, "Seccomp")
}

pub fn parse_status_field(status: &str, field: &str) -> Option<u32> {
    status.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key == field).then(|| value.trim().parse().ok())?
    })
}

/// `kernel.io_uring_disabled` (Linux 6.6+): 0 allowed, 1 only for
/// `kernel.io_uring_group`, 2 disabled. None on older kernels.
pub fn io_uring_disabled() -> Option<u32> {
    fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Everything needed to explain an io_uring failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UringFacts {
    pub setup: Result<(), i32>,
    pub seccomp_mode: Option<u32>,
    pub disabled_sysctl: Option<u32>,
    pub memlock: Option<Limit>,
}

pub fn uring_facts() -> UringFacts {
    UringFacts {
        setup: probe_io_uring_setup(),
        seccomp_mode: seccomp_mode(),
        disabled_sysctl: io_uring_disabled(),
        memlock: rlimit(libc::RLIMIT_MEMLOCK),
    }
}

/// One line of /proc/self/mountinfo, the parts we report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub major: u32,
    pub minor: u32,
    pub mount_point: String,
    pub fs_type: String,
    pub source: String,
}

/// Parses /proc/self/mountinfo
/// (`id parent major:minor root mount-point options … - type source …`).
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (major, minor) = fields.get(2)?.split_once(':')?;
            let mount_point = unescape_mount(fields.get(4)?);
            let dash = fields.iter().position(|f| *f == "-")?;
            Some(Mount {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                mount_point,
                fs_type: fields.get(dash + 1)?.to_string(),
                source: fields.get(dash + 2).unwrap_or(&"").to_string(),
            })
        })
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as octal escapes.
fn unescape_mount(field: &str) -> String {
    field
        .replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// The writes a device has completed so far (/proc/diskstats).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskWrites {
    pub writes_completed: u64,
    pub sectors_written: u64,
}

/// Finds `major:minor` in /proc/diskstats
/// (`major minor name reads … writes_completed(8th) … sectors_written(10th)`).
pub fn parse_diskstats(text: &str, major: u32, minor: u32) -> Option<(String, DiskWrites)> {
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 || f[0].parse::<u32>().ok()? != major || f[1].parse::<u32>().ok()? != minor
        {
            return None;
        }
        Some((
            f[2].to_string(),
            DiskWrites {
                writes_completed: f[7].parse().ok()?,
                sectors_written: f[9].parse().ok()?,
            },
        ))
    })
}

pub fn disk_writes(major: u32, minor: u32) -> Option<(String, DiskWrites)> {
    parse_diskstats(&fs::read_to_string("/proc/diskstats").ok()?, major, minor)
}

/// Where a directory lives: its device and the mount it is under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The directory asked about.
    pub dir: PathBuf,
    /// The directory measured: `dir`, or its nearest existing ancestor
    /// when `dir` does not exist yet (paddock creates it at start).
    pub existing: PathBuf,
    pub major: u32,
    pub minor: u32,
    /// The mount holding `existing` (the longest mount point that is a
    /// prefix of it on this device), when mountinfo says.
    pub mount: Option<Mount>,
    /// Other mount points on the same device (bind mounts, subvolumes).
    pub other_mounts: Vec<String>,
    pub writable: bool,
}

pub fn nearest_existing(dir: &Path) -> Option<PathBuf> {
    let mut current = Some(dir);
    while let Some(path) = current {
        if path.exists() {
            return Some(path.to_path_buf());
        }
        current = path.parent();
    }
    None
}

pub fn placement(dir: &Path, mounts: &[Mount]) -> Option<Placement> {
    let existing = nearest_existing(dir)?;
    let existing = existing.canonicalize().unwrap_or(existing);
    let meta = fs::metadata(&existing).ok()?;
    let dev = meta.dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let on_device: Vec<&Mount> = mounts
        .iter()
        .filter(|m| m.major == major && m.minor == minor)
        .collect();
    let mount = on_device
        .iter()
        .filter(|m| existing.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.len())
        .map(|m| (*m).clone());
    let other_mounts = on_device
        .iter()
        .filter(|m| Some(&m.mount_point) != mount.as_ref().map(|own| &own.mount_point))
        .map(|m| m.mount_point.clone())
        .collect();
    let writable = {
        let c_path = std::ffi::CString::new(existing.as_os_str().as_encoded_bytes()).ok();
        // SAFETY: access reads a NUL-terminated path we own.
        c_path.is_some_and(|p| unsafe { libc::access(p.as_ptr(), libc::W_OK) } == 0)
    };
    Some(Placement {
        dir: dir.to_path_buf(),
        existing,
        major,
        minor,
        mount,
        other_mounts,
        writable,
    })
}

/// fdatasync latencies measured on a preallocated file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FsyncSample {
    pub micros: Vec<u64>,
}

impl FsyncSample {
    /// The `per_mille`-th latency (500 = p50, 990 = p99), nearest rank.
    pub fn percentile_micros(&self, per_mille: u64) -> Option<u64> {
        if self.micros.is_empty() {
            return None;
        }
        let mut sorted = self.micros.clone();
        sorted.sort_unstable();
        let rank = (per_mille * sorted.len() as u64).div_ceil(1000).max(1) as usize;
        sorted.get(rank - 1).copied()
    }

    pub fn max_micros(&self) -> Option<u64> {
        self.micros.iter().copied().max()
    }
}

/// Writes a small record then `fdatasync`s, over and over, in a file
/// preallocated like a log segment, for at most `duration` or `count_max`
/// syncs; prints a progress line to `progress` every second. The file is
/// removed afterwards.
pub fn measure_fdatasync(
    dir: &Path,
    preallocate_bytes: u64,
    duration: Duration,
    count_max: usize,
    progress: &mut dyn Write,
) -> io::Result<FsyncSample> {
    let path = dir.join(format!(".paddock-doctor-{}.tmp", std::process::id()));
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    let result = (|| {
        use std::os::fd::AsRawFd;
        // SAFETY: fallocate on a descriptor we own.
        let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, preallocate_bytes as i64) };
        if rc != 0 {
            file.set_len(preallocate_bytes)?;
        }
        file.sync_all()?;
        // A txn record of a small create: ~100 bytes.
        let record = [0x5au8; 128];
        let mut sample = FsyncSample::default();
        let started = Instant::now();
        let mut last_report = started;
        let mut offset = 0u64;
        while started.elapsed() < duration && sample.micros.len() < count_max {
            if offset + record.len() as u64 > preallocate_bytes {
                offset = 0;
            }
            file.write_all_at(&record, offset)?;
            offset += record.len() as u64;
            let before = Instant::now();
            file.sync_data()?;
            sample.micros.push(before.elapsed().as_micros() as u64);
            if last_report.elapsed() >= Duration::from_secs(1) {
                last_report = Instant::now();
                let _ = writeln!(
                    progress,
                    "  … {} fdatasyncs in {:.0}s",
                    sample.micros.len(),
                    started.elapsed().as_secs_f64()
                );
            }
        }
        Ok(sample)
    })();
    let _ = fs::remove_file(&path);
    result
}

/// Swap from /proc/meminfo, in KiB: (total, in use).
pub fn parse_swap_kib(meminfo: &str) -> Option<(u64, u64)> {
    let field = |name: &str| -> Option<u64> {
        meminfo.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse().ok()
        })
    };
    let total = field("SwapTotal")?;
    let free = field("SwapFree")?;
    Some((total, total.saturating_sub(free)))
}

pub fn swap_kib() -> Option<(u64, u64)> {
    parse_swap_kib(&fs::read_to_string("/proc/meminfo").ok()?)
}

/// The CPUs this process may run on.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: sched_getaffinity writes the set we own.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
            .collect()
    }
}

/// `scaling_governor` of a CPU; None where there is no cpufreq (most VMs).
pub fn cpu_governor(cpu: usize) -> Option<String> {
    fs::read_to_string(format!(
        "/sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor"
    ))
    .ok()
    .map(|s| s.trim().to_string())
}

/// The bracketed choice of a /sys "a [b] c" file.
pub fn parse_bracketed(text: &str) -> Option<String> {
    let start = text.find('[')?;
    let end = text[start..].find(']')? + start;
    Some(text[start + 1..end].to_string())
}

pub fn transparent_hugepages() -> Option<String> {
    parse_bracketed(&fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").ok()?)
}

/// Formats a CPU list the way the kernel does ("0-3,6").
pub fn format_cpu_list(cpus: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut index = 0;
    while index < cpus.len() {
        let start = cpus[index];
        let mut end = start;
        while index + 1 < cpus.len() && cpus[index + 1] == end + 1 {
            index += 1;
            end = cpus[index];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        index += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines_give_device_mount_and_type() {
        let text = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 8:17 / /var/lib/zk\\040log rw,noatime shared:9 - xfs /dev/sdb1 rw,attr2
40 22 0:45 / /tmp rw - tmpfs tmpfs rw
";
        let mounts = parse_mountinfo(text);
        assert_eq!(mounts.len(), 3);
        assert_eq!(mounts[1].mount_point, "/var/lib/zk log");
        assert_eq!((mounts[1].major, mounts[1].minor), (8, 17));
        assert_eq!(mounts[1].fs_type, "xfs");
        assert_eq!(mounts[1].source, "/dev/sdb1");
        assert_eq!(mounts[2].fs_type, "tmpfs");
    }

    #[test]
    fn diskstats_finds_the_device_writes() {
        let text = "   8       0 sda 100 0 800 10 200 5 4000 30 0 40 40 0 0 0 0\n   8       1 sda1 90 0 700 9 150 5 3000 20 0 30 30\n";
        let (name, writes) = parse_diskstats(text, 8, 1).unwrap();
        assert_eq!(name, "sda1");
        assert_eq!(writes.writes_completed, 150);
        assert_eq!(writes.sectors_written, 3000);
        assert!(parse_diskstats(text, 8, 2).is_none());
    }

    #[test]
    fn swap_and_status_fields_parse() {
        let meminfo = "MemTotal: 100 kB\nSwapTotal:  2048 kB\nSwapFree:  1024 kB\n";
        assert_eq!(parse_swap_kib(meminfo), Some((2048, 1024)));
        let status = "Name:\tx\nSeccomp:\t2\nSeccomp_filters:\t1\n";
        assert_eq!(parse_status_field(status, "Seccomp"), Some(2));
        assert_eq!(parse_status_field(status, "Seccomp_filters"), Some(1));
    }

    #[test]
    fn bracketed_choice_and_cpu_lists() {
        assert_eq!(
            parse_bracketed("always [madvise] never\n").as_deref(),
            Some("madvise")
        );
        assert_eq!(format_cpu_list(&[0, 1, 2, 3, 6]), "0-3,6");
        assert_eq!(format_cpu_list(&[1]), "1");
        assert_eq!(format_cpu_list(&[]), "");
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let sample = FsyncSample {
            micros: (1..=100).collect(),
        };
        assert_eq!(sample.percentile_micros(500), Some(50));
        assert_eq!(sample.percentile_micros(990), Some(99));
        assert_eq!(sample.max_micros(), Some(100));
        assert_eq!(FsyncSample::default().percentile_micros(500), None);
    }

    #[test]
    fn fdatasync_measure_is_bounded_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let mut progress = Vec::new();
        let sample = measure_fdatasync(
            dir.path(),
            1 << 16,
            Duration::from_secs(2),
            5,
            &mut progress,
        )
        .unwrap();
        assert_eq!(sample.micros.len(), 5);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
