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
    cd "$build_dir"
    exec ctest --output-on-failure --no-tests=error -j "$(nproc)"
    ;;
*)
    echo "usage: $0 [run|test]" >&2
    exit 2
    ;;
esac
