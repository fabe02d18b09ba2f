"""A tiny raw-socket ZooKeeper client speaking the Jute wire protocol directly.

Used for what kazoo cannot do: addWatch (op 106), closing a socket without a
closeSession, reconnecting with a stale session id, and sending malformed
input.  Every read has a deadline.
"""
import socket
import struct
import time

# op codes
CREATE, DELETE, EXISTS, GETDATA, SETDATA = 1, 2, 3, 4, 5
GETCHILDREN, SYNC, PING, GETCHILDREN2 = 8, 9, 11, 12
CREATE2, CREATE_TTL, ADDWATCH, CLOSE = 15, 21, 106, -11
GET_EPHEMERALS, GET_ALL_CHILDREN_NUMBER, WHOAMI = 103, 104, 107

NOTIFICATION_XID = -1
PING_XID = -2

# event types
CREATED, DELETED, CHANGED, CHILD, NONE = 1, 2, 3, 4, -1

PERSISTENT, PERSISTENT_RECURSIVE = 0, 1

OPEN_ACL_UNSAFE = [(31, "world", "anyone")]


class Writer:
    def __init__(self):
        self.b = bytearray()

    def int(self, v):
        self.b += struct.pack(">i", v)
        return self

    def long(self, v):
        self.b += struct.pack(">q", v)
        return self

    def bool(self, v):
        self.b += b"\x01" if v else b"\x00"
        return self

    def buffer(self, v):
        if v is None:
            return self.int(-1)
        self.int(len(v))
        self.b += v
        return self

    def string(self, s):
        return self.buffer(None if s is None else s.encode())

    def acls(self, acls):
        self.int(len(acls))
        for perms, scheme, ident in acls:
            self.int(perms).string(scheme).string(ident)
        return self

    def bytes(self):
        return bytes(self.b)


class Reader:
    def __init__(self, b):
        self.b = b
        self.o = 0

    def int(self):
        v = struct.unpack_from(">i", self.b, self.o)[0]
        self.o += 4
        return v

    def long(self):
        v = struct.unpack_from(">q", self.b, self.o)[0]
        self.o += 8
        return v

    def bool(self):
        v = self.b[self.o] != 0
        self.o += 1
        return v

    def buffer(self):
        n = self.int()
        if n < 0:
            return None
        v = self.b[self.o:self.o + n]
        self.o += n
        return bytes(v)

    def string(self):
        v = self.buffer()
        return None if v is None else v.decode()

    def remaining(self):
        return len(self.b) - self.o

    def stat(self):
        keys = ["czxid", "mzxid", "ctime", "mtime", "version", "cversion",
                "aversion", "ephemeralOwner", "dataLength", "numChildren",
                "pzxid"]
        types = "qqqqiiiqiiq"
        out = {}
        for k, t in zip(keys, types):
            out[k] = self.long() if t == "q" else self.int()
        return out


class Closed(Exception):
    """The server closed the connection."""


class Reply:
    def __init__(self, xid, zxid, err, body):
        self.xid, self.zxid, self.err, self.body = xid, zxid, err, body

    def __repr__(self):
        return "Reply(xid=%d, zxid=%#x, err=%d, %d body bytes)" % (
            self.xid, self.zxid, self.err, len(self.body))


class Event:
    def __init__(self, type, state, path, zxid):
        self.type, self.state, self.path, self.zxid = type, state, path, zxid

    def __repr__(self):
        return "Event(type=%d, state=%d, path=%r)" % (self.type, self.state, self.path)

    def key(self):
        return (self.type, self.path)


class RawZK:
    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""
        self.xid = 0
        self.events = []  # notifications received while waiting for replies
        self.session_id = None
        self.passwd = None
        self.negotiated_timeout = None
        self.last_zxid = 0

    # ---- framing -------------------------------------------------------
    def send_raw(self, data):
        self.sock.sendall(data)

    def send_frame(self, payload):
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def _recv_exact(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no data from server before deadline")
            self.sock.settimeout(left)
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError("no data from server before deadline")
            except ConnectionResetError:
                raise Closed("connection reset")
            if not d:
                raise Closed("connection closed by server")
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_frame(self, timeout=None):
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        (n,) = struct.unpack(">i", self._recv_exact(4, deadline))
        return self._recv_exact(n, deadline)

    def is_closed_by_server(self, timeout=3.0):
        """True if the server closes the socket (EOF/RST) within timeout.
        Any bytes received are ignored."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not d:
                return True
        return False

    # ---- session -------------------------------------------------------
    def connect(self, timeout_ms=10000, session_id=0, passwd=b"\x00" * 16,
                last_zxid=0, read_only=False):
        w = Writer().int(0).long(last_zxid).int(timeout_ms).long(session_id)
        w.buffer(passwd).bool(read_only)
        self.send_frame(w.bytes())
        r = Reader(self.read_frame())
        proto = r.int()
        self.negotiated_timeout = r.int()
        self.session_id = r.long()
        self.passwd = r.buffer()
        self.read_only = r.bool() if r.remaining() else None
        return {"protocolVersion": proto, "timeOut": self.negotiated_timeout,
                "sessionId": self.session_id, "passwd": self.passwd,
                "readOnly": self.read_only}

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # ---- requests ------------------------------------------------------
    def next_xid(self):
        self.xid += 1
        return self.xid

    def request(self, op, body=b"", xid=None, timeout=None):
        """Send one request and return its Reply (notifications are queued)."""
        xid = self.next_xid() if xid is None else xid
        self.send_frame(Writer().int(xid).int(op).bytes() + body)
        return self.read_reply(xid, timeout)

    def read_reply(self, xid, timeout=None):
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply for xid %d" % xid)
            r = Reader(self.read_frame(left))
            rxid, zxid, err = r.int(), r.long(), r.int()
            if zxid > 0:
                self.last_zxid = max(self.last_zxid, zxid)
            if rxid == NOTIFICATION_XID:
                self.events.append(Event(r.int(), r.int(), r.string(), zxid))
                continue
            body = r.b[r.o:]
            if rxid == PING_XID and xid != PING_XID:
                continue
            if rxid != xid:
                raise AssertionError("reply xid %d, expected %d" % (rxid, xid))
            return Reply(rxid, zxid, err, body)

    def wait_events(self, n, timeout=5.0):
        """Wait until at least n notifications are queued; return them all."""
        deadline = time.monotonic() + timeout
        while len(self.events) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                r = Reader(self.read_frame(left))
            except TimeoutError:
                break
            rxid, zxid, err = r.int(), r.long(), r.int()
            if rxid == NOTIFICATION_XID:
                self.events.append(Event(r.int(), r.int(), r.string(), zxid))
            elif rxid == PING_XID:
                continue
            else:
                raise AssertionError("unexpected reply xid %d while waiting for events" % rxid)
        return list(self.events)

    def ping(self):
        return self.request(PING, xid=PING_XID)

    def create(self, path, data=b"", flags=0, acl=OPEN_ACL_UNSAFE):
        body = Writer().string(path).buffer(data).acls(acl).int(flags).bytes()
        rep = self.request(CREATE, body)
        rep.path = Reader(rep.body).string() if rep.err == 0 else None
        return rep

    def create_ttl(self, path, ttl, data=b"", flags=5, acl=OPEN_ACL_UNSAFE):
        body = (Writer().string(path).buffer(data).acls(acl).int(flags)
                .long(ttl).bytes())
        return self.request(CREATE_TTL, body)

    def delete(self, path, version=-1):
        return self.request(DELETE, Writer().string(path).int(version).bytes())

    def set_data(self, path, data, version=-1):
        return self.request(SETDATA, Writer().string(path).buffer(data)
                            .int(version).bytes())

    def get_data(self, path, watch=False):
        rep = self.request(GETDATA, Writer().string(path).bool(watch).bytes())
        if rep.err == 0:
            r = Reader(rep.body)
            rep.data = r.buffer()
            rep.stat = r.stat()
        return rep

    def exists(self, path, watch=False):
        return self.request(EXISTS, Writer().string(path).bool(watch).bytes())

    def get_children(self, path, watch=False):
        rep = self.request(GETCHILDREN, Writer().string(path).bool(watch).bytes())
        if rep.err == 0:
            r = Reader(rep.body)
            rep.children = [r.string() for _ in range(r.int())]
        return rep

    def add_watch(self, path, mode):
        return self.request(ADDWATCH, Writer().string(path).int(mode).bytes())

    def close_session(self):
        return self.request(CLOSE)
