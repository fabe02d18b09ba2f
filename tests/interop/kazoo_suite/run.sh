#!/usr/bin/env bash
# kazoo's own test suite (the installed kazoo's kazoo/tests) against a
# 3-server ensemble of PADDOCK_SERVER's kind (paddock by default; PADDOCK_BIN
# as for the rest of the suite): see kazoo_shim.py. Extra arguments go to
# pytest (e.g. -k, --junitxml). Run it niced; one ensemble at a time.
# PYTHON: a python with the interop requirements plus what kazoo's tests
# import: objgraph (test_cache), and gevent + eventlet for the 173 tests that
# repeat the client/lock/... classes on those handlers (they skip without
# them, and kazoo_shim turns every skip not in its EXPECTED_SKIPS into a
# failure; PADDOCK_NO_SKIP=0 allows skips).
#   PADDOCK_BIN=... PYTHON=venv/bin/python nice -n 19 tests/interop/kazoo_suite/run.sh -rA
#   PADDOCK_SERVER=zookeeper PYTHON=... nice -n 19 tests/interop/kazoo_suite/run.sh -rA
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
cd "$(mktemp -d /tmp/kazoo-suite-XXXXXX)"
export PYTHONPATH="$HERE:$HERE/..${PYTHONPATH:+:$PYTHONPATH}"
# kazoo's tests read CI and ZOOKEEPER_VERSION (the version of the server its
# own CI built); neither describes the ensemble here, so they are cleared.
exec env -u CI -u ZOOKEEPER_VERSION \
    timeout --kill-after=30 "${KAZOO_SUITE_DEADLINE:-3600}" "$PY" -m pytest -p kazoo_shim \
    -p no:cacheprovider -o timeout=180 -o timeout_method=thread --pyargs kazoo.tests "$@"
