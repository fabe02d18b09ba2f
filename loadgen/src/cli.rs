//! Command line: a small hand-written parser (no extra dependency), the run
//! configuration it produces (serialised verbatim into the result JSON), and
//! `--help`.

use serde::{Deserialize, Serialize};

/// What each measured operation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    pub fn parse(s: &str) -> Result<Workload, String> {
        Ok(match s {
            "create" => Workload::Create,
            "set" => Workload::Set,
            "get" => Workload::Get,
            "exists" => Workload::Exists,
            "delete" => Workload::Delete,
            "mixed" => Workload::Mixed,
            "multi" => Workload::Multi,
            "ephemeral" => Workload::Ephemeral,
            "watch" => Workload::Watch,
            _ => return Err(format!("unknown workload {s:?}")),
        })
    }
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyDistribution {
    Uniform,
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
    Help,
}

pub const HELP: &str = "\
paddock-loadgen: load generator for ZooKeeper-compatible servers (paddock, Apache ZooKeeper)

USAGE:
    paddock-loadgen [RUN FLAGS]
    paddock-loadgen compare A.json B.json ... [--svg out.svg] [--title TEXT]

RUN FLAGS:
    --hosts H:P[,H:P...]     servers; sessions are spread round-robin over all   [127.0.0.1:2181]
    --workload W             create | set | get | exists | delete | mixed | multi |
                             ephemeral | watch                                    [set]
                               create    a new persistent node per op (unique names)
                               set/get/exists  on one of --keys pre-created nodes
                               delete    a node of a pool of --keys nodes created at setup
                                         (the pool can run out: size --keys for the run)
                               mixed     getData with probability --read-percent, else setData
                               multi     one multi of --multi-ops setData ops
                               ephemeral session churn: connect, create --ephemerals
                                         ephemeral-sequential nodes, closeSession, repeat;
                                         op = one create; connect latency reported apart
                               watch     --watchers sessions watch one node, one writer sets
                                         it; op latency = write sent -> LAST watcher notified
    --sessions S             sessions (connections), closed and open loop           [1]
    --inflight K             max requests in flight per session (pipelining)       [1]
                             (open loop default 1000: a cap, not a target)
    --rate R                 open loop: R ops/s in total at fixed intervals; latency is
                             measured from each op's INTENDED send time (no coordinated
                             omission). Without --rate: closed loop, S x K in flight.
    --threads N              OS threads driving the sessions (epoll each)           [1]
    --warmup SECS            unmeasured warm-up                                     [2]
    --duration SECS          measured phase                                         [10]
    --grace SECS             extra time for connect, setup, drain and cleanup; the run
                             exits non-zero after warmup+duration+grace             [30]
    --data-bytes N           payload of create/set                                  [100]
    --keys N                 key space (nodes <root>/k/<i>; delete: pool size)       [1000]
    --key-distribution D     uniform | zipfian                                      [uniform]
    --zipf-theta T           zipfian skew, 0 < T < 1                                [0.99]
    --read-percent P         mixed: percent of reads                                [90]
    --multi-ops N            multi: setData ops per multi                           [10]
    --watchers W             watch: watcher sessions                                [10]
    --ephemerals N           ephemeral: creates per session before it closes        [10]
    --root PATH              parent of everything the run creates       [/paddock-loadgen]
    --session-timeout MS     requested session timeout                              [10000]
    --cleanup                delete what the run created (keys, pools, nodes) at the end
    --seed N                 random seed                                            [1]
    --label TEXT             name of the run in the JSON and in compare             [workload]
    --out FILE.json          write the result JSON (config, percentiles, throughput,
                             errors, CPU/op)
    --hgrm FILE.hgrm         write the percentile distribution (classic HdrHistogram
                             text, values in microseconds) [FILE.json -> FILE.hgrm]
    --quiet                  no progress lines
    -h, --help               this text

COMPARE:
    compare FILES...         print runs side by side (ops/s, percentiles, CPU/op)
    --svg FILE               draw their latency-percentile curves (log nines x log latency)
    --title TEXT             title of the SVG

EXIT: 0 ok; 1 usage or setup error; 2 deadline exceeded (results written, marked incomplete).
";

fn value<'a>(args: &'a [String], i: &mut usize, flag: &str) -> Result<&'a str, String> {
    *i += 1;
    args.get(*i)
        .map(|s| s.as_str())
        .ok_or_else(|| format!("{flag} needs a value"))
}

fn num<T: std::str::FromStr>(s: &str, flag: &str) -> Result<T, String> {
    s.parse::<T>()
        .map_err(|_| format!("{flag}: bad value {s:?}"))
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, String> {
    if args.first().map(|s| s.as_str()) == Some("compare") {
        return parse_compare(&args[1..]);
    }
    let mut c = RunConfig::default();
    let mut inflight_set = false;
    let mut i = 0;
    while i < args.len() {
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match args[i].split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (args[i].clone(), None),
        };
        let owned;
        let v = |i: &mut usize| -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => value(args, i, &flag).map(str::to_string),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--hosts" => {
                owned = v(&mut i)?;
                c.hosts = owned
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
            }
            "--workload" => c.workload = Workload::parse(&v(&mut i)?)?,
            "--sessions" => c.sessions = num(&v(&mut i)?, &flag)?,
            "--inflight" => {
                c.inflight = num(&v(&mut i)?, &flag)?;
                inflight_set = true;
            }
            "--rate" => c.rate = Some(num(&v(&mut i)?, &flag)?),
            "--threads" => c.threads = num(&v(&mut i)?, &flag)?,
            "--warmup" => c.warmup_secs = num(&v(&mut i)?, &flag)?,
            "--duration" => c.duration_secs = num(&v(&mut i)?, &flag)?,
            "--grace" => c.grace_secs = num(&v(&mut i)?, &flag)?,
            "--data-bytes" => c.data_bytes = num(&v(&mut i)?, &flag)?,
            "--keys" => c.keys = num(&v(&mut i)?, &flag)?,
            "--key-distribution" => {
                c.key_distribution = match v(&mut i)?.as_str() {
                    "uniform" => KeyDistribution::Uniform,
                    "zipfian" | "zipf" => KeyDistribution::Zipfian,
                    o => return Err(format!("--key-distribution: {o:?} is not uniform|zipfian")),
                }
            }
            "--zipf-theta" => c.zipf_theta = num(&v(&mut i)?, &flag)?,
            "--read-percent" => c.read_percent = num(&v(&mut i)?, &flag)?,
            "--multi-ops" => c.multi_ops = num(&v(&mut i)?, &flag)?,
            "--watchers" => c.watchers = num(&v(&mut i)?, &flag)?,
            "--ephemerals" => c.ephemerals = num(&v(&mut i)?, &flag)?,
            "--root" => c.root = v(&mut i)?,
            "--session-timeout" => c.session_timeout_ms = num(&v(&mut i)?, &flag)?,
            "--cleanup" => c.cleanup = true,
            "--seed" => c.seed = num(&v(&mut i)?, &flag)?,
            "--label" => c.label = Some(v(&mut i)?),
            "--out" => c.out = Some(v(&mut i)?),
            "--hgrm" => c.hgrm = Some(v(&mut i)?),
            "--quiet" => c.quiet = true,
            other => return Err(format!("unknown flag {other:?} (see --help)")),
        }
        i += 1;
    }
    if c.rate.is_some() && !inflight_set {
        c.inflight = 1000;
    }
    if c.hgrm.is_none() {
        if let Some(out) = &c.out {
            let stem = out.strip_suffix(".json").unwrap_or(out);
            c.hgrm = Some(format!("{stem}.hgrm"));
        }
    }
    validate(&c)?;
    Ok(Command::Run(Box::new(c)))
}

fn parse_compare(args: &[String]) -> Result<Command, String> {
    let mut files = Vec::new();
    let mut svg = None;
    let mut title = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--svg" => svg = Some(value(args, &mut i, "--svg")?.to_string()),
            "--title" => title = Some(value(args, &mut i, "--title")?.to_string()),
            f if f.starts_with("--") => return Err(format!("compare: unknown flag {f:?}")),
            f => files.push(f.to_string()),
        }
        i += 1;
    }
    if files.is_empty() {
        return Err("compare needs at least one result JSON".into());
    }
    Ok(Command::Compare { files, svg, title })
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

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn parses_run_flags() {
        let Command::Run(c) = parse(&args(
            "--hosts a:1,b:2 --workload mixed --sessions 8 --inflight=16 --read-percent 95 \
             --key-distribution zipfian --out r.json --cleanup",
        ))
        .unwrap() else {
            panic!()
        };
        assert_eq!(c.hosts, vec!["a:1", "b:2"]);
        assert_eq!(c.workload, Workload::Mixed);
        assert_eq!((c.sessions, c.inflight, c.read_percent), (8, 16, 95));
        assert_eq!(c.key_distribution, KeyDistribution::Zipfian);
        assert_eq!(c.hgrm.as_deref(), Some("r.hgrm"));
        assert!(c.cleanup);
    }

    #[test]
    fn open_loop_defaults_to_a_high_inflight_cap() {
        let Command::Run(c) = parse(&args("--rate 5000")).unwrap() else {
            panic!()
        };
        assert_eq!(c.inflight, 1000);
        assert!(parse(&args("--rate 5 --workload watch")).is_err());
        assert!(parse(&args("--bogus")).is_err());
    }

    #[test]
    fn help_mentions_every_flag() {
        let src = include_str!("cli.rs");
        let parser =
            &src[src.find("match flag.as_str()").unwrap()..src.find("fn parse_compare").unwrap()];
        for part in parser
            .split('"')
            .filter(|p| p.starts_with("--") && !p.contains(' '))
        {
            assert!(HELP.contains(part), "--help lacks {part}");
        }
    }

    #[test]
    fn config_json_round_trips() {
        let Command::Run(c) = parse(&args(
            "--workload multi --rate 1234.5 --zipf-theta 0.8 --key-distribution zipfian --label x",
        ))
        .unwrap() else {
            panic!()
        };
        let json = serde_json::to_string(&*c).unwrap();
        let back: RunConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, *c);
        assert!(json.contains("\"workload\":\"multi\""));
    }
}
