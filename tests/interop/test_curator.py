"""Interop with Apache Curator 5.4 (framework + recipes) over the real Java
ZooKeeper client, both from Debian (libcurator-*-java, libzookeeper-java).
java/CuratorInterop.java is compiled once per session with javac; each
scenario runs in its own JVM against the module's shared server."""
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "java", "CuratorInterop.java")
JAVA_DIR = os.environ.get("JAVA_SHARE", "/usr/share/java")
JARS = ["curator-client.jar", "curator-framework.jar", "curator-recipes.jar",
        "zookeeper.jar", "zookeeper-jute.jar", "guava.jar", "slf4j-api.jar", "slf4j-nop.jar"]

SCENARIOS = ["connection_state", "crud", "create_modes", "ttl", "containers", "transaction",
             "watches", "acl_digest", "ephemeral_close", "mutex", "leader_latch",
             "curator_cache", "shared_count", "persistent_node"]


def _classpath():
    return ":".join(os.path.join(JAVA_DIR, j) for j in JARS)


@pytest.fixture(scope="session")
def curator_classes():
    for tool in ("javac", "java"):
        if not shutil.which(tool):
            pytest.skip("%s not installed (run tests/interop/install-clients.sh)" % tool)
    missing = [j for j in JARS if not os.path.exists(os.path.join(JAVA_DIR, j))]
    if missing:
        pytest.skip("jars missing from %s: %s (run tests/interop/install-clients.sh)"
                    % (JAVA_DIR, ", ".join(missing)))
    out = tempfile.mkdtemp(prefix="interop-curator-")
    p = subprocess.run(["javac", "-d", out, "-cp", _classpath(), SRC],
                       capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, "javac failed:\n" + p.stdout + p.stderr
    yield out + ":" + _classpath()
    shutil.rmtree(out, ignore_errors=True)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_curator(scenario, curator_classes, shared_server):
    root = "/curator-%d-%s-%d" % (os.getpid(), scenario, int(time.monotonic() * 1000))
    try:
        p = subprocess.run(["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                            "-cp", curator_classes, "CuratorInterop",
                            shared_server.hosts, root, scenario],
                           capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired as e:
        pytest.fail("Curator scenario %s timed out after 90s; output so far:\n%s"
                    % (scenario, (e.stdout or b"").decode("utf-8", "replace")
                       if isinstance(e.stdout, bytes) else e.stdout))
    out = p.stdout + ("\n--- stderr ---\n" + p.stderr if p.stderr.strip() else "")
    assert p.returncode == 0 and re.search(r"^PASS %s$" % scenario, p.stdout, re.M), out
