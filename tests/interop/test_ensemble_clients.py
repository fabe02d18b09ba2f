"""Real clients against a 3-server ensemble, every connect string listing
all three servers: Curator (Java, Debian's libcurator 5.4), the C client
(libzookeeper_mt through c/zkdriver.c), node-zookeeper-client
(node/zkdriver.js) and zkCli.sh.

* ``TestOpsOnEnsemble``: the standalone suites' scenarios (clientdriver.py's
  for C and node, CuratorInterop.java's for Curator) run unchanged against
  one shared ensemble: each client lands where its shuffle puts it, the
  scenarios' second clients often on other servers.
* ``test_*_failover``: basic operations (create incl. sequential/ephemeral,
  get/set with versions, children, watches fired by writes through another
  server, multi, delete), then kill -9 of the client's server or of the
  leader (``ensclients.VICTIMS``); the client must come back on the same
  session with its ephemerals and watches (changes made meanwhile fire
  them), its writes go on; the killed server restarts and, asked alone,
  has exactly what the others have; closing the session removes its
  ephemerals everywhere.
* ``test_curator_recipe_failover``: InterProcessMutex, LeaderLatch,
  DistributedAtomicLong, CuratorCache + PathChildrenCache with one client
  per server while the first client's server is killed
  (java/CuratorEnsemble.java drives them; it stops at ASK lines for this
  file to kill and restart servers).

Every test makes its own ensemble (ensemble.py) but the shared one; server
kind per PADDOCK_SERVER as in the rest of the suite.
"""
import os
import re
import shutil
import subprocess
import tempfile
import time
import types

import pytest

import ensclients
from clientdriver import SCENARIOS, DriverFactory, LineDriver
from conftest import ZKCLI
from ensemble import Ensemble, ensembles, wait_until  # noqa: F401 - the fixture
from test_c_client import c_driver_bin  # noqa: F401 - fixture
from test_curator import SCENARIOS as CURATOR_SCENARIOS
from test_curator import _classpath, curator_classes  # noqa: F401 - fixture
from test_node_client import DRIVER as NODE_DRIVER
from test_node_client import NODE_DIR, node_bin  # noqa: F401 - fixture

HERE = os.path.dirname(os.path.abspath(__file__))
ENS_SRC = os.path.join(HERE, "java", "CuratorEnsemble.java")
JVM = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]


# ---------------------------------------------------------------- one shared ensemble

@pytest.fixture(scope="class")
def shared_ens(request):
    """One started ensemble for TestOpsOnEnsemble (torn down after the
    class, before the failover tests make their own); kept if a test of the
    class failed."""
    e = Ensemble(n=3, name="clients_shared", extra_cfg={"extendedTypesEnabled": "true"})
    failed_before = request.session.testsfailed
    try:
        e.start()
        yield e
    finally:
        failed = request.session.testsfailed > failed_before
        print(e.log_tails(60 if failed else 10))
        if failed:
            print("kept: %s" % e.dir)
        e.cleanup(keep=failed)


class TestOpsOnEnsemble:
    """The standalone scenarios, unchanged, through a 3-server connect string."""

    @staticmethod
    def _mk(argv_for_hosts, e, cwd=None):
        return DriverFactory(argv_for_hosts, types.SimpleNamespace(hosts=e.connect_string()), cwd=cwd)

    @staticmethod
    def _root(d, prefix, scenario):
        path = "/%s-%d-%s-%d" % (prefix, os.getpid(), scenario, int(time.monotonic() * 1000))
        d.ok("create %s - 0" % path)
        return path

    @pytest.mark.timeout(120)
    @pytest.mark.parametrize("scenario", sorted(SCENARIOS))
    def test_c_ops(self, scenario, c_driver_bin, shared_ens):  # noqa: F811
        mk = self._mk(lambda hosts: [c_driver_bin, hosts, "10000"], shared_ens)
        try:
            SCENARIOS[scenario](mk, self._root(mk(name="setup"), "c", scenario))
        finally:
            mk.close_all()

    @pytest.mark.timeout(120)
    @pytest.mark.parametrize("scenario", sorted(SCENARIOS))
    def test_node_ops(self, scenario, node_bin, shared_ens):  # noqa: F811
        mk = self._mk(lambda hosts: [node_bin, NODE_DRIVER, hosts, "10000"], shared_ens, cwd=NODE_DIR)
        try:
            SCENARIOS[scenario](mk, self._root(mk(name="setup"), "node", scenario))
        finally:
            mk.close_all()

    @pytest.mark.timeout(120)
    @pytest.mark.parametrize("scenario", CURATOR_SCENARIOS)
    def test_curator_ops(self, scenario, curator_classes, shared_ens):  # noqa: F811
        root = "/curator-%d-%s-%d" % (os.getpid(), scenario, int(time.monotonic() * 1000))
        p = subprocess.run(JVM + ["-cp", curator_classes, "CuratorInterop",
                                  shared_ens.connect_string(), root, scenario],
                           capture_output=True, text=True, timeout=100)
        out = p.stdout + ("\n--- stderr ---\n" + p.stderr if p.stderr.strip() else "")
        assert p.returncode == 0 and re.search(r"^PASS %s$" % scenario, p.stdout, re.M), out

    @pytest.mark.timeout(180)
    @pytest.mark.skipif(not os.path.exists(ZKCLI), reason="zkCli.sh not installed")
    def test_zkcli_ops(self, shared_ens):
        """zkCli.sh through the 3-server connect string: every answer as
        the commands' own (basic ops; a watch fired by a write through a
        server that may not be zkCli's)."""
        z = ensclients.ZkCliSession(shared_ens.connect_string())
        try:
            r = "/zkcli-ops-%d" % os.getpid()
            z.expect("create %s top" % r, "Created " + r)
            z.expect("create -s %s/s- x" % r, "Created %s/s-0000000000" % r)
            z.expect("create -e %s/e y" % r, "Created %s/e" % r)
            z.expect("set -v 0 %s top2" % r, [])
            z.expect("set -v 0 %s top3" % r, "version No is not valid : %s" % r)
            z.expect("get -s %s" % r, ["top2", "dataVersion = 1", "numChildren = 2"])
            z.expect("ls %s" % r, "[e, s-0000000000]")
            z.expect("get -w %s" % r, "top2")
            for m in shared_ens.all():
                c = m.client()
                c.sync(r)
                assert c.get(r)[0] == b"top2"
            shared_ens[3].client().set(r, b"top4")
            z.take_events(["WatchedEvent state:SyncConnected type:NodeDataChanged path:%s" % r])
            z.expect("delete %s/s-0000000000" % r, [])
            z.expect("delete %s" % r, "Node not empty: %s" % r)
        finally:
            z.close()


# ---------------------------------------------------------------- C and node: failover

@pytest.mark.timeout(300)
@pytest.mark.parametrize("victim", ensclients.VICTIMS)
def test_c_client_failover(ensembles, c_driver_bin, victim):  # noqa: F811
    e = ensembles(n=3)
    drivers = []

    def start(hosts):
        d = LineDriver([c_driver_bin, hosts, "10000"], "c-%d" % len(drivers))
        drivers.append(d)
        return d
    try:
        print(ensclients.line_failover(e, start, victim))
    finally:
        for d in drivers:
            d.close()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("victim", ensclients.VICTIMS)
def test_node_client_failover(ensembles, node_bin, victim):  # noqa: F811
    e = ensembles(n=3)
    drivers = []

    def start(hosts):
        d = LineDriver([node_bin, NODE_DRIVER, hosts, "10000"], "node-%d" % len(drivers),
                       cwd=NODE_DIR)
        drivers.append(d)
        return d
    try:
        print(ensclients.line_failover(e, start, victim))
    finally:
        for d in drivers:
            d.close()


# ---------------------------------------------------------------- zkCli: failover

@pytest.mark.timeout(400)
@pytest.mark.skipif(not os.path.exists(ZKCLI), reason="zkCli.sh not installed")
@pytest.mark.parametrize("victim", ensclients.VICTIMS)
def test_zkcli_failover(ensembles, victim):
    e = ensembles(n=3)
    print(ensclients.zkcli_failover(e, victim))


# ---------------------------------------------------------------- Curator: failover, recipes

@pytest.fixture(scope="session")
def curator_ensemble_classes(curator_classes):  # noqa: F811
    out = tempfile.mkdtemp(prefix="interop-curator-ens-")
    p = subprocess.run(["javac", "-nowarn", "-d", out, "-cp", _classpath(), ENS_SRC],
                       capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, "javac failed:\n" + p.stdout + p.stderr
    yield out + ":" + _classpath()
    shutil.rmtree(out, ignore_errors=True)


def _run_curator(e, classes, scenario, victim, placement="ordered", timeout=360):
    """Run CuratorEnsemble's ``scenario`` against ``e`` (started here)."""
    e.start()
    root = "/ce-%s" % scenario
    if placement == "ordered":
        order, kill = ensclients.plan(e, victim)
        ch = ensclients.Choreography(e, root, order=order, kill=kill)
    else:
        order = e.ids()
        ch = ensclients.Choreography(e, root)  # kill the server the client is on
    argv = JVM + ["-cp", classes, "CuratorEnsemble", root, scenario, placement] + \
        [e.hosts(s) for s in order]
    rc, out, err, errors = ensclients.AskProtocol(argv, ch, timeout=timeout).run()
    text = "\n".join(out) + ("\n--- stderr ---\n" + err if err.strip() else "") + \
        "\n--- test side ---\n" + "\n".join(ch.log + errors)
    print(text)
    assert not errors and rc == 0 and ("PASS " + scenario) in out, text
    assert ch.killed is not None, "the scenario never asked for a kill"
    if not e[ch.killed].alive():
        ensclients.restart_and_check(e, ch.killed, [s for s in e.ids() if s != ch.killed][0], root)
    # every session is closed: every server alone has the same tree, no ephemerals
    ensclients.assert_same_everywhere(e, root, no_ephemerals=True)


@pytest.mark.timeout(400)
@pytest.mark.parametrize("victim", ensclients.VICTIMS + ["own_shuffled"])
def test_curator_failover(ensembles, curator_ensemble_classes, victim):
    """Curator's basic operations, the failover and the return (see
    CuratorEnsemble.basicFailover). ``own_shuffled``: the Java client's own
    (shuffling) host provider; its server is killed, whichever it is."""
    e = ensembles(n=3)
    if victim == "own_shuffled":
        _run_curator(e, curator_ensemble_classes, "basic_failover", None, placement="shuffled")
    else:
        _run_curator(e, curator_ensemble_classes, "basic_failover", victim)


@pytest.mark.timeout(400)
@pytest.mark.parametrize("victim", ["follower", "leader"])
@pytest.mark.parametrize("recipe", ["mutex", "leader_latch", "atomic_long", "cache"])
def test_curator_recipe_failover(ensembles, curator_ensemble_classes, recipe, victim):
    """One Curator client per server; the first one's server (a follower or
    the leader) is killed while the recipe runs."""
    e = ensembles(n=3)
    _run_curator(e, curator_ensemble_classes, recipe + "_failover", victim)


# ---------------------------------------------------------------- session ids after a restart

@pytest.mark.timeout(200)
@pytest.mark.parametrize("how", ["stop", "kill9"])
def test_session_ids_stay_unique_after_a_restart(ensembles, how):
    """Found by kazoo's own suite (its request-queuing tests restart
    server 1 while the others hold sessions): a server that restarts
    holding sessions made by a server with a higher id must still hand out
    ids from its own range. Two clients given the same id share one
    session: closing one ends the other and deletes its ephemerals.
    Server 3 makes a session; server 1 has applied it (a sync through it)
    and restarts; then one new session on each."""
    e = ensembles(n=3)
    e.start()
    a = e[3].client()
    a.create("/sid-a", b"a", ephemeral=True)
    e.get_alone(1, "/sid-a")  # server 1 has a's session in its state
    e[1].stop() if how == "stop" else e[1].kill9()
    e[1].start()
    e[1].wait_serving()
    e.wait_for_leader()
    b = e[3].client()
    c = e[1].client()
    ids = {"a (server 3)": a.client_id[0], "b (server 3)": b.client_id[0],
           "c (server 1)": c.client_id[0]}
    shown = {k: "0x%x" % v for k, v in ids.items()}
    assert len(set(ids.values())) == 3, "two live sessions share an id: %s" % shown
    assert c.client_id[0] >> 56 == 1, "server 1 handed out an id outside its range: %s" % shown
    c.create("/sid-c", b"c", ephemeral=True)
    b.create("/sid-b", b"b", ephemeral=True)
    b.stop()
    # b's close has been applied once its own ephemeral is gone (no sleep):
    # by then c's must still be there
    wait_until(
        lambda: e.read_alone(2, lambda k: (k.sync("/"), k.exists("/sid-b"))[1]) is None,
        60, "b's closed session's ephemeral gone on server 2")
    assert e.read_alone(2, lambda k: (k.sync("/"), k.exists("/sid-c"))[1]) is not None, \
        "closing b's session deleted c's ephemeral (%s)" % shown
    assert ensclients.ephemeral_owner_alone(e, 2, "/sid-a") == a.client_id[0]
