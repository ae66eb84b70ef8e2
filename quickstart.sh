#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 The ptscope authors
# SPDX-License-Identifier: MIT
#
# The whole set-up on a fresh Debian 12 / Ubuntu machine, idempotent and quick when nothing changed:
#   ./quickstart.sh          install what is missing, build, open the bundled sample
#   ./quickstart.sh test     install what is missing, build, run every test
set -euo pipefail

cd "$(dirname "$0")"
mode="${1:-run}"
build_dir="${PTSCOPE_BUILD_DIR:-build}"

# Debian package names; everything else (fixtures, samples) is in the repository.
packages=(build-essential cmake ninja-build pkg-config git qt6-base-dev libqcustomplot-dev libqt6svg6 libminizip-dev zlib1g-dev
          nlohmann-json3-dev)
# Packaging tests: desktop-entry, MIME and AppStream validators, dpkg-shlibdeps for the .deb.
packages+=(desktop-file-utils libxml2-utils shared-mime-info appstream dpkg-dev)
packages+=(poppler-utils) # the report tests read PDFs back with pdftotext and pdfinfo
# `test` also runs the fuzz harnesses (libFuzzer from clang-14) and the suite under ASan/UBSan.
packages+=(clang-14 libclang-rt-14-dev)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "quickstart: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Configure when there is no generated build yet (a first run, or a configure that failed).
if [ ! -f "$build_dir/build.ninja" ]; then
    werror=OFF
    [ "${CI:-}" = "true" ] && werror=ON
    cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPTSCOPE_WERROR="$werror"
fi
cmake --build "$build_dir" -j "$(nproc)"

case "$mode" in
run)
    sample=resources/samples/sample_training_checkpoint.pt
    if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
        exec "$build_dir/app/ptscope" "$sample"
    fi
    # A headless machine: no display to open the desktop app on, so the command-line inspector
    # (the same core) shows the sample instead.
    echo "quickstart: no DISPLAY or WAYLAND_DISPLAY, so showing the sample with ptscope-cli instead of the desktop app" >&2
    exec "$build_dir/app/ptscope-cli" info "$sample"
    ;;
test)
    (cd "$build_dir" && ctest --output-on-failure --no-tests=error -j "$(nproc)")
    # The whole suite again with AddressSanitizer + UndefinedBehaviorSanitizer (GUI tests offscreen),
    # in its own build directory; leaks inside Qt and system libraries are suppressed by name in
    # tests/sanitizers/lsan.supp, ours are reported. The packaging tests (an install, a .deb) check the
    # normal build only. PTSCOPE_SANITIZERS=0 skips this and the fuzzers.
    if [ "${PTSCOPE_SANITIZERS:-1}" != 0 ]; then
        asan_dir="${PTSCOPE_ASAN_BUILD_DIR:-build-asan}"
        if [ ! -f "$asan_dir/build.ninja" ]; then
            san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
            cmake -S . -B "$asan_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPTSCOPE_CUDA=OFF \
                -DPTSCOPE_WERROR="$([ "${CI:-}" = "true" ] && echo ON || echo OFF)" -DCMAKE_CXX_FLAGS="$san" \
                -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
                -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
                -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O0 -g1 -DNDEBUG"
        fi
        cmake --build "$asan_dir" -j "$(nproc)"
        supp="$PWD/tests/sanitizers/lsan.supp"
        (cd "$asan_dir" \
            && ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:check_initialization_order=1 \
               LSAN_OPTIONS="suppressions=$supp:print_suppressions=0" \
               UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
               ctest --output-on-failure --no-tests=error -j "$(nproc)" -LE packaging)
        # Each libFuzzer harness for a short while (tests/fuzz/run_fuzzers.sh, build-fuzz/).
        tests/fuzz/run_fuzzers.sh "${PTSCOPE_FUZZ_SECONDS:-15}"
    fi
    ;;
*)
    echo "usage: $0 [run|test]" >&2
    exit 2
    ;;
esac
