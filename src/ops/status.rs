//! `paddock status`: what `zkServer.sh status` prints, so that health checks
//! written for ZooKeeper keep working.
//!
//! zkServer.sh prints `Using config: FILE` (on stderr), then
//! `Client port found: PORT. Client address: ADDRESS. Client SSL: false.`,
//! asks the server `srvr` and prints its `Mode:` line, exiting 0; when the
//! server does not answer it prints `Error contacting service. It is
//! probably not running.` and exits 1. The address is `clientPortAddress`,
//! or `localhost` when unset, as in the script. `srvr` is always allowed by
//! `4lw.commands.whitelist`. The wait is bounded like the script's
//! FourLetterWordMain (5 seconds).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::{Duration, Instant};

/// FourLetterWordMain's default socket timeout.
pub const TIMEOUT: Duration = Duration::from_millis(5000);

/// zkServer.sh's words when the server does not answer.
pub const NOT_RUNNING: &str = "Error contacting service. It is probably not running.";

/// The `Mode: …` line of a `srvr` answer.
pub fn mode_line(srvr: &str) -> Option<&str> {
    srvr.lines()
        .find(|line| line.contains("Mode"))
        .map(str::trim)
}

/// The address zkServer.sh asks: `clientPortAddress` or `localhost`.
pub fn client_address(client_port_address: Option<&str>) -> String {
    match client_port_address {
        Some(address) if !address.is_empty() => address.to_string(),
        _ => "localhost".to_string(),
    }
}

/// Sends a four-letter word and reads the answer to EOF, within `timeout`.
pub fn ask(host: &str, port: u16, word: &str, timeout: Duration) -> std::io::Result<String> {
    let deadline = Instant::now() + timeout;
    let mut last_error = std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!("{host} does not resolve"),
    );
    for address in (host, port).to_socket_addrs()? {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&address, left) {
            Ok(mut stream) => {
                stream.set_read_timeout(Some(left))?;
                stream.set_write_timeout(Some(left))?;
                stream.write_all(word.as_bytes())?;
                let mut answer = String::new();
                stream.read_to_string(&mut answer)?;
                return Ok(answer);
            }
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

/// `paddock status`: prints like zkServer.sh and returns its exit code.
pub fn run(config_path: Option<&Path>, tuning_path: Option<&Path>) -> i32 {
    eprintln!(
        "Using config: {}",
        config_path.map_or("(built-in default)".to_string(), |p| p
            .display()
            .to_string())
    );
    let config = match crate::config::load(config_path, tuning_path) {
        Ok((config, _warnings)) => config,
        Err(e) => {
            eprintln!("paddock status: bad configuration: {e}");
            return 2;
        }
    };
    let address = client_address(config.client_port_address.as_deref());
    let port = config.client_port;
    println!("Client port found: {port}. Client address: {address}. Client SSL: false.");
    match ask(&address, port, "srvr", TIMEOUT) {
        Ok(answer) => match mode_line(&answer) {
            Some(mode) => {
                println!("{mode}");
                0
            }
            None => {
                println!("{NOT_RUNNING}");
                1
            }
        },
        Err(_) => {
            println!("{NOT_RUNNING}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_comes_from_the_srvr_answer() {
        let answer = "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nMode: standalone\nNode count: 5\n";
        assert_eq!(mode_line(answer), Some("Mode: standalone"));
        assert_eq!(
            mode_line("srvr is not executed because it is not in the whitelist.\n"),
            None
        );
        assert_eq!(
            mode_line("This ZooKeeper instance is not currently serving requests\n"),
            None
        );
    }

    #[test]
    fn address_defaults_to_localhost() {
        assert_eq!(client_address(None), "localhost");
        assert_eq!(client_address(Some("")), "localhost");
        assert_eq!(client_address(Some("10.0.0.5")), "10.0.0.5");
    }

    #[test]
    fn a_closed_port_is_an_error_not_a_hang() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        assert!(ask("127.0.0.1", port, "srvr", Duration::from_secs(2)).is_err());
    }
}
