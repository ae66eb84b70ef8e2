#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 The ptscope authors
# SPDX-License-Identifier: MIT
#
# Checks the device kit (tests/gpu/prepare_device_kit.sh) without a GPU, on a bare machine as near
# to the GPU machine as one can get here: a Debian root folder with no Qt, ICU, glib, minizip or
# CUDA in it (e.g. the debootstrap root of tests/fixtures/torch2_env.sh), used through an overlay so
# that it is left as it was. Needs root (overlay and bind mounts, chroot).
#
#     sudo bash tests/gpu/check_kit_bare.sh ROOTFS      # e.g. build-torch2/trixie
#
# It copies the repository as the device tool sends it (tracked files and untracked ones git does
# not ignore, plus .gpu-kit/) to /root/device-repo inside the overlay, a folder other than the one
# the kit was built in, and runs tests/gpu/run_on_device.sh there under `env -i`. Every step must
# pass except those that need a GPU, which must fail for the right reason: tst_cuda_backend with
# PTSCOPE_REQUIRE_GPU=1 and bench_cuda_kernels saying "no NVIDIA driver", and ptscope-cli's
# --backend cuda runs. The run's $OUT is copied to build-bare-check/ (OUT_COPY). Exit status 0
# when all of that holds.
#
# Environment passed on: CKPT_LAYERS (default 1 here: a 0.33 GB checkpoint), BENCH_RUNS (default
# 1 here), DEADLINE (default 900 here: two slow cores), PYTHON.
set -euo pipefail

[ $# -eq 1 ] || { sed -n '2,21p' "$0"; exit 2; }
ROOTFS=$(cd "$1" && pwd -P)
cd "$(dirname "$0")/../.."
REPO=$(pwd -P)
OUT_COPY=${OUT_COPY:-$REPO/build-bare-check}
[ "$(id -u)" -eq 0 ] || { echo "check_kit_bare: needs root (mounts, chroot)" >&2; exit 2; }
[ -f .gpu-kit/kit.tar.xz ] || { echo "check_kit_bare: no kit: run tests/gpu/prepare_device_kit.sh first" >&2; exit 2; }
[ -x "$ROOTFS/bin/bash" ] || { echo "check_kit_bare: $ROOTFS has no /bin/bash" >&2; exit 2; }

SIM=$(mktemp -d /tmp/ptscope-bare.XXXXXX)
MERGED=$SIM/merged
mkdir -p "$SIM/upper" "$SIM/work" "$MERGED"
MOUNTS=()
cleanup() {
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount "${MOUNTS[i]}" || umount -l "${MOUNTS[i]}"; done
    rm -rf "$SIM"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$SIM/upper,workdir=$SIM/work" "$MERGED"
MOUNTS+=("$MERGED")
mount -t proc proc "$MERGED/proc"
MOUNTS+=("$MERGED/proc")
mount --bind /dev "$MERGED/dev"
MOUNTS+=("$MERGED/dev")

echo "check_kit_bare: $ROOTFS ($(. "$ROOTFS/etc/os-release" && echo "$PRETTY_NAME")), as an overlay in $SIM"
missing=()
for lib in libQt6Core.so.6 libicuuc.so.72 libglib-2.0.so.0 libminizip.so.1 libdouble-conversion.so.3 libcuda.so.1; do
    chroot "$MERGED" /sbin/ldconfig -p 2>/dev/null | grep -q "$lib" && echo "check_kit_bare: note: $ROOTFS has $lib" \
        || missing+=("$lib")
done
echo "check_kit_bare: not in $ROOTFS: ${missing[*]}"

# The repository as the device tool sends it, elsewhere than the folder the kit was built in.
DEST=$MERGED/root/device-repo
mkdir -p "$DEST"
git ls-files -c -o --exclude-standard -z | tar --null -T - -cf - | tar -C "$DEST" -xf -
cp -a .gpu-kit "$DEST/.gpu-kit"
rm -rf "$DEST/.gpu-kit/run"
echo "check_kit_bare: copied $(du -sm "$DEST" | cut -f 1) MiB to /root/device-repo"

rc=0
chroot "$MERGED" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 OUT=/root/out \
    CKPT_LAYERS="${CKPT_LAYERS:-1}" BENCH_RUNS="${BENCH_RUNS:-1}" DEADLINE="${DEADLINE:-900}" \
    PYTHON="${PYTHON:-python3}" BENCH_DIR=/root/bench \
    bash -c 'cd /root/device-repo && bash tests/gpu/run_on_device.sh' || rc=$?
rm -rf "$OUT_COPY"
cp -r "$MERGED/root/out" "$OUT_COPY"
echo "check_kit_bare: run_on_device.sh exited $rc; its output is in $OUT_COPY"

# What must hold without a GPU.
S=$OUT_COPY/summary.txt
fail=0
expect() { grep -qE "$2" "$S" || { echo "check_kit_bare: MISSING: $1"; fail=1; }; }
expect "the kit was used" "kit unpacked: .* all from the kit"
expect "the sources are the kit's" "sources: the same as the kit's"
for t in tst_cuda_kernels_host tst_tensor_stats tst_cli tst_compare_core tst_cli_diff; do
    expect "$t passed" "ok +$t "
done
expect "tst_cuda_backend failed (PTSCOPE_REQUIRE_GPU=1)" "FAILED +tst_cuda_backend "
expect "tst_cuda_backend said why" "FAIL!.*no NVIDIA driver"
expect "bench_cuda_kernels failed, saying why" "^bench_cuda_kernels: no GPU to measure: .*no NVIDIA driver"
expect "ptscope-cli stats --backend cuda failed" "FAILED +ptscope-cli stats --backend cuda"
expect "the CPU benchmark ran" "ok +benchmark \\(ptscope cpu,"
expect "diff --backend cpu ran" "diff --backend cpu, run 1: "
expect "diff --backend cuda failed" "FAILED +diff --backend cuda"
# No other failure.
others=$(grep -E "FAILED|TIMEOUT|SKIPPED|FATAL" "$S" | grep -vE "FAILED +(tst_cuda_backend|ptscope-cli stats --backend cuda|diff --backend cuda|bench_cuda_kernels)[ :]" || true)
[ -z "$others" ] || { echo "check_kit_bare: unexpected: $others"; fail=1; }
[ $rc -eq 1 ] || { echo "check_kit_bare: run_on_device.sh should exit 1 without a GPU (exit $rc)"; fail=1; }
if [ $fail -eq 0 ]; then
    echo "check_kit_bare: PASSED: everything on the CPU passed from the kit alone; the GPU steps failed for want of a driver"
else
    echo "check_kit_bare: FAILED"
fi
exit $fail
