"""Sessions: close, expiry, reconnect, timeout negotiation."""
import threading
import time

import pytest
from kazoo.protocol.states import EventType

import rawzk
from rawzk import RawZK
from conftest import four_letter, is_zookeeper, wait_until


def _exists_watch(zk, path):
    fired = threading.Event()
    events = []

    def w(ev):
        events.append(ev)
        fired.set()

    assert zk.exists(path, watch=w) is not None
    return fired, events


def test_ephemerals_vanish_on_close(zk_factory, root):
    owner = zk_factory()
    watcher = zk_factory()
    owner.create(root + "/e1", ephemeral=True)
    owner.create(root + "/e2-", ephemeral=True, sequence=True)
    owner.create(root + "/keep")
    fired, events = _exists_watch(watcher, root + "/e1")
    owner.stop()
    assert fired.wait(10)
    assert events[0].type == EventType.DELETED
    assert sorted(watcher.get_children(root)) == ["keep"]


def test_raw_close_session_removes_ephemerals(shared_server, zk, root):
    c = RawZK(shared_server.port)
    c.connect()
    assert c.create(root + "/e", flags=1).err == 0
    assert zk.exists(root + "/e").ephemeralOwner == c.session_id
    rep = c.close_session()
    assert rep.err == 0
    # ZooKeeper closes the socket after answering closeSession
    assert c.is_closed_by_server(5)
    c.close()
    assert zk.exists(root + "/e") is None


def test_session_expiry_removes_ephemerals_and_fires_watches(shared_server, zk, root):
    c = RawZK(shared_server.port)
    info = c.connect(timeout_ms=4000)
    assert info["timeOut"] == 4000
    sid, pw = c.session_id, c.passwd
    assert c.create(root + "/eph", b"x", flags=1).err == 0
    fired, events = _exists_watch(zk, root + "/eph")
    c.close()  # no closeSession, no more pings
    # The session outlives its connection: a new connection resumes it (same
    # id, a real timeout) and its ephemeral is still there.
    again = RawZK(shared_server.port)
    try:
        resumed = again.connect(timeout_ms=4000, session_id=sid, passwd=pw)
        assert resumed["sessionId"] == sid and resumed["timeOut"] == 4000, resumed
        assert again.exists(root + "/eph").err == 0
    finally:
        again.close()  # abandoned again: nothing pings it from here on
    assert not fired.is_set(), events
    # ... and then expires: its ephemeral goes and the watch fires (the
    # deadline is generous: what is checked is that it happens, not when)
    assert fired.wait(60), "ephemeral of an abandoned session was not removed"
    assert events[0].type == EventType.DELETED and events[0].path == root + "/eph"
    assert zk.exists(root + "/eph") is None

    # reconnecting with the expired session: ZooKeeper answers a
    # ConnectResponse with timeOut 0, sessionId 0 and an all-zero 16-byte
    # password (the client maps that to SESSIONEXPIRED) and closes the socket.
    r = RawZK(shared_server.port)
    try:
        resp = r.connect(timeout_ms=4000, session_id=sid, passwd=pw)
        assert resp["timeOut"] == 0
        assert resp["sessionId"] == 0
        assert resp["passwd"] == b"\x00" * 16
        assert resp["protocolVersion"] == 0
        assert r.is_closed_by_server(5)
    finally:
        r.close()


def test_reconnect_live_session_and_wrong_password(shared_server, zk, root):
    c = RawZK(shared_server.port)
    c.connect(timeout_ms=10000)
    sid, pw = c.session_id, c.passwd
    assert len(pw) == 16
    assert c.create(root + "/e", flags=1).err == 0
    c.close()

    # same id + password on a new socket: the session continues
    c2 = RawZK(shared_server.port)
    resp = c2.connect(timeout_ms=10000, session_id=sid, passwd=pw,
                      last_zxid=zk.exists(root + "/e").czxid)
    assert resp["sessionId"] == sid and resp["timeOut"] == 10000
    assert resp["passwd"] == pw
    assert c2.exists(root + "/e").err == 0
    assert zk.exists(root + "/e").ephemeralOwner == sid

    # wrong password: same answer as an expired session, socket closed.
    # ZooKeeper (processConnectRequest) first closes any *existing*
    # connection of that session id (DisconnectReason CLIENT_RECONNECT) and
    # only then checks the password, so the live connection c2 is dropped
    # too -- but the session itself survives.
    bad = RawZK(shared_server.port)
    try:
        resp = bad.connect(timeout_ms=10000, session_id=sid, passwd=b"\x01" * 16)
        assert (resp["timeOut"], resp["sessionId"]) == (0, 0)
        assert bad.is_closed_by_server(5)
    finally:
        bad.close()
    assert c2.is_closed_by_server(5)
    c2.close()
    c3 = RawZK(shared_server.port)
    resp = c3.connect(timeout_ms=10000, session_id=sid, passwd=pw)
    assert resp["sessionId"] == sid
    assert c3.ping().err == 0
    assert c3.exists(root + "/e").err == 0
    assert c3.close_session().err == 0
    c3.close()
    assert zk.exists(root + "/e") is None


def test_connect_with_zxid_ahead_of_server_is_refused(shared_server):
    c = RawZK(shared_server.port)
    try:
        c.send_frame(rawzk.Writer().int(0).long(1 << 60).int(10000).long(0)
                     .buffer(b"\x00" * 16).bool(False).bytes())
        # "Refusing session request for client ... as it has seen zxid ...
        # our last zxid is ..." -> connection closed without a response
        with pytest.raises(rawzk.Closed):
            c.read_frame(timeout=5)
    finally:
        c.close()


@pytest.mark.parametrize("requested,expected", [
    (1, 4000), (3999, 4000), (4000, 4000), (10000, 10000), (40000, 40000),
    (40001, 40000), (600000, 40000)])
def test_negotiated_timeout_clamped(shared_server, requested, expected):
    # tickTime=2000: min 2*tick = 4000, max 20*tick = 40000
    c = RawZK(shared_server.port)
    try:
        assert c.connect(timeout_ms=requested)["timeOut"] == expected
        c.close_session()
    finally:
        c.close()


def test_timeout_bounds_follow_tick_time(server_factory):
    s = server_factory(tick_time=500)
    for requested, expected in [(1, 1000), (5000, 5000), (20000, 10000)]:
        c = RawZK(s.port)
        try:
            assert c.connect(timeout_ms=requested)["timeOut"] == expected
        finally:
            c.close()
    s2 = server_factory(extra_cfg={"minSessionTimeout": "3000",
                                   "maxSessionTimeout": "7000"})
    for requested, expected in [(1, 3000), (5000, 5000), (20000, 7000)]:
        c = RawZK(s2.port)
        try:
            assert c.connect(timeout_ms=requested)["timeOut"] == expected
        finally:
            c.close()


def test_kazoo_short_timeout_stays_connected(zk_factory, root):
    # requested 1 s is raised to 4 s; kazoo must keep the session alive
    c = zk_factory(timeout=1.0)
    sid = c.client_id[0]
    c.create(root + "/e", ephemeral=True)
    time.sleep(6)
    assert c.connected and c.client_id[0] == sid
    assert c.exists(root + "/e").ephemeralOwner == sid


def test_session_ids_unique_and_ping(shared_server):
    ids = set()
    for _ in range(5):
        c = RawZK(shared_server.port)
        c.connect()
        assert c.ping().err == 0
        ids.add(c.session_id)
        c.close_session()
        c.close()
    assert len(ids) == 5 and 0 not in ids


def _srvr_zxid(port):
    import re
    out = four_letter(port, "srvr")
    m = re.search(r"^Zxid: (0x[0-9a-f]+)$", out, re.M)
    assert m, out
    return int(m.group(1), 16)


@pytest.mark.skipif(is_zookeeper(), reason="a deliberate difference: ZooKeeper "
                    "creates the session for a client that is already gone")
def test_a_connect_whose_client_hung_up_before_it_was_handled_is_dropped(server):
    # The server is stopped while a client connects, sends its ConnectRequest
    # and gives up (closes). When it runs again, the connect and the hang-up
    # are both queued: no session may be created (or, for a reconnect, moved
    # to this server) for a client that went elsewhere.
    import os
    import signal
    import socket

    before = _srvr_zxid(server.port)
    os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        payload = rawzk.Writer().int(0).long(0).int(10000).long(0) \
            .buffer(b"\x00" * 16).bool(False).bytes()
        s.sendall(len(payload).to_bytes(4, "big") + payload)
        s.close()
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
    wait_until(lambda: b"hung up before its connect" in open(server.log_path, "rb").read(),
               10, what="the server to drop the abandoned connect")
    assert _srvr_zxid(server.port) == before
