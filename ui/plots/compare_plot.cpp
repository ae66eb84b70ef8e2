// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "compare_plot.h"

#include "plot_style.h"

#include <qcustomplot.h>

#include <QCheckBox>
#include <QHBoxLayout>
#include <QLoggingCategory>
#include <QVBoxLayout>

#include <algorithm>

Q_LOGGING_CATEGORY(lcComparePlot, "ptscope.ui.compare_plot", QtWarningMsg)

namespace ptscope::ui {

namespace {

// Bars of one histogram; returns the tallest count.
double addBars(QCustomPlot *plot, const core::Histogram &h, const QColor &color, const QString &name, bool logY)
{
    const auto n = h.counts.size();
    if (n == 0)
        return 0;
    const double width = (h.max - h.min) / double(n);
    QVector<double> keys(static_cast<qsizetype>(n)), values(static_cast<qsizetype>(n));
    double top = 0;
    for (std::size_t i = 0; i < n; ++i) {
        keys[qsizetype(i)] = h.min + (double(i) + 0.5) * width;
        values[qsizetype(i)] = double(h.counts[i]);
        top = std::max(top, values[qsizetype(i)]);
    }
    auto *bars = new QCPBars(plot->xAxis, plot->yAxis);
    bars->setName(name);
    bars->setWidth(width);
    bars->setPen(QPen(color.darker(115)));
    QColor fill = color;
    fill.setAlpha(120);
    bars->setBrush(fill);
    if (logY) {
        bars->setBaseValue(0.5);
        for (double &v : values)
            v = std::max(v, 0.5);
    }
    bars->setData(keys, values, true);
    return top;
}

void setCountAxis(QCustomPlot *plot, bool logY, double top)
{
    if (logY) {
        plot->yAxis->setScaleType(QCPAxis::stLogarithmic);
        plot->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
        plot->yAxis->setRange(0.5, std::max(top, 1.0) * 2);
    } else {
        plot->yAxis->setScaleType(QCPAxis::stLinear);
        plot->yAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
        plot->yAxis->setRange(0, std::max(top, 1.0) * 1.1);
    }
}

void showText(QCustomPlot *plot, const QString &text, const QColor &color)
{
    auto *item = new QCPItemText(plot);
    item->setPositionAlignment(Qt::AlignCenter);
    item->position->setType(QCPItemPosition::ptAxisRectRatio);
    item->position->setCoords(0.5, 0.5);
    item->setText(text);
    item->setColor(color);
}

} // namespace

ComparePlot::ComparePlot(QWidget *parent)
    : QWidget(parent)
    , m_overlay(new QCustomPlot(this))
    , m_difference(new QCustomPlot(this))
    , m_logCounts(new QCheckBox(tr("Log co&unts"), this))
{
    m_overlay->setObjectName(QStringLiteral("compareOverlayPlot"));
    m_difference->setObjectName(QStringLiteral("compareDifferencePlot"));
    m_logCounts->setObjectName(QStringLiteral("compareLogCounts"));
    auto *controls = new QHBoxLayout;
    controls->addStretch();
    controls->addWidget(m_logCounts);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(controls);
    layout->addWidget(m_overlay, 3);
    layout->addWidget(m_difference, 2);
    for (QCustomPlot *plot : {m_overlay, m_difference}) {
        plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
        plot->setMinimumHeight(120);
        plot->yAxis->setLabel(tr("count"));
        applyPalette(plot);
        connect(plot, &QCustomPlot::mouseDoubleClick, this, [this] { redraw(); });
    }
    m_overlay->legend->setVisible(true);
    m_overlay->legend->setFont(font());
    connect(m_logCounts, &QCheckBox::toggled, this, [this] { redraw(); });
    setMessage(tr("Select a key both sides hold to compare its values."));
}

ComparePlot::~ComparePlot() = default;

// Two hues that read on light and dark bases alike.
QColor ComparePlot::sourceColor()
{
    return QColor(0xf0, 0x8c, 0x1a);
}

QColor ComparePlot::targetColor()
{
    return QColor(0x2f, 0x80, 0xed);
}

bool ComparePlot::logCounts() const
{
    return m_logCounts->isChecked();
}

void ComparePlot::setLogCounts(bool on)
{
    m_logCounts->setChecked(on);
}

void ComparePlot::applyPalette(QCustomPlot *plot)
{
    const QPalette pal = palette();
    applyPlotPalette(plot, pal, 200); // the bars behind the legend stay visible
    for (QCPAxis *axis : {plot->xAxis, plot->yAxis})
        axis->grid()->setZeroLinePen(QPen(pal.color(QPalette::Mid)));
}

void ComparePlot::changeEvent(QEvent *event)
{
    QWidget::changeEvent(event);
    if (event->type() == QEvent::PaletteChange) {
        applyPalette(m_overlay);
        applyPalette(m_difference);
        redraw();
    }
}

void ComparePlot::setHistograms(const core::ValueHistograms &h, const QString &title)
{
    m_h = h;
    m_title = title;
    m_hasData = true;
    redraw();
}

void ComparePlot::setMessage(const QString &message)
{
    m_hasData = false;
    m_message = message;
    redraw();
}

void ComparePlot::redraw()
{
    for (QCustomPlot *plot : {m_overlay, m_difference}) {
        plot->clearPlottables();
        plot->clearItems();
        plot->xAxis->setLabel(QString());
    }
    m_overlayBars = 0;
    m_differenceBars = 0;
    const QColor muted = palette().color(QPalette::PlaceholderText);
    m_overlay->legend->setVisible(m_hasData);
    if (!m_hasData) {
        showText(m_overlay, m_message, muted);
        m_overlay->replot(QCustomPlot::rpQueuedReplot);
        m_difference->replot(QCustomPlot::rpQueuedReplot);
        return;
    }
    const bool logY = logCounts();
    const double top = std::max(addBars(m_overlay, m_h.source, sourceColor(), tr("checkpoint"), logY),
                                addBars(m_overlay, m_h.target, targetColor(), tr("model"), logY));
    m_overlayBars = int(m_h.source.counts.size());
    setCountAxis(m_overlay, logY, top);
    const double w = m_h.source.counts.empty() ? 0 : (m_h.source.max - m_h.source.min) / double(m_h.source.counts.size());
    m_overlay->xAxis->setRange(m_h.source.min - w, m_h.source.max + w);
    m_overlay->xAxis->setLabel(m_h.magnitudes ? tr("|value| (complex) — %1").arg(m_title) : tr("value — %1").arg(m_title));
    m_overlay->legend->setVisible(true);

    const QColor diffColor = palette().color(QPalette::Highlight);
    const double dtop = addBars(m_difference, m_h.difference, diffColor, tr("difference"), logY);
    m_differenceBars = int(m_h.difference.counts.size());
    setCountAxis(m_difference, logY, dtop);
    const double dw = m_h.difference.counts.empty()
        ? 0
        : (m_h.difference.max - m_h.difference.min) / double(m_h.difference.counts.size());
    m_difference->xAxis->setRange(m_h.difference.min - dw, m_h.difference.max + dw);
    const QString difference = m_h.magnitudes ? tr("|checkpoint − model|") : tr("checkpoint − model");
    m_difference->xAxis->setLabel(m_h.nonFiniteDifference > 0
                                      ? tr("%1 (%2 non-finite differences not shown)")
                                            .arg(difference)
                                            .arg(m_h.nonFiniteDifference)
                                      : difference);
    if (m_h.comparison.identical)
        showText(m_difference, tr("identical: every difference is 0"), muted);
    m_overlay->replot(QCustomPlot::rpQueuedReplot);
    m_difference->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace ptscope::ui
