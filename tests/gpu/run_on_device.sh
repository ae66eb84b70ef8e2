#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 The ptscope authors
# SPDX-License-Identifier: MIT
#
# The one script to run on a machine with an NVIDIA GPU (written for an H200, sm_90, 16 cores, with
# no Qt there and no network). Two steps:
#
#   1. here, on a machine with the build dependencies (Qt 6, minizip, nlohmann-json, nvcc):
#          bash tests/gpu/prepare_device_kit.sh
#      builds the binaries below (Release, CUDA for sm_90, -Werror) and packs them with the shared
#      libraries they need into .gpu-kit/ (ignored; about 14 MiB);
#   2. on the GPU machine, from the repository root, with .gpu-kit/ carried along (the device
#      tool's `run`: carry [".gpu-kit"], timeout_s 450):
#          bash tests/gpu/run_on_device.sh
#
# With .gpu-kit/kit.tar.xz present (and NO_KIT unset) it unpacks the kit to .gpu-kit/run/, links
# the absolute folders compiled into the tests (the source and build folders of step 1) to this copy
# of the repository and to the kit's binaries (as root there: it creates those paths), checks that
# every library resolves to the kit's copy, and runs the kit's binaries with LD_LIBRARY_PATH set for
# them alone (python3 and torch keep the machine's libraries). Without a kit it configures and builds
# BUILD_DIR (default build-device/) with CUDA on and warnings as errors first: that needs Qt 6 and
# the other build dependencies on the GPU machine.
#
# Then, each step with its own time limit, skipped once the run is past DEADLINE seconds and cut
# short at HARD_END, so that the whole run ends inside the device call's 450 s:
#   a. tst_cuda_kernels_host, then tst_cuda_backend with PTSCOPE_REQUIRE_GPU=1 (a missing GPU is a
#      failure there, not a skip; it holds the statistics and the value comparison to the CPU's),
#      then the CPU statistics, value comparison and CLI tests;
#   b. bench_cuda_kernels: the statistics kernels on data resident on the GPU against the memory
#      bandwidth (device-to-device copy, theoretical peak) and the pinned host-to-device copy;
#   c. writes a 1.27 GB fp32 checkpoint (once, cached in BENCH_DIR) with
#      tests/bench/write_fp32_checkpoint.py (standard library only) and benchmarks ptscope-cli stats
#      --backend cpu and --backend cuda, and torch on the CPU and the GPU when python3 imports torch
#      (tests/bench/bench_stats.py, which also compares the counts and moments);
#   d. writes a second checkpoint of the same layout with other weights (--seed 1) and times
#      ptscope-cli diff --json (the value comparison of every tensor) with --backend cpu and
#      --backend cuda, checking that both give the same counts and flags and sums to 1e-6.
#
# Output, in $OUT (default build-device-logs/), four files: summary.txt (written as it goes),
# all-logs.txt (every step's log, appended as it goes), kernels.md (bench_cuda_kernels' table) and
# logs.tar.gz (the logs and JSON one file each). Exit status: 0 when everything passed, 1 otherwise.
#
# Environment: OUT, DEADLINE (default 330 s: no step starts later), HARD_END (default DEADLINE + 90 s:
# every step's time limit is cut to end by then), JOBS (default 16), CUDA_ARCHS (default 90-real),
# PYTHON (default python3), BENCH_RUNS (default 2), BENCH_DIR (default /tmp/ptscope-device-bench),
# CKPT_LAYERS (default 5: 1.27 GB), KERNEL_GIB (default 2: GiB per buffer of bench_cuda_kernels),
# NO_KIT (1: build even with a kit), BUILD_DIR, FRESH (default 1) and BUILD_TYPE (Release) for a
# build without a kit. Meant to finish in under 5 minutes with the kit on an H200.
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd -P)
OUTDIR=${OUT:-$ROOT/build-device-logs}
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/ptscope-device-logs.XXXXXX")
CKPT_LAYERS=${CKPT_LAYERS:-5}
JOBS=${JOBS:-16}
CUDA_ARCHS=${CUDA_ARCHS:-90-real}
PYTHON=${PYTHON:-python3}
BENCH_RUNS=${BENCH_RUNS:-2}
BENCH_DIR=${BENCH_DIR:-/tmp/ptscope-device-bench}
DEADLINE=${DEADLINE:-330}
HARD_END=${HARD_END:-$((DEADLINE + 90))}
KIT_DIR=$ROOT/.gpu-kit
START=$(date +%s)
mkdir -p "$OUTDIR"
SUMMARY=$OUTDIR/summary.txt
ALL=$OUTDIR/all-logs.txt
: >"$SUMMARY"
: >"$ALL"
STATUS=0
CREATED_LINKS=()

say() { echo "[run_on_device $(($(date +%s) - START))s] $*" | tee -a "$SUMMARY"; }
finish() {
    for link in "${CREATED_LINKS[@]}"; do rm -f "$link"; done
    tar -C "$LOGS" -czf "$OUTDIR/logs.tar.gz" . 2>/dev/null
    rm -rf "$LOGS"
}
trap finish EXIT
die() {
    say "FATAL: $*"
    echo "---- summary ----"
    cat "$SUMMARY"
    exit 1
}
# have_time NAME: false (and says so) once the run is past DEADLINE.
have_time() {
    if [ $(($(date +%s) - START)) -ge "$DEADLINE" ]; then
        say "SKIPPED $1 (past the ${DEADLINE}s deadline)"
        STATUS=1
        return 1
    fi
}
# limit_to SECONDS: SECONDS, or less so as to end by HARD_END.
limit_to() {
    local left=$((HARD_END - ($(date +%s) - START)))
    [ "$left" -lt "$1" ] && echo $((left > 5 ? left : 5)) || echo "$1"
}
# step NAME LOG TIMEOUT CMD...: runs CMD with a time limit, its output to LOG (appended to
# all-logs.txt); records the result.
step() {
    local name=$1 log=$2 limit=$3
    shift 3
    have_time "$name" || return 1
    limit=$(limit_to "$limit")
    local t0
    t0=$(date +%s)
    timeout -k 10 "$limit" "$@" >"$log" 2>&1
    local rc=$?
    local took=$(($(date +%s) - t0))
    if [ $rc -eq 0 ]; then
        say "ok      $name (${took}s)"
    else
        [ $rc -eq 124 ] && say "TIMEOUT $name after ${limit}s" || say "FAILED  $name (exit $rc, ${took}s)"
        echo "---- last lines of $(basename "$log") ----"
        tail -n 40 "$log"
        echo "-----------------------------"
    fi
    { echo "==== $name: $(basename "$log"), exit $rc, ${took}s ===="; cat "$log"; echo; } >>"$ALL"
    return $rc
}

# --- 0. the machine -------------------------------------------------------------------------------
export PATH=$PATH:/usr/local/cuda/bin
{
    echo "date: $(date -u)"
    echo "host: $(uname -a)"
    echo "cpus: $(nproc)"
    echo "glibc: $(getconf GNU_LIBC_VERSION 2>/dev/null)"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
    echo "libcuda.so.1: $( (ldconfig -p 2>/dev/null | grep -m1 'libcuda.so.1 ') || echo 'not in the ld.so cache')"
    echo "LD_LIBRARY_PATH: ${LD_LIBRARY_PATH:-(unset)}"
    command -v nvcc >/dev/null && nvcc --version | tail -n 2
    command -v cmake >/dev/null && cmake --version | head -n 1
    command -v c++ >/dev/null && c++ --version | head -n 1
    "$PYTHON" --version
    "$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda available:", torch.cuda.is_available())' \
        2>/dev/null || echo "torch: not importable by $PYTHON"
} >"$LOGS/machine.txt" 2>&1
tee -a "$SUMMARY" <"$LOGS/machine.txt"
command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 || say "warning: nvidia-smi lists no GPU"

# --- 1. the binaries: the kit, or a build ----------------------------------------------------------
KENV=(env) # how the binaries are started: with the kit's libraries when there is a kit
XDG=$LOGS/home
export XDG_CONFIG_HOME=$XDG/config XDG_DATA_HOME=$XDG/data XDG_CACHE_HOME=$XDG/cache

# link PATH TARGET: makes PATH (an absolute path compiled into the binaries) lead to TARGET.
link() {
    local path=$1 target=$2
    if [ "$(readlink -f "$path" 2>/dev/null)" = "$(readlink -f "$target")" ]; then
        return 0
    fi
    if [ -e "$path" ] || [ -L "$path" ]; then
        say "cannot recreate $path: it exists and is not $target"
        return 1
    fi
    mkdir -p "$(dirname "$path")" && ln -s "$target" "$path" || return 1
    CREATED_LINKS+=("$path")
}

use_kit() {
    # shellcheck source=/dev/null
    . "$KIT_DIR/kit.env" || return 1
    say "kit: commit $KIT_COMMIT ($KIT_DIRTY_FILES files changed then), built $KIT_BUILT, CUDA archs $KIT_CUDA_ARCHS"
    local have
    have=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
    if [ -n "$have" ] && [ "$(printf '%s\n%s\n' "$KIT_GLIBC_NEEDED" "$have" | sort -V | head -n 1)" != "$KIT_GLIBC_NEEDED" ]; then
        say "the kit needs glibc $KIT_GLIBC_NEEDED, this machine has $have"
        return 1
    fi
    local run=$KIT_DIR/run
    rm -rf "$run" && mkdir -p "$run" || return 1
    if command -v xz >/dev/null; then
        tar -C "$run" -xJf "$KIT_DIR/kit.tar.xz" || return 1
    else # no xz-utils: Python's tarfile reads xz too
        "$PYTHON" -c 'import sys, tarfile
t = tarfile.open(sys.argv[1])
t.extractall(sys.argv[2], **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))' \
            "$KIT_DIR/kit.tar.xz" "$run" || return 1
    fi
    KITLIB=$run/lib
    # The source folder compiled in (PTSCOPE_TEST_DATA_DIR): this copy of the repository.
    link "$KIT_SRC_ROOT" "$ROOT" || return 1
    # The build folder compiled in (PTSCOPE_CLI_PATH): the kit's binaries. Inside the source folder
    # it leads into this copy once the source folder is linked.
    case "$KIT_BUILD_ROOT" in
    "$KIT_SRC_ROOT"/*) link "$ROOT/${KIT_BUILD_ROOT#"$KIT_SRC_ROOT"/}" "$run/build" || return 1 ;;
    *) link "$KIT_BUILD_ROOT" "$run/build" || return 1 ;;
    esac
    [ "$(readlink -f "$KIT_SRC_ROOT/tests/data")" = "$ROOT/tests/data" ] \
        || { say "$KIT_SRC_ROOT/tests/data does not lead to $ROOT/tests/data"; return 1; }
    local b name path bad=0
    for b in $KIT_BINARIES; do
        [ "$(readlink -f "$KIT_BUILD_ROOT/$b")" = "$(readlink -f "$run/build/$b")" ] \
            || { say "$KIT_BUILD_ROOT/$b does not lead to the kit's"; return 1; }
        # Every library outside glibc from the kit.
        while read -r name _ path _; do
            case "$name" in ld-linux* | libc.so* | libm.so* | libpthread.so* | libdl.so* | librt.so* | libmvec.so*) continue ;; esac
            case "$path" in "$KITLIB"/*) ;; *) say "$b: $name resolves to '$path', not to the kit"; bad=1 ;; esac
        done < <(LD_LIBRARY_PATH=$KITLIB ldd "$run/build/$b" | grep "=>")
    done
    [ $bad -eq 0 ] || return 1
    say "kit unpacked: $KIT_SRC_ROOT -> $ROOT, $KIT_BUILD_ROOT -> $run/build; $(ls "$KITLIB" | wc -l) libraries, all from the kit"
    # Are these the sources the kit was built from?
    local changed
    changed=$(cd "$ROOT" && sha256sum -c --quiet "$KIT_DIR/sources.sha256" 2>/dev/null | sed 's/: FAILED.*//')
    if [ -n "$changed" ]; then
        # Old binaries against new sources and fixtures would test the wrong code: stop before
        # spending device time (STALE_KIT_OK=1 runs anyway).
        say "$(echo "$changed" | wc -l) tracked files differ from the kit's sources: $(echo "$changed" | head -n 8 | tr '\n' ' ')"
        [ "${STALE_KIT_OK:-0}" = 1 ] || { say "the kit is stale: run tests/gpu/prepare_device_kit.sh again"; return 1; }
    else
        say "sources: the same as the kit's"
    fi
    BUILD=$KIT_BUILD_ROOT
    # The kit's libraries first, the machine's path after them (the driver's libcuda may be found
    # through it).
    KENV=(env "LD_LIBRARY_PATH=$KITLIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
    # For the Python benchmark, which also starts torch: the kit's libraries for ptscope-cli alone.
    CLI=$run/ptscope-cli
    printf '#!/bin/sh\nLD_LIBRARY_PATH=%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} exec %s "$@"\n' "$KITLIB" \
        "$BUILD/app/ptscope-cli" >"$CLI"
    chmod +x "$CLI"
}

build_here() {
    BUILD=$ROOT/${BUILD_DIR:-build-device}
    command -v nvcc >/dev/null || die "no nvcc on PATH or in /usr/local/cuda/bin"
    command -v cmake >/dev/null || die "no cmake"
    [ "${FRESH:-1}" = 1 ] && rm -rf "$BUILD"
    step "configure (CUDA on, -Werror, archs $CUDA_ARCHS)" "$LOGS/configure.log" 120 \
        cmake -S "$ROOT" -B "$BUILD" "-DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release}" -DPTSCOPE_CUDA=ON -DPTSCOPE_WERROR=ON \
        "-DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCHS" || die "configure failed (see configure.log)"
    local targets=(ptscope-cli tst_cuda_kernels_host tst_cuda_backend tst_tensor_stats tst_cli tst_compare_core
                   tst_cli_diff bench_cuda_kernels)
    step "build ${targets[*]} (-j$JOBS)" "$LOGS/build.log" 300 \
        cmake --build "$BUILD" -j"$JOBS" --target "${targets[@]}" || die "build failed (see build.log)"
    CLI=$BUILD/app/ptscope-cli
}

if [ -f "$KIT_DIR/kit.tar.xz" ] && [ "${NO_KIT:-0}" != 1 ]; then
    use_kit >"$LOGS/kit.log" 2>&1
    rc=$?
    cat "$LOGS/kit.log"
    if [ $rc -eq 0 ]; then
        MODE=kit
    else
        say "the kit cannot be used here (see kit.log): building instead"
        MODE=build
    fi
    { echo "==== kit ===="; cat "$LOGS/kit.log"; echo; } >>"$ALL"
elif [ "${NO_KIT:-0}" = 1 ]; then
    say "NO_KIT=1: building here"
    MODE=build
else
    say "no kit in $KIT_DIR (bash tests/gpu/prepare_device_kit.sh makes one): building here"
    MODE=build
fi
[ "$MODE" = build ] && build_here

# --- 2. tests --------------------------------------------------------------------------------------
export QT_QPA_PLATFORM=offscreen
step "tst_cuda_kernels_host (device rules compiled for the host)" "$LOGS/tst_cuda_kernels_host.log" 120 \
    "${KENV[@]}" "$BUILD/tests/tst_cuda_kernels_host" || STATUS=1
step "tst_cuda_backend (GPU against CPU, PTSCOPE_REQUIRE_GPU=1)" "$LOGS/tst_cuda_backend.log" 240 \
    "${KENV[@]}" PTSCOPE_REQUIRE_GPU=1 "$BUILD/tests/tst_cuda_backend" || STATUS=1
{ grep -E "^(Totals|QINFO.*CUDA)" "$LOGS/tst_cuda_backend.log"; grep -m 3 "^FAIL" "$LOGS/tst_cuda_backend.log"; } 2>/dev/null \
    | tee -a "$SUMMARY"
step "tst_tensor_stats (CPU)" "$LOGS/tst_tensor_stats.log" 120 "${KENV[@]}" "$BUILD/tests/tst_tensor_stats" || STATUS=1
step "tst_cli" "$LOGS/tst_cli.log" 120 "${KENV[@]}" "$BUILD/tests/tst_cli" || STATUS=1
step "tst_compare_core (value comparison on every CPU core)" "$LOGS/tst_compare_core.log" 120 \
    "${KENV[@]}" "$BUILD/tests/tst_compare_core" || STATUS=1
step "tst_cli_diff (diff --backend cpu and cuda)" "$LOGS/tst_cli_diff.log" 120 \
    "${KENV[@]}" "$BUILD/tests/tst_cli_diff" || STATUS=1

# --- 3. the kernels on resident data -----------------------------------------------------------------
if step "bench_cuda_kernels (--gib ${KERNEL_GIB:-2}: kernels against the memory bandwidth)" "$LOGS/bench_kernels.log" 120 \
    "${KENV[@]}" "$BUILD/tests/bench_cuda_kernels" --gib "${KERNEL_GIB:-2}"; then
    grep -E "^(\||Device|Input|Theoretical|Practical|End to end)" "$LOGS/bench_kernels.log" | tee -a "$SUMMARY"
else
    STATUS=1
    grep -m 1 "^bench_cuda_kernels:" "$LOGS/bench_kernels.log" | tee -a "$SUMMARY"
fi
cp "$LOGS/bench_kernels.log" "$OUTDIR/kernels.md" 2>/dev/null

# --- 4. the statistics end to end ----------------------------------------------------------------
mkdir -p "$BENCH_DIR"
CKPT=$BENCH_DIR/transformer_fp32_d2048_L$CKPT_LAYERS.pt
if [ ! -s "$CKPT" ]; then
    step "write a fp32 checkpoint ($CKPT_LAYERS layers of d_model 2048)" "$LOGS/write_checkpoint.log" 180 \
        "$PYTHON" tests/bench/write_fp32_checkpoint.py "$CKPT" --layers "$CKPT_LAYERS" || STATUS=1
    tail -n 1 "$LOGS/write_checkpoint.log" 2>/dev/null
fi
if [ -s "$CKPT" ]; then
    BACKENDS=(cpu cuda)
    if ! step "ptscope-cli stats --backend cuda (sanity)" "$LOGS/stats_cuda.log" 120 \
        "$CLI" stats --backend cuda --bins 64 "$CKPT"; then
        STATUS=1
        BACKENDS=(cpu) # still measure the rest
    fi
    head -n 3 "$LOGS/stats_cuda.log" 2>/dev/null
    TORCH_DEVICES=(none)
    if "$PYTHON" -c 'import torch' >/dev/null 2>&1; then
        TORCH_DEVICES=(cpu)
        "$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1 \
            && TORCH_DEVICES=(cpu cuda)
    fi
    if step "benchmark (ptscope ${BACKENDS[*]}, torch ${TORCH_DEVICES[*]}, runs $BENCH_RUNS)" "$LOGS/bench.log" 240 \
        "$PYTHON" tests/bench/bench_stats.py "$CLI" --files "$CKPT" --backends "${BACKENDS[@]}" \
        --python "$PYTHON" --torch-devices "${TORCH_DEVICES[@]}" --runs "$BENCH_RUNS"; then :; else STATUS=1; fi
    grep -E "^(\||ptscope-cli stats vs|Note)" "$LOGS/bench.log" 2>/dev/null | tee -a "$SUMMARY"

    # --- 5. the value comparison: the same layout, other weights; every tensor compared ----------
    CKPT_B=$BENCH_DIR/transformer_fp32_d2048_L${CKPT_LAYERS}_seed1.pt
    if [ ! -s "$CKPT_B" ]; then
        step "write a second fp32 checkpoint (--seed 1)" "$LOGS/write_checkpoint_b.log" 180 \
            "$PYTHON" tests/bench/write_fp32_checkpoint.py "$CKPT_B" --layers "$CKPT_LAYERS" --seed 1 || STATUS=1
    fi
    if [ -s "$CKPT_B" ] && have_time "diff --backend cpu and cuda"; then
        cat "$CKPT" "$CKPT_B" >/dev/null # both in the page cache, for both backends alike
        for backend in cpu cuda; do
            for run in $(seq 1 "$BENCH_RUNS"); do
                t0=$(date +%s%N)
                if timeout "$(limit_to 120)" "$CLI" diff --json --backend "$backend" "$CKPT" "$CKPT_B" \
                    >"$LOGS/diff_$backend.json" 2>"$LOGS/diff_$backend.err"; then
                    ms=$((($(date +%s%N) - t0) / 1000000))
                    say "diff --backend $backend, run $run: $((ms / 1000)).$(printf %03d $((ms % 1000))) s"
                else
                    say "FAILED  diff --backend $backend: $(head -c 300 "$LOGS/diff_$backend.err")"
                    rm -f "$LOGS/diff_$backend.json"
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

# --- 6. summary ------------------------------------------------------------------------------------
say "done in $(($(date +%s) - START))s ($MODE), exit $STATUS"
echo "---- summary ($SUMMARY) ----"
cat "$SUMMARY"
exit $STATUS
