//! The `paddock` binary: parse the command line (`config::cli`), load
//! `zoo.cfg` (+ tuning), and run the server until SIGTERM.

use std::process::ExitCode;

use paddock::config::{
    self,
    cli::{Command, ConfigArgs},
};

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
    let command = match config::cli::parse_cli(std::env::args_os()) {
        Ok(command) => command,
        // --help and --version arrive here too; clap prints them to stdout
        // with exit code 0, and real errors to stderr with exit code 2.
        Err(error) => error.exit(),
    };
    match command {
        Command::Version => {
            println!("paddock {}", config::cli::VERSION);
            ExitCode::SUCCESS
        }
        Command::Start(args) => start(args),
        Command::Doctor(args) => ExitCode::from(paddock::ops::doctor::run(
            args.config.as_deref(),
            args.tuning.as_deref(),
        ) as u8),
        Command::Status(args) => ExitCode::from(paddock::ops::status::run(
            args.config.as_deref(),
            args.tuning.as_deref(),
        ) as u8),
    }
}

fn start(args: ConfigArgs) -> ExitCode {
    let jvm_flags = std::env::var("SERVER_JVMFLAGS").ok();
    let loaded = config::load_with_jvm_flags(
        args.config.as_deref(),
        args.tuning.as_deref(),
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
