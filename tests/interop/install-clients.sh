#!/usr/bin/env bash
# Kept for the skip messages that name it: the set-up of the whole test
# command (clients included) lives in scripts/install-test-deps.sh.
set -euo pipefail
exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/install-test-deps.sh" "$@"
