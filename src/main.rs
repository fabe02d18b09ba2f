//! The `paddock` binary: parse the command line, load `zoo.cfg` (+ tuning),
//! and run the server until SIGTERM.

use std::process::ExitCode;

use paddock::config::{self, Command};

fn main() -> ExitCode {
    // PADDOCK_LOG (or RUST_LOG when it is unset) sets the levels, in
    // env_logger's syntax: `warn`, `debug`, `info,paddock::server=debug`.
    let filter_variable = if std::env::var_os("PADDOCK_LOG").is_some() {
        "PADDOCK_LOG"
    } else {
        "RUST_LOG"
    };
    env_logger::Builder::from_env(env_logger::Env::new().filter_or(filter_variable, "info"))
        .format_timestamp_millis()
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match config::parse_cli(&args) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            print!("{}", config::USAGE);
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!(
                "paddock {} (ZooKeeper 3.8 wire protocol)",
                env!("CARGO_PKG_VERSION")
            );
            ExitCode::SUCCESS
        }
        Command::Doctor { config, tuning } => {
            ExitCode::from(paddock::ops::doctor::run(config.as_deref(), tuning.as_deref()) as u8)
        }
        Command::Status { config, tuning } => {
            ExitCode::from(paddock::ops::status::run(config.as_deref(), tuning.as_deref()) as u8)
        }
        Command::Start {
            config: config_path,
            tuning,
        } => {
            let jvm_flags = std::env::var("SERVER_JVMFLAGS").ok();
            let loaded = config::load_with_jvm_flags(
                config_path.as_deref(),
                tuning.as_deref(),
                jvm_flags.as_deref(),
            );
            let (config, warnings) = match loaded {
                Ok(loaded) => loaded,
                Err(e) => {
                    eprintln!("paddock: bad configuration: {e}");
                    return ExitCode::from(1);
                }
            };
            for warning in &warnings {
                log::warn!("{warning}");
            }
            let cores = paddock::server::shard_cores(&config);
            let allowed = paddock::server::ensure_memlock(cores.len())
                .and_then(|()| paddock::server::ensure_io_uring());
            if let Err(message) = allowed {
                eprintln!("paddock: {message}");
                return ExitCode::from(1);
            }
            match paddock::server::run(config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("paddock: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}
