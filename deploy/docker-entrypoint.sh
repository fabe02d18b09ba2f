#!/bin/sh
# paddock's container entrypoint: the ZooKeeper Docker tutorial's run.sh,
# for paddock. From SERVER_ID (this server's number) and ZOOKEEPER_CONNECT
# (every server's host, comma-separated, in id order) it writes the same
# zoo.cfg the tutorial writes -- its fixed keys, then one
# server.N=host:2888:3888 line per host -- and dataDir/myid, then starts
# paddock on that config (or runs the command given instead).
#
# Variables (defaults give the tutorial's files):
#   SERVER_ID            required: 1, 2, 3 ...
#   ZOOKEEPER_CONNECT    required: zookeeper1,zookeeper2,zookeeper3
#   PADDOCK_CONF         where zoo.cfg goes        (/etc/paddock/zoo.cfg)
#   PADDOCK_DATA_DIR     dataDir, holds myid       (/tmp/zookeeper)
#   PADDOCK_DATA_LOG_DIR dataLogDir, when set: a line added after the
#                        tutorial's keys (mount a disk of its own there)
set -eu

fail() {
    echo "docker-entrypoint: $*" >&2
    exit 2
}

[ -n "${SERVER_ID:-}" ] || fail "SERVER_ID is not set (this server's number: 1, 2, 3 ...)"
[ -n "${ZOOKEEPER_CONNECT:-}" ] || fail "ZOOKEEPER_CONNECT is not set (every server's host, comma-separated, e.g. zookeeper1,zookeeper2,zookeeper3)"
case "$SERVER_ID" in
    *[!0-9]*) fail "SERVER_ID must be a number, got '$SERVER_ID'" ;;
esac

CONF=${PADDOCK_CONF:-/etc/paddock/zoo.cfg}
DATA=${PADDOCK_DATA_DIR:-/tmp/zookeeper}

mkdir -p "$(dirname "$CONF")" "$DATA"
echo "$SERVER_ID" > "$DATA/myid"

cat > "$CONF" <<CFG
tickTime=2000
dataDir=$DATA
clientPort=2181
initLimit=5
syncLimit=2
CFG
if [ -n "${PADDOCK_DATA_LOG_DIR:-}" ]; then
    mkdir -p "$PADDOCK_DATA_LOG_DIR"
    echo "dataLogDir=$PADDOCK_DATA_LOG_DIR" >> "$CONF"
fi

id=1
found=no
for host in $(echo "$ZOOKEEPER_CONNECT" | tr ',' ' '); do
    echo "server.$id=$host:2888:3888" >> "$CONF"
    [ "$id" = "$SERVER_ID" ] && found=yes
    id=$((id + 1))
done
[ "$found" = yes ] || fail "SERVER_ID=$SERVER_ID but ZOOKEEPER_CONNECT lists $((id - 1)) host(s)"

cat "$CONF"

if [ "$#" -gt 0 ]; then
    exec "$@"
fi
exec paddock start --config "$CONF"
