"""Real-process ensembles for the interop suite: N servers (3 or 5, plus
observers) with their own dataDir/myid/zoo.cfg, started, killed and
restarted one by one.

The kind of each member follows conftest: ``PADDOCK_SERVER=zookeeper`` runs
Apache ZooKeeper 3.8 (``java ... QuorumPeerMain zoo.cfg``), anything else
runs ``target/release/paddock start --config zoo.cfg``; ``kinds=[...]`` mixes
them (e.g. two ZooKeepers and one paddock). Both read the same zoo.cfg.

Ports: every member needs a client, a quorum and an election port that stay
the same across its restarts, so they cannot come from the kernel's
ephemeral range (a client socket could take one while the member is down).
They are taken from ENSEMBLE_PORTS (default 24000-28999, below the ephemeral
range 32768-60999 where conftest's ``free_port`` allocates), each one held by
an flock on /tmp/paddock-ensemble-ports/<port> for the life of the ensemble
(so parallel xdist workers and parallel pytest runs never share one) and
checked to be bindable (no listener, no TIME-WAIT) when taken.

Network namespaces (``netns=NetnsLab``): each member runs in its own
namespace at its own address with the standard ports 2181/2888/3888.

Every wait has a deadline. Server logs stay in each member's directory; the
``ensembles`` fixture prints their tails at teardown (pytest shows them only
for failed tests) and keeps the directories of a failed test.
"""
import contextlib
import fcntl
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
from kazoo.client import KazooClient
from kazoo.retry import KazooRetry

import conftest
from conftest import REPO, ZK_JAR_CP, four_letter

TICK_TIME = int(os.environ.get("ENSEMBLE_TICK_TIME", "500"))
INIT_LIMIT = int(os.environ.get("ENSEMBLE_INIT_LIMIT", "10"))
SYNC_LIMIT = int(os.environ.get("ENSEMBLE_SYNC_LIMIT", "5"))
LEADER_DEADLINE = float(os.environ.get("ENSEMBLE_LEADER_DEADLINE", "90"))
STOP_DEADLINE = 10.0
_PORT_LO, _PORT_HI = (int(x) for x in os.environ.get("ENSEMBLE_PORTS", "24000-28999").split("-"))
_LOCK_DIR = "/tmp/paddock-ensemble-ports"


def default_kind():
    return "zookeeper" if conftest.is_zookeeper() else "paddock"


def paddock_bin():
    binary = os.environ.get("PADDOCK_BIN", "target/release/paddock")
    return binary if os.path.isabs(binary) else os.path.join(REPO, binary)


# ---------------------------------------------------------------- ports

class PortLease:
    """Ports held (flock) until release(); each was bindable when taken."""

    def __init__(self, count):
        os.makedirs(_LOCK_DIR, exist_ok=True)
        self.ports = []
        self._fds = []
        span = _PORT_HI - _PORT_LO + 1
        start = random.randrange(span)
        for k in range(span):
            if len(self.ports) == count:
                break
            p = _PORT_LO + (start + k) % span
            fd = os.open(os.path.join(_LOCK_DIR, str(p)), os.O_CREAT | os.O_RDWR, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            if not _bindable(p):
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
                continue
            self.ports.append(p)
            self._fds.append(fd)
        if len(self.ports) < count:
            self.release()
            raise RuntimeError("no %d free ports in %d-%d" % (count, _PORT_LO, _PORT_HI))

    def release(self):
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = []


def _bindable(port):
    # no SO_REUSEADDR: fails on a listener *and* on TIME-WAIT leftovers
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("0.0.0.0", port))
            return True
        except OSError:
            return False


# ---------------------------------------------------------------- members

_MODE = re.compile(r"^Mode: (\w+)", re.M)
_ZXID = re.compile(r"^Zxid: (0x[0-9a-fA-F]+)", re.M)


class Member:
    """One server of an ensemble."""

    def __init__(self, ens, sid, kind, observer, host, client_port, quorum_port,
                 election_port, netns=None):
        self.ens = ens
        self.sid = sid
        self.kind = kind
        self.observer = observer
        self.host = host
        self.port = client_port
        self.quorum_port = quorum_port
        self.election_port = election_port
        self.netns = netns
        self.dir = os.path.join(ens.dir, "s%d" % sid)
        self.data_dir = os.path.join(self.dir, "data")
        os.makedirs(self.data_dir)
        with open(os.path.join(self.data_dir, "myid"), "w") as f:
            f.write("%d\n" % sid)
        self.cfg_path = os.path.join(self.dir, "zoo.cfg")
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc = None
        self._log = None
        self.starts = 0
        self.expected_up = False  # started by us and not killed/stopped since

    def __repr__(self):
        return "server.%d(%s%s %s)" % (self.sid, self.kind,
                                        " observer" if self.observer else "", self.hosts)

    @property
    def hosts(self):
        return "%s:%d" % (self.host, self.port)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def server_line(self):
        return "server.%d=%s:%d:%d%s" % (self.sid, self.host, self.quorum_port,
                                         self.election_port,
                                         ":observer" if self.observer else "")

    def write_cfg(self):
        cfg = [
            ("tickTime", self.ens.tick_time),
            ("initLimit", self.ens.init_limit),
            ("syncLimit", self.ens.sync_limit),
            ("dataDir", self.data_dir),
            ("clientPort", self.port),
            ("maxClientCnxns", 0),
            ("4lw.commands.whitelist", "*"),
            ("admin.enableServer", "false"),
        ]
        if self.observer:
            cfg.append(("peerType", "observer"))
        cfg += sorted(self.ens.extra_cfg.items())
        with open(self.cfg_path, "w") as f:
            for k, v in cfg:
                f.write("%s=%s\n" % (k, v))
            for m in self.ens.all():
                f.write(m.server_line() + "\n")

    def command(self):
        if self.kind == "zookeeper":
            cmd = ["java", "-Xmx512m"] + os.environ.get("ENSEMBLE_JVM_FLAGS", "").split() + [
                "-Dzookeeper.log.dir=%s" % self.dir,
                "-Dzookeeper.root.logger=INFO,CONSOLE",
                "-cp", ZK_JAR_CP,
                "org.apache.zookeeper.server.quorum.QuorumPeerMain", self.cfg_path]
        else:
            cmd = [paddock_bin(), "start", "--config", self.cfg_path]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns] + cmd  # ip execs: same pid
        return cmd

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        """Spawn; does not wait (a member serves only once a quorum is up)."""
        assert not self.alive(), "%r already running" % self
        self.write_cfg()
        self._log = open(self.log_path, "ab")
        self._log.write(b"\n==== start #%d: %s ====\n" % (self.starts, " ".join(self.command()).encode()))
        self._log.flush()
        self.starts += 1
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.dir,
                                     start_new_session=True)
        self.expected_up = True
        return self

    def kill9(self):
        self.expected_up = False
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(STOP_DEADLINE)
        self._close_log()
        self._wait_port_closed()

    def pause(self):
        if self.alive():
            self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        if self.alive():
            self.proc.send_signal(signal.SIGCONT)

    def stop(self):
        """SIGTERM, SIGKILL after the deadline."""
        self.expected_up = False
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_DEADLINE)
        self._close_log()
        self._wait_port_closed()

    def restart(self, kill=False):
        self.kill9() if kill else self.stop()
        return self.start()

    def _close_log(self):
        if self._log:
            self._log.close()
            self._log = None

    def _wait_port_closed(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
            except OSError:
                return
            time.sleep(0.05)

    # ---- status

    def flw(self, word, timeout=3.0):
        return four_letter(self.port, word, timeout=timeout, host=self.host)

    def srvr(self):
        try:
            return self.flw("srvr")
        except OSError:
            return ""

    def mode(self):
        """'leader' | 'follower' | 'observer' | 'standalone' | None (down or
        not serving, e.g. LOOKING)."""
        if not self.alive():
            return None
        m = _MODE.search(self.srvr())
        return m.group(1) if m else None

    def zxid(self):
        m = _ZXID.search(self.srvr())
        return int(m.group(1), 16) if m else None

    def check_running(self):
        """Raise (with the log) if the member died without being killed."""
        if self.expected_up and self.proc.poll() is not None:
            raise RuntimeError("%r exited with %s; log tail:\n%s"
                               % (self, self.proc.returncode, self.log_tail()))

    def wait_serving(self, timeout=LEADER_DEADLINE, modes=None):
        """Until srvr shows a Mode line (in ``modes`` if given)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            self.check_running()
            last = self.mode()
            if last is not None and (modes is None or last in modes):
                return last
            time.sleep(0.1)
        raise TimeoutError("%r not serving%s within %.0fs (last mode %r); log tail:\n%s"
                           % (self, " as %s" % "/".join(modes) if modes else "", timeout,
                              last, self.log_tail()))

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=60):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def client(self, **kw):
        """A started kazoo client connected to this member alone."""
        return self.ens.client(self.hosts, **kw)


class Ensemble:
    """``n`` voting members (ids 1..n) and ``observers`` observers (n+1..).

    ``kinds``: one of 'zookeeper'/'paddock' per member (default: the suite's
    server kind). ``netns``: a NetnsLab; members then live at its addresses
    with ports 2181/2888/3888."""

    def __init__(self, n=3, observers=0, kinds=None, tick_time=TICK_TIME,
                 init_limit=INIT_LIMIT, sync_limit=SYNC_LIMIT, extra_cfg=None, netns=None,
                 name="ens"):
        total = n + observers
        kinds = list(kinds) if kinds else [default_kind()] * total
        assert len(kinds) == total
        self.tick_time, self.init_limit, self.sync_limit = tick_time, init_limit, sync_limit
        self.extra_cfg = dict(extra_cfg or {})
        self.dir = tempfile.mkdtemp(prefix="ensemble-%s-" % name)
        self.netns = netns
        self.lease = None
        self.members = {}
        self._clients = []
        self._lock = threading.Lock()
        if netns:
            addrs = netns.add_hosts(total)
        else:
            self.lease = PortLease(3 * total)
        for i in range(total):
            sid = i + 1
            if netns:
                host, ns = addrs[i]
                ports = (2181, 2888, 3888)
            else:
                host, ns = "127.0.0.1", None
                ports = self.lease.ports[3 * i:3 * i + 3]
            self.members[sid] = Member(self, sid, kinds[i], sid > n, host, *ports, netns=ns)

    # ---- members

    def __getitem__(self, sid):
        return self.members[sid]

    def all(self):
        return [self.members[s] for s in sorted(self.members)]

    def voters(self):
        return [m for m in self.all() if not m.observer]

    def live(self):
        return [m for m in self.all() if m.alive()]

    def ids(self):
        return sorted(self.members)

    def mode(self, sid):
        return self.members[sid].mode()

    def modes(self):
        return {m.sid: m.mode() for m in self.all()}

    def connect_string(self, ids=None):
        ids = ids or self.ids()
        return ",".join(self.members[i].hosts for i in ids)

    def hosts(self, sid):
        return self.members[sid].hosts

    # ---- lifecycle

    def start(self, ids=None, wait=True, timeout=LEADER_DEADLINE):
        for sid in ids or self.ids():
            self.members[sid].start()
        if wait:
            return self.wait_for_leader(timeout)
        return None

    def kill9(self, sid):
        self.members[sid].kill9()

    def stop(self, sid):
        self.members[sid].stop()

    def restart(self, sid, kill=False):
        self.members[sid].restart(kill=kill)

    def leader(self):
        """The sid whose srvr says Mode: leader, if exactly one does."""
        leaders = [m.sid for m in self.live() if m.mode() == "leader"]
        return leaders[0] if len(leaders) == 1 else None

    def followers(self):
        return [m.sid for m in self.live() if m.mode() == "follower"]

    def wait_for_leader(self, timeout=LEADER_DEADLINE, ids=None):
        """Until, among the members in ``ids`` (default: every member started
        and not killed since), exactly one is leader, every other voter is
        follower and every observer observer. Returns the leader's sid."""
        deadline = time.monotonic() + timeout
        last = {}
        while time.monotonic() < deadline:
            group = [self.members[i] for i in ids] if ids else \
                [m for m in self.all() if m.expected_up]
            for m in group:
                m.check_running()
            last = {m.sid: m.mode() for m in group}
            leaders = [s for s, md in last.items() if md == "leader"]
            ok = len(leaders) == 1 and all(
                md == ("observer" if self.members[s].observer else "follower")
                for s, md in last.items() if s != leaders[0])
            if ok:
                return leaders[0]
            time.sleep(0.1)
        raise TimeoutError("no single leader with all others following within %.0fs: modes %r\n%s"
                           % (timeout, last, self.log_tails(30)))

    def wait_mode(self, sid, modes, timeout=LEADER_DEADLINE):
        return self.members[sid].wait_serving(timeout, modes=modes)

    # ---- clients

    def client(self, hosts, timeout=10.0, connect_timeout=30.0, start=True, **kw):
        """A kazoo client (stopped at cleanup). Reconnects forever within
        each call's own deadline; no command retries unless given."""
        kw.setdefault("connection_retry", KazooRetry(max_tries=-1, delay=0.1, max_delay=0.5,
                                                     deadline=None))
        c = KazooClient(hosts=hosts, timeout=timeout, **kw)
        with self._lock:
            self._clients.append(c)
        if start:
            c.start(timeout=connect_timeout)
        return c

    def read_alone(self, sid, fn, timeout=30.0):
        """fn(client) on a fresh client of member ``sid`` alone; closed after."""
        c = self.members[sid].client(connect_timeout=timeout)
        try:
            return fn(c)
        finally:
            close_client(c)

    def children_alone(self, sid, path, timeout=30.0):
        """sync(path) then get_children(path), asking member ``sid`` alone."""
        def f(c):
            c.sync(path)
            return set(c.get_children(path))
        return self.read_alone(sid, f, timeout)

    def get_alone(self, sid, path, timeout=30.0):
        def f(c):
            c.sync(path)
            return c.get(path)[0]
        return self.read_alone(sid, f, timeout)

    # ---- diagnostics and cleanup

    def log_tails(self, lines=60):
        out = []
        for m in self.all():
            out.append("----- %r (dir %s, pid %s, alive %s) log tail -----\n%s"
                       % (m, m.dir, m.pid, m.alive(), m.log_tail(lines)))
        return "\n".join(out)

    def cleanup(self, keep=False):
        with self._lock:
            clients, self._clients = self._clients, []
        for c in clients:
            close_client(c)
        for m in self.all():
            with contextlib.suppress(Exception):
                m.resume()
                m.kill9()
        if self.lease:
            self.lease.release()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def close_client(c):
    with contextlib.suppress(Exception):
        c.stop()
    with contextlib.suppress(Exception):
        c.close()


def connected_peer(c):
    """(host, port) of the server a kazoo client is connected to, or None."""
    try:
        return c._connection._socket.getpeername()[:2]
    except Exception:  # noqa: BLE001 - not connected
        return None


def wait_until(pred, timeout, what, interval=0.05):
    return conftest.wait_until(pred, timeout, interval=interval, what=what)


@pytest.fixture
def ensembles(request):
    """``ensembles(n=3, ...)`` makes an Ensemble (not started); all are killed
    at teardown. Their log tails are printed at teardown (pytest shows them
    for a failed test only); a failed test's directories are kept."""
    made = []
    failed_before = request.session.testsfailed

    def make(**kw):
        kw.setdefault("name", re.sub(r"[^A-Za-z0-9]+", "_", request.node.name)[:40])
        e = Ensemble(**kw)
        made.append(e)
        return e

    yield make
    failed = request.session.testsfailed > failed_before
    for e in made:
        print(e.log_tails(80 if failed else 20))
        if failed:
            print("kept: %s" % e.dir)
        e.cleanup(keep=failed or os.environ.get("ENSEMBLE_KEEP") == "1")


class Writer(threading.Thread):
    """A bounded create loop: ``prefix/w-<i>`` for i = 0.. on one client of
    ``hosts``, one create in flight, each waited for at most ``op_timeout``.
    A create that answers OK is *acked*; every create sent is in *sent*
    (a failed or timed-out one may or may not have been applied). Ends after
    ``max_count`` creates, ``max_secs`` seconds, or stop()."""

    def __init__(self, ens, hosts, prefix, max_count=5000, max_secs=60.0, op_timeout=5.0,
                 pause=0.0, client_timeout=10.0):
        super().__init__(daemon=True)
        self.ens, self.hosts, self.prefix = ens, hosts, prefix
        self.max_count, self.max_secs, self.op_timeout = max_count, max_secs, op_timeout
        self.pause = pause
        self.client_timeout = client_timeout
        self.acked = []      # (path, monotonic time of the answer)
        self.sent = set()
        self.failures = []   # (path, monotonic time, repr(error))
        self._stop_ev = threading.Event()
        self.error = None
        self.client = None

    def stop(self):
        self._stop_ev.set()

    def acked_paths(self):
        return {p for p, _ in self.acked}

    def acked_after(self, t):
        return [p for p, at in self.acked if at > t]

    def run(self):
        try:
            self.client = self.ens.client(self.hosts, timeout=self.client_timeout)
            end = time.monotonic() + self.max_secs
            i = 0
            while i < self.max_count and time.monotonic() < end and not self._stop_ev.is_set():
                path = "%s/w-%06d" % (self.prefix, i)
                i += 1
                self.sent.add(path)
                try:
                    self.client.create_async(path, path.encode()).get(timeout=self.op_timeout)
                except Exception as e:  # noqa: BLE001 - ConnectionLoss, timeout, ...
                    self.failures.append((path, time.monotonic(), repr(e)))
                    self._stop_ev.wait(0.05)
                    continue
                self.acked.append((path, time.monotonic()))
                if self.pause:
                    self._stop_ev.wait(self.pause)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e

    def finish(self, timeout=60.0):
        self.stop()
        self.join(timeout)
        assert not self.is_alive(), "writer on %s did not stop" % self.hosts
        assert self.error is None, "writer on %s failed: %r" % (self.hosts, self.error)


def create_many(c, paths, data=b"x", batch=200, timeout=60.0):
    """Pipelined creates (``batch`` in flight); every one must succeed."""
    deadline = time.monotonic() + timeout
    for k in range(0, len(paths), batch):
        futs = [c.create_async(p, data) for p in paths[k:k + batch]]
        for f in futs:
            f.get(timeout=max(1.0, deadline - time.monotonic()))


def stat_key(st):
    # every field the leader decides; equal on every replica
    return (st.czxid, st.mzxid, st.ctime, st.mtime, st.version, st.cversion, st.aversion,
            st.ephemeralOwner, st.dataLength, st.numChildren, st.pzxid)


def assert_everywhere(e, parent, expected, sids=None, allowed_extra=None):
    """Every path of ``expected`` under ``parent`` on every server of ``sids``
    asked alone; nothing there outside ``allowed_extra`` (default: expected)."""
    allowed = set(allowed_extra if allowed_extra is not None else expected)
    names = {p.rsplit("/", 1)[1] for p in expected}
    allowed_names = {p.rsplit("/", 1)[1] for p in allowed}
    for sid in sids or e.ids():
        present = e.children_alone(sid, parent)
        missing = names - present
        assert not missing, "server %d lacks %d acknowledged nodes, e.g. %s" % (
            sid, len(missing), sorted(missing)[:5])
        phantom = present - allowed_names
        assert not phantom, "server %d has nodes never sent: %s" % (sid, sorted(phantom)[:5])


# ---------------------------------------------------------------- network namespaces

def _ip(*args, check=True):
    p = subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=20)
    if check and p.returncode != 0:
        raise RuntimeError("ip %s failed (%d): %s" % (" ".join(args), p.returncode,
                                                       p.stderr.strip()))
    return p


class NetnsLab:
    """Hosts in their own network namespaces on one bridge: host i is
    10.77.<k>.i in namespace pd<k>-<pid>-<i>; the root namespace (where the
    tests and their clients run) is 10.77.<k>.254 on bridge pdbr<k>. <k> is
    leased (flock) so parallel runs never share a subnet. Partitions are
    blackhole routes between hosts' addresses (this kernel has no tc actions,
    netem or netfilter), so clients in the root namespace still reach every
    host while the hosts cannot reach each other."""

    def __init__(self):
        if os.geteuid() != 0:
            raise RuntimeError("network-namespace tests need root (running as uid %d)" % os.geteuid())
        if shutil.which("ip") is None:
            raise RuntimeError("network-namespace tests need iproute2's `ip`")
        os.makedirs(_LOCK_DIR, exist_ok=True)
        self.k = None
        self._fd = None
        for k in random.sample(range(1, 250), 249):
            fd = os.open(os.path.join(_LOCK_DIR, "netns-%d" % k), os.O_CREAT | os.O_RDWR, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.k, self._fd = k, fd
            break
        if self.k is None:
            raise RuntimeError("no free 10.77.<k>.0/24 lab subnet")
        self.bridge = "pdbr%d" % self.k
        self.hosts = []      # (addr, ns, host-side veth)
        self.blackholes = []  # (ns, addr)
        self._remove_stale()
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", "10.77.%d.254/24" % self.k, "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
        except Exception as ex:
            self.cleanup()
            raise RuntimeError("cannot build a network-namespace lab here: %s" % ex) from ex

    def _remove_stale(self):
        # leftovers of a run killed before its cleanup with the same <k>
        for line in _ip("netns", "list", check=False).stdout.splitlines():
            name = line.split()[0] if line.split() else ""
            if name.startswith("pd%d-" % self.k):
                _ip("netns", "del", name, check=False)
        for line in _ip("-o", "link", "show", check=False).stdout.splitlines():
            name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
            if name.startswith("pdv%ds" % self.k):
                _ip("link", "del", name, check=False)
        _ip("link", "del", self.bridge, check=False)

    def add_hosts(self, n):
        out = []
        for _ in range(n):
            i = len(self.hosts) + 1
            ns = "pd%d-%d-%d" % (self.k, os.getpid(), i)
            veth = "pdv%ds%d" % (self.k, i)
            addr = "10.77.%d.%d" % (self.k, i)
            try:
                _ip("netns", "add", ns)
                self.hosts.append((addr, ns, veth))
                _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
                _ip("link", "set", veth, "master", self.bridge, "up")
                _ip("-n", ns, "addr", "add", addr + "/24", "dev", "eth0")
                _ip("-n", ns, "link", "set", "eth0", "up")
                _ip("-n", ns, "link", "set", "lo", "up")
            except Exception as ex:
                raise RuntimeError("cannot build a network-namespace lab here: %s" % ex) from ex
            out.append((addr, ns))
        self._wait_reachable([a for a, _ in out])
        return out

    def _wait_reachable(self, addrs, timeout=20.0):
        # the bridge port needs a moment to forward; a refused connect = reachable
        for a in addrs:
            def ok():
                try:
                    socket.create_connection((a, 9), timeout=0.5).close()
                except ConnectionRefusedError:
                    return True
                except OSError:
                    return False
                return True
            wait_until(ok, timeout, "lab host %s reachable from the root namespace" % a)

    def ns_of(self, addr):
        return [ns for a, ns, _ in self.hosts if a == addr][0]

    def cut(self, a_addrs, b_addrs):
        """Drop all traffic between the hosts of a_addrs and of b_addrs."""
        for a in a_addrs:
            for b in b_addrs:
                for ns, dst in ((self.ns_of(a), b), (self.ns_of(b), a)):
                    _ip("-n", ns, "route", "add", "blackhole", dst + "/32")
                    self.blackholes.append((ns, dst))

    def heal(self):
        for ns, dst in self.blackholes:
            _ip("-n", ns, "route", "del", "blackhole", dst + "/32", check=False)
        self.blackholes = []

    def cleanup(self):
        for _, ns, veth in self.hosts:
            # deleting the host side removes the pair now (a namespace can
            # outlive `netns del` while sockets still refer to it)
            _ip("link", "del", veth, check=False)
            _ip("netns", "del", ns, check=False)
        self.hosts = []
        _ip("link", "del", self.bridge, check=False)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@pytest.fixture
def netns_lab():
    """A NetnsLab, removed after the test; a test that needs one fails (not
    skips) where namespaces cannot be made."""
    lab = NetnsLab()
    try:
        yield lab
    finally:
        lab.cleanup()
