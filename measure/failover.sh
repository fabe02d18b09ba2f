#!/usr/bin/env bash
# measure/failover.sh — leader failover of a 3-server ensemble under writes.
#
#   measure/failover.sh KIND [ROUNDS] [OUTDIR]     KIND: zookeeper|paddock; ROUNDS default 5
#
# Each round: writers on all three servers (raw setData, closed loop), kill -9
# of the leader, time from the kill to the first write acknowledged (in the
# new epoch) to a writer on a surviving server; the killed server is restarted
# before the next round. Prints each round and the median; JSON in OUTDIR.
# Details: measure/ensemble.py.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?usage: measure/failover.sh zookeeper|paddock [ROUNDS] [OUTDIR]}
rounds=${2:-5}
out=${3:-loadgen/results/failover-$(date +%Y%m%d-%H%M)}
exec timeout --kill-after=30 $((300 + rounds * 180)) python3 measure/ensemble.py failover "$out" "$kind" "$rounds"
