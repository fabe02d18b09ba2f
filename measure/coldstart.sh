#!/usr/bin/env bash
# measure/coldstart.sh — cold starts of a 3-server paddock ensemble on
# loopback: empty data dirs, three servers started at once, time until one
# says `Mode: leader` and two `Mode: follower` (polled every 25 ms, 10 s
# deadline per start); a start over 2 s, without the three modes, or where
# more than one server took LEADING is reported.
#
#   measure/coldstart.sh [STARTS]      (default 30)
#
# Ports 2191-2193, 2788-2790, 3788-3790 on 127.0.0.1; data under /tmp/cold.
set -uo pipefail
cd "$(dirname "$0")/.."
. measure/lib.sh
base=/tmp/cold
n=${1:-30}
bad=0
for it in $(seq 1 "$n"); do
  rm -rf "$base"
  write_ensemble_cfgs "$base"
  pids=()
  t0=$(date +%s%N)
  for i in 1 2 3; do
    target/release/paddock start --config "$base/zk$i.cfg" > "$base/s$i.log" 2>&1 &
    pids+=($!)
  done
  ok=0
  for _ in $(seq 1 400); do
    if [ "$(python3 measure/srvr-modes.py 2191 2192 2193)" = "Mode: follower Mode: follower Mode: leader" ]; then
      ok=1
      break
    fi
    sleep 0.025
  done
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  leaders=$(grep -l "Looking -> Leading" "$base"/s*.log | wc -l)
  if [ "$ms" -gt 2000 ] || [ "$ok" -eq 0 ] || [ "$leaders" -gt 1 ]; then
    bad=$((bad + 1))
    echo "start $it: ${ms} ms, modes reached: $ok, servers that took LEADING: $leaders" >&2
  fi
  echo -n "$ms " >&2
  kill "${pids[@]}" 2>/dev/null
  wait 2>/dev/null
done
echo >&2
echo "$n cold starts; slow, unsettled or with two leaders: $bad"
