#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 The ptscope authors
# SPDX-License-Identifier: MIT
#
# Builds, on this machine, everything tests/gpu/run_on_device.sh runs on a GPU machine, so that the
# GPU machine (no Qt, QCustomPlot, minizip or nlohmann-json there, no network) only unpacks and runs:
#
#     bash tests/gpu/prepare_device_kit.sh        # here, from any folder: writes .gpu-kit/ (ignored)
#
# then, on the GPU machine, from the repository root with .gpu-kit carried along (the device tool's
# `run` with carry [".gpu-kit"], timeout_s 450):
#
#     bash tests/gpu/run_on_device.sh
#
# Steps: 1. configures a Release build (KIT_BUILD_DIR, default build-gpu-kit/) with CUDA on for
# CUDA_ARCHS (default 90-real: the H200), warnings as errors; 2. builds ptscope-cli, the GPU and CPU
# statistics tests, the CLI and value comparison tests and bench_cuda_kernels (-j$JOBS, default 2);
# 3. copies them, stripped, with every shared library they load that is not glibc's own (Qt6Core,
# Qt6Test, ICU, double-conversion, pcre2, zstd, b2, glib, minizip, zlib, gomp, libstdc++, libgcc_s,
# ...) into one xz tarball, .gpu-kit/kit.tar.xz; 4. writes .gpu-kit/kit.env: the absolute source and
# build folders compiled into the tests (PTSCOPE_TEST_DATA_DIR, PTSCOPE_CLI_PATH), the newest glibc
# symbol version needed, and the sha256 of every tracked file, so that the GPU machine recreates
# those paths (symbolic links to its copy of the repository and to the kit) and says whether its
# sources are the ones the kit was built from; 5. checks that no binary carries an RPATH that would
# override LD_LIBRARY_PATH and that, with LD_LIBRARY_PATH set to the kit alone, every library
# resolves to the kit's copy (ldd). The ptscope-cli PDF plugin is left out (report --format pdf only).
#
# Environment: KIT_BUILD_DIR, CUDA_ARCHS, JOBS, KIT_DIR (default .gpu-kit).
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd -P)
BUILD=${KIT_BUILD_DIR:-$ROOT/build-gpu-kit}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
KIT=${KIT_DIR:-$ROOT/.gpu-kit}
CUDA_ARCHS=${CUDA_ARCHS:-90-real}
JOBS=${JOBS:-2}
export PATH=$PATH:/usr/local/cuda/bin

# Every binary the device run starts, as paths relative to the build folder.
BINARIES=(app/ptscope-cli tests/tst_cuda_kernels_host tests/tst_cuda_backend tests/tst_tensor_stats tests/tst_cli
          tests/tst_compare_core tests/tst_cli_diff tests/bench_cuda_kernels)
TARGETS=()
for b in "${BINARIES[@]}"; do TARGETS+=("$(basename "$b")"); done

say() { echo "[prepare_device_kit] $*"; }
die() {
    echo "[prepare_device_kit] ERROR: $*" >&2
    exit 1
}

for tool in cmake ninja nvcc ldd readelf strip xz sha256sum; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

# --- 1, 2. configure and build -----------------------------------------------------------------------
say "configuring $BUILD (Release, CUDA archs $CUDA_ARCHS, -Werror)"
mkdir -p "$BUILD"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPTSCOPE_CUDA=ON -DPTSCOPE_WERROR=ON \
    "-DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCHS" >"$BUILD/kit-configure.log" 2>&1 \
    || { tail -n 30 "$BUILD/kit-configure.log"; die "configure failed (see $BUILD/kit-configure.log)"; }
grep -q "CUDA backend enabled" "$BUILD/kit-configure.log" || die "the configure did not enable CUDA"
say "building ${TARGETS[*]} (-j$JOBS)"
cmake --build "$BUILD" -j"$JOBS" --target "${TARGETS[@]}" || die "build failed"

# The folders compiled into the tests: the kit recreates exactly these on the GPU machine.
SRC_ROOT=$ROOT
BUILD_ROOT=$(cd "$BUILD" && pwd -P)
for b in "${BINARIES[@]}"; do
    [ -x "$BUILD_ROOT/$b" ] || die "$BUILD_ROOT/$b was not built"
done
# The absolute paths compiled in (QStringLiteral: UTF-16, hence strings -el too), for kit.env.
COMPILED_PATHS=$(for b in "${BINARIES[@]}"; do strings -a "$BUILD_ROOT/$b"; strings -a -el "$BUILD_ROOT/$b"; done \
    | grep -oE "^($SRC_ROOT|$BUILD_ROOT)(/[^ \"']*)?" | sort -u)
grep -qx "$SRC_ROOT/tests/data" <<<"$COMPILED_PATHS" || die "tst_cli does not hold $SRC_ROOT/tests/data"
grep -qx "$BUILD_ROOT/app/ptscope-cli" <<<"$COMPILED_PATHS" || die "tst_cli does not hold $BUILD_ROOT/app/ptscope-cli"

# --- 3. stage ----------------------------------------------------------------------------------------
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/ptscope-kit.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/build/app" "$STAGE/build/tests" "$STAGE/lib"
for b in "${BINARIES[@]}"; do
    cp "$BUILD_ROOT/$b" "$STAGE/build/$b"
    strip --strip-unneeded "$STAGE/build/$b"
    # DT_RPATH would win over LD_LIBRARY_PATH (DT_RUNPATH does not): the kit's libraries must win.
    if readelf -d "$STAGE/build/$b" | grep -q "(RPATH)"; then
        die "$b has an RPATH ($(readelf -d "$STAGE/build/$b" | grep "(RPATH)")): the kit's libraries would not be used"
    fi
done

# glibc's own libraries stay the machine's (the dynamic loader must match them); everything else goes.
is_glibc() {
    case "$(basename "$1")" in
    ld-linux*.so* | libc.so* | libm.so* | libpthread.so* | libdl.so* | librt.so* | libutil.so* | libresolv.so* \
        | libanl.so* | libnsl.so* | libBrokenLocale.so* | libnss_*.so* | libmvec.so* | libc_malloc_debug.so*) return 0 ;;
    esac
    return 1
}
declare -A LIBS=()
for b in "${BINARIES[@]}"; do
    while read -r name _ path _; do
        [ "$name" = "linux-vdso.so.1" ] && continue
        [ "$path" = "not" ] && die "$b: $name not found by ldd"
        is_glibc "$name" && continue
        [ -n "$path" ] && [ -f "$path" ] || continue
        LIBS[$name]=$path
    done < <(ldd "$BUILD_ROOT/$b" | grep "=>")
done
for name in "${!LIBS[@]}"; do
    cp -L "${LIBS[$name]}" "$STAGE/lib/$name"
    chmod u+w "$STAGE/lib/$name"
    strip --strip-unneeded "$STAGE/lib/$name" 2>/dev/null || true
    if readelf -d "$STAGE/lib/$name" | grep -q "(RPATH)"; then
        say "warning: $name has an RPATH: $(readelf -d "$STAGE/lib/$name" | grep "(RPATH)")"
    fi
done
say "libraries: $(cd "$STAGE/lib" && ls | tr '\n' ' ')"

# Every library must resolve to the kit's copy when LD_LIBRARY_PATH names the kit alone.
for b in "${BINARIES[@]}"; do
    while read -r name _ path _; do
        [ "$name" = "linux-vdso.so.1" ] && continue
        is_glibc "$name" && continue
        [ "$path" = "$STAGE/lib/$name" ] || die "$b: $name resolves to '$path', not to the kit"
    done < <(LD_LIBRARY_PATH=$STAGE/lib ldd "$STAGE/build/$b" | grep "=>")
done

# The newest glibc symbol version anything in the kit needs (the GPU machine's must be as new).
GLIBC_NEEDED=$(for f in "$STAGE"/build/*/* "$STAGE"/lib/*; do readelf --dyn-syms -W "$f"; done 2>/dev/null \
    | grep -o "GLIBC_[0-9][0-9.]*" | sed 's/GLIBC_//' | sort -uV | tail -n 1)

# --- 4. pack and describe ----------------------------------------------------------------------------
rm -rf "$KIT"
mkdir -p "$KIT"
tar -C "$STAGE" -cf - build lib | xz -9e -T"$JOBS" >"$KIT/kit.tar.xz"
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null | wc -l)
{
    echo "# Written by tests/gpu/prepare_device_kit.sh; read by tests/gpu/run_on_device.sh."
    echo "KIT_SRC_ROOT=$SRC_ROOT"
    echo "KIT_BUILD_ROOT=$BUILD_ROOT"
    echo "KIT_BINARIES=\"${BINARIES[*]}\""
    echo "# The absolute paths compiled into the binaries: $(echo $COMPILED_PATHS)"
    echo "KIT_GLIBC_NEEDED=$GLIBC_NEEDED"
    echo "KIT_CUDA_ARCHS=$CUDA_ARCHS"
    echo "KIT_COMMIT=$COMMIT"
    echo "KIT_DIRTY_FILES=$DIRTY"
    echo "KIT_BUILT=\"$(date -u '+%Y-%m-%d %H:%M UTC') on $(. /etc/os-release && echo "$PRETTY_NAME"), $(c++ --version | head -n 1), nvcc $(nvcc --version | grep -o 'V[0-9][0-9.]*' | tail -n 1)\""
} >"$KIT/kit.env"
# The sources the kit was built from (tracked files, as in the working tree now).
git -C "$ROOT" ls-files -z | (cd "$ROOT" && xargs -0 sha256sum) >"$KIT/sources.sha256"

du -b "$KIT"/* | sed 's/^/[prepare_device_kit]   /'
SIZE=$(du -cb "$KIT" | tail -n 1 | cut -f 1)
say "kit: $KIT, $((SIZE / 1024 / 1024)) MiB ($(ls "$STAGE/lib" | wc -l) libraries, glibc $GLIBC_NEEDED or newer needed)"
say "source root $SRC_ROOT, build root $BUILD_ROOT, commit $COMMIT ($DIRTY files changed since)"
[ "$SIZE" -lt $((40 * 1024 * 1024)) ] || die "the kit is over 40 MiB"
say "next: the device tool's run with carry [\".gpu-kit\"], timeout_s 450: bash tests/gpu/run_on_device.sh"
