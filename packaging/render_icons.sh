#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 The ptscope authors
# SPDX-License-Identifier: MIT
#
# Renders resources/icons/ptscope.svg into the hicolor PNG sizes under packaging/icons/.
# Run it after changing the SVG and commit the PNGs (the build does not need librsvg2-bin):
#   sudo apt-get install librsvg2-bin && packaging/render_icons.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for size in 16 22 24 32 48 64 128 256 512; do
    rsvg-convert --width "$size" --height "$size" --keep-aspect-ratio \
        --output "packaging/icons/ptscope-$size.png" resources/icons/ptscope.svg
done
