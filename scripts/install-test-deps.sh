#!/usr/bin/env bash
# Installs what scripts/test.sh needs and does not find, on Debian 12:
#   - Debian packages: ZooKeeper 3.8 (zkCli.sh, the reference server's jars),
#     netcat, the C client (gcc + libzookeeper-mt-dev + cli_mt), Node + npm,
#     a JDK and the Curator jars, python3-venv when python3 cannot make a venv;
#   - node-zookeeper-client into tests/interop/node/node_modules (npm ci);
#   - the Python test packages into a venv of their own
#     (${PADDOCK_TEST_VENV:-.venv}, pinned by tests/interop/requirements.txt);
#   - rustfmt and clippy, and when scripts/fuzz.sh exists the nightly
#     toolchain and cargo-fuzz.
# Idempotent: each piece is checked first and only what is missing is
# installed. Every download or install runs under `timeout`.
#
#   scripts/install-test-deps.sh                     install what is missing
#   scripts/install-test-deps.sh --dry-run           print what would run
#   scripts/install-test-deps.sh --dry-run --pretend-missing
#                                                    ... as if nothing were installed
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PADDOCK_TEST_VENV:-$REPO/.venv}"
REQUIREMENTS="$REPO/tests/interop/requirements.txt"
NODE_DIR="$REPO/tests/interop/node"

DRY_RUN=0
PRETEND_MISSING=0
for arg in "$@"; do
    case "$arg" in
        --dry-run) DRY_RUN=1 ;;
        --pretend-missing) PRETEND_MISSING=1 ;;
        *) echo "install-test-deps: unknown argument $arg (try --dry-run, --pretend-missing)" >&2; exit 2 ;;
    esac
done
if [ "$PRETEND_MISSING" = 1 ] && [ "$DRY_RUN" = 0 ]; then
    echo "install-test-deps: --pretend-missing only makes sense with --dry-run" >&2
    exit 2
fi

say() { echo "install-test-deps: $*"; }
# Runs a command, or only prints it in a dry run.
run() {
    if [ "$DRY_RUN" = 1 ]; then
        echo "install-test-deps: [dry-run] would run: $*"
    else
        say "running: $*"
        "$@"
    fi
}
# True when the check passes; --pretend-missing makes every check fail.
have() {
    [ "$PRETEND_MISSING" = 0 ] && "$@" >/dev/null 2>&1
}
deb_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

# ---- Debian packages --------------------------------------------------------
# package -> the check that makes it unnecessary (any JDK will do for javac,
# any node+npm on PATH will do, a python3 that has ensurepip needs no venv pkg).
apt_missing=()
need_deb() { # need_deb PACKAGE [CHECK...]
    local package="$1"
    shift
    if [ "$#" -gt 0 ] && have "$@"; then return; fi
    if have deb_installed "$package"; then return; fi
    apt_missing+=("$package")
}
need_deb zookeeper test -x /usr/share/zookeeper/bin/zkCli.sh
need_deb zookeeper-bin test -x /usr/lib/zookeeper/bin/cli_mt
need_deb netcat-openbsd
# The partition tests put servers in network namespaces (ip netns, veth, bridge).
need_deb iproute2 command -v ip
need_deb gcc
need_deb libc6-dev
need_deb libzookeeper-mt-dev test -f /usr/include/zookeeper/zookeeper.h
need_deb libzookeeper-java test -f /usr/share/java/zookeeper.jar
need_deb libslf4j-java test -f /usr/share/java/slf4j-nop.jar
need_deb libguava-java test -f /usr/share/java/guava.jar
need_deb libcurator-client-java test -f /usr/share/java/curator-client.jar
need_deb libcurator-framework-java test -f /usr/share/java/curator-framework.jar
need_deb libcurator-recipes-java test -f /usr/share/java/curator-recipes.jar
need_deb default-jdk-headless command -v javac
need_deb nodejs command -v node
need_deb npm command -v npm
need_deb python3-venv python3 -c "import venv, ensurepip"

if [ "${#apt_missing[@]}" -eq 0 ]; then
    say "Debian packages: all present"
else
    say "Debian packages missing: ${apt_missing[*]}"
    SUDO=()
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            SUDO=(sudo -n)
        elif [ "$DRY_RUN" = 0 ]; then
            echo "install-test-deps: need root to install: apt-get install ${apt_missing[*]}" >&2
            echo "install-test-deps: run as root, or with password-less sudo, or install them first" >&2
            exit 1
        fi
    fi
    run timeout --kill-after=30 600 "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get update -qq
    run timeout --kill-after=30 1200 "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${apt_missing[@]}"
fi

# ---- node-zookeeper-client --------------------------------------------------
if have test -f "$NODE_DIR/node_modules/node-zookeeper-client/package.json"; then
    say "node-zookeeper-client: present"
else
    say "node-zookeeper-client: installing into $NODE_DIR/node_modules"
    run timeout --kill-after=30 600 npm ci --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error
fi

# ---- Python venv ------------------------------------------------------------
want_stamp="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
have_stamp="$(cat "$VENV/.requirements.sha256" 2>/dev/null || true)"
if [ "$PRETEND_MISSING" = 0 ] && [ "$want_stamp" = "$have_stamp" ] \
    && "$VENV/bin/python" -c "import kazoo, pytest, xdist, pytest_timeout, puresasl" 2>/dev/null; then
    say "python venv $VENV: up to date with $(basename "$REQUIREMENTS")"
else
    say "python venv $VENV: installing $(basename "$REQUIREMENTS")"
    if ! have test -x "$VENV/bin/python"; then
        run timeout --kill-after=10 120 python3 -m venv "$VENV"
    fi
    run timeout --kill-after=30 600 "$VENV/bin/python" -m pip install --quiet \
        --disable-pip-version-check -r "$REQUIREMENTS"
    if [ "$DRY_RUN" = 0 ]; then
        "$VENV/bin/python" -c "import kazoo, pytest, xdist, pytest_timeout, puresasl"
        echo "$want_stamp" > "$VENV/.requirements.sha256"
    fi
fi

# ---- Rust toolchain ---------------------------------------------------------
if ! have command -v cargo; then
    if [ "$DRY_RUN" = 1 ]; then
        say "[dry-run] cargo missing: would stop here and ask for rustup (https://rustup.rs)"
    else
        echo "install-test-deps: cargo is not on PATH. Install Rust with rustup (https://rustup.rs);" >&2
        echo "install-test-deps: Debian 12's rustc is too old for this workspace." >&2
        exit 1
    fi
fi
for component in rustfmt clippy; do
    subcommand="${component/rustfmt/fmt}"
    if have cargo "$subcommand" --version; then
        say "cargo $subcommand: present"
    elif command -v rustup >/dev/null 2>&1 || [ "$DRY_RUN" = 1 ]; then
        run timeout --kill-after=30 600 rustup component add "$component"
    else
        echo "install-test-deps: cargo $subcommand is missing and there is no rustup to add $component" >&2
        exit 1
    fi
done

# ---- fuzzing (only once scripts/fuzz.sh exists) -----------------------------
if [ -f "$REPO/scripts/fuzz.sh" ]; then
    if have cargo +nightly --version; then
        say "nightly toolchain: present"
    else
        run timeout --kill-after=30 900 rustup toolchain install nightly --profile minimal
    fi
    if have cargo fuzz --version; then
        say "cargo-fuzz: present"
    else
        run timeout --kill-after=30 1800 cargo install --locked cargo-fuzz
    fi
else
    say "scripts/fuzz.sh not here: no fuzzing toolchain needed"
fi
say "ok"
