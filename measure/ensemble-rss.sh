#!/usr/bin/env bash
# measure/ensemble-rss.sh — resident memory of a 3-server paddock ensemble
# after 8 s of saturated 1 KiB sets (9 sessions × 16 in flight, spread over
# the servers), with one extra zoo.cfg line (e.g. a knob to compare).
#
#   measure/ensemble-rss.sh ['key=value']
#
# Prints the load generator's rate and each server's VmRSS and Mode. Ports
# 2191-2193, 2788-2790, 3788-3790 on 127.0.0.1; data under /tmp/rss-ens.
set -euo pipefail
cd "$(dirname "$0")/.."
. measure/lib.sh
extra="${1:-}"
base=/tmp/rss-ens
rm -rf "$base"
write_ensemble_cfgs "$base" "$extra"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait' EXIT
for i in 1 2 3; do
  target/release/paddock start --config "$base/zk$i.cfg" > "$base/s$i.log" 2>&1 &
  pids+=($!)
done
echo "started 3 servers; waiting 3 s for a leader" >&2
sleep 3
timeout 60 target/release/paddock-loadgen --hosts 127.0.0.1:2191,127.0.0.1:2192,127.0.0.1:2193 \
  --workload set --data-bytes 1024 --sessions 9 --inflight 16 --duration 8 2>&1 | grep -E "ops/s" | tail -1
sleep 1
for i in 0 1 2; do
  echo "server $((i+1)): VmRSS $(rss_kib "${pids[$i]}") kB $(echo srvr | timeout 5 nc 127.0.0.1 219$((i+1)) | grep Mode)"
done
