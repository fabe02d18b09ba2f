#!/usr/bin/env bash
# Fuzz every decoder that reads untrusted bytes (fuzz/fuzz_targets/*.rs):
# build all targets once (cargo-fuzz, nightly), regenerate the seed corpus
# from paddock's own encoders (fuzz/src/bin/make_seeds.rs), then run each
# target for SECONDS (default 20), one at a time, from its seeds
# (fuzz/seeds/<target>, committed, crash regressions included) and its
# working corpus (fuzz/corpus/<target>, not committed).
# Exits non-zero if any target crashed; the input is in fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh [SECONDS]       e.g. scripts/fuzz.sh 300 for a longer hunt
#   FUZZ_TARGETS="jaas snapshot" scripts/fuzz.sh 60
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-20}"
toolchain="${FUZZ_TOOLCHAIN:-nightly}"

if ! cargo "+$toolchain" fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: cargo-fuzz is missing for toolchain '$toolchain' (cargo install cargo-fuzz)" >&2
    exit 2
fi

started=$(date +%s)
echo "== building every fuzz target (cargo +$toolchain fuzz build)"
cargo "+$toolchain" fuzz build --release
triple=$(rustc "+$toolchain" -vV | sed -n 's/^host: //p')
bin="target/$triple/release"

echo "== writing the seed corpus (make_seeds)"
"$bin/make_seeds" seeds

targets="${FUZZ_TARGETS:-$(cargo "+$toolchain" fuzz list | grep -vx make_seeds)}"
failed=()
for target in $targets; do
    mkdir -p "corpus/$target" "seeds/$target" "artifacts/$target"
    echo "== $target: ${seconds}s from $(ls "seeds/$target" | wc -l) seeds, $(ls "corpus/$target" | wc -l) corpus inputs"
    # One process per target (the machine is shared): -jobs is not used, so
    # libFuzzer's progress lines reach the terminal. Inputs are small and a
    # single allocation past 256 MiB is a length field trusted too far.
    set +e
    "$bin/$target" "corpus/$target" "seeds/$target" \
        -artifact_prefix="artifacts/$target/" \
        -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -malloc_limit_mb=256 \
        -max_len=8192 -print_final_stats=1 2>&1 |
        grep --line-buffered -E '^#[0-9]+.*(INITED|DONE|pulse)|==[0-9]+==|panicked|ERROR|SUMMARY|Test unit written|stat::number_of_executed_units|Done [0-9]+ runs'
    status=${PIPESTATUS[0]}
    set -e
    if [ "$status" -ne 0 ]; then
        echo "!! $target failed (exit $status); inputs in fuzz/artifacts/$target/" >&2
        failed+=("$target")
    fi
done

echo "== fuzz.sh: $(($(date +%s) - started))s in all"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz.sh: crashes in: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz.sh: no crashes"
