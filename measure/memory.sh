#!/usr/bin/env bash
# measure/memory.sh — RSS with 1,000,000 znodes of 100 B, and restart time with them.
#
#   measure/memory.sh [OUTDIR]      (default loadgen/results/compare-<date>)
#
# For each server (ZooKeeper, then paddock), on a fresh data dir under $BENCH_TMP:
#   1. start; RSS when idle
#   2. load N znodes of BYTES bytes (/load/b<i/1000>/n<i%1000>, 1000 parents)
#      with measure/zkraw.py: one session, WINDOW creates pipelined (one txn per
#      znode, so both servers snapshot every snapCount=100000 txns as usual)
#   3. RSS (VmRSS) and peak (VmHWM) after the load, and again after SETTLE s
#   4. SIGTERM; restart on the same data dir; restart time = from spawning the
#      process until a new session's getData of the last znode answers OK
#      (also: until `srvr` answers); RSS right then and after SETTLE s
# ZooKeeper runs with Debian's zkServer.sh defaults: no -Xmx, so the JVM picks
# 1/4 of RAM as max heap (G1). Writes OUTDIR/memory.json and OUTDIR/memory.md.
# Env: ZNODES (1000000), BYTES (100), WINDOW (2000), SETTLE (5), SERVERS, BENCH_TMP.
set -u -o pipefail
source "$(dirname "$0")/lib.sh"

OUT=${1:-$REPO/loadgen/results/compare-$(date +%Y%m%d)}
N=${ZNODES:-1000000}
BYTES=${BYTES:-100}
WINDOW=${WINDOW:-2000}
SETTLE=${SETTLE:-5}
SERVERS=${SERVERS:-zookeeper paddock}
PORT_BASE=${PORT_BASE:-22482}   # a new port per start: see compare-zookeeper.sh
mkdir -p "$OUT"
WORK=$(mktemp -d "$BENCH_TMP/paddock-mem.XXXXXX")
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
LAST="/load/b$(( (N - 1) / 1000 ))/n$(( (N - 1) % 1000 ))"
RES=$OUT/memory.jsonl
: >"$RES"

mib() { echo $(( $1 / 1024 )); }
i=0
for kind in $SERVERS; do
    PORT=$((PORT_BASE + 10 * i)); i=$((i + 1))
    dir=$WORK/$kind
    write_cfg "$dir" "$PORT"
    wait_quiet
    log "== $kind: start (load $(loadavg))"
    start_server "$kind" "$dir" "$PORT"
    idle=$(rss_kib "$SERVER_PID")
    log "$kind idle RSS $(mib "$idle") MiB; loading $N znodes of $BYTES B"
    c0=$(cpu_ticks "$SERVER_PID")
    t0=$(date +%s.%N)
    timeout 900 $ZKRAW load "$PORT" "$N" "$BYTES" "$WINDOW" >"$dir/load.txt" || die "$kind: load failed: $(cat "$dir/load.txt")"
    t1=$(date +%s.%N)
    c1=$(cpu_ticks "$SERVER_PID")
    cat "$dir/load.txt" >&2
    loaded=$(rss_kib "$SERVER_PID"); hwm=$(hwm_kib "$SERVER_PID")
    sleep "$SETTLE"
    settled=$(rss_kib "$SERVER_PID"); settled_anon=$(rss_anon_kib "$SERVER_PID")
    du_data=$(du -sk "$dir/data" | cut -f1)
    log "$kind after load: RSS $(mib "$loaded") MiB (peak $(mib "$hwm")), after ${SETTLE}s $(mib "$settled") MiB; data dir $(mib "$du_data") MiB"
    stop_server
    PORT=$((PORT + 1)); write_cfg "$dir" "$PORT"
    log "$kind: restart on the same data (port $PORT)"
    t_start=$(date +%s.%N)
    if [ "$kind" = zookeeper ]; then
        ZOO_LOG_DIR=$dir setsid "$ZKSERVER" start-foreground "$dir/zoo.cfg" >>"$dir/server.log" 2>&1 </dev/null &
    else
        setsid "$PADDOCK_BIN" start --config "$dir/zoo.cfg" >>"$dir/server.log" 2>&1 </dev/null &
    fi
    SERVER_PID=$!
    get_s=$(timeout 190 $ZKRAW wait-get "$PORT" "$LAST" 180 "$t_start") || die "$kind did not serve $LAST within 180 s after restart"
    restarted=$(rss_kib "$SERVER_PID")
    sleep "$SETTLE"
    restarted2=$(rss_kib "$SERVER_PID"); restarted2_anon=$(rss_anon_kib "$SERVER_PID")
    log "$kind restart: getData($LAST) OK after ${get_s}s; RSS $(mib "$restarted") MiB, after ${SETTLE}s $(mib "$restarted2") MiB"
    python3 - "$kind" "$N" "$BYTES" "$idle" "$loaded" "$hwm" "$settled" "$get_s" "$restarted" "$restarted2" \
        "$du_data" "$c0" "$c1" "$CLK_TCK" "$t0" "$t1" "$(loadavg)" "$settled_anon" "$restarted2_anon" >>"$RES" <<'EOF'
import json, sys
k, n, b, idle, loaded, hwm, settled, get_s, rs, rs2, du, c0, c1, tck, t0, t1, la, sa, ra = sys.argv[1:]
n = int(n)
print(json.dumps({"server": k, "znodes": n, "bytes": int(b), "idle_rss_kib": int(idle),
    "loaded_rss_kib": int(loaded), "loaded_hwm_kib": int(hwm), "settled_rss_kib": int(settled),
    "restart_get_secs": float(get_s), "restart_rss_kib": int(rs), "restart_settled_rss_kib": int(rs2),
    "data_dir_kib": int(du), "settled_rss_anon_kib": int(sa), "restart_settled_rss_anon_kib": int(ra), "load_secs": float(t1) - float(t0),
    "load_server_cpu_us_per_create": (int(c1) - int(c0)) / int(tck) * 1e6 / n, "loadavg": la}))
EOF
    stop_server
    rm -rf "$dir"
done

python3 - "$RES" >"$OUT/memory.md" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {r["server"]: r for r in rows}
m = lambda kib: "%.0f MiB" % (kib / 1024)
keys = [("idle RSS", "idle_rss_kib", m), ("RSS after loading", "loaded_rss_kib", m),
        ("peak RSS (VmHWM) during load", "loaded_hwm_kib", m), ("RSS 5 s after loading", "settled_rss_kib", m),
        ("  of which anonymous (RssAnon)", "settled_rss_anon_kib", m),
        ("restart: until getData of the last znode", "restart_get_secs", lambda s: "%.2f s" % s),
        ("RSS right after restart", "restart_rss_kib", m), ("RSS 5 s after restart", "restart_settled_rss_kib", m),
        ("  of which anonymous (RssAnon)", "restart_settled_rss_anon_kib", m),
        ("data dir on disk", "data_dir_kib", m), ("load time (python loader)", "load_secs", lambda s: "%.1f s" % s),
        ("server CPU per create during load", "load_server_cpu_us_per_create", lambda v: "%.1f µs" % v)]
names = [s for s in ("zookeeper", "paddock") if s in by]
print("| %d znodes × %d B | %s | ratio |" % (rows[0]["znodes"], rows[0]["bytes"], " | ".join(names)))
print("|---|" + "---:|" * (len(names) + 1))
for label, k, f in keys:
    vals = [by[s][k] for s in names]
    ratio = "%.2f×" % (vals[1] / vals[0]) if len(vals) == 2 and vals[0] else ""
    print("| %s | %s | %s |" % (label, " | ".join(f(v) for v in vals), ratio))
print("| load avg | %s | |" % " | ".join(by[s]["loadavg"] for s in names))
EOF
cat "$OUT/memory.md"
