// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "histogram_plot.h"

#include <qcustomplot.h>

#include <QCheckBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLoggingCategory>
#include <QSpinBox>
#include <QTimer>
#include <QVBoxLayout>

#include <cmath>

Q_LOGGING_CATEGORY(lcHistogramPlot, "ptscope.ui.histogram_plot", QtWarningMsg)

namespace ptscope::ui {

HistogramPlot::HistogramPlot(QWidget *parent)
    : QWidget(parent)
    , m_plot(new QCustomPlot(this))
    , m_bins(new QSpinBox(this))
    , m_logCounts(new QCheckBox(tr("Log &counts"), this))
    , m_logMagnitude(new QCheckBox(tr("log&10 |x|"), this))
    , m_markers(new QLabel(this))
{
    m_plot->setObjectName(QStringLiteral("histogramCustomPlot"));
    m_bins->setObjectName(QStringLiteral("histogramBins"));
    m_logCounts->setObjectName(QStringLiteral("histogramLogCounts"));
    m_logMagnitude->setObjectName(QStringLiteral("histogramLogMagnitude"));
    m_markers->setObjectName(QStringLiteral("histogramMarkers"));
    m_bins->setRange(2, 4096);
    m_bins->setValue(64);
    m_bins->setPrefix(tr("Bins: "));
    m_bins->setKeyboardTracking(false);
    m_logMagnitude->setToolTip(tr("Bin log10 of the magnitude of the non-zero finite values"));
    m_markers->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto *controls = new QHBoxLayout;
    controls->addWidget(m_bins);
    controls->addWidget(m_logCounts);
    controls->addWidget(m_logMagnitude);
    controls->addStretch();
    controls->addWidget(m_markers);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(controls);
    layout->addWidget(m_plot, 1);

    m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    m_plot->setMinimumHeight(180);
    applyPalette();
    m_plot->yAxis->setLabel(tr("count"));
    connect(m_plot, &QCustomPlot::mouseDoubleClick, this, [this] { redraw(); });

    connect(m_bins, &QSpinBox::valueChanged, this, &HistogramPlot::requestChanged);
    // Both histograms come with every request: switching axes only redraws.
    connect(m_logMagnitude, &QCheckBox::toggled, this, [this] { redraw(); });
    connect(m_logCounts, &QCheckBox::toggled, this, [this] { redraw(); });
    setMessage(tr("Select a tensor or a group to see its histogram."));
}

HistogramPlot::~HistogramPlot() = default;

// Follows the palette (light or dark system theme), also when it changes at run time.
void HistogramPlot::applyPalette()
{
    const QPalette pal = palette();
    m_plot->setBackground(pal.brush(QPalette::Base));
    for (QCPAxis *axis : {m_plot->xAxis, m_plot->yAxis}) {
        axis->setBasePen(QPen(pal.color(QPalette::Text)));
        axis->setTickPen(QPen(pal.color(QPalette::Text)));
        axis->setSubTickPen(QPen(pal.color(QPalette::Text)));
        axis->setTickLabelColor(pal.color(QPalette::Text));
        axis->setLabelColor(pal.color(QPalette::Text));
        axis->grid()->setPen(QPen(pal.color(QPalette::Mid), 0, Qt::DotLine));
    }
}

void HistogramPlot::changeEvent(QEvent *event)
{
    QWidget::changeEvent(event);
    if (event->type() == QEvent::PaletteChange) {
        applyPalette();
        redraw();
        m_plot->replot(QCustomPlot::rpQueuedReplot);
    }
}

int HistogramPlot::bins() const
{
    return m_bins->value();
}
void HistogramPlot::setBins(int bins)
{
    m_bins->setValue(bins);
}
bool HistogramPlot::logCounts() const
{
    return m_logCounts->isChecked();
}
void HistogramPlot::setLogCounts(bool on)
{
    m_logCounts->setChecked(on);
}
bool HistogramPlot::logMagnitude() const
{
    return m_logMagnitude->isChecked();
}
void HistogramPlot::setLogMagnitude(bool on)
{
    m_logMagnitude->setChecked(on);
}

void HistogramPlot::setStats(const core::TensorStats &stats, const QString &title)
{
    m_stats = stats;
    m_title = title;
    m_hasStats = true;
    redraw();
}

void HistogramPlot::setMessage(const QString &message)
{
    m_hasStats = false;
    m_barCount = 0;
    m_plot->clearPlottables();
    m_plot->clearItems();
    m_markers->clear();
    auto *text = new QCPItemText(m_plot);
    text->setPositionAlignment(Qt::AlignCenter);
    text->position->setType(QCPItemPosition::ptAxisRectRatio);
    text->position->setCoords(0.5, 0.5);
    text->setText(message);
    text->setColor(palette().color(QPalette::PlaceholderText));
    m_plot->xAxis->setLabel(QString());
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void HistogramPlot::redraw()
{
    if (!m_hasStats)
        return;
    m_plot->clearPlottables();
    m_plot->clearItems();
    const core::Histogram &h = logMagnitude() ? m_stats.logHistogram : m_stats.histogram;
    const auto n = h.counts.size();
    m_barCount = int(n);
    m_markers->setText(tr("NaN %1 · +Inf %2 · −Inf %3 · zeros %4")
                           .arg(m_stats.nan)
                           .arg(m_stats.posInf)
                           .arg(m_stats.negInf)
                           .arg(m_stats.zeros));
    const bool special = m_stats.nan + m_stats.posInf + m_stats.negInf > 0;
    m_markers->setStyleSheet(special ? QStringLiteral("color: #d9534f; font-weight: bold;") : QString());
    if (n == 0) {
        auto *text = new QCPItemText(m_plot);
        text->position->setType(QCPItemPosition::ptAxisRectRatio);
        text->position->setCoords(0.5, 0.5);
        text->setText(tr("No finite values to bin."));
        m_plot->replot(QCustomPlot::rpQueuedReplot);
        return;
    }
    const double width = (h.max - h.min) / double(n);
    QVector<double> keys(static_cast<qsizetype>(n));
    QVector<double> values(static_cast<qsizetype>(n));
    double top = 0;
    for (std::size_t i = 0; i < n; ++i) {
        keys[qsizetype(i)] = h.min + (double(i) + 0.5) * width;
        values[qsizetype(i)] = double(h.counts[i]);
        top = std::max(top, values[qsizetype(i)]);
    }
    auto *bars = new QCPBars(m_plot->xAxis, m_plot->yAxis);
    bars->setWidth(width);
    const QColor accent = palette().color(QPalette::Highlight);
    bars->setPen(QPen(accent.darker(120)));
    bars->setBrush(QColor(accent.red(), accent.green(), accent.blue(), 170));
    const bool logY = logCounts();
    if (logY) {
        // Empty bins cannot sit on a log axis: draw them at the baseline.
        bars->setBaseValue(0.5);
        for (double &v : values)
            v = std::max(v, 0.5);
        m_plot->yAxis->setScaleType(QCPAxis::stLogarithmic);
        m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
        m_plot->yAxis->setRange(0.5, std::max(top, 1.0) * 2);
    } else {
        m_plot->yAxis->setScaleType(QCPAxis::stLinear);
        m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
        m_plot->yAxis->setRange(0, std::max(top, 1.0) * 1.08);
    }
    bars->setData(keys, values, true);
    m_plot->xAxis->setRange(h.min - width, h.max + width);
    m_plot->xAxis->setLabel(logMagnitude() ? tr("log10 |x| — %1").arg(m_title) : tr("value — %1").arg(m_title));
    // Zeros are real values on the value axis: mark where they are when there are any.
    if (!logMagnitude() && m_stats.zeros > 0 && h.min <= 0 && h.max >= 0) {
        auto *line = new QCPItemStraightLine(m_plot);
        line->point1->setCoords(0, 0);
        line->point2->setCoords(0, 1);
        line->setPen(QPen(QColor(0xe0, 0x8a, 0x00), 1.5, Qt::DashLine));
    }
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace ptscope::ui
