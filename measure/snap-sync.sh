#!/usr/bin/env bash
# measure/snap-sync.sh — how long an empty follower takes to come up by SNAP
# in a loaded 3-server ensemble, what the leader's memory does meanwhile and
# what write throughput the two other servers keep; paddock and Apache
# ZooKeeper 3.8 in the same run (issue 17, item 7).
#
#   measure/snap-sync.sh [OUTDIR]      (default /tmp/snap-sync-<date>)
#
# For each size (SIZES, default "100000 1000000" znodes of DATA_BYTES=1024)
# and each kind (KINDS, default "paddock zookeeper"), one after the other:
#   1. a fresh 3-server ensemble (measure/ensemble.py: tickTime=2000,
#      initLimit=10, syncLimit=5, the servers' defaults otherwise — paddock
#      and ZooKeeper both SNAP a learner whose history is this far behind),
#      loaded through the leader by paddock-loadgen's pipelined setup
#      (--keys N, one session, 512 creates in flight);
#      then it settles: until the three servers use under 0.3 CPU over a
#      second (their snapshots written), 5-SETTLE_MAX=120 s;
#   2. a bounded write load starts on the leader and the other follower
#      (LOAD_SESSIONS=4 sessions × LOAD_INFLIGHT=8 setData of DATA_BYTES on
#      1000 keys, closed loop; at most LOAD_MAX_SECS=900 s);
#   3. after BASE_SECS=5 s with all three up, one follower is stopped
#      (SIGTERM), its dataDir/version-2 deleted; DOWN_SECS=4 s later it is
#      started again, empty;
#   4. sync time = from its start to `srvr` saying "Mode: follower" (polled
#      every 50 ms; for ZooKeeper it includes the JVM's start, ~1 s); also
#      when the leader's log first shows the SNAP (paddock: "syncing the
#      learner ... by SNAP", ZooKeeper: "Sending snapshot"), seen by polling;
#   5. the leader's VmRSS sampled every 100 ms from the write load's start
#      to 5 s after the follower serves: median and max before the restart
#      (it moves with the leader's own snapshots), max during the sync; and
#      the synced follower's VmHWM;
#   6. write throughput = committed txns per second, from the leader's zxid
#      (`srvr`) at the edges of each window: all three up (before the stop),
#      one down (stopped, before the restart), during the sync (start ->
#      serving) and after; the loadgen's per-second lines are kept too.
# ZooKeeper runs as measure/ensemble.py runs it (Debian's zkServer.sh
# start-foreground, the JVM's default heap) plus slf4j-simple on its class
# path so that it logs (SERVER_JVMFLAGS). Every wait has a deadline. Progress goes to stderr; OUTDIR gets
# snap-sync.json, summary.md, the loadgen logs and the servers' logs.
#
# Env: SIZES, KINDS, DATA_BYTES, LOAD_SESSIONS, LOAD_INFLIGHT, LOAD_MAX_SECS,
# BASE_SECS, DOWN_SECS, SYNC_DEADLINE (900), SETTLE_MAX, BENCH_TMP (/var/tmp), PADDOCK_BIN,
# LOADGEN, ZKSERVER, KEEP=1 (keep data dirs). Ports: 23001-23003 (+100,
# +200) for ZooKeeper, 23501-23503 for paddock.
set -euo pipefail
cd "$(dirname "$0")/.."
. measure/lib.sh
out=${1:-/tmp/snap-sync-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
[ -x "$LOADGEN" ] || die "$LOADGEN missing: cargo build --release --workspace"
[ -x "$PADDOCK_BIN" ] || die "$PADDOCK_BIN missing: cargo build --release"
ulimit -l unlimited 2>/dev/null || log "could not raise the memlock limit (continuing): $(ulimit -l)"
log "SNAP sync: sizes ${SIZES:-100000 1000000}, kinds ${KINDS:-paddock zookeeper}, out $out"
log "machine: $(nproc) CPUs, $(free -g | awk '/^Mem:/{print $2}') GiB, load $(loadavg), paddock $(git rev-parse --short HEAD)"
# private copies: a rebuild of the shared target dir during the run must not
# change the binary a restarted follower runs
cp "$PADDOCK_BIN" "$out/paddock" && PADDOCK_BIN=$out/paddock
cp "$LOADGEN" "$out/paddock-loadgen" && LOADGEN=$out/paddock-loadgen
export LOADGEN PADDOCK_BIN ZKSERVER BENCH_TMP
exec python3 - "$out" <<'EOF'
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.getcwd(), "measure"))
from ensemble import CLK_TCK, Ensemble, cpu_ticks, log, mode_of, srvr, zxid_of  # noqa: E402

OUT = sys.argv[1]
SIZES = [int(x) for x in os.environ.get("SIZES", "100000 1000000").split()]
KINDS = os.environ.get("KINDS", "paddock zookeeper").split()
DATA_BYTES = int(os.environ.get("DATA_BYTES", "1024"))
LOAD_SESSIONS = os.environ.get("LOAD_SESSIONS", "4")
LOAD_INFLIGHT = os.environ.get("LOAD_INFLIGHT", "8")
LOAD_MAX_SECS = int(os.environ.get("LOAD_MAX_SECS", "900"))
BASE_SECS = float(os.environ.get("BASE_SECS", "5"))
DOWN_SECS = float(os.environ.get("DOWN_SECS", "4"))
SYNC_DEADLINE = float(os.environ.get("SYNC_DEADLINE", "900"))
SETTLE_MAX = float(os.environ.get("SETTLE_MAX", "120"))
LOADGEN = os.environ["LOADGEN"]
PORT_BASE = {"zookeeper": 23000, "paddock": 23500}
LEADER_SNAP = {"paddock": "by SNAP", "zookeeper": "Sending snapshot"}
# Debian's zkServer.sh runs ZooKeeper with no slf4j binding (it logs
# nothing); the SNAP has to be seen in its log, so slf4j-simple goes on its
# class path (the JVM takes the last -cp; SERVER_JVMFLAGS follows zkEnv's)
_SIMPLE = "/usr/share/java/slf4j-simple.jar"
if "SERVER_JVMFLAGS" not in os.environ and os.path.exists(_SIMPLE):
    os.environ["SERVER_JVMFLAGS"] = "-cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar:" + _SIMPLE


def status_kib(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def leader_zxid(ens, leader):
    z = zxid_of(srvr(ens.client[leader], 2.0))
    if z is None:
        raise RuntimeError("leader %d answers no Zxid" % leader)
    return z


def log_size(ens, i):
    try:
        return os.path.getsize(os.path.join(ens.sdir(i), "server.log"))
    except OSError:
        return 0


def log_since(ens, i, pos):
    with open(os.path.join(ens.sdir(i), "server.log"), "rb") as f:
        f.seek(pos)
        return f.read().decode("utf-8", "replace")


class Sampler(threading.Thread):
    """VmRSS of ``pid`` every 100 ms: [(monotonic, kib)]."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.samples, self.stop_ev = pid, [], threading.Event()

    def run(self):
        while not self.stop_ev.is_set():
            self.samples.append((time.monotonic(), status_kib(self.pid, "VmRSS")))
            self.stop_ev.wait(0.1)

    def stop(self):
        self.stop_ev.set()
        self.join(5)

    def peak(self, t0, t1):
        v = [k for t, k in self.samples if t0 <= t <= t1]
        return max(v) if v else 0

    def median(self, t0, t1):
        v = sorted(k for t, k in self.samples if t0 <= t <= t1)
        return v[len(v) // 2] if v else 0


class Load(threading.Thread):
    """The bounded write load: paddock-loadgen setData on the given hosts,
    its per-second progress lines kept with the time they were read."""

    def __init__(self, hosts, logpath):
        super().__init__(daemon=True)
        self.cmd = [LOADGEN, "--hosts", hosts, "--workload", "set", "--keys", "1000",
                    "--data-bytes", str(DATA_BYTES), "--root", "/snap-w",
                    "--sessions", LOAD_SESSIONS, "--inflight", LOAD_INFLIGHT,
                    "--warmup", "0", "--duration", str(LOAD_MAX_SECS), "--grace", "30"]
        self.logpath = logpath
        self.lines = []  # (monotonic, ops in the last second, phase)
        self.measuring = threading.Event()
        self.proc = None

    def run(self):
        with open(self.logpath, "w") as lf:
            lf.write(" ".join(self.cmd) + "\n")
            self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True)
            for line in self.proc.stdout:
                now = time.monotonic()
                lf.write("%.3f %s" % (now, line))
                m = re.search(r"\[\s*\d+s\s+(\w+)\]\s+(\d+) ops/s", line)
                if m:
                    self.lines.append((now, int(m.group(2)), m.group(1)))
                    self.measuring.set()
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.join(20)

    def per_second(self, t0, t1):
        """The progress lines whose whole second lies in [t0, t1]."""
        return [n for t, n, _ in self.lines if t0 <= t - 1.0 and t <= t1]


def load_tree(ens, leader, n):
    cmd = [LOADGEN, "--hosts", "127.0.0.1:%d" % ens.client[leader], "--workload", "get",
           "--keys", str(n), "--data-bytes", str(DATA_BYTES), "--root", "/snap",
           "--sessions", "1", "--inflight", "1", "--warmup", "0", "--duration", "1",
           "--grace", "3000", "--session-timeout", "30000"]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=3100)
    if p.returncode != 0:
        raise RuntimeError("load failed (%d): %s\n%s" % (p.returncode, " ".join(cmd),
                                                        (p.stdout + p.stderr)[-2000:]))
    return time.monotonic() - t0


def settle(ens, max_secs=SETTLE_MAX, idle=0.3):
    """Until the three servers together use under ``idle`` of a CPU over a
    second (the snapshots the load started are written), at least 5 s, at
    most ``max_secs``; returns the time it took."""
    t0 = time.monotonic()
    time.sleep(5)
    while time.monotonic() - t0 < max_secs:
        c0 = sum(cpu_ticks(ens.pid(i)) for i in ens.ids)
        time.sleep(1)
        used = (sum(cpu_ticks(ens.pid(i)) for i in ens.ids) - c0) / CLK_TCK
        if used < idle:
            break
    log("%s: settled after %.0f s" % (ens.kind, time.monotonic() - t0))
    return time.monotonic() - t0


def rate(z0, z1, t0, t1):
    return (z1 - z0) / (t1 - t0) if t1 > t0 else 0.0


def one(kind, n):
    ens = Ensemble(kind, port_base=PORT_BASE[kind])
    r = {"kind": kind, "znodes": n, "data_bytes": DATA_BYTES}
    with open("/proc/loadavg") as fh:
        r["loadavg_before"] = " ".join(fh.read().split()[:3])
    load = None
    sampler = None
    try:
        log("== %s, %d znodes x %d B: starting 3 servers (%s)" % (kind, n, DATA_BYTES, ens.hosts()))
        leader = ens.start_all()
        f = [i for i in ens.ids if i != leader][-1]
        other = [i for i in ens.ids if i not in (leader, f)][0]
        r.update(leader=leader, synced=f, other=other)
        log("%s: leader %d; loading %d znodes through it" % (kind, leader, n))
        r["load_secs"] = load_tree(ens, leader, n)
        log("%s: loaded in %.1f s (%.0f creates/s); leader RSS %d MiB; settling"
            % (kind, r["load_secs"], n / r["load_secs"], status_kib(ens.pid(leader), "VmRSS") >> 10))
        r["settle_secs"] = settle(ens)
        sampler = Sampler(ens.pid(leader))
        sampler.start()
        load = Load(ens.hosts([leader, other]), os.path.join(OUT, "load-%s-%d.log" % (kind, n)))
        load.start()
        if not load.measuring.wait(120):
            raise RuntimeError("the write load did not start: see %s" % load.logpath)
        time.sleep(1.0)
        ta, za = time.monotonic(), leader_zxid(ens, leader)
        time.sleep(BASE_SECS)
        tb, zb = time.monotonic(), leader_zxid(ens, leader)
        r["rss_before_kib"] = status_kib(ens.pid(leader), "VmRSS")
        log("%s: %d writes/s with all three up; stopping server %d and deleting its version-2"
            % (kind, rate(za, zb, ta, tb), f))
        ens.procs[f].send_signal(signal.SIGTERM)
        ens.procs[f].wait(30)
        ens.logs.pop(f).close()
        shutil.rmtree(os.path.join(ens.sdir(f), "data", "version-2"), ignore_errors=True)
        left = os.listdir(os.path.join(ens.sdir(f), "data"))
        assert left == ["myid"], left
        tc, zc = time.monotonic(), leader_zxid(ens, leader)
        time.sleep(DOWN_SECS)
        td, zd = time.monotonic(), leader_zxid(ens, leader)
        log("%s: %d writes/s with server %d down; starting it empty"
            % (kind, rate(zc, zd, tc, td), f))
        lpos = log_size(ens, leader)
        t0, z0 = time.monotonic(), leader_zxid(ens, leader)
        ens.start(f)
        t_snap = None
        deadline = t0 + SYNC_DEADLINE
        next_note = t0 + 5
        while True:
            now = time.monotonic()
            if now > deadline:
                raise RuntimeError("server %d not following within %.0fs:\n%s"
                                   % (f, SYNC_DEADLINE, ens.log_tail(f, 30)))
            if not ens.alive(f) or not ens.alive(leader):
                raise RuntimeError("a server exited:\n%s\n%s" % (ens.log_tail(f, 30),
                                                                 ens.log_tail(leader, 30)))
            if t_snap is None and LEADER_SNAP[kind] in log_since(ens, leader, lpos):
                t_snap = now
                log("%s: the leader logs the SNAP %.2f s after the start" % (kind, now - t0))
            if mode_of(srvr(ens.client[f], 1.0)) == "follower":
                t1 = time.monotonic()
                break
            if now > next_note:
                log("%s: syncing for %.0f s; leader RSS %d MiB" % (
                    kind, now - t0, status_kib(ens.pid(leader), "VmRSS") >> 10))
                next_note += 5
            time.sleep(0.05)
        z1 = leader_zxid(ens, leader)
        leader_text = log_since(ens, leader, lpos)
        r["leader_snap_lines"] = [l for l in leader_text.splitlines()
                                  if LEADER_SNAP[kind] in l or "serialized the tree" in l
                                  or "took the tree" in l or "sent the SNAP body" in l][:6]
        r["synced_by_snap"] = bool(r["leader_snap_lines"])
        # more than one: a SNAP failed and the learner came back for another
        r["snaps_sent"] = leader_text.count(LEADER_SNAP[kind])
        r["sync_secs"] = t1 - t0
        r["snap_seen_after_secs"] = (t_snap - t0) if t_snap else None
        r["follower_hwm_kib"] = status_kib(ens.pid(f), "VmHWM")
        log("%s: server %d follows %.2f s after its start (%s); leader RSS peak %d MiB"
            % (kind, f, t1 - t0, "SNAP" if r["synced_by_snap"] else "NO SNAP LINE in the leader's log",
               sampler.peak(t0, t1) >> 10))
        time.sleep(5)
        te, ze = time.monotonic(), leader_zxid(ens, leader)
        r["rss_peak_kib"] = sampler.peak(t0, t1)
        # before the sync, the leader's RSS moves too (its own snapshots):
        # the median and the peak of the BASE_SECS + DOWN_SECS before it
        r["rss_before_median_kib"] = sampler.median(ta, t0)
        r["rss_before_peak_kib"] = sampler.peak(ta, t0)
        r["rss_after_kib"] = status_kib(ens.pid(leader), "VmRSS")
        r["rss_samples"] = [(round(t - t0, 2), k) for t, k in sampler.samples
                            if t0 - 1 <= t <= te]
        r["writes_per_sec"] = {
            "all_up": rate(za, zb, ta, tb),
            "one_down": rate(zc, zd, tc, td),
            "during_sync": rate(z0, z1, t0, t1),
            "after": rate(z1, ze, t1, te),
        }
        during = load.per_second(t0, t1)
        r["loadgen_per_second_during_sync"] = during
        r["loadgen_min_second_during_sync"] = min(during) if during else None
        r["loadgen_per_second_sync_window"] = [(round(t - t0, 2), k) for t, k, _ in load.lines
                                               if t0 - 2 <= t <= te]
        w = r["writes_per_sec"]
        log("%s %d: sync %.2f s; writes/s all up %.0f, one down %.0f, during sync %.0f, after %.0f;"
            " leader RSS median %d (max %d) before -> max %d during -> %d MiB; follower HWM %d MiB"
            % (kind, n, r["sync_secs"], w["all_up"], w["one_down"], w["during_sync"], w["after"],
               r["rss_before_median_kib"] >> 10, r["rss_before_peak_kib"] >> 10,
               r["rss_peak_kib"] >> 10, r["rss_after_kib"] >> 10,
               r["follower_hwm_kib"] >> 10))
        return r
    finally:
        if load:
            load.stop()
        if sampler:
            sampler.stop()
        ens.cleanup(keep_logs_in=OUT)
        for i in ens.ids:
            src = os.path.join(OUT, "%s-server%d.log" % (kind, i))
            if os.path.exists(src):
                os.replace(src, os.path.join(OUT, "%s-%d-server%d.log" % (kind, n, i)))


def main():
    results = []
    for n in SIZES:
        for kind in KINDS:
            try:
                results.append(one(kind, n))
            except Exception as e:  # noqa: BLE001 - recorded, the run goes on
                log("%s %d FAILED: %s" % (kind, n, e))
                results.append({"kind": kind, "znodes": n, "error": str(e)})
            with open(os.path.join(OUT, "snap-sync.json"), "w") as fh:
                json.dump(results, fh, indent=1)
    rows = ["| znodes | server | load (creates/s) | sync: start -> follower | SNAP seen after |"
            " SNAP -> follower | SNAPs sent | leader RSS before: median / max | leader RSS max during sync | after | follower VmHWM | writes/s all up | one down |"
            " during sync | min loadgen s during sync |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if "error" in r:
            rows.append("| %d | %s | FAILED: %s |" % (r["znodes"], r["kind"], r["error"][:100]))
            continue
        w = r["writes_per_sec"]
        seen = r["snap_seen_after_secs"]
        rows.append("| %s | %s | %.0f | %.2f s | %s | %s | %s | %d / %d MiB | %d MiB | %d MiB | %d MiB | %.0f | %.0f | %.0f | %s |" % (
            format(r["znodes"], ","), r["kind"], r["znodes"] / r["load_secs"], r["sync_secs"],
            "%.2f s" % seen if seen is not None else "-",
            "%.2f s" % (r["sync_secs"] - seen) if seen is not None else "-",
            r.get("snaps_sent", "?"),
            r["rss_before_median_kib"] >> 10, r["rss_before_peak_kib"] >> 10,
            r["rss_peak_kib"] >> 10, r["rss_after_kib"] >> 10,
            r["follower_hwm_kib"] >> 10, w["all_up"], w["one_down"], w["during_sync"],
            r["loadgen_min_second_during_sync"] if r["loadgen_min_second_during_sync"] is not None else "-"))
    md = "\n".join(rows) + "\n"
    with open(os.path.join(OUT, "summary.md"), "w") as fh:
        fh.write(md)
    sys.stdout.write(md)
    return 1 if any("error" in r for r in results) else 0


sys.exit(main())
EOF
