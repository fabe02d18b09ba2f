"""Operational promises of the standalone server: configuration errors, SIGTERM,
snapshots and recovery, torn log tails, SASL and super digest auth,
maxClientCnxns, jute.maxbuffer, many sessions across cores, four-letter words
under load, disk full.

Tests that exercise paddock's own surface (its command line, log file format,
log messages) are skipped for PADDOCK_SERVER=zookeeper with a reason; the
rest run against both servers. Every wait has a deadline.
"""
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (AuthFailedError, ConnectionLoss,
                              KazooException, NoAuthError, NoNodeError,
                              SystemZookeeperError)
from kazoo.retry import KazooRetry
from kazoo.security import make_acl, make_digest_acl

from conftest import free_port, is_zookeeper, wait_until
import opshelp
from opshelp import OpsServer, run_paddock

paddock_only = pytest.mark.skipif(
    is_zookeeper(), reason="paddock-specific: paddock's command line / log format")

OP_TIMEOUT = 10.0  # every client call is async with this deadline


@pytest.fixture
def clients():
    made = []

    def make(server, timeout=10.0, start=True, connect_timeout=15.0, **kw):
        kw.setdefault("connection_retry", {"max_tries": -1, "delay": 0.1,
                                           "max_delay": 1, "deadline": 30})
        c = KazooClient(hosts=server.hosts, timeout=timeout, **kw)
        made.append(c)
        if start:
            c.start(timeout=connect_timeout)
        return c

    yield make
    for c in made:
        try:
            c.stop()
            c.close()
        except Exception:  # noqa: BLE001
            pass


def call(async_result, timeout=OP_TIMEOUT):
    return async_result.get(timeout=timeout)


def create_many(zk, paths, data=b"x", window=200):
    """Pipelined creates; returns when all are acknowledged."""
    for i in range(0, len(paths), window):
        rs = [zk.create_async(p, data) for p in paths[i:i + window]]
        for r in rs:
            r.get(timeout=OP_TIMEOUT)


def stat_key(st):
    return (st.czxid, st.mzxid, st.version, st.cversion, st.pzxid,
            st.aversion, st.ephemeralOwner, st.dataLength, st.numChildren)


# --------------------------------------------------------------------------
# 1. configuration
# --------------------------------------------------------------------------

@paddock_only
def test_config_bad_value_names_file_line_and_key():
    d = opshelp.tmpdir()
    try:
        cfg = os.path.join(d, "zoo.cfg")
        with open(cfg, "w") as f:
            f.write("dataDir=%s\nclientPort=%d\ntickTime=abc\n"
                    % (os.path.join(d, "data"), free_port()))
        # run_paddock's timeout is the deadline: a bad value must stop the
        # start, not leave a server running
        r = run_paddock(["start", "--config", cfg], cwd=d, timeout=30)
        assert r.returncode != 0
        err = r.stderr.decode()
        assert cfg in err and ":3" in err and "tickTime" in err, err
    finally:
        shutil.rmtree(d, ignore_errors=True)


@paddock_only
def test_config_unknown_key_refuses_to_start(servers):
    s = servers(start=False, extra_cfg={"someUnknownKeyXyz": "42"})
    r = run_paddock(["start", "--config", s.cfg_path], cwd=s.dir, timeout=10)
    assert r.returncode != 0
    err = r.stderr.decode()
    line = [l for l in err.splitlines() if "someUnknownKeyXyz" in l]
    assert line, err
    assert s.cfg_path in line[0] and "not a ZooKeeper 3.8 or paddock key" in line[0], line


@paddock_only
def test_config_missing_data_dir_is_an_error():
    d = opshelp.tmpdir()
    try:
        cfg = os.path.join(d, "zoo.cfg")
        with open(cfg, "w") as f:
            f.write("tickTime=2000\nclientPort=%d\n" % free_port())
        r = run_paddock(["start", "--config", cfg], cwd=d, timeout=10)
        assert r.returncode != 0
        err = r.stderr.decode()
        assert "dataDir" in err and cfg in err, err
    finally:
        shutil.rmtree(d, ignore_errors=True)


# The client half of the default-port test, run inside the server's
# network namespace: srvr answers on 127.0.0.1:2181, and a write is acked.
_DEFAULT_PORT_CLIENT = r"""
from conftest import four_letter, wait_until
from kazoo.client import KazooClient
wait_until(lambda: "Mode:" in four_letter(2181, "srvr", timeout=1), 30,
           what="paddock on 127.0.0.1:2181")
zk = KazooClient(hosts="127.0.0.1:2181", timeout=10)
zk.start(timeout=15)
zk.create_async("/default-args", b"v").get(timeout=10)
zk.stop()
zk.close()
print("created /default-args")
"""


@paddock_only
def test_start_without_args_uses_2181_and_cwd_data():
    # 2181 is fixed by what is tested; the server gets a network namespace of
    # its own, where 2181 is free (no race with another server or worker).
    d = opshelp.tmpdir()
    proc = subprocess.Popen(opshelp.in_private_netns([opshelp.paddock_bin(), "start"]), cwd=d,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        client = subprocess.run(
            opshelp.in_netns_of(proc.pid, [sys.executable, "-c", _DEFAULT_PORT_CLIENT]),
            capture_output=True, text=True, timeout=90,
            env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.abspath(__file__))))
        assert client.returncode == 0 and "created /default-args" in client.stdout, (
            client.stdout, client.stderr,
            proc.poll() is not None and proc.stderr.read().decode())
        assert os.path.isdir(os.path.join(d, "data", "version-2")), os.listdir(d)
        proc.send_signal(signal.SIGTERM)
        assert opshelp.wait_exit(proc, 30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        shutil.rmtree(d, ignore_errors=True)


@paddock_only
def test_tuning_overrides_config_and_bad_knob_names_tuning_file(servers):
    s = servers(start=False, extra_cfg={"maxClientCnxns": "60"})
    tuning = os.path.join(s.dir, "my-tuning.cfg")
    with open(tuning, "w") as f:
        f.write("# comment\nmaxClientCnxns=7\n")
    orig = s.command

    s.command = lambda: orig() + ["--tuning", tuning]
    s.start()
    assert "maxClientCnxns=7" in s.flw("conf")
    s.stop()
    with open(tuning, "w") as f:
        f.write("# comment\npaddock.noSuchKnob=1\n")
    r = run_paddock(["start", "--config", s.cfg_path, "--tuning", tuning],
                    cwd=s.dir, timeout=10)
    assert r.returncode != 0
    err = r.stderr.decode()
    assert tuning + ":2" in err and "paddock.noSuchKnob" in err, err


# --------------------------------------------------------------------------
# 2. SIGTERM
# --------------------------------------------------------------------------

def test_sigterm_exits_cleanly_drops_clients_keeps_writes(servers, clients):
    s = servers()
    zk = clients(s, connection_retry=KazooRetry(max_tries=0))
    states = []
    dropped = threading.Event()

    def listener(state):
        states.append(state)
        if state != KazooState.CONNECTED:
            dropped.set()
    zk.add_listener(listener)
    call(zk.create_async("/term"))
    paths = ["/term/n-%04d" % i for i in range(300)]
    create_many(zk, paths)
    call(zk.set_async("/term/n-0007", b"changed"))
    s.proc.send_signal(signal.SIGTERM)
    # exits by itself (wait_exit's deadline is generous; it SIGKILLs and
    # raises when it passes): the exit status says it was a clean shutdown
    rc = opshelp.wait_exit(s.proc, 30)
    # the JVM reports death by SIGTERM as 143 after running its shutdown hooks
    assert rc == (143 if is_zookeeper() else 0), (rc, s.log_tail())
    assert dropped.wait(10), states
    s._close_log()
    s._wait_port_closed()
    s.start()
    zk2 = clients(s)
    assert sorted(call(zk2.get_children_async("/term"))) == \
        sorted(p.rsplit("/", 1)[1] for p in paths)
    assert call(zk2.get_async("/term/n-0007"))[0] == b"changed"
    if not is_zookeeper():
        assert "shutting down" in s.log_text()


# --------------------------------------------------------------------------
# 3. snapshots and recovery
# --------------------------------------------------------------------------

def _snapshots(d):
    v2 = os.path.join(d, "version-2")
    return sorted(f for f in os.listdir(v2) if f.startswith("snapshot."))


@pytest.mark.timeout(90)
def test_snapshots_recovery_stats_sessions_and_retention(servers, clients):
    s = servers(extra_cfg={"snapCount": "100", "autopurge.purgeInterval": "1",
                           "autopurge.snapRetainCount": "3"})
    zk = clients(s)
    # no retry deadline: kazoo measures it from the first connect, not from
    # the drop, and would give up reconnecting on a slow run
    live = clients(s, timeout=30.0, connection_retry={
        "max_tries": -1, "delay": 0.1, "max_delay": 0.5})
    live_id = live.client_id[0]
    live_states = []
    live.add_listener(lambda st: live_states.append((round(time.monotonic(), 1), st)))
    call(live.create_async("/live-eph", b"e", ephemeral=True))
    call(zk.create_async("/snap"))
    dirs = ["/snap/d%02d" % i for i in range(20)]
    create_many(zk, dirs)
    paths = ["%s/n-%03d" % (d, i) for d in dirs for i in range(100)]
    create_many(zk, paths)
    rng = random.Random(7)
    sample = rng.sample(paths, 60)
    for p in sample[:30]:  # give the sample non-trivial versions
        call(zk.set_async(p, b"v1"))
        call(zk.set_async(p, b"v2"))
    for d in dirs[:5]:  # and the parents non-trivial cversion/pzxid
        call(zk.delete_async(d + "/n-000"))
        if d + "/n-000" in sample:
            sample.remove(d + "/n-000")
    before = {p: (call(zk.get_async(p))[0], stat_key(call(zk.exists_async(p))))
              for p in sample + dirs + ["/snap"]}
    snap_dir = s.data_dir
    wait_until(lambda: len(_snapshots(snap_dir)) >= 1, 15, what="snapshot files")
    total_children = {d: len(call(zk.get_children_async(d))) for d in dirs}

    s.kill9()
    s.start()
    # paddock purges after every snapshot; ZooKeeper purges at startup (and
    # then hourly), before it writes its startup snapshot: 3 + 1.
    retained = 4 if is_zookeeper() else 3
    wait_until(lambda: len(_snapshots(snap_dir)) <= retained, 15,
               what="at most 3 snapshots retained: %s" % _snapshots(snap_dir))
    zk2 = clients(s)
    for d in dirs:
        assert len(call(zk2.get_children_async(d))) == total_children[d], d
    for p, (data, st) in before.items():
        assert call(zk2.get_async(p))[0] == data, p
        assert stat_key(call(zk2.exists_async(p))) == st, p
    # the still-live session and its ephemeral survived the restart
    wait_until(lambda: live.state == KazooState.CONNECTED, 20,
               what="live session reconnects (state %s, %s)"
               % (live.state, live_states)
               + "".join(l for l in s.log_text().splitlines(True)
                         if "efus" in l or "0x%x" % live_id in l)[-1500:])
    assert live.client_id[0] == live_id
    st = call(zk2.exists_async("/live-eph"))
    assert st is not None and st.ephemeralOwner == live_id
    call(live.create_async("/live-eph2", ephemeral=True))
    assert len(_snapshots(snap_dir)) <= retained


# --------------------------------------------------------------------------
# 4. torn log tail (paddock's log format)
# --------------------------------------------------------------------------

def _torn_setup(servers, clients, separate_log_dir):
    extra = {}
    s = servers(start=False)
    if separate_log_dir:
        s.log_dir = os.path.join(s.dir, "txnlog")
        os.makedirs(s.log_dir)
        s.cfg["dataLogDir"] = s.log_dir
        s.rewrite_cfg()
    else:
        s.log_dir = s.data_dir
    s.start()
    zk = clients(s, connection_retry=KazooRetry(max_tries=0))
    call(zk.create_async("/torn"))
    paths = ["/torn/n-%03d" % i for i in range(200)]
    create_many(zk, paths, data=b"payload-data")
    # kill while the session is open: the last logged record is the last create
    s.kill9()
    return s, paths, extra


@paddock_only
@pytest.mark.parametrize("separate_log_dir", [False, True])
def test_torn_tail_garbage_appended(servers, clients, separate_log_dir):
    s, paths, _ = _torn_setup(servers, clients, separate_log_dir)
    v2 = os.path.join(s.log_dir, "version-2")
    if separate_log_dir:
        assert not [f for f in os.listdir(os.path.join(s.data_dir, "version-2"))
                    if f.startswith("log.")], "log.* written to dataDir"
    seg = opshelp.newest_log(v2)
    recs, end = opshelp.paddock_records(seg)
    assert len(recs) >= 200
    with open(seg, "r+b") as f:
        f.seek(end)
        f.write(bytes(random.Random(1).randrange(1, 256) for _ in range(700)))
    s.start()
    log = s.log_text()
    assert re.search(r"WARN.*cut a torn or corrupt tail off .*%s" % re.escape(seg),
                     log), log[-3000:]
    zk = clients(s)
    assert sorted(call(zk.get_children_async("/torn"))) == \
        sorted(p.rsplit("/", 1)[1] for p in paths)
    call(zk.create_async("/torn/after"))
    s.kill9()
    s.start()  # the log stays clean after the cut
    zk2 = clients(s)
    assert len(call(zk2.get_children_async("/torn"))) == len(paths) + 1
    assert s.log_text().count("cut a torn or corrupt tail") == 1


@paddock_only
def test_torn_tail_flipped_byte_in_last_record(servers, clients):
    s, paths, _ = _torn_setup(servers, clients, False)
    seg = opshelp.newest_log(os.path.join(s.data_dir, "version-2"))
    recs, end = opshelp.paddock_records(seg)
    off, size, zxid = recs[-1]
    with open(seg, "r+b") as f:
        pos = off + 16 + 4  # inside the payload of the last record
        f.seek(pos)
        b = f.read(1)
        f.seek(pos)
        f.write(bytes([b[0] ^ 0xFF]))
    s.start()
    log = s.log_text()
    assert re.search(r"cut a torn or corrupt tail off .*%s at offset %d"
                     % (re.escape(seg), off), log), log[-3000:]
    zk = clients(s)
    present = set(call(zk.get_children_async("/torn")))
    # the last record is the last create; everything before it is kept
    want = set(p.rsplit("/", 1)[1] for p in paths[:-1])
    assert want <= present and len(present) == len(paths) - 1, \
        sorted(set(p.rsplit("/", 1)[1] for p in paths) - present)


# --------------------------------------------------------------------------
# 5. SASL (DIGEST-MD5 via JAAS)
# --------------------------------------------------------------------------

JAAS = """Server {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_bob="bobsecret";
};
"""
SASL_PROVIDER = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"


def _sasl_server(servers, via):
    s = servers(start=False, extra_cfg={"authProvider.1": SASL_PROVIDER})
    jaas = os.path.join(s.dir, "jaas.conf")
    with open(jaas, "w") as f:
        f.write(JAAS)
    if via == "cfg":
        s.cfg["java.security.auth.login.config"] = jaas
        s.rewrite_cfg()
    else:
        s.env["SERVER_JVMFLAGS"] = "-Djava.security.auth.login.config=%s" % jaas
    s.start()
    return s


@pytest.mark.parametrize("via", [
    pytest.param("cfg", marks=paddock_only),
    "jvmflags"])
def test_sasl_digest_md5(servers, clients, via):
    s = _sasl_server(servers, via)
    bob = clients(s, sasl_options={"mechanism": "DIGEST-MD5", "username": "bob",
                                   "password": "bobsecret"})
    call(bob.create_async("/sasl-secret", b"top",
                          acl=[make_acl("sasl", "bob", all=True)]))
    assert call(bob.get_async("/sasl-secret"))[0] == b"top"
    acl, _ = call(bob.get_acls_async("/sasl-secret"))
    assert [(a.id.scheme, a.id.id, a.perms) for a in acl] == [("sasl", "bob", 31)]
    anon = clients(s)
    with pytest.raises(NoAuthError):
        call(anon.get_async("/sasl-secret"))


def test_sasl_wrong_password_fails(servers, clients):
    s = _sasl_server(servers, "jvmflags")
    bad = clients(s, start=False, sasl_options={
        "mechanism": "DIGEST-MD5", "username": "bob", "password": "wrong"},
        connection_retry=KazooRetry(max_tries=0))
    states = []
    lost = threading.Event()

    def listener(st):
        states.append(st)
        if st == KazooState.LOST:
            lost.set()
    bad.add_listener(listener)
    call(clients(s, sasl_options={
        "mechanism": "DIGEST-MD5", "username": "bob", "password": "bobsecret"}
    ).create_async("/sasl-bob", b"b", acl=[make_acl("sasl", "bob", all=True)]))
    # ZooKeeper answers the bad DIGEST-MD5 response by closing the connection
    # ("Closing client connection due to SASL authentication failure"); kazoo
    # reports AUTH_FAILED and the session is LOST.
    try:
        bad.start(timeout=10)
    except AuthFailedError:  # surfacing from start is fine
        pass
    assert lost.wait(10), "wrong SASL password not rejected: states %s" % states
    # the client refuses requests for the reason its session ended
    with pytest.raises(AuthFailedError):
        call(bad.get_async("/sasl-bob"), timeout=5)
    if not is_zookeeper():
        assert "SASL authentication from" in s.log_text()


# --------------------------------------------------------------------------
# 6. super digest
# --------------------------------------------------------------------------

def test_super_digest_bypasses_acls(servers, clients):
    s = servers(extra_cfg={"DigestAuthenticationProvider.superDigest":
                           "super:" + opshelp.digest("super", "secret")})
    owner = clients(s, auth_data=[("digest", "alice:pw")])
    call(owner.create_async("/locked", b"hidden",
                            acl=[make_digest_acl("alice", "pw", all=True)]))
    call(owner.create_async("/locked/child", b"c",
                            acl=[make_digest_acl("alice", "pw", all=True)]))
    other = clients(s, auth_data=[("digest", "super:wrong")])
    with pytest.raises(NoAuthError):
        call(other.get_async("/locked"))
    sup = clients(s)
    call(sup.add_auth_async("digest", "super:secret"))
    assert call(sup.get_async("/locked"))[0] == b"hidden"
    call(sup.delete_async("/locked/child"))
    call(sup.set_async("/locked", b"by-super"))
    assert call(owner.get_async("/locked"))[0] == b"by-super"
    call(sup.delete_async("/locked"))
    assert call(owner.exists_async("/locked")) is None


# --------------------------------------------------------------------------
# 7. maxClientCnxns
# --------------------------------------------------------------------------

def test_max_client_cnxns_per_ip(servers):
    import rawzk
    from rawzk import RawZK
    s = servers(extra_cfg={"maxClientCnxns": "5"})
    conns = []
    try:
        for _ in range(5):
            c = RawZK(s.port)
            c.connect()
            conns.append(c)
        sixth = RawZK(s.port)
        conns.append(sixth)
        # refused = closed (EOF or reset) before a reply; a timeout is not a refusal
        with pytest.raises((rawzk.Closed, ConnectionResetError, BrokenPipeError)):
            sixth.connect()
        for c in conns[:5]:  # the first five still work
            c.ping()
            assert c.exists("/").err == 0
        # closing one frees its slot for a new connection
        conns[0].close_session()
        conns[0].close()

        def seventh_connects():
            c = RawZK(s.port)
            conns.append(c)
            c.connect()
            return c.exists("/").err == 0
        wait_until(seventh_connects, 10, interval=0.2,
                   what="a slot freed by a closed connection")
    finally:
        for c in conns:
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass


# --------------------------------------------------------------------------
# 8. jute.maxbuffer
# --------------------------------------------------------------------------

def test_jute_maxbuffer_from_zoo_cfg(servers, clients):
    if is_zookeeper():
        # ZooKeeper turns the zoo.cfg key into the system property
        # zookeeper.jute.maxbuffer, which its server never reads; the same
        # setting for ZooKeeper is the JVM flag -Djute.maxbuffer.
        s = servers(env={"SERVER_JVMFLAGS": "-Djute.maxbuffer=10000"})
    else:
        s = servers(extra_cfg={"jute.maxbuffer": "10000"})
    zk = clients(s, connection_retry=KazooRetry(max_tries=0))
    call(zk.create_async("/jm", b""))
    call(zk.set_async("/jm", b"a" * 5000))
    assert call(zk.get_async("/jm"))[0] == b"a" * 5000
    # a frame over jute.maxbuffer closes the connection (both servers)
    with pytest.raises(ConnectionLoss):
        call(zk.set_async("/jm", b"b" * 20000))
    probe = clients(s)
    assert call(probe.get_async("/jm"))[0] == b"a" * 5000


# --------------------------------------------------------------------------
# 9. many sessions across cores
# --------------------------------------------------------------------------

@pytest.mark.timeout(90)
def test_200_sessions_ephemerals_and_watches(servers, clients):
    from rawzk import RawZK
    n = 200
    s = servers(extra_cfg={"maxClientCnxns": "0"})
    obs = clients(s)
    call(obs.create_async("/many"))
    raws = []
    try:
        for i in range(n):
            c = RawZK(s.port, timeout=10)
            c.connect(timeout_ms=30000)
            raws.append(c)
        for i, c in enumerate(raws):
            assert c.create("/many/e-%03d" % i, b"%d" % i, flags=1).err == 0
        assert len(call(obs.get_children_async("/many"))) == n
        for i, c in enumerate(raws):
            st = call(obs.exists_async("/many/e-%03d" % i))
            assert st.ephemeralOwner == c.session_id
        # each client watches the next client's ephemeral
        for i, c in enumerate(raws):
            assert c.exists("/many/e-%03d" % ((i + 1) % n), watch=True).err == 0
        child_fired = threading.Event()
        obs.get_children("/many", watch=lambda ev: child_fired.set())
        # close the odd sessions: client i-1 (even) must see NodeDeleted
        for i in range(1, n, 2):
            raws[i].close_session()
        assert child_fired.wait(10)
        for i in range(0, n, 2):
            evs = raws[i].wait_events(1, timeout=10)
            assert [(e.type, e.path) for e in evs] == \
                [(2, "/many/e-%03d" % (i + 1))], (i, evs)
        assert len(call(obs.get_children_async("/many"))) == n // 2
        for i in range(0, n, 2):
            raws[i].close_session()
        wait_until(lambda: call(obs.get_children_async("/many")) == [], 10,
                   what="all ephemerals gone")
    finally:
        for c in raws:
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass


# --------------------------------------------------------------------------
# 10. four-letter words under load
# --------------------------------------------------------------------------

def test_four_letter_words_see_every_core(servers):
    from rawzk import RawZK
    n = 40
    s = servers(extra_cfg={"maxClientCnxns": "0"})
    raws = []
    try:
        setup = RawZK(s.port)
        setup.connect()
        setup.create("/fl", b"")
        for i in range(n):
            setup.create("/fl/w-%02d" % i, b"")
        setup.close_session()
        for i in range(n):
            c = RawZK(s.port, timeout=10)
            c.connect(timeout_ms=30000)
            assert c.get_data("/fl/w-%02d" % i, watch=True).err == 0
            raws.append(c)
        ids = {c.session_id for c in raws}
        cons = s.flw("cons")
        lines = [l for l in cons.splitlines() if l.strip().startswith("/127.0.0.1:")]
        sids = set(int(m, 16) for m in re.findall(r"sid=0x([0-9a-f]+)", cons))
        assert ids <= sids, (len(ids - sids), cons[:2000])
        # every session plus (possibly) the cons connection itself
        assert n <= len(lines) <= n + 1, cons
        mntr = s.flw("mntr")
        alive = int(re.search(r"zk_num_alive_connections\s+(\d+)", mntr).group(1))
        assert n <= alive <= n + 1, mntr
        wchc = s.flw("wchc")
        for c in raws:
            assert "0x%x" % c.session_id in wchc, wchc[:2000]
        wchp = s.flw("wchp")
        for i in range(n):
            assert "/fl/w-%02d" % i in wchp
        for c in raws:
            assert "0x%x" % c.session_id in wchp
    finally:
        for c in raws:
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass


# --------------------------------------------------------------------------
# 11. disk full
# --------------------------------------------------------------------------

@pytest.mark.skipif(is_zookeeper(), reason="ZooKeeper treats ENOSPC in the txn "
                    "log as fatal: 'No space left on device ... Exiting JVM with "
                    "code 1'; reads after a full disk are a paddock promise")
@pytest.mark.timeout(90)
def test_disk_full_fails_writes_keeps_reads_and_log(servers, clients):
    s = servers(start=False, extra_cfg={"preAllocSize": "64"})
    mnt = os.path.join(s.dir, "smalllog")
    os.makedirs(mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt],
                       capture_output=True, timeout=10)
    if r.returncode != 0:
        pytest.skip("cannot mount tmpfs: %s" % r.stderr.decode().strip())
    try:
        s.cfg["dataLogDir"] = mnt
        s.rewrite_cfg()
        s.start()
        zk = clients(s, connection_retry=KazooRetry(max_tries=0))
        call(zk.create_async("/full"))
        acked = []
        failure = None
        deadline = time.monotonic() + 40
        i = 0
        while time.monotonic() < deadline:
            p = "/full/n-%05d" % i
            try:
                call(zk.create_async(p, b"z" * 4000), timeout=10)
            except Exception as e:  # noqa: BLE001 - checked below
                failure = e
                break
            acked.append(p)
            i += 1
        assert failure is not None, "2 MB log dir never filled"
        # a full log answers ZSYSTEMERROR (-1) at once, and says why in the log
        assert isinstance(failure, SystemZookeeperError), \
            "write on a full disk: expected SystemZookeeperError, got %r" % failure
        assert "disk full: the transaction log cannot grow" in s.log_text()
        assert len(acked) > 50
        # reads keep working on the session that saw the failure (a new
        # session is itself a txn, so it cannot be created while the log
        # refuses writes)
        assert call(zk.get_async(acked[0]))[0] == b"z" * 4000
        assert call(zk.exists_async(acked[-1])) is not None
        assert len(call(zk.get_children_async("/full"))) >= len(acked)
        # and the next write fails too, promptly
        with pytest.raises(SystemZookeeperError):
            call(zk.create_async("/full/again", b"z"), timeout=10)
        s.kill9()
        r = subprocess.run(["mount", "-o", "remount,size=64m", mnt],
                           capture_output=True, timeout=10)
        assert r.returncode == 0, r.stderr
        s.start()
        zk2 = clients(s)
        present = set(call(zk2.get_children_async("/full")))
        missing = [p for p in acked if p.rsplit("/", 1)[1] not in present]
        assert not missing, missing[:5]
        call(zk2.create_async("/full/after", b"ok"))
        s.kill9()
        s.start()
        zk3 = clients(s)
        assert call(zk3.get_async("/full/after"))[0] == b"ok"
        if not is_zookeeper():
            assert "cut a torn or corrupt tail" not in s.log_text()
    finally:
        s.kill9()
        subprocess.run(["umount", "-l", mnt], capture_output=True, timeout=10)
