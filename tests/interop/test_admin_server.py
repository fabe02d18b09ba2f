"""The AdminServer (``http://host:admin.serverPort/commands/<name>``),
compared with Apache ZooKeeper 3.8.0's answers recorded in
``tests/fixtures/admin/zk-3.8.0/`` (see ``tests/fixtures/admin/capture.py``).

Runs against paddock and, with ``PADDOCK_SERVER=zookeeper``, against
ZooKeeper itself (its Jetty AdminServer needs Debian's servlet-api jar on the
class path, which this module adds).
"""
import http.client
import json
import os
import socket
import time

import pytest
from kazoo.client import KazooClient

import conftest
from conftest import free_port, is_zookeeper, wait_until

FIXTURES = os.path.join(conftest.REPO, "tests", "fixtures", "admin", "zk-3.8.0")
SERVLET_API = "/usr/share/java/servlet-api.jar"

# Keys whose values are the JVM's (paddock has none) or wholly host-made.
SKIP_SHAPE = {"system_properties"}


def fixture(name):
    with open(os.path.join(FIXTURES, name + ".json")) as f:
        return json.load(f)


@pytest.fixture(autouse=True)
def jetty_class_path(monkeypatch):
    if is_zookeeper() and os.path.exists(SERVLET_API) \
            and SERVLET_API not in conftest.ZK_JAR_CP:
        monkeypatch.setattr(conftest, "ZK_JAR_CP", conftest.ZK_JAR_CP + ":" + SERVLET_API)


def admin_cfg(port, **extra):
    cfg = {"admin.enableServer": "true", "admin.serverAddress": "127.0.0.1",
           "admin.serverPort": str(port)}
    cfg.update(extra)
    return cfg


def get(port, path, timeout=10.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type"), r.read().decode()
    finally:
        conn.close()


def command(port, name, url="/commands"):
    status, ctype, body = get(port, "%s/%s" % (url, name))
    assert status == 200, body
    assert ctype.startswith("application/json"), ctype
    return json.loads(body)


def wait_admin(port, url="/commands"):
    def up():
        try:
            return get(port, url + "/ruok", timeout=2)[0] == 200
        except OSError:
            return False
    wait_until(up, timeout=30, what="AdminServer on %d" % port)


@pytest.fixture(scope="module")
def admin():
    """One server with the AdminServer on, and the fixtures' state: two
    sessions, /a/b, an ephemeral /eph, data watches on /a (both sessions)
    and on /a/b (the first)."""
    port = free_port()
    if is_zookeeper() and os.path.exists(SERVLET_API) \
            and SERVLET_API not in conftest.ZK_JAR_CP:
        saved = conftest.ZK_JAR_CP
        conftest.ZK_JAR_CP = saved + ":" + SERVLET_API
    else:
        saved = None
    s = conftest.Server(extra_cfg=admin_cfg(port))
    try:
        s.start()
        wait_admin(port)
        first = KazooClient(hosts=s.hosts, timeout=10)
        first.start(timeout=20)
        second = KazooClient(hosts=s.hosts, timeout=10)
        second.start(timeout=20)
        first.create("/a/b", b"x", makepath=True)
        first.create("/eph", b"e", ephemeral=True)
        first.get("/a", watch=lambda e: None)
        first.get_children("/a", watch=lambda e: None)
        first.exists("/a/b", watch=lambda e: None)
        second.get("/a", watch=lambda e: None)
        s.admin_port = port
        s.sessions = (first.client_id[0], second.client_id[0])
        yield s
        first.stop()
        second.stop()
        first.close()
        second.close()
    finally:
        s.stop()
        s.cleanup()
        if saved is not None:
            conftest.ZK_JAR_CP = saved


def kind(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


# Maps keyed by data (session ids, expiry times, paths): their values'
# shapes are compared, not their keys.
KEYED_BY_DATA = {"expiry_time_to_session_ids", "session_id_to_ephemeral_paths",
                 "session_id_to_watched_paths", "path_to_session_ids"}


def assert_same_shape(path, ours, theirs):
    assert kind(ours) == kind(theirs), "%s: ours %r, theirs %r" % (path, ours, theirs)
    if isinstance(ours, dict) and path.rsplit(".", 1)[-1] in KEYED_BY_DATA:
        assert bool(ours) == bool(theirs), "%s: emptiness" % path
        if ours and theirs:
            assert_same_shape(path + "[*]", next(iter(ours.values())),
                              next(iter(theirs.values())))
    elif isinstance(ours, dict):
        assert sorted(ours) == sorted(theirs), "%s: keys" % path
        for k in ours:
            assert_same_shape(path + "." + k, ours[k], theirs[k])
    elif isinstance(ours, list) and ours and theirs:
        assert_same_shape(path + "[0]", ours[0], theirs[0])


def test_index_lists_every_command(admin):
    status, _, body = get(admin.admin_port, "/commands")
    assert status == 200
    with open(os.path.join(FIXTURES, "index.html")) as f:
        assert body == f.read()
    assert get(admin.admin_port, "/commands/")[2] == body


@pytest.mark.parametrize("name", [
    "configuration", "conf", "connection_stat_reset", "connections", "cons",
    "dirs", "dump", "environment", "envi", "get_trace_mask", "hash",
    "initial_configuration", "is_read_only", "last_snapshot", "leader",
    "observer_connection_stat_reset", "observers", "ruok", "server_stats",
    "srvr", "stat_reset", "stats", "voting_view", "watch_summary", "watches",
    "watches_by_path", "zabstate"])
def test_answer_has_zookeepers_keys_and_types(admin, name):
    assert_same_shape(name, command(admin.admin_port, name), fixture(name))


def test_monitor_keys_are_zookeepers(admin):
    ours = command(admin.admin_port, "monitor")
    theirs = fixture("monitor")
    for key, value in ours.items():
        if key.startswith("paddock_"):
            continue
        assert key in theirs, key
        assert kind(value) == kind(theirs[key]), key
    for key in ["version", "server_state", "avg_latency", "znode_count",
                "watch_count", "ephemerals_count", "num_alive_connections",
                "outstanding_requests", "packets_received", "packets_sent",
                "approximate_data_size", "global_sessions", "avg_fsynctime"]:
        assert key in ours, key
    assert ours["server_state"] == "standalone"
    assert ours["ephemerals_count"] == 1
    assert ours["num_alive_connections"] == 2
    assert command(admin.admin_port, "mntr")["command"] == "monitor"


def test_system_properties_are_strings(admin):
    props = command(admin.admin_port, "system_properties")
    assert props["command"] == "system_properties" and props["error"] is None
    for key, value in props.items():
        if key not in ("command", "error"):
            assert isinstance(value, str), key
    assert "os.name" in props


def test_watch_values_match_zookeeper(admin):
    port = admin.admin_port
    first, second = admin.sessions
    summary = command(port, "watch_summary")
    assert (summary["num_connections"], summary["num_paths"],
            summary["num_total_watches"]) == (2, 2, 3)
    by_path = command(port, "watches_by_path")["path_to_session_ids"]
    assert sorted(by_path["/a"]) == sorted([first, second])
    assert by_path["/a/b"] == [first]
    by_session = command(port, "wchc")["session_id_to_watched_paths"]
    assert sorted(by_session[str(first)]) == ["/a", "/a/b"]
    assert by_session[str(second)] == ["/a"]


def test_dump_lists_sessions_and_ephemerals(admin):
    first, second = admin.sessions
    dump = command(admin.admin_port, "dump")
    assert dump["session_id_to_ephemeral_paths"] == {str(first): ["/eph"]}
    expiring = sorted(s for ids in dump["expiry_time_to_session_ids"].values() for s in ids)
    assert expiring == sorted([first, second])


def test_connections_and_stats(admin):
    cons = command(admin.admin_port, "cons")["connections"]
    ids = sorted(c["session_id"] for c in cons)
    assert ids == sorted(admin.sessions)
    for c in cons:
        host, _, port = c["remote_socket_address"].rpartition(":")
        assert host == "127.0.0.1" and int(port) > 0
    stats = command(admin.admin_port, "stats")
    assert stats["server_stats"]["server_state"] == "standalone"
    assert stats["node_count"] == fixture("stats")["node_count"]
    assert len(stats["connections"]) == 2


def test_configuration_values(admin):
    conf = command(admin.admin_port, "configuration")
    assert conf["client_port"] == admin.port
    assert conf["tick_time"] == 2000
    assert conf["data_dir"] == os.path.join(admin.data_dir, "version-2")
    icfg = command(admin.admin_port, "icfg")["initial_configuration"]
    assert "clientPort=%d\n" % admin.port in icfg


def test_unknown_command_answers_as_zookeeper(admin):
    status, ctype, body = get(admin.admin_port, "/commands/no_such_command")
    assert status == 200 and ctype.startswith("application/json")
    assert json.loads(body) == fixture("unknown")
    assert command(admin.admin_port, "watches_by_path/") == fixture("watches_by_path_slash")
    status, _, _ = get(admin.admin_port, "/nothing_here")
    assert status == 404


def test_trace_mask_set_and_get(admin):
    port = admin.admin_port
    assert command(port, "set_trace_mask") == fixture("set_trace_mask")
    assert command(port, "set_trace_mask?traceMask=abc") == fixture("set_trace_mask_bad")
    assert command(port, "set_trace_mask?traceMask=310") == fixture("set_trace_mask_value")
    assert command(port, "gtmk")["tracemask"] == 310
    assert command(port, "stmk?traceMask=306")["tracemask"] == 306
    assert command(port, "get_trace_mask") == fixture("get_trace_mask")


def test_stat_reset_resets_packets(admin):
    zk = KazooClient(hosts=admin.hosts, timeout=10)
    zk.start(timeout=20)
    try:
        zk.get("/a")
        assert command(admin.admin_port, "srvr")["server_stats"]["packets_received"] > 0
        assert command(admin.admin_port, "srst") == fixture("stat_reset")
        # Only this request's own pings could have arrived since.
        assert command(admin.admin_port, "srvr")["server_stats"]["packets_received"] <= 2
        assert command(admin.admin_port, "crst") == fixture("connection_stat_reset")
    finally:
        zk.stop()
        zk.close()


def test_keep_alive_serves_several_requests(admin):
    conn = http.client.HTTPConnection("127.0.0.1", admin.admin_port, timeout=10)
    try:
        for name in ("ruok", "srvr", "ruok"):
            conn.request("GET", "/commands/" + name)
            r = conn.getresponse()
            assert r.status == 200
            json.loads(r.read())
    finally:
        conn.close()


def test_idle_http_client_blocks_nothing(admin):
    """A client that opens the admin port and says nothing holds up neither
    other admin requests nor the client port."""
    idle = socket.create_connection(("127.0.0.1", admin.admin_port), timeout=10)
    try:
        assert command(admin.admin_port, "ruok")["error"] is None
        assert admin.flw("ruok") == "imok"
    finally:
        idle.close()


def test_idle_timeout_closes_connection(server_factory):
    port = free_port()
    server = server_factory(extra_cfg=admin_cfg(port, **{"admin.idleTimeout": "500"}))
    wait_admin(port)
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        # The server closes an idle connection: EOF before our deadline.
        assert s.recv(1) == b""
    assert server.flw("ruok") == "imok"


def test_command_url_is_configurable(server_factory):
    port = free_port()
    server_factory(extra_cfg=admin_cfg(port, **{"admin.commandURL": "/zk"}))
    wait_admin(port, url="/zk")
    assert command(port, "ruok", url="/zk") == fixture("ruok")
    assert get(port, "/commands/ruok")[0] == 404


def test_busy_admin_port_is_logged_and_clients_are_served(server_factory):
    if is_zookeeper():
        pytest.skip("ZooKeeper's standalone main exits (code 4) when its admin port is "
                    "busy; its QuorumPeer logs it and serves on, as paddock does always")
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        server = server_factory(extra_cfg=admin_cfg(port))
        zk = KazooClient(hosts=server.hosts, timeout=10)
        zk.start(timeout=20)
        try:
            zk.create("/still-serving", b"yes")
            assert zk.get("/still-serving")[0] == b"yes"
        finally:
            zk.stop()
            zk.close()
        wait_until(lambda: "Problem starting AdminServer" in server.log_tail(100000),
                   timeout=10, what="the AdminServer bind failure in the log")


def test_disabled_admin_server_listens_nowhere(server_factory):
    port = free_port()
    server = server_factory(extra_cfg=admin_cfg(port, **{"admin.enableServer": "false"}))
    assert server.flw("ruok") == "imok"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
