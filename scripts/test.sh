#!/usr/bin/env bash
# The test command (README): Rust unit/property tests, then the real-client
# interop suite (kazoo, zkCli.sh, C, Node, Curator) against a freshly built
# paddock. Needs the clients installed: .ci/run installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== cargo test --release --workspace"
cargo test --release --workspace
echo "== building target/release/paddock for the interop suite"
cargo build --release --bin paddock
echo "== python3 -m pytest tests/interop -q -n 2"
set +e
python3 -m pytest tests/interop -q -n 2
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: failing" >&2
    exit 1
fi
exit "$rc"
