"""Configuration keys, as a user meets them: a config that would form an
ensemble, refused and ignored keys, and the keys whose effect is visible from
outside (addresses, counters, threads, socket options, expiry).

Each test here is the `shown_by` of a row in src/config/registry.rs. Tests
that read paddock's own surface (its messages, thread names, paddock.* knobs)
are skipped for PADDOCK_SERVER=zookeeper. Every wait has a deadline.
"""
import ctypes
import os
import select
import shutil
import socket
import time

import pytest
from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import NoAuthError
from kazoo.security import make_acl, make_digest_acl

from conftest import four_letter, free_port, is_zookeeper, wait_until
import opshelp
import rawzk
from opshelp import run_paddock

paddock_only = pytest.mark.skipif(
    is_zookeeper(), reason="paddock-specific: paddock's messages, threads or knobs")

OP_TIMEOUT = 10.0


@pytest.fixture
def clients():
    made = []

    def make(server, timeout=10.0, hosts=None, **kw):
        c = KazooClient(hosts=hosts or server.hosts, timeout=timeout, **kw)
        made.append(c)
        c.start(timeout=15)
        return c

    yield make
    for c in made:
        try:
            c.stop()
            c.close()
        except Exception:  # noqa: BLE001
            pass


def _refused(lines):
    """Write a zoo.cfg of ``lines`` and run paddock on it; it must exit."""
    d = opshelp.tmpdir("cfg-")
    cfg = os.path.join(d, "zoo.cfg")
    with open(cfg, "w") as f:
        f.write("".join(l + "\n" for l in lines))
    try:
        r = run_paddock(["start", "--config", cfg], cwd=d, timeout=10)
        return cfg, r.returncode, r.stderr.decode()
    finally:
        shutil.rmtree(d, ignore_errors=True)


# -- refused at start ---------------------------------------------------------

@paddock_only
def test_three_server_tutorial_config_without_myid_names_the_file():
    # The ZooKeeper Getting Started guide's replicated zoo.cfg, on a host
    # where nobody wrote dataDir/myid yet: as ZooKeeper, the server stops,
    # naming the file it needs.
    d = opshelp.tmpdir("cfg-")
    data = os.path.join(d, "zookeeper")
    cfg, code, err = _refused([
        "tickTime=2000",
        "dataDir=%s" % data,
        "clientPort=%d" % free_port(),
        "initLimit=5",
        "syncLimit=2",
        "server.1=zoo1:2888:3888",
        "server.2=zoo2:2888:3888",
        "server.3=zoo3:2888:3888",
    ])
    shutil.rmtree(d, ignore_errors=True)
    assert code != 0, err
    assert "%s: key 'myid'" % os.path.join(data, "myid") in err, err
    assert "myid file is missing" in err, err


def test_standalone_disabled_runs_a_quorum_of_one(servers):
    # standaloneEnabled=false with one server.N: ZooKeeper runs the quorum
    # protocol with a quorum of one, and srvr says leader.
    s = servers(extra_cfg={
        "standaloneEnabled": "false",
        "initLimit": "5",
        "syncLimit": "2",
        "server.1": "127.0.0.1:%d:%d" % (free_port(), free_port()),
    }, start=False)
    with open(os.path.join(s.data_dir, "myid"), "w") as f:
        f.write("1\n")
    s.start()
    assert "Mode: leader" in s.flw("srvr")
    c = KazooClient(hosts=s.hosts, timeout=10)
    c.start(timeout=15)
    try:
        c.create("/q1", b"v")
        assert c.get("/q1")[0] == b"v"
    finally:
        c.stop()
        c.close()


def test_one_server_line_runs_standalone(servers):
    s = servers(extra_cfg={"standaloneEnabled": "true",
                           "server.1": "127.0.0.1:%d:%d" % (free_port(), free_port())})
    assert "Mode: standalone" in s.flw("srvr")


@paddock_only
@pytest.mark.parametrize("line,key", [
    ("secureClientPort=2281", "secureClientPort"),
    ("ssl.keyStore.location=/etc/zk/keystore.jks", "ssl.keyStore.location"),
    ("sslQuorum=true", "sslQuorum"),
    ("authProvider.1=com.example.LdapAuthenticationProvider", "authProvider.1"),
    ("quorum.auth.enableSasl=true", "quorum.auth.enableSasl"),
    ("paddock.logBackend=direct", "paddock.logBackend"),
])
def test_refused_key_stops_the_start_naming_file_line_and_key(line, key):
    cfg, code, err = _refused(["dataDir=/tmp/never-created-by-paddock", line])
    assert code != 0, err
    assert "%s:2: key '%s'" % (cfg, key) in err, err


# -- ignored with a warning -----------------------------------------------------

@paddock_only
def test_skip_acl_is_ignored_with_one_warning_and_acls_stay(servers, clients):
    s = servers(extra_cfg={"skipACL": "yes"})
    warned = [l for l in s.log_text().splitlines() if "'skipACL'" in l]
    assert len(warned) == 1 and "WARN" in warned[0], warned
    assert "ACLs stay enforced" in warned[0] and s.cfg_path in warned[0], warned
    owner = clients(s, auth_data=[("digest", "ann:secret")])
    owner.create("/locked", b"x", acl=[make_digest_acl("ann", "secret", all=True)])
    anon = clients(s)
    with pytest.raises(NoAuthError):
        anon.get("/locked")


# -- implemented: visible from outside ---------------------------------------------

def test_client_port_address_binds_only_there(servers, clients):
    s = servers(start=False, extra_cfg={"clientPortAddress": "127.0.0.2"})
    s._ready = lambda: four_letter(s.port, "ruok", host="127.0.0.2") == "imok"
    s.start()
    zk = clients(s, hosts="127.0.0.2:%d" % s.port)
    assert zk.exists("/") is not None
    probe = socket.socket()
    probe.settimeout(5)
    try:
        with pytest.raises(ConnectionRefusedError):
            probe.connect(("127.0.0.1", s.port))
    finally:
        probe.close()


def test_listen_backlog_reaches_conf(servers):
    s = servers(extra_cfg={"clientPortListenBacklog": "7"})
    assert "clientPortListenBacklog=7" in s.flw("conf").splitlines()


def _mntr(s):
    out = {}
    for line in s.flw("mntr").splitlines():
        k, _, v = line.partition("\t")
        out[k] = v
    return out


def test_fsync_warning_threshold_counts_slow_flushes(servers, clients):
    # As ZooKeeper: a flush counts when its whole milliseconds exceed the
    # threshold, so with 0 every flush of 1 ms or more counts. Write (at most
    # 300 times) until one does; with the default (1000) none of the same
    # flushes counts. The writes are 500 KB each: since the log writes with
    # pwrite, a 1-byte create's flush takes well under 1 ms on this disk, and
    # the test needs a flush that reaches the first millisecond.
    counts = {}
    data = b"x" * 500_000
    for threshold in ("0", "1000"):
        s = servers(extra_cfg={"fsync.warningthresholdms": threshold})
        zk = clients(s)
        for i in range(300):
            zk.create("/fsync-%d" % i, data)
            if threshold == "0" and i % 10 == 9 and \
                    int(_mntr(s).get("zk_fsync_threshold_exceed_count", "0")) >= 1:
                break
        counts[threshold] = int(_mntr(s).get("zk_fsync_threshold_exceed_count", "0"))
    assert counts["0"] >= 1, counts
    assert counts["1000"] == 0, counts


def test_max_cnxns_turns_away_the_extra_connection(servers):
    from rawzk import RawZK
    s = servers(extra_cfg={"maxCnxns": "2", "maxClientCnxns": "0"})
    conns = []
    try:
        for _ in range(2):
            c = RawZK(s.port)
            c.connect()
            conns.append(c)
        third = RawZK(s.port)
        conns.append(third)
        # refused = closed (EOF or reset) before a reply; a timeout is not a refusal
        with pytest.raises((rawzk.Closed, ConnectionResetError, BrokenPipeError)):
            third.connect()
        for c in conns[:2]:
            assert c.exists("/").err == 0
    finally:
        for c in conns:
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass


@paddock_only  # ZooKeeper reads the bare system property, not zoo.cfg's zookeeper.-prefixed one
def test_container_check_interval_deletes_empty_containers(servers, clients):
    from rawzk import RawZK, Writer, OPEN_ACL_UNSAFE
    s = servers(extra_cfg={"znode.container.checkIntervalMs": "200"})
    c = RawZK(s.port)
    c.connect()
    try:
        create_container, container_flag = 19, 4
        body = Writer().string("/box").buffer(b"").acls(OPEN_ACL_UNSAFE).int(container_flag)
        assert c.request(create_container, body.bytes()).err == 0
        assert c.create("/box/item").err == 0
        assert c.delete("/box/item").err == 0
        # The default interval is a minute; 200 ms empties it within the deadline.
        no_node = -101
        wait_until(lambda: c.exists("/box").err == no_node, 10,
                   what="empty container deleted")
    finally:
        c.close()


JAAS_CUSTOM = """Custom {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_bob="bobsecret";
};
"""


@paddock_only
def test_sasl_serverconfig_names_the_jaas_section(servers, clients):
    s = servers(start=False, extra_cfg={
        "authProvider.1": "org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
        "zookeeper.sasl.serverconfig": "Custom"})
    jaas = os.path.join(s.dir, "jaas.conf")
    with open(jaas, "w") as f:
        f.write(JAAS_CUSTOM)
    s.cfg["java.security.auth.login.config"] = jaas
    s.rewrite_cfg()
    s.start()
    bob = clients(s, sasl_options={"mechanism": "DIGEST-MD5", "username": "bob",
                                   "password": "bobsecret"})
    bob.create("/custom-section", b"x", acl=[make_acl("sasl", "bob", all=True)])
    assert bob.get("/custom-section")[0] == b"x"


def _threads(pid):
    """{thread name: (state, allowed cpus)} of a process, from /proc."""
    out = {}
    base = "/proc/%d/task" % pid
    for tid in os.listdir(base):
        try:
            with open(os.path.join(base, tid, "comm")) as f:
                name = f.read().strip()
            with open(os.path.join(base, tid, "status")) as f:
                status = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        except OSError:
            continue
        out[name] = (status["State"].strip()[0], status["Cpus_allowed_list"].strip())
    return out


@paddock_only
def test_paddock_cores_and_log_core_place_the_work(servers):
    core = min(os.sched_getaffinity(0))
    s = servers(extra_cfg={"paddock.cores": str(core), "paddock.logCore": str(core)})
    threads = _threads(s.proc.pid)
    shards = {n: v for n, v in threads.items() if n.startswith("paddock-shard")}
    assert list(shards) == ["paddock-shard-0"], threads
    assert shards["paddock-shard-0"][1] == str(core), threads
    assert threads["paddock-log"][1] == str(core), threads


@paddock_only
@pytest.mark.parametrize("enabled", ["true", "false"])
def test_snapshot_replica_thread_follows_the_knob(servers, enabled):
    s = servers(extra_cfg={"paddock.snapshotReplica": enabled})
    names = _threads(s.proc.pid)
    # comm is cut to 15 bytes: "paddock-snapsho".
    assert any(n.startswith("paddock-snap") for n in names) == (enabled == "true"), names


SYS_PIDFD_OPEN, SYS_PIDFD_GETFD = 434, 438


def _server_socket_for(pid, client):
    """The server's end of ``client`` (a duplicate fd via pidfd_getfd)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = libc.syscall(SYS_PIDFD_OPEN, pid, 0)
    if pidfd < 0:
        pytest.skip("pidfd_open unavailable (errno %d)" % ctypes.get_errno())
    try:
        want = client.getsockname()
        for name in os.listdir("/proc/%d/fd" % pid):
            try:
                if not os.readlink("/proc/%d/fd/%s" % (pid, name)).startswith("socket:"):
                    continue
            except OSError:
                continue
            fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, int(name), 0)
            if fd < 0:
                pytest.skip("pidfd_getfd unavailable (errno %d)" % ctypes.get_errno())
            sock = socket.socket(fileno=fd)
            try:
                if sock.type == socket.SOCK_STREAM and sock.getpeername() == want:
                    return sock
            except OSError:
                pass
            sock.close()
    finally:
        os.close(pidfd)
    raise AssertionError("no server socket for %r" % (client.getsockname(),))


@paddock_only
@pytest.mark.parametrize("enabled,expected", [("true", 1), ("false", 0)])
def test_socket_no_delay_sets_tcp_nodelay(servers, enabled, expected):
    from rawzk import RawZK
    s = servers(extra_cfg={"paddock.socketNoDelay": enabled})
    c = RawZK(s.port)
    c.connect()
    try:
        server_end = _server_socket_for(s.proc.pid, c.sock)
        try:
            assert server_end.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == expected
        finally:
            server_end.close()
    finally:
        c.close()


@paddock_only
def test_session_touch_interval_longer_than_timeout_expires_busy_sessions(servers):
    # A session that pings on time still expires when its shard reports the
    # traffic to the tracker less often than the session timeout.
    s = servers(tick_time=500, extra_cfg={"paddock.sessionTouchIntervalMs": "60000"})
    states = []
    zk = KazooClient(hosts=s.hosts, timeout=2.0)
    zk.add_listener(states.append)
    zk.start(timeout=15)
    try:
        wait_until(lambda: KazooState.LOST in states, 20, what="the session expiring")
    finally:
        zk.stop()
        zk.close()


def _cons_field(server, local_port, field):
    """`field=` of the connection from ``local_port`` in `cons`, or None."""
    for line in four_letter(server.port, "cons").splitlines():
        if (":%d[" % local_port) in line and (field + "=") in line:
            return int(line.split(field + "=")[1].split(",")[0].rstrip(")"))
    return None


@paddock_only
def test_max_outstanding_per_connection_stops_reading(servers):
    """With paddock.maxOutstandingPerConnection=1 a connection's next
    request waits unhandled while one is in flight: a write held 3 s by the
    group commit wait, then a read behind it. `cons` shows one request
    queued (the read waits outside, unread by the request pipeline); with
    the default limit both are taken in at once and the read queues behind
    the write (per-session order), so two are queued."""
    for limit, expected in ((1, 1), (1000, 2)):
        s = servers({"paddock.maxOutstandingPerConnection": str(limit),
                     "paddock.groupCommitWaitMicros": "3000000",
                     "paddock.cores": "0"})
        z = rawzk.RawZK(s.port)
        try:
            z.connect()
            local_port = z.sock.getsockname()[1]
            create = (rawzk.Writer().string("/held").buffer(b"x")
                      .acls([(31, "world", "anyone")]).int(0).bytes())
            z.send_frame(rawzk.Writer().int(1).int(rawzk.CREATE).bytes() + create)
            z.send_frame(rawzk.Writer().int(2).int(rawzk.EXISTS).bytes()
                         + rawzk.Writer().string("/").bool(False).bytes())
            wait_until(lambda: (_cons_field(s, local_port, "recved") or 0) >= 3, 2.0,
                       what="both requests read by the server")
            # `queued`, sampled for as long as the write is held (until its
            # reply is readable), not once after a pause: with the limit the
            # read is never taken in, without it both are
            seen = []
            deadline = time.monotonic() + 30
            while not select.select([z.sock], [], [], 0)[0]:
                assert time.monotonic() < deadline, "the held write never answered"
                queued = _cons_field(s, local_port, "queued")
                if queued is not None:
                    seen.append(queued)
                time.sleep(0.02)
            assert seen and max(seen) == expected, (limit, seen, four_letter(s.port, "cons"))
            assert z.read_reply(1, timeout=15).err == 0
            assert z.read_reply(2, timeout=15).err == 0
        finally:
            z.close()
            s.stop()


def _cpu_seconds(pid):
    """utime + stime of a process, from /proc (clock ticks → seconds)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@paddock_only
def test_spin_before_park_burns_cpu_when_idle(servers, clients):
    """paddock.spinBeforeParkMicros makes an idle shard spin before it
    sleeps: the same trickle of requests (one per 50 ms for 3 s) costs the
    server a small fraction of a core without it and most of a core with a
    100 ms spin (the shard never gets to sleep between requests). The
    margin is wide on purpose: this compares CPU time spent, not latency."""
    used = {}
    for spin in (0, 100000):
        s = servers({"paddock.spinBeforeParkMicros": str(spin), "paddock.cores": "0"})
        zk = clients(s)
        before = _cpu_seconds(s.proc.pid)
        for _ in range(60):
            zk.exists("/")
            time.sleep(0.05)
        used[spin] = _cpu_seconds(s.proc.pid) - before
        s.stop()
    assert used[100000] > 0.6, used
    assert used[100000] > 3 * used[0], used
