"""Helpers for test_operations.py: a Server that can take JVM flags / an
environment (SASL via SERVER_JVMFLAGS), config lines in a fixed order, and
direct access to the paddock binary for command-line tests."""
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time

import conftest
from conftest import Server, is_zookeeper, REPO


def paddock_bin():
    binary = os.environ.get("PADDOCK_BIN", "target/release/paddock")
    if not os.path.isabs(binary):
        binary = os.path.join(REPO, binary)
    return binary


class OpsServer(Server):
    """conftest.Server plus: ``env`` for the server process (paddock reads
    SERVER_JVMFLAGS itself; for ZooKeeper the flags go on the java command
    line, as zkServer.sh does) and ``jvm_flags`` shortcut."""

    def __init__(self, extra_cfg=None, env=None, **kw):
        self.env = dict(env or {})
        super().__init__(extra_cfg=extra_cfg, **kw)

    def command(self):
        cmd = super().command()
        if is_zookeeper():
            flags = self.env.get("SERVER_JVMFLAGS", "").split()
            if flags:
                cmd = cmd[:1] + flags + cmd[1:]
        return cmd

    def start(self, timeout=conftest.START_DEADLINE):
        assert self.proc is None or self.proc.poll() is not None
        self._log = open(self.log_path, "ab")
        self._log.write(b"\n==== start #%d ====\n" % self.starts)
        self._log.flush()
        self.starts += 1
        env = dict(os.environ)
        env.update(self.env)
        self.proc = subprocess.Popen(self.command(), stdout=self._log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.dir,
                                     start_new_session=True, env=env)
        self.wait_ready(timeout)
        return self

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def rewrite_cfg(self):
        with open(self.cfg_path, "w") as f:
            for k, v in self.cfg.items():
                f.write("%s=%s\n" % (k, v))


class Servers:
    """Fixture object: make OpsServers, clean them all up."""

    def __init__(self):
        self.servers = []

    def __call__(self, extra_cfg=None, start=True, **kw):
        s = OpsServer(extra_cfg=extra_cfg, **kw)
        self.servers.append(s)
        if start:
            s.start()
        return s

    def cleanup(self):
        for s in self.servers:
            s.cleanup()


def run_paddock(args, cwd, timeout=10.0, env=None):
    """Run the paddock binary to completion (it must exit by itself)."""
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([paddock_bin()] + args, cwd=cwd, capture_output=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env=e)


def in_private_netns(cmd):
    """``cmd`` in a network namespace of its own (loopback only, up), for
    tests of the fixed default port 2181: there the port is free whatever
    else runs on this host, parallel xdist workers included. unshare execs,
    so the Popen's pid is ``cmd``'s. Needs root, as the partition tests."""
    if os.geteuid() != 0:
        raise RuntimeError("a private network namespace (unshare --net) needs root "
                           "(running as uid %d)" % os.geteuid())
    return ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"',
            "sh"] + list(cmd)


def in_netns_of(pid, cmd, timeout=10.0):
    """``cmd`` in the network namespace of process ``pid`` (nsenter), once
    that process has left this one: until its unshare has run, the pid is
    still in ours, and its 127.0.0.1:2181 would be someone else's."""
    ours = os.readlink("/proc/self/ns/net")
    path = "/proc/%d/ns/net" % pid
    conftest.wait_until(lambda: os.readlink(path) != ours, timeout,
                        what="process %d in a network namespace of its own" % pid)
    return ["nsenter", "--net=" + path, "--"] + list(cmd)


def tmpdir(prefix="ops-"):
    return tempfile.mkdtemp(prefix=prefix)


def digest(user, password):
    import base64
    import hashlib
    return base64.b64encode(hashlib.sha1(
        ("%s:%s" % (user, password)).encode()).digest()).decode()


# ---- paddock log segment format (see src/storage/mod.rs) ----

SEG_HEADER = 16
REC_HEADER = 16


def paddock_records(path):
    """[(offset, total_len_with_pad, zxid)] of the records in a segment."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"PDLG", "not a paddock log segment: %s" % path
    out = []
    off = SEG_HEADER
    while off + REC_HEADER <= len(data):
        ln, _crc, zxid = struct.unpack_from("<IIq", data, off)
        if ln == 0:
            break
        size = 8 + ln  # len|crc + (zxid+payload)
        size = (size + 7) // 8 * 8
        out.append((off, size, zxid))
        off += size
    return out, off


def newest_log(dirpath):
    logs = sorted(f for f in os.listdir(dirpath) if f.startswith("log.")
                  and not f.endswith(".truncated"))
    assert logs, "no log.* file in %s: %s" % (dirpath, os.listdir(dirpath))
    return os.path.join(dirpath, logs[-1])


def wait_exit(proc, timeout):
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        raise


def copytree(src, dst):
    shutil.copytree(src, dst)
