"""Interop with Apache ZooKeeper's C client (libzookeeper_mt, Debian's
libzookeeper-mt-dev): c/zkdriver.c is compiled once per session and driven
line by line (clientdriver.py).  Also the C client's own shell, cli_mt
(Debian's zookeeper-bin), in batch mode and with a script on stdin."""
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

from clientdriver import (CREATED, SCENARIOS, ZNONODE, DriverFactory)
from conftest import wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "c", "zkdriver.c")
HEADER = "/usr/include/zookeeper/zookeeper.h"
CLI_MT = os.environ.get("CLI_MT", "/usr/lib/zookeeper/bin/cli_mt")


def _toolchain_missing():
    if not shutil.which("gcc"):
        return "gcc not installed (run tests/interop/install-clients.sh)"
    if not os.path.exists(HEADER):
        return "%s missing: libzookeeper-mt-dev not installed " \
               "(run tests/interop/install-clients.sh)" % HEADER
    return None


@pytest.fixture(scope="session")
def c_driver_bin():
    why = _toolchain_missing()
    if why:
        pytest.skip(why)
    out_dir = tempfile.mkdtemp(prefix="interop-cdriver-")
    binary = os.path.join(out_dir, "zkdriver")
    p = subprocess.run(["gcc", "-DTHREADED", "-Wall", "-O1", "-o", binary, SRC,
                        "-lzookeeper_mt"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, "gcc failed:\n" + p.stderr
    yield binary
    shutil.rmtree(out_dir, ignore_errors=True)


@pytest.fixture
def mk(c_driver_bin, shared_server):
    f = DriverFactory(lambda hosts: [c_driver_bin, hosts, "10000"], shared_server)
    yield f
    f.close_all()


@pytest.fixture
def croot(mk, request):
    d = mk(name="setup")
    path = "/c-%d-%s-%d" % (os.getpid(), re.sub(r"\W", "_", request.node.name)[:50],
                            int(time.monotonic() * 1000))
    d.ok("create %s - 0" % path)
    return path


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_c_client(scenario, mk, croot):
    SCENARIOS[scenario](mk, croot)


def test_c_wexists_missing_then_create_fires_created(mk, croot):
    """zoo_wexists on a missing node answers ZNONODE but leaves a watch;
    creating the node fires ZOO_CREATED_EVENT with state CONNECTED (3)."""
    d = mk()
    p = croot + "/x"
    d.err("wexists " + p, ZNONODE)
    mk(name="writer").ok("create %s x 0" % p)
    e = d.event()
    assert e.ok and e["type"] == CREATED and e["name"] == "ZOO_CREATED_EVENT", e.line
    assert e["state"] == 3 and e["path"] == p, e.line


def test_c_children2_stat(mk, croot):
    d = mk()
    c = d.ok("create2 %s/a x 0" % croot)
    r = d.ok("children2 " + croot)
    assert r.children == ["a"]
    assert r["pzxid"] == c["czxid"] and r["numChildren"] == 1 and r["cversion"] == 1


def test_c_create_ttl_and_container(mk, croot):
    """zoo_create2_ttl with ZOO_PERSISTENT_WITH_TTL (5) and ZOO_CONTAINER (4);
    needs extendedTypesEnabled=true (the fixtures set it)."""
    d = mk()
    t = d.ok("create %s/ttl x 5 open 60000" % croot)
    assert t["path"] == croot + "/ttl", t.line
    ts = d.ok("create %s/ttls- x 6 open 60000" % croot)  # PERSISTENT_SEQUENTIAL_WITH_TTL
    assert re.match(r".*/ttls-\d{10}$", ts["path"]), ts.line
    # a TTL mode without a TTL is invalid: the C client sends ttl=0 -> ZBADARGUMENTS
    d.err("create2 %s/ttl0 x 5" % croot, -8)
    c = d.ok("create2 %s/box x 4" % croot)
    assert c["path"] == croot + "/box"
    assert d.ok("get %s/box" % croot)["data"] == "x"


@pytest.mark.parametrize("mode,name,what", [(5, "ttl", "create2 TTL"), (4, "box", "container")])
def test_c_ttl_container_stat_owner(mk, croot, mode, name, what):
    """ZooKeeper shows ephemeralOwner 0 in every Stat of TTL and container
    nodes (DataNode.copyStat -> getClientEphemeralOwner): the internal marker
    (0xFF.. | ttl, 0x8000000000000000) never reaches the client."""
    d = mk()
    ttl = " open 60000" if mode == 5 else ""
    c = d.ok("create2 %s/%s x %d%s" % (croot, name, mode, ttl))
    owners = {"create2": c["ephemeralOwner"],
              "get": d.ok("get %s/%s" % (croot, name))["ephemeralOwner"],
              "exists": d.ok("exists %s/%s" % (croot, name))["ephemeralOwner"],
              "set": d.ok("set %s/%s y -1" % (croot, name))["ephemeralOwner"]}
    assert owners == {"create2": 0, "get": 0, "exists": 0, "set": 0}, \
        "%s: ephemeralOwner per answer: %s" % (what, {k: hex(v & (2**64 - 1))
                                                      for k, v in owners.items()})


def _cli_mt_missing():
    if not os.path.exists(CLI_MT):
        return "%s missing: zookeeper-bin not installed " \
               "(run tests/interop/install-clients.sh)" % CLI_MT
    return None


def test_cli_mt_batch_commands(shared_server, mk, croot):
    """cli_mt -c runs one command and exits."""
    why = _cli_mt_missing()
    if why:
        pytest.skip(why)
    d = mk()
    d.ok("create %s/one 1 0" % croot)
    d.ok("create %s/two 2 0" % croot)
    p = subprocess.run([CLI_MT, "-h", shared_server.hosts, "-c", "ls " + croot],
                       capture_output=True, text=True, timeout=30)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "one" in out and "two" in out, out
    p = subprocess.run([CLI_MT, "-h", shared_server.hosts, "-c", "get %s/two" % croot],
                       capture_output=True, text=True, timeout=30)
    out = p.stdout + p.stderr
    assert p.returncode == 0 and re.search(r"rc = 0", out), out


def test_cli_mt_scripted_session(shared_server, mk, croot):
    """An interactive cli_mt session fed from stdin: create, set, get, ls,
    addauth + create with the creator ACL, delete, quit."""
    why = _cli_mt_missing()
    if why:
        pytest.skip(why)
    # cli_mt answers through completions, asynchronously: each command is
    # sent once the previous one's answer is in, and every command must
    # answer rc = 0 (exists prints nothing when it succeeds: the answer of
    # the command after it shows it returned; the last one must be -101).
    P = re.escape(croot)
    steps = [
        ("create %s/s" % croot, r"\[%s/s\]: rc = 0\n" % P),
        ("create +e %s/eph" % croot, r"\[%s/eph\]: rc = 0\n" % P),
        ("set %s/s world" % croot, r"%s/s: rc = 0 Stat:" % P),
        ("get %s/s" % croot, r"%s/s: rc = 0\n value_len = 5\nworld\n" % P),
        ("ls %s" % croot, r"%s: rc = 0\n(?=(?:\t\S+\n)*\ts\n)(?=(?:\t\S+\n)*\teph\n)" % P),
        ("exists %s/s" % croot, None),
        ("delete %s/s" % croot, r"%s/s: rc = 0\n" % P),
        ("exists %s/s" % croot, r"Error -101 for %s/s\n" % P),
    ]
    proc = subprocess.Popen([CLI_MT, "-h", shared_server.hosts], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = []

    def reader():
        for chunk in iter(lambda: os.read(proc.stdout.fileno(), 65536), b""):
            out.append(chunk.decode("utf-8", "replace"))
    t = threading.Thread(target=reader, daemon=True)
    t.start()

    def text():
        return "".join(out)
    try:
        wait_until(lambda: "CONNECTED_STATE" in text(), 30, what="cli_mt connected")
        for line, answer in steps:
            mark = len(text())
            proc.stdin.write(line.encode() + b"\n")
            proc.stdin.flush()
            if answer is None:
                continue
            wait_until(lambda: re.search(answer, text()[mark:]), 30,
                       what="cli_mt's answer to %r in:\n%s" % (line, text()[mark:]))
            # the answer is this command's, and nothing before it failed
            assert not re.search(r"rc = -|Error -", text()[mark:]) or \
                line.startswith("exists"), text()
        proc.stdin.write(b"quit\n")
        proc.stdin.flush()
        proc.wait(20)
        t.join(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    # every command but the last exists answered rc 0, the last exists -101
    assert len(re.findall(r"rc = 0", text())) == 6, text()
    assert re.findall(r"rc = -\d+|Error -\d+", text()) == ["Error -101"], text()
    d = mk()
    d.err("exists %s/s" % croot, ZNONODE)
    # the ephemeral went away with cli_mt's session
    d.err("exists %s/eph" % croot, ZNONODE)
