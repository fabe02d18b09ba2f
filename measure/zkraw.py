#!/usr/bin/env python3
"""Small raw-protocol ZooKeeper helper for the measure/ scripts (stdlib only).

    zkraw.py wait-srvr PORT TIMEOUT        poll `srvr` until it shows a Mode: line
    zkraw.py wait-get PORT PATH TIMEOUT [SINCE]
                                           poll connect+getData(PATH) until it answers;
                                           prints seconds since SINCE (epoch) or waited
    zkraw.py load PORT N BYTES [WINDOW]    create N persistent znodes of BYTES bytes
                                           under /load/b<i//1000>/n<i%1000>, pipelined
                                           WINDOW deep on one session (default 2000)
    zkraw.py srvr PORT                     print `srvr`

Every socket operation has a deadline; errors exit non-zero.
"""
import os
import socket
import struct
import sys
import time

CREATE, GETDATA, CLOSE = 1, 4, -11
ACL_OPEN = struct.pack(">i", 1) + struct.pack(">i", 31) + \
    struct.pack(">i", 5) + b"world" + struct.pack(">i", 6) + b"anyone"


def four_letter(port, word, timeout=2.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(word.encode())
        out = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    return out.decode("utf-8", "replace")


def jstr(s):
    b = s.encode()
    return struct.pack(">i", len(b)) + b


def frame(body):
    return struct.pack(">i", len(body)) + body


class Session:
    def __init__(self, port, timeout_ms=30000, io_timeout=10.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=io_timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly
        body = struct.pack(">iqiq", 0, 0, timeout_ms, 0) + struct.pack(">i", 16) + b"\0" * 16 + b"\0"
        self.s.sendall(frame(body))
        self.buf = b""
        resp = self.read_frame()
        _, negotiated, sid = struct.unpack(">iiq", resp[:16])
        if negotiated <= 0:
            raise RuntimeError("session refused")
        self.xid = 0

    def read_frame(self):
        while len(self.buf) < 4:
            self._fill()
        n = struct.unpack(">i", self.buf[:4])[0]
        while len(self.buf) < 4 + n:
            self._fill()
        f = self.buf[4:4 + n]
        self.buf = self.buf[4 + n:]
        return f

    def _fill(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise ConnectionError("server closed the connection")
        self.buf += d

    def next_xid(self):
        self.xid += 1
        return self.xid

    def get_data(self, path):
        xid = self.next_xid()
        self.s.sendall(frame(struct.pack(">ii", xid, GETDATA) + jstr(path) + b"\0"))
        while True:
            f = self.read_frame()
            rxid, _zxid, err = struct.unpack(">iqi", f[:16])
            if rxid == xid:
                return err

    def create_req(self, path, data, flags=0):
        return frame(struct.pack(">ii", self.next_xid(), CREATE) + jstr(path)
                     + struct.pack(">i", len(data)) + data + ACL_OPEN + struct.pack(">i", flags))

    def close(self):
        try:
            self.s.sendall(frame(struct.pack(">ii", self.next_xid(), CLOSE)))
            self.s.settimeout(2.0)
            self.read_frame()
        except Exception:
            pass
        self.s.close()


def wait_srvr(port, timeout):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            out = four_letter(port, "srvr", 1.0)
            if "Mode:" in out:
                return True
            last = out.strip()[:200]
        except OSError as e:
            last = repr(e)
        if os.environ.get("ZKRAW_DEBUG"):
            sys.stderr.write("wait-srvr: %s\n" % last)
        time.sleep(0.05)
    sys.stderr.write("wait-srvr: no Mode: line; last answer: %s\n" % last)
    return False


def wait_get(port, path, timeout, since=None):
    t0 = time.monotonic()
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        try:
            s = Session(port, io_timeout=2.0)
            err = s.get_data(path)
            s.close()
            if err == 0:
                return (time.time() - since) if since else (time.monotonic() - t0)
        except (OSError, ConnectionError, RuntimeError, struct.error):
            pass
        time.sleep(0.02)
    return None


def load(port, n, nbytes, window=2000):
    data = b"x" * nbytes
    s = Session(port, io_timeout=60.0)
    nparents = (n + 999) // 1000
    reqs = [s.create_req("/load", b"")] + [s.create_req("/load/b%d" % p, b"") for p in range(nparents)]
    s.s.sendall(b"".join(reqs))
    for _ in reqs:
        f = s.read_frame()
        err = struct.unpack(">i", f[12:16])[0]
        if err not in (0, -110):  # ok, NodeExists
            raise RuntimeError("create parent: error %d" % err)
    t0 = time.monotonic()
    sent = done = errors = 0
    last = t0
    while done < n:
        batch = []
        while sent < n and sent - done < window:
            batch.append(s.create_req("/load/b%d/n%d" % (sent // 1000, sent % 1000), data))
            sent += 1
        if batch:
            s.s.sendall(b"".join(batch))
        # read whatever has arrived (at least one frame)
        got = 0
        while done < sent and (got == 0 or len(s.buf) >= 4):
            if len(s.buf) >= 4:
                ln = struct.unpack(">i", s.buf[:4])[0]
                if len(s.buf) < 4 + ln:
                    s._fill()
                    continue
                err = struct.unpack(">i", s.buf[16:20])[0]
                if err != 0:
                    errors += 1
                s.buf = s.buf[4 + ln:]
                done += 1
                got += 1
            else:
                s._fill()
        now = time.monotonic()
        if now - last >= 5:
            sys.stderr.write("  load: %d/%d created (%.0f/s)\n" % (done, n, done / (now - t0)))
            last = now
    el = time.monotonic() - t0
    s.close()
    print("loaded %d znodes of %d B in %.1f s (%.0f creates/s), errors %d" % (n, nbytes, el, n / el, errors))
    return 0 if errors == 0 else 1


def main(a):
    cmd = a[0]
    if cmd == "wait-srvr":
        return 0 if wait_srvr(int(a[1]), float(a[2])) else 1
    if cmd == "wait-get":
        t = wait_get(int(a[1]), a[2], float(a[3]), float(a[4]) if len(a) > 4 else None)
        if t is None:
            return 1
        print("%.3f" % t)
        return 0
    if cmd == "load":
        return load(int(a[1]), int(a[2]), int(a[3]), int(a[4]) if len(a) > 4 else 2000)
    if cmd == "srvr":
        print(four_letter(int(a[1]), "srvr"))
        return 0
    print(__doc__)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
