"""Malformed input on one connection must not hurt other connections.

Outcomes asserted here are the ones Apache ZooKeeper 3.8 shows:
* framing errors (length < 0, length > jute.maxbuffer, length 0, garbage
  ConnectRequest, a frame shorter than a RequestHeader) -> connection closed;
* unknown op code after a valid connect -> ReplyHeader{xid, zxid=-1,
  err=-6 UNIMPLEMENTED}, then the connection is closed;
* a well-framed request whose body does not decode (huge vector count,
  huge string length, negative buffer length, missing fields) ->
  ReplyHeader{err=-5 MARSHALLINGERROR} and the connection stays usable.
"""
import random
import struct
import threading
import time

import pytest

import rawzk
from rawzk import RawZK, Writer

MARSHALLING_ERROR = -5
UNIMPLEMENTED = -6
BAD_ARGUMENTS = -8


class BackgroundLoad:
    """A kazoo client doing set/get in a loop on its own connection, so a test
    can show that abuse on other connections did not hurt it."""

    def __init__(self, server, client, path):
        self.server = server
        self.client = client
        self.path = path
        self.stop = threading.Event()
        self.ok = 0
        self.errors = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        i = 0
        while not self.stop.is_set():
            i += 1
            try:
                self.client.set(self.path, b"%d" % i)
                got = self.client.get(self.path)[0]
                if got != b"%d" % i:
                    self.errors.append("read %r after writing %d" % (got, i))
                self.ok += 1
            except Exception as e:  # noqa: BLE001 - recorded, asserted by the test
                self.errors.append(repr(e))
                time.sleep(0.05)

    def assert_unharmed(self, rounds=5, timeout=10.0):
        """The loop makes `rounds` more round trips without an error, and the
        server still answers ruok. Called at the end of each test body."""
        target = self.ok + rounds
        deadline = time.monotonic() + timeout
        while self.ok < target and not self.errors and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.errors == []
        assert self.ok >= target, "the background client stalled"
        assert self.server.flw("ruok") == "imok"

    def close(self):
        self.stop.set()
        self.thread.join(10)


@pytest.fixture
def background_load(shared_server, zk_factory, root):
    c = zk_factory()
    path = root + "/load"
    c.create(path, b"0")
    load = BackgroundLoad(shared_server, c, path)
    yield load
    load.close()


def _assert_closed(c, timeout=5):
    try:
        assert c.is_closed_by_server(timeout), "server kept the connection open"
    finally:
        c.close()


def _assert_usable(c):
    assert c.ping().err == 0
    assert c.exists("/").err == 0


def test_random_bytes(shared_server, background_load):
    rng = random.Random(1234)
    for _ in range(5):
        c = RawZK(shared_server.port)
        c.send_raw(bytes(rng.randrange(256) for _ in range(64)))
        _assert_closed(c)
    # a plausible length followed by garbage: a bogus ConnectRequest
    c = RawZK(shared_server.port)
    c.send_raw(struct.pack(">i", 40) + bytes(rng.randrange(256) for _ in range(40)))
    _assert_closed(c)
    background_load.assert_unharmed()


@pytest.mark.parametrize("connected", [False, True])
@pytest.mark.parametrize("length", [-1, -5, 0, 1_048_576, 2_000_000, 0x7FFFFFFF])
def test_bad_length_prefix(shared_server, background_load, connected, length):
    c = RawZK(shared_server.port)
    if connected:
        c.connect()
    c.send_raw(struct.pack(">i", length))
    _assert_closed(c)
    background_load.assert_unharmed()


def test_length_at_maxbuffer_is_accepted_framing(shared_server, background_load):
    # exactly jute.maxbuffer (1,048,575) is a legal length: the server waits
    # for the body instead of closing
    c = RawZK(shared_server.port)
    c.connect()
    c.send_raw(struct.pack(">i", 1_048_575) + b"\0" * 1000)
    assert not c.is_closed_by_server(1.5)
    c.close()
    background_load.assert_unharmed()


def test_truncated_packet_then_close(shared_server, background_load):
    for connected in (False, True):
        c = RawZK(shared_server.port)
        if connected:
            c.connect()
        c.send_raw(struct.pack(">i", 100) + b"x" * 10)
        # ZooKeeper waits for the rest of the frame rather than closing
        assert not c.is_closed_by_server(0.3)
        c.close()
    # the server dropped both half-sent connections and still takes new ones
    fresh = RawZK(shared_server.port)
    try:
        fresh.connect()
        _assert_usable(fresh)
    finally:
        fresh.close()
    background_load.assert_unharmed()


def test_frame_shorter_than_header(shared_server, background_load):
    c = RawZK(shared_server.port)
    c.connect()
    c.send_frame(b"\0\0")
    _assert_closed(c)
    background_load.assert_unharmed()


def test_request_before_connect(shared_server, background_load):
    c = RawZK(shared_server.port)
    c.send_frame(Writer().int(1).int(rawzk.GETDATA).string("/").bool(False).bytes())
    _assert_closed(c)
    background_load.assert_unharmed()


@pytest.mark.parametrize("op", [999, 0, 10, -3, 0x7FFFFFFF])
def test_unknown_op_code(shared_server, background_load, op):
    c = RawZK(shared_server.port)
    c.connect()
    rep = c.request(op)
    assert (rep.xid, rep.zxid, rep.err) == (1, -1, UNIMPLEMENTED)
    assert rep.body == b""
    _assert_closed(c)
    background_load.assert_unharmed()


def _body_cases():
    acl = Writer().acls(rawzk.OPEN_ACL_UNSAFE).bytes()
    return {
        "huge_acl_vector_count": (rawzk.CREATE, Writer().string("/huge").buffer(b"")
                                  .int(0x7FFFFFFF).bytes()),
        "negative_acl_vector_count_then_garbage": (
            rawzk.CREATE, Writer().string("/neg").buffer(b"").int(-7).bytes()),
        "huge_path_length": (rawzk.CREATE, Writer().int(0x7FFFFFFF).bytes()),
        "negative_data_length": (rawzk.CREATE, Writer().string("/x").int(-7).bytes()
                                 + b"\0" * 8),
        "create_missing_flags": (rawzk.CREATE, Writer().string("/mf").buffer(b"")
                                 .bytes() + acl),
        "get_data_missing_watch_flag": (rawzk.GETDATA, Writer().string("/").bytes()),
        "huge_children_request": (rawzk.GETCHILDREN, Writer().int(0x7FFFFFF0).bytes()),
    }


@pytest.mark.parametrize("case", sorted(_body_cases()))
def test_undecodable_body_gets_marshalling_error(shared_server, background_load,
                                                 zk, case):
    op, body = _body_cases()[case]
    c = RawZK(shared_server.port)
    c.connect()
    try:
        rep = c.request(op, body)
        assert rep.err == MARSHALLING_ERROR
        assert rep.xid == 1
        _assert_usable(c)
    finally:
        c.close()
    for p in ("/huge", "/neg", "/x", "/mf"):
        assert zk.exists(p) is None
    background_load.assert_unharmed()


def test_semantically_bad_requests(shared_server, background_load, root):
    c = RawZK(shared_server.port)
    c.connect()
    try:
        assert c.create("noslash").err == BAD_ARGUMENTS
        # ZooKeeper looks up the parent (text before the last '/') before
        # validating the path, so a trailing slash under a missing parent is
        # NONODE, and under an existing parent BADARGUMENTS
        assert c.create(root + "/trailing/").err == -101
        assert c.create(root + "/").err == BAD_ARGUMENTS
        assert c.create(root + "//double").err == -101
        assert c.create(root + "/./x").err == -101
        assert c.create(root + "/.").err == BAD_ARGUMENTS
        assert c.create(root + "/badflags", flags=99).err == BAD_ARGUMENTS
        # reads are not path-validated: "" is the root's key in ZooKeeper's
        # DataTree, so getData("") answers with the root node
        rep = c.get_data("")
        assert rep.err == 0 and rep.stat == c.get_data("/").stat
        # trailing bytes after a complete request body are ignored
        c.send_frame(Writer().int(77).int(rawzk.GETDATA).string("/").bool(False)
                     .bytes() + b"extra")
        rep = c.read_reply(77)
        assert rep.err == 0
        _assert_usable(c)
    finally:
        c.close()
    background_load.assert_unharmed()


def test_many_bad_connections_in_parallel(shared_server, background_load):
    rng = random.Random(99)
    socks = []
    for i in range(30):
        c = RawZK(shared_server.port)
        kind = i % 3
        if kind == 0:
            c.send_raw(struct.pack(">i", -1))
        elif kind == 1:
            c.send_raw(bytes(rng.randrange(256) for _ in range(32)))
        else:
            c.send_raw(struct.pack(">i", 50) + b"\1" * 20)  # half a packet, left open
        socks.append((kind, c))
    for kind, c in socks:
        if kind == 2:
            # a frame still arriving is waited for, not refused
            assert not c.is_closed_by_server(0.1)
            c.close()
        else:
            _assert_closed(c)
    background_load.assert_unharmed()
