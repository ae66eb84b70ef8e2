// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "tensor_stats.h"

#include <QWidget>

class QCheckBox;
class QCustomPlot;
class QLabel;
class QSpinBox;

namespace ptscope::ui {

// Draws a histogram the core computed (it never bins anything itself): bin count, linear or
// log count axis, value or log10-magnitude axis, zoom and pan, NaN/Inf/zero markers.
class HistogramPlot final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(HistogramPlot)

public:
    explicit HistogramPlot(QWidget *parent = nullptr);
    ~HistogramPlot() override;

    int bins() const;
    void setBins(int bins);
    bool logCounts() const;
    void setLogCounts(bool on);
    bool logMagnitude() const;
    void setLogMagnitude(bool on);

    void setStats(const core::TensorStats &stats, const QString &title);
    void setMessage(const QString &message); // clears the plot and shows a sentence
    int barCount() const { return m_barCount; }

signals:
    // The user changed the bin count: the core has to bin again.
    void requestChanged();

protected:
    void changeEvent(QEvent *event) override;

private:
    void applyPalette();
    void redraw();

    QCustomPlot *m_plot = nullptr;
    QSpinBox *m_bins = nullptr;
    QCheckBox *m_logCounts = nullptr;
    QCheckBox *m_logMagnitude = nullptr;
    QLabel *m_markers = nullptr;
    core::TensorStats m_stats;
    QString m_title;
    bool m_hasStats = false;
    int m_barCount = 0;
};

} // namespace ptscope::ui
