"""Interop with node-zookeeper-client (npm, pure JavaScript): node/zkdriver.js
is driven line by line with the same scenarios as the C client
(clientdriver.py).  Install: tests/interop/install-clients.sh (npm install in
tests/interop/node)."""
import os
import re
import shutil
import time

import pytest

from clientdriver import SCENARIOS, DriverFactory

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.path.join(HERE, "node")
DRIVER = os.path.join(NODE_DIR, "zkdriver.js")
MODULE = os.path.join(NODE_DIR, "node_modules", "node-zookeeper-client", "package.json")


@pytest.fixture(scope="session")
def node_bin():
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        pytest.skip("node not installed (run tests/interop/install-clients.sh)")
    if not os.path.exists(MODULE):
        pytest.skip("node-zookeeper-client not installed in %s "
                    "(run tests/interop/install-clients.sh)" % NODE_DIR)
    return node


@pytest.fixture
def mk(node_bin, shared_server):
    f = DriverFactory(lambda hosts: [node_bin, DRIVER, hosts, "10000"], shared_server,
                      cwd=NODE_DIR)
    yield f
    f.close_all()


@pytest.fixture
def nroot(mk, request):
    d = mk(name="setup")
    path = "/node-%d-%s-%d" % (os.getpid(), re.sub(r"\W", "_", request.node.name)[:50],
                               int(time.monotonic() * 1000))
    d.ok("create %s - 0" % path)
    return path


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_node_client(scenario, mk, nroot):
    SCENARIOS[scenario](mk, nroot)
