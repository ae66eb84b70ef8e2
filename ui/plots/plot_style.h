// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

class QCustomPlot;
class QPalette;

namespace ptscope::ui {

// Axes, grid and legend of a plot in the colours of a palette (light or dark system theme).
// `legendAlpha`: how opaque the legend's background is over the data behind it.
void applyPlotPalette(QCustomPlot *plot, const QPalette &palette, int legendAlpha);

} // namespace ptscope::ui
