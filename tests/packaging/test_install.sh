#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 The ptscope authors
# SPDX-License-Identifier: MIT
#
# `cmake --install` into a fresh root, then checks what a desktop needs from it: both executables
# run from there (--version without a display, info on a fixture, no libcuda dependency), and the
# desktop entry, MIME rules, icons and AppStream metainfo are where they belong and valid.
#   test_install.sh CMAKE BUILD_DIR SOURCE_DIR VERSION CUDA(ON|OFF)
# Exit 77 (a CTest skip) when a validator is missing; ./quickstart.sh installs them all.
set -euo pipefail

cmake=$1 build=$2 src=$3 version=$4 cuda=$5
fail() { echo "FAIL: $*" >&2; exit 1; }
for tool in desktop-file-validate xmllint readelf; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"
DESTDIR="$root" "$cmake" --install "$build" --prefix /usr --strip >"$work/install.log" \
    || { cat "$work/install.log" >&2; fail "cmake --install failed"; }
usr="$root/usr"

# Nothing outside /usr/bin and /usr/share (no static libraries, headers or test programs).
stray=$(cd "$root" && find . -type f | grep -v -e '^\./usr/bin/' -e '^\./usr/share/' \
    -e '^\./usr/lib/\([^/]*/\)\?ptscope/plugins/libptscope_pdf\.so$' || true)
[ -z "$stray" ] || fail "unexpected installed files: $stray"

# --- executables -------------------------------------------------------------------------------
for exe in ptscope ptscope-cli; do
    [ -x "$usr/bin/$exe" ] || fail "$exe is not installed as an executable in bin/"
    needed=$(readelf -d "$usr/bin/$exe" | grep -E 'NEEDED|RPATH|RUNPATH' || true)
    # The CUDA runtime is linked statically and opens the driver only when asked: machines without
    # an NVIDIA driver must still start the program.
    if grep -qE 'libcuda\.so|libcudart\.so|libnvidia' <<<"$needed"; then
        fail "$exe links the CUDA driver or shared runtime: $needed"
    fi
    if grep -qF "$build" <<<"$needed"; then
        fail "$exe still has a run path into the build tree: $needed"
    fi
done

# --version: same words for both, and the GUI needs no display to answer.
cli_version=$("$usr/bin/ptscope-cli" --version)
gui_version=$(env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM "$usr/bin/ptscope" --version) \
    || fail "ptscope --version failed without a display"
grep -qE "^ptscope-cli $version \(commit [0-9a-f]{7,}|^ptscope-cli $version \(commit unknown\)" <<<"$cli_version" \
    || fail "ptscope-cli --version: $cli_version"
cli_first=$(head -n1 <<<"$cli_version")
[ "$(head -n1 <<<"$gui_version")" = "ptscope ${cli_first#ptscope-cli }" ] \
    || fail "first lines differ: '$gui_version' vs '$cli_version'"
[ "$(tail -n +2 <<<"$gui_version")" = "$(tail -n +2 <<<"$cli_version")" ] \
    || fail "CUDA lines differ: '$gui_version' vs '$cli_version'"
if [ "$cuda" = ON ]; then
    grep -q '^CUDA: compiled in' <<<"$cli_version" || fail "a CUDA build says: $cli_version"
else
    grep -q '^CUDA: not compiled in' <<<"$cli_version" || fail "a CPU-only build says: $cli_version"
fi

# info on a fixture: what the tested build-tree binary prints, and every tensor torch saw.
fixture="$src/tests/data/fixtures/cnn_state_dict.pt"
"$usr/bin/ptscope-cli" info --json "$fixture" >"$work/installed.json" || fail "installed ptscope-cli info --json failed"
"$build/app/ptscope-cli" info --json "$fixture" >"$work/built.json"
cmp -s "$work/installed.json" "$work/built.json" || fail "installed and built ptscope-cli disagree on $fixture"
text=$("$usr/bin/ptscope-cli" info "$fixture") || fail "installed ptscope-cli info failed"
# The PDF writer is a plugin the installed ptscope-cli finds relative to itself.
"$usr/bin/ptscope-cli" report --format pdf -o "$work/installed.pdf" "$fixture" \
    || fail "installed ptscope-cli cannot write a PDF report (its plugin under lib/ptscope/plugins)"
[ "$(head -c 4 "$work/installed.pdf")" = "%PDF" ] || fail "installed ptscope-cli wrote no PDF"
grep -q 'torch-zip' <<<"$text" || fail "info does not name the format: $text"
# Each tensor's one-element "path" array in the expectation torch wrote: the state_dict key.
names=$(grep -A1 '"path": \[$' "$src/tests/data/expected/cnn_state_dict.pt.json" | grep -v -e '"path"' -e '^--' | tr -d ' ",')
[ "$(wc -l <<<"$names")" = 15 ] || fail "could not read the 15 expected tensor names: $names"
while read -r name; do
    grep -qF "$name" <<<"$text" || fail "info does not list $name: $text"
done <<<"$names"

# --- desktop entry -----------------------------------------------------------------------------
desktop="$usr/share/applications/ptscope.desktop"
[ -f "$desktop" ] || fail "no desktop entry"
report=$(desktop-file-validate "$desktop" 2>&1) || fail "desktop-file-validate: $report"
if grep -qE 'error:|warning:' <<<"$report"; then fail "desktop-file-validate: $report"; fi
grep -qx 'Exec=ptscope %F' "$desktop" || fail "Exec must be 'ptscope %F'"
grep -qx 'Icon=ptscope' "$desktop" || fail "Icon must be 'ptscope'"
grep -qx 'Categories=Development;Science;Qt;' "$desktop" || fail "Categories"
for key in Name GenericName Comment MimeType; do
    grep -q "^$key=." "$desktop" || fail "desktop entry has no $key"
done

# --- MIME rules --------------------------------------------------------------------------------
mime="$usr/share/mime/packages/ptscope.xml"
[ -f "$mime" ] || fail "no MIME package"
fdo=/usr/share/mime/packages/freedesktop.org.xml
if [ -f "$fdo" ]; then
    # shared-mime-info ships its schema as the DTD inside its own package file.
    sed -n '/<!DOCTYPE mime-info \[/,/^\]>/p' "$fdo" | sed '1d;$d' >"$work/mime.dtd"
    grep -q '<!ELEMENT mime-type' "$work/mime.dtd" || fail "no DTD found in $fdo"
    xmllint --noout --dtdvalid "$work/mime.dtd" "$mime" || fail "$mime does not follow shared-mime-info's DTD"
else
    xmllint --noout "$mime" || fail "$mime is not well-formed"
fi
# Every type the desktop entry opens is one the MIME package declares (or a standard one).
for type in $(sed -n 's/^MimeType=//p' "$desktop" | tr ';' ' '); do
    grep -q "<mime-type type=\"$type\">" "$mime" || grep -q "<mime-type type=\"$type\">" "$fdo" 2>/dev/null \
        || fail "desktop entry lists $type, which no MIME package declares"
done

# --- icons -------------------------------------------------------------------------------------
icons="$usr/share/icons/hicolor"
xmllint --noout "$icons/scalable/apps/ptscope.svg" || fail "no scalable icon"
for size in 16 22 24 32 48 64 128 256 512; do
    png="$icons/${size}x$size/apps/ptscope.png"
    [ -f "$png" ] || fail "no ${size}px icon"
    # PNG signature, then IHDR width and height (big-endian) at bytes 16..23.
    [ "$(od -An -tx1 -N8 "$png" | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$png is not a PNG"
    dims=$(od -An -tu1 -j16 -N8 "$png" | awk '{ print $1*16777216+$2*65536+$3*256+$4 "x" $5*16777216+$6*65536+$7*256+$8 }')
    [ "$dims" = "${size}x$size" ] || fail "$png is $dims"
done

# --- AppStream ---------------------------------------------------------------------------------
metainfo=$(find "$usr/share/metainfo" -name '*.metainfo.xml')
[ "$(wc -l <<<"$metainfo")" = 1 ] && [ -n "$metainfo" ] || fail "expected one metainfo file: $metainfo"
grep -q "<release version=\"$version\"" "$metainfo" || fail "metainfo does not name release $version"
grep -q '<launchable type="desktop-id">ptscope.desktop</launchable>' "$metainfo" || fail "metainfo launchable"
if command -v appstreamcli >/dev/null; then
    appstreamcli validate --no-net "$metainfo" || fail "appstreamcli validate $metainfo"
else
    xmllint --noout "$metainfo" || fail "$metainfo is not well-formed"
fi
echo "PASS: installed tree in a fresh root is complete and valid"
