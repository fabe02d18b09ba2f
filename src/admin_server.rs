//! The commands of ZooKeeper 3.8's AdminServer (`GET /commands/<name>`) as
//! JSON: the table of commands and their names, the routing of a request
//! target, and each answer built from a [`ServerStats`] snapshot.
//!
//! Pure: the HTTP side (`server::admin_http`) fills a [`Context`] (stats
//! gathered from every shard, the config file's text, the last snapshot) and
//! writes what [`answer`] returns. Keys and JSON types are ZooKeeper 3.8.0's
//! (`server/admin/Commands.java`, `ServerCnxn.getConnectionInfo`,
//! `ServerStats`), checked against Debian's 3.8.0 server in
//! `tests/fixtures/admin/zk-3.8.0/`.
//!
//! What ZooKeeper does and paddock follows: an unknown command is answered
//! 200 with `{"command": name, "error": "Unknown command: name"}`; every
//! answer carries `command` (the primary name) and `error` (null when fine);
//! `GET <commandURL>` lists the primary names as HTML links. Ensemble-only
//! commands (leader, observers, voting_view, zabstate) answer from
//! `ServerStats::ensemble` on an ensemble member (`LeaderCommand`,
//! `SyncedObserverConsCommand`, `VotingViewCommand`, `ZabStateCommand`) and
//! as ZooKeeper's standalone server answers them otherwise. `observers`
//! lists each synced observer by `sid` only: the per-connection counters
//! ZooKeeper adds (`LearnerHandler.getLearnerHandlerInfo`) are not in the
//! consensus state. `zabstate` leaves out ZooKeeper's three address fields
//! (Jackson's rendering of `MultipleAddresses`).
//!
//! Differences kept on purpose: `monitor` lists the keys paddock computes (a
//! subset of ZooKeeper's ~500, which are mostly counters of Java request
//! processors paddock does not have) plus `paddock_*` keys; `system_properties`
//! lists the process facts paddock has (it has no JVM).

use serde_json::{json, Map, Value};

use crate::server::four_letter::{bracketed, ConnectionInfo, ServerMode, ServerStats};

/// One AdminServer command: its primary name (what answers carry in
/// `command`) and every name it answers to.
#[derive(Debug)]
pub struct Command {
    pub primary: &'static str,
    pub names: &'static [&'static str],
    /// ZooKeeper answers "not currently serving" for these while the server
    /// is not running (`CommandBase.serverRequired`).
    pub server_required: bool,
}

const fn command(
    primary: &'static str,
    names: &'static [&'static str],
    server_required: bool,
) -> Command {
    Command {
        primary,
        names,
        server_required,
    }
}

/// Every command ZooKeeper 3.8.0 registers (`Commands` static block).
pub const COMMANDS: &[Command] = &[
    command(
        "connection_stat_reset",
        &["connection_stat_reset", "crst"],
        true,
    ),
    command("configuration", &["configuration", "conf", "config"], true),
    command("connections", &["connections", "cons"], true),
    command("hash", &["hash"], true),
    command("dirs", &["dirs"], true),
    command("dump", &["dump"], true),
    command("environment", &["environment", "env", "envi"], false),
    command("get_trace_mask", &["get_trace_mask", "gtmk"], false),
    command(
        "initial_configuration",
        &["initial_configuration", "icfg"],
        true,
    ),
    command("is_read_only", &["is_read_only", "isro"], true),
    command("last_snapshot", &["last_snapshot", "lsnp"], true),
    command("leader", &["leader", "lead"], true),
    command("monitor", &["monitor", "mntr"], false),
    command(
        "observer_connection_stat_reset",
        &["observer_connection_stat_reset", "orst"],
        true,
    ),
    command("ruok", &["ruok"], true),
    command("set_trace_mask", &["set_trace_mask", "stmk"], false),
    command("server_stats", &["server_stats", "srvr"], true),
    command("stats", &["stats", "stat"], true),
    command("stat_reset", &["stat_reset", "srst"], true),
    command("observers", &["observers", "obsr"], true),
    command("system_properties", &["system_properties", "sysp"], false),
    command("voting_view", &["voting_view"], true),
    command("watches", &["watches", "wchc"], true),
    command("watches_by_path", &["watches_by_path", "wchp"], true),
    command("watch_summary", &["watch_summary", "wchs"], true),
    command("zabstate", &["zabstate"], false),
];

/// ZooKeeper's answer while the server is not serving.
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// The command a name (primary or short) stands for.
pub fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.names.contains(&name))
}

/// `GET <commandURL>`: a link per primary name, sorted, as Jetty's servlet
/// prints them (`JettyAdminServer.commandLinks`).
pub fn index_html(command_url: &str) -> String {
    let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.primary).collect();
    names.sort_unstable();
    let mut out = String::new();
    for name in names {
        out.push_str(&format!(
            "<a href=\"{command_url}/{name}\">{name}</a>\n<br/>\n"
        ));
    }
    out
}

/// Where a request target leads.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// `<commandURL>` or `<commandURL>/`: the list of commands.
    Index,
    /// `<commandURL>/<name>?k=v&…`: the name (not yet looked up) and the
    /// query parameters, percent-decoded, first value of each key kept.
    Command {
        name: String,
        params: Vec<(String, String)>,
    },
    /// Outside `<commandURL>`: Jetty's 404.
    NotFound,
}

/// Routes a request target (`/commands/stat?x=1`) under `command_url`.
pub fn route(target: &str, command_url: &str) -> Route {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = percent_decode(path);
    let Some(rest) = path.strip_prefix(command_url) else {
        return Route::NotFound;
    };
    if rest.is_empty() || rest == "/" {
        return Route::Index;
    }
    let Some(name) = rest.strip_prefix('/') else {
        return Route::NotFound;
    };
    let mut params: Vec<(String, String)> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(&key.replace('+', " "));
        if params.iter().all(|(k, _)| *k != key) {
            params.push((key, percent_decode(&value.replace('+', " "))));
        }
    }
    Route::Command {
        name: name.to_string(),
        params,
    }
}

/// `%XX` escapes decoded; a malformed escape is kept as written (as Jetty
/// keeps it); bytes that are not UTF-8 become U+FFFD.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(byte) = u8::from_str_radix(hex, 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a command changes besides its answer; the HTTP side carries it out
/// before answering.
#[derive(Debug, PartialEq, Eq)]
pub enum Effect {
    None,
    ResetServerStats,
    ResetConnectionStats,
    SetTraceMask(i64),
}

/// The effect of running `command` with `params`, or the error ZooKeeper
/// answers (bad `traceMask`).
pub fn effect(command: &Command, params: &[(String, String)]) -> Result<Effect, String> {
    Ok(match command.primary {
        "stat_reset" => Effect::ResetServerStats,
        "connection_stat_reset" => Effect::ResetConnectionStats,
        "set_trace_mask" => {
            let Some((_, value)) = params.iter().find(|(k, _)| k == "traceMask") else {
                return Err("setTraceMask requires long traceMask argument".to_string());
            };
            match value.parse::<i64>() {
                Ok(mask) => Effect::SetTraceMask(mask),
                Err(_) => {
                    return Err(format!(
                        "setTraceMask requires long traceMask argument, got {value}"
                    ))
                }
            }
        }
        _ => Effect::None,
    })
}

/// Everything an answer may need besides the stats.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// The config file as read at start (`initial_configuration`).
    pub initial_configuration: String,
    /// (zxid, file modification time in seconds) of the newest snapshot.
    pub last_snapshot: Option<(i64, i64)>,
    /// `environment` entries after those of the four-letter `envi`.
    pub extra_environment: Vec<(String, String)>,
    /// `system_properties`, sorted by key.
    pub system_properties: Vec<(String, String)>,
}

/// The error answer (`{"command", "error"}`) with status 200, as ZooKeeper.
pub fn error_answer(name: &str, error: &str) -> Value {
    json!({ "command": name, "error": error })
}

/// The JSON answer of `command` (already looked up and its effect done).
pub fn answer(command: &Command, stats: &ServerStats, context: &Context) -> Value {
    let mut out = Map::new();
    let mut put = |key: &str, value: Value| {
        out.insert(key.to_string(), value);
    };
    match command.primary {
        "configuration" => {
            let c = &stats.conf;
            put("client_port", json!(c.client_port));
            put("data_dir", json!(c.data_dir.display().to_string()));
            put("data_log_dir", json!(c.data_log_dir.display().to_string()));
            put("tick_time", json!(c.tick_time_ms));
            put("max_client_cnxns", json!(c.max_client_cnxns));
            put("min_session_timeout", json!(c.min_session_timeout_ms));
            put("max_session_timeout", json!(c.max_session_timeout_ms));
            put("server_id", json!(c.server_id));
            put(
                "client_port_listen_backlog",
                json!(c.client_port_listen_backlog),
            );
        }
        "connections" => {
            put("connections", connections(&stats.connections, false));
            put("secure_connections", json!([]));
        }
        "hash" => put("digests", json!([])),
        "dirs" => {
            put("datadir_size", json!(stats.data_dir_size));
            put("logdir_size", json!(stats.log_dir_size));
        }
        "dump" => {
            let mut sets = Map::new();
            for (at, ids) in &stats.dump.session_sets {
                sets.insert(at.to_string(), json!(ids));
            }
            put("expiry_time_to_session_ids", Value::Object(sets));
            let mut ephemerals = Map::new();
            for (session, paths) in &stats.dump.ephemerals {
                if !paths.is_empty() {
                    ephemerals.insert(session.to_string(), json!(paths));
                }
            }
            put("session_id_to_ephemeral_paths", Value::Object(ephemerals));
        }
        "environment" => {
            put("zookeeper.version", json!(stats.version));
            for (key, value) in stats
                .environment
                .iter()
                .chain(context.extra_environment.iter())
            {
                put(key, json!(value));
            }
        }
        "get_trace_mask" | "set_trace_mask" => put("tracemask", json!(stats.trace_mask)),
        "initial_configuration" => {
            put(
                "initial_configuration",
                json!(context.initial_configuration),
            );
        }
        "is_read_only" => put("read_only", json!(stats.mode == ServerMode::ReadOnly)),
        "last_snapshot" => {
            let (zxid, timestamp) = context.last_snapshot.unwrap_or((-1, -1));
            put("zxid", json!(format!("{zxid:x}")));
            put("timestamp", json!(timestamp));
        }
        "leader" => match &stats.ensemble {
            Some(e) => {
                put("is_leader", json!(e.role == crate::zab::Role::Leading));
                put("leader_id", json!(e.leader_id.unwrap_or(-1)));
                put(
                    "leader_ip",
                    json!(e.leader_address.clone().unwrap_or_default()),
                );
            }
            None => put("error", json!("server is not initialized")),
        },
        "monitor" => monitor(stats, &mut put),
        "observers" => {
            let synced: &[i64] = stats
                .ensemble
                .as_ref()
                .map_or(&[], |e| e.synced_observers.as_slice());
            put("synced_observers", json!(synced.len()));
            let rows: Vec<Value> = synced.iter().map(|sid| json!({ "sid": sid })).collect();
            put("observers", Value::Array(rows));
        }
        "server_stats" => server_stats(stats, &mut put),
        "stats" => {
            server_stats(stats, &mut put);
            put("connections", connections(&stats.connections, true));
            put("secure_connections", json!([]));
        }
        "system_properties" => {
            for (key, value) in &context.system_properties {
                put(key, json!(value));
            }
        }
        "voting_view" => {
            let mut view = Map::new();
            if let Some(e) = &stats.ensemble {
                for m in e
                    .members
                    .iter()
                    .filter(|m| m.role == crate::config::PeerRole::Participant)
                {
                    let host = bracketed(&m.host);
                    let client = if m.id == e.my_id {
                        e.my_client_address.clone()
                    } else {
                        match m.client_port {
                            Some(port) => format!(
                                "{}:{port}",
                                bracketed(m.client_address.as_deref().unwrap_or("0.0.0.0"))
                            ),
                            None => String::new(),
                        }
                    };
                    view.insert(
                        m.id.to_string(),
                        json!({
                            "server_addresses": [format!("{host}:{}", m.quorum_port)],
                            "election_addresses": [format!("{host}:{}", m.election_port)],
                            "client_address": client,
                            "learner_type": "participant",
                        }),
                    );
                }
            }
            put("current_config", Value::Object(view));
        }
        "watches" => {
            let mut by_session: std::collections::BTreeMap<i64, Vec<&str>> = Default::default();
            for (session, path) in &stats.data_watches {
                by_session.entry(*session).or_default().push(path);
            }
            let map: Map<String, Value> = by_session
                .into_iter()
                .map(|(session, paths)| (session.to_string(), json!(paths)))
                .collect();
            put("session_id_to_watched_paths", Value::Object(map));
        }
        "watches_by_path" => {
            let mut by_path: std::collections::BTreeMap<&str, Vec<i64>> = Default::default();
            for (session, path) in &stats.data_watches {
                by_path.entry(path).or_default().push(*session);
            }
            let map: Map<String, Value> = by_path
                .into_iter()
                .map(|(path, sessions)| (path.to_string(), json!(sessions)))
                .collect();
            put("path_to_session_ids", Value::Object(map));
        }
        "watch_summary" => {
            let mut sessions: Vec<i64> = stats.data_watches.iter().map(|(s, _)| *s).collect();
            sessions.sort_unstable();
            sessions.dedup();
            let mut paths: Vec<&str> = stats.data_watches.iter().map(|(_, p)| p.as_str()).collect();
            paths.sort_unstable();
            paths.dedup();
            put("num_connections", json!(sessions.len()));
            put("num_paths", json!(paths.len()));
            put("num_total_watches", json!(stats.data_watches.len()));
        }
        "zabstate" => match &stats.ensemble {
            Some(e) => {
                put("myid", json!(e.my_id));
                put("is_leader", json!(e.role == crate::zab::Role::Leading));
                put("voting", json!(e.voting));
                put("last_zxid", json!(format!("0x{:x}", stats.last_zxid)));
                put("zab_epoch", json!(stats.last_zxid >> 32));
                put("zab_counter", json!(stats.last_zxid & 0xffff_ffff));
                put("zabstate", json!(e.zab_state));
            }
            None => {
                put("voting", json!(false));
                put("zabstate", json!(""));
            }
        },
        // ruok, the resets: nothing but command and error.
        _ => {}
    }
    out.entry("command")
        .or_insert_with(|| json!(command.primary));
    out.entry("error").or_insert(Value::Null);
    Value::Object(out)
}

/// `ServerCnxn.getConnectionInfo(brief)`.
fn connections(list: &[ConnectionInfo], brief: bool) -> Value {
    let rows = list
        .iter()
        .map(|c| {
            let mut row = Map::new();
            let remote = c.remote.strip_prefix('/').unwrap_or(&c.remote);
            row.insert("remote_socket_address".into(), json!(remote));
            row.insert("interest_ops".into(), json!(c.interest_ops));
            row.insert("outstanding_requests".into(), json!(c.queued));
            row.insert("packets_received".into(), json!(c.received));
            row.insert("packets_sent".into(), json!(c.sent));
            if !brief {
                let s = c.session.clone().unwrap_or_default();
                row.insert("session_id".into(), json!(s.session_id));
                row.insert("last_operation".into(), json!(s.last_operation));
                row.insert("established".into(), json!(s.established_ms));
                row.insert("session_timeout".into(), json!(s.session_timeout_ms));
                row.insert("last_cxid".into(), json!(s.last_cxid));
                row.insert("last_zxid".into(), json!(s.last_zxid));
                row.insert("last_response_time".into(), json!(s.last_response_ms));
                row.insert("last_latency".into(), json!(s.last_latency_ms));
                row.insert("min_latency".into(), json!(s.min_latency_ms));
                row.insert("avg_latency".into(), json!(s.avg_latency_ms));
                row.insert("max_latency".into(), json!(s.max_latency_ms));
            }
            Value::Object(row)
        })
        .collect();
    Value::Array(rows)
}

/// `srvr`/`stats`: `SrvrCommand`, with `ServerStats` serialized by Jackson.
fn server_stats(s: &ServerStats, put: &mut impl FnMut(&str, Value)) {
    let buffers = json!({
        "last_buffer_size": s.client_response_sizes.last,
        "min_buffer_size": s.client_response_sizes.min,
        "max_buffer_size": s.client_response_sizes.max,
    });
    put("version", json!(s.version));
    put("read_only", json!(s.mode == ServerMode::ReadOnly));
    put(
        "server_stats",
        json!({
            "packets_sent": s.packets_sent,
            "packets_received": s.packets_received,
            "fsync_threshold_exceed_count": s.fsync_threshold_exceed_count,
            "client_response_stats": buffers.clone(),
            "data_dir_size": s.data_dir_size,
            "log_dir_size": s.log_dir_size,
            "server_state": s.mode.as_str(),
            "last_processed_zxid": s.last_zxid,
            "outstanding_requests": s.outstanding_requests,
            "avg_latency": s.latency.avg(),
            "max_latency": s.latency.max_ms,
            "min_latency": s.latency.min_ms,
            "num_alive_client_connections": s.connections.len(),
            "uptime": s.uptime_ms,
            "auth_failed_count": s.auth_failed_count,
            "non_mtlsremote_conn_count": 0,
            "non_mtlslocal_conn_count": 0,
            "provider_null": false,
        }),
    );
    put("client_response", buffers);
    if let Some(sizes) = s.leader.as_ref().and_then(|l| l.proposal_sizes) {
        put(
            "proposal_stats",
            json!({
                "last_buffer_size": sizes.last,
                "min_buffer_size": sizes.min,
                "max_buffer_size": sizes.max,
            }),
        );
    }
    put("node_count", json!(s.node_count));
}

/// `monitor`: the values `mntr` prints, typed as ZooKeeper types them.
fn monitor(s: &ServerStats, put: &mut impl FnMut(&str, Value)) {
    put("version", json!(s.version));
    put("server_state", json!(s.mode.as_str()));
    put("avg_latency", json!(s.latency.avg()));
    put("max_latency", json!(s.latency.max_ms));
    put("min_latency", json!(s.latency.min_ms));
    put("packets_received", json!(s.packets_received));
    put("packets_sent", json!(s.packets_sent));
    put("num_alive_connections", json!(s.connections.len()));
    put("outstanding_requests", json!(s.outstanding_requests));
    put("znode_count", json!(s.node_count));
    put("watch_count", json!(s.watch_count));
    put("ephemerals_count", json!(s.ephemerals_count));
    put("approximate_data_size", json!(s.approximate_data_size));
    put(
        "open_file_descriptor_count",
        json!(s.open_file_descriptor_count),
    );
    put(
        "max_file_descriptor_count",
        json!(s.max_file_descriptor_count),
    );
    put("uptime", json!(s.uptime_ms));
    put("global_sessions", json!(s.global_sessions));
    put("local_sessions", json!(s.local_sessions));
    put(
        "last_client_response_size",
        json!(s.client_response_sizes.last),
    );
    put(
        "max_client_response_size",
        json!(s.client_response_sizes.max),
    );
    put(
        "min_client_response_size",
        json!(s.client_response_sizes.min),
    );
    put("auth_failed_count", json!(s.auth_failed_count));
    // paddock has no TLS and never drops connections on purpose.
    put("connection_drop_probability", json!(0.0));
    put("outstanding_tls_handshake", json!(0));
    put("non_mtls_remote_conn_count", json!(0));
    put("non_mtls_local_conn_count", json!(0));
    if let Some(size) = s.quorum_size {
        put("quorum_size", json!(size));
    }
    if let Some(state) = &s.peer_state {
        put("peer_state", json!(state));
    }
    if let (ServerMode::Leader, Some(leader)) = (s.mode, &s.leader) {
        put("learners", json!(leader.learners));
        put("synced_followers", json!(leader.synced_followers));
        put(
            "synced_non_voting_followers",
            json!(leader.synced_non_voting_followers),
        );
        put("synced_observers", json!(leader.synced_observers));
        put("pending_syncs", json!(leader.pending_syncs));
        if let Some(uptime) = leader.leader_uptime_ms {
            put("leader_uptime", json!(uptime));
        }
        if let Some(sizes) = leader.proposal_sizes {
            put("last_proposal_size", json!(sizes.last));
            put("max_proposal_size", json!(sizes.max));
            put("min_proposal_size", json!(sizes.min));
        }
    }
    if let Some(id) = s.observer_master_id {
        put("observer_master_id", json!(id));
    }
    for summary in &s.summaries {
        let l = &summary.latency;
        put(&format!("avg_{}", summary.name), json!(l.avg()));
        put(&format!("min_{}", summary.name), json!(l.min_ms));
        put(&format!("max_{}", summary.name), json!(l.max_ms));
        put(&format!("cnt_{}", summary.name), json!(l.count));
        put(&format!("sum_{}", summary.name), json!(l.total_ms));
    }
    for (key, value) in &s.counters {
        put(key, typed(value));
    }
}

/// A counter's text as the JSON value it reads as: an integer, a float, or
/// the text itself.
fn typed(text: &str) -> Value {
    if let Ok(n) = text.parse::<i64>() {
        return json!(n);
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => json!(f),
        _ => json!(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::four_letter::{
        ConfInfo, Latency, SessionConnectionInfo, Summary, ZOOKEEPER_COMPAT_VERSION,
    };

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/admin/zk-3.8.0");

    fn fixture(name: &str) -> Value {
        let text = std::fs::read_to_string(format!("{FIXTURES}/{name}.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// The state the fixtures were captured in: two sessions, /a/b and an
    /// ephemeral /eph, three data watches.
    fn reference_like() -> (ServerStats, Context) {
        let conf = ConfInfo {
            client_port: 49641,
            secure_client_port: -1,
            data_dir: "/tmp/zk/data/version-2".into(),
            data_log_dir: "/tmp/zk/data/version-2".into(),
            tick_time_ms: 2000,
            max_client_cnxns: 60,
            min_session_timeout_ms: 4000,
            max_session_timeout_ms: 40000,
            client_port_listen_backlog: -1,
            server_id: 0,
            quorum: None,
        };
        let mut s = ServerStats::new(
            crate::server::four_letter::full_version(),
            ServerMode::Standalone,
            conf,
        );
        let (first, second) = (72057637180342272_i64, 72057637180342273_i64);
        for (session, port, established_ms) in [
            (first, 54406, 1796160712051),
            (second, 54416, 1796160712119),
        ] {
            s.connections.push(ConnectionInfo {
                remote: format!("/127.0.0.1:{port}"),
                interest_ops: 1,
                queued: 0,
                received: 0,
                sent: 0,
                session: Some(SessionConnectionInfo {
                    session_id: session,
                    last_operation: "NA".into(),
                    established_ms,
                    session_timeout_ms: 10000,
                    last_cxid: -1,
                    last_zxid: -1,
                    last_response_ms: 0,
                    last_latency_ms: 0,
                    min_latency_ms: 0,
                    avg_latency_ms: 0,
                    max_latency_ms: 0,
                }),
            });
        }
        s.data_watches = vec![
            (first, "/a".into()),
            (first, "/a/b".into()),
            (second, "/a".into()),
        ];
        s.watch_count = 4;
        s.node_count = 8;
        s.ephemerals_count = 1;
        s.global_sessions = 2;
        s.last_zxid = 6;
        s.latency = Latency {
            min_ms: 0,
            max_ms: 36,
            total_ms: 119,
            count: 12,
        };
        s.summaries.push(Summary {
            name: "fsynctime".into(),
            latency: Latency::default(),
        });
        s.counters.push(("paddock_log_flushes".into(), "3".into()));
        s.counters
            .push(("paddock_txns_per_flush".into(), "1.50".into()));
        s.counters
            .push(("paddock_shard_cores".into(), "[0, 1]".into()));
        s.dump.session_sets = vec![(670000, vec![first, second])];
        s.dump.ephemerals = vec![(first, vec!["/eph".into()]), (second, vec![])];
        s.environment = crate::server::four_letter::gather_environment();
        let context = Context {
            initial_configuration: "tickTime=2000\n".into(),
            last_snapshot: Some((0, 1796160710)),
            extra_environment: vec![
                ("os.memory.free".into(), "243MB".into()),
                ("os.memory.max".into(), "256MB".into()),
                ("os.memory.total".into(), "256MB".into()),
            ],
            system_properties: vec![("os.name".into(), "Linux".into())],
        };
        (s, context)
    }

    fn kind(value: &Value) -> &'static str {
        match value {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(n) if n.is_f64() => "float",
            Value::Number(_) => "int",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// Same keys at every level, same JSON types; arrays compared by their
    /// first element's shape.
    fn assert_same_shape(path: &str, ours: &Value, theirs: &Value) {
        assert_eq!(
            kind(ours),
            kind(theirs),
            "{path}: ours {ours}, theirs {theirs}"
        );
        match (ours, theirs) {
            (Value::Object(a), Value::Object(b)) => {
                let mut ours_keys: Vec<&String> = a.keys().collect();
                let mut theirs_keys: Vec<&String> = b.keys().collect();
                ours_keys.sort();
                theirs_keys.sort();
                assert_eq!(ours_keys, theirs_keys, "{path}: keys");
                for (key, value) in a {
                    assert_same_shape(&format!("{path}.{key}"), value, &b[key]);
                }
            }
            (Value::Array(a), Value::Array(b)) => {
                if let (Some(x), Some(y)) = (a.first(), b.first()) {
                    assert_same_shape(&format!("{path}[0]"), x, y);
                }
                assert_eq!(a.is_empty(), b.is_empty(), "{path}: emptiness");
            }
            _ => {}
        }
    }

    fn run(name: &str) -> Value {
        let (stats, context) = reference_like();
        answer(find(name).unwrap(), &stats, &context)
    }

    #[test]
    fn every_command_zookeeper_lists_is_here_and_nothing_else() {
        let html = std::fs::read_to_string(format!("{FIXTURES}/index.html")).unwrap();
        assert_eq!(index_html("/commands"), html);
    }

    #[test]
    fn answers_have_zookeepers_keys_and_types() {
        // Every fixture but the few with values paddock cannot share (the
        // JVM's properties and memory) or that need their own test.
        for name in [
            "configuration",
            "conf",
            "connection_stat_reset",
            "connections",
            "cons",
            "dirs",
            "dump",
            "get_trace_mask",
            "hash",
            "initial_configuration",
            "is_read_only",
            "last_snapshot",
            "leader",
            "observer_connection_stat_reset",
            "observers",
            "ruok",
            "server_stats",
            "srvr",
            "stat_reset",
            "stats",
            "voting_view",
            "watch_summary",
            "watches",
            "watches_by_path",
            "zabstate",
        ] {
            assert_same_shape(name, &run(name), &fixture(name));
        }
    }

    #[test]
    fn deterministic_values_match_zookeeper() {
        for name in [
            "watch_summary",
            "watches",
            "watches_by_path",
            "dump",
            "hash",
            "leader",
            "observers",
            "voting_view",
            "zabstate",
            "ruok",
            "is_read_only",
            "get_trace_mask",
            "stat_reset",
            "connection_stat_reset",
        ] {
            let mut theirs = fixture(name);
            let mut ours = run(name);
            // Sets: ZooKeeper prints hash-set order.
            sort_arrays(&mut theirs);
            sort_arrays(&mut ours);
            assert_eq!(ours, theirs, "{name}");
        }
        let ours = run("connections");
        let theirs = fixture("connections");
        assert_eq!(ours["connections"], theirs["connections"]);
        let conf = run("conf");
        for key in [
            "tick_time",
            "max_client_cnxns",
            "min_session_timeout",
            "server_id",
        ] {
            assert_eq!(conf[key], fixture("conf")[key], "{key}");
        }
    }

    fn sort_arrays(value: &mut Value) {
        match value {
            Value::Array(items) => {
                items.iter_mut().for_each(sort_arrays);
                items.sort_by_key(|v| v.to_string());
            }
            Value::Object(map) => map.values_mut().for_each(sort_arrays),
            _ => {}
        }
    }

    #[test]
    fn environment_has_zookeepers_keys() {
        let ours = run("envi");
        let theirs = fixture("environment");
        assert_same_shape("environment", &ours, &theirs);
        assert!(ours["zookeeper.version"]
            .as_str()
            .unwrap()
            .starts_with(ZOOKEEPER_COMPAT_VERSION));
    }

    #[test]
    fn monitor_keys_are_zookeepers_with_its_types() {
        let ours = run("mntr");
        let theirs = fixture("monitor");
        let (ours, theirs) = (ours.as_object().unwrap(), theirs.as_object().unwrap());
        for (key, value) in ours {
            if key.starts_with("paddock_") {
                continue;
            }
            let theirs = theirs
                .get(key)
                .unwrap_or_else(|| panic!("{key} is not in ZooKeeper's monitor"));
            assert_eq!(kind(value), kind(theirs), "{key}: {value} vs {theirs}");
        }
        for key in [
            "version",
            "server_state",
            "avg_latency",
            "znode_count",
            "watch_count",
            "ephemerals_count",
            "num_alive_connections",
            "outstanding_requests",
            "packets_received",
            "packets_sent",
            "approximate_data_size",
            "global_sessions",
            "open_file_descriptor_count",
            "avg_fsynctime",
            "cnt_fsynctime",
        ] {
            assert!(ours.contains_key(key), "{key}");
        }
        assert_eq!(ours["avg_latency"], theirs["avg_latency"]);
        assert_eq!(ours["paddock_txns_per_flush"], json!(1.5));
        assert_eq!(ours["paddock_shard_cores"], json!("[0, 1]"));
    }

    #[test]
    fn unknown_command_is_answered_as_zookeeper_does() {
        assert!(find("no_such_command").is_none());
        assert_eq!(
            error_answer("no_such_command", "Unknown command: no_such_command"),
            fixture("unknown")
        );
        // A trailing slash makes another name, as in Jetty.
        assert_eq!(
            route("/commands/watches_by_path/", "/commands"),
            Route::Command {
                name: "watches_by_path/".into(),
                params: vec![]
            }
        );
    }

    #[test]
    fn set_trace_mask_takes_its_parameter_as_zookeeper() {
        let stmk = find("stmk").unwrap();
        assert_eq!(stmk.primary, "set_trace_mask");
        let err = effect(stmk, &[]).unwrap_err();
        assert_eq!(
            error_answer("set_trace_mask", &err),
            fixture("set_trace_mask")
        );
        let err = effect(stmk, &[("traceMask".into(), "abc".into())]).unwrap_err();
        assert_eq!(
            error_answer("set_trace_mask", &err),
            fixture("set_trace_mask_bad")
        );
        let Route::Command { params, .. } = route("/commands/stmk?traceMask=310", "/commands")
        else {
            panic!("not a command");
        };
        assert_eq!(effect(stmk, &params), Ok(Effect::SetTraceMask(310)));
        let (mut stats, context) = reference_like();
        stats.trace_mask = 310;
        assert_eq!(
            answer(stmk, &stats, &context),
            fixture("set_trace_mask_value")
        );
    }

    #[test]
    fn routes() {
        assert_eq!(route("/commands", "/commands"), Route::Index);
        assert_eq!(route("/commands/", "/commands"), Route::Index);
        assert_eq!(route("/", "/commands"), Route::NotFound);
        assert_eq!(route("/commandsx", "/commands"), Route::NotFound);
        assert_eq!(
            route(
                "/commands/set_trace_mask?traceMask=%33&traceMask=9&x",
                "/commands"
            ),
            Route::Command {
                name: "set_trace_mask".into(),
                params: vec![
                    ("traceMask".into(), "3".into()),
                    ("x".into(), String::new())
                ]
            }
        );
        assert_eq!(percent_decode("a%2Fb%zz%4"), "a/b%zz%4");
        assert_eq!(
            route("/x/y/stat", "/x/y"),
            Route::Command {
                name: "stat".into(),
                params: vec![]
            }
        );
    }

    #[test]
    fn every_name_finds_its_command() {
        for c in COMMANDS {
            for name in c.names {
                assert_eq!(find(name).unwrap().primary, c.primary);
            }
        }
        assert_eq!(COMMANDS.len(), 26);
    }

    #[test]
    fn ensemble_commands_on_a_leader_and_a_follower() {
        use crate::server::four_letter::tests::{
            ensemble_config, leader_status, status, with_ensemble,
        };
        let context = Context::default();
        let run = |name: &str, stats: &ServerStats| answer(find(name).unwrap(), stats, &context);
        let leader = with_ensemble(&ensemble_config(1), &leader_status());
        assert_eq!(
            run("leader", &leader),
            json!({"is_leader": true, "leader_id": 1, "leader_ip": "zk1", "command": "leader", "error": null})
        );
        assert_eq!(
            run("observers", &leader),
            json!({"synced_observers": 1, "observers": [{"sid": 4}], "command": "observers", "error": null})
        );
        let zab = run("zabstate", &leader);
        assert_eq!(zab["voting"], json!(true));
        assert_eq!(zab["zabstate"], json!("broadcast"));
        assert_eq!(zab["is_leader"], json!(true));
        assert_eq!(zab["myid"], json!(1));
        assert_eq!(zab["last_zxid"], json!("0x5"));
        let view = run("voting_view", &leader);
        let config = view["current_config"].as_object().unwrap();
        assert_eq!(config.keys().collect::<Vec<_>>(), ["1", "2", "3"]);
        assert_eq!(
            config["1"],
            json!({
                "server_addresses": ["zk1:2888"],
                "election_addresses": ["zk1:3888"],
                "client_address": "0.0.0.0:2181",
                "learner_type": "participant",
            })
        );
        assert_eq!(config["2"]["client_address"], json!(""));
        assert_eq!(config["3"]["client_address"], json!("0.0.0.0:2181"));
        let monitor = run("monitor", &leader);
        assert_eq!(monitor["server_state"], json!("leader"));
        assert_eq!(monitor["learners"], json!(4));
        assert_eq!(monitor["synced_followers"], json!(2));
        assert_eq!(monitor["pending_syncs"], json!(1));
        assert_eq!(monitor["quorum_size"], json!(3));
        assert!(monitor.get("leader_uptime").is_none());
        let srvr = run("server_stats", &leader);
        assert_eq!(srvr["server_stats"]["server_state"], json!("leader"));
        assert!(srvr.get("proposal_stats").is_none());

        let follower = with_ensemble(
            &ensemble_config(2),
            &status(crate::zab::Role::Following, Some(1)),
        );
        let lead = run("leader", &follower);
        assert_eq!(
            (lead["is_leader"].clone(), lead["leader_id"].clone()),
            (json!(false), json!(1))
        );
        assert_eq!(run("observers", &follower)["synced_observers"], json!(0));
        let observer = with_ensemble(
            &ensemble_config(4),
            &status(crate::zab::Role::Observing, Some(1)),
        );
        let zab = run("zabstate", &observer);
        assert_eq!(
            (zab["voting"].clone(), zab["zabstate"].clone()),
            (json!(false), json!("broadcast"))
        );
        assert_eq!(run("monitor", &observer)["observer_master_id"], json!(1));
        let looking = with_ensemble(
            &ensemble_config(2),
            &status(crate::zab::Role::Looking, None),
        );
        assert!(!looking.serving);
        assert_eq!(run("zabstate", &looking)["zabstate"], json!("election"));
    }
}
