// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#include "histogram_plot.h"

#include "plot_style.h"

#include <qcustomplot.h>

#include <QCheckBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLoggingCategory>
#include <QSpinBox>
#include <QTimer>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <iterator>

Q_LOGGING_CATEGORY(lcHistogramPlot, "ptscope.ui.histogram_plot", QtWarningMsg)

namespace ptscope::ui {

namespace {

// Tableau 10's first eight: mid-luminance hues that stay apart on white and on near-black; on a
// dark base they are lifted a little so thin outlines keep their contrast.
QColor overlayColor(int i, bool darkBase)
{
    static const QRgb colors[] = {0x4e79a7, 0xf28e2b, 0xe15759, 0x76b7b2, 0x59a14f, 0xedc948, 0xb07aa1, 0xff9da7};
    const QColor c = QColor::fromRgb(colors[i % int(std::size(colors))]);
    return darkBase ? c.lighter(125) : c.darker(105);
}

} // namespace

HistogramPlot::HistogramPlot(QWidget *parent)
    : QWidget(parent)
    , m_plot(new QCustomPlot(this))
    , m_bins(new QSpinBox(this))
    , m_logCounts(new QCheckBox(tr("Log &counts"), this))
    , m_logMagnitude(new QCheckBox(tr("log&10 |x|"), this))
    , m_perTensor(new QCheckBox(tr("&Per tensor"), this))
    , m_markers(new QLabel(this))
{
    m_plot->setObjectName(QStringLiteral("histogramCustomPlot"));
    m_bins->setObjectName(QStringLiteral("histogramBins"));
    m_logCounts->setObjectName(QStringLiteral("histogramLogCounts"));
    m_logMagnitude->setObjectName(QStringLiteral("histogramLogMagnitude"));
    m_markers->setObjectName(QStringLiteral("histogramMarkers"));
    m_perTensor->setObjectName(QStringLiteral("perTensorCheck"));
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
    controls->addWidget(m_perTensor);
    controls->addStretch();
    controls->addWidget(m_markers);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(controls);
    layout->addWidget(m_plot, 1);

    m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    m_plot->setMinimumHeight(180);
    m_plot->legend->setVisible(false);
    m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    applyPalette();
    m_plot->yAxis->setLabel(tr("count"));
    connect(m_plot, &QCustomPlot::mouseDoubleClick, this, [this] { redraw(); });

    connect(m_bins, &QSpinBox::valueChanged, this, &HistogramPlot::requestChanged);
    // Both histograms come with every request: switching axes only redraws.
    connect(m_logMagnitude, &QCheckBox::toggled, this, [this] {
        updatePerTensorEnabled();
        redraw();
        emit overlayModeChanged();
    });
    connect(m_perTensor, &QCheckBox::toggled, this, [this] {
        redraw();
        emit overlayModeChanged();
    });
    updatePerTensorEnabled();
    connect(m_logCounts, &QCheckBox::toggled, this, [this] { redraw(); });
    setMessage(tr("Select a tensor or a group to see its histogram."));
}

HistogramPlot::~HistogramPlot() = default;

// Follows the palette (light or dark system theme), also when it changes at run time.
void HistogramPlot::applyPalette()
{
    applyPlotPalette(m_plot, palette(), 220);
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

bool HistogramPlot::perTensor() const
{
    return m_perTensor->isChecked();
}
void HistogramPlot::setPerTensor(bool on)
{
    m_perTensor->setChecked(on);
}
bool HistogramPlot::overlaysWanted() const
{
    return perTensor() && !logMagnitude();
}

void HistogramPlot::updatePerTensorEnabled()
{
    const bool enabled = !logMagnitude();
    m_perTensor->setEnabled(enabled);
    m_perTensor->setToolTip(enabled ? tr("For a group: one outline per tensor (the %1 largest) on the group's bins")
                                          .arg(kMaxOverlays)
                                    : tr("Per-tensor outlines share the group's value bins; "
                                         "the log10 |x| axis shows the group as a whole"));
}

void HistogramPlot::setOverlays(std::vector<Overlay> overlays, int total)
{
    m_overlays = std::move(overlays);
    m_overlayTotal = total;
    redraw();
}

int HistogramPlot::overlayGraphCount() const
{
    return m_plot->graphCount();
}

QStringList HistogramPlot::legendNames() const
{
    QStringList names;
    if (!m_plot->legend->visible())
        return names;
    for (int i = 0; i < m_plot->legend->itemCount(); ++i) {
        if (auto *item = qobject_cast<QCPPlottableLegendItem *>(m_plot->legend->item(i)))
            names << item->plottable()->name();
    }
    return names;
}

void HistogramPlot::setStats(const core::TensorStats &stats, const QString &title)
{
    m_stats = stats;
    m_title = title;
    m_hasStats = true;
    m_overlays.clear();
    m_overlayTotal = 0;
    redraw();
}

void HistogramPlot::setMessage(const QString &message)
{
    m_hasStats = false;
    m_barCount = 0;
    m_overlays.clear();
    m_overlayTotal = 0;
    m_overlayNote.clear();
    m_plot->legend->setVisible(false);
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
    const bool logY = logCounts();
    double top = 0;
    m_overlayNote.clear();
    const bool overlays = overlaysWanted() && !m_overlays.empty();
    m_plot->legend->setVisible(overlays);
    if (overlays) {
        for (const Overlay &o : m_overlays) {
            for (std::uint64_t c : o.histogram.counts)
                top = std::max(top, double(c));
        }
        drawOverlays(logY);
    } else {
        QVector<double> keys(static_cast<qsizetype>(n));
        QVector<double> values(static_cast<qsizetype>(n));
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
        if (logY) {
            // Empty bins cannot sit on a log axis: draw them at the baseline.
            bars->setBaseValue(0.5);
            for (double &v : values)
                v = std::max(v, 0.5);
        }
        bars->setData(keys, values, true);
    }
    if (logY) {
        m_plot->yAxis->setScaleType(QCPAxis::stLogarithmic);
        m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
        m_plot->yAxis->setRange(0.5, std::max(top, 1.0) * 2);
    } else {
        m_plot->yAxis->setScaleType(QCPAxis::stLinear);
        m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
        m_plot->yAxis->setRange(0, std::max(top, 1.0) * 1.08);
    }
    m_plot->xAxis->setRange(h.min - width, h.max + width);
    QString label = logMagnitude() ? tr("log10 |x| — %1").arg(m_title)
        : m_stats.complexCount == 0 ? tr("value — %1").arg(m_title)
        : m_stats.complexCount == m_stats.numel ? tr("|value| (complex) — %1").arg(m_title)
                                                 : tr("value, complex ones as |z| — %1").arg(m_title);
    if (!m_overlayNote.isEmpty())
        label += QStringLiteral(" · ") + m_overlayNote;
    m_plot->xAxis->setLabel(label);
    // Zeros are real values on the value axis: mark where they are when there are any.
    if (!logMagnitude() && m_stats.zeros > 0 && h.min <= 0 && h.max >= 0) {
        auto *line = new QCPItemStraightLine(m_plot);
        line->point1->setCoords(0, 0);
        line->point2->setCoords(0, 1);
        line->setPen(QPen(QColor(0xe0, 0x8a, 0x00), 1.5, Qt::DashLine));
    }
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

// One step outline per tensor over the shared bin edges, lightly filled so overlaps stay visible.
void HistogramPlot::drawOverlays(bool logY)
{
    const bool darkBase = palette().color(QPalette::Base).lightness() < 128;
    for (std::size_t k = 0; k < m_overlays.size(); ++k) {
        const core::Histogram &oh = m_overlays[k].histogram;
        const auto bins = oh.counts.size();
        if (bins == 0)
            continue;
        const double w = (oh.max - oh.min) / double(bins);
        // Left edges plus the right edge of the last bin, so the last step has its width.
        QVector<double> keys(static_cast<qsizetype>(bins + 1));
        QVector<double> values(static_cast<qsizetype>(bins + 1));
        for (std::size_t i = 0; i <= bins; ++i) {
            const double v = double(oh.counts[std::min(i, bins - 1)]);
            keys[qsizetype(i)] = i == bins ? oh.max : oh.min + double(i) * w;
            values[qsizetype(i)] = logY ? std::max(v, 0.5) : v;
        }
        QCPGraph *graph = m_plot->addGraph(m_plot->xAxis, m_plot->yAxis);
        graph->setName(m_overlays[k].name);
        graph->setLineStyle(QCPGraph::lsStepLeft);
        QColor c = overlayColor(int(k), darkBase);
        c.setAlpha(230);
        graph->setPen(QPen(c, 1.6));
        c.setAlpha(35);
        // A fill down to zero has no meaning on a log axis.
        graph->setBrush(logY ? QBrush(Qt::NoBrush) : QBrush(c));
        graph->setData(keys, values, true);
    }
    // Said under the axis (redraw appends it to the label), where it overlaps no data.
    if (m_overlayTotal > int(m_overlays.size()))
        m_overlayNote = tr("%1 of %2 largest shown").arg(m_overlays.size()).arg(m_overlayTotal);
}

} // namespace ptscope::ui
