"""Fixtures for the real-client interop suite.

The server under test is chosen by the environment:

* ``PADDOCK_SERVER=zookeeper`` runs Debian's Apache ZooKeeper 3.8
  (``java ... QuorumPeerMain <tmp>/zoo.cfg``; standalone because the cfg has no
  ``server.N`` lines).
* ``PADDOCK_SERVER=paddock`` (default) runs
  ``${PADDOCK_BIN:-target/release/paddock} start --config <tmp>/zoo.cfg``.

Every server gets its own temp dir (zoo.cfg + dataDir) and its own free port,
so tests may run in parallel (pytest-xdist ``-n``).  Every wait has a deadline.
"""
import os
import signal
import socket
import subprocess
import tempfile
import time
import shutil
import contextlib

import pytest
from kazoo.client import KazooClient

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SERVER_KIND = os.environ.get("PADDOCK_SERVER", "paddock")
_SLF4J_SIMPLE = "/usr/share/java/slf4j-simple.jar"  # server log to stderr
ZK_JAR_CP = os.environ.get(
    "ZK_CLASSPATH", "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
    + (":" + _SLF4J_SIMPLE if os.path.exists(_SLF4J_SIMPLE) else ""))
ZKCLI = os.environ.get("ZKCLI", "/usr/share/zookeeper/bin/zkCli.sh")

START_DEADLINE = float(os.environ.get("INTEROP_START_DEADLINE", "30"))
STOP_DEADLINE = 10.0


def is_zookeeper():
    return SERVER_KIND == "zookeeper"


def free_port():
    """A port that nothing listens on right now (bind to 0, then release)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def four_letter(port, word, timeout=5.0, host="127.0.0.1"):
    """Send a four-letter word and read until the server closes."""
    if isinstance(word, str):
        word = word.encode()
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(word)
        chunks = []
        while True:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                break
            if not d:
                break
            chunks.append(d)
            if time.monotonic() > deadline:
                raise TimeoutError("4lw %r: no EOF before deadline" % word)
    return b"".join(chunks).decode("utf-8", "replace")


def wait_until(pred, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            if pred():
                return True
        except Exception as e:  # noqa: BLE001 - keep polling until deadline
            last_exc = e
        time.sleep(interval)
    raise TimeoutError("timed out after %.1fs waiting for %s (last error: %r)"
                       % (timeout, what, last_exc))


class Server:
    """One server process with its own temp dir, zoo.cfg, dataDir and port."""

    def __init__(self, extra_cfg=None, tick_time=2000, whitelist="*"):
        self.dir = tempfile.mkdtemp(prefix="interop-%s-" % SERVER_KIND)
        self.data_dir = os.path.join(self.dir, "data")
        os.makedirs(self.data_dir)
        self.port = free_port()
        self.tick_time = tick_time
        self.cfg = {
            "tickTime": str(tick_time),
            "dataDir": self.data_dir,
            "clientPort": str(self.port),
            "4lw.commands.whitelist": whitelist,
            "extendedTypesEnabled": "true",
            "admin.enableServer": "false",
        }
        if extra_cfg:
            self.cfg.update(extra_cfg)
        self.cfg_path = os.path.join(self.dir, "zoo.cfg")
        with open(self.cfg_path, "w") as f:
            for k, v in self.cfg.items():
                f.write("%s=%s\n" % (k, v))
        self.proc = None
        self.log_path = os.path.join(self.dir, "server.log")
        self._log = None
        self.starts = 0

    @property
    def hosts(self):
        return "127.0.0.1:%d" % self.port

    def command(self):
        if is_zookeeper():
            return ["java", "-Xmx512m",
                    "-Dzookeeper.log.dir=%s" % self.dir,
                    "-Dzookeeper.root.logger=INFO,CONSOLE",
                    "-cp", ZK_JAR_CP,
                    "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                    self.cfg_path]
        binary = os.environ.get("PADDOCK_BIN", "target/release/paddock")
        if not os.path.isabs(binary):
            binary = os.path.join(REPO, binary)
        return [binary, "start", "--config", self.cfg_path]

    def start(self, timeout=START_DEADLINE):
        assert self.proc is None or self.proc.poll() is not None
        self._log = open(self.log_path, "ab")
        self._log.write(b"\n==== start #%d ====\n" % self.starts)
        self._log.flush()
        self.starts += 1
        self.proc = subprocess.Popen(self.command(), stdout=self._log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.dir,
                                     start_new_session=True)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=START_DEADLINE):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited with %s during start; log:\n%s"
                                   % (self.proc.returncode, self.log_tail()))
            try:
                if self._ready():
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.kill9()
        raise TimeoutError("server not ready (ruok->imok) within %.0fs; log:\n%s"
                           % (timeout, self.log_tail()))

    def _ready(self):
        # ZooKeeper answers ruok with imok *before* its ZooKeeperServer is
        # running (session connects are then closed with "ZooKeeperServer not
        # running"), so readiness is ruok->imok plus srvr showing a Mode line.
        ruok = four_letter(self.port, "ruok", timeout=1.0)
        if ruok != "imok" and "not in the whitelist" not in ruok:
            return False
        return "Mode:" in four_letter(self.port, "srvr", timeout=1.0)

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def _wait_port_closed(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            except OSError:
                return
            time.sleep(0.05)

    def stop(self, timeout=STOP_DEADLINE):
        """SIGTERM, then SIGKILL after the deadline."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(STOP_DEADLINE)
        self._close_log()
        self._wait_port_closed()

    def kill9(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(STOP_DEADLINE)
        self._close_log()
        self._wait_port_closed()

    def restart(self, kill=False, timeout=START_DEADLINE):
        """Stop (or kill -9) and start again on the same port and dataDir."""
        if kill:
            self.kill9()
        else:
            self.stop()
        self.start(timeout)
        return self

    def _close_log(self):
        if self._log:
            self._log.close()
            self._log = None

    def flw(self, word, timeout=5.0):
        return four_letter(self.port, word, timeout)

    def cleanup(self):
        self.kill9()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def servers():
    """Make servers with opshelp.OpsServer (zoo.cfg keys per test); every one
    is stopped and removed after the test."""
    import opshelp
    s = opshelp.Servers()
    yield s
    s.cleanup()


@pytest.fixture
def server_factory():
    """Start extra servers: ``server_factory(extra_cfg={...})``."""
    servers = []

    def make(extra_cfg=None, start=True, **kw):
        s = Server(extra_cfg=extra_cfg, **kw)
        servers.append(s)
        if start:
            s.start()
        return s

    yield make
    for s in servers:
        s.cleanup()


@pytest.fixture(scope="module")
def shared_server():
    """One server per test module (per xdist worker). Tests use unique paths."""
    s = Server()
    try:
        s.start()
        yield s
    finally:
        s.cleanup()


@pytest.fixture
def server(server_factory):
    """A fresh server for this test only."""
    return server_factory()


class ClientFactory:
    def __init__(self, default_server):
        self.default_server = default_server
        self.clients = []

    def __call__(self, server=None, timeout=10.0, start=True, connect_timeout=15.0,
                 **kw):
        server = server or self.default_server
        kw.setdefault("connection_retry", {"max_tries": -1, "delay": 0.1,
                                           "max_delay": 1, "deadline": 30})
        c = KazooClient(hosts=server.hosts, timeout=timeout, **kw)
        self.clients.append(c)
        if start:
            c.start(timeout=connect_timeout)
        return c

    def close_all(self):
        for c in self.clients:
            with contextlib.suppress(Exception):
                c.stop()
            with contextlib.suppress(Exception):
                c.close()


@pytest.fixture
def zk_factory(shared_server):
    f = ClientFactory(shared_server)
    yield f
    f.close_all()


@pytest.fixture
def zk(zk_factory):
    return zk_factory()


@pytest.fixture
def fresh_zk_factory(server):
    """Client factory bound to a fresh per-test server (``.default_server``)."""
    f = ClientFactory(server)
    yield f
    f.close_all()


_counter = [0]


@pytest.fixture
def root(request, zk):
    """A unique, existing path for this test on the shared server."""
    _counter[0] += 1
    name = "".join(ch if ch.isalnum() else "_" for ch in request.node.name)[:60]
    path = "/t-%d-%s-%d" % (os.getpid(), name, _counter[0])
    zk.ensure_path(path)
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (PADDOCK_NO_SKIP=1) a skipped test is a failure: a client that
    failed to install must not turn into a green run that tested nothing."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("PADDOCK_NO_SKIP") == "1" and report.skipped:
        report.outcome = "failed"
        report.longrepr = "skipped, but PADDOCK_NO_SKIP=1: %s" % (report.longrepr,)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """The same for a skip at collection (``pytest.importorskip`` or
    ``pytest.skip(allow_module_level=True)`` at a module's top): it skips
    the whole module without a test report, so the hook above never sees
    it; here it becomes a collection error."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("PADDOCK_NO_SKIP") == "1" and report.skipped:
        report.outcome = "failed"
        report.longrepr = "%s skipped at collection, but PADDOCK_NO_SKIP=1: %s" % (
            collector.nodeid, report.longrepr)
