#!/usr/bin/env python3
"""3-server ensembles for measure/ensemble-compare.sh and measure/failover.sh
(stdlib only; the raw protocol from measure/zkraw.py).

    ensemble.py compare OUTDIR KIND [KIND...]   loadgen runs against each KIND's
                                                3-server ensemble, sessions spread
                                                over all three; OUTDIR/summary.md
    ensemble.py failover OUTDIR KIND [ROUNDS]   kill -9 of the leader ROUNDS times
                                                (default 5) under writers on all
                                                three servers; OUTDIR/failover-KIND.json

KIND is zookeeper (Debian's zkServer.sh start-foreground, which execs the
JVM) or paddock (target/release/paddock start --config). Every server gets
its own dataDir/myid/zoo.cfg under BENCH_TMP (default /var/tmp): tickTime=2000,
initLimit=10, syncLimit=5 (the tutorial's), maxClientCnxns=0, no AdminServer;
clientPort PORT_BASE+i, quorum PORT_BASE+100+i, election PORT_BASE+200+i
(PORT_BASE default 21000 for zookeeper, 21500 for paddock; the interop tests
use 24000-28999 and the kernel's ephemeral range).

Server CPU per op: utime+stime of the three server processes (/proc/PID/stat)
sampled at the loadgen's first "measure" and first "drain" progress lines,
summed, divided by the measured ops.

Failover time (one round): from the SIGKILL of the leader to the first
write acknowledged to a writer on a surviving server with a zxid of a newer
epoch than the killed leader's (so a commit already in flight before the kill
does not count). Writers: one per server, raw sessions doing setData in a
closed loop; on any error a writer reconnects (new session) to its own server
every 5 ms. Also reported: the time until every surviving writer had such an
acknowledgement, and until `srvr` on a survivor said Mode: leader.

Env: DURATION (10), WARMUP (2), SESSIONS (9 = 3 per server), INFLIGHT (16),
DATA_BYTES (1024), WORKLOADS ("set-1x1 get-1x1 set-sat get-sat create-sat"),
PADDOCK_BIN, LOADGEN, ZKSERVER, BENCH_TMP, PORT_BASE, KEEP=1 (keep data dirs),
PADDOCK_CFG (extra zoo.cfg lines for the paddock servers, ";"-separated;
"{i}" is the server id, "{i%cpus}" (id-1) mod the CPU count), PERF_DIR
(perf record of the servers for 5 s of each run, into
PERF_DIR/KIND-RUN.perf.data; PERF_CALL_GRAPH=dwarf for stacks through libc).
Every wait has a deadline; progress goes to stderr.
"""
import json
import os
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import zkraw  # noqa: E402

PADDOCK_BIN = os.environ.get("PADDOCK_BIN", os.path.join(REPO, "target/release/paddock"))
LOADGEN = os.environ.get("LOADGEN", os.path.join(REPO, "target/release/paddock-loadgen"))
ZKSERVER = os.environ.get("ZKSERVER", "/usr/share/zookeeper/bin/zkServer.sh")
BENCH_TMP = os.environ.get("BENCH_TMP", "/var/tmp")
CLK_TCK = os.sysconf("SC_CLK_TCK")
SETDATA = 5


def log(msg):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def cpu_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    except OSError:
        return 0


def srvr(port, timeout=1.0):
    try:
        return zkraw.four_letter(port, "srvr", timeout)
    except OSError:
        return ""


def mode_of(text):
    for line in text.splitlines():
        if line.startswith("Mode: "):
            return line[6:].strip()
    return None


def zxid_of(text):
    for line in text.splitlines():
        if line.startswith("Zxid: "):
            return int(line[6:].strip(), 16)
    return None


class Ensemble:
    def __init__(self, kind, n=3, port_base=None):
        self.kind = kind
        base = port_base or int(os.environ.get("PORT_BASE", 21000 if kind == "zookeeper" else 21500))
        self.dir = tempfile.mkdtemp(prefix="paddock-ensemble-%s-" % kind, dir=BENCH_TMP)
        self.ids = list(range(1, n + 1))
        self.client = {i: base + i for i in self.ids}
        self.quorum = {i: base + 100 + i for i in self.ids}
        self.election = {i: base + 200 + i for i in self.ids}
        self.procs = {}
        self.logs = {}
        for i in self.ids:
            d = self.sdir(i)
            os.makedirs(os.path.join(d, "data"))
            with open(os.path.join(d, "data", "myid"), "w") as f:
                f.write("%d\n" % i)
            with open(os.path.join(d, "zoo.cfg"), "w") as f:
                f.write("tickTime=2000\ninitLimit=10\nsyncLimit=5\n")
                f.write("dataDir=%s/data\nclientPort=%d\n" % (d, self.client[i]))
                f.write("maxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=false\n")
                extra = os.environ.get("PADDOCK_CFG", "") if kind == "paddock" else ""
                for line in extra.split(";"):
                    if line.strip():
                        f.write(line.strip().replace("{i}", str(i)).replace(
                            "{i%cpus}", str((i - 1) % os.cpu_count())) + "\n")
                for j in self.ids:
                    f.write("server.%d=127.0.0.1:%d:%d\n" % (j, self.quorum[j], self.election[j]))

    def sdir(self, i):
        return os.path.join(self.dir, "s%d" % i)

    def hosts(self, ids=None):
        return ",".join("127.0.0.1:%d" % self.client[i] for i in (ids or self.ids))

    def start(self, i):
        d = self.sdir(i)
        cfg = os.path.join(d, "zoo.cfg")
        logf = open(os.path.join(d, "server.log"), "ab")
        if self.kind == "zookeeper":
            cmd = [ZKSERVER, "start-foreground", cfg]
            env = dict(os.environ, ZOO_LOG_DIR=d)
        else:
            cmd = [PADDOCK_BIN, "start", "--config", cfg]
            env = dict(os.environ)
        self.procs[i] = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=d, env=env,
                                         start_new_session=True)
        self.logs[i] = logf

    def start_all(self):
        for i in self.ids:
            self.start(i)
        return self.wait_leader()

    def pid(self, i):
        return self.procs[i].pid

    def alive(self, i):
        return i in self.procs and self.procs[i].poll() is None

    def kill9(self, i):
        if self.alive(i):
            self.procs[i].send_signal(signal.SIGKILL)
            self.procs[i].wait(10)
        if i in self.logs:
            self.logs[i].close()
            del self.logs[i]

    def modes(self):
        return {i: (mode_of(srvr(self.client[i])) if self.alive(i) else None) for i in self.ids}

    def wait_leader(self, timeout=120.0, ids=None):
        """Until one of ``ids`` (default: every running server) is leader and
        the others followers; returns the leader's id."""
        deadline = time.monotonic() + timeout
        m = {}
        while time.monotonic() < deadline:
            group = ids or [i for i in self.ids if i in self.procs and self.procs[i].returncode is None]
            for i in group:
                if self.procs[i].poll() is not None:
                    raise RuntimeError("server %d (%s) exited: %s" % (i, self.kind, self.log_tail(i)))
            m = {i: mode_of(srvr(self.client[i])) for i in group}
            leaders = [i for i, md in m.items() if md == "leader"]
            if len(leaders) == 1 and all(md == "follower" for i, md in m.items() if i != leaders[0]):
                return leaders[0]
            time.sleep(0.05)
        raise RuntimeError("no leader within %.0fs: %r\n%s" % (
            timeout, m, "\n".join(self.log_tail(i) for i in self.ids)))

    def log_tail(self, i, n=15):
        try:
            with open(os.path.join(self.sdir(i), "server.log"), "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "--- server %d log ---\n" % i + "\n".join(lines[-n:])
        except OSError:
            return ""

    def stop_all(self):
        for i in self.ids:
            if self.alive(i):
                self.procs[i].send_signal(signal.SIGTERM)
        for i in self.ids:
            if i in self.procs:
                try:
                    self.procs[i].wait(15)
                except subprocess.TimeoutExpired:
                    self.procs[i].kill()
                    self.procs[i].wait(10)
            if i in self.logs:
                self.logs[i].close()
        self.logs = {}

    def cleanup(self, keep_logs_in=None):
        self.stop_all()
        if keep_logs_in:
            for i in self.ids:
                src = os.path.join(self.sdir(i), "server.log")
                if os.path.exists(src):
                    shutil.copy(src, os.path.join(keep_logs_in, "%s-server%d.log" % (self.kind, i)))
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)


def make_nodes(port, paths):
    s = zkraw.Session(port, io_timeout=30.0)
    s.s.sendall(b"".join(s.create_req(p, b"") for p in paths))
    for _ in paths:
        f = s.read_frame()
        err = struct.unpack(">i", f[12:16])[0]
        if err not in (0, -110):
            raise RuntimeError("create: error %d" % err)
    s.close()


# ---------------------------------------------------------------- compare

RUNS = {
    "set-1x1": ["--workload", "set", "--sessions", "3", "--inflight", "1"],
    "get-1x1": ["--workload", "get", "--sessions", "3", "--inflight", "1"],
    "set-sat": ["--workload", "set"],
    "get-sat": ["--workload", "get"],
    "mixed-sat": ["--workload", "mixed", "--read-percent", "90"],
    "create-sat": ["--workload", "create"],
}


def run_loadgen(ens, name, flags, out_json):
    sessions = os.environ.get("SESSIONS", "9")
    inflight = os.environ.get("INFLIGHT", "16")
    flags = list(flags)
    if "--sessions" not in flags:
        flags += ["--sessions", sessions, "--inflight", inflight]
    cmd = [LOADGEN, "--hosts", ens.hosts(), "--label", "%s-%s" % (ens.kind, name),
           "--out", out_json, "--data-bytes", os.environ.get("DATA_BYTES", "1024"),
           "--warmup", os.environ.get("WARMUP", "2"), "--duration", os.environ.get("DURATION", "10"),
           "--grace", "60", "--root", "/bench-%s" % name] + flags
    with open(out_json[:-5] + ".cmd", "w") as f:
        f.write(" ".join(cmd) + "\n")
    pids = [ens.pid(i) for i in ens.ids]
    c0 = c1 = None
    perf = None
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    timer = threading.Timer(int(os.environ.get("DURATION", "10")) + 180, p.kill)
    timer.start()
    with open(out_json[:-5] + ".log", "w") as lf:
        for line in p.stdout:
            if " measure]" in line and c0 is None:
                c0 = sum(cpu_ticks(x) for x in pids)
                if os.environ.get("PERF_DIR"):
                    perf = start_perf(pids, os.path.join(os.environ["PERF_DIR"], "%s-%s.perf.data" % (ens.kind, name)))
            if "   drain]" in line and c1 is None:
                c1 = sum(cpu_ticks(x) for x in pids)
            lf.write(line)
            sys.stderr.write("    " + line)
    rc = p.wait()
    timer.cancel()
    if perf is not None:
        perf.wait(30)
    if c1 is None:
        c1 = sum(cpu_ticks(x) for x in pids)
    if rc != 0 or not os.path.exists(out_json):
        log("loadgen %s exited %d" % (name, rc))
        return None
    with open(out_json) as f:
        r = json.load(f)
    secs = (c1 - (c0 if c0 is not None else c1)) / CLK_TCK
    r["server"] = {"kind": ens.kind, "pids": pids, "cpu_secs": secs,
                   "us_per_op": secs * 1e6 / max(1, r["ops"]),
                   "how": "utime+stime of the 3 servers from /proc/PID/stat between the "
                          "loadgen's measure start and end lines, summed"}
    with open(out_json, "w") as f:
        json.dump(r, f, indent=2)
    return r


def start_perf(pids, out):
    """PERF_DIR set: `perf record -g` of the three servers for 5 s from the
    start of the measured window (software cpu-clock: no PMU in a VM). Read
    with `perf report -i OUT --sort pid,comm` and the like; PERF_CALL_GRAPH=dwarf
    for stacks through libc (the default, fp, stops at libc's frames)."""
    os.makedirs(os.path.dirname(out), exist_ok=True)
    log("perf record of pids %s into %s" % (pids, out))
    return subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "999",
                             "--call-graph", os.environ.get("PERF_CALL_GRAPH", "fp"),
                             "-p", ",".join(str(x) for x in pids), "-o", out, "--", "sleep", "5"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def fmt_us(v):
    return "%.1f ms" % (v / 1000) if v >= 10000 else ("%.2f ms" % (v / 1000) if v >= 1000 else "%.0f µs" % v)


def compare(out, kinds):
    os.makedirs(out, exist_ok=True)
    names = os.environ.get("WORKLOADS", "set-1x1 get-1x1 set-sat get-sat create-sat").split()
    results = {}
    for kind in kinds:
        ens = Ensemble(kind)
        try:
            log("== %s: starting 3 servers (ports %s)" % (kind, ens.hosts()))
            leader = ens.start_all()
            log("%s: leader is server %d, modes %r" % (kind, leader, ens.modes()))
            for name in names:
                log("%s %s: %s" % (kind, name, " ".join(RUNS[name])))
                r = run_loadgen(ens, name, RUNS[name], os.path.join(out, "%s-%s.json" % (kind, name)))
                if r:
                    results[(kind, name)] = r
                    l = r["latency"]
                    log("%s %s: %.0f ops/s p50 %s p99 %s server %.1f µs/op errors %d" % (
                        kind, name, r["ops_per_sec"], fmt_us(l["p50_us"]), fmt_us(l["p99_us"]),
                        r["server"]["us_per_op"], r["errors_total"]))
            modes = ens.modes()
            if sorted(v for v in modes.values()) != ["follower", "follower", "leader"]:
                log("WARNING: %s modes after the runs: %r" % (kind, modes))
        finally:
            ens.cleanup(keep_logs_in=out)
    lines = ["# 3-server ensembles: %s (%s, %d cores, %s)" % (
        " vs ".join(kinds), time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()), os.cpu_count(),
        os.uname().release), "",
        "Sessions spread round-robin over the three servers; 1 KiB payloads; server CPU = "
        "utime+stime of all three servers over the measured window / measured ops.", "",
        "| run | sessions×inflight | server | ops/s | p50 | p99 | p99.9 | server CPU µs/op | errors |"
        + (" ops/s %s/%s |" % (kinds[-1], kinds[0]) if len(kinds) > 1 else ""),
        "|---|---|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if len(kinds) > 1 else "")]
    for name in names:
        for kind in kinds:
            r = results.get((kind, name))
            if not r:
                lines.append("| %s | | %s | failed | | | | | |" % (name, kind))
                continue
            c, l = r["config"], r["latency"]
            ratio = ""
            if len(kinds) > 1:
                ratio = " |"
                a, b = results.get((kinds[0], name)), results.get((kinds[-1], name))
                if kind == kinds[-1] and a and b:
                    ratio = " %.2f× |" % (b["ops_per_sec"] / max(1e-9, a["ops_per_sec"]))
            lines.append("| %s | %d×%d | %s | %.0f | %s | %s | %s | %.1f | %d |%s" % (
                name, c["sessions"], c["inflight"], kind, r["ops_per_sec"], fmt_us(l["p50_us"]),
                fmt_us(l["p99_us"]), fmt_us(l["p99_9_us"]), r["server"]["us_per_op"],
                r["errors_total"], ratio))
    md = "\n".join(lines) + "\n"
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(md)
    print(md)
    return 0 if len(results) == len(names) * len(kinds) else 1


# ---------------------------------------------------------------- failover

class Writer(threading.Thread):
    """setData in a closed loop on one server; acks recorded as
    (monotonic time, zxid) — only the latest ones are kept."""

    def __init__(self, ens, sid, path, stop):
        super().__init__(daemon=True)
        self.ens, self.sid, self.path, self.stop_ev = ens, sid, path, stop
        self.acks = []
        self.lock = threading.Lock()
        self.ops = self.reconnects = 0

    def since(self, t):
        with self.lock:
            return [(at, z) for at, z in self.acks if at > t]

    def run(self):
        port = self.ens.client[self.sid]
        body = zkraw.jstr(self.path) + struct.pack(">i", 8) + b"failover" + struct.pack(">i", -1)
        while not self.stop_ev.is_set():
            try:
                s = zkraw.Session(port, timeout_ms=6000, io_timeout=2.0)
            except Exception:  # noqa: BLE001 - refused / closed / not serving
                self.reconnects += 1
                self.stop_ev.wait(0.005)
                continue
            try:
                while not self.stop_ev.is_set():
                    xid = s.next_xid()
                    s.s.sendall(zkraw.frame(struct.pack(">ii", xid, SETDATA) + body))
                    while True:
                        f = s.read_frame()
                        rxid, zxid, err = struct.unpack(">iqi", f[:16])
                        if rxid == xid:
                            break
                    if err != 0:
                        raise RuntimeError("setData error %d" % err)
                    now = time.monotonic()
                    with self.lock:
                        self.acks.append((now, zxid))
                        if len(self.acks) > 20000:
                            del self.acks[:10000]
                    self.ops += 1
            except Exception:  # noqa: BLE001 - the server died or stopped serving
                self.reconnects += 1
            finally:
                try:
                    s.s.close()
                except OSError:
                    pass
            self.stop_ev.wait(0.005)


def failover(out, kind, rounds):
    os.makedirs(out, exist_ok=True)
    ens = Ensemble(kind)
    stop = threading.Event()
    writers = {}
    res = []
    try:
        log("== %s: starting 3 servers (ports %s)" % (kind, ens.hosts()))
        ens.start_all()
        make_nodes(ens.client[ens.ids[0]], ["/failover"] + ["/failover/w%d" % i for i in ens.ids])
        writers = {i: Writer(ens, i, "/failover/w%d" % i, stop) for i in ens.ids}
        for w in writers.values():
            w.start()
        for rnd in range(1, rounds + 1):
            leader = ens.wait_leader()
            # steady state: every writer acknowledged within the last second
            t = time.monotonic()
            deadline = t + 60
            while not all(w.since(time.monotonic() - 1.0) for w in writers.values()):
                if time.monotonic() > deadline:
                    raise RuntimeError("writers not all running before round %d" % rnd)
                time.sleep(0.05)
            time.sleep(1.0)
            old_epoch = zxid_of(srvr(ens.client[leader])) >> 32
            survivors = [i for i in ens.ids if i != leader]
            t_kill = time.monotonic()
            ens.kill9(leader)
            first = {}
            t_leader = None
            deadline = t_kill + 60
            while len(first) < len(survivors) and time.monotonic() < deadline:
                for i in survivors:
                    if i not in first:
                        new = [at for at, z in writers[i].since(t_kill) if (z >> 32) > old_epoch]
                        if new:
                            first[i] = min(new)
                if t_leader is None and any(mode_of(srvr(ens.client[i], 0.2)) == "leader"
                                            for i in survivors):
                    t_leader = time.monotonic()
                time.sleep(0.002)
            if not first:
                raise RuntimeError("round %d: no acknowledged write within 60 s of the kill" % rnd)
            r = {"round": rnd, "killed": leader, "old_epoch": old_epoch,
                 "first_ack_ms": (min(first.values()) - t_kill) * 1e3,
                 "all_writers_ms": (max(first.values()) - t_kill) * 1e3
                 if len(first) == len(survivors) else None,
                 "leader_seen_ms": (t_leader - t_kill) * 1e3 if t_leader else None}
            res.append(r)
            log("%s round %d: killed leader %d; first ack after %.0f ms, all surviving writers "
                "after %s ms; srvr showed a new leader after %s ms" % (
                    kind, rnd, leader, r["first_ack_ms"],
                    "%.0f" % r["all_writers_ms"] if r["all_writers_ms"] is not None else "-",
                    "%.0f" % r["leader_seen_ms"] if r["leader_seen_ms"] is not None else "-"))
            ens.start(leader)
            ens.wait_leader(ids=ens.ids)
    finally:
        stop.set()
        for w in writers.values():
            w.join(10)
        ens.cleanup(keep_logs_in=out)
    med = statistics.median(r["first_ack_ms"] for r in res)
    summary = {"kind": kind, "rounds": res, "median_first_ack_ms": med,
               "median_all_writers_ms": statistics.median(
                   r["all_writers_ms"] for r in res if r["all_writers_ms"] is not None),
               "config": "3 servers, tickTime=2000 initLimit=10 syncLimit=5, one raw setData "
                         "writer per server (closed loop, reconnect every 5 ms)"}
    with open(os.path.join(out, "failover-%s.json" % kind), "w") as f:
        json.dump(summary, f, indent=2)
    print("| %s round | killed | first ack after kill | all surviving writers | srvr: new leader |" % kind)
    print("|---:|---:|---:|---:|---:|")
    for r in res:
        print("| %d | server %d | %.0f ms | %s | %s |" % (
            r["round"], r["killed"], r["first_ack_ms"],
            "%.0f ms" % r["all_writers_ms"] if r["all_writers_ms"] is not None else "-",
            "%.0f ms" % r["leader_seen_ms"] if r["leader_seen_ms"] is not None else "-"))
    print("| **median** | | **%.0f ms** | %.0f ms | |" % (med, summary["median_all_writers_ms"]))
    return 0


def main(argv):
    if len(argv) < 3 or argv[0] not in ("compare", "failover"):
        print(__doc__)
        return 2
    kinds = argv[2:] if argv[0] == "compare" else [argv[2]]
    for k in kinds:
        if k not in ("zookeeper", "paddock"):
            print("unknown server kind %r (zookeeper|paddock)" % k)
            return 2
    for b in ([LOADGEN] if argv[0] == "compare" else []) + ([PADDOCK_BIN] if "paddock" in kinds else []):
        if not os.access(b, os.X_OK):
            print("missing %s: cargo build --release --workspace" % b)
            return 2
    if argv[0] == "compare":
        return compare(argv[1], kinds)
    return failover(argv[1], argv[2], int(argv[3]) if len(argv) > 3 else 5)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
