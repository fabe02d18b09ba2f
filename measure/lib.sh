# measure/lib.sh — shared by measure/*.sh and tuning/sweep.sh (source it).
# Starting/stopping paddock and Apache ZooKeeper, /proc CPU sampling, running
# the loadgen with server-CPU accounting over its measured window.

REPO=${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
PADDOCK_BIN=${PADDOCK_BIN:-$REPO/target/release/paddock}
LOADGEN=${LOADGEN:-$REPO/target/release/paddock-loadgen}
ZKSERVER=${ZKSERVER:-/usr/share/zookeeper/bin/zkServer.sh}
ZKRAW="python3 $REPO/measure/zkraw.py"
# Data dirs go here; same filesystem for both servers (default: /var/tmp, on /).
BENCH_TMP=${BENCH_TMP:-/var/tmp}
CLK_TCK=$(getconf CLK_TCK)
SERVER_PID=""
SERVER_DIR=""

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# utime+stime of every thread of PID (live and exited), in clock ticks.
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
rss_anon_kib() { awk '/^RssAnon:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kib() { awk '/^VmHWM:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# write_ensemble_cfgs BASE [EXTRA_LINE]: three paddock servers on loopback,
# BASE/zkN.cfg with dataDir BASE/zkN (and its myid), client ports 2191-2193,
# peer ports 2788-2790 / 3788-3790; EXTRA_LINE goes into each file.
write_ensemble_cfgs() {
    local base="$1" extra="${2:-}" i
    for i in 1 2 3; do
        mkdir -p "$base/zk$i" && echo "$i" > "$base/zk$i/myid"
        cat > "$base/zk$i.cfg" <<EOF
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$base/zk$i
clientPort=219$i
admin.enableServer=false
4lw.commands.whitelist=*
server.1=127.0.0.1:2788:3788
server.2=127.0.0.1:2789:3789
server.3=127.0.0.1:2790:3790
$extra
EOF
    done
}

write_cfg() { # dir port
    mkdir -p "$1/data"
    cat > "$1/zoo.cfg" <<EOF
tickTime=2000
dataDir=$1/data
clientPort=$2
maxClientCnxns=0
4lw.commands.whitelist=*
admin.enableServer=false
EOF
}

# start_server KIND DIR PORT [TUNING] — KIND is zookeeper|paddock. Sets SERVER_PID.
# ZooKeeper runs exactly as Debian's `zkServer.sh start-foreground` (its JVM
# flags: none from Debian's zkEnv.sh, so the JVM's default heap = 1/4 of RAM).
start_server() {
    local kind=$1 dir=$2 port=$3 tuning=${4:-}
    [ -f "$dir/zoo.cfg" ] || write_cfg "$dir" "$port"
    if [ "$kind" = paddock ]; then
        # paddock's shards fail to bind a port that has TIME-WAIT connections of
        # a listener without SO_REUSEPORT (e.g. ZooKeeper's; paddock's own are
        # fine), and the server then keeps running without a listener.
        local t=0
        while [ -n "$(ss -Htan state time-wait "( sport = :$port )" 2>/dev/null)" ] && [ $t -lt 70 ]; do
            [ $t = 0 ] && log "port $port has TIME-WAIT connections; waiting for them to expire (paddock cannot bind over them)"
            sleep 1; t=$((t + 1))
        done
    fi
    if [ "$kind" = zookeeper ]; then
        ZOO_LOG_DIR=$dir setsid "$ZKSERVER" start-foreground "$dir/zoo.cfg" \
            >>"$dir/server.log" 2>&1 </dev/null &
    else
        setsid "$PADDOCK_BIN" start --config "$dir/zoo.cfg" ${tuning:+--tuning "$tuning"} \
            >>"$dir/server.log" 2>&1 </dev/null &
    fi
    SERVER_PID=$!
    SERVER_DIR=$dir
    if ! timeout 65 $ZKRAW wait-srvr "$port" 60; then
        tail -20 "$dir/server.log" >&2
        die "$kind did not answer srvr within 60 s"
    fi
}

stop_server() { # SIGTERM, SIGKILL after 15 s
    local pid=${1:-$SERVER_PID}
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && { log "pid $pid ignored SIGTERM; SIGKILL"; kill -KILL "$pid"; }
    fi
    wait "$pid" 2>/dev/null
    [ "$pid" = "$SERVER_PID" ] && SERVER_PID=""
    return 0
}

# Busy % of all CPUs over the next second (from /proc/stat): what the rest of
# the machine is doing while our server idles between runs. The 1-min load
# average is also recorded but lags (it still counts our own previous run).
busy_pct() {
    local a b
    a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
    local ta=0 tb=0 i
    for i in 1 2 3 4 5 6 7 8; do ta=$((ta + a[i])); tb=$((tb + b[i])); done
    local idle=$(( (b[4] + b[5]) - (a[4] + a[5]) )) tot=$((tb - ta))
    echo $(( tot > 0 ? 100 * (tot - idle) / tot : 0 ))
}
# Wait until the machine is quiet: busy_pct below BUSY_MAX (default 20%), at most
# QUIET_MAX (20) s; then go on anyway (the busy % is recorded in the result).
wait_quiet() {
    local lim=${BUSY_MAX:-20} max=${QUIET_MAX:-20} t=0 b
    while b=$(busy_pct); [ "$b" -ge "$lim" ] && [ "$t" -lt "$max" ]; do
        [ $((t % 10)) = 0 ] && log "machine ${b}% busy (others' work; load avg $(loadavg)); waiting (max ${max}s)"
        t=$((t + 1))
    done
    BUSY_BEFORE=$b
}

# run_lg OUT.json LABEL LOADGEN-ARGS... — runs the loadgen against SERVER_PID,
# samples the server's CPU (utime+stime) at the loadgen's first "measure" progress
# line (= start of the measured window) and its first "drain" line (= end of the
# window; if the run ends before printing one, at its exit), and adds
#   "server": {pid, cpu_secs, us_per_op}, "loadavg_before": "...", "server_kind"
# to the result JSON. Needs --warmup to be a whole number of seconds.
run_lg() {
    local out=$1 label=$2; shift 2
    local c0="" c1="" rc line la
    la="$(loadavg); busy ${BUSY_BEFORE:-?}%"
    local -a cmd=("$LOADGEN" --label "$label" --out "$out" "$@")
    echo "${cmd[*]}" >"${out%.json}.cmd"
    shopt -s lastpipe
    { timeout 120 "${cmd[@]}" 2>&1; echo "LOADGEN-EXIT $?"; } | while IFS= read -r line; do
        case "$line" in
            *" measure]"*) [ -z "$c0" ] && c0=$(cpu_ticks "$SERVER_PID") ;;
            *"   drain]"*) [ -z "$c1" ] && c1=$(cpu_ticks "$SERVER_PID") ;;
            "LOADGEN-EXIT "*) rc=${line#LOADGEN-EXIT }; continue ;;
        esac
        [ -n "${VERBOSE:-}" ] && echo "    $line" >&2
        echo "$line" >>"${out%.json}.log"
    done
    [ -z "$c1" ] && c1=$(cpu_ticks "$SERVER_PID")
    if [ "${rc:-1}" != 0 ] || [ ! -s "$out" ]; then
        log "loadgen $label exited ${rc:-?}; see ${out%.json}.log"; tail -5 "${out%.json}.log" >&2
        return 1
    fi
    python3 - "$out" "${c0:-0}" "$c1" "$CLK_TCK" "$SERVER_PID" "$la" "${SERVER_KIND:-}" <<'EOF'
import json, sys
path, c0, c1, tck, pid, la, kind = sys.argv[1:]
r = json.load(open(path))
secs = (int(c1) - int(c0)) / int(tck)
ops = r["ops"] or 1
r["server"] = {"kind": kind, "pid": int(pid), "cpu_secs": secs, "us_per_op": secs * 1e6 / ops,
               "how": "utime+stime from /proc/PID/stat, sampled at the loadgen's measure start and end lines"}
r["loadavg_before"] = la
json.dump(r, open(path, "w"), indent=2)
l = r["latency"]
print("  %-26s %9.0f ops/s  p50 %7.0f us  p99 %7.0f us  p99.9 %7.0f us  server %6.1f us/op  loadgen %6.1f us/op  errors %d  load %s"
      % (r["label"], r["ops_per_sec"], l["p50_us"], l["p99_us"], l["p99_9_us"],
         r["server"]["us_per_op"], r["cpu"]["us_per_op"], r["errors_total"], la), file=sys.stderr)
EOF
}

# table.py-style markdown summary of result JSONs (pairs zk/paddock by workload).
summary_md() { python3 "$REPO/measure/summary.py" "$@"; }
