#!/usr/bin/env bash
# A/B two paddock binaries on the same machine, same moment: each workload
# runs on A then B, ROUNDS times, each on a fresh data dir, and the loadgen
# JSON lands in OUT/<label>-<workload>-<round>.json.
#
#   measure/ab.sh OUT BIN_A LABEL_A BIN_B LABEL_B [ROUNDS] [SECONDS]
#
# Every server gets tickTime=2000, maxClientCnxns=0 and no AdminServer (as
# measure/compare-zookeeper.sh configures them); loadgen is the workspace's
# release build. CFG_A / CFG_B (";"-separated zoo.cfg lines) are added to
# A's / B's config, e.g.
#   CFG_B="standaloneEnabled=false;initLimit=10;syncLimit=5;server.1=127.0.0.1:23182:23183"
# runs B as an ensemble of one (the zab path with a quorum of one; myid is
# written from the server.N line). Progress goes to
# stdout; every wait has a deadline.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$1" bin_a="$2" label_a="$3" bin_b="$4" label_b="$5"
rounds="${6:-2}" seconds="${7:-10}"
loadgen=target/release/paddock-loadgen
port=23181
mkdir -p "$out"

run_one() { # BIN LABEL WORKLOAD ROUND EXTRA_CFG
    local bin="$1" label="$2" workload="$3" round="$4" extra="${5:-}"
    local dir
    dir="$(mktemp -d /var/tmp/paddock-ab-XXXXXX)"
    printf 'tickTime=2000\ndataDir=%s\nclientPort=%d\nmaxClientCnxns=0\nadmin.enableServer=false\n' \
        "$dir/data" "$port" > "$dir/zoo.cfg"
    if [ -n "$extra" ]; then
        printf '%s\n' "$extra" | tr ';' '\n' >> "$dir/zoo.cfg"
        # A server.N line makes this server N of an ensemble: it needs myid.
        mkdir -p "$dir/data"
        sed -n 's/^server\.\([0-9]*\)=.*/\1/p' "$dir/zoo.cfg" | head -1 > "$dir/data/myid"
        [ -s "$dir/data/myid" ] || rm -f "$dir/data/myid"
    fi
    "$bin" start --config "$dir/zoo.cfg" > "$dir/server.log" 2>&1 &
    local pid=$!
    local deadline=$((SECONDS + 30))
    until (set +o pipefail; printf srvr | timeout 2 nc -q 1 127.0.0.1 "$port" 2>/dev/null | grep -q Mode); do
        if [ "$SECONDS" -gt "$deadline" ]; then
            echo "ab.sh: $label did not start; log:" >&2
            cat "$dir/server.log" >&2
            kill -9 "$pid" 2>/dev/null || true
            return 1
        fi
        sleep 0.2
    done
    echo "== $label $workload round $round"
    timeout $((seconds + 120)) "$loadgen" --hosts "127.0.0.1:$port" --workload "$workload" \
        --data-bytes 1024 --sessions 8 --inflight 16 --duration "$seconds" \
        --out "$out/$label-$workload-$round.json" | tail -4
    kill -TERM "$pid"
    timeout 20 tail --pid="$pid" -f /dev/null || kill -9 "$pid" 2>/dev/null || true
    rm -rf "$dir"
}

for round in $(seq 1 "$rounds"); do
    for workload in get set create; do
        run_one "$bin_a" "$label_a" "$workload" "$round" "${CFG_A:-}"
        run_one "$bin_b" "$label_b" "$workload" "$round" "${CFG_B:-}"
    done
done
echo "ab.sh: results in $out"
