#!/usr/bin/env bash
# measure/ensemble-compare.sh — 3-server paddock vs 3-server Apache ZooKeeper 3.8
# on this machine, one after the other, sessions spread over all three servers.
#
#   measure/ensemble-compare.sh [OUTDIR] [KIND...]     KIND: zookeeper|paddock
#                                                      (default: zookeeper paddock)
#
# Workloads set/get (1x1 and saturated) and create, 1 KiB payloads; throughput,
# latency percentiles and server CPU per op (utime+stime of the three servers
# over the measured window) into OUTDIR/summary.md, one JSON per run. Details
# and environment knobs: measure/ensemble.py (DURATION, WARMUP, SESSIONS,
# INFLIGHT, WORKLOADS, PORT_BASE, BENCH_TMP). Progress on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-loadgen/results/ensemble-$(date +%Y%m%d-%H%M)}
shift || true
[ "$#" -gt 0 ] || set -- zookeeper paddock
exec timeout --kill-after=30 3600 python3 measure/ensemble.py compare "$out" "$@"
