"""A line protocol to drive non-Python ZooKeeper clients from pytest, and the
scenarios that the C client (c/zkdriver.c) and node-zookeeper-client
(node/zkdriver.js) both run through it.

The driver is a child process that reads one command per line on stdin and
answers exactly one line on stdout: ``OK k=v k=v ...`` or ``ERR <rc> <text>``
(see the comment at the top of c/zkdriver.c for the commands).  Every read has
a deadline; the process is killed at the end of the test."""
import os
import queue
import re
import subprocess
import threading
import time

# ZooKeeper's error codes (the C client's ZOO_ERRORS / KeeperException.Code)
ZOK = 0
ZRUNTIMEINCONSISTENCY = -2
ZNONODE = -101
ZNOAUTH = -102
ZBADVERSION = -103
ZNODEEXISTS = -110
ZNOTEMPTY = -111
# watched event types
CREATED, DELETED, CHANGED, CHILD = 1, 2, 3, 4

STAT_FIELDS = ("czxid", "mzxid", "ctime", "mtime", "version", "cversion", "aversion",
               "ephemeralOwner", "dataLength", "numChildren", "pzxid")


class DriverError(AssertionError):
    pass


class Reply:
    def __init__(self, line):
        self.line = line
        parts = line.split(" ")
        self.ok = parts[0] == "OK"
        self.rc = 0 if self.ok else int(parts[1]) if len(parts) > 1 and \
            re.match(r"^-?\d+$", parts[1]) else None
        self.kv = {}
        self.words = []
        for p in parts[1 if self.ok else 2:]:
            if "=" in p:
                k, v = p.split("=", 1)
                self.kv[k] = int(v) if re.match(r"^-?\d+$", v) else v
            else:
                self.words.append(p)

    def __getitem__(self, k):
        return self.kv[k]

    def get(self, k, default=None):
        return self.kv.get(k, default)

    @property
    def stat(self):
        return {k: self.kv[k] for k in STAT_FIELDS if k in self.kv}

    @property
    def children(self):
        c = self.kv.get("children", "")
        return [] if c == "" else str(c).split(",")

    def __repr__(self):
        return "Reply(%r)" % self.line


class LineDriver:
    """One client process.  ``d("get /x")`` returns a Reply; ``d.ok(...)``
    asserts OK; ``d.err(cmd, rc)`` asserts that error code."""

    def __init__(self, argv, name, cwd=None, env=None, timeout=20.0):
        self.name = name
        self.timeout = timeout
        self.transcript = []
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1,
                                     cwd=cwd, env=env, start_new_session=True)
        self._out = queue.Queue()
        self._err = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self._out.put),
                         daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self._err.append),
                         daemon=True).start()

    @staticmethod
    def _pump(stream, put):
        for line in stream:
            put(line.rstrip("\n"))
        put(None)

    def __call__(self, cmd, timeout=None):
        self.transcript.append("> " + cmd)
        try:
            self.proc.stdin.write(cmd + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise DriverError("%s: driver died before %r (%s)\n%s"
                              % (self.name, cmd, e, self.dump()))
        try:
            line = self._out.get(timeout=timeout or self.timeout)
        except queue.Empty:
            raise DriverError("%s: no answer to %r within %.0fs\n%s"
                              % (self.name, cmd, timeout or self.timeout, self.dump()))
        if line is None:
            raise DriverError("%s: driver exited (rc=%s) on %r\n%s"
                              % (self.name, self.proc.poll(), cmd, self.dump()))
        self.transcript.append("< " + line)
        return Reply(line)

    def ok(self, cmd, timeout=None):
        r = self(cmd, timeout)
        if not r.ok:
            raise DriverError("%s: %r answered %r, wanted OK\n%s"
                              % (self.name, cmd, r.line, self.dump()))
        return r

    def err(self, cmd, rc, timeout=None):
        r = self(cmd, timeout)
        if r.rc != rc:
            raise DriverError("%s: %r answered %r, wanted ERR %d\n%s"
                              % (self.name, cmd, r.line, rc, self.dump()))
        return r

    def event(self, timeout_ms=5000):
        return self("event %d" % timeout_ms, timeout=timeout_ms / 1000.0 + 10)

    def no_event(self, timeout_ms=300):
        r = self("event %d" % timeout_ms, timeout=timeout_ms / 1000.0 + 10)
        assert not r.ok, "%s: unexpected event %r" % (self.name, r.line)

    def dump(self):
        return "--- transcript (%s) ---\n%s\n--- stderr ---\n%s" % (
            self.name, "\n".join(self.transcript[-40:]), "\n".join(
                l for l in self._err[-40:] if l is not None))

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.stdin.close()
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(5)


class DriverFactory:
    def __init__(self, argv_for_hosts, server, cwd=None, env=None):
        self.argv_for_hosts = argv_for_hosts
        self.server = server
        self.cwd = cwd
        self.env = env
        self.drivers = []

    def __call__(self, connect=True, name=None):
        d = LineDriver(self.argv_for_hosts(self.server.hosts),
                       name or "client%d" % len(self.drivers), cwd=self.cwd, env=self.env)
        self.drivers.append(d)
        if connect:
            d.ok("connect 15000", timeout=30)
        return d

    def close_all(self):
        for d in self.drivers:
            d.close()


# --------------------------------------------------------------------------
# Scenarios shared by the C and the Node client.  ``mk`` is a DriverFactory,
# ``root`` an existing unique path.

def sc_connect_session(mk, root):
    d = mk()
    s = d.ok("session")
    assert int(str(s["id"]), 16) != 0
    # zoo.cfg tickTime=2000: negotiated timeout is clamped to [4000, 40000]
    assert 4000 <= s["timeout"] <= 40000, s.line


def sc_create_modes(mk, root):
    d = mk()
    sid = int(str(d.ok("session")["id"]), 16)
    assert d.ok("create %s/p pdata 0" % root)["path"] == root + "/p"
    assert d.ok("create %s/e edata 1" % root)["path"] == root + "/e"
    s1 = d.ok("create %s/s- x 2" % root)["path"]
    s2 = d.ok("create %s/s- x 2" % root)["path"]
    es = d.ok("create %s/es- x 3" % root)["path"]
    for p in (s1, s2, es):
        assert re.match(r"^%s/e?s-\d{10}$" % re.escape(root), p), p
    n1, n2, n3 = (int(p[-10:]) for p in (s1, s2, es))
    assert n2 == n1 + 1 and n3 == n2 + 1, (s1, s2, es)
    d.err("create %s/p again 0" % root, ZNODEEXISTS)
    d.err("create %s/missing/child x 0" % root, ZNONODE)
    assert d.ok("exists %s/e" % root)["ephemeralOwner"] == sid
    assert d.ok("exists %s/es-%010d" % (root, n3))["ephemeralOwner"] == sid
    assert d.ok("exists %s/p" % root)["ephemeralOwner"] == 0
    # ephemerals cannot have children
    d.err("create %s/e/child x 0" % root, -108)  # ZNOCHILDRENFOREPHEMERALS


def sc_get_stat(mk, root):
    d = mk()
    p = root + "/g"
    d.ok("create %s hello 0" % p)
    g = d.ok("get " + p)
    assert g["data"] == "hello"
    st = g.stat
    assert st["version"] == 0 and st["cversion"] == 0 and st["aversion"] == 0
    assert st["dataLength"] == 5 and st["numChildren"] == 0 and st["ephemeralOwner"] == 0
    assert st["czxid"] == st["mzxid"] == st["pzxid"] > 0
    assert st["ctime"] == st["mtime"] and abs(st["ctime"] / 1000.0 - time.time()) < 120
    # empty and null data
    d.ok("create %s/empty - 0" % root)
    assert d.ok("get %s/empty" % root)["dataLength"] == 0
    d.ok("create %s/null NULL 0" % root)
    n = d.ok("get %s/null" % root)
    assert n["dataLength"] == 0
    # a child bumps the parent's cversion, numChildren and pzxid, not its version
    c = d.ok("create2 %s/c x 0" % p)
    g2 = d.ok("get " + p).stat
    assert g2["numChildren"] == 1 and g2["cversion"] == 1 and g2["version"] == 0
    assert g2["pzxid"] == c["czxid"] > st["pzxid"]
    assert g2["mzxid"] == st["mzxid"]
    d.err("get %s/nope" % root, ZNONODE)


def sc_set_version(mk, root):
    d = mk()
    p = root + "/v"
    c = d.ok("create2 %s a 0" % p)
    s1 = d.ok("set %s bb 0" % p)
    assert s1["version"] == 1 and s1["dataLength"] == 2
    assert s1["mzxid"] > c["czxid"] and s1["czxid"] == c["czxid"]
    assert s1["mtime"] >= s1["ctime"]
    d.err("set %s ccc 0" % p, ZBADVERSION)
    s2 = d.ok("set %s ccc -1" % p)
    assert s2["version"] == 2
    assert d.ok("get " + p)["data"] == "ccc"
    d.err("set %s/nope x -1" % root, ZNONODE)


def sc_children(mk, root):
    d = mk()
    p = root + "/k"
    d.ok("create %s - 0" % p)
    assert d.ok("children " + p).children == []
    for n in ("b", "a", "c"):
        d.ok("create %s/%s - 0" % (p, n))
    assert sorted(d.ok("children " + p).children) == ["a", "b", "c"]
    r = d.ok("children2 " + p)
    assert sorted(r.children) == ["a", "b", "c"]
    assert r["numChildren"] == 3 and r["cversion"] == 3
    d.ok("delete %s/b -1" % p)
    r = d.ok("children2 " + p)
    assert sorted(r.children) == ["a", "c"] and r["cversion"] == 4 and r["numChildren"] == 2
    d.err("children %s/nope" % root, ZNONODE)
    d.err("children2 %s/nope" % root, ZNONODE)


def sc_exists_delete(mk, root):
    d = mk()
    p = root + "/d"
    d.err("exists " + p, ZNONODE)
    d.ok("create %s x 0" % p)
    d.ok("create %s/child x 0" % p)
    assert d.ok("exists " + p)["numChildren"] == 1
    d.err("delete %s -1" % p, ZNOTEMPTY)
    d.ok("set %s y 0" % p)
    d.err("delete %s/child 5" % p, ZBADVERSION)
    d.ok("delete %s/child 0" % p)
    d.err("delete %s 0" % p, ZBADVERSION)
    d.ok("delete %s 1" % p)
    d.err("exists " + p, ZNONODE)
    d.err("delete %s -1" % p, ZNONODE)


def sc_multi(mk, root):
    d = mk()
    p = root + "/m"
    d.ok("create %s - 0" % p)
    r = d.ok("multi create,%s/a,one,0;create,%s/b,two,0;set,%s,top,0;check,%s,1;"
             "create,%s/s-,x,2" % (p, p, p, p, p))
    assert r.words[:4] == ["0:%s/a" % p, "0:%s/b" % p, "0", "0"], r.line
    assert re.match(r"^0:%s/s-\d{10}$" % re.escape(p), r.words[4]), r.line
    assert d.ok("get %s/a" % p)["data"] == "one"
    assert d.ok("get " + p)["version"] == 1
    # a failing op rolls back the whole transaction
    r = d("multi create,%s/c,x,0;check,%s,7;delete,%s/a,-1" % (p, p, p))
    assert not r.ok and r.rc == ZBADVERSION, r.line
    assert r.words == ["0", str(ZBADVERSION), str(ZRUNTIMEINCONSISTENCY)], r.line
    d.err("exists %s/c" % p, ZNONODE)
    d.ok("exists %s/a" % p)
    r = d("multi delete,%s/a,-1;delete,%s/nope,-1" % (p, p))
    assert r.rc == ZNONODE and r.words == ["0", str(ZNONODE)], r.line
    d.ok("exists %s/a" % p)
    r = d.ok("multi delete,%s/a,0;delete,%s/b,-1" % (p, p))
    assert r.words == ["0", "0"]
    kids = d.ok("children " + p).children
    assert len(kids) == 1 and kids[0].startswith("s-"), kids


def sc_data_watch(mk, root):
    d = mk()
    p = root + "/w"
    d.ok("create %s x 0" % p)
    d.ok("wget " + p)
    other = mk(name="writer")
    other.ok("set %s y -1" % p)
    e = d.event()
    assert e.ok and e["type"] == CHANGED and e["path"] == p, e.line
    d.no_event()  # one-shot
    other.ok("set %s z -1" % p)
    d.no_event()
    d.ok("wget " + p)
    d.ok("wexists " + p)
    other.ok("delete %s -1" % p)
    # the data watch and the exists watch are one watcher registration per
    # path in ZooKeeper's server; each client-side watcher is called once
    evs = [d.event()]
    e2 = d("event 1000")
    if e2.ok:
        evs.append(e2)
    for e in evs:
        assert e["type"] == DELETED and e["path"] == p, e.line


def sc_child_watch(mk, root):
    d = mk()
    p = root + "/cw"
    d.ok("create %s x 0" % p)
    d.ok("wchildren " + p)
    other = mk(name="writer")
    other.ok("set %s y -1" % p)  # data change does not fire a child watch
    d.no_event()
    other.ok("create %s/kid x 0" % p)
    e = d.event()
    assert e.ok and e["type"] == CHILD and e["path"] == p, e.line
    d.ok("wchildren2 " + p)
    other.ok("delete %s/kid -1" % p)
    e = d.event()
    assert e.ok and e["type"] == CHILD and e["path"] == p, e.line


def sc_exists_watch_created(mk, root):
    d = mk()
    p = root + "/later"
    d.err("wexists " + p, ZNONODE)
    other = mk(name="writer")
    other.ok("create %s x 0" % p)
    e = d.event()
    assert e.ok and e["type"] == CREATED and e["path"] == p, e.line
    d.ok("wexists " + p)
    other.ok("set %s y -1" % p)
    e = d.event()
    assert e.ok and e["type"] == CHANGED and e["path"] == p, e.line


def digest_id(user, password):
    import base64
    import hashlib
    h = base64.b64encode(hashlib.sha1(("%s:%s" % (user, password)).encode()).digest())
    return "%s:%s" % (user, h.decode())


def sc_acl_digest(mk, root):
    owner = mk(name="owner")
    owner.ok("auth digest alice:secret")
    p = root + "/acl"
    # ZOO_CREATOR_ALL_ACL: the server replaces "auth" with the caller's digest id
    owner.ok("create %s data 0 creator" % p)
    acl = owner.ok("getacl " + p)
    assert acl["acl"] == "31:digest:" + digest_id("alice", "secret"), acl.line
    assert owner.ok("get " + p)["data"] == "data"
    # an explicit digest ACL
    q = root + "/acl2"
    owner.ok("create %s d2 0 digest:%s" % (q, digest_id("bob", "pw")))
    owner.err("get " + q, ZNOAUTH)

    anon = mk(name="anon")
    anon.err("get " + p, ZNOAUTH)
    anon.err("set %s x -1" % p, ZNOAUTH)
    anon.err("create %s/kid x 0" % p, ZNOAUTH)
    # getACL needs READ or ADMIN (ZOOKEEPER-1392); exists needs no permission
    anon.err("getacl " + p, ZNOAUTH)
    anon.ok("exists " + p)

    wrong = mk(name="wrong")
    wrong.ok("auth digest alice:nope")
    wrong.err("get " + p, ZNOAUTH)

    bob = mk(name="bob")
    bob.ok("auth digest bob:pw")
    assert bob.ok("get " + q)["data"] == "d2"
    bob.err("get " + p, ZNOAUTH)
    # creator ACL without any auth is invalid
    anon.err("create %s/noauth x 0 creator" % root, -114)  # ZINVALIDACL


def sc_close_removes_ephemerals(mk, root):
    a = mk(name="owner")
    p = root + "/eph"
    a.ok("create %s x 1" % p)
    a.ok("create %s/seq- x 3" % root)
    b = mk(name="watcher")
    b.ok("wexists " + p)
    assert len(b.ok("children " + root).children) == 2
    a.ok("close")
    e = b.event(10000)
    assert e.ok and e["type"] == DELETED and e["path"] == p, e.line
    b.err("exists " + p, ZNONODE)
    assert b.ok("children " + root).children == []


SCENARIOS = {
    "connect_session": sc_connect_session,
    "create_modes": sc_create_modes,
    "get_stat": sc_get_stat,
    "set_version": sc_set_version,
    "children": sc_children,
    "exists_delete": sc_exists_delete,
    "multi": sc_multi,
    "data_watch": sc_data_watch,
    "child_watch": sc_child_watch,
    "exists_watch_created": sc_exists_watch_created,
    "acl_digest": sc_acl_digest,
    "close_removes_ephemerals": sc_close_removes_ephemerals,
}
