"""Real clients (Curator, the C client, node-zookeeper-client, zkCli.sh)
against a 3-server ensemble while servers are killed and restarted: the
pieces tests/interop/test_ensemble_clients.py is made of.

* ``locate``: which server holds a session (its ``cons`` line), asked of
  every live server.
* ``plan``: where the client sits and which server dies, for a victim name:
  ``follower`` (the client's server, a follower), ``leader`` (the client's
  server, the leader), ``leader_remote`` (the client sits on a follower, the
  leader dies). ``order[0]`` is the client's server, ``order[1]`` a server
  that stays up (the writer's).
* ``land``: clients that shuffle their server list (the C client, node,
  zkCli) are started again until one lands on the wanted server.
* ``tree_alone`` / ``assert_caught_up``: a subtree read from one server
  alone (after sync), compared between servers.
* ``AskProtocol``: runs a Java scenario that stops at ``ASK`` lines for the
  test to kill/restart servers (java/CuratorEnsemble.java).
* ``ZkCliSession``: one long-lived interactive zkCli.sh fed command by
  command, each answer delimited by a marker ``stat`` of a missing path.
* ``line_failover`` / ``zkcli_failover``: the failover scenario for the
  line drivers (clientdriver.LineDriver: C and node) and for zkCli.

Every wait has a deadline.
"""
import os
import queue
import re
import subprocess
import threading
import time
import traceback

from kazoo.exceptions import NodeExistsError
from kazoo.retry import KazooRetry

from clientdriver import CHANGED, CHILD, CREATED, ZBADVERSION, ZNODEEXISTS, ZNONODE, LineDriver
from conftest import ZKCLI
from ensemble import stat_key, wait_until

ZSESSIONEXPIRED = -112
# the C client hands connection-state changes to every node watcher too
ZOO_SESSION_EVENT = -1
VICTIMS = ["follower", "leader", "leader_remote"]


# ---------------------------------------------------------------- where is a session

def _cons_has(member, session_id):
    try:
        text = member.flw("cons", timeout=3.0)
    except OSError:
        return False
    return re.search(r"sid=0x0*%x[,)]" % session_id, text) is not None


def locate(e, session_id, timeout=60.0, exclude=()):
    """The sid of the one live server whose ``cons`` lists the session."""
    found = []

    def pred():
        found[:] = [m.sid for m in e.all() if m.alive() and m.sid not in exclude
                    and _cons_has(m, session_id)]
        return len(found) == 1
    wait_until(pred, timeout, "session 0x%x in exactly one server's cons (now %r)"
               % (session_id, found), interval=0.1)
    return found[0]


def plan(e, victim):
    """(order, kill): the client's server is order[0], a server that stays
    up order[1]; ``kill`` is the sid that will be killed."""
    leader = e.wait_for_leader()
    fs = sorted(e.followers())
    assert len(fs) == 2, e.modes()
    if victim == "leader":
        return [leader, fs[0], fs[1]], leader
    if victim == "follower":
        return [fs[0], fs[1], leader], fs[0]
    if victim == "leader_remote":
        return [fs[0], fs[1], leader], leader
    raise ValueError(victim)


def retrying(timeout=60.0):
    """A kazoo command retry that rides out an election."""
    return KazooRetry(max_tries=-1, delay=0.1, max_delay=1.0, deadline=timeout)


def rk(f, *a, **kw):
    """f(*a) retried through connection losses; a create retried after its
    answer was lost finds its node there, which counts as done."""
    first = [True]

    def once():
        try:
            return f(*a, **kw)
        except NodeExistsError:
            if first[0] or getattr(f, "__name__", "") != "create":
                raise
            return None
        finally:
            first[0] = False
    return retrying()(once)


# ---------------------------------------------------------------- reading servers alone

def tree_alone(e, sid, root):
    """{path: (data, stat_key)} of the subtree at ``root``, from server
    ``sid`` alone after a sync."""
    def f(c):
        c.sync(root)
        out = {}
        stack = [root]
        while stack:
            p = stack.pop()
            data, st = c.get(p)
            out[p] = (data, stat_key(st))
            for ch in c.get_children(p):
                stack.append(p.rstrip("/") + "/" + ch)
        return out
    return e.read_alone(sid, f)


def diff_trees(a, b):
    lines = []
    for p in sorted(set(a) | set(b)):
        if a.get(p) != b.get(p):
            lines.append("  %s: %r != %r" % (p, a.get(p), b.get(p)))
    return "\n".join(lines[:20]) + ("\n  ... %d more" % (len(lines) - 20) if len(lines) > 20 else "")


def assert_caught_up(e, sid, ref, root):
    """Server ``sid`` alone has exactly what server ``ref`` alone has."""
    a = tree_alone(e, sid, root)
    b = tree_alone(e, ref, root)
    assert a == b, "server %d (restarted) differs from server %d under %s:\n%s" % (
        sid, ref, root, diff_trees(a, b))
    return a


def assert_same_everywhere(e, root, no_ephemerals=False):
    trees = {m.sid: tree_alone(e, m.sid, root) for m in e.all() if m.alive()}
    sids = sorted(trees)
    for s in sids[1:]:
        assert trees[s] == trees[sids[0]], "server %d differs from server %d under %s:\n%s" % (
            s, sids[0], root, diff_trees(trees[s], trees[sids[0]]))
    if no_ephemerals:
        eph = {p: k[7] for p, (_, k) in trees[sids[0]].items() if k[7] != 0}
        assert not eph, "ephemerals left after every session closed: %r" % eph
    return trees[sids[0]]


def ephemeral_owner_alone(e, sid, path):
    def f(c):
        c.sync(path)
        st = c.exists(path)
        return None if st is None else st.ephemeralOwner
    return e.read_alone(sid, f)


def assert_ephemerals(e, session_id, paths):
    for m in e.all():
        if not m.alive():
            continue
        for p in paths:
            owner = ephemeral_owner_alone(e, m.sid, p)
            assert owner == session_id, "server %d: %s owner %r, wanted 0x%x" % (
                m.sid, p, None if owner is None else "0x%x" % owner, session_id)


def assert_gone(e, paths, timeout=30.0):
    for m in e.all():
        if not m.alive():
            continue
        for p in paths:
            wait_until(lambda: ephemeral_owner_alone(e, m.sid, p) is None, timeout,
                       "%s gone on server %d" % (p, m.sid), interval=0.2)


def restart_and_check(e, sid, ref, root):
    """Start the killed server again; once it serves, it has what ``ref`` has."""
    e[sid].start()
    e[sid].wait_serving(modes=["follower", "leader"])
    e.wait_for_leader()
    return assert_caught_up(e, sid, ref, root)


# ---------------------------------------------------------------- Java scenarios (ASK protocol)

class Choreography:
    """The test's side of java/CuratorEnsemble.java's ASK lines."""

    def __init__(self, e, root, order=None, kill=None):
        self.e = e
        self.root = root
        self.order = order    # None: the client placed itself (shuffled)
        self.kill_sid = kill  # None: kill the server holding the session
        self.killed = None
        self.log = []

    def ask_where(self, session):
        return {"server": locate(self.e, int(session, 16))}

    def ask_kill(self, session):
        sess = int(session, 16)
        own = locate(self.e, sess)
        if self.order is not None:
            assert own == self.order[0], "client landed on server %d, not %d" % (own, self.order[0])
        victim = own if self.kill_sid is None else self.kill_sid
        mode = self.e.mode(victim)
        self.log.append("kill -9 server %d (%s); the client was on %d" % (victim, mode, own))
        self.e.kill9(victim)
        self.killed = victim
        return {"killed": victim, "own": own, "mode": mode}

    def _ref(self):
        live = [m.sid for m in self.e.all() if m.alive() and m.sid != self.killed]
        if self.order is not None and self.order[1] in live:
            return self.order[1]
        return live[0]

    def ask_restart(self):
        assert self.killed is not None, "restart before kill"
        tree = restart_and_check(self.e, self.killed, self._ref(), self.root)
        self.log.append("server %d restarted, caught up (%d nodes under %s)"
                        % (self.killed, len(tree), self.root))
        return {"nodes": len(tree)}

    def ask_check(self, session, paths):
        assert_ephemerals(self.e, int(session, 16), paths.split(","))
        return {}

    def ask_gone(self, paths):
        assert_gone(self.e, paths.split(","))
        return {}


class AskProtocol:
    """Run ``argv`` (a Java scenario), answering its ``ASK verb k=v`` lines
    with ``handler.ask_<verb>(**kv)``. Returns (returncode, stdout lines,
    stderr text, handler errors)."""

    def __init__(self, argv, handler, timeout=360.0):
        self.argv, self.handler, self.timeout = argv, handler, timeout

    def run(self):
        p = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, bufsize=1,
                             start_new_session=True)
        q = queue.Queue()
        err = []

        def pump(stream, put):
            for line in stream:
                put(line.rstrip("\n"))
            put(None)
        threading.Thread(target=pump, args=(p.stdout, q.put), daemon=True).start()
        threading.Thread(target=pump, args=(p.stderr, err.append), daemon=True).start()
        deadline = time.monotonic() + self.timeout
        out, errors = [], []
        try:
            while True:
                try:
                    line = q.get(timeout=max(0.1, deadline - time.monotonic()))
                except queue.Empty:
                    errors.append("scenario did not finish within %.0fs" % self.timeout)
                    break
                if line is None:
                    break
                out.append(line)
                if line.startswith("ASK "):
                    parts = line.split(" ")
                    kv = dict(x.split("=", 1) for x in parts[2:] if "=" in x)
                    try:
                        ans = getattr(self.handler, "ask_" + parts[1])(**kv)
                        reply = "OK " + " ".join("%s=%s" % kv2 for kv2 in ans.items())
                    except Exception as ex:  # noqa: BLE001 - reported below
                        errors.append("ASK %s: %s" % (parts[1], traceback.format_exc()))
                        reply = "ERR " + repr(ex).replace("\n", " ")[:300]
                    out.append("  -> " + reply)
                    try:
                        p.stdin.write(reply + "\n")
                        p.stdin.flush()
                    except OSError:
                        pass
        finally:
            if p.poll() is None:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)
        return p.returncode, out, "\n".join(x for x in err if x is not None), errors


# ---------------------------------------------------------------- clients that shuffle

def land(e, start, session_of, target, attempts=40):
    """start() a client until one sits on ``target`` (the others are
    closed). Returns (client, session id)."""
    where = []
    for _ in range(attempts):
        c = start()
        sess = session_of(c)
        at = locate(e, sess)
        if at == target:
            return c, sess
        where.append(at)
        c.close()
    raise AssertionError("no client landed on server %d in %d tries (landed on %r)"
                         % (target, attempts, where))


def line_session(d):
    d.ok("connect 15000", timeout=30)
    return int(str(d.ok("session")["id"]), 16)


def take_events(d, want, timeout_ms=30000):
    """Events from a line driver until the multiset ``want`` of (type, path)
    has arrived (any order); then none more. Session events (the C client
    gives each node watcher the Connecting/Connected of a failover) aside."""
    got = []
    deadline = time.monotonic() + timeout_ms / 1000.0
    while len(got) < len(want) and time.monotonic() < deadline:
        r = d.event(int(max(100, (deadline - time.monotonic()) * 1000)))
        if not r.ok:
            break
        if r["type"] != ZOO_SESSION_EVENT:
            got.append((r["type"], r["path"]))
    while True:
        r = d("event 700", timeout=15)
        if not r.ok:
            break
        if r["type"] != ZOO_SESSION_EVENT:
            got.append((r["type"], r["path"]))
    assert sorted(got) == sorted(want), "%s: events %r, wanted %r\n%s" % (
        d.name, sorted(got), sorted(want), d.dump())


def line_failover(e, start_driver, victim, root="/lf"):
    """Basic operations through a C/node driver on one server of the
    ensemble, the failover, and the killed server's return.
    ``start_driver(hosts)`` makes a LineDriver for a connect string."""
    e.start()
    order, kill = plan(e, victim)
    target, wsid = order[0], order[1]
    hosts = e.connect_string([target] + [s for s in e.ids() if s != target])
    k = e[wsid].client()  # kazoo: the writer, on a server that stays up
    d, sess = land(e, lambda: start_driver(hosts), line_session, target)

    # --- basic operations
    d.ok("create %s - 0" % root)
    d.ok("create %s/p pdata 0" % root)
    s1 = d.ok("create %s/s- x 2" % root)["path"]
    s2 = d.ok("create %s/s- x 2" % root)["path"]
    assert int(s2[-10:]) == int(s1[-10:]) + 1, (s1, s2)
    d.ok("create %s/e edata 1" % root)
    es = d.ok("create %s/es- x 3" % root)["path"]
    assert int(es[-10:]) == int(s2[-10:]) + 2, (s2, es)  # /e came between: one counter per parent
    assert d.ok("exists %s/e" % root)["ephemeralOwner"] == sess
    d.err("create %s/p again 0" % root, ZNODEEXISTS)
    d.ok("create %s/v a 0" % root)
    assert d.ok("set %s/v b 0" % root)["version"] == 1
    d.err("set %s/v c 0" % root, ZBADVERSION)
    g = d.ok("get %s/v" % root)
    assert g["data"] == "b" and g["version"] == 1, g.line
    d.ok("create %s/kids - 0" % root)
    d.ok("create %s/kids/a - 0" % root)
    d.ok("create %s/kids/b - 0" % root)
    assert sorted(d.ok("children %s/kids" % root).children) == ["a", "b"]
    r = d.ok("multi create,%s/m1,one,0;set,%s/v,m,1;check,%s/v,2" % (root, root, root))
    assert r.words[:3] == ["0:%s/m1" % root, "0", "0"], r.line
    r = d("multi create,%s/m2,x,0;check,%s/v,9" % (root, root))
    assert r.rc == ZBADVERSION, r.line
    k.sync(root)
    assert k.exists(root + "/m2") is None, "a failed multi left its create"
    d.err("delete %s/kids/b 5" % root, ZBADVERSION)
    d.ok("delete %s/kids/b 0" % root)
    d.err("get %s/kids/b" % root, ZNONODE)

    # --- watches fired by writes through another server
    d.ok("create %s/w 0 0" % root)
    d.ok("wget %s/w" % root)
    d.ok("wchildren %s/kids" % root)
    d.err("wexists %s/later0" % root, ZNONODE)
    k.set(root + "/w", b"1")
    k.create(root + "/kids/c")
    k.create(root + "/later0")
    take_events(d, [(CHANGED, root + "/w"), (CHILD, root + "/kids"), (CREATED, root + "/later0")])

    # --- watches to carry across the failover
    for n in ("w2", "w3"):
        d.ok("create %s/%s 0 0" % (root, n))
        d.ok("wget %s/%s" % (root, n))
    d.ok("wchildren %s/kids" % root)
    d.err("wexists %s/later" % root, ZNONODE)

    # --- the failover
    assert locate(e, sess) == target
    e.kill9(kill)
    rk(k.set, root + "/w3", b"during")  # while the client is away or on its way back
    deadline = time.monotonic() + 60
    while True:
        r = d("exists %s/e" % root, timeout=30)
        if r.ok:
            break
        assert r.rc not in (ZNONODE, ZSESSIONEXPIRED), "session lost over the failover: %s\n%s" % (
            r.line, d.dump())
        assert time.monotonic() < deadline, "no answer within 60s of the kill: %s\n%s" % (
            r.line, d.dump())
        time.sleep(0.2)
    assert r["ephemeralOwner"] == sess, r.line
    assert int(str(d.ok("session")["id"]), 16) == sess, "the session changed"
    now = locate(e, sess)
    if kill == target:
        assert now != target
    assert_ephemerals(e, sess, [root + "/e", es])
    rk(k.set, root + "/w2", b"after")
    rk(k.create, root + "/kids/d")
    rk(k.create, root + "/later")
    take_events(d, [(CHANGED, root + "/w3"), (CHANGED, root + "/w2"), (CHILD, root + "/kids"),
                    (CREATED, root + "/later")])

    # --- writes go on
    s3 = d.ok("create %s/s- x 2" % root)["path"]
    assert int(s3[-10:]) > int(es[-10:]), (es, s3)
    assert d.ok("set %s/v after 2" % root)["version"] == 3
    r = d.ok("multi create,%s/m3,x,0;delete,%s/p,-1" % (root, root))
    d.ok("create %s/e2 x 1" % root)
    k.sync(root)
    assert k.get(root + "/v")[0] == b"after"

    # --- the killed server comes back with everything
    restart_and_check(e, kill, wsid, root)
    assert_ephemerals(e, sess, [root + "/e", es, root + "/e2"])
    d.ok("close")
    assert_gone(e, [root + "/e", es, root + "/e2"])
    assert_same_everywhere(e, root, no_ephemerals=True)
    return {"client_on": target, "killed": kill, "moved_to": now}


# ---------------------------------------------------------------- zkCli.sh

class ZkCliSession:
    """One interactive zkCli.sh (stdin piped: JLine is off, commands are
    read line by line). ``run(cmd)`` returns the lines printed for it,
    watch notifications aside (``events``)."""

    def __init__(self, hosts, name="zkcli"):
        env = dict(os.environ, CLIENT_JVMFLAGS="-Xmx256m")
        self.name = name
        self.proc = subprocess.Popen([ZKCLI, "-server", hosts], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     bufsize=1, env=env, start_new_session=True)
        self.q = queue.Queue()
        self.transcript = []
        self.events = []  # unconsumed "WatchedEvent ..." lines
        self.n = 0
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def _line(self, deadline, what):
        try:
            line = self.q.get(timeout=max(0.05, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError("%s: nothing within the deadline for %s\n%s"
                                 % (self.name, what, self.dump()))
        if line is None:
            raise AssertionError("%s: zkCli exited (rc %s) during %s\n%s"
                                 % (self.name, self.proc.poll(), what, self.dump()))
        self.transcript.append("< " + line)
        if line.startswith("WatchedEvent "):
            self.events.append(line)
            return None
        if line in ("WATCHER::", ""):
            return None
        return line

    def run(self, cmd, timeout=60.0):
        """(lines, connected): ``connected`` says whether the marker stat
        after the command reached a server."""
        self.n += 1
        mark = "/zz-mark-%d" % self.n
        self.transcript.append("> " + cmd)
        self.proc.stdin.write("%s\nstat %s\n" % (cmd, mark))
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        out = []
        while True:
            line = self._line(deadline, cmd)
            if line is None:
                continue
            if mark in line:
                return out, line == "Node does not exist: %s" % mark
            out.append(line)

    def expect(self, cmd, want, timeout=60.0):
        out, connected = self.run(cmd, timeout)
        for w in ([want] if isinstance(want, str) else want):
            assert w in out, "%s: %r printed %r, wanted a line %r\n%s" % (
                self.name, cmd, out, w, self.dump())
        return out

    def list_of(self, cmd):
        """The set of names in the ``[a, b]`` line ``cmd`` prints."""
        out = self.expect(cmd, [])
        lists = [l for l in out if l.startswith("[") and l.endswith("]")]
        assert len(lists) == 1, "%s: %r printed %r\n%s" % (self.name, cmd, out, self.dump())
        inner = lists[0][1:-1]
        return set(inner.split(", ")) if inner else set()

    def stat_field(self, path, field):
        out = self.expect("stat " + path, [])
        for line in out:
            if line.startswith(field + " = "):
                return line.split(" = ", 1)[1]
        raise AssertionError("%s: no %s in stat %s: %r" % (self.name, field, path, out))

    def take_events(self, want, timeout=30.0):
        """Wait for the multiset ``want`` of event lines; then none more
        for a moment (besides connection-state events)."""
        deadline = time.monotonic() + timeout
        rest = list(want)

        def consume():
            for ev in list(self.events):
                if ev in rest:
                    rest.remove(ev)
                    self.events.remove(ev)
        consume()
        while rest and time.monotonic() < deadline:
            try:
                self._line(min(deadline, time.monotonic() + 0.5), "events")
            except AssertionError:
                if self.proc.poll() is not None:
                    raise
            consume()
        assert not rest, "%s: events %r did not arrive (unconsumed: %r)\n%s" % (
            self.name, rest, self.events, self.dump())
        self.run("ls /")  # anything that was due arrives before this answer
        extra = [ev for ev in self.events if "type:None" not in ev]
        assert not extra, "%s: unexpected events %r\n%s" % (self.name, extra, self.dump())
        self.events = []

    def dump(self):
        return "--- zkCli transcript (%s) ---\n%s" % (self.name, "\n".join(self.transcript[-80:]))

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.stdin.close()
                self.proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)


_land_n = [0]


def zkcli_session_of(z):
    _land_n[0] += 1
    p = "/zkcli-land-%d-%d" % (os.getpid(), _land_n[0])
    z.expect("create -e %s x" % p, "Created " + p)
    owner = int(z.stat_field(p, "ephemeralOwner"), 16)
    z.expect("delete " + p, [])
    return owner


def _ev(kind, path):
    return "WatchedEvent state:SyncConnected type:%s path:%s" % (kind, path)


def zkcli_failover(e, victim, root="/zc"):
    e.start()
    order, kill = plan(e, victim)
    target, wsid = order[0], order[1]
    hosts = e.connect_string([target] + [s for s in e.ids() if s != target])
    k = e[wsid].client()
    z, sess = land(e, lambda: ZkCliSession(hosts), zkcli_session_of, target, attempts=30)
    try:
        return _zkcli_failover(e, z, sess, k, root, target, kill, wsid)
    except AssertionError as ex:
        raise AssertionError("%s\n%s" % (ex, z.dump())) from None
    finally:
        z.close()


def _zkcli_failover(e, z, sess, k, root, target, kill, wsid):
    # --- basic operations (zkCli has no multi)
    z.expect("create %s" % root, "Created " + root)
    z.expect("create %s/p pdata" % root, "Created %s/p" % root)
    z.expect("create -s %s/s- x" % root, "Created %s/s-0000000001" % root)
    z.expect("create -s %s/s- x" % root, "Created %s/s-0000000002" % root)
    z.expect("create -e %s/e edata" % root, "Created %s/e" % root)
    z.expect("create -e -s %s/es- x" % root, "Created %s/es-0000000004" % root)
    es = "%s/es-0000000004" % root
    assert int(z.stat_field(root + "/e", "ephemeralOwner"), 16) == sess
    z.expect("create %s/p again" % root, "Node already exists: %s/p" % root)
    z.expect("create %s/v a" % root, "Created %s/v" % root)
    z.expect("set -v 0 %s/v b" % root, [])
    z.expect("set -v 0 %s/v c" % root, "version No is not valid : %s/v" % root)
    out = z.expect("get -s %s/v" % root, ["b", "dataVersion = 1"])
    z.expect("create %s/kids" % root, "Created %s/kids" % root)
    z.expect("create %s/kids/a" % root, [])
    z.expect("create %s/kids/b" % root, [])
    z.expect("ls %s/kids" % root, "[a, b]")
    z.expect("delete -v 5 %s/kids/b" % root, "version No is not valid : %s/kids/b" % root)
    z.expect("delete -v 0 %s/kids/b" % root, [])
    z.expect("ls %s/kids" % root, "[a]")
    assert z.list_of("getEphemerals %s" % root) == {root + "/e", es}

    # --- watches fired by writes through another server
    z.expect("create %s/w 0" % root, [])
    z.expect("get -w %s/w" % root, "0")
    z.expect("ls -w %s/kids" % root, "[a]")
    z.expect("stat -w %s/later0" % root, "Node does not exist: %s/later0" % root)
    z.expect("create %s/pw 0" % root, [])
    z.expect("addWatch -m PERSISTENT %s/pw" % root, [])
    k.set(root + "/w", b"1")
    k.create(root + "/kids/c")
    k.create(root + "/later0")
    k.set(root + "/pw", b"1")
    z.take_events([_ev("NodeDataChanged", root + "/w"), _ev("NodeChildrenChanged", root + "/kids"),
                   _ev("NodeCreated", root + "/later0"), _ev("NodeDataChanged", root + "/pw")])

    # --- watches to carry across the failover
    for n in ("w2", "w3"):
        z.expect("create %s/%s 0" % (root, n), [])
        z.expect("get -w %s/%s" % (root, n), "0")
    z.expect("ls -w %s/kids" % root, "[a, c]")
    z.expect("stat -w %s/later" % root, "Node does not exist: %s/later" % root)

    # --- the failover
    assert locate(e, sess) == target
    e.kill9(kill)
    rk(k.set, root + "/w3", b"during")
    deadline = time.monotonic() + 60
    while True:
        out, connected = z.run("stat %s/e" % root, timeout=60)
        if connected and any(l.startswith("ephemeralOwner = ") for l in out):
            break
        assert not any("Session expired" in l or "Node does not exist" in l for l in out), out
        assert time.monotonic() < deadline, "zkCli: no answer within 60s of the kill: %r" % out
        time.sleep(0.2)
    assert "ephemeralOwner = 0x%x" % sess in out, out
    now = locate(e, sess)
    if kill == target:
        assert now != target
    assert "WatchedEvent state:Disconnected type:None path:null" in z.transcript[-200:] or any(
        "state:Disconnected" in l for l in z.transcript), "no Disconnected event"
    assert z.list_of("getEphemerals %s" % root) == {root + "/e", es}
    assert_ephemerals(e, sess, [root + "/e", es])
    rk(k.set, root + "/w2", b"after")
    rk(k.create, root + "/kids/d")
    rk(k.create, root + "/later")
    rk(k.set, root + "/pw", b"2")
    rk(k.set, root + "/pw", b"3")
    z.take_events([_ev("NodeDataChanged", root + "/w3"), _ev("NodeDataChanged", root + "/w2"),
                   _ev("NodeChildrenChanged", root + "/kids"), _ev("NodeCreated", root + "/later"),
                   _ev("NodeDataChanged", root + "/pw"), _ev("NodeDataChanged", root + "/pw")])

    # --- writes go on
    z.expect("create -s %s/s- x" % root, "Created %s/s-0000000013" % root)
    z.expect("set -v 1 %s/v after" % root, [])
    z.expect("get -s %s/v" % root, ["after", "dataVersion = 2"])
    z.expect("create -e %s/e2 x" % root, "Created %s/e2" % root)
    k.sync(root)
    assert k.get(root + "/v")[0] == b"after"

    # --- the killed server comes back with everything
    restart_and_check(e, kill, wsid, root)
    assert_ephemerals(e, sess, [root + "/e", es, root + "/e2"])
    z.close()
    assert z.proc.returncode is not None
    assert_gone(e, [root + "/e", es, root + "/e2"])
    assert_same_everywhere(e, root, no_ephemerals=True)
    return {"client_on": target, "killed": kill, "moved_to": now}
