// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "plot_style.h"

#include <qcustomplot.h>

#include <QPalette>

namespace ptscope::ui {

void applyPlotPalette(QCustomPlot *plot, const QPalette &pal, int legendAlpha)
{
    plot->setBackground(pal.brush(QPalette::Base));
    for (QCPAxis *axis : {plot->xAxis, plot->yAxis}) {
        axis->setBasePen(QPen(pal.color(QPalette::Text)));
        axis->setTickPen(QPen(pal.color(QPalette::Text)));
        axis->setSubTickPen(QPen(pal.color(QPalette::Text)));
        axis->setTickLabelColor(pal.color(QPalette::Text));
        axis->setLabelColor(pal.color(QPalette::Text));
        axis->grid()->setPen(QPen(pal.color(QPalette::Mid), 0, Qt::DotLine));
    }
    QColor legendBase = pal.color(QPalette::Base);
    legendBase.setAlpha(legendAlpha);
    plot->legend->setBrush(legendBase);
    plot->legend->setBorderPen(QPen(pal.color(QPalette::Mid)));
    plot->legend->setTextColor(pal.color(QPalette::Text));
}

} // namespace ptscope::ui
