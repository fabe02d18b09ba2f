#!/usr/bin/env bash
# measure/compare-zookeeper.sh — paddock vs Apache ZooKeeper 3.8 (Debian), back to back.
#
#   measure/compare-zookeeper.sh [OUTDIR]      (default loadgen/results/compare-<date>)
#
# For each server in turn (ZooKeeper first, then paddock): a fresh data dir under
# $BENCH_TMP (same filesystem for both), start, run every workload below, stop.
# Each run writes OUTDIR/<server>-<run>.json (+ .hgrm, .log, .cmd); the JSON gains
# "server": {cpu_secs, us_per_op} = the server's utime+stime (/proc/PID/stat)
# between the loadgen's measure-start and measure-end progress lines, divided by
# the measured ops. Then OUTDIR/summary.md and one SVG per run via
# `paddock-loadgen compare`.
#
# Env: DURATION (10), WARMUP (2, whole seconds), SAT_SESSIONS (8), SAT_INFLIGHT (16),
#      RATE (5000), LOAD_MAX (1.0: wait for the 1-min load average to drop below it
#      before each run, at most QUIET_MAX=60 s), SERVERS ("zookeeper paddock"),
#      PADDOCK_BIN, LOADGEN, BENCH_TMP, VERBOSE=1 (echo loadgen progress).
set -u -o pipefail
source "$(dirname "$0")/lib.sh"

OUT=${1:-$REPO/loadgen/results/compare-$(date +%Y%m%d)}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
SAT_S=${SAT_SESSIONS:-8}
SAT_K=${SAT_INFLIGHT:-16}
RATE=${RATE:-5000}
SERVERS=${SERVERS:-zookeeper paddock}
# One port per server start: paddock's shards cannot bind a port that still has
# TIME-WAIT connections of ZooKeeper's listener (see BENCHMARKS.md, "Problems found").
PORT_BASE=${PORT_BASE:-22181}
mkdir -p "$OUT"
[ -x "$PADDOCK_BIN" ] && [ -x "$LOADGEN" ] || die "build first: cargo build --release --workspace"
[ -x "$ZKSERVER" ] || die "no $ZKSERVER (apt-get install zookeeper)"

WORK=$(mktemp -d "$BENCH_TMP/paddock-bench.XXXXXX")
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# name | loadgen flags (all 1 KiB payloads)
COMMON=(--data-bytes 1024 --warmup "$WARMUP" --duration "$DURATION" --grace 60)
# Order: the runs that grow the tree (create) go last, so that the others run
# against the same small tree on both servers (a 1x1 create adds ~1 MB; the
# saturated create adds hundreds of MB, and every later run then pays for
# snapshots of it).
RUNS=(
  "set-1x1|--workload set --sessions 1 --inflight 1"
  "get-1x1|--workload get --sessions 1 --inflight 1"
  "mixed-1x1|--workload mixed --read-percent 90 --sessions 1 --inflight 1"
  "set-sat|--workload set --sessions $SAT_S --inflight $SAT_K"
  "get-sat|--workload get --sessions $SAT_S --inflight $SAT_K"
  "mixed-sat|--workload mixed --read-percent 90 --sessions $SAT_S --inflight $SAT_K"
  "set-rate5k|--workload set --sessions 8 --rate $RATE"
  "create-1x1|--workload create --sessions 1 --inflight 1"
  "create-sat|--workload create --sessions $SAT_S --inflight $SAT_K"
)
log "results -> $OUT; data dirs under $WORK ($(df --output=source,fstype "$WORK" | tail -1))"
log "$(nproc) cores; load average $(loadavg)"

i=0
for kind in $SERVERS; do
    PORT=$((PORT_BASE + 100 * i)); i=$((i + 1))
    short=$([ "$kind" = zookeeper ] && echo zk || echo paddock)
    dir=$WORK/$kind
    write_cfg "$dir" "$PORT"
    log "== $kind: starting (data $dir/data)"
    SERVER_KIND=$kind
    start_server "$kind" "$dir" "$PORT"
    log "$kind up, pid $SERVER_PID, RSS $(( $(rss_kib "$SERVER_PID") / 1024 )) MiB"
    for spec in "${RUNS[@]}"; do
        name=${spec%%|*}
        read -r -a flags <<<"${spec#*|}"
        wait_quiet
        log "$kind $name: ${flags[*]} (load $(loadavg))"
        run_lg "$OUT/$short-$name.json" "$short-$name" --hosts 127.0.0.1:$PORT "${COMMON[@]}" "${flags[@]}" \
            --root "/bench-$name" || log "$kind $name FAILED"
    done
    log "$kind: RSS after runs $(( $(rss_kib "$SERVER_PID") / 1024 )) MiB; stopping"
    stop_server
    cp "$dir/server.log" "$OUT/$short-server.log" 2>/dev/null
done

log "summary -> $OUT/summary.md"
{
    echo "# paddock vs ZooKeeper: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r)"
    echo
    echo "Server CPU = utime+stime from /proc/PID/stat over the loadgen's measured window / measured ops."
    echo
    summary_md pairs "$OUT" zk paddock
} >"$OUT/summary.md"
for spec in "${RUNS[@]}"; do
    name=${spec%%|*}
    [ -f "$OUT/zk-$name.json" ] && [ -f "$OUT/paddock-$name.json" ] || continue
    timeout 30 "$LOADGEN" compare "$OUT/zk-$name.json" "$OUT/paddock-$name.json" \
        --svg "$OUT/$name.svg" --title "$name: ZooKeeper 3.8 vs paddock" >>"$OUT/compare.txt" 2>&1
done
cat "$OUT/summary.md"
log "done"
