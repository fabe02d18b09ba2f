"""SNAP sync between real processes (issue 17): trees big enough that the
SNAP body spans many reads of the quorum socket.

* a paddock follower whose dataDir/version-2 (and log) were wiped rejoins a
  loaded ensemble by SNAP and ends with the leader's tree, path for path,
  value for value, Stat for Stat;
* a follower killed with kill -9 in the middle of a SNAP restarts and syncs;
* the leader killed in the middle of a SNAP leaves the follower LOOKING (not
  wedged): the two others elect and it syncs from the new leader;
* mixed: paddock joins a loaded Apache ZooKeeper 3.8 ensemble by SNAP, and a
  ZooKeeper follower syncs by SNAP from a paddock leader.

Trees are loaded by the project's own load generator (target/release/
paddock-loadgen, built by `cargo build --release --workspace`): its setup
creates ``--keys`` nodes ``<root>/k/<i>`` of ``--data-bytes`` on one session
with 512 creates in flight (100k x 1 KiB in about 6 s on a 2-core machine).
Trees are compared by a pipelined raw-protocol dump (getData + getChildren
of every node from "/", on one server asked alone after a sync): every path,
its data, its Stat (all 11 fields) and its children.

"Mid-SNAP": the leader's log shows the SNAP (paddock: "syncing the learner on
quorum connection N by SNAP", logged once the body is serialized;
ZooKeeper: "Sending snapshot") and the learner's connection to the leader's
quorum port has received 16 MiB (``ss -tnpi`` bytes_received) of a body of
~110 MB; after the kill the test checks the learner had not finished it
(paddock: "installed the leader's snapshot"; ZooKeeper: NEWLEADER).

Sizes: SNAP_ZNODES (default 100000) znodes of 1 KiB between paddock servers
(a ~110 MB SNAP body), SNAP_MIXED_ZNODES (default 50000) where ZooKeeper
takes part (its JVM runs with -Xmx512m here); SNAP_TEST_TIMEOUT (900 s)
bounds each test. At 1M (~1.1 GB per server, ~4 min a test, run one at a
time): SNAP_ZNODES=1000000 SNAP_TEST_TIMEOUT=3000 pytest test_ensemble_snap.py
-k "wiped or killed". PADDOCK_SERVER=zookeeper runs every seat as ZooKeeper
(the harness checked against ZooKeeper itself). Every wait has a deadline.
"""
import os
import re
import shutil
import struct
import subprocess
import time

import pytest

import rawzk
from conftest import REPO
from ensemble import default_kind, ensembles  # noqa: F401

ZNODES = int(os.environ.get("SNAP_ZNODES", "100000"))
MIXED_ZNODES = int(os.environ.get("SNAP_MIXED_ZNODES", "50000"))
DATA_BYTES = int(os.environ.get("SNAP_DATA_BYTES", "1024"))
ROOT = "/snap"
SYNC_DEADLINE = 240.0
# per test; raise it with the sizes (SNAP_ZNODES=1000000 SNAP_TEST_TIMEOUT=3000)
TEST_TIMEOUT = float(os.environ.get("SNAP_TEST_TIMEOUT", "900"))

# What each kind logs when it syncs a learner by SNAP (leader side) and when
# it has the leader's snapshot (learner side).
LEADER_SNAP = {
    "paddock": re.compile(r"syncing the learner on quorum connection \d+ by SNAP"),
    "zookeeper": re.compile(r"Sending snapshot last zxid of peer is"),
}
LEARNER_SNAP = {
    "paddock": re.compile(r"installed the leader's snapshot at 0x[0-9a-f]+ \((\d+) znodes\)"),
    "zookeeper": re.compile(r"Getting a snapshot from leader"),
}
# /zookeeper/config is each server's own: ZooKeeper writes it at start from
# its own zoo.cfg with its own clock as mtime (two ZooKeeper servers of one
# ensemble differ there), paddock leaves it empty; it is not compared where
# ZooKeeper takes part (paddock-only ensembles compare it too). Everything
# else is.
SERVER_LOCAL = ("/zookeeper/config",)
# the learner has the whole SNAP (ZooKeeper logs "Getting a snapshot" as the
# body starts, and NEWLEADER follows the body)
LEARNER_SNAP_DONE = {
    "paddock": LEARNER_SNAP["paddock"],
    "zookeeper": re.compile(r"Learner received NEWLEADER message"),
}
BAD_SNAP = re.compile(r"bad SNAP body|does not load")


def loadgen_bin():
    b = os.environ.get("LOADGEN", "target/release/paddock-loadgen")
    return b if os.path.isabs(b) else os.path.join(REPO, b)


# ---------------------------------------------------------------- load

def load_tree(member, count, data_bytes=DATA_BYTES, root=ROOT,
              timeout=max(600, TEST_TIMEOUT / 2)):
    """``count`` znodes ``root/k/<i>`` of ``data_bytes`` bytes each, created
    through ``member`` by paddock-loadgen's pipelined setup (then 1 s of
    gets, its shortest run). Bounded in count; the loadgen's own deadline
    (warmup + duration + grace) and ours bound the time."""
    binary = loadgen_bin()
    assert os.path.exists(binary), "%s missing: cargo build --release --workspace" % binary
    grace = int(timeout) - 10
    cmd = [binary, "--hosts", member.hosts, "--workload", "get", "--keys", str(count),
           "--data-bytes", str(data_bytes), "--root", root, "--sessions", "1",
           "--inflight", "1", "--warmup", "0", "--duration", "1", "--grace", str(grace),
           "--quiet", "--session-timeout", "30000"]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, "loadgen failed (%d): %s\n%s" % (p.returncode, " ".join(cmd),
                                                               (p.stdout + p.stderr)[-2000:])
    return time.monotonic() - t0


# ---------------------------------------------------------------- dump

class _Pipe:
    """Pipelined requests on one raw session: up to ``window`` in flight,
    replies read in order."""

    def __init__(self, member, timeout=30.0):
        self.zk = rawzk.RawZK(member.port, host=member.host, timeout=timeout)
        self.zk.connect(timeout_ms=30000)
        self.timeout = timeout

    def close(self):
        self.zk.close()

    def sync(self, path="/"):
        rep = self.zk.request(rawzk.SYNC, rawzk.Writer().string(path).bytes())
        assert rep.err == 0, "sync: error %d" % rep.err

    def run(self, reqs, window=1000):
        """reqs: [(op, body)]; returns [(err, body)] in order."""
        out = []
        sent = 0
        pending = []
        while len(out) < len(reqs):
            batch = []
            while sent < len(reqs) and len(pending) < window:
                op, body = reqs[sent]
                xid = self.zk.next_xid()
                payload = struct.pack(">ii", xid, op) + body
                batch.append(struct.pack(">i", len(payload)) + payload)
                pending.append(xid)
                sent += 1
            if batch:
                self.zk.send_raw(b"".join(batch))
            # read half a window before sending more
            target = max(1, len(pending) // 2) if sent < len(reqs) else len(pending)
            for _ in range(target):
                xid = pending.pop(0)
                rep = self.zk.read_reply(xid, timeout=self.timeout)
                out.append((rep.err, rep.body))
        return out


def _stat_tuple(r):
    s = r.stat()
    return tuple(s[k] for k in ("czxid", "mzxid", "ctime", "mtime", "version", "cversion",
                                "aversion", "ephemeralOwner", "dataLength", "numChildren",
                                "pzxid"))


def dump(member, timeout=max(300.0, TEST_TIMEOUT / 4)):
    """{path: (data, stat 11-tuple, sorted children)} of the whole tree as
    ``member`` alone has it, after a sync. The tree must not change while
    it runs (a node gone between getChildren and getData fails the dump)."""
    deadline = time.monotonic() + timeout
    p = _Pipe(member)
    try:
        p.sync("/")
        tree = {}
        level = ["/"]
        while level:
            assert time.monotonic() < deadline, "dump of %r took over %.0fs" % (member, timeout)
            reqs = []
            for path in level:
                w = rawzk.Writer().string(path).bool(False).bytes()
                reqs.append((rawzk.GETDATA, w))
                reqs.append((rawzk.GETCHILDREN, w))
            reps = p.run(reqs)
            nxt = []
            for i, path in enumerate(level):
                (e1, b1), (e2, b2) = reps[2 * i], reps[2 * i + 1]
                assert e1 == 0 and e2 == 0, "%r: %s: errors %d/%d" % (member, path, e1, e2)
                r = rawzk.Reader(b1)
                data = r.buffer()
                stat = _stat_tuple(r)
                r = rawzk.Reader(b2)
                kids = sorted(r.string() for _ in range(r.int()))
                tree[path] = (data, stat, kids)
                base = path if path != "/" else ""
                nxt.extend(base + "/" + k for k in kids)
            level = nxt
        return tree
    finally:
        p.close()


def assert_same_tree(ref, got, what, skip=()):
    """Every path of ``ref`` in ``got`` with the same data, Stat and
    children, and nothing more; paths under ``skip`` prefixes left out."""
    def keep(p):
        return not any(p == s or p.startswith(s + "/") for s in skip)
    rk = {p for p in ref if keep(p)}
    gk = {p for p in got if keep(p)}
    missing, extra = sorted(rk - gk), sorted(gk - rk)
    assert not missing and not extra, "%s: %d paths missing (e.g. %s), %d extra (e.g. %s)" % (
        what, len(missing), missing[:5], len(extra), extra[:5])
    diff = [p for p in sorted(rk) if ref[p] != got[p]]
    if diff:
        p = diff[0]
        raise AssertionError("%s: %d of %d nodes differ; first %s:\n  leader   %r\n  follower %r"
                             % (what, len(diff), len(rk), p,
                                (ref[p][0][:40] if ref[p][0] else ref[p][0],) + ref[p][1:2]
                                + (len(ref[p][2]),),
                                (got[p][0][:40] if got[p][0] else got[p][0],) + got[p][1:2]
                                + (len(got[p][2]),)))


def check_loaded(tree, count, data_bytes=DATA_BYTES, root=ROOT):
    """The dump holds the ``count`` loaded znodes with their data size."""
    kids = tree[root + "/k"][2]
    assert len(kids) == count, "%s/k has %d children, loaded %d" % (root, len(kids), count)
    # (test (a) changes /snap/k/0 and /snap/k/1 after the load)
    sizes = {len(tree["%s/k/%s" % (root, k)][0] or b"") for k in kids if k not in ("0", "1")}
    assert sizes == {data_bytes}, sizes


# ---------------------------------------------------------------- logs

class LogMark:
    """A position in a member's log: what was written after it."""

    def __init__(self, member):
        self.member = member
        self.pos = len(member.log_text())

    def text(self):
        return self.member.log_text()[self.pos:]

    def search(self, rx):
        return rx.search(self.text())

    def count(self, rx):
        return len(rx.findall(self.text()))


def wait_log(mark, rx, timeout, what, interval=0.01):
    """Until ``rx`` appears in the log after ``mark`` (polled every 10 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if mark.search(rx):
            return
        mark.member.check_running()
        time.sleep(interval)
    raise TimeoutError("no %r (%s) in %r's log within %.0fs; tail:\n%s"
                       % (rx.pattern, what, mark.member, timeout, mark.member.log_tail(40)))


def bytes_from_leader(member, leader):
    """bytes_received (ss -i) on ``member``'s connections to ``leader``'s
    quorum port: what the kernel took in of the SNAP body."""
    out = subprocess.run(["ss", "-Htnpi", "state", "established",
                          "( dport = :%d )" % leader.quorum_port],
                         capture_output=True, text=True, timeout=10).stdout
    total, mine = 0, False
    for line in out.splitlines():
        if not line[:1].isspace():
            mine = ("pid=%d," % member.pid) in line
        elif mine:
            m = re.search(r"bytes_received:(\d+)", line)
            total += int(m.group(1)) if m else 0
    return total


# 16 MiB received of a ~110 MB (paddock) or ~55 MB (mixed) body: more than
# the socket buffers hold, so the learner is decoding it, and far from done
MID_SNAP_BYTES = 16 << 20


def wait_receiving(member, leader, nbytes, what, timeout=SYNC_DEADLINE):
    """Until ``member`` has received ``nbytes`` from ``leader``'s quorum port:
    the kill that follows lands inside the SNAP body."""
    deadline = time.monotonic() + timeout
    got = 0
    while time.monotonic() < deadline:
        member.check_running()
        leader.check_running()
        got = bytes_from_leader(member, leader)
        if got >= nbytes:
            return got
        time.sleep(0.002)
    raise TimeoutError("%s: %r received %d bytes (< %d) in %.0fs"
                       % (what, member, got, nbytes, timeout))


def wipe(member):
    """Delete the member's dataDir/version-2 (and dataLogDir's, if one is
    set): it restarts with nothing but its myid."""
    assert not member.alive()
    for d in {member.data_dir, member.ens.extra_cfg.get("dataLogDir", member.data_dir)}:
        shutil.rmtree(os.path.join(d, "version-2"), ignore_errors=True)
    left = sorted(os.listdir(member.data_dir))
    assert left == ["myid"], left


def rejoin_by_snap(e, sid, leader, timeout=SYNC_DEADLINE):
    """Start ``sid`` (already stopped, state as left) and wait until it
    follows; the leader's log must show a SNAP to it and the follower's
    that it has the snapshot, with no bad SNAP body on either side."""
    lm, fm = LogMark(e[leader]), LogMark(e[sid])
    e[sid].start()
    e.wait_mode(sid, ["follower"], timeout=timeout)
    e.wait_for_leader(timeout=timeout)
    assert lm.search(LEADER_SNAP[e[leader].kind]), \
        "leader %d did not sync server %d by SNAP:\n%s" % (leader, sid, lm.text()[-3000:])
    assert fm.search(LEARNER_SNAP[e[sid].kind]), \
        "server %d logged no SNAP install:\n%s" % (sid, fm.text()[-3000:])
    for m in (lm, fm):
        assert not m.search(BAD_SNAP), "%r: %s" % (m.member, m.search(BAD_SNAP).group(0))
    return lm, fm


def write_after(e, sid, leader, tag):
    """A write through the synced server, read on the leader: it serves and
    its writes go through the quorum."""
    c = e[sid].client()
    c.create("%s/after-%s" % (ROOT, tag), b"written through %d" % sid)
    assert e.get_alone(leader, "%s/after-%s" % (ROOT, tag)) == b"written through %d" % sid
    c.stop()


def compare_all(e, ref_sid, sids, count):
    skip = SERVER_LOCAL if any(m.kind == "zookeeper" for m in e.all()) else ()
    ref = dump(e[ref_sid])
    check_loaded(ref, count)
    for sid in sids:
        if sid != ref_sid:
            assert_same_tree(ref, dump(e[sid]), "server %d against server %d" % (sid, ref_sid),
                             skip=skip)
    return ref


def _paddock_only():
    return [default_kind()] * 3


# ---------------------------------------------------------------- tests

@pytest.mark.timeout(TEST_TIMEOUT)
def test_wiped_follower_rejoins_by_snap(ensembles):
    """(a) 100k znodes × 1 KiB; a follower stopped, its version-2 wiped,
    restarted: SNAP, serves, the leader's tree exactly."""
    e = ensembles(n=3, kinds=_paddock_only())
    leader = e.start()
    load_tree(e[leader], ZNODES)
    f = e.followers()[0]
    e.stop(f)
    wipe(e[f])
    # a few more writes while it is away (the SNAP is of a tree that moved)
    c = e[leader].client()
    c.set(ROOT + "/k/0", b"changed while server %d was away" % f)
    c.delete(ROOT + "/k/1")
    c.create(ROOT + "/k/1", b"recreated")
    c.stop()
    rejoin_by_snap(e, f, leader)
    write_after(e, f, leader, "a")
    compare_all(e, leader, e.ids(), ZNODES)


@pytest.mark.timeout(TEST_TIMEOUT)
def test_follower_killed_mid_snap_restarts_and_syncs(ensembles):
    """(b) a follower killed with kill -9 while the leader sends it a SNAP
    (its log shows no install yet), restarted as it was left: syncs."""
    e = ensembles(n=3, kinds=_paddock_only())
    leader = e.start()
    load_tree(e[leader], ZNODES)
    f = e.followers()[0]
    e.stop(f)
    wipe(e[f])
    lm, fm = LogMark(e[leader]), LogMark(e[f])
    e[f].start()
    wait_log(lm, LEADER_SNAP[e[leader].kind], SYNC_DEADLINE, "the leader starts a SNAP")
    got = wait_receiving(e[f], e[leader], MID_SNAP_BYTES, "server %d receives the SNAP body" % f)
    e.kill9(f)
    print("kill -9 of server %d with server %d %d bytes into the SNAP" % (f, f, got))
    installed = fm.search(LEARNER_SNAP_DONE[e[f].kind])
    assert not installed, ("server %d installed the SNAP before the kill landed (not mid-SNAP): "
                           "%s" % (f, installed.group(0)))
    rejoin_by_snap(e, f, leader)
    write_after(e, f, leader, "b")
    compare_all(e, leader, e.ids(), ZNODES)


@pytest.mark.timeout(TEST_TIMEOUT)
def test_leader_killed_mid_snap_follower_syncs_from_the_next(ensembles):
    """(c) the leader killed with kill -9 while it sends a SNAP: the
    follower being synced goes back to LOOKING, the two left elect (the one
    with the tree leads), it syncs from the new leader; the old leader
    rejoins and all three hold one tree."""
    e = ensembles(n=3, kinds=_paddock_only())
    leader = e.start()
    load_tree(e[leader], ZNODES)
    f = e.followers()[0]
    other = [s for s in e.ids() if s not in (leader, f)][0]
    e.stop(f)
    wipe(e[f])
    lm, fm = LogMark(e[leader]), LogMark(e[f])
    om = LogMark(e[other])
    e[f].start()
    wait_log(lm, LEADER_SNAP[e[leader].kind], SYNC_DEADLINE, "the leader starts a SNAP")
    got = wait_receiving(e[f], e[leader], MID_SNAP_BYTES, "server %d receives the SNAP body" % f)
    e.kill9(leader)
    print("kill -9 of server %d with server %d %d bytes into the SNAP" % (leader, f, got))
    installed = fm.search(LEARNER_SNAP_DONE[e[f].kind])
    assert not installed, ("server %d installed the SNAP before the kill landed (not mid-SNAP): "
                           "%s" % (f, installed.group(0)))
    new = e.wait_for_leader(ids=[f, other], timeout=SYNC_DEADLINE)
    # the one holding the tree leads: a wiped server cannot win the vote
    assert new == other, "server %d (wiped) leads" % f
    assert om.search(LEADER_SNAP[e[other].kind]), \
        "new leader %d did not sync server %d by SNAP:\n%s" % (other, f, om.text()[-3000:])
    assert fm.search(LEARNER_SNAP[e[f].kind]), fm.text()[-3000:]
    for m in (om, fm):
        assert not m.search(BAD_SNAP), "%r: %s" % (m.member, m.search(BAD_SNAP).group(0))
    write_after(e, f, other, "c")
    e[leader].start()
    assert e.wait_for_leader(timeout=SYNC_DEADLINE) == other
    compare_all(e, other, e.ids(), ZNODES)


@pytest.mark.timeout(TEST_TIMEOUT)
def test_paddock_joins_a_loaded_zookeeper_ensemble_by_snap(ensembles):
    """(d) ZooKeeper 3.8 as servers 1 and 2 with snapshotSizeFactor=0 (no
    DIFF from the txn log), loaded; paddock starts empty as server 3 and
    is synced by SNAP from the ZooKeeper leader."""
    e = ensembles(n=3, kinds=["zookeeper", "zookeeper", default_kind()],
                  extra_cfg={"snapshotSizeFactor": "0"})
    leader = e.start(ids=[1, 2])
    load_tree(e[leader], MIXED_ZNODES)
    rejoin_by_snap(e, 3, leader)
    write_after(e, 3, leader, "d")
    compare_all(e, leader, e.ids(), MIXED_ZNODES)


@pytest.mark.timeout(TEST_TIMEOUT)
def test_zookeeper_follower_syncs_by_snap_from_a_paddock_leader(ensembles):
    """(d) paddock as servers 1 and 2 (one leads), loaded; ZooKeeper 3.8
    starts empty as server 3 and is synced by SNAP from the paddock leader."""
    e = ensembles(n=3, kinds=[default_kind(), default_kind(), "zookeeper"],
                  extra_cfg={"snapshotSizeFactor": "0"})
    leader = e.start(ids=[1, 2])
    load_tree(e[leader], MIXED_ZNODES)
    rejoin_by_snap(e, 3, leader)
    write_after(e, 3, leader, "d")
    compare_all(e, leader, e.ids(), MIXED_ZNODES)
