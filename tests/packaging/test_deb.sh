#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 The ptscope authors
# SPDX-License-Identifier: MIT
#
# Builds the Debian package from an already built tree (cpack into a scratch directory, so the
# build tree is untouched) and inspects it: control fields, dependencies detected by
# dpkg-shlibdeps for every library the executables load, no maintainer scripts (Debian's triggers
# refresh the MIME, desktop and icon caches), the files, and the packaged ptscope-cli working.
#   test_deb.sh CPACK BUILD_DIR SOURCE_DIR VERSION
# Exit 77 (a CTest skip) without dpkg-deb/dpkg-shlibdeps; ./quickstart.sh installs dpkg-dev.
set -euo pipefail

cpack=$1 build=$2 src=$3 version=$4
fail() { echo "FAIL: $*" >&2; exit 1; }
for tool in dpkg-deb dpkg-shlibdeps dpkg readelf ldd; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$cpack" --config "$build/CPackConfig.cmake" -G DEB -B "$work/out" >"$work/cpack.log" 2>&1 \
    || { cat "$work/cpack.log" >&2; fail "cpack -G DEB failed"; }
arch=$(dpkg --print-architecture)
deb="$work/out/ptscope_${version}_$arch.deb"
[ -f "$deb" ] || fail "no $deb; cpack made: $(ls "$work/out")"

field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = ptscope ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version: $(field Version)"
[ "$(field Architecture)" = "$arch" ] || fail "Architecture: $(field Architecture)"
[ "$(field Section)" = science ] || fail "Section: $(field Section)"
grep -qE '^.+ <.+@.+>$' <<<"$(field Maintainer)" || fail "Maintainer: $(field Maintainer)"
grep -qE '^https?://' <<<"$(field Homepage)" || fail "Homepage: $(field Homepage)"
[ "$(field Description | wc -l)" -ge 3 ] || fail "Description needs a summary and a long text: $(field Description)"

# Dependencies: one "pkg (>= version)" per shared library, as dpkg-shlibdeps writes them, for the
# package of every library each executable names in NEEDED.
depends=$(field Depends)
echo "Depends: $depends"
grep -qE '(^|, )libc6 \(>= [0-9]' <<<"$depends" || fail "no versioned libc6 dependency (shlibdeps not run?)"
if grep -qiE 'cuda|nvidia' <<<"$depends"; then fail "depends on CUDA/NVIDIA packages: $depends"; fi
grep -qE '(^|, )qt6-qpa-plugins \| qt6-wayland(,|$)' <<<"$depends" || fail "no Qt platform plugin dependency"
grep -qE '(^|, )libqt6svg6(,|$| )' <<<"$depends" || fail "no libqt6svg6 (the SVG icon plugins)"
depend_names=$(sed 's/([^)]*)//g; s/[|,]/\n/g' <<<"$depends" | tr -d ' ')
dpkg-deb -x "$deb" "$work/root"
for exe in ptscope ptscope-cli; do
    bin="$work/root/usr/bin/$exe"
    [ -x "$bin" ] || fail "no /usr/bin/$exe in the package"
    if readelf -S "$bin" | grep -q '\.debug_info'; then fail "$exe is not stripped"; fi
    for soname in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        # "soname => /path (addr)", or "/path/soname (addr)" for the dynamic loader.
        path=$(ldd "$bin" | awk -v s="$soname" '$1 == s { print $3 } substr($1, length($1) - length(s)) == "/" s { print $1 }')
        [ -n "$path" ] || fail "$exe: $soname not found on this system"
        # dpkg knows /lib and /usr/lib paths as the packages ship them (merged /usr hides which).
        owner=$(dpkg -S "$path" 2>/dev/null || dpkg -S "${path#/usr}" 2>/dev/null || dpkg -S "/usr$path" 2>/dev/null) \
            || fail "$exe: no package owns $path"
        pkg=${owner%%:*}
        grep -qxF "$pkg" <<<"$depend_names" || fail "$exe needs $soname from $pkg, missing in Depends"
    done
done

# No maintainer scripts: the caches are Debian triggers' business.
scripts=$(dpkg-deb --ctrl-tarfile "$deb" | tar -t | grep -E 'inst$|rm$|triggers$' || true)
[ -z "$scripts" ] || fail "maintainer scripts in the package: $scripts"

listing=$(dpkg-deb -c "$deb")
for f in usr/bin/ptscope usr/bin/ptscope-cli usr/share/applications/ptscope.desktop \
         usr/share/mime/packages/ptscope.xml usr/share/icons/hicolor/scalable/apps/ptscope.svg \
         usr/share/icons/hicolor/48x48/apps/ptscope.png usr/share/icons/hicolor/512x512/apps/ptscope.png; do
    grep -qE " \./$f\$" <<<"$listing" || fail "$f is not in the package"
done
grep -qE ' \./usr/share/metainfo/[^/]+\.metainfo\.xml$' <<<"$listing" || fail "no metainfo in the package"
if awk '{ print $2 }' <<<"$listing" | grep -v '^root/root$'; then fail "files not owned by root"; fi

# The packaged command line works from where the package puts it.
"$work/root/usr/bin/ptscope-cli" info "$src/tests/data/fixtures/cnn_state_dict.pt" | grep -q 'conv1.weight' \
    || fail "packaged ptscope-cli cannot read a fixture"
echo "PASS: $(basename "$deb") ($(du -h "$deb" | cut -f1))"
