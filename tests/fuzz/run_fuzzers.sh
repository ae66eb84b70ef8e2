#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 The ptscope authors
# SPDX-License-Identifier: MIT
#
# Builds the libFuzzer harnesses (clang-14, ASan + UBSan, core only) in build-fuzz/ and runs each
# for a fixed time, one after the other:
#   tests/fuzz/run_fuzzers.sh [SECONDS_EACH [HARNESS...]]     default: 60 s, every harness
# Harnesses: zip unpickler legacy safetensors checkpoint. Corpora grow in build-fuzz/corpus/<name>
# (seeded from the fixtures); anything found is written to build-fuzz/artifacts/ and the script
# exits 1. Add a found input to tests/data/fuzz-regressions/<name>/ once fixed: CTest replays it.
set -euo pipefail

cd "$(dirname "$0")/../.."
seconds="${1:-60}"
shift || true
harnesses=("$@")
((${#harnesses[@]})) || harnesses=(zip unpickler legacy safetensors checkpoint)
build_dir="${PTSCOPE_FUZZ_BUILD_DIR:-build-fuzz}"
cxx="${PTSCOPE_FUZZ_CXX:-clang++-14}"
cc="${PTSCOPE_FUZZ_CC:-clang-14}"

if [ ! -f "$build_dir/build.ninja" ]; then
    CC="$cc" CXX="$cxx" cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DPTSCOPE_FUZZ=ON -DPTSCOPE_CUDA=OFF >/dev/null
fi
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
cmake --build "$build_dir" -j "${PTSCOPE_FUZZ_BUILD_JOBS:-$(nproc)}" --target "${targets[@]}"

data=tests/data
fuzz=tests/fuzz
mkdir -p "$build_dir/artifacts"
dict="$build_dir/all.dict"
cat "$fuzz"/*.dict >"$dict"

status=0
summary=()
for h in "${harnesses[@]}"; do
    corpus="$build_dir/corpus/$h"
    mkdir -p "$corpus"
    seeds=("$data/fixtures" "$data/zip" "$data/stats" "$data/diff")
    [ -d "$data/fuzz-regressions/$h" ] && seeds+=("$data/fuzz-regressions/$h")
    [ -d "$fuzz/seeds/$h" ] && seeds+=("$fuzz/seeds/$h")
    log="$build_dir/fuzz_$h.log"
    echo "run_fuzzers: $h for ${seconds}s (log: $log)"
    # -malloc_limit_mb: one allocation sized by the file shows up as a report, not as swap.
    # -timeout: one input taking more than 25 s is a hang (generous: the machine may be shared).
    # Leaks are reported (detect_leaks defaults to on under libFuzzer).
    set +e
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$build_dir/tests/fuzz/fuzz_$h" "$corpus" "${seeds[@]}" \
        -dict="$dict" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -malloc_limit_mb=512 \
        -max_len=131072 -print_final_stats=1 -artifact_prefix="$build_dir/artifacts/$h-" >"$log" 2>&1
    rc=$?
    set -e
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -aoE 'cov: [0-9]+' "$log" | tail -1 || true)
    if [ "$rc" -ne 0 ]; then
        status=1
        echo "run_fuzzers: $h FAILED (exit $rc); the report:"
        grep -aE '^==[0-9]+==|ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -20
        summary+=("$h: FAILED after ${runs:-?} executions, see $log")
    else
        summary+=("$h: ${runs:-?} executions in ${seconds}s, ${cov:-cov: ?}, corpus $(find "$corpus" -type f | wc -l) files")
    fi
done
printf 'run_fuzzers: %s\n' "${summary[@]}"
exit "$status"
