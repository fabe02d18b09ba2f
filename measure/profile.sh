#!/usr/bin/env bash
# measure/profile.sh — where paddock's CPU goes under one loadgen workload.
#
#   measure/profile.sh OUTDIR NAME LOADGEN-FLAGS...
#   e.g. measure/profile.sh loadgen/results/x set-sat --workload set --data-bytes 1024 --sessions 8 --inflight 16
#
# Fresh paddock; the loadgen runs WARMUP(2)+DURATION(10) s; 4 s into it
# `perf record -g -F 999 -p PID -- sleep 5` (software cpu-clock: no PMU in a VM),
# then OUTDIR/profile-NAME.txt = `perf report --no-children` (flat, top 60 lines)
# plus the per-thread split (--sort comm) and the caller graph of the top entries.
set -u -o pipefail
source "$(dirname "$0")/lib.sh"
OUT=$1 NAME=$2; shift 2
command -v perf >/dev/null || die "perf not installed (apt-get install -y linux-perf)"
mkdir -p "$OUT"
WORK=$(mktemp -d "$BENCH_TMP/paddock-prof.XXXXXX")
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
PORT=${PORT:-$((22600 + RANDOM % 300))}
write_cfg "$WORK/p" "$PORT"
start_server paddock "$WORK/p" "$PORT" ${TUNING:-}
log "paddock pid $SERVER_PID port $PORT; loadgen $*"
timeout 120 "$LOADGEN" --hosts 127.0.0.1:$PORT --warmup "${WARMUP:-2}" --duration "${DURATION:-10}" \
    --out "$WORK/run.json" --quiet "$@" &
LG=$!
sleep 4
timeout 30 perf record -e cpu-clock -F 999 -g -p "$SERVER_PID" -o "$WORK/perf.data" -- sleep 5 2>"$WORK/perf.err" \
    || { cat "$WORK/perf.err" >&2; die "perf record failed"; }
wait $LG
rep() { perf report -i "$WORK/perf.data" --stdio "$@" 2>/dev/null | grep -v '^#' | grep -v '^$' | sed 's/ *$//'; }
{
    echo "# perf profile of paddock: $NAME ($*), load avg $(loadavg)"
    python3 -c "import json;r=json.load(open('$WORK/run.json'));print('# run: %.0f ops/s, p50 %.0f us, p99 %.0f us' % (r['ops_per_sec'], r['latency']['p50_us'], r['latency']['p99_us']))"
    echo "## samples by thread"
    rep --no-children --sort comm -g none | head -8
    echo "## user vs kernel"
    rep --no-children --sort dso -g none | head -8
    echo "## flat (self), top symbols"
    rep --no-children --sort comm,symbol -g none | head -40
    echo "## inclusive (with children), top symbols"
    rep --children --sort symbol -g none | head -50
} >"$OUT/profile-$NAME.txt"
log "wrote $OUT/profile-$NAME.txt"
