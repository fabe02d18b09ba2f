"""deploy/docker-entrypoint.sh, run outside a container with the ZooKeeper
Docker tutorial's variables, writes the zoo.cfg and myid the tutorial's
run.sh (tests/fixtures/deploy/tutorial-run.sh) writes; bad variables stop
it with a clear message and nothing started. Needs no server."""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import REPO

ENTRYPOINT = os.path.join(REPO, "deploy", "docker-entrypoint.sh")
TUTORIAL = os.path.join(REPO, "tests", "fixtures", "deploy", "tutorial-run.sh")
HOSTS = "zookeeper1,zookeeper2,zookeeper3"


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="entrypoint-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def run(script, env, args=()):
    return subprocess.run(["sh", script] + list(args), env=env, capture_output=True,
                          timeout=10, stdin=subprocess.DEVNULL)


def read(path):
    with open(path) as f:
        return f.read()


@pytest.mark.parametrize("server_id", ["1", "2", "3"])
def test_entrypoint_writes_what_the_tutorial_writes(workdir, server_id):
    base = {"PATH": os.environ["PATH"], "SERVER_ID": server_id,
            "ZOOKEEPER_CONNECT": HOSTS}
    # Both scripts write the same dataDir path into zoo.cfg, so each run
    # gets the same path in turn; the files are compared after each run.
    data = os.path.join(workdir, "zookeeper")
    tutorial_cfg = os.path.join(workdir, "tutorial.cfg")
    ours_cfg = os.path.join(workdir, "paddock.cfg")

    tutorial = run(TUTORIAL, dict(base, TUTORIAL_CFG=tutorial_cfg, TUTORIAL_DATA=data))
    assert tutorial.returncode == 0, tutorial.stderr
    tutorial_myid = read(os.path.join(data, "myid"))
    shutil.rmtree(data)

    # `true` stands in for the server the entrypoint would exec.
    ours = run(ENTRYPOINT, dict(base, PADDOCK_CONF=ours_cfg, PADDOCK_DATA_DIR=data),
               ["true"])
    assert ours.returncode == 0, ours.stderr
    assert read(ours_cfg) == read(tutorial_cfg)
    assert read(os.path.join(data, "myid")) == tutorial_myid == server_id + "\n"
    assert read(ours_cfg).splitlines()[-3:] == [
        "server.1=zookeeper1:2888:3888",
        "server.2=zookeeper2:2888:3888",
        "server.3=zookeeper3:2888:3888",
    ]
    # It prints the config, as run.sh does.
    assert ours.stdout == tutorial.stdout


def test_entrypoint_adds_a_data_log_dir_when_asked(workdir):
    cfg = os.path.join(workdir, "zoo.cfg")
    log_dir = os.path.join(workdir, "log")
    env = {"PATH": os.environ["PATH"], "SERVER_ID": "2", "ZOOKEEPER_CONNECT": HOSTS,
           "PADDOCK_CONF": cfg, "PADDOCK_DATA_DIR": os.path.join(workdir, "data"),
           "PADDOCK_DATA_LOG_DIR": log_dir}
    result = run(ENTRYPOINT, env, ["true"])
    assert result.returncode == 0, result.stderr
    assert "dataLogDir=%s\n" % log_dir in read(cfg)
    assert os.path.isdir(log_dir)


@pytest.mark.parametrize("env, message", [
    ({"ZOOKEEPER_CONNECT": HOSTS}, "SERVER_ID is not set"),
    ({"SERVER_ID": "1"}, "ZOOKEEPER_CONNECT is not set"),
    ({"SERVER_ID": "one", "ZOOKEEPER_CONNECT": HOSTS}, "SERVER_ID must be a number"),
    ({"SERVER_ID": "4", "ZOOKEEPER_CONNECT": HOSTS}, "lists 3 host(s)"),
])
def test_entrypoint_refuses_bad_variables(workdir, env, message):
    marker = os.path.join(workdir, "started")
    full = {"PATH": os.environ["PATH"], "PADDOCK_CONF": os.path.join(workdir, "zoo.cfg"),
            "PADDOCK_DATA_DIR": os.path.join(workdir, "data")}
    full.update(env)
    result = run(ENTRYPOINT, full, ["touch", marker])
    assert result.returncode == 2
    assert message in result.stderr.decode()
    assert not os.path.exists(marker)


def test_seccomp_profile_allows_io_uring():
    with open(os.path.join(REPO, "deploy", "seccomp-io_uring.json")) as f:
        profile = json.load(f)
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    allowed = set()
    for rule in profile["syscalls"]:
        if rule["action"] == "SCMP_ACT_ALLOW" and not rule.get("includes") \
                and not rule.get("args"):
            allowed.update(rule["names"])
    for name in ("io_uring_setup", "io_uring_enter", "io_uring_register",
                 # what the server needs besides
                 "epoll_wait", "fdatasync", "mmap", "msync", "sched_setaffinity"):
        assert name in allowed, name


def test_entrypoint_starts_a_server_status_can_see(workdir):
    """One host: the tutorial's single server.1 line is standalone (as in
    ZooKeeper with standaloneEnabled); the entrypoint execs paddock and
    `paddock status` finds it on the tutorial's port 2181."""
    import signal
    import time
    from opshelp import in_netns_of, in_private_netns, paddock_bin
    # The entrypoint writes clientPort=2181: the server runs in a network
    # namespace of its own, where 2181 is free (no race with other tests),
    # and `paddock status` looks for it there.
    bin_dir = os.path.join(workdir, "bin")
    os.makedirs(bin_dir)
    os.symlink(paddock_bin(), os.path.join(bin_dir, "paddock"))
    cfg = os.path.join(workdir, "zoo.cfg")
    env = {"PATH": bin_dir + ":" + os.environ["PATH"], "SERVER_ID": "1",
           "ZOOKEEPER_CONNECT": "localhost", "PADDOCK_CONF": cfg,
           "PADDOCK_DATA_DIR": os.path.join(workdir, "data")}
    log = open(os.path.join(workdir, "server.log"), "wb")
    proc = subprocess.Popen(in_private_netns(["sh", ENTRYPOINT]), env=env, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        status_cmd = in_netns_of(proc.pid, [paddock_bin(), "status", "--config", cfg])
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            status = subprocess.run(status_cmd, capture_output=True, timeout=15)
            if status.returncode == 0:
                break
            time.sleep(0.2)
        assert proc.poll() is None, read(os.path.join(workdir, "server.log"))
        assert status is not None and status.returncode == 0, status
        assert status.stdout.decode().splitlines()[-1] == "Mode: standalone"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        log.close()
