#!/usr/bin/env bash
# tuning/sweep.sh — paddock under each profile in tuning/*.cfg, one workload each.
#
#   tuning/sweep.sh [OUTDIR]      (default loadgen/results/tuning-<date>)
#
# Per profile: fresh data dir, `paddock start --config zoo.cfg --tuning tuning/X.cfg`,
# `paddock-loadgen --workload set --data-bytes 1024 --sessions 8 --inflight 16
# --duration 10`, server CPU from /proc over the measured window, stop. Writes
# OUTDIR/<profile>.json (+.hgrm), OUTDIR/sweep.md (table) and OUTDIR/sweep.svg.
# Env: WORKLOAD (set), SESSIONS (8), INFLIGHT (16), DURATION (10), WARMUP (2),
#      DATA_BYTES (1024), PROFILES (all tuning/*.cfg), LOAD_MAX, BENCH_TMP.
set -u -o pipefail
source "$(dirname "$0")/../measure/lib.sh"

OUT=${1:-$REPO/loadgen/results/tuning-$(date +%Y%m%d)}
PROFILES=${PROFILES:-$(ls "$REPO"/tuning/*.cfg)}
PORT_BASE=${PORT_BASE:-22583}   # a new port per start: see measure/compare-zookeeper.sh
mkdir -p "$OUT"
[ -x "$PADDOCK_BIN" ] && [ -x "$LOADGEN" ] || die "build first: cargo build --release --workspace"
WORK=$(mktemp -d "$BENCH_TMP/paddock-sweep.XXXXXX")
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

files=()
i=0
for prof in $PROFILES; do
    PORT=$((PORT_BASE + i)); i=$((i + 1))
    name=$(basename "$prof" .cfg)
    dir=$WORK/$name
    write_cfg "$dir" "$PORT"
    wait_quiet
    log "== $name: start paddock --tuning $prof"
    SERVER_KIND=paddock
    start_server paddock "$dir" "$PORT" "$prof"
    run_lg "$OUT/$name.json" "$name" --hosts 127.0.0.1:$PORT --workload "${WORKLOAD:-set}" \
        --data-bytes "${DATA_BYTES:-1024}" --sessions "${SESSIONS:-8}" --inflight "${INFLIGHT:-16}" \
        --warmup "${WARMUP:-2}" --duration "${DURATION:-10}" --grace 60 \
        && files+=("$OUT/$name.json") || log "$name FAILED"
    stop_server
    rm -rf "$dir"
done

{
    echo "# paddock tuning sweep: ${WORKLOAD:-set} ${DATA_BYTES:-1024} B, ${SESSIONS:-8}×${INFLIGHT:-16}, ${DURATION:-10} s — $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    summary_md list "${files[@]}"
} >"$OUT/sweep.md"
timeout 30 "$LOADGEN" compare "${files[@]}" --svg "$OUT/sweep.svg" \
    --title "paddock tuning profiles: ${WORKLOAD:-set} 1 KiB ${SESSIONS:-8}x${INFLIGHT:-16}" >"$OUT/compare.txt" 2>&1
cat "$OUT/sweep.md"
