//! The command line of `paddock`, on clap: one variant of [`Command`] per
//! subcommand, each with its own argument struct, so a new subcommand is a
//! new variant (and a new match arm in `main.rs`) and nothing else.
//! `--help`, `help SUBCOMMAND`, `--version` and the errors for unknown or
//! missing arguments come from clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// What `version` and `--version` print after the program name.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (ZooKeeper 3.8 wire protocol)");

const ENVIRONMENT: &str = "\
Environment:
  SERVER_JVMFLAGS   -Djava.security.auth.login.config=PATH names the JAAS file,
                    as with ZooKeeper's scripts.";

/// paddock - a ZooKeeper-compatible coordination server
#[derive(Debug, Parser)]
#[command(name = "paddock", version = VERSION, after_help = ENVIRONMENT)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What the binary was asked to do.
#[derive(Clone, Debug, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Run the server. Without --config: standalone on 127.0.0.1:2181 with
    /// data in ./data. With --config: a zoo.cfg (ZooKeeper's keys; every key
    /// is implemented, ignored with a warning, or refused).
    Start(ConfigArgs),
    /// Measure this host for the config (fsync latency of dataLogDir, the
    /// devices of dataDir and dataLogDir, io_uring, memlock, swap, CPUs,
    /// huge pages, open files) and say what to fix. Exit 0 when fit, 1 with
    /// warnings, 2 when paddock cannot run here.
    Doctor(ConfigArgs),
    /// What `zkServer.sh status` prints: ask the configured server `srvr` and
    /// print its Mode. Exit 0 when it answers, 1 when it does not, 2 on a bad
    /// config.
    Status(ConfigArgs),
    /// Print the version and exit.
    Version,
}

/// The config files a subcommand reads (`start`, `doctor`, `status`).
#[derive(Clone, Debug, PartialEq, Eq, Args)]
pub struct ConfigArgs {
    /// zoo.cfg to load.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A fragment of paddock.* (or zoo.cfg) keys laid over the config, e.g.
    /// tuning/high-throughput.cfg.
    #[arg(long, value_name = "FILE")]
    pub tuning: Option<PathBuf>,
}

/// Parse the binary's arguments (with the program name first). `Err` is
/// clap's error, which also carries `--help` and `--version` output: print
/// it with `error.exit()` or `error.print()`.
pub fn parse_cli<I, T>(args: I) -> Result<Command, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    Cli::try_parse_from(args).map(|cli| cli.command)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    fn parse(line: &str) -> Result<Command, clap::Error> {
        parse_cli(std::iter::once("paddock").chain(line.split_whitespace()))
    }

    #[test]
    fn start_and_version() {
        assert_eq!(parse("version").unwrap(), Command::Version);
        assert_eq!(
            parse("start").unwrap(),
            Command::Start(ConfigArgs {
                config: None,
                tuning: None
            })
        );
        assert_eq!(
            parse("start --config zoo.cfg --tuning=tuning/t.cfg").unwrap(),
            Command::Start(ConfigArgs {
                config: Some(PathBuf::from("zoo.cfg")),
                tuning: Some(PathBuf::from("tuning/t.cfg"))
            })
        );
    }

    #[test]
    fn doctor_and_status_take_the_config() {
        assert_eq!(
            parse("doctor --config zoo.cfg").unwrap(),
            Command::Doctor(ConfigArgs {
                config: Some(PathBuf::from("zoo.cfg")),
                tuning: None
            })
        );
        assert_eq!(
            parse("status --config=zoo.cfg").unwrap(),
            Command::Status(ConfigArgs {
                config: Some(PathBuf::from("zoo.cfg")),
                tuning: None
            })
        );
    }

    #[test]
    fn help_version_and_errors() {
        assert_eq!(parse("--help").unwrap_err().kind(), ErrorKind::DisplayHelp);
        assert_eq!(
            parse("start --help").unwrap_err().kind(),
            ErrorKind::DisplayHelp
        );
        assert_eq!(
            parse("--version").unwrap_err().kind(),
            ErrorKind::DisplayVersion
        );
        assert!(parse("--version")
            .unwrap_err()
            .to_string()
            .contains(VERSION));
        assert_eq!(
            parse("start --config").unwrap_err().kind(),
            ErrorKind::InvalidValue
        );
        assert_eq!(
            parse("start --bogus").unwrap_err().kind(),
            ErrorKind::UnknownArgument
        );
        assert_eq!(
            parse("start --config a --config b").unwrap_err().kind(),
            ErrorKind::ArgumentConflict
        );
        assert_eq!(
            parse("stop").unwrap_err().kind(),
            ErrorKind::InvalidSubcommand
        );
        assert!(parse("").is_err());
    }
}
