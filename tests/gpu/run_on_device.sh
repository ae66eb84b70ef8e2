#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 The ptscope authors
# SPDX-License-Identifier: MIT
#
# The one script to run on a machine with an NVIDIA GPU (written for an H200, sm_90, 16 cores):
#
#     bash tests/gpu/run_on_device.sh          # from the repository root; logs go to $OUT if set
#
# 1. configures a fresh build (build-device/) with CUDA on and warnings as errors, and builds
#    ptscope-cli and the statistics tests with -j16 (stops at once on a configure or build error);
# 2. runs tst_cuda_kernels_host, then tst_cuda_backend with PTSCOPE_REQUIRE_GPU=1 (a missing GPU is
#    a failure there, not a skip; it holds the statistics and the value comparison to the CPU's),
#    then the CPU statistics, value comparison and CLI tests;
# 3. writes a 1.27 GB fp32 checkpoint (once, cached in BENCH_DIR) with tests/bench/write_fp32_checkpoint.py (standard library
#    only) and benchmarks ptscope-cli stats --backend cpu and --backend cuda, and torch on the CPU and
#    the GPU when python3 imports torch (tests/bench/bench_stats.py, which also compares the counts
#    and moments); then writes a second checkpoint of the same layout with other weights (--seed 1)
#    and times ptscope-cli diff --json (the value comparison of every tensor) with --backend cpu
#    and --backend cuda, checking that both give the same counts and flags and sums to 1e-6;
# 4. prints a summary. Exit status: 0 when everything passed, 1 otherwise.
#
# Environment: OUT (logs; default build-device-logs/), JOBS (default 16), CUDA_ARCHS (default
# 90-real: the H200 only, to build fast), PYTHON (default python3), BENCH_RUNS (default 2),
# BENCH_DIR (default /tmp/ptscope-device-bench), CKPT_LAYERS (default 5: 1.27 GB), BUILD_DIR
# (default build-device), FRESH (default 1: delete BUILD_DIR first) and BUILD_TYPE (Release). Meant to finish in well
# under 8 minutes.
set -uo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=$ROOT/${BUILD_DIR:-build-device}
LOGS=${OUT:-$ROOT/build-device-logs}
CKPT_LAYERS=${CKPT_LAYERS:-5}
JOBS=${JOBS:-16}
CUDA_ARCHS=${CUDA_ARCHS:-90-real}
PYTHON=${PYTHON:-python3}
BENCH_RUNS=${BENCH_RUNS:-2}
BENCH_DIR=${BENCH_DIR:-/tmp/ptscope-device-bench}
START=$(date +%s)
mkdir -p "$LOGS"
SUMMARY=$LOGS/summary.txt
: >"$SUMMARY"
STATUS=0

say() { echo "[run_on_device $(($(date +%s) - START))s] $*" | tee -a "$SUMMARY"; }
die() {
    say "FATAL: $*"
    echo "---- summary ----"
    cat "$SUMMARY"
    exit 1
}
# step NAME LOG TIMEOUT CMD...: runs CMD with a time limit, its output to LOG; records the result.
step() {
    local name=$1 log=$2 limit=$3
    shift 3
    local t0=$(date +%s)
    timeout "$limit" "$@" >"$log" 2>&1
    local rc=$?
    local took=$(($(date +%s) - t0))
    if [ $rc -eq 0 ]; then
        say "ok      $name (${took}s)"
    else
        [ $rc -eq 124 ] && say "TIMEOUT $name after ${limit}s" || say "FAILED  $name (exit $rc, ${took}s)"
        echo "---- last lines of $log ----"
        tail -n 40 "$log"
        echo "-----------------------------"
    fi
    return $rc
}

# --- 0. the machine -------------------------------------------------------------------------------
{
    echo "date: $(date -u)"
    echo "host: $(uname -a)"
    echo "cpus: $(nproc)"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
    export PATH=$PATH:/usr/local/cuda/bin
    command -v nvcc >/dev/null && nvcc --version | tail -n 2
    cmake --version | head -n 1
    c++ --version | head -n 1
    "$PYTHON" --version
    "$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda available:", torch.cuda.is_available())' \
        2>/dev/null || echo "torch: not importable by $PYTHON"
} >"$LOGS/machine.txt" 2>&1
cat "$LOGS/machine.txt"
export PATH=$PATH:/usr/local/cuda/bin
command -v nvcc >/dev/null || die "no nvcc on PATH or in /usr/local/cuda/bin"
command -v cmake >/dev/null || die "no cmake"
command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 || say "warning: nvidia-smi lists no GPU"

# --- 1. configure and build ------------------------------------------------------------------------
[ "${FRESH:-1}" = 1 ] && rm -rf "$BUILD"
step "configure (CUDA on, -Werror, archs $CUDA_ARCHS)" "$LOGS/configure.log" 120 \
    cmake -S "$ROOT" -B "$BUILD" "-DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release}" -DPTSCOPE_CUDA=ON -DPTSCOPE_WERROR=ON \
    "-DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCHS" || die "configure failed (see $LOGS/configure.log)"
TARGETS=(ptscope-cli tst_cuda_kernels_host tst_cuda_backend tst_tensor_stats tst_cli tst_compare_core tst_cli_diff)
step "build ${TARGETS[*]} (-j$JOBS)" "$LOGS/build.log" 300 \
    cmake --build "$BUILD" -j"$JOBS" --target "${TARGETS[@]}" || die "build failed (see $LOGS/build.log)"

# --- 2. tests --------------------------------------------------------------------------------------
export QT_QPA_PLATFORM=offscreen
step "tst_cuda_kernels_host (device rules compiled for the host)" "$LOGS/tst_cuda_kernels_host.log" 120 \
    "$BUILD/tests/tst_cuda_kernels_host" || STATUS=1
step "tst_cuda_backend (GPU against CPU, PTSCOPE_REQUIRE_GPU=1)" "$LOGS/tst_cuda_backend.log" 240 \
    env PTSCOPE_REQUIRE_GPU=1 "$BUILD/tests/tst_cuda_backend" || STATUS=1
grep -E "^(Totals|QINFO.*CUDA|FAIL)" "$LOGS/tst_cuda_backend.log" | head -n 20 | tee -a "$SUMMARY"
step "tst_tensor_stats (CPU)" "$LOGS/tst_tensor_stats.log" 120 "$BUILD/tests/tst_tensor_stats" || STATUS=1
step "tst_cli" "$LOGS/tst_cli.log" 120 "$BUILD/tests/tst_cli" || STATUS=1
step "tst_compare_core (value comparison on every CPU core)" "$LOGS/tst_compare_core.log" 120 \
    "$BUILD/tests/tst_compare_core" || STATUS=1
step "tst_cli_diff (diff --backend cpu and cuda)" "$LOGS/tst_cli_diff.log" 120 "$BUILD/tests/tst_cli_diff" || STATUS=1

# --- 3. benchmark ----------------------------------------------------------------------------------
mkdir -p "$BENCH_DIR"
CKPT=$BENCH_DIR/transformer_fp32_d2048_L$CKPT_LAYERS.pt
if [ ! -s "$CKPT" ]; then
    step "write a fp32 checkpoint ($CKPT_LAYERS layers of d_model 2048)" "$LOGS/write_checkpoint.log" 180 \
        "$PYTHON" tests/bench/write_fp32_checkpoint.py "$CKPT" --layers "$CKPT_LAYERS" || STATUS=1
    tail -n 1 "$LOGS/write_checkpoint.log"
fi
if [ -s "$CKPT" ]; then
    BACKENDS=(cpu cuda)
    if ! step "ptscope-cli stats --backend cuda (sanity)" "$LOGS/stats_cuda.log" 120 \
        "$BUILD/app/ptscope-cli" stats --backend cuda --bins 64 "$CKPT"; then
        STATUS=1
        BACKENDS=(cpu) # still measure the rest
    fi
    head -n 3 "$LOGS/stats_cuda.log"
    TORCH_DEVICES=(none)
    if "$PYTHON" -c 'import torch' >/dev/null 2>&1; then
        TORCH_DEVICES=(cpu)
        "$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1 \
            && TORCH_DEVICES=(cpu cuda)
    fi
    step "benchmark (ptscope ${BACKENDS[*]}, torch ${TORCH_DEVICES[*]}, runs $BENCH_RUNS)" "$LOGS/bench.log" 240 \
        "$PYTHON" tests/bench/bench_stats.py "$BUILD/app/ptscope-cli" --files "$CKPT" --backends "${BACKENDS[@]}" \
        --python "$PYTHON" --torch-devices "${TORCH_DEVICES[@]}" --runs "$BENCH_RUNS" || STATUS=1
    grep -E "^(\||ptscope-cli stats vs|Note)" "$LOGS/bench.log" | tee -a "$SUMMARY"

    # The value comparison: the same layout, other weights; every tensor compared.
    CKPT_B=$BENCH_DIR/transformer_fp32_d2048_L${CKPT_LAYERS}_seed1.pt
    if [ ! -s "$CKPT_B" ]; then
        step "write a second fp32 checkpoint (--seed 1)" "$LOGS/write_checkpoint_b.log" 180 \
            "$PYTHON" tests/bench/write_fp32_checkpoint.py "$CKPT_B" --layers "$CKPT_LAYERS" --seed 1 || STATUS=1
    fi
    if [ -s "$CKPT_B" ]; then
        cat "$CKPT" "$CKPT_B" >/dev/null # both in the page cache, for both backends alike
        for backend in cpu cuda; do
            for run in $(seq 1 "$BENCH_RUNS"); do
                t0=$(date +%s%N)
                if timeout 120 "$BUILD/app/ptscope-cli" diff --json --backend "$backend" "$CKPT" "$CKPT_B" \
                    >"$LOGS/diff_$backend.json" 2>"$LOGS/diff_$backend.err"; then
                    ms=$((($(date +%s%N) - t0) / 1000000))
                    say "diff --backend $backend, run $run: $((ms / 1000)).$(printf %03d $((ms % 1000))) s"
                else
                    say "FAILED  diff --backend $backend (see $LOGS/diff_$backend.err)"
                    STATUS=1
                    break
                fi
            done
        done
        if [ -s "$LOGS/diff_cpu.json" ] && [ -s "$LOGS/diff_cuda.json" ]; then
            "$PYTHON" - "$LOGS/diff_cpu.json" "$LOGS/diff_cuda.json" >"$LOGS/diff_agreement.log" 2>&1 <<'PY'
import json, math, sys
cpu, gpu = (json.load(open(p)) for p in sys.argv[1:3])
assert cpu["values_backend"] == "cpu" and gpu["values_backend"] == "cuda", (cpu.get("values_backend"), gpu.get("values_backend"))
assert len(cpu["values"]) == len(gpu["values"]) > 0
worst = 0.0
for c, g in zip(cpu["values"], gpu["values"]):
    for k in ("key", "numel", "differing", "allclose", "identical", "max_abs_diff"):
        assert c[k] == g[k], (c["key"], k, c[k], g[k])
    for k in ("mean_abs_diff", "rel_l2", "cosine_similarity"):
        a, b = float(c[k]), float(g[k])
        if a != b and not (math.isnan(a) and math.isnan(b)):
            worst = max(worst, abs(a - b) / max(abs(a), abs(b)) if k != "cosine_similarity" else abs(a - b))
assert worst <= 1e-6, worst
print(f"diff values: {len(cpu['values'])} tensors, CPU and CUDA agree (largest sum difference {worst:.2e})")
PY
            if [ $? -eq 0 ]; then tee -a "$SUMMARY" <"$LOGS/diff_agreement.log"; else
                say "FAILED  diff values: CPU and CUDA disagree"; tail -n 5 "$LOGS/diff_agreement.log"; STATUS=1; fi
        fi
    fi
fi

# --- 4. summary ------------------------------------------------------------------------------------
say "done in $(($(date +%s) - START))s, exit $STATUS"
echo "---- summary ($SUMMARY) ----"
cat "$SUMMARY"
exit $STATUS
