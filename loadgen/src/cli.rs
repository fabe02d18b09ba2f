//! Command line, on clap: the run flags (no subcommand, as the bench
//! scripts call it) or `compare FILES...`; the run configuration they
//! produce (serialised verbatim into the result JSON). `--help` and the
//! usage errors come from clap.

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};

/// What each measured operation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// create a new persistent node per op (unique names).
    Create,
    /// setData on an existing key.
    Set,
    /// getData on an existing key.
    Get,
    /// exists on an existing key.
    Exists,
    /// delete a node from a pool pre-created at setup (`--keys` nodes).
    Delete,
    /// getData with probability `--read-percent`, else setData.
    Mixed,
    /// one multi of `--multi-ops` setData ops on distinct keys.
    Multi,
    /// session churn: connect, create `--ephemerals` ephemeral nodes, close.
    Ephemeral,
    /// watch fan-out: `--watchers` sessions watch one node, one writer sets it.
    Watch,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::Set => "set",
            Workload::Get => "get",
            Workload::Exists => "exists",
            Workload::Delete => "delete",
            Workload::Mixed => "mixed",
            Workload::Multi => "multi",
            Workload::Ephemeral => "ephemeral",
            Workload::Watch => "watch",
        }
    }
    /// Workloads whose setup creates `--keys` nodes `<root>/k/<i>`.
    pub fn uses_keys(self) -> bool {
        matches!(
            self,
            Workload::Set | Workload::Get | Workload::Exists | Workload::Mixed | Workload::Multi
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum KeyDistribution {
    Uniform,
    #[value(alias = "zipf")]
    Zipfian,
}

/// Everything that determines a run. Written as `config` into the result JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub hosts: Vec<String>,
    pub workload: Workload,
    pub sessions: usize,
    pub inflight: usize,
    /// Open loop: total intended ops/s over all sessions. None = closed loop.
    pub rate: Option<f64>,
    pub threads: usize,
    pub warmup_secs: f64,
    pub duration_secs: f64,
    pub grace_secs: f64,
    pub data_bytes: usize,
    pub keys: usize,
    pub key_distribution: KeyDistribution,
    pub zipf_theta: f64,
    pub read_percent: u32,
    pub multi_ops: usize,
    pub watchers: usize,
    pub ephemerals: usize,
    pub root: String,
    pub session_timeout_ms: i32,
    pub cleanup: bool,
    pub seed: u64,
    pub label: Option<String>,
    pub out: Option<String>,
    pub hgrm: Option<String>,
    pub quiet: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            hosts: vec!["127.0.0.1:2181".to_string()],
            workload: Workload::Set,
            sessions: 1,
            inflight: 1,
            rate: None,
            threads: 1,
            warmup_secs: 2.0,
            duration_secs: 10.0,
            grace_secs: 30.0,
            data_bytes: 100,
            keys: 1000,
            key_distribution: KeyDistribution::Uniform,
            zipf_theta: 0.99,
            read_percent: 90,
            multi_ops: 10,
            watchers: 10,
            ephemerals: 10,
            root: "/paddock-loadgen".to_string(),
            session_timeout_ms: 10_000,
            cleanup: false,
            seed: 1,
            label: None,
            out: None,
            hgrm: None,
            quiet: false,
        }
    }
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub enum Command {
    Run(Box<RunConfig>),
    Compare {
        files: Vec<String>,
        svg: Option<String>,
        title: Option<String>,
    },
}

const WORKLOADS: &str = "\
WORKLOADS:
    create    a new persistent node per op (unique names)
    set/get/exists  on one of --keys pre-created nodes
    delete    a node of a pool of --keys nodes created at setup
              (the pool can run out: size --keys for the run)
    mixed     getData with probability --read-percent, else setData
    multi     one multi of --multi-ops setData ops
    ephemeral session churn: connect, create --ephemerals ephemeral-sequential
              nodes, closeSession, repeat; op = one create; connect latency
              reported apart
    watch     --watchers sessions watch one node, one writer sets it;
              op latency = write sent -> LAST watcher notified

EXIT: 0 ok; 1 usage or setup error; 2 deadline exceeded (results written, marked incomplete).";

/// paddock-loadgen: load generator for ZooKeeper-compatible servers (paddock, Apache ZooKeeper)
#[derive(Debug, Parser)]
#[command(
    name = "paddock-loadgen",
    args_conflicts_with_subcommands = true,
    after_help = WORKLOADS
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Print runs side by side (ops/s, percentiles, CPU/op).
    Compare {
        /// Result JSON files.
        #[arg(required = true, value_name = "FILE.json")]
        files: Vec<String>,
        /// Draw their latency-percentile curves (log nines x log latency).
        #[arg(long, value_name = "FILE")]
        svg: Option<String>,
        /// Title of the SVG.
        #[arg(long, value_name = "TEXT")]
        title: Option<String>,
    },
}

/// The run flags (defaults from `RunConfig::default`).
#[derive(Debug, Args)]
struct RunArgs {
    /// Servers, H:P[,H:P...]; sessions are spread round-robin over all.
    #[arg(long, value_name = "H:P,...", default_value = "127.0.0.1:2181")]
    hosts: String,
    /// What each measured op is (see WORKLOADS).
    #[arg(long, value_enum, default_value_t = Workload::Set)]
    workload: Workload,
    /// Sessions (connections), closed and open loop.
    #[arg(long, default_value_t = 1)]
    sessions: usize,
    /// Max requests in flight per session (pipelining); open loop default 1000: a cap, not a target.
    #[arg(long)]
    inflight: Option<usize>,
    /// Open loop: R ops/s in total at fixed intervals; latency is measured from each op's
    /// INTENDED send time (no coordinated omission). Without --rate: closed loop, S x K in flight.
    #[arg(long, value_name = "R")]
    rate: Option<f64>,
    /// OS threads driving the sessions (epoll each).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Unmeasured warm-up, seconds.
    #[arg(long, value_name = "SECS", default_value_t = 2.0)]
    warmup: f64,
    /// Measured phase, seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    duration: f64,
    /// Extra time for connect, setup, drain and cleanup; the run exits non-zero after
    /// warmup+duration+grace.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    grace: f64,
    /// Payload of create/set.
    #[arg(long, default_value_t = 100)]
    data_bytes: usize,
    /// Key space (nodes <root>/k/<i>; delete: pool size).
    #[arg(long, default_value_t = 1000)]
    keys: usize,
    /// Key choice.
    #[arg(long, value_enum, default_value_t = KeyDistribution::Uniform)]
    key_distribution: KeyDistribution,
    /// Zipfian skew, 0 < T < 1.
    #[arg(long, value_name = "T", default_value_t = 0.99)]
    zipf_theta: f64,
    /// mixed: percent of reads.
    #[arg(long, value_name = "P", default_value_t = 90)]
    read_percent: u32,
    /// multi: setData ops per multi.
    #[arg(long, default_value_t = 10)]
    multi_ops: usize,
    /// watch: watcher sessions.
    #[arg(long, default_value_t = 10)]
    watchers: usize,
    /// ephemeral: creates per session before it closes.
    #[arg(long, default_value_t = 10)]
    ephemerals: usize,
    /// Parent of everything the run creates.
    #[arg(long, value_name = "PATH", default_value = "/paddock-loadgen")]
    root: String,
    /// Requested session timeout, ms.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    session_timeout: i32,
    /// Delete what the run created (keys, pools, nodes) at the end.
    #[arg(long)]
    cleanup: bool,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Name of the run in the JSON and in compare [default: workload].
    #[arg(long, value_name = "TEXT")]
    label: Option<String>,
    /// Write the result JSON (config, percentiles, throughput, errors, CPU/op).
    #[arg(long, value_name = "FILE.json")]
    out: Option<String>,
    /// Write the percentile distribution (classic HdrHistogram text, values in
    /// microseconds) [default: FILE.json -> FILE.hgrm].
    #[arg(long, value_name = "FILE.hgrm")]
    hgrm: Option<String>,
    /// No progress lines.
    #[arg(long)]
    quiet: bool,
}

impl RunArgs {
    fn into_config(self) -> RunConfig {
        let hgrm = self.hgrm.or_else(|| {
            self.out.as_ref().map(|out| {
                let stem = out.strip_suffix(".json").unwrap_or(out);
                format!("{stem}.hgrm")
            })
        });
        RunConfig {
            hosts: self
                .hosts
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            workload: self.workload,
            sessions: self.sessions,
            inflight: self
                .inflight
                .unwrap_or(if self.rate.is_some() { 1000 } else { 1 }),
            rate: self.rate,
            threads: self.threads,
            warmup_secs: self.warmup,
            duration_secs: self.duration,
            grace_secs: self.grace,
            data_bytes: self.data_bytes,
            keys: self.keys,
            key_distribution: self.key_distribution,
            zipf_theta: self.zipf_theta,
            read_percent: self.read_percent,
            multi_ops: self.multi_ops,
            watchers: self.watchers,
            ephemerals: self.ephemerals,
            root: self.root,
            session_timeout_ms: self.session_timeout,
            cleanup: self.cleanup,
            seed: self.seed,
            label: self.label,
            out: self.out,
            hgrm,
            quiet: self.quiet,
        }
    }
}

/// What went wrong parsing: clap's own (which also carries `--help`), or a
/// combination of flags the run cannot honour.
#[derive(Debug)]
pub enum CliError {
    Clap(clap::Error),
    Invalid(String),
}

/// Parses the arguments, program name first.
pub fn parse<I, T>(args: I) -> Result<Command, CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::try_parse_from(args).map_err(CliError::Clap)?;
    match cli.command {
        Some(Sub::Compare { files, svg, title }) => Ok(Command::Compare { files, svg, title }),
        None => {
            let config = cli.run.into_config();
            validate(&config).map_err(CliError::Invalid)?;
            Ok(Command::Run(Box::new(config)))
        }
    }
}

pub fn validate(c: &RunConfig) -> Result<(), String> {
    if c.hosts.is_empty() {
        return Err("--hosts is empty".into());
    }
    for h in &c.hosts {
        if !h.contains(':') {
            return Err(format!("--hosts: {h:?} is not host:port"));
        }
    }
    if c.sessions == 0 || c.inflight == 0 || c.threads == 0 {
        return Err("--sessions, --inflight and --threads must be at least 1".into());
    }
    if let Some(r) = c.rate {
        if r.is_nan() || r <= 0.0 {
            return Err("--rate must be > 0".into());
        }
        if matches!(c.workload, Workload::Watch | Workload::Ephemeral) {
            return Err("--rate (open loop) is not supported for watch and ephemeral".into());
        }
    }
    if c.duration_secs <= 0.0 || c.warmup_secs < 0.0 || c.grace_secs < 0.0 {
        return Err("--duration must be > 0, --warmup and --grace >= 0".into());
    }
    if c.keys == 0 {
        return Err("--keys must be at least 1".into());
    }
    if c.key_distribution == KeyDistribution::Zipfian && !(c.zipf_theta > 0.0 && c.zipf_theta < 1.0)
    {
        return Err("--zipf-theta must be in (0, 1)".into());
    }
    if c.read_percent > 100 {
        return Err("--read-percent must be 0..=100".into());
    }
    if c.workload == Workload::Multi && (c.multi_ops == 0 || c.multi_ops > c.keys) {
        return Err("--multi-ops must be in 1..=--keys".into());
    }
    if c.workload == Workload::Watch && c.watchers == 0 {
        return Err("--watchers must be at least 1".into());
    }
    if c.workload == Workload::Ephemeral && c.ephemerals == 0 {
        return Err("--ephemerals must be at least 1".into());
    }
    if !c.root.starts_with('/') || c.root.len() < 2 || c.root.ends_with('/') {
        return Err("--root must be an absolute path like /paddock-loadgen".into());
    }
    if c.data_bytes > 1_000_000 {
        return Err("--data-bytes above jute.maxbuffer (1 MB)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(line: &str) -> Result<Command, CliError> {
        parse(std::iter::once("paddock-loadgen").chain(line.split_whitespace()))
    }

    #[test]
    fn parses_run_flags() {
        let Command::Run(c) = parse_line(
            "--hosts a:1,b:2 --workload mixed --sessions 8 --inflight=16 --read-percent 95 \
             --key-distribution zipfian --out r.json --cleanup",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(c.hosts, vec!["a:1", "b:2"]);
        assert_eq!(c.workload, Workload::Mixed);
        assert_eq!((c.sessions, c.inflight, c.read_percent), (8, 16, 95));
        assert_eq!(c.key_distribution, KeyDistribution::Zipfian);
        assert_eq!(c.hgrm.as_deref(), Some("r.hgrm"));
        assert!(c.cleanup);
        let Command::Run(c) = parse_line("").unwrap() else {
            panic!()
        };
        assert_eq!(*c, RunConfig::default());
    }

    #[test]
    fn open_loop_defaults_to_a_high_inflight_cap() {
        let Command::Run(c) = parse_line("--rate 5000").unwrap() else {
            panic!()
        };
        assert_eq!(c.inflight, 1000);
        assert!(matches!(
            parse_line("--rate 5 --workload watch"),
            Err(CliError::Invalid(_))
        ));
        assert!(matches!(parse_line("--bogus"), Err(CliError::Clap(_))));
    }

    #[test]
    fn compare_subcommand() {
        let cmd = parse_line("compare a.json b.json --svg out.svg --title T").unwrap();
        assert_eq!(
            cmd,
            Command::Compare {
                files: vec!["a.json".into(), "b.json".into()],
                svg: Some("out.svg".into()),
                title: Some("T".into()),
            }
        );
        assert!(parse_line("compare").is_err());
        assert!(parse_line("--sessions 2 compare a.json").is_err());
    }

    #[test]
    fn config_json_round_trips() {
        let Command::Run(c) = parse_line(
            "--workload multi --rate 1234.5 --zipf-theta 0.8 --key-distribution zipf --label x",
        )
        .unwrap() else {
            panic!()
        };
        let json = serde_json::to_string(&*c).unwrap();
        let back: RunConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, *c);
        assert!(json.contains("\"workload\":\"multi\""));
    }
}
