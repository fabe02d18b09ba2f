"""`paddock status` prints what Debian's `zkServer.sh status` prints, with
the same exit code: against the server under test (paddock, or Apache
ZooKeeper with PADDOCK_SERVER=zookeeper) while it runs, and after it
stopped."""
import os
import subprocess

import pytest

from conftest import is_zookeeper
from opshelp import run_paddock

ZKSERVER = "/usr/share/zookeeper/bin/zkServer.sh"


def zkserver_status(cfg_path):
    return subprocess.run([ZKSERVER, "status", cfg_path], capture_output=True,
                          timeout=30, stdin=subprocess.DEVNULL)


def paddock_status(cfg_path, cwd):
    return run_paddock(["status", "--config", cfg_path], cwd=cwd, timeout=15)


@pytest.mark.skipif(not os.path.exists(ZKSERVER), reason="needs Debian's zookeeper")
def test_status_matches_zkserver_running_then_stopped(server):
    ours = paddock_status(server.cfg_path, server.dir)
    theirs = zkserver_status(server.cfg_path)
    assert theirs.returncode == 0, theirs
    assert ours.returncode == 0, ours
    assert ours.stdout.decode() == theirs.stdout.decode()
    assert ours.stdout.decode().splitlines() == [
        "Client port found: %d. Client address: localhost. Client SSL: false." % server.port,
        "Mode: standalone",
    ]
    using = "Using config: %s" % server.cfg_path
    assert using in theirs.stderr.decode().splitlines()
    assert using in ours.stderr.decode().splitlines()

    server.stop()
    ours = paddock_status(server.cfg_path, server.dir)
    theirs = zkserver_status(server.cfg_path)
    assert theirs.returncode == 1
    assert ours.returncode == 1
    assert ours.stdout.decode() == theirs.stdout.decode()
    assert ours.stdout.decode().splitlines()[-1] == \
        "Error contacting service. It is probably not running."


def test_status_uses_client_port_address(server_factory):
    # Nothing listens on 127.0.0.2 at that port: the address is used, not localhost.
    server = server_factory(start=False)
    with open(server.cfg_path, "a") as f:
        f.write("clientPortAddress=127.0.0.2\n")
    ours = paddock_status(server.cfg_path, server.dir)
    assert ours.returncode == 1
    assert ours.stdout.decode().splitlines() == [
        "Client port found: %d. Client address: 127.0.0.2. Client SSL: false." % server.port,
        "Error contacting service. It is probably not running.",
    ]


def test_status_on_a_bad_config_says_so(tmp_path):
    cfg = tmp_path / "zoo.cfg"
    cfg.write_text("clientPort=notaport\n")
    ours = paddock_status(str(cfg), str(tmp_path))
    assert ours.returncode != 0
    assert "clientPort" in ours.stderr.decode()
