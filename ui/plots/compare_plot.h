// SPDX-FileCopyrightText: 2026 The ptscope authors
// SPDX-License-Identifier: MIT
#pragma once

#include "value_histogram.h"

#include <QWidget>

class QCheckBox;
class QCustomPlot;

namespace ptscope::ui {

// Draws what the core binned for a pair of tensors (it bins nothing itself): both sides' histograms
// overlaid on the same bins, and the histogram of their element-wise difference below.
class ComparePlot final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ComparePlot)

public:
    explicit ComparePlot(QWidget *parent = nullptr);
    ~ComparePlot() override;

    void setHistograms(const core::ValueHistograms &h, const QString &title);
    void setMessage(const QString &message);
    int overlayBarCount() const { return m_overlayBars; }
    int differenceBarCount() const { return m_differenceBars; }
    bool logCounts() const;
    void setLogCounts(bool on);

    static QColor sourceColor();
    static QColor targetColor();

protected:
    void changeEvent(QEvent *event) override;

private:
    void applyPalette(QCustomPlot *plot);
    void redraw();

    QCustomPlot *m_overlay = nullptr;
    QCustomPlot *m_difference = nullptr;
    QCheckBox *m_logCounts = nullptr;
    core::ValueHistograms m_h;
    QString m_title;
    QString m_message;
    bool m_hasData = false;
    int m_overlayBars = 0;
    int m_differenceBars = 0;
};

} // namespace ptscope::ui
