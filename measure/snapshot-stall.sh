#!/usr/bin/env bash
# measure/snapshot-stall.sh — open-loop p99 while the tree is big (snapshots are big).
#
#   measure/snapshot-stall.sh [OUTDIR]
#
# For each server: fresh data dir; grow the tree with GROW_SECS (10) s of
# saturated 1 KiB creates (8x16); then the fixed-load run: set 1 KiB at RATE
# (5000) ops/s open loop, 8 sessions, 2+10 s. Both servers snapshot every
# snapCount=100000 txns, so the measured window contains one snapshot of the
# big tree. Writes OUTDIR/<server>-bigtree-{grow,rate5k}.json and, for paddock,
# its log lines about snapshots (paddock-bigtree-server.log).
set -u -o pipefail
source "$(dirname "$0")/lib.sh"
OUT=${1:-$REPO/loadgen/results/compare-$(date +%Y%m%d)/bigtree}
RATE=${RATE:-5000}
mkdir -p "$OUT"
WORK=$(mktemp -d "$BENCH_TMP/paddock-stall.XXXXXX")
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
i=0
for kind in ${SERVERS:-zookeeper paddock}; do
    PORT=$((${PORT_BASE:-22781} + i)); i=$((i + 1))
    short=$([ "$kind" = zookeeper ] && echo zk || echo paddock)
    write_cfg "$WORK/$kind" "$PORT"
    wait_quiet
    SERVER_KIND=$kind
    start_server "$kind" "$WORK/$kind" "$PORT"
    log "$kind: growing the tree (${GROW_SECS:-10} s of creates)"
    run_lg "$OUT/$short-bigtree-grow.json" "$short-bigtree-grow" --hosts 127.0.0.1:$PORT --workload create \
        --data-bytes 1024 --sessions 8 --inflight 16 --warmup 1 --duration "${GROW_SECS:-10}" --grace 60 --root /grow
    log "$kind: set at $RATE/s"
    run_lg "$OUT/$short-bigtree-rate5k.json" "$short-bigtree-rate5k" --hosts 127.0.0.1:$PORT --workload set \
        --data-bytes 1024 --sessions 8 --rate "$RATE" --warmup 2 --duration 10 --grace 60 --root /rate
    stop_server
    [ "$kind" = paddock ] && grep -i snapshot "$WORK/$kind/server.log" >"$OUT/paddock-bigtree-server.log"
done
summary_md list "$OUT"/*.json | tee "$OUT/summary.md"
