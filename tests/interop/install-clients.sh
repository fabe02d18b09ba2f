#!/usr/bin/env bash
# Install the toolchains for the non-Python client interop tests
# (tests/interop/test_c_client.py, test_node_client.py, test_curator.py).
# Idempotent: skips what is already there.  Needs root for apt-get.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

APT_PKGS=(
  gcc libzookeeper-mt-dev zookeeper-bin   # C client (zookeeper.h, -lzookeeper_mt, cli_mt)
  nodejs npm                              # node-zookeeper-client
  default-jdk-headless libzookeeper-java libslf4j-java
  libcurator-client-java libcurator-framework-java libcurator-recipes-java
)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# javac may come from any JDK; don't pull default-jdk if one is already there.
if command -v javac >/dev/null 2>&1; then
  missing=("${missing[@]/default-jdk-headless/}")
fi
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs/}"); missing=("${missing[@]/npm/}")
fi
clean=()
for p in "${missing[@]}"; do [ -n "$p" ] && clean+=("$p"); done
if [ "${#clean[@]}" -gt 0 ]; then
  echo "install-clients: apt-get install ${clean[*]}"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq
  timeout 900 apt-get install -y -qq --no-install-recommends "${clean[@]}"
fi

# node-zookeeper-client into tests/interop/node/node_modules
if [ ! -f "$HERE/node/node_modules/node-zookeeper-client/package.json" ]; then
  echo "install-clients: npm install in $HERE/node"
  (cd "$HERE/node" && timeout 600 npm install --no-audit --no-fund --loglevel=error)
fi
echo "install-clients: ok"
