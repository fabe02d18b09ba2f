//! ZooKeeper's AdminServer (`http://host:8080/commands/<name>`) on its own
//! thread, so that no HTTP client can ever stall a shard's reactor.
//!
//! Design:
//! - one plain OS thread accepts on `admin.serverAddress:admin.serverPort`;
//!   each connection gets a short-lived thread (at most
//!   [`MAX_CONNECTIONS`] at once; past that the connection is answered 503
//!   and closed). Requests are parsed with `httparse` (hyper's parser): the
//!   server needs GET, keep-alive and an idle timeout (`admin.idleTimeout`)
//!   and nothing else, which neither warrants an async runtime next to
//!   glommio nor fits `tiny_http` (it has no idle timeout, so an idle client
//!   would pin a thread forever).
//! - stats come from the shards the way the four-letter words get them: a
//!   [`ShardQuery::Stats`] travels over shard 0's query channel, shard 0
//!   gathers every shard's report (`admin::server_stats`) and sends back a
//!   `ServerStats`. Nothing here touches a shard's state or takes a lock a
//!   shard takes; server-wide counters are atomics.
//! - the answers themselves are pure (`crate::admin_server`).
//! - a port that cannot be bound is logged and the server goes on serving
//!   clients, as ZooKeeper does (three servers on one host all default to
//!   8080).

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use crate::admin_server::{self, Context, Effect, Route};

use super::four_letter::{self, ConfInfo, ServerMode, ServerStats};
use super::{ShardQuery, Shared};

/// Connections served at once; more are answered 503.
pub const MAX_CONNECTIONS: usize = 16;
/// How long a request waits for the shards' stats.
const STATS_DEADLINE: Duration = Duration::from_secs(5);
/// Largest request head read; a longer one is answered 431.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Largest request body read and dropped (GET has none).
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Binds the AdminServer and starts its thread; logs and returns when it
/// is disabled or its port cannot be bound.
pub fn start(shared: Arc<Shared>) {
    let config = &shared.config;
    if !config.admin_enable_server {
        log::info!("AdminServer disabled (admin.enableServer=false)");
        return;
    }
    let address = format!(
        "{}:{}",
        config.admin_server_address, config.admin_server_port
    );
    let listener = match bind(&address) {
        Ok(listener) => listener,
        Err(e) => {
            log::warn!(
                "Problem starting AdminServer on address {}, port {} and command URL {}: {e}; \
                 serving clients without it",
                config.admin_server_address,
                config.admin_server_port,
                config.admin_command_url
            );
            return;
        }
    };
    log::info!(
        "Started AdminServer on address {}, port {} and command URL {}",
        config.admin_server_address,
        config.admin_server_port,
        config.admin_command_url
    );
    let spawned = std::thread::Builder::new()
        .name("paddock-admin".to_string())
        .spawn(move || accept_loop(listener, shared, handle));
    if let Err(e) = spawned {
        log::warn!("cannot start the AdminServer thread: {e}");
    }
}

/// Serves `/metrics` on `metricsProvider.httpHost:httpPort` when the
/// Prometheus provider is configured; a busy port is logged, not fatal.
pub fn start_metrics(shared: Arc<Shared>) {
    let config = &shared.config;
    if config.metrics_provider_class.is_none() {
        return;
    }
    let address = format!("{}:{}", config.metrics_http_host, config.metrics_http_port);
    let listener = match bind(&address) {
        Ok(listener) => listener,
        Err(e) => {
            log::warn!(
                "Cannot start the Prometheus metrics endpoint on {address}: {e}; \
                 serving clients without it"
            );
            return;
        }
    };
    log::info!("Prometheus metrics on http://{address}/metrics");
    let spawned = std::thread::Builder::new()
        .name("paddock-metrics".to_string())
        .spawn(move || accept_loop(listener, shared, handle_metrics));
    if let Err(e) = spawned {
        log::warn!("cannot start the metrics thread: {e}");
    }
}

/// `/metrics`: the exposition text of the stats every shard reports.
fn handle_metrics(target: &str, shared: &Shared) -> Response {
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    if path != "/metrics" {
        return Response::text(404, "Not Found", "only /metrics is served here\n");
    }
    let Some(stats) = ask_shards(shared) else {
        return Response::text(503, "Service Unavailable", "the shards did not answer\n");
    };
    let log = &shared.log_stats;
    let sample = crate::metrics::Sample {
        batch_txns: log.batch_txns.sample(),
        flush_micros: log.flush_micros.sample(),
        shard_cpu_seconds: shard_cpu_seconds(),
        shard_applied_batches: shared
            .applied_batches
            .iter()
            .enumerate()
            .map(|(shard, applied)| (shard, applied.load(Ordering::Acquire)))
            .collect(),
        shard_requests: shared
            .shard_requests
            .iter()
            .enumerate()
            .map(|(shard, count)| (shard, count.0.load(Ordering::Relaxed)))
            .collect(),
    };
    let (text, content_type) = crate::metrics::render(&stats, &sample);
    Response {
        status: 200,
        reason: "OK",
        content_type: Some(if content_type.contains("0.0.4") {
            "text/plain; version=0.0.4; charset=utf-8"
        } else {
            "text/plain; charset=utf-8"
        }),
        body: text.into_bytes(),
        extra_headers: Vec::new(),
    }
}

/// CPU seconds of each shard thread (named `paddock-shard-N` by the
/// executor builder), from /proc/self/task/*/stat.
fn shard_cpu_seconds() -> Vec<(usize, f64)> {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks <= 0 {
        return Vec::new();
    }
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // "tid (comm) state ppid …": comm may hold spaces, so split at ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let Some(shard) = stat[open + 1..close]
            .strip_prefix("paddock-shard-")
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the line; 12 and 13 here.
        let (Some(user), Some(system)) = (
            fields.get(11).and_then(|v| v.parse::<u64>().ok()),
            fields.get(12).and_then(|v| v.parse::<u64>().ok()),
        ) else {
            continue;
        };
        out.push((shard, (user + system) as f64 / ticks as f64));
    }
    out.sort_by_key(|(shard, _)| *shard);
    out
}

fn bind(address: &str) -> io::Result<TcpListener> {
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address");
    for resolved in address.to_socket_addrs()? {
        match TcpListener::bind(resolved) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Answers one request target.
type Handler = fn(&str, &Shared) -> Response;

fn accept_loop(listener: TcpListener, shared: Arc<Shared>, handler: Handler) {
    let active = Arc::new(AtomicUsize::new(0));
    // Non-blocking accept with a short poll, so the thread notices shutdown.
    if let Err(e) = listener.set_nonblocking(true) {
        log::warn!("AdminServer: {e}");
        return;
    }
    while !shared.shutdown.load(Ordering::Relaxed) {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wait_readable(&listener, Duration::from_millis(500));
                continue;
            }
            Err(e) => {
                log::debug!("AdminServer accept: {e}");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if stream.set_nonblocking(false).is_err() {
            continue;
        }
        if active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::AcqRel);
            let mut stream = stream;
            let _ = write_response(
                &mut stream,
                &Response::text(503, "Service Unavailable", "too many connections\n"),
                false,
                false,
            );
            continue;
        }
        let shared = shared.clone();
        let active = active.clone();
        let spawned = std::thread::Builder::new()
            .name("paddock-admin-conn".to_string())
            .spawn(move || {
                serve_connection(stream, &shared, handler);
                active.fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            // The closure (and its count) never ran.
            log::warn!("AdminServer: cannot start a connection thread");
        }
    }
}

fn wait_readable(listener: &TcpListener, timeout: Duration) {
    use std::os::fd::AsRawFd;
    let mut fd = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd we own, for the duration of the call.
    unsafe {
        libc::poll(&mut fd, 1, timeout.as_millis() as libc::c_int);
    }
}

struct Response {
    status: u16,
    reason: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    extra_headers: Vec<(&'static str, String)>,
}

impl Response {
    fn text(status: u16, reason: &'static str, body: &str) -> Response {
        Response {
            status,
            reason,
            content_type: Some("text/plain;charset=utf-8"),
            body: body.as_bytes().to_vec(),
            extra_headers: Vec::new(),
        }
    }

    fn json(value: &serde_json::Value) -> Response {
        let mut body = serde_json::to_vec_pretty(value).unwrap_or_default();
        body.push(b'\n');
        Response {
            status: 200,
            reason: "OK",
            content_type: Some("application/json"),
            body,
            extra_headers: Vec::new(),
        }
    }
}

/// Serves requests on one connection until the client closes, asks to
/// close, sends something unreadable, or stays idle past `admin.idleTimeout`.
fn serve_connection(mut stream: TcpStream, shared: &Shared, handler: Handler) {
    let idle = Duration::from_millis(shared.config.admin_idle_timeout_ms.max(1));
    if stream.set_read_timeout(Some(idle)).is_err() || stream.set_write_timeout(Some(idle)).is_err()
    {
        return;
    }
    let _ = stream.set_nodelay(true);
    let mut buffer: Vec<u8> = Vec::with_capacity(1024);
    loop {
        let head = match read_head(&mut stream, &mut buffer) {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(response) => {
                let _ = write_response(&mut stream, &response, false, false);
                return;
            }
        };
        // Drop a body, if any (GET has none; others are refused below).
        if head.body_bytes > MAX_BODY_BYTES {
            let response = Response::text(413, "Payload Too Large", "request body too large\n");
            let _ = write_response(&mut stream, &response, false, false);
            return;
        }
        if !drop_body(&mut stream, &mut buffer, head.body_bytes) {
            return;
        }
        let response = match head.method.as_str() {
            "GET" | "HEAD" => handler(&head.target, shared),
            _ => {
                let mut response = Response::text(
                    405,
                    "Method Not Allowed",
                    &format!("HTTP method {} is not supported by this URL\n", head.method),
                );
                response
                    .extra_headers
                    .push(("Allow", "GET, HEAD".to_string()));
                response
            }
        };
        if write_response(
            &mut stream,
            &response,
            head.keep_alive,
            head.method == "HEAD",
        )
        .is_err()
            || !head.keep_alive
        {
            return;
        }
    }
}

struct Head {
    method: String,
    target: String,
    keep_alive: bool,
    body_bytes: usize,
}

/// Reads one request head; None when the client closed or went idle
/// before sending one.
fn read_head(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<Option<Head>, Response> {
    loop {
        if !buffer.is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut request = httparse::Request::new(&mut headers);
            match request.parse(buffer) {
                Ok(httparse::Status::Complete(used)) => {
                    let head = head_of(&request)?;
                    buffer.drain(..used);
                    return Ok(Some(head));
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => {
                    return Err(Response::text(400, "Bad Request", &format!("{e}\n")));
                }
            }
            if buffer.len() > MAX_HEAD_BYTES {
                return Err(Response::text(
                    431,
                    "Request Header Fields Too Large",
                    "request head too large\n",
                ));
            }
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(None),
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // Idle past admin.idleTimeout, or reset: close quietly.
            Err(_) => return Ok(None),
        }
    }
}

fn head_of(request: &httparse::Request<'_, '_>) -> Result<Head, Response> {
    let method = request.method.unwrap_or("GET").to_string();
    let target = request.path.unwrap_or("/").to_string();
    let http_1_0 = request.version == Some(0);
    let mut keep_alive = !http_1_0;
    let mut body_bytes = 0usize;
    for header in request.headers.iter() {
        let value = String::from_utf8_lossy(header.value);
        if header.name.eq_ignore_ascii_case("connection") {
            let value = value.to_ascii_lowercase();
            if value.contains("close") {
                keep_alive = false;
            } else if value.contains("keep-alive") {
                keep_alive = true;
            }
        } else if header.name.eq_ignore_ascii_case("content-length") {
            body_bytes = value
                .trim()
                .parse()
                .map_err(|_| Response::text(400, "Bad Request", "bad Content-Length\n"))?;
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(Response::text(
                411,
                "Length Required",
                "chunked request bodies are not accepted\n",
            ));
        }
    }
    Ok(Head {
        method,
        target,
        keep_alive,
        body_bytes,
    })
}

fn drop_body(stream: &mut TcpStream, buffer: &mut Vec<u8>, mut bytes: usize) -> bool {
    let buffered = bytes.min(buffer.len());
    buffer.drain(..buffered);
    bytes -= buffered;
    let mut chunk = [0u8; 4096];
    while bytes > 0 {
        match stream.read(&mut chunk[..bytes.min(4096)]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => bytes -= n,
        }
    }
    true
}

fn write_response(
    stream: &mut TcpStream,
    response: &Response,
    keep_alive: bool,
    head_only: bool,
) -> io::Result<()> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", response.status, response.reason);
    if let Some(content_type) = response.content_type {
        out.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    for (name, value) in &response.extra_headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    out.push_str(if keep_alive {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    let mut bytes = out.into_bytes();
    if !head_only {
        bytes.extend_from_slice(&response.body);
    }
    stream.write_all(&bytes)?;
    stream.flush()
}

/// One request target's response.
fn handle(target: &str, shared: &Shared) -> Response {
    let config = &shared.config;
    match admin_server::route(target, &config.admin_command_url) {
        Route::NotFound => Response {
            status: 404,
            reason: "Not Found",
            content_type: Some("text/html;charset=iso-8859-1"),
            body: b"<html><body><h2>HTTP ERROR 404 Not Found</h2></body></html>\n".to_vec(),
            extra_headers: Vec::new(),
        },
        Route::Index => Response {
            status: 200,
            reason: "OK",
            content_type: None,
            body: admin_server::index_html(&config.admin_command_url).into_bytes(),
            extra_headers: Vec::new(),
        },
        Route::Command { name, params } => {
            let Some(command) = admin_server::find(&name) else {
                return Response::json(&admin_server::error_answer(
                    &name,
                    &format!("Unknown command: {name}"),
                ));
            };
            let effect = match admin_server::effect(command, &params) {
                Ok(effect) => effect,
                Err(error) => {
                    return Response::json(&admin_server::error_answer(command.primary, &error))
                }
            };
            let stats = match ask_shards(shared) {
                Some(stats) => stats,
                None if command.server_required => {
                    return Response::json(&admin_server::error_answer(
                        command.primary,
                        admin_server::NOT_SERVING,
                    ))
                }
                None => local_stats(shared),
            };
            // An ensemble member that is not serving (electing, syncing)
            // answers as ZooKeeper does while its zkServer is not running.
            if command.server_required && !stats.serving {
                return Response::json(&admin_server::error_answer(
                    command.primary,
                    admin_server::NOT_SERVING,
                ));
            }
            let mut stats = stats;
            match effect {
                Effect::None => {}
                Effect::ResetServerStats => shared.stats.reset(),
                Effect::ResetConnectionStats => {
                    for query in &shared.queries {
                        let _ = query.send(ShardQuery::ResetConnectionStats);
                    }
                }
                Effect::SetTraceMask(mask) => {
                    shared.stats.set_trace_mask(mask);
                    stats.trace_mask = mask;
                }
            }
            Response::json(&admin_server::answer(command, &stats, &context(shared)))
        }
    }
}

/// Asks shard 0 to gather every shard's stats; None when it does not answer
/// in time (stopping, or stuck).
fn ask_shards(shared: &Shared) -> Option<ServerStats> {
    let (reply, answer) = flume::bounded(1);
    shared
        .queries
        .first()?
        .send(ShardQuery::Stats(reply))
        .ok()?;
    answer.recv_timeout(STATS_DEADLINE).ok()
}

/// What is known without the shards (for commands that answer while the
/// server is not serving).
fn local_stats(shared: &Shared) -> ServerStats {
    let mut stats = ServerStats::new(
        four_letter::full_version(),
        ServerMode::Standalone,
        ConfInfo::from_config(&shared.config),
    );
    super::admin::apply_ensemble_view(&mut stats, shared);
    stats.serving = false;
    stats.environment = four_letter::gather_environment();
    stats.trace_mask = shared.stats.trace_mask();
    stats
}

fn context(shared: &Shared) -> Context {
    let config = &shared.config;
    let initial_configuration = config
        .config_path
        .as_ref()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .unwrap_or_default();
    let environment = four_letter::gather_environment();
    let mut system_properties: Vec<(String, String)> = environment
        .iter()
        .filter(|(key, _)| !key.starts_with("java.") && key != "host.name")
        .cloned()
        .collect();
    system_properties.push(("file.separator".into(), "/".into()));
    system_properties.push(("line.separator".into(), "\n".into()));
    system_properties.push(("path.separator".into(), ":".into()));
    system_properties.sort();
    Context {
        initial_configuration,
        last_snapshot: last_snapshot(&super::snapshot_dir(config)),
        extra_environment: memory_entries(),
        system_properties,
    }
}

/// The newest `snapshot.<hex zxid>` file: (zxid, modification time in s).
fn last_snapshot(dir: &std::path::Path) -> Option<(i64, i64)> {
    let mut best: Option<(i64, i64)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let name = entry.file_name();
        let Some(hex) = name.to_str().and_then(|n| n.strip_prefix("snapshot.")) else {
            continue;
        };
        let Ok(zxid) = i64::from_str_radix(hex, 16) else {
            continue;
        };
        let modified = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64)
            .unwrap_or(-1);
        if best.is_none_or(|(z, _)| zxid > z) {
            best = Some((zxid, modified));
        }
    }
    best
}

/// `os.memory.*` as ZooKeeper's `environment` prints them ("243MB"); the
/// JVM's heap there, the host's memory here (from /proc/meminfo).
fn memory_entries() -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string("/proc/meminfo") else {
        return Vec::new();
    };
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    };
    let (Some(free_kb), Some(total_kb)) = (field("MemAvailable:"), field("MemTotal:")) else {
        return Vec::new();
    };
    let mb = |kb: u64| format!("{}MB", kb / 1024);
    vec![
        ("os.memory.free".to_string(), mb(free_kb)),
        ("os.memory.max".to_string(), mb(total_kb)),
        ("os.memory.total".to_string(), mb(total_kb)),
    ]
}
